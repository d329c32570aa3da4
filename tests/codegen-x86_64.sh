#!/bin/sh
# Zero overhead on x86-64, checked on the code the compiler emits at -O2:
# acquire loads and release stores are plain movs, acquire/release/acq_rel
# fences and compiler barriers emit nothing, a relaxed inc_orig and a cmpxchg
# are one locked instruction each, relaxed accesses are neither coalesced nor
# hoisted. Controls (a seq_cst store, plain stores, a plain spin) show that
# each check can fail. Skipped (77) on other targets.
set -u
: "${CC:=cc}"
case "$($CC -dumpmachine 2>/dev/null)" in
x86_64-*) ;;
*) echo "SKIP: not an x86-64 compiler"; exit 77 ;;
esac
asm=$(mktemp)
trap 'rm -f "$asm"' EXIT
$CC -std=gnu11 -O2 -fno-asynchronous-unwind-tables -fcf-protection=none \
	-I"${srcdir:-.}/include" -S -o "$asm" "${srcdir:-.}/tests/codegen/x86_64.c" || exit 1

# The instructions of one function (directives and labels dropped).
body() {
	awk -v f="$1" '$0 == f":" {on = 1; next} on && /^\t\.size/ {on = 0} on' "$asm" |
		grep -v -E '^\s*\.|^\.?[A-Za-z0-9_]+:' | sed 's/^\s*//'
}
status=0
check() { # name, description, shell test on $b
	b=$(body "$1")
	if eval "$3"; then echo "ok: $1: $2"; else
		echo "FAIL: $1: $2"; printf '%s\n' "$b" | sed 's/^/    /'; status=1; fi
}
count() { printf '%s\n' "$b" | grep -c -E "$1"; }
fenced='mfence|lock|xchg|lfence|sfence'

check cg_load_acquire "one plain mov, no fence" '[ "$(count "^mov")" -eq 1 ] && [ "$(count "$fenced")" -eq 0 ]'
check cg_load_dependency "one plain mov, no fence" '[ "$(count "^mov")" -eq 1 ] && [ "$(count "$fenced")" -eq 0 ]'
check cg_store_release "one plain mov, no fence" '[ "$(count "^mov")" -eq 1 ] && [ "$(count "$fenced")" -eq 0 ]'
check cg_store_seq_cst "control: seq_cst store is fenced" '[ "$(count "$fenced")" -ge 1 ]'
for f in cg_fence_acquire cg_fence_release cg_fence_acq_rel cg_compiler_barrier; do
	check $f "emits no instruction but ret" '[ "$(printf "%s\n" "$b" | grep -v -c "^ret")" -eq 0 ]'
done
check cg_fence_seq_cst "emits one full fence" '[ "$(count "mfence|lock or")" -eq 1 ]'
check cg_inc_orig_relaxed "one locked instruction (lock xadd)" '[ "$(count "^lock")" -eq 1 ] && [ "$(count "xadd")" -eq 1 ]'
check cg_cmpxchg "one lock cmpxchg" '[ "$(count "^lock")" -eq 1 ] && [ "$(count "cmpxchg")" -eq 1 ]'
check cg_four_stores "four stores stay four" '[ "$(count "^movl\s+\\\$[0-9]+, \(%rdi\)")" -eq 4 ]'
check cg_four_plain_stores "control: plain stores coalesce to one" '[ "$(count "^movl\s+\\\$[0-9]+, \(%rdi\)")" -eq 1 ]'
# A loop that reloads: a load from (%rdi) after the loop label, then a jump back.
check cg_spin "the loop reloads the word" '[ "$(awk -v f=cg_spin "\$0 == f\":\" {on=1} on && /^\t\\.size/ {on=0} on && /^\\.L[0-9]+:/ {inloop=1} inloop && on && /\\(%rdi\\)/ {print; exit}" "$asm" | wc -l)" -eq 1 ]'
check cg_plain_spin "control: plain spin loops without reloading" '[ "$(awk -v f=cg_plain_spin "\$0 == f\":\" {on=1} on && /^\t\\.size/ {on=0} on && /^\\.L[0-9]+:/ {inloop=1} inloop && on && /\\(%rdi\\)/ {print; exit}" "$asm" | wc -l)" -eq 0 ]'
exit $status
