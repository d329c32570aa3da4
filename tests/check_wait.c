/* Unit suite for shmguard/wait.h: deadlines, shared futexes across
 * processes mapping one file at different addresses, EINTR, ping-pong. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/wait.h>

#include "testutil.h"

static char path[64];
static int fd = -1;

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/shmg-wait-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
}

static void teardown(void)
{
	close(fd);
}

/* Map the shared file at a fresh address; `skew` pages of padding make
 * sure two mappings land at different addresses. */
static uint32_t *map_word(int skew)
{
	void *pad = skew ? mmap(NULL, 4096 * (size_t)skew, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
	(void)pad;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED);
	return p;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

START_TEST(deadline_basics)
{
	struct timespec dl;
	ck_assert(!shmg_deadline_passed(NULL));
	ck_assert_int_eq(shmg_deadline_in(&dl, 0), 0);
	ck_assert(shmg_deadline_passed(&dl));
	ck_assert_int_eq(shmg_deadline_in(&dl, 3600ull * 1000000000ull), 0);
	ck_assert(!shmg_deadline_passed(&dl));
	ck_assert_int_eq(shmg_deadline_in(&dl, UINT64_MAX), 0);
	ck_assert(!shmg_deadline_passed(&dl));
	ck_assert_int_ge(dl.tv_nsec, 0);
	ck_assert_int_lt(dl.tv_nsec, 1000000000L);
}
END_TEST

START_TEST(futex_errors_and_values)
{
	uint32_t *w = map_word(0);
	struct timespec dl;
	*w = 5;
	ck_assert_int_eq(shmg_futex_wait(w, 4, NULL), 0); /* differs: no sleep */
	ck_assert_int_eq(shmg_futex_wait((uint32_t *)((char *)w + 2), 0, NULL), -EINVAL);
	ck_assert_int_eq(shmg_futex_wake((uint32_t *)((char *)w + 1), 1), -EINVAL);
	ck_assert_int_eq(shmg_futex_wake(w, 1), 0);
	/* Deadline already passed: -ETIMEDOUT without sleeping. */
	ck_assert_int_eq(shmg_deadline_in(&dl, 0), 0);
	ck_assert_int_eq(shmg_futex_wait(w, 5, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_wait_u32_change(w, 5, ~0u, &dl), -ETIMEDOUT);
	/* Mask: a change outside the mask is not a change. */
	ck_assert_int_eq(shmg_wait_u32_change(w, 5 | 0x100, 0xff, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_wait_u32_change(w, 4 | 0x100, 0xff, &dl), 0);
	ck_assert_int_eq(shmg_wait_u32_change(w, 4, 0, &dl), -ETIMEDOUT);
}
END_TEST

START_TEST(timeout_really_waits)
{
	uint32_t *w = map_word(0);
	struct timespec dl;
	*w = 0;
	double t0 = now_s();
	ck_assert_int_eq(shmg_deadline_in(&dl, 50 * 1000000ull), 0);
	ck_assert_int_eq(shmg_futex_wait(w, 0, &dl), -ETIMEDOUT);
	ck_assert(shmg_deadline_passed(&dl));
	ck_assert_int_eq(shmg_deadline_in(&dl, 50 * 1000000ull), 0);
	ck_assert_int_eq(shmg_wait_u32_change(w, 0, ~0u, &dl), -ETIMEDOUT);
	ck_assert(shmg_deadline_passed(&dl));
	ck_assert(now_s() - t0 >= 0.1);
}
END_TEST

static void on_alarm(int sig)
{
	(void)sig;
}

START_TEST(eintr_reported)
{
	uint32_t *w = map_word(0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	*w = 0;
	struct timespec dl;
	ck_assert_int_eq(shmg_deadline_in(&dl, 5000 * 1000000ull), 0);
	struct itimerval it = { .it_value = { .tv_usec = 20000 } };
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(shmg_futex_wait(w, 0, &dl), -EINTR);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(shmg_wait_u32_change(w, 0, ~0u, &dl), -EINTR);
	ck_assert(!shmg_deadline_passed(&dl));
}
END_TEST

START_TEST(wake_across_processes)
{
	uint32_t *a = map_word(0);
	*a = 0;
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0) {
		uint32_t *b = map_word(3); /* another address, same inode+offset */
		if (b == a)
			_exit(3);
		struct timespec dl;
		shmg_deadline_in(&dl, 10ull * 1000000000ull);
		shmg_atomic_store(&b[1], 1, release); /* "I am about to sleep" */
		shmg_futex_wake(&b[1], 1);
		int rc = shmg_wait_u32_change(b, 0, ~0u, &dl);
		_exit(rc == 0 && shmg_atomic_load(b, acquire) == 7 ? 0 : 1);
	}
	struct timespec dl;
	shmg_deadline_in(&dl, 10ull * 1000000000ull);
	ck_assert_int_eq(shmg_wait_u32_change(&a[1], 0, ~0u, &dl), 0);
	usleep(20000); /* not needed for correctness: makes the sleep path likely */
	shmg_atomic_store(a, 7, release);
	ck_assert_int_ge(shmg_futex_wake(a, INT32_MAX), 0);
	int st;
	ck_assert_int_eq(waitpid(c, &st, 0), c);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

#define ROUNDS 10000

/* Ping-pong: the word holds the turn count; each side waits for its turn,
 * increments, wakes. A lost wake-up hangs until the deadline and fails. */
static int play(uint32_t *w, uint32_t parity)
{
	struct timespec dl;
	shmg_deadline_in(&dl, 15ull * 1000000000ull);
	for (uint32_t i = parity; i < 2 * ROUNDS; i += 2) {
		uint32_t v;
		while ((v = shmg_atomic_load(w, acquire)) != i) {
			if (v > i)
				return -EPROTO;
			int rc = shmg_wait_u32_change(w, v, ~0u, &dl);
			if (rc)
				return rc;
		}
		shmg_atomic_store(w, i + 1, release);
		shmg_futex_wake(w, 1);
	}
	return 0;
}

START_TEST(ping_pong_no_lost_wakeup)
{
	uint32_t *a = map_word(0);
	*a = 0;
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0)
		_exit(play(map_word(2), 1) ? 1 : 0);
	ck_assert_int_eq(play(a, 0), 0);
	int st;
	ck_assert_int_eq(waitpid(c, &st, 0), c);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(*a, 2 * ROUNDS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("wait");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deadline_basics);
	tcase_add_test(tc, futex_errors_and_values);
	tcase_add_test(tc, timeout_really_waits);
	tcase_add_test(tc, eintr_reported);
	suite_add_tcase(s, tc);
	TCase *st = tcase_create("processes");
	tcase_set_tags(st, "workers");
	tcase_add_checked_fixture(st, setup, teardown);
	tcase_add_test(st, wake_across_processes);
	tcase_set_timeout(st, 30);
	tcase_add_test(st, ping_pong_no_lost_wakeup);
	suite_add_tcase(s, st);
	return tu_run_suite(s);
}
