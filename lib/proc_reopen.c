/*
 * A new open file of the file behind a descriptor (lib/proc_internal.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "proc_internal.h"

int shmg__proc_reopen(int fd, int flags)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int own = open(path, flags);
	return own >= 0 ? own : -errno;
}
