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

const char *shmg__shm_dir(void)
{
	const char *dir = getenv("MILK_SHM_DIR");
	if (is_dir(dir))
		return dir;
	if (is_dir("/milk/shm"))
		return "/milk/shm";
	dir = getenv("TMPDIR");
	return is_dir(dir) ? dir : "/tmp";
}

const char *shmg__proc_dir(void)
{
	const char *dir = getenv("MILK_PROC_DIR");
	return is_dir(dir) ? dir : shmg__shm_dir();
}
