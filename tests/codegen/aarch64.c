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
