/*
 * fps_rt.pml: the real-time read of an FPS parameter (lib/milk_fps_rt.c,
 * shmg_fps_read_rt) against its setter's commit (lib/milk_fps_param.c,
 * write_value and commit), doc/milk.md "Real-time reads". The reader takes
 * no lock; its sequence is the pair (lock word, cnt0).
 *
 * Weak memory as in seqlock.pml (doc/models.md): every store of the setter
 * and every load of the reader is an event performed in ANY order, except
 * where an ordering rule adds a "must come after" edge:
 *   - same address, same process: program order (coherence);
 *   - release store: after every earlier store of its process;
 *   - release fence: every later store after every earlier store;
 *   - acquire load: every later load after it;
 *   - acquire fence: every later load after every earlier load.
 * So stores reach memory out of order (store->store) and loads read it out
 * of order (load->load: a load performed early reads an older value), as
 * on aarch64, POWER and RISC-V; a store writes memory when performed.
 *
 * Setter, sets k = 1, 2 (the value before is set 0's), under the lock:
 *   lock = 1 (the CAS: relaxed as far as later stores go); FENCE(release);
 *   v0 = k; v1 = k (the value, byte-wise atomic: two relaxed words);
 *   cnt0 = k (release); lock = 0 (release)
 *   (the release OR of UPDATE into the header's signal word, between cnt0
 *   and the unlock, is left out: it could only add order)
 * Reader, one attempt at any time:
 *   w1 = lock (acquire); c1 = cnt0 (acquire); e0 = v0; e1 = v1 (relaxed);
 *   FENCE(acquire); w2 = lock (acquire); c2 = cnt0 (relaxed)
 *   accept iff w1 == 0 && w2 == 0 && c1 == c2; then the value must be
 *   whole and be set c1's: e0 == e1 == c1.
 *
 * Mutants (each must make the assertion fail):
 *   RELAXED_CNT      cnt0 = k relaxed: the code before issue 18 (the release
 *                    fence before the value, nothing between it and cnt0)
 *   NO_VALUE_FENCE   the release fence before the value removed
 *   NO_READER_FENCE  the acquire fence after the copy removed
 *   RELAXED_C1       c1 loaded relaxed
 *   RELAXED_W2       w2 loaded relaxed
 * Variants that verify:
 *   NO_W1            the reader without w1 (its load is made, but nothing is
 *                    ordered by it and its value is ignored): the argument
 *                    does not need it
 *   RELAXED_CNT_TSO  RELAXED_CNT with the setter's stores kept in order, as
 *                    x86 keeps them: why tests on x86 cannot show the bug
 */

#ifdef RELAXED_CNT_TSO
#define RELAXED_CNT
#define STORES_IN_ORDER
#endif

#define SETS 2
#define NS 10 /* setter stores: 5 per set */
#define NL 6  /* reader loads */

#define LOCK 0
#define CNT 1
#define V0 2
#define V1 3

byte mem[4];

byte saddr[NS];
byte sval[NS];
int spred[NS]; /* bit j set: store j must be performed before */

byte laddr[NL];
int lpred[NL];
byte lval[NL];

#define SAFTER(i, j) spred[i] = spred[i] | (1 << (j))
#define LAFTER(i, j) lpred[i] = lpred[i] | (1 << (j))

proctype setter()
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
	/* lval: 0 w1, 1 c1, 2 e0, 3 e1, 4 w2, 5 c2 */
	if
#ifdef NO_W1
	:: lval[4] == 0 && lval[1] == lval[5] ->
#else
	:: lval[0] == 0 && lval[4] == 0 && lval[1] == lval[5] ->
#endif
accept_read:
		assert(lval[2] == lval[3] && lval[2] == lval[1])
	:: else -> skip /* rejected: the caller looks again */
	fi
}

init {
	byte k, i, j, base;
	atomic {
		/* the setter's program, in program order */
		k = 1;
		do
		:: k > SETS -> break
		:: else ->
			base = (k - 1) * 5;
			saddr[base + 0] = LOCK; sval[base + 0] = 1;
			saddr[base + 1] = V0;   sval[base + 1] = k;
			saddr[base + 2] = V1;   sval[base + 2] = k;
			saddr[base + 3] = CNT;  sval[base + 3] = k;
			saddr[base + 4] = LOCK; sval[base + 4] = 0;
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
#ifdef STORES_IN_ORDER
				SAFTER(i, j);
#endif
				j++
			od;
			i++
		od;
		k = 0;
		do
		:: k == SETS -> break
		:: else ->
			base = k * 5;
			j = 0;
			do
			:: j == base + 4 -> break
			:: else ->
#ifndef RELAXED_CNT
				/* cnt0 = k (release): after every earlier store
				 * (a release fence between the value and cnt0 adds
				 * the same edges here) */
				if :: j < base + 3 -> SAFTER(base + 3, j) :: else -> skip fi;
#endif
				/* the unlock (release): after every earlier store */
				SAFTER(base + 4, j);
				j++
			od;
#ifndef NO_VALUE_FENCE
			/* the release fence after lock = 1: every later store
			 * after every store up to and including it */
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
#endif
			k++
		od;
		/* the reader's program */
		laddr[0] = LOCK; laddr[1] = CNT; laddr[2] = V0; laddr[3] = V1;
		laddr[4] = LOCK; laddr[5] = CNT;
		/* coherence of the two reads of each word */
		LAFTER(5, 1);
#ifndef NO_W1
		LAFTER(4, 0);
		/* w1 (acquire): every later load after it */
		i = 1; do :: i == NL -> break :: else -> LAFTER(i, 0); i++ od;
#endif
#ifndef RELAXED_C1
		/* c1 (acquire): every later load after it */
		i = 2; do :: i == NL -> break :: else -> LAFTER(i, 1); i++ od;
#endif
#ifndef NO_READER_FENCE
		/* the acquire fence after the copy: w2 and c2 after every
		 * earlier load */
#ifdef NO_W1
		i = 1;
#else
		i = 0;
#endif
		do :: i == 4 -> break :: else -> LAFTER(4, i); LAFTER(5, i); i++ od;
#endif
#ifndef RELAXED_W2
		/* w2 (acquire): c2 after it */
		LAFTER(5, 4);
#endif
		run setter();
		run reader()
	}
}
