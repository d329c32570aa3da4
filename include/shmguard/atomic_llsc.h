/*
 * shmguard/atomic_llsc.h: native rmw_loop forms for load-linked /
 * store-conditional targets (internal; included by shmguard/atomic.h).
 *
 * A target that defines SHMG__ARCH_RMW_LOOP(p, ov, nv, o, ...) and
 * SHMG__ARCH_RMW_LOOP_GIVE_UP(...) here replaces the portable weak-CAS loop.
 * No target does yet.
 */
#ifndef SHMGUARD_ATOMIC_LLSC_H
#define SHMGUARD_ATOMIC_LLSC_H
#endif /* SHMGUARD_ATOMIC_LLSC_H */
