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
	char path[40];
	/* The calling thread's descriptor table: /proc/self names the main
	 * thread's, which is gone once that thread has exited (pthread_exit
	 * in main; tests/check_isio_pin.c, reader_thread_after_main_exited).
	 * /proc/self/fd where the kernel has no thread-self (before 3.17). */
	snprintf(path, sizeof(path), "/proc/thread-self/fd/%d", fd);
	int own = open(path, flags);
	if (own < 0 && errno == ENOENT) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		own = open(path, flags);
	}
	return own >= 0 ? own : -errno;
}
