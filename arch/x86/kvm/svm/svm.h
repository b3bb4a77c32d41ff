/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: what svm.c and nested.c share: the SVM vCPU and the nested-SVM
 * entry points.
 */
#ifndef _NKVM_SVM_SVM_H
#define _NKVM_SVM_SVM_H

#include "../x86.h"
#include "vmcb.h"

/*
 * Nested SVM (nested.c): the guest (L1) runs its own guest (L2) with
 * VMRUN.  L1's VMCB is "vmcb12", in L1's memory; nkvm runs L2 on its own
 * vmcb02, built from vmcb12's save area and nkvm's intercepts merged with
 * L1's, while L1's state waits in vmcb01.  No nested paging is offered, so
 * L2's physical addresses are L1's and vmcb02 uses the vCPU's NPT root.
 */
struct svm_nested {
	struct vmcb *vmcb02;
	u64 vmcb02_pa;
	struct vmcb *scratch;		/* a copy of a guest VMCB page */
	u64 hsave_pa;			/* MSR_VM_HSAVE_PA */
	u64 vm_cr;			/* MSR_VM_CR */
	u64 vmcb12_gpa;
	/* vmcb12's control area, as VMRUN read it (L1's intercepts...). */
	struct vmcb_control ctl;
	bool guest_mode;		/* L2 runs (vmcb02 is current) */
	bool run_pending;		/* VMRUN emulated, L2 not entered yet */
	bool l0_vintr;			/* this entry's V_IRQ is nkvm's window */
	/*
	 * L1's MSR permission map as a VMRUN of vmcb12 @msrpm12_vmcb read it
	 * from @msrpm12_base, while L1 uses Hyper-V's enlightened MSR bitmap
	 * (svm_nested_load_msrpm()); without it, exits read L1's memory.
	 */
	u8 *msrpm12;
	bool msrpm12_valid;
	u64 msrpm12_vmcb;
	u64 msrpm12_base;
};

struct vcpu_svm {
	struct kvm_vcpu vcpu;		/* must be first: the core allocates us */
	struct vmcb *vmcb;		/* the current VMCB: vmcb01 or vmcb02 */
	u64 vmcb_pa;
	struct vmcb *vmcb01;		/* the vCPU's own (L1's) VMCB */
	u64 vmcb01_pa;
	unsigned long *msrpm;		/* MSR permission map (L1's) */
	u64 asid_generation;		/* 0: needs a new ASID */
	int last_cpu;			/* where the ASID was assigned */
	u64 iret_rip;			/* an NMI handler's IRET, not yet run */
	bool awaiting_iret;
	bool irq_window;		/* open the interrupt window this entry */
	bool nmi_singlestep;		/* stepping over an NMI handler's IRET */
	bool gif;			/* the guest's global interrupt flag */
	bool vmrun_unchecked;		/* state no VMRUN has taken yet (TCG) */
	u64 nmi_singlestep_tf;		/* the guest's own TF and RF then */
	u32 sysenter_esp_hi;		/* SYSENTER upper halves, Intel guests */
	u32 sysenter_eip_hi;
	u32 guest_pkru;
	u32 host_pkru;
	struct svm_nested nested;
};

static inline struct vcpu_svm *to_svm(struct kvm_vcpu *vcpu)
{
	return container_of(vcpu, struct vcpu_svm, vcpu);
}

static inline bool svm_guest_mode(struct vcpu_svm *svm)
{
	return svm->nested.guest_mode;
}

/* svm.c */
extern int nested;
void svm_load_cr0(struct vcpu_svm *svm, u64 cr0);
u64 svm_msrpm_all_pa(void);
void svm_copy_vmrun_segs(struct vmcb_save *to, const struct vmcb_save *from);

/* nested.c */
int svm_nested_vcpu_create(struct vcpu_svm *svm);
void svm_nested_vcpu_free(struct vcpu_svm *svm);
void svm_nested_leave(struct vcpu_svm *svm);
void svm_nested_reset(struct vcpu_svm *svm);
void svm_nested_vmrun(struct vcpu_svm *svm, u64 next_rip);
void svm_nested_vmload_vmsave(struct vcpu_svm *svm, bool load, u64 next_rip);
bool svm_nested_insn_check(struct vcpu_svm *svm);
bool svm_nested_reflect_exit(struct vcpu_svm *svm);
void svm_nested_vmexit(struct vcpu_svm *svm, u64 code, u64 info1, u64 info2);
void svm_nested_pre_run(struct vcpu_svm *svm);
void svm_nested_post_run(struct vcpu_svm *svm);
bool svm_nested_intr_blocked(struct vcpu_svm *svm);
void svm_nested_check_events(struct kvm_vcpu *vcpu);
bool svm_nested_triple_fault(struct kvm_vcpu *vcpu);
void svm_enter_smm(struct kvm_vcpu *vcpu, u8 *smstate);
int svm_leave_smm(struct kvm_vcpu *vcpu, const u8 *smstate);
void svm_smm_leave_nested(struct kvm_vcpu *vcpu);
int svm_nested_get_state(struct kvm_vcpu *vcpu,
			 struct kvm_nested_state __user *ustate);
int svm_nested_set_state(struct kvm_vcpu *vcpu,
			 const struct kvm_nested_state *st,
			 const void __user *data);
int svm_nested_get_msr(struct vcpu_svm *svm, u32 index, u64 *data);
int svm_nested_set_msr(struct vcpu_svm *svm, u32 index, u64 data);
u64 svm_nested_tsc_offset(struct kvm_vcpu *vcpu);

#endif /* _NKVM_SVM_SVM_H */
