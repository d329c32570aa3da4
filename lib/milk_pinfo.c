/*
 * milk PINFO files: recognised by size, one lock in the hole at 836.
 * See include/shmguard/milk.h and doc/milk.md.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/milk.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>

#include "detail.h"
#include "milk_internal.h"
#include "recover.h"
#include "shmdir.h"
#include "sized.h"
#include "text.h"

static int *ctrlval(const struct shmg_pinfo *p)
{
	return (int *)(void *)(p->region->base + PINFO_CTRLVAL);
}

static int64_t *loopcnt(const struct shmg_pinfo *p)
{
	return (int64_t *)(void *)(p->region->base + PINFO_LOOPCNT);
}

static int32_t *word32(const struct shmg_pinfo *p, size_t off)
{
	return (int32_t *)(void *)(p->region->base + off);
}

SHMG_EXPORT int shmg_pinfo_path(char *buf, size_t len, const char *name,
				pid_t pid)
{
	if (!buf || !name || !*name || strchr(name, '/') || pid <= 0)
		return shmg__fail(-EINVAL, "a process name without '/' and a PID > 0 expected");
	int n = snprintf(buf, len, "%s/proc.%s.%06ld.shm", shmg__proc_dir(), name, (long)pid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool pinfo_size(size_t size)
{
	return size == SHMG_PINFO_SIZE_2024 || size == SHMG_PINFO_SIZE_NEW;
}

/* The handle over an opened or created region (which it then owns). */
static int attach(struct shmg_pinfo **out, struct shmg_region *r)
{
	struct shmg_pinfo *p = calloc(1, sizeof(*p));
	int err = p ? 0 : -ENOMEM;
	if (!err && !pinfo_size(r->size))
		err = shmg__fail(SHMG_ELAYOUT, "%zu bytes: a PINFO file has %d (2024 layout) "
				 "or %d (newer layout)", r->size, SHMG_PINFO_SIZE_2024,
				 SHMG_PINFO_SIZE_NEW);
	if (!err)
		err = shmg_xlock_init(&p->lock, r, PINFO_LOCK, 4);
	if (err) {
		free(p);
		shmg_region_close(r);
		return err;
	}
	p->region = r;
	*out = p;
	return 0;
}

SHMG_EXPORT int shmg_pinfo_open(struct shmg_pinfo **p, const char *path,
				unsigned flags)
{
	struct shmg_region *r;
	if (!p)
		return -EINVAL;
	*p = NULL;
	int err = shmg_region_open(&r, path, flags);
	return err ? err : attach(p, r);
}

static int init_pinfo(void *base, size_t size, int fd, void *arg)
{
	const struct shmg_pinfo_params *a = arg;
	(void)size;
	(void)fd;
	strlcpy((char *)base + PINFO_NAME, a->name, SHMG_PINFO_NAME_MAX);
	*(int32_t *)(void *)((char *)base + PINFO_PID) = (int32_t)a->pid;
	return 0;
}

SHMG_EXPORT int shmg_pinfo_create(struct shmg_pinfo **p, const char *path,
				  const struct shmg_pinfo_params *what,
				  mode_t mode, unsigned flags)
{
	struct shmg_pinfo_params own;
	struct shmg_region *r;
	if (!p)
		return -EINVAL;
	*p = NULL;
	int err = SHMG__SIZED_IN(&own, what, struct shmg_pinfo_params);
	if (err)
		return err;
	if (!pinfo_size(own.file_size))
		return shmg__fail(-EINVAL, "file_size %u: %d or %d expected", own.file_size,
				  SHMG_PINFO_SIZE_2024, SHMG_PINFO_SIZE_NEW);
	if (!own.name || strlen(own.name) >= SHMG_PINFO_NAME_MAX)
		return shmg__fail(-EINVAL, "a name of at most %d bytes expected",
				  SHMG_PINFO_NAME_MAX - 1);
	err = shmg_region_create(&r, path, own.file_size, mode, flags, init_pinfo, &own);
	return err ? err : attach(p, r);
}

SHMG_EXPORT void shmg_pinfo_close(struct shmg_pinfo *p)
{
	if (!p)
		return;
	shmg_region_close(p->region);
	free(p);
}

SHMG_EXPORT const struct shmg_region *shmg_pinfo_region(const struct shmg_pinfo *p)
{
	return p->region;
}

SHMG_EXPORT int shmg_pinfo_status_lock(const struct shmg_pinfo *p, struct shmg_xlock *l)
{
	*l = p->lock;
	return 0;
}

/* A holder that died mid-update may have left the message without its
 * terminator: restore it (code and message are then as it left them). */
static void repair_status(void *arg)
{
	const struct shmg_pinfo *p = arg;
	p->region->base[PINFO_STATUSMSG + SHMG_PINFO_MSG_MAX - 1] = '\0';
}

static int lock(const struct shmg_pinfo *p, const struct timespec *deadline)
{
	return shmg__milk_lock(&p->lock, repair_status, (void *)(uintptr_t)p, deadline);
}

SHMG_EXPORT int shmg_pinfo_command(struct shmg_pinfo *p, int cmd,
				   const struct timespec *deadline)
{
	if (cmd < 0 || cmd > SHMG_PINFO_SPIN)
		return shmg__fail(-EINVAL, "command %d: 0 to %d expected", cmd, SHMG_PINFO_SPIN);
	int got = lock(p, deadline);
	if (got < 0)
		return got;
	int err = got;
	/* An exit already asked for is never taken back by a lesser one. */
	if (shmg_atomic_load(ctrlval(p), relaxed) == SHMG_PINFO_EXIT && cmd != SHMG_PINFO_EXIT)
		err = -EALREADY;
	else
		shmg_atomic_store(ctrlval(p), cmd, relaxed);
	shmg_xlock_unlock(&p->lock);
	/* A loop paused in shmg_loop_step sleeps on this word: wake it. A
	 * command is rare (a person or a script), so this syscall is not on a
	 * fast path (rules.md, rule 5). */
	if (err >= 0)
		shmg_futex_wake((const uint32_t *)(const void *)ctrlval(p), INT32_MAX);
	return milk_result(p->region, err);
}

SHMG_EXPORT int shmg_pinfo_transition(struct shmg_pinfo *p, int from, int to,
				      int *now, const struct timespec *deadline)
{
	int got = lock(p, deadline);
	if (got < 0)
		return got;
	int cur = shmg_atomic_load(ctrlval(p), relaxed), err = got;
	if (cur == from) {
		shmg_atomic_store(ctrlval(p), to, relaxed);
		cur = to;
	} else {
		err = -EAGAIN; /* the monitor's command stays */
	}
	shmg_xlock_unlock(&p->lock);
	if (now)
		*now = cur;
	return milk_result(p->region, err);
}

SHMG_EXPORT int shmg_pinfo_ctrl(const struct shmg_pinfo *p)
{
	return shmg_atomic_load(ctrlval(p), acquire);
}

SHMG_EXPORT int shmg_pinfo_set_status(struct shmg_pinfo *p, int code, const char *msg,
				      const struct timespec *deadline)
{
	char buf[SHMG_PINFO_MSG_MAX] = {0};
	if (!msg)
		return shmg__fail(-EINVAL, "no message");
	strlcpy(buf, msg, sizeof(buf));
	int got = lock(p, deadline);
	if (got < 0)
		return got;
	memcpy(p->region->base + PINFO_STATUSMSG, buf, sizeof(buf));
	*word32(p, PINFO_STATUSCODE) = code;
	shmg_xlock_unlock(&p->lock);
	return milk_result(p->region, got);
}

SHMG_EXPORT int shmg_pinfo_get_status(const struct shmg_pinfo *p, int *code,
				      char *msg, size_t len,
				      const struct timespec *deadline)
{
	char buf[SHMG_PINFO_MSG_MAX];
	int got = lock(p, deadline);
	if (got < 0)
		return got;
	memcpy(buf, p->region->base + PINFO_STATUSMSG, sizeof(buf));
	int c = *word32(p, PINFO_STATUSCODE);
	shmg_xlock_unlock(&p->lock);
	buf[sizeof(buf) - 1] = '\0'; /* a legacy writer may not terminate it */
	if (code)
		*code = c;
	if (msg && len)
		strlcpy(msg, buf, len);
	return milk_result(p->region, got);
}

SHMG_EXPORT int64_t shmg_pinfo_heartbeat(struct shmg_pinfo *p)
{
	return shmg_atomic_inc(loopcnt(p), relaxed);
}

SHMG_EXPORT int64_t shmg_pinfo_loopcnt(const struct shmg_pinfo *p)
{
	return shmg_atomic_load(loopcnt(p), relaxed);
}

SHMG_EXPORT int shmg_pinfo_inspect(const struct shmg_pinfo *p, struct shmg_pinfo_info *info)
{
	struct shmg_pinfo_info own;

	memset(&own, 0, sizeof(own));
	own.file_size = (uint32_t)p->region->size;
	shmg__copy_text(own.name, p->region->base + PINFO_NAME, sizeof(own.name));
	own.pid = shmg_atomic_load(word32(p, PINFO_PID), relaxed);
	own.pid_alive = own.pid > 0 ? shmg_proc_alive(own.pid, 0, 0) : -ENOENT;
	own.ctrl = shmg_atomic_load(word32(p, PINFO_CTRLVAL), relaxed);
	own.loopstat = shmg_atomic_load(word32(p, PINFO_LOOPSTAT), relaxed);
	own.statuscode = shmg_atomic_load(word32(p, PINFO_STATUSCODE), relaxed);
	own.loopcnt = shmg_atomic_load(loopcnt(p), relaxed);
	shmg__copy_text(own.statusmsg, p->region->base + PINFO_STATUSMSG, sizeof(own.statusmsg));
	own.lock_offset = PINFO_LOCK;
	int err = milk_result(p->region, 0);
	return err ? err : SHMG__SIZED_OUT(info, &own, struct shmg_pinfo_info);
}

SHMG_EXPORT int shmg_pinfo_recover(struct shmg_pinfo *p, const struct shmg_recover_opts *opts)
{
	struct shmg__recovery rc;
	int err = shmg__recovery_begin(&rc, opts);
	if (err)
		return err;
	shmg__milk_recover(&rc, &p->lock, p->region->fd, repair_status, p, "the status lock");
	return rc.result;
}
