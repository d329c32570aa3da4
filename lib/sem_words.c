/*
 * The words of a glibc sem_t in a file: checked before glibc is handed the
 * semaphore, and drained in one step. See lib/sem_words.h and
 * doc/imagestreamio.md, "Semaphores in the file".
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>

#include "detail.h"
#include "sem_words.h"

#if SHMG__SEM_WORDS
/*
 * glibc's layout of a semaphore on the CPUs with 64-bit atomics (every
 * 64-bit port, and x32): a 64-bit word whose low half is the value and
 * high half the number of sleepers, then a 32-bit word holding 128 for a
 * process-shared semaphore and 0 for a private one (glibc's LLL_SHARED
 * and LLL_PRIVATE, which it turns into the futex calls' private flag by
 * an exclusive or with 128). Any other value makes those calls invalid,
 * their EINVAL or ENOSYS reads to glibc as a broken kernel, and it aborts
 * ("The futex facility returned an unexpected error code"). The value
 * never exceeds SEM_VALUE_MAX (INT_MAX): sem_post refuses to pass it.
 * (Facts about glibc's sem_t, measured in doc/imagestreamio.md.)
 */
struct glibc_sem {
	uint64_t data;
	uint32_t private_word;
};

#define SEM_VALUE_BITS UINT64_C(0xffffffff)

static struct glibc_sem *words(sem_t *sem)
{
	return (struct glibc_sem *)(void *)sem;
}

int shmg__sem_check(sem_t *sem, const char *what, unsigned k)
{
	uint32_t priv = shmg_atomic_load(&words(sem)->private_word, relaxed);
	if (priv != 0 && priv != 128)
		return shmg__fail(SHMG_EGARBAGE, "%s %u: its private word is %u, glibc "
				  "expects 0 or 128 (the semaphore is damaged)", what, k, priv);
	uint64_t v = shmg_atomic_load(&words(sem)->data, relaxed) & SEM_VALUE_BITS;
	if (v > INT_MAX)
		return shmg__fail(SHMG_EGARBAGE, "%s %u: its value %llu is above "
				  "SEM_VALUE_MAX (%d) (the semaphore is damaged)", what, k,
				  (unsigned long long)v, INT_MAX);
	return 0;
}

int shmg__sem_value(sem_t *sem)
{
	return (int)(shmg_atomic_load(&words(sem)->data, relaxed) & SEM_VALUE_BITS);
}

/* A CAS fails only when a post or a wait moved the value meanwhile: each
 * failure is someone else's progress, and a few tries suffice unless a
 * writer posts without pause, when the posts left are new news anyway. */
#define DRAIN_TRIES 8

unsigned shmg__sem_drain(sem_t *sem)
{
	uint64_t *data = &words(sem)->data;
	uint64_t d = shmg_atomic_load(data, relaxed);
	for (unsigned t = 0; t < DRAIN_TRIES; t++) {
		uint64_t v = d & SEM_VALUE_BITS;
		if (v == 0 || v > INT_MAX)
			return 0;
		/* acquire, as a successful sem_trywait: what the posters did
		 * before posting is visible after the drain. */
		if (shmg_atomic_cmpxchgv(data, d, d - v, &d, acquire))
			return (unsigned)v;
	}
	return 0;
}

#else /* another C library: its sem_t words are not known */

int shmg__sem_check(sem_t *sem, const char *what, unsigned k)
{
	(void)sem;
	(void)what;
	(void)k;
	return 0;
}

int shmg__sem_value(sem_t *sem)
{
	int v;
	return sem_getvalue(sem, &v) == 0 ? v : 0;
}

unsigned shmg__sem_drain(sem_t *sem)
{
	/* Bounded by the value read once, not by posts still arriving. */
	int v = shmg__sem_value(sem);
	unsigned n = 0;
	while (v-- > 0 && sem_trywait(sem) == 0)
		n++;
	return n;
}

#endif
