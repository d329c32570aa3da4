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

/*
 * A waiter's view of one owner (thread id + the start bits of its word).
 * The first probe opens a pidfd on that thread and checks, after opening
 * it, that the thread still has those start bits: from then on a probe is
 * one poll() on the pidfd (the kernel says when the thread exits). Where
 * pidfds are unavailable, every probe reads /proc.
 */
struct xlock_watch {
	pid_t tid;
	uint64_t start_bits;
	unsigned nbits;
	int pidfd;     /* -1: none (yet) */
	bool opened;   /* pidfd_open was tried */
	bool verified; /* the pidfd is known to name the owner */
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
