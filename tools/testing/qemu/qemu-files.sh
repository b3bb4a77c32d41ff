#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-files.sh ROOT - copy Debian's qemu-system-x86_64 into the test bed's
# initramfs tree ROOT, with what it needs to run there: its shared
# libraries and the dynamic loader (as ldd names them), and the firmware a
# q35 machine with -nodefaults and -kernel loads (SeaBIOS, the linuxboot
# and kvmvapic option ROMs), at the paths QEMU looks for them.
# run-bed.sh calls it when test_qemu_boot is among the programs.

set -euo pipefail

ROOT=${1:?usage: qemu-files.sh ROOT}
QEMU_BIN=${QEMU_BIN:-/usr/bin/qemu-system-x86_64}

[ -x "$QEMU_BIN" ] || { echo "qemu-files.sh: $QEMU_BIN not found" >&2; exit 1; }

copy() {	# copy SRC: SRC at the same path under ROOT (links followed)
	mkdir -p "$ROOT$(dirname "$1")"
	cp -L "$1" "$ROOT$1"
}

copy "$QEMU_BIN"
for lib in $(ldd "$QEMU_BIN" | grep -o '/[^ ]*'); do
	copy "$lib"
done
# QEMU finds its data next to the binary (../share/qemu) and in Debian's
# firmware path.
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	 /usr/share/qemu/kvmvapic.bin; do
	[ -e "$f" ] || { echo "qemu-files.sh: $f not found" >&2; exit 1; }
	copy "$f"
done
