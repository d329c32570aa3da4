/* ImageStreamIO streams in the tool (kind.h): shmg_isio_* only. */
#define _GNU_SOURCE

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kind.h"

#define SLOTS_SHOWN 64 /* semaphore slots shown (nsem may be larger) */

struct isio_state {
	struct shmg_isio_layout layout;
	struct shmg_isio_info info;
	struct shmg_wflag_info guard; /* write, cnt0, ownerPID, as the alerts want them */
	unsigned nslots;
	struct shmg_isio_slot_info slot[SLOTS_SHOWN];
	uint64_t flag_since_ns; /* since when the same writer holds the flag */
};

static const char *datatype_name(unsigned t)
{
	static const char *const names[] = {
		"?", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
		"int64", "float", "double", "complex-float", "complex-double", "half",
	};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* The version string of an ImageStreamIO file: "d.dd" NUL-terminated. */
static int recognise(const struct shmg_region *peek, const struct seg_options *o,
		     const char *path)
{
	const unsigned char *head = shmg_region_base(peek);
	(void)o;
	if (shmg_region_size(peek) < 384)
		return 0;
	for (int i = 0; i < 32 && head[i]; i++)
		if (!isdigit(head[i]) && head[i] != '.')
			return 0;
	if (!memchr(head, 0, 32) || !isdigit(head[0]) || head[1] != '.')
		return 0;
	if (strcmp((const char *)head, SHMG_ISIO_VERSION) != 0) {
		cli_error("%s: an ImageStreamIO stream of version %s; only %s is understood",
			  path, (const char *)head, SHMG_ISIO_VERSION);
		return -1;
	}
	return 1;
}

static int open_isio(struct segment *s, const struct seg_options *o, unsigned flags)
{
	struct shmg_isio *h;
	(void)o;
	int err = shmg_isio_open(&h, s->path, flags);
	if (err == SHMG_ELAYOUT)
		return cli_error("%s: a damaged ImageStreamIO %s stream: %s", s->path,
				 SHMG_ISIO_VERSION, shmg_error_detail(err));
	if (err)
		return seg_error(s->path, err);
	s->h = h;
	return 0;
}

static void close_isio(struct segment *s)
{
	shmg_isio_close(s->h);
}

static const struct shmg_region *region(const struct segment *s)
{
	return shmg_isio_region(s->h);
}

static void read_isio(const struct segment *s, struct snapshot *o)
{
	struct isio_state *st = o->state;
	st->layout.size = sizeof(st->layout);
	st->info.size = sizeof(st->info);
	shmg_isio_get_layout(s->h, &st->layout);
	shmg_isio_inspect(s->h, &st->info);
	st->guard = (struct shmg_wflag_info){
		.size = sizeof(st->guard), .parts = SHMG_WFLAG_OWNER | SHMG_WFLAG_WAITERS,
		.mark = st->info.write, .waiters = st->info.waiters, .counter = st->info.cnt0,
		.owner = st->info.owner_pid, .owner_alive = st->info.owner_alive,
	};
	st->nslots = st->layout.nsem < SLOTS_SHOWN ? st->layout.nsem : SLOTS_SHOWN;
	for (unsigned i = 0; i < st->nslots; i++) {
		st->slot[i].size = sizeof(st->slot[i]);
		shmg_isio_inspect_slot(s->h, i, &st->slot[i]);
	}
}

/* A pin on a frame this many frames behind cnt0 has been held for many
 * frame periods: a reader stopped (SIGSTOP, Ctrl-Z) or stuck. */
#define PIN_HELD_FRAMES 8

static void pin_alerts(struct alerts *a, const struct isio_state *st, unsigned i)
{
	const struct shmg_isio_slot_info *v = &st->slot[i];
	if (v->pin_copy < 0)
		return;
	if (v->reader > 0 && v->reader_alive == SHMG_PROC_ALIVE && v->pin_locked == 0)
		alert(a, ALERT_PROBLEM, "circular-buffer copy %d is pinned in semaphore slot %u, "
		      "whose reader PID %d holds no pin lock: that reader did not pin it (a slot "
		      "ImageStreamIO's own reader took over, or a pin planted in the file); "
		      "recover revokes it", v->pin_copy, i, v->reader);
	if (st->info.cnt0 > v->pin_frame + PIN_HELD_FRAMES)
		alert(a, ALERT_PROBLEM, "circular-buffer copy %d is pinned in semaphore slot %u "
		      "on frame %llu, %llu frames behind cnt0: held for many frame periods (a "
		      "reader stopped or stuck); the writer revokes it when it needs the copy",
		      v->pin_copy, i, (unsigned long long)v->pin_frame,
		      (unsigned long long)(st->info.cnt0 - v->pin_frame));
}

static void alerts_isio(const struct snapshot *prev, struct snapshot *o)
{
	struct isio_state *st = o->state;
	const struct isio_state *p = prev ? prev->state : NULL;
	bool nobody = o->has_mappers && o->mappers_complete && o->nmappers == 0;
	st->flag_since_ns = wflag_held_since(p ? &p->guard : NULL, p ? p->flag_since_ns : 0,
					     &st->guard, o->t_ns);
	struct holder_check h = snapshot_holder(o, st->flag_since_ns);
	wflag_alerts(&o->alerts, p ? &p->guard : NULL, &st->guard,
		     prev ? o->t_ns - prev->t_ns : 0, nobody, &h);
	if (st->layout.cbsize >= 2 && st->info.cbindex >= st->layout.cbsize)
		alert(&o->alerts, ALERT_PROBLEM, "CBindex %u is outside the %u-copy circular buffer",
		      st->info.cbindex, st->layout.cbsize);
	for (unsigned i = 0; i < st->nslots; i++) {
		if (st->slot[i].reader_alive == SHMG_PROC_DEAD)
			alert(&o->alerts, ALERT_NOTE, "semaphore slot %u is held by dead reader PID %d",
			      i, st->slot[i].reader);
		if (st->slot[i].pin_copy >= 0 && st->slot[i].reader_alive != SHMG_PROC_ALIVE)
			alert(&o->alerts, ALERT_NOTE, "circular-buffer copy %d is pinned by slot %u, "
			      "whose reader is not alive: the writer or recover reclaims it",
			      st->slot[i].pin_copy, i);
		pin_alerts(&o->alerts, st, i);
		if (st->slot[i].damaged)
			alert(&o->alerts, ALERT_PROBLEM, "semaphore %u is damaged (glibc would abort "
			      "on it): writers skip it, its reader gets nothing; recover "
			      "reinitialises it", i);
	}
	if (st->info.semlog_damaged)
		alert(&o->alerts, ALERT_PROBLEM, "the semlog semaphore is damaged (glibc would "
		      "abort on it): writers skip it; recover reinitialises it");
}

static void text_readers(FILE *out, const struct isio_state *st)
{
	fprintf(out, "  semaphores  %u, values", st->layout.nsem);
	for (unsigned i = 0; i < st->nslots; i++)
		fprintf(out, " %d", st->slot[i].value);
	fprintf(out, "%s\n  readers    ", st->layout.nsem > st->nslots ? " ..." : "");
	unsigned readers = 0;
	for (unsigned i = 0; i < st->nslots; i++) {
		if (st->slot[i].reader > 0)
			fprintf(out, "%s slot %u PID %d (%s)", readers++ ? "," : "", i,
				st->slot[i].reader, liveness_name(st->slot[i].reader_alive));
		else if (st->slot[i].pin_copy >= 0)
			fprintf(out, "%s slot %u free", readers++ ? "," : "", i);
		if (st->slot[i].pin_copy >= 0)
			fprintf(out, " pins copy %d", st->slot[i].pin_copy);
	}
	fprintf(out, "%s\n", readers ? "" : " no slot claimed");
}

static void text_isio(FILE *out, const struct snapshot *prev, const struct snapshot *c)
{
	const struct isio_state *st = c->state, *p = prev ? prev->state : NULL;
	const struct shmg_isio_layout *l = &st->layout;
	char r[32];
	fprintf(out, "  stream      \"%s\", %u axes %ux%ux%u %s, %zu bytes of data\n", st->info.name,
		l->naxis, l->dims[0], l->naxis > 1 ? l->dims[1] : 1, l->naxis > 2 ? l->dims[2] : 1,
		datatype_name(l->datatype), l->data_size);
	fprintf(out, "  frames      cnt0 %" PRIu64 "%s, cnt1 %" PRIu64 "\n", st->info.cnt0,
		rate_text(r, sizeof(r), p ? p->info.cnt0 : 0, st->info.cnt0, prev, c), st->info.cnt1);
	fprintf(out, "  write flag  %u (%s), waiters byte 0x%02x (%s)\n", st->info.write,
		st->info.write ? "a frame is being written" : "idle", st->info.waiters,
		st->info.waiters & 1 ? "a reader announced sleep; the next publish wakes" : "no sleeper");
	text_writer(out, &st->guard);
	if (st->info.writer_kind == SHMG_ISIO_WRITER_LEGACY)
		fprintf(out, "  writer kind legacy writer (it does not keep the guard's circular-buffer "
			"records): guarded readers read the single buffer and poll\n");
	if (l->cbsize >= 2)
		fprintf(out, "  latch       %u circular-buffer copies, newest %u\n", l->cbsize,
			st->info.cbindex);
	text_readers(out, st);
}

static void json_isio(struct json *j, const struct snapshot *prev, const struct snapshot *c)
{
	const struct isio_state *st = c->state, *p = prev ? prev->state : NULL;
	const struct shmg_isio_layout *l = &st->layout;
	json_kstr(j, "name", st->info.name);
	json_key(j, "size");
	json_begin(j, '[');
	for (unsigned i = 0; i < l->naxis; i++)
		json_uint(j, l->dims[i]);
	json_end(j, ']');
	json_kstr(j, "datatype", datatype_name(l->datatype));
	json_kuint(j, "data_bytes", l->data_size);
	json_kuint(j, "mark_offset", 288);
	json_kuint(j, "write_flag", st->info.write);
	json_kuint(j, "counter", st->info.cnt0);
	if (p)
		json_knum(j, "rate_per_s", snapshot_rate(p->info.cnt0, st->info.cnt0, prev, c));
	json_writer(j, &st->guard);
	json_kstr(j, "writer_kind", st->info.writer_kind == SHMG_ISIO_WRITER_GUARDED ? "guarded"
		  : st->info.writer_kind == SHMG_ISIO_WRITER_LEGACY ? "legacy" : "unknown");
	json_kuint(j, "cnt1", st->info.cnt1);
	json_kuint(j, "waiters_byte", st->info.waiters);
	json_kuint(j, "cbsize", l->cbsize);
	json_kuint(j, "cbindex", st->info.cbindex);
	json_kuint(j, "nsem", l->nsem);
	json_key(j, "semaphores");
	json_begin(j, '[');
	for (unsigned i = 0; i < st->nslots; i++) {
		const struct shmg_isio_slot_info *v = &st->slot[i];
		json_begin(j, '{');
		json_kuint(j, "slot", i);
		json_kint(j, "value", v->value);
		json_kbool(j, "damaged", v->damaged);
		json_kint(j, "reader_pid", v->reader);
		json_kstr(j, "reader_liveness", v->reader > 0 ? liveness_name(v->reader_alive) : NULL);
		json_kint(j, "pin_copy", v->pin_copy);
		json_kuint(j, "pin_frame", v->pin_frame);
		json_kint(j, "pin_locked", v->pin_locked);
		json_kbool(j, "pin_revoked", v->pin_revoked);
		json_end(j, '}');
	}
	json_end(j, ']');
}

static int recover_isio(struct segment *s, const struct shmg_recover_opts *o, bool reset)
{
	(void)reset;
	return shmg_isio_recover(s->h, o);
}

static bool write_flag(const struct snapshot *c, uint64_t *counter)
{
	const struct isio_state *st = c->state;
	*counter = st->info.cnt0;
	return st->info.write != 0;
}

static uint64_t counter(const struct segment *s)
{
	return shmg_isio_counter(s->h);
}

static int wait_isio(const struct segment *s, uint64_t after, uint64_t *now,
		     const struct timespec *deadline)
{
	return shmg_isio_wait(s->h, after, now, deadline);
}

const struct kind kind_isio = {
	.name = "imagestreamio", .recognise = recognise, .open = open_isio,
	.close = close_isio, .region = region, .state_size = sizeof(struct isio_state),
	.read = read_isio, .alerts = alerts_isio, .text = text_isio, .json = json_isio,
	.recover = recover_isio, .write_flag = write_flag, .counter = counter, .wait = wait_isio,
};
