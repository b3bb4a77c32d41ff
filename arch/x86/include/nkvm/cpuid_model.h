/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: what a vCPU's CPUID table means for it (arch/x86/kvm/cpuid.h, step
 * 3).  Its own header so that the pure CPUID code also builds in userspace.
 */
#ifndef _NKVM_X86_CPUID_MODEL_H
#define _NKVM_X86_CPUID_MODEL_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#else
#include "unit_compat.h"
#endif

/*
 * MAXPHYADDR, the XCR0 bits the guest may set, the CR4 bits it may not,
 * whether it is GenuineIntel, whether leaves beyond their range repeat
 * the highest basic leaf (every vendor but AMD and Hygon), and whether it
 * has RDTSCP, and RDTSCP or RDPID (then TSC_AUX is its), and whether its
 * paging has 1 GiB pages (for the page-table walker).
 */
struct kvm_cpuid_model_state {
	u8 maxphyaddr;
	u64 supported_xcr0;
	u64 cr4_reserved;
	bool intel;
	bool out_of_range_to_basic;
	u32 max_basic_leaf;
	bool rdtscp;
	bool tsc_aux;
	bool gbpages;
};

#endif /* _NKVM_X86_CPUID_MODEL_H */
