#!/bin/sh
# Run the ImageStreamIO example writer with two example readers (one on a
# semaphore slot, one on the futex) over a real stream file: both must read
# frames and accept no torn one.
set -u
export MILK_SHM_DIR=$(mktemp -d)
trap 'rm -rf "$MILK_SHM_DIR"' EXIT
w=${SHMG_EXEC_WRAPPER:-}
$w examples/isio-reader demo 200 sem >"$MILK_SHM_DIR/r1" 2>&1 &
r1=$!
$w examples/isio-reader demo 200 futex >"$MILK_SHM_DIR/r2" 2>&1 &
r2=$!
sleep 0.2
$w examples/isio-writer demo 256 256 400 1000 4 || { echo "FAIL: writer"; exit 1; }
status=0
wait $r1 || status=1
wait $r2 || status=1
cat "$MILK_SHM_DIR/r1" "$MILK_SHM_DIR/r2"
grep -q ' 0 torn accepted' "$MILK_SHM_DIR/r1" && grep -q ' 0 torn accepted' "$MILK_SHM_DIR/r2" || status=1
grep -q ': 0 frames read' "$MILK_SHM_DIR/r1" "$MILK_SHM_DIR/r2" && status=1
exit $status
