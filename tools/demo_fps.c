/*
 * The demo's FPS parameter: several processes increment one parameter of
 * a milk FPS file at once. Plainly (read, add, write back, cnt0++, as
 * milk's update paths do) updates are lost; under the parameter's lock
 * (shmg_fps_update) none are, even when one process is SIGKILLed while it
 * holds the lock: the next locker recovers it.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmguard.h>

#include "cli.h"
#include "demo.h"

#define PROCS 4
#define PLAIN_PARAM 0
#define GUARDED_PARAM 1

struct shared {
	int go;             /* the plain updaters start together */
	int holding;        /* the victim is inside the lock, waiting to die */
	unsigned recoveries;
	uint64_t kill_ns, recover_ns;
	uint64_t done[PROCS];
};

struct ctx {
	char path[320];
	struct shared *sh;
	uint64_t per_proc;
	unsigned who;
	bool victim;        /* stops inside its lock half way through */
};

static struct shmg_fps *open_fps(const struct ctx *c)
{
	struct shmg_fps *f;
	int err = shmg_fps_open(&f, c->path, 0, NULL);
	if (err) {
		fprintf(stderr, "shmguard demo: %s: %s\n", c->path, shmg_error_detail(err));
		_exit(1);
	}
	return f;
}

/* Parameter i's record, where a legacy program finds it (the newer
 * layout: the demo creates it so). */
static unsigned char *record(const struct shmg_fps *f, unsigned i)
{
	unsigned char *base = shmg_region_base(shmg_fps_region(f));
	return base + SHMG_FPS_HEADER_NEW + (size_t)i * SHMG_FPS_RECORD_NEW;
}

/* The legacy update: no lock, plain loads and stores. */
static void plain_updater(void *arg)
{
	struct ctx *c = arg;
	struct shmg_fps *f = open_fps(c);
	unsigned char *rec = record(f, PLAIN_PARAM);
	volatile int64_t *val = (volatile int64_t *)(void *)(rec + DEMO_FPS_VAL);
	volatile int64_t *cnt0 = (volatile int64_t *)(void *)(rec + DEMO_FPS_CNT0);
	while (!shmg_atomic_load(&c->sh->go, acquire))
		;
	for (uint64_t i = 0; i < c->per_proc; i++) {
		int64_t v = *val;
		*val = v + 1;
		*cnt0 = *cnt0 + 1;
	}
	_exit(0);
}

static int increment(void *value, void *arg)
{
	struct ctx *c = arg;
	if (c->victim && shmg_atomic_load(&c->sh->done[c->who], relaxed) == c->per_proc / 2) {
		shmg_atomic_store(&c->sh->holding, 1, release);
		for (;;)
			pause(); /* SIGKILLed here, holding the parameter's lock */
	}
	int64_t v;
	memcpy(&v, value, sizeof(v));
	v++;
	memcpy(value, &v, sizeof(v));
	return 1;
}

static void guarded_updater(void *arg)
{
	struct ctx *c = arg;
	struct shmg_fps *f = open_fps(c);
	for (uint64_t i = 0; i < c->per_proc; i++) {
		/* Half way, wait for the kill, so that the dead holder's lock is
		 * always met by someone (else all could finish first). */
		while (!c->victim && i == c->per_proc / 2 &&
		       !shmg_atomic_load(&c->sh->kill_ns, relaxed))
			cli_sleep_ns(100000, NULL);
		int got = shmg_fps_update(f, GUARDED_PARAM, increment, c, NULL, NULL);
		if (got < 0) {
			fprintf(stderr, "shmguard demo: update: %s\n", shmg_strerror(got));
			_exit(1);
		}
		if (got == SHMG_OWNERDEAD) { /* this process took the lock from the dead holder */
			shmg_atomic_store(&c->sh->recover_ns, cli_now_ns(), relaxed);
			shmg_atomic_add(&c->sh->recoveries, 1u, relaxed);
		}
		shmg_atomic_store(&c->sh->done[c->who], i + 1, relaxed);
	}
	_exit(0);
}

static int64_t value_of(const struct shmg_fps *f, unsigned i, int64_t *cnt0)
{
	int64_t v;
	shmg_fps_get(f, i, &v, sizeof(v), cnt0, NULL);
	return v;
}

static void wait_all(pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		demo_kill(pids[i]); /* no-op on those reaped */
}

/* Without the lock: every process increments at once. 0, or -1. */
static int plain_stage(const struct demo *d, struct ctx *c, pid_t *pid,
		       const struct shmg_fps *f, struct fps_result *r)
{
	struct shared *sh = c[0].sh;
	demo_progress(d, 3, "FPS parameter: %d processes x %llu plain increments", PROCS,
		      (unsigned long long)r->plain_per_proc);
	for (unsigned i = 0; i < PROCS; i++) {
		c[i].per_proc = r->plain_per_proc;
		if ((pid[i] = demo_fork(plain_updater, &c[i])) < 0)
			return -1;
	}
	shmg_atomic_store(&sh->go, 1, release);
	for (unsigned i = 0; i < PROCS; i++)
		waitpid(pid[i], NULL, 0), pid[i] = 0;
	int64_t cnt0;
	r->plain_expected = (uint64_t)PROCS * r->plain_per_proc;
	r->plain_value = (uint64_t)value_of(f, PLAIN_PARAM, &cnt0);
	return 0;
}

/* Wait for the survivors, showing progress. */
static void wait_survivors(const struct demo *d, struct shared *sh, pid_t *pid, uint64_t per)
{
	for (unsigned i = 1; i < PROCS; i++) {
		while (shmg_atomic_load(&sh->done[i], relaxed) < per && !*d->interrupted) {
			demo_progress(d, 3, "FPS parameter under the lock: holder SIGKILLed; %u recovery, "
				      "%llu updates done", shmg_atomic_load(&sh->recoveries, relaxed),
				      (unsigned long long)(shmg_atomic_load(&sh->done[1], relaxed) +
							    shmg_atomic_load(&sh->done[2], relaxed) +
							    shmg_atomic_load(&sh->done[3], relaxed)));
			cli_sleep_ns(50000000, NULL);
		}
		waitpid(pid[i], NULL, 0);
		pid[i] = 0;
	}
}

/* Under the lock, one process SIGKILLed while it holds it. 0, or -1. */
static int guarded_stage(const struct demo *d, struct ctx *c, pid_t *pid,
			 const struct shmg_fps *f, struct fps_result *r)
{
	struct shared *sh = c[0].sh;
	uint64_t per = r->per_proc;
	demo_progress(d, 3, "FPS parameter: %d processes x %llu increments under the lock, "
		      "one SIGKILLed inside it", PROCS, (unsigned long long)per);
	for (unsigned i = 0; i < PROCS; i++) {
		c[i].per_proc = per;
		if ((pid[i] = demo_fork(guarded_updater, &c[i])) < 0)
			return -1;
	}
	uint64_t t0 = cli_now_ns();
	while (!shmg_atomic_load(&sh->holding, acquire)) { /* the victim's handshake */
		if (*d->interrupted || cli_now_ns() - t0 > 20000000000u) {
			cli_error("demo: the FPS victim did not reach its lock");
			return -1;
		}
		cli_sleep_ns(1000000, NULL);
	}
	r->killed_inside = true;
	shmg_atomic_store(&sh->kill_ns, cli_now_ns(), relaxed);
	demo_kill(pid[0]);
	pid[0] = 0;
	wait_survivors(d, sh, pid, per);
	int64_t cnt0;
	r->guarded_expected = (uint64_t)(PROCS - 1) * per + per / 2;
	r->guarded_value = (uint64_t)value_of(f, GUARDED_PARAM, &cnt0);
	r->guarded_cnt0 = (uint64_t)cnt0;
	r->recoveries = sh->recoveries;
	r->recover_ms = sh->recover_ns > sh->kill_ns ? (double)(sh->recover_ns - sh->kill_ns) / 1e6 : -1;
	return 0;
}

int demo_fps(const struct demo *d, struct fps_result *r)
{
	struct ctx c[PROCS];
	pid_t pid[PROCS] = {0};
	struct shared *sh = demo_shared(sizeof(*sh));
	struct shmg_fps *f = NULL;
	struct shmg_fps_params fp = {.size = sizeof(fp), .layout = SHMG_FPS_NEW, .nparam = 4,
				     .name = "shmguard-demo"};
	char path[320];

	snprintf(path, sizeof(path), "%s/shmguard-demo.fps.shm", d->dir);
	int err = sh ? shmg_fps_create(&f, path, &fp, 0600, 0) : -ENOMEM;
	if (err) {
		cli_error("demo: creating %s: %s", path, shmg_error_detail(err));
		if (sh)
			demo_unshare(sh, sizeof(*sh));
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->procs = PROCS;
	r->per_proc = d->quick ? 3000 : 30000;
	r->plain_per_proc = d->quick ? 300000 : 3000000; /* plain ++ is fast */
	for (unsigned i = 0; i < PROCS; i++) {
		c[i] = (struct ctx){.sh = sh, .who = i, .victim = i == 0};
		strcpy(c[i].path, path);
	}
	int rc = plain_stage(d, c, pid, f, r) == 0 && guarded_stage(d, c, pid, f, r) == 0 &&
		 !*d->interrupted ? 0 : -1;
	wait_all(pid, PROCS);
	demo_progress_done();
	shmg_fps_close(f);
	unlink(path);
	demo_unshare(sh, sizeof(*sh));
	return rc;
}
