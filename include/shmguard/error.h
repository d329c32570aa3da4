/*
 * shmguard/error.h: return codes, and the conventions every family follows.
 *
 * Results. A function that can fail returns int:
 *   0                 success;
 *   SHMG_OWNERDEAD    success, after taking over from a party that died
 *                     (a lock holder, a stream's writer): what it left may
 *                     be half done, and the function says what the caller
 *                     must do about it (for a lock: repair, then
 *                     shmg_xlock_consistent);
 *   SHMG_RECOVERED    success of a *_recover call that changed something;
 *   SHMG_STALE        success of a real-time read that kept the caller's
 *                     previous value (a writer held the lock throughout);
 *   < 0               failure, and nothing was changed: a negative errno
 *                     (-EINVAL, -ETIMEDOUT, -EINTR, ...) or one of the
 *                     SHMG_E* codes below, which sit in a band (-30999 ..
 *                     -30900) that no errno reaches, as LMDB's MDB_* codes.
 * So `err < 0` always means "it did not happen", and positive values are
 * notes on a success. Other results (a counter, a slot number, flags) go
 * through out-parameters, never through the return value. Operations that
 * cannot fail return void (or the value they read).
 *
 * The same failure, the same code, in every family:
 *   -EINVAL    bad arguments: a NULL handle, a bad flag, a misaligned
 *              offset (never -EFAULT), overlapping words, a sized struct
 *              whose size is 0 or too small;
 *   -ERANGE    an offset or index outside the region or the array;
 *   -E2BIG     a sized struct larger than this library knows, with
 *              non-zero bytes past what it knows;
 *   -EBUSY     a live party holds what was asked for (never robbed);
 *   -ETIMEDOUT a deadline (absolute, CLOCK_MONOTONIC) passed;
 *   -EINTR     a signal interrupted a wait (never reported as success).
 *
 * Details. After a failure, shmg_error_detail(err) gives one line that says
 * what exactly was wrong (which field, which value, what was expected), so
 * that a user can act on it; it falls back to shmg_strerror(err).
 *
 * Argument order: handle, path, what (parameters of the thing), mode,
 * flags, options. Handles that a call only reads are const. Taking over
 * what dead processes left is always called *_recover.
 */
#ifndef SHMGUARD_ERROR_H
#define SHMGUARD_ERROR_H

#include <stdint.h>

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

/* Success with a note (see above). */
#define SHMG_OWNERDEAD 1
#define SHMG_RECOVERED 2
#define SHMG_STALE 3 /* a real-time read kept the previous value: a writer
		      * held its lock through every look */

#define SHMG_E_FIRST (-30999)
enum {
	/* The previous owner died and nobody marked the data consistent. */
	SHMG_ENOTRECOVERABLE = -30998,
	/* A segment's size, version or fields do not match the expected
	 * layout (shmg_error_detail says which and how). */
	SHMG_ELAYOUT = -30997,
	/* A guard word holds a value no correct participant writes. */
	SHMG_EGARBAGE = -30996,
	/* The writer of a write-flag region died while writing. */
	SHMG_EWRITERDEAD = -30995,
	/* The writer rewrote the only copy faster than a reader could copy it,
	 * for every bounded retry. */
	SHMG_ETOOFAST = -30994,
	/* Data read is known to be torn (never handed out as a success). */
	SHMG_ETORN = -30993,
	/* The caller does not own the lock or stream it tried to release. */
	SHMG_ENOTOWNER = -30992,
	/* The calling thread already owns the lock (no recursion). */
	SHMG_EDEADLK = -30991,
	/* A frame counter moved backwards (the stream was recreated). */
	SHMG_ECOUNTER = -30990,
	/* The file was truncated under the mapping (SHMG_REGION_TRUNCATION):
	 * what was read is not the file's. */
	SHMG_ETRUNCATED = -30989,
	/* A pinned copy was rewritten while the caller held the pin (the
	 * writer revoked it rather than wait, or judged its reader gone, or a
	 * writer that ignores pins wrote the stream): what was computed from
	 * it must be discarded (doc/pin.md). */
	SHMG_EREVOKED = -30988,
};
#define SHMG_E_LAST (-30988)

/*
 * shmg_strerror: a static description of a result: 0, SHMG_OWNERDEAD,
 * SHMG_RECOVERED, SHMG_E* codes and negative errno values. Never NULL;
 * thread-safe.
 */
SHMG_EXPORT const char *shmg_strerror(int err);

/*
 * shmg_error_detail: what the last failing shmguard call of this thread
 * said about err, when it returned err: one line such as "version is
 * '1.04', expected '2.00'". Otherwise (another code, or nothing to add)
 * shmg_strerror(err). Valid until the thread's next shmguard call. Never
 * NULL.
 */
SHMG_EXPORT const char *shmg_error_detail(int err);

/* ---------------------------------------------------------------- recovery */

/* What a *_recover call may do (flags of struct shmg_recover_opts). */
enum shmg_recover_flags {
	SHMG_RECOVER_DRY_RUN = 1u << 0, /* change nothing; say what would be done */
	SHMG_RECOVER_BLANK = 1u << 1,   /* streams: publish an all-zero frame when
					 * no complete one can be restored */
	/* streams whose write flag is set with no writer recorded: the
	 * operator states that no process whose /proc/PID/maps this caller
	 * cannot read maps the file (the unmodified writer was killed), so
	 * the readable ones alone decide whether a writer is mid-frame. If
	 * one of them is that writer, still writing, the frame it finishes
	 * is torn for its readers. */
	SHMG_RECOVER_ASSUME_UNMAPPED = 1u << 2,
};

/*
 * Each step a *_recover call takes, or would take (dry run), or leaves
 * alone, in words ("publish frame 4 (a copy of complete frame 3) over dead
 * writer PID 812's partial frame"): result is SHMG_RECOVERED for a step
 * done (or that a dry run would do), or the negative code of a step left
 * alone or failed.
 */
typedef void (*shmg_recover_report_fn)(void *arg, int result, const char *text);

/* Options of the *_recover calls (NULL: all defaults, all zero; a sized
 * struct). */
struct shmg_recover_opts {
	uint32_t size;                 /* sizeof(struct shmg_recover_opts) */
	uint32_t flags;                /* enum shmg_recover_flags */
	shmg_recover_report_fn report; /* NULL: no report */
	void *report_arg;
	/* An operator's decision, never the library's: treat this live
	 * process as dead, so what it holds (a lock, a write flag, a writer
	 * record, a semaphore slot) is taken from it. If it is still running
	 * it may go on writing into what it no longer owns; the operator
	 * states that it is stuck or gone. 0: no such process. */
	int32_t force_pid;
};

SHMG_END_DECLS

#endif /* SHMGUARD_ERROR_H */
