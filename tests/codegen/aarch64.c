/* Functions whose AArch64 code tests/cross/check-cross.sh inspects: the
 * rmw_loop is one inline LL/SC loop, where a hand-written CAS loop calls an
 * out-of-line libgcc helper on every attempt (Debian's -moutline-atomics). */
#include <shmguard/atomic.h>
#include <stdint.h>

uint64_t cg_rmw_loop(uint64_t *p)
{
	uint64_t o, n;
	shmg_atomic_rmw_loop(p, o, n, acq_rel, { n = o * 3 + 1; });
	return o;
}

uint64_t cg_cas_loop(uint64_t *p)
{
	uint64_t o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
	do
		n = o * 3 + 1;
	while (!__atomic_compare_exchange_n(p, &o, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	return o;
}

/* The latch reader's chain (lib/wflag_read.c, read_latch) with the
 * dependency order: the index, then the sequence word at an address
 * computed from it, then a byte of the copy at an address carrying the
 * sequence word's dependency. No acquire load (ldar, ldapr) and no barrier
 * (dmb) may appear: the address dependencies order the loads. */
uint64_t cg_dependency_chain(const uint32_t *index, const uint64_t *seqs,
			     const unsigned char *data)
{
	uint32_t i = shmg_atomic_load(index, dependency);
	uint64_t q = shmg_atomic_load(&seqs[i], dependency);
	const unsigned char *src = shmg_atomic_inject_dependency(
		data + (uint64_t)i * 64, shmg_atomic_make_dependency(q));
	return q + shmg_atomic_load(src, relaxed);
}

/* The control: the same chain with acquire loads (ldar or ldapr). */
uint64_t cg_acquire_chain(const uint32_t *index, const uint64_t *seqs,
			  const unsigned char *data)
{
	uint32_t i = shmg_atomic_load(index, acquire);
	uint64_t q = shmg_atomic_load(&seqs[i], acquire);
	return q + shmg_atomic_load(data + (uint64_t)i * 64, relaxed);
}
