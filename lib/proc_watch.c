/*
 * Watching a lock owner's liveness (lib/proc_internal.h): a pinned
 * /proc/TID/stat descriptor for waiters that probe repeatedly, a pidfd look
 * for try-operations.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmguard/proc.h>

#include "proc_internal.h"
#include "testing.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for one thread */
#endif

void shmg__watch_init(struct shmg__proc_watch *w)
{
	w->tid = 0;
	w->statfd = -1;
	w->opened = false;
}

void shmg__watch_close(struct shmg__proc_watch *w)
{
	if (w->statfd >= 0)
		close(w->statfd);
	shmg__watch_init(w);
}

static bool faked(void)
{
#ifdef SHMG_TESTING
	return shmg__test_alive != NULL;
#else
	return false;
#endif
}

bool shmg__watch_dead(struct shmg__proc_watch *w, pid_t tid,
		      uint64_t start_bits, unsigned nbits)
{
	if (w->tid != tid || w->start_bits != start_bits || w->nbits != nbits) {
		shmg__watch_close(w);
		w->tid = tid;
		w->start_bits = start_bits;
		w->nbits = nbits;
	}
	if (faked())
		return shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	if (!w->opened) {
		char path[48];
		w->opened = true;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)tid);
		w->statfd = open(path, O_RDONLY | O_CLOEXEC);
		if (w->statfd < 0 && errno == ENOENT)
			return true; /* no thread has that id: the owner is gone */
	}
	if (w->statfd < 0) /* cannot watch (permissions?): ask the slow way */
		return shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	/* The descriptor pins the task it was opened on: a re-read shows its
	 * state now, or ESRCH once it is gone, even if the id is reused. */
	struct shmg__proc_stat st;
	int err = shmg__proc_read_stat(w->statfd, &st);
	if (err)
		return err == -ESRCH;
	uint64_t mask = nbits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << nbits) - 1;
	if ((st.start & mask) != start_bits)
		return true; /* another thread now has the owner's id */
	return st.state == 'Z' || st.state == 'X' || (st.flags & SHMG__PF_EXITING);
}

bool shmg__thread_gone(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	if (faked())
		return shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd < 0) {
		if (errno == ESRCH)
			return true; /* no thread has that id: the owner is gone */
		return shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	}
	/* The pidfd is for whichever thread has the id now, which after PID
	 * reuse is not the owner: only the start bits tell. Read them after
	 * the open and poll after the read: if the pidfd's thread still runs
	 * at the poll, it had the id all along, so the start time read was
	 * its own (tests/check_xlock.c, pid_reuse_not_fooled). */
	bool gone = shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	if (!gone) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		gone = poll(&p, 1, 0) == 1;
	}
	close(fd);
	return gone;
}

bool shmg__thread_of(pid_t pid, pid_t tid)
{
	char path[48];
	if (pid <= 0 || tid <= 0)
		return false;
	if (tid == pid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
}
