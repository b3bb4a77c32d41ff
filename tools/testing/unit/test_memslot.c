// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for virt/kvm/memslot.c: KVM_SET_USER_MEMORY_REGION validation
 * (Linux's errnos), gfn lookup, copy-on-write replacement of the set and
 * its host-address index (what the MMU notifier searches).
 */
#include "../nkvm/harness.h"
#include <nkvm/memslot.h>

#define MB (1UL << 20)
#define MAX_GFN ((1ULL << (40 - PAGE_SHIFT)) - 1)	/* a 40-bit host */
#define GB (1UL << 30)

static struct kvm_memslots *empty(void)
{
	return kvzalloc(sizeof(struct kvm_memslots), 0);
}

static struct kvm_userspace_memory_region region(u32 slot, u64 gpa, u64 size,
						 u64 hva)
{
	return (struct kvm_userspace_memory_region) {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = hva,
	};
}

static struct kvm_memory_slot *mkslot(u16 id, u64 gpa, u64 size, u64 hva)
{
	struct kvm_memory_slot *s = calloc(1, sizeof(*s));

	s->id = id;
	s->base_gfn = gpa >> PAGE_SHIFT;
	s->npages = size >> PAGE_SHIFT;
	s->userspace_addr = hva;
	return s;
}

/* A set with slot 0 at [0, 1M) and slot 1 at [1G, 1G + 2M). */
static struct kvm_memslots *two_slots(void)
{
	struct kvm_memslots *a = empty(), *b, *c;

	b = kvm_memslots_replace(a, NULL, mkslot(0, 0, MB, 0x100000));
	c = kvm_memslots_replace(b, NULL, mkslot(1, GB, 2 * MB, 0x40000000));
	kvm_memslots_free(a);
	kvm_memslots_free(b);
	return c;
}

static int check(struct kvm_memslots *s, struct kvm_userspace_memory_region r,
		 enum kvm_mr_change *change)
{
	struct kvm_memory_slot *old;

	return kvm_memslot_check(s, &r, 0, MAX_GFN, change, &old);
}

TEST(create_in_empty_set)
{
	enum kvm_mr_change c;

	ASSERT_EQ(check(empty(), region(0, 0, MB, 0x10000), &c), 0);
	ASSERT_EQ(c, KVM_MR_CREATE);
}

TEST(misaligned_fields_are_einval)
{
	enum kvm_mr_change c;

	EXPECT_EQ(check(empty(), region(0, 0x800, MB, 0x10000), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(0, 0, MB + 1, 0x10000), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(0, 0, MB, 0x10001), &c), -EINVAL);
}

TEST(slot_id_and_address_space_limits)
{
	enum kvm_mr_change c;

	EXPECT_EQ(check(empty(), region(KVM_USER_MEM_SLOTS - 1, 0, MB, 0), &c), 0);
	EXPECT_EQ(check(empty(), region(KVM_USER_MEM_SLOTS, 0, MB, 0), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(1 << 16, 0, MB, 0), &c), -EINVAL);
}

TEST(unknown_flags_are_einval)
{
	struct kvm_userspace_memory_region r = region(0, 0, MB, 0);
	struct kvm_memory_slot *old;
	enum kvm_mr_change c;

	r.flags = KVM_MEM_LOG_DIRTY_PAGES;
	EXPECT_EQ(kvm_memslot_check(empty(), &r, 0, MAX_GFN, &c, &old), -EINVAL);
	EXPECT_EQ(kvm_memslot_check(empty(), &r, KVM_MEM_LOG_DIRTY_PAGES, MAX_GFN, &c, &old), 0);
}

TEST(wrapping_and_oversized_regions_are_einval)
{
	enum kvm_mr_change c;

	EXPECT_EQ(check(empty(), region(0, -PAGE_SIZE, 2 * PAGE_SIZE, 0), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(0, 0, (KVM_MEM_MAX_NR_PAGES + 1) << PAGE_SHIFT, 0), &c),
		  -EINVAL);
}

TEST(beyond_guest_physical_width_is_einval)
{
	struct kvm_memslots *s = two_slots();
	enum kvm_mr_change c;
	u64 top = (MAX_GFN + 1) << PAGE_SHIFT;

	EXPECT_EQ(check(empty(), region(0, top - MB, MB, 0), &c), 0);
	EXPECT_EQ(check(empty(), region(0, top - MB, 2 * MB, 0), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(0, 1ULL << 60, MB, 0), &c), -EINVAL);
	/* Moving a slot beyond it, too. */
	EXPECT_EQ(check(s, region(1, top, 2 * MB, 0x40000000), &c), -EINVAL);
}

TEST(overlap_is_eexist)
{
	struct kvm_memslots *s = two_slots();
	enum kvm_mr_change c;

	EXPECT_EQ(check(s, region(2, MB - PAGE_SIZE, 2 * PAGE_SIZE, 0), &c), -EEXIST);
	EXPECT_EQ(check(s, region(2, GB + MB, PAGE_SIZE, 0), &c), -EEXIST);
	/* Adjacent on both sides is fine. */
	EXPECT_EQ(check(s, region(2, MB, GB - MB, 0), &c), 0);
	EXPECT_EQ(c, KVM_MR_CREATE);
}

TEST(delete_existing_and_missing)
{
	struct kvm_memslots *s = two_slots();
	enum kvm_mr_change c;

	EXPECT_EQ(check(s, region(1, 0, 0, 0), &c), 0);
	EXPECT_EQ(c, KVM_MR_DELETE);
	EXPECT_EQ(check(s, region(7, 0, 0, 0), &c), -EINVAL);
}

TEST(move_flags_and_forbidden_changes)
{
	struct kvm_memslots *s = two_slots();
	enum kvm_mr_change c;

	EXPECT_EQ(check(s, region(1, 2 * GB, 2 * MB, 0x40000000), &c), 0);
	EXPECT_EQ(c, KVM_MR_MOVE);
	/* Moving onto another slot. */
	EXPECT_EQ(check(s, region(1, 0, 2 * MB, 0x40000000), &c), -EEXIST);
	/* Same everything: nothing to do. */
	EXPECT_EQ(check(s, region(1, GB, 2 * MB, 0x40000000), &c), 0);
	EXPECT_EQ(c, KVM_MR_NONE);
	/* Size or backing of a live slot cannot change. */
	EXPECT_EQ(check(s, region(1, GB, 4 * MB, 0x40000000), &c), -EINVAL);
	EXPECT_EQ(check(s, region(1, GB, 2 * MB, 0x50000000), &c), -EINVAL);
}

TEST(find_by_gfn)
{
	struct kvm_memslots *s = two_slots();
	gfn_t g1 = GB >> PAGE_SHIFT;

	ASSERT_EQ(kvm_memslots_find_gfn(s, 0)->id, 0);
	ASSERT_EQ(kvm_memslots_find_gfn(s, (MB >> PAGE_SHIFT) - 1)->id, 0);
	ASSERT_TRUE(kvm_memslots_find_gfn(s, MB >> PAGE_SHIFT) == NULL);
	ASSERT_TRUE(kvm_memslots_find_gfn(s, g1 - 1) == NULL);
	ASSERT_EQ(kvm_memslots_find_gfn(s, g1)->id, 1);
	ASSERT_EQ(kvm_memslots_find_gfn(s, g1 + 511)->id, 1);
	ASSERT_TRUE(kvm_memslots_find_gfn(s, g1 + 512) == NULL);
	ASSERT_TRUE(kvm_memslots_find_gfn(empty(), 0) == NULL);
}

TEST(replace_keeps_sorted_order_and_source_intact)
{
	struct kvm_memslots *s = empty(), *n;
	u64 gpas[] = { 5 * MB, 1 * MB, 9 * MB, 3 * MB, 7 * MB };
	int i;

	for (i = 0; i < 5; i++) {
		n = kvm_memslots_replace(s, NULL, mkslot(i, gpas[i], MB, 0));
		ASSERT_EQ(s->nr, i);	/* the old set is untouched */
		kvm_memslots_free(s);
		s = n;
	}
	ASSERT_EQ(s->nr, 5);
	for (i = 1; i < s->nr; i++)
		ASSERT_LT(s->slots[i - 1]->base_gfn, s->slots[i]->base_gfn);

	n = kvm_memslots_replace(s, kvm_memslots_find_id(s, 2), NULL);
	ASSERT_EQ(n->nr, 4);
	ASSERT_TRUE(kvm_memslots_find_id(n, 2) == NULL);
	ASSERT_TRUE(kvm_memslots_find_gfn(n, (9 * MB) >> PAGE_SHIFT) == NULL);
	ASSERT_EQ(kvm_memslots_find_gfn(n, (7 * MB) >> PAGE_SHIFT)->id, 4);
}

TEST(many_slots_lookup)
{
	struct kvm_memslots *s = empty(), *n;
	int i;

	for (i = 0; i < 512; i++) {
		n = kvm_memslots_replace(s, NULL, mkslot(i, (u64)(511 - i) * 2 * MB, MB, 0));
		kvm_memslots_free(s);
		s = n;
	}
	for (i = 0; i < 512; i++) {
		gfn_t g = ((u64)(511 - i) * 2 * MB) >> PAGE_SHIFT;

		ASSERT_EQ(kvm_memslots_find_gfn(s, g + 3)->id, i);
		ASSERT_TRUE(kvm_memslots_find_gfn(s, g + (MB >> PAGE_SHIFT)) == NULL);
	}
}

/* The ids of the slots meeting host range [start, end), as a bit mask. */
static u64 hva_hits(const struct kvm_memslots *s, u64 start, u64 end)
{
	u64 ids = 0;
	int i;

	for (i = kvm_memslots_hva_last(s, end);
	     i >= 0 && s->hva_end[i] > start; i--) {
		const struct kvm_memory_slot *slot = s->by_hva[i];

		if (slot->userspace_addr < end &&
		    kvm_memslot_hva_end(slot) > start)
			ids |= 1ULL << slot->id;
	}
	return ids;
}

/* Every slot meeting the range, by brute force. */
static u64 hva_hits_slow(const struct kvm_memslots *s, u64 start, u64 end)
{
	u64 ids = 0;
	int i;

	for (i = 0; i < s->nr; i++)
		if (s->slots[i]->userspace_addr < end &&
		    kvm_memslot_hva_end(s->slots[i]) > start)
			ids |= 1ULL << s->slots[i]->id;
	return ids;
}

TEST(host_address_index_finds_every_slot_of_a_range)
{
	/* id, gpa, size, hva: disjoint, aliased, nested and large slots. */
	static const u64 def[][4] = {
		{ 0, 0, 4 * MB, 0x10000000 },
		{ 1, 8 * MB, 1 * MB, 0x10000000 },	/* aliases slot 0 */
		{ 2, 16 * MB, 64 * MB, 0x20000000 },	/* spans 3 and 4 */
		{ 3, 96 * MB, 1 * MB, 0x20100000 },
		{ 4, 100 * MB, 1 * MB, 0x23000000 },
		{ 5, 200 * MB, 2 * MB, 0x7f000000 },
	};
	struct kvm_memslots *s = empty(), *n;
	u64 start, end;
	int i;

	ASSERT_EQ(kvm_memslots_hva_last(s, ~0UL), -1);
	for (i = 0; i < 6; i++) {
		n = kvm_memslots_replace(s, NULL, mkslot(def[i][0], def[i][1],
							def[i][2], def[i][3]));
		kvm_memslots_free(s);
		s = n;
	}
	for (i = 1; i < s->nr; i++) {
		ASSERT_LE(s->by_hva[i - 1]->userspace_addr,
			  s->by_hva[i]->userspace_addr);
		ASSERT_LE(s->hva_end[i - 1], s->hva_end[i]);
	}
	ASSERT_EQ(hva_hits(s, 0x10000000, 0x10001000), 0x3);
	ASSERT_EQ(hva_hits(s, 0x10200000, 0x10201000), 0x1);
	ASSERT_EQ(hva_hits(s, 0x20100000, 0x20101000), 0x0c);
	ASSERT_EQ(hva_hits(s, 0x22000000, 0x23001000), 0x14);
	ASSERT_EQ(hva_hits(s, 0x24000000, 0x7f000000), 0);
	for (start = 0x0f000000; start < 0x80000000; start += 0x00700000)
		for (end = start + 0x1000; end < start + 0x08000000;
		     end += 0x00900000)
			ASSERT_EQ(hva_hits(s, start, end),
				  hva_hits_slow(s, start, end));

	/* Removing the large slot leaves an index without it. */
	n = kvm_memslots_replace(s, kvm_memslots_find_id(s, 2), NULL);
	ASSERT_EQ(hva_hits(n, 0x22000000, 0x23001000), 0x10);
	ASSERT_EQ(hva_hits(n, 0x20100000, 0x20101000), 0x08);
	kvm_memslots_free(s);
	s = n;

	/* Moving an alias replaces exactly it, in both orders. */
	{
		struct kvm_memory_slot *old = kvm_memslots_find_id(s, 1);
		struct kvm_memory_slot *moved = mkslot(1, 300 * MB, MB,
						      0x10000000);

		n = kvm_memslots_replace(s, old, moved);
		ASSERT_EQ(n->nr, 5);
		for (i = 0; i < n->nr; i++) {
			ASSERT_TRUE(n->by_hva[i] != old);
			ASSERT_TRUE(n->slots[i] != old);
		}
		ASSERT_TRUE(kvm_memslots_find_gfn(n, (300 * MB) >> PAGE_SHIFT) ==
			    moved);
		ASSERT_EQ(hva_hits(n, 0x10000000, 0x10001000), 0x3);
		for (i = 1; i < n->nr; i++)
			ASSERT_LT(n->slots[i - 1]->base_gfn,
				  n->slots[i]->base_gfn);
	}
	kvm_memslots_free(s);
	kvm_memslots_free(n);
}

TEST_HARNESS_MAIN
