// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the Hyper-V enlightenments, for Windows guests and for Linux guests
 * that prefer them (the interface Linux KVM offers, TLFS numbering).
 *
 * A guest sees them when its CPUID says "Hv#1" at 0x40000001 (userspace
 * puts KVM_GET_SUPPORTED_HV_CPUID's leaves there).  What nkvm implements:
 *
 *  - the identity and hypercall MSRs; the hypercall page holds VMMCALL or
 *    VMCALL (the CPU's) and RET; the hypercall ABI, in registers (fast), in
 *    guest memory, or in XMM registers;
 *  - VP_INDEX, VP_RUNTIME, RESET (KVM_EXIT_SYSTEM_EVENT), the crash MSRs
 *    (a crash notification is KVM_EXIT_SYSTEM_EVENT too);
 *  - the reference time: TIME_REF_COUNT and the TSC page, in step with
 *    kvmclock (same master clock reading, same scale), and the frequency
 *    MSRs; re-enlightenment and TSC emulation are registers the guest keeps
 *    (nkvm never migrates a guest itself) and, as on Linux, freeze the TSC
 *    page while TSC emulation is on;
 *  - the APIC MSRs (EOI, ICR, TPR) and the VP assist page, whose EOI
 *    assist nkvm never offers (the guest always writes EOI);
 *  - the flush and IPI hypercalls, and the long-spin notification;
 *  - the synthetic debugger's MSRs and hypercalls, forwarded to userspace
 *    (KVM_EXIT_HYPERV_SYNDBG / _HCALL) as on Linux.
 *
 * The SynIC and the synthetic timers are registers only: their MSRs
 * follow Linux's access rules and keep their values (KVM_ENABLE_CAP
 * KVM_CAP_HYPERV_SYNIC(2) activates them), and guest writes of the SynIC
 * control MSRs and POST_MESSAGE/SIGNAL_EVENT reach userspace as on Linux,
 * but nkvm delivers no SINT interrupt, message or timer expiry.  So neither
 * is offered (no SynIC/STIMER bits in KVM_GET_SUPPORTED_HV_CPUID, no
 * KVM_CAP_HYPERV_SYNIC*); a Windows guest needs them (VMBus, its timers)
 * before nkvm can run it with these enlightenments on.
 *
 * With KVM_CAP_HYPERV_ENFORCE_CPUID, each MSR and hypercall is the guest's
 * only if its CPUID grants it (#GP, HV_STATUS_ACCESS_DENIED, #UD for XMM
 * input), as Linux decides.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/cpu.h>
#include <linux/math64.h>
#include <linux/nospec.h>
#include <linux/sched/cputime.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/trapnr.h>

#include "hyperv.h"
#include "cpuid.h"
#include "lapic.h"
#include "hypercall.h"

/* Hypercall input value (RCX, or EDX:EAX) */
#define HV_HC_FAST		BIT_ULL(16)
#define HV_HC_VARHEAD_SHIFT	17
#define HV_HC_VARHEAD_MASK	GENMASK_ULL(26, 17)
#define HV_HC_REP_COUNT_SHIFT	32
#define HV_HC_REP_START_SHIFT	48
#define HV_HC_RESERVED		(GENMASK_ULL(31, 27) | GENMASK_ULL(47, 44) | \
				 GENMASK_ULL(63, 60))

/* Hypercall codes */
#define HVCALL_FLUSH_SPACE	0x0002
#define HVCALL_FLUSH_LIST	0x0003
#define HVCALL_LONG_SPIN_WAIT	0x0008
#define HVCALL_SEND_IPI		0x000b
#define HVCALL_FLUSH_SPACE_EX	0x0013
#define HVCALL_FLUSH_LIST_EX	0x0014
#define HVCALL_SEND_IPI_EX	0x0015
#define HVCALL_POST_MESSAGE	0x005c
#define HVCALL_SIGNAL_EVENT	0x005d
#define HVCALL_POST_DEBUG_DATA	0x0069
#define HVCALL_RETRIEVE_DEBUG_DATA 0x006a
#define HVCALL_RESET_DEBUG_SESSION 0x006b

/* Hypercall status */
#define HV_STATUS_SUCCESS		0
#define HV_STATUS_INVALID_HYPERCALL_CODE 2
#define HV_STATUS_INVALID_HYPERCALL_INPUT 3
#define HV_STATUS_INVALID_ALIGNMENT	4
#define HV_STATUS_INVALID_PARAMETER	5
#define HV_STATUS_ACCESS_DENIED		6
#define HV_STATUS_OPERATION_DENIED	8
#define HV_STATUS_INVALID_PORT_ID	17

#define HV_FLUSH_ALL_PROCESSORS		BIT_ULL(0)
#define HV_GENERIC_SET_SPARSE_4K	0
#define HV_GENERIC_SET_ALL		1
#define HV_SYNDBG_OPTION_USE_HCALLS	BIT_ULL(2)
#define HV_CRASH_CTL_NOTIFY		BIT_ULL(63)
#define HV_SINT_MASKED			BIT_ULL(16)
#define HV_SINT_VECTOR_MASK		0xffULL
#define HV_STIMER_DIRECT_MODE		BIT_ULL(12)
#define HV_NR_XMM			6

/* The APIC timer counts at 1 GHz (LAPIC_BUS_CYCLE_NS). */
#define HV_APIC_FREQUENCY	(NSEC_PER_SEC / LAPIC_BUS_CYCLE_NS)

/* ---- CPUID -------------------------------------------------------------- */

static u32 hv_cpuid(struct kvm_vcpu *vcpu, u32 function, int reg)
{
	struct kvm_cpuid_entry2 *e;

	e = kvm_cpuid_find(vcpu->arch.cpuid_entries, vcpu->arch.cpuid_nent,
			   function, 0);
	if (!e)
		return 0;
	switch (reg) {
	case CPUID_EAX:
		return e->eax;
	case CPUID_EBX:
		return e->ebx;
	case CPUID_ECX:
		return e->ecx;
	default:
		return e->edx;
	}
}

/* The guest's CPUID presents Hyper-V's interface. */
static bool hv_enabled(struct kvm_vcpu *vcpu)
{
	return hv_cpuid(vcpu, KVM_HV_CPUID_INTERFACE, CPUID_EAX) ==
	       KVM_HV_INTERFACE_SIG;
}

static u32 hv_features(struct kvm_vcpu *vcpu, int reg)
{
	return hv_cpuid(vcpu, KVM_HV_CPUID_FEATURES, reg);
}

static bool hv_syndbg_enabled(struct kvm_vcpu *vcpu)
{
	return hv_cpuid(vcpu, KVM_HV_CPUID_SYNDBG_CAPS, CPUID_EAX) &
	       KVM_HV_SYNDBG_ALLOW_KERNEL_DEBUGGING;
}

static void hv_signature(struct kvm_cpuid_entry2 *e, const char *sig)
{
	u32 w[3];

	memcpy(w, sig, sizeof(w));
	e->ebx = w[0];
	e->ecx = w[1];
	e->edx = w[2];
}

/*
 * KVM_GET_SUPPORTED_HV_CPUID (system: @vcpu NULL; vCPU): Linux 6.1's ten
 * leaves, with what nkvm implements.  No enlightened VMCS (so no version in
 * 0x4000000a).  The enlightened MSR bitmap is listed as Linux always lists
 * it: it concerns only a guest that runs its own guests (L1 marks its MSR
 * bitmap clean in the VMCB, and L0 may keep using what it merged before).
 * nkvm has no nested virtualization yet, so nothing can use it; nested SVM
 * must honour the clean bit (hyperv_svm_test checks that L0 does).
 */
int kvm_dev_ioctl_get_supported_hv_cpuid(struct kvm_vcpu *vcpu,
					 struct kvm_cpuid2 __user *ucpuid)
{
	static const u32 leaves[] = {
		KVM_HV_CPUID_VENDOR, KVM_HV_CPUID_INTERFACE,
		KVM_HV_CPUID_VERSION, KVM_HV_CPUID_FEATURES,
		KVM_HV_CPUID_ENLIGHTENMENTS, KVM_HV_CPUID_LIMITS,
		KVM_HV_CPUID_SYNDBG_VENDOR, KVM_HV_CPUID_SYNDBG_INTERFACE,
		KVM_HV_CPUID_SYNDBG_CAPS, KVM_HV_CPUID_NESTED,
	};
	struct kvm_cpuid_entry2 ent[ARRAY_SIZE(leaves)] = {};
	bool apic = !vcpu || kvm_lapic_in_kernel(vcpu);
	struct kvm_cpuid2 cpuid;
	int i;

	if (copy_from_user(&cpuid, ucpuid, sizeof(cpuid)))
		return -EFAULT;
	if (cpuid.nent < ARRAY_SIZE(leaves))
		return -E2BIG;
	cpuid.nent = ARRAY_SIZE(leaves);

	for (i = 0; i < ARRAY_SIZE(leaves); i++) {
		struct kvm_cpuid_entry2 *e = &ent[i];

		e->function = leaves[i];
		switch (leaves[i]) {
		case KVM_HV_CPUID_VENDOR:
			e->eax = KVM_HV_CPUID_SYNDBG_CAPS;
			hv_signature(e, "Linux KVM Hv");
			break;
		case KVM_HV_CPUID_INTERFACE:
			e->eax = KVM_HV_INTERFACE_SIG;
			break;
		case KVM_HV_CPUID_VERSION:
			/* Build 14393 (Windows Server 2016), version 10.0. */
			e->eax = 0x3839;
			e->ebx = 0xa0000;
			break;
		case KVM_HV_CPUID_FEATURES:
			e->eax = KVM_HV_VP_RUNTIME_AVAILABLE |
				 KVM_HV_TIME_REF_COUNT_AVAILABLE |
				 KVM_HV_APIC_ACCESS_AVAILABLE |
				 KVM_HV_HYPERCALL_AVAILABLE |
				 KVM_HV_VP_INDEX_AVAILABLE |
				 KVM_HV_RESET_AVAILABLE |
				 KVM_HV_REFERENCE_TSC_AVAILABLE |
				 KVM_HV_FREQUENCY_MSRS |
				 KVM_HV_REENLIGHTENMENT;
			e->ebx = KVM_HV_DEBUGGING;
			e->edx = KVM_HV_XMM_INPUT_AVAILABLE |
				 KVM_HV_FREQUENCY_MSRS_AVAILABLE |
				 KVM_HV_CRASH_MSRS_AVAILABLE |
				 KVM_HV_GUEST_DEBUGGING_AVAILABLE |
				 KVM_HV_DEBUG_MSRS_AVAILABLE;
			break;
		case KVM_HV_CPUID_ENLIGHTENMENTS:
			e->eax = KVM_HV_REMOTE_TLB_FLUSH_RECOMMENDED |
				 KVM_HV_APIC_ACCESS_RECOMMENDED |
				 KVM_HV_RELAXED_TIMING_RECOMMENDED |
				 KVM_HV_EX_PROCESSOR_MASKS_RECOMMENDED;
			if (apic)
				e->eax |= KVM_HV_CLUSTER_IPI_RECOMMENDED;
			if (!cpu_smt_possible())
				e->eax |= KVM_HV_NO_NONARCH_CORESHARING;
			/* Spinlock retries before a long-spin notification. */
			e->ebx = 0xfff;
			break;
		case KVM_HV_CPUID_LIMITS:
			e->eax = KVM_MAX_VCPUS;		/* virtual processors */
			e->ebx = 64;			/* logical processors */
			break;
		case KVM_HV_CPUID_SYNDBG_VENDOR:
			hv_signature(e, "Linux KVM Hv");
			break;
		case KVM_HV_CPUID_SYNDBG_INTERFACE:
			e->eax = 0x31235356;		/* "VS#1" */
			break;
		case KVM_HV_CPUID_SYNDBG_CAPS:
			e->eax = KVM_HV_SYNDBG_ALLOW_KERNEL_DEBUGGING;
			break;
		case KVM_HV_CPUID_NESTED:
			e->eax = KVM_HV_NESTED_MSR_BITMAP;
			break;
		}
	}

	if (copy_to_user(ucpuid, &cpuid, sizeof(cpuid)) ||
	    copy_to_user(ucpuid->entries, ent, sizeof(ent)))
		return -EFAULT;
	return 0;
}

/* ---- The VM and the vCPU ------------------------------------------------ */

void kvm_hv_vm_init(struct kvm *kvm)
{
	mutex_init(&kvm->arch.hyperv.lock);
}

void kvm_hv_vcpu_init(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_hv_synic *synic = &vcpu->arch.hyperv.synic;
	int i;

	synic->version = 1;
	for (i = 0; i < ARRAY_SIZE(synic->sint); i++)
		synic->sint[i] = HV_SINT_MASKED;
}

/* KVM_ENABLE_CAP on the vCPU: the Hyper-V capabilities it takes. */
int kvm_hv_enable_cap(struct kvm_vcpu *vcpu, const struct kvm_enable_cap *cap)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;

	switch (cap->cap) {
	case KVM_CAP_HYPERV_ENFORCE_CPUID:
		hv->enforce_cpuid = cap->args[0];
		return 0;
	case KVM_CAP_HYPERV_SYNIC2:
		if (cap->args[0])
			return -EINVAL;
		fallthrough;
	case KVM_CAP_HYPERV_SYNIC:
		/* SINTs are APIC vectors: an in-kernel APIC is needed. */
		if (!kvm_lapic_in_kernel(vcpu))
			return -EINVAL;
		hv->synic.active = true;
		hv->synic.dont_zero_pages = cap->cap == KVM_CAP_HYPERV_SYNIC2;
		hv->synic.control = 1;		/* enabled */
		return 0;
	default:
		return -EINVAL;
	}
}

/* The VP index: userspace's (KVM_SET_MSRS), or the vCPU's index, @idx. */
static u32 hv_vp_index_of(struct kvm_vcpu *vcpu, unsigned long idx)
{
	return vcpu->arch.hyperv.vp_index_set ? vcpu->arch.hyperv.vp_index : idx;
}

static u32 hv_vp_index(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu *v;
	unsigned long i;

	if (vcpu->arch.hyperv.vp_index_set)
		return vcpu->arch.hyperv.vp_index;
	kvm_for_each_vcpu(i, v, vcpu->kvm)
		if (v == vcpu)
			return i;
	return 0;
}

/* ---- The reference time ------------------------------------------------- */

static struct kvm_vcpu *hv_vcpu0(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu *v0 = xa_load(&vcpu->kvm->vcpus, 0);

	return v0 ? v0 : vcpu;
}

/*
 * The TSC page's parameters for kvmclock's: Hyper-V's time, in 100 ns, is
 * (tsc * scale) >> 64 + offset; kvmclock's, in ns, is
 * system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32.  So
 * scale = mul * 2^(32 + shift) / 100 and
 * offset = system_time / 100 - (tsc_timestamp * scale) >> 64.
 * False if the scale does not fit in 64 bits (a TSC slower than 10 MHz).
 */
static bool hv_tsc_page_params(u64 tsc_timestamp, s64 system_time, u32 mul,
			       s8 shift, struct kvm_hv_tsc_ref *ref)
{
	if (shift > 31 || shift < -31 ||
	    (u64)mul >= (100ULL << (32 - shift)))
		return false;
	ref->scale = mul_u64_u32_div(1ULL << (32 + shift), mul, 100);
	/* Just after KVM_SET_CLOCK, kvmclock may be a little below 0. */
	ref->offset = div_s64(system_time, 100) -
		      mul_u64_u64_shr(tsc_timestamp, ref->scale, 64);
	return true;
}

/*
 * kvmclock's reading for the VM as vCPU 0 sees it (the TSC page is
 * partition-wide, and Linux uses vCPU 0's too).  False without a stable
 * TSC: the guest then uses TIME_REF_COUNT.
 */
static bool hv_compute_tsc_page(struct kvm_vcpu *vcpu,
				struct kvm_hv_tsc_ref *ref)
{
	struct kvm_arch *ka = &vcpu->kvm->arch;
	struct kvm_vcpu *v0 = hv_vcpu0(vcpu);
	u32 mul;
	s8 shift;

	if (!ka->use_master_clock)
		return false;
	kvm_clock_scale((u64)v0->arch.tsc_khz * 1000, &mul, &shift);
	return hv_tsc_page_params(ka->master_host_tsc + v0->arch.tsc_offset,
				  ka->master_ns + ka->kvmclock_offset, mul,
				  shift, ref);
}

/* HV_X64_MSR_TIME_REF_COUNT, hyperv.lock held: the TSC page's if it is set. */
static u64 hv_time_ref_count(struct kvm_vcpu *vcpu)
{
	struct kvm_hv *hv = &vcpu->kvm->arch.hyperv;
	u64 tsc;

	if (hv->tsc_page_status != KVM_HV_TSC_PAGE_SET)
		return div_u64(kvm_get_kvmclock_ns(vcpu->kvm), 100);
	tsc = rdtsc() + hv_vcpu0(vcpu)->arch.tsc_offset;
	return mul_u64_u64_shr(tsc, hv->tsc_ref.scale, 64) + hv->tsc_ref.offset;
}

/*
 * With TSC emulation on, a guest expects its TSC page to stay as it is
 * (it re-reads it after a re-enlightenment notification, which nkvm never
 * sends): the page is then left alone unless the guest just set it.
 */
static bool hv_tsc_page_frozen(struct kvm_hv *hv)
{
	return hv->tsc_page_status != KVM_HV_TSC_PAGE_GUEST_CHANGED &&
	       hv->tsc_emulation_control;
}

/*
 * On every kvmclock update (KVM_REQ_CLOCK_UPDATE, whichever vCPU): write
 * the guest's TSC page if it was just enabled or kvmclock's parameters
 * moved.  The sequence is 0 while the page is rewritten (the guest then
 * reads TIME_REF_COUNT), and never 0 or ~0 afterwards.
 */
void kvm_hv_update_tsc_page(struct kvm_vcpu *vcpu)
{
	struct kvm_hv *hv = &vcpu->kvm->arch.hyperv;
	struct kvm_hv_tsc_ref ref = {};
	u32 seq;
	u64 gpa;

	if (!(READ_ONCE(hv->tsc_page_msr) & 1))
		return;
	mutex_lock(&hv->lock);
	if (!(hv->tsc_page_msr & 1) ||
	    hv->tsc_page_status == KVM_HV_TSC_PAGE_UNSET ||
	    hv->tsc_page_status == KVM_HV_TSC_PAGE_BROKEN)
		goto out;
	gpa = hv->tsc_page_msr & PAGE_MASK;
	if (nkvm_read_guest(vcpu->kvm, gpa, &seq, sizeof(seq)))
		goto broken;

	if (hv_tsc_page_frozen(hv)) {
		/* Restored with the guest's page as it was: adopt it. */
		if (hv->tsc_page_status != KVM_HV_TSC_PAGE_SET && seq) {
			if (nkvm_read_guest(vcpu->kvm, gpa, &hv->tsc_ref,
					    sizeof(hv->tsc_ref)))
				goto broken;
			hv->tsc_page_status = KVM_HV_TSC_PAGE_SET;
		}
		if (hv->tsc_page_status == KVM_HV_TSC_PAGE_SET)
			goto out;
	}

	if (!hv_compute_tsc_page(vcpu, &ref))
		goto broken;
	if (hv->tsc_page_status == KVM_HV_TSC_PAGE_SET &&
	    ref.scale == hv->tsc_ref.scale && ref.offset == hv->tsc_ref.offset)
		goto out;

	hv->tsc_ref.sequence = 0;
	if (nkvm_write_guest(vcpu->kvm, gpa, &hv->tsc_ref.sequence,
			     sizeof(seq)))
		goto broken;
	smp_wmb();
	hv->tsc_ref.scale = ref.scale;
	hv->tsc_ref.offset = ref.offset;
	hv->tsc_ref.reserved = 0;
	if (nkvm_write_guest(vcpu->kvm, gpa, &hv->tsc_ref, sizeof(hv->tsc_ref)))
		goto broken;
	smp_wmb();
	seq++;
	if (seq == 0 || seq == U32_MAX)
		seq = 1;
	hv->tsc_ref.sequence = seq;
	if (nkvm_write_guest(vcpu->kvm, gpa, &hv->tsc_ref.sequence,
			     sizeof(seq)))
		goto broken;
	hv->tsc_page_status = KVM_HV_TSC_PAGE_SET;
	goto out;
broken:
	hv->tsc_page_status = KVM_HV_TSC_PAGE_BROKEN;
out:
	mutex_unlock(&hv->lock);
}

/* ---- MSRs --------------------------------------------------------------- */

const u32 kvm_hv_msrs_to_save[] = {
	KVM_HV_MSR_GUEST_OS_ID, KVM_HV_MSR_HYPERCALL,
	KVM_HV_MSR_TIME_REF_COUNT, KVM_HV_MSR_REFERENCE_TSC,
	KVM_HV_MSR_TSC_FREQUENCY, KVM_HV_MSR_APIC_FREQUENCY,
	KVM_HV_MSR_CRASH_P0, KVM_HV_MSR_CRASH_P0 + 1, KVM_HV_MSR_CRASH_P0 + 2,
	KVM_HV_MSR_CRASH_P0 + 3, KVM_HV_MSR_CRASH_P4, KVM_HV_MSR_CRASH_CTL,
	KVM_HV_MSR_RESET, KVM_HV_MSR_VP_INDEX, KVM_HV_MSR_VP_RUNTIME,
	KVM_HV_MSR_SCONTROL, KVM_HV_MSR_STIMER0_CONFIG,
	KVM_HV_MSR_VP_ASSIST_PAGE, KVM_HV_MSR_REENLIGHTENMENT_CONTROL,
	KVM_HV_MSR_TSC_EMULATION_CONTROL, KVM_HV_MSR_TSC_EMULATION_STATUS,
	KVM_HV_MSR_SYNDBG_OPTIONS, KVM_HV_MSR_SYNDBG_CONTROL,
	KVM_HV_MSR_SYNDBG_STATUS, KVM_HV_MSR_SYNDBG_SEND_BUFFER,
	KVM_HV_MSR_SYNDBG_RECV_BUFFER, KVM_HV_MSR_SYNDBG_PENDING_BUFFER,
};
const unsigned int kvm_hv_nr_msrs_to_save = ARRAY_SIZE(kvm_hv_msrs_to_save);

bool kvm_hv_is_msr(u32 index)
{
	switch (index) {
	case KVM_HV_MSR_GUEST_OS_ID ... KVM_HV_MSR_RESET:
	case KVM_HV_MSR_VP_RUNTIME:
	case KVM_HV_MSR_TIME_REF_COUNT ... KVM_HV_MSR_APIC_FREQUENCY:
	case KVM_HV_MSR_EOI ... KVM_HV_MSR_VP_ASSIST_PAGE:
	case KVM_HV_MSR_SCONTROL ... KVM_HV_MSR_EOM:
	case KVM_HV_MSR_SINT0 ... KVM_HV_MSR_SINT15:
	case KVM_HV_MSR_STIMER0_CONFIG ... KVM_HV_MSR_STIMER3_COUNT:
	case KVM_HV_MSR_SYNDBG_CONTROL ... KVM_HV_MSR_SYNDBG_PENDING_BUFFER:
	case KVM_HV_MSR_SYNDBG_OPTIONS:
	case KVM_HV_MSR_CRASH_P0 ... KVM_HV_MSR_TSC_EMULATION_STATUS:
		return true;
	default:
		return false;
	}
}

/* KVM_CAP_HYPERV_ENFORCE_CPUID: the CPUID bit that grants @msr. */
static bool hv_msr_allowed(struct kvm_vcpu *vcpu, u32 msr)
{
	u32 eax, edx;

	if (!vcpu->arch.hyperv.enforce_cpuid)
		return true;
	eax = hv_features(vcpu, CPUID_EAX);
	edx = hv_features(vcpu, CPUID_EDX);
	switch (msr) {
	case KVM_HV_MSR_GUEST_OS_ID:
	case KVM_HV_MSR_HYPERCALL:
		return eax & KVM_HV_HYPERCALL_AVAILABLE;
	case KVM_HV_MSR_VP_RUNTIME:
		return eax & KVM_HV_VP_RUNTIME_AVAILABLE;
	case KVM_HV_MSR_TIME_REF_COUNT:
		return eax & KVM_HV_TIME_REF_COUNT_AVAILABLE;
	case KVM_HV_MSR_VP_INDEX:
		return eax & KVM_HV_VP_INDEX_AVAILABLE;
	case KVM_HV_MSR_RESET:
		return eax & KVM_HV_RESET_AVAILABLE;
	case KVM_HV_MSR_REFERENCE_TSC:
		return eax & KVM_HV_REFERENCE_TSC_AVAILABLE;
	case KVM_HV_MSR_SCONTROL ... KVM_HV_MSR_EOM:
	case KVM_HV_MSR_SINT0 ... KVM_HV_MSR_SINT15:
		return eax & KVM_HV_SYNIC_AVAILABLE;
	case KVM_HV_MSR_STIMER0_CONFIG ... KVM_HV_MSR_STIMER3_COUNT:
		return eax & KVM_HV_SYNTIMER_AVAILABLE;
	case KVM_HV_MSR_EOI ... KVM_HV_MSR_VP_ASSIST_PAGE:
		return eax & KVM_HV_APIC_ACCESS_AVAILABLE;
	case KVM_HV_MSR_TSC_FREQUENCY:
	case KVM_HV_MSR_APIC_FREQUENCY:
		return eax & KVM_HV_FREQUENCY_MSRS;
	case KVM_HV_MSR_REENLIGHTENMENT_CONTROL ...
	     KVM_HV_MSR_TSC_EMULATION_STATUS:
		return eax & KVM_HV_REENLIGHTENMENT;
	case KVM_HV_MSR_CRASH_P0 ... KVM_HV_MSR_CRASH_CTL:
		return edx & KVM_HV_CRASH_MSRS_AVAILABLE;
	case KVM_HV_MSR_SYNDBG_CONTROL ... KVM_HV_MSR_SYNDBG_PENDING_BUFFER:
	case KVM_HV_MSR_SYNDBG_OPTIONS:
		return edx & KVM_HV_DEBUG_MSRS_AVAILABLE;
	default:
		return false;
	}
}

/* Prepare a KVM_EXIT_HYPERV or a system event for the next entry. */
static void hv_request_exit(struct kvm_vcpu *vcpu)
{
	kvm_make_request(vcpu, KVM_REQ_HV_EXIT);
}

static void hv_synic_exit(struct kvm_vcpu *vcpu, u32 msr)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;

	hv->exit.type = KVM_EXIT_HYPERV_SYNIC;
	hv->exit.u.synic.msr = msr;
	hv->exit.u.synic.control = hv->synic.control;
	hv->exit.u.synic.evt_page = hv->synic.evt_page;
	hv->exit.u.synic.msg_page = hv->synic.msg_page;
	hv->exit_pending = true;
	hv_request_exit(vcpu);
}

static void hv_syndbg_exit(struct kvm_vcpu *vcpu, u32 msr)
{
	struct kvm_hv *kh = &vcpu->kvm->arch.hyperv;
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;

	hv->exit.type = KVM_EXIT_HYPERV_SYNDBG;
	hv->exit.u.syndbg.msr = msr;
	hv->exit.u.syndbg.control = kh->syndbg_control;
	hv->exit.u.syndbg.send_page = kh->syndbg_send_page;
	hv->exit.u.syndbg.recv_page = kh->syndbg_recv_page;
	hv->exit.u.syndbg.pending_page = kh->syndbg_pending_page;
	hv->exit_pending = true;
	hv_request_exit(vcpu);
}

static void hv_system_event(struct kvm_vcpu *vcpu, u32 type)
{
	vcpu->arch.hyperv.system_event = type;
	hv_request_exit(vcpu);
}

/* A page the SynIC is given is cleared for the guest (not with SYNIC2). */
static int hv_synic_page(struct kvm_vcpu *vcpu, u64 data, bool host)
{
	static const u8 zero[64];
	u64 gpa = data & PAGE_MASK;
	int off;

	if (!(data & 1) || host || vcpu->arch.hyperv.synic.dont_zero_pages)
		return 0;
	for (off = 0; off < PAGE_SIZE; off += sizeof(zero))
		if (nkvm_write_guest(vcpu->kvm, gpa + off, zero, sizeof(zero)))
			return 1;
	return 0;
}

static int hv_set_synic_msr(struct kvm_vcpu *vcpu, u32 msr, u64 data,
			    bool host)
{
	struct kvm_vcpu_hv_synic *synic = &vcpu->arch.hyperv.synic;

	if (!synic->active && (!host || data))
		return 1;
	switch (msr) {
	case KVM_HV_MSR_SCONTROL:
		synic->control = data;
		break;
	case KVM_HV_MSR_SVERSION:
		if (!host)
			return 1;
		synic->version = data;
		return 0;
	case KVM_HV_MSR_SIEFP:
		if (hv_synic_page(vcpu, data, host))
			return 1;
		synic->evt_page = data;
		break;
	case KVM_HV_MSR_SIMP:
		if (hv_synic_page(vcpu, data, host))
			return 1;
		synic->msg_page = data;
		break;
	case KVM_HV_MSR_EOM:
		/* No message is ever pending: nothing to acknowledge. */
		return 0;
	default: {	/* SINTx */
		u64 vector = data & HV_SINT_VECTOR_MASK;

		/* Vectors 0-15 only masked, or from userspace (a reset). */
		if (vector < 16 && !host && !(data & HV_SINT_MASKED))
			return 1;
		synic->sint[msr - KVM_HV_MSR_SINT0] = data;
		return 0;
	}
	}
	if (!host)
		hv_synic_exit(vcpu, msr);
	return 0;
}

static int hv_get_synic_msr(struct kvm_vcpu *vcpu, u32 msr, u64 *data,
			    bool host)
{
	struct kvm_vcpu_hv_synic *synic = &vcpu->arch.hyperv.synic;

	if (!synic->active && !host)
		return 1;
	switch (msr) {
	case KVM_HV_MSR_SCONTROL:
		*data = synic->control;
		break;
	case KVM_HV_MSR_SVERSION:
		*data = synic->version;
		break;
	case KVM_HV_MSR_SIEFP:
		*data = synic->evt_page;
		break;
	case KVM_HV_MSR_SIMP:
		*data = synic->msg_page;
		break;
	case KVM_HV_MSR_EOM:
		*data = 0;
		break;
	default:
		*data = synic->sint[msr - KVM_HV_MSR_SINT0];
		break;
	}
	return 0;
}

/*
 * The synthetic timers' CONFIG and COUNT: kept, with the rules Linux
 * applies (an active SynIC; direct mode only if CPUID grants it; a COUNT
 * of 0 disables, AutoEnable enables), but never started.
 */
static int hv_set_stimer_msr(struct kvm_vcpu *vcpu, u32 msr, u64 data,
			     bool host)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;
	unsigned int n = (msr - KVM_HV_MSR_STIMER0_CONFIG) / 2;

	if (!hv->synic.active && (!host || data))
		return 1;
	if ((msr - KVM_HV_MSR_STIMER0_CONFIG) % 2 == 0) {
		if (!host && hv->enforce_cpuid && (data & HV_STIMER_DIRECT_MODE) &&
		    !(hv_features(vcpu, CPUID_EDX) &
		      KVM_HV_STIMER_DIRECT_AVAILABLE))
			return 1;
		/* Enable (bit 0) with SINTx 0 (bits 19:16) and not direct. */
		if ((hv->stimer_config[n] & 1) && !(data & HV_STIMER_DIRECT_MODE) &&
		    !(data & GENMASK_ULL(19, 16)))
			data &= ~1ULL;
		hv->stimer_config[n] = data;
		return 0;
	}
	hv->stimer_count[n] = data;
	if (!host) {
		if (!data)
			hv->stimer_config[n] &= ~1ULL;
		else if (hv->stimer_config[n] & BIT_ULL(3))	/* AutoEnable */
			hv->stimer_config[n] |= 1;
	}
	return 0;
}

/* The guest's time in the VMM's thread, in 100 ns. */
static u64 hv_task_runtime(void)
{
	u64 utime, stime;

	task_cputime_adjusted(current, &utime, &stime);
	return div_u64(utime + stime, 100);
}

/*
 * The hypercall page: VMMCALL or VMCALL, then RET.  Userspace's write (a
 * restore) fills it too, as on Linux: the memslots need the VM's SRCU.
 */
static int hv_write_hypercall_page(struct kvm_vcpu *vcpu, u64 data)
{
	u8 insn[4];
	int idx, r;

	memcpy(insn, kvm_x86_ops->hypercall_insn, 3);
	insn[3] = 0xc3;
	idx = srcu_read_lock(&vcpu->kvm->srcu);
	r = nkvm_write_guest(vcpu->kvm, data & PAGE_MASK, insn, sizeof(insn));
	srcu_read_unlock(&vcpu->kvm->srcu, idx);
	return r ? 1 : 0;
}

static bool hv_is_syndbg_msr(u32 msr)
{
	return msr == KVM_HV_MSR_SYNDBG_OPTIONS ||
	       (msr >= KVM_HV_MSR_SYNDBG_CONTROL &&
		msr <= KVM_HV_MSR_SYNDBG_PENDING_BUFFER);
}

/*
 * The partition-wide registers that are only kept: re-enlightenment, TSC
 * emulation, the synthetic debugger's.
 */
static u64 *hv_plain_reg(struct kvm_hv *kh, u32 msr)
{
	switch (msr) {
	case KVM_HV_MSR_REENLIGHTENMENT_CONTROL:
		return &kh->reenlightenment_control;
	case KVM_HV_MSR_TSC_EMULATION_CONTROL:
		return &kh->tsc_emulation_control;
	case KVM_HV_MSR_TSC_EMULATION_STATUS:
		return &kh->tsc_emulation_status;
	case KVM_HV_MSR_SYNDBG_CONTROL:
		return &kh->syndbg_control;
	case KVM_HV_MSR_SYNDBG_STATUS:
		return &kh->syndbg_status;
	case KVM_HV_MSR_SYNDBG_SEND_BUFFER:
		return &kh->syndbg_send_page;
	case KVM_HV_MSR_SYNDBG_RECV_BUFFER:
		return &kh->syndbg_recv_page;
	case KVM_HV_MSR_SYNDBG_PENDING_BUFFER:
		return &kh->syndbg_pending_page;
	default:
		return &kh->syndbg_options;
	}
}

/* The partition-wide MSRs, hyperv.lock held. */
static int hv_set_partition_msr(struct kvm_vcpu *vcpu, u32 msr, u64 data,
				bool host)
{
	struct kvm_hv *kh = &vcpu->kvm->arch.hyperv;

	switch (msr) {
	case KVM_HV_MSR_GUEST_OS_ID:
		kh->guest_os_id = data;
		/* No OS identity, no hypercall page. */
		if (!data)
			kh->hypercall &= ~1ULL;
		return 0;
	case KVM_HV_MSR_HYPERCALL:
		/* Ignored until the guest says who it is. */
		if (!kh->guest_os_id)
			return 0;
		if ((data & 1) && hv_write_hypercall_page(vcpu, data))
			return 1;
		kh->hypercall = data;
		return 0;
	case KVM_HV_MSR_REFERENCE_TSC:
		kh->tsc_page_msr = data;
		if (data & 1) {
			kh->tsc_page_status = host ? KVM_HV_TSC_PAGE_HOST_CHANGED :
						     KVM_HV_TSC_PAGE_GUEST_CHANGED;
			kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		} else {
			kh->tsc_page_status = KVM_HV_TSC_PAGE_UNSET;
		}
		return 0;
	case KVM_HV_MSR_TIME_REF_COUNT:
		/* Read-only; userspace's write (a restore) is ignored. */
		return host ? 0 : 1;
	case KVM_HV_MSR_RESET:
		if (data == 1)
			hv_system_event(vcpu, KVM_SYSTEM_EVENT_RESET);
		return 0;
	case KVM_HV_MSR_CRASH_P0 ... KVM_HV_MSR_CRASH_P4:
		kh->crash_param[array_index_nospec(msr - KVM_HV_MSR_CRASH_P0,
						   ARRAY_SIZE(kh->crash_param))] = data;
		return 0;
	case KVM_HV_MSR_CRASH_CTL:
		if (host)
			kh->crash_ctl = data & HV_CRASH_CTL_NOTIFY;
		else if (data & HV_CRASH_CTL_NOTIFY)
			hv_system_event(vcpu, KVM_SYSTEM_EVENT_CRASH);
		return 0;
	case KVM_HV_MSR_TSC_EMULATION_STATUS:
		/* The guest may only clear it. */
		if (data && !host)
			return 1;
		break;
	default:
		break;
	}

	if (hv_is_syndbg_msr(msr) && !host && !hv_syndbg_enabled(vcpu))
		return 1;
	*hv_plain_reg(kh, msr) = data;
	/* Userspace's debugger transport takes the guest's buffers. */
	if (!host && (msr == KVM_HV_MSR_SYNDBG_CONTROL ||
		      msr == KVM_HV_MSR_SYNDBG_PENDING_BUFFER))
		hv_syndbg_exit(vcpu, msr);
	return 0;
}

static int hv_get_partition_msr(struct kvm_vcpu *vcpu, u32 msr, u64 *data,
				bool host)
{
	struct kvm_hv *kh = &vcpu->kvm->arch.hyperv;

	switch (msr) {
	case KVM_HV_MSR_GUEST_OS_ID:
		*data = kh->guest_os_id;
		return 0;
	case KVM_HV_MSR_HYPERCALL:
		*data = kh->hypercall;
		return 0;
	case KVM_HV_MSR_TIME_REF_COUNT:
		*data = hv_time_ref_count(vcpu);
		return 0;
	case KVM_HV_MSR_REFERENCE_TSC:
		*data = kh->tsc_page_msr;
		return 0;
	case KVM_HV_MSR_RESET:
		*data = 0;
		return 0;
	case KVM_HV_MSR_CRASH_P0 ... KVM_HV_MSR_CRASH_P4:
		*data = kh->crash_param[array_index_nospec(msr - KVM_HV_MSR_CRASH_P0,
							   ARRAY_SIZE(kh->crash_param))];
		return 0;
	case KVM_HV_MSR_CRASH_CTL:
		*data = kh->crash_ctl;
		return 0;
	default:
		break;
	}

	if (hv_is_syndbg_msr(msr) && !host && !hv_syndbg_enabled(vcpu))
		return 1;
	*data = *hv_plain_reg(kh, msr);
	return 0;
}

static bool hv_msr_partition_wide(u32 msr)
{
	switch (msr) {
	case KVM_HV_MSR_GUEST_OS_ID:
	case KVM_HV_MSR_HYPERCALL:
	case KVM_HV_MSR_RESET:
	case KVM_HV_MSR_TIME_REF_COUNT:
	case KVM_HV_MSR_REFERENCE_TSC:
	case KVM_HV_MSR_CRASH_P0 ... KVM_HV_MSR_TSC_EMULATION_STATUS:
	case KVM_HV_MSR_SYNDBG_CONTROL ... KVM_HV_MSR_SYNDBG_PENDING_BUFFER:
	case KVM_HV_MSR_SYNDBG_OPTIONS:
		return true;
	default:
		return false;
	}
}

/* The VP assist page: its first word (the EOI assist) is cleared. */
static int hv_set_vp_assist(struct kvm_vcpu *vcpu, u64 data, bool host)
{
	u32 zero = 0;

	if ((data & 1) && !host &&
	    nkvm_write_guest(vcpu->kvm, data & PAGE_MASK, &zero, sizeof(zero)))
		return 1;
	vcpu->arch.hyperv.vp_assist = data;
	return 0;
}

static int hv_set_vcpu_msr(struct kvm_vcpu *vcpu, u32 msr, u64 data,
			   bool host)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;

	switch (msr) {
	case KVM_HV_MSR_VP_INDEX:
		if (!host || (u32)data >= KVM_MAX_VCPUS)
			return 1;
		hv->vp_index = (u32)data;
		hv->vp_index_set = true;
		WRITE_ONCE(vcpu->kvm->arch.hyperv.vp_index_changed, true);
		return 0;
	case KVM_HV_MSR_VP_RUNTIME:
		if (!host)
			return 1;
		hv->runtime_offset = data - hv_task_runtime();
		return 0;
	case KVM_HV_MSR_TSC_FREQUENCY:
	case KVM_HV_MSR_APIC_FREQUENCY:
		return host ? 0 : 1;
	case KVM_HV_MSR_EOI:
		return kvm_lapic_hv_reg_write(vcpu, LAPIC_EOI, data);
	case KVM_HV_MSR_ICR:
		return kvm_lapic_hv_reg_write(vcpu, LAPIC_ICR, data);
	case KVM_HV_MSR_TPR:
		return kvm_lapic_hv_reg_write(vcpu, LAPIC_TPR, data);
	case KVM_HV_MSR_VP_ASSIST_PAGE:
		return hv_set_vp_assist(vcpu, data, host);
	case KVM_HV_MSR_SCONTROL ... KVM_HV_MSR_EOM:
	case KVM_HV_MSR_SINT0 ... KVM_HV_MSR_SINT15:
		return hv_set_synic_msr(vcpu, msr, data, host);
	case KVM_HV_MSR_STIMER0_CONFIG ... KVM_HV_MSR_STIMER3_COUNT:
		return hv_set_stimer_msr(vcpu, msr, data, host);
	default:
		return 1;
	}
}

static int hv_get_vcpu_msr(struct kvm_vcpu *vcpu, u32 msr, u64 *data,
			   bool host)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;
	unsigned int n;

	switch (msr) {
	case KVM_HV_MSR_VP_INDEX:
		*data = hv_vp_index(vcpu);
		return 0;
	case KVM_HV_MSR_VP_RUNTIME:
		*data = hv_task_runtime() + hv->runtime_offset;
		return 0;
	case KVM_HV_MSR_TSC_FREQUENCY:
		*data = (u64)vcpu->arch.tsc_khz * 1000;
		return 0;
	case KVM_HV_MSR_APIC_FREQUENCY:
		*data = HV_APIC_FREQUENCY;
		return 0;
	case KVM_HV_MSR_EOI:
		return kvm_lapic_hv_reg_read(vcpu, LAPIC_EOI, data);
	case KVM_HV_MSR_ICR:
		return kvm_lapic_hv_reg_read(vcpu, LAPIC_ICR, data);
	case KVM_HV_MSR_TPR:
		return kvm_lapic_hv_reg_read(vcpu, LAPIC_TPR, data);
	case KVM_HV_MSR_VP_ASSIST_PAGE:
		*data = hv->vp_assist;
		return 0;
	case KVM_HV_MSR_SCONTROL ... KVM_HV_MSR_EOM:
	case KVM_HV_MSR_SINT0 ... KVM_HV_MSR_SINT15:
		return hv_get_synic_msr(vcpu, msr, data, host);
	case KVM_HV_MSR_STIMER0_CONFIG ... KVM_HV_MSR_STIMER3_COUNT:
		n = (msr - KVM_HV_MSR_STIMER0_CONFIG) / 2;
		n = array_index_nospec(n, ARRAY_SIZE(hv->stimer_config));
		*data = (msr - KVM_HV_MSR_STIMER0_CONFIG) % 2 ?
			hv->stimer_count[n] : hv->stimer_config[n];
		return 0;
	default:
		return 1;
	}
}

/*
 * A guest reaches these MSRs only with Hyper-V in its CPUID (and, with
 * enforcement, the granting bit); userspace always.
 */
static int hv_msr_access(struct kvm_vcpu *vcpu, u32 index, u64 *data,
			 bool host, bool write)
{
	struct kvm_hv *kh = &vcpu->kvm->arch.hyperv;
	int r;

	if (!host && (!hv_enabled(vcpu) || !hv_msr_allowed(vcpu, index)))
		return 1;
	if (!hv_msr_partition_wide(index))
		return write ? hv_set_vcpu_msr(vcpu, index, *data, host) :
			       hv_get_vcpu_msr(vcpu, index, data, host);
	mutex_lock(&kh->lock);
	r = write ? hv_set_partition_msr(vcpu, index, *data, host) :
		    hv_get_partition_msr(vcpu, index, data, host);
	mutex_unlock(&kh->lock);
	return r;
}

int kvm_hv_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	return hv_msr_access(vcpu, index, &data, host, true);
}

int kvm_hv_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	return hv_msr_access(vcpu, index, data, host, false);
}

/* ---- Hypercalls --------------------------------------------------------- */

struct hv_hcall {
	u64 param;
	u64 ingpa;
	u64 outgpa;
	u16 code;
	u16 var_cnt;
	u16 rep_cnt;
	u16 rep_idx;
	bool fast;
	bool rep;
	bool longmode;
	u64 xmm[2 * HV_NR_XMM];		/* low, high quadword of each */
};

bool kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->kvm->arch.hyperv.guest_os_id) &&
	       hv_enabled(vcpu);
}

/*
 * May a nested hypervisor in the guest rely on the enlightened MSR bitmap
 * (its clean bit)?  It must have Hyper-V's interface, an OS ID as for
 * hypercalls, and the nested leaf's bit.
 */
bool kvm_hv_nested_msr_bitmap(struct kvm_vcpu *vcpu)
{
	return kvm_hv_hypercall_enabled(vcpu) &&
	       (hv_cpuid(vcpu, KVM_HV_CPUID_NESTED, CPUID_EAX) &
		KVM_HV_NESTED_MSR_BITMAP);
}
EXPORT_SYMBOL_GPL(kvm_hv_nested_msr_bitmap);

/*
 * The flush and IPI calls: only the _EX ones have a variable header; the
 * LIST ones are rep calls starting at rep 0, the others are not.
 */
static bool hv_flush_ipi_shape_ok(const struct hv_hcall *hc)
{
	bool ex = hc->code == HVCALL_FLUSH_SPACE_EX ||
		  hc->code == HVCALL_FLUSH_LIST_EX ||
		  hc->code == HVCALL_SEND_IPI_EX;

	if (!ex && hc->var_cnt)
		return false;
	if (hc->code == HVCALL_FLUSH_LIST || hc->code == HVCALL_FLUSH_LIST_EX)
		return hc->rep_cnt && !hc->rep_idx;
	return !hc->rep;
}

/*
 * XMM0-5, where fast hypercalls pass more input.  During an exit the
 * guest's FPU state is the task's: in the registers, unless something
 * saved it (then it is brought back first).
 */
static void hv_read_xmm(struct hv_hcall *hc)
{
	u64 *x = hc->xmm;

	fpregs_lock();
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	asm volatile("movdqu %%xmm0, %0" : "=m" (*(u64 (*)[2])&x[0]));
	asm volatile("movdqu %%xmm1, %0" : "=m" (*(u64 (*)[2])&x[2]));
	asm volatile("movdqu %%xmm2, %0" : "=m" (*(u64 (*)[2])&x[4]));
	asm volatile("movdqu %%xmm3, %0" : "=m" (*(u64 (*)[2])&x[6]));
	asm volatile("movdqu %%xmm4, %0" : "=m" (*(u64 (*)[2])&x[8]));
	asm volatile("movdqu %%xmm5, %0" : "=m" (*(u64 (*)[2])&x[10]));
	fpregs_unlock();
}

static bool hv_xmm_capable(u16 code)
{
	switch (code) {
	case HVCALL_FLUSH_SPACE:
	case HVCALL_FLUSH_LIST:
	case HVCALL_FLUSH_SPACE_EX:
	case HVCALL_FLUSH_LIST_EX:
	case HVCALL_SEND_IPI_EX:
		return true;
	default:
		return false;
	}
}

/* KVM_CAP_HYPERV_ENFORCE_CPUID: may the guest make this hypercall? */
static bool hv_hcall_allowed(struct kvm_vcpu *vcpu, u16 code)
{
	u32 rec = hv_cpuid(vcpu, KVM_HV_CPUID_ENLIGHTENMENTS, CPUID_EAX);
	u32 spins = hv_cpuid(vcpu, KVM_HV_CPUID_ENLIGHTENMENTS, CPUID_EBX);
	u32 ebx = hv_features(vcpu, CPUID_EBX);

	if (!vcpu->arch.hyperv.enforce_cpuid)
		return true;
	switch (code) {
	case HVCALL_LONG_SPIN_WAIT:
		/* ~0 retries: "never notify". */
		return spins && spins != U32_MAX;
	case HVCALL_POST_MESSAGE:
		return ebx & KVM_HV_POST_MESSAGES;
	case HVCALL_SIGNAL_EVENT:
		return ebx & KVM_HV_SIGNAL_EVENTS;
	case HVCALL_POST_DEBUG_DATA:
	case HVCALL_RETRIEVE_DEBUG_DATA:
	case HVCALL_RESET_DEBUG_SESSION:
		/* Without the debugger, the code is unknown rather than denied. */
		return !hv_syndbg_enabled(vcpu) || (ebx & KVM_HV_DEBUGGING);
	case HVCALL_FLUSH_SPACE_EX:
	case HVCALL_FLUSH_LIST_EX:
		if (!(rec & KVM_HV_EX_PROCESSOR_MASKS_RECOMMENDED))
			return false;
		fallthrough;
	case HVCALL_FLUSH_SPACE:
	case HVCALL_FLUSH_LIST:
		return rec & KVM_HV_REMOTE_TLB_FLUSH_RECOMMENDED;
	case HVCALL_SEND_IPI_EX:
		if (!(rec & KVM_HV_EX_PROCESSOR_MASKS_RECOMMENDED))
			return false;
		fallthrough;
	case HVCALL_SEND_IPI:
		return rec & KVM_HV_CLUSTER_IPI_RECOMMENDED;
	default:
		return true;
	}
}

/*
 * The sparse VP set of an _EX hypercall: @var_cnt banks of 64 VPs, one
 * per bit of @valid_mask, from guest memory at @ingpa + @off or, for a
 * fast call, from the XMM halves after the first @xmm_used.  Banks beyond
 * what KVM_MAX_VCPUS needs are ignored.  0 or an HV_STATUS.
 */
#define HV_MAX_BANKS	DIV_ROUND_UP(KVM_MAX_VCPUS, 64)

static u64 hv_read_vp_set(struct kvm_vcpu *vcpu, struct hv_hcall *hc,
			  int xmm_used, u64 off, u64 *banks)
{
	unsigned int n = min_t(unsigned int, hc->var_cnt, HV_MAX_BANKS), i;

	if (hc->var_cnt > 64)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (hc->fast) {
		if (hc->var_cnt > 2 * HV_NR_XMM - xmm_used)
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		for (i = 0; i < n; i++)
			banks[i] = hc->xmm[xmm_used + i];
		return 0;
	}
	if (nkvm_read_guest(vcpu->kvm, hc->ingpa + off, banks,
			    n * sizeof(u64)))
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	return 0;
}

/* Is VP @vp in the set (@valid_mask's banks, packed in @banks)? */
static bool hv_vp_in_set(u32 vp, u64 valid_mask, const u64 *banks)
{
	unsigned int bank = vp / 64;

	if (bank >= 64 || !(valid_mask & BIT_ULL(bank)))
		return false;
	return banks[hweight64(valid_mask & (BIT_ULL(bank) - 1))] &
	       BIT_ULL(vp % 64);
}

/*
 * FLUSH_VIRTUAL_ADDRESS_SPACE/LIST(_EX): nkvm flushes every vCPU's TLB
 * (more than asked, whatever the address space or list) and returns when
 * none of them can still use a stale entry.  The input is only checked.
 */
static u64 hv_flush_tlb(struct kvm_vcpu *vcpu, struct hv_hcall *hc)
{
	struct {
		u64 address_space;
		u64 flags;
		u64 format;		/* _EX: the VP set's */
		u64 valid_mask;
	} in = {};
	u64 banks[HV_MAX_BANKS] = {};
	bool ex = hc->code == HVCALL_FLUSH_SPACE_EX ||
		  hc->code == HVCALL_FLUSH_LIST_EX;

	if (hc->fast) {
		in.address_space = hc->ingpa;
		in.flags = hc->outgpa;
		in.format = hc->xmm[0];
		in.valid_mask = hc->xmm[1];
	} else if (nkvm_read_guest(vcpu->kvm, hc->ingpa, &in,
				   ex ? sizeof(in) : 3 * sizeof(u64))) {
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
	if (ex) {
		if (hc->var_cnt != hweight64(in.valid_mask))
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (in.format == HV_GENERIC_SET_SPARSE_4K) {
			if (!hc->var_cnt)
				goto done;
			if (hv_read_vp_set(vcpu, hc, 2, 4 * sizeof(u64), banks))
				return HV_STATUS_INVALID_HYPERCALL_INPUT;
		}
	}
	kvm_make_all_vcpus_request(vcpu->kvm, KVM_REQ_TLB_FLUSH);
done:
	/* Every rep is done at once. */
	return HV_STATUS_SUCCESS | ((u64)hc->rep_cnt << HV_HC_REP_COUNT_SHIFT);
}

/* SEND_IPI(_EX): a fixed interrupt to each VP of the set. */
static u64 hv_send_ipi(struct kvm_vcpu *vcpu, struct hv_hcall *hc)
{
	struct kvm_lapic_irq irq = { .delivery_mode = LAPIC_DM_FIXED,
				     .level = true };
	u64 banks[HV_MAX_BANKS] = {}, valid_mask = 1;
	struct kvm_vcpu *v;
	unsigned long i;
	bool all = false;
	u32 vector;

	if (!kvm_lapic_in_kernel(vcpu))
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (hc->code == HVCALL_SEND_IPI) {
		struct { u32 vector; u32 reserved; u64 cpu_mask; } in;

		if (hc->fast) {
			if (hc->ingpa >> 32)
				return HV_STATUS_INVALID_HYPERCALL_INPUT;
			in.vector = hc->ingpa;
			in.cpu_mask = hc->outgpa;
		} else if (nkvm_read_guest(vcpu->kvm, hc->ingpa, &in,
					   sizeof(in))) {
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		}
		vector = in.vector;
		banks[0] = in.cpu_mask;
	} else {
		struct { u32 vector; u32 reserved; u64 format; u64 valid_mask; } in;

		if (hc->fast) {
			in.vector = hc->ingpa;
			in.format = hc->outgpa;
			in.valid_mask = hc->xmm[0];
		} else if (nkvm_read_guest(vcpu->kvm, hc->ingpa, &in,
					   sizeof(in))) {
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		}
		vector = in.vector;
		valid_mask = in.valid_mask;
		all = in.format == HV_GENERIC_SET_ALL;
		if (hc->var_cnt != hweight64(valid_mask))
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (!all) {
			if (!hc->var_cnt)
				return HV_STATUS_SUCCESS;
			if (hv_read_vp_set(vcpu, hc, 1, 3 * sizeof(u64), banks))
				return HV_STATUS_INVALID_HYPERCALL_INPUT;
		}
	}
	if (vector < 0x10 || vector > 0xff)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;

	irq.vector = vector;
	kvm_for_each_vcpu(i, v, vcpu->kvm) {
		/* Published last by kvm_lapic_create(). */
		struct kvm_lapic *apic = smp_load_acquire(&v->arch.apic);

		if (!apic || (!all && !hv_vp_in_set(hv_vp_index_of(v, i),
						    valid_mask, banks)))
			continue;
		vlapic_accept_irq(apic, &irq);
	}
	return HV_STATUS_SUCCESS;
}

/*
 * SIGNAL_EVENT: nkvm has no KVM_HYPERV_EVENTFD, so no connection ID is
 * known in the kernel: after checking the input, userspace may know it.
 */
static u64 hv_signal_event(struct kvm_vcpu *vcpu, struct hv_hcall *hc)
{
	u64 conn = hc->ingpa;

	if (!hc->fast) {
		if ((hc->ingpa & 7) ||
		    nkvm_read_guest(vcpu->kvm, hc->ingpa, &conn, sizeof(conn)))
			return HV_STATUS_INVALID_ALIGNMENT;
	}
	/* Bits 32-47 are the flag number, which nobody uses. */
	if (conn & GENMASK_ULL(47, 32))
		return HV_STATUS_INVALID_PORT_ID;
	if (conn & ~(u64)KVM_HYPERV_CONN_ID_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	return HV_STATUS_INVALID_PORT_ID;
}

static void hv_set_result(struct kvm_vcpu *vcpu, bool longmode, u64 result)
{
	if (longmode) {
		kvm_reg_write(vcpu, VCPU_REGS_RAX, result);
	} else {
		kvm_reg_write(vcpu, VCPU_REGS_RDX, result >> 32);
		kvm_reg_write(vcpu, VCPU_REGS_RAX, (u32)result);
	}
}

/* The hypercall goes to userspace (KVM_EXIT_HYPERV_HCALL); RIP stays. */
static int hv_hcall_to_user(struct kvm_vcpu *vcpu, struct hv_hcall *hc,
			    u64 next_rip)
{
	struct kvm_run *run = vcpu->run;

	vcpu->arch.hyperv.exit.type = KVM_EXIT_HYPERV_HCALL;
	run->exit_reason = KVM_EXIT_HYPERV;
	memset(&run->hyperv, 0, sizeof(run->hyperv));
	run->hyperv.type = KVM_EXIT_HYPERV_HCALL;
	run->hyperv.u.hcall.input = hc->param;
	run->hyperv.u.hcall.params[0] = hc->ingpa;
	run->hyperv.u.hcall.params[1] = hc->outgpa;
	vcpu->arch.pio = (typeof(vcpu->arch.pio)) {
		.pending = true,
		.kind = KVM_PENDING_HV,
		.in = hc->longmode,	/* the result's width */
		.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP),
		.next_rip = next_rip,
	};
	return 0;
}

int kvm_hv_hypercall(struct kvm_vcpu *vcpu, u64 next_rip)
{
	struct hv_hcall hc = {};
	u64 ret;

	/* #UD outside ring 0 and in real mode, per the TLFS. */
	if (kvm_x86_ops->get_cpl(vcpu) || !(vcpu->arch.cr0 & X86_CR0_PE)) {
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return 1;
	}

	hc.longmode = kvm_hypercall_64(vcpu);
	if (hc.longmode) {
		hc.param = kvm_reg_read(vcpu, VCPU_REGS_RCX);
		hc.ingpa = kvm_reg_read(vcpu, VCPU_REGS_RDX);
		hc.outgpa = kvm_reg_read(vcpu, VCPU_REGS_R8);
	} else {
		hc.param = kvm_reg_read(vcpu, VCPU_REGS_RDX) << 32 |
			   (u32)kvm_reg_read(vcpu, VCPU_REGS_RAX);
		hc.ingpa = kvm_reg_read(vcpu, VCPU_REGS_RBX) << 32 |
			   (u32)kvm_reg_read(vcpu, VCPU_REGS_RCX);
		hc.outgpa = kvm_reg_read(vcpu, VCPU_REGS_RDI) << 32 |
			    (u32)kvm_reg_read(vcpu, VCPU_REGS_RSI);
	}
	hc.code = hc.param & 0xffff;
	hc.var_cnt = (hc.param & HV_HC_VARHEAD_MASK) >> HV_HC_VARHEAD_SHIFT;
	hc.fast = hc.param & HV_HC_FAST;
	hc.rep_cnt = (hc.param >> HV_HC_REP_COUNT_SHIFT) & 0xfff;
	hc.rep_idx = (hc.param >> HV_HC_REP_START_SHIFT) & 0xfff;
	hc.rep = hc.rep_cnt || hc.rep_idx;

	if (!hv_hcall_allowed(vcpu, hc.code)) {
		ret = HV_STATUS_ACCESS_DENIED;
		goto done;
	}
	if (hc.param & HV_HC_RESERVED) {
		ret = HV_STATUS_INVALID_HYPERCALL_INPUT;
		goto done;
	}
	if (hc.fast && hv_xmm_capable(hc.code)) {
		if (vcpu->arch.hyperv.enforce_cpuid &&
		    !(hv_features(vcpu, CPUID_EDX) & KVM_HV_XMM_INPUT_AVAILABLE)) {
			nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
			return 1;
		}
		hv_read_xmm(&hc);
	}

	ret = HV_STATUS_INVALID_HYPERCALL_INPUT;
	switch (hc.code) {
	case HVCALL_LONG_SPIN_WAIT:
		if (hc.rep || hc.var_cnt)
			break;
		/* The spinning vCPU gives its CPU away for a while. */
		cond_resched();
		ret = HV_STATUS_SUCCESS;
		break;
	case HVCALL_SIGNAL_EVENT:
		if (hc.rep || hc.var_cnt)
			break;
		ret = hv_signal_event(vcpu, &hc);
		if (ret != HV_STATUS_INVALID_PORT_ID)
			break;
		fallthrough;	/* userspace may know the connection */
	case HVCALL_POST_MESSAGE:
		/* Only a VMM that activated the SynIC handles these. */
		if (hc.rep || hc.var_cnt || !vcpu->arch.hyperv.synic.active) {
			ret = HV_STATUS_INVALID_HYPERCALL_INPUT;
			break;
		}
		return hv_hcall_to_user(vcpu, &hc, next_rip);
	case HVCALL_FLUSH_SPACE:
	case HVCALL_FLUSH_LIST:
	case HVCALL_FLUSH_SPACE_EX:
	case HVCALL_FLUSH_LIST_EX:
		if (hv_flush_ipi_shape_ok(&hc))
			ret = hv_flush_tlb(vcpu, &hc);
		break;
	case HVCALL_SEND_IPI:
	case HVCALL_SEND_IPI_EX:
		if (hv_flush_ipi_shape_ok(&hc))
			ret = hv_send_ipi(vcpu, &hc);
		break;
	case HVCALL_POST_DEBUG_DATA:
	case HVCALL_RETRIEVE_DEBUG_DATA:
		if (hc.fast) {
			ret = HV_STATUS_INVALID_PARAMETER;
			break;
		}
		fallthrough;
	case HVCALL_RESET_DEBUG_SESSION:
		if (!hv_syndbg_enabled(vcpu)) {
			ret = HV_STATUS_INVALID_HYPERCALL_CODE;
			break;
		}
		if (!(READ_ONCE(vcpu->kvm->arch.hyperv.syndbg_options) &
		      HV_SYNDBG_OPTION_USE_HCALLS)) {
			ret = HV_STATUS_OPERATION_DENIED;
			break;
		}
		return hv_hcall_to_user(vcpu, &hc, next_rip);
	default:
		ret = HV_STATUS_INVALID_HYPERCALL_CODE;
		break;
	}
done:
	hv_set_result(vcpu, hc.longmode, ret);
	vcpu->stat.hypercalls++;
	nkvm_skip_insn(vcpu, next_rip);
	return 1;
}

/*
 * KVM_RUN after a KVM_EXIT_HYPERV (RIP unchanged): a hypercall's result,
 * or the synthetic debugger's status after a write of its control MSR.
 */
bool kvm_hv_complete_user_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_hv *kh = &vcpu->kvm->arch.hyperv;

	if (vcpu->arch.hyperv.exit.type == KVM_EXIT_HYPERV_HCALL) {
		hv_set_result(vcpu, vcpu->arch.pio.in,
			      run->hyperv.u.hcall.result);
		vcpu->stat.hypercalls++;
		return true;
	}
	if (vcpu->arch.hyperv.exit.type == KVM_EXIT_HYPERV_SYNDBG &&
	    vcpu->arch.hyperv.exit.u.syndbg.msr == KVM_HV_MSR_SYNDBG_CONTROL) {
		mutex_lock(&kh->lock);
		kh->syndbg_status = run->hyperv.u.syndbg.status;
		mutex_unlock(&kh->lock);
	}
	return false;
}

/*
 * KVM_REQ_HV_EXIT, before an entry: the exit a guest MSR write asked for
 * (a system event first, the KVM_EXIT_HYPERV at the next entry).  0, or 1
 * if there is none.
 */
int kvm_hv_user_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_hv *hv = &vcpu->arch.hyperv;
	struct kvm_run *run = vcpu->run;

	if (hv->system_event) {
		run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
		memset(&run->system_event, 0, sizeof(run->system_event));
		run->system_event.type = hv->system_event;
		hv->system_event = 0;
		if (hv->exit_pending)
			hv_request_exit(vcpu);
		return 0;
	}
	if (!hv->exit_pending)
		return 1;
	hv->exit_pending = false;
	run->exit_reason = KVM_EXIT_HYPERV;
	run->hyperv = hv->exit;
	if (hv->exit.type == KVM_EXIT_HYPERV_SYNDBG)
		vcpu->arch.pio = (typeof(vcpu->arch.pio)) {
			.pending = true,
			.kind = KVM_PENDING_HV,
			.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP),
		};
	return 0;
}
