/*
 * Every statement-expression macro of the public headers, expanded in code
 * that `make check` compiles with -std=c11 -pedantic-errors and, as C++,
 * with -std=c++11 -pedantic-errors (check-headers-alone): a user's strict
 * build sees no warning from shmguard's macros (they are __extension__).
 */
#include <shmguard.h>

unsigned long long shmg_pedantic_probe(unsigned long long *w, unsigned *u, unsigned char *buf);

unsigned long long shmg_pedantic_probe(unsigned long long *w, unsigned *u, unsigned char *buf)
{
	unsigned long long seen, ov, nv;
	shmg_atomic_store(w, 1, relaxed);
	seen = shmg_atomic_load(w, acquire);
	seen += shmg_atomic_add(w, 2, acq_rel) + shmg_atomic_add_orig(w, 2, relaxed);
	seen += shmg_atomic_sub(w, 1, release) + shmg_atomic_sub_orig(w, 1, relaxed);
	seen += shmg_atomic_or(w, 8, relaxed) + shmg_atomic_or_orig(w, 8, relaxed);
	seen += shmg_atomic_and(w, 15, relaxed) + shmg_atomic_and_orig(w, 15, relaxed);
	seen += shmg_atomic_xor(w, 1, relaxed) + shmg_atomic_xor_orig(w, 1, relaxed);
	seen += shmg_atomic_andnot(w, 2, relaxed) + shmg_atomic_andnot_orig(w, 2, relaxed);
	seen += shmg_atomic_inc(w, relaxed) + shmg_atomic_inc_orig(w, relaxed);
	seen += shmg_atomic_dec(w, relaxed) + shmg_atomic_dec_orig(w, relaxed);
	seen += shmg_atomic_xchg(w, 3, seq_cst);
	seen += shmg_atomic_cmpxchg(w, 3, 4, acquire);
	seen += shmg_atomic_cmpxchgv(w, 4, 5, &ov, release);
	shmg_atomic_rmw_loop(u, ov, nv, acq_rel, {
		if (ov > 100)
			shmg_atomic_rmw_loop_give_up(break);
		nv = ov + 1;
	});
	shmg_atomic_thread_fence(seq_cst);
	shmg_compiler_barrier(acq_rel);
	shmg_cpu_relax();
	seen += shmg_atomic_load(w, dependency);
	seen += shmg_atomic_load_with_dependency_on(u, seen);
	seen += shmg_atomic_load(shmg_atomic_inject_dependency(u, shmg_atomic_make_dependency(seen)),
				 relaxed);
	shmg_atomic_load_memcpy(buf, buf + 8, 8, acquire);
	shmg_atomic_store_memcpy(buf + 8, buf, 8, release);
	return seen + ov + nv;
}
