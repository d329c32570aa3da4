/*
 * The exclusive lock's files share: access to the word behind the handle,
 * and the calling thread's identity pre-encoded for both widths.
 */
#ifndef SHMG_XLOCK_INTERNAL_H
#define SHMG_XLOCK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <shmguard/atomic.h>
#include <shmguard/wait.h>
#include <shmguard/xlock.h>

#include "proc_internal.h"
#include "xlock_word.h"

/* Width-generic access to the word. */
static inline uint64_t xlock_load(const struct shmg_xlock *l)
{
	if (l->shmg__width == 8)
		return shmg_atomic_load((uint64_t *)l->shmg__word, relaxed);
	return shmg_atomic_load((uint32_t *)l->shmg__word, relaxed);
}

/* Every CAS on the word is acquire: the one that takes the lock must see
 * the previous owner's critical section (its unlock is a release). On
 * failure *expect receives the word seen. */
static inline bool xlock_cas(const struct shmg_xlock *l, uint64_t *expect,
			     uint64_t desired)
{
	if (l->shmg__width == 8)
		return shmg_atomic_cmpxchgv((uint64_t *)l->shmg__word, *expect,
					    desired, expect, acquire);
	uint32_t seen;
	bool ok = shmg_atomic_cmpxchgv((uint32_t *)l->shmg__word, (uint32_t)*expect,
				       (uint32_t)desired, &seen, acquire);
	*expect = seen;
	return ok;
}

/* The 32-bit futex word: the half of the word holding id and flags. */
static inline uint32_t *xlock_futex(const struct shmg_xlock *l)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	if (l->shmg__width == 8)
		return (uint32_t *)l->shmg__word + 1;
#endif
	return (uint32_t *)l->shmg__word;
}

static inline void xlock_wake(const struct shmg_xlock *l, int n)
{
	shmg_futex_wake(xlock_futex(l), n);
}

enum xlock_wait_mode { XLOCK_TRY, XLOCK_WAIT };

/* Everything after the uncontended CAS failed (lib/xlock_wait.c). */
int shmg__xlock_lock_slow(const struct shmg_xlock *l, uint64_t me,
			  enum xlock_wait_mode mode, const struct timespec *deadline);

/* Recovery by an operator's decision (force_pid): take the lock from the
 * exact held value v, as from a dead owner (SHMG_OWNERDEAD: inconsistent,
 * the caller repairs, marks it consistent, unlocks), whether or not its
 * holder lives. -EBUSY when the word no longer holds v. */
int shmg__xlock_take_from(const struct shmg_xlock *l, uint64_t v);

#endif /* SHMG_XLOCK_INTERNAL_H */
