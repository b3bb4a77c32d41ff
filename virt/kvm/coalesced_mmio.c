// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: coalesced MMIO and PIO zones (see include/nkvm/coalesced_mmio.h).
 *
 * A zone is a device on the MMIO or PIO bus that accepts the writes lying
 * wholly inside it, while the ring has room, by appending them to the ring;
 * it has no read callback, so reads go on to userspace.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/mm.h>

#include <nkvm/kvm_host.h>

struct coalesced_zone {
	struct kvm_io_device dev;
	struct kvm *kvm;
	struct kvm_coalesced_mmio_zone zone;
	struct list_head link;
};

static struct coalesced_zone *to_zone(struct kvm_io_device *dev)
{
	return container_of(dev, struct coalesced_zone, dev);
}

/* Does the zone hold all of [addr, addr + len)?  (A size 0 zone holds none.) */
static bool zone_holds(const struct kvm_coalesced_mmio_zone *z, u64 addr,
		       u64 len)
{
	return addr >= z->addr && addr + len >= addr &&
	       addr + len <= z->addr + z->size;
}

static int coalesced_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			   gpa_t addr, int len, const void *val)
{
	struct coalesced_zone *cz = to_zone(dev);
	struct kvm_coalesced *c = &cz->kvm->coalesced;
	struct kvm_coalesced_mmio_ring *ring = c->ring;
	struct kvm_coalesced_mmio *e;
	u32 last;

	if (len <= 0 || len > sizeof(e->data) ||
	    !zone_holds(&cz->zone, addr, len))
		return -EOPNOTSUPP;

	spin_lock(&c->lock);
	/* Userspace can write the whole page: trust none of it. */
	last = READ_ONCE(ring->last);
	if (last >= KVM_COALESCED_MMIO_MAX ||
	    (last + 1) % KVM_COALESCED_MMIO_MAX == READ_ONCE(ring->first)) {
		spin_unlock(&c->lock);
		return -EOPNOTSUPP;
	}
	e = &ring->coalesced_mmio[last];
	e->phys_addr = addr;
	e->len = len;
	e->pio = cz->zone.pio;
	memset(e->data, 0, sizeof(e->data));
	memcpy(e->data, val, len);
	/* The entry is complete before userspace can see it. */
	smp_wmb();
	WRITE_ONCE(ring->last, (last + 1) % KVM_COALESCED_MMIO_MAX);
	spin_unlock(&c->lock);
	return 0;
}

/* A zone still registered when the VM goes. */
static void coalesced_destructor(struct kvm_io_device *dev)
{
	struct coalesced_zone *cz = to_zone(dev);

	list_del(&cz->link);
	kfree(cz);
}

static const struct kvm_io_device_ops coalesced_ops = {
	.write = coalesced_write,
	.destructor = coalesced_destructor,
};

static enum kvm_bus zone_bus(const struct kvm_coalesced_mmio_zone *z)
{
	return z->pio ? KVM_PIO_BUS : KVM_MMIO_BUS;
}

static int coalesced_register(struct kvm *kvm,
			      const struct kvm_coalesced_mmio_zone *z)
{
	struct coalesced_zone *cz;
	int r;

	if (z->pio > 1)
		return -EINVAL;
	cz = kzalloc(sizeof(*cz), GFP_KERNEL_ACCOUNT);
	if (!cz)
		return -ENOMEM;
	kvm_iodevice_init(&cz->dev, &coalesced_ops);
	cz->kvm = kvm;
	cz->zone = *z;

	mutex_lock(&kvm->slots_lock);
	r = kvm_io_bus_register_dev(kvm, zone_bus(z), z->addr, z->size,
				    &cz->dev);
	if (!r)
		list_add_tail(&cz->link, &kvm->coalesced.zones);
	mutex_unlock(&kvm->slots_lock);
	if (r)
		kfree(cz);
	return r;
}

/* Every zone of the same kind that holds the range given goes (as Linux). */
static int coalesced_unregister(struct kvm *kvm,
				const struct kvm_coalesced_mmio_zone *z)
{
	struct coalesced_zone *cz, *tmp;

	if (z->pio > 1)
		return -EINVAL;
	mutex_lock(&kvm->slots_lock);
	list_for_each_entry_safe(cz, tmp, &kvm->coalesced.zones, link) {
		if (cz->zone.pio != z->pio ||
		    !zone_holds(&cz->zone, z->addr, z->size))
			continue;
		kvm_io_bus_unregister_dev(kvm, zone_bus(z), &cz->dev);
		list_del(&cz->link);
		kfree(cz);
	}
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

long kvm_coalesced_mmio_ioctl(struct kvm *kvm, unsigned int ioctl,
			      void __user *argp)
{
	struct kvm_coalesced_mmio_zone z;

	if (copy_from_user(&z, argp, sizeof(z)))
		return -EFAULT;
	if (ioctl == KVM_REGISTER_COALESCED_MMIO)
		return coalesced_register(kvm, &z);
	return coalesced_unregister(kvm, &z);
}

int kvm_coalesced_mmio_init(struct kvm *kvm)
{
	struct kvm_coalesced *c = &kvm->coalesced;

	c->ring = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!c->ring)
		return -ENOMEM;
	spin_lock_init(&c->lock);
	INIT_LIST_HEAD(&c->zones);
	return 0;
}

void kvm_coalesced_mmio_free(struct kvm *kvm)
{
	free_page((unsigned long)kvm->coalesced.ring);
	kvm->coalesced.ring = NULL;
}

struct page *kvm_coalesced_mmio_page(struct kvm *kvm)
{
	return virt_to_page(kvm->coalesced.ring);
}
