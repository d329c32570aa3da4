/*
 * The lock word's format (doc/xlock.md), for both widths. The low 32 bits
 * are the futex word and always change on unlock (the owner's id leaves).
 *
 *   8-byte word: bits 0-29 owner thread id, bit 30 INCONSISTENT, bit 31
 *                WAITERS, bits 32-63 the low 32 bits of the owner thread's
 *                start time (clock ticks after boot)
 *   4-byte word: bits 0-21 owner thread id, bit 22 INCONSISTENT, bit 23
 *                WAITERS, bits 24-31 the low 8 bits of its start time
 *
 *   0                           unlocked
 *   id + start [+ WAITERS]      held
 *   ... + INCONSISTENT          held by a thread that took it from a dead
 *                               owner and has not called consistent() yet
 *   INCONSISTENT [+ WAITERS], id 0   not recoverable (poisoned)
 *   anything else with id 0, or an id >= 2^22 (PID_MAX_LIMIT): garbage
 */
#ifndef SHMG_XLOCK_WORD_H
#define SHMG_XLOCK_WORD_H

#include <stdbool.h>
#include <stdint.h>

#define XLOCK_PID_LIMIT (UINT64_C(1) << 22) /* the kernel's PID_MAX_LIMIT */

struct xlock_format {
	uint64_t id_mask, inconsistent, waiters;
	unsigned start_shift, start_bits;
};

static const struct xlock_format xlock_fmt8 = {
	UINT64_C(0x3fffffff), UINT64_C(1) << 30, UINT64_C(1) << 31, 32, 32,
};
static const struct xlock_format xlock_fmt4 = {
	UINT64_C(0x3fffff), UINT64_C(1) << 22, UINT64_C(1) << 23, 24, 8,
};

static inline const struct xlock_format *xlock_format(unsigned width)
{
	return width == 8 ? &xlock_fmt8 : &xlock_fmt4;
}

enum xlock_kind { XW_UNLOCKED, XW_HELD, XW_NOTRECOVERABLE, XW_GARBAGE };

static inline uint64_t xw_id(const struct xlock_format *f, uint64_t v)
{
	return v & f->id_mask;
}

static inline uint64_t xw_start(const struct xlock_format *f, uint64_t v)
{
	return v >> f->start_shift;
}

/* The owner's identity part of a word: id and start bits, no flags. */
static inline uint64_t xw_owner(const struct xlock_format *f, uint64_t v)
{
	return v & ~(f->inconsistent | f->waiters);
}

static inline enum xlock_kind xw_kind(const struct xlock_format *f, uint64_t v)
{
	if (v == 0)
		return XW_UNLOCKED;
	uint64_t id = xw_id(f, v);
	if (id == 0)
		return (v & ~f->waiters) == f->inconsistent ? XW_NOTRECOVERABLE
							    : XW_GARBAGE;
	return id < XLOCK_PID_LIMIT ? XW_HELD : XW_GARBAGE;
}

/* The word a thread with this id and start time writes when it locks. */
static inline uint64_t xw_make(const struct xlock_format *f, uint64_t id,
			       uint64_t start)
{
	uint64_t start_mask = f->start_bits == 64 ? ~UINT64_C(0)
						  : (UINT64_C(1) << f->start_bits) - 1;
	return id | (start & start_mask) << f->start_shift;
}

#endif /* SHMG_XLOCK_WORD_H */
