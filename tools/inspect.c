/*
 * shmguard inspect PATH...: recognise each segment and print its guard
 * state once. Two readings `--interval` apart give the rates and tell a
 * stuck write flag from a busy one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"

static const char help[] =
	"usage: shmguard inspect [OPTIONS] PATH...\n"
	"Print the guard state of each segment: an ImageStreamIO stream, a milk PINFO or\n"
	"FPS file (recognised by content and size), or a generic region (--wflag/--xlock).\n"
	"Nothing is written; files are mapped read-only.\n\n"
	"  --json                  one JSON array of objects, for scripts\n"
	"  --interval DURATION     time between the two readings that give rates\n"
	"                          (default 200ms; 0: one reading, no rates)\n"
	SEG_OPTIONS_HELP
	"  -h, --help              this text\n\n"
	"Exit status: 0 all healthy, 1 a PATH could not be read, 2 bad usage,\n"
	"3 a problem was found (a dead writer or lock owner, a garbage word, ...).\n";

int cmd_inspect(int argc, char **argv)
{
	struct seg_options o = {0};
	bool as_json = false;
	uint64_t interval = 200000000;
	int i, first_path = 0, status = CLI_OK;

	for (i = 1; i < argc; i++) {
		int used;
		if (cli_is_help(argv[i])) {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if ((used = seg_parse_option(&o, "inspect", &i, argc, argv)) < 0)
			return CLI_USAGE;
		if (used)
			continue;
		if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else if (strcmp(argv[i], "--interval") == 0) {
			if (i + 1 >= argc || !cli_parse_duration_ns(argv[++i], &interval))
				return cli_usage_error("inspect", "--interval takes a duration such as 200ms");
		} else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
		else
			break;
	}
	first_path = i;
	int n = argc - first_path;
	if (n <= 0)
		return cli_usage_error("inspect", "no PATH given");

	struct segment *seg = calloc((size_t)n, sizeof(*seg));
	struct snapshot *before = calloc((size_t)n, sizeof(*before));
	struct snapshot *now = calloc((size_t)n, sizeof(*now));
	bool *ok = calloc((size_t)n, sizeof(*ok));
	if (!seg || !before || !now || !ok) {
		free(seg), free(before), free(now), free(ok);
		return cli_error("out of memory");
	}
	for (int k = 0; k < n; k++) {
		ok[k] = seg_open(&seg[k], argv[first_path + k], &o) == 0;
		if (ok[k] && interval && !snapshot_take(&seg[k], &before[k])) {
			cli_error("%s: %s", argv[first_path + k], SNAPSHOT_SHRANK);
			seg_close(&seg[k]);
			ok[k] = false;
		}
		if (!ok[k])
			status = CLI_ERROR;
	}
	if (interval)
		cli_sleep_ns(interval, NULL);

	struct json j;
	json_init(&j, stdout);
	if (as_json)
		json_begin(&j, '[');
	for (int k = 0; k < n; k++) {
		const char *path = argv[first_path + k];
		if (!ok[k]) {
			if (as_json) {
				json_begin(&j, '{');
				json_kstr(&j, "path", path);
				json_kstr(&j, "error", "could not be inspected (see stderr)");
				json_end(&j, '}');
			}
			continue;
		}
		if (!snapshot_take(&seg[k], &now[k])) {
			cli_error("%s: %s", path, SNAPSHOT_SHRANK);
			seg_close(&seg[k]);
			status = CLI_ERROR;
			if (as_json) {
				json_begin(&j, '{');
				json_kstr(&j, "path", path);
				json_kstr(&j, "error", SNAPSHOT_SHRANK);
				json_end(&j, '}');
			}
			continue;
		}
		snapshot_mappers(&seg[k], &now[k]);
		snapshot_alerts(interval ? &before[k] : NULL, &now[k]);
		if (snapshot_has_problem(&now[k]) && status == CLI_OK)
			status = CLI_ATTENTION;
		if (as_json)
			render_json(&j, path, interval ? &before[k] : NULL, &now[k]);
		else
			render_text(stdout, path, interval ? &before[k] : NULL, &now[k]);
		seg_close(&seg[k]);
	}
	if (as_json)
		json_end(&j, ']');
	free(seg), free(before), free(now), free(ok);
	return status;
}
