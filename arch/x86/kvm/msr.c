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
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/cpufeature.h>
#include <asm/tsc.h>
#include <uapi/asm/kvm_para.h>

#include "x86.h"
#include "cpuid.h"
#include "pmu.h"
#include "lapic.h"

#define MAX_IO_MSRS		256

/* MSRs a VMM saves and restores (KVM_GET_MSR_INDEX_LIST). */
static const u32 msrs_to_save[] = {
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR,
	MSR_IA32_TSC, MSR_IA32_CR_PAT, MSR_IA32_TSC_ADJUST,
	MSR_IA32_MISC_ENABLE, MSR_PLATFORM_INFO, MSR_MISC_FEATURES_ENABLES,
	MSR_IA32_UCODE_REV, MSR_TSC_AUX,
	MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK,
	MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW,
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
 * LME while paging is on.
 */
static int kvm_set_efer(struct kvm_vcpu *vcpu, u64 efer, bool host)
{
	u64 known = EFER_SCE | EFER_LME | EFER_LMA;

	if (boot_cpu_has(X86_FEATURE_NX))
		known |= EFER_NX;
	if (boot_cpu_has(X86_FEATURE_FXSR_OPT))
		known |= EFER_FFXSR;
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
		if ((vcpu->arch.cr0 & X86_CR0_PG) &&
		    ((efer ^ vcpu->arch.efer) & EFER_LME))
			return 1;
	}
	return kvm_x86_ops->set_efer(vcpu, efer, host);
}

int kvm_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	int i, r;

	if (kvm_lapic_in_kernel(vcpu) && kvm_lapic_is_x2apic_msr(index))
		return kvm_lapic_msr_read(vcpu, index, data);

	switch (index) {
	case MSR_IA32_TSC_DEADLINE:
		if (!kvm_lapic_in_kernel(vcpu))
			return 1;
		*data = kvm_lapic_get_tscdeadline(vcpu);
		return 0;
	case MSR_EFER:
		*data = vcpu->arch.efer;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->arch.apic_base;
		return 0;
	case MSR_IA32_TSC:
		*data = kvm_read_guest_tsc(vcpu);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*data = vcpu->arch.tsc_adjust;
		return 0;
	case MSR_K7_HWCR:
		*data = vcpu->arch.hwcr;
		return 0;
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		*data = vcpu->arch.pv_time;
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		*data = vcpu->arch.pv_wall_clock;
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
	case MSR_PLATFORM_INFO:
		if (!host && !vcpu->kvm->arch.guest_can_read_platform_info)
			return 1;
		*data = vcpu->arch.platform_info;
		return 0;
	case MSR_MISC_FEATURES_ENABLES:
		*data = vcpu->arch.misc_features_enables;
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
		if (!host)
			return 1;
		*data = vcpu->arch.arch_capabilities;
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

	switch (index) {
	case MSR_IA32_TSC_DEADLINE:
		if (!kvm_lapic_in_kernel(vcpu))
			return 1;
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
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		vcpu->arch.pv_time = data;
		kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		vcpu->arch.pv_wall_clock = data;
		/* Userspace restoring the value writes nothing to the guest. */
		return host ? 0 : kvm_write_wall_clock(vcpu, data);
	case MSR_IA32_MISC_ENABLE:
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
		if ((!host && !kvm_guest_has_tsc_aux(vcpu)) || (data >> 32))
			return 1;
		vcpu->arch.tsc_aux = data;
		return 0;
	case MSR_IA32_PRED_CMD:
		/* IBPB, when the guest was offered it. */
		if (!host && !kvm_guest_cpuid_has(vcpu, 0x80000008, 0, CPUID_EBX,
						  BIT(12)))
			return 1;
		if (data & ~PRED_CMD_IBPB)
			return 1;
		if (data && boot_cpu_has(X86_FEATURE_IBPB))
			wrmsrl(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
		return 0;
	case MSR_PLATFORM_INFO:
		if (!host)
			return 1;
		vcpu->arch.platform_info = data;
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
	arch->mtrr_def_type = 0;
	memset(arch->mtrr_fixed, 0, sizeof(arch->mtrr_fixed));
	memset(arch->mtrr_var, 0, sizeof(arch->mtrr_var));
	arch->misc_features_enables = 0;
	arch->hwcr = 0;
}

/* Does nkvm implement this MSR (whatever value it may refuse)? */
bool kvm_msr_known(struct kvm_vcpu *vcpu, u32 index)
{
	u64 data;

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
		*data = 0x100000000ULL;
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		/* Tell the guest nothing about the host's mitigations yet. */
		*data = 0;
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
	struct kvm_msr_list head;
	const u32 *pmu_list;
	u32 room, npmu = 0;

	/* The vPMU's counters are saved too. */
	pmu_list = kvm_pmu_msrs_to_save(&npmu);
	if (features)
		npmu = 0;
	if (copy_from_user(&head, ulist, sizeof(head)))
		return -EFAULT;
	room = head.nmsrs;
	head.nmsrs = n + npmu;
	if (copy_to_user(ulist, &head, sizeof(head)))
		return -EFAULT;
	if (room < n + npmu)
		return -E2BIG;
	if (copy_to_user(ulist->indices, list, n * sizeof(u32)) ||
	    copy_to_user(ulist->indices + n, pmu_list, npmu * sizeof(u32)))
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
