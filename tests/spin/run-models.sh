#!/bin/sh
# Check the Promela models with spin: each model must verify with no error,
# and each of its mutants (a fence removed, an order swapped, an acquire
# weakened) must be rejected, so the model is shown able to fail.
# Skips (77) without spin, unless SHMG_REQUIRE_SPIN=1 (CI) makes that a
# failure.
set -u
: "${SPIN:=spin}"
# pan is a host program: built with the build machine's compiler, not $CC
# (which is a cross compiler in check-cross).
hostcc=${CC_FOR_BUILD:-cc}
if ! command -v "$SPIN" >/dev/null 2>&1; then
	if [ "${SHMG_REQUIRE_SPIN:-0}" = 1 ]; then
		echo "FAIL: spin is required (SHMG_REQUIRE_SPIN=1) but not installed"
		exit 1
	fi
	echo "SKIP: spin is not installed"
	exit 77
fi
models=$(cd "${srcdir:-.}/tests/spin" && pwd) # absolute: spin runs in $work
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# verify MODEL DEFINE EXPECT: EXPECT is "pass" or "fail"
verify() {
	model=$1 define=$2 expect=$3
	(cd "$work" && rm -f pan pan.* &&
		"$SPIN" -a "-D$define" "$models/$model" >spin.out 2>&1 &&
		$hostcc -O2 -w -DSAFETY -o pan pan.c && ./pan -n >pan.out 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/pan.out" 2>/dev/null)
	states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$work/pan.out" 2>/dev/null)
	if [ -z "$errors" ]; then
		echo "FAIL: $model $define: spin or pan did not run"; cat "$work/spin.out"; status=1
	elif [ "$expect" = pass ] && [ "$errors" -eq 0 ]; then
		if [ "$define" = SHMG_MODEL ]; then
			echo "ok: $model verifies ($states states)"
		else
			echo "ok: $model $define verifies ($states states)"
		fi
	elif [ "$expect" = fail ] && [ "$errors" -gt 0 ]; then
		echo "ok: $model mutant $define rejected ($states states)"
	else
		echo "FAIL: $model $define: expected $expect, pan found $errors errors"; status=1
	fi
}

verify seqlock.pml SHMG_MODEL pass
for mutant in NO_WRITER_FENCE PUBLISH_SWAPPED RELAXED_RECHECK NO_READER_FENCE RELAXED_FIRST; do
	verify seqlock.pml "$mutant" fail
done
verify wflag_latch.pml SHMG_MODEL pass
for mutant in NO_WRITER_FENCE NO_ZERO NO_READER_FENCE RELAXED_SEQ; do
	verify wflag_latch.pml "$mutant" fail
done
verify wflag_pin.pml SHMG_MODEL pass
verify wflag_pin.pml ONE_READER pass
verify wflag_pin.pml DROP pass
for mutant in NO_READER_FENCE NO_WRITER_FENCE NO_RECHECK LOOK_FIRST NO_ZERO UNPIN_STORE \
	REVOKE_CLEARS; do
	verify wflag_pin.pml "$mutant" fail
done
verify wflag_wake.pml SHMG_MODEL pass
verify wflag_wake.pml ONE_SLEEPER pass
for mutant in NO_SLEEPER_FENCE NO_WRITER_FENCE NO_RECHECK NO_CLEAR WAKE_BEFORE_CLEAR \
	NO_GENERATION KERNEL_NO_MB; do
	verify wflag_wake.pml "$mutant" fail
done
verify wflag_wake_nowaiters.pml SHMG_MODEL pass
verify wflag_wake_nowaiters.pml IDLE pass
verify wflag_wake_nowaiters.pml IDLE_ABORT pass
for mutant in MARK_WORD MARK_WORD_SC LOAD_AFTER_CHECK NO_WAKE WAKE_BEFORE_COUNTER \
	KERNEL_NO_MB IDLE_ON_COUNTER IDLE_RECHECK_MARK IDLE_LOAD_AFTER_CHECK NO_MARK_WAKE \
	WAKE_BEFORE_MARK ABORT_WAKES_COUNTER; do
	verify wflag_wake_nowaiters.pml "$mutant" fail
done
verify xlock.pml SHMG_MODEL pass
for mutant in LOST_WAITER_BIT NONCAS_STEAL NO_WAITERS_AFTER_SLEEP; do
	verify xlock.pml "$mutant" fail
done
verify loop_ring.pml SHMG_MODEL pass
for mutant in NO_WRITER_FENCE NO_READER_FENCE RELAXED_FIRST KEEP_ALL; do
	verify loop_ring.pml "$mutant" fail
done
verify loop_credit.pml SHMG_MODEL pass
for mutant in NO_PRODUCER_FENCE NO_GRANT_FENCE NO_KERNEL_COMPARE NO_SLEEPER_COUNT; do
	verify loop_credit.pml "$mutant" fail
done
verify fps_rt.pml SHMG_MODEL pass
verify fps_rt.pml NO_W1 pass
verify fps_rt.pml RELAXED_CNT_TSO pass
for mutant in RELAXED_CNT NO_VALUE_FENCE NO_READER_FENCE RELAXED_C1 RELAXED_W2; do
	verify fps_rt.pml "$mutant" fail
done
verify wflag_repin.pml SHMG_MODEL pass
verify wflag_repin.pml RELAXED_ANNOUNCE_NO_MERGE pass
for mutant in RELAXED_ANNOUNCE RELAXED_UNPIN NO_READER_FENCE; do
	verify wflag_repin.pml "$mutant" fail
done
exit $status
