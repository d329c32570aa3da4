/*
 * The process-identity module's internals, for the guards that need an
 * owner's identity and its liveness (the exclusive lock today; any future
 * lock kind tomorrow). The one place that reads /proc.
 */
#ifndef SHMG_PROC_INTERNAL_H
#define SHMG_PROC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the guards need of a /proc/PID/stat line. */
struct shmg__proc_stat {
	char state;     /* field 3: R, S, D, Z, X, ... */
	uint64_t flags; /* field 9: the kernel's task flags */
	uint64_t start; /* field 22: start time, clock ticks after boot */
};

/* Parse a stat line: comm (field 2) may hold spaces and ')', so the fields
 * after it are counted from the LAST ')'. Returns 0 or -EINVAL. */
int shmg__proc_parse_stat(const char *line, size_t len, struct shmg__proc_stat *out);

/* Read and parse the stat file open as fd (one pread: the kernel generates
 * it atomically). Returns 0, -ESRCH (the task is gone), -EIO (unparsable),
 * -errno. */
int shmg__proc_read_stat(int fd, struct shmg__proc_stat *out);

/* The processes whose maps shmg__proc_mappers could not read: the first
 * SHMG__UNREADABLE_MAX of them, their number, and the first error. */
#define SHMG__UNREADABLE_MAX 8
struct shmg__unreadable {
	size_t n;
	pid_t pids[SHMG__UNREADABLE_MAX];
	int err; /* -EACCES for another user's process, or another -errno */
};

/* shmg_proc_mappers, also saying which processes could not be examined
 * (unreadable may be NULL). */
int shmg__proc_mappers(int fd, pid_t *pids, size_t max, size_t *count,
		       struct shmg__unreadable *unreadable);

/* The name the file open as fd has, from /proc/self/fd/FD (its " (deleted)"
 * suffix dropped once it is unlinked), into path; "" when unknown. */
void shmg__proc_fd_name(int fd, char *path, size_t len);

/* The kernel's PF_EXITING task flag: set at the very start of do_exit();
 * such a task never runs user code again. */
#define SHMG__PF_EXITING 0x4u

/* The calling thread's identity: its id and start time, read once per
 * thread and again in a forked child. */
struct shmg__thread_id {
	unsigned generation; /* of the fork it was read in (lib/proc_thread.c) */
	pid_t tid;
	uint64_t start;
};

/* The calling thread's identity. 0, or -errno if /proc cannot tell. A
 * guard that caches what it derives from it (the lock's encoded word)
 * registers its own pthread_atfork child handler to forget the cache. */
int shmg__thread_self(struct shmg__thread_id *out);

/* The calling process's PID, cached (glibc's getpid is a system call) and
 * read again in a forked child: for fast paths that check an owner word. */
int32_t shmg__self_pid(void);

/* The file that backs address `addr` of this process, for a shared
 * mapping (MAP_SHARED of a file, shared anonymous memory, a System V
 * segment: the last two are files of the kernel's tmpfs): its device,
 * inode, and the file offset of addr. 0, -ENOENT (not mapped), -EINVAL
 * (a private or anonymous mapping: no other mapping shares it), -errno
 * (/proc/self/maps unreadable). Reads /proc/self/maps: not for fast paths. */
int shmg__proc_self_backing(const void *addr, dev_t *dev, ino_t *ino, uint64_t *off);

/* Which fork this process is: a number that changes in every forked child
 * (and in its children), never back. A note taken with it is this
 * process's own even where a PID is not: a child can have the PID its
 * parent had (PID 1 of a new PID namespace, a dead parent's PID reused). */
unsigned shmg__fork_generation(void);

/*
 * A waiter's watch on one owner: a thread id and the start-time bits the
 * owner recorded (the low `nbits` bits). The first probe opens
 * /proc/TID/stat; every probe re-reads it through that descriptor, which
 * pins the task it was opened on (a few microseconds, no path lookup). The
 * owner is dead when its start bits differ (the id was reused), when it is
 * a zombie, or as soon as the kernel marks it exiting (PF_EXITING).
 */
struct shmg__proc_watch {
	pid_t tid;
	uint64_t start_bits;
	unsigned nbits;
	int statfd;  /* -1: none (yet) */
	bool opened; /* the open was tried */
};

void shmg__watch_init(struct shmg__proc_watch *w);
void shmg__watch_close(struct shmg__proc_watch *w);

/* Is the watched owner dead? true only when certain (an undecidable probe
 * says alive: a live owner is never robbed). */
bool shmg__watch_dead(struct shmg__proc_watch *w, pid_t tid,
		      uint64_t start_bits, unsigned nbits);

/* A quick look without a watch (for try-operations): one read of
 * /proc/TID/stat, judged as a watch judges it (no such id, another
 * thread's start bits under the id, a zombie, an exiting thread). A probe
 * that cannot tell says alive. */
bool shmg__thread_gone(pid_t tid, uint64_t start_bits, unsigned nbits);

/* Give the file open as fd (an O_TMPFILE file, nameless) the name `to`:
 * linkat AT_EMPTY_PATH where the caller may (CAP_DAC_READ_SEARCH), else
 * through /proc/self/fd, which needs no privilege (both as linkat(2)
 * describes). Refuses an existing name, as link(). 0 or -errno. */
int shmg__link_fd(int fd, const char *to);

/* Is `tid` process `pid` or one of its threads? */
bool shmg__thread_of(pid_t pid, pid_t tid);

/* shmg_proc_alive, or the test build's fake (lib/testing.h). */
int shmg__owner_alive(pid_t tid, uint64_t start_bits, unsigned nbits);

/* A new open file description of the file behind fd (through
 * /proc/thread-self/fd, else /proc/self/fd; `flags` as open's). The
 * descriptor, or -errno. */
int shmg__proc_reopen(int fd, int flags);

#endif /* SHMG_PROC_INTERNAL_H */
