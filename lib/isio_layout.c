/*
 * ImageStreamIO stream files: where things are. The layout is recomputed
 * from the metadata exactly as ImageStreamIO computes the file size, with
 * every product and sum checked for overflow, so a file whose metadata and
 * size disagree is refused before any offset is used.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/isio.h>

#include "isio_internal.h"
#include "isio_layout.h"
#include "milk_internal.h"

static const unsigned char elem_sizes[14] = {
	0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 8, 16, 2,
};

SHMG_EXPORT int shmg_isio_path(char *buf, size_t len, const char *name)
{
	if (!buf || !name || !*name || strchr(name, '/') ||
	    strlen(name) >= SHMG_ISIO_NAME_MAX)
		return -EINVAL;
	int n = snprintf(buf, len, "%s/%s.im.shm", shmg__milk_shm_dir(), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* *at = round_up_8(*at + n), overflow-checked. */
static bool advance(size_t *at, size_t n)
{
	size_t end;
	if (__builtin_add_overflow(*at, n, &end) ||
	    __builtin_add_overflow(end, (size_t)7, &end))
		return false;
	*at = end & ~(size_t)7;
	return true;
}

static bool advance_n(size_t *at, size_t count, size_t each)
{
	size_t n;
	return !__builtin_mul_overflow(count, each, &n) && advance(at, n);
}

/* Fill the offsets of l from its counts. */
static int place_parts(struct shmg_isio_layout *l)
{
	size_t at = ISIO_MD_SIZE;
	bool ok = true;

	l->off_data = at;
	if (l->has_data)
		ok = ok && advance(&at, l->data_size);
	l->off_kw = at;
	ok = ok && advance_n(&at, l->nkw, ISIO_KW_SIZE);
	l->off_sem = at;
	ok = ok && advance_n(&at, l->nsem, ISIO_SEM_T_SIZE);
	l->off_semlog = at;
	ok = ok && advance(&at, ISIO_SEM_T_SIZE);
	l->off_semreadpid = at;
	ok = ok && advance_n(&at, l->nsem, sizeof(int32_t));
	l->off_semwritepid = at;
	ok = ok && advance_n(&at, l->nsem, sizeof(int32_t));
	l->off_semctrl = at;
	ok = ok && advance_n(&at, l->nsem, sizeof(uint32_t));
	l->off_semstatus = at;
	ok = ok && advance_n(&at, l->nsem, sizeof(uint32_t));
	l->off_proctrace = at;
	ok = ok && advance_n(&at, l->nproctrace, ISIO_PROCTRACE_SIZE);
	l->off_slicetimes = at;
	if ((l->imagetype & 0xF000Fu) ==
	    (SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL))
		/* atime and writetime arrays (timespec), then cnt (uint64). */
		ok = ok && advance_n(&at, l->size[2], 16) &&
		     advance_n(&at, l->size[2], 16) &&
		     advance_n(&at, l->size[2], 8);
	l->off_cbmd = at;
	ok = ok && advance_n(&at, l->cbsize, ISIO_CBMD_SIZE);
	l->off_cbdata = at;
	if (l->cbsize)
		ok = ok && advance_n(&at, l->cbsize, l->data_size);
	if (!ok || at > (size_t)INT64_MAX)
		return -EOVERFLOW;
	l->file_size = at;
	return 0;
}

/* Element size and element count from naxis, size, datatype. */
static int count_elements(struct shmg_isio_layout *l)
{
	if (l->naxis < 1 || l->naxis > 3 || l->datatype < 1 || l->datatype > 13)
		return -EINVAL;
	uint64_t n = 1;
	for (unsigned i = 0; i < l->naxis; i++) {
		if (l->size[i] == 0)
			return -EINVAL;
		if (__builtin_mul_overflow(n, (uint64_t)l->size[i], &n))
			return -EOVERFLOW;
	}
	l->nelement = n;
	l->elem_size = elem_sizes[l->datatype];
	if (n > SIZE_MAX || __builtin_mul_overflow((size_t)n, l->elem_size, &l->data_size))
		return -EOVERFLOW;
	return 0;
}

SHMG_EXPORT int shmg_isio_layout_of(struct shmg_isio_layout *l,
				    const struct shmg_isio_params *p)
{
	struct shmg_isio_layout n;
	int err;

	if (!l || !p)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	n.naxis = p->naxis;
	n.datatype = p->datatype;
	memcpy(n.size, p->size, sizeof(n.size));
	n.imagetype = p->imagetype;
	n.nsem = p->nsem ? p->nsem : ISIO_DEFAULT_NSEM;
	n.nkw = p->nkw;
	n.nproctrace = ISIO_DEFAULT_NPROCTRACE;
	n.cbsize = p->cbsize;
	n.has_data = true;
	if ((n.imagetype & 0xF000Fu) ==
		    (SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL) &&
	    n.naxis != 3)
		return -EINVAL;
	if ((err = count_elements(&n)) != 0 || (err = place_parts(&n)) != 0)
		return err;
	*l = n;
	return 0;
}

/* Fixed-size little fields of the metadata (the file is stable after
 * creation apart from the guarded words, read elsewhere). */
#define MD(base, off, type) (*(const type *)(const void *)((base) + (off)))

int shmg__isio_layout_read(struct shmg_isio_layout *l,
			   const unsigned char *base, size_t size)
{
	struct shmg_isio_layout n;

	if (size <= ISIO_MD_SIZE)
		return SHMG_ELAYOUT;
	if (memcmp(base + ISIO_VERSION, SHMG_ISIO_VERSION,
		   sizeof(SHMG_ISIO_VERSION)) != 0)
		return SHMG_ELAYOUT; /* also: not yet ready (written last) */
	if (!memchr(base + ISIO_NAME, '\0', SHMG_ISIO_NAME_MAX))
		return SHMG_ELAYOUT;
	memset(&n, 0, sizeof(n));
	n.naxis = MD(base, ISIO_NAXIS, uint8_t);
	memcpy(n.size, base + ISIO_SIZE, sizeof(n.size));
	n.datatype = MD(base, ISIO_DATATYPE, uint8_t);
	n.imagetype = MD(base, ISIO_IMAGETYPE, uint64_t);
	n.nsem = MD(base, ISIO_SEM, uint16_t);
	n.nkw = MD(base, ISIO_NBKW, uint16_t);
	n.nproctrace = MD(base, ISIO_NBPROCTRACE, uint16_t);
	n.cbsize = MD(base, ISIO_CBSIZE, uint32_t);
	n.has_data = MD(base, ISIO_LOCATION, int8_t) < 0;
	if (count_elements(&n) != 0 ||
	    MD(base, ISIO_NELEMENT, uint64_t) != n.nelement ||
	    MD(base, ISIO_IMDATAMEMSIZE, uint64_t) != n.data_size)
		return SHMG_ELAYOUT;
	if (place_parts(&n) != 0 || n.file_size != size)
		return SHMG_ELAYOUT;
	*l = n;
	return 0;
}
