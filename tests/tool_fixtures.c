/*
 * tool-fixtures DIR: the files tests/tool.sh runs shmguard on. Healthy
 * segments of each kind, segments that dead processes left behind (made by
 * real processes that then exit), and damaged or hostile files.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

static const char *dir;

static const char *at(const char *name)
{
	static char path[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static void check(int err, const char *what)
{
	if (err < 0) {
		fprintf(stderr, "tool-fixtures: %s: %s\n", what, shmg_error_detail(err));
		exit(1);
	}
}

/* Run fn in a child that exits without cleaning up, as a crash would. */
static void in_dead_process(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void stream(const char *name, uint32_t cbsize)
{
	struct shmg_isio *s;
	struct shmg_isio_params p = {.size = sizeof(p), .name = "fixture", .naxis = 2,
				     .dims = {64, 32}, .datatype = SHMG_ISIO_UINT16, .nsem = 4,
				     .cbsize = cbsize};
	check(shmg_isio_create(&s, at(name), &p, 0600, 0), name);
	shmg_isio_close(s);
}

/* A writer that claims, publishes 3 frames, and dies mid-frame 4 (or
 * between frames). */
static void writer_dies(void *arg)
{
	const char *path = arg;
	struct shmg_isio *s;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	check(shmg_isio_open(&s, path, 0), path);
	check(shmg_isio_claim(s), "claim");
	check(shmg_isio_get_layout(s, &l), "layout");
	size_t len = l.data_size;
	unsigned char *frame = malloc(len);
	for (int n = 1; n <= 3; n++) {
		memset(frame, n, len);
		check(shmg_isio_write(s, frame, len, NULL), "write");
	}
	if (strstr(path, "midframe")) {
		memset(frame, 4, len);
		memcpy(shmg_isio_begin(s), frame, len / 2);
	}
	_exit(0);
}

static void reader_dies(void *arg)
{
	struct shmg_isio *s;
	check(shmg_isio_open(&s, arg, 0), arg);
	check(shmg_isio_sem_claim(s, NULL), "sem_claim");
	_exit(0);
}

/* A reader that pins the newest copy and dies (its sem_claim takes over
 * the slot of the dead reader before it). */
static void pinning_reader_dies(void *arg)
{
	struct shmg_isio *s;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	check(shmg_isio_open(&s, arg, 0), arg);
	check(shmg_isio_sem_claim(s, NULL), "sem_claim");
	check(shmg_isio_pin(s, &pin), "pin");
	_exit(0);
}

static void pinfo_holder_dies(void *arg)
{
	struct shmg_pinfo *p;
	struct shmg_xlock l;
	check(shmg_pinfo_open(&p, arg, 0), arg);
	check(shmg_pinfo_status_lock(p, &l), "status lock");
	check(shmg_xlock_lock(&l), "pinfo lock");
	_exit(0);
}

static void fps_holder_dies(void *arg)
{
	struct shmg_fps *f;
	struct shmg_xlock l;
	check(shmg_fps_open(&f, arg, 0, NULL), arg);
	check(shmg_fps_param_lock(f, 2, &l), "param lock");
	check(shmg_xlock_lock(&l), "fps lock");
	_exit(0);
}

static void generic_holder_dies(void *arg)
{
	struct shmg_region *r;
	struct shmg_xlock l;
	check(shmg_region_open(&r, arg, 0), arg);
	check(shmg_xlock_init(&l, r, 64, 8), "xlock_init");
	check(shmg_xlock_lock(&l), "generic lock");
	/* a dead writer's record, with the write flag clear */
	unsigned char *b = shmg_region_base(r);
	shmg_atomic_store((int32_t *)(void *)(b + 16), (int32_t)getpid(), relaxed);
	_exit(0);
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || close(fd) != 0) {
		perror(name);
		exit(1);
	}
}

static void copy_file(const char *from, const char *to, size_t len)
{
	struct shmg_region *r;
	check(shmg_region_open(&r, at(from), SHMG_REGION_RDONLY), from);
	write_file(to, shmg_region_base(r), len ? len : shmg_region_size(r));
	shmg_region_close(r);
}

/* Overwrite len bytes at off of an existing file. */
static void poke(const char *name, size_t off, const void *data, size_t len)
{
	int fd = open(at(name), O_WRONLY | O_NOFOLLOW);
	if (fd < 0 || pwrite(fd, data, len, (off_t)off) != (ssize_t)len || close(fd) != 0) {
		perror(name);
		exit(1);
	}
}

/* ---- tool-fixtures --json FILE: is FILE one well-formed JSON value? */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !strchr("\"\\/bfnrtu", *++p))
			return NULL;
	}
	return p + 1;
}

static const char *json_list(const char *p, char close, bool keyed, int depth)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keyed) {
			if (!(p = json_string(json_ws(p))) || *(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		if (!(p = json_value(p, depth + 1)))
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	char *end;
	p = json_ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{')
		return json_list(p, '}', true, depth);
	if (*p == '[')
		return json_list(p, ']', false, depth);
	if (*p == '"')
		return json_string(p);
	for (const char *w = "true\0false\0null\0"; *w; w += strlen(w) + 1)
		if (strncmp(p, w, strlen(w)) == 0)
			return p + strlen(w);
	strtod(p, &end);
	return end == p ? NULL : end;
}

static int check_json(const char *path)
{
	static char buf[1 << 20];
	FILE *in = fopen(path, "r");
	size_t n = in ? fread(buf, 1, sizeof(buf) - 1, in) : 0;
	if (in)
		fclose(in);
	buf[n] = 0;
	const char *end = n ? json_value(buf, 0) : NULL;
	if (!end || *json_ws(end)) {
		fprintf(stderr, "not well-formed JSON near byte %ld\n", end ? (long)(end - buf) : -1L);
		return 1;
	}
	return 0;
}

/* ---- tool-fixtures --frame FILE: "cnt0 write uniform-byte-or--1" */
static int show_frame(const char *path)
{
	struct shmg_isio *s;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	struct shmg_isio_info info = {.size = sizeof(info)};
	check(shmg_isio_open(&s, path, SHMG_REGION_RDONLY), path);
	check(shmg_isio_get_layout(s, &l), "layout");
	check(shmg_isio_inspect(s, &info), "inspect");
	const unsigned char *d = shmg_isio_data(s);
	int uniform = d[0];
	for (size_t i = 1; i < l.data_size; i++)
		if (d[i] != d[0])
			uniform = -1;
	printf("%llu %u %d\n", (unsigned long long)info.cnt0, info.write, uniform);
	shmg_isio_close(s);
	return 0;
}

/* ---- tool-fixtures --hold[-unmapped] FILE: take a PINFO file's status
 * lock, (unmap the file,) say "held" and stay alive holding it until
 * killed: a stuck process, or (unmapped) what a planted word looks like. */
static int hold(const char *path, bool unmap)
{
	struct shmg_pinfo *p;
	struct shmg_xlock l;
	check(shmg_pinfo_open(&p, path, 0), path);
	check(shmg_pinfo_status_lock(p, &l), "lock");
	check(shmg_xlock_lock(&l), "lock");
	if (unmap)
		shmg_pinfo_close(p); /* the lock word stays, naming this thread */
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* A loop that ran: a semaphore trigger on loopin.im.shm, one timeout, a
 * wait that missed 2 frames, 5 iterations 1 s apart that took 250 us
 * each (fixed times), then a pause command. */
static void loop_ran(void)
{
	struct shmg_isio *s;
	struct shmg_isio_params ip = {.size = sizeof(ip), .name = "loopin", .naxis = 2,
				      .dims = {8, 8}, .datatype = SHMG_ISIO_UINT16};
	check(shmg_isio_create(&s, at("loopin.im.shm"), &ip, 0600, 0), "loopin");
	check(shmg_isio_claim(s), "claim loopin");
	struct shmg_pinfo *p;
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = SHMG_PINFO_SIZE_2024,
				       .name = "looper", .pid = getpid()};
	check(shmg_pinfo_create(&p, at("loop.pinfo.shm"), &pp, 0600, 0), "loop pinfo");
	struct shmg_loop *l;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = SHMG_LOOP_SEMAPHORE, .pinfo = p,
				      .input = s, .timeout_ns = 1000000, .loopcnt_max = 100};
	check(shmg_loop_new(&l, &lp), "loop");
	struct shmg_loop_trigger t = {.size = sizeof(t)};
	if (shmg_loop_wait(l, &t, NULL) != -ETIMEDOUT)
		check(-EPROTO, "the loop's timeout");
	static const uint16_t frame[64];
	for (int i = 0; i < 3; i++)
		check(shmg_isio_write(s, frame, sizeof(frame), NULL), "frame");
	check(shmg_loop_wait(l, &t, NULL), "loop wait");
	for (int k = 0; k < 5; k++) {
		struct timespec a = {10 + k, 0}, b = {10 + k, 250000};
		shmg_loop_exec_start(l, &a);
		shmg_loop_exec_end(l, &b);
	}
	check(shmg_pinfo_command(p, SHMG_PINFO_PAUSE, NULL), "pause");
	shmg_loop_free(l); /* loopstat: stopped */
	shmg_pinfo_close(p);
	shmg_isio_close(s);
}

/* A stream whose copy 1 a dead reader pinned on frame 1, twelve frames
 * ago, by a writer that then stopped (claim released). */
static void old_pin(const char *name)
{
	struct shmg_isio *s;
	uint16_t frame[64 * 32] = {0};
	stream(name, 4);
	check(shmg_isio_open(&s, at(name), 0), name);
	check(shmg_isio_claim(s), "claim");
	check(shmg_isio_write(s, frame, sizeof(frame), NULL), "frame 1");
	in_dead_process(pinning_reader_dies, (void *)at(name));
	for (int f = 0; f < 12; f++)
		check(shmg_isio_write(s, frame, sizeof(frame), NULL), "frames 2-13");
	check(shmg_isio_release(s), "release");
	shmg_isio_close(s);
}

/* ImageStreamIO's own reader takes over the slot holding a pin: its PID in
 * semReadPID, semstatus as it was (tests/tool.sh gives a live PID). */
static int adopt(const char *path, const char *pid)
{
	struct shmg_isio *s;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	check(shmg_isio_open(&s, path, 0), path);
	check(shmg_isio_get_layout(s, &l), "layout");
	unsigned char *base = shmg_region_base(shmg_isio_region(s));
	for (unsigned k = 0; k < l.nsem; k++) {
		uint32_t st;
		memcpy(&st, base + l.off_semstatus + 4 * k, 4);
		if (st >> 4) {
			int32_t v = (int32_t)atoi(pid);
			memcpy(base + l.off_semreadpid + 4 * k, &v, 4);
		}
	}
	shmg_isio_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--adopt") == 0)
		return adopt(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "--json") == 0)
		return check_json(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--hold") == 0)
		return hold(argv[2], false);
	if (argc == 3 && strcmp(argv[1], "--hold-unmapped") == 0)
		return hold(argv[2], true);
	if (argc == 3 && strcmp(argv[1], "--frame") == 0)
		return show_frame(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: tool-fixtures DIR | --json FILE | --frame FILE | "
			"--hold[-unmapped] FILE\n");
		return 2;
	}
	dir = argv[1];

	/* Healthy segments. */
	stream("healthy.im.shm", 4);
	struct shmg_pinfo *p;
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = SHMG_PINFO_SIZE_NEW,
				       .name = "loop", .pid = getpid()};
	check(shmg_pinfo_create(&p, at("healthy.pinfo.shm"), &pp, 0600, 0), "pinfo");
	check(shmg_pinfo_set_status(p, 7, "converging", NULL), "status");
	shmg_pinfo_close(p);
	loop_ran();
	struct shmg_fps *f;
	struct shmg_fps_params fp = {.size = sizeof(fp), .layout = SHMG_FPS_2024, .nparam = 8,
				     .name = "healthy"};
	check(shmg_fps_create(&f, at("healthy.fps.shm"), &fp, 0600, 0), "fps");
	check(shmg_fps_set_int64(f, 1, 42, NULL), "fps set");
	shmg_fps_close(f);
	struct shmg_region *r;
	check(shmg_region_create(&r, at("generic.shm"), 4096, 0600, 0, NULL, NULL), "generic");
	shmg_region_close(r);

	/* What dead processes leave. */
	stream("deadwriter-midframe.im.shm", 4);
	in_dead_process(writer_dies, (void *)at("deadwriter-midframe.im.shm"));
	stream("deadwriter-midframe-nocb.im.shm", 0);
	in_dead_process(writer_dies, (void *)at("deadwriter-midframe-nocb.im.shm"));
	stream("deadwriter-idle.im.shm", 4);
	in_dead_process(writer_dies, (void *)at("deadwriter-idle.im.shm"));
	in_dead_process(reader_dies, (void *)at("deadwriter-idle.im.shm"));
	in_dead_process(pinning_reader_dies, (void *)at("deadwriter-idle.im.shm"));
	old_pin("oldpin.im.shm");
	copy_file("healthy.pinfo.shm", "deadholder.pinfo.shm", 0);
	in_dead_process(pinfo_holder_dies, (void *)at("deadholder.pinfo.shm"));
	copy_file("healthy.fps.shm", "deadholder.fps.shm", 0);
	in_dead_process(fps_holder_dies, (void *)at("deadholder.fps.shm"));
	copy_file("generic.shm", "deadholder.generic.shm", 0);
	in_dead_process(generic_holder_dies, (void *)at("deadholder.generic.shm"));

	/* Damaged and hostile files. */
	copy_file("healthy.im.shm", "truncated.im.shm", 1000);
	copy_file("healthy.im.shm", "oldversion.im.shm", 0);
	poke("oldversion.im.shm", 0, "1.04\0", 5);
	copy_file("healthy.im.shm", "badnaxis.im.shm", 0);
	poke("badnaxis.im.shm", 112, "\x09", 1);
	copy_file("healthy.im.shm", "legacy-stuck.im.shm", 0); /* an unguarded writer died */
	poke("legacy-stuck.im.shm", 288, "\x01", 1);
	copy_file("healthy.im.shm", "garbage-owner.im.shm", 0);
	poke("garbage-owner.im.shm", 220, "\xfb\xff\xff\xff", 4); /* ownerPID -5 */
	copy_file("healthy.pinfo.shm", "garbage.pinfo.shm", 0);
	poke("garbage.pinfo.shm", 836, "\x00\x00\x00\xde", 4); /* id 0, start bits set */
	copy_file("healthy.fps.shm", "garbage.fps.shm", 0);
	const unsigned char word[8] = {0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde};
	poke("garbage.fps.shm", SHMG_FPS_HEADER_2024 + 3 * SHMG_FPS_RECORD_2024 + 8, word, 8);
	const unsigned char poisoned[8] = {0, 0, 0, 0x40, 0, 0, 0, 0}; /* INCONSISTENT, id 0 */
	poke("garbage.fps.shm", SHMG_FPS_HEADER_2024 + 5 * SHMG_FPS_RECORD_2024 + 8, poisoned, 8);
	write_file("empty.shm", "", 0);
	unsigned char *noise = malloc(100000);
	for (size_t i = 0; i < 100000; i++)
		noise[i] = (unsigned char)(i * 2654435761u >> 13);
	write_file("noise.shm", noise, 100000);
	write_file("noise.pinfo.shm", noise, SHMG_PINFO_SIZE_2024);
	free(noise);
	/* 443 records of the 2024 layout = 440 of the newer one, and an
	 * NBparamMAX that tells neither (zero). */
	size_t both = SHMG_FPS_HEADER_2024 + 443u * SHMG_FPS_RECORD_2024;
	unsigned char *zero = calloc(1, both);
	write_file("ambiguous.fps.shm", zero, both);
	free(zero);
	if (symlink("healthy.im.shm", at("link.im.shm")) != 0 || mkdir(at("adir"), 0700) != 0) {
		perror("symlink/mkdir");
		return 1;
	}
	return 0;
}
