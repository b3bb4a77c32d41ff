// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the work due before entering a guest, through the kernel's entry
 * API for KVM (kernel/entry/kvm.c).
 *
 * Before each entry the run loop must do what returning to userspace would
 * do: reschedule, and handle TIF_NOTIFY_RESUME (task work, rseq's cpu_id
 * after a migration, the memory and block cgroups' throttling).  The
 * kernel exports none of that to modules except
 * xfer_to_guest_mode_handle_work(), which takes Linux's struct kvm_vcpu:
 * with a signal pending it writes KVM_EXIT_INTR into vcpu->run and counts
 * the exit in vcpu->stat.  nkvm's vCPU has another layout, so the call
 * gets a stand-in laid out by the kernel's own header (this file includes
 * Linux's <linux/kvm_host.h>, and nothing of nkvm's), and the caller turns
 * -EINTR into nkvm's own KVM_EXIT_INTR.  The stand-in is only ever
 * written those two dummy fields, by any number of vCPUs at once: nothing
 * reads it.
 */
#include <linux/entry-kvm.h>
#include <linux/kvm_host.h>

#include <nkvm/xfer_work.h>

static struct {
	struct kvm_vcpu vcpu;
	struct kvm_run run;
} kvm_xfer_stand_in;

bool kvm_xfer_work_pending(void)
{
	return __xfer_to_guest_mode_work_pending();
}

int kvm_xfer_handle_work(void)
{
	WRITE_ONCE(kvm_xfer_stand_in.vcpu.run, &kvm_xfer_stand_in.run);
	return xfer_to_guest_mode_handle_work(&kvm_xfer_stand_in.vcpu);
}
