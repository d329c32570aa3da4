/*
 * shmguard bench [SUITE...]: the benchmark suites of tools/bench, printed
 * as a table: each figure, its peer measured in the same run, and the
 * ratio. --raw prints the suites' own "KEY VALUE UNIT" lines instead.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli.h"

static const char help[] =
	"usage: shmguard bench [OPTIONS] [SUITE...]\n"
	"Run benchmark suites (all when none is named) and print each figure with the\n"
	"peer measured in the same run (memcpy, robust pthread mutex, POSIX semaphores,\n"
	"plain builtins) and the ratio ours/peer. Figures are medians of repeated runs.\n\n"
	"  --list        name the suites\n"
	"  --raw         print KEY VALUE UNIT lines (as tools/bench/shmg-bench)\n"
	"  --quick       few repetitions, small sizes: checks it runs, figures mean nothing\n"
	"  --repeats N   repetitions per median (default 11)\n"
	"  -h, --help    this text\n";

/* Figures of the running suite, until their ratio line arrives. */
#define MAX_FIGURES 256
static struct figure {
	char key[96], unit[16];
	double value;
	bool shown;
} fig[MAX_FIGURES];
static size_t nfig;

/* A figure may serve several rows (one memcpy peer for loads and stores). */
static struct figure *find(const char *prefix, const char *not_prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < nfig; i++)
		if (strncmp(fig[i].key, prefix, n) == 0 &&
		    (!not_prefix || strncmp(fig[i].key, not_prefix, strlen(not_prefix)) != 0) &&
		    !strstr(fig[i].key + n, ".vs_"))
			return &fig[i];
	return NULL;
}

static void row(const char *name, const struct figure *ours, const struct figure *peer,
		double ratio, bool has_ratio)
{
	char a[40] = "", b[40] = "", r[16] = "";
	if (ours)
		snprintf(a, sizeof(a), "%.4g %s", ours->value, ours->unit);
	if (peer)
		snprintf(b, sizeof(b), "%.4g %s", peer->value, peer->unit);
	if (has_ratio)
		snprintf(r, sizeof(r), "%.3f", ratio);
	printf("%-44s %16s %16s %9s\n", name, a, b, r);
	fflush(stdout);
}

/* A ratio "S.X.vs_P" closes a row: ours is "S.X.<unit>", the peer
 * "S.X.P.<unit>", or "S.P.<last part of X>.<unit>" when the suite measured
 * one peer for several figures (copy.memcpy.4KiB for copy.load.4KiB). */
static void sink(const char *key, double value, const char *unit)
{
	const char *vs = strstr(key, ".vs_");
	if (!vs) {
		if (nfig < MAX_FIGURES) {
			struct figure *f = &fig[nfig++];
			snprintf(f->key, sizeof(f->key), "%s", key);
			snprintf(f->unit, sizeof(f->unit), "%s", unit);
			f->value = value;
			f->shown = false;
		}
		return;
	}
	char base[96], peer_prefix[128], name[128];
	snprintf(base, sizeof(base), "%.*s.", (int)(vs - key), key);
	snprintf(peer_prefix, sizeof(peer_prefix), "%s%s.", base, vs + 4);
	struct figure *peer = find(peer_prefix, NULL);
	struct figure *ours = find(base, peer_prefix);
	const char *dot = strchr(key, '.'), *last = vs;
	while (last > key && last[-1] != '.')
		last--;
	if (!peer && dot && dot < last) {
		char shared[128];
		snprintf(shared, sizeof(shared), "%.*s%s.%.*s.", (int)(dot - key + 1), key, vs + 4,
			 (int)(vs - last), last);
		peer = find(shared, NULL);
	}
	snprintf(name, sizeof(name), "%.*s (vs %s)", (int)(vs - key), key, vs + 4);
	row(name, ours, peer, value, true);
	if (ours)
		ours->shown = true;
	if (peer)
		peer->shown = true;
}

/* Figures that no ratio claimed (counts such as torn frames accepted). */
static void flush_rest(void)
{
	for (size_t i = 0; i < nfig; i++)
		if (!fig[i].shown)
			row(fig[i].key, &fig[i], NULL, 0, false);
	nfig = 0;
}

int cmd_bench(int argc, char **argv)
{
	bool raw = false;
	int i, failed = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (cli_is_help(argv[i])) {
			fputs(help, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--list") == 0) {
			char *list[] = {"shmguard bench", "--list", NULL};
			bench_prog = "shmguard bench";
			return bench_main(2, list);
		} else if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
		} else if (strcmp(argv[i], "--quick") == 0) {
			setenv("SHMG_BENCH_QUICK", "1", 1);
		} else if (strcmp(argv[i], "--repeats") == 0) {
			uint64_t n;
			if (i + 1 >= argc || !cli_parse_u64(argv[++i], 1001, &n) || n == 0)
				return cli_usage_error("bench", "--repeats takes a number from 1 to 1001");
			setenv("SHMG_BENCH_REPEATS", argv[i], 1);
		} else {
			return cli_usage_error("bench", "unknown option '%s'", argv[i]);
		}
	}
	bench_prog = "shmguard bench";
	/* Check every name before running anything. */
	for (int a = i; a < argc; a++) {
		size_t k = 0;
		while (bench_suite_name(k) && strcmp(bench_suite_name(k), argv[a]) != 0)
			k++;
		if (!bench_suite_name(k))
			return cli_usage_error("bench", "unknown suite '%s' (see --list)", argv[a]);
	}
	if (raw) {
		argv[i - 1] = "shmguard bench";
		return bench_main(argc - i + 1, argv + i - 1) ? CLI_ERROR : CLI_OK;
	}
	bench_set_sink(sink);
	printf("%-44s %16s %16s %9s\n", "figure (median)", "ours", "peer", "ours/peer");
	for (size_t k = 0; bench_suite_name(k); k++) {
		const char *name = bench_suite_name(k);
		bool wanted = i == argc;
		for (int a = i; a < argc; a++)
			wanted |= strcmp(argv[a], name) == 0;
		if (!wanted)
			continue;
		char *one[] = {"shmguard bench", (char *)name, NULL};
		failed |= bench_main(2, one);
		flush_rest();
	}
	bench_set_sink(NULL);
	return failed ? CLI_ERROR : CLI_OK;
}
