/* Text and JSON views of a snapshot: the parts every kind shares (kind.h). */
#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kind.h"

static const char *lock_state_name(uint32_t st)
{
	switch ((enum shmg_xlock_state)st) {
	case SHMG_XLOCK_UNLOCKED: return "unlocked";
	case SHMG_XLOCK_HELD: return "held";
	case SHMG_XLOCK_INCONSISTENT: return "inconsistent";
	case SHMG_XLOCK_NOTRECOVERABLE: return "not-recoverable";
	case SHMG_XLOCK_GARBAGE: return "garbage";
	}
	return "?";
}

const char *rate_text(char *buf, size_t len, uint64_t before, uint64_t after,
		      const struct snapshot *prev, const struct snapshot *cur)
{
	if (!prev)
		return "";
	snprintf(buf, len, " (%.1f/s)", snapshot_rate(before, after, prev, cur));
	return buf;
}

void text_writer(FILE *out, const struct shmg_wflag_info *v)
{
	if (!(v->parts & SHMG_WFLAG_OWNER))
		fprintf(out, "  writer      not recorded (no owner word)\n");
	else if (v->owner == 0)
		fprintf(out, "  writer      none recorded\n");
	else
		fprintf(out, "  writer      PID %d (%s)\n", v->owner,
			v->owner < 0 ? "garbage" : liveness_name(v->owner_alive));
}

void json_writer(struct json *j, const struct shmg_wflag_info *v)
{
	json_key(j, "writer");
	if (!(v->parts & SHMG_WFLAG_OWNER) || v->owner == 0) {
		json_str(j, NULL);
		return;
	}
	json_begin(j, '{');
	json_kint(j, "pid", v->owner);
	json_kstr(j, "liveness", v->owner < 0 ? "garbage" : liveness_name(v->owner_alive));
	json_end(j, '}');
}

static void text_lock(FILE *out, const struct lock_view *v)
{
	fprintf(out, "    %s", v->type);
	if (v->indexed)
		fprintf(out, " %u", v->index);
	fprintf(out, " @%zu/%u: %s", v->offset, v->info.width, lock_state_name(v->info.state));
	if (v->info.owner_tid)
		fprintf(out, ", owner TID %d (%s)", (int)v->info.owner_tid,
			liveness_name(v->info.owner_alive));
	if (v->info.waiters)
		fprintf(out, ", waiters");
	if (v->info.state == SHMG_XLOCK_GARBAGE)
		fprintf(out, ", word 0x%" PRIx64, v->info.raw);
	if (v->has_cnt0)
		fprintf(out, ", cnt0 %" PRId64, v->cnt0);
	fputc('\n', out);
}

static void text_mappers(FILE *out, const struct snapshot *c)
{
	fprintf(out, "  mapped by   ");
	for (size_t i = 0; i < c->nmappers && i < SNAP_MAX_MAPPERS; i++)
		fprintf(out, "%sPID %d", i ? ", " : "", (int)c->mappers[i]);
	if (c->nmappers > SNAP_MAX_MAPPERS)
		fprintf(out, " and %zu more", c->nmappers - SNAP_MAX_MAPPERS);
	if (c->nmappers == 0)
		fprintf(out, c->mappers_complete ? "no other process" : "no process that could be examined");
	if (!c->mappers_complete)
		fprintf(out, " (the maps of some processes could not be read)");
	fputc('\n', out);
}

void render_text(FILE *out, const char *path, const struct snapshot *p,
		 const struct snapshot *c)
{
	fprintf(out, "%s: %s, %zu bytes\n", path, c->kind->name, c->size);
	c->kind->text(out, p, c);
	if (c->has_mappers)
		text_mappers(out, c);
	if (c->nlocks) {
		fprintf(out, "  locks\n");
		for (unsigned i = 0; i < c->nlocks; i++)
			text_lock(out, &c->locks[i]);
	}
	if (!c->alerts.n)
		fprintf(out, "  alerts      none\n");
	for (unsigned i = 0; i < c->alerts.n; i++)
		fprintf(out, "  %-11s %s\n", c->alerts.a[i].level == ALERT_PROBLEM ? "PROBLEM" : "note",
			c->alerts.a[i].text);
}

static void json_lock(struct json *j, const struct lock_view *v)
{
	json_begin(j, '{');
	json_kstr(j, "what", v->type);
	json_kuint(j, "index", v->index);
	json_kuint(j, "offset", v->offset);
	json_kuint(j, "width", v->info.width);
	json_kstr(j, "state", lock_state_name(v->info.state));
	json_kint(j, "owner_tid", v->info.owner_tid);
	json_kstr(j, "owner_liveness", v->info.owner_tid ? liveness_name(v->info.owner_alive) : NULL);
	json_kbool(j, "waiters", v->info.waiters != 0);
	json_kuint(j, "raw", v->info.raw);
	if (v->has_cnt0)
		json_kint(j, "cnt0", v->cnt0);
	json_end(j, '}');
}

static void json_tail(struct json *j, const struct snapshot *c)
{
	if (c->has_mappers) {
		json_key(j, "mapped_by");
		json_begin(j, '[');
		for (size_t i = 0; i < c->nmappers && i < SNAP_MAX_MAPPERS; i++)
			json_int(j, c->mappers[i]);
		json_end(j, ']');
		json_kuint(j, "mapped_by_count", c->nmappers);
		json_kbool(j, "mapped_by_complete", c->mappers_complete);
	}
	json_key(j, "locks");
	json_begin(j, '[');
	for (unsigned i = 0; i < c->nlocks; i++)
		json_lock(j, &c->locks[i]);
	json_end(j, ']');
	json_key(j, "alerts");
	json_begin(j, '[');
	for (unsigned i = 0; i < c->alerts.n; i++) {
		json_begin(j, '{');
		json_kstr(j, "level", c->alerts.a[i].level == ALERT_PROBLEM ? "problem" : "note");
		json_kstr(j, "text", c->alerts.a[i].text);
		json_end(j, '}');
	}
	json_end(j, ']');
}

void render_json(struct json *j, const char *path, const struct snapshot *p,
		 const struct snapshot *c)
{
	json_begin(j, '{');
	json_kstr(j, "path", path);
	json_kstr(j, "kind", c->kind->name);
	json_kuint(j, "bytes", c->size);
	c->kind->json(j, p, c);
	json_tail(j, c);
	json_end(j, '}');
}
