/*
 * A reader slot's lock (lib/pin_lock.c): an identity for a reader that PID
 * namespaces and PID reuse cannot fool (doc/pin.md, "Readers in other PID
 * namespaces").
 *
 * A reader that claims a slot of a file-backed region takes an open file
 * description lock (F_OFD_SETLK, write) on the one byte of the file where
 * the slot's owner word lies, through a descriptor of its own (opened anew,
 * so that processes sharing the region's open file after a fork do not
 * share the lock), and keeps it until it releases the slot. The kernel
 * drops it when that open file's last descriptor goes, so when the reader
 * dies; and every process that opens the file sees it, whatever PID
 * namespace it runs in. A writer judging a pin asks the kernel
 * (F_OFD_GETLK) instead of looking up a PID that may name nothing, or
 * someone else, in its own namespace. Slot claims keep the descriptors
 * (lib/slot_claims.c); a forked child closes its copies, so the lock goes
 * with the process that claimed.
 */
#ifndef SHMG_PIN_LOCK_H
#define SHMG_PIN_LOCK_H

/* Lock the slot whose owner word is `word`, in the mapping at `base` of
 * file `fd` (mapped from offset 0). The descriptor that holds the lock
 * (close it to unlock); -EAGAIN: another open file holds it (a live
 * reader); -ENOTSUP: fd is -1, or the file keeps no such locks (the slot
 * then goes without one); another negative errno: the file keeps locks,
 * but could not be opened again (-EMFILE, -EACCES, ...: no slot). */
int shmg__pin_lock(int fd, const void *base, const void *word);

/* Does anyone hold the lock of that slot? 1, 0, or -1 (cannot tell: no
 * file, or no locks on it). */
int shmg__pin_lock_held(int fd, const void *base, const void *word);

#endif /* SHMG_PIN_LOCK_H */
