/*
 * Unit suite for shmguard/atomic.h: every operation at every size and every
 * ordering token, the return conventions, and multi-process hammers over
 * real MAP_SHARED memory with exact final values.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include <shmguard/atomic.h>

#include "testutil.h"

/* Every operation of one type T under ordering o (RMW orderings). The
 * expected values are computed in T, so signed types wrap as the
 * builtins do (two's complement). */
#define RMW_CHECKS(T, o)                                                       \
	do {                                                                   \
		T w = (T)5, g = 0;                                             \
		ck_assert(shmg_atomic_add(&w, 3, o) == (T)8);                  \
		ck_assert(shmg_atomic_add_orig(&w, 2, o) == (T)8 && w == (T)10); \
		ck_assert(shmg_atomic_sub(&w, 4, o) == (T)6);                  \
		ck_assert(shmg_atomic_sub_orig(&w, 1, o) == (T)6 && w == (T)5); \
		ck_assert(shmg_atomic_or(&w, 0x30, o) == (T)0x35);             \
		ck_assert(shmg_atomic_or_orig(&w, 0x40, o) == (T)0x35 && w == (T)0x75); \
		ck_assert(shmg_atomic_and(&w, 0x3c, o) == (T)0x34);            \
		ck_assert(shmg_atomic_and_orig(&w, 0x14, o) == (T)0x34 && w == (T)0x14); \
		ck_assert(shmg_atomic_xor(&w, 0x11, o) == (T)0x05);            \
		ck_assert(shmg_atomic_xor_orig(&w, 0x05, o) == (T)0x05 && w == (T)0); \
		ck_assert(shmg_atomic_inc(&w, o) == (T)1);                     \
		ck_assert(shmg_atomic_inc_orig(&w, o) == (T)1 && w == (T)2);   \
		ck_assert(shmg_atomic_dec(&w, o) == (T)1);                     \
		ck_assert(shmg_atomic_dec_orig(&w, o) == (T)1 && w == (T)0);   \
		ck_assert(shmg_atomic_dec(&w, o) == (T)-1); /* wraps */        \
		w = (T)0x77;                                                   \
		ck_assert(shmg_atomic_andnot(&w, 0x07, o) == (T)0x70);         \
		ck_assert(shmg_atomic_andnot_orig(&w, 0x10, o) == (T)0x70 && w == (T)0x60); \
		ck_assert(shmg_atomic_xchg(&w, 9, o) == (T)0x60 && w == (T)9); \
		ck_assert(!shmg_atomic_cmpxchg(&w, 8, 1, o) && w == (T)9);     \
		ck_assert(shmg_atomic_cmpxchg(&w, 9, 1, o) && w == (T)1);      \
		ck_assert(!shmg_atomic_cmpxchgv(&w, 7, 2, &g, o) && g == (T)1 && w == (T)1); \
		ck_assert(shmg_atomic_cmpxchgv(&w, 1, 2, &g, o) && g == (T)1 && w == (T)2); \
	} while (0)

#define LOAD_STORE_CHECKS(T)                                                   \
	do {                                                                   \
		T w = 0;                                                       \
		const T *cw = &w;                                              \
		shmg_atomic_store(&w, 11, relaxed);                            \
		ck_assert(shmg_atomic_load(cw, relaxed) == (T)11);             \
		shmg_atomic_store(&w, 12, release);                            \
		ck_assert(shmg_atomic_load(cw, acquire) == (T)12);             \
		shmg_atomic_store(&w, 13, seq_cst);                            \
		ck_assert(shmg_atomic_load(cw, seq_cst) == (T)13);             \
	} while (0)

#define ALL_CHECKS(T)                                                          \
	do {                                                                   \
		LOAD_STORE_CHECKS(T);                                          \
		RMW_CHECKS(T, relaxed);                                        \
		RMW_CHECKS(T, acquire);                                        \
		RMW_CHECKS(T, release);                                        \
		RMW_CHECKS(T, acq_rel);                                        \
		RMW_CHECKS(T, seq_cst);                                        \
	} while (0)

START_TEST(every_op_every_size_every_order)
{
#if TU_SUBWORD_ATOMICS
	ALL_CHECKS(uint8_t);
	ALL_CHECKS(int8_t);
	ALL_CHECKS(uint16_t);
	ALL_CHECKS(int16_t);
#endif
	ALL_CHECKS(uint32_t);
	ALL_CHECKS(int32_t);
	ALL_CHECKS(uint64_t);
	ALL_CHECKS(int64_t);
}
END_TEST

/* The plain form returns the value after, _orig the value before. */
START_TEST(orig_and_new_conventions)
{
	uint32_t w = 0;
	ck_assert_uint_eq(shmg_atomic_inc_orig(&w, relaxed), 0);
	ck_assert_uint_eq(shmg_atomic_inc(&w, relaxed), 2);
	ck_assert_uint_eq(shmg_atomic_or_orig(&w, 0x10, acq_rel), 2);
	ck_assert_uint_eq(shmg_atomic_andnot(&w, 0x2, release), 0x10);
	/* (or_orig & bit) tells whether the bit was already set */
	ck_assert_uint_eq(shmg_atomic_or_orig(&w, 0x10, relaxed) & 0x10, 0x10);
	ck_assert_uint_eq(shmg_atomic_or_orig(&w, 0x20, relaxed) & 0x20, 0);
}
END_TEST

/* A narrow unsigned mask must not clear the high half of a wide object:
 * ~0x1u is 0xfffffffe, which would, unless converted first. */
START_TEST(andnot_narrow_mask_keeps_high_bits)
{
	uint64_t w = UINT64_MAX;
	ck_assert_uint_eq(shmg_atomic_andnot(&w, 0x1u, relaxed), UINT64_MAX - 1);
	ck_assert_uint_eq(shmg_atomic_andnot_orig(&w, (uint8_t)0x2, relaxed), UINT64_MAX - 1);
	ck_assert_uint_eq(w, UINT64_MAX - 3);
}
END_TEST

/* Values wider than the object are converted to its type first. */
START_TEST(values_converted_to_object_type)
{
	uint32_t w = 0xfffffffa;
	ck_assert_uint_eq(shmg_atomic_add(&w, 10ull, relaxed), 4);
	shmg_atomic_store(&w, 0x1ffffffffull, relaxed);
	ck_assert_uint_eq(w, 0xffffffff);
#if TU_SUBWORD_ATOMICS
	uint8_t b = 250;
	ck_assert_uint_eq(shmg_atomic_add(&b, 10, relaxed), 4);
	shmg_atomic_store(&b, 0x1ff, relaxed);
	ck_assert_uint_eq(b, 0xff);
#endif
}
END_TEST

/* Values with the top bit set, where a register's sign extension matters
 * (GCC 12 on riscv64 reported success for a CAS that stored nothing). */
START_TEST(cas_with_top_bit_set)
{
	uint32_t w32 = UINT32_C(0xDA000A8A), g32;
	/* the value arrives in 64 bits, from memory (not folded as a constant) */
	volatile uint64_t source = UINT64_C(0xDA000A8A);
	uint64_t wide = source;
	ck_assert(shmg_atomic_cmpxchg(&w32, wide, 0, release));
	ck_assert_uint_eq(w32, 0);
	w32 = UINT32_C(0x80000000);
	ck_assert(shmg_atomic_cmpxchgv(&w32, UINT64_C(0x80000000), 5, &g32, acquire));
	ck_assert_uint_eq(w32, 5);
	ck_assert(!shmg_atomic_cmpxchgv(&w32, UINT64_C(0xFFFFFFFF), 6, &g32, acquire));
	ck_assert_uint_eq(g32, 5);
	uint64_t w64 = UINT64_C(0x80000000DA000A8A);
	ck_assert(shmg_atomic_cmpxchg(&w64, UINT64_C(0x80000000DA000A8A), 1, acq_rel));
	ck_assert_uint_eq(w64, 1);
}
END_TEST

START_TEST(pointers_and_bools)
{
	int a = 1, c = 2;
	int *p = &a, *seen = NULL;
	ck_assert_ptr_eq(shmg_atomic_load(&p, acquire), &a);
	ck_assert_ptr_eq(shmg_atomic_xchg(&p, &c, acq_rel), &a);
	ck_assert(!shmg_atomic_cmpxchgv(&p, &a, &a, &seen, acq_rel));
	ck_assert_ptr_eq(seen, &c);
	ck_assert(shmg_atomic_cmpxchg(&p, &c, &a, release));
	ck_assert_ptr_eq(p, &a);

#if TU_SUBWORD_ATOMICS
	bool flag = false;
	ck_assert(!shmg_atomic_xchg(&flag, true, acquire));
	ck_assert(shmg_atomic_load(&flag, relaxed));
#endif
}
END_TEST

/* Fields that are already volatile (as ImageStreamIO's proposed `write` was)
 * work, and so do const objects for loads. */
START_TEST(volatile_and_const_objects)
{
	struct { volatile uint32_t write; const uint64_t fixed; } s = {0, 7};
	shmg_atomic_store(&s.write, 1, relaxed);
	ck_assert_uint_eq(shmg_atomic_xchg(&s.write, 0, release), 1);
	ck_assert_uint_eq(shmg_atomic_load(&s.fixed, acquire), 7);
	uint32_t seen;
	ck_assert(shmg_atomic_cmpxchgv(&s.write, 0, 1, &seen, acq_rel));
	ck_assert_uint_eq(seen, 0);
#if TU_SUBWORD_ATOMICS
	volatile uint8_t byte = 0; /* as ImageStreamIO's proposed volatile `write` */
	shmg_atomic_store(&byte, 1, release);
	ck_assert_uint_eq(shmg_atomic_xchg(&byte, 0, acq_rel), 1);
#endif
}
END_TEST

START_TEST(rmw_loop_updates_and_gives_up)
{
	uint32_t w = 10, ov, nv;

	/* a saturating add */
	bool ok = shmg_atomic_rmw_loop(&w, ov, nv, acq_rel, {
		nv = ov + 5 > 12 ? 12 : ov + 5;
	});
	ck_assert(ok);
	ck_assert_uint_eq(ov, 10);
	ck_assert_uint_eq(w, 12);

	/* give up with break: returns false, nothing stored */
	ok = shmg_atomic_rmw_loop(&w, ov, nv, acquire, {
		if (ov == 12)
			shmg_atomic_rmw_loop_give_up(break);
		nv = 0;
	});
	ck_assert(!ok);
	ck_assert_uint_eq(w, 12);
	ck_assert_uint_eq(ov, 12);

	/* give up with goto: a store that the loop body may not do, then redo */
	int redone = 0;
again:
	ok = shmg_atomic_rmw_loop(&w, ov, nv, release, {
		if (ov == 12)
			shmg_atomic_rmw_loop_give_up({
				w = 3; /* outside the loop: allowed */
				redone++;
				goto again;
			});
		nv = ov * 2;
	});
	ck_assert(ok);
	ck_assert_int_eq(redone, 1);
	ck_assert_uint_eq(w, 6);

	/* every size */
#if TU_SUBWORD_ATOMICS
	uint8_t b = 0xf0, bo, bn;
	ck_assert(shmg_atomic_rmw_loop(&b, bo, bn, relaxed, { bn = (uint8_t)(bo | 0x0f); }));
	ck_assert_uint_eq(b, 0xff);
	uint16_t h = 1, ho, hn;
	ck_assert(shmg_atomic_rmw_loop(&h, ho, hn, seq_cst, { hn = (uint16_t)(ho << 4); }));
	ck_assert_uint_eq(h, 16);
#endif
	uint64_t q = 1, qo, qn;
	ck_assert(shmg_atomic_rmw_loop(&q, qo, qn, acq_rel, { qn = qo << 40; }));
	ck_assert_uint_eq(q, 1ull << 40);
}
END_TEST

START_TEST(fences_barriers_relax_compile_and_run)
{
	shmg_atomic_thread_fence(acquire);
	shmg_atomic_thread_fence(release);
	shmg_atomic_thread_fence(acq_rel);
	shmg_atomic_thread_fence(seq_cst);
	shmg_compiler_barrier(acquire);
	shmg_compiler_barrier(release);
	shmg_compiler_barrier(acq_rel);
	shmg_compiler_barrier(seq_cst);
	for (int i = 0; i < 100; i++)
		shmg_cpu_relax();
}
END_TEST

/* ---- several processes over MAP_SHARED memory ---- */

enum { WORKERS = 4, ROUNDS = 200000, CAP = 50000 };

struct hammer_area {
	uint32_t arrived;
	uint64_t add64;     /* add */
	uint32_t cas32;     /* cmpxchg increment loop */
	uint8_t add8;       /* add on a byte: wraps mod 256 (subword targets) */
	uint32_t capped;    /* rmw_loop: saturating increment */
	uint32_t bits32;    /* rmw_loop: each worker toggles its own bit */
	uint64_t loop64;    /* rmw_loop: increment */
	uint64_t toggles[WORKERS];
};

static void hammer(struct hammer_area *a, int id)
{
	uint32_t bit = 1u << id;

	tu_start_line(&a->arrived, WORKERS);
	for (int i = 0; i < ROUNDS; i++) {
		shmg_atomic_add(&a->add64, 3, relaxed);
#if TU_SUBWORD_ATOMICS
		shmg_atomic_inc(&a->add8, relaxed);
#endif

		uint32_t seen = shmg_atomic_load(&a->cas32, relaxed);
		while (!shmg_atomic_cmpxchgv(&a->cas32, seen, seen + 1, &seen, acq_rel))
			;

		uint32_t oc, nc;
		shmg_atomic_rmw_loop(&a->capped, oc, nc, relaxed, {
			if (oc == CAP)
				shmg_atomic_rmw_loop_give_up(break);
			nc = oc + 1;
		});

		uint32_t ob, nb;
		shmg_atomic_rmw_loop(&a->bits32, ob, nb, acq_rel, { nb = ob ^ bit; });
		if (!(ob & bit))
			a->toggles[id]++; /* own slot: counts 0 -> 1 transitions */

		uint64_t o64, n64;
		shmg_atomic_rmw_loop(&a->loop64, o64, n64, release, { n64 = o64 + 1; });
	}
}

START_TEST(processes_lose_no_update)
{
	struct hammer_area *a = tu_shared_alloc(sizeof(*a));
	pid_t pids[WORKERS];

	for (int w = 0; w < WORKERS; w++) {
		pids[w] = tu_fork();
		if (pids[w] == 0) {
			hammer(a, w);
			_exit(0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		tu_wait_ok(pids[w]);
	ck_assert_uint_eq(a->add64, 3ull * WORKERS * ROUNDS);
#if TU_SUBWORD_ATOMICS
	ck_assert_uint_eq(a->add8, (uint8_t)(WORKERS * ROUNDS));
#endif
	ck_assert_uint_eq(a->cas32, (uint32_t)WORKERS * ROUNDS);
	ck_assert_uint_eq(a->capped, CAP); /* WORKERS * ROUNDS > CAP */
	ck_assert_uint_eq(a->loop64, (uint64_t)WORKERS * ROUNDS);
	/* ROUNDS is even: every bit was toggled back to 0, half the toggles set it */
	ck_assert_uint_eq(a->bits32, 0);
	for (int w = 0; w < WORKERS; w++)
		ck_assert_uint_eq(a->toggles[w], ROUNDS / 2);
	tu_shared_free(a, sizeof(*a));
}
END_TEST

/*
 * Message passing between two processes: the payload is written before the
 * flag (release store, or relaxed store after a release fence) and read
 * after it (acquire load, or relaxed load before an acquire fence); a reader
 * that sees flag i must see payload >= i. On x86 (TSO) this mainly checks
 * that the compiler keeps the order; on weakly ordered CPUs it also checks
 * the fences.
 */
enum { MP_ROUNDS = 1000000 };

struct mp_area {
	uint32_t arrived;
	uint64_t payload;
	uint64_t flag;
	uint64_t stale;
};

static void mp_writer(struct mp_area *a, int fenced)
{
	tu_start_line(&a->arrived, 2);
	for (uint64_t i = 1; i <= MP_ROUNDS; i++) {
		shmg_atomic_store(&a->payload, i, relaxed);
		if (fenced) {
			shmg_atomic_thread_fence(release);
			shmg_atomic_store(&a->flag, i, relaxed);
		} else {
			shmg_atomic_store(&a->flag, i, release);
		}
	}
}

static void mp_reader(struct mp_area *a, int fenced)
{
	uint64_t f = 0;
	tu_start_line(&a->arrived, 2);
	while (f < MP_ROUNDS) {
		uint64_t d;
		if (fenced) {
			f = shmg_atomic_load(&a->flag, relaxed);
			shmg_atomic_thread_fence(acquire);
		} else {
			f = shmg_atomic_load(&a->flag, acquire);
		}
		d = shmg_atomic_load(&a->payload, relaxed);
		if (d < f)
			a->stale++;
	}
}

START_TEST(message_passing_across_processes)
{
	int fenced = _i;
	struct mp_area *a = tu_shared_alloc(sizeof(*a));
	pid_t pid = tu_fork();
	if (pid == 0) {
		mp_writer(a, fenced);
		_exit(0);
	}
	mp_reader(a, fenced);
	tu_wait_ok(pid);
	ck_assert_uint_eq(a->stale, 0);
	tu_shared_free(a, sizeof(*a));
}
END_TEST

/* The dependency order's helpers change no value: a dependency load reads
 * what a relaxed one would, a token is zero, an injected pointer is the
 * same pointer, a load with a dependency on a value reads the object. (Their
 * ordering is the CPU's: tests/codegen/aarch64.c shows the instructions.) */
START_TEST(dependency_helpers_change_no_value)
{
	uint64_t words[4] = {11, 22, 33, 44};
	uint64_t *table[2] = {&words[1], &words[3]};
	uint64_t *p = shmg_atomic_load(&table[1], dependency);
	ck_assert_ptr_eq(p, &words[3]);
	uint64_t v = shmg_atomic_load(p, dependency);
	ck_assert_uint_eq(v, 44);
	shmg_dependency_t d = shmg_atomic_make_dependency(v);
	ck_assert_uint_eq(d.shmg__opaque_zero, 0);
	ck_assert_ptr_eq(shmg_atomic_inject_dependency(&words[0], d), &words[0]);
	ck_assert_uint_eq(shmg_atomic_load_with_dependency_on(&words[2], v), 33);
	ck_assert_uint_eq(shmg_atomic_load_with_dependency_on(&words[2], p), 33);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("atomic");
	TCase *tc = tcase_create("operations");
	tcase_add_test(tc, every_op_every_size_every_order);
	tcase_add_test(tc, dependency_helpers_change_no_value);
	tcase_add_test(tc, orig_and_new_conventions);
	tcase_add_test(tc, andnot_narrow_mask_keeps_high_bits);
	tcase_add_test(tc, values_converted_to_object_type);
	tcase_add_test(tc, cas_with_top_bit_set);
	tcase_add_test(tc, pointers_and_bools);
	tcase_add_test(tc, volatile_and_const_objects);
	tcase_add_test(tc, rmw_loop_updates_and_gives_up);
	tcase_add_test(tc, fences_barriers_relax_compile_and_run);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_set_tags(tc, "workers");
	tcase_add_test(tc, processes_lose_no_update);
	tcase_add_loop_test(tc, message_passing_across_processes, 0, 2);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
