#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-bed.sh - the nkvm test beds.
#
# Boots Debian's kernel under an emulator whose CPU has hardware
# virtualization, loads a set of KVM modules inside it (Debian's, ours, or
# both one after the other in the same boot), runs the static /dev/kvm test
# programs and reports.  See Documentation/virt/testing.rst.
#
#   --bed svm (default)  QEMU TCG, an AMD CPU with SVM and NPT (kvm-amd)
#   --bed vmx            Bochs, an Intel CPU with VMX, EPT, VPID and
#                        unrestricted guest (kvm-intel), booted from a grub
#                        ISO; run-bochs-bed.sh is a shortcut for it
#
# The last line of output is always "N passed, N failed, N skipped"; the
# exit status is non-zero when anything failed or the bed itself died.

set -uo pipefail

BED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BED_DIR/../../.." && pwd)

# ---------------------------------------------------------------- options

BED=${NKVM_BED:-svm}
MODE=
MODULES=$REPO
TESTS=
TESTS_SET=0
BUILD=$REPO/tools/testing/build
BENCH=0
BENCH_OUT=
ICOUNT=0
DEMO=
DEMO_ARGS=
NKVM_PARAMS=
TIMEOUT=120
MEM=
SMP=1
KVER=
APPEND=
CAP=262144
SILENCE=90
BOOT_TIMEOUT=180
BUDGET=
FILES=
KEEP=0
VERBOSE=0
KSFT_DIR=
KSFT_LIST=$REPO/tools/testing/selftests/kvm-x86.list
KSFT_ONLY=
KSFT_SLOW=0
KSFT_RUN_BED=0
KSFT_TRACE=0
QEMU=${QEMU:-qemu-system-x86_64}
BOCHS=${BOCHS:-/usr/bin/bochs-bin}
SILENCE_SET=0
BOOT_TIMEOUT_SET=0

usage() {
	cat <<EOF
usage: $0 [options]
  --bed svm|vmx           the bed: QEMU with AMD SVM (default) or Bochs
                          with Intel VMX (one CPU; retried once when Bochs
                          falls silent)
  --mode nkvm|linux|both  which KVM to test: ours, Debian's, or Debian's
                          then ours in one boot (default nkvm)
  --modules DIR           directory with our kvm.ko and kvm-amd.ko (or
                          kvm-intel.ko)
                          (default: repo top, $REPO)
  --tests "LIST"          test programs to run (default: executables in
                          tools/testing/build/ named test_*)
  --build DIR             where test programs are found (default
                          tools/testing/build)
  --bench                 run the bench_* programs instead of the tests
  --bench-out FILE        also write the raw bench lines of every phase to
                          FILE (for tools/testing/bench/report.sh)
  --icount                svm bed: QEMU's clock counts instructions (-icount
                          shift=0,sleep=off: 1 ns each), so times measured in
                          the bed do not depend on the host's load
  --demo PROGRAM          run only PROGRAM, on nkvm, output unprefixed
  --args "ARGS"           arguments for every test program (e.g. the demo)
  --nkvm-params "M.P=V ..."  parameters for our modules when they are
                          loaded, each "module.param=value" (kvm, kvm_amd,
                          kvm_intel), e.g. kvm.force_mitigations=verw,rsb
  --files "SRC[:DST] ..." extra files for the initramfs (default DST /data/)
  --timeout SECONDS       per test program (default $TIMEOUT)
  --mem SIZE              guest memory (default 1G, 4G with --kvm-selftests)
  --smp N                 guest CPUs (default $SMP)
  --kernel-version VER    kernel to boot (default newest /boot/vmlinuz-6.1*-amd64)
  --append "ARGS"         extra kernel command line
  --output-cap BYTES      output shown per test program (default $CAP)
  --silence SECONDS       kill the bed after this long without a heartbeat
                          (default $SILENCE; 180 for vmx)
  --boot-timeout SECONDS  kill the bed if /init gives no sign of life by
                          then (default $BOOT_TIMEOUT; 600 for vmx)
  --budget SECONDS        total time allowed (default: from tests and timeout)
  --keep                  keep the temporary directory (initramfs, logs)
  --verbose               show each phase's kernel log even when clean
 The kernel's KVM selftests (tools/testing/selftests/, after the programs):
  --kvm-selftests DIR     run the selftests built in DIR
                          (tools/testing/selftests/build-kvm-selftests.sh)
  --kvm-selftests-list F  what nkvm is expected to do (default
                          tools/testing/selftests/kvm-x86.list)
  --kvm-selftests-only "NAMES"  only these selftests
  --kvm-selftests-slow    include those marked slow or flaky
  --kvm-selftests-run-bed also run those marked bed (still counted skipped)
  --kvm-selftests-trace   print the KVM ioctls each selftest issued
EOF
}

# Every exit goes through here so the last line has the contract's form.
finish() {	# finish PASS FAIL SKIP
	echo "$1 passed, $2 failed, $3 skipped"
	[ "$2" -eq 0 ] && exit 0
	exit 1
}

fatal() {
	echo "run-bed: error: $*" >&2
	cleanup
	finish 0 1 0
}

TMP=
QPID=
TAILPID=
KILL_SIG=TERM
cleanup() {
	[ -n "$QPID" ] && kill_qemu
	[ -n "$TAILPID" ] && { kill "$TAILPID" 2>/dev/null; wait "$TAILPID" 2>/dev/null; }
	TAILPID=
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		[ $KEEP = 1 ] || rm -rf "$TMP"
	fi
	TMP=
}

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}"; continue ;;
	esac
	case $opt in
	--bench) BENCH=1; shift; continue ;;
	--icount) ICOUNT=1; shift; continue ;;
	--keep) KEEP=1; shift; continue ;;
	--verbose) VERBOSE=1; shift; continue ;;
	--kvm-selftests-slow) KSFT_SLOW=1; shift; continue ;;
	--kvm-selftests-run-bed) KSFT_RUN_BED=1; shift; continue ;;
	--kvm-selftests-trace) KSFT_TRACE=1; shift; continue ;;
	-h | --help) usage; exit 0 ;;
	esac
	case $opt in
	--bed | --mode | --modules | --tests | --build | --demo | --args | \
	--files | --timeout | --mem | --smp | --kernel-version | --append | \
	--output-cap | --silence | --boot-timeout | --budget | --kvm-selftests | \
	--kvm-selftests-list | --kvm-selftests-only | --bench-out | \
	--nkvm-params) ;;
	*) usage >&2; fatal "unknown option $opt" ;;
	esac
	[ $# -ge 2 ] || fatal "option $opt needs a value"
	val=$2
	case $opt in
	--bed) BED=$val ;;
	--mode) MODE=$val ;;
	--modules) MODULES=$val ;;
	--tests) TESTS=$val; TESTS_SET=1 ;;
	--build) BUILD=$val ;;
	--demo) DEMO=$val ;;
	--args) DEMO_ARGS=$val ;;
	--nkvm-params) NKVM_PARAMS=$val ;;
	--files) FILES=$val ;;
	--timeout) TIMEOUT=$val ;;
	--mem) MEM=$val ;;
	--smp) SMP=$val ;;
	--kernel-version) KVER=$val ;;
	--append) APPEND=$val ;;
	--output-cap) CAP=$val ;;
	--silence) SILENCE=$val; SILENCE_SET=1 ;;
	--boot-timeout) BOOT_TIMEOUT=$val; BOOT_TIMEOUT_SET=1 ;;
	--budget) BUDGET=$val ;;
	--bench-out) BENCH_OUT=$val ;;
	--kvm-selftests) KSFT_DIR=$val ;;
	--kvm-selftests-list) KSFT_LIST=$val ;;
	--kvm-selftests-only) KSFT_ONLY=$val ;;
	esac
	shift 2
done

trap 'echo "run-bed: interrupted" >&2; cleanup; finish 0 1 0' INT TERM

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------- checks

case $BED in
svm)
	VENDOR=amd
	VENDOR_KO=kvm-amd.ko
	# Debian's modules the bed offers, in load order.
	DEBIAN_KOS="virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko
		    arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko"
	HELPERS="irqbypass ccp"
	;;
vmx)
	VENDOR=intel
	VENDOR_KO=kvm-intel.ko
	DEBIAN_KOS="virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko
		    arch/x86/kvm/kvm-intel.ko"
	HELPERS="irqbypass"
	# Bochs is slow and emulates one CPU; SIGTERM ends it at once, even
	# in the rare logging deadlock (see TESTBEDS.md).
	[ "$SMP" = 1 ] || echo "run-bed: note: the vmx bed has one CPU; --smp $SMP ignored" >&2
	SMP=1
	[ $SILENCE_SET = 1 ] || SILENCE=180
	[ $BOOT_TIMEOUT_SET = 1 ] || BOOT_TIMEOUT=600
	;;
*) fatal "--bed must be svm or vmx" ;;
esac

# The demo runs on nkvm unless --mode says otherwise.
[ -z "$MODE" ] && MODE=nkvm
case $MODE in
linux) PHASES="linux" ;;
nkvm) PHASES="nkvm" ;;
both) PHASES="linux nkvm" ;;	# the reference first: its results survive
				# whatever our modules do to the kernel
*) fatal "--mode must be nkvm, linux or both" ;;
esac
is_uint "$TIMEOUT" || fatal "--timeout needs a number of seconds"
is_uint "$SMP" && [ "$SMP" -ge 1 ] || fatal "--smp needs a number of CPUs"
is_uint "$CAP" || fatal "--output-cap needs a number of bytes"
is_uint "$SILENCE" || fatal "--silence needs a number of seconds"
is_uint "$BOOT_TIMEOUT" || fatal "--boot-timeout needs a number of seconds"
[ -z "$BUDGET" ] || is_uint "$BUDGET" || fatal "--budget needs a number of seconds"

if [ -z "$KVER" ]; then
	KVER=$("$BED_DIR/bed-kernel.sh")
	[ -n "$KVER" ] || fatal "no /boot/vmlinuz-6.1.*-amd64 (run scripts/install-deps.sh)"
fi
VMLINUZ=/boot/vmlinuz-$KVER
KMODS=/lib/modules/$KVER/kernel
[ -r "$VMLINUZ" ] || fatal "$VMLINUZ not found or not readable"
if [ "$BED" = svm ]; then
	command -v "$QEMU" >/dev/null || fatal "$QEMU not found (run scripts/install-deps.sh)"
else
	[ -x "$BOCHS" ] || fatal "$BOCHS not found (run scripts/install-deps.sh)"
	command -v grub-mkrescue >/dev/null ||
		fatal "grub-mkrescue not found (run scripts/install-deps.sh)"
	[ -d /usr/lib/grub/i386-pc ] || fatal "grub-pc-bin is not installed"
fi
BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -n "$BUSYBOX" ] || fatal "busybox not found (install busybox-static)"
# Debian's busybox (not -static) is dynamically linked and useless here.
if readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
	fatal "$BUSYBOX is dynamically linked; install busybox-static"
fi
command -v cpio >/dev/null || fatal "cpio not found"

# Test programs: explicit list, the demo, or everything in the build dir.
if [ -n "$DEMO" ]; then
	TESTS=$DEMO
	[ "$CAP" = 262144 ] && CAP=$((64 << 20))
elif [ $TESTS_SET = 0 ]; then
	TESTS=
	for f in "$BUILD"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		b=$(basename "$f")
		if [ $BENCH = 1 ]; then
			[[ $b == bench_* ]] || continue
		else
			[[ $b == test_* ]] || continue
		fi
		TESTS+="$f "
	done
fi
TEST_NAMES=
declare -A SEEN=()
for t in $TESTS; do
	[ -f "$t" ] || { [ -f "$BUILD/$t" ] && t=$BUILD/$t; }
	[ -f "$t" ] && [ -x "$t" ] || fatal "test program $t not found or not executable"
	b=$(basename "$t")
	[[ $b =~ ^[A-Za-z0-9._+-]+$ ]] || fatal "test name $b has unsafe characters"
	[ -z "${SEEN[$b]:-}" ] || fatal "two test programs named $b"
	SEEN[$b]=$t
	TEST_NAMES+="$b "
	if readelf -l "$t" 2>/dev/null | grep -q 'program interpreter'; then
		echo "run-bed: warning: $t is dynamically linked; the bed has no libc" >&2
	fi
done
NTESTS=$(wc -w <<<"$TEST_NAMES")

# ---------------------------------------------------------------- kvm selftests

# The kernel's own KVM selftests: KSFT_ENTRIES holds the selected lines of
# the expectations list, "NAME TIMEOUT KIND ISSUE REASON" (the format of
# the guest's /ksft/list, see tools/testing/selftests/bed-ksft.sh).
KSFT_ENTRIES=
KSFT_N=0
KSFT_SECS=0
ksft_select() {
	local name tmo flags kind rest issue reason lineno=0 n slowout=0
	local -A listed=() want=()
	local built=$KSFT_DIR/TESTS
	[ -d "$KSFT_DIR" ] && [ -s "$built" ] ||
		fatal "--kvm-selftests: $KSFT_DIR has no TESTS file (run build-kvm-selftests.sh)"
	[ -r "$KSFT_LIST" ] || fatal "--kvm-selftests-list: $KSFT_LIST not readable"
	for n in $KSFT_ONLY; do want[$n]=1; done
	# List format: NAME TIMEOUT FLAGS EXPECTATION (see the list's header).
	while read -r name tmo flags kind rest; do
		lineno=$((lineno + 1))
		[[ -z $name || $name == \#* ]] && continue
		local at="$KSFT_LIST:$lineno"
		[[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || fatal "$at: bad test name $name"
		[ -z "${listed[$name]:-}" ] || fatal "$at: $name listed twice"
		listed[$name]=1
		[ "$tmo" = - ] && tmo=$TIMEOUT
		is_uint "$tmo" || fatal "$at: timeout must be seconds or -"
		[[ $flags == - || $flags == slow || $flags == flaky ]] ||
			fatal "$at: flags must be -, slow or flaky"
		issue=-
		reason=$rest
		case $kind in
		pass) [ -z "$rest" ] || fatal "$at: pass takes no reason" ;;
		xfail)
			issue=${rest%% *}
			reason=${rest#"$issue"}
			reason=${reason# }
			is_uint "$issue" && [ -n "$reason" ] ||
				fatal "$at: xfail needs an issue number and a reason"
			;;
		bed) [ -n "$rest" ] || fatal "$at: bed needs a reason" ;;
		*) fatal "$at: expectation must be pass, xfail or bed" ;;
		esac
		grep -qxF "$name" "$built" || fatal "$at: $name is not a test of $KSFT_DIR"
		if [ -n "$KSFT_ONLY" ]; then
			[ -n "${want[$name]:-}" ] || continue
		elif [ "$flags" != - ] && [ $KSFT_SLOW = 0 ]; then
			slowout=$((slowout + 1))
			continue
		fi
		KSFT_ENTRIES+="$name $tmo $kind $issue $reason"$'\n'
		KSFT_N=$((KSFT_N + 1))
		if [ "$kind" != bed ] || [ $KSFT_RUN_BED = 1 ]; then
			KSFT_SECS=$((KSFT_SECS + tmo + 15))
		fi
	done <"$KSFT_LIST"
	# The list must cover exactly what the tree builds.
	while read -r n; do
		[ -n "${listed[$n]:-}" ] || fatal "$KSFT_LIST does not list $n (every test of the tree must be there)"
	done <"$built"
	for n in $KSFT_ONLY; do
		[ -n "${listed[$n]:-}" ] || fatal "--kvm-selftests-only: $n is not in $KSFT_LIST"
	done
	[ $slowout -gt 0 ] &&
		echo "run-bed: note: $slowout kvm selftest(s) marked slow or flaky left out (--kvm-selftests-slow)" >&2
	return 0
}

# ksft_initramfs: the selected selftests under /ksft/, the helpers they run,
# and what their scripts need: bash with its libraries, a sudo that just
# runs its arguments (everything runs as root), a passwd for whoami.
ksft_initramfs() {
	local name f lib
	mkdir -p "$ROOT/ksft"
	cp "$REPO/tools/testing/selftests/bed-ksft.sh" "$ROOT/ksft/"
	printf '%s' "$KSFT_ENTRIES" >"$ROOT/ksft/list"
	while read -r name _; do
		[ -n "$name" ] && cp "$KSFT_DIR/$name" "$ROOT/ksft/"
	done <<<"$KSFT_ENTRIES"
	# Helpers: programs of the build that are not tests themselves.
	for f in "$KSFT_DIR"/*; do
		name=$(basename "$f")
		[ "$name" = TESTS ] && continue
		grep -qxF "$name" "$KSFT_DIR/TESTS" || cp "$f" "$ROOT/ksft/"
	done
	if grep -q '^#!/bin/bash' "$ROOT"/ksft/*.sh 2>/dev/null; then
		cp /bin/bash "$ROOT/bin/bash" || fatal "no /bin/bash to copy"
		for lib in $(ldd /bin/bash | grep -o '/[^ ]*'); do
			mkdir -p "$ROOT$(dirname "$lib")"
			cp -L "$lib" "$ROOT$lib"
		done
	fi
	printf '#!/bin/sh\n# The bed runs everything as root.\nexec "$@"\n' >"$ROOT/bin/sudo"
	chmod 755 "$ROOT/bin/sudo"
	# A failed TEST_ASSERT runs addr2line for its backtrace; the bed has no
	# binutils (and the programs no debug info): stay quiet instead of
	# printing "addr2line: not found".
	printf '#!/bin/sh\nexit 0\n' >"$ROOT/bin/addr2line"
	chmod 755 "$ROOT/bin/addr2line"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
	echo 'root:x:0:' >"$ROOT/etc/group"
	echo "BED_KSFT_RUN_BED=$KSFT_RUN_BED" >>"$ROOT/bed.conf"
	echo "BED_KSFT_TRACE=$KSFT_TRACE" >>"$ROOT/bed.conf"
}

[ -n "$KSFT_DIR" ] && ksft_select
# Several selftests give the guest 1 GiB or more of memory per vCPU.
if [ -z "$MEM" ]; then
	MEM=1G
	[ "$KSFT_N" -gt 0 ] && MEM=4G
fi
[ $((NTESTS + KSFT_N)) -gt 0 ] || echo "run-bed: note: no test programs; checking module load/unload only" >&2

# Our modules, and the Debian modules they need (kvm-amd.ko may need ccp,
# kvm.ko irqbypass, if they were built to use them).
NKVM_DEPS=
if [[ " $PHASES " == *" nkvm "* ]]; then
	for m in kvm.ko $VENDOR_KO; do
		[ -f "$MODULES/$m" ] || fatal "$MODULES/$m not found (build the modules first: make)"
		vm=$(modinfo -F vermagic "$MODULES/$m" 2>/dev/null | awk '{print $1}')
		[ "$vm" = "$KVER" ] ||
			echo "run-bed: warning: $m was built for '$vm', the bed boots $KVER" >&2
		for d in $(modinfo -F depends "$MODULES/$m" 2>/dev/null | tr , ' '); do
			case $d in
			kvm) ;;
			irqbypass | ccp)
				[[ " $HELPERS " == *" $d "* ]] ||
					fatal "$m depends on $d, which the $BED bed does not provide"
				[[ " $NKVM_DEPS " == *" $d "* ]] || NKVM_DEPS+="$d " ;;
			*) fatal "$m depends on $d, which the bed does not provide" ;;
			esac
		done
	done
	# Load order: irqbypass before ccp.
	NKVM_DEPS=$(for d in irqbypass ccp; do [[ " $NKVM_DEPS " == *" $d "* ]] && echo -n "$d "; done)
fi

# ---------------------------------------------------------------- initramfs

TMP=$(mktemp -d /tmp/nkvm-bed.XXXXXX) || fatal "mktemp failed"
ROOT=$TMP/root

# copy_ko SRC DST: copy one of Debian's modules, decompressed.
copy_ko() {
	local src=$1 dst=$2
	mkdir -p "$(dirname "$dst")"
	if [ -f "$src" ]; then
		cp "$src" "$dst"
	elif [ -f "$src.xz" ]; then
		xz -dc "$src.xz" >"$dst"
	elif [ -f "$src.zst" ]; then
		zstd -qdc "$src.zst" >"$dst"
	elif [ -f "$src.gz" ]; then
		gzip -dc "$src.gz" >"$dst"
	else
		return 1
	fi
}

build_initramfs() {
	local d f src dst
	mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,nkvm,tests,data,etc}
	cp "$BUSYBOX" "$ROOT/bin/busybox"
	ln -s busybox "$ROOT/bin/sh"
	cp "$BED_DIR/bed-init.sh" "$ROOT/init"
	chmod 755 "$ROOT/init"

	for f in $DEBIAN_KOS; do
		copy_ko "$KMODS/$f" "$ROOT/lib/modules/$KVER/kernel/$f" ||
			fatal "Debian module $KMODS/$f not found (install linux-image-$KVER)"
	done
	if [[ " $PHASES " == *" nkvm "* ]]; then
		cp "$MODULES/kvm.ko" "$MODULES/$VENDOR_KO" "$ROOT/nkvm/"
	fi
	for b in $TEST_NAMES; do
		cp "${SEEN[$b]}" "$ROOT/tests/$b"
	done
	# The kernel the bed boots, where a Debian system has it: programs
	# that boot a Linux guest (test_vmm_boot) use it.
	mkdir -p "$ROOT/boot"
	cp "$VMLINUZ" "$ROOT/boot/"
	# test_qemu_boot runs Debian's QEMU in the bed: its binary, libraries
	# and firmware.
	if [[ " $TEST_NAMES " == *" test_qemu"* ]]; then
		"$REPO/tools/testing/qemu/qemu-files.sh" "$ROOT" ||
			fatal "cannot copy QEMU into the initramfs"
	fi
	for f in $FILES; do
		src=${f%%:*}
		dst=/data/$(basename "$src")
		[[ $f == *:* ]] && dst=${f#*:}
		[ -e "$src" ] || fatal "--files: $src not found"
		mkdir -p "$ROOT$(dirname "$dst")"
		cp -r "$src" "$ROOT$dst"
	done

	{
		echo "BED_PHASES='$PHASES'"
		echo "BED_KVER='$KVER'"
		echo "BED_TESTS='$TEST_NAMES'"
		echo "BED_TIMEOUT=$TIMEOUT"
		echo "BED_CAP=$CAP"
		echo "BED_RAW=$([ -n "$DEMO" ] && echo 1 || echo 0)"
		printf "BED_ARGS=%q\n" "$DEMO_ARGS"
		printf "BED_NKVM_PARAMS=%q\n" "$NKVM_PARAMS"
		echo "BED_NKVM_DEPS='$NKVM_DEPS'"
		echo "BED_VERBOSE=$VERBOSE"
		echo "BED_REF_RERUN=${BED_REF_RERUN:-1}"
		echo "BED_VENDOR=$VENDOR"
	} >"$ROOT/bed.conf"
	[ -n "$KSFT_DIR" ] && ksft_initramfs
	pack_initramfs
}

pack_initramfs() {
	# Uncompressed: unpacking gzip under TCG costs more than it saves.
	(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) \
		>"$TMP/initrd.cpio" || fatal "cpio failed"
}

# ---------------------------------------------------------------- qemu

kill_qemu() {
	[ -n "$QPID" ] || return 0
	if kill -0 "$QPID" 2>/dev/null; then
		kill -"$KILL_SIG" "$QPID" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QPID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$QPID" 2>/dev/null
	fi
	wait "$QPID" 2>/dev/null
	QPID=
}

# clean_console: console text as it should be shown: no CRs, and without
# the terminal escapes SeaBIOS sends (a reset becomes a line break).
clean_console() {
	sed -u -e 's/\r$//' -e 's/\x1bc/\n/g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g'
}

start_qemu() {
	# no_timer_check: the kernel's IO-APIC timer check counts ticks in a
	# window of wall time, and panics the bed ("IO-APIC + timer doesn't
	# work!") when a loaded host slows TCG down too much.
	local accel=tcg append="console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check"
	if [ "$SMP" -gt 1 ]; then
		# Multi-threaded TCG can lock up the guest when a static key is
		# flipped across a page boundary (see TESTBEDS.md), and the TSC
		# must be trusted or clock tests fail.
		accel=tcg,thread=single
		append+=" tsc=reliable"
	fi
	[ -n "$APPEND" ] && append+=" $APPEND"
	CON=$TMP/console.log
	CTL=$TMP/control.log
	: >"$CON"
	: >"$CTL"
	# ttyS0 is the console, ttyS1 the control channel (heartbeat, results).
	local icount=()
	[ $ICOUNT = 1 ] && icount=(-icount shift=0,sleep=off)
	"$QEMU" -M q35 -accel "$accel" -cpu EPYC,+svm,+npt -m "$MEM" -smp "$SMP" \
		"${icount[@]}" -nographic -nodefaults -no-reboot -monitor none \
		-serial "file:$CON" -serial "file:$CTL" \
		-kernel "$VMLINUZ" -initrd "$TMP/initrd.cpio" -append "$append" \
		</dev/null >"$TMP/qemu.out" 2>&1 &
	QPID=$!
	# Live console: tail stops by itself once qemu is gone.
	tail -n +1 -s 0.2 -f --pid="$QPID" "$CON" | clean_console &
	TAILPID=$!
}

# ---------------------------------------------------------------- bochs

# make_iso: Bochs cannot load a kernel itself: a grub (i386-pc) CD boots the
# kernel and the initramfs with the same command line QEMU would pass.
make_iso() {
	local iso=$TMP/iso append="console=ttyS0,115200 panic=-1 quiet loglevel=4"
	[ -n "$APPEND" ] && append+=" $APPEND"
	mkdir -p "$iso/boot/grub"
	cp "$VMLINUZ" "$iso/boot/vmlinuz"
	# The BIOS reads the CD one 16-bit port access at a time, slowly
	# under Bochs: fewer bytes boot faster than less to decompress.
	gzip -c "$TMP/initrd.cpio" >"$iso/boot/initrd.cpio" || fatal "gzip failed"
	rm -f "$TMP/initrd.cpio"
	# grub says on the console when it starts loading: the time to that
	# line is the BIOS's, the rest until the kernel's first line grub's.
	cat >"$iso/boot/grub/grub.cfg" <<GRUB
serial --unit=0 --speed=115200
terminal_output serial
set timeout=0
set default=0
menuentry "nkvm bed" {
	echo "# grub: loading the kernel and the initramfs"
	linux /boot/vmlinuz $append
	initrd /boot/initrd.cpio
	echo "# grub: starting the kernel"
}
GRUB
	grub-mkrescue -d /usr/lib/grub/i386-pc -o "$TMP/bed.iso" "$iso" \
		>"$TMP/grub-mkrescue.out" 2>&1 ||
		{ cat "$TMP/grub-mkrescue.out" >&2; fatal "grub-mkrescue failed"; }
	rm -rf "$iso"
}

start_bochs() {
	local megs
	megs=$(numfmt --from=iec "$MEM" 2>/dev/null) || fatal "--mem: bad size $MEM"
	megs=$((megs >> 20))
	CON=$TMP/console.log
	CTL=$TMP/control.log
	: >"$CON"
	: >"$CTL"
	# NKVM_BOCHS_LOG=1 keeps Bochs's errors (VMFAIL: the failed VM-entry
	# check, ...) in bochs.log, at a higher risk of the logging deadlock.
	local blog=/dev/null berr=ignore
	if [ "${NKVM_BOCHS_LOG:-0}" = 1 ]; then
		blog=$TMP/bochs.log
		berr=report
	fi
	# No logging at all (the instructions-per-second report from a signal
	# handler can deadlock Bochs while it logs), a display that needs no X,
	# no sound (Debian's build aborts in its mixer thread without a sound
	# card), and the debugger told to continue at once.  Emulated time advances
	# per instruction (clock sync=none), so guest timings are ratios of
	# instruction counts, nearly deterministic.
	cat >"$TMP/bochsrc" <<RC
megs: $megs
cpu: model=corei7_skylake_x, count=1, ips=50000000, reset_on_triple_fault=1, ignore_bad_msrs=1
clock: sync=none, time0=local
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path="$TMP/bed.iso", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="$CON"
com2: enabled=1, mode=file, dev="$CTL"
display_library: rfb, options="timeout=0"
sound: driver=dummy
speaker: enabled=0
log: $blog
panic: action=fatal
error: action=$berr
info: action=ignore
debug: action=ignore
RC
	echo c >"$TMP/bochs.rc"
	(cd "$TMP" && exec "$BOCHS" -q -f "$TMP/bochsrc" -rc "$TMP/bochs.rc") \
		</dev/null >"$TMP/qemu.out" 2>&1 &
	QPID=$!
	tail -n +1 -s 0.2 -f --pid="$QPID" "$CON" | clean_console &
	TAILPID=$!
}

start_guest() {
	if [ "$BED" = vmx ]; then
		start_bochs
	else
		start_qemu
	fi
}

# watch: wait for qemu to end; kill it when the total budget or the
# heartbeat silence limit is exceeded.  Sets DEAD to the reason, if any.
watch() {
	local now last_size=0 size last_alive started=$SECONDS done_at=
	last_alive=$SECONDS
	SEEN_HB=0
	BOOT_SECS=
	DEAD=
	while kill -0 "$QPID" 2>/dev/null; do
		sleep 0.5
		now=$SECONDS
		size=$(stat -c %s "$CTL" 2>/dev/null || echo 0)
		if [ "$size" != "$last_size" ]; then
			last_size=$size
			last_alive=$now
			if [ $SEEN_HB = 0 ]; then
				SEEN_HB=1
				BOOT_SECS=$((now - started))
			fi
		fi
		if [ -z "$done_at" ] && grep -q '^##bed done' "$CTL"; then
			done_at=$now
		fi
		if [ -n "$done_at" ]; then
			# Finished; poweroff should follow at once.
			if [ $((now - done_at)) -gt 30 ]; then
				echo "run-bed: note: guest did not power off; killing qemu" >&2
				break
			fi
		elif [ $((now - started)) -gt "$BUDGET" ]; then
			DEAD="total time budget of ${BUDGET}s exceeded"
			break
		elif [ $SEEN_HB = 0 ] && [ $((now - started)) -gt "$BOOT_TIMEOUT" ]; then
			DEAD="no sign of life from the guest's /init within ${BOOT_TIMEOUT}s"
			break
		elif [ $SEEN_HB = 1 ] && [ $((now - last_alive)) -gt "$SILENCE" ]; then
			DEAD="guest silent (no heartbeat) for ${SILENCE}s"
			break
		fi
	done
	kill_qemu
	# Let the console stream drain before anything else is printed.
	wait "$TAILPID" 2>/dev/null
	TAILPID=
	if [ -z "$DEAD" ] && ! grep -q '^##bed done' "$CTL"; then
		DEAD="qemu exited before the bed finished (guest panic, reboot or qemu error)"
	fi
}

# ---------------------------------------------------------------- report

# bench_table: BENCH lines of the phases side by side, with nkvm/linux.
bench_table() {
	grep -a '^##bed bench ' "$CTL" | tr -d '\r' | awk '
	# ##bed bench PHASE PROGRAM BENCH NAME VALUE UNIT
	{
		ph = $3; name = $6; val = $7; unit = $8
		if (!(name in unitof)) { order[n++] = name; unitof[name] = unit }
		v[ph, name] = val
	}
	END {
		if (n == 0) exit
		printf "\n%-32s %-8s %14s %14s %12s\n", "benchmark", "unit", "nkvm", "linux", "nkvm/linux"
		for (i = 0; i < n; i++) {
			k = order[i]
			a = ((("nkvm", k) in v)) ? v["nkvm", k] : "-"
			b = ((("linux", k) in v)) ? v["linux", k] : "-"
			r = "-"
			if (a != "-" && b != "-" && b + 0 != 0) r = sprintf("%.2f", a / b)
			printf "%-32s %-8s %14s %14s %12s\n", k, unitof[k], a, b, r
		}
	}'
}

report() {
	local pass fail skip line
	echo
	echo "===== nkvm bed summary: bed $BED, mode $MODE, kernel $KVER, $((SECONDS - T_START)) s" \
	     "(guest /init after ${BOOT_SECS:-?} s) ====="
	# QEMU's complaints; the TCG feature warnings are expected and folded
	# into one line.
	if [ "$BED" = svm ] && [ -s "$TMP/qemu.out" ]; then
		local lacks
		lacks=$(sed -n "s/.*TCG doesn't support requested feature: .*\.\([^ .]*\) \[bit.*/\1/p" \
			"$TMP/qemu.out" | sort -u | tr '\n' ' ')
		[ -n "$lacks" ] && echo "qemu: TCG lacks: $lacks"
		grep -v "TCG doesn't support requested feature" "$TMP/qemu.out" |
			sed 's/^/qemu: /' | head -n 20
	fi
	# ##bed result PHASE NAME PASS FAIL SKIP WHY...
	grep -a '^##bed result ' "$CTL" | tr -d '\r' >"$TMP/results"
	for ph in $PHASES; do
		awk -v ph="$ph" '$3 == ph { n++; p += $5; f += $6; s += $7 }
			END { printf "phase %-6s %3d entries: %d passed, %d failed, %d skipped\n",
			      ph, n, p, f, s }' "$TMP/results"
	done
	awk '$6 > 0 { why = ""; for (i = 8; i <= NF; i++) why = why " " $i
		      printf "FAILED: %s/%s (%d failed;%s)\n", $3, $4, $6, why }' "$TMP/results"
	# ##bed rerun PHASE/NAME WHY...: the reference failed once and ran again.
	grep -a '^##bed rerun ' "$CTL" | tr -d '\r' |
		awk '{ why = ""; for (i = 4; i <= NF; i++) why = why " " $i
		       printf "RERUN: %s failed once on the reference (%s), ran again\n", $3, substr(why, 2) }'
	read -r pass fail skip < <(awk '{ p += $5; f += $6; s += $7 }
		END { printf "%d %d %d\n", p, f, s }' "$TMP/results")
	if [ -n "${HUNG:-}" ]; then
		echo "FAILED: $HUNG (the guest fell silent while it ran; skipped on the second boot)"
		fail=$((fail + 1))
	fi
	if [ -n "$DEAD" ]; then
		# The newest of "start PHASE NAME" and "hb STATE" says where.
		line=$(grep -aE '^##bed (hb|start) ' "$CTL" | tail -n 1 | tr -d '\r' |
		       awk '$2 == "start" { print $3 "/" $4; next } { print $3 }')
		echo "BED DIED: $DEAD; it was at: ${line:-boot}"
		echo "---- last 30 console lines ----"
		clean_console <"$CON" | tail -n 30
		echo "-------------------------------"
		fail=$((fail + 1))
	fi
	# kvm selftests that nkvm passes although the list expects a failure.
	awk '$8 == "XPASS" && $3 == "nkvm" {
		printf "XPASS %s: mark it pass in kvm-x86.list%s\n", $4,
		       ($7 > 0 ? " (it skips as on Linux KVM)" : "") }' \
		"$TMP/results"
	if [ "$BED" = vmx ] && grep -aq 'VMFAIL' "$TMP/bochs.log" 2>/dev/null; then
		echo "bochs: failed VM entries (first 10):"
		grep -a 'VMFAIL' "$TMP/bochs.log" | head -n 10 | sed 's/^/bochs: /'
	fi
	bench_table
	if [ -n "$BENCH_OUT" ]; then
		grep -a '^##bed bench ' "$CTL" | tr -d '\r' >"$BENCH_OUT" ||
			echo "run-bed: no bench lines for $BENCH_OUT" >&2
	fi
	[ $KEEP = 1 ] && echo "run-bed: logs and initramfs kept in $TMP"
	FINAL="$pass $fail $skip"
}

# ---------------------------------------------------------------- main

T_START=$SECONDS
build_initramfs
if [ -z "$BUDGET" ]; then
	nph=$(wc -w <<<"$PHASES")
	BUDGET=$((BOOT_TIMEOUT + nph * (60 + NTESTS * (TIMEOUT + 15) + KSFT_SECS)))
fi
[ -n "$KSFT_DIR" ] && echo "run-bed: $KSFT_N kvm selftest(s) from $KSFT_DIR"
echo "run-bed: bed $BED, mode $MODE, kernel $KVER, $NTESTS program(s), timeout ${TIMEOUT}s," \
     "initramfs $(( $(stat -c %s "$TMP/initrd.cpio") >> 10 )) KiB, budget ${BUDGET}s"
[ "$BED" = vmx ] && make_iso
start_guest
watch
# Bochs may deadlock in its own logging (rarely): a guest that fell silent
# gets one more boot from scratch.  A guest that fell silent while a test
# program ran was probably hung by it (Bochs stops delivering the host's
# interrupts under some guests): that program counts as failed and the
# second boot goes without it.
HUNG=
if [ "$BED" = vmx ] && [[ $DEAD == *silent* || $DEAD == *"no sign of life"* ]]; then
	echo "run-bed: bochs fell silent ($DEAD); last console lines:" >&2
	clean_console <"$CON" | tail -n 10 >&2
	last=$(grep -aE '^##bed (start|result) ' "$CTL" | tail -n 1 | tr -d '\r')
	if [[ $last == "##bed start "* ]]; then
		read -r _ _ hung_phase HUNG <<<"$last"
		echo "run-bed: $hung_phase/$HUNG was running: the second boot skips it" >&2
		TEST_NAMES=$(tr ' ' '\n' <<<"$TEST_NAMES" | grep -vx "$HUNG" | tr '\n' ' ')
		sed -i "s/^BED_TESTS=.*/BED_TESTS='$TEST_NAMES'/" "$ROOT/bed.conf"
		# ... or a kernel selftest.
		[ -f "$ROOT/ksft/list" ] && sed -i "/^$HUNG /d" "$ROOT/ksft/list"
		pack_initramfs
		make_iso
	fi
	echo "run-bed: retrying the boot once" >&2
	start_guest
	watch
fi
report
cleanup
# shellcheck disable=SC2086
finish $FINAL
