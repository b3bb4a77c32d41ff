// SPDX-License-Identifier: GPL-2.0-only
/*
 * demo: runs the demo guest on whatever /dev/kvm is, and shows what it did.
 *
 * A minimal VMM: one VM, 1 MiB of guest memory, one vCPU in real mode; it
 * forwards the guest's serial output to stdout, checks the checksum the
 * guest reports against its own reading of guest memory, and prints the
 * number of exits and the time taken.  Exit status 0 when all is well.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE	(1 << 20)
#define LOAD_ADDR	0x1000
#define COM1		0x3f8
#define REPORT		0x3f9

extern const unsigned char guest_image[], guest_image_end[];

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	unsigned long exits = 0;
	uint32_t report[2] = { 0, 0 };
	int kvm, vm, vcpu, nr_reports = 0;
	uint8_t *mem;
	double t0;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	memcpy(mem + LOAD_ADDR, guest_image, guest_image_end - guest_image);
	region = (struct kvm_userspace_memory_region) {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
		   PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs))
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = LOAD_ADDR;
	regs.rsp = 0xfff0;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");

	printf("demo: running a %zu-byte real-mode guest\n",
	       (size_t)(guest_image_end - guest_image));
	fflush(stdout);
	t0 = now();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0))
			die("KVM_RUN");
		exits++;
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.direction != KVM_EXIT_IO_OUT) {
			fprintf(stderr, "demo: unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		uint8_t *data = (uint8_t *)run + run->io.data_offset;

		if (run->io.port == COM1 && run->io.size == 1) {
			putchar(*data);
		} else if (run->io.port == REPORT && run->io.size == 4 &&
			   nr_reports < 2) {
			memcpy(&report[nr_reports++], data, 4);
		}
	}
	double secs = now() - t0;

	/* Recompute the checksum from the picture the guest left in memory. */
	uint32_t sum = 0, addr = report[0];

	if (nr_reports == 2 && addr < MEM_SIZE - 24 * 64)
		for (int i = 0; i < 24 * 64; i++)
			sum = sum * 31 + mem[addr + i];
	fflush(stdout);
	printf("demo: guest halted after %lu exits in %.3f s (%.1f us per exit)\n",
	       exits, secs, secs * 1e6 / exits);
	if (nr_reports != 2 || sum != report[1]) {
		printf("demo: FAILED: checksum reported %#x, host read %#x\n",
		       report[1], sum);
		return 1;
	}
	printf("demo: checksum %#x matches guest memory as read by the host: OK\n",
	       sum);
	return 0;
}
