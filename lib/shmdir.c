/* The milk shm directory (lib/shmdir.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "shmdir.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ImageStreamIO's rule exactly, so both find each other's streams:
 * $MILK_SHM_DIR when set (even if it does not exist: opening there then
 * fails with -ENOENT, as ImageStreamIO's does), else /milk/shm if it is a
 * directory, else /tmp. Never $TMPDIR, which ImageStreamIO does not read. */
const char *shmg__shm_dir(void)
{
	const char *dir = getenv("MILK_SHM_DIR");
	if (dir && *dir)
		return dir;
	return is_dir("/milk/shm") ? "/milk/shm" : "/tmp";
}

const char *shmg__proc_dir(void)
{
	const char *dir = getenv("MILK_PROC_DIR");
	return is_dir(dir) ? dir : shmg__shm_dir();
}
