/*
 * shmguard/common.h: what every shmguard header needs: C/C++ linkage,
 * symbol export, a static assertion usable in both languages, and the one
 * rule for structs that cross the library boundary.
 *
 * Sized structs (doc/abi.md): every struct the library reads or fills
 * through a pointer begins with `uint32_t size`, which the caller sets to
 * sizeof the struct it was compiled with, for example
 *
 *     struct shmg_wflag_snap snap = { .size = sizeof snap };
 *
 * The library reads only the fields that fit in `size` (later fields take
 * their default, which is always 0), never writes past `size`, and refuses
 * a struct larger than it knows whose extra bytes are not all zero (it
 * cannot do what they ask). So a program built against an older or a newer
 * header keeps working with this library.
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

/* The library is built with -fvisibility=hidden and a version script that
 * names every exported function; public declarations say so. */
#define SHMG_EXPORT __attribute__((visibility("default")))

#define SHMG__LIKELY(x) __builtin_expect(!!(x), 1)
#define SHMG__UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* SHMGUARD_COMMON_H */
