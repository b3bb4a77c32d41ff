/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: System Management Mode (smm.c).
 */
#ifndef _NKVM_X86_SMM_H
#define _NKVM_X86_SMM_H

#include "x86.h"

/* The state-save map: SMBASE + 0xfe00 up to SMBASE + 0x10000. */
#define NKVM_SMRAM_SAVE_OFFSET	0xfe00
#define NKVM_SMRAM_SAVE_SIZE	512

/* The vCPU's address space: 1 (SMRAM visible) in SMM. */
void kvm_smm_changed(struct kvm_vcpu *vcpu, bool smm);
void kvm_smm_latch_smi(struct kvm_vcpu *vcpu);
bool kvm_smm_check_smi(struct kvm_vcpu *vcpu);
bool kvm_smm_rsm_at_rip(struct kvm_vcpu *vcpu);
int kvm_emulate_rsm(struct kvm_vcpu *vcpu);
void kvm_smm_reset(struct kvm_vcpu *vcpu, bool init);
void kvm_smm_get_events(struct kvm_vcpu *vcpu, struct kvm_vcpu_events *ev);
int kvm_smm_set_events(struct kvm_vcpu *vcpu, const struct kvm_vcpu_events *ev);
/* Does the guest's CPUID offer long mode (the AMD64 map, not the 32-bit)? */
bool kvm_smm_guest_has_lm(struct kvm_vcpu *vcpu);
/* A field of the map at the manuals' offset @off (0x7e00 to 0x7fff). */
void nkvm_smm_put64(u8 *buf, u32 off, u64 v);
u64 nkvm_smm_get64(const u8 *buf, u32 off);

#endif /* _NKVM_X86_SMM_H */
