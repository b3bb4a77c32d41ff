// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: nested SVM.  L1 runs L2 with VMRUN; nkvm emulates VMRUN, #VMEXIT,
 * VMLOAD, VMSAVE, STGI, CLGI and INVLPGA, and the global interrupt flag.
 *
 * vmcb01 holds L1's state while L2 runs on vmcb02.  Every exit from L2
 * comes to nkvm first: if L1 intercepts it, it is reflected (written into
 * vmcb12, L1 resumes after its VMRUN with GIF clear); otherwise nkvm
 * handles it for L2 as for any guest.  Each switch between L1 and L2
 * takes a new ASID, so that neither sees the other's translations.
 */
#define pr_fmt(fmt) "nkvm-svm: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/io.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>
#include <uapi/asm/svm.h>

#include "svm.h"
#include "../lapic.h"
#include "../irq.h"
#include "../hyperv.h"
#include "../cpuid.h"
#include "../smm.h"

#define SVM_MSRPM_SIZE		0x2000
/* The part of it with bits: three ranges of 8K MSRs, 2 bits each. */
#define SVM_MSRPM_USED		0x1800
#define SVM_IOPM_SIZE		0x3000

/* MSR_VM_CR */
#define VM_CR_LOCK		BIT_ULL(3)
#define VM_CR_VALID		0x1fULL

int svm_nested_vcpu_create(struct vcpu_svm *svm)
{
	struct page *v = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	struct page *s = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	u8 *map = kzalloc(SVM_MSRPM_USED, GFP_KERNEL_ACCOUNT);

	if (!v || !s || !map) {
		if (v)
			__free_page(v);
		if (s)
			__free_page(s);
		kfree(map);
		return -ENOMEM;
	}
	svm->nested.vmcb02 = page_address(v);
	svm->nested.vmcb02_pa = page_to_phys(v);
	svm->nested.scratch = page_address(s);
	svm->nested.msrpm12 = map;
	return 0;
}

void svm_nested_vcpu_free(struct vcpu_svm *svm)
{
	free_page((unsigned long)svm->nested.vmcb02);
	free_page((unsigned long)svm->nested.scratch);
	kfree(svm->nested.msrpm12);
}

/* ---- Checks ------------------------------------------------------------ */

static u64 svm_phys_limit(struct kvm_vcpu *vcpu)
{
	return BIT_ULL(vcpu->arch.model.maxphyaddr ?: 36);
}

static bool svm_legal_gpa(struct kvm_vcpu *vcpu, u64 gpa)
{
	return gpa < svm_phys_limit(vcpu);
}

static bool svm_bitmap_legal(struct kvm_vcpu *vcpu, u64 pa, u32 size)
{
	u64 base = pa & PAGE_MASK;

	return svm_legal_gpa(vcpu, base) && svm_legal_gpa(vcpu, base + size - 1);
}

/* VMRUN's consistency checks on a control area (APM 15.5.1). */
static bool svm_nested_controls_valid(struct kvm_vcpu *vcpu,
				      const struct vmcb_control *c)
{
	u32 type = c->event_inj & SVM_EVTINJ_TYPE_MASK;
	u8 vector = c->event_inj & SVM_EVTINJ_VEC_MASK;

	if (!(c->intercept_misc2 & INTERCEPT_VMRUN))
		return false;
	if (!c->asid)
		return false;
	/* Nested paging is not offered. */
	if (c->nested_ctl & NESTED_CTL_NP_ENABLE)
		return false;
	if (!svm_bitmap_legal(vcpu, c->msrpm_base_pa, SVM_MSRPM_SIZE) ||
	    !svm_bitmap_legal(vcpu, c->iopm_base_pa, SVM_IOPM_SIZE))
		return false;
	if (c->event_inj & SVM_EVTINJ_VALID) {
		if (type != SVM_EVTINJ_TYPE_INTR && type != SVM_EVTINJ_TYPE_NMI &&
		    type != SVM_EVTINJ_TYPE_EXEPT && type != SVM_EVTINJ_TYPE_SOFT)
			return false;
		if (type == SVM_EVTINJ_TYPE_EXEPT &&
		    (vector > 31 || vector == X86_TRAP_NMI))
			return false;
	}
	return true;
}

static bool svm_nested_save_valid(struct kvm_vcpu *vcpu,
				  const struct vmcb_save *s)
{
	u64 efer_ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NX | EFER_SVME |
		      EFER_FFXSR;

	if (!(s->efer & EFER_SVME) || (s->efer & ~efer_ok))
		return false;
	if ((!(s->cr0 & X86_CR0_CD) && (s->cr0 & X86_CR0_NW)) ||
	    (s->cr0 >> 32))
		return false;
	if ((s->dr6 >> 32) || (s->dr7 >> 32))
		return false;
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->cr0 & X86_CR0_PE) ||
		    !svm_legal_gpa(vcpu, s->cr3))
			return false;
		if ((s->cs.attrib & SVM_SEG_L) && (s->cs.attrib & SVM_SEG_DB))
			return false;
	}
	if (s->cr4 & (kvm_host_cr4_reserved_bits() |
		      vcpu->arch.model.cr4_reserved))
		return false;
	return true;
}

/*
 * VMRUN, VMLOAD, VMSAVE, STGI, CLGI, INVLPGA: #UD without EFER.SVME (or
 * without paging, as on Linux), #GP
 * outside ring 0.  Returns true if the instruction may go on.
 */
bool svm_nested_insn_check(struct vcpu_svm *svm)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;

	if (!(vcpu->arch.efer & EFER_SVME) || !(vcpu->arch.cr0 & X86_CR0_PG)) {
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return false;
	}
	if (svm->vmcb->save.cpl) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return false;
	}
	return true;
}

/* The VMCB address in RAX: page-aligned and inside the guest's space. */
static bool svm_rax_vmcb(struct vcpu_svm *svm, u64 *gpa)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);

	if (!(vcpu->arch.efer & EFER_LMA))
		rax = (u32)rax;
	if ((rax & ~PAGE_MASK) || !svm_legal_gpa(vcpu, rax)) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return false;
	}
	*gpa = rax;
	return true;
}

/* ---- VMLOAD / VMSAVE --------------------------------------------------- */

/* The state VMLOAD and VMSAVE move, and that VMRUN leaves alone. */
static void svm_copy_vmloadsave(struct vmcb_save *to,
				const struct vmcb_save *from)
{
	to->fs = from->fs;
	to->gs = from->gs;
	to->tr = from->tr;
	to->ldtr = from->ldtr;
	to->kernel_gs_base = from->kernel_gs_base;
	to->star = from->star;
	to->lstar = from->lstar;
	to->cstar = from->cstar;
	to->sfmask = from->sfmask;
	to->sysenter_cs = from->sysenter_cs;
	to->sysenter_esp = from->sysenter_esp;
	to->sysenter_eip = from->sysenter_eip;
}

void svm_nested_vmload_vmsave(struct vcpu_svm *svm, bool load, u64 next_rip)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	struct vmcb *buf = svm->nested.scratch;
	u64 gpa;

	if (!svm_nested_insn_check(svm) || !svm_rax_vmcb(svm, &gpa))
		return;
	if (nkvm_read_guest(vcpu->kvm, gpa, buf, PAGE_SIZE)) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return;
	}
	if (load) {
		svm_copy_vmloadsave(&svm->vmcb->save, &buf->save);
	} else {
		svm_copy_vmloadsave(&buf->save, &svm->vmcb->save);
		if (nkvm_write_guest(vcpu->kvm, gpa, buf, PAGE_SIZE)) {
			nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
			return;
		}
	}
	nkvm_skip_insn(vcpu, next_rip);
}

/* ---- Entering L2 ------------------------------------------------------- */

static void svm_switch_vmcb(struct vcpu_svm *svm, bool l2)
{
	svm->vmcb = l2 ? svm->nested.vmcb02 : svm->vmcb01;
	svm->vmcb_pa = l2 ? svm->nested.vmcb02_pa : svm->vmcb01_pa;
	svm->vmrun_unchecked = true;
	/* L1 and L2 never share translations: a new ASID each time. */
	svm->asid_generation = 0;
	svm->irq_window = false;
}

/*
 * vmcb02's control area: nkvm's own (vmcb01's, less the windows it opens
 * per entry) plus what L1 asked for in @ctl; the intercepts are merged again
 * before each entry (svm_nested_pre_run()).
 */
static void svm_nested_prepare_control(struct vcpu_svm *svm, bool inject)
{
	struct vmcb_control *c = &svm->nested.vmcb02->control;
	const struct vmcb_control *l1 = &svm->nested.ctl;

	*c = svm->vmcb01->control;
	c->intercept_misc1 &= ~(INTERCEPT_VINTR | INTERCEPT_IRET);
	/* L1's map may let IA32_SPEC_CTRL through: L2's exits for every MSR. */
	c->msrpm_base_pa = svm_msrpm_all_pa();
	c->exit_code = 0;
	c->exit_info_1 = 0;
	c->exit_info_2 = 0;
	c->exit_int_info = 0;
	c->exit_int_info_err = 0;
	c->tlb_ctl = TLB_CONTROL_DO_NOTHING;
	c->int_state = l1->int_state & SVM_INTERRUPT_SHADOW;
	c->int_vector = 0;
	c->virt_ext = 0;
	c->pause_filter_count = 0;
	c->pause_filter_thresh = 0;
	c->next_rip = 0;
	if (inject) {
		c->event_inj = l1->event_inj;
		c->event_inj_err = l1->event_inj_err;
	} else {
		c->event_inj = 0;
		c->event_inj_err = 0;
	}
}

/*
 * Switch to L2: vmcb02's save area is L2's state already (and the vCPU's
 * registers are L2's); vmcb01 holds L1's.
 */
static void svm_nested_enter(struct vcpu_svm *svm, bool inject)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;

	svm_nested_prepare_control(svm, inject);
	svm_switch_vmcb(svm, true);
	svm_load_cr0(svm, vcpu->arch.cr0);
	svm->vmcb->save.efer = vcpu->arch.efer | EFER_SVME;
	svm->nested.guest_mode = true;
	svm->gif = true;
	/* L1's pending exception or interrupt cannot be L2's. */
	vcpu->arch.exception.pending = false;
	vcpu->arch.exception.injected = false;
	vcpu->arch.interrupt.injected = false;
	vcpu->arch.nmi_injected = false;
}

/*
 * The registers VMRUN and #VMEXIT switch that the vCPU holds, into @s: RIP
 * is @rip, CR0 the guest's view (CD and NW as it wrote them).
 */
static void svm_vcpu_regs_to_save(struct vcpu_svm *svm, struct vmcb_save *s,
				  u64 rip)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;

	s->rip = rip;
	s->rsp = kvm_reg_read(vcpu, VCPU_REGS_RSP);
	s->rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);
	s->rflags = vcpu->arch.rflags;
	s->cr0 = vcpu->arch.cr0;
	s->cr4 = vcpu->arch.cr4;
	s->efer = vcpu->arch.efer;
	s->dr6 = vcpu->arch.dr6;
	s->dr7 = vcpu->arch.dr7;
}

static void svm_load_l2_from_vmcb12(struct vcpu_svm *svm,
				    const struct vmcb *v12)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	struct vmcb_save *s = &svm->nested.vmcb02->save;
	const struct vmcb_save *l2 = &v12->save;
	u64 efer = l2->efer;

	*s = svm->vmcb01->save;
	svm_copy_vmrun_segs(s, l2);
	s->cr3 = l2->cr3;
	s->cr2 = l2->cr2;
	s->cr4 = l2->cr4;
	s->cpl = l2->cpl;
	if ((efer & EFER_LME) && (l2->cr0 & X86_CR0_PG))
		efer |= EFER_LMA;
	else
		efer &= ~EFER_LMA;
	vcpu->arch.efer = efer;
	vcpu->arch.cr0 = l2->cr0;
	vcpu->arch.cr4 = l2->cr4;
	vcpu->arch.rflags = l2->rflags | X86_EFLAGS_FIXED;
	vcpu->arch.dr6 = l2->dr6;
	vcpu->arch.dr7 = l2->dr7;
	kvm_reg_write(vcpu, VCPU_REGS_RIP, l2->rip);
	kvm_reg_write(vcpu, VCPU_REGS_RSP, l2->rsp);
	kvm_reg_write(vcpu, VCPU_REGS_RAX, l2->rax);
}

/* Report a VMRUN that failed its checks: VMEXIT_INVALID in vmcb12. */
static void svm_vmrun_invalid(struct vcpu_svm *svm, struct vmcb *v12, u64 gpa)
{
	v12->control.exit_code = (u64)SVM_EXIT_ERR;
	v12->control.exit_info_1 = 0;
	v12->control.exit_info_2 = 0;
	if (nkvm_write_guest(svm->vcpu.kvm, gpa, v12, sizeof(v12->control)))
		nkvm_queue_exception(&svm->vcpu, X86_TRAP_GP, true, 0);
}

/*
 * Hyper-V's enlightened MSR bitmap (TLFS): an L1 offered it (Hyper-V's
 * interface and the nested leaf's bit) that turns it on in vmcb12 sets the
 * software clean bit to say that its MSR permission map has not changed
 * since its last VMRUN of that vmcb12.  nkvm then goes on deciding L2's MSR
 * exits from the copy it took at that VMRUN, as Linux keeps the map it
 * merged, and reads the map again on any other VMRUN.  Without the
 * enlightenment, every MSR exit reads L1's memory (svm_l1_wants_msr()).
 */
static void svm_nested_load_msrpm(struct vcpu_svm *svm, u64 vmcb12_gpa)
{
	struct svm_nested *n = &svm->nested;
	const struct vmcb_control *c = &n->ctl;
	u64 base = c->msrpm_base_pa & PAGE_MASK;

	if (!(c->intercept_misc1 & INTERCEPT_MSR_PROT) ||
	    !(c->hv_enlightenments & HV_VMCB_ENL_MSR_BITMAP) ||
	    !kvm_hv_nested_msr_bitmap(&svm->vcpu)) {
		n->msrpm12_valid = false;
		return;
	}
	if (n->msrpm12_valid && (c->clean & VMCB_CLEAN_HV_ENLIGHTENMENTS) &&
	    n->msrpm12_vmcb == vmcb12_gpa && n->msrpm12_base == base)
		return;
	/* Not in guest memory: exits read it (and find it intercepting). */
	n->msrpm12_valid = !nkvm_read_guest(svm->vcpu.kvm, base, n->msrpm12,
					    SVM_MSRPM_USED);
	n->msrpm12_vmcb = vmcb12_gpa;
	n->msrpm12_base = base;
}

void svm_nested_vmrun(struct vcpu_svm *svm, u64 next_rip)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	struct vmcb *v12 = svm->nested.scratch;
	u64 gpa;

	if (!svm_nested_insn_check(svm))
		return;
	/* No host save area set: #GP, as on Linux. */
	if (!svm->nested.hsave_pa) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return;
	}
	if (!svm_rax_vmcb(svm, &gpa))
		return;
	if (nkvm_read_guest(vcpu->kvm, gpa, v12, PAGE_SIZE)) {
		nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
		return;
	}
	nkvm_skip_insn(vcpu, next_rip);
	if (!svm_nested_controls_valid(vcpu, &v12->control) ||
	    !svm_nested_save_valid(vcpu, &v12->save)) {
		svm_vmrun_invalid(svm, v12, gpa);
		return;
	}

	svm->nested.vmcb12_gpa = gpa;
	svm->nested.ctl = v12->control;
	svm_nested_load_msrpm(svm, gpa);
	/* L1's state (what VMRUN saves) waits in vmcb01. */
	svm_vcpu_regs_to_save(svm, &svm->vmcb01->save, next_rip);
	svm_load_l2_from_vmcb12(svm, v12);
	svm_nested_enter(svm, true);
	svm->nested.run_pending = true;
}

/* ---- Leaving L2 -------------------------------------------------------- */

/* Back to vmcb01 and L1's state, as #VMEXIT leaves it. */
static void svm_nested_switch_to_l1(struct vcpu_svm *svm)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	struct vmcb_save *s = &svm->vmcb01->save;

	svm_copy_vmloadsave(s, &svm->nested.vmcb02->save);
	s->g_pat = svm->nested.vmcb02->save.g_pat;
	svm_switch_vmcb(svm, false);
	svm->nested.guest_mode = false;
	svm->nested.run_pending = false;

	kvm_reg_write(vcpu, VCPU_REGS_RIP, s->rip);
	kvm_reg_write(vcpu, VCPU_REGS_RSP, s->rsp);
	kvm_reg_write(vcpu, VCPU_REGS_RAX, s->rax);
	vcpu->arch.rflags = s->rflags | X86_EFLAGS_FIXED;
	/* LMA follows LME and paging (userspace may have said otherwise). */
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG))
		s->efer |= EFER_LMA;
	else
		s->efer &= ~EFER_LMA;
	vcpu->arch.efer = s->efer;
	vcpu->arch.cr4 = s->cr4;
	svm_load_cr0(svm, s->cr0);
	s->efer |= EFER_SVME;
	s->cpl = 0;
	vcpu->arch.dr6 = s->dr6;
	vcpu->arch.dr7 = DR7_RESET;	/* #VMEXIT disables breakpoints */
	svm->vmcb->control.int_state = 0;
	svm->vmcb->control.event_inj = 0;
	vcpu->arch.exception.pending = false;
	vcpu->arch.exception.injected = false;
	vcpu->arch.interrupt.injected = false;
	vcpu->arch.nmi_injected = false;
}

/* L2's state and the exit into vmcb12 (a page of L1's memory). */
static int svm_nested_write_vmcb12(struct vcpu_svm *svm, u64 code, u64 info1,
				   u64 info2)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	struct vmcb *v12 = svm->nested.scratch;
	const struct vmcb *v02 = svm->nested.vmcb02;
	struct vmcb_control *c = &v12->control;
	struct vmcb_save *s = &v12->save;
	u32 int_ctl;

	if (nkvm_read_guest(vcpu->kvm, svm->nested.vmcb12_gpa, v12, PAGE_SIZE))
		return -EFAULT;

	svm_copy_vmrun_segs(s, &v02->save);
	svm_vcpu_regs_to_save(svm, s, kvm_reg_read(vcpu, VCPU_REGS_RIP));
	s->cr3 = v02->save.cr3;
	s->cr2 = v02->save.cr2;
	s->cpl = v02->save.cpl;

	int_ctl = svm->nested.ctl.int_ctl;
	if (!(int_ctl & V_INTR_MASKING))
		int_ctl = (int_ctl & ~0xfU) | (vcpu->arch.cr8 & 0xf);
	c->int_ctl = int_ctl;
	c->int_vector = svm->nested.ctl.int_vector;
	c->int_state = v02->control.int_state & SVM_INTERRUPT_SHADOW;
	c->exit_code = code;
	c->exit_info_1 = info1;
	c->exit_info_2 = info2;
	c->exit_int_info = v02->control.exit_int_info;
	c->exit_int_info_err = v02->control.exit_int_info_err;
	c->event_inj = 0;
	c->event_inj_err = 0;
	c->next_rip = 0;

	return nkvm_write_guest(vcpu->kvm, svm->nested.vmcb12_gpa, v12,
				PAGE_SIZE) ? -EFAULT : 0;
}

/*
 * #VMEXIT to L1 with @code.  exit_int_info is vmcb02's: an event whose
 * delivery the exit interrupted now belongs to L1, not to nkvm.
 */
void svm_nested_vmexit(struct vcpu_svm *svm, u64 code, u64 info1, u64 info2)
{
	int r = svm_nested_write_vmcb12(svm, code, info1, info2);

	svm_nested_switch_to_l1(svm);
	svm->gif = false;
	svm->nested.vmcb12_gpa = 0;	/* what Linux reports from now on */
	/* vmcb12 vanished from under L1: that is L1's fault. */
	if (r)
		nkvm_queue_exception(&svm->vcpu, X86_TRAP_GP, true, 0);
}

/* RESET or INIT: back on vmcb01, whatever L2 was doing (it is gone). */
void svm_nested_reset(struct vcpu_svm *svm)
{
	if (svm_guest_mode(svm))
		svm_switch_vmcb(svm, false);
	svm->nested.guest_mode = false;
	svm->nested.run_pending = false;
	svm->gif = true;
	svm->nested.vm_cr = 0;
	svm->nested.hsave_pa = 0;
	svm->nested.vmcb12_gpa = -1ULL;	/* none yet, as Linux reports */
	svm->nested.msrpm12_valid = false;
}

/* Out of guest mode without a #VMEXIT: userspace, EFER.SVME off. */
void svm_nested_leave(struct vcpu_svm *svm)
{
	if (svm_guest_mode(svm)) {
		svm_nested_switch_to_l1(svm);
		svm->nested.vmcb12_gpa = -1ULL;
	}
	svm->gif = true;
}

/* ---- Exits from L2 ----------------------------------------------------- */

/* Does L1's permission map at @base intercept @bits bits from @bit? */
static bool svm_l1_bitmap(struct vcpu_svm *svm, u64 base, u64 bit, int bits)
{
	u8 buf[2] = {};
	u64 byte = bit / 8;
	int n = ((bit % 8) + bits + 7) / 8;

	if (nkvm_read_guest(svm->vcpu.kvm, (base & PAGE_MASK) + byte, buf, n))
		return true;
	return (((u16)buf[1] << 8 | buf[0]) >> (bit % 8)) & GENMASK(bits - 1, 0);
}

static bool svm_l1_wants_io(struct vcpu_svm *svm, u64 info1)
{
	u32 port = info1 >> SVM_IOIO_PORT_SHIFT;
	int size = (info1 & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;

	if (!(svm->nested.ctl.intercept_misc1 & INTERCEPT_IOIO_PROT))
		return false;
	return svm_l1_bitmap(svm, svm->nested.ctl.iopm_base_pa, port,
			     size ? size : 1);
}

static bool svm_l1_wants_msr(struct vcpu_svm *svm, u64 write)
{
	u32 msr = kvm_reg_read(&svm->vcpu, VCPU_REGS_RCX);
	u64 off, bit;

	if (!(svm->nested.ctl.intercept_misc1 & INTERCEPT_MSR_PROT))
		return false;
	if (msr < 0x2000)
		off = 0;
	else if (msr - 0xc0000000 < 0x2000)
		off = 0x800 * 8;
	else if (msr - 0xc0010000 < 0x2000)
		off = 0x1000 * 8;
	else
		return true;	/* outside the map: always intercepted */
	bit = off + (msr & 0x1fff) * 2 + !!write;
	if (svm->nested.msrpm12_valid)
		return (svm->nested.msrpm12[bit / 8] >> (bit % 8)) & 1;
	return svm_l1_bitmap(svm, svm->nested.ctl.msrpm_base_pa, bit, 1);
}

/* Does L1's control area intercept exit @code (codes 0-0xbf)? */
static bool svm_l1_intercepts(struct vcpu_svm *svm, u32 code)
{
	const u32 *words = (const u32 *)&svm->nested.ctl;

	if (code >= 0xc0)
		return false;
	return words[code / 32] & BIT(code % 32);
}

/*
 * An exit from L2: reflect it to L1 if L1 intercepts it (returns true),
 * else leave it to nkvm.
 */
bool svm_nested_reflect_exit(struct vcpu_svm *svm)
{
	struct vmcb_control *c = &svm->vmcb->control;
	u32 code = c->exit_code;
	u64 info1 = c->exit_info_1;
	bool reflect;

	switch (code) {
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI:
	case SVM_EXIT_NPF:
		/* The host's interrupts, and nkvm's own paging. */
		return false;
	case SVM_EXIT_ERR:
		/* vmcb02 did not pass the CPU's checks: L1's state did not. */
		reflect = true;
		break;
	case SVM_EXIT_VINTR:
		reflect = !svm->nested.l0_vintr &&
			  svm_l1_intercepts(svm, code);
		break;
	case SVM_EXIT_IOIO:
		reflect = svm_l1_wants_io(svm, info1);
		break;
	case SVM_EXIT_MSR:
		reflect = svm_l1_wants_msr(svm, info1);
		break;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_DB:
	case SVM_EXIT_EXCP_BASE + X86_TRAP_BP:
		/* The debugger's first. */
		if (svm->vcpu.arch.guest_debug || svm->nmi_singlestep)
			return false;
		reflect = svm_l1_intercepts(svm, code);
		break;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_MC:
		return false;
	case SVM_EXIT_CR0_SEL_WRITE:
		if (svm->nested.ctl.cr_write & BIT(0)) {
			code = SVM_EXIT_WRITE_CR0;
			reflect = true;
		} else {
			reflect = svm_l1_intercepts(svm, code);
		}
		break;
	default:
		reflect = svm_l1_intercepts(svm, code);
		break;
	}
	if (!reflect)
		return false;
	svm_nested_vmexit(svm, code == (u32)SVM_EXIT_ERR ? (u64)SVM_EXIT_ERR : code,
			  info1, c->exit_info_2);
	return true;
}

/* ---- Entry into L2 ----------------------------------------------------- */

/* Before each entry in guest mode: L1's intercepts and virtual interrupt. */
void svm_nested_pre_run(struct vcpu_svm *svm)
{
	struct vmcb_control *c = &svm->vmcb->control;
	const struct vmcb_control *l1 = &svm->nested.ctl;
	u32 v_bits = V_IRQ | V_IGN_TPR | (0xf << V_INTR_PRIO_SHIFT);

	c->cr_read |= l1->cr_read;
	c->cr_write |= l1->cr_write;
	c->dr_read |= l1->dr_read;
	c->dr_write |= l1->dr_write;
	c->exceptions |= l1->exceptions;
	c->intercept_misc1 |= l1->intercept_misc1;
	c->intercept_misc2 |= l1->intercept_misc2;
	c->tsc_offset += l1->tsc_offset;

	/* With V_INTR_MASKING, L2's TPR is its own, not L1's. */
	if (l1->int_ctl & V_INTR_MASKING)
		c->int_ctl = (c->int_ctl & ~0xfU) | (l1->int_ctl & 0xf);
	/*
	 * nkvm's interrupt window (a V_IRQ of its own) takes the place of
	 * L1's virtual interrupt for this entry; L1's comes back after it.
	 */
	svm->nested.l0_vintr = c->int_ctl & V_IRQ;
	if (!svm->nested.l0_vintr && (l1->int_ctl & V_IRQ)) {
		c->int_ctl = (c->int_ctl & ~v_bits) | (l1->int_ctl & v_bits);
		c->int_vector = l1->int_vector;
	} else {
		c->int_vector = 0;
	}
	svm->nested.run_pending = false;
}

/* After each exit in guest mode: what L2 did with L1's V_IRQ and V_TPR. */
void svm_nested_post_run(struct vcpu_svm *svm)
{
	struct vmcb_control *c = &svm->vmcb->control;
	struct vmcb_control *l1 = &svm->nested.ctl;

	if (l1->int_ctl & V_INTR_MASKING)
		l1->int_ctl = (l1->int_ctl & ~0xfU) | (c->int_ctl & 0xf);
	/* Taken by L2: the CPU cleared V_IRQ. */
	if (!svm->nested.l0_vintr && (l1->int_ctl & V_IRQ) &&
	    !(c->int_ctl & V_IRQ))
		l1->int_ctl &= ~V_IRQ;
}

/* ---- Events ------------------------------------------------------------ */

/*
 * In guest mode, may a physical interrupt of L1's be taken now (as an
 * exit to L1, or into L2)?  With V_INTR_MASKING, L1's IF decides, else
 * L2's; an exit to L1 is not held back by L2's interrupt shadow.
 */
bool svm_nested_intr_blocked(struct vcpu_svm *svm)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	u64 rflags = (svm->nested.ctl.int_ctl & V_INTR_MASKING) ?
		     svm->vmcb01->save.rflags : vcpu->arch.rflags;

	if (svm->nested.run_pending || !(rflags & X86_EFLAGS_IF))
		return true;
	if (svm->nested.ctl.intercept_misc1 & INTERCEPT_INTR)
		return false;
	return svm->vmcb->control.int_state & SVM_INTERRUPT_SHADOW;
}

/*
 * Before event injection, in guest mode: an exception, NMI or interrupt
 * that L1 intercepts becomes a #VMEXIT instead of an event for L2.
 */
void svm_nested_check_events(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct kvm_queued_exception *ex = &vcpu->arch.exception;
	const struct vmcb_control *l1 = &svm->nested.ctl;

	if (!svm_guest_mode(svm) || svm->nested.run_pending)
		return;

	if (ex->pending) {
		if (l1->exceptions & BIT(ex->vector)) {
			u64 info2 = ex->vector == X86_TRAP_PF ? ex->cr2 : 0;

			ex->pending = false;
			svm->vmcb->control.exit_int_info = 0;
			svm_nested_vmexit(svm, SVM_EXIT_EXCP_BASE + ex->vector,
					  ex->has_error_code ? ex->error_code : 0,
					  info2);
		}
		return;
	}
	/* New events wait for an interrupted delivery to complete. */
	if (ex->injected || vcpu->arch.nmi_injected ||
	    vcpu->arch.interrupt.injected)
		return;
	/* An SMI L1 intercepts: #VMEXIT, and L1 takes it once GIF is set. */
	if (vcpu->arch.smi_pending && !vcpu->arch.smm &&
	    (l1->intercept_misc1 & INTERCEPT_SMI)) {
		svm->vmcb->control.exit_int_info = 0;
		svm_nested_vmexit(svm, SVM_EXIT_SMI, 0, 0);
		return;
	}
	if (vcpu->arch.nmi_pending && !vcpu->arch.nmi_masked &&
	    (l1->intercept_misc1 & INTERCEPT_NMI)) {
		svm->vmcb->control.exit_int_info = 0;
		svm_nested_vmexit(svm, SVM_EXIT_NMI, 0, 0);
		return;
	}
	if ((l1->intercept_misc1 & INTERCEPT_INTR) &&
	    kvm_lapic_in_kernel(vcpu) && kvm_cpu_has_interrupt(vcpu) &&
	    !svm_nested_intr_blocked(svm)) {
		svm->vmcb->control.exit_int_info = 0;
		svm_nested_vmexit(svm, SVM_EXIT_INTR, 0, 0);
	}
}

/*
 * A triple fault userspace queued: a SHUTDOWN exit to L1 if L1 intercepts
 * it (returns true), else the vCPU shuts down.
 */
bool svm_nested_triple_fault(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	if (!svm_guest_mode(svm) ||
	    !(svm->nested.ctl.intercept_misc1 & INTERCEPT_SHUTDOWN))
		return false;
	svm->vmcb->control.exit_int_info = 0;
	svm_nested_vmexit(svm, SVM_EXIT_SHUTDOWN, 0, 0);
	return true;
}

/* ---- MSRs -------------------------------------------------------------- */

/* L2's TSC is L1's plus vmcb12's offset (svm_nested_pre_run()). */
u64 svm_nested_tsc_offset(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	return svm_guest_mode(svm) ? svm->nested.ctl.tsc_offset : 0;
}

int svm_nested_get_msr(struct vcpu_svm *svm, u32 index, u64 *data)
{
	switch (index) {
	case MSR_VM_HSAVE_PA:
		*data = svm->nested.hsave_pa;
		return 0;
	case MSR_VM_CR:
		*data = svm->nested.vm_cr;
		return 0;
	default:
		return -ENOENT;
	}
}

int svm_nested_set_msr(struct vcpu_svm *svm, u32 index, u64 data)
{
	u64 change = VM_CR_VALID;

	switch (index) {
	case MSR_VM_HSAVE_PA:
		if ((data & ~PAGE_MASK) || !svm_legal_gpa(&svm->vcpu, data))
			return 1;
		svm->nested.hsave_pa = data;
		return 0;
	case MSR_VM_CR:
		if (data & ~VM_CR_VALID)
			return 1;
		if (svm->nested.vm_cr & VM_CR_LOCK)
			change &= ~(VM_CR_LOCK | VM_CR_SVMDIS);
		data = (svm->nested.vm_cr & ~change) | (data & change);
		if ((data & VM_CR_SVMDIS) && (svm->vcpu.arch.efer & EFER_SVME))
			return 1;
		svm->nested.vm_cr = data;
		return 0;
	default:
		return -ENOENT;
	}
}

/* ---- KVM_GET/SET_NESTED_STATE ------------------------------------------ */

int svm_nested_get_state(struct kvm_vcpu *vcpu,
			 struct kvm_nested_state __user *ustate)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct kvm_nested_state st = {
		.format = KVM_STATE_NESTED_FORMAT_SVM,
		.size = sizeof(st),
	};
	struct vmcb *buf = svm->nested.scratch;
	u32 room;

	if (get_user(room, &ustate->size))
		return -EFAULT;
	if (svm_guest_mode(svm)) {
		st.size += KVM_STATE_NESTED_SVM_VMCB_SIZE;
		st.flags |= KVM_STATE_NESTED_GUEST_MODE;
		if (svm->nested.run_pending)
			st.flags |= KVM_STATE_NESTED_RUN_PENDING;
	}
	if (svm->gif)
		st.flags |= KVM_STATE_NESTED_GIF_SET;
	st.hdr.svm.vmcb_pa = svm->nested.vmcb12_gpa;
	if (room < st.size)
		return put_user(st.size, &ustate->size) ? -EFAULT : -E2BIG;
	if (copy_to_user(ustate, &st, sizeof(st)))
		return -EFAULT;
	if (!svm_guest_mode(svm))
		return 0;

	memset(buf, 0, PAGE_SIZE);
	buf->control = svm->nested.ctl;
	if (!svm->nested.run_pending) {
		buf->control.event_inj = 0;
		buf->control.event_inj_err = 0;
	}
	/* L1's state as VMRUN left it (vmcb01: CR0 as L1 sees it). */
	buf->save = svm->vmcb01->save;
	if (copy_to_user(ustate->data.svm[0].vmcb12, buf, PAGE_SIZE))
		return -EFAULT;
	return 0;
}

int svm_nested_set_state(struct kvm_vcpu *vcpu,
			 const struct kvm_nested_state *st,
			 const void __user *data)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb *buf = svm->nested.scratch;
	const struct vmcb_save *l1;
	u64 cr0 = vcpu->arch.cr0;

	if (st->flags & ~(KVM_STATE_NESTED_GUEST_MODE |
			  KVM_STATE_NESTED_RUN_PENDING |
			  KVM_STATE_NESTED_GIF_SET))
		return -EINVAL;
	/* Without EFER.SVME: GIF set and not in guest mode. */
	if (!(vcpu->arch.efer & EFER_SVME) &&
	    st->flags != KVM_STATE_NESTED_GIF_SET)
		return -EINVAL;
	if (!(st->flags & KVM_STATE_NESTED_GUEST_MODE)) {
		svm_nested_leave(svm);
		svm->gif = st->flags & KVM_STATE_NESTED_GIF_SET;
		return 0;
	}

	if ((st->hdr.svm.vmcb_pa & ~PAGE_MASK) ||
	    !svm_legal_gpa(vcpu, st->hdr.svm.vmcb_pa))
		return -EINVAL;
	if (st->size < sizeof(*st) + KVM_STATE_NESTED_SVM_VMCB_SIZE)
		return -EINVAL;
	if (copy_from_user(buf, data, PAGE_SIZE))
		return -EFAULT;
	l1 = &buf->save;
	/* The vCPU's state is L2's; vmcb12's save area holds L1's. */
	if (!(cr0 & X86_CR0_CD) && (cr0 & X86_CR0_NW))
		return -EINVAL;
	if (!(l1->cr0 & X86_CR0_PG) || !(l1->cr0 & X86_CR0_PE) ||
	    (l1->rflags & X86_EFLAGS_VM) || !svm_nested_save_valid(vcpu, l1))
		return -EINVAL;
	if (!svm_nested_controls_valid(vcpu, &buf->control))
		return -EINVAL;

	/* L2's state, as userspace set it, moves to vmcb02. */
	if (!svm_guest_mode(svm))
		svm->nested.vmcb02->save = svm->vmcb01->save;
	svm_copy_vmrun_segs(&svm->vmcb01->save, l1);
	svm->vmcb01->save.rflags = l1->rflags;
	svm->vmcb01->save.efer = l1->efer;
	svm->vmcb01->save.cr0 = l1->cr0;
	svm->vmcb01->save.cr3 = l1->cr3;
	svm->vmcb01->save.cr4 = l1->cr4;
	svm->vmcb01->save.rax = l1->rax;
	svm->vmcb01->save.rsp = l1->rsp;
	svm->vmcb01->save.rip = l1->rip;
	svm->vmcb01->save.dr6 = l1->dr6;
	svm->vmcb01->save.dr7 = l1->dr7;
	svm->vmcb01->save.cpl = 0;

	svm->nested.vmcb12_gpa = st->hdr.svm.vmcb_pa;
	svm->nested.ctl = buf->control;
	/* No VMRUN read the map: exits read it until the next one does. */
	svm->nested.msrpm12_valid = false;
	svm_nested_enter(svm, st->flags & KVM_STATE_NESTED_RUN_PENDING);
	svm->nested.run_pending = st->flags & KVM_STATE_NESTED_RUN_PENDING;
	svm->gif = st->flags & KVM_STATE_NESTED_GIF_SET;
	return 0;
}

/* ---- SMM --------------------------------------------------------------- */

/*
 * The state VMRUN saves for L1 (what #VMEXIT restores): it goes to L1's
 * host save area while SMM runs on vmcb01, at the offset the save area
 * has in a VMCB; the rest of the area is L1's and stays as it is.
 */
static void svm_copy_vmrun_state(struct vmcb_save *to,
				 const struct vmcb_save *from)
{
	svm_copy_vmrun_segs(to, from);
	to->rflags = from->rflags;
	to->rip = from->rip;
	to->rsp = from->rsp;
	to->rax = from->rax;
	to->efer = from->efer;
	to->cr0 = from->cr0;
	to->cr3 = from->cr3;
	to->cr4 = from->cr4;
	to->dr6 = from->dr6;
	to->dr7 = from->dr7;
	to->cpl = from->cpl;
}

#define SVM_HSAVE_SAVE_OFFSET	0x400

/*
 * An SMI in L2: the map says so (and where vmcb12 is), L1 gets a #VMEXIT
 * it never sees (SVM_EXIT_SW), and SMM runs on L1's VMCB.
 */
void svm_enter_smm(struct kvm_vcpu *vcpu, u8 *smstate)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb_save *area = &svm->nested.scratch->save;
	u64 hsave;

	if (!svm_guest_mode(svm))
		return;
	nkvm_smm_put64(smstate, 0x7ed8, 1);
	nkvm_smm_put64(smstate, 0x7ee0, svm->nested.vmcb12_gpa);
	/* EFER.SVME is L1's, and on while L2 runs. */
	nkvm_smm_put64(smstate, 0x7ed0,
		       nkvm_smm_get64(smstate, 0x7ed0) | EFER_SVME);

	svm_nested_vmexit(svm, SVM_EXIT_SW, 0, 0);

	hsave = svm->nested.hsave_pa + SVM_HSAVE_SAVE_OFFSET;
	/* Without it RSM cannot go back to L2: it will shut down. */
	if (nkvm_read_guest(vcpu->kvm, hsave, area, sizeof(*area)))
		return;
	svm_copy_vmrun_state(area, &svm->vmcb01->save);
	svm_vcpu_regs_to_save(svm, area, kvm_reg_read(vcpu, VCPU_REGS_RIP));
	area->efer |= EFER_SVME;
	nkvm_write_guest(vcpu->kvm, hsave, area, sizeof(*area));
}

/* RSM to L2: L1's state from its host save area, L2's from vmcb12. */
int svm_leave_smm(struct kvm_vcpu *vcpu, const u8 *smstate)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb *v12 = svm->nested.scratch;
	/* vmcb02's save area is free outside L2 (VMRUN rebuilds it). */
	struct vmcb_save *l1 = &svm->nested.vmcb02->save;
	u64 gpa;

	if (!kvm_smm_guest_has_lm(vcpu) || !nkvm_smm_get64(smstate, 0x7ed8))
		return 0;
	if (!nested || !(nkvm_smm_get64(smstate, 0x7ed0) & EFER_SVME))
		return 1;
	if (nkvm_read_guest(vcpu->kvm,
			    svm->nested.hsave_pa + SVM_HSAVE_SAVE_OFFSET, l1,
			    sizeof(*l1)))
		return 1;
	gpa = nkvm_smm_get64(smstate, 0x7ee0);
	if ((gpa & ~PAGE_MASK) || !svm_legal_gpa(vcpu, gpa) ||
	    nkvm_read_guest(vcpu->kvm, gpa, v12, PAGE_SIZE))
		return 1;
	if (!svm_nested_controls_valid(vcpu, &v12->control))
		return 1;

	svm_copy_vmrun_state(&svm->vmcb01->save, l1);
	svm->vmcb01->save.efer |= EFER_SVME;
	svm->nested.vmcb12_gpa = gpa;
	svm->nested.ctl = v12->control;
	/* No VMRUN read L1's MSR map: exits read it until the next one does. */
	svm->nested.msrpm12_valid = false;
	svm_load_l2_from_vmcb12(svm, v12);
	svm_nested_enter(svm, false);
	svm->nested.run_pending = true;
	return 0;
}

/* Userspace moves the vCPU in or out of SMM: no L2 across that. */
void svm_smm_leave_nested(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	if (svm_guest_mode(svm)) {
		svm_nested_switch_to_l1(svm);
		svm->nested.vmcb12_gpa = -1ULL;
	}
}
