/*
 * Which slots this process holds: lib/slot_claims.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pin_lock.h"
#include "proc_internal.h"
#include "slot_claims.h"

struct slot {
	struct shmg__claim_name name;
	int lock_fd; /* holds a reader slot's lock (lib/pin_lock.h), or -1 */
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

/* A word is named by the file that holds it and its offset there, so
 * that two mappings of one file name it alike. A region of a file maps
 * it from offset 0: the offset is the word's in the region. Memory the
 * caller mapped (fd -1) may be a second mapping of memory a region or
 * another wrapping maps too: what backs it is read from /proc/self/maps
 * (the address names it only where nothing else can share it). */
int shmg__claims_name_of(int fd, const void *base, const void *word,
			 struct shmg__claim_name *out)
{
	struct stat st;
	struct shmg__claim_name s = {0, 0, (uintptr_t)word};
	uint64_t off;
	if (fd >= 0) {
		if (fstat(fd, &st) != 0)
			return -errno;
		s.dev = st.st_dev;
		s.ino = st.st_ino;
		s.at = (uintptr_t)((const unsigned char *)word - (const unsigned char *)base);
	} else {
		int err = shmg__proc_self_backing(word, &s.dev, &s.ino, &off);
		if (err == 0)
			s.at = (uintptr_t)off;
		else if (err != -EINVAL && err != -ENOENT)
			return err; /* cannot tell: not its address either */
	}
	*out = s;
	return 0;
}

struct shmg__claim_name shmg__claims_name(int fd, const void *base, const void *word)
{
	struct shmg__claim_name s = {0, 0, (uintptr_t)word};
	shmg__claims_name_of(fd, base, word, &s);
	return s;
}

static size_t find(const struct shmg__claim_name *s)
{
	size_t i = 0;
	while (i < nheld && !(held[i].name.dev == s->dev && held[i].name.ino == s->ino &&
			      held[i].name.at == s->at))
		i++;
	return i;
}

bool shmg__claims_holds_name(const struct shmg__claim_name *s)
{
	return find(s) < nheld;
}

bool shmg__claims_holds(int fd, const void *base, const void *word)
{
	struct shmg__claim_name s = shmg__claims_name(fd, base, word);
	return shmg__claims_holds_name(&s);
}

/* Note (or forget) the slot `name`; a reader slot (word != NULL) also
 * takes (or drops) its lock. */
static int note(const struct shmg__claim_name *name, bool now_held, int fd,
		const void *base, const void *word)
{
	size_t i = find(name);
	if (!now_held) {
		if (i < nheld) {
			if (held[i].lock_fd >= 0)
				close(held[i].lock_fd); /* unlocks */
			held[i] = held[--nheld];
		}
		return 0;
	}
	if (i < nheld)
		/* A reader slot another claim of this process holds (its
		 * owner word freed under it, by a forced recovery): never a
		 * second claim's, which would clear the first one's pin. */
		return word ? -EAGAIN : 0;
	if (nheld == capacity) {
		size_t n = capacity ? 2 * capacity : 16;
		struct slot *grown = realloc(held, n * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		held = grown;
		capacity = n;
	}
	struct slot s = {*name, -1};
	if (word) {
		/* A live reader's lock, whatever its PID says here (another
		 * PID namespace): the slot is not free. */
		s.lock_fd = shmg__pin_lock(fd, base, word);
		if (s.lock_fd < 0 && s.lock_fd != -ENOTSUP)
			return s.lock_fd; /* a live reader's (-EAGAIN), or no lock to be had */
		if (s.lock_fd < 0)
			s.lock_fd = -1;
	}
	held[nheld++] = s;
	return 0;
}

int shmg__claims_note(int fd, const void *base, const void *word, bool now_held)
{
	struct shmg__claim_name s = shmg__claims_name(fd, base, word);
	return note(&s, now_held, fd, base, word);
}

int shmg__claims_note_slot(const struct shmg__claim_name *name, int fd, const void *base,
			   const void *word)
{
	return note(name, true, fd, base, word);
}

int shmg__claims_note_name(const struct shmg__claim_name *name, bool now_held)
{
	return note(name, now_held, -1, NULL, NULL);
}
