/*
 * The write-flag guard: placement and the writer's side.
 * See include/shmguard/wflag.h and doc/wflag.md.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>

#include "detail.h"
#include "region_internal.h"
#include "sized.h"
#include "testing.h"
#include "wflag_internal.h"

/* [a, a + alen) and [b, b + blen) share a byte. */
static bool overlap(size_t a, size_t alen, size_t b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

/* A placed word, with the placement's name for it in the error detail. */
static int place_word(const struct shmg_region *r, size_t offset, size_t width,
		      const char *what, void **at)
{
	int err = shmg_region_at(r, offset, width, at);
	return err ? shmg__fail(err, "%s: %s", what, shmg_error_detail(err)) : 0;
}

static int latch_words(struct shmg_wflag *g, const struct shmg_region *r,
		       const struct shmg_wflag_place *p, size_t *seq_bytes)
{
	void *at;
	int err;

	if (p->copies < 2 || p->copies > UINT32_MAX / 2 || p->data_len == 0)
		return shmg__fail(-EINVAL, "latch: %u copies of %zu bytes; at least 2 "
				  "non-empty copies expected", p->copies, p->data_len);
	if (p->seq_stride < 8 || p->seq_stride % 8 != 0)
		return shmg__fail(-EINVAL, "latch: seq_stride %zu is not a multiple of 8",
				  p->seq_stride);
	if ((err = place_word(r, p->index, 4, "latch index", &at)) != 0)
		return err;
	g->index = at;
	/* Every sequence word: the first and the last are enough once the
	 * stride keeps alignment and the span does not overflow. */
	size_t last;
	if (__builtin_mul_overflow((size_t)p->copies - 1, p->seq_stride, &last) ||
	    __builtin_add_overflow(last, p->seq, &last))
		return shmg__fail(-ERANGE, "latch: the sequence words overflow the address space");
	if ((err = place_word(r, p->seq, 8, "latch sequence word", &at)) != 0 ||
	    (err = place_word(r, last, 8, "last latch sequence word", &at)) != 0)
		return err;
	g->seq = r->base + p->seq;
	g->seq_stride = p->seq_stride;
	*seq_bytes = last + 8 - p->seq;
	return 0;
}

static int place_latch(struct shmg_wflag *g, const struct shmg_region *r,
		       const struct shmg_wflag_place *p)
{
	size_t seq_bytes, data_bytes;
	int err;

	if (p->copies == 0)
		return 0;
	if ((err = latch_words(g, r, p, &seq_bytes)) != 0)
		return err;
	if (__builtin_mul_overflow((size_t)p->copies, p->data_len, &data_bytes) ||
	    !shmg_region_contains(r, p->data, data_bytes))
		return shmg__fail(-ERANGE, "latch: %u copies of %zu bytes at offset %zu: "
				  "outside the %zu-byte region", p->copies, p->data_len,
				  p->data, r->size);
	if (overlap(p->data, data_bytes, p->seq, seq_bytes) ||
	    overlap(p->data, data_bytes, p->index, 4) ||
	    overlap(p->seq, seq_bytes, p->index, 4) ||
	    overlap(p->data, data_bytes, p->mark & ~(size_t)3, 4) ||
	    overlap(p->data, data_bytes, p->counter, 8) ||
	    overlap(p->seq, seq_bytes, p->counter, 8))
		return shmg__fail(-EINVAL, "latch: the copies, sequence words, index, mark "
				  "and counter overlap");
	if ((p->parts & SHMG_WFLAG_OWNER) && overlap(p->owner, 4, p->seq, seq_bytes))
		return shmg__fail(-EINVAL, "latch: the owner word overlaps the sequence words");
	g->data = r->base + p->data;
	g->data_len = p->data_len;
	g->copies = p->copies;
	return 0;
}

/* Where byte `at` of the aligned 4-byte word at `word` lies in the word's
 * value: the shift of its bits. */
static unsigned byte_shift(size_t at, size_t word)
{
	unsigned byte = (unsigned)(at - word);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	byte = 3 - byte;
#endif
	return 8 * byte;
}

static int place_waiters(struct shmg_wflag *g, const struct shmg_region *r,
			 const struct shmg_wflag_place *p, size_t word)
{
	if ((p->waiters & ~(size_t)3) != word || p->waiters == p->mark)
		return shmg__fail(-EINVAL, "waiters byte at %zu: another byte of the mark's "
				  "4-byte word (%zu..%zu) expected", p->waiters, word, word + 3);
	g->waiters = r->base + p->waiters;
	g->waiters_shift = byte_shift(p->waiters, word);
	g->waiters_bits = UINT32_C(0xff) << g->waiters_shift;
	return 0;
}

static int place_owner(struct shmg_wflag *g, const struct shmg_region *r,
		       const struct shmg_wflag_place *p, size_t word)
{
	void *at;
	int err = place_word(r, p->owner, 4, "owner word", &at);
	if (err)
		return err;
	if (overlap(p->owner, 4, word, 4) || overlap(p->owner, 4, p->counter, 8))
		return shmg__fail(-EINVAL, "owner word at %zu overlaps the mark's word or the "
				  "counter", p->owner);
	g->owner = at;
	return 0;
}

int shmg__wflag_place(struct shmg_wflag *g, const struct shmg_region *r,
		      const struct shmg_wflag_place *p)
{
	struct shmg_wflag n;
	void *at;
	int err;

	memset(&n, 0, sizeof(n));
	if (p->parts & ~(uint32_t)(SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER))
		return shmg__fail(-EINVAL, "parts 0x%x: unknown bits", p->parts);
	if ((!(p->parts & SHMG_WFLAG_WAITERS) && p->waiters) ||
	    (!(p->parts & SHMG_WFLAG_OWNER) && p->owner))
		return shmg__fail(-EINVAL, "a waiters or owner offset is given, but its part "
				  "is not in .parts");
	size_t word = p->mark & ~(size_t)3;
	if ((err = place_word(r, p->mark, 1, "mark", &at)) != 0)
		return err;
	n.mark = at;
	if ((err = place_word(r, word, 4, "mark's 4-byte word", &at)) != 0)
		return err;
	n.futex = at;
	n.mark_bits = UINT32_C(0xff) << byte_shift(p->mark, word);
	if ((err = place_word(r, p->counter, 8, "counter", &at)) != 0)
		return err;
	n.counter = at;
	/* The half every publish changes: where sleepers without a waiters
	 * byte wait for an update (wflag_read.c, sleep_word()). */
	n.counter_low = (uint32_t *)at + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
	if (overlap(p->counter, 8, word, 4))
		return shmg__fail(-EINVAL, "the counter overlaps the mark's 4-byte word");
	if ((p->parts & SHMG_WFLAG_WAITERS) && (err = place_waiters(&n, r, p, word)) != 0)
		return err;
	if ((p->parts & SHMG_WFLAG_OWNER) && (err = place_owner(&n, r, p, word)) != 0)
		return err;
	if ((err = place_latch(&n, r, p)) != 0)
		return err;
	if ((err = shmg__wflag_place_pins(&n, r, p)) != 0)
		return err;
	n.base = r->base;
	n.size = r->size;
	n.fd = r->fd; /* names the owner word among the process's claims */
	n.readonly = !shmg_region_writable(r);
	n.truncated = r->guard_slot >= 0 ? &r->truncated : NULL;
	*g = n;
	return 0;
}

SHMG_EXPORT int shmg_wflag_new(struct shmg_wflag **g, const struct shmg_region *r,
			       const struct shmg_wflag_place *p)
{
	struct shmg_wflag_place own;
	if (!g)
		return -EINVAL;
	*g = NULL;
	if (!r)
		return shmg__fail(-EINVAL, "no region");
	/* The pin fields came in 0.2: a struct that ends before them places
	 * none. */
	int err = shmg__sized_in(&own, sizeof(own), offsetof(struct shmg_wflag_place, npins),
				 p, "struct shmg_wflag_place");
	if (err)
		return err;
	struct shmg_wflag *n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	if ((err = shmg__wflag_place(n, r, &own)) != 0) {
		free(n);
		return err;
	}
	*g = n;
	return 0;
}

SHMG_EXPORT void shmg_wflag_free(struct shmg_wflag *g)
{
	/* The segment is not touched (its region may be closed already):
	 * the process forgets the handle's claim, and the owner word keeps
	 * this process's PID, a claim nobody holds any more. Another handle
	 * of the process takes it over as a dead writer's; other processes
	 * see a live writer until this process ends (doc/wflag.md). */
	if (g)
		shmg__wflag_forget_claim(g);
	free(g);
}

/*
 * A writer that died inside publish after it numbered its latch copy
 * (sequence word = counter + 1), before or after naming it in the index,
 * but before the counter moved, left a complete frame the counter does not
 * count. Finish that publish: name the copy, catch the counter up. Frame
 * numbers then stay unique: otherwise the next writer would publish
 * another frame under the same number, possibly into the same copy, and a
 * reader that read the orphan's number before the rewrite and the new
 * one's after would take the mixture for one frame (tests/check_pin.c,
 * orphaned_publish_completed).
 */
/* The copy a dead writer numbered counter + 1 without the counter moving,
 * or -1. */
int shmg__wflag_orphaned_copy(const struct shmg_wflag *g)
{
	uint64_t next = shmg_atomic_load(g->counter, relaxed) + 1;
	if (!g->copies || next == 0) /* 0 marks a copy being written, never a frame */
		return -1;
	for (uint32_t c = 0; c < g->copies; c++)
		/* acquire: the copy's bytes, stored before its number. */
		if (shmg_atomic_load(wflag_seq(g, c), acquire) == next)
			return (int)c;
	return -1;
}

static void wake_sleepers(struct shmg_wflag *g, bool published);

/* Returns whether it finished one (the counter moved; the mark is left as
 * the dead writer left it). */
static bool finish_dead_publish(struct shmg_wflag *g)
{
	int c = shmg__wflag_orphaned_copy(g);
	if (c < 0)
		return false;
	shmg_atomic_store(g->index, (uint32_t)c, release);
	shmg_atomic_store(g->counter, shmg_atomic_load(g->counter, relaxed) + 1, release);
	wake_sleepers(g, true);
	return true;
}

/*
 * Writer claims are the handle's (doc/wflag.md, "One writer, one handle"):
 * the owner word says which process writes, the handle's note (claimed)
 * which of its handles, and the process's list of claims
 * (lib/slot_claims.h) which owner words some handle of it holds. An owner
 * word holding this process's PID that the list does not name was left by
 * a dead process with the same PID (a writer restarted in a PID namespace
 * of its own gets the same PID every time). Claims, take-overs and hand-
 * backs run under the list's lock: the look at the list and the CAS are
 * one step for the other threads.
 */

/* This process holds the owner word through another handle (or held it,
 * until a recovery took it from a live writer): refused, the holder named. */
static int held_elsewhere(int32_t self, int32_t cur)
{
	if (cur == self)
		return shmg__fail(-EBUSY, "the stream is held by this process (PID %d) through "
				  "another handle", self);
	return shmg__fail(-EBUSY, "another handle of this process (PID %d) still holds a "
			  "claim the owner word no longer records (it holds %d: a recovery took "
			  "the stream); release or free that handle first", self, cur);
}

/* Become the writer in place of `was` by a CAS from it (acquire: the new
 * writer continues from the counter and copies its predecessor left),
 * noted in the handle and the list. 0, -EAGAIN (the word changed: *cur
 * has its value), -ENOMEM (nothing changed). Under the list's lock. */
static int claim_from(struct shmg_wflag *g, int32_t was, int32_t self, int32_t *cur)
{
	/* Noted first: a note that fails leaves the segment as it was. */
	int err = shmg__claims_note_name(&g->owner_name, true);
	if (err)
		return err;
	if (!shmg_atomic_cmpxchgv(g->owner, was, self, cur, acquire)) {
		shmg__claims_note_name(&g->owner_name, false);
		return -EAGAIN;
	}
	g->claimed = self;
	g->claimed_gen = shmg__fork_generation();
	return 0;
}

/* A claim the handle noted but the owner word no longer records (a
 * recovery took it from this writer, held to be dead): dropped. Under
 * the list's lock. */
static void drop_lost_claim(struct shmg_wflag *g)
{
	if (wflag_holds_claim(g) && shmg_atomic_load(g->owner, relaxed) != g->claimed) {
		shmg__claims_note_name(&g->owner_name, false);
		g->claimed = 0;
	}
}

/* The owner word's name among the process's claims, into g->owner_name
 * (kept for the release). 0, or the failure: under a makeshift name (its
 * address) the claim would miss another handle's claim on the word and
 * take it over as a dead predecessor's. Under the list's lock. */
static int name_owner(struct shmg_wflag *g)
{
	struct shmg__claim_name n;
	int err = shmg__claims_name_of(g->fd, g->base, g->owner, &n);
	if (err)
		return shmg__fail(err, "the owner word cannot be told apart from this process's "
				  "other claims: %s failed: %s", g->fd >= 0 ? "fstat of the "
				  "region's file" : "reading /proc/self/maps", shmg_strerror(err));
	g->owner_name = n;
	return 0;
}

int shmg__wflag_take_over(struct shmg_wflag *g, int32_t from, bool *finished)
{
	if (finished)
		*finished = false;
	int32_t self = shmg__self_pid();
	int32_t cur;
	shmg__claims_begin();
	drop_lost_claim(g);
	int err = name_owner(g);
	if (!err)
		err = shmg__claims_holds_name(&g->owner_name)
			      ? held_elsewhere(self, shmg_atomic_load(g->owner, relaxed))
			      : claim_from(g, from, self, &cur);
	shmg__claims_end();
	if (err == -EAGAIN)
		return shmg__fail(-EBUSY, "the writer record no longer holds PID %d (another "
				  "writer claimed the stream)", from);
	if (err)
		return err;
	if (from == 0)
		return 0;
	bool done = finish_dead_publish(g);
	if (finished)
		*finished = done;
	return SHMG_OWNERDEAD;
}

/* shmg_wflag_claim under the list's lock: 0, SHMG_OWNERDEAD (a dead
 * writer's publish cut short is still to finish) or a failure. */
static int claim_locked(struct shmg_wflag *g, int32_t self)
{
	drop_lost_claim(g);
	if (wflag_holds_claim(g)) /* this handle's, and the word says so */
		return 0;
	int err = name_owner(g);
	if (err)
		return err;
	int32_t cur = shmg_atomic_load(g->owner, relaxed);
	if (shmg__claims_holds_name(&g->owner_name))
		return held_elsewhere(self, cur);
	for (;;) {
		if (cur < 0)
			return shmg__fail(SHMG_EGARBAGE, "the owner word holds %d", cur);
		/* This process's PID, which no handle of it claimed: a dead
		 * predecessor's. Otherwise a writer we cannot prove dead is
		 * alive: never take over a live writer's stream. */
		if (cur != 0 && cur != self && shmg_proc_alive(cur, 0, 0) != SHMG_PROC_DEAD)
			return shmg__fail(-EBUSY, "writer PID %d is alive", cur);
		int32_t was = cur;
		err = claim_from(g, was, self, &cur);
		if (err != -EAGAIN)
			return err ? err : was == 0 ? 0 : SHMG_OWNERDEAD;
	}
}

SHMG_EXPORT int shmg_wflag_claim(struct shmg_wflag *g)
{
	if (!g->owner)
		return -ENOTSUP;
	if (g->readonly)
		return shmg__fail(-EROFS, "the region is mapped read-only: a writer needs "
				  "write access");
	int32_t self = shmg__self_pid();
	/* Idempotent for the handle that holds the claim (no lock). */
	if (wflag_holds_claim(g) && shmg_atomic_load(g->owner, relaxed) == self)
		return 0;
	shmg__claims_begin();
	int err = claim_locked(g, self);
	shmg__claims_end();
	if (err == SHMG_OWNERDEAD)
		finish_dead_publish(g);
	return err;
}

int shmg__wflag_hand_back(struct shmg_wflag *g, int32_t to)
{
	if (!wflag_holds_claim(g))
		return SHMG_ENOTOWNER;
	shmg__claims_begin();
	/* release: whatever this writer published is visible to whoever
	 * claims next. */
	bool ours = shmg_atomic_cmpxchg(g->owner, g->claimed, to, release);
	shmg__claims_note_name(&g->owner_name, false);
	g->claimed = 0;
	shmg__claims_end();
	return ours ? 0 : SHMG_ENOTOWNER;
}

void shmg__wflag_forget_claim(struct shmg_wflag *g)
{
	if (!wflag_holds_claim(g))
		return;
	shmg__claims_begin();
	shmg__claims_note_name(&g->owner_name, false);
	g->claimed = 0;
	shmg__claims_end();
}

SHMG_EXPORT int shmg_wflag_release(struct shmg_wflag *g)
{
	if (!g->owner)
		return -ENOTSUP;
	bool held = wflag_holds_claim(g);
	int err = shmg__wflag_hand_back(g, 0);
	if (err)
		return shmg__fail(err, held ? "this handle's claim was taken: the owner word holds "
				  "%d" : "this handle holds no claim on the stream (the owner word "
				  "holds %d)", shmg_atomic_load(g->owner, relaxed));
	return 0;
}

static int begin(struct shmg_wflag *g, unsigned full, const struct timespec *deadline,
		 void **copy, uint32_t *skipped, bool refuse_at_max)
{
	if (copy)
		*copy = NULL;
	if (skipped)
		*skipped = 0;
	if (full > SHMG_WFLAG_FULL_REVOKE)
		return shmg__fail(-EINVAL, "full: %u is none of SHMG_WFLAG_FULL_WAIT, "
				  "SHMG_WFLAG_FULL_DROP and SHMG_WFLAG_FULL_REVOKE", full);
	/* The next frame would wrap the counter to 0: readers waiting for a
	 * frame after the last one would wait for ever. Refused before
	 * anything is changed (the writer is the counter's only writer). */
	if (SHMG__UNLIKELY(refuse_at_max && shmg_atomic_load(g->counter, relaxed) == UINT64_MAX))
		return shmg__fail(-EOVERFLOW, "the frame counter is %llu, its maximum: the "
				  "next frame would wrap it to 0 (recreate the segment)",
				  (unsigned long long)UINT64_MAX);
	if (g->copies && g->npins) {
		/* Skips pinned copies (lib/wflag_pin.c, doc/pin.md). */
		int err = shmg__wflag_pick(g, full, deadline, skipped);
		if (err)
			return err;
	} else if (g->copies) {
		/* The writer is the only one that moves the index; a value
		 * out of range (another program's) restarts at copy 0. */
		uint32_t i = shmg_atomic_load(g->index, relaxed);
		g->next = i + 1 < g->copies ? i + 1 : 0;
		shmg_atomic_store(wflag_seq(g, g->next), 0, relaxed);
	}
	if (g->copies && copy)
		*copy = g->data + (size_t)g->next * g->data_len;
	byte_store(g->mark, 1, relaxed);
	/* A release fence, not a release store of the mark, keeps every later
	 * store of the frame (and of the copy) behind the mark and the zeroed
	 * sequence word (doc/wflag.md; tests/spin/seqlock.pml mutant
	 * NO_WRITER_FENCE). */
	shmg_atomic_thread_fence(release);
	return 0;
}

SHMG_EXPORT int shmg_wflag_begin_timed(struct shmg_wflag *g, unsigned full,
				       const struct timespec *deadline,
				       void **copy, uint32_t *skipped)
{
	return begin(g, full, deadline, copy, skipped, true);
}

SHMG_EXPORT void *shmg_wflag_begin(struct shmg_wflag *g)
{
	void *copy;
	/* Never waits for readers: the oldest pinned copy is taken back
	 * (doc/pin.md). It cannot report a counter at its maximum: the
	 * frame is begun (its stores stay guarded by the mark) and
	 * shmg_wflag_publish refuses it. */
	while (begin(g, SHMG_WFLAG_FULL_REVOKE, NULL, &copy, NULL, false) != 0)
		;
	return copy;
}

/* Wake every sleeper, with a syscall only if one announced itself. */
static void wake_sleepers(struct shmg_wflag *g, bool published)
{
	if (!g->waiters) {
		/* Nobody announces: wake both words sleepers may be on, the
		 * mark's after every clear and the counter's low half after
		 * every publish. The kernel's barrier at the start of
		 * futex_wake puts the stores above in memory before it looks
		 * for sleepers; a sleeper compares the very word the store
		 * changed, so no fence is needed here (tests/spin/
		 * wflag_wake_nowaiters.pml, mutants KERNEL_NO_MB,
		 * NO_MARK_WAKE, NO_WAKE). */
		shmg_futex_wake(g->futex, INT32_MAX);
		if (published)
			shmg_futex_wake(g->counter_low, INT32_MAX);
		return;
	}
	/* Dekker with wflag_sleep(): the counter and mark stores above and
	 * the sleeper's waiters store are each followed by a seq_cst fence
	 * before the other side's load, so either the sleeper sees the new
	 * counter or this load sees its announcement (tests/spin/
	 * wflag_wake.pml). */
	shmg_atomic_thread_fence(seq_cst);
	uint8_t w = byte_load(g->waiters, relaxed);
	if (SHMG__UNLIKELY(w & WAITERS_ASLEEP)) {
		/* The next generation, asleep bit clear: the futex word
		 * changes, so a sleeper that read it before gets EAGAIN. Only
		 * this writer clears; sleepers only set bit 0, and not while
		 * it is set, so nothing is overwritten between load and store. */
		byte_store(g->waiters, next_generation(w), relaxed);
		shmg_futex_wake(g->futex, INT32_MAX);
	}
}

SHMG_EXPORT uint64_t shmg_wflag_publish(struct shmg_wflag *g)
{
	/* The writer is the counter's only writer: no RMW needed. */
	uint64_t frame = shmg_atomic_load(g->counter, relaxed) + 1;
	/* At the counter's maximum (a frame begun by shmg_wflag_begin, which
	 * cannot refuse it): nothing is published, and the mark stays set,
	 * so no reader takes the frame's stores for the old frame. */
	if (SHMG__UNLIKELY(frame == 0))
		return 0;

	if (g->copies) {
		shmg_atomic_store(wflag_seq(g, g->next), frame, release);
		SHMG__TEST_POINT(SHMG__WFLAG_AFTER_SEQ);
		/* release: a reader that finds this index finds the sequence
		 * word above (or a later one). */
		shmg_atomic_store(g->index, g->next, release);
		SHMG__TEST_POINT(SHMG__WFLAG_AFTER_COPY);
	}
	shmg_atomic_store(g->counter, frame, release);
	SHMG__TEST_POINT(SHMG__WFLAG_AFTER_COUNTER);
	/* Counter first, then the mark (tests/spin/seqlock.pml mutant
	 * PUBLISH_SWAPPED shows the other order accepts torn frames). */
	byte_store(g->mark, 0, release);
	SHMG__TEST_POINT(SHMG__WFLAG_AFTER_MARK);
	wake_sleepers(g, true);
	return frame;
}

SHMG_EXPORT void shmg_wflag_abort(struct shmg_wflag *g)
{
	byte_store(g->mark, 0, release);
	wake_sleepers(g, false);
}
