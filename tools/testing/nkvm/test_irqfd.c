// SPDX-License-Identifier: GPL-2.0
/*
 * test_irqfd.c - KVM_IRQFD, KVM_SET_GSI_ROUTING and KVM_SIGNAL_MSI: the
 * capabilities, the errnos without an in-kernel irqchip and with one (full
 * or split), and an irqfd delivering an interrupt (edge, and level with
 * KVM_IRQFD_FLAG_RESAMPLE) to a real-mode guest's handler through the
 * in-kernel 8259.  The tests that need an irqchip skip until
 * KVM_CREATE_IRQCHIP (or KVM_CAP_SPLIT_IRQCHIP) works.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "vm.h"

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_GE(fd, 0);
	return fd;
}

static uint64_t drain(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	ASSERT_EQ(write(fd, &one, sizeof(one)), sizeof(one));
}

static int irqfd(struct vm *vm, int fd, uint32_t gsi, uint32_t flags,
		 int resamplefd)
{
	struct kvm_irqfd f = {
		.fd = fd, .gsi = gsi, .flags = flags, .resamplefd = resamplefd,
	};

	return ioctl(vm->fd, KVM_IRQFD, &f);
}

#define DEASSIGN KVM_IRQFD_FLAG_DEASSIGN
#define RESAMPLE KVM_IRQFD_FLAG_RESAMPLE

static int signal_msi(struct vm *vm, uint32_t flags)
{
	struct kvm_msi msi = {
		.address_lo = 0xfee00000, .data = 0x30, .flags = flags,
	};

	return ioctl(vm->fd, KVM_SIGNAL_MSI, &msi);
}

static struct kvm_irq_routing *routing(uint32_t nr)
{
	struct kvm_irq_routing *r;

	r = calloc(1, sizeof(*r) + nr * sizeof(r->entries[0]));
	ASSERT_TRUE(r);
	r->nr = nr;
	return r;
}

static void chip(struct kvm_irq_routing_entry *e, uint32_t gsi,
		 uint32_t irqchip, uint32_t pin)
{
	*e = (struct kvm_irq_routing_entry) {
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
	};
	e->u.irqchip.irqchip = irqchip;
	e->u.irqchip.pin = pin;
}

static void msi(struct kvm_irq_routing_entry *e, uint32_t gsi)
{
	*e = (struct kvm_irq_routing_entry) {
		.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
	};
	e->u.msi.address_lo = 0xfee00000;
	e->u.msi.data = 0x30;
}

static int set_routing(struct vm *vm, struct kvm_irq_routing *r)
{
	return ioctl(vm->fd, KVM_SET_GSI_ROUTING, r);
}

/* A VM with the full in-kernel irqchip, or SKIP. */
static struct vm *irqchip_vm(size_t mem)
{
	struct vm *vm = vm_create(mem);

	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0))
		SKIP("no in-kernel irqchip (KVM_CREATE_IRQCHIP: %s)",
		     strerror(errno));
	return vm;
}

TEST(capabilities)
{
	struct vm *vm = vm_create(0);

	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING), 4096);
	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD), 1);
	vm_free(vm);
}

TEST(errnos_without_irqchip)
{
	struct vm *vm = vm_create(0);
	struct kvm_irq_routing *r = routing(1);
	int e = new_eventfd(), e2 = new_eventfd();
	int null = open("/dev/null", O_RDWR);

	ASSERT_GE(null, 0);
	/* No irqchip to deliver to: refused before the fd is looked at. */
	ASSERT_ERRNO(irqfd(vm, e, 0, 0, 0), EINVAL);
	ASSERT_ERRNO(irqfd(vm, e, 5, RESAMPLE, e2), EINVAL);
	ASSERT_ERRNO(irqfd(vm, -1, 0, 0, 0), EINVAL);
	/* Unknown flags. */
	ASSERT_ERRNO(irqfd(vm, e, 0, 1 << 2, 0), EINVAL);
	ASSERT_ERRNO(irqfd(vm, e, 0, DEASSIGN | (1 << 2), 0), EINVAL);
	/* Deassigning what was never assigned succeeds; the fd must be one. */
	ASSERT_OK(irqfd(vm, e, 0, DEASSIGN, 0));
	ASSERT_OK(irqfd(vm, e, 0, DEASSIGN | RESAMPLE, -1));
	ASSERT_ERRNO(irqfd(vm, -1, 0, DEASSIGN, 0), EBADF);
	ASSERT_ERRNO(irqfd(vm, null, 0, DEASSIGN, 0), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_IRQFD, (void *)8), EFAULT);

	ASSERT_ERRNO(signal_msi(vm, 0), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SIGNAL_MSI, (void *)8), EFAULT);

	msi(&r->entries[0], 0);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	r->nr = 0;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_GSI_ROUTING, (void *)8), EFAULT);
	free(r);
	close(null);
	vm_free(vm);
}

TEST(irqfd_errnos_with_irqchip)
{
	struct vm *vm = irqchip_vm(0);
	int e = new_eventfd(), e2 = new_eventfd(), rs = new_eventfd();
	int null = open("/dev/null", O_RDWR);

	ASSERT_GE(null, 0);
	ASSERT_OK(irqfd(vm, e, 5, 0, 0));
	/* One eventfd, one irqfd, whatever the GSI. */
	ASSERT_ERRNO(irqfd(vm, e, 5, 0, 0), EBUSY);
	ASSERT_ERRNO(irqfd(vm, e, 6, 0, 0), EBUSY);
	ASSERT_OK(irqfd(vm, e2, 5, 0, 0));
	/* Deassign matches eventfd and GSI; no match is still success. */
	ASSERT_OK(irqfd(vm, e, 6, DEASSIGN, 0));
	ASSERT_ERRNO(irqfd(vm, e, 6, 0, 0), EBUSY);
	ASSERT_OK(irqfd(vm, e, 5, DEASSIGN, 0));
	ASSERT_OK(irqfd(vm, e, 6, 0, 0));
	/* GSIs are not checked against the routing table. */
	ASSERT_OK(irqfd(vm, rs, 100000, 0, 0));
	ASSERT_OK(irqfd(vm, rs, 100000, DEASSIGN, 0));

	ASSERT_ERRNO(irqfd(vm, -1, 1, 0, 0), EBADF);
	ASSERT_ERRNO(irqfd(vm, null, 1, 0, 0), EINVAL);
	ASSERT_ERRNO(irqfd(vm, vm->fd, 1, 0, 0), EINVAL);
	ASSERT_ERRNO(irqfd(vm, new_eventfd(), 1, RESAMPLE, -1), EBADF);
	ASSERT_ERRNO(irqfd(vm, new_eventfd(), 1, RESAMPLE, null), EINVAL);
	ASSERT_OK(irqfd(vm, new_eventfd(), 1, RESAMPLE, rs));
	/* Two resampling irqfds may share a GSI (and a resamplefd). */
	ASSERT_OK(irqfd(vm, new_eventfd(), 1, RESAMPLE, rs));

	/* Closing an eventfd takes its irqfd down (POLLHUP). */
	close(e);
	e = new_eventfd();
	ASSERT_OK(irqfd(vm, e, 6, 0, 0));

	ASSERT_ERRNO(signal_msi(vm, 2), EINVAL);
	close(null);
	/* The VM goes with irqfds assigned. */
	vm_free(vm);
}

TEST(routing_errnos_with_irqchip)
{
	struct vm *vm = irqchip_vm(0);
	struct kvm_irq_routing *r = routing(3);

	r->nr = 4097;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	r->nr = 1;
	chip(&r->entries[0], 0, KVM_IRQCHIP_IOAPIC, 0);
	r->flags = 1;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	r->flags = 0;
	ASSERT_OK(set_routing(vm, r));

	chip(&r->entries[0], 4096, KVM_IRQCHIP_IOAPIC, 0);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	chip(&r->entries[0], 4095, KVM_IRQCHIP_IOAPIC, 0);
	ASSERT_OK(set_routing(vm, r));
	chip(&r->entries[0], 0, KVM_IRQCHIP_IOAPIC, 24);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	chip(&r->entries[0], 0, KVM_IRQCHIP_PIC_MASTER, 8);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	chip(&r->entries[0], 0, KVM_IRQCHIP_PIC_SLAVE, 8);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	chip(&r->entries[0], 0, 3, 0);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	chip(&r->entries[0], 0, KVM_IRQCHIP_IOAPIC, 0);
	r->entries[0].flags = 1;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	r->entries[0].type = 0;
	r->entries[0].flags = 0;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	msi(&r->entries[0], 0);
	r->entries[0].flags = 2;
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);

	/* Per GSI: one pin of each irqchip, or one MSI alone. */
	r->nr = 3;
	chip(&r->entries[0], 9, KVM_IRQCHIP_PIC_SLAVE, 1);
	chip(&r->entries[1], 9, KVM_IRQCHIP_IOAPIC, 9);
	chip(&r->entries[2], 9, KVM_IRQCHIP_PIC_MASTER, 1);
	ASSERT_OK(set_routing(vm, r));
	chip(&r->entries[2], 9, KVM_IRQCHIP_IOAPIC, 10);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	msi(&r->entries[2], 9);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	r->nr = 2;
	msi(&r->entries[0], 30);
	msi(&r->entries[1], 30);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	msi(&r->entries[1], 31);
	ASSERT_OK(set_routing(vm, r));

	/* An empty table is a table. */
	r->nr = 0;
	ASSERT_OK(set_routing(vm, r));
	free(r);
	vm_free(vm);
}

TEST(split_irqchip_errnos)
{
	struct vm *vm = vm_create(0);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = 24 };
	struct kvm_irq_routing *r = routing(1);
	int e = new_eventfd(), rs = new_eventfd();

	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap))
		SKIP("no split irqchip (KVM_CAP_SPLIT_IRQCHIP: %s)", strerror(errno));
	ASSERT_OK(irqfd(vm, e, 5, 0, 0));
	/* Resampling needs the IOAPIC in the kernel. */
	ASSERT_ERRNO(irqfd(vm, new_eventfd(), 5, RESAMPLE, rs), EINVAL);
	/* No PIC or IOAPIC to route to. */
	chip(&r->entries[0], 0, KVM_IRQCHIP_IOAPIC, 0);
	ASSERT_ERRNO(set_routing(vm, r), EINVAL);
	msi(&r->entries[0], 0);
	ASSERT_OK(set_routing(vm, r));
	free(r);
	vm_free(vm);
}

/*
 * Program the master 8259 (vectors 0x20-0x27, only IRQ 5 unmasked, edge
 * or, with ELCR, level-triggered), install a handler for IRQ 5 (vector
 * 0x25, IVT entry at 0x94), say "ready" on port 0x80 and wait with HLT.
 * The handler says 0x55 on port 0x99, sends the EOI and says so on port
 * 0x9a.
 */
#define PIC_GUEST(name, elcr)						\
	GUEST_CODE(name,						\
		"cli\n"							\
		"movw $(2f - " #name " + 0x1000), (0x94)\n"		\
		"movw $0, (0x96)\n"					\
		"mov $0x11, %al\n"					\
		"out %al, $0x20\n"					\
		"mov $0x20, %al\n"					\
		"out %al, $0x21\n"					\
		"mov $0x04, %al\n"					\
		"out %al, $0x21\n"					\
		"mov $0x01, %al\n"					\
		"out %al, $0x21\n"					\
		"mov $" #elcr ", %al\n"					\
		"mov $0x4d0, %dx\n"					\
		"out %al, %dx\n"					\
		"mov $0xdf, %al\n"					\
		"out %al, $0x21\n"					\
		"out %al, $0x80\n"					\
		"sti\n"							\
		"1: hlt\n"						\
		"jmp 1b\n"						\
		"2: mov $0x55, %al\n"					\
		"out %al, $0x99\n"					\
		"mov $0x20, %al\n"					\
		"out %al, $0x20\n"					\
		"out %al, $0x9a\n"					\
		"iret\n"						\
	)

PIC_GUEST(pic_edge_guest, 0x00);
PIC_GUEST(pic_level_guest, 0x20);

static struct vcpu *pic_vm(const void *code, size_t len)
{
	struct vm *vm = irqchip_vm(VM_MEM_SIZE);
	struct vcpu *vcpu;

	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

TEST(irqfd_delivers_to_the_guest)
{
	struct vcpu *vcpu = pic_vm(pic_edge_guest, GUEST_SIZE(pic_edge_guest));
	int e = new_eventfd();

	ASSERT_OK(irqfd(vcpu->vm, e, 5, 0, 0));
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x80), 0xdf);
	for (int i = 0; i < 3; i++) {
		signal_fd(e);
		ASSERT_EQ(RUN_OUT(vcpu, 1, 0x99), 0x55);
		ASSERT_EQ(RUN_OUT(vcpu, 1, 0x9a), 0x20);
	}
	/* The irqfd consumed the signals. */
	ASSERT_EQ(drain(e), 0);
	ASSERT_OK(irqfd(vcpu->vm, e, 5, DEASSIGN, 0));
}

TEST(irqfd_resample_level)
{
	struct vcpu *vcpu = pic_vm(pic_level_guest, GUEST_SIZE(pic_level_guest));
	int e = new_eventfd(), rs = new_eventfd();

	ASSERT_OK(irqfd(vcpu->vm, e, 5, RESAMPLE, rs));
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x80), 0xdf);
	for (int i = 0; i < 3; i++) {
		signal_fd(e);
		ASSERT_EQ(RUN_OUT(vcpu, 1, 0x99), 0x55);
		/* Not acknowledged yet. */
		ASSERT_EQ(drain(rs), 0);
		/* The EOI de-asserted the line and signalled the resamplefd. */
		ASSERT_EQ(RUN_OUT(vcpu, 1, 0x9a), 0x20);
		ASSERT_EQ(drain(rs), 1);
	}
	ASSERT_OK(irqfd(vcpu->vm, e, 5, DEASSIGN, 0));
}

TEST_HARNESS_MAIN
