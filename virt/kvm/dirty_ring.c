// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the dirty ring (KVM_CAP_DIRTY_LOG_RING, see <nkvm/dirty_ring.h>).
 *
 * Each vCPU owns its ring.  Only the vCPU's own thread pushes (inside
 * KVM_RUN, under vcpu->mutex), and only KVM_RESET_DIRTY_RINGS recycles
 * (under kvm->slots_lock), so the two indexes have one writer each.  An
 * entry is free when its flags are 0: the pusher fills slot and offset,
 * then publishes flags = DIRTY; userspace sets RESET once it has read the
 * entry; the reset clears the flags, then moves reset_index past it.  The
 * pusher sees a recycled entry only through reset_index (acquire), after
 * its flags were cleared.
 *
 * Harvested entries are write-protected again by the MMU in batches: runs
 * of offsets of one slot within 64 pages share one call.
 */
#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include <nkvm/kvm_host.h>

int kvm_dirty_ring_enable(struct kvm *kvm, u64 bytes)
{
	int r = 0;

	if (!bytes || (bytes & (bytes - 1)))
		return -EINVAL;
	if (bytes < PAGE_SIZE ||
	    bytes < KVM_DIRTY_RING_RSVD_ENTRIES * sizeof(struct kvm_dirty_gfn))
		return -EINVAL;
	if (bytes > kvm_dirty_ring_cap())
		return -E2BIG;

	/* Once, and before the first vCPU (which gets its ring at creation). */
	mutex_lock(&kvm->lock);
	if (kvm->dirty_ring_size || kvm->created_vcpus)
		r = -EINVAL;
	else
		WRITE_ONCE(kvm->dirty_ring_size, bytes);
	mutex_unlock(&kvm->lock);
	return r;
}

int kvm_dirty_ring_alloc(struct kvm_vcpu *vcpu)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;
	u32 bytes = READ_ONCE(vcpu->kvm->dirty_ring_size);

	if (!bytes)
		return 0;
	ring->gfns = __vmalloc(bytes, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!ring->gfns)
		return -ENOMEM;
	ring->nr = bytes / sizeof(struct kvm_dirty_gfn);
	return 0;
}

void kvm_dirty_ring_free(struct kvm_vcpu *vcpu)
{
	vfree(vcpu->dirty_ring.gfns);
	vcpu->dirty_ring.gfns = NULL;
	vcpu->dirty_ring.nr = 0;
}

bool kvm_dirty_ring_pgoff(struct kvm *kvm, unsigned long pgoff)
{
	return pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET &&
	       pgoff - KVM_DIRTY_LOG_PAGE_OFFSET <
	       READ_ONCE(kvm->dirty_ring_size) / PAGE_SIZE;
}

struct page *kvm_dirty_ring_page(struct kvm_vcpu *vcpu, unsigned long pgoff)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;

	if (!ring->gfns || pgoff >= ring->nr * sizeof(*ring->gfns) / PAGE_SIZE)
		return NULL;
	return vmalloc_to_page((void *)ring->gfns + pgoff * PAGE_SIZE);
}

static u32 kvm_dirty_ring_used(const struct kvm_dirty_ring *ring)
{
	/* Pairs with the release in kvm_dirty_ring_reset(). */
	return READ_ONCE(ring->dirty_index) - smp_load_acquire(&ring->reset_index);
}

bool kvm_dirty_ring_soft_full(struct kvm_vcpu *vcpu)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;

	return ring->nr &&
	       kvm_dirty_ring_used(ring) >= ring->nr - KVM_DIRTY_RING_RSVD_ENTRIES;
}

/*
 * Push (slot, offset).  The soft limit stops the vCPU long before the ring
 * fills up; should it ever be full, the entry is dropped rather than
 * overwriting one userspace has not harvested.
 */
static void kvm_dirty_ring_push(struct kvm_vcpu *vcpu, u32 slot, u64 offset)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;
	struct kvm_dirty_gfn *e;

	if (kvm_dirty_ring_used(ring) >= ring->nr)
		return;
	e = &ring->gfns[ring->dirty_index & (ring->nr - 1)];
	WRITE_ONCE(e->slot, slot);
	WRITE_ONCE(e->offset, offset);
	/* Userspace reads slot and offset after it saw DIRTY (acquire). */
	smp_store_release(&e->flags, KVM_DIRTY_GFN_F_DIRTY);
	WRITE_ONCE(ring->dirty_index, ring->dirty_index + 1);
}

void kvm_mark_page_dirty(struct kvm *kvm, const struct kvm_memory_slot *slot,
			 gfn_t gfn)
{
	if (!kvm_slot_dirty_logging(slot))
		return;
	if (READ_ONCE(kvm->dirty_ring_size)) {
		struct kvm_vcpu *vcpu = kvm_running_vcpu();

		/* Outside a vCPU there is no ring to push to (as on Linux). */
		if (vcpu && vcpu->kvm == kvm && vcpu->dirty_ring.nr)
			kvm_dirty_ring_push(vcpu, (u32)slot->as_id << 16 | slot->id,
					    gfn - slot->base_gfn);
	} else if (slot->dirty_bitmap) {
		set_bit_le(gfn - slot->base_gfn, slot->dirty_bitmap);
	}
}

/* A run of harvested pages of one slot: offsets base + set bits of mask. */
struct kvm_dirty_batch {
	u32 slot;
	u64 base;
	unsigned long mask;
};

/* Write-protect the batch's pages again; true if any mapping changed. */
static bool kvm_dirty_batch_protect(struct kvm *kvm,
				    const struct kvm_dirty_batch *b)
{
	struct kvm_memory_slot *slot;

	/* Stale or bogus entries go. */
	if (!b->mask || b->slot >> 16 >= KVM_ADDRESS_SPACE_NUM)
		return false;
	slot = kvm_memslots_find_id(__kvm_memslots(kvm, b->slot >> 16),
				    (u16)b->slot);
	if (!slot || !kvm_slot_dirty_logging(slot) ||
	    b->base >= slot->npages ||
	    __fls(b->mask) >= slot->npages - b->base)
		return false;
	return kvm_arch_dirty_log_protect(kvm, slot, b->base, b->mask);
}

/* Recycle the vCPU's harvested entries, in order; kvm->slots_lock held. */
static u32 kvm_dirty_ring_reset(struct kvm *kvm, struct kvm_dirty_ring *ring,
				bool *flush)
{
	struct kvm_dirty_batch b = { .mask = 0 };
	u32 idx = ring->reset_index, n = 0;

	lockdep_assert_held(&kvm->slots_lock);
	/* Never past what was pushed, whatever userspace wrote. */
	while (idx != READ_ONCE(ring->dirty_index)) {
		struct kvm_dirty_gfn *e = &ring->gfns[idx & (ring->nr - 1)];
		u32 slot;
		u64 off;

		if (!(smp_load_acquire(&e->flags) & KVM_DIRTY_GFN_F_RESET))
			break;
		slot = READ_ONCE(e->slot);
		off = READ_ONCE(e->offset);
		WRITE_ONCE(e->flags, 0);
		idx++;
		n++;

		if (b.mask && slot == b.slot && off >= b.base &&
		    off - b.base < BITS_PER_LONG) {
			b.mask |= BIT(off - b.base);
			continue;
		}
		if (kvm_dirty_batch_protect(kvm, &b))
			*flush = true;
		b = (struct kvm_dirty_batch){ .slot = slot, .base = off,
					      .mask = 1 };
	}
	if (kvm_dirty_batch_protect(kvm, &b))
		*flush = true;
	/* The entries are free (flags 0) before the pusher may reuse them. */
	smp_store_release(&ring->reset_index, idx);
	return n;
}

int kvm_dirty_ring_reset_all(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	bool flush = false;
	unsigned long i;
	u32 n = 0;

	if (!READ_ONCE(kvm->dirty_ring_size))
		return -EINVAL;

	mutex_lock(&kvm->slots_lock);
	kvm_for_each_vcpu(i, vcpu, kvm)
		if (vcpu->dirty_ring.nr)
			n += kvm_dirty_ring_reset(kvm, &vcpu->dirty_ring,
						  &flush);
	mutex_unlock(&kvm->slots_lock);

	/* No write may reach a page userspace recycled without faulting. */
	if (flush)
		kvm_arch_flush_remote_tlbs(kvm);
	return min_t(u32, n, INT_MAX);
}
