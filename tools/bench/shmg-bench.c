/*
 * shmg-bench: shmguard's benchmark program (also `shmguard bench`).
 *   shmg-bench [SUITE...]   run the named suites (all when none is named)
 *   shmg-bench --list       name the suites
 * Prints one "KEY VALUE UNIT" line per figure.
 */
#define _GNU_SOURCE

#include "bench.h"

int main(int argc, char **argv)
{
	return bench_main(argc, argv);
}
