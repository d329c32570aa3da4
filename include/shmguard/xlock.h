/*
 * shmguard/xlock.h: an exclusive lock in one existing word of a segment,
 * with owner-death recovery (symmetric: every participant locks the same way).
 *
 * The lock lives in a naturally aligned 4- or 8-byte word at an offset of a
 * region; zero means unlocked, so an unused field or an alignment hole that
 * a new file leaves zero serves without a layout change. The word records
 * its owner (a thread id plus bits of that thread's start time, so a reused
 * id or a zombie is not mistaken for the owner) and whether waiters sleep.
 * The word format is in doc/xlock.md.
 *
 * Cost: an uncontended lock is one CAS (acquire); an uncontended unlock one
 * CAS (release) and no syscall unless a waiter announced itself. Waiting
 * spins briefly, then sleeps on a shared futex with escalating timed probes
 * of the owner's liveness (never on the fast path).
 *
 * Owner death: a waiter that finds the owner dead takes the lock by CAS from
 * the exact dead value it observed (one winner) and gets SHMG_OWNERDEAD: it
 * holds the lock, and either calls shmg_xlock_consistent() after repairing
 * the data, or unlocks without doing so, which makes the lock not
 * recoverable (SHMG_ENOTRECOVERABLE for every later locker until
 * shmg_xlock_recover()). As POSIX robust mutexes do.
 *
 * Ownership is per thread, as for a mutex: the owner is the thread that
 * locked; a thread that exits holding the lock is a dead owner.
 *
 * struct shmg_xlock is a small handle of fixed size whose members are
 * private: it lives on the caller's stack or in the caller's structs (one
 * per FPS parameter, say) without an allocation (doc/abi.md).
 */
#ifndef SHMGUARD_XLOCK_H
#define SHMGUARD_XLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/region.h>

SHMG_BEGIN_DECLS

/* A lock placed in a region (process-local handle; the state is the word).
 * 32 bytes on every target; the members are private to the library. */
struct shmg_xlock {
	void *shmg__word;
	uint32_t shmg__width;
	uint32_t shmg__reserved[(32 - sizeof(void *) - 4) / 4];
};

/*
 * Place a lock on the `width`-byte word (4 or 8) at `offset` of region r.
 * Checks bounds and natural alignment; the word's current value is not
 * judged here (a garbage word is reported by the operations).
 * Returns 0, -EINVAL (bad width or misaligned), or -ERANGE (out of bounds).
 */
SHMG_EXPORT int shmg_xlock_init(struct shmg_xlock *l,
				const struct shmg_region *r, size_t offset,
				unsigned width);

/*
 * Take the lock, waiting as long as it takes. Acquire ordering on success
 * (and on SHMG_OWNERDEAD): everything the previous owner wrote before its
 * unlock is visible.
 * Returns 0, SHMG_OWNERDEAD (held, taken from a dead owner: see above),
 * SHMG_ENOTRECOVERABLE, SHMG_EDEADLK (the calling thread already owns it),
 * SHMG_EGARBAGE (the word holds a value no participant writes; nothing is
 * changed). -EINTR is never returned (signals are retried).
 */
SHMG_EXPORT int shmg_xlock_lock(const struct shmg_xlock *l);

/* As shmg_xlock_lock, but never waits: -EBUSY if a live owner holds it. */
SHMG_EXPORT int shmg_xlock_trylock(const struct shmg_xlock *l);

/*
 * As shmg_xlock_lock, until the absolute CLOCK_MONOTONIC `deadline` (NULL:
 * none): -ETIMEDOUT after it. An owner found dead before the deadline is
 * still reported as SHMG_OWNERDEAD.
 */
SHMG_EXPORT int shmg_xlock_timedlock(const struct shmg_xlock *l,
				     const struct timespec *deadline);

/*
 * Release the lock (release ordering), waking one sleeper if any announced
 * itself. Unlocking after SHMG_OWNERDEAD without shmg_xlock_consistent()
 * makes the lock not recoverable. Returns 0, SHMG_ENOTOWNER (the calling
 * thread does not own it; nothing is changed), SHMG_EGARBAGE.
 */
SHMG_EXPORT int shmg_xlock_unlock(const struct shmg_xlock *l);

/*
 * After SHMG_OWNERDEAD, declare the protected data repaired: the lock
 * becomes an ordinary held lock. Returns 0, SHMG_ENOTOWNER, or -EINVAL (the
 * lock was not taken from a dead owner).
 */
SHMG_EXPORT int shmg_xlock_consistent(const struct shmg_xlock *l);

/*
 * Administrative, for monitors and `shmguard recover`: clear a lock that is
 * not recoverable, or whose owner is dead, back to unlocked, waking every
 * sleeper; the data it protects is not repaired (the caller knows nothing
 * of it). Never waits; never clears a lock held by a live owner. opts may
 * be NULL (SHMG_RECOVER_DRY_RUN: only say).
 * Returns 0 (unlocked: nothing to recover), SHMG_RECOVERED, -EBUSY (a live
 * owner holds it), SHMG_EGARBAGE.
 */
SHMG_EXPORT int shmg_xlock_recover(const struct shmg_xlock *l,
				   const struct shmg_recover_opts *opts);

/* What a lock word says, for monitors and the tool. */
enum shmg_xlock_state {
	SHMG_XLOCK_UNLOCKED = 0,
	SHMG_XLOCK_HELD = 1,           /* by owner_tid; owner_alive tells more */
	SHMG_XLOCK_INCONSISTENT = 2,   /* held after an owner died, not yet repaired */
	SHMG_XLOCK_NOTRECOVERABLE = 3, /* poisoned until shmg_xlock_recover() */
	SHMG_XLOCK_GARBAGE = 4,        /* a value no participant writes */
};

/* A sized struct. */
struct shmg_xlock_info {
	uint32_t size;     /* sizeof(struct shmg_xlock_info) */
	uint32_t state;    /* enum shmg_xlock_state */
	pid_t owner_tid;   /* 0 when not held */
	int owner_alive;   /* SHMG_PROC_ALIVE, SHMG_PROC_DEAD, or -errno */
	int waiters;       /* nonzero if a waiter announced itself */
	uint32_t width;    /* 4 or 8 */
	uint64_t raw;      /* the word as read */
};

/* Read and decode the lock word (relaxed; a snapshot; never writes).
 * Returns 0, -EINVAL (info's size). */
SHMG_EXPORT int shmg_xlock_inspect(const struct shmg_xlock *l,
				   struct shmg_xlock_info *info);

SHMG_END_DECLS

#endif /* SHMGUARD_XLOCK_H */
