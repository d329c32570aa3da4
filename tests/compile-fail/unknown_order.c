/* expect: SHMG__RMW_ORDER_consume */
#include <shmguard/atomic.h>
#include <stdint.h>
uint32_t f(uint32_t *p) { return shmg_atomic_inc(p, consume); }
