/*
 * fuzz_inspect: the tool's view of a file with arbitrary contents, as
 * `shmguard inspect` and `shmguard recover --dry-run` see it: recognition
 * (tools/segment.c and each kind's recognise), the kind's open, two
 * readings, the alerts, the text and the JSON rendering, and a dry-run
 * recover. The file is opened as found, with each FPS layout named, and
 * as a generic region with fixed --wflag/--xlock placements.
 * Checked: the JSON is well formed; the text has no control characters
 * but newlines (names from the file must not reach a terminal raw).
 * Not run: watch, and the /proc scan for mappers (slow; its result is
 * set by hand instead).
 */
#include <stdbool.h>

#include "../../tools/cli.h"
#include "../../tools/kind.h"
#include "fuzz.h"

/* ---------------------------------------------------------------- JSON */

struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

static bool lit(struct scan *s, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool string(struct scan *s)
{
	if (s->p >= s->end || *s->p++ != '"')
		return false;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p++;
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (s->p >= s->end)
			return false;
		c = (unsigned char)*s->p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++)
				if (s->p >= s->end || !strchr("0123456789abcdefABCDEF", *s->p++))
					return false;
		} else if (!strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
	return false;
}

static bool number(struct scan *s)
{
	const char *start = s->p;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	while (s->p < s->end && strchr("0123456789.eE+-", *s->p))
		s->p++;
	return s->p > start && (start[0] != '-' || s->p > start + 1);
}

static bool value(struct scan *s, int depth)
{
	ws(s);
	if (s->p >= s->end || depth > 32)
		return false;
	char c = *s->p;
	if (c == '"')
		return string(s);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				ws(s);
				if (!string(s))
					return false;
				ws(s);
				if (s->p >= s->end || *s->p++ != ':')
					return false;
			}
			if (!value(s, depth + 1))
				return false;
			ws(s);
			if (s->p >= s->end)
				return false;
			if (*s->p == close) {
				s->p++;
				return true;
			}
			if (*s->p++ != ',')
				return false;
		}
	}
	return lit(s, "true") || lit(s, "false") || lit(s, "null") || number(s);
}

static void check_json(const char *text, size_t len)
{
	struct scan s = {text, text + len};
	FUZZ_ASSERT(value(&s, 0));
	ws(&s);
	FUZZ_ASSERT(s.p == s.end);
}

static void check_text(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		FUZZ_ASSERT((unsigned char)text[i] >= 0x20 || text[i] == '\n');
}

/* ---------------------------------------------------------------- views */

static void render(const struct segment *seg, const struct snapshot *prev,
		   const struct snapshot *now)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FUZZ_ASSERT(out != NULL);
	render_text(out, seg->path, prev, now);
	FUZZ_ASSERT(fclose(out) == 0);
	check_text(buf, len);
	free(buf);

	buf = NULL;
	out = open_memstream(&buf, &len);
	FUZZ_ASSERT(out != NULL);
	struct json j;
	json_init(&j, out);
	render_json(&j, seg->path, prev, now);
	FUZZ_ASSERT(fclose(out) == 0);
	check_json(buf, len);
	free(buf);
}

static void view(const char *path, const struct seg_options *o)
{
	struct segment seg;
	if (seg_open(&seg, path, o) != 0)
		return;
	struct snapshot *before = snapshot_new(&seg), *now = snapshot_new(&seg);
	FUZZ_ASSERT(before && now);
	FUZZ_ASSERT(snapshot_take(&seg, before));
	FUZZ_ASSERT(snapshot_take(&seg, now));
	/* One reading, as inspect --interval 0. */
	snapshot_alerts(NULL, now);
	render(&seg, NULL, now);
	/* Two readings; what the mappers scan would have found: this
	 * process only, then nobody (as if it could not be examined). */
	now->has_mappers = now->mappers_complete = true;
	now->nmappers = 1;
	now->mappers[0] = getpid();
	snapshot_alerts(before, now);
	render(&seg, before, now);
	now->nmappers = 0;
	now->mappers_complete = false;
	snapshot_alerts(before, now);
	render(&seg, before, now);
	uint64_t counter;
	if (seg.kind->write_flag)
		(void)seg.kind->write_flag(now, &counter);
	/* recover --dry-run (the mapping is read-only: a write faults). */
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};
	(void)seg.kind->recover(&seg, &ro, false);
	(void)seg.kind->recover(&seg, &ro, true);
	snapshot_free(before);
	snapshot_free(now);
	seg_close(&seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct seg_options o = {0};

	view(path, &o);
	if (size >= SHMG_FPS_HEADER_2024) {
		o.fps_layout = SHMG_FPS_2024;
		view(path, &o);
		o.fps_layout = SHMG_FPS_NEW;
		view(path, &o);
		o.fps_layout = SHMG_FPS_AUTO;
	}
	/* A generic region: --wflag 0,8,16 --wflag 64,72 --xlock 24 --xlock 32,4
	 * --xlock 40,8. */
	o.n_wflag = 2;
	o.wflag[0].mark = 0, o.wflag[0].counter = 8, o.wflag[0].owner = 16;
	o.wflag[0].has_owner = true;
	o.wflag[1].mark = 64, o.wflag[1].counter = 72;
	o.n_xlock = 3;
	o.xlock[0].offset = 24, o.xlock[0].width = 8;
	o.xlock[1].offset = 32, o.xlock[1].width = 4;
	o.xlock[2].offset = 40, o.xlock[2].width = 8;
	view(path, &o);
	return 0;
}
