/*
 * shmguard/common.h: what every shmguard header needs: C/C++ linkage,
 * symbol export, and a static assertion usable in both languages.
 */
#ifndef SHMGUARD_COMMON_H
#define SHMGUARD_COMMON_H

#ifdef __cplusplus
#define SHMG_BEGIN_DECLS extern "C" {
#define SHMG_END_DECLS }
#define SHMG__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SHMG_BEGIN_DECLS
#define SHMG_END_DECLS
#define SHMG__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* The library is built with -fvisibility=hidden; public functions say so. */
#define SHMG_EXPORT __attribute__((visibility("default")))

#define SHMG__LIKELY(x) __builtin_expect(!!(x), 1)
#define SHMG__UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* SHMGUARD_COMMON_H */
