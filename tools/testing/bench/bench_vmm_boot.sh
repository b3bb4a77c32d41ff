#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_vmm_boot - Linux guest boot to userspace with our VMM (tools/vmm):
# test_vmm_boot's one-vCPU boot (boot_reboot: the bed's own kernel, a
# small initramfs, 256 MiB), BENCH_BOOTS times, from the VMM's start to the
# guest's /init.  make bench installs it as bench_vmm_boot and puts
# test_vmm_boot in the bed's /data.  Prints (see tools/testing/nkvm/bench.h)
#
#	BENCH vmm_boot_to_init <median> s <min> <max> <runs>
#
# Exit code 0, 1 if a boot failed, 4 if test_vmm_boot is missing.

BOOTS=${BENCH_BOOTS:-3}
here=$(dirname "$0")
prog=
for p in "$here/test_vmm_boot" /data/test_vmm_boot; do
	[ -x "$p" ] && prog=$p && break
done
[ -n "$prog" ] || { echo "# bench_vmm_boot: no test_vmm_boot: skipped"; exit 4; }

vals=
i=0
while [ $i -lt "$BOOTS" ]; do
	out=$("$prog" boot_reboot 2>&1)
	rc=$?
	v=$(echo "$out" | awk '$1 == "BENCH" && $2 == "vmm_boot_to_init_1cpu" { print $3 }')
	if [ $rc -ne 0 ] || [ -z "$v" ] || [ "$v" = "-1.00" ]; then
		echo "$out" | sed 's/^/# | /'
		echo "# bench_vmm_boot: boot $((i + 1)) failed (exit $rc)"
		exit 1
	fi
	echo "# bench_vmm_boot: boot $((i + 1)): /init after $v s"
	vals="$vals $v"
	i=$((i + 1))
done
echo "$vals" | tr ' ' '\n' | grep . | sort -n | awk '
	{ v[n++] = $1 }
	END {
		med = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
		printf "# vmm_boot_to_init: median %.2f s over %d boots (min %.2f, max %.2f)\n",
		       med, n, v[0], v[n - 1]
		printf "BENCH vmm_boot_to_init %.3f s %.3f %.3f %d\n", med, v[0], v[n - 1], n
	}'
