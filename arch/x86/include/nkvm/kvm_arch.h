/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: x86 state embedded in the core's VM and vCPU objects.
 */
#ifndef _NKVM_X86_KVM_ARCH_H
#define _NKVM_X86_KVM_ARCH_H

#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <asm/fpu/types.h>
#include <uapi/linux/kvm.h>
#include <nkvm/cpuid_model.h>
#include <nkvm/stats.h>

enum kvm_reg {
	VCPU_REGS_RAX, VCPU_REGS_RCX, VCPU_REGS_RDX, VCPU_REGS_RBX,
	VCPU_REGS_RSP, VCPU_REGS_RBP, VCPU_REGS_RSI, VCPU_REGS_RDI,
	VCPU_REGS_R8, VCPU_REGS_R9, VCPU_REGS_R10, VCPU_REGS_R11,
	VCPU_REGS_R12, VCPU_REGS_R13, VCPU_REGS_R14, VCPU_REGS_R15,
	VCPU_REGS_RIP,
	NR_VCPU_REGS
};

/* The guest-physical map shared by NPT and EPT (arch/x86/kvm/mmu). */
struct kvm_tdp_mmu;
struct kvm_mmu_page;
struct tdp_cache;

/* A vCPU's side of the guest-physical map. */
struct kvm_mmu_vcpu {
	struct kvm_mmu_page *root;	/* the root it holds a reference on */
	u64 root_pa;			/* its table, for the backend */
	u64 hv_root;			/* root_pa as the Hyper-V flush tracker
					 * saw it (mmu.c, under flush_lock) */
	struct tdp_cache *cache;	/* pages for the next fault */
	u64 faults;			/* guest-physical faults taken */
};

/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 options x86 supports. */
#define KVM_DIRTY_LOG_MANUAL_CAPS	(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | \
					 KVM_DIRTY_LOG_INITIALLY_SET)

enum { KVM_PENDING_PIO, KVM_PENDING_MSR, KVM_PENDING_HV };

/* Machine-check banks a vCPU may have (KVM_CAP_MCE), Linux's number. */
#define NKVM_MAX_MCE_BANKS	32

struct kvm_msr_filter_state;
struct kvm_lapic;

/*
 * Hyper-V enlightenments (arch/x86/kvm/hyperv.c): the partition-wide
 * state.  The TSC page copy is what nkvm last wrote to the guest's page.
 */
struct kvm_hv_tsc_ref {
	u32 sequence;
	u32 reserved;
	u64 scale;
	s64 offset;
};

struct kvm_hv {
	struct mutex lock;		/* the partition-wide MSRs */
	u64 guest_os_id;
	u64 hypercall;
	u64 tsc_page_msr;		/* HV_X64_MSR_REFERENCE_TSC */
	u8 tsc_page_status;		/* KVM_HV_TSC_PAGE_* (hyperv.h) */
	struct kvm_hv_tsc_ref tsc_ref;
	u64 crash_param[5];
	u64 crash_ctl;
	u64 reenlightenment_control;
	u64 tsc_emulation_control;
	u64 tsc_emulation_status;
	/* The synthetic debugger's registers, kept for userspace. */
	u64 syndbg_control;
	u64 syndbg_status;
	u64 syndbg_send_page;
	u64 syndbg_recv_page;
	u64 syndbg_pending_page;
	u64 syndbg_options;
	bool vp_index_changed;		/* some VP index is not the vCPU's index */
};

/* The SynIC and synthetic timers' registers (state only, see hyperv.c). */
struct kvm_vcpu_hv_synic {
	bool active;			/* KVM_CAP_HYPERV_SYNIC(2) enabled */
	bool dont_zero_pages;		/* ... as SYNIC2 */
	u64 control;
	u64 version;
	u64 evt_page;			/* SIEFP */
	u64 msg_page;			/* SIMP */
	u64 sint[16];
};

struct kvm_vcpu_hv {
	bool enforce_cpuid;		/* KVM_CAP_HYPERV_ENFORCE_CPUID */
	bool vp_index_set;		/* else the vCPU's index in the VM */
	u32 vp_index;
	u64 vp_assist;			/* HV_X64_MSR_VP_ASSIST_PAGE */
	s64 runtime_offset;		/* HV_X64_MSR_VP_RUNTIME, 100 ns */
	struct kvm_vcpu_hv_synic synic;
	u64 stimer_config[4];
	u64 stimer_count[4];
	/* The exit the next entry reports (KVM_REQ_HV_EXIT). */
	struct kvm_hyperv_exit exit;
	bool exit_pending;		/* a KVM_EXIT_HYPERV is due */
	u32 system_event;		/* KVM_SYSTEM_EVENT_*, before it */
};
struct kvm_pic;
struct kvm_ioapic;
struct kvm_pit;

/*
 * Binary statistics (arch/x86/kvm/stats.c describes them).  The MMU's are
 * read from the MMU when the stats are read: kvm->stat keeps them at 0.
 */
struct kvm_vm_stat {
	struct nkvm_vm_stat_generic generic;
	u64 mmu_shadow_zapped;
	u64 mmu_recycled;
	u64 mmu_cache_miss;
	u64 pages_4k;
	u64 pages_2m;
	u64 pages_1g;
	u64 nx_lpage_splits;
	u64 nkvm_mmu_pages;
	u64 nkvm_mmu_shrunk;
};

/* pf_taken is vcpu->arch.mmu.faults, copied when the stats are read. */
struct kvm_vcpu_stat {
	struct nkvm_vcpu_stat_generic generic;
	u64 pf_taken;
	u64 exits;
	u64 io_exits;
	u64 mmio_exits;
	u64 signal_exits;
	u64 irq_window_exits;
	u64 nmi_window_exits;
	u64 halt_exits;
	u64 request_irq_exits;
	u64 irq_exits;
	u64 insn_emulation;
	u64 hypercalls;
};

struct kvm_arch {
	struct kvm_tdp_mmu *mmu;
	struct kvm_msr_filter_state __rcu *msr_filter;

	u64 disabled_quirks;		/* KVM_CAP_DISABLE_QUIRKS2 */
	bool guest_can_read_platform_info;	/* KVM_CAP_MSR_PLATFORM_INFO */
	u32 user_space_msr_mask;	/* KVM_CAP_X86_USER_SPACE_MSR */
	bool triple_fault_event;	/* KVM_CAP_X86_TRIPLE_FAULT_EVENT */
	u64 tss_addr;			/* KVM_SET_TSS_ADDR (unused by SVM) */
	u32 bsp_vcpu_id;		/* KVM_SET_BOOT_CPU_ID */
	u64 identity_map_addr;

	/* kvmclock (kvmclock.c) */
	s64 kvmclock_offset;
	u64 master_host_tsc;		/* one (TSC, ns) reading for all vCPUs */
	u64 master_ns;
	bool use_master_clock;
	u32 wall_clock_version;

	/* Keeps the TSCs of vCPUs written with the same value in step. */
	spinlock_t tsc_lock;
	bool tsc_write_valid;
	u64 last_tsc_write;
	u64 last_tsc_host;
	u64 last_tsc_offset;

	/* In-kernel interrupt controllers (lapic.c, ioapic.c, i8259.c, i8254.c) */
	u8 irqchip_mode;		/* NKVM_IRQCHIP_* (irq.h) */
	struct kvm_pic *vpic;
	struct kvm_ioapic *vioapic;
	struct kvm_pit *vpit;
	bool x2apic_format;		/* KVM_X2APIC_API_USE_32BIT_IDS */
	bool x2apic_broadcast_quirk_disabled;
	bool pmu_disabled;		/* KVM_CAP_PMU_CAPABILITY */
	struct kvm_pmu_event_filter __rcu *pmu_event_filter;
	u32 pmu_filter_gen;		/* bumped with each new filter */
	struct kvm_hv hyperv;		/* Hyper-V enlightenments (hyperv.c) */
};

/*
 * An exception for the guest: "pending" when queued by nkvm and not yet
 * delivered, "injected" when its delivery was under way at an exit and
 * must be completed on the next entry.
 */
struct kvm_queued_exception {
	bool pending;
	bool injected;
	bool has_error_code;
	u8 vector;
	u32 error_code;
	u64 cr2;		/* for a #PF nkvm raises (emulation) */
};

struct kvm_emul_state;
struct kvm_pmu;


struct kvm_vcpu_arch {
	/*
	 * General-purpose registers and RIP.  The backend copies RAX, RSP and
	 * RIP to and from its hardware structure around each entry.
	 */
	unsigned long regs[NR_VCPU_REGS];
	unsigned long rflags;

	/*
	 * Control and debug registers the guest may change without an exit:
	 * the backend copies them out after every exit and back before entry.
	 */
	u64 cr0;
	u64 cr4;
	u64 cr8;			/* the TPR: V_TPR on SVM */
	u64 efer;
	u64 dr6;
	u64 dr7;
	u64 xcr0;

	struct fpu_guest guest_fpu;

	/* Events for the guest (injected at the next entry, in this order). */
	struct kvm_queued_exception exception;
	struct {
		bool injected;
		bool soft;
		u8 nr;
	} interrupt;
	u8 nmi_pending;
	bool nmi_injected;
	bool nmi_masked;		/* between an NMI and its IRET */
	bool triple_fault_pending;	/* KVM_EXIT_SHUTDOWN before the next entry */
	/* System Management Mode (smm.c) */
	bool smm;			/* in SMM: address space 1 */
	bool smm_inside_nmi;		/* NMIs were masked when it entered */
	bool smi_pending;		/* latched, taken when allowed */
	u64 smbase;			/* MSR_IA32_SMBASE */
	bool has_run;			/* entered the guest at least once */
	/*
	 * L1TF, vmentry_l1d_flush=cond: since the last entry, this vCPU ran
	 * host code that may have brought other data into the L1D (see
	 * spec.c): flush it before the next entry.
	 */
	bool l1tf_flush_l1d;
	u32 mp_state;

	/*
	 * A port or MSR access userspace is handling (completed on KVM_RUN):
	 * "in" for a port read or an MSR read.
	 */
	struct {
		bool pending;
		u8 kind;		/* KVM_PENDING_PIO or KVM_PENDING_MSR */
		bool in;
		u8 size;
		u64 rip;		/* of the IN/OUT instruction */
		u64 next_rip;
	} pio;

	/* Guest debug registers while the guest owns the hardware ones. */
	unsigned long db[4];
	bool dr_guest_owned;

	/* KVM_SET_GUEST_DEBUG: the debugger's flags and breakpoints. */
	u32 guest_debug;
	u64 guest_debug_db[4];
	u64 guest_debug_dr7;

	u64 apic_base;
	struct kvm_lapic *apic;		/* the in-kernel local APIC, or NULL */
	int pending_ioapic_eoi;		/* KVM_EXIT_IOAPIC_EOI (split irqchip) */
	bool tpr_access_reporting;	/* KVM_TPR_ACCESS_REPORTING */
	u64 vapic_addr;			/* KVM_SET_VAPIC_ADDR, 0 if none */

	/* CPUID (cpuid.c) */
	struct kvm_cpuid_entry2 *cpuid_entries;
	int cpuid_nent;
	u64 cpuid_cr4;			/* CR4 the runtime bits were made for */
	struct kvm_cpuid_model_state model;
	bool has_pmu;
	struct kvm_pmu *pmu;		/* pmu.c */

	/* MSRs kept by common code (msr.c) */
	u64 tsc_offset;
	s64 tsc_adjust;
	u32 tsc_khz;
	u64 misc_enable;
	u64 ucode_rev;
	u64 platform_info;
	u64 hwcr;
	u64 tsc_aux;
	u64 pv_time;			/* MSR_KVM_SYSTEM_TIME(_NEW) */
	u32 pv_time_version;
	bool pv_time_stopped;		/* KVM_KVMCLOCK_CTRL, not yet told */
	u64 pv_wall_clock;		/* MSR_KVM_WALL_CLOCK(_NEW) */
	u64 steal_time_msr;		/* MSR_KVM_STEAL_TIME */
	u64 steal_last_run_delay;	/* the task's run delay, last update */
	u64 async_pf_en;		/* MSR_KVM_ASYNC_PF_EN (never sent) */
	u64 async_pf_int;		/* MSR_KVM_ASYNC_PF_INT */
	u64 pv_eoi_msr;			/* MSR_KVM_PV_EOI_EN */
	bool pv_eoi_pending;		/* the guest's PV EOI flag was set */
	bool pv_enforce;		/* KVM_CAP_ENFORCE_PV_FEATURE_CPUID */
	bool pv_unhalted;		/* KVM_HC_KICK_CPU: the next HLT ends */
	struct kvm_vcpu_hv hyperv;	/* Hyper-V enlightenments (hyperv.c) */

	/* PDPTRs userspace gave with KVM_SET_SREGS2, until the next entry. */
	u64 pdptrs[4];
	bool pdptrs_from_user;
	u64 misc_features_enables;
	u64 power_ctl;			/* MSR_IA32_POWER_CTL, only stored */
	u64 arch_capabilities;
	/*
	 * IA32_SPEC_CTRL as the guest set it, loaded around each entry by the
	 * backend's entry code.  spec_ctrl_written: it was once non-zero;
	 * spec_ctrl_passthrough: so the guest's accesses no longer exit (if
	 * the MSR filter allows) and the entry code reads the MSR back after
	 * each exit (spec.c).
	 */
	u64 spec_ctrl;
	bool spec_ctrl_written;
	bool spec_ctrl_passthrough;
	/* MSR_AMD64_VIRT_SPEC_CTRL (SVM): only its SSBD bit. */
	u64 virt_spec_ctrl;
	u64 mtrr_def_type;
	u64 mtrr_fixed[11];
	u64 mtrr_var[16];

	/* Machine-check banks (msr.c): MCi_CTL, _STATUS, _ADDR, _MISC. */
	u64 mcg_cap;			/* KVM_X86_SETUP_MCE */
	u64 mcg_status;
	u64 mcg_ctl;
	u64 mce_banks[NKVM_MAX_MCE_BANKS * 4];

	/* The instruction emulator's state (mmio.c). */
	struct kvm_emul_state *emul;

	struct kvm_mmu_vcpu mmu;
};

/* The memslots a vCPU sees: address space 1 in SMM. */
#define kvm_arch_vcpu_memslots_id(vcpu)	((vcpu)->arch.smm ? 1 : 0)

#endif /* _NKVM_X86_KVM_ARCH_H */
