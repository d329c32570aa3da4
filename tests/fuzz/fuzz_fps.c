/*
 * fuzz_fps: a milk FPS file with arbitrary contents: shmg_fps_open with
 * the layout told by the file and with each layout named, then (mapped
 * read-only, so any write would fault) inspect, every parameter inspected
 * and its lock word decoded, a find by the name of the first and last
 * parameter and by names that are not there, and a dry-run recover.
 */
#include <shmguard.h>

#include "fuzz.h"

#define PARAMS_MAX 4096 /* parameters looked at */

static void look(struct shmg_fps *f)
{
	struct shmg_fps_info info = {.size = sizeof(info)};
	static struct shmg_fps_param_info pi;
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};
	unsigned index;

	FUZZ_ASSERT(shmg_fps_inspect(f, &info) == 0);
	FUZZ_ASSERT(info.nparam >= 1);
	FUZZ_ASSERT(memchr(info.name, 0, sizeof(info.name)) != NULL);
	for (unsigned i = 0; i <= info.nparam && i < PARAMS_MAX; i++) {
		struct shmg_xlock l;
		struct shmg_xlock_info xi = {.size = sizeof(xi)};
		pi.size = sizeof(pi);
		int err = shmg_fps_inspect_param(f, i, &pi);
		if (i == info.nparam) {
			FUZZ_ASSERT(err == -ERANGE);
			FUZZ_ASSERT(shmg_fps_param_lock(f, i, &l) == -ERANGE);
			break;
		}
		FUZZ_ASSERT(err == 0);
		FUZZ_ASSERT(memchr(pi.keyword, 0, sizeof(pi.keyword)) != NULL);
		FUZZ_ASSERT(shmg_fps_param_lock(f, i, &l) == 0);
		FUZZ_ASSERT(shmg_xlock_inspect(&l, &xi) == 0);
		if (i == 0 || i + 1 == info.nparam) {
			/* A name shown with '?' for control characters may not
			 * be found; when found, it is a parameter. */
			if (shmg_fps_find(f, pi.keyword, &index) == 0)
				FUZZ_ASSERT(index < info.nparam);
		}
	}
	if (shmg_fps_find(f, "", &index) == 0)
		FUZZ_ASSERT(index < info.nparam);
	if (shmg_fps_find(f, ".conf.gain", &index) == 0)
		FUZZ_ASSERT(index < info.nparam);
	(void)shmg_fps_recover(f, &ro);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	static const uint32_t layouts[] = {SHMG_FPS_AUTO, SHMG_FPS_2024, SHMG_FPS_NEW};

	for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
		struct shmg_fps_opts o = {.size = sizeof(o), .layout = layouts[k]};
		struct shmg_fps *f;
		if (shmg_fps_open(&f, path, SHMG_REGION_RDONLY, &o) != 0)
			continue;
		look(f);
		shmg_fps_close(f);
	}
	return 0;
}
