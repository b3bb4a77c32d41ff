/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: ioeventfd, irqfd, GSI routing and MSI injection (virt/kvm/eventfd.c),
 * and the interface through which they deliver interrupts to the in-kernel
 * interrupt controller.
 *
 * Interrupt delivery
 * ==================
 *
 * The core knows routes, not interrupt controllers.  The x86 irqchip (PICs,
 * IOAPIC, local APICs), once userspace created it, attaches itself to the
 * VM with kvm_irqchip_attach() and a table of callbacks; until then every
 * delivery returns -ENODEV, and the ioctls that need an irqchip fail as on
 * Linux (KVM_IRQFD, KVM_SIGNAL_MSI and KVM_SET_GSI_ROUTING with -EINVAL).
 *
 *   KVM_CREATE_IRQCHIP:   create the chips, register their PIO/MMIO devices
 *                         (include/nkvm/iobus.h), then
 *                         kvm_setup_default_irq_routing(kvm) and
 *                         kvm_irqchip_attach(kvm, &ops, false);
 *   KVM_CAP_SPLIT_IRQCHIP: local APICs only: kvm_setup_empty_irq_routing(kvm)
 *                         and kvm_irqchip_attach(kvm, &ops, true);
 *   KVM_IRQ_LINE(_STATUS): kvm_set_irq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID,
 *                         irq, level, line_status);
 *   EOI of a level-triggered IOAPIC or PIC pin: kvm_notify_acked_irq()
 *                         (irqfd resampling and the PIT's ack notifier).
 *
 * The callbacks (all but set_irqchip and set_msi optional):
 *
 *   set_irqchip(kvm, route, irq_source_id, level, line_status)
 *	Drive route->irqchip.pin of route->irqchip.irqchip (KVM_IRQCHIP_PIC_MASTER,
 *	_PIC_SLAVE: pin 0-7; KVM_IRQCHIP_IOAPIC: pin 0-23) to @level for
 *	source @irq_source_id (a line is the OR of its sources).  Returns as
 *	Linux's irqchip set functions: < 0 not delivered (masked), 0 coalesced,
 *	> 0 delivered.  Process context, may sleep.
 *   set_msi(kvm, msi)
 *	Deliver the MSI (address_lo/hi, data; flags and devid as userspace
 *	gave them).  Returns the number of vCPUs it went to, 0 if coalesced,
 *	-1 if it found no destination, or -EINVAL if the address is malformed
 *	(x2APIC format).  Only called to assert: MSIs have no de-assert.
 *	Process context, may sleep.
 *   set_irq_inatomic(kvm, route, irq_source_id, level)
 *	The same from an eventfd wake-up (hard interrupts off, may not sleep):
 *	deliver and return >= 0, or return -EWOULDBLOCK and the core retries
 *	from a workqueue with set_irqchip/set_msi.  The core tries a GSI's
 *	routes in order and falls back only if the first refuses: refuse a
 *	kind of route always or never.
 *   msi_x2apic_format(kvm)
 *	Whether MSI addresses use the x2APIC API format (KVM_CAP_X2APIC_API):
 *	routes whose address_hi[7:0] is not zero are then refused.
 *   routing_changed(kvm)
 *	Called under kvm->eventfds.irq_lock after a new routing table is
 *	published (a split irqchip rescans its IOAPIC routes).
 *
 * Locking: kvm->eventfds.irq_srcu protects the routing table and the ack
 * notifier list; kvm->eventfds.irq_lock (a mutex) serialises their updates.
 * kvm_set_irq() and kvm_notify_acked_irq() may be called from any process
 * context, including a vCPU's and from inside set_irqchip.
 */
#ifndef _NKVM_EVENTFD_H
#define _NKVM_EVENTFD_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <uapi/linux/kvm.h>

#include <nkvm/irq_routing.h>

struct kvm;

/* Sources of a level, as on Linux: irqfd resampling has its own. */
#define KVM_USERSPACE_IRQ_SOURCE_ID		0
#define KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID	1

struct kvm_irqchip_ops {
	int (*set_irqchip)(struct kvm *kvm, const struct kvm_irq_route *route,
			   int irq_source_id, int level, bool line_status);
	int (*set_msi)(struct kvm *kvm, const struct kvm_msi *msi);
	int (*set_irq_inatomic)(struct kvm *kvm,
				const struct kvm_irq_route *route,
				int irq_source_id, int level);
	bool (*msi_x2apic_format)(struct kvm *kvm);
	void (*routing_changed)(struct kvm *kvm);
};

/*
 * Called on an EOI of a level-triggered pin routed from @gsi (under
 * irq_srcu; may not take irq_lock).
 */
struct kvm_irq_ack_notifier {
	struct hlist_node link;
	unsigned int gsi;
	void (*irq_acked)(struct kvm_irq_ack_notifier *kian);
};

/* In struct kvm. */
struct kvm_eventfds {
	struct list_head ioeventfds;		/* kvm->slots_lock */

	spinlock_t irqfds_lock;
	struct list_head irqfds;		/* active irqfds */
	struct mutex resampler_lock;
	struct list_head resamplers;

	struct mutex irq_lock;			/* routing, ack notifiers */
	struct srcu_struct irq_srcu;
	struct kvm_irq_routing_table __rcu *routing;
	struct hlist_head ack_notifiers;

	const struct kvm_irqchip_ops *irqchip;	/* NULL: none in the kernel */
	bool irqchip_split;			/* LAPICs only (no PIC/IOAPIC) */
};

/* Module load and unload (the irqfd shutdown workqueue). */
int kvm_eventfd_module_init(void);
void kvm_eventfd_module_exit(void);

/*
 * VM creation; at destruction, kvm_eventfd_release() first (it shuts every
 * irqfd down and waits for deliveries in flight, before the vCPUs and the
 * irqchip go), kvm_eventfd_destroy() after the arch code.
 */
int kvm_eventfd_init(struct kvm *kvm);
void kvm_eventfd_release(struct kvm *kvm);
void kvm_eventfd_destroy(struct kvm *kvm);

/* KVM_IOEVENTFD, KVM_IRQFD, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING. */
long kvm_eventfd_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			  void __user *argp);

/* The in-kernel irqchip's side. */
void kvm_irqchip_attach(struct kvm *kvm, const struct kvm_irqchip_ops *ops,
			bool split);
bool kvm_irqchip_in_kernel(struct kvm *kvm);
bool kvm_irqchip_split(struct kvm *kvm);

int kvm_set_irq_routing(struct kvm *kvm,
			const struct kvm_irq_routing_entry *ue, u32 nr);
int kvm_setup_default_irq_routing(struct kvm *kvm);
int kvm_setup_empty_irq_routing(struct kvm *kvm);

/*
 * Drive GSI @gsi to @level through every route of it.  Returns -ENODEV
 * without an irqchip, else as Linux's kvm_set_irq(): -1 if no route took
 * it, otherwise the sum of the non-negative results.
 */
int kvm_set_irq(struct kvm *kvm, int irq_source_id, u32 gsi, int level,
		bool line_status);

void kvm_register_irq_ack_notifier(struct kvm *kvm,
				   struct kvm_irq_ack_notifier *kian);
void kvm_unregister_irq_ack_notifier(struct kvm *kvm,
				     struct kvm_irq_ack_notifier *kian);
void kvm_notify_acked_gsi(struct kvm *kvm, int gsi);
void kvm_notify_acked_irq(struct kvm *kvm, unsigned int irqchip,
			  unsigned int pin);
bool kvm_irq_has_notifier(struct kvm *kvm, unsigned int irqchip,
			  unsigned int pin);

#endif /* _NKVM_EVENTFD_H */
