/*
 * shmguard inspect PATH...: recognise each segment and print its guard
 * state once. Two readings `--interval` apart give the rates and tell a
 * stuck write flag from a busy one.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kind.h"
#include "options.h"

static const char help[] =
	"usage: shmguard inspect [OPTIONS] PATH...\n"
	"Print the guard state of each segment: an ImageStreamIO stream, a milk PINFO or\n"
	"FPS file (recognised by content and size), or a generic region (--wflag/--xlock).\n"
	"Nothing is written; files are mapped read-only.\n\n"
	"  --json                  one JSON array of objects, for scripts\n"
	"  --interval DURATION     time between the two readings that give rates\n"
	"                          (default 200ms; 0: one reading, no rates)\n"
	"  --stuck DURATION        a lock or write flag held this long by the same live\n"
	"                          process is a problem (default 5s; it takes an\n"
	"                          --interval at least as long to see)\n"
	SEG_OPTIONS_HELP
	"  -h, --help              this text\n\n"
	"Exit status: 0 all healthy, 1 a PATH could not be read, 2 bad usage,\n"
	"3 a problem was found (a dead writer or lock owner, a garbage word, ...).\n";

/* One PATH: its segment and two readings. */
struct target {
	const char *path;
	struct segment seg;
	struct snapshot *before, *now;
	bool ok;
};

static void json_error(struct json *j, const char *path, const char *what)
{
	json_begin(j, '{');
	json_kstr(j, "path", path);
	json_kstr(j, "error", what);
	json_end(j, '}');
}

/* Open and take the first reading (when there is an interval). */
static bool first_look(struct target *t, const struct seg_options *o, uint64_t interval)
{
	if (seg_open(&t->seg, t->path, o) != 0)
		return false;
	t->before = snapshot_new(&t->seg);
	t->now = snapshot_new(&t->seg);
	if (!t->before || !t->now)
		cli_error("out of memory");
	else if (!interval || snapshot_take(&t->seg, t->before))
		return true;
	else
		cli_error("%s: %s", t->path, SNAPSHOT_SHRANK);
	seg_close(&t->seg);
	return false;
}

/* The second reading, shown; the exit status it calls for. */
static int show(struct target *t, uint64_t interval, struct json *j, bool as_json)
{
	const struct snapshot *prev = interval ? t->before : NULL;
	if (!snapshot_take(&t->seg, t->now)) {
		cli_error("%s: %s", t->path, SNAPSHOT_SHRANK);
		if (as_json)
			json_error(j, t->path, SNAPSHOT_SHRANK);
		return CLI_ERROR;
	}
	snapshot_mappers(&t->seg, t->now);
	snapshot_alerts(prev, t->now);
	if (as_json)
		render_json(j, t->path, prev, t->now);
	else
		render_text(stdout, t->path, prev, t->now);
	return alerts_have_problem(&t->now->alerts) ? CLI_ATTENTION : CLI_OK;
}

int cmd_inspect(int argc, char **argv)
{
	struct seg_options o = {0};
	bool as_json = false;
	uint64_t interval = 200000000, stuck = 5000000000u;
	const struct opt opts[] = {
		{"--json", NULL, OPT_FLAG, &as_json, 0, 0, NULL},
		{"--interval", NULL, OPT_DURATION, &interval, 0, UINT64_MAX, "a duration such as 200ms"},
		{"--stuck", NULL, OPT_DURATION, &stuck, 1000000, UINT64_MAX, "a duration such as 5s"},
		{NULL, NULL, OPT_FLAG, NULL, 0, 0, NULL},
	};
	int first, status = CLI_OK;
	int got = opt_parse("inspect", help, opts, &o, argc, argv, &first);
	if (got != OPT_GO_ON)
		return got;
	int n = argc - first;
	if (n <= 0)
		return cli_usage_error("inspect", "no PATH given");
	snapshot_set_stuck(stuck);
	struct target *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return cli_error("out of memory");
	for (int k = 0; k < n; k++) {
		t[k].path = argv[first + k];
		if (!(t[k].ok = first_look(&t[k], &o, interval)))
			status = CLI_ERROR;
	}
	if (interval)
		cli_sleep_ns(interval, NULL);
	struct json j;
	json_init(&j, stdout);
	if (as_json)
		json_begin(&j, '[');
	for (int k = 0; k < n; k++) {
		int s = CLI_ERROR;
		if (t[k].ok) {
			s = show(&t[k], interval, &j, as_json);
			seg_close(&t[k].seg);
		} else if (as_json) {
			json_error(&j, t[k].path, "could not be inspected (see stderr)");
		}
		if (s == CLI_ERROR || (s == CLI_ATTENTION && status == CLI_OK))
			status = s;
		snapshot_free(t[k].before);
		snapshot_free(t[k].now);
	}
	if (as_json)
		json_end(&j, ']');
	free(t);
	return status;
}
