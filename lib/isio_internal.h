/*
 * Internals shared by the ImageStreamIO client's files.
 */
#ifndef SHMG_ISIO_INTERNAL_H
#define SHMG_ISIO_INTERNAL_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

#include <shmguard/isio.h>

#include "isio_layout.h"
#include "region_internal.h"
#include "wflag_internal.h"

/* An open stream (process-local; the state is in the file). */
struct shmg_isio {
	struct shmg_region *region;
	struct shmg_isio_layout layout;
	struct shmg_wflag guard; /* over the pixel data */
	struct shmg_wflag latch; /* over the circular buffer (cbsize >= 2) */
	bool has_latch;
	int slot; /* the semaphore slot this process claimed, or -1 */
	/* The fork the slot was claimed in (lib/proc_thread.c): a forked
	 * child's handle holds none of it, even with its parent's PID (PID 1
	 * of a second new PID namespace, a dead parent's PID reused). */
	unsigned slot_gen;
	/* Writer: a frame begun by shmg_isio_begin, and its latch copy. */
	bool in_frame;
	void *begun;
	/* Writer: what to do when readers pin every other copy
	 * (shmg_isio_pin_policy). */
	unsigned pin_full;
	uint64_t pin_wait_ns;
};

/* Is the handle's semaphore slot this process's own (claimed in this
 * fork, its owner word holding this PID)? No system call. */
bool shmg__isio_slot_ours(const struct shmg_isio *s);

/* The layout of a stream with these (size-checked) parameters. 0, -EINVAL,
 * -EOVERFLOW. */
int shmg__isio_layout_from(struct shmg_isio_layout *l,
			   const struct shmg_isio_params *p);

/* Validate the metadata at base (a mapping of `size` bytes) and compute the
 * layout. Returns 0 or SHMG_ELAYOUT (with the reason as its detail). */
int shmg__isio_layout_read(struct shmg_isio_layout *l,
			   const unsigned char *base, size_t size);

/* Place the guard and the latch of an opened or created stream. */
int shmg__isio_place_guards(struct shmg_isio *s);

/* 1 when readers may use the latch: a guarded writer is recorded and the
 * copy CBindex names carries its sequence word (lib/isio_frame.c). */
int shmg__isio_latch_fresh(const struct shmg_isio *s);

/* A writer just claimed the stream: if a writer that ignores pins wrote it
 * since the last guarded publish (cnt0 past the newest record), every pin
 * is revoked, since the copies may have been rewritten under them
 * (doc/pin.md, "A writer that ignores pins"). */
void shmg__isio_revoke_after_legacy(const struct shmg_isio *s);

/* Post every reader semaphore below the cap, then the semlog. */
void shmg__isio_post_all(const struct shmg_isio *s);

static inline unsigned char *isio_base(const struct shmg_isio *s)
{
	return s->region->base;
}

static inline sem_t *isio_sem(const struct shmg_isio *s, unsigned i)
{
	return (sem_t *)(void *)(isio_base(s) + s->layout.off_sem +
				 (size_t)i * sizeof(sem_t));
}

static inline int32_t *isio_readpid(const struct shmg_isio *s, unsigned i)
{
	return (int32_t *)(void *)(isio_base(s) + s->layout.off_semreadpid +
				   (size_t)i * sizeof(int32_t));
}

static inline uint32_t *isio_semstatus(const struct shmg_isio *s, unsigned i)
{
	return (uint32_t *)(void *)(isio_base(s) + s->layout.off_semstatus +
				    (size_t)i * sizeof(uint32_t));
}

static inline uint32_t *isio_cbindex(const struct shmg_isio *s)
{
	return (uint32_t *)(void *)(isio_base(s) + ISIO_CBINDEX);
}

static inline uint64_t *isio_word64(const struct shmg_isio *s, size_t off)
{
	return (uint64_t *)(void *)(isio_base(s) + off);
}

#endif /* SHMG_ISIO_INTERNAL_H */
