#!/bin/bash
# check-cross.sh [ARCH...]: build shmguard and its unit suites with Debian 12's
# cross compilers and run them under qemu-user. ARCH: aarch64 ppc64le riscv64
# (default: all three). Run by make check-cross, from a separate build
# directory or from a tree configured in place.
#
# Installs what it needs (root, apt). arm64 and ppc64el get check and libbsd
# through Debian multiarch; riscv64 is not a release architecture of Debian 12,
# so its check, libbsd and libmd are cross-built from Debian's own source
# packages (apt-get source) into a sysroot under the build directory.
#
# qemu-user on x86-64 runs the guest with x86 memory ordering: this checks
# code generation (fences, LL/SC loops, out-of-line atomics), not weak-memory
# reordering. See doc/cross.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(pwd)
if [ -f "$top/config.status" ]; then
	# The source tree is configured in place, so configure refuses to build
	# it again in another directory ("source directory already
	# configured"): cross-build from a clean copy of the distributed tree.
	echo "check-cross: the source tree is configured in place; using a clean copy (make distdir)"
	rm -rf "$build/_cross-tree"
	make -s -C "$top" distdir distdir="$build/_cross-tree" >/dev/null
	top=$build/_cross-tree
fi
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(aarch64 ppc64le riscv64)
export DEBIAN_FRONTEND=noninteractive
jobs=$(nproc 2>/dev/null || echo 2)
summary=()

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

apt_install() {
	local missing=() p
	for p in "$@"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "check-cross: installing ${missing[*]}"
	# A partial index refresh (a mirror mid-sync for one architecture) is not fatal.
	apt-get update -qq || true
	apt-get install -y -qq "${missing[@]}" >/dev/null
}

add_foreign_arch() {
	dpkg --print-foreign-architectures | grep -qx "$1" && return 0
	dpkg --add-architecture "$1"
	apt-get update -qq || true
}

# riscv64: libmd, libbsd and check from Debian's source packages, static.
riscv_sysroot() {
	local triplet=$1 sysroot=$2 src=$build/_cross-src
	[ -f "$sysroot/.done" ] && return 0
	if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
		cat > /etc/apt/sources.list.d/shmguard-deb-src.sources <<-SRC
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		apt-get update -qq || true
	fi
	apt_install dpkg-dev
	rm -rf "$src" && mkdir -p "$src" && cd "$src"
	apt-get source -qq libmd libbsd check >/dev/null 2>&1
	local pkg
	for pkg in libmd libbsd check; do
		cd "$src"/"$pkg"-[0-9]*/
		# (--disable-build-docs: check only; the others ignore it)
		./configure -q --host="$triplet" --prefix="$sysroot" --disable-shared --enable-static --disable-build-docs \
			PKG_CONFIG_LIBDIR="$sysroot/lib/pkgconfig" CPPFLAGS="-I$sysroot/include" \
			LDFLAGS="-L$sysroot/lib" >/dev/null
		make -s -j"$jobs" >/dev/null 2>&1 || make -j"$jobs"
		make -s install >/dev/null
	done
	# Debian's check.pc names libcheck_pic (which debian/rules, not make
	# install, produces); the static libcheck.a is that library here.
	ln -sf libcheck.a "$sysroot/lib/libcheck_pic.a"
	# A static-only sysroot: libbsd installs an ld script named libbsd.so
	# even then, which a plain -lbsd would pick over libbsd.a.
	rm -f "$sysroot"/lib/*.so
	cd "$build"
	touch "$sysroot/.done"
}

for arch in "${arches[@]}"; do
	case $arch in
	aarch64) triplet=aarch64-linux-gnu debarch=arm64 ;;
	ppc64le) triplet=powerpc64le-linux-gnu debarch=ppc64el ;;
	riscv64) triplet=riscv64-linux-gnu debarch=riscv64 ;;
	*) echo "check-cross: unknown architecture $arch" >&2; exit 2 ;;
	esac
	qemu=qemu-$arch
	echo "== $arch ($triplet)"
	t0=$(date +%s)
	apt_install "gcc-$triplet" "g++-$triplet" qemu-user pkg-config
	pcdir="/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig"
	pkgconfig=pkg-config
	# Multiarch targets run with the multiarch loader and libc (/lib/$triplet,
	# the same ones check and libbsd were built against): mixing in the cross
	# toolchain's older libc from /usr/$triplet breaks ppc64el programs
	# ("stack smashing detected" in the loader). riscv64 has only the latter.
	ldprefix=
	if [ "$arch" = riscv64 ]; then
		ldprefix=/usr/$triplet
		sysroot=$build/_cross-sysroot-$arch
		riscv_sysroot "$triplet" "$sysroot"
		pcdir="$sysroot/lib/pkgconfig"
		pkgconfig="pkg-config --static"
	else
		add_foreign_arch "$debarch"
		apt_install "check:$debarch" "libbsd-dev:$debarch"
	fi
	t1=$(date +%s)
	dir=$build/_cross-$arch
	mkdir -p "$dir" && cd "$dir"
	[ -f Makefile ] || "$top/configure" -q --host="$triplet" --disable-shared \
		PKG_CONFIG="$pkgconfig" PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH= >/dev/null
	make -s -j"$jobs" >/dev/null
	t2=$(date +%s)
	# Test programs run under qemu; the test scripts (.sh) run on the host.
	# Debian 12's qemu-user (7.2) on this kernel never runs a second guest
	# task: a forked child or a new thread hangs at its first instruction
	# (doc/cross.md). So check runs tests in-process (CK_FORK=no), and the
	# test cases that start worker processes or threads (tag "workers") are
	# left to the native and sanitizer runs.
	QEMU_LD_PREFIX=$ldprefix CK_FORK=no CK_EXCLUDE_TAGS=workers SHMG_EXEC_WRAPPER=$qemu make -s -j"$jobs" check LOG_COMPILER="$qemu"
	if [ "$arch" = aarch64 ]; then
		# The LL/SC rmw_loop is inline; a plain CAS loop calls libgcc.
		"$triplet-gcc" -std=gnu11 -O2 -I"$top/include" -c -o codegen-aarch64.o "$top/tests/codegen/aarch64.c"
		dis=$("$triplet-objdump" -d --no-show-raw-insn codegen-aarch64.o)
		ours=$(printf '%s\n' "$dis" | awk '/<cg_rmw_loop>:/{on=1;next} /^$/{on=0} on')
		peer=$(printf '%s\n' "$dis" | awk '/<cg_cas_loop>:/{on=1;next} /^$/{on=0} on')
		if printf '%s\n' "$ours" | grep -q 'ldaxr' && printf '%s\n' "$ours" | grep -q 'stlxr' &&
			! printf '%s\n' "$ours" | grep -q 'bl\s' && printf '%s\n' "$peer" | grep -q 'bl\s'; then
			echo "ok: rmw_loop is an inline ldaxr/stlxr loop; the CAS loop calls out of line"
		else
			echo "FAIL: aarch64 codegen"; echo "rmw_loop:"; echo "$ours"; echo "cas loop:"; echo "$peer"
			exit 1
		fi
		# The dependency order: no acquire load and no barrier where an
		# address dependency orders the loads; the acquire control has one.
		dep=$(printf '%s\n' "$dis" | awk '/<cg_dependency_chain>:/{on=1;next} /^$/{on=0} on')
		acq=$(printf '%s\n' "$dis" | awk '/<cg_acquire_chain>:/{on=1;next} /^$/{on=0} on')
		if ! printf '%s\n' "$dep" | grep -Eq 'ldar|ldapr|dmb' && printf '%s\n' "$dep" | grep -q 'eor' &&
			printf '%s\n' "$acq" | grep -Eq 'ldar|ldapr'; then
			echo "ok: a dependency chain has no acquire load or barrier; the acquire control has"
		else
			echo "FAIL: aarch64 dependency codegen"; echo "dependency:"; echo "$dep"
			echo "acquire:"; echo "$acq"
			exit 1
		fi
	fi
	t3=$(date +%s)
	cd "$build"
	summary+=("$arch: install $((t1 - t0)) s, build $((t2 - t1)) s, tests $((t3 - t2)) s")
done
echo "== check-cross summary"
printf '%s\n' "${summary[@]}"
