/*
 * Sized structs across the library boundary (include/shmguard/common.h,
 * doc/abi.md): the caller's struct begins with its size; the library works
 * on its own copy of the struct it was built with.
 */
#ifndef SHMG_SIZED_H
#define SHMG_SIZED_H

#include <stddef.h>

/*
 * Into `own` (own_size bytes, the library's struct): the caller's struct
 * `theirs`, whose size field says how big it is. Fields past the caller's
 * size are zero (their default). Refused: a NULL struct or a size below
 * `min` (-EINVAL), a larger struct with a non-zero byte past own_size
 * (-E2BIG). `type` names the struct in the error detail. own->size is set
 * to own_size.
 */
int shmg__sized_in(void *own, size_t own_size, size_t min, const void *theirs,
		   const char *type);

/*
 * Out of `own` into the caller's `theirs`: at most its size's bytes (the
 * size field itself is kept); bytes past own_size are zeroed. -EINVAL for
 * a NULL struct or a size below `min`.
 */
int shmg__sized_out(void *theirs, const void *own, size_t own_size, size_t min,
		    const char *type);

/* The common case: the struct type is this library's own, every field of
 * its first version. */
#define SHMG__SIZED_IN(own, theirs, type)                                      \
	shmg__sized_in((own), sizeof(type), sizeof(type), (theirs), #type)
#define SHMG__SIZED_OUT(theirs, own, type)                                     \
	shmg__sized_out((theirs), (own), sizeof(type), sizeof(type), #type)

#endif /* SHMG_SIZED_H */
