// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: System Management Mode, common to both vendors.
 *
 * An SMI (KVM_SMI, KVM_SET_VCPU_EVENTS, or an APIC message with delivery
 * mode SMI) is latched in vcpu->arch.smi_pending and taken before the next
 * entry once nothing holds it back: no event delivery under way, no
 * pending exception, not in SMM already, and whatever the backend adds
 * (GIF on SVM).  Taking it writes the state-save map to SMRAM at
 * SMBASE + 0xfe00 (the AMD64 layout when the guest's CPUID offers long
 * mode, the 32-bit one otherwise, as Linux picks), masks NMIs and starts
 * the vCPU at SMBASE + 0x8000 in a real-mode-like state.  From then on the
 * vCPU sees the memslots of address space 1 and runs on that address
 * space's root.  RSM, outside the guest's own real SMM (the CPU never is
 * in SMM), exits (an intercept on SVM, #UD on VMX) and is done here: the
 * state comes back from SMRAM and the vCPU returns to address space 0.
 * The backend may stash and restore state of its own in the map (SVM: the
 * L2 guest an SMI interrupted).
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/moduleparam.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trapnr.h>

#include "x86.h"
#include "cpuid.h"
#include "lapic.h"
#include "hypercall.h"

#include "smm.h"

bool kvm_smm_param = true;
module_param_named(smm, kvm_smm_param, bool, 0444);
MODULE_PARM_DESC(smm, "Offer System Management Mode (KVM_CAP_X86_SMM) to VMMs (default on)");

/* The manuals' offsets run from SMBASE + 0x8000; the map is at 0x7e00. */
static void *smstate(u8 *buf, u32 off)
{
	return buf + off - 0x7e00;
}

static void put32(u8 *buf, u32 off, u32 v)
{
	memcpy(smstate(buf, off), &v, sizeof(v));
}

static void put16(u8 *buf, u32 off, u16 v)
{
	memcpy(smstate(buf, off), &v, sizeof(v));
}

static void put64(u8 *buf, u32 off, u64 v)
{
	memcpy(smstate(buf, off), &v, sizeof(v));
}

static u32 get32(const u8 *buf, u32 off)
{
	u32 v;

	memcpy(&v, buf + off - 0x7e00, sizeof(v));
	return v;
}

static u16 get16(const u8 *buf, u32 off)
{
	u16 v;

	memcpy(&v, buf + off - 0x7e00, sizeof(v));
	return v;
}

static u64 get64(const u8 *buf, u32 off)
{
	u64 v;

	memcpy(&v, buf + off - 0x7e00, sizeof(v));
	return v;
}

void nkvm_smm_put64(u8 *buf, u32 off, u64 v)
{
	put64(buf, off, v);
}
EXPORT_SYMBOL_GPL(nkvm_smm_put64);

u64 nkvm_smm_get64(const u8 *buf, u32 off)
{
	return get64(buf, off);
}
EXPORT_SYMBOL_GPL(nkvm_smm_get64);

bool kvm_smm_guest_has_lm(struct kvm_vcpu *vcpu)
{
	return kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_EDX, BIT(29));
}
EXPORT_SYMBOL_GPL(kvm_smm_guest_has_lm);

/* A segment's attributes as the map keeps them: descriptor bits 8-23. */
static u32 seg_flags(const struct kvm_segment *s)
{
	if (s->unusable)
		return (u32)(s->type & 0xf) << 8 | (u32)s->s << 12 |
		       (u32)(s->dpl & 3) << 13;
	return (u32)(s->type & 0xf) << 8 | (u32)s->s << 12 |
	       (u32)(s->dpl & 3) << 13 | (u32)s->present << 15 |
	       (u32)s->avl << 20 | (u32)s->l << 21 | (u32)s->db << 22 |
	       (u32)s->g << 23;
}

static void seg_from_flags(struct kvm_segment *s, u16 sel, u32 flags,
			   u32 limit, u64 base)
{
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = (flags >> 8) & 0xf;
	s->s = (flags >> 12) & 1;
	s->dpl = (flags >> 13) & 3;
	s->present = (flags >> 15) & 1;
	s->avl = (flags >> 20) & 1;
	s->l = (flags >> 21) & 1;
	s->db = (flags >> 22) & 1;
	s->g = (flags >> 23) & 1;
	s->unusable = !s->present;
	s->padding = 0;
}

/* ES, CS, SS, DS, FS, GS: the map's order. */
static struct kvm_segment *sreg(struct kvm_sregs *s, int n)
{
	struct kvm_segment *segs[6] = {
		&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs
	};

	return segs[n];
}

static void save_state_32(struct kvm_vcpu *vcpu, struct kvm_sregs *s, u8 *buf)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	int i;

	put32(buf, 0x7ffc, s->cr0);
	put32(buf, 0x7ff8, s->cr3);
	put32(buf, 0x7ff4, arch->rflags);
	put32(buf, 0x7ff0, arch->regs[VCPU_REGS_RIP]);
	for (i = 0; i < 8; i++)
		put32(buf, 0x7fd0 + i * 4, arch->regs[i]);
	put32(buf, 0x7fcc, arch->dr6);
	put32(buf, 0x7fc8, arch->dr7);

	put32(buf, 0x7fc4, s->tr.selector);
	put32(buf, 0x7f64, s->tr.base);
	put32(buf, 0x7f60, s->tr.limit);
	put32(buf, 0x7f5c, seg_flags(&s->tr));
	put32(buf, 0x7fc0, s->ldt.selector);
	put32(buf, 0x7f80, s->ldt.base);
	put32(buf, 0x7f7c, s->ldt.limit);
	put32(buf, 0x7f78, seg_flags(&s->ldt));
	put32(buf, 0x7f74, s->gdt.base);
	put32(buf, 0x7f70, s->gdt.limit);
	put32(buf, 0x7f58, s->idt.base);
	put32(buf, 0x7f54, s->idt.limit);

	for (i = 0; i < 6; i++) {
		struct kvm_segment *seg = sreg(s, i);
		u32 off = i < 3 ? 0x7f84 + i * 12 : 0x7f2c + (i - 3) * 12;

		put32(buf, 0x7fa8 + i * 4, seg->selector);
		put32(buf, off, seg_flags(seg));
		put32(buf, off + 4, seg->limit);
		put32(buf, off + 8, seg->base);
	}

	put32(buf, 0x7f14, s->cr4);
	put32(buf, 0x7efc, 0x00020000);		/* revision */
	put32(buf, 0x7ef8, arch->smbase);
}

static void save_seg_64(u8 *buf, u32 off, const struct kvm_segment *seg)
{
	put16(buf, off, seg->selector);
	put16(buf, off + 2, seg_flags(seg) >> 8);
	put32(buf, off + 4, seg->limit);
	put64(buf, off + 8, seg->base);
}

static void save_state_64(struct kvm_vcpu *vcpu, struct kvm_sregs *s, u8 *buf)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	int i;

	for (i = 0; i < 16; i++)
		put64(buf, 0x7ff8 - i * 8, arch->regs[i]);
	put64(buf, 0x7f78, arch->regs[VCPU_REGS_RIP]);
	put32(buf, 0x7f70, arch->rflags);
	put64(buf, 0x7f68, arch->dr6);
	put64(buf, 0x7f60, arch->dr7);
	put64(buf, 0x7f58, s->cr0);
	put64(buf, 0x7f50, s->cr3);
	put64(buf, 0x7f48, s->cr4);
	put32(buf, 0x7f00, arch->smbase);
	put32(buf, 0x7efc, 0x00020064);		/* revision */
	put64(buf, 0x7ed0, s->efer);

	save_seg_64(buf, 0x7e90, &s->tr);
	put32(buf, 0x7e84, s->idt.limit);
	put64(buf, 0x7e88, s->idt.base);
	save_seg_64(buf, 0x7e70, &s->ldt);
	put32(buf, 0x7e64, s->gdt.limit);
	put64(buf, 0x7e68, s->gdt.base);
	for (i = 0; i < 6; i++)
		save_seg_64(buf, 0x7e00 + i * 16, sreg(s, i));
}

void kvm_smm_changed(struct kvm_vcpu *vcpu, bool smm)
{
	vcpu->arch.smm = smm;
	if (!smm) {
		vcpu->arch.smm_inside_nmi = false;
		/* The PDPTRs come from guest memory again, as on Linux. */
		vcpu->arch.pdptrs_from_user = false;
	}
	/*
	 * Another address space: another root, other memslots.  (A latched
	 * SMI or INIT is looked at before every entry anyway.)
	 */
	kvm_make_request(vcpu, KVM_REQ_MMU_RELOAD);
}
EXPORT_SYMBOL_GPL(kvm_smm_changed);

/* May the pending SMI be taken now? */
static bool kvm_smi_allowed(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	if (arch->smm || arch->exception.pending || arch->exception.injected ||
	    arch->nmi_injected || arch->interrupt.injected)
		return false;
	return !kvm_x86_ops->smi_allowed || kvm_x86_ops->smi_allowed(vcpu);
}

static void kvm_enter_smm(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	bool lm = kvm_smm_guest_has_lm(vcpu);
	struct kvm_segment cs, ds;
	struct kvm_sregs s;
	u8 buf[NKVM_SMRAM_SAVE_SIZE];
	int i;

	memset(buf, 0, sizeof(buf));
	memset(&s, 0, sizeof(s));
	kvm_x86_ops->get_sregs(vcpu, &s);
	if (lm)
		save_state_64(vcpu, &s, buf);
	else
		save_state_32(vcpu, &s, buf);

	/* The backend's part (SVM: out of L2, which the map remembers). */
	if (kvm_x86_ops->enter_smm)
		kvm_x86_ops->enter_smm(vcpu, buf);

	kvm_smm_changed(vcpu, true);
	/* SMRAM missing is the VMM's problem: the guest goes on, as on Linux. */
	nkvm_vcpu_write_guest(vcpu, arch->smbase + NKVM_SMRAM_SAVE_OFFSET, buf,
			      sizeof(buf));

	if (arch->nmi_masked)
		arch->smm_inside_nmi = true;
	else
		arch->nmi_masked = true;

	arch->rflags = X86_EFLAGS_FIXED;
	arch->regs[VCPU_REGS_RIP] = 0x8000;
	arch->dr7 = 0x400;
	kvm_x86_ops->set_interrupt_shadow(vcpu, 0);

	memset(&s, 0, sizeof(s));
	kvm_x86_ops->get_sregs(vcpu, &s);
	s.cr0 &= ~(X86_CR0_PE | X86_CR0_EM | X86_CR0_TS | X86_CR0_PG);
	s.cr4 = 0;
	s.idt.base = 0;
	s.idt.limit = 0;	/* as Linux (and hardware) leave it */
	/*
	 * With paging off, long mode is not active.  A CPU that saves the
	 * 32-bit map has no long mode at all, so a vCPU that userspace put
	 * in long mode without offering it loses EFER.LME too (the map has
	 * no EFER to bring it back: RSM to a 64-bit CS shuts down).  QEMU's
	 * TCG hangs the bed's CPU if it runs the handler with LME and LMA
	 * left set and paging off.
	 */
	if (lm)
		s.efer = 0;
	else
		s.efer &= ~(EFER_LME | EFER_LMA);

	memset(&cs, 0, sizeof(cs));
	cs.selector = (arch->smbase >> 4) & 0xffff;
	cs.base = arch->smbase;
	cs.limit = 0xffffffff;
	cs.type = 3;
	cs.s = 1;
	cs.present = 1;
	cs.g = 1;
	ds = cs;
	ds.selector = 0;
	ds.base = 0;
	s.cs = cs;
	for (i = 0; i < 6; i++)
		if (i != 1)
			*sreg(&s, i) = ds;
	kvm_x86_ops->set_sregs(vcpu, &s);
	kvm_vcpu_cpuid_runtime(vcpu);
	kvm_x86_ops->flush_tlb(vcpu);
}

/* SMIs posted since the last entry (KVM_SMI, the APIC) are pending now. */
void kvm_smm_latch_smi(struct kvm_vcpu *vcpu)
{
	if (kvm_check_request(vcpu, KVM_REQ_SMI))
		vcpu->arch.smi_pending = true;
	if (kvm_lapic_in_kernel(vcpu) && kvm_lapic_take_smi(vcpu))
		vcpu->arch.smi_pending = true;
	/* A backend without SMM drops them (the APIC's would wake a HLT). */
	if (!kvm_smm_supported())
		vcpu->arch.smi_pending = false;
}

/*
 * Before an entry: take the pending SMI if it may be taken.  True if the
 * vCPU entered SMM (its state and address space changed: the entry starts
 * over).
 */
bool kvm_smm_check_smi(struct kvm_vcpu *vcpu)
{
	kvm_smm_latch_smi(vcpu);
	if (!vcpu->arch.smi_pending || !kvm_smi_allowed(vcpu))
		return false;
	vcpu->arch.smi_pending = false;
	kvm_enter_smm(vcpu);
	return true;
}

static int load_state_32(struct kvm_vcpu *vcpu, const u8 *buf,
			 struct kvm_sregs *s)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	int i;

	s->cr0 = get32(buf, 0x7ffc);
	s->cr3 = get32(buf, 0x7ff8);
	arch->rflags = get32(buf, 0x7ff4) | X86_EFLAGS_FIXED;
	arch->regs[VCPU_REGS_RIP] = get32(buf, 0x7ff0);
	for (i = 0; i < 8; i++)
		arch->regs[i] = get32(buf, 0x7fd0 + i * 4);
	arch->dr6 = get32(buf, 0x7fcc);
	arch->dr7 = get32(buf, 0x7fc8);

	seg_from_flags(&s->tr, get32(buf, 0x7fc4), get32(buf, 0x7f5c),
		       get32(buf, 0x7f60), get32(buf, 0x7f64));
	seg_from_flags(&s->ldt, get32(buf, 0x7fc0), get32(buf, 0x7f78),
		       get32(buf, 0x7f7c), get32(buf, 0x7f80));
	s->gdt.base = get32(buf, 0x7f74);
	s->gdt.limit = get32(buf, 0x7f70);
	s->idt.base = get32(buf, 0x7f58);
	s->idt.limit = get32(buf, 0x7f54);
	for (i = 0; i < 6; i++) {
		u32 off = i < 3 ? 0x7f84 + i * 12 : 0x7f2c + (i - 3) * 12;

		seg_from_flags(sreg(s, i), get32(buf, 0x7fa8 + i * 4),
			       get32(buf, off), get32(buf, off + 4),
			       get32(buf, off + 8));
	}
	s->cr4 = get32(buf, 0x7f14);
	arch->smbase = get32(buf, 0x7ef8);
	return 0;
}

static void load_seg_64(const u8 *buf, u32 off, struct kvm_segment *seg)
{
	seg_from_flags(seg, get16(buf, off), (u32)get16(buf, off + 2) << 8,
		       get32(buf, off + 4), get64(buf, off + 8));
}

static int load_state_64(struct kvm_vcpu *vcpu, const u8 *buf,
			 struct kvm_sregs *s)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	u64 dr6, dr7;
	int i;

	dr6 = get64(buf, 0x7f68);
	dr7 = get64(buf, 0x7f60);
	/* DR6 and DR7 are 32-bit registers. */
	if ((dr6 >> 32) || (dr7 >> 32))
		return -EINVAL;
	for (i = 0; i < 16; i++)
		arch->regs[i] = get64(buf, 0x7ff8 - i * 8);
	arch->regs[VCPU_REGS_RIP] = get64(buf, 0x7f78);
	arch->rflags = get32(buf, 0x7f70) | X86_EFLAGS_FIXED;
	arch->dr6 = dr6;
	arch->dr7 = dr7;
	s->cr0 = get64(buf, 0x7f58);
	s->cr3 = get64(buf, 0x7f50);
	s->cr4 = get64(buf, 0x7f48);
	arch->smbase = get32(buf, 0x7f00);
	s->efer = get64(buf, 0x7ed0);
	/* LMA follows LME and paging, whatever the map says. */
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG))
		s->efer |= EFER_LMA;
	else
		s->efer &= ~EFER_LMA;

	load_seg_64(buf, 0x7e90, &s->tr);
	s->idt.limit = get32(buf, 0x7e84);
	s->idt.base = get64(buf, 0x7e88);
	load_seg_64(buf, 0x7e70, &s->ldt);
	s->gdt.limit = get32(buf, 0x7e64);
	s->gdt.base = get64(buf, 0x7e68);
	for (i = 0; i < 6; i++)
		load_seg_64(buf, 0x7e00 + i * 16, sreg(s, i));
	return 0;
}

/*
 * A #UD in SMM: RSM where the backend cannot make it exit (VMX)?  The
 * instruction is read at CS:RIP, which SMM code runs in real-address or
 * 32-bit flat form.
 */
bool kvm_smm_rsm_at_rip(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs s;
	u8 insn[2];
	u64 la;

	if (!vcpu->arch.smm)
		return false;
	kvm_x86_ops->get_sregs(vcpu, &s);
	la = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	if (!(vcpu->arch.efer & EFER_LMA) || !s.cs.l)
		la = (u32)(la + s.cs.base);
	if (kvm_linear_copy(vcpu, la, insn, sizeof(insn), false))
		return false;
	return insn[0] == 0x0f && insn[1] == 0xaa;
}

/*
 * RSM.  Returns 1 to go on, 0 for an exit userspace sees (the kvm_run page
 * filled in): KVM_EXIT_SHUTDOWN when the saved state cannot be loaded, as
 * a real CPU shuts down, or -EFAULT when SMRAM is not there to read.
 */
int kvm_emulate_rsm(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;
	bool lm = kvm_smm_guest_has_lm(vcpu);
	u8 buf[NKVM_SMRAM_SAVE_SIZE];
	struct kvm_sregs s;
	int r;

	if (!arch->smm) {
		nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
		return 1;
	}
	if (nkvm_vcpu_read_guest(vcpu, arch->smbase + NKVM_SMRAM_SAVE_OFFSET,
				 buf, sizeof(buf)))
		return -EFAULT;

	if (!arch->smm_inside_nmi)
		arch->nmi_masked = false;
	kvm_smm_changed(vcpu, false);

	/* The backend's part first (SVM: back into the L2 the SMI left). */
	if (kvm_x86_ops->leave_smm && kvm_x86_ops->leave_smm(vcpu, buf))
		goto shutdown;
	memset(&s, 0, sizeof(s));
	kvm_x86_ops->get_sregs(vcpu, &s);
	r = lm ? load_state_64(vcpu, buf, &s) : load_state_32(vcpu, buf, &s);
	if (r || !kvm_sregs_valid(vcpu, &s))
		goto shutdown;
	if (kvm_x86_ops->set_sregs(vcpu, &s))
		goto shutdown;
	kvm_x86_ops->set_interrupt_shadow(vcpu, 0);
	kvm_vcpu_cpuid_runtime(vcpu);
	kvm_x86_ops->flush_tlb(vcpu);
	return 1;

shutdown:
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

/* RESET or INIT: out of SMM, nothing pending. */
void kvm_smm_reset(struct kvm_vcpu *vcpu, bool init)
{
	if (vcpu->arch.smm)
		kvm_smm_changed(vcpu, false);
	vcpu->arch.smi_pending = false;
	kvm_check_request(vcpu, KVM_REQ_SMI);
	if (!init)
		vcpu->arch.smbase = 0x30000;
}

void kvm_smm_get_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	ev->smi.smm = arch->smm;
	ev->smi.pending = arch->smi_pending ||
			  test_bit(KVM_REQ_SMI, &vcpu->requests);
	ev->smi.smm_inside_nmi = arch->smm_inside_nmi;
	ev->smi.latched_init = arch->smm && kvm_lapic_in_kernel(vcpu) &&
			       kvm_lapic_init_posted(vcpu);
}

int kvm_smm_set_events(struct kvm_vcpu *vcpu, const struct kvm_vcpu_events *ev)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	if (!(ev->flags & KVM_VCPUEVENT_VALID_SMM))
		return 0;
	if (!kvm_smm_supported() &&
	    (ev->smi.smm || ev->smi.pending || ev->smi.smm_inside_nmi ||
	     ev->smi.latched_init))
		return -EINVAL;
	if (!!ev->smi.smm != arch->smm) {
		/* Userspace moves the vCPU in or out: no L2 across that. */
		if (kvm_x86_ops->smm_leave_nested)
			kvm_x86_ops->smm_leave_nested(vcpu);
		kvm_smm_changed(vcpu, ev->smi.smm);
	}
	kvm_check_request(vcpu, KVM_REQ_SMI);
	arch->smi_pending = ev->smi.pending;
	arch->smm_inside_nmi = ev->smi.smm && ev->smi.smm_inside_nmi;
	/* An INIT latched in SMM; outside it one is taken at once. */
	if (kvm_lapic_in_kernel(vcpu) &&
	    (ev->smi.latched_init || ev->smi.smm))
		kvm_lapic_set_init_posted(vcpu, ev->smi.latched_init);
	return 0;
}
