/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the dirty ring (KVM_CAP_DIRTY_LOG_RING, virt/kvm/dirty_ring.c).
 *
 * With the ring enabled on a VM, every vCPU has an array of struct
 * kvm_dirty_gfn that userspace maps at KVM_DIRTY_LOG_PAGE_OFFSET of the
 * vCPU fd.  A page of a logging slot that the vCPU dirties is pushed as
 * (slot, offset) with flags DIRTY; userspace harvests the entry and sets
 * RESET; KVM_RESET_DIRTY_RINGS recycles the harvested entries and
 * write-protects their pages again.  When a ring holds more than its soft
 * limit (the size less KVM_DIRTY_RING_RSVD_ENTRIES), the vCPU does not
 * enter the guest: KVM_RUN returns with KVM_EXIT_DIRTY_RING_FULL.
 */
#ifndef _NKVM_DIRTY_RING_H
#define _NKVM_DIRTY_RING_H

#include <linux/types.h>
#include <uapi/linux/kvm.h>

/* Entries kept free beyond the soft limit, and the largest ring (Linux's). */
#define KVM_DIRTY_RING_RSVD_ENTRIES	64
#define KVM_DIRTY_RING_MAX_ENTRIES	65536

struct kvm;
struct kvm_vcpu;
struct kvm_memory_slot;

struct kvm_dirty_ring {
	struct kvm_dirty_gfn *gfns;	/* nr entries, vmalloc'ed */
	u32 nr;				/* a power of two; 0: no ring */
	u32 dirty_index;		/* next entry to push (the vCPU's) */
	u32 reset_index;		/* next entry to recycle (RESET's) */
};

/* KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING[_ACQ_REL]) with @bytes. */
int kvm_dirty_ring_enable(struct kvm *kvm, u64 bytes);
/* KVM_CHECK_EXTENSION: the largest ring in bytes. */
static inline long kvm_dirty_ring_cap(void)
{
	return KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn);
}

int kvm_dirty_ring_alloc(struct kvm_vcpu *vcpu);
void kvm_dirty_ring_free(struct kvm_vcpu *vcpu);
/* The page of the ring at @pgoff (from KVM_DIRTY_LOG_PAGE_OFFSET), or NULL. */
struct page *kvm_dirty_ring_page(struct kvm_vcpu *vcpu, unsigned long pgoff);
/* Does @pgoff of a vCPU fd fall in the ring? */
bool kvm_dirty_ring_pgoff(struct kvm *kvm, unsigned long pgoff);

/* True when the vCPU must not enter the guest (KVM_EXIT_DIRTY_RING_FULL). */
bool kvm_dirty_ring_soft_full(struct kvm_vcpu *vcpu);

/* KVM_RESET_DIRTY_RINGS: the number of entries recycled, or an errno. */
int kvm_dirty_ring_reset_all(struct kvm *kvm);

/*
 * Record that @gfn of @slot was written: in the running vCPU's ring, or in
 * the slot's bitmap, if the slot logs dirty pages.
 */
void kvm_mark_page_dirty(struct kvm *kvm, const struct kvm_memory_slot *slot,
			 gfn_t gfn);

/* The vCPU loaded on this CPU (inside KVM_RUN), or NULL. */
struct kvm_vcpu *kvm_running_vcpu(void);

#endif /* _NKVM_DIRTY_RING_H */
