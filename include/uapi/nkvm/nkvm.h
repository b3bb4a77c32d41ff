/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nkvm's extensions to the /dev/kvm ABI.
 *
 * The standard ABI is Linux's <linux/kvm.h>, unchanged.  nkvm's own
 * capabilities are numbered from KVM_CAP_NKVM_BASE, far above Linux's
 * capability numbers (which grow from 0 and are in the hundreds), so that
 * they can never collide; on Linux KVM, KVM_CHECK_EXTENSION answers 0.
 */
#ifndef _UAPI_NKVM_NKVM_H
#define _UAPI_NKVM_NKVM_H

#include <linux/types.h>

#define KVM_CAP_NKVM_BASE	0x6e6b0000	/* "nk" */

/* KVM_CHECK_EXTENSION: the nkvm ABI revision (1), or 0 on another KVM. */
#define KVM_CAP_NKVM		(KVM_CAP_NKVM_BASE + 0)

#define NKVM_ABI_REVISION	1

/*
 * KVM_IOEVENTFD_FLAG_DATAREAD: a read-capable ioeventfd (see
 * Documentation/virt/nkvm/ioeventfd-dataread.rst).  A registration with this
 * flag matches guest reads of exactly @len bytes at @addr instead of writes;
 * the read completes in the kernel with the value in @dataread below, and
 * the eventfd is signalled.
 *
 * Linux numbers its ioeventfd flags upward from bit 0 (bits 0-4 are taken,
 * and KVM_IOEVENTFD_VALID_FLAG_MASK covers exactly those).  This flag sits
 * far above them, so Linux's flags keep their values (DATAMATCH, PIO and
 * DEASSIGN are never renumbered) and Linux can add many more before
 * reaching it; on Linux KVM a registration with it fails with EINVAL.
 * KVM_CHECK_EXTENSION(KVM_CAP_NKVM_IOEVENTFD_DATAREAD) returns 1 where it
 * is supported.
 */
#define KVM_IOEVENTFD_FLAG_DATAREAD	(1U << 24)

#define KVM_CAP_NKVM_IOEVENTFD_DATAREAD	(KVM_CAP_NKVM_BASE + 1)

/*
 * struct kvm_ioeventfd as KVM_IOEVENTFD reads it when flags has
 * KVM_IOEVENTFD_FLAG_DATAREAD: Linux's layout and size (64 bytes), with the
 * value a matching read returns in what Linux leaves as padding.  Pass a
 * pointer to it to ioctl(vm_fd, KVM_IOEVENTFD, ...).  pad0 and pad must be
 * zero; @dataread must fit in @len bytes (little-endian, as the guest sees
 * it); @datamatch is ignored.
 */
struct nkvm_ioeventfd_dataread {
	__u64 datamatch;
	__u64 addr;
	__u32 len;
	__s32 fd;
	__u32 flags;
	__u32 pad0;
	__u64 dataread;
	__u8  pad[24];
};

/*
 * The bed's floor: the cost of a bare VMRUN/#VMEXIT (or VM entry/exit)
 * with an empty exit handler, for the benchmarks (make bench).  A debug
 * path, off unless kvm.ko's parameter nkvm_floor is 1; then
 * KVM_CHECK_EXTENSION(KVM_CAP_NKVM_FLOOR) answers 1 on backends that have
 * it (SVM).
 *
 * KVM_NKVM_FLOOR on a vCPU fd enters the guest @iterations times and
 * handles each exit with nothing at all: RIP does not move, so a guest
 * stopped at CPUID or VMMCALL (both intercepted before they execute) exits
 * again at once, and no guest instruction runs.  The loop stops early at
 * any other exit but a host interrupt; @done says how many entries were
 * made, @ns how long they took in all (the host's interrupts they caught
 * included), @exit_code is the hardware's last exit code.  flags and pad
 * must be zero; @iterations is 1 to NKVM_FLOOR_MAX.
 *
 * The ioctl number sits far above Linux's vCPU ioctls on KVMIO.
 */
#define KVM_CAP_NKVM_FLOOR		(KVM_CAP_NKVM_BASE + 2)

struct nkvm_floor {
	__u64 iterations;	/* in */
	__u32 flags;		/* in: 0 */
	__u32 exit_code;	/* out: the last exit's hardware code */
	__u64 done;		/* out: entries made */
	__u64 ns;		/* out: their total time */
	__u64 interrupts;	/* out: how many exits were host interrupts */
	__u64 pad[3];
};

#define NKVM_FLOOR_MAX		10000000ULL
#define KVM_NKVM_FLOOR		_IOWR(0xAE, 0xfe, struct nkvm_floor)

#endif /* _UAPI_NKVM_NKVM_H */
