#!/bin/sh
# The FPS setter's commit on AArch64 (lib/milk_fps_param.c; doc/milk.md,
# "Real-time reads"): after the value's byte-wise atomic stores (the call of
# shmg_atomic_store_memcpy_explicit), the store of cnt0 + 1 must be a
# release store (stlr), or a full barrier (dmb ish) must lie between them.
# With a plain str, the count can become visible before the value and a
# real-time reader accepts a torn value (tests/spin/fps_rt.pml, mutant
# RELAXED_CNT). x86 keeps every store in order, so no test run there can
# show that; this checks what the compiler emits for AArch64 instead.
# A control compiles the file with the store relaxed and must fail the check.
# Uses $CC if it targets AArch64, else clang --target=aarch64-linux-gnu;
# skips (77) if neither compiles the file.
set -u
: "${CC:=cc}"
src=${srcdir:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags="-std=gnu11 -O2 -fno-asynchronous-unwind-tables -I$src/include -I$src/lib -I."

case "$($CC -dumpmachine 2>/dev/null)" in
aarch64-*) cc_a64=$CC ;;
*) cc_a64="clang --target=aarch64-linux-gnu" ;;
esac
# shellcheck disable=SC2086
if ! $cc_a64 $flags -S -o "$work/fps.s" "$src/lib/milk_fps_param.c" 2>"$work/cc.err"; then
	echo "SKIP: no compiler for AArch64 ($cc_a64):"; sed 's/^/    /' "$work/cc.err" | head -5
	exit 77
fi

# ordered ASM FUNCTION: the first store after the value copy's call, not to
# the stack, is a release store, or a dmb ish (full, or store) comes first.
ordered() {
	awk -v f="$2" '
		$1 == f":" { on = 1; next }
		on && /^\t\.size/ { exit }
		!on { next }
		/\tbl\t+shmg_atomic_store_memcpy_explicit/ { called = 1; next }
		!called { next }
		/\tdmb\t+ish(st)?$/ { fenced = 1; next }
		/\tst[a-z0-9]*\t/ && !/\[sp/ {
			print (fenced || $1 ~ /^stl/) ? "ordered" : "unordered: " $0
			found = 1; exit
		}
		END { if (!found) print "no value copy followed by a store" }
	' "$1"
}

status=0
for fn in shmg_fps_set_locked shmg_fps_update; do
	got=$(ordered "$work/fps.s" "$fn")
	if [ "$got" = ordered ]; then
		echo "ok: $fn: cnt0 is stored with release order after the value"
	else
		echo "FAIL: $fn: $got"; status=1
	fi
done

# The control: the same file with cnt0 stored relaxed (the code before
# issue 18) must fail the check.
sed 's/shmg_atomic_store(fps_cnt0(f, i), c, release)/shmg_atomic_store(fps_cnt0(f, i), c, relaxed)/' \
	"$src/lib/milk_fps_param.c" >"$work/milk_fps_param.c"
if cmp -s "$src/lib/milk_fps_param.c" "$work/milk_fps_param.c"; then
	echo "FAIL: control: the release store of cnt0 was not found in lib/milk_fps_param.c"
	status=1
else
	# shellcheck disable=SC2086
	$cc_a64 $flags -S -o "$work/control.s" "$work/milk_fps_param.c" || exit 1
	got=$(ordered "$work/control.s" shmg_fps_set_locked)
	case "$got" in
	unordered:*) echo "ok: control: a relaxed cnt0 store is caught ($got)" ;;
	*) echo "FAIL: control: a relaxed cnt0 store passed the check ($got)"; status=1 ;;
	esac
fi
exit $status
