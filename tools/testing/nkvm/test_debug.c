// SPDX-License-Identifier: GPL-2.0
/*
 * test_debug.c - KVM_SET_GUEST_DEBUG: single-stepping and hardware
 * breakpoints exit with KVM_EXIT_DEBUG, the debugger's TF stays hidden
 * from the guest's RFLAGS, and turning debugging off lets the guest run.
 * (Software breakpoints are not tested: QEMU's TCG does not deliver the
 * #BP intercept for INT3, under Linux KVM either.)
 */
#include <sys/ioctl.h>

#include "vm.h"
#include "../../../include/uapi/nkvm/nkvm.h"

#define X86_EFLAGS_TF	(1 << 8)

GUEST_CODE(step_guest,
	"mov $1, %ax\n"			/* 1000: b8 01 00	*/
	"mov $2, %bx\n"			/* 1003: bb 02 00	*/
	"add %bx, %ax\n"		/* 1006: 01 d8		*/
	"out %al, $0x10\n"		/* 1008: e6 10		*/
	"hlt\n"				/* 100a: f4		*/
);

static void set_debug(struct vcpu *vcpu, uint32_t control, uint64_t dr0,
		      uint64_t dr7)
{
	struct kvm_guest_debug dbg = { .control = control };

	dbg.arch.debugreg[0] = dr0;
	dbg.arch.debugreg[7] = dr7;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg));
}

TEST(single_step_walks_the_instructions)
{
	struct vcpu *vcpu = VM_WITH_GUEST(step_guest);
	uint64_t want[] = { 0x1003, 0x1006, 0x1008 };
	struct kvm_regs regs;

	set_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_DEBUG);
		ASSERT_EQ(vcpu->run->debug.arch.exception, 1);
		ASSERT_EQ(vcpu->run->debug.arch.pc, want[i]);
		vcpu_get_regs(vcpu, &regs);
		ASSERT_EQ(regs.rip, want[i]);
		ASSERT_FALSE(regs.rflags & X86_EFLAGS_TF);
	}
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rax, 3);

	/* Debugging off: the guest runs on to its OUT. */
	set_debug(vcpu, 0, 0, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 3);
}

TEST(hardware_breakpoint_on_execution)
{
	struct vcpu *vcpu = VM_WITH_GUEST(step_guest);
	struct kvm_regs regs;

	/* DR0 = 0x1006 (CS base 0), DR7: L0, execute, length 1. */
	set_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP,
		  0x1006, 0x401);
	if (vcpu_run(vcpu) == KVM_EXIT_IO) {
		/* Seen under Linux KVM and nkvm alike in the QEMU TCG bed. */
		SKIP("this CPU raised no #DB for a DR7 execution breakpoint");
	}
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_DEBUG);
	ASSERT_EQ(vcpu->run->debug.arch.exception, 1);
	ASSERT_EQ(vcpu->run->debug.arch.pc, 0x1006);
	ASSERT_TRUE(vcpu->run->debug.arch.dr6 & 1);	/* B0 */
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rax, 1);
	ASSERT_EQ(regs.rbx, 2);

	set_debug(vcpu, 0, 0, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 3);
}

/*
 * nkvm refuses flags outside KVM_CAP_SET_GUEST_DEBUG2's mask; Debian's 6.1
 * Linux still accepts them, so this is nkvm's rule only.
 */
TEST(invalid_control_bits_are_einval)
{
	struct vcpu *vcpu = VM_WITH_GUEST(step_guest);
	struct kvm_guest_debug dbg = { .control = 1u << 30 };

	if (ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM) <= 0)
		SKIP("nkvm's rule (Linux 6.1 accepts unknown flags)");
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg), EINVAL);
}

TEST_HARNESS_MAIN
