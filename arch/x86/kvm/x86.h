/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the interface between x86 common code and a vendor backend.
 *
 * A backend (svm/, vmx/) owns only hardware state: its control structure,
 * entry and exit, and the translation of hardware exits into the
 * vendor-neutral struct kvm_x86_exit below.  Everything with guest-visible
 * semantics (port I/O, HLT, CPUID, MSRs, guest-physical faults) is handled
 * once, in x86.c, for both vendors.
 */
#ifndef _NKVM_X86_H
#define _NKVM_X86_H

#include <nkvm/kvm_host.h>

/* What a backend reports after an exit, once it has handled its own part. */
enum kvm_x86_exit_reason {
	X86_EXIT_NONE,		/* handled by the backend: enter again */
	X86_EXIT_IO,
	X86_EXIT_HLT,
	X86_EXIT_CPUID,
	X86_EXIT_RDMSR,
	X86_EXIT_WRMSR,
	X86_EXIT_XSETBV,
	X86_EXIT_HYPERCALL,	/* VMMCALL / VMCALL */
	X86_EXIT_UD,		/* #UD: maybe the other vendor's hypercall */
	X86_EXIT_CR_WRITE,	/* MOV to a control register, CLTS, LMSW */
	X86_EXIT_CR_READ,	/* MOV from a control register, SMSW */
	X86_EXIT_NPF,		/* guest-physical access not mapped */
	X86_EXIT_SHUTDOWN,	/* triple fault */
	X86_EXIT_DEBUG,		/* a #DB or #BP for the debugger */
	X86_EXIT_RDPMC,
	X86_EXIT_FAIL_ENTRY,	/* hardware refused the guest state */
	X86_EXIT_UNHANDLED,	/* an exit nkvm does not handle */
	X86_EXIT_MONITOR_MWAIT,	/* MONITOR or MWAIT (next_rip) */
	X86_EXIT_DECODE_FAILED,	/* the instruction at RIP is not the exit's */
	X86_EXIT_RSM,		/* RSM (emulated: the CPU is never in SMM) */
};

/*
 * The error code of a guest-physical fault: #PF's bits (write: 1, fetch:
 * 4), and AMD's bit 32, which VMX's exit qualification gives too: the
 * fault is on the final translation of a guest linear address, not on an
 * access of the guest's page walk (so the GPA is that of the access).
 */
#define KVM_NPF_WRITE		BIT_ULL(1)
#define KVM_NPF_FETCH		BIT_ULL(4)
#define KVM_NPF_FINAL		BIT_ULL(32)

struct kvm_x86_exit {
	u32 reason;
	/* RIP of the next instruction, for exits that complete one. */
	u64 next_rip;
	union {
		struct {
			u16 port;
			u8 size;	/* 1, 2 or 4 */
			bool in;
			bool string;
			bool rep;
		} io;
		struct {
			u32 index;
		} msr;
		struct {
			u64 gpa;
			u64 error_code;	/* #PF error code bits, KVM_NPF_* */
		} npf;
		struct {
			u8 cr;
			s8 gpr;		/* source register, -1: decode it */
		} cr;
		struct {
			u64 hw_reason;	/* the vendor's exit code */
			u64 info[2];
		} hw;
		struct {
			u32 exception;	/* 1 (#DB) or 3 (#BP) */
			u64 pc;		/* linear address */
			u64 dr6;
			u64 dr7;
		} debug;
	};
};

/* The page-table entry bits of the vendor's two-dimensional paging. */
struct kvm_tdp_format {
	u64 present_mask;	/* any of these set: the entry is present */
	u64 table_bits;		/* bits of an entry pointing to a table */
	u64 leaf_bits;		/* bits of a writable 4 KiB leaf mapping RAM */
	u64 writable_mask;	/* the write permission of a leaf */
	u64 huge_mask;		/* a leaf above 4 KiB (2 MiB, 1 GiB) */
	u64 nx_mask;		/* set in a leaf the guest may not execute */
	u64 exec_mask;		/* cleared in such a leaf */
};

struct nkvm_floor;

/* Segment registers for get_segment(): the x86 encoding order, then TR. */
enum {
	KVM_SEG_ES, KVM_SEG_CS, KVM_SEG_SS, KVM_SEG_DS, KVM_SEG_FS, KVM_SEG_GS,
	KVM_SEG_TR,
};

/*
 * What emulating an instruction needs first of the special registers (the
 * mode, the CPL, the paging state), as KVM_GET_SREGS has them.
 */
struct kvm_emul_sregs {
	u64 cr0, cr3, cr4, efer;
	struct kvm_segment cs, ss;
};

struct kvm_x86_ops {
	const char *name;
	struct module *owner;
	size_t vm_size;			/* sizeof the backend's VM */
	size_t vcpu_size;		/* sizeof the backend's vCPU */
	const struct kvm_tdp_format *tdp;
	const u8 *hypercall_insn;	/* VMMCALL or VMCALL: 3 bytes */

	int (*cpu_enable)(void);	/* on the CPU being enabled */
	void (*cpu_disable)(void);
	void (*emergency_disable)(void);	/* NMI-safe, on crash */

	int (*vcpu_create)(struct kvm_vcpu *vcpu);
	void (*vcpu_free)(struct kvm_vcpu *vcpu);
	void (*vcpu_reset)(struct kvm_vcpu *vcpu);
	void (*vcpu_load)(struct kvm_vcpu *vcpu, int cpu);
	void (*vcpu_put)(struct kvm_vcpu *vcpu);

	void (*get_sregs)(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
	int (*set_sregs)(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs);
	/* Parts of get_sregs, for the instruction emulator. */
	void (*get_emul_sregs)(struct kvm_vcpu *vcpu, struct kvm_emul_sregs *s);
	void (*get_segment)(struct kvm_vcpu *vcpu, int seg,
			    struct kvm_segment *var);	/* KVM_SEG_* */
	/* Returns 0, or 1 if the value is not allowed (#GP for a guest). */
	int (*set_efer)(struct kvm_vcpu *vcpu, u64 efer, bool host);
	int (*get_cpl)(struct kvm_vcpu *vcpu);
	/* Load a checked CR0 or CR4 value (x86.c did the checks). */
	void (*set_cr)(struct kvm_vcpu *vcpu, int cr, u64 val);
	/* MSRs the hardware holds for the guest; -ENOENT if not one. */
	int (*get_msr)(struct kvm_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct kvm_vcpu *vcpu, u32 index, u64 data);
	/* Optional: the guest's CPUID changed (cpuid.c, step 3). */
	void (*vcpu_after_set_cpuid)(struct kvm_vcpu *vcpu);
	/* The PMU comes from CPUID leaf 0xA (Intel) rather than always. */
	bool pmu_from_cpuid_0xa;
	/* KVM_STATE_NESTED_FORMAT_SVM or _VMX: the vendor's nested state. */
	u16 nested_state_format;
	/*
	 * The guest runs RDTSCP (when its CPUID offers it) and RDPID without
	 * exits, reading the TSC_AUX that common code loads for it.
	 */
	bool tsc_aux_native;
	/* KVM_CAP_VM_{MOVE,COPY}_ENC_CONTEXT_FROM answer as SEV's do (SVM). */
	bool sev_enc_context;

	/*
	 * Events.  Common code decides what to inject (x86.c,
	 * kvm_inject_events()); the backend delivers it at the next entry
	 * and reports an interrupted delivery with kvm_requeue_event().
	 */
	void (*inject_exception)(struct kvm_vcpu *vcpu);
	void (*inject_nmi)(struct kvm_vcpu *vcpu);
	void (*inject_irq)(struct kvm_vcpu *vcpu);
	bool (*interrupt_allowed)(struct kvm_vcpu *vcpu);
	bool (*nmi_allowed)(struct kvm_vcpu *vcpu);
	void (*enable_irq_window)(struct kvm_vcpu *vcpu);
	void (*enable_nmi_window)(struct kvm_vcpu *vcpu);
	u32 (*get_interrupt_shadow)(struct kvm_vcpu *vcpu);
	void (*set_interrupt_shadow)(struct kvm_vcpu *vcpu, u32 shadow);

	/* Enter the guest; interrupts are off, requests already serviced. */
	void (*run)(struct kvm_vcpu *vcpu);
	/* After interrupts are on again: classify the exit. */
	void (*handle_exit)(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit);
	/* Make the next entry use a clean TLB for this vCPU. */
	void (*flush_tlb)(struct kvm_vcpu *vcpu);
	/*
	 * The backend's roots may be flushed with Hyper-V's guest-mapping
	 * flush hypercall when nkvm runs under Hyper-V (EPT roots; NPT roots
	 * would need the VMCB's Hyper-V enlightenments, which SVM lacks).
	 */
	bool hv_guest_mapping_flush;
	/*
	 * Optional: make the guest's CR8 writes exit (X86_EXIT_CR_WRITE) or
	 * not, before each entry.  They do, as on Linux, always with the APIC
	 * in userspace (a lowered TPR is reported, KVM_EXIT_SET_TPR) and,
	 * with an in-kernel APIC, while the TPR holds back a requested
	 * interrupt, so that a guest lowering CR8 gets it at once.
	 */
	void (*update_cr8_intercept)(struct kvm_vcpu *vcpu, bool intercept);
	/*
	 * Optional: let the guest read and write IA32_SPEC_CTRL without exits
	 * (intercept false) or not.  A backend with it loads vcpu->arch.
	 * spec_ctrl around each entry and, while it is passed through, reads
	 * the guest's value back after each exit (spec.c).
	 */
	void (*set_spec_ctrl_intercept)(struct kvm_vcpu *vcpu, bool intercept);
	/*
	 * AMD's MSR_AMD64_VIRT_SPEC_CTRL (SVM only): userspace may save and
	 * restore vcpu->arch.virt_spec_ctrl, the guest may use it where its
	 * CPUID has VIRT_SSBD, and the backend switches the host's SSBD to
	 * the guest's around each entry (spec.c).
	 */
	bool virt_spec_ctrl;
	/* Optional, debug: KVM_NKVM_FLOOR's bare entry loop (floor.c). */
	int (*floor)(struct kvm_vcpu *vcpu, struct nkvm_floor *f);

	/*
	 * Nested virtualization (SVM only: svm/nested.c).  nested_svm: the
	 * guest's CPUID may offer SVM (KVM_GET_SUPPORTED_CPUID does), and
	 * then EFER.SVME.  Optional hooks: before event injection, turn an
	 * event L1 intercepts into an exit to L1; a triple fault userspace
	 * queued, true if it went to L1 as an exit; the nested state ioctls.
	 */
	bool nested_svm;
	void (*check_nested_events)(struct kvm_vcpu *vcpu);
	/*
	 * Optional: what L1 adds to its own TSC for L2 while the vCPU runs
	 * L2 (0 otherwise), so that the guest's RDMSR of IA32_TSC there reads
	 * L2's TSC.  Userspace and every other user of the TSC see L1's.
	 */
	u64 (*nested_tsc_offset)(struct kvm_vcpu *vcpu);
	/*
	 * Optional: may an interrupt the APIC holds end a HLT now (default:
	 * the guest's IF)?  SVM: GIF, and in L2 the IF that gates L1's
	 * interrupts (L1's with V_INTR_MASKING).
	 */
	bool (*interrupt_wakes)(struct kvm_vcpu *vcpu);
	bool (*nested_triple_fault)(struct kvm_vcpu *vcpu);
	/*
	 * System Management Mode (smm.c).  smm: KVM_CAP_X86_SMM is offered
	 * (the backend makes RSM exit, X86_EXIT_RSM or as a #UD).  Optional
	 * hooks: may an SMI be taken now (besides common code's rules); the
	 * backend's part of entering SMM, after the map @smstate was filled
	 * and before the vCPU's state changes, and of RSM, before the map's
	 * state is loaded (non-zero: the vCPU shuts down); userspace moving
	 * the vCPU in or out of SMM (KVM_SET_VCPU_EVENTS).
	 */
	bool smm;
	bool (*smi_allowed)(struct kvm_vcpu *vcpu);
	void (*enter_smm)(struct kvm_vcpu *vcpu, u8 *smstate);
	int (*leave_smm)(struct kvm_vcpu *vcpu, const u8 *smstate);
	void (*smm_leave_nested)(struct kvm_vcpu *vcpu);
	int (*get_nested_state)(struct kvm_vcpu *vcpu,
				struct kvm_nested_state __user *ustate);
	int (*set_nested_state)(struct kvm_vcpu *vcpu,
				const struct kvm_nested_state *st,
				const void __user *data);
};

extern const struct kvm_x86_ops *kvm_x86_ops;

/*
 * SMM is offered (KVM_CAP_X86_SMM, KVM_SMI, SMIs taken) where the backend
 * has it, unless kvm.smm=0 (see design.rst).
 */
extern bool kvm_smm_param;
static inline bool kvm_smm_supported(void)
{
	return kvm_smm_param && kvm_x86_ops->smm;
}

int nkvm_x86_register(const struct kvm_x86_ops *ops);

/* floor.c */
bool nkvm_floor_available(void);
long nkvm_floor_ioctl(struct kvm_vcpu *vcpu, void __user *argp);
void nkvm_x86_unregister(void);

static inline u64 kvm_reg_read(struct kvm_vcpu *vcpu, enum kvm_reg reg)
{
	return vcpu->arch.regs[reg];
}

static inline void kvm_reg_write(struct kvm_vcpu *vcpu, enum kvm_reg reg,
				 u64 val)
{
	vcpu->arch.regs[reg] = val;
}

void nkvm_queue_exception(struct kvm_vcpu *vcpu, u8 vector, bool has_error,
			  u32 error_code);
/* nkvm completed an instruction for the guest: move past it. */
void nkvm_skip_insn(struct kvm_vcpu *vcpu, u64 next_rip);

/* An event whose delivery an exit interrupted: deliver it again. */
enum kvm_event_type {
	KVM_EVENT_EXCEPTION,
	KVM_EVENT_NMI,
	KVM_EVENT_IRQ,
	KVM_EVENT_SOFT_IRQ,
};
/*
 * Built with KCFLAGS=-DNKVM_TRACE_EVENTS, the event injection paths write
 * what they inject, re-inject and requeue to the kernel's trace buffer
 * (trace_printk; test_qemu_boot shows it after a hang).
 */
#ifdef NKVM_TRACE_EVENTS
#define nkvm_trace_ev(fmt, ...) trace_printk(fmt, ##__VA_ARGS__)
#else
#define nkvm_trace_ev(fmt, ...) do { } while (0)
#endif
void nkvm_requeue_event(struct kvm_vcpu *vcpu, enum kvm_event_type type,
			u8 vector, bool has_error, u32 error_code);

/* Is the debugger using hardware breakpoints (its DR7, not the guest's)? */
static inline bool kvm_debugger_owns_drs(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.guest_debug & KVM_GUESTDBG_USE_HW_BP;
}

static inline bool kvm_has_quirk(struct kvm *kvm, u64 quirk)
{
	return !(kvm->arch.disabled_quirks & quirk);
}

u64 kvm_host_cr4_reserved_bits(void);

/* msr.c */
int kvm_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host);
int kvm_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host);
void kvm_msr_reset(struct kvm_vcpu *vcpu);
u64 kvm_read_guest_tsc(struct kvm_vcpu *vcpu);
int kvm_dev_ioctl_get_msr_index_list(struct kvm_msr_list __user *ulist,
				     bool features);
int kvm_dev_ioctl_get_feature_msrs(struct kvm_msrs __user *umsrs);
void kvm_host_set_tsc(struct kvm_vcpu *vcpu, u64 data);
int kvm_set_apic_base_host(struct kvm_vcpu *vcpu, u64 data);
bool kvm_msr_known(struct kvm_vcpu *vcpu, u32 index);
void kvm_mce_init(struct kvm_vcpu *vcpu);
int kvm_dev_ioctl_get_mce_cap(u64 __user *ucap);
int kvm_vcpu_setup_mce(struct kvm_vcpu *vcpu, u64 cap);
int kvm_vcpu_set_mce(struct kvm_vcpu *vcpu, const struct kvm_x86_mce *mce);
bool kvm_msr_allowed(struct kvm_vcpu *vcpu, u32 index, u32 type);
int kvm_vm_ioctl_set_msr_filter(struct kvm *kvm, void __user *argp);
void kvm_msr_filter_free(struct kvm *kvm);
int kvm_vcpu_ioctl_msrs(struct kvm_vcpu *vcpu, struct kvm_msrs __user *umsrs,
			bool set);

/* spec.c: speculative-execution mitigations both backends share */
enum {
	NKVM_FORCE_IBPB,		/* IBPB on a switch of vCPU */
	NKVM_FORCE_VERW,		/* VERW before each entry (VMX) */
	NKVM_FORCE_L1D_FLUSH,		/* act as if the CPU had L1TF (VMX) */
	NKVM_FORCE_RSB,			/* stuff the RSB after each exit (VMX) */
};
extern unsigned int nkvm_forced_mitigations;
static inline bool nkvm_mitigation_forced(int which)
{
	return nkvm_forced_mitigations & BIT(which);
}
void nkvm_vcpu_switch_ibpb(struct kvm_vcpu *vcpu, int cpu);
void nkvm_vcpu_forget_ibpb(struct kvm_vcpu *vcpu);
bool nkvm_l1tf_flush_wanted(struct kvm_vcpu *vcpu);
u32 nkvm_spec_cpuid_7_edx(void);
u32 nkvm_spec_cpuid_8000_0008_ebx(void);
u64 nkvm_arch_capabilities(void);
bool nkvm_guest_has_pred_cmd(struct kvm_vcpu *vcpu);
int nkvm_get_spec_ctrl(struct kvm_vcpu *vcpu, u64 *data, bool host);
int nkvm_set_spec_ctrl(struct kvm_vcpu *vcpu, u64 data, bool host);
void nkvm_spec_ctrl_update_intercept(struct kvm_vcpu *vcpu);
int nkvm_get_virt_spec_ctrl(struct kvm_vcpu *vcpu, u64 *data, bool host);
int nkvm_set_virt_spec_ctrl(struct kvm_vcpu *vcpu, u64 data, bool host);

/* kvmclock.c */
#define KVM_CLOCK_VALID_FLAGS	(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | \
				 KVM_CLOCK_HOST_TSC)
void kvm_clock_scale(u64 tsc_hz, u32 *mul, s8 *shift);
void kvm_kvmclock_module_init(void);
void kvm_kvmclock_module_exit(void);
void kvm_kvmclock_vm_init(struct kvm *kvm);
u64 kvm_get_kvmclock_ns(struct kvm *kvm);
void kvm_kvmclock_update(struct kvm_vcpu *vcpu);
int kvm_kvmclock_ctrl(struct kvm_vcpu *vcpu);
int kvm_write_wall_clock(struct kvm_vcpu *vcpu, u64 gpa);
int kvm_vm_ioctl_get_clock(struct kvm *kvm, struct kvm_clock_data __user *argp);
int kvm_vm_ioctl_set_clock(struct kvm *kvm, struct kvm_clock_data __user *argp);

/* mmio.c: the instruction emulator for MMIO and string I/O */
int kvm_emul_vcpu_init(struct kvm_vcpu *vcpu);
void kvm_emul_vcpu_free(struct kvm_vcpu *vcpu);
int kvm_emulate_instruction(struct kvm_vcpu *vcpu);
int kvm_emulate_mmio_fault(struct kvm_vcpu *vcpu, u64 gpa, u64 error_code,
			   bool no_slot);
bool kvm_emulation_pending(struct kvm_vcpu *vcpu);
int kvm_complete_emulation(struct kvm_vcpu *vcpu);
int kvm_translate(struct kvm_vcpu *vcpu, struct kvm_translation *tr);

/* A control register access at RIP, as kvm_decode_cr_insn() found it. */
enum kvm_cr_insn_kind {
	KVM_CR_MOV_TO,		/* MOV to CRn from a register */
	KVM_CR_MOV_FROM,	/* MOV from CRn to a register */
	KVM_CR_CLTS,
	KVM_CR_LMSW,		/* with a register operand */
	KVM_CR_SMSW,		/* with a register operand */
	KVM_CR_LMSW_MEM,	/* with a memory operand: for the emulator */
	KVM_CR_SMSW_MEM,	/* with a memory operand: for the emulator */
};

struct kvm_cr_insn {
	u8 kind;
	u8 cr;
	s8 gpr;
	u8 len;			/* bytes, prefixes included */
	u8 size;		/* MOV from CR and SMSW: the register's bytes */
};

int kvm_decode_cr_insn(struct kvm_vcpu *vcpu, struct kvm_cr_insn *ci);
int kvm_set_cr0(struct kvm_vcpu *vcpu, u64 cr0);
bool kvm_sregs_valid(struct kvm_vcpu *vcpu, const struct kvm_sregs *s);
int kvm_insn_len_at_rip(struct kvm_vcpu *vcpu, const u8 *op, unsigned int n,
			unsigned int *len);

/* mmu/mmu.c: the guest-physical map */
int kvm_mmu_module_init(void);
void kvm_mmu_module_exit(void);
int kvm_mmu_init_vm(struct kvm *kvm);
/* Remote flushes go through Hyper-V's guest-mapping flush hypercall. */
bool nkvm_mmu_hv_flush_usable(void);
void kvm_mmu_pre_destroy_vm(struct kvm *kvm);
void kvm_mmu_destroy_vm(struct kvm *kvm);
void kvm_mmu_destroy_vcpu(struct kvm_vcpu *vcpu);
void kvm_mmu_zap_all(struct kvm *kvm);
long kvm_mmu_vm_ioctl(struct kvm *kvm, unsigned int ioctl, unsigned long arg);
/* KVM_ENABLE_CAP(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES), kvm->lock held. */
int kvm_mmu_disable_nx_huge_pages(struct kvm *kvm, u64 arg);
int kvm_mmu_prepare_memory_region(struct kvm *kvm,
				  const struct kvm_memory_slot *old,
				  struct kvm_memory_slot *new,
				  enum kvm_mr_change change);
void kvm_mmu_commit_memory_region(struct kvm *kvm,
				  const struct kvm_memory_slot *old,
				  const struct kvm_memory_slot *new,
				  enum kvm_mr_change change);

/*
 * The MMU's counters and gauges, for the binary stats; the vCPUs count
 * their faults in vcpu->arch.mmu.faults.
 */
struct kvm_mmu_stats {
	u64 pages;		/* table pages in the map, roots included */
	u64 pages_4k;		/* present mappings by size */
	u64 pages_2m;
	u64 pages_1g;
	u64 pages_created;
	u64 pages_zapped;	/* for any reason */
	u64 pages_recycled;	/* zapped because the budget was spent */
	u64 pages_shrunk;	/* zapped by the shrinker */
	u64 nx_lpage_splits;	/* tables made for fetches (NX huge pages) */
};
void kvm_mmu_read_stats(struct kvm *kvm, struct kvm_mmu_stats *st);

/* Load a root for the vCPU (before entering the guest). 0 or an errno. */
int kvm_mmu_load(struct kvm_vcpu *vcpu);

static inline int kvm_mmu_reload(struct kvm_vcpu *vcpu)
{
	if (likely(vcpu->arch.mmu.root &&
		   !test_bit(KVM_REQ_MMU_RELOAD, &vcpu->requests)))
		return 0;
	return kvm_mmu_load(vcpu);
}

/* Results of kvm_mmu_page_fault() besides negative errnos. */
enum kvm_mmu_fault_result {
	KVM_MMU_FIXED = 1,	/* mapped, or to retry: enter the guest again */
	KVM_MMU_MMIO,		/* no memslot there: an MMIO access */
	KVM_MMU_RO_WRITE,	/* a write to a read-only memslot: MMIO too */
};

/*
 * A guest-physical fault at @gpa, @error_code in #PF bits.  -ENOSPC when
 * the page budget cannot hold the walk, -EFAULT when the host has no
 * memory at the slot's address.
 */
int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code);

#endif /* _NKVM_X86_H */
