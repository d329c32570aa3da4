/*
 * options: the one command-line parser of the subcommands. Each command
 * describes its options in a table; the segment options (--wflag, --xlock,
 * --fps-layout, --follow) come with every command that takes PATHs;
 * -h/--help prints the command's help; "--" ends the options.
 */
#ifndef SHMG_TOOL_OPTIONS_H
#define SHMG_TOOL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

enum opt_kind {
	OPT_FLAG,     /* bool *dest = true */
	OPT_DURATION, /* uint64_t *dest = nanoseconds, within [min, max] */
	OPT_NUMBER,   /* uint64_t *dest, decimal or 0x hex, within [min, max] */
	OPT_TEXT,     /* const char **dest */
};

struct opt {
	const char *name;  /* "--interval" */
	const char *alias; /* "-n", or NULL */
	enum opt_kind kind;
	void *dest;
	uint64_t min, max;
	const char *takes; /* the usage error's words: "a duration such as 200ms" */
};

/* Options every PATH-taking subcommand accepts, for --help texts. */
#define SEG_OPTIONS_HELP                                                            \
	"  --wflag MARK,COUNTER[,OWNER]  a generic region: a write flag byte at MARK, its\n" \
	"                          64-bit counter at COUNTER, the writer's PID word at OWNER\n" \
	"  --xlock OFFSET[,WIDTH]  a generic region: a lock word of WIDTH 8 (default) or 4\n" \
	"                          bytes (--wflag and --xlock repeat, up to 16 each)\n" \
	"  --fps-layout 2024|new   the FPS layout, for sizes that fit both\n"        \
	"  --follow                accept a symbolic link as PATH\n"

/* Parse argv[1..] against `opts` (ended by an entry with a NULL name) and,
 * when seg is not NULL, the segment options. Returns OPT_GO_ON with *next
 * = the first argument after the options; or the exit status to return at
 * once: CLI_OK after printing `help`, CLI_USAGE after a usage error. */
#define OPT_GO_ON (-1)
int opt_parse(const char *cmd, const char *help, const struct opt *opts,
	      struct seg_options *seg, int argc, char **argv, int *next);

#endif /* SHMG_TOOL_OPTIONS_H */
