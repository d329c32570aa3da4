/* Unit suite for shmguard/memcpy.h: byte-wise atomic memcpy. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/memcpy.h>

#include "testutil.h"

#define GUARD 0xA5

/* Copy with direction `store` and an ordering chosen by `variant`, so every
 * token of both directions is exercised. */
static void copy_variant(int store, int variant, void *dst, const void *src, size_t n)
{
	if (store) {
		switch (variant % 3) {
		case 0: shmg_atomic_store_memcpy(dst, src, n, relaxed); break;
		case 1: shmg_atomic_store_memcpy(dst, src, n, release); break;
		default: shmg_atomic_store_memcpy(dst, src, n, seq_cst); break;
		}
	} else {
		switch (variant % 3) {
		case 0: shmg_atomic_load_memcpy(dst, src, n, relaxed); break;
		case 1: shmg_atomic_load_memcpy(dst, src, n, acquire); break;
		default: shmg_atomic_load_memcpy(dst, src, n, seq_cst); break;
		}
	}
}

/* Every size 0..256 at every source and destination offset 0..15: the bytes
 * arrive, and nothing outside [dst, dst + n) is written. */
START_TEST(small_sizes_every_offset)
{
	enum { MAXN = 256, SLACK = 32 };
	unsigned char src[MAXN + SLACK], dst[MAXN + 2 * SLACK];
	int store = _i;
	int variant = 0;

	for (size_t n = 0; n <= MAXN; n++)
		for (size_t so = 0; so < 16; so++)
			for (size_t doff = 0; doff < 16; doff++) {
				for (size_t k = 0; k < sizeof(src); k++)
					src[k] = (unsigned char)(k * 7 + n + so * 3 + doff + 1);
				memset(dst, GUARD, sizeof(dst));
				copy_variant(store, variant++, dst + SLACK + doff, src + so, n);
				/* Plain checks here: a ck_assert per byte costs a syscall. */
				bool guards_intact = true;
				for (size_t k = 0; k < SLACK + doff; k++)
					guards_intact &= dst[k] == GUARD;
				for (size_t k = SLACK + doff + n; k < sizeof(dst); k++)
					guards_intact &= dst[k] == GUARD;
				if (memcmp(dst + SLACK + doff, src + so, n) != 0 || !guards_intact)
					ck_abort_msg("n=%zu so=%zu do=%zu: %s", n, so, doff,
						     guards_intact ? "bytes differ" : "wrote outside");
			}
}
END_TEST

/* Large and odd sizes, both directions, with guard bytes on each side. */
START_TEST(large_sizes)
{
	static const size_t sizes[] = {4095, 4096, 65539, (1u << 20) + 7, (16u << 20) + 5};
	uint64_t rng = 0x5eed;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *src = malloc(n + 3);
		unsigned char *dst = malloc(n + 16);
		ck_assert(src && dst);
		for (size_t k = 0; k < n + 3; k++)
			src[k] = (unsigned char)tu_rand(&rng);
		for (int store = 0; store < 2; store++) {
			memset(dst, GUARD, n + 16);
			copy_variant(store, (int)i + store, dst + 5, src + 3, n);
			bool guards_intact = true;
			for (size_t k = 0; k < 5; k++)
				guards_intact &= dst[k] == GUARD;
			for (size_t k = n + 5; k < n + 16; k++)
				guards_intact &= dst[k] == GUARD;
			ck_assert_msg(memcmp(dst + 5, src + 3, n) == 0, "n=%zu: bytes differ", n);
			ck_assert_msg(guards_intact, "n=%zu: wrote outside", n);
		}
		free(src);
		free(dst);
	}
}
END_TEST

/*
 * A seqlock built on the two copies: the writer fills every word of a frame
 * with the frame number, the readers accept a frame only if the sequence
 * word did not move; an accepted frame whose words disagree is torn.
 */
enum { FRAME_BYTES = 64 * 1024, FRAMES = 3000, READERS = 2 };

struct seqlock_area {
	uint64_t seq; /* odd while the writer writes */
	uint32_t stop;
	uint32_t arrived;
	uint64_t accepted[READERS];
	uint64_t torn[READERS];
	uint64_t data[FRAME_BYTES / 8];
};

static void seqlock_write(struct seqlock_area *a, const uint64_t *frame, uint64_t seq_odd)
{
	shmg_atomic_store(&a->seq, seq_odd, relaxed);
	/* The release fence keeps the frame's stores after the odd mark. */
	shmg_atomic_store_memcpy(a->data, frame, FRAME_BYTES, release);
	shmg_atomic_store(&a->seq, seq_odd + 1, release);
}

/* One attempt: true if a consistent frame was copied into buf. */
static bool seqlock_read(struct seqlock_area *a, uint64_t *buf, uint64_t *seq)
{
	uint64_t s1 = shmg_atomic_load(&a->seq, acquire);
	if (s1 & 1)
		return false;
	shmg_atomic_load_memcpy(buf, a->data, FRAME_BYTES, acquire);
	uint64_t s2 = shmg_atomic_load(&a->seq, relaxed);
	*seq = s1;
	return s1 == s2;
}

static void seqlock_writer(struct seqlock_area *a)
{
	uint64_t *frame = malloc(FRAME_BYTES);
	ck_assert_ptr_nonnull(frame);
	for (uint64_t f = 1; f <= FRAMES; f++) {
		for (size_t k = 0; k < FRAME_BYTES / 8; k++)
			frame[k] = f;
		seqlock_write(a, frame, 2 * f - 1);
		if (f % 64 == 0)
			sched_yield(); /* let readers in now and then */
	}
	shmg_atomic_store(&a->stop, 1, release);
	free(frame);
}

static void seqlock_reader(struct seqlock_area *a, int r)
{
	uint64_t *buf = malloc(FRAME_BYTES);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		bool last = shmg_atomic_load(&a->stop, acquire);
		uint64_t seq;
		if (seqlock_read(a, buf, &seq)) {
			a->accepted[r]++;
			for (size_t k = 0; k < FRAME_BYTES / 8; k++)
				if (buf[k] != seq / 2) {
					a->torn[r]++;
					break;
				}
			if (last)
				break;
		}
		shmg_cpu_relax();
	}
	free(buf);
}

START_TEST(seqlock_across_processes)
{
	struct seqlock_area *a = tu_shared_alloc(sizeof(*a));
	pid_t pids[READERS];

	for (int r = 0; r < READERS; r++) {
		pids[r] = tu_fork();
		if (pids[r] == 0) {
			tu_start_line(&a->arrived, READERS + 1);
			seqlock_reader(a, r);
			_exit(0);
		}
	}
	tu_start_line(&a->arrived, READERS + 1);
	seqlock_writer(a);
	for (int r = 0; r < READERS; r++) {
		tu_wait_ok(pids[r]);
		ck_assert_uint_gt(a->accepted[r], 0);
		ck_assert_msg(a->torn[r] == 0, "reader %d accepted %llu torn frames", r,
			      (unsigned long long)a->torn[r]);
	}
	tu_shared_free(a, sizeof(*a));
}
END_TEST

/* The same seqlock between threads, where ThreadSanitizer can see it: in a
 * TSan build (TSAN_OPTIONS=halt_on_error=1) a race report fails the test. */
static void *reader_thread(void *arg)
{
	seqlock_reader(arg, 0);
	return NULL;
}

START_TEST(seqlock_across_threads)
{
	struct seqlock_area *a = calloc(1, sizeof(*a));
	pthread_t t;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(pthread_create(&t, NULL, reader_thread, a), 0);
	seqlock_writer(a);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_uint_gt(a->accepted[0], 0);
	ck_assert_uint_eq(a->torn[0], 0);
	free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memcpy");
	TCase *tc = tcase_create("copies");
	tcase_add_loop_test(tc, small_sizes_every_offset, 0, 2);
	tcase_add_test(tc, large_sizes);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("seqlock_processes");
	tcase_set_tags(tc, "workers");
	tcase_add_test(tc, seqlock_across_processes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("seqlock_threads");
	tcase_set_tags(tc, "workers");
	tcase_add_test(tc, seqlock_across_threads);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
