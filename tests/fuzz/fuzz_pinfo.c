/*
 * fuzz_pinfo: a milk PINFO file with arbitrary contents: shmg_pinfo_open,
 * then (mapped read-only, so any write would fault) inspect, the status
 * lock's word decoded, and a dry-run recover.
 */
#include <shmguard.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct shmg_pinfo *p;
	struct shmg_pinfo_info info = {.size = sizeof(info)};
	struct shmg_xlock l;
	struct shmg_xlock_info xi = {.size = sizeof(xi)};
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};

	if (shmg_pinfo_open(&p, path, SHMG_REGION_RDONLY) != 0)
		return 0;
	FUZZ_ASSERT(shmg_pinfo_inspect(p, &info) == 0);
	FUZZ_ASSERT(memchr(info.name, 0, sizeof(info.name)) != NULL);
	FUZZ_ASSERT(memchr(info.statusmsg, 0, sizeof(info.statusmsg)) != NULL);
	FUZZ_ASSERT(info.lock_offset + 4 <= shmg_region_size(shmg_pinfo_region(p)));
	FUZZ_ASSERT(shmg_pinfo_status_lock(p, &l) == 0);
	FUZZ_ASSERT(shmg_xlock_inspect(&l, &xi) == 0);
	FUZZ_ASSERT(xi.state <= SHMG_XLOCK_GARBAGE);
	(void)shmg_pinfo_ctrl(p);
	(void)shmg_pinfo_loopcnt(p);
	(void)shmg_pinfo_recover(p, &ro);
	shmg_pinfo_close(p);
	return 0;
}
