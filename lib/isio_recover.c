/*
 * ImageStreamIO streams: clearing what dead processes left
 * (shmg_isio_recover in include/shmguard/isio.h). Every step re-checks
 * atomically (claims and slot frees are CASes from the dead value), so a
 * process that comes back between the look and the step keeps what it has.
 * All or nothing: every step that can fail runs before the first change,
 * so a failure leaves the file as it was (tests/check_isio.c,
 * recover_failure_changes_nothing).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "pin_lock.h"
#include "proc_internal.h"
#include "recover.h"
#include "sem_words.h"
#include "testing.h"

/* What recovery will do about the writer, decided before anything
 * changes: every step that can fail is taken while planning. */
struct writer_plan {
	enum { W_NOTHING, W_CLEAR_RECORD, W_REPUBLISH } action;
	int32_t owner; /* the writer recorded (0: none) */
	char who[80];  /* "dead writer PID 812", for the report */
	bool latch;    /* the replacement is the newest complete copy */
	uint64_t from; /* that copy's frame number */
	void *frame;   /* the replacement frame (all zeros without latch) */
	bool finished; /* the take-over finished the dead writer's publish */
};

/* Damaged semaphores to reinitialise (at most 64 are tracked per call;
 * a second recover takes the rest). */
struct sem_plan {
	unsigned n;
	unsigned which[64];      /* nsem stands for the semlog */
	char why[64][160];
};

static sem_t *sem_at(const struct shmg_isio *s, unsigned k)
{
	if (k == s->layout.nsem)
		return (sem_t *)(void *)(isio_base(s) + s->layout.off_semlog);
	return isio_sem(s, k);
}

/* Prepare the replacement for a partial frame. 0, or a failure reported
 * (nothing changed). */
static int prepare_frame(struct shmg__recovery *rc, const struct shmg_isio *s,
			 struct writer_plan *w)
{
	int err = SHMG__TEST_FAIL(SHMG__FAIL_RECOVER_ALLOC);
	if (!err && !(w->frame = calloc(1, s->layout.data_size)))
		err = -ENOMEM;
	if (!err && w->latch) {
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		struct timespec deadline; /* a dead writer's latch never makes it wait */
		err = SHMG__TEST_FAIL(SHMG__FAIL_RECOVER_READ);
		if (!err)
			err = shmg_deadline_in(&deadline, 1000000000);
		if (!err)
			err = shmg_wflag_read(&s->latch, w->frame, NULL, s->layout.data_size,
					      &snap, &deadline);
		w->from = snap.frame;
	}
	if (err)
		shmg__step(rc, err, "preparing the frame to publish over %s's partial frame: %s; "
			   "nothing was changed", w->who, shmg_strerror(err));
	return err;
}

/* The writer left a partial frame: plan to publish a complete one over it,
 * as its successor. */
static int plan_republish(struct shmg__recovery *rc, const struct shmg_isio *s,
			  struct writer_plan *w)
{
	/* Only a guarded writer sequences the latch, and only a frame
	 * published once left a complete copy in it. */
	w->latch = s->has_latch && w->owner > 0 &&
		   shmg_atomic_load(s->guard.counter, relaxed) > 0;
	if (!w->latch && !(rc->opts.flags & SHMG_RECOVER_BLANK)) {
		shmg__step(rc, SHMG_EWRITERDEAD, "%s left a partial frame, and there is no "
			   "complete frame in a circular buffer written by the guard to restore "
			   "(--blank publishes an all-zero frame)", w->who);
		return 0;
	}
	w->action = W_REPUBLISH;
	return prepare_frame(rc, s, w);
}

/* "PID 1, PID 57" (and "and k more" past those listed), into buf. */
static void pid_list(char *buf, size_t len, const pid_t *pids, size_t listed, size_t total)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < listed && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%sPID %d", i ? ", " : "", (int)pids[i]);
	if (total > listed && o < len)
		snprintf(buf + o, len - o, " and %zu more", total - listed);
}

/* The write flag is set and no writer is recorded (an unmodified
 * ImageStreamIO writer never records itself): only if no process maps the
 * file is that writer known to be gone. Processes whose maps this caller
 * cannot read (another user's) count as mappers, unless the operator
 * states otherwise (SHMG_RECOVER_ASSUME_UNMAPPED). */
static int plan_unrecorded(struct shmg__recovery *rc, const struct shmg_isio *s,
			   struct writer_plan *w)
{
	pid_t pids[16];
	size_t n = 0;
	struct shmg__unreadable un = {.n = 0};
	int err = SHMG__TEST_FAIL(SHMG__FAIL_RECOVER_MAPPERS);
	if (!err)
		err = shmg__proc_mappers(s->region->fd, pids, 16, &n, &un);
	if (err && err != -EACCES) {
		shmg__step(rc, err, "the write flag is set, no writer is recorded, and /proc "
			   "cannot be read to tell whether one is mid-frame: %s; nothing was "
			   "changed", shmg_strerror(err));
		return err;
	}
	char list[160], hidden[160];
	pid_list(list, sizeof(list), pids, n < 16 ? n : 16, n);
	pid_list(hidden, sizeof(hidden), un.pids,
		 un.n < SHMG__UNREADABLE_MAX ? un.n : SHMG__UNREADABLE_MAX, un.n);
	if (n) {
		shmg__step(rc, -EBUSY, "the write flag is set and no writer is recorded; the "
			   "file is mapped by %s, so a writer may be mid-frame", list);
		return 0;
	}
	if (err) {
		const char *why = un.err == -EACCES ? "not this user's: reading them needs root, "
						      "their user or CAP_SYS_PTRACE"
						    : shmg_strerror(un.err);
		if (!(rc->opts.flags & SHMG_RECOVER_ASSUME_UNMAPPED)) {
			shmg__step(rc, -EBUSY, "the write flag is set and no writer is recorded; no "
				   "process whose maps could be read maps the file, but the maps of "
				   "%zu processes could not be read (%s; %s), so the writer may be one of them, "
				   "mid-frame. If none of them maps the file (its writer was killed), "
				   "--assume-unmapped (SHMG_RECOVER_ASSUME_UNMAPPED) with --blank "
				   "recovers without them", un.n, hidden, why);
			return 0;
		}
		shmg__step(rc, SHMG_RECOVERED, "assume, as the operator states "
			   "(SHMG_RECOVER_ASSUME_UNMAPPED), that none of the %zu processes whose "
			   "maps could not be read (%s; %s) maps the file", un.n, hidden, why);
	}
	snprintf(w->who, sizeof(w->who), "the unrecorded writer");
	return plan_republish(rc, s, w);
}

static int plan_writer(struct shmg__recovery *rc, const struct shmg_isio *s,
		       struct writer_plan *w)
{
	w->owner = shmg_atomic_load(s->guard.owner, relaxed);
	bool mark = byte_load(s->guard.mark, acquire) != 0;
	if (w->owner < 0) {
		shmg__step(rc, SHMG_EGARBAGE, "ownerPID holds %d, which no writer writes", w->owner);
		return 0;
	}
	if (w->owner == 0)
		return mark ? plan_unrecorded(rc, s, w) : 0;
	if (!shmg__counts_as_dead(rc, w->owner)) {
		/* A live writer mid-frame is at work, unless it does not map
		 * the file: then it did not set the flag by writing (a planted
		 * ownerPID, or a writer that unmapped the file mid-frame), as
		 * `shmguard inspect` flags it; only an operator can decide. */
		if (mark && shmg_proc_alive(w->owner, 0, 0) == SHMG_PROC_ALIVE &&
		    shmg_proc_maps(w->owner, s->region->fd) == 0)
			shmg__step(rc, -EBUSY, "the write flag is set and ownerPID names live "
				   "process %d, which does not map the file (a planted ownerPID, or "
				   "a writer that unmapped the file mid-frame); only an operator can "
				   "take it: force_pid %d (shmguard recover --force %d), at a risk "
				   "if that process is not stuck", (int)w->owner, (int)w->owner,
				   (int)w->owner);
		return 0;
	}
	shmg__who(rc, w->who, sizeof(w->who), "writer", w->owner);
	if (mark)
		return plan_republish(rc, s, w);
	w->action = W_CLEAR_RECORD;
	return 0;
}

static void plan_sems(const struct shmg_isio *s, struct sem_plan *p)
{
	p->n = 0;
	for (unsigned k = 0; k <= s->layout.nsem && p->n < 64; k++) {
		const char *what = k == s->layout.nsem ? "semlog" : "semaphore";
		if (shmg__sem_check(sem_at(s, k), what, k) == 0)
			continue;
		p->which[p->n] = k;
		snprintf(p->why[p->n], sizeof(p->why[0]), "%s", shmg_error_detail(SHMG_EGARBAGE));
		p->n++;
	}
}

/* Damaged semaphores (glibc would abort on them) become new ones, value 0:
 * a reader waiting on one could not have been woken anyway. */
static void apply_sems(struct shmg__recovery *rc, struct shmg_isio *s,
		       const struct sem_plan *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (!shmg__dry_run(rc))
			sem_init(sem_at(s, p->which[i]), 1, 0);
		shmg__step(rc, SHMG_RECOVERED, "reinitialise %s", p->why[i]);
	}
}

/* Take over as the writer: the one step of applying that can fail, so it
 * comes first. 0, or the failure reported (nothing changed). */
static int take_over(struct shmg__recovery *rc, struct shmg_isio *s,
		     struct writer_plan *w)
{
	if (w->action != W_REPUBLISH || shmg__dry_run(rc))
		return 0;
	int got = SHMG__TEST_FAIL(SHMG__FAIL_RECOVER_CLAIM);
	if (!got)
		got = shmg__wflag_take_over(s->has_latch ? &s->latch : &s->guard, w->owner,
					    &w->finished);
	if (got >= 0)
		return 0;
	shmg__step(rc, got, "taking over the stream from %s: %s; nothing was changed",
		   w->who, got == -EBUSY ? shmg_error_detail(got) : shmg_strerror(got));
	return got;
}

/* Write the replacement frame without ever waiting for readers' pins
 * (recovery must not hang): the pins of dead readers were cleared before
 * (apply_slots), so a copy pinned now is a live reader's, and the write
 * fails at once instead. 0, or the write's error. */
static int write_replacement(struct shmg_isio *s, const struct writer_plan *w, uint64_t *n)
{
	unsigned full = s->pin_full;
	s->pin_full = SHMG_WFLAG_FULL_DROP;
	int err = shmg_isio_write(s, w->frame, s->layout.data_size, n);
	s->pin_full = full;
	return err;
}

/* Publish the replacement (or see that the take-over completed the dead
 * writer's own publish), then hand the stream back. */
static void apply_writer(struct shmg__recovery *rc, struct shmg_isio *s,
			 const struct writer_plan *w)
{
	if (w->action == W_CLEAR_RECORD) {
		/* CAS from that PID: a writer that claimed meanwhile keeps it. */
		if (shmg__dry_run(rc) || shmg_atomic_cmpxchg(s->guard.owner, w->owner, 0, acq_rel))
			shmg__step(rc, SHMG_RECOVERED, "clear the record of %s", w->who);
		return;
	}
	if (w->action != W_REPUBLISH)
		return;
	uint64_t n = shmg_atomic_load(s->guard.counter, relaxed) + 1;
	bool orphan = shmg__dry_run(rc) ? s->has_latch && shmg__wflag_orphaned_copy(&s->latch) >= 0
					: w->finished;
	if (orphan) {
		/* It died inside publish, after numbering a complete copy
		 * (its pixels were written before): the take-over named it
		 * and moved the counter; what is left is the write flag and
		 * the posts. Writing a replacement now would publish an
		 * older frame over it. */
		if (!shmg__dry_run(rc)) {
			shmg_wflag_abort(&s->guard);
			shmg__isio_post_all(s);
		}
		shmg__step(rc, SHMG_RECOVERED, "complete %s's publish of frame %llu (numbered in "
			   "its circular-buffer copy, the counter not yet moved); write flag cleared",
			   w->who, (unsigned long long)(shmg__dry_run(rc) ? n : n - 1));
	} else if (!shmg__dry_run(rc) && !byte_load(s->guard.mark, acquire)) {
		shmg__step(rc, SHMG_RECOVERED, "complete %s's last publish", w->who);
	} else {
		int err = shmg__dry_run(rc) ? 0 : write_replacement(s, w, &n);
		if (err == -EAGAIN) {
			/* Nothing was written: the stream goes back to the dead
			 * writer's record, for a later recover. */
			struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
			shmg__wflag_hand_back(g, w->owner);
			shmg__step(rc, -EBUSY, "left alone: %s's partial frame: the replacement "
				   "could not be written (%s); the stream is as it was, run recover "
				   "again (once a reader unpins)", w->who, shmg_error_detail(err));
			return;
		}
		if (w->latch)
			shmg__step(rc, SHMG_RECOVERED, "publish frame %llu (a copy of complete "
				   "frame %llu) over %s's partial frame; write flag cleared",
				   (unsigned long long)n, (unsigned long long)w->from, w->who);
		else
			shmg__step(rc, SHMG_RECOVERED, "publish frame %llu, all zeros, over %s's "
				   "partial frame; write flag cleared", (unsigned long long)n, w->who);
	}
	if (!shmg__dry_run(rc))
		shmg_isio_release(s);
}

/* A pin in the slot of a live reader that holds no slot lock
 * (lib/pin_lock.h) is not that reader's: ImageStreamIO's own reader took
 * over a dead reader's slot with its pin, or the pin was planted. Revoked;
 * the slot stays its reader's. */
static void revoke_unlocked_pin(struct shmg__recovery *rc, struct shmg_isio *s, unsigned i,
				int32_t pid, int32_t pinned)
{
	if (pinned < 0 || pid <= 0 || !s->latch.npins ||
	    shmg__pin_lock_held(shmg_region_fd(s->region), shmg_region_base(s->region),
				isio_readpid(s, i)) != 0)
		return;
	if (!shmg__dry_run(rc) && !shmg__wflag_pin_reclaim(&s->latch, i, pid, false, NULL))
		return;
	shmg__step(rc, SHMG_RECOVERED, "revoke the pin of circular-buffer copy %d in semaphore "
		   "slot %u: its reader PID %d holds no pin lock, so the pin is not its own",
		   (int)pinned, i, (int)pid);
}

/* Is the reader of slot i gone? Its PID counts as dead (or the operator
 * named it), and it holds no slot lock (lib/pin_lock.h): a held lock is a
 * live reader of this library whatever its PID says here (one in another
 * PID namespace, whose PID names nobody, or somebody else, here), so only
 * force_pid takes its slot. */
static bool reader_gone(const struct shmg__recovery *rc, const struct shmg_isio *s,
			unsigned i, int32_t pid)
{
	if (!shmg__counts_as_dead(rc, pid))
		return false;
	return shmg__forced(rc, pid) ||
	       shmg__pin_lock_held(shmg_region_fd(s->region), shmg_region_base(s->region),
				   isio_readpid(s, i)) != 1;
}

static void apply_slots(struct shmg__recovery *rc, struct shmg_isio *s)
{
	for (unsigned i = 0; i < s->layout.nsem; i++) {
		int32_t *word = isio_readpid(s, i);
		int32_t pid = shmg_atomic_load(word, relaxed);
		int32_t pinned = s->has_latch ? shmg__wflag_pin_copy(&s->latch, i) : -1;
		/* A pin under a free or garbage owner word (no process can
		 * hold it) is cleared too. */
		bool ownerless = pid <= 0 && pinned >= 0 && s->latch.npins;
		if (!ownerless && !reader_gone(rc, s, i, pid)) {
			revoke_unlocked_pin(rc, s, i, pid, pinned);
			continue;
		}
		char who[80];
		if (ownerless)
			snprintf(who, sizeof(who), "no reader (owner word %d)", (int)pid);
		else
			shmg__who(rc, who, sizeof(who), "reader", pid);
		bool done;
		if (shmg__dry_run(rc))
			done = true;
		else if (s->has_latch && s->latch.npins)
			/* CAS from that PID to ours, the pin revoked, then free
			 * (doc/pin.md): a reader that claimed it meanwhile keeps
			 * it and its pin. Cannot fail once the CAS succeeded. */
			done = shmg__wflag_pin_reclaim(&s->latch, i, pid, true, &pinned);
		else /* CAS from that PID: a reader that claimed it meanwhile keeps it. */
			done = shmg_atomic_cmpxchg(word, pid, -1, relaxed);
		if (!done)
			continue;
		if (pinned >= 0)
			shmg__step(rc, SHMG_RECOVERED, "revoke the pin of circular-buffer copy %d in "
				   "semaphore slot %u of %s", (int)pinned, i, who);
		if (!ownerless || pid != -1)
			shmg__step(rc, SHMG_RECOVERED, "free semaphore slot %u of %s", i, who);
	}
}

SHMG_EXPORT int shmg_isio_recover(struct shmg_isio *s, const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	struct writer_plan w = {.action = W_NOTHING};
	struct sem_plan *sems;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	if (!shmg__dry_run(&rc) && !shmg_region_writable(s->region))
		return shmg__fail(-EROFS, "the stream is mapped read-only: only a dry run "
				  "is possible");
	if (!(sems = malloc(sizeof(*sems))))
		return -ENOMEM;
	/* One recovery at a time: a second would plan on what the first is
	 * changing (its take-over then fails), so it is told who holds the
	 * file instead. A dry run changes nothing and takes no lock. */
	if (!shmg__dry_run(&rc) && (err = shmg__recovery_lock(&rc, s->region->fd)) != 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s", shmg_error_detail(err));
		shmg__step(&rc, err, "%s", why);
		free(sems);
		return shmg__fail(err, "%s", why); /* the detail, whatever the report did */
	}
	/* All or nothing: plan every step (where all failures happen), then
	 * apply, taking over first (the one step that can still fail). */
	plan_sems(s, sems);
	err = plan_writer(&rc, s, &w);
	SHMG__TEST_POINT(SHMG__RECOVER_PLANNED);
	if (!err)
		err = take_over(&rc, s, &w);
	if (!err) {
		apply_sems(&rc, s, sems);
		apply_slots(&rc, s); /* first: dead readers' pins go */
		apply_writer(&rc, s, &w);
	}
	shmg__recovery_unlock(&rc);
	free(w.frame);
	free(sems);
	return err ? err : rc.result;
}
