#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages nkvm needs to build and test, if any are
# missing.  A run on a machine that already has everything prints nothing
# and does not touch apt at all.  apt sources are never changed here.
#
# Usage: scripts/install-deps.sh [-q]
#   NKVM_EXTRA_PKGS="pkg ..."   additional packages to require

set -euo pipefail

PKGS=(
	qemu-system-x86		# the SVM test bed (TCG, -cpu EPYC,+svm,+npt)
	linux-image-amd64	# the kernel booted inside the bed
	linux-headers-amd64	# kbuild tree the modules are built against
	busybox-static		# userland of the bed's initramfs
	cpio			# initramfs packing
	sparse			# make C=1
	gcc
	make
	libc6-dev		# static test programs
	bc			# kbuild
	kmod			# modinfo/depmod
	bochs			# the VMX test bed (bochs-bin: VMX, EPT, VPID)
	bochsbios		# its BIOS
	grub-pc-bin		# the VMX bed boots from a grub i386-pc ISO
	grub-common		# grub-mkrescue
	xorriso			# grub-mkrescue writes the ISO with it
	mtools			# grub-mkrescue wants it
	gnuplot-nox		# make bench: the chart of the ratios (PNG)
)
# shellcheck disable=SC2206
PKGS+=(${NKVM_EXTRA_PKGS:-})

# installed PKG: true when dpkg reports PKG as fully installed.
installed() {
	local st
	st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[ "$st" = installed ]
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: missing packages: ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "install-deps: not root and no sudo; install them by hand" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# Verify: a package that could not be installed is a hard error.
still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "install-deps: still missing after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "install-deps: done"
