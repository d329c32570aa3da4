#!/bin/sh
# make mutants: plant each realistic bug of tests/mutants/*.diff in turn and
# expect the suites it names to fail (tests/mutants/README.md).
#
#   tests/mutants/run.sh [NAME ...]      (default: every tests/mutants/*.diff)
#
# One copy of the source tree and one build directory, kept between runs in
# $MUTANTS_DIR (default ./_mutants): each mutant is patched in, the two
# libraries and its suites rebuilt (only what the patch touched compiles
# again), its suites run with `make check-TESTS`, and the files it touched
# restored. First, every named suite must pass on the unmutated copy, or a
# kill would mean nothing. One line per mutant (killed, SURVIVED, did not
# apply, did not build); exits non-zero unless every mutant is killed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${MUTANTS_DIR:-$(pwd)/_mutants}
jobs=${MUTANTS_JOBS:-2}
src=$work/src
build=$work/build
mkdir -p "$src" "$build" || exit 2
# A mutant only the aarch64 barrier audit shows must not pass for killed
# when no aarch64 compiler looked (tests/barriers.sh skips instead).
SHMG_BARRIERS_AARCH64=require
export SHMG_BARRIERS_AARCH64
log=$work/log
: > "$log"

say() { printf '%s\n' "$*"; }

# The tree's files: git's list where there is one (tracked and new files,
# as they are in the work tree), else everything but build products.
list_files() {
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" ls-files -co --exclude-standard
	else
		(cd "$top" && find . -type f ! -path './_*' ! -path './.git/*' \
			! -path './autom4te.cache/*' | sed 's|^\./||')
	fi
}

# Bring the copy up to date; a file copied gets a new time, so make
# rebuilds what depends on it (and nothing else).
sync_copy() {
	list_files | while IFS= read -r f; do
		[ -f "$top/$f" ] || continue
		if ! cmp -s "$top/$f" "$src/$f"; then
			mkdir -p "$src/$(dirname "$f")" && cp "$top/$f" "$src/$f" || return 1
		fi
	done
}

# The files a mutant touches (its "+++ b/..." lines).
touched() {
	sed -n 's|^+++ [^/]*/\([^	 ]*\).*|\1|p' "$1"
}

# Its suites (the "# suite:" lines).
suites_of() {
	sed -n 's/^# suite:[	 ]*//p' "$1" | tr '\n' ' '
}

restore() {
	for f in $(touched "$1"); do
		cp "$top/$f" "$src/$f" || return 1
	done
}

# Build the libraries and the suites' programs, then run the suites. 0: all
# pass; 1: a suite failed; 2: the build failed.
run_suites() {
	progs=
	for t in $1; do
		case $t in *.sh) ;; *) progs="$progs $t" ;; esac
	done
	(cd "$build" && make -s -j"$jobs" libshmguard.la libshmguard-testing.la $progs) \
		>>"$log" 2>&1 || return 2
	if ! (cd "$build" && make -s check-TESTS TESTS="$1" check_PROGRAMS="$progs") >>"$log" 2>&1; then
		# What failed, for the log: check's failure lines, the scripts' FAIL lines.
		for t in $1; do
			grep -E ':[FE]:|^FAIL|^skip' "$build/${t%.sh}.log" >>"$log" 2>/dev/null
		done
		return 1
	fi
	return 0
}

if [ $# -gt 0 ]; then
	mutants=
	for n in "$@"; do mutants="$mutants $top/tests/mutants/${n%.diff}.diff"; done
else
	mutants=$(ls "$top"/tests/mutants/*.diff)
fi

t0=$(date +%s)
sync_copy || { say "mutants: copying the tree into $src failed"; exit 2; }
if [ ! -f "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ] ||
	[ "$src/Makefile.am" -nt "$src/Makefile.in" ]; then
	(cd "$src" && autoreconf -fi) >>"$log" 2>&1 || { say "mutants: autoreconf failed ($log)"; exit 2; }
fi
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && "$src/configure" -q) >>"$log" 2>&1 || { say "mutants: configure failed ($log)"; exit 2; }
fi

# The baseline: every suite a mutant names passes on the unmutated tree.
all_suites=$(for m in $mutants; do suites_of "$m"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
run_suites "$all_suites"
case $? in
0) say "baseline: the named suites pass on the unmutated tree ($all_suites)" ;;
*) say "mutants: the suites fail on the unmutated tree ($log): $all_suites"; exit 2 ;;
esac

total=0 killed=0 bad=0
for m in $mutants; do
	name=$(basename "$m" .diff)
	total=$((total + 1))
	suites=$(suites_of "$m")
	if [ -z "$suites" ]; then
		say "no suite  $name (a '# suite:' line is needed)"; bad=$((bad + 1)); continue
	fi
	echo "== $name: $suites" >>"$log"
	if ! (cd "$src" && patch -p1 -s --dry-run <"$m") >>"$log" 2>&1 ||
		! (cd "$src" && patch -p1 -s --no-backup-if-mismatch <"$m") >>"$log" 2>&1; then
		say "did not apply  $name"; bad=$((bad + 1)); restore "$m"; continue
	fi
	run_suites "$suites"
	rc=$?
	restore "$m" || { say "mutants: restoring $name's files failed"; exit 2; }
	case $rc in
	0) say "SURVIVED  $name ($suites)"; bad=$((bad + 1)) ;;
	1) say "killed    $name ($suites)"; killed=$((killed + 1)) ;;
	*) say "did not build  $name ($log)"; bad=$((bad + 1)) ;;
	esac
done
say "mutants: $killed of $total killed in $(($(date +%s) - t0)) s (log: $log)"
[ "$bad" -eq 0 ]
