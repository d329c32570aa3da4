/*
 * Which reader slots this process holds: lib/slot_claims.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pin_lock.h"
#include "slot_claims.h"

struct slot {
	dev_t dev;     /* 0 with ino 0: not a file's memory */
	ino_t ino;
	uintptr_t at;  /* offset in the file, or the word's address */
	int lock_fd;   /* holds the slot's lock (lib/pin_lock.h), or -1 */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *held;
static size_t nheld, capacity;

/* Around fork: the list is whole in the child, which holds none of it. */
static void before_fork(void)
{
	pthread_mutex_lock(&lock);
}

static void parent_after_fork(void)
{
	pthread_mutex_unlock(&lock);
}

static void child_after_fork(void)
{
	/* The parent's slot locks stay the parent's: the child's copies of
	 * their descriptors go, so the locks go when the parent does. */
	for (size_t i = 0; i < nheld; i++)
		if (held[i].lock_fd >= 0)
			close(held[i].lock_fd);
	nheld = 0;
	pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
	pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

void shmg__claims_begin(void)
{
	pthread_mutex_lock(&lock);
}

void shmg__claims_end(void)
{
	pthread_mutex_unlock(&lock);
}

static struct slot name_of(int fd, const void *base, const void *word)
{
	struct stat st;
	struct slot s = {0, 0, (uintptr_t)word, -1};
	if (fd >= 0 && fstat(fd, &st) == 0) {
		s.dev = st.st_dev;
		s.ino = st.st_ino;
		s.at = (uintptr_t)((const unsigned char *)word - (const unsigned char *)base);
	}
	return s;
}

static size_t find(const struct slot *s)
{
	size_t i = 0;
	while (i < nheld && !(held[i].dev == s->dev && held[i].ino == s->ino && held[i].at == s->at))
		i++;
	return i;
}

bool shmg__claims_holds(int fd, const void *base, const void *word)
{
	struct slot s = name_of(fd, base, word);
	return find(&s) < nheld;
}

int shmg__claims_note(int fd, const void *base, const void *word, bool now_held)
{
	struct slot s = name_of(fd, base, word);
	size_t i = find(&s);
	if (!now_held) {
		if (i < nheld) {
			if (held[i].lock_fd >= 0)
				close(held[i].lock_fd); /* unlocks */
			held[i] = held[--nheld];
		}
		return 0;
	}
	if (i < nheld)
		return 0;
	if (nheld == capacity) {
		size_t n = capacity ? 2 * capacity : 16;
		struct slot *grown = realloc(held, n * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		held = grown;
		capacity = n;
	}
	/* A live reader's lock, whatever its PID says here (another PID
	 * namespace): the slot is not free. */
	s.lock_fd = shmg__pin_lock(fd, base, word);
	if (s.lock_fd == -EAGAIN)
		return -EAGAIN;
	if (s.lock_fd < 0)
		s.lock_fd = -1;
	held[nheld++] = s;
	return 0;
}
