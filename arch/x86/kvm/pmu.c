// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest PMU model (see pmu.h).
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/perf_event.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
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

/*
 * KVM_SET_PMU_EVENT_FILTER: the events a guest's counters may count.
 * Checked as Linux 6.1 checks it and kept for the VM (nkvm's guests have
 * no counters yet, so there is nothing for it to stop).
 */
int kvm_vm_ioctl_set_pmu_event_filter(struct kvm *kvm, void __user *argp)
{
	struct kvm_pmu_event_filter head, *filter;
	size_t size;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if (head.action != KVM_PMU_EVENT_ALLOW &&
	    head.action != KVM_PMU_EVENT_DENY)
		return -EINVAL;
	if (head.flags)
		return -EINVAL;
	if (head.nevents > NKVM_PMU_EVENT_FILTER_MAX_EVENTS)
		return -E2BIG;

	size = struct_size(filter, events, head.nevents);
	filter = memdup_user(argp, size);
	if (IS_ERR(filter))
		return PTR_ERR(filter);
	/* The count read first is the one that was checked. */
	filter->nevents = head.nevents;

	mutex_lock(&kvm->lock);
	swap(kvm->arch.pmu_event_filter, filter);
	mutex_unlock(&kvm->lock);
	kfree(filter);
	return 0;
}

void kvm_pmu_vm_destroy(struct kvm *kvm)
{
	kfree(kvm->arch.pmu_event_filter);
	kvm->arch.pmu_event_filter = NULL;
}

void kvm_pmu_refresh(struct kvm_vcpu *vcpu)
{
	vcpu->arch.has_pmu = kvm_vcpu_has_pmu(vcpu);
	vcpu->arch.misc_enable = kvm_misc_enable_model(vcpu->arch.misc_enable,
						       vcpu->arch.has_pmu);
}
