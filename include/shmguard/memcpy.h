/*
 * shmguard/memcpy.h: byte-wise atomic memcpy (WG21 P1478), the copy half of
 * a seqlock.
 *
 * A seqlock reader copies data that a writer may be changing at that very
 * moment, then discards the copy if the sequence word moved. For the
 * surrounding fences to order anything, and for the race itself not to be
 * undefined behaviour, every byte of that copy must be accessed atomically.
 * These two functions are memcpy with that property:
 *
 *   shmg_atomic_load_memcpy(dst, src, n, ORDER)    ORDER: relaxed, acquire, seq_cst
 *     reads src as n relaxed atomic byte loads into dst, THEN a fence of
 *     ORDER (P1478's atomic_source_memcpy). The reader side.
 *
 *   shmg_atomic_store_memcpy(dst, src, n, ORDER)   ORDER: relaxed, release, seq_cst
 *     a fence of ORDER, THEN n relaxed atomic byte stores of src into dst
 *     (P1478's atomic_dest_memcpy). The writer side.
 *
 * Pairing: a load_memcpy(acquire) that reads any byte written by a
 * store_memcpy(release) synchronizes with it (C11 fence-fence
 * synchronization, 7.17.4), so the reader also sees everything the writer
 * wrote before its fence. In a seqlock the writer marks "writing", issues a
 * release fence, copies with store_memcpy(relaxed) and publishes with a
 * release store; the reader reads the sequence with acquire, copies with
 * load_memcpy(acquire), and re-reads the sequence (see doc/copy.md).
 *
 * Any size and alignment; dst and src must not overlap; the shared side is
 * the one accessed atomically, the private side may be ordinary memory.
 * Both copy at memcpy speed (the bytes move in wide accesses, which read and
 * write each byte atomically). Under ThreadSanitizer they copy with relaxed
 * __atomic accesses that TSan understands.
 */
#ifndef SHMGUARD_MEMCPY_H
#define SHMGUARD_MEMCPY_H

#include <stddef.h>

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

#define SHMG__COPY_LOAD_ORDER_relaxed __ATOMIC_RELAXED
#define SHMG__COPY_LOAD_ORDER_acquire __ATOMIC_ACQUIRE
#define SHMG__COPY_LOAD_ORDER_seq_cst __ATOMIC_SEQ_CST
#define SHMG__COPY_STORE_ORDER_relaxed __ATOMIC_RELAXED
#define SHMG__COPY_STORE_ORDER_release __ATOMIC_RELEASE
#define SHMG__COPY_STORE_ORDER_seq_cst __ATOMIC_SEQ_CST

/* An ordering token that does not fit the direction does not compile. */
#define shmg_atomic_load_memcpy(dst, src, n, o)                                \
	shmg_atomic_load_memcpy_explicit((dst), (src), (n),                    \
					 SHMG__COPY_LOAD_ORDER_##o)
#define shmg_atomic_store_memcpy(dst, src, n, o)                               \
	shmg_atomic_store_memcpy_explicit((dst), (src), (n),                   \
					  SHMG__COPY_STORE_ORDER_##o)

/*
 * The functions behind the macros, for callers that hold the ordering in a
 * variable (bindings): `order` is __ATOMIC_RELAXED, __ATOMIC_ACQUIRE
 * (load side) or __ATOMIC_RELEASE (store side), or __ATOMIC_SEQ_CST; any
 * other value is taken as __ATOMIC_SEQ_CST (the strongest, never weaker
 * than asked). Out of line on purpose: the caller's compiler sees an opaque
 * call, so it can neither treat the racy copy as a plain memcpy nor move
 * accesses across the fence.
 */
SHMG_EXPORT void shmg_atomic_load_memcpy_explicit(void *dst, const void *src,
						  size_t n, int order);
SHMG_EXPORT void shmg_atomic_store_memcpy_explicit(void *dst, const void *src,
						   size_t n, int order);

SHMG_END_DECLS

#endif /* SHMGUARD_MEMCPY_H */
