/*
 * The write-flag guard: pinned reads over the latch (zero-copy readers).
 * See include/shmguard/wflag.h and doc/pin.md.
 *
 * A reader announces the copy it reads in its slot's pin word, then
 * confirms the copy still holds the frame it read before; the writer zeroes
 * the sequence word of the copy it is about to rewrite, then looks at the
 * pin words, and skips a pinned copy. Both sides put a seq_cst fence between
 * their store and their load (Dekker: tests/spin/wflag_pin.pml, whose
 * mutants without either fence let the writer overwrite a pinned copy).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>

#include "detail.h"
#include "pin_lock.h"
#include "proc_internal.h"
#include "region_internal.h"
#include "sized.h"
#include "slot_claims.h"
#include "testing.h"
#include "wflag_internal.h"

/* The writer, every copy but the newest pinned, polls for an unpin: first
 * after POLL_MIN_NS, doubling up to POLL_MAX_NS; it probes the pinning
 * readers' liveness every PROBE_EVERY polls (rules.md, rule 5: probes only
 * off the fast path). */
#define POLL_MIN_NS 1000u
#define POLL_MAX_NS 1000000u
#define PROBE_EVERY 16u

static bool overlap(size_t a, size_t alen, size_t b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

int shmg__wflag_place_pins(struct shmg_wflag *g, const struct shmg_region *r,
			   const struct shmg_wflag_place *p)
{
	void *at;
	size_t last_pin, last_owner, span;
	int err;

	if (p->npins == 0) {
		if (p->pins || p->pin_owners || p->pin_stride)
			return shmg__fail(-EINVAL, "pins: offsets given, but npins is 0");
		return 0;
	}
	if (p->copies < 2)
		return shmg__fail(-EINVAL, "pins: %u slots, but no latch (pinned reads need "
				  "at least 2 copies)", p->npins);
	if (p->copies > (UINT32_MAX >> PIN_SHIFT) - 1)
		return shmg__fail(-EINVAL, "pins: %u copies do not fit in a pin word", p->copies);
	if (p->pin_stride < 4 || p->pin_stride % 4 != 0)
		return shmg__fail(-EINVAL, "pins: pin_stride %zu is not a multiple of 4",
				  p->pin_stride);
	if (__builtin_mul_overflow((size_t)p->npins - 1, p->pin_stride, &span) ||
	    __builtin_add_overflow(span, p->pins, &last_pin) ||
	    __builtin_add_overflow(span, p->pin_owners, &last_owner))
		return shmg__fail(-ERANGE, "pins: the slots overflow the address space");
	if ((err = shmg_region_at(r, p->pins, 4, &at)) != 0 ||
	    (err = shmg_region_at(r, last_pin, 4, &at)) != 0)
		return shmg__fail(err, "pin words: %s", shmg_error_detail(err));
	if ((err = shmg_region_at(r, p->pin_owners, 4, &at)) != 0 ||
	    (err = shmg_region_at(r, last_owner, 4, &at)) != 0)
		return shmg__fail(err, "pin owner words: %s", shmg_error_detail(err));
	span += 4;
	size_t data_bytes = (size_t)p->copies * p->data_len; /* checked by the latch */
	size_t seq_bytes = ((size_t)p->copies - 1) * p->seq_stride + 8;
	static const char *const what[2] = {"pin words", "pin owner words"};
	size_t at_off[2] = {p->pins, p->pin_owners};
	for (int w = 0; w < 2; w++)
		if (overlap(at_off[w], span, p->data, data_bytes) ||
		    overlap(at_off[w], span, p->seq, seq_bytes) ||
		    overlap(at_off[w], span, p->index, 4) ||
		    overlap(at_off[w], span, p->mark & ~(size_t)3, 4) ||
		    overlap(at_off[w], span, p->counter, 8) ||
		    ((p->parts & SHMG_WFLAG_OWNER) && overlap(at_off[w], span, p->owner, 4)))
			return shmg__fail(-EINVAL, "%s overlap the latch or the guard's words",
					  what[w]);
	/* The two arrays lie apart, or interleave (a stride of 8 or more)
	 * without sharing a byte. */
	size_t d = p->pins > p->pin_owners ? p->pins - p->pin_owners : p->pin_owners - p->pins;
	if (overlap(p->pins, span, p->pin_owners, span) &&
	    (d % p->pin_stride < 4 || p->pin_stride - d % p->pin_stride < 4))
		return shmg__fail(-EINVAL, "pin words and pin owner words overlap");
	g->npins = p->npins;
	g->pins = r->base + p->pins;
	g->pin_owners = r->base + p->pin_owners;
	g->pin_stride = p->pin_stride;
	g->pin_free = 0;
	g->fd = r->fd;
	return 0;
}

/* ---------------------------------------------------------------- writer */

/* Does any slot pin copy c? Acquire: a pin word read as cleared by an
 * unpin (a release store) orders the reader's reads of the copy before the
 * writer's rewrite of it. */
static bool pinned(const struct shmg_wflag *g, unsigned c)
{
	uint32_t want = (uint32_t)c + 1;
	for (unsigned k = 0; k < g->npins; k++)
		if ((shmg_atomic_load(wflag_pin_word(g, k), acquire) >> PIN_SHIFT) == want)
			return true;
	return false;
}

bool shmg__wflag_pin_reclaim(const struct shmg_wflag *g, unsigned k, int32_t dead,
			     bool free_slot, int32_t *copy)
{
	int32_t self = shmg__self_pid();
	int32_t *owner = wflag_pin_owner(g, k);
	if (copy)
		*copy = -1;
	/* The slot becomes ours for a moment: nobody else may claim it (and
	 * pin) while its pin is revoked, so a live reader's identical pin can
	 * never be mistaken for the dead one's. Under the claims lock, so
	 * that this process's own readers do not take it meanwhile for a
	 * slot a dead process with our PID left (lib/slot_claims.h). */
	shmg__claims_begin();
	if (dead == self || !shmg_atomic_cmpxchg(owner, dead, self, acquire)) {
		shmg__claims_end();
		return false;
	}
	SHMG__TEST_POINT(SHMG__PIN_RECLAIMING);
	/* Revoked, not cleared: should the reader live after all (judged by
	 * a PID another namespace gave it), its unpin says SHMG_EREVOKED. The
	 * word is not the reader's alone now (it may unpin): a CAS loop. */
	uint32_t v, nv;
	shmg_atomic_rmw_loop(wflag_pin_word(g, k), v, nv, relaxed, {
		nv = (v >> PIN_SHIFT) == 0 ? v : (v & PIN_KEEP) | (PIN_REVOKED << PIN_SHIFT);
	});
	if (copy && (v >> PIN_SHIFT) != PIN_REVOKED)
		*copy = (int32_t)(v >> PIN_SHIFT) - 1;
	/* release: the revoked pin is seen by whoever claims the slot next. */
	shmg_atomic_store(owner, free_slot ? g->pin_free : dead, release);
	shmg__claims_end();
	return true;
}

void shmg__wflag_revoke_slot(const struct shmg_wflag *g, unsigned k)
{
	uint32_t v, nv;
	shmg_atomic_rmw_loop(wflag_pin_word(g, k), v, nv, relaxed, {
		nv = (v >> PIN_SHIFT) == 0 ? v : (v & PIN_KEEP) | (PIN_REVOKED << PIN_SHIFT);
	});
}

bool shmg__wflag_pin_holder_gone(const struct shmg_wflag *g, unsigned k, int32_t o)
{
	/* Free (0, -1) or garbage (another negative: no process). */
	if (o <= 0)
		return true;
	if (o == shmg__self_pid())
		return false;
	/* Every reader of this library holds its slot's lock while it owns
	 * the slot (lib/pin_lock.h): the kernel's answer holds across PID
	 * namespaces. No lock on a file that keeps locks: nobody of ours. */
	int held = shmg__pin_lock_held(g->fd, g->base, wflag_pin_owner(g, k));
	if (held >= 0)
		return held == 0;
	/* Memory that is not a file's: the PID (rules.md rule 6: a process
	 * it cannot judge keeps its pin). */
	return shmg_proc_alive(o, 0, 0) == SHMG_PROC_DEAD;
}

/* Every copy but `newest` is pinned: revoke the pins whose readers are
 * gone (shmg__wflag_pin_holder_gone). Returns how many. */
static unsigned reclaim_dead(const struct shmg_wflag *g, uint32_t newest)
{
	unsigned n = 0;
	for (unsigned k = 0; k < g->npins; k++) {
		uint32_t v = shmg_atomic_load(wflag_pin_word(g, k), relaxed) >> PIN_SHIFT;
		if (v == 0 || v == PIN_REVOKED || v - 1 == newest)
			continue;
		int32_t o = shmg_atomic_load(wflag_pin_owner(g, k), relaxed);
		if (shmg__wflag_pin_holder_gone(g, k, o) &&
		    shmg__wflag_pin_reclaim(g, k, o, false, NULL))
			n++;
	}
	return n;
}

/* Take copy c back from every reader that pins it: each such pin word
 * becomes revoked by CAS (a reader that unpins first keeps its clean
 * unpin; one that pins c again meanwhile is revoked too). Called after
 * c's sequence word was zeroed and a seq_cst fence: a pin announced later
 * sees the zero and is not confirmed (the Dekker argument of doc/pin.md),
 * an earlier one is seen here. Returns how many pins were revoked. */
static unsigned revoke_copy(const struct shmg_wflag *g, unsigned c)
{
	uint32_t want = (uint32_t)c + 1;
	unsigned n = 0;
	for (unsigned k = 0; k < g->npins; k++) {
		uint32_t *pw = wflag_pin_word(g, k);
		uint32_t v = shmg_atomic_load(pw, relaxed);
		while ((v >> PIN_SHIFT) == want) {
			if (shmg_atomic_cmpxchgv(pw, v, (v & PIN_KEEP) | (PIN_REVOKED << PIN_SHIFT),
						 &v, relaxed)) {
				n++;
				break;
			}
		}
	}
	/* A pin word seen cleared by an unpin (a release RMW) synchronizes
	 * through this fence (C11 7.17.4): the reader's reads of the copy
	 * happen before the rewrite. A revoked reader's reads may overlap
	 * the rewrite; its unpin reads the revoked mark (an RMW reads the
	 * last value in the word's modification order, C11 7.17.7.5). */
	shmg_atomic_thread_fence(acquire);
	return n;
}

/* Sleep ns, but not past the deadline. 0, or -EINTR. */
static int poll_sleep(uint64_t ns, const struct timespec *deadline)
{
	struct timespec now, until;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t t = (uint64_t)now.tv_nsec + ns;
	until.tv_sec = now.tv_sec + (time_t)(t / 1000000000u);
	until.tv_nsec = (long)(t % 1000000000u);
	if (deadline && (deadline->tv_sec < until.tv_sec ||
			 (deadline->tv_sec == until.tv_sec && deadline->tv_nsec < until.tv_nsec)))
		until = *deadline;
	int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	return rc == EINTR ? -EINTR : 0;
}

/* A copy's sequence word zeroed before the writer looks at the pins:
 * Dekker with shmg_wflag_pin (tests/spin/wflag_pin.pml, mutant
 * NO_WRITER_FENCE); the one fence of both the pick and the revocation.
 * It is also the release fence that keeps the copy's stores behind the
 * zero. */
static inline void zero_then_look(uint64_t *seq)
{
	shmg_atomic_store(seq, 0, relaxed);
	shmg_atomic_thread_fence(seq_cst);
}

int shmg__wflag_pick(struct shmg_wflag *g, unsigned full,
		     const struct timespec *deadline, uint32_t *skipped)
{
	/* The writer is the only one that moves the index; a value out of
	 * range (another program's) restarts at copy 0. */
	uint32_t newest = shmg_atomic_load(g->index, relaxed);
	if (newest >= g->copies)
		newest = g->copies - 1;
	uint32_t skip = 0;
	uint64_t wait_ns = POLL_MIN_NS;
	for (unsigned round = 0;; round++) {
		/* The copies after the newest, oldest first; never the newest:
		 * readers (and pins) go there. */
		for (unsigned d = 1; d < g->copies; d++) {
			unsigned c = (newest + d) % g->copies;
			uint64_t *seq = wflag_seq(g, c);
			uint64_t was = shmg_atomic_load(seq, relaxed);
			zero_then_look(seq);
			if (!pinned(g, c)) {
				g->next = c;
				if (skipped)
					*skipped = skip;
				return 0;
			}
			/* Untouched: it still holds frame `was`, complete;
			 * release, as the publish that first named it. */
			shmg_atomic_store(seq, was, release);
			skip++;
		}
		if (skipped)
			*skipped = skip;
		if (full == SHMG_WFLAG_FULL_REVOKE) {
			/* Never wait for a reader: the oldest copy is taken
			 * back, its pins revoked (no probe, no syscall). */
			unsigned c = (newest + 1) % g->copies;
			zero_then_look(wflag_seq(g, c));
			revoke_copy(g, c);
			g->next = c;
			return 0;
		}
		if (round % PROBE_EVERY == 0 && reclaim_dead(g, newest))
			continue;
		if (full == SHMG_WFLAG_FULL_DROP)
			return shmg__fail(-EAGAIN, "every copy but the newest is pinned by a live "
					  "reader: the frame is dropped");
		if (deadline && shmg_deadline_passed(deadline))
			return shmg__fail(-ETIMEDOUT, "every copy but the newest stayed pinned by "
					  "live readers until the deadline");
		if (poll_sleep(wait_ns, deadline))
			return -EINTR;
		if (wait_ns < POLL_MAX_NS)
			wait_ns *= 2;
	}
}

/* ---------------------------------------------------------------- readers */

/* Every reader call writes its slot: refused on a read-only mapping (where
 * the store would fault), as the claim of a write flag is. */
static int need_pins(const struct shmg_wflag *g, unsigned slot)
{
	if (!g->npins)
		return shmg__fail(-ENOTSUP, "no pin slots in this guard's placement");
	if (slot >= g->npins)
		return shmg__fail(-ERANGE, "pin slot %u: the guard has %u", slot, g->npins);
	if (g->readonly)
		return shmg__fail(-EROFS, "the region is mapped read-only: a pinning reader "
				  "writes its slot");
	return 0;
}

/* The slot is the caller's (its owner word holds this process's PID): a
 * forked child using its parent's slot, or a slot given back, is refused
 * before its pin word is touched. */
static int need_own_slot(const struct shmg_wflag *g, unsigned slot)
{
	int err = need_pins(g, slot);
	if (err)
		return err;
	int32_t owner = shmg_atomic_load(wflag_pin_owner(g, slot), relaxed);
	if (SHMG__UNLIKELY(owner != shmg__self_pid())) {
		/* Checked after the look: a truncated file reads as zeros,
		 * which is nobody's PID (doc/region.md). */
		if (wflag_truncated(g))
			return shmg__fail(SHMG_ETRUNCATED, "the file was truncated under "
					  "pin slot %u", slot);
		return shmg__fail(SHMG_ENOTOWNER, "pin slot %u belongs to PID %d, not to this "
				  "process (claim one with shmg_wflag_pin_claim)", slot, owner);
	}
	return 0;
}

SHMG_EXPORT int shmg_wflag_pin_claim(struct shmg_wflag *g, unsigned *slot)
{
	int err = need_pins(g, 0);
	if (err)
		return err;
	int32_t self = shmg__self_pid();
	shmg__claims_begin();
	for (unsigned k = 0; k < g->npins; k++) {
		int32_t *owner = wflag_pin_owner(g, k);
		int32_t cur = shmg_atomic_load(owner, relaxed);
		/* The slot's name among this process's claims: without it a
		 * slot another handle holds (through another mapping) would
		 * look like a dead predecessor's. */
		struct shmg__claim_name name;
		err = shmg__claims_name_of(g->fd, g->base, owner, &name);
		if (err) {
			shmg__claims_end();
			return shmg__fail(err, "pin slot %u cannot be told apart from this process's "
					  "other claims: %s failed: %s", k, g->fd >= 0 ? "fstat of the "
					  "region's file" : "reading /proc/self/maps", shmg_strerror(err));
		}
		/* Free: 0, -1 or garbage (negative), or left by a process
		 * that is gone: a dead PID, or this process's PID where this
		 * process holds no such slot (a dead predecessor's with the
		 * same PID, lib/slot_claims.h). Never a slot this process
		 * holds: each claim, each handle and thread, gets its own. */
		bool stale = cur == self && !shmg__claims_holds_name(&name);
		bool free_slot = cur <= 0 || stale ||
				 (cur != self && shmg_proc_alive(cur, 0, 0) == SHMG_PROC_DEAD &&
				  shmg__pin_lock_held(g->fd, g->base, owner) != 1);
		if (free_slot) {
			/* The slot's lock first, then the owner word: a writer
			 * never sees a live reader's PID in a slot whose lock
			 * nobody holds (it would take the slot back as a gone
			 * reader's, and the reader's next pin would find the
			 * owner word not its own). */
			int noted = shmg__claims_note_slot(&name, g->fd, g->base, owner);
			if (noted == -EAGAIN)
				continue; /* a live reader's (its lock) */
			if (noted != 0) {
				shmg__claims_end();
				return noted;
			}
			if (!stale && !shmg_atomic_cmpxchg(owner, cur, self, acquire)) {
				shmg__claims_note_name(&name, false); /* unlocks */
				continue; /* claimed by another reader meanwhile */
			}
			shmg__claims_end();
			/* Ours: a pin a dead predecessor left goes (this
			 * reader is now the word's only writer). */
			uint32_t *pw = wflag_pin_word(g, k);
			shmg_atomic_store(pw, shmg_atomic_load(pw, relaxed) & PIN_KEEP, release);
			if (slot)
				*slot = k;
			return 0;
		}
	}
	shmg__claims_end();
	return shmg__fail(-EAGAIN, "all %u pin slots are held by live readers", g->npins);
}

SHMG_EXPORT int shmg_wflag_pin_release(struct shmg_wflag *g, unsigned slot)
{
	int err = need_own_slot(g, slot);
	if (err)
		return err;
	/* A revoked pin is still told (the slot is given back all the same). */
	int unpinned = shmg_wflag_unpin(g, slot);
	int32_t *owner = wflag_pin_owner(g, slot);
	shmg__claims_begin();
	bool ours = shmg_atomic_cmpxchg(owner, shmg__self_pid(), g->pin_free, release);
	shmg__claims_note(g->fd, g->base, owner, false);
	shmg__claims_end();
	return !ours ? SHMG_ENOTOWNER : unpinned == SHMG_EREVOKED ? SHMG_EREVOKED : 0;
}

SHMG_EXPORT int shmg_wflag_pin(const struct shmg_wflag *g, unsigned slot,
			       struct shmg_wflag_pinned *pin)
{
	int err = need_own_slot(g, slot);
	if (err)
		return err;
	if (!pin || pin->size < sizeof(struct shmg_wflag_pinned))
		return shmg__fail(-EINVAL, "struct shmg_wflag_pinned: size %u, at least %zu "
				  "expected", pin ? pin->size : 0, sizeof(struct shmg_wflag_pinned));
	uint32_t *pw = wflag_pin_word(g, slot);
	/* Bits 0-3 as they are (this reader is their only writer). */
	uint32_t cur = shmg_atomic_load(pw, relaxed), keep = cur & PIN_KEEP;
	if (cur >> PIN_SHIFT) {
		/* A pin held (or revoked) still: pinning again moves it, so
		 * it goes first, by an RMW that sees a revocation (never lost
		 * under the new pin; the writer revokes only a word that
		 * holds a pin, so with none this reader is its only writer
		 * until it announces). */
		uint32_t was = shmg_atomic_xchg(pw, keep, release);
		int err = shmg__wflag_pin_result(was);
		if (err)
			return err;
	}
	for (uint32_t tries = 0; tries < SHMG_WFLAG_READ_TRIES; tries++) {
		uint32_t i = shmg_atomic_load(g->index, acquire);
		if (SHMG__UNLIKELY(i >= g->copies)) {
			shmg_atomic_store(pw, keep, release);
			return shmg__fail(SHMG_EGARBAGE, "latch index %u: %u copies", i, g->copies);
		}
		uint64_t *seq = wflag_seq(g, i);
		/* acquire: the copy's stores (published before this number)
		 * are visible. */
		uint64_t q1 = shmg_atomic_load(seq, acquire);
		if (q1 == 0) {
			if (shmg_atomic_load(g->counter, relaxed) == 0) {
				shmg_atomic_store(pw, keep, release);
				return shmg__fail(-ENODATA, "no frame published yet");
			}
			continue; /* lapped: the writer rewrites it */
		}
		/* A release store (doc/pin.md, "What the other orderings
		 * do"): a writer whose acquire load reads this announcement
		 * synchronizes with it, so every read this reader made under
		 * an earlier pin of the slot (before its unpin) happens before
		 * the writer rewrites that copy. A relaxed store would give
		 * that only through C11's release sequences (same thread), not
		 * C++20's (RMWs only): tests/spin/wflag_repin.pml, mutant
		 * RELAXED_ANNOUNCE. What it overwrites is this call's own:
		 * no pin (see above) or an unconfirmed attempt, revoked or
		 * not, which was never handed out. */
		shmg_atomic_store(pw, keep | ((i + 1) << PIN_SHIFT), release);
		SHMG__TEST_POINT(SHMG__PIN_ANNOUNCED);
		/* Dekker with the writer's pick: the announcement before the
		 * re-check (tests/spin/wflag_pin.pml, mutant NO_READER_FENCE). */
		shmg_atomic_thread_fence(seq_cst);
		/* acquire as well: should q2 come from a later publish of the
		 * same number (frame numbers are unique, doc/pin.md, but this
		 * costs one ldar next to the fence's dmb), the copy's stores
		 * are still visible through the pointer. */
		if (shmg_atomic_load(seq, acquire) != q1)
			continue;
		if (SHMG__UNLIKELY(wflag_truncated(g))) {
			shmg_atomic_store(pw, keep, release);
			return SHMG_ETRUNCATED;
		}
		SHMG__TEST_POINT(SHMG__PIN_CONFIRMED);
		struct shmg_wflag_pinned own = {
			.size = sizeof(own), .retries = tries, .frame = q1,
			.data = g->data + (size_t)i * g->data_len, .len = g->data_len,
			.copy = i,
		};
		return shmg__sized_out(pin, &own, sizeof(own), sizeof(own),
				       "struct shmg_wflag_pinned");
	}
	shmg_atomic_store(pw, keep, release);
	return shmg__fail(SHMG_ETOOFAST, "the writer lapped every copy pinned in %d attempts",
			  SHMG_WFLAG_READ_TRIES);
}

SHMG_EXPORT int shmg_wflag_unpin(const struct shmg_wflag *g, unsigned slot)
{
	int err = need_own_slot(g, slot);
	if (err)
		return err;
	uint32_t *pw = wflag_pin_word(g, slot);
	SHMG__TEST_POINT(SHMG__PIN_UNPINNING);
	/* A read-modify-write, not a store: the writer may have revoked the
	 * pin (a CAS on this word), and a store would erase the mark unseen
	 * (tests/spin/wflag_pin.pml, mutant UNPIN_STORE). It reads the last
	 * value in the word's modification order (C11 7.17.7.5), so a
	 * revocation before it is always seen. release: every read of the
	 * copy is done before a writer that sees the pin gone (an acquire
	 * load) rewrites the copy. */
	uint32_t was, nv;
	shmg_atomic_rmw_loop(pw, was, nv, release, { nv = was & PIN_KEEP; });
	if (SHMG__UNLIKELY(wflag_truncated(g)))
		return shmg__fail(SHMG_ETRUNCATED, "the file was truncated under pin slot %u: "
				  "the pinned copy read as zeros", slot);
	return shmg__wflag_pin_result(was);
}

int shmg__wflag_pin_result(uint32_t was)
{
	if ((was >> PIN_SHIFT) != PIN_REVOKED)
		return 0;
	return shmg__fail(SHMG_EREVOKED, "the writer took the pinned copy back and rewrote "
			  "it (every other copy was pinned too, or this reader was judged gone): "
			  "discard what was computed from it");
}

int32_t shmg__wflag_pin_copy(const struct shmg_wflag *g, unsigned k)
{
	if (k >= g->npins)
		return -1;
	uint32_t v = shmg_atomic_load(wflag_pin_word(g, k), relaxed) >> PIN_SHIFT;
	/* A value naming no copy (the file's, not a pin of ours) is none:
	 * callers index the copies with it. */
	return v == 0 || v == PIN_REVOKED || v > g->copies ? -1 : (int32_t)v - 1;
}
