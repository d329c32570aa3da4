/*
 * The region behind the opaque handle (include/shmguard/region.h), for the
 * layers above it.
 */
#ifndef SHMG_REGION_INTERNAL_H
#define SHMG_REGION_INTERNAL_H

#include <stddef.h>

#include <shmguard/region.h>

struct shmg_region {
	unsigned char *base; /* first byte of the mapping */
	size_t size;         /* bytes mapped: the whole file */
	int fd;              /* open descriptor, or -1 for caller memory */
	unsigned flags;      /* SHMG_REGION_* given at open */
	bool owned;          /* unmap and close at close (not caller memory) */
};

#endif /* SHMG_REGION_INTERNAL_H */
