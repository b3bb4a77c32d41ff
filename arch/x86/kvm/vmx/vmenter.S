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

#include "../vmenter.h"

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
	LOAD_GUEST_GPRS %rax
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
	STORE_GUEST_GPRS %rax
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
	CLEAR_GUEST_SCRATCH_GPRS

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
