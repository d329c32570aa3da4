/*
 * ImageStreamIO streams: writing and reading frames through the guard.
 * See include/shmguard/isio.h and doc/imagestreamio.md.
 */
#include "config.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/memcpy.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "testing.h"
#include "isio_layout.h"

/* A timespec field, stored as two relaxed words inside the frame. */
static void store_time(const struct shmg_isio *s, size_t off,
		       const struct timespec *t)
{
	shmg_atomic_store(isio_word64(s, off), (uint64_t)t->tv_sec, relaxed);
	shmg_atomic_store(isio_word64(s, off + 8), (uint64_t)t->tv_nsec, relaxed);
}

/* Why a handle may not write (the slow path of writer_check). */
static int not_owner(const struct shmg_wflag *g, int32_t owner)
{
	if (wflag_holds_claim(g))
		return shmg__fail(SHMG_ENOTOWNER, "this handle's claim was taken: ownerPID "
				  "holds %d", owner);
	if (owner == shmg__self_pid())
		return shmg__fail(SHMG_ENOTOWNER, "the stream is held by this process (PID %d) "
				  "through another handle; this one has not claimed it", owner);
	return shmg__fail(SHMG_ENOTOWNER, "this handle has not claimed the stream "
			  "(shmg_isio_claim); ownerPID holds %d", owner);
}

static int writer_check(const struct shmg_isio *s)
{
	if (!s->layout.has_data)
		return -ENOTSUP;
	/* Only the handle that claimed writes, in the process that claimed
	 * (a forked child's handle holds nothing, nor does another handle of
	 * the process: doc/imagestreamio.md). No syscall: the handle's note,
	 * the cached PID and one load of ownerPID, which a recovery may have
	 * taken from a writer it was told is dead. */
	const struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
	int32_t owner = shmg_atomic_load(s->guard.owner, relaxed);
	if (shmg__truncated(s->region))
		return SHMG_ETRUNCATED; /* the owner word read is a zero page's */
	if (SHMG__UNLIKELY(!wflag_holds_claim(g) || owner != g->claimed))
		return not_owner(g, owner);
	return 0;
}

/*
 * The frame's tail, inside the write flag: the circular-buffer copy and its
 * metadata (a 1-deep buffer is kept up to date for legacy readers too),
 * then the stream's times. `copy` is the latch copy begun, or NULL.
 */
static void finish_frame(struct shmg_isio *s, void *copy, const void *frame)
{
	const struct shmg_isio_layout *l = &s->layout;
	uint64_t next = shmg_atomic_load(s->guard.counter, relaxed) + 1;
	struct timespec now;
	size_t md = l->off_cbmd;

	clock_gettime(ISIO_CLOCK, &now);
	if (copy) {
		md += (size_t)s->latch.next * ISIO_CBMD_SIZE;
		shmg_atomic_store_memcpy(copy, frame, l->data_size, relaxed);
		if (s->latch.next == 0) /* wrapped around */
			shmg_atomic_store(isio_word64(s, ISIO_CBCYCLE),
					  shmg_atomic_load(isio_word64(s, ISIO_CBCYCLE), relaxed) + 1,
					  relaxed);
	} else if (l->cbsize == 1) {
		shmg_atomic_store_memcpy(isio_base(s) + l->off_cbdata, frame,
					 l->data_size, relaxed);
		/* No latch: its cnt0 is plain metadata here. The write index
		 * wraps to 0 at every frame: CBcycle counts them, as
		 * ImageStreamIO's does. */
		shmg_atomic_store(isio_word64(s, md), next, relaxed);
		shmg_atomic_store(isio_word64(s, ISIO_CBCYCLE),
				  shmg_atomic_load(isio_word64(s, ISIO_CBCYCLE), relaxed) + 1,
				  relaxed);
	}
	if (l->cbsize) {
		shmg_atomic_store(isio_word64(s, md + ISIO_CBMD_CNT1),
				  shmg_atomic_load(isio_word64(s, ISIO_CNT1), relaxed), relaxed);
		store_time(s, md + ISIO_CBMD_ATIME, &now);
		store_time(s, md + ISIO_CBMD_WRITETIME, &now);
	}
	store_time(s, ISIO_WRITETIME, &now);
	store_time(s, ISIO_ATIME, &now);
}

/* Publish (cnt0 + 1, write = 0, wake), then post the semaphores: a reader
 * woken by a post finds the new counter and a clear flag. */
static int publish(struct shmg_isio *s, struct shmg_wflag *g, uint64_t *cnt)
{
	uint64_t n = shmg_wflag_publish(g);
	if (SHMG__UNLIKELY(n == 0)) /* cnt0 set to its maximum since begin */
		return shmg__fail(-EOVERFLOW, "cnt0 is %llu, its maximum: the frame was not "
				  "published (recreate the stream)", (unsigned long long)UINT64_MAX);
	shmg__isio_post_all(s);
	if (cnt)
		*cnt = n;
	/* Truncated under us (SHMG_REGION_TRUNCATION): the frame went to
	 * zero pages, and nobody will read it. */
	return shmg__truncated(s->region) ? SHMG_ETRUNCATED : 0;
}

/* Begin a frame on g: with pinning readers, by the stream's pin policy
 * (shmg_isio_pin_policy). 0, -EAGAIN (dropped), -ETIMEDOUT, -EINTR,
 * -EOVERFLOW (cnt0 at its maximum). */
static int begin_frame(struct shmg_isio *s, struct shmg_wflag *g, void **copy)
{
	struct timespec deadline;
	const struct timespec *dl = NULL;
	/* cnt0 + 1 would wrap to 0, and a reader waiting for a frame after
	 * the last one (a circular-buffer read) would wait for ever: refused
	 * before anything changes, as a signed counter's INT64_MAX is. */
	if (SHMG__UNLIKELY(shmg_atomic_load(g->counter, relaxed) == UINT64_MAX))
		return shmg__fail(-EOVERFLOW, "cnt0 is %llu, its maximum: the next frame would "
				  "wrap it to 0 (recreate the stream)", (unsigned long long)UINT64_MAX);
	if (s->pin_wait_ns && shmg_deadline_in(&deadline, s->pin_wait_ns) == 0)
		dl = &deadline;
	return shmg_wflag_begin_timed(g, s->pin_full, dl, copy, NULL);
}

SHMG_EXPORT int shmg_isio_pin_policy(struct shmg_isio *s, unsigned full, uint64_t wait_ns)
{
	if (full > SHMG_WFLAG_FULL_REVOKE)
		return shmg__fail(-EINVAL, "full: %u is none of SHMG_WFLAG_FULL_WAIT, "
				  "SHMG_WFLAG_FULL_DROP and SHMG_WFLAG_FULL_REVOKE", full);
	s->pin_full = full;
	s->pin_wait_ns = wait_ns;
	return 0;
}

SHMG_EXPORT int shmg_isio_write(struct shmg_isio *s, const void *frame,
				size_t len, uint64_t *cnt)
{
	int err = writer_check(s);
	if (err)
		return err;
	if (len != s->layout.data_size || !frame)
		return shmg__fail(-EINVAL, "a frame of %zu bytes: the stream's frames have %zu",
				  len, s->layout.data_size);
	struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
	void *copy;
	if ((err = begin_frame(s, g, &copy)) != 0)
		return err;
	shmg_atomic_store_memcpy(shmg_isio_data(s), frame, len, relaxed);
	finish_frame(s, copy, frame);
	return publish(s, g, cnt);
}

SHMG_EXPORT void *shmg_isio_begin(struct shmg_isio *s)
{
	if (writer_check(s))
		return NULL;
	struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
	if (begin_frame(s, g, &s->begun) != 0)
		return NULL;
	s->in_frame = true;
	return shmg_isio_data(s);
}

SHMG_EXPORT int shmg_isio_publish(struct shmg_isio *s, uint64_t *cnt)
{
	int err = writer_check(s);
	if (err)
		return err;
	if (!s->in_frame)
		return shmg__fail(-EINVAL, "no frame begun (shmg_isio_begin)");
	s->in_frame = false;
	/* The latch copy holds the frame as it now stands in the buffer (this
	 * writer is the only one changing it, so it may read it back). */
	finish_frame(s, s->begun, shmg_isio_data(s));
	return publish(s, s->has_latch ? &s->latch : &s->guard, cnt);
}

static size_t slice_size(const struct shmg_isio_layout *l)
{
	return (size_t)l->dims[0] * l->dims[1] * l->elem_size;
}

SHMG_EXPORT int shmg_isio_write_slice(struct shmg_isio *s, const void *data,
				      size_t len, uint32_t *slice, uint64_t *cnt)
{
	const struct shmg_isio_layout *l = &s->layout;
	int err = writer_check(s);
	if (err)
		return err;
	if (l->naxis != 3)
		return shmg__fail(-EINVAL, "not a cube stream (naxis %u)", l->naxis);
	if (!data || len != slice_size(l))
		return shmg__fail(-EINVAL, "a slice of %zu bytes expected, not %zu",
				  slice_size(l), len);
	uint64_t cnt1 = shmg_atomic_load(isio_word64(s, ISIO_CNT1), relaxed);
	uint32_t k = (uint32_t)((cnt1 + 1) % l->dims[2]);
	unsigned char *dst = (unsigned char *)shmg_isio_data(s) + (size_t)k * len;
	struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
	void *copy;
	if ((err = begin_frame(s, g, &copy)) != 0)
		return err;
	shmg_atomic_store_memcpy(dst, data, len, relaxed);
	shmg_atomic_store(isio_word64(s, ISIO_CNT1), (uint64_t)k, relaxed);
	if ((l->imagetype & 0xF000Fu) ==
	    (SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL)) {
		/* Per-slice counter: the frame number this slice arrives in. */
		size_t cnt_off = l->off_slicetimes + 32 * (size_t)l->dims[2];
		shmg_atomic_store(isio_word64(s, cnt_off + 8 * (size_t)k),
				  shmg_atomic_load(s->guard.counter, relaxed) + 1, relaxed);
	}
	/* A latch copy holds whole frames: the cube as it now stands (this
	 * writer is the only one changing it, so it may read it back). */
	finish_frame(s, copy, shmg_isio_data(s));
	if (slice)
		*slice = k;
	return publish(s, g, cnt);
}

/*
 * Readers use the latch only on evidence that its writer follows this
 * protocol. ownerPID alone is not enough: applications set it themselves
 * while writing the legacy way. The evidence is the sequence word of the
 * copy CBindex names, which only a guarded writer writes (ImageStreamIO
 * never writes the circular-buffer records): it holds cnt0, or cnt0 + 1
 * in the moment between a guarded publish's index and counter stores.
 * Before the first frame there is nothing to tell by; the latch then waits
 * for that frame. Anything else reads through the single buffer, which a
 * guarded writer keeps too (doc/imagestreamio.md, "Which writer").
 */
int shmg__isio_latch_fresh(const struct shmg_isio *s)
{
	if (!s->has_latch || shmg_atomic_load(s->guard.owner, relaxed) <= 0)
		return 0;
	uint64_t c = shmg_atomic_load(s->guard.counter, acquire);
	if (c == 0)
		return 1;
	uint32_t i = shmg_atomic_load(isio_cbindex(s), acquire);
	if (i >= s->layout.cbsize)
		return 0;
	uint64_t q = shmg_atomic_load(isio_word64(s, s->layout.off_cbmd +
						     (size_t)i * ISIO_CBMD_SIZE), acquire);
	return q != 0 && (q == c || q == c + 1);
}

SHMG_EXPORT int shmg_isio_read(const struct shmg_isio *s, void *dst,
			       size_t len, struct shmg_wflag_snap *snap,
			       const struct timespec *deadline)
{
	if (!s->layout.has_data)
		return -ENOTSUP;
	if (len > s->layout.data_size)
		return -ERANGE;
	if (shmg__isio_latch_fresh(s)) {
		int err = shmg_wflag_read(&s->latch, dst, NULL, len, snap, deadline);
		/* A writer that stopped sequencing the copies (another took
		 * over the legacy way): the single buffer. */
		if (err != SHMG_ETOOFAST || shmg__isio_latch_fresh(s))
			return err;
	}
	return shmg_wflag_read(&s->guard, dst, shmg_isio_data(s), len, snap,
			       deadline);
}

SHMG_EXPORT int shmg_isio_read_slice(const struct shmg_isio *s, uint32_t k,
				     void *dst, size_t len,
				     struct shmg_wflag_snap *snap,
				     const struct timespec *deadline)
{
	const struct shmg_isio_layout *l = &s->layout;
	if (!l->has_data || l->naxis != 3)
		return -ENOTSUP;
	size_t each = slice_size(l);
	if (k >= l->dims[2] || len > each)
		return -ERANGE;
	const unsigned char *src = (const unsigned char *)shmg_isio_data(s) + (size_t)k * each;
	return shmg_wflag_read(&s->guard, dst, src, len, snap, deadline);
}

static int pin_check(const struct shmg_isio *s)
{
	if (!s->has_latch || !s->latch.npins)
		return shmg__fail(-ENOTSUP, "pinned reads need a circular buffer of at least 2 "
				  "copies and semaphore slots");
	if (s->slot < 0)
		return shmg__fail(-EINVAL, "no semaphore slot claimed (shmg_isio_sem_claim)");
	/* A handle inherited through fork names its parent's slot, even where
	 * the child has its parent's PID: not this process's to pin in. */
	if (SHMG__UNLIKELY(s->slot_gen != shmg__fork_generation()))
		return shmg__fail(SHMG_ENOTOWNER, "semaphore slot %d was claimed by the parent "
				  "of this forked process: claim one (shmg_isio_sem_claim)", s->slot);
	return 0;
}

SHMG_EXPORT int shmg_isio_pin(const struct shmg_isio *s, struct shmg_wflag_pinned *pin)
{
	int err = pin_check(s);
	if (err)
		return err;
	/* Only a guarded writer skips pinned copies (and sequences them): the
	 * record CBindex names carries a frame number no older than cnt0 read
	 * before it (shmg__isio_latch_fresh's test, which also holds when the
	 * writer publishes in between). */
	bool guarded = shmg_atomic_load(s->guard.owner, relaxed) > 0;
	uint64_t c = shmg_atomic_load(s->guard.counter, acquire);
	uint32_t i = shmg_atomic_load(isio_cbindex(s), acquire);
	if (guarded && c && i < s->layout.cbsize)
		guarded = shmg_atomic_load(isio_word64(s, s->layout.off_cbmd +
						       (size_t)i * ISIO_CBMD_SIZE), acquire) >= c;
	if ((!guarded || i >= s->layout.cbsize) && shmg__truncated(s->region))
		return shmg__fail(SHMG_ETRUNCATED, "the stream's file was truncated under it");
	if (!guarded || i >= s->layout.cbsize)
		return shmg__fail(-ENOTSUP, "the circular buffer is not kept by a writer of "
				  "this guard: pinned reads would not be protected (shmg_isio_read)");
	SHMG__TEST_POINT(SHMG__ISIO_PIN_CHECKED);
	err = shmg_wflag_pin(&s->latch, (unsigned)s->slot, pin);
	/* The pin re-reads the index: the copy it confirmed must still be
	 * numbered as a guarded writer numbers them, no older than cnt0 seen
	 * above (a guarded writer stores a copy's number before the counter).
	 * An older number is a copy a legacy writer took over and may be
	 * rewriting, its record left stale. */
	if (err == 0 && pin->frame < c) {
		shmg_wflag_unpin(&s->latch, (unsigned)s->slot);
		return shmg__fail(-ENOTSUP, "copy %u holds frame number %llu, older than cnt0 "
				  "%llu: a writer that does not use this guard writes the circular "
				  "buffer, pinned reads would not be protected (shmg_isio_read)",
				  pin->copy, (unsigned long long)pin->frame, (unsigned long long)c);
	}
	return err;
}

/* cnt0 is past the newest circular-buffer record: a writer that keeps no
 * records (ImageStreamIO's own) wrote frames since the last guarded
 * publish. Loads after an acquire fence (see shmg_isio_unpin). */
static bool records_stale(const struct shmg_isio *s, uint64_t *c, uint64_t *q)
{
	shmg_atomic_thread_fence(acquire);
	*c = shmg_atomic_load(s->guard.counter, acquire);
	uint32_t i = shmg_atomic_load(isio_cbindex(s), acquire);
	*q = i < s->layout.cbsize
		     ? shmg_atomic_load(isio_word64(s, s->layout.off_cbmd +
						     (size_t)i * ISIO_CBMD_SIZE), acquire)
		     : 0;
	return *q < *c;
}

void shmg__isio_revoke_after_legacy(const struct shmg_isio *s)
{
	uint64_t c, q;
	if (!s->has_latch || !s->latch.npins || !records_stale(s, &c, &q))
		return;
	for (unsigned k = 0; k < s->latch.npins; k++)
		shmg__wflag_revoke_slot(&s->latch, k);
}

SHMG_EXPORT int shmg_isio_unpin(const struct shmg_isio *s)
{
	int err = pin_check(s);
	if (err)
		return err;
	err = shmg_wflag_unpin(&s->latch, (unsigned)s->slot);
	if (err)
		return err;
	/* A writer that ignores pins (ImageStreamIO's own, writing after a
	 * guarded writer died) leaves no records: cnt0 moves past the newest
	 * record. The pin was granted only with the records fresh
	 * (shmg_isio_pin), so records gone stale since mean such a writer
	 * wrote the circular buffer while the copy was pinned, perhaps that
	 * very copy (a guarded writer that claimed since revoked the pin:
	 * shmg__isio_revoke_after_legacy). The acquire fence keeps the
	 * caller's reads of the copy before these loads (as a latch reader's
	 * re-check, doc/wflag.md). A legacy frame still being copied, cnt0
	 * not yet moved, is not seen (doc/pin.md: such a writer uses no
	 * fences to order by). */
	uint64_t c, q;
	if (SHMG__UNLIKELY(records_stale(s, &c, &q)))
		return shmg__fail(SHMG_EREVOKED, "cnt0 %llu is past the newest circular-buffer "
				  "record (%llu): a writer that ignores pins wrote the stream while "
				  "the copy was pinned; discard what was computed from it",
				  (unsigned long long)c, (unsigned long long)q);
	return 0;
}

SHMG_EXPORT uint64_t shmg_isio_counter(const struct shmg_isio *s)
{
	return shmg_wflag_counter(&s->guard);
}

SHMG_EXPORT int shmg_isio_wait(const struct shmg_isio *s, uint64_t after,
			       uint64_t *now, const struct timespec *deadline)
{
	return shmg_wflag_wait_update(shmg__isio_latch_fresh(s) ? &s->latch : &s->guard,
				      after, now, deadline);
}
