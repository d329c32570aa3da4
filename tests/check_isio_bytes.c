/*
 * check_isio_bytes: a stream shmguard creates is, byte for byte, the file
 * ImageStreamIO creates for the same parameters (doc/imagestreamio.md,
 * "Creating", and its list of deliberate differences). The reference is a
 * byte map built here from what ImageStreamIO writes at creation: every
 * byte 0 except the fields it sets; the fields that hold times are masked
 * (their clock is checked instead), the creator's PID and the inode are
 * compared with this process's and the file's. The parts' offsets come from
 * the layout, which check_isio compares with a measured file.
 * Shapes: 1 to 3 axes, cubes (a temporal circular buffer among them),
 * circular buffers of 0 to 4 copies, keywords, 1 to 10 semaphores.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <shmguard.h>
#include <shmguard/isio.h>

#include "testutil.h"

/* glibc's sem_t as ImageStreamIO's sem_init(pshared 1, value 0) leaves it:
 * all zero but its private word, 128 (byte 8, little-endian 64-bit). */
#if defined(__GLIBC__) && __SIZEOF_POINTER__ == 8 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KNOWN_SEM 1
#else
#define KNOWN_SEM 0
#endif

static char dir[64], path[128];

static void setup(void)
{
	tu_make_dir(dir, "shmg-bytes");
	snprintf(path, sizeof(path), "%s/s.im.shm", dir);
}

static void teardown(void)
{
	tu_remove_dir(dir);
}

/* The reference: what ImageStreamIO writes, and which bytes to skip. */
struct ref {
	unsigned char *want, *skip;
	size_t size;
};

static void set(struct ref *r, size_t off, const void *v, size_t n)
{
	ck_assert_uint_le(off + n, r->size);
	memcpy(r->want + off, v, n);
}

#define SET(r, off, type, v) do { type v_ = (type)(v); set((r), (off), &v_, sizeof(v_)); } while (0)

static void skip(struct ref *r, size_t off, size_t n)
{
	memset(r->skip + off, 1, n);
}

static void metadata(struct ref *r, const struct shmg_isio_params *p,
		     const struct shmg_isio_layout *l, ino_t inode)
{
	set(r, 0, "2.00", 4);
	set(r, 32, p->name, strlen(p->name));
	SET(r, 112, uint8_t, p->naxis);
	for (unsigned i = 0; i < p->naxis; i++) /* size[i >= naxis] stays 0 */
		SET(r, 116 + 4 * i, uint32_t, p->dims[i]);
	SET(r, 128, uint64_t, l->nelement);
	SET(r, 136, uint8_t, p->datatype);
	SET(r, 144, uint64_t, p->imagetype);
	skip(r, 152, 16); /* creationtime */
	skip(r, 168, 16); /* lastaccesstime */
	SET(r, 216, int32_t, getpid()); /* creatorPID */
	SET(r, 224, uint8_t, 1);        /* shared */
	SET(r, 232, uint64_t, inode);
	SET(r, 240, int8_t, -1);        /* location: CPU */
	SET(r, 258, uint16_t, l->nsem);
	SET(r, 260, uint16_t, l->nproctrace);
	SET(r, 290, uint16_t, p->nkw);
	SET(r, 292, uint32_t, p->cbsize);
	SET(r, 312, uint64_t, l->data_size);
}

static void parts(struct ref *r, const struct shmg_isio_layout *l)
{
	for (unsigned k = 0; k < l->nkw; k++)
		SET(r, l->off_kw + 128 * (size_t)k + 16, char, 'N');
	for (unsigned k = 0; k < l->nsem; k++) {
		if (KNOWN_SEM)
			SET(r, l->off_sem + 32 * (size_t)k + 8, uint32_t, 128);
		else
			skip(r, l->off_sem + 32 * (size_t)k, 32);
		SET(r, l->off_semreadpid + 4 * (size_t)k, int32_t, -1);
		SET(r, l->off_semwritepid + 4 * (size_t)k, int32_t, -1);
	}
	/* The semlog: never initialised, all zero. */
	for (unsigned k = 0; k < l->nproctrace; k++)
		SET(r, l->off_proctrace + 64 * (size_t)k + 48, int32_t, -1);
}

/* The file's clock is ImageStreamIO's, CLOCK_TAI: the creation time lies
 * between two readings of it taken around the creation. */
static void check_time(const unsigned char *b, size_t off, const struct timespec *t0,
		       const struct timespec *t1)
{
	struct timespec t;
	memcpy(&t, b + off, sizeof(t));
	bool after = t.tv_sec > t0->tv_sec || (t.tv_sec == t0->tv_sec && t.tv_nsec >= t0->tv_nsec);
	bool before = t.tv_sec < t1->tv_sec || (t.tv_sec == t1->tv_sec && t.tv_nsec <= t1->tv_nsec);
	ck_assert_msg(after && before, "the time at %zu is not CLOCK_TAI's", off);
}

static void same_as_imagestreamio(const struct shmg_isio_params *p)
{
	struct shmg_isio *s;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	struct timespec t0, t1;
	struct stat st;
	clock_gettime(CLOCK_TAI, &t0);
	ck_assert_int_eq(shmg_isio_create(&s, path, p, 0, 0), 0);
	clock_gettime(CLOCK_TAI, &t1);
	ck_assert_int_eq(shmg_isio_get_layout(s, &l), 0);
	ck_assert_int_eq(fstat(shmg_region_fd(shmg_isio_region(s)), &st), 0);
	const unsigned char *b = shmg_region_base(shmg_isio_region(s));
	struct ref r = {.size = l.file_size};
	r.want = calloc(1, r.size);
	r.skip = calloc(1, r.size);
	ck_assert(r.want && r.skip);
	metadata(&r, p, &l, st.st_ino);
	parts(&r, &l);
	for (size_t i = 0; i < r.size; i++)
		if (!r.skip[i] && b[i] != r.want[i])
			ck_abort_msg("%u axes, cbsize %u, %u semaphores, %u keywords: byte %zu is "
				     "0x%02x, ImageStreamIO writes 0x%02x", p->naxis, p->cbsize,
				     l.nsem, p->nkw, i, b[i], r.want[i]);
	check_time(b, 152, &t0, &t1);
	check_time(b, 168, &t0, &t1);
	struct timespec last, created;
	memcpy(&last, b + 168, sizeof(last));
	memcpy(&created, b + 152, sizeof(created));
	ck_assert(last.tv_sec < created.tv_sec ||
		  (last.tv_sec == created.tv_sec && last.tv_nsec <= created.tv_nsec));
	free(r.want);
	free(r.skip);
	shmg_isio_close(s);
	ck_assert_int_eq(unlink(path), 0);
}

START_TEST(created_files_match_imagestreamio)
{
	static const struct {
		uint8_t naxis;
		uint32_t dims[3];
		uint8_t datatype;
		uint64_t imagetype;
		uint16_t cbsize, nsem, nkw;
	} shapes[] = {
		{1, {100, 0, 0}, SHMG_ISIO_UINT8, 0, 0, 1, 0},
		{2, {64, 32, 0}, SHMG_ISIO_UINT16, 0, 0, 10, 4},
		{2, {7, 5, 0}, SHMG_ISIO_FLOAT, 0, 1, 3, 1},
		{2, {16, 16, 0}, SHMG_ISIO_DOUBLE, 0, 2, 10, 0},
		{2, {33, 9, 0}, SHMG_ISIO_INT32, 0, 3, 5, 2},
		{2, {128, 128, 0}, SHMG_ISIO_COMPLEX_FLOAT, 0, 4, 2, 10},
		{3, {8, 8, 4}, SHMG_ISIO_UINT16, 0, 0, 10, 3},
		{3, {16, 4, 6}, SHMG_ISIO_FLOAT,
		 SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL, 2, 4, 1},
		{3, {5, 5, 5}, SHMG_ISIO_INT64, 0, 4, 1, 0},
	};
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct shmg_isio_params p = {
			.size = sizeof(p), .name = "shape", .naxis = shapes[k].naxis,
			.datatype = shapes[k].datatype, .imagetype = shapes[k].imagetype,
			.cbsize = shapes[k].cbsize, .nsem = shapes[k].nsem, .nkw = shapes[k].nkw,
		};
		memcpy(p.dims, shapes[k].dims, sizeof(p.dims));
		/* A caller's leftovers past naxis must not reach the file. */
		for (unsigned i = p.naxis; i < 3; i++)
			p.dims[i] = 99;
		same_as_imagestreamio(&p);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("isio_bytes");
	TCase *tc = tcase_create("bytes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, created_files_match_imagestreamio);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
