/*
 * wflag_latch.pml: the write-flag guard's latch (lib/wflag.c begin and
 * publish, lib/wflag_read.c read_latch): n copies of the frame, each with
 * a sequence word (its frame number, 0 while rewritten), and an index of
 * the newest complete copy.
 *
 * Weak memory is modelled as in seqlock.pml (see doc/models.md): every
 * store of the writer and every load of the reader is an event performed
 * in any order allowed by the "must come after" edges of the C11
 * orderings used.
 *
 * Two copies, three frames (so the writer laps a copy). Frame k goes to
 * copy s = k mod 2 (the index starts at 0, the writer writes index + 1):
 *   seq[s] = 0 (relaxed); [mark = 1 (relaxed)]; FENCE(release);
 *   d[s][0] = k; d[s][1] = k (relaxed copy);
 *   seq[s] = k (release); index = s (release)
 * (the counter and the mark follow, and no latch reader reads them).
 * Reader, one attempt at any time:
 *   i = index (acquire); q1 = seq[i] (acquire); e0 = d[i][0]; e1 = d[i][1];
 *   FENCE(acquire); q2 = seq[i] (relaxed)
 *   accept iff q1 != 0 && q1 == q2; then e0 == e1 == q1 (asserted).
 *
 * Mutants (each must make the assertion fail):
 *   NO_WRITER_FENCE   the release fence after zeroing seq removed
 *   NO_ZERO           the writer does not zero seq before rewriting a copy
 *   NO_READER_FENCE   the acquire fence after the copy removed
 *   RELAXED_SEQ       q1 loaded relaxed instead of acquire
 */

#define FRAMES 3
#define PER 5 /* stores per frame */
#define NS 15
#define NL 4  /* loads after the index */

/* addresses: 0 index, 1 seq0, 2 seq1, 3 d00, 4 d01, 5 d10, 6 d11 */
#define IDX 0
#define SEQ(s) (1 + (s))
#define DAT(s, w) (3 + 2 * (s) + (w))

byte mem[7];

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
	byte j, i;
	/* i = index (acquire): every later load is after it, and their
	 * addresses depend on it anyway */
	i = mem[IDX];
	laddr[0] = SEQ(i); laddr[1] = DAT(i, 0); laddr[2] = DAT(i, 1); laddr[3] = SEQ(i);
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
	/* lval: 0 q1, 1 e0, 2 e1, 3 q2 */
	if
	:: lval[0] != 0 && lval[0] == lval[3] ->
		assert(lval[1] == lval[0] && lval[2] == lval[0])
	:: else -> skip /* rejected: the caller looks again */
	fi
}

init {
	byte k, i, j, base, s;
	atomic {
		k = 1;
		do
		:: k > FRAMES -> break
		:: else ->
			base = (k - 1) * PER;
			s = k % 2;
#ifdef NO_ZERO
			saddr[base + 0] = DAT(s, 0); sval[base + 0] = k; /* a harmless extra store */
#else
			saddr[base + 0] = SEQ(s); sval[base + 0] = 0;
#endif
			saddr[base + 1] = DAT(s, 0); sval[base + 1] = k;
			saddr[base + 2] = DAT(s, 1); sval[base + 2] = k;
			saddr[base + 3] = SEQ(s); sval[base + 3] = k;
			saddr[base + 4] = IDX; sval[base + 4] = s;
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
		/* release stores: seq[s] = k and index = s after every earlier store */
		k = 0;
		do
		:: k == FRAMES -> break
		:: else ->
			base = k * PER;
			j = 0;
			do
			:: j == base + 3 -> break
			:: else -> SAFTER(base + 3, j); SAFTER(base + 4, j); j++
			od;
			SAFTER(base + 4, base + 3);
			k++
		od;
#ifndef NO_WRITER_FENCE
		/* release fence after each zeroing: later stores after earlier ones */
		k = 0;
		do
		:: k == FRAMES -> break
		:: else ->
			base = k * PER;
			i = base + 1;
			do
			:: i == NS -> break
			:: else ->
				j = 0;
				do
				:: j > base -> break
				:: else -> SAFTER(i, j); j++
				od;
				i++
			od;
			k++
		od;
#endif
		/* the reader: coherence of the two loads of seq[i] */
		LAFTER(3, 0);
#ifndef RELAXED_SEQ
		/* q1 acquire: every later load after it */
		LAFTER(1, 0); LAFTER(2, 0); LAFTER(3, 0);
#endif
#ifndef NO_READER_FENCE
		/* acquire fence after the copy: q2 after every earlier load */
		LAFTER(3, 0); LAFTER(3, 1); LAFTER(3, 2);
#endif
		run writer();
		run reader()
	}
}
