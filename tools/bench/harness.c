/*
 * The benchmark harness: the suite table, timing helpers, and bench_main(),
 * the command line shared by tools/bench/shmg-bench and `shmguard bench`.
 *   [SUITE...]   run the named suites (all when none is named)
 *   --list       name the suites
 * Environment: SHMG_BENCH_REPEATS (default 11), SHMG_BENCH_QUICK=1.
 */
#define _GNU_SOURCE /* cpu_set_t */

#include <bsd/stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Suites live in their own files; a suite that is not linked in is weak and
 * NULL here, and reported as missing rather than silently skipped. */
int bench_suite_atomic(void) __attribute__((weak));
int bench_suite_copy(void) __attribute__((weak));
int bench_suite_fps(void) __attribute__((weak));
int bench_suite_loop(void) __attribute__((weak));
int bench_suite_pin(void) __attribute__((weak));
int bench_suite_wflag(void) __attribute__((weak));
int bench_suite_xlock(void) __attribute__((weak));

static const struct {
	const char *name;
	bench_suite_fn run;
	const char *what;
} suites[] = {
	{"atomic", bench_suite_atomic, "atomics layer vs plain __atomic builtins"},
	{"copy", bench_suite_copy, "byte-wise atomic memcpy vs memcpy"},
	{"fps", bench_suite_fps, "FPS real-time reads vs locked reads, and with a setter stopped"},
	{"loop", bench_suite_loop, "milk loop triggers vs semaphores and usleep polling"},
	{"pin", bench_suite_pin, "pinned zero-copy reads vs copying reads; membarrier variant"},
	{"wflag", bench_suite_wflag, "write-flag guard vs memcpy and POSIX semaphores"},
	{"xlock", bench_suite_xlock, "exclusive lock vs robust pthread mutex"},
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

void bench_pin(int cpu)
{
	cpu_set_t set;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int bench_quick(void)
{
	const char *q = getenv("SHMG_BENCH_QUICK");
	return q && strcmp(q, "0") != 0;
}

int bench_repeats(void)
{
	const char *r = getenv("SHMG_BENCH_REPEATS");
	const char *err = NULL;

	if (!r || !*r)
		return bench_quick() ? 3 : 11;
	int n = (int)strtonum(r, 1, 1001, &err);
	if (err) {
		fprintf(stderr, "%s: SHMG_BENCH_REPEATS=%s is %s (1..1001)\n", bench_prog, r, err);
		exit(2);
	}
	return n;
}

const char *bench_prog = "shmg-bench";
static bench_sink_fn sink;

void bench_set_sink(bench_sink_fn fn)
{
	sink = fn;
}

void bench_print(const char *key, double value, const char *unit)
{
	if (sink) {
		sink(key, value, unit);
		return;
	}
	printf("%s %.4g %s\n", key, value, unit);
	fflush(stdout);
}

void bench_ratio(const char *key, double ours, double peer)
{
	bench_print(key, peer != 0.0 ? ours / peer : 0.0, "x");
}

const char *bench_suite_name(size_t i)
{
	return i < NSUITES ? suites[i].name : NULL;
}

static int run_suite(size_t i)
{
	if (!suites[i].run) {
		fprintf(stderr, "%s: suite '%s' is not built into this program\n",
			bench_prog, suites[i].name);
		return 1;
	}
	return suites[i].run() != 0;
}

int bench_main(int argc, char **argv)
{
	int failed = 0;

	if (argc > 1 && (strcmp(argv[1], "--list") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: %s [SUITE...]\nsuites:\n", bench_prog);
		for (size_t i = 0; i < NSUITES; i++)
			printf("  %-8s %s%s\n", suites[i].name, suites[i].what,
			       suites[i].run ? "" : " (not built)");
		return 0;
	}
	if (argc == 1) {
		for (size_t i = 0; i < NSUITES; i++)
			if (suites[i].run)
				failed |= run_suite(i);
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	for (int a = 1; a < argc; a++) {
		size_t i;
		for (i = 0; i < NSUITES; i++)
			if (strcmp(argv[a], suites[i].name) == 0)
				break;
		if (i == NSUITES) {
			fprintf(stderr, "%s: unknown suite '%s' (try --list)\n", bench_prog, argv[a]);
			return 2;
		}
		failed |= run_suite(i);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
