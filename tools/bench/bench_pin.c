/*
 * Benchmark suite "pin": pinned (zero-copy) reads over the latch
 * (doc/pin.md), against their peers in the same run:
 *   processing a 16 MiB frame in place after a pin (sum every pixel)
 *   against shmg_wflag_read's copy then the same sum;
 *   a pin and unpin, at 4 KiB and 16 MiB, against a 4 KiB snapshot read;
 *   the writer's publish rate with 4 readers pinning (and processing) in
 *   other processes, against 4 readers copying instead, and against none;
 *   the asymmetric variant of the handshake: readers announce with no
 *   fence, the writer pays with membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 *   (readers registered), against seq_cst fences on both sides, measured
 *   on the same words by the same loops.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/wflag.h>

#include "bench.h"

#include "wflag_words.h"

#define OFF_PINS 1024 /* pin word k at 1024 + 8k, its owner at 1028 + 8k */
#define NPINS 8
#define OFF_DATA 4096
#define KiB (1u << 10)
#define MiB (1u << 20)

static void *shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

struct seg {
	unsigned char *base;
	size_t size;
	struct shmg_region *r;
	struct shmg_wflag *g;
};

static int seg_new(struct seg *s, unsigned copies, size_t frame)
{
	s->size = OFF_DATA + copies * frame;
	s->base = shared(s->size);
	if (!s->base || shmg_region_from_memory(&s->r, s->base, s->size) != 0)
		return -1;
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER, .copies = copies, .index = OFF_INDEX, .seq = OFF_SEQ,
		.seq_stride = SEQ_STRIDE, .data = OFF_DATA, .data_len = frame,
		.npins = NPINS, .pins = OFF_PINS, .pin_owners = OFF_PINS + 4, .pin_stride = 8,
	};
	return shmg_wflag_new(&s->g, s->r, &p);
}

static void seg_free(struct seg *s)
{
	shmg_wflag_free(s->g);
	shmg_region_close(s->r);
	munmap(s->base, s->size);
}

/* One frame: every 32-bit pixel holds v. */
static void write_frame(struct seg *s, const uint32_t *frame, size_t len)
{
	void *copy = shmg_wflag_begin(s->g);
	shmg_atomic_store_memcpy(copy, frame, len, relaxed);
	shmg_wflag_publish(s->g);
}

/* The processing step both sides do: sum every pixel. */
static uint64_t sum(const uint32_t *p, size_t len)
{
	uint64_t a = 0, b = 0;
	for (size_t i = 0; i + 1 < len / 4; i += 2) {
		a += p[i];
		b += p[i + 1];
	}
	return a + b;
}

/* ---------------------------------------------------------------- in place vs copy */

static int process_16mib(void)
{
	int reps = bench_repeats();
	size_t len = bench_quick() ? MiB : 16 * MiB;
	struct seg s;
	uint32_t *frame = malloc(len), *buf = malloc(len);
	double pin_t[64], copy_t[64];
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};

	if (!frame || !buf || seg_new(&s, 2, len) != 0 || shmg_wflag_pin_claim(s.g, &slot) != 0)
		return 1;
	for (size_t i = 0; i < len / 4; i++)
		frame[i] = (uint32_t)i;
	write_frame(&s, frame, len);
	memset(buf, 1, len);
	for (int rep = 0; rep < reps && rep < 64; rep++) {
		uint64_t t0 = bench_now_ns();
		if (shmg_wflag_pin(s.g, slot, &pin) != 0)
			return 1;
		uint64_t a = sum(pin.data, pin.len);
		shmg_wflag_unpin(s.g, slot);
		uint64_t t1 = bench_now_ns();
		if (shmg_wflag_read(s.g, buf, NULL, len, &snap, NULL) != 0)
			return 1;
		uint64_t b = sum(buf, len);
		uint64_t t2 = bench_now_ns();
		if (a != b) {
			fprintf(stderr, "%s: pin: the sums differ\n", bench_prog);
			return 1;
		}
		pin_t[rep] = (double)(t1 - t0);
		copy_t[rep] = (double)(t2 - t1);
	}
	double p = bench_median(pin_t, (size_t)reps), c = bench_median(copy_t, (size_t)reps);
	bench_print("pin.process.16MiB.pinned.us", p / 1e3, "us");
	bench_print("pin.process.16MiB.copied.us", c / 1e3, "us");
	bench_ratio("pin.process.16MiB.vs_copy", p, c);
	seg_free(&s);
	free(frame);
	free(buf);
	return 0;
}

/* ---------------------------------------------------------------- pin + unpin */

static double pin_unpin_ns(size_t len, double *read_ns)
{
	int reps = bench_repeats(), iters = bench_quick() ? 1000 : 200000;
	struct seg s;
	uint32_t *frame = calloc(1, len);
	unsigned char small[4 * KiB];
	double t[64], r[64];
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};

	if (!frame || seg_new(&s, 4, len) != 0 || shmg_wflag_pin_claim(s.g, &slot) != 0)
		return -1;
	write_frame(&s, frame, len);
	for (int rep = 0; rep < reps && rep < 64; rep++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			shmg_wflag_pin(s.g, slot, &pin);
			BENCH_KEEP(pin.data);
			shmg_wflag_unpin(s.g, slot);
		}
		uint64_t t1 = bench_now_ns();
		for (int i = 0; i < iters && read_ns; i++) {
			shmg_wflag_read(s.g, small, NULL, sizeof(small), &snap, NULL);
			BENCH_KEEP(small[i & 4095]);
		}
		uint64_t t2 = bench_now_ns();
		t[rep] = (double)(t1 - t0) / iters;
		r[rep] = (double)(t2 - t1) / iters;
	}
	if (read_ns)
		*read_ns = bench_median(r, (size_t)reps);
	seg_free(&s);
	free(frame);
	return bench_median(t, (size_t)reps);
}

static int pin_unpin(void)
{
	double read4;
	double a = pin_unpin_ns(4 * KiB, &read4);
	double b = pin_unpin_ns(bench_quick() ? MiB : 16 * MiB, NULL);
	if (a < 0 || b < 0)
		return 1;
	bench_print("pin.pin_unpin.ns", a, "ns");
	bench_print("pin.pin_unpin.4KiB.ns", a, "ns");
	bench_print("pin.pin_unpin.16MiB.ns", b, "ns");
	bench_print("pin.read.4KiB.ns", read4, "ns");
	bench_ratio("pin.pin_unpin.4KiB.vs_read", a, read4);
	return 0;
}

/* ---------------------------------------------------------------- the writer's rate */

#define READERS 4

/* Frames per second, writing `frames` frames. */
static double publish_rate(struct seg *s, const uint32_t *frame, size_t len, int frames,
			   uint64_t *skipped)
{
	uint64_t t0 = bench_now_ns();
	for (int f = 0; f < frames; f++) {
		void *copy;
		uint32_t sk;
		shmg_wflag_begin_timed(s->g, SHMG_WFLAG_FULL_WAIT, NULL, &copy, &sk);
		*skipped += sk;
		shmg_atomic_store_memcpy(copy, frame, len, relaxed);
		shmg_wflag_publish(s->g);
	}
	return frames / ((double)(bench_now_ns() - t0) / 1e9);
}

/* A reader process, as an adaptive-optics consumer at its own pace: take
 * the newest frame, sum its first 64 KiB, sleep 50 us; until *stop. Pinned
 * (in place, then unpin) or, the peer, copied out by shmg_wflag_read. It
 * never makes the writer wake it, so between the two the writer's figure
 * differs only by what pins cost it: the copies it passes over and the
 * waits when every other copy is pinned. */
static pid_t reader(struct seg *s, bool pinned, uint32_t *stop, uint32_t *ready)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	bench_pin(1);
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	const struct timespec pace = {.tv_nsec = 50000};
	uint32_t *buf = malloc(64 * KiB);
	if (!buf || (pinned && shmg_wflag_pin_claim(s->g, &slot) != 0))
		_exit(1);
	shmg_atomic_inc(ready, release);
	while (!shmg_atomic_load(stop, acquire)) {
		if (pinned && shmg_wflag_pin(s->g, slot, &pin) == 0) {
			BENCH_KEEP(sum(pin.data, 64 * KiB));
			shmg_wflag_unpin(s->g, slot);
		} else if (!pinned && shmg_wflag_read(s->g, buf, NULL, 64 * KiB, NULL, NULL) == 0) {
			BENCH_KEEP(sum(buf, 64 * KiB));
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pace, NULL);
	}
	if (pinned)
		shmg_wflag_pin_release(s->g, slot);
	_exit(0);
}

/* The writer's rate (frames/s) with READERS readers of one kind running. */
static double rate_with_readers(struct seg *s, bool pinned, uint32_t *ctl, const uint32_t *frame,
				size_t len, int frames, uint64_t *skipped)
{
	pid_t kids[READERS];
	shmg_atomic_store(&ctl[0], 0, relaxed);
	shmg_atomic_store(&ctl[1], 0, release);
	for (int k = 0; k < READERS; k++)
		kids[k] = reader(s, pinned, &ctl[0], &ctl[1]);
	while (shmg_atomic_load(&ctl[1], acquire) < READERS)
		shmg_cpu_relax();
	double r = publish_rate(s, frame, len, frames, skipped);
	shmg_atomic_store(&ctl[0], 1, release);
	for (int k = 0; k < READERS; k++)
		waitpid(kids[k], NULL, 0);
	return r;
}

static int publish_with_pins(void)
{
	int reps = bench_repeats(), frames = bench_quick() ? 20 : 2000;
	size_t len = MiB;
	struct seg s;
	uint32_t *frame = calloc(1, len), *ctl = shared(4096);
	double with[64], without[64], copying[64];
	uint64_t skipped = 0, none = 0;

	if (!frame || !ctl || seg_new(&s, 4, len) != 0)
		return 1;
	bench_pin(0);
	write_frame(&s, frame, len);
	if (reps > 64)
		reps = 64;
	for (int rep = 0; rep < reps; rep++) { /* interleaved: all see the same machine */
		without[rep] = publish_rate(&s, frame, len, frames, &none);
		with[rep] = rate_with_readers(&s, true, ctl, frame, len, frames, &skipped);
		copying[rep] = rate_with_readers(&s, false, ctl, frame, len, frames, &none);
	}
	double w = bench_median(with, (size_t)reps), o = bench_median(without, (size_t)reps);
	double c = bench_median(copying, (size_t)reps);
	bench_print("pin.publish.with_pins.fps", w, "fps");
	bench_print("pin.publish.with_copying_readers.fps", c, "fps");
	bench_print("pin.publish.without.fps", o, "fps");
	bench_ratio("pin.publish.with_pins.vs_without", w, o);
	bench_ratio("pin.publish.with_pins.vs_with_copying_readers", w, c);
	bench_print("pin.publish.skipped_per_frame", (double)skipped / ((double)frames * reps),
		    "count");
	seg_free(&s);
	free(frame);
	munmap(ctl, 4096);
	return 0;
}

/* ---------------------------------------------------------------- asymmetric handshake */

static long membarrier_cmd(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0u, 0);
}

/* The handshake alone on bench-local words: a pin word per reader and a
 * sequence word per copy, as lib/wflag_pin.c lays them out. */
struct hs_words {
	uint32_t pin[NPINS];
	uint64_t seq[4];
	uint32_t stop, ready;
};

/* Reader's pin + unpin: announce, [fence], re-check, unpin. */
static double reader_ns(struct hs_words *w, bool fence)
{
	int reps = bench_repeats(), iters = bench_quick() ? 1000 : 1000000;
	double t[64];
	for (int rep = 0; rep < reps && rep < 64; rep++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			uint64_t q1 = shmg_atomic_load(&w->seq[1], acquire);
			shmg_atomic_store(&w->pin[0], 2u << 4, relaxed);
			if (fence)
				shmg_atomic_thread_fence(seq_cst);
			else
				shmg_compiler_barrier(seq_cst);
			uint64_t q2 = shmg_atomic_load(&w->seq[1], relaxed);
			BENCH_KEEP(q1 == q2);
			shmg_atomic_store(&w->pin[0], 0, release);
		}
		t[rep] = (double)(bench_now_ns() - t0) / iters;
	}
	return bench_median(t, (size_t)reps);
}

/* Writer's look: zero a sequence word, [fence | membarrier], read every
 * pin word, restore. A registered reader runs on the other CPU. */
static double writer_ns(struct hs_words *w, bool fence)
{
	int reps = bench_repeats(), iters = bench_quick() ? 100 : 20000;
	double t[64];
	for (int rep = 0; rep < reps && rep < 64; rep++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			shmg_atomic_store(&w->seq[2], 0, relaxed);
			if (fence)
				shmg_atomic_thread_fence(seq_cst);
			else
				membarrier_cmd(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
			uint32_t any = 0;
			for (int k = 0; k < NPINS; k++)
				any |= shmg_atomic_load(&w->pin[k], acquire);
			BENCH_KEEP(any);
			shmg_atomic_store(&w->seq[2], 7, release);
		}
		t[rep] = (double)(bench_now_ns() - t0) / iters;
	}
	return bench_median(t, (size_t)reps);
}

static int asymmetric(void)
{
	struct hs_words *w = shared(sizeof(*w));
	if (!w)
		return 1;
	long q = membarrier_cmd(MEMBARRIER_CMD_QUERY);
	bool avail = q >= 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
		     membarrier_cmd(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
	bench_print("pin.asym.available", avail, "count");
	bench_pin(0);
	w->seq[1] = 5;
	double rs = reader_ns(w, true), ra = reader_ns(w, false);
	bench_print("pin.sym.pin_unpin.ns", rs, "ns");
	bench_print("pin.asym.pin_unpin.ns", ra, "ns");
	bench_ratio("pin.asym.pin_unpin.vs_sym", ra, rs);
	/* A registered reader pinning on the other CPU while the writer looks. */
	pid_t kid = fork();
	if (kid == 0) {
		bench_pin(1);
		if (avail)
			membarrier_cmd(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
		shmg_atomic_store(&w->ready, 1, release);
		while (!shmg_atomic_load(&w->stop, acquire)) {
			shmg_atomic_store(&w->pin[1], 2u << 4, relaxed);
			shmg_compiler_barrier(seq_cst);
			BENCH_KEEP(shmg_atomic_load(&w->seq[1], relaxed));
			shmg_atomic_store(&w->pin[1], 0, release);
		}
		_exit(0);
	}
	while (!shmg_atomic_load(&w->ready, acquire))
		shmg_cpu_relax();
	double ws = writer_ns(w, true), wa = avail ? writer_ns(w, false) : 0;
	shmg_atomic_store(&w->stop, 1, release);
	waitpid(kid, NULL, 0);
	bench_print("pin.sym.writer_look.ns", ws, "ns");
	if (avail) {
		bench_print("pin.asym.writer_look.ns", wa, "ns");
		bench_ratio("pin.asym.writer_look.vs_sym", wa, ws);
		/* Pins per frame above which the readers' saving pays for the
		 * writer's membarrier. */
		double saved = rs - ra;
		bench_print("pin.asym.breakeven_pins_per_frame",
			    saved > 0 ? (wa - ws) / saved : 1e9, "count");
	}
	munmap(w, sizeof(*w));
	return 0;
}

int bench_suite_pin(void)
{
	return process_16mib() | pin_unpin() | publish_with_pins() | asymmetric();
}
