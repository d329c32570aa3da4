#!/bin/sh
# The milk examples end to end: four fps-updater processes at once on one
# parameter must end with exactly 4 x N in its value and cnt0; the PINFO
# loop and monitor must see every exit and no torn status.
set -u
# Under qemu-user (check-cross) lock owners look dead to each other: qemu
# answers a process's own /proc/PID/stat with a start time of its own
# making, other processes read the real one (doc/cross.md).
if [ -n "${SHMG_EXEC_WRAPPER:-}" ]; then
	echo "SKIP: lock owners' identities are not consistent under qemu-user"
	exit 77
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
w=${SHMG_EXEC_WRAPPER:-}
n=5000
$w examples/fps-updater "$d/demo.fps.shm" 3 1 create 8 >/dev/null || { echo "FAIL: create"; exit 1; }
for i in 1 2 3 4; do
	$w examples/fps-updater "$d/demo.fps.shm" 3 $n >"$d/u$i" 2>&1 &
done
wait
last=$($w examples/fps-updater "$d/demo.fps.shm" 3 1) || { echo "FAIL: final update"; exit 1; }
echo "$last"
want=$((4 * n + 2))
echo "$last" | grep -q "value $want cnt0 $want\$" || { echo "FAIL: expected value and cnt0 $want"; cat "$d"/u*; exit 1; }
$w examples/pinfo-status "$d" || { echo "FAIL: pinfo-status"; exit 1; }
