// SPDX-License-Identifier: GPL-2.0
/*
 * test_events.c - event injection with a userspace irqchip: KVM_INTERRUPT
 * with request_interrupt_window / ready_for_interrupt_injection /
 * KVM_EXIT_IRQ_WINDOW_OPEN, KVM_NMI and NMI blocking until IRET,
 * KVM_SET_VCPU_EVENTS injecting exceptions and interrupts (real and
 * protected mode), KVM_GET_VCPU_EVENTS, the interrupt shadow after STI and
 * MOV SS, and the if_flag / cr8 / apic_base fields of kvm_run.
 *
 * Linux 6.1 behaviour worth knowing (asserted below):
 *  - Without an in-kernel irqchip, a second KVM_INTERRUPT before the
 *    first was delivered succeeds and replaces it (ENXIO is only for a VM
 *    with an in-kernel PIC).
 *  - An exception injected in real mode has no error code, even if
 *    userspace asked for one.
 *  - KVM_SET_VCPU_EVENTS without KVM_VCPUEVENT_VALID_PAYLOAD ignores
 *    exception.pending (it does not fail).
 *  - The interrupt shadow of an STI or MOV SS followed by an OUT is still
 *    there at the OUT's exit, and gone once the OUT is completed.
 *  - A second NMI that arrives while the handler of the first runs is
 *    delivered right after the handler's IRET, before the instruction it
 *    returns to.
 *  - Each KVM_INTERRUPT is delivered once, even to a handler that runs
 *    long with IF clear (a QEMU TCG quirk under nkvm delivered some twice).
 *  - KVM_CAP_X86_TRIPLE_FAULT_EVENT: once enabled on the VM, the events
 *    carry KVM_VCPUEVENT_VALID_TRIPLE_FAULT and triple_fault.pending; a
 *    pending triple fault makes the next KVM_RUN exit with
 *    KVM_EXIT_SHUTDOWN before the guest runs, its registers kept.  The
 *    flag is refused (EINVAL) before the capability is enabled.
 */
#include <sys/ioctl.h>

#include "vm.h"

#define FLAG_ADDR	0x700	/* set by interrupt handlers */
#define COUNT_ADDR	0x710	/* NMI handler's count */
#define HANDLER_ADDR	0x3000	/* real-mode handlers, 0x100 apart */

static void load_at(struct vm *vm, uint64_t gpa, const void *code, size_t len)
{
	vm_write(vm, gpa, code, len);
}
#define LOAD_AT(vm, gpa, name) load_at(vm, gpa, name, GUEST_SIZE(name))

static void get_events(struct vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	memset(ev, 0xff, sizeof(*ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, ev));
}

static void interrupt(struct vcpu *vcpu, uint32_t irq)
{
	struct kvm_interrupt i = { .irq = irq };

	ASSERT_OK(ioctl(vcpu->fd, KVM_INTERRUPT, &i));
}

/* ------------------------------------------------------------------ */
/* KVM_INTERRUPT and the interrupt window                               */

/*
 * IF=0 for a while, then STI; the main loop waits for the handler's flag,
 * reports and halts.
 */
GUEST_CODE(window_guest,
	"cli\n"
	"mov $50, %cx\n"
	"1: loop 1b\n"
	"out %al, $0x10\n"
	"sti\n"
	"nop\n"
	"2: cmpb $0, (0x700)\n"
	"je 2b\n"
	"mov (0x700), %al\n"
	"out %al, $0x12\n"
	"hlt\n"
);

/* Vector-specific handlers: report the vector on port 0x11, set the flag. */
GUEST_CODE(irq20_handler,
	"mov $0x20, %al\n"
	"out %al, $0x11\n"
	"movb $0x20, (0x700)\n"
	"iret\n"
);
GUEST_CODE(irq21_handler,
	"mov $0x21, %al\n"
	"out %al, $0x11\n"
	"movb $0x21, (0x700)\n"
	"iret\n"
);

static struct vcpu *irq_vm(const void *code, size_t len)
{
	struct vcpu *vcpu = vm_with_guest(code, len);

	LOAD_AT(vcpu->vm, HANDLER_ADDR, irq20_handler);
	LOAD_AT(vcpu->vm, HANDLER_ADDR + 0x100, irq21_handler);
	vm_set_ivt(vcpu->vm, 0x20, 0, HANDLER_ADDR);
	vm_set_ivt(vcpu->vm, 0x21, 0, HANDLER_ADDR + 0x100);
	return vcpu;
}

TEST(irq_window_then_inject)
{
	struct vcpu *vcpu = irq_vm(window_guest, GUEST_SIZE(window_guest));
	struct kvm_run *run = vcpu->run;
	struct kvm_vcpu_events ev;

	run->request_interrupt_window = 1;
	RUN_OUT(vcpu, 1, 0x10);
	/* IF is clear: no window. */
	ASSERT_EQ(run->if_flag, 0);
	ASSERT_EQ(run->ready_for_interrupt_injection, 0);

	/* After STI (and the instruction it shadows): the window opens. */
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IRQ_WINDOW_OPEN);
	ASSERT_EQ(run->if_flag, 1);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);

	interrupt(vcpu, 0x20);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.injected, 1);
	ASSERT_EQ(ev.interrupt.nr, 0x20);
	ASSERT_EQ(ev.interrupt.soft, 0);
	run->request_interrupt_window = 0;

	/* The handler runs, then the main loop sees its flag. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x20);
	/* Not ready while in the handler: IF is clear there. */
	ASSERT_EQ(run->if_flag, 0);
	ASSERT_EQ(run->ready_for_interrupt_injection, 0);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.injected, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x12), 0x20);
	ASSERT_EQ(run->if_flag, 1);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

/* IF already set: asking for the window gets it at once. */
TEST(irq_window_already_open)
{
	struct vcpu *vcpu = irq_vm(window_guest, GUEST_SIZE(window_guest));
	struct kvm_run *run = vcpu->run;
	struct kvm_regs r;


	vcpu_get_regs(vcpu, &r);
	r.rip = CODE_ADDR + 6;		/* past CLI and the loop */
	r.rflags |= 0x200;
	vcpu_set_regs(vcpu, &r);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(run->if_flag, 1);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);

	run->request_interrupt_window = 1;
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IRQ_WINDOW_OPEN);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);
	interrupt(vcpu, 0x21);
	/* An interrupt queued: not ready for another one. */
	run->request_interrupt_window = 0;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x21);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x12), 0x21);
}

TEST(interrupt_twice_replaces)
{
	struct vcpu *vcpu = irq_vm(window_guest, GUEST_SIZE(window_guest));
	struct kvm_interrupt i = { .irq = 0x20 };
	struct kvm_vcpu_events ev;
	struct kvm_regs r;


	vcpu_get_regs(vcpu, &r);
	r.rip = CODE_ADDR + 6;
	r.rflags |= 0x200;
	vcpu_set_regs(vcpu, &r);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);

	ASSERT_OK(ioctl(vcpu->fd, KVM_INTERRUPT, &i));
	i.irq = 0x21;
	ASSERT_OK(ioctl(vcpu->fd, KVM_INTERRUPT, &i));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.injected, 1);
	ASSERT_EQ(ev.interrupt.nr, 0x21);
	/* Only the second is delivered. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x21);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x12), 0x21);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/* Out of range. */
	i.irq = 256;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_INTERRUPT, &i), EINVAL);
}

/*
 * Each injected interrupt is delivered once, and never while IF is clear:
 * the handler runs a long stretch with IF clear and no exit, and counts
 * how deep it is nested.  QEMU's TCG, as the CPU under nkvm, used to
 * deliver an injected interrupt a second time inside its own handler when
 * its CPU thread was kicked before the guest's next exit (svm.c,
 * svm_tcg_settle_injected_irq()); this replays that sequence, hundreds of
 * times (the kick itself is up to the host, so the test can only make the
 * window wide).
 */
GUEST_CODE(once_guest,
	"sti\n"
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);
GUEST_CODE(once_handler,
	"push %cx\n"
	"incw (0x700)\n"		/* depth */
	"cmpw $1, (0x700)\n"
	"je 1f\n"
	"movw $1, (0x702)\n"		/* nested: taken with IF clear */
	"1: mov $20000, %cx\n"
	"2: loop 2b\n"
	"decw (0x700)\n"
	"incw (0x704)\n"		/* handled */
	"pop %cx\n"
	"iret\n"
);

TEST(interrupt_delivered_once)
{
	struct vcpu *vcpu = vm_with_guest(once_guest, GUEST_SIZE(once_guest));
	const uint16_t *w = (const uint16_t *)((char *)vcpu->vm->mem + FLAG_ADDR);
	struct kvm_run *run = vcpu->run;
	int injected = 0;

	LOAD_AT(vcpu->vm, HANDLER_ADDR, once_handler);
	vm_set_ivt(vcpu->vm, 0x20, 0, HANDLER_ADDR);
	while (injected < 300) {
		RUN_OUT(vcpu, 1, 0x10);
		ASSERT_EQ(w[1], 0);
		if (run->ready_for_interrupt_injection) {
			interrupt(vcpu, 0x20);
			injected++;
		}
	}
	/* The last handler has returned to the main loop. */
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(w[1], 0);
	ASSERT_EQ(w[0], 0);
	ASSERT_EQ(w[2], injected);
}

/* The interrupt queued in KVM_GET_SREGS's bitmap, and back through SET. */
TEST(interrupt_in_sregs_bitmap)
{
	struct vcpu *vcpu = irq_vm(window_guest, GUEST_SIZE(window_guest));
	struct kvm_sregs s;
	struct kvm_regs r;

	vcpu_get_regs(vcpu, &r);
	r.rip = CODE_ADDR + 6;
	r.rflags |= 0x200;
	vcpu_set_regs(vcpu, &r);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);

	interrupt(vcpu, 0x21);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(s.interrupt_bitmap[0x21 / 64], 1ULL << (0x21 % 64));
	for (int k = 1; k < 4; k++)
		ASSERT_EQ(s.interrupt_bitmap[k], 0);

	/* Taken back out by a SET_SREGS without it... */
	memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
	vcpu_set_sregs(vcpu, &s);
	{
		struct kvm_vcpu_events ev;

		get_events(vcpu, &ev);
		ASSERT_EQ(ev.interrupt.injected, 1);	/* SET_SREGS only adds */
	}
	/* ... and one put in through SET_SREGS is delivered. */
	s.interrupt_bitmap[0x20 / 64] = 1ULL << (0x20 % 64);
	vcpu_set_sregs(vcpu, &s);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x20);
}

/* ------------------------------------------------------------------ */
/* NMI                                                                 */

GUEST_CODE(nmi_main,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

GUEST_CODE(nmi_handler,
	"incw (0x710)\n"
	"mov (0x710), %ax\n"
	"out %ax, $0x12\n"		/* in the handler */
	"out %al, $0x13\n"		/* about to IRET */
	"iret\n"
);

static struct vcpu *nmi_vm(void)
{
	struct vcpu *vcpu = VM_WITH_GUEST(nmi_main);

	LOAD_AT(vcpu->vm, HANDLER_ADDR, nmi_handler);
	vm_set_ivt(vcpu->vm, 2, 0, HANDLER_ADDR);
	return vcpu;
}

TEST(nmi_delivered)
{
	struct vcpu *vcpu = nmi_vm();
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 0);
	ASSERT_EQ(ev.nmi.masked, 0);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_SHADOW);

	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 1);
	ASSERT_EQ(ev.nmi.injected, 0);
	ASSERT_EQ(ev.nmi.masked, 0);

	/* NMIs come whatever IF says (IF is clear here). */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 1);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 0);
	ASSERT_EQ(ev.nmi.masked, 1);
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.masked, 0);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vcpu->vm, COUNT_ADDR), 1);
}

TEST(nmi_during_handler_waits_for_iret)
{
	struct vcpu *vcpu = nmi_vm();
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 1);

	/* A second NMI while the first one's handler runs. */
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 1);
	ASSERT_EQ(ev.nmi.masked, 1);
	/* Still the first handler. */
	RUN_OUT(vcpu, 1, 0x13);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vcpu->vm, COUNT_ADDR), 1);
	/* Its IRET unblocks NMIs: the second comes before the main loop. */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 2);
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 0);
	ASSERT_EQ(ev.nmi.masked, 0);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vcpu->vm, COUNT_ADDR), 2);
}

TEST(two_nmis_before_running)
{
	struct vcpu *vcpu = nmi_vm();


	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));	/* at most two are kept */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 1);
	RUN_OUT(vcpu, 1, 0x13);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 2);
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vcpu->vm, COUNT_ADDR), 2);
}

TEST(nmi_pending_through_set_events)
{
	struct vcpu *vcpu = nmi_vm();
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ev.nmi.pending = 1;
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 1);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 1);

	/* Masked through SET_VCPU_EVENTS: a new NMI waits. */
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ev.nmi.masked = 1;
	ev.flags = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vcpu->vm, COUNT_ADDR), 1);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.nmi.pending, 1);
	ASSERT_EQ(ev.nmi.masked, 1);
	/* Unmasked: it comes. */
	ev.nmi.masked = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 2);
}

/* ------------------------------------------------------------------ */
/* Exceptions through KVM_SET_VCPU_EVENTS                               */

GUEST_CODE(exc_main,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

/* Real mode: report the IP pushed and SP, then halt. */
GUEST_CODE(rm_exc_handler,
	"mov %sp, %bp\n"
	"mov (%bp), %ax\n"
	"out %ax, $0x16\n"
	"mov %sp, %ax\n"
	"out %ax, $0x17\n"
	"hlt\n"
);

static void inject_exception(struct vcpu *vcpu, int nr, bool has_err,
			     uint32_t err)
{
	struct kvm_vcpu_events ev;

	get_events(vcpu, &ev);
	ev.exception.injected = 1;
	ev.exception.nr = nr;
	ev.exception.has_error_code = has_err;
	ev.exception.error_code = err;
	ev.flags = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.exception.injected, 1);
	ASSERT_EQ(ev.exception.nr, nr);
	ASSERT_EQ(ev.exception.has_error_code, has_err);
	if (has_err)
		ASSERT_EQ(ev.exception.error_code, err);
}

TEST(inject_exception_real_mode)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	uint64_t rip;

	LOAD_AT(vcpu->vm, HANDLER_ADDR, rm_exc_handler);
	vm_set_ivt(vcpu->vm, 6, 0, HANDLER_ADDR);
	RUN_OUT(vcpu, 1, 0x10);
	rip = vcpu_settle_rip(vcpu);

	inject_exception(vcpu, 6, false, 0);
	/* A fault: the handler gets the IP of the interrupted instruction. */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x16), rip);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x17), STACK_TOP - 6);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

/* Real mode has no error codes: Linux drops the one asked for. */
TEST(inject_exception_real_mode_error_code_dropped)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	uint64_t rip;

	LOAD_AT(vcpu->vm, HANDLER_ADDR, rm_exc_handler);
	vm_set_ivt(vcpu->vm, 13, 0, HANDLER_ADDR);
	RUN_OUT(vcpu, 1, 0x10);
	rip = vcpu_settle_rip(vcpu);

	inject_exception(vcpu, 13, true, 0x1234);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x16), rip);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x17), STACK_TOP - 6);
}

/*
 * Protected mode, flat 32-bit (vm.h's MODE_PM32: its GDT and an IDT of
 * 32-bit interrupt gates).  The #GP handler reports its error code, ESP
 * and the EIP pushed, the #UD handler ESP and EIP; both return with IRET.
 */
GUEST_CODE(pm_main,
	".code32\n"
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

GUEST_CODE(pm_gp_handler,
	".code32\n"
	"mov %esp, %ebx\n"
	"pop %eax\n"
	"out %eax, $0x1d\n"		/* error code */
	"mov %ebx, %eax\n"
	"out %eax, $0x1e\n"		/* ESP at entry */
	"mov (%esp), %eax\n"
	"out %eax, $0x1f\n"		/* EIP pushed */
	"iret\n"
);

GUEST_CODE(pm_ud_handler,
	".code32\n"
	"mov %esp, %eax\n"
	"out %eax, $0x1e\n"
	"mov (%esp), %eax\n"
	"out %eax, $0x1f\n"
	"iret\n"
);

static struct vcpu *pm_vm(void)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(pm_main, GUEST_SIZE(pm_main),
						  MODE_PM32);
	struct vm *vm = vcpu->vm;

	LOAD_AT(vm, HANDLER_ADDR, pm_gp_handler);
	LOAD_AT(vm, HANDLER_ADDR + 0x100, pm_ud_handler);
	vm_set_idt_gate(vm, MODE_PM32, 13, HANDLER_ADDR);
	vm_set_idt_gate(vm, MODE_PM32, 6, HANDLER_ADDR + 0x100);
	return vcpu;
}

TEST(inject_exception_protected_mode_error_code)
{
	struct vcpu *vcpu = pm_vm();
	uint64_t rip;

	RUN_OUT(vcpu, 1, 0x10);
	rip = vcpu_settle_rip(vcpu);
	inject_exception(vcpu, 13, true, 0x1234);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x1d), 0x1234);
	/* EIP, CS, EFLAGS and the error code were pushed. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x1e), STACK_TOP - 16);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x1f), rip);
	/* IRET back to the main loop: its jmp, then its OUT again. */
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(vcpu_settle_rip(vcpu), rip);
}

TEST(inject_exception_protected_mode_no_error_code)
{
	struct vcpu *vcpu = pm_vm();
	uint64_t rip;

	RUN_OUT(vcpu, 1, 0x10);
	rip = vcpu_settle_rip(vcpu);
	inject_exception(vcpu, 6, false, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x1e), STACK_TOP - 12);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x1f), rip);
	RUN_OUT(vcpu, 1, 0x10);
}

/* An external interrupt through KVM_SET_VCPU_EVENTS, like KVM_INTERRUPT. */
TEST(inject_interrupt_through_events)
{
	struct vcpu *vcpu = irq_vm(window_guest, GUEST_SIZE(window_guest));
	struct kvm_vcpu_events ev;
	struct kvm_regs r;

	vcpu_get_regs(vcpu, &r);
	r.rip = CODE_ADDR + 6;
	r.rflags |= 0x200;
	vcpu_set_regs(vcpu, &r);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ev.interrupt.injected = 1;
	ev.interrupt.nr = 0x21;
	ev.interrupt.soft = 0;
	ev.flags = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x21);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x12), 0x21);
}

TEST(set_events_checks)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	struct kvm_vcpu_events ev, good;

	get_events(vcpu, &good);
	ASSERT_EQ(good.exception.injected, 0);
	ASSERT_EQ(good.interrupt.injected, 0);
	ASSERT_EQ(good.nmi.injected, 0);
	ASSERT_EQ(good.smi.smm, 0);

	/* Unknown flag. */
	ev = good;
	ev.flags = 0x80000000;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev), EINVAL);
	/* Exception vectors above 31, and NMI as an exception. */
	ev = good;
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = 32;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev), EINVAL);
	ev.exception.nr = 2;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev), EINVAL);
	/* The payload flag needs KVM_CAP_EXCEPTION_PAYLOAD enabled. */
	ev = good;
	ev.flags = KVM_VCPUEVENT_VALID_PAYLOAD;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev), EINVAL);
}

/*
 * Without KVM_VCPUEVENT_VALID_PAYLOAD, "pending" is not part of the ABI:
 * Linux ignores it (no exception, no error).
 */
TEST(set_events_pending_exception_ignored)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	struct kvm_vcpu_events ev;


	LOAD_AT(vcpu->vm, HANDLER_ADDR, rm_exc_handler);
	vm_set_ivt(vcpu->vm, 6, 0, HANDLER_ADDR);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ev.flags = 0;
	ev.exception.pending = 1;
	ev.exception.nr = 6;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.exception.injected, 0);
	ASSERT_EQ(ev.exception.pending, 0);
	RUN_OUT(vcpu, 1, 0x10);		/* no #UD */
}

/* ------------------------------------------------------------------ */
/* The interrupt shadow                                                */

GUEST_CODE(shadow_guest,
	"sti\n"
	"out %al, $0x10\n"		/* shadowed by STI */
	"nop\n"
	"out %al, $0x11\n"
	"xor %ax, %ax\n"
	"mov %ax, %ss\n"
	"out %al, $0x12\n"		/* shadowed by MOV SS */
	"nop\n"
	"out %al, $0x13\n"
	"hlt\n"
);

/* No STI, no MOV SS: no shadow, at the exit or after it. */
TEST(no_interrupt_shadow_without_sti)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
}

TEST(interrupt_shadow_sti_and_mov_ss)
{
	struct vcpu *vcpu = VM_WITH_GUEST(shadow_guest);
	struct kvm_run *run = vcpu->run;
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_SHADOW);
	ASSERT_TRUE(ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI);
	/* IF is set, but the shadow holds interrupts off. */
	ASSERT_EQ(run->if_flag, 1);
	ASSERT_EQ(run->ready_for_interrupt_injection, 0);
	/* Once the OUT has completed, the shadow is over. */
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);

	RUN_OUT(vcpu, 1, 0x11);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);

	RUN_OUT(vcpu, 1, 0x12);
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS);
	ASSERT_EQ(run->ready_for_interrupt_injection, 0);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
	RUN_OUT(vcpu, 1, 0x13);
	ASSERT_EQ(run->ready_for_interrupt_injection, 1);
}

TEST(interrupt_shadow_set_and_get)
{
	struct vcpu *vcpu = VM_WITH_GUEST(exc_main);
	struct kvm_vcpu_events ev;


	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI);
	/* Without the flag, the shadow is left as it is. */
	ev.flags = 0;
	ev.interrupt.shadow = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI);
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.interrupt.shadow, 0);
}

/* ------------------------------------------------------------------ */
/* if_flag, cr8 and apic_base in kvm_run                                */

GUEST_CODE(flags_guest,
	"out %al, $0x10\n"
	"sti\n"
	"nop\n"
	"out %al, $0x11\n"
	"cli\n"
	"out %al, $0x12\n"
	"hlt\n"
);

TEST(kvm_run_if_flag_cr8_apic_base)
{
	struct vcpu *vcpu = VM_WITH_GUEST(flags_guest);
	struct kvm_run *run = vcpu->run;
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	s.cr8 = 5;
	s.apic_base = 0xfee00000ULL | (1 << 8);		/* BSP, disabled */
	vcpu_set_sregs(vcpu, &s);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(s.cr8, 5);
	ASSERT_EQ(s.apic_base, 0xfee00000ULL | (1 << 8));

	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(run->if_flag, 0);
	/*
	 * On SVM the guest's CR8 is V_TPR, which QEMU's TCG (the bed) does
	 * not keep across VMRUN: after a run only agreement is checked.
	 */
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(run->cr8, s.cr8);
	ASSERT_EQ(run->apic_base, 0xfee00000ULL | (1 << 8));
	RUN_OUT(vcpu, 1, 0x11);
	ASSERT_EQ(run->if_flag, 1);
	RUN_OUT(vcpu, 1, 0x12);
	ASSERT_EQ(run->if_flag, 0);

	s.apic_base |= 1 << 11;
	s.cr8 = 3;
	vcpu_set_sregs(vcpu, &s);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(s.cr8, 3);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(run->cr8, s.cr8);
	ASSERT_EQ(run->apic_base, 0xfee00000ULL | (1 << 8) | (1 << 11));
}

/* ------------------------------------------------------------------ */
/* Triple fault events                                                  */

GUEST_CODE(tf_guest,
	"mov $0x1234, %bx\n"
	"1: in $0x10, %al\n"
	"out %al, $0x11\n"
	"jmp 1b\n"
);

static void set_triple_fault(struct vcpu *vcpu, bool pending)
{
	struct kvm_vcpu_events ev;

	get_events(vcpu, &ev);
	ev.flags = KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	ev.triple_fault.pending = pending;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
}

TEST(triple_fault_event_needs_the_cap)
{
	struct vcpu *vcpu = VM_WITH_GUEST(tf_guest);
	struct kvm_vcpu_events ev;

	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_TRIPLE_FAULT_EVENT))
		SKIP("no KVM_CAP_X86_TRIPLE_FAULT_EVENT");
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT, 0);
	ev.flags = KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	ev.triple_fault.pending = 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev), EINVAL);

	vm_enable_cap(vcpu->vm, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT);
	ASSERT_EQ(ev.triple_fault.pending, 0);
}

TEST(triple_fault_event_shuts_down)
{
	struct vcpu *vcpu = VM_WITH_GUEST(tf_guest);
	struct kvm_vcpu_events ev;
	struct kvm_regs regs;
	uint8_t *data;

	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_TRIPLE_FAULT_EVENT))
		SKIP("no KVM_CAP_X86_TRIPLE_FAULT_EVENT");
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);

	/* At an IN exit, as triple_fault_event_test does it. */
	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 1, 0x10);
	*data = 0x5a;
	set_triple_fault(vcpu, true);
	/* Completing the IN leaves the triple fault pending. */
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1005);
	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT);
	ASSERT_EQ(ev.triple_fault.pending, 1);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_SHUTDOWN);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.triple_fault.pending, 0);
	/* Nothing ran, nothing was reset. */
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rip, 0x1005);
	ASSERT_EQ(regs.rbx & 0xffff, 0x1234);
	ASSERT_EQ(regs.rax & 0xff, 0x5a);
}

TEST(triple_fault_event_cleared)
{
	struct vcpu *vcpu = VM_WITH_GUEST(tf_guest);
	struct kvm_vcpu_events ev;

	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_TRIPLE_FAULT_EVENT))
		SKIP("no KVM_CAP_X86_TRIPLE_FAULT_EVENT");
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);
	vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 1, 0x10);
	set_triple_fault(vcpu, true);
	set_triple_fault(vcpu, false);
	get_events(vcpu, &ev);
	ASSERT_EQ(ev.triple_fault.pending, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0);
}

TEST_HARNESS_MAIN
