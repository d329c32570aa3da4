/*
 * shmg-py-peer: the C side of the Python binding's benchmark
 * (python3 -m shmguard.bench), so Python figures are measured against C on
 * the same streams in the same run. Public API only.
 *
 *   shmg-py-peer read PATH N     N reads of the whole frame into one buffer,
 *                                in 9 batches; prints the median batch's
 *                                nanoseconds per read: "read NS"
 *   shmg-py-peer wait PATH N     prints "ready", then N times: read a line
 *                                (its turn), print "armed", wait for a frame
 *                                newer than the last, take CLOCK_MONOTONIC,
 *                                print "COUNTER NS"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shmguard.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct shmg_isio *s = NULL;
	struct shmg_isio_layout l = {.size = sizeof(l)};
	if (argc != 4 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "wait") != 0)) {
		fprintf(stderr, "usage: shmg-py-peer read|wait PATH N\n");
		return 2;
	}
	long n = strtol(argv[3], NULL, 10);
	int err = shmg_isio_open(&s, argv[2], 0);
	if (!err)
		err = shmg_isio_get_layout(s, &l);
	if (err || n < 1) {
		fprintf(stderr, "shmg-py-peer: %s: %s\n", argv[2], err ? shmg_error_detail(err) : "bad N");
		return 1;
	}
	if (strcmp(argv[1], "read") == 0) {
		unsigned char *buf = malloc(l.data_size);
		double per[9];
		if (!buf)
			return 1;
		for (int b = 0; b < 9; b++) {
			long long t0 = now_ns();
			for (long i = 0; i < n; i++) {
				struct shmg_wflag_snap snap = {.size = sizeof(snap)};
				err = shmg_isio_read(s, buf, l.data_size, &snap, NULL);
				if (err) {
					fprintf(stderr, "shmg-py-peer: read: %s\n", shmg_error_detail(err));
					return 1;
				}
			}
			per[b] = (double)(now_ns() - t0) / (double)n;
		}
		qsort(per, 9, sizeof(per[0]), cmp);
		printf("read %.1f\n", per[4]);
		free(buf);
	} else {
		uint64_t last, now = 0;
		printf("ready\n");
		fflush(stdout);
		for (long i = 0; i < n; i++) {
			char turn[16];
			if (!fgets(turn, sizeof(turn), stdin))
				break;
			last = shmg_isio_counter(s); /* the others' frames came meanwhile */
			printf("armed\n");
			fflush(stdout);
			struct timespec dl;
			shmg_deadline_in(&dl, 30ull * 1000000000u);
			err = shmg_isio_wait(s, last, &now, &dl);
			long long t = now_ns();
			if (err) {
				fprintf(stderr, "shmg-py-peer: wait: %s\n", shmg_error_detail(err));
				return 1;
			}
			printf("%llu %lld\n", (unsigned long long)now, t);
			fflush(stdout);
		}
	}
	shmg_isio_close(s);
	return 0;
}
