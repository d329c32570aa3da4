/*
 * Process identity (pid + start time) and liveness probes through /proc.
 * See include/shmguard/proc.h and doc/proc.md. Slow path only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/proc.h>

#include "proc_stat.h"

/*
 * Parse one /proc/PID/stat line. comm (field 2) is in parentheses and may
 * itself contain spaces and ')' characters, so the fields after it start at
 * the LAST ')'. Returns 0 and fills *state and *start, or -EINVAL.
 */
int shmg__proc_parse_stat(const char *line, size_t len, char *state,
			  uint64_t *start)
{
	const char *end = line + len;
	const char *rp = NULL;

	for (const char *c = line; c < end; c++)
		if (*c == ')')
			rp = c;
	if (!rp || rp + 2 >= end || rp[1] != ' ')
		return -EINVAL;
	const char *f = rp + 2; /* field 3: state */
	*state = *f;
	/* Field 22 = 19 spaces after field 3. */
	int field = 3;
	for (; f < end && field < 22; f++)
		if (*f == ' ')
			field++;
	if (field != 22 || f >= end || *f < '0' || *f > '9')
		return -EINVAL;
	uint64_t v = 0;
	for (; f < end && *f >= '0' && *f <= '9'; f++) {
		unsigned d = (unsigned)(*f - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (f < end && *f != ' ' && *f != '\n')
		return -EINVAL;
	*start = v;
	return 0;
}

/* Read pid's state and start time. -ESRCH if gone; other -errno otherwise. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[48], buf[1024];
	ssize_t n, len = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* One read() of /proc/PID/stat is generated atomically by the kernel. */
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0) {
		len += n;
		if ((size_t)len >= sizeof(buf) - 1)
			break;
	}
	int err = n < 0 ? -errno : 0;
	close(fd);
	/* The process was reaped after open: its /proc entry reads ESRCH. */
	if (err)
		return err;
	if (len == 0)
		return -ESRCH;
	buf[len] = '\0';
	return shmg__proc_parse_stat(buf, (size_t)len, state, start) ? -EIO : 0;
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
	char state;
	uint64_t start;

	if (pid <= 0 || !id)
		return -EINVAL;
	int rc = read_stat(pid, &state, &start);
	if (rc)
		return rc;
	if (state == 'X' || (state == 'Z' && !zombie_leader_of_live_process(pid)))
		return -ESRCH;
	id->pid = pid;
	id->start_time = start;
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
