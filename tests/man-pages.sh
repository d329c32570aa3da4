#!/bin/sh
# The manual pages: every page renders without a warning, every public
# function and atomic macro has a page (its own, or a .so alias of its
# family's page) and appears in that page's SYNOPSIS, and doc/man/man3.am
# installs exactly the pages that exist.
set -u
top=${srcdir:-.}
man_dir=$top/doc/man
status=0
fail() { echo "FAIL: $*"; status=1; }

if command -v man >/dev/null 2>&1; then
	for page in "$man_dir"/*.3 "$man_dir"/*.1; do
		grep -q '^\.so ' "$page" && continue
		warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		[ -z "$warn" ] || fail "$(basename "$page") renders with warnings: $warn"
	done
elif [ "${SHMG_REQUIRE_MAN-0}" = 1 ]; then
	fail "man is not installed, and SHMG_REQUIRE_MAN=1 (CI) requires rendering the pages"
else
	echo "note: man is not installed; pages not rendered"
fi

# Public names: exported functions, and the atomics' and copies' macros
# (shmg__ names are internal).
names=$( (sed -n 's/.*SHMG_EXPORT[^(]* \**\(shmg_[a-z0-9_]*\)(.*/\1/p' "$top"/include/shmguard/*.h
	sed -n 's/^#define \(shmg_[a-z0-9_]*\)(.*/\1/p' "$top"/include/shmguard/atomic.h \
		"$top"/include/shmguard/memcpy.h) | grep -v "^shmg__" | sort -u)
[ -n "$names" ] || fail "no public names found in the headers"
for name in $names; do
	page=$man_dir/$name.3
	if [ ! -f "$page" ]; then
		fail "$name has no page (doc/man/$name.3)"
		continue
	fi
	target=$page
	if grep -q '^\.so ' "$page"; then
		target=$man_dir/$(sed -n 's|^\.so man3/||p' "$page")
		[ -f "$target" ] || { fail "$name.3 points to a missing page"; continue; }
	fi
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$target" | grep -q "$(echo "$name" | sed 's/_/\\_/g')(" ||
		fail "$name is not in the SYNOPSIS of $(basename "$target")"
done

# man3.am lists exactly the pages that exist.
listed=$(grep -o 'doc/man/[a-z0-9_]*\.3' "$man_dir/man3.am" | sort)
present=$(cd "$top" && ls doc/man/*.3 | sort)
[ "$listed" = "$present" ] || fail "doc/man/man3.am does not list exactly the pages in doc/man"

[ $status -ne 0 ] || echo "ok: $(echo "$names" | wc -l) public names documented; pages render cleanly"
exit $status
