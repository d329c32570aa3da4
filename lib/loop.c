/*
 * The milk processing loop: starting and stopping one, and the trigger
 * fields it keeps in its PINFO file. See include/shmguard/loop.h and
 * doc/loop.md.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/loop.h>
#include <shmguard/memcpy.h>
#include <shmguard/region.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "isio_layout.h"
#include "loop_internal.h"
#include "milk_internal.h"
#include "sized.h"
#include "wait_internal.h"

static void store_ts(struct shmg_loop *l, size_t off, struct timespec t)
{
	shmg_atomic_store((int64_t *)loop_pw(l, off), (int64_t)t.tv_sec, relaxed);
	shmg_atomic_store((int64_t *)loop_pw(l, off + 8), (int64_t)t.tv_nsec, relaxed);
}

static int check(const struct shmg_loop_params *p)
{
	switch (p->mode) {
	case SHMG_LOOP_IMMEDIATE:
		break;
	case SHMG_LOOP_DELAY:
		if (p->period_ns == 0)
			return shmg__fail(-EINVAL, "mode DELAY needs a period");
		break;
	case SHMG_LOOP_CNT0: case SHMG_LOOP_CNT1: case SHMG_LOOP_SEMAPHORE:
	case SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS: case SHMG_LOOP_CNT2:
		if (!p->input)
			return shmg__fail(-EINVAL, "trigger mode %u needs an input stream", p->mode);
		break;
	default:
		return shmg__fail(-EINVAL, "trigger mode %u: 0 to 6 expected", p->mode);
	}
	if (!p->pinfo)
		return shmg__fail(-EINVAL, "no PINFO file");
	if (p->loopcnt_max < 0)
		return shmg__fail(-EINVAL, "loopcnt_max %lld: 0 (no limit) or more expected",
				  (long long)p->loopcnt_max);
	if (p->mode == SHMG_LOOP_CNT1 && p->input->layout.naxis != 3)
		return shmg__fail(-EINVAL, "mode CNT1 needs a cube stream (naxis 3), not naxis %u",
				  p->input->layout.naxis);
	if (!shmg_region_writable(p->pinfo->region))
		return shmg__fail(-EACCES, "the PINFO file is mapped read-only");
	return 0;
}

SHMG_EXPORT int shmg_loop_new(struct shmg_loop **out, const struct shmg_loop_params *params)
{
	struct shmg_loop_params p;
	int err;

	if (!out)
		return shmg__fail(-EINVAL, "no handle pointer");
	*out = NULL;
	if ((err = SHMG__SIZED_IN(&p, params, struct shmg_loop_params)) != 0)
		return err;
	if ((err = check(&p)) != 0)
		return err;
	struct shmg_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return shmg__fail(-ENOMEM, "no memory for a loop handle");
	l->p = p;
	l->pb = p.pinfo->region->base;
	l->tshift = p.pinfo->region->size == SHMG_PINFO_SIZE_NEW ? LOOP_SHIFT_NEW : 0;
	l->slot = -1;
	if (p.input)
		l->ib = p.input->region->base;
	if (p.mode == SHMG_LOOP_SEMAPHORE || p.mode == SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS) {
		/* The input handle's slot, by CAS (loops with handles of
		 * their own never share one); drains old posts. */
		if ((err = shmg_isio_sem_claim(p.input, &l->slot)) != 0) {
			free(l);
			return err;
		}
	}
	if (p.mode == SHMG_LOOP_SEMAPHORE || p.mode == SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS)
		if (!p.timeout_ns)
			l->p.timeout_ns = LOOP_DEFAULT_SEM_TIMEOUT_NS;
	if (p.input)
		l->last = shmg_atomic_load(loop_i64(l, LOOP_ISIO_CNT0), acquire);
	l->status = SHMG_LOOP_NEVER;

	/* The trigger fields (processinfo_waitoninputstream_init), each word
	 * atomically: monitors read them while we write. */
	char name[SHMG_PINFO_NAME_MAX] = " "; /* milk's "no input" */
	uint64_t inode = 0;
	if (p.input) {
		memset(name, 0, sizeof(name));
		shmg_atomic_load_memcpy(name, l->ib + ISIO_NAME, sizeof(name) - 1, relaxed);
		inode = shmg_atomic_load(loop_i64(l, LOOP_ISIO_INODE), relaxed);
	}
	shmg_atomic_store(loop_p32(l, LOOP_TRIGGERMODE), (int32_t)p.mode, relaxed);
	shmg_atomic_store((int64_t *)loop_pw(l, LOOP_STREAMID), -1, relaxed);
	shmg_atomic_store(loop_p64(l, LOOP_STREAMINODE), inode, relaxed);
	shmg_atomic_store_memcpy(loop_pw(l, LOOP_STREAMNAME), name, sizeof(name), relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TRIGGERSEM), l->slot, relaxed);
	uint64_t cnt = p.mode == SHMG_LOOP_CNT1 ? shmg_atomic_load(loop_i64(l, LOOP_ISIO_CNT1), relaxed)
						: l->last;
	shmg_atomic_store(loop_p64(l, LOOP_STREAMCNT), cnt, relaxed);
	store_ts(l, LOOP_DELAY, loop_ts(p.period_ns));
	store_ts(l, LOOP_TIMEOUT, loop_ts(l->p.timeout_ns));
	shmg_atomic_store(loop_p64(l, LOOP_TIMEOUTCNT), 0, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_MISSED), 0, relaxed);
	shmg_atomic_store(loop_p64(l, LOOP_MISSED_CUMUL), 0, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TRIGGERSTATUS), SHMG_LOOP_NEVER, relaxed);
	shmg_atomic_store((int64_t *)loop_pw(l, LOOP_LOOPCNTMAX),
			  p.loopcnt_max ? p.loopcnt_max : -1, relaxed);

	/* The timing ring: empty (sequence 0 first, so a monitor never takes
	 * the zeroed entries for ours), then measured. */
	size_t ts = l->tshift;
	shmg_atomic_store(loop_p32(l, LOOP_RINGSEQ + ts), 0, release);
	shmg_atomic_thread_fence(release);
	for (unsigned i = 0; i < SHMG_LOOP_RING; i++) {
		store_ts(l, LOOP_TEXECSTART + ts + 16 * i, (struct timespec){0, 0});
		store_ts(l, LOOP_TEXECEND + ts + 16 * i, (struct timespec){0, 0});
	}
	shmg_atomic_store(loop_p32(l, LOOP_TIMERINDEX + ts), 0, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TIMINGBUFCNT + ts), 0, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_MEASURETIMING + ts), 1, relaxed);

	/* processinfo_loopstart: loopcnt = 0, then loopstat = 1 (active). */
	shmg_atomic_store((int64_t *)loop_pw(l, PINFO_LOOPCNT), 0, relaxed);
	shmg_atomic_store(loop_p32(l, PINFO_LOOPSTAT), 1, release);
	*out = l;
	return 0;
}

SHMG_EXPORT void shmg_loop_free(struct shmg_loop *l)
{
	if (!l)
		return;
	shmg_atomic_store(loop_p32(l, PINFO_LOOPSTAT), 3, release); /* stopped */
	if (l->slot >= 0)
		shmg_isio_sem_release(l->p.input);
	free(l);
}

int shmg__loop_exit_asked(const struct shmg_loop *l)
{
	return shmg_atomic_load(loop_p32(l, PINFO_CTRLVAL), acquire) == SHMG_PINFO_EXIT;
}

#ifdef SHMG_TESTING
uint64_t shmg__test_loop_slice_ns;
#endif

int shmg__loop_slice(struct timespec *until, const struct timespec *deadline)
{
	return shmg__wake_by(until, deadline, LOOP_SLICE());
}

int shmg__loop_slice_over(const struct shmg_loop *l, const struct timespec *deadline)
{
	/* Off the frame's path: a slice ended without a trigger. A replaced
	 * input would otherwise time out for ever, unseen. */
	int err = shmg__loop_input_gone(l);
	if (err)
		return err;
	if (shmg_deadline_passed(deadline))
		return -ETIMEDOUT;
	if (shmg__loop_exit_asked(l))
		return shmg__fail(-ECANCELED, "an exit command arrived while waiting for the trigger");
	return 0;
}
