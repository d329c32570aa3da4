/*
 * isio-writer: an ImageStreamIO-compatible camera simulator. Creates (or
 * replaces) the stream file <name>.im.shm that ImageStreamIO programs open
 * as their own, claims it, and writes frames through the write-flag guard:
 * pixel data, cnt0 + 1, write = 0, then the semaphores.
 *
 *   isio-writer NAME WIDTH HEIGHT FRAMES [HZ [CBSIZE [go]]]
 *
 * Each uint16 pixel of frame k is (k * 31 + i) & 0xffff, so a reader can
 * tell a whole frame from a torn one (see isio-reader). HZ 0 = back to back.
 * With "go", the writer creates and claims the stream, prints "ready", and
 * waits for a line on its standard input before the first frame (so that a
 * script can start readers on the stream first: a handshake, not a delay).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/stdlib.h>

#include <shmguard.h>

static long long arg(const char *s, long long lo, long long hi, const char *what)
{
	const char *why;
	long long v = strtonum(s, lo, hi, &why);
	if (why) {
		fprintf(stderr, "isio-writer: %s '%s' is %s (%lld..%lld)\n", what, s, why, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 8 || (argc == 8 && strcmp(argv[7], "go") != 0)) {
		fprintf(stderr, "usage: isio-writer NAME WIDTH HEIGHT FRAMES [HZ [CBSIZE [go]]]\n");
		return 2;
	}
	struct shmg_isio_params p = {
		.size = sizeof(p), .name = argv[1], .naxis = 2, .datatype = SHMG_ISIO_UINT16,
		.dims = {(uint32_t)arg(argv[2], 1, 65536, "width"),
			 (uint32_t)arg(argv[3], 1, 65536, "height")},
		.cbsize = argc > 6 ? (uint32_t)arg(argv[6], 0, 1024, "cbsize") : 0,
	};
	long long frames = arg(argv[4], 1, 1LL << 40, "frames");
	long long hz = argc > 5 ? arg(argv[5], 0, 1000000, "rate") : 0;
	char path[4096];
	struct shmg_isio *s = NULL;

	int err = shmg_isio_path(path, sizeof(path), p.name);
	if (!err)
		err = shmg_isio_create(&s, path, &p, 0600, SHMG_REGION_REPLACE);
	if (!err && (err = shmg_isio_claim(s)) > 0)
		err = 0; /* SHMG_OWNERDEAD: a new file has no dead writer, but fine */
	if (err) {
		fprintf(stderr, "isio-writer: %s: %s\n", path, shmg_error_detail(err));
		shmg_isio_close(s);
		return 1;
	}
	if (argc == 8) {
		char line[16];
		printf("isio-writer: %s: ready\n", path);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	size_t n = (size_t)p.dims[0] * p.dims[1];
	uint16_t *frame = malloc(n * sizeof(*frame));
	if (!frame)
		return 1;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long long k = 1; k <= frames; k++) {
		for (size_t i = 0; i < n; i++)
			frame[i] = (uint16_t)(k * 31 + (long long)i);
		err = shmg_isio_write(s, frame, n * sizeof(*frame), NULL);
		if (err) {
			fprintf(stderr, "isio-writer: write: %s\n", shmg_error_detail(err));
			return 1;
		}
		if (hz) {
			next.tv_nsec += 1000000000L / hz;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	printf("isio-writer: %s: %lld frames written\n", path, frames);
	shmg_isio_release(s);
	shmg_isio_close(s);
	free(frame);
	return 0;
}
