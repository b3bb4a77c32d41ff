/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: VMX guest entry and exit.
 *
 * int __vmx_vcpu_run(unsigned long *regs, u64 *spec_ctrl, unsigned long flags)
 *
 * Called with interrupts off and the vCPU's VMCS current.  Writes the
 * stack pointer the VM exit will restore (HOST_RSP; HOST_RIP is
 * __vmx_vmexit, written once at VMCS setup), loads the guest's
 * IA32_SPEC_CTRL (*spec_ctrl) and general registers from regs[] (RSP and
 * RIP travel in the VMCS), enters with VMLAUNCH or VMRESUME, and on the VM
 * exit stores them back.  @flags are the NKVM_RUN_* bits (../vmenter.h):
 * which speculative-execution mitigations to apply on the way (vmx.c
 * decides them from the host's mitigation state).
 *
 * Returns 0 after a VM exit (which may be a failed entry: see the exit
 * reason), 1 when VMLAUNCH/VMRESUME itself failed (VMfailInvalid or
 * VMfailValid: see VM_INSTRUCTION_ERROR), or faulted because VMX was
 * turned off under us at reboot.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>
#include <asm/unwind_hints.h>

#include "../vmenter.h"

/* The VMCS field encoding of the host's RSP. */
#define VMCS_HOST_RSP	0x00006c14

/* Stack slots of the saved arguments, once pushed. */
#define ARG_REGS	0
#define ARG_SPEC_CTRL	8
#define ARG_FLAGS	16

	.section .text, "ax"

SYM_FUNC_START(__vmx_vcpu_run)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdx
	push	%rsi
	/* regs[]: at the top of the stack when the guest exits. */
	push	%rdi

	mov	$VMCS_HOST_RSP, %rax
1:	vmwrite	%rsp, %rax

	/* From here to the entry: no RET, no indirect branch. */
	LOAD_GUEST_SPEC_CTRL ARG_FLAGS(%rsp), ARG_SPEC_CTRL(%rsp)

	mov	ARG_REGS(%rsp), %rax
	LOAD_GUEST_GPRS %rax

	/*
	 * CF: VMRESUME.  The MOV keeps the flags, and so does VERW but for
	 * ZF; nothing is loaded from memory after VERW, which clears the CPU
	 * buffers (MDS, TAA, MMIO stale data) for the guest.
	 */
	btl	$NKVM_RUN_VERW_BIT, ARG_FLAGS(%rsp)
	jc	.Lenter_verw
	btl	$NKVM_RUN_VMRESUME_BIT, ARG_FLAGS(%rsp)
	mov	REG_RAX(%rax), %rax
	jnc	3f
	UNWIND_HINT_SAVE
2:	vmresume
	jmp	.Lvmfail
3:	UNWIND_HINT_SAVE
4:	vmlaunch
	jmp	.Lvmfail

.Lenter_verw:
	btl	$NKVM_RUN_VMRESUME_BIT, ARG_FLAGS(%rsp)
	mov	REG_RAX(%rax), %rax
	verw	x86_verw_sel(%rip)
	jnc	6f
	UNWIND_HINT_SAVE
5:	vmresume
	jmp	.Lvmfail
6:	UNWIND_HINT_SAVE
7:	vmlaunch
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
	/* Leave no guest value in a register the host does not restore. */
	CLEAR_GUEST_SCRATCH_GPRS

	/*
	 * Before the first unbalanced RET: the guest's return predictions
	 * must not steer the host's (a full refill where the host stuffs the
	 * RSB on VM exit, a single CALL for eIBRS's post-barrier RSB issue),
	 * and the host's SPEC_CTRL must be back.
	 */
	testl	$NKVM_RUN_RSB, ARG_FLAGS(%rsp)
	jz	8f
	__FILL_RETURN_BUFFER(%rax, RSB_CLEAR_LOOPS)
	jmp	9f
8:	testl	$NKVM_RUN_RSB_LITE, ARG_FLAGS(%rsp)
	jz	9f
	__FILL_ONE_RETURN
9:
	RESTORE_HOST_SPEC_CTRL ARG_FLAGS(%rsp), ARG_SPEC_CTRL(%rsp)

	/* BHI, where the host clears the branch history on VM exit. */
	CLEAR_BRANCH_HISTORY_VMEXIT

	mov	%ebx, %eax
	xor	%ecx, %ecx
	xor	%edx, %edx

	add	$24, %rsp
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
	_ASM_EXTABLE(5b, 10b)
	_ASM_EXTABLE(7b, 10b)
SYM_FUNC_END(__vmx_vcpu_run)
