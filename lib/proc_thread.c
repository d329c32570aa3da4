/*
 * The calling thread's identity (id and start time), cached per thread and
 * refreshed in a forked child, and the process's PID, cached the same way,
 * so that the guards' fast paths make no syscall (lib/proc_internal.h).
 */
#include "config.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/proc.h>

#include "proc_internal.h"

/* Bumped in every forked child: each thread re-reads its identity once. */
static unsigned fork_generation = 1;
static __thread struct shmg__thread_id me;
static int32_t self_pid; /* 0: not read yet, or forgotten in a forked child */

static void child_after_fork(void)
{
	shmg_atomic_inc(&fork_generation, relaxed);
	shmg_atomic_store(&self_pid, 0, relaxed);
}

/* Registered when the library is loaded, before any thread can fork: a
 * handler registered lazily, by a first call racing a fork in another
 * thread, could miss that fork. (A child made by _Fork or a raw clone runs
 * no handler: it must not use what it inherited, doc/pin.md.) */
__attribute__((constructor)) static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

int shmg__thread_self(struct shmg__thread_id *out)
{
	if (SHMG__UNLIKELY(me.generation != shmg_atomic_load(&fork_generation, relaxed))) {
		struct shmg_proc_id id;
		pid_t tid = (pid_t)syscall(SYS_gettid);
		/* /proc/TID/stat gives this thread's own start time. */
		int err = shmg_proc_lookup(tid, &id);
		if (err)
			return err;
		me.tid = tid;
		me.start = id.start_time;
		me.generation = shmg_atomic_load(&fork_generation, relaxed);
	}
	*out = me;
	return 0;
}

unsigned shmg__fork_generation(void)
{
	return shmg_atomic_load(&fork_generation, relaxed);
}

int32_t shmg__self_pid(void)
{
	int32_t pid = shmg_atomic_load(&self_pid, relaxed);
	if (SHMG__UNLIKELY(pid == 0)) {
		pid = (int32_t)getpid();
		shmg_atomic_store(&self_pid, pid, relaxed);
	}
	return pid;
}
