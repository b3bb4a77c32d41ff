// SPDX-License-Identifier: GPL-2.0
/*
 * bench_pio.c - cost of one port I/O exit round trip: guest OUT, exit to
 * userspace, KVM_RUN back into the guest.
 *
 *	bench_pio [N]	N round trips per run (default 20000)
 *
 * After a warm-up, five runs of N round trips are timed; the median is
 * reported, first for humans, then as a machine-readable line:
 *
 *	BENCH pio_exit <microseconds per round trip> us
 *
 * Exit code 0, 1 on error, 4 if /dev/kvm is missing.
 */
#include <sys/ioctl.h>
#include <time.h>

#include "vm.h"

#define DEFAULT_N	20000
#define WARMUP		2000
#define RUNS		5

GUEST_CODE(pio_guest,
	"mov $0x80, %dx\n"
	"1:\n"
	"out %al, %dx\n"
	"jmp 1b\n"
);

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : DEFAULT_N;
	double us[RUNS];
	struct vcpu *vcpu;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [round-trips-per-run]\n", argv[0]);
		return KSFT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vcpu = VM_WITH_GUEST(pio_guest);

	round_trips(vcpu, WARMUP);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_us();

		round_trips(vcpu, n);
		us[r] = (now_us() - t0) / n;
	}
	qsort(us, RUNS, sizeof(us[0]), cmp_double);

	printf("pio_exit: %ld round trips x %d runs: median %.3f us per "
	       "round trip (min %.3f, max %.3f)\n",
	       n, RUNS, us[RUNS / 2], us[0], us[RUNS - 1]);
	printf("BENCH pio_exit %.3f us\n", us[RUNS / 2]);
	return KSFT_PASS;
}
