/*
 * Benchmark suite "atomic": each operation of the atomics layer against the
 * plain __atomic builtin it wraps, in the same run (interleaved batches,
 * medians). The point is a ratio of 1.00: the layer adds nothing.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>

#include <shmguard/atomic.h>

#include "bench.h"

static uint64_t word; /* the object every operation works on */

#define OPS(X)                                                                 \
	X(load_relaxed, shmg_atomic_load(&word, relaxed),                      \
	  __atomic_load_n(&word, __ATOMIC_RELAXED))                            \
	X(store_release, ({ shmg_atomic_store(&word, i, release); 0; }),       \
	  ({ __atomic_store_n(&word, i, __ATOMIC_RELEASE); 0; }))              \
	X(inc_orig_relaxed, shmg_atomic_inc_orig(&word, relaxed),              \
	  __atomic_fetch_add(&word, 1, __ATOMIC_RELAXED))                      \
	X(cmpxchg_acq_rel, shmg_atomic_cmpxchg(&word, word, i, acq_rel),       \
	  ({ uint64_t e = word; __atomic_compare_exchange_n(&word, &e, i, 0,   \
			__ATOMIC_ACQ_REL, __ATOMIC_RELAXED); }))               \
	X(rmw_loop_acq_rel, ({ uint64_t o, n;                                  \
		shmg_atomic_rmw_loop(&word, o, n, acq_rel, { n = o * 3 + 1; }); }), \
	  ({ uint64_t o = __atomic_load_n(&word, __ATOMIC_RELAXED), n;         \
		do { n = o * 3 + 1; } while (!__atomic_compare_exchange_n(     \
			&word, &o, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)); 0; })) \
	X(fence_acquire, ({ shmg_atomic_thread_fence(acquire); 0; }),          \
	  ({ __atomic_thread_fence(__ATOMIC_ACQUIRE); 0; }))                   \
	X(fence_seq_cst, ({ shmg_atomic_thread_fence(seq_cst); 0; }),          \
	  ({ __atomic_thread_fence(__ATOMIC_SEQ_CST); 0; }))

/* ns per operation over one batch of n, ours (which = 0) or the builtin. */
#define DEFINE_BATCH(name, ours, builtin)                                      \
	static double batch_##name(int which, uint64_t n)                      \
	{                                                                      \
		uint64_t t0 = bench_now_ns();                                  \
		if (which == 0)                                                \
			for (uint64_t i = 0; i < n; i++)                       \
				BENCH_KEEP(ours);                              \
		else                                                           \
			for (uint64_t i = 0; i < n; i++)                       \
				BENCH_KEEP(builtin);                           \
		return (double)(bench_now_ns() - t0) / (double)n;              \
	}
OPS(DEFINE_BATCH)

#define RUN_OP(name, ours, builtin) failed |= run_op(#name, batch_##name);

static int run_op(const char *name, double (*batch)(int, uint64_t))
{
	int reps = bench_repeats();
	uint64_t n = bench_quick() ? 10000 : 2000000;
	double *ours = calloc((size_t)reps, sizeof(double));
	double *peer = calloc((size_t)reps, sizeof(double));
	char key[96];

	if (!ours || !peer)
		return 1;
	batch(0, n / 10);
	batch(1, n / 10);
	for (int r = 0; r < reps; r++) {
		ours[r] = batch(0, n);
		peer[r] = batch(1, n);
	}
	double mo = bench_median(ours, (size_t)reps), mp = bench_median(peer, (size_t)reps);
	snprintf(key, sizeof(key), "atomic.%s.ns", name);
	bench_print(key, mo, "ns");
	snprintf(key, sizeof(key), "atomic.%s.builtin.ns", name);
	bench_print(key, mp, "ns");
	snprintf(key, sizeof(key), "atomic.%s.vs_builtin", name);
	bench_ratio(key, mo, mp);
	free(ours);
	free(peer);
	return 0;
}

int bench_suite_atomic(void)
{
	int failed = 0;
	OPS(RUN_OP)
	return failed;
}
