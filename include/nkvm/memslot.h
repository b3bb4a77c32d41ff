/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: memslot sets.
 *
 * A memslot set is an immutable snapshot: an array of slots sorted by guest
 * frame number, published under RCU (SRCU in the VM) and replaced as a whole
 * on every change.  Lookups by gfn are a binary search.  A second index
 * sorts the slots by host address (slots may share host memory), with the
 * largest host end so far, so that the MMU notifier finds the slots of a
 * host range in O(log n + the slots it meets).  This file and
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

struct kvm_memory_slot {
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	unsigned long *dirty_bitmap;	/* with KVM_MEM_LOG_DIRTY_PAGES */
	u32 flags;
	u16 id;
};

struct kvm_memslots {
	int nr;
	/* nr each, in the same allocation: */
	struct kvm_memory_slot **by_hva;	/* sorted by userspace_addr */
	unsigned long *hva_end;			/* max end of by_hva[0..i] */
	struct kvm_memory_slot *slots[];	/* sorted by base_gfn */
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
/*
 * The last index of by_hva whose slot starts below @end, or -1.  The slots
 * meeting host range [start, end) are among by_hva[i] for i from there
 * down while hva_end[i] > start.
 */
int kvm_memslots_hva_last(const struct kvm_memslots *slots, unsigned long end);

/*
 * Build a new set from @slots without @remove and with @add (either may be
 * NULL).  Returns NULL when out of memory.  @slots is left untouched.
 */
struct kvm_memslots *kvm_memslots_replace(const struct kvm_memslots *slots,
					  const struct kvm_memory_slot *remove,
					  struct kvm_memory_slot *add);
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
