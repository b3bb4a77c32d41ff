// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest-physical map for two-dimensional paging (NPT and EPT).
 *
 * A four-level table per VM, filled on demand from the memslots when the
 * guest touches a page.  Only the bits of an entry differ between vendors
 * (struct kvm_tdp_format).  Guest pages are pinned while mapped and unpinned
 * when their mapping is zapped.
 *
 * Zapping swaps in an empty root, makes every vCPU flush its TLB (waiting
 * until none can still be walking the old tables), and only then frees the
 * old tree.  The old root becomes the spare for the next zap, so zapping
 * never needs to allocate.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/io.h>

#include "../x86.h"

#define TDP_LEVELS		4
#define TDP_ENTRIES		512
#define TDP_ADDR_MASK		GENMASK_ULL(51, 12)

static unsigned int tdp_index(gpa_t gpa, int level)
{
	return (gpa >> (PAGE_SHIFT + 9 * (level - 1))) & (TDP_ENTRIES - 1);
}

static u64 *tdp_table(u64 entry)
{
	return __va(entry & TDP_ADDR_MASK);
}

/*
 * The two roots are one order-1 allocation; the one not in use is the
 * zeroed spare that the next zap swaps in.
 */
static u64 *tdp_spare_root(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = &kvm->arch.mmu;

	return mmu->root == mmu->roots[0] ? mmu->roots[1] : mmu->roots[0];
}

int kvm_mmu_init_vm(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = &kvm->arch.mmu;
	u64 *pages;

	pages = (u64 *)__get_free_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, 1);
	if (!pages)
		return -ENOMEM;
	spin_lock_init(&mmu->lock);
	mmu->roots[0] = pages;
	mmu->roots[1] = pages + TDP_ENTRIES;
	mmu->root = mmu->roots[0];
	mmu->root_pa = __pa(mmu->root);
	return 0;
}

static void tdp_free_tree(struct kvm *kvm, u64 *table, int level)
{
	const struct kvm_tdp_format *fmt = kvm_x86_ops->tdp;
	int i;

	for (i = 0; i < TDP_ENTRIES; i++) {
		u64 e = table[i];

		if (!(e & fmt->present_mask))
			continue;
		table[i] = 0;
		if (level > 1) {
			tdp_free_tree(kvm, tdp_table(e), level - 1);
			free_page((unsigned long)tdp_table(e));
			kvm->arch.mmu.nr_tables--;
		} else {
			struct page *page = pfn_to_page((e & TDP_ADDR_MASK) >> PAGE_SHIFT);

			/* Mapped writable: the guest may have written it. */
			SetPageDirty(page);
			unpin_user_page(page);
		}
	}
}

/* Caller holds slots_lock, or is destroying the VM. */
void kvm_mmu_zap_all(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = &kvm->arch.mmu;
	u64 *old;

	spin_lock(&mmu->lock);
	old = mmu->root;
	mmu->root = tdp_spare_root(kvm);
	WRITE_ONCE(mmu->root_pa, __pa(mmu->root));
	spin_unlock(&mmu->lock);

	/* No vCPU may walk the old tables once this returns. */
	kvm_make_all_vcpus_request(kvm, KVM_REQ_TLB_FLUSH);

	tdp_free_tree(kvm, old, TDP_LEVELS);
}

void kvm_mmu_destroy_vm(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = &kvm->arch.mmu;

	if (!mmu->roots[0])
		return;
	tdp_free_tree(kvm, mmu->root, TDP_LEVELS);
	free_pages((unsigned long)mmu->roots[0], 1);
	mmu->roots[0] = NULL;
}

static int mmu_cache_topup(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	while (arch->mmu_cache_nr < TDP_LEVELS - 1) {
		void *page = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		arch->mmu_cache[arch->mmu_cache_nr++] = page;
	}
	return 0;
}

/*
 * Map one guest frame.  Returns 0 when mapped (or already mapped by someone
 * else), -ENOENT when no memslot covers it (MMIO), or an error.
 */
int kvm_mmu_map_gfn(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	const struct kvm_tdp_format *fmt = kvm_x86_ops->tdp;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_tdp_mmu *mmu = &kvm->arch.mmu;
	struct kvm_memory_slot *slot;
	gpa_t gpa = gfn << PAGE_SHIFT;
	struct page *page;
	u64 *table, *e;
	int level, r;

	slot = kvm_gfn_to_memslot(kvm, gfn);
	if (!slot)
		return -ENOENT;

	r = mmu_cache_topup(vcpu);
	if (r)
		return r;

	/*
	 * The slot stays valid: the caller holds kvm->srcu.  (6.1 refuses
	 * FOLL_LONGTERM in the unlocked variant.)
	 */
	r = pin_user_pages_unlocked(kvm_memslot_hva(slot, gfn), 1, &page,
				    FOLL_WRITE);
	if (r != 1)
		return -EFAULT;

	spin_lock(&mmu->lock);
	table = mmu->root;
	for (level = TDP_LEVELS; level > 1; level--) {
		e = &table[tdp_index(gpa, level)];
		if (!(*e & fmt->present_mask)) {
			u64 *child = vcpu->arch.mmu_cache[--vcpu->arch.mmu_cache_nr];

			WRITE_ONCE(*e, __pa(child) | fmt->table_bits);
			mmu->nr_tables++;
		}
		table = tdp_table(*e);
	}

	e = &table[tdp_index(gpa, 1)];
	if (*e & fmt->present_mask) {
		/* Another vCPU mapped it first. */
		spin_unlock(&mmu->lock);
		unpin_user_page(page);
		return 0;
	}
	WRITE_ONCE(*e, page_to_phys(page) | fmt->leaf_bits);
	spin_unlock(&mmu->lock);
	return 0;
}
