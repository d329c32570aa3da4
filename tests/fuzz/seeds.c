/*
 * fuzz-seeds DIR: write the seed corpora of the fuzz harnesses into
 * DIR/<harness>/ (make fuzz-seeds: DIR is tests/fuzz/corpus). Small valid
 * files of each kind made with the library's own create calls, states
 * that a process leaves behind (a writer mid-frame, a lock held: this
 * process exits with them), and a few damaged copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmguard.h>

/* Parameter record offsets (doc/milk.md): the keyword after the lock. */
#define FPS_RECORD_KEYWORD_FROM_LOCK 8

static const char *top;

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz-seeds: %s: %s\n", what, err < 0 ? shmg_error_detail(err) : "failed");
	exit(1);
}

static const char *at(const char *harness, const char *name)
{
	static char path[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", top, harness);
	if (mkdir(path[k], 0755) != 0 && errno != EEXIST)
		die(path[k], -errno);
	snprintf(path[k], sizeof(path[k]), "%s/%s/%s", top, harness, name);
	return path[k];
}

static void put(const char *harness, const char *name, const void *data, size_t len)
{
	const char *path = at(harness, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path, -EIO);
}

/* A copy of a region's bytes under another name, changed by `edit`. */
static void variant(const struct shmg_region *r, const char *harness, const char *name,
		    size_t keep, void (*edit)(unsigned char *b, size_t n, size_t arg), size_t arg)
{
	size_t n = shmg_region_size(r);
	unsigned char *b = malloc(n);
	if (!b)
		die("out of memory", -ENOMEM);
	memcpy(b, shmg_region_base(r), n);
	if (edit)
		edit(b, n, arg);
	put(harness, name, b, keep && keep < n ? keep : n);
	free(b);
}

static void poke_byte(unsigned char *b, size_t n, size_t arg)
{
	/* arg: offset << 8 | value */
	if ((arg >> 8) < n)
		b[arg >> 8] = (unsigned char)arg;
}

static void poke_ff(unsigned char *b, size_t n, size_t off)
{
	for (size_t i = off; i < off + 8 && i < n; i++)
		b[i] = 0xff;
}

/* The same file for the tool's harness. */
static void both(const char *harness, const char *name)
{
	const char *from = at(harness, name);
	FILE *f = fopen(from, "rb");
	if (!f)
		die(from, -errno);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	unsigned char *b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die(from, -EIO);
	fclose(f);
	put("fuzz_inspect", name, b, (size_t)n);
	free(b);
}

/* ---------------------------------------------------------------- streams */

static void stream(const char *name, uint8_t naxis, uint8_t type, uint32_t d0, uint32_t d1,
		   uint32_t d2, uint16_t nsem, uint32_t cbsize, uint64_t imagetype,
		   int state)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .naxis = naxis, .datatype = type, .nsem = nsem,
		.dims = {d0, d1, d2}, .nkw = 1, .cbsize = cbsize, .imagetype = imagetype,
		.name = "seed",
	};
	struct shmg_isio *s;
	int err = shmg_isio_create(&s, at("fuzz_isio", name), &p, 0600, SHMG_REGION_REPLACE);
	if (err)
		die(name, err);
	struct shmg_isio_layout l = {.size = sizeof(l)};
	shmg_isio_get_layout(s, &l);
	if (state >= 1) {
		/* A guarded writer that wrote two frames, then (state 2) died
		 * mid-frame: this process exits with the flag set. */
		unsigned char *frame = calloc(1, l.data_size);
		if (!frame || (err = shmg_isio_claim(s)) < 0)
			die(name, err);
		for (int k = 0; k < 2; k++) {
			memset(frame, 0x11 * (k + 1), l.data_size);
			if ((err = shmg_isio_write(s, frame, l.data_size, NULL)) != 0)
				die(name, err);
		}
		free(frame);
		int slot;
		if ((err = shmg_isio_sem_claim(s, &slot)) != 0)
			die(name, err);
		if (state == 2 && !shmg_isio_begin(s))
			die(name, -EINVAL);
	}
	const struct shmg_region *r = shmg_isio_region(s);
	if (state == 0 && cbsize == 0) {
		char damaged[64];
		snprintf(damaged, sizeof(damaged), "%s-truncated", name);
		variant(r, "fuzz_isio", damaged, l.file_size - 8, NULL, 0);
		snprintf(damaged, sizeof(damaged), "%s-version", name);
		variant(r, "fuzz_isio", damaged, 0, poke_byte, 0 << 8 | '3');
		snprintf(damaged, sizeof(damaged), "%s-huge-dims", name);
		variant(r, "fuzz_isio", damaged, 0, poke_ff, 192);
	}
	both("fuzz_isio", name);
	shmg_isio_close(s);
}

static void layout_seed(const char *name, uint8_t naxis, uint8_t type, uint16_t nsem,
			uint32_t d0, uint32_t d1, uint32_t d2, uint16_t nkw, uint32_t cbsize,
			uint64_t imagetype)
{
	/* fuzz_isio_layout's input: the parameters, little-endian, then the name. */
	unsigned char b[64];
	size_t n = 0;
	uint64_t fields[][2] = {
		{naxis, 1}, {type, 1}, {nsem, 2}, {d0, 4}, {d1, 4}, {d2, 4}, {nkw, 2},
		{cbsize, 4}, {imagetype, 8},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		for (uint64_t k = 0; k < fields[i][1]; k++)
			b[n++] = (unsigned char)(fields[i][0] >> (8 * k));
	memcpy(b + n, "seed", 4);
	put("fuzz_isio_layout", name, b, n + 4);
}

/* ---------------------------------------------------------------- milk */

static void pinfo(const char *name, uint32_t size, int state)
{
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = size, .name = "seed",
				       .pid = getpid()};
	struct shmg_pinfo *p;
	int err = shmg_pinfo_create(&p, at("fuzz_pinfo", name), &pp, 0600, SHMG_REGION_REPLACE);
	if (err)
		die(name, err);
	shmg_pinfo_heartbeat(p);
	if ((err = shmg_pinfo_set_status(p, 7, "seeded", NULL)) != 0)
		die(name, err);
	if (state == 1) {
		/* The status lock held by this process, which exits. */
		struct shmg_xlock l;
		if ((err = shmg_pinfo_status_lock(p, &l)) != 0 || (err = shmg_xlock_lock(&l)) != 0)
			die(name, err);
	}
	const struct shmg_region *r = shmg_pinfo_region(p);
	if (state == 0) {
		char damaged[64];
		snprintf(damaged, sizeof(damaged), "%s-garbage-lock", name);
		variant(r, "fuzz_pinfo", damaged, 0, poke_ff, 836);
		snprintf(damaged, sizeof(damaged), "%s-unterminated", name);
		variant(r, "fuzz_pinfo", damaged, 0, poke_ff, 0);
	}
	both("fuzz_pinfo", name);
	shmg_pinfo_close(p);
}

static void fps(const char *name, uint32_t layout, uint32_t nparam, int state)
{
	struct shmg_fps_params fp = {.size = sizeof(fp), .layout = layout, .nparam = nparam,
				     .name = "seed"};
	struct shmg_fps *f;
	int err = shmg_fps_create(&f, at("fuzz_fps", name), &fp, 0600, SHMG_REGION_REPLACE);
	if (err)
		die(name, err);
	const struct shmg_region *r = shmg_fps_region(f);
	for (unsigned i = 0; i < nparam; i++) {
		struct shmg_fps_param_info pi = {.size = sizeof(pi)};
		if ((err = shmg_fps_inspect_param(f, i, &pi)) != 0)
			die(name, err);
		char *kw = (char *)shmg_region_base(r) + pi.lock_offset + FPS_RECORD_KEYWORD_FROM_LOCK;
		snprintf(kw, 64, ".conf.p%u", i);
		if ((err = shmg_fps_set_int64(f, i, 40 + i, NULL)) != 0)
			die(name, err);
	}
	if (state == 1) {
		/* The last parameter's lock held by this process, which exits. */
		struct shmg_xlock l;
		if ((err = shmg_fps_param_lock(f, nparam - 1, &l)) != 0 ||
		    (err = shmg_xlock_lock(&l)) != 0)
			die(name, err);
	}
	both("fuzz_fps", name);
	shmg_fps_close(f);
}

/* ---------------------------------------------------------------- regions */

static void region_seed(const char *name, const uint64_t *fields, size_t nfields,
			const unsigned char *file, size_t len)
{
	/* fuzz_region's input: a 112-byte header of little-endian fields
	 * (parts:1, mark, counter, waiters, owner:8, copies:4, index, seq,
	 * seq_stride, data, data_len:8, xlock offset:4, width:1, span
	 * offset:8, span length:2, npins:1, pins, pin_owners:4,
	 * pin_stride:1), then the file. */
	static const unsigned widths[] = {1, 8, 8, 8, 8, 4, 8, 8, 8, 8, 8, 4, 1, 8, 2, 1, 4, 4, 1};
	unsigned char b[112 + 1024] = {0};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		for (unsigned k = 0; k < widths[i]; k++, n++)
			b[n] = (unsigned char)((i < nfields ? fields[i] : 0) >> (8 * k));
	memcpy(b + 112, file, len);
	put("fuzz_region", name, b, 112 + len);
}

static void regions(void)
{
	unsigned char file[512] = {0};
	/* mark 0 (waiters 1, owner 4), counter 8, a lock at 16 (width 8),
	 * a span of 64 bytes at 64. */
	uint64_t simple[] = {3, 0, 8, 1, 4, 0, 0, 0, 0, 0, 0, 16, 8, 64, 64};
	file[8] = 5; /* counter 5 */
	region_seed("simple", simple, 15, file, 128);
	/* A latch: 2 copies of 64 bytes at 256, index at 24, sequence words
	 * at 32 and 40. */
	uint64_t latch[] = {2, 0, 8, 0, 4, 2, 24, 32, 8, 256, 64, 16, 4, 256, 64};
	file[32] = 4, file[40] = 5, file[24] = 1;
	region_seed("latch", latch, 15, file, 512);
	/* The latch with 2 pin slots (pin words at 64 and 72, owners at 68
	 * and 76): slot 0 pins copy 0 (bits 0-3 set, as ImageStreamIO's
	 * semstatus may have them) for an owner that cannot exist, slot 1
	 * pins copy 1 for PID 1. */
	uint64_t pinned[] = {2, 0, 8, 0, 4, 2, 24, 32, 8, 256, 64, 16, 4, 256, 64, 2, 64, 68, 8};
	unsigned char pins[512];
	memcpy(pins, file, sizeof(pins));
	pins[64] = 0x13, pins[68] = 0xff, pins[69] = 0xff, pins[70] = 0xff, pins[71] = 0x7f;
	pins[72] = 0x20, pins[76] = 1;
	region_seed("latch-pinned", pinned, 19, pins, 512);
	/* The write flag set, an owner that is garbage (negative). */
	unsigned char busy[128] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	region_seed("busy", simple, 15, busy, 128);
	/* A lock word held by a TID that is not there. */
	unsigned char held[128] = {0};
	held[16] = 0x01, held[17] = 0x00, held[18] = 0x40;
	region_seed("held", simple, 15, held, 128);

	/* The tool's generic view uses --wflag 0,8,16 --wflag 64,72
	 * --xlock 24 --xlock 32,4 --xlock 40,8. */
	unsigned char generic[256] = {0};
	generic[8] = 3, generic[72] = 9;
	put("fuzz_inspect", "generic", generic, sizeof(generic));
	generic[0] = 1, generic[16] = 0x7f, generic[40] = 0xff;
	put("fuzz_inspect", "generic-busy", generic, sizeof(generic));
}

/* ---------------------------------------------------------------- argv */

static void argv_seed(const char *name, const char *const *args)
{
	char b[512];
	size_t n = 0;
	for (; *args; args++) {
		size_t k = strlen(*args) + 1;
		memcpy(b + n, *args, k);
		n += k;
	}
	put("fuzz_options", name, b, n ? n - 1 : 0);
}

static void options(void)
{
	argv_seed("inspect", (const char *const[]){"--json", "--interval", "200ms", "a.shm", NULL});
	argv_seed("generic", (const char *const[]){"--wflag", "0,8,16", "--xlock", "24,4", "--xlock",
						   "0x20", "--follow", "--", "-x", NULL});
	argv_seed("recover", (const char *const[]){"-n", "--fps-layout", "new", "--count", "12",
						   "--name", "x", "p", NULL});
	argv_seed("bad", (const char *const[]){"--interval", "1.5s", "-c", "0x10", "-i", "-1",
					       "--wflag", "1,", NULL});
	argv_seed("help", (const char *const[]){"-i", "100us", "--help", NULL});
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	top = argv[1];
	if (mkdir(top, 0755) != 0 && errno != EEXIST)
		die(top, -errno);

	stream("image-u8", 2, SHMG_ISIO_UINT8, 4, 4, 0, 2, 0, 0, 0);
	stream("vector-float", 1, SHMG_ISIO_FLOAT, 8, 0, 0, 1, 0, 0, 1);
	stream("cube-cb", 3, SHMG_ISIO_INT16, 2, 2, 3, 2, 2,
	       SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL, 1);
	stream("cb-dead-writer", 2, SHMG_ISIO_UINT16, 2, 3, 0, 1, 3, SHMG_ISIO_CIRCULAR_BUFFER, 2);
	stream("dead-writer", 1, SHMG_ISIO_COMPLEX_DOUBLE, 2, 0, 0, 1, 0, 0, 2);

	layout_seed("image", 2, SHMG_ISIO_UINT8, 2, 4, 4, 0, 1, 0, 0);
	layout_seed("cube", 3, SHMG_ISIO_DOUBLE, 10, 16, 16, 8, 4, 4, SHMG_ISIO_CIRCULAR_BUFFER);
	layout_seed("huge", 3, SHMG_ISIO_COMPLEX_DOUBLE, 65535, 0xffffffff, 0xffffffff, 2, 65535,
		    0xffffffff, 0);

	pinfo("pinfo-2024", SHMG_PINFO_SIZE_2024, 0);
	pinfo("pinfo-new", SHMG_PINFO_SIZE_NEW, 0);
	pinfo("pinfo-held", SHMG_PINFO_SIZE_NEW, 1);

	fps("fps-2024", SHMG_FPS_2024, 1, 0);
	fps("fps-new-held", SHMG_FPS_NEW, 2, 1);

	regions();
	options();
	return 0;
}
