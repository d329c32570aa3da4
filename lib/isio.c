/*
 * ImageStreamIO streams: create, open, close, and the writer's claim.
 * See include/shmguard/isio.h and doc/imagestreamio.md.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>

#include "detail.h"
#include "isio_internal.h"
#include "isio_layout.h"
#include "sized.h"

#define PUT(base, off, type, v) (*(type *)(void *)((unsigned char *)(base) + (off)) = (type)(v))

struct create_arg {
	const struct shmg_isio_params *p;
	const struct shmg_isio_layout *l;
};

/* The metadata's fixed fields. */
static void init_metadata(unsigned char *b, const struct create_arg *a, ino_t inode)
{
	const struct shmg_isio_layout *l = a->l;
	struct timespec now;

	strlcpy((char *)b + ISIO_NAME, a->p->name, SHMG_ISIO_NAME_MAX);
	PUT(b, ISIO_NAXIS, uint8_t, l->naxis);
	for (unsigned i = 0; i < l->naxis; i++) /* size[i >= naxis] stays 0 */
		PUT(b, ISIO_SIZE + 4 * i, uint32_t, l->dims[i]);
	PUT(b, ISIO_NELEMENT, uint64_t, l->nelement);
	PUT(b, ISIO_DATATYPE, uint8_t, l->datatype);
	PUT(b, ISIO_IMAGETYPE, uint64_t, l->imagetype);
	/* Two readings, last access first, as ImageStreamIO does. */
	clock_gettime(ISIO_CLOCK, &now);
	memcpy(b + ISIO_LASTACCESSTIME, &now, sizeof(now));
	clock_gettime(ISIO_CLOCK, &now);
	memcpy(b + ISIO_CREATIONTIME, &now, sizeof(now));
	PUT(b, ISIO_CREATORPID, int32_t, getpid());
	PUT(b, ISIO_OWNERPID, int32_t, 0);
	PUT(b, ISIO_SHARED, uint8_t, 1);
	PUT(b, ISIO_INODE, uint64_t, inode);
	PUT(b, ISIO_LOCATION, int8_t, -1);
	PUT(b, ISIO_SEM, uint16_t, l->nsem);
	PUT(b, ISIO_NBPROCTRACE, uint16_t, l->nproctrace);
	PUT(b, ISIO_NBKW, uint16_t, l->nkw);
	PUT(b, ISIO_CBSIZE, uint32_t, l->cbsize);
	PUT(b, ISIO_IMDATAMEMSIZE, uint64_t, l->data_size);
	/* cnt0, cnt1, cnt2, write, CBindex, CBcycle: 0 in the new file. */
}

/* Runs on the fresh zero-filled file before it has its name: every field a
 * reader uses is written, the version string ("ready") last. */
static int init_stream(void *base, size_t size, int fd, void *arg)
{
	const struct create_arg *a = arg;
	const struct shmg_isio_layout *l = a->l;
	unsigned char *b = base;
	struct stat st;

	if (size != l->file_size || fstat(fd, &st) != 0)
		return -EIO;
	init_metadata(b, a, st.st_ino);
	for (unsigned i = 0; i < l->nkw; i++)
		PUT(b, l->off_kw + (size_t)i * ISIO_KW_SIZE + ISIO_KW_TYPE, char, 'N');
	/* The reader semaphores; the semlog is left all zero, as ImageStreamIO
	 * leaves it (a value of 0 that glibc reads as process-private). */
	for (unsigned i = 0; i < l->nsem; i++)
		if (sem_init((sem_t *)(void *)(b + l->off_sem + i * sizeof(sem_t)), 1, 0) != 0)
			return -errno;
	for (unsigned i = 0; i < l->nsem; i++) {
		PUT(b, l->off_semreadpid + 4 * (size_t)i, int32_t, -1);
		PUT(b, l->off_semwritepid + 4 * (size_t)i, int32_t, -1);
	}
	for (unsigned i = 0; i < l->nproctrace; i++)
		PUT(b, l->off_proctrace + (size_t)i * ISIO_PROCTRACE_SIZE +
			       ISIO_PROCTRACE_TRIGSEMINDEX, int32_t, -1);
	/* The ready marker last, after everything above (doc/imagestreamio.md,
	 * "Creating"): the release fence keeps every store above before it. */
	shmg_atomic_thread_fence(release);
	memcpy(b + ISIO_VERSION, SHMG_ISIO_VERSION, sizeof(SHMG_ISIO_VERSION));
	return 0;
}

/* The guard over the pixel data, and the latch over the circular buffer. */
int shmg__isio_place_guards(struct shmg_isio *s)
{
	const struct shmg_isio_layout *l = &s->layout;
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = ISIO_WRITE, .counter = ISIO_CNT0,
		.waiters = ISIO_WAITERS, .owner = ISIO_OWNERPID,
	};
	int err = shmg__wflag_place(&s->guard, s->region, &p);
	if (err)
		return err;
	s->has_latch = l->cbsize >= 2 && l->has_data;
	if (!s->has_latch)
		return 0;
	p.copies = l->cbsize;
	p.index = ISIO_CBINDEX;
	p.seq = l->off_cbmd; /* each copy's metadata starts with its cnt0 */
	p.seq_stride = ISIO_CBMD_SIZE;
	p.data = l->off_cbdata;
	p.data_len = l->data_size;
	/* Pinned reads (doc/pin.md): a reader's pin is in bits 4-31 of its
	 * semaphore slot's semstatus word, which only the slot's reader
	 * writes; the slot's owner is semReadPID. */
	p.npins = l->nsem;
	/* A circular buffer too long to name in 28 bits gets no pins (the
	 * stream still opens; shmg_isio_pin says -ENOTSUP). */
	if (l->cbsize > (UINT32_MAX >> PIN_SHIFT) - 1)
		p.npins = 0;
	if (p.npins) {
		p.pins = l->off_semstatus;
		p.pin_owners = l->off_semreadpid;
		p.pin_stride = 4;
	}
	err = shmg__wflag_place(&s->latch, s->region, &p);
	s->latch.pin_free = -1; /* ImageStreamIO's free slot */
	return err;
}

static struct shmg_isio *isio_new(void)
{
	struct shmg_isio *s = calloc(1, sizeof(*s));
	if (s) {
		s->slot = -1;
		/* A writer never waits for readers (doc/pin.md). */
		s->pin_full = SHMG_WFLAG_FULL_REVOKE;
	}
	return s;
}

static int create_params(struct shmg_isio_params *own, const struct shmg_isio_params *p)
{
	int err = SHMG__SIZED_IN(own, p, struct shmg_isio_params);
	if (err)
		return err;
	if (!own->name || !*own->name || strchr(own->name, '/') ||
	    strlen(own->name) >= SHMG_ISIO_NAME_MAX)
		return shmg__fail(-EINVAL, "a stream name: 1 to %d bytes, no '/'",
				  SHMG_ISIO_NAME_MAX - 1);
	return 0;
}

SHMG_EXPORT int shmg_isio_create(struct shmg_isio **out, const char *path,
				 const struct shmg_isio_params *p, mode_t mode,
				 unsigned flags)
{
	struct shmg_isio_params own;
	struct shmg_isio_layout l;
	int err;

	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	if ((err = create_params(&own, p)) != 0 ||
	    (err = shmg__isio_layout_from(&l, &own)) != 0)
		return err;
	struct shmg_isio *s = isio_new();
	if (!s)
		return -ENOMEM;
	struct create_arg a = {.p = &own, .l = &l};
	err = shmg_region_create(&s->region, path, l.file_size, mode, flags,
				 init_stream, &a);
	if (!err) {
		s->layout = l;
		err = shmg__isio_place_guards(s);
	}
	if (err) {
		shmg_isio_close(s);
		return err;
	}
	*out = s;
	return 0;
}

SHMG_EXPORT int shmg_isio_open(struct shmg_isio **out, const char *path,
			       unsigned flags)
{
	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	struct shmg_isio *s = isio_new();
	if (!s)
		return -ENOMEM;
	int err = shmg_region_open(&s->region, path, flags);
	if (!err)
		err = shmg__isio_layout_read(&s->layout, s->region->base, s->region->size);
	if (!err)
		err = shmg__isio_place_guards(s);
	if (err) {
		shmg_isio_close(s);
		return err;
	}
	*out = s;
	return 0;
}

SHMG_EXPORT void shmg_isio_close(struct shmg_isio *s)
{
	if (!s)
		return;
	if (s->region && s->slot >= 0)
		shmg_isio_sem_release(s);
	/* The writer's claim is the handle's: it goes with it. A handle closed
	 * mid-frame (shmg_isio_begin without publish) is a writer that died
	 * there: ownerPID keeps its PID over the partial frame, and the next
	 * claim, in this process too, takes the stream over as a dead
	 * writer's (SHMG_OWNERDEAD, doc/imagestreamio.md). */
	struct shmg_wflag *w = s->has_latch ? &s->latch : &s->guard;
	if (s->region && s->in_frame)
		shmg__wflag_forget_claim(w);
	else if (s->region && wflag_holds_claim(w))
		shmg__wflag_hand_back(w, 0);
	shmg_region_close(s->region);
	free(s);
}

SHMG_EXPORT const struct shmg_region *shmg_isio_region(const struct shmg_isio *s)
{
	return s->region;
}

SHMG_EXPORT int shmg_isio_get_layout(const struct shmg_isio *s,
				     struct shmg_isio_layout *l)
{
	return SHMG__SIZED_OUT(l, &s->layout, struct shmg_isio_layout);
}

SHMG_EXPORT void *shmg_isio_data(const struct shmg_isio *s)
{
	return s->layout.has_data ? isio_base(s) + s->layout.off_data : NULL;
}

SHMG_EXPORT int shmg_isio_claim(struct shmg_isio *s)
{
	/* Both guards share the owner word; through the latch, a claim also
	 * completes a dead writer's last publish. */
	int err = shmg_wflag_claim(s->has_latch ? &s->latch : &s->guard);
	if (err >= 0)
		shmg__isio_revoke_after_legacy(s);
	return err;
}

SHMG_EXPORT int shmg_isio_release(struct shmg_isio *s)
{
	/* Through the guard that claimed: the claim is noted in it. */
	struct shmg_wflag *g = s->has_latch ? &s->latch : &s->guard;
	/* Mid-frame, ownerPID 0 would leave the partial frame flagged with
	 * no writer recorded: readers could never learn that this writer
	 * died (doc/imagestreamio.md). */
	if (s->in_frame && wflag_holds_claim(g))
		return shmg__fail(-EBUSY, "a frame is begun (shmg_isio_begin) and not published: "
				  "publish it first, or close the handle (the partial frame is "
				  "then left flagged under this process's PID, as a dead "
				  "writer's)");
	return shmg_wflag_release(g);
}
