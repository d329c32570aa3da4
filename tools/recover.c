/*
 * shmguard recover PATH...: clear what a dead process left behind, by the
 * guards' own rules: a write flag or writer record whose writer is dead, a
 * lock whose owner is dead, a semaphore slot of a dead reader. Nothing is
 * ever taken from a live owner: each step re-checks liveness atomically
 * (claim and lock recovery are CASes from the dead value), so a process
 * that comes back between the look and the step wins.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflag_internal.h"

#include "cli.h"
#include "mappers.h"
#include "snapshot.h"

static const char help[] =
	"usage: shmguard recover [OPTIONS] PATH...\n"
	"Safely clear what dead processes left in each segment; never touch what a\n"
	"live process holds. Per kind:\n"
	"  ImageStreamIO  a write flag left set by a dead writer: the newest complete\n"
	"                 frame in the circular buffer is published again as the next\n"
	"                 frame (readers never see the partial one); a dead writer's\n"
	"                 record is cleared; semaphore slots of dead readers are freed\n"
	"  milk PINFO/FPS a lock whose holder died is taken, repaired and released; a\n"
	"                 not-recoverable lock is reset\n"
	"  generic        a dead writer's record is cleared; locks with a dead owner are\n"
	"                 left for the next locker to repair (see --reset)\n\n"
	"  -n, --dry-run  say what would be done, change nothing\n"
	"  --blank        ImageStreamIO without a circular buffer kept by the guard (or\n"
	"                 a writer that never recorded itself, known gone because no\n"
	"                 process maps the file): the last complete frame is lost;\n"
	"                 publish an all-zero frame to clear the write flag\n"
	"  --reset        generic locks: clear a dead owner's or not-recoverable lock\n"
	"                 without repairing the data it protects\n"
	SEG_OPTIONS_HELP
	"  -h, --help     this text\n\n"
	"Exit status: 0 nothing is left to recover, 1 an error, 2 bad usage, 3 something\n"
	"was left alone that needs a person (reason printed).\n";

struct recover_ctx {
	const char *path;
	bool dry_run, blank, reset;
	int status;
};

static void did(struct recover_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void did(struct recover_ctx *c, const char *fmt, ...)
{
	va_list ap;
	printf("%s: %s", c->path, c->dry_run ? "would " : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void left(struct recover_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void left(struct recover_ctx *c, const char *fmt, ...)
{
	va_list ap;
	printf("%s: left alone: ", c->path);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (c->status == CLI_OK)
		c->status = CLI_ATTENTION;
}

static void failed(struct recover_ctx *c, const char *what, int err)
{
	cli_error("%s: %s: %s", c->path, what, shmg_strerror(err));
	c->status = CLI_ERROR;
}

static bool write_flag_set(const struct shmg_isio *s)
{
	return byte_load(s->guard.mark, acquire) != 0;
}

/* The writer died mid-frame (`who` names it): publish a complete frame over
 * its partial one, as its successor. */
static void republish(struct recover_ctx *c, struct shmg_isio *s, const struct wflag_view *v,
		      const char *who)
{
	bool latch = s->layout.cbsize >= 2 && v->owner > 0; /* only a guarded writer's latch */
	if (!latch && !c->blank) {
		left(c, "%s left a partial frame, and there is no circular buffer written by the guard to "
			"restore the last complete frame from (--blank publishes an all-zero frame)", who);
		return;
	}
	if (c->dry_run) {
		did(c, "publish %s as frame %llu over %s's partial frame",
		    latch ? "the newest complete circular-buffer copy" : "an all-zero frame",
		    (unsigned long long)v->counter + 1, who);
		return;
	}
	int got = shmg_isio_claim(s);
	if (got == -EBUSY) {
		left(c, "%s is alive again (a reused PID?), or another writer claimed the stream", who);
		return;
	}
	if (got < 0) {
		failed(c, "taking over the stream", got);
		return;
	}
	if (!write_flag_set(s)) { /* claim completed a publish cut short */
		did(c, "complete %s's last publish", who);
	} else {
		void *frame = calloc(1, s->layout.data_size);
		struct shmg_wflag_snap snap = {0};
		struct timespec deadline; /* the latch never waits; never hang anyway */
		int err = frame ? shmg_deadline_in(&deadline, 1000000000) : -ENOMEM;
		if (!err && latch)
			err = shmg_isio_read(s, frame, s->layout.data_size, &snap, &deadline);
		int64_t n = err ? err : shmg_isio_write(s, frame, s->layout.data_size);
		free(frame);
		if (n < 0) {
			shmg_isio_release(s);
			failed(c, "publishing the replacement frame", (int)n);
			return;
		}
		if (latch)
			did(c, "publish frame %llu (a copy of complete frame %llu) over %s's partial "
			       "frame; write flag cleared", (unsigned long long)n,
			    (unsigned long long)snap.frame, who);
		else
			did(c, "publish frame %llu, all zeros, over %s's partial frame; write flag "
			       "cleared", (unsigned long long)n, who);
	}
	shmg_isio_release(s);
}

/* The write flag is set and no writer is recorded (an unmodified
 * ImageStreamIO writer never records itself): only if no process maps the
 * file is that writer known to be gone. */
static void recover_unrecorded(struct recover_ctx *c, struct shmg_isio *s,
			       const struct snapshot *sn)
{
	char who[256];
	struct mappers m;
	int err = mappers_of(s->region.fd, &m);
	if (err) {
		left(c, "the write flag is set, no writer is recorded, and /proc cannot be read "
			"to tell whether one is mid-frame: %s", shmg_strerror(err));
		return;
	}
	mappers_text(&m, who, sizeof(who));
	if (m.n || !m.complete) {
		left(c, "the write flag is set and no writer is recorded; the file is mapped by %s, "
			"so a writer may be mid-frame", who);
		return;
	}
	republish(c, s, &sn->wflag, "the unrecorded writer");
}

static void recover_isio(struct recover_ctx *c, struct shmg_isio *s, const struct snapshot *sn)
{
	const struct wflag_view *v = &sn->wflag;
	if (v->owner < 0)
		left(c, "ownerPID holds %d, which no writer writes", v->owner);
	else if (v->owner > 0 && v->owner_alive == SHMG_PROC_DEAD && v->mark) {
		char who[48];
		snprintf(who, sizeof(who), "dead writer PID %d", v->owner);
		republish(c, s, v, who);
	}
	else if (v->owner > 0 && v->owner_alive == SHMG_PROC_DEAD) {
		if (c->dry_run)
			did(c, "clear the record of dead writer PID %d", v->owner);
		else {
			int got = shmg_isio_claim(s);
			if (got == -EBUSY)
				left(c, "writer PID %d is alive again (a reused PID?)", v->owner);
			else if (got < 0)
				failed(c, "clearing the writer record", got);
			else if (shmg_isio_release(s) == 0)
				did(c, "clear the record of dead writer PID %d", v->owner);
		}
	} else if (v->mark && v->owner == 0)
		recover_unrecorded(c, s, sn);
	for (unsigned i = 0; i < sn->nslots; i++) {
		int32_t pid = sn->slot[i].reader;
		if (sn->slot[i].reader_alive != SHMG_PROC_DEAD)
			continue;
		int32_t *word = (int32_t *)(void *)(s->region.base + s->layout.off_semreadpid) + i;
		/* CAS from the dead PID: a reader that claimed it meanwhile keeps it. */
		if (c->dry_run || shmg_atomic_cmpxchg(word, pid, -1, relaxed))
			did(c, "free semaphore slot %u of dead reader PID %d", i, pid);
	}
}

/* A milk lock: recovered through the client, which repairs what it knows. */
static void recover_milk_lock(struct recover_ctx *c, const struct lock_view *v,
			      struct segment *s)
{
	char what[40];
	if (strcmp(v->what, "parameter") == 0)
		snprintf(what, sizeof(what), "parameter %u's lock", v->index);
	else
		snprintf(what, sizeof(what), "the status lock");
	enum shmg_xlock_state st = v->info.state;
	if (st == SHMG_XLOCK_GARBAGE) {
		left(c, "%s holds 0x%llx, which no locker writes (another program's data?)", what,
		     (unsigned long long)v->info.raw);
		return;
	}
	if (st == SHMG_XLOCK_NOTRECOVERABLE) {
		struct shmg_xlock l;
		if (s->kind == SEG_PINFO)
			l = s->pinfo.lock;
		else
			shmg_fps_param_lock(&s->fps, v->index, &l);
		int err = c->dry_run ? 0 : shmg_xlock_reset(&l);
		if (err)
			failed(c, what, err);
		else
			did(c, "reset %s, which was not recoverable", what);
		return;
	}
	if (v->info.owner_alive != SHMG_PROC_DEAD)
		return; /* held by a live thread: nothing to recover */
	if (c->dry_run) {
		did(c, "recover %s from dead thread %d", what, (int)v->info.owner_tid);
		return;
	}
	int got = s->kind == SEG_PINFO ? shmg_pinfo_recover(&s->pinfo)
				       : shmg_fps_recover(&s->fps, v->index);
	if (got == 1)
		did(c, "recover %s from dead thread %d (repaired, released)", what,
		    (int)v->info.owner_tid);
	else if (got == -EBUSY)
		left(c, "%s is held by a live thread", what);
	else if (got < 0)
		failed(c, what, got);
}

static void recover_generic(struct recover_ctx *c, struct segment *s, const struct snapshot *sn)
{
	for (unsigned i = 0; i < sn->n_wflag; i++) {
		const struct wflag_view *v = &sn->wflags[i];
		if (v->owner_alive != SHMG_PROC_DEAD)
			continue;
		if (v->mark) {
			left(c, "write flag @%zu: writer PID %d died mid-frame; the tool does not know "
				"this region's data, so it cannot publish a complete frame",
			     v->mark_offset, v->owner);
			continue;
		}
		int got = c->dry_run ? 1 : shmg_wflag_claim(&s->wflag[i]);
		if (got >= 0 && !c->dry_run)
			shmg_wflag_release(&s->wflag[i]);
		if (got >= 0)
			did(c, "clear the record of dead writer PID %d at @%zu", v->owner, v->mark_offset);
		else
			left(c, "write flag @%zu: %s", v->mark_offset, shmg_strerror(got));
	}
	for (unsigned i = 0; i < sn->nlocks; i++) {
		const struct lock_view *v = &sn->locks[i];
		bool dead = (v->info.state == SHMG_XLOCK_HELD || v->info.state == SHMG_XLOCK_INCONSISTENT) &&
			    v->info.owner_alive == SHMG_PROC_DEAD;
		if (v->info.state == SHMG_XLOCK_GARBAGE)
			left(c, "lock @%zu holds 0x%llx, which no locker writes", v->offset,
			     (unsigned long long)v->info.raw);
		else if ((dead || v->info.state == SHMG_XLOCK_NOTRECOVERABLE) && !c->reset)
			left(c, "lock @%zu: %s; its next locker gets SHMG_EOWNERDEAD and repairs the "
				"data (--reset clears it without repair)", v->offset,
			     dead ? "the owner is dead" : "not recoverable");
		else if (dead || v->info.state == SHMG_XLOCK_NOTRECOVERABLE) {
			int err = c->dry_run ? 0 : shmg_xlock_reset(&s->xlock[v->index]);
			if (err == -EBUSY)
				left(c, "lock @%zu: its owner is alive", v->offset);
			else if (err)
				failed(c, "resetting a lock", err);
			else
				did(c, "reset lock @%zu (the data it protects was not repaired)", v->offset);
		}
	}
}

static void recover_one(struct recover_ctx *c, const struct seg_options *o)
{
	struct segment s;
	struct snapshot *sn = malloc(sizeof(*sn));
	if (!sn) {
		c->status = cli_error("out of memory");
		return;
	}
	if (seg_open(&s, c->path, o) != 0) {
		c->status = CLI_ERROR;
		free(sn);
		return;
	}
	if (!snapshot_take(&s, sn)) {
		c->status = cli_error("%s: %s", c->path, SNAPSHOT_SHRANK);
		seg_close(&s);
		free(sn);
		return;
	}
	switch (s.kind) {
	case SEG_ISIO:
		recover_isio(c, &s.isio, sn);
		break;
	case SEG_PINFO:
	case SEG_FPS:
		for (unsigned i = 0; i < sn->nlocks; i++)
			recover_milk_lock(c, &sn->locks[i], &s);
		if (sn->locks_omitted)
			left(c, "%u more parameter locks were not looked at; run recover again",
			     sn->locks_omitted);
		break;
	case SEG_GENERIC:
		recover_generic(c, &s, sn);
		break;
	}
	if (c->status == CLI_OK)
		printf("%s: %s\n", c->path, c->dry_run ? "dry run done" : "nothing (more) to recover");
	seg_close(&s);
	free(sn);
}

int cmd_recover(int argc, char **argv)
{
	struct seg_options o = {.writable = true};
	struct recover_ctx c = {0};
	int i, status = CLI_OK;

	for (i = 1; i < argc; i++) {
		int used;
		if (cli_is_help(argv[i])) {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if ((used = seg_parse_option(&o, "recover", &i, argc, argv)) < 0)
			return CLI_USAGE;
		if (used)
			continue;
		if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--dry-run") == 0)
			c.dry_run = true;
		else if (strcmp(argv[i], "--blank") == 0)
			c.blank = true;
		else if (strcmp(argv[i], "--reset") == 0)
			c.reset = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("recover", "unknown option '%s'", argv[i]);
		else
			break;
	}
	if (i >= argc)
		return cli_usage_error("recover", "no PATH given");
	o.writable = !c.dry_run;
	for (; i < argc; i++) {
		c.path = argv[i];
		c.status = CLI_OK;
		recover_one(&c, &o);
		if (c.status == CLI_ERROR || (c.status == CLI_ATTENTION && status == CLI_OK))
			status = c.status;
	}
	return status;
}
