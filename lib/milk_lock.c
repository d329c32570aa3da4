/*
 * What the milk clients share: taking a lock with repair after a dead
 * holder, recovering one without waiting, and reading name fields.
 * Recovering a lock is one step that either completes (taken, repaired,
 * released) or leaves the lock exactly as it was: the take is a CAS from
 * the dead holder's exact word, and nothing is written before it.
 */
#include "config.h"

#include <errno.h>

#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/xlock.h>

#include "milk_internal.h"
#include "xlock_internal.h"
#include "recover.h"
#include "testing.h"

int shmg__milk_lock(const struct shmg_xlock *l, void (*repair)(void *), void *arg,
		    const struct timespec *deadline)
{
	int err = shmg_xlock_timedlock(l, deadline);
	if (err != SHMG_OWNERDEAD)
		return err;
	/* The holder died inside its update: make the data usable again
	 * before anyone else sees it, then say so to the caller. */
	if (repair)
		repair(arg);
	err = shmg_xlock_consistent(l);
	return err ? err : SHMG_OWNERDEAD;
}

/* Take a dead (or operator-named: forced, from the exact word `raw`)
 * holder's lock without waiting, repair, release. */
static int take_and_repair(const struct shmg_xlock *l, bool forced, uint64_t raw,
			   void (*repair)(void *), void *arg)
{
	int err = SHMG__TEST_FAIL(SHMG__FAIL_RECOVER_LOCK);
	if (err)
		return err;
	err = forced ? shmg__xlock_take_from(l, raw) : shmg_xlock_trylock(l);
	if (err == 0)
		return shmg_xlock_unlock(l); /* it was free after all */
	if (err != SHMG_OWNERDEAD)
		return err;
	if (repair)
		repair(arg);
	if ((err = shmg_xlock_consistent(l)) != 0)
		return err;
	err = shmg_xlock_unlock(l);
	return err ? err : SHMG_RECOVERED;
}

/* A live holder: a locker at work (nothing to recover), unless it does not
 * map the file: then it did not take the lock by using the file (a planted
 * word, or a process that unmapped the file while holding it), and only an
 * operator can decide (force_pid). The same test as `shmguard inspect`'s
 * alert, so the two agree. A holder whose maps cannot be read is taken to
 * be at work. */
static void live_holder(struct shmg__recovery *rc, int fd, int32_t tid, const char *what)
{
	if (fd < 0 || shmg_proc_maps(tid, fd) != 0)
		return;
	shmg__step(rc, -EBUSY, "%s is held by live thread %d, which does not map the file "
		   "(a planted word, or a process that unmapped the file while holding it); "
		   "only an operator can take it: force_pid %d (shmguard recover --force %d), "
		   "at a risk if that process is not stuck", what, (int)tid, (int)tid, (int)tid);
}

void shmg__milk_recover(struct shmg__recovery *rc, const struct shmg_xlock *l, int fd,
			void (*repair)(void *), void *arg, const char *what)
{
	struct shmg_xlock_info info = {.size = sizeof(info)};
	shmg_xlock_inspect(l, &info);
	switch (info.state) {
	case SHMG_XLOCK_UNLOCKED:
		return;
	case SHMG_XLOCK_GARBAGE:
		shmg__step(rc, SHMG_EGARBAGE, "%s holds 0x%llx, which no locker writes "
			   "(another program's data?)", what, (unsigned long long)info.raw);
		return;
	case SHMG_XLOCK_NOTRECOVERABLE: {
		struct shmg_recover_opts o = {.size = sizeof(o), .flags = rc->opts.flags};
		int err = shmg_xlock_recover(l, &o);
		if (err < 0)
			shmg__step(rc, err, "%s: %s", what, shmg_strerror(err));
		else
			shmg__step(rc, SHMG_RECOVERED, "reset %s, which was not recoverable", what);
		return;
	}
	default:
		break;
	}
	bool forced = info.owner_alive != SHMG_PROC_DEAD && shmg__forced(rc, info.owner_tid);
	if (info.owner_alive != SHMG_PROC_DEAD && !forced) {
		if (info.owner_alive == SHMG_PROC_ALIVE)
			live_holder(rc, fd, info.owner_tid, what);
		return;
	}
	int got = shmg__dry_run(rc) ? SHMG_RECOVERED
				    : take_and_repair(l, forced, info.raw, repair, arg);
	if (got == SHMG_RECOVERED)
		shmg__step(rc, got, "recover %s from %s thread %d%s", what,
			   forced ? "live (named by force_pid)" : "dead", (int)info.owner_tid,
			   shmg__dry_run(rc) ? "" : " (repaired, released)");
	else if (got == -EBUSY)
		shmg__step(rc, got, "%s is held by a live thread", what);
	else if (got < 0)
		shmg__step(rc, got, "taking %s: %s; it was left as it was", what,
			   shmg_strerror(got));
}
