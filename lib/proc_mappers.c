/*
 * Which processes map a file, from /proc/PID/maps (device and inode):
 * shmg_proc_maps and shmg_proc_mappers in include/shmguard/proc.h. Only processes in our PID
 * namespace are seen, as for every liveness rule of shmguard. And which
 * file backs an address of this process (shmg__proc_self_backing,
 * lib/proc_internal.h).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <shmguard/proc.h>

#include "proc_internal.h"

/* Does /proc/<pid>/maps name (dev, ino)? 1 yes, 0 no, -errno unreadable. */
static int maps_file(const char *pid, dev_t dev, ino_t ino)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		uintmax_t inode;
		/* address perms offset dev inode [path] */
		if (sscanf(line, "%*s %*s %*s %x:%x %ju", &maj, &min, &inode) == 3 &&
		    inode == (uintmax_t)ino && makedev(maj, min) == dev)
			found = 1;
		/* a line longer than the buffer: skip the rest of it */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	return err ? err : found;
}

SHMG_EXPORT int shmg_proc_maps(pid_t pid, int fd)
{
	struct stat st;
	char id[24];

	if (pid <= 0)
		return -EINVAL;
	if (fstat(fd, &st) != 0)
		return -errno;
	snprintf(id, sizeof(id), "%d", (int)pid);
	return maps_file(id, st.st_dev, st.st_ino);
}

SHMG_EXPORT int shmg_proc_mappers(int fd, pid_t *pids, size_t max, size_t *count)
{
	return shmg__proc_mappers(fd, pids, max, count, NULL);
}

int shmg__proc_mappers(int fd, pid_t *pids, size_t max, size_t *count,
		       struct shmg__unreadable *unreadable)
{
	struct stat st;
	size_t n = 0;
	bool complete = true;

	if (!count || (max && !pids))
		return -EINVAL;
	*count = 0;
	if (unreadable) {
		unreadable->n = 0;
		unreadable->err = 0;
	}
	if (fstat(fd, &st) != 0)
		return -errno;
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	pid_t self = getpid();
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == self)
			continue;
		int got = maps_file(e->d_name, st.st_dev, st.st_ino);
		if (got == -ENOENT || got == -ESRCH)
			continue; /* exited meanwhile */
		if (got < 0) {
			complete = false; /* another user's process: cannot tell */
			if (unreadable) {
				if (unreadable->n < SHMG__UNREADABLE_MAX)
					unreadable->pids[unreadable->n] = atoi(e->d_name);
				unreadable->n++;
				if (!unreadable->err)
					unreadable->err = got;
			}
			continue;
		}
		if (got) {
			if (n < max)
				pids[n] = atoi(e->d_name);
			n++;
		}
	}
	closedir(d);
	*count = n;
	return complete ? 0 : -EACCES;
}

int shmg__proc_self_backing(const void *addr, dev_t *dev, ino_t *ino, uint64_t *off)
{
	char line[512];
	uintmax_t at = (uintmax_t)(uintptr_t)addr;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	int err = -ENOENT;
	while (err == -ENOENT && fgets(line, sizeof(line), f)) {
		uintmax_t start, end, pgoff, inode;
		unsigned maj, min;
		char perms[8];
		/* address perms offset dev inode [path] */
		if (sscanf(line, "%jx-%jx %7s %jx %x:%x %ju", &start, &end, perms, &pgoff, &maj,
			   &min, &inode) == 7 && start <= at && at < end) {
			/* Only a shared mapping of a file (shared anonymous
			 * memory and System V segments are files of the
			 * kernel's own tmpfs) is the same memory elsewhere. */
			err = -EINVAL;
			if (perms[3] == 's' && inode != 0) {
				*dev = makedev(maj, min);
				*ino = (ino_t)inode;
				*off = (uint64_t)(pgoff + (at - start));
				err = 0;
			}
		}
		/* a line longer than the buffer: skip the rest of it */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	if (err == -ENOENT && ferror(f))
		err = -EIO;
	fclose(f);
	return err;
}

void shmg__proc_fd_name(int fd, char *path, size_t len)
{
	static const char deleted[] = " (deleted)";
	char link[32];
	if (!len)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, len - 1);
	if (n < 0)
		n = 0;
	path[n] = '\0';
	size_t k = strlen(deleted);
	if ((size_t)n > k && strcmp(path + n - k, deleted) == 0)
		path[n - k] = '\0';
}
