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
 * Guarded operations return 0, or 1 when the lock was taken from a dead
 * holder (its update may be half done: the operation then repaired what it
 * could and marked the lock consistent), or a negative error.
 * The locks are advisory: unmodified milk code that writes these fields
 * with plain stores is not stopped (doc/milk.md, "What stays unsafe").
 */
#ifndef SHMGUARD_MILK_H
#define SHMGUARD_MILK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/region.h>
#include <shmguard/xlock.h>

SHMG_BEGIN_DECLS

/* ---------------------------------------------------------------- PINFO */

#define SHMG_PINFO_SIZE_2024 4624
#define SHMG_PINFO_SIZE_NEW 4640
#define SHMG_PINFO_MSG_MAX 200 /* statusmsg bytes, NUL included */

/* CTRLval commands (milk's values). */
enum shmg_pinfo_ctrl {
	SHMG_PINFO_RUN = 0, SHMG_PINFO_PAUSE = 1, SHMG_PINFO_STEP = 2,
	SHMG_PINFO_EXIT = 3, SHMG_PINFO_SPIN = 5,
};

struct shmg_pinfo {
	struct shmg_region region;
	size_t size;            /* SHMG_PINFO_SIZE_2024 or _NEW */
	struct shmg_xlock lock; /* in the hole at 836 */
};

/*
 * The file name of process `name` with PID pid: <dir>/proc.<name>.<pid as
 * %06d>.shm, dir = $MILK_PROC_DIR if a directory, else $MILK_SHM_DIR, else
 * /milk/shm, else $TMPDIR or /tmp. Returns 0, -EINVAL, -ENAMETOOLONG.
 */
SHMG_EXPORT int shmg_pinfo_path(char *buf, size_t len, const char *name,
				pid_t pid);

/* Open a PINFO file, recognised by its size. Returns 0, SHMG_ELAYOUT (any
 * other size; nothing changed), -ELOOP (symlink, unless
 * SHMG_REGION_FOLLOW), -ENOENT, ... */
SHMG_EXPORT int shmg_pinfo_open(struct shmg_pinfo *p, const char *path,
				unsigned flags);

/* Create a zeroed PINFO file of `size` (either layout) with its name and
 * PID set, as milk's own creation leaves it (for tests and demos).
 * mode 0: 0600. Returns as shmg_region_create, -EINVAL for a bad size. */
SHMG_EXPORT int shmg_pinfo_create(struct shmg_pinfo *p, const char *path,
				  size_t size, const char *name, pid_t pid,
				  mode_t mode);

SHMG_EXPORT void shmg_pinfo_close(struct shmg_pinfo *p);

/*
 * Monitor side: ask for `cmd`. Under the lock; an EXIT already pending is
 * never replaced by another command (-EALREADY then). The process sees the
 * command through shmg_pinfo_transition / shmg_pinfo_ctrl.
 */
SHMG_EXPORT int shmg_pinfo_command(struct shmg_pinfo *p, int cmd);

/*
 * Process side: change CTRLval from `from` to `to` only if it still holds
 * `from` (for example single step 2 -> pause 1): a command the monitor
 * wrote meanwhile is kept. Under the lock. Returns 0 (changed), 1 (changed,
 * after recovering the lock from a dead holder), -EAGAIN (CTRLval holds
 * another command: *now has it).
 */
SHMG_EXPORT int shmg_pinfo_transition(struct shmg_pinfo *p, int from, int to,
				      int *now);

/* CTRLval now (acquire). */
SHMG_EXPORT int shmg_pinfo_ctrl(const struct shmg_pinfo *p);

/* Write the status code and message as one unit (the message truncated
 * to 199 bytes and NUL-padded). Under the lock. */
SHMG_EXPORT int shmg_pinfo_set_status(struct shmg_pinfo *p, int code,
				      const char *msg);

/* Read them as one unit into *code and msg[len] (always NUL-terminated).
 * Under the lock. */
SHMG_EXPORT int shmg_pinfo_get_status(struct shmg_pinfo *p, int *code,
				      char *msg, size_t len);

/*
 * For monitors and `shmguard recover`: if the lock's holder died, take the
 * lock, repair the status (its message terminated), mark it consistent and
 * release it. Never waits. Returns 0 (nothing to recover), 1 (recovered),
 * -EBUSY (a live holder has it), SHMG_ENOTRECOVERABLE, SHMG_EGARBAGE.
 */
SHMG_EXPORT int shmg_pinfo_recover(struct shmg_pinfo *p);

/* Heartbeat: loopcnt + 1 (one atomic increment, relaxed; no lost counts
 * with several writers). Returns the new value. */
SHMG_EXPORT int64_t shmg_pinfo_heartbeat(struct shmg_pinfo *p);

/* loopcnt now (relaxed). */
SHMG_EXPORT int64_t shmg_pinfo_loopcnt(const struct shmg_pinfo *p);

/* ---------------------------------------------------------------- FPS */

#define SHMG_FPS_HEADER_2024 62648
#define SHMG_FPS_RECORD_2024 4112
#define SHMG_FPS_HEADER_NEW 71464
#define SHMG_FPS_RECORD_NEW 4120
#define SHMG_FPS_VAL_MAX 128     /* bytes of a parameter's value union */
#define SHMG_FPS_UPDATE UINT64_C(4) /* the header signal's UPDATE bit */

enum shmg_fps_layout { SHMG_FPS_AUTO = 0, SHMG_FPS_2024 = 1, SHMG_FPS_NEW = 2 };

/* Where the header's `signal` word is: the facts give its meaning but not
 * its offset in either layout, so the caller names it (SHMG_FPS_NO_SIGNAL:
 * sets do not signal). */
#define SHMG_FPS_NO_SIGNAL ((size_t)-1)

struct shmg_fps_opts {
	enum shmg_fps_layout layout; /* AUTO: by size; refused if ambiguous */
	size_t signal_offset;        /* 8-aligned, inside the header */
};

struct shmg_fps {
	struct shmg_region region;
	enum shmg_fps_layout layout;
	size_t header, record; /* sizes in bytes */
	unsigned nparam;       /* NBparamMAX, from the file size */
	uint64_t *signal;      /* NULL: unknown */
};

/* The file name: <dir>/<name>.fps.shm, dir as for ImageStreamIO streams. */
SHMG_EXPORT int shmg_fps_path(char *buf, size_t len, const char *name);

/*
 * Open an FPS file: header + n records, with n >= 1 from the size. A size
 * that fits both layouts (n = 443 of the 2024 one and 440 of the newer one)
 * needs opts->layout. Returns 0, SHMG_ELAYOUT (nothing changed), -EINVAL
 * (bad options), -ELOOP, -ENOENT, ...
 */
SHMG_EXPORT int shmg_fps_open(struct shmg_fps *f, const char *path,
			      unsigned flags, const struct shmg_fps_opts *opts);

/* Create a zeroed FPS file with n parameter records (tests and demos). */
SHMG_EXPORT int shmg_fps_create(struct shmg_fps *f, const char *path,
				enum shmg_fps_layout layout, unsigned n,
				const struct shmg_fps_opts *opts, mode_t mode);

SHMG_EXPORT void shmg_fps_close(struct shmg_fps *f);

/* Parameter i's lock (in its userflag word). Returns 0 or -ERANGE. */
SHMG_EXPORT int shmg_fps_param_lock(const struct shmg_fps *f, unsigned i,
				    struct shmg_xlock *l);

/*
 * Set parameter i's value: under its lock, the len bytes (<= 128) at the
 * start of the value union, cnt0 + 1 exactly once, then the header's UPDATE
 * bit (atomic OR: other bits are never lost). *cnt (may be NULL) receives
 * the new cnt0. Returns 0, 1 (recovered from a dead holder), -ERANGE,
 * -EINVAL, SHMG_ENOTRECOVERABLE, ...
 */
/* As shmg_pinfo_recover, for parameter i's lock (the dead holder's value
 * stays as it left it, as after any recovery by shmg_fps_set). Also
 * -ERANGE. */
SHMG_EXPORT int shmg_fps_recover(struct shmg_fps *f, unsigned i);

SHMG_EXPORT int shmg_fps_set(struct shmg_fps *f, unsigned i, const void *val,
			     size_t len, int64_t *cnt);

/* Read parameter i's first len bytes of value and its cnt0, under its
 * lock, as one unit. Returns as shmg_fps_set. */
SHMG_EXPORT int shmg_fps_get(struct shmg_fps *f, unsigned i, void *val,
			     size_t len, int64_t *cnt);

SHMG_EXPORT int shmg_fps_set_int64(struct shmg_fps *f, unsigned i, int64_t v);
SHMG_EXPORT int shmg_fps_set_double(struct shmg_fps *f, unsigned i, double v);
SHMG_EXPORT int shmg_fps_set_string(struct shmg_fps *f, unsigned i,
				    const char *s);

/*
 * Read-modify-write under parameter i's lock: fn(value, arg) may change
 * the 128-byte value in place and returns nonzero if it did; then cnt0 + 1
 * and UPDATE are set as for a set. Returns as shmg_fps_set, or fn's
 * negative result.
 */
SHMG_EXPORT int shmg_fps_update(struct shmg_fps *f, unsigned i,
				int (*fn)(void *value, void *arg), void *arg,
				int64_t *cnt);

/* Set and clear bits of parameter i's fpflag in one atomic RMW (no lost
 * bits between writers). Returns the new flags. */
SHMG_EXPORT uint64_t shmg_fps_flags(struct shmg_fps *f, unsigned i,
				    uint64_t set, uint64_t clear);

/*
 * The whole-FPS section: every parameter's lock, taken in ascending index
 * order (so it never deadlocks with another whole-FPS section, nor with a
 * single-parameter operation, which holds one lock at a time). There is
 * no global lock word because the header has no spare word that is stable
 * across layouts. Returns 0, 1 (some lock recovered), or an error with no
 * lock held. Release with shmg_fps_unlock_all.
 */
SHMG_EXPORT int shmg_fps_lock_all(struct shmg_fps *f);
SHMG_EXPORT void shmg_fps_unlock_all(struct shmg_fps *f);

/* Inside a whole-FPS section: set a value like shmg_fps_set, without
 * taking the lock again. */
SHMG_EXPORT int shmg_fps_set_locked(struct shmg_fps *f, unsigned i,
				    const void *val, size_t len, int64_t *cnt);

SHMG_END_DECLS

#endif /* SHMGUARD_MILK_H */
