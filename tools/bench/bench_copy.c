/*
 * Benchmark suite "copy": byte-wise atomic memcpy against memcpy, measured
 * side by side (interleaved, so drift hits both alike). Throughput in GB/s,
 * medians; ratios are ours / memcpy's. The naive word-wise relaxed loop is
 * measured too, to show what the aliasing implementation buys.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/memcpy.h>

#include "bench.h"

enum kind { K_MEMCPY, K_LOAD, K_STORE, K_NAIVE, K_COUNT };

/* The copy a careful programmer writes without this library: 8-byte relaxed
 * atomic loads (compiler cannot merge them into vector moves). */
static void naive_words(void *dst, const void *src, size_t n)
{
	const uint64_t *s = src;
	uint64_t *d = dst;
	for (size_t i = 0; i < n / 8; i++)
		d[i] = shmg_atomic_load(&s[i], relaxed);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* memcpy through a volatile pointer: the compiler cannot elide or inline it,
 * just as it cannot see into ours. */
static void *(*volatile plain_memcpy)(void *, const void *, size_t) = memcpy;

static void copy_once(enum kind k, void *dst, const void *src, size_t n)
{
	switch (k) {
	case K_MEMCPY: plain_memcpy(dst, src, n); break;
	case K_LOAD: shmg_atomic_load_memcpy(dst, src, n, acquire); break;
	case K_STORE: shmg_atomic_store_memcpy(dst, src, n, release); break;
	default: naive_words(dst, src, n); break;
	}
}

/* GB/s of one timed batch of copies (enough of them to last ~2 ms). */
static double batch_gbps(enum kind k, void *dst, const void *src, size_t n, int iters)
{
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < iters; i++) {
		copy_once(k, dst, src, n);
		BENCH_KEEP(dst);
	}
	uint64_t dt = bench_now_ns() - t0;
	return dt ? (double)n * iters / (double)dt : 0.0;
}

int bench_suite_copy(void)
{
	static const struct { size_t n; const char *name; } sizes[] = {
		{4u << 10, "4KiB"}, {64u << 10, "64KiB"}, {1u << 20, "1MiB"}, {16u << 20, "16MiB"},
	};
	static const char *const names[K_COUNT] = {"memcpy", "load", "store", "naive_words"};
	int reps = bench_repeats();
	double *samples = calloc((size_t)reps * K_COUNT, sizeof(double));
	char key[96];

	if (!samples)
		return 1;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s].n;
		unsigned char *src = aligned_alloc(64, n), *dst = aligned_alloc(64, n);
		if (!src || !dst)
			return 1;
		memset(src, 0x5a, n);
		memset(dst, 0, n);
		int iters = (int)((bench_quick() ? (1u << 20) : (32u << 20)) / n);
		if (iters < 4)
			iters = 4;
		for (int k = 0; k < K_COUNT; k++) /* warm caches and page tables */
			batch_gbps((enum kind)k, dst, src, n, 2);
		for (int r = 0; r < reps; r++)
			for (int k = 0; k < K_COUNT; k++)
				samples[k * reps + r] = batch_gbps((enum kind)k, dst, src, n, iters);
		double med[K_COUNT];
		for (int k = 0; k < K_COUNT; k++) {
			med[k] = bench_median(&samples[k * reps], (size_t)reps);
			snprintf(key, sizeof(key), "copy.%s.%s.GBps", names[k], sizes[s].name);
			bench_print(key, med[k], "GB/s");
		}
		for (int k = K_LOAD; k < K_COUNT; k++) {
			snprintf(key, sizeof(key), "copy.%s.%s.vs_memcpy", names[k], sizes[s].name);
			bench_ratio(key, med[k], med[K_MEMCPY]);
		}
		free(src);
		free(dst);
	}
	free(samples);
	return 0;
}
