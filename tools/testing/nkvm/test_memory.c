// SPDX-License-Identifier: GPL-2.0
/*
 * test_memory.c - guest memory through KVM_SET_USER_MEMORY_REGION: guest
 * and host see the same bytes, several memslots, and the argument checks.
 *
 * The errnos below are those of Linux KVM (checked on 6.18, and the same
 * checks exist in 6.1's __kvm_set_memory_region):
 *   unaligned guest_phys_addr, memory_size or userspace_addr   EINVAL
 *   unknown flag bits                                          EINVAL
 *   slot id >= KVM_CAP_NR_MEMSLOTS                             EINVAL
 *   new or moved slot overlapping another slot                 EEXIST
 *   deleting (size 0) a slot that does not exist               EINVAL
 *   changing the size or userspace_addr of an existing slot    EINVAL
 *   userspace range wrapping or leaving the user address space EINVAL
 *   guest range wrapping or beyond any MAXPHYADDR               EINVAL
 *   setting an existing slot again, unchanged                  0 (no-op)
 *   moving a slot (same id, new guest_phys_addr)               0
 */
#include <sys/ioctl.h>

#include "vm.h"

#define PAGE 4096UL

/* ------------------------------------------------------------------ */
/* Guest and host see the same memory.                                 */

/* Fill 0x4000..0x4fff with words equal to their address, then halt. */
GUEST_CODE(fill_guest,
	"mov $0x4000, %di\n"
	"mov $0x800, %cx\n"		/* 2048 words */
	"1:\n"
	"mov %di, (%di)\n"
	"add $2, %di\n"
	"loop 1b\n"
	"hlt\n"
);

TEST(guest_writes_seen_by_host)
{
	struct vcpu *vcpu = VM_WITH_GUEST(fill_guest);
	uint16_t *w = vm_ptr(vcpu->vm, 0x4000);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	for (int i = 0; i < 0x800; i++)
		ASSERT_EQ(w[i], 0x4000 + 2 * i);
	/* The guest wrote nothing past its range. */
	ASSERT_EQ(w[0x800], 0);
}

/* Read the dword at 0x3000 and report it, forever. */
GUEST_CODE(read_loop_guest,
	"1:\n"
	"mov (0x3000), %eax\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

TEST(host_writes_seen_by_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(read_loop_guest);
	volatile uint32_t *p = vm_ptr(vcpu->vm, 0x3000);

	/* A new value on every round trip: the guest never sees a stale one. */
	for (uint32_t i = 0; i < 200; i++) {
		*p = 0xa5000000 | i;
		ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xa5000000 | i);
	}
}

/* Sum the 256 bytes at 0x6000 into DX and report it. */
GUEST_CODE(sum_guest,
	"mov $0x6000, %si\n"
	"mov $256, %cx\n"
	"xor %dx, %dx\n"
	"xor %ah, %ah\n"
	"1:\n"
	"mov (%si), %al\n"
	"add %ax, %dx\n"
	"inc %si\n"
	"loop 1b\n"
	"mov %dx, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(host_pattern_summed_by_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sum_guest);
	uint8_t *p = vm_ptr(vcpu->vm, 0x6000);
	uint16_t sum = 0;

	for (int i = 0; i < 256; i++) {
		p[i] = (uint8_t)(i * 7 + 3);
		sum += p[i];
	}
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), sum);
}

/* Code can be patched by the host between runs. */
GUEST_CODE(patch_a_guest, "mov $0x0a, %al\n out %al, $0x10\n hlt\n");
GUEST_CODE(patch_b_guest, "mov $0x0b, %al\n out %al, $0x10\n hlt\n");

TEST(host_patches_guest_code)
{
	struct vcpu *vcpu = VM_WITH_GUEST(patch_a_guest);

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x0a);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vm_load_guest(vcpu->vm, patch_b_guest);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x0b);
}

/* ------------------------------------------------------------------ */
/* Several memslots.                                                   */

/*
 * A VM with slot 0 = 64 KiB at 0 (code, stack) and slot 1 = 64 KiB at
 * 0x20000, separately mmap'ed.  The guest reaches slot 1 through ES =
 * 0x2000 (0x30000 with ES = 0x3000 after a move).
 */
static struct vcpu *two_slot_vm(const void *code, size_t len, void **slot1)
{
	struct vm *vm = vm_create(0x10000);
	struct vcpu *vcpu;

	*slot1 = vm_add_slot(vm, 1, 0x20000, 0x10000);
	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

/* Report ES:0x100 (dword), write ES:0x200, report DS:0x100 (slot 0). */
GUEST_CODE(es_guest,
	"1:\n"
	"mov %es:(0x100), %eax\n"
	"out %eax, $0x10\n"
	"movl $0x5107f00d, %es:(0x200)\n"
	"mov (0x100), %eax\n"
	"out %eax, $0x11\n"
	"hlt\n"
	"jmp 1b\n"
);

static void set_es(struct vcpu *vcpu, uint16_t sel)
{
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.es.selector = sel;
	sregs.es.base = (uint64_t)sel << 4;
	vcpu_set_sregs(vcpu, &sregs);
}

TEST(two_slots)
{
	void *s1;
	struct vcpu *vcpu = two_slot_vm(es_guest, GUEST_SIZE(es_guest), &s1);

	set_es(vcpu, 0x2000);
	*(uint32_t *)((char *)s1 + 0x100) = 0x11112222;
	*(uint32_t *)vm_ptr(vcpu->vm, 0x100) = 0x33334444;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x11112222);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0x33334444);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(*(uint32_t *)((char *)s1 + 0x200), 0x5107f00d);
	/* Slot 0 at the same offset was not written. */
	ASSERT_EQ(*(uint32_t *)vm_ptr(vcpu->vm, 0x200), 0);
}

TEST(delete_and_readd_slot)
{
	void *s1;
	struct vcpu *vcpu = two_slot_vm(es_guest, GUEST_SIZE(es_guest), &s1);
	struct vm *vm = vcpu->vm;

	set_es(vcpu, 0x2000);
	*(uint32_t *)((char *)s1 + 0x100) = 0xaaaa0001;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xaaaa0001);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/* Delete slot 1 (size 0), then add it back over the same memory. */
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x20000, 0, 0));
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x20000, 0x10000, (uintptr_t)s1));
	*(uint32_t *)((char *)s1 + 0x100) = 0xaaaa0002;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xaaaa0002);

	/* Delete it again and re-add it with other backing memory. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_OK(vm_set_region(vm, 1, 0, 0, 0, 0));
	void *other = vm_add_slot(vm, 1, 0x20000, 0x10000);
	*(uint32_t *)((char *)other + 0x100) = 0xbbbb0003;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xbbbb0003);
}

TEST(move_slot)
{
	void *s1;
	struct vcpu *vcpu = two_slot_vm(es_guest, GUEST_SIZE(es_guest), &s1);
	struct vm *vm = vcpu->vm;

	set_es(vcpu, 0x2000);
	*(uint32_t *)((char *)s1 + 0x100) = 0x0000c0de;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x0000c0de);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/* Same id, same memory, same size, new guest address: a move. */
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x30000, 0x10000, (uintptr_t)s1));
	set_es(vcpu, 0x3000);
	*(uint32_t *)((char *)s1 + 0x100) = 0x0001c0de;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x0001c0de);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(*(uint32_t *)((char *)s1 + 0x200), 0x5107f00d);

	/* The old place is free again: another slot can take it. */
	void *s2 = vm_add_slot(vm, 2, 0x20000, 0x10000);

	set_es(vcpu, 0x2000);
	*(uint32_t *)((char *)s2 + 0x100) = 0x0002c0de;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x0002c0de);
}

TEST(same_host_memory_in_two_slots)
{
	void *s1;
	struct vcpu *vcpu = two_slot_vm(es_guest, GUEST_SIZE(es_guest), &s1);

	/* Slot 2 aliases slot 1's memory at 0x40000: that is allowed. */
	ASSERT_OK(vm_set_region(vcpu->vm, 2, 0, 0x40000, 0x10000,
				(uintptr_t)s1));
	set_es(vcpu, 0x4000);
	*(uint32_t *)((char *)s1 + 0x100) = 0xa11a5ed;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xa11a5ed);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(*(uint32_t *)((char *)s1 + 0x200), 0x5107f00d);
}

/*
 * Many one-page slots: the guest reads the first word of each and reports
 * the sum.  Pages at 0x20000 + i * 0x1000, slot ids 1..N.
 */
GUEST_CODE(many_guest,
	"mov $0x2000, %bx\n"		/* segment of the first page	*/
	"mov $64, %cx\n"
	"xor %dx, %dx\n"
	"1:\n"
	"mov %bx, %es\n"
	"add %es:(0), %dx\n"
	"add $0x100, %bx\n"		/* next page: +0x1000 linear	*/
	"loop 1b\n"
	"mov %dx, %ax\n"
	"out %ax, $0x10\n"
	"hlt\n"
);

TEST(many_slots)
{
	struct vm *vm = vm_create(0x10000);
	struct vcpu *vcpu;
	uint16_t sum = 0;

	for (int i = 0; i < 64; i++) {
		uint16_t *p = vm_add_slot(vm, 1 + i, 0x20000 + i * PAGE, PAGE);

		p[0] = 1000 + i;
		sum += p[0];
	}
	vm_load_guest(vm, many_guest);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), sum);
}

/* ------------------------------------------------------------------ */
/* KVM_SET_USER_MEMORY_REGION argument checks.                         */

/* A VM (no vCPU) and 4 MiB of host memory to describe slots with. */
struct mslots {
	struct vm *vm;
	uint64_t hva;
};

static struct mslots mslots_setup(void)
{
	struct mslots m;
	void *p = mmap(NULL, 0x400000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	m.vm = vm_create(0);
	m.hva = (uintptr_t)p;
	return m;
}

TEST(unaligned_guest_phys_addr)
{
	struct mslots m = mslots_setup();

	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0x1001, 0x10000, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0x800, 0x10000, m.hva), EINVAL);
	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0x1000, 0x10000, m.hva));
}

TEST(unaligned_memory_size)
{
	struct mslots m = mslots_setup();

	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x10001, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x800, m.hva), EINVAL);
	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x1000, m.hva));
}

TEST(unaligned_userspace_addr)
{
	struct mslots m = mslots_setup();

	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva + 1), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva + 0x800),
		     EINVAL);
	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva + 0x1000));
}

TEST(invalid_flags)
{
	struct mslots m = mslots_setup();

	/*
	 * Bit 0 (dirty logging), 1 (read-only), 2 (guest_memfd, newer
	 * kernels) are defined; higher bits are not.
	 */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 1u << 7, 0, 0x10000, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 1u << 31, 0, 0x10000, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, ~0u, 0, 0x10000, m.hva), EINVAL);
	/* Nothing was created by the failed calls. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0, 0), EINVAL);
}

TEST(overlapping_slots)
{
	struct mslots m = mslots_setup();

	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0x10000, 0x10000, m.hva));
	/* Overlapping the start, the end, inside, around, exactly. */
	ASSERT_ERRNO(vm_set_region(m.vm, 1, 0, 0x8000, 0x10000,
				   m.hva + 0x100000), EEXIST);
	ASSERT_ERRNO(vm_set_region(m.vm, 1, 0, 0x1f000, 0x10000,
				   m.hva + 0x100000), EEXIST);
	ASSERT_ERRNO(vm_set_region(m.vm, 1, 0, 0x14000, 0x1000,
				   m.hva + 0x100000), EEXIST);
	ASSERT_ERRNO(vm_set_region(m.vm, 1, 0, 0x0, 0x40000,
				   m.hva + 0x100000), EEXIST);
	ASSERT_ERRNO(vm_set_region(m.vm, 1, 0, 0x10000, 0x10000,
				   m.hva + 0x100000), EEXIST);
	/* Adjacent on either side is fine. */
	ASSERT_OK(vm_set_region(m.vm, 1, 0, 0x20000, 0x10000, m.hva + 0x100000));
	ASSERT_OK(vm_set_region(m.vm, 2, 0, 0x0, 0x10000, m.hva + 0x200000));
}

TEST(move_onto_another_slot)
{
	struct mslots m = mslots_setup();

	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0x00000, 0x10000, m.hva));
	ASSERT_OK(vm_set_region(m.vm, 1, 0, 0x10000, 0x10000, m.hva + 0x100000));
	/* Moving slot 0 so that it overlaps slot 1. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0x8000, 0x10000, m.hva), EEXIST);
	/* Moving so that it overlaps only its own old place is fine... */
	ASSERT_OK(vm_set_region(m.vm, 1, 0, 0x18000, 0x10000, m.hva + 0x100000));
	/* ...and so is moving back. */
	ASSERT_OK(vm_set_region(m.vm, 1, 0, 0x10000, 0x10000, m.hva + 0x100000));
}

TEST(slot_id_limit)
{
	struct mslots m = mslots_setup();
	int n = ioctl(m.vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	ASSERT_GT(n, 0);
	ASSERT_OK(vm_set_region(m.vm, n - 1, 0, 0x100000, 0x1000, m.hva));
	ASSERT_ERRNO(vm_set_region(m.vm, n, 0, 0x200000, 0x1000, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, n + 1, 0, 0x200000, 0x1000, m.hva),
		     EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0x7fff, 0, 0x200000, 0x1000, m.hva),
		     EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0xffff, 0, 0x200000, 0x1000, m.hva),
		     EINVAL);
	/*
	 * Bits 16+ select an address space; x86 has at most 2 (the second
	 * for SMM), so address space 0x7fff does not exist.
	 */
	ASSERT_ERRNO(vm_set_region(m.vm, 0x7fff0000, 0, 0x200000, 0x1000,
				   m.hva), EINVAL);
}

TEST(delete_nonexistent_slot)
{
	struct mslots m = mslots_setup();

	/* Linux: deleting a slot that has no memory is EINVAL, not 0. */
	ASSERT_ERRNO(vm_set_region(m.vm, 5, 0, 0, 0, 0), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 5, 0, 0x100000, 0, m.hva), EINVAL);

	/* Deleting twice: the second time the slot no longer exists. */
	ASSERT_OK(vm_set_region(m.vm, 5, 0, 0x100000, 0x1000, m.hva));
	ASSERT_OK(vm_set_region(m.vm, 5, 0, 0x100000, 0, m.hva));
	ASSERT_ERRNO(vm_set_region(m.vm, 5, 0, 0x100000, 0, m.hva), EINVAL);
}

TEST(delete_ignores_addresses)
{
	struct mslots m = mslots_setup();

	/* A delete needs only slot and size 0 (aligned addresses). */
	ASSERT_OK(vm_set_region(m.vm, 3, 0, 0x100000, 0x1000, m.hva));
	ASSERT_OK(vm_set_region(m.vm, 3, 0, 0x777000, 0, 0));
	/* The slot's range is free again. */
	ASSERT_OK(vm_set_region(m.vm, 4, 0, 0x100000, 0x1000, m.hva));
}

TEST(resize_existing_slot)
{
	struct mslots m = mslots_setup();

	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva));
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x20000, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x8000, m.hva), EINVAL);
	/* Nor can a move change the size. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0x100000, 0x8000, m.hva), EINVAL);
}

TEST(change_userspace_addr_of_existing_slot)
{
	struct mslots m = mslots_setup();

	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva));
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva + 0x10000),
		     EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0x100000, 0x10000,
				   m.hva + 0x10000), EINVAL);
}

TEST(unchanged_update_is_noop)
{
	struct mslots m = mslots_setup();

	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva));
	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva));
	ASSERT_OK(vm_set_region(m.vm, 0, 0, 0, 0x10000, m.hva));
}

TEST(huge_or_wrapping_ranges)
{
	struct mslots m = mslots_setup();

	/* userspace_addr + memory_size beyond the user address space. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 1ULL << 62, m.hva), EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 1ULL << 47, m.hva), EINVAL);
	/* memory_size that wraps userspace_addr around. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, -m.hva, m.hva), EINVAL);
	/* A kernel address. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0x1000, 0xffff800000000000ULL),
		     EINVAL);
	/* guest_phys_addr + memory_size wraps around. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, -0x10000ULL, 0x20000, m.hva),
		     EINVAL);
	/* Guest addresses beyond any x86 MAXPHYADDR (52). */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 1ULL << 60, 0x1000, m.hva),
		     EINVAL);
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, (1ULL << 52) - 0x1000, 0x2000,
				   m.hva), EINVAL);
	/* None of this created slot 0. */
	ASSERT_ERRNO(vm_set_region(m.vm, 0, 0, 0, 0, 0), EINVAL);
}

TEST(large_sparse_slot)
{
	/*
	 * A 1 GiB slot of MAP_NORESERVE memory at 4 GiB: memory is only
	 * described, never touched, so this is cheap.  (Above the real-mode
	 * range, so only the registration is tested.)
	 */
	struct vm *vm = vm_create(0);
	void *p = mmap(NULL, 1UL << 30, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_OK(vm_set_region(vm, 0, 0, 1ULL << 32, 1UL << 30, (uintptr_t)p));
	ASSERT_OK(vm_set_region(vm, 0, 0, 0, 0, 0));
}

TEST_HARNESS_MAIN
