/* expect: OK */
/* The positive control: proves the harness can compile at all (and that a
 * dependency load and the dependency helpers do). */
#include <shmguard/atomic.h>
#include <stdint.h>
uint32_t f(uint32_t *p) { return shmg_atomic_load(p, acquire); }
uint32_t g(uint32_t **pp, uint32_t *q)
{
	uint32_t *p = shmg_atomic_load(pp, dependency);
	uint32_t v = shmg_atomic_load(p, relaxed);
	return v + shmg_atomic_load_with_dependency_on(q, v) +
	       *shmg_atomic_inject_dependency(q, shmg_atomic_make_dependency(p));
}
