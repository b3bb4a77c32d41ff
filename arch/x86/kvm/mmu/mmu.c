// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest-physical map for two-dimensional paging (NPT, EPT).
 *
 * The tables and their bookkeeping are tdp.c's (pure logic, unit-tested
 * in userspace); this file connects them to the host and the vCPUs:
 *
 *  - faults: the memslot, the host page (through GUP, but not pinned: the
 *    MMU notifier keeps the map coherent with the VMM's address space),
 *    the mapping level (2 MiB and 1 GiB where the slot and the host's own
 *    mapping allow), read-only slots and the dirty log;
 *  - the MMU notifier: munmap, migration, KSM, swap, THP splits and
 *    collapses first unmap the guest frames of the host range.  A fault
 *    that got its host page while an invalidation of it was running, or
 *    before one that has run since, does not map it (the sequence check);
 *  - roots: a vCPU holds a reference on the root it runs on and reloads it
 *    before entering the guest when it was zapped;
 *  - flushes: pages taken off the map are freed, or recycled into the
 *    faulting vCPU's cache, only once every vCPU has left the guest and
 *    will flush its TLB before entering it again; under Hyper-V, a flush
 *    without a root reload is instead one guest-mapping flush hypercall
 *    per distinct vCPU root (hyperv_flush.h keeps the common root);
 *  - the page budget (KVM_SET_NR_MMU_PAGES, by default 2% of the memslots'
 *    pages, at least 64) and a shrinker for the host's memory pressure;
 *  - NX huge pages (the iTLB multihit mitigation, Linux's parameters):
 *    huge leaves are not executable, a fetch maps 4 KiB, and a periodic
 *    recovery zaps the tables made for fetches so huge leaves come back.
 *
 * Locking: mmu->lock protects the map (see mmu_internal.h); nothing
 * allocates or sleeps under it.  kvm->slots_lock serialises memslot
 * changes, the budget and the dirty log.  The VM list of the shrinker has
 * its own mutex, taken before mmu->lock.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/cpu.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#if IS_ENABLED(CONFIG_HYPERV)
#include <asm/hypervisor.h>
#include <asm/mshyperv.h>
#endif

#include "mmu_internal.h"

static unsigned long min_mmu_pages = KVM_MIN_ALLOC_MMU_PAGES;
module_param(min_mmu_pages, ulong, 0644);
MODULE_PARM_DESC(min_mmu_pages,
		 "Smallest KVM_SET_NR_MMU_PAGES accepted, 1 to 64 (Linux: 64)");

/* Every VM's MMU, for the shrinker; the next to shrink first. */
static LIST_HEAD(kvm_mmu_vms);
static DEFINE_MUTEX(kvm_mmu_vms_lock);

/* ---- Table pages ------------------------------------------------------- */

static struct kvm_mmu_page *kvm_mmu_alloc_page(void)
{
	struct kvm_mmu_page *sp = kzalloc(sizeof(*sp), GFP_KERNEL_ACCOUNT);

	if (!sp)
		return NULL;
	sp->spt = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!sp->spt) {
		kfree(sp);
		return NULL;
	}
	set_page_private(virt_to_page(sp->spt), (unsigned long)sp);
	return sp;
}

static void kvm_mmu_free_page(struct kvm_mmu_page *sp)
{
	set_page_private(virt_to_page(sp->spt), 0);
	free_page((unsigned long)sp->spt);
	kfree(sp);
}

/* Fill the vCPU's cache (outside the lock) for one fault or root load. */
static int kvm_mmu_topup(struct kvm_vcpu *vcpu)
{
	struct tdp_cache *cache = vcpu->arch.mmu.cache;

	if (!cache) {
		cache = kzalloc(sizeof(*cache), GFP_KERNEL_ACCOUNT);
		if (!cache)
			return -ENOMEM;
		vcpu->arch.mmu.cache = cache;
	}
	while (cache->nr < TDP_CACHE_MIN) {
		struct kvm_mmu_page *sp = kvm_mmu_alloc_page();

		if (!sp)
			return -ENOMEM;
		cache->pages[cache->nr++] = sp;
	}
	return 0;
}

/*
 * Called by the core, under mmu->lock, for each writable leaf it zaps or
 * write-protects: the guest may have written the page.  The host still
 * maps the page (the notifier unmaps ours first), so it is alive.
 */
void tdp_leaf_written(struct tdp_mmu *core, u64 spte, int level)
{
	unsigned long pfn = tdp_spte_pfn(spte);
	struct page *page;

	if (!pfn_valid(pfn))
		return;
	page = pfn_to_page(pfn);
	if (!PageReserved(page) && !is_zone_device_page(page))
		SetPageDirty(page);
}

/* ---- Flushes ----------------------------------------------------------- */

static void kvm_mmu_ack(void *unused)
{
}

bool nkvm_mmu_hv_flush_usable(void)
{
#if IS_ENABLED(CONFIG_HYPERV)
	return kvm_x86_ops->hv_guest_mapping_flush &&
	       x86_hyper_type == X86_HYPER_MS_HYPERV &&
	       (ms_hyperv.nested_features & HV_X64_NESTED_GUEST_MAPPING_FLUSH);
#else
	return false;
#endif
}
EXPORT_SYMBOL_GPL(nkvm_mmu_hv_flush_usable);

static int kvm_mmu_hv_flush_root(void *ctx, u64 root)
{
#if IS_ENABLED(CONFIG_HYPERV)
	return hyperv_flush_guest_mapping(root);
#else
	return -EOPNOTSUPP;
#endif
}

static u64 kvm_mmu_hv_vcpu_root(void *vm, unsigned int i)
{
	struct kvm *kvm = vm;
	struct kvm_vcpu *vcpu = xa_load(&kvm->vcpus, i);

	return vcpu ? vcpu->arch.mmu.hv_root : HV_FLUSH_ROOT_NONE;
}

/* A vCPU now runs on @root_pa (0: none): tell the Hyper-V tracker. */
static void kvm_mmu_hv_root_loaded(struct kvm_vcpu *vcpu, u64 root_pa)
{
	struct kvm_tdp_mmu *mmu = vcpu->kvm->arch.mmu;

	if (!mmu->hv_flush)
		return;
	spin_lock(&mmu->flush_lock);
	nkvm_hv_flush_root_loaded(&mmu->hv, &vcpu->arch.mmu.hv_root, root_pa);
	spin_unlock(&mmu->flush_lock);
}

/*
 * Post a TLB flush (and a root reload) to every vCPU, and wait until none
 * is still in the guest without having seen it: a vCPU checks its requests
 * after it set IN_GUEST_MODE, and one already inside exits for the IPI.
 * Neither allocates nor sleeps: notifiers and the shrinker use it.
 */
static void kvm_mmu_kick_all(struct kvm *kvm, bool reload)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	struct kvm_vcpu *vcpu;
	unsigned long i;

	spin_lock(&mmu->flush_lock);
	kvm->stat.generic.remote_tlb_flush_requests++;
	/*
	 * Under Hyper-V the hypercall flushes each root for every CPU: no
	 * vCPU needs to leave the guest (a reload still needs the kicks).
	 */
	if (!reload && mmu->hv_flush &&
	    !nkvm_hv_flush_remote(&mmu->hv, kvm, kvm_mmu_hv_vcpu_root,
				  atomic_read(&kvm->nr_vcpus))) {
		kvm->stat.generic.remote_tlb_flush++;
		spin_unlock(&mmu->flush_lock);
		return;
	}
	cpumask_clear(mmu->flush_cpus);
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (reload)
			kvm_make_request(vcpu, KVM_REQ_MMU_RELOAD);
		kvm_make_request(vcpu, KVM_REQ_TLB_FLUSH);
		smp_mb__after_atomic();
		if (READ_ONCE(vcpu->mode) == IN_GUEST_MODE)
			cpumask_set_cpu(READ_ONCE(vcpu->cpu), mmu->flush_cpus);
	}
	/* As on Linux, a flush counts when it had to interrupt a vCPU. */
	if (cpumask_any_but(mmu->flush_cpus, smp_processor_id()) < nr_cpu_ids)
		kvm->stat.generic.remote_tlb_flush++;
	smp_call_function_many(mmu->flush_cpus, kvm_mmu_ack, NULL, true);
	spin_unlock(&mmu->flush_lock);
}

void kvm_mmu_flush_remote(struct kvm *kvm)
{
	kvm_mmu_kick_all(kvm, false);
}

void kvm_mmu_commit_zap(struct kvm *kvm, struct tdp_zap *zap,
			struct tdp_cache *cache)
{
	struct kvm_mmu_page *sp, *tmp;

	if (zap->flush || zap->reload)
		kvm_mmu_kick_all(kvm, zap->reload);
	list_for_each_entry_safe(sp, tmp, &zap->pages, link) {
		list_del(&sp->link);
		if (cache && cache->nr < TDP_CACHE_SIZE) {
			clear_page(sp->spt);
			cache->pages[cache->nr++] = sp;
		} else {
			kvm_mmu_free_page(sp);
		}
	}
}

void kvm_mmu_zap_all(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	struct tdp_zap zap;

	tdp_zap_init(&zap);
	spin_lock(&mmu->lock);
	tdp_zap_all(&mmu->core, &zap);
	spin_unlock(&mmu->lock);
	kvm_mmu_commit_zap(kvm, &zap, NULL);
}

void kvm_mmu_read_stats(struct kvm *kvm, struct kvm_mmu_stats *st)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;

	spin_lock(&mmu->lock);
	*st = (struct kvm_mmu_stats) {
		.pages = mmu->core.nr_pages,
		.pages_4k = mmu->core.nr_leaves[0],
		.pages_2m = mmu->core.nr_leaves[1],
		.pages_1g = mmu->core.nr_leaves[2],
		.pages_created = mmu->core.stats.pages_created,
		.pages_zapped = mmu->core.stats.pages_zapped,
		.pages_recycled = mmu->core.stats.pages_recycled,
		.pages_shrunk = mmu->core.stats.pages_shrunk,
		.nx_lpage_splits = mmu->core.nr_nx_splits,
	};
	spin_unlock(&mmu->lock);
}

/* ---- NX huge pages ----------------------------------------------------- */

/*
 * Linux's parameters and their meaning.  nx_huge_pages: huge leaves are
 * not executable (-1 until the module resolves "auto": on where the CPU
 * has the iTLB multihit bug, which AMD CPUs do not; "never" turns it off
 * for good, before any VM exists).  Every nx_huge_pages_recovery_period_ms
 * (0: an hour divided by the ratio, at least a second), 1/ratio of each
 * VM's nx_split tables are zapped (ratio 0: never).
 */
static int nx_huge_pages = -1;
static bool nx_huge_pages_never;
static unsigned int nx_huge_pages_recovery_ratio = 60;
static unsigned int nx_huge_pages_recovery_period_ms;

static void kvm_mmu_nx_recover(struct work_struct *work);
static DECLARE_DELAYED_WORK(kvm_mmu_nx_work, kvm_mmu_nx_recover);
/* The work may be queued from the module's init until its exit. */
static bool kvm_mmu_nx_ready;
static DEFINE_MUTEX(kvm_mmu_nx_lock);	/* protects kvm_mmu_nx_ready */

static bool kvm_mmu_nx_huge(const struct kvm_tdp_mmu *mmu)
{
	return READ_ONCE(nx_huge_pages) == 1 && !READ_ONCE(mmu->nx_disabled);
}

static bool kvm_mmu_nx_auto(void)
{
	return boot_cpu_has_bug(X86_BUG_ITLB_MULTIHIT) && !cpu_mitigations_off();
}

/* The recovery period in ms, or 0 when recovery is off. */
static unsigned int kvm_mmu_nx_period(void)
{
	unsigned int ratio = READ_ONCE(nx_huge_pages_recovery_ratio);
	unsigned int period = READ_ONCE(nx_huge_pages_recovery_period_ms);

	if (READ_ONCE(nx_huge_pages) != 1 || !ratio)
		return 0;
	return period ?: 3600 * 1000 / min(ratio, 3600U);
}

/* (Re)start the recovery's clock from now, if recovery is on. */
static void kvm_mmu_nx_schedule(void)
{
	unsigned int period = kvm_mmu_nx_period();

	mutex_lock(&kvm_mmu_nx_lock);
	if (kvm_mmu_nx_ready && period)
		mod_delayed_work(system_wq, &kvm_mmu_nx_work,
				 msecs_to_jiffies(period));
	mutex_unlock(&kvm_mmu_nx_lock);
}

static void kvm_mmu_nx_recover(struct work_struct *work)
{
	unsigned int ratio = READ_ONCE(nx_huge_pages_recovery_ratio);
	struct kvm_tdp_mmu *mmu;

	if (!ratio || !kvm_mmu_nx_period())
		return;
	mutex_lock(&kvm_mmu_vms_lock);
	list_for_each_entry(mmu, &kvm_mmu_vms, vm_link) {
		struct tdp_zap zap;

		tdp_zap_init(&zap);
		spin_lock(&mmu->lock);
		tdp_zap_nx_splits(&mmu->core,
				  DIV_ROUND_UP(mmu->core.nr_nx_splits, ratio),
				  &zap);
		spin_unlock(&mmu->lock);
		kvm_mmu_commit_zap(mmu->kvm, &zap, NULL);
	}
	mutex_unlock(&kvm_mmu_vms_lock);
	kvm_mmu_nx_schedule();
}

static int kvm_mmu_nx_get(char *buf, const struct kernel_param *kp)
{
	if (nx_huge_pages_never)
		return sysfs_emit(buf, "never\n");
	return sysfs_emit(buf, "%c\n", READ_ONCE(nx_huge_pages) == 1 ? 'Y' : 'N');
}

static int kvm_mmu_nx_set(const char *val, const struct kernel_param *kp)
{
	struct kvm_tdp_mmu *mmu;
	bool on;

	if (nx_huge_pages_never)
		return -EPERM;
	if (sysfs_streq(val, "off")) {
		on = false;
	} else if (sysfs_streq(val, "force")) {
		on = true;
	} else if (sysfs_streq(val, "auto")) {
		on = kvm_mmu_nx_auto();
	} else if (sysfs_streq(val, "never")) {
		mutex_lock(&kvm_mmu_vms_lock);
		if (!list_empty(&kvm_mmu_vms)) {
			mutex_unlock(&kvm_mmu_vms_lock);
			return -EBUSY;
		}
		nx_huge_pages_never = true;
		mutex_unlock(&kvm_mmu_vms_lock);
		on = false;
	} else if (kstrtobool(val, &on)) {
		return -EINVAL;
	}

	if (xchg(&nx_huge_pages, on) != on) {
		/* No leaf made under the old setting may stay. */
		mutex_lock(&kvm_mmu_vms_lock);
		list_for_each_entry(mmu, &kvm_mmu_vms, vm_link)
			kvm_mmu_zap_all(mmu->kvm);
		mutex_unlock(&kvm_mmu_vms_lock);
	}
	kvm_mmu_nx_schedule();
	return 0;
}

static int kvm_mmu_nx_set_recovery(const char *val,
				   const struct kernel_param *kp)
{
	int r;

	if (nx_huge_pages_never)
		return -EPERM;
	r = param_set_uint(val, kp);
	if (!r)
		kvm_mmu_nx_schedule();
	return r;
}

static const struct kernel_param_ops kvm_mmu_nx_ops = {
	.set = kvm_mmu_nx_set,
	.get = kvm_mmu_nx_get,
};

static const struct kernel_param_ops kvm_mmu_nx_recovery_ops = {
	.set = kvm_mmu_nx_set_recovery,
	.get = param_get_uint,
};

module_param_cb(nx_huge_pages, &kvm_mmu_nx_ops, &nx_huge_pages, 0644);
__MODULE_PARM_TYPE(nx_huge_pages, "bool");
MODULE_PARM_DESC(nx_huge_pages,
		 "Huge pages are not executable (iTLB multihit): Y, N, off, force, auto, never");
module_param_cb(nx_huge_pages_recovery_ratio, &kvm_mmu_nx_recovery_ops,
		&nx_huge_pages_recovery_ratio, 0644);
__MODULE_PARM_TYPE(nx_huge_pages_recovery_ratio, "uint");
module_param_cb(nx_huge_pages_recovery_period_ms, &kvm_mmu_nx_recovery_ops,
		&nx_huge_pages_recovery_period_ms, 0644);
__MODULE_PARM_TYPE(nx_huge_pages_recovery_period_ms, "uint");

int kvm_mmu_disable_nx_huge_pages(struct kvm *kvm, u64 arg)
{
	/* A guest could then crash the host: only for who may reboot it. */
	if (!capable(CAP_SYS_BOOT))
		return -EPERM;
	lockdep_assert_held(&kvm->lock);
	if (arg || kvm->created_vcpus)
		return -EINVAL;
	WRITE_ONCE(kvm->arch.mmu->nx_disabled, true);
	return 0;
}

/* ---- Roots ------------------------------------------------------------- */

int kvm_mmu_load(struct kvm_vcpu *vcpu)
{
	struct kvm_tdp_mmu *mmu = vcpu->kvm->arch.mmu;
	struct kvm_mmu_vcpu *v = &vcpu->arch.mmu;
	struct kvm_mmu_page *root;
	struct tdp_zap zap;
	int r;

	int as_id = kvm_arch_vcpu_memslots_id(vcpu);

	kvm_check_request(vcpu, KVM_REQ_MMU_RELOAD);
	/* A zap after this check posts the request again. */
	if (v->root && !READ_ONCE(v->root->invalid) &&
	    v->root->role.as_id == as_id)
		return 0;

	r = kvm_mmu_topup(vcpu);
	if (r)
		return r;
	tdp_zap_init(&zap);
	spin_lock(&mmu->lock);
	if (v->root)
		tdp_put_root(&mmu->core, v->root, &zap);
	root = tdp_get_root(&mmu->core, v->cache, as_id, &zap);
	spin_unlock(&mmu->lock);

	v->root = root;
	v->root_pa = root ? __pa(root->spt) : 0;
	kvm_mmu_hv_root_loaded(vcpu, v->root_pa);
	/* Nothing of the old root may stay in this vCPU's TLB. */
	kvm_make_request(vcpu, KVM_REQ_TLB_FLUSH);
	kvm_mmu_commit_zap(vcpu->kvm, &zap, v->cache);
	return root ? 0 : -ENOMEM;
}

void kvm_mmu_destroy_vcpu(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu_vcpu *v = &vcpu->arch.mmu;
	struct kvm_tdp_mmu *mmu = vcpu->kvm->arch.mmu;
	struct tdp_zap zap;

	if (v->root) {
		tdp_zap_init(&zap);
		spin_lock(&mmu->lock);
		tdp_put_root(&mmu->core, v->root, &zap);
		spin_unlock(&mmu->lock);
		kvm_mmu_commit_zap(vcpu->kvm, &zap, NULL);
		v->root = NULL;
		kvm_mmu_hv_root_loaded(vcpu, 0);
	}
	if (v->cache) {
		while (v->cache->nr)
			kvm_mmu_free_page(v->cache->pages[--v->cache->nr]);
		kfree(v->cache);
		v->cache = NULL;
	}
}

/* ---- Faults ------------------------------------------------------------ */

/*
 * The host page at @hva, with a reference.  Writable if the host allows a
 * write now, even for a read fault (that saves the write fault); for a
 * write fault the host breaks copy-on-write sharing first.
 */
static int kvm_mmu_host_page(unsigned long hva, bool write, bool may_write,
			     struct page **page, bool *writable)
{
	long n;

	*writable = false;
	if (may_write && get_user_page_fast_only(hva, FOLL_WRITE, page)) {
		*writable = true;
		return 0;
	}
	n = get_user_pages_unlocked(hva, 1, page, write ? FOLL_WRITE : 0);
	if (n == 1) {
		*writable = write;
		return 0;
	}
	return n == -EINTR || n == -ERESTARTSYS ? -EINTR : -EFAULT;
}

/*
 * How large the host maps @hva: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB).  A
 * lockless walk, as GUP-fast does: with interrupts off the tables cannot
 * be freed under us, and the notifier's sequence, checked by the caller
 * under mmu->lock, tells whether the answer is still true.
 */
static int kvm_mmu_host_level(struct mm_struct *mm, unsigned long hva)
{
	unsigned long flags;
	int level = 1;
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	local_irq_save(flags);
	pgd = READ_ONCE(*pgd_offset(mm, hva));
	if (pgd_none(pgd))
		goto out;
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d))
		goto out;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (pud_none(pud) || !pud_present(pud))
		goto out;
	if (pud_leaf(pud)) {
		level = 3;
		goto out;
	}
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (pmd_present(pmd) && pmd_leaf(pmd))
		level = 2;
out:
	local_irq_restore(flags);
	return level;
}

/*
 * The largest leaf for @gfn: the host maps it at least that large, the
 * slot covers the whole leaf with guest and host addresses equally
 * aligned, and the slot is not logging dirty pages.
 */
static int kvm_mmu_fault_level(struct kvm_tdp_mmu *mmu,
			       const struct kvm_memory_slot *slot, gfn_t gfn,
			       unsigned long hva, u64 pfn)
{
	int level;

	if (kvm_slot_dirty_logging(slot))
		return 1;
	level = min(kvm_mmu_host_level(mmu->mm, hva), TDP_MAX_HUGE_LEVEL);
	for (; level > 1; level--) {
		u64 n = tdp_level_pages(level);
		gfn_t base = gfn & ~(n - 1);

		if (base >= slot->base_gfn &&
		    base + n <= slot->base_gfn + slot->npages &&
		    !((gfn ^ (hva >> PAGE_SHIFT)) & (n - 1)) &&
		    !((gfn ^ pfn) & (n - 1)))
			break;
	}
	return level;
}

/* Did an invalidation run since @seq was read, or is one covering @hva? */
static bool kvm_mmu_must_retry(struct kvm_tdp_mmu *mmu, unsigned long seq,
			       unsigned long hva)
{
	lockdep_assert_held(&mmu->lock);
	if (unlikely(mmu->mn_active) &&
	    hva >= mmu->mn_start && hva < mmu->mn_end)
		return true;
	return mmu->mn_seq != seq;
}

int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code)
{
	struct kvm_mmu_vcpu *v = &vcpu->arch.mmu;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	bool write = error_code & KVM_NPF_WRITE;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	struct kvm_memory_slot *slot;
	unsigned long hva, seq;
	unsigned int flags = 0;
	struct tdp_zap zap;
	struct page *page;
	bool writable;
	int level, r;
	u64 pfn;

	v->faults++;
	slot = kvm_vcpu_gfn_to_memslot(vcpu, gfn);
	if (!slot)
		return KVM_MMU_MMIO;
	if (write && (slot->flags & KVM_MEM_READONLY))
		return KVM_MMU_RO_WRITE;

	r = kvm_mmu_topup(vcpu);
	if (r)
		return r;

	hva = kvm_memslot_hva(slot, gfn);
	seq = READ_ONCE(mmu->mn_seq);
	/* The sequence first, then the host's page table (GUP). */
	smp_rmb();
	r = kvm_mmu_host_page(hva, write, !(slot->flags & KVM_MEM_READONLY),
			      &page, &writable);
	if (r == -EINTR)
		return KVM_MMU_FIXED;	/* the run loop sees the signal */
	if (r)
		return r;
	/*
	 * A page faulted in while its slot logs is mapped writable when the
	 * host page is, and logged at once (below), read or write, as Linux
	 * does: VMMs count the pages of a fresh logged slot that way.  Pages
	 * that stay mapped are write-protected by logging and its reports.
	 */
	if (writable)
		flags |= TDP_MAP_WRITABLE;
	/* Read before the lock: a change zaps the root, checked under it. */
	if (kvm_mmu_nx_huge(mmu))
		flags |= TDP_MAP_NX_HUGE;
	if (error_code & KVM_NPF_FETCH)
		flags |= TDP_MAP_EXEC;

	tdp_zap_init(&zap);
	spin_lock(&mmu->lock);
	r = KVM_MMU_FIXED;
	/* Enter again: the access faults again if it must. */
	if (kvm_mmu_must_retry(mmu, seq, hva) || v->root->invalid ||
	    v->root->role.as_id != slot->as_id)
		goto out;

	pfn = page_to_pfn(page);
	level = kvm_mmu_fault_level(mmu, slot, gfn, hva, pfn);
	r = tdp_map(&mmu->core, v->root, v->cache, gfn, pfn, level, flags,
		    &zap);
	if (!r) {
		r = KVM_MMU_FIXED;
		if (writable)
			kvm_mark_page_dirty(kvm, slot, gfn);
	}
out:
	spin_unlock(&mmu->lock);
	put_page(page);
	kvm_mmu_commit_zap(kvm, &zap, v->cache);
	return r;
}

/* ---- The MMU notifier -------------------------------------------------- */

static struct kvm_tdp_mmu *mn_to_mmu(struct mmu_notifier *mn)
{
	return container_of(mn, struct kvm_tdp_mmu, mn);
}

/* Zap the guest frames that @slot maps from host range [start, end). */
static void kvm_mmu_unmap_hva(struct kvm_tdp_mmu *mmu,
			      const struct kvm_memory_slot *slot,
			      unsigned long start, unsigned long end,
			      struct tdp_zap *zap)
{
	unsigned long base = slot->userspace_addr;
	unsigned long s = max(start, base);
	unsigned long e = min(end, base + (slot->npages << PAGE_SHIFT));

	if (s >= e)
		return;
	tdp_zap_range(&mmu->core, slot->base_gfn + ((s - base) >> PAGE_SHIFT),
		      slot->base_gfn + ((e - base + PAGE_SIZE - 1) >> PAGE_SHIFT),
		      zap);
}

struct kvm_mmu_unmap {
	struct kvm_tdp_mmu *mmu;
	unsigned long start, end;
	struct tdp_zap *zap;
};

static void kvm_mmu_unmap_slot(const struct kvm_memory_slot *slot, void *ctx)
{
	struct kvm_mmu_unmap *u = ctx;

	kvm_mmu_unmap_hva(u->mmu, slot, u->start, u->end, u->zap);
}

static int kvm_mmu_invalidate_range_start(struct mmu_notifier *mn,
					  const struct mmu_notifier_range *range)
{
	struct kvm_tdp_mmu *mmu = mn_to_mmu(mn);
	struct kvm *kvm = mmu->kvm;
	struct tdp_zap zap;
	struct kvm_mmu_unmap u = {
		.mmu = mmu, .start = range->start, .end = range->end,
		.zap = &zap,
	};
	int as_id, idx;

	tdp_zap_init(&zap);
	idx = srcu_read_lock(&kvm->srcu);
	spin_lock(&mmu->lock);
	if (!mmu->mn_active++) {
		mmu->mn_start = range->start;
		mmu->mn_end = range->end;
	} else {
		mmu->mn_start = min(mmu->mn_start, range->start);
		mmu->mn_end = max(mmu->mn_end, range->end);
	}
	/* The range of a frame is zapped in the roots of both spaces. */
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++)
		kvm_memslots_for_each_hva(srcu_dereference(kvm->memslots[as_id],
							   &kvm->srcu),
					  range->start, range->end,
					  kvm_mmu_unmap_slot, &u);
	if (mmu->zombie.npages)
		kvm_mmu_unmap_hva(mmu, &mmu->zombie, range->start, range->end,
				  &zap);
	spin_unlock(&mmu->lock);
	srcu_read_unlock(&kvm->srcu, idx);

	/* Spins but never sleeps: fine for unblockable ranges too. */
	kvm_mmu_commit_zap(kvm, &zap, NULL);
	return 0;
}

static void kvm_mmu_invalidate_range_end(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	struct kvm_tdp_mmu *mmu = mn_to_mmu(mn);

	spin_lock(&mmu->lock);
	mmu->mn_seq++;
	mmu->mn_active--;
	spin_unlock(&mmu->lock);
}

/* The address space goes away: nothing of it may stay mapped. */
static void kvm_mmu_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	kvm_mmu_zap_all(mn_to_mmu(mn)->kvm);
}

static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {
	.invalidate_range_start = kvm_mmu_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_invalidate_range_end,
	.release = kvm_mmu_release,
};

/* ---- The page budget --------------------------------------------------- */

static void kvm_mmu_change_nr_pages(struct kvm *kvm, unsigned long nr)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	struct tdp_zap zap;

	tdp_zap_init(&zap);
	spin_lock(&mmu->lock);
	tdp_set_max_pages(&mmu->core, nr, &zap);
	mmu->n_max_pages = mmu->core.max_pages;
	spin_unlock(&mmu->lock);
	kvm_mmu_commit_zap(kvm, &zap, NULL);
}

static int kvm_mmu_set_nr_pages(struct kvm *kvm, unsigned long nr)
{
	unsigned long min = clamp(READ_ONCE(min_mmu_pages), 1UL,
				  KVM_MIN_ALLOC_MMU_PAGES);

	if (nr < min)
		return -EINVAL;
	mutex_lock(&kvm->slots_lock);
	kvm_mmu_change_nr_pages(kvm, nr);
	kvm->arch.mmu->n_requested = true;
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

/* Linux's default: 2% of the memslots' pages, at least 64. */
static void kvm_mmu_default_nr_pages(struct kvm *kvm)
{
	kvm_mmu_change_nr_pages(kvm,
		max(kvm->arch.mmu->nr_memslot_pages /
		    KVM_MEMSLOT_PAGES_TO_MMU_PAGES_RATIO,
		    KVM_MIN_ALLOC_MMU_PAGES));
}

long kvm_mmu_vm_ioctl(struct kvm *kvm, unsigned int ioctl, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_SET_NR_MMU_PAGES:
		return kvm_mmu_set_nr_pages(kvm, arg);
	case KVM_GET_NR_MMU_PAGES:
		return READ_ONCE(kvm->arch.mmu->n_max_pages);
	case KVM_GET_DIRTY_LOG: {
		struct kvm_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return kvm_mmu_get_dirty_log(kvm, &log);
	}
	case KVM_CLEAR_DIRTY_LOG: {
		struct kvm_clear_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return kvm_mmu_clear_dirty_log(kvm, &log);
	}
	default:
		return -ENOTTY;
	}
}

/* ---- Memslots ---------------------------------------------------------- */

struct kvm_mmu_collapse {
	struct kvm_tdp_mmu *mmu;
	const struct kvm_memory_slot *slot;
};

/*
 * Could one leaf at @level map the block at @gfn (inside the slot)?  The
 * host maps it that large, with guest and host addresses equally aligned.
 */
static bool kvm_mmu_huge_ok(void *ctx, gfn_t gfn, int level)
{
	const struct kvm_mmu_collapse *c = ctx;
	unsigned long hva = kvm_memslot_hva(c->slot, gfn);

	return !((gfn ^ (hva >> PAGE_SHIFT)) & (tdp_level_pages(level) - 1)) &&
	       kvm_mmu_host_level(c->mmu->mm, hva) >= level;
}

/* Are the bitmaps of logging slots all set when logging starts? */
static bool kvm_dirty_log_initially_set(struct kvm *kvm)
{
	const u64 both = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			 KVM_DIRTY_LOG_INITIALLY_SET;

	return !READ_ONCE(kvm->dirty_ring_size) &&
	       (READ_ONCE(kvm->manual_dirty_log_protect) & both) == both;
}

int kvm_mmu_prepare_memory_region(struct kvm *kvm,
				  const struct kvm_memory_slot *old,
				  struct kvm_memory_slot *new,
				  enum kvm_mr_change change)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;

	/*
	 * Until its range is zapped, the notifier must still find a slot
	 * that is about to leave the published set.
	 */
	if (change == KVM_MR_DELETE || change == KVM_MR_MOVE) {
		spin_lock(&mmu->lock);
		mmu->zombie = *old;
		spin_unlock(&mmu->lock);
	}
	return 0;
}

void kvm_mmu_commit_memory_region(struct kvm *kvm,
				  const struct kvm_memory_slot *old,
				  const struct kvm_memory_slot *new,
				  enum kvm_mr_change change)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;
	struct tdp_zap zap;

	tdp_zap_init(&zap);
	spin_lock(&mmu->lock);
	switch (change) {
	case KVM_MR_DELETE:
	case KVM_MR_MOVE:
		/* Exactly the old slot's frames. */
		tdp_zap_range(&mmu->core, old->base_gfn,
			      old->base_gfn + old->npages, &zap);
		mmu->zombie.npages = 0;
		break;
	case KVM_MR_FLAGS_ONLY:
		if (kvm_slot_dirty_logging(new)) {
			/*
			 * Every write from now on faults and is logged; with
			 * KVM_DIRTY_LOG_INITIALLY_SET every page counts as
			 * dirty already, and KVM_CLEAR_DIRTY_LOG protects.
			 */
			if (!kvm_dirty_log_initially_set(kvm) &&
			    tdp_wrprot_range(&mmu->core, new->base_gfn,
					     new->base_gfn + new->npages))
				zap.flush = true;
		} else if (kvm_slot_dirty_logging(old)) {
			struct kvm_mmu_collapse c = { .mmu = mmu, .slot = new };

			/* Back to huge pages where they fit: refaults map them. */
			tdp_zap_collapsible(&mmu->core, new->base_gfn,
					    new->base_gfn + new->npages,
					    kvm_mmu_huge_ok, &c, &zap);
		}
		break;
	default:
		break;
	}
	spin_unlock(&mmu->lock);
	kvm_mmu_commit_zap(kvm, &zap, NULL);

	if (change == KVM_MR_CREATE)
		mmu->nr_memslot_pages += new->npages;
	else if (change == KVM_MR_DELETE)
		mmu->nr_memslot_pages -= old->npages;
	if (!mmu->n_requested &&
	    (change == KVM_MR_CREATE || change == KVM_MR_DELETE))
		kvm_mmu_default_nr_pages(kvm);
}

/* ---- The shrinker ------------------------------------------------------ */

static unsigned long kvm_mmu_shrink_count(struct shrinker *shrink,
					  struct shrink_control *sc)
{
	struct kvm_tdp_mmu *mmu;
	unsigned long n = 0;

	mutex_lock(&kvm_mmu_vms_lock);
	list_for_each_entry(mmu, &kvm_mmu_vms, vm_link) {
		unsigned long pages = READ_ONCE(mmu->core.nr_pages);
		unsigned long roots = READ_ONCE(mmu->core.nr_roots);

		if (pages > roots)
			n += pages - roots;
	}
	mutex_unlock(&kvm_mmu_vms_lock);
	return n ? n : SHRINK_EMPTY;
}

/*
 * Zap up to nr_to_scan of the oldest pages, VM after VM, each VM's share
 * in one batch under one flush.  The VMs rotate so that the next call
 * starts where this one stopped.
 */
static unsigned long kvm_mmu_shrink_scan(struct shrinker *shrink,
					 struct shrink_control *sc)
{
	unsigned long freed = 0;
	struct kvm_tdp_mmu *mmu;
	int nr_vms = 0, i;

	mutex_lock(&kvm_mmu_vms_lock);
	list_for_each_entry(mmu, &kvm_mmu_vms, vm_link)
		nr_vms++;
	for (i = 0; i < nr_vms && freed < sc->nr_to_scan; i++) {
		struct tdp_zap zap;
		unsigned long n;

		mmu = list_first_entry(&kvm_mmu_vms, struct kvm_tdp_mmu,
				       vm_link);
		list_move_tail(&mmu->vm_link, &kvm_mmu_vms);
		tdp_zap_init(&zap);
		spin_lock(&mmu->lock);
		n = tdp_zap_oldest(&mmu->core, sc->nr_to_scan - freed, &zap);
		mmu->core.stats.pages_shrunk += n;
		spin_unlock(&mmu->lock);
		kvm_mmu_commit_zap(mmu->kvm, &zap, NULL);
		freed += n;
	}
	mutex_unlock(&kvm_mmu_vms_lock);
	return freed ? freed : SHRINK_STOP;
}

#ifdef NKVM_HAVE_SHRINKER_ALLOC
static struct shrinker *kvm_mmu_shrinker;

static int kvm_mmu_register_shrinker(void)
{
	kvm_mmu_shrinker = shrinker_alloc(0, "nkvm-mmu");
	if (!kvm_mmu_shrinker)
		return -ENOMEM;
	kvm_mmu_shrinker->count_objects = kvm_mmu_shrink_count;
	kvm_mmu_shrinker->scan_objects = kvm_mmu_shrink_scan;
	kvm_mmu_shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(kvm_mmu_shrinker);
	return 0;
}

static void kvm_mmu_unregister_shrinker(void)
{
	shrinker_free(kvm_mmu_shrinker);
}
#else
static struct shrinker kvm_mmu_shrinker = {
	.count_objects = kvm_mmu_shrink_count,
	.scan_objects = kvm_mmu_shrink_scan,
	.seeks = DEFAULT_SEEKS,
};

static int kvm_mmu_register_shrinker(void)
{
	return register_shrinker(&kvm_mmu_shrinker, "nkvm-mmu");
}

static void kvm_mmu_unregister_shrinker(void)
{
	unregister_shrinker(&kvm_mmu_shrinker);
}
#endif

int kvm_mmu_module_init(void)
{
	int r = kvm_mmu_register_shrinker();

	if (r)
		return r;
	/* Unless set when the module was loaded. */
	if (nx_huge_pages == -1)
		nx_huge_pages = kvm_mmu_nx_auto();
	mutex_lock(&kvm_mmu_nx_lock);
	kvm_mmu_nx_ready = true;
	mutex_unlock(&kvm_mmu_nx_lock);
	kvm_mmu_nx_schedule();
	return 0;
}

void kvm_mmu_module_exit(void)
{
	/* Neither a parameter write nor the work itself queues it again. */
	mutex_lock(&kvm_mmu_nx_lock);
	kvm_mmu_nx_ready = false;
	mutex_unlock(&kvm_mmu_nx_lock);
	cancel_delayed_work_sync(&kvm_mmu_nx_work);
	kvm_mmu_unregister_shrinker();
}

/* ---- VM lifetime ------------------------------------------------------- */

int kvm_mmu_init_vm(struct kvm *kvm)
{
	const struct kvm_tdp_format *fmt = kvm_x86_ops->tdp;
	const struct tdp_bits bits = {
		.present = fmt->present_mask,
		.table = fmt->table_bits,
		.leaf = fmt->leaf_bits,
		.writable = fmt->writable_mask,
		.huge = fmt->huge_mask,
		.nx = fmt->nx_mask,
		.exec = fmt->exec_mask,
	};
	struct kvm_tdp_mmu *mmu;
	int r;

	mmu = kvzalloc(sizeof(*mmu), GFP_KERNEL_ACCOUNT);
	if (!mmu)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&mmu->flush_cpus, GFP_KERNEL_ACCOUNT)) {
		kvfree(mmu);
		return -ENOMEM;
	}
	spin_lock_init(&mmu->lock);
	spin_lock_init(&mmu->flush_lock);
	tdp_mmu_init(&mmu->core, &bits, mmu->hash);
	mmu->kvm = kvm;
	mmu->hv_flush = nkvm_mmu_hv_flush_usable();
	nkvm_hv_flush_init(&mmu->hv, kvm_mmu_hv_flush_root, NULL);
	kvm->arch.mmu = mmu;

	/* The VM's memory is the creator's. */
	mmu->mm = current->mm;
	mmu->mn.ops = &kvm_mmu_notifier_ops;
	r = mmu_notifier_register(&mmu->mn, mmu->mm);
	if (r) {
		free_cpumask_var(mmu->flush_cpus);
		kvfree(mmu);
		kvm->arch.mmu = NULL;
		return r;
	}
	mmu->mn_registered = true;

	mutex_lock(&kvm_mmu_vms_lock);
	list_add_tail(&mmu->vm_link, &kvm_mmu_vms);
	mutex_unlock(&kvm_mmu_vms_lock);
	return 0;
}

/*
 * Before the vCPUs are freed: no notifier and no shrinker may touch the VM
 * (and kick its vCPUs) any more.
 */
void kvm_mmu_pre_destroy_vm(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;

	if (!mmu)
		return;
	mutex_lock(&kvm_mmu_vms_lock);
	list_del_init(&mmu->vm_link);
	mutex_unlock(&kvm_mmu_vms_lock);
	if (mmu->mn_registered) {
		mmu_notifier_unregister(&mmu->mn, mmu->mm);
		mmu->mn_registered = false;
	}
}

void kvm_mmu_destroy_vm(struct kvm *kvm)
{
	struct kvm_tdp_mmu *mmu = kvm->arch.mmu;

	if (!mmu)
		return;
	kvm_mmu_pre_destroy_vm(kvm);
	/* The vCPUs have put their roots: everything is freed now. */
	kvm_mmu_zap_all(kvm);
	WARN_ON_ONCE(mmu->core.nr_pages || mmu->core.nr_invalid_roots ||
		     mmu->core.nr_leaves[0] || mmu->core.nr_leaves[1] ||
		     mmu->core.nr_leaves[2]);
	free_cpumask_var(mmu->flush_cpus);
	kvfree(mmu);
	kvm->arch.mmu = NULL;
}
