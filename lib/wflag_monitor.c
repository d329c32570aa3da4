/*
 * The write-flag guard for monitors: what its words say, and recovery of a
 * dead writer's record. See include/shmguard/wflag.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/wflag.h>

#include "detail.h"
#include "recover.h"
#include "sized.h"
#include "wflag_internal.h"

SHMG_EXPORT int shmg_wflag_inspect(const struct shmg_wflag *g,
				   struct shmg_wflag_info *info)
{
	struct shmg_wflag_info own;

	memset(&own, 0, sizeof(own));
	own.parts = (g->waiters ? SHMG_WFLAG_WAITERS : 0) | (g->owner ? SHMG_WFLAG_OWNER : 0);
	own.mark_offset = (size_t)(g->mark - g->base);
	own.mark = byte_load(g->mark, relaxed);
	own.waiters = g->waiters ? byte_load(g->waiters, relaxed) : 0;
	own.counter = shmg_atomic_load(g->counter, relaxed);
	own.owner = g->owner ? shmg_atomic_load(g->owner, relaxed) : 0;
	/* PIDs alone (no start time): a reused PID looks alive, never the
	 * unsafe direction. */
	own.owner_alive = own.owner > 0 ? shmg_proc_alive(own.owner, 0, 0) : -ENOENT;
	own.copies = g->copies;
	own.index = g->copies ? shmg_atomic_load(g->index, relaxed) : 0;
	return SHMG__SIZED_OUT(info, &own, struct shmg_wflag_info);
}

SHMG_EXPORT int shmg_wflag_recover(struct shmg_wflag *g,
				   const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	if (!g->owner)
		return -ENOTSUP;
	int32_t who = shmg_atomic_load(g->owner, relaxed);
	if (who == 0)
		return 0;
	if (who < 0) {
		shmg__step(&rc, SHMG_EGARBAGE, "the owner word holds %d, which no writer writes", who);
		return rc.result;
	}
	if (!shmg__counts_as_dead(&rc, who))
		return 0; /* a live writer: nothing to recover */
	char name[80];
	shmg__who(&rc, name, sizeof(name), "writer", who);
	if (byte_load(g->mark, acquire)) {
		shmg__step(&rc, SHMG_EWRITERDEAD, "%s left a frame unfinished; only a client "
			   "that knows the region's data can publish a complete frame", name);
		return rc.result;
	}
	/* CAS from that PID: a writer that claimed meanwhile keeps it. */
	if (shmg__dry_run(&rc) || shmg_atomic_cmpxchg(g->owner, who, 0, acq_rel))
		shmg__step(&rc, SHMG_RECOVERED, "clear the record of %s", name);
	return rc.result;
}
