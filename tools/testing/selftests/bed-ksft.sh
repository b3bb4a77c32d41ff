# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# shellcheck disable=SC2154 # rc, timedout, fail, secs: set by exec_test
#
# bed-ksft.sh - the kernel's KVM selftests inside the SVM test bed.
#
# Sourced by the bed's /init (tools/testing/bed/bed-init.sh) from
# /ksft/bed-ksft.sh when run-bed.sh was given --kvm-selftests; it uses the
# bed's helpers (exec_test, tap, result, ctl, set_state).  run-bed.sh
# writes /ksft/list from tools/testing/selftests/kvm-x86.list, one test a
# line:
#
#     NAME TIMEOUT KIND ISSUE REASON...
#
# KIND is what nkvm is expected to do: pass, xfail (ISSUE is the issue
# number, REASON what nkvm lacks) or bed (fails on Linux KVM in this bed
# too, for the bed's own REASON; ISSUE is "-").
#
# Accounting, one result per program (exit 0: passed, 4: KSFT_SKIP,
# anything else, a signal or the timeout: failed):
#   linux phase  pass, xfail  as the program says
#   nkvm phase   pass         as the program says, but a skip where the
#                             linux phase of this boot passed is a failure
#                xfail        passed, or skipped for the same reason as in
#                             the linux phase: "XPASS" (mark it pass), a
#                             pass or a skip; otherwise a skip "nkvm:
#                             issue N: REASON"
#   both phases  bed          a skip "bed: REASON", not run unless
#                             BED_KSFT_RUN_BED=1 (to record a baseline)
#
# With BED_KSFT_TRACE=1 each program's KVM ioctls are counted (a histogram
# trigger on the ioctl syscall), and one line after it names them with
# their counts, and the capabilities it asked KVM_CHECK_EXTENSION about.

BED_KSFT_RUN_BED=${BED_KSFT_RUN_BED:-0}
BED_KSFT_TRACE=${BED_KSFT_TRACE:-0}
KSFT_EV=/sys/kernel/tracing/events/syscalls/sys_enter_ioctl
KSFT_H1='hist:keys=cmd.hex:vals=hitcount'
KSFT_H2='hist:keys=arg:vals=hitcount if cmd == 0xae03'

ksft_trace_on() {
	[ "$BED_KSFT_TRACE" = 1 ] || return 0
	[ -d /sys/kernel/tracing/events ] ||
		mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	if ! echo "$KSFT_H1" >>"$KSFT_EV/trigger" ||
	   ! echo "$KSFT_H2" >>"$KSFT_EV/trigger"; then
		echo "# bed: no ioctl histogram (tracefs, hist triggers?); tracing off"
		BED_KSFT_TRACE=0
	fi
}

# ksft_trace_off TAG: print what the histograms caught, and remove them.
ksft_trace_off() {
	[ "$BED_KSFT_TRACE" = 1 ] || return 0
	cat "$KSFT_EV/hist" >/tmp/ksft.hist
	echo "!$KSFT_H1" >>"$KSFT_EV/trigger"
	echo "!$KSFT_H2" >>"$KSFT_EV/trigger"
	awk -v tag="$1" '
	function norm(h) {	# hex without 0x and leading zeros
		h = tolower(h)
		sub(/^0x/, "", h)
		sub(/^0+/, "", h)
		return h
	}
	BEGIN {
		while ((getline l <"/ksft/kvm-names.txt") > 0) {
			split(l, f, " ")
			if (f[1] == "ioctl") {
				h = norm(f[2])
				if (h in name)
					name[h] = name[h] "|" f[3]
				else
					name[h] = f[3]
			} else if (f[1] == "cap") {
				cap[f[2]] = f[3]
			}
		}
	}
	/^# trigger info:/ { which = ($0 ~ /keys=cmd/) ? "ioctl" : "cap"; next }
	/^\{ / {
		v = $3; n = $NF
		if (which == "ioctl") {
			h = norm(v)
			if (length(h) < 4 || substr(h, length(h) - 3, 2) != "ae")
				next
			io = io " " ((h in name) ? name[h] : "0x" h) "*" n
		} else {
			c = c " " ((v in cap) ? cap[v] : v)
		}
	}
	END {
		print "# ioctls " tag ":" (io == "" ? " none" : io)
		if (c != "") print "# caps checked " tag ":" c
	}' /tmp/ksft.hist
}

ksft_count() {
	[ -f /ksft/list ] || { echo 0; return; }
	grep -c . /ksft/list
}

# ksft_report PHASE NAME pass|fail|skip WHY DESC: one TAP line, one result.
ksft_report() {
	kphase=$1 kname=$2 kfinal=$3 kwhy=$4 kdesc=$5
	case $kfinal in
	pass)
		tap ok "$kphase/$kname ($kdesc)"
		result "$kphase" "$kname" 1 0 0 "$kwhy"
		;;
	skip)
		TAPN=$((TAPN + 1))
		echo "ok $TAPN - $kphase/$kname ($kdesc) # SKIP $kwhy"
		result "$kphase" "$kname" 0 0 1 "$kwhy"
		;;
	*)
		tap notok "$kphase/$kname ($kdesc) # $kwhy"
		result "$kphase" "$kname" 0 1 0 "$kwhy"
		;;
	esac
}

# ksft_outcome: what the last exec_test of a selftest did, into kout
# (pass, fail or skip) and kgot (in words).
ksft_outcome() {
	if [ "$timedout" = 1 ]; then
		kout=fail kgot="timeout after ${ktmo}s"
	elif [ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]; then
		kout=pass kgot=passed
	elif [ "$rc" -eq 4 ]; then
		kout=skip kgot=KSFT_SKIP
		[ -f /tmp/skipline ] &&
			kgot="KSFT_SKIP: $(sed 's/^1\.\.0 # SKIP - //' /tmp/skipline)"
	elif [ "$rc" -gt 128 ] && [ "$rc" -le 192 ]; then
		# (A failed TEST_ASSERT exits with 254: no signal.)
		kout=fail kgot="killed by signal $((rc - 128))"
	elif [ "$rc" -eq 0 ]; then
		kout=fail kgot="exit status 0 but $fail failed TAP line(s)"
	else
		kout=fail kgot="exit status $rc"
	fi
	[ "$kout" = fail ] && [ -f /tmp/assert ] && kgot="$kgot: $(cat /tmp/assert)"
}

# ksft_test PHASE NAME TIMEOUT KIND ISSUE REASON
ksft_test() {
	kphase=$1 kname=$2 ktmo=$3 kkind=$4 kissue=$5 kreason=$6
	ktag="$kphase/$kname"

	if [ "$kkind" = bed ] && [ "$BED_KSFT_RUN_BED" != 1 ]; then
		ksft_report "$kphase" "$kname" skip "bed: $kreason" "not run"
		return
	fi

	kexp=$kkind
	[ "$kkind" = xfail ] && kexp="xfail, issue $kissue"
	echo "# running $ktag (kvm selftest; on nkvm: $kexp; timeout ${ktmo}s)"
	set_state "$ktag"
	ctl "start $kphase $kname"
	ksft_trace_on
	exec_test "$ktag" "$ktmo" "/ksft/$kname"
	ksft_trace_off "$ktag"
	ksft_outcome
	if [ "$kout" = fail ] && reference_rerun "$kphase" "$ktag" "$kgot"; then
		kfirst=$kgot
		exec_test "$ktag" "$ktmo" "/ksft/$kname"
		ksft_outcome
		[ "$kout" = pass ] && kgot="$kgot; the first run failed: $kfirst"
	fi

	# The linux phase's outcome, for the nkvm phase to compare with.
	[ "$kphase" = linux ] && echo "$kout $kgot" >"/tmp/ksft-linux.$kname"
	klinux=
	[ -f "/tmp/ksft-linux.$kname" ] && klinux=$(cat "/tmp/ksft-linux.$kname")
	kdesc="$kgot; $secs s"
	# Where what the program did is the reason, it shows once.
	kself="$secs s"
	[ "$kout" = pass ] && kself=$kdesc

	# What it counts as.
	case $kphase/$kkind in
	*/bed)
		ksft_report "$kphase" "$kname" skip "bed: $kreason" "$kdesc" ;;
	nkvm/xfail)
		if [ "$kout" = pass ]; then
			ksft_report "$kphase" "$kname" pass XPASS "XPASS, $kdesc"
		elif [ "$kout" = skip ] && [ "$klinux" = "skip $kgot" ]; then
			ksft_report "$kphase" "$kname" skip XPASS \
				"XPASS, the same skip as on Linux KVM, $kdesc"
		else
			ksft_report "$kphase" "$kname" skip \
				"nkvm: issue $kissue: $kreason" "$kdesc"
		fi
		;;
	nkvm/*)
		if [ "$kout" = skip ] && [ "${klinux%% *}" = pass ]; then
			ksft_report "$kphase" "$kname" fail \
				"skipped on nkvm but passed on Linux KVM" "$kdesc"
		else
			ksft_report "$kphase" "$kname" "$kout" "$kgot" "$kself"
		fi
		;;
	*)
		ksft_report "$kphase" "$kname" "$kout" "$kgot" "$kself" ;;
	esac
}

# ksft_phase PHASE: every test of /ksft/list, in order.
ksft_phase() {
	[ -f /ksft/list ] || return 0
	echo "# kernel KVM selftests, phase $1: $(ksft_count) program(s)"
	while read -r n t k i r <&7; do
		[ -n "$n" ] || continue
		ksft_test "$1" "$n" "$t" "$k" "$i" "$r"
	done 7</ksft/list
}

# ksft_skip_phase PHASE WHY: every test reported skipped (modules did not load).
ksft_skip_phase() {
	[ -f /ksft/list ] || return 0
	while read -r n _ <&7; do
		[ -n "$n" ] || continue
		TAPN=$((TAPN + 1))
		echo "ok $TAPN - $1/$n # SKIP $2"
	done 7</ksft/list
}
