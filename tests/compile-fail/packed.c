/* expect: must be naturally aligned */
#include <shmguard/atomic.h>
#include <stdint.h>
struct __attribute__((packed)) rec { char c; uint32_t x; };
uint32_t f(struct rec *r) { return shmg_atomic_load(&r->x, relaxed); }
