#!/bin/sh
# examples/milk-pipeline: a camera, a processing loop (CNT0, then
# SEMAPHORE) and a consumer with CNT2 flow control, each with its PINFO
# file; the monitor pauses, single-steps, resumes and ends them. Every frame
# must be accounted for (received + missed = written, at both stages), exit
# obeyed, and no stage may use CPU while the pipeline is paused.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for mode in cnt0 semaphore; do
	mkdir "$work/$mode"
	out=$(${SHMG_EXEC_WRAPPER-} ./examples/milk-pipeline "$work/$mode" 3000 "$mode" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s/^/$mode: /"
	[ $rc -eq 0 ] || { echo "FAIL: milk-pipeline $mode exited $rc"; status=1; continue; }
	for want in "received [0-9]* + missed [0-9]* = 3000 (written 3000), exit obeyed: yes" \
		"consumer  received .* exit obeyed: yes" "3 single steps" "camera    wrote 3000 frames" "credit    cnt2 3004 = 3000 frames + window 4: yes" \
		"^ok: every frame accounted for"; do
		printf '%s\n' "$out" | grep -q -- "$want" || { echo "FAIL: $mode: no line '$want'"; status=1; }
	done
	# the consumer's sum equals the outputs written
	printf '%s\n' "$out" | grep '^consumer  received' |
		sed 's/.*= \([0-9]*\) (written \([0-9]*\)).*/\1 \2/' | { read a b; [ "$a" = "$b" ]; } ||
		{ echo "FAIL: $mode: the consumer's frames do not add up"; status=1; }
done
[ $status -ne 0 ] || echo "ok: the pipeline accounts for every frame in both modes"
exit $status
