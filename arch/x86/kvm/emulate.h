/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the x86 instruction emulator (pure logic).
 *
 * It decodes and executes the instructions that touch MMIO or do string
 * port I/O, in every CPU mode (real, virtual-8086, 16/32-bit protected,
 * compatibility, 64-bit; operand and address sizes from CS.L/CS.D and the
 * prefixes).  It builds in the kernel and in userspace (NKVM_USERSPACE,
 * tools/testing/unit/test_emulate.c), holds no lock and never sleeps
 * itself; it reaches the guest only through struct x86_emulate_ops, whose
 * callbacks may sleep.
 *
 * What it emulates
 *
 *   MOV 88 89 8A 8B C6/0 C7/0, A0-A3 (moffs); MOVZX/MOVSX 0F B6 B7 BE BF;
 *   MOVSXD 63 (64-bit mode); MOVNTI 0F C3;
 *   ADD OR ADC SBB AND SUB XOR CMP in all their 00-3D forms (r/m,reg
 *   reg,r/m acc,imm) and group 1 80 81 82 83; TEST 84 85 A8 A9 F6/0 F7/0;
 *   NOT NEG F6/F7 /2 /3; INC DEC FE/FF /0 /1; XCHG 86 87;
 *   BT BTS BTR BTC 0F A3 AB B3 BB (register bit offsets reach outside the
 *   operand, as on hardware) and 0F BA /4-/7;
 *   SMSW 0F 01 /4 (to memory: 16 bits; to a register: the operand size,
 *   the whole CR0 with REX.W; #GP(0) at CPL > 0 with CR4.UMIP) and LMSW
 *   0F 01 /6 (16 bits, from memory or a register; #GP(0) at CPL > 0; CR0
 *   through ops->set_cr0), the CR0 they see being ctxt->cr0;
 *   MOVS A4 A5, STOS AA AB, LODS AC AD, INS 6C 6D, OUTS 6E 6F, with REP
 *   (F3, and F2, which acts as REP on these);
 * with every prefix that applies: 66, 67, REX (W R X B, and the byte
 * registers SPL..DIL instead of AH..BH), segment overrides (only FS and GS
 * count in 64-bit mode), LOCK.  RFLAGS are exact; flags the architecture
 * leaves undefined are kept (BT*: all but CF) or cleared (AF after AND, OR,
 * XOR, TEST).  Everything else, F6/1 and LOCK CMPXCHG included, is
 * X86EMUL_UNHANDLEABLE, never a guess: the caller then exits with
 * KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION;
 * ctxt->insn_bytes/insn_len hold what was fetched, for the exit's data.
 *
 * Faults are returned (X86EMUL_PROPAGATE_FAULT, ctxt->exception), never
 * injected: #GP(0)/#SS(0) for segment type, limit, null-segment and
 * canonical violations (#SS for SS-based accesses), #GP(0) for an
 * instruction over 15 bytes and for string I/O that IOPL and the TSS I/O
 * bitmap forbid, #UD for LOCK on anything but a memory read-modify-write,
 * #UD for MOVNTI to a register, #AC(0) for a misaligned access at CPL 3
 * with CR0.AM and RFLAGS.AC, and what the callbacks return (the walker's
 * #PF, with its address for CR2).  Real mode exceptions carry no error code.
 * Not done: the single-step trap (if ctxt->rflags has TF after a completed
 * instruction, the caller queues #DB), data breakpoints, protection-key
 * checks beyond the walker's, the atomicity of LOCK (a read-modify-write is
 * a read then a write through the callbacks; for MMIO that is all there is).
 *
 * Registers
 *
 * ctxt->regs points to the caller's X86EMUL_NR_REGS unsigned longs in enum
 * kvm_reg order (RAX..R15, RIP) and ctxt->rflags holds RFLAGS.  The
 * emulator works on a copy and writes registers and RFLAGS back only when
 * a step completes (X86EMUL_CONTINUE); 32-bit register writes zero-extend.
 *
 * Memory and ports
 *
 * The emulator computes linear addresses and calls ops->fetch/read/write
 * with a linear address and a length (at most 15 for a fetch, 8 for data)
 * that never crosses a 4 KiB page, and the access bits to give x86_walk()
 * (mmu/walk.h: PFERR_WRITE_MASK, PFERR_USER_MASK at CPL 3,
 * PFERR_FETCH_MASK, X86_WALK_AC, X86_WALK_IMPLICIT for the TSS).  The
 * caller translates with the walker, then uses guest RAM (a memslot) or
 * treats the access as MMIO.  Callbacks return:
 *
 *   X86EMUL_CONTINUE		done (read, fetch, pio_in: data filled in);
 *   X86EMUL_PROPAGATE_FAULT	*fault filled in (the walker's #PF);
 *   X86EMUL_IO_NEEDED		userspace must run first: a read or pio_in
 *				whose data it must supply (the caller records
 *				the access for the exit), or a write or
 *				pio_out that cannot be recorded now because
 *				the caller already holds an access for this
 *				exit (one exit carries one access);
 *   X86EMUL_UNHANDLEABLE	give up (a fetch from MMIO, page tables
 *				outside RAM, ...);
 *   X86EMUL_RETRY		drop the step and re-enter the guest.
 *
 * Steps, exits and restarts
 *
 * x86_emulate_insn() runs one step: an instruction, or one element of a
 * REP string instruction.  The reads and port inputs a step completes are
 * logged in the context, with the writes and port outputs it has done.
 * When a callback answers X86EMUL_IO_NEEDED, x86_emulate_insn() returns
 * X86EMUL_IO_NEEDED with no architectural effect and the context must be
 * kept as it is.  After the exit, the caller hands the data of a read or
 * port input to x86_emulate_complete_read() and calls x86_emulate_insn()
 * again: the step runs from the start on the bytes fetched the first time,
 * logged reads are answered from the log and logged writes skipped, so no
 * device access happens twice and nothing is decoded differently.  A step
 * may need several exits (MOVS from MMIO to MMIO: a read, then the write;
 * an MMIO access that crosses a page: one exit per page).
 *
 * A write a callback accepted is done: the step goes on and completes, and
 * the caller exits to userspace afterwards with the write it holds
 * (KVM_EXIT_MMIO is_write, or KVM_EXIT_IO out), with nothing to complete
 * on the next KVM_RUN.
 *
 * REP: each step moves one element and updates RCX, RSI, RDI (to the
 * address size, by RFLAGS.DF); RIP moves past the instruction after the
 * last element (and at once if the count is 0).  While elements remain, a
 * completed step sets ctxt->rep_more and leaves RIP alone: the caller
 * re-enters the guest (which executes the instruction again and may take
 * interrupts in between, as on hardware) or calls x86_emulate_insn()
 * again, which reuses the fetched bytes.  After a completed step without
 * rep_more, x86_emulate_insn() would emulate the next instruction.
 *
 * String input
 *
 * INS takes its elements from a read-ahead in the context.  When it is
 * empty, one pio_in() call fetches several elements at once (count): the
 * elements left (REP; one without REP), at most X86EMUL_PIO_BATCH bytes,
 * and no more than reach the end of the destination's page; the exit that
 * carries an unanswered one is a KVM_EXIT_IO of that count, as on Linux.
 * Each step still moves one element.  Userspace may change RCX before the
 * next KVM_RUN: the batch is then cut to the count as it is on the rerun
 * (as Linux does: the current element completes and the instruction goes
 * on with the new count), and if the count grew the elements beyond what
 * the exit asked for take whatever else userspace's data holds.  OUTS
 * sends one element per call, as Linux 6.1 does.
 *
 * A fault ends a step with no effect on registers; earlier REP elements
 * stay done, as on hardware.  Writes accepted earlier in the faulting step
 * are not undone: this shows only for a write crossing into a page that
 * faults, or INS whose memory write faults after the port was read.
 *
 * Call sequences (x86.c; the context lives in the vCPU):
 *
 *   On a nested page fault outside every memslot, or a string I/O exit:
 *	kvm_x86_ops->get_emul_sregs(vcpu, &s);	(CRs, EFER, CS, SS)
 *	ctxt->cr0 = s.cr0; ... ctxt->seg[X86EMUL_SEG_SS] = s.ss;
 *	x86_emulate_init_lazy(ctxt, &ops, vcpu, vcpu->arch.regs, rflags);
 *	r = x86_emulate_insn(ctxt);
 *   and by r:
 *	X86EMUL_CONTINUE	set RFLAGS from ctxt->rflags; if a callback
 *				holds an MMIO write or port output, exit to
 *				userspace with it; else re-enter the guest
 *				(with ctxt->rep_more, x86_emulate_insn() may
 *				be called again first);
 *	X86EMUL_IO_NEEDED	exit with the held access, and mark the
 *				emulation pending; on the next KVM_RUN:
 *				    if it was a read or port input,
 *				    x86_emulate_complete_read(ctxt, data, len)
 *				    (run->mmio.data, or the PIO data page);
 *				    r = x86_emulate_insn(ctxt), handled the
 *				    same way;
 *	X86EMUL_PROPAGATE_FAULT	queue ctxt->exception (CR2 = address for a
 *				#PF) and re-enter the guest;
 *	X86EMUL_UNHANDLEABLE	KVM_EXIT_INTERNAL_ERROR, emulation suberror;
 *	X86EMUL_RETRY		re-enter the guest.
 *   KVM_SET_REGS/SREGS while emulation is pending simply drops it: the
 *   instruction has had no effect and runs again from the new state.
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
	X86EMUL_SEG_FS, X86EMUL_SEG_GS, X86EMUL_NR_SEGS,
	X86EMUL_SEG_TR = X86EMUL_NR_SEGS	/* ops->get_seg only */
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
		      unsigned int size, unsigned int count, void *val);
	int (*pio_out)(struct x86_emulate_ctxt *ctxt, u16 port,
		       unsigned int size, const void *val);
	/*
	 * LMSW: load CR0 with val (the emulator merged the operand into
	 * ctxt->cr0: PE, MP, EM and TS, PE never cleared).  0, or non-zero
	 * if the value is refused (#GP(0)).  NULL: LMSW is unhandleable.
	 */
	int (*set_cr0)(struct x86_emulate_ctxt *ctxt, u64 val);
	/*
	 * With x86_emulate_init_lazy(): fill *var with segment register seg
	 * (X86EMUL_SEG_ES..GS, or X86EMUL_SEG_TR), as KVM_GET_SREGS has it.
	 * Called at most once per register and emulation, when a step first
	 * needs it: for an access after an exit, when the step runs again
	 * (as Linux reads a segment when its emulator uses it).
	 */
	void (*get_seg)(struct x86_emulate_ctxt *ctxt, int seg,
			struct kvm_segment *var);
};

/* ctxt->regs: RAX..R15 in the x86 encoding order (enum kvm_reg), then RIP. */
#define X86EMUL_REG_RIP		16
#define X86EMUL_NR_REGS		17

#define X86EMUL_MAX_INSN	15
#define X86EMUL_LOG_OPS		8	/* accesses in one step */
#define X86EMUL_LOG_BYTES	32	/* bytes read in one step */
#define X86EMUL_PIO_BATCH	1024	/* bytes of port input fetched ahead */

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
	/*
	 * Which of seg[] (bit X86EMUL_SEG_*) and tr (bit X86EMUL_SEG_TR) hold
	 * the vCPU's values; the others are asked of ops->get_seg when needed.
	 */
	u8 segs_valid;

	/* Outputs. */
	struct x86_exception exception;	/* with X86EMUL_PROPAGATE_FAULT */
	bool rep_more;			/* REP: elements remain, RIP unmoved */
	/*
	 * Set once decoded, for the callbacks: the instruction accesses one
	 * memory operand (a string instruction never counts), so every data
	 * access of the step is to it.
	 */
	bool single_mem;
	u8 insn_bytes[X86EMUL_MAX_INSN];	/* fetched so far */
	u8 insn_len;			/* bytes in insn_bytes */

	/* Private: kept across restarts of one step. */
	bool insn_valid;		/* insn_bytes belong to this step */
	struct x86_emulate_log log;

	/* Private: the REP INS read-ahead, kept across its elements. */
	u16 pio_pos, pio_end;		/* bytes used, bytes held */
	u16 pio_want;			/* bytes of an awaited port input */
	u16 pio_have;			/* bytes userspace gave for it */
	bool pio_ready;			/* ... now in pio_data */
	u8 pio_data[X86EMUL_PIO_BATCH];
};

/*
 * Prepare to emulate the instruction at the RIP in regs.  The mode and CPL
 * are derived from sregs (CR0.PE, RFLAGS.VM, EFER.LMA, CS.L, CS.D, SS.DPL).
 */
void x86_emulate_init(struct x86_emulate_ctxt *ctxt,
		      const struct x86_emulate_ops *ops, void *opaque,
		      unsigned long *regs, unsigned long rflags,
		      const struct kvm_sregs *sregs);

/*
 * The same, for a caller that has set ctxt->cr0, cr4, efer, seg[CS] and
 * seg[SS] (for the mode and the CPL) itself: the other segment registers
 * and TR come from ops->get_seg, only if the instruction needs them (in
 * 64-bit mode, usually none).
 */
void x86_emulate_init_lazy(struct x86_emulate_ctxt *ctxt,
			   const struct x86_emulate_ops *ops, void *opaque,
			   unsigned long *regs, unsigned long rflags);

/* Run (or run again) one step; see above.  Returns an X86EMUL_* value. */
int x86_emulate_insn(struct x86_emulate_ctxt *ctxt);

/*
 * Supply the data of the read or port input that made the last step return
 * X86EMUL_IO_NEEDED.  len must be the length that was asked for (for a port
 * input, count * size, or more: see "String input" above); returns -EINVAL
 * (and does nothing) if no such read is pending.
 */
int x86_emulate_complete_read(struct x86_emulate_ctxt *ctxt, const void *data,
			      unsigned int len);

/*
 * After a completed step with rep_more: does the INS read-ahead still hold
 * input for the next elements?  Then the caller must run the next step
 * (x86_emulate_insn() again) before the guest runs, or the input is lost.
 */
bool x86_emulate_read_ahead(const struct x86_emulate_ctxt *ctxt);

/* The x86_walk() access bits of a data access by the current code. */
u32 x86_emulate_access(const struct x86_emulate_ctxt *ctxt, bool write);

#endif /* _NKVM_X86_EMULATE_H */
