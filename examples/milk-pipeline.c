/*
 * milk-pipeline: three milk processing loops, each with its PINFO file,
 * and a monitor, over real files (shmguard/loop.h):
 *
 *   camera     writes frames into "cam" as long as it has credit: mode CNT2
 *              on its own stream (waits while cnt0 >= cnt2), loopcntMax =
 *              the number of frames;
 *   process    waits for camera frames (mode CNT0, or SEMAPHORE with
 *              "semaphore"), writes one frame into "out" per frame
 *              received, and gives back the credit of the frames it missed;
 *   consumer   waits for "out" frames (CNT0) and gives back one credit per
 *              frame received or missed.
 *
 * Every camera frame returns its credit exactly once, so the camera is
 * never more than WINDOW frames ahead, nothing deadlocks, and cnt2 ends at
 * FRAMES + WINDOW. The monitor
 * (this process) pauses `process`, single-steps it 3 times, resumes it,
 * then sends exit to `process` and `consumer` once they have seen the last
 * frame, and checks: every frame accounted for (received + missed =
 * written, at both stages), every credit given back exactly once, exit
 * obeyed, and no stage burning CPU while the pipeline is paused (its CPU
 * time from /proc/PID/stat).
 *
 * usage: milk-pipeline DIR FRAMES [cnt0|semaphore]; exit 0 when all holds.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmguard.h>
#include <shmguard/loop.h>

#define WINDOW 4
#define PAUSE_WINDOW_MS 300

static const char *dir;
static unsigned frames;
static unsigned mode = SHMG_LOOP_CNT0;

static int is_monitor;
static void kill_stages(void);

static void die(const char *what, int err)
{
	if (is_monitor)
		kill_stages();
	fprintf(stderr, "milk-pipeline: %s: %s (%s)\n", what, shmg_strerror(err),
		shmg_error_detail(err));
	exit(1);
}

static struct shmg_isio *stream_open(const char *name)
{
	char path[256];
	struct shmg_isio *s;
	int err = shmg_isio_path(path, sizeof(path), name);
	if (err || (err = shmg_isio_open(&s, path, 0)) != 0)
		die(name, err);
	return s;
}

static struct shmg_pinfo *pinfo_create(const char *name)
{
	char path[256];
	struct shmg_pinfo *p;
	struct shmg_pinfo_params pp = {.size = sizeof(pp), .file_size = SHMG_PINFO_SIZE_NEW,
				       .name = name, .pid = getpid()};
	int err = shmg_pinfo_path(path, sizeof(path), name, getpid());
	if (err || (err = shmg_pinfo_create(&p, path, &pp, 0, SHMG_REGION_REPLACE)) != 0)
		die(name, err);
	return p;
}

static struct shmg_loop *loop_start(struct shmg_pinfo *p, struct shmg_isio *in, unsigned m,
				    int64_t max)
{
	struct shmg_loop *l;
	struct shmg_loop_params lp = {.size = sizeof(lp), .mode = m, .pinfo = p, .input = in,
				      .loopcnt_max = max, .timeout_ns = 30000000000ull};
	int err = shmg_loop_new(&l, &lp);
	if (err)
		die("loop", err);
	return l;
}

static uint16_t frame[32 * 32];

/* The camera: a frame per credit, until loopcntMax. */
static int camera(int ready)
{
	struct shmg_isio *cam = stream_open("cam");
	struct shmg_pinfo *p = pinfo_create("camera");
	int err = shmg_isio_claim(cam);
	if (err)
		die("claim cam", err);
	struct shmg_loop *l = loop_start(p, cam, SHMG_LOOP_CNT2, frames);
	char c = 1;
	if (write(ready, &c, 1) != 1)
		return 1;
	while ((err = shmg_loop_step(l, NULL)) == 1) {
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		if ((err = shmg_loop_wait(l, &t, NULL)) != 0)
			die("camera: waiting for credit", err);
		shmg_loop_exec_start(l, NULL);
		frame[0] = (uint16_t)t.cnt;
		if ((err = shmg_isio_write(cam, frame, sizeof(frame), NULL)) != 0)
			die("camera: write", err);
		shmg_loop_exec_end(l, NULL);
	}
	shmg_loop_free(l);
	shmg_pinfo_close(p);
	shmg_isio_release(cam); /* done writing: readers wait on, not "writer dead" */
	shmg_isio_close(cam);
	return err < 0;
}

/* The processing stage: a frame out per frame in; missed frames' credit
 * goes back to the camera at once. */
static int process(int ready)
{
	struct shmg_isio *cam = stream_open("cam"), *out = stream_open("out");
	struct shmg_pinfo *p = pinfo_create("process");
	int err = shmg_isio_claim(out);
	if (err)
		die("claim out", err);
	struct shmg_loop *l = loop_start(p, cam, mode, 0);
	char c = 1;
	if (write(ready, &c, 1) != 1)
		return 1;
	while ((err = shmg_loop_step(l, NULL)) == 1) {
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		err = shmg_loop_wait(l, &t, NULL);
		if (err == -ECANCELED)
			break; /* exit, while waiting */
		if (err)
			die("process: waiting for a frame", err);
		if (t.missed && (err = shmg_loop_grant(cam, t.missed, NULL)) != 0)
			die("process: grant", err);
		shmg_loop_exec_start(l, NULL);
		shmg_loop_propagate(l, out);
		if ((err = shmg_isio_write(out, frame, sizeof(frame), NULL)) != 0)
			die("process: write", err);
		shmg_loop_exec_end(l, NULL);
	}
	shmg_loop_free(l);
	shmg_pinfo_close(p);
	shmg_isio_release(out);
	shmg_isio_close(out);
	shmg_isio_close(cam);
	return err < 0 && err != -ECANCELED;
}

/* The consumer: credit back for every output frame, received or missed. */
static int consumer(int ready)
{
	struct shmg_isio *cam = stream_open("cam"), *out = stream_open("out");
	struct shmg_pinfo *p = pinfo_create("consumer");
	struct shmg_loop *l = loop_start(p, out, SHMG_LOOP_CNT0, 0);
	int err = shmg_loop_grant(cam, WINDOW, NULL); /* the initial window */
	if (err)
		die("consumer: grant", err);
	char c = 1;
	if (write(ready, &c, 1) != 1)
		return 1;
	while ((err = shmg_loop_step(l, NULL)) == 1) {
		struct shmg_loop_trigger t = {.size = sizeof(t)};
		err = shmg_loop_wait(l, &t, NULL);
		if (err == -ECANCELED)
			break;
		if (err)
			die("consumer: waiting for an output", err);
		shmg_loop_exec_start(l, NULL);
		if ((err = shmg_loop_grant(cam, 1 + t.missed, NULL)) != 0)
			die("consumer: grant", err);
		shmg_loop_exec_end(l, NULL);
	}
	shmg_loop_free(l);
	shmg_pinfo_close(p);
	shmg_isio_close(out);
	shmg_isio_close(cam);
	return err < 0 && err != -ECANCELED;
}

/* ---------------------------------------------------------------- monitor */

static struct shmg_pinfo *pinfo_of(const char *name, pid_t pid)
{
	char path[256];
	struct shmg_pinfo *p;
	int err = shmg_pinfo_path(path, sizeof(path), name, pid);
	if (err || (err = shmg_pinfo_open(&p, path, 0)) != 0)
		die(name, err);
	return p;
}

static struct shmg_loop_info info_of(const struct shmg_pinfo *p)
{
	struct shmg_loop_info i = {.size = sizeof(i)};
	shmg_loop_inspect(p, &i);
	return i;
}

/* CPU ticks (user + system) of a process, from /proc/PID/stat. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	long ut = -1, st = -1;
	if (s && sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) == 2)
		return ut + st;
	return -1;
}

static pid_t stages[3];

/* On a failure: no stage is left running. */
static void kill_stages(void)
{
	for (int i = 0; i < 3; i++)
		if (stages[i] > 0) {
			kill(stages[i], SIGKILL);
			waitpid(stages[i], NULL, 0);
			stages[i] = 0;
		}
}

/* Poll a monitor's view (a person's refresh rate: 1 ms) until cond holds;
 * 60 s at most, then the stages are stopped and the run fails. */
#define UNTIL(cond, what)                                                      \
	do {                                                                   \
		int ms_ = 0;                                                   \
		while (!(cond)) {                                              \
			if (++ms_ > 60000) {                                   \
				fprintf(stderr, "milk-pipeline: never %s\n", what); \
				kill_stages();                                 \
				return 1;                                      \
			}                                                      \
			nanosleep(&(struct timespec){0, 1000000}, NULL);       \
		}                                                              \
	} while (0)

/* Stage i has exited with status 0 (60 s at most). */
static int reaped(int i)
{
	int status = 0;
	for (int ms = 0; ms < 60000; ms++) {
		pid_t r = waitpid(stages[i], &status, WNOHANG);
		if (r == stages[i]) {
			stages[i] = 0;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	fprintf(stderr, "milk-pipeline: stage %d did not end\n", i);
	return 0;
}

static int monitor(pid_t cam_pid, pid_t proc_pid, pid_t cons_pid)
{
	struct shmg_pinfo *pc = pinfo_of("camera", cam_pid), *pp = pinfo_of("process", proc_pid),
			  *pk = pinfo_of("consumer", cons_pid);
	int failed = 0, err;

	/* Pause the processing stage once it runs; the pipeline then stalls
	 * (no credit comes back) and every stage must sleep. */
	UNTIL(shmg_pinfo_loopcnt(pp) >= 20, "saw the processing stage run");
	if ((err = shmg_pinfo_command(pp, SHMG_PINFO_PAUSE, NULL)) != 0)
		die("pause", err);
	UNTIL(info_of(pp).loopstat == 2, "saw the processing stage pause");
	long t0[3] = {cpu_ticks(cam_pid), cpu_ticks(proc_pid), cpu_ticks(cons_pid)};
	nanosleep(&(struct timespec){0, PAUSE_WINDOW_MS * 1000000L}, NULL); /* measured window */
	long t1[3] = {cpu_ticks(cam_pid), cpu_ticks(proc_pid), cpu_ticks(cons_pid)};
	const char *names[3] = {"camera", "process", "consumer"};
	long hz = sysconf(_SC_CLK_TCK);
	for (int i = 0; i < 3; i++) {
		double ms = (double)(t1[i] - t0[i]) * 1000.0 / (double)hz;
		printf("%-9s cpu while paused: %.0f ms of %d ms\n", names[i], ms, PAUSE_WINDOW_MS);
		if (t0[i] < 0 || t1[i] < 0 || ms > PAUSE_WINDOW_MS / 10) {
			fprintf(stderr, "milk-pipeline: %s used %.0f ms of CPU while paused\n",
				names[i], ms);
			failed = 1;
		}
	}
	/* Three single steps: one iteration each. */
	for (int s = 0; s < 3; s++) {
		int64_t before = shmg_pinfo_loopcnt(pp);
		if ((err = shmg_pinfo_command(pp, SHMG_PINFO_STEP, NULL)) != 0)
			die("step", err);
		UNTIL(shmg_pinfo_loopcnt(pp) == before + 1 && shmg_pinfo_ctrl(pp) == SHMG_PINFO_PAUSE,
		      "saw a single step");
	}
	printf("process   3 single steps, one iteration each\n");
	if ((err = shmg_pinfo_command(pp, SHMG_PINFO_RUN, NULL)) != 0)
		die("run", err);
	/* The camera stops at loopcntMax; the stages leave on exit once they
	 * have seen the last frame. */
	if (!reaped(0))
		failed = 1;
	UNTIL(info_of(pp).cnt == frames, "saw the processing stage reach the last frame");
	if ((err = shmg_pinfo_command(pp, SHMG_PINFO_EXIT, NULL)) != 0)
		die("exit", err);
	if (!reaped(1))
		failed = 1;
	int64_t outputs = shmg_pinfo_loopcnt(pp);
	UNTIL((int64_t)info_of(pk).cnt == outputs, "saw the consumer reach the last output");
	if ((err = shmg_pinfo_command(pk, SHMG_PINFO_EXIT, NULL)) != 0)
		die("exit", err);
	if (!reaped(2))
		failed = 1;
	kill_stages(); /* any that did not end */

	struct shmg_loop_info c = info_of(pc), p = info_of(pp), k = info_of(pk);
	/* Credit: every camera frame gave its credit back exactly once. */
	struct shmg_isio *cam = stream_open("cam");
	struct shmg_isio_info ci = {.size = sizeof(ci)};
	shmg_isio_inspect(cam, &ci);
	shmg_isio_close(cam);
	printf("credit    cnt2 %llu = %u frames + window %d: %s\n", (unsigned long long)ci.cnt2,
	       frames, WINDOW, ci.cnt2 == (uint64_t)frames + WINDOW ? "yes" : "no");
	if (ci.cnt2 != (uint64_t)frames + WINDOW)
		failed = 1;
	printf("camera    wrote %lld frames (loopstat %d)\n", (long long)c.loopcnt, c.loopstat);
	printf("process   received %lld + missed %llu = %llu (written %u), exit obeyed: %s\n",
	       (long long)p.loopcnt, (unsigned long long)p.missed_total,
	       (unsigned long long)((uint64_t)p.loopcnt + p.missed_total), frames,
	       p.loopstat == 3 ? "yes" : "no");
	printf("consumer  received %lld + missed %llu = %llu (written %lld), exit obeyed: %s\n",
	       (long long)k.loopcnt, (unsigned long long)k.missed_total,
	       (unsigned long long)((uint64_t)k.loopcnt + k.missed_total), (long long)outputs,
	       k.loopstat == 3 ? "yes" : "no");
	printf("process   timing: iteration %.1f us, execution %.1f us (medians)\n",
	       (double)p.iter_median_ns / 1e3, (double)p.exec_median_ns / 1e3);
	if (c.loopcnt != (int64_t)frames || (uint64_t)p.loopcnt + p.missed_total != frames ||
	    (uint64_t)k.loopcnt + k.missed_total != (uint64_t)outputs || p.loopstat != 3 ||
	    k.loopstat != 3)
		failed = 1;
	shmg_pinfo_close(pc);
	shmg_pinfo_close(pp);
	shmg_pinfo_close(pk);
	printf("%s\n", failed ? "FAILED" : "ok: every frame accounted for, exit obeyed, no stage polls");
	return failed;
}

static pid_t start(int (*stage)(int))
{
	int fds[2];
	char c;
	if (pipe(fds) != 0)
		die("pipe", -errno);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		close(fds[0]);
		_exit(stage(fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) { /* the stage is set up */
		fprintf(stderr, "milk-pipeline: a stage failed to start\n");
		is_monitor = 1;
		waitpid(pid, NULL, 0);
		kill_stages();
		exit(1);
	}
	close(fds[0]);
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || atoi(argv[2]) < 30 ||
	    (argc == 4 && strcmp(argv[3], "cnt0") != 0 && strcmp(argv[3], "semaphore") != 0)) {
		fprintf(stderr, "usage: milk-pipeline DIR FRAMES(>=30) [cnt0|semaphore]\n");
		return 2;
	}
	dir = argv[1];
	frames = (unsigned)atoi(argv[2]);
	if (argc == 4 && strcmp(argv[3], "semaphore") == 0)
		mode = SHMG_LOOP_SEMAPHORE;
	setenv("MILK_SHM_DIR", dir, 1);
	setenv("MILK_PROC_DIR", dir, 1);
	const char *names[2] = {"cam", "out"};
	for (int i = 0; i < 2; i++) {
		char path[256];
		struct shmg_isio *s;
		struct shmg_isio_params sp = {.size = sizeof(sp), .name = names[i], .naxis = 2,
					      .dims = {32, 32}, .datatype = SHMG_ISIO_UINT16};
		int err = shmg_isio_path(path, sizeof(path), names[i]);
		if (err || (err = shmg_isio_create(&s, path, &sp, 0, SHMG_REGION_REPLACE)) != 0)
			die(names[i], err);
		shmg_isio_close(s);
	}
	/* Downstream first, so nobody misses the first frames' credit. */
	stages[2] = start(consumer);
	stages[1] = start(process);
	stages[0] = start(camera);
	is_monitor = 1;
	return monitor(stages[0], stages[1], stages[2]);
}
