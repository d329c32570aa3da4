/*
 * wflag_repin.pml: a pinning reader that unpins and pins again
 * (lib/wflag_pin.c: shmg_wflag_unpin, then shmg_wflag_pin; the writer's
 * shmg__wflag_pick), doc/pin.md. The reader's loads of the copy it held
 * (made through the pointer after shmg_wflag_pin returned, before the
 * unpin in program order) must be done before the writer rewrites that
 * copy.
 *
 * What the languages promise: the unpin is a release store, and a writer
 * whose acquire load reads it synchronizes with it (C11 7.17.3). But the
 * writer may instead read the next pin's announcement, stored after the
 * unpin to the same word. C11 and C17 (5.1.2.4) count later stores of the
 * same thread in the unpin's release sequence, so reading the announcement
 * would synchronize with the unpin; C++20 (P0982R1) keeps only
 * read-modify-writes there, so under its model reading a plain store after
 * the unpin synchronizes with nothing unless that store is itself a
 * release, and the reader's loads of the old copy race with the writer's
 * rewrite. Under that model a compiler could even merge the unpin into the
 * announcement (nobody is promised to see the unpin; the acquire loads
 * between them may move above a release store), leaving the copy's loads
 * free to move after the relaxed store. A release announcement holds under
 * both.
 *
 * Weak memory, operationally, for the reader only:
 *   - a store enters a one-entry buffer for the pin word and reaches memory
 *     later; a store into a full buffer merges with it (the newer value,
 *     and the newer store's ordering: a release merged into a relaxed
 *     store leaves a relaxed one);
 *   - the load of the copy is issued when the program makes it and
 *     performed at any later time (it reads memory when performed);
 *   - a buffered release store reaches memory only after every load issued
 *     before it is performed (load->store order); a relaxed one at any
 *     time (load->store reordering);
 *   - a seq_cst fence waits until the buffer is empty and every load is
 *     performed.
 * The reader's index and sequence loads are performed in program order and
 * the writer is sequentially consistent: their reorderings are the Dekker
 * part, checked with store buffers in wflag_pin.pml.
 *
 * Two copies, a sequence word and a data word each (the frame number
 * written into it). Copy 0 holds frame 1, the index names it. The writer
 * writes frames 2..4 and drops a frame whose candidate is pinned.
 *   writer, frame f:  n = index; c = 1 - n; was = seq[c]; seq[c] = 0;
 *                     p = pin; if p == c + 1: seq[c] = was, drop
 *                     else: d[c] = f; seq[c] = f; index = c
 *   reader, two rounds:  i = index; q1 = seq[i]; q1 == 0: skip the round
 *                        pin = i + 1 (release); FENCE(seq_cst); q2 = seq[i]
 *                        q2 == q1: load d[i], which must be q1 when performed
 *                        pin = 0 (release)
 *
 * Mutants (each must make the assertion fail):
 *   RELAXED_ANNOUNCE  the announcement a relaxed store: the code before
 *                     issue 18
 *   RELAXED_UNPIN     the unpin a relaxed store
 *   NO_READER_FENCE   the seq_cst fence after the announcement removed (the
 *                     Dekker part: the writer misses the new pin)
 * Variant that verifies:
 *   RELAXED_ANNOUNCE_NO_MERGE  the relaxed announcement with stores that
 *                     never merge: the race needs the language's freedom,
 *                     which in-order per-word store buffers do not use
 */

#ifdef RELAXED_ANNOUNCE_NO_MERGE
#define RELAXED_ANNOUNCE
#define NO_MERGE
#endif

#define ROUNDS 2

#define IDX 0
#define SEQ(c) (1 + (c))
#define DAT(c) (3 + (c))
#define PIN 5

byte mem[6];

/* the reader's pin-word buffer */
bool bfull;
byte bval;
bool brel;
/* the reader's load of the copy: issued, not yet performed */
bool lpend;
byte laddr;
byte lwant;

inline store_pin(v, rel)
{
#ifdef NO_MERGE
	!bfull;
#endif
	d_step { bval = v; brel = rel; bfull = true }
}

inline fence_seq_cst()
{
	!bfull && !lpend
}

/* The reader's memory system: buffered stores drain, issued loads are
 * performed, in any order the rules allow. */
proctype reader_memory()
{
end:
	do
	:: d_step { bfull && (!brel || !lpend) -> mem[PIN] = bval; bfull = false }
	:: d_step { lpend -> assert(mem[laddr] == lwant); lpend = false }
	od
}

proctype writer()
{
	byte f, n, c, was;
	f = 2;
	do
	:: f > 4 -> break
	:: else ->
		atomic { n = mem[IDX]; c = 1 - n; was = mem[SEQ(c)] };
		mem[SEQ(c)] = 0;
		if
		:: mem[PIN] == c + 1 -> mem[SEQ(c)] = was /* untouched: drop */
		:: else ->
			mem[DAT(c)] = f;
			mem[SEQ(c)] = f;
			mem[IDX] = c
		fi;
		f++
	od
}

proctype reader()
{
	byte round, i, q1, q2;
	round = 0;
	do
	:: round == ROUNDS -> break
	:: else ->
		i = mem[IDX];
		q1 = mem[SEQ(i)];
		if
		:: q1 == 0 -> skip /* lapped: give up this round */
		:: else ->
#ifdef RELAXED_ANNOUNCE
			store_pin(i + 1, false);
#else
			store_pin(i + 1, true);
#endif
#ifndef NO_READER_FENCE
			fence_seq_cst();
#endif
			q2 = mem[SEQ(i)];
			if
			:: q2 == q1 ->
				/* pinned: read the copy in place */
				d_step { laddr = DAT(i); lwant = q1; lpend = true }
			:: else -> skip
			fi;
#ifdef RELAXED_UNPIN
			store_pin(0, false)
#else
			store_pin(0, true)
#endif
		fi;
		round++
	od
}

init {
	atomic {
		mem[IDX] = 0;
		mem[SEQ(0)] = 1;
		mem[DAT(0)] = 1;
		run reader_memory();
		run writer();
		run reader()
	}
}
