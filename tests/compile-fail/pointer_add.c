/* expect: no arithmetic on pointer objects */
#include <shmguard/atomic.h>
int *f(int **p) { return shmg_atomic_add(p, 1, relaxed); }
