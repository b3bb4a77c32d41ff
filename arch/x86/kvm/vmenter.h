/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: what SVM's and VMX's guest entry code (svm/vmenter.S,
 * vmx/vmenter.S) share: the layout of vcpu->arch.regs[] and moving the
 * guest's general registers between it and the CPU.
 */
#ifndef _NKVM_VMENTER_H
#define _NKVM_VMENTER_H

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

#ifdef __ASSEMBLY__

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
