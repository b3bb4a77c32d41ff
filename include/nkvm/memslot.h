/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: memslot sets.
 *
 * A memslot set is an immutable snapshot, published under RCU (SRCU in the
 * VM) and read without locks.  It indexes the slots three ways, each a
 * balanced (AVL) search tree: by guest frame number, by host address (slots
 * may share host memory: each node keeps the largest host end below it, so
 * the MMU notifier finds the slots of a host range in O(log n + the slots
 * it meets)) and by slot id.  A change builds the next set by copying only
 * the tree nodes on the paths it changes, O(log n) of them, and shares the
 * rest with the set before; once no reader can see that set any more, the
 * nodes it alone held are freed (kvm_memslots_retire()).  This file and
 * virt/kvm/memslot.c are pure logic: they also build in userspace for the
 * unit tests (tools/testing/unit), with NKVM_USERSPACE defined.
 */
#ifndef _NKVM_MEMSLOT_H
#define _NKVM_MEMSLOT_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <linux/kvm_types.h>
#include <uapi/linux/kvm.h>
#else
#include "unit_compat.h"
#endif

/* Slots userspace may use, and the largest slot (Linux's x86 limits). */
#define KVM_USER_MEM_SLOTS	32764
#define KVM_MEM_MAX_NR_PAGES	((1UL << 31) - 1)
/*
 * Address spaces, each with its own set of slots (the id's high 16 bits
 * in KVM_SET_USER_MEMORY_REGION): x86's second is what a vCPU in SMM sees.
 */
#define KVM_ADDRESS_SPACE_NUM	2

struct kvm_memory_slot {
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	unsigned long *dirty_bitmap;	/* with KVM_MEM_LOG_DIRTY_PAGES */
	u32 flags;
	u16 id;
	u16 as_id;		/* the address space of the set it is in */
};

enum kvm_memslot_index {
	KVM_MEMSLOT_BY_GFN,
	KVM_MEMSLOT_BY_HVA,
	KVM_MEMSLOT_BY_ID,
	KVM_MEMSLOT_INDEXES
};

/* A node of one index: immutable once its set is published. */
struct kvm_memslot_node {
	struct kvm_memslot_node *child[2];	/* lower, higher keys */
	struct kvm_memory_slot *slot;
	u64 key;		/* base_gfn, userspace_addr or id; then id */
	u64 end;		/* the slot's end in the same unit */
	u64 max_end;		/* the largest end in this subtree */
	u64 gen;		/* the set that created the node */
	struct kvm_memslot_node *next;	/* on a change's list (writer only) */
	u16 id;
	u8 height;
};

/* Spare nodes and a spare set of a VM, for its changes (the writer's). */
#define KVM_MEMSLOT_POOL_NODES	256
struct kvm_memslots_pool {
	struct kvm_memslot_node *nodes;	/* linked by ->next */
	int nr;
	struct kvm_memslots *set;
};

struct kvm_memslots {
	struct kvm_memslot_node *root[KVM_MEMSLOT_INDEXES];
	int nr;
	u64 generation;		/* +1 for each set built from the one before */
	/* Until retired: the nodes made for this set, and those it replaced. */
	struct kvm_memslot_node *fresh, *stale;
	struct kvm_memslots_pool *pool;	/* shared by all sets of the VM */
};

enum kvm_mr_change {
	KVM_MR_NONE,		/* nothing to do */
	KVM_MR_CREATE,
	KVM_MR_DELETE,
	KVM_MR_MOVE,
	KVM_MR_FLAGS_ONLY,
};

/*
 * Validate a KVM_SET_USER_MEMORY_REGION request against the current set.
 * @max_gfn is the last guest frame the architecture can map: a slot created
 * or moved must end at or below it.  On success returns 0, the kind of
 * change, and the slot it replaces (if any).  Errors are Linux's: -EINVAL
 * for malformed requests or changes that are not allowed, -EEXIST for an
 * overlap with another slot.
 */
int kvm_memslot_check(const struct kvm_memslots *slots,
		      const struct kvm_userspace_memory_region *mem,
		      u32 valid_flags, gfn_t max_gfn,
		      enum kvm_mr_change *change,
		      struct kvm_memory_slot **old);

struct kvm_memory_slot *kvm_memslots_find_gfn(const struct kvm_memslots *slots,
					      gfn_t gfn);
struct kvm_memory_slot *kvm_memslots_find_id(const struct kvm_memslots *slots,
					     u16 id);
/* The slot of the lowest id at or above @id, or NULL: for walking a set. */
struct kvm_memory_slot *kvm_memslots_next_id(const struct kvm_memslots *slots,
					     unsigned int id);
/* The first slot (by guest frame) ending beyond @gfn, or NULL. */
struct kvm_memory_slot *kvm_memslots_next_gfn(const struct kvm_memslots *slots,
					      gfn_t gfn);
/*
 * Call @fn for every slot meeting host range [start, end), in host address
 * order (ties by id).  @fn must not sleep when the caller holds a spinlock.
 */
void kvm_memslots_for_each_hva(const struct kvm_memslots *slots,
			       unsigned long start, unsigned long end,
			       void (*fn)(const struct kvm_memory_slot *slot,
					  void *ctx),
			       void *ctx);

/* A new VM's empty set, or NULL when out of memory. */
struct kvm_memslots *kvm_memslots_alloc(void);
/*
 * Build the next set from @slots without @remove and with @add (either may
 * be NULL; @remove must be in @slots, @add's gfn range free of others).
 * Returns NULL when out of memory.  @slots stays valid for its readers and
 * shares most of its nodes with the new set: until the new set is either
 * retired against @slots (published, and @slots unreachable) or discarded
 * (never published), no other set may be built from @slots.
 */
struct kvm_memslots *kvm_memslots_replace(const struct kvm_memslots *slots,
					  const struct kvm_memory_slot *remove,
					  struct kvm_memory_slot *add);
/* A set from kvm_memslots_replace() that was never published. */
void kvm_memslots_discard(struct kvm_memslots *new);
/* @new replaced @old and no reader can reach @old any more: free @old. */
void kvm_memslots_retire(struct kvm_memslots *old, struct kvm_memslots *new);
/*
 * A set with no other left (retired against the one before, if any): free
 * all its nodes, not the slots themselves.
 */
void kvm_memslots_free(struct kvm_memslots *slots);

static inline unsigned long kvm_memslot_hva(const struct kvm_memory_slot *slot,
					    gfn_t gfn)
{
	return slot->userspace_addr + ((gfn - slot->base_gfn) << PAGE_SHIFT);
}

static inline unsigned long kvm_memslot_hva_end(const struct kvm_memory_slot *slot)
{
	return slot->userspace_addr + (slot->npages << PAGE_SHIFT);
}

/* Does @slot log the pages written (in its bitmap or the dirty ring)? */
static inline bool kvm_slot_dirty_logging(const struct kvm_memory_slot *slot)
{
	return slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
}

#endif /* _NKVM_MEMSLOT_H */
