// SPDX-License-Identifier: GPL-2.0
/*
 * test_shutdown.c - a triple fault gives KVM_EXIT_SHUTDOWN.
 *
 * How the triple fault is made: the guest loads an IDT with limit 0
 * (lidt from a 6-byte descriptor the host puts at 0x500, all zeros), sets
 * CR0.PE and raises an exception.  In protected mode the vector is past
 * the IDT limit: #GP, whose vector is past the limit too: #DF, likewise:
 * triple fault, shutdown.
 *
 * Why not stay in real mode (lidt limit 0, then int3): on this reference
 * machine's Linux KVM, real-mode exceptions and INT n are delivered by
 * KVM's emulator, which reads the IVT entry without checking the IDT limit
 * (the guest simply jumps through IVT[n] = 0000:0000).  Bare-metal SVM/VMX
 * real mode does check the limit.  So that variant is not portable between
 * KVM backends and is not used; neither is INT n in protected mode, which
 * Linux's emulator cannot deliver (KVM_EXIT_INTERNAL_ERROR here).
 * Exceptions (#UD, #DE, #GP) are portable: all backends check the IDT
 * limit in protected mode.
 *
 * What happens after the shutdown is backend-specific too, so it is not
 * checked: Linux's SVM code INITs the vCPU (RIP fff0, CS f000), VMX and
 * this reference machine leave the state as it was.  What is checked is
 * that the other vCPUs of the VM go on, that the state ioctls work, and
 * that the MSRs common code keeps survive (neither INIT nor "nothing"
 * touches MISC_ENABLE or the MTRRs).
 */
#define MSR_MISC_ENABLE		0x1a0
#define MSR_MTRRdefType		0x2ff
#include <sys/ioctl.h>

#include "vm.h"

#define IDT_DESC_ADDR	0x500	/* 6 zero bytes: limit 0, base 0 */

/* lidt (0x500); CR0.PE = 1.  Leaves CS with its real-mode descriptor. */
#define ENTER_PE_NULL_IDT						\
	"lidt (0x500)\n"		/* 0f 01 1e 00 05	*/	\
	"mov %cr0, %eax\n"		/* 0f 20 c0		*/	\
	"or $1, %eax\n"			/* 66 83 c8 01		*/	\
	"mov %eax, %cr0\n"		/* 0f 22 c0		*/

GUEST_CODE(ud_guest,
	ENTER_PE_NULL_IDT
	"ud2\n"				/* #UD, vector 6	*/
	"hlt\n"
);

GUEST_CODE(de_guest,
	ENTER_PE_NULL_IDT
	"xor %cx, %cx\n"
	"div %cx\n"			/* #DE, vector 0	*/
	"hlt\n"
);

GUEST_CODE(gp_guest,
	ENTER_PE_NULL_IDT
	"mov $8, %ax\n"
	"mov %ax, %ds\n"		/* GDT entry 1 (reset GDTR: base 0,
					 * limit ffff) is the zeros at 0x8,
					 * not a data segment: #GP	*/
	"hlt\n"
);

GUEST_CODE(plain_ud_guest,
	"ud2\n"
	"hlt\n"
);

GUEST_CODE(report_guest,
	"mov $0x99, %al\n"		/* 2000: b0 99	*/
	"out %al, $0x10\n"		/* 2002: e6 10	*/
	"hlt\n"				/* 2004: f4	*/
);

static struct vcpu *shutdown_vm(const void *code, size_t len)
{
	struct vcpu *vcpu = vm_with_guest(code, len);

	memset(vm_ptr(vcpu->vm, IDT_DESC_ADDR), 0, 6);
	return vcpu;
}

TEST(triple_fault_ud)
{
	struct vcpu *vcpu = shutdown_vm(ud_guest, GUEST_SIZE(ud_guest));

	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
}

TEST(triple_fault_de)
{
	struct vcpu *vcpu = shutdown_vm(de_guest, GUEST_SIZE(de_guest));

	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
}

TEST(triple_fault_gp)
{
	struct vcpu *vcpu = shutdown_vm(gp_guest, GUEST_SIZE(gp_guest));

	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
}

/* The same, with protected mode and the null IDT set up by SET_SREGS. */
TEST(triple_fault_host_set_idt)
{
	struct vcpu *vcpu = VM_WITH_GUEST(plain_ud_guest);
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 |= 1;			/* PE */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	vcpu_set_sregs(vcpu, &sregs);

	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
}

/* The exits before the fault are normal ones. */
GUEST_CODE(out_then_ud_guest,
	"out %al, $0x10\n"
	ENTER_PE_NULL_IDT
	"out %al, $0x11\n"
	"ud2\n"
);

TEST(io_exits_before_shutdown)
{
	struct vcpu *vcpu = shutdown_vm(out_then_ud_guest,
					GUEST_SIZE(out_then_ud_guest));

	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x11);
	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
}

/*
 * After the shutdown the vCPU's state ioctls still work.  Running it again
 * is not tested: what that does differs between Linux backends (see the
 * top of the file; on Debian 6.1's kvm-amd in the QEMU bed the reset vCPU
 * never makes progress again, even after SET_SREGS/SET_REGS, while this
 * reference machine simply triple faults again).
 */
TEST(state_ioctls_after_shutdown)
{
	struct vcpu *vcpu = shutdown_vm(ud_guest, GUEST_SIZE(ud_guest));
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
	vcpu_get_regs(vcpu, &regs);
	vcpu_get_sregs(vcpu, &sregs);
	vcpu_set_sregs(vcpu, &sregs);
	vcpu_set_regs(vcpu, &regs);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(vcpu_rip(vcpu), CODE_ADDR);
}

TEST(msrs_kept_through_shutdown)
{
	struct vcpu *vcpu = shutdown_vm(ud_guest, GUEST_SIZE(ud_guest));
	uint64_t misc = vcpu_get_msr(vcpu, MSR_MISC_ENABLE) | 1;

	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, misc);
	vcpu_set_msr(vcpu, MSR_MTRRdefType, 0xc06);
	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SHUTDOWN);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), misc);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRdefType), 0xc06);
}

/* A shutdown of one vCPU does not stop another vCPU of the VM. */
TEST(shutdown_is_per_vcpu)
{
	struct vcpu *a = shutdown_vm(ud_guest, GUEST_SIZE(ud_guest));
	struct vcpu *b = vcpu_create(a->vm, 1);

	vm_write(a->vm, 0x2000, report_guest, GUEST_SIZE(report_guest));
	vcpu_set_real_mode(b, 0x2000);
	vcpu_run(a);
	ASSERT_EXIT(a, KVM_EXIT_SHUTDOWN);
	ASSERT_EQ(RUN_OUT(b, 1, 0x10), 0x99);
	ASSERT_EQ(vcpu_run(b), KVM_EXIT_HLT);
}

TEST_HARNESS_MAIN
