/*
 * shmguard/region.h: a region is a mapped shared-memory segment, and the
 * place where guards live.
 *
 * A region comes from a file (by path, or by directory + name), from a file
 * descriptor, or from memory the caller already mapped. Guards are placed at
 * offsets inside it through shmg_region_at(), which checks bounds, width and
 * natural alignment, so no guard ever points outside the mapping.
 *
 * Opening refuses, with a clear error (shmg_error_detail) and no side
 * effect: a symlink where a file is expected (unless SHMG_REGION_FOLLOW is
 * given), anything that is not a regular file, an empty file, a file larger
 * than the address space, a file it cannot map. Creation makes the file
 * under a temporary name (mode 0600 unless told otherwise), sizes it, lets
 * the caller initialise every word, and only then links it to its final
 * name: no process can open a half-initialised segment, and an existing
 * file is never clobbered unless SHMG_REGION_REPLACE is given (then it is
 * replaced atomically by rename).
 *
 * struct shmg_region is opaque: the library allocates it (open, create,
 * from_fd, from_memory) and frees it (close).
 */
#ifndef SHMGUARD_REGION_H
#define SHMGUARD_REGION_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

struct shmg_region;

enum shmg_region_flags {
	SHMG_REGION_RDONLY = 1u << 0,  /* map PROT_READ only */
	SHMG_REGION_FOLLOW = 1u << 1,  /* accept a symlink as the last path element */
	SHMG_REGION_REPLACE = 1u << 2, /* create: atomically replace an existing file */
	/* Survive another process truncating the file: a fault in the mapping
	 * (SIGBUS) maps zero pages over the region and marks it truncated, and
	 * the library's reads and waits return SHMG_ETRUNCATED instead of
	 * killing the process. Installs a process-wide SIGBUS handler that
	 * passes other faults on (doc/region.md, "When another process
	 * truncates the file"). */
	SHMG_REGION_TRUNCATION = 1u << 3,
};

/*
 * Initialiser run by shmg_region_create on the fresh, zero-filled mapping
 * before the file becomes visible under its name. It must write every word a
 * reader relies on, and its "ready" marker (if the format has one) last.
 * fd is the new file's descriptor (for formats that record its inode; the
 * name it will have is not linked yet). Returns 0, or a negative error
 * that aborts the creation.
 */
typedef int (*shmg_region_init_fn)(void *base, size_t size, int fd, void *arg);

/*
 * Create a new segment of `size` bytes at `path` with permission bits `mode`
 * (0600 when 0), initialised by `init` (may be NULL: all zero), and map it
 * read-write into *r.
 * Returns 0, -EEXIST (path exists and no SHMG_REGION_REPLACE), -EINVAL (size
 * 0, bad flags or mode), or the negative errno of the failing system call.
 * On failure nothing is left behind at `path`.
 */
SHMG_EXPORT int shmg_region_create(struct shmg_region **r, const char *path,
				   size_t size, mode_t mode, unsigned flags,
				   shmg_region_init_fn init, void *arg);

/* Open and map all of an existing segment. Returns 0, -ELOOP (symlink),
 * -EINVAL (not a regular file), SHMG_ELAYOUT (empty or too large), or the
 * negative errno of the failing call. */
SHMG_EXPORT int shmg_region_open(struct shmg_region **r, const char *path,
				 unsigned flags);

/* The same inside directory `dir`; `name` must be one path element (no '/',
 * not "." or ".."), else -EINVAL. */
SHMG_EXPORT int shmg_region_open_in(struct shmg_region **r, const char *dir,
				    const char *name, unsigned flags);

/* Map the file behind `fd` (the region keeps its own duplicate of fd).
 * flags: SHMG_REGION_RDONLY only. */
SHMG_EXPORT int shmg_region_from_fd(struct shmg_region **r, int fd,
				    unsigned flags);

/* Wrap memory the caller mapped and keeps ownership of (at least `size`
 * bytes, shared with the other processes as the caller arranged). */
SHMG_EXPORT int shmg_region_from_memory(struct shmg_region **r, void *base,
					size_t size);

/* Unmap and close what the region owns, and free it; NULL is a no-op. */
SHMG_EXPORT void shmg_region_close(struct shmg_region *r);

/* The first byte of the mapping, its size in bytes (the whole file), and
 * the open descriptor (-1 for caller memory). */
SHMG_EXPORT void *shmg_region_base(const struct shmg_region *r);
SHMG_EXPORT size_t shmg_region_size(const struct shmg_region *r);
SHMG_EXPORT int shmg_region_fd(const struct shmg_region *r);

/* Was the region mapped for writing? (false with SHMG_REGION_RDONLY, or for
 * a file opened read-only.) */
SHMG_EXPORT bool shmg_region_writable(const struct shmg_region *r);

/* Was the file truncated under a region opened with SHMG_REGION_TRUNCATION
 * (its pages read as zeros since)? Check it after reading the region
 * directly; the library's own reads and waits do. */
SHMG_EXPORT bool shmg_region_truncated(const struct shmg_region *r);

/*
 * Checked placement: a pointer to the `width`-byte object at `offset`.
 * width must be 1, 2, 4 or 8 and the object naturally aligned in the address
 * space (base + offset), and lie wholly inside the region.
 * Returns 0 and sets *out, or -EINVAL (bad width, misaligned), -ERANGE
 * (outside); *out is untouched on failure.
 */
SHMG_EXPORT int shmg_region_at(const struct shmg_region *r, size_t offset,
			       size_t width, void **out);

/* Checked span: true iff [offset, offset + len) lies inside the region
 * (overflow-safe). */
SHMG_EXPORT bool shmg_region_contains(const struct shmg_region *r,
				      size_t offset, size_t len);

SHMG_END_DECLS

#endif /* SHMGUARD_REGION_H */
