/*
 * shmguard/isio.h: ImageStreamIO stream files (version "2.00"), byte for
 * byte, guarded by the write flag.
 *
 * Built from the layout facts (doc/imagestreamio.md), with no ImageStreamIO
 * code. A stream file is: 384 bytes of metadata, the pixel data, keywords,
 * process-shared semaphores, reader/writer PID slots, process traces, and an
 * optional fast circular buffer (CBsize copies of the frame).
 *
 * The guard uses only words the layout has: `write` (the mark), `cnt0` (the
 * counter), the padding byte after `write` (sleepers announce themselves
 * there), `ownerPID` (the writer's identity; ImageStreamIO itself never
 * sets it) and, with CBsize >= 2, the circular buffer as a latch (CBindex,
 * and each copy's metadata cnt0 as its sequence word).
 *
 * Writer:  shmg_isio_claim(), then shmg_isio_write() per frame: data (and
 *          its circular-buffer copy), cnt0 + 1, write = 0, then every
 *          semaphore is posted, in that order.
 * Readers: shmg_isio_read() copies a consistent frame (never torn);
 *          shmg_isio_wait() or a claimed semaphore slot waits for the next.
 *
 * struct shmg_isio is opaque (open or create, then close).
 */
#ifndef SHMGUARD_ISIO_H
#define SHMGUARD_ISIO_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/region.h>
#include <shmguard/wflag.h>

SHMG_BEGIN_DECLS

struct shmg_isio;

#define SHMG_ISIO_VERSION "2.00"
#define SHMG_ISIO_NAME_MAX 80 /* bytes of the name field, NUL included */

/* imagetype bits. */
#define SHMG_ISIO_CIRCULAR_BUFFER 0x1u
#define SHMG_ISIO_ZAXIS_TEMPORAL 0x20000u

/* Datatype codes (1..13). */
enum shmg_isio_datatype {
	SHMG_ISIO_UINT8 = 1, SHMG_ISIO_INT8, SHMG_ISIO_UINT16, SHMG_ISIO_INT16,
	SHMG_ISIO_UINT32, SHMG_ISIO_INT32, SHMG_ISIO_UINT64, SHMG_ISIO_INT64,
	SHMG_ISIO_FLOAT, SHMG_ISIO_DOUBLE, SHMG_ISIO_COMPLEX_FLOAT,
	SHMG_ISIO_COMPLEX_DOUBLE, SHMG_ISIO_HALF,
};

/* What a new stream looks like (a sized struct: see shmguard/common.h). */
struct shmg_isio_params {
	uint32_t size;      /* sizeof(struct shmg_isio_params) */
	uint8_t naxis;      /* 1..3 */
	uint8_t datatype;   /* enum shmg_isio_datatype */
	uint16_t nsem;      /* semaphores (0: the default, 10) */
	uint32_t dims[3];   /* dims[i] >= 1 for i < naxis (the file's size[]) */
	uint16_t nkw;       /* keywords */
	uint32_t cbsize;    /* fast circular-buffer copies (0: none) */
	uint64_t imagetype; /* 0, or SHMG_ISIO_CIRCULAR_BUFFER | ... */
	const char *name;   /* stream name (< 80 bytes, no '/') */
};

/* Where everything is in a stream file (computed, then checked; a sized
 * struct). */
struct shmg_isio_layout {
	uint32_t size; /* sizeof(struct shmg_isio_layout) */
	uint8_t naxis, datatype;
	uint16_t nsem, nkw, nproctrace;
	uint32_t dims[3];
	uint32_t cbsize;
	uint64_t nelement, imagetype;
	size_t elem_size, data_size; /* data_size = imdatamemsize */
	bool has_data;               /* false for GPU streams (location >= 0) */
	size_t off_data, off_kw, off_sem, off_semlog, off_semreadpid,
		off_semwritepid, off_semctrl, off_semstatus, off_proctrace,
		off_slicetimes, off_cbmd, off_cbdata;
	size_t file_size;
};

/*
 * The file name of stream `name`: <dir>/<name>.im.shm, dir being
 * $MILK_SHM_DIR when set, else /milk/shm when it exists, else /tmp:
 * ImageStreamIO's own rule (it never reads $TMPDIR). Returns 0, -EINVAL (empty name, '/' in it, too
 * long for the name field), -ENAMETOOLONG (buf too small).
 */
SHMG_EXPORT int shmg_isio_path(char *buf, size_t len, const char *name);

/*
 * Compute the layout of a stream with these parameters, as ImageStreamIO
 * does (every part rounded up to 8 bytes). Returns 0, -EINVAL (bad
 * parameters, with shmg_error_detail), -EOVERFLOW (the sizes do not fit
 * in memory).
 */
SHMG_EXPORT int shmg_isio_layout_of(struct shmg_isio_layout *l,
				    const struct shmg_isio_params *p);

/*
 * Create a stream file at `path` that ImageStreamIO opens as its own:
 * metadata, counters 0, semaphores initialised process-shared with value
 * 0, PID slots -1, the version string written last; then published under
 * its name in one step (shmg_region_create). mode 0 means 0600.
 * flags: SHMG_REGION_REPLACE to replace an existing stream atomically
 * (ImageStreamIO unlinks then recreates; readers of the old file are then
 * orphaned either way, but never see a half-made one).
 * Returns 0, -EEXIST, -EINVAL, -EOVERFLOW, or -errno.
 */
SHMG_EXPORT int shmg_isio_create(struct shmg_isio **s, const char *path,
				 const struct shmg_isio_params *p, mode_t mode,
				 unsigned flags);

/*
 * Open an existing stream with full validation: version "2.00", name
 * terminated, naxis, datatype, sizes and nelement consistent, the data
 * size, and the file size recomputed from the metadata (files over 2 GiB
 * included). Refuses symlinks unless flags has SHMG_REGION_FOLLOW.
 * Returns 0, SHMG_ELAYOUT (not a stream of this version, or a layout built
 * with other options: shmg_error_detail says which field), -ELOOP,
 * -ENOENT, -EACCES, ...; on failure nothing is changed in the file.
 */
SHMG_EXPORT int shmg_isio_open(struct shmg_isio **s, const char *path,
			       unsigned flags);

/* Release the semaphore slot if claimed, give the writer's claim back if
 * this handle holds it (mid-frame, after shmg_isio_begin without publish,
 * it is left as a dead writer's: ownerPID keeps the PID over the partial
 * frame, and the next claim gets SHMG_OWNERDEAD), unmap, close, free.
 * NULL: no-op. */
SHMG_EXPORT void shmg_isio_close(struct shmg_isio *s);

/* The stream's region (its file descriptor, base, size). */
SHMG_EXPORT const struct shmg_region *shmg_isio_region(const struct shmg_isio *s);

/* Copy the stream's layout into *l. Returns 0, -EINVAL (l's size). */
SHMG_EXPORT int shmg_isio_get_layout(const struct shmg_isio *s,
				     struct shmg_isio_layout *l);

/* The pixel data (NULL for a GPU stream). */
SHMG_EXPORT void *shmg_isio_data(const struct shmg_isio *s);

/* ---------------------------------------------------------------- writer */

/* Make this handle the stream's writer (shmg_wflag_claim on ownerPID;
 * only this handle may then write): 0, SHMG_OWNERDEAD (a dead writer was
 * replaced), -EBUSY (a live writer, or this process through another
 * handle: the detail names it). */
SHMG_EXPORT int shmg_isio_claim(struct shmg_isio *s);

/* Stop being the writer. Returns 0, SHMG_ENOTOWNER (this handle holds no
 * claim) or -EBUSY (a frame is begun and not published: nothing changed). */
SHMG_EXPORT int shmg_isio_release(struct shmg_isio *s);

/*
 * Write a whole frame (len == the data size): under the write flag, the
 * pixel data, its circular-buffer copy and that copy's metadata,
 * writetime and atime; then cnt0 + 1, write = 0; then every semaphore
 * whose value is below 10, and the semlog, are posted.
 * *cnt (may be NULL) receives the new cnt0.
 * Returns 0, -EINVAL (length), -ENOTSUP (GPU stream), SHMG_ENOTOWNER (this
 * handle has not claimed the stream), -EOVERFLOW (cnt0 is UINT64_MAX: the
 * next frame would wrap it to 0; nothing is written).
 */
SHMG_EXPORT int shmg_isio_write(struct shmg_isio *s, const void *frame,
				size_t len, uint64_t *cnt);

/*
 * Write a frame in place (a camera filling the buffer itself): begin
 * returns the pixel data to fill (the write flag is set, with its release
 * fence: doc/wflag.md), publish then copies it into the circular buffer
 * and publishes it as shmg_isio_write does (*cnt, may be NULL, receives
 * the new cnt0). Stores into the data between the two must be byte-wise
 * atomic against readers (shmg_atomic_store_memcpy, or relaxed atomic
 * stores). begin returns NULL (and sets nothing) for a stream this handle
 * has not claimed, or a GPU stream; publish then returns SHMG_ENOTOWNER.
 */
SHMG_EXPORT void *shmg_isio_begin(struct shmg_isio *s);
SHMG_EXPORT int shmg_isio_publish(struct shmg_isio *s, uint64_t *cnt);

/*
 * Cube streams (naxis 3, a rolling buffer of dims[2] slices): write the
 * next slice, (cnt1 + 1) % dims[2], and set cnt1 to it, as one guarded
 * frame. len == dims[0] * dims[1] * element size. *slice and *cnt (each
 * may be NULL) receive the slice written and the new cnt0. Returns as
 * shmg_isio_write.
 */
SHMG_EXPORT int shmg_isio_write_slice(struct shmg_isio *s, const void *data,
				      size_t len, uint32_t *slice,
				      uint64_t *cnt);

/* ---------------------------------------------------------------- readers */

/*
 * Copy a consistent frame into dst (len <= the data size). From the
 * circular buffer when the stream has one (CBsize >= 2) and its writer uses
 * this guard (ownerPID set): never waits for the writer. Otherwise from the
 * pixel data, as shmg_wflag_read. Returns as shmg_wflag_read.
 */
SHMG_EXPORT int shmg_isio_read(const struct shmg_isio *s, void *dst,
			       size_t len, struct shmg_wflag_snap *snap,
			       const struct timespec *deadline);

/* Copy slice k of a cube stream, consistently (as shmg_isio_read). */
SHMG_EXPORT int shmg_isio_read_slice(const struct shmg_isio *s, uint32_t k,
				     void *dst, size_t len,
				     struct shmg_wflag_snap *snap,
				     const struct timespec *deadline);

/* cnt0 now (acquire). */
SHMG_EXPORT uint64_t shmg_isio_counter(const struct shmg_isio *s);

/* Wait until cnt0 > after (shmg_wflag_wait_update: futex, deadline,
 * dead writer reported); missed frames = *now - after - 1. On a read-only
 * mapping the reader writes nothing and polls (50 us doubling to 1 ms;
 * doc/imagestreamio.md, "Readers that may only read the file"). */
SHMG_EXPORT int shmg_isio_wait(const struct shmg_isio *s, uint64_t after,
			       uint64_t *now, const struct timespec *deadline);

/*
 * Claim a semaphore slot for this handle: semReadPID[i] is set to our PID
 * by CAS from -1, 0, garbage (negative) or a dead process's PID (two
 * readers never share one: each handle of a process gets its own slot,
 * and a forked child that inherited a handle claims a new one). Claiming
 * again on the same handle returns the slot it holds. *slot (may be NULL)
 * receives it; posts pending from before are drained (in one step), and a
 * pin a dead predecessor left in it is cleared. The claim also takes the
 * slot's lock (doc/pin.md, "The slot lock"), and never takes a slot whose
 * lock another process holds, whatever its PID looks like from here (a
 * reader in another PID namespace). Returns 0, -EAGAIN (all
 * taken by live processes), -EROFS (a read-only mapping: use
 * shmg_isio_wait), or the error of opening the file again for the slot
 * lock (-EMFILE, -EACCES, ...: no slot, since a slot without its lock
 * looks like nobody's to writers and recovery; the detail says so).
 */
SHMG_EXPORT int shmg_isio_sem_claim(struct shmg_isio *s, int *slot);

/* Give the slot back (semReadPID = -1 if it is still ours), unpinning
 * first. Returns 0, SHMG_EREVOKED (a pin was still held, and the writer
 * revoked it: discard what was computed from the copy; the slot is given
 * back all the same), -EINVAL (no slot claimed), SHMG_ENOTOWNER (another
 * process took it), -EROFS. */
SHMG_EXPORT int shmg_isio_sem_release(struct shmg_isio *s);

/*
 * Wait on the claimed slot's semaphore until a post, with an absolute
 * CLOCK_MONOTONIC deadline (NULL: none); then drain further posts, and read
 * cnt0 into *now (acquire) so the caller counts missed frames exactly from
 * the counter, not from the capped semaphore value.
 * Returns 0, -ETIMEDOUT, -EINTR, -EINVAL (no slot claimed), SHMG_EGARBAGE
 * (the semaphore's words are damaged: glibc would abort on it; the detail
 * names the word; shmg_isio_recover reinitialises it).
 */
SHMG_EXPORT int shmg_isio_sem_wait(const struct shmg_isio *s, uint64_t *now,
				   const struct timespec *deadline);

/*
 * Zero-copy reads (doc/pin.md): pin the newest complete copy of the
 * circular buffer in the semaphore slot this process claimed
 * (shmg_isio_sem_claim), process it in place through pin->data (read-only;
 * pin->frame is its cnt0, pin->len the frame size), then unpin. The pin is
 * in bits 4-31 of the slot's semstatus word (bits 0-3 are left as they
 * are); the writer skips pinned copies. Never waits; shmg_wflag_pin's
 * bounded retries. Needs a circular buffer of >= 2 copies kept by a writer
 * of this guard. Returns as shmg_wflag_pin, and -EINVAL (no slot claimed),
 * -ENOTSUP (no such circular buffer, or its writer does not use the guard:
 * use shmg_isio_read).
 */
SHMG_EXPORT int shmg_isio_pin(const struct shmg_isio *s,
			      struct shmg_wflag_pinned *pin);

/* Drop this process's pin. Returns 0, SHMG_EREVOKED (the copy was, or may
 * have been, rewritten while pinned: the writer revoked the pin, or a
 * writer that ignores pins wrote the stream meanwhile; discard what was
 * computed from it), SHMG_ETRUNCATED, -EINVAL (no slot claimed), -ENOTSUP
 * (no circular buffer). */
SHMG_EXPORT int shmg_isio_unpin(const struct shmg_isio *s);

/*
 * Writer: what shmg_isio_write, shmg_isio_write_slice and shmg_isio_begin
 * do when readers pin every copy of the circular buffer but the newest:
 * SHMG_WFLAG_FULL_REVOKE (the default) revokes the pins on the oldest
 * copy and writes it, never waiting (those readers' unpin says
 * SHMG_EREVOKED); SHMG_WFLAG_FULL_WAIT polls for an unpin for at most
 * wait_ns (0: without limit, which a stopped reader makes forever), then
 * the write returns -ETIMEDOUT; SHMG_WFLAG_FULL_DROP returns -EAGAIN at
 * once. With those two the frame is not written (shmg_isio_begin returns
 * NULL) and nothing changes; pins of readers that are gone are revoked
 * first. Returns 0, -EINVAL (unknown `full`).
 */
SHMG_EXPORT int shmg_isio_pin_policy(struct shmg_isio *s, unsigned full,
				     uint64_t wait_ns);

/* ---------------------------------------------------------------- monitors */

/* Who writes the frames, from what the writer leaves in the file. */
enum shmg_isio_writer_kind {
	SHMG_ISIO_WRITER_UNKNOWN = 0, /* no frame yet, or no evidence either way */
	SHMG_ISIO_WRITER_GUARDED = 1, /* a writer of this guard (circular-buffer
				       * records it keeps; or ownerPID set and
				       * no circular buffer to tell by) */
	SHMG_ISIO_WRITER_LEGACY = 2,  /* frames come with circular-buffer records
				       * no guarded writer left (an unmodified
				       * ImageStreamIO writer, ownerPID or not) */
};

/* The stream's guard state (relaxed loads; never writes; a sized struct). */
struct shmg_isio_info {
	uint32_t size;        /* sizeof(struct shmg_isio_info) */
	char name[SHMG_ISIO_NAME_MAX + 1]; /* control characters shown as '?' */
	uint8_t write;        /* the write flag */
	uint8_t waiters;      /* the waiters byte after it */
	uint64_t cnt0, cnt1, cnt2;
	uint32_t cbindex;
	uint64_t cbcycle;
	int32_t creator_pid;
	int32_t owner_pid;    /* ownerPID: the guarded writer, 0 none */
	int owner_alive;      /* SHMG_PROC_ALIVE, SHMG_PROC_DEAD, -ENOENT, -errno */
	uint8_t semlog_damaged; /* 1: glibc would abort on the semlog */
	uint8_t writer_kind;  /* enum shmg_isio_writer_kind */
};

SHMG_EXPORT int shmg_isio_inspect(const struct shmg_isio *s,
				  struct shmg_isio_info *info);

/* Semaphore slot k (a sized struct). */
struct shmg_isio_slot_info {
	uint32_t size;      /* sizeof(struct shmg_isio_slot_info) */
	int value;          /* the semaphore's value (-1: damaged) */
	int32_t reader;     /* semReadPID[k]: -1 or 0 free */
	int reader_alive;   /* as owner_alive; a reader holding its slot
			     * lock counts as alive whatever its PID names
			     * here (another PID namespace, doc/pin.md) */
	int32_t poster;     /* semWritePID[k] */
	uint8_t damaged;    /* 1: glibc would abort on this semaphore (its
			     * words are not a semaphore's): writers skip it,
			     * shmg_isio_sem_wait refuses it (SHMG_EGARBAGE),
			     * shmg_isio_recover reinitialises it */
	int32_t pin_copy;   /* the circular-buffer copy the slot's reader
			     * pins (semstatus bits 4-31), or -1 (added in
			     * 0.2: a struct ending before it gets none) */
	/* Added with revocation (doc/pin.md), still in 0.2 (unreleased): */
	uint64_t pin_frame; /* the frame number the pinned copy holds (its
			     * record), 0 without a pin */
	int8_t pin_locked;  /* 1: a reader of this library holds the slot
			     * (its slot lock, which PID namespaces cannot
			     * fool); 0: nobody does, so a pin in it was not
			     * made by the recorded reader; -1: cannot tell */
	uint8_t pin_revoked; /* 1: the writer revoked the slot's pin, and
			      * its reader has not unpinned yet */
};

/* Returns 0, -ERANGE (k >= nsem), -EINVAL. */
SHMG_EXPORT int shmg_isio_inspect_slot(const struct shmg_isio *s, unsigned k,
				       struct shmg_isio_slot_info *info);

/*
 * Clear what dead processes left in the stream, by the guard's rules, never
 * what a live process holds (each step re-checks atomically: claims are
 * CASes from the dead value):
 *   - a writer that died mid-frame: with a circular buffer kept by the
 *     guard (CBsize >= 2 and ownerPID set), the newest complete copy is
 *     published as the next frame, so readers never get the partial one;
 *     else only with SHMG_RECOVER_BLANK, an all-zero frame;
 *   - a write flag set with no writer recorded (an unmodified ImageStreamIO
 *     writer never records itself): treated so only when no process maps
 *     the file (shmg_proc_mappers), with SHMG_RECOVER_BLANK; processes
 *     whose maps cannot be read (another user's) count as mappers, named
 *     in the step left alone, unless SHMG_RECOVER_ASSUME_UNMAPPED (the
 *     operator's statement that none of them maps it);
 *   - a write flag whose ownerPID names a live process that does not map
 *     the file (planted, or a writer that unmapped it mid-frame) is left
 *     alone with -EBUSY, naming force_pid, as `shmguard inspect` flags it;
 *   - a dead writer's record (write flag clear) is cleared;
 *   - semaphore slots of dead readers are freed, and their pins cleared
 *     (so the writer may rewrite the copies they pinned);
 *   - damaged semaphores (words glibc would abort on) are reinitialised.
 * opts->force_pid names a live writer or reader to treat as dead.
 * All or nothing: every step that can fail (reading /proc, memory, reading
 * the replacement frame, taking over as the writer) runs before the first
 * change, and a failure returns its code with the file unchanged. Steps
 * left alone (a live process, a value nobody writes) do not stop the others.
 * Each step is reported through opts->report (may be NULL).
 * One recovery of a file at a time (an OFD lock on the file, not taken by a
 * dry run): a second, from any process or handle, returns -EBUSY at once,
 * changing nothing, its detail naming the PID of the one that holds it.
 * Returns 0 (nothing to recover), SHMG_RECOVERED, or the negative code of
 * the first step left alone (-EBUSY: a live process; SHMG_EWRITERDEAD: a
 * partial frame that cannot be replaced without SHMG_RECOVER_BLANK;
 * SHMG_EGARBAGE: ownerPID holds a negative value) or failed; the other
 * steps still ran.
 */
SHMG_EXPORT int shmg_isio_recover(struct shmg_isio *s,
				  const struct shmg_recover_opts *opts);

SHMG_END_DECLS

#endif /* SHMGUARD_ISIO_H */
