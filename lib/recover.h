/*
 * What every *_recover call shares: its options, the report of each step,
 * and the overall result (include/shmguard/error.h, "recovery").
 */
#ifndef SHMG_RECOVER_H
#define SHMG_RECOVER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shmguard/error.h>

struct shmg__recovery {
	struct shmg_recover_opts opts; /* the caller's, or all defaults */
	int result; /* 0, SHMG_RECOVERED, or the first step's negative code */
	int failed; /* the first failure (not a step left alone), or 0 */
	int locked_fd; /* the file locked by shmg__recovery_lock, or -1 */
};

/* Start: copy the caller's options (NULL: defaults). 0 or -EINVAL/-E2BIG. */
int shmg__recovery_begin(struct shmg__recovery *rc,
			 const struct shmg_recover_opts *opts);

/*
 * Recoveries of one file exclude each other (lib/recover.c): an OFD write
 * lock on the file's first byte, held until shmg__recovery_unlock, and a
 * second one that names this process. 0 (locked, or the file system has no
 * such locks: the recovery's own CASes still keep it sound), or -EBUSY
 * with a detail naming the recovery that holds it.
 */
int shmg__recovery_lock(struct shmg__recovery *rc, int fd);
void shmg__recovery_unlock(struct shmg__recovery *rc);

/* A step left alone for a reason (a live holder, a value nobody writes, a
 * partial frame with nothing to replace it), as opposed to one that failed. */
static inline bool shmg__left_alone(int result)
{
	return result == -EBUSY || result == SHMG_EGARBAGE ||
	       result == SHMG_EWRITERDEAD || result == SHMG_ENOTRECOVERABLE;
}

/* Whether what `pid` holds may be taken: it is dead, or the operator
 * named it (opts.force_pid). */
bool shmg__counts_as_dead(const struct shmg__recovery *rc, int32_t pid);

/* Whether thread `tid` is, or belongs to, the process the operator named
 * in opts.force_pid. */
bool shmg__forced(const struct shmg__recovery *rc, int32_t tid);

/* "dead <role> PID n", or "<role> PID n (alive; named by force_pid)". */
void shmg__who(const struct shmg__recovery *rc, char *buf, size_t len,
	       const char *role, int32_t pid);

static inline bool shmg__dry_run(const struct shmg__recovery *rc)
{
	return rc->opts.flags & SHMG_RECOVER_DRY_RUN;
}

/* A step done (result SHMG_RECOVERED; "would " is put before the text on
 * a dry run) or left alone/failed (a negative result): reported, and
 * folded into rc->result. */
void shmg__step(struct shmg__recovery *rc, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SHMG_RECOVER_H */
