// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: Intel VMX backend with EPT (kvm-intel.ko).
 *
 * Owns the VMCS, the per-CPU VMX state, guest entry and exit, and the
 * translation of VMX exit reasons into struct kvm_x86_exit.  It requires
 * EPT (four-level walks, write-back paging structures, INVEPT), VPID and
 * unrestricted guest, and refuses to load without them.
 *
 * The VMCS can be read and written only on the CPU where it is current,
 * while common code calls the state hooks (get_sregs, set_msr, ...) from
 * any CPU, loaded or not.  The guest state common code does not mirror is
 * therefore kept in struct vmx_state, a copy of the VMCS's guest-state
 * area: written to the VMCS before an entry when it changed, read back
 * from it when the vCPU is put (or earlier when a hook needs it while the
 * vCPU is loaded).
 */
#define pr_fmt(fmt) "nkvm-vmx: " fmt

#include <linux/module.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <asm/apicdef.h>
#include <asm/asm.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/hypervisor.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/mtrr.h>
#include <asm/nospec-branch.h>
#include <asm/perf_event.h>
#include <asm/processor-flags.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/sync_core.h>
#include <asm/tlbflush.h>
#include <asm/trapnr.h>
#include <asm/vmx.h>
#include <uapi/asm/vmx.h>
#ifdef NKVM_HAVE_GSSEG_H
#include <asm/gsseg.h>
#endif
#if IS_ENABLED(CONFIG_HYPERV)
#include <asm/mshyperv.h>
#endif

#include "../x86.h"
#include "../lapic.h"
#include "../vmenter.h"
#include "vmx_ops.h"

MODULE_AUTHOR("nkvm developers");
MODULE_DESCRIPTION("nkvm: Intel VMX backend");
MODULE_LICENSE("GPL");

/* Linux's parameter names, read by tools (always on: nkvm requires them). */
static bool ept = true;
module_param(ept, bool, 0444);
MODULE_PARM_DESC(ept, "EPT (always on: nkvm requires it)");
static bool vpid = true;
module_param(vpid, bool, 0444);
MODULE_PARM_DESC(vpid, "VPID (always on: nkvm requires it)");
static bool unrestricted_guest = true;
module_param(unrestricted_guest, bool, 0444);
MODULE_PARM_DESC(unrestricted_guest, "Unrestricted guest (always on: nkvm requires it)");
static bool enable_apicv;
module_param(enable_apicv, bool, 0444);
MODULE_PARM_DESC(enable_apicv, "APIC virtualization (not supported)");
static int nested;
module_param(nested, int, 0444);
MODULE_PARM_DESC(nested, "Nested virtualization (not supported)");
static bool hv_tlb_flush;
module_param(hv_tlb_flush, bool, 0444);
MODULE_PARM_DESC(hv_tlb_flush, "Hyper-V guest-mapping flush available (read only)");

/*
 * L1TF: flush the L1D before VM entry (Linux's parameter and values).
 * "auto", the default, follows the host's l1tf= choice as Linux does:
 * "cond" unless l1tf=off ("never") or l1tf=full ("always").  Read-only
 * here (Linux lets root change it at run time); reading it gives the
 * state in force, "not required" on a CPU without L1TF.
 */
static enum vmx_l1d_flush_state l1d_flush = VMENTER_L1D_FLUSH_AUTO;

static const char * const l1d_flush_names[] = {
	[VMENTER_L1D_FLUSH_AUTO] = "auto",
	[VMENTER_L1D_FLUSH_NEVER] = "never",
	[VMENTER_L1D_FLUSH_COND] = "cond",
	[VMENTER_L1D_FLUSH_ALWAYS] = "always",
	[VMENTER_L1D_FLUSH_EPT_DISABLED] = "EPT disabled",
	[VMENTER_L1D_FLUSH_NOT_REQUIRED] = "not required",
};

static int l1d_flush_set(const char *val, const struct kernel_param *kp)
{
	int i;

	for (i = VMENTER_L1D_FLUSH_AUTO; i <= VMENTER_L1D_FLUSH_ALWAYS; i++) {
		if (sysfs_streq(val, l1d_flush_names[i])) {
			l1d_flush = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int l1d_flush_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", l1d_flush_names[l1d_flush]);
}

static const struct kernel_param_ops l1d_flush_ops = {
	.set = l1d_flush_set,
	.get = l1d_flush_get,
};
module_param_cb(vmentry_l1d_flush, &l1d_flush_ops, NULL, 0444);
MODULE_PARM_DESC(vmentry_l1d_flush, "L1D flush on VM entry for L1TF: auto (default), never, cond, always");

/* 64 KiB, twice the L1D of the CPUs with L1TF: the software flush reads it. */
#define L1D_FLUSH_ORDER		4
static u8 *l1d_flush_buf;

/* The NKVM_RUN_* mitigation bits every entry uses (vmx_setup_mitigations()). */
static unsigned long vmx_run_flags;

/* IA32_VMX_BASIC, from the SDM (Appendix A.1). */
/* Entries of each MSR-load list for perf (perf asks for one or two). */
#define VMX_PERF_MSRS			8

#define VMX_BASIC_REVISION_MASK		0x7fffffffULL
#define VMX_BASIC_SIZE(b)		(((b) >> 32) & 0x1fff)
#define VMX_BASIC_MEMTYPE(b)		(((b) >> 50) & 0xf)
#define VMX_BASIC_MEMTYPE_WB		6
#define VMX_BASIC_TRUE_CONTROLS		BIT_ULL(55)

/* The bits of a VMCS segment's access rights (the SDM's Table 24-2). */
#define SEG_AR_TYPE_MASK	0xf
#define SEG_AR_S		BIT(4)
#define SEG_AR_DPL_SHIFT	5
#define SEG_AR_P		BIT(7)
#define SEG_AR_AVL		BIT(12)
#define SEG_AR_L		BIT(13)
#define SEG_AR_DB		BIT(14)
#define SEG_AR_G		BIT(15)
#define SEG_AR_UNUSABLE		BIT(16)

/* Exit qualification of control-register accesses. */
#define CR_QUAL_CR(q)		((q) & 0xf)
#define CR_QUAL_TYPE(q)		(((q) >> 4) & 3)
#define CR_QUAL_GPR(q)		(((q) >> 8) & 0xf)
#define CR_TYPE_MOV_TO		0
#define CR_TYPE_CLTS		2
#define CR_TYPE_LMSW		3
#define CR_QUAL_LMSW_DATA(q)	(((q) >> 16) & 0xffff)	/* register or memory */

/* Exit qualification of I/O instructions. */
#define IO_QUAL_SIZE(q)		(((q) & 7) + 1)
#define IO_QUAL_IN		BIT(3)
#define IO_QUAL_STRING		BIT(4)
#define IO_QUAL_REP		BIT(5)
#define IO_QUAL_PORT(q)		(((q) >> 16) & 0xffff)

/* Exit qualification of EPT violations. */
#define EPT_QUAL_WRITE		BIT(1)
#define EPT_QUAL_FETCH		BIT(2)
#define EPT_QUAL_PRESENT	(BIT(3) | BIT(4) | BIT(5))
#define EPT_QUAL_GLA_VALID	BIT(7)	/* from a guest linear address ... */
#define EPT_QUAL_GLA_FINAL	BIT(8)	/* ... its translation, not the walk */
#define EPT_QUAL_NMI_UNBLOCK	BIT(12)

/* #PF error code bits for kvm_mmu_page_fault(). */
#define NPF_PRESENT		BIT_ULL(0)
#define NPF_WRITE		BIT_ULL(1)
#define NPF_USER		BIT_ULL(2)
#define NPF_FETCH		BIT_ULL(4)

#define DR6_ACTIVE_LOW_BITS	0xffff0ff0ULL
#define DR6_QUAL_BITS		(0xfULL | BIT_ULL(13) | BIT_ULL(14))
#define PENDING_DBG_BS		BIT(14)

/* Segment order of the VMCS field encodings (ES, CS, SS, DS, FS, GS, LDTR, TR). */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, NR_SEGS };

/* What the CPU offers, probed at load. */
static struct vmx_config {
	u32 revision;
	u32 pin, cpu, cpu2, exit, entry;
	bool has_invept_single, has_invvpid_single;
	bool huge_2m, huge_1g;
	u64 cr0_always_on;		/* guest CR0 bits VMX forces on */
	u64 cr0_host_owned;		/* ... and those nkvm keeps clear too */
	u64 cr4_always_on;
	u64 host_pat, host_efer;
	bool have_wbinvd_exiting, have_invpcid, have_rdtscp;
	bool have_msr_bitmaps;
} vcfg;

struct vmx_cpu {
	struct page *vmxon_page;
	void *current_vmcs;		/* the VMCS VMPTRLD last made current */
	struct list_head loaded;	/* vCPUs whose VMCS is active here */
};

static DEFINE_PER_CPU(struct vmx_cpu, vmx_cpu);

/* VPIDs: 0 is the host's. */
#define VMX_NR_VPIDS	(1 << 16)
static DECLARE_BITMAP(vpid_bitmap, VMX_NR_VPIDS);
static DEFINE_SPINLOCK(vpid_lock);

struct vmx_seg {
	u64 base;
	u32 limit;
	u32 ar;
	u16 sel;
};

/* The guest-state area of the VMCS that common code does not mirror. */
struct vmx_state {
	struct vmx_seg seg[NR_SEGS];
	u64 gdtr_base, idtr_base;
	u32 gdtr_limit, idtr_limit;
	u64 cr0;			/* what the guest sees: CR0 read shadow */
	u64 cr3;
	u64 cr4;			/* CR4 read shadow */
	u64 efer;			/* EFER with LMA */
	u64 pat;
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u64 pdptr[4];
	u32 intr_state;			/* interruptibility */
};

struct vcpu_vmx {
	struct kvm_vcpu vcpu;		/* must be first: the core allocates us */
	void *vmcs;
	u64 vmcs_pa;
	u32 *vapic;			/* virtual-APIC page: the TPR shadow */
	unsigned long *msr_bitmap;	/* which MSR accesses exit (all, but
					 * IA32_SPEC_CTRL once passed through) */
	int cpu;			/* where the VMCS is active, -1: clear */
	struct list_head loaded_node;	/* in vmx_cpu.loaded of that CPU */
	bool launched;
	bool vmcs_ready;		/* control and constant fields written */
	u16 vpid;

	struct vmx_state s;
	bool state_stale;		/* the VMCS holds newer guest state */
	bool state_dirty;		/* s must be written to the VMCS */

	/* Controls as last written. */
	u32 cpu_ctls, cpu_ctls_vmcs;
	u32 cpu2_ctls, cpu2_ctls_vmcs;
	u8 tpr_threshold, tpr_threshold_vmcs;
	u32 exc_bitmap, exc_bitmap_vmcs;
	u64 tsc_offset_vmcs;
	u64 eptp_vmcs;
	u64 host_cr3, host_cr4;
	bool flush_pending;		/* INVEPT before the next entry */

	/* Event injection for the next entry. */
	u32 entry_intr_info;
	u32 entry_err;
	u32 entry_insn_len;
	bool irq_window, nmi_window;
	bool irq_deferred;		/* KVM_INTERRUPT with interrupts blocked */
	u32 soft_exc_len;		/* length of the INT3/INTO that exited */

	/* The last exit. */
	u32 exit_reason;
	u32 idt_info;
	u32 idt_err;
	bool entry_failed;		/* VMLAUNCH/VMRESUME itself failed */
	u32 insn_error;

	u64 cr2;
	u32 guest_pkru, host_pkru;

	/* MSRs perf switches at entry (first half) and exit (second half). */
	struct vmx_msr_entry *perf_msrs;
	u32 nr_perf_msrs;		/* the VMCS's MSR-load counts */

	/* Syscall MSRs: VMX does not switch them; loaded while the vCPU is. */
	u64 guest_star, guest_lstar, guest_cstar, guest_sfmask;
	u64 guest_kernel_gs_base;
	bool guest_msrs_loaded;
	struct {
		u64 star, lstar, cstar, sfmask, kernel_gs_base, fs_base;
		u16 fs_sel, gs_sel, ds_sel, es_sel, ldt_sel;
	} host;
};

static inline struct vcpu_vmx *to_vmx(struct kvm_vcpu *vcpu)
{
	return container_of(vcpu, struct vcpu_vmx, vcpu);
}

/* Entry and exit, in vmenter.S. */
int __vmx_vcpu_run(unsigned long *regs, u64 *spec_ctrl, unsigned long flags);
void __vmx_vmexit(void);

/* ---- Capabilities ------------------------------------------------------ */

/*
 * A control field from its capability MSR: bits 31:0 are the allowed
 * 0-settings (a bit set there must be 1), bits 63:32 the allowed
 * 1-settings (a bit clear there must be 0).  -EOPNOTSUPP if a required
 * control cannot be 1.
 */
static int vmx_adjust_ctls(u32 required, u32 optional, u32 msr, u32 *result,
			   const char *what)
{
	u64 cap;
	u32 ctl;

	rdmsrl(msr, cap);
	ctl = (required | optional) & (u32)(cap >> 32);
	ctl |= (u32)cap;
	if (required & ~ctl) {
		pr_err("the CPU lacks required %s controls 0x%x\n", what,
		       required & ~ctl);
		return -EOPNOTSUPP;
	}
	*result = ctl;
	return 0;
}

static bool vmx_ctl_allowed1(u32 msr, u32 bits)
{
	u64 cap;

	rdmsrl(msr, cap);
	return ((cap >> 32) & bits) == bits;
}

static int vmx_probe(void)
{
	u32 pin_msr, cpu_msr, exit_msr, entry_msr;
	u64 basic, fc, ept_cap, fixed0;
	u32 vpid_cap;
	int r;

	if (!(cpuid_ecx(1) & BIT(5))) {
		pr_err("this CPU has no Intel VMX\n");
		return -ENODEV;
	}
#ifdef X86_FEATURE_FRED
	/* NMIs taken on exit are handed to the host through its IDT. */
	if (cpu_feature_enabled(X86_FEATURE_FRED)) {
		pr_err("hosts with FRED enabled are not supported\n");
		return -EOPNOTSUPP;
	}
#endif
	rdmsrl(MSR_IA32_FEAT_CTL, fc);
	if ((fc & FEAT_CTL_LOCKED) && !(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("VMX is disabled by the firmware (IA32_FEATURE_CONTROL is locked with VMX off)\n");
		return -EOPNOTSUPP;
	}

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	if (VMX_BASIC_SIZE(basic) > PAGE_SIZE || VMX_BASIC_SIZE(basic) == 0) {
		pr_err("unexpected VMCS size %llu\n", VMX_BASIC_SIZE(basic));
		return -EOPNOTSUPP;
	}
	if (VMX_BASIC_MEMTYPE(basic) != VMX_BASIC_MEMTYPE_WB) {
		pr_err("the VMCS must be write-back memory\n");
		return -EOPNOTSUPP;
	}
	vcfg.revision = basic & VMX_BASIC_REVISION_MASK;
	if (basic & VMX_BASIC_TRUE_CONTROLS) {
		pin_msr = MSR_IA32_VMX_TRUE_PINBASED_CTLS;
		cpu_msr = MSR_IA32_VMX_TRUE_PROCBASED_CTLS;
		exit_msr = MSR_IA32_VMX_TRUE_EXIT_CTLS;
		entry_msr = MSR_IA32_VMX_TRUE_ENTRY_CTLS;
	} else {
		pin_msr = MSR_IA32_VMX_PINBASED_CTLS;
		cpu_msr = MSR_IA32_VMX_PROCBASED_CTLS;
		exit_msr = MSR_IA32_VMX_EXIT_CTLS;
		entry_msr = MSR_IA32_VMX_ENTRY_CTLS;
	}

	r = vmx_adjust_ctls(PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING |
			    PIN_BASED_VIRTUAL_NMIS, 0, pin_msr, &vcfg.pin,
			    "pin-based");
	if (r)
		return r;
	/*
	 * Every port access, HLT, MOV DR (until the guest's first use),
	 * MONITOR and MWAIT exit; no I/O or MSR bitmaps, so every port and
	 * MSR access exits.  CR3 accesses do not (EPT); the TPR shadow holds
	 * the guest's CR8, as SVM's V_TPR does, and CR8 writes exit only
	 * while common code asks (vmx_update_cr8_intercept()).
	 */
	r = vmx_adjust_ctls(CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
			    CPU_BASED_MOV_DR_EXITING | CPU_BASED_TPR_SHADOW |
			    CPU_BASED_MONITOR_EXITING | CPU_BASED_MWAIT_EXITING |
			    CPU_BASED_RDPMC_EXITING | CPU_BASED_USE_TSC_OFFSETTING |
			    CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, 0, cpu_msr,
			    &vcfg.cpu, "processor-based");
	if (r)
		return r;
	if (vcfg.cpu & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING |
			CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING |
			CPU_BASED_INVLPG_EXITING | CPU_BASED_RDTSC_EXITING)) {
		pr_err("the CPU cannot run without CR3/CR8/INVLPG/RDTSC exiting\n");
		return -EOPNOTSUPP;
	}
	if (!vmx_ctl_allowed1(cpu_msr, CPU_BASED_INTR_WINDOW_EXITING |
			      CPU_BASED_NMI_WINDOW_EXITING)) {
		pr_err("the CPU lacks interrupt-window or NMI-window exiting\n");
		return -EOPNOTSUPP;
	}
	if (!vmx_ctl_allowed1(cpu_msr, CPU_BASED_CR8_LOAD_EXITING)) {
		pr_err("the CPU lacks CR8-load exiting\n");
		return -EOPNOTSUPP;
	}
	/*
	 * An MSR bitmap with every bit set exits as no bitmap does; it lets
	 * IA32_SPEC_CTRL through once the guest uses it (spec.c).
	 */
	vcfg.have_msr_bitmaps = vmx_ctl_allowed1(cpu_msr, CPU_BASED_USE_MSR_BITMAPS);
	if (vcfg.have_msr_bitmaps)
		vcfg.cpu |= CPU_BASED_USE_MSR_BITMAPS;

	vcfg.have_wbinvd_exiting = vmx_ctl_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2,
						    SECONDARY_EXEC_WBINVD_EXITING);
	vcfg.have_invpcid = boot_cpu_has(X86_FEATURE_INVPCID) &&
			    vmx_ctl_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2,
					     SECONDARY_EXEC_ENABLE_INVPCID);
	/*
	 * Without "enable RDTSCP" both RDTSCP and RDPID raise #UD in the
	 * guest; with it they run natively, reading the TSC_AUX that common
	 * code loads.  The control is set per vCPU, from its CPUID.
	 */
	vcfg.have_rdtscp = (boot_cpu_has(X86_FEATURE_RDTSCP) ||
			    boot_cpu_has(X86_FEATURE_RDPID)) &&
			   vmx_ctl_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2,
					    SECONDARY_EXEC_ENABLE_RDTSCP);
	r = vmx_adjust_ctls(SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID |
			    SECONDARY_EXEC_UNRESTRICTED_GUEST,
			    (vcfg.have_wbinvd_exiting ? SECONDARY_EXEC_WBINVD_EXITING : 0) |
			    (vcfg.have_invpcid ? SECONDARY_EXEC_ENABLE_INVPCID : 0),
			    MSR_IA32_VMX_PROCBASED_CTLS2, &vcfg.cpu2,
			    "secondary processor-based (EPT, VPID, unrestricted guest)");
	if (r)
		return r;

	/* EFER, PAT and the debug controls are switched by the CPU. */
	r = vmx_adjust_ctls(VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_PAT |
			    VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_EFER |
			    VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_DEBUG_CONTROLS,
			    0, exit_msr, &vcfg.exit, "VM-exit");
	if (r)
		return r;
	/* Interrupts stay pending in the host's APIC: no ack on exit. */
	if (vcfg.exit & VM_EXIT_ACK_INTR_ON_EXIT) {
		pr_err("the CPU insists on acknowledging interrupts on exit\n");
		return -EOPNOTSUPP;
	}
	r = vmx_adjust_ctls(VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER |
			    VM_ENTRY_LOAD_DEBUG_CONTROLS, 0, entry_msr,
			    &vcfg.entry, "VM-entry");
	if (r)
		return r;
	if (!vmx_ctl_allowed1(entry_msr, VM_ENTRY_IA32E_MODE)) {
		pr_err("the CPU cannot enter 64-bit guests\n");
		return -EOPNOTSUPP;
	}
	vcfg.entry &= ~VM_ENTRY_IA32E_MODE;	/* per guest */

	rdmsrl(MSR_IA32_VMX_EPT_VPID_CAP, ept_cap);
	if (!(ept_cap & VMX_EPT_PAGE_WALK_4_BIT) || !(ept_cap & VMX_EPTP_WB_BIT)) {
		pr_err("EPT lacks four-level walks or write-back paging structures\n");
		return -EOPNOTSUPP;
	}
	if (!(ept_cap & VMX_EPT_INVEPT_BIT) ||
	    !(ept_cap & (VMX_EPT_EXTENT_CONTEXT_BIT | VMX_EPT_EXTENT_GLOBAL_BIT))) {
		pr_err("EPT lacks INVEPT\n");
		return -EOPNOTSUPP;
	}
	/* The VPID capabilities are the MSR's upper half. */
	vpid_cap = ept_cap >> 32;
	if (!(vpid_cap & VMX_VPID_INVVPID_BIT) ||
	    !(vpid_cap & (VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT |
			  VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT))) {
		pr_err("VPID lacks INVVPID\n");
		return -EOPNOTSUPP;
	}
	vcfg.has_invept_single = ept_cap & VMX_EPT_EXTENT_CONTEXT_BIT;
	vcfg.has_invvpid_single = vpid_cap & VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT;
	vcfg.huge_2m = ept_cap & VMX_EPT_2MB_PAGE_BIT;
	vcfg.huge_1g = ept_cap & VMX_EPT_1GB_PAGE_BIT;
	if (!vcfg.huge_2m || !vcfg.huge_1g) {
		/* The common MMU maps 2 MiB and 1 GiB leaves where it can. */
		pr_err("EPT lacks 2 MiB or 1 GiB pages\n");
		return -EOPNOTSUPP;
	}

	/* Guest CR0/CR4 bits VMX operation forces on (PE and PG excepted). */
	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, fixed0);
	vcfg.cr0_always_on = fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG);
	/*
	 * As on Linux, the guest never runs with caching disabled: CD and NW
	 * stay clear in the hardware's CR0 and the guest sees its own values
	 * through the read shadow (a change of them exits).
	 */
	vcfg.cr0_host_owned = vcfg.cr0_always_on | X86_CR0_CD | X86_CR0_NW;
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, fixed0);
	vcfg.cr4_always_on = fixed0;

	rdmsrl(MSR_IA32_CR_PAT, vcfg.host_pat);
	rdmsrl(MSR_EFER, vcfg.host_efer);

	return 0;
}

/* ---- Per-CPU enable/disable -------------------------------------------- */

/* Runs on the CPU where @info's VMCS is active, interrupts off. */
static void vmx_clear_local(void *info)
{
	struct vcpu_vmx *vmx = info;
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);

	if (vmx->cpu != smp_processor_id())
		return;
	vmx_vmclear(vmx->vmcs_pa);
	if (vc->current_vmcs == vmx->vmcs)
		vc->current_vmcs = NULL;
	list_del(&vmx->loaded_node);
	vmx->launched = false;
	/* Seen by the CPU that waits for us: the VMCS is clear now. */
	smp_wmb();
	WRITE_ONCE(vmx->cpu, -1);
}

static void vmx_clear_vcpu(struct vcpu_vmx *vmx)
{
	int cpu = READ_ONCE(vmx->cpu);

	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_clear_local, vmx, 1);
}

static int vmx_cpu_enable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);
	int cpu = smp_processor_id();
	u64 fc;

	if (cr4_read_shadow() & X86_CR4_VMXE) {
		pr_err("CPU %d: VMX is already on: another hypervisor owns this CPU\n",
		       cpu);
		return -EBUSY;
	}
	rdmsrl(MSR_IA32_FEAT_CTL, fc);
	if (!(fc & FEAT_CTL_LOCKED)) {
		/* Not set up by the firmware: allow VMX, as Linux does at boot. */
		fc |= FEAT_CTL_LOCKED | FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX;
		if (wrmsrl_safe(MSR_IA32_FEAT_CTL, fc)) {
			pr_err("CPU %d: cannot enable VMX in IA32_FEATURE_CONTROL\n",
			       cpu);
			return -EOPNOTSUPP;
		}
	} else if (!(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("CPU %d: VMX is disabled by the firmware\n", cpu);
		return -EOPNOTSUPP;
	}

	*(u32 *)page_address(vc->vmxon_page) = vcfg.revision;
	cr4_set_bits(X86_CR4_VMXE);
	if (vmx_vmxon(page_to_phys(vc->vmxon_page))) {
		cr4_clear_bits(X86_CR4_VMXE);
		pr_err("CPU %d: VMXON failed\n", cpu);
		return -EIO;
	}
	vc->current_vmcs = NULL;
	/* Nothing from before this VMXON may linger in the TLBs. */
	vmx_invept(VMX_EPT_EXTENT_GLOBAL, 0);
	return 0;
}

static void vmx_cpu_disable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);
	struct vcpu_vmx *vmx, *tmp;
	unsigned long flags;

	local_irq_save(flags);
	list_for_each_entry_safe(vmx, tmp, &vc->loaded, loaded_node)
		vmx_clear_local(vmx);
	vc->current_vmcs = NULL;
	vmx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
	local_irq_restore(flags);
}

/* On crash or emergency reboot, possibly in NMI context. */
static void vmx_emergency_disable(void)
{
	if (!(__read_cr4() & X86_CR4_VMXE))
		return;
	/* VMXOFF faults if this CPU was not in VMX operation after all. */
	vmx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

/* ---- VPIDs ------------------------------------------------------------- */

static u16 vmx_alloc_vpid(void)
{
	unsigned long v;

	spin_lock(&vpid_lock);
	v = find_next_zero_bit(vpid_bitmap, VMX_NR_VPIDS, 1);
	if (v < VMX_NR_VPIDS)
		__set_bit(v, vpid_bitmap);
	else
		v = 0;
	spin_unlock(&vpid_lock);
	return v;
}

static void vmx_free_vpid(u16 v)
{
	if (!v)
		return;
	spin_lock(&vpid_lock);
	__clear_bit(v, vpid_bitmap);
	spin_unlock(&vpid_lock);
}

/* ---- The guest-state copy ---------------------------------------------- */

static const u32 seg_sel_field[NR_SEGS] = {
	GUEST_ES_SELECTOR, GUEST_CS_SELECTOR, GUEST_SS_SELECTOR,
	GUEST_DS_SELECTOR, GUEST_FS_SELECTOR, GUEST_GS_SELECTOR,
	GUEST_LDTR_SELECTOR, GUEST_TR_SELECTOR,
};
static const u32 seg_base_field[NR_SEGS] = {
	GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE,
	GUEST_FS_BASE, GUEST_GS_BASE, GUEST_LDTR_BASE, GUEST_TR_BASE,
};
static const u32 seg_limit_field[NR_SEGS] = {
	GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT, GUEST_DS_LIMIT,
	GUEST_FS_LIMIT, GUEST_GS_LIMIT, GUEST_LDTR_LIMIT, GUEST_TR_LIMIT,
};
static const u32 seg_ar_field[NR_SEGS] = {
	GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES,
	GUEST_DS_AR_BYTES, GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES,
	GUEST_LDTR_AR_BYTES, GUEST_TR_AR_BYTES,
};

static bool vmx_pae_paging(const struct vmx_state *s)
{
	return (s->cr0 & X86_CR0_PG) && (s->cr4 & X86_CR4_PAE) &&
	       !(s->efer & EFER_LMA);
}

/* VMCS -> copy; the VMCS is current on this CPU, preemption off. */
static void vmx_read_state(struct vcpu_vmx *vmx)
{
	struct vmx_state *s = &vmx->s;
	int i;

	for (i = 0; i < NR_SEGS; i++) {
		s->seg[i].sel = vmcs_read(seg_sel_field[i]);
		s->seg[i].base = vmcs_read(seg_base_field[i]);
		s->seg[i].limit = vmcs_read(seg_limit_field[i]);
		s->seg[i].ar = vmcs_read(seg_ar_field[i]);
	}
	s->gdtr_base = vmcs_read(GUEST_GDTR_BASE);
	s->gdtr_limit = vmcs_read(GUEST_GDTR_LIMIT);
	s->idtr_base = vmcs_read(GUEST_IDTR_BASE);
	s->idtr_limit = vmcs_read(GUEST_IDTR_LIMIT);
	s->cr3 = vmcs_read(GUEST_CR3);
	s->sysenter_cs = vmcs_read(GUEST_SYSENTER_CS);
	s->sysenter_esp = vmcs_read(GUEST_SYSENTER_ESP);
	s->sysenter_eip = vmcs_read(GUEST_SYSENTER_EIP);
	s->pat = vmcs_read(GUEST_IA32_PAT);
	if (vmx_pae_paging(s)) {
		s->pdptr[0] = vmcs_read(GUEST_PDPTR0);
		s->pdptr[1] = vmcs_read(GUEST_PDPTR1);
		s->pdptr[2] = vmcs_read(GUEST_PDPTR2);
		s->pdptr[3] = vmcs_read(GUEST_PDPTR3);
	}
}

/* Copy -> VMCS, before an entry. */
static void vmx_write_state(struct vcpu_vmx *vmx)
{
	struct vmx_state *s = &vmx->s;
	u32 entry = vcfg.entry;
	int i;

	for (i = 0; i < NR_SEGS; i++) {
		vmcs_write(seg_sel_field[i], s->seg[i].sel);
		vmcs_write(seg_base_field[i], s->seg[i].base);
		vmcs_write(seg_limit_field[i], s->seg[i].limit);
		vmcs_write(seg_ar_field[i], s->seg[i].ar);
	}
	vmcs_write(GUEST_GDTR_BASE, s->gdtr_base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdtr_limit);
	vmcs_write(GUEST_IDTR_BASE, s->idtr_base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idtr_limit);
	vmcs_write(GUEST_CR0, (s->cr0 & ~(u64)(X86_CR0_CD | X86_CR0_NW)) |
			      vcfg.cr0_always_on);
	vmcs_write(CR0_READ_SHADOW, s->cr0);
	vmcs_write(GUEST_CR3, s->cr3);
	vmcs_write(GUEST_CR4, s->cr4 | vcfg.cr4_always_on);
	vmcs_write(CR4_READ_SHADOW, s->cr4);
	vmcs_write(GUEST_IA32_EFER, s->efer);
	if (s->efer & EFER_LMA)
		entry |= VM_ENTRY_IA32E_MODE;
	vmcs_write(VM_ENTRY_CONTROLS, entry);
	vmcs_write(GUEST_SYSENTER_CS, s->sysenter_cs);
	vmcs_write(GUEST_SYSENTER_ESP, s->sysenter_esp);
	vmcs_write(GUEST_SYSENTER_EIP, s->sysenter_eip);
	vmcs_write(GUEST_IA32_PAT, s->pat);
	vmcs_write(GUEST_PDPTR0, s->pdptr[0]);
	vmcs_write(GUEST_PDPTR1, s->pdptr[1]);
	vmcs_write(GUEST_PDPTR2, s->pdptr[2]);
	vmcs_write(GUEST_PDPTR3, s->pdptr[3]);
}

/*
 * Make vmx->s current before a hook reads or changes it.  Outside
 * vcpu_load/put the copy is always current (vcpu_put reads it back); while
 * the vCPU is loaded the VMCS is current on whatever CPU runs us.
 */
static void vmx_sync_state(struct vcpu_vmx *vmx)
{
	if (!vmx->state_stale)
		return;
	preempt_disable();
	if (vmx->state_stale) {
		vmx_read_state(vmx);
		vmx->state_stale = false;
	}
	preempt_enable();
}

static void vmx_state_changed(struct vcpu_vmx *vmx)
{
	vmx->state_dirty = true;
}

/* PAE paging: the four PDPTEs, loaded from guest memory at CR3. */
static void vmx_load_pdptrs(struct vcpu_vmx *vmx)
{
	u64 cr3 = vmx->s.cr3 & 0xffffffe0ULL;

	if (nkvm_read_guest(vmx->vcpu.kvm, cr3, vmx->s.pdptr,
			    sizeof(vmx->s.pdptr)))
		memset(vmx->s.pdptr, 0, sizeof(vmx->s.pdptr));
}

/* ---- VMCS setup -------------------------------------------------------- */

static u64 vmx_tr_base(void)
{
	struct desc_ptr gdt;
	struct ldttss_desc *d;
	u16 tr;

	native_store_gdt(&gdt);
	asm volatile("str %0" : "=r"(tr));
	d = (struct ldttss_desc *)(gdt.address + (tr & ~7));
	return get_desc_base((struct desc_struct *)d) | ((u64)d->base3 << 32);
}

/* Control and host fields that never change for this VMCS. */
static void vmx_setup_vmcs(struct vcpu_vmx *vmx)
{
	vmcs_write(VMCS_LINK_POINTER, -1ULL);
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, vcfg.pin);
	vmcs_write(VM_EXIT_CONTROLS, vcfg.exit);
	vmcs_write(VM_ENTRY_CONTROLS, vcfg.entry);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_ADDR, virt_to_phys(vmx->perf_msrs));
	vmcs_write(VM_EXIT_MSR_LOAD_ADDR,
		   virt_to_phys(vmx->perf_msrs + VMX_PERF_MSRS));
	vmx->nr_perf_msrs = 0;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);
	vmcs_write(VIRTUAL_APIC_PAGE_ADDR, virt_to_phys(vmx->vapic));
	if (vcfg.have_msr_bitmaps)
		vmcs_write(MSR_BITMAP, virt_to_phys(vmx->msr_bitmap));
	/* The guest owns CR0 but the bits VMX forces and CD/NW; CR4 writes all exit. */
	vmcs_write(CR0_GUEST_HOST_MASK, vcfg.cr0_host_owned);
	vmcs_write(CR4_GUEST_HOST_MASK, ~0UL);
	vmcs_write(GUEST_ACTIVITY_STATE, 0);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);

	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	vmcs_write(HOST_RIP, (unsigned long)__vmx_vmexit);
	vmcs_write(HOST_IA32_PAT, vcfg.host_pat);
	vmcs_write(HOST_IA32_EFER, vcfg.host_efer);

	vmx->cpu_ctls_vmcs = ~0U;	/* written at the next entry */
	vmx->cpu2_ctls_vmcs = ~0U;
	vmx->tpr_threshold_vmcs = U8_MAX;
	vmx->exc_bitmap_vmcs = ~0U;
	vmx->tsc_offset_vmcs = ~0ULL;
	vmx->eptp_vmcs = 0;
	vmx->host_cr3 = 0;
	vmx->host_cr4 = 0;
	vmx->state_dirty = true;
	vmx->vmcs_ready = true;
}

/* Host fields that differ from CPU to CPU. */
static void vmx_setup_host_cpu(void)
{
	struct desc_ptr dt;
	u64 v;

	native_store_gdt(&dt);
	vmcs_write(HOST_GDTR_BASE, dt.address);
	store_idt(&dt);
	vmcs_write(HOST_IDTR_BASE, dt.address);
	vmcs_write(HOST_TR_BASE, vmx_tr_base());
	rdmsrl(MSR_GS_BASE, v);
	vmcs_write(HOST_GS_BASE, v);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vmcs_write(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(HOST_IA32_SYSENTER_ESP, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vmcs_write(HOST_IA32_SYSENTER_EIP, v);
}

/* ---- vCPU lifetime ----------------------------------------------------- */

static void vmx_init_seg(struct vmx_seg *seg, u16 sel, u32 ar)
{
	*seg = (struct vmx_seg) {
		.sel = sel,
		.ar = ar,
		.limit = 0xffff,
		.base = 0,
	};
}

/*
 * RDTSCP and RDPID run natively when the guest's CPUID offers either, as
 * on Linux (one control covers both); otherwise they raise #UD.
 */
static void vmx_update_rdtscp(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	if (vcfg.have_rdtscp && vcpu->arch.model.tsc_aux)
		vmx->cpu2_ctls |= SECONDARY_EXEC_ENABLE_RDTSCP;
	else
		vmx->cpu2_ctls &= ~SECONDARY_EXEC_ENABLE_RDTSCP;
}

/* Power-on state (real mode at 0xffff0). */
static void vmx_vcpu_reset(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;
	int i;

	memset(s, 0, sizeof(*s));
	vmx_init_seg(&s->seg[SEG_CS], 0xf000, SEG_AR_P | SEG_AR_S | 0xb);
	s->seg[SEG_CS].base = 0xffff0000;
	for (i = 0; i < NR_SEGS; i++)
		if (i != SEG_CS)
			vmx_init_seg(&s->seg[i], 0, SEG_AR_P | SEG_AR_S | 0x3);
	vmx_init_seg(&s->seg[SEG_LDTR], 0, SEG_AR_P | 0x2);
	vmx_init_seg(&s->seg[SEG_TR], 0, SEG_AR_P | 0xb);	/* busy TSS */
	s->gdtr_limit = 0xffff;
	s->idtr_limit = 0xffff;
	s->cr0 = vcpu->arch.cr0;
	s->cr4 = vcpu->arch.cr4;
	s->efer = vcpu->arch.efer;
	s->pat = 0x0007040600070406ULL;		/* the architectural reset PAT */

	vmx->state_stale = false;
	vmx->state_dirty = true;
	vmx->cpu_ctls = vcfg.cpu;
	vmx->cpu2_ctls = vcfg.cpu2;
	vmx_update_rdtscp(vcpu);
	vmx->tpr_threshold = 0;
	vmx->exc_bitmap = BIT(X86_TRAP_MC);
	vmx->entry_intr_info = 0;
	vmx->irq_window = false;
	vmx->nmi_window = false;
	vmx->irq_deferred = false;
	vmx->soft_exc_len = 0;
	vmx->cr2 = 0;
	vmx->guest_pkru = 0;
	vmx->guest_star = 0;
	vmx->guest_lstar = 0;
	vmx->guest_cstar = 0;
	vmx->guest_sfmask = 0;
	vmx->guest_kernel_gs_base = 0;
	preempt_disable();
	if (vmx->guest_msrs_loaded) {
		wrmsrl(MSR_STAR, 0);
		wrmsrl(MSR_LSTAR, 0);
		wrmsrl(MSR_CSTAR, 0);
		wrmsrl(MSR_SYSCALL_MASK, 0);
		wrmsrl(MSR_KERNEL_GS_BASE, 0);
	}
	preempt_enable();
	vmx->flush_pending = true;
}

static int vmx_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct page *page;
	int r;

	vmx->vpid = vmx_alloc_vpid();
	if (!vmx->vpid)
		return -EBUSY;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		vmx_free_vpid(vmx->vpid);
		return -ENOMEM;
	}
	vmx->vmcs = page_address(page);
	vmx->vmcs_pa = page_to_phys(page);
	vmx->vapic = (u32 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vmx->perf_msrs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vmx->msr_bitmap = (void *)__get_free_page(GFP_KERNEL_ACCOUNT);
	if (!vmx->vapic || !vmx->perf_msrs || !vmx->msr_bitmap) {
		free_page((unsigned long)vmx->msr_bitmap);
		free_page((unsigned long)vmx->perf_msrs);
		free_page((unsigned long)vmx->vapic);
		free_page((unsigned long)vmx->vmcs);
		vmx_free_vpid(vmx->vpid);
		return -ENOMEM;
	}
	memset(vmx->msr_bitmap, 0xff, PAGE_SIZE);
	*(u32 *)vmx->vmcs = vcfg.revision;
	vmx->cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded_node);

	/* A VMCS must be cleared once before its first VMPTRLD. */
	preempt_disable();
	r = vmx_vmclear(vmx->vmcs_pa);
	preempt_enable();
	if (r) {
		free_page((unsigned long)vmx->msr_bitmap);
		free_page((unsigned long)vmx->perf_msrs);
		free_page((unsigned long)vmx->vapic);
		free_page((unsigned long)vmx->vmcs);
		vmx_free_vpid(vmx->vpid);
		return r;
	}
	return 0;
}

static void vmx_vcpu_free(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	vmx_clear_vcpu(vmx);
	free_page((unsigned long)vmx->msr_bitmap);
	free_page((unsigned long)vmx->perf_msrs);
	free_page((unsigned long)vmx->vapic);
	free_page((unsigned long)vmx->vmcs);
	vmx_free_vpid(vmx->vpid);
}

/*
 * Host state VMX does not restore by itself on exit, or restores to
 * values of its own: save it while this task runs the vCPU.
 */
static void vmx_prepare_host(struct vcpu_vmx *vmx)
{
	unsigned long flags;

	savesegment(fs, vmx->host.fs_sel);
	savesegment(gs, vmx->host.gs_sel);
	savesegment(ds, vmx->host.ds_sel);
	savesegment(es, vmx->host.es_sel);
	asm volatile("sldt %0" : "=r"(vmx->host.ldt_sel));
	vmcs_write(HOST_FS_SELECTOR, (vmx->host.fs_sel & 7) ? 0 : vmx->host.fs_sel);
	vmcs_write(HOST_GS_SELECTOR, (vmx->host.gs_sel & 7) ? 0 : vmx->host.gs_sel);
	rdmsrl(MSR_FS_BASE, vmx->host.fs_base);
	vmcs_write(HOST_FS_BASE, vmx->host.fs_base);

	local_irq_save(flags);
	rdmsrl(MSR_STAR, vmx->host.star);
	rdmsrl(MSR_LSTAR, vmx->host.lstar);
	rdmsrl(MSR_CSTAR, vmx->host.cstar);
	rdmsrl(MSR_SYSCALL_MASK, vmx->host.sfmask);
	rdmsrl(MSR_KERNEL_GS_BASE, vmx->host.kernel_gs_base);
	wrmsrl(MSR_STAR, vmx->guest_star);
	wrmsrl(MSR_LSTAR, vmx->guest_lstar);
	wrmsrl(MSR_CSTAR, vmx->guest_cstar);
	wrmsrl(MSR_SYSCALL_MASK, vmx->guest_sfmask);
	wrmsrl(MSR_KERNEL_GS_BASE, vmx->guest_kernel_gs_base);
	vmx->guest_msrs_loaded = true;
	local_irq_restore(flags);
}

static void vmx_restore_host(struct vcpu_vmx *vmx)
{
	unsigned long flags;

	local_irq_save(flags);
	/* SWAPGS may have changed the guest's KERNEL_GS_BASE. */
	rdmsrl(MSR_KERNEL_GS_BASE, vmx->guest_kernel_gs_base);
	vmx->guest_msrs_loaded = false;
	if (vmx->host.ldt_sel)
		asm volatile("lldt %0" : : "r"(vmx->host.ldt_sel));
	if (vmx->host.gs_sel & 7)
		load_gs_index(vmx->host.gs_sel);
	if (vmx->host.fs_sel & 7) {
		loadsegment(fs, vmx->host.fs_sel);
		wrmsrl(MSR_FS_BASE, vmx->host.fs_base);
	}
	if (vmx->host.ds_sel | vmx->host.es_sel) {
		loadsegment(ds, vmx->host.ds_sel);
		loadsegment(es, vmx->host.es_sel);
	}
	wrmsrl(MSR_STAR, vmx->host.star);
	wrmsrl(MSR_LSTAR, vmx->host.lstar);
	wrmsrl(MSR_CSTAR, vmx->host.cstar);
	wrmsrl(MSR_SYSCALL_MASK, vmx->host.sfmask);
	wrmsrl(MSR_KERNEL_GS_BASE, vmx->host.kernel_gs_base);
	/* VM exits leave a 0x67 TR limit and a 0xffff GDT limit behind. */
	invalidate_tss_limit();
	load_fixmap_gdt(smp_processor_id());
	local_irq_restore(flags);
}

static void vmx_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu, cpu);
	bool moved = vmx->cpu != cpu;
	unsigned long flags;

	if (moved) {
		vmx_clear_vcpu(vmx);
		/* vmx_clear_local() ran: the VMCS is clear everywhere. */
		smp_rmb();
		local_irq_save(flags);
		list_add(&vmx->loaded_node, &vc->loaded);
		vmx->cpu = cpu;
		local_irq_restore(flags);
	}
	if (vc->current_vmcs != vmx->vmcs) {
		vmx_vmptrld(vmx->vmcs_pa);
		vc->current_vmcs = vmx->vmcs;
	}
	if (!vmx->vmcs_ready)
		vmx_setup_vmcs(vmx);
	if (moved) {
		vmx_setup_host_cpu();
		/* Its TLB entries here may be from an older life. */
		vmx->flush_pending = true;
	}
	vmx_prepare_host(vmx);
}

static void vmx_vcpu_put(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	/* From now on, hooks may run anywhere: they need the copy. */
	if (vmx->state_stale) {
		vmx_read_state(vmx);
		vmx->state_stale = false;
	}
	vmx_restore_host(vmx);
}

static void vmx_flush_tlb(struct kvm_vcpu *vcpu)
{
	to_vmx(vcpu)->flush_pending = true;
}

/* ---- Segments and control registers ----------------------------------- */

static void vmx_seg_to_kvm(const struct vmx_seg *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment) {
		.base = s->base,
		.limit = s->limit,
		.selector = s->sel,
		.type = s->ar & SEG_AR_TYPE_MASK,
		.s = !!(s->ar & SEG_AR_S),
		.dpl = (s->ar >> SEG_AR_DPL_SHIFT) & 3,
		.present = !(s->ar & SEG_AR_UNUSABLE),
		.avl = !!(s->ar & SEG_AR_AVL),
		.l = !!(s->ar & SEG_AR_L),
		.db = !!(s->ar & SEG_AR_DB),
		.g = !!(s->ar & SEG_AR_G),
		.unusable = !!(s->ar & SEG_AR_UNUSABLE),
	};
}

static void kvm_seg_to_vmx(const struct kvm_segment *k, struct vmx_seg *s,
			   bool accessed)
{
	u8 type = k->type;

	s->base = k->base;
	s->limit = k->limit;
	s->sel = k->selector;
	if (k->unusable || !k->present) {
		s->ar = SEG_AR_UNUSABLE;
		return;
	}
	/*
	 * Usable segments are accessed, as after any load: the entry checks
	 * insist, and some VMMs leave the bit clear in real mode.
	 */
	if (accessed)
		type |= 1;
	s->ar = (type & SEG_AR_TYPE_MASK) |
		(k->s ? SEG_AR_S : 0) |
		((k->dpl & 3) << SEG_AR_DPL_SHIFT) |
		SEG_AR_P |
		(k->avl ? SEG_AR_AVL : 0) |
		(k->l ? SEG_AR_L : 0) |
		(k->db ? SEG_AR_DB : 0) |
		(k->g ? SEG_AR_G : 0);
}

static void vmx_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	const struct vmx_state *s = &vmx->s;

	vmx_sync_state(vmx);
	vmx_seg_to_kvm(&s->seg[SEG_CS], &sregs->cs);
	vmx_seg_to_kvm(&s->seg[SEG_DS], &sregs->ds);
	vmx_seg_to_kvm(&s->seg[SEG_ES], &sregs->es);
	vmx_seg_to_kvm(&s->seg[SEG_FS], &sregs->fs);
	vmx_seg_to_kvm(&s->seg[SEG_GS], &sregs->gs);
	vmx_seg_to_kvm(&s->seg[SEG_SS], &sregs->ss);
	vmx_seg_to_kvm(&s->seg[SEG_TR], &sregs->tr);
	vmx_seg_to_kvm(&s->seg[SEG_LDTR], &sregs->ldt);
	sregs->gdt.base = s->gdtr_base;
	sregs->gdt.limit = s->gdtr_limit;
	sregs->idt.base = s->idtr_base;
	sregs->idt.limit = s->idtr_limit;
	sregs->cr0 = vcpu->arch.cr0;
	sregs->cr2 = vmx->cr2;
	sregs->cr3 = s->cr3;
	sregs->cr4 = vcpu->arch.cr4;
	sregs->efer = vcpu->arch.efer;
}

static void vmx_get_emul_sregs(struct kvm_vcpu *vcpu, struct kvm_emul_sregs *es)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	const struct vmx_state *s = &vmx->s;

	vmx_sync_state(vmx);
	vmx_seg_to_kvm(&s->seg[SEG_CS], &es->cs);
	vmx_seg_to_kvm(&s->seg[SEG_SS], &es->ss);
	es->cr0 = vcpu->arch.cr0;
	es->cr3 = s->cr3;
	es->cr4 = vcpu->arch.cr4;
	es->efer = vcpu->arch.efer;
}

static void vmx_get_segment(struct kvm_vcpu *vcpu, int seg,
			    struct kvm_segment *var)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	BUILD_BUG_ON(SEG_ES != (int)KVM_SEG_ES || SEG_CS != (int)KVM_SEG_CS ||
		     SEG_SS != (int)KVM_SEG_SS || SEG_DS != (int)KVM_SEG_DS ||
		     SEG_FS != (int)KVM_SEG_FS || SEG_GS != (int)KVM_SEG_GS);
	vmx_sync_state(vmx);
	/* The same order up to GS. */
	vmx_seg_to_kvm(&vmx->s.seg[seg == KVM_SEG_TR ? SEG_TR : seg], var);
}

static int vmx_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;

	vmx_sync_state(vmx);
	kvm_seg_to_vmx(&sregs->cs, &s->seg[SEG_CS], true);
	kvm_seg_to_vmx(&sregs->ds, &s->seg[SEG_DS], true);
	kvm_seg_to_vmx(&sregs->es, &s->seg[SEG_ES], true);
	kvm_seg_to_vmx(&sregs->fs, &s->seg[SEG_FS], true);
	kvm_seg_to_vmx(&sregs->gs, &s->seg[SEG_GS], true);
	kvm_seg_to_vmx(&sregs->ss, &s->seg[SEG_SS], true);
	kvm_seg_to_vmx(&sregs->tr, &s->seg[SEG_TR], true);
	kvm_seg_to_vmx(&sregs->ldt, &s->seg[SEG_LDTR], false);
	s->gdtr_base = sregs->gdt.base;
	s->gdtr_limit = sregs->gdt.limit;
	s->idtr_base = sregs->idt.base;
	s->idtr_limit = sregs->idt.limit;
	s->cr0 = sregs->cr0;
	s->cr3 = sregs->cr3;
	s->cr4 = sregs->cr4;
	s->efer = sregs->efer;
	vmx->cr2 = sregs->cr2;
	vcpu->arch.cr0 = sregs->cr0;
	vcpu->arch.cr4 = sregs->cr4;
	vcpu->arch.efer = sregs->efer;
	if (vmx_pae_paging(s))
		vmx_load_pdptrs(vmx);
	vmx_state_changed(vmx);
	return 0;
}

/* Common code checked the value (msr.c). */
static int vmx_set_efer(struct kvm_vcpu *vcpu, u64 efer, bool host)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;

	vmx_sync_state(vmx);
	if (!host) {
		/* LMA is the CPU's to set; LME cannot change under paging. */
		efer = (efer & ~EFER_LMA) | (s->efer & EFER_LMA);
		if ((s->cr0 & X86_CR0_PG) && ((efer ^ s->efer) & EFER_LME))
			return 1;
	}
	s->efer = efer;
	vcpu->arch.efer = efer;
	vmx_state_changed(vmx);
	return 0;
}

static int vmx_get_cpl(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	if (!(vcpu->arch.cr0 & X86_CR0_PE))
		return 0;
	vmx_sync_state(vmx);
	return (vmx->s.seg[SEG_SS].ar >> SEG_AR_DPL_SHIFT) & 3;
}

static void vmx_set_cr(struct kvm_vcpu *vcpu, int cr, u64 val)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;

	vmx_sync_state(vmx);
	if (cr == 0) {
		s->cr0 = val;
		vcpu->arch.cr0 = val;
	} else {
		s->cr4 = val;
		vcpu->arch.cr4 = val;
	}
	/* MOV to CR0/CR4 reloads the PDPTEs under PAE paging. */
	if (vmx_pae_paging(s))
		vmx_load_pdptrs(vmx);
	vmx_state_changed(vmx);
}

/*
 * A guest MOV to CR0 that changed a bit the host owns (NE, CD, NW): the
 * rest of CR0's semantics, done here.  Returns 0, or 1 for #GP.
 */
static int vmx_guest_set_cr0(struct vcpu_vmx *vmx, u64 val)
{
	struct kvm_vcpu *vcpu = &vmx->vcpu;
	struct vmx_state *s = &vmx->s;
	u64 old = vcpu->arch.cr0;

	vmx_sync_state(vmx);
	if (val >> 32)
		return 1;
	val |= X86_CR0_ET;
	if ((val & X86_CR0_PG) && !(val & X86_CR0_PE))
		return 1;
	if ((val & X86_CR0_NW) && !(val & X86_CR0_CD))
		return 1;
	if (!(old & X86_CR0_PG) && (val & X86_CR0_PG) && (s->efer & EFER_LME)) {
		/* Activating long mode. */
		if (!(s->cr4 & X86_CR4_PAE) || (s->seg[SEG_CS].ar & SEG_AR_L))
			return 1;
		s->efer |= EFER_LMA;
	} else if ((old & X86_CR0_PG) && !(val & X86_CR0_PG) &&
		   (s->efer & EFER_LMA)) {
		if (s->seg[SEG_CS].ar & SEG_AR_L)
			return 1;
		s->efer &= ~EFER_LMA;
	}
	s->cr0 = val;
	vcpu->arch.cr0 = val;
	vcpu->arch.efer = s->efer;
	if ((old ^ val) & X86_CR0_PG) {
		if (vmx_pae_paging(s))
			vmx_load_pdptrs(vmx);
		vmx->flush_pending = true;
	}
	vmx_state_changed(vmx);
	return 0;
}

static int vmx_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;

	switch (index) {
	case MSR_STAR:
		*data = vmx->guest_star;
		return 0;
	case MSR_LSTAR:
		*data = vmx->guest_lstar;
		return 0;
	case MSR_CSTAR:
		*data = vmx->guest_cstar;
		return 0;
	case MSR_SYSCALL_MASK:
		*data = vmx->guest_sfmask;
		return 0;
	case MSR_KERNEL_GS_BASE:
		preempt_disable();
		if (vmx->guest_msrs_loaded)
			rdmsrl(MSR_KERNEL_GS_BASE, vmx->guest_kernel_gs_base);
		*data = vmx->guest_kernel_gs_base;
		preempt_enable();
		return 0;
	}

	vmx_sync_state(vmx);
	switch (index) {
	case MSR_IA32_SYSENTER_CS:
		*data = s->sysenter_cs;
		return 0;
	case MSR_IA32_SYSENTER_ESP:
		*data = s->sysenter_esp;
		return 0;
	case MSR_IA32_SYSENTER_EIP:
		*data = s->sysenter_eip;
		return 0;
	case MSR_FS_BASE:
		*data = s->seg[SEG_FS].base;
		return 0;
	case MSR_GS_BASE:
		*data = s->seg[SEG_GS].base;
		return 0;
	case MSR_IA32_CR_PAT:
		*data = s->pat;
		return 0;
	default:
		return -ENOENT;
	}
}

/* A syscall MSR: kept here, and live in the CPU while the vCPU is loaded. */
static void vmx_set_switched_msr(struct vcpu_vmx *vmx, u32 index, u64 *slot,
				 u64 data)
{
	preempt_disable();
	*slot = data;
	if (vmx->guest_msrs_loaded)
		wrmsrl(index, data);
	preempt_enable();
}

static int vmx_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct vmx_state *s = &vmx->s;

	switch (index) {
	case MSR_STAR:
		vmx_set_switched_msr(vmx, index, &vmx->guest_star, data);
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
		/* A non-canonical address would fault the host's WRMSR. */
		if ((s64)(data << 16) >> 16 != (s64)data)
			return 1;
		vmx_set_switched_msr(vmx, index,
				     index == MSR_LSTAR ? &vmx->guest_lstar :
				     index == MSR_CSTAR ? &vmx->guest_cstar :
				     &vmx->guest_kernel_gs_base, data);
		return 0;
	case MSR_SYSCALL_MASK:
		vmx_set_switched_msr(vmx, index, &vmx->guest_sfmask, (u32)data);
		return 0;
	}

	vmx_sync_state(vmx);
	switch (index) {
	case MSR_IA32_SYSENTER_CS:
		s->sysenter_cs = (u32)data;
		break;
	case MSR_IA32_SYSENTER_ESP:
		s->sysenter_esp = data;
		break;
	case MSR_IA32_SYSENTER_EIP:
		s->sysenter_eip = data;
		break;
	case MSR_FS_BASE:
		s->seg[SEG_FS].base = data;
		break;
	case MSR_GS_BASE:
		s->seg[SEG_GS].base = data;
		break;
	case MSR_IA32_CR_PAT:
		s->pat = data;
		break;
	default:
		return -ENOENT;
	}
	vmx_state_changed(vmx);
	return 0;
}

/* ---- Events ------------------------------------------------------------ */

/* Vectors of the exceptions that push an error code. */
#define EXC_HAS_ERROR	(BIT(X86_TRAP_DF) | BIT(X86_TRAP_TS) | BIT(X86_TRAP_NP) | \
			 BIT(X86_TRAP_SS) | BIT(X86_TRAP_GP) | BIT(X86_TRAP_PF) | \
			 BIT(X86_TRAP_AC))

static void vmx_inject_exception(struct kvm_vcpu *vcpu)
{
	struct kvm_queued_exception *ex = &vcpu->arch.exception;
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	u32 info = ex->vector | INTR_INFO_VALID_MASK;

	if ((ex->vector == X86_TRAP_BP || ex->vector == X86_TRAP_OF) &&
	    vmx->soft_exc_len) {
		/* INT3/INTO that exited: delivered as if it had run. */
		info |= INTR_TYPE_SOFT_EXCEPTION;
		vmx->entry_insn_len = vmx->soft_exc_len;
	} else {
		info |= INTR_TYPE_HARD_EXCEPTION;
	}
	/* The entry checks want an error code exactly where one belongs. */
	if (ex->has_error_code && (vcpu->arch.cr0 & X86_CR0_PE) &&
	    ex->vector < 32 && (EXC_HAS_ERROR & BIT(ex->vector))) {
		info |= INTR_INFO_DELIVER_CODE_MASK;
		vmx->entry_err = ex->error_code;
	}
	vmx->entry_intr_info = info;
	/* An injected #PF does not set CR2 by itself. */
	if (ex->vector == X86_TRAP_PF && ex->cr2)
		vmx->cr2 = ex->cr2;
}

static void vmx_inject_nmi(struct kvm_vcpu *vcpu)
{
	to_vmx(vcpu)->entry_intr_info = X86_TRAP_NMI | INTR_TYPE_NMI_INTR |
					INTR_INFO_VALID_MASK;
}

static u32 vmx_intr_state(struct vcpu_vmx *vmx)
{
	vmx_sync_state(vmx);
	return vmx->s.intr_state;
}

static bool vmx_interrupt_allowed(struct kvm_vcpu *vcpu)
{
	return (vcpu->arch.rflags & X86_EFLAGS_IF) &&
	       !(vmx_intr_state(to_vmx(vcpu)) &
		 (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
}

static void vmx_inject_irq(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);

	/*
	 * VMX refuses to inject an interrupt the guest has blocked: keep it
	 * until the window opens (it is requeued after the exit).
	 */
	if (!vmx_interrupt_allowed(vcpu)) {
		vmx->irq_deferred = true;
		vmx->irq_window = true;
		return;
	}
	vmx->entry_intr_info = vcpu->arch.interrupt.nr | INTR_INFO_VALID_MASK |
			       INTR_TYPE_EXT_INTR;
}

static u32 vmx_get_interrupt_shadow(struct kvm_vcpu *vcpu)
{
	u32 st = vmx_intr_state(to_vmx(vcpu));
	u32 shadow = 0;

	if (st & GUEST_INTR_STATE_STI)
		shadow |= KVM_X86_SHADOW_INT_STI;
	if (st & GUEST_INTR_STATE_MOV_SS)
		shadow |= KVM_X86_SHADOW_INT_MOV_SS;
	return shadow;
}

static void vmx_set_interrupt_shadow(struct kvm_vcpu *vcpu, u32 shadow)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	u32 st = vmx_intr_state(vmx);

	st &= ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
	if (shadow & KVM_X86_SHADOW_INT_STI)
		st |= GUEST_INTR_STATE_STI;
	if (shadow & KVM_X86_SHADOW_INT_MOV_SS)
		st |= GUEST_INTR_STATE_MOV_SS;
	vmx->s.intr_state = st;
}

static bool vmx_nmi_allowed(struct kvm_vcpu *vcpu)
{
	return !vcpu->arch.nmi_masked &&
	       !(vmx_intr_state(to_vmx(vcpu)) &
		 (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
}

static void vmx_enable_irq_window(struct kvm_vcpu *vcpu)
{
	to_vmx(vcpu)->irq_window = true;
}

static void vmx_enable_nmi_window(struct kvm_vcpu *vcpu)
{
	/* Exits as soon as no NMI is blocked (after the handler's IRET). */
	to_vmx(vcpu)->nmi_window = true;
}

/*
 * An exit in the middle of delivering an event (say, an EPT violation on
 * the IDT) loses the event unless it is delivered again.  Software
 * interrupts and exceptions are not: their instruction runs again.
 */
static void vmx_requeue_interrupted_event(struct vcpu_vmx *vmx)
{
	u32 info = vmx->idt_info;
	u8 vector = info & INTR_INFO_VECTOR_MASK;

	if (!(info & INTR_INFO_VALID_MASK))
		return;
	switch (info & INTR_INFO_INTR_TYPE_MASK) {
	case INTR_TYPE_HARD_EXCEPTION:
		nkvm_requeue_event(&vmx->vcpu, KVM_EVENT_EXCEPTION, vector,
				   info & INTR_INFO_DELIVER_CODE_MASK,
				   vmx->idt_err);
		break;
	case INTR_TYPE_NMI_INTR:
		nkvm_requeue_event(&vmx->vcpu, KVM_EVENT_NMI, vector, false, 0);
		break;
	case INTR_TYPE_EXT_INTR:
		nkvm_requeue_event(&vmx->vcpu, KVM_EVENT_IRQ, vector, false, 0);
		break;
	default:
		break;
	}
}

/* ---- Entry and exit ---------------------------------------------------- */

static u64 vmx_eptp(u64 root_pa)
{
	return root_pa | VMX_EPTP_PWL_4 | VMX_EPTP_MT_WB;
}

static void vmx_flush(u64 eptp)
{
	if (vcfg.has_invept_single)
		vmx_invept(VMX_EPT_EXTENT_CONTEXT, eptp);
	else
		vmx_invept(VMX_EPT_EXTENT_GLOBAL, 0);
}

/*
 * Debug state for the next entry.  A debugger's hardware breakpoints
 * replace the guest's DR7 (and DR0-3, loaded in vmx_run()); #DB and #BP
 * exit while the debugger wants them.
 */
static void vmx_load_debug_state(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	u32 dbg = vcpu->arch.guest_debug;
	/* #UD: maybe the other vendor's hypercall (hypercall.c). */
	u32 exceptions = BIT(X86_TRAP_MC) | BIT(X86_TRAP_UD);

	if (dbg & (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP))
		exceptions |= BIT(X86_TRAP_DB);
	if (dbg & KVM_GUESTDBG_USE_SW_BP)
		exceptions |= BIT(X86_TRAP_BP);
	vmx->exc_bitmap = exceptions;
	if (vmx->exc_bitmap != vmx->exc_bitmap_vmcs) {
		vmcs_write(EXCEPTION_BITMAP, vmx->exc_bitmap);
		vmx->exc_bitmap_vmcs = vmx->exc_bitmap;
	}
	vmcs_write(GUEST_DR7, kvm_debugger_owns_drs(vcpu) ?
		   vcpu->arch.guest_debug_dr7 : vcpu->arch.dr7);
}

/*
 * Host perf events counting only the host or only the guest (the vPMU's,
 * pmu.c): perf names the MSRs (IA32_PERF_GLOBAL_CTRL) that hold other
 * values while the guest runs, and the CPU switches them at entry and exit.
 */
static void vmx_switch_perf_msrs(struct vcpu_vmx *vmx)
{
	struct perf_guest_switch_msr *msrs;
	int i, nr = 0;
	u32 n = 0;

	msrs = perf_guest_get_msrs(&nr, NULL);
	for (i = 0; msrs && i < nr && n < VMX_PERF_MSRS; i++) {
		if (msrs[i].host == msrs[i].guest)
			continue;
		vmx->perf_msrs[n] = (struct vmx_msr_entry) {
			.index = msrs[i].msr, .value = msrs[i].guest,
		};
		vmx->perf_msrs[VMX_PERF_MSRS + n] = (struct vmx_msr_entry) {
			.index = msrs[i].msr, .value = msrs[i].host,
		};
		n++;
	}
	if (n != vmx->nr_perf_msrs) {
		vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, n);
		vmcs_write(VM_EXIT_MSR_LOAD_COUNT, n);
		vmx->nr_perf_msrs = n;
	}
}

/* ---- Speculative-execution mitigations --------------------------------- */

/*
 * L1TF: evict the L1D, so that the guest cannot read through it what the
 * host left there.  The CPU's own command where it has one; otherwise read
 * a buffer twice the size of the L1D, after touching each of its pages so
 * that the reads do not stop on TLB misses.
 */
static void vmx_l1d_flush(void)
{
	unsigned int off, size = PAGE_SIZE << L1D_FLUSH_ORDER;

	if (static_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		native_wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
		return;
	}
	for (off = 0; off < size; off += PAGE_SIZE)
		(void)READ_ONCE(l1d_flush_buf[off]);
	/* Every page walk done before the cache is filled. */
	sync_core();
	for (off = 0; off < size; off += L1_CACHE_BYTES)
		(void)READ_ONCE(l1d_flush_buf[off]);
}

/*
 * What the host's kernel decided, read as Linux's kvm_intel reads it (the
 * X86_FEATURE_* and X86_BUG_* bits and the exported l1tf_mitigation), and
 * the paths force_mitigations (kvm.ko) turns on for testing.
 */
static int vmx_setup_mitigations(void)
{
	bool l1tf = boot_cpu_has_bug(X86_BUG_L1TF) ||
		    nkvm_mitigation_forced(NKVM_FORCE_L1D_FLUSH);
	struct page *page;
	u64 caps = 0;
	int i;

	/*
	 * CPU buffers (MDS, TAA, MMIO stale data, RFDS) where the host clears
	 * them on its own transitions: 6.1 says so with CLEAR_CPU_BUF, later
	 * kernels may with CLEAR_CPU_BUF_VM.  The MMIO-stale-data-only case
	 * (the mmio_stale_data_clear key) concerns guests with assigned
	 * devices, which nkvm does not have.
	 */
	if (boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF) ||
	    boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF_VM) ||
	    nkvm_mitigation_forced(NKVM_FORCE_VERW))
		vmx_run_flags |= NKVM_RUN_VERW;
	/* The RSB after VM exit: refilled, or one CALL for eIBRS PBRSB. */
	if (boot_cpu_has(X86_FEATURE_RSB_VMEXIT) ||
	    nkvm_mitigation_forced(NKVM_FORCE_RSB))
		vmx_run_flags |= NKVM_RUN_RSB;
	else if (boot_cpu_has(X86_FEATURE_RSB_VMEXIT_LITE))
		vmx_run_flags |= NKVM_RUN_RSB_LITE;
	/* The guest's IA32_SPEC_CTRL; legacy IBRS rewrites the host's always. */
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		vmx_run_flags |= NKVM_RUN_SPEC_CTRL;
	if (boot_cpu_has(X86_FEATURE_KERNEL_IBRS))
		vmx_run_flags |= NKVM_RUN_HOST_IBRS;

	/* L1TF, decided as Linux decides it (EPT is always on here). */
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrl_safe(MSR_IA32_ARCH_CAPABILITIES, &caps);
	if (!l1tf || (caps & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH)) {
		l1d_flush = VMENTER_L1D_FLUSH_NOT_REQUIRED;
	} else if (l1d_flush == VMENTER_L1D_FLUSH_AUTO) {
		switch (l1tf_mitigation) {
		case L1TF_MITIGATION_OFF:
			l1d_flush = VMENTER_L1D_FLUSH_NEVER;
			break;
		case L1TF_MITIGATION_FULL:
		case L1TF_MITIGATION_FULL_FORCE:
			l1d_flush = VMENTER_L1D_FLUSH_ALWAYS;
			break;
		default:
			l1d_flush = VMENTER_L1D_FLUSH_COND;
			break;
		}
	} else if (l1tf_mitigation == L1TF_MITIGATION_FULL_FORCE) {
		l1d_flush = VMENTER_L1D_FLUSH_ALWAYS;
	}
	if ((l1d_flush == VMENTER_L1D_FLUSH_COND ||
	     l1d_flush == VMENTER_L1D_FLUSH_ALWAYS) &&
	    !boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		page = alloc_pages(GFP_KERNEL, L1D_FLUSH_ORDER);
		if (!page)
			return -ENOMEM;
		l1d_flush_buf = page_address(page);
		/* Distinct contents: nothing may merge these pages. */
		memset(l1d_flush_buf, 0x5a, PAGE_SIZE << L1D_FLUSH_ORDER);
		for (i = 0; i < (1 << L1D_FLUSH_ORDER); i++)
			l1d_flush_buf[i * PAGE_SIZE] = i;
	}
	/* What /sys/devices/system/cpu/vulnerabilities/l1tf reports. */
	l1tf_vmx_mitigation = l1d_flush;

	pr_info("mitigations: VERW %s, RSB %s, SPEC_CTRL %s, L1D flush %s%s%s\n",
		vmx_run_flags & NKVM_RUN_VERW ? "on" : "off",
		vmx_run_flags & NKVM_RUN_RSB ? "refill" :
		vmx_run_flags & NKVM_RUN_RSB_LITE ? "one call" : "off",
		vmx_run_flags & NKVM_RUN_SPEC_CTRL ?
		(vmx_run_flags & NKVM_RUN_HOST_IBRS ? "switched, IBRS" : "switched") :
		"absent", l1d_flush_names[l1d_flush],
		l1d_flush_buf ? " (software)" : "",
		nkvm_forced_mitigations ? " (some forced for testing)" : "");
	return 0;
}

static void vmx_free_mitigations(void)
{
	if (l1d_flush_buf)
		free_pages((unsigned long)l1d_flush_buf, L1D_FLUSH_ORDER);
	l1d_flush_buf = NULL;
	l1tf_vmx_mitigation = VMENTER_L1D_FLUSH_AUTO;
}

/* IA32_SPEC_CTRL in the MSR bitmap: bits of the low read and write halves. */
#define MSR_BITMAP_WRITE_LOW	(0x800 * BITS_PER_BYTE)

static void vmx_set_spec_ctrl_intercept(struct kvm_vcpu *vcpu, bool intercept)
{
	unsigned long *bm = to_vmx(vcpu)->msr_bitmap;

	/* Not in guest mode: the CPU reads the bitmap only at accesses. */
	if (intercept) {
		__set_bit(MSR_IA32_SPEC_CTRL, bm);
		__set_bit(MSR_BITMAP_WRITE_LOW + MSR_IA32_SPEC_CTRL, bm);
	} else {
		__clear_bit(MSR_IA32_SPEC_CTRL, bm);
		__clear_bit(MSR_BITMAP_WRITE_LOW + MSR_IA32_SPEC_CTRL, bm);
	}
}

static void vmx_run(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	unsigned long *regs = vcpu->arch.regs;
	bool pku = cpu_feature_enabled(X86_FEATURE_OSPKE);
	u64 eptp = vmx_eptp(vcpu->arch.mmu.root_pa);
	unsigned long debugctl, cr3, cr4, run_flags;
	u32 ctls, st;
	u8 tpr;
	int fail;

	/* Guest state nkvm changed, or that the VMCS must not lose. */
	if (vmx->state_dirty) {
		vmx_write_state(vmx);
		vmx->state_dirty = false;
	}
	if (vcpu->arch.pdptrs_from_user) {
		vmcs_write(GUEST_PDPTR0, vcpu->arch.pdptrs[0]);
		vmcs_write(GUEST_PDPTR1, vcpu->arch.pdptrs[1]);
		vmcs_write(GUEST_PDPTR2, vcpu->arch.pdptrs[2]);
		vmcs_write(GUEST_PDPTR3, vcpu->arch.pdptrs[3]);
	}

	cr3 = __read_cr3();
	if (cr3 != vmx->host_cr3) {
		vmcs_write(HOST_CR3, cr3);
		vmx->host_cr3 = cr3;
	}
	cr4 = cr4_read_shadow();
	if (cr4 != vmx->host_cr4) {
		vmcs_write(HOST_CR4, cr4);
		vmx->host_cr4 = cr4;
	}
	if (eptp != vmx->eptp_vmcs) {
		vmcs_write(EPT_POINTER, eptp);
		vmx->eptp_vmcs = eptp;
		/* A root loaded anew may hold stale translations. */
		vmx->flush_pending = true;
	}
	if (vmx->flush_pending) {
		vmx_flush(eptp);
		vmx->flush_pending = false;
	}
	if (vcpu->arch.tsc_offset != vmx->tsc_offset_vmcs) {
		vmcs_write(TSC_OFFSET, vcpu->arch.tsc_offset);
		vmx->tsc_offset_vmcs = vcpu->arch.tsc_offset;
	}

	/* Windows: open for this entry only; common code asks again. */
	ctls = vmx->cpu_ctls & ~(CPU_BASED_INTR_WINDOW_EXITING |
				 CPU_BASED_NMI_WINDOW_EXITING);
	if (vmx->irq_window)
		ctls |= CPU_BASED_INTR_WINDOW_EXITING;
	if (vmx->nmi_window)
		ctls |= CPU_BASED_NMI_WINDOW_EXITING;
	vmx->irq_window = false;
	vmx->nmi_window = false;
	if (ctls != vmx->cpu_ctls_vmcs) {
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, ctls);
		vmx->cpu_ctls_vmcs = ctls;
	}
	if (vmx->cpu2_ctls != vmx->cpu2_ctls_vmcs) {
		vmcs_write(SECONDARY_VM_EXEC_CONTROL, vmx->cpu2_ctls);
		vmx->cpu2_ctls_vmcs = vmx->cpu2_ctls;
	}

	/* Interruptibility: NMI blocking follows common code's view. */
	st = vmx->s.intr_state & ~GUEST_INTR_STATE_NMI;
	if (vcpu->arch.nmi_masked &&
	    (vmx->entry_intr_info & INTR_INFO_INTR_TYPE_MASK) != INTR_TYPE_NMI_INTR)
		st |= GUEST_INTR_STATE_NMI;
	if (!(vcpu->arch.rflags & X86_EFLAGS_IF))
		st &= ~GUEST_INTR_STATE_STI;
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, st);
	/* Single-stepping out of an interrupt shadow: the #DB stays pending. */
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS,
		   ((vcpu->arch.rflags & X86_EFLAGS_TF) &&
		    (st & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))) ?
		   PENDING_DBG_BS : 0);

	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, vmx->entry_intr_info);
	if (vmx->entry_intr_info) {
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, vmx->entry_err);
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, vmx->entry_insn_len);
	}
	vmx->entry_intr_info = 0;
	vmx->entry_err = 0;
	vmx->entry_insn_len = 0;

	vmx_switch_perf_msrs(vmx);

	/*
	 * The guest's CR8 is bits 7:4 of the virtual TPR.  VM entry fails if
	 * the threshold is above it: userspace may have lowered CR8 since
	 * the threshold was chosen.
	 */
	WRITE_ONCE(vmx->vapic[APIC_TASKPRI / 4], (vcpu->arch.cr8 & 0xf) << 4);
	tpr = min_t(u8, vmx->tpr_threshold, vcpu->arch.cr8 & 0xf);
	if (tpr != vmx->tpr_threshold_vmcs) {
		vmcs_write(TPR_THRESHOLD, tpr);
		vmx->tpr_threshold_vmcs = tpr;
	}
	vmcs_write(GUEST_RIP, regs[VCPU_REGS_RIP]);
	vmcs_write(GUEST_RSP, regs[VCPU_REGS_RSP]);
	vmcs_write(GUEST_RFLAGS, vcpu->arch.rflags);
	vmx_load_debug_state(vcpu);

	if (kvm_debugger_owns_drs(vcpu)) {
		set_debugreg(vcpu->arch.guest_debug_db[0], 0);
		set_debugreg(vcpu->arch.guest_debug_db[1], 1);
		set_debugreg(vcpu->arch.guest_debug_db[2], 2);
		set_debugreg(vcpu->arch.guest_debug_db[3], 3);
	} else if (vcpu->arch.dr_guest_owned) {
		set_debugreg(vcpu->arch.db[0], 0);
		set_debugreg(vcpu->arch.db[1], 1);
		set_debugreg(vcpu->arch.db[2], 2);
		set_debugreg(vcpu->arch.db[3], 3);
		set_debugreg(vcpu->arch.dr6, 6);
	}
	debugctl = get_debugctlmsr();
	if (pku) {
		vmx->host_pkru = rdpkru();
		if (vmx->guest_pkru != vmx->host_pkru)
			wrpkru(vmx->guest_pkru);
	}
	if (native_read_cr2() != vmx->cr2)
		native_write_cr2(vmx->cr2);

	/* L1TF: see spec.c for what "cond" counts. */
	if (l1d_flush == VMENTER_L1D_FLUSH_ALWAYS ||
	    (l1d_flush == VMENTER_L1D_FLUSH_COND && nkvm_l1tf_flush_wanted(vcpu)))
		vmx_l1d_flush();
	run_flags = vmx_run_flags;
	if (vmx->launched)
		run_flags |= NKVM_RUN_VMRESUME;
	if (vcpu->arch.spec_ctrl_passthrough)
		run_flags |= NKVM_RUN_SAVE_SPEC_CTRL;
	fail = __vmx_vcpu_run(regs, &vcpu->arch.spec_ctrl, run_flags);

	vmx->cr2 = native_read_cr2();
	if (pku) {
		vmx->guest_pkru = rdpkru();
		if (vmx->guest_pkru != vmx->host_pkru)
			wrpkru(vmx->host_pkru);
	}
	if (debugctl)
		update_debugctlmsr(debugctl);
	if (vcpu->arch.dr_guest_owned && !kvm_debugger_owns_drs(vcpu)) {
		get_debugreg(vcpu->arch.db[0], 0);
		get_debugreg(vcpu->arch.db[1], 1);
		get_debugreg(vcpu->arch.db[2], 2);
		get_debugreg(vcpu->arch.db[3], 3);
		get_debugreg(vcpu->arch.dr6, 6);
		set_debugreg(DR6_ACTIVE_LOW_BITS, 6);
	}
	/* A VM exit clears DR7: put the host's breakpoints back. */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();

	vmx->entry_failed = fail;
	vmx->idt_info = 0;
	if (fail) {
		vmx->insn_error = vmcs_read(VM_INSTRUCTION_ERROR);
		vmx->exit_reason = 0;
		goto out;
	}
	vcpu->arch.cr8 = (READ_ONCE(vmx->vapic[APIC_TASKPRI / 4]) >> 4) & 0xf;
	vmx->exit_reason = vmcs_read(VM_EXIT_REASON);
	/*
	 * An entry that fails on the guest state leaves the VMCS clear, not
	 * launched: the next entry is a VMLAUNCH again.
	 */
	if (vmx->exit_reason & VMX_EXIT_REASONS_FAILED_VMENTRY)
		goto out;
	vmx->launched = true;

	/* The NMI that caused the exit is the host's: run its handler now. */
	if ((u16)vmx->exit_reason == EXIT_REASON_EXCEPTION_NMI &&
	    (vmcs_read(VM_EXIT_INTR_INFO) & INTR_INFO_INTR_TYPE_MASK) ==
	    INTR_TYPE_NMI_INTR)
		asm volatile("int $2");

	vmx->idt_info = vmcs_read(IDT_VECTORING_INFO_FIELD);
	if (vmx->idt_info & INTR_INFO_DELIVER_CODE_MASK)
		vmx->idt_err = vmcs_read(IDT_VECTORING_ERROR_CODE);
	regs[VCPU_REGS_RIP] = vmcs_read(GUEST_RIP);
	regs[VCPU_REGS_RSP] = vmcs_read(GUEST_RSP);
	vcpu->arch.rflags = vmcs_read(GUEST_RFLAGS);
	/* The guest owns CR0 but for the host's bits, seen through the shadow. */
	vcpu->arch.cr0 = (vmcs_read(GUEST_CR0) & ~vcfg.cr0_host_owned) |
			 (vmx->s.cr0 & vcfg.cr0_host_owned);
	vmx->s.cr0 = vcpu->arch.cr0;
	vmx->s.efer = vmcs_read(GUEST_IA32_EFER);
	vcpu->arch.efer = vmx->s.efer;
	vmx->s.intr_state = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	vcpu->arch.nmi_masked = !!(vmx->s.intr_state & GUEST_INTR_STATE_NMI);
	if (vcpu->arch.dr_guest_owned && !kvm_debugger_owns_drs(vcpu))
		vcpu->arch.dr7 = vmcs_read(GUEST_DR7);
	/* Segments, CR3 and the rest: read back when needed. */
	vmx->state_stale = true;
out:
	vmx_requeue_interrupted_event(vmx);
	if (vmx->irq_deferred) {
		vmx->irq_deferred = false;
		nkvm_requeue_event(vcpu, KVM_EVENT_IRQ, vcpu->arch.interrupt.nr,
				   false, 0);
	}
}

static void vmx_debug_exit(struct vcpu_vmx *vmx, struct kvm_x86_exit *exit,
			   u32 vector, u64 dr6)
{
	struct kvm_vcpu *vcpu = &vmx->vcpu;

	vmx_sync_state(vmx);
	exit->reason = X86_EXIT_DEBUG;
	exit->debug.exception = vector;
	exit->debug.pc = vmx->s.seg[SEG_CS].base + vcpu->arch.regs[VCPU_REGS_RIP];
	exit->debug.dr6 = dr6;
	exit->debug.dr7 = kvm_debugger_owns_drs(vcpu) ?
			  vcpu->arch.guest_debug_dr7 : vcpu->arch.dr7;
}

static u64 vmx_next_rip(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.regs[VCPU_REGS_RIP] + vmcs_read(VM_EXIT_INSTRUCTION_LEN);
}

static void vmx_handle_exception(struct vcpu_vmx *vmx,
				 struct kvm_x86_exit *exit)
{
	struct kvm_vcpu *vcpu = &vmx->vcpu;
	u32 info = vmcs_read(VM_EXIT_INTR_INFO);
	u8 vector = info & INTR_INFO_VECTOR_MASK;
	u64 qual;

	if ((info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR)
		return;		/* the host's, handled in vmx_run() */

	switch (vector) {
	case X86_TRAP_MC:
		/* The machine check was the host's: let its handler see it. */
		asm volatile("int $0x12");
		return;
	case X86_TRAP_UD:
		exit->reason = X86_EXIT_UD;
		return;
	case X86_TRAP_DB:
		qual = vmcs_read(EXIT_QUALIFICATION) & DR6_QUAL_BITS;
		if (vcpu->arch.guest_debug &
		    (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP)) {
			vmx_debug_exit(vmx, exit, X86_TRAP_DB,
				       qual | DR6_ACTIVE_LOW_BITS);
			return;
		}
		vcpu->arch.dr6 = (vcpu->arch.dr6 & ~DR6_QUAL_BITS) | qual;
		nkvm_queue_exception(vcpu, X86_TRAP_DB, false, 0);
		return;
	case X86_TRAP_BP:
		if (vcpu->arch.guest_debug & KVM_GUESTDBG_USE_SW_BP) {
			vmx_debug_exit(vmx, exit, X86_TRAP_BP, DR6_ACTIVE_LOW_BITS);
			return;
		}
		vmx->soft_exc_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
		nkvm_queue_exception(vcpu, X86_TRAP_BP, false, 0);
		return;
	default:
		exit->reason = X86_EXIT_UNHANDLED;
		return;
	}
}

/* MOV to CR0 (changing NE) or CR4. */
static void vmx_handle_cr(struct vcpu_vmx *vmx, struct kvm_x86_exit *exit)
{
	struct kvm_vcpu *vcpu = &vmx->vcpu;
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	int cr = CR_QUAL_CR(qual), gpr = CR_QUAL_GPR(qual);
	u64 next_rip = vmx_next_rip(vcpu);
	bool lma = vcpu->arch.efer & EFER_LMA;
	u64 val;

	val = vcpu->arch.regs[gpr];
	if (!lma)
		val = (u32)val;

	switch (CR_QUAL_TYPE(qual)) {
	case CR_TYPE_MOV_TO:
		switch (cr) {
		case 0:
			if (vmx_guest_set_cr0(vmx, val))
				goto gp;
			nkvm_skip_insn(vcpu, next_rip);
			return;
		case 4:
		case 8:
			exit->reason = X86_EXIT_CR_WRITE;
			exit->cr.cr = cr;
			exit->cr.gpr = gpr;
			exit->next_rip = next_rip;
			return;
		}
		break;
	case CR_TYPE_CLTS:
	case CR_TYPE_LMSW:
		/*
		 * Only if CR0's host-owned bits include one of PE, MP, EM, TS
		 * (not with unrestricted guest).  LMSW's source, a register
		 * or memory, is in the qualification: PE, MP, EM and TS from
		 * it, PE never cleared.
		 */
		vmx_sync_state(vmx);
		val = vcpu->arch.cr0;
		if (CR_QUAL_TYPE(qual) == CR_TYPE_CLTS)
			val &= ~X86_CR0_TS;
		else
			val = (val & ~0xeULL) | (CR_QUAL_LMSW_DATA(qual) & 0xf);
		if (vmx_guest_set_cr0(vmx, val))
			goto gp;
		nkvm_skip_insn(vcpu, next_rip);
		return;
	}
	exit->reason = X86_EXIT_UNHANDLED;
	exit->hw.info[0] = qual;
	return;
gp:
	nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
}

static void vmx_handle_exit(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	u32 reason = vmx->exit_reason;
	u64 qual;

	exit->reason = X86_EXIT_NONE;
	exit->hw.hw_reason = reason;
	exit->hw.info[0] = 0;
	exit->hw.info[1] = 0;
	vmx->soft_exc_len = 0;

	if (vmx->entry_failed) {
		exit->reason = X86_EXIT_FAIL_ENTRY;
		exit->hw.hw_reason = vmx->insn_error;
		return;
	}
	if (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
		/* Invalid guest state, MSR loading, machine check. */
		exit->reason = X86_EXIT_FAIL_ENTRY;
		return;
	}

	switch ((u16)reason) {
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		/* Taken by the host once interrupts are on again. */
		vcpu->stat.irq_exits++;
		return;
	case EXIT_REASON_EXCEPTION_NMI:
		vmx_handle_exception(vmx, exit);
		return;
	case EXIT_REASON_TRIPLE_FAULT:
		exit->reason = X86_EXIT_SHUTDOWN;
		return;
	case EXIT_REASON_INIT_SIGNAL:
	case EXIT_REASON_SIPI_SIGNAL:
		return;
	case EXIT_REASON_INTERRUPT_WINDOW:
		/* The window is open: common code injects now. */
		vcpu->stat.irq_window_exits++;
		return;
	case EXIT_REASON_NMI_WINDOW:
		vcpu->stat.nmi_window_exits++;
		return;
	case EXIT_REASON_IO_INSTRUCTION:
		qual = vmcs_read(EXIT_QUALIFICATION);
		exit->reason = X86_EXIT_IO;
		exit->io.in = qual & IO_QUAL_IN;
		exit->io.string = qual & IO_QUAL_STRING;
		exit->io.rep = qual & IO_QUAL_REP;
		exit->io.size = IO_QUAL_SIZE(qual);
		exit->io.port = IO_QUAL_PORT(qual);
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_HLT:
		exit->reason = X86_EXIT_HLT;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_RDPMC:
		exit->reason = X86_EXIT_RDPMC;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_CPUID:
		exit->reason = X86_EXIT_CPUID;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_MSR_READ:
	case EXIT_REASON_MSR_WRITE:
		exit->reason = (u16)reason == EXIT_REASON_MSR_WRITE ?
			       X86_EXIT_WRMSR : X86_EXIT_RDMSR;
		exit->msr.index = vcpu->arch.regs[VCPU_REGS_RCX];
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_XSETBV:
		exit->reason = X86_EXIT_XSETBV;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_TPR_BELOW_THRESHOLD:
		/*
		 * Trap-like: the guest lowered CR8 below the interrupt it held
		 * back.  vmx_run() read the new CR8 and common code hands it
		 * to the APIC after every exit: the interrupt comes now.
		 */
		return;
	case EXIT_REASON_CR_ACCESS:
		vmx_handle_cr(vmx, exit);
		return;
	case EXIT_REASON_DR_ACCESS:
		/* First use: hand the debug registers to the guest. */
		vmx->cpu_ctls &= ~CPU_BASED_MOV_DR_EXITING;
		vcpu->arch.dr_guest_owned = true;
		return;
	case EXIT_REASON_EPT_VIOLATION:
		qual = vmcs_read(EXIT_QUALIFICATION);
		exit->reason = X86_EXIT_NPF;
		exit->npf.gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
		exit->npf.error_code = NPF_USER |
			((qual & EPT_QUAL_PRESENT) ? NPF_PRESENT : 0) |
			((qual & EPT_QUAL_WRITE) ? NPF_WRITE : 0) |
			((qual & EPT_QUAL_FETCH) ? NPF_FETCH : 0);
		if ((qual & (EPT_QUAL_GLA_VALID | EPT_QUAL_GLA_FINAL)) ==
		    (EPT_QUAL_GLA_VALID | EPT_QUAL_GLA_FINAL))
			exit->npf.error_code |= KVM_NPF_FINAL;
		/*
		 * An IRET that unblocked NMIs faulted: it runs again, so NMIs
		 * are blocked until then.
		 */
		if ((qual & EPT_QUAL_NMI_UNBLOCK) &&
		    !(vmx->idt_info & INTR_INFO_VALID_MASK)) {
			vmx->s.intr_state |= GUEST_INTR_STATE_NMI;
			vcpu->arch.nmi_masked = true;
		}
		exit->hw.info[0] = qual;
		exit->hw.info[1] = exit->npf.gpa;
		return;
	case EXIT_REASON_INVD:
	case EXIT_REASON_WBINVD:
		/* Caches are coherent for the guest: nothing to do. */
		nkvm_skip_insn(vcpu, vmx_next_rip(vcpu));
		return;
	case EXIT_REASON_VMCALL:
		exit->reason = X86_EXIT_HYPERCALL;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_MONITOR_INSTRUCTION:
	case EXIT_REASON_MWAIT_INSTRUCTION:
		exit->reason = X86_EXIT_MONITOR_MWAIT;
		exit->next_rip = vmx_next_rip(vcpu);
		return;
	case EXIT_REASON_VMCLEAR:
	case EXIT_REASON_VMLAUNCH:
	case EXIT_REASON_VMPTRLD:
	case EXIT_REASON_VMPTRST:
	case EXIT_REASON_VMREAD:
	case EXIT_REASON_VMRESUME:
	case EXIT_REASON_VMWRITE:
	case EXIT_REASON_VMOFF:
	case EXIT_REASON_VMON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_VMFUNC:
		/* Not offered to the guest. */
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return;
	default:
		exit->reason = X86_EXIT_UNHANDLED;
		exit->hw.info[0] = vmcs_read(EXIT_QUALIFICATION);
		return;
	}
}

static const struct kvm_tdp_format vmx_ept_format = {
	.present_mask = VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK |
			VMX_EPT_EXECUTABLE_MASK,
	.table_bits = VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK |
		      VMX_EPT_EXECUTABLE_MASK,
	/* RAM is write-back whatever the guest's PAT says, as on Linux. */
	.leaf_bits = VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK |
		     VMX_EPT_EXECUTABLE_MASK |
		     (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT,
	.writable_mask = VMX_EPT_WRITABLE_MASK,
	.huge_mask = BIT_ULL(7),
	.exec_mask = VMX_EPT_EXECUTABLE_MASK,
};

/*
 * Common code wants to see the guest's CR8 writes (x86.h).  With the APIC
 * in userspace every write exits (CR8-load exiting; reads come from the
 * TPR shadow, which holds the same value), as on Linux, so that a lowered
 * TPR is reported.  With an in-kernel APIC the TPR threshold suffices:
 * it is the priority class of the interrupt the TPR holds back, and a
 * write below it exits (EXIT_REASON_TPR_BELOW_THRESHOLD).
 */
static void vmx_update_cr8_intercept(struct kvm_vcpu *vcpu, bool intercept)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	int irr;

	vmx->tpr_threshold = 0;
	if (!kvm_lapic_in_kernel(vcpu)) {
		if (intercept)
			vmx->cpu_ctls |= CPU_BASED_CR8_LOAD_EXITING;
		else
			vmx->cpu_ctls &= ~CPU_BASED_CR8_LOAD_EXITING;
		return;
	}
	vmx->cpu_ctls &= ~CPU_BASED_CR8_LOAD_EXITING;
	irr = kvm_lapic_max_irr(vcpu);
	if (intercept && irr >= 0)
		vmx->tpr_threshold = irr >> 4;
}

static struct kvm_x86_ops vmx_ops __ro_after_init = {
	.name = "vmx",
	.owner = THIS_MODULE,
	.vm_size = sizeof(struct kvm),
	.vcpu_size = sizeof(struct vcpu_vmx),
	.tdp = &vmx_ept_format,
	.hypercall_insn = (const u8[]){ 0x0f, 0x01, 0xc1 },	/* VMCALL */

	.cpu_enable = vmx_cpu_enable,
	.cpu_disable = vmx_cpu_disable,
	.emergency_disable = vmx_emergency_disable,

	.vcpu_create = vmx_vcpu_create,
	.vcpu_free = vmx_vcpu_free,
	.vcpu_reset = vmx_vcpu_reset,
	.vcpu_load = vmx_vcpu_load,
	.vcpu_put = vmx_vcpu_put,

	.get_sregs = vmx_get_sregs,
	.get_emul_sregs = vmx_get_emul_sregs,
	.get_segment = vmx_get_segment,
	.set_sregs = vmx_set_sregs,
	.set_efer = vmx_set_efer,
	.get_cpl = vmx_get_cpl,
	.set_cr = vmx_set_cr,
	.get_msr = vmx_get_msr,
	.set_msr = vmx_set_msr,
	.vcpu_after_set_cpuid = vmx_update_rdtscp,
	.pmu_from_cpuid_0xa = true,
	.hv_guest_mapping_flush = true,
	.nested_state_format = KVM_STATE_NESTED_FORMAT_VMX,
	/* SMM: RSM, not in the CPU's own SMM, comes as a #UD (smm.c). */
	.smm = true,

	.inject_exception = vmx_inject_exception,
	.inject_nmi = vmx_inject_nmi,
	.inject_irq = vmx_inject_irq,
	.interrupt_allowed = vmx_interrupt_allowed,
	.nmi_allowed = vmx_nmi_allowed,
	.enable_irq_window = vmx_enable_irq_window,
	.enable_nmi_window = vmx_enable_nmi_window,
	.get_interrupt_shadow = vmx_get_interrupt_shadow,
	.set_interrupt_shadow = vmx_set_interrupt_shadow,

	.run = vmx_run,
	.handle_exit = vmx_handle_exit,
	.flush_tlb = vmx_flush_tlb,
	.update_cr8_intercept = vmx_update_cr8_intercept,
	.set_spec_ctrl_intercept = vmx_set_spec_ctrl_intercept,
};

/* ---- Module load and unload -------------------------------------------- */

static void vmx_free_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu, cpu);

		if (vc->vmxon_page)
			__free_page(vc->vmxon_page);
		vc->vmxon_page = NULL;
	}
}

static int vmx_alloc_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu, cpu);

		INIT_LIST_HEAD(&vc->loaded);
		vc->vmxon_page = alloc_pages_node(cpu_to_node(cpu),
						  GFP_KERNEL | __GFP_ZERO, 0);
		if (!vc->vmxon_page)
			return -ENOMEM;
	}
	return 0;
}

static int __init vmx_init(void)
{
	int r;

	r = vmx_probe();
	if (r)
		return r;
	r = vmx_alloc_pages();
	if (r)
		goto err;
	r = vmx_setup_mitigations();
	if (r)
		goto err;
	vmx_ops.tsc_aux_native = vcfg.have_rdtscp;
	if (!vcfg.have_msr_bitmaps)
		vmx_ops.set_spec_ctrl_intercept = NULL;
	r = nkvm_x86_register(&vmx_ops);
	if (r)
		goto err;
	hv_tlb_flush = nkvm_mmu_hv_flush_usable();
	pr_info("VMX with EPT, VPID and unrestricted guest%s\n",
		hv_tlb_flush ? "; Hyper-V guest-mapping flush available" : "");
	return 0;
err:
	vmx_free_mitigations();
	vmx_free_pages();
	return r;
}

static void __exit vmx_exit(void)
{
	nkvm_x86_unregister();
	vmx_free_mitigations();
	vmx_free_pages();
}

module_init(vmx_init);
module_exit(vmx_exit);
