/*
 * Who holds a lock: the calling thread's own identity (cached, so the fast
 * path makes no syscall), and a watch on another owner's liveness.
 */
#ifndef SHMG_XLOCK_OWNER_H
#define SHMG_XLOCK_OWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The calling thread's id and start time (clock ticks after boot): read
 * once per thread, and again in a forked child. 0 on success, -errno. */
int shmg__xlock_self(pid_t *tid, uint64_t *start);

/* The calling thread's identity, pre-encoded for both widths. initial-exec
 * TLS: a plain %fs-relative load on the lock's fast path, no
 * __tls_get_addr call (the library is not meant for a late dlopen). */
struct xlock_self {
	unsigned generation; /* == shmg__xlock_fork_generation when valid */
	pid_t tid;
	uint64_t start;
	uint64_t word8, word4;
};
extern __thread __attribute__((tls_model("initial-exec"))) struct xlock_self shmg__xlock_me;
extern unsigned shmg__xlock_fork_generation;
int shmg__xlock_self_refresh(unsigned width, uint64_t *word);

/* The word the calling thread writes into a lock of this width. */
static inline int shmg__xlock_self_word(unsigned width, uint64_t *word)
{
	if (__builtin_expect(shmg__xlock_me.generation ==
				     __atomic_load_n(&shmg__xlock_fork_generation,
						     __ATOMIC_RELAXED), 1)) {
		*word = width == 8 ? shmg__xlock_me.word8 : shmg__xlock_me.word4;
		return 0;
	}
	return shmg__xlock_self_refresh(width, word);
}

/*
 * A waiter's view of one owner (thread id + the start bits of its word).
 * The first probe opens /proc/TID/stat; every probe re-reads it through
 * that descriptor (a few microseconds, no path lookup). The owner is dead
 * when its start bits differ (the id was reused), when it is a zombie, or
 * as soon as the kernel marks it exiting (PF_EXITING, set at the start of
 * do_exit(): such a thread never runs user code again; the kernel's
 * robust-futex handling comes later in the exit path).
 */
struct xlock_watch {
	pid_t tid;
	uint64_t start_bits;
	unsigned nbits;
	int statfd;  /* -1: none (yet) */
	bool opened; /* the open was tried */
};

void shmg__xlock_watch_init(struct xlock_watch *w);
void shmg__xlock_watch_close(struct xlock_watch *w);

/* Is the owner dead? true only when certain (an undecidable probe says
 * alive: a live owner is never robbed). */
bool shmg__xlock_owner_dead(struct xlock_watch *w, pid_t tid,
			    uint64_t start_bits, unsigned nbits);

/* A quick look for trylock (no watch to keep): the thread is gone (no such
 * id, or its pidfd says it exited). A reused id reads as alive: a trylock
 * then reports -EBUSY, and a blocking lock's full probe decides. */
bool shmg__xlock_owner_gone(pid_t tid, uint64_t start_bits, unsigned nbits);

/* Tests replace the liveness source (e.g. to fake PID reuse); NULL: /proc. */
extern int (*shmg__xlock_alive_hook)(pid_t tid, uint64_t start_bits,
				     unsigned nbits);

/* Protocol steps where crash tests stop a process (shmg__xlock_test_point),
 * and the sleeper's first probe period (tests stretch it). */
enum {
	XP_LOCKED = 1,    /* lock taken on the slow path */
	XP_WAITERS_SET,   /* announced, about to sleep */
	XP_STOLEN,        /* taken from a dead owner, not yet returned */
	XP_UNLOCK_BEFORE, /* in unlock, before the exchange */
	XP_UNLOCK_AFTER,  /* after the exchange, before the wake */
};
extern void (*shmg__xlock_test_point)(int step);
extern uint64_t shmg__xlock_probe_ns;

#endif /* SHMG_XLOCK_OWNER_H */
