/*
 * check_interpose: the protocols' re-checks and orders, made deterministic.
 * A test sets a protocol point of lib/testing.h and, at it, does what a
 * racing writer would do at that moment (a whole frame between a reader's
 * copy and its re-checks; a copy's number changed under a pin being
 * announced), or looks at the words the other side would read (the order
 * of a publish's stores, the counter a semaphore post announces). Each test
 * fails every time on the bug it is named after (tests/mutants/, `make
 * mutants`), where the timed stress runs (tests/wflag-stress.sh) catch such
 * a bug only by chance.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/isio.h>
#include <shmguard/wflag.h>

#include "testutil.h"
#include "testing.h" /* protocol points (test build) */

/* A generic guard: words, a main buffer and 3 latch copies. */
#define OFF_MARK 0
#define OFF_WAITERS 1
#define OFF_OWNER 4
#define OFF_COUNTER 8
#define OFF_INDEX 16
#define OFF_SEQ 64 /* stride 8 */
#define OFF_PINS 256 /* pin word at 256, its owner word at 260 */
#define OFF_MAIN 4096
#define FRAME 512
#define OFF_DATA 8192
#define COPIES 3
#define SEG (OFF_DATA + 4096)

static char dir[64];
static unsigned char *seg;
static struct shmg_region *region;
static struct shmg_wflag *writer; /* what the protocol points drive */

static void setup(void)
{
	tu_make_dir(dir, "shmg-interpose");
	shmg__test_point = NULL;
	seg = NULL;
	region = NULL;
	writer = NULL;
}

static void teardown(void)
{
	shmg__test_point = NULL;
	if (writer)
		shmg_wflag_free(writer);
	if (region)
		shmg_region_close(region);
	if (seg)
		tu_shared_free(seg, SEG);
	tu_remove_dir(dir);
}

/* A guard over shared memory (or over a file surviving truncation when
 * `file`), with a latch of COPIES copies and one pin slot when `latch`. */
static struct shmg_wflag *guard(bool latch, bool file)
{
	if (file) {
		char path[128];
		snprintf(path, sizeof(path), "%s/guard", dir);
		ck_assert_int_eq(shmg_region_create(&region, path, SEG, 0, SHMG_REGION_TRUNCATION,
						    NULL, NULL), 0);
		seg = NULL;
	} else {
		seg = tu_shared_alloc(SEG);
		ck_assert_int_eq(shmg_region_from_memory(&region, seg, SEG), 0);
	}
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER,
	};
	if (latch) {
		p.copies = COPIES;
		p.index = OFF_INDEX;
		p.seq = OFF_SEQ;
		p.seq_stride = 8;
		p.data = OFF_DATA;
		p.data_len = FRAME;
		p.npins = 1;
		p.pins = OFF_PINS;
		p.pin_owners = OFF_PINS + 4;
		p.pin_stride = 8;
	}
	ck_assert_int_eq(shmg_wflag_new(&writer, region, &p), 0);
	return writer;
}

static unsigned char *base(void)
{
	return shmg_region_base(region);
}

static uint64_t *seq_of(unsigned copy)
{
	return (uint64_t *)(void *)(base() + OFF_SEQ + 8 * copy);
}

/* Frame n: every byte n, in the main buffer and in the latch copy. */
static uint64_t write_frame(struct shmg_wflag *g)
{
	unsigned char buf[FRAME];
	uint64_t n = shmg_wflag_counter(g) + 1;
	memset(buf, (int)(n & 0xff), sizeof(buf));
	void *copy = shmg_wflag_begin(g);
	shmg_atomic_store_memcpy(base() + OFF_MAIN, buf, FRAME, relaxed);
	if (copy)
		shmg_atomic_store_memcpy(copy, buf, FRAME, relaxed);
	return shmg_wflag_publish(g);
}

static void assert_frame(const unsigned char *buf, uint64_t n)
{
	for (size_t i = 0; i < FRAME; i++)
		if (buf[i] != (unsigned char)(n & 0xff))
			ck_abort_msg("byte %zu of frame %llu is %u", i, (unsigned long long)n, buf[i]);
}

/* ---------------------------------------------------------------- readers' re-checks */

/* Frames the writer publishes at the reader's next SHMG__WFLAG_READ_COPIED. */
static unsigned frames_after_copy;

static void write_after_copy(int point)
{
	if (point != SHMG__WFLAG_READ_COPIED || !frames_after_copy)
		return;
	unsigned n = frames_after_copy;
	frames_after_copy = 0;
	while (n--)
		write_frame(writer);
}

/* The seqlock over the main buffer: a whole frame published between the
 * reader's copy and its re-checks leaves the mark as it was (clear), and
 * only the counter tells. The read takes the newer frame on its second
 * try; a reader that does not re-check the counter returns the frame it
 * copied, which a writer overlapping the copy would have torn. */
START_TEST(single_read_rechecks_counter)
{
	struct shmg_wflag *g = guard(false, false);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	ck_assert_uint_eq(write_frame(g), 1);
	shmg__test_point = write_after_copy;
	frames_after_copy = 1;
	ck_assert_int_eq(shmg_wflag_read(g, buf, base() + OFF_MAIN, FRAME, &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 2);
	ck_assert_uint_eq(snap.retries, 1);
	assert_frame(buf, 2);
	/* Nothing in between: the first copy is taken. */
	ck_assert_int_eq(shmg_wflag_read(g, buf, base() + OFF_MAIN, FRAME, &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 2);
	ck_assert_uint_eq(snap.retries, 0);
}
END_TEST

/* The latch: the copy read (the newest, frame 2 in copy 2) is rewritten by
 * the third frame after it, between the reader's copy and its re-check of
 * the copy's number: the read takes frame 5 on its second try. Two frames
 * in between leave that copy alone: frame 2 stands, on the first try. */
START_TEST(latch_read_rechecks_sequence)
{
	struct shmg_wflag *g = guard(true, false);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	ck_assert_uint_eq(write_frame(g), 1);
	ck_assert_uint_eq(write_frame(g), 2);
	shmg__test_point = write_after_copy;
	frames_after_copy = 2;
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 2);
	ck_assert_uint_eq(snap.retries, 0);
	assert_frame(buf, 2);
	ck_assert_uint_eq(write_frame(g), 5);
	frames_after_copy = 3; /* frames 6, 7, 8: copy 5 % 3 is rewritten */
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 8);
	ck_assert_uint_eq(snap.retries, 1);
	ck_assert_int_eq(snap.copy, 8 % COPIES);
	assert_frame(buf, 8);
}
END_TEST

/* The file is cut where the latch copies begin (another process truncates
 * it): this process's next access maps zero pages over the region, and a
 * writer of this process, which does not look (shmg_wflag_publish never
 * does), numbers a frame on them: index, sequence word and copy agree. What
 * the zero pages say is not the file's: the latch read must say
 * SHMG_ETRUNCATED, not hand out that frame as valid. */
START_TEST(truncated_latch_read)
{
	struct shmg_wflag *g = guard(true, true);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	unsigned char buf[FRAME];
	char path[128];
	ck_assert_uint_eq(write_frame(g), 1);
	ck_assert_uint_eq(write_frame(g), 2);
	snprintf(path, sizeof(path), "%s/guard", dir);
	ck_assert_int_eq(truncate(path, OFF_DATA), 0);
	ck_assert_uint_eq(*(volatile unsigned char *)(base() + OFF_DATA), 0); /* the fault */
	ck_assert(shmg_region_truncated(region));
	ck_assert_uint_eq(write_frame(g), 1); /* on the zero pages */
	ck_assert_uint_eq(*seq_of(1), 1);
	ck_assert_int_eq(shmg_wflag_read(g, buf, NULL, FRAME, &snap, NULL), SHMG_ETRUNCATED);
}
END_TEST

/* ---------------------------------------------------------------- the publish's order */

struct seen {
	int point;
	uint64_t counter;
	uint8_t mark;
};
static struct seen seen[8];
static unsigned nseen;

static void look_at_words(int point)
{
	if (point != SHMG__WFLAG_AFTER_COPY && point != SHMG__WFLAG_AFTER_COUNTER &&
	    point != SHMG__WFLAG_AFTER_MARK)
		return;
	if (nseen < 8)
		seen[nseen++] = (struct seen){
			.point = point,
			.counter = shmg_atomic_load((uint64_t *)(void *)(base() + OFF_COUNTER), relaxed),
			.mark = shmg_atomic_load(base() + OFF_MARK, relaxed),
		};
}

/* Counter first, then the mark (tests/spin/seqlock.pml, mutant
 * PUBLISH_SWAPPED: the other order lets a reader whose copy a whole frame
 * overlapped see the mark clear and the old counter, and accept a torn
 * frame). At each point of the publish, the words hold what that order
 * says: the latch copy named with the counter and mark as they were; the
 * counter stored with the mark still set; then the mark clear. */
static void publish_order_case(bool latch)
{
	struct shmg_wflag *g = guard(latch, false);
	ck_assert_uint_eq(write_frame(g), 1);
	shmg_wflag_begin(g);
	nseen = 0;
	shmg__test_point = look_at_words;
	ck_assert_uint_eq(shmg_wflag_publish(g), 2);
	shmg__test_point = NULL;
	unsigned k = 0;
	if (latch) {
		ck_assert_uint_ge(nseen, 1);
		ck_assert_int_eq(seen[k].point, SHMG__WFLAG_AFTER_COPY);
		ck_assert_uint_eq(seen[k].counter, 1);
		ck_assert_uint_eq(seen[k].mark, 1);
		k++;
	}
	ck_assert_uint_eq(nseen, k + 2);
	ck_assert_int_eq(seen[k].point, SHMG__WFLAG_AFTER_COUNTER);
	ck_assert_uint_eq(seen[k].counter, 2);
	ck_assert_msg(seen[k].mark == 1, "the mark was cleared before the counter was stored");
	ck_assert_int_eq(seen[k + 1].point, SHMG__WFLAG_AFTER_MARK);
	ck_assert_uint_eq(seen[k + 1].counter, 2);
	ck_assert_uint_eq(seen[k + 1].mark, 0);
}

START_TEST(publish_stores_counter_before_clearing_mark) { publish_order_case(false); }
END_TEST

START_TEST(latch_publish_stores_counter_before_clearing_mark) { publish_order_case(true); }
END_TEST

/* ---------------------------------------------------------------- a pin that gives up */

/* At each announcement, the copy announced turns out to be one the writer
 * zeroed before it could see the pin (it is rewriting it): every attempt
 * fails, and the pin gives up with SHMG_ETOOFAST. Its slot must then pin
 * nothing: a copy left pinned would be skipped by the writer for good. */
static void writer_zeroed_it(int point)
{
	if (point != SHMG__PIN_ANNOUNCED)
		return;
	uint32_t i = shmg_atomic_load((uint32_t *)(void *)(base() + OFF_INDEX), relaxed);
	shmg_atomic_store(seq_of(i), 0, relaxed);
}

START_TEST(pin_that_gives_up_pins_nothing)
{
	struct shmg_wflag *g = guard(true, false);
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	unsigned slot;
	ck_assert_int_eq(shmg_wflag_pin_claim(g, &slot), 0);
	ck_assert_uint_eq(write_frame(g), 1);
	ck_assert_uint_eq(write_frame(g), 2);
	shmg__test_point = writer_zeroed_it;
	ck_assert_int_eq(shmg_wflag_pin(g, slot, &pin), SHMG_ETOOFAST);
	shmg__test_point = NULL;
	uint32_t word = shmg_atomic_load((uint32_t *)(void *)(base() + OFF_PINS), relaxed);
	ck_assert_msg(word >> 4 == 0, "the slot still pins copy %u", (word >> 4) - 1);
	/* The writer's frame 2 stands after all; from then on the writer
	 * skips nothing. */
	shmg_atomic_store(seq_of(2), 2, release);
	for (uint64_t n = 3; n <= 8; n++) {
		uint32_t skipped = 99;
		void *copy;
		ck_assert_int_eq(shmg_wflag_begin_timed(g, SHMG_WFLAG_FULL_DROP, NULL, &copy,
							&skipped), 0);
		ck_assert_uint_eq(skipped, 0);
		ck_assert_uint_eq(shmg_wflag_publish(g), n);
	}
	ck_assert_int_eq(shmg_wflag_pin(g, slot, &pin), 0);
	ck_assert_uint_eq(pin.frame, 8);
	ck_assert_int_eq(shmg_wflag_unpin(g, slot), 0);
}
END_TEST

/* ---------------------------------------------------------------- ImageStreamIO posts */

#define W 64
#define H 32

static uint64_t posted_cnt0[4];
static uint8_t posted_write[4];
static unsigned nposted;
static struct shmg_isio *poster;

static void look_at_post(int point)
{
	if (point != SHMG__ISIO_POSTING || nposted >= 4)
		return;
	const unsigned char *b = shmg_region_base(shmg_isio_region(poster));
	posted_cnt0[nposted] = shmg_atomic_load((const uint64_t *)(const void *)(b + 264), relaxed);
	posted_write[nposted] = shmg_atomic_load(b + 288, relaxed);
	nposted++;
}

/* A reader woken by a semaphore post reads cnt0 to learn which frame came:
 * by the time the writer posts, cnt0 counts the frame and the write flag is
 * clear (lib/isio_frame.c, publish()). A writer posting first wakes readers
 * that see the old counter, or the flag still set. */
static void posts_after_publish_case(unsigned cbsize)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "cam", .naxis = 2, .dims = {W, H},
		.datatype = SHMG_ISIO_UINT16, .cbsize = (uint16_t)cbsize, .nsem = 3,
	};
	char path[128];
	uint16_t f[W * H];
	snprintf(path, sizeof(path), "%s/cam.im.shm", dir);
	ck_assert_int_eq(shmg_isio_create(&poster, path, &p, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_claim(poster), 0);
	memset(f, 7, sizeof(f));
	nposted = 0;
	shmg__test_point = look_at_post;
	for (uint64_t k = 1; k <= 3; k++) {
		uint64_t cnt = 0;
		ck_assert_int_eq(shmg_isio_write(poster, f, sizeof(f), &cnt), 0);
		ck_assert_uint_eq(cnt, k);
		ck_assert_uint_eq(nposted, k);
		ck_assert_msg(posted_cnt0[k - 1] == k, "frame %llu posted with cnt0 %llu",
			      (unsigned long long)k, (unsigned long long)posted_cnt0[k - 1]);
		ck_assert_msg(posted_write[k - 1] == 0, "frame %llu posted with the write flag set",
			      (unsigned long long)k);
	}
	shmg__test_point = NULL;
	shmg_isio_close(poster);
}

START_TEST(isio_posts_after_publish) { posts_after_publish_case(0); }
END_TEST

START_TEST(isio_latch_posts_after_publish) { posts_after_publish_case(3); }
END_TEST

int main(void)
{
	Suite *s = suite_create("interpose");
	TCase *tc = tcase_create("interpose");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, single_read_rechecks_counter);
	tcase_add_test(tc, latch_read_rechecks_sequence);
	tcase_add_test(tc, truncated_latch_read);
	tcase_add_test(tc, publish_stores_counter_before_clearing_mark);
	tcase_add_test(tc, latch_publish_stores_counter_before_clearing_mark);
	tcase_add_test(tc, pin_that_gives_up_pins_nothing);
	tcase_add_test(tc, isio_posts_after_publish);
	tcase_add_test(tc, isio_latch_posts_after_publish);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
