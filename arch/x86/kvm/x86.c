// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: x86 common code.
 *
 * The vCPU state ioctls, the run loop, event injection, and the
 * guest-visible semantics of every exit a backend reports through struct
 * kvm_x86_exit.  Nothing here knows whether the hardware is SVM or VMX.
 * CPUID lives in cpuid.c, MSRs in msr.c, the PMU in pmu.c.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/file.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/processor-flags.h>
#include <asm/reboot.h>
#include <asm/trapnr.h>
#include <asm/tsc.h>
#include <uapi/linux/kvm_para.h>
#include <uapi/nkvm/nkvm.h>

#include "x86.h"
#include "hypercall.h"
#include "cpuid.h"
#include "pmu.h"
#include "irq.h"
#include "lapic.h"
#include "hyperv.h"
#include "smm.h"

const struct kvm_x86_ops *kvm_x86_ops;

#define APIC_DEFAULT_BASE	0xfee00000ULL

/* CR4 bits no guest may set: undefined, or the host lacks the feature. */
static u64 kvm_cr4_reserved_bits;
static u64 host_xcr0;

/* Quirks nkvm implements (and so lets userspace disable). */
#define KVM_SUPPORTED_QUIRKS	(KVM_X86_QUIRK_CD_NW_CLEARED | \
				 KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT | \
				 KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS | \
				 KVM_X86_QUIRK_FIX_HYPERCALL_INSN)

#define KVM_GUESTDBG_VALID_MASK (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | \
				 KVM_GUESTDBG_USE_SW_BP | KVM_GUESTDBG_USE_HW_BP | \
				 KVM_GUESTDBG_INJECT_DB | KVM_GUESTDBG_INJECT_BP | \
				 KVM_GUESTDBG_BLOCKIRQ)

/* The KVM_RUN sync_regs fields nkvm fills in and takes. */
#define KVM_SYNC_VALID_FIELDS	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | \
				 KVM_SYNC_X86_EVENTS)

/* ---- Registration ------------------------------------------------------ */

int kvm_arch_init(void)
{
	int r = kvm_mmu_module_init();

	if (!r)
		kvm_kvmclock_module_init();
	return r;
}

void kvm_arch_exit(void)
{
	kvm_kvmclock_module_exit();
	kvm_mmu_module_exit();
}

/*
 * The CR4 bits nkvm lets a guest have: those the architecture defines and
 * the host CPU implements, less VMX/SMX (no nested virtualization).  The
 * guest's CPUID narrows this further (cpuid.c, step 3).
 */
static u64 kvm_compute_cr4_reserved_bits(void)
{
	u64 ok = X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE |
		 X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
		 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	if (boot_cpu_has(X86_FEATURE_UMIP))
		ok |= X86_CR4_UMIP;
	if (boot_cpu_has(X86_FEATURE_LA57))
		ok |= X86_CR4_LA57;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		ok |= X86_CR4_FSGSBASE;
	if (boot_cpu_has(X86_FEATURE_PCID))
		ok |= X86_CR4_PCIDE;
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		ok |= X86_CR4_OSXSAVE;
	if (boot_cpu_has(X86_FEATURE_SMEP))
		ok |= X86_CR4_SMEP;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		ok |= X86_CR4_SMAP;
	if (boot_cpu_has(X86_FEATURE_PKU))
		ok |= X86_CR4_PKE;
	return ~ok;
}

u64 kvm_host_cr4_reserved_bits(void)
{
	return kvm_cr4_reserved_bits;
}
EXPORT_SYMBOL_GPL(kvm_host_cr4_reserved_bits);

int nkvm_x86_register(const struct kvm_x86_ops *ops)
{
	int r;

	if (kvm_x86_ops) {
		pr_err("%s: backend %s is already registered\n", ops->name,
		       kvm_x86_ops->name);
		return -EBUSY;
	}
	if (ops->vm_size < sizeof(struct kvm) ||
	    ops->vcpu_size < sizeof(struct kvm_vcpu))
		return -EINVAL;

	kvm_cr4_reserved_bits = kvm_compute_cr4_reserved_bits();
	host_xcr0 = boot_cpu_has(X86_FEATURE_XSAVE) ?
		    xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
	kvm_x86_ops = ops;
	kvm_pmu_init();
	r = kvm_cpuid_init();
	if (r)
		goto err;

	cpu_emergency_register_virt_callback(ops->emergency_disable);
	r = nkvm_core_init(ops->owner);
	if (r) {
		cpu_emergency_unregister_virt_callback(ops->emergency_disable);
		kvm_cpuid_exit();
		goto err;
	}
	pr_info("%s backend ready\n", ops->name);
	return 0;
err:
	kvm_x86_ops = NULL;
	return r;
}
EXPORT_SYMBOL_GPL(nkvm_x86_register);

void nkvm_x86_unregister(void)
{
	nkvm_core_exit();
	cpu_emergency_unregister_virt_callback(kvm_x86_ops->emergency_disable);
	kvm_cpuid_exit();
	kvm_x86_ops = NULL;
}
EXPORT_SYMBOL_GPL(nkvm_x86_unregister);

int kvm_arch_cpu_enable(void)
{
	return kvm_x86_ops->cpu_enable();
}

void kvm_arch_cpu_disable(void)
{
	kvm_x86_ops->cpu_disable();
}

size_t kvm_arch_vm_size(void)
{
	return kvm_x86_ops->vm_size;
}

size_t kvm_arch_vcpu_size(void)
{
	return kvm_x86_ops->vcpu_size;
}

/* The size KVM_GET_XSAVE2 needs (at least struct kvm_xsave's). */
static int kvm_xsave2_size(void)
{
	u32 size = kvm_xstate_size(kvm_host_xstate_layout(),
				   kvm_host_supported_xcr0());

	return max_t(u32, size, sizeof(struct kvm_xsave));
}

/*
 * The largest KVM_GET_NESTED_STATE answer, in the vendor's format: the
 * header and a VMCB (SVM), or a VMCS and its shadow (VMX), as on Linux.
 */
static u32 kvm_nested_state_max_size(void)
{
	if (kvm_x86_ops->nested_state_format == KVM_STATE_NESTED_FORMAT_SVM)
		return sizeof(struct kvm_nested_state) +
		       KVM_STATE_NESTED_SVM_VMCB_SIZE;
	return sizeof(struct kvm_nested_state) +
	       2 * KVM_STATE_NESTED_VMX_VMCS_SIZE;
}

long kvm_arch_check_extension(struct kvm *kvm, long ext)
{
	switch (ext) {
	case KVM_CAP_HLT:
	case KVM_CAP_USER_NMI:
	case KVM_CAP_KVMCLOCK_CTRL:
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_SET_TSS_ADDR:
	case KVM_CAP_SET_IDENTITY_MAP_ADDR:
	case KVM_CAP_MP_STATE:
	case KVM_CAP_DEBUGREGS:
	case KVM_CAP_VCPU_EVENTS:
	case KVM_CAP_XSAVE:		/* the FXSAVE image where there is no XSAVE */
	case KVM_CAP_GET_TSC_KHZ:
	case KVM_CAP_GET_MSR_FEATURES:
	case KVM_CAP_MSR_PLATFORM_INFO:
	case KVM_CAP_ENABLE_CAP_VM:
	case KVM_CAP_X86_MSR_FILTER:
	case KVM_CAP_SET_GUEST_DEBUG:
	case KVM_CAP_SREGS2:
	case KVM_CAP_X86_TRIPLE_FAULT_EVENT:
	case KVM_CAP_PMU_EVENT_FILTER:
	case KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM:
	case KVM_CAP_VM_COPY_ENC_CONTEXT_FROM:
	case KVM_CAP_ENFORCE_PV_FEATURE_CPUID:
	case KVM_CAP_VCPU_ATTRIBUTES:
	case KVM_CAP_ASYNC_PF:
	case KVM_CAP_ASYNC_PF_INT:
		return 1;
	case KVM_CAP_X86_SMM:
		return kvm_smm_supported();
	case KVM_CAP_MCE:
		return NKVM_MAX_MCE_BANKS;
	case KVM_CAP_NESTED_STATE:
		return kvm_nested_state_max_size();
	case KVM_CAP_SET_GUEST_DEBUG2:
		return KVM_GUESTDBG_VALID_MASK;
	case KVM_CAP_XCRS:
		return boot_cpu_has(X86_FEATURE_XSAVE);
	case KVM_CAP_XSAVE2:
		return kvm_xsave2_size();
	case KVM_CAP_SYNC_REGS:
		return KVM_SYNC_VALID_FIELDS;
	case KVM_CAP_ADJUST_CLOCK:
		return KVM_CLOCK_VALID_FLAGS;
	case KVM_CAP_X2APIC_API:
		return KVM_X2APIC_API_USE_32BIT_IDS |
		       KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
	case KVM_CAP_DISABLE_QUIRKS2:
		return KVM_SUPPORTED_QUIRKS;
	case KVM_CAP_PMU_CAPABILITY:
		return enable_pmu ? KVM_PMU_CAP_DISABLE : 0;
	case KVM_CAP_SET_BOOT_CPU_ID:
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_IRQ_INJECT_STATUS:
	case KVM_CAP_PIT2:
	case KVM_CAP_PIT_STATE2:
	case KVM_CAP_REINJECT_CONTROL:
	case KVM_CAP_SPLIT_IRQCHIP:
	case KVM_CAP_TSC_DEADLINE_TIMER:
	case KVM_CAP_X86_USER_SPACE_MSR:
	case KVM_CAP_SYNC_MMU:
	case KVM_CAP_READONLY_MEM:
	case KVM_CAP_MMU_SHADOW_CACHE_CONTROL:
	case KVM_CAP_VM_DISABLE_NX_HUGE_PAGES:
		return 1;
	case KVM_CAP_NKVM_FLOOR:
		return nkvm_floor_available();
	case KVM_CAP_VAPIC:
		return 1;
	/* Hyper-V (hyperv.c): not the SynIC, its timers, eventfds, eVMCS. */
	case KVM_CAP_HYPERV:
	case KVM_CAP_HYPERV_VAPIC:
	case KVM_CAP_HYPERV_SPIN:
	case KVM_CAP_HYPERV_TIME:
	case KVM_CAP_HYPERV_VP_INDEX:
	case KVM_CAP_HYPERV_TLBFLUSH:
	case KVM_CAP_HYPERV_SEND_IPI:
	case KVM_CAP_HYPERV_CPUID:
	case KVM_CAP_SYS_HYPERV_CPUID:
	case KVM_CAP_HYPERV_ENFORCE_CPUID:
		return 1;
	default:
		return 0;
	}
}

long kvm_arch_dev_ioctl(unsigned int ioctl, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_GET_SUPPORTED_CPUID:
		return kvm_dev_ioctl_get_supported_cpuid(argp);
	case KVM_GET_MSR_INDEX_LIST:
		return kvm_dev_ioctl_get_msr_index_list(argp, false);
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		return kvm_dev_ioctl_get_msr_index_list(argp, true);
	case KVM_GET_MSRS:
		return kvm_dev_ioctl_get_feature_msrs(argp);
	case KVM_X86_GET_MCE_CAP_SUPPORTED:
		return kvm_dev_ioctl_get_mce_cap(argp);
	case KVM_GET_SUPPORTED_HV_CPUID:
		return kvm_dev_ioctl_get_supported_hv_cpuid(NULL, argp);
	default:
		return -EINVAL;
	}
}

/* ---- VM ---------------------------------------------------------------- */

/*
 * The last guest frame a memslot may cover: the host's physical address
 * width, as on Linux, and no more than the four-level map reaches.
 */
gfn_t kvm_arch_max_gfn(void)
{
	int bits = min_t(int, boot_cpu_data.x86_phys_bits, 48);

	return (1ULL << (bits - PAGE_SHIFT)) - 1;
}

int kvm_arch_vm_init(struct kvm *kvm, unsigned long type)
{
	if (type)
		return -EINVAL;
	spin_lock_init(&kvm->arch.tsc_lock);
	kvm->arch.guest_can_read_platform_info = true;
	kvm_kvmclock_vm_init(kvm);
	kvm_hv_vm_init(kvm);
	return kvm_mmu_init_vm(kvm);
}

void kvm_arch_pre_destroy_vm(struct kvm *kvm)
{
	kvm_mmu_pre_destroy_vm(kvm);
}

/* Before the vCPUs go: the PIT's ticks and the chips deliver to them. */
void kvm_arch_vm_release(struct kvm *kvm)
{
	kvm_irqchip_release(kvm);
}

void kvm_arch_vm_destroy(struct kvm *kvm)
{
	kvm_irqchip_destroy(kvm);
	kvm_msr_filter_free(kvm);
	kvm_pmu_vm_destroy(kvm);
	kvm_mmu_destroy_vm(kvm);
}

/*
 * KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM and KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
 * move or mirror an SEV VM's encryption context.  nkvm has no SEV, so, as
 * Linux answers for a VM without it: on SVM -EBADF if @fd is not a VM's,
 * else -EINVAL; on VMX always -EINVAL.
 */
static int kvm_vm_enc_context_from(struct kvm *kvm, unsigned int fd)
{
	struct file *f;
	int r;

	if (!kvm_x86_ops->sev_enc_context)
		return -EINVAL;
	f = fget(fd);
	r = kvm_file_is_vm(f) ? -EINVAL : -EBADF;

	if (f)
		fput(f);
	return r;
}

static int kvm_vm_enable_cap(struct kvm *kvm, const struct kvm_enable_cap *cap)
{
	if (cap->flags)
		return -EINVAL;

	switch (cap->cap) {
	case KVM_CAP_DISABLE_QUIRKS2:
		if (cap->args[0] & ~KVM_SUPPORTED_QUIRKS)
			return -EINVAL;
		fallthrough;
	case KVM_CAP_DISABLE_QUIRKS:
		kvm->arch.disabled_quirks = cap->args[0];
		return 0;
	case KVM_CAP_MSR_PLATFORM_INFO:
		kvm->arch.guest_can_read_platform_info = cap->args[0];
		return 0;
	case KVM_CAP_X86_TRIPLE_FAULT_EVENT:
		kvm->arch.triple_fault_event = cap->args[0];
		return 0;
	case KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM:
	case KVM_CAP_VM_COPY_ENC_CONTEXT_FROM:
		return kvm_vm_enc_context_from(kvm, cap->args[0]);
	case KVM_CAP_MAX_VCPU_ID:
		/* Set once, before any vCPU (the same value again is fine). */
		if (cap->args[0] > KVM_MAX_VCPU_IDS)
			return -EINVAL;
		if (kvm->max_vcpu_ids == cap->args[0])
			return 0;
		if (kvm->max_vcpu_ids || kvm->created_vcpus)
			return -EINVAL;
		WRITE_ONCE(kvm->max_vcpu_ids, cap->args[0]);
		return 0;
	case KVM_CAP_SPLIT_IRQCHIP:
		if (cap->args[0] > 24)	/* the IOAPIC pins userspace routes */
			return -EINVAL;
		return kvm_irqchip_enable_split(kvm);
	case KVM_CAP_X2APIC_API:
		if (cap->args[0] & ~(KVM_X2APIC_API_USE_32BIT_IDS |
				     KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK))
			return -EINVAL;
		kvm->arch.x2apic_format =
			cap->args[0] & KVM_X2APIC_API_USE_32BIT_IDS;
		kvm->arch.x2apic_broadcast_quirk_disabled =
			cap->args[0] & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
		return 0;
	case KVM_CAP_X86_USER_SPACE_MSR:
		if (cap->args[0] & ~(KVM_MSR_EXIT_REASON_INVAL |
				     KVM_MSR_EXIT_REASON_UNKNOWN |
				     KVM_MSR_EXIT_REASON_FILTER))
			return -EINVAL;
		kvm->arch.user_space_msr_mask = cap->args[0];
		return 0;
	case KVM_CAP_VM_DISABLE_NX_HUGE_PAGES:
		return kvm_mmu_disable_nx_huge_pages(kvm, cap->args[0]);
	case KVM_CAP_PMU_CAPABILITY:
		return kvm_pmu_enable_cap(kvm, cap->args[0]);
	default:
		return -EINVAL;
	}
}

long kvm_arch_vm_ioctl(struct kvm *kvm, unsigned int ioctl, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_SET_BOOT_CPU_ID: {
		int r = 0;

		mutex_lock(&kvm->lock);
		if (kvm->created_vcpus)
			r = -EBUSY;
		else
			kvm->arch.bsp_vcpu_id = arg;
		mutex_unlock(&kvm->lock);
		return r;
	}
	case KVM_SET_TSS_ADDR:
		/* Only VMX without unrestricted guest needs it: accepted. */
		kvm->arch.tss_addr = arg;
		return 0;
	case KVM_SET_IDENTITY_MAP_ADDR: {
		u64 addr;
		int r = 0;

		if (copy_from_user(&addr, argp, sizeof(addr)))
			return -EFAULT;
		mutex_lock(&kvm->lock);
		if (atomic_read(&kvm->nr_vcpus))
			r = -EINVAL;
		else
			kvm->arch.identity_map_addr = addr;
		mutex_unlock(&kvm->lock);
		return r;
	}
	case KVM_ENABLE_CAP: {
		struct kvm_enable_cap cap;
		int r;

		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		mutex_lock(&kvm->lock);
		r = kvm_vm_enable_cap(kvm, &cap);
		mutex_unlock(&kvm->lock);
		return r;
	}
	case KVM_X86_SET_MSR_FILTER:
		return kvm_vm_ioctl_set_msr_filter(kvm, argp);
	case KVM_SET_PMU_EVENT_FILTER:
		return kvm_pmu_set_event_filter(kvm, argp);
	case KVM_GET_CLOCK:
		return kvm_vm_ioctl_get_clock(kvm, argp);
	case KVM_SET_CLOCK:
		return kvm_vm_ioctl_set_clock(kvm, argp);
	case KVM_SET_NR_MMU_PAGES:
	case KVM_GET_NR_MMU_PAGES:
	case KVM_GET_DIRTY_LOG:
	case KVM_CLEAR_DIRTY_LOG:
		return kvm_mmu_vm_ioctl(kvm, ioctl, arg);
	default: {
		long r = kvm_irqchip_vm_ioctl(kvm, ioctl, argp);

		return r == -ENOIOCTLCMD ? -ENOTTY : r;
	}
	}
}

int kvm_arch_prepare_memory_region(struct kvm *kvm,
				   const struct kvm_memory_slot *old,
				   struct kvm_memory_slot *new,
				   enum kvm_mr_change change)
{
	return kvm_mmu_prepare_memory_region(kvm, old, new, change);
}

void kvm_arch_commit_memory_region(struct kvm *kvm,
				   const struct kvm_memory_slot *old,
				   const struct kvm_memory_slot *new,
				   enum kvm_mr_change change)
{
	kvm_mmu_commit_memory_region(kvm, old, new, change);
}

/* ---- vCPU lifetime ----------------------------------------------------- */

/*
 * RESET (power-on, or after a triple fault) or, with @init, the INIT an
 * IPI delivers: INIT keeps the MSRs, the CPUID and the APIC base.
 */
static void __kvm_vcpu_reset(struct kvm_vcpu *vcpu, bool init)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	memset(arch->regs, 0, sizeof(arch->regs));
	/* Power-on state: EDX holds the processor signature, if any. */
	arch->regs[VCPU_REGS_RDX] = 0x600;
	if (arch->cpuid_nent) {
		u32 eax = 1, ebx, ecx = 0, edx;

		kvm_cpuid_query(vcpu, &eax, &ebx, &ecx, &edx);
		if (eax)
			arch->regs[VCPU_REGS_RDX] = eax;
	}
	arch->regs[VCPU_REGS_RIP] = 0xfff0;
	arch->rflags = X86_EFLAGS_FIXED;
	arch->cr0 = X86_CR0_NW | X86_CR0_CD | X86_CR0_ET;
	arch->cr4 = 0;
	arch->efer = 0;
	arch->dr6 = 0xffff0ff0;
	arch->dr7 = 0x400;
	arch->xcr0 = XFEATURE_MASK_FP;
	memset(&arch->exception, 0, sizeof(arch->exception));
	memset(&arch->interrupt, 0, sizeof(arch->interrupt));
	arch->nmi_pending = 0;
	arch->nmi_injected = false;
	arch->nmi_masked = false;
	arch->triple_fault_pending = false;
	kvm_smm_reset(vcpu, init);
	arch->pio.pending = false;
	arch->pv_unhalted = false;
	/* On INIT too, as Linux. */
	arch->async_pf_en = 0;
	arch->async_pf_int = 0;
	arch->pv_eoi_msr = 0;
	arch->pv_eoi_pending = false;
	memset(arch->db, 0, sizeof(arch->db));
	arch->dr_guest_owned = false;
	/* Both clear IA32_SPEC_CTRL, as on Linux (its intercept stays as is). */
	arch->spec_ctrl = 0;
	if (!init) {
		arch->apic_base = APIC_DEFAULT_BASE | MSR_IA32_APICBASE_ENABLE;
		if (vcpu->vcpu_id == vcpu->kvm->arch.bsp_vcpu_id)
			arch->apic_base |= MSR_IA32_APICBASE_BSP;
		arch->mp_state = KVM_MP_STATE_RUNNABLE;
		arch->pv_time = 0;
		arch->pv_wall_clock = 0;
		arch->steal_time_msr = 0;
		kvm_msr_reset(vcpu);
		kvm_pmu_reset(vcpu);
	}
	kvm_x86_ops->vcpu_reset(vcpu);
	if (kvm_lapic_in_kernel(vcpu) && !init)
		kvm_lapic_reset(vcpu, false);
	kvm_vcpu_cpuid_runtime(vcpu);
}

static void kvm_vcpu_reset(struct kvm_vcpu *vcpu)
{
	__kvm_vcpu_reset(vcpu, false);
}

int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu)
{
	int r;

	if (!fpu_alloc_guest_fpstate(&vcpu->arch.guest_fpu))
		return -ENOMEM;

	r = kvm_emul_vcpu_init(vcpu);
	if (r)
		goto err_fpu;
	if (vcpu->kvm->arch.irqchip_mode != NKVM_IRQCHIP_NONE) {
		r = kvm_lapic_create(vcpu);
		if (r)
			goto err_emul;
	}
	r = kvm_pmu_vcpu_create(vcpu);
	if (r)
		goto err_lapic;
	r = kvm_x86_ops->vcpu_create(vcpu);
	if (r)
		goto err_pmu;
	vcpu->arch.tsc_khz = tsc_khz;
	kvm_host_set_tsc(vcpu, 0);
	/*
	 * No CPUID yet: the model of an empty table, except that, as on
	 * Linux, CR4 is limited only by the host until a table is set.
	 */
	kvm_cpuid_compute_model(NULL, 0, kvm_host_supported_xcr0(),
				kvm_cr4_reserved_bits, &vcpu->arch.model);
	vcpu->arch.model.cr4_reserved = kvm_cr4_reserved_bits;
	kvm_pmu_refresh(vcpu);
	kvm_mce_init(vcpu);
	kvm_hv_vcpu_init(vcpu);
	kvm_vcpu_reset(vcpu);
	/* With an in-kernel APIC, an AP waits for INIT/SIPI, as on Linux. */
	if (kvm_lapic_in_kernel(vcpu) &&
	    vcpu->vcpu_id != vcpu->kvm->arch.bsp_vcpu_id)
		vcpu->arch.mp_state = KVM_MP_STATE_UNINITIALIZED;
	return 0;

err_pmu:
	kvm_pmu_vcpu_destroy(vcpu);
err_lapic:
	kvm_lapic_destroy(vcpu);
err_emul:
	kvm_emul_vcpu_free(vcpu);
err_fpu:
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
	return r;
}

void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	kvm_mmu_destroy_vcpu(vcpu);
	kvm_vcpu_cpuid_free(vcpu);
	nkvm_vcpu_forget_ibpb(vcpu);
	kvm_x86_ops->vcpu_free(vcpu);
	kvm_pmu_vcpu_destroy(vcpu);
	kvm_lapic_destroy(vcpu);
	kvm_emul_vcpu_free(vcpu);
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
}

void kvm_arch_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	/* Without one stable TSC, a new CPU means a new clock reading. */
	if (!vcpu->kvm->arch.use_master_clock && (vcpu->arch.pv_time & 1))
		kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
	/* The task may have waited for a CPU: the guest's steal time. */
	if (vcpu->arch.steal_time_msr & KVM_MSR_ENABLED)
		kvm_make_request(vcpu, KVM_REQ_STEAL_UPDATE);
	nkvm_vcpu_switch_ibpb(vcpu, cpu);
	/* L1TF: whatever ran on this CPU before may be in its L1D. */
	vcpu->arch.l1tf_flush_l1d = true;
	kvm_x86_ops->vcpu_load(vcpu, cpu);
}

void kvm_arch_vcpu_put(struct kvm_vcpu *vcpu)
{
	kvm_x86_ops->vcpu_put(vcpu);
}

/* ---- Events ------------------------------------------------------------ */

/* RFLAGS as the guest sees it: without the TF a single-stepping debugger set. */
static unsigned long kvm_get_rflags(struct kvm_vcpu *vcpu)
{
	unsigned long rflags = vcpu->arch.rflags;

	if (vcpu->arch.guest_debug & KVM_GUESTDBG_SINGLESTEP)
		rflags &= ~X86_EFLAGS_TF;
	return rflags;
}

static void kvm_set_rflags(struct kvm_vcpu *vcpu, unsigned long rflags)
{
	/* Bit 1 always reads as one. */
	rflags |= X86_EFLAGS_FIXED;
	if (vcpu->arch.guest_debug & KVM_GUESTDBG_SINGLESTEP)
		rflags |= X86_EFLAGS_TF;
	vcpu->arch.rflags = rflags;
}


void nkvm_queue_exception(struct kvm_vcpu *vcpu, u8 vector, bool has_error,
			  u32 error_code)
{
	vcpu->arch.exception = (struct kvm_queued_exception) {
		.pending = true,
		.vector = vector,
		.has_error_code = has_error,
		.error_code = error_code,
	};
}
EXPORT_SYMBOL_GPL(nkvm_queue_exception);

/*
 * An instruction nkvm completed for the guest: RIP moves past it, and an
 * interrupt shadow (from an STI or MOV SS just before it) ends with it.
 */
void nkvm_skip_insn(struct kvm_vcpu *vcpu, u64 next_rip)
{
	kvm_reg_write(vcpu, VCPU_REGS_RIP, next_rip);
	kvm_x86_ops->set_interrupt_shadow(vcpu, 0);
}
EXPORT_SYMBOL_GPL(nkvm_skip_insn);

void nkvm_requeue_event(struct kvm_vcpu *vcpu, enum kvm_event_type type,
			u8 vector, bool has_error, u32 error_code)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	switch (type) {
	case KVM_EVENT_EXCEPTION:
		arch->exception = (struct kvm_queued_exception) {
			.injected = true,
			.vector = vector,
			.has_error_code = has_error,
			.error_code = error_code,
		};
		break;
	case KVM_EVENT_NMI:
		arch->nmi_injected = true;
		break;
	case KVM_EVENT_IRQ:
	case KVM_EVENT_SOFT_IRQ:
		arch->interrupt.injected = true;
		arch->interrupt.soft = type == KVM_EVENT_SOFT_IRQ;
		arch->interrupt.nr = vector;
		break;
	}
}
EXPORT_SYMBOL_GPL(nkvm_requeue_event);

/* Nothing in flight, nothing queued: userspace may inject an interrupt. */
static bool kvm_ready_for_interrupt(struct kvm_vcpu *vcpu)
{
	return !vcpu->arch.interrupt.injected && !vcpu->arch.exception.pending &&
	       !vcpu->arch.exception.injected &&
	       kvm_x86_ops->interrupt_allowed(vcpu);
}

/*
 * Pick what the next entry delivers: an interrupted delivery first, then
 * an exception, an NMI, an interrupt; open a window for what must wait.
 */
static void kvm_inject_events(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	/* A debugger stepping with BLOCKIRQ wants no interrupt in between. */
	bool block_irq = arch->guest_debug & KVM_GUESTDBG_BLOCKIRQ;

	/* Exceptions push no error code in real mode. */
	if (!(arch->cr0 & X86_CR0_PE))
		arch->exception.has_error_code = false;

	if (arch->exception.injected) {
		kvm_x86_ops->inject_exception(vcpu);
	} else if (arch->nmi_injected) {
		kvm_x86_ops->inject_nmi(vcpu);
	} else if (arch->interrupt.injected && !block_irq) {
		nkvm_trace_ev("reinject irq %x rip %lx fl %lx sh %x\n", arch->interrupt.nr,
			      arch->regs[VCPU_REGS_RIP], arch->rflags,
			      kvm_x86_ops->get_interrupt_shadow(vcpu));
		kvm_x86_ops->inject_irq(vcpu);
	} else if (arch->exception.pending) {
		arch->exception.pending = false;
		arch->exception.injected = true;
		kvm_x86_ops->inject_exception(vcpu);
	} else if (arch->nmi_pending && !block_irq &&
		   kvm_x86_ops->nmi_allowed(vcpu)) {
		arch->nmi_pending--;
		arch->nmi_injected = true;
		arch->nmi_masked = true;
		kvm_x86_ops->inject_nmi(vcpu);
	} else if (!block_irq && kvm_lapic_in_kernel(vcpu) &&
		   kvm_cpu_has_interrupt(vcpu)) {
		/* From the in-kernel APIC (or the PIC's ExtINT). */
		if (kvm_x86_ops->interrupt_allowed(vcpu)) {
			int vector = kvm_cpu_get_interrupt(vcpu);

			if (vector >= 0) {
				arch->interrupt.injected = true;
				arch->interrupt.soft = false;
				arch->interrupt.nr = vector;
				nkvm_trace_ev("inject irq %x rip %lx fl %lx sh %x\n", vector,
					      arch->regs[VCPU_REGS_RIP], arch->rflags,
					      kvm_x86_ops->get_interrupt_shadow(vcpu));
				kvm_x86_ops->inject_irq(vcpu);
			}
		} else {
			kvm_x86_ops->enable_irq_window(vcpu);
		}
	}

	if (block_irq)
		return;
	if (arch->nmi_pending)
		kvm_x86_ops->enable_nmi_window(vcpu);
	if (vcpu->run->request_interrupt_window && !arch->interrupt.injected)
		kvm_x86_ops->enable_irq_window(vcpu);
}

/* ---- XSAVE ------------------------------------------------------------- */

/* XSETBV's rules, against what the guest's CPUID offers. */
static int kvm_set_xcr0(struct kvm_vcpu *vcpu, u64 xcr0)
{
	u64 allowed = vcpu->arch.model.supported_xcr0 | XFEATURE_MASK_FP;

	if (xcr0 & ~allowed)
		return 1;
	if (!(xcr0 & XFEATURE_MASK_FP))
		return 1;
	if ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE))
		return 1;
	if ((xcr0 & XFEATURE_MASK_AVX512) &&
	    ((xcr0 & XFEATURE_MASK_AVX512) != XFEATURE_MASK_AVX512 ||
	     !(xcr0 & XFEATURE_MASK_YMM)))
		return 1;
	vcpu->arch.xcr0 = xcr0;
	kvm_vcpu_cpuid_runtime(vcpu);
	return 0;
}

/*
 * Called with interrupts off around the backend's run.  The guest's CR4
 * writes exit, so CR4.OSXSAVE is known: without it XCR0 does not matter
 * to the guest and the host's stays.
 */
static bool kvm_load_guest_xcr0(struct kvm_vcpu *vcpu)
{
	if (!(vcpu->arch.cr4 & X86_CR4_OSXSAVE) || vcpu->arch.xcr0 == host_xcr0)
		return false;
	xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->arch.xcr0);
	return true;
}

/*
 * XSETBV always exits on real hardware, but QEMU's TCG lets a guest's
 * XSETBV write the real XCR0: check rather than trust, so the host never
 * runs with the guest's XCR0 (XGETBV is cheap).
 */
static void kvm_load_host_xcr0(bool switched)
{
	if (switched || (host_xcr0 &&
			 xgetbv(XCR_XFEATURE_ENABLED_MASK) != host_xcr0))
		xsetbv(XCR_XFEATURE_ENABLED_MASK, host_xcr0);
}

/* ---- TSC_AUX ------------------------------------------------------------ */

/*
 * A guest with RDTSCP or RDPID reads TSC_AUX natively: load its value
 * around the run, with interrupts off (the kernel itself never reads
 * TSC_AUX; the vDSO's getcpu does, in userspace).  Only when the host has
 * the MSR, and only if the values differ.
 */
static bool kvm_load_guest_tsc_aux(struct kvm_vcpu *vcpu, u64 *host)
{
	if (!vcpu->arch.model.tsc_aux || !kvm_x86_ops->tsc_aux_native ||
	    !(boot_cpu_has(X86_FEATURE_RDTSCP) ||
	      boot_cpu_has(X86_FEATURE_RDPID)))
		return false;
	rdmsrl(MSR_TSC_AUX, *host);
	if (*host == vcpu->arch.tsc_aux)
		return false;
	wrmsrl(MSR_TSC_AUX, vcpu->arch.tsc_aux);
	return true;
}

/* ---- The in-kernel APIC in the run loop -------------------------------- */

/* INIT: the registers as after RESET, less what INIT keeps. */
static void kvm_vcpu_init_event(struct kvm_vcpu *vcpu)
{
	__kvm_vcpu_reset(vcpu, true);
}

/* SIPI: start at vector:0000 in real mode. */
static void kvm_vcpu_sipi(struct kvm_vcpu *vcpu, u8 vector)
{
	struct kvm_sregs sregs;

	kvm_x86_ops->get_sregs(vcpu, &sregs);
	sregs.cs.selector = vector << 8;
	sregs.cs.base = (u64)vector << 12;
	kvm_x86_ops->set_sregs(vcpu, &sregs);
	kvm_reg_write(vcpu, VCPU_REGS_RIP, 0);
}

/* Is a halted vCPU to wake up? */
static bool kvm_vcpu_runnable(struct kvm_vcpu *vcpu)
{
	if (vcpu->arch.nmi_pending || vcpu->arch.triple_fault_pending ||
	    vcpu->arch.smi_pending || test_bit(KVM_REQ_SMI, &vcpu->requests) ||
	    kvm_lapic_has_events(vcpu) || READ_ONCE(vcpu->arch.pv_unhalted))
		return true;
	if (!kvm_cpu_has_interrupt(vcpu))
		return false;
	if (kvm_x86_ops->interrupt_wakes)
		return kvm_x86_ops->interrupt_wakes(vcpu);
	return vcpu->arch.rflags & X86_EFLAGS_IF;
}

/*
 * What wakes an AP that waits for INIT or SIPI: those alone.  An NMI or an
 * interrupt stays pending until the AP runs; counting them here made the
 * wait below a busy loop that never looked at signals (a soft lockup).
 */
static bool kvm_vcpu_init_sipi_posted(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->arch.apic->events) &
	       (BIT(LAPIC_EV_INIT) | BIT(LAPIC_EV_SIPI));
}

/*
 * Before each entry with an in-kernel APIC: a split irqchip's EOI exit,
 * INIT/SIPI, posted NMIs, the TPR.  An AP still waiting for INIT/SIPI
 * sleeps here, and leaves for a signal as KVM_RUN does.  Returns > 0 to go
 * on, 0 to exit, < 0 for an error.
 */
static int kvm_lapic_pre_entry(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	unsigned int did;
	u8 vector;
	int r;

	kvm_check_request(vcpu, KVM_REQ_EVENT);
	if (kvm_check_request(vcpu, KVM_REQ_IOAPIC_EOI_EXIT)) {
		vcpu->run->exit_reason = KVM_EXIT_IOAPIC_EOI;
		vcpu->run->eoi.vector = arch->pending_ioapic_eoi;
		return 0;
	}
	if (kvm_check_request(vcpu, KVM_REQ_REPORT_TPR_ACCESS)) {
		vcpu->run->exit_reason = KVM_EXIT_TPR_ACCESS;
		return 0;
	}

	for (;;) {
		did = kvm_lapic_accept_init_sipi(vcpu, &vector);
		if (did & LAPIC_DID_INIT)
			kvm_vcpu_init_event(vcpu);
		if (did & LAPIC_DID_SIPI)
			kvm_vcpu_sipi(vcpu, vector);
		if (arch->mp_state != KVM_MP_STATE_UNINITIALIZED &&
		    arch->mp_state != KVM_MP_STATE_INIT_RECEIVED)
			break;
		r = kvm_vcpu_halt(vcpu, kvm_vcpu_init_sipi_posted);
		/* Nor may a stream of INITs from other vCPUs keep a signal out. */
		if (!r && signal_pending(current))
			r = -EINTR;
		if (r) {
			vcpu->stat.signal_exits++;
			vcpu->run->exit_reason = KVM_EXIT_INTR;
			return r;
		}
		cond_resched();
	}

	kvm_lapic_take_nmi(vcpu);
	arch->cr8 = kvm_lapic_get_cr8(vcpu);
	return 1;
}

/*
 * HLT with an in-kernel APIC: sleep in the kernel until an interrupt the
 * guest can take, an NMI or INIT/SIPI.  A signal ends KVM_RUN with the
 * vCPU still halted (the next KVM_RUN halts again).
 */
static int kvm_emulate_halt(struct kvm_vcpu *vcpu)
	__must_hold(&vcpu->kvm->srcu)
{
	int r;

	/* A counter that overflowed at the HLT may have a PMI to deliver. */
	kvm_pmu_service(vcpu);
	vcpu->arch.mp_state = KVM_MP_STATE_HALTED;
	r = kvm_vcpu_halt(vcpu, kvm_vcpu_runnable);
	/* L1TF: the CPU may have run anything while the vCPU slept. */
	vcpu->arch.l1tf_flush_l1d = true;
	if (r) {
		vcpu->stat.signal_exits++;
		vcpu->run->exit_reason = KVM_EXIT_INTR;
		return r;
	}
	vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	WRITE_ONCE(vcpu->arch.pv_unhalted, false);
	return 1;
}

/* ---- Exits ------------------------------------------------------------- */

static void *kvm_pio_data(struct kvm_vcpu *vcpu)
{
	return page_address(vcpu->pio_page);
}

static int kvm_internal_error(struct kvm_vcpu *vcpu, u32 suberror,
			      const struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = 4;
	run->internal.data[0] = exit->hw.hw_reason;
	run->internal.data[1] = exit->hw.info[0];
	run->internal.data[2] = exit->hw.info[1];
	run->internal.data[3] = vcpu->cpu;
	return 0;
}

/* A port read of @size bytes returned @val: merge it into RAX. */
static void kvm_pio_in_to_rax(struct kvm_vcpu *vcpu, int size, u64 val)
{
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);

	if (size == 4)		/* a 32-bit write zero-extends */
		rax = val;
	else
		rax = (rax & ~((1ULL << (size * 8)) - 1)) | val;
	kvm_reg_write(vcpu, VCPU_REGS_RAX, rax);
}

/*
 * An in-kernel device on the PIO bus (an ioeventfd, an emulated chip) may
 * take the access: then it completes here and the guest goes on.
 */
static bool kvm_pio_in_kernel(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);
	int size = exit->io.size;
	u64 val = 0;

	if (!exit->io.in) {
		if (kvm_io_bus_write(vcpu, KVM_PIO_BUS, exit->io.port, size, &rax))
			return false;
	} else {
		if (kvm_io_bus_read(vcpu, KVM_PIO_BUS, exit->io.port, size, &val))
			return false;
		kvm_pio_in_to_rax(vcpu, size, val);
	}
	nkvm_skip_insn(vcpu, exit->next_rip);
	return true;
}

static int kvm_handle_io(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);

	vcpu->stat.io_exits++;
	if (exit->io.string)	/* INS/OUTS, REP or not */
		return kvm_emulate_instruction(vcpu);
	if (kvm_pio_in_kernel(vcpu, exit))
		return 1;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = exit->io.in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = exit->io.size;
	run->io.port = exit->io.port;
	run->io.count = 1;
	run->io.data_offset = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;

	if (!exit->io.in)
		memcpy(kvm_pio_data(vcpu), &rax, exit->io.size);

	/*
	 * As on Linux, RIP stays on the instruction while userspace handles
	 * it; the next KVM_RUN completes it (kvm_complete_userspace_exit()).
	 */
	vcpu->arch.pio = (typeof(vcpu->arch.pio)) {
		.pending = true,
		.kind = KVM_PENDING_PIO,
		.in = exit->io.in,
		.size = exit->io.size,
		.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP),
		.next_rip = exit->next_rip,
	};
	return 0;
}

/*
 * Finish the access of the last exit to userspace: merge a port read's
 * data into RAX, or an MSR read's into RDX:RAX (or fault), and move past
 * the instruction.  If userspace moved the vCPU elsewhere meanwhile
 * (KVM_SET_REGS), the access is dropped, as on Linux.
 */
static void kvm_complete_userspace_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u8 size = vcpu->arch.pio.size;
	u64 val = 0;

	vcpu->arch.pio.pending = false;
	if (kvm_reg_read(vcpu, VCPU_REGS_RIP) != vcpu->arch.pio.rip)
		return;

	switch (vcpu->arch.pio.kind) {
	case KVM_PENDING_PIO:
		if (vcpu->arch.pio.in) {
			memcpy(&val, kvm_pio_data(vcpu), size);
			kvm_pio_in_to_rax(vcpu, size, val);
		}
		break;
	case KVM_PENDING_MSR:
		if (run->msr.error) {
			nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
			return;
		}
		if (vcpu->arch.pio.in) {
			kvm_reg_write(vcpu, VCPU_REGS_RAX, (u32)run->msr.data);
			kvm_reg_write(vcpu, VCPU_REGS_RDX, run->msr.data >> 32);
		}
		break;
	case KVM_PENDING_HV:
		if (!kvm_hv_complete_user_exit(vcpu))
			return;
		break;
	}
	nkvm_skip_insn(vcpu, vcpu->arch.pio.next_rip);
}

/* Send an MSR access to userspace, if it asked for this kind. */
static bool kvm_msr_to_user(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit,
			    u32 reason, u64 data)
{
	struct kvm_run *run = vcpu->run;
	bool read = exit->reason == X86_EXIT_RDMSR;

	if (!(vcpu->kvm->arch.user_space_msr_mask & reason))
		return false;

	run->exit_reason = read ? KVM_EXIT_X86_RDMSR : KVM_EXIT_X86_WRMSR;
	memset(run->msr.pad, 0, sizeof(run->msr.pad));
	run->msr.error = 0;
	run->msr.reason = reason;
	run->msr.index = exit->msr.index;
	run->msr.data = data;
	vcpu->arch.pio = (typeof(vcpu->arch.pio)) {
		.pending = true,
		.kind = KVM_PENDING_MSR,
		.in = read,
		.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP),
		.next_rip = exit->next_rip,
	};
	return true;
}

static int kvm_handle_msr(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	bool read = exit->reason == X86_EXIT_RDMSR;
	u32 index = exit->msr.index;
	u64 data = 0;
	int r;

	if (!read)
		data = (u32)kvm_reg_read(vcpu, VCPU_REGS_RAX) |
		       (kvm_reg_read(vcpu, VCPU_REGS_RDX) << 32);

	if (!kvm_msr_allowed(vcpu, index, read ? KVM_MSR_FILTER_READ :
						 KVM_MSR_FILTER_WRITE)) {
		if (kvm_msr_to_user(vcpu, exit, KVM_MSR_EXIT_REASON_FILTER, data))
			return 0;
		goto gp;
	}

	r = read ? kvm_get_msr(vcpu, index, &data, false) :
		   kvm_set_msr(vcpu, index, data, false);
	if (r) {
		u32 reason = kvm_msr_known(vcpu, index) ?
			     KVM_MSR_EXIT_REASON_INVAL :
			     KVM_MSR_EXIT_REASON_UNKNOWN;

		if (kvm_msr_to_user(vcpu, exit, reason, data))
			return 0;
		goto gp;
	}
	if (read) {
		kvm_reg_write(vcpu, VCPU_REGS_RAX, (u32)data);
		kvm_reg_write(vcpu, VCPU_REGS_RDX, data >> 32);
	}
	nkvm_skip_insn(vcpu, exit->next_rip);
	return 1;
gp:
	nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

static int kvm_handle_cpuid(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	u32 eax = kvm_reg_read(vcpu, VCPU_REGS_RAX);
	u32 ecx = kvm_reg_read(vcpu, VCPU_REGS_RCX);
	u32 ebx, edx;

	kvm_cpuid_query(vcpu, &eax, &ebx, &ecx, &edx);
	kvm_reg_write(vcpu, VCPU_REGS_RAX, eax);
	kvm_reg_write(vcpu, VCPU_REGS_RBX, ebx);
	kvm_reg_write(vcpu, VCPU_REGS_RCX, ecx);
	kvm_reg_write(vcpu, VCPU_REGS_RDX, edx);
	nkvm_skip_insn(vcpu, exit->next_rip);
	return 1;
}

/*
 * MONITOR and MWAIT are NOPs, as on Linux: a guest never waits in them,
 * it polls.  Without MWAIT in the guest's CPUID they raise #UD, unless the
 * MWAIT_NEVER_UD_FAULTS quirk (on by default) says otherwise.
 */
static int kvm_handle_monitor_mwait(struct kvm_vcpu *vcpu,
				    struct kvm_x86_exit *exit)
{
	if (!kvm_has_quirk(vcpu->kvm, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS) &&
	    !kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(3))) {
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return 1;
	}
	nkvm_skip_insn(vcpu, exit->next_rip);
	return 1;
}

static int kvm_handle_xsetbv(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	u32 index = kvm_reg_read(vcpu, VCPU_REGS_RCX);
	u64 val = (u32)kvm_reg_read(vcpu, VCPU_REGS_RAX) |
		  (kvm_reg_read(vcpu, VCPU_REGS_RDX) << 32);

	if (kvm_x86_ops->get_cpl(vcpu) != 0 || index != 0 ||
	    kvm_set_xcr0(vcpu, val)) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	nkvm_skip_insn(vcpu, exit->next_rip);
	return 1;
}

/*
 * A guest write to CR4: the architecture's checks (reserved bits from the
 * host and the guest's CPUID, PAE in long mode, PCIDE, LA57), then load it,
 * flush the TLB when paging changed, and update CPUID's runtime bits.
 * Returns 0, or 1 for #GP.
 */
static int kvm_set_cr4(struct kvm_vcpu *vcpu, u64 cr4)
{
	u64 old = vcpu->arch.cr4;
	bool long_mode = vcpu->arch.efer & EFER_LMA;
	struct kvm_sregs sregs;

	if (cr4 & (kvm_cr4_reserved_bits | vcpu->arch.model.cr4_reserved))
		return 1;
	if (long_mode && !(cr4 & X86_CR4_PAE))
		return 1;
	if (long_mode && ((cr4 ^ old) & X86_CR4_LA57))
		return 1;
	if ((cr4 & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE)) {
		kvm_x86_ops->get_sregs(vcpu, &sregs);
		if (!long_mode || (sregs.cr3 & 0xfff))
			return 1;
	}

	kvm_x86_ops->set_cr(vcpu, 4, cr4);
	if ((cr4 ^ old) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE |
			   X86_CR4_SMEP | X86_CR4_PCIDE | X86_CR4_LA57))
		kvm_x86_ops->flush_tlb(vcpu);
	if ((cr4 ^ old) & (X86_CR4_OSXSAVE | X86_CR4_PKE))
		kvm_vcpu_cpuid_runtime(vcpu);
	return 0;
}

/*
 * MOV to CR8, when the vendor code made it exit (see its CR8 intercept):
 * bits above the priority are reserved.  With the APIC in userspace a
 * lowered TPR is reported with KVM_EXIT_SET_TPR, as on Linux.
 */
static int kvm_handle_cr8_write(struct kvm_vcpu *vcpu, u64 val, u64 next_rip)
{
	u64 old = vcpu->arch.cr8;

	if (val & ~0xfULL) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	vcpu->arch.cr8 = val;
	nkvm_skip_insn(vcpu, next_rip);
	if (kvm_lapic_in_kernel(vcpu)) {
		kvm_lapic_set_cr8(vcpu, val);
		return 1;
	}
	if (val >= old)
		return 1;
	vcpu->run->exit_reason = KVM_EXIT_SET_TPR;
	return 0;
}

/*
 * A guest write to CR0 that the vendor code made exit (SVM: while the
 * hardware's CR0 differs from the guest's, see svm.c): the architecture's
 * checks as Linux makes them, then load it and flush the guest's TLB when
 * paging changed.  Returns 0, or 1 for #GP.
 */
int kvm_set_cr0(struct kvm_vcpu *vcpu, u64 cr0)
{
	u64 old = vcpu->arch.cr0;
	struct kvm_sregs sregs;

	if (cr0 >> 32)
		return 1;
	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return 1;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return 1;
	/* ET is fixed at 1; writes to the reserved bits are dropped. */
	cr0 |= X86_CR0_ET;
	cr0 &= X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS |
	       X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM |
	       X86_CR0_NW | X86_CR0_CD | X86_CR0_PG;

	kvm_x86_ops->get_sregs(vcpu, &sregs);
	/* Entering long mode needs PAE, and not from a 64-bit CS. */
	if ((vcpu->arch.efer & EFER_LME) && !(old & X86_CR0_PG) &&
	    (cr0 & X86_CR0_PG) &&
	    (!(vcpu->arch.cr4 & X86_CR4_PAE) || sregs.cs.l))
		return 1;
	/* Paging stays on in 64-bit mode and with PCIDs. */
	if (!(cr0 & X86_CR0_PG) &&
	    (((vcpu->arch.efer & EFER_LMA) && sregs.cs.l) ||
	     (vcpu->arch.cr4 & X86_CR4_PCIDE)))
		return 1;

	kvm_x86_ops->set_cr(vcpu, 0, cr0);
	if ((cr0 ^ old) & (X86_CR0_PG | X86_CR0_WP))
		kvm_x86_ops->flush_tlb(vcpu);
	return 0;
}

/* The instruction at RIP is not what the exit said: an emulation error. */
static int kvm_cr_decode_failed(struct kvm_vcpu *vcpu,
				struct kvm_x86_exit *exit)
{
	exit->hw.info[1] = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, exit);
}

static int kvm_handle_cr_write(struct kvm_vcpu *vcpu,
			       struct kvm_x86_exit *exit)
{
	u64 rip = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	struct kvm_cr_insn ci = {
		.kind = KVM_CR_MOV_TO, .cr = exit->cr.cr, .gpr = exit->cr.gpr,
	};
	u64 next_rip = exit->next_rip;
	u64 val;
	int r;

	if (ci.gpr < 0 || !next_rip) {
		if (kvm_decode_cr_insn(vcpu, &ci) || ci.cr != exit->cr.cr ||
		    ci.kind == KVM_CR_MOV_FROM || ci.kind == KVM_CR_SMSW ||
		    ci.kind == KVM_CR_SMSW_MEM)
			return kvm_cr_decode_failed(vcpu, exit);
		/* LMSW from memory: the emulator reads it, then CR0 here. */
		if (ci.kind == KVM_CR_LMSW_MEM)
			return kvm_emulate_instruction(vcpu);
		next_rip = rip + ci.len;
	}

	val = kvm_reg_read(vcpu, ci.gpr);
	if (!(vcpu->arch.efer & EFER_LMA))
		val = (u32)val;
	/* CLTS clears TS; LMSW loads PE, MP, EM, TS but never clears PE. */
	if (ci.kind == KVM_CR_CLTS)
		val = vcpu->arch.cr0 & ~X86_CR0_TS;
	else if (ci.kind == KVM_CR_LMSW)
		val = (vcpu->arch.cr0 & ~0xeULL) | (val & 0xf);

	switch (ci.cr) {
	case 8:
		return kvm_handle_cr8_write(vcpu, val, next_rip);
	case 0:
		r = kvm_set_cr0(vcpu, val);
		break;
	case 4:
		r = kvm_set_cr4(vcpu, val);
		break;
	default:
		r = 1;
		break;
	}
	if (r) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return 1;
	}
	nkvm_skip_insn(vcpu, next_rip);
	return 1;
}

/*
 * A read of CR0 that the vendor code made exit (see kvm_set_cr0()): the
 * guest reads back the value it wrote, never the hardware's.
 */
static int kvm_handle_cr_read(struct kvm_vcpu *vcpu,
			      struct kvm_x86_exit *exit)
{
	u64 rip = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	struct kvm_cr_insn ci;
	u64 val;

	if (kvm_decode_cr_insn(vcpu, &ci) || ci.cr != 0 || exit->cr.cr != 0 ||
	    (ci.kind != KVM_CR_MOV_FROM && ci.kind != KVM_CR_SMSW &&
	     ci.kind != KVM_CR_SMSW_MEM))
		return kvm_cr_decode_failed(vcpu, exit);
	/* SMSW to memory (RAM or MMIO): the emulator stores it. */
	if (ci.kind == KVM_CR_SMSW_MEM)
		return kvm_emulate_instruction(vcpu);

	val = vcpu->arch.cr0;
	if (ci.size == 2)	/* the register's other bits stay */
		val = (kvm_reg_read(vcpu, ci.gpr) & ~0xffffULL) | (u16)val;
	else if (ci.size == 4)
		val = (u32)val;
	kvm_reg_write(vcpu, ci.gpr, val);
	nkvm_skip_insn(vcpu, rip + ci.len);
	return 1;
}

static int kvm_handle_npf(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	int r;

	/* L1TF: the fault path walks and fills the MMU's tables (spec.c). */
	vcpu->arch.l1tf_flush_l1d = true;
	r = kvm_mmu_page_fault(vcpu, exit->npf.gpa, exit->npf.error_code);

	/*
	 * Outside every memslot, or a write to a read-only one: MMIO, through
	 * the emulator.
	 */
	if (r == KVM_MMU_MMIO || r == KVM_MMU_RO_WRITE)
		return kvm_emulate_mmio_fault(vcpu, exit->npf.gpa,
					      exit->npf.error_code,
					      r == KVM_MMU_MMIO);
	return r < 0 ? r : 1;
}

/* Returns > 0 to enter the guest again, 0 to exit to userspace, < 0 error. */
static int kvm_handle_exit(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	int r;

	switch (exit->reason) {
	case X86_EXIT_NONE:
		return 1;
	case X86_EXIT_IO:
		return kvm_handle_io(vcpu, exit);
	case X86_EXIT_HLT:
		vcpu->stat.halt_exits++;
		/* (This also ends the shadow of an "sti; hlt".) */
		nkvm_skip_insn(vcpu, exit->next_rip);
		if (kvm_lapic_in_kernel(vcpu))
			return kvm_emulate_halt(vcpu);
		run->exit_reason = KVM_EXIT_HLT;
		return 0;
	case X86_EXIT_CPUID:
		return kvm_handle_cpuid(vcpu, exit);
	case X86_EXIT_RDMSR:
	case X86_EXIT_WRMSR:
		return kvm_handle_msr(vcpu, exit);
	case X86_EXIT_XSETBV:
		return kvm_handle_xsetbv(vcpu, exit);
	case X86_EXIT_HYPERCALL:
		return kvm_handle_hypercall(vcpu, exit->next_rip);
	case X86_EXIT_MONITOR_MWAIT:
		return kvm_handle_monitor_mwait(vcpu, exit);
	case X86_EXIT_UD:
		if (kvm_smm_rsm_at_rip(vcpu))
			goto rsm;
		return kvm_handle_ud(vcpu);
	case X86_EXIT_RSM:
rsm:
		r = kvm_emulate_rsm(vcpu);
		if (r == -EFAULT)
			return kvm_internal_error(vcpu,
						  KVM_INTERNAL_ERROR_EMULATION,
						  exit);
		return r;
	case X86_EXIT_RDPMC:
		return kvm_pmu_rdpmc(vcpu, exit->next_rip);
	case X86_EXIT_CR_WRITE:
		return kvm_handle_cr_write(vcpu, exit);
	case X86_EXIT_CR_READ:
		return kvm_handle_cr_read(vcpu, exit);
	case X86_EXIT_NPF:
		return kvm_handle_npf(vcpu, exit);
	case X86_EXIT_SHUTDOWN:
		/*
		 * The hardware state is undefined now: INIT the vCPU, as
		 * Linux's SVM code does (the MSRs, CPUID and APIC base stay).
		 */
		kvm_vcpu_init_event(vcpu);
		run->exit_reason = KVM_EXIT_SHUTDOWN;
		return 0;
	case X86_EXIT_DEBUG:
		run->exit_reason = KVM_EXIT_DEBUG;
		run->debug.arch.exception = exit->debug.exception;
		run->debug.arch.pad = 0;
		run->debug.arch.pc = exit->debug.pc;
		run->debug.arch.dr6 = exit->debug.dr6;
		run->debug.arch.dr7 = exit->debug.dr7;
		return 0;
	case X86_EXIT_FAIL_ENTRY:
		run->exit_reason = KVM_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_entry_failure_reason = exit->hw.hw_reason;
		run->fail_entry.cpu = vcpu->cpu;
		return 0;
	case X86_EXIT_DECODE_FAILED:
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
					  exit);
	default:
		return kvm_internal_error(vcpu,
					  KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					  exit);
	}
}

/* ---- The run loop ------------------------------------------------------ */

/*
 * Run the guest once.  Returns > 0 to go round again, 0 to return to
 * userspace (kvm_run filled in), < 0 for an error.
 */
static int kvm_enter_guest(struct kvm_vcpu *vcpu)
	__must_hold(&vcpu->kvm->srcu)
{
	struct kvm_x86_exit exit = {};
	bool xcr0_switched, tsc_aux_switched;
	u64 host_tsc_aux = 0;
	int r;

	/* Until userspace recycles its dirty ring, no guest writes. */
	if (kvm_dirty_ring_soft_full(vcpu)) {
		vcpu->run->exit_reason = KVM_EXIT_DIRTY_RING_FULL;
		return 0;
	}
	r = kvm_mmu_reload(vcpu);
	if (r)
		return r;
	if (kvm_check_request(vcpu, KVM_REQ_TLB_FLUSH))
		kvm_x86_ops->flush_tlb(vcpu);
	if (kvm_check_request(vcpu, KVM_REQ_CLOCK_UPDATE))
		kvm_kvmclock_update(vcpu);
	if (vcpu->arch.triple_fault_pending) {
		/*
		 * A triple fault userspace queued (KVM_SET_VCPU_EVENTS): the
		 * vCPU shuts down as if the guest had faulted, its state kept
		 * (or, in L2 with L1 intercepting SHUTDOWN, L1 gets the exit).
		 */
		vcpu->arch.triple_fault_pending = false;
		if (!kvm_x86_ops->nested_triple_fault ||
		    !kvm_x86_ops->nested_triple_fault(vcpu)) {
			vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
			return 0;
		}
	}
	if (kvm_check_request(vcpu, KVM_REQ_STEAL_UPDATE))
		kvm_record_steal_time(vcpu);
	if (kvm_check_request(vcpu, KVM_REQ_MSR_FILTER_CHANGED))
		nkvm_spec_ctrl_update_intercept(vcpu);
	if (kvm_check_request(vcpu, KVM_REQ_HV_EXIT) && !kvm_hv_user_exit(vcpu))
		return 0;
	kvm_pmu_service(vcpu);
	if (kvm_lapic_in_kernel(vcpu)) {
		int r = kvm_lapic_pre_entry(vcpu);

		if (r <= 0)
			return r;
	}
	if (kvm_x86_ops->update_cr8_intercept)
		kvm_x86_ops->update_cr8_intercept(vcpu,
			!kvm_lapic_in_kernel(vcpu) || kvm_lapic_tpr_blocks_irq(vcpu));
	kvm_smm_latch_smi(vcpu);
	if (kvm_x86_ops->check_nested_events)
		kvm_x86_ops->check_nested_events(vcpu);
	/* Into SMM: another state, another address space; start over. */
	if (kvm_smm_supported() && kvm_smm_check_smi(vcpu))
		return 1;
	kvm_inject_events(vcpu);
	/* After the injection: the VAPIC word shows what is in service now. */
	if (kvm_lapic_in_kernel(vcpu)) {
		kvm_lapic_sync_to_vapic(vcpu);
		kvm_lapic_pv_eoi_to_guest(vcpu);
	}

	srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx);
	preempt_disable();
	local_irq_disable();

	if (!kvm_vcpu_enter_guest_mode(vcpu)) {
		local_irq_enable();
		preempt_enable();
		vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
		/* The guest did not run: take back the PV EOI flag. */
		kvm_lapic_pv_eoi_from_guest(vcpu);
		return 1;
	}

	/* What is injected now is delivered, unless the exit says otherwise. */
	vcpu->arch.exception.injected = false;
	vcpu->arch.nmi_injected = false;
	vcpu->arch.interrupt.injected = false;

	/*
	 * A reschedule or a kernel FPU user since KVM_RUN swapped the guest's
	 * FPU state in may have left the registers holding something else:
	 * reload them before the guest sees them.
	 */
	fpregs_assert_state_consistent();
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();

	/*
	 * Running the guest is, for RCU, like a context switch: say so, or a
	 * vCPU that bounces between the guest and the kernel without ever
	 * scheduling holds up grace periods.  (rcu_virt_note_context_switch()
	 * changed its signature in 6.12: call what it wraps.)
	 */
	rcu_note_context_switch(false);

	/* Ticks that land while the guest runs count as guest time. */
	current->flags |= PF_VCPU;
	xcr0_switched = kvm_load_guest_xcr0(vcpu);
	tsc_aux_switched = kvm_load_guest_tsc_aux(vcpu, &host_tsc_aux);
	kvm_x86_ops->run(vcpu);
	if (tsc_aux_switched)
		wrmsrl(MSR_TSC_AUX, host_tsc_aux);
	/*
	 * VMSCAPE: where the host asks for it, this CPU flushes the branch
	 * predictors before it next returns to userspace (the VMM), which the
	 * guest's predictions must not steer.  Set before preemption is back
	 * on: it is this CPU that ran the guest.
	 */
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
	kvm_load_host_xcr0(xcr0_switched);
	vcpu->arch.has_run = true;
	vcpu->arch.pdptrs_from_user = false;
	kvm_vcpu_exit_guest_mode(vcpu);

	/* Take the interrupt that caused the exit, if any, as guest time. */
	local_irq_enable();
	barrier();
	local_irq_disable();
	current->flags &= ~PF_VCPU;
	local_irq_enable();
	preempt_enable();

	vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
	vcpu->stat.exits++;
	/* The guest's CR8 writes do not exit: the TPR follows V_TPR. */
	if (kvm_lapic_in_kernel(vcpu)) {
		kvm_lapic_set_cr8(vcpu, vcpu->arch.cr8);
		kvm_lapic_sync_from_vapic(vcpu);
		kvm_lapic_pv_eoi_from_guest(vcpu);
	}
	kvm_x86_ops->handle_exit(vcpu, &exit);
	return kvm_handle_exit(vcpu, &exit);
}

static void kvm_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
static int kvm_set_regs_checked(struct kvm_vcpu *vcpu,
				const struct kvm_regs *regs);
static void kvm_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
static int kvm_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs);
static void kvm_get_vcpu_events(struct kvm_vcpu *vcpu,
				struct kvm_vcpu_events *events);
static int kvm_set_vcpu_events(struct kvm_vcpu *vcpu,
			       const struct kvm_vcpu_events *events);

/* KVM_RUN with kvm_dirty_regs: state userspace left in the kvm_run page. */
static int kvm_sync_regs_in(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	int r;

	if (run->kvm_dirty_regs & KVM_SYNC_X86_REGS) {
		r = kvm_set_regs_checked(vcpu, &run->s.regs.regs);
		if (r)
			return r;
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
	}
	if (run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) {
		struct kvm_sregs sregs = run->s.regs.sregs;

		r = kvm_set_sregs(vcpu, &sregs);
		if (r)
			return r;
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_SREGS;
	}
	if (run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS) {
		struct kvm_vcpu_events events = run->s.regs.events;

		r = kvm_set_vcpu_events(vcpu, &events);
		if (r)
			return r;
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_EVENTS;
	}
	return 0;
}

static void kvm_sync_regs_out(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	if (run->kvm_valid_regs & KVM_SYNC_X86_REGS)
		kvm_get_regs(vcpu, &run->s.regs.regs);
	if (run->kvm_valid_regs & KVM_SYNC_X86_SREGS)
		kvm_get_sregs(vcpu, &run->s.regs.sregs);
	if (run->kvm_valid_regs & KVM_SYNC_X86_EVENTS)
		kvm_get_vcpu_events(vcpu, &run->s.regs.events);
}

static void kvm_post_run(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	run->if_flag = !!(kvm_get_rflags(vcpu) & X86_EFLAGS_IF);
	run->apic_base = vcpu->arch.apic_base;
	run->cr8 = vcpu->arch.cr8;
	run->ready_for_interrupt_injection = kvm_ready_for_interrupt(vcpu);
	if (vcpu->arch.smm)
		run->flags |= KVM_RUN_X86_SMM;
}

int kvm_arch_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	int r;

	if ((run->kvm_valid_regs & ~KVM_SYNC_VALID_FIELDS) ||
	    (run->kvm_dirty_regs & ~KVM_SYNC_VALID_FIELDS))
		return -EINVAL;

	run->flags = 0;
	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, true);
	/* L1TF: back from userspace, which may have touched anything. */
	vcpu->arch.l1tf_flush_l1d = true;

	/*
	 * State userspace left in kvm_run first, then finish what the last
	 * exit started (even on an immediate exit): if userspace moved RIP,
	 * the access is dropped, as on Linux.
	 */
	if (run->kvm_dirty_regs) {
		r = kvm_sync_regs_in(vcpu);
		if (r)
			goto out;
	}
	if (vcpu->arch.pio.pending)
		kvm_complete_userspace_exit(vcpu);
	if (kvm_emulation_pending(vcpu)) {
		r = kvm_complete_emulation(vcpu);
		if (r <= 0)
			goto out;
	}

	/* As on Linux, exit_reason keeps the value of the last exit. */
	if (kvm_run_immediate_exit(run)) {
		r = -EINTR;
		goto out;
	}

	if (kvm_lapic_in_kernel(vcpu) &&
	    vcpu->arch.mp_state == KVM_MP_STATE_HALTED) {
		r = kvm_emulate_halt(vcpu);
		if (r <= 0)
			goto out;
	}

	for (;;) {
		r = kvm_enter_guest(vcpu);
		if (r <= 0)
			break;
		if (run->request_interrupt_window &&
		    kvm_ready_for_interrupt(vcpu)) {
			run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
			vcpu->stat.request_irq_exits++;
			r = 0;
			break;
		}
		/*
		 * What a return to userspace would do first (a reschedule,
		 * rseq's cpu_id after a migration, task work), outside the
		 * SRCU read side since task work may take long.
		 */
		if (kvm_xfer_work_pending()) {
			srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx);
			r = kvm_xfer_handle_work();
			vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
			if (r) {
				run->exit_reason = KVM_EXIT_INTR;
				vcpu->stat.signal_exits++;
				r = -EINTR;
				break;
			}
		}
	}
out:
	kvm_post_run(vcpu);
	if (run->kvm_valid_regs)
		kvm_sync_regs_out(vcpu);
	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, false);
	return r;
}

/* ---- State ioctls ------------------------------------------------------ */

static int kvm_set_guest_debug(struct kvm_vcpu *vcpu,
			       const struct kvm_guest_debug *dbg)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	unsigned long rflags;
	int i;

	if (dbg->control & ~KVM_GUESTDBG_VALID_MASK)
		return -EINVAL;
	if (dbg->control & (KVM_GUESTDBG_INJECT_DB | KVM_GUESTDBG_INJECT_BP)) {
		if (arch->exception.pending || arch->exception.injected)
			return -EBUSY;
		nkvm_queue_exception(vcpu, (dbg->control & KVM_GUESTDBG_INJECT_DB) ?
				     X86_TRAP_DB : X86_TRAP_BP, false, 0);
	}

	rflags = kvm_get_rflags(vcpu);
	arch->guest_debug = (dbg->control & KVM_GUESTDBG_ENABLE) ?
			    dbg->control : 0;
	for (i = 0; i < 4; i++)
		arch->guest_debug_db[i] = dbg->arch.debugreg[i];
	arch->guest_debug_dr7 = dbg->arch.debugreg[7];
	kvm_set_rflags(vcpu, rflags);
	return 0;
}

static void kvm_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	const unsigned long *r = vcpu->arch.regs;

	*regs = (struct kvm_regs) {
		.rax = r[VCPU_REGS_RAX], .rbx = r[VCPU_REGS_RBX],
		.rcx = r[VCPU_REGS_RCX], .rdx = r[VCPU_REGS_RDX],
		.rsi = r[VCPU_REGS_RSI], .rdi = r[VCPU_REGS_RDI],
		.rsp = r[VCPU_REGS_RSP], .rbp = r[VCPU_REGS_RBP],
		.r8 = r[VCPU_REGS_R8], .r9 = r[VCPU_REGS_R9],
		.r10 = r[VCPU_REGS_R10], .r11 = r[VCPU_REGS_R11],
		.r12 = r[VCPU_REGS_R12], .r13 = r[VCPU_REGS_R13],
		.r14 = r[VCPU_REGS_R14], .r15 = r[VCPU_REGS_R15],
		.rip = r[VCPU_REGS_RIP], .rflags = kvm_get_rflags(vcpu),
	};
}

static void kvm_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs)
{
	unsigned long *r = vcpu->arch.regs;

	r[VCPU_REGS_RAX] = regs->rax;
	r[VCPU_REGS_RBX] = regs->rbx;
	r[VCPU_REGS_RCX] = regs->rcx;
	r[VCPU_REGS_RDX] = regs->rdx;
	r[VCPU_REGS_RSI] = regs->rsi;
	r[VCPU_REGS_RDI] = regs->rdi;
	r[VCPU_REGS_RSP] = regs->rsp;
	r[VCPU_REGS_RBP] = regs->rbp;
	r[VCPU_REGS_R8] = regs->r8;
	r[VCPU_REGS_R9] = regs->r9;
	r[VCPU_REGS_R10] = regs->r10;
	r[VCPU_REGS_R11] = regs->r11;
	r[VCPU_REGS_R12] = regs->r12;
	r[VCPU_REGS_R13] = regs->r13;
	r[VCPU_REGS_R14] = regs->r14;
	r[VCPU_REGS_R15] = regs->r15;
	r[VCPU_REGS_RIP] = regs->rip;
	kvm_set_rflags(vcpu, regs->rflags);
}

static int kvm_set_regs_checked(struct kvm_vcpu *vcpu,
				const struct kvm_regs *regs)
{
	kvm_set_regs(vcpu, regs);
	return 0;
}

static void kvm_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	memset(sregs, 0, sizeof(*sregs));
	kvm_x86_ops->get_sregs(vcpu, sregs);
	sregs->cr8 = kvm_lapic_in_kernel(vcpu) ? kvm_lapic_get_cr8(vcpu) :
						 vcpu->arch.cr8;
	sregs->apic_base = vcpu->arch.apic_base;
	/* A queued external interrupt shows in the bitmap (userspace irqchip). */
	if (!kvm_lapic_in_kernel(vcpu) &&
	    vcpu->arch.interrupt.injected && !vcpu->arch.interrupt.soft)
		set_bit(vcpu->arch.interrupt.nr,
			(unsigned long *)sregs->interrupt_bitmap);
}

/*
 * What Linux refuses in KVM_SET_SREGS: reserved CR4 bits, CR0 bits above
 * 31, NW without CD, paging without protection, and long-mode bits that do
 * not agree.  Other inconsistencies are left to the hardware's entry
 * checks (KVM_EXIT_FAIL_ENTRY).
 */
bool kvm_sregs_valid(struct kvm_vcpu *vcpu, const struct kvm_sregs *s)
{
	if (s->cr4 & (kvm_cr4_reserved_bits | vcpu->arch.model.cr4_reserved))
		return false;
	if (s->cr0 >> 32)
		return false;
	if ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD))
		return false;
	if ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE))
		return false;
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
		if (s->cr3 >> vcpu->arch.model.maxphyaddr)
			return false;
	} else if ((s->efer & EFER_LMA) || s->cs.l) {
		return false;
	}
	return true;
}

static int kvm_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	int pending_vec, r;

	if (!kvm_sregs_valid(vcpu, sregs))
		return -EINVAL;
	if (kvm_set_apic_base_host(vcpu, sregs->apic_base))
		return -EINVAL;
	r = kvm_x86_ops->set_sregs(vcpu, sregs);
	if (r)
		return r;
	vcpu->arch.cr8 = sregs->cr8 & 0xf;
	if (kvm_lapic_in_kernel(vcpu))
		kvm_lapic_set_cr8(vcpu, vcpu->arch.cr8);
	kvm_vcpu_cpuid_runtime(vcpu);
	kvm_x86_ops->flush_tlb(vcpu);
	if (kvm_lapic_in_kernel(vcpu))
		return 0;	/* the bitmap is ignored with an in-kernel APIC */

	/* An interrupt in the bitmap is queued for injection. */
	pending_vec = find_first_bit((const unsigned long *)sregs->interrupt_bitmap,
				     KVM_NR_INTERRUPTS);
	if (pending_vec < KVM_NR_INTERRUPTS) {
		vcpu->arch.interrupt.injected = true;
		vcpu->arch.interrupt.soft = false;
		vcpu->arch.interrupt.nr = pending_vec;
	}
	return 0;
}

static bool kvm_pae_paging(struct kvm_vcpu *vcpu)
{
	return (vcpu->arch.cr0 & X86_CR0_PG) && (vcpu->arch.cr4 & X86_CR4_PAE) &&
	       !(vcpu->arch.efer & EFER_LMA);
}

/*
 * KVM_GET_SREGS2: the PDPTRs come with PAE paging.  Nested paging reads
 * them from guest memory on every walk (nothing caches them), so that is
 * where they come from, unless userspace just set them.
 */
static int kvm_get_sregs2(struct kvm_vcpu *vcpu, struct kvm_sregs2 *s2)
{
	struct kvm_sregs s;
	u64 cr3;

	kvm_get_sregs(vcpu, &s);
	memset(s2, 0, sizeof(*s2));
	memcpy(s2, &s, offsetof(struct kvm_sregs2, flags));
	if (!kvm_pae_paging(vcpu))
		return 0;

	s2->flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
	if (vcpu->arch.pdptrs_from_user) {
		memcpy(s2->pdptrs, vcpu->arch.pdptrs, sizeof(s2->pdptrs));
		return 0;
	}
	cr3 = s.cr3 & ~0x1fULL & 0xffffffffULL;
	if (nkvm_read_guest(vcpu->kvm, cr3, s2->pdptrs, sizeof(s2->pdptrs)))
		memset(s2->pdptrs, 0, sizeof(s2->pdptrs));
	return 0;
}

static int kvm_set_sregs2(struct kvm_vcpu *vcpu, const struct kvm_sregs2 *s2)
{
	struct kvm_sregs s = {};
	bool pae = (s2->cr0 & X86_CR0_PG) && (s2->cr4 & X86_CR4_PAE) &&
		   !(s2->efer & EFER_LMA);
	int r;

	/* Both structs share their layout up to apic_base. */
	BUILD_BUG_ON(offsetof(struct kvm_sregs, interrupt_bitmap) !=
		     offsetof(struct kvm_sregs2, flags));

	if (s2->flags & ~KVM_SREGS2_FLAGS_PDPTRS_VALID)
		return -EINVAL;
	if ((s2->flags & KVM_SREGS2_FLAGS_PDPTRS_VALID) && !pae)
		return -EINVAL;

	memcpy(&s, s2, offsetof(struct kvm_sregs2, flags));
	r = kvm_set_sregs(vcpu, &s);
	if (r)
		return r;
	vcpu->arch.pdptrs_from_user = s2->flags & KVM_SREGS2_FLAGS_PDPTRS_VALID;
	memcpy(vcpu->arch.pdptrs, s2->pdptrs, sizeof(vcpu->arch.pdptrs));
	return 0;
}

static void kvm_get_fpu(struct kvm_vcpu *vcpu, struct kvm_fpu *fpu)
{
	const struct fxregs_state *fx =
		&vcpu->arch.guest_fpu.fpstate->regs.fxsave;

	memset(fpu, 0, sizeof(*fpu));
	memcpy(fpu->fpr, fx->st_space, sizeof(fpu->fpr));
	fpu->fcw = fx->cwd;
	fpu->fsw = fx->swd;
	fpu->ftwx = fx->twd;
	fpu->last_opcode = fx->fop;
	fpu->last_ip = fx->rip;
	fpu->last_dp = fx->rdp;
	memcpy(fpu->xmm, fx->xmm_space, sizeof(fpu->xmm));
	fpu->mxcsr = fx->mxcsr;
}

static void kvm_set_fpu(struct kvm_vcpu *vcpu, const struct kvm_fpu *fpu)
{
	struct fxregs_state *fx = &vcpu->arch.guest_fpu.fpstate->regs.fxsave;

	memcpy(fx->st_space, fpu->fpr, sizeof(fpu->fpr));
	fx->cwd = fpu->fcw;
	fx->swd = fpu->fsw;
	fx->twd = fpu->ftwx;
	fx->fop = fpu->last_opcode;
	fx->rip = fpu->last_ip;
	fx->rdp = fpu->last_dp;
	memcpy(fx->xmm_space, fpu->xmm, sizeof(fpu->xmm));
	fx->mxcsr = fpu->mxcsr;
}

/*
 * The image names only the components the guest's CPUID offers (x87 and SSE
 * always, with or without XSAVE on the host), so that it restores on any
 * host that offers the guest as much, as on Linux.
 */
static int kvm_get_xsave(struct kvm_vcpu *vcpu, void __user *uxsave, u32 size)
{
	u64 xfeatures = vcpu->arch.model.supported_xcr0 | XFEATURE_MASK_FPSSE;
	void *buf;
	int r = 0;

	buf = kvzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	fpu_copy_guest_fpstate_to_uabi(&vcpu->arch.guest_fpu, buf, size,
				       xfeatures, 0);
	if (copy_to_user(uxsave, buf, size))
		r = -EFAULT;
	kvfree(buf);
	return r;
}

static int kvm_set_xsave(struct kvm_vcpu *vcpu, void __user *uxsave)
{
	u32 size = kvm_xsave2_size();
	u32 pkru = 0;
	void *buf;
	int r;

	buf = vmemdup_user(uxsave, size);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	r = fpu_copy_uabi_to_guest_fpstate(&vcpu->arch.guest_fpu, buf,
					   kvm_host_supported_xcr0(), &pkru);
	kvfree(buf);
	return r;
}

static void kvm_get_xcrs(struct kvm_vcpu *vcpu, struct kvm_xcrs *xcrs)
{
	memset(xcrs, 0, sizeof(*xcrs));
	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		return;
	xcrs->nr_xcrs = 1;
	xcrs->xcrs[0].xcr = XCR_XFEATURE_ENABLED_MASK;
	xcrs->xcrs[0].value = vcpu->arch.xcr0;
}

static int kvm_set_xcrs(struct kvm_vcpu *vcpu, const struct kvm_xcrs *xcrs)
{
	u32 i;

	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		return -EINVAL;
	if (xcrs->nr_xcrs > KVM_MAX_XCRS || xcrs->flags)
		return -EINVAL;
	for (i = 0; i < xcrs->nr_xcrs; i++) {
		/* Only XCR0 exists. */
		if (xcrs->xcrs[i].xcr != XCR_XFEATURE_ENABLED_MASK ||
		    kvm_set_xcr0(vcpu, xcrs->xcrs[i].value))
			return -EINVAL;
	}
	return 0;
}

static void kvm_get_debugregs(struct kvm_vcpu *vcpu,
			      struct kvm_debugregs *dbg)
{
	memset(dbg, 0, sizeof(*dbg));
	memcpy(dbg->db, vcpu->arch.db, sizeof(dbg->db));
	dbg->dr6 = vcpu->arch.dr6;
	dbg->dr7 = vcpu->arch.dr7;
}

static int kvm_set_debugregs(struct kvm_vcpu *vcpu,
			     const struct kvm_debugregs *dbg)
{
	/* DR6 and DR7 are 32-bit registers. */
	if (dbg->flags || (dbg->dr6 >> 32) || (dbg->dr7 >> 32))
		return -EINVAL;
	memcpy(vcpu->arch.db, dbg->db, sizeof(vcpu->arch.db));
	vcpu->arch.dr6 = dbg->dr6;
	vcpu->arch.dr7 = dbg->dr7;
	return 0;
}

static void kvm_get_vcpu_events(struct kvm_vcpu *vcpu,
				struct kvm_vcpu_events *ev)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	memset(ev, 0, sizeof(*ev));
	/* Without KVM_CAP_EXCEPTION_PAYLOAD a queued exception is "injected". */
	ev->exception.injected = arch->exception.pending ||
				 arch->exception.injected;
	ev->exception.nr = arch->exception.vector;
	ev->exception.has_error_code = arch->exception.has_error_code;
	ev->exception.error_code = arch->exception.error_code;

	ev->interrupt.injected = arch->interrupt.injected && !arch->interrupt.soft;
	ev->interrupt.nr = arch->interrupt.nr;
	ev->interrupt.soft = arch->interrupt.soft;
	ev->interrupt.shadow = kvm_x86_ops->get_interrupt_shadow(vcpu);

	ev->nmi.injected = arch->nmi_injected;
	ev->nmi.pending = arch->nmi_pending != 0;
	ev->nmi.masked = arch->nmi_masked;

	ev->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
		    KVM_VCPUEVENT_VALID_SMM;
	kvm_smm_get_events(vcpu, ev);
	/* Only once userspace asked for it (KVM_CAP_X86_TRIPLE_FAULT_EVENT). */
	if (vcpu->kvm->arch.triple_fault_event) {
		ev->flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
		ev->triple_fault.pending = arch->triple_fault_pending;
	}
}

static int kvm_set_vcpu_events(struct kvm_vcpu *vcpu,
			       const struct kvm_vcpu_events *ev)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	if (ev->flags & ~(KVM_VCPUEVENT_VALID_NMI_PENDING |
			  KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			  KVM_VCPUEVENT_VALID_SHADOW |
			  KVM_VCPUEVENT_VALID_SMM |
			  KVM_VCPUEVENT_VALID_TRIPLE_FAULT))
		return -EINVAL;
	if ((ev->flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) &&
	    !vcpu->kvm->arch.triple_fault_event)
		return -EINVAL;
	if (ev->exception.injected &&
	    (ev->exception.nr > 31 || ev->exception.nr == X86_TRAP_NMI))
		return -EINVAL;
	/* Without SMM, userspace may only say the vCPU is not in it. */
	if ((ev->flags & KVM_VCPUEVENT_VALID_SMM) && !kvm_smm_supported() &&
	    (ev->smi.smm || ev->smi.pending || ev->smi.smm_inside_nmi ||
	     ev->smi.latched_init))
		return -EINVAL;
	/* An AP waiting for SIPI takes no SMI (Linux's rule). */
	if ((ev->flags & KVM_VCPUEVENT_VALID_SMM) &&
	    (ev->smi.smm || ev->smi.pending) &&
	    vcpu->arch.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return -EINVAL;

	/* Without KVM_CAP_EXCEPTION_PAYLOAD, "pending" means nothing. */
	arch->exception.pending = false;
	arch->exception.injected = ev->exception.injected;
	arch->exception.vector = ev->exception.nr;
	arch->exception.has_error_code = ev->exception.has_error_code;
	arch->exception.error_code = ev->exception.error_code;

	arch->interrupt.injected = ev->interrupt.injected;
	arch->interrupt.nr = ev->interrupt.nr;
	arch->interrupt.soft = ev->interrupt.soft;
	if (ev->flags & KVM_VCPUEVENT_VALID_SHADOW)
		kvm_x86_ops->set_interrupt_shadow(vcpu, ev->interrupt.shadow);

	arch->nmi_injected = ev->nmi.injected;
	if (ev->flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
		arch->nmi_pending = ev->nmi.pending;
	arch->nmi_masked = ev->nmi.masked;
	if (ev->flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT)
		arch->triple_fault_pending = ev->triple_fault.pending;
	return kvm_smm_set_events(vcpu, ev);
}

/*
 * KVM_GET_NESTED_STATE.  nkvm never runs a nested guest, so the state is
 * always the one outside guest mode, in the vendor's format: SVM with GIF
 * set, VMX with no VMXON region.  Returns 0, or -E2BIG with the size
 * needed written back.
 */
static int kvm_get_nested_state(struct kvm_vcpu *vcpu,
				struct kvm_nested_state __user *ustate)
{
	struct kvm_nested_state st = {
		.format = kvm_x86_ops->nested_state_format,
		.size = sizeof(st),
	};
	u32 room;

	if (kvm_x86_ops->get_nested_state)
		return kvm_x86_ops->get_nested_state(vcpu, ustate);
	if (get_user(room, &ustate->size))
		return -EFAULT;
	if (room < st.size)
		return put_user(st.size, &ustate->size) ? -EFAULT : -E2BIG;
	if (st.format == KVM_STATE_NESTED_FORMAT_SVM) {
		st.flags = KVM_STATE_NESTED_GIF_SET;
	} else {
		st.hdr.vmx.vmxon_pa = -1ULL;
		st.hdr.vmx.vmcs12_pa = -1ULL;
	}
	return copy_to_user(ustate, &st, sizeof(st)) ? -EFAULT : 0;
}

/*
 * KVM_SET_NESTED_STATE: the backend's if it runs nested guests, else only
 * the state outside guest mode, as above.
 */
static int kvm_set_nested_state(struct kvm_vcpu *vcpu,
				const struct kvm_nested_state *st,
				const void __user *data)
{
	if (st->size < sizeof(*st))
		return -EINVAL;
	if (st->flags & ~(KVM_STATE_NESTED_RUN_PENDING |
			  KVM_STATE_NESTED_GUEST_MODE |
			  KVM_STATE_NESTED_EVMCS |
			  KVM_STATE_NESTED_MTF_PENDING |
			  KVM_STATE_NESTED_GIF_SET))
		return -EINVAL;
	if ((st->flags & KVM_STATE_NESTED_RUN_PENDING) &&
	    !(st->flags & KVM_STATE_NESTED_GUEST_MODE))
		return -EINVAL;
	if (st->format != kvm_x86_ops->nested_state_format)
		return -EINVAL;
	if (kvm_x86_ops->set_nested_state)
		return kvm_x86_ops->set_nested_state(vcpu, st, data);
	if (st->format == KVM_STATE_NESTED_FORMAT_SVM)
		/* EFER.SVME is never set: GIF set, not in guest mode. */
		return st->flags == KVM_STATE_NESTED_GIF_SET ? 0 : -EINVAL;
	/* VMX is not offered to the guest: no VMXON, no VMCS12. */
	if (st->hdr.vmx.vmxon_pa != -1ULL || st->hdr.vmx.vmcs12_pa != -1ULL ||
	    st->hdr.vmx.smm.flags || st->flags)
		return -EINVAL;
	return 0;
}

static int kvm_set_mp_state(struct kvm_vcpu *vcpu,
			    const struct kvm_mp_state *mp)
{
	/* INIT is held back in SMM, and an SMI comes first (Linux's rule). */
	if ((vcpu->arch.smm || vcpu->arch.smi_pending ||
	     test_bit(KVM_REQ_SMI, &vcpu->requests)) &&
	    (mp->mp_state == KVM_MP_STATE_INIT_RECEIVED ||
	     mp->mp_state == KVM_MP_STATE_SIPI_RECEIVED))
		return -EINVAL;
	if (kvm_lapic_in_kernel(vcpu))
		return kvm_lapic_set_mp_state(vcpu, mp->mp_state);
	/* Without an in-kernel APIC a vCPU is always runnable. */
	if (mp->mp_state != KVM_MP_STATE_RUNNABLE)
		return -EINVAL;
	vcpu->arch.mp_state = mp->mp_state;
	return 0;
}

/*
 * Without TSC scaling the guest's TSC runs at the host's rate: accept a
 * frequency within the host's measurement tolerance (250 ppm).
 */
static int kvm_set_tsc_khz(struct kvm_vcpu *vcpu, u32 khz)
{
	u32 tolerance = tsc_khz / 4000;

	if (!khz)
		return -EINVAL;
	if (khz < tsc_khz - tolerance || khz > tsc_khz + tolerance)
		return -EINVAL;
	vcpu->arch.tsc_khz = khz;
	return 0;
}

/*
 * KVM_INTERRUPT with the interrupt controller in userspace: the vector is
 * queued (replacing one not yet delivered, as on Linux); the VMM calls it
 * when ready_for_interrupt_injection says the guest can take it.
 */
static int kvm_vcpu_interrupt(struct kvm_vcpu *vcpu, u32 irq)
{
	if (irq >= KVM_NR_INTERRUPTS)
		return -EINVAL;
	if (vcpu->kvm->arch.irqchip_mode == NKVM_IRQCHIP_KERNEL)
		return -ENXIO;
	vcpu->arch.interrupt.injected = true;
	vcpu->arch.interrupt.soft = false;
	vcpu->arch.interrupt.nr = irq;
	return 0;
}

/* Copy a fixed-size argument in, run @fn on it, copy it back out. */
#define IOCTL_IN(type, fn) ({						\
	type __v;							\
	copy_from_user(&__v, argp, sizeof(__v)) ? -EFAULT : fn(vcpu, &__v); \
})
#define IOCTL_OUT(type, fn) ({						\
	type __v;							\
	fn(vcpu, &__v);							\
	copy_to_user(argp, &__v, sizeof(__v)) ? -EFAULT : 0;		\
})

long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			 unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_GET_REGS:
		return IOCTL_OUT(struct kvm_regs, kvm_get_regs);
	case KVM_SET_REGS:
		return IOCTL_IN(struct kvm_regs, kvm_set_regs_checked);
	case KVM_GET_SREGS:
		return IOCTL_OUT(struct kvm_sregs, kvm_get_sregs);
	case KVM_SET_SREGS:
		return IOCTL_IN(struct kvm_sregs, kvm_set_sregs);
	case KVM_GET_SREGS2: {
		struct kvm_sregs2 *s2 = kzalloc(sizeof(*s2), GFP_KERNEL);
		int r;

		if (!s2)
			return -ENOMEM;
		r = kvm_get_sregs2(vcpu, s2);
		if (!r && copy_to_user(argp, s2, sizeof(*s2)))
			r = -EFAULT;
		kfree(s2);
		return r;
	}
	case KVM_SET_SREGS2: {
		struct kvm_sregs2 *s2 = memdup_user(argp, sizeof(*s2));
		int r;

		if (IS_ERR(s2))
			return PTR_ERR(s2);
		r = kvm_set_sregs2(vcpu, s2);
		kfree(s2);
		return r;
	}
	case KVM_GET_FPU:
		return IOCTL_OUT(struct kvm_fpu, kvm_get_fpu);
	case KVM_SET_FPU: {
		struct kvm_fpu fpu;

		if (copy_from_user(&fpu, argp, sizeof(fpu)))
			return -EFAULT;
		kvm_set_fpu(vcpu, &fpu);
		return 0;
	}
	case KVM_GET_XSAVE:
		return kvm_get_xsave(vcpu, argp, sizeof(struct kvm_xsave));
	case KVM_GET_XSAVE2:
		return kvm_get_xsave(vcpu, argp, kvm_xsave2_size());
	case KVM_SET_XSAVE:
		return kvm_set_xsave(vcpu, argp);
	case KVM_GET_XCRS:
		return IOCTL_OUT(struct kvm_xcrs, kvm_get_xcrs);
	case KVM_SET_XCRS:
		return IOCTL_IN(struct kvm_xcrs, kvm_set_xcrs);
	case KVM_GET_DEBUGREGS:
		return IOCTL_OUT(struct kvm_debugregs, kvm_get_debugregs);
	case KVM_SET_DEBUGREGS:
		return IOCTL_IN(struct kvm_debugregs, kvm_set_debugregs);
	case KVM_GET_VCPU_EVENTS:
		return IOCTL_OUT(struct kvm_vcpu_events, kvm_get_vcpu_events);
	case KVM_SET_VCPU_EVENTS:
		return IOCTL_IN(struct kvm_vcpu_events, kvm_set_vcpu_events);
	case KVM_GET_MP_STATE: {
		struct kvm_mp_state mp;

		/* A pending INIT/SIPI counts, as in the run loop. */
		if (kvm_lapic_in_kernel(vcpu)) {
			u8 vector;
			unsigned int did = kvm_lapic_accept_init_sipi(vcpu, &vector);

			if (did & LAPIC_DID_INIT)
				kvm_vcpu_init_event(vcpu);
			if (did & LAPIC_DID_SIPI)
				kvm_vcpu_sipi(vcpu, vector);
		}
		mp.mp_state = vcpu->arch.mp_state;
		/* Kicked (KVM_HC_KICK_CPU): as good as running, as on Linux. */
		if (mp.mp_state == KVM_MP_STATE_HALTED &&
		    READ_ONCE(vcpu->arch.pv_unhalted))
			mp.mp_state = KVM_MP_STATE_RUNNABLE;
		return copy_to_user(argp, &mp, sizeof(mp)) ? -EFAULT : 0;
	}
	case KVM_GET_LAPIC: {
		struct kvm_lapic_state *st;
		int r;

		if (!kvm_lapic_in_kernel(vcpu))
			return -ENXIO;
		st = kzalloc(sizeof(*st), GFP_KERNEL);
		if (!st)
			return -ENOMEM;
		r = kvm_lapic_get_state(vcpu, st);
		if (!r && copy_to_user(argp, st, sizeof(*st)))
			r = -EFAULT;
		kfree(st);
		return r;
	}
	case KVM_SET_LAPIC: {
		struct kvm_lapic_state *st;
		int r;

		if (!kvm_lapic_in_kernel(vcpu))
			return -ENXIO;
		st = memdup_user(argp, sizeof(*st));
		if (IS_ERR(st))
			return PTR_ERR(st);
		r = kvm_lapic_set_state(vcpu, st);
		kfree(st);
		return r;
	}
	case KVM_SET_MP_STATE:
		return IOCTL_IN(struct kvm_mp_state, kvm_set_mp_state);
	case KVM_GET_TSC_KHZ:
		return vcpu->arch.tsc_khz;
	case KVM_SET_TSC_KHZ:
		return kvm_set_tsc_khz(vcpu, arg);
	case KVM_INTERRUPT: {
		struct kvm_interrupt irq;

		if (copy_from_user(&irq, argp, sizeof(irq)))
			return -EFAULT;
		return kvm_vcpu_interrupt(vcpu, irq.irq);
	}
	case KVM_TRANSLATE: {
		struct kvm_translation tr;

		if (copy_from_user(&tr, argp, sizeof(tr)))
			return -EFAULT;
		kvm_translate(vcpu, &tr);
		return copy_to_user(argp, &tr, sizeof(tr)) ? -EFAULT : 0;
	}
	case KVM_SET_GUEST_DEBUG:
		return IOCTL_IN(struct kvm_guest_debug, kvm_set_guest_debug);
	case KVM_KVMCLOCK_CTRL:
		return kvm_kvmclock_ctrl(vcpu);
	case KVM_NMI:
		if (vcpu->arch.nmi_pending < 2)
			vcpu->arch.nmi_pending++;
		return 0;
	case KVM_SMI:
		/* Latched before the next entry (dropped without SMM). */
		if (kvm_smm_supported())
			kvm_make_request(vcpu, KVM_REQ_SMI);
		return 0;
	case KVM_SET_CPUID:
		return kvm_vcpu_ioctl_set_cpuid(vcpu, argp);
	case KVM_SET_CPUID2:
		return kvm_vcpu_ioctl_set_cpuid2(vcpu, argp);
	case KVM_GET_CPUID2:
		return kvm_vcpu_ioctl_get_cpuid2(vcpu, argp);
	case KVM_GET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, argp, false);
	case KVM_SET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, argp, true);
	case KVM_TPR_ACCESS_REPORTING: {
		struct kvm_tpr_access_ctl ctl;

		if (copy_from_user(&ctl, argp, sizeof(ctl)))
			return -EFAULT;
		if (ctl.flags)
			return -EINVAL;
		vcpu->arch.tpr_access_reporting = !!ctl.enabled;
		return 0;
	}
	case KVM_SET_VAPIC_ADDR: {
		struct kvm_vapic_addr va;
		int idx, r;

		if (!kvm_lapic_in_kernel(vcpu))
			return -EINVAL;
		if (copy_from_user(&va, argp, sizeof(va)))
			return -EFAULT;
		idx = srcu_read_lock(&vcpu->kvm->srcu);
		r = kvm_lapic_set_vapic_addr(vcpu, va.vapic_addr);
		srcu_read_unlock(&vcpu->kvm->srcu, idx);
		return r;
	}
	case KVM_X86_SETUP_MCE: {
		u64 cap;

		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		return kvm_vcpu_setup_mce(vcpu, cap);
	}
	case KVM_X86_SET_MCE:
		return IOCTL_IN(struct kvm_x86_mce, kvm_vcpu_set_mce);
	case KVM_GET_NESTED_STATE:
		return kvm_get_nested_state(vcpu, argp);
	case KVM_SET_NESTED_STATE:
	{
		struct kvm_nested_state __user *ust = argp;
		struct kvm_nested_state st;

		if (copy_from_user(&st, ust, sizeof(st)))
			return -EFAULT;
		return kvm_set_nested_state(vcpu, &st, ust->data.svm);
	}
	case KVM_NKVM_FLOOR:
		return nkvm_floor_ioctl(vcpu, argp);
	default:
		return kvm_pv_vcpu_ioctl(vcpu, ioctl, argp);
	}
}
