/*
 * Benchmark suite "fps": milk FPS parameter reads. The real-time read
 * (shmg_fps_read_rt: no lock, no write, no system call) against the locked
 * read (shmg_fps_get: the parameter's lock taken and released), in the
 * same run, on an 8-byte value; then real-time reads while a setter is
 * stopped (SIGSTOP) inside the parameter's lock: none may block, each
 * returns the caller's previous value (SHMG_STALE) at once.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/milk.h>

#include "bench.h"
#include "futex_ban.h"

#define BATCH 20000
#define STOPPED_READS 10000

static double batch(struct shmg_fps *f, bool rt)
{
	int64_t v = 0, cnt = 0;
	uint64_t t0 = bench_now_ns();
	for (int k = 0; k < BATCH; k++) {
		if (rt)
			shmg_fps_read_rt(f, 1, &v, sizeof(v), &cnt);
		else
			shmg_fps_get(f, 1, &v, sizeof(v), &cnt, NULL);
		BENCH_KEEP(v);
	}
	return (double)(bench_now_ns() - t0) / BATCH;
}

/* A setter stopped inside parameter 1's lock; its PID. */
static pid_t stopped_setter(struct shmg_fps *f)
{
	int ready[2];
	char c;
	if (pipe(ready) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct shmg_xlock l;
		if (shmg_fps_param_lock(f, 1, &l) != 0 || shmg_xlock_lock(&l) != 0)
			_exit(1);
		if (write(ready[1], "l", 1) != 1)
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	close(ready[1]);
	bool ok = pid > 0 && read(ready[0], &c, 1) == 1;
	close(ready[0]);
	int status;
	/* Stopped: the kernel reports it (a handshake, not a delay). */
	if (ok && waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status))
		return pid;
	if (pid > 0)
		kill(pid, SIGKILL);
	return -1;
}

/* What the reader child reports about its reads. */
struct stopped_reads {
	unsigned blocked, not_stale;
	double median_ns;
};

static volatile sig_atomic_t futex_calls;

static void on_sigsys(int sig)
{
	(void)sig;
	futex_calls++; /* seccomp trapped it: the call was not made */
}

/* In a child whose futex calls are trapped and counted: real-time reads of
 * the parameter whose setter stays stopped in its lock. Every read that
 * returns has not waited for the setter; one that tried to sleep on the
 * lock would make a futex call, and is counted as blocked. (The wall time
 * of a read is no judge: on a loaded machine any read can be preempted.) */
static struct stopped_reads read_while_stopped(struct shmg_fps *f)
{
	struct stopped_reads out = {0};
	int64_t v = 42, cnt = 7;
	struct sigaction sa = {.sa_handler = on_sigsys};
	double *t = malloc(sizeof(double) * STOPPED_READS);
	if (!t || sigaction(SIGSYS, &sa, NULL) != 0 || tu_ban_futex(SECCOMP_RET_TRAP) != 0)
		_exit(3);
	for (int k = 0; k < STOPPED_READS; k++) {
		uint64_t t0 = bench_now_ns();
		int r = shmg_fps_read_rt(f, 1, &v, sizeof(v), &cnt);
		t[k] = (double)(bench_now_ns() - t0);
		out.not_stale += r != SHMG_STALE || v != 42 || cnt != 7;
	}
	out.blocked = (unsigned)futex_calls;
	out.median_ns = bench_median(t, STOPPED_READS);
	free(t);
	return out;
}

/* Real-time reads with a setter stopped in the lock: how many blocked, and
 * the median time of one. */
static int reads_while_stopped(struct shmg_fps *f)
{
	struct stopped_reads res;
	int report[2];
	pid_t setter = stopped_setter(f);
	if (setter < 0 || pipe(report) != 0) {
		fprintf(stderr, "%s: fps: could not stop a setter in the lock\n", bench_prog);
		return 1;
	}
	pid_t reader = fork();
	if (reader == 0) {
		close(report[0]);
		res = read_while_stopped(f);
		_exit(write(report[1], &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 2);
	}
	close(report[1]);
	bool got = reader > 0 && read(report[0], &res, sizeof(res)) == (ssize_t)sizeof(res);
	close(report[0]);
	int status = 0;
	if (reader > 0)
		waitpid(reader, &status, 0);
	kill(setter, SIGKILL);
	waitpid(setter, NULL, 0);
	if (!got) {
		fprintf(stderr, "%s: fps: the reader died (status %#x; 3: no seccomp)\n",
			bench_prog, (unsigned)status);
		return 1;
	}
	bench_print("fps.rt_read.blocked", res.blocked, "count");
	bench_print("fps.rt_read.stale.ns", res.median_ns, "ns");
	if (res.not_stale) {
		fprintf(stderr, "%s: fps: %u reads did not keep the previous value\n", bench_prog,
			res.not_stale);
		return 1;
	}
	return 0;
}

int bench_suite_fps(void);
int bench_suite_fps(void)
{
	char path[] = "/tmp/shmg-bench-fps.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	unlink(path);
	struct shmg_fps *f;
	struct shmg_fps_params p = {.size = sizeof(p), .layout = SHMG_FPS_NEW, .nparam = 4,
				    .name = "bench"};
	if (shmg_fps_create(&f, path, &p, 0600, 0) != 0 ||
	    shmg_fps_set_int64(f, 1, 42, NULL) != 0)
		return 1;
	int n = bench_repeats();
	double *get = malloc(sizeof(double) * (size_t)n), *rt = malloc(sizeof(double) * (size_t)n);
	int err = !get || !rt;
	for (int k = 0; !err && k < n; k++) { /* interleaved: both see the same machine */
		get[k] = batch(f, false);
		rt[k] = batch(f, true);
	}
	if (!err) {
		double g = bench_median(get, (size_t)n), r = bench_median(rt, (size_t)n);
		bench_print("fps.get.ns", g, "ns");
		bench_print("fps.rt_read.ns", r, "ns");
		bench_ratio("fps.rt_read.vs_get", r, g);
		err = reads_while_stopped(f);
	}
	free(get);
	free(rt);
	shmg_fps_close(f);
	unlink(path);
	return err;
}
