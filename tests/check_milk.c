/*
 * check_milk: milk PINFO and FPS files on fixtures made from the layout
 * facts (no milk install). Recognition and refusals (nothing changed),
 * lock placement, commands never lost, status as one unit, heartbeats,
 * exact counts and flag bits with several processes, the whole-FPS
 * section, and a setter that dies holding a parameter's lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <shmguard.h>
#include <shmguard/milk.h>

#include "testutil.h"
#include "../tools/bench/futex_ban.h"
#include "testing.h" /* failure injection (test build) */

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/shmg-milk.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *at(const char *name)
{
	static char path[4][160];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static void make_file(const char *path, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

/* The bytes of a handle's file. */
#define PB(p) ((unsigned char *)shmg_region_base(shmg_pinfo_region(p)))
#define FB(f) ((unsigned char *)shmg_region_base(shmg_fps_region(f)))

static int pinfo_new(struct shmg_pinfo **p, const char *path, size_t size, const char *name,
		     pid_t pid)
{
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = (uint32_t)size,
				       .name = name, .pid = pid};
	return shmg_pinfo_create(p, path, &pp, 0, 0);
}

static int fps_new(struct shmg_fps **f, const char *path, enum shmg_fps_layout layout,
		   unsigned n)
{
	struct shmg_fps_params fp = {.size = sizeof(fp), .layout = layout, .nparam = n,
				     .name = "test"};
	return shmg_fps_create(f, path, &fp, 0, 0);
}

static struct shmg_fps_info fps_info(const struct shmg_fps *f)
{
	struct shmg_fps_info info = {.size = sizeof(info)};
	ck_assert_int_eq(shmg_fps_inspect(f, &info), 0);
	return info;
}

/* The header's signal word, where each layout keeps it (doc/milk.md). */
static uint64_t *signal_word(const struct shmg_fps *f)
{
	size_t at = fps_info(f).layout == SHMG_FPS_2024 ? 11800 : 20608;
	return (uint64_t *)(void *)(FB(f) + at);
}

START_TEST(pinfo_recognised_by_size)
{
	struct shmg_pinfo *p;
	struct stat st;
	char path[256];

	ck_assert_int_eq(pinfo_new(&p, at("a.shm"), SHMG_PINFO_SIZE_2024, "loop", 42), 0);
	ck_assert_str_eq((char *)PB(p), "loop");
	ck_assert_int_eq(*(int32_t *)(void *)(PB(p) + 484), 42);
	struct shmg_pinfo_info info = {.size = sizeof(info)};
	ck_assert_int_eq(shmg_pinfo_inspect(p, &info), 0);
	ck_assert_uint_eq(info.lock_offset, 836);
	ck_assert_uint_eq(info.file_size, SHMG_PINFO_SIZE_2024);
	ck_assert_str_eq(info.name, "loop");
	ck_assert_int_eq(info.pid, 42);
	struct shmg_xlock l;
	struct shmg_xlock_info li = {.size = sizeof(li)};
	ck_assert_int_eq(shmg_pinfo_status_lock(p, &l), 0);
	ck_assert_int_eq(shmg_xlock_inspect(&l, &li), 0);
	ck_assert_uint_eq(li.width, 4);
	shmg_pinfo_close(p);
	ck_assert_int_eq(stat(at("a.shm"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("a.shm"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(shmg_pinfo_region(p)), SHMG_PINFO_SIZE_2024);
	shmg_pinfo_close(p);
	ck_assert_int_eq(pinfo_new(&p, at("b.shm"), SHMG_PINFO_SIZE_NEW, "loop", 42), 0);
	shmg_pinfo_close(p);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("b.shm"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(shmg_pinfo_region(p)), SHMG_PINFO_SIZE_NEW);
	shmg_pinfo_close(p);
	/* Any other size, a symlink, a missing file: refused, and said why. */
	make_file(at("c.shm"), 4632);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("c.shm"), 0), SHMG_ELAYOUT);
	ck_assert_str_eq(shmg_error_detail(SHMG_ELAYOUT),
			 "4632 bytes: a PINFO file has 4624 (2024 layout) or 4640 (newer layout)");
	ck_assert_int_eq(symlink(at("a.shm"), at("l.shm")), 0);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("l.shm"), 0), -ELOOP);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("none.shm"), 0), -ENOENT);
	ck_assert_int_eq(pinfo_new(&p, at("d.shm"), 4000, "x", 1), -EINVAL);
	/* Paths */
	ck_assert_int_eq(setenv("MILK_PROC_DIR", dir, 1), 0);
	ck_assert_int_eq(shmg_pinfo_path(path, sizeof(path), "loop", 42), 0);
	ck_assert_str_eq(path, at("proc.loop.000042.shm"));
	unsetenv("MILK_PROC_DIR");
	ck_assert_int_eq(shmg_pinfo_path(path, sizeof(path), "a/b", 42), -EINVAL);
}
END_TEST

START_TEST(pinfo_status_and_commands)
{
	struct shmg_pinfo *p;
	char msg[SHMG_PINFO_MSG_MAX], longmsg[300];
	int code, now;

	ck_assert_int_eq(pinfo_new(&p, at("s.shm"), SHMG_PINFO_SIZE_NEW, "loop", 7), 0);
	ck_assert_int_eq(shmg_pinfo_set_status(p, 12, "computing", NULL), 0);
	ck_assert_int_eq(shmg_pinfo_get_status(p, &code, msg, sizeof(msg), NULL), 0);
	ck_assert_int_eq(code, 12);
	ck_assert_str_eq(msg, "computing");
	ck_assert_int_eq(*(int32_t *)(void *)(PB(p) + 828), 12);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	ck_assert_int_eq(shmg_pinfo_set_status(p, 1, longmsg, NULL), 0);
	ck_assert_int_eq(shmg_pinfo_get_status(p, &code, msg, sizeof(msg), NULL), 0);
	ck_assert_uint_eq(strlen(msg), SHMG_PINFO_MSG_MAX - 1);
	ck_assert_uint_eq(PB(p)[628 + 199], 0);
	/* Commands: exit is never replaced; the loop's own step -> pause
	 * transition never overwrites a command it did not expect. */
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL), 0);
	ck_assert_int_eq(shmg_pinfo_ctrl(p), SHMG_PINFO_STEP);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_EXIT, NULL), 0);
	ck_assert_int_eq(shmg_pinfo_transition(p, SHMG_PINFO_STEP, SHMG_PINFO_PAUSE, &now, NULL), -EAGAIN);
	ck_assert_int_eq(now, SHMG_PINFO_EXIT);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_RUN, NULL), -EALREADY);
	ck_assert_int_eq(shmg_pinfo_ctrl(p), SHMG_PINFO_EXIT);
	ck_assert_int_eq(shmg_pinfo_command(p, 9, NULL), -EINVAL);
	ck_assert_int_eq(shmg_pinfo_heartbeat(p), 1);
	ck_assert_int_eq(shmg_pinfo_heartbeat(p), 2);
	ck_assert_int_eq(shmg_pinfo_loopcnt(p), 2);
	/* A loop counter the file says is at its maximum wraps (an atomic
	 * add is two's complement: no undefined behaviour for UBSan). */
	memcpy(PB(p) + 504, &(int64_t){INT64_MAX}, 8);
	ck_assert(shmg_pinfo_heartbeat(p) == INT64_MIN);
	shmg_pinfo_close(p);
}
END_TEST

/* The loop does its own step -> pause transitions as fast as it can while
 * the monitor keeps asking for single steps, then asks for exit: the exit
 * always gets through. Meanwhile status updates are read back whole. */
START_TEST(pinfo_exit_never_lost)
{
	struct shmg_pinfo *p;
	ck_assert_int_eq(pinfo_new(&p, at("x.shm"), SHMG_PINFO_SIZE_2024, "loop", 7), 0);
	for (int round = 0; round < 20; round++) {
		/* a new run: the previous round's exit is cleared by hand */
		*(int32_t *)(void *)(PB(p) + 520) = SHMG_PINFO_RUN;
		pid_t loop = tu_fork();
		if (loop == 0) {
			struct shmg_pinfo *q;
			char msg[SHMG_PINFO_MSG_MAX], want[64];
			int now = 0, code;
			if (shmg_pinfo_open(&q, at("x.shm"), 0) != 0)
				_exit(1);
			for (long i = 0; now != SHMG_PINFO_EXIT; i++) {
				shmg_pinfo_transition(q, SHMG_PINFO_STEP, SHMG_PINFO_PAUSE, &now, NULL);
				shmg_pinfo_heartbeat(q);
				snprintf(want, sizeof(want), "status %ld", i);
				shmg_pinfo_set_status(q, (int)i, want, NULL);
				shmg_pinfo_get_status(q, &code, msg, sizeof(msg), NULL);
				snprintf(want, sizeof(want), "status %d", code);
				if (strcmp(msg, want) != 0)
					_exit(2); /* message of one update, code of another */
				now = shmg_pinfo_ctrl(q);
			}
			_exit(0);
		}
		for (int k = 0; k < 200; k++)
			shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL);
		ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_EXIT, NULL), 0);
		for (int k = 0; k < 50; k++) /* later commands cannot undo it */
			ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_STEP, NULL), -EALREADY);
		tu_wait_ok(loop);
	}
	ck_assert_int_gt(shmg_pinfo_loopcnt(p), 0);
	shmg_pinfo_close(p);
}
END_TEST

START_TEST(fps_recognised_by_size)
{
	struct shmg_fps *f;
	ck_assert_int_eq(fps_new(&f, at("a.fps.shm"), SHMG_FPS_2024, 5), 0);
	ck_assert_uint_eq(fps_info(f).nparam, 5);
	ck_assert_uint_eq(shmg_region_size(shmg_fps_region(f)), 62648 + 5 * 4112);
	shmg_fps_close(f);
	ck_assert_int_eq(shmg_fps_open(&f, at("a.fps.shm"), 0, NULL), 0);
	ck_assert_int_eq(fps_info(f).layout, SHMG_FPS_2024);
	ck_assert_uint_eq(fps_info(f).nparam, 5);
	ck_assert_str_eq(fps_info(f).name, "test");
	/* NBparamMAX is written where the 2024 layout keeps it. */
	ck_assert_int_eq(*(int64_t *)(void *)(FB(f) + 11824), 5);
	shmg_fps_close(f);
	ck_assert_int_eq(fps_new(&f, at("b.fps.shm"), SHMG_FPS_NEW, 3), 0);
	shmg_fps_close(f);
	ck_assert_int_eq(shmg_fps_open(&f, at("b.fps.shm"), 0, NULL), 0);
	ck_assert_int_eq(fps_info(f).layout, SHMG_FPS_NEW);
	ck_assert_uint_eq(fps_info(f).nparam, 3);
	ck_assert_int_eq(*(int64_t *)(void *)(FB(f) + 20640), 3);
	struct shmg_fps_param_info pi = {.size = sizeof(pi)};
	ck_assert_int_eq(shmg_fps_inspect_param(f, 2, &pi), 0);
	ck_assert_uint_eq(pi.lock_offset, 71464 + 2 * 4120 + 8); /* userflag */
	struct shmg_xlock l;
	ck_assert_int_eq(shmg_fps_param_lock(f, 2, &l), 0);
	ck_assert_int_eq(shmg_fps_param_lock(f, 3, &l), -ERANGE);
	ck_assert_int_eq(shmg_fps_inspect_param(f, 3, &pi), -ERANGE);
	shmg_fps_close(f);
	/* Sizes that fit neither layout, or only the header. */
	make_file(at("c.fps.shm"), 62648 + 4111);
	ck_assert_int_eq(shmg_fps_open(&f, at("c.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	make_file(at("d.fps.shm"), 62648);
	ck_assert_int_eq(shmg_fps_open(&f, at("d.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	struct shmg_fps_opts bad = {.size = sizeof(bad), .layout = 7};
	ck_assert_int_eq(shmg_fps_open(&f, at("a.fps.shm"), 0, &bad), -EINVAL);
}
END_TEST

/* 443 records of the 2024 layout = 440 of the newer one: the size fits
 * both, and NBparamMAX, read at each layout's offset, tells which. */
START_TEST(fps_ambiguous_size_told_by_nbparam)
{
	struct shmg_fps *f;
	const size_t size = 62648 + 443 * 4112;
	ck_assert_uint_eq(size, 71464 + 440 * 4120);
	int64_t n;
	make_file(at("e.fps.shm"), size);
	/* NBparamMAX 0 at both offsets: it cannot be told; refused. */
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	ck_assert_ptr_nonnull(strstr(shmg_error_detail(SHMG_ELAYOUT), "fit both FPS layouts"));
	struct shmg_fps_opts newer = {.size = sizeof(newer), .layout = SHMG_FPS_NEW};
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, &newer), 0);
	ck_assert_uint_eq(fps_info(f).nparam, 440);
	shmg_fps_close(f);
	/* The newer layout's NBparamMAX says 440: newer. */
	int fd = open(at("e.fps.shm"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	n = 440;
	ck_assert_int_eq(pwrite(fd, &n, 8, 20640), 8);
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, NULL), 0);
	ck_assert_int_eq(fps_info(f).layout, SHMG_FPS_NEW);
	shmg_fps_close(f);
	/* The 2024 layout's says 443 (and the newer one's nothing): 2024. */
	n = 0;
	ck_assert_int_eq(pwrite(fd, &n, 8, 20640), 8);
	n = 443;
	ck_assert_int_eq(pwrite(fd, &n, 8, 11824), 8);
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, NULL), 0);
	ck_assert_int_eq(fps_info(f).layout, SHMG_FPS_2024);
	ck_assert_uint_eq(fps_info(f).nparam, 443);
	shmg_fps_close(f);
	/* Both say yes: cannot be told; refused. */
	n = 440;
	ck_assert_int_eq(pwrite(fd, &n, 8, 20640), 8);
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	close(fd);
}
END_TEST

/* A set raises UPDATE in the header's signal word, in both layouts, with
 * no offset given; the other bits are never lost. */
START_TEST(fps_set_raises_update)
{
	const enum shmg_fps_layout layouts[] = {SHMG_FPS_2024, SHMG_FPS_NEW};
	for (int k = 0; k < 2; k++) {
		struct shmg_fps *f;
		int64_t v = 7;
		ck_assert_int_eq(fps_new(&f, at(k ? "n.fps.shm" : "o.fps.shm"), layouts[k], 2), 0);
		*signal_word(f) = 1 | 8; /* CONFRUN, CHECKED */
		ck_assert_int_eq(shmg_fps_set(f, 1, &v, sizeof(v), NULL, NULL), 0);
		ck_assert_uint_eq(*signal_word(f), 1 | SHMG_FPS_UPDATE | 8);
		ck_assert_uint_eq(fps_info(f).signal, 1 | SHMG_FPS_UPDATE | 8);
		shmg_fps_close(f);
	}
}
END_TEST

/* Parameters by their full milk name (keywordfull), with or without its
 * leading '.'. */
START_TEST(fps_find_by_name)
{
	struct shmg_fps *f;
	unsigned i = 99;
	ck_assert_int_eq(fps_new(&f, at("k.fps.shm"), SHMG_FPS_NEW, 4), 0);
	strcpy((char *)FB(f) + 71464 + 2 * 4120 + 16, ".conf.gain");
	strcpy((char *)FB(f) + 71464 + 3 * 4120 + 16, ".conf.gain2");
	ck_assert_int_eq(shmg_fps_find(f, ".conf.gain", &i), 0);
	ck_assert_uint_eq(i, 2);
	ck_assert_int_eq(shmg_fps_find(f, "conf.gain2", &i), 0);
	ck_assert_uint_eq(i, 3);
	ck_assert_int_eq(shmg_fps_find(f, "conf.gai", &i), -ENOENT);
	ck_assert_str_eq(shmg_error_detail(-ENOENT), "no parameter named 'conf.gai'");
	struct shmg_fps_param_info pi = {.size = sizeof(pi)};
	ck_assert_int_eq(shmg_fps_inspect_param(f, 2, &pi), 0);
	ck_assert_str_eq(pi.keyword, ".conf.gain");
	shmg_fps_close(f);
}
END_TEST

START_TEST(fps_set_get)
{
	struct shmg_fps *f;
	int64_t cnt, v;
	double d;
	char str[SHMG_FPS_VAL_MAX];
	ck_assert_int_eq(fps_new(&f, at("p.fps.shm"), SHMG_FPS_2024, 4), 0);
	*signal_word(f) = 1 | 8; /* CONFRUN, CHECKED */
	ck_assert_int_eq(shmg_fps_set_int64(f, 0, 42, NULL), 0);
	ck_assert_int_eq(shmg_fps_get(f, 0, &v, sizeof(v), &cnt, NULL), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cnt, 1);
	ck_assert_uint_eq(*signal_word(f), 1 | 4 | 8); /* UPDATE added, nothing lost */
	ck_assert_int_eq(shmg_fps_set_double(f, 1, 2.5, NULL), 0);
	ck_assert_int_eq(shmg_fps_get(f, 1, &d, sizeof(d), &cnt, NULL), 0);
	ck_assert(d == 2.5);
	/* milk's second string slot (the current state) is left alone. */
	struct shmg_fps_param_info pi = {.size = sizeof(pi)};
	ck_assert_int_eq(shmg_fps_inspect_param(f, 2, &pi), 0);
	memcpy(FB(f) + pi.lock_offset - 8 + 3928 + 64, "state", 6); /* record + val + 64 */
	ck_assert_int_eq(shmg_fps_set_string(f, 2, "gain", NULL), 0);
	ck_assert_int_eq(shmg_fps_get(f, 2, str, sizeof(str), &cnt, NULL), 0);
	ck_assert_str_eq(str, "gain");
	ck_assert_str_eq(str + 64, "state");
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(shmg_fps_set_string(f, 2, big, NULL), -ENAMETOOLONG);
	ck_assert_int_eq(shmg_fps_set(f, 0, big, 129, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_fps_set(f, 4, &v, 8, NULL, NULL), -ERANGE);
	ck_assert_int_eq(shmg_fps_get(f, 2, str, sizeof(str), &cnt, NULL), 0);
	ck_assert_int_eq(cnt, 1); /* refused sets count nothing */
	uint64_t flags = 0;
	ck_assert_int_eq(shmg_fps_flags(f, 3, 0x5, 0, &flags), 0);
	ck_assert_uint_eq(flags, 0x5);
	ck_assert_int_eq(shmg_fps_flags(f, 3, 0x8, 0x1, &flags), 0);
	ck_assert_uint_eq(flags, 0xc);
	ck_assert_int_eq(shmg_fps_flags(f, 4, 0x8, 0x1, &flags), -ERANGE); /* not "0 flags" */
	/* cnt0 at its maximum (the segment supplies it): refused, nothing
	 * changed, no overflow. */
	*(int64_t *)(void *)(FB(f) + 62648 + 0 * 4112 + 4104) = INT64_MAX;
	v = 1;
	ck_assert_int_eq(shmg_fps_set(f, 0, &v, sizeof(v), &cnt, NULL), -EOVERFLOW);
	ck_assert_int_eq(shmg_fps_get(f, 0, &v, sizeof(v), &cnt, NULL), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cnt, INT64_MAX);
	shmg_fps_close(f);
}
END_TEST

static int add_one(void *value, void *arg)
{
	(void)arg;
	int64_t v;
	memcpy(&v, value, sizeof(v));
	v++;
	memcpy(value, &v, sizeof(v));
	return 1;
}

#define WORKERS 4
#define SETS 3000

/* Several processes increment one parameter (read-modify-write under its
 * lock) while others toggle bits of the header signal and of a
 * parameter's flags with atomic RMWs: nothing is lost. */
START_TEST(fps_concurrent_exact)
{
	struct shmg_fps *f;
	pid_t kids[WORKERS];
	uint32_t *line = tu_shared_alloc(4096);
	ck_assert_int_eq(fps_new(&f, at("c.fps.shm"), SHMG_FPS_NEW, 8), 0);
	for (int w = 0; w < WORKERS; w++) {
		if ((kids[w] = tu_fork()) == 0) {
			struct shmg_fps *g;
			if (shmg_fps_open(&g, at("c.fps.shm"), 0, NULL) != 0)
				_exit(1);
			tu_start_line(line, WORKERS);
			for (int k = 0; k < SETS; k++) {
				if (shmg_fps_update(g, 0, add_one, NULL, NULL, NULL) != 0)
					_exit(2);
				/* bit 16 + w of flags: set and cleared, never lost */
				shmg_fps_flags(g, 5, UINT64_C(1) << (16 + w), 0, NULL);
				shmg_fps_flags(g, 5, 0, UINT64_C(1) << (16 + w), NULL);
				shmg_fps_flags(g, 5, UINT64_C(1) << w, 0, NULL);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		tu_wait_ok(kids[w]);
	int64_t v, cnt;
	ck_assert_int_eq(shmg_fps_get(f, 0, &v, sizeof(v), &cnt, NULL), 0);
	ck_assert_int_eq(v, WORKERS * SETS);
	ck_assert_int_eq(cnt, WORKERS * SETS);
	ck_assert_uint_eq(*signal_word(f), SHMG_FPS_UPDATE);
	uint64_t flags = 0;
	ck_assert_int_eq(shmg_fps_flags(f, 5, 0, 0, &flags), 0);
	ck_assert_uint_eq(flags, (1u << WORKERS) - 1);
	shmg_fps_close(f);
	tu_shared_free(line, 4096);
}
END_TEST

/* Two processes set parameters 0-3 to one value inside whole-FPS sections
 * and check, on entering, that all four are equal; a third reads single
 * parameters meanwhile (lock order: no deadlock). */
START_TEST(fps_whole_section)
{
	struct shmg_fps *f;
	pid_t kids[3];
	ck_assert_int_eq(fps_new(&f, at("w.fps.shm"), SHMG_FPS_2024, 4), 0);
	for (int w = 0; w < 3; w++) {
		if ((kids[w] = tu_fork()) == 0) {
			struct shmg_fps *g;
			if (shmg_fps_open(&g, at("w.fps.shm"), 0, NULL) != 0)
				_exit(1);
			for (int64_t k = 1; k <= 500; k++) {
				if (w == 2) { /* single-parameter reads in between */
					int64_t v;
					if (shmg_fps_get(g, (unsigned)(k % 4), &v, sizeof(v), NULL, NULL) < 0)
						_exit(2);
					continue;
				}
				if (shmg_fps_lock_all(g, NULL) < 0)
					_exit(3);
				int64_t first = 0;
				for (unsigned i = 0; i < 4; i++) {
					int64_t v;
					memcpy(&v, FB(g) + 62648 + i * 4112 + 3928, 8); /* 2024 */
					if (i == 0)
						first = v;
					else if (v != first)
						_exit(4); /* a torn section */
				}
				int64_t v = k * 10 + w;
				for (unsigned i = 0; i < 4; i++)
					shmg_fps_set_locked(g, i, &v, sizeof(v), NULL);
				shmg_fps_unlock_all(g);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < 3; w++)
		tu_wait_ok(kids[w]);
	shmg_fps_close(f);
}
END_TEST

/* A setter dies holding a parameter's lock: the next set reports the
 * recovery (1) and works; later sets are plain again. */
START_TEST(fps_setter_dies)
{
	struct shmg_fps *f;
	int64_t v = 5, cnt;
	ck_assert_int_eq(fps_new(&f, at("d.fps.shm"), SHMG_FPS_2024, 2), 0);
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_xlock l;
		shmg_fps_param_lock(f, 1, &l);
		_exit(shmg_xlock_lock(&l) == 0 ? 0 : 1); /* dies holding it */
	}
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_fps_set(f, 1, &v, sizeof(v), &cnt, NULL), SHMG_OWNERDEAD);
	ck_assert_int_eq(cnt, 1);
	ck_assert_int_eq(shmg_fps_set(f, 1, &v, sizeof(v), &cnt, NULL), 0);
	ck_assert_int_eq(cnt, 2);
	/* And a PINFO status writer that died: the reader recovers too. */
	struct shmg_pinfo *p;
	ck_assert_int_eq(pinfo_new(&p, at("p.shm"), SHMG_PINFO_SIZE_2024, "x", 1), 0);
	pid = tu_fork();
	if (pid == 0) {
		struct shmg_xlock pl;
		shmg_pinfo_status_lock(p, &pl);
		if (shmg_xlock_lock(&pl) != 0)
			_exit(1);
		memset(PB(p) + 628, 'z', 200); /* dies mid-message */
		_exit(0);
	}
	tu_wait_ok(pid);
	char msg[SHMG_PINFO_MSG_MAX];
	int code;
	ck_assert_int_eq(shmg_pinfo_get_status(p, &code, msg, sizeof(msg), NULL), SHMG_OWNERDEAD);
	ck_assert_uint_eq(strlen(msg), 199); /* terminated again */
	ck_assert_int_eq(shmg_pinfo_set_status(p, 3, "ok", NULL), 0);
	shmg_pinfo_close(p);
	shmg_fps_close(f);
}
END_TEST

/* The monitors' recovery never waits, never robs a live holder, and
 * repairs as a locker would. */
/* Each recovery step, as the report says it. */
static void collect(void *arg, int result, const char *text)
{
	char *log = arg;
	size_t n = strlen(log);
	snprintf(log + n, 1024 - n, "%d %s\n", result, text);
}

START_TEST(recover_without_waiting)
{
	struct shmg_fps *f;
	struct shmg_pinfo *p;
	struct shmg_xlock l, pl;
	char log[1024] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	ck_assert_int_eq(fps_new(&f, at("r.fps.shm"), SHMG_FPS_NEW, 3), 0);
	ck_assert_int_eq(pinfo_new(&p, at("r.shm"), SHMG_PINFO_SIZE_NEW, "r", 1), 0);
	shmg_pinfo_status_lock(p, &pl);
	ck_assert_int_eq(shmg_fps_recover(f, &o), 0); /* free: nothing to do */
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), 0);
	ck_assert_str_eq(log, "");

	/* A live holder (this thread) is never robbed, and recover returns. */
	shmg_fps_param_lock(f, 2, &l);
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	pid_t pid = tu_fork();
	if (pid == 0)
		_exit(shmg_fps_recover(f, NULL) == 0 && shmg_pinfo_recover(p, NULL) == 0 ? 0 : 1);
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);

	/* Dead holders: a dry run says what would be done and does nothing;
	 * then each is recovered once, and nothing is left. */
	pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(&l) != 0 || shmg_xlock_lock(&pl) != 0)
			_exit(1);
		memset(PB(p) + 628, 'z', 200); /* dies mid-message */
		_exit(0);
	}
	tu_wait_ok(pid);
	struct shmg_recover_opts dry = o;
	dry.flags = SHMG_RECOVER_DRY_RUN;
	ck_assert_int_eq(shmg_fps_recover(f, &dry), SHMG_RECOVERED);
	ck_assert_ptr_nonnull(strstr(log, "2 would recover parameter 2's lock from dead thread"));
	ck_assert_int_eq(shmg_xlock_trylock(&l), SHMG_OWNERDEAD); /* untouched */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0); /* now not recoverable */
	log[0] = 0;
	ck_assert_int_eq(shmg_fps_recover(f, &o), SHMG_RECOVERED);
	ck_assert_str_eq(log, "2 reset parameter 2's lock, which was not recoverable\n");
	ck_assert_int_eq(shmg_fps_recover(f, &o), 0);
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), SHMG_RECOVERED);
	ck_assert_int_eq(PB(p)[628 + 199], 0); /* the message repaired */
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), 0);
	ck_assert_int_eq(shmg_xlock_trylock(&l), 0); /* an ordinary lock again */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	shmg_pinfo_close(p);
	shmg_fps_close(f);
}
END_TEST

/* Every operation that can wait takes a deadline: a lock held by a live
 * process (here a stopped child) ends each with -ETIMEDOUT, nothing done. */
START_TEST(milk_waits_have_deadlines)
{
	struct shmg_fps *f;
	struct shmg_pinfo *p;
	struct shmg_xlock l, pl;
	uint32_t *flag = tu_shared_alloc(4096);
	ck_assert_int_eq(fps_new(&f, at("t.fps.shm"), SHMG_FPS_NEW, 2), 0);
	ck_assert_int_eq(pinfo_new(&p, at("t.shm"), SHMG_PINFO_SIZE_NEW, "t", 1), 0);
	shmg_fps_param_lock(f, 1, &l);
	shmg_pinfo_status_lock(p, &pl);
	pid_t pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(&l) != 0 || shmg_xlock_lock(&pl) != 0)
			_exit(1);
		shmg_atomic_store(flag, 1, release);
		for (;;)
			pause();
	}
	while (!shmg_atomic_load(flag, acquire))
		usleep(1000);
	struct timespec dl;
	int64_t v = 1;
	char msg[16];
	ck_assert_int_eq(shmg_deadline_in(&dl, 20 * 1000000), 0);
	ck_assert_int_eq(shmg_fps_set(f, 1, &v, sizeof(v), NULL, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_fps_get(f, 1, &v, sizeof(v), NULL, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_fps_update(f, 1, add_one, NULL, NULL, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_fps_lock_all(f, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_fps_set(f, 0, &v, sizeof(v), NULL, &dl), 0); /* lock 0 is free */
	ck_assert_int_eq(shmg_pinfo_set_status(p, 1, "x", &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_pinfo_get_status(p, NULL, msg, sizeof(msg), &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_pinfo_command(p, SHMG_PINFO_EXIT, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_pinfo_transition(p, 0, 1, NULL, &dl), -ETIMEDOUT);
	ck_assert_int_eq(shmg_pinfo_ctrl(p), SHMG_PINFO_RUN); /* nothing changed */
	/* The whole-FPS section gave back lock 0 on its way out. */
	struct shmg_xlock l0;
	shmg_fps_param_lock(f, 0, &l0);
	ck_assert_int_eq(shmg_xlock_trylock(&l0), 0);
	ck_assert_int_eq(shmg_xlock_unlock(&l0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	shmg_pinfo_close(p);
	shmg_fps_close(f);
	tu_shared_free(flag, 4096);
}
END_TEST

/* A live process holding both locks until killed; returns its PID once it
 * holds them. */
/* Regions the holder unmaps once it holds the locks (NULL: none). */
static const struct shmg_region *holder_unmaps[2];

static pid_t live_holder(const struct shmg_xlock *a, const struct shmg_xlock *b, uint32_t *flag)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(a) != 0 || shmg_xlock_lock(b) != 0)
			_exit(1);
		for (int i = 0; i < 2; i++)
			if (holder_unmaps[i] && munmap(shmg_region_base(holder_unmaps[i]),
						       shmg_region_size(holder_unmaps[i])) != 0)
				_exit(2);
		shmg_atomic_store(flag, 1, release);
		for (;;)
			pause();
	}
	while (!shmg_atomic_load(flag, acquire))
		usleep(1000); /* poll the handshake word */
	return pid;
}

/*
 * A lock held by a live process (stuck, or a planted word) is left alone,
 * unless the operator names the process (force_pid): then it is taken,
 * repaired and released as from a dead holder.
 */
START_TEST(recover_forced_from_live_holder)
{
	struct shmg_fps *f;
	struct shmg_pinfo *p;
	struct shmg_xlock l, pl;
	char log[1024] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	uint32_t *flag = tu_shared_alloc(4096);
	ck_assert_int_eq(fps_new(&f, at("f.fps.shm"), SHMG_FPS_NEW, 2), 0);
	ck_assert_int_eq(pinfo_new(&p, at("f.shm"), SHMG_PINFO_SIZE_NEW, "f", 1), 0);
	shmg_fps_param_lock(f, 1, &l);
	shmg_pinfo_status_lock(p, &pl);
	pid_t pid = live_holder(&l, &pl, flag);
	ck_assert_int_eq(shmg_fps_recover(f, &o), 0);
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), 0);
	ck_assert_str_eq(log, "");
	o.force_pid = pid;
	ck_assert_int_eq(shmg_fps_recover(f, &o), SHMG_RECOVERED);
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "recover parameter 1's lock from live (named by force_pid) thread") &&
		      strstr(log, "recover the status lock from live (named by force_pid) thread"),
		      "report:\n%s", log);
	ck_assert_int_eq(shmg_xlock_trylock(&l), 0); /* free and consistent */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	ck_assert_int_eq(shmg_pinfo_set_status(p, 2, "ok", NULL), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	shmg_pinfo_close(p);
	shmg_fps_close(f);
	tu_shared_free(flag, 4096);
}
END_TEST

/*
 * A lock word naming a live process that does not map the file (here a
 * holder that unmapped it; a planted word looks the same): that process is
 * not locking, `shmguard inspect` flags it, and recover agrees: it is left
 * alone with -EBUSY (as documented), its report naming the thread and the
 * operator's way out (force_pid), and nothing changes.
 */
START_TEST(recover_live_holder_not_mapping)
{
	struct shmg_fps *f;
	struct shmg_pinfo *p;
	struct shmg_xlock l, pl;
	char log[2048] = "", want[160];
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	uint32_t *flag = tu_shared_alloc(4096);
	ck_assert_int_eq(fps_new(&f, at("u.fps.shm"), SHMG_FPS_NEW, 2), 0);
	ck_assert_int_eq(pinfo_new(&p, at("u.shm"), SHMG_PINFO_SIZE_NEW, "u", 1), 0);
	shmg_fps_param_lock(f, 1, &l);
	shmg_pinfo_status_lock(p, &pl);
	holder_unmaps[0] = shmg_fps_region(f);
	holder_unmaps[1] = shmg_pinfo_region(p);
	pid_t pid = live_holder(&l, &pl, flag);
	holder_unmaps[0] = holder_unmaps[1] = NULL;
	unsigned char before[SHMG_PINFO_SIZE_NEW];
	memcpy(before, PB(p), sizeof(before));
	ck_assert_int_eq(shmg_fps_recover(f, &o), -EBUSY);
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), -EBUSY);
	snprintf(want, sizeof(want), "-16 the status lock is held by live thread %d, which does "
		 "not map the file", (int)pid);
	ck_assert_msg(strstr(log, want), "report:\n%s", log);
	snprintf(want, sizeof(want), "-16 parameter 1's lock is held by live thread %d, which "
		 "does not map the file", (int)pid);
	ck_assert_msg(strstr(log, want), "report:\n%s", log);
	snprintf(want, sizeof(want), "force_pid %d", (int)pid);
	ck_assert_msg(strstr(log, want), "report:\n%s", log);
	ck_assert_int_eq(memcmp(before, PB(p), sizeof(before)), 0);
	ck_assert_int_eq(shmg_xlock_trylock(&pl), -EBUSY); /* still its */
	o.force_pid = pid;
	ck_assert_int_eq(shmg_pinfo_recover(p, &o), SHMG_RECOVERED);
	ck_assert_int_eq(shmg_fps_recover(f, &o), SHMG_RECOVERED);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	shmg_pinfo_close(p);
	shmg_fps_close(f);
	tu_shared_free(flag, 4096);
}
END_TEST

static int fail_lock(int point)
{
	return point == SHMG__FAIL_RECOVER_LOCK ? -EIO : 0;
}

/* A recovery that fails taking a dead holder's lock leaves the file as it
 * was (the failure stated) and goes no further; without the failure it
 * then recovers every lock. */
START_TEST(recover_failure_changes_nothing)
{
	struct shmg_fps *f;
	struct shmg_xlock l0, l2;
	char log[1024] = "";
	struct shmg_recover_opts o = {.size = sizeof(o), .report = collect, .report_arg = log};
	ck_assert_int_eq(fps_new(&f, at("x.fps.shm"), SHMG_FPS_NEW, 3), 0);
	shmg_fps_param_lock(f, 0, &l0);
	shmg_fps_param_lock(f, 2, &l2);
	pid_t pid = tu_fork();
	if (pid == 0)
		_exit(shmg_xlock_lock(&l0) == 0 && shmg_xlock_lock(&l2) == 0 ? 0 : 1);
	tu_wait_ok(pid);
	size_t size = shmg_region_size(shmg_fps_region(f));
	unsigned char *before = malloc(size);
	ck_assert_ptr_nonnull(before);
	memcpy(before, FB(f), size);
	shmg__test_fail = fail_lock;
	int got = shmg_fps_recover(f, &o);
	shmg__test_fail = NULL;
	ck_assert_int_eq(got, -EIO);
	ck_assert_msg(memcmp(before, FB(f), size) == 0, "the failed recovery changed the file");
	ck_assert_msg(strstr(log, "taking parameter 0's lock") && strstr(log, "left as it was") &&
		      !strstr(log, "parameter 2"), "report:\n%s", log);
	log[0] = 0;
	ck_assert_int_eq(shmg_fps_recover(f, &o), SHMG_RECOVERED);
	ck_assert_msg(strstr(log, "parameter 0's lock") && strstr(log, "parameter 2's lock"),
		      "report:\n%s", log);
	free(before);
	shmg_fps_close(f);
}
END_TEST

/* Setters write 16-byte values whose bytes all hold one number; real-time
 * readers in other processes must only ever see such a value, with cnt0
 * never going back. */
#define RT_SETS 20000
#define RT_READS 200000

static int rt_reader(struct shmg_fps *f)
{
	unsigned char v[16] = {0};
	int64_t cnt = -1, last = -1;
	unsigned stale = 0;
	for (int k = 0; k < RT_READS; k++) {
		int r = shmg_fps_read_rt(f, 1, v, sizeof(v), &cnt);
		if (r == SHMG_STALE) {
			stale++;
			continue;
		}
		if (r != 0)
			return 2;
		for (int b = 1; b < 16; b++)
			if (v[b] != v[0])
				return 3; /* torn */
		if (cnt < last)
			return 4;
		last = cnt;
	}
	return 0;
}

START_TEST(rt_reads_never_torn)
{
	struct shmg_fps *f;
	pid_t kids[4];
	ck_assert_int_eq(fps_new(&f, at("rt.fps.shm"), SHMG_FPS_NEW, 3), 0);
	for (int k = 0; k < 4; k++) {
		if ((kids[k] = tu_fork()) != 0)
			continue;
		if (k >= 2)
			_exit(rt_reader(f));
		unsigned char v[16];
		for (int n = 0; n < RT_SETS; n++) {
			memset(v, (n * 2 + k) & 0xff, sizeof(v));
			if (shmg_fps_set(f, 1, v, sizeof(v), NULL, NULL) < 0)
				_exit(5);
		}
		_exit(0);
	}
	for (int k = 0; k < 4; k++)
		tu_wait_ok(kids[k]);
	int64_t cnt = 0;
	unsigned char v[16];
	ck_assert_int_eq(shmg_fps_read_rt(f, 1, v, sizeof(v), &cnt), 0);
	ck_assert_int_eq(cnt, 2 * RT_SETS);
	shmg_fps_close(f);
}
END_TEST

/*
 * A setter stopped (SIGSTOP) inside the parameter's lock: a real-time read
 * returns at once with SHMG_STALE, leaving the caller's previous value, and
 * makes no futex call (it runs under a seccomp filter that kills on one).
 */
START_TEST(rt_read_never_waits_for_a_stopped_setter)
{
	struct shmg_fps *f;
	struct shmg_xlock l;
	int64_t v = 0, cnt = 0;
	ck_assert_int_eq(fps_new(&f, at("rts.fps.shm"), SHMG_FPS_2024, 2), 0);
	ck_assert_int_eq(shmg_fps_set_int64(f, 1, 77, NULL), 0);
	ck_assert_int_eq(shmg_fps_read_rt(f, 1, &v, sizeof(v), &cnt), 0);
	ck_assert_int_eq(v, 77);
	ck_assert_int_eq(cnt, 1);
	shmg_fps_param_lock(f, 1, &l);
	pid_t setter = tu_fork();
	if (setter == 0) {
		if (shmg_xlock_lock(&l) != 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(setter, &status, WUNTRACED), setter);
	ck_assert(WIFSTOPPED(status));
	pid_t reader = tu_fork();
	if (reader == 0) {
		if (tu_ban_futex(SECCOMP_RET_KILL_PROCESS) != 0)
			_exit(3);
		int64_t mine = 77, c = 1;
		for (int k = 0; k < 1000; k++)
			if (shmg_fps_read_rt(f, 1, &mine, sizeof(mine), &c) != SHMG_STALE ||
			    mine != 77 || c != 1)
				_exit(4);
		_exit(0);
	}
	tu_wait_ok(reader);
	ck_assert_int_eq(shmg_fps_read_rt(f, 9, &v, sizeof(v), &cnt), -ERANGE);
	ck_assert_int_eq(shmg_fps_read_rt(f, 1, &v, 200, &cnt), -EINVAL);
	kill(setter, SIGKILL);
	waitpid(setter, NULL, 0);
	shmg_fps_close(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("milk");
	TCase *tc = tcase_create("milk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pinfo_recognised_by_size);
	tcase_add_test(tc, pinfo_status_and_commands);
	tcase_add_test(tc, fps_recognised_by_size);
	tcase_add_test(tc, fps_ambiguous_size_told_by_nbparam);
	tcase_add_test(tc, fps_set_raises_update);
	tcase_add_test(tc, fps_find_by_name);
	tcase_add_test(tc, fps_set_get);
	suite_add_tcase(s, tc);
	TCase *pc = tcase_create("processes");
	tcase_set_tags(pc, "workers");
	tcase_add_checked_fixture(pc, setup, teardown);
	tcase_set_timeout(pc, 60);
	tcase_add_test(pc, pinfo_exit_never_lost);
	tcase_add_test(pc, fps_concurrent_exact);
	tcase_add_test(pc, fps_whole_section);
	tcase_add_test(pc, fps_setter_dies);
	tcase_add_test(pc, recover_without_waiting);
	tcase_add_test(pc, milk_waits_have_deadlines);
	tcase_add_test(pc, recover_forced_from_live_holder);
	tcase_add_test(pc, recover_live_holder_not_mapping);
	tcase_add_test(pc, recover_failure_changes_nothing);
	tcase_add_test(pc, rt_reads_never_torn);
	tcase_add_test(pc, rt_read_never_waits_for_a_stopped_setter);
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
