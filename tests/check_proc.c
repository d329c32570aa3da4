/* Unit suite for shmguard/proc.h: identity, liveness, zombies, PID reuse. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard/proc.h>

#include "testutil.h"

#include "testing.h" /* the parser, exported by the test build only */

static int parse(const char *s, char *st, uint64_t *start)
{
	uint64_t flags;
	return shmg__test_parse_stat(s, strlen(s), st, &flags, start);
}

START_TEST(parser_synthetic)
{
	char st;
	uint64_t t;
	/* comm with ") (" and spaces: fields must be taken after the LAST ')'. */
	const char *tricky = "123 (a) (b c) R) S 1 2 3 4 5 6 7 8 9 10 11 12 13 "
			     "14 15 16 17 18 987654321 19 20\n";
	ck_assert_int_eq(parse(tricky, &st, &t), 0);
	ck_assert_int_eq(st, 'S');
	ck_assert_uint_eq(t, 987654321u);
	/* Field 9, the task flags (PF_EXITING tells a dying lock owner). */
	uint64_t flags;
	ck_assert_int_eq(shmg__test_parse_stat(tricky, strlen(tricky), &st, &flags, &t), 0);
	ck_assert_uint_eq(flags, 6);
	ck_assert_int_eq(parse("7 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
			       "18 42 0", &st, &t), 0);
	ck_assert_int_eq(st, 'Z');
	ck_assert_uint_eq(t, 42);
	/* Malformed: no ')', too few fields, non-digit, overflow. */
	ck_assert_int_eq(parse("7 x S 1 2", &st, &t), -EINVAL);
	ck_assert_int_eq(parse("7 (x) S 1 2 3", &st, &t), -EINVAL);
	ck_assert_int_eq(parse("7 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
			       "18 4x2 0", &st, &t), -EINVAL);
	ck_assert_int_eq(parse("7 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
			       "18 99999999999999999999999 0", &st, &t), -EINVAL);
	ck_assert_int_eq(parse("7 (x)", &st, &t), -EINVAL);
}
END_TEST

START_TEST(self_identity)
{
	struct shmg_proc_id a, b;
	ck_assert_int_eq(shmg_proc_self(&a), 0);
	ck_assert_int_eq(a.pid, getpid());
	ck_assert_uint_gt(a.start_time, 0);
	ck_assert_int_eq(shmg_proc_lookup(getpid(), &b), 0);
	ck_assert_uint_eq(a.start_time, b.start_time);
	ck_assert_int_eq(shmg_proc_alive(a.pid, a.start_time, 64), SHMG_PROC_ALIVE);
	ck_assert_int_eq(shmg_proc_alive(a.pid, 0, 0), SHMG_PROC_ALIVE);
	ck_assert_int_eq(shmg_proc_alive(a.pid, a.start_time + 1, 64), SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_proc_alive(a.pid, a.start_time ^ 0x100, 8), SHMG_PROC_ALIVE);
	ck_assert_int_eq(shmg_proc_alive(0, 0, 0), -EINVAL);
	ck_assert_int_eq(shmg_proc_alive(-5, 0, 0), -EINVAL);
	ck_assert_int_eq(shmg_proc_alive(1, 0, 65), -EINVAL);
	ck_assert_int_eq(shmg_proc_lookup(0, &b), -EINVAL);
}
END_TEST

START_TEST(self_refreshed_after_fork)
{
	struct shmg_proc_id parent;
	ck_assert_int_eq(shmg_proc_self(&parent), 0);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0) {
		struct shmg_proc_id me;
		int ok = shmg_proc_self(&me) == 0 && me.pid == getpid() &&
			 me.pid != parent.pid;
		_exit(ok ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(c, &status, 0), c);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A process whose main thread called pthread_exit shows its leader as a
 * zombie ('Z') while another thread still runs: it is alive, and a lock
 * owner in that state must never be robbed. */
static int leader_gone_pipe;

static void *linger(void *arg)
{
	char b;
	(void)arg;
	(void)!read(leader_gone_pipe, &b, 1); /* until the parent closes */
	_exit(0);
}

static char stat_state(pid_t pid)
{
	char path[48], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

START_TEST(zombie_leader_with_live_thread_is_alive)
{
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t c = tu_fork();
	if (c == 0) {
		pthread_t t;
		close(go[1]);
		leader_gone_pipe = go[0];
		if (pthread_create(&t, NULL, linger, NULL) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	close(go[0]);
	while (stat_state(c) != 'Z') /* the leader has exited */
		usleep(1000);
	struct shmg_proc_id id;
	ck_assert_int_eq(shmg_proc_lookup(c, &id), 0);
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time, 64), SHMG_PROC_ALIVE);
	close(go[1]); /* the last thread exits: now really a zombie */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time, 64), SHMG_PROC_DEAD);
	tu_wait_ok(c);
}
END_TEST

START_TEST(child_live_zombie_reaped)
{
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0) {
		char b;
		close(go[1]);
		(void)!read(go[0], &b, 1); /* live until the parent closes */
		_exit(0);
	}
	close(go[0]);
	struct shmg_proc_id id;
	ck_assert_int_eq(shmg_proc_lookup(c, &id), 0);
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time, 64), SHMG_PROC_ALIVE);
	/* Same pid, other start time: as if the pid had been reused. */
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time + 1, 64), SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time + 1, 32), SHMG_PROC_DEAD);
	close(go[1]);
	/* Zombie: exited, not reaped. Wait for it without reaping. */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(shmg_proc_lookup(c, &id), -ESRCH);
	ck_assert_int_eq(shmg_proc_alive(c, id.start_time, 64), SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_proc_alive(c, 0, 0), SHMG_PROC_DEAD);
	ck_assert_int_eq(waitpid(c, NULL, 0), c);
	ck_assert_int_eq(shmg_proc_alive(c, 0, 0), SHMG_PROC_DEAD);
	ck_assert_int_eq(shmg_proc_lookup(c, &id), -ESRCH);
}
END_TEST

/* A child that keeps the mapping (or drops it first) until told to go. */
static pid_t child_holding(void *map, size_t len, bool drop, int go_fd, int ready_fd)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		char c;
		if (drop && munmap(map, len) != 0)
			_exit(1);
		if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	return pid;
}

/* Who maps a file: this process and a child that keeps the mapping do; a
 * child that dropped it does not; a PID that runs nothing is -ENOENT; the
 * scan of every process leaves the caller out. */
START_TEST(maps_and_mappers)
{
	char path[] = "/tmp/shmg-maps.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	void *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	int go[2], ready[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid_t keeps = child_holding(map, 4096, false, go[0], ready[1]);
	pid_t drops = child_holding(map, 4096, true, go[0], ready[1]);
	char c;
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(shmg_proc_maps(getpid(), fd), 1);
	ck_assert_int_eq(shmg_proc_maps(keeps, fd), 1);
	ck_assert_int_eq(shmg_proc_maps(drops, fd), 0);
	ck_assert_int_eq(shmg_proc_maps(0, fd), -EINVAL);
	ck_assert_int_eq(shmg_proc_maps(INT32_MAX, fd), -ENOENT); /* above pid_max */
	ck_assert_int_eq(shmg_proc_maps(keeps, -1), -EBADF);
	pid_t pids[8];
	size_t n = 0;
	int err = shmg_proc_mappers(fd, pids, 8, &n);
	ck_assert(err == 0 || err == -EACCES);
	bool saw_keeps = false;
	for (size_t i = 0; i < n && i < 8; i++) {
		ck_assert_int_ne(pids[i], getpid());
		ck_assert_int_ne(pids[i], drops);
		saw_keeps |= pids[i] == keeps;
	}
	ck_assert(saw_keeps);
	ck_assert_int_eq(write(go[1], "gg", 2), 2);
	tu_wait_ok(keeps);
	tu_wait_ok(drops);
	munmap(map, 4096);
	close(fd);
	unlink(path);
	for (int k = 0; k < 2; k++) {
		close(go[k]);
		close(ready[k]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("proc");
	tcase_add_test(tc, parser_synthetic);
	tcase_add_test(tc, self_identity);
	suite_add_tcase(s, tc);
	tc = tcase_create("children");
	tcase_set_tags(tc, "workers");
	tcase_add_test(tc, self_refreshed_after_fork);
	tcase_add_test(tc, child_live_zombie_reaped);
	tcase_add_test(tc, zombie_leader_with_live_thread_is_alive);
	tcase_add_test(tc, maps_and_mappers);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
