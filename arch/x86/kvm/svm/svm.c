// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: AMD SVM backend with nested paging (kvm-amd.ko).
 *
 * Owns the VMCB, the per-CPU SVM state, guest entry and exit, and the
 * translation of SVM exit codes into struct kvm_x86_exit.  It does not need
 * NRIP save or decode assists (QEMU's TCG offers neither): I/O exits carry
 * the next RIP in EXITINFO2, and for the few other instructions it
 * completes, the bytes at RIP give the length (prefixes and opcode).
 */
#define pr_fmt(fmt) "nkvm-svm: " fmt

#include <linux/module.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>
#include <asm/asm.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/perf_event.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>
#include <asm/spec-ctrl.h>
#include <asm/trapnr.h>
#include <uapi/asm/svm.h>
#include <uapi/nkvm/nkvm.h>
/* 6.12's smp_send_reschedule() traces the IPI. */
#include <trace/events/ipi.h>

#include "../x86.h"
#include "../lapic.h"
#include "../vmenter.h"
#include "svm.h"

MODULE_AUTHOR("nkvm developers");
MODULE_DESCRIPTION("nkvm: AMD SVM backend");
MODULE_LICENSE("GPL");

static bool npt = true;
module_param(npt, bool, 0444);
MODULE_PARM_DESC(npt, "Nested paging (always on: nkvm requires it)");

int nested = 1;
module_param(nested, int, 0444);
MODULE_PARM_DESC(nested, "Nested SVM: the guest may run its own guests (VMRUN)");

static bool nrips;			/* the CPU saves the next RIP on exits */
static bool decode_assists;		/* and decodes MOV CR for us */
/*
 * The "CPU" is QEMU's TCG (our test bed), whose SVM differs from hardware
 * in two ways nkvm works around: svm_tcg_settle_injected_irq(), and a
 * failed VMRUN that overwrites the VMCB's save area (svm_run()).
 */
static DEFINE_STATIC_KEY_FALSE(tcg_below);

/*
 * Permission maps with every bit set: every port and MSR access exits (the
 * MSR map is per vCPU: IA32_SPEC_CTRL may be let through, spec.c).
 */
#define IOPM_ORDER	2		/* 12 KiB used */
#define MSRPM_ORDER	1		/* 8 KiB */
static struct page *iopm_pages;
/* Every MSR access exits: L2's map, L1's own being checked by nested.c. */
static struct page *msrpm_all_pages;

u64 svm_msrpm_all_pa(void)
{
	return page_to_phys(msrpm_all_pages);
}

/* The NKVM_RUN_* bits every entry uses (svm_init()). */
static unsigned long svm_run_flags;

struct svm_cpu {
	struct vmcb_save save_copy;	/* TCG: svm_tcg_copy_save() */
	struct page *hsave;		/* MSR_VM_HSAVE_PA: VMRUN's host area */
	struct page *host_vmcb;		/* VMSAVE/VMLOAD of host state */
	u64 asid_generation;
	u32 next_asid;
	u32 max_asid;
};

static DEFINE_PER_CPU(struct svm_cpu, svm_cpu);

/* Entry and exit, in vmenter.S. */
void __svm_vcpu_run(u64 vmcb_pa, unsigned long *regs, u64 host_vmcb_pa,
		    u64 *spec_ctrl, unsigned long flags);

/*
 * CLGI, STGI and VMSAVE fault only when SVM has been turned off under a
 * vCPU (reboot, see nkvm_rebooting): skip them then, like vmenter.S does.
 */
#define SVM_INSN(insn, ...)						\
	asm volatile("1: " insn "\n2:\n" _ASM_EXTABLE(1b, 2b)		\
		     : : __VA_ARGS__ : "memory")

static inline void svm_clgi(void)
{
	SVM_INSN("clgi");
}

static inline void svm_stgi(void)
{
	SVM_INSN("stgi");
}

static inline void svm_vmsave(u64 pa)
{
	SVM_INSN("vmsave %%rax", "a"(pa));
}

/* ---- Per-CPU enable/disable -------------------------------------------- */

static int svm_cpu_enable(void)
{
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu);
	int cpu = smp_processor_id();
	u64 efer, vm_cr;

	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & VM_CR_SVMDIS) {
		pr_err("CPU %d: SVM is disabled by the firmware\n", cpu);
		return -EOPNOTSUPP;
	}
	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		pr_err("CPU %d: SVM is already enabled: another hypervisor owns this CPU\n",
		       cpu);
		return -EBUSY;
	}

	sd->asid_generation = 1;
	sd->max_asid = cpuid_ebx(SVM_CPUID_LEAF) - 1;
	sd->next_asid = sd->max_asid + 1;	/* start a new generation */

	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(sd->hsave));
	/* Host-only perf events (HostOnly) mean something with SVME on. */
	amd_pmu_enable_virt();
	return 0;
}

static void svm_cpu_disable(void)
{
	u64 efer;

	wrmsrl(MSR_VM_HSAVE_PA, 0);
	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	amd_pmu_disable_virt();
}

/* On crash or emergency reboot, possibly in NMI context. */
static void svm_emergency_disable(void)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	/* GIF=1 so that INIT and NMI are not blocked after SVM is off. */
	svm_stgi();
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
}

/* ---- VMCB setup -------------------------------------------------------- */

static void svm_init_seg(struct vmcb_seg *seg, u16 sel, u16 attrib)
{
	*seg = (struct vmcb_seg) {
		.selector = sel,
		.attrib = attrib,
		.limit = 0xffff,
		.base = 0,
	};
}

/*
 * RDTSCP runs natively when the guest's CPUID offers it (it reads the
 * TSC_AUX common code loads); otherwise its exit raises #UD.
 */
static void svm_update_rdtscp_intercept(struct kvm_vcpu *vcpu)
{
	struct vmcb_control *c = &to_svm(vcpu)->vmcb->control;

	if (vcpu->arch.model.rdtscp)
		c->intercept_misc2 &= ~INTERCEPT_RDTSCP;
	else
		c->intercept_misc2 |= INTERCEPT_RDTSCP;
}

/*
 * Load the guest's CR0.  With KVM_X86_QUIRK_CD_NW_CLEARED (on by default),
 * as on Linux, the hardware's CR0 keeps CD and NW clear, so that a guest
 * that sets CD does not run uncached; CR0 reads and writes exit while it
 * differs from the guest's, so that the guest reads back what it wrote.
 */
void svm_load_cr0(struct vcpu_svm *svm, u64 cr0)
{
	struct vmcb *vmcb = svm->vmcb;
	u64 hcr0 = cr0;

	if (kvm_has_quirk(svm->vcpu.kvm, KVM_X86_QUIRK_CD_NW_CLEARED))
		hcr0 &= ~(X86_CR0_CD | X86_CR0_NW);
	svm->vcpu.arch.cr0 = cr0;
	vmcb->save.cr0 = hcr0;
	if (hcr0 == cr0) {
		vmcb->control.cr_read &= ~BIT(0);
		vmcb->control.cr_write &= ~BIT(0);
	} else {
		vmcb->control.cr_read |= BIT(0);
		vmcb->control.cr_write |= BIT(0);
	}
}

/* Power-on state (real mode at 0xffff0) and nkvm's fixed intercepts. */
static void svm_vcpu_reset(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb_control *c;
	struct vmcb_save *s;

	/* RESET and INIT leave L2 for good. */
	svm_nested_reset(svm);
	/* Both clear VIRT_SPEC_CTRL, as Linux does. */
	vcpu->arch.virt_spec_ctrl = 0;
	c = &svm->vmcb->control;
	s = &svm->vmcb->save;
	memset(svm->vmcb, 0, sizeof(*svm->vmcb));

	c->exceptions = BIT(X86_TRAP_MC);	/* more while debugging */
	c->intercept_misc1 = INTERCEPT_INTR | INTERCEPT_NMI | INTERCEPT_SMI |
			     INTERCEPT_CPUID | INTERCEPT_INVD | INTERCEPT_HLT |
			     INTERCEPT_IOIO_PROT | INTERCEPT_MSR_PROT |
			     INTERCEPT_SHUTDOWN | INTERCEPT_RDPMC |
			     INTERCEPT_SELECTIVE_CR0 | INTERCEPT_RSM;
	c->intercept_misc2 = INTERCEPT_VMRUN | INTERCEPT_VMMCALL |
			     INTERCEPT_VMLOAD | INTERCEPT_VMSAVE |
			     INTERCEPT_STGI | INTERCEPT_CLGI | INTERCEPT_SKINIT |
			     INTERCEPT_RDTSCP | INTERCEPT_WBINVD |
			     INTERCEPT_MONITOR | INTERCEPT_MWAIT |
			     INTERCEPT_XSETBV | INTERCEPT_RDPRU;
	c->intercept_misc1 |= INTERCEPT_INVLPGA;
	svm_update_rdtscp_intercept(vcpu);
	/* CR4 writes are checked against the guest's CPUID (x86.c). */
	c->cr_write = BIT(4);
	/* Debug registers are switched lazily, on the guest's first use. */
	c->dr_read = 0xff;
	c->dr_write = 0xff;
	c->iopm_base_pa = page_to_phys(iopm_pages);
	c->msrpm_base_pa = virt_to_phys(svm->msrpm);
	/* The guest's IF masks only virtual interrupts, never the host's. */
	c->int_ctl = V_INTR_MASKING;
	c->nested_ctl = NESTED_CTL_NP_ENABLE;

	svm_init_seg(&s->cs, 0xf000, SVM_SEG_P | SVM_SEG_S | 0xb);
	s->cs.base = 0xffff0000;
	svm_init_seg(&s->ds, 0, SVM_SEG_P | SVM_SEG_S | 0x3);
	s->es = s->ds;
	s->ss = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	svm_init_seg(&s->gdtr, 0, 0);
	svm_init_seg(&s->idtr, 0, 0);
	svm_init_seg(&s->ldtr, 0, SVM_SEG_P | 0x2);	/* LDT */
	svm_init_seg(&s->tr, 0, SVM_SEG_P | 0x3);	/* busy 16-bit TSS */
	/* Control and debug registers as common code reset them. */
	s->efer = vcpu->arch.efer | EFER_SVME;
	svm_load_cr0(svm, vcpu->arch.cr0);
	s->cr4 = vcpu->arch.cr4;
	s->dr6 = vcpu->arch.dr6;
	s->dr7 = vcpu->arch.dr7;
	s->rflags = X86_EFLAGS_FIXED;
	s->rip = 0xfff0;
	s->g_pat = 0x0007040600070406ULL;	/* the architectural reset PAT */

	svm->asid_generation = 0;
	svm->awaiting_iret = false;
	svm->irq_window = false;
	svm->nmi_singlestep = false;
	svm->sysenter_esp_hi = 0;
	svm->sysenter_eip_hi = 0;
	svm->guest_pkru = 0;
}

static int svm_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct page *page;

	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	svm->vmcb01 = page_address(page);
	svm->vmcb01_pa = page_to_phys(page);
	svm->vmcb = svm->vmcb01;
	svm->vmcb_pa = svm->vmcb01_pa;
	svm->msrpm = (void *)__get_free_pages(GFP_KERNEL_ACCOUNT, MSRPM_ORDER);
	if (!svm->msrpm) {
		__free_page(page);
		return -ENOMEM;
	}
	memset(svm->msrpm, 0xff, PAGE_SIZE << MSRPM_ORDER);
	svm->last_cpu = -1;
	svm->gif = true;
	if (svm_nested_vcpu_create(svm)) {
		free_pages((unsigned long)svm->msrpm, MSRPM_ORDER);
		__free_page(page);
		return -ENOMEM;
	}
	return 0;
}

static void svm_vcpu_free(struct kvm_vcpu *vcpu)
{
	svm_nested_vcpu_free(to_svm(vcpu));
	free_pages((unsigned long)to_svm(vcpu)->msrpm, MSRPM_ORDER);
	free_page((unsigned long)to_svm(vcpu)->vmcb01);
}

static void svm_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	/* KVM_RUN (re)starts here: userspace may have set any state (svm_run()). */
	svm->vmrun_unchecked = true;

	/*
	 * (The IBPB between vCPUs is common code's: spec.c.)
	 * Host FS/GS/TR/LDTR, KERNEL_GS_BASE and the syscall MSRs are the same
	 * for as long as this task runs on this CPU: save them once here, and
	 * restore them after every exit.
	 */
	svm_vmsave(page_to_phys(per_cpu(svm_cpu, cpu).host_vmcb));
	/*
	 * ASIDs are handed out per CPU: on another CPU, this vCPU's ASID may
	 * belong to someone else.
	 */
	if (cpu != svm->last_cpu) {
		svm->asid_generation = 0;
		svm->last_cpu = cpu;
	}
}

static void svm_vcpu_put(struct kvm_vcpu *vcpu)
{
}

static void svm_flush_tlb(struct kvm_vcpu *vcpu)
{
	/* A fresh ASID has no TLB entries: no need for FlushByAsid. */
	to_svm(vcpu)->asid_generation = 0;
}

static void svm_new_asid(struct vcpu_svm *svm, struct svm_cpu *sd)
{
	if (sd->next_asid > sd->max_asid) {
		sd->asid_generation++;
		sd->next_asid = 1;
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL;
	}
	svm->asid_generation = sd->asid_generation;
	svm->vmcb->control.asid = sd->next_asid++;
}

/* ---- Segments and control registers ----------------------------------- */

static __always_inline void svm_seg_to_kvm(const struct vmcb_seg *s,
					   struct kvm_segment *k)
{
	*k = (struct kvm_segment) {
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.type = s->attrib & SVM_SEG_TYPE_MASK,
		.s = !!(s->attrib & SVM_SEG_S),
		.dpl = (s->attrib >> SVM_SEG_DPL_SHIFT) & 3,
		.present = !!(s->attrib & SVM_SEG_P),
		.avl = !!(s->attrib & SVM_SEG_AVL),
		.l = !!(s->attrib & SVM_SEG_L),
		.db = !!(s->attrib & SVM_SEG_DB),
		.g = !!(s->attrib & SVM_SEG_G),
		.unusable = !(s->attrib & SVM_SEG_P),
	};
}

static void kvm_seg_to_svm(const struct kvm_segment *k, struct vmcb_seg *s)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	if (k->unusable) {
		s->attrib = 0;
		return;
	}
	s->attrib = (k->type & SVM_SEG_TYPE_MASK) |
		    (k->s ? SVM_SEG_S : 0) |
		    ((k->dpl & 3) << SVM_SEG_DPL_SHIFT) |
		    (k->present ? SVM_SEG_P : 0) |
		    (k->avl ? SVM_SEG_AVL : 0) |
		    (k->l ? SVM_SEG_L : 0) |
		    (k->db ? SVM_SEG_DB : 0) |
		    (k->g ? SVM_SEG_G : 0);
}

static void svm_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	const struct vmcb_save *s = &to_svm(vcpu)->vmcb->save;

	svm_seg_to_kvm(&s->cs, &sregs->cs);
	svm_seg_to_kvm(&s->ds, &sregs->ds);
	svm_seg_to_kvm(&s->es, &sregs->es);
	svm_seg_to_kvm(&s->fs, &sregs->fs);
	svm_seg_to_kvm(&s->gs, &sregs->gs);
	svm_seg_to_kvm(&s->ss, &sregs->ss);
	svm_seg_to_kvm(&s->tr, &sregs->tr);
	svm_seg_to_kvm(&s->ldtr, &sregs->ldt);
	/* TR is usable whatever its P bit says. */
	sregs->tr.unusable = 0;
	sregs->gdt.base = s->gdtr.base;
	sregs->gdt.limit = s->gdtr.limit;
	sregs->idt.base = s->idtr.base;
	sregs->idt.limit = s->idtr.limit;
	sregs->cr0 = vcpu->arch.cr0;
	sregs->cr2 = s->cr2;
	sregs->cr3 = s->cr3;
	sregs->cr4 = s->cr4;
	sregs->efer = (s->efer & ~EFER_SVME) | (vcpu->arch.efer & EFER_SVME);
}

static void svm_get_emul_sregs(struct kvm_vcpu *vcpu, struct kvm_emul_sregs *es)
{
	const struct vmcb_save *s = &to_svm(vcpu)->vmcb->save;

	svm_seg_to_kvm(&s->cs, &es->cs);
	svm_seg_to_kvm(&s->ss, &es->ss);
	es->cr0 = vcpu->arch.cr0;
	es->cr3 = s->cr3;
	es->cr4 = s->cr4;
	es->efer = (s->efer & ~EFER_SVME) | (vcpu->arch.efer & EFER_SVME);
}

static void svm_get_segment(struct kvm_vcpu *vcpu, int seg,
			    struct kvm_segment *var)
{
	const struct vmcb_save *s = &to_svm(vcpu)->vmcb->save;

	switch (seg) {
	case KVM_SEG_ES:
		svm_seg_to_kvm(&s->es, var);
		break;
	case KVM_SEG_CS:
		svm_seg_to_kvm(&s->cs, var);
		break;
	case KVM_SEG_SS:
		svm_seg_to_kvm(&s->ss, var);
		break;
	case KVM_SEG_DS:
		svm_seg_to_kvm(&s->ds, var);
		break;
	case KVM_SEG_FS:
		svm_seg_to_kvm(&s->fs, var);
		break;
	case KVM_SEG_GS:
		svm_seg_to_kvm(&s->gs, var);
		break;
	default:
		svm_seg_to_kvm(&s->tr, var);
		/* As in svm_get_sregs(). */
		var->unusable = 0;
		break;
	}
}

static int svm_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	struct vmcb_save *s;

	if ((sregs->efer & EFER_SVME) && !nested)
		return -EINVAL;
	if (!(sregs->efer & EFER_SVME))
		svm_nested_leave(to_svm(vcpu));
	s = &to_svm(vcpu)->vmcb->save;

	kvm_seg_to_svm(&sregs->cs, &s->cs);
	kvm_seg_to_svm(&sregs->ds, &s->ds);
	kvm_seg_to_svm(&sregs->es, &s->es);
	kvm_seg_to_svm(&sregs->fs, &s->fs);
	kvm_seg_to_svm(&sregs->gs, &s->gs);
	kvm_seg_to_svm(&sregs->ss, &s->ss);
	kvm_seg_to_svm(&sregs->tr, &s->tr);
	kvm_seg_to_svm(&sregs->ldt, &s->ldtr);
	s->gdtr.base = sregs->gdt.base;
	s->gdtr.limit = sregs->gdt.limit;
	s->idtr.base = sregs->idt.base;
	s->idtr.limit = sregs->idt.limit;
	svm_load_cr0(to_svm(vcpu), sregs->cr0);
	s->cr2 = sregs->cr2;
	s->cr3 = sregs->cr3;
	s->cr4 = sregs->cr4;
	s->efer = sregs->efer | EFER_SVME;
	vcpu->arch.cr4 = sregs->cr4;
	vcpu->arch.efer = sregs->efer;
	/* The CPL is SS.DPL, and 0 in real mode. */
	s->cpl = (sregs->cr0 & X86_CR0_PE) ? sregs->ss.dpl & 3 : 0;
	return 0;
}

/* Common code checked the value (msr.c). */
static int svm_set_efer(struct kvm_vcpu *vcpu, u64 efer, bool host)
{
	struct vmcb_save *s;

	if ((efer & EFER_SVME) && !nested)
		return 1;
	/* L1 (or userspace) turning SVM off: no more L2, GIF set. */
	if (!(efer & EFER_SVME) && (host || !svm_guest_mode(to_svm(vcpu))))
		svm_nested_leave(to_svm(vcpu));
	s = &to_svm(vcpu)->vmcb->save;
	if (!host)	/* LMA is the CPU's to set */
		efer = (efer & ~EFER_LMA) | (s->efer & EFER_LMA);
	s->efer = efer | EFER_SVME;
	vcpu->arch.efer = efer;
	return 0;
}

static int svm_get_cpl(struct kvm_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cpl;
}

static void svm_set_cr(struct kvm_vcpu *vcpu, int cr, u64 val)
{
	struct vmcb_save *s = &to_svm(vcpu)->vmcb->save;

	if (cr == 0) {
		/* An emulated write: long mode turns on and off with paging. */
		u64 efer = vcpu->arch.efer;

		if ((efer & EFER_LME) && !(vcpu->arch.cr0 & X86_CR0_PG) &&
		    (val & X86_CR0_PG))
			efer |= EFER_LMA;
		else if ((efer & EFER_LME) && !(val & X86_CR0_PG))
			efer &= ~EFER_LMA;
		vcpu->arch.efer = efer;
		s->efer = efer | EFER_SVME;
		svm_load_cr0(to_svm(vcpu), val);
	} else {
		s->cr4 = val;
		vcpu->arch.cr4 = val;
	}
}

/* The MSRs VMSAVE/VMLOAD and the VMCB hold for the guest. */
static u64 *svm_msr_slot(struct vmcb_save *s, u32 index)
{
	switch (index) {
	case MSR_STAR:
		return &s->star;
	case MSR_LSTAR:
		return &s->lstar;
	case MSR_CSTAR:
		return &s->cstar;
	case MSR_SYSCALL_MASK:
		return &s->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &s->kernel_gs_base;
	case MSR_IA32_SYSENTER_CS:
		return &s->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:
		return &s->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:
		return &s->sysenter_eip;
	case MSR_FS_BASE:
		return &s->fs.base;
	case MSR_GS_BASE:
		return &s->gs.base;
	case MSR_IA32_CR_PAT:
		return &s->g_pat;
	default:
		return NULL;
	}
}

/*
 * SVM keeps 32 bits of SYSENTER_ESP/EIP.  A guest that believes it is on
 * Intel (where 64-bit SYSENTER exists) gets the upper halves kept aside;
 * any other guest sees them dropped, as on AMD hardware.
 */
static u32 *svm_sysenter_hi(struct vcpu_svm *svm, u32 index)
{
	if (index == MSR_IA32_SYSENTER_ESP)
		return &svm->sysenter_esp_hi;
	if (index == MSR_IA32_SYSENTER_EIP)
		return &svm->sysenter_eip_hi;
	return NULL;
}

static int svm_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	u64 *slot = svm_msr_slot(&svm->vmcb->save, index);
	u32 *hi = svm_sysenter_hi(svm, index);

	/* No LBR virtualization: DEBUGCTL reads 0 (Linux without lbrv). */
	if (index == MSR_IA32_DEBUGCTLMSR) {
		*data = 0;
		return 0;
	}
	if (!slot)
		return svm_nested_get_msr(svm, index, data);
	*data = *slot;
	if (hi)
		*data = (u32)*data | ((u64)*hi << 32);
	return 0;
}

static int svm_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	u64 *slot = svm_msr_slot(&svm->vmcb->save, index);
	u32 *hi = svm_sysenter_hi(svm, index);

	if (index == MSR_IA32_DEBUGCTLMSR)	/* ignored, as above */
		return 0;
	if (!slot)
		return svm_nested_set_msr(svm, index, data);
	if (hi) {
		*hi = vcpu->arch.model.intel ? data >> 32 : 0;
		data = (u32)data;
	} else if (index == MSR_IA32_SYSENTER_CS) {
		data = (u32)data;
	}
	*slot = data;
	return 0;
}

/* ---- Entry and exit ---------------------------------------------------- */

/* ---- Events ------------------------------------------------------------ */

static void svm_inject_exception(struct kvm_vcpu *vcpu)
{
	struct kvm_queued_exception *ex = &vcpu->arch.exception;
	struct vmcb_control *c = &to_svm(vcpu)->vmcb->control;

	c->event_inj = ex->vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID |
		       (ex->has_error_code ? SVM_EVTINJ_VALID_ERR : 0);
	c->event_inj_err = ex->error_code;
	/* An injected #PF does not set CR2 by itself. */
	if (ex->vector == X86_TRAP_PF && ex->cr2)
		to_svm(vcpu)->vmcb->save.cr2 = ex->cr2;
}

static void svm_inject_nmi(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	svm->vmcb->control.event_inj = X86_TRAP_NMI | SVM_EVTINJ_TYPE_NMI |
				       SVM_EVTINJ_VALID;
	/* NMIs stay blocked until the handler's IRET: watch for it. */
	svm->vmcb->control.intercept_misc1 |= INTERCEPT_IRET;
}

static void svm_inject_irq(struct kvm_vcpu *vcpu)
{
	struct vmcb_control *c = &to_svm(vcpu)->vmcb->control;

	c->event_inj = vcpu->arch.interrupt.nr | SVM_EVTINJ_VALID |
		       (vcpu->arch.interrupt.soft ? SVM_EVTINJ_TYPE_SOFT :
						    SVM_EVTINJ_TYPE_INTR);
}

static u32 svm_get_interrupt_shadow(struct kvm_vcpu *vcpu)
{
	if (to_svm(vcpu)->vmcb->control.int_state & SVM_INTERRUPT_SHADOW)
		return KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI;
	return 0;
}

static void svm_set_interrupt_shadow(struct kvm_vcpu *vcpu, u32 shadow)
{
	struct vmcb_control *c = &to_svm(vcpu)->vmcb->control;

	if (shadow)
		c->int_state |= SVM_INTERRUPT_SHADOW;
	else
		c->int_state &= ~SVM_INTERRUPT_SHADOW;
}

static bool svm_interrupt_allowed(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	/* GIF clear (CLGI, or just after #VMEXIT) holds everything back. */
	if (!svm->gif)
		return false;
	if (svm_guest_mode(svm))
		return !svm_nested_intr_blocked(svm);
	return (vcpu->arch.rflags & X86_EFLAGS_IF) &&
	       !svm_get_interrupt_shadow(vcpu);
}

/* A halted vCPU: the interrupt shadow of an "sti; hlt" is over. */
static bool svm_interrupt_wakes(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	if (!svm->gif)
		return false;
	if (svm_guest_mode(svm) &&
	    (svm->nested.ctl.int_ctl & V_INTR_MASKING))
		return svm->vmcb01->save.rflags & X86_EFLAGS_IF;
	return vcpu->arch.rflags & X86_EFLAGS_IF;
}

static bool svm_nmi_allowed(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	if (!svm->gif || svm->nested.run_pending)
		return false;
	/* Not until the IRET that unmasked NMIs has actually run. */
	if (svm->awaiting_iret &&
	    vcpu->arch.regs[VCPU_REGS_RIP] == svm->iret_rip)
		return false;
	return !vcpu->arch.nmi_masked && !svm_get_interrupt_shadow(vcpu);
}

/* SMIs wait for GIF (APM 15.22.2), and for a VMRUN to complete. */
static bool svm_smi_allowed(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	return svm->gif && !svm->nested.run_pending;
}

static void svm_enable_irq_window(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	/*
	 * With GIF clear, STGI exits: that is the window.  In L2 with
	 * V_INTR_MASKING, L2's IF does not gate L1's interrupts: no window.
	 */
	if (!svm->gif || svm->nested.run_pending ||
	    (svm_guest_mode(svm) && (svm->nested.ctl.int_ctl & V_INTR_MASKING)))
		return;
	svm->irq_window = true;
}

static void svm_enable_nmi_window(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	if (!svm->gif || svm->nested.run_pending)
		return;
	/* Blocked by an NMI in service: its IRET intercept is the window. */
	if (vcpu->arch.nmi_masked) {
		svm->vmcb->control.intercept_misc1 |= INTERCEPT_IRET;
		return;
	}
	/*
	 * The IRET was intercepted but has not run yet: step over it (TF and
	 * RF for one instruction, #DB intercepted) so that the waiting NMI
	 * comes right after it rather than at some later exit.
	 */
	if (svm->awaiting_iret && !svm->nmi_singlestep) {
		svm->nmi_singlestep = true;
		svm->nmi_singlestep_tf = vcpu->arch.rflags &
					 (X86_EFLAGS_TF | X86_EFLAGS_RF);
		vcpu->arch.rflags |= X86_EFLAGS_TF | X86_EFLAGS_RF;
	}
}

/*
 * A virtual interrupt that the guest can take only when it could take a
 * real one: its VINTR intercept marks the interrupt window.
 */
static void svm_update_irq_window(struct vcpu_svm *svm)
{
	struct vmcb_control *c = &svm->vmcb->control;

	if (svm->irq_window) {
		c->int_ctl |= V_IRQ | V_IGN_TPR | (0xf << V_INTR_PRIO_SHIFT);
		c->intercept_misc1 |= INTERCEPT_VINTR;
	} else {
		c->int_ctl &= ~(V_IRQ | V_IGN_TPR | (0xf << V_INTR_PRIO_SHIFT));
		c->intercept_misc1 &= ~INTERCEPT_VINTR;
	}
	svm->irq_window = false;
}

/*
 * An exit in the middle of delivering an event (say, a nested page fault on
 * the IDT) loses the event unless it is delivered again.  Software
 * interrupts and INT3/INTO are not: their instruction runs again instead.
 */
static void svm_requeue_interrupted_event(struct vcpu_svm *svm)
{
	struct vmcb_control *c = &svm->vmcb->control;
	u32 info = c->exit_int_info;
	u32 type = info & SVM_EVTINJ_TYPE_MASK;
	u8 vector = info & SVM_EVTINJ_VEC_MASK;
	bool has_err = info & SVM_EVTINJ_VALID_ERR;

	c->event_inj = 0;
	if (!(info & SVM_EVTINJ_VALID))
		return;
	nkvm_trace_ev("requeue %x code %llx rip %llx fl %llx ist %x\n", info,
		      (u64)c->exit_code, svm->vmcb->save.rip, svm->vmcb->save.rflags,
		      (u32)c->int_state);

	switch (type) {
	case SVM_EVTINJ_TYPE_EXEPT:
		if (vector == X86_TRAP_BP || vector == X86_TRAP_OF)
			return;
		nkvm_requeue_event(&svm->vcpu, KVM_EVENT_EXCEPTION, vector,
				   has_err, c->exit_int_info_err);
		break;
	case SVM_EVTINJ_TYPE_NMI:
		nkvm_requeue_event(&svm->vcpu, KVM_EVENT_NMI, vector, false, 0);
		break;
	case SVM_EVTINJ_TYPE_INTR:
		nkvm_requeue_event(&svm->vcpu, KVM_EVENT_IRQ, vector, false, 0);
		break;
	default:
		break;
	}
}

/* ---- Entry and exit ---------------------------------------------------- */

/*
 * QEMU's TCG (7.2 and later alike, helper_vmrun()) delivers an EVENTINJ
 * of type INTR inside VMRUN itself, but leaves the vector behind as its
 * CPU's pending exception number.  Nothing clears it until the guest's
 * next #VMEXIT or exception; if anything kicks that CPU's thread before
 * then (work queued by another thread, a TLB flush from another CPU...),
 * TCG's CPU loop takes the leftover for an exception still to deliver and
 * delivers the vector a second time, as an exception (EXITINTINFO type 3),
 * whatever the guest's RFLAGS.IF: inside the handler of the first
 * delivery.  A Linux guest then deadlocks on its irq descriptor's lock,
 * taken by the first handler and wanted by the second, with interrupts
 * off (seen about one QEMU boot in ten, right after the kernel's IO-APIC
 * timer check; SeaBIOS ran off to 0:0 the same way).
 *
 * A host interrupt that is pending when VMRUN opens GIF makes TCG exit
 * to the host (INTR intercept) before the guest runs an instruction, once
 * the injected interrupt's frame is pushed, and that exit clears the
 * leftover.  So under TCG, an entry that injects an external interrupt
 * sends its own CPU a reschedule IPI first, with interrupts off; the cost
 * is one more exit per injected interrupt, on TCG only.
 */
static void svm_tcg_settle_injected_irq(u32 inj)
{
	if ((inj & SVM_EVTINJ_VALID) &&
	    (inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_INTR)
		smp_send_reschedule(smp_processor_id());
}

/* The segments and descriptor tables VMRUN and #VMEXIT switch. */
void svm_copy_vmrun_segs(struct vmcb_save *to, const struct vmcb_save *from)
{
	to->es = from->es;
	to->cs = from->cs;
	to->ss = from->ss;
	to->ds = from->ds;
	to->gdtr = from->gdtr;
	to->idtr = from->idtr;
}

/*
 * The fields of the save area that TCG's #VMEXIT writes (do_vmexit()):
 * copied from and back to the VMCB around a VMRUN that may fail (svm_run()).
 */
static void svm_tcg_copy_save(struct vmcb_save *to, const struct vmcb_save *from)
{
	svm_copy_vmrun_segs(to, from);
	to->cpl = from->cpl;
	to->efer = from->efer;
	to->cr0 = from->cr0;
	to->cr2 = from->cr2;
	to->cr3 = from->cr3;
	to->cr4 = from->cr4;
	to->dr6 = from->dr6;
	to->dr7 = from->dr7;
	to->rflags = from->rflags;
	to->rip = from->rip;
	to->rsp = from->rsp;
	to->rax = from->rax;
}

/* QEMU's TCG says so in its hypervisor CPUID leaf. */
static bool svm_detect_tcg(void)
{
	u32 eax, sig[3];

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR))
		return false;
	cpuid(0x40000000, &eax, &sig[0], &sig[1], &sig[2]);
	return !memcmp(sig, "TCGTCGTCGTCG", sizeof(sig));
}

/*
 * Debug state for the next entry.  A debugger's hardware breakpoints
 * replace the guest's DR7 (and DR0-3, loaded in svm_run()); #DB and #BP
 * exit while the debugger wants them.
 */
static void svm_load_debug_state(struct kvm_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	u32 dbg = vcpu->arch.guest_debug;
	/* #UD: maybe the other vendor's hypercall (hypercall.c). */
	u32 exceptions = BIT(X86_TRAP_MC) | BIT(X86_TRAP_UD);

	if ((dbg & (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP)) ||
	    to_svm(vcpu)->nmi_singlestep)
		exceptions |= BIT(X86_TRAP_DB);
	if (dbg & KVM_GUESTDBG_USE_SW_BP)
		exceptions |= BIT(X86_TRAP_BP);
	vmcb->control.exceptions = exceptions;

	if (kvm_debugger_owns_drs(vcpu)) {
		vmcb->save.dr7 = vcpu->arch.guest_debug_dr7;
	} else {
		vmcb->save.dr6 = vcpu->arch.dr6;
		vmcb->save.dr7 = vcpu->arch.dr7;
	}
}

static void svm_debug_exit(struct vcpu_svm *svm, struct kvm_x86_exit *exit,
			   u32 vector)
{
	struct vmcb_save *s = &svm->vmcb->save;

	exit->reason = X86_EXIT_DEBUG;
	exit->debug.exception = vector;
	exit->debug.pc = s->cs.base + svm->vcpu.arch.regs[VCPU_REGS_RIP];
	exit->debug.dr6 = s->dr6;
	exit->debug.dr7 = s->dr7;
	s->dr6 = DR6_RESET;
}

/* __svm_vcpu_run()'s flags: the guest's SPEC_CTRL is read back if passed through. */
static unsigned long svm_entry_flags(struct kvm_vcpu *vcpu)
{
	return svm_run_flags | (vcpu->arch.spec_ctrl_passthrough ?
				NKVM_RUN_SAVE_SPEC_CTRL : 0);
}

/*
 * The guest's VIRT_SPEC_CTRL.SSBD, switched in for the entry (@guest) and
 * back out after the exit, with GIF clear, by the host kernel's own helper
 * (exported in 6.1 and 6.12), which acts only where the host disables
 * speculative store bypass by LS_CFG or VIRT_SPEC_CTRL, as Linux's SVM
 * does.  A CPU with V_SPEC_CTRL is left alone there too.
 */
static void svm_switch_virt_ssbd(struct kvm_vcpu *vcpu, bool guest)
{
	if (boot_cpu_has(X86_FEATURE_V_SPEC_CTRL))
		return;
	if (guest)
		x86_spec_ctrl_set_guest(vcpu->arch.virt_spec_ctrl);
	else
		x86_spec_ctrl_restore_host(vcpu->arch.virt_spec_ctrl);
}

static void svm_run(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu);
	struct vmcb *vmcb = svm->vmcb;
	unsigned long *regs = vcpu->arch.regs;
	bool pku = cpu_feature_enabled(X86_FEATURE_OSPKE);
	u32 inj = vmcb->control.event_inj;	/* what this entry delivers */
	unsigned long run_flags;
	bool undo = false;

	if (svm->asid_generation != sd->asid_generation)
		svm_new_asid(svm, sd);

	vmcb->control.nested_cr3 = vcpu->arch.mmu.root_pa;
	vmcb->control.tsc_offset = vcpu->arch.tsc_offset;
	vmcb->save.rax = regs[VCPU_REGS_RAX];
	vmcb->save.rsp = regs[VCPU_REGS_RSP];
	vmcb->save.rip = regs[VCPU_REGS_RIP];
	vmcb->save.rflags = vcpu->arch.rflags;
	/*
	 * int_ctl is written whole on every entry, V_INTR_MASKING included:
	 * without it the guest's IF masks the host's interrupts, and a guest
	 * spinning with IF clear no longer exits for signals, IPIs or the
	 * tick.  The copy in the VMCB cannot be trusted to keep it: QEMU's
	 * TCG (7.2, helper_vmrun()) fails some VMRUNs before it has read
	 * int_ctl (reserved CR0/CR4 bits, CR3 above MAXPHYADDR, a bad
	 * MSRPM/IOPM) and its #VMEXIT then writes back a stale int_ctl of 0.
	 */
	vmcb->control.int_ctl = V_INTR_MASKING | (vcpu->arch.cr8 & 0xf);
	svm_update_irq_window(svm);
	svm_load_debug_state(vcpu);
	if (svm_guest_mode(svm))
		svm_nested_pre_run(svm);
	/* Stays so if VMRUN never runs (it faults once SVM is off at reboot). */
	vmcb->control.exit_code = SVM_EXIT_ERR;

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
	}
	if (pku) {
		svm->host_pkru = rdpkru();
		if (svm->guest_pkru != svm->host_pkru)
			wrpkru(svm->guest_pkru);
	}

	/*
	 * The guest's IA32_SPEC_CTRL: in the VMCB where the CPU switches it
	 * (V_SPEC_CTRL), else loaded by __svm_vcpu_run(); read back while the
	 * guest can write it without exits.
	 */
	run_flags = svm_entry_flags(vcpu);
	if (boot_cpu_has(X86_FEATURE_V_SPEC_CTRL))
		vmcb->save.spec_ctrl = vcpu->arch.spec_ctrl;
	/*
	 * A VMRUN that fails its consistency checks exits with VMEXIT_INVALID
	 * and, on hardware, leaves the VMCB as it was.  TCG (7.2,
	 * helper_vmrun() and do_vmexit()) loads part of the guest's state
	 * before it checks the rest, and its exit then writes that mixture of
	 * guest and host registers over the save area: the guest would resume
	 * in host code with the host's stack.  Under TCG, the save area is
	 * copied here and put back after a failed VMRUN, as long as it holds
	 * state that no VMRUN has taken yet: what userspace may have set
	 * before this KVM_RUN (svm_vcpu_load()) or a switch between L1 and L2.
	 * After that the guest itself changes it only in ways the CPU checks.
	 */
	if (static_branch_unlikely(&tcg_below)) {
		undo = svm->vmrun_unchecked;
		if (undo)
			svm_tcg_copy_save(&sd->save_copy, &vmcb->save);
		svm_tcg_settle_injected_irq(inj);
	}

	svm_clgi();
	svm_switch_virt_ssbd(vcpu, true);
	/*
	 * The host's IF at VMRUN decides whether its interrupts exit the
	 * guest: set it here, away from VMRUN (see vmenter.S); GIF=0 keeps
	 * them pending meanwhile.
	 */
	raw_local_irq_enable();
	__svm_vcpu_run(svm->vmcb_pa, regs, page_to_phys(sd->host_vmcb),
		       &vcpu->arch.spec_ctrl, run_flags);
	raw_local_irq_disable();
	svm_switch_virt_ssbd(vcpu, false);
	svm_stgi();
	if (undo) {
		if ((u32)vmcb->control.exit_code == SVM_EXIT_ERR)
			svm_tcg_copy_save(&vmcb->save, &sd->save_copy);
		else
			svm->vmrun_unchecked = false;
	}
	if (boot_cpu_has(X86_FEATURE_V_SPEC_CTRL) &&
	    vcpu->arch.spec_ctrl_passthrough)
		vcpu->arch.spec_ctrl = vmcb->save.spec_ctrl;

	if (pku) {
		svm->guest_pkru = rdpkru();
		if (svm->guest_pkru != svm->host_pkru)
			wrpkru(svm->host_pkru);
	}
	if (vcpu->arch.dr_guest_owned && !kvm_debugger_owns_drs(vcpu)) {
		get_debugreg(vcpu->arch.db[0], 0);
		get_debugreg(vcpu->arch.db[1], 1);
		get_debugreg(vcpu->arch.db[2], 2);
		get_debugreg(vcpu->arch.db[3], 3);
	}
	/* #VMEXIT clears the host's DR7: put the host's breakpoints back. */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();

	vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	regs[VCPU_REGS_RAX] = vmcb->save.rax;
	regs[VCPU_REGS_RSP] = vmcb->save.rsp;
	regs[VCPU_REGS_RIP] = vmcb->save.rip;
	vcpu->arch.rflags = vmcb->save.rflags;
	/*
	 * The guest changes TS and MP itself while its CR0 writes do not
	 * exit (the selective intercept takes the other bits).
	 */
	if (!(vmcb->control.cr_write & BIT(0)) &&
	    vmcb->save.cr0 != vcpu->arch.cr0)
		svm_load_cr0(svm, vmcb->save.cr0);
	vcpu->arch.cr4 = vmcb->save.cr4;
	vcpu->arch.efer = (vmcb->save.efer & ~EFER_SVME) |
			  (vcpu->arch.efer & EFER_SVME);
	if (svm_guest_mode(svm))
		svm_nested_post_run(svm);
	if (!svm_guest_mode(svm) ||
	    !(svm->nested.ctl.int_ctl & V_INTR_MASKING))
		vcpu->arch.cr8 = vmcb->control.int_ctl & 0xf;
	if (!kvm_debugger_owns_drs(vcpu)) {
		vcpu->arch.dr6 = vmcb->save.dr6;
		vcpu->arch.dr7 = vmcb->save.dr7;
	}
	if (inj & SVM_EVTINJ_VALID)
		nkvm_trace_ev("ran inj %x: exit %llx rip %llx fl %llx ii %x ist %x\n",
			      inj, (u64)vmcb->control.exit_code, vmcb->save.rip,
			      vmcb->save.rflags, (u32)vmcb->control.exit_int_info,
			      (u32)vmcb->control.int_state);
	svm_requeue_interrupted_event(svm);
}

/*
 * The RIP after the intercepted instruction whose opcode bytes are @op: as
 * the CPU saved it (NRIP save), or else past the instruction at RIP with
 * its prefixes (a 66, a segment override, a REX...).  If the bytes there
 * are something else, the exit becomes an emulation failure.
 */
static void svm_set_next_rip(struct vcpu_svm *svm, struct kvm_x86_exit *exit,
			     const u8 *op, unsigned int n)
{
	struct kvm_vcpu *vcpu = &svm->vcpu;
	unsigned int len;

	if (nrips) {
		exit->next_rip = svm->vmcb->control.next_rip;
	} else if (!kvm_insn_len_at_rip(vcpu, op, n, &len)) {
		exit->next_rip = vcpu->arch.regs[VCPU_REGS_RIP] + len;
	} else {
		exit->reason = X86_EXIT_DECODE_FAILED;
		exit->hw.info[1] = vcpu->arch.regs[VCPU_REGS_RIP];
	}
}

/* The opcode bytes of an instruction, for svm_set_next_rip(). */
#define SVM_OP(bytes)	(const u8 *)(bytes), sizeof(bytes) - 1

static void svm_handle_exit(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb_control *c = &svm->vmcb->control;
	/*
	 * The low half names the exit, as Linux reads it: QEMU's TCG writes
	 * VMEXIT_INVALID (a failed VMRUN) as 0xffffffff, zero-extended.
	 */
	u32 code = c->exit_code;
	u64 info1 = c->exit_info_1;

	exit->reason = X86_EXIT_NONE;
	exit->hw.hw_reason = code;
	if (svm->awaiting_iret && vcpu->arch.regs[VCPU_REGS_RIP] != svm->iret_rip)
		svm->awaiting_iret = false;
	exit->hw.info[0] = info1;
	exit->hw.info[1] = c->exit_info_2;

	/* From L2: L1's, if L1 intercepts it. */
	if (svm_guest_mode(svm) && svm_nested_reflect_exit(svm))
		return;

	switch (code) {
	case SVM_EXIT_INTR:
		vcpu->stat.irq_exits++;
		fallthrough;
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI:
		/* Taken by the host once interrupts are on again. */
		return;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_DB:
		if (svm->nmi_singlestep) {
			/* The IRET ran: NMIs may come now. */
			svm->nmi_singlestep = false;
			svm->awaiting_iret = false;
			vcpu->arch.rflags &= ~(X86_EFLAGS_TF | X86_EFLAGS_RF);
			vcpu->arch.rflags |= svm->nmi_singlestep_tf;
			if (!(vcpu->arch.guest_debug & KVM_GUESTDBG_SINGLESTEP))
				return;
		}
		if (vcpu->arch.guest_debug &
		    (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP))
			svm_debug_exit(svm, exit, X86_TRAP_DB);
		else
			nkvm_queue_exception(vcpu, X86_TRAP_DB, false, 0);
		return;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_BP:
		if (vcpu->arch.guest_debug & KVM_GUESTDBG_USE_SW_BP)
			svm_debug_exit(svm, exit, X86_TRAP_BP);
		else
			nkvm_queue_exception(vcpu, X86_TRAP_BP, false, 0);
		return;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_UD:
		exit->reason = X86_EXIT_UD;
		return;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_MC:
		/* The machine check was the host's: let its handler see it. */
		asm volatile("int $0x12");
		return;
	case SVM_EXIT_IOIO:
		exit->reason = X86_EXIT_IO;
		exit->io.in = info1 & SVM_IOIO_TYPE_IN;
		exit->io.string = info1 & SVM_IOIO_STR;
		exit->io.rep = info1 & SVM_IOIO_REP;
		exit->io.size = (info1 & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;
		exit->io.port = info1 >> SVM_IOIO_PORT_SHIFT;
		/* SVM gives the next RIP of I/O exits even without NRIP save. */
		exit->next_rip = c->exit_info_2;
		return;
	case SVM_EXIT_HLT:
		exit->reason = X86_EXIT_HLT;
		svm_set_next_rip(svm, exit, SVM_OP("\xf4"));
		return;
	case SVM_EXIT_CPUID:
		exit->reason = X86_EXIT_CPUID;
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\xa2"));
		return;
	case SVM_EXIT_MSR:
		exit->reason = info1 ? X86_EXIT_WRMSR : X86_EXIT_RDMSR;
		exit->msr.index = vcpu->arch.regs[VCPU_REGS_RCX];
		if (info1)
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x30"));
		else
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x32"));
		return;
	case SVM_EXIT_READ_CR0:
		/* Only while the hardware's CR0 is not the guest's. */
		exit->reason = X86_EXIT_CR_READ;
		exit->cr.cr = 0;
		exit->cr.gpr = -1;
		return;
	case SVM_EXIT_CR0_SEL_WRITE:
	case SVM_EXIT_WRITE_CR0:
	case SVM_EXIT_WRITE_CR4:
	case SVM_EXIT_WRITE_CR8:
		exit->reason = X86_EXIT_CR_WRITE;
		exit->cr.cr = code == SVM_EXIT_CR0_SEL_WRITE ? 0 :
			      code - SVM_EXIT_WRITE_CR0;
		/* With decode assists, EXITINFO1 names the source register. */
		if (decode_assists && (info1 & BIT_ULL(63)))
			exit->cr.gpr = info1 & 0xf;
		else
			exit->cr.gpr = -1;
		exit->next_rip = nrips ? c->next_rip : 0;
		return;
	case SVM_EXIT_XSETBV:
		exit->reason = X86_EXIT_XSETBV;
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xd1"));
		return;
	case SVM_EXIT_RDPMC:
		/* The guest's counters are the vPMU's (pmu.c), never the host's. */
		exit->reason = X86_EXIT_RDPMC;
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\x33"));
		return;
	case SVM_EXIT_VINTR:
		/* The interrupt window is open: common code injects now. */
		vcpu->stat.irq_window_exits++;
		c->int_ctl &= ~V_IRQ;
		c->intercept_misc1 &= ~INTERCEPT_VINTR;
		return;
	case SVM_EXIT_IRET:
		/* The NMI handler returns: NMIs unblock once IRET has run. */
		vcpu->stat.nmi_window_exits++;
		c->intercept_misc1 &= ~INTERCEPT_IRET;
		vcpu->arch.nmi_masked = false;
		svm->awaiting_iret = true;
		svm->iret_rip = vcpu->arch.regs[VCPU_REGS_RIP];
		return;
	case SVM_EXIT_NPF:
		exit->reason = X86_EXIT_NPF;
		exit->npf.gpa = c->exit_info_2;
		exit->npf.error_code = info1;
		return;
	case SVM_EXIT_SHUTDOWN:
		exit->reason = X86_EXIT_SHUTDOWN;
		return;
	case SVM_EXIT_RSM:
		exit->reason = X86_EXIT_RSM;
		return;
	case SVM_EXIT_READ_DR0 ... SVM_EXIT_WRITE_DR7:
		/* First use: hand the debug registers to the guest. */
		c->dr_read = 0;
		c->dr_write = 0;
		vcpu->arch.dr_guest_owned = true;
		return;
	case SVM_EXIT_INVD:
	case SVM_EXIT_WBINVD:
		/*
		 * Caches are coherent for the guest: nothing to do.  QEMU 7.2
		 * (TCG) reports INVD (0F 08) as WBINVD (0F 09): take either.
		 */
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\x09"));
		if (exit->reason != X86_EXIT_NONE) {
			exit->reason = X86_EXIT_NONE;
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x08"));
		}
		if (exit->reason == X86_EXIT_NONE)
			nkvm_skip_insn(vcpu, exit->next_rip);
		return;
	case SVM_EXIT_VMMCALL:
		exit->reason = X86_EXIT_HYPERCALL;
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xd9"));
		return;
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
		exit->reason = X86_EXIT_MONITOR_MWAIT;
		if (code == SVM_EXIT_MONITOR)
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xc8"));
		else
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xc9"));
		return;
	case SVM_EXIT_VMRUN:
		svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xd8"));
		if (exit->reason == X86_EXIT_NONE)
			svm_nested_vmrun(svm, exit->next_rip);
		return;
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
		if (code == SVM_EXIT_VMLOAD)
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xda"));
		else
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xdb"));
		if (exit->reason == X86_EXIT_NONE)
			svm_nested_vmload_vmsave(svm, code == SVM_EXIT_VMLOAD,
						 exit->next_rip);
		return;
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_INVLPGA:
		if (code == SVM_EXIT_STGI)
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xdc"));
		else if (code == SVM_EXIT_CLGI)
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xdd"));
		else
			svm_set_next_rip(svm, exit, SVM_OP("\x0f\x01\xdf"));
		if (exit->reason != X86_EXIT_NONE || !svm_nested_insn_check(svm))
			return;
		if (code == SVM_EXIT_INVLPGA)
			svm->asid_generation = 0;	/* a clean TLB */
		else
			svm->gif = code == SVM_EXIT_STGI;
		nkvm_skip_insn(vcpu, exit->next_rip);
		return;
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_RDTSCP:
	case SVM_EXIT_RDPRU:
		/* Not offered to the guest. */
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return;
	case SVM_EXIT_ERR:
		exit->reason = X86_EXIT_FAIL_ENTRY;
		return;
	default:
		exit->reason = X86_EXIT_UNHANDLED;
		return;
	}
}

/*
 * KVM_NKVM_FLOOR (floor.c): VMRUN again and again, the exit handled by
 * nothing.  floor.c made sure that the guest sits at a CPUID or VMMCALL,
 * which exits before it executes, so the guest runs no instruction and its
 * state needs no syncing back.  A host interrupt's exit is counted and
 * taken; any other exit ends the loop.
 */
static bool svm_floor_goes_on(u32 code)
{
	return code == SVM_EXIT_CPUID || code == SVM_EXIT_VMMCALL ||
	       code == SVM_EXIT_INTR || code == SVM_EXIT_NMI;
}

static int svm_floor(struct kvm_vcpu *vcpu, struct nkvm_floor *f)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;
	unsigned long *regs = vcpu->arch.regs;
	u64 t0, ns = 0;
	u32 code = SVM_EXIT_ERR;

	if ((vmcb->control.int_ctl & V_IRQ) || svm->irq_window ||
	    svm->nmi_singlestep || svm_guest_mode(svm))
		return -EBUSY;
	f->done = 0;
	f->interrupts = 0;
	vmcb->save.rax = regs[VCPU_REGS_RAX];
	vmcb->save.rsp = regs[VCPU_REGS_RSP];
	vmcb->save.rip = regs[VCPU_REGS_RIP];
	vmcb->save.rflags = vcpu->arch.rflags;

	while (f->done < f->iterations) {
		struct svm_cpu *sd;

		preempt_disable();
		sd = this_cpu_ptr(&svm_cpu);
		if (svm->asid_generation != sd->asid_generation)
			svm_new_asid(svm, sd);
		vmcb->control.nested_cr3 = vcpu->arch.mmu.root_pa;
		t0 = ktime_get_ns();
		do {
			local_irq_disable();
			svm_clgi();
			svm_switch_virt_ssbd(vcpu, true);
			raw_local_irq_enable();
			__svm_vcpu_run(svm->vmcb_pa, regs, page_to_phys(sd->host_vmcb),
				       &vcpu->arch.spec_ctrl, svm_entry_flags(vcpu));
			raw_local_irq_disable();
			svm_switch_virt_ssbd(vcpu, false);
			svm_stgi();
			local_irq_enable();
			vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
			code = vmcb->control.exit_code;
			f->done++;
			if (code == SVM_EXIT_INTR || code == SVM_EXIT_NMI)
				f->interrupts++;
		} while (svm_floor_goes_on(code) &&
			 f->done < f->iterations && f->done % 1024);
		ns += ktime_get_ns() - t0;
		if (hw_breakpoint_active())
			hw_breakpoint_restore();
		preempt_enable();
		if (!svm_floor_goes_on(code) || signal_pending(current))
			break;
		cond_resched();
	}
	f->exit_code = code;
	f->ns = ns;
	return 0;
}

static const struct kvm_tdp_format svm_npt_format = {
	.present_mask = _PAGE_PRESENT,
	/* NPT walks are user accesses: U/S must be set at every level. */
	.table_bits = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED,
	.leaf_bits = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED |
		     _PAGE_DIRTY,
	.writable_mask = _PAGE_RW,
	.huge_mask = _PAGE_PSE,
	.nx_mask = _PAGE_NX,
};

/*
 * CR8 writes exit when common code says something must see them (x86.h);
 * otherwise the guest writes V_TPR, which is read back after the exit.
 *
 * Besides, QEMU's TCG (7.2, target/i386/tcg/sysemu/misc_helper.c,
 * helper_write_crN() case 8) calls cpu_interrupt() without the BQL when a
 * guest writes CR8 while V_IRQ is pending, and aborts (an assertion in
 * tcg_handle_interrupt()): with CR8 writes always passed through, any
 * guest with IF clear that wrote CR8 while an interrupt window was open
 * brought the whole test bed down.  See Documentation/virt/testing.rst.
 */
static void svm_update_cr8_intercept(struct kvm_vcpu *vcpu, bool intercept)
{
	struct vcpu_svm *svm = to_svm(vcpu);
	struct vmcb_control *c = &svm->vmcb->control;

	/* L2 with V_INTR_MASKING writes its own V_TPR, never L1's TPR. */
	if (svm_guest_mode(svm) && (svm->nested.ctl.int_ctl & V_INTR_MASKING))
		intercept = false;

	if (intercept)
		c->cr_write |= BIT(8);
	else
		c->cr_write &= ~BIT(8);
}

/* IA32_SPEC_CTRL's read and write bits in the MSR permission map. */
static void svm_set_spec_ctrl_intercept(struct kvm_vcpu *vcpu, bool intercept)
{
	unsigned long *pm = to_svm(vcpu)->msrpm;

	/* Not in guest mode: the CPU reads the map only at accesses. */
	if (intercept) {
		__set_bit(2 * MSR_IA32_SPEC_CTRL, pm);
		__set_bit(2 * MSR_IA32_SPEC_CTRL + 1, pm);
	} else {
		__clear_bit(2 * MSR_IA32_SPEC_CTRL, pm);
		__clear_bit(2 * MSR_IA32_SPEC_CTRL + 1, pm);
	}
}

static struct kvm_x86_ops svm_ops __ro_after_init = {
	.name = "svm",
	.nested_state_format = KVM_STATE_NESTED_FORMAT_SVM,
	.tsc_aux_native = true,
	.virt_spec_ctrl = true,
	.sev_enc_context = true,
	.vcpu_after_set_cpuid = svm_update_rdtscp_intercept,
	.owner = THIS_MODULE,
	.vm_size = sizeof(struct kvm),
	.vcpu_size = sizeof(struct vcpu_svm),
	.tdp = &svm_npt_format,
	.hypercall_insn = (const u8[]){ 0x0f, 0x01, 0xd9 },	/* VMMCALL */

	.cpu_enable = svm_cpu_enable,
	.cpu_disable = svm_cpu_disable,
	.emergency_disable = svm_emergency_disable,

	.vcpu_create = svm_vcpu_create,
	.vcpu_free = svm_vcpu_free,
	.vcpu_reset = svm_vcpu_reset,
	.vcpu_load = svm_vcpu_load,
	.vcpu_put = svm_vcpu_put,

	.get_sregs = svm_get_sregs,
	.get_emul_sregs = svm_get_emul_sregs,
	.get_segment = svm_get_segment,
	.set_sregs = svm_set_sregs,
	.set_efer = svm_set_efer,
	.get_cpl = svm_get_cpl,
	.set_cr = svm_set_cr,
	.get_msr = svm_get_msr,
	.set_msr = svm_set_msr,

	.inject_exception = svm_inject_exception,
	.inject_nmi = svm_inject_nmi,
	.inject_irq = svm_inject_irq,
	.interrupt_allowed = svm_interrupt_allowed,
	.nmi_allowed = svm_nmi_allowed,
	.enable_irq_window = svm_enable_irq_window,
	.enable_nmi_window = svm_enable_nmi_window,
	.get_interrupt_shadow = svm_get_interrupt_shadow,
	.set_interrupt_shadow = svm_set_interrupt_shadow,

	.run = svm_run,
	.handle_exit = svm_handle_exit,
	.flush_tlb = svm_flush_tlb,
	.update_cr8_intercept = svm_update_cr8_intercept,
	.set_spec_ctrl_intercept = svm_set_spec_ctrl_intercept,
	.floor = svm_floor,
	.check_nested_events = svm_nested_check_events,
	.nested_tsc_offset = svm_nested_tsc_offset,
	.interrupt_wakes = svm_interrupt_wakes,
	.nested_triple_fault = svm_nested_triple_fault,
	.smm = true,
	.smi_allowed = svm_smi_allowed,
	.enter_smm = svm_enter_smm,
	.leave_smm = svm_leave_smm,
	.smm_leave_nested = svm_smm_leave_nested,
	.get_nested_state = svm_nested_get_state,
	.set_nested_state = svm_nested_set_state,
};

/* ---- Module load and unload -------------------------------------------- */

static void svm_free_cpu_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu, cpu);

		if (sd->hsave)
			__free_page(sd->hsave);
		if (sd->host_vmcb)
			__free_page(sd->host_vmcb);
		sd->hsave = NULL;
		sd->host_vmcb = NULL;
	}
}

static void svm_free_pages(void)
{
	svm_free_cpu_pages();
	if (iopm_pages)
		__free_pages(iopm_pages, IOPM_ORDER);
	iopm_pages = NULL;
	if (msrpm_all_pages)
		__free_pages(msrpm_all_pages, MSRPM_ORDER);
	msrpm_all_pages = NULL;
}

static int svm_alloc_pages(void)
{
	int cpu;

	iopm_pages = alloc_pages(GFP_KERNEL, IOPM_ORDER);
	if (!iopm_pages)
		return -ENOMEM;
	memset(page_address(iopm_pages), 0xff, PAGE_SIZE << IOPM_ORDER);
	msrpm_all_pages = alloc_pages(GFP_KERNEL, MSRPM_ORDER);
	if (!msrpm_all_pages)
		return -ENOMEM;
	memset(page_address(msrpm_all_pages), 0xff, PAGE_SIZE << MSRPM_ORDER);

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu, cpu);

		sd->hsave = alloc_pages_node(cpu_to_node(cpu),
					     GFP_KERNEL | __GFP_ZERO, 0);
		sd->host_vmcb = alloc_pages_node(cpu_to_node(cpu),
						 GFP_KERNEL | __GFP_ZERO, 0);
		if (!sd->hsave || !sd->host_vmcb)
			return -ENOMEM;
	}
	return 0;
}

/* Is this a CPU nkvm can run guests on? */
static int svm_probe(void)
{
	if (!boot_cpu_has(X86_FEATURE_SVM)) {
		pr_err("this CPU has no AMD SVM\n");
		return -ENODEV;
	}
	if (!boot_cpu_has(X86_FEATURE_NPT)) {
		pr_err("this CPU has SVM but no nested paging, which nkvm requires\n");
		return -EOPNOTSUPP;
	}
	nrips = boot_cpu_has(X86_FEATURE_NRIPS);
	decode_assists = boot_cpu_has(X86_FEATURE_DECODEASSISTS);
	if (svm_detect_tcg())
		static_branch_enable(&tcg_below);
	return 0;
}

static int __init svm_init(void)
{
	int r;

	svm_check_layout();

	r = svm_probe();
	if (r)
		return r;

	r = svm_alloc_pages();
	if (r)
		goto err;
	/*
	 * The guest's IA32_SPEC_CTRL is switched by __svm_vcpu_run() where
	 * the host has the MSR, unless the CPU does it (V_SPEC_CTRL).  The
	 * rest of SVM's entry and exit mitigations follow the host's feature
	 * bits directly (ALTERNATIVEs in vmenter.S).
	 */
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL) &&
	    !boot_cpu_has(X86_FEATURE_V_SPEC_CTRL))
		svm_run_flags |= NKVM_RUN_SPEC_CTRL;

	svm_ops.nested_svm = nested;
	r = nkvm_x86_register(&svm_ops);
	if (r)
		goto err;
	pr_info("SVM with nested paging%s%s\n",
		nrips ? ", NRIP save" : ", without NRIP save",
		static_key_enabled(&tcg_below) ?
		", on QEMU's TCG (injected interrupts exit at once, failed VMRUNs undone)" : "");
	return 0;
err:
	svm_free_pages();
	return r;
}

static void __exit svm_exit(void)
{
	nkvm_x86_unregister();
	svm_free_pages();
}

module_init(svm_init);
module_exit(svm_exit);
