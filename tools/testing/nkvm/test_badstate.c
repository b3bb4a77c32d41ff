// SPDX-License-Identifier: GPL-2.0
/*
 * test_badstate.c - vCPU state that userspace gets wrong ends in an errno
 * from the ioctl or in a defined exit from KVM_RUN, never in a hang or a
 * host crash, and the vCPU runs again once the state is put right.
 */
#include <sys/ioctl.h>

#include "vm.h"

#define CR0_PE		(1ULL << 0)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

GUEST_CODE(out_guest,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

static int set_sregs(struct vcpu *vcpu, const struct kvm_sregs *s)
{
	return ioctl(vcpu->fd, KVM_SET_SREGS, s);
}

/* Paging without protection is not a state an x86 CPU can be in. */
TEST(paging_without_protection_is_einval)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	s.cr0 = (s.cr0 & ~CR0_PE) | CR0_PG;
	ASSERT_ERRNO(set_sregs(vcpu, &s), EINVAL);
	/* Nothing was applied: the guest still runs in real mode. */
	RUN_OUT(vcpu, 1, 0x10);
}

TEST(long_mode_active_without_paging_is_einval)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	s.efer |= EFER_LME | EFER_LMA;
	ASSERT_ERRNO(set_sregs(vcpu, &s), EINVAL);
	RUN_OUT(vcpu, 1, 0x10);
}

TEST(long_mode_paging_without_pae_is_einval)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	s.cr0 |= CR0_PE | CR0_PG;
	s.cr4 &= ~CR4_PAE;
	s.efer |= EFER_LME | EFER_LMA;
	ASSERT_ERRNO(set_sregs(vcpu, &s), EINVAL);
	RUN_OUT(vcpu, 1, 0x10);
}

/*
 * CR4 bit 31 is reserved.  Linux refuses it in KVM_SET_SREGS; a hypervisor
 * that lets it through must report the hardware's refusal as
 * KVM_EXIT_FAIL_ENTRY.  Either way, good state makes the vCPU run again.
 */
TEST(reserved_cr4_bit_is_refused_or_fails_entry)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_sregs good, bad;

	vcpu_get_sregs(vcpu, &good);
	bad = good;
	bad.cr4 |= 1ULL << 31;
	if (set_sregs(vcpu, &bad) == 0) {
		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_FAIL_ENTRY);
		TH_LOG("entry failed with hardware reason %#llx",
		       (unsigned long long)vcpu->run->fail_entry.hardware_entry_failure_reason);
	} else {
		ASSERT_EQ(errno, EINVAL);
	}
	vcpu_set_sregs(vcpu, &good);
	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x10);
}

/*
 * A CR3 above MAXPHYADDR with paging off: KVM_SET_SREGS takes it on both
 * KVMs; QEMU's TCG (the SVM bed's CPU) refuses it at VMRUN in every mode.
 * A failed entry leaves the vCPU's state as it was (on hardware VMRUN
 * does not touch the VMCB then; under TCG nkvm puts back what TCG
 * overwrites, and Linux KVM reports TCG's host registers, so the state is
 * checked on nkvm only).  Good state makes the vCPU run again.
 */
TEST(failed_entry_leaves_the_state_alone)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_sregs good, bad, after;
	struct kvm_regs regs, after_regs;

	vcpu_get_sregs(vcpu, &good);
	vcpu_get_regs(vcpu, &regs);
	bad = good;
	bad.cr3 = 1ULL << 52;
	if (set_sregs(vcpu, &bad)) {
		ASSERT_EQ(errno, EINVAL);
		SKIP("KVM_SET_SREGS refused the CR3");
	}
	if (vcpu_run(vcpu) != KVM_EXIT_FAIL_ENTRY) {
		vcpu_set_sregs(vcpu, &good);
		SKIP("this CPU took the CR3 (exit %u)", vcpu->run->exit_reason);
	}
	if (kvm_is_nkvm(vcpu->vm->kvm_fd)) {
		vcpu_get_regs(vcpu, &after_regs);
		vcpu_get_sregs(vcpu, &after);
		ASSERT_EQ(after_regs.rip, regs.rip);
		ASSERT_EQ(after_regs.rsp, regs.rsp);
		ASSERT_EQ(after_regs.rflags, regs.rflags);
		ASSERT_EQ(after.cr0, bad.cr0);
		ASSERT_EQ(after.cr3, bad.cr3);
		ASSERT_EQ(after.cr4, bad.cr4);
		ASSERT_EQ(after.efer, bad.efer);
		ASSERT_EQ(after.cs.selector, bad.cs.selector);
		ASSERT_EQ(after.cs.base, bad.cs.base);
		ASSERT_EQ(after.cs.l, bad.cs.l);
		ASSERT_EQ(after.gdt.base, bad.gdt.base);
	}
	vcpu_set_sregs(vcpu, &good);
	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x10);
}

/* Guest memory that is not mapped in the VMM: KVM_RUN fails with EFAULT. */
TEST(slot_without_host_memory_is_efault)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct vm *vm = vcpu->vm;
	void *hole;

	/* Map, register, then unmap the backing of a slot at 1 MiB. */
	hole = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(hole != MAP_FAILED);
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x100000, 0x100000, (uintptr_t)hole));
	ASSERT_OK(munmap(hole, 0x100000));

	/* DS = 0xffff: DS:0x10 is guest-physical 0x100000 (no A20 masking). */
	static const unsigned char code[] = {
		0xb8, 0xff, 0xff,	/* mov ax, 0xffff */
		0x8e, 0xd8,		/* mov ds, ax */
		0xa0, 0x10, 0x00,	/* mov al, [0x10] */
		0xf4,			/* hlt */
	};
	vm_write(vm, CODE_ADDR, code, sizeof(code));
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EFAULT);
}

TEST_HARNESS_MAIN
