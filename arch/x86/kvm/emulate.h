/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the x86 instruction emulator (pure logic).
 *
 * It decodes and executes the instructions that touch MMIO or do string
 * port I/O, in every CPU mode (real, virtual-8086, 16/32-bit protected,
 * compatibility, 64-bit).  It builds both in the kernel and in userspace
 * (NKVM_USERSPACE, tools/testing/unit/test_emulate.c); it reaches guest
 * memory and ports only through the callbacks of struct x86_emulate_ops.
 *
 * What it emulates
 *
 *   MOV 88 89 8A 8B C6/0 C7/0, A0-A3 (moffs); MOVZX/MOVSX 0F B6 B7 BE BF;
 *   MOVSXD 63 (64-bit mode); MOVNTI 0F C3;
 *   ADD OR ADC SBB AND SUB XOR CMP: 00-3D (all of r/m,reg  reg,r/m
 *   acc,imm), group 1 80 81 82 83; TEST 84 85 A8 A9 F6/0 F7/0;
 *   NOT NEG F6/F7 /2 /3; INC DEC FE/FF /0 /1; XCHG 86 87;
 *   BT BTS BTR BTC 0F A3 AB B3 BB and 0F BA /4-/7;
 *   MOVS A4 A5, STOS AA AB, LODS AC AD, INS 6C 6D, OUTS 6E 6F, with REP
 *   (F3, and F2 which acts as REP on these).
 * with every prefix that applies: 66, 67, REX (W, R, X, B, and the byte
 * registers SPL..DIL it selects), segment overrides, LOCK.  RFLAGS are
 * computed exactly; flags the architecture leaves undefined are left
 * unchanged (BT*: all but CF) or cleared (AF of the logical operations).
 * Anything else is X86EMUL_UNHANDLEABLE, never a guess: the caller exits
 * with KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION
 * (ctxt->insn_bytes holds what was fetched, for the exit's data).
 *
 * Faults the instruction raises are returned, not injected: #GP(0) and
 * #SS(0) for segment type and limit violations, null segments and
 * non-canonical addresses, #GP(0) for an instruction longer than 15 bytes
 * and for string I/O the TSS bitmap forbids, #UD for LOCK where it is not
 * allowed, #AC(0) for a misaligned access at CPL 3 with CR0.AM and
 * RFLAGS.AC, and whatever the callbacks report (#PF from the walker).  In
 * real mode exceptions have no error code.
 *
 * Registers
 *
 * ctxt->regs is the caller's register array (NR_VCPU_REGS unsigned longs in
 * enum kvm_reg order, RIP last) and ctxt->rflags its RFLAGS.  The emulator
 * works on a private copy and writes both back only when a step completes
 * (X86EMUL_CONTINUE): after any other result they are untouched.
 *
 * Memory and ports
 *
 * The emulator computes linear addresses (segmentation, limits, canonical
 * checks, address-size wrap) and calls ops->read/write/fetch with a linear
 * address and a length that never crosses a 4 KiB page, plus the access
 * bits to pass to x86_walk() (mmu/walk.h: PFERR_WRITE_MASK, PFERR_USER_MASK
 * at CPL 3, PFERR_FETCH_MASK, X86_WALK_AC, X86_WALK_IMPLICIT).  The caller
 * translates with the walker and decides between RAM and MMIO.  A callback
 * returns one of:
 *
 *   X86EMUL_CONTINUE		done (read: *val filled in);
 *   X86EMUL_PROPAGATE_FAULT	*fault filled in (e.g. the walker's #PF);
 *   X86EMUL_IO_NEEDED		the caller must exit to userspace first: for a
 *				read or pio_in, the data is not available yet;
 *				for a write or pio_out, it cannot be taken now
 *				(e.g. the caller already holds one MMIO write
 *				for this exit);
 *   X86EMUL_UNHANDLEABLE	give up (e.g. a fetch from MMIO);
 *   X86EMUL_RETRY		give up this step with no effect and re-enter
 *				the guest (e.g. the page turned out to be RAM).
 *
 * Steps, exits and restarts
 *
 * x86_emulate_insn() runs one step: one instruction, or one element of a
 * REP string instruction.  Every read and port input a step completes is
 * kept in a small log in the context, with the count of the writes and
 * port outputs already done.  When a callback answers X86EMUL_IO_NEEDED,
 * x86_emulate_insn() returns X86EMUL_IO_NEEDED with no architectural
 * effect; the context must then be kept as it is.  Once userspace has
 * handled the exit, the caller passes the data of a pending read or port
 * input to x86_emulate_complete_read() and calls x86_emulate_insn() again:
 * the step runs from the start on the instruction bytes fetched the first
 * time, reads are answered from the log and completed writes are skipped,
 * so no access reaches a device twice.  Any number of restarts may occur in
 * one step (e.g. a page-crossing MMIO read, or MOVS from MMIO to MMIO).
 *
 * A write the callback accepted (X86EMUL_CONTINUE) is done: the step goes
 * on and normally completes, and the caller exits to userspace afterwards
 * (KVM_EXIT_MMIO with is_write, or KVM_EXIT_IO for OUTS) with nothing to
 * complete on return.
 *
 * REP string instructions do one element per step: RCX, RSI/RDI (by the
 * address size, in the direction of RFLAGS.DF) are updated at each step;
 * RIP moves past the instruction only after the last element (RCX reaching
 * 0; RCX = 0 at the start does nothing but move RIP).  When elements remain,
 * x86_emulate_insn() returns X86EMUL_CONTINUE with ctxt->rep_more set and
 * RIP unchanged: the caller may re-enter the guest (which re-executes the
 * instruction, taking interrupts in between, as hardware does) or call
 * x86_emulate_insn() again directly for the next element, which reuses the
 * fetched bytes.
 *
 * A fault ends the step with no effect on registers; elements of a REP
 * instruction done in earlier steps stay done, as on hardware.  Writes the
 * callbacks accepted earlier in the faulting step are not undone: this
 * matters only for a write that crosses a page boundary and faults on its
 * second page, or INS whose memory write faults after the port was read.
 *
 * Call sequences (caller = x86.c; ctxt lives in the vCPU):
 *
 *   nested page fault outside every memslot, or a string I/O intercept:
 *	x86_emulate_init(ctxt, &ops, vcpu, vcpu->arch.regs, rflags, &sregs);
 *	r = x86_emulate_insn(ctxt);
 *   then by r:
 *	X86EMUL_CONTINUE: write ctxt->rflags back; if the callbacks recorded
 *		an MMIO write or port output, exit to userspace with it;
 *		otherwise re-enter the guest (with ctxt->rep_more, optionally
 *		call x86_emulate_insn() again first);
 *	X86EMUL_IO_NEEDED: exit to userspace with the access the callback
 *		recorded (KVM_EXIT_MMIO / KVM_EXIT_IO), remember that
 *		emulation is pending; on the next KVM_RUN:
 *		    x86_emulate_complete_read(ctxt, run->mmio.data, len)
 *		    (only if the access was a read or port input), then
 *		    r = x86_emulate_insn(ctxt) and handle r the same way;
 *	X86EMUL_PROPAGATE_FAULT: inject ctxt->exception, re-enter the guest;
 *	X86EMUL_UNHANDLEABLE: KVM_EXIT_INTERNAL_ERROR, emulation suberror;
 *	X86EMUL_RETRY: re-enter the guest.
 *   A pending emulation is dropped (nothing to undo) if userspace changes
 *   the registers (KVM_SET_REGS/SREGS) before the next KVM_RUN.
 */
#ifndef _NKVM_X86_EMULATE_H
#define _NKVM_X86_EMULATE_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <uapi/linux/kvm.h>
#else
#include "unit_compat.h"
#endif
#include "mmu/walk.h"

/* Callback and x86_emulate_insn() results. */
enum {
	X86EMUL_CONTINUE,
	X86EMUL_PROPAGATE_FAULT,
	X86EMUL_IO_NEEDED,
	X86EMUL_UNHANDLEABLE,
	X86EMUL_RETRY,
};

/* The execution mode, derived from CR0.PE, RFLAGS.VM, EFER.LMA, CS.L/D. */
enum x86emul_mode {
	X86EMUL_MODE_REAL,	/* defaults: CS.D ? 32 : 16 bits */
	X86EMUL_MODE_VM86,	/* CPL 3, 16 bits */
	X86EMUL_MODE_PROT16,	/* protected or compatibility, CS.D clear */
	X86EMUL_MODE_PROT32,	/* protected or compatibility, CS.D set */
	X86EMUL_MODE_PROT64,	/* long mode, CS.L set */
};

/* Segment registers, in the x86 encoding order (prefixes, ModRM.reg). */
enum x86emul_seg {
	X86EMUL_SEG_ES, X86EMUL_SEG_CS, X86EMUL_SEG_SS, X86EMUL_SEG_DS,
	X86EMUL_SEG_FS, X86EMUL_SEG_GS, X86EMUL_NR_SEGS
};

struct x86_emulate_ctxt;

/*
 * The caller's callbacks.  fetch, read and write get a linear address la
 * and a length that stays within one 4 KiB page, and the x86_walk() access
 * bits for it; they return an X86EMUL_* value, filling *fault for
 * X86EMUL_PROPAGATE_FAULT.  pio_in/pio_out transfer size (1, 2 or 4) bytes
 * at port; pio_in may answer X86EMUL_IO_NEEDED (KVM_EXIT_IO, then
 * x86_emulate_complete_read() with the data).  fetch must not answer
 * X86EMUL_IO_NEEDED.
 */
struct x86_emulate_ops {
	int (*fetch)(struct x86_emulate_ctxt *ctxt, u64 la, void *buf,
		     unsigned int len, u32 access, struct x86_exception *fault);
	int (*read)(struct x86_emulate_ctxt *ctxt, u64 la, void *val,
		    unsigned int len, u32 access, struct x86_exception *fault);
	int (*write)(struct x86_emulate_ctxt *ctxt, u64 la, const void *val,
		     unsigned int len, u32 access, struct x86_exception *fault);
	int (*pio_in)(struct x86_emulate_ctxt *ctxt, u16 port,
		      unsigned int size, void *val);
	int (*pio_out)(struct x86_emulate_ctxt *ctxt, u16 port,
		       unsigned int size, const void *val);
};

/* ctxt->regs: RAX..R15 in the x86 encoding order (enum kvm_reg), then RIP. */
#define X86EMUL_REG_RIP		16
#define X86EMUL_NR_REGS		17

#define X86EMUL_MAX_INSN	15
#define X86EMUL_LOG_OPS		8	/* accesses in one step */
#define X86EMUL_LOG_BYTES	32	/* bytes read in one step */

/* The accesses a step has completed, replayed when it runs again. */
struct x86_emulate_log {
	u8 data[X86EMUL_LOG_BYTES];	/* read data, in order */
	u8 kind[X86EMUL_LOG_OPS];	/* what each access was */
	u8 len[X86EMUL_LOG_OPS];
	u8 nr;				/* accesses completed */
	u8 bytes;			/* bytes of data[] used */
	u8 pending;			/* length of the read awaiting data */
	u8 pending_kind;
};

struct x86_emulate_ctxt {
	/* Inputs: x86_emulate_init() sets them; the caller may adjust. */
	const struct x86_emulate_ops *ops;
	void *opaque;			/* the caller's, e.g. the vCPU */
	unsigned long *regs;		/* X86EMUL_NR_REGS, kvm_reg order */
	unsigned long rflags;		/* in, and out on completion */
	struct kvm_segment seg[X86EMUL_NR_SEGS];
	struct kvm_segment tr;		/* for the TSS I/O bitmap */
	u64 cr0, cr4, efer;
	u8 cpl;
	enum x86emul_mode mode;

	/* Outputs. */
	struct x86_exception exception;	/* with X86EMUL_PROPAGATE_FAULT */
	bool rep_more;			/* REP: elements remain, RIP unmoved */
	u8 insn_bytes[X86EMUL_MAX_INSN];	/* fetched so far */
	u8 insn_len;			/* bytes in insn_bytes */

	/* Private: kept across restarts of one step. */
	bool insn_valid;		/* insn_bytes belong to this step */
	struct x86_emulate_log log;
};

/*
 * Prepare to emulate the instruction at the RIP in regs.  The mode and CPL
 * are derived from sregs (CR0.PE, RFLAGS.VM, EFER.LMA, CS.L, CS.D, SS.DPL).
 */
void x86_emulate_init(struct x86_emulate_ctxt *ctxt,
		      const struct x86_emulate_ops *ops, void *opaque,
		      unsigned long *regs, unsigned long rflags,
		      const struct kvm_sregs *sregs);

/* Run (or run again) one step; see above.  Returns an X86EMUL_* value. */
int x86_emulate_insn(struct x86_emulate_ctxt *ctxt);

/*
 * Supply the data of the read or port input that made the last step return
 * X86EMUL_IO_NEEDED.  len must be the length that was asked for; returns
 * -EINVAL (and does nothing) if no such read is pending.
 */
int x86_emulate_complete_read(struct x86_emulate_ctxt *ctxt, const void *data,
			      unsigned int len);

/* The x86_walk() access bits of a data access by the current code. */
u32 x86_emulate_access(const struct x86_emulate_ctxt *ctxt, bool write);

#endif /* _NKVM_X86_EMULATE_H */
