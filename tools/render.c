/* Text and JSON views of a snapshot (render.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "render.h"

static const char *datatype_name(unsigned t)
{
	static const char *const names[] = {
		"?", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64",
		"int64", "float", "double", "complex-float", "complex-double", "half",
	};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

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

static double dt_of(const struct snapshot *prev, const struct snapshot *cur)
{
	return prev ? (double)(cur->t_ns - prev->t_ns) : 0.0;
}

/* " (12.3/s)" when there is a previous snapshot, else "". */
static const char *rate_text(char *buf, size_t len, uint64_t before, uint64_t after,
			     const struct snapshot *prev, const struct snapshot *cur)
{
	if (!prev)
		return "";
	snprintf(buf, len, " (%.1f/s)",
		 snapshot_rate(before, after, (uint64_t)dt_of(prev, cur)));
	return buf;
}

static void text_writer(FILE *out, const struct wflag_view *v)
{
	if (!v->has_owner)
		fprintf(out, "  writer      not recorded (no owner word)\n");
	else if (v->owner == 0)
		fprintf(out, "  writer      none recorded\n");
	else
		fprintf(out, "  writer      PID %d (%s)\n", v->owner,
			v->owner < 0 ? "garbage" : liveness_name(v->owner_alive));
}

static void text_isio(FILE *out, const struct snapshot *p, const struct snapshot *c)
{
	const struct shmg_isio_layout *l = &c->layout;
	char r[32];
	fprintf(out, "  stream      \"%s\", %u axes %ux%ux%u %s, %zu bytes of data\n", c->name,
		l->naxis, l->size[0], l->naxis > 1 ? l->size[1] : 1, l->naxis > 2 ? l->size[2] : 1,
		datatype_name(l->datatype), l->data_size);
	fprintf(out, "  frames      cnt0 %" PRIu64 "%s, cnt1 %" PRIu64 "\n", c->wflag.counter,
		rate_text(r, sizeof(r), p ? p->wflag.counter : 0, c->wflag.counter, p, c), c->cnt1);
	fprintf(out, "  write flag  %u (%s), waiters byte 0x%02x (%s)\n", c->wflag.mark,
		c->wflag.mark ? "a frame is being written" : "idle", c->waiters,
		c->waiters & 1 ? "a reader announced sleep; the next publish wakes" : "no sleeper");
	text_writer(out, &c->wflag);
	if (l->cbsize >= 2)
		fprintf(out, "  latch       %u circular-buffer copies, newest %u\n", l->cbsize, c->cbindex);
	fprintf(out, "  semaphores  %u, values", l->nsem);
	for (unsigned i = 0; i < c->nslots; i++)
		fprintf(out, " %d", c->slot[i].value);
	fprintf(out, "%s\n  readers    ", l->nsem > c->nslots ? " ..." : "");
	unsigned readers = 0;
	for (unsigned i = 0; i < c->nslots; i++) {
		const struct slot_view *s = &c->slot[i];
		if (s->reader > 0)
			fprintf(out, "%s slot %u PID %d (%s)", readers++ ? "," : "", i, s->reader,
				liveness_name(s->reader_alive));
	}
	fprintf(out, "%s\n", readers ? "" : " no slot claimed");
}

static void text_lock(FILE *out, const struct lock_view *v)
{
	fprintf(out, "    %s", v->what);
	if (strcmp(v->what, "status lock") != 0)
		fprintf(out, " %u", v->index);
	fprintf(out, " @%zu/%u: %s", v->offset, v->width, lock_state_name(v->info.state));
	if (v->info.owner_tid)
		fprintf(out, ", owner TID %d (%s)", (int)v->info.owner_tid,
			liveness_name(v->info.owner_alive));
	if (v->info.waiters)
		fprintf(out, ", waiters");
	if (v->info.state == SHMG_XLOCK_GARBAGE)
		fprintf(out, ", word 0x%" PRIx64, v->info.raw);
	if (strcmp(v->what, "parameter") == 0)
		fprintf(out, ", cnt0 %" PRId64, v->cnt0);
	fputc('\n', out);
}

void render_text(FILE *out, const char *path, const struct snapshot *p,
		 const struct snapshot *c)
{
	char r[32];
	fprintf(out, "%s: %s, %zu bytes\n", path, seg_kind_name(c->kind), c->size);
	switch (c->kind) {
	case SEG_ISIO:
		text_isio(out, p, c);
		break;
	case SEG_PINFO:
		fprintf(out, "  process     \"%s\", PID %d (%s), loop %s\n", c->name, c->pid,
			liveness_name(c->pid_alive), loopstat_name(c->loopstat));
		fprintf(out, "  loop        loopcnt %" PRId64 "%s, CTRLval %d (%s)\n", c->loopcnt,
			rate_text(r, sizeof(r), p ? (uint64_t)p->loopcnt : 0, (uint64_t)c->loopcnt, p, c),
			c->ctrl, ctrl_name(c->ctrl));
		fprintf(out, "  status      %d \"%s\"\n", c->statuscode, c->statusmsg);
		break;
	case SEG_FPS:
		fprintf(out, "  parameters  %u; updates %" PRIu64 "%s\n", c->nparam, c->cnt_sum,
			rate_text(r, sizeof(r), p ? p->cnt_sum : 0, c->cnt_sum, p, c));
		fprintf(out, "  locks       %u not unlocked: %u with a dead owner, %u broken\n",
			c->nheld, c->ndead, c->nbroken);
		break;
	case SEG_GENERIC:
		for (unsigned i = 0; i < c->n_wflag; i++) {
			const struct wflag_view *v = &c->wflags[i];
			fprintf(out, "  write flag @%zu: %u (%s), counter %" PRIu64 "%s\n", v->mark_offset,
				v->mark, v->mark ? "writing" : "idle", v->counter,
				rate_text(r, sizeof(r), p ? p->wflags[i].counter : 0, v->counter, p, c));
			text_writer(out, v);
		}
		break;
	}
	if (c->has_mappers) {
		char who[256];
		mappers_text(&c->mappers, who, sizeof(who));
		fprintf(out, "  mapped by   %s\n", who);
	}
	if (c->nlocks) {
		fprintf(out, "  locks\n");
		for (unsigned i = 0; i < c->nlocks; i++)
			text_lock(out, &c->locks[i]);
	}
	if (!c->nalerts)
		fprintf(out, "  alerts      none\n");
	for (unsigned i = 0; i < c->nalerts; i++)
		fprintf(out, "  %-11s %s\n", c->alerts[i].level == ALERT_PROBLEM ? "PROBLEM" : "note",
			c->alerts[i].text);
}

static void json_wflag(struct json *j, const struct wflag_view *v, const struct snapshot *p,
		       const struct wflag_view *pv, const struct snapshot *c)
{
	json_kuint(j, "mark_offset", v->mark_offset);
	json_kuint(j, "write_flag", v->mark);
	json_kuint(j, "counter", v->counter);
	if (p)
		json_knum(j, "rate_per_s", snapshot_rate(pv->counter, v->counter, (uint64_t)dt_of(p, c)));
	json_key(j, "writer");
	if (!v->has_owner || v->owner == 0) {
		json_str(j, NULL);
		return;
	}
	json_begin(j, '{');
	json_kint(j, "pid", v->owner);
	json_kstr(j, "liveness", v->owner < 0 ? "garbage" : liveness_name(v->owner_alive));
	json_end(j, '}');
}

static void json_lock(struct json *j, const struct lock_view *v)
{
	json_begin(j, '{');
	json_kstr(j, "what", v->what);
	json_kuint(j, "index", v->index);
	json_kuint(j, "offset", v->offset);
	json_kuint(j, "width", v->width);
	json_kstr(j, "state", lock_state_name(v->info.state));
	json_kint(j, "owner_tid", v->info.owner_tid);
	json_kstr(j, "owner_liveness", v->info.owner_tid ? liveness_name(v->info.owner_alive) : NULL);
	json_kbool(j, "waiters", v->info.waiters != 0);
	json_kuint(j, "raw", v->info.raw);
	if (strcmp(v->what, "parameter") == 0)
		json_kint(j, "cnt0", v->cnt0);
	json_end(j, '}');
}

static void json_isio(struct json *j, const struct snapshot *p, const struct snapshot *c)
{
	const struct shmg_isio_layout *l = &c->layout;
	json_kstr(j, "name", c->name);
	json_key(j, "size");
	json_begin(j, '[');
	for (unsigned i = 0; i < l->naxis; i++)
		json_uint(j, l->size[i]);
	json_end(j, ']');
	json_kstr(j, "datatype", datatype_name(l->datatype));
	json_kuint(j, "data_bytes", l->data_size);
	json_wflag(j, &c->wflag, p, p ? &p->wflag : NULL, c);
	json_kuint(j, "cnt1", c->cnt1);
	json_kuint(j, "waiters_byte", c->waiters);
	json_kuint(j, "cbsize", l->cbsize);
	json_kuint(j, "cbindex", c->cbindex);
	json_kuint(j, "nsem", l->nsem);
	json_key(j, "semaphores");
	json_begin(j, '[');
	for (unsigned i = 0; i < c->nslots; i++) {
		json_begin(j, '{');
		json_kuint(j, "slot", i);
		json_kint(j, "value", c->slot[i].value);
		json_kint(j, "reader_pid", c->slot[i].reader);
		json_kstr(j, "reader_liveness", c->slot[i].reader > 0 ? liveness_name(c->slot[i].reader_alive) : NULL);
		json_end(j, '}');
	}
	json_end(j, ']');
}

void render_json(struct json *j, const char *path, const struct snapshot *p,
		 const struct snapshot *c)
{
	json_begin(j, '{');
	json_kstr(j, "path", path);
	json_kstr(j, "kind", seg_kind_name(c->kind));
	json_kuint(j, "bytes", c->size);
	switch (c->kind) {
	case SEG_ISIO:
		json_isio(j, p, c);
		break;
	case SEG_PINFO:
		json_kstr(j, "name", c->name);
		json_kint(j, "pid", c->pid);
		json_kstr(j, "pid_liveness", liveness_name(c->pid_alive));
		json_kint(j, "loopcnt", c->loopcnt);
		if (p)
			json_knum(j, "loop_rate_per_s", snapshot_rate((uint64_t)p->loopcnt, (uint64_t)c->loopcnt,
								     (uint64_t)dt_of(p, c)));
		json_kint(j, "ctrlval", c->ctrl);
		json_kstr(j, "loopstat", loopstat_name(c->loopstat));
		json_kint(j, "statuscode", c->statuscode);
		json_kstr(j, "statusmsg", c->statusmsg);
		break;
	case SEG_FPS:
		json_kuint(j, "parameters", c->nparam);
		json_kuint(j, "updates", c->cnt_sum);
		if (p)
			json_knum(j, "update_rate_per_s", snapshot_rate(p->cnt_sum, c->cnt_sum, (uint64_t)dt_of(p, c)));
		json_kuint(j, "locks_not_unlocked", c->nheld);
		json_kuint(j, "locks_dead_owner", c->ndead);
		json_kuint(j, "locks_broken", c->nbroken);
		break;
	case SEG_GENERIC:
		json_key(j, "write_flags");
		json_begin(j, '[');
		for (unsigned i = 0; i < c->n_wflag; i++) {
			json_begin(j, '{');
			json_wflag(j, &c->wflags[i], p, p ? &p->wflags[i] : NULL, c);
			json_end(j, '}');
		}
		json_end(j, ']');
		break;
	}
	if (c->has_mappers) {
		json_key(j, "mapped_by");
		json_begin(j, '[');
		for (unsigned i = 0; i < c->mappers.n && i < MAPPERS_MAX; i++)
			json_int(j, c->mappers.pid[i]);
		json_end(j, ']');
		json_kuint(j, "mapped_by_count", c->mappers.n);
		json_kbool(j, "mapped_by_complete", c->mappers.complete);
	}
	json_key(j, "locks");
	json_begin(j, '[');
	for (unsigned i = 0; i < c->nlocks; i++)
		json_lock(j, &c->locks[i]);
	json_end(j, ']');
	json_key(j, "alerts");
	json_begin(j, '[');
	for (unsigned i = 0; i < c->nalerts; i++) {
		json_begin(j, '{');
		json_kstr(j, "level", c->alerts[i].level == ALERT_PROBLEM ? "problem" : "note");
		json_kstr(j, "text", c->alerts[i].text);
		json_end(j, '}');
	}
	json_end(j, ']');
	json_end(j, '}');
}
