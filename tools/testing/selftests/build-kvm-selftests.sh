#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# build-kvm-selftests.sh - build the kernel's own x86_64 KVM selftests from
# Debian's linux-source-6.1, statically, for the SVM test bed.
#
# The source package is installed when it is missing (apt-get, as root or
# through sudo).  Its tarball is extracted into a cache directory outside
# the repository and built there; a later run reuses the build as long as
# the source version, compat.h and this recipe are unchanged.  The
# programs end up, stripped of debug info, in one flat directory, which is
# printed on the last line of output (alone with --print-dir).
#
# Usage: build-kvm-selftests.sh [--print-dir] [--force] [--quiet]
#   --print-dir   print only the binary directory (after building if needed)
#   --force       rebuild even if the cache looks current
#   --quiet       no progress messages (errors still go to stderr)
#
# Environment:
#   NKVM_CACHE    cache root (default /var/cache/nkvm when it is writable,
#                 else ${XDG_CACHE_HOME:-~/.cache}/nkvm)
#   NKVM_SELFTESTS_SRC_PKG  source package (default linux-source-6.1)
#
# Layout of $NKVM_CACHE/kvm-selftests-6.1/:
#   src/linux-source-6.1/  the extracted tree (no drivers/, fs/, net/, ...)
#   compat.h               the forced include, copied from the repo
#   bin/                   the test programs, one flat directory
#   bin/TESTS              their names, one per line (what a list must cover)
#   bin/kvm-names.txt      "ioctl NUMBER NAME" and "cap NUMBER NAME" of the
#                          tree's <linux/kvm.h>, for the bed's ioctl trace
#   build.log              output of the last build
#   stamp                  what the build in bin/ was made from

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PKG=${NKVM_SELFTESTS_SRC_PKG:-linux-source-6.1}
TARBALL=/usr/src/$PKG.tar.xz
# Bump when the recipe below changes in a way that needs a rebuild.
RECIPE=4

PRINT_DIR=0
FORCE=0
QUIET=0
for a in "$@"; do
	case $a in
	--print-dir) PRINT_DIR=1; QUIET=1 ;;
	--force) FORCE=1 ;;
	--quiet | -q) QUIET=1 ;;
	-h | --help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "build-kvm-selftests: unknown option $a" >&2; exit 2 ;;
	esac
done

say() { [ $QUIET = 1 ] || echo "build-kvm-selftests: $*" >&2; }
die() { echo "build-kvm-selftests: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- cache

cache_root() {
	local c
	if [ -n "${NKVM_CACHE:-}" ]; then
		echo "$NKVM_CACHE"
		return
	fi
	c=/var/cache/nkvm
	if mkdir -p "$c" 2>/dev/null && [ -w "$c" ]; then
		echo "$c"
		return
	fi
	echo "${XDG_CACHE_HOME:-$HOME/.cache}/nkvm"
}

CACHE=$(cache_root)
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"
DIR=$CACHE/kvm-selftests-6.1
mkdir -p "$DIR"

# Several worktrees share the cache: one build at a time.
exec 8>"$DIR/lock"
if ! flock -n 8; then
	say "waiting for another build in $DIR"
	flock 8
fi

# ---------------------------------------------------------------- source

pkg_version() { dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true; }

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" = installed ]
}

if ! pkg_installed || [ ! -r "$TARBALL" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=()
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		die "$PKG is not installed, and neither root nor sudo is available"
	fi
	say "installing $PKG"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$PKG" >&2; then
		"${SUDO[@]}" apt-get update -q >&2
		"${SUDO[@]}" apt-get install -y -q --no-install-recommends "$PKG" >&2
	fi
	pkg_installed && [ -r "$TARBALL" ] || die "$PKG did not install $TARBALL"
fi
VERSION=$(pkg_version)

SRC=$DIR/src/$PKG
KVMDIR=$SRC/tools/testing/selftests/kvm
BIN=$DIR/bin

# What the binaries depend on: source, shim, recipe, compiler.
key() {
	printf 'package %s %s\nrecipe %s\ncompat %s\ncc %s\n' "$PKG" "$VERSION" \
		"$RECIPE" "$(sha256sum <"$HERE/compat.h" | cut -d' ' -f1)" \
		"$(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"
}
KEY=$(key)

if [ $FORCE = 0 ] && [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$KEY" ] &&
   [ -s "$BIN/TESTS" ]; then
	say "up to date ($PKG $VERSION)"
	[ $PRINT_DIR = 1 ] && echo "$BIN" || echo "kvm selftests: $BIN"
	exit 0
fi
rm -f "$DIR/stamp"

# A new source version, or a tree left half-extracted: extract again.
if [ ! -f "$DIR/src/version" ] || [ "$(cat "$DIR/src/version")" != "$VERSION" ] ||
   [ ! -f "$KVMDIR/Makefile" ]; then
	say "extracting $TARBALL ($VERSION) into $DIR/src"
	rm -rf "$DIR/src"
	mkdir -p "$DIR/src"
	# Only what `make headers` and the selftests need.
	nice -n 10 tar -xJf "$TARBALL" -C "$DIR/src" \
		--exclude="$PKG/drivers" --exclude="$PKG/Documentation" \
		--exclude="$PKG/sound" --exclude="$PKG/fs" --exclude="$PKG/net" \
		--exclude="$PKG/samples" --exclude="$PKG/rust" ||
		die "extracting $TARBALL failed"
	echo "$VERSION" >"$DIR/src/version"
fi

# ---------------------------------------------------------------- build

cp "$HERE/compat.h" "$DIR/compat.h"
EXTRA="-include $DIR/compat.h"
# The backported dirty_log_test needs TEST_ASSERT_EQ; define it only where
# the tree itself does not.
grep -q 'define TEST_ASSERT_EQ' "$KVMDIR/include/test_util.h" ||
	EXTRA+=" -DNKVM_COMPAT_TEST_ASSERT_EQ"

JOBS=$(nproc 2>/dev/null || echo 1)
LOG=$DIR/build.log
say "building headers and the x86_64 KVM selftests (log: $LOG)"
{
	nice -n 10 make -C "$SRC" ARCH=x86_64 headers &&
	nice -n 10 make -C "$KVMDIR" ARCH=x86_64 clean &&
	nice -n 10 make -C "$KVMDIR" -j"$JOBS" ARCH=x86_64 \
		LDFLAGS="-static -pthread -no-pie" EXTRA_CFLAGS="$EXTRA"
} >"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "build failed (see $LOG)"; }

# The programs the tree defines for x86_64, as the kselftest makefiles
# see them: generated tests, scripts, and the helpers scripts run.
mkvars() {
	make -s --no-print-directory -C "$KVMDIR" ARCH=x86_64 -f Makefile -f - \
		nkvm-print-vars <<'EOF'
nkvm-print-vars:
	@echo TESTS $(TEST_GEN_PROGS) $(TEST_PROGS)
	@echo HELPERS $(TEST_GEN_PROGS_EXTENDED) $(TEST_PROGS_EXTENDED)
EOF
}
VARS=$(mkvars) || die "cannot list the tests of $KVMDIR"
TESTS=$(sed -n 's/^TESTS //p' <<<"$VARS")
HELPERS=$(sed -n 's/^HELPERS //p' <<<"$VARS")
[ -n "$TESTS" ] || die "no x86_64 tests found in $KVMDIR"

rm -rf "$BIN.new"
mkdir -p "$BIN.new"
for p in $TESTS $HELPERS; do
	case $p in
	/*) f=$p ;;
	*) f=$KVMDIR/$p ;;
	esac
	b=$(basename "$p")
	[ -f "$f" ] || die "$f was not built"
	[ -e "$BIN.new/$b" ] && die "two programs named $b"
	cp "$f" "$BIN.new/$b"
	if head -c 4 "$f" | grep -q ELF; then
		strip --strip-debug "$BIN.new/$b"
		if readelf -l "$f" | grep -q 'program interpreter'; then
			die "$b is not statically linked"
		fi
	fi
done
for p in $TESTS; do basename "$p"; done >"$BIN.new/TESTS"

# kvm_names: the numbers of the KVM ioctls and capabilities, as the tree's
# uapi headers define them.  A macro whose argument type is another
# architecture's makes the compiler fail; such lines are dropped.
kvm_names() {
	local hdr=$SRC/usr/include tmp lines l
	tmp=$(mktemp -d)
	{
		echo '#include <stdio.h>'
		echo '#include <linux/kvm.h>'
		echo 'int main(void)'
		echo '{'
		grep -ohE '^#define KVM_[A-Z0-9_]+[[:space:]]+_IO(R|W|WR)?\(' \
			"$hdr/linux/kvm.h" |
			awk '{ printf "\tprintf(\"ioctl %%#x %s\\n\", (unsigned int)%s);\n", $2, $2 }'
		grep -ohE '^#define KVM_CAP_[A-Z0-9_]+[[:space:]]+[0-9]+' "$hdr/linux/kvm.h" |
			awk '{ printf "\tprintf(\"cap %%d %s\\n\", %s);\n", $2, $2 }'
		echo '	return 0;'
		echo '}'
	} >"$tmp/names.c"
	for _ in 1 2 3 4 5; do
		gcc -I"$hdr" -include "$DIR/compat.h" -o "$tmp/names" "$tmp/names.c" \
			2>"$tmp/err" && break
		# The error is in the header; the note names our line.
		lines=$(grep -E '^[^:]*names\.c:[0-9]+:[0-9]+: (error|note: in expansion)' "$tmp/err" |
			cut -d: -f2 | sort -rnu)
		[ -n "$lines" ] || break
		for l in $lines; do sed -i "${l}d" "$tmp/names.c"; done
	done
	"$tmp/names"
	local rc=$?
	rm -rf "$tmp"
	return $rc
}
kvm_names >"$BIN.new/kvm-names.txt" 2>>"$LOG" ||
	say "warning: could not list the KVM ioctl numbers (see $LOG)"
rm -rf "$BIN"
mv "$BIN.new" "$BIN"
echo "$KEY" >"$DIR/stamp"

say "built $(wc -l <"$BIN/TESTS") tests from $PKG $VERSION"
[ $PRINT_DIR = 1 ] && echo "$BIN" || echo "kvm selftests: $BIN"
