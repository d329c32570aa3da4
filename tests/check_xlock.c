/*
 * check_xlock: the exclusive lock, on 8- and 4-byte words. Placement,
 * recursion, non-owners, garbage words (refused, unchanged), owner death
 * (dead, zombie, PID reuse, a live owner never robbed), consistent and
 * not-recoverable, wake-ups that cannot hide behind probes, no syscall on
 * an uncontended unlock, exact counts under contention between processes
 * and threads, and crash tests in the manner of glibc's tst-robust8:
 * processes SIGKILLed at random and at each protocol step.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <shmguard.h>
#include <shmguard/xlock.h>

#include "testutil.h"
#include "../tools/bench/futex_ban.h"
#include "testing.h" /* the hooks (test build) */

#define SEG 4096
#define OFF8 64  /* an 8-byte lock word */
#define OFF4 132 /* a 4-byte lock word */

static unsigned char *seg;
static struct shmg_region *region;

static void setup(void)
{
	seg = tu_shared_alloc(SEG);
	ck_assert_int_eq(shmg_region_from_memory(&region, seg, SEG), 0);
}

static void teardown(void)
{
	shmg_region_close(region);
	tu_shared_free(seg, SEG);
}

/* Loop tests run once per width: _i 0 = 8 bytes, 1 = 4 bytes (the words
 * at OFF8 and OFF4). */
static struct shmg_xlock lock_for(int i)
{
	struct shmg_xlock l;
	ck_assert_int_eq(shmg_xlock_init(&l, region, i ? OFF4 : OFF8, i ? 4 : 8), 0);
	return l;
}

static unsigned width(const struct shmg_xlock *l)
{
	struct shmg_xlock_info info = {.size = sizeof(info)};
	ck_assert_int_eq(shmg_xlock_inspect(l, &info), 0);
	return info.width;
}

/* The lock word as read by a monitor. */
static uint64_t word(const struct shmg_xlock *l)
{
	struct shmg_xlock_info info = {.size = sizeof(info)};
	ck_assert_int_eq(shmg_xlock_inspect(l, &info), 0);
	return info.raw;
}

/* Write a lock_for() lock's word as another program would. */
static void set_word(const struct shmg_xlock *l, uint64_t v)
{
	if (width(l) == 8)
		shmg_atomic_store((uint64_t *)(void *)(seg + OFF8), v, relaxed);
	else
		shmg_atomic_store((uint32_t *)(void *)(seg + OFF4), (uint32_t)v, relaxed);
}

/* The WAITERS bit (doc/xlock.md). */
static uint64_t waiters_bit(const struct shmg_xlock *l)
{
	return width(l) == 8 ? UINT64_C(1) << 31 : UINT64_C(1) << 23;
}

/* The word a thread (tid, start time) writes. */
static uint64_t word_of(const struct shmg_xlock *l, pid_t tid, uint64_t start)
{
	if (width(l) == 8)
		return (uint64_t)tid | (start & 0xffffffffu) << 32;
	return (uint64_t)tid | (start & 0xffu) << 24;
}

static uint64_t start_of(pid_t pid)
{
	struct shmg_proc_id id;
	ck_assert_int_eq(shmg_proc_lookup(pid, &id), 0);
	return id.start_time;
}

START_TEST(placement_checked)
{
	struct shmg_xlock l;
	ck_assert_int_eq(shmg_xlock_init(&l, region, 64, 2), -EINVAL);
	ck_assert_int_eq(shmg_xlock_init(&l, region, 60, 8), -EINVAL);
	ck_assert_str_eq(shmg_error_detail(-EINVAL), "offset 60 is not 8-byte aligned");
	ck_assert_int_eq(shmg_xlock_init(&l, region, 62, 4), -EINVAL);
	ck_assert_int_eq(shmg_xlock_init(&l, region, SEG - 4, 8), -ERANGE);
	ck_assert_int_eq(shmg_xlock_init(&l, region, SEG, 4), -ERANGE);
	ck_assert_int_eq(shmg_xlock_init(&l, region, SEG - 4, 4), 0);
}
END_TEST

START_TEST(lock_unlock_basics)
{
	struct shmg_xlock l = lock_for(_i);
	struct shmg_xlock_info info = {.size = sizeof(info)};
	pid_t me = (pid_t)syscall(SYS_gettid);

	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	ck_assert_uint_eq(word(&l), word_of(&l, me, start_of(me)));
	ck_assert_int_eq(shmg_xlock_inspect(&l, &info), 0);
	ck_assert_int_eq(info.state, SHMG_XLOCK_HELD);
	ck_assert_int_eq(info.owner_tid, me);
	ck_assert_int_eq(info.owner_alive, SHMG_PROC_ALIVE);
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_EDEADLK);
	ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_EDEADLK);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, NULL), SHMG_EDEADLK);
	ck_assert_int_eq(shmg_xlock_consistent(&l), -EINVAL);
	ck_assert_int_eq(shmg_xlock_recover(&l, NULL), -EBUSY); /* a live owner */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_uint_eq(word(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_xlock_consistent(&l), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_xlock_trylock(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	struct timespec dl;
	ck_assert_int_eq(shmg_deadline_in(&dl, 0), 0); /* already passed */
	ck_assert_int_eq(shmg_xlock_timedlock(&l, &dl), 0); /* free: taken */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_int_eq(shmg_xlock_inspect(&l, &info), 0);
	ck_assert_int_eq(info.state, SHMG_XLOCK_UNLOCKED);
}
END_TEST

START_TEST(garbage_refused_unchanged)
{
	struct shmg_xlock l = lock_for(_i);
	struct shmg_xlock_info info = {.size = sizeof(info)};
	/* id 0 with start bits; WAITERS alone; an id beyond PID_MAX_LIMIT */
	uint64_t bad[3] = {
		width(&l) == 8 ? UINT64_C(5) << 32 : UINT64_C(5) << 24,
		waiters_bit(&l),
		width(&l) == 8 ? UINT64_C(1) << 29 : 0,
	};
	for (int k = 0; k < 3; k++) {
		if (!bad[k])
			continue; /* a 4-byte id cannot exceed the limit */
		set_word(&l, bad[k]);
		ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_EGARBAGE);
		ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_EGARBAGE);
		ck_assert_int_eq(shmg_xlock_unlock(&l), SHMG_EGARBAGE);
		ck_assert_int_eq(shmg_xlock_recover(&l, NULL), SHMG_EGARBAGE);
		ck_assert_int_eq(shmg_xlock_inspect(&l, &info), 0);
		ck_assert_int_eq(info.state, SHMG_XLOCK_GARBAGE);
		ck_assert_uint_eq(word(&l), bad[k]);
	}
}
END_TEST

/* Held by another live process: busy, timed out, not unlockable by us. */
START_TEST(live_owner_is_respected)
{
	struct shmg_xlock l = lock_for(_i);
	pid_t parent = getppid();
	uint64_t w = word_of(&l, parent, start_of(parent));
	struct timespec dl;

	set_word(&l, w);
	ck_assert_int_eq(shmg_xlock_trylock(&l), -EBUSY);
	ck_assert_int_eq(shmg_deadline_in(&dl, 30 * 1000000), 0);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_xlock_unlock(&l), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_xlock_recover(&l, NULL), -EBUSY);
	ck_assert_uint_eq(word(&l) & ~(waiters_bit(&l)), w);
	set_word(&l, 0);
}
END_TEST

/* A child takes the lock and exits (reap: dead; no reap: a zombie). */
static pid_t child_dies_holding(const struct shmg_xlock *l, bool reap)
{
	pid_t pid = tu_fork();
	if (pid == 0)
		_exit(shmg_xlock_lock(l) == 0 ? 0 : 1);
	if (reap)
		tu_wait_ok(pid);
	else
		while (shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
			usleep(1000);
	return pid;
}

START_TEST(owner_death_consistent)
{
	struct shmg_xlock l = lock_for(_i);
	struct shmg_xlock_info info = {.size = sizeof(info)};

	child_dies_holding(&l, true);
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_inspect(&l, &info), 0);
	ck_assert_int_eq(info.state, SHMG_XLOCK_INCONSISTENT);
	ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_consistent(&l), -EINVAL);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_uint_eq(word(&l), 0);
}
END_TEST

START_TEST(owner_death_not_recoverable)
{
	struct shmg_xlock l = lock_for(_i);
	struct shmg_xlock_info info = {.size = sizeof(info)};

	child_dies_holding(&l, true);
	ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0); /* without consistent() */
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_ENOTRECOVERABLE);
	ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_ENOTRECOVERABLE);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, NULL), SHMG_ENOTRECOVERABLE);
	ck_assert_int_eq(shmg_xlock_unlock(&l), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_xlock_inspect(&l, &info), 0);
	ck_assert_int_eq(info.state, SHMG_XLOCK_NOTRECOVERABLE);
	/* A dry run says so and changes nothing; then it is cleared. */
	struct shmg_recover_opts dry = {.size = sizeof(dry), .flags = SHMG_RECOVER_DRY_RUN};
	ck_assert_int_eq(shmg_xlock_recover(&l, &dry), SHMG_RECOVERED);
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_ENOTRECOVERABLE);
	ck_assert_int_eq(shmg_xlock_recover(&l, NULL), SHMG_RECOVERED);
	ck_assert_int_eq(shmg_xlock_recover(&l, NULL), 0); /* nothing left */
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
}
END_TEST

START_TEST(zombie_owner_is_dead)
{
	struct shmg_xlock l = lock_for(_i);
	pid_t pid = child_dies_holding(&l, false);
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	tu_wait_ok(pid);
	/* And an administrator may clear a dead owner's lock. */
	child_dies_holding(&l, true);
	ck_assert_int_eq(shmg_xlock_recover(&l, NULL), SHMG_RECOVERED);
	ck_assert_uint_eq(word(&l), 0);
}
END_TEST

/* PID reuse: the word names a live process's id with other start bits (the
 * dead owner's): the owner is dead, for trylock and lock alike. With that
 * process's own start bits: alive, never robbed. */
START_TEST(pid_reuse_not_fooled)
{
	struct shmg_xlock l = lock_for(_i);
	struct timespec dl;
	pid_t live = tu_fork();
	if (live == 0) {
		pause();
		_exit(0);
	}
	uint64_t start = start_of(live);
	/* trylock's own probe (one look at whichever thread has the id now)
	 * must compare the start bits too. */
	set_word(&l, word_of(&l, live, start + 1));
	ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	set_word(&l, word_of(&l, live, start + 1));
	ck_assert_int_eq(shmg_xlock_lock(&l), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	set_word(&l, word_of(&l, live, start));
	ck_assert_int_eq(shmg_xlock_trylock(&l), -EBUSY);
	ck_assert_int_eq(shmg_deadline_in(&dl, 100 * 1000000), 0);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, &dl), -ETIMEDOUT);
	ck_assert_uint_eq(word(&l) & (width(&l) == 8 ? 0x3fffffff : 0x3fffff), (uint64_t)live);
	kill(live, SIGKILL);
	waitpid(live, NULL, 0);
	set_word(&l, 0);
}
END_TEST

/* The liveness source faked (the test hook): an owner judged dead is taken
 * with SHMG_OWNERDEAD; one judged alive, or one the probe cannot judge
 * (-EIO), is never taken. */
static int fake_verdict;
static int fake_alive(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	(void)tid;
	(void)start_bits;
	(void)nbits;
	return fake_verdict;
}

START_TEST(doubt_means_alive)
{
	struct shmg_xlock l = lock_for(_i);
	struct timespec dl;
	uint64_t w = word_of(&l, 4000, 7); /* any owner but us */

	shmg__test_alive = fake_alive;
	int verdicts[2] = {SHMG_PROC_ALIVE, -EIO};
	for (int k = 0; k < 2; k++) {
		fake_verdict = verdicts[k];
		set_word(&l, w);
		ck_assert_int_eq(shmg_xlock_trylock(&l), -EBUSY);
		ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
		ck_assert_int_eq(shmg_xlock_timedlock(&l, &dl), -ETIMEDOUT);
		ck_assert_int_eq(shmg_xlock_recover(&l, NULL), -EBUSY);
	}
	fake_verdict = SHMG_PROC_DEAD;
	set_word(&l, w);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, NULL), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	shmg__test_alive = NULL;
}
END_TEST

/* A live owner holding the lock for long is waited for, not robbed. */
START_TEST(long_holder_not_robbed)
{
	struct shmg_xlock l = lock_for(_i);
	uint32_t *flag = tu_shared_alloc(4096);
	struct timespec dl;
	pid_t pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(&l) != 0)
			_exit(1);
		shmg_atomic_store(flag, 1, release);
		usleep(300000);
		flag[1] = 7; /* written under the lock */
		_exit(shmg_xlock_unlock(&l) == 0 ? 0 : 2);
	}
	while (!shmg_atomic_load(flag, acquire))
		usleep(1000);
	ck_assert_int_eq(shmg_deadline_in(&dl, 100 * 1000000), 0);
	ck_assert_int_eq(shmg_xlock_timedlock(&l, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	ck_assert_uint_eq(flag[1], 7);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	tu_wait_ok(pid);
	tu_shared_free(flag, 4096);
}
END_TEST

/* A sleeper whose sleep timed out sleeps on with 1 ns of timer slack, so
 * its probes come on time (the default 50 us of slack made a dead owner
 * noticed late: doc/xlock.md, "Owner death"), and it gets its own slack
 * back with the lock. The sleeper is a thread of this process, the holder
 * this thread (alive: the sleeper's probes keep it waiting). */
static uint32_t sleeps_seen;
static long slack_while_asleep;
static void record_slack(int point)
{
	if (point != SHMG__XLOCK_WAITERS_SET)
		return;
	shmg_atomic_store(&slack_while_asleep, (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0),
			  relaxed);
	shmg_atomic_inc(&sleeps_seen, release);
}

struct slack_sleeper {
	const struct shmg_xlock *l;
	int result;
	long slack_after;
};

static void *slack_sleeper(void *arg)
{
	struct slack_sleeper *s = arg;
	prctl(PR_SET_TIMERSLACK, 123456ul, 0ul, 0ul, 0ul);
	s->result = shmg_xlock_lock(s->l);
	s->slack_after = (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (s->result == 0)
		shmg_xlock_unlock(s->l);
	return NULL;
}

START_TEST(sleeper_timers_precise)
{
	struct shmg_xlock l = lock_for(_i);
	struct slack_sleeper s = {.l = &l, .result = -1};
	pthread_t t;

	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	shmg_atomic_store(&sleeps_seen, 0, relaxed);
	shmg__test_point = record_slack;
	ck_assert_int_eq(pthread_create(&t, NULL, slack_sleeper, &s), 0);
	/* The third sleep comes after two timed-out ones. */
	while (shmg_atomic_load(&sleeps_seen, acquire) < 3)
		usleep(100);
	long slack = shmg_atomic_load(&slack_while_asleep, relaxed);
	ck_assert_int_eq(slack, 1);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	shmg__test_point = NULL;
	ck_assert_int_eq(s.result, 0);
	ck_assert_int_eq(s.slack_after, 123456);
}
END_TEST

/* A sleeper is woken by the unlock. Its probe period is stretched past the
 * test's bound, so only the wake-up ends its sleep in time. */
START_TEST(sleeper_woken_by_unlock)
{
	struct shmg_xlock l = lock_for(_i);
	uint32_t *flag = tu_shared_alloc(4096);
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct timespec dl, half;
		shmg__test_xlock_probe_ns = 60ull * 1000000000u;
		while (!shmg_atomic_load(flag, acquire))
			usleep(100);
		shmg_deadline_in(&dl, 10ull * 1000000000u);
		shmg_deadline_in(&half, 5ull * 1000000000u);
		int err = shmg_xlock_timedlock(&l, &dl);
		_exit(err == 0 && !shmg_deadline_passed(&half) ? 0 : 1);
	}
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	shmg_atomic_store(flag, 1, release);
	/* Wait until the child announced itself, then let it sleep. */
	uint64_t wbit = waiters_bit(&l);
	while (!(word(&l) & wbit))
		usleep(1000);
	usleep(20000);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	tu_wait_ok(pid);
	tu_shared_free(flag, 4096);
}
END_TEST

/* Lock/unlock in a child where any futex call kills the process. */
static int under_futex_ban(const struct shmg_xlock *l, bool announce)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		/* Identity first: its one-time /proc read is not the point. */
		if (shmg_xlock_lock(l) != 0 || shmg_xlock_unlock(l) != 0)
			_exit(4);
		if (tu_ban_futex(SECCOMP_RET_KILL_PROCESS) != 0)
			_exit(3);
		for (int i = 0; i < 1000; i++) {
			if (shmg_xlock_lock(l) != 0)
				_exit(5);
			if (announce) /* as a sleeper would */
				set_word(l, word(l) | waiters_bit(l));
			if (shmg_xlock_unlock(l) != 0)
				_exit(6);
		}
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 3), "seccomp unavailable");
	return status;
}

START_TEST(uncontended_unlock_makes_no_syscall)
{
	struct shmg_xlock l = lock_for(_i);
	int status = under_futex_ban(&l, false);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "uncontended lock/unlock made a futex call (status 0x%x)", status);
	/* Control: with a waiter announced, unlock must wake (and is killed). */
	status = under_futex_ban(&l, true);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		      "control run was not stopped (status 0x%x)", status);
	set_word(&l, 0);
}
END_TEST

/* Shared state for the counting and crash tests. */
struct guarded {
	uint64_t count;
	uint64_t flags;
	uint64_t a, b;      /* a == b outside the critical section */
	int32_t holder;     /* who is inside */
	uint32_t overlaps;  /* two inside at once: must stay 0 */
	uint32_t recovered; /* SHMG_OWNERDEAD handled */
};

static int take(const struct shmg_xlock *l, int how)
{
	struct timespec dl;
	int err;
	switch (how) {
	case 0:
		return shmg_xlock_lock(l);
	case 1:
		while ((err = shmg_xlock_trylock(l)) == -EBUSY)
			shmg_cpu_relax();
		return err;
	default:
		shmg_deadline_in(&dl, 20 * 1000000);
		while ((err = shmg_xlock_timedlock(l, &dl)) == -ETIMEDOUT)
			shmg_deadline_in(&dl, 20 * 1000000);
		return err;
	}
}

/* The critical section: detects a second process inside, keeps a == b
 * unless killed in the middle (then the next owner repairs it). */
static void critical(struct guarded *g, int32_t me, unsigned bit)
{
	volatile struct guarded *v = g;
	if (v->holder != 0)
		v->overlaps++;
	v->holder = me;
	v->a++;
	v->count++;
	v->flags ^= UINT64_C(1) << bit;
	for (int i = 0; i < 20; i++)
		shmg_compiler_barrier(seq_cst);
	if (v->holder != me)
		v->overlaps++;
	v->b++;
	v->holder = 0;
}

static bool locked_ok(const struct shmg_xlock *l, struct guarded *g, int err)
{
	if (err == SHMG_OWNERDEAD) {
		volatile struct guarded *v = g;
		v->b = v->a; /* repair what the dead owner left */
		v->holder = 0;
		v->recovered++;
		return shmg_xlock_consistent(l) == 0;
	}
	return err == 0;
}

#define WORKERS 4
#define ROUNDS 20000

START_TEST(contended_counts_exact)
{
	struct shmg_xlock l = lock_for(_i);
	struct guarded *g = tu_shared_alloc(4096);
	uint32_t *line = (uint32_t *)(g + 1);
	pid_t pids[WORKERS];

	for (int w = 0; w < WORKERS; w++) {
		if ((pids[w] = tu_fork()) == 0) {
			tu_start_line(line, WORKERS);
			for (int r = 0; r < ROUNDS; r++) {
				if (take(&l, r % 3) != 0)
					_exit(1);
				critical(g, getpid(), (unsigned)w);
				if (shmg_xlock_unlock(&l) != 0)
					_exit(2);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		tu_wait_ok(pids[w]);
	ck_assert_uint_eq(g->count, WORKERS * ROUNDS);
	ck_assert_uint_eq(g->a, g->b);
	ck_assert_uint_eq(g->overlaps, 0);
	ck_assert_uint_eq(g->flags, 0); /* each bit toggled an even number of times */
	ck_assert_uint_eq(word(&l), 0);
	tu_shared_free(g, 4096);
}
END_TEST

struct thread_arg {
	const struct shmg_xlock *l;
	struct guarded *g;
	unsigned bit;
};

static void *thread_worker(void *p)
{
	struct thread_arg *a = p;
	for (int r = 0; r < ROUNDS / 2; r++) {
		if (take(a->l, r % 3) != 0)
			return (void *)1;
		critical(a->g, (int32_t)syscall(SYS_gettid), a->bit);
		if (shmg_xlock_unlock(a->l) != 0)
			return (void *)2;
	}
	return NULL;
}

/* Ownership is per thread: threads of one process exclude each other. */
START_TEST(threads_exclude_each_other)
{
	struct shmg_xlock l = lock_for(_i);
	struct guarded *g = tu_shared_alloc(4096);
	pthread_t t[3];
	struct thread_arg args[3];

	for (unsigned k = 0; k < 3; k++) {
		args[k] = (struct thread_arg){&l, g, k};
		ck_assert_int_eq(pthread_create(&t[k], NULL, thread_worker, &args[k]), 0);
	}
	for (unsigned k = 0; k < 3; k++) {
		void *ret;
		ck_assert_int_eq(pthread_join(t[k], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(g->count, 3 * (ROUNDS / 2));
	ck_assert_uint_eq(g->overlaps, 0);
	tu_shared_free(g, 4096);
}
END_TEST

/* ---------------------------------------------------------------- crashes */

#define NLOCKS 4

static int die_at_step;
static void die_at(int step)
{
	if (step == die_at_step)
		raise(SIGKILL);
}

/* A worker of the random crash test: forever, a random lock by a random
 * method, the critical section, unlock. Killed by the parent. */
static void crash_worker(struct guarded *gs, uint64_t seed)
{
	struct shmg_xlock locks[NLOCKS];
	for (int k = 0; k < NLOCKS; k++) {
		struct shmg_xlock l;
		shmg_xlock_init(&l, region, 256 + 64 * (size_t)k + (k & 1 ? 4 : 0), k & 1 ? 4 : 8);
		locks[k] = l;
	}
	for (;;) {
		int k = (int)(tu_rand(&seed) % NLOCKS);
		int err = take(&locks[k], (int)(tu_rand(&seed) % 3));
		if (!locked_ok(&locks[k], &gs[k], err))
			_exit(1);
		critical(&gs[k], getpid(), 0);
		if (shmg_xlock_unlock(&locks[k]) != 0)
			_exit(2);
	}
}

/* Children hammer NLOCKS locks; the parent SIGKILLs one at a random moment
 * and starts another, for many rounds; then it must get every lock with 0
 * or SHMG_OWNERDEAD within a bound, and find no overlap ever happened. */
START_TEST(random_kills)
{
	struct guarded *gs = tu_shared_alloc(4096);
	pid_t kids[3];
	uint64_t seed = 0x5eed;
	/* make stress-xlock asks for many more rounds */
	const char *env = getenv("SHMG_STRESS_ROUNDS");
	int rounds = env ? (int)strtonum(env, 1, 1000000, NULL) : 150;
	if (rounds <= 0)
		rounds = 150;

	for (int c = 0; c < 3; c++)
		if ((kids[c] = tu_fork()) == 0)
			crash_worker(gs, 1000 + (uint64_t)c);
	for (int r = 0; r < rounds; r++) {
		usleep((useconds_t)(tu_rand(&seed) % 3000));
		int c = (int)(tu_rand(&seed) % 3);
		kill(kids[c], SIGKILL);
		int status;
		ck_assert_int_eq(waitpid(kids[c], &status, 0), kids[c]);
		ck_assert_msg(WIFSIGNALED(status), "worker ended by itself: 0x%x", status);
		if ((kids[c] = tu_fork()) == 0)
			crash_worker(gs, 2000 + (uint64_t)r);
	}
	for (int c = 0; c < 3; c++) {
		kill(kids[c], SIGKILL);
		waitpid(kids[c], NULL, 0);
	}
	uint32_t recovered = 0;
	for (int k = 0; k < NLOCKS; k++) {
		struct shmg_xlock l;
		struct timespec dl;
		ck_assert_int_eq(shmg_xlock_init(&l, region, 256 + 64 * (size_t)k + (k & 1 ? 4 : 0), k & 1 ? 4 : 8), 0);
		ck_assert_int_eq(shmg_deadline_in(&dl, 5ull * 1000000000u), 0);
		int err = shmg_xlock_timedlock(&l, &dl);
		ck_assert_msg(err == 0 || err == SHMG_OWNERDEAD, "lock %d: %s", k, shmg_strerror(err));
		ck_assert(locked_ok(&l, &gs[k], err));
		ck_assert_uint_eq(gs[k].a, gs[k].b);
		ck_assert_uint_eq(gs[k].overlaps, 0);
		ck_assert_uint_gt(gs[k].count, 0);
		recovered += gs[k].recovered;
		ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	}
	/* Some kills land inside a critical section: those were recovered. */
	ck_assert_uint_gt(recovered, 0);
	printf("random_kills: %d rounds, %u recoveries, %llu critical sections\n", rounds,
	       recovered, (unsigned long long)(gs[0].count + gs[1].count + gs[2].count + gs[3].count));
	tu_shared_free(gs, 4096);
}
END_TEST

/* A process killed at one protocol step: the others never hang, and the
 * lock is obtained with 0 or SHMG_OWNERDEAD as the step implies. */
static void kill_at_step(int width_i, int step)
{
	struct shmg_xlock l = lock_for(width_i);
	uint32_t *flag = tu_shared_alloc(4096);
	struct timespec dl;
	int err, status;
	bool parent_holds = step == SHMG__XLOCK_LOCKED || step == SHMG__XLOCK_WAITERS_SET;

	if (step == SHMG__XLOCK_STOLEN)
		child_dies_holding(&l, true); /* so the victim steals */
	if (parent_holds)
		ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	pid_t victim = tu_fork();
	if (victim == 0) {
		die_at_step = step;
		shmg__test_point = die_at;
		shmg_atomic_store(flag, 1, release);
		err = shmg_xlock_lock(&l);
		if (step == SHMG__XLOCK_UNLOCK_AFTER) /* hold until the parent sleeps */
			usleep(50000);
		if (err == SHMG_OWNERDEAD)
			shmg_xlock_consistent(&l);
		shmg_xlock_unlock(&l);
		_exit(9); /* the step was not reached */
	}
	while (!shmg_atomic_load(flag, acquire))
		usleep(100);
	if (parent_holds) {
		uint64_t wbit = waiters_bit(&l);
		while (!(word(&l) & wbit))
			usleep(100); /* the victim announced itself */
		usleep(5000);
		ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	}
	ck_assert_int_eq(shmg_deadline_in(&dl, 5ull * 1000000000u), 0);
	if (step == SHMG__XLOCK_UNLOCK_AFTER) {
		/* Asleep in lock while the victim unlocks and dies before its
		 * wake: the sleeper must still get the lock. */
		while (word(&l) == 0)
			usleep(100);
		err = shmg_xlock_timedlock(&l, &dl);
		ck_assert_int_eq(waitpid(victim, &status, 0), victim);
	} else {
		ck_assert_int_eq(waitpid(victim, &status, 0), victim);
		err = shmg_xlock_timedlock(&l, &dl);
	}
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "step %d: victim was not killed there (0x%x)", step, status);
	/* Dead while holding: owner died. Dead while waiting, or after its
	 * unlock's exchange: the lock is simply free. */
	int expect = step == SHMG__XLOCK_WAITERS_SET || step == SHMG__XLOCK_UNLOCK_AFTER ? 0 : SHMG_OWNERDEAD;
	ck_assert_msg(err == expect, "step %d: got %s", step, shmg_strerror(err));
	if (err == SHMG_OWNERDEAD)
		ck_assert_int_eq(shmg_xlock_consistent(&l), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_int_eq(shmg_xlock_lock(&l), 0); /* and it still works */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	tu_shared_free(flag, 4096);
}

START_TEST(kill_at_each_step)
{
	for (int step = SHMG__XLOCK_LOCKED; step <= SHMG__XLOCK_UNLOCK_AFTER; step++)
		kill_at_step(_i, step);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xlock");
	TCase *tc = tcase_create("xlock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, placement_checked);
	tcase_add_loop_test(tc, lock_unlock_basics, 0, 2);
	tcase_add_loop_test(tc, garbage_refused_unchanged, 0, 2);
	tcase_add_loop_test(tc, live_owner_is_respected, 0, 2);
	tcase_add_loop_test(tc, doubt_means_alive, 0, 2);
	suite_add_tcase(s, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers");
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_set_timeout(pc, 60);
	tcase_add_loop_test(pc, owner_death_consistent, 0, 2);
	tcase_add_loop_test(pc, owner_death_not_recoverable, 0, 2);
	tcase_add_loop_test(pc, zombie_owner_is_dead, 0, 2);
	tcase_add_loop_test(pc, pid_reuse_not_fooled, 0, 2);
	tcase_add_loop_test(pc, long_holder_not_robbed, 0, 2);
	tcase_add_loop_test(pc, sleeper_woken_by_unlock, 0, 2);
	tcase_add_loop_test(pc, sleeper_timers_precise, 0, 2);
	tcase_add_loop_test(pc, uncontended_unlock_makes_no_syscall, 0, 2);
	tcase_add_loop_test(pc, contended_counts_exact, 0, 2);
	tcase_add_loop_test(pc, threads_exclude_each_other, 0, 2);
	tcase_add_loop_test(pc, kill_at_each_step, 0, 2);
	tcase_add_test(pc, random_kills);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
