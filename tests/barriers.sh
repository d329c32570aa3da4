#!/bin/sh
# The barriers each protocol needs, found in the compiled library (not only
# in the header's atomics, which tests/codegen-x86_64.sh and check-cross
# check). For each protocol function, the instructions it must contain:
#
#   x86-64: the seq_cst fence itself (mfence, or GCC's lock or of 0 to the
#     stack) where it orders a store before a later load (the Dekker
#     handshakes: the publish and its sleepers, the wait's announcement,
#     the pin and the writer's pick); not any lock-prefixed RMW, since
#     other RMWs in the same function (the announcing OR, a CAS) are no
#     fence between the store and the load that matter; lfence/sfence
#     after large copies (lib/memcpy.c). Release and
#     acquire fences emit nothing on x86 (TSO), so they are checked on
#   aarch64: dmb ish (release and seq_cst fences), dmb ishld (acquire
#     fences), ldar (acquire loads), stlr (release stores).
#
# Usage (from a build directory):
#   tests/barriers.sh             the library built here (its architecture),
#                                 and, with aarch64-linux-gnu-gcc installed,
#                                 the protocol sources compiled for aarch64
#   tests/barriers.sh FILE...     those objects or archives (check-cross)
# SHMG_BARRIERS_AARCH64=require makes a missing cross compiler a skip (77)
# instead of a note (tests/mutants/ use it: a mutant only aarch64 shows
# must not pass as killed when nothing looked).
set -u
srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
failed=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# The rules: "arch|functions (one may be inlined into another)|ERE or A~B|why".
rules() {
	cat <<'RULES'
x86_64|shmg_wflag_publish wake_sleepers|mfence|lock or[lq]? +\$0x0,\(%[re]sp\)|publish: the counter and mark stores before the look at the waiters byte (Dekker with sleepers, tests/spin/wflag_wake.pml)
x86_64|shmg_wflag_abort wake_sleepers|mfence|lock or[lq]? +\$0x0,\(%[re]sp\)|abort: the mark store before the look at the waiters byte
x86_64|shmg_wflag_wait_update wflag_wait announce_then_look|mfence|lock or[lq]? +\$0x0,\(%[re]sp\)|wait: the announcement before the look at the counter (Dekker with the publish)
x86_64|shmg__wflag_pick|mfence|lock or[lq]? +\$0x0,\(%[re]sp\)|pick: the zeroed sequence word before the look at the pins (tests/spin/wflag_pin.pml)
x86_64|shmg_wflag_pin|mfence|lock or[lq]? +\$0x0,\(%[re]sp\)|pin: the announcement before the re-check of the copy's number
x86_64|shmg_atomic_load_memcpy_explicit|lfence|load copy: string loads ordered before the re-checks (lib/memcpy.c)
x86_64|shmg_atomic_store_memcpy_explicit|sfence|store copy: string stores ordered before the publish (lib/memcpy.c)
aarch64|shmg_wflag_begin_timed begin|dmb[[:space:]]+ish$|begin: the release fence keeping the frame's stores behind the mark (tests/spin/seqlock.pml, NO_WRITER_FENCE)
aarch64|shmg_wflag_publish wake_sleepers|stlr|publish: the release stores of the copy's number, the index, the counter and the mark
aarch64|shmg_wflag_publish wake_sleepers|dmb[[:space:]]+ish$|publish: the seq_cst fence before the look at the waiters byte
aarch64|shmg_wflag_wait_update wflag_wait announce_then_look|dmb[[:space:]]+ish$|wait: the seq_cst fence after the announcement
aarch64|shmg__wflag_pick|dmb[[:space:]]+ish$|pick: the seq_cst fence before the look at the pins
aarch64|shmg_wflag_pin|dmb[[:space:]]+ish$|pin: the seq_cst fence after the announcement
aarch64|shmg_wflag_pin|ldar|pin: the acquire loads of the index and the copy's number
aarch64|shmg_wflag_pin|stlr~dmb[[:space:]]+ish$|pin: the announcement, a release store right before the seq_cst fence (tests/spin/wflag_repin.pml, mutant RELAXED_ANNOUNCE)
aarch64|shmg_wflag_unpin|stlx?r|unpin: the release store (or the release half of its exchange) ending the reads of the copy
aarch64|shmg_wflag_read read_single|ldar|seqlock read: the acquire loads of the counter and the mark
aarch64|shmg_atomic_load_memcpy_explicit load_fence|dmb[[:space:]]+ishld|load copy: the acquire fence keeping the re-checks after the copy
aarch64|shmg_atomic_store_memcpy_explicit store_fence|dmb[[:space:]]+ish$|store copy: the release fence keeping the copy after the mark
RULES
}

# The bodies of functions (a name, or the name with a compiler suffix such
# as .constprop.0) in objdump's listing $1, for the names in $2.
bodies() {
	awk -v names="$2" '
		BEGIN { n = split(names, w, " "); for (i = 1; i <= n; i++) want[w[i]] = 1 }
		/^[0-9a-f]+ <[^>]+>:$/ {
			name = $2; sub(/^</, "", name); sub(/>:$/, "", name)
			base = name; sub(/\..*$/, "", base)
			on = (base in want); next
		}
		/^$/ { on = 0 }
		on { print }
	' "$1"
}

# has_barrier ERE BODY: an instruction of BODY matches ERE; an ERE of the
# form A~B asks for an instruction matching A followed, within the next two
# instructions, by one matching B (a store and the fence right after it,
# told apart from the function's other stores of the same kind).
has_barrier() {
	case $1 in
	*~*) awk -v a="${1%%~*}" -v b="${1#*~}" '
		$0 ~ a { left = 3; next }
		left > 0 { left--; if ($0 ~ b) { found = 1; exit } }
		END { exit !found }' "$2" ;;
	*) grep -Eq "$1" "$2" ;;
	esac
}

# audit ARCH LISTING WHAT
audit() {
	arch=$1 listing=$2 what=$3 n=0
	# The ERE may hold '|': it is every field between the names and the
	# last one.
	rules | awk -F'|' -v a="$arch" '$1 == a { re = $3; for (i = 4; i < NF; i++) re = re "|" $i;
		print $2 "\t" re "\t" $NF }' > "$tmp/rules"
	while IFS='	' read -r funcs re why; do
		bodies "$listing" "$funcs" > "$tmp/body"
		if [ ! -s "$tmp/body" ]; then
			echo "FAIL $what: none of [$funcs] found"; failed=1; continue
		fi
		if has_barrier "$re" "$tmp/body"; then
			n=$((n + 1))
		else
			echo "FAIL $what: [$funcs] has no $re: $why"; failed=1
		fi
	done < "$tmp/rules"
	echo "$what: $n barrier rules hold"
}

arch_of() {
	case $(${READELF:-readelf} -h "$1" 2>/dev/null | grep -m1 'Machine:') in
	*X86-64*) echo x86_64 ;;
	*AArch64*) echo aarch64 ;;
	*) echo other ;;
	esac
}

audit_files() {
	for f in "$@"; do
		arch=$(arch_of "$f")
		case $arch in
		x86_64) od=${OBJDUMP:-objdump} ;;
		aarch64) od=aarch64-linux-gnu-objdump
			command -v $od >/dev/null 2>&1 || od=${OBJDUMP:-objdump} ;;
		*) echo "$f: no barrier rules for its architecture"; continue ;;
		esac
		"$od" -d --no-show-raw-insn "$f" > "$tmp/listing" || { failed=1; continue; }
		audit "$arch" "$tmp/listing" "$arch $(basename "$f")"
	done
}

if [ $# -gt 0 ]; then
	audit_files "$@"
	exit $failed
fi

case ${SHMG_TEST_FLAGS-} in
*sanitize=thread*) echo "skip: ThreadSanitizer turns fences into calls"; exit 77 ;;
esac
lib=.libs/libshmguard.so
[ -f "$lib" ] || lib=.libs/libshmguard.a
[ -f "$lib" ] || { echo "no library built here"; exit 99; }
audit_files "$lib"

# The protocol sources compiled for aarch64 (objects only: no target
# libraries needed), as the library's build compiles them.
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
	for f in wflag wflag_read wflag_pin memcpy; do
		aarch64-linux-gnu-gcc -std=gnu11 -O2 -fvisibility=hidden -I. -I"$top/include" \
			-I"$top/lib" -c -o "$tmp/$f.o" "$top/lib/$f.c" || exit 99
	done
	ld_r() { aarch64-linux-gnu-ld -r -o "$tmp/protocols.o" "$tmp"/wflag.o "$tmp"/wflag_read.o \
		"$tmp"/wflag_pin.o "$tmp"/memcpy.o; }
	ld_r || exit 99
	audit_files "$tmp/protocols.o"
elif [ "${SHMG_BARRIERS_AARCH64-}" = require ]; then
	echo "skip: no aarch64-linux-gnu-gcc to compile the protocols for aarch64"
	exit 77
else
	echo "aarch64: not audited here (no aarch64-linux-gnu-gcc); make check-cross CROSS_ARCHES=aarch64 does"
fi
exit $failed
