#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make stress: the long runs, each in its own boot of the SVM bed.
#
#   1. fuzz      the ioctl fuzzer for STRESS_CALLS calls (nkvm-fuzz: passes
#                of STRESS_CALLS / STRESS_PASSES calls, every other one with
#                two threads, then its leak check), under STRESS_MODE
#   2. cycles    kvm.ko and the vendor module unloaded and reloaded
#                STRESS_CYCLES times with VMs in between, then the slab and
#                page counts (test_cycles); then STRESS_SECONDS of several
#                VMs of several vCPUs running exit-heavy guests with
#                memslot churn (test_multivm), under STRESS_TESTS_MODE
#   3. poison    the same bed booted with slub_debug=P page_poison=1
#                init_on_alloc=0 (freed and new slab objects and free pages
#                poisoned, new memory not zeroed): test_isolation, which
#                searches every structure copied out for the poison, and
#                short runs of test_cycles, test_multivm and test_lifecycle,
#                under STRESS_TESTS_MODE
#
# STRESS_PARTS (default "fuzz cycles poison") picks the parts.  The last
# line is "N passed, N failed, N skipped" over all of them (each bed run's
# own summary, added up); the exit status is non-zero if anything failed.
# Expect about 40 minutes with the defaults, all on nkvm (the fuzzer about
# 10 minutes, 1000 cycles about 6, the multi-VM run 10).  With
# STRESS_TESTS_MODE=both Linux KVM runs the cycles and the multi-VM stress
# first as the reference: 20 minutes or more for its cycles (its modules
# are bigger), hours on a host shared with other beds.

set -uo pipefail
cd "$(dirname "$0")/.."

CALLS=${STRESS_CALLS:-1000000}
PASSES=${STRESS_PASSES:-10}
SEED=${STRESS_SEED:-time}
MODE=${STRESS_MODE:-nkvm}
TIMEOUT=${STRESS_TIMEOUT:-7200}
CYCLES=${STRESS_CYCLES:-1000}
SECONDS_=${STRESS_SECONDS:-600}
TESTS_MODE=${STRESS_TESTS_MODE:-nkvm}
PARTS=${STRESS_PARTS:-fuzz cycles poison}

pass=0 fail=0 skip=0
log=$(mktemp -d /tmp/nkvm-stress.XXXXXX)
trap 'rm -rf "$log"' EXIT

bed() {		# bed NAME ARGS...: one bed run, its summary added up
	local name=$1 summary rc
	shift
	echo "# stress: $name: run-bed.sh $*"
	tools/testing/bed/run-bed.sh "$@" 2>&1 | tee "$log/$name"
	rc=${PIPESTATUS[0]}
	summary=$(tail -n 1 "$log/$name")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
		skip=$((skip + BASH_REMATCH[3]))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			fail=$((fail + 1))
		fi
		echo "# stress: $name: $summary"
	else
		fail=$((fail + 1))
		echo "# stress: $name: the bed did not finish"
	fi
}

for part in $PARTS; do
	case $part in
	fuzz)
		bed fuzz --mode "$MODE" --smp 2 --tests nkvm-fuzz \
			--timeout "$TIMEOUT" --silence 180 --args "--seed $SEED \
			--seeds $PASSES --mix --threads 2 --leak-check --progress 60 \
			--calls $((CALLS / PASSES)) --time $TIMEOUT"
		;;
	cycles)
		# Up to 20 s a cycle: Linux KVM's modules take 1-3 s in a busy bed,
		# and 10 s (guest clock) were seen on a host shared by several beds.
		bed cycles --mode "$TESTS_MODE" --smp 2 \
			--tests "test_cycles test_multivm" \
			--timeout $((CYCLES * 20 + SECONDS_ + 300)) --silence 180 \
			--args "--cycles=$CYCLES --seconds=$SECONDS_"
		;;
	poison)
		bed poison --mode "$TESTS_MODE" --smp 2 \
			--append "slub_debug=P page_poison=1 init_on_alloc=0" \
			--tests "test_isolation test_lifecycle test_cycles test_multivm" \
			--timeout 300 --args "--cycles=50 --seconds=60"
		;;
	*)
		echo "# stress: unknown part $part" >&2
		fail=$((fail + 1))
		;;
	esac
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
