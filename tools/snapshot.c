/* Readings of a segment's guard state, whatever its kind (kind.h). */
#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kind.h"

struct snapshot *snapshot_new(const struct segment *s)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));
	if (snap && !(snap->state = calloc(1, s->kind->state_size ? s->kind->state_size : 1))) {
		free(snap);
		snap = NULL;
	}
	return snap;
}

void snapshot_free(struct snapshot *snap)
{
	if (snap)
		free(snap->state);
	free(snap);
}

const char *liveness_name(int alive)
{
	return alive == SHMG_PROC_ALIVE ? "alive" : alive == SHMG_PROC_DEAD ? "dead"
		: alive == -ENOENT ? "none" : "unknown";
}

double snapshot_rate(uint64_t before, uint64_t after, const struct snapshot *prev,
		     const struct snapshot *cur)
{
	uint64_t dt = prev ? cur->t_ns - prev->t_ns : 0;
	return dt && after >= before ? (double)(after - before) * 1e9 / (double)dt : 0.0;
}

struct lock_view *snapshot_add_lock(struct snapshot *o, const struct shmg_xlock *l,
				    size_t offset, const char *type, unsigned index,
				    bool indexed, const char *what)
{
	if (o->nlocks == SNAP_MAX_LOCKS) {
		o->locks_omitted++;
		return NULL;
	}
	struct lock_view *v = &o->locks[o->nlocks++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->index = index;
	v->indexed = indexed;
	snprintf(v->what, sizeof(v->what), "%s", what);
	v->offset = offset;
	v->info.size = sizeof(v->info);
	shmg_xlock_inspect(l, &v->info);
	return v;
}

bool snapshot_take(const struct segment *s, struct snapshot *o)
{
	void *state = o->state;
	memset(state, 0, s->kind->state_size);
	memset(o, 0, sizeof(*o));
	o->state = state;
	o->t_ns = cli_now_ns();
	o->fd = shmg_region_fd(seg_region(s));
	o->kind = s->kind;
	o->size = shmg_region_size(seg_region(s));
	s->kind->read(s, o);
	/* Every segment is mapped with SHMG_REGION_TRUNCATION (segment.c): a
	 * file truncated under the mapping reads as zeros instead of killing
	 * the tool, on any thread; what was read is then not the file's. */
	return !shmg_region_truncated(seg_region(s));
}

void snapshot_mappers(const struct segment *s, struct snapshot *o)
{
	int err = shmg_proc_mappers(shmg_region_fd(seg_region(s)), o->mappers,
				    SNAP_MAX_MAPPERS, &o->nmappers);
	o->has_mappers = err == 0 || err == -EACCES;
	o->mappers_complete = err == 0;
}

static uint64_t stuck_ns = 5000000000u;

void snapshot_set_stuck(uint64_t ns)
{
	stuck_ns = ns;
}

struct holder_check snapshot_holder(const struct snapshot *o, uint64_t since_ns)
{
	return (struct holder_check){
		.fd = o->fd, .since_ns = since_ns, .now_ns = o->t_ns, .stuck_ns = stuck_ns,
	};
}

/* Since when lock v has had its holder: prev's time if prev saw the same
 * word at the same offset held, else now. */
static uint64_t lock_held_since(const struct snapshot *prev, const struct lock_view *v,
				uint64_t now_ns)
{
	for (unsigned i = 0; prev && i < prev->nlocks; i++) {
		const struct lock_view *p = &prev->locks[i];
		if (p->offset == v->offset && p->info.raw == v->info.raw)
			return p->held_since_ns;
	}
	return now_ns;
}

void snapshot_alerts(const struct snapshot *prev, struct snapshot *o)
{
	o->alerts.n = 0;
	if (o->kind->alerts)
		o->kind->alerts(prev, o);
	for (unsigned i = 0; i < o->nlocks; i++) {
		struct lock_view *v = &o->locks[i];
		v->held_since_ns = lock_held_since(prev, v, o->t_ns);
		struct holder_check h = snapshot_holder(o, v->held_since_ns);
		lock_alerts(&o->alerts, v->what, &v->info, &h);
	}
	if (o->locks_omitted)
		alert(&o->alerts, ALERT_NOTE, "%u more locks are not unlocked (not listed)",
		      o->locks_omitted);
}
