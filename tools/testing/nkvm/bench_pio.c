// SPDX-License-Identifier: GPL-2.0
/*
 * bench_pio.c - cost of one port I/O exit round trip: guest OUT, exit to
 * userspace (KVM_EXIT_IO), KVM_RUN back into the guest.
 *
 *	bench_pio [N]	N round trips per run (default 10000)
 *
 * After a warm-up, BENCH_RUNS runs of N round trips are timed:
 *
 *	BENCH pio_exit <us per round trip, median> us <min> <max> <runs>
 *
 * Exit code 0, 1 on error, 4 if /dev/kvm is missing.
 */
#include <sys/ioctl.h>

#include "bench.h"
#include "vm.h"

#define DEFAULT_N	10000
#define WARMUP		1000

GUEST_CODE(pio_guest,
	"mov $0x80, %dx\n"
	"1:\n"
	"out %al, %dx\n"
	"jmp 1b\n"
);

static void round_trips(struct vcpu *vcpu, long n)
{
	for (long i = 0; i < n; i++) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0 ||
		    vcpu->run->exit_reason != KVM_EXIT_IO ||
		    vcpu->run->io.port != 0x80) {
			fprintf(stderr, "bench_pio: unexpected exit %u (%s), errno %d\n",
				vcpu->run->exit_reason,
				exit_name(vcpu->run->exit_reason), errno);
			exit(KSFT_FAIL);
		}
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : DEFAULT_N;
	double us[BENCH_RUNS];
	struct vcpu *vcpu;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [round-trips-per-run]\n", argv[0]);
		return KSFT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vcpu = VM_WITH_GUEST(pio_guest);

	round_trips(vcpu, WARMUP);
	for (int r = 0; r < BENCH_RUNS; r++) {
		double t0 = bench_now();

		round_trips(vcpu, n);
		us[r] = (bench_now() - t0) * 1e6 / n;
	}
	bench_report("pio_exit", "us", us, BENCH_RUNS,
		     "KVM_EXIT_IO round trip");
	return KSFT_PASS;
}
