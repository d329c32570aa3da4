/* The recovery steps' report and result (lib/recover.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/proc.h>

#include "detail.h"
#include "proc_internal.h"
#include "recover.h"
#include "sized.h"

int shmg__recovery_begin(struct shmg__recovery *rc,
			 const struct shmg_recover_opts *opts)
{
	memset(rc, 0, sizeof(*rc));
	rc->opts.size = sizeof(rc->opts);
	rc->locked_fd = -1;
	if (!opts)
		return 0;
	int err = SHMG__SIZED_IN(&rc->opts, opts, struct shmg_recover_opts);
	if (!err && (rc->opts.flags & ~(uint32_t)(SHMG_RECOVER_DRY_RUN | SHMG_RECOVER_BLANK |
						  SHMG_RECOVER_ASSUME_UNMAPPED)))
		err = shmg__fail(-EINVAL, "recover flags 0x%x: unknown bits", rc->opts.flags);
	return err;
}

void shmg__step(struct shmg__recovery *rc, int result, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	size_t n = 0;

	if (result == SHMG_RECOVERED && shmg__dry_run(rc))
		n = (size_t)snprintf(text, sizeof(text), "would ");
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - n, fmt, ap);
	va_end(ap);
	if (rc->opts.report)
		rc->opts.report(rc->opts.report_arg, result, text);
	if (result < 0 && rc->result >= 0)
		rc->result = result;
	if (result < 0 && !shmg__left_alone(result) && !rc->failed)
		rc->failed = result;
	else if (result == SHMG_RECOVERED && rc->result == 0)
		rc->result = SHMG_RECOVERED;
}

bool shmg__forced(const struct shmg__recovery *rc, int32_t tid)
{
	return rc->opts.force_pid > 0 && shmg__thread_of(rc->opts.force_pid, tid);
}

bool shmg__counts_as_dead(const struct shmg__recovery *rc, int32_t pid)
{
	if (pid <= 0)
		return false;
	return shmg__forced(rc, pid) || shmg_proc_alive(pid, 0, 0) == SHMG_PROC_DEAD;
}

void shmg__who(const struct shmg__recovery *rc, char *buf, size_t len,
	       const char *role, int32_t pid)
{
	if (shmg__forced(rc, pid) && shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
		snprintf(buf, len, "%s PID %d (alive; named by force_pid)", role, (int)pid);
	else
		snprintf(buf, len, "dead %s PID %d", role, (int)pid);
}

/*
 * OFD locks (F_OFD_SETLK) belong to the open file description: two
 * processes, or two handles of one process, exclude each other, and a
 * recovery that dies releases its lock with its descriptors. They report
 * no holder (F_OFD_GETLK gives l_pid -1), so the holder also locks the
 * byte at NAME_BASE + its PID (an advisory lock changes nothing in the
 * file, and may lie past its end; 2^30 + 2^23 fits a 32-bit off_t), taken
 * before the exclusive byte, and the loser reads the PID back from that
 * lock's offset.
 */
#define NAME_BASE ((off_t)1 << 30)
#define PID_SPAN ((off_t)1 << 23) /* above pid_max's limit, 2^22 */

static int ofd_lock(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* The PID of another recovery holding the file, or 0 if none is seen. */
static pid_t other_recovery(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = NAME_BASE,
			   .l_len = PID_SPAN};
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type == F_UNLCK)
		return 0;
	return (pid_t)(fl.l_start - NAME_BASE);
}

int shmg__recovery_lock(struct shmg__recovery *rc, int fd)
{
	if (fd < 0)
		return 0;
	off_t self = NAME_BASE + getpid();
	int err = ofd_lock(fd, F_WRLCK, self, 1);
	if (err == -EINVAL || err == -ENOLCK || err == -EOPNOTSUPP)
		return 0; /* no such locks here: the CASes alone */
	if (!err) {
		err = ofd_lock(fd, F_WRLCK, 0, 1);
		if (!err) {
			rc->locked_fd = fd;
			return 0;
		}
		ofd_lock(fd, F_UNLCK, self, 1);
	}
	if (err != -EAGAIN && err != -EACCES)
		return 0; /* cannot tell: the CASes alone */
	pid_t other = other_recovery(fd);
	if (other > 0)
		return shmg__fail(-EBUSY, "another recovery of this file is running (PID %d) and "
				  "holds it; nothing was changed: run recover again once it has "
				  "finished", (int)other);
	return shmg__fail(-EBUSY, "another recovery of this file is running and holds it; "
			  "nothing was changed: run recover again once it has finished");
}

void shmg__recovery_unlock(struct shmg__recovery *rc)
{
	if (rc->locked_fd < 0)
		return;
	ofd_lock(rc->locked_fd, F_UNLCK, 0, 1);
	ofd_lock(rc->locked_fd, F_UNLCK, NAME_BASE + getpid(), 1);
	rc->locked_fd = -1;
}
