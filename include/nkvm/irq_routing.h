/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: GSI routing tables (KVM_SET_GSI_ROUTING), pure logic.
 *
 * A routing table maps each GSI to the interrupt controller pins it drives
 * (up to one pin on each of the two PICs and the IOAPIC) or to one MSI.  It
 * is immutable: KVM_SET_GSI_ROUTING builds a new one and publishes it under
 * the VM's irq_srcu (see include/nkvm/eventfd.h).  This file and
 * virt/kvm/irq_routing.c also build in userspace for the unit tests.
 */
#ifndef _NKVM_IRQ_ROUTING_H
#define _NKVM_IRQ_ROUTING_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <uapi/linux/kvm.h>
#else
#include "unit_compat.h"
#endif

/* Linux's limits. */
#define KVM_MAX_IRQ_ROUTES	4096
#define KVM_NR_IRQCHIPS		3	/* PIC master, PIC slave, IOAPIC */
#define KVM_IRQCHIP_NUM_PINS	24	/* the IOAPIC's */
#define KVM_PIC_NUM_PINS	8	/* per 8259 */

/*
 * One route.  For KVM_IRQ_ROUTING_IRQCHIP, irqchip.pin is numbered as in
 * struct kvm_irq_routing_irqchip: 0-7 on either PIC, 0-23 on the IOAPIC.
 * For KVM_IRQ_ROUTING_MSI, msi holds address, data, and flags/devid as
 * userspace gave them (KVM_SIGNAL_MSI delivers the same struct).
 */
struct kvm_irq_route {
	u32 gsi;
	u32 type;
	union {
		struct {
			u32 irqchip;
			u32 pin;
		} irqchip;
		struct kvm_msi msi;
	};
};

struct kvm_irq_routing_table {
	u32 nr_gsi;		/* highest GSI routed + 1; 0 when empty */
	u32 nr;			/* routes */
	/* The GSI each irqchip pin is routed from, or -1 (for EOI notifiers). */
	int chip[KVM_NR_IRQCHIPS][KVM_IRQCHIP_NUM_PINS];
	/* Routes of GSI g: route[first[g]] .. route[first[g + 1] - 1]. */
	u32 *first;		/* nr_gsi + 1 entries, after route[] */
	struct kvm_irq_route route[];	/* sorted by GSI */
};

/* Rules that depend on the VM's interrupt controller. */
#define KVM_IRQ_ROUTING_NO_IRQCHIP	1	/* split irqchip: no PIC/IOAPIC routes */
#define KVM_IRQ_ROUTING_X2APIC_FORMAT	2	/* MSI address_hi[7:0] must be 0 */

/*
 * Validate @nr userspace entries and build a table, with Linux's rules and
 * errnos: -EINVAL for a GSI >= KVM_MAX_IRQ_ROUTES, flags other than
 * KVM_MSI_VALID_DEVID on an MSI route (any flags on another), an unknown
 * type or irqchip, a pin out of range, two routes of a GSI on the same
 * irqchip, an MSI route sharing its GSI with any other route, an irqchip
 * route under KVM_IRQ_ROUTING_NO_IRQCHIP, an x2APIC-format violation;
 * -ENOMEM.  On success *@out is the new table.
 */
int kvm_irq_routing_build(const struct kvm_irq_routing_entry *ue, u32 nr,
			  u32 rules, struct kvm_irq_routing_table **out);
void kvm_irq_routing_free(struct kvm_irq_routing_table *table);

/* The routes of @gsi: returns how many, *@routes the first. */
static inline u32 kvm_irq_routing_lookup(const struct kvm_irq_routing_table *t,
					 u32 gsi,
					 const struct kvm_irq_route **routes)
{
	if (!t || gsi >= t->nr_gsi)
		return 0;
	*routes = &t->route[t->first[gsi]];
	return t->first[gsi + 1] - t->first[gsi];
}

/* The GSI routed to irqchip @irqchip, pin @pin, or -1. */
static inline int kvm_irq_routing_chip_gsi(const struct kvm_irq_routing_table *t,
					   u32 irqchip, u32 pin)
{
	if (!t || irqchip >= KVM_NR_IRQCHIPS || pin >= KVM_IRQCHIP_NUM_PINS)
		return -1;
	return t->chip[irqchip][pin];
}

/*
 * Linux's default x86 routing for a full in-kernel irqchip: GSIs 0-15 to
 * the IOAPIC pin of the same number and to PIC pin GSI % 8 (master below
 * 8, slave from 8), GSIs 16-23 to the IOAPIC only.  Fills @ue (at least
 * KVM_DEFAULT_ROUTES entries) and returns the count.
 */
#define KVM_DEFAULT_ROUTES	40
u32 kvm_irq_routing_default(struct kvm_irq_routing_entry *ue);

#endif /* _NKVM_IRQ_ROUTING_H */
