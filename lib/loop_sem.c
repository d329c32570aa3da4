/*
 * The milk processing loop: the semaphore modes (3 and 5). The slot is
 * claimed by CAS (shmg_isio_sem_claim); a wait drains the posts already
 * pending, else sleeps with a CLOCK_MONOTONIC deadline; missed frames are
 * counted from cnt0, exactly, never from the semaphore (capped at 10).
 * See doc/loop.md, "SEMAPHORE".
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/loop.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "loop_internal.h"

/* A writer that posts before it counts (ImageStreamIO's own examples) is
 * given this many spins to move cnt0 after its post. */
#define POST_BEFORE_COUNT_SPIN 4096

static int sleep_once(sem_t *sem, const struct timespec *until)
{
#ifdef HAVE_SEM_CLOCKWAIT
	if (sem_clockwait(sem, CLOCK_MONOTONIC, until) == 0)
		return 0;
	return -errno;
#else
	/* No sem_clockwait: poll, so the deadline stays monotonic. */
	for (;;) {
		if (sem_trywait(sem) == 0)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (shmg_deadline_passed(until))
			return -ETIMEDOUT;
		usleep(100);
	}
#endif
}

int shmg__loop_wait_sem(struct shmg_loop *l, struct shmg_loop_trigger *t,
			const struct timespec *deadline)
{
	sem_t *sem = isio_sem(l->p.input, (unsigned)l->slot);
	const uint64_t *cnt0 = loop_i64(l, LOOP_ISIO_CNT0);

	for (;;) {
		uint32_t pending = 0;
		while (sem_trywait(sem) == 0)
			pending++;
		if (!pending) {
			struct timespec until;
			int err = shmg__loop_slice(&until, deadline);
			if (err)
				return err;
			err = sleep_once(sem, &until);
			if (err == -EINTR)
				return shmg__fail(-EINTR, "a signal interrupted the semaphore wait");
			if (err == -ETIMEDOUT) {
				if ((err = shmg__loop_slice_over(l, deadline)) != 0)
					return err;
				continue;
			}
			if (err)
				return shmg__fail(err, "sem_clockwait failed");
			pending = 1;
			while (sem_trywait(sem) == 0)
				pending++;
		}
		/* The guarded writer counts (release) before it posts, and a
		 * post happens-before the wait it ends: this acquire load sees
		 * the frame's cnt0 or a later one. */
		uint64_t now = shmg_atomic_load(cnt0, acquire);
		for (unsigned i = 0; now == l->last && i < POST_BEFORE_COUNT_SPIN; i++) {
			shmg_cpu_relax();
			now = shmg_atomic_load(cnt0, acquire);
		}
		if (now == l->last)
			continue; /* a stale post: its frame was counted already */
		if (now < l->last && shmg__loop_input_gone(l) == SHMG_ETRUNCATED)
			return SHMG_ETRUNCATED; /* a zero page's cnt0 */
		if (now < l->last)
			return shmg__fail(SHMG_ECOUNTER, "cnt0 went back from %llu to %llu: "
					  "the input stream was recreated",
					  (unsigned long long)l->last, (unsigned long long)now);
		t->missed = now - l->last - 1;
		t->pending = pending;
		t->cnt = now;
		l->last = now;
		if (l->p.input->layout.nproctrace) {
			int32_t v = shmg_atomic_load((int32_t *)(void *)(l->ib +
					l->p.input->layout.off_proctrace + LOOP_PT_STATUS), relaxed);
			t->upstream = v == SHMG_LOOP_TIMEDOUT || v == SHMG_LOOP_RECEIVED ? (uint32_t)v : 0;
		}
		return 0;
	}
}
