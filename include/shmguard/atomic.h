/*
 * shmguard/atomic.h: atomic operations on plain (non-_Atomic) objects in
 * shared memory, modelled on XNU's os_atomic.
 *
 * Why not <stdatomic.h>: the fields we guard already exist in segments laid
 * out by other programs (uint8_t write, uint64_t cnt0, ...). Casting them to
 * _Atomic T * is undefined behaviour; the __atomic builtins are defined on
 * plain objects. Every access here goes through a volatile-qualified pointer,
 * so the compiler can neither coalesce two accesses nor hoist one out of a
 * loop (XNU's "progress" example), and every operation names its ordering.
 *
 * Orderings are bare tokens: relaxed, acquire, release, acq_rel, seq_cst,
 * and, for loads only, dependency (below). An ordering that makes no sense
 * for the operation (a release load, an acquire store, a relaxed fence) does
 * not compile.
 *
 * Objects must be 1, 2, 4 or 8 bytes, naturally aligned, and always lock-free
 * on the target; anything else is refused at compile time. (A libatomic
 * fallback would take a process-local lock: silently wrong across processes.)
 * Pointer objects support load, store, xchg, cmpxchg(v) and rmw_loop, but not
 * add/sub/inc/dec or the bitwise operations (the builtins would count bytes).
 * There are no "wide" (16-byte) variants: no supported target makes them
 * truly atomic without libatomic.
 *
 * Return conventions (XNU's):
 *   shmg_atomic_OP(p, v, o)       returns the value AFTER the operation;
 *   shmg_atomic_OP_orig(p, v, o)  returns the value BEFORE it;
 *   shmg_atomic_cmpxchg(p, e, n, o) returns true iff *p was e and is now n;
 *   shmg_atomic_cmpxchgv(p, e, n, &g, o) also stores the value observed in g
 *     (e on success, the current value on failure).
 * The ordering of cmpxchg applies on success; on failure it is relaxed.
 *
 * shmg_atomic_rmw_loop(p, ov, nv, o, { body }) loads *p into ov, runs body
 * to compute nv, and stores nv if *p still holds ov, else retries with the
 * fresh value; it returns true once stored. Leave the loop early only with
 * shmg_atomic_rmw_loop_give_up(statement) (for example break, or
 * goto again), which makes the loop return false. The body must not store
 * to memory, nest another rmw_loop, or use continue: on LL/SC targets the
 * body runs inside a load-linked/store-conditional pair.
 */
#ifndef SHMGUARD_ATOMIC_H
#define SHMGUARD_ATOMIC_H

#include <shmguard/common.h>

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

/* Ordering tokens, one table per kind of operation. */
#define SHMG__LOAD_ORDER_relaxed __ATOMIC_RELAXED
#define SHMG__LOAD_ORDER_acquire __ATOMIC_ACQUIRE
#define SHMG__LOAD_ORDER_seq_cst __ATOMIC_SEQ_CST
/*
 * The dependency order (XNU's): a relaxed load and a compiler barrier, the
 * root of a chain of hardware dependencies. Loads whose ADDRESS is computed
 * from its value (or from a token made of it, below) are ordered after it
 * by every CPU listed here (aarch64, arm, POWER and RISC-V keep address
 * dependencies; x86 keeps all loads in order): it pairs with a release
 * store, as an acquire load would, without an acquire instruction or a
 * fence. The compiler knows nothing of it: it is safe only while the
 * compiler cannot tell which values the dependency may take (a pointer or
 * index compared with a constant, or known to take one of a few values, may
 * be replaced by that constant, and the dependency is gone). So use it only
 * on values read from shared memory and fed straight into addresses, as
 * shmguard does (doc/atomic.md, "The dependency order"). On any other CPU
 * it is an acquire load.
 */
#if defined(__aarch64__) || defined(__arm__) || defined(__powerpc__) ||     \
	defined(__powerpc64__) || defined(__riscv) || defined(__x86_64__) ||  \
	defined(__i386__)
#define SHMG__DEPENDENCY_ORDERS 1
#define SHMG__LOAD_ORDER_dependency __ATOMIC_RELAXED
#else
#define SHMG__DEPENDENCY_ORDERS 0
#define SHMG__LOAD_ORDER_dependency __ATOMIC_ACQUIRE
#endif
/* What follows each load: a compiler barrier after a dependency load, so
 * the compiler cannot move the dependent loads above it either. */
#define SHMG__LOAD_AFTER_relaxed() ((void)0)
#define SHMG__LOAD_AFTER_acquire() ((void)0)
#define SHMG__LOAD_AFTER_seq_cst() ((void)0)
#define SHMG__LOAD_AFTER_dependency() __atomic_signal_fence(__ATOMIC_ACQUIRE)
#define SHMG__STORE_ORDER_relaxed __ATOMIC_RELAXED
#define SHMG__STORE_ORDER_release __ATOMIC_RELEASE
#define SHMG__STORE_ORDER_seq_cst __ATOMIC_SEQ_CST
#define SHMG__RMW_ORDER_relaxed __ATOMIC_RELAXED
#define SHMG__RMW_ORDER_acquire __ATOMIC_ACQUIRE
#define SHMG__RMW_ORDER_release __ATOMIC_RELEASE
#define SHMG__RMW_ORDER_acq_rel __ATOMIC_ACQ_REL
#define SHMG__RMW_ORDER_seq_cst __ATOMIC_SEQ_CST
#define SHMG__FENCE_ORDER_acquire __ATOMIC_ACQUIRE
#define SHMG__FENCE_ORDER_release __ATOMIC_RELEASE
#define SHMG__FENCE_ORDER_acq_rel __ATOMIC_ACQ_REL
#define SHMG__FENCE_ORDER_seq_cst __ATOMIC_SEQ_CST

#define SHMG__LOAD_ORDER(o) SHMG__LOAD_ORDER_##o
#define SHMG__STORE_ORDER(o) SHMG__STORE_ORDER_##o
#define SHMG__RMW_ORDER(o) SHMG__RMW_ORDER_##o
#define SHMG__FENCE_ORDER(o) SHMG__FENCE_ORDER_##o

/* Compile-time refusal of objects that cannot be atomic across processes. */
#define SHMG__CHECK_OBJECT(p)                                                  \
	SHMG__STATIC_ASSERT(sizeof(*(p)) == 1 || sizeof(*(p)) == 2 ||          \
				    sizeof(*(p)) == 4 || sizeof(*(p)) == 8,    \
			    "shmg_atomic: the object must be 1, 2, 4 or 8 bytes"); \
	SHMG__STATIC_ASSERT(__alignof__(*(p)) >= sizeof(*(p)),                 \
			    "shmg_atomic: the object must be naturally aligned"); \
	SHMG__STATIC_ASSERT(__atomic_always_lock_free(sizeof(*(p)), 0),        \
			    "shmg_atomic: the object is not always lock-free " \
			    "on this target (libatomic would lock per process)")

/*
 * Arithmetic and bitwise RMW on a pointer object is refused: the builtins add
 * bytes, not elements (unlike C11's atomic_fetch_add), so shmg_atomic_add(&ptr,
 * 1, o) would silently move ptr by one byte. Use rmw_loop or cmpxchg.
 * (__builtin_classify_type returns 5 for pointer types in GCC and clang.)
 */
#define SHMG__CHECK_ARITH(p)                                                   \
	SHMG__STATIC_ASSERT(__builtin_classify_type(*(p)) != 5,                \
			    "shmg_atomic: no arithmetic on pointer objects "  \
			    "(the builtins count bytes); use rmw_loop")

/* The object seen through a volatile-qualified pointer, and its plain type. */
#define SHMG__VP(p) ((__typeof__(*(p)) volatile *)(p))
#define SHMG__T(p) __typeof__(__atomic_load_n(SHMG__VP(p), __ATOMIC_RELAXED))

/* Loads and stores: one plain load or store instruction on every target. */
#define shmg_atomic_load(p, o)                                                 \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		SHMG__T(p) shmg__ld = __atomic_load_n(SHMG__VP(p),             \
						      SHMG__LOAD_ORDER(o));    \
		SHMG__LOAD_AFTER_##o();                                        \
		shmg__ld;                                                      \
	})

#define shmg_atomic_store(p, v, o)                                             \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		__atomic_store_n(SHMG__VP(p), (SHMG__T(p))(v),                 \
				 SHMG__STORE_ORDER(o));                        \
	})

/* Read-modify-write: plain names return the new value, _orig the old one. */
#define SHMG__RMW_NEW(op, p, v, o)                                             \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		SHMG__CHECK_ARITH(p);                                          \
		__atomic_##op##_fetch(SHMG__VP(p), (SHMG__T(p))(v),            \
				      SHMG__RMW_ORDER(o));                     \
	})
#define SHMG__RMW_ORIG(op, p, v, o)                                            \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		SHMG__CHECK_ARITH(p);                                          \
		__atomic_fetch_##op(SHMG__VP(p), (SHMG__T(p))(v),              \
				    SHMG__RMW_ORDER(o));                       \
	})

#define shmg_atomic_add(p, v, o) SHMG__RMW_NEW(add, p, v, o)
#define shmg_atomic_add_orig(p, v, o) SHMG__RMW_ORIG(add, p, v, o)
#define shmg_atomic_sub(p, v, o) SHMG__RMW_NEW(sub, p, v, o)
#define shmg_atomic_sub_orig(p, v, o) SHMG__RMW_ORIG(sub, p, v, o)
#define shmg_atomic_and(p, v, o) SHMG__RMW_NEW(and, p, v, o)
#define shmg_atomic_and_orig(p, v, o) SHMG__RMW_ORIG(and, p, v, o)
#define shmg_atomic_or(p, v, o) SHMG__RMW_NEW(or, p, v, o)
#define shmg_atomic_or_orig(p, v, o) SHMG__RMW_ORIG(or, p, v, o)
#define shmg_atomic_xor(p, v, o) SHMG__RMW_NEW(xor, p, v, o)
#define shmg_atomic_xor_orig(p, v, o) SHMG__RMW_ORIG(xor, p, v, o)
#define shmg_atomic_inc(p, o) SHMG__RMW_NEW(add, p, 1, o)
#define shmg_atomic_inc_orig(p, o) SHMG__RMW_ORIG(add, p, 1, o)
#define shmg_atomic_dec(p, o) SHMG__RMW_NEW(sub, p, 1, o)
#define shmg_atomic_dec_orig(p, o) SHMG__RMW_ORIG(sub, p, 1, o)
/* andnot clears the bits of v; v is converted to the object's type before
 * the complement, so a narrow v cannot clear the object's high bits. */
#define shmg_atomic_andnot(p, v, o) SHMG__RMW_NEW(and, p, ~(SHMG__T(p))(v), o)
#define shmg_atomic_andnot_orig(p, v, o)                                       \
	SHMG__RMW_ORIG(and, p, ~(SHMG__T(p))(v), o)

#define shmg_atomic_xchg(p, v, o)                                              \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		__atomic_exchange_n(SHMG__VP(p), (SHMG__T(p))(v),              \
				    SHMG__RMW_ORDER(o));                       \
	})

/*
 * GCC 12 for riscv64 compares a 4-byte compare-exchange's expected value in
 * a register it has not sign-extended, while lr.w sign-extends what it
 * loads: an expected value with bit 31 set never matches, and the builtin
 * then reports success without storing (check-cross found it: an unlock
 * that left the lock word set). Sign-extending the expected value first,
 * as the ABI wants it, avoids that; one instruction, riscv64 only.
 */
#if defined(__riscv) && defined(__riscv_xlen) && __riscv_xlen == 64
#define SHMG__CAS_EXPECTED(x)                                                  \
	do {                                                                   \
		if (sizeof(x) == 4)                                            \
			__asm__("addiw %0, %0, 0" : "+r"(x));                  \
	} while (0)
#else
#define SHMG__CAS_EXPECTED(x)                                                  \
	do {                                                                   \
	} while (0)
#endif

/* Compare and exchange: strong, ordering o on success, relaxed on failure. */
#define shmg_atomic_cmpxchg(p, e, v, o)                                        \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		SHMG__T(p) shmg__cx_e = (SHMG__T(p))(e);                       \
		SHMG__CAS_EXPECTED(shmg__cx_e);                                \
		__atomic_compare_exchange_n(SHMG__VP(p), &shmg__cx_e,          \
					    (SHMG__T(p))(v), false,            \
					    SHMG__RMW_ORDER(o),                \
					    __ATOMIC_RELAXED);                 \
	})

#define SHMG__CMPXCHGV(p, e, v, g, o, weak)                                    \
	__extension__({                                                        \
		SHMG__CHECK_OBJECT(p);                                         \
		SHMG__T(p) shmg__cxv_e = (SHMG__T(p))(e);                      \
		SHMG__CAS_EXPECTED(shmg__cxv_e);                               \
		bool shmg__cxv_ok = __atomic_compare_exchange_n(               \
			SHMG__VP(p), &shmg__cxv_e, (SHMG__T(p))(v), weak,      \
			SHMG__RMW_ORDER(o), __ATOMIC_RELAXED);                 \
		*(g) = shmg__cxv_e;                                            \
		shmg__cxv_ok;                                                  \
	})
#define shmg_atomic_cmpxchgv(p, e, v, g, o) SHMG__CMPXCHGV(p, e, v, g, o, false)

/*
 * Native rmw_loop for load-linked/store-conditional targets.
 *
 * AArch64 without LSE: Debian's gcc builds with -moutline-atomics, so every
 * __atomic compare-exchange is a call into libgcc (__aarch64_cas8_acq_rel and
 * friends), and a CAS loop makes one such call per attempt. Here, as in XNU,
 * the loop is one exclusive-monitor transaction instead: load-exclusive into
 * ov, the body computes nv in registers, store-exclusive nv; a lost
 * reservation (another CPU wrote the line) restarts from the load. Hence the
 * rmw_loop contract: the body must not store to memory (a store may clear the
 * reservation on every attempt), nest, or use continue; leaving early goes
 * through shmg_atomic_rmw_loop_give_up, which clears the reservation (clrex).
 *
 * Orderings follow the AArch64 column of the C/C++11 mappings (Cambridge,
 * "C/C++11 mappings to processors"; the same as GCC's own LL/SC loops):
 * acquire -> ldaxr, release -> stlxr, acq_rel and seq_cst -> ldaxr + stlxr
 * (ldar/stlr are RCsc on ARMv8, so no extra dmb is needed for seq_cst).
 * Targets built with LSE (__ARM_FEATURE_ATOMICS) inline a CAS instruction
 * and keep the portable loop. Define SHMG_NO_LLSC to force the portable loop.
 */
#if defined(__aarch64__) && !defined(__ARM_FEATURE_ATOMICS) && !defined(SHMG_NO_LLSC)

#define SHMG__LLSC_ACQUIRES(order)                                             \
	((order) == __ATOMIC_ACQUIRE || (order) == __ATOMIC_ACQ_REL ||         \
	 (order) == __ATOMIC_SEQ_CST)
#define SHMG__LLSC_RELEASES(order)                                             \
	((order) == __ATOMIC_RELEASE || (order) == __ATOMIC_ACQ_REL ||         \
	 (order) == __ATOMIC_SEQ_CST)

/* One exclusive load of `size` bytes, zero-extended. `size` and `order` are
 * constants after inlining, so only one asm statement remains. */
static inline __attribute__((always_inline)) uint64_t
shmg__llsc_load(const volatile void *p, size_t size, int order)
{
	uint64_t v;
	bool acq = SHMG__LLSC_ACQUIRES(order);

	if (size == 1) {
		if (acq)
			__asm__ __volatile__("ldaxrb %w0, %1" : "=r"(v) : "Q"(*(const volatile uint8_t *)p) : "memory");
		else
			__asm__ __volatile__("ldxrb %w0, %1" : "=r"(v) : "Q"(*(const volatile uint8_t *)p) : "memory");
	} else if (size == 2) {
		if (acq)
			__asm__ __volatile__("ldaxrh %w0, %1" : "=r"(v) : "Q"(*(const volatile uint16_t *)p) : "memory");
		else
			__asm__ __volatile__("ldxrh %w0, %1" : "=r"(v) : "Q"(*(const volatile uint16_t *)p) : "memory");
	} else if (size == 4) {
		if (acq)
			__asm__ __volatile__("ldaxr %w0, %1" : "=r"(v) : "Q"(*(const volatile uint32_t *)p) : "memory");
		else
			__asm__ __volatile__("ldxr %w0, %1" : "=r"(v) : "Q"(*(const volatile uint32_t *)p) : "memory");
	} else {
		if (acq)
			__asm__ __volatile__("ldaxr %x0, %1" : "=r"(v) : "Q"(*(const volatile uint64_t *)p) : "memory");
		else
			__asm__ __volatile__("ldxr %x0, %1" : "=r"(v) : "Q"(*(const volatile uint64_t *)p) : "memory");
	}
	return v;
}

/* One exclusive store; true if it succeeded (the reservation held). */
static inline __attribute__((always_inline)) bool
shmg__llsc_store(volatile void *p, size_t size, uint64_t v, int order)
{
	uint32_t failed;
	bool rel = SHMG__LLSC_RELEASES(order);

	if (size == 1) {
		if (rel)
			__asm__ __volatile__("stlxrb %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint8_t *)p) : "r"(v) : "memory");
		else
			__asm__ __volatile__("stxrb %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint8_t *)p) : "r"(v) : "memory");
	} else if (size == 2) {
		if (rel)
			__asm__ __volatile__("stlxrh %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint16_t *)p) : "r"(v) : "memory");
		else
			__asm__ __volatile__("stxrh %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint16_t *)p) : "r"(v) : "memory");
	} else if (size == 4) {
		if (rel)
			__asm__ __volatile__("stlxr %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint32_t *)p) : "r"(v) : "memory");
		else
			__asm__ __volatile__("stxr %w0, %w2, %1" : "=&r"(failed), "=Q"(*(volatile uint32_t *)p) : "r"(v) : "memory");
	} else {
		if (rel)
			__asm__ __volatile__("stlxr %w0, %x2, %1" : "=&r"(failed), "=Q"(*(volatile uint64_t *)p) : "r"(v) : "memory");
		else
			__asm__ __volatile__("stxr %w0, %x2, %1" : "=&r"(failed), "=Q"(*(volatile uint64_t *)p) : "r"(v) : "memory");
	}
	return failed == 0;
}

#define SHMG__ARCH_RMW_LOOP(p, ov, nv, o, ...)                                 \
	__extension__({                                                        \
		bool shmg__rl_ok = false;                                      \
		__typeof__(p) shmg__rl_p = (p);                                \
		SHMG__CHECK_OBJECT(shmg__rl_p);                                \
		for (;;) {                                                     \
			(ov) = (SHMG__T(shmg__rl_p))shmg__llsc_load(           \
				shmg__rl_p, sizeof(*shmg__rl_p),               \
				SHMG__RMW_ORDER(o));                           \
			__VA_ARGS__;                                           \
			if (SHMG__LIKELY(shmg__llsc_store(                     \
				    shmg__rl_p, sizeof(*shmg__rl_p),           \
				    (uint64_t)(nv), SHMG__RMW_ORDER(o)))) {    \
				shmg__rl_ok = true;                            \
				break;                                         \
			}                                                      \
		}                                                              \
		shmg__rl_ok;                                                   \
	})

/* Clear the reservation, then leave as the statement says. */
#define SHMG__ARCH_RMW_LOOP_GIVE_UP(...)                                       \
	__extension__({                                                        \
		__asm__ __volatile__("clrex" ::: "memory");                    \
		__VA_ARGS__;                                                   \
		__builtin_trap();                                              \
	})

#endif /* aarch64 without LSE */

/*
 * rmw_loop. The portable version is a weak-CAS loop (a spurious failure just
 * re-runs the body with the value observed). Targets with a better native
 * form (LL/SC with the body inside the reservation, above) provide
 * SHMG__ARCH_RMW_LOOP.
 */

#ifdef SHMG__ARCH_RMW_LOOP
#define shmg_atomic_rmw_loop SHMG__ARCH_RMW_LOOP
#define shmg_atomic_rmw_loop_give_up SHMG__ARCH_RMW_LOOP_GIVE_UP
#else
#define shmg_atomic_rmw_loop(p, ov, nv, o, ...)                                \
	__extension__({                                                        \
		bool shmg__rl_ok = false;                                      \
		__typeof__(p) shmg__rl_p = (p);                                \
		(ov) = shmg_atomic_load(shmg__rl_p, relaxed);                  \
		do {                                                           \
			__VA_ARGS__;                                           \
			shmg__rl_ok = SHMG__CMPXCHGV(shmg__rl_p, (ov), (nv),   \
						     &(ov), o, true);          \
		} while (SHMG__UNLIKELY(!shmg__rl_ok));                        \
		shmg__rl_ok;                                                   \
	})
/* The statement must leave the loop (break, goto); falling through traps. */
#define shmg_atomic_rmw_loop_give_up(...)                                      \
	__extension__({                                                        \
		__VA_ARGS__;                                                   \
		__builtin_trap();                                              \
	})
#endif

/*
 * Carrying a dependency on (XNU's interfaces, doc/atomic.md):
 *   shmg_atomic_make_dependency(v)   an opaque token, zero, whose value the
 *                                    CPU computes from v (one instruction);
 *   shmg_atomic_inject_dependency(p, d)  p, with token d's dependency: loads
 *                                    through the result are ordered after
 *                                    the load that gave v;
 *   shmg_atomic_load_with_dependency_on(p, v)  a relaxed load of *p ordered
 *                                    after the load that gave v.
 * v is a value loaded with the dependency order (or computed from one).
 */
typedef struct {
	uintptr_t shmg__opaque_zero;
} shmg_dependency_t;

#if defined(__arm__)
#define SHMG__DEP_XOR "eor %0, %1, %1"
#else
#define SHMG__DEP_XOR "xor %0, %1, %1"
#endif

static inline __attribute__((always_inline)) shmg_dependency_t
shmg__make_dependency(uintptr_t v)
{
	shmg_dependency_t d;
	/* Zero, computed by the CPU from v: the compiler cannot fold it. */
#if defined(__aarch64__)
	__asm__("eor %0, %1, %1" : "=r"(d.shmg__opaque_zero) : "r"(v));
#elif defined(__arm__) || defined(__powerpc__) || defined(__powerpc64__) || \
	defined(__riscv)
	__asm__(SHMG__DEP_XOR : "=r"(d.shmg__opaque_zero) : "r"(v));
#elif defined(__x86_64__) || defined(__i386__)
	__asm__("xor %0, %0" : "=r"(d.shmg__opaque_zero) : "0"(v));
#else
	(void)v; /* dependency loads are acquire loads here */
	d.shmg__opaque_zero = 0;
#endif
	return d;
}
#define shmg_atomic_make_dependency(v) shmg__make_dependency((uintptr_t)(v))
#define shmg_atomic_inject_dependency(p, d)                                    \
	((__typeof__(p))((uintptr_t)(p) + (d).shmg__opaque_zero))
#define shmg_atomic_load_with_dependency_on(p, v)                              \
	shmg_atomic_load(shmg_atomic_inject_dependency(                        \
				 (p), shmg_atomic_make_dependency(v)),         \
			 relaxed)

/* Fences order the surrounding accesses for other CPUs; barriers only stop
 * the compiler (they emit no instruction). */
#define shmg_atomic_thread_fence(o) __atomic_thread_fence(SHMG__FENCE_ORDER(o))
#define shmg_compiler_barrier(o) __atomic_signal_fence(SHMG__FENCE_ORDER(o))

/* A hint for the body of a spin-wait loop: lets the sibling hyperthread run
 * and saves power; it orders nothing. */
static inline __attribute__((always_inline)) void shmg_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#elif defined(__powerpc64__) || defined(__powerpc__)
	__asm__ __volatile__("or 27,27,27" ::: "memory"); /* SMT low priority */
#elif defined(__riscv)
	__asm__ __volatile__(".4byte 0x100000f" ::: "memory"); /* Zihintpause */
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif /* SHMGUARD_ATOMIC_H */
