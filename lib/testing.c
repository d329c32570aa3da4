/*
 * The test hooks shared by several modules (lib/testing.h). Compiled into
 * the test build only: the installed library has none of them.
 */
#include "config.h"

#include "testing.h"

#ifdef SHMG_TESTING
void (*shmg__test_point)(int point);
int (*shmg__test_fail)(int point);
#endif
