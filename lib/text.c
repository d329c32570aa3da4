/* Text fields of segments (lib/text.h). */
#include "config.h"

#include <shmguard/memcpy.h>

#include "text.h"

void shmg__copy_text(char *dst, const unsigned char *src, size_t n)
{
	/* Byte-wise atomic: a writer may be changing the field right now. */
	shmg_atomic_load_memcpy(dst, src, n - 1, relaxed);
	dst[n - 1] = 0;
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}
