/*
 * shmguard watch PATH: a live view of one segment, refreshed every
 * --interval, until q or Ctrl-C. For an ImageStreamIO stream a follower
 * thread waits for every frame as a reader does (shmg_isio_wait), so the
 * frame rate and the frames missed are what a reader on this machine sees.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kind.h"
#include "options.h"

static const char help[] =
	"usage: shmguard watch [OPTIONS] PATH\n"
	"A live view of one segment (as shmguard inspect prints it) with the frame or\n"
	"loop rate, the frames a reader missed, and alerts for a stuck write flag or a\n"
	"dead lock owner. q or Ctrl-C quits. Without a terminal, each view is printed\n"
	"after the last, separated by a line of dashes.\n\n"
	"  --interval DURATION  time between views (default 500ms)\n"
	"  --count N            stop after N views (default: until q or Ctrl-C)\n"
	"  --stuck DURATION     a lock or write flag held this long by the same live\n"
	"                       process is a problem (default 5s)\n"
	"  --passive            map read-only and do not follow frames (no missed-frame\n"
	"                       count); the default follows frames as a sleeping reader,\n"
	"                       which needs write access to the stream's waiters byte\n"
	SEG_OPTIONS_HELP
	"  -h, --help           this text\n";

/* Set by SIGINT/SIGTERM and at the end; read by the follower thread too. */
static int stop;

static void on_signal(int sig)
{
	(void)sig;
	shmg_atomic_store(&stop, 1, relaxed); /* lock-free: async-signal-safe */
}

static bool stopping(void)
{
	return shmg_atomic_load(&stop, relaxed) != 0;
}

/* The follower: counts frames and missed frames between two views. */
struct follower {
	const struct segment *s;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	uint64_t seen, missed, last;
	int last_error;
};

static void *follow(void *arg)
{
	struct follower *f = arg;
	uint64_t after = f->s->kind->counter(f->s);
	while (!stopping()) {
		struct timespec dl;
		uint64_t now;
		shmg_deadline_in(&dl, 200000000);
		int err = f->s->kind->wait(f->s, after, &now, &dl);
		pthread_mutex_lock(&f->mu);
		if (err == 0) {
			f->seen += now - after;
			f->missed += now - after - 1;
			after = now;
		} else if (err == SHMG_ECOUNTER) {
			after = now; /* the stream was recreated */
		}
		f->last_error = err == -ETIMEDOUT ? 0 : err;
		pthread_mutex_unlock(&f->mu);
		if (err == SHMG_ETRUNCATED)
			break; /* the views say so, and watch ends */
		if (err == SHMG_EWRITERDEAD)
			nanosleep(&(struct timespec){0, 200000000}, NULL);
	}
	return NULL;
}

/* Put the terminal in "a key at a time, no echo" mode; restore later. */
static bool raw_terminal(struct termios *saved)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) != 0)
		return false;
	t = *saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

/* Wait up to ns for a key; true if it was q. */
static bool wait_for_quit(uint64_t ns, bool keys)
{
	uint64_t end = cli_now_ns() + ns;
	while (!stopping()) {
		uint64_t now = cli_now_ns();
		if (now >= end)
			return false;
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		int ms = (int)((end - now + 999999) / 1000000);
		if (!keys) {
			cli_sleep_ns(end - now, &stop);
			continue;
		}
		if (poll(&p, 1, ms) > 0) {
			char ch;
			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				return true;
		}
	}
	return true;
}

static void show(const char *path, const struct snapshot *prev, const struct snapshot *cur,
		 struct follower *f, uint64_t flag_since_ns, bool tty, uint64_t interval)
{
	if (tty)
		fputs("\033[H\033[2J", stdout);
	time_t t = time(NULL);
	char clock[16];
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&t));
	printf("shmguard watch  %s  every %.0f ms  (q or Ctrl-C quits)\n", clock,
	       (double)interval / 1e6);
	render_text(stdout, path, prev, cur);
	if (f && f->running) {
		pthread_mutex_lock(&f->mu);
		printf("  followed    %llu frames seen, %llu missed (%.3f%%)%s%s\n",
		       (unsigned long long)f->seen, (unsigned long long)f->missed,
		       f->seen ? 100.0 * (double)f->missed / (double)f->seen : 0.0,
		       f->last_error ? "; last wait: " : "",
		       f->last_error ? shmg_strerror(f->last_error) : "");
		pthread_mutex_unlock(&f->mu);
	}
	if (flag_since_ns && cur->t_ns - flag_since_ns >= 1000000000u)
		printf("  %-11s the write flag has stayed set for %.1f s with no frame published\n", "PROBLEM",
		       (double)(cur->t_ns - flag_since_ns) / 1e9);
	if (!tty)
		puts("----");
	fflush(stdout);
}

/* A write flag is stuck when it stays set while no frame is published:
 * since when (0: not set), at which counter. */
struct stuck {
	uint64_t since, counter;
};

static void track_flag(struct stuck *k, const struct snapshot *cur)
{
	uint64_t counter = 0;
	bool flag = cur->kind->write_flag && cur->kind->write_flag(cur, &counter);
	if (!flag || !k->since || counter != k->counter) {
		k->since = flag ? cur->t_ns : 0;
		k->counter = counter;
	}
}

/* Views until q, a signal, --count or an error: the exit status. */
static int views(const struct segment *seg, struct snapshot *snap[2], struct follower *f,
		 uint64_t interval, uint64_t count, bool keys)
{
	bool tty = isatty(STDOUT_FILENO);
	struct stuck k = {0, 0};
	if (!snapshot_take(seg, snap[0]))
		return cli_error("%s: %s", seg->path, SNAPSHOT_SHRANK);
	for (uint64_t n = 0; !stopping() && (!count || n < count); n++) {
		if (wait_for_quit(interval, keys))
			break;
		struct snapshot *prev = snap[n % 2], *cur = snap[(n + 1) % 2];
		if (!snapshot_take(seg, cur))
			return cli_error("%s: %s", seg->path, SNAPSHOT_SHRANK);
		snapshot_mappers(seg, cur);
		snapshot_alerts(prev, cur);
		track_flag(&k, cur);
		show(seg->path, prev, cur, f, k.since, tty, interval);
	}
	return CLI_OK;
}

int cmd_watch(int argc, char **argv)
{
	struct seg_options o = {0};
	uint64_t interval = 500000000, count = 0, stuck = 5000000000u;
	bool passive = false;
	const struct opt opts[] = {
		{"--interval", NULL, OPT_DURATION, &interval, 10000000, UINT64_MAX,
		 "a duration of at least 10ms"},
		{"--stuck", NULL, OPT_DURATION, &stuck, 1000000, UINT64_MAX, "a duration such as 5s"},
		{"--count", NULL, OPT_NUMBER, &count, 1, 1000000000, "a positive number"},
		{"--passive", NULL, OPT_FLAG, &passive, 0, 0, NULL},
		{NULL, NULL, OPT_FLAG, NULL, 0, 0, NULL},
	};
	int first;
	int got = opt_parse("watch", help, opts, &o, argc, argv, &first);
	if (got != OPT_GO_ON)
		return got;
	if (first >= argc)
		return cli_usage_error("watch", "no PATH given");
	if (first + 1 < argc)
		return cli_usage_error("watch", "one PATH only");
	o.writable = !passive;
	snapshot_set_stuck(stuck);

	struct segment seg;
	if (seg_open(&seg, argv[first], &o) != 0)
		return CLI_ERROR;
	struct snapshot *snap[2] = {snapshot_new(&seg), snapshot_new(&seg)};
	if (!snap[0] || !snap[1]) {
		snapshot_free(snap[0]);
		snapshot_free(snap[1]);
		seg_close(&seg);
		return cli_error("out of memory");
	}
	/* Everything allocated: now take the terminal and start the follower. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct termios saved;
	bool keys = raw_terminal(&saved);
	struct follower f = {.s = &seg, .mu = PTHREAD_MUTEX_INITIALIZER};
	if (seg.kind->wait && !passive)
		f.running = pthread_create(&f.thread, NULL, follow, &f) == 0;

	int status = views(&seg, snap, &f, interval, count, keys);
	shmg_atomic_store(&stop, 1, relaxed);
	if (f.running)
		pthread_join(f.thread, NULL);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	snapshot_free(snap[0]);
	snapshot_free(snap[1]);
	seg_close(&seg);
	return status;
}
