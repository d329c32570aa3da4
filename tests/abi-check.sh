#!/bin/sh
# make abi-check / make abi-baseline (doc/abi.md): the ABI of the built
# library, as libabigail's abidw describes it from the public headers,
# against the committed baseline. Any difference fails, added functions
# included, until the baseline is updated on purpose (--update).
#   abi-check.sh [--update] BASELINE LIBRARY INCLUDE_DIR
set -u
update=0
[ "${1-}" = --update ] && { update=1; shift; }
[ $# -eq 3 ] || { echo "usage: abi-check.sh [--update] BASELINE LIBRARY INCLUDE_DIR" >&2; exit 2; }
baseline=$1 lib=$2 include=$3
for t in abidw abidiff; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "FAIL: $t is not installed (Debian: abigail-tools)"; exit 1; }
done
[ -f "$lib" ] || { echo "FAIL: $lib was not built"; exit 1; }
current=$(mktemp)
trap 'rm -f "$current"' EXIT
# Public headers only: internal types never become part of the ABI.
abidw --headers-dir "$include" --no-corpus-path --short-locs --no-comp-dir-path \
	--out-file "$current" "$lib" ||
	{ echo "FAIL: abidw could not read $lib (built without -g?)"; exit 1; }
if [ $update = 1 ]; then
	cp "$current" "$baseline"
	echo "abi: baseline $baseline updated from $lib"
	exit 0
fi
[ -s "$baseline" ] || { echo "FAIL: no baseline at $baseline (make abi-baseline)"; exit 1; }
# The opaque handles' insides are not part of the ABI (tests/abi/opaque.suppr).
if abidiff --suppressions "$(dirname "$0")/abi/opaque.suppr" "$baseline" "$current"; then
	echo "ok: the ABI of $lib equals the baseline"
	exit 0
fi
echo "FAIL: the ABI changed (above). If that is intended, update the baseline with"
echo "      make abi-baseline, and the version node and -version-info as doc/abi.md says."
exit 1
