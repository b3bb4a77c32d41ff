#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run-demo.sh - `make demo`: boot the SVM test bed, load nkvm, run
# bed-demo.sh there (a real-mode guest, then Linux booted by tools/vmm),
# and end with the demo's own verdict as the last line.
#
#   tools/demo/run-demo.sh [BUILD_DIR]   (default tools/testing/build)

set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$TOP/tools/testing/build}
LOG=$(mktemp /tmp/nkvm-demo.XXXXXX)
trap 'rm -f "$LOG"' EXIT

for f in demo_guest vmm; do
	[ -x "$BUILD/$f" ] || { echo "run-demo: $BUILD/$f missing (make tools)" >&2; exit 1; }
done

"$TOP/tools/testing/bed/run-bed.sh" --mode nkvm --smp 2 --mem 2G \
	--demo "$TOP/tools/demo/bed-demo.sh" \
	--files "$BUILD/demo_guest:/demo/demo_guest $BUILD/vmm:/demo/vmm" \
	--modules "$TOP" --build "$BUILD" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}

verdict=$(grep -a '^demo: \(Linux\|FAILED\)' "$LOG" | tail -n 1)
echo
if [ -z "$verdict" ]; then
	echo "demo: FAILED: the bed ended before the demo said how it went (status $rc)"
	exit 1
fi
echo "$verdict"
[ "$rc" -eq 0 ] && [[ $verdict != "demo: FAILED"* ]]
