/*
 * alerts: what inspect and watch point out (PROBLEM: something needs a
 * person; note: worth knowing), and the alerts that several kinds share.
 */
#ifndef SHMG_TOOL_ALERTS_H
#define SHMG_TOOL_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <shmguard.h>

#define MAX_ALERTS 32

enum alert_level { ALERT_NOTE, ALERT_PROBLEM };

struct alerts {
	unsigned n;
	struct {
		enum alert_level level;
		char text[200];
	} a[MAX_ALERTS];
};

void alert(struct alerts *a, enum alert_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool alerts_have_problem(const struct alerts *a);

/* A write flag's alerts: a dead writer (mid-frame or idle), a garbage
 * owner word, a flag stuck with no writer recorded (nobody maps the file,
 * or it stayed set over `dt_ns` with no frame published: prev says). */
void wflag_alerts(struct alerts *a, const struct shmg_wflag_info *prev,
		  const struct shmg_wflag_info *cur, uint64_t dt_ns, bool nobody_maps);

/* A lock word's alerts, the lock named by `what`. */
void lock_alerts(struct alerts *a, const char *what, const struct shmg_xlock_info *info);

#endif /* SHMG_TOOL_ALERTS_H */
