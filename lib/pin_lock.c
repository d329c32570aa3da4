/*
 * Reader slot locks: see lib/pin_lock.h and doc/pin.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "detail.h"
#include "pin_lock.h"
#include "proc_internal.h"

static void lock_range(struct flock *fl, short type, const void *base, const void *word)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)((const unsigned char *)word - (const unsigned char *)base);
	fl->l_len = 1;
	fl->l_pid = 0; /* F_OFD_* want 0 */
}

int shmg__pin_lock(int fd, const void *base, const void *word)
{
	struct flock fl;
	if (fd < 0)
		return -ENOTSUP;
	/* A new open file: the region's may be shared with other processes
	 * (a fork), and locks of one open file never conflict. */
	int own = shmg__proc_reopen(fd, O_RDWR | O_CLOEXEC);
	if (own < 0) {
		/* A file that keeps no locks: the slot goes without one (its
		 * reader is judged by PID). One that keeps them: no slot, for
		 * writers and recovery would judge a slot without its lock
		 * nobody's and take its pins back. */
		if (shmg__pin_lock_held(fd, base, word) < 0)
			return -ENOTSUP;
		return shmg__fail(own, "the slot lock: /proc/thread-self/fd/%d cannot be opened again "
				  "(%s), and a pinning reader holds its slot's lock through an open "
				  "file of its own (without it, writers and recovery take its pins "
				  "back as a dead reader's)", fd, strerror(-own));
	}
	lock_range(&fl, F_WRLCK, base, word);
	if (fcntl(own, F_OFD_SETLK, &fl) == 0)
		return own;
	int err = errno == EAGAIN || errno == EACCES ? -EAGAIN : -ENOTSUP;
	close(own);
	return err;
}

int shmg__pin_lock_held(int fd, const void *base, const void *word)
{
	struct flock fl;
	if (fd < 0)
		return -1;
	lock_range(&fl, F_WRLCK, base, word);
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -1;
	return fl.l_type != F_UNLCK;
}
