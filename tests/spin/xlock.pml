/*
 * xlock.pml: the exclusive lock's word protocol (lib/xlock.c).
 *
 * The word holds the owner's id (0 = free), a WAITERS bit and an
 * INCONSISTENT bit; the futex is modelled faithfully: futex_wait blocks
 * only if the word still equals the value the sleeper saw, and wake(1)
 * unblocks one sleeper. Every word operation the C code does with one
 * atomic instruction (CAS, exchange) is one atomic step here; every plain
 * load is its own step, so all interleavings between them are explored.
 * The word operations are sequentially consistent on x86 and acquire/
 * release elsewhere: the ordering of the protected data is the acquire
 * CAS / release exchange pairing, a cited rule (C11 7.17.3), not modelled.
 *
 * Processes: three lockers (ids 1-3), each taking the lock ROUNDS times
 * (sleeping when it is held; three, so that two can sleep at once), and a
 * fourth process (id 4) that takes the lock and dies holding it. A sleeper may time out (its liveness probe)
 * only while the owner named in the word is dead: a lost wake-up can then
 * not hide behind a timeout, and shows as a process blocked forever
 * (spin: invalid end state).
 *
 * Checked: mutual exclusion (assert), one winner when the dead owner's
 * lock is taken (the same assert), no sleeper left blocked (end states),
 * every locker finishes.
 *
 * Mutants (each must be rejected):
 *   LOST_WAITER_BIT  unlock reads the word, then stores 0 (not one
 *                    exchange): a waiter's announcement between the two is
 *                    lost, and with it the wake-up
 *   NONCAS_STEAL     a dead owner's lock is taken by a plain store, not a
 *                    CAS from the dead value: two takers both get it
 *   NO_WAITERS_AFTER_SLEEP  a woken sleeper takes the lock without setting
 *                    WAITERS again: the other sleepers are never woken
 */

#define ROUNDS 1
#define ID 7      /* bits 0-2: owner id */
#define W 8       /* WAITERS */
#define INC 16    /* INCONSISTENT */

byte word = 0;
bit dead[5];
bit asleep[5];
byte inside = 0;  /* processes in the critical section */
byte finished = 0;

inline futex_wait(me, seen) {
	atomic {
		if
		:: word == seen -> asleep[me] = 1
		:: else -> skip /* EAGAIN */
		fi
	}
	do
	:: atomic { asleep[me] == 0 -> break }
	/* the probe timeout: only while the word names a dead owner */
	:: atomic { asleep[me] == 1 && (word & ID) != 0 && dead[word & ID] ->
		asleep[me] = 0; break }
	od
}

inline futex_wake_one() {
	atomic {
		if
		:: asleep[1] -> asleep[1] = 0
		:: asleep[2] -> asleep[2] = 0
		:: asleep[3] -> asleep[3] = 0
		:: else -> skip
		fi
	}
}

proctype locker(byte me)
{
	byte v, old, round = 0;
	bit slept, stolen;
	do
	:: round == ROUNDS -> break
	:: else ->
		slept = 0;
		stolen = 0;
		/* lock */
		do
		:: atomic {
			word == 0 ->
#ifdef NO_WAITERS_AFTER_SLEEP
			word = me;
#else
			word = me | (slept -> W : 0);
#endif
			break
		   }
		:: else ->
			v = word; /* a plain load */
			if
			:: v == 0 -> skip /* freed meanwhile: try the CAS again */
			:: v != 0 && dead[v & ID] ->
				/* the owner is dead: take it from that value */
#ifdef NONCAS_STEAL
				word = me | INC | W;
				stolen = 1;
				break
#else
				atomic {
					if
					:: word == v -> word = me | INC | W; stolen = 1; break
					:: else -> skip
					fi
				}
#endif
			:: v != 0 && !dead[v & ID] ->
				/* announce (CAS), then sleep on what was seen */
				atomic {
					if
					:: word == v -> word = v | W; v = v | W
					:: else -> v = 255 /* changed: look again */
					fi
				}
				if
				:: v != 255 -> futex_wait(me, v); slept = 1
				:: else -> skip
				fi
			fi
		od;
		/* critical section */
		inside++;
		assert(inside == 1);
		inside--;
		if
		:: stolen -> atomic { word = word & ~INC } /* consistent() */
		:: else -> skip
		fi;
		/* unlock */
#ifdef LOST_WAITER_BIT
		old = word;
		word = 0;
#else
		atomic { old = word; word = 0 } /* exchange */
#endif
		if
		:: old & W -> futex_wake_one()
		:: else -> skip
		fi;
		round++
	od;
	finished++
}

/* Takes the lock when it is free, then dies holding it. */
proctype dier()
{
	atomic { word == 0 -> word = 4 };
	dead[4] = 1
}

init {
	atomic {
		run locker(1);
		run locker(2);
		run locker(3);
		run dier()
	}
}
