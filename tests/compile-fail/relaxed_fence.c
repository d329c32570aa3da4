/* expect: SHMG__FENCE_ORDER_relaxed */
#include <shmguard/atomic.h>
void f(void) { shmg_atomic_thread_fence(relaxed); }
