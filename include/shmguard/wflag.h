/*
 * shmguard/wflag.h: the write-flag guard, an asymmetric opt-in seqlock over
 * a flag byte and a frame counter that a layout already has (ImageStreamIO's
 * `write` and `cnt0`).
 *
 * One writer, any number of readers; the writer never waits for readers.
 *
 *   writer:  shmg_wflag_begin()        mark = 1 (relaxed), release fence
 *            ... store the frame (shmg_atomic_store_memcpy or own stores) ...
 *            shmg_wflag_publish()      counter + 1 (release), mark = 0
 *                                      (release), wake sleepers
 *   reader:  shmg_wflag_read()         counter, mark (acquire); copy; acquire
 *                                      fence; mark (acquire), counter; equal
 *                                      and idle = a consistent frame
 *
 * Optional parts, each an existing word of the layout:
 *   - a waiters byte in the mark's aligned 4-byte word (ImageStreamIO: the
 *     padding byte after `write`): sleepers announce themselves in its bit
 *     0, so a publish without sleepers makes no syscall; bits 1-7 count
 *     wake-ups. Without one, sleepers wait on words the awaited event
 *     changes (the counter's low half, the mark's word) and every publish
 *     makes two futex_wake calls;
 *   - an owner word holding the writer's PID (ImageStreamIO: `ownerPID`), so
 *     readers can tell a dead writer from a slow one;
 *   - a latch: n >= 2 copies of the frame, each with a 64-bit sequence word
 *     (the frame number, 0 while the copy is rewritten), and a 32-bit index
 *     of the newest copy (ImageStreamIO's fast circular buffer, CBindex).
 *     Readers then copy the newest complete copy and always progress while
 *     the writer writes back to back, as Linux's seqcount latch.
 *
 * Every ordering claim here is argued in doc/wflag.md and checked by the
 * models tests/spin/seqlock.pml, wflag_latch.pml, wflag_wake.pml and
 * wflag_wake_nowaiters.pml.
 * struct shmg_wflag is opaque (shmg_wflag_new, shmg_wflag_free).
 */
#ifndef SHMGUARD_WFLAG_H
#define SHMGUARD_WFLAG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/region.h>

SHMG_BEGIN_DECLS

struct shmg_wflag;

/* Optional parts of a placement (shmg_wflag_place.parts). */
enum shmg_wflag_parts {
	SHMG_WFLAG_WAITERS = 1u << 0, /* .waiters names the waiters byte */
	SHMG_WFLAG_OWNER = 1u << 1,   /* .owner names the writer-PID word */
};

/* Where the guard's words are, as offsets into a region (a sized struct:
 * see shmguard/common.h). An offset of a part not named in .parts must be 0. */
struct shmg_wflag_place {
	uint32_t size;  /* sizeof(struct shmg_wflag_place) */
	uint32_t parts; /* enum shmg_wflag_parts */
	size_t mark;    /* the flag byte: 1 while the writer writes */
	size_t counter; /* the 64-bit frame counter (8-aligned) */
	size_t waiters; /* a byte in the mark's 4-byte word */
	size_t owner;   /* a 4-byte writer-PID word */
	/* The latch (all zero when there is none: copies < 2). */
	uint32_t copies;   /* number of copies, >= 2 */
	size_t index;      /* 32-bit index of the newest complete copy */
	size_t seq;        /* sequence word of copy 0 (8-aligned) */
	size_t seq_stride; /* bytes between sequence words */
	size_t data;       /* first byte of copy 0 */
	size_t data_len;   /* bytes per copy */
	/* Pinned reads over the latch (doc/pin.md; all zero: none; added in
	 * 0.2, so a struct that ends before .npins places no pins). Reader
	 * slot k has a 32-bit pin word at pins + k * pin_stride (the copy it
	 * pins + 1 in bits 4-31; bits 0-3 are left as they are) and a 32-bit
	 * owner word at pin_owners + k * pin_stride (the reader's PID; 0 or
	 * -1: free). */
	uint32_t npins;     /* reader slots (needs a latch) */
	size_t pins;        /* pin word of slot 0 (4-aligned) */
	size_t pin_owners;  /* owner word of slot 0 (4-aligned) */
	size_t pin_stride;  /* bytes between slots, a multiple of 4 */
};

/*
 * Place a guard in region r (which must outlive it). Every word is checked:
 * in bounds, naturally aligned, the waiters byte in the mark's 4-byte word,
 * copies inside the region and not overlapping the words. Nothing in the
 * segment is read or written.
 * Returns 0, -EINVAL (misaligned, overlapping, inconsistent, bad size),
 * -ERANGE (outside the region), -ENOMEM.
 */
SHMG_EXPORT int shmg_wflag_new(struct shmg_wflag **g,
			       const struct shmg_region *r,
			       const struct shmg_wflag_place *p);

/* Free the handle. The segment is not touched (its region may be closed
 * already): a claim the handle held is forgotten, its PID left in the
 * owner word, so release first. Left so, another handle of this process
 * takes the stream over as a dead writer's (SHMG_OWNERDEAD), and other
 * processes see a live writer until this one ends. NULL is a no-op. */
SHMG_EXPORT void shmg_wflag_free(struct shmg_wflag *g);

/* ---------------------------------------------------------------- writer */

/*
 * Make this handle the stream's writer: record the calling process's PID
 * in the owner word, by CAS from 0 or from the PID of a writer that is
 * dead. The claim is the handle's: another handle, in this process too,
 * and a forked child are refused (doc/wflag.md, "One writer, one handle").
 * The owner word holding this process's PID where no handle of it claimed
 * is a dead predecessor's with the same PID (a PID namespace), taken over.
 * Returns 0 (this handle is the writer; also when it already was),
 * SHMG_OWNERDEAD (a dead writer was replaced: if it died mid-frame the mark
 * stays set, so readers keep rejecting its partial frame until this
 * writer's first publish), -EBUSY (a live process is the writer, or this
 * process through another handle: the detail names it), SHMG_EGARBAGE
 * (negative PID in the owner word), -EROFS (read-only mapping), -ENOMEM,
 * -ENOTSUP (no owner word), or -errno when the owner word cannot be named
 * among this process's claims (fstat of the region's file, or for memory
 * the caller mapped /proc/self/maps, failed: -EMFILE...); nothing changed.
 */
SHMG_EXPORT int shmg_wflag_claim(struct shmg_wflag *g);

/* Stop being the writer: the owner word back to 0 if this handle holds
 * the claim. Returns 0, SHMG_ENOTOWNER (this handle holds none, or a
 * recovery took it), -ENOTSUP (no owner word). */
SHMG_EXPORT int shmg_wflag_release(struct shmg_wflag *g);

/*
 * Start a frame: with a latch, the next copy's sequence word is set to 0
 * (relaxed); the mark is set (relaxed); then a release fence, so no store
 * of the frame is seen before the mark. Returns the copy to fill (NULL
 * without a latch). Only the writer calls it. With pin slots placed, a
 * copy a reader pins is skipped, and when every copy but the newest is
 * pinned the pin on the oldest is revoked (SHMG_WFLAG_FULL_REVOKE: never
 * waits for a reader; shmg_wflag_begin_timed chooses otherwise).
 */
SHMG_EXPORT void *shmg_wflag_begin(struct shmg_wflag *g);

/* What a writer does when every copy it may write is pinned by readers
 * (shmg_wflag_begin_timed's `full`). */
enum shmg_wflag_full {
	SHMG_WFLAG_FULL_WAIT = 0, /* wait for an unpin, until the deadline */
	SHMG_WFLAG_FULL_DROP = 1, /* give up at once: the frame is dropped */
	SHMG_WFLAG_FULL_REVOKE = 2, /* take the oldest pinned copy back: its
				     * readers' unpin says SHMG_EREVOKED (the
				     * default; never waits, added in 0.3) */
};

/*
 * shmg_wflag_begin for latches with pinned reads (doc/pin.md): the next copy
 * is one no reader pins (never the newest). When every copy but the newest
 * is pinned, as `full` says: SHMG_WFLAG_FULL_REVOKE revokes the pins on
 * the oldest copy and writes it (their readers learn it at unpin:
 * SHMG_EREVOKED), never waiting; otherwise pins of dead readers are
 * revoked first, then the writer polls for an unpin until `deadline`
 * (absolute, CLOCK_MONOTONIC; NULL: no limit, which a reader stopped while
 * pinning makes forever), or drops the frame at once. *copy
 * receives the copy to fill (NULL without a latch). *skipped (may be NULL)
 * receives how many copies were passed over because they were pinned.
 * Returns 0 (the frame is begun, as shmg_wflag_begin), -EAGAIN (dropped:
 * SHMG_WFLAG_FULL_DROP and every other copy pinned), -ETIMEDOUT (waited
 * until the deadline), -EINTR (a signal while waiting), -EINVAL (`full`
 * unknown), -EOVERFLOW (the counter is UINT64_MAX: the frame would wrap it
 * to 0, and readers waiting for a frame after it would wait for ever). On
 * an error nothing was begun and nothing is changed in the segment.
 * shmg_wflag_begin is this with SHMG_WFLAG_FULL_REVOKE.
 */
SHMG_EXPORT int shmg_wflag_begin_timed(struct shmg_wflag *g, unsigned full,
				       const struct timespec *deadline,
				       void **copy, uint32_t *skipped);

/*
 * Publish the frame: with a latch the copy's sequence word becomes the
 * frame number and the index names it (release stores); counter + 1
 * (release); mark = 0 (release); then sleepers are woken (a seq_cst fence
 * and a look at the waiters byte: no syscall without sleepers; without a
 * waiters byte, two futex_wake calls).
 * Returns the new frame number; 0 when the counter is UINT64_MAX (a frame
 * begun by shmg_wflag_begin, which cannot refuse it): nothing is published
 * and the mark stays set, so readers never take the frame for the old one.
 */
SHMG_EXPORT uint64_t shmg_wflag_publish(struct shmg_wflag *g);

/*
 * Give up a begun frame. Only sound before any of the frame's data was
 * stored into the readable buffer (the counter does not move, so readers
 * could not tell old data from new): afterwards publish, or begin again
 * later. A latch copy begun is left invalid (sequence 0), which is always
 * sound.
 */
SHMG_EXPORT void shmg_wflag_abort(struct shmg_wflag *g);

/* ---------------------------------------------------------------- readers */

/* The outcome of a snapshot read (a sized struct). */
struct shmg_wflag_snap {
	uint32_t size;    /* sizeof(struct shmg_wflag_snap) */
	uint32_t retries; /* attempts rejected before it */
	uint64_t frame;   /* the frame number of the copy handed out */
	int32_t copy;     /* the latch copy read, or -1: the main buffer */
};

/* Attempts before a read reports SHMG_ETOOFAST. */
#define SHMG_WFLAG_READ_TRIES 16

/*
 * Copy a consistent frame of len bytes from src (inside the guarded region:
 * the main buffer) into dst, or, with a latch, the newest complete copy
 * (len <= the copy's length; src is then ignored and may be NULL).
 * Single buffer: while the mark is set the reader waits for the writer
 * (futex sleep, deadline honoured); a copy that the writer overlapped is
 * retried, at most SHMG_WFLAG_READ_TRIES times. Acquire: what the writer
 * stored before publishing this frame is visible afterwards.
 * snap (may be NULL) receives the outcome. A deadline already passed makes
 * the call look and never sleep (-ETIMEDOUT where it would have to wait),
 * here and in the waits below.
 * Returns 0 (dst holds frame snap->frame, never torn), SHMG_ETOOFAST,
 * SHMG_EWRITERDEAD (the mark is set and the owner is dead), -ETIMEDOUT,
 * -EINTR, SHMG_EGARBAGE (a latch index out of range), -ERANGE (src/len
 * outside the region or the copy), -EINVAL (snap's size).
 */
SHMG_EXPORT int shmg_wflag_read(const struct shmg_wflag *g, void *dst,
				const void *src, size_t len,
				struct shmg_wflag_snap *snap,
				const struct timespec *deadline);

/*
 * Wait until the writer is not writing (the mark is clear).
 * Returns 0, SHMG_EWRITERDEAD (the owner word names a dead process),
 * -ETIMEDOUT, -EINTR. Acquire on success.
 */
SHMG_EXPORT int shmg_wflag_wait_idle(const struct shmg_wflag *g,
				     const struct timespec *deadline);

/*
 * Wait until the counter exceeds `after`; *now (may be NULL) receives it
 * (acquire), so the frames missed are *now - after - 1, exactly.
 * Returns 0, SHMG_EWRITERDEAD (the owner died; no frame will come),
 * SHMG_ECOUNTER (the counter is below `after`: the stream was recreated),
 * -ETIMEDOUT, -EINTR.
 */
SHMG_EXPORT int shmg_wflag_wait_update(const struct shmg_wflag *g,
				       uint64_t after, uint64_t *now,
				       const struct timespec *deadline);

/* The counter now (acquire). */
SHMG_EXPORT uint64_t shmg_wflag_counter(const struct shmg_wflag *g);

/*
 * Is the recorded writer alive? Returns SHMG_PROC_ALIVE, SHMG_PROC_DEAD,
 * -ENOENT (no writer recorded), -ENOTSUP (no owner word), SHMG_EGARBAGE
 * (a negative PID), or -errno when it cannot tell. *pid (may be NULL)
 * receives the recorded PID.
 */
SHMG_EXPORT int shmg_wflag_writer_alive(const struct shmg_wflag *g,
					int32_t *pid);

/* ------------------------------------------------------------ pinned reads */

/* A copy pinned by shmg_wflag_pin (a sized struct). */
struct shmg_wflag_pinned {
	uint32_t size;     /* sizeof(struct shmg_wflag_pinned) */
	uint32_t retries;  /* attempts rejected before it */
	uint64_t frame;    /* the frame number of the copy */
	const void *data;  /* the copy, read-only, valid until unpinned */
	size_t len;        /* its length (the placement's data_len) */
	uint32_t copy;     /* which latch copy */
};

/*
 * Claim a reader slot for pinned reads: its owner word is set to this
 * process's PID by CAS from 0, -1, garbage (negative) or a dead process's
 * PID, and a pin the dead one left is cleared. In a file-backed region the
 * claim also takes the slot's lock (an open file description lock on the
 * owner word's byte, doc/pin.md), by which writers and other claims judge
 * the reader alive across PID namespaces; a slot whose lock another
 * process holds is never taken. Every claim gets a slot of
 * its own, also within one process (two handles or threads), and a forked
 * child claims its own rather than use its parent's. *slot receives it.
 * Returns 0, -EAGAIN (every slot held by a live process), -ENOTSUP (no pin
 * slots placed), -EROFS, -ENOMEM, -errno when a slot cannot be named
 * among this process's claims (as shmg_wflag_claim), or the error of
 * opening the file again for the slot lock (-EMFILE, -EACCES, ...: no
 * slot, since a slot without its lock looks like nobody's to writers and
 * recovery; the detail says so); nothing changed.
 */
SHMG_EXPORT int shmg_wflag_pin_claim(struct shmg_wflag *g, unsigned *slot);

/* Unpin and give the slot back (owner word from our PID to free).
 * Returns 0, SHMG_EREVOKED (given back; the pin it held had been revoked,
 * as shmg_wflag_unpin says), SHMG_ENOTOWNER (the slot is not ours),
 * -ERANGE, -ENOTSUP, -EROFS. */
SHMG_EXPORT int shmg_wflag_pin_release(struct shmg_wflag *g, unsigned slot);

/*
 * Pin the newest complete copy for reading in place: announce it in the
 * slot's pin word, a seq_cst fence, then confirm its sequence word still
 * holds the frame number read before (a Dekker handshake with the writer,
 * which zeroes a copy's sequence word, fences, then skips pinned copies:
 * doc/pin.md, tests/spin/wflag_pin.pml). Never locks, never waits: at most
 * SHMG_WFLAG_READ_TRIES attempts. A slot holds one pin: pinning again moves
 * it (the earlier pointer is then no longer protected); when the pin it
 * would move was revoked, it pins nothing and says SHMG_EREVOKED (the slot
 * is then clear: pin again). The announcement is a read-modify-write with
 * release order, so a writer that sees it also sees every read made under
 * the slot's earlier pins done (doc/pin.md). The caller must
 * own `slot` (shmg_wflag_pin_claim; checked: one load of its owner word).
 * Acquire: the frame's stores are visible through pin->data until
 * shmg_wflag_unpin.
 * Returns 0, SHMG_EREVOKED (see above), SHMG_ETOOFAST (lapped on every
 * attempt), -ENODATA (no frame
 * published yet), SHMG_EGARBAGE (latch index out of range),
 * SHMG_ETRUNCATED (the file was truncated: SHMG_REGION_TRUNCATION);
 * after these the slot holds no pin. Errors in the arguments change
 * nothing (a pin held before stays): -ERANGE (slot), -ENOTSUP (no pin
 * slots placed), -EINVAL (pin's size), SHMG_ENOTOWNER (the slot is not
 * this process's: another's, given back, or a parent's seen from a forked
 * child), -EROFS (the region is mapped read-only: pinning writes the slot;
 * use shmg_wflag_read).
 */
SHMG_EXPORT int shmg_wflag_pin(const struct shmg_wflag *g, unsigned slot,
			       struct shmg_wflag_pinned *pin);

/* Drop the slot's pin (a read-modify-write with release order: every read
 * of the copy before it is done before the writer may rewrite the copy).
 * Returns 0 (the copy was not rewritten while pinned), SHMG_EREVOKED (it
 * was, or may have been: the writer revoked the pin, so discard what was
 * computed from it; the slot holds no pin now), SHMG_ETRUNCATED (the file
 * was truncated), -ERANGE, -ENOTSUP, SHMG_ENOTOWNER (not this process's
 * slot: nothing changed), -EROFS. */
SHMG_EXPORT int shmg_wflag_unpin(const struct shmg_wflag *g, unsigned slot);

/* ---------------------------------------------------------------- monitors */

/* What the guard's words say (relaxed loads: a snapshot for monitors; a
 * sized struct). */
struct shmg_wflag_info {
	uint32_t size;       /* sizeof(struct shmg_wflag_info) */
	uint32_t parts;      /* the placement's enum shmg_wflag_parts */
	size_t mark_offset;  /* where the mark is in the region */
	uint8_t mark;        /* 1: a frame is being written */
	uint8_t waiters;     /* the waiters byte (0 without one) */
	uint64_t counter;
	int32_t owner;       /* the writer's PID word (0 without one) */
	int owner_alive;     /* SHMG_PROC_ALIVE, SHMG_PROC_DEAD, -ENOENT (no
			      * writer recorded or no owner word), -errno */
	uint32_t copies;     /* latch copies (0: no latch) */
	uint32_t index;      /* latch index (the newest complete copy) */
};

/* Fill *info. Never writes to the segment, never waits. Returns 0, -EINVAL. */
SHMG_EXPORT int shmg_wflag_inspect(const struct shmg_wflag *g,
				   struct shmg_wflag_info *info);

/*
 * For monitors and `shmguard recover`: if the recorded writer is dead and
 * its frame was complete, clear its record (the next writer claims without
 * a takeover). A writer that died mid-frame is left alone here: only a
 * layout client knows how to publish a complete frame over the partial one
 * (shmg_isio_recover). Never waits. opts may be NULL.
 * Returns 0 (nothing to recover: no writer recorded, or a live one),
 * SHMG_RECOVERED, SHMG_EWRITERDEAD (it died mid-frame: left for a layout
 * client), SHMG_EGARBAGE, -ENOTSUP (no owner word).
 */
SHMG_EXPORT int shmg_wflag_recover(struct shmg_wflag *g,
				   const struct shmg_recover_opts *opts);

SHMG_END_DECLS

#endif /* SHMGUARD_WFLAG_H */
