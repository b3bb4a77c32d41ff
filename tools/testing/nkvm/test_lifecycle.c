// SPDX-License-Identifier: GPL-2.0
/*
 * test_lifecycle.c - creating and destroying VMs and vCPUs: many of them,
 * vCPU id limits, duplicate ids, closing fds in every order, the kvm_run
 * mapping outliving its fd, and use from another process.
 *
 * Linux behaviour (asserted below):
 *   vCPU id >= KVM_CAP_MAX_VCPU_ID (4096 on x86), or negative   EINVAL
 *   vCPU id already in use                                      EEXIST
 *   any VM or vCPU ioctl from a process that did not create
 *   the VM (another mm, e.g. after fork)                        EIO
 *   closing /dev/kvm, the VM fd or the vCPU fd in any order: each object
 *   lives as long as something refers to it (a vCPU fd keeps its VM, a
 *   kvm_run mapping keeps its vCPU), so a vCPU whose VM fd is closed
 *   still runs.
 */
#include <sys/ioctl.h>

#include "vm.h"

GUEST_CODE(hlt_guest,
	"mov $0x5a, %al\n"		/* 1000: b0 5a	*/
	"out %al, $0x10\n"		/* 1002: e6 10	*/
	"hlt\n"				/* 1004: f4	*/
);

/* Run a vCPU through hlt_guest from the start. */
static void run_hlt_guest(struct vcpu *vcpu)
{
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x5a);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1005);
}

#define MANY_VMS	64
#define VCPUS_PER_VM	4

TEST(many_vms_with_vcpus)
{
	static struct vm *vms[MANY_VMS];
	static struct vcpu *vcpus[MANY_VMS][VCPUS_PER_VM];

	/* Two rounds, so that everything freed can be created again. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < MANY_VMS; i++) {
			vms[i] = vm_create(0x10000);
			vm_load_guest(vms[i], hlt_guest);
			for (int j = 0; j < VCPUS_PER_VM; j++)
				vcpus[i][j] = vcpu_create(vms[i], j);
		}
		/* Every vCPU of every VM runs. */
		for (int i = 0; i < MANY_VMS; i++)
			for (int j = 0; j < VCPUS_PER_VM; j++)
				run_hlt_guest(vcpus[i][j]);
		for (int i = 0; i < MANY_VMS; i++) {
			for (int j = 0; j < VCPUS_PER_VM; j++)
				vcpu_free(vcpus[i][j]);
			vm_free(vms[i]);
		}
	}
}

TEST(many_vcpus_in_one_vm)
{
	int kvm = kvm_open();
	int max = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	int n = max < 64 ? max : 64;
	struct vm *vm = vm_create(0x10000);
	struct vcpu *vcpus[64];

	vm_load_guest(vm, hlt_guest);
	for (int i = 0; i < n; i++)
		vcpus[i] = vcpu_create(vm, i);
	for (int i = 0; i < n; i++)
		run_hlt_guest(vcpus[i]);
	for (int i = 0; i < n; i++)
		vcpu_free(vcpus[i]);
}

/* The largest vCPU id (KVM_CAP_MAX_VCPU_ID - 1) is accepted, not more. */
TEST(max_vcpu_id)
{
	struct vm *vm = vm_create(0x10000);
	int max_id = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	struct vcpu *vcpu;

	/*
	 * The API says: without KVM_CAP_MAX_VCPU_ID the limit is
	 * KVM_CAP_MAX_VCPUS.
	 */
	if (max_id <= 0)
		max_id = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	TH_LOG("max vCPU id %d", max_id - 1);
	ASSERT_GT(max_id, 0);

	vm_load_guest(vm, hlt_guest);
	vcpu = vcpu_create(vm, max_id - 1);
	run_hlt_guest(vcpu);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, max_id), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, max_id + 1), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, -1), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, 0x7fffffff), EINVAL);
	/* Sparse ids are fine. */
	vcpu_free(vcpu_create(vm, max_id / 2));
}

TEST(duplicate_vcpu_id)
{
	struct vm *vm = vm_create(0x10000);
	struct vcpu *a = vcpu_create(vm, 0);
	struct vcpu *b = vcpu_create(vm, 7);

	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, 0), EEXIST);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, 7), EEXIST);
	/*
	 * Closing the fd does not free the id: a vCPU lives as long as its
	 * VM.
	 */
	vcpu_free(b);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_VCPU, 7), EEXIST);
	/* Another VM has its own ids. */
	struct vm *vm2 = vm_create(0x10000);

	vcpu_free(vcpu_create(vm2, 0));
	vcpu_free(vcpu_create(vm2, 7));
	vcpu_free(a);
}

TEST(close_vcpu_then_vm)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct vm *vm = vcpu->vm;

	run_hlt_guest(vcpu);
	ASSERT_OK(munmap(vcpu->run, vcpu->run_size));
	ASSERT_OK(close(vcpu->fd));
	ASSERT_OK(close(vm->fd));
	ASSERT_OK(close(vm->kvm_fd));
}

TEST(close_vm_then_run_vcpu)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct vm *vm = vcpu->vm;

	/* The vCPU fd holds the VM: it still runs, memory and all. */
	ASSERT_OK(close(vm->fd));
	run_hlt_guest(vcpu);
	run_hlt_guest(vcpu);
	ASSERT_OK(close(vcpu->fd));
}

TEST(close_dev_kvm_first)
{
	struct vm *vm = vm_create(0x10000);
	size_t run_size = kvm_run_size(vm->kvm_fd);
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));

	/* /dev/kvm is not needed once the VM exists. */
	ASSERT_OK(close(vm->kvm_fd));
	vm_load_guest(vm, hlt_guest);
	vm_add_slot(vm, 1, 0x20000, 0x1000);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY), 1);

	ASSERT_TRUE(vcpu != NULL);
	vcpu->vm = vm;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	ASSERT_OK(vcpu->fd);
	vcpu->run_size = run_size;
	vcpu->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	ASSERT_TRUE(vcpu->run != MAP_FAILED);
	run_hlt_guest(vcpu);
}

TEST(close_everything_then_run)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);

	ASSERT_OK(close(vcpu->vm->kvm_fd));
	ASSERT_OK(close(vcpu->vm->fd));
	/* Only the vCPU fd and the memory are left. */
	run_hlt_guest(vcpu);
}

TEST(kvm_run_mapping_outlives_vcpu_fd)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	volatile struct kvm_run *run = vcpu->run;

	run_hlt_guest(vcpu);
	ASSERT_OK(close(vcpu->fd));
	ASSERT_OK(close(vcpu->vm->fd));
	ASSERT_OK(close(vcpu->vm->kvm_fd));
	/* Still mapped, still the last exit, and writable. */
	ASSERT_EQ(run->exit_reason, KVM_EXIT_HLT);
	run->immediate_exit = 1;
	ASSERT_EQ(run->immediate_exit, 1);
	ASSERT_OK(munmap((void *)run, vcpu->run_size));
}

TEST(map_kvm_run_twice)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct kvm_run *again = mmap(NULL, vcpu->run_size,
				     PROT_READ | PROT_WRITE, MAP_SHARED,
				     vcpu->fd, 0);

	/* Two mappings of the same page show the same data. */
	ASSERT_TRUE(again != MAP_FAILED);
	ASSERT_TRUE(again != vcpu->run);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x5a);
	ASSERT_EQ(again->exit_reason, KVM_EXIT_IO);
	ASSERT_EQ(again->io.port, 0x10);
	ASSERT_EQ(*((uint8_t *)again + again->io.data_offset), 0x5a);
	ASSERT_OK(munmap(again, vcpu->run_size));
}

/*
 * In a forked child (another mm), every VM and vCPU ioctl fails with EIO;
 * /dev/kvm itself still works there (it creates the child's own VMs).
 * The parent is not disturbed.
 */
TEST(ioctls_from_forked_child_fail_eio)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct kvm_regs regs;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_OK(pid);
	if (pid == 0) {
		int vm2;

		ASSERT_ERRNO(ioctl(vcpu->fd, KVM_RUN, 0), EIO);
		ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_REGS, &regs), EIO);
		ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_CREATE_VCPU, 1), EIO);
		ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_CHECK_EXTENSION,
				   KVM_CAP_USER_MEMORY), EIO);
		ASSERT_ERRNO(vm_set_region(vcpu->vm, 1, 0, 0x20000, 0x1000,
					   (uintptr_t)vcpu->vm->mem), EIO);
		vm2 = ioctl(vcpu->vm->kvm_fd, KVM_CREATE_VM, 0);
		ASSERT_OK(vm2);
		fflush(stdout);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	run_hlt_guest(vcpu);
}

/* A VM with no memory at all can still have vCPUs and be torn down. */
TEST(vm_without_memory)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rip, 0xfff0);
	vcpu_free(vcpu);
	vm_free(vm);
}

TEST_HARNESS_MAIN
