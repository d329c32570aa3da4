/*
 * isio-reader: reads an ImageStreamIO stream safely. Waits for each new
 * frame (on a semaphore slot it claims by CAS, or on the guard's futex),
 * copies a consistent snapshot, and checks every pixel of it against the
 * pattern isio-writer writes. Counts missed frames from cnt0, exactly.
 *
 *   isio-reader NAME FRAMES [sem|futex]
 *
 * Waits up to 10 s for the stream to appear (a file that exists but is
 * not a stream is reported at once). Stops after FRAMES frames, or when the
 * writer is gone (10 s without a frame, or the writer reported dead).
 * Exits 1 if a torn frame was ever accepted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include <shmguard.h>

static bool whole(const uint16_t *f, size_t n, uint64_t k)
{
	for (size_t i = 0; i < n; i++)
		if (f[i] != (uint16_t)(k * 31 + i))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	const char *why;
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: isio-reader NAME FRAMES [sem|futex]\n");
		return 2;
	}
	long long want = strtonum(argv[2], 1, 1LL << 40, &why);
	if (why) {
		fprintf(stderr, "isio-reader: frames '%s' is %s\n", argv[2], why);
		return 2;
	}
	bool use_sem = argc < 4 || strcmp(argv[3], "futex") != 0;
	char path[4096];
	struct shmg_isio *s = NULL;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	int err = shmg_isio_path(path, sizeof(path), argv[1]);
	/* The writer may not have created the stream yet: wait up to 10 s for
	 * it to appear (it appears whole: shmg_isio_create links it when
	 * ready). Any other failure is final. */
	for (int tries = 0; !err; tries++) {
		err = shmg_isio_open(&s, path, 0);
		if (err != -ENOENT || tries == 1000)
			break;
		err = 0;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	if (!err && use_sem)
		err = shmg_isio_sem_claim(s, NULL);
	if (err) {
		fprintf(stderr, "isio-reader: %s: %s\n", path, shmg_error_detail(err));
		shmg_isio_close(s);
		return 1;
	}
	shmg_isio_get_layout(s, &l);
	printf("isio-reader: %s: ready\n", path); /* open, and its slot claimed */
	fflush(stdout);
	size_t n = l.data_size / sizeof(uint16_t);
	uint16_t *frame = malloc(l.data_size);
	uint64_t last = shmg_isio_counter(s), now = 0;
	long long got = 0, missed = 0, torn = 0, retries = 0, toofast = 0;
	while (got < want && frame) {
		struct timespec dl;
		struct shmg_wflag_snap snap = {.size = sizeof(snap)};
		shmg_deadline_in(&dl, 10ull * 1000000000u);
		err = use_sem ? shmg_isio_sem_wait(s, &now, &dl)
			      : shmg_isio_wait(s, last, &now, &dl);
		if (!err && now <= last)
			continue; /* a post for a frame already read */
		if (!err)
			err = shmg_isio_read(s, frame, l.data_size, &snap, &dl);
		if (err == SHMG_ETOOFAST) {
			toofast++;
			continue;
		}
		if (err)
			break;
		if (snap.frame <= last)
			continue;
		torn += !whole(frame, n, snap.frame);
		missed += (long long)(snap.frame - last - 1);
		retries += snap.retries;
		last = snap.frame;
		got++;
	}
	printf("isio-reader: %s: %lld frames read, %lld missed, %lld retries, "
	       "%lld too fast, %lld torn accepted%s%s\n",
	       path, got, missed, retries, toofast, torn,
	       err ? "; stopped: " : "", err ? shmg_strerror(err) : "");
	shmg_isio_close(s);
	free(frame);
	return torn ? 1 : 0;
}
