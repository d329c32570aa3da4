/*
 * Names of shmguard results, the per-thread detail of the last failure, and
 * the sized-struct checks (include/shmguard/error.h, lib/sized.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <shmguard/error.h>

#include "detail.h"
#include "sized.h"

static const char *const shmg_messages[] = {
	[SHMG_ENOTRECOVERABLE - SHMG_E_FIRST] = "lock is not recoverable: an owner died and the data was never marked consistent",
	[SHMG_ELAYOUT - SHMG_E_FIRST] = "segment does not match the expected layout",
	[SHMG_EGARBAGE - SHMG_E_FIRST] = "guard word holds an invalid value",
	[SHMG_EWRITERDEAD - SHMG_E_FIRST] = "writer died while writing",
	[SHMG_ETOOFAST - SHMG_E_FIRST] = "writer too fast: no consistent copy within the retry bound",
	[SHMG_ETORN - SHMG_E_FIRST] = "data was torn by a concurrent write",
	[SHMG_ENOTOWNER - SHMG_E_FIRST] = "caller does not own the lock",
	[SHMG_EDEADLK - SHMG_E_FIRST] = "caller already owns the lock",
	[SHMG_ECOUNTER - SHMG_E_FIRST] = "frame counter moved backwards or wrapped",
	[SHMG_ETRUNCATED - SHMG_E_FIRST] = "the file was truncated under its mapping",
	[SHMG_EREVOKED - SHMG_E_FIRST] = "the pinned copy was rewritten while pinned: discard "
					  "what was computed from it",
};

SHMG_EXPORT const char *shmg_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err == SHMG_OWNERDEAD)
		return "success; the previous holder died, and what it left may be half done";
	if (err == SHMG_RECOVERED)
		return "recovered what a dead process left";
	if (err == SHMG_STALE)
		return "success; the previous value kept: a writer held the lock throughout";
	if (err >= SHMG_E_FIRST && err <= SHMG_E_LAST && shmg_messages[err - SHMG_E_FIRST])
		return shmg_messages[err - SHMG_E_FIRST];
	if (err < 0 && err > -4096) {
		/* strerrordesc_np returns static text: thread-safe, unlike strerror. */
		const char *desc = strerrordesc_np(-err);
		if (desc)
			return desc;
	}
	return "unknown error";
}

/* The last detail recorded in this thread, and the code it belongs to. */
static __thread int detail_err;
static __thread char detail_text[256];

int shmg__fail(int err, const char *fmt, ...)
{
	/* Formatted aside first: an argument may be the current detail
	 * (a caller adding context to what a lower layer said). */
	char text[sizeof(detail_text)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memcpy(detail_text, text, sizeof(text));
	detail_err = err;
	return err;
}

SHMG_EXPORT const char *shmg_error_detail(int err)
{
	if (err != 0 && err == detail_err && detail_text[0])
		return detail_text;
	return shmg_strerror(err);
}

static uint32_t size_of(const void *sized)
{
	uint32_t size;
	memcpy(&size, sized, sizeof(size));
	return size;
}

int shmg__sized_in(void *own, size_t own_size, size_t min, const void *theirs,
		   const char *type)
{
	if (!theirs)
		return shmg__fail(-EINVAL, "struct %s: NULL", type);
	uint32_t size = size_of(theirs);
	if (size < min)
		return shmg__fail(-EINVAL, "struct %s: .size is %u, at least %zu expected "
				  "(set it to sizeof the struct)", type, size, min);
	const unsigned char *extra = (const unsigned char *)theirs + own_size;
	for (size_t i = own_size; i < size; i++, extra++)
		if (*extra)
			return shmg__fail(-E2BIG, "struct %s: byte %zu is set, but this library "
					  "knows only the first %zu bytes", type, i, own_size);
	memset(own, 0, own_size);
	memcpy(own, theirs, size < own_size ? size : own_size);
	uint32_t mine = (uint32_t)own_size;
	memcpy(own, &mine, sizeof(mine));
	return 0;
}

int shmg__sized_out(void *theirs, const void *own, size_t own_size, size_t min,
		    const char *type)
{
	if (!theirs)
		return shmg__fail(-EINVAL, "struct %s: NULL", type);
	uint32_t size = size_of(theirs);
	if (size < min)
		return shmg__fail(-EINVAL, "struct %s: .size is %u, at least %zu expected "
				  "(set it to sizeof the struct)", type, size, min);
	size_t n = size < own_size ? size : own_size;
	/* Everything but the size field: it stays the caller's. */
	memcpy((unsigned char *)theirs + sizeof(uint32_t),
	       (const unsigned char *)own + sizeof(uint32_t), n - sizeof(uint32_t));
	if (size > own_size)
		memset((unsigned char *)theirs + own_size, 0, size - own_size);
	return 0;
}
