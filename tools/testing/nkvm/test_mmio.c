// SPDX-License-Identifier: GPL-2.0
/*
 * test_mmio.c - guest accesses outside every memslot reach userspace as
 * KVM_EXIT_MMIO (address, length, direction, data) and complete on the
 * next KVM_RUN; read-modify-write instructions, REP MOVS to MMIO and
 * string port I/O (REP OUTS/INS) are emulated one access per exit;
 * KVM_TRANSLATE reports where a linear address is.
 *
 * The guests are in real mode: DS = 0xffff reaches 0x100000 and above,
 * just past the 1 MiB memslot.
 */
#include <sys/ioctl.h>

#include "vm.h"

#define MMIO	0x100000ULL

static void *mmio_exit(struct vcpu *vcpu, uint64_t addr, int len, int write)
{
	struct kvm_run *run = vcpu->run;

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(run->mmio.phys_addr, addr);
	ASSERT_EQ(run->mmio.len, len);
	ASSERT_EQ(run->mmio.is_write, write);
	return run->mmio.data;
}

GUEST_CODE(mmio_write_guest,
	"mov $0xffff, %ax\n"
	"mov %ax, %ds\n"
	"movb $0x5a, 0x10\n"			/* 0x100000, 1 byte */
	"movw $0x1234, 0x12\n"			/* 0x100002, 2 bytes */
	"movl $0xdeadbeef, 0x14\n"		/* 0x100004, 4 bytes */
	"hlt\n"
);

TEST(writes_of_each_width)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mmio_write_guest);
	uint32_t v = 0;

	memcpy(&v, mmio_exit(vcpu, MMIO, 1, 1), 1);
	ASSERT_EQ(v, 0x5a);
	memcpy(&v, mmio_exit(vcpu, MMIO + 2, 2, 1), 2);
	ASSERT_EQ(v, 0x1234);
	memcpy(&v, mmio_exit(vcpu, MMIO + 4, 4, 1), 4);
	ASSERT_EQ(v, 0xdeadbeef);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(mmio_read_guest,
	"mov $0xffff, %ax\n"
	"mov %ax, %ds\n"
	"movb 0x10, %al\n"
	"out %al, $0x10\n"
	"movw 0x12, %ax\n"
	"out %ax, $0x10\n"
	"movl 0x14, %eax\n"
	"out %eax, $0x10\n"
	"hlt\n"
);

TEST(reads_complete_with_userspace_data)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mmio_read_guest);
	uint32_t v;

	v = 0xa5;
	memcpy(mmio_exit(vcpu, MMIO, 1, 0), &v, 1);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0xa5);
	v = 0xbeef;
	memcpy(mmio_exit(vcpu, MMIO + 2, 2, 0), &v, 2);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0xbeef);
	v = 0x12345678;
	memcpy(mmio_exit(vcpu, MMIO + 4, 4, 0), &v, 4);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x12345678);
}

GUEST_CODE(mmio_rmw_guest,
	"mov $0xffff, %ax\n"
	"mov %ax, %ds\n"
	"mov $0x0f, %bl\n"
	"addb %bl, 0x10\n"			/* read, then write */
	"pushf\n"
	"pop %ax\n"
	"out %ax, $0x11\n"			/* the flags */
	"hlt\n"
);

TEST(read_modify_write)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mmio_rmw_guest);
	uint8_t v = 0xf1;

	memcpy(mmio_exit(vcpu, MMIO, 1, 0), &v, 1);
	memcpy(&v, mmio_exit(vcpu, MMIO, 1, 1), 1);
	ASSERT_EQ(v, 0x00);			/* 0xf1 + 0x0f wraps */
	/* CF and ZF set by the addition */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11) & 0x41, 0x41);
}

GUEST_CODE(rep_movs_guest,
	"mov $0xffff, %ax\n"
	"mov %ax, %es\n"
	"xor %ax, %ax\n"
	"mov %ax, %ds\n"
	"mov $0x3000, %si\n"			/* "abc" in RAM */
	"mov $0x10, %di\n"			/* to 0x100000 */
	"mov $3, %cx\n"
	"cld\n"
	"rep movsb\n"
	"mov %cx, %ax\n"
	"out %ax, $0x10\n"
	"mov %di, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(rep_movs_to_mmio)
{
	struct vcpu *vcpu = VM_WITH_GUEST(rep_movs_guest);

	vm_write(vcpu->vm, 0x3000, "abc", 3);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(*(uint8_t *)mmio_exit(vcpu, MMIO + i, 1, 1), "abc"[i]);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0);		/* CX */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x13);	/* DI */
}

GUEST_CODE(string_io_guest,
	"xor %ax, %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov $0x3000, %si\n"
	"mov $0x20, %dx\n"
	"mov $3, %cx\n"
	"cld\n"
	"rep outsb\n"
	"mov $0x3100, %di\n"
	"mov $2, %cx\n"
	"rep insb\n"
	"mov 0x3100, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(rep_outs_and_ins)
{
	struct vcpu *vcpu = VM_WITH_GUEST(string_io_guest);
	uint8_t *data;

	vm_write(vcpu->vm, 0x3000, "xyz", 3);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
		data = ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x20);
		ASSERT_EQ(*data, "xyz"[i]);
	}
	/* Linux batches REP INS (count > 1 in one exit); nkvm does not. */
	for (int i = 0; i < 2;) {
		struct kvm_run *run = vcpu->run;

		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
		ASSERT_EQ(run->io.direction, KVM_EXIT_IO_IN);
		ASSERT_EQ(run->io.size, 1);
		ASSERT_EQ(run->io.port, 0x20);
		ASSERT_TRUE(run->io.count >= 1 && (int)run->io.count <= 2 - i);
		data = (uint8_t *)run + run->io.data_offset;
		for (uint32_t n = 0; n < run->io.count; n++, i++)
			data[n] = 0x41 + i;
	}
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x4241);
}

TEST(translate_in_real_mode)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mmio_write_guest);
	struct kvm_translation tr = { .linear_address = 0x12345 };

	ASSERT_OK(ioctl(vcpu->fd, KVM_TRANSLATE, &tr));
	ASSERT_EQ(tr.valid, 1);
	ASSERT_EQ(tr.physical_address, 0x12345);
}

TEST_HARNESS_MAIN
