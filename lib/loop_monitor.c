/*
 * The milk processing loop, seen from outside: what a monitor shows
 * (shmg_loop_inspect, with timing medians from the rings), and the status
 * a loop passes on to its output stream (shmg_loop_propagate).
 * See doc/loop.md, "Monitors" and "Timeouts downstream".
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/loop.h>
#include <shmguard/memcpy.h>

#include "detail.h"
#include "isio_internal.h"
#include "loop_internal.h"
#include "milk_internal.h"
#include "sized.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* b - a in ns, or -1 when the segment's times are not times (nanoseconds
 * outside [0, 1e9)) or their difference does not fit: a sample skipped. */
static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	int64_t secs, ns;
	if (a->tv_nsec < 0 || a->tv_nsec >= 1000000000 || b->tv_nsec < 0 ||
	    b->tv_nsec >= 1000000000 ||
	    __builtin_sub_overflow((int64_t)b->tv_sec, (int64_t)a->tv_sec, &secs) ||
	    __builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)b->tv_nsec - (int64_t)a->tv_nsec, &ns))
		return -1;
	return ns;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

SHMG_EXPORT int shmg_loop_inspect(const struct shmg_pinfo *p, struct shmg_loop_info *out)
{
	struct shmg_loop_info info = {.size = sizeof(info)};
	if (!p || !out)
		return shmg__fail(-EINVAL, "no PINFO file or no result");
	if (out->size < sizeof(info))
		return SHMG__SIZED_OUT(out, &info, struct shmg_loop_info);
	const unsigned char *pb = p->region->base;
#define W32(off) shmg_atomic_load((const int32_t *)(const void *)(pb + (off)), relaxed)
#define W64(off) shmg_atomic_load((const uint64_t *)(const void *)(pb + (off)), relaxed)
	info.mode = W32(LOOP_TRIGGERMODE);
	char name[SHMG_PINFO_NAME_MAX];
	shmg_atomic_load_memcpy(name, pb + LOOP_STREAMNAME, sizeof(name), relaxed);
	size_t i = 0;
	for (; i < sizeof(name) && name[i]; i++)
		info.input[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	info.input[i] = 0;
	info.input_inode = W64(LOOP_STREAMINODE);
	info.sem = W32(LOOP_TRIGGERSEM);
	info.status = W32(LOOP_TRIGGERSTATUS);
	info.cnt = W64(LOOP_STREAMCNT);
	info.missed = W32(LOOP_MISSED);
	info.missed_total = W64(LOOP_MISSED_CUMUL);
	info.timeouts = W64(LOOP_TIMEOUTCNT);
	info.loopcnt = (int64_t)W64(PINFO_LOOPCNT);
	info.loopcnt_max = (int64_t)W64(LOOP_LOOPCNTMAX);
	info.ctrl = W32(PINFO_CTRLVAL);
	info.loopstat = W32(PINFO_LOOPSTAT);
#undef W32
#undef W64

	struct shmg_loop_timing *t = malloc(sizeof(*t));
	if (!t)
		return shmg__fail(-ENOMEM, "no memory for the timing rings");
	t->size = sizeof(*t);
	int err = shmg_loop_timing(p, t);
	if (err == 0 && t->n) {
		uint64_t v[SHMG_LOOP_RING];
		unsigned k = 0;
		for (unsigned j = 0; j + 1 < t->n; j++) {
			int64_t d = ns_between(&t->start[j], &t->start[j + 1]);
			if (d >= 0)
				v[k++] = (uint64_t)d;
		}
		info.iter_median_ns = median(v, k);
		info.samples = k;
		k = 0;
		for (unsigned j = 0; j < t->n_end; j++) {
			if (t->end[j].tv_sec == 0 && t->end[j].tv_nsec == 0)
				continue; /* exec_end not called (yet) */
			int64_t d = ns_between(&t->start[j], &t->end[j]);
			if (d >= 0)
				v[k++] = (uint64_t)d;
		}
		info.exec_median_ns = median(v, k);
		info.iterations = t->first + t->n - 1;
	}
	free(t);
	/* A ring the loop laps on every try leaves the medians at 0. */
	return SHMG__SIZED_OUT(out, &info, struct shmg_loop_info);
}

SHMG_EXPORT int shmg_loop_propagate(const struct shmg_loop *l, struct shmg_isio *out)
{
	if (!l || !out)
		return shmg__fail(-EINVAL, "no loop or no output stream");
	unsigned n = out->layout.nproctrace;
	if (n == 0)
		return shmg__fail(-EINVAL, "the output stream has no process-trace records");
	unsigned char *ob = isio_base(out) + out->layout.off_proctrace;
	const struct shmg_isio *in = l->p.input;
	/* Each word by a relaxed atomic access (readers read concurrently);
	 * the caller's publish of the output frame (release) orders them
	 * before its cnt0 (doc/loop.md, "Timeouts downstream"). */
	if (in && in != out && in->layout.nproctrace) {
		unsigned m = in->layout.nproctrace;
		const unsigned char *ib = isio_base(in) + in->layout.off_proctrace;
		for (unsigned k = n - 1; k >= 1; k--) {
			unsigned char rec[LOOP_PT_SIZE] = {0};
			if (k - 1 < m)
				shmg_atomic_load_memcpy(rec, ib + (size_t)(k - 1) * LOOP_PT_SIZE,
							sizeof(rec), relaxed);
			shmg_atomic_store_memcpy(ob + (size_t)k * LOOP_PT_SIZE, rec, sizeof(rec),
						 relaxed);
		}
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t inode = in ? shmg_atomic_load(isio_word64(in, LOOP_ISIO_INODE), relaxed) : 0;
	shmg_atomic_store((int32_t *)(void *)(ob + LOOP_PT_MODE), (int32_t)l->p.mode, relaxed);
	shmg_atomic_store((int32_t *)(void *)(ob + LOOP_PT_PID), (int32_t)getpid(), relaxed);
	shmg_atomic_store((uint64_t *)(void *)(ob + LOOP_PT_INODE), inode, relaxed);
	shmg_atomic_store((int64_t *)(void *)(ob + LOOP_PT_PROCSTART), (int64_t)l->t_start.tv_sec, relaxed);
	shmg_atomic_store((int64_t *)(void *)(ob + LOOP_PT_PROCSTART + 8), (int64_t)l->t_start.tv_nsec,
			  relaxed);
	shmg_atomic_store((int64_t *)(void *)(ob + LOOP_PT_UPDATE), (int64_t)now.tv_sec, relaxed);
	shmg_atomic_store((int64_t *)(void *)(ob + LOOP_PT_UPDATE + 8), (int64_t)now.tv_nsec, relaxed);
	shmg_atomic_store((int32_t *)(void *)(ob + LOOP_PT_SEMINDEX), (int32_t)l->slot, relaxed);
	shmg_atomic_store((int32_t *)(void *)(ob + LOOP_PT_STATUS), (int32_t)l->status, relaxed);
	shmg_atomic_store((uint64_t *)(void *)(ob + LOOP_PT_CNT0), l->last, relaxed);
	return 0;
}
