#!/bin/sh
# Run tests/wflag-stress over a range of frame sizes and modes: plain runs,
# the writer SIGKILLed at each protocol step, and at random moments.
# Short in make check; SHMG_STRESS_LONG=1 (make stress-wflag) runs 4 KiB to
# 4 MiB frames for longer with many more kill rounds.
set -u
stress=${WFLAG_STRESS:-tests/wflag-stress}
status=0

run() {
	${SHMG_EXEC_WRAPPER:-} "$stress" "$@" || { echo "FAIL: wflag-stress $*"; status=1; }
}

if [ "${SHMG_STRESS_LONG:-0}" = 1 ]; then
	for size in 4096 65536 1048576 4194304; do
		run -s $size -r 3 -t 10000 -p 100
		run -s $size -r 3 -t 10000 -c 4
		run -s $size -r 3 -t 2000 -k steps -n 60
		run -s $size -r 3 -t 2000 -c 4 -k steps -n 60
		run -s $size -r 3 -t 2000 -k random -n 40
		run -s $size -r 3 -t 2000 -c 3 -k random -n 40
	done
else
	run -s 4096 -r 2 -t 400 -p 50
	run -s 262144 -r 2 -t 400 -c 4
	run -s 1048576 -r 2 -t 400 -p 500
	run -s 65536 -r 2 -t 200 -k steps -n 12
	run -s 65536 -r 2 -t 200 -c 4 -k steps -n 12
	run -s 4096 -r 2 -t 200 -c 3 -k random -n 6
fi
exit $status
