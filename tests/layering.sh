#!/bin/sh
# Layers call downward only (doc/abi.md): the tool and the examples use the
# public headers alone (the build compiles them with -I include and nothing
# else; this also catches a quoted include of a library or test file), no
# client of the library includes another client's internals, and the lower
# layers know nothing of the guards and clients above them.
set -u
top=${srcdir:-.}
status=0
fail() { echo "FAIL: $*"; status=1; }

# tools/ and examples/: public headers, system headers, the tool's own.
bad=$(grep -nE '#include +"[^"]*(lib/|tests/|_internal\.h|config\.h)' \
	"$top"/tools/*.c "$top"/tools/*.h "$top"/tools/bench/*.c "$top"/tools/bench/*.h \
	"$top"/examples/*.c 2>/dev/null)
[ -z "$bad" ] || fail "tools or examples include library or test internals: $bad"

# includes of library internals by a set of files: "file: header" lines
uses() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		sed -n 's/^#include "\([a-z_]*\.h\)".*/\1/p' "$f" | sed "s|^|$(basename "$f"): |"
	done
}
forbid() { # forbid WHAT PATTERN FILES...
	what=$1 pattern=$2
	shift 2
	hits=$(uses "$@" | grep -E ": ($pattern)$" || true)
	[ -z "$hits" ] || fail "$what: $(echo $hits)"
}
lib=$top/lib
forbid "the ImageStreamIO client includes milk internals" 'milk_[a-z_]*\.h' "$lib"/isio*.c "$lib"/isio*.h
forbid "the milk client includes ImageStreamIO internals" 'isio_[a-z_]*\.h' "$lib"/milk*.c "$lib"/milk*.h
forbid "a guard includes a client's internals" '(isio|milk)_[a-z_]*\.h' \
	"$lib"/wflag*.c "$lib"/wflag*.h "$lib"/xlock*.c "$lib"/xlock*.h
forbid "a lower layer includes a guard's or a client's internals" '(wflag|xlock|isio|milk)_[a-z_]*\.h' \
	"$lib"/region*.c "$lib"/proc*.c "$lib"/wait*.c "$lib"/memcpy.c "$lib"/shmdir.c \
	"$lib"/text.c "$lib"/error.c "$lib"/recover.c
# The write flag and the lock are peers: neither includes the other.
forbid "the write flag includes the lock's internals" 'xlock_[a-z_]*\.h' "$lib"/wflag*.c "$lib"/wflag*.h
forbid "the lock includes the write flag's internals" 'wflag_[a-z_]*\.h' "$lib"/xlock*.c "$lib"/xlock*.h
# /proc is read in the process-identity module only.
procs=$(grep -l '"/proc' "$lib"/*.c | grep -v '/proc[a-z_]*\.c$' || true)
[ -z "$procs" ] || fail "files outside the process-identity module read /proc: $procs"

[ $status -ne 0 ] || echo "ok: tools and examples on public headers; layers call downward only"
exit $status
