/*
 * shmguard/error.h: return codes.
 *
 * Every function that can fail returns int: 0 on success, a negative errno
 * value (-EINVAL, -ETIMEDOUT, -EINTR, ...) for ordinary failures, or one of
 * the SHMG_E* codes below for outcomes that only shmguard has. The SHMG_E*
 * codes sit in a reserved band (-30999 .. -30900) that no errno reaches, as
 * LMDB does with its MDB_* codes. shmg_strerror() names either kind.
 */
#ifndef SHMGUARD_ERROR_H
#define SHMGUARD_ERROR_H

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

#define SHMG_E_FIRST (-30999)
enum {
	/* Lock taken from a dead owner: the caller holds it, and must mark the
	 * protected data consistent or unlock to make it not recoverable. */
	SHMG_EOWNERDEAD = -30999,
	/* The previous owner died and nobody marked the data consistent. */
	SHMG_ENOTRECOVERABLE = -30998,
	/* A segment's size, version or fields do not match the expected layout. */
	SHMG_ELAYOUT = -30997,
	/* A guard word holds a value no correct participant writes. */
	SHMG_EGARBAGE = -30996,
	/* The writer of a write-flag region died while writing. */
	SHMG_EWRITERDEAD = -30995,
	/* The writer rewrote the only copy faster than a reader could copy it,
	 * for every bounded retry (single-buffer streams only). */
	SHMG_ETOOFAST = -30994,
	/* Data read is known to be torn (never handed out as a success). */
	SHMG_ETORN = -30993,
	/* The caller does not own the lock it tried to release or mark. */
	SHMG_ENOTOWNER = -30992,
	/* The calling process already owns the lock (no recursion). */
	SHMG_EDEADLK = -30991,
	/* A frame counter moved backwards or wrapped. */
	SHMG_ECOUNTER = -30990,
};
#define SHMG_E_LAST (-30990)

/*
 * shmg_strerror: a static, human-readable description of a return code:
 * SHMG_E* codes, negative errno values, and 0. Never NULL; thread-safe.
 */
SHMG_EXPORT const char *shmg_strerror(int err);

SHMG_END_DECLS

#endif /* SHMGUARD_ERROR_H */
