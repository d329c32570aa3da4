/*
 * What every *_recover call shares: its options, the report of each step,
 * and the overall result (include/shmguard/error.h, "recovery").
 */
#ifndef SHMG_RECOVER_H
#define SHMG_RECOVER_H

#include <stdbool.h>

#include <shmguard/error.h>

struct shmg__recovery {
	struct shmg_recover_opts opts; /* the caller's, or all defaults */
	int result; /* 0, SHMG_RECOVERED, or the first step's negative code */
};

/* Start: copy the caller's options (NULL: defaults). 0 or -EINVAL/-E2BIG. */
int shmg__recovery_begin(struct shmg__recovery *rc,
			 const struct shmg_recover_opts *opts);

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
