/*
 * check_pin: pinned (zero-copy) reads over the latch of a generic guard
 * (doc/pin.md): the placement's checks, the protocol in one process, whose
 * slot is whose (per claim, never a parent's, a reused PID's), a writer
 * facing every copy pinned (drop, wait with a deadline, wait until an
 * unpin), pins of readers killed at every step reclaimed, a writer killed
 * inside publish, and a writer at full speed with readers pinning and
 * processing in place across processes, every accepted frame checked pixel
 * by pixel before and after processing. tests/check_isio_pin.c does the
 * same over ImageStreamIO streams. Events between processes are ordered by
 * handshakes (shared counters, /proc/PID/syscall), never sleeps.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>

#include <shmguard/wait.h>

#include "pin_test.h"

/* ---------------------------------------------------------------- a generic guard */

#define OFF_MARK 0
#define OFF_WAITERS 1
#define OFF_OWNER 4
#define OFF_COUNTER 8
#define OFF_INDEX 16
#define OFF_SEQ 64 /* 8 copies at most, stride 8 */
#define OFF_PINS 256 /* pin words at 256 + 8k, owners at 260 + 8k */
#define PIN_STRIDE 8
#define OFF_DATA 4096
#define NSLOTS 8

struct guard {
	unsigned char *seg;
	size_t size;
	struct shmg_region *r;
	struct shmg_wflag *g;
	unsigned copies;
	size_t len;
};

static struct shmg_wflag_place place_of(unsigned copies, size_t len, unsigned npins)
{
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER, .copies = copies, .index = OFF_INDEX, .seq = OFF_SEQ,
		.seq_stride = 8, .data = OFF_DATA, .data_len = len, .npins = npins,
		.pins = OFF_PINS, .pin_owners = OFF_PINS + 4, .pin_stride = PIN_STRIDE,
	};
	return p;
}

/* A guard over fresh shared memory (inherited by forked children). */
static struct guard guard_new(unsigned copies, size_t len)
{
	struct guard G = {.copies = copies, .len = len};
	G.size = OFF_DATA + copies * len;
	G.seg = tu_shared_alloc(G.size);
	ck_assert_int_eq(shmg_region_from_memory(&G.r, G.seg, G.size), 0);
	struct shmg_wflag_place p = place_of(copies, len, NSLOTS);
	ck_assert_int_eq(shmg_wflag_new(&G.g, G.r, &p), 0);
	return G;
}

static void guard_free(struct guard *G)
{
	shmg_wflag_free(G->g);
	shmg_region_close(G->r);
	tu_shared_free(G->seg, G->size);
}

static uint32_t *pin_word(struct guard *G, unsigned k)
{
	return (uint32_t *)(void *)(G->seg + OFF_PINS + PIN_STRIDE * k);
}

static int32_t *pin_owner(struct guard *G, unsigned k)
{
	return (int32_t *)(void *)(G->seg + OFF_PINS + 4 + PIN_STRIDE * k);
}

static unsigned char *copy_at(struct guard *G, unsigned c)
{
	return G->seg + OFF_DATA + (size_t)c * G->len;
}

/* Write frame counter + 1 (every pixel its number); the copy written. */
static unsigned write_frame(struct guard *G, unsigned full, const struct timespec *dl,
			    uint32_t *skipped, int expect)
{
	void *copy;
	int err = shmg_wflag_begin_timed(G->g, full, dl, &copy, skipped);
	ck_assert_msg(err == expect, "begin: %s, %s expected", shmg_strerror(err),
		      shmg_strerror(expect));
	if (err)
		return ~0u;
	fill(copy, G->len, (uint32_t)shmg_wflag_counter(G->g) + 1);
	shmg_wflag_publish(G->g);
	return (unsigned)(((unsigned char *)copy - copy_at(G, 0)) / G->len);
}

/* The guard's words (mark, counter, index, sequence words), to compare. */
static void words(struct guard *G, unsigned char *out)
{
	memcpy(out, G->seg, OFF_SEQ + 8 * G->copies);
}

/* ---------------------------------------------------------------- placement */

START_TEST(placement_checked)
{
	unsigned char *seg = tu_shared_alloc(OFF_DATA + 2 * 64);
	struct shmg_region *r;
	struct shmg_wflag *g;
	ck_assert_int_eq(shmg_region_from_memory(&r, seg, OFF_DATA + 2 * 64), 0);
	struct shmg_wflag_place p = place_of(2, 64, 4);
	ck_assert_int_eq(shmg_wflag_new(&g, r, &p), 0);
	shmg_wflag_free(g);

	struct { const char *what; struct shmg_wflag_place p; int err; } bad[] = {
		{"no latch", place_of(0, 0, 4), -EINVAL},
		{"misaligned stride", place_of(2, 64, 4), -EINVAL},
		{"misaligned pins", place_of(2, 64, 4), -EINVAL},
		{"outside", place_of(2, 64, 4), -ERANGE},
		{"over the data", place_of(2, 64, 4), -EINVAL},
		{"owners on pins", place_of(2, 64, 4), -EINVAL},
		{"offsets without npins", place_of(2, 64, 0), -EINVAL},
	};
	bad[0].p.copies = 0; bad[0].p.index = bad[0].p.seq = bad[0].p.seq_stride = 0;
	bad[0].p.data = bad[0].p.data_len = 0;
	bad[1].p.pin_stride = 6;
	bad[2].p.pins = OFF_PINS + 2;
	bad[3].p.npins = 100000;
	bad[4].p.pins = OFF_DATA;
	bad[5].p.pin_owners = OFF_PINS;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = shmg_wflag_new(&g, r, &bad[i].p);
		ck_assert_msg(err == bad[i].err, "%s: %s", bad[i].what, shmg_strerror(err));
		ck_assert_ptr_null(g);
		ck_assert_msg(*shmg_error_detail(err), "%s: no detail", bad[i].what);
	}
	/* A placement from before pins (its size ends before .npins) is
	 * accepted and places none. */
	p = place_of(2, 64, 0);
	p.pins = p.pin_owners = p.pin_stride = 0;
	p.size = offsetof(struct shmg_wflag_place, npins);
	ck_assert_int_eq(shmg_wflag_new(&g, r, &p), 0);
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	ck_assert_int_eq(shmg_wflag_pin(g, 0, &pin), -ENOTSUP);
	unsigned slot;
	ck_assert_int_eq(shmg_wflag_pin_claim(g, &slot), -ENOTSUP);
	shmg_wflag_free(g);
	for (size_t i = 0; i < OFF_DATA + 2 * 64; i++)
		ck_assert_uint_eq(seg[i], 0); /* nothing written */
	shmg_region_close(r);
	tu_shared_free(seg, OFF_DATA + 2 * 64);
}
END_TEST

/* ---------------------------------------------------------------- one process */

/* On a read-only mapping every reader call is refused (its store would
 * fault) and the file is left as it was. */
START_TEST(read_only_refused)
{
	char dir[64], path[96];
	struct shmg_region *r;
	struct shmg_wflag *g;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	struct shmg_wflag_place p = place_of(2, 256, NSLOTS);
	unsigned char before[OFF_DATA], after[OFF_DATA];
	unsigned slot = 0;

	tu_make_dir(dir, "shmg-pin-ro");
	snprintf(path, sizeof(path), "%s/ro", dir);
	ck_assert_int_eq(shmg_region_create(&r, path, OFF_DATA + 2 * 256, 0600, 0, NULL, NULL), 0);
	ck_assert_int_eq(shmg_wflag_new(&g, r, &p), 0);
	void *copy = shmg_wflag_begin(g);
	ck_assert_ptr_nonnull(copy);
	fill(copy, 256, 1);
	shmg_wflag_publish(g);
	shmg_wflag_free(g);
	shmg_region_close(r);

	ck_assert_int_eq(shmg_region_open(&r, path, SHMG_REGION_RDONLY), 0);
	ck_assert_int_eq(shmg_wflag_new(&g, r, &p), 0);
	memcpy(before, shmg_region_base(r), sizeof(before));
	ck_assert_int_eq(shmg_wflag_pin_claim(g, &slot), -EROFS);
	ck_assert_ptr_nonnull(strstr(shmg_error_detail(-EROFS), "read-only"));
	ck_assert_int_eq(shmg_wflag_pin(g, 0, &pin), -EROFS);
	ck_assert_int_eq(shmg_wflag_unpin(g, 0), -EROFS);
	ck_assert_int_eq(shmg_wflag_pin_release(g, 0), -EROFS);
	memcpy(after, shmg_region_base(r), sizeof(after));
	ck_assert_mem_eq(before, after, sizeof(before));
	shmg_wflag_free(g);
	shmg_region_close(r);
	tu_remove_dir(dir);
}
END_TEST

START_TEST(pin_skip_unpin)
{
	struct guard G = guard_new(3, 256);
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	unsigned slot, again;
	uint32_t skipped;

	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &slot), 0);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &again), 0);
	ck_assert_uint_ne(again, slot); /* a slot per claim, also in one process */
	ck_assert_int_eq(*pin_owner(&G, slot), (int32_t)getpid());
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, again), 0);
	/* bits 0-3 of the pin word are the layout's: kept */
	*pin_word(&G, slot) = 0xa;
	ck_assert_int_eq(shmg_wflag_pin(G.g, slot, &pin), -ENODATA);
	ck_assert_uint_eq(*pin_word(&G, slot), 0xa);
	ck_assert_int_eq(shmg_wflag_pin(G.g, NSLOTS, &pin), -ERANGE);
	struct shmg_wflag_pinned small = {.size = 8};
	ck_assert_int_eq(shmg_wflag_pin(G.g, slot, &small), -EINVAL);

	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 1);
	ck_assert_int_eq(shmg_wflag_pin(G.g, slot, &pin), 0);
	ck_assert_uint_eq(pin.frame, 1);
	ck_assert_uint_eq(pin.copy, 1);
	ck_assert_ptr_eq(pin.data, copy_at(&G, 1));
	ck_assert_uint_eq(pin.len, 256);
	ck_assert(intact(&pin));
	ck_assert_uint_eq(*pin_word(&G, slot), 0xa | (2u << 4));
	/* Copy 1 is pinned: frames 2 and 3 go to copies 2 and 0, frame 4
	 * passes copy 1 over. */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 2);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 2);
	ck_assert_uint_eq(skipped, 1);
	ck_assert(intact(&pin)); /* still frame 1 */
	ck_assert_uint_eq(pin.frame, 1);
	/* Its sequence word was restored: a copying reader may read it. */
	ck_assert_uint_eq(*(uint64_t *)(void *)(G.seg + OFF_SEQ + 8), 1);
	ck_assert_int_eq(shmg_wflag_unpin(G.g, slot), 0);
	ck_assert_uint_eq(*pin_word(&G, slot), 0xa);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 1);
	ck_assert_uint_eq(skipped, 0);
	/* pin again moves the pin */
	ck_assert_int_eq(shmg_wflag_pin(G.g, slot, &pin), 0);
	ck_assert_uint_eq(pin.frame, 6);
	ck_assert_int_eq(shmg_wflag_begin_timed(G.g, 7, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, slot), 0);
	ck_assert_uint_eq(*pin_word(&G, slot), 0xa);
	ck_assert_int_eq(*pin_owner(&G, slot), 0);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, slot), SHMG_ENOTOWNER);
	guard_free(&G);
}
END_TEST

/* Two claims in one process (two handles, two threads) get two slots, and
 * the second leaves the first one's pin alone; a forked child can neither
 * pin in, unpin nor release its parent's slot (one load of the owner word,
 * SHMG_ENOTOWNER), and its own claim gets a third slot. */
START_TEST(slots_are_per_claim_and_not_inherited)
{
	struct guard G = guard_new(3, 256);
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	unsigned a, b;

	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* frame 1: copy 1 */
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &a), 0);
	ck_assert_int_eq(shmg_wflag_pin(G.g, a, &pin), 0);
	uint32_t pinned = *pin_word(&G, a);
	ck_assert_uint_eq(pinned >> 4, 2);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &b), 0);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_eq(*pin_word(&G, a), pinned);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_wflag_pinned p2 = {.size = sizeof(p2)};
		unsigned own;
		if (shmg_wflag_pin(G.g, a, &p2) != SHMG_ENOTOWNER ||
		    !strstr(shmg_error_detail(SHMG_ENOTOWNER), "not to this process"))
			_exit(2);
		if (shmg_wflag_unpin(G.g, a) != SHMG_ENOTOWNER ||
		    shmg_wflag_pin_release(G.g, a) != SHMG_ENOTOWNER)
			_exit(3);
		if (shmg_wflag_pin_claim(G.g, &own) != 0 || own == a || own == b)
			_exit(4);
		_exit(shmg_wflag_pin(G.g, own, &p2) == 0 && p2.frame == 1 ? 0 : 5);
	}
	tu_wait_ok(c);
	ck_assert_uint_eq(*pin_word(&G, a), pinned);
	ck_assert_int_eq(*pin_owner(&G, a), (int32_t)getpid());
	/* the writer is not held up: copy 1 (the newest, pinned by us and by
	 * the dead child) is never a candidate */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 2);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	ck_assert(intact(&pin));
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, a), 0);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, b), 0);
	ck_assert_int_eq(shmg_wflag_pin(G.g, a, &pin), SHMG_ENOTOWNER); /* given back */
	guard_free(&G);
}
END_TEST

/* A pin under an owner word no process can hold (garbage: a negative
 * other than -1) is reclaimed by the writer like a dead reader's. */
START_TEST(garbage_owner_pin_reclaimed)
{
	struct guard G = guard_new(2, 256);
	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* frame 1: copy 1 */
	*pin_word(&G, 3) = (1u << 4) | 0x5; /* copy 0, the only candidate */
	*pin_owner(&G, 3) = -5;
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	ck_assert_uint_eq(*pin_word(&G, 3), PIN_REVOKED_WORD | 0x5); /* bits 0-3 kept */
	ck_assert_int_eq(*pin_owner(&G, 3), -5);
	guard_free(&G);
}
END_TEST

/* PID reuse: a slot holding this process's PID that this process never
 * claimed is a dead predecessor's with the same PID (a reader restarted
 * in a PID namespace of its own): a claim takes it, and its stale pin
 * goes; a slot this process did claim is never taken twice. */
START_TEST(stale_slot_of_own_pid_taken)
{
	struct guard G = guard_new(2, 256);
	unsigned k;
	for (unsigned i = 0; i < NSLOTS - 1; i++)
		*pin_owner(&G, i) = 1; /* init: alive, never dead */
	*pin_owner(&G, NSLOTS - 1) = (int32_t)getpid();
	*pin_word(&G, NSLOTS - 1) = (1u << 4) | 0x3;
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &k), 0);
	ck_assert_uint_eq(k, NSLOTS - 1);
	ck_assert_uint_eq(*pin_word(&G, k), 0x3);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &k), -EAGAIN);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, NSLOTS - 1), 0);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &k), 0); /* free again */
	ck_assert_uint_eq(k, NSLOTS - 1);
	guard_free(&G);
}
END_TEST

/* ---------------------------------------------------------------- every copy pinned */

/* A reader process: claim a slot, pin the newest copy, say so (*step = 1),
 * hold it until *go, check it, unpin, exit. */
static pid_t holder(struct guard *G, uint32_t *step, uint32_t *go)
{
	pid_t pid = tu_fork();
	if (pid)
		return pid;
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	if (shmg_wflag_pin_claim(G->g, &slot) || shmg_wflag_pin(G->g, slot, &pin))
		_exit(2);
	shmg_atomic_store(step, 1, release);
	await(go, 1);
	int bad = !intact(&pin);
	shmg_wflag_unpin(G->g, slot);
	shmg_atomic_store(step, 2, release);
	await(go, 2);
	_exit(bad ? 3 : 0);
}

START_TEST(every_copy_pinned)
{
	struct guard G = guard_new(2, 4096);
	uint32_t *hs = tu_shared_alloc(4096); /* [0] A's step, [1] A go, [2] B's step, [3] B go */
	uint32_t skipped;
	unsigned char before[256], after[256];
	struct timespec dl, t0, t1;

	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
	pid_t a = holder(&G, &hs[0], &hs[1]); /* pins copy 1 */
	await(&hs[0], 1);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	pid_t b = holder(&G, &hs[2], &hs[3]); /* pins copy 0, the newest */
	await(&hs[2], 1);

	/* Drop: at once, nothing changed. */
	words(&G, before);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, -EAGAIN), ~0u);
	ck_assert_uint_eq(skipped, 1);
	words(&G, after);
	ck_assert_mem_eq(before, after, OFF_SEQ + 16);

	/* Wait with a deadline: honoured, nothing changed. */
	ck_assert_int_eq(shmg_deadline_in(&dl, 100000000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_WAIT, &dl, &skipped, -ETIMEDOUT), ~0u);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t ns = (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec);
	ck_assert_msg(shmg_deadline_passed(&dl), "returned before the deadline");
	ck_assert_msg(ns < 2000000000ll, "returned %lld ns after a 100 ms deadline", (long long)ns);
	words(&G, after);
	ck_assert_mem_eq(before, after, OFF_SEQ + 16);

	/* Wait without a deadline, in another process: it polls asleep until
	 * A unpins, then writes copy 1. */
	pid_t w = tu_fork();
	if (w == 0) {
		void *copy;
		int err = shmg_wflag_begin_timed(G.g, SHMG_WFLAG_FULL_WAIT, NULL, &copy, NULL);
		if (err || copy != copy_at(&G, 1))
			_exit(4);
		fill(copy, G.len, 3);
		shmg_wflag_publish(G.g);
		_exit(0);
	}
	tu_wait_in_syscall(w, SYS_clock_nanosleep);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 2);
	shmg_atomic_store(&hs[1], 1, release); /* A checks its copy, unpins */
	tu_wait_ok(w);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 3);
	shmg_atomic_store(&hs[1], 2, release);
	shmg_atomic_store(&hs[3], 2, release);
	tu_wait_ok(a);
	tu_wait_ok(b);
	tu_shared_free(hs, 4096);
	guard_free(&G);
}
END_TEST

/* The default (shmg_wflag_begin, SHMG_WFLAG_FULL_REVOKE) never waits for
 * a reader: with every copy but the newest pinned by a live reader it
 * revokes the pin on the oldest and writes that copy; the reader learns at
 * unpin (SHMG_EREVOKED), or at its next pin if it moves the pin without
 * unpinning; a pin that was not revoked unpins with 0. (Before, the writer
 * waited for an unpin forever: the bounded child below was killed by its
 * alarm.) */
START_TEST(writer_revokes_instead_of_waiting)
{
	struct guard G = guard_new(3, 1024);
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)}, pin2 = {.size = sizeof(pin2)};
	unsigned a, b;
	uint32_t skipped;

	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &a), 0);
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &b), 0);
	*pin_word(&G, a) = 0x3; /* bits 0-3 are the layout's */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
	ck_assert_int_eq(shmg_wflag_pin(G.g, a, &pin), 0); /* copy 1, frame 1 */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 2);
	ck_assert_int_eq(shmg_wflag_pin(G.g, b, &pin2), 0); /* copy 2, frame 2 */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	/* copies 1 and 2 pinned, 0 the newest: drop says so */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, -EAGAIN), ~0u);
	/* the default, bounded: a writer that waits is killed by the alarm */
	pid_t w = tu_fork();
	if (w == 0) {
		alarm(20);
		void *copy = shmg_wflag_begin(G.g);
		if (copy != copy_at(&G, 1)) /* the oldest */
			_exit(3);
		fill(copy, G.len, 4);
		shmg_wflag_publish(G.g);
		_exit(0);
	}
	tu_wait_ok(w);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 4);
	ck_assert_uint_eq(*pin_word(&G, a), PIN_REVOKED_WORD | 0x3);
	ck_assert(!intact(&pin)); /* rewritten under the pin */
	ck_assert_int_eq(shmg_wflag_unpin(G.g, a), SHMG_EREVOKED);
	ck_assert_msg(strstr(shmg_error_detail(SHMG_EREVOKED), "discard"), "%s",
		      shmg_error_detail(SHMG_EREVOKED));
	ck_assert_str_eq(shmg_strerror(SHMG_EREVOKED),
			 "the pinned copy was rewritten while pinned: discard what was computed "
			 "from it");
	ck_assert_uint_eq(*pin_word(&G, a), 0x3); /* told once, then clear */
	ck_assert_int_eq(shmg_wflag_unpin(G.g, a), 0);
	/* b's pin on copy 2 was not revoked: the writer goes around it */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, &skipped, 0), 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_int_eq(shmg_wflag_pin(G.g, a, &pin), 0); /* copy 0, frame 5 */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, &skipped, 0), 1);
	/* copies 2 (b) and 0 (a) pinned: b's, the oldest, is revoked */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, &skipped, 0), 2);
	ck_assert_uint_eq(skipped, 2);
	/* b moves its pin without an unpin: the revocation is not lost */
	ck_assert_int_eq(shmg_wflag_pin(G.g, b, &pin2), SHMG_EREVOKED);
	ck_assert_uint_eq(*pin_word(&G, b) >> 4, 0);
	ck_assert_int_eq(shmg_wflag_pin(G.g, b, &pin2), 0); /* frame 7, copy 2 */
	ck_assert_uint_eq(pin2.frame, 7);
	/* a's pin on copy 0 (frame 5) was never taken: a clean unpin */
	ck_assert(intact(&pin));
	ck_assert_int_eq(shmg_wflag_unpin(G.g, a), 0);
	ck_assert_int_eq(shmg_wflag_unpin(G.g, b), 0);
	/* giving a slot back with a revoked pin still tells */
	ck_assert_int_eq(shmg_wflag_pin(G.g, a, &pin), 0); /* copy 2, frame 7 */
	write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, NULL, 0); /* copy 0 */
	ck_assert_int_eq(shmg_wflag_pin(G.g, b, &pin2), 0); /* copy 0, frame 8 */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, NULL, 0), 1);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, NULL, 0), 2);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, a), SHMG_EREVOKED);
	ck_assert_int_eq(*pin_owner(&G, a), 0);
	ck_assert_int_eq(shmg_wflag_pin_release(G.g, b), 0);
	guard_free(&G);
}
END_TEST

/* A reader stopped (SIGSTOP, Ctrl-Z) while it pins the writer's only
 * candidate never stops the writer (default policy); once continued, its
 * unpin says its copy was rewritten. (Before: the writer waited until the
 * reader was continued; here the alarm killed it.) */
START_TEST(stopped_reader_never_stalls_writer)
{
	struct guard G = guard_new(2, 1024);
	int status;
	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
	pid_t r = tu_fork();
	if (r == 0) {
		struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
		unsigned slot;
		if (shmg_wflag_pin_claim(G.g, &slot) || shmg_wflag_pin(G.g, slot, &pin))
			_exit(2);
		raise(SIGSTOP); /* holding copy 1 */
		int bad = intact(&pin);
		_exit(shmg_wflag_unpin(G.g, slot) == SHMG_EREVOKED && !bad ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(r, &status, WUNTRACED), r);
	ck_assert(WIFSTOPPED(status));
	pid_t w = tu_fork();
	if (w == 0) {
		alarm(20);
		for (uint32_t f = 2; f <= 5; f++) { /* copies 0, 1, 0, 1 */
			void *copy = shmg_wflag_begin(G.g);
			fill(copy, G.len, f);
			shmg_wflag_publish(G.g);
		}
		_exit(0);
	}
	tu_wait_ok(w);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 5);
	kill(r, SIGCONT);
	tu_wait_ok(r);
	guard_free(&G);
}
END_TEST

/* ---------------------------------------------------------------- PID namespaces */

/* A reader in a PID namespace of its own (unshare -p -f), forked as the
 * namespace's PID `want` (1: its init): *hs[0] = 1 once it pinned copy 1,
 * then it waits for hs[1] and unpins, leaving the result in hs[2]; with
 * die set it dies holding the pin instead. Returns the outer child, or 0
 * when no PID namespace can be made here (not root). */
static pid_t ns_reader(struct guard *G, int32_t *hs, pid_t want, bool die)
{
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t c = tu_fork();
	if (c == 0) {
		close(pipefd[0]);
		char ok = unshare(CLONE_NEWPID) == 0;
		if (write(pipefd[1], &ok, 1) != 1 || !ok)
			_exit(0);
		pid_t init = fork(); /* the namespace's PID 1 */
		if (init < 0)
			_exit(5);
		if (init > 0) {
			int status;
			waitpid(init, &status, 0);
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 7);
		}
		while (getpid() != want) { /* PIDs 2, 3, ... until `want` */
			pid_t k = fork();
			if (k < 0)
				_exit(5);
			if (k == 0 && getpid() != want)
				_exit(0);
			if (k == 0)
				break;
			int status;
			waitpid(k, &status, 0);
			if (k == want)
				_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 7);
			if (k > want)
				_exit(6);
		}
		/* the reader, PID `want` in its namespace */
		struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
		unsigned slot;
		if (shmg_wflag_pin_claim(G->g, &slot) || shmg_wflag_pin(G->g, slot, &pin) ||
		    pin.copy != 1 || *pin_owner(G, slot) != want)
			_exit(2);
		shmg_atomic_store(&hs[0], 1, release);
		if (die)
			_exit(0); /* dies holding the pin (its namespace with it) */
		await((uint32_t *)&hs[1], 1);
		shmg_atomic_store(&hs[2], shmg_wflag_unpin(G->g, slot), release);
		_exit(0);
	}
	close(pipefd[1]);
	char ok = 0;
	ck_assert_int_eq(read(pipefd[0], &ok, 1), 1);
	close(pipefd[0]);
	if (!ok) {
		tu_wait_ok(c);
		return 0;
	}
	return c;
}

/* Liveness across PID namespaces (doc/pin.md): a reader whose namespace
 * PID names no process here keeps its pin (its slot lock says it lives),
 * so a dropping writer drops rather than rewrite its copy, and the
 * default writer revokes it, which the reader learns at unpin; a reader
 * that was its namespace's PID 1 and died (PID 1 here lives) does not
 * hold its copy. (Before: the first pin was cleared and the copy rewritten
 * under the reader, whose unpin said 0; the second pin was never
 * reclaimed: a waiting writer stalled for good.) */
START_TEST(readers_in_other_pid_namespaces)
{
	char dir[64], path[128];
	tu_make_dir(dir, "shmg-pinns");
	snprintf(path, sizeof(path), "%s/guard", dir);
	struct guard G = {.copies = 2, .len = 1024};
	G.size = OFF_DATA + 2 * 1024;
	ck_assert_int_eq(shmg_region_create(&G.r, path, G.size, 0600, 0, NULL, NULL), 0);
	G.seg = shmg_region_base(G.r);
	struct shmg_wflag_place p = place_of(2, 1024, NSLOTS);
	ck_assert_int_eq(shmg_wflag_new(&G.g, G.r, &p), 0);
	int32_t *hs = tu_shared_alloc(4096);
	ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);

	pid_t n = 2; /* the smallest PID that names nobody here */
	while (kill(n, 0) == 0 || errno != ESRCH)
		n++;
	ck_assert_int_lt(n, 30000);
	pid_t c = ns_reader(&G, hs, n, false);
	if (!c) {
		fprintf(stderr, "SKIP readers_in_other_pid_namespaces: unshare(CLONE_NEWPID) "
			"refused (needs root)\n");
		goto out;
	}
	await((uint32_t *)&hs[0], 1);
	ck_assert_msg(kill(n, 0) != 0, "PID %d appeared here meanwhile", (int)n);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	/* copy 1, the only candidate, pinned by PID n, nobody here: alive */
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, -EAGAIN), ~0u);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_REVOKE, NULL, NULL, 0), 1);
	shmg_atomic_store(&hs[1], 1, release);
	tu_wait_ok(c);
	ck_assert_int_eq(hs[2], SHMG_EREVOKED);

	/* PID 1 of a namespace, dead holding a pin on copy 1 */
	memset(hs, 0, 16);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
	c = ns_reader(&G, hs, 1, true);
	ck_assert_int_ne(c, 0);
	tu_wait_ok(c);
	ck_assert_int_eq(hs[0], 1);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
out:
	tu_shared_free(hs, 4096);
	shmg_wflag_free(G.g);
	shmg_region_close(G.r);
	tu_remove_dir(dir);
}
END_TEST

/* ---------------------------------------------------------------- crashes */

/* A reader killed at protocol step `step` (0: after its pin returned,
 * holding it) leaves a pin on copy 1, the writer's only candidate: the
 * writer reclaims it, never waiting, whatever its policy. */
START_TEST(dead_reader_pin_reclaimed)
{
	static const int steps[] = {SHMG__PIN_ANNOUNCED, SHMG__PIN_CONFIRMED, 0,
				    SHMG__PIN_UNPINNING};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct guard G = guard_new(2, 1024);
		uint32_t skipped;
		int status;
		ck_assert_int_eq(shmg_wflag_claim(G.g), 0);
		write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* copy 1 */
		pid_t v = tu_fork();
		if (v == 0) {
			struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
			unsigned slot;
			if (shmg_wflag_pin_claim(G.g, &slot))
				_exit(2);
			die_step = steps[s];
			shmg__test_point = die_at;
			shmg_wflag_pin(G.g, slot, &pin);
			if (steps[s] == 0)
				raise(SIGKILL);
			shmg_wflag_unpin(G.g, slot);
			_exit(9); /* the step was not reached */
		}
		ck_assert_int_eq(waitpid(v, &status, 0), v);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "step %d: the reader was not killed there (0x%x)", steps[s], status);
		unsigned k = 0;
		while (*pin_owner(&G, k) != v)
			k++;
		ck_assert_uint_eq(*pin_word(&G, k) >> 4, 2); /* copy 1 pinned */
		ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
		/* copy 1 is the only candidate, pinned by the dead: reclaimed */
		ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, &skipped, 0), 1);
		ck_assert_uint_eq(skipped, 1);
		/* revoked, not cleared; the slot left to the dead PID
		 * (a claim takes it) */
		ck_assert_uint_eq(*pin_word(&G, k), PIN_REVOKED_WORD);
		ck_assert_int_eq(*pin_owner(&G, k), v);
		guard_free(&G);
	}
}
END_TEST

/* A writer killed inside a reclaim (slot taken, pin not yet cleared): the
 * next writer reclaims it again. A live reader's pin is never reclaimed. */
START_TEST(dead_reclaimer_and_live_reader)
{
	struct guard G = guard_new(2, 1024);
	uint32_t *hs = tu_shared_alloc(4096);
	int status;
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* copy 1 */
	/* a dead reader's pin on copy 1 */
	*pin_owner(&G, 3) = 0x7ffffff0; /* no such process */
	*pin_word(&G, 3) = 0x5 | (2u << 4);
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* copy 0 */
	pid_t w = tu_fork();
	if (w == 0) {
		die_step = SHMG__PIN_RECLAIMING;
		shmg__test_point = die_at;
		if (shmg_wflag_claim(G.g) != 0)
			_exit(2);
		void *copy;
		shmg_wflag_begin_timed(G.g, SHMG_WFLAG_FULL_DROP, NULL, &copy, NULL);
		_exit(9);
	}
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "0x%x", status);
	ck_assert_int_eq(*pin_owner(&G, 3), w); /* the slot is the dead writer's */
	ck_assert_uint_eq(*pin_word(&G, 3), 0x5 | (2u << 4));
	ck_assert_int_eq(shmg_wflag_claim(G.g), SHMG_OWNERDEAD);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 1);
	ck_assert_uint_eq(*pin_word(&G, 3), PIN_REVOKED_WORD | 0x5); /* bits 0-3 kept */
	ck_assert_int_eq(*pin_owner(&G, 3), w);

	/* A live reader (a process that is not this one) keeps its pin. */
	pid_t a = holder(&G, &hs[0], &hs[1]); /* pins copy 1, the newest */
	await(&hs[0], 1);
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* copy 0 */
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, -EAGAIN);
	shmg_atomic_store(&hs[1], 2, release);
	tu_wait_ok(a);
	write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0);
	tu_shared_free(hs, 4096);
	guard_free(&G);
}
END_TEST

/* A writer killed between numbering its copy and naming it in the index:
 * whoever takes over finishes that publish (index, counter), so the next
 * frame gets a new number. (Before, the next writer published another
 * frame under the orphan's number into the same copy: a reader that read
 * the number before the rewrite and again after accepted the mixture.) */
START_TEST(orphaned_publish_completed)
{
	struct guard G = guard_new(2, 1024);
	int status;
	pid_t w = tu_fork();
	if (w == 0) {
		void *copy;
		if (shmg_wflag_claim(G.g) != 0)
			_exit(2);
		write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* 1: copy 1 */
		write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0); /* 2: copy 0 */
		if (shmg_wflag_begin_timed(G.g, SHMG_WFLAG_FULL_DROP, NULL, &copy, NULL) != 0)
			_exit(3);
		fill(copy, G.len, 3);
		die_step = SHMG__WFLAG_AFTER_SEQ;
		shmg__test_point = die_at;
		shmg_wflag_publish(G.g);
		_exit(9); /* the point was not reached */
	}
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	uint32_t *index = (uint32_t *)(void *)(G.seg + OFF_INDEX);
	uint64_t *seq1 = (uint64_t *)(void *)(G.seg + OFF_SEQ + 8);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 2);
	ck_assert_uint_eq(*index, 0);
	ck_assert_uint_eq(*seq1, 3); /* numbered, not named */

	ck_assert_int_eq(shmg_wflag_claim(G.g), SHMG_OWNERDEAD);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 3);
	ck_assert_uint_eq(*index, 1);
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	ck_assert_int_eq(shmg_wflag_pin_claim(G.g, &slot), 0);
	ck_assert_int_eq(shmg_wflag_pin(G.g, slot, &pin), 0);
	ck_assert_uint_eq(pin.frame, 3);
	ck_assert(intact(&pin));
	ck_assert_int_eq(shmg_wflag_unpin(G.g, slot), 0);
	ck_assert_uint_eq(write_frame(&G, SHMG_WFLAG_FULL_DROP, NULL, NULL, 0), 0);
	ck_assert_uint_eq(shmg_wflag_counter(G.g), 4);
	guard_free(&G);
}
END_TEST

/* ---------------------------------------------------------------- stress */

static struct guard *stress_guard;
static unsigned stress_slot;
static int gpin(void *h, struct shmg_wflag_pinned *p)
{
	return shmg_wflag_pin(((struct guard *)h)->g, stress_slot, p);
}
static int gunpin(void *h)
{
	return shmg_wflag_unpin(((struct guard *)h)->g, stress_slot);
}

static pid_t spawn_generic_reader(struct stress *st, int r, int die_after, int die_step)
{
	shmg_atomic_store(&st->pins[r], 0, release);
	pid_t pid = tu_fork();
	if (pid)
		return pid;
	if (shmg_wflag_pin_claim(stress_guard->g, &stress_slot))
		_exit(21);
	run_pin_reader(st, r, die_after, die_step, gpin, gunpin, stress_guard);
}

/* The writer: frames at full speed; after each begin, no reader may hold
 * the copy it is about to write. */
static void generic_writer(struct stress *st, struct guard *G, uint64_t frames)
{
	if (shmg_wflag_claim(G->g) < 0)
		_exit(30);
	await(&st->start, 1);
	for (uint64_t f = 0; f < frames || shmg_atomic_load(&st->accepted, relaxed) < PINS_WANTED;
	     f++) {
		struct timespec dl;
		void *copy;
		uint32_t skipped;
		shmg_deadline_in(&dl, 10ull * 1000000000u);
		int err = shmg_wflag_begin_timed(G->g, SHMG_WFLAG_FULL_WAIT, &dl, &copy, &skipped);
		if (err) {
			shmg_atomic_inc(&st->stalls, relaxed);
			break;
		}
		unsigned c = (unsigned)(((unsigned char *)copy - copy_at(G, 0)) / G->len);
		for (int r = 0; r < READERS; r++)
			if (shmg_atomic_load(&st->held[r], seq_cst) == c + 1)
				shmg_atomic_inc(&st->violations, relaxed);
		st->skipped += skipped;
		fill(copy, G->len, (uint32_t)shmg_wflag_counter(G->g) + 1);
		shmg_wflag_publish(G->g);
		st->frames++;
	}
	shmg_atomic_store(&st->done, 1, release);
	_exit(0);
}

START_TEST(stress_generic)
{
	/* 3 copies, 3 readers: the writer often finds every other copy
	 * pinned, and must skip and wait. */
	struct guard G = guard_new(3, 64 * 1024);
	struct stress *st = tu_shared_alloc(4096);
	uint64_t frames = 20000;
	pid_t readers[READERS];
	stress_guard = &G;
	for (int r = 0; r < READERS; r++)
		readers[r] = spawn_generic_reader(st, r, 50, SHMG__PIN_ANNOUNCED + r);
	await(&st->started, READERS);
	pid_t w = tu_fork();
	if (w == 0)
		generic_writer(st, &G, frames);
	shmg_atomic_store(&st->start, 1, release);
	run_kills(st, readers, spawn_generic_reader);
	tu_wait_ok(w);
	reap_readers(readers);
	stress_check(st, frames);
	ck_assert_msg(st->skipped > 0, "the writer never found a copy pinned");
	tu_shared_free(st, 4096);
	guard_free(&G);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pin");
	TCase *tc = tcase_create("pin");
	tcase_add_test(tc, placement_checked);
	tcase_add_test(tc, pin_skip_unpin);
	tcase_add_test(tc, read_only_refused);
	tcase_add_test(tc, slots_are_per_claim_and_not_inherited);
	tcase_add_test(tc, garbage_owner_pin_reclaimed);
	tcase_add_test(tc, stale_slot_of_own_pid_taken);
	suite_add_tcase(s, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers");
	tcase_set_timeout(pc, 120);
	tcase_add_test(pc, every_copy_pinned);
	tcase_add_test(pc, writer_revokes_instead_of_waiting);
	tcase_add_test(pc, stopped_reader_never_stalls_writer);
	tcase_add_test(pc, readers_in_other_pid_namespaces);
	tcase_add_test(pc, dead_reader_pin_reclaimed);
	tcase_add_test(pc, dead_reclaimer_and_live_reader);
	tcase_add_test(pc, orphaned_publish_completed);
	tcase_add_test(pc, stress_generic);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
