/*
 * The milk processing loop: each step obeys the monitor's command
 * (processinfo_loopstep), and a paused loop sleeps on the CTRLval word.
 * See doc/loop.md, "Commands".
 */
#include "config.h"

#include <errno.h>

#include <shmguard/atomic.h>
#include <shmguard/loop.h>
#include <shmguard/milk.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "loop_internal.h"
#include "milk_internal.h"
#include "testing.h"
#include "wait_internal.h"

static void set_loopstat(struct shmg_loop *l, int32_t v)
{
	if (shmg_atomic_load(loop_p32(l, PINFO_LOOPSTAT), relaxed) != v)
		shmg_atomic_store(loop_p32(l, PINFO_LOOPSTAT), v, relaxed);
}

SHMG_EXPORT int shmg_loop_step(struct shmg_loop *l, const struct timespec *deadline)
{
	for (;;) {
		int64_t max = l->p.loopcnt_max;
		if (max > 0 && shmg_pinfo_loopcnt(l->p.pinfo) >= max)
			return 0;
		int now = shmg_pinfo_ctrl(l->p.pinfo); /* acquire */
		switch (now) {
		case SHMG_PINFO_EXIT:
			return 0;
		case SHMG_PINFO_STEP: {
			/* One iteration, then pause; an EXIT sent in between
			 * stays (-EAGAIN: look again at what is there). */
			SHMG__TEST_POINT(SHMG__LOOP_STEP_READ);
			int err = shmg_pinfo_transition(l->p.pinfo, SHMG_PINFO_STEP,
							SHMG_PINFO_PAUSE, &now, deadline);
			if (err == -EAGAIN)
				continue;
			if (err < 0)
				return err;
			set_loopstat(l, 1);
			return 1;
		}
		case SHMG_PINFO_PAUSE: {
			set_loopstat(l, 2);
			/* No polling: shmg_pinfo_command wakes this word after
			 * every command; the kernel compares the word with
			 * PAUSE as it queues us, so a command stored after
			 * our load is never slept through (doc/wait.md). The
			 * slice (1 s) only serves legacy monitors. */
			struct timespec until;
			int err = shmg__wake_by(&until, deadline, LOOP_PAUSE_SLICE());
			if (err)
				return err;
			err = shmg_futex_wait((const uint32_t *)(const void *)
					      loop_p32(l, PINFO_CTRLVAL),
					      (uint32_t)SHMG_PINFO_PAUSE, &until);
			if (err == -ETIMEDOUT || err == -EINTR) {
				/* A command that came with the signal or the
				 * slice's end wins; a legacy monitor's plain
				 * store is seen here. */
				if (shmg_pinfo_ctrl(l->p.pinfo) != SHMG_PINFO_PAUSE)
					continue;
				if (err == -EINTR || shmg_deadline_passed(deadline))
					return err;
			}
			continue;
		}
		default: /* RUN, SPIN (compute off is the caller's choice) */
			set_loopstat(l, 1);
			return 1;
		}
	}
}
