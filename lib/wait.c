/*
 * Bounded waits on shared-memory words: monotonic deadlines, shared futexes,
 * spin-then-sleep. See include/shmguard/wait.h and doc/wait.md.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/wait.h>

#include "wait_internal.h"

/* Spin iterations before sleeping: a few microseconds of shmg_cpu_relax. */
#define WAIT_SPIN 128

SHMG_EXPORT int shmg_deadline_in(struct timespec *dl, uint64_t ns)
{
	struct timespec now;

	if (!dl)
		return -EINVAL;
	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return -errno;
	uint64_t sec = ns / 1000000000u + (uint64_t)now.tv_sec;
	long nsec = (long)(ns % 1000000000u) + now.tv_nsec;
	if (nsec >= 1000000000L) {
		nsec -= 1000000000L;
		sec++;
	}
	/* Saturate instead of wrapping: a huge timeout is "practically never". */
	if (sec > (uint64_t)INT64_MAX / 2)
		sec = (uint64_t)INT64_MAX / 2;
	dl->tv_sec = (time_t)sec;
	dl->tv_nsec = nsec;
	return 0;
}

static bool ts_passed(const struct timespec *dl, const struct timespec *now)
{
	return now->tv_sec > dl->tv_sec ||
	       (now->tv_sec == dl->tv_sec && now->tv_nsec >= dl->tv_nsec);
}

int shmg__wake_by(struct timespec *until, const struct timespec *deadline,
		  uint64_t ns)
{
	int err = shmg_deadline_in(until, ns);
	if (err)
		return err;
	if (deadline && ts_passed(deadline, until)) /* until >= deadline */
		*until = *deadline; /* the deadline comes first */
	return 0;
}

SHMG_EXPORT bool shmg_deadline_passed(const struct timespec *dl)
{
	struct timespec now;

	if (!dl)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ts_passed(dl, &now);
}

SHMG_EXPORT int shmg_futex_wait(const uint32_t *word, uint32_t expected,
				const struct timespec *deadline)
{
	if (!word || ((uintptr_t)word & 3))
		return -EINVAL;
	if (deadline && (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000L))
		return -EINVAL;
	if (deadline && shmg_deadline_passed(deadline))
		return -ETIMEDOUT;
	/*
	 * Shared futex (no FUTEX_PRIVATE_FLAG): for a MAP_SHARED file mapping the
	 * kernel keys it by inode and offset, so processes mapping the file at
	 * different addresses meet. FUTEX_WAIT_BITSET takes an ABSOLUTE timeout
	 * on CLOCK_MONOTONIC (no FUTEX_CLOCK_REALTIME), so repeated waits and
	 * restarts do not stretch the deadline.
	 */
	long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline,
			  NULL, FUTEX_BITSET_MATCH_ANY);
	if (rc == 0)
		return 0;
	switch (errno) {
	case EAGAIN:
		return 0; /* *word != expected on entry */
	case ETIMEDOUT:
		return -ETIMEDOUT;
	case EINTR:
		return -EINTR;
	default:
		return -errno;
	}
}

SHMG_EXPORT int shmg_futex_wake(const uint32_t *word, int n)
{
	if (!word || ((uintptr_t)word & 3) || n < 0)
		return -EINVAL;
	long rc = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return rc < 0 ? -errno : (int)rc;
}

SHMG_EXPORT int shmg_wait_u32_change(const uint32_t *word, uint32_t expected,
				     uint32_t mask,
				     const struct timespec *deadline)
{
	if (!word || ((uintptr_t)word & 3))
		return -EINVAL;
	expected &= mask;
	for (int i = 0; i < WAIT_SPIN; i++) {
		if ((shmg_atomic_load(word, relaxed) & mask) != expected)
			return 0;
		shmg_cpu_relax();
	}
	for (;;) {
		uint32_t v = shmg_atomic_load(word, relaxed);
		if ((v & mask) != expected)
			return 0;
		/*
		 * Sleep only while the WHOLE word still equals v: a change of any
		 * byte (even outside the mask) makes the kernel return at once,
		 * and we re-check. A change between our load and the syscall is
		 * caught by the kernel's own compare (no lost wake-up).
		 */
		int rc = shmg_futex_wait(word, v, deadline);
		if (rc == -ETIMEDOUT || rc == -EINTR) {
			/* Report success if the change raced with the timeout. */
			if ((shmg_atomic_load(word, relaxed) & mask) != expected)
				return 0;
			return rc;
		}
		if (rc)
			return rc;
	}
}
