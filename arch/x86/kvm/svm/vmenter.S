/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: SVM guest entry and exit.
 *
 * void __svm_vcpu_run(u64 vmcb_pa, unsigned long *regs, u64 host_vmcb_pa,
 *		       u64 *spec_ctrl, unsigned long flags)
 *
 * Called with GIF clear and RFLAGS.IF set (by the caller: with
 * V_INTR_MASKING, the host's IF at VMRUN lets host interrupts cause a
 * #VMEXIT; with GIF clear none is taken in between).  Loads the guest's general
 * registers from regs[] (RAX, RSP and RIP travel in the VMCB), runs the
 * guest, stores them back, and restores the host state VMRUN does not:
 * VMSAVE/VMLOAD move FS, GS, TR, LDTR and the syscall MSRs.  With
 * NKVM_RUN_SPEC_CTRL in @flags it also loads the guest's IA32_SPEC_CTRL
 * (*spec_ctrl) and puts the host's back (../vmenter.h).
 *
 * IF is set right before VMRUN so that, with V_INTR_MASKING, host
 * interrupts cause a #VMEXIT; with GIF clear, none is taken here.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>

#include "../vmenter.h"

/* Stack slots of the saved arguments, once pushed. */
#define ARG_VMCB	0
#define ARG_REGS	8
#define ARG_HOST	16
#define ARG_SPEC_CTRL	24
#define ARG_FLAGS	32

	.section .text, "ax"

SYM_FUNC_START(__svm_vcpu_run)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%r8
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi

	/* From here to VMRUN: no RET, no indirect branch. */
	LOAD_GUEST_SPEC_CTRL ARG_FLAGS(%rsp), ARG_SPEC_CTRL(%rsp)

	/* Load the guest's registers; %rax last, it holds regs[] meanwhile. */
	mov	ARG_REGS(%rsp), %rax
	LOAD_GUEST_GPRS %rax
	mov	ARG_VMCB(%rsp), %rax

1:	vmload	%rax
	/*
	 * CPU buffers (MDS, TSA) cleared where the host asks for it before
	 * every VMRUN (X86_FEATURE_CLEAR_CPU_BUF_VM); VERW clobbers only ZF.
	 */
	VM_CLEAR_CPU_BUFFERS
3:	vmrun	%rax
4:
	/* #VMEXIT restored the host's %rax: the VMCB address. */
5:	vmsave	%rax
6:
	mov	ARG_REGS(%rsp), %rax
	STORE_GUEST_GPRS %rax

	mov	ARG_HOST(%rsp), %rax
7:	vmload	%rax
8:
	/*
	 * Before the first unbalanced RET: the guest's return predictions
	 * must not steer the host's, and the host's SPEC_CTRL must be back.
	 */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT
	RESTORE_HOST_SPEC_CTRL ARG_FLAGS(%rsp), ARG_SPEC_CTRL(%rsp)

	/*
	 * Retbleed and SRSO, where the host mitigates them: untrain the
	 * return predictor before the first RET, or flush all predictions
	 * (IBPB on every exit; clobbers %rax, %rcx and %rdx, cleared below).
	 */
	UNTRAIN_RET
	ALTERNATIVE "", "call entry_ibpb", X86_FEATURE_IBPB_ON_VMEXIT

	/* Leave no guest value in a register the host does not restore. */
	CLEAR_GUEST_SCRATCH_GPRS

	add	$40, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET

	/*
	 * SVM instructions fault only once SVM has been turned off under us
	 * (reboot): carry on, and the VMCB's preset exit code reports a
	 * failed entry.
	 */
10:	cmpb	$0, nkvm_rebooting(%rip)
	jne	3b
	ud2
11:	cmpb	$0, nkvm_rebooting(%rip)
	jne	4b
	ud2
12:	cmpb	$0, nkvm_rebooting(%rip)
	jne	6b
	ud2
13:	cmpb	$0, nkvm_rebooting(%rip)
	jne	8b
	ud2

	_ASM_EXTABLE(1b, 10b)
	_ASM_EXTABLE(3b, 11b)
	_ASM_EXTABLE(5b, 12b)
	_ASM_EXTABLE(7b, 13b)
SYM_FUNC_END(__svm_vcpu_run)
