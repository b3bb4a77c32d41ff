// SPDX-License-Identifier: GPL-2.0
/*
 * test_system.c - the /dev/kvm "system" ioctls and the generic VM ioctls:
 * API version, kvm_run mmap size, KVM_CHECK_EXTENSION on /dev/kvm and on a
 * VM fd, KVM_CREATE_VM argument checking, and the errno of unknown ioctls
 * on each kind of fd.
 *
 * Linux 6.1, for a VM without SEV (asserted below): enabling
 * KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM or KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
 * fails with EINVAL, except with an fd that is not a VM's on AMD: EBADF.
 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "vm.h"

/* An extension number that no kernel defines. */
#define BOGUS_CAP 100000

TEST(api_version_is_12)
{
	int kvm = kvm_open();

	ASSERT_EQ(ioctl(kvm, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
	ASSERT_EQ(KVM_API_VERSION, 12);
}

TEST(vcpu_mmap_size)
{
	int kvm = kvm_open();
	long page = sysconf(_SC_PAGESIZE);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);

	ASSERT_OK(size);
	ASSERT_GE(size, page);
	ASSERT_GE(size, (int)sizeof(struct kvm_run));
	/* It is mmap'ed, so it is a whole number of pages. */
	ASSERT_EQ(size % page, 0);
	/* And it is the same each time. */
	ASSERT_EQ(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), size);
}

/* Check one capability on /dev/kvm and on a VM: both must agree. */
static int cap_both(int kvm, int vm, long cap)
{
	int a = ioctl(kvm, KVM_CHECK_EXTENSION, cap);
	int b = ioctl(vm, KVM_CHECK_EXTENSION, cap);

	ASSERT_OK(a);
	ASSERT_OK(b);
	ASSERT_EQ(a, b);
	return a;
}

TEST(check_extension_user_memory)
{
	struct vm *vm = vm_create(0);

	ASSERT_EQ(cap_both(vm->kvm_fd, vm->fd, KVM_CAP_USER_MEMORY), 1);
}

TEST(check_extension_unknown_is_0)
{
	struct vm *vm = vm_create(0);

	ASSERT_EQ(cap_both(vm->kvm_fd, vm->fd, BOGUS_CAP), 0);
	/* Negative numbers are just unknown extensions too. */
	ASSERT_EQ(cap_both(vm->kvm_fd, vm->fd, -1), 0);
}

TEST(check_extension_vcpu_limits)
{
	struct vm *vm = vm_create(0);
	int nr = cap_both(vm->kvm_fd, vm->fd, KVM_CAP_NR_VCPUS);
	int max = cap_both(vm->kvm_fd, vm->fd, KVM_CAP_MAX_VCPUS);

	TH_LOG("NR_VCPUS %d MAX_VCPUS %d", nr, max);
	ASSERT_GT(nr, 0);
	ASSERT_GT(max, 0);
	/* The recommended number never exceeds the maximum. */
	ASSERT_LE(nr, max);
}

TEST(check_extension_nr_memslots)
{
	struct vm *vm = vm_create(0);
	int n = cap_both(vm->kvm_fd, vm->fd, KVM_CAP_NR_MEMSLOTS);

	TH_LOG("NR_MEMSLOTS %d", n);
	ASSERT_GT(n, 0);
}

TEST(check_extension_is_stable)
{
	int kvm = kvm_open();

	/* Asking twice gives the same answer. */
	ASSERT_EQ(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS),
		  ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS));
	ASSERT_EQ(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS),
		  ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
}

TEST(create_vm_default_type)
{
	int kvm = kvm_open();
	int vm1 = ioctl(kvm, KVM_CREATE_VM, 0);
	int vm2 = ioctl(kvm, KVM_CREATE_VM, 0);

	/* Two VMs from one /dev/kvm fd are two distinct fds. */
	ASSERT_OK(vm1);
	ASSERT_OK(vm2);
	ASSERT_NE(vm1, vm2);
	ASSERT_OK(close(vm1));
	ASSERT_OK(close(vm2));
}

TEST(create_vm_invalid_type)
{
	int kvm = kvm_open();

	/* x86 knows type 0 and a few special types; these are not any. */
	ASSERT_ERRNO(ioctl(kvm, KVM_CREATE_VM, 0xff), EINVAL);
	ASSERT_ERRNO(ioctl(kvm, KVM_CREATE_VM, 0x80000000UL), EINVAL);
	ASSERT_ERRNO(ioctl(kvm, KVM_CREATE_VM, ~0UL), EINVAL);
}

/*
 * Unknown ioctls.  Linux answers differently for each kind of fd (checked
 * on Linux 6.18 and matching the 6.1 code): /dev/kvm falls through to the
 * arch handler, which answers EINVAL; a VM fd answers ENOTTY; a vCPU fd
 * answers EINVAL.  An ioctl of another type (not KVMIO) gets the same.
 */
#define UNKNOWN_KVMIO	_IO(KVMIO, 0xfe)
#define UNKNOWN_FOREIGN	_IO(0x99, 0x01)

TEST(unknown_ioctl_on_dev_kvm_is_einval)
{
	int kvm = kvm_open();

	ASSERT_ERRNO(ioctl(kvm, UNKNOWN_KVMIO, 0), EINVAL);
	ASSERT_ERRNO(ioctl(kvm, UNKNOWN_FOREIGN, 0), EINVAL);
	/* A vCPU ioctl on /dev/kvm is unknown there. */
	ASSERT_ERRNO(ioctl(kvm, KVM_RUN, 0), EINVAL);
	ASSERT_ERRNO(ioctl(kvm, KVM_CREATE_VCPU, 0), EINVAL);
}

TEST(unknown_ioctl_on_vm_is_enotty)
{
	struct vm *vm = vm_create(0);

	ASSERT_ERRNO(ioctl(vm->fd, UNKNOWN_KVMIO, 0), ENOTTY);
	ASSERT_ERRNO(ioctl(vm->fd, UNKNOWN_FOREIGN, 0), ENOTTY);
	/* System and vCPU ioctls are unknown on a VM fd. */
	ASSERT_ERRNO(ioctl(vm->fd, KVM_GET_API_VERSION, 0), ENOTTY);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_GET_VCPU_MMAP_SIZE, 0), ENOTTY);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_RUN, 0), ENOTTY);
}

TEST(unknown_ioctl_on_vcpu_is_einval)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	ASSERT_ERRNO(ioctl(vcpu->fd, UNKNOWN_KVMIO, 0), EINVAL);
	ASSERT_ERRNO(ioctl(vcpu->fd, UNKNOWN_FOREIGN, 0), EINVAL);
	/* System and VM ioctls are unknown on a vCPU fd. */
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY),
		     EINVAL);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_CREATE_VCPU, 1), EINVAL);
}

TEST(dev_kvm_readonly_open)
{
	/*
	 * /dev/kvm opened read-only still answers the system ioctls
	 * (nothing in them checks the open mode).
	 */
	int kvm = kvm_open();
	int ro = open("/dev/kvm", O_RDONLY | O_CLOEXEC);

	close(kvm);
	ASSERT_OK(ro);
	ASSERT_EQ(ioctl(ro, KVM_GET_API_VERSION, 0), 12);
	ASSERT_EQ(ioctl(ro, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY), 1);
}

static int enc_context_from(struct vm *vm, uint32_t cap, int fd)
{
	return vm_enable_cap_raw(vm, cap, (uint64_t)fd);
}

TEST(enc_context_from_without_sev)
{
	static const uint32_t caps[] = {
		KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
		KVM_CAP_VM_COPY_ENC_CONTEXT_FROM,
	};
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vm *other = vm_create(VM_MEM_SIZE);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);
	int not_vm = e && e->ebx == 0x68747541 ? EBADF : EINVAL;	/* AMD */

	free(c);
	for (size_t i = 0; i < 2; i++) {
		if (kvm_check_cap(vm->fd, caps[i]) != 1)
			SKIP("no KVM_CAP_VM_MOVE/COPY_ENC_CONTEXT_FROM");
		ASSERT_ERRNO(enc_context_from(vm, caps[i], -1), not_vm);
		ASSERT_ERRNO(enc_context_from(vm, caps[i], vm->kvm_fd), not_vm);
		ASSERT_ERRNO(enc_context_from(vm, caps[i], vm->fd), EINVAL);
		ASSERT_ERRNO(enc_context_from(vm, caps[i], other->fd), EINVAL);
	}
	vm_free(other);
	vm_free(vm);
}

TEST_HARNESS_MAIN
