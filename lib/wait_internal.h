/*
 * Internal to the library's waits (wflag, xlock): sleepers that must also
 * wake on their own, to probe a peer's liveness.
 */
#ifndef SHMG_WAIT_INTERNAL_H
#define SHMG_WAIT_INTERNAL_H

#include <stdint.h>
#include <time.h>

/* *until = the earlier of `deadline` (NULL: none) and now + ns (both
 * absolute CLOCK_MONOTONIC). Returns 0 or -errno. */
int shmg__wake_by(struct timespec *until, const struct timespec *deadline,
		  uint64_t ns);

#endif /* SHMG_WAIT_INTERNAL_H */
