/*
 * segment: open a file and recognise what it is (an ImageStreamIO 2.00
 * stream, a milk PINFO or FPS file, or a generic region whose guards the
 * user placed with --wflag / --xlock), for every subcommand that takes a
 * PATH. Recognition only reads; nothing in the file is changed.
 */
#ifndef SHMG_TOOL_SEGMENT_H
#define SHMG_TOOL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>

#include <shmguard.h>

#define SEG_MAX_GUARDS 16

enum seg_kind { SEG_ISIO, SEG_PINFO, SEG_FPS, SEG_GENERIC };

/* What the command line says about how to open segments. */
struct seg_options {
	bool follow;   /* accept a symlink as the last path element */
	bool writable; /* map read-write (recover, watch's waiting reader) */
	enum shmg_fps_layout fps_layout;
	unsigned n_wflag, n_xlock; /* generic guards: a generic region if any */
	struct { size_t mark, counter, owner; } wflag[SEG_MAX_GUARDS];
	struct { size_t offset; unsigned width; } xlock[SEG_MAX_GUARDS];
};

struct segment {
	enum seg_kind kind;
	const char *path;
	struct shmg_isio isio;
	struct shmg_pinfo pinfo;
	struct shmg_fps fps;
	struct shmg_region region; /* SEG_GENERIC */
	unsigned n_wflag, n_xlock;
	struct shmg_wflag wflag[SEG_MAX_GUARDS];
	struct shmg_xlock xlock[SEG_MAX_GUARDS];
};

/* Options every PATH-taking subcommand accepts, for --help texts. */
#define SEG_OPTIONS_HELP                                                            \
	"  --wflag MARK,COUNTER[,OWNER]  a generic region: a write flag byte at MARK, its\n" \
	"                          64-bit counter at COUNTER, the writer's PID word at OWNER\n" \
	"  --xlock OFFSET[,WIDTH]  a generic region: a lock word of WIDTH 8 (default) or 4\n" \
	"                          bytes (--wflag and --xlock repeat, up to 16 each)\n" \
	"  --fps-layout 2024|new   the FPS layout, for sizes that fit both\n"        \
	"  --follow                accept a symbolic link as PATH\n"

/*
 * If argv[*i] is one of the options above, consume it (and its argument)
 * and return 1; return 0 if it is not one; on a malformed one print a usage
 * error for `cmd` and return -1.
 */
int seg_parse_option(struct seg_options *o, const char *cmd, int *i, int argc,
		     char **argv);

/* Open and recognise `path`. Returns 0, or prints one error line naming
 * the path and returns CLI_ERROR. */
int seg_open(struct segment *s, const char *path, const struct seg_options *o);
void seg_close(struct segment *s);

const char *seg_kind_name(enum seg_kind k);
const struct shmg_region *seg_region(const struct segment *s);

#endif /* SHMG_TOOL_SEGMENT_H */
