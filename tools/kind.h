/*
 * kind: what the tool knows of one kind of segment, as a table of
 * operations (one file per kind: kind_isio.c, kind_pinfo.c, kind_fps.c,
 * kind_generic.c; the table in kinds.c). A new layout client is one new
 * file and one line in the table.
 *
 * A snapshot is one relaxed reading of a segment's guard state, through
 * the library's *_inspect calls: it never writes, never takes a lock and
 * never waits (a monitor must not disturb what it watches). What every
 * kind shares (mappers, lock words, alerts) is in struct snapshot; what is
 * its own, in the `state` it allocates.
 */
#ifndef SHMG_TOOL_KIND_H
#define SHMG_TOOL_KIND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <shmguard.h>

#include "alerts.h"
#include "json.h"
#include "segment.h"

#define SNAP_MAX_LOCKS 64 /* lock words listed (FPS: the ones not unlocked) */
#define SNAP_MAX_MAPPERS 16

struct lock_view {
	const char *type; /* "status lock", "parameter", "xlock" */
	unsigned index;   /* parameter index, or generic lock number */
	bool indexed;     /* several of this type: the index names it */
	char what[40];    /* in alerts: "the status lock", "parameter 5's lock" */
	size_t offset;    /* of the word in the file */
	struct shmg_xlock_info info;
	bool has_cnt0;
	int64_t cnt0;     /* FPS: the parameter's cnt0 */
	uint64_t held_since_ns; /* since when the same holder holds it */
};

struct snapshot {
	uint64_t t_ns;
	size_t size;
	int fd;            /* the file's descriptor (for the holders' maps) */
	const struct kind *kind;
	void *state; /* the kind's own reading (kind->state_size bytes) */
	bool has_mappers, mappers_complete;
	size_t nmappers;
	pid_t mappers[SNAP_MAX_MAPPERS];
	unsigned nlocks, locks_omitted;
	struct lock_view locks[SNAP_MAX_LOCKS];
	struct alerts alerts;
};

struct kind {
	const char *name; /* "imagestreamio", "milk-pinfo", ... (inspect's kind) */
	/* Is the file (mapped read-only at peek) of this kind? 1 yes, 0 no,
	 * -1 after one error line (a file of this kind that cannot be used).
	 * NULL: only chosen by options (generic). */
	int (*recognise)(const struct shmg_region *peek, const struct seg_options *o,
			 const char *path);
	/* Open s->path into s->h: 0, or CLI_ERROR after one error line. */
	int (*open)(struct segment *s, const struct seg_options *o, unsigned flags);
	void (*close)(struct segment *s);
	const struct shmg_region *(*region)(const struct segment *s);
	size_t state_size;
	/* Fill cur->state and cur->locks (may fault if the file shrank:
	 * snapshot_take catches that). */
	void (*read)(const struct segment *s, struct snapshot *cur);
	/* The kind's own alerts (lock alerts are common). NULL: none. */
	void (*alerts)(const struct snapshot *prev, struct snapshot *cur);
	void (*text)(FILE *out, const struct snapshot *prev, const struct snapshot *cur);
	void (*json)(struct json *j, const struct snapshot *prev, const struct snapshot *cur);
	/* Recover (shmguard recover): the library's *_recover with opts; each
	 * step reported through opts->report. Returns its result. */
	int (*recover)(struct segment *s, const struct shmg_recover_opts *opts, bool reset);
	/* watch: the write flag and its counter, to tell a stuck flag (NULL:
	 * the kind has none). */
	bool (*write_flag)(const struct snapshot *cur, uint64_t *counter);
	/* watch: follow frames as a sleeping reader (NULL: no frames). */
	uint64_t (*counter)(const struct segment *s);
	int (*wait)(const struct segment *s, uint64_t after, uint64_t *now,
		    const struct timespec *deadline);
};

/* The kinds, in the order files are recognised (NULL-terminated; kinds.c),
 * and the generic region, which only options choose. */
extern const struct kind *const seg_kinds[];
extern const struct kind kind_generic;

/* A snapshot for segment s (its state allocated); NULL when out of memory. */
struct snapshot *snapshot_new(const struct segment *s);
void snapshot_free(struct snapshot *snap);

/* Read the state now. false: the file shrank under the mapping (SIGBUS;
 * another process truncated it), and the snapshot is not usable. */
bool snapshot_take(const struct segment *s, struct snapshot *out);
#define SNAPSHOT_SHRANK "the file shrank while being read (truncated by another process?)"

/* Which other processes map the file (a /proc scan: milliseconds). */
void snapshot_mappers(const struct segment *s, struct snapshot *out);

/* Fill cur's alerts (the kind's and the locks'), with prev (may be NULL)
 * for what needs time. */
void snapshot_alerts(const struct snapshot *prev, struct snapshot *cur);

/* A lock or write flag held this long by the same live process is called
 * stuck (--stuck; 0: never). */
void snapshot_set_stuck(uint64_t ns);

/* The holder check for something held since `since_ns` in cur. */
struct holder_check snapshot_holder(const struct snapshot *cur, uint64_t since_ns);

/* Add lock l (its offset in the file: `offset`) as a view; `what` names
 * it in alerts. */
struct lock_view *snapshot_add_lock(struct snapshot *o, const struct shmg_xlock *l,
				    size_t offset, const char *type, unsigned index,
				    bool indexed, const char *what);

/* Events per second between two snapshots of one counter. */
double snapshot_rate(uint64_t before, uint64_t after, const struct snapshot *prev,
		     const struct snapshot *cur);

const char *liveness_name(int alive);

/* Rendering shared by the kinds (render.c). */
void render_text(FILE *out, const char *path, const struct snapshot *prev,
		 const struct snapshot *cur);
void render_json(struct json *j, const char *path, const struct snapshot *prev,
		 const struct snapshot *cur);
/* " (12.3/s)" when there is a previous snapshot, else "". */
const char *rate_text(char *buf, size_t len, uint64_t before, uint64_t after,
		      const struct snapshot *prev, const struct snapshot *cur);
/* A write flag's writer, as text and as JSON. */
void text_writer(FILE *out, const struct shmg_wflag_info *w);
void json_writer(struct json *j, const struct shmg_wflag_info *w);

#endif /* SHMG_TOOL_KIND_H */
