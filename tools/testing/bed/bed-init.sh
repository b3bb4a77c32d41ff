#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the nkvm test bed (runs as PID 1 under busybox ash, inside the
# guest started by run-bed.sh: QEMU for the SVM bed, Bochs for the VMX bed).
# run-bed.sh copies this file into the initramfs together with /bed.conf,
# which sets the BED_* variables below.
#
# Channels:
#   console (ttyS0)  human-readable output: an outer TAP stream, each test
#                    program's own output prefixed with "[phase/name] ".
#   control (ttyS1)  machine-readable lines for the host, written only by
#                    this script:  "##bed hb <state>" every BED_HB seconds,
#                    "##bed result <phase> <name> <pass> <fail> <skip> <why>",
#                    "##bed bench <phase> <name> BENCH ...", "##bed done".
#
# Per phase (linux = Debian's KVM, nkvm = ours): load the modules, run every
# test program in its own session with a timeout, unload the modules, then
# check the kernel log for oopses, BUGs, WARNINGs and lockdep reports.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# The bed is a throwaway machine: tests may take its CPUs offline.
export NKVM_TEST_HOTPLUG=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ulimit -c 0

# Defaults; /bed.conf overrides them.
BED_PHASES=nkvm
BED_KVER=$(uname -r)
BED_TESTS=
BED_TIMEOUT=120
BED_CAP=262144
BED_RAW=0
BED_ARGS=
BED_HB=2
BED_NKVM_DEPS=
BED_VERBOSE=0
# The CPU vendor of the bed: amd (SVM, kvm-amd) or intel (VMX, kvm-intel).
BED_VENDOR=amd
. /bed.conf
# The kernel's KVM selftests, when run-bed.sh was given --kvm-selftests.
KSFT=0
[ -f /ksft/bed-ksft.sh ] && . /ksft/bed-ksft.sh && KSFT=1

# The vendor module (as /sys/module names it), Debian's helpers it needs
# (in load order), and the CPU flag the bed must show.
case $BED_VENDOR in
intel) VMOD=kvm_intel LINUX_HELPERS=irqbypass CPUFLAG=vmx ;;
*) VMOD=kvm_amd LINUX_HELPERS="irqbypass ccp" CPUFLAG=svm ;;
esac
VMOD_KO=$(echo "$VMOD" | tr _ -).ko

# Lines of the kernel log that make a phase fail.
BAD_RE='Oops|BUG:|WARNING:|lockdep|INFO: possible|general protection|Call Trace'
DEBIAN_MODS=/lib/modules/$BED_KVER/kernel

# ---------------------------------------------------------------- helpers

# Control channel to the host.  If ttyS1 is missing the host sees no
# heartbeat and reports the bed as dead, which is the right outcome.
exec 9>/dev/ttyS1 || { echo "# bed: cannot open /dev/ttyS1"; exec 9>/dev/null; }
# Bochs emulates the UART's baud rate: not the default 9600.
stty -F /dev/ttyS1 115200 2>/dev/null
ctl() { echo "##bed $*" >&9; }

# What the bed is doing now; the heartbeat reports it to the host.
set_state() { echo "$*" >/tmp/bed.state; }

uptime_s() { read -r up _ </proc/uptime; echo "$up"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

TAPN=0
tap() {		# tap ok|notok "description"
	TAPN=$((TAPN + 1))
	if [ "$1" = ok ]; then
		echo "ok $TAPN - $2"
	else
		echo "not ok $TAPN - $2"
	fi
}

# result PHASE NAME PASS FAIL SKIP WHY: record an outcome for the host.
result() { ctl "result $1 $2 $3 $4 $5 $6"; }

# A bed-level check (module load/unload, kernel log): one TAP line, one
# counted test case.
check() {	# check PHASE WHAT ok|notok [WHY]
	id=$(echo "$2" | tr ' ' -)
	if [ "$3" = ok ]; then
		tap ok "$1: $2"
		result "$1" "$id" 1 0 0 ok
	else
		tap notok "$1: $2${4:+ # $4}"
		result "$1" "$id" 0 1 0 "${4:-failed}"
	fi
}

count_bad() { dmesg | grep -cE "$BAD_RE"; }

show_dmesg() {	# show_dmesg [lines]: the kernel log, prefixed
	if [ -n "$1" ]; then
		dmesg | tail -n "$1"
	else
		dmesg
	fi | sed 's/^/[dmesg] /'
}

heartbeat() {
	while :; do
		read -r s </tmp/bed.state
		ctl "hb $s"
		sleep "$BED_HB"
	done
}

# ---------------------------------------------------------------- modules

mod_loaded() { [ -d "/sys/module/$1" ]; }

insmod_one() {	# insmod_one FILE [PARAM=VALUE...]: load unless a module of
	# that name is in
	name=$(basename "$1" .ko | tr - _)
	mod_loaded "$name" && return 0
	echo "# insmod $*"
	if ! insmod "$@"; then
		echo "# bed: insmod $1 failed; kernel log tail:"
		show_dmesg 30
		return 1
	fi
}

debian_mod() {	# path of one of Debian's modules in the initramfs
	case $1 in
	irqbypass) echo "$DEBIAN_MODS/virt/lib/irqbypass.ko" ;;
	ccp) echo "$DEBIAN_MODS/drivers/crypto/ccp/ccp.ko" ;;
	kvm) echo "$DEBIAN_MODS/arch/x86/kvm/kvm.ko" ;;
	kvm_amd | kvm-amd) echo "$DEBIAN_MODS/arch/x86/kvm/kvm-amd.ko" ;;
	kvm_intel | kvm-intel) echo "$DEBIAN_MODS/arch/x86/kvm/kvm-intel.ko" ;;
	esac
}

load_linux() {
	for m in $LINUX_HELPERS kvm $VMOD; do
		insmod_one "$(debian_mod "$m")" || return 1
	done
}

load_nkvm() {
	for m in $BED_NKVM_DEPS; do
		insmod_one "$(debian_mod "$m")" || return 1
	done
	insmod_one /nkvm/kvm.ko $(nkvm_params kvm) &&
		insmod_one "/nkvm/$VMOD_KO" $(nkvm_params "$VMOD")
}

nkvm_params() {	# nkvm_params MODULE: its PARAM=VALUE words of --nkvm-params
	for p in $BED_NKVM_PARAMS; do
		case $p in
		"$(echo "$1" | tr - _)".*) echo "${p#*.}" ;;
		esac
	done
}

load_phase() {	# load_phase PHASE: modules loaded and /dev/kvm present
	if mod_loaded kvm || mod_loaded "$VMOD"; then
		echo "# bed: a kvm module is still loaded from an earlier phase"
		return 1
	fi
	"load_$1" || return 1
	if [ ! -c /dev/kvm ]; then
		echo "# bed: modules loaded but /dev/kvm did not appear"
		return 1
	fi
	ls -l /dev/kvm | sed 's/^/# /'
}

# kill_kvm_users: kill processes that still hold /dev/kvm, a VM or a vCPU
# (a test that left its process group); they would keep the modules busy.
kill_kvm_users() {
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = 1 ] && continue
		ls -l "$d/fd" 2>/dev/null | grep -qE '/dev/kvm|anon_inode:kvm-' || continue
		echo "# bed: killing leftover process $p ($(cat "$d/comm" 2>/dev/null)) holding kvm"
		kill -KILL "$p" 2>/dev/null
	done
}

# unload_phase PHASE: remove the vendor module, kvm and (for linux) their
# helpers.
# A module still in use is retried for a few seconds: the last VM of a
# killed test may still be going away.
unload_phase() {
	mods="$VMOD kvm"
	[ "$1" = linux ] && mods="$VMOD kvm $(echo "$LINUX_HELPERS" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')"
	[ "$1" = nkvm ] && mods="$VMOD kvm $BED_NKVM_DEPS"
	rc=0
	for m in $mods; do
		mod_loaded "$m" || continue
		i=0
		until rmmod "$m" 2>/tmp/rmmod.err; do
			i=$((i + 1))
			if [ $i -ge 5 ]; then
				echo "# bed: rmmod $m failed: $(cat /tmp/rmmod.err)"
				rc=1
				break
			fi
			sleep 1
		done
	done
	return $rc
}

# ---------------------------------------------------------------- tests

# The output filter of one test program: prefixes and streams its lines to
# the console, caps the bytes shown, counts its TAP test-case lines (only
# unindented ones: indented lines belong to nested subtests) and saves its
# BENCH lines, the last line that mentions a skip (/tmp/skipline) and the
# first failed assertion of a kernel selftest (/tmp/assert: where, errno,
# message).  Writes "ok fail skip plan ntap" to /tmp/counts at EOF.
filter() {	# filter TAG RAW CAP
	awk -v tag="$1" -v raw="$2" -v cap="$3" '
	BEGIN { pfx = raw ? "" : "[" tag "] "; shown = 0; cut = 0 }
	{
		sub(/\r$/, "")
		line = $0
		if (shown < cap) {
			# A long line (progress without newlines) is cut too.
			if (length(line) > cap - shown)
				line = substr(line, 1, cap - shown)
			print pfx line
			shown += length(line) + 1
			fflush()
		} else if (!cut) {
			print pfx "[bed: output truncated after " cap " bytes]"
			fflush()
			cut = 1
		}
		line = $0
	}
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
	/^(not )?ok([ \t]|$)/ {
		ntap++
		if (line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++
		else if (line ~ /^not ok/ && line !~ /#[ \t]*[Tt][Oo][Dd][Oo]/) fail++
		else ok++
	}
	/^BENCH [^ ]+ [^ ]+/ { print line > "/tmp/bench" }
	/[Ss][Kk][Ii][Pp]/ { skipline = substr(line, 1, 200) }
	# TEST_ASSERT: banner, location, errno, backtrace, message.
	asrt == 3 && line !~ /^[ \t]*$/ && line !~ /^[ \t]*[0-9]+[ \t]+0x/ {
		amsg = line
		asrt = 4
	}
	asrt == 2 { aerr = line; asrt = 3 }
	asrt == 1 { aloc = line; asrt = 2 }
	/==== Test Assertion Failure ====/ && asrt == 0 { asrt = 1 }
	END {
		printf "%d %d %d %d %d\n", ok, fail, skip, plan, ntap > "/tmp/counts"
		if (skipline != "") print skipline > "/tmp/skipline"
		if (aloc != "") {
			a = aloc " |" aerr " |" amsg
			gsub(/[ \t]+/, " ", a)
			sub(/^ /, "", a)
			print substr(a, 1, 300) > "/tmp/assert"
		}
	}'
}

# exec_test TAG TIMEOUT PROGRAM [ARGS...]: run PROGRAM in its own session
# and process group, its output through the filter, killed (with every
# process of the group) after TIMEOUT seconds.  Sets rc, timedout (0 or 1),
# ok fail skip plan ntap (its TAP counts) and secs (time taken); shows the
# suspicious kernel log lines it caused.
exec_test() {
	tag=$1 tmo=$2
	shift 2
	rm -f /tmp/out.fifo /tmp/counts /tmp/bench /tmp/timedout /tmp/skipline \
	      /tmp/assert
	mkfifo /tmp/out.fifo
	bad_before=$(count_bad)
	t0=$(uptime_s)

	filter "$tag" "$BED_RAW" "$BED_CAP" </tmp/out.fifo &
	fpid=$!
	# Started in the background by a shell without job control, the
	# child is no group leader, so setsid does not fork: $! is the
	# program itself and the leader of a new session and group.
	(cd /tmp && exec setsid "$@") </dev/null >/tmp/out.fifo 2>&1 &
	pid=$!
	(
		# By the clock: a loaded guest stretches "sleep 1" loops.
		read -r up _ </proc/uptime
		deadline=$((${up%.*} + tmo))
		while :; do
			sleep 1
			kill -0 $pid 2>/dev/null || exit 0
			read -r up _ </proc/uptime
			[ "${up%.*}" -lt "$deadline" ] || break
		done
		: >/tmp/timedout
		kill -TERM -$pid 2>/dev/null
		sleep 2
		kill -KILL -$pid 2>/dev/null
	) &
	wpid=$!

	wait $pid
	rc=$?
	# Whatever the program left behind in its group goes too.
	kill -KILL -$pid 2>/dev/null
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	# The filter ends when the last writer closes the fifo; a process
	# that left the group could keep it open, so do not wait forever.
	i=0
	while kill -0 $fpid 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 $fpid 2>/dev/null; then
		echo "# bed: output of $tag still open (escaped process?)"
		kill $fpid 2>/dev/null
	fi
	wait $fpid 2>/dev/null
	secs=$(elapsed "$t0" "$(uptime_s)")

	timedout=0
	[ -e /tmp/timedout ] && timedout=1
	ok=0 fail=0 skip=0 plan=0 ntap=0
	[ -f /tmp/counts ] && read -r ok fail skip plan ntap </tmp/counts

	bad_after=$(count_bad)
	if [ "$bad_after" -gt "$bad_before" ]; then
		echo "# bed: kernel log gained suspicious lines during $tag:"
		dmesg | grep -E "$BAD_RE" | tail -n $((bad_after - bad_before)) |
			sed 's/^/[dmesg] /'
	fi
}

# outcome: the program-level outcome of the last exec_test into why, ok,
# fail and skip.  A crash, a timeout or an exit status that contradicts
# the printed lines counts as one more failure.
outcome() {
	why=ok
	if [ $timedout = 1 ]; then
		why="timeout after ${BED_TIMEOUT}s"
		fail=$((fail + 1))
	elif [ $rc -gt 128 ]; then
		why="killed by signal $((rc - 128))"
		fail=$((fail + 1))
	elif [ $rc -eq 4 ]; then
		why=skipped
		[ "$ntap" -eq 0 ] && skip=$((skip + 1))
	elif [ $rc -eq 1 ]; then
		why="exit status 1"
		[ "$fail" -eq 0 ] && fail=$((fail + 1))
	elif [ $rc -ne 0 ]; then
		why="exit status $rc"
		fail=$((fail + 1))
	elif [ "$ntap" -lt "$plan" ]; then
		why="plan 1..$plan but only $ntap results"
		fail=$((fail + 1))
	elif [ "$ntap" -eq 0 ]; then
		ok=1		# no TAP at all, exit 0: one pass
	elif [ "$fail" -gt 0 ]; then
		why="exit status 0 but $fail failed TAP line(s)"
	fi
}

# reference_rerun PHASE TAG WHY: true (after saying so) when a program that
# failed is to run once more.  Only Debian's KVM, the reference, gets a
# second run: in the nested beds it hangs some guests at random (see
# docs/testing.rst), and a flaky reference must not fail the run.  What
# the program did on nkvm always stands.
reference_rerun() {
	[ "$1" = linux ] && [ "${BED_REF_RERUN:-1}" = 1 ] || return 1
	echo "# bed: $2 failed on Linux KVM, the reference ($3);" \
	     "running it once more (nkvm gets no second run)"
	ctl "rerun $2 $3"
	return 0
}

# run_test PHASE NAME: run /tests/NAME with the bed's timeout and report it.
run_test() {
	phase=$1 name=$2 tag="$1/$2"
	echo "# running $tag"
	set_state "$tag"
	ctl "start $phase $name"
	# shellcheck disable=SC2086 # BED_ARGS are words on purpose
	exec_test "$tag" "$BED_TIMEOUT" "/tests/$name" $BED_ARGS
	outcome
	if [ "$fail" -gt 0 ] && reference_rerun "$phase" "$tag" "$why"; then
		first="$why"
		# shellcheck disable=SC2086
		exec_test "$tag" "$BED_TIMEOUT" "/tests/$name" $BED_ARGS
		outcome
		[ "$fail" -eq 0 ] && why="$why; the first run failed: $first"
	fi

	desc="$tag ($ok passed, $fail failed, $skip skipped; $secs s)"
	if [ "$fail" -gt 0 ]; then
		tap notok "$desc # $why"
	elif [ "$why" = skipped ]; then
		TAPN=$((TAPN + 1))
		echo "ok $TAPN - $desc # SKIP"
	else
		tap ok "$desc"
	fi
	result "$phase" "$name" "$ok" "$fail" "$skip" "$why"
	if [ -f /tmp/bench ]; then
		while read -r line; do
			ctl "bench $phase $name $line"
		done </tmp/bench
	fi
}

# ---------------------------------------------------------------- phases

run_phase() {
	phase=$1
	echo "# ===== phase $phase ====="
	set_state "$phase/load"
	dmesg -c >/dev/null
	if load_phase "$phase"; then
		check "$phase" "load modules" ok
		for t in $BED_TESTS; do
			run_test "$phase" "$t"
		done
		[ $KSFT = 1 ] && ksft_phase "$phase"
	else
		check "$phase" "load modules" notok "insmod failed"
		for t in $BED_TESTS; do
			TAPN=$((TAPN + 1))
			echo "ok $TAPN - $phase/$t # SKIP modules did not load"
		done
		[ $KSFT = 1 ] && ksft_skip_phase "$phase" "modules did not load"
	fi

	set_state "$phase/unload"
	kill_kvm_users
	if unload_phase "$phase"; then
		check "$phase" "unload modules" ok
	else
		check "$phase" "unload modules" notok "rmmod failed"
	fi

	set_state "$phase/dmesg"
	if dmesg | grep -qE "$BAD_RE"; then
		echo "# bed: kernel log of phase $phase has problems:"
		dmesg | grep -E "$BAD_RE" | sed 's/^/# >> /'
		echo "# bed: full kernel log of phase $phase:"
		show_dmesg
		check "$phase" "kernel log clean" notok \
			"$(dmesg | grep -cE "$BAD_RE") bad line(s) in the kernel log"
	else
		[ "$BED_VERBOSE" = 1 ] && show_dmesg
		check "$phase" "kernel log clean" ok
	fi
}

# ---------------------------------------------------------------- main

set_state boot
heartbeat &
hbpid=$!

echo "# nkvm bed: kernel $(uname -r), phases: $BED_PHASES"
echo "# $(grep -m1 'model name' /proc/cpuinfo)"
grep -qw "$CPUFLAG" /proc/cpuinfo || echo "# bed: WARNING no $CPUFLAG flag in /proc/cpuinfo"
if dmesg | grep -qE "$BAD_RE"; then
	echo "# bed: note: the boot log already has suspicious lines:"
	dmesg | grep -E "$BAD_RE" | sed 's/^/# >> /'
fi

ntests=0
for t in $BED_TESTS; do ntests=$((ntests + 1)); done
[ $KSFT = 1 ] && ntests=$((ntests + $(ksft_count)))
nphases=0
for p in $BED_PHASES; do nphases=$((nphases + 1)); done
echo "TAP version 13"
echo "1..$((nphases * (ntests + 3)))"
ctl "begin"

for p in $BED_PHASES; do
	run_phase "$p"
done

set_state "done"
ctl "done"
# A UART that takes its time (Bochs) must get the last lines out first.
[ "$BED_VENDOR" = intel ] && sleep 2
echo "# bed: finished after $(uptime_s) s of guest uptime"
kill $hbpid 2>/dev/null
sync
poweroff -f
# Not reached unless poweroff failed: ask the kernel directly.
echo o >/proc/sysrq-trigger
sleep 10
