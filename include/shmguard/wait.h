/*
 * shmguard/wait.h: bounded waiting on words in shared memory.
 *
 * Waiting escalates: a short spin with shmg_cpu_relax(), then sleeping on a
 * shared futex (never FUTEX_PRIVATE_FLAG: processes that map the segment at
 * different addresses still meet, the kernel keys shared futexes by page and
 * offset). Deadlines are absolute CLOCK_MONOTONIC times; NULL means none.
 * Timeouts and signals are reported as such (-ETIMEDOUT, -EINTR), never as
 * success.
 */
#ifndef SHMGUARD_WAIT_H
#define SHMGUARD_WAIT_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stdint.h>
#include <time.h>

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

/* *dl = now (CLOCK_MONOTONIC) + ns. Returns 0 or -errno. */
SHMG_EXPORT int shmg_deadline_in(struct timespec *dl, uint64_t ns);

/* true iff the deadline (may be NULL: never) has passed. */
SHMG_EXPORT bool shmg_deadline_passed(const struct timespec *dl);

/*
 * Sleep while *word == expected (a 4-byte aligned word in shared memory).
 * Returns 0 when woken or the value differed on entry (the caller re-checks
 * its condition: wake-ups can be spurious), -ETIMEDOUT at the deadline,
 * -EINTR on a signal, -EINVAL for a misaligned word.
 */
SHMG_EXPORT int shmg_futex_wait(const uint32_t *word, uint32_t expected,
				const struct timespec *deadline);

/* Wake up to n sleepers on word (n = INT32_MAX: all). Returns the number
 * woken, or -errno. */
SHMG_EXPORT int shmg_futex_wake(const uint32_t *word, int n);

/*
 * Wait until (*word & mask) != (expected & mask): spin, then futex-sleep on
 * the word. The mask exists because a futex must be a whole aligned 4-byte
 * word, while the field a caller watches may be narrower (ImageStreamIO's
 * 1-byte `write` flag shares its word with unrelated neighbours): changes
 * outside the mask wake the sleeper (the kernel compares the whole word) but
 * do not end the wait; it re-checks and sleeps again. The waiter must be woken by whoever changes the word (a
 * shmg_futex_wake after the store). Returns 0 once the change was observed
 * (no ordering: the caller loads again with the ordering it needs),
 * -ETIMEDOUT, or -EINTR.
 */
SHMG_EXPORT int shmg_wait_u32_change(const uint32_t *word, uint32_t expected,
				     uint32_t mask,
				     const struct timespec *deadline);

SHMG_END_DECLS

#endif /* SHMGUARD_WAIT_H */
