#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build nkvm's modules against a second kernel version (Debian's 6.12
# headers) to catch API drift early.  The build happens in a copy of the
# tree under /tmp, so the main build (for the 6.1 bed) is never touched.
#
# Usage: scripts/build-other-kernel.sh [VERSION-PREFIX]   (default 6.12)
#
# Headers already installed (/usr/src/linux-headers-6.12*-amd64) are used
# as they are.  Otherwise, only when CI=true, the headers are installed with
# apt-get: from the configured sources if they carry them (bookworm-security
# does carry linux-6.12), else after adding bookworm-backports in
# /etc/apt/sources.list.d/nkvm-backports.sources.  Without CI=true and
# without headers the check is skipped (exit 0).
#
# Environment: KDIR_OTHER=/path/to/headers overrides the search; KEEP=1
# keeps the build copy.

set -euo pipefail

SERIES=${1:-6.12}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BACKPORTS=/etc/apt/sources.list.d/nkvm-backports.sources

log() { echo "build-other-kernel: $*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# installed_kdir: newest /usr/src/linux-headers-$SERIES.*-amd64 with a
# Makefile, or nothing.
installed_kdir() {
	local d
	d=$(ls -d /usr/src/linux-headers-"$SERIES".*-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -f "$d/Makefile" ] && echo "$d"
	return 0
}

# candidate_pkg: the headers package apt can install for $SERIES: the
# series meta-package if there is one, else the newest versioned package.
candidate_pkg() {
	local meta=linux-headers-$SERIES-amd64 p
	if apt-cache policy "$meta" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
		echo "$meta"
		return
	fi
	p=$(apt-cache search --names-only "^linux-headers-${SERIES//./\\.}\\.[0-9]+.*-amd64\$" |
	    awk '{print $1}' | grep -v -e -cloud- -e -rt- | sort -V | tail -n 1)
	echo "$p"
}

install_headers() {
	local pkg
	export DEBIAN_FRONTEND=noninteractive
	pkg=$(candidate_pkg)
	if [ -z "$pkg" ]; then
		if [ ! -f "$BACKPORTS" ]; then
			log "adding bookworm-backports ($BACKPORTS)"
			as_root tee "$BACKPORTS" >/dev/null <<-EOF
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
			EOF
		fi
		as_root apt-get update -q
		pkg=$(candidate_pkg)
	fi
	[ -n "$pkg" ] || { log "no linux-headers-$SERIES package found"; return 1; }
	# Note: Debian's 6.12 headers depend on the matching linux-image,
	# which lands in /boot; the bed still boots 6.1 by default.
	log "installing $pkg"
	as_root apt-get install -y -q --no-install-recommends "$pkg"
}

KDIR=${KDIR_OTHER:-$(installed_kdir)}
if [ -z "$KDIR" ]; then
	if [ "${CI:-}" != true ]; then
		log "skipped: no /usr/src/linux-headers-$SERIES*-amd64 (CI=true installs them)"
		exit 0
	fi
	install_headers
	KDIR=$(installed_kdir)
	[ -n "$KDIR" ] || { log "headers for $SERIES still missing after install"; exit 1; }
fi
KVER=${KDIR#/usr/src/linux-headers-}
log "building against $KDIR"

WORK=$(mktemp -d /tmp/nkvm-kbuild-"$SERIES".XXXXXX)
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# A copy of the working tree (committed or not) without git data and
# without objects of the main build.
tar -C "$REPO" --exclude=./.git --exclude='*.o' --exclude='*.ko' \
	--exclude='*.mod' --exclude='*.mod.c' --exclude='.*.cmd' \
	--exclude=./tools/testing/build -cf - . | tar -C "$WORK" -xf -

make -C "$WORK" KDIR="$KDIR" clean >/dev/null 2>&1 || true
if ! make -C "$WORK" KDIR="$KDIR"; then
	log "FAILED: modules do not build against $KVER"
	exit 1
fi
for m in kvm.ko kvm-amd.ko kvm-intel.ko; do
	if [ ! -f "$WORK/$m" ]; then
		log "FAILED: $m was not produced for $KVER"
		exit 1
	fi
	log "$m: vermagic $(modinfo -F vermagic "$WORK/$m" 2>/dev/null || echo '?')"
done
log "ok: modules build against $KVER"
