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
 */
#ifndef _NKVM_PMU_H
#define _NKVM_PMU_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
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

void kvm_pmu_init(void);
void kvm_pmu_fill_cpuid_0xa(struct kvm_cpuid_entry2 *e);
void kvm_pmu_refresh(struct kvm_vcpu *vcpu);

/* Linux's limit on the events of KVM_SET_PMU_EVENT_FILTER. */
#define NKVM_PMU_EVENT_FILTER_MAX_EVENTS	300

struct kvm;
int kvm_vm_ioctl_set_pmu_event_filter(struct kvm *kvm, void __user *argp);
void kvm_pmu_vm_destroy(struct kvm *kvm);
#endif

#endif /* _NKVM_PMU_H */
