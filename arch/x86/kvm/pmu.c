// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest PMU model (see pmu.h).
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/module.h>
#include <linux/perf_event.h>
#include <asm/perf_event.h>

#include "x86.h"
#include "cpuid.h"
#include "pmu.h"

bool enable_pmu = true;
module_param(enable_pmu, bool, 0444);
MODULE_PARM_DESC(enable_pmu, "Give guests a PMU (off when the host has none)");

void kvm_pmu_init(void)
{
	struct x86_pmu_capability cap = {};

	perf_get_x86_pmu_capability(&cap);
	if (enable_pmu && !cap.num_counters_gp) {
		pr_info("the host has no PMU: guests get none (enable_pmu=N)\n");
		enable_pmu = false;
	}
}

void kvm_pmu_fill_cpuid_0xa(struct kvm_cpuid_entry2 *e)
{
	/* No architectural PMU is offered yet (the SVM vPMU has no 0xA). */
	e->eax = e->ebx = e->ecx = e->edx = 0;
}

static bool kvm_vcpu_has_pmu(struct kvm_vcpu *vcpu)
{
	if (!enable_pmu)
		return false;
	if (kvm_x86_ops->pmu_from_cpuid_0xa)
		return kvm_guest_cpuid_has(vcpu, 0xa, 0, CPUID_EAX, 0xff);
	return true;
}

void kvm_pmu_refresh(struct kvm_vcpu *vcpu)
{
	vcpu->arch.has_pmu = kvm_vcpu_has_pmu(vcpu);
	vcpu->arch.misc_enable = kvm_misc_enable_model(vcpu->arch.misc_enable,
						       vcpu->arch.has_pmu);
}
