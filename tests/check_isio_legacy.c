/*
 * check_isio_legacy: guarded readers of a legacy writer. The writer here
 * follows ImageStreamIO's own write order with plain stores and no fences
 * (write = 1, pixels, circular-buffer copy and CBindex, times, cnt0 + 1,
 * write = 0, post every semaphore below 10, then the semlog), never wakes a
 * futex sleeper, and sets ownerPID as applications do. On circular buffers
 * of 0, 1, 2 and 4 copies a guarded reader must get frames (it starved on
 * 2 and 4: it took ownerPID for a guarded writer and waited for latch
 * sequence words nobody writes), never a torn one, and sleep while the
 * stream is idle.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <shmguard.h>
#include <shmguard/isio.h>

#include "testutil.h"

#define W 64
#define H 32
#define FRAMES 400
#define PERIOD_NS 2000000 /* 500 Hz, a camera's pace */

static char dir[64], path[128];

static void setup(void)
{
	tu_make_dir(dir, "shmg-legacy");
	snprintf(path, sizeof(path), "%s/cam.im.shm", dir);
}

static void teardown(void)
{
	tu_remove_dir(dir);
}

static uint16_t pixel(uint64_t k, size_t i)
{
	return (uint16_t)(k * 31 + i);
}

/* Keep the compiler's order, as a compiled ImageStreamIO writer does; a
 * CPU that reorders stores (aarch64, POWER) may not keep it for the plain
 * stores of the real library, so there the emulation orders them in
 * hardware too (doc/imagestreamio.md, "Legacy compatibility"). */
static void in_order(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

#define AT(b, off, type) (*(volatile type *)(void *)((b) + (off)))

/* Results the reader and the writer send back (a shared page). */
struct outcome {
	uint64_t received, torn, errors;
	uint64_t paced; /* frames the writer left newest for half a period */
	int last_error;
	uint64_t idle_cpu_ns;
	uint8_t writer_kind;
};

/* The legacy writer: FRAMES frames at PERIOD_NS, then it stays (idle,
 * alive) until its pipe closes. A frame after which half a period or more
 * is left before the next one's time stays the newest long enough for a
 * reader that polls every 1 ms: counted in o->paced. When the writer runs
 * late (a loaded machine) it publishes frames back to back to catch up,
 * and only the last of such a burst can be read by anyone. */
static void legacy_writer(struct outcome *o, int stay_fd)
{
	struct shmg_isio *s;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	if (shmg_isio_open(&s, path, 0) != 0 || shmg_isio_get_layout(s, &l) != 0)
		_exit(1);
	unsigned char *b = shmg_region_base(shmg_isio_region(s));
	uint16_t *data = shmg_isio_data(s);
	AT(b, 220, int32_t) = (int32_t)getpid(); /* ownerPID, set by the application */
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t k = 1; k <= FRAMES; k++) {
		AT(b, 288, uint8_t) = 1; /* write */
		in_order();
		for (size_t i = 0; i < W * H; i++)
			data[i] = pixel(k, i);
		if (l.cbsize) {
			uint32_t c = AT(b, 296, uint32_t) + 1 < l.cbsize ? AT(b, 296, uint32_t) + 1 : 0;
			memcpy(b + l.off_cbdata + c * l.data_size, data, l.data_size);
			AT(b, 296, uint32_t) = c; /* CBindex */
			if (c == 0)
				AT(b, 304, uint64_t) += 1; /* CBcycle */
		}
		in_order();
		AT(b, 264, uint64_t) = k; /* cnt0++ */
		in_order();
		AT(b, 288, uint8_t) = 0;
		in_order();
		for (unsigned i = 0; i <= l.nsem; i++) {
			sem_t *sem = (sem_t *)(void *)(b + (i < l.nsem ? l.off_sem + 32 * (size_t)i
								     : l.off_semlog));
			int v;
			if (sem_getvalue(sem, &v) == 0 && v < 10)
				sem_post(sem);
		}
		next.tv_nsec += PERIOD_NS;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = (int64_t)(next.tv_sec - now.tv_sec) * 1000000000 +
			       (next.tv_nsec - now.tv_nsec);
		if (left >= PERIOD_NS / 2)
			o->paced++;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	char c;
	(void)read(stay_fd, &c, 1);
	_exit(0);
}

static uint64_t cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A guarded reader: waits by futex, reads each new frame, checks every
 * pixel; then, the stream idle, one more wait of 1 s, its CPU time kept. */
static void guarded_reader(struct outcome *o, int ready_fd)
{
	struct shmg_isio *r;
	uint16_t f[W * H];
	if (shmg_isio_open(&r, path, 0) != 0)
		_exit(1);
	if (write(ready_fd, "r", 1) != 1)
		_exit(2);
	uint64_t after = 0;
	while (after < FRAMES) {
		struct timespec dl;
		uint64_t now;
		shmg_deadline_in(&dl, 5000000000u);
		int err = shmg_isio_wait(r, after, &now, &dl);
		if (err == 0) {
			struct shmg_wflag_snap snap = {.size = sizeof(snap)};
			err = shmg_isio_read(r, f, sizeof(f), &snap, &dl);
			if (err == 0) {
				o->received++;
				for (size_t i = 0; i < W * H; i++)
					if (f[i] != pixel(snap.frame, i)) {
						o->torn++;
						break;
					}
				after = snap.frame;
				continue;
			}
		}
		o->errors++;
		o->last_error = err;
		if (err == -ETIMEDOUT)
			break;
	}
	struct shmg_isio_info info = {.size = sizeof(info)};
	shmg_isio_inspect(r, &info);
	o->writer_kind = info.writer_kind;
	struct timespec dl;
	shmg_deadline_in(&dl, 1000000000u);
	uint64_t t0 = cpu_ns(), now;
	int err = shmg_isio_wait(r, FRAMES, &now, &dl);
	o->idle_cpu_ns = cpu_ns() - t0;
	if (err != -ETIMEDOUT) {
		o->errors++;
		o->last_error = err;
	}
	shmg_isio_close(r);
	_exit(0);
}

static void legacy_case(unsigned cbsize)
{
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = "cam", .naxis = 2, .dims = {W, H},
		.datatype = SHMG_ISIO_UINT16, .cbsize = (uint16_t)cbsize,
	};
	struct shmg_isio *s;
	struct outcome *o = tu_shared_alloc(4096);
	int ready[2], stay[2];
	char c;
	ck_assert_int_eq(shmg_isio_create(&s, path, &p, 0, 0), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(stay), 0);
	pid_t reader = tu_fork();
	if (reader == 0)
		guarded_reader(o, ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	pid_t writer = tu_fork();
	if (writer == 0) {
		close(stay[1]);
		legacy_writer(o, stay[0]);
	}
	close(stay[0]);
	tu_wait_ok(reader); /* its idle second passed with the writer alive */
	close(stay[1]);
	tu_wait_ok(writer);
	printf("legacy writer, circular buffer %u: %llu of %d frames read (%llu paced), %llu torn, "
	       "%llu errors, %.1f ms CPU in a 1 s idle wait\n", cbsize,
	       (unsigned long long)o->received, FRAMES, (unsigned long long)o->paced,
	       (unsigned long long)o->torn,
	       (unsigned long long)o->errors, (double)o->idle_cpu_ns / 1e6);
	ck_assert_msg(o->torn == 0, "%llu torn frames accepted", (unsigned long long)o->torn);
	ck_assert_msg(o->errors == 0, "%llu errors, the last %d (%s)", (unsigned long long)o->errors,
		      o->last_error, shmg_strerror(o->last_error));
	/* Frames come every 2 ms, a poll sees one at most 1 ms late: most of
	 * those that stayed the newest for a while are read (the old code read
	 * none with a circular buffer). Not most of FRAMES: on a loaded
	 * machine the writer itself runs late and catches up in bursts whose
	 * frames nobody can read (one failing run, its writer ahead of time
	 * after only 47 of 400 frames, read 95). A reader polling every 5 ms
	 * (a mutant of lib/wflag_read.c) reads about 140 of 400 paced. */
	ck_assert_msg(o->received >= o->paced / 2, "%llu of %d frames read, %llu of them paced",
		      (unsigned long long)o->received, FRAMES, (unsigned long long)o->paced);
	/* Sleeping, not spinning: about 1,000 polls of 1 ms cost 15-25 ms of
	 * CPU on a quiet machine, up to 60 ms with 4 runnable tasks on 2 CPUs
	 * (cold caches; this VM's CPU accounting is coarse); a reader that
	 * spun would get at least its share of a CPU, over 300 ms. */
	ck_assert_msg(o->idle_cpu_ns < 200000000u, "%.1f ms of CPU in a 1 s idle wait",
		      (double)o->idle_cpu_ns / 1e6);
	if (cbsize)
		ck_assert_uint_eq(o->writer_kind, SHMG_ISIO_WRITER_LEGACY);
	close(ready[0]);
	close(ready[1]);
	tu_shared_free(o, 4096);
	shmg_isio_close(s);
	ck_assert_int_eq(unlink(path), 0);
}

START_TEST(legacy_writer_no_circular_buffer) { legacy_case(0); }
END_TEST
START_TEST(legacy_writer_circular_buffer_1) { legacy_case(1); }
END_TEST
START_TEST(legacy_writer_circular_buffer_2) { legacy_case(2); }
END_TEST
START_TEST(legacy_writer_circular_buffer_4) { legacy_case(4); }
END_TEST

int main(void)
{
	Suite *s = suite_create("isio_legacy");
	TCase *tc = tcase_create("legacy");
	tcase_set_tags(tc, "workers"); /* not under qemu-user (doc/cross.md) */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, legacy_writer_no_circular_buffer);
	tcase_add_test(tc, legacy_writer_circular_buffer_1);
	tcase_add_test(tc, legacy_writer_circular_buffer_2);
	tcase_add_test(tc, legacy_writer_circular_buffer_4);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
