// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: GSI routing table validation and construction (pure logic; see
 * include/nkvm/irq_routing.h).
 */
#ifndef NKVM_USERSPACE
#include <linux/slab.h>
#include <linux/overflow.h>
#endif
#include <nkvm/irq_routing.h>

static int check_entry(const struct kvm_irq_routing_entry *e, u32 rules)
{
	switch (e->type) {
	case KVM_IRQ_ROUTING_IRQCHIP:
		if (e->flags || (rules & KVM_IRQ_ROUTING_NO_IRQCHIP))
			return -EINVAL;
		switch (e->u.irqchip.irqchip) {
		case KVM_IRQCHIP_PIC_MASTER:
		case KVM_IRQCHIP_PIC_SLAVE:
			return e->u.irqchip.pin < KVM_PIC_NUM_PINS ? 0 : -EINVAL;
		case KVM_IRQCHIP_IOAPIC:
			return e->u.irqchip.pin < KVM_IRQCHIP_NUM_PINS ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	case KVM_IRQ_ROUTING_MSI:
		if (e->flags & ~KVM_MSI_VALID_DEVID)
			return -EINVAL;
		if ((rules & KVM_IRQ_ROUTING_X2APIC_FORMAT) &&
		    (e->u.msi.address_hi & 0xff))
			return -EINVAL;
		return 0;
	default:
		/* Hyper-V SynIC and Xen event channels are not supported. */
		return -EINVAL;
	}
}

/* A GSI drives at most one pin per irqchip, or a single MSI. */
static int check_gsi(const struct kvm_irq_route *r, u32 n)
{
	u32 i, j;

	if (n < 2)
		return 0;
	for (i = 0; i < n; i++) {
		if (r[i].type != KVM_IRQ_ROUTING_IRQCHIP)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (r[j].irqchip.irqchip == r[i].irqchip.irqchip)
				return -EINVAL;
	}
	return 0;
}

static void fill_route(struct kvm_irq_route *r,
		       const struct kvm_irq_routing_entry *e)
{
	memset(r, 0, sizeof(*r));
	r->gsi = e->gsi;
	r->type = e->type;
	if (e->type == KVM_IRQ_ROUTING_IRQCHIP) {
		r->irqchip.irqchip = e->u.irqchip.irqchip;
		r->irqchip.pin = e->u.irqchip.pin;
	} else {
		r->msi.address_lo = e->u.msi.address_lo;
		r->msi.address_hi = e->u.msi.address_hi;
		r->msi.data = e->u.msi.data;
		r->msi.flags = e->flags;
		if (e->flags & KVM_MSI_VALID_DEVID)
			r->msi.devid = e->u.msi.devid;
	}
}

int kvm_irq_routing_build(const struct kvm_irq_routing_entry *ue, u32 nr,
			  u32 rules, struct kvm_irq_routing_table **out)
{
	struct kvm_irq_routing_table *t;
	u32 i, g, nr_gsi = 0;
	size_t size;
	int r;

	for (i = 0; i < nr; i++) {
		if (ue[i].gsi >= KVM_MAX_IRQ_ROUTES)
			return -EINVAL;
		if (ue[i].gsi + 1 > nr_gsi)
			nr_gsi = ue[i].gsi + 1;
	}
	for (i = 0; i < nr; i++) {
		r = check_entry(&ue[i], rules);
		if (r)
			return r;
	}

	size = struct_size(t, route, nr) + (nr_gsi + 1) * sizeof(u32);
	t = kvzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	t->nr = nr;
	t->nr_gsi = nr_gsi;
	t->first = (u32 *)&t->route[nr];

	/* Counting sort by GSI, stable: first[g + 1] counts GSI g first. */
	for (i = 0; i < nr; i++)
		t->first[ue[i].gsi + 1]++;
	for (g = 0; g < nr_gsi; g++)
		t->first[g + 1] += t->first[g];
	/* Now first[g] is where GSI g starts; place, advancing first[g]... */
	for (i = 0; i < nr; i++)
		fill_route(&t->route[t->first[ue[i].gsi]++], &ue[i]);
	/* ...to where GSI g + 1 starts: shift back. */
	for (g = nr_gsi; g > 0; g--)
		t->first[g] = t->first[g - 1];
	t->first[0] = 0;

	for (g = 0; g < nr_gsi; g++) {
		r = check_gsi(&t->route[t->first[g]],
			      t->first[g + 1] - t->first[g]);
		if (r) {
			kvm_irq_routing_free(t);
			return r;
		}
	}

	for (i = 0; i < KVM_NR_IRQCHIPS; i++)
		for (g = 0; g < KVM_IRQCHIP_NUM_PINS; g++)
			t->chip[i][g] = -1;
	/* A pin routed from several GSIs: the last entry wins, as on Linux. */
	for (i = 0; i < nr; i++)
		if (ue[i].type == KVM_IRQ_ROUTING_IRQCHIP)
			t->chip[ue[i].u.irqchip.irqchip][ue[i].u.irqchip.pin] =
				ue[i].gsi;

	*out = t;
	return 0;
}

void kvm_irq_routing_free(struct kvm_irq_routing_table *table)
{
	kvfree(table);
}

u32 kvm_irq_routing_default(struct kvm_irq_routing_entry *ue)
{
	u32 gsi, n = 0;

	for (gsi = 0; gsi < KVM_IRQCHIP_NUM_PINS; gsi++) {
		memset(&ue[n], 0, sizeof(ue[n]));
		ue[n].gsi = gsi;
		ue[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		ue[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		ue[n].u.irqchip.pin = gsi;
		n++;
		if (gsi >= 2 * KVM_PIC_NUM_PINS)
			continue;
		memset(&ue[n], 0, sizeof(ue[n]));
		ue[n].gsi = gsi;
		ue[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		ue[n].u.irqchip.irqchip = gsi < KVM_PIC_NUM_PINS ?
					  KVM_IRQCHIP_PIC_MASTER :
					  KVM_IRQCHIP_PIC_SLAVE;
		ue[n].u.irqchip.pin = gsi % KVM_PIC_NUM_PINS;
		n++;
	}
	return n;
}
