/*
 * Internals shared by the write-flag guard's files.
 */
#ifndef SHMG_WFLAG_INTERNAL_H
#define SHMG_WFLAG_INTERNAL_H

#include <stdint.h>

#include <shmguard/wflag.h>

/* Steps inside shmg_wflag_publish() where crash tests stop the writer
 * (tests/wflag-stress.c sets shmg__wflag_test_point). */
enum {
	SHMG__WFLAG_AFTER_COPY = 1,    /* latch copy published, counter not */
	SHMG__WFLAG_AFTER_COUNTER = 2, /* counter stored, mark still set */
	SHMG__WFLAG_AFTER_MARK = 3,    /* mark cleared, sleepers not woken */
};
extern void (*shmg__wflag_test_point)(int step);
/* The probe period of a sleeping reader (tests stretch it). */
extern uint64_t shmg__wflag_probe_ns;

/* The sequence word of latch copy i (placement checked its alignment). */
static inline uint64_t *wflag_seq(const struct shmg_wflag *g, unsigned i)
{
	return (uint64_t *)(void *)(g->seq + (size_t)i * g->seq_stride);
}

#endif /* SHMG_WFLAG_INTERNAL_H */
