// SPDX-License-Identifier: GPL-2.0
/*
 * test_vapic.c - what QEMU's kvmvapic sets up on every vCPU: the VAPIC word
 * (KVM_SET_VAPIC_ADDR) and TPR access reporting (KVM_TPR_ACCESS_REPORTING),
 * with Linux's semantics.  (The machine-check ioctls QEMU also uses are
 * tested in test_msr.)
 */
#include <sys/ioctl.h>

#include "vm.h"

#define VAPIC_GPA	0x7000
#define APIC_TPR	0x80
#define APIC_SPIV	0xf0

/*
 * OUT to port 0x10 between writes to the VAPIC word's TPR byte, as a guest
 * patched to use the VAPIC page would do.
 */
GUEST_CODE(out_guest,
	"out %al, $0x10\n"
	"movb $0x50, " XSTR(VAPIC_GPA) "\n"
	"out %al, $0x10\n"
	"movb $0x70, " XSTR(VAPIC_GPA) "\n"
	"out %al, $0x10\n"
	"hlt\n"
);

static struct vm *irqchip_vm(void)
{
	int kvm = kvm_open();
	struct vm *vm;

	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VAPIC) <= 0)
		SKIP("no KVM_CAP_VAPIC");
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		SKIP("no KVM_CAP_IRQCHIP");
	close(kvm);
	vm = vm_create(VM_MEM_SIZE);
	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
	vm_load_guest(vm, out_guest);
	return vm;
}

TEST(vapic_needs_irqchip_and_memory)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_guest);
	struct kvm_vapic_addr va = { .vapic_addr = VAPIC_GPA };
	struct kvm_tpr_access_ctl ctl = { .enabled = 1 };
	struct vm *vm;

	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VAPIC_ADDR, &va), EINVAL);
	vm = irqchip_vm();
	vcpu = vcpu_create(vm, 0);
	va.vapic_addr = 0x40000000;	/* no memory there */
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VAPIC_ADDR, &va), EINVAL);
	va.vapic_addr = 0;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_VAPIC_ADDR, &va), 0);
	ctl.flags = 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_TPR_ACCESS_REPORTING, &ctl), EINVAL);
	ctl.flags = 0;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_TPR_ACCESS_REPORTING, &ctl), 0);
}

/*
 * The VAPIC word: the TPR goes into it before an entry (Linux refreshes it
 * when it looks at events, as after KVM_SET_LAPIC) and comes back from it
 * after an exit.
 */
TEST(vapic_word_mirrors_tpr)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_vapic_addr va = { .vapic_addr = VAPIC_GPA };
	struct kvm_lapic_state lapic;
	volatile uint32_t *word = vm_ptr(vm, VAPIC_GPA);

	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic), 0);
	*(uint32_t *)&lapic.regs[APIC_SPIV] = 0x1ff;	/* software-enabled */
	*(uint32_t *)&lapic.regs[APIC_TPR] = 0x20;
	*word = 0xdeadbeef;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_VAPIC_ADDR, &va), 0);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic), 0);

	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*word, 0x20);		/* TPR 0x20, nothing in service or asked */

	RUN_OUT(vcpu, 1, 0x10);		/* the guest wrote 0x50 */
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic), 0);
	ASSERT_EQ(*(uint32_t *)&lapic.regs[APIC_TPR], 0x50);

	/* Turned off: the guest's word is its own business. */
	va.vapic_addr = 0;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_VAPIC_ADDR, &va), 0);
	RUN_OUT(vcpu, 1, 0x10);		/* the guest wrote 0x70 */
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic), 0);
	ASSERT_EQ(*(uint32_t *)&lapic.regs[APIC_TPR], 0x50);
}

TEST_HARNESS_MAIN
