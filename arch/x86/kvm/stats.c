// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the x86 binary statistics (virt/kvm/stats.c has the file format).
 *
 * Linux's names where Linux has the same statistic; the names starting
 * with nkvm_ are nkvm's own.  Documentation/virt/nkvm/stats.rst says what
 * each one counts and where it differs from Linux's.
 */
#include "x86.h"

static const struct nkvm_stats_desc kvm_x86_vm_desc[] = {
	NKVM_STATS_COUNTER(struct kvm_vm_stat, mmu_shadow_zapped),
	NKVM_STATS_COUNTER(struct kvm_vm_stat, mmu_recycled),
	NKVM_STATS_COUNTER(struct kvm_vm_stat, mmu_cache_miss),
	NKVM_STATS_ICOUNTER(struct kvm_vm_stat, pages_4k),
	NKVM_STATS_ICOUNTER(struct kvm_vm_stat, pages_2m),
	NKVM_STATS_ICOUNTER(struct kvm_vm_stat, pages_1g),
	NKVM_STATS_ICOUNTER(struct kvm_vm_stat, nx_lpage_splits),
	NKVM_STATS_ICOUNTER(struct kvm_vm_stat, nkvm_mmu_pages),
	NKVM_STATS_COUNTER(struct kvm_vm_stat, nkvm_mmu_shrunk),
};

const struct nkvm_stats_table kvm_arch_vm_stats = {
	.desc = kvm_x86_vm_desc,
	.count = ARRAY_SIZE(kvm_x86_vm_desc),
};

static const struct nkvm_stats_desc kvm_x86_vcpu_desc[] = {
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, pf_taken),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, io_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, mmio_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, signal_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, irq_window_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, nmi_window_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, halt_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, request_irq_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, irq_exits),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, insn_emulation),
	NKVM_STATS_COUNTER(struct kvm_vcpu_stat, hypercalls),
};

const struct nkvm_stats_table kvm_arch_vcpu_stats = {
	.desc = kvm_x86_vcpu_desc,
	.count = ARRAY_SIZE(kvm_x86_vcpu_desc),
};

void kvm_arch_vm_stats_read(struct kvm *kvm, struct kvm_vm_stat *st)
{
	struct kvm_mmu_stats mmu;

	kvm_mmu_read_stats(kvm, &mmu);
	st->mmu_shadow_zapped = mmu.pages_zapped;
	/* Linux counts the shrinker's zaps as recycled too. */
	st->mmu_recycled = mmu.pages_recycled + mmu.pages_shrunk;
	/* Every table page is made after its lookup missed. */
	st->mmu_cache_miss = mmu.pages_created;
	st->pages_4k = mmu.pages_4k;
	st->pages_2m = mmu.pages_2m;
	st->pages_1g = mmu.pages_1g;
	st->nx_lpage_splits = mmu.nx_lpage_splits;
	st->nkvm_mmu_pages = mmu.pages;
	st->nkvm_mmu_shrunk = mmu.pages_shrunk;
}

void kvm_arch_vcpu_stats_read(struct kvm_vcpu *vcpu, struct kvm_vcpu_stat *st)
{
	st->pf_taken = READ_ONCE(vcpu->arch.mmu.faults);
}
