/*
 * fps-updater: increments one parameter of a milk FPS file N times, each
 * time as a read-modify-write under that parameter's lock (its userflag
 * word), so several copies run at once lose nothing: with P processes the
 * final value and cnt0 are both P * N.
 *
 *   fps-updater PATH PARAM N [create NPARAM]
 *
 * With "create", PATH is first created as a fresh FPS file (2024 layout)
 * of NPARAM parameters. Prints the final value and cnt0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bsd/stdlib.h>

#include <shmguard.h>

static int add_one(void *value, void *arg)
{
	int64_t v;
	(void)arg;
	memcpy(&v, value, sizeof(v));
	v++;
	memcpy(value, &v, sizeof(v));
	return 1;
}

int main(int argc, char **argv)
{
	const char *why;
	struct shmg_fps *f = NULL;
	int err;

	if (argc != 4 && !(argc == 6 && strcmp(argv[4], "create") == 0)) {
		fprintf(stderr, "usage: fps-updater PATH PARAM N [create NPARAM]\n");
		return 2;
	}
	unsigned param = (unsigned)strtonum(argv[2], 0, 1 << 20, &why);
	long long n = why ? 0 : strtonum(argv[3], 1, 1LL << 40, &why);
	unsigned nparam = argc == 6 && !why ? (unsigned)strtonum(argv[5], 1, 1 << 20, &why) : 0;
	if (why) {
		fprintf(stderr, "fps-updater: a number is %s\n", why);
		return 2;
	}
	struct shmg_fps_params fp = {.size = sizeof(fp), .layout = SHMG_FPS_2024, .nparam = nparam};
	if (nparam)
		err = shmg_fps_create(&f, argv[1], &fp, 0600, 0);
	else
		err = shmg_fps_open(&f, argv[1], 0, NULL);
	if (err) {
		fprintf(stderr, "fps-updater: %s: %s\n", argv[1], shmg_error_detail(err));
		return 1;
	}
	int64_t value = 0, cnt = 0;
	for (long long k = 0; k < n; k++) {
		err = shmg_fps_update(f, param, add_one, NULL, NULL, NULL);
		if (err < 0) {
			fprintf(stderr, "fps-updater: update: %s\n", shmg_error_detail(err));
			return 1;
		}
		if (err == SHMG_OWNERDEAD)
			fprintf(stderr, "fps-updater: recovered the lock from a dead holder\n");
	}
	err = shmg_fps_get(f, param, &value, sizeof(value), &cnt, NULL);
	if (err < 0) {
		fprintf(stderr, "fps-updater: get: %s\n", shmg_error_detail(err));
		return 1;
	}
	printf("fps-updater: parameter %u value %lld cnt0 %lld\n", param,
	       (long long)value, (long long)cnt);
	shmg_fps_close(f);
	return 0;
}
