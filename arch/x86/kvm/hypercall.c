// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: hypercalls and the rest of the KVM paravirtual interface's guest
 * side, for both vendors.
 *
 * A hypercall is VMMCALL (AMD) or VMCALL (Intel) at CPL 0: RAX holds its
 * number, RBX, RCX, RDX and RSI its arguments (all 32 bits wide outside
 * 64-bit code), and the result goes back in RAX.  A guest that uses the
 * other vendor's instruction gets #UD from the CPU; with
 * KVM_X86_QUIRK_FIX_HYPERCALL_INSN on (the default), nkvm rewrites the
 * instruction in guest memory to the right one and lets the guest run it
 * again, as Linux does.
 *
 * PV features (CPUID 0x40000001) are offered by KVM_GET_SUPPORTED_CPUID.
 * What the guest may use is, by default, everything nkvm implements; with
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID enabled on the vCPU, only what the
 * guest's own CPUID offers: the PV MSRs of a missing feature raise #GP and
 * its hypercalls return -KVM_ENOSYS.
 */
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <asm/trapnr.h>
#include <uapi/linux/kvm_para.h>

#include "hypercall.h"
#include "hyperv.h"
#include "cpuid.h"
#include "lapic.h"
#include "irq.h"

/* "KVMKVMKVM\0\0\0" in EBX, ECX, EDX of the signature leaf. */
#define KVM_SIG_EBX	0x4b4d564b
#define KVM_SIG_ECX	0x564b4d56
#define KVM_SIG_EDX	0x4d

/* The KVM leaves may sit at any base 0x40000x00 (after Hyper-V's, say). */
static u32 kvm_pv_features(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid_entry2 *e;
	u32 base;

	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		e = kvm_cpuid_find(vcpu->arch.cpuid_entries,
				   vcpu->arch.cpuid_nent, base, 0);
		if (!e || e->ebx != KVM_SIG_EBX || e->ecx != KVM_SIG_ECX ||
		    e->edx != KVM_SIG_EDX)
			continue;
		e = kvm_cpuid_find(vcpu->arch.cpuid_entries,
				   vcpu->arch.cpuid_nent, base + 1, 0);
		return e ? e->eax : 0;
	}
	return 0;
}

bool kvm_pv_has(struct kvm_vcpu *vcpu, unsigned int feature)
{
	if (!vcpu->arch.pv_enforce)
		return true;
	return kvm_pv_features(vcpu) & BIT(feature);
}

/*
 * KVM_HC_SCHED_YIELD: the caller waits for the vCPU with APIC ID @dest.
 * nkvm does not track which host task runs a vCPU: it only gives the CPU
 * away if the scheduler wants it back anyway.  Always succeeds.
 */
static void kvm_sched_yield(struct kvm_vcpu *vcpu, u64 dest)
{
	if (dest != vcpu->vcpu_id)
		cond_resched();
}

/*
 * KVM_HC_KICK_CPU: wake the vCPU with APIC ID @apic_id from a HLT its
 * guest does with interrupts off (a PV spinlock's wait), or make its next
 * such HLT return at once.
 */
static void kvm_kick_cpu(struct kvm_vcpu *vcpu, u64 apic_id)
{
	struct kvm_vcpu *target;
	unsigned long i;

	kvm_for_each_vcpu(i, target, vcpu->kvm) {
		/* Published last by kvm_lapic_create(). */
		struct kvm_lapic *apic = smp_load_acquire(&target->arch.apic);

		if (!apic || vlapic_cur_id(apic) != apic_id)
			continue;
		WRITE_ONCE(target->arch.pv_unhalted, true);
		kvm_vcpu_kick(target);
		return;
	}
}

/*
 * KVM_HC_SEND_IPI: @icr's low half (vector, delivery mode, level, trigger;
 * physical, no shorthand) to the APIC IDs @min + i for the bits i of @low,
 * then @min + 64 (32 outside 64-bit code) + i for those of @high.
 */
static long kvm_send_ipi(struct kvm_vcpu *vcpu, u64 low, u64 high, u32 min,
			 u64 icr, bool op64)
{
	struct kvm_lapic_irq irq = {
		.vector = icr & LAPIC_VECTOR_MASK,
		.delivery_mode = (icr & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT,
		.level = icr & LAPIC_INT_ASSERT,
		.trig_level = icr & LAPIC_LEVEL_TRIGGER,
	};
	u64 bitmap[2] = { low, high };

	if (icr & (LAPIC_DEST_LOGICAL | LAPIC_SHORT_MASK))
		return -KVM_EINVAL;
	if (!kvm_lapic_in_kernel(vcpu))
		return -KVM_EOPNOTSUPP;
	return kvm_irq_deliver_bitmap(vcpu->kvm, bitmap, min, op64 ? 64 : 32,
				      &irq);
}

bool kvm_hypercall_64(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs sregs;

	if (!(vcpu->arch.efer & EFER_LMA))
		return false;
	kvm_x86_ops->get_sregs(vcpu, &sregs);
	return sregs.cs.l;
}

int kvm_handle_hypercall(struct kvm_vcpu *vcpu, u64 next_rip)
{
	bool op64 = kvm_hypercall_64(vcpu);
	u64 nr = kvm_reg_read(vcpu, VCPU_REGS_RAX);
	u64 a0 = kvm_reg_read(vcpu, VCPU_REGS_RBX);
	u64 a1 = kvm_reg_read(vcpu, VCPU_REGS_RCX);
	u64 a2 = kvm_reg_read(vcpu, VCPU_REGS_RDX);
	u64 a3 = kvm_reg_read(vcpu, VCPU_REGS_RSI);
	long ret = -KVM_ENOSYS;

	/* A guest that set up Hyper-V's interface makes Hyper-V's calls. */
	if (kvm_hv_hypercall_enabled(vcpu))
		return kvm_hv_hypercall(vcpu, next_rip);

	if (!op64) {
		nr = (u32)nr;
		a0 = (u32)a0;
		a1 = (u32)a1;
		a2 = (u32)a2;
		a3 = (u32)a3;
	}

	if (kvm_x86_ops->get_cpl(vcpu) != 0) {
		ret = -KVM_EPERM;
		goto out;
	}

	switch (nr) {
	case KVM_HC_VAPIC_POLL_IRQ:
		ret = 0;
		break;
	case KVM_HC_KICK_CPU:
		if (!kvm_pv_has(vcpu, KVM_FEATURE_PV_UNHALT))
			break;
		kvm_kick_cpu(vcpu, a1);
		kvm_sched_yield(vcpu, a1);
		ret = 0;
		break;
	case KVM_HC_SEND_IPI:
		if (!kvm_pv_has(vcpu, KVM_FEATURE_PV_SEND_IPI))
			break;
		ret = kvm_send_ipi(vcpu, a0, a1, a2, a3, op64);
		break;
	case KVM_HC_SCHED_YIELD:
		if (!kvm_pv_has(vcpu, KVM_FEATURE_PV_SCHED_YIELD))
			break;
		kvm_sched_yield(vcpu, a0);
		ret = 0;
		break;
	default:
		/* CLOCK_PAIRING, MAP_GPA_RANGE, ...: not offered. */
		break;
	}
out:
	if (!op64)
		ret = (u32)ret;
	kvm_reg_write(vcpu, VCPU_REGS_RAX, ret);
	vcpu->stat.hypercalls++;
	nkvm_skip_insn(vcpu, next_rip);
	return 1;
}

static const u8 vmcall_insn[3] = { 0x0f, 0x01, 0xc1 };
static const u8 vmmcall_insn[3] = { 0x0f, 0x01, 0xd9 };

/*
 * Copy @len bytes between the guest's linear address @la and @buf, through
 * the guest's page tables (the hypercall fix writes whatever the tables'
 * permissions).  0, or -EFAULT when a byte is not mapped to guest RAM.
 */
int kvm_linear_copy(struct kvm_vcpu *vcpu, u64 la, u8 *buf,
		    unsigned int len, bool write)
{
	struct kvm_translation tr = {};
	unsigned int i;
	int r;

	for (i = 0; i < len; i++) {
		tr.linear_address = la + i;
		if (kvm_translate(vcpu, &tr) || !tr.valid)
			return -EFAULT;
		r = write ? nkvm_vcpu_write_guest(vcpu, tr.physical_address,
						  &buf[i], 1) :
			    nkvm_vcpu_read_guest(vcpu, tr.physical_address,
						 &buf[i], 1);
		if (r)
			return -EFAULT;
	}
	return 0;
}

/*
 * A #UD: if it is the other vendor's hypercall instruction and the quirk
 * is on, patch it to the native one and return to the guest at the same
 * RIP, so that it runs the hypercall.  Otherwise the guest gets its #UD.
 * As Linux's emulator: VMMCALL outside protected mode (or in virtual-8086
 * mode) stays a #UD, VMCALL outside ring 0 is a #GP.
 */
int kvm_handle_ud(struct kvm_vcpu *vcpu)
{
	const u8 *native = kvm_x86_ops->hypercall_insn;
	struct kvm_sregs sregs;
	u8 insn[3];
	u64 la;

	if (!native || !kvm_has_quirk(vcpu->kvm,
				      KVM_X86_QUIRK_FIX_HYPERCALL_INSN))
		goto ud;

	kvm_x86_ops->get_sregs(vcpu, &sregs);
	la = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	if (!(vcpu->arch.efer & EFER_LMA) || !sregs.cs.l)
		la = (u32)(la + sregs.cs.base);
	if (kvm_linear_copy(vcpu, la, insn, sizeof(insn), false))
		goto ud;
	if (!memcmp(insn, vmmcall_insn, 3)) {
		/* VMMCALL is a protected-mode instruction (as Linux decodes it). */
		if (!(vcpu->arch.cr0 & X86_CR0_PE) ||
		    (vcpu->arch.rflags & X86_EFLAGS_VM))
			goto ud;
	} else if (!memcmp(insn, vmcall_insn, 3)) {
		/* VMCALL is privileged: #GP outside ring 0. */
		if (kvm_x86_ops->get_cpl(vcpu) != 0) {
			nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
			return 1;
		}
	} else {
		goto ud;
	}
	/* Already native: another vCPU patched it meanwhile.  Run it. */
	if (!memcmp(insn, native, 3))
		return 1;
	memcpy(insn, native, 3);
	if (kvm_linear_copy(vcpu, la, insn, sizeof(insn), true))
		goto ud;
	return 1;
ud:
	nkvm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

static int kvm_vcpu_enable_cap(struct kvm_vcpu *vcpu,
			       const struct kvm_enable_cap *cap)
{
	if (cap->flags)
		return -EINVAL;
	switch (cap->cap) {
	case KVM_CAP_ENFORCE_PV_FEATURE_CPUID:
		vcpu->arch.pv_enforce = cap->args[0];
		return 0;
	default:
		return kvm_hv_enable_cap(vcpu, cap);
	}
}

long kvm_pv_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
		       void __user *argp)
{
	switch (ioctl) {
	case KVM_ENABLE_CAP: {
		struct kvm_enable_cap cap;

		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		return kvm_vcpu_enable_cap(vcpu, &cap);
	}
	case KVM_HAS_DEVICE_ATTR:
	case KVM_GET_DEVICE_ATTR:
	case KVM_SET_DEVICE_ATTR: {
		struct kvm_device_attr attr;

		if (copy_from_user(&attr, argp, sizeof(attr)))
			return -EFAULT;
		return kvm_vcpu_tsc_attr(vcpu, ioctl, &attr);
	}
	case KVM_GET_SUPPORTED_HV_CPUID:
		return kvm_dev_ioctl_get_supported_hv_cpuid(vcpu, argp);
	default:
		return -EINVAL;
	}
}
