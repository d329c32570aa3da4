/*
 * The write-flag guard: placement and the writer's side.
 * See include/shmguard/wflag.h and doc/wflag.md.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>

#include "wflag_internal.h"

/* Test builds of the crash tests set this to stop (SIGKILL) the writer at a
 * chosen step inside publish; NULL otherwise (one predictable branch). */
SHMG_EXPORT void (*shmg__wflag_test_point)(int step);
#define TEST_POINT(step)                                                       \
	do {                                                                   \
		if (SHMG__UNLIKELY(shmg__wflag_test_point != NULL))            \
			shmg__wflag_test_point(step);                          \
	} while (0)

/* [a, a + alen) and [b, b + blen) share a byte. */
static bool overlap(size_t a, size_t alen, size_t b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

static int place_latch(struct shmg_wflag *g, const struct shmg_region *r,
		       const struct shmg_wflag_place *p)
{
	void *at;
	int err;

	if (p->copies == 0)
		return 0;
	if (p->copies < 2 || p->copies > UINT32_MAX / 2 || p->data_len == 0 ||
	    p->seq_stride < 8 || p->seq_stride % 8 != 0)
		return -EINVAL;
	if ((err = shmg_region_at(r, p->index, 4, &at)) != 0)
		return err;
	g->index = at;
	/* Every sequence word: the first and the last are enough once the
	 * stride keeps alignment and the span does not overflow. */
	size_t last = p->copies - 1, span;
	if (__builtin_mul_overflow(last, p->seq_stride, &span) ||
	    __builtin_add_overflow(span, p->seq, &span))
		return -ERANGE;
	if ((err = shmg_region_at(r, p->seq, 8, &at)) != 0 ||
	    (err = shmg_region_at(r, span, 8, &at)) != 0)
		return err;
	g->seq = r->base + p->seq;
	g->seq_stride = p->seq_stride;
	size_t seq_bytes = span + 8 - p->seq, data_bytes;
	if (__builtin_mul_overflow((size_t)p->copies, p->data_len, &data_bytes) ||
	    !shmg_region_contains(r, p->data, data_bytes))
		return -ERANGE;
	if (overlap(p->data, data_bytes, p->seq, seq_bytes) ||
	    overlap(p->data, data_bytes, p->index, 4) ||
	    overlap(p->seq, seq_bytes, p->index, 4) ||
	    overlap(p->data, data_bytes, p->mark & ~(size_t)3, 4) ||
	    overlap(p->data, data_bytes, p->counter, 8) ||
	    overlap(p->seq, seq_bytes, p->counter, 8))
		return -EINVAL;
	g->data = r->base + p->data;
	g->data_len = p->data_len;
	g->copies = p->copies;
	return 0;
}

SHMG_EXPORT int shmg_wflag_init(struct shmg_wflag *g,
				const struct shmg_region *r,
				const struct shmg_wflag_place *p)
{
	struct shmg_wflag n;
	void *at;
	int err;

	if (!g || !r || !p || !r->base)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	size_t word = p->mark & ~(size_t)3;
	if ((err = shmg_region_at(r, p->mark, 1, &at)) != 0)
		return err;
	n.mark = at;
	if ((err = shmg_region_at(r, word, 4, &at)) != 0)
		return err;
	n.futex = at;
	if ((err = shmg_region_at(r, p->counter, 8, &at)) != 0)
		return err;
	n.counter = at;
	if (overlap(p->counter, 8, word, 4))
		return -EINVAL;
	if (p->waiters != SHMG_WFLAG_NONE) {
		if ((p->waiters & ~(size_t)3) != word || p->waiters == p->mark)
			return -EINVAL;
		n.waiters = r->base + p->waiters;
		unsigned byte = (unsigned)(p->waiters - word);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		byte = 3 - byte;
#endif
		n.waiters_shift = 8 * byte;
		n.waiters_bits = UINT32_C(0xff) << n.waiters_shift;
	}
	if (p->owner != SHMG_WFLAG_NONE) {
		if ((err = shmg_region_at(r, p->owner, 4, &at)) != 0)
			return err;
		if (overlap(p->owner, 4, word, 4) ||
		    overlap(p->owner, 4, p->counter, 8))
			return -EINVAL;
		n.owner = at;
	}
	if ((err = place_latch(&n, r, p)) != 0)
		return err;
	if (n.copies && n.owner &&
	    overlap(p->owner, 4, p->seq,
		    (size_t)(p->copies - 1) * p->seq_stride + 8))
		return -EINVAL;
	n.base = r->base;
	n.size = r->size;
	*g = n;
	return 0;
}

/*
 * A writer that died inside publish after its latch copy was named but
 * before the counter moved left a complete frame the counter does not
 * count: catch the counter up, so frame numbers stay unique.
 */
static void finish_dead_publish(struct shmg_wflag *g)
{
	if (!g->copies)
		return;
	uint32_t i = shmg_atomic_load(g->index, relaxed);
	if (i >= g->copies)
		return;
	uint64_t named = shmg_atomic_load(wflag_seq(g, i), relaxed);
	if (named == shmg_atomic_load(g->counter, relaxed) + 1)
		shmg_atomic_store(g->counter, named, release);
}

SHMG_EXPORT int shmg_wflag_claim(struct shmg_wflag *g)
{
	if (!g->owner)
		return -ENOTSUP;
	int32_t self = (int32_t)getpid();
	int32_t cur = shmg_atomic_load(g->owner, relaxed);
	for (;;) {
		if (cur == self)
			return 0;
		if (cur < 0)
			return SHMG_EGARBAGE;
		/* A writer we cannot prove dead is alive: never take over a
		 * live writer's stream. */
		if (cur != 0 && shmg_proc_alive(cur, 0, 0) != SHMG_PROC_DEAD)
			return -EBUSY;
		int32_t was = cur;
		/* acquire: the new writer continues from the counter and
		 * copies its predecessor left. */
		if (shmg_atomic_cmpxchgv(g->owner, was, self, &cur, acquire)) {
			if (was != 0)
				finish_dead_publish(g);
			return was != 0;
		}
	}
}

SHMG_EXPORT int shmg_wflag_release(struct shmg_wflag *g)
{
	if (!g->owner)
		return -ENOTSUP;
	int32_t self = (int32_t)getpid();
	/* release: whatever this writer published is visible to whoever
	 * claims next. */
	return shmg_atomic_cmpxchg(g->owner, self, 0, release) ? 0
								: SHMG_ENOTOWNER;
}

SHMG_EXPORT void *shmg_wflag_begin(struct shmg_wflag *g)
{
	void *copy = NULL;

	if (g->copies) {
		/* The writer is the only one that moves the index; a value
		 * out of range (another program's) restarts at copy 0. */
		uint32_t i = shmg_atomic_load(g->index, relaxed);
		g->next = i + 1 < g->copies ? i + 1 : 0;
		shmg_atomic_store(wflag_seq(g, g->next), 0, relaxed);
		copy = g->data + (size_t)g->next * g->data_len;
	}
	byte_store(g->mark, 1, relaxed);
	/* DESIGN rule 3: a release fence, not a release store of the mark,
	 * keeps every later store of the frame (and of the copy) behind the
	 * mark and the zeroed sequence word. */
	shmg_atomic_thread_fence(release);
	return copy;
}

/* Wake every sleeper, with a syscall only if one announced itself. */
static void wake_sleepers(struct shmg_wflag *g)
{
	if (!g->waiters) {
		shmg_futex_wake(g->futex, INT32_MAX);
		return;
	}
	/* Dekker with wflag_sleep(): the counter and mark stores above and
	 * the sleeper's waiters store are each followed by a seq_cst fence
	 * before the other side's load, so either the sleeper sees the new
	 * counter or this load sees its announcement (tests/spin/
	 * wflag_wake.pml). */
	shmg_atomic_thread_fence(seq_cst);
	uint8_t w = byte_load(g->waiters, relaxed);
	if (SHMG__UNLIKELY(w & WAITERS_ASLEEP)) {
		/* The next generation, asleep bit clear: the futex word
		 * changes, so a sleeper that read it before gets EAGAIN. Only
		 * this writer clears; sleepers only set bit 0, and not while
		 * it is set, so nothing is overwritten between load and store. */
		byte_store(g->waiters, next_generation(w), relaxed);
		shmg_futex_wake(g->futex, INT32_MAX);
	}
}

SHMG_EXPORT uint64_t shmg_wflag_publish(struct shmg_wflag *g)
{
	/* The writer is the counter's only writer: no RMW needed. */
	uint64_t frame = shmg_atomic_load(g->counter, relaxed) + 1;

	if (g->copies) {
		shmg_atomic_store(wflag_seq(g, g->next), frame, release);
		/* release: a reader that finds this index finds the sequence
		 * word above (or a later one). */
		shmg_atomic_store(g->index, g->next, release);
		TEST_POINT(SHMG__WFLAG_AFTER_COPY);
	}
	shmg_atomic_store(g->counter, frame, release);
	TEST_POINT(SHMG__WFLAG_AFTER_COUNTER);
	/* Counter first, then the mark (tests/spin/seqlock.pml mutant
	 * PUBLISH_SWAPPED shows the other order accepts torn frames). */
	byte_store(g->mark, 0, release);
	TEST_POINT(SHMG__WFLAG_AFTER_MARK);
	wake_sleepers(g);
	return frame;
}

SHMG_EXPORT void shmg_wflag_abort(struct shmg_wflag *g)
{
	byte_store(g->mark, 0, release);
	wake_sleepers(g);
}
