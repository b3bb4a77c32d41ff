/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the MMU's state, shared by mmu.c and dirty_log.c only.
 */
#ifndef _NKVM_MMU_INTERNAL_H
#define _NKVM_MMU_INTERNAL_H

#include <linux/cpumask.h>
#include <linux/mmu_notifier.h>
#include <linux/spinlock.h>

#include "../hyperv_flush.h"
#include "../x86.h"
#include "tdp.h"

/* Linux's defaults for the page budget. */
#define KVM_MIN_ALLOC_MMU_PAGES			64UL
#define KVM_MEMSLOT_PAGES_TO_MMU_PAGES_RATIO	50

struct kvm_tdp_mmu {
	/*
	 * Protects the tables, the core's hash, lists and counters, and the
	 * notifier's sequence.  Nothing allocates or sleeps under it.
	 */
	spinlock_t lock;
	struct tdp_mmu core;
	struct kvm *kvm;

	/* KVM_SET_NR_MMU_PAGES; changed under kvm->slots_lock. */
	unsigned long n_max_pages;	/* what KVM_GET_NR_MMU_PAGES reports */
	bool n_requested;		/* set by userspace: no default */
	bool nx_disabled;		/* KVM_CAP_VM_DISABLE_NX_HUGE_PAGES */
	unsigned long nr_memslot_pages;	/* for the default */

	/* The notifier on the VMM's address space. */
	struct mmu_notifier mn;
	struct mm_struct *mm;
	unsigned long mn_seq;		/* bumped when an invalidation ends */
	long mn_active;			/* invalidations in progress */
	unsigned long mn_start;		/* the union of their host ranges */
	unsigned long mn_end;
	bool mn_registered;

	/*
	 * A slot being deleted or moved: no longer published, maybe still
	 * mapped until its range is zapped.  npages == 0: none.
	 */
	struct kvm_memory_slot zombie;

	/* Remote flushes: the CPUs to kick, under flush_lock. */
	spinlock_t flush_lock;
	cpumask_var_t flush_cpus;
	/* Under Hyper-V: flushes by hypercall, the vCPUs' common root. */
	bool hv_flush;
	struct hv_flush_tracker hv;	/* under flush_lock */

	struct list_head vm_link;	/* on kvm_mmu_vms, for the shrinker */
	struct hlist_head hash[TDP_HASH_SIZE];
};

/*
 * After the lock is dropped: flush the TLBs of every vCPU (and make them
 * reload their roots) if @zap says so, then free the pages, or recycle
 * them into @cache while it has room.
 */
void kvm_mmu_commit_zap(struct kvm *kvm, struct tdp_zap *zap,
			struct tdp_cache *cache);
/* Make every vCPU flush its TLB before it enters the guest again. */
void kvm_mmu_flush_remote(struct kvm *kvm);

/* dirty_log.c */
int kvm_mmu_get_dirty_log(struct kvm *kvm, struct kvm_dirty_log *log);
int kvm_mmu_clear_dirty_log(struct kvm *kvm, struct kvm_clear_dirty_log *log);

#endif /* _NKVM_MMU_INTERNAL_H */
