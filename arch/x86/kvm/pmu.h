/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the guest PMU and IA32_MISC_ENABLE.EMON.
 *
 * Bit 7 of IA32_MISC_ENABLE ("performance monitoring available") is set
 * when the vCPU's model has a PMU and clear when it has none; it is
 * re-evaluated whenever the model changes (KVM_SET_CPUID2).  Guest writes to
 * it are ignored without a fault; userspace (KVM_SET_MSRS) may set it.
 * Which vCPUs have a PMU: on SVM every vCPU when the vPMU is enabled (the
 * AMD core counters); on VMX those whose CPUID leaf 0xA reports an
 * architectural PMU.  The vPMU is off where the host has no PMU.
 *
 * The counters themselves: pmu_model.h (registers, pure logic) and pmu.c
 * (host perf events, one per counting counter, created in the vCPU's
 * task; an overflow raises KVM_REQ_PMU, serviced before the next entry,
 * which sets GLOBAL_STATUS and delivers the PMI through the LVTPC of the
 * in-kernel local APIC).
 */
#ifndef _NKVM_PMU_H
#define _NKVM_PMU_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <nkvm/kvm_host.h>
#else
#include "unit_compat.h"
#endif

#define NKVM_MISC_ENABLE_EMON		(1ULL << 7)
#define NKVM_MISC_ENABLE_BTS_UNAVAIL	(1ULL << 11)
#define NKVM_MISC_ENABLE_PEBS_UNAVAIL	(1ULL << 12)

/* MISC_ENABLE after the model changed: EMON follows the PMU. */
static inline u64 kvm_misc_enable_model(u64 misc_enable, bool has_pmu)
{
	if (has_pmu)
		return misc_enable | NKVM_MISC_ENABLE_EMON;
	return misc_enable & ~NKVM_MISC_ENABLE_EMON;
}

/*
 * A write of @val to MISC_ENABLE, now @old.  Returns false if the write
 * must fault (a guest changing a read-only PMU bit), else stores the new
 * value in @res: a guest's write keeps EMON as it was.
 */
static inline bool kvm_misc_enable_write(u64 old, u64 val, bool host,
					 u64 *res)
{
	const u64 ro = NKVM_MISC_ENABLE_BTS_UNAVAIL |
		       NKVM_MISC_ENABLE_PEBS_UNAVAIL;

	if (!host) {
		if ((old ^ val) & ro)
			return false;
		val = (val & ~NKVM_MISC_ENABLE_EMON) |
		      (old & NKVM_MISC_ENABLE_EMON);
	}
	*res = val;
	return true;
}

#ifndef NKVM_USERSPACE
struct kvm_vcpu;
struct kvm_cpuid_entry2;

extern bool enable_pmu;

/* Module load: what the host's perf offers; the vPMU is off without it. */
void kvm_pmu_init(void);
/* KVM_GET_SUPPORTED_CPUID: leaves 1 (PDCM), 0xA, 0x80000001 (PerfCtrExtCore). */
void kvm_pmu_supported_cpuid(struct kvm_cpuid_entry2 *e);
/* IA32_PERF_CAPABILITIES as a feature MSR. */
u64 kvm_pmu_supported_perf_caps(void);
/* The PMU MSRs KVM_GET_MSR_INDEX_LIST adds (none while the vPMU is off). */
const u32 *kvm_pmu_msrs_to_save(u32 *n);
int kvm_pmu_enable_cap(struct kvm *kvm, u64 flags);
int kvm_pmu_set_event_filter(struct kvm *kvm, void __user *argp);
void kvm_pmu_vm_destroy(struct kvm *kvm);

int kvm_pmu_vcpu_create(struct kvm_vcpu *vcpu);
void kvm_pmu_vcpu_destroy(struct kvm_vcpu *vcpu);
/* The guest's CPUID changed: a new PMU model, counters cleared. */
void kvm_pmu_refresh(struct kvm_vcpu *vcpu);
/* RESET: counters cleared, perf events released. */
void kvm_pmu_reset(struct kvm_vcpu *vcpu);
/* 0, 1 (#GP), or -ENOENT for an MSR that is no PMU MSR at all. */
int kvm_pmu_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host);
int kvm_pmu_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host);
/* RDPMC exit: > 0 to enter the guest again (a #GP may be queued). */
int kvm_pmu_rdpmc(struct kvm_vcpu *vcpu, u64 next_rip);
/* Before an entry, in the task that runs the vCPU: KVM_REQ_PMU. */
void kvm_pmu_service(struct kvm_vcpu *vcpu);
#endif

#endif /* _NKVM_PMU_H */
