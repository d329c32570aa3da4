/* The JSON writer (json.h): commas and escapes, nothing else. */
#define _GNU_SOURCE

#include <inttypes.h>
#include <math.h>

#include "json.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
	j->after_key = false;
}

/* Before a value or a key: the comma that separates it from the last. */
static void separate(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

void json_begin(struct json *j, char bracket)
{
	separate(j);
	fputc(bracket, j->out);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->need_comma[++j->depth] = false;
}

void json_end(struct json *j, char bracket)
{
	if (j->depth > 0)
		j->depth--;
	fputc(bracket, j->out);
	if (j->depth == 0)
		fputc('\n', j->out);
}

static void quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p); /* bytes, not UTF-8: keep it ASCII */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
	separate(j);
	quoted(j->out, key);
	fputc(':', j->out);
	j->after_key = true;
}

void json_str(struct json *j, const char *s)
{
	separate(j);
	if (s)
		quoted(j->out, s);
	else
		fputs("null", j->out);
}

void json_int(struct json *j, int64_t v)
{
	separate(j);
	fprintf(j->out, "%" PRId64, v);
}

void json_uint(struct json *j, uint64_t v)
{
	separate(j);
	fprintf(j->out, "%" PRIu64, v);
}

void json_num(struct json *j, double v)
{
	separate(j);
	if (isfinite(v))
		fprintf(j->out, "%.6g", v);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, bool v)
{
	separate(j);
	fputs(v ? "true" : "false", j->out);
}

void json_kstr(struct json *j, const char *key, const char *s) { json_key(j, key); json_str(j, s); }
void json_kint(struct json *j, const char *key, int64_t v) { json_key(j, key); json_int(j, v); }
void json_kuint(struct json *j, const char *key, uint64_t v) { json_key(j, key); json_uint(j, v); }
void json_knum(struct json *j, const char *key, double v) { json_key(j, key); json_num(j, v); }
void json_kbool(struct json *j, const char *key, bool v) { json_key(j, key); json_bool(j, v); }
