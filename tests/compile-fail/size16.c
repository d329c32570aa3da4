/* expect: must be 1, 2, 4 or 8 bytes */
#include <shmguard/atomic.h>
struct pair { unsigned long a, b; };
void f(struct pair *p, struct pair v) { shmg_atomic_store(p, v, relaxed); }
