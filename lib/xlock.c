/*
 * The exclusive lock: one CAS to lock, one CAS to unlock, a futex for
 * sleepers, and owner-death recovery by CAS from the exact dead value.
 * See include/shmguard/xlock.h, lib/xlock_word.h (the format) and
 * doc/xlock.md (the protocol and what backs each ordering claim). Waiting
 * is in lib/xlock_wait.c, monitors' views in lib/xlock_monitor.c.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/xlock.h>

#include "detail.h"
#include "testing.h"
#include "xlock_internal.h"

/* The calling thread's word, for both widths, cached per thread (valid
 * false: not read yet). initial-exec TLS: a plain %fs-relative load on the
 * fast path, no __tls_get_addr call (the library is not meant for a late
 * dlopen). A forked child's one thread forgets it (forget_me), so the
 * fast path checks this thread-local flag and nothing else. */
static __thread __attribute__((tls_model("initial-exec"))) struct {
	bool valid;
	uint64_t word8, word4;
} me;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_me(void)
{
	me.valid = false;
}

static void register_forget(void)
{
	pthread_atfork(NULL, NULL, forget_me);
}

/* The first call in a thread (or in a forked child): read the identity
 * (the process-identity module's). Out of line: the fast paths stay a
 * thread-local load and a compare. */
static __attribute__((noinline, cold)) int refresh_me(void)
{
	struct shmg__thread_id id;
	pthread_once(&atfork_once, register_forget);
	int err = shmg__thread_self(&id);
	if (err)
		return err;
	me.word8 = xw_make(&xlock_fmt8, (uint64_t)id.tid, id.start);
	me.word4 = xw_make(&xlock_fmt4, (uint64_t)id.tid, id.start);
	me.valid = true;
	return 0;
}

/* The word the calling thread writes into lock l, once me is current. */
static inline uint64_t my_word(const struct shmg_xlock *l)
{
	return l->shmg__width == 8 ? me.word8 : me.word4;
}

/* Make me current: 0, or -errno when /proc cannot tell who we are. */
static inline int know_me(void)
{
	return SHMG__LIKELY(me.valid) ? 0 : refresh_me();
}

SHMG_EXPORT int shmg_xlock_init(struct shmg_xlock *l,
				const struct shmg_region *r, size_t offset,
				unsigned width)
{
	void *at;

	if (!l)
		return -EINVAL;
	if (width != 4 && width != 8)
		return shmg__fail(-EINVAL, "lock width %u: 4 or 8 expected", width);
	int err = shmg_region_at(r, offset, width, &at);
	if (err)
		return err;
	memset(l, 0, sizeof(*l));
	l->shmg__word = at;
	l->shmg__width = width;
	return 0;
}

/* The uncontended path: one CAS (acquire on success); else the slow path,
 * as a tail call (the fast path keeps no stack frame). */
static inline int lock_now(const struct shmg_xlock *l, enum xlock_wait_mode mode,
			   const struct timespec *deadline)
{
	uint64_t word = my_word(l);
	bool taken = l->shmg__width == 8
		? shmg_atomic_cmpxchg((uint64_t *)l->shmg__word, 0, word, acquire)
		: shmg_atomic_cmpxchg((uint32_t *)l->shmg__word, 0, (uint32_t)word, acquire);
	if (SHMG__LIKELY(taken))
		return 0;
	return shmg__xlock_lock_slow(l, word, mode, deadline);
}

/* A thread's first lock (or a forked child's): who are we, then lock. */
static __attribute__((noinline)) int lock_first(const struct shmg_xlock *l,
						 enum xlock_wait_mode mode,
						 const struct timespec *deadline)
{
	int err = refresh_me();
	return err ? err : lock_now(l, mode, deadline);
}

static inline int lock_common(const struct shmg_xlock *l, enum xlock_wait_mode mode,
			      const struct timespec *deadline)
{
	if (SHMG__UNLIKELY(!me.valid))
		return lock_first(l, mode, deadline);
	return lock_now(l, mode, deadline);
}

SHMG_EXPORT int shmg_xlock_lock(const struct shmg_xlock *l)
{
	return lock_common(l, XLOCK_WAIT, NULL);
}

SHMG_EXPORT int shmg_xlock_trylock(const struct shmg_xlock *l)
{
	return lock_common(l, XLOCK_TRY, NULL);
}

SHMG_EXPORT int shmg_xlock_timedlock(const struct shmg_xlock *l,
				     const struct timespec *deadline)
{
	return lock_common(l, XLOCK_WAIT, deadline);
}

int shmg__xlock_take_from(const struct shmg_xlock *l, uint64_t v)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	int err = know_me();
	if (err)
		return err;
	if (xw_kind(f, v) != XW_HELD)
		return -EINVAL;
	/* As from a dead owner: inconsistent, and WAITERS kept for the
	 * sleepers (lib/xlock_wait.c, probe()). */
	if (!xlock_cas(l, &v, my_word(l) | f->inconsistent | (v & f->waiters)))
		return shmg__fail(-EBUSY, "the lock word changed (its holder released it, or "
				  "another took it)");
	return SHMG_OWNERDEAD;
}

static uint64_t exchange(const struct shmg_xlock *l, uint64_t v)
{
	/* release: the critical section happens-before the next locker's
	 * acquire CAS that reads this value. */
	if (l->shmg__width == 8)
		return shmg_atomic_xchg((uint64_t *)l->shmg__word, v, release);
	return shmg_atomic_xchg((uint32_t *)l->shmg__word, (uint32_t)v, release);
}

/* The unlock's fast path: from exactly our own word (no waiters, not
 * inconsistent) to 0, release. One RMW, no syscall. */
static inline bool unlock_fast(const struct shmg_xlock *l, uint64_t mine)
{
	if (l->shmg__width == 8)
		return shmg_atomic_cmpxchg((uint64_t *)l->shmg__word, mine, 0, release);
	return shmg_atomic_cmpxchg((uint32_t *)l->shmg__word, (uint32_t)mine, 0, release);
}

/* Everything but the uncontended unlock, out of line. */
static __attribute__((noinline)) int unlock_slow(const struct shmg_xlock *l, uint64_t mine)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	uint64_t v = xlock_load(l);
	if (xw_kind(f, v) == XW_GARBAGE)
		return SHMG_EGARBAGE;
	/* Only the owner changes the identity part: if it is ours now, it
	 * stays ours until we release it (others only add WAITERS). */
	if (xw_kind(f, v) != XW_HELD || xw_owner(f, v) != mine)
		return SHMG_ENOTOWNER;
	SHMG__TEST_POINT(SHMG__XLOCK_UNLOCK_BEFORE);
	if (v & f->inconsistent) {
		/* Released without consistent(): poisoned for everyone, and
		 * every sleeper must hear it. */
		exchange(l, f->inconsistent);
		xlock_wake(l, INT_MAX);
		return 0;
	}
	/* A waiter announced itself: the exchange tells us so atomically,
	 * and only then is there a syscall (doc/xlock.md, "Unlock"). */
	uint64_t old = exchange(l, 0);
	SHMG__TEST_POINT(SHMG__XLOCK_UNLOCK_AFTER);
	if (old & f->waiters)
		xlock_wake(l, 1);
	return 0;
}

/* A thread's first unlock (a lock it cannot own: it never locked). */
static __attribute__((noinline)) int unlock_first(const struct shmg_xlock *l)
{
	int err = refresh_me();
	return err ? err : unlock_slow(l, my_word(l));
}

SHMG_EXPORT int shmg_xlock_unlock(const struct shmg_xlock *l)
{
	if (SHMG__UNLIKELY(!me.valid))
		return unlock_first(l);
	uint64_t word = my_word(l);
	if (SHMG__LIKELY(!SHMG__TESTING_SLOW_UNLOCK() && unlock_fast(l, word)))
		return 0;
	return unlock_slow(l, word);
}

SHMG_EXPORT int shmg_xlock_consistent(const struct shmg_xlock *l)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	int err = know_me();
	if (err)
		return err;
	uint64_t mine = my_word(l), v = xlock_load(l);
	for (;;) {
		if (xw_kind(f, v) != XW_HELD || xw_owner(f, v) != mine)
			return SHMG_ENOTOWNER;
		if (!(v & f->inconsistent))
			return shmg__fail(-EINVAL, "the lock was not taken from a dead owner");
		/* A CAS loop: sleepers may add WAITERS meanwhile. */
		if (xlock_cas(l, &v, v & ~f->inconsistent))
			return 0;
	}
}
