/*
 * ImageStreamIO streams: the in-file semaphores. Writers post them after
 * publishing; a reader claims a slot by CAS (never check-then-set) and
 * waits on it with a CLOCK_MONOTONIC deadline.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "isio_internal.h"
#include "pin_lock.h"
#include "slot_claims.h"
#include "isio_layout.h"
#include "sem_words.h"
#include "testing.h"

/* Post below the cap, as ImageStreamIO does (so an unread semaphore does
 * not grow without bound). The value read and the post are not one step:
 * two writers racing may take it slightly past the cap, which is
 * harmless; missed frames are counted from cnt0, never from this value.
 * A damaged semaphore is never handed to glibc, which would abort the
 * writer: it is skipped (its reader gets nothing from it, inspect reports
 * it and recover reinitialises it). */
static bool post_capped(sem_t *sem, const char *what, unsigned k)
{
	if (shmg__sem_check(sem, what, k) != 0 || shmg__sem_value(sem) >= ISIO_SEM_POST_CAP)
		return false;
	return sem_post(sem) == 0;
}

void shmg__isio_post_all(const struct shmg_isio *s)
{
	/* Called after the publish, so a reader woken by a post finds the
	 * new cnt0 and a clear write flag (sem_post and sem_wait synchronize
	 * memory: POSIX.1-2017, XBD 4.12; the order is tests/check_interpose.c,
	 * isio_posts_after_publish). Every publish comes here: the cached PID,
	 * not getpid() (a system call in glibc), so a frame without sleepers
	 * makes none (tests/check_writer.c, write_check_makes_no_syscall). */
	SHMG__TEST_POINT(SHMG__ISIO_POSTING);
	int32_t self = shmg__self_pid();
	for (unsigned i = 0; i < s->layout.nsem; i++)
		if (post_capped(isio_sem(s, i), "semaphore", i)) /* who posted, as ImageStreamIO */
			shmg_atomic_store((int32_t *)(void *)(isio_base(s) + s->layout.off_semwritepid +
							       4 * (size_t)i), self, relaxed);
	post_capped((sem_t *)(void *)(isio_base(s) + s->layout.off_semlog), "semlog", 0);
}

/* The reader's operations write to the file (the slot's PID, the
 * semaphore): not through a read-only mapping. */
static int need_writable(const struct shmg_isio *s, const char *op)
{
	if (shmg_region_writable(s->region))
		return 0;
	return shmg__fail(-EROFS, "%s: the stream is mapped read-only, and a semaphore "
			  "reader writes its slot; use shmg_isio_wait instead", op);
}

bool shmg__isio_slot_ours(const struct shmg_isio *s)
{
	return s->slot >= 0 && s->slot_gen == shmg__fork_generation() &&
	       shmg_atomic_load(isio_readpid(s, (unsigned)s->slot), relaxed) == shmg__self_pid();
}

SHMG_EXPORT int shmg_isio_sem_claim(struct shmg_isio *s, int *slot_out)
{
	int32_t self = shmg__self_pid();
	int err = need_writable(s, "claiming a semaphore slot");
	if (err)
		return err;
	/* This handle's slot, still ours: a handle a forked child inherited
	 * names its parent's slot, and claims one of its own. */
	if (shmg__isio_slot_ours(s)) {
		if (slot_out)
			*slot_out = s->slot;
		return 0;
	}
	s->slot = -1;
	int fd = shmg_region_fd(s->region);
	const void *base = shmg_region_base(s->region);
	shmg__claims_begin();
	for (unsigned i = 0; i < s->layout.nsem; i++) {
		int32_t *slot = isio_readpid(s, i);
		int32_t cur = shmg_atomic_load(slot, relaxed);
		/* Free: -1 (ImageStreamIO's initial value), 0 (a zeroed file)
		 * or garbage (another negative); or left by a process that is
		 * gone: a dead PID, or this process's PID where this process
		 * holds no such slot (a dead predecessor's with the same PID,
		 * lib/slot_claims.h). A live or undecidable holder keeps it,
		 * and so does this process: each handle gets a slot of its
		 * own (two readers of one semaphore would take each other's
		 * posts, and one would clear the other's pin). */
		bool stale = cur == self && !shmg__claims_holds(fd, base, slot);
		bool free_slot = cur <= 0 || stale ||
				 (cur != self && shmg_proc_alive(cur, 0, 0) == SHMG_PROC_DEAD &&
				  shmg__pin_lock_held(fd, base, slot) != 1);
		if (free_slot) {
			/* The slot's lock first, then the owner word: a writer
			 * never sees this live reader's PID in a slot whose
			 * lock nobody holds (it would take the slot back as a
			 * gone reader's, and this reader's next pin would find
			 * the owner word not its own). */
			int noted = shmg__claims_note(fd, base, slot, true);
			if (noted == -EAGAIN)
				continue; /* a live reader's (its lock) */
			if (noted != 0) {
				shmg__claims_end();
				return noted;
			}
			if (!stale && !shmg_atomic_cmpxchg(slot, cur, self, acquire)) {
				shmg__claims_note(fd, base, slot, false); /* unlocks */
				continue; /* claimed by another reader meanwhile */
			}
			shmg__claims_end();
			s->slot = (int)i;
			s->slot_gen = shmg__fork_generation();
			/* The slot's pin word is now ours: a pin a dead reader
			 * left goes (doc/pin.md); bits 0-3 stay. */
			uint32_t *st = isio_semstatus(s, i);
			shmg_atomic_store(st, shmg_atomic_load(st, relaxed) & 0xfu, release);
			/* Posts from before the claim are old news. */
			if (shmg__sem_check(isio_sem(s, i), "semaphore", i) == 0)
				shmg__sem_drain(isio_sem(s, i));
			if (slot_out)
				*slot_out = (int)i;
			return 0;
		}
	}
	shmg__claims_end();
	return shmg__fail(-EAGAIN, "all %u semaphore slots are held by live readers",
			  s->layout.nsem);
}

SHMG_EXPORT int shmg_isio_sem_release(struct shmg_isio *s)
{
	if (s->slot < 0)
		return shmg__fail(-EINVAL, "no semaphore slot claimed");
	int err = need_writable(s, "releasing a semaphore slot");
	if (err)
		return err;
	int32_t *owner = isio_readpid(s, (unsigned)s->slot);
	bool ours = shmg__isio_slot_ours(s);
	uint32_t was = 0;
	if (ours) {
		/* Unpin first (a free slot holds no pin), by a read-modify-write
		 * as shmg_wflag_unpin: the writer may have revoked the pin (a
		 * CAS on this word), and a load then a store would erase the
		 * mark unseen; a revoked pin is told here (doc/pin.md). release:
		 * the reads of the copy come before a rewrite that sees it go. */
		uint32_t nv;
		shmg_atomic_rmw_loop(isio_semstatus(s, (unsigned)s->slot), was, nv, release,
				     { nv = was & 0xfu; });
	}
	shmg__claims_begin();
	ours = ours && shmg_atomic_cmpxchg(owner, shmg__self_pid(), -1, release);
	if (ours)
		shmg__claims_note(shmg_region_fd(s->region), shmg_region_base(s->region), owner,
				  false);
	shmg__claims_end();
	s->slot = -1;
	if (!ours)
		return SHMG_ENOTOWNER;
	return shmg__wflag_pin_result(was);
}

SHMG_EXPORT int shmg_isio_sem_wait(const struct shmg_isio *s, uint64_t *now,
				   const struct timespec *deadline)
{
	if (s->slot < 0)
		return shmg__fail(-EINVAL, "no semaphore slot claimed");
	sem_t *sem = isio_sem(s, (unsigned)s->slot);
	int rc = shmg__sem_check(sem, "semaphore", (unsigned)s->slot);
	if (!rc && shmg__truncated(s->region))
		rc = SHMG_ETRUNCATED;
	if (rc)
		return rc;
	if (!deadline) {
		rc = sem_wait(sem);
	} else {
#ifdef HAVE_SEM_CLOCKWAIT
		rc = sem_clockwait(sem, CLOCK_MONOTONIC, deadline);
#else
		/* No sem_clockwait: poll, so the deadline stays monotonic. */
		while ((rc = sem_trywait(sem)) != 0 && errno == EAGAIN) {
			if (shmg_deadline_passed(deadline)) {
				errno = ETIMEDOUT;
				break;
			}
			usleep(100);
		}
#endif
	}
	if (rc != 0)
		return errno == ETIMEDOUT ? -ETIMEDOUT : -errno;
	/* Posts for frames that came while this reader was away: the
	 * counter says how many it missed. */
	shmg__sem_drain(sem);
	if (now)
		*now = shmg_atomic_load(s->guard.counter, acquire);
	return shmg__truncated(s->region) ? SHMG_ETRUNCATED : 0;
}
