/*
 * wflag_wake_nowaiters.pml: the write-flag guard's sleep/wake handshake
 * without a waiters byte (placement waiters = SHMG_WFLAG_NONE; issue 15,
 * item 1): no lost wake-up, with two sleepers and two frames.
 *
 * The bug: without a waiters byte the futex word is the mark's aligned
 * 4-byte word, the mark byte and three bytes the guard does not own
 * (modelled as the mark alone: they never change here), and the writer
 * does FUTEX_WAKE after every publish. A whole frame (mark 0 -> 1 -> 0,
 * counter + 1) leaves that word as it was. A sleeper that finds the
 * counter unchanged and then reads the word can have a whole frame, its
 * wake included (which finds nobody queued), fall between the two, and
 * then sleeps on an unchanged word until the next frame, or for ever
 * after the last one. Mutant MARK_WORD (today's code) is rejected, and
 * MARK_WORD_SC shows it needs no weak memory.
 *
 * The fix, for waiting for an update: the futex word is the counter's
 * low 32-bit half (the aligned 4-byte word of the 64-bit counter that
 * holds its low bits: offset 0 little-endian, 4 big-endian), which every
 * publish changes. The sleeper reads it before it re-checks the counter,
 * so a publish between the two makes futex_wait fail with EAGAIN. The
 * writer wakes that word, unconditionally (nobody announces), after its
 * counter store and mark clear. The counter stays below 2^32 here, so its
 * low word is its value; in C the low word repeats after 2^32 publishes,
 * and a sleeper descheduled across exactly a multiple of 2^32 of them
 * between its read and futex_wait would sleep until the next publish.
 *
 * Waiting for idle (mark clear) cannot use the counter's word
 * (IDLE_ON_COUNTER, rejected): publish stores the counter before it
 * clears the mark (tests/spin/seqlock.pml PUBLISH_SWAPPED), so a sleeper
 * can read the new counter and the still-set mark, and the clear and the
 * wake then fall before its futex_wait, which finds the word unchanged
 * (sequential consistency is enough). shmg_wflag_abort clears the mark
 * with no counter change at all: the same hole, with no window needed.
 * What verifies: an idle sleeper reads the mark's word (acquire) and is
 * done if the word's mark byte is clear, else sleeps on that word; the
 * writer wakes the mark's word after every mark clear (publish and
 * abort), besides the counter's word after publish: two futex_wake calls
 * per publish without a waiters byte. The word's own mark byte is the
 * re-check: a separate load of the mark after the word (IDLE_RECHECK_MARK,
 * rejected) can see a new frame's mark = 1 while the word read shows the
 * clear, and then sleeps on a clear word (ABA 1 -> 0 -> 1 -> 0). Slept on
 * with its mark set, the word can only come back through a new frame's
 * mark = 1, and the end of that frame wakes the sleeper: a transient idle
 * may be missed, a wake-up is not lost.
 *
 * Weak memory and the futex as in wflag_wake.pml: the writer has a FIFO
 * store buffer (TSO, as x86) drained to memory at any time by a separate
 * process; a load reads its own newest buffered store, else memory; a
 * seq_cst fence or a kernel entry waits until the buffer is empty.
 * futex_wait enters the kernel through a full barrier, then compares the
 * word with the expected value and queues the caller atomically with
 * respect to futex_wake (the hash-bucket lock); futex_wake enters through
 * a full barrier and unblocks every sleeper queued on its word. No
 * timeout: wflag_wait's liveness probe would turn a lost wake-up into a
 * delay; the model shows none is needed.
 *
 * No user-space fence is needed on either side, unlike the Dekker
 * handshake of wflag_wake.pml, so there is no fence mutant. The sleepers
 * store nothing: there is no announcement to order before a load (a
 * seq_cst fence in a sleeper would be a no-op, it has no store buffer
 * here). The writer's store and the sleeper's compare are on the same
 * word, so no order between two addresses is involved: the kernel's
 * barrier in futex_wake puts the store in memory before the wake looks
 * at the queue (KERNEL_NO_MB, rejected), and the compare and queue are
 * atomic with the wake, so either the compare sees the new value (EAGAIN)
 * or the sleeper is queued when the wake looks. The writer's seq_cst
 * fence of wake_sleepers serves its load of the waiters byte and has no
 * part here. The sleeper's two reads (the word, then the counter or the
 * mark) are of overlapping locations (the word holds the counter's low
 * half), so coherence keeps them in order on any machine: what it checks
 * is no older than the word it sleeps on. The model reads one variable
 * for both.
 *
 * Writer (FRAMES = 2 frames; mark = 1 first, frame k stores counter k):
 *   begin:   mark = 1 (relaxed); release fence (nothing to do on TSO)
 *   publish: counter = k (release); mark = 0 (release);
 *            futex_wake(counter's low word); [IDLE:] futex_wake(mark's word)
 *   abort (ABORT, after the frames): mark = 1; mark = 0 (release);
 *            futex_wake(mark's word) (the counter's word too in C: a
 *            shared wake_sleepers; it has no sleeper to wake here)
 * Sleeper waiting for an update after `after`, past its spinning phase:
 *   loop { if counter > after (acquire): done;
 *          seen = counter's low word (relaxed);
 *          if counter > after (acquire): done;
 *          futex_wait(counter's low word, seen) }
 * Sleeper waiting for idle (IDLE):
 *   loop { if mark == 0 (acquire): done;
 *          seen = mark's word (acquire); if seen's mark == 0: done;
 *          futex_wait(mark's word, seen) }
 * Each sleeper waits for an update after 0, then for one after 1; with
 * IDLE the second sleeper waits for idle twice instead.
 * Property: no sleeper stays blocked for ever (a sleeper blocked when every
 * other process has ended is an invalid end state, which spin reports).
 *
 * Cases (the protocol and IDLE, IDLE_ABORT verify; every mutant must
 * leave a sleeper blocked):
 *   IDLE                 the second sleeper waits for idle
 *   IDLE_ABORT           IDLE, and the writer then aborts a third frame
 *   MARK_WORD            sleep on the mark's word, read after the counter
 *                        check (today's code; reading it before the check
 *                        fails as well: the word does not change)
 *   MARK_WORD_SC         the same with no store buffer (sequential
 *                        consistency): the bug is not one of weak memory
 *   LOAD_AFTER_CHECK     the counter's word read after the counter check
 *   NO_WAKE              no futex_wake after publish
 *   WAKE_BEFORE_COUNTER  the wake before the counter store
 *   KERNEL_NO_MB         (an assumption, not the code) futex_wake without
 *                        the kernel's barrier
 * With the idle sleeper (IDLE):
 *   IDLE_ON_COUNTER      idle sleepers on the counter's word, the writer
 *                        wakes only that word (the fix as first proposed)
 *   IDLE_RECHECK_MARK    the mark re-checked by a separate load after the
 *                        word is read, not in the word read
 *   IDLE_LOAD_AFTER_CHECK the mark's word read after the mark check
 *   NO_MARK_WAKE         publish does not wake the mark's word
 *   WAKE_BEFORE_MARK     publish wakes both words between its counter
 *                        store and its mark clear
 *   ABORT_WAKES_COUNTER  IDLE_ABORT, but abort wakes the counter's word
 *                        (as publish), not the mark's
 */

/* the named cases */
#ifdef MARK_WORD_SC
#define MARK_WORD
#define SC
#endif
#ifdef IDLE_ABORT
#define IDLE
#define ABORT
#endif
#ifdef IDLE_ON_COUNTER
#define IDLE
#endif
#ifdef IDLE_LOAD_AFTER_CHECK
#define IDLE
#endif
#ifdef NO_MARK_WAKE
#define IDLE
#endif
#ifdef WAKE_BEFORE_MARK
#define IDLE
#endif
#ifdef IDLE_RECHECK_MARK
#define IDLE
#endif
#ifdef ABORT_WAKES_COUNTER
#define IDLE
#define ABORT
#endif

#define FRAMES 2
#define NSLEEP 2
#define NP (NSLEEP + 1) /* process 0 is the writer, 1 .. NSLEEP sleep */
#define CAP 4           /* store buffer entries (the writer's) */

/* addresses: each is its own futex word */
#define MARK 0 /* the mark's word (its other bytes never change) */
#define CNT 1  /* the counter; its low word is the counter here */

byte mem[2];

/* the writer's store buffer, oldest entry first (sleepers store nothing) */
byte baddr[CAP];
byte bval[CAP];
byte blen;

byte asleep[NP]; /* 0: not queued; a + 1: queued in futex_wait on a */

inline store(a, v)
{
#ifdef SC
	mem[a] = v
#else
	d_step {
		blen < CAP ->
		baddr[blen] = a;
		bval[blen] = v;
		blen++
	}
#endif
}

/* the writer's seq_cst fence (and the kernel's full barrier) */
inline fence()
{
	blen == 0
}

/* a sleeper's load: it has no buffer, it reads memory */
inline load(a, r)
{
	r = mem[a]
}

/* futex_wait by a sleeper: the kernel's barrier is a no-op (no buffer) */
inline futex_wait(p, a, v)
{
	d_step {
		if
		:: mem[a] == v -> asleep[p] = a + 1
		:: else -> skip /* EAGAIN */
		fi
	};
	asleep[p] == 0 /* blocked until a wake */
}

/* futex_wake by the writer: every sleeper queued on a */
inline futex_wake(a)
{
#ifndef KERNEL_NO_MB
	fence();
#endif
	d_step {
		k = 1;
		do
		:: k <= NSLEEP ->
			if
			:: asleep[k] == a + 1 -> asleep[k] = 0
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		k = 0
	}
}

/* the wake after publish */
inline wake_published()
{
#if defined(MARK_WORD)
	futex_wake(MARK)
#elif defined(IDLE) && !defined(IDLE_ON_COUNTER) && !defined(NO_MARK_WAKE)
	futex_wake(CNT);
	futex_wake(MARK)
#else
	futex_wake(CNT)
#endif
}

/* drains the writer's store buffer to memory, oldest entry first */
proctype drain()
{
	byte k;
end:
	do
	:: d_step {
		blen > 0 ->
		mem[baddr[0]] = bval[0];
		k = 0;
		do
		:: k + 1 < blen ->
			baddr[k] = baddr[k + 1];
			bval[k] = bval[k + 1];
			k++
		:: else -> break
		od;
		blen--;
		baddr[blen] = 0;
		bval[blen] = 0;
		k = 0
	   }
	od
}

proctype writer()
{
	byte f, k;
	f = 1;
	do
	:: f > FRAMES -> break
	:: else ->
		/* shmg_wflag_begin: mark = 1, release fence (in order on TSO) */
		store(MARK, 1);
		/* shmg_wflag_publish */
#if defined(WAKE_BEFORE_COUNTER)
		wake_published();
#endif
		store(CNT, f);
#if defined(WAKE_BEFORE_MARK)
		wake_published();
#endif
		store(MARK, 0);
#if !defined(NO_WAKE) && !defined(WAKE_BEFORE_COUNTER) && !defined(WAKE_BEFORE_MARK)
		wake_published();
#endif
		f++
	od;
#ifdef ABORT
	/* a frame begun, then shmg_wflag_abort: the mark cleared, the
	 * counter unchanged */
	store(MARK, 1);
	store(MARK, 0);
#ifdef ABORT_WAKES_COUNTER
	futex_wake(CNT)
#else
	futex_wake(MARK)
#endif
#endif
}

/* shmg_wflag_wait_update(after) past its spinning phase */
inline wait_update(p, after)
{
	do
	:: load(CNT, c);
		if
		:: c > after -> break
		:: else -> skip
		fi;
		/* the sleeper's seq_cst fence: nothing to order (no store) */
#if defined(MARK_WORD)
		load(CNT, c);
		if
		:: c > after -> break
		:: else -> skip
		fi;
		load(MARK, seen);
		futex_wait(p, MARK, seen)
#elif defined(LOAD_AFTER_CHECK)
		load(CNT, c);
		if
		:: c > after -> break
		:: else -> skip
		fi;
		load(CNT, seen);
		futex_wait(p, CNT, seen)
#else
		load(CNT, seen);
		load(CNT, c);
		if
		:: c > after -> break
		:: else -> skip
		fi;
		futex_wait(p, CNT, seen)
#endif
	od
}

/* shmg_wflag_wait_idle past its spinning phase */
inline wait_idle(p)
{
	do
	:: load(MARK, m);
		if
		:: m == 0 -> break
		:: else -> skip
		fi;
#if defined(IDLE_ON_COUNTER)
		load(CNT, seen);
		load(MARK, m);
		if
		:: m == 0 -> break
		:: else -> skip
		fi;
		futex_wait(p, CNT, seen)
#elif defined(IDLE_LOAD_AFTER_CHECK)
		load(MARK, m);
		if
		:: m == 0 -> break
		:: else -> skip
		fi;
		load(MARK, seen);
		futex_wait(p, MARK, seen)
#elif defined(IDLE_RECHECK_MARK)
		load(MARK, seen);
		load(MARK, m);
		if
		:: m == 0 -> break
		:: else -> skip
		fi;
		futex_wait(p, MARK, seen)
#else
		/* the word read with acquire is the re-check: its mark */
		load(MARK, seen);
		if
		:: seen == 0 -> break
		:: else -> skip
		fi;
		futex_wait(p, MARK, seen)
#endif
	od
}

proctype sleeper(byte p)
{
	byte c, m, seen;
#ifdef IDLE
	if
	:: p == 2 ->
		wait_idle(p);
		c = 0; m = 0; seen = 0;
		wait_idle(p)
	:: else ->
#endif
		wait_update(p, 0);
		c = 0; m = 0; seen = 0;
		wait_update(p, FRAMES - 1)
#ifdef IDLE
	fi
#endif
	/* done: the sleeper saw what it waited for */
}

init {
	byte p;
	atomic {
#ifndef SC
		run drain();
#endif
		run writer();
		p = 1;
		do
		:: p > NSLEEP -> break
		:: else -> run sleeper(p); p++
		od
	}
}
