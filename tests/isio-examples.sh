#!/bin/sh
# Run the ImageStreamIO example writer with two example readers (one on a
# semaphore slot, one on the futex) over a real stream file: both must read
# frames and accept no torn one. Ordered by handshakes: the writer creates
# the stream and waits; the readers say when they are attached; then the
# writer writes.
set -u
export MILK_SHM_DIR=$(mktemp -d)
trap 'rm -rf "$MILK_SHM_DIR"' EXIT
w=${SHMG_EXEC_WRAPPER:-}
d=$MILK_SHM_DIR
mkfifo "$d/go"
# (the fifo is opened for writing only once the writer is waiting)
$w examples/isio-writer demo 256 256 400 1000 4 go <"$d/go" >"$d/w" 2>&1 &
wr=$!
exec 3>"$d/go"
wait_for() { # FILE: until it says "ready" (30 s at most)
	i=0
	while ! grep -q ': ready$' "$1" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	grep -q ': ready$' "$1" || { echo "FAIL: $1 never got ready"; cat "$1"; exit 1; }
}
wait_for "$d/w"
$w examples/isio-reader demo 200 sem >"$d/r1" 2>&1 &
r1=$!
$w examples/isio-reader demo 200 futex >"$d/r2" 2>&1 &
r2=$!
wait_for "$d/r1"
wait_for "$d/r2"
echo go >&3
exec 3>&-
status=0
wait $wr || { echo "FAIL: writer"; cat "$d/w"; status=1; }
wait $r1 || status=1
wait $r2 || status=1
cat "$d/w" "$d/r1" "$d/r2"
grep -q ' 0 torn accepted' "$d/r1" && grep -q ' 0 torn accepted' "$d/r2" || status=1
grep -q ': 0 frames read' "$d/r1" "$d/r2" && status=1
exit $status
