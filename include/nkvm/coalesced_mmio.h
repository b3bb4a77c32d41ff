/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: coalesced MMIO and PIO (virt/kvm/coalesced_mmio.c).
 *
 * KVM_REGISTER_COALESCED_MMIO names a zone of guest-physical (or, with
 * pio = 1, port) addresses whose writes userspace does not need to see at
 * once.  A guest write that lies wholly inside a zone is appended to a ring
 * (struct kvm_coalesced_mmio_ring, one page per VM, shared by its vCPUs and
 * mapped by each vCPU fd at page KVM_COALESCED_MMIO_PAGE_OFFSET) and the
 * vCPU goes straight back into the guest; userspace drains the ring at its
 * next exit, in order.  The kernel moves ring->last, userspace ring->first;
 * one slot always stays free, and a write that finds the ring full (or
 * ring->last out of range) exits to userspace as an ordinary MMIO or PIO
 * write.  Reads are never coalesced.
 */
#ifndef _NKVM_COALESCED_MMIO_H
#define _NKVM_COALESCED_MMIO_H

#include <linux/list.h>
#include <linux/spinlock.h>
#include <uapi/linux/kvm.h>

struct kvm;

/* In struct kvm. */
struct kvm_coalesced {
	struct kvm_coalesced_mmio_ring *ring;	/* the shared page */
	spinlock_t lock;			/* appending to the ring */
	struct list_head zones;			/* under kvm->slots_lock */
};

int kvm_coalesced_mmio_init(struct kvm *kvm);
/* After the buses are gone (their destructors freed the zones). */
void kvm_coalesced_mmio_free(struct kvm *kvm);
struct page *kvm_coalesced_mmio_page(struct kvm *kvm);
long kvm_coalesced_mmio_ioctl(struct kvm *kvm, unsigned int ioctl,
			      void __user *argp);

#endif /* _NKVM_COALESCED_MMIO_H */
