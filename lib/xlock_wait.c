/*
 * The exclusive lock's slow path: what to do when the uncontended CAS
 * failed. Four phases, each a function: look at the word (take a free lock,
 * refuse a poisoned or garbage one), spin with backoff, sleep on the futex
 * after announcing WAITERS, and probe the owner's liveness, taking the lock
 * from a dead owner by CAS from the exact dead value (doc/xlock.md).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/wait.h>
#include <shmguard/xlock.h>

#include "testing.h"
#include "wait_internal.h"
#include "xlock_internal.h"

/* Looks at the owner before sleeping, with exponential backoff: about
 * 450 cpu_relax in all (10-60 us), a short critical section's worth. */
#define XLOCK_SPIN 12
/* A sleeper wakes to probe the owner every PROBE_FIRST_NS for its first
 * PROBE_FAST probes (PROBE_FAST_NS of waiting or more: a late wake-up makes
 * a period longer, never shorter), then backs off by doubling up to
 * PROBE_MAX_NS: prompt detection of a crash while a lock is contended,
 * little cost while a live owner holds it long. A probe cycle (timer wake,
 * /proc read, back to sleep) costs about 10 us of CPU, so the fast phase
 * uses about a third of a CPU; the period decides how soon a death is seen
 * (half of it on average: doc/xlock.md, "Owner death"). */
#define PROBE_FIRST_NS 25000u
#define PROBE_FAST_NS 3000000u
#define PROBE_FAST (PROBE_FAST_NS / PROBE_FIRST_NS)
#define PROBE_MAX_NS 5000000u
/* The timer slack a sleeper asks for while it waits (below). */
#define PRECISE_SLACK_NS 1ul

#ifdef SHMG_TESTING
/* Tests of wake-ups stretch the probe period so a lost wake-up cannot hide
 * behind a probe (tests/check_xlock.c). */
uint64_t shmg__test_xlock_probe_ns;
#endif

/* A waiter's state across the phases. */
struct waiter {
	const struct shmg_xlock *l;
	const struct xlock_format *f;
	enum xlock_wait_mode mode;
	const struct timespec *deadline;
	uint64_t me;       /* the word this thread writes */
	uint64_t v;        /* the word as last seen */
	struct shmg__proc_watch watch;
	uint64_t probe_ns;
	unsigned spins, probes;
	bool slept;        /* keep WAITERS when taking it: others may sleep */
	bool probe_now;
	long old_slack;    /* the thread's timer slack to put back; 0: untouched */
	int result;
};

/* What a phase leaves the loop to do. */
enum next { LOOK_AGAIN, GO_ON, DONE };

static enum next done(struct waiter *w, int result)
{
	w->result = result;
	return DONE;
}

/* The word as it is: free (take it), poisoned, garbage, ours, or held. */
static enum next look(struct waiter *w)
{
	switch (xw_kind(w->f, w->v)) {
	case XW_UNLOCKED:
		/* After sleeping, keep WAITERS so our unlock wakes the next
		 * sleeper (Drepper's "mutex3"). */
		if (!xlock_cas(w->l, &w->v, w->me | (w->slept ? w->f->waiters : 0)))
			return LOOK_AGAIN;
		SHMG__TEST_POINT(SHMG__XLOCK_LOCKED);
		return done(w, 0);
	case XW_NOTRECOVERABLE:
		return done(w, SHMG_ENOTRECOVERABLE);
	case XW_GARBAGE:
		return done(w, SHMG_EGARBAGE);
	case XW_HELD:
		break;
	}
	if (xw_owner(w->f, w->v) == w->me)
		return done(w, SHMG_EDEADLK);
	w->probe_now = w->mode == XLOCK_TRY;
	return GO_ON;
}

/* Exponential backoff: fewer looks at the owner's cache line, so its next
 * lock stays cheap. */
static enum next backoff(struct waiter *w)
{
	if (w->spins >= XLOCK_SPIN)
		return GO_ON;
	for (unsigned k = 0; k < 1u << (w->spins < 6 ? w->spins : 6); k++)
		shmg_cpu_relax();
	w->spins++;
	w->v = xlock_load(w->l);
	return LOOK_AGAIN;
}

/*
 * The kernel may end a timed sleep as late as the thread's timer slack
 * (prctl(2) PR_SET_TIMERSLACK, 50 us by default) after its timeout. That
 * slack stretched every probe period by up to 50 us, and it was most of the
 * time from an owner's death to a sleeper noticing it (doc/xlock.md, "Owner
 * death"). A sleeper whose sleep timed out (the lock is held long, or its
 * owner died) therefore asks for 1 ns of slack for the rest of its wait and
 * puts its own back when it leaves: two prctl calls, made neither on the
 * uncontended path nor by a sleeper that an unlock wakes in time (the usual
 * contended case). A thread whose slack is already that small (or
 * unreadable) is left as it is; real-time threads have none anyway.
 */
static void precise_timers(struct waiter *w)
{
	if (w->old_slack)
		return;
	long slack = syscall(SYS_prctl, PR_GET_TIMERSLACK, 0ul, 0ul, 0ul, 0ul);
	if (slack > (long)PRECISE_SLACK_NS &&
	    syscall(SYS_prctl, PR_SET_TIMERSLACK, PRECISE_SLACK_NS, 0ul, 0ul, 0ul) == 0)
		w->old_slack = slack;
	else
		w->old_slack = -1; /* leave it */
}

static void restore_timers(struct waiter *w)
{
	if (w->old_slack > 0)
		syscall(SYS_prctl, PR_SET_TIMERSLACK, (unsigned long)w->old_slack, 0ul, 0ul, 0ul);
}

/* Announce WAITERS, then sleep until woken, the word changes, or the probe
 * period (the deadline, if sooner) passes. */
static enum next sleep_once(struct waiter *w)
{
	if (!(w->v & w->f->waiters)) {
		if (!xlock_cas(w->l, &w->v, w->v | w->f->waiters))
			return LOOK_AGAIN;
		w->v |= w->f->waiters;
	}
	SHMG__TEST_POINT(SHMG__XLOCK_WAITERS_SET);
	struct timespec until;
	int err = shmg__wake_by(&until, w->deadline, w->probe_ns);
	if (!err)
		err = shmg_futex_wait(xlock_futex(w->l), (uint32_t)w->v, &until);
	w->slept = true;
	if (err == -ETIMEDOUT) {
		if (shmg_deadline_passed(w->deadline))
			return done(w, -ETIMEDOUT);
		precise_timers(w);
		w->probe_now = true;
		if (++w->probes > PROBE_FAST && w->probe_ns < PROBE_MAX_NS)
			w->probe_ns = w->probe_ns * 2 < PROBE_MAX_NS ? w->probe_ns * 2
								     : PROBE_MAX_NS;
	}
	uint64_t now = xlock_load(w->l);
	if (now != w->v) { /* woken, or it changed: look again */
		w->v = now;
		return LOOK_AGAIN;
	}
	return GO_ON;
}

/* Is the owner dead? Then take the lock from the exact dead value (one
 * winner), keeping WAITERS for the sleepers. */
static enum next probe(struct waiter *w)
{
	const struct xlock_format *f = w->f;
	pid_t tid = (pid_t)xw_id(f, w->v);
	bool dead = w->mode == XLOCK_TRY
		? shmg__thread_gone(tid, xw_start(f, w->v), f->start_bits)
		: shmg__watch_dead(&w->watch, tid, xw_start(f, w->v), f->start_bits);
	if (dead) {
		if (!xlock_cas(w->l, &w->v, w->me | f->inconsistent | f->waiters))
			return LOOK_AGAIN;
		SHMG__TEST_POINT(SHMG__XLOCK_STOLEN);
		return done(w, SHMG_OWNERDEAD);
	}
	if (w->mode == XLOCK_TRY)
		return done(w, -EBUSY);
	return GO_ON;
}

/* One round of the phases. */
static enum next one_round(struct waiter *w)
{
	enum next n = look(w);
	if (n != GO_ON)
		return n;
	if (w->mode == XLOCK_WAIT &&
	    ((n = backoff(w)) != GO_ON || (n = sleep_once(w)) != GO_ON))
		return n;
	if (w->probe_now && (n = probe(w)) != GO_ON)
		return n;
	w->v = xlock_load(w->l);
	return LOOK_AGAIN;
}

int shmg__xlock_lock_slow(const struct shmg_xlock *l, uint64_t me,
			  enum xlock_wait_mode mode, const struct timespec *deadline)
{
	struct waiter w = {
		.l = l, .f = xlock_format(l->shmg__width), .mode = mode,
		.deadline = deadline, .me = me, .v = xlock_load(l),
		.probe_ns = SHMG__PROBE_NS(xlock, PROBE_FIRST_NS),
	};

	shmg__watch_init(&w.watch);
	while (one_round(&w) != DONE)
		;
	restore_timers(&w);
	shmg__watch_close(&w.watch);
	return w.result;
}
