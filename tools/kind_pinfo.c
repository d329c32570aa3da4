/* milk PINFO files in the tool (kind.h): shmg_pinfo_* and, for the loop's
 * trigger and timing, shmg_loop_inspect. */
#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

static const char *mode_name(int m)
{
	static const char *const names[] = {"immediate", "cnt0", "cnt1", "semaphore", "delay",
					    "semaphore+timeouts", "cnt2"};
	return m >= 0 && m < 7 ? names[m] : "?";
}

static const char *trigger_status_name(int s)
{
	static const char *const names[] = {"never waited", "waiting", "received", "timed out"};
	return s >= 0 && s < 4 ? names[s] : "?";
}

/* What a PINFO snapshot holds: the file's state and its loop's. */
struct pinfo_state {
	struct shmg_pinfo_info pinfo;
	struct shmg_loop_info loop;
};

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
	struct pinfo_state *ps = o->state;
	struct shmg_pinfo_info *st = &ps->pinfo;
	struct shmg_xlock l;
	st->size = sizeof(*st);
	shmg_pinfo_inspect(s->h, st);
	ps->loop.size = sizeof(ps->loop);
	shmg_loop_inspect(s->h, &ps->loop);
	shmg_pinfo_status_lock(s->h, &l);
	snapshot_add_lock(o, &l, st->lock_offset, "status lock", 0, false, "the status lock");
}

static void text_ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
}

static void text_loop(FILE *out, const struct shmg_loop_info *lp)
{
	char a[32], b[32];
	fprintf(out, "  trigger     %s (%d)", mode_name(lp->mode), lp->mode);
	if (lp->input[0] && strcmp(lp->input, " ") != 0)
		fprintf(out, " on \"%s\" (inode %" PRIu64 ")", lp->input, lp->input_inode);
	if (lp->sem >= 0 && (lp->mode == 3 || lp->mode == 5))
		fprintf(out, ", slot %d", lp->sem);
	fprintf(out, ", cnt %" PRIu64 ", %s\n", lp->cnt, trigger_status_name(lp->status));
	fprintf(out, "  missed      %d at the last wait, %" PRIu64 " in total; timeouts %" PRIu64 "\n",
		lp->missed, lp->missed_total, lp->timeouts);
	if (lp->loopcnt_max > 0)
		fprintf(out, "  limit       loopcntMax %" PRId64 "\n", lp->loopcnt_max);
	if (lp->samples) {
		text_ms(a, sizeof(a), lp->iter_median_ns);
		text_ms(b, sizeof(b), lp->exec_median_ns);
		fprintf(out, "  timing      iteration %s, execution %s (medians, %u samples, %" PRIu64
			" iterations)\n", a, b, lp->samples, lp->iterations);
	} else {
		fprintf(out, "  timing      no samples\n");
	}
}

static void text_pinfo(FILE *out, const struct snapshot *prev, const struct snapshot *c)
{
	const struct pinfo_state *ps = c->state, *pp = prev ? prev->state : NULL;
	const struct shmg_pinfo_info *st = &ps->pinfo, *p = pp ? &pp->pinfo : NULL;
	char r[32];
	fprintf(out, "  process     \"%s\", PID %d (%s), loop %s\n", st->name, st->pid,
		liveness_name(st->pid_alive), loopstat_name(st->loopstat));
	fprintf(out, "  loop        loopcnt %" PRId64 "%s, CTRLval %d (%s)\n", st->loopcnt,
		rate_text(r, sizeof(r), p ? (uint64_t)p->loopcnt : 0, (uint64_t)st->loopcnt, prev, c),
		st->ctrl, ctrl_name(st->ctrl));
	fprintf(out, "  status      %d \"%s\"\n", st->statuscode, st->statusmsg);
	text_loop(out, &ps->loop);
}

static void json_loop(struct json *j, const struct shmg_loop_info *lp)
{
	json_key(j, "trigger");
	json_begin(j, '{');
	json_kstr(j, "mode", mode_name(lp->mode));
	json_kint(j, "mode_id", lp->mode);
	json_kstr(j, "input", lp->input);
	json_kuint(j, "input_inode", lp->input_inode);
	json_kint(j, "sem", lp->sem);
	json_kuint(j, "cnt", lp->cnt);
	json_kstr(j, "status", trigger_status_name(lp->status));
	json_kint(j, "missed", lp->missed);
	json_kuint(j, "missed_total", lp->missed_total);
	json_kuint(j, "timeouts", lp->timeouts);
	json_end(j, '}');
	json_kint(j, "loopcnt_max", lp->loopcnt_max);
	json_key(j, "timing");
	json_begin(j, '{');
	json_kuint(j, "iterations", lp->iterations);
	json_kuint(j, "samples", lp->samples);
	json_kuint(j, "iter_median_ns", lp->iter_median_ns);
	json_kuint(j, "exec_median_ns", lp->exec_median_ns);
	json_end(j, '}');
}

static void json_pinfo(struct json *j, const struct snapshot *prev, const struct snapshot *c)
{
	const struct pinfo_state *ps = c->state, *pp = prev ? prev->state : NULL;
	const struct shmg_pinfo_info *st = &ps->pinfo, *p = pp ? &pp->pinfo : NULL;
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
	json_loop(j, &ps->loop);
}

static int recover_pinfo(struct segment *s, const struct shmg_recover_opts *o, bool reset)
{
	(void)reset;
	return shmg_pinfo_recover(s->h, o);
}

const struct kind kind_pinfo = {
	.name = "milk-pinfo", .recognise = recognise, .open = open_pinfo,
	.close = close_pinfo, .region = region, .state_size = sizeof(struct pinfo_state),
	.read = read_pinfo, .text = text_pinfo, .json = json_pinfo, .recover = recover_pinfo,
};
