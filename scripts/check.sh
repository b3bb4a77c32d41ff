#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make check: everything nkvm tests, in order of cost.
#
#   1. the modules build with W=1 and sparse (C=1) without a warning
#   2. the userspace test programs build
#   3. pure-logic unit tests run on the host
#   4. the kernel's KVM selftests build (once; cached outside the tree)
#   5. the SVM test bed: the test programs under Debian's KVM and under
#      nkvm, in one boot (tools/testing/bed/run-bed.sh), among them the
#      short fuzz pass and leak check (tools/testing/fuzz, test_fuzz), and
#      the selftests not marked slow or flaky in
#      tools/testing/selftests/kvm-x86.list; "make stress" runs the fuzzer
#      at length, "make selftests" all the selftests
#   6. the VMX test bed (Bochs): the VMX smoke set of `make check-vmx`
#      (VMX_TESTS and VMX_KSFT in the Makefile) under Debian's kvm-intel and
#      under nkvm's, in one boot; NKVM_CHECK_VMX=0 leaves it out
#
# The last line is "N passed, N failed, N skipped" over all of them; the
# exit status is non-zero if anything failed.

set -uo pipefail
cd "$(dirname "$0")/.."

pass=0 fail=0 skip=0
log=$(mktemp -d /tmp/nkvm-check.XXXXXX)
trap 'rm -rf "$log"' EXIT

result() {	# result ok|fail|skip NAME
	case $1 in
	ok)   pass=$((pass + 1)); echo "ok - $2" ;;
	skip) skip=$((skip + 1)); echo "ok - $2 # SKIP" ;;
	*)    fail=$((fail + 1)); echo "not ok - $2" ;;
	esac
}

# Count TAP test-case lines ("ok N", "not ok N", "# SKIP") in a log file.
tally_tap() {
	local f=$1 p f_ s
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$f")
	p=$(grep -cE '^ok [0-9]+' "$f")
	f_=$(grep -cE '^not ok [0-9]+' "$f")
	pass=$((pass + p - s)) fail=$((fail + f_)) skip=$((skip + s))
}

# Build against the headers of the kernel the bed boots.
kdir=/usr/src/linux-headers-$(tools/testing/bed/bed-kernel.sh)

echo "# check: building the modules with W=1 C=1 against $kdir"
make KDIR="$kdir" clean >/dev/null 2>&1
if make KDIR="$kdir" W=1 C=1 >"$log/build" 2>&1; then
	if grep -E 'warning:|error:' "$log/build"; then
		result fail "modules build warning-free with W=1 and sparse"
	else
		result ok "modules build warning-free with W=1 and sparse"
	fi
else
	cat "$log/build"
	result fail "modules build warning-free with W=1 and sparse"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1
fi

echo "# check: building the test programs"
if make tools >"$log/tools" 2>&1; then
	result ok "userspace test programs build"
else
	cat "$log/tools"
	result fail "userspace test programs build"
fi

echo "# check: unit tests"
make -s unit 2>&1 | tee "$log/unit"
tally_tap "$log/unit"

# The kernel's KVM selftests join the bed run (NKVM_CHECK_SELFTESTS=0 leaves
# them out).
ksft=()
if [ "${NKVM_CHECK_SELFTESTS:-1}" = 1 ]; then
	echo "# check: the kernel's KVM selftests (built once, then cached)"
	if dir=$(tools/testing/selftests/build-kvm-selftests.sh --print-dir 2>"$log/ksft"); then
		result ok "kernel KVM selftests build"
		ksft=(--kvm-selftests "$dir")
	else
		cat "$log/ksft"
		result fail "kernel KVM selftests build"
	fi
fi

# Add a bed run's last line ("N passed, N failed, N skipped") to the totals.
# bed_total NAME LOG RC
bed_total() {
	local summary
	summary=$(tail -n 1 "$2")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
		skip=$((skip + BASH_REMATCH[3]))
		[ "$3" -eq 0 ] || [ "${BASH_REMATCH[2]}" -gt 0 ] ||
			result fail "$1 ran to completion"
	else
		result fail "$1 ran to completion"
	fi
}

# Every test program.  The QEMU boots but test_qemu_boot skip under
# Debian's KVM in this two-CPU bed, where it hangs nested guests at random
# (Documentation/virt/testing.rst, "QEMU on nkvm").
tests=$(cd tools/testing/build && ls test_* | tr '\n' ' ')

echo "# check: SVM test bed (Debian's KVM, then nkvm, in one boot)"
tools/testing/bed/run-bed.sh --mode both --smp 2 --tests "$tests" "${ksft[@]}" \
	2>&1 | tee "$log/bed"
bed_total "SVM test bed" "$log/bed" "${PIPESTATUS[0]}"

if [ "${NKVM_CHECK_VMX:-1}" = 1 ]; then
	echo "# check: VMX test bed (Bochs: Debian's kvm-intel, then nkvm's, in one boot)"
	vmx_ksft=()
	[ ${#ksft[@]} -eq 0 ] ||
		vmx_ksft=("${ksft[@]}" --kvm-selftests-only "$(make -s print-vmx-ksft)")
	tools/testing/bed/run-bochs-bed.sh --mode both --mem 2G \
		--tests "$(make -s print-vmx-tests)" "${vmx_ksft[@]}" \
		2>&1 | tee "$log/vmx"
	bed_total "VMX test bed" "$log/vmx" "${PIPESTATUS[0]}"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
