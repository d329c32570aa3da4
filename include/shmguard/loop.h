/*
 * shmguard/loop.h: milk's processing loop as a client: a trigger (an
 * ImageStreamIO input and a mode), and the loop's state in its PINFO file
 * (commands obeyed at each step, trigger fields, heartbeat, timing rings).
 *
 * A loop, as milk's processinfo_loopstart / loopstep / waitoninputstream /
 * exec_start / exec_end:
 *
 *   shmg_loop_new(&l, &params);                 trigger fields, loopstart
 *   while (shmg_loop_step(l, NULL) == 1) {      commands, loopcntMax
 *           err = shmg_loop_wait(l, &t, NULL);  the trigger
 *           if (!t.run) continue;               (a timeout in mode 3)
 *           shmg_loop_exec_start(l, NULL);
 *           ... compute, publish the output ...
 *           shmg_loop_exec_end(l, NULL);        timing, heartbeat
 *   }
 *   shmg_loop_free(l);
 *
 * Every wait takes an absolute CLOCK_MONOTONIC deadline (NULL: none) and
 * reports received, timed out, writer dead and interrupted distinctly.
 * Ordering arguments, modes and what legacy peers get: doc/loop.md.
 * struct shmg_loop is opaque.
 */
#ifndef SHMGUARD_LOOP_H
#define SHMGUARD_LOOP_H

#include <stdint.h>
#include <time.h>

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/milk.h>

SHMG_BEGIN_DECLS

struct shmg_loop;

/* Trigger modes (milk's PINFO triggermode values). */
enum shmg_loop_mode {
	SHMG_LOOP_IMMEDIATE = 0, /* no wait */
	SHMG_LOOP_CNT0 = 1,      /* the next frame (cnt0), futex */
	SHMG_LOOP_CNT1 = 2,      /* the next slice (cnt1 of a cube), futex */
	SHMG_LOOP_SEMAPHORE = 3, /* a claimed semaphore slot */
	SHMG_LOOP_DELAY = 4,     /* a fixed period, absolute deadlines */
	SHMG_LOOP_SEMAPHORE_PROP_TIMEOUTS = 5, /* 3, and timeouts run and propagate */
	SHMG_LOOP_CNT2 = 6,      /* flow control: wait while cnt0 >= cnt2 */
};

/* PINFO triggerstatus values. */
enum shmg_loop_status {
	SHMG_LOOP_NEVER = 0, SHMG_LOOP_WAITING = 1, SHMG_LOOP_RECEIVED = 2,
	SHMG_LOOP_TIMEDOUT = 3,
};

/* Timing ring entries (PINFO texecstart / texecend). */
#define SHMG_LOOP_RING 100

/* How to run a loop (a sized struct). */
struct shmg_loop_params {
	uint32_t size;             /* sizeof(struct shmg_loop_params) */
	uint32_t mode;             /* enum shmg_loop_mode */
	struct shmg_pinfo *pinfo;  /* the loop's PINFO file (required) */
	struct shmg_isio *input;   /* the trigger stream (modes 1, 2, 3, 5, 6;
				    * for CNT2: the stream this loop writes) */
	uint64_t period_ns;        /* DELAY: the period (> 0) */
	uint64_t timeout_ns;       /* each wait's timeout; 0: 2 s in modes
				    * 3 and 5, none in the others */
	int64_t loopcnt_max;       /* iterations, then step returns 0; 0: no limit */
};

/*
 * Start a loop: check the parameters, claim a semaphore slot (modes 3 and
 * 5, by CAS: shmg_isio_sem_claim), write the trigger fields into the PINFO
 * file (triggermode, the input's name and inode, triggersem, triggerdelay,
 * triggertimeout, counts 0, triggerstatus 0), loopcntMax, then
 * processinfo_loopstart's loopcnt = 0 and loopstat = 1 (active).
 * Returns 0, -EINVAL (bad parameters: nothing written), -EAGAIN (no free
 * semaphore slot), -ENOMEM.
 */
SHMG_EXPORT int shmg_loop_new(struct shmg_loop **l,
			      const struct shmg_loop_params *p);

/* Stop: loopstat = 3 (stopped), the semaphore slot released, the handle
 * freed (the PINFO file and the stream stay open: the caller's). NULL:
 * no-op. */
SHMG_EXPORT void shmg_loop_free(struct shmg_loop *l);

/*
 * processinfo_loopstep: obey the monitor's command. RUN or SPIN: 1. PAUSE:
 * sleep on the CTRLval word (futex; shmg_pinfo_command wakes it) until
 * another command or the deadline; loopstat is 2 meanwhile. STEP: 1, and
 * CTRLval goes to PAUSE by shmg_pinfo_transition, which never overwrites an
 * EXIT sent in between. EXIT, or loopcnt >= loopcnt_max: 0.
 * Returns 1 (run an iteration), 0 (leave the loop), -ETIMEDOUT (still
 * paused at the deadline), -EINTR, or a lock error.
 */
SHMG_EXPORT int shmg_loop_step(struct shmg_loop *l,
			       const struct timespec *deadline);

/* What a trigger wait saw (a sized struct). */
struct shmg_loop_trigger {
	uint32_t size;      /* sizeof(struct shmg_loop_trigger) */
	uint32_t status;    /* SHMG_LOOP_RECEIVED or SHMG_LOOP_TIMEDOUT */
	uint64_t cnt;       /* the counter seen: cnt0 (modes 1, 3, 5, 6),
			     * cnt1 (mode 2), periods (mode 4) */
	uint64_t missed;    /* frames (or periods) missed before this one,
			     * exactly, uncapped */
	uint32_t pending;   /* semaphore posts found pending and drained */
	uint32_t run;       /* 1: run the iteration (received; or a mode 5
			     * timeout) */
	uint32_t upstream;  /* the input frame's producer status
			     * (SHMG_LOOP_TIMEDOUT: it ran on a timeout);
			     * 0 when unknown */
};

/*
 * Wait for the trigger, as the mode says. PINFO's triggerstatus,
 * triggerstreamcnt, triggermissedframe (and its cumulative count) and the
 * timeout count are kept up to date, each word atomically.
 * Returns 0 (received), -ETIMEDOUT (the mode's timeout or the deadline;
 * t->run says whether mode 5 runs anyway), SHMG_EWRITERDEAD (the input's
 * guarded writer died), -EINTR (a signal), -ECANCELED (an EXIT command
 * arrived while waiting), SHMG_ECOUNTER (cnt0 went back: the input was
 * reinitialised in place), -ESTALE (the input's file was unlinked: a new
 * file under its name, or none; reopen it and make a new loop),
 * SHMG_ETRUNCATED (the input's file was truncated under a mapping opened
 * with SHMG_REGION_TRUNCATION), -EINVAL (t's size). A legacy writer that
 * wakes nobody is seen within 100 ms; a replaced or truncated input within
 * 100 ms too, or at the deadline.
 */
SHMG_EXPORT int shmg_loop_wait(struct shmg_loop *l,
			       struct shmg_loop_trigger *t,
			       const struct timespec *deadline);

/*
 * processinfo_exec_start / exec_end: record the iteration's start and end
 * in PINFO's timing rings (at `now`, or CLOCK_MONOTONIC when NULL), so that
 * a monitor reading concurrently never accepts a torn entry; exec_end also
 * beats the heartbeat (loopcnt + 1). The loop never waits for a monitor.
 * exec_end returns the new loopcnt.
 */
SHMG_EXPORT void shmg_loop_exec_start(struct shmg_loop *l,
				      const struct timespec *now);
SHMG_EXPORT int64_t shmg_loop_exec_end(struct shmg_loop *l,
				       const struct timespec *now);

/*
 * Before publishing the iteration's output frame: record in `out`'s
 * process-trace record 0 (as milk's processinfo_update_output_stream) this
 * process, the input's inode and cnt0, the semaphore slot, the iteration's
 * start and the trigger status (SHMG_LOOP_TIMEDOUT after a timeout), the
 * input's records shifted down by one. A downstream loop reads it as
 * shmg_loop_trigger.upstream. Returns 0, -EINVAL (no process traces).
 */
SHMG_EXPORT int shmg_loop_propagate(const struct shmg_loop *l,
				    struct shmg_isio *out);

/*
 * A consumer grants a producer waiting in mode CNT2 n more frames: cnt2 +=
 * n atomically (grants from several consumers all count), and the producer
 * is woken if it sleeps. *cnt2 (may be NULL) receives the new value.
 * Returns 0, -EOVERFLOW (cnt2 would wrap: nothing changed).
 */
SHMG_EXPORT int shmg_loop_grant(struct shmg_isio *s, uint64_t n,
				uint64_t *cnt2);

/* A consistent copy of the timing rings (a sized struct). */
struct shmg_loop_timing {
	uint32_t size;     /* sizeof(struct shmg_loop_timing) */
	uint32_t n;        /* start[i] is valid for i < n */
	uint32_t n_end;    /* end[i] is valid for i < n_end (n or n - 1) */
	uint64_t first;    /* the iteration number of entry 0 (1 = the first) */
	struct timespec start[SHMG_LOOP_RING], end[SHMG_LOOP_RING];
};

/*
 * Read the timing rings of a loop run by this library (the ring's sequence
 * word in the hole after timingbuffercnt is nonzero): entries oldest
 * first, none torn, none overwritten while read. Never writes, never waits
 * for the loop (a loop that laps the reader makes it retry).
 * Returns 0 (n may be 0: no iteration yet, or a loop not run by this
 * library), -EAGAIN (lapped on every try), -EINVAL.
 */
SHMG_EXPORT int shmg_loop_timing(const struct shmg_pinfo *p,
				 struct shmg_loop_timing *t);

/* What a monitor shows of a loop (relaxed loads; a sized struct). */
struct shmg_loop_info {
	uint32_t size;       /* sizeof(struct shmg_loop_info) */
	int32_t mode;        /* triggermode */
	char input[SHMG_PINFO_NAME_MAX + 1]; /* triggerstreamname ('?' for controls) */
	uint64_t input_inode;
	int32_t sem;         /* triggersem */
	int32_t status;      /* triggerstatus */
	uint64_t cnt;        /* triggerstreamcnt */
	int32_t missed;      /* triggermissedframe: at the last wait */
	uint64_t missed_total; /* triggermissedframe_cumul */
	uint64_t timeouts;   /* trigggertimeoutcnt */
	int64_t loopcnt, loopcnt_max;
	int32_t ctrl, loopstat;
	uint32_t samples;    /* iterations in the medians (0: none) */
	uint64_t iter_median_ns, exec_median_ns;
	uint64_t iterations; /* exec starts recorded in the ring's sequence */
};

/* Returns 0, -EINVAL. Timing medians from shmg_loop_timing. */
SHMG_EXPORT int shmg_loop_inspect(const struct shmg_pinfo *p,
				  struct shmg_loop_info *info);

SHMG_END_DECLS

#endif /* SHMGUARD_LOOP_H */
