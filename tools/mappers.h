/*
 * mappers: which processes map a file, from /proc/PID/maps (device and
 * inode). A writer in the middle of a frame must have the file mapped, so
 * "nobody maps it" proves that no writer is mid-frame, even one that never
 * recorded itself (an unmodified ImageStreamIO writer). Only processes in
 * our PID namespace are seen, as for every liveness rule of shmguard.
 */
#ifndef SHMG_TOOL_MAPPERS_H
#define SHMG_TOOL_MAPPERS_H

#include <stdbool.h>
#include <sys/types.h>

#define MAPPERS_MAX 16

struct mappers {
	unsigned n;              /* processes found (at most MAPPERS_MAX listed) */
	pid_t pid[MAPPERS_MAX];
	bool complete;           /* every process's maps could be read */
};

/* Scan /proc for processes other than this one that map the file open
 * as fd. Returns 0, or -errno if /proc cannot be read at all. */
int mappers_of(int fd, struct mappers *m);

/* "PID 12, PID 345" / "nobody" / "... (some processes could not be read)" */
void mappers_text(const struct mappers *m, char *buf, size_t len);

#endif /* SHMG_TOOL_MAPPERS_H */
