/*
 * Internals shared by the write-flag guard's files.
 */
#ifndef SHMG_WFLAG_INTERNAL_H
#define SHMG_WFLAG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <shmguard/atomic.h>
#include <shmguard/wflag.h>

#include "proc_internal.h"
#include "slot_claims.h"

/* A guard placed in a region (process-local; the state is in the segment).
 * Clients embed it (shmg__wflag_place); others get it from shmg_wflag_new. */
struct shmg_wflag {
	uint8_t *mark;
	uint64_t *counter;
	uint32_t *futex;       /* the aligned 4-byte word holding the mark */
	uint32_t *counter_low; /* the counter's 4-byte half holding its low bits */
	uint8_t *waiters;      /* NULL: every publish wakes (syscalls) */
	int32_t *owner;        /* NULL: a dead writer cannot be told */
	unsigned copies;       /* 0 or >= 2 */
	uint32_t *index;
	unsigned char *seq;    /* the sequence word of copy i is at seq + i * seq_stride */
	size_t seq_stride;
	unsigned char *data;   /* copy i is at data + i * data_len */
	size_t data_len;
	unsigned next;         /* writer: the copy begun by shmg_wflag_begin */
	bool readonly;         /* mapped read-only: readers write nothing */
	uint8_t unwoken;       /* readers' evidence that the writer wakes nobody
				* (a legacy writer): they poll (wflag_read.c) */
	const int *truncated;  /* the region's flag (SHMG_REGION_TRUNCATION), or NULL */
	uint32_t mark_bits;    /* the mark's bits within *futex */
	uint32_t waiters_bits; /* the waiters byte's bits within *futex */
	unsigned waiters_shift; /* and their position */
	const unsigned char *base; /* the region, to check read sources */
	size_t size;
	/* Pinned reads (lib/wflag_pin.c, doc/pin.md): slot k's pin word and
	 * owner word are at pins / pin_owners + k * pin_stride. */
	unsigned npins;
	unsigned char *pins;
	unsigned char *pin_owners;
	size_t pin_stride;
	int32_t pin_free;      /* what a free owner word holds after a release */
	int fd;                /* the region's file (-1: other memory), to name slots */
	/* Writer: the PID this handle claimed the owner word as (0: it
	 * holds no claim), and the word's name among the process's claims
	 * (lib/slot_claims.h), kept so that the claim can be forgotten after
	 * the file is closed. A claim is the handle's: another handle of the
	 * process, or a forked child, holds nothing: the note names the fork
	 * too (claimed_gen), as a child's PID can equal its parent's (PID 1
	 * of a new PID namespace, a dead parent's PID reused). */
	int32_t claimed;
	unsigned claimed_gen;
	struct shmg__claim_name owner_name;
};

/* Does this handle hold the writer's claim, in this process? No syscall:
 * the handle's note, the cached PID (read again in a forked child) and the
 * fork generation (a child with its parent's PID is another fork). */
static inline bool wflag_holds_claim(const struct shmg_wflag *g)
{
	return g->claimed != 0 && g->claimed == shmg__self_pid() &&
	       g->claimed_gen == shmg__fork_generation();
}

/* Was the file truncated under the guard's region? Checked after looking:
 * what the zero pages say is not the file's. */
static inline bool wflag_truncated(const struct shmg_wflag *g)
{
	return g->truncated && __atomic_load_n(g->truncated, __ATOMIC_ACQUIRE);
}

/* Place a guard into *g (shmg_wflag_new without the allocation; the
 * placement p is the library's own, already size-checked). */
int shmg__wflag_place(struct shmg_wflag *g, const struct shmg_region *r,
		      const struct shmg_wflag_place *p);

/* Recovery: become the writer in place of PID `from` (0: none recorded),
 * by a CAS from it, whether or not it lives (the caller decided); the
 * handle then holds the claim. 0, SHMG_OWNERDEAD, -EBUSY when the record
 * no longer holds `from` (or this process holds the stream through
 * another handle), -ENOMEM. A predecessor's publish cut short after it
 * numbered its copy is finished (index, counter, sleepers woken; the mark
 * left set): *finished (may be NULL) says whether. */
int shmg__wflag_take_over(struct shmg_wflag *g, int32_t from, bool *finished);

/* The handle gives its claim up: the owner word goes from this process's
 * PID to `to` (CAS, release) and the process forgets the claim. 0, or
 * SHMG_ENOTOWNER when the handle held no claim or the word no longer held
 * it (the claim is forgotten anyway). */
int shmg__wflag_hand_back(struct shmg_wflag *g, int32_t to);

/* The handle's claim is forgotten by the process, the owner word left as
 * it is (a handle closed mid-frame: its successor takes the stream over as
 * a dead writer's). */
void shmg__wflag_forget_claim(struct shmg_wflag *g);

/* The latch copy a dead writer numbered counter + 1 without moving the
 * counter (its publish cut short), or -1. */
int shmg__wflag_orphaned_copy(const struct shmg_wflag *g);

/*
 * The mark and the waiters byte are single bytes. Where 1-byte atomics are
 * not lock-free (riscv64 with GCC 12), they are reached through the
 * aligned 4-byte word that holds them: loads extract the byte, stores are
 * a CAS loop on the word that changes only that byte (same ordering).
 */
#if __GCC_ATOMIC_CHAR_LOCK_FREE == 2
#define byte_load(b, o) shmg_atomic_load((b), o)
#define byte_store(b, v, o) shmg_atomic_store((b), (uint8_t)(v), o)
#define byte_or(b, v, o) shmg_atomic_or((b), (uint8_t)(v), o)
#else
static inline uint32_t *byte_word(uint8_t *b, unsigned *shift)
{
	uintptr_t a = (uintptr_t)b;
	unsigned k = (unsigned)(a & 3);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	k = 3 - k;
#endif
	*shift = 8 * k;
	return (uint32_t *)(a & ~(uintptr_t)3);
}
#define byte_load(b, o)                                                        \
	__extension__({                                                        \
		unsigned shmg__sh;                                             \
		uint32_t *shmg__w = byte_word((b), &shmg__sh);                 \
		(uint8_t)(shmg_atomic_load(shmg__w, o) >> shmg__sh);           \
	})
#define byte_store(b, v, o)                                                    \
	__extension__({                                                        \
		unsigned shmg__sh;                                             \
		uint32_t *shmg__w = byte_word((b), &shmg__sh), shmg__ov, shmg__nv; \
		shmg_atomic_rmw_loop(shmg__w, shmg__ov, shmg__nv, o, {          \
			shmg__nv = (shmg__ov & ~(UINT32_C(0xff) << shmg__sh)) |  \
				   ((uint32_t)(uint8_t)(v) << shmg__sh);         \
		});                                                            \
	})
/* the byte after OR-ing v into it */
#define byte_or(b, v, o)                                                       \
	__extension__({                                                        \
		unsigned shmg__sh;                                             \
		uint32_t *shmg__w = byte_word((b), &shmg__sh), shmg__ov, shmg__nv; \
		shmg_atomic_rmw_loop(shmg__w, shmg__ov, shmg__nv, o, {          \
			shmg__nv = shmg__ov | ((uint32_t)(uint8_t)(v) << shmg__sh); \
		});                                                            \
		(uint8_t)(shmg__nv >> shmg__sh);                               \
	})
#endif

/*
 * The waiters byte: bit 0 says a reader sleeps or is about to; bits 1-7
 * count wake-ups (a generation). A sleeper sleeps only while the byte is
 * still the one it announced: a publish in between changed the generation,
 * so a later sleeper's announcement cannot restore the futex word an
 * earlier sleeper read before that publish (tests/spin/wflag_wake.pml,
 * two sleepers).
 */
#define WAITERS_ASLEEP 1u
static inline uint8_t next_generation(uint8_t w)
{
	return (uint8_t)((w + 2) & 0xfe);
}

/* The sequence word of latch copy i (placement checked its alignment). */
static inline uint64_t *wflag_seq(const struct shmg_wflag *g, unsigned i)
{
	return (uint64_t *)(void *)(g->seq + (size_t)i * g->seq_stride);
}

/* ---------------------------------------------------------------- pins */

/* A pin word: the copy pinned + 1 in bits 4-31 (0: none); bits 0-3 belong
 * to the layout (ImageStreamIO's semstatus flags) and are kept. */
#define PIN_SHIFT 4
#define PIN_KEEP 0xfu
/* Bits 4-31 all set: the pin was revoked (the copy taken back and
 * rewritten; the slot's reader learns it at unpin: SHMG_EREVOKED). No copy
 * has that number: placement allows at most PIN_REVOKED - 1 copies. */
#define PIN_REVOKED (UINT32_MAX >> PIN_SHIFT)

static inline uint32_t *wflag_pin_word(const struct shmg_wflag *g, unsigned k)
{
	return (uint32_t *)(void *)(g->pins + (size_t)k * g->pin_stride);
}

static inline int32_t *wflag_pin_owner(const struct shmg_wflag *g, unsigned k)
{
	return (int32_t *)(void *)(g->pin_owners + (size_t)k * g->pin_stride);
}

/* Check and set the pin slots of placement p (lib/wflag_pin.c). */
int shmg__wflag_place_pins(struct shmg_wflag *g, const struct shmg_region *r,
			   const struct shmg_wflag_place *p);

/* Writer: choose the next copy, skipping pinned ones (g->next; its
 * sequence word zeroed). 0, -EAGAIN, -ETIMEDOUT, -EINTR. */
int shmg__wflag_pick(struct shmg_wflag *g, unsigned full,
		     const struct timespec *deadline, uint32_t *skipped);

/* Slot k's owner `dead` is gone: take the slot by CAS from that value,
 * mark its pin revoked (never cleared silently: a reader misjudged dead
 * learns it at unpin), then give the owner word back to `dead`, or free
 * it (`free_slot`, recovery). true if done (false: someone else took it).
 * *copy (may be NULL) receives the copy that was pinned, or -1. */
bool shmg__wflag_pin_reclaim(const struct shmg_wflag *g, unsigned k,
			     int32_t dead, bool free_slot, int32_t *copy);

/* Is the reader recorded in slot k (owner word `owner`) gone? A free or
 * garbage owner word, no slot lock held where the slot has one
 * (lib/pin_lock.h), else a PID shmg_proc_alive calls dead. */
bool shmg__wflag_pin_holder_gone(const struct shmg_wflag *g, unsigned k, int32_t owner);

/* Revoke slot k's pin, if it holds one (a CAS loop; bits 0-3 kept). */
void shmg__wflag_revoke_slot(const struct shmg_wflag *g, unsigned k);

/* The unpin's result for a pin word that held `was`: SHMG_EREVOKED for a
 * revoked pin, else 0. */
int shmg__wflag_pin_result(uint32_t was);

/* The copy slot k pins now, or -1 (none, revoked, or a value that names
 * no copy; relaxed; for monitors). */
int32_t shmg__wflag_pin_copy(const struct shmg_wflag *g, unsigned k);

#endif /* SHMG_WFLAG_INTERNAL_H */
