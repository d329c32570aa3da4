/*
 * The milk processing loop: timing rings (processinfo_exec_start /
 * exec_end) written so that a monitor reading concurrently never accepts a
 * torn or overwritten entry, and the monitor's reader. The loop never waits
 * for a monitor. See doc/loop.md, "Timing rings".
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <shmguard/atomic.h>
#include <shmguard/loop.h>
#include <shmguard/milk.h>

#include "detail.h"
#include "loop_internal.h"
#include "milk_internal.h"
#include "sized.h"

static void store_ts(unsigned char *p, struct timespec t)
{
	shmg_atomic_store((int64_t *)(void *)p, (int64_t)t.tv_sec, relaxed);
	shmg_atomic_store((int64_t *)(void *)(p + 8), (int64_t)t.tv_nsec, relaxed);
}

static struct timespec load_ts(const unsigned char *p)
{
	struct timespec t;
	t.tv_sec = (time_t)shmg_atomic_load((const int64_t *)(const void *)p, relaxed);
	t.tv_nsec = (long)shmg_atomic_load((const int64_t *)(const void *)(p + 8), relaxed);
	return t;
}

/*
 * Iteration k (1, 2, ...; modulo LOOP_SEQ_MOD) uses slot k % 100. The writer,
 * for exec_start(k): release fence; start[k] = t, end[k] = 0 (relaxed);
 * sequence word = k (release). For exec_end(k): release fence; end[k] = t.
 * A reader that read any store of iteration k's entry, then issued an
 * acquire fence, reads a sequence word >= k - 1 (exec_start: the fence
 * orders the earlier release of k - 1 before the entry; fence-fence
 * synchronization, C11 7.17.4) or >= k (exec_end), and so discards the slot
 * (shmg_loop_timing). Same shape as the seqlock of rules.md, rule 3, with
 * the sequence word as the mark; checked by tests/spin/loop_ring.pml and
 * tested by timing_ring_never_torn.
 */
SHMG_EXPORT void shmg_loop_exec_start(struct shmg_loop *l, const struct timespec *now)
{
	struct timespec t;
	if (now)
		t = *now;
	else
		clock_gettime(CLOCK_MONOTONIC, &t);
	uint32_t k = l->seq == LOOP_SEQ_MOD ? 1 : l->seq + 1;
	unsigned slot = loop_slot(k);
	size_t ts = l->tshift;
	shmg_atomic_thread_fence(release);
	store_ts(l->pb + LOOP_TEXECSTART + ts + 16 * slot, t);
	store_ts(l->pb + LOOP_TEXECEND + ts + 16 * slot, (struct timespec){0, 0});
	/* milk's own words, for milk's monitors. */
	shmg_atomic_store(loop_p32(l, LOOP_TIMERINDEX + ts), (int32_t)slot, relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_TIMINGBUFCNT + ts), (int32_t)(k / SHMG_LOOP_RING),
			  relaxed);
	shmg_atomic_store(loop_p32(l, LOOP_RINGSEQ + ts), (int32_t)k, release);
	l->seq = k;
	l->t_start = t;
}

SHMG_EXPORT int64_t shmg_loop_exec_end(struct shmg_loop *l, const struct timespec *now)
{
	struct timespec t;
	if (now)
		t = *now;
	else
		clock_gettime(CLOCK_MONOTONIC, &t);
	if (l->seq) {
		shmg_atomic_thread_fence(release);
		store_ts(l->pb + LOOP_TEXECEND + l->tshift + 16 * loop_slot(l->seq), t);
	}
	return shmg_pinfo_heartbeat(l->p.pinfo);
}

/* Distance from a to b going forward in the sequence (1..LOOP_SEQ_MOD). */
static uint32_t seq_dist(uint32_t a, uint32_t b)
{
	return b >= a ? b - a : LOOP_SEQ_MOD - a + b;
}

#define TIMING_TRIES 8

SHMG_EXPORT int shmg_loop_timing(const struct shmg_pinfo *p, struct shmg_loop_timing *out)
{
	struct shmg_loop_timing t;

	if (!p || !out)
		return shmg__fail(-EINVAL, "no PINFO file or no result");
	if (out->size < sizeof(t))
		return SHMG__SIZED_OUT(out, &t, struct shmg_loop_timing); /* -EINVAL */
	const unsigned char *pb = p->region->base;
	size_t ts = p->region->size == SHMG_PINFO_SIZE_NEW ? LOOP_SHIFT_NEW : 0;
	const uint32_t *seqw = (const uint32_t *)(const void *)(pb + LOOP_RINGSEQ + ts);
	int err = -EAGAIN;

	for (unsigned tries = 0; tries < TIMING_TRIES; tries++) {
		memset(&t, 0, sizeof(t));
		t.size = sizeof(t);
		uint32_t s1 = shmg_atomic_load(seqw, acquire);
		if (s1 == 0 || s1 > LOOP_SEQ_MOD) {
			err = 0; /* no iteration yet, or not our loop */
			break;
		}
		struct timespec st[SHMG_LOOP_RING], en[SHMG_LOOP_RING];
		/* Distance i back from s1: iteration s1 - i, slot (s1 - i) % 100. */
		for (unsigned i = 0; i < SHMG_LOOP_RING; i++) {
			unsigned slot = (loop_slot(s1) + SHMG_LOOP_RING - i) % SHMG_LOOP_RING;
			st[i] = load_ts(pb + LOOP_TEXECSTART + ts + 16 * slot);
			en[i] = load_ts(pb + LOOP_TEXECEND + ts + 16 * slot);
		}
		shmg_atomic_thread_fence(acquire);
		uint32_t s2 = shmg_atomic_load(seqw, relaxed);
		uint32_t d = seq_dist(s1, s2);
		/* The writer may have rewritten the slots of distances
		 * >= 99 - d since s1 (starts of s1 + 1 .. s2 + 1, ends of
		 * s1 .. s2): keep 0 .. 98 - d, never before iteration 1. */
		if (d > 98)
			continue;
		unsigned keep = 99 - d; /* distances 0 .. keep - 1 */
		if (s1 < keep && s1 < SHMG_LOOP_RING)
			keep = s1;
		/* Entries oldest first; end of distance 0 (the newest) and any
		 * end rewritten since s1 excluded. */
		t.n = keep;
		t.first = s1 - (keep - 1);
		for (unsigned j = 0; j < keep; j++) {
			unsigned i = keep - 1 - j;
			t.start[j] = st[i];
			t.end[j] = en[i];
		}
		t.n_end = keep ? keep - 1 : 0;
		if (keep) {
			t.end[keep - 1].tv_sec = 0;
			t.end[keep - 1].tv_nsec = 0;
		}
		err = 0;
		if (d == 0 || tries + 1 == TIMING_TRIES)
			break;
	}
	if (err == -EAGAIN)
		return shmg__fail(-EAGAIN, "the loop lapped the timing ring on every one of %d reads",
				  TIMING_TRIES);
	return SHMG__SIZED_OUT(out, &t, struct shmg_loop_timing);
}
