/*
 * What the fuzz harnesses share: the input written to a private file (the
 * library opens segments by path), a deadline that has already passed (no
 * call may wait), and a check that a call that must not write did not.
 *
 * Each harness defines LLVMFuzzerTestOneInput. `make fuzz` links it with
 * libFuzzer (clang, ASan+UBSan); `make check` links it with replay.c,
 * which runs it on every file of its corpus and regression folders.
 */
#ifndef SHMG_FUZZ_H
#define SHMG_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n",      \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static char fuzz_dir[4096];

static void fuzz_cleanup(void)
{
	char path[4200];
	if (!fuzz_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/seg", fuzz_dir);
	unlink(path);
	rmdir(fuzz_dir);
}

/* The path of a private file holding data[0, size) (one per process,
 * rewritten on each call; its directory is removed at exit). */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[4200];
	if (!fuzz_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/shmg-fuzz-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(fuzz_dir)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_cleanup);
		snprintf(path, sizeof(path), "%s/seg", fuzz_dir);
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("fuzz: open");
		abort();
	}
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			perror("fuzz: write");
			abort();
		}
		done += (size_t)n;
	}
	close(fd);
	return path;
}

/* An absolute CLOCK_MONOTONIC deadline that has passed: calls that may
 * wait return at once. */
static inline const struct timespec *fuzz_past(void)
{
	static struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return &t;
}

/* Little-endian fields from the front of an input (zero past its end). */
struct fuzz_reader {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_reader *r, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		uint64_t b = r->n ? *r->p++ : 0;
		if (r->n)
			r->n--;
		v |= b << (8 * i);
	}
	return v;
}

/* A recover report callback that only looks at the text. */
static inline void fuzz_report(void *arg, int result, const char *text)
{
	size_t *total = arg;
	(void)result;
	*total += strlen(text);
}

#endif /* SHMG_FUZZ_H */
