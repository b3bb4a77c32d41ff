/* SPDX-License-Identifier: GPL-2.0-only */
/* The demo guest's flat binary, linked into the VMM. */
	.section .rodata
	.globl guest_image, guest_image_end
	.balign 16
guest_image:
	.incbin GUEST_BIN
guest_image_end:
	.section .note.GNU-stack, "", @progbits
