/* The subcommands' command-line parser (options.h). */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"

/* "A,B[,C]": up to `max` offsets, at least `min`. */
static int parse_list(const char *arg, size_t *v, int min, int max)
{
	char buf[128];
	int n = 0;
	if (strlen(arg) >= sizeof(buf) || !*arg || arg[strlen(arg) - 1] == ',')
		return -1;
	strcpy(buf, arg);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t x;
		if (n == max || !cli_parse_u64(tok, SIZE_MAX / 2, &x))
			return -1;
		v[n++] = (size_t)x;
	}
	return n >= min ? n : -1;
}

static int seg_layout(struct seg_options *o, const char *cmd, const char *arg)
{
	if (strcmp(arg, "2024") == 0)
		o->fps_layout = SHMG_FPS_2024;
	else if (strcmp(arg, "new") == 0)
		o->fps_layout = SHMG_FPS_NEW;
	else
		return cli_usage_error(cmd, "--fps-layout takes 2024 or new, not '%s'", arg);
	return OPT_GO_ON;
}

static int seg_wflag(struct seg_options *o, const char *cmd, const char *arg)
{
	size_t v[3];
	int n = parse_list(arg, v, 2, 3);
	if (n < 0 || o->n_wflag == SEG_MAX_GUARDS)
		return cli_usage_error(cmd, "--wflag takes MARK,COUNTER[,OWNER] (byte offsets), not '%s'",
				       arg);
	o->wflag[o->n_wflag].mark = v[0];
	o->wflag[o->n_wflag].counter = v[1];
	o->wflag[o->n_wflag].owner = n == 3 ? v[2] : 0;
	o->wflag[o->n_wflag].has_owner = n == 3;
	o->n_wflag++;
	return OPT_GO_ON;
}

static int seg_xlock(struct seg_options *o, const char *cmd, const char *arg)
{
	size_t v[2];
	int n = parse_list(arg, v, 1, 2);
	if (n < 0 || (n == 2 && v[1] != 4 && v[1] != 8) || o->n_xlock == SEG_MAX_GUARDS)
		return cli_usage_error(cmd, "--xlock takes OFFSET[,WIDTH] with WIDTH 4 or 8, not '%s'",
				       arg);
	o->xlock[o->n_xlock].offset = v[0];
	o->xlock[o->n_xlock].width = n == 2 ? (unsigned)v[1] : 8;
	o->n_xlock++;
	return OPT_GO_ON;
}

/* A segment option at argv[*i]: OPT_GO_ON (consumed), 0 (not one), or
 * CLI_USAGE. */
static int seg_option(struct seg_options *o, const char *cmd, int *i, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*take)(struct seg_options *, const char *, const char *);
	} with_arg[] = {{"--fps-layout", seg_layout}, {"--wflag", seg_wflag}, {"--xlock", seg_xlock}};
	if (strcmp(argv[*i], "--follow") == 0) {
		o->follow = true;
		return OPT_GO_ON;
	}
	for (size_t k = 0; k < sizeof(with_arg) / sizeof(with_arg[0]); k++) {
		if (strcmp(argv[*i], with_arg[k].name) != 0)
			continue;
		if (*i + 1 >= argc)
			return cli_usage_error(cmd, "%s needs an argument", argv[*i]);
		*i += 1;
		return with_arg[k].take(o, cmd, argv[*i]);
	}
	return 0;
}

/* A table option at argv[*i]: OPT_GO_ON, 0 (not one), or CLI_USAGE. */
static int table_option(const char *cmd, const struct opt *opts, int *i, int argc, char **argv)
{
	for (const struct opt *o = opts; o && o->name; o++) {
		if (strcmp(argv[*i], o->name) != 0 && !(o->alias && strcmp(argv[*i], o->alias) == 0))
			continue;
		if (o->kind == OPT_FLAG) {
			*(bool *)o->dest = true;
			return OPT_GO_ON;
		}
		const char *arg = *i + 1 < argc ? argv[++*i] : NULL;
		uint64_t v = 0;
		bool ok = arg != NULL;
		if (ok && o->kind == OPT_DURATION)
			ok = cli_parse_duration_ns(arg, &v);
		else if (ok && o->kind == OPT_NUMBER)
			ok = cli_parse_u64(arg, UINT64_MAX, &v);
		if (ok && o->kind != OPT_TEXT)
			ok = v >= o->min && v <= o->max;
		if (!ok)
			return cli_usage_error(cmd, "%s takes %s", o->name, o->takes);
		if (o->kind == OPT_TEXT)
			*(const char **)o->dest = arg;
		else
			*(uint64_t *)o->dest = v;
		return OPT_GO_ON;
	}
	return 0;
}

int opt_parse(const char *cmd, const char *help, const struct opt *opts,
	      struct seg_options *seg, int argc, char **argv, int *next)
{
	int i, got;
	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-' || !argv[i][1])
			break;
		if ((seg && (got = seg_option(seg, cmd, &i, argc, argv)) != 0) ||
		    (got = table_option(cmd, opts, &i, argc, argv)) != 0) {
			if (got != OPT_GO_ON)
				return got;
			continue;
		}
		return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
	}
	*next = i;
	return OPT_GO_ON;
}
