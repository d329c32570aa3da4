/*
 * Byte-wise atomic memcpy (WG21 P1478): see shmguard/memcpy.h and doc/copy.md.
 *
 * Normal builds alias the C library's memcpy, as P1478 expects practical
 * implementations to do: every load or store instruction, whatever its width,
 * reads or writes each of its bytes atomically, so an optimised memcpy *is* a
 * sequence of byte-wise atomic accesses at the hardware level. What C would
 * otherwise allow the compiler to do with a racy memcpy (split it, re-read
 * it, move it across the fence) is prevented by keeping it behind this
 * out-of-line function: callers see an opaque call.
 *
 * ThreadSanitizer builds copy with relaxed __atomic accesses instead, so TSan
 * sees what the hardware does and a seqlock built on these copies is
 * reported race-free.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/memcpy.h>

#if defined(__SANITIZE_THREAD__)
#define SHMG_COPY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMG_COPY_TSAN 1
#endif
#endif

/*
 * x86-64: from a couple of KiB up, glibc's memcpy may use `rep movsb` (fast
 * strings) or non-temporal stores. Intel's SDM (vol. 3, 8.2.4 "Out-of-Order
 * Stores For String Operations", edition 253668-032US) lets the stores
 * *within* one string operation go out of order but keeps string operations
 * ordered with other stores; it states nothing about the loads of a string
 * operation. Non-temporal stores are weakly ordered: glibc fences its own
 * non-temporal loop with sfence, but we do not rely on how a particular C
 * library copies. So a large copy ends with sfence (store side: a following
 * release store, a plain mov on x86, cannot overtake the copy's stores) or,
 * for an acquire load side, lfence (the re-check loads cannot overtake the
 * copy's loads). Below the threshold glibc uses ordinary vector moves, which
 * TSO orders; the fences cost a few ns against a copy of at least 2 KiB.
 */
#define SHMG_COPY_STRING_MIN 2048

/* The fence after a load-side copy: none, acquire, or (seq_cst and any
 * other value: never weaker than asked) seq_cst. */
static inline void load_fence(int order)
{
	if (order == __ATOMIC_ACQUIRE)
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	else if (order != __ATOMIC_RELAXED)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The fence before a store-side copy: none, release, or seq_cst. */
static inline void store_fence(int order)
{
	if (order == __ATOMIC_RELEASE)
		__atomic_thread_fence(__ATOMIC_RELEASE);
	else if (order != __ATOMIC_RELAXED)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#ifdef SHMG_COPY_TSAN
/* Words where the shared side is 8-byte aligned, bytes at the edges. Both
 * sides of a seqlock align the same way on the shared side (mappings are
 * page-aligned), so TSan sees matching atomic accesses. */
static void copy_from_shared(unsigned char *d, const unsigned char *s, size_t n)
{
	for (; n && ((uintptr_t)s & 7); n--)
		*d++ = shmg_atomic_load(s++, relaxed);
	for (; n >= 8; n -= 8, s += 8, d += 8) {
		uint64_t w = shmg_atomic_load((const uint64_t *)(const void *)s, relaxed);
		memcpy(d, &w, sizeof(w));
	}
	for (; n; n--)
		*d++ = shmg_atomic_load(s++, relaxed);
}

static void copy_to_shared(unsigned char *d, const unsigned char *s, size_t n)
{
	for (; n && ((uintptr_t)d & 7); n--)
		shmg_atomic_store(d++, *s++, relaxed);
	for (; n >= 8; n -= 8, s += 8, d += 8) {
		uint64_t w;
		memcpy(&w, s, sizeof(w));
		shmg_atomic_store((uint64_t *)(void *)d, w, relaxed);
	}
	for (; n; n--)
		shmg_atomic_store(d++, *s++, relaxed);
}
#endif

SHMG_EXPORT void shmg_atomic_load_memcpy_explicit(void *dst, const void *src,
						  size_t n, int order)
{
#ifdef SHMG_COPY_TSAN
	copy_from_shared(dst, src, n);
#else
	memcpy(dst, src, n);
#if defined(__x86_64__) || defined(__i386__)
	if (order == __ATOMIC_ACQUIRE && n >= SHMG_COPY_STRING_MIN)
		__builtin_ia32_lfence();
#endif
#endif
	load_fence(order);
}

SHMG_EXPORT void shmg_atomic_store_memcpy_explicit(void *dst, const void *src,
						   size_t n, int order)
{
	store_fence(order);
#ifdef SHMG_COPY_TSAN
	copy_to_shared(dst, src, n);
#else
	memcpy(dst, src, n);
#if defined(__x86_64__) || defined(__i386__)
	if (n >= SHMG_COPY_STRING_MIN)
		__builtin_ia32_sfence();
#endif
#endif
}
