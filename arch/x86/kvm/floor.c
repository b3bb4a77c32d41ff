// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the bed's floor, a debug path for the benchmarks.
 *
 * KVM_NKVM_FLOOR (include/uapi/nkvm/nkvm.h) makes the backend enter the
 * guest again and again with an empty exit handler, so that "make bench"
 * can say how far each real exit path is from the bare cost of a VM entry
 * and exit on the bed.  Off unless kvm.ko's parameter nkvm_floor is set.
 */
#include <linux/module.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <uapi/nkvm/nkvm.h>

#include "x86.h"

static bool nkvm_floor;
module_param(nkvm_floor, bool, 0644);
MODULE_PARM_DESC(nkvm_floor, "Offer KVM_NKVM_FLOOR, the benchmarks' bare entry/exit loop (debug)");

bool nkvm_floor_available(void)
{
	return READ_ONCE(nkvm_floor) && kvm_x86_ops->floor;
}

/*
 * No guest instruction may run in the loop: the guest must be stopped, in a
 * mode without paging, at a CPUID (0f a2) or VMMCALL (0f 01 d9).
 */
static int nkvm_floor_check_insn(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs sregs;
	u8 insn[3];

	kvm_x86_ops->get_sregs(vcpu, &sregs);
	if (sregs.cr0 & X86_CR0_PG)
		return -EINVAL;
	if (nkvm_read_guest(vcpu->kvm, sregs.cs.base +
			    kvm_reg_read(vcpu, VCPU_REGS_RIP), insn, sizeof(insn)))
		return -EINVAL;
	if (insn[0] != 0x0f)
		return -EINVAL;
	if (insn[1] == 0xa2 || (insn[1] == 0x01 && insn[2] == 0xd9))
		return 0;
	return -EINVAL;
}

long nkvm_floor_ioctl(struct kvm_vcpu *vcpu, void __user *argp)
{
	struct nkvm_floor f;
	int i, idx, r;

	if (!nkvm_floor_available())
		return -EINVAL;
	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.flags || !f.iterations || f.iterations > NKVM_FLOOR_MAX)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(f.pad); i++)
		if (f.pad[i])
			return -EINVAL;
	/* Nothing may be waiting to be delivered, or the loop would skip it. */
	if (vcpu->arch.exception.pending || vcpu->arch.exception.injected ||
	    vcpu->arch.nmi_injected || vcpu->arch.interrupt.injected ||
	    vcpu->arch.pio.pending || vcpu->arch.dr_guest_owned ||
	    vcpu->arch.guest_debug)
		return -EBUSY;

	kvm_vcpu_load(vcpu);
	idx = srcu_read_lock(&vcpu->kvm->srcu);
	r = nkvm_floor_check_insn(vcpu);
	if (!r)
		r = kvm_mmu_reload(vcpu);
	if (!r) {
		/* The guest runs no instruction, but its FPU is the one loaded. */
		fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, true);
		r = kvm_x86_ops->floor(vcpu, &f);
		fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, false);
	}
	srcu_read_unlock(&vcpu->kvm->srcu, idx);
	kvm_vcpu_put(vcpu);
	if (r)
		return r;
	return copy_to_user(argp, &f, sizeof(f)) ? -EFAULT : 0;
}
