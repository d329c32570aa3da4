/*
 * ImageStreamIO streams: clearing what dead processes left
 * (shmg_isio_recover in include/shmguard/isio.h). Every step re-checks
 * atomically (claims and slot frees are CASes from the dead value), so a
 * process that comes back between the look and the step keeps what it has;
 * and a step that cannot finish changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "recover.h"

/* The replacement for a partial frame: the newest complete copy of the
 * latch, or zeros. 0, or the read's error (nothing changed yet). */
static int replacement(const struct shmg_isio *s, bool latch, void *frame,
		       uint64_t *from)
{
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	struct timespec deadline; /* the latch never waits; never hang anyway */
	if (!latch)
		return 0;
	int err = shmg_deadline_in(&deadline, 1000000000);
	if (!err)
		err = shmg_wflag_read(&s->latch, frame, NULL, s->layout.data_size, &snap, &deadline);
	*from = snap.frame;
	return err;
}

/* Take over as writer and publish `frame` over the partial one. */
static void publish_over(struct shmg__recovery *rc, struct shmg_isio *s, const void *frame,
			 bool latch, uint64_t from, const char *who)
{
	int got = shmg_isio_claim(s);
	if (got == -EBUSY) {
		shmg__step(rc, -EBUSY, "%s is alive again (a reused PID?), or another writer "
			   "claimed the stream", who);
		return;
	}
	if (got < 0) {
		shmg__step(rc, got, "taking over the stream: %s", shmg_strerror(got));
		return;
	}
	if (!byte_load(s->guard.mark, acquire)) { /* claim completed a publish cut short */
		shmg__step(rc, SHMG_RECOVERED, "complete %s's last publish", who);
	} else {
		uint64_t n = 0;
		shmg_isio_write(s, frame, s->layout.data_size, &n);
		if (latch)
			shmg__step(rc, SHMG_RECOVERED, "publish frame %llu (a copy of complete "
				   "frame %llu) over %s's partial frame; write flag cleared",
				   (unsigned long long)n, (unsigned long long)from, who);
		else
			shmg__step(rc, SHMG_RECOVERED, "publish frame %llu, all zeros, over %s's "
				   "partial frame; write flag cleared", (unsigned long long)n, who);
	}
	shmg_isio_release(s);
}

/* The writer (`who`) died mid-frame: publish a complete frame over its
 * partial one, as its successor. */
static void republish(struct shmg__recovery *rc, struct shmg_isio *s, int32_t owner,
		      const char *who)
{
	bool latch = s->has_latch && owner > 0; /* only a guarded writer's latch */
	uint64_t cnt0 = shmg_atomic_load(s->guard.counter, relaxed), from = 0;
	if (!latch && !(rc->opts.flags & SHMG_RECOVER_BLANK)) {
		shmg__step(rc, SHMG_EWRITERDEAD, "%s left a partial frame, and there is no "
			   "circular buffer written by the guard to restore the last complete "
			   "frame from (--blank publishes an all-zero frame)", who);
		return;
	}
	if (shmg__dry_run(rc)) {
		shmg__step(rc, SHMG_RECOVERED, "publish %s as frame %llu over %s's partial frame",
			   latch ? "the newest complete circular-buffer copy" : "an all-zero frame",
			   (unsigned long long)cnt0 + 1, who);
		return;
	}
	void *frame = calloc(1, s->layout.data_size);
	int err = frame ? replacement(s, latch, frame, &from) : -ENOMEM;
	if (err)
		shmg__step(rc, err, "no complete frame to publish over %s's partial frame: %s",
			   who, shmg_strerror(err));
	else
		publish_over(rc, s, frame, latch, from, who);
	free(frame);
}

/* The write flag is set and no writer is recorded (an unmodified
 * ImageStreamIO writer never records itself): only if no process maps the
 * file is that writer known to be gone. */
static void recover_unrecorded(struct shmg__recovery *rc, struct shmg_isio *s)
{
	pid_t pids[16];
	size_t n;
	int err = shmg_proc_mappers(s->region->fd, pids, 16, &n);
	if (err && err != -EACCES) {
		shmg__step(rc, err, "the write flag is set, no writer is recorded, and /proc "
			   "cannot be read to tell whether one is mid-frame: %s", shmg_strerror(err));
		return;
	}
	if (n || err) {
		char who[160];
		size_t o = 0;
		for (size_t i = 0; i < n && i < 16 && o < sizeof(who); i++)
			o += (size_t)snprintf(who + o, sizeof(who) - o, "%sPID %d", i ? ", " : "",
					      (int)pids[i]);
		if (o < sizeof(who))
			snprintf(who + o, sizeof(who) - o, "%s%s", n ? "" : "no process that could "
				 "be examined", err ? " (the maps of some processes could not be read)" : "");
		shmg__step(rc, -EBUSY, "the write flag is set and no writer is recorded; the "
			   "file is mapped by %s, so a writer may be mid-frame", who);
		return;
	}
	republish(rc, s, 0, "the unrecorded writer");
}

static void recover_writer(struct shmg__recovery *rc, struct shmg_isio *s)
{
	int32_t owner = shmg_atomic_load(s->guard.owner, relaxed);
	bool mark = byte_load(s->guard.mark, acquire) != 0;
	if (owner < 0) {
		shmg__step(rc, SHMG_EGARBAGE, "ownerPID holds %d, which no writer writes", owner);
		return;
	}
	if (owner == 0) {
		if (mark)
			recover_unrecorded(rc, s);
		return;
	}
	if (shmg_proc_alive(owner, 0, 0) != SHMG_PROC_DEAD)
		return;
	char who[48];
	snprintf(who, sizeof(who), "dead writer PID %d", owner);
	if (mark) {
		republish(rc, s, owner, who);
		return;
	}
	/* CAS from the dead PID: a writer that claimed meanwhile keeps it. */
	if (shmg__dry_run(rc) || shmg_atomic_cmpxchg(s->guard.owner, owner, 0, acq_rel))
		shmg__step(rc, SHMG_RECOVERED, "clear the record of %s", who);
}

static void recover_slots(struct shmg__recovery *rc, struct shmg_isio *s)
{
	for (unsigned i = 0; i < s->layout.nsem; i++) {
		int32_t *word = isio_readpid(s, i);
		int32_t pid = shmg_atomic_load(word, relaxed);
		if (pid <= 0 || shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
			continue;
		/* CAS from the dead PID: a reader that claimed it meanwhile keeps it. */
		if (shmg__dry_run(rc) || shmg_atomic_cmpxchg(word, pid, -1, relaxed))
			shmg__step(rc, SHMG_RECOVERED, "free semaphore slot %u of dead reader PID %d",
				   i, pid);
	}
}

SHMG_EXPORT int shmg_isio_recover(struct shmg_isio *s, const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	if (!shmg__dry_run(&rc) && !shmg_region_writable(s->region))
		return shmg__fail(-EROFS, "the stream is mapped read-only: only a dry run "
				  "is possible");
	recover_writer(&rc, s);
	recover_slots(&rc, s);
	return rc.result;
}
