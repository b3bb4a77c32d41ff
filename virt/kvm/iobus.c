// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the in-kernel I/O buses (see include/nkvm/iobus.h).
 *
 * The first part is pure logic on bus arrays and also builds in userspace
 * for the unit tests; the second part publishes buses in a VM and serves
 * the vCPUs' accesses.
 */
#ifndef NKVM_USERSPACE
#include <linux/slab.h>
#include <linux/overflow.h>
#include <linux/minmax.h>
#endif
#include <nkvm/iobus.h>

/* ---- Bus arrays (pure logic) ------------------------------------------- */

/* The last address of a range's window (a len 0 window is one address). */
static gpa_t io_range_last(const struct kvm_io_range *r)
{
	return r->addr + (r->len ? r->len : 1) - 1;
}

static bool io_range_contains(const struct kvm_io_range *r, gpa_t addr, int len)
{
	gpa_t off;

	if (addr < r->addr)
		return false;
	if (!r->len)
		return addr == r->addr;
	off = addr - r->addr;
	return off < r->len && (u64)len <= r->len - off;
}

/* How many ranges start at or below addr (they come first: sorted). */
static u32 ranges_starting_by(const struct kvm_io_bus *bus, gpa_t addr)
{
	u32 lo = 0, hi = bus->nr;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (bus->range[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void recompute_reach(struct kvm_io_bus *bus, u32 from)
{
	gpa_t reach = from ? bus->range[from - 1].reach : 0;
	u32 i;

	for (i = from; i < bus->nr; i++) {
		gpa_t last = io_range_last(&bus->range[i]);

		if (i == 0 || last > reach)
			reach = last;
		bus->range[i].reach = reach;
	}
}

struct kvm_io_bus *kvm_io_bus_alloc(u32 cap)
{
	struct kvm_io_bus *bus;

	bus = kvzalloc(struct_size(bus, range, cap), GFP_KERNEL_ACCOUNT);
	if (bus)
		bus->cap = cap;
	return bus;
}

void kvm_io_bus_free(struct kvm_io_bus *bus)
{
	kvfree(bus);
}

int kvm_io_bus_insert(struct kvm_io_bus *dst, const struct kvm_io_bus *src,
		      gpa_t addr, u32 len, u32 flags,
		      struct kvm_io_device *dev)
{
	bool counted = !(flags & KVM_IO_RANGE_UNCOUNTED);
	u32 pos;

	if (len && addr + len - 1 < addr)
		return -EINVAL;
	if (counted && src->nr_counted >= NR_IOBUS_DEVS)
		return -ENOSPC;
	if (dst->cap < src->nr + 1)
		return -ENOMEM;

	/* After every range starting at or below addr: newest last. */
	pos = ranges_starting_by(src, addr);
	memcpy(dst->range, src->range, pos * sizeof(src->range[0]));
	dst->range[pos] = (struct kvm_io_range) {
		.addr = addr,
		.len = len,
		.flags = flags,
		.dev = dev,
	};
	memcpy(dst->range + pos + 1, src->range + pos,
	       (src->nr - pos) * sizeof(src->range[0]));
	dst->nr = src->nr + 1;
	dst->nr_counted = src->nr_counted + counted;
	recompute_reach(dst, pos);
	return 0;
}

int kvm_io_bus_remove(struct kvm_io_bus *dst, const struct kvm_io_bus *src,
		      const struct kvm_io_device *dev)
{
	u32 i, n = 0, removed = 0, counted = 0;

	for (i = 0; i < src->nr; i++)
		removed += src->range[i].dev == dev;
	if (!removed)
		return 0;
	if (dst->cap < src->nr - removed)
		return -ENOMEM;

	for (i = 0; i < src->nr; i++) {
		const struct kvm_io_range *r = &src->range[i];

		if (r->dev == dev)
			continue;
		dst->range[n++] = *r;
		counted += !(r->flags & KVM_IO_RANGE_UNCOUNTED);
	}
	dst->nr = n;
	dst->nr_counted = counted;
	recompute_reach(dst, 0);
	return removed;
}

/* The first range at or below index i that contains the access, or -1. */
static int scan_down(const struct kvm_io_bus *bus, gpa_t addr, int len, int i)
{
	for (; i >= 0; i--) {
		const struct kvm_io_range *r = &bus->range[i];

		/* No range at or below i reaches addr. */
		if (r->reach < addr)
			return -1;
		if (io_range_contains(r, addr, len))
			return i;
	}
	return -1;
}

int kvm_io_bus_first(const struct kvm_io_bus *bus, gpa_t addr, int len)
{
	if (len <= 0)
		return -1;
	return scan_down(bus, addr, len, (int)ranges_starting_by(bus, addr) - 1);
}

int kvm_io_bus_next(const struct kvm_io_bus *bus, gpa_t addr, int len, int i)
{
	return scan_down(bus, addr, len, i - 1);
}

int kvm_io_bus_dispatch(const struct kvm_io_bus *bus, struct kvm_vcpu *vcpu,
			gpa_t addr, int len, void *val, bool write)
{
	int i;

	for (i = kvm_io_bus_first(bus, addr, len); i >= 0;
	     i = kvm_io_bus_next(bus, addr, len, i)) {
		struct kvm_io_device *dev = bus->range[i].dev;
		const struct kvm_io_device_ops *ops = dev->ops;

		if (write) {
			if (ops->write && !ops->write(vcpu, dev, addr, len, val))
				return 0;
		} else {
			if (ops->read && !ops->read(vcpu, dev, addr, len, val))
				return 0;
		}
	}
	return -EOPNOTSUPP;
}

#ifndef NKVM_USERSPACE
/* ---- Buses in a VM ----------------------------------------------------- */

#include <nkvm/kvm_host.h>

static struct kvm_io_bus *kvm_get_bus_locked(struct kvm *kvm, enum kvm_bus idx)
{
	return rcu_dereference_protected(kvm->buses.bus[idx],
					 lockdep_is_held(&kvm->slots_lock));
}

int kvm_io_bus_init(struct kvm *kvm)
{
	int i;

	for (i = 0; i < KVM_NR_BUSES; i++) {
		struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
		struct kvm_io_bus *spare = kvm_io_bus_alloc(0);

		if (!bus || !spare) {
			kvm_io_bus_free(bus);
			kvm_io_bus_free(spare);
			kvm_io_bus_destroy(kvm);
			return -ENOMEM;
		}
		RCU_INIT_POINTER(kvm->buses.bus[i], bus);
		kvm->buses.spare[i] = spare;
	}
	return 0;
}

/* Whether dev already had its destructor called from an earlier range. */
static bool seen_before(const struct kvm_io_bus *bus, u32 i)
{
	u32 j;

	for (j = 0; j < i; j++)
		if (bus->range[j].dev == bus->range[i].dev)
			return true;
	return false;
}

void kvm_io_bus_destroy(struct kvm *kvm)
{
	int i;

	for (i = 0; i < KVM_NR_BUSES; i++) {
		struct kvm_io_bus *bus;
		u32 j;

		bus = rcu_dereference_protected(kvm->buses.bus[i], true);
		for (j = 0; bus && j < bus->nr; j++) {
			struct kvm_io_device *dev = bus->range[j].dev;

			if (dev->ops->destructor && !seen_before(bus, j))
				dev->ops->destructor(dev);
		}
		kvm_io_bus_free(bus);
		kvm_io_bus_free(kvm->buses.spare[i]);
		RCU_INIT_POINTER(kvm->buses.bus[i], NULL);
		kvm->buses.spare[i] = NULL;
	}
}

/*
 * Publish the array built in the spare, wait until no vCPU can still be
 * reading the old one, and keep that as the next spare.
 */
static void kvm_io_bus_publish(struct kvm *kvm, enum kvm_bus idx)
{
	struct kvm_io_bus *old = kvm_get_bus_locked(kvm, idx);

	rcu_assign_pointer(kvm->buses.bus[idx], kvm->buses.spare[idx]);
	synchronize_srcu_expedited(&kvm->srcu);
	kvm->buses.spare[idx] = old;
}

static int kvm_io_bus_register(struct kvm *kvm, enum kvm_bus idx, gpa_t addr,
			       int len, u32 flags, struct kvm_io_device *dev)
{
	struct kvm_io_bus *bus, *spare;
	int r;

	lockdep_assert_held(&kvm->slots_lock);
	if (len < 0)
		return -EINVAL;

	bus = kvm_get_bus_locked(kvm, idx);
	spare = kvm->buses.spare[idx];
	if (spare->cap < bus->nr + 1) {
		u32 cap = max3(bus->nr + 1, 2 * bus->nr, 4U);

		spare = kvm_io_bus_alloc(cap);
		if (!spare)
			return -ENOMEM;
		kvm_io_bus_free(kvm->buses.spare[idx]);
		kvm->buses.spare[idx] = spare;
	}

	r = kvm_io_bus_insert(spare, bus, addr, len, flags, dev);
	if (r)
		return r;
	/*
	 * The old array becomes the spare: it holds bus->nr ranges, enough
	 * for the result of any removal from the new one.
	 */
	kvm_io_bus_publish(kvm, idx);
	return 0;
}

int kvm_io_bus_register_dev(struct kvm *kvm, enum kvm_bus idx, gpa_t addr,
			    int len, struct kvm_io_device *dev)
{
	return kvm_io_bus_register(kvm, idx, addr, len, 0, dev);
}

int kvm_io_bus_register_uncounted(struct kvm *kvm, enum kvm_bus idx,
				  gpa_t addr, int len,
				  struct kvm_io_device *dev)
{
	return kvm_io_bus_register(kvm, idx, addr, len,
				   KVM_IO_RANGE_UNCOUNTED, dev);
}

void kvm_io_bus_unregister_dev(struct kvm *kvm, enum kvm_bus idx,
			       struct kvm_io_device *dev)
{
	struct kvm_io_bus *bus;
	int r;

	lockdep_assert_held(&kvm->slots_lock);
	bus = kvm_get_bus_locked(kvm, idx);
	/* The spare can hold bus->nr - 1 ranges (see kvm_io_bus_register()). */
	r = kvm_io_bus_remove(kvm->buses.spare[idx], bus, dev);
	if (r > 0)
		kvm_io_bus_publish(kvm, idx);
}

static int kvm_io_bus_access(struct kvm_vcpu *vcpu, enum kvm_bus idx,
			     gpa_t addr, int len, void *val, bool write)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_io_bus *bus;

	bus = srcu_dereference_check(kvm->buses.bus[idx], &kvm->srcu,
				     lockdep_is_held(&kvm->slots_lock));
	return kvm_io_bus_dispatch(bus, vcpu, addr, len, val, write);
}

int kvm_io_bus_read(struct kvm_vcpu *vcpu, enum kvm_bus idx, gpa_t addr,
		    int len, void *val)
{
	return kvm_io_bus_access(vcpu, idx, addr, len, val, false);
}

int kvm_io_bus_write(struct kvm_vcpu *vcpu, enum kvm_bus idx, gpa_t addr,
		     int len, const void *val)
{
	return kvm_io_bus_access(vcpu, idx, addr, len, (void *)val, true);
}
#endif /* !NKVM_USERSPACE */
