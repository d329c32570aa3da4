/*
 * Real-time reads of FPS parameters (shmg_fps_read_rt in
 * include/shmguard/milk.h; doc/milk.md, "Real-time reads"): a SCHED_FIFO
 * loop reading its gain every iteration must never wait for a GUI process
 * preempted inside a set. So the read takes no lock and writes nothing: it
 * is a seqlock reader whose sequence is the pair (lock word, cnt0).
 *
 * A setter, under the lock: release fence, value (byte-wise atomic
 * stores), cnt0 + 1 (release store), unlock (release). The reader:
 *
 *   w1 = lock word (acquire); not unlocked: look again
 *   c1 = cnt0 (acquire)
 *   copy the value (byte-wise atomic loads)
 *   acquire fence
 *   w2 = lock word (acquire); c2 = cnt0
 *   consistent iff w1 == w2 == unlocked and c1 == c2
 *
 * Accepted with c1 == c2 == c: let S be the set that stored c (cnt0 only
 * moves under the lock, by one, and never wraps: its values name sets).
 * Every byte copied is S's (or the initial value's, if no set stored c):
 *  - not an earlier set's: c1 read S's release store of cnt0, which
 *    follows S's value stores, so those happen before the copy (C11
 *    7.17.3 synchronizes-with, 5.1.2.4 write-read coherence);
 *  - not a later set's, T: if the copy read a byte of T, T's release fence
 *    and the reader's acquire fence synchronize (C11 7.17.4), so T's lock
 *    store happens before the load of w2, which sees the lock held or a
 *    later unlock; an unlock is a release after T's cnt0 store and w2 an
 *    acquire load before c2, so then c2 != c.
 * The first check, w1, only spares a copy that a held lock would spoil: the
 * argument does not need it. The release store of cnt0 is what
 * aarch64, POWER and RISC-V need: with a relaxed one, S's count may be seen
 * before S's value bytes, and a reader that read w1 before S took the lock
 * accepts half of S's value and half of its predecessor's. x86 keeps
 * stores in order and cannot show it; tests/spin/fps_rt.pml checks the
 * protocol with store->store and load->load reordering (mutant
 * RELAXED_CNT is the relaxed store) and tests/codegen-fps-aarch64.sh that
 * the compiled setter stores cnt0 with a release store. tests/check_milk.c,
 * rt_reads_never_torn, races setters with readers and checks every value
 * read was written whole.
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
