/*
 * seqlock.pml: the write-flag seqlock of doc/rules.md, rule 3 (a mark word and a
 * counter word, as ImageStreamIO's `write` byte and `cnt0`), with the payload
 * copied by byte-wise atomic memcpy (relaxed accesses, doc/copy.md).
 *
 * Weak memory is modelled explicitly, since Promela itself is sequentially
 * consistent. Every store of the writer and every load of the reader is an
 * event that may be performed in ANY order, except where an ordering rule
 * adds a "must come after" edge:
 *   - same address, same process: program order (coherence);
 *   - release store: after every earlier store of its process;
 *   - release fence: every later store after every earlier store;
 *   - acquire load: every later load after it;
 *   - acquire fence: every later load after every earlier load.
 * A store writes memory when performed; a load reads memory when performed.
 * This is the reordering freedom of the C11 orderings used here (for one
 * writer and one reader: no multi-copy-atomicity questions arise).
 *
 * Writer, frames k = 1, 2 (frame 0 is the initial state):
 *   mark = 1 (relaxed); FENCE(release); d0 = k; d1 = k (relaxed copy);
 *   cnt = k (release); mark = 0 (release)
 * Reader, one attempt at any time:
 *   c1 = cnt (acquire); m1 = mark (acquire); e0 = d0; e1 = d1 (relaxed copy);
 *   FENCE(acquire); m2 = mark (acquire); c2 = cnt (relaxed)
 *   accept iff m1 == 0 && m2 == 0 && c1 == c2; then the copy must be whole
 *   and be frame c1: e0 == e1 == c1.
 *
 * Mutants (each must make the assertion fail):
 *   NO_WRITER_FENCE    the release fence after mark = 1 removed
 *   PUBLISH_SWAPPED    mark = 0 before cnt = k
 *   RELAXED_RECHECK    m2 loaded relaxed instead of acquire
 *   NO_READER_FENCE    the acquire fence after the copy removed
 *   RELAXED_FIRST      c1 and m1 loaded relaxed
 */

#define FRAMES 2
#define NS 10 /* writer stores: 5 per frame */
#define NL 6  /* reader loads */

#define MARK 0
#define CNT 1
#define D0 2
#define D1 3

byte mem[4];

byte saddr[NS];
byte sval[NS];
int spred[NS]; /* bit j set: store j must be performed before */

byte laddr[NL];
int lpred[NL];
byte lval[NL];

/* store i must come after store j */
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
	byte j;
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
	/* lval: 0 c1, 1 m1, 2 e0, 3 e1, 4 m2, 5 c2 */
	if
	:: lval[1] == 0 && lval[4] == 0 && lval[0] == lval[5] ->
		assert(lval[2] == lval[3] && lval[2] == lval[0])
	:: else -> skip /* rejected: the caller retries */
	fi
}

init {
	byte k, i, j, base;
	atomic {
		/* the writer's program, in program order */
		k = 1;
		do
		:: k > FRAMES -> break
		:: else ->
			base = (k - 1) * 5;
			saddr[base + 0] = MARK; sval[base + 0] = 1;
			saddr[base + 1] = D0;   sval[base + 1] = k;
			saddr[base + 2] = D1;   sval[base + 2] = k;
#ifdef PUBLISH_SWAPPED
			saddr[base + 3] = MARK; sval[base + 3] = 0;
			saddr[base + 4] = CNT;  sval[base + 4] = k;
#else
			saddr[base + 3] = CNT;  sval[base + 3] = k;
			saddr[base + 4] = MARK; sval[base + 4] = 0;
#endif
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
		/* release stores (publish: both stores of each frame) */
		k = 0;
		do
		:: k == FRAMES -> break
		:: else ->
			base = k * 5;
			j = 0;
			do
			:: j == base + 3 -> break
			:: else -> SAFTER(base + 3, j); SAFTER(base + 4, j); j++
			od;
			SAFTER(base + 4, base + 3);
			k++
		od;
#ifndef NO_WRITER_FENCE
		/* release fence after each mark = 1: earlier stores before later ones */
		k = 0;
		do
		:: k == FRAMES -> break
		:: else ->
			base = k * 5;
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
		/* the reader's program */
		laddr[0] = CNT; laddr[1] = MARK; laddr[2] = D0; laddr[3] = D1;
		laddr[4] = MARK; laddr[5] = CNT;
		/* coherence of the two reads of each word */
		LAFTER(4, 1); LAFTER(5, 0);
#ifndef RELAXED_FIRST
		/* acquire loads of c1 and m1: every later load after them */
		i = 1; do :: i == NL -> break :: else -> LAFTER(i, 0); i++ od;
		i = 2; do :: i == NL -> break :: else -> LAFTER(i, 1); i++ od;
#endif
#ifndef NO_READER_FENCE
		/* acquire fence after the copy: the re-checks after every earlier load */
		LAFTER(4, 0); LAFTER(4, 1); LAFTER(4, 2); LAFTER(4, 3);
		LAFTER(5, 0); LAFTER(5, 1); LAFTER(5, 2); LAFTER(5, 3);
#endif
#ifndef RELAXED_RECHECK
		/* acquire re-check of the mark: the counter re-read after it */
		LAFTER(5, 4);
#endif
		run writer();
		run reader()
	}
}
