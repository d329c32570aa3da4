#!/bin/sh
# Every ```c block in doc/*.md compiles (each page's blocks as one
# translation unit); doc/porting-imagestreamio.md's writer and reader are
# also linked with tests/doc_porting_driver.c and run against each other.
set -eu
: "${CC:=cc}"
top=${srcdir:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lib=$(pwd)/.libs
status=0 pages=0
for md in "$top"/doc/*.md; do
	name=$(basename "$md" .md)
	awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$md" > "$work/$name.c"
	[ -s "$work/$name.c" ] || continue
	pages=$((pages + 1))
	if ! $CC -std=gnu11 -Wall -Wextra -Werror -I"$top/include" -c -o "$work/$name.o" \
		"$work/$name.c" ${SHMG_TEST_FLAGS-} 2>"$work/err"; then
		echo "FAIL: the C examples of doc/$name.md do not compile:"
		cat "$work/err"
		status=1
	fi
done
[ $pages -gt 0 ] || { echo "FAIL: no C example found in doc/"; exit 1; }
if [ -f "$work/porting-imagestreamio.o" ]; then
	$CC -std=gnu11 -Wall -Wextra -Werror -I"$top/include" -I. -o "$work/porting" \
		"$work/porting-imagestreamio.o" "$top/tests/doc_porting_driver.c" "$lib/libshmguard.a" \
		${SHMG_TEST_FLAGS-} || { echo "FAIL: the porting example does not link"; exit 1; }
	${SHMG_EXEC_WRAPPER-} "$work/porting" || { echo "FAIL: the porting example"; status=1; }
fi
[ $status -ne 0 ] || echo "ok: the C examples of $pages doc page(s) compile and run"
exit $status
