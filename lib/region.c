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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/region.h>

#include "detail.h"
#include "proc_internal.h"
#include "region_internal.h"
#include "testing.h"

#define REGION_USER_FLAGS \
	(SHMG_REGION_RDONLY | SHMG_REGION_FOLLOW | SHMG_REGION_REPLACE | \
	 SHMG_REGION_TRUNCATION)
/* Longest accepted name for open_in: one path element. */
#define REGION_NAME_MAX 255

/* A new handle for a mapping, or NULL (nothing is released then). */
static struct shmg_region *region_new(void *base, size_t size, int fd,
				      unsigned flags, bool owned)
{
	struct shmg_region *r = malloc(sizeof(*r));
	if (r) {
		r->base = base;
		r->size = size;
		r->fd = fd;
		r->flags = flags;
		r->owned = owned;
		r->guard_slot = -1;
		r->truncated = 0;
	}
	return r;
}

/* A new handle for a mapping of a file, guarded against truncation when
 * asked; on failure nothing is released. */
static int region_for_file(struct shmg_region **out, void *base, size_t size, int fd,
			   unsigned flags)
{
	struct shmg_region *r = region_new(base, size, fd, flags, true);
	if (!r)
		return -ENOMEM;
	int err = (flags & SHMG_REGION_TRUNCATION) ? shmg__truncation_guard(r) : 0;
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

/* Map the whole of the regular file behind fd; takes ownership of fd. */
static int map_fd(struct shmg_region **out, int fd, unsigned flags)
{
	struct stat st;
	int prot = PROT_READ, err;

	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = shmg__fail(-EINVAL, "not a regular file");
		goto fail;
	}
	/* 64-bit off_t always; on a 32-bit size_t a huge file cannot be mapped. */
	if (st.st_size <= 0 || (uintmax_t)st.st_size > SIZE_MAX) {
		err = shmg__fail(SHMG_ELAYOUT, st.st_size <= 0 ? "the file is empty"
				 : "the file is larger than the address space");
		goto fail;
	}
	if (!(flags & SHMG_REGION_RDONLY))
		prot |= PROT_WRITE;
	void *p = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		if (err == -ENOMEM)
			err = shmg__fail(SHMG_ELAYOUT, "%jd bytes cannot be mapped",
					 (intmax_t)st.st_size);
		goto fail;
	}
	if ((err = region_for_file(out, p, (size_t)st.st_size, fd, flags)) == 0)
		return 0;
	munmap(p, (size_t)st.st_size);
fail:
	close(fd);
	return err;
}

static int open_flags(unsigned flags)
{
	int of = O_CLOEXEC | O_NOCTTY | O_NONBLOCK; /* NONBLOCK: a fifo never hangs us */
	of |= (flags & SHMG_REGION_RDONLY) ? O_RDONLY : O_RDWR;
	if (!(flags & SHMG_REGION_FOLLOW))
		of |= O_NOFOLLOW;
	return of;
}

static int open_at(struct shmg_region **r, int dirfd, const char *path,
		   unsigned flags)
{
	if (!path || !*path)
		return shmg__fail(-EINVAL, "no path given");
	if (flags & ~REGION_USER_FLAGS)
		return shmg__fail(-EINVAL, "unknown flags 0x%x", flags & ~REGION_USER_FLAGS);
	int fd = openat(dirfd, path, open_flags(flags));
	if (fd < 0) {
		int err = -errno;
		if (err == -ELOOP)
			return shmg__fail(err, "%s is a symbolic link; not followed without "
					  "SHMG_REGION_FOLLOW", path);
		/* A directory opened for writing fails with EISDIR: not a regular file. */
		return err == -EISDIR ? shmg__fail(-EINVAL, "%s is a directory", path) : err;
	}
	return map_fd(r, fd, flags & (SHMG_REGION_RDONLY | SHMG_REGION_FOLLOW |
				      SHMG_REGION_TRUNCATION));
}

SHMG_EXPORT int shmg_region_open(struct shmg_region **r, const char *path,
				 unsigned flags)
{
	if (!r)
		return -EINVAL;
	*r = NULL;
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

SHMG_EXPORT int shmg_region_open_in(struct shmg_region **r, const char *dir,
				    const char *name, unsigned flags)
{
	if (!r)
		return -EINVAL;
	*r = NULL;
	if (!dir || !*dir)
		return shmg__fail(-EINVAL, "no directory given");
	if (!name_ok(name))
		return shmg__fail(-EINVAL, "the name must be one path element");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = open_at(r, dfd, name, flags);
	close(dfd);
	return rc;
}

SHMG_EXPORT int shmg_region_from_fd(struct shmg_region **r, int fd,
				    unsigned flags)
{
	if (!r)
		return -EINVAL;
	*r = NULL;
	if (fd < 0 || (flags & ~(SHMG_REGION_RDONLY | SHMG_REGION_FOLLOW |
				 SHMG_REGION_TRUNCATION)))
		return shmg__fail(-EINVAL, fd < 0 ? "negative descriptor"
				  : "only SHMG_REGION_RDONLY and SHMG_REGION_TRUNCATION apply "
				    "to a descriptor");
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	return map_fd(r, own, flags & (SHMG_REGION_RDONLY | SHMG_REGION_TRUNCATION));
}

SHMG_EXPORT int shmg_region_from_memory(struct shmg_region **r, void *base,
					size_t size)
{
	if (!r)
		return -EINVAL;
	*r = NULL;
	if (!base || size == 0 || (uintptr_t)base > UINTPTR_MAX - (size - 1))
		return shmg__fail(-EINVAL, "no memory, or a span that wraps the address space");
	*r = region_new(base, size, -1, 0, false);
	return *r ? 0 : -ENOMEM;
}

SHMG_EXPORT void shmg_region_close(struct shmg_region *r)
{
	if (!r)
		return;
	shmg__truncation_unguard(r);
	if (r->owned) {
		munmap(r->base, r->size);
		close(r->fd);
	}
	free(r);
}

SHMG_EXPORT void *shmg_region_base(const struct shmg_region *r)
{
	return r ? r->base : NULL;
}

SHMG_EXPORT size_t shmg_region_size(const struct shmg_region *r)
{
	return r ? r->size : 0;
}

SHMG_EXPORT int shmg_region_fd(const struct shmg_region *r)
{
	return r ? r->fd : -1;
}

SHMG_EXPORT bool shmg_region_writable(const struct shmg_region *r)
{
	return r && !(r->flags & SHMG_REGION_RDONLY);
}

/* The directory part of path ("." when it has none), into buf. 0 or
 * -ENAMETOOLONG. */
static int dir_of(char *buf, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');
	int n = slash ? snprintf(buf, len, "%.*s", (int)(slash - path + (slash == path)), path)
		      : snprintf(buf, len, ".");
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* A temporary name beside path (same directory, so link and rename stay
 * in one filesystem) that nobody can guess: 64 random bits. 0 or
 * -ENAMETOOLONG. */
static int tmp_name(char *buf, size_t len, const char *path)
{
	char dir[PATH_MAX];
	uint64_t r;
	int rc = dir_of(dir, sizeof(dir), path);
	if (rc)
		return rc;
	/* The kernel's random bits; if it cannot give them (never on a
	 * running system), still a name nobody picked in advance. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		r = ((uint64_t)t.tv_nsec << 32) ^ (uint64_t)t.tv_sec ^ (uint64_t)getpid() ^
		    (uintptr_t)&r;
	}
	int n = snprintf(buf, len, "%s/.shmg-tmp.%016llx", dir, (unsigned long long)r);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* The file is being made: an unnamed file (O_TMPFILE) where the
 * filesystem has them, else one under a random name. */
struct new_file {
	int fd;
	bool unnamed;
	char tmp[PATH_MAX]; /* the random name, when named */
};

/* Tests of the named fallback turn O_TMPFILE off (lib/testing.h). */
#ifdef SHMG_TESTING
bool shmg__test_no_tmpfile;
#define TMPFILE_ALLOWED (!shmg__test_no_tmpfile)
#else
#define TMPFILE_ALLOWED true
#endif

/* Make the file: its descriptor in nf->fd, or -errno with a detail saying
 * that the temporary file, not path, failed. */
static int create_tmp(struct new_file *nf, const char *path)
{
	char dir[PATH_MAX];
	int rc = dir_of(dir, sizeof(dir), path);
	if (rc)
		return rc;
	nf->unnamed = false;
	if (TMPFILE_ALLOWED) {
		nf->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (nf->fd >= 0) {
			nf->unnamed = true;
			return 0;
		}
		/* Not supported by this filesystem (or kernel): a name. */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return shmg__fail(-errno, "creating a file in %s: %s", dir, strerror(errno));
	}
	for (int tries = 0; tries < 16; tries++) {
		if ((rc = tmp_name(nf->tmp, sizeof(nf->tmp), path)) != 0)
			return rc;
		nf->fd = open(nf->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (nf->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return shmg__fail(-errno, "creating the temporary file %s: %s", nf->tmp,
					  strerror(errno));
	}
	return shmg__fail(-EAGAIN, "16 random temporary names in %s were all taken "
			  "(someone is planting files there)", dir);
}

/* Exactly `mode` (the umask applied to open), and `size` bytes. */
static int size_file(int fd, size_t size, mode_t mode)
{
	if (fchmod(fd, mode) != 0)
		return -errno;
	int rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc == EOPNOTSUPP || rc == EINVAL) {
		/* Filesystems without fallocate: a sparse file, pages on demand. */
		return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
	}
	return -rc;
}

/*
 * Publish. link() refuses an existing name (no clobber, no race); rename()
 * replaces atomically. Openers see either nothing/the old file or the fully
 * initialised new one. The stores of init() are visible to any process
 * mapping the file afterwards (same page cache pages). An unnamed file is
 * linked at path directly, or (to replace) under a random name first.
 */
static int publish(struct new_file *nf, const char *path, unsigned flags)
{
	int rc;
	if (nf->unnamed && !(flags & SHMG_REGION_REPLACE))
		return shmg__link_fd(nf->fd, path);
	if (nf->unnamed) {
		if ((rc = tmp_name(nf->tmp, sizeof(nf->tmp), path)) != 0 ||
		    (rc = shmg__link_fd(nf->fd, nf->tmp)) != 0)
			return rc;
		nf->unnamed = false; /* named now: a failure below unlinks it */
	}
	if (flags & SHMG_REGION_REPLACE)
		return rename(nf->tmp, path) == 0 ? 0 : -errno;
	if (link(nf->tmp, path) != 0)
		return -errno;
	unlink(nf->tmp);
	return 0;
}

static int create_args(const char *path, size_t size, mode_t mode, unsigned flags)
{
	if (!path || !*path || path[strlen(path) - 1] == '/')
		return shmg__fail(-EINVAL, "no file name given");
	if (size == 0 || size > (uintmax_t)INT64_MAX)
		return shmg__fail(-EINVAL, "size %zu: between 1 and 2^63 - 1 expected", size);
	if ((flags & ~REGION_USER_FLAGS) || (flags & SHMG_REGION_RDONLY))
		return shmg__fail(-EINVAL, "flags 0x%x: only SHMG_REGION_REPLACE, "
				  "SHMG_REGION_FOLLOW and SHMG_REGION_TRUNCATION apply to "
				  "creation", flags);
	if (mode & ~(mode_t)07777)
		return shmg__fail(-EINVAL, "mode 0%o has bits beyond 07777", (unsigned)mode);
	return 0;
}

SHMG_EXPORT int shmg_region_create(struct shmg_region **r, const char *path,
				   size_t size, mode_t mode, unsigned flags,
				   shmg_region_init_fn init, void *arg)
{
	struct new_file nf;
	void *p = MAP_FAILED;

	if (!r)
		return -EINVAL;
	*r = NULL;
	int rc = create_args(path, size, mode, flags);
	if (rc)
		return rc;
	if ((rc = create_tmp(&nf, path)) != 0)
		return rc;
	if ((rc = size_file(nf.fd, size, mode ? mode : 0600)) != 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, nf.fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	if (init && (rc = init(p, size, nf.fd, arg)) != 0) {
		rc = rc > 0 ? -EINVAL : rc;
		goto fail;
	}
	if ((rc = publish(&nf, path, flags)) != 0)
		goto fail;
	if ((rc = region_for_file(r, p, size, nf.fd, flags & SHMG_REGION_TRUNCATION)) == 0)
		return 0;
	/* Published, but no handle: the file stays, as a created file would. */
	munmap(p, size);
	close(nf.fd);
	return rc;
fail:
	if (p != MAP_FAILED)
		munmap(p, size);
	if (!nf.unnamed)
		unlink(nf.tmp);
	close(nf.fd);
	return rc;
}

SHMG_EXPORT bool shmg_region_truncated(const struct shmg_region *r)
{
	return r && shmg__truncated(r);
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
		return shmg__fail(-EINVAL, "width %zu: 1, 2, 4 or 8 expected", width);
	if (!shmg_region_contains(r, offset, width))
		return shmg__fail(-ERANGE, "%zu bytes at offset %zu: outside the %zu-byte region",
				  width, offset, r->size);
	uintptr_t addr = (uintptr_t)r->base + offset;
	if (addr & (width - 1))
		return shmg__fail(-EINVAL, "offset %zu is not %zu-byte aligned", offset, width);
	*out = r->base + offset;
	return 0;
}
