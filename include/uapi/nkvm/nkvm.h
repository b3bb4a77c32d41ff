/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nkvm's extensions to the /dev/kvm ABI.
 *
 * The standard ABI is Linux's <linux/kvm.h>, unchanged.  nkvm's own
 * capabilities are numbered from KVM_CAP_NKVM_BASE, far above Linux's
 * capability numbers (which grow from 0 and are in the hundreds), so that
 * they can never collide; on Linux KVM, KVM_CHECK_EXTENSION answers 0.
 */
#ifndef _UAPI_NKVM_NKVM_H
#define _UAPI_NKVM_NKVM_H

#define KVM_CAP_NKVM_BASE	0x6e6b0000	/* "nk" */

/* KVM_CHECK_EXTENSION: the nkvm ABI revision (1), or 0 on another KVM. */
#define KVM_CAP_NKVM		(KVM_CAP_NKVM_BASE + 0)

#define NKVM_ABI_REVISION	1

#endif /* _UAPI_NKVM_NKVM_H */
