// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: model-specific registers.
 *
 * Every guest RDMSR/WRMSR exits.  MSRs the hardware holds for the guest
 * (the syscall MSRs, FS/GS bases, SYSENTER, PAT) are the backend's; the
 * rest are kept here.  An MSR nobody knows raises #GP in the guest, or,
 * with KVM_CAP_X86_USER_SPACE_MSR, goes to userspace.
 *
 * A write from userspace (KVM_SET_MSRS, "host") may set what the guest may
 * not, so that a vCPU's state can be saved and restored exactly.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/nospec.h>
#include <asm/mce.h>
#include <asm/trapnr.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/cpufeature.h>
#include <asm/tsc.h>
#include <uapi/asm/kvm_para.h>

#include "x86.h"
#include "cpuid.h"
#include "pmu.h"
#include "lapic.h"
#include "hypercall.h"
#include "hyperv.h"

#define MAX_IO_MSRS		256

/* MSRs a VMM saves and restores (KVM_GET_MSR_INDEX_LIST). */
static const u32 msrs_to_save[] = {
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR,
	MSR_IA32_TSC, MSR_IA32_CR_PAT, MSR_IA32_TSC_ADJUST,
	MSR_IA32_MISC_ENABLE, MSR_PLATFORM_INFO, MSR_MISC_FEATURES_ENABLES,
	MSR_IA32_UCODE_REV, MSR_TSC_AUX, MSR_IA32_POWER_CTL,
	MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL,
	MSR_IA32_TSC_DEADLINE, MSR_IA32_ARCH_CAPABILITIES, MSR_K7_HWCR,
	MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK,
	MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_STEAL_TIME,
	MSR_KVM_ASYNC_PF_EN, MSR_KVM_PV_EOI_EN, MSR_KVM_ASYNC_PF_INT,
	MSR_KVM_ASYNC_PF_ACK,
	/* Last: only with nested SVM (see below). */
	MSR_VM_HSAVE_PA,
};

/* MSRs describing the host's features (KVM_GET_MSR_FEATURE_INDEX_LIST). */
static const u32 feature_msrs[] = {
	MSR_IA32_UCODE_REV, MSR_IA32_ARCH_CAPABILITIES,
	MSR_IA32_PERF_CAPABILITIES,
};

#define MTRR_CAP_VALUE		(0x500 | 8)	/* fixed + WC, 8 variable */
#define MSR_MTRR_VAR_FIRST	0x200		/* base 0, mask 0, base 1, ... */
#define MTRR_DEF_TYPE_MASK	0xcff		/* E, FE, type */
#define NR_MTRR_VAR		8

static bool mtrr_type_valid(u8 t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static bool mtrr_fixed_valid(u64 data)
{
	int i;

	for (i = 0; i < 8; i++)
		if (!mtrr_type_valid(data >> (i * 8)))
			return false;
	return true;
}

static bool pat_valid(u64 data)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 t = data >> (i * 8);

		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}

/* Index of a fixed-range MTRR in vcpu->arch.mtrr_fixed[], or -1. */
static int mtrr_fixed_index(u32 msr)
{
	switch (msr) {
	case MSR_MTRRfix64K_00000:
		return 0;
	case MSR_MTRRfix16K_80000:
	case MSR_MTRRfix16K_A0000:
		return 1 + msr - MSR_MTRRfix16K_80000;
	case MSR_MTRRfix4K_C0000 ... MSR_MTRRfix4K_F8000:
		return 3 + msr - MSR_MTRRfix4K_C0000;
	default:
		return -1;
	}
}

/* RDTSCP or RDPID in the guest's CPUID make TSC_AUX its to use. */
static bool kvm_guest_has_tsc_aux(struct kvm_vcpu *vcpu)
{
	return kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_EDX, BIT(27)) ||
	       kvm_guest_cpuid_has(vcpu, 7, 0, CPUID_ECX, BIT(22));
}

static u64 kvm_phys_mask(struct kvm_vcpu *vcpu)
{
	return GENMASK_ULL(vcpu->arch.model.maxphyaddr - 1, 0);
}

static bool is_canonical(u64 addr)
{
	return (s64)(addr << 16) >> 16 == (s64)addr;
}

u64 kvm_read_guest_tsc(struct kvm_vcpu *vcpu)
{
	return rdtsc() + vcpu->arch.tsc_offset;
}

/*
 * Userspace writes the same TSC value to every vCPU of a VM, one after the
 * other: give them all the same offset so that their TSCs agree.
 */
void kvm_host_set_tsc(struct kvm_vcpu *vcpu, u64 data)
{
	struct kvm_arch *ka = &vcpu->kvm->arch;
	u64 now = rdtsc();
	unsigned long flags;

	spin_lock_irqsave(&ka->tsc_lock, flags);
	if (ka->tsc_write_valid && data == ka->last_tsc_write &&
	    now - ka->last_tsc_host < (u64)tsc_khz * 1000)
		vcpu->arch.tsc_offset = ka->last_tsc_offset;
	else
		vcpu->arch.tsc_offset = data - now;
	ka->tsc_write_valid = true;
	ka->last_tsc_write = data;
	ka->last_tsc_host = now;
	ka->last_tsc_offset = vcpu->arch.tsc_offset;
	spin_unlock_irqrestore(&ka->tsc_lock, flags);
}

static int kvm_set_apic_base(struct kvm_vcpu *vcpu, u64 data, bool host)
{
	u64 reserved = ~kvm_phys_mask(vcpu) | 0x2ff;	/* bits 0-7, 9 */

	if (kvm_lapic_in_kernel(vcpu)) {
		/* x2APIC (EXTD) only if the guest's CPUID has it. */
		if (!kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(21)))
			reserved |= X2APIC_ENABLE;
		if ((data & reserved) ||
		    !vlapic_base_valid(vcpu->arch.apic_base, data, host))
			return 1;
		vcpu->arch.apic_base = data;
		kvm_lapic_set_base(vcpu, data);
	} else {
		/* x2APIC needs an in-kernel APIC. */
		if (data & (reserved | X2APIC_ENABLE))
			return 1;
		vcpu->arch.apic_base = data;
	}
	kvm_vcpu_cpuid_runtime(vcpu);
	return 0;
}

int kvm_set_apic_base_host(struct kvm_vcpu *vcpu, u64 data)
{
	return kvm_set_apic_base(vcpu, data, true);
}

/*
 * EFER: bits the host does not have are reserved; a guest may set LME,
 * NXE and FFXSR only if its CPUID offers the feature, and may not change
 * LME while paging is on.  LMA is the CPU's to set (as paging is turned on
 * with LME set): a write, the guest's or userspace's, leaves it as it is,
 * as on Linux, so that no entry ever has LMA without paging.
 */
static int kvm_set_efer(struct kvm_vcpu *vcpu, u64 efer, bool host)
{
	u64 known = EFER_SCE | EFER_LME | EFER_LMA;

	if (boot_cpu_has(X86_FEATURE_NX))
		known |= EFER_NX;
	if (boot_cpu_has(X86_FEATURE_FXSR_OPT))
		known |= EFER_FFXSR;
	if (kvm_x86_ops->nested_svm)
		known |= EFER_SVME;
	if (efer & ~known)
		return 1;

	if (!host) {
		if ((efer & (EFER_LME | EFER_LMA)) &&
		    !kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_EDX, BIT(29)))
			return 1;
		if ((efer & EFER_NX) &&
		    !kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_EDX, BIT(20)))
			return 1;
		if ((efer & EFER_FFXSR) &&
		    !kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_EDX, BIT(25)))
			return 1;
		/* SVM only where the guest's CPUID offers it. */
		if ((efer & EFER_SVME) &&
		    !kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_ECX, BIT(2)))
			return 1;
		if ((vcpu->arch.cr0 & X86_CR0_PG) &&
		    ((efer ^ vcpu->arch.efer) & EFER_LME))
			return 1;
	}
	efer = (efer & ~EFER_LMA) | (vcpu->arch.efer & EFER_LMA);
	return kvm_x86_ops->set_efer(vcpu, efer, host);
}

/* ---- Machine check ------------------------------------------------------ */

/* The MCE capabilities nkvm offers (KVM_X86_GET_MCE_CAP_SUPPORTED). */
#define NKVM_MCE_CAP_SUPPORTED	(MCG_CTL_P | MCG_SER_P)

#define MSR_MC_FIRST	MSR_IA32_MC0_CTL
#define MSR_MC_LAST	(MSR_IA32_MC0_CTL + 4 * NKVM_MAX_MCE_BANKS - 1)
#define MSR_MC_CTL2_LAST (MSR_IA32_MC0_CTL2 + NKVM_MAX_MCE_BANKS - 1)

static bool is_mce_msr(u32 index)
{
	return (index >= MSR_IA32_MCG_CAP && index <= MSR_IA32_MCG_CTL) ||
	       (index >= MSR_MC_FIRST && index <= MSR_MC_LAST) ||
	       (index >= MSR_IA32_MC0_CTL2 && index <= MSR_MC_CTL2_LAST) ||
	       index == MSR_IA32_P5_MC_ADDR || index == MSR_IA32_P5_MC_TYPE;
}

static unsigned int mce_nr_banks(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.mcg_cap & MCG_BANKCNT_MASK;
}

/*
 * At vCPU creation, and not at RESET (as on Linux): before
 * KVM_X86_SETUP_MCE, all the banks and no MCG_CTL.
 */
void kvm_mce_init(struct kvm_vcpu *vcpu)
{
	vcpu->arch.mcg_cap = NKVM_MAX_MCE_BANKS;
	vcpu->arch.mcg_status = 0;
	vcpu->arch.mcg_ctl = 0;
	memset(vcpu->arch.mce_banks, 0, sizeof(vcpu->arch.mce_banks));
}

static int kvm_get_mce_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data,
			   bool host)
{
	u64 cap = vcpu->arch.mcg_cap;
	u32 n = mce_nr_banks(vcpu);

	switch (index) {
	case MSR_IA32_P5_MC_ADDR:
	case MSR_IA32_P5_MC_TYPE:
		*data = 0;
		return 0;
	case MSR_IA32_MCG_CAP:
		*data = cap;
		return 0;
	case MSR_IA32_MCG_STATUS:
		*data = vcpu->arch.mcg_status;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(cap & MCG_CTL_P) && !host)
			return 1;
		*data = vcpu->arch.mcg_ctl;
		return 0;
	case MSR_IA32_MC0_CTL2 ... MSR_MC_CTL2_LAST:
		/* No CMCI is offered: there for userspace, as zeros. */
		if (index - MSR_IA32_MC0_CTL2 >= n || !host)
			return 1;
		*data = 0;
		return 0;
	default:	/* the banks */
		if (index - MSR_MC_FIRST >= 4 * n)
			return 1;
		*data = vcpu->arch.mce_banks[array_index_nospec(index - MSR_MC_FIRST,
								4 * n)];
		return 0;
	}
}

static int kvm_set_mce_msr(struct kvm_vcpu *vcpu, u32 index, u64 data,
			   bool host)
{
	u64 cap = vcpu->arch.mcg_cap;
	u32 n = mce_nr_banks(vcpu), i;

	switch (index) {
	case MSR_IA32_MCG_STATUS:
		vcpu->arch.mcg_status = data;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(cap & MCG_CTL_P) && (data || !host))
			return 1;
		if (data && data != ~0ULL)
			return 1;
		vcpu->arch.mcg_ctl = data;
		return 0;
	case MSR_IA32_MC0_CTL2 ... MSR_MC_CTL2_LAST:
		if (index - MSR_IA32_MC0_CTL2 >= n || data || !host)
			return 1;
		return 0;
	case MSR_MC_FIRST ... MSR_MC_LAST:
		i = index - MSR_MC_FIRST;
		if (i >= 4 * n)
			return 1;
		/*
		 * MCi_CTL takes 0 or all ones; as on Linux, bits 10 and 0 may
		 * be clear (guests that turn off the K8 GART TLB bank bit or
		 * single-bit ECC reports would fault otherwise).
		 */
		if (i % 4 == 0 && data && (data | BIT_ULL(10) | 1) != ~0ULL)
			return 1;
		/*
		 * A guest may clear MCi_STATUS; other values only on AMD with
		 * HWCR.McStatusWrEn.
		 */
		if (i % 4 == 1 && !host && data &&
		    !(kvm_guest_cpuid_is_amd(vcpu) &&
		      (vcpu->arch.hwcr & BIT_ULL(18))))
			return 1;
		vcpu->arch.mce_banks[array_index_nospec(i, 4 * n)] = data;
		return 0;
	default:	/* MCG_CAP and the P5 MSRs are read-only */
		return 1;
	}
}

/* KVM_X86_GET_MCE_CAP_SUPPORTED */
int kvm_dev_ioctl_get_mce_cap(u64 __user *ucap)
{
	u64 cap = NKVM_MCE_CAP_SUPPORTED;

	return copy_to_user(ucap, &cap, sizeof(cap)) ? -EFAULT : 0;
}

/* KVM_X86_SETUP_MCE: the banks and capabilities the vCPU has. */
int kvm_vcpu_setup_mce(struct kvm_vcpu *vcpu, u64 cap)
{
	u32 n = cap & MCG_BANKCNT_MASK, i;

	/* Bits 16-23 are the extended-state count: ignored, as on Linux. */
	if (!n || n > NKVM_MAX_MCE_BANKS)
		return -EINVAL;
	if (cap & ~(NKVM_MCE_CAP_SUPPORTED | MCG_BANKCNT_MASK | 0xff0000ULL))
		return -EINVAL;
	/* AMD reserves MCG_CAP bits 63:9 (MCG_SER_P is Intel's): dropped. */
	if (boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON)
		cap &= GENMASK_ULL(8, 0);
	vcpu->arch.mcg_cap = cap;
	if (cap & MCG_CTL_P)
		vcpu->arch.mcg_ctl = ~0ULL;
	for (i = 0; i < n; i++)
		vcpu->arch.mce_banks[4 * i] = ~0ULL;
	return 0;
}

/*
 * KVM_X86_SET_MCE: a machine check for the guest, as Linux reports it.  An
 * uncorrected error the guest can take raises #MC; one while MCIP is set
 * or with CR4.MCE clear shuts the vCPU down.  Reporting disabled by
 * MCG_CTL or MCi_CTL drops it; a corrected one, or an uncorrected one
 * needing no action (UCNA), only fills the bank (no CMCI is offered).
 */
int kvm_vcpu_set_mce(struct kvm_vcpu *vcpu, const struct kvm_x86_mce *mce)
{
	u32 n = mce_nr_banks(vcpu);
	u64 status = mce->status;
	bool uc = status & MCI_STATUS_UC;
	u64 *bank;

	if (mce->bank >= n || !(status & MCI_STATUS_VAL))
		return -EINVAL;
	bank = &vcpu->arch.mce_banks[4 * array_index_nospec(mce->bank, n)];

	if (uc && !mce->mcg_status &&
	    !(status & (MCI_STATUS_PCC | MCI_STATUS_S | MCI_STATUS_AR))) {
		bank[1] = status;
		bank[2] = mce->addr;
		bank[3] = mce->misc;
		vcpu->arch.mcg_status = mce->mcg_status;
		return 0;
	}
	if (uc && (vcpu->arch.mcg_cap & MCG_CTL_P) &&
	    vcpu->arch.mcg_ctl != ~0ULL)
		return 0;
	if (uc && bank[0] != ~0ULL)
		return 0;

	if (uc) {
		if ((vcpu->arch.mcg_status & MCG_STATUS_MCIP) ||
		    !(vcpu->arch.cr4 & X86_CR4_MCE)) {
			vcpu->arch.triple_fault_pending = true;
			return 0;
		}
		if (bank[1] & MCI_STATUS_VAL)
			status |= MCI_STATUS_OVER;
		bank[1] = status;
		bank[2] = mce->addr;
		bank[3] = mce->misc;
		vcpu->arch.mcg_status = mce->mcg_status;
		nkvm_queue_exception(vcpu, X86_TRAP_MC, false, 0);
	} else if (!(bank[1] & MCI_STATUS_VAL) || !(bank[1] & MCI_STATUS_UC)) {
		/* A corrected error does not replace an uncorrected one. */
		if (bank[1] & MCI_STATUS_VAL)
			status |= MCI_STATUS_OVER;
		bank[1] = status;
		bank[2] = mce->addr;
		bank[3] = mce->misc;
	} else {
		bank[1] |= MCI_STATUS_OVER;
	}
	return 0;
}

int kvm_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	int i, r;

	if (kvm_lapic_in_kernel(vcpu) && kvm_lapic_is_x2apic_msr(index))
		return kvm_lapic_msr_read(vcpu, index, data);
	if (is_mce_msr(index))
		return kvm_get_mce_msr(vcpu, index, data, host);
	if (kvm_is_pv_msr(index))
		return kvm_pv_get_msr(vcpu, index, data);
	if (kvm_hv_is_msr(index))
		return kvm_hv_get_msr(vcpu, index, data, host);

	switch (index) {
	case MSR_IA32_TSC_DEADLINE:
		/* Without the in-kernel APIC it reads 0, as on Linux. */
		*data = kvm_lapic_in_kernel(vcpu) ?
			kvm_lapic_get_tscdeadline(vcpu) : 0;
		return 0;
	case MSR_EFER:
		*data = vcpu->arch.efer;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->arch.apic_base;
		return 0;
	case MSR_IA32_TSC:
		/*
		 * The guest reads its own TSC, L2's when it runs L2 (and L1
		 * did not intercept the read); userspace always reads L1's,
		 * which is what it saves and restores.  As on Linux.
		 */
		*data = kvm_read_guest_tsc(vcpu);
		if (!host && kvm_x86_ops->nested_tsc_offset)
			*data += kvm_x86_ops->nested_tsc_offset(vcpu);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*data = vcpu->arch.tsc_adjust;
		return 0;
	case MSR_K7_HWCR:
		*data = vcpu->arch.hwcr;
		return 0;
	case MSR_TSC_AUX:
		if (!host && !kvm_guest_has_tsc_aux(vcpu))
			return 1;
		*data = vcpu->arch.tsc_aux;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*data = vcpu->arch.misc_enable;
		return 0;
	case MSR_IA32_UCODE_REV:
		*data = vcpu->arch.ucode_rev;
		return 0;
	case MSR_IA32_SPEC_CTRL:
		return nkvm_get_spec_ctrl(vcpu, data, host);
	case MSR_AMD64_VIRT_SPEC_CTRL:
		return nkvm_get_virt_spec_ctrl(vcpu, data, host);
	case MSR_PLATFORM_INFO:
		if (!host && !vcpu->kvm->arch.guest_can_read_platform_info)
			return 1;
		*data = vcpu->arch.platform_info;
		return 0;
	case MSR_MISC_FEATURES_ENABLES:
		*data = vcpu->arch.misc_features_enables;
		return 0;
	case MSR_IA32_POWER_CTL:
		*data = vcpu->arch.power_ctl;
		return 0;
	case MSR_IA32_SMBASE:
		/* Userspace's only: the guest sees it in the SMRAM map. */
		if (!host || !kvm_smm_supported())
			return 1;
		*data = vcpu->arch.smbase;
		return 0;
	case MSR_MTRRcap:
		*data = MTRR_CAP_VALUE;
		return 0;
	case MSR_MTRRdefType:
		*data = vcpu->arch.mtrr_def_type;
		return 0;
	case MSR_MTRRfix64K_00000:
	case MSR_MTRRfix16K_80000:
	case MSR_MTRRfix16K_A0000:
	case MSR_MTRRfix4K_C0000 ... MSR_MTRRfix4K_F8000:
		*data = vcpu->arch.mtrr_fixed[mtrr_fixed_index(index)];
		return 0;
	case MSR_MTRR_VAR_FIRST ... MSR_MTRR_VAR_FIRST + 2 * NR_MTRR_VAR - 1:
		i = index - MSR_MTRR_VAR_FIRST;
		*data = vcpu->arch.mtrr_var[i];
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		/* Read-only for a guest whose CPUID names it. */
		if (!host && !kvm_guest_cpuid_has(vcpu, 7, 0, CPUID_EDX, BIT(29)))
			return 1;
		*data = vcpu->arch.arch_capabilities;
		return 0;
	/*
	 * AMD configuration MSRs that Linux guests read (and some write) on
	 * any AMD model: zero, as on Linux KVM, which hides the host's.
	 */
	case MSR_AMD64_SYSCFG:
	case MSR_K8_TSEG_ADDR:
	case MSR_K8_TSEG_MASK:
	case MSR_K8_INT_PENDING_MSG:
	case MSR_AMD64_NB_CFG:
	case MSR_FAM10H_MMIO_CONF_BASE:
	case MSR_AMD64_BU_CFG2:
	case MSR_IA32_PERF_CTL:
	case MSR_AMD64_DC_CFG:
	case MSR_AMD64_TW_CFG:
	case MSR_F15H_EX_CFG:
		*data = 0;
		return 0;
	default:
		r = kvm_pmu_get_msr(vcpu, index, data, host);
		if (r != -ENOENT)
			return r;
		r = kvm_x86_ops->get_msr(vcpu, index, data);
		return r == -ENOENT ? 1 : r;
	}
}

int kvm_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	s64 adj;
	int i, r;

	if (kvm_lapic_in_kernel(vcpu) && kvm_lapic_is_x2apic_msr(index))
		return kvm_lapic_msr_write(vcpu, index, data);
	if (is_mce_msr(index))
		return kvm_set_mce_msr(vcpu, index, data, host);
	if (kvm_is_pv_msr(index))
		return kvm_pv_set_msr(vcpu, index, data, host);
	if (kvm_hv_is_msr(index))
		return kvm_hv_set_msr(vcpu, index, data, host);

	switch (index) {
	case MSR_IA32_TSC_DEADLINE:
		/* Without the in-kernel APIC writes are dropped, as on Linux. */
		if (kvm_lapic_in_kernel(vcpu))
			kvm_lapic_set_tscdeadline(vcpu, data);
		return 0;
	case MSR_EFER:
		return kvm_set_efer(vcpu, data, host);
	case MSR_K7_HWCR:
		/* Bits Linux guests write and nkvm ignores, and McStatusWrEn. */
		data &= ~(u64)(0x40 | 0x100 | 0x8);
		if (data & ~BIT_ULL(18))
			return 1;
		vcpu->arch.hwcr = data;
		return 0;
	case MSR_IA32_APICBASE:
		return kvm_set_apic_base(vcpu, data, host);
	case MSR_IA32_TSC:
		if (host) {
			/* Userspace setting the TSC leaves TSC_ADJUST alone. */
			kvm_host_set_tsc(vcpu, data);
		} else {
			/*
			 * As Linux does, a write even from L2 sets L1's TSC
			 * (L2's moves with it, by L1's offset for L2).
			 */
			adj = data - kvm_read_guest_tsc(vcpu);
			vcpu->arch.tsc_offset += adj;
			vcpu->arch.tsc_adjust += adj;
		}
		/* kvmclock's TSC reference moved with it. */
		kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		if (!host) {
			vcpu->arch.tsc_offset += data - vcpu->arch.tsc_adjust;
			kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		}
		vcpu->arch.tsc_adjust = data;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		/*
		 * Without the MISC_ENABLE_NO_MWAIT quirk, the MWAIT bit shows
		 * in CPUID, and only a guest with SSE3 may change it (Linux's
		 * rule, for userspace's writes too).
		 */
		if (!kvm_has_quirk(vcpu->kvm, KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT) &&
		    ((vcpu->arch.misc_enable ^ data) & MSR_IA32_MISC_ENABLE_MWAIT) &&
		    !kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(0)))
			return 1;
		if (!kvm_misc_enable_write(vcpu->arch.misc_enable, data, host,
					   &vcpu->arch.misc_enable))
			return 1;
		kvm_vcpu_cpuid_runtime(vcpu);
		return 0;
	case MSR_IA32_UCODE_REV:
		if (host)
			vcpu->arch.ucode_rev = data;
		return 0;	/* a guest's write is ignored */
	case MSR_TSC_AUX:
		if (!host && !kvm_guest_has_tsc_aux(vcpu))
			return 1;
		/*
		 * Bits 63:32 are reserved on Intel; AMD ignores them.  As on
		 * Linux, the guest's vendor decides, and they read as 0.
		 */
		if (vcpu->arch.model.intel && (data >> 32))
			return 1;
		vcpu->arch.tsc_aux = (u32)data;
		return 0;
	case MSR_IA32_SPEC_CTRL:
		return nkvm_set_spec_ctrl(vcpu, data, host);
	case MSR_AMD64_VIRT_SPEC_CTRL:
		return nkvm_set_virt_spec_ctrl(vcpu, data, host);
	case MSR_IA32_PRED_CMD:
		/*
		 * IBPB, when the guest was offered it: done on the host.  As
		 * on Linux, a host without IBPB refuses even 0.
		 */
		if (!host && !nkvm_guest_has_pred_cmd(vcpu))
			return 1;
		if ((data & ~PRED_CMD_IBPB) || !boot_cpu_has(X86_FEATURE_IBPB))
			return 1;
		if (data)
			wrmsrl(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
		return 0;
	case MSR_PLATFORM_INFO:
		if (!host)
			return 1;
		vcpu->arch.platform_info = data;
		return 0;
	case MSR_IA32_POWER_CTL:
		/* Power management is the host's: kept, with no effect. */
		vcpu->arch.power_ctl = data;
		return 0;
	case MSR_IA32_SMBASE:
		if (!host || !kvm_smm_supported())
			return 1;
		vcpu->arch.smbase = data;
		return 0;
	case MSR_MISC_FEATURES_ENABLES:
		/* CPUID faulting is not offered. */
		if (data)
			return 1;
		vcpu->arch.misc_features_enables = data;
		return 0;
	case MSR_MTRRcap:
		return host && data == MTRR_CAP_VALUE ? 0 : 1;
	case MSR_MTRRdefType:
		if ((data & ~MTRR_DEF_TYPE_MASK) || !mtrr_type_valid(data & 0xff))
			return 1;
		vcpu->arch.mtrr_def_type = data;
		return 0;
	case MSR_MTRRfix64K_00000:
	case MSR_MTRRfix16K_80000:
	case MSR_MTRRfix16K_A0000:
	case MSR_MTRRfix4K_C0000 ... MSR_MTRRfix4K_F8000:
		if (!mtrr_fixed_valid(data))
			return 1;
		vcpu->arch.mtrr_fixed[mtrr_fixed_index(index)] = data;
		return 0;
	case MSR_MTRR_VAR_FIRST ... MSR_MTRR_VAR_FIRST + 2 * NR_MTRR_VAR - 1:
		i = index - MSR_MTRR_VAR_FIRST;
		if (i & 1) {	/* mask: valid bit 11, address bits */
			if (data & ~(kvm_phys_mask(vcpu) & ~0x7ffULL) & ~BIT_ULL(11))
				return 1;
		} else {	/* base: type, address bits */
			if ((data & ~(kvm_phys_mask(vcpu) & ~0xfffULL) & ~0xffULL) ||
			    !mtrr_type_valid(data & 0xff))
				return 1;
		}
		vcpu->arch.mtrr_var[i] = data;
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		if (!host)
			return 1;
		vcpu->arch.arch_capabilities = data;
		return 0;
	/* Their writes are ignored, as on Linux KVM. */
	case MSR_AMD64_NB_CFG:
	case MSR_AMD64_BU_CFG2:
	case MSR_AMD64_DC_CFG:
	case MSR_AMD64_TW_CFG:
	case MSR_F15H_EX_CFG:
		return 0;
	case MSR_IA32_CR_PAT:
		if (!pat_valid(data))
			return 1;
		break;	/* held by the backend */
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!is_canonical(data))
			return 1;
		break;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		/*
		 * No #GP for a non-canonical value: AMD ignores the upper
		 * half (64-bit SYSENTER does not exist there).  Made
		 * canonical, as on Linux, so that an Intel entry never fails.
		 */
		data = (s64)(data << 16) >> 16;
		break;
	default:
		r = kvm_pmu_set_msr(vcpu, index, data, host);
		if (r != -ENOENT)
			return r;
		break;
	}
	r = kvm_x86_ops->set_msr(vcpu, index, data);
	return r == -ENOENT ? 1 : r;
}

/* Power-on values of the MSRs kept here. */
void kvm_msr_reset(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	arch->misc_enable = MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL |
			    MSR_IA32_MISC_ENABLE_BTS_UNAVAIL;
	arch->misc_enable = kvm_misc_enable_model(arch->misc_enable,
						  arch->has_pmu);
	arch->ucode_rev = 0x100000000ULL;
	arch->arch_capabilities = nkvm_arch_capabilities();
	arch->mtrr_def_type = 0;
	memset(arch->mtrr_fixed, 0, sizeof(arch->mtrr_fixed));
	memset(arch->mtrr_var, 0, sizeof(arch->mtrr_var));
	arch->misc_features_enables = 0;
	arch->power_ctl = 0;
	arch->hwcr = 0;
}

/* Does nkvm implement this MSR (whatever value it may refuse)? */
bool kvm_msr_known(struct kvm_vcpu *vcpu, u32 index)
{
	u64 data;

	/* Banks beyond MCG_CAP's count are refused, not unknown (Linux). */
	if (is_mce_msr(index))
		return true;
	return !kvm_get_msr(vcpu, index, &data, true);
}

/* ---- MSR filtering (KVM_X86_SET_MSR_FILTER) ----------------------------- */

struct kvm_msr_filter_range_state {
	u32 flags;
	u32 nmsrs;
	u32 base;
	unsigned long *bitmap;
};

struct kvm_msr_filter_state {
	bool default_deny;
	int nr_ranges;
	struct kvm_msr_filter_range_state ranges[KVM_MSR_FILTER_MAX_RANGES];
};

static void msr_filter_free(struct kvm_msr_filter_state *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < f->nr_ranges; i++)
		kfree(f->ranges[i].bitmap);
	kfree(f);
}

void kvm_msr_filter_free(struct kvm *kvm)
{
	msr_filter_free(rcu_dereference_protected(kvm->arch.msr_filter, true));
	RCU_INIT_POINTER(kvm->arch.msr_filter, NULL);
}

/* Called under kvm->srcu (the run loop holds it). */
bool kvm_msr_allowed(struct kvm_vcpu *vcpu, u32 index, u32 type)
{
	struct kvm_msr_filter_state *f;
	int i;

	/* The x2APIC range is never filtered, as on Linux. */
	if (index >= 0x800 && index <= 0x8ff)
		return true;

	f = srcu_dereference(vcpu->kvm->arch.msr_filter, &vcpu->kvm->srcu);
	if (!f)
		return true;
	for (i = 0; i < f->nr_ranges; i++) {
		struct kvm_msr_filter_range_state *r = &f->ranges[i];

		if ((r->flags & type) && index >= r->base &&
		    index - r->base < r->nmsrs)
			return test_bit(index - r->base, r->bitmap);
	}
	return !f->default_deny;
}

int kvm_vm_ioctl_set_msr_filter(struct kvm *kvm, void __user *argp)
{
	struct kvm_msr_filter_state *new, *old;
	struct kvm_msr_filter filter;
	bool empty = true;
	int i, r;

	if (copy_from_user(&filter, argp, sizeof(filter)))
		return -EFAULT;
	if (filter.flags & ~KVM_MSR_FILTER_DEFAULT_DENY)
		return -EINVAL;
	for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++)
		empty &= !filter.ranges[i].nmsrs;
	/* Denying everything with no range to allow anything is a mistake. */
	if (empty && (filter.flags & KVM_MSR_FILTER_DEFAULT_DENY))
		return -EINVAL;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;
	new->default_deny = filter.flags & KVM_MSR_FILTER_DEFAULT_DENY;

	for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
		struct kvm_msr_filter_range *u = &filter.ranges[i];
		struct kvm_msr_filter_range_state *k;
		size_t bytes;

		if (!u->nmsrs)
			continue;
		r = -EINVAL;
		if (!u->flags ||
		    (u->flags & ~(KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE)))
			goto err;
		bytes = BITS_TO_LONGS(u->nmsrs) * sizeof(long);
		if (bytes > KVM_MSR_FILTER_MAX_BITMAP_SIZE)
			goto err;
		k = &new->ranges[new->nr_ranges];
		k->bitmap = memdup_user((void __user *)u->bitmap, bytes);
		if (IS_ERR(k->bitmap)) {
			r = PTR_ERR(k->bitmap);
			k->bitmap = NULL;
			goto err;
		}
		k->flags = u->flags;
		k->nmsrs = u->nmsrs;
		k->base = u->base;
		new->nr_ranges++;
	}

	mutex_lock(&kvm->lock);
	old = rcu_dereference_protected(kvm->arch.msr_filter,
					lockdep_is_held(&kvm->lock));
	rcu_assign_pointer(kvm->arch.msr_filter, new);
	mutex_unlock(&kvm->lock);
	synchronize_srcu(&kvm->srcu);
	msr_filter_free(old);
	/* MSRs passed through may be filtered now, or the other way round. */
	kvm_make_all_vcpus_request(kvm, KVM_REQ_MSR_FILTER_CHANGED);
	return 0;
err:
	msr_filter_free(new);
	return r;
}

/* ---- Feature MSRs: the host's, as nkvm offers them ---------------------- */

static int kvm_get_feature_msr(u32 index, u64 *data)
{
	switch (index) {
	case MSR_IA32_UCODE_REV:
		/* The host CPU's, as Linux reads it (AMD: bits 31:0). */
		if (rdmsrl_safe(MSR_IA32_UCODE_REV, data))
			*data = 0x100000000ULL;
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		/* What the host's CPU is free of (spec.c). */
		*data = nkvm_arch_capabilities();
		return 0;
	case MSR_IA32_PERF_CAPABILITIES:
		/* Full-width writes with the Intel vPMU; no LBR, no PEBS. */
		*data = kvm_pmu_supported_perf_caps();
		return 0;
	default:
		return 1;
	}
}

/* ---- Ioctls ------------------------------------------------------------ */

/*
 * KVM_GET_MSR_INDEX_LIST and KVM_GET_MSR_FEATURE_INDEX_LIST: nmsrs always
 * comes back as the list's length; -E2BIG if the buffer was shorter.
 */
int kvm_dev_ioctl_get_msr_index_list(struct kvm_msr_list __user *ulist,
				     bool features)
{
	const u32 *list = features ? feature_msrs : msrs_to_save;
	u32 n = features ? ARRAY_SIZE(feature_msrs) : ARRAY_SIZE(msrs_to_save);
	static const u32 smbase = MSR_IA32_SMBASE;
	u32 nhv = features ? 0 : kvm_hv_nr_msrs_to_save;
	/* SMBASE, where there is SMM (userspace's to save, as on Linux). */
	u32 nsmm = !features && kvm_smm_supported();
	struct kvm_msr_list head;
	const u32 *pmu_list;
	u32 room, npmu = 0, nspec = 0;
	u32 spec[2];

	if (!features && !kvm_x86_ops->nested_svm)
		n--;	/* no MSR_VM_HSAVE_PA */
	/* The vPMU's counters and the Hyper-V MSRs are saved too. */
	pmu_list = kvm_pmu_msrs_to_save(&npmu);
	if (features)
		npmu = 0;
	/*
	 * IA32_SPEC_CTRL, where guests are offered it (spec.c), and, as
	 * Linux lists it, AMD's VIRT_SPEC_CTRL wherever the backend has it.
	 */
	if (!features && boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		spec[nspec++] = MSR_IA32_SPEC_CTRL;
	if (!features && kvm_x86_ops->virt_spec_ctrl)
		spec[nspec++] = MSR_AMD64_VIRT_SPEC_CTRL;
	if (copy_from_user(&head, ulist, sizeof(head)))
		return -EFAULT;
	room = head.nmsrs;
	head.nmsrs = n + npmu + nspec + nhv + nsmm;
	if (copy_to_user(ulist, &head, sizeof(head)))
		return -EFAULT;
	if (room < head.nmsrs)
		return -E2BIG;
	if (copy_to_user(ulist->indices, list, n * sizeof(u32)) ||
	    copy_to_user(ulist->indices + n, pmu_list, npmu * sizeof(u32)) ||
	    copy_to_user(ulist->indices + n + npmu, spec,
			 nspec * sizeof(u32)) ||
	    copy_to_user(ulist->indices + n + npmu + nspec,
			 kvm_hv_msrs_to_save, nhv * sizeof(u32)) ||
	    copy_to_user(ulist->indices + n + npmu + nspec + nhv, &smbase,
			 nsmm * sizeof(u32)))
		return -EFAULT;
	return 0;
}

/*
 * KVM_GET_MSRS / KVM_SET_MSRS: process the entries in order, stop at the
 * first that fails, and return how many succeeded.
 */
static int kvm_msrs_io(struct kvm_msrs __user *umsrs, struct kvm_vcpu *vcpu,
		       bool set)
{
	struct kvm_msr_entry *entries;
	struct kvm_msrs msrs;
	u32 i;
	int r;

	if (copy_from_user(&msrs, umsrs, sizeof(msrs)))
		return -EFAULT;
	if (msrs.nmsrs >= MAX_IO_MSRS)
		return -E2BIG;
	if (!msrs.nmsrs)
		return 0;

	entries = memdup_user(umsrs->entries, msrs.nmsrs * sizeof(*entries));
	if (IS_ERR(entries))
		return PTR_ERR(entries);

	for (i = 0; i < msrs.nmsrs; i++) {
		struct kvm_msr_entry *e = &entries[i];

		if (!vcpu)
			r = kvm_get_feature_msr(e->index, &e->data);
		else if (set)
			r = kvm_set_msr(vcpu, e->index, e->data, true);
		else
			r = kvm_get_msr(vcpu, e->index, &e->data, true);
		if (r)
			break;
	}

	r = i;
	if (!set && copy_to_user(umsrs->entries, entries, i * sizeof(*entries)))
		r = -EFAULT;
	kfree(entries);
	return r;
}

int kvm_dev_ioctl_get_feature_msrs(struct kvm_msrs __user *umsrs)
{
	return kvm_msrs_io(umsrs, NULL, false);
}

int kvm_vcpu_ioctl_msrs(struct kvm_vcpu *vcpu, struct kvm_msrs __user *umsrs,
			bool set)
{
	return kvm_msrs_io(umsrs, vcpu, set);
}
