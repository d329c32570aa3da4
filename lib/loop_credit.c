/*
 * The milk processing loop: flow control (mode CNT2). A producer waits while
 * cnt0 >= cnt2; consumers grant credit by raising cnt2 atomically. Sleeping
 * producers count themselves in the padding word at 244, so a grant makes a
 * system call only when one sleeps (rules.md, rule 5). See doc/loop.md,
 * "CNT2".
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include <shmguard/atomic.h>
#include <shmguard/loop.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "loop_internal.h"

static uint64_t *cnt2_of(const struct shmg_isio *s)
{
	return isio_word64(s, LOOP_ISIO_CNT2);
}

/* The futex word: cnt2's low half (little-endian: at 280; big-endian: 284). */
static const uint32_t *cnt2_futex(const struct shmg_isio *s)
{
	const unsigned char *p = isio_base(s) + LOOP_ISIO_CNT2;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	p += 4;
#endif
	return (const uint32_t *)(const void *)p;
}

static uint32_t *sleepers_of(const struct shmg_isio *s)
{
	return (uint32_t *)(void *)(isio_base(s) + LOOP_ISIO_CNT2_SLEEPERS);
}

SHMG_EXPORT int shmg_loop_grant(struct shmg_isio *s, uint64_t n, uint64_t *cnt2)
{
	uint64_t *w = cnt2_of(s), old, nv = 0;

	/* A grant of 2^32 or more could leave the futex word (the low half)
	 * unchanged and a producer that is about to sleep would miss it. */
	if (n > UINT32_MAX)
		return shmg__fail(-EINVAL, "a grant of %llu: at most 2^32 - 1 at once",
				  (unsigned long long)n);
	bool overflow = false;
	shmg_atomic_rmw_loop(w, old, nv, relaxed, {
		if (old > UINT64_MAX - n) {
			overflow = true;
			shmg_atomic_rmw_loop_give_up(break);
		}
		nv = old + n;
	});
	if (overflow)
		return shmg__fail(-EOVERFLOW, "cnt2 %llu + %llu would wrap",
				  (unsigned long long)old, (unsigned long long)n);
	/* Dekker with the producer (shmg__loop_wait_credit): raise cnt2,
	 * seq_cst fence, look for sleepers; the producer counts itself,
	 * seq_cst fence, looks at cnt2. One of the two sees the other
	 * (tests/spin/loop_credit.pml; tested by cnt2_credit_never_lost
	 * and cnt2_sleeps_until_granted). */
	shmg_atomic_thread_fence(seq_cst);
	if (shmg_atomic_load(sleepers_of(s), relaxed) != 0)
		shmg_futex_wake(cnt2_futex(s), INT32_MAX);
	if (cnt2)
		*cnt2 = nv;
	return 0;
}

int shmg__loop_wait_credit(struct shmg_loop *l, struct shmg_loop_trigger *t,
			   const struct timespec *deadline)
{
	const struct shmg_isio *s = l->p.input;
	const uint64_t *cnt0 = loop_i64(l, LOOP_ISIO_CNT0), *cnt2 = cnt2_of(s);
	uint32_t *sleepers = sleepers_of(s);

	for (;;) {
		uint64_t c0 = shmg_atomic_load(cnt0, relaxed); /* our own */
		uint64_t c2 = shmg_atomic_load(cnt2, acquire);
		if (c0 < c2) {
			t->cnt = c0;
			t->missed = 0;
			return 0;
		}
		shmg_atomic_inc(sleepers, relaxed);
		shmg_atomic_thread_fence(seq_cst);
		c2 = shmg_atomic_load(cnt2, acquire);
		int err = 0;
		if (c0 >= c2) {
			struct timespec until;
			err = shmg__loop_slice(&until, deadline);
			if (!err)
				err = shmg_futex_wait(cnt2_futex(s), (uint32_t)c2, &until);
		}
		shmg_atomic_dec(sleepers, relaxed);
		if (err == -EINTR)
			return shmg__fail(-EINTR, "a signal interrupted the wait for credit");
		if (err == -ETIMEDOUT) {
			if (shmg_atomic_load(cnt0, relaxed) < shmg_atomic_load(cnt2, acquire))
				continue;
			if ((err = shmg__loop_slice_over(l, deadline)) != 0)
				return err;
		} else if (err) {
			return err;
		}
	}
}
