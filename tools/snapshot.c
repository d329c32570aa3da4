/* Reading a segment's guard state without touching it (snapshot.h). */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "isio_layout.h"
#include "milk_internal.h"
#include "wflag_internal.h"

#include "cli.h"
#include "snapshot.h"

const char *lock_state_name(enum shmg_xlock_state st)
{
	switch (st) {
	case SHMG_XLOCK_UNLOCKED: return "unlocked";
	case SHMG_XLOCK_HELD: return "held";
	case SHMG_XLOCK_INCONSISTENT: return "inconsistent";
	case SHMG_XLOCK_NOTRECOVERABLE: return "not-recoverable";
	case SHMG_XLOCK_GARBAGE: return "garbage";
	}
	return "?";
}

const char *liveness_name(int alive)
{
	return alive == SHMG_PROC_ALIVE ? "alive" : alive == SHMG_PROC_DEAD ? "dead"
		: alive == -ENOENT ? "none" : "unknown";
}

double snapshot_rate(uint64_t before, uint64_t after, uint64_t dt_ns)
{
	return dt_ns && after >= before ? (double)(after - before) * 1e9 / (double)dt_ns : 0.0;
}

/* A PID word's liveness: PIDs alone (no start time), so a reused PID looks
 * alive: never the unsafe direction. -ENOENT: no PID recorded. */
static int pid_alive(int32_t pid)
{
	return pid > 0 ? shmg_proc_alive(pid, 0, 0) : -ENOENT;
}

static void read_wflag(const struct shmg_wflag *g, size_t mark_offset, struct wflag_view *v)
{
	v->mark_offset = mark_offset;
	v->mark = byte_load(g->mark, relaxed);
	v->counter = shmg_atomic_load(g->counter, relaxed);
	v->has_owner = g->owner != NULL;
	v->owner = g->owner ? shmg_atomic_load(g->owner, relaxed) : 0;
	v->owner_alive = pid_alive(v->owner);
}

static void add_lock(struct snapshot *o, const struct shmg_xlock *l, const char *what,
		     unsigned index, const unsigned char *base, int64_t cnt0)
{
	if (o->nlocks == SNAP_MAX_LOCKS) {
		o->locks_omitted++;
		return;
	}
	struct lock_view *v = &o->locks[o->nlocks++];
	v->what = what;
	v->index = index;
	v->offset = (size_t)((const unsigned char *)l->word - base);
	v->width = l->width;
	v->cnt0 = cnt0;
	shmg_xlock_inspect(l, &v->info);
}

/* Copy a string field that may be unterminated or change under us. */
static void copy_field(char *dst, const unsigned char *src, size_t n)
{
	shmg_atomic_load_memcpy(dst, src, n - 1, relaxed);
	dst[n - 1] = 0;
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

static void take_isio(const struct shmg_isio *s, struct snapshot *o)
{
	const unsigned char *b = s->region.base;
	const struct shmg_isio_layout *l = &s->layout;

	o->layout = *l;
	copy_field(o->name, b + ISIO_NAME, sizeof(o->name));
	read_wflag(&s->guard, ISIO_WRITE, &o->wflag);
	o->waiters = byte_load((uint8_t *)(uintptr_t)(b + ISIO_WAITERS), relaxed);
	o->cnt1 = shmg_atomic_load((const uint64_t *)(const void *)(b + ISIO_CNT1), relaxed);
	o->cbindex = shmg_atomic_load((const uint32_t *)(const void *)(b + ISIO_CBINDEX), relaxed);
	o->creator = shmg_atomic_load((const int32_t *)(const void *)(b + ISIO_CREATORPID), relaxed);
	o->nslots = l->nsem < SNAP_MAX_SLOTS ? l->nsem : SNAP_MAX_SLOTS;
	for (unsigned i = 0; i < o->nslots; i++) {
		sem_t *sem = (sem_t *)(void *)(s->region.base + l->off_sem + i * ISIO_SEM_T_SIZE);
		const int32_t *rd = (const int32_t *)(const void *)(b + l->off_semreadpid) + i;
		struct slot_view *v = &o->slot[i];
		if (sem_getvalue(sem, &v->value) != 0)
			v->value = -1;
		v->reader = shmg_atomic_load(rd, relaxed);
		v->reader_alive = pid_alive(v->reader);
	}
}

static void take_pinfo(const struct shmg_pinfo *p, struct snapshot *o)
{
	const unsigned char *b = p->region.base;
	copy_field(o->name, b + PINFO_NAME, sizeof(o->name));
	o->pid = shmg_atomic_load((const int32_t *)(const void *)(b + PINFO_PID), relaxed);
	o->pid_alive = pid_alive(o->pid);
	o->ctrl = shmg_atomic_load((const int32_t *)(const void *)(b + PINFO_CTRLVAL), relaxed);
	o->loopstat = shmg_atomic_load((const int32_t *)(const void *)(b + PINFO_LOOPSTAT), relaxed);
	o->statuscode = shmg_atomic_load((const int32_t *)(const void *)(b + PINFO_STATUSCODE), relaxed);
	o->loopcnt = shmg_atomic_load((const int64_t *)(const void *)(b + PINFO_LOOPCNT), relaxed);
	copy_field(o->statusmsg, b + PINFO_STATUSMSG, sizeof(o->statusmsg));
	add_lock(o, &p->lock, "status lock", 0, b, 0);
}

static void take_fps(const struct shmg_fps *f, struct snapshot *o)
{
	o->nparam = f->nparam;
	for (unsigned i = 0; i < f->nparam; i++) {
		struct shmg_xlock l;
		struct shmg_xlock_info info;
		const unsigned char *rec = f->region.base + f->header + (size_t)i * f->record;
		int64_t cnt = shmg_atomic_load((const int64_t *)(const void *)(rec + FPS_CNT0), relaxed);
		o->cnt_sum += (uint64_t)cnt;
		shmg_fps_param_lock(f, i, &l);
		shmg_xlock_inspect(&l, &info);
		if (info.state == SHMG_XLOCK_UNLOCKED)
			continue;
		o->nheld++;
		if (info.state == SHMG_XLOCK_NOTRECOVERABLE || info.state == SHMG_XLOCK_GARBAGE)
			o->nbroken++;
		else if (info.owner_alive == SHMG_PROC_DEAD)
			o->ndead++;
		add_lock(o, &l, "parameter", i, f->region.base, cnt);
	}
}

/* A file that another process truncates under our mapping raises SIGBUS
 * on the next read past its new end: report it, do not crash. Per thread,
 * so a fault elsewhere keeps its default action. */
static __thread sigjmp_buf *bus_escape;

static void on_sigbus(int sig)
{
	if (bus_escape)
		siglongjmp(*bus_escape, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void take(const struct segment *s, struct snapshot *o);

bool snapshot_take(const struct segment *s, struct snapshot *o)
{
	static bool installed;
	sigjmp_buf env;
	if (!installed) {
		struct sigaction sa = {.sa_handler = on_sigbus};
		sigaction(SIGBUS, &sa, NULL);
		installed = true;
	}
	if (sigsetjmp(env, 1)) {
		bus_escape = NULL;
		return false;
	}
	bus_escape = &env;
	take(s, o);
	bus_escape = NULL;
	return true;
}

static void take(const struct segment *s, struct snapshot *o)
{
	memset(o, 0, sizeof(*o));
	o->t_ns = cli_now_ns();
	o->kind = s->kind;
	o->size = seg_region(s)->size;
	switch (s->kind) {
	case SEG_ISIO:
		take_isio(&s->isio, o);
		break;
	case SEG_PINFO:
		take_pinfo(&s->pinfo, o);
		break;
	case SEG_FPS:
		take_fps(&s->fps, o);
		break;
	case SEG_GENERIC:
		o->n_wflag = s->n_wflag;
		for (unsigned i = 0; i < s->n_wflag; i++)
			read_wflag(&s->wflag[i], (size_t)(s->wflag[i].mark - s->region.base),
				   &o->wflags[i]);
		for (unsigned i = 0; i < s->n_xlock; i++)
			add_lock(o, &s->xlock[i], "xlock", i, s->region.base, 0);
		break;
	}
}

void snapshot_mappers(const struct segment *s, struct snapshot *o)
{
	o->has_mappers = mappers_of(seg_region(s)->fd, &o->mappers) == 0;
}

static void alert(struct snapshot *o, enum alert_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void alert(struct snapshot *o, enum alert_level level, const char *fmt, ...)
{
	va_list ap;
	if (o->nalerts == SNAP_MAX_ALERTS)
		return;
	struct alert *a = &o->alerts[o->nalerts++];
	a->level = level;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
}

static void wflag_alerts(const struct wflag_view *p, const struct wflag_view *v,
			 uint64_t dt_ns, struct snapshot *o)
{
	bool nobody_maps = o->has_mappers && o->mappers.complete && o->mappers.n == 0;
	if (v->has_owner && v->owner < 0)
		alert(o, ALERT_PROBLEM, "the writer word holds %d, which no writer writes", v->owner);
	else if (v->mark && v->owner_alive == SHMG_PROC_DEAD)
		alert(o, ALERT_PROBLEM, "write flag stuck: writer PID %d died mid-frame %llu",
		      v->owner, (unsigned long long)v->counter + 1);
	else if (v->owner_alive == SHMG_PROC_DEAD)
		alert(o, ALERT_PROBLEM, "writer PID %d is dead: no frame will come", v->owner);
	else if (v->mark && v->owner <= 0 && nobody_maps)
		alert(o, ALERT_PROBLEM, "write flag stuck: no process maps the file, so its writer "
		      "is gone mid-frame %llu", (unsigned long long)v->counter + 1);
	else if (v->mark && v->owner <= 0 && p && p->mark && p->counter == v->counter)
		alert(o, ALERT_PROBLEM,
		      "write flag set for %.0f ms with no frame published and no writer recorded",
		      (double)dt_ns / 1e6);
}

static void lock_alerts(const struct lock_view *v, struct snapshot *o)
{
	char where[48];
	if (strcmp(v->what, "parameter") == 0)
		snprintf(where, sizeof(where), "parameter %u's lock", v->index);
	else if (strcmp(v->what, "xlock") == 0)
		snprintf(where, sizeof(where), "lock at offset %zu", v->offset);
	else
		snprintf(where, sizeof(where), "the %s", v->what);
	switch (v->info.state) {
	case SHMG_XLOCK_UNLOCKED:
		break;
	case SHMG_XLOCK_HELD:
	case SHMG_XLOCK_INCONSISTENT:
		if (v->info.owner_alive == SHMG_PROC_DEAD)
			alert(o, ALERT_PROBLEM, "%s is held by dead thread %d", where,
			      (int)v->info.owner_tid);
		else if (v->info.state == SHMG_XLOCK_INCONSISTENT)
			alert(o, ALERT_NOTE, "%s: thread %d is repairing after an owner died", where,
			      (int)v->info.owner_tid);
		break;
	case SHMG_XLOCK_NOTRECOVERABLE:
		alert(o, ALERT_PROBLEM, "%s is not recoverable (an owner died and nobody repaired)", where);
		break;
	case SHMG_XLOCK_GARBAGE:
		alert(o, ALERT_PROBLEM, "%s holds 0x%llx, which no locker writes", where,
		      (unsigned long long)v->info.raw);
		break;
	}
}

void snapshot_alerts(const struct snapshot *prev, struct snapshot *o)
{
	uint64_t dt = prev ? o->t_ns - prev->t_ns : 0;
	o->nalerts = 0;
	switch (o->kind) {
	case SEG_ISIO:
		wflag_alerts(prev ? &prev->wflag : NULL, &o->wflag, dt, o);
		if (o->layout.cbsize >= 2 && o->cbindex >= o->layout.cbsize)
			alert(o, ALERT_PROBLEM, "CBindex %u is outside the %u-copy circular buffer",
			      o->cbindex, o->layout.cbsize);
		for (unsigned i = 0; i < o->nslots; i++)
			if (o->slot[i].reader_alive == SHMG_PROC_DEAD)
				alert(o, ALERT_NOTE, "semaphore slot %u is held by dead reader PID %d",
				      i, o->slot[i].reader);
		break;
	case SEG_GENERIC:
		for (unsigned i = 0; i < o->n_wflag; i++)
			wflag_alerts(prev ? &prev->wflags[i] : NULL, &o->wflags[i], dt, o);
		break;
	case SEG_PINFO:
	case SEG_FPS:
		break;
	}
	for (unsigned i = 0; i < o->nlocks; i++)
		lock_alerts(&o->locks[i], o);
	if (o->locks_omitted)
		alert(o, ALERT_NOTE, "%u more locks are not unlocked (not listed)", o->locks_omitted);
}

bool snapshot_has_problem(const struct snapshot *o)
{
	for (unsigned i = 0; i < o->nalerts; i++)
		if (o->alerts[i].level == ALERT_PROBLEM)
			return true;
	return false;
}
