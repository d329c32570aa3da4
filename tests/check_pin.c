/*
 * check_pin: pinned (zero-copy) reads over the latch (doc/pin.md): the
 * placement's checks, the protocol in one process, a writer facing every
 * copy pinned (drop, wait with a deadline, wait until an unpin), pins of
 * readers killed at every step reclaimed by the writer and by
 * shmg_isio_recover, and writers at full speed with readers pinning and
 * processing in place across processes, every accepted frame checked pixel
 * by pixel before and after processing. Events between processes are
 * ordered by handshakes (shared counters, /proc/PID/syscall), never sleeps.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include <shmguard.h>
#include <shmguard/isio.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>

#include "testing.h"
#include "testutil.h"

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

/* Fill the begun copy with the frame's number in every 32-bit pixel. */
static void fill(void *copy, size_t len, uint32_t v)
{
	uint32_t *p = copy;
	for (size_t i = 0; i < len / 4; i++)
		shmg_atomic_store(&p[i], v, relaxed);
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

/* Every pixel of a pinned copy is its frame number. */
static bool intact(const struct shmg_wflag_pinned *pin)
{
	const uint32_t *p = pin->data;
	for (size_t i = 0; i < pin->len / 4; i++)
		if (p[i] != (uint32_t)pin->frame)
			return false;
	return true;
}

/* The guard's words (mark, counter, index, sequence words), to compare. */
static void words(struct guard *G, unsigned char *out)
{
	memcpy(out, G->seg, OFF_SEQ + 8 * G->copies);
}

/* Spin until *w >= v (another process's handshake). */
static void await(uint32_t *w, uint32_t v)
{
	while (shmg_atomic_load(w, acquire) < v)
		sched_yield();
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
	ck_assert_uint_eq(*pin_word(&G, 3), 0x5); /* bits 0-3 kept */
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

/* ---------------------------------------------------------------- crashes */

static int die_step;
static void die_at(int step)
{
	if (step == die_step)
		raise(SIGKILL);
}

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
		ck_assert_uint_eq(*pin_word(&G, k), 0);
		ck_assert_int_eq(*pin_owner(&G, k), 0);
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
	ck_assert_uint_eq(*pin_word(&G, 3), 0x5); /* bits 0-3 kept */
	ck_assert_int_eq(*pin_owner(&G, 3), 0);

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
};

static int reader_die_after; /* pins before a reader kills itself, 0: never */
static int reader_die_step;
static uint32_t *reader_count;
static void reader_point(int step)
{
	if (reader_die_after && step == reader_die_step &&
	    shmg_atomic_load(reader_count, relaxed) >= (uint32_t)reader_die_after)
		raise(SIGKILL);
}

/* Pin, check every pixel, process (sum), check again, unpin; until done. */
static void pin_reader(struct stress *st, int r, int (*pin_fn)(void *, struct shmg_wflag_pinned *),
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
		if (err)
			_exit(20);
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
	reader_die_after = die_after;
	reader_die_step = die_step;
	reader_count = &st->pins[r];
	shmg__test_point = reader_point;
	shmg_atomic_inc(&st->started, acq_rel);
	pin_reader(st, r, gpin, gunpin, stress_guard);
	_exit(0);
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

/* Readers killed and replaced while the writer runs: at each step in turn
 * (announced, confirmed, holding, unpinning), after a few pins each. */
static void run_kills(struct stress *st, pid_t *readers,
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
			      "reader %d ended 0x%x", r, status);
		/* the last generation lives until the writer is done */
		readers[r] = spawn(st, r, k < KILLS - READERS ? 50 : 0, steps[k % 4]);
	}
}

/* The last readers end when the writer is done, or by their own kill. */
static void reap_readers(pid_t *readers)
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

static void stress_check(struct stress *st, uint64_t frames)
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

/* ---------------------------------------------------------------- ImageStreamIO */

static char dir[64], path[128];

static void setup(void)
{
	tu_make_dir(dir, "shmg-pin");
	snprintf(path, sizeof(path), "%s/cam.im.shm", dir);
}

static void teardown(void)
{
	tu_remove_dir(dir);
}

static struct shmg_isio *stream(uint32_t cbsize, uint16_t nsem, uint32_t w, uint32_t h)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "cam", .naxis = 2, .dims = {w, h},
		.datatype = SHMG_ISIO_UINT32, .nsem = nsem, .cbsize = cbsize,
		.imagetype = cbsize ? SHMG_ISIO_CIRCULAR_BUFFER : 0,
	};
	struct shmg_isio *s;
	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0600, SHMG_REGION_REPLACE), 0);
	return s;
}

static uint32_t *semstatus(struct shmg_isio *s, unsigned k)
{
	struct shmg_isio_layout l = {.size = sizeof(l)};
	ck_assert_int_eq(shmg_isio_get_layout(s, &l), 0);
	return (uint32_t *)(void *)((unsigned char *)shmg_region_base(shmg_isio_region(s)) +
				    l.off_semstatus + 4 * k);
}

static int isio_write_n(struct shmg_isio *s, size_t len)
{
	static uint32_t buf[1 << 16];
	uint32_t n = (uint32_t)shmg_isio_counter(s) + 1;
	for (size_t i = 0; i < len / 4; i++)
		buf[i] = n;
	return shmg_isio_write(s, buf, len, NULL);
}

static void collect(void *arg, int result, const char *text)
{
	(void)result;
	strncat(arg, text, 4095 - strlen(arg));
	strncat(arg, "\n", 4095 - strlen(arg));
}

START_TEST(isio_pin_inspect_recover)
{
	struct shmg_isio *s = stream(2, 3, 16, 16);
	size_t len = 16 * 16 * 4;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	int status;

	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_int_eq(shmg_isio_pin(s, &pin), -EINVAL); /* no slot */
	ck_assert_int_eq(shmg_isio_pin_policy(s, 2, 0), -EINVAL);
	ck_assert_int_eq(shmg_isio_pin_policy(s, SHMG_WFLAG_FULL_DROP, 0), 0);
	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 1: copy 1 */
	pid_t v = tu_fork();
	if (v == 0) {
		struct shmg_isio *o;
		int slot;
		if (shmg_isio_open(&o, path, 0) || shmg_isio_sem_claim(o, &slot))
			_exit(2);
		*semstatus(o, (unsigned)slot) |= 0x1; /* CONNECTED, as upstream's reader */
		if (shmg_isio_pin(o, &pin) || pin.frame != 1 || pin.copy != 1 || !intact(&pin))
			_exit(3);
		raise(SIGKILL); /* dies holding the pin */
	}
	ck_assert_int_eq(waitpid(v, &status, 0), v);
	ck_assert(WIFSIGNALED(status));
	struct shmg_isio_slot_info si = {.size = sizeof(si)};
	ck_assert_int_eq(shmg_isio_inspect_slot(s, 0, &si), 0);
	ck_assert_int_eq(si.reader, v);
	ck_assert_int_eq(si.reader_alive, SHMG_PROC_DEAD);
	ck_assert_int_eq(si.pin_copy, 1);
	ck_assert_uint_eq(*semstatus(s, 0), 0x1 | (2u << 4));
	/* an inspect struct from before pins is still filled */
	struct shmg_isio_slot_info old = {.size = offsetof(struct shmg_isio_slot_info, pin_copy)};
	ck_assert_int_eq(shmg_isio_inspect_slot(s, 0, &old), 0);

	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 2: copy 0 */
	/* recover clears the dead reader's pin and frees its slot */
	char log[4096] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "clear the pin of circular-buffer copy 1 in semaphore slot 0"),
		      "%s", log);
	ck_assert_msg(strstr(log, "free semaphore slot 0"), "%s", log);
	ck_assert_uint_eq(*semstatus(s, 0), 0x1); /* bits 0-3 kept */
	ck_assert_int_eq(shmg_isio_inspect_slot(s, 0, &si), 0);
	ck_assert_int_eq(si.reader, -1);
	ck_assert_int_eq(si.pin_copy, -1);
	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 3: copy 1, free again */

	/* the writer drops (or times out) when a live reader pins copy 0 and
	 * this process pins copy 1 */
	int slot;
	ck_assert_int_eq(shmg_isio_sem_claim(s, &slot), 0);
	ck_assert_int_eq(shmg_isio_pin(s, &pin), 0);
	ck_assert_uint_eq(pin.frame, 3);
	uint32_t *hs = tu_shared_alloc(4096);
	pid_t a = tu_fork();
	if (a == 0) {
		struct shmg_isio *o;
		struct shmg_wflag_pinned p2 = {.size = sizeof(p2)};
		if (shmg_isio_open(&o, path, 0) || shmg_isio_sem_claim(o, NULL))
			_exit(2);
		/* pins copy 1 (frame 3), then, after frame 4, copy 0 */
		await(&hs[1], 1);
		if (shmg_isio_pin(o, &p2) || p2.frame != 4)
			_exit(3);
		shmg_atomic_store(&hs[0], 1, release);
		await(&hs[1], 2);
		int bad = !intact(&p2);
		shmg_isio_unpin(o);
		shmg_isio_close(o);
		_exit(bad ? 4 : 0);
	}
	ck_assert_int_eq(shmg_isio_unpin(s), 0);
	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 4: copy 0 */
	ck_assert_int_eq(shmg_isio_pin(s, &pin), 0); /* copy 0 */
	shmg_atomic_store(&hs[1], 1, release);
	await(&hs[0], 1); /* the reader pins copy 0 too */
	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 5: copy 1 (ours is 0) */
	ck_assert_int_eq(shmg_isio_pin(s, &pin), 0); /* copy 1, newest */
	uint64_t cnt = shmg_isio_counter(s);
	ck_assert_int_eq(isio_write_n(s, len), -EAGAIN); /* copy 0 pinned by the reader */
	ck_assert_uint_eq(shmg_isio_counter(s), cnt);
	ck_assert_int_eq(shmg_isio_pin_policy(s, SHMG_WFLAG_FULL_WAIT, 50000000), 0);
	ck_assert_int_eq(isio_write_n(s, len), -ETIMEDOUT);
	ck_assert_ptr_null(shmg_isio_begin(s));
	ck_assert_uint_eq(shmg_isio_counter(s), cnt);
	ck_assert(intact(&pin));
	shmg_atomic_store(&hs[1], 2, release);
	tu_wait_ok(a);
	ck_assert_int_eq(isio_write_n(s, len), 0);
	ck_assert_int_eq(shmg_isio_sem_release(s), 0);
	ck_assert_uint_eq(*semstatus(s, (unsigned)slot) >> 4, 0); /* released unpins */
	tu_shared_free(hs, 4096);
	shmg_isio_close(s);

	/* no circular buffer: no pins */
	s = stream(0, 2, 8, 8);
	ck_assert_int_eq(shmg_isio_sem_claim(s, NULL), 0);
	ck_assert_int_eq(shmg_isio_pin(s, &pin), -ENOTSUP);
	shmg_isio_close(s);
}
END_TEST

/* Two handles of one process claim two semaphore slots, so the second
 * leaves the first one's pin alone; a forked child's inherited handle can
 * neither pin in nor unpin its parent's slot, and claims one of its own.
 * (Before, a second claim in the process was handed the first slot and
 * cleared its pin: the writer then overwrote the pinned copy.) */
START_TEST(isio_slot_per_handle)
{
	struct shmg_isio *s = stream(2, 3, 16, 16), *r1, *r2;
	size_t len = 16 * 16 * 4;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	int k1, k2;

	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_int_eq(shmg_isio_pin_policy(s, SHMG_WFLAG_FULL_DROP, 0), 0);
	ck_assert_int_eq(isio_write_n(s, len), 0); /* frame 1: copy 1 */
	ck_assert_int_eq(shmg_isio_open(&r1, path, 0), 0);
	ck_assert_int_eq(shmg_isio_open(&r2, path, 0), 0);
	ck_assert_int_eq(shmg_isio_sem_claim(r1, &k1), 0);
	ck_assert_int_eq(shmg_isio_pin(r1, &pin), 0);
	ck_assert_uint_eq(pin.copy, 1);
	ck_assert_int_eq(shmg_isio_sem_claim(r1, &k2), 0);
	ck_assert_int_eq(k2, k1); /* the same handle keeps its slot */
	ck_assert_int_eq(shmg_isio_sem_claim(r2, &k2), 0);
	ck_assert_int_ne(k2, k1);
	ck_assert_uint_eq(*semstatus(s, (unsigned)k1) >> 4, 2);
	pid_t c = tu_fork();
	if (c == 0) {
		struct shmg_wflag_pinned p2 = {.size = sizeof(p2)};
		int k;
		if (shmg_isio_pin(r1, &p2) != SHMG_ENOTOWNER || shmg_isio_unpin(r1) != SHMG_ENOTOWNER)
			_exit(2);
		if (shmg_isio_sem_claim(r1, &k) != 0 || k == k1 || k == k2)
			_exit(3);
		shmg_isio_close(r1); /* gives back the child's slot only */
		_exit(0);
	}
	tu_wait_ok(c);
	ck_assert_uint_eq(*semstatus(s, (unsigned)k1) >> 4, 2);
	ck_assert_int_eq(isio_write_n(s, len), 0);       /* frame 2: copy 0 */
	ck_assert_int_eq(isio_write_n(s, len), -EAGAIN); /* copy 1 is pinned */
	ck_assert(intact(&pin));
	ck_assert_int_eq(shmg_isio_unpin(r1), 0);
	ck_assert_int_eq(isio_write_n(s, len), 0);
	shmg_isio_close(r2);
	shmg_isio_close(r1);
	shmg_isio_close(s);
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

/* Recovery of a writer dead mid-frame never waits for pins: a dead
 * reader's pin on the copy it must write is cleared first; a live reader's
 * (here one stopped between announcing and re-checking) makes it leave the
 * stream as it was, at once, and a later recover completes it. */
START_TEST(recover_never_waits_for_pins)
{
	struct shmg_isio *s = stream(2, 3, 16, 16), *r;
	size_t len = 16 * 16 * 4;
	struct shmg_isio_info info = {.size = sizeof(info)};
	char log[4096] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	int k;

	pid_t w = tu_fork();
	if (w == 0) {
		struct shmg_isio *x;
		if (shmg_isio_open(&x, path, 0) || shmg_isio_claim(x) ||
		    isio_write_n(x, len) || isio_write_n(x, len) || !shmg_isio_begin(x))
			_exit(2);
		_exit(0); /* dead mid-frame 3 */
	}
	tu_wait_ok(w);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.write, 1);
	ck_assert_uint_eq(info.cnt0, 2);
	unsigned partial = 1 - info.cbindex;
	/* slot 2: a dead reader's announcement of the partial copy */
	struct shmg_isio_layout l = {.size = sizeof(l)};
	ck_assert_int_eq(shmg_isio_get_layout(s, &l), 0);
	int32_t *readpid = (int32_t *)(void *)((unsigned char *)shmg_region_base(
		shmg_isio_region(s)) + l.off_semreadpid);
	readpid[2] = w;
	*semstatus(s, 2) = (partial + 1) << 4;
	/* slot 1: a pin under a garbage owner word (no process) */
	readpid[1] = -5;
	*semstatus(s, 1) = ((1 - partial) + 1) << 4;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "clear the pin of circular-buffer copy"), "%s", log);
	ck_assert_msg(strstr(log, "semaphore slot 1 of no reader (owner word -5)"), "%s", log);
	ck_assert_uint_eq(*semstatus(s, 1), 0);
	ck_assert_int_eq(readpid[1], -1);
	ck_assert_msg(strstr(log, "publish frame 3"), "%s", log);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cnt0, 3);
	ck_assert_uint_eq(info.write, 0);

	/* again, with a live reader's announcement on the partial copy */
	w = tu_fork();
	if (w == 0) {
		struct shmg_isio *x;
		if (shmg_isio_open(&x, path, 0) || shmg_isio_claim(x) || !shmg_isio_begin(x))
			_exit(2);
		_exit(0); /* dead mid-frame 4 */
	}
	tu_wait_ok(w);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	partial = 1 - info.cbindex;
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	ck_assert_int_eq(shmg_isio_sem_claim(r, &k), 0);
	*semstatus(s, (unsigned)k) = (partial + 1) << 4;
	log[0] = 0;
	ck_assert_int_eq(shmg_isio_recover(s, &o), -EBUSY); /* at once */
	ck_assert_msg(strstr(log, "left alone"), "%s", log);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cnt0, 3);
	ck_assert_uint_eq(info.write, 1);
	ck_assert_int_eq(info.owner_pid, w); /* the record is back */
	ck_assert_int_eq(shmg_isio_unpin(r), 0);
	log[0] = 0;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "publish frame 4"), "%s", log);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cnt0, 4);
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

/* A writer killed inside publish, its copy numbered but the counter not
 * moved: recovery finishes that publish (the frame was complete), and
 * never publishes the older replacement over it. */
START_TEST(recover_finishes_orphaned_publish)
{
	struct shmg_isio *s = stream(2, 3, 16, 16);
	size_t len = 16 * 16 * 4;
	struct shmg_isio_info info = {.size = sizeof(info)};
	char log[4096] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	int status;
	static uint32_t got[16 * 16];

	pid_t w = tu_fork();
	if (w == 0) {
		struct shmg_isio *x;
		if (shmg_isio_open(&x, path, 0) || shmg_isio_claim(x) ||
		    isio_write_n(x, len) || isio_write_n(x, len))
			_exit(2);
		die_step = SHMG__WFLAG_AFTER_SEQ;
		shmg__test_point = die_at;
		isio_write_n(x, len); /* frame 3: killed inside publish */
		_exit(9);
	}
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cnt0, 2);
	ck_assert_uint_eq(info.write, 1);
	o.flags = SHMG_RECOVER_DRY_RUN;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "would complete dead writer PID") &&
		      strstr(log, "publish of frame 3"), "%s", log);
	log[0] = 0;
	o.flags = 0;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "publish of frame 3") && !strstr(log, "a copy of"), "%s", log);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cnt0, 3);
	ck_assert_uint_eq(info.write, 0);
	ck_assert_int_eq(info.owner_pid, 0);
	ck_assert_int_eq(shmg_isio_read(s, got, len, NULL, NULL), 0);
	for (unsigned i = 0; i < 16 * 16; i++)
		ck_assert_uint_eq(got[i], 3);
	const uint32_t *main_buffer = shmg_isio_data(s);
	ck_assert_uint_eq(main_buffer[0], 3);
	ck_assert_uint_eq(main_buffer[16 * 16 - 1], 3);
	shmg_isio_close(s);
}
END_TEST

/* Between the reader's judgement "the writer is guarded" and its pin, a
 * legacy writer takes the circular buffer over: CBindex now names a copy
 * whose record is older than cnt0. The pin is refused, not confirmed on a
 * copy the legacy writer may be rewriting. */
#define CBINDEX_AT 296 /* CBindex in ImageStreamIO's header */

static struct shmg_isio *moved_stream;
static void legacy_moves_cbindex(int point)
{
	if (point != SHMG__ISIO_PIN_CHECKED)
		return;
	uint32_t *cbindex = (uint32_t *)(void *)((unsigned char *)shmg_region_base(
		shmg_isio_region(moved_stream)) + CBINDEX_AT);
	*cbindex = 1 - *cbindex; /* to the older copy, its record left as it was */
}

START_TEST(isio_pin_refuses_a_copy_taken_over)
{
	struct shmg_isio *s = stream(2, 3, 16, 16), *r;
	size_t len = 16 * 16 * 4;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	struct shmg_isio_info info = {.size = sizeof(info)};

	ck_assert_int_eq(shmg_isio_claim(s), 0);
	for (int f = 0; f < 3; f++)
		ck_assert_int_eq(isio_write_n(s, len), 0);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.cbindex, 1); /* frame 3; copy 0 holds frame 2 */
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	ck_assert_int_eq(shmg_isio_sem_claim(r, NULL), 0);
	moved_stream = r;
	shmg__test_point = legacy_moves_cbindex;
	ck_assert_int_eq(shmg_isio_pin(r, &pin), -ENOTSUP);
	shmg__test_point = NULL;
	ck_assert_msg(strstr(shmg_error_detail(-ENOTSUP), "older than cnt0"), "%s",
		      shmg_error_detail(-ENOTSUP));
	ck_assert_int_eq(shmg_isio_inspect(r, &info), 0);
	ck_assert_uint_eq(info.cbindex, 0);
	struct shmg_isio_slot_info si = {.size = sizeof(si)};
	int k;
	ck_assert_int_eq(shmg_isio_sem_claim(r, &k), 0);
	ck_assert_int_eq(shmg_isio_inspect_slot(r, (unsigned)k, &si), 0);
	ck_assert_int_eq(si.pin_copy, -1); /* the refused pin is gone */
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

static struct shmg_isio *stress_stream;
static int ipin(void *h, struct shmg_wflag_pinned *p)
{
	return shmg_isio_pin(h, p);
}
static int iunpin(void *h)
{
	return shmg_isio_unpin(h);
}

static pid_t spawn_isio_reader(struct stress *st, int r, int die_after, int die_step)
{
	(void)stress_stream;
	shmg_atomic_store(&st->pins[r], 0, release);
	pid_t pid = tu_fork();
	if (pid)
		return pid;
	struct shmg_isio *o;
	if (shmg_isio_open(&o, path, 0) || shmg_isio_sem_claim(o, NULL))
		_exit(21);
	reader_die_after = die_after;
	reader_die_step = die_step;
	reader_count = &st->pins[r];
	shmg__test_point = reader_point;
	shmg_atomic_inc(&st->started, acq_rel);
	pin_reader(st, r, ipin, iunpin, o);
	_exit(0);
}

START_TEST(stress_isio)
{
	size_t w = 128, h = 128, len = w * h * 4;
	struct shmg_isio *s = stream(2, 4, (uint32_t)w, (uint32_t)h); /* 2 copies: the writer waits often */
	struct stress *st = tu_shared_alloc(4096);
	uint64_t frames = 10000;
	pid_t readers[READERS];
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_int_eq(isio_write_n(s, len), 0); /* readers find a frame */
	ck_assert_int_eq(shmg_isio_release(s), 0); /* the writer process claims */
	pid_t wr = tu_fork();
	if (wr == 0) {
		if (shmg_isio_claim(s) != 0)
			_exit(30);
		shmg_atomic_store(&st->claimed, 1, release);
		shmg_isio_pin_policy(s, SHMG_WFLAG_FULL_WAIT, 10ull * 1000000000u);
		await(&st->start, 1);
		for (uint64_t f = 0;
		     f < frames || shmg_atomic_load(&st->accepted, relaxed) < PINS_WANTED; f++) {
			if (isio_write_n(s, len)) {
				shmg_atomic_inc(&st->stalls, relaxed);
				break;
			}
			st->frames++;
		}
		shmg_atomic_store(&st->done, 1, release);
		_exit(0);
	}
	await(&st->claimed, 1);
	for (int r = 0; r < READERS; r++)
		readers[r] = spawn_isio_reader(st, r, 50, SHMG__PIN_ANNOUNCED + r);
	await(&st->started, READERS);
	shmg_atomic_store(&st->start, 1, release);
	run_kills(st, readers, spawn_isio_reader);
	tu_wait_ok(wr);
	reap_readers(readers);
	stress_check(st, frames);
	tu_shared_free(st, 4096);
	shmg_isio_close(s);
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
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_add_test(pc, every_copy_pinned);
	tcase_add_test(pc, dead_reader_pin_reclaimed);
	tcase_add_test(pc, dead_reclaimer_and_live_reader);
	tcase_add_test(pc, stress_generic);
	tcase_add_test(pc, isio_pin_inspect_recover);
	tcase_add_test(pc, isio_slot_per_handle);
	tcase_add_test(pc, orphaned_publish_completed);
	tcase_add_test(pc, recover_never_waits_for_pins);
	tcase_add_test(pc, recover_finishes_orphaned_publish);
	tcase_add_test(pc, isio_pin_refuses_a_copy_taken_over);
	tcase_add_test(pc, stress_isio);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
