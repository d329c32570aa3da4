/*
 * snapshot: one relaxed reading of a segment's guard state (counters, write
 * flag, writer, lock words, semaphores), and the alerts that follow from
 * it and from the reading before it. A snapshot never writes, never takes
 * a lock and never waits: a monitor must not disturb what it watches.
 */
#ifndef SHMG_TOOL_SNAPSHOT_H
#define SHMG_TOOL_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "mappers.h"
#include "segment.h"

#define SNAP_MAX_SLOTS 64   /* semaphore slots shown (nsem may be larger) */
#define SNAP_MAX_LOCKS 64   /* lock words listed (FPS: the ones not unlocked) */
#define SNAP_MAX_ALERTS 32

struct lock_view {
	const char *what;   /* "status lock", "parameter", "xlock" */
	unsigned index;     /* parameter index, or generic lock number */
	size_t offset;      /* of the word in the file */
	unsigned width;
	struct shmg_xlock_info info;
	int64_t cnt0;       /* FPS: the parameter's cnt0 */
};

struct wflag_view {
	size_t mark_offset;
	uint8_t mark;
	uint64_t counter;
	bool has_owner;
	int32_t owner;
	int owner_alive; /* SHMG_PROC_ALIVE, SHMG_PROC_DEAD, -ENOENT (none), -errno */
};

struct slot_view {
	int value;          /* the semaphore's value */
	int32_t reader;     /* semReadPID: -1/0 free */
	int reader_alive;
};

enum alert_level { ALERT_NOTE, ALERT_PROBLEM };

struct alert {
	enum alert_level level;
	char text[200];
};

struct snapshot {
	uint64_t t_ns;
	enum seg_kind kind;
	size_t size;
	/* ImageStreamIO */
	char name[81];
	struct shmg_isio_layout layout;
	struct wflag_view wflag; /* write, cnt0, ownerPID */
	uint8_t waiters;
	uint64_t cnt1;
	uint32_t cbindex;
	int32_t creator;
	unsigned nslots; /* shown: min(nsem, SNAP_MAX_SLOTS) */
	struct slot_view slot[SNAP_MAX_SLOTS];
	/* PINFO */
	int32_t pid;
	int pid_alive;
	int ctrl, loopstat, statuscode;
	int64_t loopcnt;
	char statusmsg[SHMG_PINFO_MSG_MAX];
	/* FPS */
	unsigned nparam, nheld, ndead, nbroken; /* locks held, dead owners, poisoned or garbage */
	uint64_t cnt_sum; /* sum of every parameter's cnt0: updates so far */
	/* generic */
	unsigned n_wflag;
	struct wflag_view wflags[SEG_MAX_GUARDS];
	/* every kind */
	bool has_mappers; /* snapshot_mappers() was called */
	struct mappers mappers;
	unsigned nlocks, locks_omitted;
	struct lock_view locks[SNAP_MAX_LOCKS];
	unsigned nalerts;
	struct alert alerts[SNAP_MAX_ALERTS];
};

/* Read the state now. false: the file shrank under the mapping (SIGBUS;
 * another process truncated it), and *out is not usable. */
bool snapshot_take(const struct segment *s, struct snapshot *out);

#define SNAPSHOT_SHRANK "the file shrank while being read (truncated by another process?)"

/* Which other processes map the file (a /proc scan: milliseconds). */
void snapshot_mappers(const struct segment *s, struct snapshot *out);

/* Fill cur's alerts from cur, and from prev (may be NULL) for what needs
 * time: a write flag that stays set while nothing is published. */
void snapshot_alerts(const struct snapshot *prev, struct snapshot *cur);

/* Has cur an alert of level PROBLEM? */
bool snapshot_has_problem(const struct snapshot *cur);

/* Events per second between two snapshots of one counter. */
double snapshot_rate(uint64_t before, uint64_t after, uint64_t dt_ns);

const char *lock_state_name(enum shmg_xlock_state st);
const char *liveness_name(int alive);

#endif /* SHMG_TOOL_SNAPSHOT_H */
