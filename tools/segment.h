/*
 * segment: open a file and recognise what it is (an ImageStreamIO 2.00
 * stream, a milk PINFO or FPS file, or a generic region whose guards the
 * user placed with --wflag / --xlock), for every subcommand that takes a
 * PATH. Recognition only reads; nothing in the file is changed. What each
 * kind can do is in its table of operations (kind.h).
 */
#ifndef SHMG_TOOL_SEGMENT_H
#define SHMG_TOOL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>

#include <shmguard.h>

#define SEG_MAX_GUARDS 16

/* What the command line says about how to open segments (options.c). */
struct seg_options {
	bool follow;   /* accept a symlink as the last path element */
	bool writable; /* map read-write (recover, watch's waiting reader) */
	enum shmg_fps_layout fps_layout;
	unsigned n_wflag, n_xlock; /* generic guards: a generic region if any */
	struct { size_t mark, counter, owner; bool has_owner; } wflag[SEG_MAX_GUARDS];
	struct { size_t offset; unsigned width; } xlock[SEG_MAX_GUARDS];
};

struct kind;

struct segment {
	const struct kind *kind;
	const char *path;
	void *h; /* the kind's handle */
};

/* Open and recognise `path`. Returns 0, or prints one error line naming
 * the path and returns CLI_ERROR. */
int seg_open(struct segment *s, const char *path, const struct seg_options *o);
void seg_close(struct segment *s);

const struct shmg_region *seg_region(const struct segment *s);

/* One line for a failed open or validation, in words a user can act on
 * (the library's detail when it has one). Returns CLI_ERROR. */
int seg_error(const char *path, int err);

#endif /* SHMG_TOOL_SEGMENT_H */
