#!/bin/sh
# The Python binding's pytest suite (python/tests), against this build's
# library (.libs/libshmguard.so.1) and C examples. Needs a python3 that
# imports numpy, cffi and pytest: $PYTHON if set, else `python3` on PATH,
# else Debian's /usr/bin/python3 (a pyenv python3 may lack numpy). Skipped
# (77) when there is none, without a shared library, and in sanitizer
# builds (an instrumented library cannot be dlopen'ed by a plain python3).
set -u
top=${srcdir:-.}
py=
for c in ${PYTHON:-} python3 /usr/bin/python3; do
	command -v "$c" >/dev/null 2>&1 || continue
	if "$c" -c 'import numpy, cffi, pytest' >/dev/null 2>&1; then
		py=$c
		break
	fi
done
if [ -z "$py" ] && [ -n "${SHMG_REQUIRE_PYTHON:-}" ]; then
	echo "FAIL: SHMG_REQUIRE_PYTHON is set and no python3 imports numpy, cffi and pytest"
	exit 1
fi
if [ -z "$py" ]; then
	echo "SKIP: no python3 that imports numpy, cffi and pytest (Debian: python3-numpy python3-cffi python3-pytest)"
	exit 77
fi
case "${SHMG_TEST_FLAGS-}" in *-fsanitize*)
	echo "SKIP: sanitizer build: python3 cannot load an instrumented library"
	exit 77 ;;
esac
if [ -n "${SHMG_EXEC_WRAPPER:-}" ]; then
	echo "SKIP: cross build (the host's python3 cannot load a target library)"
	exit 77
fi
lib=$(pwd)/.libs/libshmguard.so.1
[ -f "$lib" ] || { echo "SKIP: no shared library ($lib): built with --disable-shared?"; exit 77; }
echo "python: $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
SHMGUARD_LIBRARY=$lib
SHMG_BUILDDIR=$(pwd)
SHMGUARD_BENCH_PEER=$(pwd)/python/shmg-py-peer
SHMG_SRCDIR=$top
PYTHONPATH=$top/python${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1 # the source tree may be read-only (distcheck)
export SHMGUARD_LIBRARY SHMG_BUILDDIR SHMGUARD_BENCH_PEER SHMG_SRCDIR PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$py" -m pytest -q -rs -p no:cacheprovider "$top/python/tests"
