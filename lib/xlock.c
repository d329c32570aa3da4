/*
 * The exclusive lock: one CAS to lock, one exchange to unlock, a futex for
 * sleepers, and owner-death recovery by CAS from the exact dead value.
 * See include/shmguard/xlock.h, lib/xlock_word.h (the format) and
 * doc/xlock.md (the protocol and what backs each ordering claim).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/xlock.h>

#include "wait_internal.h"
#include "xlock_owner.h"
#include "xlock_word.h"

/* Looks at the owner before sleeping, with exponential backoff: about
 * 450 cpu_relax in all (10-60 us), a short critical section's worth. */
#define XLOCK_SPIN 12
/* A sleeper wakes to probe the owner after PROBE_FIRST_NS, for the first
 * PROBE_FAST probes (a few milliseconds), then backs off by doubling up to
 * PROBE_MAX_NS: prompt detection of a crash while a lock is contended,
 * little cost while a live owner holds it long. */
#define PROBE_FIRST_NS 50000u
#define PROBE_FAST 64
#define PROBE_MAX_NS 5000000u
/* Tests of wake-ups stretch the probe period so a lost wake-up cannot hide
 * behind a probe (tests/check_xlock.c). */
SHMG_EXPORT uint64_t shmg__xlock_probe_ns = PROBE_FIRST_NS;

/* Crash tests stop a process at protocol steps through this (NULL
 * otherwise: one predictable branch, off the uncontended path). */
SHMG_EXPORT void (*shmg__xlock_test_point)(int step);
#define TEST_POINT(step)                                                       \
	do {                                                                   \
		if (SHMG__UNLIKELY(shmg__xlock_test_point != NULL))            \
			shmg__xlock_test_point(step);                          \
	} while (0)


SHMG_EXPORT int shmg_xlock_init(struct shmg_xlock *l,
				const struct shmg_region *r, size_t offset,
				unsigned width)
{
	void *at;

	if (!l || (width != 4 && width != 8))
		return -EINVAL;
	int err = shmg_region_at(r, offset, width, &at);
	if (err)
		return err;
	l->word = at;
	l->width = width;
	return 0;
}

/* Width-generic access to the word. */
static uint64_t load_word(const struct shmg_xlock *l)
{
	if (l->width == 8)
		return shmg_atomic_load((uint64_t *)l->word, relaxed);
	return shmg_atomic_load((uint32_t *)l->word, relaxed);
}

/* Every CAS on the word is acquire: the one that takes the lock must see
 * the previous owner's critical section (its unlock is a release). */
static bool cas_word(const struct shmg_xlock *l, uint64_t *expect,
		     uint64_t desired)
{
	if (l->width == 8)
		return shmg_atomic_cmpxchgv((uint64_t *)l->word, *expect,
					    desired, expect, acquire);
	uint32_t seen;
	bool ok = shmg_atomic_cmpxchgv((uint32_t *)l->word, (uint32_t)*expect,
				       (uint32_t)desired, &seen, acquire);
	*expect = seen;
	return ok;
}

/* The 32-bit futex word: the half of the word holding id and flags. */
static uint32_t *futex_word(const struct shmg_xlock *l)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	if (l->width == 8)
		return (uint32_t *)l->word + 1;
#endif
	return (uint32_t *)l->word;
}

static inline int self_word(const struct shmg_xlock *l, uint64_t *out)
{
	return shmg__xlock_self_word(l->width, out);
}

enum wait_mode { TRY, WAIT };

static int lock_slow(const struct shmg_xlock *l, uint64_t me,
		     enum wait_mode mode, const struct timespec *deadline)
{
	const struct xlock_format *f = xlock_format(l->width);
	struct xlock_watch watch;
	uint64_t probe_ns = shmg__xlock_probe_ns;
	unsigned spins = 0, probes = 0;
	bool slept = false;
	int result;

	shmg__xlock_watch_init(&watch);
	uint64_t v = load_word(l);
	for (;;) {
		switch (xw_kind(f, v)) {
		case XW_UNLOCKED:
			/* After sleeping, others may sleep too: keep WAITERS
			 * so our unlock wakes the next one (Drepper's
			 * "mutex3"). */
			if (cas_word(l, &v, me | (slept ? f->waiters : 0))) {
				TEST_POINT(XP_LOCKED);
				result = 0;
				goto out;
			}
			continue;
		case XW_NOTRECOVERABLE:
			result = SHMG_ENOTRECOVERABLE;
			goto out;
		case XW_GARBAGE:
			result = SHMG_EGARBAGE;
			goto out;
		case XW_HELD:
			break;
		}
		if (xw_owner(f, v) == me) {
			result = SHMG_EDEADLK;
			goto out;
		}
		bool probe_now = mode == TRY;
		if (mode == WAIT && spins < XLOCK_SPIN) {
			/* Exponential backoff: fewer looks at the owner's
			 * cache line, so its next lock stays cheap. */
			for (unsigned k = 0; k < 1u << (spins < 6 ? spins : 6); k++)
				shmg_cpu_relax();
			spins++;
			v = load_word(l);
			continue;
		}
		if (mode == WAIT) {
			if (!(v & f->waiters)) {
				if (!cas_word(l, &v, v | f->waiters))
					continue;
				v |= f->waiters;
			}
			TEST_POINT(XP_WAITERS_SET);
			struct timespec until;
			int err = shmg__wake_by(&until, deadline, probe_ns);
			if (!err)
				err = shmg_futex_wait(futex_word(l), (uint32_t)v, &until);
			slept = true;
			if (err == -ETIMEDOUT) {
				if (shmg_deadline_passed(deadline)) {
					result = -ETIMEDOUT;
					goto out;
				}
				probe_now = true;
				if (++probes > PROBE_FAST && probe_ns < PROBE_MAX_NS)
					probe_ns = probe_ns * 2 < PROBE_MAX_NS
							   ? probe_ns * 2 : PROBE_MAX_NS;
			}
			uint64_t now = load_word(l);
			if (now != v) { /* woken, or it changed: look again */
				v = now;
				continue;
			}
		}
		if (probe_now) {
			pid_t tid = (pid_t)xw_id(f, v);
			bool dead = mode == TRY
				? shmg__xlock_owner_gone(tid, xw_start(f, v), f->start_bits)
				: shmg__xlock_owner_dead(&watch, tid, xw_start(f, v),
							 f->start_bits);
			if (dead) {
				/* DESIGN rule 6: CAS from the exact dead value,
				 * one winner; WAITERS kept for the sleepers. */
				if (cas_word(l, &v, me | f->inconsistent | f->waiters)) {
					TEST_POINT(XP_STOLEN);
					result = SHMG_EOWNERDEAD;
					goto out;
				}
				continue;
			}
			if (mode == TRY) {
				result = -EBUSY;
				goto out;
			}
		}
		v = load_word(l);
	}
out:
	shmg__xlock_watch_close(&watch);
	return result;
}

static int lock_common(const struct shmg_xlock *l, enum wait_mode mode,
		       const struct timespec *deadline)
{
	uint64_t me, expect = 0;
	int err = self_word(l, &me);
	if (err)
		return err;
	/* The uncontended path: one CAS (acquire on success). */
	if (SHMG__LIKELY(cas_word(l, &expect, me)))
		return 0;
	return lock_slow(l, me, mode, deadline);
}

SHMG_EXPORT int shmg_xlock_lock(const struct shmg_xlock *l)
{
	return lock_common(l, WAIT, NULL);
}

SHMG_EXPORT int shmg_xlock_trylock(const struct shmg_xlock *l)
{
	return lock_common(l, TRY, NULL);
}

SHMG_EXPORT int shmg_xlock_timedlock(const struct shmg_xlock *l,
				     const struct timespec *deadline)
{
	return lock_common(l, WAIT, deadline);
}

static void wake(const struct shmg_xlock *l, int n)
{
	shmg_futex_wake(futex_word(l), n);
}

static uint64_t exchange(const struct shmg_xlock *l, uint64_t v)
{
	/* release: the critical section happens-before the next locker's
	 * acquire CAS that reads this value. */
	if (l->width == 8)
		return shmg_atomic_xchg((uint64_t *)l->word, v, release);
	return shmg_atomic_xchg((uint32_t *)l->word, (uint32_t)v, release);
}

/* The unlock's fast path: from exactly our own word (no waiters, not
 * inconsistent) to 0, release. One RMW, no syscall. */
static bool unlock_fast(const struct shmg_xlock *l, uint64_t me, uint64_t *seen)
{
	if (l->width == 8)
		return shmg_atomic_cmpxchgv((uint64_t *)l->word, me, 0, seen, release);
	uint32_t v;
	bool ok = shmg_atomic_cmpxchgv((uint32_t *)l->word, (uint32_t)me, 0, &v, release);
	*seen = v;
	return ok;
}

SHMG_EXPORT int shmg_xlock_unlock(const struct shmg_xlock *l)
{
	const struct xlock_format *f = xlock_format(l->width);
	uint64_t me, v;
	int err = self_word(l, &me);
	if (err)
		return err;
	if (SHMG__LIKELY(shmg__xlock_test_point == NULL && unlock_fast(l, me, &v)))
		return 0;
	v = load_word(l);
	if (xw_kind(f, v) == XW_GARBAGE)
		return SHMG_EGARBAGE;
	/* Only the owner changes the identity part: if it is ours now, it
	 * stays ours until we release it (others only add WAITERS). */
	if (xw_kind(f, v) != XW_HELD || xw_owner(f, v) != me)
		return SHMG_ENOTOWNER;
	TEST_POINT(XP_UNLOCK_BEFORE);
	if (v & f->inconsistent) {
		/* Released without consistent(): poisoned for everyone, and
		 * every sleeper must hear it. */
		exchange(l, f->inconsistent);
		wake(l, INT_MAX);
		return 0;
	}
	/* A waiter announced itself: the exchange tells us so atomically
	 * (DESIGN rule 5: only then a syscall). */
	uint64_t old = exchange(l, 0);
	TEST_POINT(XP_UNLOCK_AFTER);
	if (old & f->waiters)
		wake(l, 1);
	return 0;
}

SHMG_EXPORT int shmg_xlock_consistent(const struct shmg_xlock *l)
{
	const struct xlock_format *f = xlock_format(l->width);
	uint64_t me, v;
	int err = self_word(l, &me);
	if (err)
		return err;
	v = load_word(l);
	for (;;) {
		if (xw_kind(f, v) != XW_HELD || xw_owner(f, v) != me)
			return SHMG_ENOTOWNER;
		if (!(v & f->inconsistent))
			return -EINVAL;
		/* A CAS loop: sleepers may add WAITERS meanwhile. */
		if (cas_word(l, &v, v & ~f->inconsistent))
			return 0;
	}
}

SHMG_EXPORT int shmg_xlock_reset(const struct shmg_xlock *l)
{
	const struct xlock_format *f = xlock_format(l->width);
	struct xlock_watch watch;
	int result;

	shmg__xlock_watch_init(&watch);
	uint64_t v = load_word(l);
	for (;;) {
		enum xlock_kind k = xw_kind(f, v);
		if (k == XW_UNLOCKED) {
			result = 0;
			break;
		}
		if (k == XW_GARBAGE) {
			result = SHMG_EGARBAGE;
			break;
		}
		if (k == XW_HELD &&
		    !shmg__xlock_owner_dead(&watch, (pid_t)xw_id(f, v),
					    xw_start(f, v), f->start_bits)) {
			result = -EBUSY;
			break;
		}
		/* Not recoverable, or its owner is dead: from that exact
		 * value to unlocked; every sleeper looks again. */
		if (cas_word(l, &v, 0)) {
			wake(l, INT_MAX);
			result = 0;
			break;
		}
	}
	shmg__xlock_watch_close(&watch);
	return result;
}

SHMG_EXPORT int shmg_xlock_inspect(const struct shmg_xlock *l,
				   struct shmg_xlock_info *info)
{
	const struct xlock_format *f = xlock_format(l->width);
	uint64_t v = load_word(l);

	memset(info, 0, sizeof(*info));
	info->raw = v;
	info->waiters = (v & f->waiters) != 0;
	switch (xw_kind(f, v)) {
	case XW_UNLOCKED:
		info->state = SHMG_XLOCK_UNLOCKED;
		break;
	case XW_NOTRECOVERABLE:
		info->state = SHMG_XLOCK_NOTRECOVERABLE;
		break;
	case XW_GARBAGE:
		info->state = SHMG_XLOCK_GARBAGE;
		break;
	case XW_HELD:
		info->state = (v & f->inconsistent) ? SHMG_XLOCK_INCONSISTENT
						    : SHMG_XLOCK_HELD;
		info->owner_tid = (pid_t)xw_id(f, v);
		info->owner_alive = shmg_proc_alive(info->owner_tid, xw_start(f, v),
						    f->start_bits);
		break;
	}
	return 0;
}
