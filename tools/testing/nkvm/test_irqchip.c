// SPDX-License-Identifier: GPL-2.0
/*
 * test_irqchip.c - the in-kernel irqchip (KVM_CREATE_IRQCHIP): reset
 * state of the LAPIC, PICs and IOAPIC as KVM_GET_LAPIC/KVM_GET_IRQCHIP show
 * it; real-mode guests taking interrupts from the x2APIC timer (periodic
 * and TSC-deadline), from another vCPU (IPI), from the PIT through the
 * 8259, and from an IOAPIC level pin with remote IRR and EOI; HLT sleeps in
 * the kernel meanwhile.  Skipped where KVM_CAP_IRQCHIP is not offered.
 */
#include <pthread.h>
#include <sys/ioctl.h>

#include "vm.h"

#define X2APIC_BIT	(1U << 21)
#define TSC_DL_BIT	(1U << 24)

/* Guest data (DS = 0) and handler addresses. */
#define COUNT		0x500
#define COUNT1		0x502
#define HANDLER		0x3000
#define HANDLER2	0x3100
#define AP_CODE		0x2000

static struct vm *irqchip_vm(void)
{
	struct vm *vm;
	int kvm = kvm_open();

	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		SKIP("no KVM_CAP_IRQCHIP");
	close(kvm);
	vm = vm_create(VM_MEM_SIZE);
	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
	return vm;
}

/* Supported CPUID, plus x2APIC and the TSC-deadline timer. */
static void set_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c;
	unsigned int i, n = 256;

	c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	ASSERT_TRUE(c != NULL);
	c->nent = n;
	ASSERT_EQ(ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c), 0);
	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= X2APIC_BIT | TSC_DL_BIT;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_CPUID2, c), 0);
	free(c);
}

static struct vcpu *guest_vcpu(struct vm *vm, int id, uint64_t rip)
{
	struct vcpu *vcpu = vcpu_create(vm, id);

	set_cpuid(vcpu);
	vcpu_set_real_mode(vcpu, rip);
	return vcpu;
}

static uint32_t mp_state(struct vcpu *vcpu)
{
	struct kvm_mp_state mp;

	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp), 0);
	return mp.mp_state;
}

/* With an in-kernel APIC an AP waits for INIT/SIPI; tests start it. */
static void set_runnable(struct vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), 0);
}

static void set_ivt(struct vm *vm, int vector, uint16_t handler)
{
	uint16_t e[2] = { handler, 0 };

	vm_write(vm, vector * 4, e, sizeof(e));
}

static uint16_t peek16(struct vm *vm, uint64_t gpa)
{
	return *(volatile uint16_t *)vm_ptr(vm, gpa);
}

static uint32_t reg32(const struct kvm_lapic_state *s, int off)
{
	uint32_t v;

	memcpy(&v, s->regs + off, 4);
	return v;
}

/* ---- State without a guest ------------------------------------------------ */

TEST(reset_state)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *bsp = vcpu_create(vm, 0), *ap = vcpu_create(vm, 1);
	struct kvm_lapic_state s;
	struct kvm_irqchip chip;
	int i;

	ASSERT_EQ(ioctl(bsp->fd, KVM_GET_LAPIC, &s), 0);
	ASSERT_EQ(reg32(&s, 0x20), 0);			/* ID */
	ASSERT_EQ(reg32(&s, 0x30), 0x50014);		/* version */
	ASSERT_EQ(reg32(&s, 0xe0), 0xffffffff);		/* DFR */
	ASSERT_EQ(reg32(&s, 0xf0), 0xff);		/* SPIV */
	ASSERT_EQ(reg32(&s, 0x320), 0x10000);		/* LVTT */
	ASSERT_EQ(reg32(&s, 0x350), 0x700);		/* LVT0: ExtINT */
	ASSERT_EQ(reg32(&s, 0x360), 0x10000);
	ASSERT_EQ(ioctl(ap->fd, KVM_GET_LAPIC, &s), 0);
	ASSERT_EQ(reg32(&s, 0x20), 1U << 24);
	ASSERT_EQ(reg32(&s, 0x350), 0x10000);

	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
	ASSERT_EQ(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
	ASSERT_EQ(chip.chip.pic.imr, 0);
	ASSERT_EQ(chip.chip.pic.elcr_mask, 0xf8);
	chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	ASSERT_EQ(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
	ASSERT_EQ(chip.chip.pic.elcr_mask, 0xde);
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	ASSERT_EQ(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
	ASSERT_EQ(chip.chip.ioapic.base_address, 0xfec00000);
	ASSERT_EQ(chip.chip.ioapic.id, 0);
	for (i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		ASSERT_EQ(chip.chip.ioapic.redirtbl[i].bits, 0x10000);
	chip.chip_id = 3;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), EINVAL);
	/* One irqchip per VM, before any vCPU. */
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), EEXIST);
}

TEST(lapic_state_round_trip)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_lapic_state s, t;

	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &s), 0);
	s.regs[0x80] = 0x30;			/* TPR */
	s.regs[0x200 + 0x10 * 2 + 1] = 0x01;	/* IRR: vector 0x48 */
	s.regs[0xf1] = 0x01;			/* SPIV: enabled */
	s.regs[0x30] = 0x99;			/* LVR: not writable */
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_LAPIC, &s), 0);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &t), 0);
	ASSERT_EQ(reg32(&t, 0x80), 0x30);
	ASSERT_EQ(reg32(&t, 0xa0), 0x30);	/* PPR follows */
	ASSERT_EQ(reg32(&t, 0x220), 1U << 8);
	ASSERT_EQ(reg32(&t, 0xf0), 0x1ff);
	ASSERT_EQ(reg32(&t, 0x30), 0x50014);
}

/* ---- The x2APIC timer --------------------------------------------------- */

GUEST_CODE(count_handler, X2APIC_COUNT_HANDLER("0x500"));
GUEST_CODE(count1_handler, X2APIC_COUNT_HANDLER("0x502"));

/* Periodic timer, vector 0x40, 1 ms (divide by 1 at 1 GHz); ten ticks. */
GUEST_CODE(periodic_guest,
	X2APIC_ON
	"mov $0x83e, %ecx\n"		/* TDCR: divide by 1 */
	"mov $0xb, %eax\n"
	"wrmsr\n"
	"mov $0x832, %ecx\n"		/* LVTT: periodic, vector 0x40 */
	"mov $0x20040, %eax\n"
	"wrmsr\n"
	"mov $0x838, %ecx\n"		/* TMICT */
	"mov $1000000, %eax\n"
	"wrmsr\n"
	"1: cli\n"			/* sti; hlt: no wake-up lost */
	"cmpw $10, 0x500\n"
	"jae 2f\n"
	"sti\n"
	"hlt\n"
	"jmp 1b\n"
	"2:\n"
	"mov 0x500, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(x2apic_periodic_timer)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu = guest_vcpu(vm, 0, CODE_ADDR);
	struct kvm_lapic_state s;

	vm_load_guest(vm, periodic_guest);
	vm_write(vm, HANDLER, count_handler, GUEST_SIZE(count_handler));
	set_ivt(vm, 0x40, HANDLER);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 10);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_LAPIC, &s), 0);
	ASSERT_EQ(reg32(&s, 0x320), 0x20040);
	ASSERT_EQ(reg32(&s, 0x380), 1000000);
	ASSERT_LE(reg32(&s, 0x390), 1000000);	/* TMCCT counts down */
	/* x2APIC: ID in the 32-bit format only with KVM_CAP_X2APIC_API. */
	ASSERT_EQ(reg32(&s, 0x20), 0);
	ASSERT_EQ(reg32(&s, 0xd0), 1);		/* LDR: cluster 0, bit 0 */
}

/* TSC-deadline timer, vector 0x40, 1 ms at a time; five of them. */
GUEST_CODE(deadline_guest,
	X2APIC_ON
	"mov $0x832, %ecx\n"		/* LVTT: TSC deadline, vector 0x40 */
	"mov $0x40040, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"1: cli\n"
	"rdtsc\n"
	"add $1000000, %eax\n"
	"adc $0, %edx\n"
	"mov $0x6e0, %ecx\n"
	"wrmsr\n"
	"sti\n"
	"hlt\n"
	"cli\n"
	"cmpw $5, 0x500\n"
	"jb 1b\n"
	"mov $0x6e0, %ecx\n"		/* fired: the MSR reads 0 */
	"rdmsr\n"
	"or %edx, %eax\n"
	"out %eax, $0x12\n"
	"mov 0x500, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(x2apic_tsc_deadline_timer)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu = guest_vcpu(vm, 0, CODE_ADDR);

	vm_load_guest(vm, deadline_guest);
	vm_write(vm, HANDLER, count_handler, GUEST_SIZE(count_handler));
	set_ivt(vm, 0x40, HANDLER);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 5);
}

/* ---- IPIs ---------------------------------------------------------------- */

/* The AP: ready, then halts until it has taken five IPIs (vector 0x41). */
GUEST_CODE(ipi_receiver,
	X2APIC_ON
	"movw $1, 0x504\n"
	"1: cli\n"			/* sti; hlt: no wake-up lost */
	"cmpw $5, 0x502\n"
	"jae 2f\n"
	"sti\n"
	"hlt\n"
	"jmp 1b\n"
	"2:\n"
	"out %al, $0x11\n"
	"hlt\n"
);

/* The BSP: five fixed IPIs to x2APIC ID 1, each once the last was taken. */
GUEST_CODE(ipi_sender,
	X2APIC_ON
	"1: cmpw $1, 0x504\n"
	"jne 1b\n"
	"2: mov 0x502, %bx\n"
	"mov $0x830, %ecx\n"
	"mov $0x41, %eax\n"
	"mov $1, %edx\n"
	"wrmsr\n"
	"3: pause\n"
	"cmp 0x502, %bx\n"
	"je 3b\n"
	"cmpw $5, 0x502\n"
	"jb 2b\n"
	"out %al, $0x10\n"
	"hlt\n"
);

static void *run_receiver(void *arg)
{
	struct vcpu *ap = arg;

	RUN_OUT(ap, 1, 0x11);
	return NULL;
}

TEST(ipi_wakes_a_halted_vcpu)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *bsp = guest_vcpu(vm, 0, CODE_ADDR);
	struct vcpu *ap = guest_vcpu(vm, 1, AP_CODE);
	pthread_t t;

	set_runnable(ap);
	vm_load_guest(vm, ipi_sender);
	vm_write(vm, AP_CODE, ipi_receiver, GUEST_SIZE(ipi_receiver));
	vm_write(vm, HANDLER2, count1_handler, GUEST_SIZE(count1_handler));
	set_ivt(vm, 0x41, HANDLER2);
	ASSERT_EQ(pthread_create(&t, NULL, run_receiver, ap), 0);
	RUN_OUT(bsp, 1, 0x10);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(peek16(vm, COUNT1), 5);
}

/* ---- INIT and SIPI ------------------------------------------------------- */

/* The BSP: INIT, then SIPI with vector 2 (0x2000), to x2APIC ID 1. */
GUEST_CODE(sipi_sender,
	X2APIC_ON
	"mov $0x830, %ecx\n"
	"mov $1, %edx\n"
	"mov $0x4500, %eax\n"		/* INIT, assert */
	"wrmsr\n"
	"mov $0x4602, %eax\n"		/* STARTUP, vector 2 */
	"wrmsr\n"
	"1: pause\n"
	"cmpw $1, 0x504\n"
	"jne 1b\n"
	"out %al, $0x10\n"
	"hlt\n"
);

/* The AP after SIPI: CS = 0x200, IP = 0 (DS = 0 after INIT). */
GUEST_CODE(sipi_ap,
	"movw $1, 0x504\n"
	"mov %cs, %ax\n"
	"out %ax, $0x11\n"
	"hlt\n"
);

static void *run_ap(void *arg)
{
	struct vcpu *ap = arg;

	/* KVM_RUN waits for INIT/SIPI and may return EAGAIN meanwhile. */
	while (vcpu_run_raw(ap) < 0)
		ASSERT_TRUE(errno == EAGAIN || errno == EINTR);
	ASSERT_IO(ap, KVM_EXIT_IO_OUT, 2, 0x11);
	return (void *)(uintptr_t)*(uint16_t *)((char *)ap->run +
						ap->run->io.data_offset);
}

TEST(init_sipi_starts_an_ap)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *bsp = guest_vcpu(vm, 0, CODE_ADDR);
	struct vcpu *ap = guest_vcpu(vm, 1, 0);
	pthread_t t;
	void *cs;

	ASSERT_EQ(mp_state(bsp), KVM_MP_STATE_RUNNABLE);
	ASSERT_EQ(mp_state(ap), KVM_MP_STATE_UNINITIALIZED);
	vm_load_guest(vm, sipi_sender);
	vm_write(vm, AP_CODE, sipi_ap, GUEST_SIZE(sipi_ap));
	ASSERT_EQ(pthread_create(&t, NULL, run_ap, ap), 0);
	RUN_OUT(bsp, 1, 0x10);
	ASSERT_EQ(pthread_join(t, &cs), 0);
	ASSERT_EQ((uintptr_t)cs, 0x200);
	ASSERT_EQ(mp_state(ap), KVM_MP_STATE_RUNNABLE);
}

/* ---- The PIT through the 8259 ------------------------------------------- */

/* IRQ 0 at vector 0x20: count, non-specific EOI to the master. */
GUEST_CODE(pic_handler,
	"incw 0x500\n"
	"push %ax\n"
	"mov $0x20, %al\n"
	"out %al, $0x20\n"
	"pop %ax\n"
	"iret\n"
);

GUEST_CODE(pit_guest,
	"mov $0x11, %al\n"		/* ICW1 */
	"out %al, $0x20\n"
	"mov $0x20, %al\n"		/* ICW2: vectors 0x20-0x27 */
	"out %al, $0x21\n"
	"mov $0x04, %al\n"		/* ICW3 */
	"out %al, $0x21\n"
	"mov $0x01, %al\n"		/* ICW4 */
	"out %al, $0x21\n"
	"mov $0xfe, %al\n"		/* only IRQ 0 */
	"out %al, $0x21\n"
	"mov $0x34, %al\n"		/* channel 0, LSB/MSB, mode 2 */
	"out %al, $0x43\n"
	"mov $1193, %ax\n"		/* ~1 ms */
	"out %al, $0x40\n"
	"mov %ah, %al\n"
	"out %al, $0x40\n"
	"1: cli\n"			/* sti; hlt: no wake-up lost */
	"cmpw $10, 0x500\n"
	"jae 2f\n"
	"sti\n"
	"hlt\n"
	"jmp 1b\n"
	"2:\n"
	"mov 0x500, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(pit_ticks_through_the_pic)
{
	struct kvm_pit_config cfg = { .flags = 0 };
	struct kvm_pit_state2 ps;
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
		SKIP("no KVM_CAP_PIT2");
	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_PIT2, &cfg), 0);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_CREATE_PIT2, &cfg), EEXIST);
	vcpu = guest_vcpu(vm, 0, CODE_ADDR);
	vm_load_guest(vm, pit_guest);
	vm_write(vm, HANDLER, pic_handler, GUEST_SIZE(pic_handler));
	set_ivt(vm, 0x20, HANDLER);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 10);

	ASSERT_EQ(ioctl(vm->fd, KVM_GET_PIT2, &ps), 0);
	ASSERT_EQ(ps.channels[0].mode, 2);
	ASSERT_EQ(ps.channels[0].count, 1193);
	ASSERT_EQ(ps.channels[0].rw_mode, 3);
	ASSERT_EQ(ps.channels[2].gate, 0);
	ASSERT_EQ(ps.flags, 0);
}

/* ---- An IOAPIC level pin ------------------------------------------------ */

/* Vector 0x50: tell the host (port 0x13), then EOI. */
GUEST_CODE(level_handler,
	"push %eax\n"
	"push %ecx\n"
	"push %edx\n"
	"incw 0x500\n"
	"out %al, $0x13\n"
	"mov $0x80b, %ecx\n"
	"xor %eax, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"pop %edx\n"
	"pop %ecx\n"
	"pop %eax\n"
	"iret\n"
);

GUEST_CODE(level_guest,
	"mov $0xff, %al\n"		/* the 8259s stay out of it */
	"out %al, $0x21\n"
	"out %al, $0xa1\n"
	X2APIC_ON
	"out %al, $0x14\n"		/* ready */
	"1: cli\n"			/* sti; hlt: no wake-up lost */
	"cmpw $2, 0x500\n"
	"jae 2f\n"
	"sti\n"
	"hlt\n"
	"jmp 1b\n"
	"2:\n"
	"out %al, $0x10\n"
	"hlt\n"
);

static uint64_t pin_rte(struct vm *vm, int pin)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };

	ASSERT_EQ(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
	return chip.chip.ioapic.redirtbl[pin].bits;
}

static int irq_line(struct vm *vm, int gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	ASSERT_EQ(ioctl(vm->fd, KVM_IRQ_LINE_STATUS, &l), 0);
	return l.status;
}

TEST(ioapic_level_pin_and_eoi)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu = guest_vcpu(vm, 0, CODE_ADDR);

	vm_load_guest(vm, level_guest);
	vm_write(vm, HANDLER, level_handler, GUEST_SIZE(level_handler));
	set_ivt(vm, 0x50, HANDLER);

	/* Pin 5: vector 0x50, level, physical destination 0. */
	ASSERT_EQ(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
	chip.chip.ioapic.redirtbl[5].bits = 0x8050;
	ASSERT_EQ(ioctl(vm->fd, KVM_SET_IRQCHIP, &chip), 0);

	/* The guest is ready: x2APIC on, the 8259s masked (in the kernel). */
	RUN_OUT(vcpu, 1, 0x14);
	ASSERT_EQ(irq_line(vm, 5, 1), 1);
	RUN_OUT(vcpu, 1, 0x13);
	ASSERT_TRUE(pin_rte(vm, 5) & (1 << 14));	/* remote IRR */
	/* Still high at the EOI: taken again. */
	RUN_OUT(vcpu, 1, 0x13);
	ASSERT_TRUE(pin_rte(vm, 5) & (1 << 14));
	/* Lowered: after this EOI, remote IRR clears and nothing comes. */
	irq_line(vm, 5, 0);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_FALSE(pin_rte(vm, 5) & (1 << 14));
	ASSERT_EQ(peek16(vm, COUNT), 2);
}

/* ---- TPR (CR8) ------------------------------------------------------------ */

/*
 * 64-bit: with CR8 = 15, a self-IPI (vector 0x40, class 4) waits in IRR;
 * lowering CR8 must let it in before the next instruction, although MOV to
 * CR8 does not otherwise exit (SVM's V_TPR).  0x504 and 0x508 record
 * whether the handler ran before and after.
 */
GUEST_CODE64(cr8_guest,
	X2APIC_ON
	"mov $15, %eax\n"
	"mov %rax, %cr8\n"
	"sti\n"
	"mov $0x830, %ecx\n"		/* ICR: fixed, self, vector 0x40 */
	"mov $0x40040, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"nop\n"
	"mov 0x500, %eax\n"
	"mov %eax, 0x504\n"
	"xor %eax, %eax\n"
	"mov %rax, %cr8\n"
	"mov 0x500, %eax\n"
	"mov %eax, 0x508\n"
	"out %al, $0x10\n"
	"hlt\n"
);

GUEST_CODE64(cr8_handler,
	"push %rax\n"
	"push %rcx\n"
	"push %rdx\n"
	"movl $1, 0x500\n"
	"mov $0x80b, %ecx\n"		/* EOI */
	"xor %eax, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"pop %rdx\n"
	"pop %rcx\n"
	"pop %rax\n"
	"iretq\n"
);

TEST(lowering_cr8_delivers_at_once)
{
	struct vm *vm = irqchip_vm();
	struct vcpu *vcpu;

	vm_build_tables(vm);
	vm_write(vm, CODE_ADDR, cr8_guest, GUEST_SIZE(cr8_guest));
	vm_write(vm, HANDLER, cr8_handler, GUEST_SIZE(cr8_handler));
	vm_set_idt_gate(vm, MODE_LONG, 0x40, HANDLER);
	vcpu = vcpu_create(vm, 0);
	set_cpuid(vcpu);
	vcpu_set_mode(vcpu, MODE_LONG, CODE_ADDR);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(*(uint32_t *)vm_ptr(vm, 0x504), 0);
	ASSERT_EQ(*(uint32_t *)vm_ptr(vm, 0x508), 1);
}

TEST_HARNESS_MAIN
