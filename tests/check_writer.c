/*
 * check_writer: one writer means one handle (doc/wflag.md, "One writer,
 * one handle"; doc/imagestreamio.md, "Writing a frame"). A second claim
 * through any other handle, in this process too, is refused with the
 * holder named; writes through a handle that did not claim are refused; a
 * forked child holds nothing of its parent's claim; closing the handle
 * gives the claim back (mid-frame: it is left as a dead writer's); an
 * owner word holding this process's PID that no handle of it claimed is a
 * dead predecessor's (same PID in a PID namespace of its own), taken over.
 */
#include "config.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/isio.h>
#include <shmguard/wflag.h>

#include "testutil.h"
#include "../tools/bench/wflag_words.h"

/* ImageStreamIO's fields (doc/imagestreamio.md): the same offsets as the
 * generic guard's placement below (tools/bench/wflag_words.h). */
#define ISIO_OWNER OFF_OWNER
#define ISIO_CNT0 OFF_COUNTER
#define ISIO_WRITE OFF_MARK

#define W 64
#define H 32
#define NPIX (W * H)

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/shmg-writer.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cam.im.shm", dir);
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A stream with a circular buffer of `cbsize` copies (0: none). */
static struct shmg_isio *stream_new(uint32_t cbsize)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "cam", .naxis = 2, .dims = {W, H},
		.datatype = SHMG_ISIO_UINT16, .nkw = 0, .cbsize = cbsize,
	};
	struct shmg_isio *s;
	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
	return s;
}

static struct shmg_isio *stream_open(void)
{
	struct shmg_isio *s;
	ck_assert_int_eq(shmg_isio_open(&s, path, 0), 0);
	return s;
}

#define FIELD(s, off, type) \
	(*(type *)(void *)((unsigned char *)shmg_region_base(shmg_isio_region(s)) + (off)))

static void fill(uint16_t *f, uint64_t k)
{
	for (size_t i = 0; i < NPIX; i++)
		f[i] = (uint16_t)(k * 31 + i);
}

static void assert_detail_has(int err, const char *part)
{
	const char *d = shmg_error_detail(err);
	ck_assert_msg(strstr(d, part), "detail \"%s\" does not say \"%s\"", d, part);
}

/* The second handle's claim names this process as the holder; it cannot
 * write, begin, publish or release; the first handle's claim is
 * idempotent and its writes go on; after its release the second may
 * claim, and the first then writes nothing. */
static void second_handle_case(uint32_t cbsize)
{
	struct shmg_isio *s = stream_new(cbsize), *t = stream_open();
	uint16_t f[NPIX];
	uint64_t n;
	char who[64];
	snprintf(who, sizeof(who), "held by this process (PID %d) through another handle",
		 (int)getpid());

	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_int_eq(shmg_isio_claim(s), 0); /* idempotent for the holder */
	int err = shmg_isio_claim(t);
	ck_assert_int_eq(err, -EBUSY);
	assert_detail_has(err, who);
	fill(f, 1);
	ck_assert_int_eq(shmg_isio_write(t, f, sizeof(f), &n), SHMG_ENOTOWNER);
	assert_detail_has(SHMG_ENOTOWNER, "through another handle");
	ck_assert_ptr_null(shmg_isio_begin(t));
	ck_assert_int_eq(shmg_isio_publish(t, &n), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_isio_release(t), SHMG_ENOTOWNER);
	ck_assert_int_eq(FIELD(s, ISIO_OWNER, int32_t), getpid());
	ck_assert_uint_eq(FIELD(s, ISIO_CNT0, uint64_t), 0);
	ck_assert_uint_eq(FIELD(s, ISIO_WRITE, uint8_t), 0);

	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(shmg_isio_release(s), 0);
	ck_assert_int_eq(FIELD(s, ISIO_OWNER, int32_t), 0);
	ck_assert_int_eq(shmg_isio_claim(t), 0);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_isio_claim(s), -EBUSY);
	ck_assert_int_eq(shmg_isio_write(t, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 2);
	shmg_isio_close(s);
	shmg_isio_close(t);
}

START_TEST(second_handle_refused) { second_handle_case(0); }
END_TEST
START_TEST(second_handle_refused_latch) { second_handle_case(3); }
END_TEST

/* The generic guard: two handles over one owner word. */
START_TEST(second_wflag_handle_refused)
{
	enum { SEG = 4096 };
	unsigned char *seg = tu_shared_alloc(SEG);
	struct shmg_region *r;
	struct shmg_wflag *a, *b;
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER,
	};
	ck_assert_int_eq(shmg_region_from_memory(&r, seg, SEG), 0);
	ck_assert_int_eq(shmg_wflag_new(&a, r, &p), 0);
	ck_assert_int_eq(shmg_wflag_new(&b, r, &p), 0);
	ck_assert_int_eq(shmg_wflag_claim(a), 0);
	int err = shmg_wflag_claim(b);
	ck_assert_int_eq(err, -EBUSY);
	assert_detail_has(err, "held by this process");
	ck_assert_int_eq(shmg_wflag_release(b), SHMG_ENOTOWNER);
	ck_assert_int_eq(*(int32_t *)(void *)(seg + OFF_OWNER), getpid());
	ck_assert_int_eq(shmg_wflag_release(a), 0);
	ck_assert_int_eq(shmg_wflag_claim(b), 0);
	ck_assert_int_eq(shmg_wflag_claim(a), -EBUSY);

	/* Freed without a release: the segment is not touched (the owner
	 * word keeps our PID), the process forgets the claim, and another
	 * handle takes it over as a dead writer's. */
	shmg_wflag_free(b);
	ck_assert_int_eq(*(int32_t *)(void *)(seg + OFF_OWNER), getpid());
	ck_assert_int_eq(shmg_wflag_claim(a), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_wflag_claim(a), 0);
	shmg_wflag_free(a);
	shmg_region_close(r);
	tu_shared_free(seg, SEG);
}
END_TEST

/*
 * One owner word seen through two mappings of the same memory: each wrapped
 * by shmg_region_from_memory (the caller mapped it twice, e.g. two modules
 * of one program), and the file itself as a region. The three handles are
 * one stream: only one may hold the claim. (Named by address, the second
 * mapping's owner word holding this process's PID looked like a dead
 * predecessor's: its claim took the stream over, both handles wrote, and
 * the first one's release cleared the second one's claim.)
 */
START_TEST(two_mappings_one_writer)
{
	enum { SEG = 4096 };
	int fd = memfd_create("shmg-two-mappings", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, SEG), 0);
	unsigned char *m[2];
	struct shmg_region *r[3];
	struct shmg_wflag *g[3];
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER,
	};
	for (int i = 0; i < 2; i++) {
		m[i] = mmap(NULL, SEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(m[i], MAP_FAILED);
		ck_assert_int_eq(shmg_region_from_memory(&r[i], m[i], SEG), 0);
	}
	ck_assert_int_eq(shmg_region_from_fd(&r[2], fd, 0), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmg_wflag_new(&g[i], r[i], &p), 0);

	ck_assert_int_eq(shmg_wflag_claim(g[0]), 0);
	for (int i = 1; i < 3; i++) {
		int err = shmg_wflag_claim(g[i]);
		ck_assert_msg(err == -EBUSY, "handle %d's claim returned %d (%s): -EBUSY expected",
			      i, err, shmg_error_detail(err));
		assert_detail_has(err, "held by this process");
		ck_assert_int_eq(shmg_wflag_release(g[i]), SHMG_ENOTOWNER);
	}
	ck_assert_int_eq(*(int32_t *)(void *)(m[1] + OFF_OWNER), getpid());
	ck_assert_int_eq(shmg_wflag_release(g[0]), 0);
	ck_assert_int_eq(shmg_wflag_claim(g[1]), 0);
	ck_assert_int_eq(shmg_wflag_claim(g[0]), -EBUSY);
	ck_assert_int_eq(shmg_wflag_claim(g[2]), -EBUSY);
	ck_assert_int_eq(shmg_wflag_release(g[1]), 0);
	ck_assert_int_eq(shmg_wflag_claim(g[2]), 0);
	ck_assert_int_eq(shmg_wflag_claim(g[0]), -EBUSY);
	ck_assert_int_eq(shmg_wflag_release(g[2]), 0);
	ck_assert_int_eq(*(int32_t *)(void *)(m[0] + OFF_OWNER), 0);
	for (int i = 0; i < 3; i++) {
		shmg_wflag_free(g[i]);
		shmg_region_close(r[i]);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(munmap(m[i], SEG), 0);
	close(fd);
}
END_TEST

/* The same when the second mapping's claim cannot read /proc/self/maps
 * (no descriptor left): it fails with that error, nothing changed, instead
 * of naming the word by its address and taking the first handle's claim
 * over as a dead predecessor's. */
START_TEST(two_mappings_no_descriptor_left)
{
	enum { SEG = 4096, FDS = 64 };
	int fd = memfd_create("shmg-two-mappings", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, SEG), 0);
	unsigned char *m[2];
	struct shmg_region *r[2];
	struct shmg_wflag *g[2];
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER,
	};
	for (int i = 0; i < 2; i++) {
		m[i] = mmap(NULL, SEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(m[i], MAP_FAILED);
		ck_assert_int_eq(shmg_region_from_memory(&r[i], m[i], SEG), 0);
		ck_assert_int_eq(shmg_wflag_new(&g[i], r[i], &p), 0);
	}
	ck_assert_int_eq(shmg_wflag_claim(g[0]), 0);

	struct rlimit was, low;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = FDS;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int spent[FDS], n = 0;
	while (n < FDS && (spent[n] = dup(fd)) >= 0)
		n++;
	ck_assert_int_eq(errno, EMFILE);
	int err = shmg_wflag_claim(g[1]);
	int err_release = shmg_wflag_release(g[1]);
	while (n > 0)
		close(spent[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_msg(err == -EMFILE, "the claim returned %d (%s): -EMFILE expected", err,
		      shmg_error_detail(err));
	ck_assert_int_eq(err_release, SHMG_ENOTOWNER);
	ck_assert_int_eq(*(int32_t *)(void *)(m[1] + OFF_OWNER), getpid());
	ck_assert_int_eq(shmg_wflag_claim(g[1]), -EBUSY);
	ck_assert_int_eq(shmg_wflag_release(g[0]), 0);
	ck_assert_int_eq(shmg_wflag_claim(g[1]), 0);
	ck_assert_int_eq(shmg_wflag_release(g[1]), 0);
	for (int i = 0; i < 2; i++) {
		shmg_wflag_free(g[i]);
		shmg_region_close(r[i]);
		ck_assert_int_eq(munmap(m[i], SEG), 0);
	}
	close(fd);
}
END_TEST

/* A reader's pin slot through the second mapping, no descriptor left:
 * the claim fails with that error instead of taking the first handle's
 * slot (its owner word holds this PID, and under the address no claim is
 * noted) as a dead predecessor's and clearing its pin. */
START_TEST(two_mappings_pin_slot_no_descriptor_left)
{
	enum { SEG = 4096, FDS = 64, FRAME = 64 };
	int fd = memfd_create("shmg-two-mappings", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, SEG), 0);
	unsigned char *m[2];
	struct shmg_region *r[2];
	struct shmg_wflag *g[2];
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER, .copies = 3, .index = OFF_INDEX, .seq = OFF_SEQ,
		.seq_stride = SEQ_STRIDE, .data = 1024, .data_len = FRAME, .npins = 2,
		.pins = 2048, .pin_owners = 2052, .pin_stride = 8,
	};
	for (int i = 0; i < 2; i++) {
		m[i] = mmap(NULL, SEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(m[i], MAP_FAILED);
		ck_assert_int_eq(shmg_region_from_memory(&r[i], m[i], SEG), 0);
		ck_assert_int_eq(shmg_wflag_new(&g[i], r[i], &p), 0);
	}
	ck_assert_int_eq(shmg_wflag_claim(g[0]), 0);
	shmg_wflag_begin(g[0]);
	shmg_wflag_publish(g[0]);
	unsigned slot, other = 99;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	ck_assert_int_eq(shmg_wflag_pin_claim(g[0], &slot), 0);
	ck_assert_int_eq(shmg_wflag_pin(g[0], slot, &pin), 0);
	uint32_t pinned = *(uint32_t *)(void *)(m[0] + 2048 + 8 * slot);

	struct rlimit was, low;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = FDS;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int spent[FDS], n = 0;
	while (n < FDS && (spent[n] = dup(fd)) >= 0)
		n++;
	ck_assert_int_eq(errno, EMFILE);
	int err = shmg_wflag_pin_claim(g[1], &other);
	while (n > 0)
		close(spent[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_msg(err < 0 || other != slot, "the second mapping's claim took the first "
		      "handle's slot %u (returned %d)", slot, err);
	ck_assert_msg(err == -EMFILE, "the claim returned %d (%s), slot %u: -EMFILE expected",
		      err, shmg_error_detail(err), other);
	ck_assert_uint_eq(*(uint32_t *)(void *)(m[1] + 2048 + 8 * slot), pinned);
	ck_assert_int_eq(shmg_wflag_unpin(g[0], slot), 0);
	ck_assert_int_eq(shmg_wflag_pin_release(g[0], slot), 0);
	ck_assert_int_eq(shmg_wflag_release(g[0]), 0);
	for (int i = 0; i < 2; i++) {
		shmg_wflag_free(g[i]);
		shmg_region_close(r[i]);
		ck_assert_int_eq(munmap(m[i], SEG), 0);
	}
	close(fd);
}
END_TEST

/* ------------------------------------------------------- two threads */

#define FRAMES 300

struct contender {
	struct shmg_isio *s;
	uint32_t *arrived;
	int claim;       /* what the claim returned */
	char detail[200];
	unsigned wrote;  /* frames published */
	unsigned refused; /* writes refused with SHMG_ENOTOWNER */
	unsigned other;   /* any other result */
};

/* Claim at the same moment as the other thread, then try to write
 * FRAMES frames whatever the claim said. */
static void *contend(void *arg)
{
	struct contender *c = arg;
	uint16_t f[NPIX];
	tu_start_line(c->arrived, 2);
	c->claim = shmg_isio_claim(c->s);
	snprintf(c->detail, sizeof(c->detail), "%s", shmg_error_detail(c->claim));
	for (unsigned k = 0; k < FRAMES; k++) {
		fill(f, k);
		int err = shmg_isio_write(c->s, f, sizeof(f), NULL);
		if (err == 0)
			c->wrote++;
		else if (err == SHMG_ENOTOWNER)
			c->refused++;
		else
			c->other++;
	}
	return NULL;
}

/* Two threads, two handles of one stream, claiming at once: one holds the
 * stream, the other is refused and publishes nothing (the torn frames of
 * issue 18 came from both publishing). */
static void two_threads_case(uint32_t cbsize)
{
	struct shmg_isio *s = stream_new(cbsize), *t = stream_open();
	uint32_t arrived = 0;
	struct contender c[2] = {{.s = s, .arrived = &arrived}, {.s = t, .arrived = &arrived}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, contend, &c[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	int w = c[0].claim == 0 ? 0 : 1, l = 1 - w;
	ck_assert_msg(c[w].claim == 0 && c[l].claim == -EBUSY,
		      "claims returned %d and %d: one 0 and one -EBUSY expected",
		      c[0].claim, c[1].claim);
	ck_assert_msg(strstr(c[l].detail, "held by this process"), "detail: %s", c[l].detail);
	ck_assert_uint_eq(c[w].wrote, FRAMES);
	ck_assert_uint_eq(c[l].wrote, 0);
	ck_assert_uint_eq(c[l].refused, FRAMES);
	ck_assert_uint_eq(c[0].other + c[1].other, 0);
	ck_assert_uint_eq(FIELD(s, ISIO_CNT0, uint64_t), FRAMES);
	shmg_isio_close(s);
	shmg_isio_close(t);
}

START_TEST(two_threads_one_writer) { two_threads_case(0); }
END_TEST
START_TEST(two_threads_one_writer_latch) { two_threads_case(3); }
END_TEST

/* ------------------------------------------------------- fork */

/* A forked child holds nothing of its parent's claim: its writes through
 * the inherited handle are refused, its claims (inherited handle or its
 * own) are refused naming the parent, and closing the inherited handle
 * does not give the parent's claim away. */
START_TEST(forked_child_refused)
{
	struct shmg_isio *s = stream_new(3);
	uint16_t f[NPIX];
	uint64_t n;
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	fill(f, 1);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), 0);
	pid_t parent = getpid();
	pid_t pid = tu_fork();
	if (pid == 0) {
		char alive[64];
		snprintf(alive, sizeof(alive), "writer PID %d is alive", (int)parent);
		int bad = 0;
		bad |= shmg_isio_write(s, f, sizeof(f), &n) != SHMG_ENOTOWNER;
		bad |= (shmg_isio_begin(s) != NULL) << 1;
		bad |= (shmg_isio_publish(s, &n) != SHMG_ENOTOWNER) << 2;
		bad |= (shmg_isio_release(s) != SHMG_ENOTOWNER) << 3;
		int err = shmg_isio_claim(s);
		bad |= (err != -EBUSY || !strstr(shmg_error_detail(err), alive)) << 4;
		struct shmg_isio *own;
		if (shmg_isio_open(&own, path, 0) != 0)
			_exit(100);
		err = shmg_isio_claim(own);
		bad |= (err != -EBUSY || !strstr(shmg_error_detail(err), alive)) << 5;
		shmg_isio_close(own);
		shmg_isio_close(s);
		_exit(bad);
	}
	tu_wait_ok(pid);
	ck_assert_int_eq(FIELD(s, ISIO_OWNER, int32_t), getpid());
	ck_assert_uint_eq(FIELD(s, ISIO_CNT0, uint64_t), 1);
	ck_assert_uint_eq(FIELD(s, ISIO_WRITE, uint8_t), 0);
	fill(f, 2);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 2);
	shmg_isio_close(s);
}
END_TEST

/*
 * A forked child whose PID is the one its parent claimed as: the child of
 * a process that is PID 1 of its PID namespace, made after a second
 * unshare(CLONE_NEWPID), is PID 1 too (so is any descendant that gets a
 * dead writer's PID back). It holds nothing of the parent's claim: its
 * writes, begin and release through the inherited handle are refused, and
 * closing that handle leaves the parent's claim alone. (Its own claim meets
 * the PID limit of doc/wflag.md and is not tested here.) Exit 77: no PID
 * namespaces here (not root).
 */
static int same_pid_child(void)
{
	struct shmg_isio *s;
	uint16_t f[NPIX];
	uint64_t n;
	if (shmg_isio_open(&s, path, 0) != 0 || shmg_isio_claim(s) != 0)
		return 100;
	fill(f, 1);
	if (shmg_isio_write(s, f, sizeof(f), &n) != 0 || n != 1)
		return 101;
	int32_t me = (int32_t)getpid();
	if (unshare(CLONE_NEWPID) != 0)
		return 102;
	pid_t pid = fork();
	if (pid < 0)
		return 103;
	if (pid == 0) {
		if ((int32_t)getpid() != me)
			_exit(104); /* the premise: the same PID */
		int bad = 0;
		bad |= shmg_isio_write(s, f, sizeof(f), &n) != SHMG_ENOTOWNER;
		bad |= (shmg_isio_begin(s) != NULL) << 1;
		bad |= (shmg_isio_release(s) != SHMG_ENOTOWNER) << 2;
		shmg_isio_close(s);
		_exit(bad);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 105;
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status); /* bits: write, begin, release */
	if (FIELD(s, ISIO_OWNER, int32_t) != me)
		return 106; /* the child's close or release took the claim */
	if (FIELD(s, ISIO_CNT0, uint64_t) != 1)
		return 107;
	fill(f, 2);
	if (shmg_isio_write(s, f, sizeof(f), &n) != 0 || n != 2)
		return 108;
	shmg_isio_close(s);
	return 0;
}

/* Runs body as PID 1 of a new PID namespace (so that a child it forks
 * can get its PID back); its wait status, exit 77 where no namespace can be
 * made. */
static int as_pid_1_of_a_namespace(int (*body)(void))
{
	pid_t outer = tu_fork();
	if (outer == 0) {
		if (unshare(CLONE_NEWPID) != 0)
			_exit(77);
		pid_t first = fork(); /* PID 1 of the new namespace */
		if (first == 0)
			_exit(body());
		int status;
		if (first < 0 || waitpid(first, &status, 0) != first || !WIFEXITED(status))
			_exit(99);
		_exit(WEXITSTATUS(status));
	}
	int status;
	ck_assert_int_eq(waitpid(outer, &status, 0), outer);
	ck_assert_msg(WIFEXITED(status), "the namespace's process died (0x%x)", status);
	return status;
}

START_TEST(child_with_the_claimed_pid_refused)
{
	shmg_isio_close(stream_new(3));
	int status = as_pid_1_of_a_namespace(same_pid_child);
	if (WEXITSTATUS(status) == 77) {
		printf("note: no PID namespace: child_with_the_claimed_pid_refused not run\n");
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == 0, "exit %d (1-7: the child's write, begin, "
		      "release passed, as bits; 106: its close took the claim)",
		      WEXITSTATUS(status));
}
END_TEST

/* ------------------------------------------------------- cost */

/* From here on any system call but exit and clock_gettime kills the
 * process (SIGSYS). clock_gettime, the frame's timestamp, is the vDSO's
 * where the clock source allows, a system call elsewhere: not the guard's
 * cost. 0, or -1 where seccomp is unavailable. */
static int ban_syscalls(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	return 0;
}

/* The write check is the handle's note, the cached PID and fork
 * generation, and a load of ownerPID: no system call. A claimed writer
 * with no sleeping reader writes 1,000 frames (and a handle that did not
 * claim is refused 1,000 times) under a filter that kills the process at
 * any other system call. */
START_TEST(write_check_makes_no_syscall)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* The sanitizers' runtimes make system calls of their own. */
	printf("note: a sanitizer build: write_check_makes_no_syscall not run\n");
	return;
#endif
	shmg_isio_close(stream_new(3));
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_isio *s, *t;
		uint16_t f[NPIX];
		if (shmg_isio_open(&s, path, 0) || shmg_isio_open(&t, path, 0) ||
		    shmg_isio_claim(s) != 0)
			_exit(100);
		fill(f, 0);
		/* Once before the ban: the PID is read and cached here. */
		if (shmg_isio_write(s, f, sizeof(f), NULL) != 0 ||
		    shmg_isio_write(t, f, sizeof(f), NULL) != SHMG_ENOTOWNER)
			_exit(101);
		if (ban_syscalls() != 0)
			_exit(77);
		int bad = 0;
		for (unsigned k = 1; k <= 1000; k++) {
			bad |= shmg_isio_write(s, f, sizeof(f), NULL) != 0;
			bad |= shmg_isio_write(t, f, sizeof(f), NULL) != SHMG_ENOTOWNER;
		}
		_exit(bad ? 102 : 0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		printf("note: no seccomp: write_check_makes_no_syscall not run\n");
		return;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the writer ended with status 0x%x (killed by SIGSYS: a system call)", status);
	struct shmg_isio *r = stream_open();
	ck_assert_uint_eq(FIELD(r, ISIO_CNT0, uint64_t), 1001);
	shmg_isio_close(r);
}
END_TEST

/*
 * The same child and a reader's semaphore slot (and its pin): the slot is
 * the handle's too, and the child holds nothing of it. Through the
 * inherited handle its pin and its slot release are refused, and its
 * close leaves the parent's slot and pin alone; the parent then unpins
 * with 0. Exit 77: no PID namespaces.
 */
static int same_pid_child_slot(void)
{
	struct shmg_isio *w, *s;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	uint16_t f[NPIX];
	int slot;
	if (shmg_isio_open(&w, path, 0) || shmg_isio_claim(w) || shmg_isio_open(&s, path, 0))
		return 100;
	fill(f, 1);
	if (shmg_isio_write(w, f, sizeof(f), NULL) || shmg_isio_sem_claim(s, &slot) ||
	    shmg_isio_pin(s, &pin))
		return 101;
	int32_t me = (int32_t)getpid();
	if (unshare(CLONE_NEWPID) != 0)
		return 102;
	pid_t pid = fork();
	if (pid < 0)
		return 103;
	if (pid == 0) {
		if ((int32_t)getpid() != me)
			_exit(104);
		struct shmg_wflag_pinned other = {.size = sizeof(other)};
		int bad = 0;
		bad |= shmg_isio_pin(s, &other) != SHMG_ENOTOWNER;
		bad |= (shmg_isio_unpin(s) != SHMG_ENOTOWNER) << 1;
		bad |= (shmg_isio_sem_release(s) != SHMG_ENOTOWNER) << 2;
		shmg_isio_close(s);
		_exit(bad);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 105;
	if (WEXITSTATUS(st))
		return WEXITSTATUS(st); /* bits: pin, unpin, release */
	int got = shmg_isio_unpin(s);
	if (got != 0)
		return 106; /* the child's close took the slot or the pin */
	shmg_isio_close(s);
	shmg_isio_close(w);
	return 0;
}

START_TEST(child_with_the_claimed_pid_slot_refused)
{
	shmg_isio_close(stream_new(3));
	int status = as_pid_1_of_a_namespace(same_pid_child_slot);
	if (WEXITSTATUS(status) == 77) {
		printf("note: no PID namespace: child_with_the_claimed_pid_slot_refused not run\n");
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == 0, "exit %d (1-7: the child's pin, unpin, slot "
		      "release passed, as bits; 106: the parent's unpin failed after the child's "
		      "close)", WEXITSTATUS(status));
}
END_TEST

/* ------------------------------------------------------- close */

/* Closing the holder gives the claim back (ownerPID 0), and the next
 * claim is a plain one. A handle closed mid-frame is a writer that died
 * there: ownerPID keeps the PID over the partial frame, and the next
 * claim takes the stream over (SHMG_OWNERDEAD); its first publish clears
 * the write flag. */
START_TEST(close_releases)
{
	struct shmg_isio *s = stream_new(3), *r = stream_open();
	uint16_t f[NPIX], g[NPIX];
	uint64_t n;
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	fill(f, 1);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), 0);
	shmg_isio_close(s);
	ck_assert_int_eq(FIELD(r, ISIO_OWNER, int32_t), 0);

	struct shmg_isio *t = stream_open();
	ck_assert_int_eq(shmg_isio_claim(t), 0);
	fill(f, 2);
	ck_assert_int_eq(shmg_isio_write(t, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 2);
	memset(shmg_isio_begin(t), 0xEE, sizeof(f) / 2);
	shmg_isio_close(t);
	ck_assert_int_eq(FIELD(r, ISIO_OWNER, int32_t), getpid());
	ck_assert_uint_eq(FIELD(r, ISIO_WRITE, uint8_t), 1);

	struct shmg_isio *u = stream_open();
	ck_assert_int_eq(shmg_isio_claim(u), SHMG_OWNERDEAD);
	ck_assert_uint_eq(FIELD(r, ISIO_WRITE, uint8_t), 1); /* until a publish */
	fill(f, 3);
	ck_assert_int_eq(shmg_isio_write(u, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 3);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 3);
	ck_assert_int_eq(memcmp(f, g, sizeof(f)), 0);
	shmg_isio_close(u);
	ck_assert_int_eq(FIELD(r, ISIO_OWNER, int32_t), 0);
	shmg_isio_close(r);
}
END_TEST

/* A release between shmg_isio_begin and shmg_isio_publish is refused,
 * nothing changed: it would put 0 in ownerPID over a partial frame still
 * flagged, and a reader could then never learn that its writer died (a
 * flag with no writer recorded is an unmodified ImageStreamIO writer's,
 * which only a scan of every process's maps can judge). The frame can
 * still be published, then the release goes through. */
START_TEST(release_mid_frame_refused)
{
	struct shmg_isio *s = stream_new(3), *r = stream_open();
	uint16_t f[NPIX];
	uint64_t n;
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	fill(f, 1);
	memcpy(shmg_isio_begin(s), f, sizeof(f) / 2);
	int err = shmg_isio_release(s);
	ck_assert_int_eq(err, -EBUSY);
	assert_detail_has(err, "frame is begun");
	ck_assert_int_eq(FIELD(r, ISIO_OWNER, int32_t), getpid());
	ck_assert_uint_eq(FIELD(r, ISIO_WRITE, uint8_t), 1);
	ck_assert_int_eq(shmg_isio_publish(s, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(shmg_isio_release(s), 0);
	ck_assert_int_eq(FIELD(r, ISIO_OWNER, int32_t), 0);
	ck_assert_uint_eq(FIELD(r, ISIO_WRITE, uint8_t), 0);
	shmg_isio_close(s);
	shmg_isio_close(r);
}
END_TEST

/* ------------------------------------------------------- a claim taken */

/* A recovery that was told the writer is dead (force_pid) takes its claim:
 * ownerPID no longer holds our PID. The old handle's writes are refused;
 * another handle's claim is refused, naming the lost claim, until the old
 * handle lets it go (release, here refused as it holds nothing now); then
 * the old handle never finds the stream its own again. */
START_TEST(claim_taken_by_recovery)
{
	struct shmg_isio *s = stream_new(3), *t = stream_open();
	uint16_t f[NPIX];
	uint64_t n;
	fill(f, 1);
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	FIELD(s, ISIO_OWNER, int32_t) = 0; /* what a forced recovery leaves */
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), SHMG_ENOTOWNER);
	assert_detail_has(SHMG_ENOTOWNER, "claim was taken");
	int err = shmg_isio_claim(t);
	ck_assert_int_eq(err, -EBUSY);
	assert_detail_has(err, "no longer records");
	ck_assert_int_eq(shmg_isio_release(s), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_isio_claim(t), 0);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_isio_write(t, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 1);
	shmg_isio_close(s);
	ck_assert_int_eq(FIELD(t, ISIO_OWNER, int32_t), getpid());
	shmg_isio_close(t);
}
END_TEST

/* ------------------------------------------------------- reused PID */

/* ownerPID holds this process's PID, but no handle of it claimed the
 * stream: a dead predecessor with the same PID (a writer restarted in a
 * PID namespace of its own) left it mid-frame. The claim takes it over as
 * a dead writer's; the partial frame stays flagged until the first
 * publish; a second handle is then refused. */
START_TEST(reused_pid_predecessor_taken_over)
{
	struct shmg_isio *s = stream_new(3), *r = stream_open();
	uint16_t f[NPIX], g[NPIX];
	uint64_t n;
	FIELD(s, ISIO_CNT0, uint64_t) = 0;
	FIELD(s, ISIO_WRITE, uint8_t) = 1;
	FIELD(s, ISIO_OWNER, int32_t) = (int32_t)getpid();
	ck_assert_int_eq(shmg_isio_claim(s), SHMG_OWNERDEAD);
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_uint_eq(FIELD(s, ISIO_WRITE, uint8_t), 1);
	int err = shmg_isio_claim(r);
	ck_assert_int_eq(err, -EBUSY);
	assert_detail_has(err, "through another handle");
	fill(f, 1);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), &n), 0);
	ck_assert_uint_eq(n, 1);
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 1);
	ck_assert_int_eq(memcmp(f, g, sizeof(f)), 0);
	shmg_isio_close(s);
	shmg_isio_close(r);
}
END_TEST

/* The generic guard: a dead predecessor with this PID died inside publish
 * after numbering its latch copy; the claim finishes that publish (the
 * counter catches up) as for any dead writer. */
START_TEST(reused_pid_orphaned_publish_finished)
{
	enum { COPIES = 3, FRAME = 64, OFF_COPIES = 1024, SEG = 4096 };
	unsigned char *seg = tu_shared_alloc(SEG);
	struct shmg_region *r;
	struct shmg_wflag *g;
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER, .waiters = OFF_WAITERS,
		.owner = OFF_OWNER, .copies = COPIES, .index = OFF_INDEX, .seq = OFF_SEQ,
		.seq_stride = SEQ_STRIDE, .data = OFF_COPIES, .data_len = FRAME,
	};
	ck_assert_int_eq(shmg_region_from_memory(&r, seg, SEG), 0);
	ck_assert_int_eq(shmg_wflag_new(&g, r, &p), 0);
	*(uint64_t *)(void *)(seg + OFF_COUNTER) = 7;
	*(uint32_t *)(void *)(seg + OFF_INDEX) = 0;
	*(uint64_t *)(void *)(seg + OFF_SEQ) = 7;
	*(uint64_t *)(void *)(seg + OFF_SEQ + SEQ_STRIDE) = 8; /* numbered, not counted */
	seg[OFF_MARK] = 1;
	*(int32_t *)(void *)(seg + OFF_OWNER) = (int32_t)getpid();
	ck_assert_int_eq(shmg_wflag_claim(g), SHMG_OWNERDEAD);
	ck_assert_uint_eq(*(uint64_t *)(void *)(seg + OFF_COUNTER), 8);
	ck_assert_uint_eq(*(uint32_t *)(void *)(seg + OFF_INDEX), 1);
	ck_assert_int_eq(*(int32_t *)(void *)(seg + OFF_OWNER), getpid());
	ck_assert_int_eq(shmg_wflag_release(g), 0);
	shmg_wflag_free(g);
	shmg_region_close(r);
	tu_shared_free(seg, SEG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("one handle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, second_handle_refused);
	tcase_add_test(tc, second_handle_refused_latch);
	tcase_add_test(tc, second_wflag_handle_refused);
	tcase_add_test(tc, two_mappings_one_writer);
	tcase_add_test(tc, two_mappings_no_descriptor_left);
	tcase_add_test(tc, two_mappings_pin_slot_no_descriptor_left);
	tcase_add_test(tc, two_threads_one_writer);
	tcase_add_test(tc, two_threads_one_writer_latch);
	tcase_add_test(tc, forked_child_refused);
	tcase_add_test(tc, child_with_the_claimed_pid_refused);
	tcase_add_test(tc, child_with_the_claimed_pid_slot_refused);
	tcase_add_test(tc, write_check_makes_no_syscall);
	tcase_add_test(tc, close_releases);
	tcase_add_test(tc, release_mid_frame_refused);
	tcase_add_test(tc, claim_taken_by_recovery);
	tcase_add_test(tc, reused_pid_predecessor_taken_over);
	tcase_add_test(tc, reused_pid_orphaned_publish_finished);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
