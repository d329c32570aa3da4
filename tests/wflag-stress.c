/*
 * wflag-stress: one writer and several readers over a real shared file,
 * each reader opening it on its own (so the mappings sit at different
 * addresses), every frame filled with a pattern derived from its frame
 * number: any byte of another frame in an accepted copy is caught.
 * Optionally the writer is SIGKILLed, at random or at each step of the
 * protocol, and a new writer takes over; readers must report the dead
 * writer, never hang, never accept a torn frame.
 *
 *   wflag-stress [-s BYTES] [-r READERS] [-t MS] [-c COPIES] [-p PAUSE_US]
 *                [-k none|random|steps] [-n ROUNDS]
 *
 * Prints one summary line; exits 1 on a torn frame, a hang or a missed
 * writer death, 2 on bad arguments.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include <shmguard.h>
#include <shmguard/wflag.h>

#include "testing.h" /* the writer's protocol points (test build) */

#include "../tools/bench/wflag_words.h"

#define MAX_READERS 8

/* Writer steps where a crash test kills it (the last three inside publish). */
enum step {
	STEP_AFTER_BEGIN, /* mark set, nothing written */
	STEP_MID_FRAME,   /* half the frame stored */
	STEP_BEFORE_PUBLISH,
	STEP_AFTER_COPY = 2 + SHMG__WFLAG_AFTER_COPY,
	STEP_AFTER_COUNTER = 2 + SHMG__WFLAG_AFTER_COUNTER,
	STEP_AFTER_MARK = 2 + SHMG__WFLAG_AFTER_MARK,
	NSTEPS
};

/* Shared between the processes (an anonymous MAP_SHARED page). */
struct board {
	uint32_t stop;
	uint32_t round;             /* incremented when a writer is killed */
	uint32_t claims;            /* writers that claimed the stream */
	uint64_t written;           /* frames published, all writers */
	uint64_t read[MAX_READERS]; /* frames accepted */
	uint64_t retries[MAX_READERS];
	uint64_t toofast[MAX_READERS];
	uint64_t missed[MAX_READERS];
	uint64_t torn[MAX_READERS];
	uint64_t dead_seen[MAX_READERS]; /* SHMG_EWRITERDEAD reports */
	uint32_t dead_round[MAX_READERS]; /* last round whose death was seen */
	uint64_t errors[MAX_READERS];
	int last_error[MAX_READERS];
};

static struct {
	size_t size;
	unsigned readers, copies, rounds;
	unsigned ms, pause_us;
	enum { KILL_NONE, KILL_RANDOM, KILL_STEPS } kill;
	char path[256];
	size_t file_size, off_main, off_copies;
} opt = {.size = 65536, .readers = 2, .ms = 1000, .rounds = 6};

static struct board *board;

static uint64_t rand64(uint64_t *state) /* xorshift64* */
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}

static uint64_t mix(uint64_t frame, uint64_t i)
{
	uint64_t x = frame * 0x9E3779B97F4A7C15ULL ^ (i + 1) * 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 31;
	return x * 0x94D049BB133111EBULL;
}

static void fill(uint64_t *w, size_t words, uint64_t frame)
{
	w[0] = frame;
	for (size_t i = 1; i < words; i++)
		w[i] = mix(frame, i);
}

/* true iff w is exactly frame `frame`. */
static bool intact(const uint64_t *w, size_t words, uint64_t frame)
{
	if (w[0] != frame)
		return false;
	for (size_t i = 1; i < words; i++)
		if (w[i] != mix(frame, i))
			return false;
	return true;
}

static int open_guard(struct shmg_region **r, struct shmg_wflag **g)
{
	struct shmg_wflag_place p = {
		.size = sizeof(p), .parts = SHMG_WFLAG_WAITERS | SHMG_WFLAG_OWNER,
		.mark = OFF_MARK, .counter = OFF_COUNTER,
		.waiters = OFF_WAITERS, .owner = OFF_OWNER,
	};
	int err = shmg_region_open(r, opt.path, 0);
	if (err)
		return err;
	if (opt.copies) {
		p.copies = opt.copies;
		p.index = OFF_INDEX;
		p.seq = OFF_SEQ;
		p.seq_stride = SEQ_STRIDE;
		p.data = opt.off_copies;
		p.data_len = opt.size;
	}
	return shmg_wflag_new(g, *r, &p);
}

static int kill_step = -1;
static uint64_t kill_frame;

static void die_here(int step)
{
	if (step + 2 == kill_step)
		raise(SIGKILL);
}

static void maybe_die(enum step s, uint64_t frame)
{
	if ((int)s == kill_step && frame == kill_frame)
		raise(SIGKILL);
}

/* A writer process: claim, then write frames until told to stop. */
static void writer(int step, bool expect_takeover)
{
	struct shmg_region *r;
	struct shmg_wflag *g;
	size_t words = opt.size / 8;
	uint64_t *frame = malloc(opt.size);

	if (!frame || open_guard(&r, &g) != 0)
		_exit(10);
	int claimed = shmg_wflag_claim(g);
	if (claimed != (expect_takeover ? SHMG_OWNERDEAD : 0)) {
		fprintf(stderr, "writer: claim returned %d (%s)\n", claimed,
			shmg_strerror(claimed));
		_exit(11);
	}
	shmg_atomic_inc(&board->claims, release);
	uint64_t seed = (uint64_t)getpid() * 7919;
	kill_step = step;
	kill_frame = shmg_wflag_counter(g) + 1 + rand64(&seed) % 20;
	if (step >= STEP_AFTER_COPY)
		shmg__test_point = die_here;
	unsigned char *main_buf = (unsigned char *)shmg_region_base(r) + opt.off_main;
	while (!shmg_atomic_load(&board->stop, relaxed)) {
		uint64_t n = shmg_wflag_counter(g) + 1;
		fill(frame, words, n);
		if (step >= STEP_AFTER_COPY && n != kill_frame)
			shmg__test_point = NULL;
		else if (step >= STEP_AFTER_COPY)
			shmg__test_point = die_here;
		void *copy = shmg_wflag_begin(g);
		maybe_die(STEP_AFTER_BEGIN, n);
		unsigned char *dst = copy ? copy : main_buf;
		shmg_atomic_store_memcpy(dst, frame, opt.size / 2, relaxed);
		maybe_die(STEP_MID_FRAME, n);
		shmg_atomic_store_memcpy(dst + opt.size / 2,
					 (unsigned char *)frame + opt.size / 2,
					 opt.size - opt.size / 2, relaxed);
		maybe_die(STEP_BEFORE_PUBLISH, n);
		if (shmg_wflag_publish(g) != n)
			_exit(12);
		shmg_atomic_inc(&board->written, relaxed);
		if (opt.pause_us)
			usleep(opt.pause_us);
	}
	shmg_wflag_release(g);
	_exit(0);
}

static void count_error(unsigned me, int err)
{
	board->errors[me]++;
	board->last_error[me] = err;
}

static void reader(unsigned me)
{
	struct shmg_region *r;
	struct shmg_wflag *g;
	size_t words = opt.size / 8;
	uint64_t *buf = malloc(opt.size);

	if (!buf || open_guard(&r, &g) != 0)
		_exit(20);
	const void *main_buf = (const unsigned char *)shmg_region_base(r) + opt.off_main;
	uint64_t last = 0;
	struct timespec progress; /* a frame or a verdict came */
	shmg_deadline_in(&progress, 0);
	while (!shmg_atomic_load(&board->stop, relaxed)) {
		struct timespec dl, hang;
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		uint64_t now;
		/* Short waits, so the end of the run is noticed; a hang is
		 * 10 s with neither a frame nor a verdict. */
		shmg_deadline_in(&dl, 100 * 1000000u);
		int err = shmg_wflag_wait_update(g, last, &now, &dl);
		if (err == 0)
			err = shmg_wflag_read(g, buf, main_buf, opt.size, &snap, &dl);
		if (err != -ETIMEDOUT)
			shmg_deadline_in(&progress, 0);
		hang = progress;
		hang.tv_sec += 10;
		if (err == 0) {
			if (!intact(buf, words, snap.frame)) {
				board->torn[me]++;
				fprintf(stderr, "reader %u: TORN frame %llu accepted\n",
					me, (unsigned long long)snap.frame);
			}
			if (snap.frame < last) {
				count_error(me, SHMG_ECOUNTER);
			} else if (snap.frame > last) {
				board->missed[me] += snap.frame - last - 1;
				last = snap.frame;
			}
			board->read[me]++;
			board->retries[me] += snap.retries;
		} else if (err == SHMG_ETOOFAST) {
			board->toofast[me]++;
		} else if (err == SHMG_EWRITERDEAD) {
			board->dead_seen[me]++;
			shmg_atomic_store(&board->dead_round[me],
					  shmg_atomic_load(&board->round, acquire),
					  release);
			usleep(1000); /* until a new writer claims the stream */
		} else if (err == -ETIMEDOUT) {
			if (shmg_deadline_passed(&hang) &&
			    !shmg_atomic_load(&board->stop, relaxed)) {
				count_error(me, err);
				fprintf(stderr, "reader %u: no frame and no verdict in 10 s\n", me);
				_exit(21);
			}
		} else {
			count_error(me, err);
		}
	}
	_exit(0);
}

static int create_stream(void)
{
	struct shmg_region *r;
	size_t seqs = opt.copies ? (size_t)opt.copies * SEQ_STRIDE : 0;
	opt.off_main = (OFF_SEQ + seqs + 63) & ~(size_t)63;
	opt.off_copies = opt.off_main + opt.size;
	opt.file_size = opt.off_copies + (size_t)opt.copies * opt.size;
	int err = shmg_region_create(&r, opt.path, opt.file_size, 0600,
				     SHMG_REGION_REPLACE, NULL, NULL);
	if (err)
		return err;
	shmg_region_close(r);
	return 0;
}

/* Wait (bounded) until every reader has reported the death of round k. */
static bool deaths_reported(uint32_t k)
{
	for (int ms = 0; ms < 10000; ms++) {
		unsigned seen = 0;
		for (unsigned i = 0; i < opt.readers; i++)
			seen += shmg_atomic_load(&board->dead_round[i], acquire) == k;
		if (seen == opt.readers)
			return true;
		usleep(1000);
	}
	return false;
}

static int run(void)
{
	pid_t readers[MAX_READERS], w;
	int status, failed = 0;
	uint64_t seed = 12345;

	for (unsigned i = 0; i < opt.readers; i++)
		if ((readers[i] = fork()) == 0)
			reader(i);
	unsigned rounds = opt.kill == KILL_NONE ? 0 : opt.rounds;
	unsigned deaths = 0, undetected = 0;
	bool takeover = false;
	for (unsigned k = 0; k < rounds; k++) {
		int step = opt.kill == KILL_STEPS ? (int)(k % NSTEPS) : -1;
		if (step == STEP_AFTER_COPY && !opt.copies)
			step = STEP_AFTER_COUNTER; /* no copy step without a latch */
		if ((w = fork()) == 0)
			writer(step, takeover);
		/* Killed before it claimed, a writer would leave no trace. */
		bool reaped = false;
		while (shmg_atomic_load(&board->claims, acquire) < k + 1) {
			if (waitpid(w, &status, WNOHANG) == w) {
				reaped = true; /* it may have claimed just before */
				break;
			}
			usleep(100);
		}
		if (reaped && shmg_atomic_load(&board->claims, acquire) < k + 1) {
			fprintf(stderr, "writer of round %u ended before claiming: 0x%x\n",
				k, status);
			failed = 1;
			break;
		}
		if (opt.kill == KILL_RANDOM && !reaped) {
			usleep(1000 + (unsigned)(rand64(&seed) % 50000));
			kill(w, SIGKILL);
		}
		if ((!reaped && waitpid(w, &status, 0) != w) || !WIFSIGNALED(status) ||
		    WTERMSIG(status) != SIGKILL) {
			fprintf(stderr, "writer of round %u ended with 0x%x\n", k, status);
			failed = 1;
			break;
		}
		deaths++;
		shmg_atomic_store(&board->round, k + 1, release);
		if (!deaths_reported(k + 1))
			undetected++;
		takeover = true;
	}
	if ((w = fork()) == 0)
		writer(-1, takeover);
	usleep(opt.ms * 1000u);
	shmg_atomic_store(&board->stop, 1, relaxed);
	if (waitpid(w, &status, 0) != w || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "last writer ended with 0x%x\n", status);
		failed = 1;
	}
	for (unsigned i = 0; i < opt.readers; i++)
		if (waitpid(readers[i], &status, 0) != readers[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "reader %u ended with 0x%x\n", i, status);
			failed = 1;
		}

	uint64_t read = 0, retries = 0, toofast = 0, missed = 0, torn = 0,
		 dead = 0, errors = 0;
	for (unsigned i = 0; i < opt.readers; i++) {
		read += board->read[i];
		retries += board->retries[i];
		toofast += board->toofast[i];
		missed += board->missed[i];
		torn += board->torn[i];
		dead += board->dead_seen[i];
		errors += board->errors[i];
		if (board->errors[i])
			fprintf(stderr, "reader %u: %llu errors, last %s\n", i,
				(unsigned long long)board->errors[i],
				shmg_strerror(board->last_error[i]));
	}
	printf("wflag-stress: size=%zu copies=%u readers=%u pause_us=%u kill=%s "
	       "written=%llu read=%llu retries=%llu toofast=%llu missed=%llu "
	       "torn=%llu writer_kills=%u dead_reports=%llu undetected=%u errors=%llu\n",
	       opt.size, opt.copies, opt.readers, opt.pause_us,
	       opt.kill == KILL_NONE ? "none" : opt.kill == KILL_RANDOM ? "random" : "steps",
	       (unsigned long long)board->written, (unsigned long long)read,
	       (unsigned long long)retries, (unsigned long long)toofast,
	       (unsigned long long)missed, (unsigned long long)torn, deaths,
	       (unsigned long long)dead, undetected, (unsigned long long)errors);
	if (torn || undetected || errors || read == 0)
		failed = 1;
	return failed;
}

static unsigned number(const char *s, long long lo, long long hi)
{
	const char *why;
	long long v = strtonum(s, lo, hi, &why);
	if (why) {
		fprintf(stderr, "wflag-stress: '%s' is %s (%lld..%lld)\n", s, why, lo, hi);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "s:r:t:c:p:k:n:")) != -1) {
		switch (c) {
		case 's': opt.size = number(optarg, 16, 64 << 20); break;
		case 'r': opt.readers = number(optarg, 1, MAX_READERS); break;
		case 't': opt.ms = number(optarg, 1, 3600000); break;
		case 'c': opt.copies = number(optarg, 0, 64); break;
		case 'p': opt.pause_us = number(optarg, 0, 1000000); break;
		case 'n': opt.rounds = number(optarg, 1, 100000); break;
		case 'k':
			if (!strcmp(optarg, "none")) opt.kill = KILL_NONE;
			else if (!strcmp(optarg, "random")) opt.kill = KILL_RANDOM;
			else if (!strcmp(optarg, "steps")) opt.kill = KILL_STEPS;
			else { fprintf(stderr, "wflag-stress: -k none|random|steps\n"); return 2; }
			break;
		default:
			return 2;
		}
	}
	if (opt.size % 8 || opt.copies == 1) {
		fprintf(stderr, "wflag-stress: size must be a multiple of 8, copies 0 or >= 2\n");
		return 2;
	}
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(opt.path, sizeof(opt.path), "%s/shmg-wflag-stress.%ld", dir, (long)getpid());
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED)
		return 1;
	int err = create_stream();
	if (err) {
		fprintf(stderr, "wflag-stress: cannot create %s: %s\n", opt.path, shmg_strerror(err));
		return 1;
	}
	int failed = run();
	unlink(opt.path);
	return failed;
}
