/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the KVM paravirtual interface (hypercall.c, and the PV MSRs in
 * kvmclock.c).
 */
#ifndef _NKVM_HYPERCALL_H
#define _NKVM_HYPERCALL_H

#include "x86.h"

/*
 * Does the guest have PV feature @feature (KVM_FEATURE_*)?  Always, unless
 * userspace enabled KVM_CAP_ENFORCE_PV_FEATURE_CPUID on the vCPU: then only
 * if the guest's CPUID offers it in the KVM leaf's features (base + 1).
 */
bool kvm_pv_has(struct kvm_vcpu *vcpu, unsigned int feature);

/* The hypercall comes from 64-bit code (long mode, a 64-bit CS). */
bool kvm_hypercall_64(struct kvm_vcpu *vcpu);

/* VMMCALL/VMCALL, and the #UD that may be the other vendor's one. */
int kvm_handle_hypercall(struct kvm_vcpu *vcpu, u64 next_rip);
int kvm_handle_ud(struct kvm_vcpu *vcpu);
/*
 * Copy between the guest's linear address @la and @buf through its page
 * tables, in the address space the vCPU sees.  0, or -EFAULT.
 */
int kvm_linear_copy(struct kvm_vcpu *vcpu, u64 la, u8 *buf,
		    unsigned int len, bool write);

/*
 * vCPU ioctls for the PV interface: KVM_ENABLE_CAP, and
 * KVM_HAS/GET/SET_DEVICE_ATTR (the TSC offset).  -EINVAL for others.
 */
long kvm_pv_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
		       void __user *argp);

/* kvmclock.c: the KVM PV MSRs, the steal time, the TSC attribute. */
bool kvm_is_pv_msr(u32 index);
int kvm_pv_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data);
int kvm_pv_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host);
void kvm_record_steal_time(struct kvm_vcpu *vcpu);
int kvm_vcpu_tsc_attr(struct kvm_vcpu *vcpu, unsigned int ioctl,
		      const struct kvm_device_attr *attr);

#endif /* _NKVM_HYPERCALL_H */
