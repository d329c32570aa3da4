/*
 * milk PINFO and FPS offsets (doc/milk.md, from the layout facts), and
 * what the milk client's files share.
 */
#ifndef SHMG_MILK_INTERNAL_H
#define SHMG_MILK_INTERNAL_H

#include <shmguard/xlock.h>

/* PINFO: the same offsets in the 2024 and the newer layout. */
#define PINFO_NAME 0 /* char[80] */
#define PINFO_NAME_MAX 80
#define PINFO_PID 484
#define PINFO_LOOPCNT 504 /* long */
#define PINFO_CTRLVAL 520 /* int */
#define PINFO_LOOPSTAT 624 /* int: 0 init, 1 active, 2 pause, 3 stop, 4 error, 5 spin, 6 crashed */
#define PINFO_STATUSMSG 628 /* char[200] */
#define PINFO_STATUSCODE 828 /* int, unused by milk */
#define PINFO_LOCK 836 /* the 4-byte alignment hole after triggermode */

/* FPS parameter record: the same offsets in both layouts. */
#define FPS_FPFLAG 0 /* uint64 */
#define FPS_USERFLAG 8 /* uint64, unused by milk: the parameter's lock */
#define FPS_TYPE 3924
#define FPS_VAL 3928 /* 128 bytes */
#define FPS_CNT0 4104 /* long */

/* The milk shm directory: $MILK_SHM_DIR if a directory, else /milk/shm if
 * one, else $TMPDIR if a directory, else /tmp. */
const char *shmg__milk_shm_dir(void);

/* Lock l; if its holder died, run repair(arg) and mark it consistent.
 * Returns 0, 1 (recovered), or the lock's error. */
int shmg__milk_lock(const struct shmg_xlock *l, void (*repair)(void *), void *arg);

/* Never waiting: if l's holder died, take it, run repair(arg), mark it
 * consistent and release it. Returns 0 (nothing to recover: l was free or
 * is now free), 1 (recovered), -EBUSY (a live holder), or the lock's error. */
int shmg__milk_recover(const struct shmg_xlock *l, void (*repair)(void *), void *arg);

#endif /* SHMG_MILK_INTERNAL_H */
