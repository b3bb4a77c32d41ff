// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for virt/kvm/memslot.c: KVM_SET_USER_MEMORY_REGION validation
 * (Linux's errnos), lookups by gfn, id and host address (what the MMU
 * notifier searches), and the copy-on-write replacement of the set: the
 * set before stays intact for its readers until it is retired.
 */
#include "../nkvm/harness.h"
#include <nkvm/memslot.h>

#define MB (1UL << 20)
#define MAX_GFN ((1ULL << (40 - PAGE_SHIFT)) - 1)	/* a 40-bit host */
#define GB (1UL << 30)

static struct kvm_memslots *empty(void)
{
	return kvm_memslots_alloc();
}

/* Publish the change from @s to @n: what a memslot update does. */
static struct kvm_memslots *commit(struct kvm_memslots *s,
				   struct kvm_memslots *n)
{
	ASSERT_TRUE(n != NULL);
	kvm_memslots_retire(s, n);
	/* The set, a node per slot and index, and the pool: nothing else. */
	ASSERT_LE(n->pool->nr, KVM_MEMSLOT_POOL_NODES);
	ASSERT_EQ(unit_alloc_live, 2 + KVM_MEMSLOT_INDEXES * n->nr +
		  n->pool->nr + !!n->pool->set);
	return n;
}

static struct kvm_memslots *add_slot(struct kvm_memslots *s,
				     struct kvm_memory_slot *slot)
{
	return commit(s, kvm_memslots_replace(s, NULL, slot));
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
	struct kvm_memslots *s = empty();

	s = add_slot(s, mkslot(0, 0, MB, 0x100000));
	return add_slot(s, mkslot(1, GB, 2 * MB, 0x40000000));
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
	EXPECT_EQ(check(empty(), region(1 << 16, 0, MB, 0), &c), 0);
	EXPECT_EQ(check(empty(), region((1 << 16) | (KVM_USER_MEM_SLOTS - 1),
					0, MB, 0), &c), 0);
	EXPECT_EQ(check(empty(), region((1 << 16) | KVM_USER_MEM_SLOTS,
					0, MB, 0), &c), -EINVAL);
	EXPECT_EQ(check(empty(), region(KVM_ADDRESS_SPACE_NUM << 16, 0, MB, 0),
			&c), -EINVAL);
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

/* The slots in guest-frame order, through the public walk. */
static int by_gfn(const struct kvm_memslots *s, struct kvm_memory_slot **out,
		  int max)
{
	struct kvm_memory_slot *slot;
	int n = 0;

	for (slot = kvm_memslots_next_gfn(s, 0); slot && n < max;
	     slot = kvm_memslots_next_gfn(s, slot->base_gfn + slot->npages))
		out[n++] = slot;
	return n;
}

/*
 * Check one index: keys in order, AVL balance and heights, the largest
 * end of each subtree, nodes no newer than the set.  Returns the count.
 */
static int check_tree(const struct kvm_memslots *s,
		      const struct kvm_memslot_node *n, int index, int *height,
		      u64 *max_end)
{
	int hl = 0, hr = 0, count;
	u64 ml = 0, mr = 0;

	if (!n) {
		*height = 0;
		*max_end = 0;
		return 0;
	}
	count = 1 + check_tree(s, n->child[0], index, &hl, &ml) +
		check_tree(s, n->child[1], index, &hr, &mr);
	ASSERT_TRUE(n->slot != NULL);
	ASSERT_EQ(n->id, n->slot->id);
	ASSERT_LE(n->gen, s->generation);
	if (n->child[0]) {
		const struct kvm_memslot_node *c = n->child[0];

		ASSERT_TRUE(c->key < n->key || (c->key == n->key && c->id < n->id));
	}
	if (n->child[1]) {
		const struct kvm_memslot_node *c = n->child[1];

		ASSERT_TRUE(c->key > n->key || (c->key == n->key && c->id > n->id));
	}
	ASSERT_LE(hl - hr, 1);
	ASSERT_LE(hr - hl, 1);
	*height = 1 + (hl > hr ? hl : hr);
	ASSERT_EQ(n->height, *height);
	*max_end = n->end;
	if (ml > *max_end)
		*max_end = ml;
	if (mr > *max_end)
		*max_end = mr;
	ASSERT_EQ(n->max_end, *max_end);
	switch (index) {
	case KVM_MEMSLOT_BY_GFN:
		ASSERT_EQ(n->key, n->slot->base_gfn);
		ASSERT_EQ(n->end, n->slot->base_gfn + n->slot->npages);
		break;
	case KVM_MEMSLOT_BY_HVA:
		ASSERT_EQ(n->key, n->slot->userspace_addr);
		ASSERT_EQ(n->end, kvm_memslot_hva_end(n->slot));
		break;
	default:
		ASSERT_EQ(n->key, n->slot->id);
		break;
	}
	return count;
}

/* Every index holds exactly nr slots, balanced; returns the tallest. */
static int check_set(const struct kvm_memslots *s)
{
	int i, h, tallest = 0;
	u64 m;

	for (i = 0; i < KVM_MEMSLOT_INDEXES; i++) {
		ASSERT_EQ(check_tree(s, s->root[i], i, &h, &m), s->nr);
		if (h > tallest)
			tallest = h;
	}
	return tallest;
}

TEST(replace_keeps_sorted_order_and_source_intact)
{
	struct kvm_memslots *s = empty(), *n;
	struct kvm_memory_slot *all[8];
	u64 gpas[] = { 5 * MB, 1 * MB, 9 * MB, 3 * MB, 7 * MB };
	int i;

	for (i = 0; i < 5; i++) {
		n = kvm_memslots_replace(s, NULL, mkslot(i, gpas[i], MB, 0));
		ASSERT_EQ(s->nr, i);	/* the old set is untouched */
		ASSERT_EQ(check_set(s) >= 0, 1);
		ASSERT_EQ(by_gfn(s, all, 8), i);
		ASSERT_EQ(n->generation, s->generation + 1);
		s = commit(s, n);
	}
	ASSERT_EQ(s->nr, 5);
	check_set(s);
	ASSERT_EQ(by_gfn(s, all, 8), 5);
	for (i = 1; i < 5; i++)
		ASSERT_LT(all[i - 1]->base_gfn, all[i]->base_gfn);

	n = kvm_memslots_replace(s, kvm_memslots_find_id(s, 2), NULL);
	ASSERT_EQ(n->nr, 4);
	check_set(n);
	ASSERT_TRUE(kvm_memslots_find_id(n, 2) == NULL);
	ASSERT_TRUE(kvm_memslots_find_gfn(n, (9 * MB) >> PAGE_SHIFT) == NULL);
	ASSERT_EQ(kvm_memslots_find_gfn(n, (7 * MB) >> PAGE_SHIFT)->id, 4);
	/* Readers of the set before still find the slot. */
	ASSERT_EQ(kvm_memslots_find_id(s, 2)->id, 2);
	ASSERT_EQ(kvm_memslots_find_gfn(s, (9 * MB) >> PAGE_SHIFT)->id, 2);
	check_set(s);
	/* Never published: discarding it leaves the set before as it was. */
	kvm_memslots_discard(n);
	check_set(s);
	ASSERT_EQ(s->nr, 5);
	kvm_memslots_free(s);
}

TEST(walk_by_id)
{
	struct kvm_memslots *s = empty();
	struct kvm_memory_slot *slot;
	int ids[] = { 9, 300, 0, 32763, 17 }, sorted[] = { 0, 9, 17, 300, 32763 };
	int i = 0;

	for (i = 0; i < 5; i++)
		s = add_slot(s, mkslot(ids[i], (u64)i * MB, MB, 0));
	i = 0;
	for (slot = kvm_memslots_next_id(s, 0); slot;
	     slot = kvm_memslots_next_id(s, slot->id + 1))
		ASSERT_EQ(slot->id, sorted[i++]);
	ASSERT_EQ(i, 5);
	ASSERT_EQ(kvm_memslots_next_id(s, 18)->id, 300);
	ASSERT_TRUE(kvm_memslots_next_id(s, 32764) == NULL);
	kvm_memslots_free(s);
}

TEST(many_slots_lookup)
{
	struct kvm_memslots *s = empty();
	int i;

	for (i = 0; i < 512; i++)
		s = add_slot(s, mkslot(i, (u64)(511 - i) * 2 * MB, MB, 0));
	check_set(s);
	for (i = 0; i < 512; i++) {
		gfn_t g = ((u64)(511 - i) * 2 * MB) >> PAGE_SHIFT;

		ASSERT_EQ(kvm_memslots_find_gfn(s, g + 3)->id, i);
		ASSERT_TRUE(kvm_memslots_find_gfn(s, g + (MB >> PAGE_SHIFT)) == NULL);
		ASSERT_EQ(kvm_memslots_find_id(s, i)->id, i);
	}
	kvm_memslots_free(s);
}

/* The largest set a VM can have: the trees stay within the AVL bound. */
TEST(the_most_slots_stay_balanced)
{
	static struct kvm_memory_slot slots[KVM_USER_MEM_SLOTS];
	struct kvm_memslots *s = empty(), *n;
	struct kvm_memory_slot *old;
	enum kvm_mr_change c;
	int i, h;

	for (i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		/* Ascending keys: the worst order for an unbalanced tree. */
		slots[i] = (struct kvm_memory_slot) {
			.id = i, .base_gfn = (u64)i * 2, .npages = 1,
			.userspace_addr = 0x10000000 + (u64)i * PAGE_SIZE,
		};
		s = add_slot(s, &slots[i]);
	}
	ASSERT_EQ(s->nr, KVM_USER_MEM_SLOTS);
	h = check_set(s);
	ASSERT_LE(h, 21);
	for (i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		ASSERT_TRUE(kvm_memslots_find_gfn(s, (u64)i * 2) == &slots[i]);
		ASSERT_TRUE(kvm_memslots_find_gfn(s, (u64)i * 2 + 1) == NULL);
		ASSERT_TRUE(kvm_memslots_find_id(s, i) == &slots[i]);
	}
	/* A new slot on a taken frame, and a free id above them all. */
	{
		struct kvm_userspace_memory_region r =
			region(KVM_USER_MEM_SLOTS - 1, 2 * PAGE_SIZE, PAGE_SIZE, 0);

		r.slot = 5;
		ASSERT_EQ(kvm_memslot_check(s, &r, 0, MAX_GFN, &c, &old), -EINVAL);
	}
	/* Delete every other one. */
	for (i = 0; i < KVM_USER_MEM_SLOTS; i += 2) {
		n = kvm_memslots_replace(s, &slots[i], NULL);
		s = commit(s, n);
	}
	ASSERT_EQ(s->nr, KVM_USER_MEM_SLOTS / 2);
	check_set(s);
	for (i = 0; i < KVM_USER_MEM_SLOTS; i++)
		ASSERT_TRUE(kvm_memslots_find_id(s, i) ==
			    (i % 2 ? &slots[i] : NULL));
	kvm_memslots_free(s);
	ASSERT_EQ(unit_alloc_live, 0);
}

/* An empty pool: every node of the next change needs an allocation. */
static void pool_drain(struct kvm_memslots *s)
{
	while (s->pool->nodes) {
		struct kvm_memslot_node *spare = s->pool->nodes;

		s->pool->nodes = spare->next;
		kfree(spare);
	}
	s->pool->nr = 0;
	kfree(s->pool->set);
	s->pool->set = NULL;
}

/* Allocations fail from the nth on (unit_compat.h's kmalloc). */
TEST(out_of_memory_leaves_the_set_intact)
{
	struct kvm_memslots *s = empty(), *n;
	int i, fail;

	for (i = 0; i < 200; i++)
		s = add_slot(s, mkslot(i, (u64)i * 2 * MB, MB, (u64)i << 30));
	for (fail = 1; fail < 200; fail++) {
		pool_drain(s);
		unit_alloc_fail_in = fail;
		n = kvm_memslots_replace(s, kvm_memslots_find_id(s, 77),
					 mkslot(77, 1000 * MB, MB, 77UL << 30));
		unit_alloc_fail_in = 0;
		check_set(s);
		ASSERT_EQ(kvm_memslots_find_gfn(s, (154 * MB) >> PAGE_SHIFT)->id, 77);
		if (n) {
			/* Enough memory at last: the move went through. */
			check_set(n);
			ASSERT_EQ(kvm_memslots_find_gfn(n, (1000 * MB) >> PAGE_SHIFT)->id, 77);
			ASSERT_TRUE(kvm_memslots_find_gfn(n, (154 * MB) >> PAGE_SHIFT) == NULL);
			kvm_memslots_discard(n);
			break;
		}
	}
	ASSERT_LT(fail, 200);
	ASSERT_GT(fail, 3);
	kvm_memslots_free(s);
	ASSERT_EQ(unit_alloc_live, 0);
}

/* The ids of the slots meeting host range [start, end), as a bit mask. */
struct hits {
	u64 ids;
	u64 last_hva;
	int n;
};

static void hit(const struct kvm_memory_slot *slot, void *ctx)
{
	struct hits *h = ctx;

	/* In host address order. */
	ASSERT_LE(h->last_hva, slot->userspace_addr);
	h->last_hva = slot->userspace_addr;
	h->ids |= 1ULL << slot->id;
	h->n++;
}

static u64 hva_hits(const struct kvm_memslots *s, u64 start, u64 end)
{
	struct hits h = { 0 };

	kvm_memslots_for_each_hva(s, start, end, hit, &h);
	ASSERT_EQ(__builtin_popcountll(h.ids), h.n);
	return h.ids;
}

/* Every slot meeting the range, by brute force. */
static u64 hva_hits_slow(const struct kvm_memslots *s, u64 start, u64 end)
{
	struct kvm_memory_slot *all[64];
	int i, n = by_gfn(s, all, 64);
	u64 ids = 0;

	for (i = 0; i < n; i++)
		if (all[i]->userspace_addr < end &&
		    kvm_memslot_hva_end(all[i]) > start)
			ids |= 1ULL << all[i]->id;
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

	ASSERT_EQ(hva_hits(s, 0, ~0UL), 0);
	for (i = 0; i < 6; i++)
		s = add_slot(s, mkslot(def[i][0], def[i][1], def[i][2],
				       def[i][3]));
	check_set(s);
	ASSERT_EQ(hva_hits(s, 0x10000000, 0x10001000), 0x3);
	ASSERT_EQ(hva_hits(s, 0x10200000, 0x10201000), 0x1);
	ASSERT_EQ(hva_hits(s, 0x20100000, 0x20101000), 0x0c);
	ASSERT_EQ(hva_hits(s, 0x22000000, 0x23001000), 0x14);
	ASSERT_EQ(hva_hits(s, 0x24000000, 0x7f000000), 0);
	ASSERT_EQ(hva_hits(s, 0x20000000, 0x20000000), 0);	/* empty */
	for (start = 0x0f000000; start < 0x80000000; start += 0x00700000)
		for (end = start + 0x1000; end < start + 0x08000000;
		     end += 0x00900000)
			ASSERT_EQ(hva_hits(s, start, end),
				  hva_hits_slow(s, start, end));

	/* Removing the large slot leaves an index without it. */
	n = kvm_memslots_replace(s, kvm_memslots_find_id(s, 2), NULL);
	ASSERT_EQ(hva_hits(n, 0x22000000, 0x23001000), 0x10);
	ASSERT_EQ(hva_hits(n, 0x20100000, 0x20101000), 0x08);
	ASSERT_EQ(hva_hits(s, 0x22000000, 0x23001000), 0x14);
	s = commit(s, n);

	/* Moving an alias replaces exactly it. */
	{
		struct kvm_memory_slot *old = kvm_memslots_find_id(s, 1);
		struct kvm_memory_slot *moved = mkslot(1, 300 * MB, MB,
						      0x10000000);
		struct kvm_memory_slot *all[8];

		n = kvm_memslots_replace(s, old, moved);
		ASSERT_EQ(n->nr, 5);
		check_set(n);
		ASSERT_EQ(by_gfn(n, all, 8), 5);
		for (i = 0; i < 5; i++) {
			ASSERT_TRUE(all[i] != old);
			if (i)
				ASSERT_LT(all[i - 1]->base_gfn, all[i]->base_gfn);
		}
		ASSERT_TRUE(kvm_memslots_find_gfn(n, (300 * MB) >> PAGE_SHIFT) ==
			    moved);
		ASSERT_TRUE(kvm_memslots_find_id(n, 1) == moved);
		ASSERT_EQ(hva_hits(n, 0x10000000, 0x10001000), 0x3);
		s = commit(s, n);
	}
	kvm_memslots_free(s);
}

/*
 * Random creates, deletes and moves against a plain model, with the
 * previous set checked intact before each retire.
 */
TEST(random_changes_match_a_model)
{
	enum { IDS = 48, STEPS = 3000 };
	static struct kvm_memory_slot *model[IDS];
	struct kvm_memslots *s = empty(), *n;
	unsigned int seed = 12345;
	int step, i, nr = 0;

	for (step = 0; step < STEPS; step++) {
		u16 id = rand_r(&seed) % IDS;
		struct kvm_memory_slot *old = model[id], *add = NULL;
		struct kvm_userspace_memory_region r;
		struct kvm_memory_slot *found;
		enum kvm_mr_change c;
		u64 gpa = (u64)(rand_r(&seed) % 256) * MB;
		u64 size = (u64)(1 + rand_r(&seed) % 4) * MB;
		u64 hva = (u64)(rand_r(&seed) % 64) * MB;
		int ret;

		if (old && rand_r(&seed) % 3 == 0)
			r = region(id, 0, 0, 0);		/* delete */
		else if (old)
			r = region(id, gpa, old->npages << PAGE_SHIFT,
				   old->userspace_addr);	/* move */
		else
			r = region(id, gpa, size, hva);		/* create */
		ret = kvm_memslot_check(s, &r, 0, MAX_GFN, &c, &found);
		ASSERT_TRUE(found == old);
		/* -EEXIST exactly when the model has another slot there. */
		{
			bool clash = false;

			for (i = 0; i < IDS && r.memory_size; i++)
				if (i != id && model[i] &&
				    model[i]->base_gfn < (r.guest_phys_addr + r.memory_size) >> PAGE_SHIFT &&
				    model[i]->base_gfn + model[i]->npages > r.guest_phys_addr >> PAGE_SHIFT)
					clash = true;
			if (old && r.memory_size &&
			    old->base_gfn == r.guest_phys_addr >> PAGE_SHIFT)
				clash = false;	/* KVM_MR_NONE: not checked */
			ASSERT_EQ(ret, clash ? -EEXIST : 0);
		}
		if (ret || c == KVM_MR_NONE)
			continue;
		if (r.memory_size)
			add = mkslot(id, r.guest_phys_addr, r.memory_size,
				     r.userspace_addr);
		n = kvm_memslots_replace(s, old, add);
		ASSERT_TRUE(n != NULL);
		/* The set before still answers as before. */
		ASSERT_EQ(s->nr, nr);
		for (i = 0; i < IDS; i++)
			ASSERT_TRUE(kvm_memslots_find_id(s, i) == model[i]);
		s = commit(s, n);
		free(old);
		model[id] = add;
		nr += !!add - !!old;
		ASSERT_EQ(s->nr, nr);
		if (step % 50 == 0)
			check_set(s);
		for (i = 0; i < IDS; i++) {
			ASSERT_TRUE(kvm_memslots_find_id(s, i) == model[i]);
			if (model[i]) {
				ASSERT_TRUE(kvm_memslots_find_gfn(s, model[i]->base_gfn) == model[i]);
				ASSERT_TRUE(kvm_memslots_find_gfn(s, model[i]->base_gfn +
								  model[i]->npages - 1) == model[i]);
			}
		}
		for (i = 0; i < 8; i++) {
			u64 a = (u64)(rand_r(&seed) % 72) * MB;
			u64 b = a + (u64)(1 + rand_r(&seed) % 8) * MB / 2;
			u64 want = 0;
			int k;

			for (k = 0; k < IDS; k++)
				if (model[k] && model[k]->userspace_addr < b &&
				    kvm_memslot_hva_end(model[k]) > a)
					want |= 1ULL << k;
			ASSERT_EQ(hva_hits(s, a, b), want);
		}
	}
	check_set(s);
	for (i = 0; i < IDS; i++)
		free(model[i]);
	kvm_memslots_free(s);
	ASSERT_EQ(unit_alloc_live, 0);
}

TEST_HARNESS_MAIN
