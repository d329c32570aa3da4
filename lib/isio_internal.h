/*
 * Internals shared by the ImageStreamIO client's files.
 */
#ifndef SHMG_ISIO_INTERNAL_H
#define SHMG_ISIO_INTERNAL_H

#include <semaphore.h>
#include <stddef.h>

#include <shmguard/isio.h>

/* Validate the metadata at base (a mapping of `size` bytes) and compute the
 * layout. Returns 0 or SHMG_ELAYOUT. */
int shmg__isio_layout_read(struct shmg_isio_layout *l,
			   const unsigned char *base, size_t size);

/* Post every reader semaphore below the cap, then the semlog. */
void shmg__isio_post_all(const struct shmg_isio *s);

static inline sem_t *isio_sem(const struct shmg_isio *s, unsigned i)
{
	return (sem_t *)(void *)(s->region.base + s->layout.off_sem +
				 (size_t)i * sizeof(sem_t));
}

static inline int32_t *isio_readpid(const struct shmg_isio *s, unsigned i)
{
	return (int32_t *)(void *)(s->region.base + s->layout.off_semreadpid +
				   (size_t)i * sizeof(int32_t));
}

#endif /* SHMG_ISIO_INTERNAL_H */
