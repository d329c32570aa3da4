/* Opening and recognising segments for the tool (segment.h). */
#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kind.h"
#include "segment.h"

int seg_error(const char *path, int err)
{
	switch (err) {
	case -ELOOP:
		return cli_error("%s: is a symbolic link; not followed (use --follow to accept it)", path);
	case -EINVAL:
		return cli_error("%s: %s", path, strcmp(shmg_error_detail(err), shmg_strerror(err))
				 ? shmg_error_detail(err) : "not a regular file");
	default:
		return cli_error("%s: %s", path, shmg_error_detail(err));
	}
}

int seg_open(struct segment *s, const char *path, const struct seg_options *o)
{
	/* Truncation by another process must never kill the tool, on any of
	 * its threads: the library turns it into SHMG_ETRUNCATED. */
	unsigned flags = (o->writable ? 0 : SHMG_REGION_RDONLY) |
			 (o->follow ? SHMG_REGION_FOLLOW : 0) | SHMG_REGION_TRUNCATION;
	struct shmg_region *peek;
	int err;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if (o->n_wflag || o->n_xlock) {
		s->kind = &kind_generic;
		return s->kind->open(s, o, flags);
	}
	/* Look first, then open with the client that owns the format: each
	 * client validates every field it relies on. */
	if ((err = shmg_region_open(&peek, path, flags | SHMG_REGION_RDONLY)) != 0)
		return seg_error(path, err);
	int found = 0;
	for (const struct kind *const *k = seg_kinds; *k && !found; k++) {
		found = (*k)->recognise ? (*k)->recognise(peek, o, path) : 0;
		if (found > 0)
			s->kind = *k;
	}
	size_t size = shmg_region_size(peek);
	shmg_region_close(peek);
	if (found < 0)
		return CLI_ERROR;
	if (!found)
		return cli_error("%s: not recognised (%zu bytes): not an ImageStreamIO %s stream, a milk "
				 "PINFO or FPS file; place its guards with --wflag or --xlock", path, size,
				 SHMG_ISIO_VERSION);
	return s->kind->open(s, o, flags);
}

void seg_close(struct segment *s)
{
	if (s->kind)
		s->kind->close(s);
	s->kind = NULL;
}

const struct shmg_region *seg_region(const struct segment *s)
{
	return s->kind->region(s);
}
