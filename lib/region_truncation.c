/*
 * Surviving truncation (SHMG_REGION_TRUNCATION, include/shmguard/region.h;
 * doc/region.md, "When another process truncates the file").
 *
 * A process that truncates a file others map makes their next access past
 * the new end raise SIGBUS, whose default action kills them. For regions
 * opened with SHMG_REGION_TRUNCATION a process-wide SIGBUS handler, installed
 * once, looks up the faulting address among those regions; if it is in one,
 * it maps private zero pages over the whole region (so the faulting
 * instruction, retried, reads zeros and every later access finds memory),
 * and raises the region's "truncated" flag, which the library's reads and
 * waits check after they look: they return SHMG_ETRUNCATED instead of what
 * the zeros would say. A fault anywhere else goes to the handler that was
 * installed before, or to the default action.
 *
 * The handler runs in the faulting thread, whichever it is, and uses only
 * atomics and the mmap system call (which is one system call, with no
 * lock, on Linux; POSIX does not list it as async-signal-safe, so this is a
 * Linux promise, not a portable one).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <shmguard/atomic.h>
#include <shmguard/error.h>

#include "detail.h"
#include "region_internal.h"

/* The guarded regions: a fixed table, so the handler never follows a
 * pointer that could be freed under it. base 0: a free slot; BUSY: being
 * filled or emptied. */
#define SLOTS 256
#define BUSY UINTPTR_MAX

static struct {
	uintptr_t base;
	size_t size;
	int prot;
	int *truncated;
} slots[SLOTS];

static struct sigaction before; /* the handler this one replaced */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

/* Give the fault to whoever handled SIGBUS before: their handler, or the
 * default action (the instruction faults again and the process dies of
 * SIGBUS, as it would have without us). */
static void pass_on(int sig, siginfo_t *info, void *ctx)
{
	if (before.sa_flags & SA_SIGINFO) {
		before.sa_sigaction(sig, info, ctx);
		return;
	}
	if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN) {
		before.sa_handler(sig);
		return;
	}
	/* SIG_IGN cannot ignore a fault (it would repeat for ever): default. */
	signal(sig, SIG_DFL);
}

static void on_sigbus(int sig, siginfo_t *info, void *ctx)
{
	uintptr_t at = (uintptr_t)info->si_addr;
	for (unsigned i = 0; i < SLOTS; i++) {
		uintptr_t base = shmg_atomic_load(&slots[i].base, acquire);
		if (base == 0 || base == BUSY || at < base || at - base >= slots[i].size)
			continue;
		void *p = mmap((void *)base, slots[i].size, slots[i].prot,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED)
			break; /* cannot cover it: let the fault take its course */
		shmg_atomic_store(slots[i].truncated, 1, release);
		return;
	}
	pass_on(sig, info, ctx);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &before) != 0)
		install_error = -errno;
}

int shmg__truncation_guard(struct shmg_region *r)
{
	pthread_once(&install_once, install);
	if (install_error)
		return shmg__fail(install_error, "installing the SIGBUS handler: %s",
				  strerror(-install_error));
	for (unsigned i = 0; i < SLOTS; i++) {
		if (!shmg_atomic_cmpxchg(&slots[i].base, 0, BUSY, acquire))
			continue;
		slots[i].size = r->size;
		slots[i].prot = (r->flags & SHMG_REGION_RDONLY) ? PROT_READ
								: PROT_READ | PROT_WRITE;
		slots[i].truncated = &r->truncated;
		/* release: the handler that finds the base finds the rest. */
		shmg_atomic_store(&slots[i].base, (uintptr_t)r->base, release);
		r->guard_slot = (int)i;
		return 0;
	}
	return shmg__fail(-ENOSPC, "%d regions already survive truncation; close one "
			  "or open this one without SHMG_REGION_TRUNCATION", SLOTS);
}

void shmg__truncation_unguard(struct shmg_region *r)
{
	if (r->guard_slot < 0)
		return;
	/* Before the unmap: the handler no longer maps over these addresses,
	 * which the process may reuse for something else. */
	shmg_atomic_store(&slots[r->guard_slot].base, 0, release);
	r->guard_slot = -1;
}
