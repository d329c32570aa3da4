/*
 * milk PINFO files: recognised by size, one lock in the hole at 836.
 * See include/shmguard/milk.h and doc/milk.md.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bsd/string.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>
#include <shmguard/milk.h>

#include "milk_internal.h"

static int *ctrlval(const struct shmg_pinfo *p)
{
	return (int *)(void *)(p->region.base + PINFO_CTRLVAL);
}

static int64_t *loopcnt(const struct shmg_pinfo *p)
{
	return (int64_t *)(void *)(p->region.base + PINFO_LOOPCNT);
}

SHMG_EXPORT int shmg_pinfo_path(char *buf, size_t len, const char *name,
				pid_t pid)
{
	struct stat st;
	if (!buf || !name || !*name || strchr(name, '/') || pid <= 0)
		return -EINVAL;
	const char *dir = getenv("MILK_PROC_DIR");
	if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		dir = shmg__milk_shm_dir();
	int n = snprintf(buf, len, "%s/proc.%s.%06ld.shm", dir, name, (long)pid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int attach(struct shmg_pinfo *p)
{
	if (p->region.size != SHMG_PINFO_SIZE_2024 &&
	    p->region.size != SHMG_PINFO_SIZE_NEW)
		return SHMG_ELAYOUT;
	p->size = p->region.size;
	return shmg_xlock_init(&p->lock, &p->region, PINFO_LOCK, 4);
}

SHMG_EXPORT int shmg_pinfo_open(struct shmg_pinfo *p, const char *path,
				unsigned flags)
{
	if (!p || !path)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->region.fd = -1;
	int err = shmg_region_open(&p->region, path, flags);
	if (!err && (err = attach(p)) != 0)
		shmg_region_close(&p->region);
	return err;
}

struct pinfo_init {
	const char *name;
	pid_t pid;
};

static int init_pinfo(void *base, size_t size, int fd, void *arg)
{
	const struct pinfo_init *a = arg;
	(void)size;
	(void)fd;
	strlcpy((char *)base + PINFO_NAME, a->name, PINFO_NAME_MAX);
	*(int32_t *)(void *)((char *)base + PINFO_PID) = (int32_t)a->pid;
	return 0;
}

SHMG_EXPORT int shmg_pinfo_create(struct shmg_pinfo *p, const char *path,
				  size_t size, const char *name, pid_t pid,
				  mode_t mode)
{
	if (!p || !path || !name ||
	    (size != SHMG_PINFO_SIZE_2024 && size != SHMG_PINFO_SIZE_NEW))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->region.fd = -1;
	struct pinfo_init a = {name, pid};
	int err = shmg_region_create(&p->region, path, size, mode, 0, init_pinfo, &a);
	if (!err && (err = attach(p)) != 0)
		shmg_region_close(&p->region);
	return err;
}

SHMG_EXPORT void shmg_pinfo_close(struct shmg_pinfo *p)
{
	if (p)
		shmg_region_close(&p->region);
}

/* A holder that died mid-update may have left the message without its
 * terminator: restore it (code and message are then as it left them). */
static void repair_status(void *arg)
{
	struct shmg_pinfo *p = arg;
	p->region.base[PINFO_STATUSMSG + SHMG_PINFO_MSG_MAX - 1] = '\0';
}

static int lock(struct shmg_pinfo *p)
{
	return shmg__milk_lock(&p->lock, repair_status, p);
}

SHMG_EXPORT int shmg_pinfo_recover(struct shmg_pinfo *p)
{
	return shmg__milk_recover(&p->lock, repair_status, p);
}

SHMG_EXPORT int shmg_pinfo_command(struct shmg_pinfo *p, int cmd)
{
	if (cmd < 0 || cmd > SHMG_PINFO_SPIN)
		return -EINVAL;
	int got = lock(p);
	if (got < 0)
		return got;
	int err = got;
	/* An exit already asked for is never taken back by a lesser one. */
	if (shmg_atomic_load(ctrlval(p), relaxed) == SHMG_PINFO_EXIT && cmd != SHMG_PINFO_EXIT)
		err = -EALREADY;
	else
		shmg_atomic_store(ctrlval(p), cmd, relaxed);
	shmg_xlock_unlock(&p->lock);
	return err;
}

SHMG_EXPORT int shmg_pinfo_transition(struct shmg_pinfo *p, int from, int to,
				      int *now)
{
	int got = lock(p);
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
	return err;
}

SHMG_EXPORT int shmg_pinfo_ctrl(const struct shmg_pinfo *p)
{
	return shmg_atomic_load(ctrlval(p), acquire);
}

SHMG_EXPORT int shmg_pinfo_set_status(struct shmg_pinfo *p, int code,
				      const char *msg)
{
	char buf[SHMG_PINFO_MSG_MAX] = {0};
	if (!msg)
		return -EINVAL;
	strlcpy(buf, msg, sizeof(buf));
	int got = lock(p);
	if (got < 0)
		return got;
	memcpy(p->region.base + PINFO_STATUSMSG, buf, sizeof(buf));
	*(int32_t *)(void *)(p->region.base + PINFO_STATUSCODE) = code;
	shmg_xlock_unlock(&p->lock);
	return got;
}

SHMG_EXPORT int shmg_pinfo_get_status(struct shmg_pinfo *p, int *code,
				      char *msg, size_t len)
{
	char buf[SHMG_PINFO_MSG_MAX];
	int got = lock(p);
	if (got < 0)
		return got;
	memcpy(buf, p->region.base + PINFO_STATUSMSG, sizeof(buf));
	int c = *(int32_t *)(void *)(p->region.base + PINFO_STATUSCODE);
	shmg_xlock_unlock(&p->lock);
	buf[sizeof(buf) - 1] = '\0'; /* a legacy writer may not terminate it */
	if (code)
		*code = c;
	if (msg && len)
		strlcpy(msg, buf, len);
	return got;
}

SHMG_EXPORT int64_t shmg_pinfo_heartbeat(struct shmg_pinfo *p)
{
	return shmg_atomic_inc(loopcnt(p), relaxed);
}

SHMG_EXPORT int64_t shmg_pinfo_loopcnt(const struct shmg_pinfo *p)
{
	return shmg_atomic_load(loopcnt(p), relaxed);
}
