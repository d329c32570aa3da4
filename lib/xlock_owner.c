/*
 * Lock owners: the caller's cached identity and liveness watches.
 * See lib/xlock_owner.h and doc/xlock.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/proc.h>

#include "xlock_owner.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for one thread */
#endif

SHMG_EXPORT int (*shmg__xlock_alive_hook)(pid_t tid, uint64_t start_bits,
					  unsigned nbits);

/* Bumped in every forked child: each thread re-reads its identity once. */
static unsigned fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_after_fork(void)
{
	shmg_atomic_inc(&fork_generation, relaxed);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

static __thread struct {
	unsigned generation;
	pid_t tid;
	uint64_t start;
} self;

int shmg__xlock_self(pid_t *tid, uint64_t *start)
{
	unsigned gen = shmg_atomic_load(&fork_generation, relaxed);
	if (SHMG__UNLIKELY(self.generation != gen)) {
		pthread_once(&atfork_once, register_atfork);
		struct shmg_proc_id id;
		pid_t t = (pid_t)syscall(SYS_gettid);
		/* /proc/TID/stat gives this thread's own start time. */
		int err = shmg_proc_lookup(t, &id);
		if (err)
			return err;
		self.tid = t;
		self.start = id.start_time;
		self.generation = shmg_atomic_load(&fork_generation, relaxed);
	}
	*tid = self.tid;
	*start = self.start;
	return 0;
}

void shmg__xlock_watch_init(struct xlock_watch *w)
{
	w->tid = 0;
	w->pidfd = -1;
	w->opened = false;
	w->verified = false;
}

void shmg__xlock_watch_close(struct xlock_watch *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	shmg__xlock_watch_init(w);
}

static int alive(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	if (shmg__xlock_alive_hook)
		return shmg__xlock_alive_hook(tid, start_bits, nbits);
	return shmg_proc_alive(tid, start_bits, nbits);
}

bool shmg__xlock_owner_dead(struct xlock_watch *w, pid_t tid,
			    uint64_t start_bits, unsigned nbits)
{
	if (w->tid != tid || w->start_bits != start_bits || w->nbits != nbits) {
		shmg__xlock_watch_close(w);
		w->tid = tid;
		w->start_bits = start_bits;
		w->nbits = nbits;
	}
	if (!w->opened) {
		w->opened = true;
		if (!shmg__xlock_alive_hook)
			w->pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	}
	if (w->verified) {
		struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
		return poll(&p, 1, 0) == 1; /* readable: the thread exited */
	}
	int a = alive(tid, start_bits, nbits);
	if (a == SHMG_PROC_DEAD)
		return true;
	/* The pidfd was opened before this check found the thread with the
	 * owner's start bits: it names the owner (which existed when the
	 * word was read and still exists), so polling it is the probe now. */
	if (a == SHMG_PROC_ALIVE && w->pidfd >= 0)
		w->verified = true;
	return false;
}

bool shmg__xlock_owner_gone(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	if (shmg__xlock_alive_hook)
		return alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd < 0) {
		if (errno == ESRCH)
			return true; /* no thread has that id: the owner is gone */
		return alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	bool exited = poll(&p, 1, 0) == 1;
	close(fd);
	return exited;
}
