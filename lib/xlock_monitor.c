/*
 * The exclusive lock for monitors and recovery: what a lock word says, and
 * clearing a dead owner's or a poisoned lock (include/shmguard/xlock.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/xlock.h>

#include "recover.h"
#include "sized.h"
#include "xlock_internal.h"

/* Not recoverable, or held by an owner known dead: the lock may be
 * cleared. -EBUSY for a live (or undecidable) owner. */
static int clearable(const struct shmg__recovery *rc, const struct shmg_xlock *l,
		     uint64_t v, struct shmg__proc_watch *watch)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	switch (xw_kind(f, v)) {
	case XW_UNLOCKED:
		return 0;
	case XW_GARBAGE:
		return SHMG_EGARBAGE;
	case XW_NOTRECOVERABLE:
		return SHMG_RECOVERED;
	case XW_HELD:
		break;
	}
	pid_t tid = (pid_t)xw_id(f, v);
	return shmg__forced(rc, tid) || shmg__watch_dead(watch, tid, xw_start(f, v), f->start_bits)
		? SHMG_RECOVERED : -EBUSY;
}

static const char *what_it_was(const struct shmg__recovery *rc, const struct shmg_xlock *l,
			       uint64_t v)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	if (xw_kind(f, v) == XW_NOTRECOVERABLE)
		return "not recoverable";
	return shmg__forced(rc, (int32_t)xw_id(f, v)) ? "held by a thread named by force_pid"
						       : "held by a dead thread";
}

SHMG_EXPORT int shmg_xlock_recover(const struct shmg_xlock *l,
				   const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	struct shmg__proc_watch watch;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	shmg__watch_init(&watch);
	uint64_t v = xlock_load(l);
	for (;;) {
		int can = clearable(&rc, l, v, &watch);
		if (can == SHMG_EGARBAGE)
			shmg__step(&rc, can, "the lock word holds 0x%llx, which no locker writes",
				   (unsigned long long)v);
		else if (can == -EBUSY)
			rc.result = -EBUSY; /* a live owner: not a step, nothing to say */
		if (can != SHMG_RECOVERED)
			break;
		/* From that exact value to unlocked; every sleeper looks again. */
		uint64_t was = v;
		if (shmg__dry_run(&rc) || xlock_cas(l, &v, 0)) {
			if (!shmg__dry_run(&rc))
				xlock_wake(l, INT_MAX);
			shmg__step(&rc, SHMG_RECOVERED, "clear the lock, which was %s (the data it "
				   "protects is not repaired)", what_it_was(&rc, l, was));
			break;
		}
	}
	shmg__watch_close(&watch);
	return rc.result;
}

SHMG_EXPORT int shmg_xlock_inspect(const struct shmg_xlock *l,
				   struct shmg_xlock_info *info)
{
	const struct xlock_format *f = xlock_format(l->shmg__width);
	struct shmg_xlock_info own;
	uint64_t v = xlock_load(l);

	memset(&own, 0, sizeof(own));
	own.raw = v;
	own.width = l->shmg__width;
	own.waiters = (v & f->waiters) != 0;
	switch (xw_kind(f, v)) {
	case XW_UNLOCKED:
		own.state = SHMG_XLOCK_UNLOCKED;
		break;
	case XW_NOTRECOVERABLE:
		own.state = SHMG_XLOCK_NOTRECOVERABLE;
		break;
	case XW_GARBAGE:
		own.state = SHMG_XLOCK_GARBAGE;
		break;
	case XW_HELD:
		own.state = (v & f->inconsistent) ? SHMG_XLOCK_INCONSISTENT : SHMG_XLOCK_HELD;
		own.owner_tid = (pid_t)xw_id(f, v);
		own.owner_alive = shmg_proc_alive(own.owner_tid, xw_start(f, v), f->start_bits);
		break;
	}
	return SHMG__SIZED_OUT(info, &own, struct shmg_xlock_info);
}
