/*
 * milk FPS parameters: one lock per parameter in its userflag word; sets
 * that count cnt0 exactly once and raise UPDATE; the whole-FPS section;
 * what monitors see and recovery. See include/shmguard/milk.h and
 * doc/milk.md.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/memcpy.h>
#include <shmguard/milk.h>

#include "detail.h"
#include "milk_internal.h"
#include "recover.h"
#include "sized.h"
#include "text.h"

static int check_index(const struct shmg_fps *f, unsigned i)
{
	if (i >= f->nparam)
		return shmg__fail(-ERANGE, "parameter %u: the FPS has %u", i, f->nparam);
	return 0;
}

SHMG_EXPORT int shmg_fps_param_lock(const struct shmg_fps *f, unsigned i,
				    struct shmg_xlock *l)
{
	int err = check_index(f, i);
	return err ? err : shmg_xlock_init(l, f->region, f->header + (size_t)i * f->record +
					   FPS_USERFLAG, 8);
}

SHMG_EXPORT int shmg_fps_find(const struct shmg_fps *f, const char *name, unsigned *index)
{
	char key[SHMG_FPS_KEYWORD_MAX];
	if (!name || !*name)
		return shmg__fail(-EINVAL, "no parameter name");
	for (unsigned i = 0; i < f->nparam; i++) {
		shmg_atomic_load_memcpy(key, fps_record(f, i) + FPS_KEYWORDFULL, sizeof(key), relaxed);
		key[sizeof(key) - 1] = 0;
		if (strcmp(key, name) == 0 || (key[0] == '.' && strcmp(key + 1, name) == 0)) {
			*index = i;
			return 0;
		}
	}
	return shmg__fail(-ENOENT, "no parameter named '%s'", name);
}

/* Under parameter i's lock, before anything changes: can cnt0 count one
 * more set? (The segment supplies it: a value at its maximum must not
 * overflow.) */
static int room(const struct shmg_fps *f, unsigned i)
{
	if (shmg_atomic_load(fps_cnt0(f, i), relaxed) == INT64_MAX)
		return shmg__fail(-EOVERFLOW, "parameter %u's cnt0 is at its maximum", i);
	return 0;
}

/* Under parameter i's lock, after room() and write_value(): cnt0 + 1, then
 * UPDATE in the header. */
static void commit(struct shmg_fps *f, unsigned i, int64_t *cnt)
{
	/* release: the value's stores before the new count. A real-time
	 * reader that reads this count (an acquire load) then copies this
	 * value or a later set's, never a byte of an earlier one: with a
	 * relaxed store, aarch64, POWER and RISC-V may make the count visible
	 * before the value, and the reader accepts half of each
	 * (lib/milk_fps_rt.c; tests/spin/fps_rt.pml, mutant RELAXED_CNT;
	 * tests/codegen-fps-aarch64.sh). */
	int64_t c = shmg_atomic_load(fps_cnt0(f, i), relaxed) + 1;
	shmg_atomic_store(fps_cnt0(f, i), c, release);
	shmg_atomic_or(f->signal, SHMG_FPS_UPDATE, release);
	if (cnt)
		*cnt = c;
}

/*
 * Under parameter i's lock: store the value where real-time readers may be
 * copying it without the lock (shmg_fps_read_rt, lib/milk_fps_rt.c). A
 * release fence first, then byte-wise atomic stores: a reader whose copy
 * saw any byte of this value then sees the lock word held, or cnt0 moved
 * (fence-fence synchronization: the seqlock writer's rule, rules.md,
 * rule 3; doc/milk.md, "Real-time reads"). commit()'s release store of
 * cnt0 orders these stores before the new count.
 */
static void write_value(struct shmg_fps *f, unsigned i, const void *val, size_t len)
{
	shmg_atomic_thread_fence(release);
	shmg_atomic_store_memcpy(fps_record(f, i) + FPS_VAL, val, len, relaxed);
}

static int check_value(const struct shmg_fps *f, unsigned i, const void *val, size_t len)
{
	if ((!val && len) || len > SHMG_FPS_VAL_MAX)
		return shmg__fail(-EINVAL, "a value of at most %d bytes expected", SHMG_FPS_VAL_MAX);
	return check_index(f, i);
}

SHMG_EXPORT int shmg_fps_set_locked(struct shmg_fps *f, unsigned i,
				    const void *val, size_t len, int64_t *cnt)
{
	int err = check_value(f, i, val, len);
	if (!err)
		err = room(f, i);
	if (err)
		return err;
	write_value(f, i, val, len);
	commit(f, i, cnt);
	return 0;
}

static int with_lock(const struct shmg_fps *f, unsigned i, struct shmg_xlock *l,
		     const struct timespec *deadline)
{
	int err = shmg_fps_param_lock(f, i, l);
	if (err)
		return err;
	/* A dead setter's value may be half written; the value union has no
	 * invariant we could restore, so it stands (the caller is told). */
	return shmg__milk_lock(l, NULL, NULL, deadline);
}

SHMG_EXPORT int shmg_fps_set(struct shmg_fps *f, unsigned i, const void *val,
			     size_t len, int64_t *cnt, const struct timespec *deadline)
{
	struct shmg_xlock l;
	int err = check_value(f, i, val, len);
	if (err)
		return err;
	int got = with_lock(f, i, &l, deadline);
	if (got < 0)
		return got;
	err = shmg_fps_set_locked(f, i, val, len, cnt);
	shmg_xlock_unlock(&l);
	return milk_result(f->region, err ? err : got);
}

SHMG_EXPORT int shmg_fps_get(const struct shmg_fps *f, unsigned i, void *val,
			     size_t len, int64_t *cnt, const struct timespec *deadline)
{
	struct shmg_xlock l;
	int err = check_value(f, i, val, len);
	if (err)
		return err;
	int got = with_lock(f, i, &l, deadline);
	if (got < 0)
		return got;
	memcpy(val, fps_record(f, i) + FPS_VAL, len);
	if (cnt)
		*cnt = shmg_atomic_load(fps_cnt0(f, i), relaxed);
	shmg_xlock_unlock(&l);
	return milk_result(f->region, got);
}

SHMG_EXPORT int shmg_fps_set_int64(struct shmg_fps *f, unsigned i, int64_t v,
				   const struct timespec *deadline)
{
	return shmg_fps_set(f, i, &v, sizeof(v), NULL, deadline);
}

SHMG_EXPORT int shmg_fps_set_double(struct shmg_fps *f, unsigned i, double v,
				    const struct timespec *deadline)
{
	return shmg_fps_set(f, i, &v, sizeof(v), NULL, deadline);
}

SHMG_EXPORT int shmg_fps_set_string(struct shmg_fps *f, unsigned i, const char *s,
				    const struct timespec *deadline)
{
	char buf[SHMG_FPS_STRING_MAX] = {0};
	if (!s)
		return shmg__fail(-EINVAL, "no string");
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return shmg__fail(-ENAMETOOLONG, "a string of %zu bytes; at most %d fit milk's "
				  "string slot", strlen(s), SHMG_FPS_STRING_MAX - 1);
	return shmg_fps_set(f, i, buf, sizeof(buf), NULL, deadline);
}

SHMG_EXPORT int shmg_fps_update(struct shmg_fps *f, unsigned i,
				int (*fn)(void *value, void *arg), void *arg,
				int64_t *cnt, const struct timespec *deadline)
{
	struct shmg_xlock l;
	if (!fn)
		return shmg__fail(-EINVAL, "no update function");
	int got = with_lock(f, i, &l, deadline);
	if (got < 0)
		return got;
	/* fn works on a copy, so that real-time readers never race with the
	 * caller's own stores; the copy goes back as a set does. */
	unsigned char v[SHMG_FPS_VAL_MAX];
	memcpy(v, fps_record(f, i) + FPS_VAL, sizeof(v));
	int changed = 0, err = room(f, i);
	if (!err && (changed = fn(v, arg)) > 0) {
		write_value(f, i, v, sizeof(v));
		commit(f, i, cnt);
	} else if (!err && cnt) {
		*cnt = shmg_atomic_load(fps_cnt0(f, i), relaxed);
	}
	shmg_xlock_unlock(&l);
	return milk_result(f->region, err ? err : changed < 0 ? changed : got);
}

SHMG_EXPORT int shmg_fps_flags(struct shmg_fps *f, unsigned i, uint64_t set,
			       uint64_t clear, uint64_t *out)
{
	uint64_t ov, nv;
	int err = check_index(f, i);
	if (err)
		return err;
	uint64_t *flags = (uint64_t *)(void *)(fps_record(f, i) + FPS_FPFLAG);
	shmg_atomic_rmw_loop(flags, ov, nv, acq_rel, { nv = (ov | set) & ~clear; });
	if (out)
		*out = nv;
	return milk_result(f->region, 0);
}

SHMG_EXPORT int shmg_fps_lock_all(struct shmg_fps *f, const struct timespec *deadline)
{
	int result = 0;
	for (unsigned i = 0; i < f->nparam; i++) {
		struct shmg_xlock l;
		int got = with_lock(f, i, &l, deadline);
		if (got < 0) {
			/* give back what we hold, highest first */
			while (i-- > 0) {
				shmg_fps_param_lock(f, i, &l);
				shmg_xlock_unlock(&l);
			}
			return got;
		}
		if (got == SHMG_OWNERDEAD)
			result = SHMG_OWNERDEAD;
	}
	return result;
}

SHMG_EXPORT int shmg_fps_unlock_all(struct shmg_fps *f)
{
	int result = 0;
	for (unsigned i = f->nparam; i-- > 0;) {
		struct shmg_xlock l;
		shmg_fps_param_lock(f, i, &l);
		int err = shmg_xlock_unlock(&l);
		if (err && !result)
			result = err;
	}
	return result;
}

SHMG_EXPORT int shmg_fps_inspect(const struct shmg_fps *f, struct shmg_fps_info *info)
{
	struct shmg_fps_info own;

	memset(&own, 0, sizeof(own));
	own.layout = f->layout;
	own.nparam = f->nparam;
	shmg__copy_text(own.name, f->region->base + FPS_NAME, sizeof(own.name));
	own.signal = shmg_atomic_load(f->signal, relaxed);
	for (unsigned i = 0; i < f->nparam; i++)
		own.cnt_sum += (uint64_t)shmg_atomic_load(fps_cnt0(f, i), relaxed);
	int err = milk_result(f->region, 0);
	return err ? err : SHMG__SIZED_OUT(info, &own, struct shmg_fps_info);
}

SHMG_EXPORT int shmg_fps_inspect_param(const struct shmg_fps *f, unsigned i,
				       struct shmg_fps_param_info *info)
{
	struct shmg_fps_param_info own;
	int err = check_index(f, i);
	if (err)
		return err;
	const unsigned char *rec = fps_record(f, i);
	memset(&own, 0, sizeof(own));
	own.type = shmg_atomic_load((const uint32_t *)(const void *)(rec + FPS_TYPE), relaxed);
	own.fpflag = shmg_atomic_load((const uint64_t *)(const void *)(rec + FPS_FPFLAG), relaxed);
	own.cnt0 = shmg_atomic_load(fps_cnt0(f, i), relaxed);
	shmg__copy_text(own.keyword, rec + FPS_KEYWORDFULL, SHMG_FPS_KEYWORD_MAX);
	shmg_atomic_load_memcpy(own.value, rec + FPS_VAL, sizeof(own.value), relaxed);
	own.lock_offset = f->header + (size_t)i * f->record + FPS_USERFLAG;
	if ((err = milk_result(f->region, 0)) != 0)
		return err;
	return SHMG__SIZED_OUT(info, &own, struct shmg_fps_param_info);
}

SHMG_EXPORT int shmg_fps_recover(struct shmg_fps *f, const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	/* A failure (not a lock left alone) stops the walk: the locks after
	 * it are left as they were. */
	for (unsigned i = 0; i < f->nparam && !rc.failed; i++) {
		struct shmg_xlock l;
		char what[40];
		shmg_fps_param_lock(f, i, &l);
		snprintf(what, sizeof(what), "parameter %u's lock", i);
		shmg__milk_recover(&rc, &l, f->region->fd, NULL, NULL, what);
	}
	return rc.result;
}
