/* Text fields of segments (names, messages), for monitors. */
#ifndef SHMG_TEXT_H
#define SHMG_TEXT_H

#include <stddef.h>

/* Copy the n-byte field at src, which may be unterminated or change under
 * us, into dst[n] (NUL-terminated), control characters shown as '?'. */
void shmg__copy_text(char *dst, const unsigned char *src, size_t n);

#endif /* SHMG_TEXT_H */
