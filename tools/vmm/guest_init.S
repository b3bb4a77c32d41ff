/* SPDX-License-Identifier: GPL-2.0-only */
/* The test guest's /init (guest_init.c), linked into test_vmm_boot. */
	.section .rodata
	.globl vmm_guest_init, vmm_guest_init_end
	.balign 16
vmm_guest_init:
	.incbin GUEST_INIT
vmm_guest_init_end:
	.section .note.GNU-stack, "", @progbits
