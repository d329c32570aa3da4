/*
 * wflag_wake.pml: the write-flag guard's sleep/wake handshake (lib/wflag.c
 * wake_sleepers, lib/wflag_read.c wflag_wait): no lost wake-up, with two
 * sleepers.
 *
 * The futex word is the mark's aligned 4-byte word; it holds the mark byte
 * and the waiters byte (ImageStreamIO: `write` and the padding byte after
 * it), modelled as two bytes that the sleeper's relaxed 4-byte load `seen`
 * reads together and the kernel compares together.
 *
 * Weak memory: what breaks a Dekker handshake without fences is store
 * buffering, so every process has a FIFO store buffer (TSO, as x86): a
 * store enters the buffer, a separate process drains buffers to memory in
 * order at any time, a load reads the newest entry for its address in its
 * own buffer, else memory. A seq_cst fence waits until its process's buffer
 * is empty; an atomic RMW is performed in memory with an empty buffer.
 *
 * futex_wait and futex_wake as Linux implements them: each enters the
 * kernel through a full barrier (the caller's buffer drains), futex_wait
 * compares the word with the expected value and queues the caller
 * atomically with respect to futex_wake (the hash-bucket lock), and
 * futex_wake unblocks every queued sleeper. No timeout: wflag_wait's
 * liveness probe would turn a lost wake-up into a delay; the model shows
 * none is needed.
 *
 * The waiters byte: bit 0 = a reader sleeps or is about to; bits 1-7 = a
 * generation, advanced by every wake-up.
 * Writer (one frame; mark = 1 first, so the word goes 0 -> 1 -> 0):
 *   begin:   mark = 1 (relaxed); release fence (nothing to do on TSO)
 *   publish: counter = 1 (release); mark = 0 (release)
 *   wake:    FENCE(seq_cst); w = waiters (relaxed);
 *            if w & 1: waiters = next generation, bit 0 clear; futex_wake
 * Sleeper (wflag_wait for an update after 0, past its spinning phase):
 *   loop { if counter > 0 (acquire): done;
 *          mine = waiters; if !(mine & 1): mine = atomic OR(waiters, 1);
 *          FENCE(seq_cst); if counter > 0 (acquire): done;
 *          seen = word (relaxed); if seen's waiters byte != mine: loop;
 *          futex_wait(word, seen) }
 * Property: no sleeper stays blocked for ever (a sleeper blocked when every
 * other process has ended is an invalid end state, which spin reports).
 *
 * Why the generation: without it (mutant NO_GENERATION, the first version
 * of lib/wflag_read.c, found by this model) a sleeper that announces after
 * the writer's clear and then finds the frame leaves its announcement
 * behind, which restores the very word another sleeper read as `seen`
 * before the clear (ABA): that sleeper blocks and nobody wakes it. With
 * it, a late announcement carries the new generation, and a sleeper whose
 * `seen` is not the byte it announced looks again. The generation wraps
 * after 128 wake-ups: a sleeper descheduled across 128 of them between its
 * announcement and futex_wait could still be fooled, and then sleeps until
 * the next publish (which its announcement still asks for) or its probe.
 *
 * Mutants (each must leave a sleeper blocked):
 *   NO_SLEEPER_FENCE   the sleeper's seq_cst fence removed
 *   NO_WRITER_FENCE    the writer's seq_cst fence removed
 *   NO_RECHECK         the sleeper sleeps on `seen` without comparing its
 *                      waiters byte with its own announcement
 *   NO_CLEAR           the writer wakes without advancing the byte
 *   WAKE_BEFORE_CLEAR  the writer wakes, then advances the byte
 *   NO_GENERATION      clear to 0 and check bit 0 only (two sleepers: ABA)
 *   KERNEL_NO_MB       (an assumption, not the code) futex_wake without
 *                      the kernel's barrier
 * ONE_SLEEPER runs the protocol with one sleeper (also verifies).
 */

#ifdef ONE_SLEEPER
#define NSLEEP 1
#else
#define NSLEEP 2
#endif
#define NP (NSLEEP + 1) /* process 0 is the writer, 1 .. NSLEEP sleep */
#define CAP 4           /* store buffer entries per process */

/* addresses */
#define MARK 0
#define WAITERS 1 /* MARK and WAITERS: the futex word */
#define CNT 2

byte mem[3];

/* the store buffers: entries p * CAP .. p * CAP + blen[p] - 1, oldest first */
byte baddr[NP * CAP];
byte bval[NP * CAP];
byte blen[NP];

bool asleep[NP]; /* queued in futex_wait */

inline store(p, a, v)
{
	d_step {
		blen[p] < CAP ->
		baddr[p * CAP + blen[p]] = a;
		bval[p * CAP + blen[p]] = v;
		blen[p]++
	}
}

/* r = the newest value of address a this process sees */
inline load(p, a, r)
{
	d_step {
		r = mem[a];
		k = 0;
		do
		:: k < blen[p] ->
			if
			:: baddr[p * CAP + k] == a -> r = bval[p * CAP + k]
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		k = 0
	}
}

/* the futex word in one load: both bytes at the same instant */
inline load_word(p, m, w)
{
	d_step {
		m = mem[MARK];
		w = mem[WAITERS];
		k = 0;
		do
		:: k < blen[p] ->
			if
			:: baddr[p * CAP + k] == MARK -> m = bval[p * CAP + k]
			:: baddr[p * CAP + k] == WAITERS -> w = bval[p * CAP + k]
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		k = 0
	}
}

/* seq_cst fence (and the kernel's full barrier): the buffer drains */
inline fence(p)
{
	blen[p] == 0
}

inline futex_wait(p, m, w)
{
	fence(p);
	d_step {
		if
		:: mem[MARK] == m && mem[WAITERS] == w -> asleep[p] = 1
		:: else -> skip /* EAGAIN */
		fi
	};
	asleep[p] == 0 /* blocked until a wake */
}

inline futex_wake(p)
{
#ifndef KERNEL_NO_MB
	fence(p);
#endif
	d_step {
		k = 1;
		do
		:: k <= NSLEEP -> asleep[k] = 0; k++
		:: else -> break
		od;
		k = 0
	}
}

/* drains process p's store buffer to memory, oldest entry first */
proctype drain(byte p)
{
	byte k;
end:
	do
	:: d_step {
		blen[p] > 0 ->
		mem[baddr[p * CAP]] = bval[p * CAP];
		k = 0;
		do
		:: k + 1 < blen[p] ->
			baddr[p * CAP + k] = baddr[p * CAP + k + 1];
			bval[p * CAP + k] = bval[p * CAP + k + 1];
			k++
		:: else -> break
		od;
		blen[p]--;
		baddr[p * CAP + blen[p]] = 0;
		bval[p * CAP + blen[p]] = 0;
		k = 0
	   }
	od
}

proctype writer()
{
	byte w, k;
	/* shmg_wflag_begin: mark = 1, release fence (in order on TSO) */
	store(0, MARK, 1);
	/* shmg_wflag_publish */
	store(0, CNT, 1);
	store(0, MARK, 0);
	/* wake_sleepers */
#ifndef NO_WRITER_FENCE
	fence(0);
#endif
	load(0, WAITERS, w);
#ifndef NO_GENERATION
	if
	:: (w & 1) != 0 ->
#if defined(WAKE_BEFORE_CLEAR)
		futex_wake(0);
		store(0, WAITERS, (w + 2) & 254)
#elif defined(NO_CLEAR)
		futex_wake(0)
#else
		store(0, WAITERS, (w + 2) & 254); /* next generation, bit 0 clear */
		futex_wake(0)
#endif
	:: else -> skip
	fi
#else
	if
	:: w != 0 ->
#if defined(WAKE_BEFORE_CLEAR)
		futex_wake(0);
		store(0, WAITERS, 0)
#elif defined(NO_CLEAR)
		futex_wake(0)
#else
		store(0, WAITERS, 0);
		futex_wake(0)
#endif
	:: else -> skip
	fi
#endif
}

proctype sleeper(byte p)
{
	byte c, wt, sm, sw, k;
#ifndef NO_GENERATION
	byte mine; /* the waiters byte as this sleeper announced it */
#endif
	do
	:: load(p, CNT, c);
		if
		:: c > 0 -> break
		:: else -> skip
		fi;
		load(p, WAITERS, wt);
#ifndef NO_GENERATION
		if
		:: (wt & 1) == 0 ->
#ifdef NO_SLEEPER_FENCE
			/* the OR is relaxed in C: only the seq_cst fence orders
			 * it before the counter load (x86's locked OR would,
			 * aarch64's LDSET does not); as a buffered store */
			d_step { mine = mem[WAITERS] | 1 };
			store(p, WAITERS, mine)
#else
			/* atomic OR, performed in memory */
			fence(p);
			d_step { mine = mem[WAITERS] | 1; mem[WAITERS] = mine }
#endif
		:: else -> mine = wt
		fi;
#else
		if
		:: wt == 0 -> store(p, WAITERS, 1)
		:: else -> skip
		fi;
#endif
#ifndef NO_SLEEPER_FENCE
		fence(p);
#endif
		load(p, CNT, c);
		if
		:: c > 0 -> break
		:: else -> skip
		fi;
		load_word(p, sm, sw);
#if defined(NO_RECHECK)
		futex_wait(p, sm, sw)
#elif !defined(NO_GENERATION)
		if
		:: sw != mine -> skip /* a publish moved the generation: look again */
		:: else -> futex_wait(p, sm, sw)
		fi
#else
		if
		:: (sw & 1) == 0 -> skip /* cleared since the announcement: look again */
		:: else -> futex_wait(p, sm, sw)
		fi
#endif
	od
	/* done: the sleeper saw the frame */
}

init {
	byte p;
	atomic {
		p = 0;
		do
		:: p == NP -> break
		:: else -> run drain(p); p++
		od;
		run writer();
		p = 1;
		do
		:: p > NSLEEP -> break
		:: else -> run sleeper(p); p++
		od
	}
}
