/*
 * atomics-demo: what shmguard's lowest layers fix, with real processes over
 * MAP_SHARED memory (the main demo until the shmguard tool exists).
 *  1. Two processes increment one counter for the same 300 ms: plain ++
 *     loses updates, shmg_atomic_inc loses none.
 *  2. A writer rewrites 256 KiB frames back to back while three readers copy
 *     them: a plain memcpy reader gets torn frames; a seqlock reader on
 *     shmguard's byte-wise atomic copies accepts none (it retries instead);
 *     a reader of the write-flag guard's latch (4 copies) accepts none and
 *     never has to retry.
 * Exits non-zero if the guarded side ever loses an update or accepts a torn
 * frame.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

#define FRAME_WORDS (256 * 1024 / 8)
#define FRAMES 3000

static void *shared_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(EXIT_FAILURE);
	}
	return p;
}

static pid_t start(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(EXIT_FAILURE);
	}
	return pid;
}

/* Run on the n-th CPU we may use (if there is one): a freshly forked child
 * starts on its parent's CPU, where a spinning parent would keep it from
 * running at the same time. */
static void pin_to_nth_cpu(int n)
{
	cpu_set_t allowed, one;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) <= n)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed) && n-- == 0) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			sched_setaffinity(0, sizeof(one), &one);
			return;
		}
}

/* Everyone waits here until all `n` arrived, so they really overlap. */
static void start_line(uint32_t *arrived, uint32_t n)
{
	shmg_atomic_inc(arrived, acq_rel);
	while (shmg_atomic_load(arrived, acquire) < n)
		shmg_cpu_relax();
}

/* ---- 1. counting ---- */

#define COUNT_MS 300

struct count_area {
	uint64_t counter;  /* incremented by both processes */
	uint64_t own[2];   /* what each process believes it added */
	uint32_t arrived;
	uint32_t stop;
};

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Both processes increment for the same COUNT_MS window; returns how many
 * increments were lost (the sum of what each added, minus the counter). */
static uint64_t lost_in_two_processes(bool atomic, uint64_t *total)
{
	struct count_area *a = shared_alloc(sizeof(*a));
	cpu_set_t before;
	sched_getaffinity(0, sizeof(before), &before);
	pid_t child = start();
	int me = child == 0;

	pin_to_nth_cpu(me);
	start_line(&a->arrived, 2);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t n = 0;
	while (!shmg_atomic_load(&a->stop, relaxed)) {
		for (int i = 0; i < 1000; i++, n++) {
			if (atomic)
				shmg_atomic_inc(&a->counter, relaxed);
			else
				(*(volatile uint64_t *)&a->counter)++;
		}
		if (!me && elapsed_ms(&t0) >= COUNT_MS)
			shmg_atomic_store(&a->stop, 1, relaxed); /* the parent keeps time */
	}
	a->own[me] = n;
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	sched_setaffinity(0, sizeof(before), &before);
	*total = a->own[0] + a->own[1];
	uint64_t lost = *total - shmg_atomic_load(&a->counter, acquire);
	munmap(a, sizeof(*a));
	return lost;
}

/* ---- 2. copying frames ---- */

struct frame_area {
	uint64_t seq; /* odd while the writer writes */
	uint32_t arrived;
	uint32_t done;
	uint64_t plain_copies, plain_torn;
	uint64_t guarded_copies, guarded_torn, guarded_retries;
	uint64_t latch_copies, latch_torn, latch_toofast;
	uint64_t frame[FRAME_WORDS];
};

/* The same frames also go through the write-flag guard with a latch of 4
 * copies (ImageStreamIO's offsets for its words, a fast circular buffer
 * after them): readers copy the newest complete copy and keep up. */
#define LATCH_COPIES 4
#define LATCH_DATA 4096
#define LATCH_SIZE (LATCH_DATA + LATCH_COPIES * FRAME_WORDS * 8)
static struct shmg_region *latch_region;
static struct shmg_wflag *latch;

static void latch_init(void *seg)
{
	struct shmg_region **r = &latch_region;
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS,
		.mark = 288, .counter = 264, .waiters = 289,
		.copies = LATCH_COPIES, .index = 296, .seq = 384, .seq_stride = 48,
		.data = LATCH_DATA, .data_len = FRAME_WORDS * 8,
	};
	if (shmg_region_from_memory(r, seg, LATCH_SIZE) != 0 ||
	    shmg_wflag_new(&latch, *r, &p) != 0) {
		fprintf(stderr, "atomics-demo: cannot place the guard\n");
		exit(EXIT_FAILURE);
	}
}

static bool frame_is_whole(const uint64_t *f)
{
	for (size_t k = 1; k < FRAME_WORDS; k++)
		if (f[k] != f[0])
			return false;
	return true;
}

static void writer(struct frame_area *a)
{
	static uint64_t next[FRAME_WORDS];
	for (uint64_t f = 1; f <= FRAMES; f++) {
		for (size_t k = 0; k < FRAME_WORDS; k++)
			next[k] = f;
		shmg_atomic_store(&a->seq, 2 * f - 1, relaxed);
		shmg_atomic_store_memcpy(a->frame, next, sizeof(next), release);
		shmg_atomic_store(&a->seq, 2 * f, release);
		void *copy = shmg_wflag_begin(latch);
		shmg_atomic_store_memcpy(copy, next, sizeof(next), relaxed);
		shmg_wflag_publish(latch);
	}
	shmg_atomic_store(&a->done, 1, release);
}

/* What most readers of shared frames do today: copy and hope. */
static void plain_reader(struct frame_area *a)
{
	static uint64_t copy[FRAME_WORDS];
	while (!shmg_atomic_load(&a->done, acquire)) {
		memcpy(copy, (const void *)a->frame, sizeof(copy));
		a->plain_copies++;
		a->plain_torn += !frame_is_whole(copy);
	}
}

/* A seqlock reader: keep a copy only if the sequence did not move. */
static void guarded_reader(struct frame_area *a)
{
	static uint64_t copy[FRAME_WORDS];
	uint64_t last = 0;
	while (!shmg_atomic_load(&a->done, acquire)) {
		uint64_t s1 = shmg_atomic_load(&a->seq, acquire);
		if (s1 & 1) {
			shmg_cpu_relax();
			continue;
		}
		shmg_atomic_load_memcpy(copy, a->frame, sizeof(copy), acquire);
		if (shmg_atomic_load(&a->seq, relaxed) != s1) {
			a->guarded_retries++;
			continue;
		}
		a->guarded_torn += !frame_is_whole(copy);
		a->guarded_copies += copy[0] != last; /* frames, not re-reads */
		last = copy[0];
	}
}

/* A write-flag latch reader: the newest complete copy, never torn. */
static void latch_reader(struct frame_area *a)
{
	static uint64_t copy[FRAME_WORDS];
	uint64_t last = 0;
	while (!shmg_atomic_load(&a->done, acquire)) {
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		struct timespec dl;
		shmg_deadline_in(&dl, 100 * 1000000);
		int err = shmg_wflag_read(latch, copy, NULL, sizeof(copy), &snap, &dl);
		if (err == SHMG_ETOOFAST)
			a->latch_toofast++;
		if (err || snap.frame == last)
			continue;
		last = snap.frame;
		a->latch_copies++;
		a->latch_torn += !frame_is_whole(copy) || copy[0] != snap.frame;
	}
}

int main(void)
{
	uint64_t plain_total, atomic_total;
	uint64_t plain_lost = lost_in_two_processes(false, &plain_total);
	uint64_t atomic_lost = lost_in_two_processes(true, &atomic_total);
	printf("1. two processes increment one shared counter for %d ms:\n", COUNT_MS);
	printf("   plain ++          %10llu increments, %10llu lost\n",
	       (unsigned long long)plain_total, (unsigned long long)plain_lost);
	printf("   shmg_atomic_inc   %10llu increments, %10llu lost\n",
	       (unsigned long long)atomic_total, (unsigned long long)atomic_lost);

	struct frame_area *a = shared_alloc(sizeof(*a));
	latch_init(shared_alloc(LATCH_SIZE));
	pid_t readers[3];
	for (int r = 0; r < 3; r++) {
		readers[r] = start();
		if (readers[r] == 0) {
			start_line(&a->arrived, 4);
			if (r == 0)
				plain_reader(a);
			else if (r == 1)
				guarded_reader(a);
			else
				latch_reader(a);
			_exit(0);
		}
	}
	start_line(&a->arrived, 4);
	writer(a);
	for (int r = 0; r < 3; r++)
		waitpid(readers[r], NULL, 0);
	printf("2. a writer rewrites %d frames of 256 KiB, back to back, while three readers copy them:\n", FRAMES);
	printf("   plain memcpy reader      %6llu copies, %6llu torn\n",
	       (unsigned long long)a->plain_copies, (unsigned long long)a->plain_torn);
	printf("   shmguard seqlock reader  %6llu frames, %6llu torn (%llu retried)\n",
	       (unsigned long long)a->guarded_copies, (unsigned long long)a->guarded_torn,
	       (unsigned long long)a->guarded_retries);
	printf("   write-flag latch reader  %6llu frames, %6llu torn (%llu too fast)\n",
	       (unsigned long long)a->latch_copies, (unsigned long long)a->latch_torn,
	       (unsigned long long)a->latch_toofast);
	printf("   (the seqlock reader throws away every copy the writer overlapped; the latch\n"
	       "   reader copies the newest complete of %d copies and never waits: doc/wflag.md)\n",
	       LATCH_COPIES);
	bool ok = atomic_lost == 0 && a->guarded_torn == 0 && a->latch_torn == 0;
	shmg_wflag_free(latch);
	shmg_region_close(latch_region);
	munmap(a, sizeof(*a));
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
