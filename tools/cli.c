/* Error messages and argument parsing shared by the subcommands. */
#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("shmguard: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERROR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "shmguard %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'shmguard %s --help')\n", cmd);
	return CLI_USAGE;
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	/* A digit first: strtoull would skip any leading white space, and
	 * then take a sign ("\t-1" as 2^64 - 1). */
	if (!s || *s < '0' || *s > '9')
		return false;
	/* decimal, or hex with 0x: a leading 0 does not mean octal here */
	int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_parse_duration_ns(const char *s, uint64_t *ns)
{
	static const struct { const char *suffix; double scale; } units[] = {
		{"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"", 1e6},
	};
	char *end;
	/* A digit or '.' first: strtod would skip any leading white space. */
	if (!s || ((*s < '0' || *s > '9') && *s != '.'))
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double t = v * units[i].scale;
			if (t > 86400e9)
				return false;
			*ns = (uint64_t)t;
			return true;
		}
	}
	return false;
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_sleep_ns(uint64_t ns, volatile int *stop)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !(stop && *stop))
		;
}
