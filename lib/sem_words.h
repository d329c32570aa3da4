/*
 * The words of a sem_t found in a file (ImageStreamIO's semaphores): any
 * process with write access may have damaged them, and glibc aborts the
 * calling process on a semaphore whose words it cannot use. So they are
 * checked before every call that hands glibc the semaphore, and draining
 * takes all pending posts in one step rather than one sem_trywait per post.
 */
#ifndef SHMG_SEM_WORDS_H
#define SHMG_SEM_WORDS_H

#include <semaphore.h>

/* 1 where the C library's sem_t words are known (glibc with 64-bit
 * atomics); elsewhere the check passes and the drain is bounded by the
 * value read once. */
#if defined(__GLIBC__) && (__SIZEOF_POINTER__ == 8 || defined(__x86_64__))
#define SHMG__SEM_WORDS 1
#else
#define SHMG__SEM_WORDS 0
#endif

/* 0, or SHMG_EGARBAGE with a detail naming `what` k and the bad word. */
int shmg__sem_check(sem_t *sem, const char *what, unsigned k);

/* The value (0 .. INT_MAX on a sound semaphore). */
int shmg__sem_value(sem_t *sem);

/* Take every post pending now, atomically; returns how many. */
unsigned shmg__sem_drain(sem_t *sem);

#endif /* SHMG_SEM_WORDS_H */
