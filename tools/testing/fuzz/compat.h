/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - KVM ioctl numbers the build's <linux/kvm.h> may lack (it is
 * Debian 12's, from Linux 6.1), from the Linux KVM ABI.
 */
#ifndef NKVM_FUZZ_COMPAT_H
#define NKVM_FUZZ_COMPAT_H

#include <stdint.h>
#include <linux/kvm.h>

/* ABI numbers of ioctls newer than the 6.1 headers (Linux 6.8 and later). */
#ifndef KVM_SET_USER_MEMORY_REGION2
struct fz_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags;
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
	uint32_t pad1;
	uint64_t pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 \
	_IOW(KVMIO, 0x49, struct fz_userspace_memory_region2)
#endif
#ifndef KVM_SET_MEMORY_ATTRIBUTES
struct fz_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes;
	uint64_t flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES \
	_IOW(KVMIO, 0xd2, struct fz_memory_attributes)
#endif
#ifndef KVM_CREATE_GUEST_MEMFD
struct fz_create_guest_memfd {
	uint64_t size;
	uint64_t flags;
	uint64_t reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD \
	_IOWR(KVMIO, 0xd4, struct fz_create_guest_memfd)
#endif
#ifndef KVM_PRE_FAULT_MEMORY
struct fz_pre_fault_memory {
	uint64_t gpa;
	uint64_t size;
	uint64_t flags;
	uint64_t padding[5];
};
#define KVM_PRE_FAULT_MEMORY \
	_IOWR(KVMIO, 0xd5, struct fz_pre_fault_memory)
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD	(1UL << 2)
#endif
/* Coalesced MMIO zones: in the 6.1 header on continuation lines. */
#define FZ_REGISTER_COALESCED_MMIO \
	_IOW(KVMIO, 0x67, struct kvm_coalesced_mmio_zone)
#define FZ_UNREGISTER_COALESCED_MMIO \
	_IOW(KVMIO, 0x68, struct kvm_coalesced_mmio_zone)
/* Other architectures' vCPU setup (struct kvm_vcpu_init: 32 bytes). */
#define FZ_ARM_VCPU_INIT	_IOW(KVMIO, 0xae, char[32])
/* Long-removed numbers: they must fail cleanly. */
#define FZ_OLD_TRACE_ENABLE	_IOW(KVMIO, 0x06, char[28])
#define FZ_OLD_TRACE_PAUSE	_IO(KVMIO, 0x07)
#define FZ_OLD_TRACE_DISABLE	_IO(KVMIO, 0x08)
#define FZ_OLD_DEBUG_GUEST	_IOW(KVMIO, 0x87, char[2056])

#endif /* NKVM_FUZZ_COMPAT_H */
