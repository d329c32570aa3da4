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

/* What judging a live holder needs: the file (does the holder map it?),
 * since when the same holder has held it, now, and the threshold past
 * which a hold is called stuck (0: never). */
struct holder_check {
	int fd;
	uint64_t since_ns, now_ns, stuck_ns;
};

/* A write flag's alerts: a dead writer (mid-frame or idle), a garbage
 * owner word, a flag stuck with no writer recorded (nobody maps the file,
 * or it stayed set over `dt_ns` with no frame published: prev says), a
 * live writer that does not map the file or holds the flag too long. */
void wflag_alerts(struct alerts *a, const struct shmg_wflag_info *prev,
		  const struct shmg_wflag_info *cur, uint64_t dt_ns, bool nobody_maps,
		  const struct holder_check *h);

/* A lock word's alerts, the lock named by `what` (h: as above). */
void lock_alerts(struct alerts *a, const char *what, const struct shmg_xlock_info *info,
		 const struct holder_check *h);

/* Since when a write flag has been held by the same writer in the same
 * frame: prev's time if prev shows that, else now. */
uint64_t wflag_held_since(const struct shmg_wflag_info *prev, uint64_t prev_since,
			  const struct shmg_wflag_info *cur, uint64_t now_ns);

#endif /* SHMG_TOOL_ALERTS_H */
