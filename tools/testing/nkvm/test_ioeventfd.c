// SPDX-License-Identifier: GPL-2.0
/*
 * test_ioeventfd.c - KVM_IOEVENTFD as on Linux: a matching guest port write
 * signals the eventfd and the guest goes on without an exit to userspace
 * (wildcard, DATAMATCH, any length), deassign, the errnos of bad, colliding
 * and unknown registrations; MMIO writes once MMIO is emulated; and nkvm's
 * DATAREAD extension (guest reads answered in the kernel), which is skipped
 * on Linux KVM (its capability reads 0 there).
 *
 * A guest signals "done" with an OUT to a port nobody registered: the
 * first exit userspace sees must be that one.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <unistd.h>

#include "vm.h"
#include "../../../include/uapi/nkvm/nkvm.h"

#define MARK_PORT	0xf0	/* never registered */

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_GE(fd, 0);
	return fd;
}

/* The eventfd's count (reading resets it); 0 if never signalled. */
static uint64_t drain(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static int ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, int fd,
		     uint32_t flags, uint64_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = fd,
		.flags = flags,
	};

	return ioctl(vm->fd, KVM_IOEVENTFD, &io);
}

#define PIO	KVM_IOEVENTFD_FLAG_PIO
#define DM	KVM_IOEVENTFD_FLAG_DATAMATCH
#define DEASSIGN KVM_IOEVENTFD_FLAG_DEASSIGN

static int dataread(struct vm *vm, uint64_t addr, uint32_t len, int fd,
		    uint32_t flags, uint64_t value)
{
	struct nkvm_ioeventfd_dataread io = {
		.addr = addr, .len = len, .fd = fd,
		.flags = flags | KVM_IOEVENTFD_FLAG_DATAREAD,
		.dataread = value,
	};

	return ioctl(vm->fd, KVM_IOEVENTFD, &io);
}

static void need_dataread(struct vm *vm)
{
	if (ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM_IOEVENTFD_DATAREAD) <= 0)
		SKIP("no KVM_CAP_NKVM_IOEVENTFD_DATAREAD (not nkvm)");
}

/* Run and expect the guest's "done" OUT: returns its data (AL/AX/EAX). */
#define RUN_MARK(vcpu, size) RUN_OUT(vcpu, size, MARK_PORT)

TEST(capabilities)
{
	struct vm *vm = vm_create(0);

	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_NO_LENGTH), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH), 1);
	vm_free(vm);
}

GUEST_CODE(pio_write_guest,
	"mov $0x12345678, %eax\n"
	"out %al, $0x60\n"		/* ioeventfd, 1 byte */
	"out %al, $0x60\n"
	"out %ax, $0x62\n"		/* ioeventfd, 2 bytes */
	"out %eax, $0x64\n"		/* ioeventfd, 4 bytes */
	"mov $0x64, %dx\n"
	"out %eax, %dx\n"		/* the same through DX */
	"mov $0x5a, %al\n"
	"out %al, $0xf0\n"		/* done */
	"out %ax, $0x60\n"		/* 2 bytes at a 1-byte ioeventfd: exits */
	"hlt\n"
);

TEST(pio_write_signals_without_exit)
{
	struct vcpu *vcpu = VM_WITH_GUEST(pio_write_guest);
	struct vm *vm = vcpu->vm;
	int e1 = new_eventfd(), e2 = new_eventfd(), e4 = new_eventfd();

	ASSERT_OK(ioeventfd(vm, 0x60, 1, e1, PIO, 0));
	ASSERT_OK(ioeventfd(vm, 0x62, 2, e2, PIO, 0));
	ASSERT_OK(ioeventfd(vm, 0x64, 4, e4, PIO, 0));

	ASSERT_EQ(RUN_MARK(vcpu, 1), 0x5a);
	ASSERT_EQ(drain(e1), 2);
	ASSERT_EQ(drain(e2), 1);
	ASSERT_EQ(drain(e4), 2);

	/* A write of another width goes to userspace, unsignalled. */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x60), 0x565a);
	ASSERT_EQ(drain(e1), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(datamatch_guest,
	"mov $0x41, %al\n"
	"out %al, $0x70\n"		/* no match: exit */
	"mov $0x42, %al\n"
	"out %al, $0x70\n"		/* e1 */
	"mov $0x43, %al\n"
	"out %al, $0x70\n"		/* e2 */
	"mov $0xbeef, %ax\n"
	"out %ax, $0x72\n"		/* e3 */
	"out %al, $0xf0\n"		/* done */
	"hlt\n"
);

TEST(pio_datamatch)
{
	struct vcpu *vcpu = VM_WITH_GUEST(datamatch_guest);
	struct vm *vm = vcpu->vm;
	int e1 = new_eventfd(), e2 = new_eventfd(), e3 = new_eventfd();

	/* Two values at one port do not collide. */
	ASSERT_OK(ioeventfd(vm, 0x70, 1, e1, PIO | DM, 0x42));
	ASSERT_OK(ioeventfd(vm, 0x70, 1, e2, PIO | DM, 0x43));
	ASSERT_OK(ioeventfd(vm, 0x72, 2, e3, PIO | DM, 0xbeef));

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x70), 0x41);
	ASSERT_EQ(drain(e1) + drain(e2), 0);
	ASSERT_EQ(RUN_MARK(vcpu, 1), 0xef);
	ASSERT_EQ(drain(e1), 1);
	ASSERT_EQ(drain(e2), 1);
	ASSERT_EQ(drain(e3), 1);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(any_length_guest,
	"mov $0x11223344, %eax\n"
	"out %al, $0x80\n"
	"out %ax, $0x80\n"
	"out %eax, $0x80\n"
	"out %al, $0x81\n"		/* not the address: exits */
	"hlt\n"
);

TEST(pio_any_length)
{
	struct vcpu *vcpu = VM_WITH_GUEST(any_length_guest);
	int e = new_eventfd();

	ASSERT_OK(ioeventfd(vcpu->vm, 0x80, 0, e, PIO, 0));
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x81), 0x44);
	ASSERT_EQ(drain(e), 3);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(loop_out_guest,
	"1: mov $0x7, %al\n"
	"out %al, $0x60\n"
	"out %al, $0xf0\n"		/* done */
	"jmp 1b\n"
);

TEST(pio_deassign)
{
	struct vcpu *vcpu = VM_WITH_GUEST(loop_out_guest);
	struct vm *vm = vcpu->vm;
	int e = new_eventfd();

	ASSERT_OK(ioeventfd(vm, 0x60, 1, e, PIO | DM, 7));
	ASSERT_EQ(RUN_MARK(vcpu, 1), 7);
	ASSERT_EQ(drain(e), 1);

	/* Only the exact registration is removed. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | DM | DEASSIGN, 8), ENOENT);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | DEASSIGN, 0), ENOENT);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 2, e, PIO | DM | DEASSIGN, 7), ENOENT);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, DM | DEASSIGN, 7), ENOENT);
	ASSERT_OK(ioeventfd(vm, 0x60, 1, e, PIO | DM | DEASSIGN, 7));
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | DM | DEASSIGN, 7), ENOENT);

	/* Now the write reaches userspace. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x60), 7);
	ASSERT_EQ(RUN_MARK(vcpu, 1), 7);
	ASSERT_EQ(drain(e), 0);

	/* And it can be registered again. */
	ASSERT_OK(ioeventfd(vm, 0x60, 1, e, PIO, 0));
	ASSERT_EQ(RUN_MARK(vcpu, 1), 7);
	ASSERT_EQ(drain(e), 1);
}

TEST(errnos_of_bad_registrations)
{
	struct vm *vm = vm_create(0);
	int e = new_eventfd();
	int null = open("/dev/null", O_RDWR);

	ASSERT_GE(null, 0);
	/* Lengths other than 0, 1, 2, 4, 8. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 3, e, PIO, 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 16, e, PIO, 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, 0x1000, 0x80000000, e, 0, 0), EINVAL);
	/* Unknown flags. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | (1 << 5), 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | (1U << 31), 0), EINVAL);
	/* No length cannot match data. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 0, e, PIO | DM, 0), EINVAL);
	/* Wrapping around the address space. */
	ASSERT_ERRNO(ioeventfd(vm, ~0ULL, 2, e, 0, 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, ~0ULL - 3, 8, e, 0, 0), EINVAL);
	/* Not an eventfd. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, -1, PIO, 0), EBADF);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, 10000, PIO, 0), EBADF);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, null, PIO, 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, vm->fd, PIO, 0), EINVAL);
	/* Deassign: the fd first, then the search. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, -1, PIO | DEASSIGN, 0), EBADF);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, null, PIO | DEASSIGN, 0), EINVAL);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e, PIO | DEASSIGN, 0), ENOENT);
	/* Deassign does not validate what it cannot find. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 3, e, PIO | DEASSIGN | (1 << 5), 0), ENOENT);
	/* A bad pointer. */
	ASSERT_ERRNO(ioctl(vm->fd, KVM_IOEVENTFD, (void *)8), EFAULT);
	/* What is accepted: the last address with len 1, s390's flag (a bus x86 never searches). */
	ASSERT_OK(ioeventfd(vm, ~0ULL - 1, 1, e, 0, 0));
	ASSERT_OK(ioeventfd(vm, 0x60, 1, e, KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY, 0));
	ASSERT_OK(ioeventfd(vm, 0x60, 1, e, KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY | DEASSIGN, 0));
	close(null);
	vm_free(vm);
}

TEST(errnos_of_collisions)
{
	struct vm *vm = vm_create(0);
	int e1 = new_eventfd(), e2 = new_eventfd();

	ASSERT_OK(ioeventfd(vm, 0x60, 1, e1, PIO, 0));
	/* The same match, even on another eventfd. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e1, PIO, 0), EEXIST);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e2, PIO, 0), EEXIST);
	/* A datamatch under a wildcard, any length over a length. */
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 1, e2, PIO | DM, 5), EEXIST);
	ASSERT_ERRNO(ioeventfd(vm, 0x60, 0, e2, PIO, 0), EEXIST);
	/* Another length, address or bus is another match. */
	ASSERT_OK(ioeventfd(vm, 0x60, 2, e2, PIO, 0));
	ASSERT_OK(ioeventfd(vm, 0x61, 1, e2, PIO, 0));
	ASSERT_OK(ioeventfd(vm, 0x60, 1, e2, 0, 0));

	/* Datamatches: equal values collide, a wildcard collides with them. */
	ASSERT_OK(ioeventfd(vm, 0x70, 4, e1, PIO | DM, 1));
	ASSERT_OK(ioeventfd(vm, 0x70, 4, e1, PIO | DM, 2));
	ASSERT_ERRNO(ioeventfd(vm, 0x70, 4, e2, PIO | DM, 2), EEXIST);
	ASSERT_ERRNO(ioeventfd(vm, 0x70, 4, e2, PIO, 0), EEXIST);
	ASSERT_ERRNO(ioeventfd(vm, 0x70, 0, e2, PIO, 0), EEXIST);

	/* A length-0 registration collides with every length. */
	ASSERT_OK(ioeventfd(vm, 0x80, 0, e1, PIO, 0));
	ASSERT_ERRNO(ioeventfd(vm, 0x80, 8, e2, PIO | DM, 3), EEXIST);
	vm_free(vm);
}

TEST(many_registrations_and_teardown_with_the_vm)
{
	struct vm *vm = vm_create(0);
	int e = new_eventfd();

	/* More than Linux's 1000 bus devices: ioeventfds do not count. */
	for (int p = 0; p < 1200; p++)
		ASSERT_OK(ioeventfd(vm, 0x1000 + p, 1, e, PIO, 0));
	for (int p = 0; p < 1200; p += 2)
		ASSERT_OK(ioeventfd(vm, 0x1000 + p, 1, e, PIO | DEASSIGN, 0));
	/* The VM goes with the rest registered. */
	vm_free(vm);
	close(e);
}

/* ---- MMIO (needs the instruction emulator) ------------------------------ */

#define MMIO_MEM	0x80000UL	/* guest RAM: 512 KiB */
#define MMIO_SEG	0xd000		/* MMIO at 0xd0000, outside RAM */
#define MMIO_BASE	0xd0000UL

static struct vcpu *mmio_vm(const void *code, size_t len)
{
	struct vm *vm = vm_create(MMIO_MEM);
	struct vcpu *vcpu;

	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

GUEST_CODE(mmio_probe_guest,
	"mov $0xd000, %ax\n"
	"mov %ax, %ds\n"
	"mov (0x10), %al\n"
	"hlt\n"
);

/* SKIP while MMIO accesses still end in KVM_EXIT_INTERNAL_ERROR. */
static void need_mmio(void)
{
	struct vcpu *vcpu = mmio_vm(mmio_probe_guest, GUEST_SIZE(mmio_probe_guest));
	uint32_t reason = vcpu_run(vcpu);

	if (reason == KVM_EXIT_INTERNAL_ERROR)
		SKIP("MMIO is not emulated yet (KVM_EXIT_INTERNAL_ERROR)");
	ASSERT_EXIT(vcpu, KVM_EXIT_MMIO);
	vm_free(vcpu->vm);
}

GUEST_CODE(mmio_write_guest,
	"mov $0xd000, %ax\n"
	"mov %ax, %ds\n"
	"mov $0x12345678, %eax\n"
	"mov %al, (0x10)\n"		/* ioeventfd, 1 byte */
	"mov %eax, (0x20)\n"		/* ioeventfd, 4 bytes, datamatch */
	"mov %ax, (0x30)\n"		/* any length */
	"mov %al, (0x30)\n"
	"mov %ax, (0x10)\n"		/* wrong width: exits */
	"hlt\n"
);

TEST(mmio_write_signals_without_exit)
{
	struct vcpu *vcpu;
	struct vm *vm;
	int e1 = new_eventfd(), e4 = new_eventfd(), e0 = new_eventfd();

	need_mmio();
	vcpu = mmio_vm(mmio_write_guest, GUEST_SIZE(mmio_write_guest));
	vm = vcpu->vm;
	ASSERT_OK(ioeventfd(vm, MMIO_BASE + 0x10, 1, e1, 0, 0));
	ASSERT_OK(ioeventfd(vm, MMIO_BASE + 0x20, 4, e4, DM, 0x12345678));
	ASSERT_OK(ioeventfd(vm, MMIO_BASE + 0x30, 0, e0, 0, 0));

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(vcpu->run->mmio.phys_addr, MMIO_BASE + 0x10);
	ASSERT_EQ(vcpu->run->mmio.len, 2);
	ASSERT_TRUE(vcpu->run->mmio.is_write);
	ASSERT_EQ(drain(e1), 1);
	ASSERT_EQ(drain(e4), 1);
	ASSERT_EQ(drain(e0), 2);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vm_free(vm);
}

/* ---- DATAREAD (nkvm) ---------------------------------------------------- */

TEST(dataread_capability)
{
	struct vm *vm = vm_create(0);

	need_dataread(vm);
	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM_IOEVENTFD_DATAREAD), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM_IOEVENTFD_DATAREAD), 1);
	vm_free(vm);
}

TEST(dataread_flag_is_refused_where_unsupported)
{
	struct vm *vm = vm_create(0);
	int e = new_eventfd();

	if (ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM_IOEVENTFD_DATAREAD) > 0)
		SKIP("DATAREAD is supported here");
	/* Linux: an unknown flag, not silently a write ioeventfd. */
	ASSERT_ERRNO(dataread(vm, 0x90, 1, e, PIO, 0xab), EINVAL);
	vm_free(vm);
}

GUEST_CODE(dataread_widths_guest,
	"mov $0x11223344, %eax\n"
	"in $0x90, %al\n"
	"out %eax, $0xf0\n"		/* 0x112233ab */
	"in $0x92, %ax\n"
	"out %eax, $0xf0\n"		/* 0x1122beef */
	"in $0x94, %eax\n"
	"out %eax, $0xf0\n"		/* 0xdeadbeef */
	"mov $0x90, %dx\n"
	"mov $0, %eax\n"
	"in %dx, %al\n"
	"mov $0x94, %dx\n"
	"in %dx, %eax\n"
	"mov $0x92, %dx\n"
	"in %dx, %ax\n"
	"out %eax, $0xf0\n"		/* 0xdeadbeef */
	"hlt\n"
);

TEST(dataread_pio_every_width)
{
	struct vcpu *vcpu = VM_WITH_GUEST(dataread_widths_guest);
	struct vm *vm = vcpu->vm;
	int e1 = new_eventfd(), e2 = new_eventfd(), e4 = new_eventfd();

	need_dataread(vm);
	ASSERT_OK(dataread(vm, 0x90, 1, e1, PIO, 0xab));
	ASSERT_OK(dataread(vm, 0x92, 2, e2, PIO, 0xbeef));
	ASSERT_OK(dataread(vm, 0x94, 4, e4, PIO, 0xdeadbeef));

	/* The reads complete in the kernel: the first exits are the OUTs. */
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0x112233ab);
	ASSERT_EQ(drain(e1), 1);
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0x1122beef);
	ASSERT_EQ(drain(e2), 1);
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0xdeadbeef);
	ASSERT_EQ(drain(e4), 1);
	/* The last IN (AX) replaced only AX of the 32-bit value. */
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0xdeadbeef);
	ASSERT_EQ(drain(e1), 1);
	ASSERT_EQ(drain(e2), 1);
	ASSERT_EQ(drain(e4), 1);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(dataread_rw_guest,
	"1: in $0xa0, %al\n"
	"out %al, $0xa0\n"
	"in $0xa0, %ax\n"		/* another width: exits */
	"out %ax, $0xf0\n"		/* done */
	"jmp 1b\n"
);

TEST(dataread_pio_writes_unaffected)
{
	struct vcpu *vcpu = VM_WITH_GUEST(dataread_rw_guest);
	struct vm *vm = vcpu->vm;
	int er = new_eventfd(), ew = new_eventfd();
	uint16_t in = 0x4321;
	void *data;

	need_dataread(vm);
	ASSERT_OK(dataread(vm, 0xa0, 1, er, PIO, 0x5c));

	/* The read is answered; the write to the same port exits. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0xa0), 0x5c);
	ASSERT_EQ(drain(er), 1);
	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 2, 0xa0);
	memcpy(data, &in, 2);
	ASSERT_EQ(RUN_MARK(vcpu, 2), 0x4321);
	ASSERT_EQ(drain(er), 0);

	/* A write ioeventfd at the same port does not collide with it. */
	ASSERT_OK(ioeventfd(vm, 0xa0, 1, ew, PIO, 0));
	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 2, 0xa0);
	memcpy(data, &in, 2);
	ASSERT_EQ(RUN_MARK(vcpu, 2), 0x4321);
	ASSERT_EQ(drain(er), 1);
	ASSERT_EQ(drain(ew), 1);
}

GUEST_CODE(dataread_loop_guest,
	"1: in $0xb0, %al\n"
	"out %al, $0xf0\n"		/* done */
	"jmp 1b\n"
);

TEST(dataread_pio_deassign)
{
	struct vcpu *vcpu = VM_WITH_GUEST(dataread_loop_guest);
	struct vm *vm = vcpu->vm;
	int e = new_eventfd();
	void *data;

	need_dataread(vm);
	ASSERT_OK(dataread(vm, 0xb0, 1, e, PIO, 0x11));
	ASSERT_EQ(RUN_MARK(vcpu, 1), 0x11);
	ASSERT_EQ(drain(e), 1);

	/* Without the flag the write registrations are searched. */
	ASSERT_ERRNO(ioeventfd(vm, 0xb0, 1, e, PIO | DEASSIGN, 0), ENOENT);
	ASSERT_ERRNO(dataread(vm, 0xb0, 2, e, PIO | DEASSIGN, 0), ENOENT);
	/* The value is not part of the match. */
	ASSERT_OK(dataread(vm, 0xb0, 1, e, PIO | DEASSIGN, 0x99));
	ASSERT_ERRNO(dataread(vm, 0xb0, 1, e, PIO | DEASSIGN, 0x11), ENOENT);

	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 1, 0xb0);
	*(uint8_t *)data = 0x22;
	ASSERT_EQ(RUN_MARK(vcpu, 1), 0x22);
	ASSERT_EQ(drain(e), 0);

	/* A new value after registering again. */
	ASSERT_OK(dataread(vm, 0xb0, 1, e, PIO, 0x33));
	ASSERT_EQ(RUN_MARK(vcpu, 1), 0x33);
	ASSERT_EQ(drain(e), 1);
}

TEST(dataread_errnos)
{
	struct vm *vm = vm_create(0);
	struct nkvm_ioeventfd_dataread io;
	int e = new_eventfd();

	need_dataread(vm);
	/* A read has no data to match and a fixed width. */
	ASSERT_ERRNO(dataread(vm, 0x90, 1, e, PIO | DM, 0), EINVAL);
	ASSERT_ERRNO(dataread(vm, 0x90, 0, e, PIO, 0), EINVAL);
	/* s390's notification is a write. */
	ASSERT_ERRNO(dataread(vm, 0x90, 1, e, KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY, 0), EINVAL);
	/* The value must fit the width. */
	ASSERT_ERRNO(dataread(vm, 0x90, 1, e, PIO, 0x100), EINVAL);
	ASSERT_ERRNO(dataread(vm, 0x90, 2, e, PIO, 0x10000), EINVAL);
	ASSERT_ERRNO(dataread(vm, 0x90, 4, e, PIO, 0x100000000ULL), EINVAL);
	ASSERT_OK(dataread(vm, 0x1000, 8, e, 0, ~0ULL));
	/* Linux's checks still apply. */
	ASSERT_ERRNO(dataread(vm, 0x90, 3, e, PIO, 0), EINVAL);
	ASSERT_ERRNO(dataread(vm, 0x90, 1, -1, PIO, 0), EBADF);
	/* The rest of the padding is reserved. */
	io = (struct nkvm_ioeventfd_dataread) {
		.addr = 0x90, .len = 1, .fd = e,
		.flags = PIO | KVM_IOEVENTFD_FLAG_DATAREAD, .pad0 = 1,
	};
	ASSERT_ERRNO(ioctl(vm->fd, KVM_IOEVENTFD, &io), EINVAL);
	io.pad0 = 0;
	io.pad[23] = 1;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_IOEVENTFD, &io), EINVAL);
	io.pad[23] = 0;
	/* datamatch is ignored without DATAMATCH. */
	io.datamatch = 0x1234;
	ASSERT_OK(ioctl(vm->fd, KVM_IOEVENTFD, &io));
	/* Collisions: same address and width; other widths are fine. */
	ASSERT_ERRNO(dataread(vm, 0x90, 1, e, PIO, 1), EEXIST);
	ASSERT_OK(dataread(vm, 0x90, 2, e, PIO, 1));
	ASSERT_OK(ioeventfd(vm, 0x90, 0, e, PIO, 0));
	vm_free(vm);
}

GUEST_CODE(mmio_dataread_guest,
	"mov $0xd000, %ax\n"
	"mov %ax, %ds\n"
	"mov $0x11223344, %eax\n"
	"mov (0x10), %al\n"
	"out %eax, $0xf0\n"		/* 0x112233ab */
	"mov (0x20), %ax\n"
	"out %eax, $0xf0\n"		/* 0x1122beef */
	"mov (0x30), %eax\n"
	"out %eax, $0xf0\n"		/* 0xdeadbeef */
	"mov %al, (0x10)\n"		/* a write to a read registration: exits */
	"hlt\n"
);

TEST(dataread_mmio)
{
	struct vcpu *vcpu;
	struct vm *vm = vm_create(0);
	int e1 = new_eventfd(), e2 = new_eventfd(), e4 = new_eventfd();

	need_dataread(vm);
	vm_free(vm);
	need_mmio();
	vcpu = mmio_vm(mmio_dataread_guest, GUEST_SIZE(mmio_dataread_guest));
	vm = vcpu->vm;
	ASSERT_OK(dataread(vm, MMIO_BASE + 0x10, 1, e1, 0, 0xab));
	ASSERT_OK(dataread(vm, MMIO_BASE + 0x20, 2, e2, 0, 0xbeef));
	ASSERT_OK(dataread(vm, MMIO_BASE + 0x30, 4, e4, 0, 0xdeadbeef));

	ASSERT_EQ(RUN_MARK(vcpu, 4), 0x112233ab);
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0x1122beef);
	ASSERT_EQ(RUN_MARK(vcpu, 4), 0xdeadbeef);
	ASSERT_EQ(drain(e1), 1);
	ASSERT_EQ(drain(e2), 1);
	ASSERT_EQ(drain(e4), 1);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_TRUE(vcpu->run->mmio.is_write);
	ASSERT_EQ(vcpu->run->mmio.phys_addr, MMIO_BASE + 0x10);
	ASSERT_EQ(drain(e1), 0);
	vm_free(vm);
}

TEST_HARNESS_MAIN
