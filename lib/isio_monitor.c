/*
 * ImageStreamIO streams for monitors: the guard state and the semaphore
 * slots, read without writing or waiting (include/shmguard/isio.h).
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stddef.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/proc.h>

#include "detail.h"
#include "isio_internal.h"
#include "pin_lock.h"
#include "isio_layout.h"
#include "sem_words.h"
#include "sized.h"
#include "text.h"

/* A PID word's liveness: PIDs alone (no start time), so a reused PID looks
 * alive: never the unsafe direction. -ENOENT: no PID recorded. */
static int pid_alive(int32_t pid)
{
	return pid > 0 ? shmg_proc_alive(pid, 0, 0) : -ENOENT;
}

static uint64_t load64(const struct shmg_isio *s, size_t off)
{
	return shmg_atomic_load(isio_word64(s, off), relaxed);
}

static int32_t load32(const struct shmg_isio *s, size_t off)
{
	return shmg_atomic_load((const int32_t *)(const void *)(isio_base(s) + off), relaxed);
}

/* What the frames' writer left tells which kind it is (enum
 * shmg_isio_writer_kind; doc/imagestreamio.md, "Which writer"). */
static uint8_t writer_kind(const struct shmg_isio *s, uint64_t cnt0, int32_t owner)
{
	const struct shmg_isio_layout *l = &s->layout;
	if (cnt0 == 0)
		return SHMG_ISIO_WRITER_UNKNOWN;
	if (l->cbsize == 0)
		return owner > 0 ? SHMG_ISIO_WRITER_GUARDED : SHMG_ISIO_WRITER_UNKNOWN;
	uint32_t i = load32(s, ISIO_CBINDEX);
	if (i >= l->cbsize)
		return SHMG_ISIO_WRITER_LEGACY;
	uint64_t q = load64(s, l->off_cbmd + (size_t)i * ISIO_CBMD_SIZE);
	return q != 0 && (q == cnt0 || q == cnt0 + 1) ? SHMG_ISIO_WRITER_GUARDED
						      : SHMG_ISIO_WRITER_LEGACY;
}

SHMG_EXPORT int shmg_isio_inspect(const struct shmg_isio *s, struct shmg_isio_info *info)
{
	struct shmg_isio_info own;
	struct shmg_wflag_info g = {.size = sizeof(g)};

	memset(&own, 0, sizeof(own));
	shmg__copy_text(own.name, isio_base(s) + ISIO_NAME, sizeof(own.name));
	shmg_wflag_inspect(&s->guard, &g);
	own.write = g.mark;
	own.waiters = g.waiters;
	own.cnt0 = g.counter;
	own.owner_pid = g.owner;
	own.owner_alive = g.owner_alive;
	own.cnt1 = load64(s, ISIO_CNT1);
	own.cnt2 = load64(s, ISIO_CNT2);
	own.cbindex = (uint32_t)load32(s, ISIO_CBINDEX);
	own.cbcycle = load64(s, ISIO_CBCYCLE);
	own.creator_pid = load32(s, ISIO_CREATORPID);
	own.writer_kind = writer_kind(s, own.cnt0, own.owner_pid);
	own.semlog_damaged = shmg__sem_check((sem_t *)(void *)(isio_base(s) + s->layout.off_semlog),
					     "semlog", 0) != 0;
	if (shmg__truncated(s->region))
		return SHMG_ETRUNCATED;
	return SHMG__SIZED_OUT(info, &own, struct shmg_isio_info);
}

SHMG_EXPORT int shmg_isio_inspect_slot(const struct shmg_isio *s, unsigned k,
				       struct shmg_isio_slot_info *info)
{
	struct shmg_isio_slot_info own;
	const struct shmg_isio_layout *l = &s->layout;

	if (k >= l->nsem)
		return shmg__fail(-ERANGE, "slot %u: the stream has %u semaphores", k, l->nsem);
	memset(&own, 0, sizeof(own));
	own.damaged = shmg__sem_check(isio_sem(s, k), "semaphore", k) != 0;
	own.value = own.damaged ? -1 : shmg__sem_value(isio_sem(s, k));
	own.reader = load32(s, l->off_semreadpid + 4 * (size_t)k);
	own.reader_alive = pid_alive(own.reader);
	own.poster = load32(s, l->off_semwritepid + 4 * (size_t)k);
	own.pin_copy = s->has_latch ? shmg__wflag_pin_copy(&s->latch, k) : -1;
	if (own.pin_copy >= 0)
		own.pin_frame = shmg_atomic_load(isio_word64(s, l->off_cbmd + (size_t)own.pin_copy *
								   ISIO_CBMD_SIZE), relaxed);
	own.pin_locked = (int8_t)shmg__pin_lock_held(shmg_region_fd(s->region),
						     shmg_region_base(s->region),
						     isio_base(s) + l->off_semreadpid + 4 * (size_t)k);
	/* A held slot lock is a live reader, whatever its PID names here
	 * (one in another PID namespace: doc/pin.md). */
	if (own.pin_locked == 1)
		own.reader_alive = SHMG_PROC_ALIVE;
	own.pin_revoked = s->has_latch && s->latch.npins &&
			  ((uint32_t)load32(s, l->off_semstatus + 4 * (size_t)k) >> 4) == (UINT32_MAX >> 4);
	if (shmg__truncated(s->region))
		return SHMG_ETRUNCATED;
	return shmg__sized_out(info, &own, sizeof(own),
			       offsetof(struct shmg_isio_slot_info, pin_copy),
			       "struct shmg_isio_slot_info");
}
