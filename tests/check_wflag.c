/*
 * check_wflag: the write-flag guard. Placement, the writer/reader protocol,
 * waits (deadlines, EINTR, counter checks), writer claims and dead-writer
 * detection, wake-ups across processes, no syscall in a publish nobody
 * waits for, and the latch. Stress runs live in tests/wflag-stress.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <shmguard.h>
#include <shmguard/wflag.h>

#include "testutil.h"
#include "testing.h" /* the probe period, stretched (test build) */
#include "../tools/bench/futex_ban.h"

#include "../tools/bench/wflag_words.h"

#define OFF_MAIN 4096
#define FRAME 1024
#define OFF_COPIES (OFF_MAIN + FRAME)
#define COPIES 3
#define SEG (OFF_COPIES + COPIES * FRAME)

static unsigned char *seg;
static struct shmg_region *region;
/* Guards placed by a test, freed at its end. */
static struct shmg_wflag *placed[8];
static unsigned nplaced;

static void setup(void)
{
	seg = tu_shared_alloc(SEG);
	ck_assert_int_eq(shmg_region_from_memory(&region, seg, SEG), 0);
}

static void teardown(void)
{
	while (nplaced)
		shmg_wflag_free(placed[--nplaced]);
	shmg_region_close(region);
	tu_shared_free(seg, SEG);
}

/* shmg_wflag_new, the guard kept for the teardown. */
static int new_guard(struct shmg_wflag **g, const struct shmg_wflag_place *p)
{
	int err = shmg_wflag_new(g, region, p);
	if (!err) {
		ck_assert_uint_lt(nplaced, 8);
		placed[nplaced++] = *g;
	}
	return err;
}

static struct shmg_wflag_place place(bool waiters, bool owner, bool latch)
{
	struct shmg_wflag_place p = {
		.size = sizeof(p),
		.parts = (waiters ? SHMG_WFLAG_WAITERS : 0) | (owner ? SHMG_WFLAG_OWNER : 0),
		.mark = OFF_MARK, .counter = OFF_COUNTER,
		.waiters = waiters ? OFF_WAITERS : 0,
		.owner = owner ? OFF_OWNER : 0,
	};
	if (latch) {
		p.copies = COPIES;
		p.index = OFF_INDEX;
		p.seq = OFF_SEQ;
		p.seq_stride = SEQ_STRIDE;
		p.data = OFF_COPIES;
		p.data_len = FRAME;
	}
	return p;
}

static uint64_t *counter(void) { return (uint64_t *)(void *)(seg + OFF_COUNTER); }
static int32_t *owner(void) { return (int32_t *)(void *)(seg + OFF_OWNER); }

/* Write frame n (every byte n) into the main buffer, guarded. */
static uint64_t write_frame(struct shmg_wflag *g)
{
	unsigned char buf[FRAME];
	uint64_t n = shmg_wflag_counter(g) + 1;
	memset(buf, (int)(n & 0xff), sizeof(buf));
	void *copy = shmg_wflag_begin(g);
	shmg_atomic_store_memcpy(seg + OFF_MAIN, buf, FRAME, relaxed);
	if (copy)
		shmg_atomic_store_memcpy(copy, buf, FRAME, relaxed);
	return shmg_wflag_publish(g);
}

static void assert_frame(const unsigned char *buf, uint64_t n)
{
	for (size_t i = 0; i < FRAME; i++)
		if (buf[i] != (unsigned char)(n & 0xff))
			ck_abort_msg("byte %zu of frame %llu is %u", i,
				     (unsigned long long)n, buf[i]);
}

START_TEST(placement_checked)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, true, true);
	unsigned char before[SEG];

	memcpy(before, seg, SEG);
	ck_assert_int_eq(new_guard(&g, &p), 0);

	p = place(true, true, false);
	p.counter = OFF_COUNTER + 4; /* misaligned */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, false);
	p.counter = SEG - 4; /* runs off the end */
	ck_assert_int_eq(new_guard(&g, &p), -ERANGE);
	p = place(true, true, false);
	p.mark = SEG; /* outside */
	ck_assert_int_eq(new_guard(&g, &p), -ERANGE);
	p = place(true, true, false);
	p.waiters = OFF_MARK + 4; /* not in the mark's word */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p.waiters = OFF_MARK; /* the mark itself */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, false);
	p.counter = OFF_MARK & ~(size_t)7; /* overlaps the mark's word */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, false);
	p.owner = OFF_MARK; /* overlaps the mark's word */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, true);
	p.copies = 1;
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, true);
	p.seq_stride = 44; /* breaks the alignment of later words */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, true);
	p.data = SEG - 2 * FRAME; /* the third copy would end outside */
	ck_assert_int_eq(new_guard(&g, &p), -ERANGE);
	p = place(true, true, true);
	p.data = OFF_SEQ; /* copies over the sequence words */
	ck_assert_int_eq(new_guard(&g, &p), -EINVAL);
	p = place(true, true, true);
	p.data_len = (size_t)-1 / 2; /* overflows */
	ck_assert_int_eq(new_guard(&g, &p), -ERANGE);
	ck_assert_int_eq(memcmp(before, seg, SEG), 0); /* nothing written */
}
END_TEST

START_TEST(write_then_read)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, false);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];

	ck_assert_int_eq(new_guard(&g, &p), 0);
	ck_assert_ptr_null(shmg_wflag_begin(g));
	ck_assert_uint_eq(seg[OFF_MARK], 1);
	ck_assert_uint_eq(*counter(), 0);
	shmg_wflag_abort(g);
	ck_assert_uint_eq(seg[OFF_MARK], 0);
	ck_assert_uint_eq(*counter(), 0);
	for (uint64_t n = 1; n <= 3; n++) {
		ck_assert_uint_eq(write_frame(g), n);
		ck_assert_uint_eq(seg[OFF_MARK], 0);
		ck_assert_uint_eq(*counter(), n);
		ck_assert_int_eq(shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, NULL), 0);
		ck_assert_uint_eq(snap.frame, n);
		ck_assert_uint_eq(snap.retries, 0);
		ck_assert_int_eq(snap.copy, -1);
		assert_frame(buf, n);
	}
	/* Sources outside the region are refused, not read. */
	ck_assert_int_eq(shmg_wflag_read(g, buf, seg + SEG - 10, FRAME, &snap, NULL), -ERANGE);
	ck_assert_int_eq(shmg_wflag_read(g, buf, buf, FRAME, &snap, NULL), -ERANGE);
}
END_TEST

START_TEST(read_while_writing_times_out)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, false);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	struct timespec dl;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	write_frame(g);
	shmg_wflag_begin(g);
	ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
	/* No writer recorded: it cannot be judged dead, so the deadline
	 * ends the wait. */
	ck_assert_int_eq(shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_wflag_wait_idle(g, &dl), -ETIMEDOUT);
	shmg_wflag_publish(g);
	ck_assert_int_eq(shmg_wflag_wait_idle(g, &dl), 0);
	/* A deadline already passed: one look, never a sleep. */
	ck_assert_int_eq(shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, &dl), 0);
	ck_assert_uint_eq(snap.frame, 2);
	ck_assert_int_eq(shmg_wflag_wait_update(g, 2, NULL, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_wflag_wait_update(g, 1, NULL, &dl), 0);
}
END_TEST

START_TEST(wait_update_results)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, false);
	struct timespec dl;
	uint64_t now = 0;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	write_frame(g);
	write_frame(g);
	ck_assert_int_eq(shmg_wflag_wait_update(g, 0, &now, NULL), 0);
	ck_assert_uint_eq(now, 2); /* one frame missed: 2 - 0 - 1 */
	ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
	ck_assert_int_eq(shmg_wflag_wait_update(g, 2, &now, &dl), -ETIMEDOUT);
	ck_assert_uint_eq(now, 2);
	/* A counter below what the reader saw: the stream was recreated. */
	ck_assert_int_eq(shmg_wflag_wait_update(g, 7, &now, NULL), SHMG_ECOUNTER);
}
END_TEST

static void on_alarm(int sig) { (void)sig; }

START_TEST(wait_reports_eintr)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, false);
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	/* repeating: a signal that lands outside the sleeping syscall
	 * (while spinning) cannot interrupt anything; a later one will */
	struct itimerval it = {.it_value = {.tv_usec = 30000}, .it_interval = {.tv_usec = 30000}};
	struct itimerval off = {{0, 0}, {0, 0}};
	struct timespec dl;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(shmg_deadline_in(&dl, 5ull * 1000000000u), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	int err = shmg_wflag_wait_update(g, 0, NULL, &dl);
	setitimer(ITIMER_REAL, &off, NULL);
	ck_assert_int_eq(err, -EINTR);
	ck_assert(!shmg_deadline_passed(&dl));
}
END_TEST

/* A child that exits at once: its PID, reaped (dead) or not (zombie). */
static pid_t short_lived_child(bool reap)
{
	pid_t pid = tu_fork();
	if (pid == 0)
		_exit(0);
	if (reap)
		tu_wait_ok(pid);
	else /* a zombie from the moment it exits */
		while (shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
			usleep(1000);
	return pid;
}

START_TEST(claim_and_release)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, true, false);
	int32_t pid;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	ck_assert_int_eq(shmg_wflag_writer_alive(g, &pid), -ENOENT);
	ck_assert_int_eq(shmg_wflag_claim(g), 0);
	ck_assert_int_eq(*owner(), getpid());
	ck_assert_int_eq(shmg_wflag_claim(g), 0); /* idempotent */
	ck_assert_int_eq(shmg_wflag_writer_alive(g, &pid), SHMG_PROC_ALIVE);
	ck_assert_int_eq(pid, getpid());
	ck_assert_int_eq(shmg_wflag_release(g), 0);
	ck_assert_int_eq(*owner(), 0);
	ck_assert_int_eq(shmg_wflag_release(g), SHMG_ENOTOWNER);

	*owner() = getppid(); /* a live writer: never taken over */
	ck_assert_int_eq(shmg_wflag_claim(g), -EBUSY);
	ck_assert_int_eq(*owner(), getppid());
	ck_assert_int_eq(shmg_wflag_release(g), SHMG_ENOTOWNER);
	*owner() = -5;
	ck_assert_int_eq(shmg_wflag_claim(g), SHMG_EGARBAGE);
	ck_assert_int_eq(*owner(), -5);
	*owner() = short_lived_child(true);
	ck_assert_int_eq(shmg_wflag_claim(g), SHMG_OWNERDEAD);
	ck_assert_int_eq(*owner(), getpid());

	struct shmg_wflag_place none = place(true, false, false);
	ck_assert_int_eq(new_guard(&g, &none), 0);
	ck_assert_int_eq(shmg_wflag_claim(g), -ENOTSUP);
}
END_TEST

/* A writer dies mid-frame (dead and reaped, or a zombie): readers get
 * SHMG_EWRITERDEAD, never the partial frame; the next writer takes over
 * and its first publish ends the stall. */
static void dead_writer_case(bool reap)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, true, false);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	struct timespec dl;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	write_frame(g);
	pid_t pid = tu_fork();
	if (pid == 0) {
		if (shmg_wflag_claim(g) != 0)
			_exit(1);
		shmg_wflag_begin(g);
		memset(seg + OFF_MAIN, 0xEE, FRAME / 2); /* half a frame */
		_exit(0);
	}
	if (reap)
		tu_wait_ok(pid);
	else
		while (shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
			usleep(1000);
	ck_assert_uint_eq(seg[OFF_MARK], 1);
	ck_assert_int_eq(shmg_deadline_in(&dl, 5ull * 1000000000u), 0);
	ck_assert_int_eq(shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, &dl),
			 SHMG_EWRITERDEAD);
	ck_assert_int_eq(shmg_wflag_wait_idle(g, &dl), SHMG_EWRITERDEAD);
	ck_assert_int_eq(shmg_wflag_wait_update(g, 1, NULL, &dl), SHMG_EWRITERDEAD);
	ck_assert(!shmg_deadline_passed(&dl));
	ck_assert_int_eq(shmg_wflag_writer_alive(g, NULL), SHMG_PROC_DEAD);
	/* The successor: the partial frame stays marked until it publishes. */
	ck_assert_int_eq(shmg_wflag_claim(g), SHMG_OWNERDEAD);
	ck_assert_uint_eq(seg[OFF_MARK], 1);
	ck_assert_uint_eq(write_frame(g), 2);
	ck_assert_int_eq(shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, &dl), 0);
	ck_assert_uint_eq(snap.frame, 2);
	assert_frame(buf, 2);
	if (!reap)
		tu_wait_ok(pid);
}

START_TEST(dead_writer_reported) { dead_writer_case(true); }
END_TEST

START_TEST(zombie_writer_reported) { dead_writer_case(false); }
END_TEST

/* Two readers asleep in other processes are woken by the publish. Their
 * probe period is stretched past their deadline, so only the wake-up can
 * end their wait in time: a lost wake-up fails. With a waiters byte they
 * announce themselves; without one they sleep on the counter's low half. */
static void wake_across_processes_case(bool waiters)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(waiters, false, false);
	pid_t kids[2];

	ck_assert_int_eq(new_guard(&g, &p), 0);
	for (int k = 0; k < 2; k++) {
		if ((kids[k] = tu_fork()) == 0) {
			struct timespec dl, half;
			uint64_t now = 0;
			shmg__test_wflag_probe_ns = 60ull * 1000000000u;
			shmg_deadline_in(&dl, 10ull * 1000000000u);
			shmg_deadline_in(&half, 5ull * 1000000000u);
			int err = shmg_wflag_wait_update(g, 0, &now, &dl);
			/* Past 5 s only the deadline ended the sleep (which then
			 * finds the frame): the wake-up was lost. */
			_exit(err == 0 && now == 1 && !shmg_deadline_passed(&half) ? 0 : 1);
		}
	}
	/* Both children asleep in the futex (announced first), then publish. */
	for (int k = 0; k < 2; k++)
		tu_wait_in_futex(kids[k]);
	struct shmg_wflag_info info = {.size = sizeof(info)};
	if (waiters) {
		ck_assert_int_eq(shmg_wflag_inspect(g, &info), 0);
		ck_assert_uint_eq(info.waiters & 1, 1); /* announced */
	}
	write_frame(g); /* wakes the children (a new generation, if any) */
	if (waiters) {
		ck_assert_int_eq(shmg_wflag_inspect(g, &info), 0);
		ck_assert_uint_eq(info.waiters, 2); /* generation 1, nobody announced */
	}
	for (int k = 0; k < 2; k++)
		tu_wait_ok(kids[k]);
}

START_TEST(wake_across_processes) { wake_across_processes_case(true); }
END_TEST

START_TEST(wake_across_processes_without_waiters_byte)
{
	wake_across_processes_case(false);
}
END_TEST

/* The reader's side of the handshake below: stop once, just before the
 * futex_wait, until the parent has done its part. */
static int stop_pipe[2], go_pipe[2];

static void stop_before_sleep(int point)
{
	static bool stopped;
	char c = 0;

	if (point != SHMG__WFLAG_BEFORE_SLEEP || stopped)
		return;
	stopped = true;
	if (write(stop_pipe[1], &c, 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(4);
}

/*
 * Without a waiters byte, a whole frame between a sleeper's last look and
 * its futex_wait (where the hook stops it) leaves the mark's word as it
 * was: a sleeper on that word sleeps through the frame (issue 15, item 1;
 * tests/spin/wflag_wake_nowaiters.pml, mutant MARK_WORD). The probe is
 * stretched, so only its deadline could end such a sleep: the reader
 * must see the frame at once.
 * For idle: the writer is inside a frame when the reader looks; the frame
 * ends (publish, or abort) while the reader is stopped.
 */
static void frame_before_sleep_case(bool idle, bool abort_it)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(false, false, false);
	char c;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	ck_assert_int_eq(pipe(stop_pipe), 0);
	ck_assert_int_eq(pipe(go_pipe), 0);
	if (idle)
		shmg_wflag_begin(g);
	pid_t kid = tu_fork();
	if (kid == 0) {
		struct timespec dl, half;
		uint64_t now = 0;
		shmg__test_wflag_probe_ns = 60ull * 1000000000u;
		shmg__test_point = stop_before_sleep;
		shmg_deadline_in(&dl, 10ull * 1000000000u);
		shmg_deadline_in(&half, 5ull * 1000000000u);
		int err = idle ? shmg_wflag_wait_idle(g, &dl)
			       : shmg_wflag_wait_update(g, 0, &now, &dl);
		_exit(err == 0 && (idle || now == 1) && !shmg_deadline_passed(&half) ? 0 : 1);
	}
	ck_assert_int_eq(read(stop_pipe[0], &c, 1), 1);
	if (!idle)
		write_frame(g); /* mark 0 -> 1 -> 0, counter 1 */
	else if (abort_it)
		shmg_wflag_abort(g);
	else
		shmg_wflag_publish(g);
	ck_assert_int_eq(write(go_pipe[1], &c, 1), 1);
	tu_wait_ok(kid);
	for (int k = 0; k < 2; k++) {
		close(stop_pipe[k]);
		close(go_pipe[k]);
	}
}

START_TEST(no_waiters_byte_frame_before_sleep) { frame_before_sleep_case(false, false); }
END_TEST

START_TEST(no_waiters_byte_publish_before_idle_sleep) { frame_before_sleep_case(true, false); }
END_TEST

START_TEST(no_waiters_byte_abort_before_idle_sleep) { frame_before_sleep_case(true, true); }
END_TEST

/* An idle sleeper without a waiters byte is woken by an abort (which
 * moves no counter) as by a publish. */
static void idle_sleeper_woken_case(bool abort_it)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(false, false, false);

	ck_assert_int_eq(new_guard(&g, &p), 0);
	shmg_wflag_begin(g);
	pid_t kid = tu_fork();
	if (kid == 0) {
		struct timespec dl, half;
		shmg__test_wflag_probe_ns = 60ull * 1000000000u;
		shmg_deadline_in(&dl, 10ull * 1000000000u);
		shmg_deadline_in(&half, 5ull * 1000000000u);
		int err = shmg_wflag_wait_idle(g, &dl);
		_exit(err == 0 && !shmg_deadline_passed(&half) ? 0 : 1);
	}
	tu_wait_in_futex(kid);
	if (abort_it)
		shmg_wflag_abort(g);
	else
		shmg_wflag_publish(g);
	tu_wait_ok(kid);
}

START_TEST(no_waiters_byte_abort_wakes_idle_sleeper) { idle_sleeper_woken_case(true); }
END_TEST

START_TEST(no_waiters_byte_publish_wakes_idle_sleeper) { idle_sleeper_woken_case(false); }
END_TEST

/* Run publishes in a child where any futex syscall kills the process. */
static int publish_under_futex_ban(struct shmg_wflag *g)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		if (tu_ban_futex(SECCOMP_RET_KILL_PROCESS) != 0)
			_exit(3);
		for (int i = 0; i < 1000; i++) {
			shmg_wflag_begin(g);
			shmg_wflag_publish(g);
		}
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 3), "seccomp unavailable");
	return status;
}

START_TEST(publish_without_sleepers_makes_no_syscall)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, false);

	ck_assert_int_eq(new_guard(&g, &p), 0);
	int status = publish_under_futex_ban(g);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "a publish without sleepers made a futex call (status 0x%x)", status);
	ck_assert_uint_eq(*counter(), 1000);
	/* Control: without a waiters byte every publish must wake, so the
	 * same run is killed: the ban does catch futex calls. */
	p = place(false, false, false);
	ck_assert_int_eq(new_guard(&g, &p), 0);
	status = publish_under_futex_ban(g);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		      "control run was not stopped (status 0x%x)", status);
}
END_TEST

/* A counter at UINT64_MAX: begin_timed refuses the frame that would wrap it
 * to 0 (-EOVERFLOW, nothing changed, with and without a latch); a frame
 * begun by shmg_wflag_begin, which cannot report it, is not published
 * (publish returns 0, the counter stays, the mark stays set), so no reader
 * takes its stores for the old frame. */
START_TEST(counter_at_max_refused)
{
	for (int latch = 0; latch < 2; latch++) {
		struct shmg_wflag *g;
		struct shmg_wflag_place p = place(true, false, latch);
		static unsigned char before[SEG];
		unsigned char buf[FRAME];
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		void *copy;
		ck_assert_int_eq(new_guard(&g, &p), 0);
		ck_assert_uint_eq(write_frame(g), 1);
		*counter() = UINT64_MAX;
		memcpy(before, seg, SEG);
		int err = shmg_wflag_begin_timed(g, SHMG_WFLAG_FULL_WAIT, NULL, &copy, NULL);
		ck_assert_int_eq(err, -EOVERFLOW);
		ck_assert_ptr_nonnull(strstr(shmg_error_detail(err), "18446744073709551615"));
		ck_assert_msg(memcmp(before, seg, SEG) == 0, "latch %d: the segment changed", latch);
		copy = shmg_wflag_begin(g);
		memset(seg + OFF_MAIN, 0x5a, FRAME / 2);
		if (copy)
			memset(copy, 0x5a, FRAME / 2);
		ck_assert_uint_eq(shmg_wflag_publish(g), 0);
		ck_assert_uint_eq(*counter(), UINT64_MAX);
		ck_assert_uint_eq(seg[OFF_MARK], 1);
		struct timespec dl;
		ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
		err = shmg_wflag_read(g, buf, seg + OFF_MAIN, FRAME, &snap, &dl);
		if (latch) { /* the last complete copy, never the half-written one */
			ck_assert_int_eq(err, 0);
			ck_assert_uint_eq(snap.frame, 1);
			assert_frame(buf, 1);
		} else {
			ck_assert_int_eq(err, -ETIMEDOUT);
		}
		shmg_wflag_abort(g);
		memset(seg, 0, SEG);
	}
}
END_TEST

START_TEST(latch_reads_newest_complete_copy)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, false, true);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	struct timespec dl;

	ck_assert_int_eq(new_guard(&g, &p), 0);
	/* Nothing written yet: a read waits for the first frame. */
	ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, &dl), -ETIMEDOUT);
	for (uint64_t n = 1; n <= 5; n++) {
		ck_assert_uint_eq(write_frame(g), n);
		ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), 0);
		ck_assert_uint_eq(snap.frame, n);
		ck_assert_int_eq(snap.copy, (int)(n % COPIES));
		assert_frame(buf, n);
	}
	/* The writer is in the middle of frame 6: the latch still hands out
	 * frame 5 at once, where a single-buffer reader would wait. */
	unsigned char *copy = shmg_wflag_begin(g);
	memset(copy, 6, FRAME / 2);
	memset(seg + OFF_MAIN, 6, FRAME / 2);
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 5);
	assert_frame(buf, 5);
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME + 1, &snap, NULL), -ERANGE);
	shmg_wflag_abort(g);
	/* An index out of range (a corrupt segment) is reported, not used. */
	*(uint32_t *)(void *)(seg + OFF_INDEX) = COPIES;
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), SHMG_EGARBAGE);
}
END_TEST

/* What monitors see, and the recovery of a dead writer's record. */
START_TEST(inspect_and_recover)
{
	struct shmg_wflag *g;
	struct shmg_wflag_place p = place(true, true, true);
	struct shmg_wflag_info info = {.size = sizeof(info)};

	ck_assert_int_eq(new_guard(&g, &p), 0);
	ck_assert_int_eq(shmg_wflag_claim(g), 0);
	write_frame(g);
	ck_assert_int_eq(shmg_wflag_inspect(g, &info), 0);
	ck_assert_uint_eq(info.parts, SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER);
	ck_assert_uint_eq(info.mark_offset, OFF_MARK);
	ck_assert_uint_eq(info.mark, 0);
	ck_assert_uint_eq(info.counter, 1);
	ck_assert_int_eq(info.owner, getpid());
	ck_assert_int_eq(info.owner_alive, SHMG_PROC_ALIVE);
	ck_assert_uint_eq(info.copies, COPIES);
	ck_assert_uint_eq(info.index, 1);
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), 0); /* a live writer */
	*owner() = short_lived_child(true); /* dead, its last frame complete */
	struct shmg_recover_opts dry = {.size = sizeof(dry), .flags = SHMG_RECOVER_DRY_RUN};
	ck_assert_int_eq(shmg_wflag_recover(g, &dry), SHMG_RECOVERED);
	ck_assert_int_ne(*owner(), 0); /* a dry run changes nothing */
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), SHMG_RECOVERED);
	ck_assert_int_eq(*owner(), 0);
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), 0);
	*owner() = short_lived_child(true); /* dead mid-frame: left to a client */
	seg[OFF_MARK] = 1;
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), SHMG_EWRITERDEAD);
	ck_assert_int_ne(*owner(), 0);
	*owner() = -3;
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), SHMG_EGARBAGE);
	struct shmg_wflag_place none = place(true, false, false);
	ck_assert_int_eq(new_guard(&g, &none), 0);
	ck_assert_int_eq(shmg_wflag_recover(g, NULL), -ENOTSUP);
	ck_assert_int_eq(shmg_wflag_inspect(g, &info), 0);
	ck_assert_int_eq(info.owner_alive, -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wflag");
	TCase *tc = tcase_create("wflag");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, placement_checked);
	tcase_add_test(tc, write_then_read);
	tcase_add_test(tc, read_while_writing_times_out);
	tcase_add_test(tc, wait_update_results);
	tcase_add_test(tc, wait_reports_eintr);
	tcase_add_test(tc, latch_reads_newest_complete_copy);
	tcase_add_test(tc, counter_at_max_refused);
	suite_add_tcase(s, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers");
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_set_timeout(pc, 30);
	tcase_add_test(pc, claim_and_release);
	tcase_add_test(pc, inspect_and_recover);
	tcase_add_test(pc, dead_writer_reported);
	tcase_add_test(pc, zombie_writer_reported);
	tcase_add_test(pc, wake_across_processes);
	tcase_add_test(pc, wake_across_processes_without_waiters_byte);
	tcase_add_test(pc, no_waiters_byte_frame_before_sleep);
	tcase_add_test(pc, no_waiters_byte_publish_before_idle_sleep);
	tcase_add_test(pc, no_waiters_byte_abort_before_idle_sleep);
	tcase_add_test(pc, no_waiters_byte_abort_wakes_idle_sleeper);
	tcase_add_test(pc, no_waiters_byte_publish_wakes_idle_sleeper);
	tcase_add_test(pc, publish_without_sleepers_makes_no_syscall);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
