/*
 * Drives the README's examples (tests/readme-examples.sh): the write flag
 * with a writer and a reader in two processes over a real file, the lock
 * with two processes counting and a holder killed inside it, and the
 * seqlock. Exits non-zero on any wrong result.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

/* The README's layouts and functions. */
struct camera { uint64_t count; uint8_t busy, spare[3]; int32_t writer; unsigned char pixels[4096]; };
int guard_camera(struct shmg_wflag **g, const struct shmg_region *r);
void write_frame(struct shmg_wflag *g, struct camera *cam, const void *image);
int read_frame(const struct shmg_wflag *g, const struct camera *cam, void *image, uint64_t *n);
struct params { uint64_t spare; double gain; int64_t updates; };
int set_gain(const struct shmg_region *r, struct params *p, double gain);
struct frame_area { uint64_t seq; unsigned char data[4096]; };
void publish(struct frame_area *a, const void *frame);
bool snapshot(struct frame_area *a, void *out);

#define FRAMES 3000
#define UPDATES 20000

static char dir[] = "/tmp/shmg-readme.XXXXXX";

static int fail(const char *what)
{
	fprintf(stderr, "README example: %s\n", what);
	return 1;
}

static int write_flag(void)
{
	char path[64];
	struct shmg_region *r;
	struct shmg_wflag *g;
	snprintf(path, sizeof(path), "%s/camera", dir);
	if (shmg_region_create(&r, path, sizeof(struct camera), 0600, 0, NULL, NULL) != 0 ||
	    guard_camera(&g, r) != 0)
		return fail("camera region");
	struct camera *cam = shmg_region_base(r);
	int ready[2];
	if (pipe(ready) != 0)
		return fail("pipe");
	pid_t pid = fork();
	if (pid == 0) { /* the reader: every frame it accepts is whole */
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		unsigned char img[4096];
		uint64_t n, last = 0;
		int torn = 0, frames = 0;
		while (last < FRAMES) {
			int err = read_frame(g, cam, img, &n);
			if (err == SHMG_ETOOFAST || err == -ETIMEDOUT || n == last)
				continue;
			if (err)
				_exit(2);
			for (size_t i = 0; i < sizeof(img); i++)
				torn += img[i] != (unsigned char)n;
			last = n;
			frames++;
		}
		printf("README example: the reader accepted %d frames, %d torn bytes\n", frames, torn);
		fflush(stdout);
		_exit(torn ? 1 : 0);
	}
	unsigned char img[4096];
	char c;
	if (shmg_wflag_claim(g) != 0 || read(ready[0], &c, 1) != 1)
		return fail("claim, or the reader did not start");
	for (int f = 1; f <= FRAMES; f++) {
		memset(img, f, sizeof(img));
		write_frame(g, cam, img);
		if (f % 4 == 0)
			usleep(10); /* a fast camera, not a hot loop: the reader gets frames */
	}
	int status;
	waitpid(pid, &status, 0);
	uint64_t n;
	if (read_frame(g, cam, img, &n) != 0 || n != FRAMES || img[0] != (unsigned char)FRAMES)
		return fail("the last frame was not read back");
	shmg_wflag_free(g);
	shmg_region_close(r);
	close(ready[0]);
	close(ready[1]);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : fail("torn frames accepted");
}

static int lock(void)
{
	char path[64];
	struct shmg_region *r;
	snprintf(path, sizeof(path), "%s/params", dir);
	if (shmg_region_create(&r, path, sizeof(struct params), 0600, 0, NULL, NULL) != 0)
		return fail("params region");
	struct params *p = shmg_region_base(r);
	pid_t pid[2];
	for (int k = 0; k < 2; k++)
		if ((pid[k] = fork()) == 0) {
			for (int i = 0; i < UPDATES; i++)
				if (set_gain(r, p, k + 1.0) != 0)
					_exit(1);
			_exit(0);
		}
	for (int k = 0; k < 2; k++) {
		int status;
		waitpid(pid[k], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return fail("set_gain failed");
	}
	if (p->updates != 2 * UPDATES)
		return fail("updates were lost under the lock");
	/* A holder that dies inside the lock: the next set_gain recovers it. */
	if ((pid[0] = fork()) == 0) {
		struct shmg_xlock l;
		shmg_xlock_init(&l, r, 0, 8);
		shmg_xlock_lock(&l);
		raise(SIGKILL);
	}
	waitpid(pid[0], NULL, 0);
	if (set_gain(r, p, 5.0) != 0 || p->updates != 2 * UPDATES + 1 || p->spare != 0)
		return fail("the lock of a dead holder was not recovered");
	printf("README example: 2 processes x %d updates under the lock, exact; a dead holder recovered\n",
	       UPDATES);
	shmg_region_close(r);
	return 0;
}

static int seqlock(void)
{
	static struct frame_area area;
	unsigned char frame[4096], copy[4096];
	for (int f = 1; f <= 3; f++) {
		memset(frame, f, sizeof(frame));
		publish(&area, frame);
		if (!snapshot(&area, copy) || memcmp(frame, copy, sizeof(copy)) != 0)
			return fail("a seqlock frame was not read back");
	}
	if (area.seq != 6)
		return fail("seqlock sequence is not 6 after 3 frames");
	puts("README example: 3 seqlock frames published and read back");
	return 0;
}

int main(void)
{
	if (!mkdtemp(dir))
		return fail("mkdtemp");
	/* Under qemu-user, lock owners look dead to each other (doc/cross.md). */
	bool qemu = getenv("SHMG_EXEC_WRAPPER") && *getenv("SHMG_EXEC_WRAPPER");
	if (qemu)
		puts("README example: the lock example is skipped under qemu-user");
	int bad = write_flag() | (qemu ? 0 : lock()) | seqlock();
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		bad = 1;
	return bad;
}
