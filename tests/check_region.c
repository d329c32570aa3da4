/* Unit suite for shmguard/region.h: creation, opening, every error path,
 * checked placement, big files, no half-initialised segment visible. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/region.h>

#include "testutil.h"
#include "testing.h" /* the named-temporary fallback (test build) */

/* The mapping's bytes. */
#define B(r) ((unsigned char *)shmg_region_base(r))

static char dir[64];
static char pbuf[256];

static const char *at(const char *name)
{
	snprintf(pbuf, sizeof(pbuf), "%s/%s", dir, name);
	return pbuf;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/shmg-region-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* Number of entries in dir besides . and .. */
static int dir_entries(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 0", dir);
	return system(cmd) == 0 ? 0 : 1;
}

static int fill(void *base, size_t size, int fd, void *arg)
{
	(void)fd;
	memset(base, *(int *)arg, size);
	return 0;
}

static int failing(void *base, size_t size, int fd, void *arg)
{
	(void)fd;
	(void)base; (void)size; (void)arg;
	return -EPROTO;
}

START_TEST(create_open_close)
{
	struct shmg_region *r, *o;
	int v = 0xab;
	ck_assert_int_eq(shmg_region_create(&r, at("a"), 4096, 0, 0, fill, &v), 0);
	ck_assert_uint_eq(shmg_region_size(r), 4096);
	ck_assert_uint_eq(B(r)[4095], 0xab);
	struct stat st;
	ck_assert_int_eq(stat(at("a"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(shmg_region_open(&o, at("a"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(o), 4096);
	B(o)[7] = 3; /* shared: visible through the other mapping */
	ck_assert_uint_eq(B(r)[7], 3);
	shmg_region_close(o);
	shmg_region_close(r);
	shmg_region_close(NULL); /* a no-op */
	/* Only the final file is left: no temporary. */
	ck_assert_int_eq(unlink(at("a")), 0);
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(create_modes_and_umask)
{
	struct shmg_region *r;
	mode_t old = umask(0077);
	ck_assert_int_eq(shmg_region_create(&r, at("m"), 64, 0640, 0, NULL, NULL), 0);
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(at("m"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640); /* exactly as asked */
	shmg_region_close(r);
	old = umask(0);
	ck_assert_int_eq(shmg_region_create(&r, at("d"), 64, 0, 0, NULL, NULL), 0);
	umask(old);
	ck_assert_int_eq(stat(at("d"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600); /* default even under umask 0 */
	shmg_region_close(r);
}
END_TEST

static void errors_leave_nothing_case(void)
{
	struct shmg_region *r;
	int v = 1;
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 0, 0, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 64, 0, 0x100, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 64, 0, SHMG_REGION_RDONLY, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 64, 010000, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_region_create(&r, NULL, 64, 0, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 64, 0, 0, failing, NULL), -EPROTO);
	ck_assert_int_eq(shmg_region_create(&r, at("x"), 64, 0, SHMG_REGION_REPLACE, failing, NULL), -EPROTO);
	ck_assert_int_eq(shmg_region_create(&r, at("nodir/x"), 64, 0, 0, fill, &v), -ENOENT);
	ck_assert_int_eq(dir_entries(), 0);
	ck_assert_ptr_null(r); /* no handle after a failure */
}

/* Both ways of making the file: unnamed (O_TMPFILE) and under a random
 * temporary name (the fallback where the filesystem has no O_TMPFILE). */
START_TEST(create_errors_leave_nothing)
{
	shmg__test_no_tmpfile = false;
	errors_leave_nothing_case();
	shmg__test_no_tmpfile = true;
	errors_leave_nothing_case();
	shmg__test_no_tmpfile = false;
}
END_TEST

static void eexist_and_replace_case(void)
{
	struct shmg_region *r, *o;
	int v1 = 1, v2 = 2;
	ck_assert_int_eq(shmg_region_create(&r, at("e"), 100, 0, 0, fill, &v1), 0);
	shmg_region_close(r);
	ck_assert_int_eq(shmg_region_create(&r, at("e"), 200, 0, 0, fill, &v2), -EEXIST);
	ck_assert_int_eq(shmg_region_open(&o, at("e"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(o), 100); /* old file untouched */
	ck_assert_uint_eq(B(o)[99], 1);
	/* Replace: the old mapping keeps the old inode, the name the new one. */
	ck_assert_int_eq(shmg_region_create(&r, at("e"), 200, 0, SHMG_REGION_REPLACE, fill, &v2), 0);
	ck_assert_uint_eq(B(o)[99], 1);
	struct shmg_region *n;
	ck_assert_int_eq(shmg_region_open(&n, at("e"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(n), 200);
	ck_assert_uint_eq(B(n)[199], 2);
	shmg_region_close(n);
	shmg_region_close(o);
	shmg_region_close(r);
	ck_assert_int_eq(unlink(at("e")), 0);
	ck_assert_int_eq(dir_entries(), 0);
	/* A symlink at the final name is not followed by create: link fails. */
	ck_assert_int_eq(symlink("/nonexistent-target", at("s")), 0);
	ck_assert_int_eq(shmg_region_create(&r, at("s"), 64, 0, 0, NULL, NULL), -EEXIST);
	ck_assert_int_eq(access("/nonexistent-target", F_OK), -1);
	ck_assert_int_eq(unlink(at("s")), 0);
	ck_assert_int_eq(dir_entries(), 0);
}

START_TEST(create_eexist_and_replace)
{
	shmg__test_no_tmpfile = false;
	eexist_and_replace_case();
	shmg__test_no_tmpfile = true;
	eexist_and_replace_case();
	shmg__test_no_tmpfile = false;
}
END_TEST

/* Names another user could plant to block creation (the old temporary
 * names were <dir>/.shmg-tmp.<pid>.<n>, n counting from 0) change nothing:
 * the temporary file is unnamed or has 64 random bits in its name. */
START_TEST(create_ignores_planted_temporary_names)
{
	struct shmg_region *r;
	char name[64];
	int v = 3;
	for (int n = 0; n < 300; n++) {
		snprintf(name, sizeof(name), ".shmg-tmp.%ld.%d", (long)getpid(), n);
		int fd = open(at(name), O_CREAT | O_EXCL | O_WRONLY, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	for (int named = 0; named < 2; named++) {
		shmg__test_no_tmpfile = named;
		snprintf(name, sizeof(name), "p%d", named);
		ck_assert_int_eq(shmg_region_create(&r, at(name), 64, 0, 0, fill, &v), 0);
		ck_assert_uint_eq(B(r)[63], 3);
		shmg_region_close(r);
		ck_assert_int_eq(unlink(at(name)), 0);
	}
	shmg__test_no_tmpfile = false;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 300", dir);
	ck_assert_msg(system(cmd) == 0, "a temporary file was left beside the planted ones");
}
END_TEST

static int stop_in_init(void *base, size_t size, int fd, void *arg)
{
	(void)base; (void)size; (void)fd;
	int *pipes = arg;
	char c = 0;
	if (write(pipes[1], &c, 1) != 1)
		return -EIO;
	for (;;)
		pause(); /* killed here */
}

/* A creator killed in the middle of init leaves nothing, not even a
 * temporary file: the file being made has no name until it is complete. */
START_TEST(killed_during_create_leaves_nothing)
{
	int pipes[2];
	char c;
	ck_assert_int_eq(pipe(pipes), 0);
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_region *r;
		shmg_region_create(&r, at("k"), 4096, 0, 0, stop_in_init, pipes);
		_exit(1);
	}
	ck_assert_int_eq(read(pipes[0], &c, 1), 1);
	kill(pid, SIGKILL);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(dir_entries(), 0);
	close(pipes[0]);
	close(pipes[1]);
}
END_TEST

START_TEST(open_errors)
{
	struct shmg_region *r;
	struct shmg_region *c;
	ck_assert_int_eq(shmg_region_create(&c, at("f"), 64, 0, 0, NULL, NULL), 0);
	shmg_region_close(c);
	ck_assert_int_eq(shmg_region_open(&r, at("missing"), 0), -ENOENT);
	ck_assert_int_eq(shmg_region_open(&r, at("f"), 0x80), -EINVAL);
	ck_assert_int_eq(shmg_region_open(&r, "", 0), -EINVAL);
	ck_assert_int_eq(symlink("f", at("link")), 0);
	ck_assert_int_eq(shmg_region_open(&r, at("link"), 0), -ELOOP);
	ck_assert_int_eq(shmg_region_open(&r, at("link"), SHMG_REGION_FOLLOW), 0);
	ck_assert_uint_eq(shmg_region_size(r), 64);
	shmg_region_close(r);
	ck_assert_int_eq(mkfifo(at("fifo"), 0600), 0);
	ck_assert_int_eq(shmg_region_open(&r, at("fifo"), 0), -EINVAL);
	ck_assert_int_eq(shmg_region_open(&r, at("fifo"), SHMG_REGION_RDONLY), -EINVAL);
	ck_assert_int_eq(mkdir(at("sub"), 0700), 0);
	ck_assert_int_eq(shmg_region_open(&r, at("sub"), 0), -EINVAL);
	ck_assert_int_eq(shmg_region_open(&r, at("sub"), SHMG_REGION_RDONLY), -EINVAL);
	int fd = open(at("empty"), O_CREAT | O_EXCL | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(shmg_region_open(&r, at("empty"), 0), SHMG_ELAYOUT);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(shmg_error_detail(SHMG_ELAYOUT), "the file is empty");
}
END_TEST

START_TEST(readonly_and_permissions)
{
	struct shmg_region *c, *r;
	ck_assert_int_eq(shmg_region_create(&c, at("ro"), 4096, 0400, 0, NULL, NULL), 0);
	B(c)[0] = 9;
	shmg_region_close(c);
	ck_assert_int_eq(shmg_region_open(&r, at("ro"), SHMG_REGION_RDONLY), 0);
	ck_assert_uint_eq(B(r)[0], 9);
	ck_assert(!shmg_region_writable(r));
	shmg_region_close(r);
	if (geteuid() != 0)
		ck_assert_int_eq(shmg_region_open(&r, at("ro"), 0), -EACCES);
	/* Root bypasses modes; a read-only fd cannot be mapped writable. */
	int fd = open(at("ro"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shmg_region_from_fd(&r, fd, 0), -EACCES);
	ck_assert_int_eq(shmg_region_from_fd(&r, fd, SHMG_REGION_RDONLY), 0);
	close(fd); /* the region holds its own duplicate */
	ck_assert_uint_eq(B(r)[0], 9);
	ck_assert_int_ne(shmg_region_fd(r), fd);
	ck_assert_int_ge(fcntl(shmg_region_fd(r), F_GETFD), FD_CLOEXEC);
	shmg_region_close(r);
	ck_assert_int_eq(shmg_region_from_fd(&r, -1, 0), -EINVAL);
	ck_assert_int_eq(shmg_region_from_fd(&r, 999999, 0), -EBADF);
}
END_TEST

START_TEST(open_in_names)
{
	struct shmg_region *c, *r;
	ck_assert_int_eq(shmg_region_create(&c, at("seg"), 128, 0, 0, NULL, NULL), 0);
	shmg_region_close(c);
	ck_assert_int_eq(shmg_region_open_in(&r, dir, "seg", 0), 0);
	ck_assert_uint_eq(shmg_region_size(r), 128);
	shmg_region_close(r);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	const char *bad[] = { "", ".", "..", "a/b", "/seg", "seg/", longname };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(shmg_region_open_in(&r, dir, bad[i], 0), -EINVAL);
	ck_assert_int_eq(shmg_region_open_in(&r, dir, NULL, 0), -EINVAL);
	ck_assert_int_eq(shmg_region_open_in(&r, at("seg"), "seg", 0), -ENOTDIR);
	ck_assert_int_eq(symlink("seg", at("ln")), 0);
	ck_assert_int_eq(shmg_region_open_in(&r, dir, "ln", 0), -ELOOP);
	ck_assert_int_eq(shmg_region_open_in(&r, dir, "ln", SHMG_REGION_FOLLOW), 0);
	shmg_region_close(r);
}
END_TEST

START_TEST(placement)
{
	static uint64_t mem[8];
	struct shmg_region *r;
	void *p = (void *)1;
	ck_assert_int_eq(shmg_region_from_memory(&r, NULL, 8), -EINVAL);
	ck_assert_int_eq(shmg_region_from_memory(&r, mem, 0), -EINVAL);
	ck_assert_int_eq(shmg_region_from_memory(&r, mem, sizeof(mem)), 0);
	ck_assert_int_eq(shmg_region_fd(r), -1);
	ck_assert_int_eq(shmg_region_at(r, 0, 8, &p), 0);
	ck_assert_ptr_eq(p, mem);
	ck_assert_int_eq(shmg_region_at(r, 56, 8, &p), 0);
	ck_assert_ptr_eq(p, &mem[7]);
	void *keep = p;
	ck_assert_int_eq(shmg_region_at(r, 57, 8, &p), -ERANGE);
	ck_assert_int_eq(shmg_region_at(r, 64, 1, &p), -ERANGE);
	ck_assert_int_eq(shmg_region_at(r, 4, 8, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 2, 4, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 1, 2, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 63, 1, &p), 0);
	p = keep;
	ck_assert_int_eq(shmg_region_at(r, 0, 3, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 0, 16, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 0, 0, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, SIZE_MAX, 1, &p), -ERANGE);
	ck_assert_int_eq(shmg_region_at(r, SIZE_MAX - 3, 8, &p), -ERANGE);
	ck_assert_ptr_eq(p, keep); /* untouched on every failure */
	ck_assert(shmg_region_contains(r, 0, 64));
	ck_assert(shmg_region_contains(r, 64, 0));
	ck_assert(!shmg_region_contains(r, 65, 0));
	ck_assert(!shmg_region_contains(r, 1, 64));
	ck_assert(!shmg_region_contains(r, 8, SIZE_MAX));
	ck_assert(!shmg_region_contains(r, SIZE_MAX, 2));
	/* Each refusal says what was wrong. */
	ck_assert_int_eq(shmg_region_at(r, 4, 8, &p), -EINVAL);
	ck_assert_str_eq(shmg_error_detail(-EINVAL), "offset 4 is not 8-byte aligned");
	ck_assert_int_eq(shmg_region_at(r, 57, 8, &p), -ERANGE);
	ck_assert_str_eq(shmg_error_detail(-ERANGE), "8 bytes at offset 57: outside the 64-byte region");
	ck_assert(shmg_region_writable(r));
	shmg_region_close(r);
	/* Alignment is of the ADDRESS: a base at +4 makes offset 4 8-aligned. */
	ck_assert_int_eq(shmg_region_from_memory(&r, (char *)mem + 4, 32), 0);
	ck_assert_int_eq(shmg_region_at(r, 0, 8, &p), -EINVAL);
	ck_assert_int_eq(shmg_region_at(r, 4, 8, &p), 0);
	ck_assert_ptr_eq(p, &mem[1]);
	shmg_region_close(r);
	ck_assert_uint_eq(mem[0], 0); /* caller memory not touched/unmapped */
}
END_TEST

START_TEST(big_sparse_file)
{
	const uint64_t big = 3ull << 30;
	if (sizeof(size_t) < 8)
		return;
	int fd = open(at("big"), O_CREAT | O_EXCL | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	if (ftruncate(fd, (off_t)big) != 0) {
		fprintf(stderr, "big_sparse_file: skipped, ftruncate 3 GiB: %s\n",
			strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	struct shmg_region *r;
	ck_assert_int_eq(shmg_region_open(&r, at("big"), 0), 0);
	ck_assert_uint_eq(shmg_region_size(r), big);
	void *p;
	ck_assert_int_eq(shmg_region_at(r, (size_t)big - 8, 8, &p), 0);
	*(volatile uint64_t *)p = 42;
	ck_assert_int_eq(shmg_region_at(r, (size_t)big - 4, 8, &p), -ERANGE);
	ck_assert(shmg_region_contains(r, (size_t)(2ull << 30), 1u << 30));
	ck_assert(!shmg_region_contains(r, (size_t)(2ull << 30), (1u << 30) + 1));
	shmg_region_close(r);
}
END_TEST

struct slow_arg {
	int fd_go; /* write end: tell the poller we are inside init */
};

static int slow_init(void *base, size_t size, int fd, void *arg)
{
	(void)fd;
	struct slow_arg *a = arg;
	char c = 1;
	unsigned char *b = base;
	(void)!write(a->fd_go, &c, 1);
	for (size_t i = 0; i < size; i++) {
		b[i] = 0x5a;
		if (i % 4096 == 0)
			usleep(1000);
	}
	return 0;
}

START_TEST(no_half_initialised_open)
{
	int go[2], done[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe2(done, O_NONBLOCK), 0);
	const size_t size = 64 * 4096;
	pid_t c = fork();
	ck_assert_int_ge(c, 0);
	if (c == 0) {
		char b;
		close(go[1]);
		close(done[1]);
		(void)!read(go[0], &b, 1);
		/* Poll open until the file appears; it must be complete. The
		 * creator says when create returned (a handshake, not a count
		 * of tries: a loaded machine may stretch the creation): one
		 * more open then must find it. */
		for (;;) {
			bool created = read(done[0], &b, 1) == 1;
			struct shmg_region *r;
			int rc = shmg_region_open(&r, at("slow"), SHMG_REGION_RDONLY);
			if (rc == -ENOENT && !created)
				continue;
			if (rc)
				_exit(rc == -ENOENT ? 5 : 2);
			for (size_t k = 0; k < shmg_region_size(r); k++)
				if (B(r)[k] != 0x5a)
					_exit(3);
			_exit(shmg_region_size(r) == size ? 0 : 4);
		}
	}
	close(go[0]);
	close(done[0]);
	struct shmg_region *r;
	struct slow_arg a = { go[1] };
	ck_assert_int_eq(shmg_region_create(&r, at("slow"), size, 0, 0, slow_init, &a), 0);
	char one = 1;
	ck_assert_int_eq(write(done[1], &one, 1), 1);
	int st;
	ck_assert_int_eq(waitpid(c, &st, 0), c);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	shmg_region_close(r);
	close(go[1]);
	close(done[1]);
}
END_TEST

/* Truncate the file behind r to 0 bytes, as another process could. */
static void truncate_under(const char *path)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	close(fd);
}

/* How a child that touches byte `at` of a truncated file mapped with
 * `flags` ends: 0 survived (and saw the flag), else its signal. */
static int touch_truncated(const char *path, unsigned flags, bool other_unguarded)
{
	pid_t pid = tu_fork();
	if (pid == 0) {
		struct shmg_region *r, *u = NULL;
		int v = 7;
		if (shmg_region_create(&r, path, 8192, 0, flags, fill, &v) != 0)
			_exit(10);
		if (other_unguarded) {
			char other[300];
			snprintf(other, sizeof(other), "%s.other", path);
			if (shmg_region_create(&u, other, 8192, 0, 0, fill, &v) != 0)
				_exit(11);
			truncate_under(other);
			/* A fault outside the guarded regions: the default. */
			(void)*(volatile unsigned char *)B(u);
			_exit(12);
		}
		truncate_under(path);
		volatile unsigned char c = B(r)[4096];
		_exit(c == 0 && shmg_region_truncated(r) ? 0 : 13);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit 0x%x", status);
	return 0;
}

/* Another process truncates the file: by default the next access is a
 * SIGBUS that kills; with SHMG_REGION_TRUNCATION the access reads zeros and
 * the region says it was truncated; a fault in a region without the flag
 * still takes its default course while a guarded one exists. */
START_TEST(truncation_survived_when_asked)
{
	ck_assert_int_eq(touch_truncated(at("plain"), 0, false), SIGBUS);
	ck_assert_int_eq(touch_truncated(at("guarded"), SHMG_REGION_TRUNCATION, false), 0);
	ck_assert_int_eq(touch_truncated(at("both"), SHMG_REGION_TRUNCATION, true), SIGBUS);
	struct shmg_region *r;
	int v = 1;
	ck_assert_int_eq(shmg_region_create(&r, at("g2"), 64, 0, SHMG_REGION_TRUNCATION, fill, &v), 0);
	ck_assert(!shmg_region_truncated(r));
	shmg_region_close(r);
	ck_assert(!shmg_region_truncated(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("region");
	TCase *tc = tcase_create("region");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_open_close);
	tcase_add_test(tc, create_modes_and_umask);
	tcase_add_test(tc, create_errors_leave_nothing);
	tcase_add_test(tc, create_eexist_and_replace);
	tcase_add_test(tc, create_ignores_planted_temporary_names);
	tcase_add_test(tc, open_errors);
	tcase_add_test(tc, readonly_and_permissions);
	tcase_add_test(tc, open_in_names);
	tcase_add_test(tc, placement);
	tcase_add_test(tc, big_sparse_file);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("concurrent");
	tcase_set_tags(tr, "workers");
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 20);
	tcase_add_test(tr, no_half_initialised_open);
	tcase_add_test(tr, killed_during_create_leaves_nothing);
	tcase_add_test(tr, truncation_survived_when_asked);
	suite_add_tcase(s, tr);
	return tu_run_suite(s);
}
