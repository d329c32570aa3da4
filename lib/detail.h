/*
 * The detail behind an error code: one line, kept per thread, that says what
 * exactly was wrong (shmg_error_detail in include/shmguard/error.h).
 */
#ifndef SHMG_DETAIL_H
#define SHMG_DETAIL_H

/* Record "fmt ..." as the detail of err for this thread; returns err, so a
 * failing path reads `return shmg__fail(-EINVAL, "...", ...);`. */
int shmg__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SHMG_DETAIL_H */
