/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the in-kernel I/O buses.
 *
 * A VM has one bus for port I/O and one for MMIO (and an s390 bus that x86
 * never searches, so that KVM_IOEVENTFD accepts every flag Linux accepts).
 * A bus maps guest address ranges to in-kernel devices; x86 consults it
 * before it sends an access to userspace, and the instruction emulator
 * before it turns an MMIO access into KVM_EXIT_MMIO.
 *
 * A bus is an immutable array of ranges sorted by start address, published
 * with RCU and read under the VM's SRCU (kvm->srcu, which a running vCPU
 * holds), exactly like the memslots.  An update builds a new array from the
 * current one, publishes it and waits for readers.  Every bus keeps a spare
 * array large enough for the next removal, so unregistering a device never
 * allocates and never fails.
 *
 * Ranges may overlap: several ioeventfds at one address (different data, or
 * a read and a write registration), or an ioeventfd inside a device's
 * window.  An access is offered to every range that contains it, highest
 * start address first (and, among equal starts, the most recently
 * registered first), until a device accepts it.  A device declines with
 * -EOPNOTSUPP.
 *
 * The first half of this file (and of virt/kvm/iobus.c) is pure logic that
 * also builds in userspace for the unit tests (NKVM_USERSPACE).
 */
#ifndef _NKVM_IOBUS_H
#define _NKVM_IOBUS_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <linux/kvm_types.h>
#else
#include "unit_compat.h"
#endif

struct kvm;
struct kvm_vcpu;
struct kvm_io_device;

enum kvm_bus {
	KVM_MMIO_BUS,
	KVM_PIO_BUS,
	KVM_VIRTIO_CCW_NOTIFY_BUS,
	KVM_NR_BUSES
};

/*
 * Devices other than ioeventfds a bus may hold (Linux's limit; ioeventfds
 * are bounded by the number of eventfds a process may open).
 */
#define NR_IOBUS_DEVS		1000

/*
 * A device's callbacks run in the vCPU's thread, under kvm->srcu; they may
 * not take kvm->slots_lock.  read and write return 0 when they handled the
 * access, -EOPNOTSUPP to let the next device (or userspace) have it.  Either
 * may be NULL.  destructor, if not NULL, is called once for a device still
 * registered when the VM is destroyed (after kvm_arch_vm_destroy()).  A
 * device's owner either unregisters it before freeing it, or lets the
 * destructor free it.
 */
struct kvm_io_device_ops {
	int (*read)(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
		    gpa_t addr, int len, void *val);
	int (*write)(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
		     gpa_t addr, int len, const void *val);
	void (*destructor)(struct kvm_io_device *dev);
};

struct kvm_io_device {
	const struct kvm_io_device_ops *ops;
};

static inline void kvm_iodevice_init(struct kvm_io_device *dev,
				     const struct kvm_io_device_ops *ops)
{
	dev->ops = ops;
}

/* Range flags. */
#define KVM_IO_RANGE_UNCOUNTED	1	/* an ioeventfd: not in NR_IOBUS_DEVS */

/*
 * [addr, addr + len) is the device's window; len 0 is a window of one
 * address that matches accesses of any width starting there (what Linux
 * does for ioeventfds without a length).  reach is the largest end of the
 * windows of ranges 0..i: a lookup walking down from its address stops at
 * the first range whose reach does not pass the address.
 */
struct kvm_io_range {
	gpa_t addr;
	gpa_t reach;
	u32 len;
	u32 flags;
	struct kvm_io_device *dev;
};

struct kvm_io_bus {
	u32 nr;			/* ranges in use */
	u32 cap;		/* ranges allocated */
	u32 nr_counted;		/* ranges without KVM_IO_RANGE_UNCOUNTED */
	struct kvm_io_range range[];
};

struct kvm_io_bus *kvm_io_bus_alloc(u32 cap);
void kvm_io_bus_free(struct kvm_io_bus *bus);

/*
 * Fill @dst with the ranges of @src plus [addr, addr + len) for @dev.
 * @src is not modified; @dst may not be @src.  Returns 0, -EINVAL if the
 * window wraps around the address space, -ENOSPC if @flags count the device
 * and the bus already holds NR_IOBUS_DEVS such devices, -ENOMEM if @dst is
 * too small (it needs src->nr + 1 ranges).
 */
int kvm_io_bus_insert(struct kvm_io_bus *dst, const struct kvm_io_bus *src,
		      gpa_t addr, u32 len, u32 flags,
		      struct kvm_io_device *dev);

/*
 * Fill @dst with the ranges of @src except every range of @dev.  Returns
 * how many were removed (0: @dev was not on the bus, and @dst is left
 * untouched), or -ENOMEM if @dst cannot hold the result.
 */
int kvm_io_bus_remove(struct kvm_io_bus *dst, const struct kvm_io_bus *src,
		      const struct kvm_io_device *dev);

/*
 * The ranges that contain the access [addr, addr + len), in the order they
 * are offered it: kvm_io_bus_first() gives the index of the first, then
 * kvm_io_bus_next() the one after index @i; -1 when there is none.
 */
int kvm_io_bus_first(const struct kvm_io_bus *bus, gpa_t addr, int len);
int kvm_io_bus_next(const struct kvm_io_bus *bus, gpa_t addr, int len, int i);

/*
 * Offer an access to the devices of @bus: 0 once one handled it,
 * -EOPNOTSUPP if none did.
 */
int kvm_io_bus_dispatch(const struct kvm_io_bus *bus, struct kvm_vcpu *vcpu,
			gpa_t addr, int len, void *val, bool write);

#ifndef NKVM_USERSPACE
#include <linux/rcupdate.h>

/* In struct kvm: the published buses and their spares (kvm->slots_lock). */
struct kvm_io_buses {
	struct kvm_io_bus __rcu *bus[KVM_NR_BUSES];
	struct kvm_io_bus *spare[KVM_NR_BUSES];
};

int kvm_io_bus_init(struct kvm *kvm);
/* At VM destruction: destructors of the devices still registered, then free. */
void kvm_io_bus_destroy(struct kvm *kvm);

/*
 * Register @dev for [addr, addr + len) (len 0: see struct kvm_io_range), or
 * remove every range of @dev.  The caller holds kvm->slots_lock; both wait
 * for an SRCU grace period, so that on return no vCPU sees the old bus
 * (after unregistering, the device may be freed).  Registering returns
 * 0, -EINVAL, -ENOSPC or -ENOMEM; unregistering cannot fail.
 */
int kvm_io_bus_register_dev(struct kvm *kvm, enum kvm_bus idx, gpa_t addr,
			    int len, struct kvm_io_device *dev);
void kvm_io_bus_unregister_dev(struct kvm *kvm, enum kvm_bus idx,
			       struct kvm_io_device *dev);
/* For ioeventfds: not counted against NR_IOBUS_DEVS. */
int kvm_io_bus_register_uncounted(struct kvm *kvm, enum kvm_bus idx,
				  gpa_t addr, int len,
				  struct kvm_io_device *dev);

/*
 * Offer a guest access of @len bytes at @addr (little-endian data in @val)
 * to the in-kernel devices of bus @idx.  Returns 0 when a device handled it
 * (for a read, @val holds the data), -EOPNOTSUPP when the access must go to
 * userspace.  The caller holds kvm->srcu (as a vCPU does in KVM_RUN).
 */
int kvm_io_bus_read(struct kvm_vcpu *vcpu, enum kvm_bus idx, gpa_t addr,
		    int len, void *val);
int kvm_io_bus_write(struct kvm_vcpu *vcpu, enum kvm_bus idx, gpa_t addr,
		     int len, const void *val);
#endif /* !NKVM_USERSPACE */

#endif /* _NKVM_IOBUS_H */
