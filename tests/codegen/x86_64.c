/* Functions whose x86-64 code tests/codegen-x86_64.sh inspects at -O2. */
#include <shmguard/atomic.h>
#include <stdint.h>

uint64_t cg_load_acquire(const uint64_t *p) { return shmg_atomic_load(p, acquire); }
uint64_t cg_load_dependency(const uint64_t *p) { return shmg_atomic_load(p, dependency); }
void cg_store_release(uint64_t *p, uint64_t v) { shmg_atomic_store(p, v, release); }
void cg_store_seq_cst(uint64_t *p, uint64_t v) { shmg_atomic_store(p, v, seq_cst); }
void cg_fence_acquire(void) { shmg_atomic_thread_fence(acquire); }
void cg_fence_release(void) { shmg_atomic_thread_fence(release); }
void cg_fence_acq_rel(void) { shmg_atomic_thread_fence(acq_rel); }
void cg_fence_seq_cst(void) { shmg_atomic_thread_fence(seq_cst); }
void cg_compiler_barrier(void) { shmg_compiler_barrier(seq_cst); }
uint32_t cg_inc_orig_relaxed(uint32_t *p) { return shmg_atomic_inc_orig(p, relaxed); }
bool cg_cmpxchg(uint64_t *p, uint64_t e, uint64_t v) { return shmg_atomic_cmpxchg(p, e, v, acq_rel); }

/* Not coalesced: four relaxed stores to one word stay four stores... */
void cg_four_stores(uint32_t *p)
{
	shmg_atomic_store(p, 1, relaxed);
	shmg_atomic_store(p, 2, relaxed);
	shmg_atomic_store(p, 3, relaxed);
	shmg_atomic_store(p, 4, relaxed);
}
/* ...where plain stores become one (the control that shows the check works). */
void cg_four_plain_stores(uint32_t *p) { *p = 1; *p = 2; *p = 3; *p = 4; }

/* Not hoisted: a spin on a relaxed load keeps loading... */
void cg_spin(const uint32_t *p)
{
	while (!shmg_atomic_load(p, relaxed))
		;
}
/* ...where a plain spin loads once and loops on a register (the control). */
void cg_plain_spin(const uint32_t *p)
{
	while (!*p)
		;
}
