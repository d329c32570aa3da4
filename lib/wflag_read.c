/*
 * The write-flag guard: the readers' side (snapshot reads and waits).
 * See include/shmguard/wflag.h and doc/wflag.md.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/memcpy.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>

#include "detail.h"
#include "sized.h"
#include "testing.h"
#include "wait_internal.h"
#include "wflag_internal.h"

/* Spin iterations before sleeping (a few microseconds of cpu_relax): a
 * frame that is about to land is caught without a syscall. */
#define WFLAG_SPIN 256
/* A sleeper wakes every PROBE_NS to probe the writer's liveness: a writer
 * killed mid-frame cannot wake anybody. Long on purpose: a futex sleep
 * armed with a short timeout wakes measurably later (2.5 us here with
 * 1 ms) than one with a long timeout, and readers sleep on every frame;
 * a dead writer is reported within one period. */
#define PROBE_NS 64000000u
/* A reader on a read-only mapping cannot announce itself, so a writer with
 * a waiters byte never wakes it; and a writer that does not follow the
 * guard (an unmodified ImageStreamIO writer) wakes nobody. Such readers
 * poll, first after POLL_MIN_NS, the interval doubling while nothing
 * happens up to POLL_MAX_NS (doc/wflag.md, "Read-only readers" and
 * "Writers that wake nobody"). An idle stream then costs such a reader
 * about 1,000 wake-ups a second; a frame is seen at most POLL_MAX_NS late. */
#define POLL_MIN_NS 50000u
#define POLL_MAX_NS 1000000u
#ifdef SHMG_TESTING
/* Tests of wake-ups stretch the probe period, so a lost wake-up cannot hide
 * behind a probe (tests/check_wflag.c). */
uint64_t shmg__test_wflag_probe_ns;
#endif

SHMG_EXPORT uint64_t shmg_wflag_counter(const struct shmg_wflag *g)
{
	return shmg_atomic_load(g->counter, acquire);
}

SHMG_EXPORT int shmg_wflag_writer_alive(const struct shmg_wflag *g,
					int32_t *pid)
{
	if (pid)
		*pid = 0;
	if (!g->owner)
		return -ENOTSUP;
	int32_t who = shmg_atomic_load(g->owner, relaxed);
	if (pid)
		*pid = who;
	if (who == 0)
		return -ENOENT;
	if (who < 0)
		return SHMG_EGARBAGE;
	return shmg_proc_alive(who, 0, 0);
}

enum wait_for { FOR_IDLE, FOR_UPDATE };

/* 1: the condition holds; 0: not yet; < 0: an error to report. */
static int condition(const struct shmg_wflag *g, enum wait_for what,
		     uint64_t after, uint64_t *now)
{
	if (SHMG__UNLIKELY(wflag_truncated(g)))
		return SHMG_ETRUNCATED;
	if (what == FOR_IDLE)
		return byte_load(g->mark, acquire) == 0;
	uint64_t c = shmg_atomic_load(g->counter, acquire);
	if (now)
		*now = c;
	if (c > after)
		return 1;
	/* A latch names frame after + 1 a moment before the counter does
	 * (publish order), so a latch reader may be one ahead. */
	if (c + (g->copies != 0) < after)
		/* A truncation's fault raises the flag during the load above:
		 * a zero page's counter is no counter that went back. */
		return SHMG__UNLIKELY(wflag_truncated(g)) ? SHMG_ETRUNCATED : SHMG_ECOUNTER;
	return 0;
}

/* A cheap look for the spin: has anything the waiter waits for moved? */
static bool changed(const struct shmg_wflag *g, enum wait_for what,
		    uint64_t after)
{
	if (what == FOR_IDLE)
		return byte_load(g->mark, relaxed) == 0;
	return shmg_atomic_load(g->counter, relaxed) != after;
}

static bool writer_dead(const struct shmg_wflag *g, enum wait_for what)
{
	if (!g->owner)
		return false;
	/* Waiting for idle, only a writer dead with the mark set matters. */
	if (what == FOR_IDLE && byte_load(g->mark, relaxed) == 0)
		return false;
	int32_t who = shmg_atomic_load(g->owner, relaxed);
	return who > 0 && shmg_proc_alive(who, 0, 0) == SHMG_PROC_DEAD;
}

/* Where a waiter sleeps, and the value that word must still hold. */
struct sleep_on {
	uint32_t *word;
	uint32_t seen;
	uint8_t announced; /* the waiters byte as announced (0: none) */
};

/* The handle is the caller's own (process-local, never const storage):
 * readers keep their evidence about the writer in it. */
static uint8_t *unwoken(const struct shmg_wflag *g)
{
	return (uint8_t *)&((struct shmg_wflag *)(uintptr_t)g)->unwoken;
}

/*
 * A sleep that timed out found what it waited for: the writer published
 * while this reader was announced, and woke nobody. Poll from now on (a
 * wake seen later turns that off), and take back this announcement, which
 * such a writer never clears: by a CAS from exactly the byte announced, so
 * a publish that advanced the generation meanwhile keeps it.
 */
static void writer_woke_nobody(const struct shmg_wflag *g, const struct sleep_on *s)
{
	shmg_atomic_store(unwoken(g), 1, relaxed);
#if __GCC_ATOMIC_CHAR_LOCK_FREE == 2
	if (s->announced & WAITERS_ASLEEP)
		shmg_atomic_cmpxchg(g->waiters, s->announced,
				    (uint8_t)(s->announced & ~WAITERS_ASLEEP), relaxed);
#else
	(void)s; /* no 1-byte CAS here: the next guarded publish clears it */
#endif
}

/*
 * With a waiters byte: announce, then look (a Dekker handshake with the
 * writer's wake_sleepers(): tests/spin/wflag_wake.pml), and sleep on the
 * mark's word, whose waiters byte a publish moves to a new generation.
 * Returns condition()'s value, or 2: look again.
 */
static int announce_then_look(const struct shmg_wflag *g, enum wait_for what,
			      uint64_t after, uint64_t *now,
			      struct sleep_on *s)
{
	/* The byte as announced, generation included (an atomic OR, so two
	 * sleepers agree on it). */
	uint8_t mine = byte_load(g->waiters, relaxed);
	if (!(mine & WAITERS_ASLEEP))
		mine = byte_or(g->waiters, WAITERS_ASLEEP, relaxed);
	shmg_atomic_thread_fence(seq_cst);
	s->announced = mine;
	int c = condition(g, what, after, now);
	if (c != 0)
		return c;
	s->word = g->futex;
	s->seen = shmg_atomic_load(g->futex, relaxed);
	/* A publish since the announcement moved the generation (it may
	 * have woken nobody): look again instead of sleeping. */
	if (((s->seen & g->waiters_bits) >> g->waiters_shift) != mine)
		return 2;
	return 0;
}

/*
 * Without a waiters byte (or on a read-only mapping) nobody announces, and
 * the mark's word may hold
 * after a whole frame what it held before (mark 0 -> 1 -> 0): a sleeper
 * on it could sleep through that frame. So the word slept on is one the
 * awaited event itself changes, read before the condition it stands for
 * (tests/spin/wflag_wake_nowaiters.pml; doc/wflag.md, "Sleeping without
 * a waiters byte"):
 *   - an update: the counter's low half, then the counter (the two
 *     overlap, so coherence keeps the reads in order); a publish after
 *     the read makes futex_wait return at once (mutants MARK_WORD,
 *     LOAD_AFTER_CHECK);
 *   - idle: the mark's word, with acquire, its own mark byte being the
 *     condition (a second load of the mark could see the next frame's
 *     mark over a word that shows the clear: IDLE_RECHECK_MARK).
 * The writer wakes both words (wake_sleepers()).
 */
static int look_then_sleep_word(const struct shmg_wflag *g,
				enum wait_for what, uint64_t after,
				uint64_t *now, struct sleep_on *s)
{
	s->announced = 0;
	if (what == FOR_IDLE || g->waiters) {
		/* With a waiters byte (a read-only reader, which polls) the
		 * mark's word is also where announced sleepers are woken, and
		 * a wake advances its generation: such a reader is woken early
		 * whenever a writable one is. */
		s->word = g->futex;
		s->seen = shmg_atomic_load(g->futex, acquire);
		if (what == FOR_IDLE)
			return (s->seen & g->mark_bits) == 0;
		return condition(g, what, after, now);
	}
	s->word = g->counter_low;
	s->seen = shmg_atomic_load(g->counter_low, relaxed);
	return condition(g, what, after, now);
}

static int wflag_wait(const struct shmg_wflag *g, enum wait_for what,
		      uint64_t after, uint64_t *now,
		      const struct timespec *deadline)
{
	const uint64_t probe_ns = SHMG__PROBE_NS(wflag, PROBE_NS);
	/* Only a reader that may write announces; without a waiters byte
	 * nobody needs to, and with one a read-only reader polls. */
	const bool announces = g->waiters && !g->readonly;
	const bool polls = g->waiters && (g->readonly || shmg_atomic_load(unwoken(g), relaxed));
	uint64_t nap_ns = polls ? POLL_MIN_NS : probe_ns;
	struct timespec probe_at;
	struct sleep_on s;
	int c;

	/* Spin on relaxed loads (the upstream review: no acquire on every
	 * iteration); the condition() below re-reads with acquire. */
	for (unsigned spin = 0; spin < WFLAG_SPIN && !changed(g, what, after); spin++)
		shmg_cpu_relax();
	shmg_deadline_in(&probe_at, probe_ns);
	for (;;) {
		/* Woken or timed out: look before announcing again, so a
		 * satisfied waiter leaves no stale announcement behind. */
		if ((c = condition(g, what, after, now)) != 0)
			return c > 0 ? 0 : c;
		if (announces)
			c = announce_then_look(g, what, after, now, &s);
		else
			c = look_then_sleep_word(g, what, after, now, &s);
		if (c == 2)
			continue;
		if (c != 0)
			return c > 0 ? 0 : c;
		SHMG__TEST_POINT(SHMG__WFLAG_BEFORE_SLEEP);
		struct timespec until;
		int err = shmg__wake_by(&until, deadline, nap_ns);
		if (err)
			return err;
		err = shmg_futex_wait(s.word, s.seen, &until);
		if (err == -EINTR)
			return -EINTR;
		if (err == 0 && announces)
			shmg_atomic_store(unwoken(g), 0, relaxed); /* a writer that wakes */
		if (err != -ETIMEDOUT)
			continue;
		/* Announcements stay (another sleeper may rely on one), unless
		 * the writer is seen to wake nobody. A dead writer is reported
		 * rather than a timeout. */
		if ((c = condition(g, what, after, now)) != 0) {
			if (c > 0 && announces)
				writer_woke_nobody(g, &s);
			return c > 0 ? 0 : c;
		}
		bool at_deadline = shmg_deadline_passed(deadline);
		if (at_deadline || shmg_deadline_passed(&probe_at)) {
			if (writer_dead(g, what))
				return SHMG_EWRITERDEAD;
			shmg_deadline_in(&probe_at, probe_ns);
		}
		if (at_deadline)
			return -ETIMEDOUT;
		if (polls && nap_ns < POLL_MAX_NS)
			nap_ns = nap_ns * 2 < POLL_MAX_NS ? nap_ns * 2 : POLL_MAX_NS;
	}
}

SHMG_EXPORT int shmg_wflag_wait_idle(const struct shmg_wflag *g,
				     const struct timespec *deadline)
{
	return wflag_wait(g, FOR_IDLE, 0, NULL, deadline);
}

SHMG_EXPORT int shmg_wflag_wait_update(const struct shmg_wflag *g,
				       uint64_t after, uint64_t *now,
				       const struct timespec *deadline)
{
	uint64_t seen = 0;
	int err = wflag_wait(g, FOR_UPDATE, after, &seen, deadline);
	if (now)
		*now = seen;
	return err;
}

/* The seqlock over the main buffer (doc/wflag.md, "The seqlock"). */
static int read_single(const struct shmg_wflag *g, void *dst,
		       const void *src, size_t len,
		       struct shmg_wflag_snap *snap,
		       const struct timespec *deadline)
{
	const unsigned char *s = src;

	if (!s || s < g->base || (size_t)(s - g->base) > g->size ||
	    len > g->size - (size_t)(s - g->base))
		return -ERANGE;
	for (unsigned tries = 0; tries < SHMG_WFLAG_READ_TRIES; tries++) {
		uint64_t c1 = shmg_atomic_load(g->counter, acquire);
		if (byte_load(g->mark, acquire)) {
			/* Writing: wait for the frame instead of spinning on
			 * it (the retry still counts: a writer that never
			 * pauses makes this end in SHMG_ETOOFAST). */
			int err = shmg_wflag_wait_idle(g, deadline);
			if (err)
				return err;
			continue;
		}
		/* The copy's acquire fence keeps the re-checks after it. */
		shmg_atomic_load_memcpy(dst, s, len, acquire);
		SHMG__TEST_POINT(SHMG__WFLAG_READ_COPIED);
		/* The mark re-check must be an acquire load read before the
		 * counter (tests/spin/seqlock.pml, mutant RELAXED_RECHECK). */
		uint8_t m2 = byte_load(g->mark, acquire);
		uint64_t c2 = shmg_atomic_load(g->counter, relaxed);
		if (SHMG__UNLIKELY(wflag_truncated(g)))
			return SHMG_ETRUNCATED;
		if (m2 == 0 && c2 == c1) {
			snap->frame = c1;
			snap->retries = tries;
			snap->copy = -1;
			return 0;
		}
	}
	return SHMG_ETOOFAST;
}

/* The latch: copy the newest complete copy (Linux's seqcount latch). */
static int read_latch(const struct shmg_wflag *g, void *dst, size_t len,
		      struct shmg_wflag_snap *snap,
		      const struct timespec *deadline)
{
	if (len > g->data_len)
		return -ERANGE;
	for (unsigned tries = 0; tries < SHMG_WFLAG_READ_TRIES; tries++) {
		/* The dependency order where an acquire load would do (doc/
		 * atomic.md, "The dependency order"): the sequence word's
		 * address is computed from the index, so it is read after it
		 * and is at least as new as when the index was stored; the
		 * copy's addresses carry the sequence word's dependency, so the
		 * copy is read after it (wflag_latch.pml, RELAXED_SEQ, is the
		 * order this keeps). No acquire instruction on aarch64
		 * (tests/codegen/aarch64.c, cg_dependency_chain). The C11
		 * model gives these loads no order: to it they are relaxed,
		 * and a dependency orders nothing (only consume would, which
		 * compilers implement as acquire). The order is the CPU's,
		 * which keeps address dependencies between loads (AArch64,
		 * POWER, RISC-V, x86; elsewhere these are acquire loads), and
		 * it holds only while the compiler keeps the dependency,
		 * which is why the chain is checked in the binary (XNU's
		 * caveat, doc/atomic.md). */
		uint32_t i = shmg_atomic_load(g->index, dependency);
		if (i >= g->copies)
			return SHMG_EGARBAGE;
		uint64_t *seq = wflag_seq(g, i);
		uint64_t q1 = shmg_atomic_load(seq, dependency);
		if (q1 == 0) {
			/* Never written yet: wait for a first frame. Else the
			 * writer lapped us and rewrites it: look again. */
			if (shmg_atomic_load(g->counter, relaxed) == 0) {
				int err = shmg_wflag_wait_update(g, 0, NULL,
								 deadline);
				if (err)
					return err;
			}
			continue;
		}
		const unsigned char *copy = shmg_atomic_inject_dependency(
			g->data + (size_t)i * g->data_len, shmg_atomic_make_dependency(q1));
		shmg_atomic_load_memcpy(dst, copy, len, acquire);
		SHMG__TEST_POINT(SHMG__WFLAG_READ_COPIED);
		/* A copy that read any byte of a later rewrite sees that
		 * rewrite's zeroed sequence word here (fence-fence
		 * synchronization; tests/spin/wflag_latch.pml). */
		if (SHMG__UNLIKELY(wflag_truncated(g)))
			return SHMG_ETRUNCATED;
		if (shmg_atomic_load(seq, relaxed) == q1) {
			snap->frame = q1;
			snap->retries = tries;
			snap->copy = (int)i;
			return 0;
		}
	}
	return SHMG_ETOOFAST;
}

SHMG_EXPORT int shmg_wflag_read(const struct shmg_wflag *g, void *dst,
				const void *src, size_t len,
				struct shmg_wflag_snap *snap,
				const struct timespec *deadline)
{
	struct shmg_wflag_snap own = {.size = sizeof(own)};
	int err;

	if (snap && snap->size < sizeof(own))
		return SHMG__SIZED_OUT(snap, &own, struct shmg_wflag_snap);
	if (g->copies)
		err = read_latch(g, dst, len, &own, deadline);
	else
		err = read_single(g, dst, src, len, &own, deadline);
	if (!err && snap)
		SHMG__SIZED_OUT(snap, &own, struct shmg_wflag_snap);
	return err;
}
