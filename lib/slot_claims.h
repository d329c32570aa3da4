/*
 * Which slots this process holds (lib/slot_claims.c): the pin slots of a
 * placement, ImageStreamIO's semaphore slots, whose owner word holds the
 * reader's PID, and writer claims (a write flag's owner word, lib/wflag.c).
 *
 * A slot whose owner word holds this process's PID is one of its own
 * claims (another handle's or thread's), or one a dead process with the
 * same PID left: a reader restarted in a PID namespace of its own gets the
 * same PID every time. The segment cannot tell them apart; this process's
 * memory can. A claim takes the second kind, never the first.
 *
 * Slots are named by file and offset (the same slot through two mappings
 * is one; for memory the caller mapped, the file /proc/self/maps says
 * backs it, shared anonymous memory included), or by address for memory
 * no other mapping can share (a private mapping). A forked child
 * holds none of its parent's. Claims and releases run between
 * shmg__claims_begin and shmg__claims_end, so a claim's look at an owner
 * word and its note are one step for the other threads.
 */
#ifndef SHMG_SLOT_CLAIMS_H
#define SHMG_SLOT_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A slot's name: its file and offset, or its address (dev and ino 0). */
struct shmg__claim_name {
	dev_t dev;
	ino_t ino;
	uintptr_t at;
};

void shmg__claims_begin(void);
void shmg__claims_end(void);

/* Does this process hold the slot whose owner word is `word` (in the
 * mapping of file `fd`, -1 for other memory, at `base`)? */
bool shmg__claims_holds(int fd, const void *base, const void *word);

/* Note that it now holds (held) or no longer holds the slot, taking or
 * dropping the slot's lock (lib/pin_lock.h). 0, -ENOMEM (nothing noted),
 * -EAGAIN (nothing noted: another process holds the slot's lock, a live
 * reader whatever its owner word says, or another claim of this process
 * holds the slot), or another error of taking the
 * lock (nothing noted: the file keeps locks, but this process cannot open
 * it again, shmg__pin_lock). */
int shmg__claims_note(int fd, const void *base, const void *word, bool held);

/* The name of the slot whose owner word is `word` (one fstat; for memory
 * the caller mapped, fd -1, one read of /proc/self/maps): a holder
 * that keeps it can forget the slot after its file is closed. */
struct shmg__claim_name shmg__claims_name(int fd, const void *base, const void *word);

/* The same, or -errno when the name cannot be found (fstat failed;
 * /proc/self/maps unreadable, say for want of a descriptor): *out is then
 * left alone. A claim that would take a word holding this process's PID
 * as a dead predecessor's needs it: under another name it would miss
 * another handle's claim. */
int shmg__claims_name_of(int fd, const void *base, const void *word,
			 struct shmg__claim_name *out);

/* shmg__claims_holds and shmg__claims_note by name; a slot noted by name
 * (a writer claim) takes no lock. */
bool shmg__claims_holds_name(const struct shmg__claim_name *s);
int shmg__claims_note_name(const struct shmg__claim_name *s, bool held);

/* Note the reader slot whose owner word is `word` under `name` (from
 * shmg__claims_name_of), taking its lock as shmg__claims_note does. */
int shmg__claims_note_slot(const struct shmg__claim_name *name, int fd, const void *base,
			   const void *word);

#endif /* SHMG_SLOT_CLAIMS_H */
