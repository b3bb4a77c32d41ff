// SPDX-License-Identifier: GPL-2.0
/*
 * test_coalesced.c - coalesced MMIO and PIO (KVM_REGISTER_COALESCED_MMIO):
 * guest writes inside a zone go to the ring at page
 * KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU mapping, in order, without an
 * exit; a full ring, a read, or a write reaching outside the zone exits as
 * usual; unregistering removes the zones that hold the range given.
 */
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

/* Guest RAM below 512 KiB; the zone's window at 0x90000 is no memslot. */
#define RAM_SIZE	0x80000UL
#define ZONE		0x90000UL
#define PAGE		4096UL
#define RING_MAX	((PAGE - sizeof(struct kvm_coalesced_mmio_ring)) / \
			 sizeof(struct kvm_coalesced_mmio))

static struct vcpu *zone_vcpu(const void *code, size_t len)
{
	struct vm *vm = vm_create(RAM_SIZE);
	struct vcpu *vcpu;
	int r = kvm_check_cap(vm->kvm_fd, KVM_CAP_COALESCED_MMIO);

	if (r <= 0)
		SKIP("no KVM_CAP_COALESCED_MMIO");
	ASSERT_EQ(r, KVM_COALESCED_MMIO_PAGE_OFFSET);
	vcpu = vcpu_create(vm, 0);
	ASSERT_GE(vcpu->run_size, (KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * PAGE);
	vm_write(vm, CODE_ADDR, code, len);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

static struct kvm_coalesced_mmio_ring *ring_of(struct vcpu *vcpu)
{
	return (void *)((char *)vcpu->run +
			KVM_COALESCED_MMIO_PAGE_OFFSET * PAGE);
}

static int zone_ioctl(struct vcpu *vcpu, unsigned long nr, uint64_t addr,
		      uint32_t size, uint32_t pio)
{
	struct kvm_coalesced_mmio_zone z = {
		.addr = addr, .size = size, .pio = pio,
	};

	return ioctl(vcpu->vm->fd, nr, &z);
}

#define REGISTER(v, a, s, p) zone_ioctl(v, KVM_REGISTER_COALESCED_MMIO, a, s, p)
#define UNREGISTER(v, a, s, p) zone_ioctl(v, KVM_UNREGISTER_COALESCED_MMIO, a, s, p)

static unsigned int ring_count(struct kvm_coalesced_mmio_ring *r)
{
	return (r->last + RING_MAX - r->first) % RING_MAX;
}

/* Check the entry at first and consume it. */
static void ring_pop(struct kvm_coalesced_mmio_ring *r, uint64_t addr,
		     uint32_t len, uint64_t data, uint32_t pio)
{
	struct kvm_coalesced_mmio *e = &r->coalesced_mmio[r->first];
	uint64_t v = 0;

	ASSERT_NE(r->first, r->last);
	ASSERT_EQ(e->phys_addr, addr);
	ASSERT_EQ(e->len, len);
	ASSERT_EQ(e->pio, pio);
	memcpy(&v, e->data, len);
	ASSERT_EQ(v, data);
	r->first = (r->first + 1) % RING_MAX;
}

/* Three writes of 1, 2 and 4 bytes at 0x90000, 0x90010, 0x90020. */
GUEST_CODE(writes_guest,
	"mov $0x9000, %ax\n"
	"mov %ax, %ds\n"
	"movb $0x11, 0x0\n"
	"movw $0x2222, 0x10\n"
	"movl $0x33333333, 0x20\n"
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(writes_are_coalesced)
{
	struct vcpu *vcpu = zone_vcpu(writes_guest, GUEST_SIZE(writes_guest));
	struct vcpu *other = vcpu_create(vcpu->vm, 1);
	struct kvm_coalesced_mmio_ring *r = ring_of(vcpu);

	ASSERT_OK(REGISTER(vcpu, ZONE, 0x100, 0));
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(r->first, 0);
	ASSERT_EQ(ring_count(r), 3);
	/* One ring per VM, in every vCPU's mapping. */
	ASSERT_EQ(ring_of(other)->last, r->last);
	ring_pop(r, ZONE, 1, 0x11, 0);
	ring_pop(r, ZONE + 0x10, 2, 0x2222, 0);
	ring_pop(r, ZONE + 0x20, 4, 0x33333333, 0);
}

/* 200 byte writes of 0..199 to 0x90000. */
GUEST_CODE(many_writes_guest,
	"mov $0x9000, %ax\n"
	"mov %ax, %ds\n"
	"xor %cx, %cx\n"
	"1: mov %cl, 0x0\n"
	"inc %cx\n"
	"cmp $200, %cx\n"
	"jb 1b\n"
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(full_ring_exits_to_userspace)
{
	struct vcpu *vcpu = zone_vcpu(many_writes_guest,
				      GUEST_SIZE(many_writes_guest));
	struct kvm_coalesced_mmio_ring *r = ring_of(vcpu);
	unsigned int next = 0, exits = 0, first_batch = 0;

	ASSERT_OK(REGISTER(vcpu, ZONE, 1, 0));
	/*
	 * A write that finds the ring full exits; userspace drains the ring,
	 * then takes the write itself.  (Linux's ring counts itself full
	 * early, after 85 entries from 0; nkvm's after RING_MAX - 1.)
	 */
	for (;;) {
		uint32_t reason = vcpu_run(vcpu);

		if (!exits)
			first_batch = ring_count(r);
		while (r->first != r->last)
			ring_pop(r, ZONE, 1, next++, 0);
		if (reason != KVM_EXIT_MMIO)
			break;
		ASSERT_TRUE(vcpu->run->mmio.is_write);
		ASSERT_EQ(vcpu->run->mmio.phys_addr, ZONE);
		ASSERT_EQ(vcpu->run->mmio.data[0], next++);
		exits++;
	}
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x10);
	ASSERT_EQ(next, 200);
	ASSERT_GE(exits, 1);
	ASSERT_GE(first_batch, 1);
	if (kvm_is_nkvm(vcpu->vm->kvm_fd))
		ASSERT_EQ(first_batch, RING_MAX - 1);
}

/* A read, then a word write straddling the zone's end. */
GUEST_CODE(read_and_straddle_guest,
	"mov $0x9000, %ax\n"
	"mov %ax, %ds\n"
	"mov 0x0, %al\n"
	"movw $0x4444, 0xff\n"
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(reads_and_straddling_writes_exit)
{
	struct vcpu *vcpu = zone_vcpu(read_and_straddle_guest,
				      GUEST_SIZE(read_and_straddle_guest));
	struct kvm_coalesced_mmio_ring *r = ring_of(vcpu);

	ASSERT_OK(REGISTER(vcpu, ZONE, 0x100, 0));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_FALSE(vcpu->run->mmio.is_write);
	ASSERT_EQ(vcpu->run->mmio.phys_addr, ZONE);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_TRUE(vcpu->run->mmio.is_write);
	ASSERT_EQ(vcpu->run->mmio.phys_addr, ZONE + 0xff);
	ASSERT_EQ(vcpu->run->mmio.len, 2);
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(ring_count(r), 0);
}

/* out 0x55 and 0x1234 to port 0x80, then out to 0x10. */
GUEST_CODE(pio_guest,
	"mov $0x55, %al\n"
	"out %al, $0x80\n"
	"mov $0x1234, %ax\n"
	"out %ax, $0x80\n"
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(pio_writes_are_coalesced)
{
	struct vcpu *vcpu = zone_vcpu(pio_guest, GUEST_SIZE(pio_guest));
	struct kvm_coalesced_mmio_ring *r = ring_of(vcpu);

	if (kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_COALESCED_PIO) <= 0)
		SKIP("no KVM_CAP_COALESCED_PIO");
	ASSERT_OK(REGISTER(vcpu, 0x80, 2, 1));
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(ring_count(r), 2);
	ring_pop(r, 0x80, 1, 0x55, 1);
	ring_pop(r, 0x80, 2, 0x1234, 1);
}

TEST(unregister_removes_zones_holding_the_range)
{
	struct vcpu *vcpu = zone_vcpu(writes_guest, GUEST_SIZE(writes_guest));
	struct kvm_coalesced_mmio_ring *r = ring_of(vcpu);

	ASSERT_ERRNO(REGISTER(vcpu, ZONE, 0x100, 2), EINVAL);
	ASSERT_ERRNO(UNREGISTER(vcpu, ZONE, 0x100, 2), EINVAL);
	ASSERT_OK(REGISTER(vcpu, ZONE, 0x100, 0));
	/* A range reaching outside the zone, or PIO: nothing goes. */
	ASSERT_OK(UNREGISTER(vcpu, ZONE, 0x200, 0));
	ASSERT_OK(UNREGISTER(vcpu, ZONE, 0x10, 1));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
	ASSERT_EQ(ring_count(r), 3);
	r->first = r->last;

	/* A range inside it: the zone goes, writes exit again. */
	ASSERT_OK(UNREGISTER(vcpu, ZONE + 0x10, 0x10, 0));
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(vcpu->run->mmio.phys_addr, ZONE);
	ASSERT_EQ(ring_count(r), 0);
}

TEST_HARNESS_MAIN
