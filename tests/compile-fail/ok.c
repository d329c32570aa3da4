/* expect: OK */
/* The positive control: proves the harness can compile at all. */
#include <shmguard/atomic.h>
#include <stdint.h>
uint32_t f(uint32_t *p) { return shmg_atomic_load(p, acquire); }
