/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the Hyper-V enlightenments a guest may use (hyperv.c).
 *
 * The numbers are those of Microsoft's Hypervisor Top-Level Functional
 * Specification (TLFS).  They get a KVM_HV_ prefix of their own so that
 * this file never clashes with the kernel's Hyper-V headers, which nkvm
 * also uses when it runs on Hyper-V itself (hyperv_flush.c: another thing).
 */
#ifndef _NKVM_HYPERV_H
#define _NKVM_HYPERV_H

#include "x86.h"

/* CPUID leaves */
#define KVM_HV_CPUID_VENDOR		0x40000000
#define KVM_HV_CPUID_INTERFACE		0x40000001
#define KVM_HV_CPUID_VERSION		0x40000002
#define KVM_HV_CPUID_FEATURES		0x40000003
#define KVM_HV_CPUID_ENLIGHTENMENTS	0x40000004
#define KVM_HV_CPUID_LIMITS		0x40000005
#define KVM_HV_CPUID_NESTED		0x4000000a
#define KVM_HV_CPUID_SYNDBG_VENDOR	0x40000080
#define KVM_HV_CPUID_SYNDBG_INTERFACE	0x40000081
#define KVM_HV_CPUID_SYNDBG_CAPS	0x40000082

#define KVM_HV_INTERFACE_SIG		0x31237648	/* "Hv#1" */

/* 0x40000003.EAX: the partition's privileges (MSR groups) */
#define KVM_HV_VP_RUNTIME_AVAILABLE	BIT(0)
#define KVM_HV_TIME_REF_COUNT_AVAILABLE	BIT(1)
#define KVM_HV_SYNIC_AVAILABLE		BIT(2)
#define KVM_HV_SYNTIMER_AVAILABLE	BIT(3)
#define KVM_HV_APIC_ACCESS_AVAILABLE	BIT(4)
#define KVM_HV_HYPERCALL_AVAILABLE	BIT(5)
#define KVM_HV_VP_INDEX_AVAILABLE	BIT(6)
#define KVM_HV_RESET_AVAILABLE		BIT(7)
#define KVM_HV_REFERENCE_TSC_AVAILABLE	BIT(9)
#define KVM_HV_FREQUENCY_MSRS		BIT(11)
#define KVM_HV_REENLIGHTENMENT		BIT(13)
/* 0x40000003.EBX: hypercall privileges */
#define KVM_HV_POST_MESSAGES		BIT(4)
#define KVM_HV_SIGNAL_EVENTS		BIT(5)
#define KVM_HV_DEBUGGING		BIT(11)
/* 0x40000003.EDX: other features */
#define KVM_HV_GUEST_DEBUGGING_AVAILABLE BIT(1)
#define KVM_HV_XMM_INPUT_AVAILABLE	BIT(4)
#define KVM_HV_FREQUENCY_MSRS_AVAILABLE	BIT(8)
#define KVM_HV_CRASH_MSRS_AVAILABLE	BIT(10)
#define KVM_HV_DEBUG_MSRS_AVAILABLE	BIT(11)
#define KVM_HV_STIMER_DIRECT_AVAILABLE	BIT(19)
/* 0x40000004.EAX: recommendations */
#define KVM_HV_REMOTE_TLB_FLUSH_RECOMMENDED	BIT(2)
#define KVM_HV_APIC_ACCESS_RECOMMENDED		BIT(3)
#define KVM_HV_RELAXED_TIMING_RECOMMENDED	BIT(5)
#define KVM_HV_CLUSTER_IPI_RECOMMENDED		BIT(10)
#define KVM_HV_EX_PROCESSOR_MASKS_RECOMMENDED	BIT(11)
#define KVM_HV_NO_NONARCH_CORESHARING		BIT(18)
/* 0x4000000a.EAX */
#define KVM_HV_NESTED_MSR_BITMAP	BIT(19)
/* 0x40000082.EAX */
#define KVM_HV_SYNDBG_ALLOW_KERNEL_DEBUGGING BIT(1)

/* Synthetic MSRs */
#define KVM_HV_MSR_GUEST_OS_ID		0x40000000
#define KVM_HV_MSR_HYPERCALL		0x40000001
#define KVM_HV_MSR_VP_INDEX		0x40000002
#define KVM_HV_MSR_RESET		0x40000003
#define KVM_HV_MSR_VP_RUNTIME		0x40000010
#define KVM_HV_MSR_TIME_REF_COUNT	0x40000020
#define KVM_HV_MSR_REFERENCE_TSC	0x40000021
#define KVM_HV_MSR_TSC_FREQUENCY	0x40000022
#define KVM_HV_MSR_APIC_FREQUENCY	0x40000023
#define KVM_HV_MSR_EOI			0x40000070
#define KVM_HV_MSR_ICR			0x40000071
#define KVM_HV_MSR_TPR			0x40000072
#define KVM_HV_MSR_VP_ASSIST_PAGE	0x40000073
#define KVM_HV_MSR_SCONTROL		0x40000080
#define KVM_HV_MSR_SVERSION		0x40000081
#define KVM_HV_MSR_SIEFP		0x40000082
#define KVM_HV_MSR_SIMP			0x40000083
#define KVM_HV_MSR_EOM			0x40000084
#define KVM_HV_MSR_SINT0		0x40000090
#define KVM_HV_MSR_SINT15		0x4000009f
#define KVM_HV_MSR_STIMER0_CONFIG	0x400000b0
#define KVM_HV_MSR_STIMER3_COUNT	0x400000b7
#define KVM_HV_MSR_SYNDBG_CONTROL	0x400000f1
#define KVM_HV_MSR_SYNDBG_STATUS	0x400000f2
#define KVM_HV_MSR_SYNDBG_SEND_BUFFER	0x400000f3
#define KVM_HV_MSR_SYNDBG_RECV_BUFFER	0x400000f4
#define KVM_HV_MSR_SYNDBG_PENDING_BUFFER 0x400000f5
#define KVM_HV_MSR_SYNDBG_OPTIONS	0x400000ff
#define KVM_HV_MSR_CRASH_P0		0x40000100
#define KVM_HV_MSR_CRASH_P4		0x40000104
#define KVM_HV_MSR_CRASH_CTL		0x40000105
#define KVM_HV_MSR_REENLIGHTENMENT_CONTROL 0x40000106
#define KVM_HV_MSR_TSC_EMULATION_CONTROL 0x40000107
#define KVM_HV_MSR_TSC_EMULATION_STATUS	0x40000108

/* The TSC page's state (struct kvm_hv.tsc_page_status) */
enum {
	KVM_HV_TSC_PAGE_UNSET,		/* disabled */
	KVM_HV_TSC_PAGE_GUEST_CHANGED,	/* the guest enabled it: fill it */
	KVM_HV_TSC_PAGE_HOST_CHANGED,	/* userspace did, or the clock moved */
	KVM_HV_TSC_PAGE_SET,		/* filled: tsc_ref is in the guest */
	KVM_HV_TSC_PAGE_BROKEN,		/* no stable TSC, or not in RAM */
};

/* CPUID */
int kvm_dev_ioctl_get_supported_hv_cpuid(struct kvm_vcpu *vcpu,
					 struct kvm_cpuid2 __user *ucpuid);

/* The VM and the vCPU */
void kvm_hv_vm_init(struct kvm *kvm);
void kvm_hv_vcpu_init(struct kvm_vcpu *vcpu);
int kvm_hv_enable_cap(struct kvm_vcpu *vcpu, const struct kvm_enable_cap *cap);
/* The MSRs nkvm saves for userspace (KVM_GET_MSR_INDEX_LIST). */
extern const u32 kvm_hv_msrs_to_save[];
extern const unsigned int kvm_hv_nr_msrs_to_save;

/* MSRs: 0, or 1 for #GP (a refused userspace access) */
bool kvm_hv_is_msr(u32 index);
int kvm_hv_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host);
int kvm_hv_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host);

/* The TSC page follows kvmclock (kvmclock.c calls it on a clock update). */
void kvm_hv_update_tsc_page(struct kvm_vcpu *vcpu);

/* Hypercalls: does VMMCALL/VMCALL mean a Hyper-V one? */
bool kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu);
int kvm_hv_hypercall(struct kvm_vcpu *vcpu, u64 next_rip);
/* Nested SVM: does the guest's enlightened MSR bitmap count? */
bool kvm_hv_nested_msr_bitmap(struct kvm_vcpu *vcpu);
/* KVM_RUN after a KVM_EXIT_HYPERV: false if RIP must stay where it is. */
bool kvm_hv_complete_user_exit(struct kvm_vcpu *vcpu);
/* KVM_REQ_HV_EXIT: report the exit prepared (0), or go on (1). */
int kvm_hv_user_exit(struct kvm_vcpu *vcpu);

#endif /* _NKVM_HYPERV_H */
