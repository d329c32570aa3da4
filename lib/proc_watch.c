/*
 * Watching a lock owner's liveness (lib/proc_internal.h): a pinned
 * /proc/TID/stat descriptor for waiters that probe repeatedly, one read of
 * that file for try-operations.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <shmguard/proc.h>

#include "proc_internal.h"
#include "testing.h"

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

/* What a stat line read under the owner's id says: dead when another
 * thread has the id (its start bits differ: PID reuse), or when the thread
 * is a zombie, dead, or exiting (PF_EXITING: it never runs user code
 * again). */
static bool stat_says_dead(const struct shmg__proc_stat *st, uint64_t start_bits,
			   unsigned nbits)
{
	uint64_t mask = nbits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << nbits) - 1;
	if ((st->start & mask) != (start_bits & mask))
		return true;
	return st->state == 'Z' || st->state == 'X' || (st->flags & SHMG__PF_EXITING);
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
	return stat_says_dead(&st, start_bits, nbits);
}

bool shmg__thread_gone(pid_t tid, uint64_t start_bits, unsigned nbits)
{
	if (faked())
		return shmg__owner_alive(tid, start_bits, nbits) == SHMG_PROC_DEAD;
	/* One read of the stat file of whichever thread has the id now: its
	 * start bits say whether it is the owner at all (after PID reuse it is
	 * not: tests/check_xlock.c, pid_reuse_not_fooled), its state whether
	 * the owner is exiting or gone. (A pidfd for the id, tried before, is
	 * as blind to reuse and cost a second look.) */
	char path[48];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT; /* no thread has that id; else cannot tell */
	struct shmg__proc_stat st;
	int err = shmg__proc_read_stat(fd, &st);
	close(fd);
	if (err)
		return err == -ESRCH;
	return stat_says_dead(&st, start_bits, nbits);
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
