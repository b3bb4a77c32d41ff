/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: VMX guest entry and exit.
 *
 * int __vmx_vcpu_run(unsigned long *regs, unsigned long launched)
 *
 * Called with interrupts off and the vCPU's VMCS current.  Writes the
 * stack pointer the VM exit will restore (HOST_RSP; HOST_RIP is
 * __vmx_vmexit, written once at VMCS setup), loads the guest's general
 * registers from regs[] (RSP and RIP travel in the VMCS), enters with
 * VMLAUNCH or VMRESUME, and on the VM exit stores them back.
 *
 * Returns 0 after a VM exit (which may be a failed entry: see the exit
 * reason), 1 when VMLAUNCH/VMRESUME itself failed (VMfailInvalid or
 * VMfailValid: see VM_INSTRUCTION_ERROR), or faulted because VMX was
 * turned off under us at reboot.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

/* Offsets in regs[], in the order of enum kvm_reg. */
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

/* The VMCS field encoding of the host's RSP. */
#define VMCS_HOST_RSP	0x00006c14

	.section .text, "ax"

SYM_FUNC_START(__vmx_vcpu_run)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	/* regs[]: at the top of the stack when the guest exits. */
	push	%rdi

	mov	$VMCS_HOST_RSP, %rax
1:	vmwrite	%rsp, %rax

	/* ZF: not launched yet.  MOVs below keep the flags. */
	test	%rsi, %rsi

	mov	%rdi, %rax
	mov	REG_RCX(%rax), %rcx
	mov	REG_RDX(%rax), %rdx
	mov	REG_RBX(%rax), %rbx
	mov	REG_RBP(%rax), %rbp
	mov	REG_RSI(%rax), %rsi
	mov	REG_RDI(%rax), %rdi
	mov	REG_R8(%rax), %r8
	mov	REG_R9(%rax), %r9
	mov	REG_R10(%rax), %r10
	mov	REG_R11(%rax), %r11
	mov	REG_R12(%rax), %r12
	mov	REG_R13(%rax), %r13
	mov	REG_R14(%rax), %r14
	mov	REG_R15(%rax), %r15
	mov	REG_RAX(%rax), %rax

	jz	3f
	UNWIND_HINT_SAVE
2:	vmresume
	jmp	.Lvmfail
3:	UNWIND_HINT_SAVE
4:	vmlaunch
	jmp	.Lvmfail

	/* The VM exit lands here (HOST_RIP), with RSP = HOST_RSP. */
SYM_INNER_LABEL(__vmx_vmexit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR
	push	%rax
	mov	8(%rsp), %rax
	mov	%rcx, REG_RCX(%rax)
	mov	%rdx, REG_RDX(%rax)
	mov	%rbx, REG_RBX(%rax)
	mov	%rbp, REG_RBP(%rax)
	mov	%rsi, REG_RSI(%rax)
	mov	%rdi, REG_RDI(%rax)
	mov	%r8, REG_R8(%rax)
	mov	%r9, REG_R9(%rax)
	mov	%r10, REG_R10(%rax)
	mov	%r11, REG_R11(%rax)
	mov	%r12, REG_R12(%rax)
	mov	%r13, REG_R13(%rax)
	mov	%r14, REG_R14(%rax)
	mov	%r15, REG_R15(%rax)
	pop	REG_RAX(%rax)
	xor	%ebx, %ebx
	jmp	.Lout

.Lvmfail:
	mov	$1, %ebx

.Lout:
	/* The guest's return predictions must not steer the host's. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT

	/* Leave no guest value in a register the host does not restore. */
	mov	%ebx, %eax
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$8, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET

	/*
	 * VMX instructions fault only once VMX has been turned off under us
	 * (reboot): report a failed entry.
	 */
10:	cmpb	$0, nkvm_rebooting(%rip)
	jne	.Lvmfail
	ud2

	_ASM_EXTABLE(1b, 10b)
	_ASM_EXTABLE(2b, 10b)
	_ASM_EXTABLE(4b, 10b)
SYM_FUNC_END(__vmx_vcpu_run)
