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
#include <sys/stat.h>

#include <shmguard.h>
#include <shmguard/milk.h>

#include "testutil.h"

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

START_TEST(pinfo_recognised_by_size)
{
	struct shmg_pinfo p;
	struct stat st;
	char path[256];

	ck_assert_int_eq(shmg_pinfo_create(&p, at("a.shm"), SHMG_PINFO_SIZE_2024, "loop", 42, 0), 0);
	ck_assert_str_eq((char *)p.region.base, "loop");
	ck_assert_int_eq(*(int32_t *)(void *)(p.region.base + 484), 42);
	ck_assert_ptr_eq(p.lock.word, p.region.base + 836);
	ck_assert_uint_eq(p.lock.width, 4);
	shmg_pinfo_close(&p);
	ck_assert_int_eq(stat(at("a.shm"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("a.shm"), 0), 0);
	ck_assert_uint_eq(p.size, SHMG_PINFO_SIZE_2024);
	shmg_pinfo_close(&p);
	ck_assert_int_eq(shmg_pinfo_create(&p, at("b.shm"), SHMG_PINFO_SIZE_NEW, "loop", 42, 0), 0);
	shmg_pinfo_close(&p);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("b.shm"), 0), 0);
	ck_assert_uint_eq(p.size, SHMG_PINFO_SIZE_NEW);
	shmg_pinfo_close(&p);
	/* Any other size, a symlink, a missing file: refused. */
	make_file(at("c.shm"), 4632);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("c.shm"), 0), SHMG_ELAYOUT);
	ck_assert_int_eq(symlink(at("a.shm"), at("l.shm")), 0);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("l.shm"), 0), -ELOOP);
	ck_assert_int_eq(shmg_pinfo_open(&p, at("none.shm"), 0), -ENOENT);
	ck_assert_int_eq(shmg_pinfo_create(&p, at("d.shm"), 4000, "x", 1, 0), -EINVAL);
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
	struct shmg_pinfo p;
	char msg[SHMG_PINFO_MSG_MAX], longmsg[300];
	int code, now;

	ck_assert_int_eq(shmg_pinfo_create(&p, at("s.shm"), SHMG_PINFO_SIZE_NEW, "loop", 7, 0), 0);
	ck_assert_int_eq(shmg_pinfo_set_status(&p, 12, "computing"), 0);
	ck_assert_int_eq(shmg_pinfo_get_status(&p, &code, msg, sizeof(msg)), 0);
	ck_assert_int_eq(code, 12);
	ck_assert_str_eq(msg, "computing");
	ck_assert_int_eq(*(int32_t *)(void *)(p.region.base + 828), 12);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	ck_assert_int_eq(shmg_pinfo_set_status(&p, 1, longmsg), 0);
	ck_assert_int_eq(shmg_pinfo_get_status(&p, &code, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(strlen(msg), SHMG_PINFO_MSG_MAX - 1);
	ck_assert_uint_eq(p.region.base[628 + 199], 0);
	/* Commands: exit is never replaced; the loop's own step -> pause
	 * transition never overwrites a command it did not expect. */
	ck_assert_int_eq(shmg_pinfo_command(&p, SHMG_PINFO_STEP), 0);
	ck_assert_int_eq(shmg_pinfo_ctrl(&p), SHMG_PINFO_STEP);
	ck_assert_int_eq(shmg_pinfo_command(&p, SHMG_PINFO_EXIT), 0);
	ck_assert_int_eq(shmg_pinfo_transition(&p, SHMG_PINFO_STEP, SHMG_PINFO_PAUSE, &now), -EAGAIN);
	ck_assert_int_eq(now, SHMG_PINFO_EXIT);
	ck_assert_int_eq(shmg_pinfo_command(&p, SHMG_PINFO_RUN), -EALREADY);
	ck_assert_int_eq(shmg_pinfo_ctrl(&p), SHMG_PINFO_EXIT);
	ck_assert_int_eq(shmg_pinfo_command(&p, 9), -EINVAL);
	ck_assert_int_eq(shmg_pinfo_heartbeat(&p), 1);
	ck_assert_int_eq(shmg_pinfo_heartbeat(&p), 2);
	ck_assert_int_eq(shmg_pinfo_loopcnt(&p), 2);
	shmg_pinfo_close(&p);
}
END_TEST

/* The loop does its own step -> pause transitions as fast as it can while
 * the monitor keeps asking for single steps, then asks for exit: the exit
 * always gets through. Meanwhile status updates are read back whole. */
START_TEST(pinfo_exit_never_lost)
{
	struct shmg_pinfo p;
	ck_assert_int_eq(shmg_pinfo_create(&p, at("x.shm"), SHMG_PINFO_SIZE_2024, "loop", 7, 0), 0);
	for (int round = 0; round < 20; round++) {
		/* a new run: the previous round's exit is cleared by hand */
		*(int32_t *)(void *)(p.region.base + 520) = SHMG_PINFO_RUN;
		pid_t loop = tu_fork();
		if (loop == 0) {
			struct shmg_pinfo q;
			char msg[SHMG_PINFO_MSG_MAX], want[64];
			int now = 0, code;
			if (shmg_pinfo_open(&q, at("x.shm"), 0) != 0)
				_exit(1);
			for (long i = 0; now != SHMG_PINFO_EXIT; i++) {
				shmg_pinfo_transition(&q, SHMG_PINFO_STEP, SHMG_PINFO_PAUSE, &now);
				shmg_pinfo_heartbeat(&q);
				snprintf(want, sizeof(want), "status %ld", i);
				shmg_pinfo_set_status(&q, (int)i, want);
				shmg_pinfo_get_status(&q, &code, msg, sizeof(msg));
				snprintf(want, sizeof(want), "status %d", code);
				if (strcmp(msg, want) != 0)
					_exit(2); /* message of one update, code of another */
				now = shmg_pinfo_ctrl(&q);
			}
			_exit(0);
		}
		for (int k = 0; k < 200; k++)
			shmg_pinfo_command(&p, SHMG_PINFO_STEP);
		ck_assert_int_eq(shmg_pinfo_command(&p, SHMG_PINFO_EXIT), 0);
		for (int k = 0; k < 50; k++) /* later commands cannot undo it */
			ck_assert_int_eq(shmg_pinfo_command(&p, SHMG_PINFO_STEP), -EALREADY);
		tu_wait_ok(loop);
	}
	ck_assert_int_gt(shmg_pinfo_loopcnt(&p), 0);
	shmg_pinfo_close(&p);
}
END_TEST

static const struct shmg_fps_opts sig_at_64 = {SHMG_FPS_AUTO, 64};

START_TEST(fps_recognised_by_size)
{
	struct shmg_fps f;
	ck_assert_int_eq(shmg_fps_create(&f, at("a.fps.shm"), SHMG_FPS_2024, 5, NULL, 0), 0);
	ck_assert_uint_eq(f.nparam, 5);
	ck_assert_uint_eq(f.region.size, 62648 + 5 * 4112);
	shmg_fps_close(&f);
	ck_assert_int_eq(shmg_fps_open(&f, at("a.fps.shm"), 0, NULL), 0);
	ck_assert_int_eq(f.layout, SHMG_FPS_2024);
	ck_assert_uint_eq(f.nparam, 5);
	ck_assert_ptr_null(f.signal);
	shmg_fps_close(&f);
	ck_assert_int_eq(shmg_fps_create(&f, at("b.fps.shm"), SHMG_FPS_NEW, 3, NULL, 0), 0);
	shmg_fps_close(&f);
	ck_assert_int_eq(shmg_fps_open(&f, at("b.fps.shm"), 0, &sig_at_64), 0);
	ck_assert_int_eq(f.layout, SHMG_FPS_NEW);
	ck_assert_uint_eq(f.nparam, 3);
	ck_assert_ptr_eq(f.signal, f.region.base + 64);
	struct shmg_xlock l;
	ck_assert_int_eq(shmg_fps_param_lock(&f, 2, &l), 0);
	ck_assert_ptr_eq(l.word, f.region.base + 71464 + 2 * 4120 + 8);
	ck_assert_int_eq(shmg_fps_param_lock(&f, 3, &l), -ERANGE);
	shmg_fps_close(&f);
	/* Sizes that fit neither layout, or only the header. */
	make_file(at("c.fps.shm"), 62648 + 4111);
	ck_assert_int_eq(shmg_fps_open(&f, at("c.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	make_file(at("d.fps.shm"), 62648);
	ck_assert_int_eq(shmg_fps_open(&f, at("d.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	/* 443 records of 2024 = 440 of the newer layout: not guessed. */
	make_file(at("e.fps.shm"), 62648 + 443 * 4112);
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, NULL), SHMG_ELAYOUT);
	struct shmg_fps_opts newer = {SHMG_FPS_NEW, SHMG_FPS_NO_SIGNAL};
	ck_assert_int_eq(shmg_fps_open(&f, at("e.fps.shm"), 0, &newer), 0);
	ck_assert_uint_eq(f.nparam, 440);
	shmg_fps_close(&f);
	/* A signal word outside the header or misaligned. */
	struct shmg_fps_opts bad = {SHMG_FPS_AUTO, 62648};
	ck_assert_int_eq(shmg_fps_open(&f, at("a.fps.shm"), 0, &bad), -EINVAL);
	bad.signal_offset = 61;
	ck_assert_int_eq(shmg_fps_open(&f, at("a.fps.shm"), 0, &bad), -EINVAL);
}
END_TEST

START_TEST(fps_set_get)
{
	struct shmg_fps f;
	int64_t cnt, v;
	double d;
	char s[SHMG_FPS_VAL_MAX];
	ck_assert_int_eq(shmg_fps_create(&f, at("p.fps.shm"), SHMG_FPS_2024, 4, &sig_at_64, 0), 0);
	*f.signal = 1 | 8; /* CONFRUN, CHECKED */
	ck_assert_int_eq(shmg_fps_set_int64(&f, 0, 42), 0);
	ck_assert_int_eq(shmg_fps_get(&f, 0, &v, sizeof(v), &cnt), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cnt, 1);
	ck_assert_uint_eq(*f.signal, 1 | 4 | 8); /* UPDATE added, nothing lost */
	ck_assert_int_eq(shmg_fps_set_double(&f, 1, 2.5), 0);
	ck_assert_int_eq(shmg_fps_get(&f, 1, &d, sizeof(d), &cnt), 0);
	ck_assert(d == 2.5);
	ck_assert_int_eq(shmg_fps_set_string(&f, 2, "gain"), 0);
	ck_assert_int_eq(shmg_fps_get(&f, 2, s, sizeof(s), &cnt), 0);
	ck_assert_str_eq(s, "gain");
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(shmg_fps_set_string(&f, 2, big), -ENAMETOOLONG);
	ck_assert_int_eq(shmg_fps_set(&f, 0, big, 129, NULL), -EINVAL);
	ck_assert_int_eq(shmg_fps_set(&f, 4, &v, 8, NULL), -ERANGE);
	ck_assert_int_eq(shmg_fps_get(&f, 2, s, sizeof(s), &cnt), 0);
	ck_assert_int_eq(cnt, 1); /* refused sets count nothing */
	ck_assert_uint_eq(shmg_fps_flags(&f, 3, 0x5, 0), 0x5);
	ck_assert_uint_eq(shmg_fps_flags(&f, 3, 0x8, 0x1), 0xc);
	shmg_fps_close(&f);
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
	struct shmg_fps f;
	pid_t kids[WORKERS];
	uint32_t *line = tu_shared_alloc(4096);
	ck_assert_int_eq(shmg_fps_create(&f, at("c.fps.shm"), SHMG_FPS_NEW, 8, &sig_at_64, 0), 0);
	for (int w = 0; w < WORKERS; w++) {
		if ((kids[w] = tu_fork()) == 0) {
			struct shmg_fps g;
			if (shmg_fps_open(&g, at("c.fps.shm"), 0, &sig_at_64) != 0)
				_exit(1);
			tu_start_line(line, WORKERS);
			for (int k = 0; k < SETS; k++) {
				if (shmg_fps_update(&g, 0, add_one, NULL, NULL) != 0)
					_exit(2);
				/* bit 16 + w of flags: set and cleared, never lost */
				shmg_fps_flags(&g, 5, UINT64_C(1) << (16 + w), 0);
				shmg_fps_flags(&g, 5, 0, UINT64_C(1) << (16 + w));
				shmg_fps_flags(&g, 5, UINT64_C(1) << w, 0);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		tu_wait_ok(kids[w]);
	int64_t v, cnt;
	ck_assert_int_eq(shmg_fps_get(&f, 0, &v, sizeof(v), &cnt), 0);
	ck_assert_int_eq(v, WORKERS * SETS);
	ck_assert_int_eq(cnt, WORKERS * SETS);
	ck_assert_uint_eq(*f.signal, SHMG_FPS_UPDATE);
	ck_assert_uint_eq(shmg_fps_flags(&f, 5, 0, 0), (1u << WORKERS) - 1);
	shmg_fps_close(&f);
	tu_shared_free(line, 4096);
}
END_TEST

/* Two processes set parameters 0-3 to one value inside whole-FPS sections
 * and check, on entering, that all four are equal; a third reads single
 * parameters meanwhile (lock order: no deadlock). */
START_TEST(fps_whole_section)
{
	struct shmg_fps f;
	pid_t kids[3];
	ck_assert_int_eq(shmg_fps_create(&f, at("w.fps.shm"), SHMG_FPS_2024, 4, NULL, 0), 0);
	for (int w = 0; w < 3; w++) {
		if ((kids[w] = tu_fork()) == 0) {
			struct shmg_fps g;
			if (shmg_fps_open(&g, at("w.fps.shm"), 0, NULL) != 0)
				_exit(1);
			for (int64_t k = 1; k <= 500; k++) {
				if (w == 2) { /* single-parameter reads in between */
					int64_t v;
					if (shmg_fps_get(&g, (unsigned)(k % 4), &v, sizeof(v), NULL) < 0)
						_exit(2);
					continue;
				}
				if (shmg_fps_lock_all(&g) < 0)
					_exit(3);
				int64_t first = 0;
				for (unsigned i = 0; i < 4; i++) {
					int64_t v;
					memcpy(&v, g.region.base + g.header + i * g.record + 3928, 8);
					if (i == 0)
						first = v;
					else if (v != first)
						_exit(4); /* a torn section */
				}
				int64_t v = k * 10 + w;
				for (unsigned i = 0; i < 4; i++)
					shmg_fps_set_locked(&g, i, &v, sizeof(v), NULL);
				shmg_fps_unlock_all(&g);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < 3; w++)
		tu_wait_ok(kids[w]);
	shmg_fps_close(&f);
}
END_TEST

/* A setter dies holding a parameter's lock: the next set reports the
 * recovery (1) and works; later sets are plain again. */
START_TEST(fps_setter_dies)
{
	struct shmg_fps f;
	int64_t v = 5, cnt;
	ck_assert_int_eq(shmg_fps_create(&f, at("d.fps.shm"), SHMG_FPS_2024, 2, NULL, 0), 0);
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_xlock l;
		shmg_fps_param_lock(&f, 1, &l);
		_exit(shmg_xlock_lock(&l) == 0 ? 0 : 1); /* dies holding it */
	}
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_fps_set(&f, 1, &v, sizeof(v), &cnt), 1);
	ck_assert_int_eq(cnt, 1);
	ck_assert_int_eq(shmg_fps_set(&f, 1, &v, sizeof(v), &cnt), 0);
	ck_assert_int_eq(cnt, 2);
	/* And a PINFO status writer that died: the reader recovers too. */
	struct shmg_pinfo p;
	ck_assert_int_eq(shmg_pinfo_create(&p, at("p.shm"), SHMG_PINFO_SIZE_2024, "x", 1, 0), 0);
	pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(&p.lock) != 0)
			_exit(1);
		memset(p.region.base + 628, 'z', 200); /* dies mid-message */
		_exit(0);
	}
	tu_wait_ok(pid);
	char msg[SHMG_PINFO_MSG_MAX];
	int code;
	ck_assert_int_eq(shmg_pinfo_get_status(&p, &code, msg, sizeof(msg)), 1);
	ck_assert_uint_eq(strlen(msg), 199); /* terminated again */
	ck_assert_int_eq(shmg_pinfo_set_status(&p, 3, "ok"), 0);
	shmg_pinfo_close(&p);
	shmg_fps_close(&f);
}
END_TEST

/* The monitors' recovery never waits, never robs a live holder, and
 * repairs as a locker would. */
START_TEST(recover_without_waiting)
{
	struct shmg_fps f;
	struct shmg_pinfo p;
	struct shmg_xlock l;
	ck_assert_int_eq(shmg_fps_create(&f, at("r.fps.shm"), SHMG_FPS_NEW, 3, NULL, 0), 0);
	ck_assert_int_eq(shmg_pinfo_create(&p, at("r.shm"), SHMG_PINFO_SIZE_NEW, "r", 1, 0), 0);
	ck_assert_int_eq(shmg_fps_recover(&f, 2), 0); /* free: nothing to do */
	ck_assert_int_eq(shmg_fps_recover(&f, 3), -ERANGE);
	ck_assert_int_eq(shmg_pinfo_recover(&p), 0);

	/* A live holder (this thread) is never robbed, and recover returns. */
	shmg_fps_param_lock(&f, 2, &l);
	ck_assert_int_eq(shmg_xlock_lock(&l), 0);
	pid_t pid = tu_fork();
	if (pid == 0)
		_exit(shmg_fps_recover(&f, 2) == -EBUSY && shmg_pinfo_recover(&p) == 0 ? 0 : 1);
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);

	/* Dead holders: recovered once, then nothing to do. */
	pid = tu_fork();
	if (pid == 0) {
		if (shmg_xlock_lock(&l) != 0 || shmg_xlock_lock(&p.lock) != 0)
			_exit(1);
		memset(p.region.base + 628, 'z', 200); /* dies mid-message */
		_exit(0);
	}
	tu_wait_ok(pid);
	ck_assert_int_eq(shmg_fps_recover(&f, 2), 1);
	ck_assert_int_eq(shmg_fps_recover(&f, 2), 0);
	ck_assert_int_eq(shmg_pinfo_recover(&p), 1);
	ck_assert_int_eq(p.region.base[628 + 199], 0); /* the message repaired */
	ck_assert_int_eq(shmg_pinfo_recover(&p), 0);
	ck_assert_int_eq(shmg_xlock_trylock(&l), 0); /* an ordinary lock again */
	ck_assert_int_eq(shmg_xlock_unlock(&l), 0);
	shmg_pinfo_close(&p);
	shmg_fps_close(&f);
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
	suite_add_tcase(s, pc);
	return tu_run_suite(s);
}
