// SPDX-License-Identifier: GPL-2.0
/*
 * test_hlt.c - HLT without an in-kernel irqchip exits to userspace with
 * KVM_EXIT_HLT, RIP past the HLT; the next KVM_RUN continues after it.
 */
#include <sys/ioctl.h>

#include "vm.h"

GUEST_CODE(hlt_guest,
	"hlt\n"				/* 1000: f4		*/
	"out %al, $0x10\n"		/* 1001: e6 10		*/
	"hlt\n"				/* 1003: f4		*/
	"hlt\n"				/* 1004: f4		*/
);

TEST(hlt_exits_to_userspace)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1001);
}

TEST(run_again_continues_after_hlt)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1003);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1004);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1005);
}

/* CX counts the HLTs: it is incremented before each one. */
GUEST_CODE(hlt_loop_guest,
	"xor %cx, %cx\n"
	"1:\n"
	"inc %cx\n"
	"hlt\n"
	"jmp 1b\n"
);

TEST(hlt_many_times)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_loop_guest);
	struct kvm_regs regs;

	for (int i = 1; i <= 500; i++) {
		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
		vcpu_get_regs(vcpu, &regs);
		ASSERT_EQ(regs.rcx, i);
	}
}

/* With interrupts enabled or disabled, HLT exits all the same. */
GUEST_CODE(sti_hlt_guest,
	"sti\n"				/* 1000: fb		*/
	"hlt\n"				/* 1001: f4		*/
	"cli\n"				/* 1002: fa		*/
	"hlt\n"				/* 1003: f4		*/
);

TEST(hlt_with_if_set_and_clear)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sti_hlt_guest);
	struct kvm_regs regs;

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rip, 0x1002);
	ASSERT_TRUE(regs.rflags & 0x200);	/* IF */
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rip, 0x1004);
	ASSERT_FALSE(regs.rflags & 0x200);
}

/*
 * After a HLT exit, the host moves RIP somewhere else: the guest resumes
 * there, not after the HLT.
 */
GUEST_CODE(elsewhere_guest,
	"mov $0x42, %al\n"		/* 2000: b0 42		*/
	"out %al, $0x20\n"		/* 2002: e6 20		*/
	"hlt\n"				/* 2004: f4		*/
);

TEST(set_rip_after_hlt)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct kvm_regs regs;

	vm_write(vcpu->vm, 0x2000, elsewhere_guest, GUEST_SIZE(elsewhere_guest));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_regs(vcpu, &regs);
	regs.rip = 0x2000;
	vcpu_set_regs(vcpu, &regs);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x20), 0x42);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x2005);
}

/* HLT as the very first instruction at a far-away CS:IP. */
TEST(hlt_with_nonzero_cs)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	/* cs = 0x0f00, ip = 0x0100: linear 0xf100 */
	vm_write(vcpu->vm, 0xf100, hlt_guest, GUEST_SIZE(hlt_guest));
	vcpu_get_sregs(vcpu, &sregs);
	sregs.cs.selector = 0x0f00;
	sregs.cs.base = 0xf000;
	vcpu_set_sregs(vcpu, &sregs);
	vcpu_get_regs(vcpu, &regs);
	regs.rip = 0x100;
	vcpu_set_regs(vcpu, &regs);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x101);	/* RIP is CS-relative */
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x103);
}

/* Two vCPUs of one VM halt independently. */
TEST(hlt_two_vcpus)
{
	struct vcpu *a = VM_WITH_GUEST(hlt_guest);
	struct vcpu *b = vcpu_create(a->vm, 1);

	vcpu_set_real_mode(b, 0x1003);
	ASSERT_EQ(vcpu_run(a), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_run(b), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(a), 0x1001);
	ASSERT_EQ(vcpu_rip(b), 0x1004);
	RUN_OUT(a, 1, 0x10);
	ASSERT_EQ(vcpu_run(b), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(b), 0x1005);
	ASSERT_EQ(vcpu_settle_rip(a), 0x1003);
}

TEST_HARNESS_MAIN
