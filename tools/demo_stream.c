/*
 * The demo's image stream: an ImageStreamIO-layout file, a writer that
 * never pauses, and two readers that wait on their semaphore as
 * ImageStreamIO readers do: one then copies the image with memcpy, the
 * other with shmg_isio_read. Every frame is filled with its frame number,
 * so a copy is torn exactly when its words differ.
 * Then the writer is SIGKILLed half way through a frame, and a new writer
 * takes over.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmguard.h>

#include "cli.h"
#include "demo.h"

enum phase { READING = 1, WRITER_DEAD = 2, TAKEOVER = 3, DONE = 4 };

/* What the processes share besides the stream (counters each written by
 * one process, read by the parent). */
struct shared {
	int phase;
	int die;      /* writer: stop half way through the next frame */
	int in_frame; /* writer: the mark is set and half the frame is written */
	int claim;    /* the second writer's claim result, + 100 when set */
	uint64_t written, killed_in_frame, kill_ns, detect_ns;
	uint64_t plain_reads, plain_torn, plain_looks, plain_torn_after, plain_flag_ones;
	uint64_t guarded_reads, guarded_torn, guarded_looks, guarded_torn_after;
	uint64_t resumed_frames, resumed_torn;
};

struct ctx {
	char path[320];
	struct shared *sh;
	size_t len;
};

#define GET(field) shmg_atomic_load(&c->sh->field, relaxed)
#define PUT(field, v) shmg_atomic_store(&c->sh->field, (v), relaxed)
#define ADD(field) shmg_atomic_store(&c->sh->field, GET(field) + 1, relaxed)

static void fill(uint64_t *frame, size_t len, uint64_t n)
{
	for (size_t i = 0; i < len / 8; i++)
		frame[i] = n;
}

/* Is every word of the copy the same (the frame number, when known)? */
static bool whole(const uint64_t *frame, size_t len, uint64_t expect, bool known)
{
	uint64_t first = known ? expect : frame[0];
	for (size_t i = 0; i < len / 8; i++)
		if (frame[i] != first)
			return false;
	return true;
}

static struct shmg_isio *open_or_die(struct ctx *c)
{
	struct shmg_isio *s;
	int err = shmg_isio_open(&s, c->path, 0);
	if (err) {
		fprintf(stderr, "shmguard demo: %s: %s\n", c->path, shmg_error_detail(err));
		_exit(1);
	}
	return s;
}

static void writer(void *arg)
{
	struct ctx *c = arg;
	struct shmg_isio *s = open_or_die(c);
	int claim = shmg_isio_claim(s);
	PUT(claim, claim + 100);
	uint64_t *frame = malloc(c->len);
	if (claim < 0 || !frame)
		_exit(1);
	uint64_t n = shmg_isio_counter(s);
	while (GET(phase) != DONE) {
		if (GET(die)) {
			/* Half a frame under the write flag, then wait for the kill. */
			fill(frame, c->len, n + 1);
			void *data = shmg_isio_begin(s);
			shmg_atomic_store_memcpy(data, frame, c->len / 2, relaxed);
			PUT(killed_in_frame, n + 1);
			shmg_atomic_store(&c->sh->in_frame, 1, release);
			for (;;)
				pause();
		}
		fill(frame, c->len, n + 1);
		if (shmg_isio_write(s, frame, c->len, &n) != 0)
			_exit(1);
		ADD(written);
	}
	shmg_isio_release(s);
	_exit(0);
}

static void plain_reader(void *arg)
{
	struct ctx *c = arg;
	struct shmg_isio *s = open_or_die(c);
	uint64_t *buf = malloc(c->len);
	const unsigned char *md = shmg_region_base(shmg_isio_region(s));
	if (!buf || shmg_isio_sem_claim(s, NULL) < 0)
		_exit(1);
	for (int ph; (ph = GET(phase)) != DONE;) {
		struct timespec dl;
		uint64_t now;
		if (ph == WRITER_DEAD) {
			/* A viewer copying the current image, as display tools do. */
			memcpy(buf, shmg_isio_data(s), c->len);
			ADD(plain_looks);
			if (!whole(buf, c->len, 0, false))
				ADD(plain_torn_after);
			/* The write flag as a legacy reader sees it (doc/imagestreamio.md). */
			if (((const volatile unsigned char *)md)[DEMO_ISIO_WRITE] == 1)
				ADD(plain_flag_ones);
			cli_sleep_ns(10000000, NULL);
			continue;
		}
		shmg_deadline_in(&dl, 100000000);
		if (shmg_isio_sem_wait(s, &now, &dl) != 0 || ph != READING)
			continue;
		memcpy(buf, shmg_isio_data(s), c->len);
		ADD(plain_reads);
		if (!whole(buf, c->len, 0, false))
			ADD(plain_torn);
	}
	shmg_isio_close(s);
	_exit(0);
}

static void guarded_reader(void *arg)
{
	struct ctx *c = arg;
	struct shmg_isio *s = open_or_die(c);
	uint64_t *buf = malloc(c->len);
	if (!buf || shmg_isio_sem_claim(s, NULL) < 0)
		_exit(1);
	uint64_t last = shmg_isio_counter(s);
	for (int ph; (ph = GET(phase)) != DONE;) {
		struct timespec dl;
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		uint64_t now;
		if (ph == WRITER_DEAD) {
			if (!GET(detect_ns)) {
				shmg_deadline_in(&dl, 1000000000);
				int err = shmg_isio_wait(s, last, &now, &dl);
				if (err == SHMG_EWRITERDEAD)
					PUT(detect_ns, cli_now_ns());
				else if (err == 0)
					last = now; /* frames published before the kill */
				continue;
			}
			shmg_deadline_in(&dl, 10000000);
			if (shmg_isio_read(s, buf, c->len, &snap, &dl) == 0) {
				ADD(guarded_looks);
				if (!whole(buf, c->len, snap.frame, true))
					ADD(guarded_torn_after);
			}
			cli_sleep_ns(10000000, NULL);
			continue;
		}
		shmg_deadline_in(&dl, 100000000);
		int err = ph == READING ? shmg_isio_sem_wait(s, &now, &dl)
					: shmg_isio_wait(s, last, &now, &dl);
		if (err)
			continue;
		shmg_deadline_in(&dl, 100000000);
		if (shmg_isio_read(s, buf, c->len, &snap, &dl) != 0)
			continue;
		last = snap.frame;
		bool ok = whole(buf, c->len, snap.frame, true);
		if (ph == READING) {
			ADD(guarded_reads);
			if (!ok)
				ADD(guarded_torn);
		} else if (ph == TAKEOVER) {
			ADD(resumed_frames);
			if (!ok)
				ADD(resumed_torn);
		}
	}
	shmg_isio_close(s);
	_exit(0);
}

/* Wait until cond() or the time is up or the user interrupted. */
static bool wait_until(const struct demo *d, struct ctx *c, double seconds,
		       bool (*cond)(struct ctx *), void (*show)(const struct demo *, struct ctx *, double))
{
	uint64_t t0 = cli_now_ns();
	for (;;) {
		double el = (double)(cli_now_ns() - t0) / 1e9;
		if (*d->interrupted)
			return false;
		if ((cond && cond(c)) || el >= seconds)
			return true;
		if (show)
			show(d, c, el);
		cli_sleep_ns(20000000, d->interrupted);
	}
}

static bool writer_in_frame(struct ctx *c)
{
	return shmg_atomic_load(&c->sh->in_frame, acquire) != 0;
}

static bool death_seen(struct ctx *c)
{
	return GET(detect_ns) != 0 && GET(plain_looks) >= 20 && GET(guarded_looks) >= 20;
}

static bool claimed(struct ctx *c)
{
	return GET(claim) != 0;
}

static void show_reading(const struct demo *d, struct ctx *c, double el)
{
	demo_progress(d, 1, "image stream, %zu KiB frames, writer never pauses: %.1f/%.1f s, "
		      "%llu written; memcpy: %llu torn of %llu; shmguard: %llu torn of %llu",
		      c->len / 1024, el, d->stage_s[0], (unsigned long long)GET(written),
		      (unsigned long long)GET(plain_torn), (unsigned long long)GET(plain_reads),
		      (unsigned long long)GET(guarded_torn), (unsigned long long)GET(guarded_reads));
}

static void show_dead(const struct demo *d, struct ctx *c, double el)
{
	(void)el;
	demo_progress(d, 2, "writer SIGKILLed mid-frame %llu: memcpy viewer %llu torn of %llu; "
		      "shmguard reader: %s",
		      (unsigned long long)GET(killed_in_frame),
		      (unsigned long long)GET(plain_torn_after), (unsigned long long)GET(plain_looks),
		      GET(detect_ns) ? "writer death reported" : "waiting...");
}

static void show_takeover(const struct demo *d, struct ctx *c, double el)
{
	(void)el;
	demo_progress(d, 2, "a new writer took over: %llu frames read after it, %llu torn",
		      (unsigned long long)GET(resumed_frames), (unsigned long long)GET(resumed_torn));
}

static int make_stream(struct ctx *c, bool quick)
{
	struct shmg_isio *s;
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "shmguard-demo", .naxis = 2,
		.dims = {quick ? 256u : 512u, quick ? 128u : 256u, 1},
		.datatype = SHMG_ISIO_UINT64, .nsem = 4, .cbsize = 4,
	};
	struct shmg_isio_layout l = {.size = sizeof(l)};
	int err = shmg_isio_create(&s, c->path, &p, 0600, 0);
	if (err)
		return cli_error("demo: creating %s: %s", c->path, shmg_error_detail(err)), -1;
	shmg_isio_get_layout(s, &l);
	c->len = l.data_size;
	shmg_isio_close(s);
	return 0;
}

int demo_stream(const struct demo *d, struct stream_result *r)
{
	struct ctx c = {.sh = demo_shared(sizeof(struct shared))};
	pid_t w = -1, w2 = -1, pr = -1, gr = -1;
	int rc = -1;

	snprintf(c.path, sizeof(c.path), "%s/shmguard-demo.im.shm", d->dir);
	if (!c.sh || make_stream(&c, d->quick) != 0)
		goto out;
	c.sh->phase = READING;
	if ((pr = demo_fork(plain_reader, &c)) < 0 || (gr = demo_fork(guarded_reader, &c)) < 0 ||
	    (w = demo_fork(writer, &c)) < 0)
		goto out;
	if (!wait_until(d, &c, d->stage_s[0], NULL, show_reading))
		goto out;

	/* The writer stops half way through a frame, under its write flag. */
	shmg_atomic_store(&c.sh->die, 1, relaxed);
	if (!wait_until(d, &c, 5.0, writer_in_frame, NULL) || !writer_in_frame(&c)) {
		cli_error("demo: the writer did not reach its last frame");
		goto out;
	}
	shmg_atomic_store(&c.sh->phase, WRITER_DEAD, relaxed);
	shmg_atomic_store(&c.sh->kill_ns, cli_now_ns(), relaxed);
	demo_kill(w);
	w = -1;
	if (!wait_until(d, &c, d->stage_s[1], death_seen, show_dead))
		goto out;

	/* A new writer claims the stream from the dead one and carries on. */
	shmg_atomic_store(&c.sh->die, 0, relaxed);
	shmg_atomic_store(&c.sh->phase, TAKEOVER, relaxed);
	if ((w2 = demo_fork(writer, &c)) < 0 || !wait_until(d, &c, 5.0, claimed, NULL))
		goto out;
	if (!wait_until(d, &c, d->stage_s[2], NULL, show_takeover))
		goto out;
	rc = 0;
out:
	if (c.sh) {
		shmg_atomic_store(&c.sh->phase, DONE, relaxed);
		cli_sleep_ns(150000000, NULL); /* let them leave their waits */
	}
	demo_kill(w), demo_kill(w2), demo_kill(pr), demo_kill(gr);
	demo_progress_done();
	if (c.sh) {
		struct shared *sh = c.sh;
		*r = (struct stream_result){
			.written = sh->written, .plain_reads = sh->plain_reads,
			.plain_torn = sh->plain_torn, .guarded_reads = sh->guarded_reads,
			.guarded_torn = sh->guarded_torn, .killed_in_frame = sh->killed_in_frame,
			.plain_looks = sh->plain_looks, .plain_torn_after = sh->plain_torn_after,
			.plain_flag_stuck = sh->plain_looks && sh->plain_flag_ones == sh->plain_looks,
			.guarded_looks = sh->guarded_looks, .guarded_torn_after = sh->guarded_torn_after,
			.detect_ms = sh->detect_ns ? (double)(sh->detect_ns - sh->kill_ns) / 1e6 : -1.0,
			.claim = sh->claim ? sh->claim - 100 : -1,
			.resumed_frames = sh->resumed_frames, .resumed_torn = sh->resumed_torn,
		};
		demo_unshare(c.sh, sizeof(struct shared));
	}
	unlink(c.path);
	return rc;
}
