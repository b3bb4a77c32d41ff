/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the work due before entering a guest (virt/kvm/xfer_work.c): a
 * reschedule, a signal, TIF_NOTIFY_RESUME (rseq, task work).
 */
#ifndef _NKVM_XFER_WORK_H
#define _NKVM_XFER_WORK_H

#include <linux/types.h>

/* Is any due?  With interrupts disabled, right before entering. */
bool kvm_xfer_work_pending(void);
/*
 * Do it (interrupts and preemption enabled, no locks held): 0, or -EINTR
 * when a signal is pending and KVM_RUN must return KVM_EXIT_INTR.
 */
int kvm_xfer_handle_work(void);

#endif /* _NKVM_XFER_WORK_H */
