/*
 * Generic regions in the tool (kind.h): guards the user placed with
 * --wflag and --xlock, through shmg_wflag_* and shmg_xlock_* only.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "kind.h"

struct generic {
	struct shmg_region *region;
	unsigned n_wflag, n_xlock;
	struct shmg_wflag *wflag[SEG_MAX_GUARDS];
	struct shmg_xlock xlock[SEG_MAX_GUARDS];
	size_t xlock_offset[SEG_MAX_GUARDS];
};

struct generic_state {
	unsigned n_wflag;
	struct shmg_wflag_info wflag[SEG_MAX_GUARDS];
	uint64_t flag_since_ns[SEG_MAX_GUARDS]; /* since when the same writer holds it */
};

static void close_generic(struct segment *s)
{
	struct generic *g = s->h;
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_wflag; i++)
		shmg_wflag_free(g->wflag[i]);
	shmg_region_close(g->region);
	free(g);
	s->h = NULL;
}

/* The guards the options place: each refused with the library's reason. */
static int place(struct segment *s, struct generic *g, const struct seg_options *o)
{
	size_t size = shmg_region_size(g->region);
	for (unsigned i = 0; i < o->n_wflag; i++, g->n_wflag++) {
		struct shmg_wflag_place p = {
			.size = sizeof(p), .parts = o->wflag[i].has_owner ? SHMG_WFLAG_OWNER : 0,
			.mark = o->wflag[i].mark, .counter = o->wflag[i].counter,
			.owner = o->wflag[i].owner,
		};
		int err = shmg_wflag_new(&g->wflag[i], g->region, &p);
		if (err)
			return cli_error("%s: --wflag %zu,%zu: %s (the file has %zu bytes)", s->path,
					 p.mark, p.counter, shmg_error_detail(err), size);
	}
	for (unsigned i = 0; i < o->n_xlock; i++, g->n_xlock++) {
		int err = shmg_xlock_init(&g->xlock[i], g->region, o->xlock[i].offset, o->xlock[i].width);
		if (err)
			return cli_error("%s: --xlock %zu,%u: %s (the file has %zu bytes)", s->path,
					 o->xlock[i].offset, o->xlock[i].width, shmg_error_detail(err),
					 size);
		g->xlock_offset[i] = o->xlock[i].offset;
	}
	return 0;
}

static int open_generic(struct segment *s, const struct seg_options *o, unsigned flags)
{
	struct generic *g = calloc(1, sizeof(*g));
	if (!g)
		return cli_error("out of memory");
	s->h = g;
	int err = shmg_region_open(&g->region, s->path, flags);
	if (err) {
		close_generic(s);
		return seg_error(s->path, err);
	}
	if (place(s, g, o) != 0) {
		close_generic(s);
		return CLI_ERROR;
	}
	return 0;
}

static const struct shmg_region *region(const struct segment *s)
{
	return ((const struct generic *)s->h)->region;
}

static void read_generic(const struct segment *s, struct snapshot *o)
{
	const struct generic *g = s->h;
	struct generic_state *st = o->state;
	st->n_wflag = g->n_wflag;
	for (unsigned i = 0; i < g->n_wflag; i++) {
		st->wflag[i].size = sizeof(st->wflag[i]);
		shmg_wflag_inspect(g->wflag[i], &st->wflag[i]);
	}
	for (unsigned i = 0; i < g->n_xlock; i++) {
		char what[40];
		snprintf(what, sizeof(what), "lock at offset %zu", g->xlock_offset[i]);
		snapshot_add_lock(o, &g->xlock[i], g->xlock_offset[i], "xlock", i, true, what);
	}
}

static void alerts_generic(const struct snapshot *prev, struct snapshot *o)
{
	struct generic_state *st = o->state;
	const struct generic_state *p = prev ? prev->state : NULL;
	bool nobody = o->has_mappers && o->mappers_complete && o->nmappers == 0;
	for (unsigned i = 0; i < st->n_wflag; i++) {
		st->flag_since_ns[i] = wflag_held_since(p ? &p->wflag[i] : NULL,
							p ? p->flag_since_ns[i] : 0,
							&st->wflag[i], o->t_ns);
		struct holder_check h = snapshot_holder(o, st->flag_since_ns[i]);
		wflag_alerts(&o->alerts, p ? &p->wflag[i] : NULL, &st->wflag[i],
			     prev ? o->t_ns - prev->t_ns : 0, nobody, &h);
	}
}

static void text_generic(FILE *out, const struct snapshot *prev, const struct snapshot *c)
{
	const struct generic_state *st = c->state, *p = prev ? prev->state : NULL;
	char r[32];
	for (unsigned i = 0; i < st->n_wflag; i++) {
		const struct shmg_wflag_info *v = &st->wflag[i];
		fprintf(out, "  write flag @%zu: %u (%s), counter %" PRIu64 "%s\n", v->mark_offset,
			v->mark, v->mark ? "writing" : "idle", v->counter,
			rate_text(r, sizeof(r), p ? p->wflag[i].counter : 0, v->counter, prev, c));
		text_writer(out, v);
	}
}

static void json_generic(struct json *j, const struct snapshot *prev, const struct snapshot *c)
{
	const struct generic_state *st = c->state, *p = prev ? prev->state : NULL;
	json_key(j, "write_flags");
	json_begin(j, '[');
	for (unsigned i = 0; i < st->n_wflag; i++) {
		const struct shmg_wflag_info *v = &st->wflag[i];
		json_begin(j, '{');
		json_kuint(j, "mark_offset", v->mark_offset);
		json_kuint(j, "write_flag", v->mark);
		json_kuint(j, "counter", v->counter);
		if (p)
			json_knum(j, "rate_per_s", snapshot_rate(p->wflag[i].counter, v->counter, prev, c));
		json_writer(j, v);
		json_end(j, '}');
	}
	json_end(j, ']');
}

/* Each step goes to the report; `left` says a lock was left alone. */
static void say(const struct shmg_recover_opts *o, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct shmg_recover_opts *o, int result, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o->report(o->report_arg, result, text);
}

/* The library's report of a lock step, with the lock's offset first. */
struct lock_report {
	const struct shmg_recover_opts *o;
	size_t offset;
};

static void report_lock(void *arg, int result, const char *text)
{
	const struct lock_report *r = arg;
	say(r->o, result, "lock @%zu: %s", r->offset, text);
}

/* A dead owner's lock is left for its next locker unless --reset. */
static int recover_lock(const struct generic *g, unsigned i, const struct shmg_recover_opts *opts,
			bool reset)
{
	struct lock_report r = {opts, g->xlock_offset[i]};
	struct shmg_recover_opts own = *opts, *o = &own;
	own.report = report_lock;
	own.report_arg = &r;
	struct shmg_xlock_info info = {.size = sizeof(info)};
	shmg_xlock_inspect(&g->xlock[i], &info);
	bool dead = (info.state == SHMG_XLOCK_HELD || info.state == SHMG_XLOCK_INCONSISTENT) &&
		    info.owner_alive == SHMG_PROC_DEAD;
	if (info.state == SHMG_XLOCK_GARBAGE || (!dead && info.state != SHMG_XLOCK_NOTRECOVERABLE))
		return shmg_xlock_recover(&g->xlock[i], o); /* garbage: said there; else nothing */
	if (!reset) {
		say(o, -EBUSY, "%s; its next locker gets SHMG_OWNERDEAD and repairs the data "
		    "(--reset clears it without repair)", dead ? "the owner is dead" : "not recoverable");
		return -EBUSY;
	}
	return shmg_xlock_recover(&g->xlock[i], o);
}

static int recover_generic(struct segment *s, const struct shmg_recover_opts *o, bool reset)
{
	const struct generic *g = s->h;
	int result = 0;
	for (unsigned i = 0; i < g->n_wflag + g->n_xlock; i++) {
		int got = i < g->n_wflag ? shmg_wflag_recover(g->wflag[i], o)
					 : recover_lock(g, i - g->n_wflag, o, reset);
		if (got == -ENOTSUP)
			continue; /* a write flag with no owner word: no dead writer to tell */
		if (got < 0 && result >= 0)
			result = got;
		else if (got == SHMG_RECOVERED && result == 0)
			result = got;
	}
	return result;
}

const struct kind kind_generic = {
	.name = "generic", .open = open_generic, .close = close_generic,
	.region = region, .state_size = sizeof(struct generic_state),
	.read = read_generic, .alerts = alerts_generic, .text = text_generic,
	.json = json_generic, .recover = recover_generic,
};
