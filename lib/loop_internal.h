/*
 * The milk processing loop (include/shmguard/loop.h, doc/loop.md): the
 * handle, and the PINFO and ImageStreamIO words it uses (from the layout
 * facts recorded in doc/loop.md).
 */
#ifndef SHMG_LOOP_INTERNAL_H
#define SHMG_LOOP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <shmguard/loop.h>

/* PINFO: the same offsets in both layouts (every field before
 * triggerstatus + 4). */
#define LOOP_LOOPCNTMAX 512    /* long: -1 no limit */
#define LOOP_TRIGGERMODE 832   /* int */
#define LOOP_STREAMID 840      /* long: process-local, -1 here */
#define LOOP_STREAMINODE 848   /* ino_t */
#define LOOP_STREAMNAME 856    /* char[80] */
#define LOOP_TRIGGERSEM 936    /* int */
#define LOOP_STREAMCNT 944     /* uint64 */
#define LOOP_DELAY 952         /* struct timespec */
#define LOOP_TIMEOUT 968       /* struct timespec */
#define LOOP_TIMEOUTCNT 984    /* uint64 (milk's trigggertimeoutcnt) */
#define LOOP_MISSED 992        /* int */
#define LOOP_MISSED_CUMUL 1000 /* uint64 */
#define LOOP_TRIGGERSTATUS 1008 /* int */
/* Timing, 2024 layout; the newer one adds 16 from CPUmask on. */
#define LOOP_MEASURETIMING 1144 /* int */
#define LOOP_TIMERINDEX 1148   /* int: the slot of the newest start */
#define LOOP_TIMINGBUFCNT 1152 /* int: ring wraps */
#define LOOP_RINGSEQ 1156      /* the 4-byte hole: our ring sequence word */
#define LOOP_TEXECSTART 1160   /* struct timespec[100] */
#define LOOP_TEXECEND 2760     /* struct timespec[100] */
#define LOOP_SHIFT_NEW 16
/* The ring sequence runs 1..LOOP_SEQ_MOD (a multiple of the ring size, so
 * the slot, seq % 100, continues across the wrap); 0 = none yet. */
#define LOOP_SEQ_MOD 4294967200u

/* ImageStreamIO metadata words the loop uses. */
#define LOOP_ISIO_INODE 232
#define LOOP_ISIO_CNT0 264
#define LOOP_ISIO_CNT1 272
#define LOOP_ISIO_CNT2 280
/* The padding between `status` (241) and `flag` (248): producers asleep in
 * mode CNT2 count themselves here, so a grant makes a syscall only when
 * one sleeps. */
#define LOOP_ISIO_CNT2_SLEEPERS 244
/* Process-trace record (64 bytes). */
#define LOOP_PT_MODE 0
#define LOOP_PT_PID 4
#define LOOP_PT_INODE 8
#define LOOP_PT_PROCSTART 16
#define LOOP_PT_UPDATE 32
#define LOOP_PT_SEMINDEX 48
#define LOOP_PT_STATUS 52
#define LOOP_PT_CNT0 56
#define LOOP_PT_SIZE 64

/* Waits sleep in slices of at most this long: an EXIT command reaches a
 * loop that waits for its trigger, and a legacy peer that wakes nobody is
 * seen, within one slice. */
#define LOOP_SLICE_NS 100000000u

/* A paused loop sleeps on CTRLval in slices of this long: a legacy monitor
 * that stores a command without waking anybody (milk's procCTRL) is obeyed
 * within one slice; shmg_pinfo_command wakes it at once. */
#define LOOP_PAUSE_SLICE_NS 1000000000u

#ifdef SHMG_TESTING
/* Tests of wake-ups stretch the slices, so a lost wake-up cannot hide behind
 * one (tests/check_loop.c). */
extern uint64_t shmg__test_loop_slice_ns;
#define LOOP_SLICE() (shmg__test_loop_slice_ns ? shmg__test_loop_slice_ns : LOOP_SLICE_NS)
#define LOOP_PAUSE_SLICE()                                                     \
	(shmg__test_loop_slice_ns ? shmg__test_loop_slice_ns : LOOP_PAUSE_SLICE_NS)
#else
#define LOOP_SLICE() ((uint64_t)LOOP_SLICE_NS)
#define LOOP_PAUSE_SLICE() ((uint64_t)LOOP_PAUSE_SLICE_NS)
#endif

#define LOOP_DEFAULT_SEM_TIMEOUT_NS 2000000000u

struct shmg_loop {
	struct shmg_loop_params p;
	unsigned char *pb;     /* the PINFO file's base */
	size_t tshift;         /* 0 (2024 layout) or 16 (newer) */
	unsigned char *ib;     /* the input stream's base, or NULL */
	int slot;              /* semaphore slot, or -1 */
	uint64_t last;         /* cnt0 at the last trigger */
	uint64_t periods;      /* DELAY: periods so far */
	struct timespec next;  /* DELAY: the next deadline */
	uint32_t seq;          /* exec starts recorded (ring sequence) */
	struct timespec t_start; /* the newest exec start */
	int status;            /* the last wait's triggerstatus */
};

static inline void *loop_pw(const struct shmg_loop *l, size_t off)
{
	return l->pb + off;
}

static inline int32_t *loop_p32(const struct shmg_loop *l, size_t off)
{
	return (int32_t *)(void *)(l->pb + off);
}

static inline uint64_t *loop_p64(const struct shmg_loop *l, size_t off)
{
	return (uint64_t *)(void *)(l->pb + off);
}

static inline uint64_t *loop_i64(const struct shmg_loop *l, size_t off)
{
	return (uint64_t *)(void *)(l->ib + off);
}

/* ns -> timespec, and back (saturating). */
static inline struct timespec loop_ts(uint64_t ns)
{
	struct timespec t = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	return t;
}

/* The ring's slot for sequence number k (1..LOOP_SEQ_MOD). */
static inline unsigned loop_slot(uint32_t k)
{
	return k % SHMG_LOOP_RING;
}

/* Did an EXIT command arrive (acquire)? */
int shmg__loop_exit_asked(const struct shmg_loop *l);

/* The mode's waits (lib/loop_trigger.c, loop_sem.c, loop_credit.c). Each
 * fills t's status/cnt/missed/pending/run and returns as shmg_loop_wait. */
int shmg__loop_wait_counter(struct shmg_loop *l, struct shmg_loop_trigger *t,
			    const struct timespec *deadline);
int shmg__loop_wait_sem(struct shmg_loop *l, struct shmg_loop_trigger *t,
			const struct timespec *deadline);
int shmg__loop_wait_delay(struct shmg_loop *l, struct shmg_loop_trigger *t,
			  const struct timespec *deadline);
int shmg__loop_wait_credit(struct shmg_loop *l, struct shmg_loop_trigger *t,
			   const struct timespec *deadline);

/* The end of the current slice: the earlier of the deadline and now +
 * LOOP_SLICE_NS. */
int shmg__loop_slice(struct timespec *until, const struct timespec *deadline);

/* After a slice timed out: SHMG_ETRUNCATED or -ESTALE if the input is
 * gone (shmg__loop_input_gone), -ETIMEDOUT if the deadline passed,
 * -ECANCELED if an EXIT arrived, else 0 (wait on). */
int shmg__loop_slice_over(const struct shmg_loop *l,
			  const struct timespec *deadline);

/* Is the input stream gone (lib/loop_input.c)? SHMG_ETRUNCATED (its file
 * was truncated under the mapping), -ESTALE (its file was unlinked:
 * recreated or removed under its name), with a detail; else 0. A system
 * call: only after a slice timed out. */
int shmg__loop_input_gone(const struct shmg_loop *l);

#endif /* SHMG_LOOP_INTERNAL_H */
