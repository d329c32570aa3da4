/*
 * ImageStreamIO metadata offsets (IMAGE_METADATA, 384 bytes; the same in
 * versions 1.04 to 2.00) and record sizes, from doc/imagestreamio.md.
 */
#ifndef SHMG_ISIO_LAYOUT_H
#define SHMG_ISIO_LAYOUT_H

#include <semaphore.h>
#include <time.h>

#define ISIO_MD_SIZE 384
#define ISIO_VERSION 0 /* char[32] */
#define ISIO_VERSION_LEN 32
#define ISIO_NAME 32 /* char[80] */
#define ISIO_NAXIS 112
#define ISIO_SIZE 116 /* uint32[3] */
#define ISIO_NELEMENT 128
#define ISIO_DATATYPE 136
#define ISIO_IMAGETYPE 144
#define ISIO_CREATIONTIME 152 /* struct timespec */
#define ISIO_LASTACCESSTIME 168
#define ISIO_ATIME 184
#define ISIO_WRITETIME 200
#define ISIO_CREATORPID 216
#define ISIO_OWNERPID 220
#define ISIO_SHARED 224
#define ISIO_INODE 232
#define ISIO_LOCATION 240 /* int8: -1 CPU, >= 0 GPU */
#define ISIO_STATUS 241
#define ISIO_FLAG 248
#define ISIO_LOGFLAG 256
#define ISIO_SEM 258 /* uint16 */
#define ISIO_NBPROCTRACE 260
#define ISIO_CNT0 264
#define ISIO_CNT1 272
#define ISIO_CNT2 280
#define ISIO_WRITE 288
#define ISIO_WAITERS 289 /* padding before NBkw: our sleepers' byte */
#define ISIO_NBKW 290
#define ISIO_CBSIZE 292
#define ISIO_CBINDEX 296
#define ISIO_CBCYCLE 304
#define ISIO_IMDATAMEMSIZE 312

#define ISIO_KW_SIZE 128
#define ISIO_KW_TYPE 16 /* char: 'N' (none) in a fresh file */
#define ISIO_PROCTRACE_TRIGSEMINDEX 48 /* int: -1 in a fresh file */
#define ISIO_PROCTRACE_SIZE 64
#define ISIO_CBMD_SIZE 48 /* cnt0 @0, cnt1 @8, atime @16, writetime @32 */
#define ISIO_CBMD_CNT1 8
#define ISIO_CBMD_ATIME 16
#define ISIO_CBMD_WRITETIME 32
#define ISIO_SEM_T_SIZE sizeof(sem_t) /* 32 on 64-bit glibc */
#define ISIO_DEFAULT_NSEM 10
#define ISIO_DEFAULT_NPROCTRACE 10
#define ISIO_SEM_POST_CAP 10 /* writers post a semaphore below this value */

/* ImageStreamIO's clock for every time it writes: CLOCK_TAI where the
 * system has it (Linux), else CLOCK_REALTIME. */
#ifdef CLOCK_TAI
#define ISIO_CLOCK CLOCK_TAI
#else
#define ISIO_CLOCK CLOCK_REALTIME
#endif

#endif /* SHMG_ISIO_LAYOUT_H */
