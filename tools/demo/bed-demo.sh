#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# bed-demo.sh - what `make demo` runs inside the test bed, on nkvm
# (run-demo.sh hands it to run-bed.sh --demo, with /demo/demo_guest and
# /demo/vmm in the initramfs; busybox sh).
#
#   1. demo_guest: a real-mode guest draws a Mandelbrot set on its serial
#      port (a few seconds);
#   2. vmm (tools/vmm), nkvm's own VMM, boots the bed's Linux kernel with
#      2 vCPUs and 256 MiB, and an initramfs made here (busybox and an /init
#      that says hello and powers off); its console is shown as it comes.
#
# The last line says whether the guest reached userspace and how long after
# the VMM started; the exit status is 0 when both parts worked.

MARKER="DEMO-GUEST: userspace reached"
CPUS=2

echo "==== demo 1/2: a real-mode guest on nkvm (tools/demo)"
if ! /demo/demo_guest; then
	echo "demo: FAILED: the real-mode guest did not finish cleanly"
	exit 1
fi

echo
echo "==== demo 2/2: Linux $(uname -r) boots with nkvm's VMM (tools/vmm), $CPUS vCPUs, 256 MiB"

# The guest's initramfs: the static busybox and its /init.
G=/tmp/demo-guest
rm -rf $G
mkdir -p $G/bin $G/dev $G/proc $G/sys
cp /bin/busybox $G/bin/busybox
cat >$G/init <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo
echo "$MARKER"
echo "  Hello from userspace: \$(uname -sr), \$(nproc) CPUs, \$(free -m | awk '/Mem:/ { print \$2 }') MiB"
echo "  \$(grep -m1 'model name' /proc/cpuinfo | tr -s ' \t' ' ')"
echo "  \$(dmesg | grep -m1 'Hypervisor detected' | sed 's/^\[[^]]*\] //')"
echo "  Kernel uptime: \$(cut -d' ' -f1 /proc/uptime) s"
echo "  Powering off."
poweroff -f
EOF
chmod 755 $G/init
(cd $G && find . | cpio -o -H newc 2>/dev/null) >/tmp/demo-guest.cpio ||
	{ echo "demo: FAILED: cannot make the guest's initramfs"; exit 1; }

# The console as it comes; awk notes the uptime when the guest's /init
# speaks (a shell loop would read the pipe a byte at a time and slow the
# guest's console down).
rm -f /tmp/demo.at /tmp/demo.rc /tmp/demo.up
read -r t0 _ </proc/uptime
{
	/demo/vmm -k "/boot/vmlinuz-$(uname -r)" -i /tmp/demo-guest.cpio \
		-a "console=ttyS0 panic=-1" -m 256M -c $CPUS 2>&1
	echo $? >/tmp/demo.rc
} | awk -v marker="$MARKER" '
	{ sub(/\r$/, ""); print "    | " $0; fflush() }
	!seen && index($0, marker) {
		seen = 1
		getline up < "/proc/uptime"
		split(up, f, " ")
		print f[1] > "/tmp/demo.at"
		close("/tmp/demo.at")
	}
	/^  Kernel uptime: / { print $3 > "/tmp/demo.up"; close("/tmp/demo.up") }'
read -r t1 _ </proc/uptime
rc=$(cat /tmp/demo.rc 2>/dev/null || echo '?')

if [ ! -f /tmp/demo.at ]; then
	echo "demo: FAILED: the Linux guest did not reach userspace (VMM exit status $rc)"
	exit 1
fi
read -r at </tmp/demo.at
secs=$(awk -v a="$t0" -v b="$at" 'BEGIN { printf "%.1f", b - a }')
total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if [ "$rc" != 0 ]; then
	echo "demo: FAILED: Linux reached userspace after $secs s, but the VMM exited with status $rc"
	exit 1
fi
up=$(cat /tmp/demo.up 2>/dev/null || echo '?')
echo "demo: Linux reached userspace on nkvm $secs s after the VMM started (guest uptime $up s, $CPUS vCPUs); powered off, VMM done after $total s"
