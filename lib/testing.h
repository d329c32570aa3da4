/*
 * Test hooks: compiled only into the test build of the library
 * (libshmguard-testing.la, built with -DSHMG_TESTING for the test suites);
 * the installed libshmguard has none of them, and nothing here costs the
 * installed library an instruction.
 *
 *   - protocol points where crash tests stop (SIGKILL) a process;
 *   - the sleepers' liveness-probe periods, which wake-up tests stretch so
 *     that a lost wake-up cannot hide behind a probe;
 *   - the liveness source of lock owners, which tests fake (PID reuse, an
 *     undecidable probe);
 *   - the /proc/PID/stat parser, tested on hostile lines.
 */
#ifndef SHMG_TESTING_H
#define SHMG_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Protocol points (shmg__test_point's argument). */
enum shmg__test_points {
	SHMG__WFLAG_AFTER_COPY = 1,  /* publish: latch copy published, counter not */
	SHMG__WFLAG_AFTER_COUNTER,   /* publish: counter stored, mark still set */
	SHMG__WFLAG_AFTER_MARK,      /* publish: mark cleared, sleepers not woken */
	SHMG__WFLAG_BEFORE_SLEEP,    /* wait: looked, word read, futex_wait next */
	SHMG__XLOCK_LOCKED,          /* lock taken on the slow path */
	SHMG__XLOCK_WAITERS_SET,     /* announced, about to sleep */
	SHMG__XLOCK_STOLEN,          /* taken from a dead owner, not yet returned */
	SHMG__XLOCK_UNLOCK_BEFORE,   /* in unlock's slow path, before the exchange */
	SHMG__XLOCK_UNLOCK_AFTER,    /* after the exchange, before the wake */
	SHMG__LOOP_STEP_READ,        /* loop step: STEP read, CTRLval not yet changed */
	SHMG__PIN_ANNOUNCED,         /* pin: copy announced, not yet confirmed */
	SHMG__PIN_CONFIRMED,         /* pin: confirmed, not yet handed out */
	SHMG__PIN_UNPINNING,         /* unpin: about to clear the pin word */
	SHMG__PIN_RECLAIMING,        /* reclaim: dead reader's slot taken, pin not cleared */
	SHMG__WFLAG_AFTER_SEQ,       /* publish: copy's sequence word stored, index not */
	SHMG__ISIO_PIN_CHECKED,      /* isio pin: the writer judged guarded, pin not begun */
	SHMG__WFLAG_READ_COPIED,     /* read: frame copied, re-checks not yet made */
	SHMG__ISIO_POSTING,          /* isio publish: about to post the semaphores */
	SHMG__RECOVER_PLANNED,       /* isio recover: locked and planned, nothing changed yet */
};

/* Where recovery may fail before it changes anything (shmg__test_fail's
 * argument): tests inject a failure at each and compare the file. */
enum shmg__test_failures {
	SHMG__FAIL_RECOVER_MAPPERS = 1, /* reading which processes map the file */
	SHMG__FAIL_RECOVER_ALLOC,       /* the replacement frame's memory */
	SHMG__FAIL_RECOVER_READ,        /* reading the replacement frame */
	SHMG__FAIL_RECOVER_CLAIM,       /* taking over as the writer */
	SHMG__FAIL_RECOVER_LOCK,        /* taking a dead holder's lock */
};

#ifdef SHMG_TESTING

extern void (*shmg__test_point)(int point);
#define SHMG__TEST_POINT(point)                                                \
	do {                                                                   \
		if (shmg__test_point)                                          \
			shmg__test_point(point);                               \
	} while (0)
/* With a test point set, unlock always takes its slow path (where the
 * unlock points are). */
#define SHMG__TESTING_SLOW_UNLOCK() (shmg__test_point != NULL)

/* Region creation without O_TMPFILE (the named fallback), when set. */
extern bool shmg__test_no_tmpfile;

/* A failure injected at a point (0: none). */
extern int (*shmg__test_fail)(int point);
#define SHMG__TEST_FAIL(point) (shmg__test_fail ? shmg__test_fail(point) : 0)

/* Probe periods in nanoseconds (0: the library's own). */
extern uint64_t shmg__test_wflag_probe_ns, shmg__test_xlock_probe_ns;
#define SHMG__PROBE_NS(which, dflt)                                            \
	(shmg__test_##which##_probe_ns ? shmg__test_##which##_probe_ns : (dflt))

/* Replaces shmg_proc_alive for lock owners when set. */
extern int (*shmg__test_alive)(pid_t tid, uint64_t start_bits, unsigned nbits);

/* The /proc/PID/stat parser (lib/proc_stat.c): state (field 3), task
 * flags (field 9) and start time (field 22). Returns 0 or -EINVAL. */
int shmg__test_parse_stat(const char *line, size_t len, char *state,
			  uint64_t *flags, uint64_t *start);

#else

#define SHMG__TEST_POINT(point) do { } while (0)
#define SHMG__TEST_FAIL(point) 0
#define SHMG__TESTING_SLOW_UNLOCK() 0
#define SHMG__PROBE_NS(which, dflt) (dflt)

#endif /* SHMG_TESTING */

#endif /* SHMG_TESTING_H */
