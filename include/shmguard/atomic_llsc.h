/*
 * shmguard/atomic_llsc.h: native rmw_loop for load-linked/store-conditional
 * targets (internal; included by shmguard/atomic.h, which it relies on).
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
#ifndef SHMGUARD_ATOMIC_LLSC_H
#define SHMGUARD_ATOMIC_LLSC_H

#if defined(__aarch64__) && !defined(__ARM_FEATURE_ATOMICS) && !defined(SHMG_NO_LLSC)

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#include <shmguard/common.h>

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
	({                                                                     \
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
	({                                                                     \
		__asm__ __volatile__("clrex" ::: "memory");                    \
		__VA_ARGS__;                                                   \
		__builtin_trap();                                              \
	})

#endif /* aarch64 without LSE */

#endif /* SHMGUARD_ATOMIC_LLSC_H */
