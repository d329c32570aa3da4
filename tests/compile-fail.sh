#!/bin/sh
# Each tests/compile-fail/*.c must fail to compile with the message its
# "expect:" line names; ok.c (expect: OK) must compile, so a broken harness
# (wrong include path, missing compiler) fails instead of passing vacuously.
set -u
: "${CC:=cc}"
src=${srcdir:-.}/tests/compile-fail
inc=${srcdir:-.}/include
status=0
for f in "$src"/*.c; do
	want=$(sed -n 's|^/\* expect: \(.*\) \*/$|\1|p' "$f" | head -n 1)
	out=$($CC -std=gnu11 -I"$inc" -fsyntax-only "$f" 2>&1)
	rc=$?
	name=$(basename "$f")
	if [ "$want" = "OK" ]; then
		if [ $rc -ne 0 ]; then
			echo "FAIL: $name should compile:"; echo "$out"; status=1
		else
			echo "ok: $name compiles"
		fi
	elif [ $rc -eq 0 ]; then
		echo "FAIL: $name compiled, expected: $want"; status=1
	elif ! printf '%s\n' "$out" | grep -qF -- "$want"; then
		echo "FAIL: $name failed without '$want':"; echo "$out"; status=1
	else
		echo "ok: $name refused ($want)"
	fi
done
exit $status
