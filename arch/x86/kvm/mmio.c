// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: MMIO and string port I/O through the instruction emulator.
 *
 * The glue between exits and emulate.c: a nested page fault outside every
 * memslot, a write to a read-only slot, or an INS/OUTS intercept runs the
 * emulator on the instruction at RIP.  Its accesses are translated with
 * the guest's page tables (mmu/walk.c) and go to guest RAM through the
 * memslots, to an in-kernel device on the MMIO or PIO bus, or else to
 * userspace: one access per exit (KVM_EXIT_MMIO or KVM_EXIT_IO).  A read
 * waits for userspace's data and the step runs again on the next KVM_RUN
 * (emulate.h has the restart protocol: nothing reaches a device twice).
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/processor.h>

#include "x86.h"
#include "emulate.h"
#include "lapic.h"

/* The one access an exit to userspace carries. */
struct kvm_emul_access {
	bool held;
	bool write;
	bool pio;
	u64 addr;		/* guest-physical address or port */
	u8 len;
	u16 count;		/* port input: elements of len bytes */
	u8 data[8];
};

struct kvm_emul_state {
	struct x86_emulate_ctxt ctxt;
	struct x86_walk_env walk;	/* fixed parts: kvm_walk_env_init() */
	struct kvm_emul_sregs sregs;	/* of the emulation under way */
	struct kvm_emul_access access;
	bool pending;		/* a step waits for userspace */
	u64 rip;		/* where the pending step's instruction is */
	/*
	 * The memslot of the last page table entry or instruction read: they
	 * are usually in one.  Valid only within one srcu read section of
	 * kvm->srcu: reset by kvm_walk_env_update() and on every restart.
	 */
	struct kvm_memory_slot *slot;
	/* The nested page fault that started the emulation (emul_data_gpa). */
	bool hint;
	bool hint_write;
	bool hint_no_slot;	/* no memslot there (this srcu section only) */
	u64 hint_gpa;
};

static struct kvm_emul_state *emul(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.emul;
}

static struct kvm_vcpu *ctxt_vcpu(struct x86_emulate_ctxt *ctxt)
{
	return ctxt->opaque;
}

/* ---- Guest page tables --------------------------------------------------- */

/* The memslot of guest RAM at @gfn, NULL if none; see kvm_emul_state. */
static struct kvm_memory_slot *emul_slot(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	struct kvm_emul_state *es = emul(vcpu);
	struct kvm_memory_slot *slot = es->slot;

	if (slot && gfn - slot->base_gfn < slot->npages &&
	    slot->as_id == kvm_arch_vcpu_memslots_id(vcpu))
		return slot;
	slot = kvm_vcpu_gfn_to_memslot(vcpu, gfn);
	if (slot)
		es->slot = slot;
	return slot;
}

/*
 * An entry of the guest's paging structures: 4 or 8 bytes, aligned, so
 * within one page of one memslot; __get_user() is the cheapest read of it
 * (the memslot's whole range passed access_ok() when it was created).
 */
static __always_inline int walk_read_pte(void *opaque, u64 gpa, u64 *pte,
					 unsigned int size)
{
	struct kvm_vcpu *vcpu = opaque;
	struct kvm_memory_slot *slot;
	unsigned long hva;
	u32 v32;

	*pte = 0;
	if ((size != 4 && size != 8) || (gpa & (size - 1)))
		return nkvm_vcpu_read_guest(vcpu, gpa, pte, size) ? -EFAULT : 0;
	slot = emul_slot(vcpu, gpa >> PAGE_SHIFT);
	if (!slot)
		return -EFAULT;
	hva = kvm_memslot_hva(slot, gpa >> PAGE_SHIFT) + offset_in_page(gpa);
	if (size == 8)
		return __get_user(*pte, (u64 __user *)hva) ? -EFAULT : 0;
	if (__get_user(v32, (u32 __user *)hva))
		return -EFAULT;
	*pte = v32;
	return 0;
}

/*
 * The walker is built here, with walk_read_pte() called directly: one
 * indirect call and a function's entry and exit less per level (the
 * walker is the same pure-logic file the unit tests build with callbacks).
 */
#define X86_WALK_READ_PTE(env, gpa, pte, size) \
	walk_read_pte((env)->opaque, (gpa), (pte), (size))
#include "mmu/walk.c"

/* 0 if swapped, 1 if the value had changed, -EFAULT on a fault. */
static int cmpxchg_user_u64(u64 __user *p, u64 old, u64 new)
{
	return __try_cmpxchg_user(p, &old, new, efault64);
}

static int cmpxchg_user_u32(u32 __user *p, u32 old, u32 new)
{
	return __try_cmpxchg_user(p, &old, new, efault32);
}

/*
 * Set accessed/dirty bits as the CPU would: atomically, in the VMM's
 * mapping of guest RAM.  0 if swapped, 1 if the entry changed meanwhile.
 */
static int walk_cmpxchg_pte(void *opaque, u64 gpa, u64 old, u64 new,
			    unsigned int size)
{
	struct kvm_vcpu *vcpu = opaque;
	struct kvm_memory_slot *slot;
	unsigned long hva;

	slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa >> PAGE_SHIFT);
	if (!slot || (slot->flags & KVM_MEM_READONLY))
		return -EFAULT;
	hva = kvm_memslot_hva(slot, gpa >> PAGE_SHIFT) + offset_in_page(gpa);
	if (!access_ok((void __user *)hva, size))
		return -EFAULT;
	if (size == 8)
		return cmpxchg_user_u64((u64 __user *)hva, old, new);
	return cmpxchg_user_u32((u32 __user *)hva, old, new);
}

/* The walk's environment that lasts as long as the vCPU. */
static void kvm_walk_env_init(struct kvm_vcpu *vcpu, struct x86_walk_env *env)
{
	*env = (struct x86_walk_env) {
		/* The hardware walks the guest's tables: its rules apply. */
		.amd = boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
		       boot_cpu_data.x86_vendor == X86_VENDOR_HYGON,
		.opaque = vcpu,
		.read_pte = walk_read_pte,
		.cmpxchg_pte = walk_cmpxchg_pte,
	};
}

/* The rest: the paging state now, and the CPUID model's part. */
static void kvm_walk_env_update(struct kvm_vcpu *vcpu, struct x86_walk_env *env,
				const struct kvm_emul_sregs *s)
{
	/* A new srcu read section may have begun: forget the last slot. */
	emul(vcpu)->slot = NULL;
	env->cr0 = s->cr0;
	/* Without paging x86_walk() looks at nothing else. */
	if (!(s->cr0 & X86_CR0_PG))
		return;
	env->cr3 = s->cr3;
	env->cr4 = s->cr4;
	env->efer = s->efer;
	env->maxphyaddr = vcpu->arch.model.maxphyaddr;
	env->gbpages = vcpu->arch.model.gbpages;
}

/* Linear to guest-physical for the emulator; a #PF goes into @fault. */
static int emul_translate(struct x86_emulate_ctxt *ctxt, u64 la, u32 access,
			  u64 *gpa, struct x86_exception *fault)
{
	struct kvm_emul_state *es = emul(ctxt_vcpu(ctxt));
	struct x86_walk_result res;

	/* Without paging (the emulator wrapped la to 32 bits already). */
	if (!(es->walk.cr0 & X86_CR0_PG)) {
		*gpa = la;
		return X86EMUL_CONTINUE;
	}
	switch (x86_walk(&es->walk, la, access, &res, fault)) {
	case X86_WALK_OK:
		*gpa = res.gpa;
		return X86EMUL_CONTINUE;
	case X86_WALK_FAULT:
		return X86EMUL_PROPAGATE_FAULT;
	case X86_WALK_RETRY:
		return X86EMUL_RETRY;
	default:		/* page tables outside guest RAM */
		return X86EMUL_UNHANDLEABLE;
	}
}

/*
 * The guest-physical address of a data access.  When a nested page fault
 * at the final translation of a data access started the emulation, its
 * GPA stands for the guest's page walk, as on Linux: the hardware did that
 * walk and its checks (a write's too, if the fault was a write).  Only for
 * an instruction with a single memory operand, and at the same offset in
 * the page: MOVS's other operand, or the other page of an access that
 * crosses one, is walked.
 */
static int emul_data_gpa(struct x86_emulate_ctxt *ctxt, u64 la, u32 access,
			 u64 *gpa, bool *no_slot, struct x86_exception *fault)
{
	struct kvm_emul_state *es = emul(ctxt_vcpu(ctxt));

	if (es->hint && ctxt->single_mem &&
	    offset_in_page(la) == offset_in_page(es->hint_gpa) &&
	    (es->hint_write || !(access & PFERR_WRITE_MASK))) {
		*gpa = es->hint_gpa;
		*no_slot = es->hint_no_slot;
		return X86EMUL_CONTINUE;
	}
	*no_slot = false;
	return emul_translate(ctxt, la, access, gpa, fault);
}

/* ---- The emulator's callbacks ------------------------------------------ */

static bool gpa_is_ram(struct kvm_vcpu *vcpu, u64 gpa, bool write)
{
	struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu,
							  gpa >> PAGE_SHIFT);

	/* A write to a read-only slot is MMIO, as on Linux. */
	return slot && !(write && (slot->flags & KVM_MEM_READONLY));
}

/* Hold an access for the exit; false if this exit already carries one. */
static bool emul_hold(struct kvm_vcpu *vcpu, bool write, bool pio, u64 addr,
		      unsigned int len, const void *data)
{
	struct kvm_emul_access *a = &emul(vcpu)->access;

	if (a->held)
		return false;
	*a = (struct kvm_emul_access) {
		.held = true, .write = write, .pio = pio,
		.addr = addr, .len = len, .count = 1,
	};
	if (write)
		memcpy(a->data, data, len);
	return true;
}

/*
 * The emulator's fetches stay within a 4 KiB page, so within one memslot:
 * one lookup, then a copy from the VMM's mapping (whose whole range passed
 * access_ok() when the memslot was created).  The usual fetch is the
 * longest one: copied with a constant size, it needs no run-time object
 * size check (hardened usercopy), which would cost as much as the rest.
 */
static int emul_fetch(struct x86_emulate_ctxt *ctxt, u64 la, void *buf,
		      unsigned int len, u32 access, struct x86_exception *fault)
{
	struct kvm_vcpu *vcpu = ctxt_vcpu(ctxt);
	struct kvm_memory_slot *slot;
	void __user *hva;
	unsigned long left;
	u64 gpa;
	int r;

	r = emul_translate(ctxt, la, access, &gpa, fault);
	if (r != X86EMUL_CONTINUE)
		return r;
	if (WARN_ON_ONCE(offset_in_page(gpa) + len > PAGE_SIZE))
		return X86EMUL_UNHANDLEABLE;
	/* Instructions are never fetched from MMIO. */
	slot = emul_slot(vcpu, gpa >> PAGE_SHIFT);
	if (!slot)
		return X86EMUL_UNHANDLEABLE;
	hva = (void __user *)(kvm_memslot_hva(slot, gpa >> PAGE_SHIFT) +
			      offset_in_page(gpa));
	if (len == X86EMUL_MAX_INSN)
		left = __copy_from_user(buf, hva, X86EMUL_MAX_INSN);
	else
		left = __copy_from_user(buf, hva, len);
	return left ? X86EMUL_UNHANDLEABLE : X86EMUL_CONTINUE;
}

/*
 * A data access: guest RAM through the memslots, the vCPU's own APIC page
 * (it moves with the base MSR, so it is not a bus device), a device on the
 * MMIO bus, or else userspace (held for the exit).
 */
static int emul_mem(struct x86_emulate_ctxt *ctxt, u64 la, void *val,
		    unsigned int len, u32 access, struct x86_exception *fault,
		    bool write)
{
	struct kvm_vcpu *vcpu = ctxt_vcpu(ctxt);
	bool lapic = kvm_lapic_in_kernel(vcpu);
	bool no_slot;
	u64 gpa;
	int r;

	r = emul_data_gpa(ctxt, la, access, &gpa, &no_slot, fault);
	if (r != X86EMUL_CONTINUE)
		return r;

	/* (The fault's memslot lookup found nothing there: not again.) */
	if (!no_slot && gpa_is_ram(vcpu, gpa, write)) {
		r = write ? nkvm_vcpu_write_guest(vcpu, gpa, val, len) :
			    nkvm_vcpu_read_guest(vcpu, gpa, val, len);
		return r ? X86EMUL_UNHANDLEABLE : X86EMUL_CONTINUE;
	}
	if (write) {
		if ((lapic && !kvm_lapic_mmio_write(vcpu, gpa, len, val)) ||
		    !kvm_io_bus_write(vcpu, KVM_MMIO_BUS, gpa, len, val))
			return X86EMUL_CONTINUE;
		return emul_hold(vcpu, true, false, gpa, len, val) ?
		       X86EMUL_CONTINUE : X86EMUL_IO_NEEDED;
	}
	if ((lapic && !kvm_lapic_mmio_read(vcpu, gpa, len, val)) ||
	    !kvm_io_bus_read(vcpu, KVM_MMIO_BUS, gpa, len, val))
		return X86EMUL_CONTINUE;
	emul_hold(vcpu, false, false, gpa, len, NULL);
	return X86EMUL_IO_NEEDED;
}

static int emul_read(struct x86_emulate_ctxt *ctxt, u64 la, void *val,
		     unsigned int len, u32 access, struct x86_exception *fault)
{
	return emul_mem(ctxt, la, val, len, access, fault, false);
}

static int emul_write(struct x86_emulate_ctxt *ctxt, u64 la, const void *val,
		      unsigned int len, u32 access, struct x86_exception *fault)
{
	return emul_mem(ctxt, la, (void *)val, len, access, fault, true);
}

/*
 * @count inputs of @size bytes from @port: an in-kernel device answers
 * them all (if it goes away in between, the rest read as 0, as on Linux),
 * or else userspace does, in one exit.
 */
static int emul_pio_in(struct x86_emulate_ctxt *ctxt, u16 port,
		       unsigned int size, unsigned int count, void *val)
{
	struct kvm_vcpu *vcpu = ctxt_vcpu(ctxt);
	u8 *p = val;
	unsigned int i;

	for (i = 0; i < count; i++, p += size) {
		if (kvm_io_bus_read(vcpu, KVM_PIO_BUS, port, size, p))
			break;
	}
	if (i) {
		memset(p, 0, (count - i) * size);
		return X86EMUL_CONTINUE;
	}
	if (emul_hold(vcpu, false, true, port, size, NULL))
		emul(vcpu)->access.count = count;
	return X86EMUL_IO_NEEDED;
}

static int emul_pio_out(struct x86_emulate_ctxt *ctxt, u16 port,
			unsigned int size, const void *val)
{
	struct kvm_vcpu *vcpu = ctxt_vcpu(ctxt);

	if (!kvm_io_bus_write(vcpu, KVM_PIO_BUS, port, size, (void *)val))
		return X86EMUL_CONTINUE;
	return emul_hold(vcpu, true, true, port, size, val) ?
	       X86EMUL_CONTINUE : X86EMUL_IO_NEEDED;
}

/* LMSW: CR0 through the common checks (it cannot change PG). */
static int emul_set_cr0(struct x86_emulate_ctxt *ctxt, u64 val)
{
	return kvm_set_cr0(ctxt_vcpu(ctxt), val) ? -EINVAL : 0;
}

/* A segment register the emulator needs beyond CS and SS. */
static void emul_get_seg(struct x86_emulate_ctxt *ctxt, int seg,
			 struct kvm_segment *var)
{
	kvm_x86_ops->get_segment(ctxt_vcpu(ctxt), seg, var);
}

static const struct x86_emulate_ops kvm_emul_ops = {
	.fetch = emul_fetch,
	.read = emul_read,
	.write = emul_write,
	.pio_in = emul_pio_in,
	.pio_out = emul_pio_out,
	.set_cr0 = emul_set_cr0,
	.get_seg = emul_get_seg,
};

/* ---- Steps and exits ------------------------------------------------------ */

/* Exit to userspace with the held access. */
static int emul_exit_to_user(struct kvm_vcpu *vcpu)
{
	struct kvm_emul_access *a = &emul(vcpu)->access;
	struct kvm_run *run = vcpu->run;

	if (a->pio) {
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = a->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = a->len;
		run->io.port = a->addr;
		run->io.count = a->count;
		run->io.data_offset = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;
		if (a->write)
			memcpy(page_address(vcpu->pio_page), a->data, a->len);
		else
			memset(page_address(vcpu->pio_page), 0,
			       a->len * a->count);
	} else {
		vcpu->stat.mmio_exits++;
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = a->addr;
		run->mmio.len = a->len;
		run->mmio.is_write = a->write;
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (a->write)
			memcpy(run->mmio.data, a->data, a->len);
	}
	return 0;
}

static int emul_failure(struct kvm_vcpu *vcpu)
{
	struct x86_emulate_ctxt *ctxt = &emul(vcpu)->ctxt;
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	/* flags, insn_size and the 16 instruction bytes */
	run->emulation_failure.ndata = 4;
	run->emulation_failure.flags =
		KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run->emulation_failure.insn_size = ctxt->insn_len;
	memset(run->emulation_failure.insn_bytes, 0,
	       sizeof(run->emulation_failure.insn_bytes));
	memcpy(run->emulation_failure.insn_bytes, ctxt->insn_bytes,
	       min_t(u8, ctxt->insn_len, sizeof(ctxt->insn_bytes)));
	return 0;
}

/*
 * Run (or run again) the step and act on its result.  REP INS elements
 * whose input was fetched ahead are run here, one step each, before the
 * guest runs again; after a write that must go to userspace first, they
 * go on with the next KVM_RUN (the emulation stays pending).
 */
static int kvm_emulate_step(struct kvm_vcpu *vcpu)
{
	struct kvm_emul_state *es = emul(vcpu);
	struct x86_emulate_ctxt *ctxt = &es->ctxt;
	struct x86_exception *ex = &ctxt->exception;
	bool more;

again:
	es->pending = false;
	switch (x86_emulate_insn(ctxt)) {
	case X86EMUL_CONTINUE:
		vcpu->arch.rflags = ctxt->rflags;
		if (!ctxt->rep_more)	/* the instruction is complete */
			kvm_x86_ops->set_interrupt_shadow(vcpu, 0);
		more = ctxt->rep_more && x86_emulate_read_ahead(ctxt);
		if (es->access.held) {	/* a write: nothing to complete */
			es->pending = more;
			return emul_exit_to_user(vcpu);
		}
		if (more)
			goto again;
		/* An unfinished REP goes on when the guest runs it again. */
		return 1;
	case X86EMUL_IO_NEEDED:
		es->pending = true;
		return emul_exit_to_user(vcpu);
	case X86EMUL_PROPAGATE_FAULT:
		nkvm_queue_exception(vcpu, ex->vector, ex->has_error_code,
				     ex->error_code);
		if (ex->vector == X86_TRAP_PF)
			vcpu->arch.exception.cr2 = ex->address;
		return 1;
	case X86EMUL_RETRY:
		return 1;
	default:
		return emul_failure(vcpu);
	}
}

/*
 * Set up the emulator for the instruction at RIP, without a GPA hint:
 * CR0, CR3, CR4, EFER, CS and SS now (the mode, the CPL and the walk need
 * them), the other segment registers only if the instruction uses them.
 */
static __always_inline void kvm_emul_setup(struct kvm_vcpu *vcpu)
{
	struct kvm_emul_state *es = emul(vcpu);
	struct x86_emulate_ctxt *ctxt = &es->ctxt;
	struct kvm_emul_sregs *s = &es->sregs;

	BUILD_BUG_ON((int)KVM_SEG_ES != X86EMUL_SEG_ES ||
		     (int)KVM_SEG_CS != X86EMUL_SEG_CS ||
		     (int)KVM_SEG_SS != X86EMUL_SEG_SS ||
		     (int)KVM_SEG_DS != X86EMUL_SEG_DS ||
		     (int)KVM_SEG_FS != X86EMUL_SEG_FS ||
		     (int)KVM_SEG_GS != X86EMUL_SEG_GS ||
		     (int)KVM_SEG_TR != X86EMUL_SEG_TR);
	kvm_x86_ops->get_emul_sregs(vcpu, s);
	kvm_walk_env_update(vcpu, &es->walk, s);
	ctxt->cr0 = s->cr0;
	ctxt->cr4 = s->cr4;
	ctxt->efer = s->efer;
	ctxt->seg[X86EMUL_SEG_CS] = s->cs;
	ctxt->seg[X86EMUL_SEG_SS] = s->ss;
	x86_emulate_init_lazy(ctxt, &kvm_emul_ops, vcpu, vcpu->arch.regs,
			      vcpu->arch.rflags);
	es->hint = false;
}

static __always_inline int kvm_emulate_at_rip(struct kvm_vcpu *vcpu, bool hint,
					      u64 gpa, bool write, bool no_slot)
{
	struct kvm_emul_state *es = emul(vcpu);

	vcpu->stat.insn_emulation++;
	/* L1TF: the emulator reads guest memory through the host's maps. */
	vcpu->arch.l1tf_flush_l1d = true;
	kvm_emul_setup(vcpu);
	es->hint = hint;
	es->hint_gpa = gpa;
	es->hint_write = write;
	es->hint_no_slot = no_slot;
	es->access.held = false;
	es->rip = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	return kvm_emulate_step(vcpu);
}

/*
 * Emulate the instruction at RIP (an MMIO access or a string port I/O).
 * Returns > 0 to enter the guest again, 0 to exit to userspace.
 */
int kvm_emulate_instruction(struct kvm_vcpu *vcpu)
{
	return kvm_emulate_at_rip(vcpu, false, 0, false, false);
}

/*
 * The same after a nested page fault at @gpa (an MMIO access): @no_slot if
 * no memslot holds @gpa (else a write to a read-only one).
 */
int kvm_emulate_mmio_fault(struct kvm_vcpu *vcpu, u64 gpa, u64 error_code,
			   bool no_slot)
{
	bool hint = (error_code & KVM_NPF_FINAL) &&
		    !(error_code & KVM_NPF_FETCH);

	return kvm_emulate_at_rip(vcpu, hint, gpa,
				  error_code & KVM_NPF_WRITE, no_slot);
}

bool kvm_emulation_pending(struct kvm_vcpu *vcpu)
{
	return emul(vcpu)->pending;
}

/*
 * KVM_RUN after an exit that left a step waiting: give it userspace's
 * data and run it again.  If userspace moved RIP meanwhile, the step had
 * no effect and is dropped.
 */
int kvm_complete_emulation(struct kvm_vcpu *vcpu)
{
	struct kvm_emul_state *es = emul(vcpu);
	struct kvm_emul_access *a = &es->access;

	es->pending = false;
	/* Userspace ran since: the memslots may have changed. */
	es->slot = NULL;
	es->hint_no_slot = false;
	if (kvm_reg_read(vcpu, VCPU_REGS_RIP) != es->rip)
		return 1;

	if (a->held && !a->write) {
		/*
		 * A port input may go on past what the exit asked for, if
		 * userspace raised RCX (emulate.h): offer the whole batch.
		 */
		if (a->pio)
			x86_emulate_complete_read(&es->ctxt,
						  page_address(vcpu->pio_page),
						  X86EMUL_PIO_BATCH);
		else
			x86_emulate_complete_read(&es->ctxt, vcpu->run->mmio.data,
						  a->len);
	}
	a->held = false;
	return kvm_emulate_step(vcpu);
}

/* KVM_TRANSLATE: where the guest's page tables map a linear address. */
int kvm_translate(struct kvm_vcpu *vcpu, struct kvm_translation *tr)
{
	struct x86_walk_env env;
	struct x86_walk_result res;
	struct x86_exception fault;
	struct kvm_emul_sregs s;
	u32 access = X86_WALK_NO_AD;

	kvm_x86_ops->get_emul_sregs(vcpu, &s);
	kvm_walk_env_init(vcpu, &env);
	kvm_walk_env_update(vcpu, &env, &s);
	if (vcpu->arch.rflags & X86_EFLAGS_AC)
		access |= X86_WALK_AC;

	/*
	 * Without paging the linear address is the GPA, all 64 bits of it;
	 * as on Linux, all ones is no translation (its INVALID_GPA).
	 */
	if (x86_walk(&env, tr->linear_address, access, &res, &fault) ==
	    X86_WALK_OK && res.gpa != ~0ULL) {
		tr->physical_address = res.gpa;
		tr->valid = 1;
	} else {
		tr->physical_address = ~0ULL;
		tr->valid = 0;
	}
	/* As on Linux, whatever the tables say. */
	tr->writeable = 1;
	tr->usermode = 0;
	return 0;
}

/*
 * The instruction at the guest's RIP, for an exit that names it but not
 * its length or operands (no NRIP save, no decode assists): fetch its bytes
 * and skip its prefixes.  Returns the number of prefix bytes, or -EINVAL
 * if the bytes cannot be read or hold nothing but prefixes.
 */
static int kvm_fetch_at_rip(struct kvm_vcpu *vcpu, u8 *insn, u8 *rex,
			    bool *lock)
{
	struct kvm_emul_state *es = emul(vcpu);
	struct x86_exception fault;
	unsigned int i, n;
	bool long_mode;
	u32 access;
	u64 la;

	kvm_emul_setup(vcpu);
	/* A fetch at CPL 3 is a user access: SMEP must not refuse it. */
	access = PFERR_FETCH_MASK | (es->ctxt.cpl == 3 ? PFERR_USER_MASK : 0);
	long_mode = es->ctxt.mode == X86EMUL_MODE_PROT64;
	la = kvm_reg_read(vcpu, VCPU_REGS_RIP) +
	     (long_mode ? 0 : es->ctxt.seg[X86EMUL_SEG_CS].base);
	if (!long_mode)
		la = (u32)la;

	n = min_t(unsigned int, X86EMUL_MAX_INSN, PAGE_SIZE - offset_in_page(la));
	if (emul_fetch(&es->ctxt, la, insn, n, access, &fault) !=
	    X86EMUL_CONTINUE)
		return -EINVAL;
	/*
	 * The next page only matters if the instruction goes on there: if it
	 * cannot be read, its bytes stay 0 and fail the caller's match.
	 */
	if (n < X86EMUL_MAX_INSN &&
	    emul_fetch(&es->ctxt, long_mode ? la + n : (u32)(la + n),
		       insn + n, X86EMUL_MAX_INSN - n, access,
		       &fault) != X86EMUL_CONTINUE)
		memset(insn + n, 0, X86EMUL_MAX_INSN - n);

	*rex = 0;
	*lock = false;
	for (i = 0; i < X86EMUL_MAX_INSN; i++) {
		u8 b = insn[i];

		*lock |= b == 0xf0;
		if (b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 ||
		    b == 0xf3 || b == 0x26 || b == 0x2e || b == 0x36 ||
		    b == 0x3e || b == 0x64 || b == 0x65) {
			*rex = 0;	/* a REX counts only last */
			continue;
		}
		if (long_mode && (b & 0xf0) == 0x40) {
			*rex = b;
			continue;
		}
		return i;
	}
	return -EINVAL;
}

/*
 * Decode the control register access at RIP, for an intercepted CR access
 * without decode assists: MOV to or from CRn (0F 22 /r, 0F 20 /r), CLTS
 * (0F 06), and LMSW and SMSW (0F 01 /6, /4); those two with a memory
 * operand are only recognized (KVM_CR_LMSW_MEM, KVM_CR_SMSW_MEM: the
 * caller hands them to the emulator).  Returns 0, or -EINVAL if the bytes
 * are something else.
 */
int kvm_decode_cr_insn(struct kvm_vcpu *vcpu, struct kvm_cr_insn *ci)
{
	u8 insn[X86EMUL_MAX_INSN], modrm;
	struct x86_emulate_ctxt *ctxt;
	unsigned int def;
	bool lock;
	u8 rex;
	int i;

	i = kvm_fetch_at_rip(vcpu, insn, &rex, &lock);
	if (i < 0 || i > X86EMUL_MAX_INSN - 3 || insn[i] != 0x0f)
		return -EINVAL;
	modrm = insn[i + 2];
	ci->cr = 0;
	ci->gpr = (modrm & 7) | ((rex & 1) ? 8 : 0);
	ci->len = i + 3;
	ci->size = emul(vcpu)->ctxt.mode == X86EMUL_MODE_PROT64 ? 8 : 4;

	switch (insn[i + 1]) {
	case 0x20:
	case 0x22:
		ci->kind = insn[i + 1] == 0x22 ? KVM_CR_MOV_TO : KVM_CR_MOV_FROM;
		/* MOV CR uses the register form whatever ModRM.mod says. */
		ci->cr = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
		/* AMD's LOCK MOV to or from CR0 is one of CR8 (AltMovCr8). */
		if (lock && ci->cr == 0)
			ci->cr = 8;
		return 0;
	case 0x06:
		ci->kind = KVM_CR_CLTS;
		ci->len = i + 2;
		return 0;
	case 0x01:
		if ((modrm >> 6) != 3) {
			switch ((modrm >> 3) & 7) {
			case 4:
				ci->kind = KVM_CR_SMSW_MEM;
				return 0;
			case 6:
				ci->kind = KVM_CR_LMSW_MEM;
				return 0;
			}
			return -EINVAL;
		}
		if (((modrm >> 3) & 7) == 6) {
			ci->kind = KVM_CR_LMSW;
			return 0;
		}
		if (((modrm >> 3) & 7) != 4)
			return -EINVAL;
		ci->kind = KVM_CR_SMSW;
		/* SMSW's register operand has the instruction's size. */
		ctxt = &emul(vcpu)->ctxt;
		if (ctxt->mode == X86EMUL_MODE_PROT64)
			def = 4;
		else if (ctxt->mode == X86EMUL_MODE_PROT32 ||
			 (ctxt->mode == X86EMUL_MODE_REAL &&
			  ctxt->seg[X86EMUL_SEG_CS].db))
			def = 4;
		else
			def = 2;
		if (memchr(insn, 0x66, i))
			def = 6 - def;
		ci->size = (rex & 8) ? 8 : def;
		return 0;
	}
	return -EINVAL;
}

/*
 * The length of the instruction at RIP, whose opcode (and fixed ModRM)
 * bytes are @op, with whatever prefixes precede them: for an intercepted
 * instruction completed without NRIP save.  Returns 0, or -EINVAL if the
 * bytes there are something else.
 */
int kvm_insn_len_at_rip(struct kvm_vcpu *vcpu, const u8 *op, unsigned int n,
			unsigned int *len)
{
	u8 insn[X86EMUL_MAX_INSN];
	bool lock;
	u8 rex;
	int i;

	i = kvm_fetch_at_rip(vcpu, insn, &rex, &lock);
	if (i < 0 || i + n > X86EMUL_MAX_INSN || memcmp(insn + i, op, n))
		return -EINVAL;
	*len = i + n;
	return 0;
}
EXPORT_SYMBOL_GPL(kvm_insn_len_at_rip);

int kvm_emul_vcpu_init(struct kvm_vcpu *vcpu)
{
	vcpu->arch.emul = kzalloc(sizeof(struct kvm_emul_state),
				  GFP_KERNEL_ACCOUNT);
	if (!vcpu->arch.emul)
		return -ENOMEM;
	kvm_walk_env_init(vcpu, &emul(vcpu)->walk);
	return 0;
}

void kvm_emul_vcpu_free(struct kvm_vcpu *vcpu)
{
	kfree(vcpu->arch.emul);
	vcpu->arch.emul = NULL;
}
