/*
 * wflag_pin.pml: pinned reads over the latch (lib/wflag_pin.c: the reader's
 * shmg_wflag_pin and shmg_wflag_unpin, the writer's shmg__wflag_pick): the
 * writer never rewrites a copy while a reader holds a confirmed pin on it.
 *
 * Weak memory: what breaks a Dekker handshake is store buffering, so, as in
 * wflag_wake.pml (doc/models.md), every process has a FIFO store buffer
 * (TSO): a store enters the buffer, a drain process moves the oldest entry
 * to memory at any time, a load reads the newest entry for its address in
 * its own buffer, else memory, and a seq_cst fence waits until its buffer
 * is empty. The release and acquire orderings of the C code (the unpin's
 * release store, the writer's acquire pin loads, the reader's acquire
 * sequence load) order load->store and load->load pairs, which TSO never
 * reorders: this model checks the store->load pairs, the Dekker part, and
 * doc/pin.md argues the rest from C11's synchronizes-with.
 *
 * Two copies, each a sequence word (its frame number, 0 while rewritten)
 * and one data word (the frame number written into it: a copy changed
 * under a pin shows as a data word that is not the pinned frame's). Copy 0
 * holds frame 1, the index names it. The writer writes frames 2..4. With
 * two copies the only candidate is the one the index does not name; when
 * it is pinned, the writer (SHMG_WFLAG_FULL_REVOKE, the default) revokes
 * every pin on it, each by a CAS from c + 1 to REV, and writes it anyway;
 * with DROP (SHMG_WFLAG_FULL_DROP) it restores the sequence word and drops
 * the frame, as before.
 *   writer, frame k:  n = index; c = 1 - n; was = seq[c];
 *                     seq[c] = 0; FENCE(seq_cst); p = pin[*] (each slot);
 *                     if any p == c + 1:
 *                        DROP:    seq[c] = was (restore), drop
 *                        default: CAS pin[r]: c + 1 -> REV (each slot)
 *                     then (not dropped): d[c] = k; seq[c] = k; index = c
 * Reader r, one pin/unpin round (two with ONE_READER: re-pinning):
 *   i = index; q1 = seq[i]; if q1 == 0: give up the round
 *   pin[r] = i + 1; FENCE(seq_cst); q2 = seq[i]; if q2 != q1: give up
 *   pinned: read d[i] twice (any interleaving between);
 *   unpin: old = exchange(pin[r], 0) (an RMW: on TSO it drains the
 *   buffer and acts on memory); revoked = (old == REV)
 *   assert: revoked, or both data reads are q1 and the writer never
 *   rewrote the copy while it was held
 * Ghosts (sequentially consistent, no part of the protocol): `held[r]` is
 * the copy + 1 reader r holds confirmed, `writing` the copy + 1 the writer
 * rewrites, `rewritten[r]` that the writer began rewriting reader r's copy
 * while r held it. With DROP each side asserts the other's ghost does not
 * name its copy (a confirmed pin never overlaps a rewrite); by default a
 * rewrite under a pin must be reported at the unpin: every rewritten
 * pinned copy is, and a copy whose data changed is.
 *
 * Mutants (each must fail an assertion):
 *   NO_READER_FENCE   the reader's seq_cst fence removed
 *   NO_WRITER_FENCE   the writer's seq_cst fence removed
 *   NO_RECHECK        the reader trusts q1 (no re-read after announcing)
 *   LOOK_FIRST        the writer looks at the pins, then zeroes seq
 *   NO_ZERO           the writer does not zero seq before looking
 *   UNPIN_STORE       the unpin a plain store (as before revocation): it
 *                     never sees the revoked mark, so a rewritten copy
 *                     unpins as if nothing happened
 *   REVOKE_CLEARS     the writer takes a pin back by clearing it (as the
 *                     reclaim of dead readers' pins did): silent
 * ONE_READER (two rounds: a re-pin) and DROP verify too.
 */

#ifdef ONE_READER
#define NR 1
#define ROUNDS 2
#else
#define NR 2
#define ROUNDS 1
#endif
#define NP (NR + 1) /* process 0 writes, 1 .. NR read */
#define CAP 4

/* addresses: 0 index, 1 seq0, 2 seq1, 3 d0, 4 d1, 5.. pin[r] */
#define IDX 0
#define SEQ(c) (1 + (c))
#define DAT(c) (3 + (c))
#define PIN(r) (4 + (r)) /* r = 1 .. NR */
#define NA (5 + NR)
#define REV 3 /* a revoked pin (bits 4-31 all set in the C code) */

byte mem[NA];
byte baddr[NP * CAP];
byte bval[NP * CAP];
byte blen[NP];

byte held[NP];  /* ghost: reader r holds a confirmed pin on copy held[r] - 1 */
byte writing;   /* ghost: the writer rewrites copy writing - 1 */
bool rewritten[NP]; /* ghost: reader r's held copy was rewritten */

inline store(p, a, v)
{
	d_step {
		blen[p] < CAP ->
		baddr[p * CAP + blen[p]] = a;
		bval[p * CAP + blen[p]] = v;
		blen[p]++
	}
}

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

inline fence(p)
{
	blen[p] == 0
}

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
	byte f, n, c, was, v, r, k;
	bool pinned;
	f = 2;
	do
	:: f > 4 -> break
	:: else ->
		load(0, IDX, n);
		c = 1 - n;
		load(0, SEQ(c), was);
#if defined(LOOK_FIRST)
		/* the pins first, then the zero */
		pinned = false;
		r = 1;
		do
		:: r > NR -> break
		:: else -> load(0, PIN(r), v); if :: v == c + 1 -> pinned = true :: else -> skip fi; r++
		od;
		store(0, SEQ(c), 0);
		fence(0);
#else
#ifndef NO_ZERO
		store(0, SEQ(c), 0);
#endif
#ifndef NO_WRITER_FENCE
		fence(0);
#endif
		pinned = false;
		r = 1;
		do
		:: r > NR -> break
		:: else -> load(0, PIN(r), v); if :: v == c + 1 -> pinned = true :: else -> skip fi; r++
		od;
#endif
#ifndef DROP
		if
		:: pinned ->
			/* revoke: a CAS on each slot (an RMW drains the buffer) */
			fence(0);
			r = 1;
			do
			:: r > NR -> break
			:: else ->
				d_step {
					if
#ifdef REVOKE_CLEARS
					:: mem[PIN(r)] == c + 1 -> mem[PIN(r)] = 0
#else
					:: mem[PIN(r)] == c + 1 -> mem[PIN(r)] = REV
#endif
					:: else -> skip
					fi
				};
				r++
			od;
			pinned = false
		:: else -> skip
		fi;
#endif
		if
		:: pinned ->
			store(0, SEQ(c), was) /* untouched: restore, drop the frame */
		:: else ->
			d_step {
				writing = c + 1;
				r = 1;
				do
				:: r > NR -> break
				:: else ->
#ifdef DROP
					assert(held[r] != c + 1);
#else
					if
					:: held[r] == c + 1 -> rewritten[r] = true
					:: else -> skip
					fi;
#endif
					r++
				od
			};
			store(0, DAT(c), f);
			/* the rewrite ends with the data: what follows names the
			 * new frame, which a reader may then pin */
			writing = 0;
			store(0, SEQ(c), f);
			store(0, IDX, c)
		fi;
		f++
	od
}

proctype reader(byte p)
{
	byte round, i, q1, q2, e1, e2, k, old;
	round = 0;
	do
	:: round == ROUNDS -> break
	:: else ->
		load(p, IDX, i);
		load(p, SEQ(i), q1);
		if
		:: q1 == 0 -> skip /* lapped: give up this round */
		:: else ->
			store(p, PIN(p), i + 1);
#ifndef NO_READER_FENCE
			fence(p);
#endif
#ifdef NO_RECHECK
			q2 = q1;
#else
			load(p, SEQ(i), q2);
#endif
			if
			:: q2 == q1 ->
				d_step {
					held[p] = i + 1;
#ifdef DROP
					assert(writing != i + 1)
#else
					if
					:: writing == i + 1 -> rewritten[p] = true
					:: else -> skip
					fi
#endif
				};
				load(p, DAT(i), e1);
				load(p, DAT(i), e2);
#ifdef UNPIN_STORE
				d_step { held[p] = 0; old = 0 };
				store(p, PIN(p), 0);
#else
				fence(p); /* the RMW: the buffer drained, then on memory */
				d_step { old = mem[PIN(p)]; mem[PIN(p)] = 0; held[p] = 0 };
#endif
				assert(old == REV || (e1 == q1 && e2 == q1 && !rewritten[p]));
				rewritten[p] = false
			:: else ->
				store(p, PIN(p), 0) /* rejected: the attempt withdrawn */
			fi
		fi;
		round++
	od
}

init {
	byte p;
	atomic {
		mem[IDX] = 0;
		mem[SEQ(0)] = 1;
		mem[DAT(0)] = 1;
		p = 0;
		do
		:: p == NP -> break
		:: else -> run drain(p); p++
		od;
		run writer();
		p = 1;
		do
		:: p > NR -> break
		:: else -> run reader(p); p++
		od
	}
}
