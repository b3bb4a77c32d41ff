/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: what SVM's and VMX's guest entry code (svm/vmenter.S,
 * vmx/vmenter.S) share: the layout of vcpu->arch.regs[] and moving the
 * guest's general registers between it and the CPU.
 */
#ifndef _NKVM_VMENTER_H
#define _NKVM_VMENTER_H

/*
 * What __svm_vcpu_run() and __vmx_vcpu_run() do around the entry, decided
 * in C before each (bit numbers of their flags argument).
 */
#define NKVM_RUN_VMRESUME_BIT		0	/* VMX: VMRESUME, not VMLAUNCH */
#define NKVM_RUN_VERW_BIT		1	/* VMX: VERW just before the entry */
#define NKVM_RUN_RSB_BIT		2	/* VMX: refill the RSB after the exit */
#define NKVM_RUN_RSB_LITE_BIT		3	/* VMX: one balanced CALL (eIBRS PBRSB) */
#define NKVM_RUN_SPEC_CTRL_BIT		4	/* load the guest's SPEC_CTRL, then the host's */
#define NKVM_RUN_SAVE_SPEC_CTRL_BIT	5	/* read the guest's back after the exit */
#define NKVM_RUN_HOST_IBRS_BIT		6	/* VMX: write the host's even if equal */

#define NKVM_RUN_VMRESUME		(1 << NKVM_RUN_VMRESUME_BIT)
#define NKVM_RUN_VERW			(1 << NKVM_RUN_VERW_BIT)
#define NKVM_RUN_RSB			(1 << NKVM_RUN_RSB_BIT)
#define NKVM_RUN_RSB_LITE		(1 << NKVM_RUN_RSB_LITE_BIT)
#define NKVM_RUN_SPEC_CTRL		(1 << NKVM_RUN_SPEC_CTRL_BIT)
#define NKVM_RUN_SAVE_SPEC_CTRL		(1 << NKVM_RUN_SAVE_SPEC_CTRL_BIT)
#define NKVM_RUN_HOST_IBRS		(1 << NKVM_RUN_HOST_IBRS_BIT)

#ifdef __ASSEMBLY__

/* Offsets in regs[], in the order of enum kvm_reg (RSP is in the VMCB/VMCS). */
#define REG_RAX		(0 * 8)
#define REG_RCX		(1 * 8)
#define REG_RDX		(2 * 8)
#define REG_RBX		(3 * 8)
#define REG_RBP		(5 * 8)
#define REG_RSI		(6 * 8)
#define REG_RDI		(7 * 8)
#define REG_R8		(8 * 8)
#define REG_R9		(9 * 8)
#define REG_R10		(10 * 8)
#define REG_R11		(11 * 8)
#define REG_R12		(12 * 8)
#define REG_R13		(13 * 8)
#define REG_R14		(14 * 8)
#define REG_R15		(15 * 8)

/*
 * Before the entry, with \flags and \ptr (the guest's SPEC_CTRL value)
 * in memory: load the guest's value where the host has the MSR and the
 * values differ.  Clobbers RAX, RCX and RDX.  Nothing between this and
 * the entry may RET or branch indirectly (the host's protections are off).
 */
.macro LOAD_GUEST_SPEC_CTRL flags:req, ptr:req
	testl	$NKVM_RUN_SPEC_CTRL, \flags
	jz	.Lgsc_done_\@
	mov	\ptr, %rdx
	mov	(%rdx), %rax
	cmp	PER_CPU_VAR(x86_spec_ctrl_current), %rax
	je	.Lgsc_done_\@
	mov	%rax, %rdx
	shr	$32, %rdx
	mov	$MSR_IA32_SPEC_CTRL, %ecx
	wrmsr
.Lgsc_done_\@:
.endm

/*
 * After the exit, before the first unbalanced RET: save the guest's value
 * if it may have changed it (the MSR is passed through), then put the
 * host's back where they differ (always, with NKVM_RUN_HOST_IBRS: a legacy
 * IBRS host must write IBRS again after running less privileged code).
 * Clobbers RAX, RCX and RDX.
 */
.macro RESTORE_HOST_SPEC_CTRL flags:req, ptr:req
	testl	$NKVM_RUN_SPEC_CTRL, \flags
	jz	.Lhsc_done_\@
	testl	$NKVM_RUN_SAVE_SPEC_CTRL, \flags
	jz	.Lhsc_saved_\@
	mov	$MSR_IA32_SPEC_CTRL, %ecx
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	mov	\ptr, %rcx
	mov	%rax, (%rcx)
.Lhsc_saved_\@:
	mov	PER_CPU_VAR(x86_spec_ctrl_current), %rax
	testl	$NKVM_RUN_HOST_IBRS, \flags
	jnz	.Lhsc_write_\@
	mov	\ptr, %rcx
	cmp	(%rcx), %rax
	je	.Lhsc_fence_\@
.Lhsc_write_\@:
	mov	%rax, %rdx
	shr	$32, %rdx
	mov	$MSR_IA32_SPEC_CTRL, %ecx
	wrmsr
.Lhsc_fence_\@:
	/* No speculation on past the choice with the guest's value. */
	lfence
.Lhsc_done_\@:
.endm

/* Load every general register but RAX and RSP from regs[] at \regs (%rax). */
.macro LOAD_GUEST_GPRS regs:req
	mov	REG_RCX(\regs), %rcx
	mov	REG_RDX(\regs), %rdx
	mov	REG_RBX(\regs), %rbx
	mov	REG_RBP(\regs), %rbp
	mov	REG_RSI(\regs), %rsi
	mov	REG_RDI(\regs), %rdi
	mov	REG_R8(\regs), %r8
	mov	REG_R9(\regs), %r9
	mov	REG_R10(\regs), %r10
	mov	REG_R11(\regs), %r11
	mov	REG_R12(\regs), %r12
	mov	REG_R13(\regs), %r13
	mov	REG_R14(\regs), %r14
	mov	REG_R15(\regs), %r15
.endm

/* Store every general register but RAX and RSP into regs[] at \regs (%rax). */
.macro STORE_GUEST_GPRS regs:req
	mov	%rcx, REG_RCX(\regs)
	mov	%rdx, REG_RDX(\regs)
	mov	%rbx, REG_RBX(\regs)
	mov	%rbp, REG_RBP(\regs)
	mov	%rsi, REG_RSI(\regs)
	mov	%rdi, REG_RDI(\regs)
	mov	%r8, REG_R8(\regs)
	mov	%r9, REG_R9(\regs)
	mov	%r10, REG_R10(\regs)
	mov	%r11, REG_R11(\regs)
	mov	%r12, REG_R12(\regs)
	mov	%r13, REG_R13(\regs)
	mov	%r14, REG_R14(\regs)
	mov	%r15, REG_R15(\regs)
.endm

/*
 * After the exit: leave no guest value in a caller-saved register (the
 * callee-saved ones are popped; RAX is the caller's to set).
 */
.macro CLEAR_GUEST_SCRATCH_GPRS
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
.endm

#endif /* __ASSEMBLY__ */
#endif /* _NKVM_VMENTER_H */
