/* Opening and recognising segments for the tool (segment.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "segment.h"

const char *seg_kind_name(enum seg_kind k)
{
	switch (k) {
	case SEG_ISIO: return "imagestreamio";
	case SEG_PINFO: return "milk-pinfo";
	case SEG_FPS: return "milk-fps";
	case SEG_GENERIC: return "generic";
	}
	return "?";
}

const struct shmg_region *seg_region(const struct segment *s)
{
	switch (s->kind) {
	case SEG_ISIO: return &s->isio.region;
	case SEG_PINFO: return &s->pinfo.region;
	case SEG_FPS: return &s->fps.region;
	case SEG_GENERIC: break;
	}
	return &s->region;
}

/* "A,B[,C]": up to `max` offsets, at least `min`. */
static int parse_list(const char *arg, size_t *v, int min, int max)
{
	char buf[128];
	int n = 0;
	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t x;
		if (n == max || !cli_parse_u64(tok, SIZE_MAX / 2, &x))
			return -1;
		v[n++] = (size_t)x;
	}
	return n >= min && arg[strlen(arg) - 1] != ',' ? n : -1;
}

int seg_parse_option(struct seg_options *o, const char *cmd, int *i, int argc,
		     char **argv)
{
	const char *opt = argv[*i];
	bool takes_arg = strcmp(opt, "--wflag") == 0 || strcmp(opt, "--xlock") == 0 ||
			 strcmp(opt, "--fps-layout") == 0;

	if (strcmp(opt, "--follow") == 0) {
		o->follow = true;
		return 1;
	}
	if (!takes_arg)
		return 0;
	if (*i + 1 >= argc) {
		cli_usage_error(cmd, "%s needs an argument", opt);
		return -1;
	}
	const char *arg = argv[++*i];
	size_t v[3];
	if (strcmp(opt, "--fps-layout") == 0) {
		if (strcmp(arg, "2024") == 0)
			o->fps_layout = SHMG_FPS_2024;
		else if (strcmp(arg, "new") == 0)
			o->fps_layout = SHMG_FPS_NEW;
		else {
			cli_usage_error(cmd, "--fps-layout takes 2024 or new, not '%s'", arg);
			return -1;
		}
		return 1;
	}
	if (strcmp(opt, "--wflag") == 0) {
		int n = parse_list(arg, v, 2, 3);
		if (n < 0 || o->n_wflag == SEG_MAX_GUARDS) {
			cli_usage_error(cmd, "--wflag takes MARK,COUNTER[,OWNER] (byte offsets), not '%s'", arg);
			return -1;
		}
		o->wflag[o->n_wflag].mark = v[0];
		o->wflag[o->n_wflag].counter = v[1];
		o->wflag[o->n_wflag].owner = n == 3 ? v[2] : SHMG_WFLAG_NONE;
		o->n_wflag++;
		return 1;
	}
	int n = parse_list(arg, v, 1, 2);
	if (n < 0 || (n == 2 && v[1] != 4 && v[1] != 8) || o->n_xlock == SEG_MAX_GUARDS) {
		cli_usage_error(cmd, "--xlock takes OFFSET[,WIDTH] with WIDTH 4 or 8, not '%s'", arg);
		return -1;
	}
	o->xlock[o->n_xlock].offset = v[0];
	o->xlock[o->n_xlock].width = n == 2 ? (unsigned)v[1] : 8;
	o->n_xlock++;
	return 1;
}

/* One line for a failed open, in words a user can act on. */
static int open_error(const char *path, int err)
{
	switch (err) {
	case -ELOOP:
		return cli_error("%s: is a symbolic link; not followed (use --follow to accept it)", path);
	case -EINVAL:
		return cli_error("%s: not a regular file", path);
	case SHMG_ELAYOUT:
		return cli_error("%s: empty, or too large to map", path);
	default:
		return cli_error("%s: %s", path, shmg_strerror(err));
	}
}

static int open_generic(struct segment *s, const struct seg_options *o, unsigned flags)
{
	int err = shmg_region_open(&s->region, s->path, flags);
	if (err)
		return open_error(s->path, err);
	for (unsigned i = 0; i < o->n_wflag; i++) {
		struct shmg_wflag_place p = {
			.mark = o->wflag[i].mark, .counter = o->wflag[i].counter,
			.waiters = SHMG_WFLAG_NONE, .owner = o->wflag[i].owner,
		};
		if ((err = shmg_wflag_init(&s->wflag[i], &s->region, &p)) != 0) {
			shmg_region_close(&s->region);
			return cli_error("%s: --wflag %zu,%zu: %s (the file has %zu bytes)", s->path,
					 p.mark, p.counter,
					 err == -EFAULT ? "misaligned (the counter needs 8-byte alignment, the owner 4)"
					 : err == -ERANGE ? "outside the file"
					 : "the words overlap",
					 s->region.size);
		}
	}
	for (unsigned i = 0; i < o->n_xlock; i++) {
		err = shmg_xlock_init(&s->xlock[i], &s->region, o->xlock[i].offset, o->xlock[i].width);
		if (err) {
			shmg_region_close(&s->region);
			return cli_error("%s: --xlock %zu,%u: %s (the file has %zu bytes)", s->path,
					 o->xlock[i].offset, o->xlock[i].width,
					 err == -ERANGE ? "outside the file" : "misaligned",
					 s->region.size);
		}
	}
	s->n_wflag = o->n_wflag;
	s->n_xlock = o->n_xlock;
	s->kind = SEG_GENERIC;
	return 0;
}

/* The version string of an ImageStreamIO file: "d.dd" NUL-terminated. */
static bool looks_like_isio(const unsigned char *head, size_t size, char *version)
{
	if (size < 384)
		return false;
	for (int i = 0; i < 32 && head[i]; i++)
		if (!isdigit(head[i]) && head[i] != '.')
			return false;
	if (!memchr(head, 0, 32) || !isdigit(head[0]) || head[1] != '.')
		return false;
	strcpy(version, (const char *)head);
	return true;
}

int seg_open(struct segment *s, const char *path, const struct seg_options *o)
{
	unsigned flags = (o->writable ? 0 : SHMG_REGION_RDONLY) |
			 (o->follow ? SHMG_REGION_FOLLOW : 0);
	char version[32];
	int err;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if (o->n_wflag || o->n_xlock)
		return open_generic(s, o, flags);

	/* Look first, then open with the client that owns the format: each
	 * client validates every field it relies on. */
	struct shmg_region r;
	if ((err = shmg_region_open(&r, path, flags)) != 0)
		return open_error(path, err);
	size_t size = r.size;
	bool isio = looks_like_isio(r.base, size, version);
	shmg_region_close(&r);

	if (isio) {
		if (strcmp(version, SHMG_ISIO_VERSION) != 0)
			return cli_error("%s: an ImageStreamIO stream of version %s; only %s is understood",
					 path, version, SHMG_ISIO_VERSION);
		if ((err = shmg_isio_open(&s->isio, path, flags)) == SHMG_ELAYOUT)
			return cli_error("%s: a damaged ImageStreamIO %s stream: its metadata does not match its size (%zu bytes)",
					 path, version, size);
		if (err)
			return open_error(path, err);
		s->kind = SEG_ISIO;
		return 0;
	}
	if (size == SHMG_PINFO_SIZE_2024 || size == SHMG_PINFO_SIZE_NEW) {
		if ((err = shmg_pinfo_open(&s->pinfo, path, flags)) != 0)
			return open_error(path, err);
		s->kind = SEG_PINFO;
		return 0;
	}
	struct shmg_fps_opts fo = {.layout = o->fps_layout, .signal_offset = SHMG_FPS_NO_SIGNAL};
	err = shmg_fps_open(&s->fps, path, flags, &fo);
	if (err == 0) {
		s->kind = SEG_FPS;
		return 0;
	}
	if (err != SHMG_ELAYOUT)
		return open_error(path, err);
	if (o->fps_layout == SHMG_FPS_AUTO) {
		struct shmg_fps_opts one = {.layout = SHMG_FPS_2024, .signal_offset = SHMG_FPS_NO_SIGNAL};
		struct shmg_fps probe;
		if (shmg_fps_open(&probe, path, flags, &one) == 0) {
			bool both = size > SHMG_FPS_HEADER_NEW &&
				    (size - SHMG_FPS_HEADER_NEW) % SHMG_FPS_RECORD_NEW == 0;
			shmg_fps_close(&probe);
			if (both)
				return cli_error("%s: %zu bytes fit both milk FPS layouts; name one with --fps-layout 2024|new",
						 path, size);
		}
	}
	return cli_error("%s: not recognised (%zu bytes): not an ImageStreamIO %s stream, a milk PINFO "
			 "or FPS file; place its guards with --wflag or --xlock", path, size,
			 SHMG_ISIO_VERSION);
}

void seg_close(struct segment *s)
{
	switch (s->kind) {
	case SEG_ISIO: shmg_isio_close(&s->isio); break;
	case SEG_PINFO: shmg_pinfo_close(&s->pinfo); break;
	case SEG_FPS: shmg_fps_close(&s->fps); break;
	case SEG_GENERIC: shmg_region_close(&s->region); break;
	}
}
