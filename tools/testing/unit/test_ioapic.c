// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the IOAPIC model (arch/x86/kvm/ioapic.c): reset values,
 * IOREGSEL/IOWIN, edge and level pins, remote IRR and EOI, line sources,
 * the messages sent, and the KVM_GET/SET_IRQCHIP image.
 */
#include "../nkvm/harness.h"
#include "ioapic.h"

static struct kvm_ioapic io;
static int sent, result = 1;
static struct kvm_lapic_irq last;

static int m_deliver(struct kvm_ioapic *ioapic, const struct kvm_lapic_irq *irq)
{
	sent++;
	last = *irq;
	return result;
}

static const struct kvm_ioapic_ops ops = { .deliver = m_deliver };

static void setup(void)
{
	memset(&io, 0, sizeof(io));
	vioapic_init(&io, &ops, NULL);
	vioapic_reset(&io);
	sent = 0;
	result = 1;
}

static void sel(u32 reg)
{
	u32 v = reg;

	vioapic_mmio_write(&io, VIOAPIC_REGSEL, &v, 4);
}

static u32 rd(u32 reg)
{
	u32 v = 0xdeadbeef;

	sel(reg);
	vioapic_mmio_read(&io, VIOAPIC_WINDOW, &v, 4);
	return v;
}

static void wr(u32 reg, u32 val)
{
	sel(reg);
	vioapic_mmio_write(&io, VIOAPIC_WINDOW, &val, 4);
}

static void program(int pin, u64 rte)
{
	wr(VIOAPIC_REG_REDTBL + 2 * pin + 1, rte >> 32);
	wr(VIOAPIC_REG_REDTBL + 2 * pin, (u32)rte);
}

static u64 rte_of(int pin)
{
	return rd(VIOAPIC_REG_REDTBL + 2 * pin) |
	       (u64)rd(VIOAPIC_REG_REDTBL + 2 * pin + 1) << 32;
}

#define LEVEL	VIOAPIC_RTE_LEVEL
#define MASKED	VIOAPIC_RTE_MASKED
#define RIRR	VIOAPIC_RTE_REMOTE_IRR

TEST(reset_values)
{
	int i;
	u32 v;

	setup();
	ASSERT_EQ(io.base, 0xfec00000ULL);
	ASSERT_EQ(rd(VIOAPIC_REG_ID), 0);
	ASSERT_EQ(rd(VIOAPIC_REG_VERSION), 0x170011);
	ASSERT_EQ(rd(VIOAPIC_REG_ARB), 0);
	for (i = 0; i < 24; i++)
		ASSERT_EQ(rte_of(i), MASKED);
	sel(0x2a);
	vioapic_mmio_read(&io, VIOAPIC_REGSEL, &v, 4);
	ASSERT_EQ(v, 0x2a);
}

TEST(indirect_registers)
{
	u64 v8;
	u32 v;
	u8 b;

	setup();
	/* IOREGSEL is 8 bits. */
	sel(0x1234);
	vioapic_mmio_read(&io, VIOAPIC_REGSEL, &v, 4);
	ASSERT_EQ(v, 0x34);
	/* The ID is 4 bits in 27:24; version and arbitration ignore writes. */
	wr(VIOAPIC_REG_ID, 0xffffffff);
	ASSERT_EQ(rd(VIOAPIC_REG_ID), 0x0f000000);
	ASSERT_EQ(rd(VIOAPIC_REG_ARB), 0x0f000000);
	wr(VIOAPIC_REG_VERSION, 0);
	ASSERT_EQ(rd(VIOAPIC_REG_VERSION), 0x170011);

	/* An entry's halves; remote IRR and delivery status are read-only. */
	program(5, 0xab00000000000000ULL | RIRR | VIOAPIC_RTE_STATUS |
		   MASKED | 0x9ff);
	ASSERT_EQ(rte_of(5), 0xab00000000000000ULL | MASKED | 0x9ff);
	/* Pins beyond 23 read as all ones and ignore writes. */
	ASSERT_EQ(rd(VIOAPIC_REG_REDTBL + 48), 0xffffffff);
	wr(VIOAPIC_REG_REDTBL + 48, 0);
	ASSERT_EQ(rd(VIOAPIC_REG_REDTBL + 49), 0xffffffff);
	ASSERT_EQ(rd(0x03), 0xffffffff);

	/* Other offsets read as zero; 1- and 8-byte accesses work. */
	v = 0xffffffff;
	vioapic_mmio_read(&io, 0x20, &v, 4);
	ASSERT_EQ(v, 0);
	sel(VIOAPIC_REG_VERSION);
	vioapic_mmio_read(&io, VIOAPIC_WINDOW, &b, 1);
	ASSERT_EQ(b, 0x11);
	v8 = ~0ULL;
	vioapic_mmio_read(&io, VIOAPIC_WINDOW, &v8, 8);
	ASSERT_EQ(v8, 0x170011);
	b = VIOAPIC_REG_ID;
	vioapic_mmio_write(&io, VIOAPIC_REGSEL, &b, 1);
	ASSERT_EQ(io.ioregsel, 0);
}

TEST(edge_pin)
{
	setup();
	program(4, 1ULL << 56 | 0x30);
	ASSERT_EQ(vioapic_set_irq(&io, 4, 0, true), 1);
	ASSERT_EQ(sent, 1);
	ASSERT_EQ(last.vector, 0x30);
	ASSERT_EQ(last.dest_id, 1);
	ASSERT_FALSE(last.trig_level);
	ASSERT_TRUE(last.level);
	/* No new edge: coalesced. */
	ASSERT_EQ(vioapic_set_irq(&io, 4, 0, true), 0);
	ASSERT_EQ(sent, 1);
	ASSERT_EQ(vioapic_set_irq(&io, 4, 0, false), 1);
	ASSERT_EQ(vioapic_set_irq(&io, 4, 0, true), 1);
	ASSERT_EQ(sent, 2);
	/* Edge pins never wait for an EOI. */
	vioapic_eoi(&io, 0x30);
	ASSERT_EQ(sent, 2);

	/* Masked: not delivered, and unmasking does not replay the edge. */
	vioapic_set_irq(&io, 4, 0, false);
	program(4, MASKED | 0x30);
	ASSERT_EQ(vioapic_set_irq(&io, 4, 0, true), -1);
	program(4, 0x30);
	ASSERT_EQ(sent, 2);
}

TEST(level_pin_and_remote_irr)
{
	setup();
	program(9, LEVEL | 0x50);
	ASSERT_EQ(vioapic_set_irq(&io, 9, 0, true), 1);
	ASSERT_EQ(sent, 1);
	ASSERT_TRUE(last.trig_level);
	ASSERT_TRUE(rte_of(9) & RIRR);
	/* Waiting for the EOI. */
	ASSERT_EQ(vioapic_set_irq(&io, 9, 0, true), -1);
	ASSERT_EQ(sent, 1);
	/* EOI with the line still high: delivered again. */
	vioapic_eoi(&io, 0x50);
	ASSERT_EQ(sent, 2);
	ASSERT_TRUE(rte_of(9) & RIRR);
	/* Another vector's EOI does nothing. */
	vioapic_eoi(&io, 0x51);
	ASSERT_TRUE(rte_of(9) & RIRR);
	/* Line low, then EOI: idle. */
	ASSERT_EQ(vioapic_set_irq(&io, 9, 0, false), 1);
	vioapic_eoi(&io, 0x50);
	ASSERT_EQ(sent, 2);
	ASSERT_FALSE(rte_of(9) & RIRR);
}

TEST(level_pin_delivers_when_unmasked)
{
	setup();
	program(10, LEVEL | MASKED | 0x51);
	ASSERT_EQ(vioapic_set_irq(&io, 10, 0, true), -1);
	ASSERT_EQ(sent, 0);
	program(10, LEVEL | 0x51);
	ASSERT_EQ(sent, 1);
	ASSERT_TRUE(rte_of(10) & RIRR);
	/* Masked while in service: the EOI does not deliver... */
	program(10, LEVEL | MASKED | 0x51);
	vioapic_eoi(&io, 0x51);
	ASSERT_EQ(sent, 1);
	/* ...unmasking does, the line being still high. */
	program(10, LEVEL | 0x51);
	ASSERT_EQ(sent, 2);
}

TEST(edge_mode_clears_remote_irr)
{
	setup();
	program(11, LEVEL | 0x52);
	vioapic_set_irq(&io, 11, 0, true);
	ASSERT_TRUE(rte_of(11) & RIRR);
	program(11, 0x52);
	ASSERT_FALSE(rte_of(11) & RIRR);
}

TEST(remote_irr_follows_delivery_result)
{
	setup();
	/* Nobody matched (-1): still waits for an EOI, as on Linux. */
	result = -1;
	program(12, LEVEL | 0x53);
	ASSERT_EQ(vioapic_set_irq(&io, 12, 0, true), -1);
	ASSERT_TRUE(rte_of(12) & RIRR);
	/* Matched but refused (0): does not. */
	setup();
	result = 0;
	program(12, LEVEL | 0x53);
	ASSERT_EQ(vioapic_set_irq(&io, 12, 0, true), 0);
	ASSERT_FALSE(rte_of(12) & RIRR);
}

TEST(line_is_the_or_of_its_sources)
{
	setup();
	program(3, LEVEL | 0x60);
	vioapic_set_irq(&io, 3, 0, true);
	vioapic_set_irq(&io, 3, 5, true);
	vioapic_set_irq(&io, 3, 0, false);
	ASSERT_TRUE(io.irr & (1U << 3));
	vioapic_set_irq(&io, 3, 5, false);
	ASSERT_FALSE(io.irr & (1U << 3));
	vioapic_set_irq(&io, 3, 7, true);
	vioapic_clear_source(&io, 7);
	ASSERT_EQ(io.sources[3], 0);
	/* Bad pin or source. */
	ASSERT_EQ(vioapic_set_irq(&io, 24, 0, true), -1);
	ASSERT_EQ(vioapic_set_irq(&io, 0, 32, true), -1);
}

TEST(message_fields)
{
	setup();
	program(7, 0x5a00000000000000ULL | VIOAPIC_RTE_LOGICAL |
		   (LAPIC_DM_LOWEST << 8) | 0x77);
	vioapic_set_irq(&io, 7, 0, true);
	ASSERT_EQ(last.dest_id, 0x5a);
	ASSERT_TRUE(last.logical);
	ASSERT_EQ(last.delivery_mode, LAPIC_DM_LOWEST);
	ASSERT_EQ(last.vector, 0x77);
	ASSERT_EQ(last.shorthand, LAPIC_SHORT_NONE);
	ASSERT_FALSE(last.redir_hint);
}

TEST(vector_pins)
{
	setup();
	program(1, LEVEL | 0x70);
	program(6, LEVEL | 0x70);
	program(8, 0x71);
	ASSERT_EQ(vioapic_vector_pins(&io, 0x70), (1U << 1) | (1U << 6));
	ASSERT_EQ(vioapic_vector_pins(&io, 0x71), 1U << 8);
	/* Both level pins of a shared vector take the EOI. */
	vioapic_set_irq(&io, 1, 0, true);
	vioapic_set_irq(&io, 6, 0, true);
	vioapic_set_irq(&io, 1, 0, false);
	ASSERT_EQ(sent, 2);
	vioapic_eoi(&io, 0x70);
	ASSERT_FALSE(rte_of(1) & RIRR);
	ASSERT_TRUE(rte_of(6) & RIRR);	/* its line is high: again */
	ASSERT_EQ(sent, 3);
}

TEST(state_image)
{
	struct kvm_ioapic_state s;

	setup();
	wr(VIOAPIC_REG_ID, 3U << 24);
	program(2, 0x41);
	program(14, LEVEL | MASKED | 0x42);
	vioapic_set_irq(&io, 2, 0, true);	/* delivered edge */
	vioapic_set_irq(&io, 14, 0, true);	/* masked level: pending */
	sel(0x1f);
	vioapic_get_state(&io, &s);
	ASSERT_EQ(s.base_address, 0xfec00000ULL);
	ASSERT_EQ(s.ioregsel, 0x1f);
	ASSERT_EQ(s.id, 3);
	ASSERT_EQ(s.irr, 1U << 14);
	ASSERT_EQ(s.redirtbl[2].bits, 0x41);
	ASSERT_EQ(s.redirtbl[14].fields.vector, 0x42);
	ASSERT_EQ(s.redirtbl[14].fields.mask, 1);
	ASSERT_EQ(s.redirtbl[14].fields.trig_mode, 1);

	/* Loading it unmasked delivers the pending level pin. */
	setup();
	s.redirtbl[14].fields.mask = 0;
	vioapic_set_state(&io, &s);
	ASSERT_EQ(sent, 1);
	ASSERT_EQ(last.vector, 0x42);
	ASSERT_EQ(io.id, 3);
	ASSERT_EQ(io.ioregsel, 0x1f);
	ASSERT_TRUE(rte_of(14) & RIRR);
}

TEST_HARNESS_MAIN
