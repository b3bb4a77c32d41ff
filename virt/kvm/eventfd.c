// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: ioeventfd (with nkvm's DATAREAD), irqfd, GSI routing and MSIs.
 *
 * ioeventfds are devices on the I/O buses (include/nkvm/iobus.h): a guest
 * access they match signals their eventfd and completes in the kernel.
 * irqfds hook the wait queue of an eventfd: a signal injects an interrupt
 * through the routing table and the irqchip's callbacks
 * (include/nkvm/eventfd.h).  Eventfd wake-ups run with hard interrupts off,
 * so injection is deferred to a workqueue unless the irqchip can deliver in
 * atomic context.  An irqfd is taken down (deassign, the eventfd's POLLHUP,
 * VM destruction) by a shutdown work item on a dedicated workqueue, which
 * unhooks it from the wait queue and waits for injections in flight;
 * flushing that workqueue makes deassign and destruction synchronous.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <nkvm/kvm_host.h>
#include <uapi/nkvm/nkvm.h>

/* 6.8 dropped eventfd_signal()'s count argument. */
#ifdef NKVM_HAVE_EVENTFD_SIGNAL_COUNT
#define nkvm_eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#else
#define nkvm_eventfd_signal(ctx)	eventfd_signal(ctx)
#endif

static struct workqueue_struct *irqfd_cleanup_wq;

static const struct kvm_irqchip_ops *kvm_irqchip_ops(struct kvm *kvm)
{
	/* Pairs with the release in kvm_irqchip_attach(). */
	return smp_load_acquire(&kvm->eventfds.irqchip);
}

/* ---- ioeventfd ---------------------------------------------------------- */

#define KVM_IOEVENTFD_LINUX_FLAGS	KVM_IOEVENTFD_VALID_FLAG_MASK

struct nkvm_ioeventfd {
	struct list_head link;		/* kvm->eventfds.ioeventfds */
	struct kvm_io_device dev;
	struct eventfd_ctx *eventfd;
	enum kvm_bus bus;
	gpa_t addr;
	u32 len;			/* 0: any width */
	bool read;			/* DATAREAD: matches reads */
	bool wildcard;			/* no DATAMATCH */
	u64 datamatch;
	__le64 dataread;
};

static struct nkvm_ioeventfd *to_ioeventfd(struct kvm_io_device *dev)
{
	return container_of(dev, struct nkvm_ioeventfd, dev);
}

static int ioeventfd_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			   gpa_t addr, int len, const void *val)
{
	struct nkvm_ioeventfd *p = to_ioeventfd(dev);

	if (p->read || addr != p->addr)
		return -EOPNOTSUPP;
	if (p->len) {
		__le64 data = 0;

		if (len != p->len)
			return -EOPNOTSUPP;
		memcpy(&data, val, len);
		if (!p->wildcard && le64_to_cpu(data) != p->datamatch)
			return -EOPNOTSUPP;
	}
	nkvm_eventfd_signal(p->eventfd);
	return 0;
}

static int ioeventfd_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			  gpa_t addr, int len, void *val)
{
	struct nkvm_ioeventfd *p = to_ioeventfd(dev);

	if (!p->read || addr != p->addr || len != p->len)
		return -EOPNOTSUPP;
	memcpy(val, &p->dataread, len);
	nkvm_eventfd_signal(p->eventfd);
	return 0;
}

static const struct kvm_io_device_ops ioeventfd_ops = {
	.read = ioeventfd_read,
	.write = ioeventfd_write,
};

static enum kvm_bus ioeventfd_bus(u32 flags)
{
	if (flags & KVM_IOEVENTFD_FLAG_PIO)
		return KVM_PIO_BUS;
	if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY)
		return KVM_VIRTIO_CCW_NOTIFY_BUS;
	return KVM_MMIO_BUS;
}

/*
 * Two registrations collide when one access could match both: same bus,
 * address and direction, and either has no length, or the lengths are
 * equal and either has no datamatch or the datamatches are equal.
 */
static bool ioeventfd_collides(struct kvm *kvm, const struct nkvm_ioeventfd *p)
{
	struct nkvm_ioeventfd *q;

	list_for_each_entry(q, &kvm->eventfds.ioeventfds, link)
		if (q->bus == p->bus && q->addr == p->addr &&
		    q->read == p->read &&
		    (!q->len || !p->len ||
		     (q->len == p->len &&
		      (q->wildcard || p->wildcard ||
		       q->datamatch == p->datamatch))))
			return true;
	return false;
}

/*
 * DATAREAD's rules (Documentation/virt/nkvm/ioeventfd-dataread.rst): a read
 * has no data to match, a fixed width and no s390 notification; the value
 * fits the width; the rest of the padding is reserved.
 */
static int ioeventfd_check_dataread(const struct nkvm_ioeventfd_dataread *a)
{
	if (a->flags & (KVM_IOEVENTFD_FLAG_DATAMATCH |
			KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY))
		return -EINVAL;
	if (!a->len)
		return -EINVAL;
	if (a->len < 8 && (a->dataread >> (a->len * 8)))
		return -EINVAL;
	if (a->pad0 || memchr_inv(a->pad, 0, sizeof(a->pad)))
		return -EINVAL;
	return 0;
}

static int kvm_assign_ioeventfd(struct kvm *kvm,
				const struct nkvm_ioeventfd_dataread *a)
{
	struct eventfd_ctx *eventfd;
	struct nkvm_ioeventfd *p;
	int r;

	switch (a->len) {
	case 0: case 1: case 2: case 4: case 8:
		break;
	default:
		return -EINVAL;
	}
	if (a->addr + a->len < a->addr)
		return -EINVAL;
	if (a->flags & ~(KVM_IOEVENTFD_LINUX_FLAGS | KVM_IOEVENTFD_FLAG_DATAREAD))
		return -EINVAL;
	if (!a->len && (a->flags & KVM_IOEVENTFD_FLAG_DATAMATCH))
		return -EINVAL;
	if (a->flags & KVM_IOEVENTFD_FLAG_DATAREAD) {
		r = ioeventfd_check_dataread(a);
		if (r)
			return r;
	}

	eventfd = eventfd_ctx_fdget(a->fd);
	if (IS_ERR(eventfd))
		return PTR_ERR(eventfd);

	r = -ENOMEM;
	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		goto out_put;
	kvm_iodevice_init(&p->dev, &ioeventfd_ops);
	p->eventfd = eventfd;
	p->bus = ioeventfd_bus(a->flags);
	p->addr = a->addr;
	p->len = a->len;
	p->read = a->flags & KVM_IOEVENTFD_FLAG_DATAREAD;
	p->wildcard = !(a->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
	if (!p->wildcard)
		p->datamatch = a->datamatch;
	if (p->read)
		p->dataread = cpu_to_le64(a->dataread);

	mutex_lock(&kvm->slots_lock);
	r = -EEXIST;
	if (ioeventfd_collides(kvm, p))
		goto out_unlock;
	r = kvm_io_bus_register_uncounted(kvm, p->bus, p->addr, p->len,
					  &p->dev);
	if (r)
		goto out_unlock;
	list_add_tail(&p->link, &kvm->eventfds.ioeventfds);
	mutex_unlock(&kvm->slots_lock);
	return 0;

out_unlock:
	mutex_unlock(&kvm->slots_lock);
	kfree(p);
out_put:
	eventfd_ctx_put(eventfd);
	return r;
}

static void ioeventfd_free(struct nkvm_ioeventfd *p)
{
	list_del(&p->link);
	eventfd_ctx_put(p->eventfd);
	kfree(p);
}

/*
 * Remove the registration with this eventfd, bus, address, length,
 * direction and datamatch (if any), as Linux does: other fields and flags
 * are not looked at.
 */
static int kvm_deassign_ioeventfd(struct kvm *kvm,
				  const struct nkvm_ioeventfd_dataread *a)
{
	bool wildcard = !(a->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
	bool read = a->flags & KVM_IOEVENTFD_FLAG_DATAREAD;
	enum kvm_bus bus = ioeventfd_bus(a->flags);
	struct eventfd_ctx *eventfd;
	struct nkvm_ioeventfd *p;
	int r = -ENOENT;

	eventfd = eventfd_ctx_fdget(a->fd);
	if (IS_ERR(eventfd))
		return PTR_ERR(eventfd);

	mutex_lock(&kvm->slots_lock);
	list_for_each_entry(p, &kvm->eventfds.ioeventfds, link) {
		if (p->bus != bus || p->eventfd != eventfd ||
		    p->addr != a->addr || p->len != a->len ||
		    p->read != read || p->wildcard != wildcard ||
		    (!wildcard && p->datamatch != a->datamatch))
			continue;
		/* Waits for SRCU: no vCPU can still be in the callbacks. */
		kvm_io_bus_unregister_dev(kvm, bus, &p->dev);
		ioeventfd_free(p);
		r = 0;
		break;
	}
	mutex_unlock(&kvm->slots_lock);

	eventfd_ctx_put(eventfd);
	return r;
}

static int kvm_ioeventfd(struct kvm *kvm, void __user *argp)
{
	struct nkvm_ioeventfd_dataread a;

	BUILD_BUG_ON(sizeof(a) != sizeof(struct kvm_ioeventfd));
	BUILD_BUG_ON(offsetof(struct nkvm_ioeventfd_dataread, flags) !=
		     offsetof(struct kvm_ioeventfd, flags));
	BUILD_BUG_ON(offsetof(struct nkvm_ioeventfd_dataread, pad0) !=
		     offsetof(struct kvm_ioeventfd, pad));
	BUILD_BUG_ON(KVM_IOEVENTFD_FLAG_DATAREAD & KVM_IOEVENTFD_LINUX_FLAGS);

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
		return kvm_deassign_ioeventfd(kvm, &a);
	return kvm_assign_ioeventfd(kvm, &a);
}

/* ---- Routing and delivery ---------------------------------------------- */

void kvm_irqchip_attach(struct kvm *kvm, const struct kvm_irqchip_ops *ops,
			bool split)
{
	WRITE_ONCE(kvm->eventfds.irqchip_split, split);
	smp_store_release(&kvm->eventfds.irqchip, ops);
}

bool kvm_irqchip_in_kernel(struct kvm *kvm)
{
	return kvm_irqchip_ops(kvm) != NULL;
}

bool kvm_irqchip_split(struct kvm *kvm)
{
	return kvm_irqchip_in_kernel(kvm) && READ_ONCE(kvm->eventfds.irqchip_split);
}

/* The PICs and the IOAPIC are in the kernel. */
static bool kvm_irqchip_full(struct kvm *kvm)
{
	return kvm_irqchip_in_kernel(kvm) && !READ_ONCE(kvm->eventfds.irqchip_split);
}

static bool kvm_msi_x2apic_format(struct kvm *kvm)
{
	const struct kvm_irqchip_ops *ops = kvm_irqchip_ops(kvm);

	return ops && ops->msi_x2apic_format && ops->msi_x2apic_format(kvm);
}

int kvm_set_irq_routing(struct kvm *kvm,
			const struct kvm_irq_routing_entry *ue, u32 nr)
{
	const struct kvm_irqchip_ops *ops = kvm_irqchip_ops(kvm);
	struct kvm_irq_routing_table *new, *old;
	u32 rules = 0;
	int r;

	/*
	 * As on Linux, only a split irqchip refuses PIC/IOAPIC routes (the
	 * default routing is built before the irqchip is attached).
	 */
	if (kvm_irqchip_split(kvm))
		rules |= KVM_IRQ_ROUTING_NO_IRQCHIP;
	if (kvm_msi_x2apic_format(kvm))
		rules |= KVM_IRQ_ROUTING_X2APIC_FORMAT;

	r = kvm_irq_routing_build(ue, nr, rules, &new);
	if (r)
		return r;

	mutex_lock(&kvm->eventfds.irq_lock);
	old = rcu_dereference_protected(kvm->eventfds.routing,
					lockdep_is_held(&kvm->eventfds.irq_lock));
	rcu_assign_pointer(kvm->eventfds.routing, new);
	if (ops && ops->routing_changed)
		ops->routing_changed(kvm);
	mutex_unlock(&kvm->eventfds.irq_lock);

	synchronize_srcu_expedited(&kvm->eventfds.irq_srcu);
	kvm_irq_routing_free(old);
	return 0;
}

int kvm_setup_default_irq_routing(struct kvm *kvm)
{
	struct kvm_irq_routing_entry ue[KVM_DEFAULT_ROUTES];

	return kvm_set_irq_routing(kvm, ue, kvm_irq_routing_default(ue));
}

int kvm_setup_empty_irq_routing(struct kvm *kvm)
{
	return kvm_set_irq_routing(kvm, NULL, 0);
}

static int kvm_deliver_route(struct kvm *kvm,
			     const struct kvm_irqchip_ops *ops,
			     const struct kvm_irq_route *rt, int irq_source_id,
			     int level, bool line_status)
{
	if (rt->type == KVM_IRQ_ROUTING_MSI) {
		if (!level)
			return -1;
		return ops->set_msi(kvm, &rt->msi);
	}
	return ops->set_irqchip(kvm, rt, irq_source_id, level, line_status);
}

int kvm_set_irq(struct kvm *kvm, int irq_source_id, u32 gsi, int level,
		bool line_status)
{
	const struct kvm_irqchip_ops *ops = kvm_irqchip_ops(kvm);
	struct kvm_irq_route routes[KVM_NR_IRQCHIPS];
	const struct kvm_irq_route *rt;
	int idx, ret = -1;
	u32 i, n;

	if (!ops)
		return -ENODEV;

	/* Deliver outside irq_srcu: the irqchip may update routes itself. */
	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	n = kvm_irq_routing_lookup(srcu_dereference(kvm->eventfds.routing,
						    &kvm->eventfds.irq_srcu),
				   gsi, &rt);
	n = min_t(u32, n, KVM_NR_IRQCHIPS);
	for (i = 0; i < n; i++)
		routes[i] = rt[i];
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);

	for (i = 0; i < n; i++) {
		int r = kvm_deliver_route(kvm, ops, &routes[i], irq_source_id,
					  level, line_status);

		if (r < 0)
			continue;
		ret = r + (ret < 0 ? 0 : ret);
	}
	return ret;
}

static int kvm_signal_msi(struct kvm *kvm, const struct kvm_msi *msi)
{
	const struct kvm_irqchip_ops *ops = kvm_irqchip_ops(kvm);

	if (!ops || (msi->flags & ~KVM_MSI_VALID_DEVID))
		return -EINVAL;
	if (kvm_msi_x2apic_format(kvm) && (msi->address_hi & 0xff))
		return -EINVAL;
	return ops->set_msi(kvm, msi);
}

static int kvm_vm_ioctl_set_gsi_routing(struct kvm *kvm, void __user *argp)
{
	struct kvm_irq_routing __user *urouting = argp;
	struct kvm_irq_routing_entry *entries = NULL;
	struct kvm_irq_routing routing;
	int r;

	if (copy_from_user(&routing, argp, sizeof(routing)))
		return -EFAULT;
	if (!kvm_irqchip_in_kernel(kvm))
		return -EINVAL;
	if (routing.nr > KVM_MAX_IRQ_ROUTES || routing.flags)
		return -EINVAL;
	if (routing.nr) {
		entries = vmemdup_user(urouting->entries,
				       array_size(sizeof(*entries), routing.nr));
		if (IS_ERR(entries))
			return PTR_ERR(entries);
	}
	r = kvm_set_irq_routing(kvm, entries, routing.nr);
	kvfree(entries);
	return r;
}

/* ---- Ack notifiers ------------------------------------------------------ */

void kvm_register_irq_ack_notifier(struct kvm *kvm,
				   struct kvm_irq_ack_notifier *kian)
{
	mutex_lock(&kvm->eventfds.irq_lock);
	hlist_add_head_rcu(&kian->link, &kvm->eventfds.ack_notifiers);
	mutex_unlock(&kvm->eventfds.irq_lock);
}

void kvm_unregister_irq_ack_notifier(struct kvm *kvm,
				     struct kvm_irq_ack_notifier *kian)
{
	mutex_lock(&kvm->eventfds.irq_lock);
	hlist_del_init_rcu(&kian->link);
	mutex_unlock(&kvm->eventfds.irq_lock);
	synchronize_srcu(&kvm->eventfds.irq_srcu);
}

void kvm_notify_acked_gsi(struct kvm *kvm, int gsi)
{
	struct kvm_irq_ack_notifier *kian;
	int idx;

	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	hlist_for_each_entry_srcu(kian, &kvm->eventfds.ack_notifiers, link,
				  srcu_read_lock_held(&kvm->eventfds.irq_srcu))
		if (kian->gsi == gsi)
			kian->irq_acked(kian);
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
}

static int kvm_chip_pin_gsi(struct kvm *kvm, unsigned int irqchip,
			    unsigned int pin)
{
	int idx, gsi;

	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	gsi = kvm_irq_routing_chip_gsi(srcu_dereference(kvm->eventfds.routing,
							&kvm->eventfds.irq_srcu),
				       irqchip, pin);
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
	return gsi;
}

void kvm_notify_acked_irq(struct kvm *kvm, unsigned int irqchip,
			  unsigned int pin)
{
	int gsi = kvm_chip_pin_gsi(kvm, irqchip, pin);

	if (gsi >= 0)
		kvm_notify_acked_gsi(kvm, gsi);
}

bool kvm_irq_has_notifier(struct kvm *kvm, unsigned int irqchip,
			  unsigned int pin)
{
	struct kvm_irq_ack_notifier *kian;
	int gsi = kvm_chip_pin_gsi(kvm, irqchip, pin);
	bool found = false;
	int idx;

	if (gsi < 0)
		return false;
	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	hlist_for_each_entry_srcu(kian, &kvm->eventfds.ack_notifiers, link,
				  srcu_read_lock_held(&kvm->eventfds.irq_srcu))
		if (kian->gsi == gsi) {
			found = true;
			break;
		}
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
	return found;
}

/* ---- irqfd -------------------------------------------------------------- */

/*
 * The irqfds of a GSI with KVM_IRQFD_FLAG_RESAMPLE share one resampler: they
 * assert the line with their own source ID; on EOI it is de-asserted and
 * every resamplefd signalled, so that userspace re-asserts it if the
 * device still needs service.
 */
struct nkvm_resampler {
	struct kvm *kvm;
	struct list_head irqfds;	/* under irq_srcu; resampler_lock */
	struct list_head link;		/* kvm->eventfds.resamplers */
	struct kvm_irq_ack_notifier notifier;
};

struct nkvm_irqfd {
	struct kvm *kvm;
	struct eventfd_ctx *eventfd;
	u32 gsi;
	struct list_head link;		/* kvm->eventfds.irqfds; empty: inactive */
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct inject;
	struct work_struct shutdown;
	struct nkvm_resampler *resampler;
	struct eventfd_ctx *resamplefd;
	struct list_head resampler_link;
};

static void irqfd_inject(struct work_struct *work)
{
	struct nkvm_irqfd *irqfd = container_of(work, struct nkvm_irqfd, inject);
	struct kvm *kvm = irqfd->kvm;

	if (irqfd->resampler) {
		kvm_set_irq(kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, irqfd->gsi,
			    1, false);
	} else {
		kvm_set_irq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, irqfd->gsi, 1,
			    false);
		kvm_set_irq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID, irqfd->gsi, 0,
			    false);
	}
}

static void irqfd_resampler_ack(struct kvm_irq_ack_notifier *kian)
{
	struct nkvm_resampler *resampler =
		container_of(kian, struct nkvm_resampler, notifier);
	struct kvm *kvm = resampler->kvm;
	struct nkvm_irqfd *irqfd;
	int idx;

	/* One de-assert for all of them: they share the source ID. */
	kvm_set_irq(kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID, kian->gsi, 0, false);

	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	list_for_each_entry_srcu(irqfd, &resampler->irqfds, resampler_link,
				 srcu_read_lock_held(&kvm->eventfds.irq_srcu))
		nkvm_eventfd_signal(irqfd->resamplefd);
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
}

/* Join (creating if needed) the resampler of the irqfd's GSI. */
static int irqfd_resampler_join(struct nkvm_irqfd *irqfd)
{
	struct kvm *kvm = irqfd->kvm;
	struct nkvm_resampler *resampler;

	mutex_lock(&kvm->eventfds.resampler_lock);
	list_for_each_entry(resampler, &kvm->eventfds.resamplers, link)
		if (resampler->notifier.gsi == irqfd->gsi)
			goto join;

	resampler = kzalloc(sizeof(*resampler), GFP_KERNEL_ACCOUNT);
	if (!resampler) {
		mutex_unlock(&kvm->eventfds.resampler_lock);
		return -ENOMEM;
	}
	resampler->kvm = kvm;
	INIT_LIST_HEAD(&resampler->irqfds);
	resampler->notifier.gsi = irqfd->gsi;
	resampler->notifier.irq_acked = irqfd_resampler_ack;
	list_add(&resampler->link, &kvm->eventfds.resamplers);
	kvm_register_irq_ack_notifier(kvm, &resampler->notifier);
join:
	list_add_rcu(&irqfd->resampler_link, &resampler->irqfds);
	irqfd->resampler = resampler;
	mutex_unlock(&kvm->eventfds.resampler_lock);
	return 0;
}

static void irqfd_resampler_leave(struct nkvm_irqfd *irqfd)
{
	struct nkvm_resampler *resampler = irqfd->resampler;
	struct kvm *kvm = irqfd->kvm;

	mutex_lock(&kvm->eventfds.resampler_lock);
	list_del_rcu(&irqfd->resampler_link);
	synchronize_srcu(&kvm->eventfds.irq_srcu);
	if (list_empty(&resampler->irqfds)) {
		list_del(&resampler->link);
		kvm_unregister_irq_ack_notifier(kvm, &resampler->notifier);
		kvm_set_irq(kvm, KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID,
			    resampler->notifier.gsi, 0, false);
		kfree(resampler);
	}
	mutex_unlock(&kvm->eventfds.resampler_lock);
	irqfd->resampler = NULL;
}

static void irqfd_shutdown(struct work_struct *work)
{
	struct nkvm_irqfd *irqfd =
		container_of(work, struct nkvm_irqfd, shutdown);
	u64 cnt;

	/* Wait for kvm_irqfd_assign() to finish with it (it holds irq_srcu). */
	synchronize_srcu(&irqfd->kvm->eventfds.irq_srcu);

	/* No wake-up can run or start after this... */
	eventfd_ctx_remove_wait_queue(irqfd->eventfd, &irqfd->wait, &cnt);
	/* ...so no injection can be queued after this one finishes. */
	flush_work(&irqfd->inject);

	if (irqfd->resampler) {
		irqfd_resampler_leave(irqfd);
		eventfd_ctx_put(irqfd->resamplefd);
	}
	eventfd_ctx_put(irqfd->eventfd);
	kfree(irqfd);
}

static bool irqfd_is_active(struct nkvm_irqfd *irqfd)
{
	return !list_empty(&irqfd->link);
}

/* Under irqfds_lock: take it off the list and let the shutdown work free it. */
static void irqfd_deactivate(struct nkvm_irqfd *irqfd)
{
	list_del_init(&irqfd->link);
	queue_work(irqfd_cleanup_wq, &irqfd->shutdown);
}

/*
 * Try to deliver from the wake-up itself: every route of the GSI, a pin
 * pulsed as irqfd_inject() does (an MSI has no de-assert).
 */
static bool irqfd_inject_inatomic(struct nkvm_irqfd *irqfd)
{
	struct kvm *kvm = irqfd->kvm;
	const struct kvm_irqchip_ops *ops = kvm_irqchip_ops(kvm);
	const int src = KVM_USERSPACE_IRQ_SOURCE_ID;
	const struct kvm_irq_route *rt;
	bool done = false;
	int idx;
	u32 i, n;

	if (!ops || !ops->set_irq_inatomic || irqfd->resampler)
		return false;
	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	n = kvm_irq_routing_lookup(srcu_dereference(kvm->eventfds.routing,
						    &kvm->eventfds.irq_srcu),
				   irqfd->gsi, &rt);
	for (i = 0; i < n; i++) {
		if (ops->set_irq_inatomic(kvm, &rt[i], src, 1) == -EWOULDBLOCK)
			break;
		if (rt[i].type != KVM_IRQ_ROUTING_MSI)
			ops->set_irq_inatomic(kvm, &rt[i], src, 0);
		done = true;
	}
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
	return done;
}

/* The eventfd's wait-queue callback: its wqh lock held, interrupts off. */
static int irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
			void *key)
{
	struct nkvm_irqfd *irqfd = container_of(wait, struct nkvm_irqfd, wait);
	__poll_t flags = key_to_poll(key);
	struct kvm *kvm = irqfd->kvm;
	int ret = 0;

	if (flags & EPOLLIN) {
		u64 cnt;

		eventfd_ctx_do_read(irqfd->eventfd, &cnt);
		if (!irqfd_inject_inatomic(irqfd))
			schedule_work(&irqfd->inject);
		ret = 1;
	}

	if (flags & EPOLLHUP) {
		unsigned long iflags;

		/* The eventfd is going away: detach, unless already done. */
		spin_lock_irqsave(&kvm->eventfds.irqfds_lock, iflags);
		if (irqfd_is_active(irqfd))
			irqfd_deactivate(irqfd);
		spin_unlock_irqrestore(&kvm->eventfds.irqfds_lock, iflags);
	}
	return ret;
}

static void irqfd_ptable_queue_proc(struct file *file, wait_queue_head_t *wqh,
				    poll_table *pt)
{
	struct nkvm_irqfd *irqfd = container_of(pt, struct nkvm_irqfd, pt);

	add_wait_queue_priority(wqh, &irqfd->wait);
}

static int kvm_irqfd_assign(struct kvm *kvm, const struct kvm_irqfd *args)
{
	bool resample = args->flags & KVM_IRQFD_FLAG_RESAMPLE;
	struct nkvm_irqfd *irqfd, *tmp;
	struct eventfd_ctx *eventfd;
	struct file *file;
	__poll_t events;
	int r, idx;

	/* Linux: any in-kernel irqchip, and the IOAPIC/PICs to resample. */
	if (resample ? !kvm_irqchip_full(kvm) : !kvm_irqchip_in_kernel(kvm))
		return -EINVAL;

	irqfd = kzalloc(sizeof(*irqfd), GFP_KERNEL_ACCOUNT);
	if (!irqfd)
		return -ENOMEM;
	irqfd->kvm = kvm;
	irqfd->gsi = args->gsi;
	INIT_LIST_HEAD(&irqfd->link);
	INIT_LIST_HEAD(&irqfd->resampler_link);
	INIT_WORK(&irqfd->inject, irqfd_inject);
	INIT_WORK(&irqfd->shutdown, irqfd_shutdown);
	init_waitqueue_func_entry(&irqfd->wait, irqfd_wakeup);
	init_poll_funcptr(&irqfd->pt, irqfd_ptable_queue_proc);

	r = -EBADF;
	file = fget(args->fd);
	if (!file)
		goto out_free;
	eventfd = eventfd_ctx_fileget(file);
	if (IS_ERR(eventfd)) {
		r = PTR_ERR(eventfd);
		goto out_fput;
	}
	irqfd->eventfd = eventfd;

	if (resample) {
		irqfd->resamplefd = eventfd_ctx_fdget(args->resamplefd);
		if (IS_ERR(irqfd->resamplefd)) {
			r = PTR_ERR(irqfd->resamplefd);
			irqfd->resamplefd = NULL;
			goto out_put;
		}
		r = irqfd_resampler_join(irqfd);
		if (r)
			goto out_put;
	}

	/*
	 * Hold irq_srcu until the irqfd is hooked on the wait queue: a
	 * shutdown (deassign racing with us) waits for that.
	 */
	idx = srcu_read_lock(&kvm->eventfds.irq_srcu);
	spin_lock_irq(&kvm->eventfds.irqfds_lock);
	list_for_each_entry(tmp, &kvm->eventfds.irqfds, link) {
		if (tmp->eventfd == eventfd) {
			spin_unlock_irq(&kvm->eventfds.irqfds_lock);
			srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);
			r = -EBUSY;
			goto out_resampler;
		}
	}
	list_add_tail(&irqfd->link, &kvm->eventfds.irqfds);
	spin_unlock_irq(&kvm->eventfds.irqfds_lock);

	/* Hook the wait queue; a signal from before counts too. */
	events = vfs_poll(file, &irqfd->pt);
	if (events & EPOLLIN)
		schedule_work(&irqfd->inject);
	srcu_read_unlock(&kvm->eventfds.irq_srcu, idx);

	/* Only now may the eventfd be released (and POLLHUP us). */
	fput(file);
	return 0;

out_resampler:
	if (irqfd->resampler)
		irqfd_resampler_leave(irqfd);
out_put:
	if (irqfd->resamplefd)
		eventfd_ctx_put(irqfd->resamplefd);
	eventfd_ctx_put(eventfd);
out_fput:
	fput(file);
out_free:
	kfree(irqfd);
	return r;
}

static int kvm_irqfd_deassign(struct kvm *kvm, const struct kvm_irqfd *args)
{
	struct nkvm_irqfd *irqfd, *tmp;
	struct eventfd_ctx *eventfd;

	eventfd = eventfd_ctx_fdget(args->fd);
	if (IS_ERR(eventfd))
		return PTR_ERR(eventfd);

	spin_lock_irq(&kvm->eventfds.irqfds_lock);
	list_for_each_entry_safe(irqfd, tmp, &kvm->eventfds.irqfds, link)
		if (irqfd->eventfd == eventfd && irqfd->gsi == args->gsi)
			irqfd_deactivate(irqfd);
	spin_unlock_irq(&kvm->eventfds.irqfds_lock);
	eventfd_ctx_put(eventfd);

	/* On return, no interrupt from it can still arrive. */
	flush_workqueue(irqfd_cleanup_wq);
	return 0;
}

static int kvm_irqfd(struct kvm *kvm, void __user *argp)
{
	struct kvm_irqfd args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE))
		return -EINVAL;
	if (args.flags & KVM_IRQFD_FLAG_DEASSIGN)
		return kvm_irqfd_deassign(kvm, &args);
	return kvm_irqfd_assign(kvm, &args);
}

/* ---- VM and module ------------------------------------------------------ */

long kvm_eventfd_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			  void __user *argp)
{
	switch (ioctl) {
	case KVM_IOEVENTFD:
		return kvm_ioeventfd(kvm, argp);
	case KVM_IRQFD:
		return kvm_irqfd(kvm, argp);
	case KVM_SIGNAL_MSI: {
		struct kvm_msi msi;

		if (copy_from_user(&msi, argp, sizeof(msi)))
			return -EFAULT;
		return kvm_signal_msi(kvm, &msi);
	}
	case KVM_SET_GSI_ROUTING:
		return kvm_vm_ioctl_set_gsi_routing(kvm, argp);
	default:
		return -ENOTTY;
	}
}

int kvm_eventfd_init(struct kvm *kvm)
{
	struct kvm_eventfds *e = &kvm->eventfds;
	int r;

	INIT_LIST_HEAD(&e->ioeventfds);
	spin_lock_init(&e->irqfds_lock);
	INIT_LIST_HEAD(&e->irqfds);
	mutex_init(&e->resampler_lock);
	INIT_LIST_HEAD(&e->resamplers);
	mutex_init(&e->irq_lock);
	INIT_HLIST_HEAD(&e->ack_notifiers);
	RCU_INIT_POINTER(e->routing, NULL);

	r = init_srcu_struct(&e->irq_srcu);
	if (r)
		return r;
	r = kvm_io_bus_init(kvm);
	if (r)
		cleanup_srcu_struct(&e->irq_srcu);
	return r;
}

void kvm_eventfd_release(struct kvm *kvm)
{
	struct nkvm_irqfd *irqfd, *tmp;

	spin_lock_irq(&kvm->eventfds.irqfds_lock);
	list_for_each_entry_safe(irqfd, tmp, &kvm->eventfds.irqfds, link)
		irqfd_deactivate(irqfd);
	spin_unlock_irq(&kvm->eventfds.irqfds_lock);

	/* We hold no reference on the VM: wait for every shutdown. */
	flush_workqueue(irqfd_cleanup_wq);
}

void kvm_eventfd_destroy(struct kvm *kvm)
{
	struct nkvm_ioeventfd *p, *tmp;

	/* Destructors of devices still on a bus (ioeventfds have none). */
	kvm_io_bus_destroy(kvm);
	list_for_each_entry_safe(p, tmp, &kvm->eventfds.ioeventfds, link)
		ioeventfd_free(p);

	kvm_irq_routing_free(rcu_dereference_protected(kvm->eventfds.routing,
						       true));
	cleanup_srcu_struct(&kvm->eventfds.irq_srcu);
}

int kvm_eventfd_module_init(void)
{
	irqfd_cleanup_wq = alloc_workqueue("nkvm-irqfd-cleanup", 0, 0);
	return irqfd_cleanup_wq ? 0 : -ENOMEM;
}

void kvm_eventfd_module_exit(void)
{
	destroy_workqueue(irqfd_cleanup_wq);
}
