// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for virt/kvm/irq_routing.c: KVM_SET_GSI_ROUTING validation
 * with Linux's rules and errnos, the GSI index, the irqchip pin map and
 * Linux's default x86 routing.
 */
#include "../nkvm/harness.h"
#include <nkvm/irq_routing.h>

static struct kvm_irq_routing_entry chip(u32 gsi, u32 irqchip, u32 pin)
{
	struct kvm_irq_routing_entry e = {
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
	};

	e.u.irqchip.irqchip = irqchip;
	e.u.irqchip.pin = pin;
	return e;
}

static struct kvm_irq_routing_entry msi(u32 gsi, u32 lo, u32 hi, u32 data)
{
	struct kvm_irq_routing_entry e = {
		.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
	};

	e.u.msi.address_lo = lo;
	e.u.msi.address_hi = hi;
	e.u.msi.data = data;
	return e;
}

static int build1(struct kvm_irq_routing_entry e, u32 rules)
{
	struct kvm_irq_routing_table *t = NULL;
	int r = kvm_irq_routing_build(&e, 1, rules, &t);

	kvm_irq_routing_free(t);
	return r;
}

static int build(struct kvm_irq_routing_entry *e, u32 n, u32 rules)
{
	struct kvm_irq_routing_table *t = NULL;
	int r = kvm_irq_routing_build(e, n, rules, &t);

	kvm_irq_routing_free(t);
	return r;
}

TEST(empty_table)
{
	struct kvm_irq_routing_table *t;
	const struct kvm_irq_route *rt;

	ASSERT_EQ(kvm_irq_routing_build(NULL, 0, 0, &t), 0);
	ASSERT_EQ(t->nr, 0);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 0, &rt), 0);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_IOAPIC, 0), -1);
	kvm_irq_routing_free(t);
	/* No table at all. */
	ASSERT_EQ(kvm_irq_routing_lookup(NULL, 0, &rt), 0);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(NULL, 0, 0), -1);
}

TEST(pin_limits)
{
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_PIC_MASTER, 7), 0), 0);
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_PIC_MASTER, 8), 0), -EINVAL);
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_PIC_SLAVE, 7), 0), 0);
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_PIC_SLAVE, 8), 0), -EINVAL);
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_IOAPIC, 23), 0), 0);
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_IOAPIC, 24), 0), -EINVAL);
	ASSERT_EQ(build1(chip(0, 3, 0), 0), -EINVAL);
	ASSERT_EQ(build1(chip(0, ~0U, 0), 0), -EINVAL);
}

TEST(gsi_limit)
{
	ASSERT_EQ(build1(chip(KVM_MAX_IRQ_ROUTES - 1, KVM_IRQCHIP_IOAPIC, 0), 0), 0);
	ASSERT_EQ(build1(chip(KVM_MAX_IRQ_ROUTES, KVM_IRQCHIP_IOAPIC, 0), 0), -EINVAL);
	ASSERT_EQ(build1(msi(~0U, 0xfee00000, 0, 0x30), 0), -EINVAL);
}

TEST(types_and_flags)
{
	struct kvm_irq_routing_entry e = msi(1, 0xfee00000, 0, 0x30);

	ASSERT_EQ(build1(e, 0), 0);
	e.flags = KVM_MSI_VALID_DEVID;
	ASSERT_EQ(build1(e, 0), 0);
	e.flags = 2;
	ASSERT_EQ(build1(e, 0), -EINVAL);

	e = chip(1, KVM_IRQCHIP_IOAPIC, 1);
	e.flags = KVM_MSI_VALID_DEVID;	/* only MSIs take flags */
	ASSERT_EQ(build1(e, 0), -EINVAL);

	e = chip(1, KVM_IRQCHIP_IOAPIC, 1);
	e.type = KVM_IRQ_ROUTING_S390_ADAPTER;
	ASSERT_EQ(build1(e, 0), -EINVAL);
	e.type = 0;
	ASSERT_EQ(build1(e, 0), -EINVAL);
	e.type = 99;
	ASSERT_EQ(build1(e, 0), -EINVAL);
}

TEST(one_pin_per_irqchip_or_one_msi_per_gsi)
{
	struct kvm_irq_routing_entry e[3];

	/* PIC master + IOAPIC (+ slave) on one GSI: fine. */
	e[0] = chip(5, KVM_IRQCHIP_PIC_MASTER, 5);
	e[1] = chip(5, KVM_IRQCHIP_IOAPIC, 5);
	e[2] = chip(5, KVM_IRQCHIP_PIC_SLAVE, 1);
	ASSERT_EQ(build(e, 3, 0), 0);
	/* Two pins of the IOAPIC on one GSI. */
	e[2] = chip(5, KVM_IRQCHIP_IOAPIC, 6);
	ASSERT_EQ(build(e, 3, 0), -EINVAL);
	/* An MSI with anything else, either order. */
	e[0] = msi(5, 0xfee00000, 0, 0x30);
	e[1] = chip(5, KVM_IRQCHIP_IOAPIC, 5);
	ASSERT_EQ(build(e, 2, 0), -EINVAL);
	e[0] = chip(5, KVM_IRQCHIP_IOAPIC, 5);
	e[1] = msi(5, 0xfee00000, 0, 0x30);
	ASSERT_EQ(build(e, 2, 0), -EINVAL);
	e[0] = msi(5, 0xfee00000, 0, 0x30);
	e[1] = msi(5, 0xfee00000, 0, 0x31);
	ASSERT_EQ(build(e, 2, 0), -EINVAL);
	/* The same pin from two GSIs is allowed. */
	e[0] = chip(5, KVM_IRQCHIP_IOAPIC, 5);
	e[1] = chip(6, KVM_IRQCHIP_IOAPIC, 5);
	ASSERT_EQ(build(e, 2, 0), 0);
}

TEST(split_irqchip_takes_only_msis)
{
	ASSERT_EQ(build1(chip(0, KVM_IRQCHIP_IOAPIC, 0), KVM_IRQ_ROUTING_NO_IRQCHIP),
		  -EINVAL);
	ASSERT_EQ(build1(msi(0, 0xfee00000, 0, 0x30), KVM_IRQ_ROUTING_NO_IRQCHIP), 0);
}

TEST(x2apic_format_msi)
{
	ASSERT_EQ(build1(msi(0, 0xfee00000, 0x1, 0x30), 0), 0);
	ASSERT_EQ(build1(msi(0, 0xfee00000, 0x1, 0x30),
			 KVM_IRQ_ROUTING_X2APIC_FORMAT), -EINVAL);
	ASSERT_EQ(build1(msi(0, 0xfee00000, 0x100, 0x30),
			 KVM_IRQ_ROUTING_X2APIC_FORMAT), 0);
}

TEST(lookup_by_gsi_and_pin)
{
	struct kvm_irq_routing_entry e[] = {
		msi(9, 0xfee01000, 0x12, 0x41),
		chip(2, KVM_IRQCHIP_IOAPIC, 2),
		chip(0, KVM_IRQCHIP_PIC_MASTER, 0),
		chip(2, KVM_IRQCHIP_PIC_MASTER, 2),
		chip(0, KVM_IRQCHIP_IOAPIC, 2),
	};
	struct kvm_irq_routing_table *t;
	const struct kvm_irq_route *rt;

	ASSERT_EQ(kvm_irq_routing_build(e, 5, 0, &t), 0);
	ASSERT_EQ(t->nr_gsi, 10);

	ASSERT_EQ(kvm_irq_routing_lookup(t, 0, &rt), 2);
	ASSERT_EQ(rt[0].gsi, 0);
	ASSERT_EQ(rt[0].irqchip.irqchip, KVM_IRQCHIP_PIC_MASTER);
	ASSERT_EQ(rt[1].irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
	ASSERT_EQ(rt[1].irqchip.pin, 2);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 1, &rt), 0);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 2, &rt), 2);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 9, &rt), 1);
	ASSERT_EQ(rt[0].type, KVM_IRQ_ROUTING_MSI);
	ASSERT_EQ(rt[0].msi.address_lo, 0xfee01000);
	ASSERT_EQ(rt[0].msi.address_hi, 0x12);
	ASSERT_EQ(rt[0].msi.data, 0x41);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 10, &rt), 0);
	ASSERT_EQ(kvm_irq_routing_lookup(t, ~0U, &rt), 0);

	/* IOAPIC pin 2 was routed from GSI 2, then from GSI 0: the last wins. */
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_IOAPIC, 2), 0);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_PIC_MASTER, 2), 2);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_PIC_MASTER, 1), -1);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_IOAPIC, 24), -1);
	ASSERT_EQ(kvm_irq_routing_chip_gsi(t, 3, 0), -1);
	kvm_irq_routing_free(t);
}

TEST(linux_default_routing)
{
	struct kvm_irq_routing_entry ue[KVM_DEFAULT_ROUTES];
	struct kvm_irq_routing_table *t;
	const struct kvm_irq_route *rt;
	u32 n = kvm_irq_routing_default(ue);

	ASSERT_EQ(n, KVM_DEFAULT_ROUTES);
	ASSERT_EQ(kvm_irq_routing_build(ue, n, 0, &t), 0);
	ASSERT_EQ(t->nr_gsi, 24);
	for (u32 gsi = 0; gsi < 24; gsi++) {
		u32 want = gsi < 16 ? 2 : 1;

		ASSERT_EQ(kvm_irq_routing_lookup(t, gsi, &rt), want);
		ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_IOAPIC, gsi), gsi);
	}
	for (u32 pin = 0; pin < 8; pin++) {
		ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_PIC_MASTER, pin), pin);
		ASSERT_EQ(kvm_irq_routing_chip_gsi(t, KVM_IRQCHIP_PIC_SLAVE, pin), pin + 8);
	}
	kvm_irq_routing_free(t);
	/* A split irqchip cannot take it. */
	ASSERT_EQ(build(ue, n, KVM_IRQ_ROUTING_NO_IRQCHIP), -EINVAL);
}

TEST(the_largest_table)
{
	static struct kvm_irq_routing_entry e[KVM_MAX_IRQ_ROUTES];
	struct kvm_irq_routing_table *t;
	const struct kvm_irq_route *rt;

	for (u32 i = 0; i < KVM_MAX_IRQ_ROUTES; i++)
		e[i] = msi(KVM_MAX_IRQ_ROUTES - 1 - i, 0xfee00000, 0, i);
	ASSERT_EQ(kvm_irq_routing_build(e, KVM_MAX_IRQ_ROUTES, 0, &t), 0);
	ASSERT_EQ(kvm_irq_routing_lookup(t, 0, &rt), 1);
	ASSERT_EQ(rt->msi.data, KVM_MAX_IRQ_ROUTES - 1);
	ASSERT_EQ(kvm_irq_routing_lookup(t, KVM_MAX_IRQ_ROUTES - 1, &rt), 1);
	ASSERT_EQ(rt->msi.data, 0);
	kvm_irq_routing_free(t);
}

TEST_HARNESS_MAIN
