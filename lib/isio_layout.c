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

#include "detail.h"
#include "isio_internal.h"
#include "isio_layout.h"
#include "shmdir.h"
#include "sized.h"

static const unsigned char elem_sizes[14] = {
	0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 8, 16, 2,
};

SHMG_EXPORT int shmg_isio_path(char *buf, size_t len, const char *name)
{
	if (!buf || !name || !*name || strchr(name, '/') ||
	    strlen(name) >= SHMG_ISIO_NAME_MAX)
		return shmg__fail(-EINVAL, "a stream name: 1 to %d bytes, no '/'",
				  SHMG_ISIO_NAME_MAX - 1);
	int n = snprintf(buf, len, "%s/%s.im.shm", shmg__shm_dir(), name);
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
		ok = ok && advance_n(&at, l->dims[2], 16) &&
		     advance_n(&at, l->dims[2], 16) &&
		     advance_n(&at, l->dims[2], 8);
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

/* Element size and element count from naxis, dims, datatype. */
static int count_elements(struct shmg_isio_layout *l)
{
	if (l->naxis < 1 || l->naxis > 3)
		return shmg__fail(-EINVAL, "naxis is %u, 1 to 3 expected", l->naxis);
	if (l->datatype < 1 || l->datatype > 13)
		return shmg__fail(-EINVAL, "datatype is %u, 1 to 13 expected", l->datatype);
	uint64_t n = 1;
	for (unsigned i = 0; i < l->naxis; i++) {
		if (l->dims[i] == 0)
			return shmg__fail(-EINVAL, "size[%u] is 0 with naxis %u", i, l->naxis);
		if (__builtin_mul_overflow(n, (uint64_t)l->dims[i], &n))
			return shmg__fail(-EOVERFLOW, "the element count overflows");
	}
	l->nelement = n;
	l->elem_size = elem_sizes[l->datatype];
	if (n > SIZE_MAX || __builtin_mul_overflow((size_t)n, l->elem_size, &l->data_size))
		return shmg__fail(-EOVERFLOW, "the data size overflows");
	return 0;
}

int shmg__isio_layout_from(struct shmg_isio_layout *l,
			   const struct shmg_isio_params *p)
{
	struct shmg_isio_layout n;
	int err;

	memset(&n, 0, sizeof(n));
	n.size = sizeof(n);
	n.naxis = p->naxis;
	n.datatype = p->datatype;
	memcpy(n.dims, p->dims, sizeof(n.dims));
	n.imagetype = p->imagetype;
	n.nsem = p->nsem ? p->nsem : ISIO_DEFAULT_NSEM;
	n.nkw = p->nkw;
	n.nproctrace = ISIO_DEFAULT_NPROCTRACE;
	n.cbsize = p->cbsize;
	n.has_data = true;
	if ((n.imagetype & 0xF000Fu) ==
		    (SHMG_ISIO_CIRCULAR_BUFFER | SHMG_ISIO_ZAXIS_TEMPORAL) &&
	    n.naxis != 3)
		return shmg__fail(-EINVAL, "a temporal circular buffer needs naxis 3, not %u",
				  n.naxis);
	if ((err = count_elements(&n)) != 0)
		return err;
	if ((err = place_parts(&n)) != 0)
		return shmg__fail(err, "the file size overflows");
	*l = n;
	return 0;
}

SHMG_EXPORT int shmg_isio_layout_of(struct shmg_isio_layout *l,
				    const struct shmg_isio_params *p)
{
	struct shmg_isio_params own;
	struct shmg_isio_layout n;

	int err = SHMG__SIZED_IN(&own, p, struct shmg_isio_params);
	if (!err)
		err = shmg__isio_layout_from(&n, &own);
	return err ? err : SHMG__SIZED_OUT(l, &n, struct shmg_isio_layout);
}

/* Fixed-size little fields of the metadata (the file is stable after
 * creation apart from the guarded words, read elsewhere). */
#define MD(base, off, type) (*(const type *)(const void *)((base) + (off)))

/* The version string, shown safely (it may hold anything). */
static void version_text(char *out, size_t len, const unsigned char *v)
{
	size_t n = 0;
	for (size_t i = 0; i < 16 && v[i] && n + 1 < len; i++)
		out[n++] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
	out[n] = 0;
}

/* The counts and sizes the metadata states, before any is trusted. */
static void read_counts(struct shmg_isio_layout *n, const unsigned char *base)
{
	memset(n, 0, sizeof(*n));
	n->size = sizeof(*n);
	n->naxis = MD(base, ISIO_NAXIS, uint8_t);
	memcpy(n->dims, base + ISIO_SIZE, sizeof(n->dims));
	n->datatype = MD(base, ISIO_DATATYPE, uint8_t);
	n->imagetype = MD(base, ISIO_IMAGETYPE, uint64_t);
	n->nsem = MD(base, ISIO_SEM, uint16_t);
	n->nkw = MD(base, ISIO_NBKW, uint16_t);
	n->nproctrace = MD(base, ISIO_NBPROCTRACE, uint16_t);
	n->cbsize = MD(base, ISIO_CBSIZE, uint32_t);
	n->has_data = MD(base, ISIO_LOCATION, int8_t) < 0;
}

int shmg__isio_layout_read(struct shmg_isio_layout *l,
			   const unsigned char *base, size_t size)
{
	struct shmg_isio_layout n;
	char v[20];

	if (size <= ISIO_MD_SIZE)
		return shmg__fail(SHMG_ELAYOUT, "%zu bytes: smaller than the %d-byte metadata "
				  "and its data", size, ISIO_MD_SIZE);
	if (memcmp(base + ISIO_VERSION, SHMG_ISIO_VERSION, sizeof(SHMG_ISIO_VERSION)) != 0) {
		version_text(v, sizeof(v), base + ISIO_VERSION);
		/* also: not yet ready (the creator writes the version last) */
		return shmg__fail(SHMG_ELAYOUT, "version is '%s', expected '%s'%s", v,
				  SHMG_ISIO_VERSION, v[0] ? "" : " (not a stream, or not ready)");
	}
	if (!memchr(base + ISIO_NAME, '\0', SHMG_ISIO_NAME_MAX))
		return shmg__fail(SHMG_ELAYOUT, "the name field (%d bytes) is not NUL-terminated",
				  SHMG_ISIO_NAME_MAX);
	/* ImageStreamIO refuses a stream not marked shared (a process-local
	 * image written to a file): so does this client. */
	if (MD(base, ISIO_SHARED, uint8_t) != 1)
		return shmg__fail(SHMG_ELAYOUT, "shared is %u, 1 expected (not a shared stream)",
				  MD(base, ISIO_SHARED, uint8_t));
	read_counts(&n, base);
	int err = count_elements(&n);
	if (err)
		return shmg__fail(SHMG_ELAYOUT, "%s", shmg_error_detail(err));
	if (MD(base, ISIO_NELEMENT, uint64_t) != n.nelement)
		return shmg__fail(SHMG_ELAYOUT, "nelement is %llu; the sizes give %llu",
				  (unsigned long long)MD(base, ISIO_NELEMENT, uint64_t),
				  (unsigned long long)n.nelement);
	if (MD(base, ISIO_IMDATAMEMSIZE, uint64_t) != n.data_size)
		return shmg__fail(SHMG_ELAYOUT, "imdatamemsize is %llu; the sizes and datatype "
				  "give %zu", (unsigned long long)MD(base, ISIO_IMDATAMEMSIZE, uint64_t),
				  n.data_size);
	if (place_parts(&n) != 0)
		return shmg__fail(SHMG_ELAYOUT, "the sizes in the metadata overflow a file size");
	if (n.file_size != size)
		return shmg__fail(SHMG_ELAYOUT, "its metadata implies a file of %zu bytes; the "
				  "file has %zu", n.file_size, size);
	*l = n;
	return 0;
}
