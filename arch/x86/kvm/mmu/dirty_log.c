// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG.
 *
 * A slot with KVM_MEM_LOG_DIRTY_PAGES has a bitmap of its pages (twice
 * the size: the second half is scratch for the ioctls).  A page faulted in
 * is mapped writable and its bit set at once, as on Linux; a page mapped
 * already is write-protected, and its write fault sets the bit and maps it
 * writable again (mmu.c).  Reporting or clearing a bit
 * write-protects the page again, under mmu->lock, and every vCPU flushes
 * its TLB before the ioctl returns, so that no write after it goes
 * unlogged.
 *
 * Without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_GET_DIRTY_LOG reports and
 * clears; with it, KVM_GET_DIRTY_LOG only reports and KVM_CLEAR_DIRTY_LOG
 * clears the bits userspace names.  With the dirty ring (virt/kvm/
 * dirty_ring.c) slots have no bitmap and both ioctls fail with -ENXIO; the
 * ring's reset write-protects through kvm_arch_dirty_log_protect().  The
 * errnos are Linux's.
 */
#include <linux/bitops.h>
#include <linux/uaccess.h>

#include "mmu_internal.h"

/* Write-protect the pages of @slot whose bits are set in @mask. */
static bool kvm_mmu_wrprot_mask(struct kvm_tdp_mmu *mmu,
				const struct kvm_memory_slot *slot,
				gfn_t offset, unsigned long mask)
{
	gfn_t base = slot->base_gfn + offset;
	bool changed = false;

	lockdep_assert_held(&mmu->lock);
	while (mask) {
		unsigned int start = __ffs(mask), end = start;

		/* One walk per run of set bits. */
		while (end < BITS_PER_LONG && (mask & BIT(end)))
			end++;
		if (tdp_wrprot_range(&mmu->core, base + start, base + end))
			changed = true;
		mask = end < BITS_PER_LONG ? mask & (~0UL << end) : 0;
	}
	return changed;
}

bool kvm_arch_dirty_log_protect(struct kvm *kvm,
				const struct kvm_memory_slot *slot,
				u64 offset, unsigned long mask)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	bool changed;

	spin_lock(&mmu->lock);
	changed = kvm_mmu_wrprot_mask(mmu, slot, offset, mask);
	spin_unlock(&mmu->lock);
	return changed;
}

void kvm_arch_flush_remote_tlbs(struct kvm *kvm)
{
	kvm_mmu_flush_remote(kvm);
}

/* The logged slot @log_slot names, or an errno; slots_lock held. */
static struct kvm_memory_slot *kvm_dirty_log_slot(struct kvm *kvm,
						  u32 log_slot)
{
	u16 as_id = log_slot >> 16, id = (u16)log_slot;
	struct kvm_memory_slot *slot;

	/* The ring and the bitmaps exclude each other. */
	if (READ_ONCE(kvm->dirty_ring_size))
		return ERR_PTR(-ENXIO);

	if (as_id >= KVM_ADDRESS_SPACE_NUM || id >= KVM_USER_MEM_SLOTS)
		return ERR_PTR(-EINVAL);
	slot = kvm_memslots_find_id(__kvm_memslots(kvm, as_id), id);
	if (!slot || !slot->dirty_bitmap)
		return ERR_PTR(-ENOENT);
	return slot;
}

static int kvm_get_dirty_log_locked(struct kvm *kvm, struct kvm_dirty_log *log)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	unsigned long *bitmap, *snap, n, i;
	struct kvm_memory_slot *slot;
	bool flush = false;

	slot = kvm_dirty_log_slot(kvm, log->slot);
	if (IS_ERR(slot))
		return PTR_ERR(slot);
	bitmap = slot->dirty_bitmap;
	n = kvm_dirty_bitmap_bytes(slot);

	if (READ_ONCE(kvm->manual_dirty_log_protect)) {
		snap = bitmap;
	} else {
		snap = bitmap + n / sizeof(long);
		memset(snap, 0, n);
		spin_lock(&mmu->lock);
		for (i = 0; i < n / sizeof(long); i++) {
			unsigned long mask;

			if (!READ_ONCE(bitmap[i]))
				continue;
			mask = xchg(&bitmap[i], 0);
			snap[i] = mask;
			if (kvm_mmu_wrprot_mask(mmu, slot, i * BITS_PER_LONG,
						mask))
				flush = true;
		}
		spin_unlock(&mmu->lock);
		if (flush)
			kvm_mmu_flush_remote(kvm);
	}
	return copy_to_user(log->dirty_bitmap, snap, n) ? -EFAULT : 0;
}

int kvm_mmu_get_dirty_log(struct kvm *kvm, struct kvm_dirty_log *log)
{
	int r;

	mutex_lock(&kvm->slots_lock);
	r = kvm_get_dirty_log_locked(kvm, log);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

static int kvm_clear_dirty_log_locked(struct kvm *kvm,
				      struct kvm_clear_dirty_log *log)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	unsigned long *bitmap, *buf, n, i, k;
	struct kvm_memory_slot *slot;
	bool flush = false;

	slot = kvm_dirty_log_slot(kvm, log->slot);
	if (PTR_ERR_OR_ZERO(slot) == -EINVAL || PTR_ERR_OR_ZERO(slot) == -ENXIO)
		return PTR_ERR(slot);
	if (log->first_page & 63)
		return -EINVAL;
	if (IS_ERR(slot))
		return PTR_ERR(slot);
	/* Whole words only, except at the end of the slot. */
	if (log->first_page > slot->npages ||
	    log->num_pages > slot->npages - log->first_page ||
	    (log->num_pages < slot->npages - log->first_page &&
	     (log->num_pages & 63)))
		return -EINVAL;

	bitmap = slot->dirty_bitmap;
	buf = bitmap + kvm_dirty_bitmap_bytes(slot) / sizeof(long);
	n = DIV_ROUND_UP(log->num_pages, BITS_PER_LONG);
	if (copy_from_user(buf, log->dirty_bitmap, n * sizeof(long)))
		return -EFAULT;

	spin_lock(&mmu->lock);
	for (k = 0, i = log->first_page / BITS_PER_LONG; k < n; k++, i++) {
		unsigned long mask = buf[k];

		if (!mask)
			continue;
		/* Only bits that were set: never beyond the slot's end. */
		mask &= atomic_long_fetch_andnot(mask,
						 (atomic_long_t *)&bitmap[i]);
		if (mask && kvm_mmu_wrprot_mask(mmu, slot, i * BITS_PER_LONG,
						mask))
			flush = true;
	}
	spin_unlock(&mmu->lock);
	if (flush)
		kvm_mmu_flush_remote(kvm);
	return 0;
}

int kvm_mmu_clear_dirty_log(struct kvm *kvm, struct kvm_clear_dirty_log *log)
{
	int r;

	mutex_lock(&kvm->slots_lock);
	r = kvm_clear_dirty_log_locked(kvm, log);
	mutex_unlock(&kvm->slots_lock);
	return r;
}
