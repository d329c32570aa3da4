#!/bin/sh
# The installed library exports exactly its documented API (doc/abi.md):
# the names `nm -D --defined-only` shows equal the names lib/libshmguard.sym
# lists, equal the SHMG_EXPORT declarations of the public headers; each has
# a manual page; none is internal (shmg__) or a test hook.
set -u
top=${srcdir:-.}
lib=.libs/libshmguard.so
status=0
fail() { echo "FAIL: $*"; status=1; }
if [ ! -f "$lib" ]; then
	# A static-only build (--disable-shared: check-cross) exports nothing.
	if grep -q "^dlname=''" libshmguard.la 2>/dev/null; then
		echo "SKIP: no shared library in this build (--disable-shared)"; exit 77
	fi
	echo "FAIL: $lib was not built"; exit 1
fi

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
	grep -v '^SHMGUARD_' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(shmg_[a-z0-9_]*\);$/\1/p' "$top/lib/libshmguard.sym" | sort -u)
declared=$(sed -n 's/.*SHMG_EXPORT[^(]*[ *]\(shmg_[a-z0-9_]*\)(.*/\1/p' "$top"/include/shmguard/*.h | sort -u)

[ -n "$exported" ] || fail "nothing exported"
diff_names() { # what a has that b lacks
	printf '%s\n' "$1" | while read -r n; do
		printf '%s\n' "$2" | grep -qx -- "$n" || printf '%s ' "$n"
	done
}
extra=$(diff_names "$exported" "$listed")
[ -z "$extra" ] || fail "exported but not in lib/libshmguard.sym: $extra"
missing=$(diff_names "$listed" "$exported")
[ -z "$missing" ] || fail "listed in lib/libshmguard.sym but not exported: $missing"
extra=$(diff_names "$exported" "$declared")
[ -z "$extra" ] || fail "exported but not declared SHMG_EXPORT in a public header: $extra"
missing=$(diff_names "$declared" "$exported")
[ -z "$missing" ] || fail "declared SHMG_EXPORT but not exported: $missing"
hooks=$(printf '%s\n' "$exported" | grep -E '^shmg__|test' || true)
[ -z "$hooks" ] || fail "internal or test names exported: $hooks"
for n in $exported; do
	[ -f "$top/doc/man/$n.3" ] || fail "$n has no manual page (doc/man/$n.3)"
done
# The test hooks exist in the test build only.
for h in shmg__test_point shmg__test_alive; do
	nm "$lib" 2>/dev/null | grep -q " $h\$" && fail "$h is in the installed library"
done
[ $status -ne 0 ] || echo "ok: $(printf '%s\n' "$exported" | wc -l) exported names, all documented, nothing else"
exit $status
