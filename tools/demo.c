/*
 * shmguard demo: the point of the project in about 25 seconds, with real
 * processes over real shared-memory files: torn frames without the guard
 * and none with it, a writer killed mid-frame and what readers make of it,
 * a lock holder killed inside an FPS update and nothing lost. Ends with a
 * summary table; exits non-zero if the guarded side ever failed.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

#include "cli.h"
#include "demo.h"

static const char help[] =
	"usage: shmguard demo [OPTIONS]\n"
	"Show, with real processes over real shared-memory files, what shmguard changes:\n"
	"  1. an ImageStreamIO-layout stream written by a writer that never pauses, read\n"
	"     by a reader copying with memcpy and one using the guard: torn frames counted\n"
	"  2. the writer SIGKILLed half way through a frame: what each reader sees, how\n"
	"     soon the guarded reader learns the writer is dead, a new writer taking over\n"
	"  3. a milk FPS parameter incremented by 4 processes, plainly and under its lock,\n"
	"     with one process SIGKILLed while it holds the lock\n"
	"then a summary table. About 25 seconds; the files are removed at the end.\n\n"
	"  --quick      a short run (a few seconds), as make check does\n"
	"  --dir DIR    where to put the files (default /dev/shm, else $TMPDIR or /tmp)\n"
	"  -h, --help   this text\n\n"
	"Exit status: 0 when the guarded side had no torn frame and lost no update,\n"
	"1 otherwise or on error, 2 bad usage.\n";

static volatile int interrupted;
static bool progress_tty;
static uint64_t progress_last_ns;
static int progress_stage;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

void demo_progress(const struct demo *d, int stage, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	(void)d;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	uint64_t now = cli_now_ns();
	if (progress_tty) {
		/* One line, rewritten in place; cut to the terminal's width. */
		printf("\r\033[K[%d/3] %.*s", stage, 110, line);
	} else if (stage != progress_stage || now - progress_last_ns >= 1000000000u) {
		printf("[%d/3] %s\n", stage, line);
		progress_last_ns = now;
	}
	progress_stage = stage;
	fflush(stdout);
}

void demo_progress_done(void)
{
	if (progress_tty)
		printf("\r\033[K");
	fflush(stdout);
}

pid_t demo_fork(void (*fn)(void *), void *arg)
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("demo: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the demo */
		if (getppid() != parent)
			_exit(1);
		fn(arg);
		_exit(0);
	}
	return pid;
}

void demo_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void *demo_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void demo_unshare(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

/* 1234567 -> "1,234,567" */
static const char *count(char *buf, uint64_t n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n), o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static void row(const char *what, const char *without, const char *with)
{
	printf("  %-38s %-30s %s\n", what, without, with);
}

static void summary(const struct demo *d, const struct stream_result *s,
		    const struct fps_result *f)
{
	char a[32], b[32], c1[64], c2[64];
	printf("\nshmguard demo: summary\n");
	printf("  %-38s %-30s %s\n", "", "without shmguard", "with shmguard");
	printf("1 image stream, writer never pauses, %.1f s\n", d->stage_s[0]);
	snprintf(c1, sizeof(c1), "%s of %s", count(a, s->plain_torn), count(b, s->plain_reads));
	snprintf(c2, sizeof(c2), "%s of %s", count(a, s->guarded_torn), count(b, s->guarded_reads));
	row("torn frames accepted", c1, c2);
	printf("2 writer SIGKILLed half way through frame %s\n", count(a, s->killed_in_frame));
	snprintf(c1, sizeof(c1), "%s of %s looks", count(a, s->plain_torn_after), count(b, s->plain_looks));
	snprintf(c2, sizeof(c2), "%s of %s looks", count(a, s->guarded_torn_after), count(b, s->guarded_looks));
	row("partial frame accepted", c1, c2);
	if (s->detect_ms >= 0)
		snprintf(c2, sizeof(c2), "reported after %.0f ms", s->detect_ms);
	else
		snprintf(c2, sizeof(c2), "NOT reported");
	row("writer death", s->plain_flag_stuck ? "never: write = 1 for good" : "never", c2);
	snprintf(c2, sizeof(c2), "%s, then %s frames, %s torn",
		 s->claim == SHMG_OWNERDEAD ? "claimed from the dead" : "NOT claimed", count(a, s->resumed_frames),
		 count(b, s->resumed_torn));
	row("a new writer takes over", "-", c2);
	printf("3 FPS parameter, %u processes x %s increments plainly, x %s under the lock\n",
	       f->procs, count(a, f->plain_per_proc), count(b, f->per_proc));
	snprintf(c1, sizeof(c1), "%s of %s", count(a, f->plain_expected - f->plain_value),
		 count(b, f->plain_expected));
	uint64_t lost = f->guarded_expected > f->guarded_value ? f->guarded_expected - f->guarded_value
							      : f->guarded_value - f->guarded_expected;
	snprintf(c2, sizeof(c2), "%s of %s", count(a, lost), count(b, f->guarded_expected));
	row("updates lost", c1, c2);
	if (f->recoveries == 1 && f->recover_ms >= 0)
		snprintf(c2, sizeof(c2), "lock recovered in %.1f ms, cnt0 exact", f->recover_ms);
	else
		snprintf(c2, sizeof(c2), "%u recoveries", f->recoveries);
	row("a holder SIGKILLed inside the lock", "-", c2);
}

/* What the guarded side promised; a failure names itself. */
static int verdict(const struct stream_result *s, const struct fps_result *f)
{
	const char *bad = NULL;
	if (s->guarded_torn || s->guarded_torn_after || s->resumed_torn)
		bad = "a guarded reader accepted a torn frame";
	else if (s->guarded_reads == 0 || s->guarded_looks == 0)
		bad = "the guarded reader read nothing";
	else if (s->detect_ms < 0)
		bad = "the writer's death was not reported";
	else if (s->claim != SHMG_OWNERDEAD || s->resumed_frames == 0)
		bad = "the new writer did not take over";
	else if (f->guarded_value != f->guarded_expected || f->guarded_cnt0 != f->guarded_expected)
		bad = "updates under the lock were lost or doubled";
	else if (f->recoveries != 1)
		bad = "the dead holder's lock was not recovered exactly once";
	if (bad)
		return cli_error("demo FAILED: %s", bad);
	printf("\nWith the guard: 0 torn frames, 0 lost updates, the dead writer and the dead lock "
	       "holder handled.\n");
	return CLI_OK;
}

static int make_dir(struct demo *d, const char *base)
{
	struct stat st;
	if (!base) {
		base = getenv("TMPDIR");
		if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
			base = "/dev/shm";
		else if (!base || !*base)
			base = "/tmp";
	}
	if ((size_t)snprintf(d->dir, sizeof(d->dir), "%s/shmguard-demo.XXXXXX", base) >= sizeof(d->dir))
		return cli_error("demo: directory name too long: %s", base);
	if (!mkdtemp(d->dir)) /* mode 0700 */
		return cli_error("demo: cannot create a directory in %s: %s", base, strerror(errno));
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = {.interrupted = &interrupted};
	const char *base = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(help, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--quick") == 0) {
			d.quick = true;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			base = argv[++i];
		} else {
			return cli_usage_error("demo", "unexpected '%s'", argv[i]);
		}
	}
	d.stage_s[0] = d.quick ? 1.5 : 18.0; /* reading */
	d.stage_s[1] = d.quick ? 3.0 : 5.0;  /* at most, waiting for the death to be seen */
	d.stage_s[2] = d.quick ? 0.7 : 4.0;  /* after the takeover */
	if (make_dir(&d, base))
		return CLI_ERROR;
	progress_tty = isatty(STDOUT_FILENO);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("shmguard demo: real processes over files in %s%s\n", d.dir,
	       d.quick ? " (quick run)" : "; about 25 s, Ctrl-C stops it");
	struct stream_result s = {0};
	struct fps_result f = {0};
	int err = demo_stream(&d, &s);
	if (!err && !interrupted)
		err = demo_fps(&d, &f);
	rmdir(d.dir);
	if (interrupted)
		return cli_error("demo: interrupted; files removed");
	if (err)
		return CLI_ERROR;
	summary(&d, &s, &f);
	return verdict(&s, &f);
}
