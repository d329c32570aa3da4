/*
 * pin_test.h: what the pinned-read suites share (tests/check_pin.c over a
 * generic guard, tests/check_isio_pin.c over ImageStreamIO streams): frames
 * whose every 32-bit pixel is the frame's number, handshakes, a test point
 * that kills, and the stress harness (readers pinning and processing in
 * place, killed and replaced at every protocol step while a writer runs at
 * full speed).
 */
#ifndef SHMG_PIN_TEST_H
#define SHMG_PIN_TEST_H

#include <sched.h>
#include <signal.h>
#include <stdio.h>

#include <shmguard.h>
#include <shmguard/wflag.h>

#include "testing.h"
#include "testutil.h"

/* A pin word whose pin was revoked (bits 4-31 all set; doc/pin.md). */
#define PIN_REVOKED_WORD 0xfffffff0u

/* Fill the begun copy with the frame's number in every 32-bit pixel. */
static inline void fill(void *copy, size_t len, uint32_t v)
{
	uint32_t *p = copy;
	for (size_t i = 0; i < len / 4; i++)
		shmg_atomic_store(&p[i], v, relaxed);
}

/* Every pixel of a pinned copy is its frame number. */
static inline bool intact(const struct shmg_wflag_pinned *pin)
{
	const uint32_t *p = pin->data;
	for (size_t i = 0; i < pin->len / 4; i++)
		if (p[i] != (uint32_t)pin->frame)
			return false;
	return true;
}

/* Spin until *w >= v (another process's handshake). */
static inline void await(uint32_t *w, uint32_t v)
{
	while (shmg_atomic_load(w, acquire) < v)
		sched_yield();
}

/* A test point that kills the process at step die_step. */
static int die_step;
static inline void die_at(int step)
{
	if (step == die_step)
		raise(SIGKILL);
}

/* ---------------------------------------------------------------- stress */

#define READERS 3
#define KILLS 8
#define PINS_WANTED 3000 /* the writers go on until readers accepted this many */

struct stress {
	uint32_t start, done, started, claimed;
	uint32_t held[READERS];     /* copy + 1 a reader holds confirmed (seq_cst) */
	uint32_t pins[READERS];     /* pins accepted, per reader incarnation */
	uint64_t accepted, torn, overwritten, rejected;
	uint64_t frames, skipped, violations, stalls;
	int32_t reader_error; /* the first unexpected pin result a reader got */
};

static int reader_die_after; /* pins before a reader kills itself, 0: never */
static int reader_die_step;
static uint32_t *reader_count;
static inline void reader_point(int step)
{
	if (reader_die_after && step == reader_die_step &&
	    shmg_atomic_load(reader_count, relaxed) >= (uint32_t)reader_die_after)
		raise(SIGKILL);
}

/* Pin, check every pixel, process (sum), check again, unpin; until done. */
static inline void pin_reader(struct stress *st, int r, int (*pin_fn)(void *, struct shmg_wflag_pinned *),
		       int (*unpin_fn)(void *), void *h)
{
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	uint64_t last = 0;
	while (!shmg_atomic_load(&st->done, acquire)) {
		int err = pin_fn(h, &pin);
		if (err == -ENODATA)
			continue; /* no frame yet */
		if (err == SHMG_ETOOFAST) {
			shmg_atomic_inc(&st->rejected, relaxed);
			continue;
		}
		if (err) {
			int32_t none = 0;
			shmg_atomic_cmpxchg(&st->reader_error, none, err, relaxed);
			_exit(20);
		}
		shmg_atomic_store(&st->held[r], pin.copy + 1, seq_cst);
		if (!intact(&pin) || pin.frame < last)
			shmg_atomic_inc(&st->torn, relaxed);
		last = pin.frame;
		uint64_t sum = 0;
		const uint32_t *px = pin.data;
		for (size_t i = 0; i < pin.len / 4; i++)
			sum += px[i];
		if (sum != (uint64_t)(uint32_t)pin.frame * (pin.len / 4) || !intact(&pin))
			shmg_atomic_inc(&st->overwritten, relaxed);
		shmg_atomic_store(&st->held[r], 0, seq_cst);
		shmg_atomic_inc(&st->pins[r], release);
		if (reader_die_after && reader_die_step == 0 &&
		    shmg_atomic_load(&st->pins[r], relaxed) >= (uint32_t)reader_die_after) {
			shmg_atomic_store(&st->held[r], 0, seq_cst);
			pin_fn(h, &pin); /* die holding a pin */
			raise(SIGKILL);
		}
		unpin_fn(h);
		shmg_atomic_inc(&st->accepted, relaxed);
	}
}

/* The body of a forked stress reader that holds its slot already: dies at
 * protocol step die_step once it has pinned die_after times (0: never),
 * says it started, and pins until the writer is done. */
__attribute__((noreturn)) static inline void
run_pin_reader(struct stress *st, int r, int die_after, int die_step,
	       int (*pin_fn)(void *, struct shmg_wflag_pinned *), int (*unpin_fn)(void *), void *h)
{
	reader_die_after = die_after;
	reader_die_step = die_step;
	reader_count = &st->pins[r];
	shmg__test_point = reader_point;
	shmg_atomic_inc(&st->started, acq_rel);
	pin_reader(st, r, pin_fn, unpin_fn, h);
	_exit(0);
}

/* Readers killed and replaced while the writer runs: at each step in turn
 * (announced, confirmed, holding, unpinning), after a few pins each. */
static inline void run_kills(struct stress *st, pid_t *readers,
		      pid_t (*spawn)(struct stress *, int, int, int))
{
	static const int steps[] = {SHMG__PIN_ANNOUNCED, SHMG__PIN_CONFIRMED, 0,
				    SHMG__PIN_UNPINNING};
	for (int k = 0; k < KILLS && !shmg_atomic_load(&st->done, acquire); k++) {
		int r = k % READERS, status;
		/* the doomed reader's successor kills itself at a step */
		ck_assert_int_eq(waitpid(readers[r], &status, 0), readers[r]);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    shmg_atomic_load(&st->done, acquire)) {
			readers[r] = 0; /* the writer finished first */
			continue;
		}
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "reader %d ended 0x%x (pin result %d: %s)", r, status,
			      st->reader_error, shmg_error_detail(st->reader_error));
		/* the last generation lives until the writer is done */
		readers[r] = spawn(st, r, k < KILLS - READERS ? 50 : 0, steps[k % 4]);
	}
}

/* The last readers end when the writer is done, or by their own kill. */
static inline void reap_readers(pid_t *readers)
{
	for (int r = 0; r < READERS; r++) {
		int status;
		if (!readers[r])
			continue;
		ck_assert_int_eq(waitpid(readers[r], &status, 0), readers[r]);
		ck_assert_msg((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
			      (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
			      "reader %d ended 0x%x", r, status);
	}
}

static inline void stress_check(struct stress *st, uint64_t frames)
{
	ck_assert_uint_eq(st->stalls, 0);
	ck_assert_uint_ge(st->frames, frames);
	ck_assert_uint_eq(st->torn, 0);
	ck_assert_uint_eq(st->overwritten, 0);
	ck_assert_uint_eq(st->violations, 0);
	ck_assert_msg(st->accepted > 100, "only %llu pins accepted",
		      (unsigned long long)st->accepted);
	fprintf(stderr, "pin stress: %llu frames, %llu copies skipped (generic writer only), "
		"%llu pins accepted, %llu lapped, 0 torn, 0 overwritten\n",
		(unsigned long long)st->frames, (unsigned long long)st->skipped,
		(unsigned long long)st->accepted,
		(unsigned long long)st->rejected);
}

#endif /* SHMG_PIN_TEST_H */
