#!/bin/sh
# shmguard(1) on fixture files of every kind (tests/tool_fixtures.c):
# healthy segments, what dead processes left behind, damaged and hostile
# files. Checks output, exit codes (0 fine, 1 error, 2 usage, 3 attention),
# that errors are one line on stderr, and that inspect and refused
# recoveries leave files byte for byte unchanged.
set -u
run="${SHMG_EXEC_WRAPPER-}"
tool="$run ./tools/shmguard"
fixtures="$run ./tests/tool-fixtures"
work=$(mktemp -d)
trap 'kill $writer 2>/dev/null; rm -rf "$work"' EXIT
writer=
d=$work/f
mkdir "$d"
$fixtures "$d" || { echo "FAIL: fixtures"; exit 1; }
fails=0 checks=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# t CODE DESCRIPTION COMMAND...: run, keep stdout/stderr, check the code.
t() {
	want=$1 desc=$2
	shift 2
	checks=$((checks + 1))
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	[ "$got" = "$want" ] || fail "$desc: exit $got, expected $want; stderr: $(head -c 300 "$work/err")"
}
has() { grep -q -- "$1" "$work/out" || fail "$2: stdout lacks '$1'"; }
lacks() { ! grep -q -- "$1" "$work/out" || fail "$2: stdout has '$1'"; }
err_has() { grep -q -- "$1" "$work/err" || fail "$2: stderr lacks '$1': $(cat "$work/err")"; }
one_error_line() {
	[ "$(wc -l <"$work/err")" -eq 1 ] || fail "$1: stderr is not one line: $(cat "$work/err")"
	grep -q '^shmguard' "$work/err" || fail "$1: the error does not start with 'shmguard'"
}
same() { cmp -s "$1" "$2" || fail "$3: the file changed"; }
# A handshake, not a delay: wait (30 s at most) until a watch writing to
# file $1 has printed its first view. Each watch needs a file of its own
# that does not exist before: `watch >FILE &` truncates FILE in the child,
# which under load may run only after shown has looked, so an earlier
# watch's views in a reused file passed for this one's (the truncation
# checks below then cut the file before the watch had opened it).
shown() {
	i=0
	while ! grep -q '^----$' "$1" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	grep -q '^----$' "$1" || fail "watch printed no view into $1"
}
frame() { $fixtures --frame "$d/$1"; }

# ---- usage
# ---- the manual names every option of every subcommand's --help
# (tests/man-pages.sh renders it)
man1=${srcdir:-.}/doc/man/shmguard.1
for cmd in inspect watch recover demo bench; do
	for opt in $($tool $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$man1" ||
			fail "shmguard.1 does not document $cmd's $opt"
	done
	grep -q "^\.BI* \"*$cmd" "$man1" || fail "shmguard.1 has no entry for $cmd"
done

t 2 "no command" $tool
t 0 "--help" $tool --help
has "inspect" "--help"
t 2 "unknown command" $tool frobnicate
one_error_line "unknown command"
for cmd in inspect watch recover demo bench; do
	t 0 "$cmd --help" $tool $cmd --help
	has "usage: shmguard $cmd" "$cmd --help"
done
t 2 "inspect without PATH" $tool inspect
t 2 "bad --interval" $tool inspect --interval soon "$d/healthy.im.shm"
t 2 "bad --wflag" $tool inspect --wflag 8 "$d/generic.shm"
tab=$(printf '\t')
t 2 "--interval after white space" $tool inspect --interval "${tab}5ms" "$d/healthy.im.shm"
t 2 "--wflag offset after white space" $tool inspect --wflag "${tab}8,16" "$d/generic.shm"
t 2 "bad --xlock width" $tool inspect --xlock 64,5 "$d/generic.shm"
t 2 "bad --fps-layout" $tool inspect --fps-layout 2023 "$d/healthy.fps.shm"
t 2 "unknown option" $tool recover --force "$d/healthy.im.shm"
t 2 "watch, two paths" $tool watch "$d/healthy.im.shm" "$d/generic.shm"
t 2 "unknown suite" $tool bench nosuchsuite
t 2 "demo, bad option" $tool demo --fast

# ---- inspect never writes: every fixture before and after
cp -a "$d" "$work/before"
# ---- healthy segments
t 0 "inspect healthy stream" $tool inspect --interval 0 "$d/healthy.im.shm"
has "imagestreamio" "healthy stream"
has '"fixture", 2 axes 64x32x1 uint16' "healthy stream"
has "write flag  0 (idle)" "healthy stream"
has "alerts      none" "healthy stream"
t 0 "inspect healthy pinfo" $tool inspect --interval 0 "$d/healthy.pinfo.shm"
has 'status      7 "converging"' "healthy pinfo"
has "status lock @836/4: unlocked" "healthy pinfo"
has "trigger     immediate (0), cnt 0, never waited" "healthy pinfo"
has "timing      no samples" "healthy pinfo"
t 0 "inspect a loop's pinfo" $tool inspect --interval 0 "$d/loop.pinfo.shm"
has 'trigger     semaphore (3) on "loopin" (inode [0-9]*), slot 0, cnt 3, received' "loop pinfo"
has "missed      2 at the last wait, 2 in total; timeouts 1" "loop pinfo"
has "limit       loopcntMax 100" "loop pinfo"
has "timing      iteration 1000.000 ms, execution 0.250 ms (medians, 4 samples, 5 iterations)" "loop pinfo"
has "loopcnt 5, CTRLval 1 (pause)" "loop pinfo"
has "loop stop" "loop pinfo"
t 0 "inspect --json a loop's pinfo" $tool inspect --json --interval 0 "$d/loop.pinfo.shm"
has '"trigger": *{"mode": *"semaphore"' "loop pinfo json"
has '"missed_total": *2' "loop pinfo json"
has '"timeouts": *1' "loop pinfo json"
has '"exec_median_ns": *250000' "loop pinfo json"
t 0 "inspect healthy fps" $tool inspect --interval 0 "$d/healthy.fps.shm"
has "parameters  8; updates 1" "healthy fps"
t 0 "inspect generic" $tool inspect --interval 0 --wflag 8,0,16 --xlock 064 --xlock 0x48,4 "$d/generic.shm"
has "write flag @8: 0 (idle), counter 0" "generic"
has "xlock 1 @72/4: unlocked" "generic"
t 0 "inspect --json, every healthy kind" $tool inspect --json --interval 10ms "$d/healthy.im.shm" \
	"$d/healthy.pinfo.shm" "$d/healthy.fps.shm"
cp "$work/out" "$work/json"
$fixtures --json "$work/json" || fail "inspect --json is not well-formed JSON"
has '"kind":"milk-fps"' "json"
has '"rate_per_s":0' "json"

# ---- what dead processes left
t 3 "inspect dead writer mid-frame" $tool inspect --interval 0 "$d/deadwriter-midframe.im.shm"
has "PROBLEM     write flag stuck: writer PID [0-9]* died mid-frame 4" "dead writer mid-frame"
t 3 "inspect dead idle writer" $tool inspect --interval 0 "$d/deadwriter-idle.im.shm"
has "writer PID [0-9]* is dead: no frame will come" "dead idle writer"
has "semaphore slot 0 is held by dead reader PID" "dead reader"
has "slot 0 PID [0-9]* (dead) pins copy 3" "dead reader's pin shown"
has "circular-buffer copy 3 is pinned by slot 0, whose reader is not alive" "dead reader's pin alert"
t 3 "inspect dead pinfo holder" $tool inspect --interval 0 "$d/deadholder.pinfo.shm"
has "the status lock is held by dead thread" "dead pinfo holder"
t 3 "inspect dead fps holder" $tool inspect --interval 0 "$d/deadholder.fps.shm"
has "parameter 2's lock is held by dead thread" "dead fps holder"
t 3 "inspect dead generic holder" $tool inspect --interval 0 --wflag 8,0,16 --xlock 64 "$d/deadholder.generic.shm"
has "lock at offset 64 is held by dead thread" "dead generic holder"
has "writer PID [0-9]* is dead" "dead generic writer"
t 3 "inspect --json with problems" $tool inspect --json --interval 0 "$d/deadholder.fps.shm" "$d/garbage.fps.shm"
cp "$work/out" "$work/json"
$fixtures --json "$work/json" || fail "inspect --json (problems) is not well-formed JSON"
has '"level":"problem"' "json problems"

# ---- garbage words
t 3 "inspect garbage owner" $tool inspect --interval 0 "$d/garbage-owner.im.shm"
has "the writer word holds -5" "garbage owner"
t 3 "inspect garbage pinfo lock" $tool inspect --interval 0 "$d/garbage.pinfo.shm"
has "holds 0xde000000, which no locker writes" "garbage pinfo lock"
t 3 "inspect garbage fps locks" $tool inspect --interval 0 "$d/garbage.fps.shm"
has "parameter 3's lock holds 0xdeadbeef00000000" "garbage fps lock"
has "parameter 5's lock is not recoverable" "poisoned fps lock"
t 0 "inspect noise shaped like pinfo (no crash)" sh -c "$tool inspect --interval 0 $d/noise.pinfo.shm; [ \$? -le 3 ]"

# ---- damaged and hostile files: one error line, exit 1, nothing printed
hostile() { # FILE EXPECTED-MESSAGE [OPTIONS]
	f=$1 msg=$2
	shift 2
	t 1 "inspect $f" $tool inspect "$@" "$d/$f"
	one_error_line "inspect $f"
	err_has "$msg" "inspect $f"
	[ ! -s "$work/out" ] || fail "inspect $f printed to stdout"
	t 1 "recover $f" $tool recover "$@" "$d/$f"
	one_error_line "recover $f"
	t 1 "watch $f" $tool watch --count 1 --interval 10ms "$@" "$d/$f"
	one_error_line "watch $f"
}
hostile truncated.im.shm "damaged ImageStreamIO 2.00 stream: its metadata implies a file of 21920 bytes; the file has 1000"
hostile oldversion.im.shm "version 1.04; only 2.00 is understood"
hostile badnaxis.im.shm "damaged ImageStreamIO 2.00 stream: naxis is 9, 1 to 3 expected"
hostile empty.shm "the file is empty"
hostile noise.shm "not recognised (100000 bytes)"
hostile ambiguous.fps.shm "fit both FPS layouts (443 records of 2024, 440 newer) and NBparamMAX does not tell them apart; name one with --fps-layout"
hostile link.im.shm "symbolic link; not followed"
hostile adir "not a regular file"
hostile missing.shm "No such file"
hostile generic.shm "--xlock 4093,8: 8 bytes at offset 4093: outside the 4096-byte region" --xlock 4093
hostile generic.shm "--xlock 12,8: offset 12 is not 8-byte aligned" --xlock 12
hostile generic.shm "--wflag 8,4: counter: offset 4 is not 8-byte aligned" --wflag 8,4
t 0 "a symlink with --follow" $tool inspect --interval 0 --follow "$d/link.im.shm"
t 1 "one bad PATH among good ones" $tool inspect --interval 0 "$d/healthy.im.shm" "$d/empty.shm"
has "healthy.im.shm: imagestreamio" "mixed paths"
t 0 "ambiguous fps with --fps-layout" $tool inspect --interval 0 --fps-layout new "$d/ambiguous.fps.shm"
has "parameters  440" "--fps-layout new"

# dry runs change nothing either
t 0 "recover --dry-run, dead writer" $tool recover --dry-run "$d/deadwriter-midframe.im.shm"
has "would publish frame 4 (a copy of complete frame 3) over dead writer PID" "dry run"
t 0 "recover --dry-run, dead fps holder" $tool recover -n "$d/deadholder.fps.shm"
has "would recover parameter 2's lock" "dry run fps"
diff -r "$work/before" "$d" >/dev/null || fail "inspect or a dry run changed a file"
checks=$((checks + 1))

# ---- watch (before recovery: it must raise the stuck flag)
t 0 "watch, 2 views" $tool watch --count 2 --interval 50ms "$d/deadwriter-midframe.im.shm"
[ "$(grep -c '^----$' "$work/out")" -eq 2 ] || fail "watch did not print 2 views"
has "followed    0 frames seen" "watch follower"
has "write flag stuck" "watch alert"
t 0 "watch --passive" $tool watch --passive --count 1 --interval 20ms "$d/deadholder.pinfo.shm"
has "held by dead thread" "watch pinfo alert"
$tool watch --interval 50ms "$d/healthy.im.shm" >"$work/view-sigint" 2>&1 &
w=$!
shown "$work/view-sigint" # its first view: the handlers are in place
kill -INT $w
i=0
while kill -0 $w 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $w 2>/dev/null; then kill -9 $w; fail "watch did not stop on SIGINT"; fi
wait $w || fail "watch stopped by SIGINT exited non-zero"
checks=$((checks + 1))

# A file truncated under a running watch: one error line, exit 1, no crash.
cp "$d/healthy.fps.shm" "$work/shrinking.fps.shm"
$tool watch --passive --interval 20ms "$work/shrinking.fps.shm" >"$work/view-fps" 2>"$work/err" &
w=$!
shown "$work/view-fps" # it has the file mapped and has read it once
truncate -s 4096 "$work/shrinking.fps.shm"
i=0
while kill -0 $w 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $w 2>/dev/null; then kill -9 $w; fail "watch kept going on a truncated file"; fi
wait $w
[ $? -eq 1 ] || fail "watch of a truncated file: exit $?, expected 1"
err_has "the file shrank while being read" "truncated under watch"
one_error_line "truncated under watch"
checks=$((checks + 1))
# The same for a stream watched with its frame follower (a second thread,
# asleep in a wait when the file goes).
cp "$d/healthy.im.shm" "$work/shrinking.im.shm"
$tool watch --interval 20ms "$work/shrinking.im.shm" >"$work/view-stream" 2>"$work/err" &
w=$!
shown "$work/view-stream"
truncate -s 0 "$work/shrinking.im.shm"
i=0
while kill -0 $w 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $w 2>/dev/null; then kill -9 $w; fail "watch (following) kept going on a truncated file"; fi
wait $w
st=$?
[ $st -eq 1 ] || fail "watch (following) of a truncated file: exit $st, expected 1 (a signal is >128)"
err_has "the file shrank while being read" "truncated under a following watch"
one_error_line "truncated under a following watch"
checks=$((checks + 1))

# ---- recover
t 0 "recover dead writer mid-frame" $tool recover "$d/deadwriter-midframe.im.shm"
has "publish frame 4 (a copy of complete frame 3) over dead writer PID [0-9]*'s partial frame" "recover"
[ "$(frame deadwriter-midframe.im.shm)" = "4 0 3" ] || fail "after recover: $(frame deadwriter-midframe.im.shm), expected cnt0 4, write 0, every byte 3"
t 0 "inspect after recover" $tool inspect --interval 0 "$d/deadwriter-midframe.im.shm"
t 0 "recover again: nothing to do" $tool recover "$d/deadwriter-midframe.im.shm"
has "nothing (more) to recover" "recover twice"

cp "$d/deadwriter-midframe-nocb.im.shm" "$work/nocb"
t 3 "recover without a circular buffer" $tool recover "$d/deadwriter-midframe-nocb.im.shm"
has "left alone: dead writer PID [0-9]* left a partial frame, and there is no complete frame in a circular buffer written by the guard" "nocb"
same "$work/nocb" "$d/deadwriter-midframe-nocb.im.shm" "refused recovery"
t 0 "recover --blank" $tool recover --blank "$d/deadwriter-midframe-nocb.im.shm"
[ "$(frame deadwriter-midframe-nocb.im.shm)" = "4 0 0" ] || fail "after --blank: $(frame deadwriter-midframe-nocb.im.shm)"

t 0 "recover dead idle writer and reader" $tool recover "$d/deadwriter-idle.im.shm"
has "clear the record of dead writer PID" "idle writer"
has "free semaphore slot 0 of dead reader PID" "dead reader slot"
has "revoke the pin of circular-buffer copy 3 in semaphore slot 0 of dead reader PID" "dead reader's pin"
t 0 "inspect after" $tool inspect --interval 0 "$d/deadwriter-idle.im.shm"
has "writer      none recorded" "idle writer cleared"
lacks "pins copy" "pin cleared"

# A pin many frames old, in a slot ImageStreamIO's own reader (this shell)
# took over: not that reader's (it holds no pin lock).
$fixtures --adopt "$d/oldpin.im.shm" $$ || fail "adopt"
t 3 "inspect an old pin in an adopted slot" $tool inspect --interval 0 "$d/oldpin.im.shm"
has "PROBLEM.*copy 1 is pinned in semaphore slot 0 on frame 1, 12 frames behind cnt0: held for many frame periods" "old pin"
has "PROBLEM.*copy 1 is pinned in semaphore slot 0, whose reader PID $$ holds no pin lock: that reader did not pin it" "adopted slot"
t 0 "recover the adopted slot's pin" $tool recover "$d/oldpin.im.shm"
has "revoke the pin of circular-buffer copy 1 in semaphore slot 0: its reader PID $$ holds no pin lock" "recover adopted"
t 0 "inspect after" $tool inspect --interval 0 "$d/oldpin.im.shm"
lacks "pins copy" "adopted pin revoked"
has "slot 0 PID $$ (alive)" "the adopter keeps its slot"

t 0 "recover dead pinfo holder" $tool recover "$d/deadholder.pinfo.shm"
has "recover the status lock from dead thread" "pinfo"
t 0 "inspect after" $tool inspect --interval 0 "$d/deadholder.pinfo.shm"
has 'status      7 "converging"' "pinfo status kept"
t 0 "recover dead fps holder" $tool recover "$d/deadholder.fps.shm"
t 0 "inspect after" $tool inspect --interval 0 "$d/deadholder.fps.shm"

cp "$d/garbage.fps.shm" "$work/gfps"
t 3 "recover garbage fps" $tool recover "$d/garbage.fps.shm"
has "reset parameter 5's lock, which was not recoverable" "poisoned reset"
has "left alone: parameter 3's lock holds 0xdeadbeef00000000" "garbage left"
cmp -s -n $((62648 + 3 * 4112 + 16)) "$work/gfps" "$d/garbage.fps.shm" ||
	fail "the garbage word (or anything before it) changed"
cp "$d/garbage.pinfo.shm" "$work/gpinfo"
t 3 "recover garbage pinfo" $tool recover "$d/garbage.pinfo.shm"
same "$work/gpinfo" "$d/garbage.pinfo.shm" "garbage pinfo"
cp "$d/garbage-owner.im.shm" "$work/gown"
t 3 "recover garbage owner" $tool recover "$d/garbage-owner.im.shm"
same "$work/gown" "$d/garbage-owner.im.shm" "garbage owner"

t 3 "recover generic without --reset" $tool recover --wflag 8,0,16 --xlock 64 "$d/deadholder.generic.shm"
has "clear the record of dead writer PID" "generic writer"
has "left alone: lock @64: the owner is dead" "generic lock"
t 0 "recover generic --reset" $tool recover --reset --wflag 8,0,16 --xlock 64 "$d/deadholder.generic.shm"
has "lock @64: clear the lock, which was held by a dead thread (the data it protects is not repaired)" "generic reset"
t 0 "inspect generic after" $tool inspect --interval 0 --wflag 8,0,16 --xlock 64 "$d/deadholder.generic.shm"

# ---- an unguarded writer that died mid-frame: write = 1, no writer recorded.
# Only "no process maps the file" proves it gone. In a fresh PID namespace
# every process's maps can be read; outside one (PID 1 of a container may
# be unreadable) recover must refuse.
cp "$d/legacy-stuck.im.shm" "$work/legacy"
$tool watch --passive --interval 20ms --count 1000 "$d/legacy-stuck.im.shm" >"$work/view-legacy" 2>&1 &
w=$!
shown "$work/view-legacy" # the watch maps the file
t 3 "recover an unrecorded writer outside a namespace, while we map it" \
	$tool recover --blank "$d/legacy-stuck.im.shm"
kill -INT $w
wait $w
has "left alone: the write flag is set and no writer is recorded; the file is mapped by" "legacy, mapped"
same "$work/legacy" "$d/legacy-stuck.im.shm" "legacy, mapped"
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	ns="unshare --pid --fork --mount-proc"
	t 3 "inspect an unrecorded dead writer" $ns $tool inspect --interval 0 "$d/legacy-stuck.im.shm"
	has "PROBLEM     write flag stuck: no process maps the file, so its writer is gone mid-frame 1" "legacy inspect"
	has "mapped by   no other process" "legacy mappers"
	t 3 "recover an unrecorded dead writer without --blank" $ns $tool recover "$d/legacy-stuck.im.shm"
	has "\-\-blank publishes an all-zero frame" "legacy without --blank"
	same "$work/legacy" "$d/legacy-stuck.im.shm" "legacy without --blank"
	t 0 "recover an unrecorded dead writer --blank" $ns $tool recover --blank "$d/legacy-stuck.im.shm"
	has "publish frame 1, all zeros, over the unrecorded writer's partial frame" "legacy --blank"
	[ "$(frame legacy-stuck.im.shm)" = "1 0 0" ] || fail "after --blank: $(frame legacy-stuck.im.shm), expected 1 0 0"
else
	echo "note: no PID namespace (unshare): the positive legacy recovery is not exercised"
fi

# ---- the same, for an operator who cannot read every process's maps (not
# root): recover names the processes it could not read, why, and the way
# forward; --assume-unmapped (the operator's statement) then recovers.
as_user=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
elif ! cat /proc/1/maps >/dev/null 2>&1; then
	as_user=" " # already unable to read PID 1's maps
fi
if [ -n "$as_user" ]; then
	chmod 711 "$work"
	mkdir -m 755 "$work/user"
	cp "$work/legacy" "$work/user/legacy.im.shm"
	chmod 666 "$work/user/legacy.im.shm"
	t 3 "recover an unrecorded writer, some maps unreadable" \
		$as_user $tool recover --blank "$work/user/legacy.im.shm"
	has "left alone: the write flag is set and no writer is recorded; no process whose maps could be read maps the file, but the maps of [0-9]* processes could not be read (PID " \
		"unreadable maps named"
	has "not this user's: reading them needs root, their user or CAP_SYS_PTRACE" "why"
	has "\-\-assume-unmapped (SHMG_RECOVER_ASSUME_UNMAPPED) with \-\-blank" "the way forward"
	same "$work/legacy" "$work/user/legacy.im.shm" "unreadable maps, without --assume-unmapped"
	t 0 "recover --assume-unmapped --blank" \
		$as_user $tool recover --blank --assume-unmapped "$work/user/legacy.im.shm"
	has "assume, as the operator states (SHMG_RECOVER_ASSUME_UNMAPPED), that none of the [0-9]* processes whose maps could not be read" \
		"the assumption said"
	has "publish frame 1, all zeros, over the unrecorded writer's partial frame" "assumed unmapped"
	cp "$work/user/legacy.im.shm" "$d/user-legacy.im.shm"
	[ "$(frame user-legacy.im.shm)" = "1 0 0" ] || fail "after --assume-unmapped: $(frame user-legacy.im.shm)"
else
	echo "note: every process's maps are readable and no other user to switch to: --assume-unmapped is not exercised"
fi

# ---- a live stream: rates and frames followed
if [ -x examples/isio-writer ] && [ -z "${SHMG_EXEC_WRAPPER-}" ]; then
	MILK_SHM_DIR=$d ./examples/isio-writer live 64 64 4000 1000 >/dev/null 2>&1 &
	writer=$!
	# Until frames flow (a handshake on the counter, not a delay).
	i=0
	while [ "$(frame live.im.shm 2>/dev/null | cut -d' ' -f1)" -lt 50 ] 2>/dev/null ||
	      [ ! -e "$d/live.im.shm" ]; do
		[ $i -lt 3000 ] || break
		sleep 0.01
		i=$((i + 1))
	done
	t 0 "inspect a live stream" $tool inspect --interval 300ms "$d/live.im.shm"
	rate=$(sed -n 's/.*cnt0 [0-9]* (\([0-9]*\)\.[0-9]\/s).*/\1/p' "$work/out")
	[ "${rate:-0}" -gt 200 ] && [ "${rate:-0}" -lt 3000 ] || fail "live rate '$rate'/s, expected about 1000"
	t 0 "watch a live stream" $tool watch --count 3 --interval 200ms "$d/live.im.shm"
	seen=$(sed -n 's/.*followed    \([0-9]*\) frames seen.*/\1/p' "$work/out" | tail -1)
	[ "${seen:-0}" -gt 100 ] || fail "watch followed '$seen' frames of a 1 kHz stream in 0.6 s"
	kill $writer 2>/dev/null
fi

# ---- a lock held by a live process: stuck, or not even mapping the file
# (planted, or unmapped while held). Alerts; recover leaves it alone unless
# --force names the process.
if [ -z "${SHMG_EXEC_WRAPPER-}" ]; then
	mkfifo "$work/held"
	for how in hold-unmapped hold; do
		cp "$d/healthy.pinfo.shm" "$work/$how.pinfo.shm"
		$fixtures --$how "$work/$how.pinfo.shm" >"$work/held" &
		holder=$!
		read -r line <"$work/held" # a handshake: it holds the lock now
		[ "$line" = held ] || fail "$how fixture said '$line'"
		if [ $how = hold-unmapped ]; then
			t 3 "inspect a lock held by a process that does not map the file" \
				$tool inspect --interval 0 "$work/$how.pinfo.shm"
			has "held by live process $holder, which does not map the file" "planted lock alert"
		else
			t 0 "inspect a lock held by a live mapper, briefly" \
				$tool inspect --interval 0 "$work/$how.pinfo.shm"
			t 0 "watch a lock held too long" \
				$tool watch --passive --count 3 --interval 60ms --stuck 100ms "$work/$how.pinfo.shm"
			has "has been held by live process $holder for" "stuck lock alert"
		fi
		cp "$work/$how.pinfo.shm" "$work/before.pinfo"
		if [ $how = hold-unmapped ]; then
			# inspect's PROBLEM, and recover agrees: left alone (exit 3),
			# saying why and how to take it.
			t 3 "recover leaves a live holder that does not map the file alone" \
				$tool recover "$work/$how.pinfo.shm"
			has "left alone: the status lock is held by live thread $holder, which does not map the file" \
				"recover agrees with inspect"
			has "shmguard recover --force $holder" "recover names the way out"
		else
			t 0 "recover leaves a live holder alone" $tool recover "$work/$how.pinfo.shm"
			has "nothing (more) to recover" "a locker at work"
		fi
		same "$work/$how.pinfo.shm" "$work/before.pinfo" "recover without --force"
		t 0 "recover --force" $tool recover --force $holder "$work/$how.pinfo.shm"
		has "recover the status lock from live (named by force_pid) thread $holder" "--force $how"
		t 0 "inspect after --force" $tool inspect --interval 0 "$work/$how.pinfo.shm"
		kill $holder
		wait $holder 2>/dev/null
	done
	t 2 "recover --force without a PID" $tool recover --force "$work/hold.pinfo.shm"
	t 2 "recover --force 0" $tool recover --force 0 "$work/hold.pinfo.shm"
fi

# ---- bench
t 0 "bench --quick atomic copy" env SHMG_BENCH_REPEATS=1 $tool bench --quick atomic copy
has "ours/peer" "bench table"
has "atomic.load_relaxed (vs builtin) .* ns .* ns .*[0-9]" "bench row"
has "copy.load.4KiB (vs memcpy) .* GB/s .* GB/s .*[0-9]" "bench row with a shared peer"
t 0 "bench --list" $tool bench --list
has "xlock" "bench list"

echo "tool: $checks checks, $fails failed"
[ $fails -eq 0 ]
