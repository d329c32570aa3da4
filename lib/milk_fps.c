/*
 * milk FPS files: recognised by size, one lock per parameter in its
 * userflag word. See include/shmguard/milk.h and doc/milk.md.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/milk.h>

#include "milk_internal.h"

static unsigned char *record(const struct shmg_fps *f, unsigned i)
{
	return f->region.base + f->header + (size_t)i * f->record;
}

static int64_t *cnt0(const struct shmg_fps *f, unsigned i)
{
	return (int64_t *)(void *)(record(f, i) + FPS_CNT0);
}

SHMG_EXPORT int shmg_fps_path(char *buf, size_t len, const char *name)
{
	if (!buf || !name || !*name || strchr(name, '/'))
		return -EINVAL;
	int n = snprintf(buf, len, "%s/%s.fps.shm", shmg__milk_shm_dir(), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void sizes_of(enum shmg_fps_layout layout, size_t *header, size_t *record)
{
	*header = layout == SHMG_FPS_2024 ? SHMG_FPS_HEADER_2024 : SHMG_FPS_HEADER_NEW;
	*record = layout == SHMG_FPS_2024 ? SHMG_FPS_RECORD_2024 : SHMG_FPS_RECORD_NEW;
}

/* Does a file of `size` bytes fit this layout with n >= 1 records? */
static bool fits(enum shmg_fps_layout layout, size_t size, unsigned *n)
{
	size_t header, rec;
	sizes_of(layout, &header, &rec);
	if (size <= header || (size - header) % rec != 0 ||
	    (size - header) / rec > UINT32_MAX)
		return false;
	*n = (unsigned)((size - header) / rec);
	return true;
}

static int attach(struct shmg_fps *f, const struct shmg_fps_opts *opts)
{
	enum shmg_fps_layout want = opts ? opts->layout : SHMG_FPS_AUTO;
	size_t signal = opts ? opts->signal_offset : SHMG_FPS_NO_SIGNAL;
	unsigned n2024 = 0, nnew = 0;
	bool a = fits(SHMG_FPS_2024, f->region.size, &n2024);
	bool b = fits(SHMG_FPS_NEW, f->region.size, &nnew);

	if (want == SHMG_FPS_AUTO) {
		if (a == b) /* neither, or ambiguous: refuse to guess */
			return SHMG_ELAYOUT;
		want = a ? SHMG_FPS_2024 : SHMG_FPS_NEW;
	}
	if ((want == SHMG_FPS_2024 && !a) || (want == SHMG_FPS_NEW && !b))
		return SHMG_ELAYOUT;
	f->layout = want;
	f->nparam = want == SHMG_FPS_2024 ? n2024 : nnew;
	sizes_of(want, &f->header, &f->record);
	f->signal = NULL;
	if (signal != SHMG_FPS_NO_SIGNAL) {
		void *at;
		if (signal + 8 > f->header)
			return -EINVAL; /* the signal word is in the header */
		int err = shmg_region_at(&f->region, signal, 8, &at);
		if (err)
			return err == -EFAULT ? -EINVAL : err;
		f->signal = at;
	}
	return 0;
}

SHMG_EXPORT int shmg_fps_open(struct shmg_fps *f, const char *path,
			      unsigned flags, const struct shmg_fps_opts *opts)
{
	if (!f || !path)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->region.fd = -1;
	int err = shmg_region_open(&f->region, path, flags);
	if (!err && (err = attach(f, opts)) != 0)
		shmg_region_close(&f->region);
	return err;
}

SHMG_EXPORT int shmg_fps_create(struct shmg_fps *f, const char *path,
				enum shmg_fps_layout layout, unsigned n,
				const struct shmg_fps_opts *opts, mode_t mode)
{
	size_t header, rec, size;
	if (!f || !path || n == 0 || (layout != SHMG_FPS_2024 && layout != SHMG_FPS_NEW))
		return -EINVAL;
	sizes_of(layout, &header, &rec);
	if (__builtin_mul_overflow((size_t)n, rec, &size) ||
	    __builtin_add_overflow(size, header, &size))
		return -EOVERFLOW;
	memset(f, 0, sizeof(*f));
	f->region.fd = -1;
	/* milk's own creation leaves the parameter array zeroed: so does a
	 * new file (every lock word unlocked). */
	int err = shmg_region_create(&f->region, path, size, mode, 0, NULL, NULL);
	if (err)
		return err;
	struct shmg_fps_opts o = opts ? *opts : (struct shmg_fps_opts){SHMG_FPS_AUTO, SHMG_FPS_NO_SIGNAL};
	o.layout = layout;
	if ((err = attach(f, &o)) != 0)
		shmg_region_close(&f->region);
	return err;
}

SHMG_EXPORT void shmg_fps_close(struct shmg_fps *f)
{
	if (f)
		shmg_region_close(&f->region);
}

SHMG_EXPORT int shmg_fps_param_lock(const struct shmg_fps *f, unsigned i,
				    struct shmg_xlock *l)
{
	if (i >= f->nparam)
		return -ERANGE;
	return shmg_xlock_init(l, &f->region, f->header + (size_t)i * f->record + FPS_USERFLAG, 8);
}

/* Under parameter i's lock: cnt0 + 1, then UPDATE in the header. */
static void commit(struct shmg_fps *f, unsigned i, int64_t *cnt)
{
	/* relaxed: the lock orders it for lockers; the atomic store keeps
	 * lock-free monitors from seeing a torn count. */
	int64_t c = shmg_atomic_load(cnt0(f, i), relaxed) + 1;
	shmg_atomic_store(cnt0(f, i), c, relaxed);
	if (f->signal)
		shmg_atomic_or(f->signal, SHMG_FPS_UPDATE, release);
	if (cnt)
		*cnt = c;
}

SHMG_EXPORT int shmg_fps_set_locked(struct shmg_fps *f, unsigned i,
				    const void *val, size_t len, int64_t *cnt)
{
	if (i >= f->nparam)
		return -ERANGE;
	if ((!val && len) || len > SHMG_FPS_VAL_MAX)
		return -EINVAL;
	memcpy(record(f, i) + FPS_VAL, val, len);
	commit(f, i, cnt);
	return 0;
}

static int with_lock(struct shmg_fps *f, unsigned i, struct shmg_xlock *l)
{
	int err = shmg_fps_param_lock(f, i, l);
	if (err)
		return err;
	/* A dead setter's value may be half written; the value union has no
	 * invariant we could restore, so it stands (the caller is told). */
	return shmg__milk_lock(l, NULL, NULL);
}

SHMG_EXPORT int shmg_fps_recover(struct shmg_fps *f, unsigned i)
{
	struct shmg_xlock l;
	int err = shmg_fps_param_lock(f, i, &l);
	return err ? err : shmg__milk_recover(&l, NULL, NULL);
}

SHMG_EXPORT int shmg_fps_set(struct shmg_fps *f, unsigned i, const void *val,
			     size_t len, int64_t *cnt)
{
	struct shmg_xlock l;
	if ((!val && len) || len > SHMG_FPS_VAL_MAX)
		return -EINVAL;
	int got = with_lock(f, i, &l);
	if (got < 0)
		return got;
	shmg_fps_set_locked(f, i, val, len, cnt);
	shmg_xlock_unlock(&l);
	return got;
}

SHMG_EXPORT int shmg_fps_get(struct shmg_fps *f, unsigned i, void *val,
			     size_t len, int64_t *cnt)
{
	struct shmg_xlock l;
	if ((!val && len) || len > SHMG_FPS_VAL_MAX)
		return -EINVAL;
	int got = with_lock(f, i, &l);
	if (got < 0)
		return got;
	memcpy(val, record(f, i) + FPS_VAL, len);
	if (cnt)
		*cnt = shmg_atomic_load(cnt0(f, i), relaxed);
	shmg_xlock_unlock(&l);
	return got;
}

SHMG_EXPORT int shmg_fps_set_int64(struct shmg_fps *f, unsigned i, int64_t v)
{
	return shmg_fps_set(f, i, &v, sizeof(v), NULL);
}

SHMG_EXPORT int shmg_fps_set_double(struct shmg_fps *f, unsigned i, double v)
{
	return shmg_fps_set(f, i, &v, sizeof(v), NULL);
}

SHMG_EXPORT int shmg_fps_set_string(struct shmg_fps *f, unsigned i,
				    const char *s)
{
	char buf[SHMG_FPS_VAL_MAX] = {0};
	if (!s)
		return -EINVAL;
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -ENAMETOOLONG;
	return shmg_fps_set(f, i, buf, sizeof(buf), NULL);
}

SHMG_EXPORT int shmg_fps_update(struct shmg_fps *f, unsigned i,
				int (*fn)(void *value, void *arg), void *arg,
				int64_t *cnt)
{
	struct shmg_xlock l;
	if (!fn)
		return -EINVAL;
	int got = with_lock(f, i, &l);
	if (got < 0)
		return got;
	int changed = fn(record(f, i) + FPS_VAL, arg);
	if (changed > 0)
		commit(f, i, cnt);
	else if (cnt)
		*cnt = shmg_atomic_load(cnt0(f, i), relaxed);
	shmg_xlock_unlock(&l);
	return changed < 0 ? changed : got;
}

SHMG_EXPORT uint64_t shmg_fps_flags(struct shmg_fps *f, unsigned i,
				    uint64_t set, uint64_t clear)
{
	uint64_t ov, nv;
	if (i >= f->nparam)
		return 0;
	uint64_t *flags = (uint64_t *)(void *)(record(f, i) + FPS_FPFLAG);
	shmg_atomic_rmw_loop(flags, ov, nv, acq_rel, { nv = (ov | set) & ~clear; });
	return nv;
}

SHMG_EXPORT int shmg_fps_lock_all(struct shmg_fps *f)
{
	int result = 0;
	for (unsigned i = 0; i < f->nparam; i++) {
		struct shmg_xlock l;
		int got = with_lock(f, i, &l);
		if (got < 0) {
			/* give back what we hold, highest first */
			while (i-- > 0) {
				shmg_fps_param_lock(f, i, &l);
				shmg_xlock_unlock(&l);
			}
			return got;
		}
		result |= got;
	}
	return result;
}

SHMG_EXPORT void shmg_fps_unlock_all(struct shmg_fps *f)
{
	for (unsigned i = f->nparam; i-- > 0;) {
		struct shmg_xlock l;
		shmg_fps_param_lock(f, i, &l);
		shmg_xlock_unlock(&l);
	}
}
