/*
 * Benchmark suite "loop": milk's processing loop (shmguard/loop.h) against
 * its peers, measured the same way in the same run, over real files:
 *   latency from a frame's publish to the loop's wait returning, the loop
 *   asleep (a frame every 200 us): CNT0 (futex) vs SEMAPHORE (a claimed
 *   slot, sem_clockwait) vs milk's CNT0 as milk writes it (poll cnt0 with
 *   usleep(5)), interleaved in batches; medians and 99th percentiles;
 *   CPU time of a loop waiting 1 s for input that never comes, vs the
 *   polling loop;
 *   missed frames after bursts of 25 frames: ours (from cnt0) vs milk's
 *   semaphore count (posts drained, capped at 10 by the writer).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/loop.h>

#include "bench.h"

enum peer { CNT0, SEM, POLLING };

static char dir[64];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int stream_new(struct shmg_isio **s, const char *name)
{
	char path[128];
	path_of(path, sizeof(path), name);
	unlink(path);
	struct shmg_isio_params sp = {.size = sizeof(sp), .name = name, .naxis = 2,
				      .dims = {16, 16}, .datatype = SHMG_ISIO_FLOAT};
	return shmg_isio_create(s, path, &sp, 0, 0);
}

static int pinfo_new(struct shmg_pinfo **p, const char *name)
{
	char path[128];
	path_of(path, sizeof(path), name);
	unlink(path);
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = SHMG_PINFO_SIZE_2024,
				       .name = name, .pid = getpid()};
	return shmg_pinfo_create(p, path, &pp, 0, 0);
}

static uint64_t *cnt0_of(struct shmg_isio *s)
{
	return (uint64_t *)(void *)((unsigned char *)shmg_region_base(shmg_isio_region(s)) + 264);
}

/* milk's CNT0 trigger: poll the counter, usleep(5) between looks. */
static uint64_t milk_poll(struct shmg_isio *s, uint64_t last)
{
	uint64_t c;
	while ((c = shmg_atomic_load(cnt0_of(s), relaxed)) == last)
		usleep(5);
	return c;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median and the 99th percentile of v[0..n) (sorts v). */
static void med_p99(double *v, size_t n, double *med, double *p99)
{
	qsort(v, n, sizeof(double), cmp_double);
	*med = v[n / 2];
	*p99 = v[n * 99 / 100];
}

struct shared {
	uint32_t ready, done;
	uint64_t t[];
};

/* One batch: `rounds` frames, one every ~200 us; the loop process records
 * when each wait returned. Appends the latencies (us) to lat. */
static int latency(enum peer how, int rounds, double *lat)
{
	struct shmg_isio *s;
	struct shmg_pinfo *p;
	size_t shsize = sizeof(struct shared) + 2 * sizeof(uint64_t) * (size_t)rounds;
	struct shared *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	static const float frame[16 * 16];
	if (sh == MAP_FAILED || stream_new(&s, "lat") != 0 || pinfo_new(&p, "latloop") != 0)
		return 1;
	if (shmg_isio_claim(s) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		bench_pin(1);
		struct shmg_loop *l = NULL;
		struct shmg_loop_params lp = {.size = sizeof(lp), .pinfo = p, .input = s,
					      .mode = how == SEM ? SHMG_LOOP_SEMAPHORE : SHMG_LOOP_CNT0,
					      .timeout_ns = 10000000000ull};
		if (how != POLLING && shmg_loop_new(&l, &lp) != 0)
			_exit(1);
		uint64_t last = 0;
		shmg_atomic_store(&sh->ready, 1, release);
		for (int k = 0; k < rounds; k++) {
			if (how == POLLING) {
				last = milk_poll(s, last);
			} else {
				struct shmg_loop_trigger t = {.size = sizeof(t)};
				if (shmg_loop_wait(l, &t, NULL) != 0)
					_exit(1);
			}
			sh->t[rounds + k] = bench_now_ns();
			shmg_atomic_store(&sh->done, (uint32_t)k + 1, release);
		}
		shmg_loop_free(l);
		_exit(0);
	}
	bench_pin(0);
	while (!shmg_atomic_load(&sh->ready, acquire))
		usleep(10);
	for (int k = 0; k < rounds; k++) {
		usleep(200); /* the loop is asleep (or polling) when the frame lands */
		sh->t[k] = bench_now_ns();
		shmg_isio_write(s, frame, sizeof(frame), NULL);
		while (shmg_atomic_load(&sh->done, acquire) < (uint32_t)k + 1)
			;
	}
	int status;
	waitpid(pid, &status, 0);
	for (int k = 0; k < rounds; k++)
		lat[k] = (double)(sh->t[rounds + k] - sh->t[k]) / 1e3;
	shmg_isio_close(s);
	shmg_pinfo_close(p);
	munmap(sh, shsize);
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* CPU seconds a loop spends waiting `secs` for input that never comes. */
static int idle_cpu(enum peer how, double secs, double *cpu)
{
	struct shmg_isio *s;
	struct shmg_pinfo *p;
	double *out = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED || stream_new(&s, "idle") != 0 || pinfo_new(&p, "idleloop") != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		/* Set up first (the child's first writes fault in pages), then
		 * measure the wait alone. */
		struct shmg_loop *l = NULL;
		struct shmg_loop_params lp = {.size = sizeof(lp), .pinfo = p, .input = s,
					      .mode = SHMG_LOOP_CNT0};
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		if (how != POLLING && shmg_loop_new(&l, &lp) != 0)
			_exit(1);
		double c0 = cpu_s();
		uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9);
		if (how == POLLING) {
			while (bench_now_ns() < until &&
			       shmg_atomic_load(cnt0_of(s), relaxed) == 0)
				usleep(5);
		} else {
			struct timespec dl;
			shmg_deadline_in(&dl, (uint64_t)(secs * 1e9));
			if (shmg_loop_wait(l, &t, &dl) != -ETIMEDOUT)
				_exit(1);
		}
		out[0] = cpu_s() - c0;
		shmg_loop_free(l);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	*cpu = out[0];
	shmg_isio_close(s);
	shmg_pinfo_close(p);
	munmap(out, 4096);
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Bursts of 25 frames written while the loop computes; then one wait.
 * Ours counts missed frames from cnt0; milk's semaphore mode counts the
 * posts it drains from its slot, which the writer caps at 10. */
static int missed(int bursts, double *ours, double *peer)
{
	enum { BURST = 25 };
	struct shmg_isio *s;
	struct shmg_pinfo *p;
	struct shmg_loop *l;
	static const float frame[16 * 16];
	if (stream_new(&s, "burst") != 0 || pinfo_new(&p, "burstloop") != 0 ||
	    shmg_isio_claim(s) != 0)
		return 1;
	struct shmg_loop_params lp = {.size = sizeof(lp), .pinfo = p, .input = s,
				      .mode = SHMG_LOOP_CNT0};
	if (shmg_loop_new(&l, &lp) != 0)
		return 1;
	struct shmg_isio_layout lay = {.size = sizeof(lay)};
	shmg_isio_get_layout(s, &lay);
	sem_t *sem1 = (sem_t *)(void *)((unsigned char *)shmg_region_base(shmg_isio_region(s)) +
					lay.off_sem + sizeof(sem_t));
	uint64_t o = 0, m = 0;
	for (int b = 0; b < bursts; b++) {
		for (int i = 0; i < BURST; i++)
			shmg_isio_write(s, frame, sizeof(frame), NULL);
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		if (shmg_loop_wait(l, &t, NULL) != 0)
			return 1;
		o += t.missed;
		/* milk: each post found pending is a missed frame */
		uint64_t c = 0;
		while (sem_trywait(sem1) == 0)
			c++;
		m += c;
	}
	*ours = (double)o / bursts;
	*peer = (double)m / bursts;
	shmg_loop_free(l);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
	return 0;
}

int bench_suite_loop(void);
int bench_suite_loop(void)
{
	int reps = bench_quick() ? 1 : 3, rounds = bench_quick() ? 80 : 2400;
	double secs = bench_quick() ? 0.1 : 1.0;
	double mc[8], ms[8], mp[8], pc[8], ps[8], pp[8], ic[8], ip[8];
	int failed = 0;

	snprintf(dir, sizeof(dir), "/tmp/shmg-bench-loop.XXXXXX");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "%s: loop: no temporary directory: %s\n", bench_prog, strerror(errno));
		return 1;
	}
	if (reps > 8)
		reps = 8;
	/* Each repetition interleaves the three in batches, so a change of
	 * the machine's load hits them alike. */
	enum { BATCHES = 8 };
	int per = rounds / BATCHES;
	double *lc_ = malloc(sizeof(double) * (size_t)rounds * 3);
	if (!lc_)
		return 1;
	double *ls_ = lc_ + rounds, *lp_ = ls_ + rounds;
	for (int r = 0; r < reps && !failed; r++) {
		for (int b = 0; b < BATCHES && !failed; b++) {
			failed |= latency(CNT0, per, lc_ + b * per);
			failed |= latency(SEM, per, ls_ + b * per);
			failed |= latency(POLLING, per, lp_ + b * per);
		}
		med_p99(lc_, (size_t)(per * BATCHES), &mc[r], &pc[r]);
		med_p99(ls_, (size_t)(per * BATCHES), &ms[r], &ps[r]);
		med_p99(lp_, (size_t)(per * BATCHES), &mp[r], &pp[r]);
		failed |= idle_cpu(CNT0, secs, &ic[r]);
		failed |= idle_cpu(POLLING, secs, &ip[r]);
	}
	free(lc_);
	double ours = 0, peer = 0;
	failed |= missed(bench_quick() ? 4 : 50, &ours, &peer);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		failed = 1;
	if (failed) {
		fprintf(stderr, "%s: loop: a measurement failed\n", bench_prog);
		return 1;
	}
	size_t n = (size_t)reps;
	double lc = bench_median(mc, n), ls = bench_median(ms, n), lp = bench_median(mp, n);
	double qc = bench_median(pc, n), qs = bench_median(ps, n), qp = bench_median(pp, n);
	double cc = bench_median(ic, n), cp = bench_median(ip, n);
	bench_print("loop.latency.cnt0.us", lc, "us");
	bench_print("loop.latency.sem.us", ls, "us");
	bench_print("loop.latency.polling.us", lp, "us");
	bench_ratio("loop.latency.cnt0.vs_sem", lc, ls);
	bench_ratio("loop.latency.cnt0.vs_polling", lc, lp);
	bench_print("loop.latency_p99.cnt0.us", qc, "us");
	bench_print("loop.latency_p99.sem.us", qs, "us");
	bench_print("loop.latency_p99.polling.us", qp, "us");
	bench_ratio("loop.latency_p99.cnt0.vs_sem", qc, qs);
	bench_ratio("loop.latency_p99.cnt0.vs_polling", qc, qp);
	bench_print("loop.idle_cpu.s", cc, "s");
	bench_print("loop.idle_cpu.polling.s", cp, "s");
	bench_ratio("loop.idle_cpu.vs_polling", cc, cp);
	bench_print("loop.missed_per_burst.expected", 24, "count");
	bench_print("loop.missed_per_burst.ours", ours, "count");
	bench_print("loop.missed_per_burst.sem_peer", peer, "count");
	bench_print("loop.missed_exact", ours == 24 ? 1 : 0, "count");
	return ours == 24 ? 0 : 1;
}
