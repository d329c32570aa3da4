/*
 * testutil.h: what the unit suites share: shared anonymous memory, forked
 * workers that must exit cleanly, a start line, and the suite runner.
 */
#ifndef SHMG_TESTUTIL_H
#define SHMG_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>

/* Whether 1- and 2-byte atomics are always lock-free on this target (not on
 * riscv64 with GCC 12, where atomic.h refuses them): tests of those sizes
 * are compiled only where they can exist. */
#define TU_SUBWORD_ATOMICS (__GCC_ATOMIC_CHAR_LOCK_FREE == 2 && __GCC_ATOMIC_SHORT_LOCK_FREE == 2)

/* n bytes of zeroed MAP_SHARED memory, inherited by forked children. */
static inline void *tu_shared_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static inline void tu_shared_free(void *p, size_t n)
{
	ck_assert_int_eq(munmap(p, n), 0);
}

static inline pid_t tu_fork(void)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	return pid;
}

/* Wait for a worker and require that it exited with status 0. */
static inline void tu_wait_ok(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "worker %d ended with status 0x%x", (int)pid, status);
}

/* Everyone calls this once; nobody leaves before all n arrived, so the
 * workers really run at the same time. */
static inline void tu_start_line(uint32_t *arrived, uint32_t n)
{
	shmg_atomic_inc(arrived, acq_rel);
	while (shmg_atomic_load(arrived, acquire) < n)
		shmg_cpu_relax();
}

/*
 * A handshake without sleeps: wait until process (or thread) `pid` is
 * blocked in system call `nr`, as /proc/PID/syscall shows (its first field
 * is the number of the call the task is blocked in). Fails the test after
 * 30 s, or at once if /proc cannot tell.
 */
static inline void tu_wait_in_syscall(pid_t pid, long nr_wanted)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 300000; i++) {
		/* A child that ended will never block: say so at once (its
		 * status is left for tu_wait_ok). */
		siginfo_t ended = {.si_pid = 0};
		if (waitid(P_PID, (id_t)pid, &ended, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    ended.si_pid == pid)
			ck_abort_msg("process %d ended (code %d, status %d) instead of blocking "
				     "in system call %ld", (int)pid, ended.si_code, ended.si_status,
				     nr_wanted);
		FILE *f = fopen(path, "r");
		ck_assert_msg(f != NULL, "%s cannot be read", path);
		long nr = -1;
		if (fgets(line, sizeof(line), f))
			nr = strtol(line, NULL, 10);
		fclose(f);
		if (nr == nr_wanted)
			return;
		nanosleep(&(struct timespec){0, 100000}, NULL); /* poll, 0.1 ms */
	}
	ck_abort_msg("process %d never blocked in system call %ld", (int)pid, nr_wanted);
}

/* The same, in futex (a waiter asleep). */
static inline void tu_wait_in_futex(pid_t pid)
{
	tu_wait_in_syscall(pid, SYS_futex);
}

/* A private directory for a test's files, /tmp/<prefix>.XXXXXX, into dir
 * (at least 64 bytes); and its removal with everything in it. */
static inline void tu_make_dir(char *dir, const char *prefix)
{
	snprintf(dir, 64, "/tmp/%s.XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void tu_remove_dir(const char *dir)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run a suite; the exit status of a test program. */
static inline int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A tiny deterministic PRNG (xorshift64*) so runs are repeatable. */
static inline uint64_t tu_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif /* SHMG_TESTUTIL_H */
