/*
 * What the milk clients (and the ImageStreamIO client's paths) share: the
 * shm directory, and taking a lock with recovery.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <shmguard/error.h>
#include <shmguard/xlock.h>

#include "milk_internal.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *shmg__milk_shm_dir(void)
{
	const char *dir = getenv("MILK_SHM_DIR");
	if (is_dir(dir))
		return dir;
	if (is_dir("/milk/shm"))
		return "/milk/shm";
	dir = getenv("TMPDIR");
	return is_dir(dir) ? dir : "/tmp";
}

int shmg__milk_lock(const struct shmg_xlock *l, void (*repair)(void *), void *arg)
{
	int err = shmg_xlock_lock(l);
	if (err != SHMG_EOWNERDEAD)
		return err;
	/* The holder died inside its update: make the data usable again
	 * before anyone else sees it, then say so to the caller. */
	if (repair)
		repair(arg);
	err = shmg_xlock_consistent(l);
	return err ? err : 1;
}

int shmg__milk_recover(const struct shmg_xlock *l, void (*repair)(void *), void *arg)
{
	int err = shmg_xlock_trylock(l);
	if (err == 0)
		return shmg_xlock_unlock(l);
	if (err != SHMG_EOWNERDEAD)
		return err;
	if (repair)
		repair(arg);
	if ((err = shmg_xlock_consistent(l)) != 0)
		return err;
	err = shmg_xlock_unlock(l);
	return err ? err : 1;
}
