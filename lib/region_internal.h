/*
 * The region behind the opaque handle (include/shmguard/region.h), for the
 * layers above it.
 */
#ifndef SHMG_REGION_INTERNAL_H
#define SHMG_REGION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <shmguard/region.h>

struct shmg_region {
	unsigned char *base; /* first byte of the mapping */
	size_t size;         /* bytes mapped: the whole file */
	int fd;              /* open descriptor, or -1 for caller memory */
	unsigned flags;      /* SHMG_REGION_* given at open */
	bool owned;          /* unmap and close at close (not caller memory) */
	int guard_slot;      /* SHMG_REGION_TRUNCATION: its slot, else -1 */
	int truncated;       /* set (atomically) by the SIGBUS handler */
};

/* SHMG_REGION_TRUNCATION (lib/region_truncation.c): make faults in r's
 * mapping raise r->truncated instead of killing the process. 0, or -errno
 * with a detail. */
int shmg__truncation_guard(struct shmg_region *r);
/* Before r is unmapped. */
void shmg__truncation_unguard(struct shmg_region *r);

/* Whether the guarded region r was truncated under its mapping (its pages
 * are zeros since). A relaxed load: callers check it after they looked. */
static inline bool shmg__truncated(const struct shmg_region *r)
{
	return r->guard_slot >= 0 && __atomic_load_n(&r->truncated, __ATOMIC_ACQUIRE);
}

#endif /* SHMG_REGION_INTERNAL_H */
