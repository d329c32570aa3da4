/*
 * The milk processing loop: waiting for the trigger (processinfo_
 * waitoninputstream), for the counter and delay modes, and the PINFO
 * trigger fields each wait keeps. See doc/loop.md, "Trigger modes".
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include <shmguard/atomic.h>
#include <shmguard/isio.h>
#include <shmguard/loop.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "loop_internal.h"
#include "sized.h"

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static int cmp_ts(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

/* The status milk's upstream wrote into the input's process-trace record 0
 * (shmg_loop_propagate); 0 when the stream has none. Read after the
 * counter's acquire load: at least as new as the frame seen. */
static uint32_t upstream_status(const struct shmg_loop *l)
{
	const struct shmg_isio *in = l->p.input;
	if (!in || in->layout.nproctrace == 0)
		return 0;
	int32_t v = shmg_atomic_load((int32_t *)(void *)(l->ib + in->layout.off_proctrace +
							 LOOP_PT_STATUS), relaxed);
	return v == SHMG_LOOP_TIMEDOUT || v == SHMG_LOOP_RECEIVED ? (uint32_t)v : 0;
}

/* CNT0 and CNT1: sleep on the input's counter (shmg_isio_wait: futex,
 * writer liveness), in slices so an EXIT is seen. The guarded writer
 * publishes cnt0 (and, for a slice, cnt1 before it) with release, and
 * shmg_isio_wait loads it with acquire. */
int shmg__loop_wait_counter(struct shmg_loop *l, struct shmg_loop_trigger *t,
			    const struct timespec *deadline)
{
	for (;;) {
		struct timespec until;
		uint64_t now = 0;
		int err = shmg__loop_slice(&until, deadline);
		if (err)
			return err;
		err = shmg_isio_wait(l->p.input, l->last, &now, &until);
		if (err == 0) {
			t->missed = now - l->last - 1;
			t->cnt = l->p.mode == SHMG_LOOP_CNT1
					 ? shmg_atomic_load(loop_i64(l, LOOP_ISIO_CNT1), relaxed)
					 : now;
			l->last = now;
			t->upstream = upstream_status(l);
			return 0;
		}
		if (err != -ETIMEDOUT)
			return err;
		if ((err = shmg__loop_slice_over(l, deadline)) != 0)
			return err;
	}
}

/* DELAY: absolute CLOCK_MONOTONIC deadlines one period apart, so the period
 * does not drift with the iteration's own time; periods that passed while
 * the iteration ran are counted as missed, exactly. */
int shmg__loop_wait_delay(struct shmg_loop *l, struct shmg_loop_trigger *t,
			  const struct timespec *deadline)
{
	const uint64_t period = l->p.period_ns;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (l->next.tv_sec == 0 && l->next.tv_nsec == 0) {
		uint64_t first = ts_ns(&now) + period;
		l->next = loop_ts(first);
	}
	uint64_t target = ts_ns(&l->next), missed = 0;
	if (ts_ns(&now) >= target + period) {
		missed = (ts_ns(&now) - target) / period;
		target += missed * period;
	}
	struct timespec tts = loop_ts(target);
	for (;;) {
		struct timespec until;
		int err = shmg__loop_slice(&until, deadline);
		if (err)
			return err;
		if (cmp_ts(&tts, &until) <= 0)
			until = tts;
		err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		if (err == EINTR)
			return shmg__fail(-EINTR, "a signal interrupted the trigger wait");
		if (err)
			return shmg__fail(-err, "clock_nanosleep failed");
		if (cmp_ts(&until, &tts) == 0)
			break;
		if ((err = shmg__loop_slice_over(l, deadline)) != 0)
			return err;
	}
	l->next = loop_ts(target + period);
	l->periods += missed + 1;
	t->missed = missed;
	t->cnt = l->periods;
	return 0;
}

static void record(struct shmg_loop *l, const struct shmg_loop_trigger *t, int err)
{
	uint64_t missed = t->missed;
	shmg_atomic_store(loop_p32(l, LOOP_MISSED), missed > INT_MAX ? INT_MAX : (int32_t)missed,
			  relaxed);
	if (missed)
		shmg_atomic_add(loop_p64(l, LOOP_MISSED_CUMUL), missed, relaxed);
	if (err == 0 && l->p.mode != SHMG_LOOP_IMMEDIATE)
		shmg_atomic_store(loop_p64(l, LOOP_STREAMCNT), t->cnt, relaxed);
	if (err == -ETIMEDOUT)
		shmg_atomic_inc(loop_p64(l, LOOP_TIMEOUTCNT), relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TRIGGERSTATUS), (int32_t)t->status, relaxed);
}

SHMG_EXPORT int shmg_loop_wait(struct shmg_loop *l, struct shmg_loop_trigger *out,
			       const struct timespec *deadline)
{
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	int err;

	if (out && out->size < sizeof(t))
		return SHMG__SIZED_OUT(out, &t, struct shmg_loop_trigger);
	/* The mode's own timeout, as an absolute deadline, if earlier. */
	struct timespec dl_own, *dl = (struct timespec *)deadline;
	if (l->p.timeout_ns && l->p.mode != SHMG_LOOP_IMMEDIATE && l->p.mode != SHMG_LOOP_DELAY) {
		if ((err = shmg_deadline_in(&dl_own, l->p.timeout_ns)) != 0)
			return err;
		if (!deadline || cmp_ts(&dl_own, deadline) < 0)
			dl = &dl_own;
	}
	shmg_atomic_store(loop_p32(l, LOOP_MISSED), 0, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TRIGGERSTATUS), SHMG_LOOP_WAITING, relaxed);
	switch (l->p.mode) {
	case SHMG_LOOP_IMMEDIATE:
		err = 0;
		break;
	case SHMG_LOOP_CNT0: case SHMG_LOOP_CNT1:
		err = shmg__loop_wait_counter(l, &t, dl);
		break;
	case SHMG_LOOP_SEMAPHORE: case SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS:
		err = shmg__loop_wait_sem(l, &t, dl);
		break;
	case SHMG_LOOP_DELAY:
		err = shmg__loop_wait_delay(l, &t, dl);
		break;
	default:
		err = shmg__loop_wait_credit(l, &t, dl);
		break;
	}
	if (err == 0) {
		t.status = SHMG_LOOP_RECEIVED;
		t.run = 1;
	} else if (err == -ETIMEDOUT) {
		/* Never a received trigger; mode 5 runs on and says so
		 * downstream (shmg_loop_propagate). */
		t.status = SHMG_LOOP_TIMEDOUT;
		t.run = l->p.mode == SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS;
		t.missed = 0;
	} else {
		t.status = SHMG_LOOP_WAITING;
		t.run = 0;
		t.missed = 0;
	}
	if (err == 0 || err == -ETIMEDOUT) {
		l->status = (int)t.status;
		record(l, &t, err);
	}
	if (out)
		SHMG__SIZED_OUT(out, &t, struct shmg_loop_trigger);
	return err;
}
