/*
 * loop_credit.pml: flow control of doc/loop.md ("CNT2"). A producer waits
 * while cnt0 >= cnt2 (here cnt0 = 0: it waits for cnt2 > 0); a consumer
 * grants credit. The producer counts itself in the sleepers word, issues a
 * seq_cst fence, loads cnt2, and sleeps on the futex with the value it saw
 * (the kernel compares the word and queues the sleeper in one step); the
 * grant raises cnt2, issues a seq_cst fence, loads the sleepers word and
 * wakes only if someone counted itself. Property: the producer never sleeps
 * for ever (pan: no invalid end state).
 *
 * Weak memory: a store (or the store half of an RMW) not followed by a
 * fence may become visible to the other process at any later moment (a
 * store buffer: a process of its own that performs it); a seq_cst fence
 * waits until the process's earlier stores are visible.
 *
 * Mutants (each must leave the producer asleep in some run):
 *   NO_PRODUCER_FENCE  the producer's fence removed
 *   NO_GRANT_FENCE     the grant's fence removed
 *   NO_KERNEL_COMPARE  the futex sleeps without comparing the word
 *   NO_SLEEPER_COUNT   the grant never wakes (a syscall saved wrongly)
 */

byte cnt2, sleepers;
bool s_visible, c_visible; /* each process's buffered store performed */
bool queued;               /* the producer is in the futex queue */
bool received;

proctype buffer_sleepers() { atomic { sleepers = sleepers + 1; s_visible = true } }
proctype buffer_cnt2() { atomic { cnt2 = cnt2 + 1; c_visible = true } }

proctype producer()
{
	byte c2;
	if
	:: cnt2 > 0 -> received = true; goto out
	:: else -> skip
	fi;
	run buffer_sleepers();
#ifndef NO_PRODUCER_FENCE
	s_visible;
#endif
	c2 = cnt2;
	if
	:: c2 > 0 -> received = true; goto out
	:: else -> skip
	fi;
	/* futex_wait(cnt2, c2): compare and queue in one step */
	atomic {
#ifdef NO_KERNEL_COMPARE
		queued = true
#else
		if
		:: cnt2 == c2 -> queued = true
		:: else -> skip /* EAGAIN: look again */
		fi
#endif
	};
	!queued; /* asleep until woken */
	received = (cnt2 > 0);
	assert(received);
out:
	skip
}

proctype consumer()
{
	run buffer_cnt2();
#ifndef NO_GRANT_FENCE
	c_visible;
#endif
#ifndef NO_SLEEPER_COUNT
	if
	:: sleepers > 0 -> atomic { queued = false } /* futex_wake */
	:: else -> skip
	fi
#endif
}

init {
	atomic {
		run producer();
		run consumer()
	}
}
