/*
 * shmguard/proc.h: process identity and liveness, for owner-death detection.
 *
 * A PID alone names a process only until it is reused. An identity is the PID
 * plus the process start time (clock ticks after boot, /proc/PID/stat field
 * 22), which a reused PID does not share. A zombie (exited, not yet reaped)
 * is dead. Probes read /proc: microseconds, so callers use them only after
 * spinning or a timed wait, never on a fast path.
 *
 * All processes that share a segment must share a PID namespace.
 *
 * struct shmg_proc_id is a value type frozen in this form (a PID and a start
 * time are what identifies a process; doc/abi.md).
 */
#ifndef SHMGUARD_PROC_H
#define SHMGUARD_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmguard/common.h>

SHMG_BEGIN_DECLS

struct shmg_proc_id {
	pid_t pid;
	uint64_t start_time; /* clock ticks after boot */
};

/* The identity of the calling process (cached after the first call, and
 * refreshed in a forked child). Returns 0 or -errno. */
SHMG_EXPORT int shmg_proc_self(struct shmg_proc_id *id);

/* Read the identity of process pid. Returns 0, -ESRCH (no such process or
 * a zombie), or -errno. */
SHMG_EXPORT int shmg_proc_lookup(pid_t pid, struct shmg_proc_id *id);

enum shmg_liveness {
	SHMG_PROC_DEAD = 0,  /* no such process, a zombie, or a reused PID */
	SHMG_PROC_ALIVE = 1, /* pid runs and its start time matches */
};

/*
 * Is the process with this pid, whose start time agrees with `start_bits` in
 * the low `nbits` bits (0..64; 0 = compare nothing), still alive?
 * Returns SHMG_PROC_ALIVE, SHMG_PROC_DEAD, or -errno when it cannot tell
 * (for example /proc is not mounted): callers must then treat the owner as
 * alive (never rob a live owner on doubt).
 */
SHMG_EXPORT int shmg_proc_alive(pid_t pid, uint64_t start_bits,
				unsigned nbits);

/*
 * Whether process (or thread) `pid` maps the file open as `fd`, from
 * /proc/PID/maps. A lock or a write flag naming a live process that does
 * not map the file was not set by that process's use of it (planted, or
 * left by a process that unmapped it while holding it).
 * Returns 1 (it does), 0 (it does not), -ENOENT (no such process),
 * -EACCES (its maps cannot be read), -EINVAL, or another -errno.
 */
SHMG_EXPORT int shmg_proc_maps(pid_t pid, int fd);

/*
 * Which other processes map the file open as `fd` (from /proc/PID/maps:
 * device and inode): up to `max` PIDs into pids[], their total number into
 * *count. A process in the middle of writing a segment must have it mapped,
 * so a complete answer of 0 proves that nobody is writing it, even a writer
 * that never recorded itself. A /proc scan: milliseconds.
 * Returns 0 (complete), -EACCES (some processes' maps could not be read:
 * *count is a lower bound), or -errno (/proc cannot be read at all).
 */
SHMG_EXPORT int shmg_proc_mappers(int fd, pid_t *pids, size_t max,
				  size_t *count);

SHMG_END_DECLS

#endif /* SHMGUARD_PROC_H */
