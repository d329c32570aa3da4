/*
 * Benchmark suite "wflag": the write-flag guard against its peers in the
 * same run:
 *   a snapshot read of an idle 1 MiB frame, and a whole writer frame
 *   (begin, store copy, publish), each against plain memcpy;
 *   publish-to-reader-running latency with the reader asleep, and a
 *   two-process ping-pong, against POSIX semaphores and a raw futex
 *   measured the same way;
 *   consistent frames a reader gets per frame written while the writer
 *   never pauses: through a 4-copy latch, and on a single buffer.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/wflag.h>

#include "bench.h"

#include "wflag_words.h"

#define OFF_DATA 4096
#define MiB (1u << 20)

static void *shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* A guard over seg (its region and handle: release with guard_free). */
static int guard_in(struct shmg_region **r, struct shmg_wflag **g, void *seg,
		    size_t size, unsigned copies, size_t frame)
{
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER,
		.waiters = OFF_WAITERS, .owner = OFF_OWNER,
	};
	if (copies) {
		p.copies = copies;
		p.index = OFF_INDEX;
		p.seq = OFF_SEQ;
		p.seq_stride = SEQ_STRIDE;
		p.data = OFF_DATA + frame;
		p.data_len = frame;
	}
	*g = NULL;
	if (shmg_region_from_memory(r, seg, size) != 0)
		return -1;
	return shmg_wflag_new(g, *r, &p);
}

static void guard_free(struct shmg_region *r, struct shmg_wflag *g)
{
	shmg_wflag_free(g);
	shmg_region_close(r);
}

/* ---------------------------------------------------------------- throughput */

static int throughput(void)
{
	int reps = bench_repeats(), iters = bench_quick() ? 2 : 40;
	size_t size = OFF_DATA + MiB;
	unsigned char *seg = shared(size), *buf = malloc(MiB), *frame = malloc(MiB);
	struct shmg_region *r;
	struct shmg_wflag *g;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	double read_o[64], read_p[64], pub_o[64], pub_p[64];

	if (!seg || !buf || !frame || guard_in(&r, &g, seg, size, 0, MiB) != 0)
		return 1;
	memset(frame, 0x5a, MiB);
	memset(seg + OFF_DATA, 0x5a, MiB);
	for (int rep = 0; rep < reps && rep < 64; rep++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < iters; i++)
			if (shmg_wflag_read(g, buf, seg + OFF_DATA, MiB, &snap, NULL) != 0)
				return 1;
		uint64_t t1 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			memcpy(buf, seg + OFF_DATA, MiB);
			BENCH_KEEP(buf[i]);
		}
		uint64_t t2 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			shmg_wflag_begin(g);
			shmg_atomic_store_memcpy(seg + OFF_DATA, frame, MiB, relaxed);
			shmg_wflag_publish(g);
		}
		uint64_t t3 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			memcpy(seg + OFF_DATA, frame, MiB);
			BENCH_KEEP(seg[OFF_DATA + (size_t)i]);
		}
		uint64_t t4 = bench_now_ns();
		double bytes = (double)iters * MiB;
		read_o[rep] = bytes / (double)(t1 - t0);
		read_p[rep] = bytes / (double)(t2 - t1);
		pub_o[rep] = bytes / (double)(t3 - t2);
		pub_p[rep] = bytes / (double)(t4 - t3);
	}
	double ro = bench_median(read_o, (size_t)reps), rp = bench_median(read_p, (size_t)reps);
	double po = bench_median(pub_o, (size_t)reps), pp = bench_median(pub_p, (size_t)reps);
	bench_print("wflag.read.1MiB.gbps", ro, "GB/s");
	bench_print("wflag.read.1MiB.memcpy.gbps", rp, "GB/s");
	bench_ratio("wflag.read.1MiB.vs_memcpy", ro, rp);
	bench_print("wflag.publish.1MiB.gbps", po, "GB/s");
	bench_print("wflag.publish.1MiB.memcpy.gbps", pp, "GB/s");
	bench_ratio("wflag.publish.1MiB.vs_memcpy", po, pp);
	guard_free(r, g);
	munmap(seg, size);
	free(buf);
	free(frame);
	return 0;
}

/* ---------------------------------------------------------------- wake-up */

enum peer { OURS, SEM, FUTEX };

struct pingpong {
	sem_t sem[2];
	uint32_t fx[2];
	unsigned char seg[2][OFF_DATA];
};

static void futex_wait_on(uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake_on(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Side `me` waits for the other's signal number k, then signals its own. */
static void play(struct pingpong *pp, enum peer how, int me, int rounds,
		 struct shmg_wflag **g)
{
	for (int k = 1; k <= rounds; k++) {
		if (me == 1 || k > 1) {
			int from = 1 - me;
			/* side 1 answers frame k of side 0; side 0 waits for
			 * the answer to its frame k - 1 */
			uint64_t want = me == 1 ? (uint64_t)k - 1 : (uint64_t)k - 2;
			switch (how) {
			case OURS:
				shmg_wflag_wait_update(g[from], want, NULL, NULL);
				break;
			case SEM:
				while (sem_wait(&pp->sem[from]) != 0 && errno == EINTR)
					;
				break;
			case FUTEX:
				while (shmg_atomic_load(&pp->fx[from], acquire) <= (uint32_t)want)
					futex_wait_on(&pp->fx[from], (uint32_t)want);
				break;
			}
		}
		switch (how) {
		case OURS:
			shmg_wflag_begin(g[me]);
			shmg_wflag_publish(g[me]);
			break;
		case SEM:
			sem_post(&pp->sem[me]);
			break;
		case FUTEX:
			shmg_atomic_store(&pp->fx[me], (uint32_t)k, release);
			futex_wake_on(&pp->fx[me]);
			break;
		}
	}
}

/* Ping-pong: one-way latency in microseconds, round trip / 2, for a whole
 * batch; the two sides on two CPUs. */
static double wake_latency(enum peer how, int rounds)
{
	struct pingpong *pp = shared(sizeof(*pp));
	struct shmg_region *r[2];
	struct shmg_wflag *g[2];
	if (!pp)
		return -1;
	sem_init(&pp->sem[0], 1, 0);
	sem_init(&pp->sem[1], 1, 0);
	for (int i = 0; i < 2; i++)
		if (guard_in(&r[i], &g[i], pp->seg[i], OFF_DATA, 0, 0) != 0)
			return -1;
	pid_t pid = fork();
	if (pid == 0) {
		bench_pin(1);
		play(pp, how, 1, rounds, g);
		_exit(0);
	}
	bench_pin(0);
	uint64_t t0 = bench_now_ns();
	play(pp, how, 0, rounds, g);
	/* the last answer */
	switch (how) {
	case OURS:
		shmg_wflag_wait_update(g[1], (uint64_t)rounds - 1, NULL, NULL);
		break;
	case SEM:
		sem_wait(&pp->sem[1]);
		break;
	case FUTEX:
		while (shmg_atomic_load(&pp->fx[1], acquire) < (uint32_t)rounds)
			futex_wait_on(&pp->fx[1], (uint32_t)rounds - 1);
		break;
	}
	uint64_t t1 = bench_now_ns();
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 2; i++)
		guard_free(r[i], g[i]);
	munmap(pp, sizeof(*pp));
	return (double)(t1 - t0) / 1e3 / (2.0 * rounds);
}

/* Publish-to-reader-running with the reader surely asleep: the publisher
 * pauses 100 us before each publish; microseconds from just before the
 * publish (or post, or futex store) to the reader running again; median. */
static double wake_asleep(enum peer how, int rounds)
{
	struct pingpong *pp = shared(sizeof(*pp));
	uint64_t *t = shared(2 * sizeof(uint64_t) * (size_t)rounds);
	struct shmg_region *r;
	struct shmg_wflag *g;
	double *lat = malloc(sizeof(double) * (size_t)rounds);
	if (!pp || !t || !lat || guard_in(&r, &g, pp->seg[0], OFF_DATA, 0, 0) != 0)
		return -1;
	sem_init(&pp->sem[0], 1, 0);
	pid_t pid = fork();
	if (pid == 0) {
		bench_pin(1);
		for (int k = 1; k <= rounds; k++) {
			switch (how) {
			case OURS:
				shmg_wflag_wait_update(g, (uint64_t)k - 1, NULL, NULL);
				break;
			case SEM:
				while (sem_wait(&pp->sem[0]) != 0 && errno == EINTR)
					;
				break;
			case FUTEX:
				while (shmg_atomic_load(&pp->fx[0], acquire) < (uint32_t)k)
					futex_wait_on(&pp->fx[0], (uint32_t)k - 1);
				break;
			}
			t[rounds + k - 1] = bench_now_ns();
		}
		_exit(0);
	}
	bench_pin(0);
	for (int k = 1; k <= rounds; k++) {
		usleep(100); /* past the reader's spin (about 5 us): asleep */
		t[k - 1] = bench_now_ns();
		switch (how) {
		case OURS:
			shmg_wflag_begin(g);
			shmg_wflag_publish(g);
			break;
		case SEM:
			sem_post(&pp->sem[0]);
			break;
		case FUTEX:
			shmg_atomic_store(&pp->fx[0], (uint32_t)k, release);
			futex_wake_on(&pp->fx[0]);
			break;
		}
	}
	waitpid(pid, NULL, 0);
	for (int k = 0; k < rounds; k++)
		lat[k] = (double)(t[rounds + k] - t[k]) / 1e3;
	double m = bench_median(lat, (size_t)rounds);
	guard_free(r, g);
	munmap(pp, sizeof(*pp));
	munmap(t, 2 * sizeof(uint64_t) * (size_t)rounds);
	free(lat);
	return m;
}

static int wakeups(void)
{
	int reps = bench_quick() ? 1 : 5, rounds = bench_quick() ? 50 : 2000;
	int asleep_rounds = bench_quick() ? 20 : 400;
	double o[16], s[16], f[16], ao[16], as[16], af[16];
	for (int r = 0; r < reps; r++) {
		ao[r] = wake_asleep(OURS, asleep_rounds);
		as[r] = wake_asleep(SEM, asleep_rounds);
		af[r] = wake_asleep(FUTEX, asleep_rounds);
		o[r] = wake_latency(OURS, rounds);
		s[r] = wake_latency(SEM, rounds);
		f[r] = wake_latency(FUTEX, rounds);
		if (o[r] < 0 || s[r] < 0 || f[r] < 0 || ao[r] < 0 || as[r] < 0 || af[r] < 0)
			return 1;
	}
	double mo = bench_median(ao, (size_t)reps), ms = bench_median(as, (size_t)reps),
	       mf = bench_median(af, (size_t)reps);
	bench_print("wflag.wake.us", mo, "us");
	bench_print("wflag.wake.sem.us", ms, "us");
	bench_print("wflag.wake.futex.us", mf, "us");
	bench_ratio("wflag.wake.vs_sem", mo, ms);
	bench_ratio("wflag.wake.vs_futex", mo, mf);
	/* Ping-pong: the answer usually lands while ours still spins. */
	mo = bench_median(o, (size_t)reps);
	ms = bench_median(s, (size_t)reps);
	mf = bench_median(f, (size_t)reps);
	bench_print("wflag.pingpong.us", mo, "us");
	bench_print("wflag.pingpong.sem.us", ms, "us");
	bench_print("wflag.pingpong.futex.us", mf, "us");
	bench_ratio("wflag.pingpong.vs_sem", mo, ms);
	return 0;
}

/* ---------------------------------------------------------------- back to back */

static uint64_t mix(uint64_t frame, size_t i)
{
	uint64_t x = frame * 0x9E3779B97F4A7C15ULL ^ (i + 1) * 0xBF58476D1CE4E5B9ULL;
	return x ^ (x >> 29);
}

/* The back-to-back writer: frames prepared beforehand (8 patterns), so
 * publishing is all it does. stats: 0 stop, 1 written. */
static void b2b_writer(struct shmg_wflag *g, unsigned char *seg, size_t frame, uint64_t *stats)
{
	size_t words = frame / 8;
	uint64_t *pat = malloc(8 * frame);
	for (uint64_t p = 0; p < 8; p++)
		for (size_t i = 0; i < words; i++)
			pat[p * words + i] = mix(p, i);
	bench_pin(0);
	for (uint64_t n = 1; !shmg_atomic_load(&stats[0], relaxed); n++) {
		void *copy = shmg_wflag_begin(g);
		uint64_t *dst = copy ? copy : (uint64_t *)(void *)(seg + OFF_DATA);
		shmg_atomic_store_memcpy(dst, pat + (n % 8) * words, frame, relaxed);
		shmg_atomic_store(&dst[0], n, relaxed);
		shmg_atomic_store(&dst[words - 1], n, relaxed);
		shmg_wflag_publish(g);
		stats[1] = n;
	}
	_exit(0);
}

/* The reader: new frames counted, each checked at both ends and on a
 * sample of the pattern (every 61st word: a reader that checks everything
 * would be slower than the writer and measure itself; tests/wflag-stress
 * checks every word of every frame). stats: 2 read, 3 toofast, 4 torn. */
static void b2b_reader(struct shmg_wflag *g, unsigned char *seg, size_t frame, uint64_t *stats)
{
	size_t words = frame / 8;
	uint64_t *b = malloc(frame), last = 0;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	bench_pin(1);
	while (!shmg_atomic_load(&stats[0], relaxed)) {
		struct timespec dl; /* the writer may stop before a first frame */
		shmg_deadline_in(&dl, 100 * 1000000);
		int err = shmg_wflag_read(g, b, seg + OFF_DATA, frame, &snap, &dl);
		if (err == -ETIMEDOUT)
			continue;
		if (err == SHMG_ETOOFAST) {
			stats[3]++;
			continue;
		}
		if (err)
			break;
		if (snap.frame == last)
			continue; /* the same frame again: not a new one */
		last = snap.frame;
		bool whole = b[0] == snap.frame && b[words - 1] == snap.frame;
		for (size_t i = 61; whole && i < words - 1; i += 61)
			whole = b[i] == mix(snap.frame % 8, i);
		stats[whole ? 2 : 4]++;
	}
	_exit(0);
}

/* A writer that never pauses and a reader on the other CPU, for `ms`:
 * frames read per frame written. Every accepted frame is checked;
 * *torn counts failures (must stay 0). */
static double backtoback(unsigned copies, size_t frame, unsigned ms,
			 uint64_t *toofast, uint64_t *torn)
{
	size_t size = OFF_DATA + frame * (copies + 1);
	unsigned char *seg = shared(size);
	uint64_t *stats = shared(4096);
	struct shmg_region *r;
	struct shmg_wflag *g;
	if (!seg || !stats || guard_in(&r, &g, seg, size, copies, frame) != 0)
		return -1;
	pid_t writer = fork();
	if (writer == 0)
		b2b_writer(g, seg, frame, stats);
	pid_t reader = fork();
	if (reader == 0)
		b2b_reader(g, seg, frame, stats);
	usleep(ms * 1000);
	shmg_atomic_store(&stats[0], 1, relaxed);
	waitpid(writer, NULL, 0);
	waitpid(reader, NULL, 0);
	double ratio = stats[1] ? (double)stats[2] / (double)stats[1] : 0;
	*toofast += stats[3];
	*torn += stats[4];
	guard_free(r, g);
	munmap(seg, size);
	munmap(stats, 4096);
	return ratio;
}

static int back_to_back(void)
{
	unsigned ms = bench_quick() ? 50 : 300;
	int reps = bench_quick() ? 1 : 5;
	uint64_t toofast = 0, torn = 0, single_toofast = 0;
	double l64[16], l1m[16], s64[16];
	for (int r = 0; r < reps; r++) {
		l64[r] = backtoback(4, 64 * 1024, ms, &toofast, &torn);
		l1m[r] = backtoback(4, MiB, ms, &toofast, &torn);
		s64[r] = backtoback(0, 64 * 1024, ms, &single_toofast, &torn);
		if (l64[r] < 0 || l1m[r] < 0 || s64[r] < 0)
			return 1;
	}
	bench_print("wflag.reads_per_frame.backtoback", bench_median(l64, (size_t)reps), "x");
	bench_print("wflag.reads_per_frame.backtoback.1MiB", bench_median(l1m, (size_t)reps), "x");
	bench_print("wflag.reads_per_frame.backtoback.single", bench_median(s64, (size_t)reps), "x");
	bench_print("wflag.toofast.single", (double)single_toofast, "count");
	bench_print("wflag.torn_accepted", (double)torn, "count");
	if (torn) {
		fprintf(stderr, "wflag bench: %llu torn frames accepted\n", (unsigned long long)torn);
		return 1;
	}
	return 0;
}

int bench_suite_wflag(void)
{
	int failed = throughput();
	failed |= wakeups();
	failed |= back_to_back();
	return failed;
}
