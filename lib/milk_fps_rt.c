/*
 * Real-time reads of FPS parameters (shmg_fps_read_rt in
 * include/shmguard/milk.h; doc/milk.md, "Real-time reads"): a SCHED_FIFO
 * loop reading its gain every iteration must never wait for a GUI process
 * preempted inside a set. So the read takes no lock and writes nothing: it
 * is a seqlock reader whose sequence is the pair (lock word, cnt0).
 *
 * A setter, under the lock: release fence, value (byte-wise atomic
 * stores), cnt0 + 1, unlock (release). The reader:
 *
 *   w1 = lock word (acquire); not unlocked: look again
 *   c1 = cnt0 (acquire)
 *   copy the value (byte-wise atomic loads)
 *   acquire fence
 *   w2 = lock word (acquire); c2 = cnt0
 *   consistent iff w1 == w2 == unlocked and c1 == c2
 *
 * If the copy read any byte of a set, the setter's release fence and the
 * reader's acquire fence synchronize (C11 7.17.4): the lock store before
 * that fence happens before the reader's load of w2, which therefore sees
 * the lock held, or a later unlock; that unlock is a release after the
 * setter's cnt0 + 1, and w2 is an acquire load read before c2, so c2 then
 * differs from c1. A set entirely between w1 and c1 leaves c1 new and the
 * value whole. tests/check_milk.c, rt_reads_never_torn, races setters
 * with readers and checks every value read was written whole.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/memcpy.h>
#include <shmguard/milk.h>

#include "detail.h"
#include "milk_internal.h"

SHMG_EXPORT int shmg_fps_read_rt(const struct shmg_fps *f, unsigned i, void *val,
				 size_t len, int64_t *cnt)
{
	unsigned char copy[SHMG_FPS_VAL_MAX];

	if (i >= f->nparam)
		return shmg__fail(-ERANGE, "parameter %u: the FPS has %u", i, f->nparam);
	if ((!val && len) || len > SHMG_FPS_VAL_MAX)
		return shmg__fail(-EINVAL, "a value of at most %d bytes expected", SHMG_FPS_VAL_MAX);
	const unsigned char *rec = fps_record(f, i);
	const uint64_t *lock = (const uint64_t *)(const void *)(rec + FPS_USERFLAG);
	const int64_t *cnt0 = fps_cnt0(f, i);
	for (unsigned tries = 0; tries < SHMG_FPS_RT_TRIES; tries++) {
		uint64_t w1 = shmg_atomic_load(lock, acquire);
		if (w1 != 0) { /* held (or poisoned): the value may be half written */
			shmg_cpu_relax();
			continue;
		}
		int64_t c1 = shmg_atomic_load(cnt0, acquire);
		shmg_atomic_load_memcpy(copy, rec + FPS_VAL, len, acquire);
		uint64_t w2 = shmg_atomic_load(lock, acquire);
		int64_t c2 = shmg_atomic_load(cnt0, relaxed);
		if (w2 != 0 || c2 != c1)
			continue;
		if (shmg__truncated(f->region))
			return SHMG_ETRUNCATED;
		memcpy(val, copy, len);
		if (cnt)
			*cnt = c1;
		return 0;
	}
	return milk_result(f->region, SHMG_STALE);
}
