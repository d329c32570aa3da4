/*
 * bench.h: the harness shared by the benchmark suites of shmg-bench.
 *
 * Output is one line per figure, "KEY VALUE UNIT", so scripts can grep it.
 * Every figure is the median of bench_repeats() runs, and every suite
 * measures its peer (memcpy, robust pthread mutex, semaphores, futex, plain
 * builtins) in the same run and prints the ratio as its own line
 * ("KEY.vs_PEER RATIO x"): absolute times on shared 2-core machines are noise,
 * ratios measured side by side are not.
 */
#ifndef SHMG_BENCH_H
#define SHMG_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median of v[0..n) (sorts v in place). */
double bench_median(double *v, size_t n);

/* How many repetitions a figure's median is taken over (SHMG_BENCH_REPEATS,
 * default 11), and whether a quick smoke run was asked (SHMG_BENCH_QUICK=1:
 * few repetitions, small sizes; figures then mean nothing). */
int bench_repeats(void);
int bench_quick(void);

/* Print "key value unit" (to stdout, or to the sink when one is set). */
void bench_print(const char *key, double value, const char *unit);

/* Where figures go instead of stdout (NULL: stdout), for `shmguard bench`,
 * which prints them as a table. */
typedef void (*bench_sink_fn)(const char *key, double value, const char *unit);
void bench_set_sink(bench_sink_fn fn);

/* The program name in messages ("shmg-bench" unless set). */
extern const char *bench_prog;

/* The name of suite i, or NULL past the last. */
const char *bench_suite_name(size_t i);

/* The command line: [--list | SUITE...]. Returns the exit status. */
int bench_main(int argc, char **argv);

/* Print "key ours/peer x" (ours and peer in the same unit). */
void bench_ratio(const char *key, double ours, double peer);

/* Pin the calling process to CPU `cpu` (0 or 1) when there are at least
 * two, so two processes of a measurement really run at the same time. */
void bench_pin(int cpu);

/* Keep the compiler from optimising a computed value away. */
#define BENCH_KEEP(x) __asm__ __volatile__("" : : "g"(x) : "memory")

/* Suites: return 0, or non-zero when the suite could not run or a figure
 * check failed (the harness then exits non-zero). */
typedef int (*bench_suite_fn)(void);

#endif /* SHMG_BENCH_H */
