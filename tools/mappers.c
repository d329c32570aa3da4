/* Finding the processes that map a file (mappers.h). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mappers.h"

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

int mappers_of(int fd, struct mappers *m)
{
	struct stat st;
	memset(m, 0, sizeof(*m));
	m->complete = true;
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
			m->complete = false; /* another user's process: cannot tell */
			continue;
		}
		if (got) {
			if (m->n < MAPPERS_MAX)
				m->pid[m->n] = atoi(e->d_name);
			m->n++;
		}
	}
	closedir(d);
	return 0;
}

void mappers_text(const struct mappers *m, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < m->n && i < MAPPERS_MAX && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%sPID %d", i ? ", " : "", (int)m->pid[i]);
	if (o < len && m->n > MAPPERS_MAX)
		o += (size_t)snprintf(buf + o, len - o, " and %u more", m->n - MAPPERS_MAX);
	if (o < len && m->n == 0)
		o += (size_t)snprintf(buf + o, len - o, m->complete ? "no other process"
					: "no process that could be examined");
	if (o < len && !m->complete)
		snprintf(buf + o, len - o, " (the maps of some processes could not be read)");
}
