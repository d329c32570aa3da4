/*
 * check_loop: milk's processing loop over real files, several processes.
 * Every trigger mode: exact missed counts under a writer faster than the
 * loop, timeouts at their deadline, EINTR, a dead writer, a legacy writer
 * that wakes nobody, CNT2 credit with several consumers; commands (an exit
 * racing with single steps, a paused loop that sleeps and resumes); the
 * timing ring read while the loop writes it; the PINFO fields at their
 * offsets in both layouts. Events are ordered by pipes and counters, never
 * by sleeps.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <shmguard.h>
#include <shmguard/loop.h>

#include "testutil.h"

#include "testing.h"

/* The loop's test hook (lib/loop_internal.h): its slices. */
extern uint64_t shmg__test_loop_slice_ns;

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/shmg-loop.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *at(const char *name)
{
	static char path[4][160];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

#define PB(p) ((unsigned char *)shmg_region_base(shmg_pinfo_region(p)))
#define IB(s) ((unsigned char *)shmg_region_base(shmg_isio_region(s)))
#define P32(p, off) (*(volatile int32_t *)(void *)(PB(p) + (off)))
#define P64(p, off) (*(volatile int64_t *)(void *)(PB(p) + (off)))

static struct shmg_pinfo *pinfo_new(const char *name, uint32_t size)
{
	struct shmg_pinfo *p;
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = size, .name = name,
				       .pid = getpid()};
	ck_assert_int_eq(shmg_pinfo_create(&p, at(name), &pp, 0, 0), 0);
	return p;
}

static struct shmg_isio *stream_new(const char *name, uint8_t naxis)
{
	struct shmg_isio *s;
	struct shmg_isio_params sp = {.size = sizeof(sp), .name = name, .naxis = naxis,
				      .dims = {8, 4, 4}, .datatype = SHMG_ISIO_UINT16};
	ck_assert_int_eq(shmg_isio_create(&s, at(name), &sp, 0, 0), 0);
	return s;
}

static struct shmg_loop *loop_new(struct shmg_pinfo *p, struct shmg_isio *in, unsigned mode,
				  uint64_t timeout_ns)
{
	struct shmg_loop *l;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = mode, .pinfo = p, .input = in,
				      .timeout_ns = timeout_ns, .period_ns = 10000000};
	ck_assert_int_eq(shmg_loop_new(&l, &lp), 0);
	return l;
}

static const uint16_t frame[8 * 4];

static void write_frame(struct shmg_isio *s, uint8_t naxis)
{
	if (naxis == 3)
		ck_assert_int_eq(shmg_isio_write_slice(s, frame, sizeof(frame), NULL, NULL), 0);
	else
		ck_assert_int_eq(shmg_isio_write(s, frame, sizeof(frame), NULL), 0);
}

static void tell(int fd, int v)
{
	ck_assert_int_eq(write(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
}

static int hear(int fd)
{
	int v = -1;
	ck_assert_int_eq(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	return v;
}

static struct timespec in_s(double s)
{
	struct timespec dl;
	ck_assert_int_eq(shmg_deadline_in(&dl, (uint64_t)(s * 1e9)), 0);
	return dl;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU seconds this process used so far. */
static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Wait until process pid is blocked in system call nr (/proc/PID/syscall). */
static void wait_in_syscall(pid_t pid, long nr)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 300000; i++) {
		FILE *f = fopen(path, "r");
		ck_assert_msg(f != NULL, "%s cannot be read", path);
		long got = -1;
		if (fgets(line, sizeof(line), f))
			got = strtol(line, NULL, 10);
		fclose(f);
		if (got == nr)
			return;
		nanosleep(&(struct timespec){0, 100000}, NULL); /* poll, 0.1 ms */
	}
	ck_abort_msg("process %d never blocked in syscall %ld", (int)pid, nr);
}

/* ------------------------------------------------------------------ */

START_TEST(loop_refuses_bad_params)
{
	struct shmg_pinfo *p = pinfo_new("bad", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("in", 2);
	unsigned char before[SHMG_PINFO_SIZE_2024];
	memcpy(before, PB(p), sizeof(before));
	struct shmg_loop *l = (struct shmg_loop *)1;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = 9, .pinfo = p, .input = s};
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(strstr(shmg_error_detail(-EINVAL), "mode 9"));
	lp.mode = SHMG_LOOP_CNT0;
	lp.input = NULL;
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	lp.mode = SHMG_LOOP_DELAY;
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL); /* no period */
	lp.mode = SHMG_LOOP_CNT1;
	lp.input = s; /* not a cube */
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	lp.mode = SHMG_LOOP_IMMEDIATE;
	lp.pinfo = NULL;
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	lp.pinfo = p;
	lp.loopcnt_max = -2;
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	lp.loopcnt_max = 0;
	lp.size = 4;
	ck_assert_int_eq(shmg_loop_new(&l, &lp), -EINVAL);
	ck_assert_mem_eq(before, PB(p), sizeof(before)); /* nothing changed */
	/* A larger struct with unknown bytes set: -E2BIG. */
	struct {
		struct shmg_loop_params lp;
		uint64_t more;
	} big = {.lp = {.size = sizeof(big), .mode = 0, .pinfo = p}, .more = 1};
	ck_assert_int_eq(shmg_loop_new(&l, &big.lp), -E2BIG);
	ck_assert_mem_eq(before, PB(p), sizeof(before));
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/* The PINFO fields at the facts' offsets (doc/loop.md), in both layouts. */
START_TEST(pinfo_fields_at_their_offsets)
{
	const uint32_t sizes[2] = {SHMG_PINFO_SIZE_2024, SHMG_PINFO_SIZE_NEW};
	for (int v = 0; v < 2; v++) {
		char name[16];
		snprintf(name, sizeof(name), "fields%d", v);
		struct shmg_pinfo *p = pinfo_new(name, sizes[v]);
		struct shmg_isio *s = stream_new(v ? "sem1" : "sem0", 2);
		ck_assert_int_eq(shmg_isio_claim(s), 0);
		struct shmg_loop *l = loop_new(p, s, SHMG_LOOP_SEMAPHORE, 0);
		ck_assert_int_eq(P32(p, 832), SHMG_LOOP_SEMAPHORE);
		ck_assert_str_eq((char *)PB(p) + 856, v ? "sem1" : "sem0");
		struct stat st;
		ck_assert_int_eq(stat(at(v ? "sem1" : "sem0"), &st), 0);
		ck_assert_uint_eq((uint64_t)P64(p, 848), (uint64_t)st.st_ino);
		ck_assert_int_eq(P32(p, 936), 0);              /* triggersem: slot 0 */
		ck_assert_int_eq(P64(p, 968), 2);              /* triggertimeout 2 s */
		ck_assert_int_eq(P64(p, 512), -1);             /* loopcntMax */
		ck_assert_int_eq(P32(p, 624), 1);              /* loopstat active */
		size_t sh = v ? 16 : 0;
		ck_assert_int_eq(P32(p, 1144 + sh), 1);        /* MeasureTiming */
		for (int i = 0; i < 3; i++)
			write_frame(s, 2);
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		ck_assert_int_eq(shmg_loop_wait(l, &t, NULL), 0);
		ck_assert_uint_eq(t.missed, 2);
		ck_assert_uint_eq(t.pending, 3);
		ck_assert_int_eq(P32(p, 992), 2);              /* triggermissedframe */
		ck_assert_int_eq(P64(p, 1000), 2);             /* cumulative */
		ck_assert_int_eq(P64(p, 944), 3);              /* triggerstreamcnt */
		ck_assert_int_eq(P32(p, 1008), SHMG_LOOP_RECEIVED);
		struct timespec a = {5, 100}, b = {5, 900}, a2 = {6, 0}, b2 = {6, 500};
		shmg_loop_exec_start(l, &a);
		ck_assert_int_eq(shmg_loop_exec_end(l, &b), 1);
		ck_assert_int_eq(P32(p, 1148 + sh), 1);        /* timerindex: slot 1 */
		ck_assert_int_eq(P64(p, 1160 + sh + 16), 5);   /* texecstart[1] */
		ck_assert_int_eq(P64(p, 1160 + sh + 24), 100);
		ck_assert_int_eq(P64(p, 2760 + sh + 24), 900); /* texecend[1] */
		ck_assert_int_eq(P32(p, 1156 + sh), 1);        /* the ring's sequence */
		shmg_loop_exec_start(l, &a2);
		ck_assert_int_eq(shmg_loop_exec_end(l, &b2), 2);
		struct shmg_loop_info info = {.size = sizeof(info)};
		ck_assert_int_eq(shmg_loop_inspect(p, &info), 0);
		ck_assert_int_eq(info.mode, SHMG_LOOP_SEMAPHORE);
		ck_assert_str_eq(info.input, v ? "sem1" : "sem0");
		ck_assert_uint_eq(info.missed_total, 2);
		ck_assert_int_eq(info.loopcnt, 2);
		ck_assert_uint_eq(info.samples, 1);
		ck_assert_uint_eq(info.exec_median_ns, 800);
		ck_assert_uint_eq(info.iter_median_ns, 999999900);
		ck_assert_uint_eq(info.iterations, 2);
		shmg_loop_free(l);
		ck_assert_int_eq(P32(p, 624), 3);              /* loopstat stopped */
		shmg_isio_close(s);
		shmg_pinfo_close(p);
	}
}
END_TEST

/*
 * Exact missed counts, uncapped: the loop asks the writer (another process)
 * for k frames, waits until they are all written, then waits for its
 * trigger: missed must be k - 1 exactly (k up to 25, past the semaphore's
 * cap of 10). Then the writer runs free, faster than the loop, and received
 * + missed must equal written.
 */
static void missed_exact(unsigned mode, uint8_t naxis)
{
	struct shmg_pinfo *p = pinfo_new("missed", SHMG_PINFO_SIZE_NEW);
	struct shmg_isio *s = stream_new("cam", naxis);
	int ask[2], done[2];
	ck_assert_int_eq(pipe(ask), 0);
	ck_assert_int_eq(pipe(done), 0);
	enum { FREE_RUN = 20000 };
	pid_t w = tu_fork();
	if (w == 0) {
		ck_assert_int_eq(shmg_isio_claim(s), 0);
		int k;
		while ((k = hear(ask[0])) > 0) {
			for (int i = 0; i < k; i++)
				write_frame(s, naxis);
			tell(done[1], k);
		}
		for (int i = 0; i < FREE_RUN; i++)
			write_frame(s, naxis);
		_exit(0);
	}
	struct shmg_loop *l = loop_new(p, s, mode, 0);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	struct timespec dl = in_s(60);
	uint64_t state = 7, expect_missed = 0;
	for (int round = 0; round < 200; round++) {
		int k = 1 + (int)(tu_rand(&state) % 25);
		tell(ask[1], k);
		ck_assert_int_eq(hear(done[0]), k);
		ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
		ck_assert_uint_eq(t.missed, (uint64_t)k - 1);
		ck_assert_int_eq(P32(p, 992), k - 1);
		expect_missed += (uint64_t)k - 1;
	}
	ck_assert_int_eq(P64(p, 1000), (int64_t)expect_missed);
	uint64_t start = shmg_isio_counter(s), received = 0, missed = 0;
	tell(ask[1], 0);
	while (received + missed < FREE_RUN) {
		ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
		received++;
		missed += t.missed;
	}
	ck_assert_uint_eq(received + missed, FREE_RUN);
	ck_assert_uint_eq(shmg_isio_counter(s), start + FREE_RUN);
	ck_assert_int_eq(P64(p, 1000), (int64_t)(expect_missed + missed));
	tu_wait_ok(w);
	shmg_loop_free(l);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}

START_TEST(cnt0_missed_exact) { missed_exact(SHMG_LOOP_CNT0, 2); }
END_TEST
START_TEST(cnt1_missed_exact) { missed_exact(SHMG_LOOP_CNT1, 3); }
END_TEST
START_TEST(semaphore_missed_exact) { missed_exact(SHMG_LOOP_SEMAPHORE, 2); }
END_TEST

/* Timeouts end at the deadline (CLOCK_MONOTONIC: not early, not stretched
 * by a clock mix-up such as TAI's 37 s, and asleep meanwhile: a wait whose
 * sleeps end at once on a clock mix-up would spin to the deadline), are
 * reported as timeouts, counted, and only mode 5 runs on. */
static void timeout_case(unsigned mode, uint64_t timeout_ns, int use_deadline, uint32_t run)
{
	struct shmg_pinfo *p = pinfo_new("timeout", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("quiet", 2);
	struct shmg_loop *l = loop_new(p, s, mode, timeout_ns);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	for (int i = 0; i < 3; i++) {
		struct timespec dl = in_s(0.03);
		double t0 = now_s(), c0 = cpu_now();
		ck_assert_int_eq(shmg_loop_wait(l, &t, use_deadline ? &dl : NULL), -ETIMEDOUT);
		double took = now_s() - t0, cpu = cpu_now() - c0;
		ck_assert_msg(took >= 0.029, "timed out early: %.4f s", took);
		ck_assert_msg(took < 2.0, "timeout stretched: %.4f s", took);
		/* Asleep until then, not spinning to the deadline. */
		ck_assert_msg(cpu < took / 2, "%.4f s of CPU in a %.4f s wait", cpu, took);
		ck_assert_uint_eq(t.status, SHMG_LOOP_TIMEDOUT);
		ck_assert_uint_eq(t.run, run);
		ck_assert_int_eq(P32(p, 1008), SHMG_LOOP_TIMEDOUT);
		ck_assert_int_eq(P64(p, 984), i + 1);
	}
	shmg_loop_free(l);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
	unlink(at("quiet"));
	unlink(at("timeout"));
}

START_TEST(timeouts_at_the_deadline)
{
	timeout_case(SHMG_LOOP_SEMAPHORE, 30000000, 0, 0);
	timeout_case(SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS, 30000000, 0, 1);
	timeout_case(SHMG_LOOP_SEMAPHORE, 0, 1, 0);
	timeout_case(SHMG_LOOP_CNT0, 30000000, 0, 0);
	timeout_case(SHMG_LOOP_CNT0, 0, 1, 0);
	timeout_case(SHMG_LOOP_CNT2, 0, 1, 0);
	/* DELAY, with a deadline before the period's end (10 ms > 3 ms): */
	struct shmg_pinfo *p = pinfo_new("delay", SHMG_PINFO_SIZE_2024);
	struct shmg_loop *l;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = SHMG_LOOP_DELAY, .pinfo = p,
				      .period_ns = 200000000};
	ck_assert_int_eq(shmg_loop_new(&l, &lp), 0);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	struct timespec dl = in_s(0.03);
	double t0 = now_s();
	ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), -ETIMEDOUT);
	ck_assert(now_s() - t0 >= 0.029 && now_s() - t0 < 0.19);
	shmg_loop_free(l);
	shmg_pinfo_close(p);
}
END_TEST

/* A loop whose input is replaced (a new file under its name, as
 * ImageStreamIO's create does: unlink, then create) is told so, -ESTALE with
 * a detail that says reopen, instead of timing out for ever on the orphaned
 * file; a wait without a deadline learns it within a slice. An input
 * truncated under the loop (opened with SHMG_REGION_TRUNCATION) is reported
 * as SHMG_ETRUNCATED, not as a counter that went back. Each counter and
 * semaphore mode; the change comes while the loop (another process) sleeps
 * in its wait, or (`asleep` 0) between two waits. */
static void replaced_case(unsigned mode, int truncate_it, int asleep)
{
	struct shmg_pinfo *p = pinfo_new("repl", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *w = stream_new("in", 3), *s;
	ck_assert_int_eq(shmg_isio_open(&s, at("in"), SHMG_REGION_TRUNCATION), 0);
	ck_assert_int_eq(shmg_isio_claim(w), 0);
	for (int i = 0; i < 3; i++)
		write_frame(w, 3);
	shmg_isio_close(w);
	struct shmg_loop *l = loop_new(p, s, mode, 0);
	const int want = truncate_it ? SHMG_ETRUNCATED : -ESTALE;
	int ready[2], go[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		struct timespec dl = in_s(0.02);
		if (!asleep) { /* nothing yet; then the parent acts */
			ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), -ETIMEDOUT);
			tell(ready[1], 1);
			ck_assert_int_eq(hear(go[0]), 1);
		}
		/* Without a deadline to speak of: within a slice (100 ms);
		 * then again, at a deadline. */
		for (int k = 0; k < 2; k++) {
			dl = in_s(k ? 0.05 : 20);
			double t0 = now_s();
			int err = shmg_loop_wait(l, &t, &dl);
			ck_assert_msg(err == want, "mode %u: %d (%s), %d expected", mode, err,
				      shmg_error_detail(err), want);
			ck_assert_msg(now_s() - t0 < 5, "told after %.2f s", now_s() - t0);
			ck_assert_uint_eq(t.run, 0);
			if (!truncate_it)
				ck_assert_msg(strstr(shmg_error_detail(err), "reopen"), "%s",
					      shmg_error_detail(err));
		}
		_exit(0);
	}
	if (asleep)
		tu_wait_in_futex(c);
	else
		ck_assert_int_eq(hear(ready[0]), 1);
	if (truncate_it) {
		ck_assert_int_eq(truncate(at("in"), 0), 0);
	} else {
		struct shmg_isio_params sp = {.size = sizeof(sp), .name = "in", .naxis = 3,
					      .dims = {8, 4, 4}, .datatype = SHMG_ISIO_UINT16};
		ck_assert_int_eq(unlink(at("in")), 0);
		ck_assert_int_eq(shmg_isio_create(&w, at("in"), &sp, 0, 0), 0);
		ck_assert_int_eq(shmg_isio_claim(w), 0);
		write_frame(w, 3); /* into the new file: the loop never sees it */
		shmg_isio_close(w);
	}
	if (!asleep)
		tell(go[1], 1);
	tu_wait_ok(c);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(go[i]);
	}
	shmg_loop_free(l);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
	unlink(at("in"));
	unlink(at("repl"));
}

START_TEST(replaced_input_reported)
{
	for (int asleep = 0; asleep < 2; asleep++) {
		replaced_case(SHMG_LOOP_CNT0, 0, asleep);
		replaced_case(SHMG_LOOP_CNT1, 0, asleep);
		replaced_case(SHMG_LOOP_SEMAPHORE, 0, asleep);
	}
}
END_TEST

START_TEST(truncated_input_reported)
{
	for (int asleep = 0; asleep < 2; asleep++) {
		replaced_case(SHMG_LOOP_CNT0, 1, asleep);
		replaced_case(SHMG_LOOP_CNT1, 1, asleep);
		replaced_case(SHMG_LOOP_SEMAPHORE, 1, asleep);
	}
}
END_TEST

/* DELAY: absolute deadlines one period apart (no drift); an iteration that
 * overruns by 3.5 periods is told it missed at least 2 (two whole periods passed), and the periods
 * counted are exactly the boundaries passed. */
START_TEST(delay_without_drift)
{
	struct shmg_pinfo *p = pinfo_new("delay", SHMG_PINFO_SIZE_2024);
	struct shmg_loop *l;
	const uint64_t period = 5000000;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = SHMG_LOOP_DELAY, .pinfo = p,
				      .period_ns = period};
	ck_assert_int_eq(shmg_loop_new(&l, &lp), 0);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	double t0 = now_s();
	ck_assert_int_eq(shmg_loop_wait(l, &t, NULL), 0);
	double first = now_s();
	ck_assert(first - t0 >= 0.0049);
	uint64_t sum = 1;
	for (int i = 0; i < 20; i++) {
		if (i == 10) { /* overrun: busy 3.5 periods */
			double until = now_s() + 3.5 * 0.005;
			while (now_s() < until)
				;
		}
		ck_assert_int_eq(shmg_loop_wait(l, &t, NULL), 0);
		sum += t.missed + 1;
		ck_assert_uint_eq(t.cnt, sum);
		if (i == 10)
			ck_assert_uint_ge(t.missed, 2); /* b + p and b + 2p */
		/* Never early: cnt periods have passed since the start. */
		ck_assert_msg(now_s() - t0 >= (double)t.cnt * 0.005 - 1e-4,
			      "returned before boundary %llu", (unsigned long long)t.cnt);
	}
	ck_assert_int_eq(P64(p, 944), (int64_t)sum);
	shmg_loop_free(l);
	shmg_pinfo_close(p);
}
END_TEST

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { (void)sig; got_signal = 1; }

/* A signal during a wait is -EINTR, never a received trigger, in every
 * mode that waits, and in a paused step. */
START_TEST(eintr_reported)
{
	const unsigned modes[] = {SHMG_LOOP_CNT0, SHMG_LOOP_SEMAPHORE, SHMG_LOOP_CNT2,
				  SHMG_LOOP_DELAY, 99 /* a paused step */};
	shmg__test_loop_slice_ns = 60000000000ull; /* one slice: the signal's */
	shmg__test_wflag_probe_ns = 60000000000ull;
	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		char name[16];
		snprintf(name, sizeof(name), "eintr%u", m);
		struct shmg_pinfo *p = pinfo_new(name, SHMG_PINFO_SIZE_2024);
		snprintf(name, sizeof(name), "in%u", m);
		struct shmg_isio *s = stream_new(name, 2);
		pid_t c = tu_fork();
		if (c == 0) {
			struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
			sigaction(SIGUSR1, &sa, NULL);
			struct shmg_loop *l;
			struct shmg_loop_params lp = {.size = sizeof(lp), .pinfo = p, .input = s,
						      .period_ns = 30000000000ull,
						      .timeout_ns = 30000000000ull,
						      .mode = modes[m] == 99 ? SHMG_LOOP_IMMEDIATE
									     : modes[m]};
			ck_assert_int_eq(shmg_loop_new(&l, &lp), 0);
			struct timespec dl = in_s(30);
			int err;
			if (modes[m] == 99) {
				ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_PAUSE, NULL), 0);
				err = shmg_loop_step(l, &dl);
			} else {
				struct shmg_loop_trigger t = {.size = sizeof(t)};
				err = shmg_loop_wait(l, &t, &dl);
				ck_assert_uint_eq(t.run, 0);
			}
			ck_assert_int_eq(err, -EINTR);
			ck_assert(got_signal);
			_exit(0);
		}
		wait_in_syscall(c, modes[m] == SHMG_LOOP_DELAY ? SYS_clock_nanosleep : SYS_futex);
		kill(c, SIGUSR1);
		tu_wait_ok(c);
		shmg_isio_close(s);
		shmg_pinfo_close(p);
	}
}
END_TEST

/* A guarded writer that dies is reported (SHMG_EWRITERDEAD), not waited
 * for until the deadline. */
START_TEST(dead_writer_reported)
{
	struct shmg_pinfo *p = pinfo_new("dead", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("cam", 2);
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t w = tu_fork();
	if (w == 0) {
		ck_assert_int_eq(shmg_isio_claim(s), 0);
		write_frame(s, 2);
		tell(go[1], 1);
		pause(); /* killed */
		_exit(1);
	}
	ck_assert_int_eq(hear(go[0]), 1);
	struct shmg_loop *l = loop_new(p, s, SHMG_LOOP_CNT0, 0);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	kill(w, SIGKILL);
	int status;
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	struct timespec dl = in_s(20);
	double t0 = now_s();
	ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), SHMG_EWRITERDEAD);
	ck_assert(now_s() - t0 < 10);
	ck_assert_uint_eq(t.run, 0);
	shmg_loop_free(l);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/* A legacy writer (plain stores of cnt0, no wake-up) and a legacy consumer
 * (plain store of cnt2) are still seen, within the slice (100 ms). */
START_TEST(legacy_peers_seen)
{
	struct shmg_pinfo *p = pinfo_new("legacy", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("cam", 2);
	volatile uint64_t *cnt0 = (volatile uint64_t *)(void *)(IB(s) + 264);
	volatile uint64_t *cnt2 = (volatile uint64_t *)(void *)(IB(s) + 280);
	for (int mode = 0; mode < 2; mode++) {
		struct shmg_loop *l = loop_new(p, s, mode ? SHMG_LOOP_CNT2 : SHMG_LOOP_CNT0, 0);
		pid_t c = tu_fork();
		if (c == 0) {
			struct shmg_loop_trigger t = {.size = sizeof(t)};
			struct timespec dl = in_s(20);
			double t0 = now_s();
			ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
			ck_assert(now_s() - t0 < 10);
			ck_assert_uint_eq(t.cnt, 1); /* cnt0 */
			_exit(0);
		}
		tu_wait_in_futex(c);
		if (mode)
			*cnt2 = 2; /* the legacy consumer's credit: no wake */
		else
			*cnt0 = 1; /* the legacy writer's count: no wake */
		tu_wait_ok(c);
		shmg_loop_free(l);
	}
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/*
 * CNT2: a producer (mode 6) publishes a frame for each credit; 3 consumers
 * grant 1,500 credits each, one at a time, concurrently. The producer
 * never gets ahead of cnt2 and ends at exactly 4,500 frames: no credit
 * lost. The slice is stretched to 60 s, so a lost wake-up hangs the
 * producer until the test's deadline instead of hiding behind a slice.
 */
START_TEST(cnt2_credit_never_lost)
{
	enum { CONSUMERS = 3, GRANTS = 1500, TOTAL = CONSUMERS * GRANTS };
	shmg__test_loop_slice_ns = 60000000000ull;
	struct shmg_pinfo *p = pinfo_new("producer", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("out", 2);
	uint32_t *arrived = tu_shared_alloc(4096);
	pid_t prod = tu_fork();
	if (prod == 0) {
		ck_assert_int_eq(shmg_isio_claim(s), 0);
		struct shmg_loop *l = loop_new(p, s, SHMG_LOOP_CNT2, 0);
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		struct timespec dl = in_s(50);
		tu_start_line(arrived, CONSUMERS + 1);
		for (int i = 0; i < TOTAL; i++) {
			ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
			ck_assert_uint_eq(t.cnt, (uint64_t)i);
			uint64_t c2 = shmg_atomic_load((uint64_t *)(void *)(IB(s) + 280), acquire);
			ck_assert_uint_lt((uint64_t)i, c2);
			write_frame(s, 2);
		}
		/* No credit beyond: the next wait times out. */
		struct timespec soon = in_s(0.02);
		ck_assert_int_eq(shmg_loop_wait(l, &t, &soon), -ETIMEDOUT);
		shmg_loop_free(l);
		_exit(0);
	}
	pid_t cons[CONSUMERS];
	for (int c = 0; c < CONSUMERS; c++) {
		cons[c] = tu_fork();
		if (cons[c] == 0) {
			tu_start_line(arrived, CONSUMERS + 1);
			for (int g = 0; g < GRANTS; g++) {
				/* Stay at most a few frames ahead, so the producer
				 * keeps running out and sleeping. */
				while (shmg_atomic_load((uint64_t *)(void *)(IB(s) + 280), relaxed) >
				       shmg_isio_counter(s) + 2)
					sched_yield();
				ck_assert_int_eq(shmg_loop_grant(s, 1, NULL), 0);
			}
			_exit(0);
		}
	}
	for (int c = 0; c < CONSUMERS; c++)
		tu_wait_ok(cons[c]);
	tu_wait_ok(prod);
	ck_assert_uint_eq(shmg_isio_counter(s), TOTAL);
	ck_assert_uint_eq(*(uint64_t *)(void *)(IB(s) + 280), TOTAL);
	ck_assert_uint_eq(*(uint32_t *)(void *)(IB(s) + 244), 0); /* no sleeper left */
	uint64_t c2;
	ck_assert_int_eq(shmg_loop_grant(s, (uint64_t)1 << 32, &c2), -EINVAL);
	ck_assert_uint_eq(*(uint64_t *)(void *)(IB(s) + 280), TOTAL);
	tu_shared_free(arrived, 4096);
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/* A producer without credit sleeps in the futex, and one grant wakes it
 * (slice stretched: only the wake-up can end the wait). */
START_TEST(cnt2_sleeps_until_granted)
{
	shmg__test_loop_slice_ns = 60000000000ull;
	struct shmg_pinfo *p = pinfo_new("producer", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("out", 2);
	for (int round = 0; round < 50; round++) {
		pid_t c = tu_fork();
		if (c == 0) {
			struct shmg_loop *l = loop_new(p, s, SHMG_LOOP_CNT2, 0);
			struct shmg_loop_trigger t = {.size = sizeof(t)};
			struct timespec dl = in_s(30);
			ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
			_exit(0);
		}
		tu_wait_in_futex(c);
		ck_assert_int_eq(shmg_loop_grant(s, 1, NULL), 0);
		tu_wait_ok(c);
		/* Use the credit up (cnt0 + 1), as a producer would. */
		shmg_atomic_inc((uint64_t *)(void *)(IB(s) + 264), release);
	}
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/*
 * An exit racing with single steps is always obeyed: the loop runs
 * IMMEDIATE iterations, each step turning STEP into PAUSE; per round the
 * monitor sends up to 100 single steps, the first half each waited for
 * (one iteration each), the rest back to back with the loop, then an exit
 * right behind the last one; 60 rounds. milk's read-then-store loses that
 * exit when it lands between the loop's read of STEP and its store of
 * PAUSE; the loop would then pause and sleep until its deadline. A paused
 * loop sleeps on the CTRLval word; without the command's wake-up it would
 * sleep until its deadline too.
 */
START_TEST(exit_races_single_steps)
{
	uint64_t state = 11;
	shmg__test_loop_slice_ns = 60000000000ull; /* only the wake-up resumes */
	for (int round = 0; round < 60; round++) {
		char name[16];
		snprintf(name, sizeof(name), "stepper%d", round);
		struct shmg_pinfo *p = pinfo_new(name, round % 2 ? SHMG_PINFO_SIZE_NEW
								  : SHMG_PINFO_SIZE_2024);
		ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_PAUSE, NULL), 0);
		pid_t c = tu_fork();
		if (c == 0) {
			struct shmg_loop *l = loop_new(p, NULL, SHMG_LOOP_IMMEDIATE, 0);
			struct shmg_loop_trigger t = {.size = sizeof(t)};
			struct timespec dl = in_s(20);
			int r;
			while ((r = shmg_loop_step(l, &dl)) == 1) {
				ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), 0);
				shmg_loop_exec_start(l, NULL);
				shmg_loop_exec_end(l, NULL);
			}
			ck_assert_int_eq(r, 0);
			ck_assert_int_eq(shmg_pinfo_ctrl(p), SHMG_PINFO_EXIT);
			shmg_loop_free(l);
			_exit(0);
		}
		int last = (int)(tu_rand(&state) % 100);
		for (int i = 0; i <= last; i++) {
			int64_t before = shmg_pinfo_loopcnt(p);
			ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL), 0);
			if (i >= last / 2)
				continue; /* back to back: the exit races with a step */
			/* Wait for the step to be used (loopcnt moved, CTRLval
			 * back to pause): a handshake, not a sleep. */
			struct timespec dl = in_s(30);
			while (shmg_pinfo_loopcnt(p) == before || shmg_pinfo_ctrl(p) != SHMG_PINFO_PAUSE)
				ck_assert(!shmg_deadline_passed(&dl));
			ck_assert_int_eq(shmg_pinfo_loopcnt(p), before + 1);
		}
		ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_EXIT, NULL), 0);
		ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL), -EALREADY);
		tu_wait_ok(c);
		ck_assert_int_eq(P32(p, 624), 3); /* stopped */
		shmg_pinfo_close(p);
	}
}
END_TEST

/* A paused loop sleeps (in the futex, loopstat 2) and resumes at once on
 * RUN; loopcnt_max ends the loop. */
START_TEST(pause_sleeps_and_resumes)
{
	shmg__test_loop_slice_ns = 60000000000ull; /* only the wake-up resumes */
	struct shmg_pinfo *p = pinfo_new("pauser", SHMG_PINFO_SIZE_2024);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_PAUSE, NULL), 0);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_loop *l;
		struct shmg_loop_params lp = {.size = sizeof(lp), .mode = SHMG_LOOP_IMMEDIATE,
					      .pinfo = p, .loopcnt_max = 1000};
		ck_assert_int_eq(shmg_loop_new(&l, &lp), 0);
		/* The first step sleeps until RUN arrives: at once, not at its
		 * deadline (the command wakes the CTRLval word). */
		struct timespec dl = in_s(20);
		double t0 = now_s();
		ck_assert_int_eq(shmg_loop_step(l, &dl), 1);
		ck_assert_msg(now_s() - t0 < 15, "a paused loop slept to its deadline");
		shmg_loop_exec_start(l, NULL);
		shmg_loop_exec_end(l, NULL);
		int r, n = 1;
		while ((r = shmg_loop_step(l, &dl)) == 1) {
			shmg_loop_exec_start(l, NULL);
			shmg_loop_exec_end(l, NULL);
			n++;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(n, 1000);
		shmg_loop_free(l);
		_exit(0);
	}
	tu_wait_in_futex(c);
	ck_assert_int_eq(P32(p, 624), 2); /* paused */
	ck_assert_int_eq(shmg_pinfo_loopcnt(p), 0);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_RUN, NULL), 0);
	tu_wait_ok(c);
	ck_assert_int_eq(shmg_pinfo_loopcnt(p), 1000);
	ck_assert_int_eq(P64(p, 512), 1000);
	shmg_pinfo_close(p);
}
END_TEST

/*
 * The timing ring read while the loop writes it: the loop (another
 * process) records iteration k as start {k, f(k)} and end {k, f(k) + 1};
 * the monitor reads the ring 20,000 times and every entry it accepts must
 * be exactly its iteration's, both halves: none torn, none overwritten
 * while read. The loop never waits for the monitor.
 */
static long f_of(uint64_t k) { return (long)((k * 7919u) % 999999998u); }

START_TEST(timing_ring_never_torn)
{
	struct shmg_pinfo *p = pinfo_new("timed", SHMG_PINFO_SIZE_NEW);
	uint32_t *stop = tu_shared_alloc(4096);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_loop *l = loop_new(p, NULL, SHMG_LOOP_IMMEDIATE, 0);
		for (uint64_t k = 1; !shmg_atomic_load(stop, relaxed); k++) {
			struct timespec a = {(time_t)k, f_of(k)}, b = {(time_t)k, f_of(k) + 1};
			shmg_loop_exec_start(l, &a);
			shmg_loop_exec_end(l, &b);
		}
		shmg_loop_free(l);
		_exit(0);
	}
	struct shmg_loop_timing *t = malloc(sizeof(*t));
	ck_assert_ptr_nonnull(t);
	unsigned long accepted = 0, reads = 0;
	while (reads < 20000) {
		t->size = sizeof(*t);
		int err = shmg_loop_timing(p, t);
		if (err == -EAGAIN)
			continue;
		ck_assert_int_eq(err, 0);
		reads++;
		for (uint32_t j = 0; j < t->n; j++) {
			uint64_t k = t->first + j;
			ck_assert_msg(t->start[j].tv_sec == (time_t)k && t->start[j].tv_nsec == f_of(k),
				      "start of %llu is {%lld, %ld}", (unsigned long long)k,
				      (long long)t->start[j].tv_sec, t->start[j].tv_nsec);
			if (j < t->n_end)
				ck_assert_msg(t->end[j].tv_sec == (time_t)k &&
						      t->end[j].tv_nsec == f_of(k) + 1,
					      "end of %llu is {%lld, %ld}", (unsigned long long)k,
					      (long long)t->end[j].tv_sec, t->end[j].tv_nsec);
		}
		accepted += t->n;
	}
	shmg_atomic_store(stop, 1, relaxed);
	tu_wait_ok(c);
	ck_assert_uint_gt(accepted, 0);
	/* After the loop stopped: a full ring, the last end included but
	 * the newest's. */
	t->size = sizeof(*t);
	ck_assert_int_eq(shmg_loop_timing(p, t), 0);
	ck_assert_uint_eq(t->n, 99);
	ck_assert_uint_eq(t->n_end, 98);
	free(t);
	tu_shared_free((void *)stop, 4096);
	shmg_pinfo_close(p);
}
END_TEST

/* Mode 5: a timeout runs the iteration, and the output frame tells the
 * next stage so (process-trace record 0's status); a received frame says
 * RECEIVED. */
START_TEST(timeout_propagates_downstream)
{
	struct shmg_pinfo *pa = pinfo_new("stageA", SHMG_PINFO_SIZE_2024);
	struct shmg_pinfo *pb = pinfo_new("stageB", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *in = stream_new("in", 2), *out = stream_new("out", 2);
	ck_assert_int_eq(shmg_isio_claim(in), 0);
	ck_assert_int_eq(shmg_isio_claim(out), 0);
	struct shmg_loop *a = loop_new(pa, in, SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS, 20000000);
	struct shmg_loop *b = loop_new(pb, out, SHMG_LOOP_SEMAPHORE, 0);
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	for (int i = 0; i < 4; i++) {
		int timeout = i % 2 == 0;
		if (!timeout)
			write_frame(in, 2);
		ck_assert_int_eq(shmg_loop_wait(a, &t, NULL), timeout ? -ETIMEDOUT : 0);
		ck_assert_uint_eq(t.run, 1);
		shmg_loop_exec_start(a, NULL);
		ck_assert_int_eq(shmg_loop_propagate(a, out), 0);
		write_frame(out, 2);
		shmg_loop_exec_end(a, NULL);
		struct timespec dl = in_s(10);
		ck_assert_int_eq(shmg_loop_wait(b, &t, &dl), 0);
		ck_assert_uint_eq(t.upstream, timeout ? SHMG_LOOP_TIMEDOUT : SHMG_LOOP_RECEIVED);
	}
	shmg_loop_free(a);
	shmg_loop_free(b);
	shmg_isio_close(in);
	shmg_isio_close(out);
	shmg_pinfo_close(pa);
	shmg_pinfo_close(pb);
}
END_TEST

/* An exit command reaches a loop blocked in its trigger wait (-ECANCELED),
 * within a slice. */
START_TEST(exit_reaches_a_waiting_loop)
{
	struct shmg_pinfo *p = pinfo_new("waiter", SHMG_PINFO_SIZE_2024);
	struct shmg_isio *s = stream_new("cam", 2);
	const unsigned modes[] = {SHMG_LOOP_CNT0, SHMG_LOOP_SEMAPHORE, SHMG_LOOP_CNT2};
	for (unsigned m = 0; m < 3; m++) {
		ck_assert_int_eq(shmg_pinfo_transition(p, shmg_pinfo_ctrl(p), SHMG_PINFO_RUN, NULL, NULL), 0);
		pid_t c = tu_fork();
		if (c == 0) {
			struct shmg_loop *l = loop_new(p, s, modes[m], 30000000000ull);
			struct shmg_loop_trigger t = {.size = sizeof(t)};
			struct timespec dl = in_s(30);
			ck_assert_int_eq(shmg_loop_wait(l, &t, &dl), -ECANCELED);
			ck_assert_int_eq(shmg_loop_step(l, &dl), 0);
			shmg_loop_free(l);
			_exit(0);
		}
		tu_wait_in_futex(c);
		ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_EXIT, NULL), 0);
		tu_wait_ok(c);
	}
	shmg_isio_close(s);
	shmg_pinfo_close(p);
}
END_TEST

/* The exit lands exactly between the step's read of STEP and its change of
 * CTRLval (a protocol point of the testing build sends it there): the step
 * must see it and return 0; milk's read-then-store would overwrite it with
 * PAUSE and sleep. */
static struct shmg_pinfo *race_pinfo;
static void exit_now(int point)
{
	if (point == SHMG__LOOP_STEP_READ)
		ck_assert_int_eq(shmg_pinfo_command(race_pinfo, SHMG_PINFO_EXIT, NULL), 0);
}

START_TEST(exit_between_step_read_and_pause)
{
	shmg__test_loop_slice_ns = 60000000000ull;
	for (int round = 0; round < 5; round++) {
		char name[16];
		snprintf(name, sizeof(name), "between%d", round);
		race_pinfo = pinfo_new(name, round % 2 ? SHMG_PINFO_SIZE_NEW : SHMG_PINFO_SIZE_2024);
		ck_assert_int_eq(shmg_pinfo_command(race_pinfo, SHMG_PINFO_STEP, NULL), 0);
		pid_t c = tu_fork();
		if (c == 0) {
			struct shmg_loop *l = loop_new(race_pinfo, NULL, SHMG_LOOP_IMMEDIATE, 0);
			shmg__test_point = exit_now;
			struct timespec dl = in_s(20);
			ck_assert_int_eq(shmg_loop_step(l, &dl), 0);
			ck_assert_int_eq(shmg_pinfo_ctrl(race_pinfo), SHMG_PINFO_EXIT);
			shmg__test_point = NULL;
			shmg_loop_free(l);
			_exit(0);
		}
		tu_wait_ok(c);
		shmg_pinfo_close(race_pinfo);
	}
}
END_TEST

/* A legacy monitor (milk's procCTRL) stores CTRLval plainly and wakes
 * nobody: a paused loop still obeys it, within its pause slice (1 s). */
START_TEST(legacy_monitor_obeyed)
{
	struct shmg_pinfo *p = pinfo_new("legacymon", SHMG_PINFO_SIZE_2024);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_PAUSE, NULL), 0);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_loop *l = loop_new(p, NULL, SHMG_LOOP_IMMEDIATE, 0);
		struct timespec dl = in_s(20);
		double t0 = now_s();
		ck_assert_int_eq(shmg_loop_step(l, &dl), 0); /* the exit */
		ck_assert(now_s() - t0 < 15);
		shmg_loop_free(l);
		_exit(0);
	}
	tu_wait_in_futex(c);
	P32(p, 520) = SHMG_PINFO_EXIT; /* a plain store, no wake-up */
	tu_wait_ok(c);
	shmg_pinfo_close(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("single");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, loop_refuses_bad_params);
	tcase_add_test(tc, pinfo_fields_at_their_offsets);
	tcase_add_test(tc, timeouts_at_the_deadline);
	tcase_add_test(tc, delay_without_drift);
	tcase_add_test(tc, timeout_propagates_downstream);
	suite_add_tcase(s, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers"); /* not under qemu-user (doc/cross.md) */
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_set_timeout(pc, 120);
	tcase_add_test(pc, cnt0_missed_exact);
	tcase_add_test(pc, cnt1_missed_exact);
	tcase_add_test(pc, semaphore_missed_exact);
	tcase_add_test(pc, eintr_reported);
	tcase_add_test(pc, dead_writer_reported);
	tcase_add_test(pc, legacy_peers_seen);
	tcase_add_test(pc, cnt2_credit_never_lost);
	tcase_add_test(pc, cnt2_sleeps_until_granted);
	tcase_add_test(pc, exit_races_single_steps);
	tcase_add_test(pc, pause_sleeps_and_resumes);
	tcase_add_test(pc, timing_ring_never_torn);
	tcase_add_test(pc, exit_reaches_a_waiting_loop);
	tcase_add_test(pc, legacy_monitor_obeyed);
	tcase_add_test(pc, exit_between_step_read_and_pause);
	tcase_add_test(pc, replaced_input_reported);
	tcase_add_test(pc, truncated_input_reported);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
