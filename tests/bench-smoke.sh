#!/bin/sh
# The benchmark program runs (quick mode: figures mean nothing) and prints
# every figure the issues require, as "KEY VALUE UNIT" lines; bad settings
# are refused with a clear message.
set -u
# SHMG_EXEC_WRAPPER runs target programs (qemu-<arch> in check-cross).
bench="${SHMG_EXEC_WRAPPER-} ./tools/bench/shmg-bench"
# The xlock, wflag, loop, fps and pin suites fork (and some use seccomp): not under qemu-user
# (check-cross sets SHMG_EXEC_WRAPPER), where only one guest task runs.
suites="atomic copy xlock wflag loop fps pin"
[ -z "${SHMG_EXEC_WRAPPER-}" ] || suites="atomic copy"
out=$(SHMG_BENCH_QUICK=1 $bench $suites) || { echo "FAIL: shmg-bench exited non-zero"; exit 1; }
status=0
for key in copy.load.4KiB.vs_memcpy copy.load.64KiB.vs_memcpy copy.load.1MiB.vs_memcpy \
	copy.load.16MiB.vs_memcpy copy.store.4KiB.vs_memcpy copy.store.64KiB.vs_memcpy \
	copy.store.1MiB.vs_memcpy copy.store.16MiB.vs_memcpy atomic.load_relaxed.vs_builtin \
	atomic.inc_orig_relaxed.vs_builtin atomic.rmw_loop_acq_rel.vs_builtin; do
	printf '%s\n' "$out" | grep -Eq "^$key [0-9.e+-]+ x\$" || { echo "FAIL: no line for $key"; status=1; }
done
if [ -z "${SHMG_EXEC_WRAPPER-}" ]; then
	for key in xlock.uncontended.vs_robust_mutex xlock.uncontended.vs_2cas xlock.contended_2proc.vs_robust_mutex \
		xlock.recovery.vs_robust_mutex wflag.read.1MiB.vs_memcpy wflag.publish.1MiB.vs_memcpy \
		wflag.wake.vs_sem wflag.reads_per_frame.backtoback wflag.reads_per_frame.backtoback.single \
		loop.latency.cnt0.vs_sem loop.latency_p99.cnt0.vs_sem loop.latency.cnt0.vs_polling \
		loop.idle_cpu.vs_polling fps.rt_read.vs_get pin.process.16MiB.vs_copy \
		pin.pin_unpin.4KiB.vs_read pin.publish.with_pins.vs_without \
		pin.publish.with_pins.vs_with_copying_readers; do
		printf '%s\n' "$out" | grep -Eq "^$key [0-9.e+-]+ x\$" || { echo "FAIL: no line for $key"; status=1; }
	done
	printf '%s\n' "$out" | grep -q '^wflag.torn_accepted 0 count$' ||
		{ echo "FAIL: the benchmark accepted a torn frame"; status=1; }
	printf '%s\n' "$out" | grep -q '^loop.missed_exact 1 count$' ||
		{ echo "FAIL: the loop's missed-frame count was not exact"; status=1; }
	printf '%s\n' "$out" | grep -Eq '^loop.missed_per_burst.sem_peer [0-9.e+-]+ count$' ||
		{ echo "FAIL: no line for loop.missed_per_burst.sem_peer"; status=1; }
	printf '%s\n' "$out" | grep -q '^fps.rt_read.blocked 0 count$' ||
		{ echo "FAIL: a real-time FPS read blocked behind a stopped setter"; status=1; }
	printf '%s\n' "$out" | grep -Eq '^pin.pin_unpin.ns [0-9.e+-]+ ns$' ||
		{ echo "FAIL: no line for pin.pin_unpin.ns"; status=1; }
	printf '%s\n' "$out" | grep -q '^xlock.unlock_syscalls_uncontended 0 count$' ||
		{ echo "FAIL: uncontended unlocks made futex calls"; status=1; }
fi
bad=$(printf '%s\n' "$out" | grep -Ev '^[A-Za-z0-9_.]+ [0-9.e+-]+ [A-Za-z/]+$')
[ -z "$bad" ] || { echo "FAIL: lines not of the form KEY VALUE UNIT:"; echo "$bad"; status=1; }
if SHMG_BENCH_REPEATS=lots $bench atomic >/dev/null 2>&1; then
	echo "FAIL: SHMG_BENCH_REPEATS=lots was accepted"; status=1
fi
if $bench nosuchsuite >/dev/null 2>&1; then
	echo "FAIL: an unknown suite was accepted"; status=1
fi
[ $status -ne 0 ] || echo "ok: $(printf '%s\n' "$out" | wc -l) figures, required keys present"
exit $status
