/* Internal: the /proc/PID/stat parser, exposed for unit tests. */
#ifndef SHMGUARD_LIB_PROC_STAT_H
#define SHMGUARD_LIB_PROC_STAT_H

#include <stddef.h>
#include <stdint.h>

#include <shmguard/common.h>

/* Parse a stat line: state (field 3) and starttime (field 22), comm parsed
 * from the LAST ')'. Returns 0 or -EINVAL. Exported (shmg__ prefix) only so
 * tests can reach it; not part of the API. */
SHMG_EXPORT int shmg__proc_parse_stat(const char *line, size_t len, char *state,
				      uint64_t *start);

#endif
