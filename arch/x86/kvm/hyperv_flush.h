/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: remote TLB flushes through Hyper-V's guest-mapping flush hypercall.
 *
 * When nkvm itself runs as a guest of Hyper-V, a VM's remote TLB flush can
 * be one hypercall naming the root of its guest-physical map (the PGD: the
 * top-level table's address, without EPTP or nCR3 attribute bits) instead
 * of an IPI to every CPU.  The hypercall flushes one root, so the tracker
 * keeps the root common to all vCPUs of the VM:
 *
 *  - a vCPU loading a root other than the common one makes it INVALID;
 *    loading the same root changes nothing;
 *  - a flush with a valid common root is one hypercall;
 *  - with an INVALID common root, each distinct vCPU root is flushed once
 *    (roots already flushed in that pass are skipped) and the common root
 *    is recomputed on the way;
 *  - a failed hypercall makes the caller fall back to a full flush.
 *
 * Pure, vendor-neutral logic (SVM and VMX use it alike); the hypercall is
 * behind a function pointer, and the caller serialises calls on a tracker
 * (a VM's lock).  Builds in userspace with NKVM_USERSPACE for unit tests.
 */
#ifndef _NKVM_HYPERV_FLUSH_H
#define _NKVM_HYPERV_FLUSH_H

#ifdef NKVM_USERSPACE
#include "unit_compat.h"
#else
#include <linux/types.h>
#endif

/* No root: a vCPU that has none loaded, a VM none of whose vCPUs has. */
#define HV_FLUSH_ROOT_NONE	0ULL
/* vCPUs of the VM run on different roots. */
#define HV_FLUSH_ROOT_INVALID	(~0ULL)

/* Flush every mapping of @root; 0, or an error from the hypervisor. */
typedef int (*hv_flush_root_fn)(void *ctx, u64 root);
/* The root vCPU number @i of the VM runs on (HV_FLUSH_ROOT_NONE: none). */
typedef u64 (*hv_vcpu_root_fn)(void *vm, unsigned int i);

struct hv_flush_tracker {
	u64 common_root;		/* NONE, INVALID, or the common root */
	hv_flush_root_fn flush;
	void *ctx;
};

void nkvm_hv_flush_init(struct hv_flush_tracker *t, hv_flush_root_fn flush,
		   void *ctx);

/*
 * A vCPU whose root is *@vcpu_root loads @root (before entering the
 * guest); *@vcpu_root is updated.
 */
void nkvm_hv_flush_root_loaded(struct hv_flush_tracker *t, u64 *vcpu_root, u64 root);

/*
 * Flush the TLB entries of every vCPU root of the VM: @nr vCPUs whose
 * roots @root_of gives.  Returns 0 when the hypercalls did it, or the
 * first hypercall's error: then the caller must do a full flush.
 */
int nkvm_hv_flush_remote(struct hv_flush_tracker *t, void *vm,
		    hv_vcpu_root_fn root_of, unsigned int nr);

#endif /* _NKVM_HYPERV_FLUSH_H */
