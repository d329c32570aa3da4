/*
 * shmguard/milk.h: milk's PINFO (per-process status) and FPS (function
 * parameter structure) files, with exclusive locks in words they already
 * have. Built from the layout facts (doc/milk.md), with no milk code.
 *
 * PINFO: `proc.<name>.<pid>.shm`, 4624 bytes (2024 layout) or 4640 (newer).
 * One lock (4 bytes, in the alignment hole after `triggermode`, offset 836)
 * guards what a monitor and the process both write: CTRLval commands that
 * are never lost, and the status message with its code as one unit. The
 * loop counter heartbeat is one atomic increment.
 *
 * FPS: `<name>.fps.shm`, a header then NBparamMAX parameter records. Each
 * parameter gets its own lock in its unused `userflag` word (8 bytes at
 * offset 8 of the record): a set writes the value, increments `cnt0`
 * exactly once and sets the header's UPDATE signal bit atomically.
 *
 * Guarded operations take an absolute CLOCK_MONOTONIC deadline (NULL: wait
 * as long as it takes) and return 0, or SHMG_OWNERDEAD when the lock was
 * taken from a dead holder (its update may be half done: the operation
 * repaired what it could and marked the lock consistent), or a negative
 * error (-ETIMEDOUT at the deadline).
 * The locks are advisory: unmodified milk code that writes these fields
 * with plain stores is not stopped (doc/milk.md, "What stays unsafe").
 * struct shmg_pinfo and struct shmg_fps are opaque.
 */
#ifndef SHMGUARD_MILK_H
#define SHMGUARD_MILK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/region.h>
#include <shmguard/xlock.h>

SHMG_BEGIN_DECLS

/* ---------------------------------------------------------------- PINFO */

struct shmg_pinfo;

#define SHMG_PINFO_SIZE_2024 4624
#define SHMG_PINFO_SIZE_NEW 4640
#define SHMG_PINFO_NAME_MAX 80 /* name bytes, NUL included */
#define SHMG_PINFO_MSG_MAX 200 /* statusmsg bytes, NUL included */

/* CTRLval commands (milk's values). */
enum shmg_pinfo_ctrl {
	SHMG_PINFO_RUN = 0, SHMG_PINFO_PAUSE = 1, SHMG_PINFO_STEP = 2,
	SHMG_PINFO_EXIT = 3, SHMG_PINFO_SPIN = 5,
};

/* A new PINFO file, as milk's own creation leaves it (a sized struct). */
struct shmg_pinfo_params {
	uint32_t size;      /* sizeof(struct shmg_pinfo_params) */
	uint32_t file_size; /* SHMG_PINFO_SIZE_2024 or SHMG_PINFO_SIZE_NEW */
	const char *name;   /* the process name (< 80 bytes) */
	pid_t pid;          /* the process's PID */
};

/*
 * The file name of process `name` with PID pid: <dir>/proc.<name>.<pid as
 * %06d>.shm, dir = $MILK_PROC_DIR if a directory, else $MILK_SHM_DIR when
 * set, else /milk/shm, else /tmp. Returns 0, -EINVAL, -ENAMETOOLONG.
 */
SHMG_EXPORT int shmg_pinfo_path(char *buf, size_t len, const char *name,
				pid_t pid);

/* Open a PINFO file, recognised by its size. Returns 0, SHMG_ELAYOUT (any
 * other size; nothing changed), -ELOOP (symlink, unless
 * SHMG_REGION_FOLLOW), -ENOENT, ... */
SHMG_EXPORT int shmg_pinfo_open(struct shmg_pinfo **p, const char *path,
				unsigned flags);

/* Create a zeroed PINFO file with its name and PID set, as milk's own
 * creation leaves it (for tests and demos). mode 0: 0600. flags:
 * SHMG_REGION_REPLACE. Returns as shmg_region_create, -EINVAL for bad
 * parameters. */
SHMG_EXPORT int shmg_pinfo_create(struct shmg_pinfo **p, const char *path,
				  const struct shmg_pinfo_params *what,
				  mode_t mode, unsigned flags);

/* Unmap, close, free. NULL: no-op. */
SHMG_EXPORT void shmg_pinfo_close(struct shmg_pinfo *p);

/* The file's region, and the status lock (in the hole at 836). */
SHMG_EXPORT const struct shmg_region *shmg_pinfo_region(const struct shmg_pinfo *p);
SHMG_EXPORT int shmg_pinfo_status_lock(const struct shmg_pinfo *p,
				       struct shmg_xlock *l);

/*
 * Monitor side: ask for `cmd`. Under the lock; an EXIT already pending is
 * never replaced by another command (-EALREADY then). The process sees the
 * command through shmg_pinfo_transition / shmg_pinfo_ctrl.
 */
SHMG_EXPORT int shmg_pinfo_command(struct shmg_pinfo *p, int cmd,
				   const struct timespec *deadline);

/*
 * Process side: change CTRLval from `from` to `to` only if it still holds
 * `from` (for example single step 2 -> pause 1): a command the monitor
 * wrote meanwhile is kept. Under the lock. *now (may be NULL) receives
 * CTRLval after the call. Returns 0 (changed), SHMG_OWNERDEAD (changed,
 * after recovering the lock from a dead holder), -EAGAIN (CTRLval holds
 * another command: *now has it).
 */
SHMG_EXPORT int shmg_pinfo_transition(struct shmg_pinfo *p, int from, int to,
				      int *now, const struct timespec *deadline);

/* CTRLval now (acquire). */
SHMG_EXPORT int shmg_pinfo_ctrl(const struct shmg_pinfo *p);

/* Write the status code and message as one unit (the message truncated
 * to 199 bytes and NUL-padded). Under the lock. */
SHMG_EXPORT int shmg_pinfo_set_status(struct shmg_pinfo *p, int code,
				      const char *msg,
				      const struct timespec *deadline);

/* Read them as one unit into *code and msg[len] (always NUL-terminated;
 * each may be NULL). Under the lock. */
SHMG_EXPORT int shmg_pinfo_get_status(const struct shmg_pinfo *p, int *code,
				      char *msg, size_t len,
				      const struct timespec *deadline);

/* Heartbeat: loopcnt + 1 (one atomic increment, relaxed; no lost counts
 * with several writers). Returns the new value. */
SHMG_EXPORT int64_t shmg_pinfo_heartbeat(struct shmg_pinfo *p);

/* loopcnt now (relaxed). */
SHMG_EXPORT int64_t shmg_pinfo_loopcnt(const struct shmg_pinfo *p);

/* What a monitor shows (relaxed loads, never a lock, never a write; a
 * sized struct). The lock: shmg_pinfo_status_lock + shmg_xlock_inspect. */
struct shmg_pinfo_info {
	uint32_t size;      /* sizeof(struct shmg_pinfo_info) */
	uint32_t file_size; /* which layout */
	char name[SHMG_PINFO_NAME_MAX + 1]; /* control characters shown as '?' */
	int32_t pid;        /* the process the file describes */
	int pid_alive;      /* SHMG_PROC_ALIVE, SHMG_PROC_DEAD, -ENOENT, -errno */
	int ctrl, loopstat, statuscode;
	int64_t loopcnt;
	char statusmsg[SHMG_PINFO_MSG_MAX];
	size_t lock_offset; /* where the status lock's word is */
};

SHMG_EXPORT int shmg_pinfo_inspect(const struct shmg_pinfo *p,
				   struct shmg_pinfo_info *info);

/*
 * For monitors and `shmguard recover`: if the lock's holder died, take the
 * lock, repair the status (its message terminated), mark it consistent and
 * release it; a not-recoverable lock is cleared. Never waits. opts may be
 * NULL. Returns 0 (nothing to recover; also a live holder that maps the
 * file: a locker at work), SHMG_RECOVERED, -EBUSY (a live holder that does
 * not map the file, what `shmguard inspect` flags: a planted word, or a
 * process that unmapped the file holding it; left alone, opts->force_pid
 * takes it), SHMG_EGARBAGE.
 */
SHMG_EXPORT int shmg_pinfo_recover(struct shmg_pinfo *p,
				   const struct shmg_recover_opts *opts);

/* ---------------------------------------------------------------- FPS */

struct shmg_fps;

#define SHMG_FPS_HEADER_2024 62648
#define SHMG_FPS_RECORD_2024 4112
#define SHMG_FPS_HEADER_NEW 71464
#define SHMG_FPS_RECORD_NEW 4120
#define SHMG_FPS_NAME_MAX 100      /* the FPS name, NUL included */
#define SHMG_FPS_KEYWORD_MAX 1280  /* a parameter's keywordfull, NUL included */
#define SHMG_FPS_VAL_MAX 128       /* bytes of a parameter's value union */
#define SHMG_FPS_STRING_MAX 64     /* a string value: the first of milk's two
				    * 64-byte slots (set point; the second is
				    * the current state) */
#define SHMG_FPS_UPDATE UINT64_C(4) /* the header signal's UPDATE bit */

enum shmg_fps_layout { SHMG_FPS_AUTO = 0, SHMG_FPS_2024 = 1, SHMG_FPS_NEW = 2 };

/* How to open an FPS file (NULL: all defaults; a sized struct). */
struct shmg_fps_opts {
	uint32_t size;   /* sizeof(struct shmg_fps_opts) */
	uint32_t layout; /* enum shmg_fps_layout; AUTO: by size and NBparamMAX */
};

/* A new FPS file (a sized struct). */
struct shmg_fps_params {
	uint32_t size;   /* sizeof(struct shmg_fps_params) */
	uint32_t layout; /* SHMG_FPS_2024 or SHMG_FPS_NEW */
	uint32_t nparam; /* NBparamMAX, >= 1 */
	const char *name; /* the FPS name (< 100 bytes), or NULL */
};

/* The file name: <dir>/<name>.fps.shm, dir as for ImageStreamIO streams. */
SHMG_EXPORT int shmg_fps_path(char *buf, size_t len, const char *name);

/*
 * Open an FPS file: header + NBparamMAX records. The layout is told by the
 * file size, and where a size fits both layouts (443 records of the 2024
 * one = 440 of the newer one) by NBparamMAX, read at each layout's offset:
 * the layout whose NBparamMAX matches its own record count wins (refused
 * when neither or both do, unless opts names the layout).
 * Returns 0, SHMG_ELAYOUT (nothing changed; shmg_error_detail says why),
 * -EINVAL (bad options), -ELOOP, -ENOENT, ...
 */
SHMG_EXPORT int shmg_fps_open(struct shmg_fps **f, const char *path,
			      unsigned flags, const struct shmg_fps_opts *opts);

/* Create a zeroed FPS file with its name and NBparamMAX set (tests and
 * demos). mode 0: 0600; flags: SHMG_REGION_REPLACE. */
SHMG_EXPORT int shmg_fps_create(struct shmg_fps **f, const char *path,
				const struct shmg_fps_params *what,
				mode_t mode, unsigned flags);

/* Unmap, close, free. NULL: no-op. */
SHMG_EXPORT void shmg_fps_close(struct shmg_fps *f);

SHMG_EXPORT const struct shmg_region *shmg_fps_region(const struct shmg_fps *f);

/* Parameter i's lock (in its userflag word). Returns 0 or -ERANGE. */
SHMG_EXPORT int shmg_fps_param_lock(const struct shmg_fps *f, unsigned i,
				    struct shmg_xlock *l);

/*
 * The index of the parameter whose full name (`keywordfull`, such as
 * ".conf.gain") is `name`; a leading '.' may be left out of `name`.
 * Returns 0 and sets *index, or -ENOENT.
 */
SHMG_EXPORT int shmg_fps_find(const struct shmg_fps *f, const char *name,
			      unsigned *index);

/*
 * Set parameter i's value: under its lock, the len bytes (<= 128) at the
 * start of the value union, cnt0 + 1 exactly once, then the header's UPDATE
 * bit (atomic OR: other bits are never lost). *cnt (may be NULL) receives
 * the new cnt0. Returns 0, SHMG_OWNERDEAD (recovered from a dead holder),
 * -ERANGE, -EINVAL, -EOVERFLOW (cnt0 is at its maximum), -ETIMEDOUT,
 * SHMG_ENOTRECOVERABLE, ...
 */
SHMG_EXPORT int shmg_fps_set(struct shmg_fps *f, unsigned i, const void *val,
			     size_t len, int64_t *cnt,
			     const struct timespec *deadline);

/* Read parameter i's first len bytes of value and its cnt0, under its
 * lock, as one unit. Returns as shmg_fps_set. */
SHMG_EXPORT int shmg_fps_get(const struct shmg_fps *f, unsigned i, void *val,
			     size_t len, int64_t *cnt,
			     const struct timespec *deadline);

SHMG_EXPORT int shmg_fps_set_int64(struct shmg_fps *f, unsigned i, int64_t v,
				   const struct timespec *deadline);
SHMG_EXPORT int shmg_fps_set_double(struct shmg_fps *f, unsigned i, double v,
				    const struct timespec *deadline);
/* The string (< 64 bytes, else -ENAMETOOLONG), NUL-padded, into the
 * value's first 64-byte slot (milk's set point); the second slot is left
 * as it is. */
SHMG_EXPORT int shmg_fps_set_string(struct shmg_fps *f, unsigned i,
				    const char *s,
				    const struct timespec *deadline);

/*
 * A real-time read of parameter i: never blocks, never makes a system
 * call, never writes to the file. The first len bytes of the value and
 * cnt0 are read without the lock, seqlock-style against the parameter's
 * lock word and cnt0 (doc/milk.md, "Real-time reads"), and only a
 * consistent pair is stored into val and *cnt (may be NULL). If a setter
 * holds the lock through SHMG_FPS_RT_TRIES looks, val and *cnt are left as
 * they are (the caller's previous value: keep the buffer between calls)
 * and SHMG_STALE says so.
 * Returns 0, SHMG_STALE, -EINVAL, -ERANGE, SHMG_ETRUNCATED.
 */
#define SHMG_FPS_RT_TRIES 64
SHMG_EXPORT int shmg_fps_read_rt(const struct shmg_fps *f, unsigned i, void *val,
				 size_t len, int64_t *cnt);

/*
 * Read-modify-write under parameter i's lock: fn(value, arg) gets a copy of
 * the 128-byte value, may change it, and returns > 0 if it did (the copy is
 * then stored, cnt0 + 1 and UPDATE set, as for a set), 0 if not, or a
 * negative error (nothing is stored). Returns as shmg_fps_set, or fn's
 * negative result.
 */
SHMG_EXPORT int shmg_fps_update(struct shmg_fps *f, unsigned i,
				int (*fn)(void *value, void *arg), void *arg,
				int64_t *cnt, const struct timespec *deadline);

/* Set and clear bits of parameter i's fpflag in one atomic RMW (no lost
 * bits between writers); *flags (may be NULL) receives the new flags.
 * Returns 0 or -ERANGE. */
SHMG_EXPORT int shmg_fps_flags(struct shmg_fps *f, unsigned i, uint64_t set,
			       uint64_t clear, uint64_t *flags);

/*
 * The whole-FPS section: every parameter's lock, taken in ascending index
 * order (so it never deadlocks with another whole-FPS section, nor with a
 * single-parameter operation, which holds one lock at a time). There is
 * no global lock word because the header has no spare word that is stable
 * across layouts. Returns 0, SHMG_OWNERDEAD (some lock recovered), or an
 * error with no lock held (-ETIMEDOUT at the deadline). Release with
 * shmg_fps_unlock_all.
 */
SHMG_EXPORT int shmg_fps_lock_all(struct shmg_fps *f,
				  const struct timespec *deadline);
SHMG_EXPORT int shmg_fps_unlock_all(struct shmg_fps *f);

/* Inside a whole-FPS section: set a value like shmg_fps_set, without
 * taking the lock again. */
SHMG_EXPORT int shmg_fps_set_locked(struct shmg_fps *f, unsigned i,
				    const void *val, size_t len, int64_t *cnt);

/* What a monitor shows of the whole FPS (a sized struct). */
struct shmg_fps_info {
	uint32_t size;     /* sizeof(struct shmg_fps_info) */
	uint32_t layout;   /* SHMG_FPS_2024 or SHMG_FPS_NEW */
	uint32_t nparam;   /* NBparamMAX */
	char name[SHMG_FPS_NAME_MAX + 1]; /* control characters shown as '?' */
	uint64_t signal;   /* the header's signal word */
	uint64_t cnt_sum;  /* the sum of every parameter's cnt0: sets so far */
};

SHMG_EXPORT int shmg_fps_inspect(const struct shmg_fps *f,
				 struct shmg_fps_info *info);

/* One parameter (relaxed loads, never a lock; a sized struct). Its lock:
 * shmg_fps_param_lock + shmg_xlock_inspect. */
struct shmg_fps_param_info {
	uint32_t size;     /* sizeof(struct shmg_fps_param_info) */
	uint32_t type;     /* milk's type code */
	uint64_t fpflag;
	int64_t cnt0;
	char keyword[SHMG_FPS_KEYWORD_MAX + 1]; /* keywordfull, '?' for controls */
	unsigned char value[SHMG_FPS_VAL_MAX]; /* may be torn: use shmg_fps_get */
	size_t lock_offset; /* where the parameter's lock word is (userflag) */
};

/* Returns 0, -ERANGE, -EINVAL. */
SHMG_EXPORT int shmg_fps_inspect_param(const struct shmg_fps *f, unsigned i,
				       struct shmg_fps_param_info *info);

/*
 * For monitors and `shmguard recover`: every parameter lock whose holder
 * died is taken, marked consistent (the dead holder's value stays as it
 * left it) and released; a not-recoverable one is cleared. Never waits.
 * Returns 0, SHMG_RECOVERED, or the first step's negative code (-EBUSY: a
 * live holder that does not map the file, as for shmg_pinfo_recover;
 * SHMG_EGARBAGE); each step is reported through opts->report.
 */
SHMG_EXPORT int shmg_fps_recover(struct shmg_fps *f,
				 const struct shmg_recover_opts *opts);

SHMG_END_DECLS

#endif /* SHMGUARD_MILK_H */
