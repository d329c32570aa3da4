/*
 * shmguard recover PATH...: clear what a dead process left behind, by the
 * guards' own rules: a write flag or writer record whose writer is dead, a
 * lock whose owner is dead, a semaphore slot of a dead reader. Nothing is
 * taken from a live owner, unless an operator names it (--force PID). The work is the library's (each kind's
 * *_recover); this prints each step it reports.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kind.h"
#include "options.h"

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
	"  --assume-unmapped  ImageStreamIO, a writer that never recorded itself: you\n"
	"                 state that no process whose /proc/PID/maps you cannot read\n"
	"                 (another user's) maps the file, i.e. the writer was killed.\n"
	"                 If it is still writing, its readers get a torn frame. With\n"
	"                 --blank, once recover named the processes it could not read\n"
	"  --reset        generic locks: clear a dead owner's or not-recoverable lock\n"
	"                 without repairing the data it protects\n"
	"  --force PID    treat process PID as dead although it runs: take what it holds\n"
	"                 (a lock, a write flag, a writer record, a semaphore slot).\n"
	"                 RISK: if PID is not really stuck it goes on writing into what\n"
	"                 it no longer owns (torn frames, a lost update). Use it only\n"
	"                 for a process you know is hung or was planted (inspect alerts\n"
	"                 on locks and write flags held too long)\n"
	SEG_OPTIONS_HELP
	"  -h, --help     this text\n\n"
	"Exit status: 0 nothing is left to recover, 1 an error, 2 bad usage, 3 something\n"
	"was left alone that needs a person (reason printed).\n";

struct recover_ctx {
	const char *path;
	int status;
};

/* Left alone for a person (exit 3), as opposed to failed (exit 1). */
static bool left_alone(int result)
{
	return result == -EBUSY || result == SHMG_EGARBAGE || result == SHMG_EWRITERDEAD ||
	       result == SHMG_ENOTRECOVERABLE;
}

static void report(void *arg, int result, const char *text)
{
	struct recover_ctx *c = arg;
	if (result >= 0) {
		printf("%s: %s\n", c->path, text);
	} else if (left_alone(result)) {
		printf("%s: left alone: %s\n", c->path, text);
		if (c->status == CLI_OK)
			c->status = CLI_ATTENTION;
	} else {
		cli_error("%s: %s", c->path, text);
		c->status = CLI_ERROR;
	}
}

static void recover_one(struct recover_ctx *c, const struct seg_options *o, uint32_t flags,
			bool reset, int32_t force_pid)
{
	struct segment s;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = flags, .report = report, .report_arg = c,
		.force_pid = force_pid,
	};
	if (seg_open(&s, c->path, o) != 0) {
		c->status = CLI_ERROR;
		return;
	}
	int got = s.kind->recover(&s, &ro, reset);
	if (got < 0 && c->status == CLI_OK) /* failed before any step was said */
		report(c, got, shmg_error_detail(got));
	if (c->status == CLI_OK)
		printf("%s: %s\n", c->path, flags & SHMG_RECOVER_DRY_RUN ? "dry run done"
									 : "nothing (more) to recover");
	seg_close(&s);
}

int cmd_recover(int argc, char **argv)
{
	struct seg_options o = {0};
	bool dry_run = false, blank = false, reset = false, assume_unmapped = false;
	uint64_t force = 0;
	const struct opt opts[] = {
		{"--dry-run", "-n", OPT_FLAG, &dry_run, 0, 0, NULL},
		{"--blank", NULL, OPT_FLAG, &blank, 0, 0, NULL},
		{"--assume-unmapped", NULL, OPT_FLAG, &assume_unmapped, 0, 0, NULL},
		{"--reset", NULL, OPT_FLAG, &reset, 0, 0, NULL},
		{"--force", NULL, OPT_NUMBER, &force, 1, INT32_MAX, "a process ID"},
		{NULL, NULL, OPT_FLAG, NULL, 0, 0, NULL},
	};
	int i, status = CLI_OK;
	int got = opt_parse("recover", help, opts, &o, argc, argv, &i);
	if (got != OPT_GO_ON)
		return got;
	if (i >= argc)
		return cli_usage_error("recover", "no PATH given");
	o.writable = !dry_run;
	uint32_t flags = (dry_run ? SHMG_RECOVER_DRY_RUN : 0) | (blank ? SHMG_RECOVER_BLANK : 0) |
			 (assume_unmapped ? SHMG_RECOVER_ASSUME_UNMAPPED : 0);
	for (; i < argc; i++) {
		struct recover_ctx c = {.path = argv[i], .status = CLI_OK};
		recover_one(&c, &o, flags, reset, (int32_t)force);
		if (c.status == CLI_ERROR || (c.status == CLI_ATTENTION && status == CLI_OK))
			status = c.status;
	}
	return status;
}
