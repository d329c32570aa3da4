/*
 * fuzz_options: the tool's command-line parser (tools/options.c,
 * tools/cli.c) on arbitrary argv: the input split at NUL bytes, after the
 * subcommand's name. A table with an option of each kind, with and
 * without the segment options.
 * Checked: the parser ends within argv; what it stored respects the
 * limits (at most 16 guards of each kind, lock widths 4 or 8, numbers
 * and durations within their bounds); the number and duration parsers
 * agree with what they accept.
 */
#include "../../tools/cli.h"
#include "../../tools/options.h"
#include "fuzz.h"

#define ARGS_MAX 64

static void parse(int argc, char **argv, bool with_seg)
{
	struct seg_options o = {0};
	bool json = false, dry = false;
	uint64_t interval = 200000000, count = 7;
	const char *name = NULL;
	const struct opt opts[] = {
		{"--json", NULL, OPT_FLAG, &json, 0, 0, NULL},
		{"--dry-run", "-n", OPT_FLAG, &dry, 0, 0, NULL},
		{"--interval", "-i", OPT_DURATION, &interval, 1000000, 60000000000u,
		 "a duration such as 200ms"},
		{"--count", "-c", OPT_NUMBER, &count, 1, 1000, "a number from 1 to 1000"},
		{"--name", NULL, OPT_TEXT, &name, 0, 0, "a name"},
		{NULL, NULL, OPT_FLAG, NULL, 0, 0, NULL},
	};
	int next = -7;
	int got = opt_parse("fuzz", "help\n", opts, with_seg ? &o : NULL, argc, argv, &next);
	if (got != OPT_GO_ON) {
		FUZZ_ASSERT(got == CLI_OK || got == CLI_USAGE);
		return;
	}
	FUZZ_ASSERT(next >= 1 && next <= argc);
	FUZZ_ASSERT(interval == 200000000 || (interval >= 1000000 && interval <= 60000000000u));
	FUZZ_ASSERT(count == 7 || (count >= 1 && count <= 1000));
	if (name) {
		bool found = false;
		for (int i = 1; i < argc; i++)
			found = found || name == argv[i];
		FUZZ_ASSERT(found);
	}
	FUZZ_ASSERT(o.n_wflag <= SEG_MAX_GUARDS && o.n_xlock <= SEG_MAX_GUARDS);
	for (unsigned i = 0; i < o.n_xlock; i++)
		FUZZ_ASSERT(o.xlock[i].width == 4 || o.xlock[i].width == 8);
	for (unsigned i = 0; i < o.n_wflag; i++)
		FUZZ_ASSERT(o.wflag[i].has_owner || o.wflag[i].owner == 0);
	FUZZ_ASSERT(o.fps_layout == SHMG_FPS_AUTO || o.fps_layout == SHMG_FPS_2024 ||
		    o.fps_layout == SHMG_FPS_NEW);
}

static void numbers(const char *s)
{
	uint64_t v = 12345, max = 1000;
	if (cli_parse_u64(s, max, &v))
		FUZZ_ASSERT(v <= max);
	/* Accepted numbers are digits, or 0x and hex digits. */
	if (cli_parse_u64(s, UINT64_MAX, &v))
		FUZZ_ASSERT(s[0] >= '0' && s[0] <= '9');
	if (cli_parse_duration_ns(s, &v))
		FUZZ_ASSERT(v <= UINT64_C(86400000000000));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	static char name[] = "fuzz";
	char *argv[ARGS_MAX + 2];
	int argc = 0;
	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = 0;
	argv[argc++] = name;
	for (char *p = copy; p <= copy + size && argc <= ARGS_MAX; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++)
		numbers(argv[i]);
	parse(argc, argv, true);
	parse(argc, argv, false);
	free(copy);
	return 0;
}
