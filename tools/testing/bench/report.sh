#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# report.sh - the table and chart of make bench.
#
#   report.sh LINES OUTDIR
#
# LINES holds the bed's bench lines (run-bed.sh --bench-out), one per
# figure and KVM:
#   ##bed bench PHASE PROGRAM BENCH NAME MEDIAN UNIT MIN MAX RUNS
# (PHASE linux: Debian's KVM; nkvm: ours; both from one boot of the bed).
# Writes OUTDIR/bench.txt (also printed), OUTDIR/bench.csv and, with
# gnuplot, OUTDIR/bench-ratios.png: for each figure nkvm's time over
# Linux's (a throughput is inverted, so lower is better everywhere), with
# the goal (0.8) and parity (1.0) marked.  The exit paths are also set
# against the floor (vmrun_floor, a bare VMRUN/#VMEXIT measured on nkvm).

set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 LINES OUTDIR" >&2; exit 2; }
LINES=$1
OUT=$2
mkdir -p "$OUT"

[ -s "$LINES" ] || { echo "report: no bench lines in $LINES" >&2; exit 1; }

tr -d '\r' <"$LINES" | awk -v csv="$OUT/bench.csv" -v dat="$OUT/ratios.dat" '
function fmt(x) {
	if (x == "") return "-"
	if (x >= 1e5) return sprintf("%.4g", x)
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.3g", x)
}
function cell(ph, k) {
	if (!((ph, k) in med)) return "-"
	return fmt(med[ph, k]) " (" fmt(lo[ph, k]) "-" fmt(hi[ph, k]) ")"
}
# ##bed bench PHASE PROGRAM BENCH NAME MEDIAN UNIT MIN MAX RUNS
$1 == "##bed" && $2 == "bench" && $5 == "BENCH" {
	ph = $3; k = $6
	if (!(k in unit)) { order[n++] = k; unit[k] = $8 }
	med[ph, k] = $7 + 0
	lo[ph, k] = (NF >= 10 ? $9 : $7) + 0
	hi[ph, k] = (NF >= 10 ? $10 : $7) + 0
	runs[ph, k] = (NF >= 11 ? $11 : 1)
}
END {
	floor = (("nkvm", "vmrun_floor") in med) ? med["nkvm", "vmrun_floor"] : 0
	exits["pio_exit"]; exits["mmio_exit"]; exits["cpuid_exit"]; exits["hlt_wake"]
	printf "%-24s %-8s %-26s %-26s %8s %8s %9s\n", "figure", "unit",
	       "nkvm median (min-max)", "linux median (min-max)", "ratio", "time", "x floor"
	printf "%-24s %-8s %-26s %-26s %8s %8s %9s\n", "", "",
	       "", "", "nkvm/lnx", "ratio", "nkvm/lnx"
	print "figure,unit,nkvm_median,nkvm_min,nkvm_max,nkvm_runs,linux_median,linux_min,linux_max,linux_runs,ratio,time_ratio,nkvm_over_floor,linux_over_floor" > csv
	for (i = 0; i < n; i++) {
		k = order[i]
		a = (("nkvm", k) in med); b = (("linux", k) in med)
		ratio = tr = ""
		if (a && b && med["linux", k] != 0 && med["nkvm", k] != 0) {
			ratio = med["nkvm", k] / med["linux", k]
			tr = (unit[k] ~ /\/s$/) ? 1 / ratio : ratio
			printf "%s %.4f\n", k, tr > dat
		}
		fl = "-"; fa = fb = ""
		if (floor > 0 && (k in exits)) {
			if (a) fa = med["nkvm", k] / floor
			if (b) fb = med["linux", k] / floor
			fl = (a ? sprintf("%.1f", fa) : "-") "/" (b ? sprintf("%.1f", fb) : "-")
		}
		printf "%-24s %-8s %-26s %-26s %8s %8s %9s\n", k, unit[k],
		       cell("nkvm", k), cell("linux", k),
		       ratio == "" ? "-" : sprintf("%.2f", ratio),
		       tr == "" ? "-" : sprintf("%.2f", tr), fl
		printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", k, unit[k],
		       a ? med["nkvm", k] : "", a ? lo["nkvm", k] : "",
		       a ? hi["nkvm", k] : "", a ? runs["nkvm", k] : "",
		       b ? med["linux", k] : "", b ? lo["linux", k] : "",
		       b ? hi["linux", k] : "", b ? runs["linux", k] : "",
		       ratio == "" ? "" : sprintf("%.4f", ratio),
		       tr == "" ? "" : sprintf("%.4f", tr),
		       fa == "" ? "" : sprintf("%.3f", fa),
		       fb == "" ? "" : sprintf("%.3f", fb) > csv
	}
	print ""
	print "ratio: nkvm/linux of the medians; time ratio: nkvm time over Linux time"
	print "(throughputs inverted): below 1 nkvm is faster, the goal is 0.8 or less"
	print "on every exit path.  x floor: the median over vmrun_floor, a bare"
	print "VMRUN/#VMEXIT with an empty handler (nkvm, KVM_NKVM_FLOOR)."
}' >"$OUT/bench.txt"

cat "$OUT/bench.txt"
echo
echo "bench: table $OUT/bench.txt, CSV $OUT/bench.csv"

if ! command -v gnuplot >/dev/null; then
	echo "bench: no gnuplot (scripts/install-deps.sh installs it): no chart" >&2
	exit 0
fi
if [ ! -s "$OUT/ratios.dat" ]; then
	echo "bench: no figure measured under both KVMs: no chart" >&2
	exit 0
fi
nfig=$(wc -l <"$OUT/ratios.dat")
ymax=$(awk 'BEGIN { m = 1.2 } $2 * 1.1 > m { m = $2 * 1.1 } END { print m }' "$OUT/ratios.dat")
gnuplot <<GP
set terminal pngcairo size $((400 + 50 * nfig)),600 font "sans,10"
set output "$OUT/bench-ratios.png"
set title "nkvm vs Linux KVM in one boot of the SVM bed\nnkvm time / Linux time, lower is better"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set xrange [-0.6:$nfig - 0.4]
set yrange [0:$ymax]
set ylabel "time ratio (throughputs inverted)"
set xtics rotate by -40 noenhanced
set rmargin 8
set grid ytics
set key top left
plot "$OUT/ratios.dat" using 2:xtic(1) title "nkvm/linux" lc rgb "#3070b0", \
     1.0 with lines dt 2 lc rgb "black" title "parity", \
     0.8 with lines dt 3 lw 2 lc rgb "#c03030" title "goal 0.8"
GP
echo "bench: chart $OUT/bench-ratios.png"
