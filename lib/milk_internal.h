/*
 * milk PINFO and FPS: the handles, the offsets (doc/milk.md, from the layout
 * facts), and what the milk client's files share.
 */
#ifndef SHMG_MILK_INTERNAL_H
#define SHMG_MILK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <shmguard/milk.h>
#include <shmguard/xlock.h>

#include <shmguard/error.h>

#include "region_internal.h"

/* PINFO: the same offsets in the 2024 and the newer layout. */
#define PINFO_NAME 0 /* char[80] */
#define PINFO_PID 484
#define PINFO_LOOPCNT 504 /* long */
#define PINFO_CTRLVAL 520 /* int */
#define PINFO_LOOPSTAT 624 /* int: 0 init, 1 active, 2 pause, 3 stop, 4 error, 5 spin, 6 crashed */
#define PINFO_STATUSMSG 628 /* char[200] */
#define PINFO_STATUSCODE 828 /* int, unused by milk */
#define PINFO_LOCK 836 /* the 4-byte alignment hole after triggermode */

/* FPS header: name at 0 in both layouts; signal and NBparamMAX move. */
#define FPS_NAME 0 /* char[100] */
#define FPS_SIGNAL_2024 11800 /* uint64 */
#define FPS_SIGNAL_NEW 20608
#define FPS_NBPARAM_2024 11824 /* long */
#define FPS_NBPARAM_NEW 20640

/* FPS parameter record: the same offsets in both layouts. */
#define FPS_FPFLAG 0 /* uint64 */
#define FPS_USERFLAG 8 /* uint64, unused by milk: the parameter's lock */
#define FPS_KEYWORDFULL 16 /* char[1280] */
#define FPS_TYPE 3924 /* uint32 */
#define FPS_VAL 3928 /* 128 bytes */
#define FPS_CNT0 4104 /* long */

struct shmg_pinfo {
	struct shmg_region *region;
	struct shmg_xlock lock; /* in the hole at 836 */
};

struct shmg_fps {
	struct shmg_region *region;
	enum shmg_fps_layout layout;
	size_t header, record; /* sizes in bytes */
	unsigned nparam;       /* NBparamMAX, from the file size */
	uint64_t *signal;      /* the header's signal word */
};

/* What an operation on region r returns: `result`, unless the file was
 * truncated under the mapping while it ran (SHMG_REGION_TRUNCATION), when
 * what it read or wrote was zero pages, not the file. */
static inline int milk_result(const struct shmg_region *r, int result)
{
	return shmg__truncated(r) ? SHMG_ETRUNCATED : result;
}

static inline unsigned char *fps_record(const struct shmg_fps *f, unsigned i)
{
	return f->region->base + f->header + (size_t)i * f->record;
}

static inline int64_t *fps_cnt0(const struct shmg_fps *f, unsigned i)
{
	return (int64_t *)(void *)(fps_record(f, i) + FPS_CNT0);
}

/* Lock l (until the deadline; NULL: none); if its holder died, run
 * repair(arg) and mark it consistent. Returns 0, SHMG_OWNERDEAD, or the
 * lock's error. */
int shmg__milk_lock(const struct shmg_xlock *l, void (*repair)(void *), void *arg,
		    const struct timespec *deadline);

struct shmg__recovery;

/* A recovery step on l, never waiting: a dead holder's lock is taken,
 * repaired, marked consistent and released; a not-recoverable one is
 * cleared; a live holder that does not map the file (fd) is left alone
 * with -EBUSY, as `shmguard inspect` flags it. `what` names the lock in
 * the report. */
void shmg__milk_recover(struct shmg__recovery *rc, const struct shmg_xlock *l, int fd,
			void (*repair)(void *), void *arg, const char *what);

#endif /* SHMG_MILK_INTERNAL_H */
