/* expect: SHMG__LOAD_ORDER_release */
#include <shmguard/atomic.h>
#include <stdint.h>
uint32_t f(uint32_t *p) { return shmg_atomic_load(p, release); }
