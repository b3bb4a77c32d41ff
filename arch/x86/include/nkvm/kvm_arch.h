/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: x86 state embedded in the core's VM and vCPU objects.
 */
#ifndef _NKVM_X86_KVM_ARCH_H
#define _NKVM_X86_KVM_ARCH_H

#include <linux/types.h>
#include <linux/spinlock.h>
#include <asm/fpu/types.h>

enum kvm_reg {
	VCPU_REGS_RAX, VCPU_REGS_RCX, VCPU_REGS_RDX, VCPU_REGS_RBX,
	VCPU_REGS_RSP, VCPU_REGS_RBP, VCPU_REGS_RSI, VCPU_REGS_RDI,
	VCPU_REGS_R8, VCPU_REGS_R9, VCPU_REGS_R10, VCPU_REGS_R11,
	VCPU_REGS_R12, VCPU_REGS_R13, VCPU_REGS_R14, VCPU_REGS_R15,
	VCPU_REGS_RIP,
	NR_VCPU_REGS
};

/* The guest-physical map shared by NPT and EPT (arch/x86/kvm/mmu). */
struct kvm_tdp_mmu {
	spinlock_t lock;
	u64 *roots[2];			/* the root in use and a zeroed spare */
	u64 *root;			/* top-level table in use */
	u64 root_pa;
	unsigned long nr_tables;	/* table pages below the root */
};

struct kvm_arch {
	struct kvm_tdp_mmu mmu;
};

struct kvm_queued_exception {
	bool pending;
	bool has_error_code;
	u8 vector;
	u32 error_code;
};

struct kvm_vcpu_arch {
	/*
	 * General-purpose registers and RIP.  The backend copies RAX, RSP and
	 * RIP to and from its hardware structure around each entry.
	 */
	unsigned long regs[NR_VCPU_REGS];
	unsigned long rflags;

	struct fpu_guest guest_fpu;
	struct kvm_queued_exception exception;

	/* A port access userspace is handling (completed on KVM_RUN). */
	struct {
		bool pending;
		bool in;
		u8 size;
		u64 rip;		/* of the IN/OUT instruction */
		u64 next_rip;
	} pio;

	/* Guest debug registers while the guest owns the hardware ones. */
	unsigned long db[4];
	bool dr_guest_owned;

	u64 apic_base;

	/* Table pages preallocated for the next guest-physical fault. */
	void *mmu_cache[4];
	int mmu_cache_nr;
};

#endif /* _NKVM_X86_KVM_ARCH_H */
