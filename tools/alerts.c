/* What inspect and watch point out (alerts.h). */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>

#include "alerts.h"

void alert(struct alerts *a, enum alert_level level, const char *fmt, ...)
{
	va_list ap;
	if (a->n == MAX_ALERTS)
		return;
	a->a[a->n].level = level;
	va_start(ap, fmt);
	vsnprintf(a->a[a->n].text, sizeof(a->a[a->n].text), fmt, ap);
	va_end(ap);
	a->n++;
}

bool alerts_have_problem(const struct alerts *a)
{
	for (unsigned i = 0; i < a->n; i++)
		if (a->a[i].level == ALERT_PROBLEM)
			return true;
	return false;
}

/* A live holder that does not map the file did not set what it holds by
 * using the file (planted, or it unmapped the file while holding); one
 * that holds it past the threshold is stuck or very slow. Either way only
 * an operator can decide (recover --force). */
static void holder_alerts(struct alerts *a, const char *what, int32_t pid,
			  const struct holder_check *h)
{
	if (shmg_proc_maps(pid, h->fd) == 0)
		alert(a, ALERT_PROBLEM, "%s is held by live process %d, which does not map the "
		      "file (planted, or it unmapped the file holding it): 'shmguard recover "
		      "--force %d' takes it", what, (int)pid, (int)pid);
	else if (h->stuck_ns && h->now_ns - h->since_ns >= h->stuck_ns)
		alert(a, ALERT_PROBLEM, "%s has been held by live process %d for %.1f s (stuck? "
		      "'shmguard recover --force %d' takes it, at a risk: shmguard(1))", what,
		      (int)pid, (double)(h->now_ns - h->since_ns) / 1e9, (int)pid);
}

uint64_t wflag_held_since(const struct shmg_wflag_info *p, uint64_t prev_since,
			  const struct shmg_wflag_info *v, uint64_t now_ns)
{
	bool same = p && p->mark && v->mark && p->counter == v->counter && p->owner == v->owner;
	return same ? prev_since : now_ns;
}

void wflag_alerts(struct alerts *a, const struct shmg_wflag_info *p,
		  const struct shmg_wflag_info *v, uint64_t dt_ns, bool nobody_maps,
		  const struct holder_check *h)
{
	bool has_owner = v->parts & SHMG_WFLAG_OWNER;
	unsigned long long next = (unsigned long long)v->counter + 1;
	if (has_owner && v->owner < 0)
		alert(a, ALERT_PROBLEM, "the writer word holds %d, which no writer writes", v->owner);
	else if (v->mark && v->owner_alive == SHMG_PROC_DEAD)
		alert(a, ALERT_PROBLEM, "write flag stuck: writer PID %d died mid-frame %llu",
		      v->owner, next);
	else if (v->owner_alive == SHMG_PROC_DEAD)
		alert(a, ALERT_PROBLEM, "writer PID %d is dead: no frame will come", v->owner);
	else if (v->mark && v->owner <= 0 && nobody_maps)
		alert(a, ALERT_PROBLEM, "write flag stuck: no process maps the file, so its writer "
		      "is gone mid-frame %llu", next);
	else if (v->mark && v->owner <= 0 && p && p->mark && p->counter == v->counter)
		alert(a, ALERT_PROBLEM,
		      "write flag set for %.0f ms with no frame published and no writer recorded",
		      (double)dt_ns / 1e6);
	else if (v->mark && v->owner > 0 && v->owner_alive == SHMG_PROC_ALIVE)
		holder_alerts(a, "the write flag", v->owner, h);
}

void lock_alerts(struct alerts *a, const char *what, const struct shmg_xlock_info *info,
		 const struct holder_check *h)
{
	switch ((enum shmg_xlock_state)info->state) {
	case SHMG_XLOCK_UNLOCKED:
		break;
	case SHMG_XLOCK_HELD:
	case SHMG_XLOCK_INCONSISTENT:
		if (info->owner_alive == SHMG_PROC_DEAD)
			alert(a, ALERT_PROBLEM, "%s is held by dead thread %d", what,
			      (int)info->owner_tid);
		else if (info->state == SHMG_XLOCK_INCONSISTENT)
			alert(a, ALERT_NOTE, "%s: thread %d is repairing after an owner died", what,
			      (int)info->owner_tid);
		if (info->owner_alive == SHMG_PROC_ALIVE)
			holder_alerts(a, what, info->owner_tid, h);
		break;
	case SHMG_XLOCK_NOTRECOVERABLE:
		alert(a, ALERT_PROBLEM, "%s is not recoverable (an owner died and nobody repaired)", what);
		break;
	case SHMG_XLOCK_GARBAGE:
		alert(a, ALERT_PROBLEM, "%s holds 0x%llx, which no locker writes", what,
		      (unsigned long long)info->raw);
		break;
	}
}
