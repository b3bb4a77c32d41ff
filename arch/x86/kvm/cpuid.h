/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the guest's CPUID.
 *
 * KVM_SET_CPUID2 goes through three steps:
 *
 *  1. check: refuse an illegal table (-E2BIG for too many entries, -EINVAL
 *     for a virtual-address width other than 0, 48 or 57 in 0x80000008, or
 *     XSAVE leaves that do not agree); on failure the vCPU is left with no
 *     entries at all, never a half-applied table;
 *  2. runtime update: the bits that follow vCPU state (OSXSAVE from
 *     CR4.OSXSAVE, APIC from the APIC base MSR, OSPKE from CR4.PKE, the
 *     XSAVE sizes in leaf 0xD for the current XCR0/XSS, MWAIT from
 *     MISC_ENABLE), recomputed whenever that state changes; every leaf is
 *     updated whether or not the others are present;
 *  3. vCPU model update: what the table means for the vCPU: guest
 *     MAXPHYADDR, the XCR0 bits the guest may set, the CR4 bits it may not,
 *     the PMU, and the backend's own hook.
 *
 * The pure parts (lookup, steps 1-3 on a table) build in userspace too, for
 * the unit tests, with NKVM_USERSPACE defined.
 */
#ifndef _NKVM_CPUID_H
#define _NKVM_CPUID_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <uapi/linux/kvm.h>
#include <nkvm/kvm_arch.h>
#else
#include "unit_compat.h"
#endif

#define KVM_MAX_CPUID_ENTRIES	256

/* CPUID bits the pipeline reads or writes (architectural positions). */
#define CPUID_1_ECX_MWAIT		(1U << 3)
#define CPUID_1_ECX_PCID		(1U << 17)
#define CPUID_1_ECX_XSAVE		(1U << 26)
#define CPUID_1_ECX_OSXSAVE		(1U << 27)
#define CPUID_1_ECX_HYPERVISOR		(1U << 31)
#define CPUID_1_EDX_VME			(1U << 1)
#define CPUID_1_EDX_DE			(1U << 2)
#define CPUID_1_EDX_PSE			(1U << 3)
#define CPUID_1_EDX_TSC			(1U << 4)
#define CPUID_1_EDX_PAE			(1U << 6)
#define CPUID_1_EDX_MCE			(1U << 7)
#define CPUID_1_EDX_APIC		(1U << 9)
#define CPUID_1_EDX_PGE			(1U << 13)
#define CPUID_1_EDX_FXSR		(1U << 24)
#define CPUID_1_EDX_SSE			(1U << 25)
#define CPUID_7_EBX_FSGSBASE		(1U << 0)
#define CPUID_7_EBX_SMEP		(1U << 7)
#define CPUID_7_EBX_SMAP		(1U << 20)
#define CPUID_7_ECX_UMIP		(1U << 2)
#define CPUID_7_ECX_PKU			(1U << 3)
#define CPUID_7_ECX_OSPKE		(1U << 4)
#define CPUID_7_ECX_LA57		(1U << 16)
#define CPUID_7_ECX_RDPID		(1U << 22)
#define CPUID_80000001_EDX_GBPAGES	(1U << 26)
#define CPUID_80000001_EDX_RDTSCP	(1U << 27)
#define CPUID_80000001_ECX_PERFCTR_CORE	(1U << 23)

/* CR4 bits (architectural positions). */
#define NKVM_CR4_VME		(1ULL << 0)
#define NKVM_CR4_PVI		(1ULL << 1)
#define NKVM_CR4_TSD		(1ULL << 2)
#define NKVM_CR4_DE		(1ULL << 3)
#define NKVM_CR4_PSE		(1ULL << 4)
#define NKVM_CR4_PAE		(1ULL << 5)
#define NKVM_CR4_MCE		(1ULL << 6)
#define NKVM_CR4_PGE		(1ULL << 7)
#define NKVM_CR4_PCE		(1ULL << 8)
#define NKVM_CR4_OSFXSR		(1ULL << 9)
#define NKVM_CR4_OSXMMEXCPT	(1ULL << 10)
#define NKVM_CR4_UMIP		(1ULL << 11)
#define NKVM_CR4_LA57		(1ULL << 12)
#define NKVM_CR4_FSGSBASE	(1ULL << 16)
#define NKVM_CR4_PCIDE		(1ULL << 17)
#define NKVM_CR4_OSXSAVE	(1ULL << 18)
#define NKVM_CR4_SMEP		(1ULL << 20)
#define NKVM_CR4_SMAP		(1ULL << 21)
#define NKVM_CR4_PKE		(1ULL << 22)

/* XCR0 bits. */
#define NKVM_XFEATURE_X87	(1ULL << 0)
#define NKVM_XFEATURE_SSE	(1ULL << 1)
#define NKVM_XFEATURE_AVX	(1ULL << 2)
#define NKVM_XFEATURE_AVX512	(7ULL << 5)	/* opmask, ZMM_Hi256, Hi16_ZMM */
#define NKVM_XFEATURE_PKRU	(1ULL << 9)
#define NKVM_XFEATURE_XTILE	(3ULL << 17)	/* tile config, tile data */

/* Where each XSAVE component lives in the standard (non-compacted) format. */
struct kvm_xstate_layout {
	u32 offset[64];
	u32 size[64];
};

/* The vCPU state the runtime step follows. */
struct kvm_cpuid_runtime {
	u64 cr4;
	u64 xcr0;
	u64 xss;
	bool apic_enabled;
	bool mwait_enabled;	/* MISC_ENABLE bit 18 */
	bool update_mwait;	/* the MISC_ENABLE_NO_MWAIT quirk is off */
};

#include <nkvm/cpuid_model.h>
#define kvm_cpuid_model kvm_cpuid_model_state

struct kvm_cpuid_entry2 *kvm_cpuid_find(struct kvm_cpuid_entry2 *entries,
					int nent, u32 function, u32 index);
int kvm_cpuid_check(const struct kvm_cpuid_entry2 *entries, int nent);
void kvm_cpuid_update_runtime(struct kvm_cpuid_entry2 *entries, int nent,
			      const struct kvm_cpuid_runtime *rt,
			      const struct kvm_xstate_layout *layout);
void kvm_cpuid_compute_model(struct kvm_cpuid_entry2 *entries, int nent,
			     u64 host_xcr0, u64 host_cr4_reserved,
			     struct kvm_cpuid_model *model);
struct kvm_cpuid_entry2 *kvm_cpuid_lookup(struct kvm_cpuid_entry2 *entries,
					  int nent,
					  const struct kvm_cpuid_model *model,
					  u32 function, u32 index);
u32 kvm_xstate_size(const struct kvm_xstate_layout *layout, u64 features);

#ifndef NKVM_USERSPACE
struct kvm_vcpu;

int kvm_cpuid_init(void);
void kvm_cpuid_exit(void);
int kvm_dev_ioctl_get_supported_cpuid(struct kvm_cpuid2 __user *ucpuid);
int kvm_vcpu_ioctl_set_cpuid(struct kvm_vcpu *vcpu,
			     struct kvm_cpuid __user *ucpuid);
int kvm_vcpu_ioctl_set_cpuid2(struct kvm_vcpu *vcpu,
			      struct kvm_cpuid2 __user *ucpuid);
int kvm_vcpu_ioctl_get_cpuid2(struct kvm_vcpu *vcpu,
			      struct kvm_cpuid2 __user *ucpuid);
void kvm_vcpu_cpuid_runtime(struct kvm_vcpu *vcpu);
void kvm_vcpu_cpuid_free(struct kvm_vcpu *vcpu);
void kvm_cpuid_query(struct kvm_vcpu *vcpu, u32 *eax, u32 *ebx, u32 *ecx,
		     u32 *edx);
bool kvm_guest_cpuid_has(struct kvm_vcpu *vcpu, u32 function, u32 index,
			 int reg, u32 bit);
bool kvm_guest_cpuid_is_amd(struct kvm_vcpu *vcpu);
u64 kvm_host_supported_xcr0(void);
const struct kvm_xstate_layout *kvm_host_xstate_layout(void);
#endif

/* Register numbers for kvm_guest_cpuid_has() (the kernel has them too). */
#ifdef NKVM_USERSPACE
enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };
#endif

#endif /* _NKVM_CPUID_H */
