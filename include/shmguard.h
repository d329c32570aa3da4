/*
 * shmguard.h: everything shmguard offers, in one include.
 *
 * Layers, bottom up (one header each under shmguard/):
 *   atomic.h  atomic operations on plain objects (os_atomic style)
 *   memcpy.h  byte-wise atomic memcpy (WG21 P1478), for seqlock payloads
 *   region.h  mapped segments and checked guard placement
 *   proc.h    process identity and liveness (owner-death detection)
 *   wait.h    bounded spin-then-futex waiting with monotonic deadlines
 *   wflag.h   write-flag guard: one writer, snapshot readers (seqlock, latch)
 *   isio.h    ImageStreamIO stream files, guarded, byte-for-byte compatible
 *   xlock.h   exclusive lock in one existing word, with owner-death recovery
 *   milk.h    milk PINFO and FPS files: lossless commands, status, parameters
 *   loop.h    milk's processing loop: triggers, commands, timing in PINFO
 *   error.h   return codes and shmg_strerror()
 */
#ifndef SHMGUARD_H
#define SHMGUARD_H

#include <shmguard/common.h>
#include <shmguard/error.h>
#include <shmguard/atomic.h>
#include <shmguard/memcpy.h>
#include <shmguard/region.h>
#include <shmguard/proc.h>
#include <shmguard/wait.h>
#include <shmguard/wflag.h>
#include <shmguard/isio.h>
#include <shmguard/xlock.h>
#include <shmguard/milk.h>
#include <shmguard/loop.h>

#endif /* SHMGUARD_H */
