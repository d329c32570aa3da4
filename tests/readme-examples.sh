#!/bin/sh
# The C examples in README.md compile and work: each ```c block is
# extracted, compiled (with the build's sanitizer flags) with tests/readme_driver.c (which calls what the
# examples define) against the built library, and run.
set -eu
: "${CC:=cc}"
top=${srcdir:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$top/README.md" > "$work/readme.c"
[ -s "$work/readme.c" ] || { echo "FAIL: no C example found in README.md"; exit 1; }
lib=$(pwd)/.libs
$CC -std=gnu11 -Wall -Wextra -Werror -I"$top/include" -o "$work/readme" \
	"$work/readme.c" "$top/tests/readme_driver.c" "$lib/libshmguard.a" ${SHMG_TEST_FLAGS-}
${SHMG_EXEC_WRAPPER-} "$work/readme" # (qemu-<arch> in check-cross)
