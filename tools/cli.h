/*
 * What the shmguard subcommands share: the exit codes, one-line error
 * messages, and the parsing of numbers and durations from the command line.
 */
#ifndef SHMG_TOOL_CLI_H
#define SHMG_TOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes of every subcommand (shmguard(1), EXIT STATUS). */
enum {
	CLI_OK = 0,       /* done; nothing needs attention */
	CLI_ERROR = 1,    /* a file could not be read, or an operation failed */
	CLI_USAGE = 2,    /* bad command line */
	CLI_ATTENTION = 3 /* inspect/recover: something needs attention */
};

/* "shmguard: <message>" on stderr, one line. Returns CLI_ERROR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "shmguard <cmd>: <message> (try 'shmguard <cmd> --help')". Returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Is argv[i] "-h" or "--help"? */
bool cli_is_help(const char *arg);

/* A non-negative integer in [0, max], decimal or 0x hex; false if not. */
bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* A duration: "250ms", "2s", "1.5s", "100us"; plain numbers are
 * milliseconds. false if malformed, negative or over a day. */
bool cli_parse_duration_ns(const char *s, uint64_t *ns);

/* Monotonic time in nanoseconds. */
uint64_t cli_now_ns(void);
/* Sleep ns nanoseconds (restarted after signals unless *stop is set). */
void cli_sleep_ns(uint64_t ns, volatile int *stop);

/* The subcommands: argv[0] is the subcommand's name. */
int cmd_inspect(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif /* SHMG_TOOL_CLI_H */
