/* expect: SHMG__STORE_ORDER_dependency */
#include <shmguard/atomic.h>
#include <stdint.h>
void f(uint32_t *p) { shmg_atomic_store(p, 1, dependency); }
