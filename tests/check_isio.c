/*
 * check_isio: ImageStreamIO stream files. The layout against the measured
 * example of the facts, creation field by field, validation on open (every
 * refusal leaves the file untouched), frames through the guard with and
 * without the circular-buffer latch, cube slices, semaphore slots claimed
 * by CAS, monotonic waits, and a dead writer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <shmguard.h>
#include <shmguard/isio.h>

#include "testutil.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/shmg-isio.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cam.im.shm", dir);
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const struct shmg_isio_params cam = {
	.size = sizeof(struct shmg_isio_params),
	.name = "cam", .naxis = 2, .dims = {64, 32}, .datatype = SHMG_ISIO_UINT16,
	.nkw = 4,
};

static unsigned char *base_of(const struct shmg_isio *s)
{
	return shmg_region_base(shmg_isio_region(s));
}

/* A field of the file, at its offset (doc/imagestreamio.md). */
#define FIELD(s, off, type) (*(type *)(void *)(base_of(s) + (off)))

static struct shmg_isio_layout layout_of(const struct shmg_isio *s)
{
	struct shmg_isio_layout l = {.size = sizeof(l)};
	ck_assert_int_eq(shmg_isio_get_layout(s, &l), 0);
	return l;
}

/* Write a frame; its number. */
static uint64_t wrote(struct shmg_isio *s, const void *f, size_t len)
{
	uint64_t n = 0;
	ck_assert_int_eq(shmg_isio_write(s, f, len, &n), 0);
	return n;
}

START_TEST(layout_matches_measured_example)
{
	/* The facts: 512x512 float, 10 keywords, 10 semaphores, CBsize 1. */
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "x", .naxis = 2, .dims = {512, 512},
		.datatype = SHMG_ISIO_FLOAT, .nkw = 10, .cbsize = 1,
	};
	struct shmg_isio_layout l = {.size = sizeof(l)};
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), 0);
	ck_assert_uint_eq(l.file_size, 2100016);
	ck_assert_uint_eq(l.off_data, 384);
	ck_assert_uint_eq(l.off_kw, 1048960);
	ck_assert_uint_eq(l.off_sem, 1050240);
	ck_assert_uint_eq(l.off_semlog, 1050560);
	ck_assert_uint_eq(l.off_semreadpid, 1050592);
	ck_assert_uint_eq(l.nsem, 10);
	/* Bad parameters, and sizes that do not fit. */
	p.naxis = 0;
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), -EINVAL);
	p.naxis = 2;
	p.datatype = 14;
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), -EINVAL);
	p.datatype = SHMG_ISIO_COMPLEX_DOUBLE;
	p.naxis = 3;
	p.dims[0] = p.dims[1] = p.dims[2] = UINT32_MAX;
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), -EOVERFLOW);
	/* A temporal circular buffer needs a z axis. */
	p = (struct shmg_isio_params){.size = sizeof(p), .name = "x", .naxis = 2, .dims = {4, 4},
		.datatype = 1, .imagetype = SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL};
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), -EINVAL);
	/* With one: 3 arrays of size[2] entries before the fast buffer. */
	p.naxis = 3;
	p.dims[2] = 5;
	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), 0);
	ck_assert_uint_eq(l.off_cbmd - l.off_slicetimes, 5 * (16 + 16 + 8));
}
END_TEST

START_TEST(create_writes_every_field)
{
	struct shmg_isio *s;
	struct stat st;
	int v;

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq((size_t)st.st_size, layout_of(s).file_size);
	ck_assert_str_eq((char *)base_of(s), "2.00");
	ck_assert_str_eq((char *)base_of(s) + 32, "cam");
	ck_assert_uint_eq(FIELD(s, 112, uint8_t), 2);
	ck_assert_uint_eq(FIELD(s, 116, uint32_t), 64);
	ck_assert_uint_eq(FIELD(s, 120, uint32_t), 32);
	ck_assert_uint_eq(FIELD(s, 128, uint64_t), 64 * 32);
	ck_assert_uint_eq(FIELD(s, 136, uint8_t), SHMG_ISIO_UINT16);
	ck_assert_int_eq(FIELD(s, 216, int32_t), getpid());
	ck_assert_int_eq(FIELD(s, 220, int32_t), 0);
	ck_assert_uint_eq(FIELD(s, 224, uint8_t), 1);
	ck_assert_uint_eq(FIELD(s, 232, uint64_t), st.st_ino);
	ck_assert_int_eq(FIELD(s, 240, int8_t), -1);
	ck_assert_uint_eq(FIELD(s, 258, uint16_t), 10);
	ck_assert_uint_eq(FIELD(s, 260, uint16_t), 10);
	ck_assert_uint_eq(FIELD(s, 264, uint64_t), 0);
	ck_assert_uint_eq(FIELD(s, 288, uint8_t), 0);
	ck_assert_uint_eq(FIELD(s, 290, uint16_t), 4);
	ck_assert_uint_eq(FIELD(s, 312, uint64_t), 64 * 32 * 2);
	ck_assert_int_gt(FIELD(s, 152, int64_t), 0); /* creation time */
	for (unsigned i = 0; i < 10; i++) {
		ck_assert_int_eq(FIELD(s, layout_of(s).off_semreadpid + 4 * i, int32_t), -1);
		ck_assert_int_eq(FIELD(s, layout_of(s).off_semwritepid + 4 * i, int32_t), -1);
		ck_assert_int_eq(sem_getvalue((sem_t *)(void *)(base_of(s) + layout_of(s).off_sem + 32 * i), &v), 0);
		ck_assert_int_eq(v, 0);
	}
	shmg_isio_close(s);
	/* Never clobbered by accident; replaced atomically when asked. */
	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), -EEXIST);
	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0644, SHMG_REGION_REPLACE), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	shmg_isio_close(s);
	struct shmg_isio_params bad = cam;
	bad.name = "a/b";
	ck_assert_int_eq(shmg_isio_create(&s, path, &bad, 0, SHMG_REGION_REPLACE), -EINVAL);
}
END_TEST

START_TEST(path_rules)
{
	char buf[256];

	ck_assert_int_eq(setenv("MILK_SHM_DIR", dir, 1), 0);
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), "cam"), 0);
	ck_assert_str_eq(buf, path);
	/* Set but missing: used all the same, as ImageStreamIO does (an open
	 * there fails with -ENOENT rather than finding another stream). */
	ck_assert_int_eq(setenv("MILK_SHM_DIR", "/nonexistent-shmg", 1), 0);
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), "cam"), 0);
	ck_assert_str_eq(buf, "/nonexistent-shmg/cam.im.shm");
	/* Unset: /milk/shm where it exists, else /tmp; never $TMPDIR. */
	unsetenv("MILK_SHM_DIR");
	ck_assert_int_eq(setenv("TMPDIR", dir, 1), 0);
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), "cam"), 0);
	struct stat st;
	ck_assert_str_eq(buf, stat("/milk/shm", &st) == 0 && S_ISDIR(st.st_mode)
				      ? "/milk/shm/cam.im.shm" : "/tmp/cam.im.shm");
	unsetenv("TMPDIR");
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), ""), -EINVAL);
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), "a/b"), -EINVAL);
	ck_assert_int_eq(shmg_isio_path(buf, 8, "cam"), -ENAMETOOLONG);
	char longname[100];
	memset(longname, 'n', 99);
	longname[99] = 0;
	ck_assert_int_eq(shmg_isio_path(buf, sizeof(buf), longname), -EINVAL);
}
END_TEST

/* Copy the file, change it with `edit`, and require open to refuse it
 * with `expect` and a detail naming the cause, without changing a byte. */
static void refused(void (*edit)(int fd, off_t size), int expect, const char *why)
{
	char bad[160], cmd[400];
	struct shmg_isio *s;
	struct stat st;

	snprintf(bad, sizeof(bad), "%s/bad.im.shm", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, bad);
	ck_assert_int_eq(system(cmd), 0);
	int fd = open(bad, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	edit(fd, st.st_size);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.before'", bad, bad);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(shmg_isio_open(&s, bad, 0), expect);
	ck_assert_msg(strstr(shmg_error_detail(expect), why), "the detail '%s' lacks '%s'",
		      shmg_error_detail(expect), why);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s.before'", bad, bad);
	ck_assert_msg(system(cmd) == 0, "a refused open changed the file");
}

static void put(int fd, off_t off, const void *v, size_t n)
{
	ck_assert_int_eq(pwrite(fd, v, n, off), (ssize_t)n);
}

static void old_version(int fd, off_t n) { (void)n; put(fd, 0, "1.05", 5); }
static void shorter(int fd, off_t n) { ck_assert_int_eq(ftruncate(fd, n - 8), 0); }
static void longer(int fd, off_t n) { ck_assert_int_eq(ftruncate(fd, n + 8), 0); }
static void tiny(int fd, off_t n) { (void)n; ck_assert_int_eq(ftruncate(fd, 384), 0); }
static void bad_nelement(int fd, off_t n) { uint64_t v = 7; (void)n; put(fd, 128, &v, 8); }
static void bad_datatype(int fd, off_t n) { uint8_t v = 14; (void)n; put(fd, 136, &v, 1); }
static void bad_naxis(int fd, off_t n) { uint8_t v = 0; (void)n; put(fd, 112, &v, 1); }
static void more_sems(int fd, off_t n) { uint16_t v = 11; (void)n; put(fd, 258, &v, 2); }
static void unterminated_name(int fd, off_t n) { char v[80]; (void)n; memset(v, 'x', 80); put(fd, 32, v, 80); }
static void bad_memsize(int fd, off_t n) { uint64_t v = 1; (void)n; put(fd, 312, &v, 8); }
static void not_shared(int fd, off_t n) { uint8_t v = 0; (void)n; put(fd, 224, &v, 1); }

START_TEST(open_validates)
{
	struct shmg_isio *s;
	char link[160];

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	shmg_isio_close(s);
	ck_assert_int_eq(shmg_isio_open(&s, path, 0), 0);
	ck_assert_uint_eq(layout_of(s).data_size, 64 * 32 * 2);
	ck_assert_uint_eq(layout_of(s).nkw, 4);
	shmg_isio_close(s);
	refused(old_version, SHMG_ELAYOUT, "version is '1.05', expected '2.00'");
	refused(shorter, SHMG_ELAYOUT, "its metadata implies a file of");
	refused(longer, SHMG_ELAYOUT, "its metadata implies a file of");
	refused(tiny, SHMG_ELAYOUT, "smaller than the 384-byte metadata");
	refused(bad_nelement, SHMG_ELAYOUT, "nelement is 7; the sizes give 2048");
	refused(bad_datatype, SHMG_ELAYOUT, "datatype is 14, 1 to 13 expected");
	refused(bad_naxis, SHMG_ELAYOUT, "naxis is 0, 1 to 3 expected");
	refused(more_sems, SHMG_ELAYOUT, "its metadata implies a file of");
	refused(unterminated_name, SHMG_ELAYOUT, "not NUL-terminated");
	refused(bad_memsize, SHMG_ELAYOUT, "imdatamemsize is 1");
	refused(not_shared, SHMG_ELAYOUT, "shared is 0, 1 expected");
	snprintf(link, sizeof(link), "%s/link.im.shm", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(shmg_isio_open(&s, link, 0), -ELOOP);
	ck_assert_int_eq(shmg_isio_open(&s, link, SHMG_REGION_FOLLOW), 0);
	shmg_isio_close(s);
	snprintf(link, sizeof(link), "%s/none.im.shm", dir);
	ck_assert_int_eq(shmg_isio_open(&s, link, 0), -ENOENT);
}
END_TEST

/* A stream over 2 GiB (sparse: only the metadata is written). */
START_TEST(open_over_2gib)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "big", .naxis = 2, .dims = {32768, 16400},
		.datatype = SHMG_ISIO_FLOAT,
	};
	struct shmg_isio_layout l = {.size = sizeof(l)};
	struct shmg_isio *s;
	unsigned char md[384] = {0};

	ck_assert_int_eq(shmg_isio_layout_of(&l, &p), 0);
	ck_assert_uint_gt(l.file_size, (size_t)1 << 31);
	memcpy(md, "2.00", 5);
	memcpy(md + 32, "big", 4);
	md[112] = 2;
	memcpy(md + 116, p.dims, 8);
	memcpy(md + 128, &l.nelement, 8);
	md[136] = SHMG_ISIO_FLOAT;
	md[224] = 1; /* shared */
	md[240] = 0xff; /* location -1 */
	uint16_t ten = 10;
	memcpy(md + 258, &ten, 2);
	memcpy(md + 260, &ten, 2);
	uint64_t bytes = l.data_size;
	memcpy(md + 312, &bytes, 8);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	put(fd, 0, md, sizeof(md));
	ck_assert_int_eq(ftruncate(fd, (off_t)l.file_size), 0);
	close(fd);
	ck_assert_int_eq(shmg_isio_open(&s, path, 0), 0);
	ck_assert_uint_eq(layout_of(s).file_size, l.file_size);
	ck_assert_uint_eq(layout_of(s).off_kw, 384 + (size_t)32768 * 16400 * 4);
	shmg_isio_close(s);
}
END_TEST

static void fill_frame(uint16_t *f, size_t n, uint64_t k)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (uint16_t)(k * 31 + i);
}

static void check_frame(const uint16_t *f, size_t n, uint64_t k)
{
	for (size_t i = 0; i < n; i++)
		if (f[i] != (uint16_t)(k * 31 + i))
			ck_abort_msg("pixel %zu of frame %llu is wrong", i, (unsigned long long)k);
}

static int semval(const struct shmg_isio *s, unsigned i)
{
	int v = -1;
	sem_getvalue((sem_t *)(void *)(base_of(s) + layout_of(s).off_sem + 32 * i), &v);
	return v;
}

START_TEST(frames_single_buffer)
{
	struct shmg_isio *s, *r;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	uint16_t f[64 * 32], g[64 * 32];

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	fill_frame(f, 64 * 32, 1);
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f), NULL), SHMG_ENOTOWNER);
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	ck_assert_int_eq(FIELD(s, 220, int32_t), getpid());
	ck_assert_int_eq(shmg_isio_write(s, f, sizeof(f) - 2, NULL), -EINVAL);
	for (uint64_t k = 1; k <= 12; k++) {
		fill_frame(f, 64 * 32, k);
		ck_assert_uint_eq(wrote(s, f, sizeof(f)), k);
		ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
		ck_assert_uint_eq(snap.frame, k);
		ck_assert_int_eq(snap.copy, -1);
		check_frame(g, 64 * 32, k);
		ck_assert_uint_eq(FIELD(r, 264, uint64_t), k);
		ck_assert_uint_eq(FIELD(r, 288, uint8_t), 0);
		ck_assert_int_gt(FIELD(r, 200, int64_t), 0); /* writetime */
	}
	/* Every semaphore posted once per frame, capped at 10; the semlog too. */
	for (unsigned i = 0; i < 10; i++)
		ck_assert_int_eq(semval(r, i), 10);
	int logval = -1;
	ck_assert_int_eq(sem_getvalue((sem_t *)(void *)(base_of(r) + layout_of(r).off_semlog),
				      &logval), 0);
	ck_assert_int_eq(logval, 10);
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g) + 2, &snap, NULL), -ERANGE);
	ck_assert_int_eq(shmg_isio_release(s), 0);
	ck_assert_int_eq(FIELD(s, 220, int32_t), 0);
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

START_TEST(frames_through_the_latch)
{
	struct shmg_isio_params p = cam;
	struct shmg_isio *s, *r;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	uint16_t f[64 * 32], g[64 * 32];

	p.cbsize = 3;
	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
	ck_assert_uint_eq(layout_of(s).cbsize, 3);
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	for (uint64_t k = 1; k <= 7; k++) {
		fill_frame(f, 64 * 32, k);
		ck_assert_uint_eq(wrote(s, f, sizeof(f)), k);
		ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
		ck_assert_uint_eq(snap.frame, k);
		ck_assert_int_eq(snap.copy, (int)(k % 3));
		check_frame(g, 64 * 32, k);
		/* Legacy view: CBindex names the newest copy, whose metadata
		 * carries its cnt0, and the pixel array holds it too. */
		ck_assert_uint_eq(FIELD(r, 296, uint32_t), k % 3);
		ck_assert_uint_eq(FIELD(r, layout_of(r).off_cbmd + 48 * (k % 3), uint64_t), k);
		check_frame(shmg_isio_data(r), 64 * 32, k);
	}
	ck_assert_uint_eq(FIELD(r, 304, uint64_t), 2); /* wrapped at 3 and 6 */
	/* The writer mid-frame (in place): the latch still serves frame 7 at
	 * once; the frame filled in place is then frame 8, its latch copy
	 * taken from the buffer. */
	uint16_t *in_place = shmg_isio_begin(s);
	ck_assert_ptr_eq(in_place, shmg_isio_data(s));
	fill_frame(f, 64 * 32, 8);
	shmg_atomic_store_memcpy(in_place, f, sizeof(f) / 2, relaxed);
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 7);
	check_frame(g, 64 * 32, 7);
	shmg_atomic_store_memcpy(in_place + 64 * 16, f + 64 * 16, sizeof(f) / 2, relaxed);
	uint64_t cnt = 0;
	ck_assert_int_eq(shmg_isio_publish(s, &cnt), 0);
	ck_assert_uint_eq(cnt, 8);
	ck_assert_int_eq(shmg_isio_publish(s, &cnt), -EINVAL); /* nothing begun */
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 8);
	ck_assert_int_eq(snap.copy, 8 % 3);
	check_frame(g, 64 * 32, 8);
	/* Without a guarded writer the reader falls back to the pixel array. */
	ck_assert_int_eq(shmg_isio_release(s), 0);
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, NULL), 0);
	ck_assert_int_eq(snap.copy, -1);
	ck_assert_uint_eq(snap.frame, 8);
	check_frame(g, 64 * 32, 8);
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

/* cnt0 at UINT64_MAX: the next frame would wrap it to 0 (a circular-buffer
 * reader waiting for a frame after it would then wait for ever). Every way
 * of writing refuses it with -EOVERFLOW naming cnt0, and not a byte of the
 * file changes. With and without a circular buffer, frames and slices. */
START_TEST(cnt0_at_max_refused)
{
	for (int cb = 0; cb <= 3; cb += 3) {
		for (int cube = 0; cube < 2; cube++) {
			struct shmg_isio_params p = cam;
			struct shmg_isio *s;
			p.cbsize = (uint32_t)cb;
			if (cube) {
				p.naxis = 3;
				p.dims[2] = 4;
			}
			unlink(path);
			ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
			ck_assert_int_eq(shmg_isio_claim(s), 0);
			size_t n = shmg_region_size(shmg_isio_region(s));
			size_t frame = layout_of(s).data_size, len = cube ? frame / 4 : frame;
			unsigned char *f = calloc(1, frame), *before = malloc(n);
			ck_assert_ptr_nonnull(f);
			ck_assert_ptr_nonnull(before);
			if (cube)
				ck_assert_int_eq(shmg_isio_write_slice(s, f, len, NULL, NULL), 0);
			else
				ck_assert_uint_eq(wrote(s, f, len), 1);
			FIELD(s, 264, uint64_t) = UINT64_MAX;
			memcpy(before, base_of(s), n);
			int err = cube ? shmg_isio_write_slice(s, f, len, NULL, NULL)
				       : shmg_isio_write(s, f, len, NULL);
			ck_assert_msg(err == -EOVERFLOW, "cb %d cube %d: %d (%s)", cb, cube, err,
				      shmg_error_detail(err));
			ck_assert_ptr_nonnull(strstr(shmg_error_detail(err), "cnt0 is 18446744073709551615"));
			ck_assert_ptr_null(shmg_isio_begin(s));
			ck_assert_int_eq(shmg_isio_publish(s, NULL), -EINVAL); /* nothing begun */
			ck_assert_msg(memcmp(before, base_of(s), n) == 0, "cb %d cube %d: the file "
				      "changed", cb, cube);
			free(f);
			free(before);
			shmg_isio_close(s);
		}
	}
}
END_TEST

START_TEST(cube_slices)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "cube", .naxis = 3, .dims = {4, 4, 5},
		.datatype = SHMG_ISIO_UINT16,
		.imagetype = SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL,
	};
	struct shmg_isio *s;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	uint16_t slice[16], got[16];
	uint32_t k;

	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	for (unsigned n = 1; n <= 7; n++) {
		for (unsigned i = 0; i < 16; i++)
			slice[i] = (uint16_t)(n * 100 + i);
		uint64_t cnt = 0;
		ck_assert_int_eq(shmg_isio_write_slice(s, slice, sizeof(slice), &k, &cnt), 0);
		ck_assert_uint_eq(cnt, n);
		ck_assert_uint_eq(k, n % 5);
		ck_assert_uint_eq(FIELD(s, 272, uint64_t), k); /* cnt1 */
		ck_assert_uint_eq(FIELD(s, layout_of(s).off_slicetimes + 32 * 5 + 8 * k, uint64_t), n);
	}
	/* Slice 1 was written by frame 6, slice 4 by frame 4. */
	ck_assert_int_eq(shmg_isio_read_slice(s, 1, got, sizeof(got), &snap, NULL), 0);
	ck_assert_uint_eq(got[0], 600);
	ck_assert_uint_eq(got[15], 615);
	ck_assert_int_eq(shmg_isio_read_slice(s, 4, got, sizeof(got), &snap, NULL), 0);
	ck_assert_uint_eq(got[3], 403);
	ck_assert_int_eq(shmg_isio_read_slice(s, 5, got, sizeof(got), &snap, NULL), -ERANGE);
	ck_assert_int_eq(shmg_isio_write_slice(s, slice, sizeof(slice) - 2, NULL, NULL), -EINVAL);
	shmg_isio_close(s);
}
END_TEST

/* Readers in several processes claim slots at the same moment: every one
 * gets its own (CAS, not check-then-set). */
START_TEST(sem_slots_claimed_by_cas)
{
	struct shmg_isio *s;
	uint32_t *line = tu_shared_alloc(4096);
	int32_t *slots = (int32_t *)(line + 1);
	pid_t kids[8];

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	for (int i = 0; i < 8; i++) {
		if ((kids[i] = tu_fork()) == 0) {
			struct shmg_isio *r;
			if (shmg_isio_open(&r, path, 0) != 0)
				_exit(1);
			tu_start_line(line, 8);
			if (shmg_isio_sem_claim(r, &slots[i]) != 0)
				slots[i] = -1;
			shmg_atomic_inc(&line[900], release); /* claimed (or not) */
			/* Hold it until the parent has looked. */
			while (shmg_atomic_load(&line[1000], acquire) == 0)
				usleep(1000);
			_exit(slots[i] >= 0 ? 0 : 2);
		}
	}
	/* Every child has claimed and says so: a handshake, not a delay. */
	while (shmg_atomic_load(&line[900], acquire) < 8)
		usleep(1000);
	unsigned seen = 0;
	for (int i = 0; i < 10; i++) {
		int32_t who = FIELD(s, layout_of(s).off_semreadpid + 4 * (size_t)i, int32_t);
		for (int j = 0; j < 8; j++)
			if (who == kids[j])
				seen |= 1u << j;
	}
	ck_assert_uint_eq(seen, 0xff); /* 8 different slots, one each */
	shmg_atomic_store(&line[1000], 1, release);
	for (int i = 0; i < 8; i++)
		tu_wait_ok(kids[i]);
	/* The 8 holders are gone: their slots are free again. */
	int slot = -1;
	ck_assert_int_eq(shmg_isio_sem_claim(s, &slot), 0);
	ck_assert_int_eq(slot, 0);
	ck_assert_int_eq(FIELD(s, layout_of(s).off_semreadpid, int32_t), getpid());
	shmg_isio_sem_release(s);
	ck_assert_int_eq(FIELD(s, layout_of(s).off_semreadpid, int32_t), -1);
	/* All held by live processes: no slot. */
	for (int i = 0; i < 10; i++)
		FIELD(s, layout_of(s).off_semreadpid + 4 * (size_t)i, int32_t) = getppid();
	ck_assert_int_eq(shmg_isio_sem_claim(s, NULL), -EAGAIN);
	shmg_isio_close(s);
	tu_shared_free(line, 4096);
}
END_TEST

static void on_alarm(int sig) { (void)sig; }

START_TEST(sem_wait_deadline_and_posts)
{
	struct shmg_isio *s, *r;
	uint16_t f[64 * 32] = {0};
	struct timespec dl, t0, t1;
	uint64_t now = 0;

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	ck_assert_int_eq(shmg_isio_sem_wait(r, &now, NULL), -EINVAL); /* no slot */
	ck_assert_int_eq(shmg_isio_sem_claim(r, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(shmg_deadline_in(&dl, 30 * 1000000), 0);
	ck_assert_int_eq(shmg_isio_sem_wait(r, &now, &dl), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(shmg_deadline_passed(&dl));
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2); /* not stretched */
	ck_assert_int_eq(shmg_isio_claim(s), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(wrote(s, f, sizeof(f)), (uint64_t)i + 1);
	ck_assert_int_eq(shmg_deadline_in(&dl, 1000000000), 0);
	ck_assert_int_eq(shmg_isio_sem_wait(r, &now, &dl), 0);
	ck_assert_uint_eq(now, 3); /* missed frames from cnt0: 3 - 0 - 1 */
	ck_assert_int_eq(semval(r, 0), 0); /* drained */
	struct sigaction sa = {.sa_handler = on_alarm};
	/* repeating: a signal that lands outside the sleeping syscall
	 * (while spinning) cannot interrupt anything; a later one will */
	struct itimerval it = {.it_value = {.tv_usec = 30000}, .it_interval = {.tv_usec = 30000}};
	struct itimerval off = {{0, 0}, {0, 0}};
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(shmg_deadline_in(&dl, 5000000000ull), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	int err = shmg_isio_sem_wait(r, &now, &dl);
	setitimer(ITIMER_REAL, &off, NULL);
	ck_assert_int_eq(err, -EINTR);
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

START_TEST(dead_writer_then_takeover)
{
	struct shmg_isio *s, *r;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	uint16_t f[64 * 32], g[64 * 32];
	struct timespec dl;

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_open(&r, path, 0), 0);
	pid_t pid = tu_fork();
	if (pid == 0) {
		fill_frame(f, 64 * 32, 1);
		if (shmg_isio_claim(s) != 0 || wrote(s, f, sizeof(f)) != 1)
			_exit(1);
		memset(shmg_isio_begin(s), 0xAB, 100); /* dies mid-frame */
		_exit(0);
	}
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_deadline_in(&dl, 5000000000ull), 0);
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, &dl), SHMG_EWRITERDEAD);
	ck_assert_int_eq(shmg_isio_wait(r, 1, NULL, &dl), SHMG_EWRITERDEAD);
	ck_assert_int_eq(shmg_isio_claim(s), SHMG_OWNERDEAD);
	fill_frame(f, 64 * 32, 2);
	ck_assert_uint_eq(wrote(s, f, sizeof(f)), 2);
	ck_assert_int_eq(shmg_isio_read(r, g, sizeof(g), &snap, &dl), 0);
	ck_assert_uint_eq(snap.frame, 2);
	check_frame(g, 64 * 32, 2);
	shmg_isio_close(r);
	shmg_isio_close(s);
}
END_TEST

/* Each recovery step, as the report says it. */
static void collect(void *arg, int result, const char *text)
{
	char *log = arg;
	size_t n = strlen(log);
	snprintf(log + n, 2048 - n, "%d %s\n", result, text);
}

/* A writer that publishes `frames` frames, begins the next, writes half of
 * it and dies (no release); a reader that claims a slot and dies. */
static void leave_dead_writer_and_reader(const char *p, int frames)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_isio *w;
		uint16_t f[64 * 32];
		if (shmg_isio_open(&w, p, 0) != 0 || shmg_isio_claim(w) != 0)
			_exit(1);
		for (int k = 1; k <= frames; k++) {
			fill_frame(f, 64 * 32, (uint64_t)k);
			if (shmg_isio_write(w, f, sizeof(f), NULL) != 0)
				_exit(2);
		}
		memset(shmg_isio_begin(w), 0xEE, sizeof(f) / 2);
		_exit(0);
	}
	tu_wait_ok(pid);
	if ((pid = tu_fork()) == 0) {
		struct shmg_isio *r;
		_exit(shmg_isio_open(&r, p, 0) == 0 && shmg_isio_sem_claim(r, NULL) == 0 ? 0 : 1);
	}
	tu_wait_ok(pid);
}

static bool same_file(const char *a, const char *b)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

START_TEST(inspect_and_recover)
{
	struct shmg_isio_params p = cam;
	struct shmg_isio *s;
	struct shmg_isio_info info = {.size = sizeof(info)};
	struct shmg_isio_slot_info slot = {.size = sizeof(slot)};
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	char log[2048] = "", copy[200];
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	uint16_t g[64 * 32];

	p.cbsize = 3;
	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
	ck_assert_int_eq(shmg_isio_recover(s, &o), 0); /* healthy: nothing */
	leave_dead_writer_and_reader(path, 2);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_str_eq(info.name, "cam");
	ck_assert_uint_eq(info.write, 1);
	ck_assert_uint_eq(info.cnt0, 2);
	ck_assert_int_gt(info.owner_pid, 0);
	ck_assert_int_eq(info.owner_alive, SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_isio_inspect_slot(s, 0, &slot), 0);
	ck_assert_int_gt(slot.reader, 0);
	ck_assert_int_eq(slot.reader_alive, SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_isio_inspect_slot(s, 10, &slot), -ERANGE);
	/* A dry run says what it would do and changes nothing. */
	snprintf(copy, sizeof(copy), "%s.before", path);
	snprintf(log, sizeof(log), "cp '%s' '%s'", path, copy);
	ck_assert_int_eq(system(log), 0);
	log[0] = 0;
	struct shmg_recover_opts dry = o;
	dry.flags = SHMG_RECOVER_DRY_RUN;
	ck_assert_int_eq(shmg_isio_recover(s, &dry), SHMG_RECOVERED);
	ck_assert_ptr_nonnull(strstr(log, "2 would publish frame 3 (a copy of complete frame 2) over dead writer PID"));
	ck_assert_ptr_nonnull(strstr(log, "2 would free semaphore slot 0 of dead reader PID"));
	ck_assert(same_file(path, copy));
	/* The partial frame is replaced by a copy of the last complete one. */
	log[0] = 0;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_ptr_nonnull(strstr(log, "publish frame 3 (a copy of complete frame 2) over dead writer PID"));
	ck_assert_ptr_nonnull(strstr(log, "free semaphore slot 0 of dead reader PID"));
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.write, 0);
	ck_assert_uint_eq(info.cnt0, 3);
	ck_assert_int_eq(info.owner_pid, 0);
	ck_assert_int_eq(FIELD(s, layout_of(s).off_semreadpid, int32_t), -1);
	ck_assert_int_eq(shmg_isio_read(s, g, sizeof(g), &snap, NULL), 0);
	ck_assert_uint_eq(snap.frame, 3);
	check_frame(g, 64 * 32, 2);
	check_frame(shmg_isio_data(s), 64 * 32, 2);
	ck_assert_int_eq(shmg_isio_recover(s, &o), 0); /* nothing left */
	shmg_isio_close(s);
	/* Read-only: only a dry run. */
	ck_assert_int_eq(shmg_isio_open(&s, path, SHMG_REGION_RDONLY), 0);
	ck_assert_int_eq(shmg_isio_recover(s, NULL), -EROFS);
	ck_assert_int_eq(shmg_isio_recover(s, &dry), 0);
	shmg_isio_close(s);
}
END_TEST

/* Without a circular buffer the last complete frame is gone: the partial
 * one is left (nothing changed) unless an all-zero frame is asked for. */
START_TEST(recover_without_circular_buffer)
{
	struct shmg_isio *s;
	struct shmg_isio_info info = {.size = sizeof(info)};
	char log[2048] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};

	ck_assert_int_eq(shmg_isio_create(&s, path, &cam, 0, 0), 0);
	leave_dead_writer_and_reader(path, 2);
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_EWRITERDEAD);
	ck_assert_ptr_nonnull(strstr(log, "left a partial frame, and there is no complete frame"));
	/* (the dead reader's slot was freed: an independent step) */
	ck_assert_int_eq(FIELD(s, layout_of(s).off_semreadpid, int32_t), -1);
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.write, 1);
	ck_assert_uint_eq(info.cnt0, 2);
	o.flags = SHMG_RECOVER_BLANK;
	log[0] = 0;
	ck_assert_int_eq(shmg_isio_recover(s, &o), SHMG_RECOVERED);
	ck_assert_ptr_nonnull(strstr(log, "publish frame 3, all zeros, over dead writer PID"));
	ck_assert_int_eq(shmg_isio_inspect(s, &info), 0);
	ck_assert_uint_eq(info.write, 0);
	ck_assert_uint_eq(info.cnt0, 3);
	const unsigned char *d = shmg_isio_data(s);
	for (size_t i = 0; i < 64 * 32 * 2; i++)
		ck_assert_uint_eq(d[i], 0);
	shmg_isio_close(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("isio");
	TCase *tc = tcase_create("isio");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, layout_matches_measured_example);
	tcase_add_test(tc, create_writes_every_field);
	tcase_add_test(tc, path_rules);
	tcase_add_test(tc, open_validates);
	tcase_add_test(tc, open_over_2gib);
	tcase_add_test(tc, frames_single_buffer);
	tcase_add_test(tc, frames_through_the_latch);
	tcase_add_test(tc, cube_slices);
	tcase_add_test(tc, cnt0_at_max_refused);
	tcase_add_test(tc, sem_wait_deadline_and_posts);
	suite_add_tcase(su, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers");
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_set_timeout(pc, 30);
	tcase_add_test(pc, sem_slots_claimed_by_cas);
	tcase_add_test(pc, dead_writer_then_takeover);
	tcase_add_test(pc, inspect_and_recover);
	tcase_add_test(pc, recover_without_circular_buffer);
	suite_add_tcase(su, pc);
	return tu_run_suite(su);
}
