/*
 * wflag_wake.pml: the write-flag guard's sleep/wake handshake (lib/wflag.c
 * wake_sleepers, lib/wflag_read.c wflag_wait): no lost wake-up.
 *
 * The handshake is Dekker's: the writer stores the counter then reads the
 * waiters byte; the sleeper stores the waiters byte then reads the
 * counter. Without a full fence between store and load on each side, both
 * loads can miss the other's store: the store-buffering reordering that
 * even x86 performs. The model gives each process a store buffer (TSO):
 * stores enter it and drain to memory in order at any later time; a load
 * reads the process's own newest buffered store of that address, else
 * memory; a seq_cst fence, a syscall and the end of a process drain it.
 * (Weaker CPUs reorder more; TSO already shows that each fence matters,
 * and C11's seq_cst fence ordering, 7.17.4, is what the C code relies on.)
 *
 * The futex is modelled exactly: futex_wait(seen) sleeps only if memory
 * still holds `seen` in the futex word (mark and waiters byte), and
 * futex_wake wakes every sleeper. There are no timeouts, so a lost
 * wake-up shows as a process blocked forever (spin: invalid end state).
 *
 * Writer (publish, the mark was set by begin):
 *   counter = 1; mark = 0; FENCE(seq_cst); if waiters: waiters = 0; wake
 * Sleeper (wait_update(after = 0)), repeated until it returns:
 *   if counter > 0: return; if !waiters: waiters = 1; FENCE(seq_cst);
 *   if counter > 0: return; seen = (mark, waiters);
 *   if seen has waiters == 0: look again; futex_wait(seen)
 *
 * Mutants (each must leave the sleeper asleep forever):
 *   NO_SLEEPER_FENCE  the sleeper's seq_cst fence removed
 *   NO_WRITER_FENCE   the writer's seq_cst fence removed
 *   NO_RECHECK        the sleeper sleeps on `seen` even when a publish
 *                     already cleared its announcement
 */

#define CNT 0
#define MARK 1
#define WAIT 2

byte mem[3];

/* store buffers: process p's pending stores, oldest first */
#define DEPTH 3
byte baddr[2 * DEPTH];
byte bval[2 * DEPTH];
byte blen[2];

bit asleep;
bit returned;

/* enqueue a store of process p */
inline store(p, a, v) {
	atomic {
		baddr[p * DEPTH + blen[p]] = a;
		bval[p * DEPTH + blen[p]] = v;
		blen[p]++
	}
}

/* load: own newest buffered store of that address, else memory */
inline load(p, a, out) {
	atomic {
		out = mem[a];
		k = 0;
		do
		:: k == blen[p] -> break
		:: else ->
			if :: baddr[p * DEPTH + k] == a -> out = bval[p * DEPTH + k] :: else -> skip fi;
			k++
		od
	}
}

/* a fence (or a syscall): wait until the buffer has drained */
inline fence(p) {
	blen[p] == 0
}

/* memory takes the oldest pending store of process p */
inline drain_one(p) {
	atomic {
		blen[p] > 0 ->
		mem[baddr[p * DEPTH]] = bval[p * DEPTH];
		k = 1;
		do
		:: k == blen[p] -> break
		:: else ->
			baddr[p * DEPTH + k - 1] = baddr[p * DEPTH + k];
			bval[p * DEPTH + k - 1] = bval[p * DEPTH + k];
			k++
		od;
		blen[p]--
	}
}

proctype memory()
{
	byte k;
end:	do
	:: drain_one(0)
	:: drain_one(1)
	od
}

proctype writer()
{
	byte w, k;
	store(0, CNT, 1);
	store(0, MARK, 0);
#ifndef NO_WRITER_FENCE
	fence(0);
#endif
	load(0, WAIT, w);
	if
	:: w != 0 ->
		store(0, WAIT, 0);
		fence(0); /* the futex syscall */
		asleep = 0 /* wake all */
	:: else -> skip
	fi;
	fence(0)
}

proctype sleeper()
{
	byte c, w, m, k;
	do
	:: load(1, CNT, c);
		if
		:: c > 0 -> break
		:: else -> skip
		fi;
		load(1, WAIT, w);
		if :: w == 0 -> store(1, WAIT, 1) :: else -> skip fi;
#ifndef NO_SLEEPER_FENCE
		fence(1);
#endif
		load(1, CNT, c);
		if
		:: c > 0 -> break
		:: else -> skip
		fi;
		/* seen: the futex word as it is now (own stores included) */
		load(1, MARK, m);
		load(1, WAIT, w);
#ifndef NO_RECHECK
		if
		:: w == 0 -> goto again /* cleared by a publish: look again */
		:: else -> skip
		fi;
#endif
		fence(1); /* the futex syscall */
		atomic {
			if
			:: mem[MARK] == m && mem[WAIT] == w -> asleep = 1
			:: else -> skip /* EAGAIN */
			fi
		};
		asleep == 0; /* blocked until woken */
again:		skip
	od;
	returned = 1
}

init {
	atomic {
		mem[MARK] = 1; /* the writer is mid-frame */
		run memory();
		run writer();
		run sleeper()
	}
}
