// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: speculative-execution mitigations that SVM and VMX share.
 *
 * - IBPB when a CPU goes from one vCPU to another (the branch predictions
 *   one guest trained must not steer another);
 * - the L1TF "cond" bookkeeping: which host work since the last entry may
 *   have pulled data the guest must not see into the L1D;
 * - the guest's IA32_SPEC_CTRL: what it may set, and when its accesses stop
 *   exiting;
 * - force_mitigations, a load-time switch that turns the mitigations on
 *   where the host does not ask for them, so that the beds (whose emulated
 *   CPUs report none of the bugs) run through every path.
 *
 * Which mitigation applies follows the host kernel's own decision (its
 * X86_FEATURE_* and X86_BUG_* bits): see Documentation/virt/nkvm/design.rst.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/hardirq.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>

#include "x86.h"
#include "cpuid.h"

unsigned int nkvm_forced_mitigations __read_mostly;
EXPORT_SYMBOL_GPL(nkvm_forced_mitigations);

static const char * const forced_names[] = {
	[NKVM_FORCE_IBPB] = "ibpb",
	[NKVM_FORCE_VERW] = "verw",
	[NKVM_FORCE_L1D_FLUSH] = "l1d_flush",
	[NKVM_FORCE_RSB] = "rsb",
};

static int force_set(const char *val, const struct kernel_param *kp)
{
	char buf[64], *s = buf, *tok;
	unsigned int mask = 0;
	int i;

	if (strscpy(buf, val, sizeof(buf)) < 0)
		return -EINVAL;
	while ((tok = strsep(&s, ","))) {
		tok = strim(tok);
		if (!*tok)
			continue;
		for (i = 0; i < ARRAY_SIZE(forced_names); i++)
			if (!strcmp(tok, forced_names[i]))
				break;
		if (i == ARRAY_SIZE(forced_names))
			return -EINVAL;
		mask |= BIT(i);
	}
	nkvm_forced_mitigations = mask;
	return 0;
}

static int force_get(char *buf, const struct kernel_param *kp)
{
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(forced_names); i++)
		if (nkvm_forced_mitigations & BIT(i))
			n += sysfs_emit_at(buf, n, "%s%s", n ? "," : "",
					   forced_names[i]);
	return n + sysfs_emit_at(buf, n, "\n");
}

static const struct kernel_param_ops force_ops = {
	.set = force_set,
	.get = force_get,
};
module_param_cb(force_mitigations, &force_ops, NULL, 0444);
MODULE_PARM_DESC(force_mitigations,
		 "For testing only: run these mitigation paths even where the host does not need them (comma list of ibpb,verw,l1d_flush,rsb; read-only after load)");

/* ---- IBPB between vCPUs ------------------------------------------------- */

/* The vCPU that last ran on each CPU (compared only, never dereferenced). */
static DEFINE_PER_CPU(struct kvm_vcpu *, last_vcpu);

/*
 * @vcpu is being loaded on @cpu (preemption off).  As Linux does, any vCPU
 * other than the last one here gets an IBPB first, whether of the same VM
 * or not, where the host uses IBPB (X86_FEATURE_USE_IBPB) and does not
 * already issue one on every exit (X86_FEATURE_IBPB_ON_VMEXIT, SVM).
 */
void nkvm_vcpu_switch_ibpb(struct kvm_vcpu *vcpu, int cpu)
{
	struct kvm_vcpu **last = per_cpu_ptr(&last_vcpu, cpu);

	if (*last == vcpu)
		return;
	*last = vcpu;
	if (cpu_feature_enabled(X86_FEATURE_IBPB_ON_VMEXIT))
		return;
	if (cpu_feature_enabled(X86_FEATURE_USE_IBPB))
		indirect_branch_prediction_barrier();
	else if (nkvm_mitigation_forced(NKVM_FORCE_IBPB))
		/* A CPU without IBPB ignores or refuses it: either is fine. */
		wrmsrl_safe(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
}

/* A vCPU allocated later at the same address must not pass for @vcpu. */
void nkvm_vcpu_forget_ibpb(struct kvm_vcpu *vcpu)
{
	int cpu;

	for_each_possible_cpu(cpu)
		cmpxchg(per_cpu_ptr(&last_vcpu, cpu), vcpu, NULL);
}

/* ---- L1TF: did the host run code that may have touched secrets? --------- */

/*
 * vmentry_l1d_flush=cond flushes the L1D before an entry only when, since
 * the last one, the vCPU was scheduled in, came back from userspace or from
 * a halt, or had an exit handled by the instruction emulator or the MMU's
 * fault path (each touches memory beyond the vCPU's own state), or when the
 * CPU took an interrupt meanwhile (the kernel's per-CPU flag).  The short
 * exits handled in place (CPUID, MSRs, I/O to userspace counted above) do
 * not flush.  Returns the answer and clears both flags.
 */
bool nkvm_l1tf_flush_wanted(struct kvm_vcpu *vcpu)
{
	bool r = vcpu->arch.l1tf_flush_l1d;

	vcpu->arch.l1tf_flush_l1d = false;
#if IS_ENABLED(CONFIG_KVM_INTEL)
	r |= kvm_get_cpu_l1tf_flush_l1d();
	kvm_clear_cpu_l1tf_flush_l1d();
#else
	r = true;
#endif
	return r;
}
EXPORT_SYMBOL_GPL(nkvm_l1tf_flush_wanted);

/* ---- The guest's IA32_SPEC_CTRL and IA32_PRED_CMD ------------------------ */

#define C7_EDX_SPEC_CTRL	BIT(26)		/* IBRS and IBPB */
#define C7_EDX_STIBP		BIT(27)
#define C7_EDX_SSBD		BIT(31)
#define C8_EBX_AMD_IBPB		BIT(12)
#define C8_EBX_AMD_IBRS		BIT(14)
#define C8_EBX_AMD_STIBP	BIT(15)
#define C8_EBX_AMD_SSBD		BIT(24)
#define C8_EBX_VIRT_SSBD	BIT(25)
#define C8_EBX_AMD_SSB_NO	BIT(26)

/*
 * What KVM_GET_SUPPORTED_CPUID offers, decided as Linux decides it: from
 * the host kernel's synthetic bits (which it sets for either vendor's
 * enumeration), not the raw CPUID, and only where the backend can switch
 * the MSR around the guest (X86_FEATURE_MSR_SPEC_CTRL).
 */
u32 nkvm_spec_cpuid_7_edx(void)
{
	u32 edx = 0;

	if (!boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		return 0;
	if (boot_cpu_has(X86_FEATURE_IBPB) && boot_cpu_has(X86_FEATURE_IBRS))
		edx |= C7_EDX_SPEC_CTRL;
	if (boot_cpu_has(X86_FEATURE_STIBP))
		edx |= C7_EDX_STIBP;
	if (boot_cpu_has(X86_FEATURE_AMD_SSBD))
		edx |= C7_EDX_SSBD;
	return edx;
}

u32 nkvm_spec_cpuid_8000_0008_ebx(void)
{
	u32 ebx = 0;

	/* IBPB alone needs no MSR switching: only PRED_CMD writes. */
	if (boot_cpu_has(X86_FEATURE_IBPB))
		ebx |= C8_EBX_AMD_IBPB;
	/*
	 * VIRT_SSBD, on SVM, wherever the host itself can disable speculative
	 * store bypass (by either MSR, or LS_CFG): Linux's rule.  The
	 * backend switches it around each entry, so it needs no
	 * MSR_SPEC_CTRL.
	 */
	if (kvm_x86_ops->virt_spec_ctrl &&
	    (boot_cpu_has(X86_FEATURE_VIRT_SSBD) ||
	     boot_cpu_has(X86_FEATURE_LS_CFG_SSBD) ||
	     boot_cpu_has(X86_FEATURE_AMD_SSBD)))
		ebx |= C8_EBX_VIRT_SSBD;
	if (!boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS))
		ebx |= C8_EBX_AMD_SSB_NO;
	if (!boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		return ebx;
	if (boot_cpu_has(X86_FEATURE_IBRS))
		ebx |= C8_EBX_AMD_IBRS;
	if (boot_cpu_has(X86_FEATURE_STIBP))
		ebx |= C8_EBX_AMD_STIBP;
	if (boot_cpu_has(X86_FEATURE_SPEC_CTRL_SSBD))
		ebx |= C8_EBX_AMD_SSBD;
	return ebx;
}

/*
 * IA32_ARCH_CAPABILITIES as nkvm offers it: the feature MSR on /dev/kvm
 * and each new vCPU's value (userspace may set another).  The host CPU's
 * own bits that say it is free of a bug, or that tell the guest how
 * exposed it is (RSBA, RRSBA) or that VERW clears the buffers (FB_CLEAR,
 * RFDS_CLEAR), pass through; "free of" is also said for the bugs Linux
 * says it for when the host kernel found its CPU free of them (no
 * X86_BUG_*).  Left out: the bits that ask the hypervisor to act or that
 * promise a control nkvm does not give the guest (SKIP_VMENTRY_L1DFLUSH,
 * IBRS_ALL, TSX_CTRL_MSR, FB_CLEAR_CTRL, GDS_CTRL), GDS_NO on a CPU with
 * GDS whatever its microcode, and PSCHANGE_MC_NO where the CPU has the
 * iTLB multihit bug (Linux's NX huge pages work around it; nkvm does not).
 */
#define ARCH_CAP_PASSED (ARCH_CAP_RDCL_NO | ARCH_CAP_RSBA | ARCH_CAP_SSB_NO | \
			 ARCH_CAP_MDS_NO | ARCH_CAP_PSCHANGE_MC_NO | \
			 ARCH_CAP_TAA_NO | ARCH_CAP_SBDR_SSDP_NO | \
			 ARCH_CAP_FBSDP_NO | ARCH_CAP_PSDP_NO | \
			 ARCH_CAP_FB_CLEAR | ARCH_CAP_RRSBA | ARCH_CAP_BHI_NO | \
			 ARCH_CAP_PBRSB_NO | ARCH_CAP_GDS_NO | \
			 ARCH_CAP_RFDS_NO | ARCH_CAP_RFDS_CLEAR | \
			 ARCH_CAP_ITS_NO)

u64 nkvm_arch_capabilities(void)
{
	u64 data = 0;

	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES) &&
	    rdmsrl_safe(MSR_IA32_ARCH_CAPABILITIES, &data))
		data = 0;
	data &= ARCH_CAP_PASSED;
	if (!boot_cpu_has_bug(X86_BUG_CPU_MELTDOWN))
		data |= ARCH_CAP_RDCL_NO;
	if (!boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS))
		data |= ARCH_CAP_SSB_NO;
	if (!boot_cpu_has_bug(X86_BUG_MDS))
		data |= ARCH_CAP_MDS_NO;
	if (!boot_cpu_has_bug(X86_BUG_RFDS))
		data |= ARCH_CAP_RFDS_NO;
	if (!boot_cpu_has_bug(X86_BUG_ITS))
		data |= ARCH_CAP_ITS_NO;
	if (!boot_cpu_has_bug(X86_BUG_GDS))
		data |= ARCH_CAP_GDS_NO;
	if (!boot_cpu_has_bug(X86_BUG_ITLB_MULTIHIT))
		data |= ARCH_CAP_PSCHANGE_MC_NO;
	else
		data &= ~ARCH_CAP_PSCHANGE_MC_NO;
	/*
	 * TAA needs TSX, which nkvm never offers; where the host has none,
	 * TAA_NO is left out, as on Linux (the guest knows from CPUID).
	 */
	if (!boot_cpu_has(X86_FEATURE_RTM))
		data &= ~ARCH_CAP_TAA_NO;
	else if (!boot_cpu_has_bug(X86_BUG_TAA))
		data |= ARCH_CAP_TAA_NO;
	return data;
}

static bool guest_c7(struct kvm_vcpu *vcpu, u32 bits)
{
	return kvm_guest_cpuid_has(vcpu, 7, 0, CPUID_EDX, bits);
}

static bool guest_c8(struct kvm_vcpu *vcpu, u32 bits)
{
	return kvm_guest_cpuid_has(vcpu, 0x80000008, 0, CPUID_EBX, bits);
}

/* The guest's CPUID names the MSR (either vendor's enumeration). */
static bool guest_has_spec_ctrl(struct kvm_vcpu *vcpu)
{
	return guest_c7(vcpu, C7_EDX_SPEC_CTRL) ||
	       guest_c8(vcpu, C8_EBX_AMD_IBRS) ||
	       guest_c8(vcpu, C8_EBX_AMD_STIBP) ||
	       guest_c8(vcpu, C8_EBX_AMD_SSBD);
}

bool nkvm_guest_has_pred_cmd(struct kvm_vcpu *vcpu)
{
	return guest_c7(vcpu, C7_EDX_SPEC_CTRL) ||
	       guest_c8(vcpu, C8_EBX_AMD_IBPB);
}

/* The bits of IA32_SPEC_CTRL the guest's CPUID gives it. */
static u64 guest_spec_ctrl_bits(struct kvm_vcpu *vcpu)
{
	u64 bits = 0;

	if (guest_c7(vcpu, C7_EDX_SPEC_CTRL) || guest_c8(vcpu, C8_EBX_AMD_IBRS))
		bits |= SPEC_CTRL_IBRS;
	if (guest_c7(vcpu, C7_EDX_STIBP) || guest_c8(vcpu, C8_EBX_AMD_STIBP))
		bits |= SPEC_CTRL_STIBP;
	if (guest_c7(vcpu, C7_EDX_SSBD) || guest_c8(vcpu, C8_EBX_AMD_SSBD))
		bits |= SPEC_CTRL_SSBD;
	return bits;
}

/*
 * Would the host's CPU take @val?  As Linux checks it: write it and put the
 * host's value back, with interrupts off (the host's value stays current
 * meanwhile for anything but this CPU's next few instructions).
 */
static bool host_takes_spec_ctrl(u64 val)
{
	unsigned long flags;
	bool ok = false;
	u64 cur;

	local_irq_save(flags);
	if (!rdmsrl_safe(MSR_IA32_SPEC_CTRL, &cur) &&
	    !wrmsrl_safe(MSR_IA32_SPEC_CTRL, val)) {
		wrmsrl(MSR_IA32_SPEC_CTRL, cur);
		ok = true;
	}
	local_irq_restore(flags);
	return ok;
}

int nkvm_get_spec_ctrl(struct kvm_vcpu *vcpu, u64 *data, bool host)
{
	if (!host && !guest_has_spec_ctrl(vcpu))
		return 1;
	*data = vcpu->arch.spec_ctrl;
	return 0;
}

/*
 * Pass the MSR through once it was set non-zero, while the guest's CPUID
 * gives it the MSR (Linux does not ask: a VMM's write would open it to a
 * guest without it) and the MSR filter lets the guest both read and write
 * it.  Also run when the filter changed (KVM_REQ_MSR_FILTER_CHANGED).
 */
void nkvm_spec_ctrl_update_intercept(struct kvm_vcpu *vcpu)
{
	bool pass = vcpu->arch.spec_ctrl_written &&
		    boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL) &&
		    guest_has_spec_ctrl(vcpu) &&
		    kvm_x86_ops->set_spec_ctrl_intercept;
	int idx;

	if (pass) {
		/* The filter is read under the VM's SRCU (nested is fine). */
		idx = srcu_read_lock(&vcpu->kvm->srcu);
		pass = kvm_msr_allowed(vcpu, MSR_IA32_SPEC_CTRL, KVM_MSR_FILTER_READ) &&
		       kvm_msr_allowed(vcpu, MSR_IA32_SPEC_CTRL, KVM_MSR_FILTER_WRITE);
		srcu_read_unlock(&vcpu->kvm->srcu, idx);
	}
	if (pass == vcpu->arch.spec_ctrl_passthrough)
		return;
	vcpu->arch.spec_ctrl_passthrough = pass;
	kvm_x86_ops->set_spec_ctrl_intercept(vcpu, !pass);
}

/*
 * Guest writes: only bits its CPUID offers (others #GP), and only values
 * the host's CPU takes.  Userspace's writes (KVM_SET_MSRS), as on Linux,
 * need not match the guest's CPUID but must still be values the host
 * takes.  The first non-zero value stops intercepting the MSR, as Linux
 * does: a guest that never uses it pays nothing on entry and exit.
 */
int nkvm_set_spec_ctrl(struct kvm_vcpu *vcpu, u64 data, bool host)
{
	if (!host && !guest_has_spec_ctrl(vcpu))
		return 1;
	if (!host && (data & ~guest_spec_ctrl_bits(vcpu)))
		return 1;
	if (!host_takes_spec_ctrl(data))
		return 1;
	vcpu->arch.spec_ctrl = data;
	if (data && !vcpu->arch.spec_ctrl_written) {
		vcpu->arch.spec_ctrl_written = true;
		nkvm_spec_ctrl_update_intercept(vcpu);
	}
	return 0;
}

/* ---- AMD's MSR_AMD64_VIRT_SPEC_CTRL ------------------------------------- */

/*
 * The guest needs VIRT_SSBD in its CPUID; userspace (KVM_GET/SET_MSRS)
 * does not, on a backend that has the MSR at all.  Only SSBD may be set,
 * by either; the value takes effect at the next entry (svm.c).
 */
static bool virt_spec_ctrl_allowed(struct kvm_vcpu *vcpu, bool host)
{
	if (!kvm_x86_ops->virt_spec_ctrl)
		return false;
	return host || guest_c8(vcpu, C8_EBX_VIRT_SSBD);
}

int nkvm_get_virt_spec_ctrl(struct kvm_vcpu *vcpu, u64 *data, bool host)
{
	if (!virt_spec_ctrl_allowed(vcpu, host))
		return 1;
	*data = vcpu->arch.virt_spec_ctrl;
	return 0;
}

int nkvm_set_virt_spec_ctrl(struct kvm_vcpu *vcpu, u64 data, bool host)
{
	if (!virt_spec_ctrl_allowed(vcpu, host) || (data & ~SPEC_CTRL_SSBD))
		return 1;
	vcpu->arch.virt_spec_ctrl = data;
	return 0;
}
