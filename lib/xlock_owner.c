/*
 * Lock owners: the caller's cached identity and liveness watches.
 * See lib/xlock_owner.h and doc/xlock.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/proc.h>

#include "xlock_owner.h"
#include "xlock_word.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for one thread */
#endif

SHMG_EXPORT int (*shmg__xlock_alive_hook)(pid_t tid, uint64_t start_bits,
					  unsigned nbits);

/* Bumped in every forked child: each thread re-reads its identity once. */
unsigned shmg__xlock_fork_generation = 1;
#define fork_generation shmg__xlock_fork_generation
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_after_fork(void)
{
	shmg_atomic_inc(&fork_generation, relaxed);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

__thread struct xlock_self shmg__xlock_me;
#define self shmg__xlock_me

int shmg__xlock_self_refresh(unsigned width, uint64_t *word)
{
	pid_t tid;
	uint64_t start;
	int err = shmg__xlock_self(&tid, &start);
	if (err)
		return err;
	*word = width == 8 ? self.word8 : self.word4;
	return 0;
}

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
		self.word8 = xw_make(&xlock_fmt8, (uint64_t)t, id.start_time);
		self.word4 = xw_make(&xlock_fmt4, (uint64_t)t, id.start_time);
		self.generation = shmg_atomic_load(&fork_generation, relaxed);
	}
	*tid = self.tid;
	*start = self.start;
	return 0;
}

void shmg__xlock_watch_init(struct xlock_watch *w)
{
	w->tid = 0;
	w->statfd = -1;
	w->opened = false;
}

void shmg__xlock_watch_close(struct xlock_watch *w)
{
	if (w->statfd >= 0)
		close(w->statfd);
	shmg__xlock_watch_init(w);
}

static int alive(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	if (shmg__xlock_alive_hook)
		return shmg__xlock_alive_hook(tid, start_bits, nbits);
	return shmg_proc_alive(tid, start_bits, nbits);
}

/* The kernel's PF_EXITING task flag (/proc/TID/stat field 9): set at the
 * very start of do_exit(); such a thread never runs user code again. */
#define TASK_PF_EXITING 0x4u

/* Field n (>= 3) of a stat line, counting from the last ')'. */
static bool stat_field(const char *line, size_t len, int n, const char **at)
{
	const char *rp = NULL, *end = line + len;
	for (const char *c = line; c < end; c++)
		if (*c == ')')
			rp = c;
	if (!rp || rp + 2 >= end)
		return false;
	const char *f = rp + 2;
	for (int field = 3; field < n; f++) {
		if (f >= end)
			return false;
		if (*f == ' ')
			field++;
	}
	*at = f;
	return f < end;
}

static bool stat_number(const char *line, size_t len, int n, uint64_t *v)
{
	const char *f;
	if (!stat_field(line, len, n, &f) || *f < '0' || *f > '9')
		return false;
	uint64_t x = 0;
	for (; f < line + len && *f >= '0' && *f <= '9'; f++)
		x = x * 10 + (uint64_t)(*f - '0');
	*v = x;
	return true;
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
	if (shmg__xlock_alive_hook)
		return alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	if (!w->opened) {
		char path[48];
		w->opened = true;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)tid);
		w->statfd = open(path, O_RDONLY | O_CLOEXEC);
		if (w->statfd < 0 && errno == ENOENT)
			return true; /* no thread has that id: the owner is gone */
	}
	if (w->statfd < 0) /* cannot watch (permissions?): ask the slow way */
		return alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	/* The descriptor pins the task it was opened on: a re-read shows its
	 * state now, or ESRCH once it is gone, even if the id is reused. */
	char buf[1024];
	ssize_t n = pread(w->statfd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return errno == ESRCH;
	const char *state;
	uint64_t flags, start;
	if (!stat_field(buf, (size_t)n, 3, &state) ||
	    !stat_number(buf, (size_t)n, 9, &flags) ||
	    !stat_number(buf, (size_t)n, 22, &start))
		return false; /* cannot tell: alive */
	uint64_t mask = nbits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << nbits) - 1;
	if ((start & mask) != start_bits)
		return true; /* another thread now has the owner's id */
	return *state == 'Z' || *state == 'X' || (flags & TASK_PF_EXITING);
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
