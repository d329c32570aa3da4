/*
 * The demo's parts: demo.c runs the show (options, progress line, summary
 * table, cleanup); demo_stream.c is the image stream (torn frames, a
 * writer killed mid-frame, a new writer taking over); demo_fps.c is the FPS
 * parameter updated by several processes, one killed inside the lock.
 * Every process is a fork with its own mapping of a real file.
 */
#ifndef SHMG_TOOL_DEMO_H
#define SHMG_TOOL_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the simulated legacy programs (plain loads and stores, no guard)
 * find their fields, as a program built with the real headers does: the
 * layouts in doc/imagestreamio.md and doc/milk.md. The guarded side uses
 * the library alone. */
#define DEMO_ISIO_WRITE 288 /* the write flag */
#define DEMO_FPS_VAL 3928   /* a parameter's value */
#define DEMO_FPS_CNT0 4104  /* a parameter's set counter */

struct demo {
	bool quick;          /* short run, for make check */
	char dir[256];       /* private directory holding the demo's files */
	double stage_s[3];   /* seconds for each stage */
	volatile int *interrupted;
};

struct stream_result {
	uint64_t written;                     /* frames published, all writers */
	uint64_t plain_reads, plain_torn;     /* stage 1, without the guard */
	uint64_t guarded_reads, guarded_torn; /* stage 1, with it */
	/* stage 2: the writer SIGKILLed mid-frame */
	uint64_t killed_in_frame;
	uint64_t plain_looks, plain_torn_after; /* a viewer copying the image */
	bool plain_flag_stuck;                  /* it saw write = 1 throughout */
	uint64_t guarded_looks, guarded_torn_after;
	double detect_ms;                       /* kill -> SHMG_EWRITERDEAD; < 0: never */
	/* stage 2, then: a new writer */
	int claim;                              /* shmg_isio_claim's result */
	uint64_t resumed_frames, resumed_torn;  /* guarded reader, after the takeover */
};

struct fps_result {
	unsigned procs;
	uint64_t plain_per_proc, per_proc; /* increments per process */
	uint64_t plain_expected, plain_value;       /* plain ++ on the value */
	uint64_t guarded_expected, guarded_value, guarded_cnt0;
	unsigned recoveries;                        /* SHMG_EOWNERDEAD seen by survivors */
	double recover_ms;                          /* kill -> recovered */
	bool killed_inside;
};

/* Progress: one line, rewritten in place on a terminal. */
void demo_progress(const struct demo *d, int stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void demo_progress_done(void);

/* Fork a child running fn(arg) that dies with the demo; -1 on failure. */
pid_t demo_fork(void (*fn)(void *), void *arg);
/* SIGKILL and reap a child (no-op for pid <= 0). */
void demo_kill(pid_t pid);
/* Shared anonymous memory, zeroed, that children update. */
void *demo_shared(size_t size);
void demo_unshare(void *p, size_t size);

/* The stages. Return 0, or a negative error (the message already printed). */
int demo_stream(const struct demo *d, struct stream_result *r);
int demo_fps(const struct demo *d, struct fps_result *r);

#endif /* SHMG_TOOL_DEMO_H */
