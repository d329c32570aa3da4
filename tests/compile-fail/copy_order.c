/* expect: SHMG__COPY_LOAD_ORDER_release */
#include <shmguard/memcpy.h>
void f(void *d, const void *s) { shmg_atomic_load_memcpy(d, s, 8, release); }
