/* The recovery steps' report and result (lib/recover.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <shmguard/proc.h>

#include "detail.h"
#include "proc_internal.h"
#include "recover.h"
#include "sized.h"

int shmg__recovery_begin(struct shmg__recovery *rc,
			 const struct shmg_recover_opts *opts)
{
	memset(rc, 0, sizeof(*rc));
	rc->opts.size = sizeof(rc->opts);
	if (!opts)
		return 0;
	int err = SHMG__SIZED_IN(&rc->opts, opts, struct shmg_recover_opts);
	if (!err && (rc->opts.flags & ~(uint32_t)(SHMG_RECOVER_DRY_RUN | SHMG_RECOVER_BLANK)))
		err = shmg__fail(-EINVAL, "recover flags 0x%x: unknown bits", rc->opts.flags);
	return err;
}

void shmg__step(struct shmg__recovery *rc, int result, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	size_t n = 0;

	if (result == SHMG_RECOVERED && shmg__dry_run(rc))
		n = (size_t)snprintf(text, sizeof(text), "would ");
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - n, fmt, ap);
	va_end(ap);
	if (rc->opts.report)
		rc->opts.report(rc->opts.report_arg, result, text);
	if (result < 0 && rc->result >= 0)
		rc->result = result;
	if (result < 0 && !shmg__left_alone(result) && !rc->failed)
		rc->failed = result;
	else if (result == SHMG_RECOVERED && rc->result == 0)
		rc->result = SHMG_RECOVERED;
}

bool shmg__forced(const struct shmg__recovery *rc, int32_t tid)
{
	return rc->opts.force_pid > 0 && shmg__thread_of(rc->opts.force_pid, tid);
}

bool shmg__counts_as_dead(const struct shmg__recovery *rc, int32_t pid)
{
	if (pid <= 0)
		return false;
	return shmg__forced(rc, pid) || shmg_proc_alive(pid, 0, 0) == SHMG_PROC_DEAD;
}

void shmg__who(const struct shmg__recovery *rc, char *buf, size_t len,
	       const char *role, int32_t pid)
{
	if (shmg__forced(rc, pid) && shmg_proc_alive(pid, 0, 0) != SHMG_PROC_DEAD)
		snprintf(buf, len, "%s PID %d (alive; named by force_pid)", role, (int)pid);
	else
		snprintf(buf, len, "dead %s PID %d", role, (int)pid);
}
