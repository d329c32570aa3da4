/*
 * shmguard: look at, watch, repair and demonstrate guarded shared-memory
 * segments (ImageStreamIO streams, milk PINFO and FPS files, generic
 * regions). One subcommand per file: inspect.c, watch.c, recover.c,
 * demo.c, bench.c. The manual is doc/man/shmguard.1.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} commands[] = {
	{"inspect", cmd_inspect, "print the guard state of segments (--json for scripts)"},
	{"watch", cmd_watch, "live view of one segment: rates, missed frames, alerts"},
	{"recover", cmd_recover, "clear what a dead writer or lock owner left behind"},
	{"demo", cmd_demo, "torn frames, a killed writer and a killed lock holder, live"},
	{"bench", cmd_bench, "benchmarks against their peers, with ratios"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: shmguard COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(out, "\n'shmguard COMMAND --help' describes a command; man shmguard has it all.\n"
		     "Exit status: 0 fine, 1 error, 2 bad usage, 3 something needs attention.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cli_is_help(argv[1])) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("shmguard %s\n", SHMG_TOOL_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "shmguard: unknown command '%s' (try 'shmguard --help')\n", argv[1]);
	return CLI_USAGE;
}
