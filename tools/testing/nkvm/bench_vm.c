// SPDX-License-Identifier: GPL-2.0
/*
 * bench_vm.c - the cost of the VM-level ioctls a VMM makes outside the
 * guest's run:
 *
 *	vm_create_destroy	KVM_CREATE_VM, KVM_CREATE_VCPU, mmap of its
 *				kvm_run, then munmap and close of both (ms)
 *	memslot_add_delete	KVM_SET_USER_MEMORY_REGION adding a 64 MiB
 *				slot (nothing of it mapped yet), then deleting
 *				it (us per add + delete)
 *	memslots_max_create	KVM_SET_USER_MEMORY_REGION creating as many
 *				2 MiB slots as KVM_CAP_NR_MEMSLOTS allows
 *				(32764 on x86) in a fresh VM, as the
 *				selftests' set_memory_region_test does (s for
 *				all of them; MAX_SLOT_RUNS runs)
 *
 * Each figure is the median of BENCH_RUNS runs (bench.h).  Exit code 0, 1
 * on error, 4 if /dev/kvm is missing.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "vm.h"

#define VM_CYCLES	20
#define SLOT_CYCLES	200
#define SLOT_SIZE	(64UL << 20)
#define SLOT_GPA	(1UL << 30)
#define MAX_SLOT_SIZE	(2UL << 20)
#define MAX_SLOT_RUNS	3

static void vm_cycle(int kvm_fd, size_t run_size)
{
	int vm_fd, vcpu_fd;
	void *run;

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_GE(vm_fd, 0);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	ASSERT_GE(vcpu_fd, 0);
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu_fd, 0);
	ASSERT_TRUE(run != MAP_FAILED);
	munmap(run, run_size);
	close(vcpu_fd);
	close(vm_fd);
}

static void bench_vm_cycle(void)
{
	int kvm_fd = kvm_open();
	size_t run_size = kvm_run_size(kvm_fd);
	double ms[BENCH_RUNS];

	vm_cycle(kvm_fd, run_size);
	for (int r = 0; r < BENCH_RUNS; r++) {
		double t0 = bench_now();

		for (int i = 0; i < VM_CYCLES; i++)
			vm_cycle(kvm_fd, run_size);
		ms[r] = (bench_now() - t0) * 1e3 / VM_CYCLES;
	}
	bench_report("vm_create_destroy", "ms", ms, BENCH_RUNS,
		     "a VM and a vCPU created and destroyed");
	close(kvm_fd);
}

static void bench_slot_cycle(void)
{
	struct vm *vm = vm_create(0x10000);
	void *mem = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	double us[BENCH_RUNS];

	ASSERT_TRUE(mem != MAP_FAILED);
	for (int r = -1; r < BENCH_RUNS; r++) {
		double t0 = bench_now();

		for (int i = 0; i < SLOT_CYCLES; i++) {
			ASSERT_OK(vm_set_region(vm, 1, 0, SLOT_GPA, SLOT_SIZE,
						(uintptr_t)mem));
			ASSERT_OK(vm_set_region(vm, 1, 0, SLOT_GPA, 0, 0));
		}
		if (r >= 0)
			us[r] = (bench_now() - t0) * 1e6 / SLOT_CYCLES;
	}
	bench_report("memslot_add_delete", "us", us, BENCH_RUNS,
		     "a 64 MiB memslot added and deleted");
	munmap(mem, SLOT_SIZE);
	vm_free(vm);
}

static void bench_max_slots(void)
{
	int kvm_fd = kvm_open();
	int nr = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	size_t size = (size_t)nr * MAX_SLOT_SIZE;
	double s[MAX_SLOT_RUNS];
	char *mem;

	ASSERT_GT(nr, 0);
	/* Never touched: only the address space is taken. */
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	for (int r = 0; r < MAX_SLOT_RUNS; r++) {
		struct vm *vm = vm_create(0);
		double t0 = bench_now();

		for (int i = 0; i < nr; i++)
			ASSERT_OK(vm_set_region(vm, i, 0, (uint64_t)i * MAX_SLOT_SIZE,
						MAX_SLOT_SIZE,
						(uintptr_t)mem + (size_t)i * MAX_SLOT_SIZE));
		s[r] = bench_now() - t0;
		/* One more is refused, as on Linux. */
		ASSERT_EQ(vm_set_region(vm, nr, 0, (uint64_t)nr * MAX_SLOT_SIZE,
					MAX_SLOT_SIZE, (uintptr_t)mem), -1);
		vm_free(vm);
	}
	printf("# memslots_max_create: %d slots\n", nr);
	bench_report("memslots_max_create", "s", s, MAX_SLOT_RUNS,
		     "every memslot KVM_CAP_NR_MEMSLOTS allows, created");
	munmap(mem, size);
	close(kvm_fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	close(kvm_open());
	bench_vm_cycle();
	bench_slot_cycle();
	bench_max_slots();
	return KSFT_PASS;
}
