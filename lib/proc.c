/*
 * Process identity (pid + start time) and liveness probes through /proc,
 * and the other uses of /proc (naming an unnamed file).
 * See include/shmguard/proc.h and doc/proc.md. Slow path only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/proc.h>

#include "proc_internal.h"
#include "testing.h"

/* Read pid's stat. -ESRCH if gone; other -errno otherwise. */
static int read_stat(pid_t pid, struct shmg__proc_stat *st)
{
	char path[48];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	int err = shmg__proc_read_stat(fd, st);
	close(fd);
	return err;
}

/*
 * A 'Z' state is not always a dead process: when the thread-group leader
 * calls pthread_exit while other threads run, /proc/PID/stat shows the
 * leader as a zombie for as long as the process lives. /proc/PID/status then
 * counts more than one thread; a real zombie counts one. True if pid is such
 * a live process.
 */
static bool zombie_leader_of_live_process(pid_t pid)
{
	char path[48], buf[2048];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* gone: reaped meanwhile */
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	const char *t = strstr(buf, "\nThreads:");
	return t && strtol(t + strlen("\nThreads:"), NULL, 10) > 1;
}

SHMG_EXPORT int shmg_proc_lookup(pid_t pid, struct shmg_proc_id *id)
{
	struct shmg__proc_stat st;

	if (pid <= 0 || !id)
		return -EINVAL;
	int rc = read_stat(pid, &st);
	if (rc)
		return rc;
	if (st.state == 'X' || (st.state == 'Z' && !zombie_leader_of_live_process(pid)))
		return -ESRCH;
	id->pid = pid;
	id->start_time = st.start;
	return 0;
}

/* Cache of our own identity; pid 0 = not yet read. Refreshed in a child
 * after fork because getpid() no longer matches. Racing threads each
 * compute the same value; each word is accessed atomically and the pid is
 * published last with release, read first with acquire. */
static pid_t self_pid;
static uint64_t self_start;

SHMG_EXPORT int shmg_proc_self(struct shmg_proc_id *id)
{
	if (!id)
		return -EINVAL;
	pid_t me = getpid();
	if (shmg_atomic_load(&self_pid, acquire) == me) {
		id->pid = me;
		id->start_time = shmg_atomic_load(&self_start, relaxed);
		return 0;
	}
	int rc = shmg_proc_lookup(me, id);
	if (rc)
		return rc;
	shmg_atomic_store(&self_start, id->start_time, relaxed);
	shmg_atomic_store(&self_pid, me, release);
	return 0;
}

SHMG_EXPORT int shmg_proc_alive(pid_t pid, uint64_t start_bits, unsigned nbits)
{
	struct shmg_proc_id id;

	if (pid <= 0 || nbits > 64)
		return -EINVAL;
	int rc = shmg_proc_lookup(pid, &id);
	if (rc == -ESRCH)
		return SHMG_PROC_DEAD;
	if (rc)
		return rc;
	if (nbits) {
		uint64_t m = nbits == 64 ? UINT64_MAX : (UINT64_C(1) << nbits) - 1;
		if ((id.start_time & m) != (start_bits & m))
			return SHMG_PROC_DEAD; /* the pid now names another process */
	}
	return SHMG_PROC_ALIVE;
}

#ifdef SHMG_TESTING
int (*shmg__test_alive)(pid_t tid, uint64_t start_bits, unsigned nbits);
#endif

int shmg__owner_alive(pid_t tid, uint64_t start_bits, unsigned nbits)
{
#ifdef SHMG_TESTING
	if (shmg__test_alive)
		return shmg__test_alive(tid, start_bits, nbits);
#endif
	return shmg_proc_alive(tid, start_bits, nbits);
}

int shmg__link_fd(int fd, const char *to)
{
	char proc[48];
	if (linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EPERM && errno != ENOENT)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}
