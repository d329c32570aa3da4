/*
 * Benchmark suite "xlock": the exclusive lock against a robust,
 * process-shared pthread mutex (the peer POSIX offers for owner death),
 * measured the same way in the same run:
 *   uncontended lock+unlock (one process, interleaved batches);
 *   two processes on one counter, pinned to two CPUs (throughput);
 *   kill-to-owner-died: a waiter blocked on a lock whose holder is
 *   SIGKILLed, from the kill to the waiter's "owner died" result;
 *   futex calls made by uncontended unlocks (counted with seccomp).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/xlock.h>

#include "bench.h"
#include "futex_ban.h"

struct shared {
	uint64_t lock_word; /* ours */
	uint64_t cas_word;  /* the floor: two bare CAS operations */
	uint64_t counter;
	uint32_t go, ready;
	uint64_t t_done;    /* ns, written by the waiter */
	int result;
	uint64_t futex_calls;
	pthread_mutex_t mutex; /* the peer */
};

static struct shared *sh;
static struct shmg_region *region;
static struct shmg_xlock xl;

static int setup(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->mutex, &a);
	if (shmg_region_from_memory(&region, sh, sizeof(*sh)) != 0 ||
	    shmg_xlock_init(&xl, region, offsetof(struct shared, lock_word), 8) != 0)
		return 1;
	return 0;
}

/* ---------------------------------------------------------------- uncontended */

enum uncontended_kind { OURS, ROBUST_MUTEX, TWO_CAS };

/* The floor of any CAS lock: a lock CAS (acquire) and an unlock CAS
 * (release) on a shared word, inline, nothing else. */
static void two_cas(uint64_t *word, uint64_t me)
{
	uint64_t e = 0;
	__atomic_compare_exchange_n(word, &e, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	e = me;
	__atomic_compare_exchange_n(word, &e, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static double batch_uncontended(enum uncontended_kind kind, uint64_t n)
{
	uint64_t t0 = bench_now_ns();
	switch (kind) {
	case OURS:
		for (uint64_t i = 0; i < n; i++) {
			shmg_xlock_lock(&xl);
			shmg_xlock_unlock(&xl);
		}
		break;
	case ROBUST_MUTEX:
		for (uint64_t i = 0; i < n; i++) {
			pthread_mutex_lock(&sh->mutex);
			pthread_mutex_unlock(&sh->mutex);
		}
		break;
	case TWO_CAS:
		for (uint64_t i = 0, me = (uint64_t)getpid(); i < n; i++)
			two_cas(&sh->cas_word, me);
		break;
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}

static void uncontended(void)
{
	int reps = bench_repeats();
	uint64_t n = bench_quick() ? 10000 : 2000000;
	double o[64], p[64], c[64];
	batch_uncontended(OURS, n / 10);
	batch_uncontended(ROBUST_MUTEX, n / 10);
	batch_uncontended(TWO_CAS, n / 10);
	for (int r = 0; r < reps && r < 64; r++) {
		o[r] = batch_uncontended(OURS, n);
		p[r] = batch_uncontended(ROBUST_MUTEX, n);
		c[r] = batch_uncontended(TWO_CAS, n);
	}
	double mo = bench_median(o, (size_t)reps), mp = bench_median(p, (size_t)reps);
	double mc = bench_median(c, (size_t)reps);
	bench_print("xlock.uncontended.ns", mo, "ns");
	bench_print("xlock.uncontended.robust_mutex.ns", mp, "ns");
	bench_print("xlock.uncontended.2cas.ns", mc, "ns");
	bench_ratio("xlock.uncontended.vs_robust_mutex", mo, mp);
	bench_ratio("xlock.uncontended.vs_2cas", mo, mc);
}

/* ---------------------------------------------------------------- contended */

/* Two processes increment one counter under the lock for `ms`; Mops/s. */
static double contended_run(int ours, unsigned ms)
{
	sh->counter = 0;
	shmg_atomic_store(&sh->go, 0, relaxed);
	shmg_atomic_store(&sh->ready, 0, relaxed);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		if ((kids[k] = fork()) == 0) {
			bench_pin(k);
			shmg_atomic_inc(&sh->ready, acq_rel);
			while (!shmg_atomic_load(&sh->go, acquire))
				shmg_cpu_relax();
			while (shmg_atomic_load(&sh->go, relaxed) == 1) {
				if (ours) {
					shmg_xlock_lock(&xl);
					sh->counter++;
					shmg_xlock_unlock(&xl);
				} else {
					pthread_mutex_lock(&sh->mutex);
					sh->counter++;
					pthread_mutex_unlock(&sh->mutex);
				}
			}
			_exit(0);
		}
	}
	while (shmg_atomic_load(&sh->ready, acquire) < 2)
		usleep(100);
	uint64_t t0 = bench_now_ns();
	shmg_atomic_store(&sh->go, 1, release);
	usleep(ms * 1000);
	shmg_atomic_store(&sh->go, 2, release);
	uint64_t t1 = bench_now_ns();
	for (int k = 0; k < 2; k++)
		waitpid(kids[k], NULL, 0);
	/* Counted under the lock: a wrong count would be a broken lock. */
	return (double)sh->counter / ((double)(t1 - t0) / 1e3);
}

static void contended(void)
{
	int reps = bench_quick() ? 1 : 7;
	unsigned ms = bench_quick() ? 20 : 200;
	double o[16], p[16];
	for (int r = 0; r < reps; r++) {
		o[r] = contended_run(1, ms);
		p[r] = contended_run(0, ms);
	}
	double mo = bench_median(o, (size_t)reps), mp = bench_median(p, (size_t)reps);
	bench_print("xlock.contended_2proc.mops", mo, "Mops/s");
	bench_print("xlock.contended_2proc.robust_mutex.mops", mp, "Mops/s");
	bench_ratio("xlock.contended_2proc.vs_robust_mutex", mo, mp);
}

/* ---------------------------------------------------------------- recovery */

/* One round: a holder locks and sleeps; a waiter blocks; the holder is
 * SIGKILLed; microseconds from the kill to the waiter's owner-died. */
static double recovery_run(int ours)
{
	shmg_atomic_store(&sh->ready, 0, relaxed);
	sh->t_done = 0;
	sh->result = 0;
	pid_t holder = fork();
	if (holder == 0) {
		bench_pin(0);
		if (ours)
			shmg_xlock_lock(&xl);
		else
			pthread_mutex_lock(&sh->mutex);
		shmg_atomic_store(&sh->ready, 1, release);
		pause();
		_exit(0);
	}
	while (shmg_atomic_load(&sh->ready, acquire) < 1)
		usleep(50);
	pid_t waiter = fork();
	if (waiter == 0) {
		bench_pin(1);
		shmg_atomic_store(&sh->ready, 2, release);
		int err;
		if (ours) {
			err = shmg_xlock_lock(&xl);
			sh->t_done = bench_now_ns();
			sh->result = err == SHMG_OWNERDEAD;
			shmg_xlock_consistent(&xl);
			shmg_xlock_unlock(&xl);
		} else {
			err = pthread_mutex_lock(&sh->mutex);
			sh->t_done = bench_now_ns();
			sh->result = err == EOWNERDEAD;
			pthread_mutex_consistent(&sh->mutex);
			pthread_mutex_unlock(&sh->mutex);
		}
		_exit(0);
	}
	while (shmg_atomic_load(&sh->ready, acquire) < 2)
		usleep(50);
	usleep(2000); /* the waiter is asleep in the lock by now */
	uint64_t t0 = bench_now_ns();
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	waitpid(waiter, NULL, 0);
	if (!sh->result)
		return -1;
	return (double)(sh->t_done - t0) / 1e3;
}

static int recovery(void)
{
	int reps = bench_quick() ? 3 : 21;
	double o[32], p[32];
	for (int r = 0; r < reps; r++) {
		o[r] = recovery_run(1);
		p[r] = recovery_run(0);
		if (o[r] < 0 || p[r] < 0) {
			fprintf(stderr, "xlock bench: a waiter did not get owner-died\n");
			return 1;
		}
	}
	double mo = bench_median(o, (size_t)reps), mp = bench_median(p, (size_t)reps);
	bench_print("xlock.recovery.us", mo, "us");
	bench_print("xlock.recovery.robust_mutex.us", mp, "us");
	bench_ratio("xlock.recovery.vs_robust_mutex", mo, mp);
	return 0;
}

/* ---------------------------------------------------------------- syscalls */

static volatile sig_atomic_t trapped;

static void on_sigsys(int sig)
{
	(void)sig;
	trapped++; /* the futex call was not made: seccomp trapped it */
}

/* Uncontended lock/unlock pairs with every futex call trapped and counted. */
static int unlock_syscalls(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_sigsys};
		shmg_xlock_lock(&xl); /* the identity is read once, before */
		shmg_xlock_unlock(&xl);
		if (sigaction(SIGSYS, &sa, NULL) != 0 ||
		    tu_ban_futex(SECCOMP_RET_TRAP) != 0)
			_exit(3);
		for (int i = 0; i < 100000; i++) {
			shmg_xlock_lock(&xl);
			shmg_xlock_unlock(&xl);
		}
		sh->futex_calls = (uint64_t)trapped;
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "xlock bench: the syscall count could not run (seccomp?)\n");
		return 1;
	}
	bench_print("xlock.unlock_syscalls_uncontended", (double)sh->futex_calls, "count");
	return 0;
}

int bench_suite_xlock(void)
{
	if (setup() != 0) {
		fprintf(stderr, "xlock bench: setup failed\n");
		return 1;
	}
	uncontended();
	contended();
	int failed = recovery();
	failed |= unlock_syscalls();
	shmg_region_close(region);
	munmap(sh, sizeof(*sh));
	return failed;
}
