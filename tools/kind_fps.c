/* milk FPS files in the tool (kind.h): shmg_fps_* only. */
#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "kind.h"

struct fps_state {
	struct shmg_fps_info info;
	unsigned nheld, ndead, nbroken; /* locks held, dead owners, poisoned or garbage */
};

/* By size: a header of either layout and whole records (the library then
 * tells a size that fits both apart, or says why it cannot). */
static int recognise(const struct shmg_region *peek, const struct seg_options *o,
		     const char *path)
{
	size_t size = shmg_region_size(peek);
	(void)o;
	(void)path;
	return (size > SHMG_FPS_HEADER_2024 && (size - SHMG_FPS_HEADER_2024) % SHMG_FPS_RECORD_2024 == 0) ||
	       (size > SHMG_FPS_HEADER_NEW && (size - SHMG_FPS_HEADER_NEW) % SHMG_FPS_RECORD_NEW == 0);
}

static int open_fps(struct segment *s, const struct seg_options *o, unsigned flags)
{
	struct shmg_fps_opts fo = {.size = sizeof(fo), .layout = o->fps_layout};
	struct shmg_fps *h;
	int err = shmg_fps_open(&h, s->path, flags, &fo);
	if (err == SHMG_ELAYOUT && o->fps_layout == SHMG_FPS_AUTO)
		return cli_error("%s: %s; name one with --fps-layout 2024|new", s->path,
				 shmg_error_detail(err));
	if (err)
		return seg_error(s->path, err);
	s->h = h;
	return 0;
}

static void close_fps(struct segment *s)
{
	shmg_fps_close(s->h);
}

static const struct shmg_region *region(const struct segment *s)
{
	return shmg_fps_region(s->h);
}

/* The summary, and every parameter lock that is not unlocked. */
static void read_fps(const struct segment *s, struct snapshot *o)
{
	struct fps_state *st = o->state;
	st->info.size = sizeof(st->info);
	shmg_fps_inspect(s->h, &st->info);
	for (unsigned i = 0; i < st->info.nparam; i++) {
		struct shmg_xlock l;
		struct shmg_xlock_info info = {.size = sizeof(info)};
		shmg_fps_param_lock(s->h, i, &l);
		shmg_xlock_inspect(&l, &info);
		if (info.state == SHMG_XLOCK_UNLOCKED)
			continue;
		st->nheld++;
		if (info.state == SHMG_XLOCK_NOTRECOVERABLE || info.state == SHMG_XLOCK_GARBAGE)
			st->nbroken++;
		else if (info.owner_alive == SHMG_PROC_DEAD)
			st->ndead++;
		struct shmg_fps_param_info p = {.size = sizeof(p)};
		shmg_fps_inspect_param(s->h, i, &p);
		char what[40];
		snprintf(what, sizeof(what), "parameter %u's lock", i);
		struct lock_view *v = snapshot_add_lock(o, &l, p.lock_offset, "parameter", i, true, what);
		if (v) {
			v->has_cnt0 = true;
			v->cnt0 = p.cnt0;
		}
	}
}

static void text_fps(FILE *out, const struct snapshot *prev, const struct snapshot *c)
{
	const struct fps_state *st = c->state, *p = prev ? prev->state : NULL;
	char r[32];
	fprintf(out, "  parameters  %u; updates %" PRIu64 "%s\n", st->info.nparam, st->info.cnt_sum,
		rate_text(r, sizeof(r), p ? p->info.cnt_sum : 0, st->info.cnt_sum, prev, c));
	fprintf(out, "  locks       %u not unlocked: %u with a dead owner, %u broken\n",
		st->nheld, st->ndead, st->nbroken);
}

static void json_fps(struct json *j, const struct snapshot *prev, const struct snapshot *c)
{
	const struct fps_state *st = c->state, *p = prev ? prev->state : NULL;
	json_kuint(j, "parameters", st->info.nparam);
	json_kuint(j, "updates", st->info.cnt_sum);
	if (p)
		json_knum(j, "update_rate_per_s", snapshot_rate(p->info.cnt_sum, st->info.cnt_sum, prev, c));
	json_kuint(j, "locks_not_unlocked", st->nheld);
	json_kuint(j, "locks_dead_owner", st->ndead);
	json_kuint(j, "locks_broken", st->nbroken);
}

static int recover_fps(struct segment *s, const struct shmg_recover_opts *o, bool reset)
{
	(void)reset;
	return shmg_fps_recover(s->h, o);
}

const struct kind kind_fps = {
	.name = "milk-fps", .recognise = recognise, .open = open_fps,
	.close = close_fps, .region = region, .state_size = sizeof(struct fps_state),
	.read = read_fps, .text = text_fps, .json = json_fps, .recover = recover_fps,
};
