/* milk PINFO files in the tool (kind.h): shmg_pinfo_* only. */
#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "kind.h"

static const char *ctrl_name(int c)
{
	switch (c) {
	case SHMG_PINFO_RUN: return "run";
	case SHMG_PINFO_PAUSE: return "pause";
	case SHMG_PINFO_STEP: return "step";
	case SHMG_PINFO_EXIT: return "exit";
	case SHMG_PINFO_SPIN: return "spin";
	}
	return "?";
}

static const char *loopstat_name(int s)
{
	static const char *const names[] = {"init", "active", "pause", "stop", "error", "spin", "crashed"};
	return s >= 0 && s < 7 ? names[s] : "?";
}

/* By size: PINFO files have no magic number (doc/milk.md). */
static int recognise(const struct shmg_region *peek, const struct seg_options *o,
		     const char *path)
{
	size_t size = shmg_region_size(peek);
	(void)o;
	(void)path;
	return size == SHMG_PINFO_SIZE_2024 || size == SHMG_PINFO_SIZE_NEW;
}

static int open_pinfo(struct segment *s, const struct seg_options *o, unsigned flags)
{
	struct shmg_pinfo *h;
	(void)o;
	int err = shmg_pinfo_open(&h, s->path, flags);
	if (err)
		return seg_error(s->path, err);
	s->h = h;
	return 0;
}

static void close_pinfo(struct segment *s)
{
	shmg_pinfo_close(s->h);
}

static const struct shmg_region *region(const struct segment *s)
{
	return shmg_pinfo_region(s->h);
}

static void read_pinfo(const struct segment *s, struct snapshot *o)
{
	struct shmg_pinfo_info *st = o->state;
	struct shmg_xlock l;
	st->size = sizeof(*st);
	shmg_pinfo_inspect(s->h, st);
	shmg_pinfo_status_lock(s->h, &l);
	snapshot_add_lock(o, &l, st->lock_offset, "status lock", 0, false, "the status lock");
}

static void text_pinfo(FILE *out, const struct snapshot *prev, const struct snapshot *c)
{
	const struct shmg_pinfo_info *st = c->state, *p = prev ? prev->state : NULL;
	char r[32];
	fprintf(out, "  process     \"%s\", PID %d (%s), loop %s\n", st->name, st->pid,
		liveness_name(st->pid_alive), loopstat_name(st->loopstat));
	fprintf(out, "  loop        loopcnt %" PRId64 "%s, CTRLval %d (%s)\n", st->loopcnt,
		rate_text(r, sizeof(r), p ? (uint64_t)p->loopcnt : 0, (uint64_t)st->loopcnt, prev, c),
		st->ctrl, ctrl_name(st->ctrl));
	fprintf(out, "  status      %d \"%s\"\n", st->statuscode, st->statusmsg);
}

static void json_pinfo(struct json *j, const struct snapshot *prev, const struct snapshot *c)
{
	const struct shmg_pinfo_info *st = c->state, *p = prev ? prev->state : NULL;
	json_kstr(j, "name", st->name);
	json_kint(j, "pid", st->pid);
	json_kstr(j, "pid_liveness", liveness_name(st->pid_alive));
	json_kint(j, "loopcnt", st->loopcnt);
	if (p)
		json_knum(j, "loop_rate_per_s",
			  snapshot_rate((uint64_t)p->loopcnt, (uint64_t)st->loopcnt, prev, c));
	json_kint(j, "ctrlval", st->ctrl);
	json_kstr(j, "loopstat", loopstat_name(st->loopstat));
	json_kint(j, "statuscode", st->statuscode);
	json_kstr(j, "statusmsg", st->statusmsg);
}

static int recover_pinfo(struct segment *s, const struct shmg_recover_opts *o, bool reset)
{
	(void)reset;
	return shmg_pinfo_recover(s->h, o);
}

const struct kind kind_pinfo = {
	.name = "milk-pinfo", .recognise = recognise, .open = open_pinfo,
	.close = close_pinfo, .region = region, .state_size = sizeof(struct shmg_pinfo_info),
	.read = read_pinfo, .text = text_pinfo, .json = json_pinfo, .recover = recover_pinfo,
};
