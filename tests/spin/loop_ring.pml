/*
 * loop_ring.pml: the timing ring of doc/loop.md ("Timing rings"): the loop
 * writes iteration k's entry (two words: seconds and nanoseconds) into slot
 * k mod R after a release fence, then the sequence word = k (release); a
 * monitor reads the sequence word (acquire), copies every slot (relaxed),
 * issues an acquire fence, reads the sequence word again, and keeps the
 * entries at distances 0 .. R - 2 - d back from its first read (d: how far
 * the sequence moved). Each kept entry must be whole and its iteration's.
 *
 * Weak memory as in seqlock.pml: stores and loads are events performed in
 * any order allowed by the "must come after" edges of the orderings used
 * (coherence, release store, release fence, acquire load, acquire fence).
 * R = 2 slots (the library has 100; the argument does not depend on R),
 * iterations 1 .. 3: the writer laps the ring while the monitor reads.
 *
 * Mutants (each must make the assertion fail):
 *   NO_WRITER_FENCE   the release fence before the entry's stores removed
 *   NO_READER_FENCE   the acquire fence after the copy removed
 *   RELAXED_FIRST     the first read of the sequence word relaxed
 *   KEEP_ALL          every slot kept, whatever the sequence did
 */

#define R 2
#define ITER 3
#define NS 9  /* 3 stores per iteration: sec, nsec, seq */
#define NL 6  /* seq, 2 words x 2 slots, seq */

#define SEQ 4 /* addresses: slot s: sec at 2s, nsec at 2s + 1 */

byte mem[5];

byte saddr[NS];
byte sval[NS];
int spred[NS];

byte laddr[NL];
int lpred[NL];
byte lval[NL];

#define SAFTER(i, j) spred[i] = spred[i] | (1 << (j))
#define LAFTER(i, j) lpred[i] = lpred[i] | (1 << (j))

proctype writer()
{
	int done = 0;
	byte i;
	do
	:: done == (1 << NS) - 1 -> break
	:: else ->
		atomic {
			select(i : 0 .. NS - 1);
			if
			:: (done & (1 << i)) == 0 && (spred[i] & done) == spred[i] ->
				mem[saddr[i]] = sval[i];
				done = done | (1 << i)
			:: else -> skip
			fi
		}
	od
}

proctype reader()
{
	int done = 0;
	byte j, s1, s2, d, keep, i, it, slot;
	do
	:: done == (1 << NL) - 1 -> break
	:: else ->
		atomic {
			select(j : 0 .. NL - 1);
			if
			:: (done & (1 << j)) == 0 && (lpred[j] & done) == lpred[j] ->
				lval[j] = mem[laddr[j]];
				done = done | (1 << j)
			:: else -> skip
			fi
		}
	od;
	atomic {
		s1 = lval[0];
		s2 = lval[NL - 1];
		d = s2 - s1;
#ifdef KEEP_ALL
		keep = R;
#else
		if
		:: d > R - 2 -> keep = 0
		:: else -> keep = R - 1 - d
		fi;
#endif
		if :: keep > s1 -> keep = s1 :: else -> skip fi;
		i = 0;
		do
		:: i == keep -> break
		:: else ->
			it = s1 - i;
			slot = it % R;
			/* loads 1 + 2 slot (sec) and 2 + 2 slot (nsec) */
			assert(lval[1 + 2 * slot] == it && lval[2 + 2 * slot] == it);
			i++
		od
	}
}

init {
	byte k, i, j, base;
	atomic {
		k = 1;
		do
		:: k > ITER -> break
		:: else ->
			base = (k - 1) * 3;
			saddr[base + 0] = 2 * (k % R);     sval[base + 0] = k;
			saddr[base + 1] = 2 * (k % R) + 1; sval[base + 1] = k;
			saddr[base + 2] = SEQ;             sval[base + 2] = k;
			k++
		od;
		/* coherence: same address in program order */
		i = 0;
		do
		:: i == NS -> break
		:: else ->
			j = 0;
			do
			:: j == i -> break
			:: else ->
				if :: saddr[j] == saddr[i] -> SAFTER(i, j) :: else -> skip fi;
				j++
			od;
			i++
		od;
		/* the sequence word: a release store, after every earlier store */
		k = 0;
		do
		:: k == ITER -> break
		:: else ->
			base = k * 3;
			j = 0;
			do :: j == base + 2 -> break :: else -> SAFTER(base + 2, j); j++ od;
			k++
		od;
#ifndef NO_WRITER_FENCE
		/* the release fence before each entry: every later store after
		 * every earlier one */
		k = 1;
		do
		:: k == ITER -> break
		:: else ->
			base = k * 3;
			i = base;
			do
			:: i == NS -> break
			:: else ->
				j = 0;
				do :: j == base -> break :: else -> SAFTER(i, j); j++ od;
				i++
			od;
			k++
		od;
#endif
		/* the reader's program: seq, the six words, seq */
		laddr[0] = SEQ;
		i = 1; do :: i == NL - 1 -> break :: else -> laddr[i] = i - 1; i++ od;
		laddr[NL - 1] = SEQ;
		LAFTER(NL - 1, 0); /* coherence of the two reads of seq */
#ifndef RELAXED_FIRST
		i = 1; do :: i == NL -> break :: else -> LAFTER(i, 0); i++ od;
#endif
#ifndef NO_READER_FENCE
		i = 1; do :: i == NL - 1 -> break :: else -> LAFTER(NL - 1, i); i++ od;
#endif
		run writer();
		run reader()
	}
}
