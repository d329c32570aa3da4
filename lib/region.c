/*
 * Regions: map a shared-memory segment and place guards inside it with
 * bounds and alignment checks. See include/shmguard/region.h and
 * doc/region.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/region.h>

#define REGION_USER_FLAGS \
	(SHMG_REGION_RDONLY | SHMG_REGION_FOLLOW | SHMG_REGION_REPLACE)
/* Longest accepted name for open_in: one path element. */
#define REGION_NAME_MAX 255

static void region_reset(struct shmg_region *r)
{
	r->base = NULL;
	r->size = 0;
	r->fd = -1;
	r->flags = 0;
}

/* Map the whole of the regular file behind fd; takes ownership of fd. */
static int map_fd(struct shmg_region *r, int fd, unsigned flags)
{
	struct stat st;
	int prot = PROT_READ;

	if (fstat(fd, &st) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	/* 64-bit off_t always; on a 32-bit size_t a huge file cannot be mapped. */
	if (st.st_size <= 0 || (uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return SHMG_ELAYOUT;
	}
	if (!(flags & SHMG_REGION_RDONLY))
		prot |= PROT_WRITE;
	void *p = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err == -ENOMEM ? SHMG_ELAYOUT : err;
	}
	r->base = p;
	r->size = (size_t)st.st_size;
	r->fd = fd;
	r->flags = flags;
	return 0;
}

static int open_flags(unsigned flags)
{
	int of = O_CLOEXEC | O_NOCTTY | O_NONBLOCK; /* NONBLOCK: a fifo never hangs us */
	of |= (flags & SHMG_REGION_RDONLY) ? O_RDONLY : O_RDWR;
	if (!(flags & SHMG_REGION_FOLLOW))
		of |= O_NOFOLLOW;
	return of;
}

static int open_at(struct shmg_region *r, int dirfd, const char *path,
		   unsigned flags)
{
	if (!r)
		return -EINVAL;
	region_reset(r);
	if (!path || !*path || (flags & ~REGION_USER_FLAGS))
		return -EINVAL;
	int fd = openat(dirfd, path, open_flags(flags));
	if (fd < 0) {
		int err = -errno;
		/* A directory opened for writing fails with EISDIR: not a regular file. */
		return err == -EISDIR ? -EINVAL : err;
	}
	return map_fd(r, fd, flags & (SHMG_REGION_RDONLY | SHMG_REGION_FOLLOW));
}

SHMG_EXPORT int shmg_region_open(struct shmg_region *r, const char *path,
				 unsigned flags)
{
	return open_at(r, AT_FDCWD, path, flags);
}

static bool name_ok(const char *name)
{
	if (!name || !*name || strchr(name, '/'))
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strnlen(name, REGION_NAME_MAX + 1) <= REGION_NAME_MAX;
}

SHMG_EXPORT int shmg_region_open_in(struct shmg_region *r, const char *dir,
				    const char *name, unsigned flags)
{
	if (!r)
		return -EINVAL;
	region_reset(r);
	if (!dir || !*dir || !name_ok(name))
		return -EINVAL;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = open_at(r, dfd, name, flags);
	close(dfd);
	return rc;
}

SHMG_EXPORT int shmg_region_from_fd(struct shmg_region *r, int fd,
				    unsigned flags)
{
	if (!r)
		return -EINVAL;
	region_reset(r);
	if (fd < 0 || (flags & ~REGION_USER_FLAGS) || (flags & SHMG_REGION_REPLACE))
		return -EINVAL;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	return map_fd(r, own, flags & SHMG_REGION_RDONLY);
}

SHMG_EXPORT int shmg_region_from_memory(struct shmg_region *r, void *base,
					size_t size)
{
	if (!r)
		return -EINVAL;
	region_reset(r);
	if (!base || size == 0 || (uintptr_t)base > UINTPTR_MAX - (size - 1))
		return -EINVAL;
	r->base = base;
	r->size = size;
	return 0;
}

SHMG_EXPORT void shmg_region_close(struct shmg_region *r)
{
	if (!r)
		return;
	/* fd >= 0 marks a mapping we own; a zeroed struct has fd 0 but no base. */
	if (r->fd >= 0 && r->base) {
		munmap(r->base, r->size);
		close(r->fd);
	}
	region_reset(r);
}

/* Directory part of path (or "."), copied into buf; 0 or -ENAMETOOLONG. */
static int tmp_name(char *buf, size_t len, const char *path, unsigned seq)
{
	const char *slash = strrchr(path, '/');
	int n;
	if (slash)
		n = snprintf(buf, len, "%.*s/.shmg-tmp.%ld.%u", (int)(slash - path),
			     path, (long)getpid(), seq);
	else
		n = snprintf(buf, len, ".shmg-tmp.%ld.%u", (long)getpid(), seq);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

SHMG_EXPORT int shmg_region_create(struct shmg_region *r, const char *path,
				   size_t size, mode_t mode, unsigned flags,
				   shmg_region_init_fn init, void *arg)
{
	static unsigned seq;
	char tmp[PATH_MAX];
	int fd = -1, rc;
	void *p = MAP_FAILED;

	if (!r)
		return -EINVAL;
	region_reset(r);
	if (!path || !*path || size == 0 || (flags & ~REGION_USER_FLAGS) ||
	    (flags & SHMG_REGION_RDONLY) || (mode & ~(mode_t)07777) ||
	    size > (uintmax_t)INT64_MAX)
		return -EINVAL;
	if (path[strlen(path) - 1] == '/')
		return -EINVAL;
	if (mode == 0)
		mode = 0600;

	for (int tries = 0;; tries++) {
		rc = tmp_name(tmp, sizeof(tmp), path,
			      shmg_atomic_inc(&seq, relaxed));
		if (rc)
			return rc;
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 100)
			return -errno;
	}
	/* The umask applied to open(); fchmod gives exactly the asked mode. */
	if (fchmod(fd, mode) != 0)
		goto fail_errno;
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc == EOPNOTSUPP || rc == EINVAL) {
		/* Filesystems without fallocate: a sparse file, pages on demand. */
		if (ftruncate(fd, (off_t)size) != 0)
			goto fail_errno;
	} else if (rc) {
		rc = -rc;
		goto fail;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail_errno;
	if (init) {
		rc = init(p, size, fd, arg);
		if (rc) {
			if (rc > 0)
				rc = -EINVAL;
			goto fail;
		}
	}
	/*
	 * Publish. link() refuses an existing name (no clobber, no race);
	 * rename() replaces atomically. Openers see either nothing/the old file
	 * or the fully initialised new one. The stores of init() are visible to
	 * any process mapping the file afterwards (same page cache pages).
	 */
	if (flags & SHMG_REGION_REPLACE) {
		if (rename(tmp, path) != 0)
			goto fail_errno;
	} else {
		if (link(tmp, path) != 0)
			goto fail_errno;
		unlink(tmp);
	}
	r->base = p;
	r->size = size;
	r->fd = fd;
	r->flags = flags & SHMG_REGION_REPLACE;
	return 0;

fail_errno:
	rc = -errno;
fail:
	if (p != MAP_FAILED)
		munmap(p, size);
	unlink(tmp);
	close(fd);
	return rc;
}

SHMG_EXPORT bool shmg_region_contains(const struct shmg_region *r,
				      size_t offset, size_t len)
{
	if (!r || !r->base)
		return false;
	return offset <= r->size && len <= r->size - offset;
}

SHMG_EXPORT int shmg_region_at(const struct shmg_region *r, size_t offset,
			       size_t width, void **out)
{
	if (!r || !out || !r->base)
		return -EINVAL;
	if (width != 1 && width != 2 && width != 4 && width != 8)
		return -EINVAL;
	if (!shmg_region_contains(r, offset, width))
		return -ERANGE;
	uintptr_t addr = (uintptr_t)r->base + offset;
	if (addr & (width - 1))
		return -EFAULT;
	*out = r->base + offset;
	return 0;
}
