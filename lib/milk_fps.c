/*
 * milk FPS files: recognised by size and NBparamMAX; create, open, close.
 * Parameters are in lib/milk_fps_param.c. See include/shmguard/milk.h and
 * doc/milk.md.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/milk.h>

#include "detail.h"
#include "milk_internal.h"
#include "shmdir.h"
#include "sized.h"

SHMG_EXPORT int shmg_fps_path(char *buf, size_t len, const char *name)
{
	if (!buf || !name || !*name || strchr(name, '/'))
		return shmg__fail(-EINVAL, "an FPS name without '/' expected");
	int n = snprintf(buf, len, "%s/%s.fps.shm", shmg__shm_dir(), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct fps_shape {
	size_t header, record, signal, nbparam;
};

static const struct fps_shape shapes[] = {
	[SHMG_FPS_2024] = {SHMG_FPS_HEADER_2024, SHMG_FPS_RECORD_2024, FPS_SIGNAL_2024,
			   FPS_NBPARAM_2024},
	[SHMG_FPS_NEW] = {SHMG_FPS_HEADER_NEW, SHMG_FPS_RECORD_NEW, FPS_SIGNAL_NEW,
			  FPS_NBPARAM_NEW},
};

/* Does a file of `size` bytes fit this layout with n >= 1 records? */
static bool fits(enum shmg_fps_layout layout, size_t size, unsigned *n)
{
	const struct fps_shape *s = &shapes[layout];
	if (size <= s->header || (size - s->header) % s->record != 0 ||
	    (size - s->header) / s->record > UINT32_MAX)
		return false;
	*n = (unsigned)((size - s->header) / s->record);
	return true;
}

/* Does the header's NBparamMAX, at this layout's offset, say n? */
static bool nbparam_says(const struct shmg_region *r, enum shmg_fps_layout layout, unsigned n)
{
	const int64_t *w = (const int64_t *)(const void *)(r->base + shapes[layout].nbparam);
	return shmg_atomic_load(w, relaxed) == (int64_t)n;
}

/* The layout: the one requested, else the one the size fits, else (a
 * size that fits both) the one whose NBparamMAX counts its records. */
static int choose_layout(const struct shmg_region *r, enum shmg_fps_layout want,
			 enum shmg_fps_layout *layout, unsigned *n)
{
	unsigned n2024 = 0, nnew = 0;
	bool a = fits(SHMG_FPS_2024, r->size, &n2024), b = fits(SHMG_FPS_NEW, r->size, &nnew);
	if (want == SHMG_FPS_AUTO && !a && !b)
		return shmg__fail(SHMG_ELAYOUT, "%zu bytes: not a header of %d or %d bytes and "
				  "whole parameter records", r->size, SHMG_FPS_HEADER_2024,
				  SHMG_FPS_HEADER_NEW);
	if (want == SHMG_FPS_AUTO && a && b) {
		bool x = nbparam_says(r, SHMG_FPS_2024, n2024), y = nbparam_says(r, SHMG_FPS_NEW, nnew);
		if (x == y)
			return shmg__fail(SHMG_ELAYOUT, "%zu bytes fit both FPS layouts (%u records "
					  "of 2024, %u newer) and NBparamMAX does not tell them "
					  "apart", r->size, n2024, nnew);
		want = x ? SHMG_FPS_2024 : SHMG_FPS_NEW;
	} else if (want == SHMG_FPS_AUTO) {
		want = a ? SHMG_FPS_2024 : SHMG_FPS_NEW;
	}
	if ((want == SHMG_FPS_2024 && !a) || (want == SHMG_FPS_NEW && !b))
		return shmg__fail(SHMG_ELAYOUT, "%zu bytes do not fit the %s FPS layout", r->size,
				  want == SHMG_FPS_2024 ? "2024" : "newer");
	*layout = want;
	*n = want == SHMG_FPS_2024 ? n2024 : nnew;
	return 0;
}

/* The handle over an opened or created region (which it then owns). */
static int attach(struct shmg_fps **out, struct shmg_region *r, enum shmg_fps_layout want)
{
	struct shmg_fps *f = calloc(1, sizeof(*f));
	int err = f ? 0 : -ENOMEM;
	if (!err && want != SHMG_FPS_AUTO && want != SHMG_FPS_2024 && want != SHMG_FPS_NEW)
		err = shmg__fail(-EINVAL, "layout %d: SHMG_FPS_AUTO, _2024 or _NEW expected", want);
	if (!err)
		err = choose_layout(r, want, &f->layout, &f->nparam);
	if (err) {
		free(f);
		shmg_region_close(r);
		return err;
	}
	f->region = r;
	f->header = shapes[f->layout].header;
	f->record = shapes[f->layout].record;
	f->signal = (uint64_t *)(void *)(r->base + shapes[f->layout].signal);
	*out = f;
	return 0;
}

SHMG_EXPORT int shmg_fps_open(struct shmg_fps **f, const char *path,
			      unsigned flags, const struct shmg_fps_opts *opts)
{
	struct shmg_fps_opts own = {.size = sizeof(own)};
	struct shmg_region *r;
	if (!f)
		return -EINVAL;
	*f = NULL;
	int err = opts ? SHMG__SIZED_IN(&own, opts, struct shmg_fps_opts) : 0;
	if (!err)
		err = shmg_region_open(&r, path, flags);
	return err ? err : attach(f, r, (enum shmg_fps_layout)own.layout);
}

/* milk's own creation leaves the parameter array zeroed (every lock word
 * unlocked), with the name and NBparamMAX in the header. */
static int init_fps(void *base, size_t size, int fd, void *arg)
{
	const struct shmg_fps_params *p = arg;
	(void)size;
	(void)fd;
	if (p->name)
		strlcpy((char *)base + FPS_NAME, p->name, SHMG_FPS_NAME_MAX);
	*(int64_t *)(void *)((char *)base + shapes[p->layout].nbparam) = p->nparam;
	return 0;
}

SHMG_EXPORT int shmg_fps_create(struct shmg_fps **f, const char *path,
				const struct shmg_fps_params *what,
				mode_t mode, unsigned flags)
{
	struct shmg_fps_params own;
	struct shmg_region *r;
	size_t size;
	if (!f)
		return -EINVAL;
	*f = NULL;
	int err = SHMG__SIZED_IN(&own, what, struct shmg_fps_params);
	if (err)
		return err;
	if (own.layout != SHMG_FPS_2024 && own.layout != SHMG_FPS_NEW)
		return shmg__fail(-EINVAL, "layout %u: SHMG_FPS_2024 or SHMG_FPS_NEW expected",
				  own.layout);
	if (own.nparam == 0 || (own.name && strlen(own.name) >= SHMG_FPS_NAME_MAX))
		return shmg__fail(-EINVAL, "at least one parameter and a name of at most %d "
				  "bytes expected", SHMG_FPS_NAME_MAX - 1);
	const struct fps_shape *s = &shapes[own.layout];
	if (__builtin_mul_overflow((size_t)own.nparam, s->record, &size) ||
	    __builtin_add_overflow(size, s->header, &size))
		return shmg__fail(-EOVERFLOW, "%u parameters do not fit in memory", own.nparam);
	err = shmg_region_create(&r, path, size, mode, flags, init_fps, &own);
	return err ? err : attach(f, r, (enum shmg_fps_layout)own.layout);
}

SHMG_EXPORT void shmg_fps_close(struct shmg_fps *f)
{
	if (!f)
		return;
	shmg_region_close(f->region);
	free(f);
}

SHMG_EXPORT const struct shmg_region *shmg_fps_region(const struct shmg_fps *f)
{
	return f->region;
}
