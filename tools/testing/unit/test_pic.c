// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the 8259 pair (arch/x86/kvm/i8259.c): initialisation,
 * priorities and rotation, EOI kinds, auto-EOI, the cascade, spurious
 * interrupts, ELCR, special mask and special fully nested modes, poll,
 * and the KVM_GET/SET_IRQCHIP image.
 */
#include "../nkvm/harness.h"
#include "i8259.h"

static struct kvm_pic pic;
static int raised;

static void m_raised(struct kvm_pic *p)
{
	raised++;
}

static const struct kvm_pic_ops ops = { .intr_raised = m_raised };

#define M 0x20
#define S 0xa0

/* The BIOS's programming: bases 0x20 and 0x28, cascade on IRQ 2. */
static void setup_icw4(u8 icw4_master, u8 icw4_slave)
{
	vpic_init(&pic, &ops, NULL);
	raised = 0;
	vpic_write(&pic, M, 0x11);
	vpic_write(&pic, M + 1, 0x20);
	vpic_write(&pic, M + 1, 0x04);
	vpic_write(&pic, M + 1, icw4_master);
	vpic_write(&pic, S, 0x11);
	vpic_write(&pic, S + 1, 0x28);
	vpic_write(&pic, S + 1, 0x02);
	vpic_write(&pic, S + 1, icw4_slave);
}

static void setup(void)
{
	setup_icw4(0x01, 0x01);
}

static void pulse(int irq)
{
	vpic_set_irq(&pic, irq, 0, true);
	vpic_set_irq(&pic, irq, 0, false);
}

TEST(initialisation)
{
	setup();
	ASSERT_EQ(pic.chip[0].init_state, 0);
	ASSERT_EQ(pic.chip[0].irq_base, 0x20);
	ASSERT_EQ(pic.chip[1].irq_base, 0x28);
	ASSERT_EQ(pic.chip[0].init4, 1);
	ASSERT_EQ(vpic_read(&pic, M + 1), 0);
	vpic_write(&pic, M + 1, 0xfb);
	ASSERT_EQ(vpic_read(&pic, M + 1), 0xfb);
	ASSERT_EQ(pic.chip[0].elcr_mask, 0xf8);
	ASSERT_EQ(pic.chip[1].elcr_mask, 0xde);
	/* ICW2 keeps only bits 7:3; without ICW4, ICW3 ends the sequence. */
	vpic_write(&pic, M, 0x10);
	vpic_write(&pic, M + 1, 0x37);
	vpic_write(&pic, M + 1, 0x04);
	ASSERT_EQ(pic.chip[0].init_state, 0);
	ASSERT_EQ(pic.chip[0].irq_base, 0x30);
	ASSERT_EQ(pic.chip[0].auto_eoi, 0);
}

TEST(request_ack_eoi)
{
	setup();
	ASSERT_FALSE(vpic_output(&pic));
	ASSERT_EQ(vpic_set_irq(&pic, 1, 0, true), 1);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(raised, 1);
	ASSERT_EQ(vpic_ack(&pic), 0x21);
	ASSERT_EQ(pic.chip[0].isr, 0x02);
	ASSERT_EQ(pic.chip[0].irr, 0);
	ASSERT_FALSE(vpic_output(&pic));
	ASSERT_EQ(vpic_take_acked(&pic), 0);
	vpic_write(&pic, M, 0x20);	/* non-specific EOI */
	ASSERT_EQ(pic.chip[0].isr, 0);
	ASSERT_EQ(vpic_take_acked(&pic), 1U << 1);
	ASSERT_EQ(vpic_take_acked(&pic), 0);
}

TEST(edge_detection_and_status)
{
	setup();
	ASSERT_EQ(vpic_set_irq(&pic, 4, 0, true), 1);
	/* Held high: no new edge, still "delivered" as on Linux. */
	ASSERT_EQ(vpic_set_irq(&pic, 4, 0, true), 1);
	vpic_set_irq(&pic, 4, 0, false);
	/* A second edge before the first was taken: coalesced. */
	ASSERT_EQ(vpic_set_irq(&pic, 4, 0, true), 0);
	vpic_set_irq(&pic, 4, 0, false);
	vpic_write(&pic, M + 1, 1U << 5);
	ASSERT_EQ(vpic_set_irq(&pic, 5, 0, true), -1);
	/* Sources OR together. */
	vpic_set_irq(&pic, 6, 1, true);
	vpic_set_irq(&pic, 6, 2, true);
	vpic_set_irq(&pic, 6, 1, false);
	ASSERT_TRUE(pic.chip[0].last_irr & (1U << 6));
	vpic_set_irq(&pic, 6, 2, false);
	ASSERT_FALSE(pic.chip[0].last_irr & (1U << 6));
	ASSERT_EQ(vpic_set_irq(&pic, 16, 0, true), -1);
}

TEST(fixed_priority_and_nesting)
{
	setup();
	pulse(3);
	pulse(5);
	ASSERT_EQ(vpic_ack(&pic), 0x23);
	/* IRQ 5 waits for IRQ 3's EOI; IRQ 1 preempts it. */
	ASSERT_FALSE(vpic_output(&pic));
	pulse(1);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x21);
	vpic_write(&pic, M, 0x20);	/* ends IRQ 1, the highest */
	ASSERT_EQ(pic.chip[0].isr, 1U << 3);
	ASSERT_FALSE(vpic_output(&pic));
	vpic_write(&pic, M, 0x20);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x25);
}

TEST(rotation_and_specific_eoi)
{
	setup();
	/* Set priority: IRQ 4 lowest, so IRQ 5 is the highest. */
	vpic_write(&pic, M, 0xc4);
	pulse(3);
	pulse(5);
	ASSERT_EQ(vpic_ack(&pic), 0x25);
	/* Specific EOI of IRQ 5. */
	vpic_write(&pic, M, 0x65);
	ASSERT_EQ(pic.chip[0].isr, 0);
	ASSERT_EQ(vpic_ack(&pic), 0x23);
	/* Rotate on non-specific EOI: IRQ 3 becomes the lowest. */
	vpic_write(&pic, M, 0xa0);
	ASSERT_EQ(pic.chip[0].priority_add, 4);
	pulse(3);
	pulse(4);
	ASSERT_EQ(vpic_ack(&pic), 0x24);
	/* Rotate on specific EOI (7). */
	vpic_write(&pic, M, 0xe4);
	ASSERT_EQ(pic.chip[0].priority_add, 5);
	ASSERT_EQ(pic.chip[0].isr, 0);
	ASSERT_EQ(vpic_ack(&pic), 0x23);
	/* No-op command. */
	vpic_write(&pic, M, 0x40);
	ASSERT_EQ(pic.chip[0].isr, 1U << 3);
}

TEST(auto_eoi)
{
	setup_icw4(0x03, 0x01);
	ASSERT_EQ(pic.chip[0].auto_eoi, 1);
	pulse(2 + 4);
	ASSERT_EQ(vpic_ack(&pic), 0x26);
	ASSERT_EQ(pic.chip[0].isr, 0);
	ASSERT_EQ(vpic_take_acked(&pic), 1U << 6);
	/* Rotate in auto-EOI mode: the IRQ taken becomes the lowest. */
	vpic_write(&pic, M, 0x80);
	pulse(4);
	ASSERT_EQ(vpic_ack(&pic), 0x24);
	ASSERT_EQ(pic.chip[0].priority_add, 5);
	vpic_write(&pic, M, 0x00);
	ASSERT_EQ(pic.chip[0].rotate_on_auto_eoi, 0);
}

TEST(cascade)
{
	setup();
	pulse(10);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x2a);
	ASSERT_EQ(pic.chip[0].isr, 1U << 2);
	ASSERT_EQ(pic.chip[1].isr, 1U << 2);
	vpic_write(&pic, S, 0x20);
	vpic_write(&pic, M, 0x20);
	ASSERT_EQ(pic.chip[0].isr | pic.chip[1].isr, 0);
	ASSERT_EQ(vpic_take_acked(&pic), (1U << 10) | (1U << 2));
	/* Masking IRQ 2 on the master hides the slave. */
	vpic_write(&pic, M + 1, 1U << 2);
	pulse(12);
	ASSERT_FALSE(vpic_output(&pic));
	vpic_write(&pic, M + 1, 0);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x2c);
}

TEST(spurious_interrupts)
{
	setup();
	/* Nothing requested: IRQ 7 of the master, not put in service. */
	ASSERT_EQ(vpic_ack(&pic), 0x27);
	ASSERT_EQ(pic.chip[0].isr, 0);
	/* The slave's request went away: IRQ 7 of the slave. */
	pulse(11);
	vpic_write(&pic, S + 1, 1U << 3);
	ASSERT_EQ(vpic_ack(&pic), 0x2f);
}

TEST(level_triggered_inputs)
{
	setup();
	vpic_write(&pic, 0x4d0, 0xff);
	vpic_write(&pic, 0x4d1, 0xff);
	ASSERT_EQ(vpic_read(&pic, 0x4d0), 0xf8);
	ASSERT_EQ(vpic_read(&pic, 0x4d1), 0xde);
	ASSERT_EQ(vpic_set_irq(&pic, 9, 0, true), 1);
	ASSERT_EQ(vpic_set_irq(&pic, 9, 0, true), 0);	/* still high */
	ASSERT_EQ(vpic_ack(&pic), 0x29);
	/* Still requested while high: again after the EOIs. */
	ASSERT_TRUE(pic.chip[1].irr & (1U << 1));
	vpic_write(&pic, S, 0x20);
	vpic_write(&pic, M, 0x20);
	ASSERT_TRUE(vpic_output(&pic));
	vpic_set_irq(&pic, 9, 0, false);
	ASSERT_FALSE(pic.chip[1].irr & (1U << 1));
	/* A new init keeps level requests, drops edge ones. */
	vpic_set_irq(&pic, 9, 0, true);
	pulse(8);
	vpic_write(&pic, S, 0x11);
	ASSERT_EQ(pic.chip[1].irr, 1U << 1);
	ASSERT_EQ(pic.chip[1].imr, 0);
	ASSERT_EQ(pic.chip[1].init_state, 1);
}

TEST(special_mask_mode)
{
	setup();
	pulse(3);
	ASSERT_EQ(vpic_ack(&pic), 0x23);
	pulse(5);
	ASSERT_FALSE(vpic_output(&pic));
	/* Mask the IRQ in service and enter special mask mode. */
	vpic_write(&pic, M + 1, 1U << 3);
	ASSERT_FALSE(vpic_output(&pic));
	vpic_write(&pic, M, 0x68);
	ASSERT_EQ(pic.chip[0].special_mask, 1);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x25);
	/* Leaving it. */
	vpic_write(&pic, M, 0x48);
	ASSERT_EQ(pic.chip[0].special_mask, 0);
}

TEST(special_fully_nested_mode)
{
	setup_icw4(0x11, 0x01);
	pulse(12);
	ASSERT_EQ(vpic_ack(&pic), 0x2c);
	/* A higher slave IRQ gets through the master's IRQ 2 in service. */
	pulse(9);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x29);
	/* Not without the mode. */
	setup();
	pulse(12);
	vpic_ack(&pic);
	pulse(9);
	ASSERT_FALSE(vpic_output(&pic));
}

TEST(register_reads_and_poll)
{
	setup();
	pulse(6);
	ASSERT_EQ(vpic_read(&pic, M), 1U << 6);		/* IRR by default */
	vpic_write(&pic, M, 0x0b);			/* read ISR */
	ASSERT_EQ(vpic_read(&pic, M), 0);
	vpic_write(&pic, M, 0x0a);
	ASSERT_EQ(vpic_read(&pic, M), 1U << 6);
	/* Poll: the IRQ number, and its service is over. */
	vpic_write(&pic, M, 0x0c);
	ASSERT_EQ(vpic_read(&pic, M), 6);
	ASSERT_EQ(pic.chip[0].irr, 0);
	ASSERT_EQ(pic.chip[0].isr, 0);
	ASSERT_EQ(vpic_take_acked(&pic), 1U << 6);
	ASSERT_FALSE(vpic_output(&pic));
	/* Nothing: 7; one read only. */
	vpic_write(&pic, M, 0x0c);
	ASSERT_EQ(vpic_read(&pic, M), 7);
	ASSERT_EQ(pic.chip[0].poll, 0);
	/* Poll on the slave clears the cascade on the master. */
	pulse(13);
	vpic_write(&pic, S, 0x0c);
	ASSERT_EQ(vpic_read(&pic, S), 5);
	ASSERT_EQ(pic.chip[0].irr & (1U << 2), 0);
	ASSERT_EQ(vpic_read(&pic, 0x22), 0xff);
}

TEST(intr_edges_are_reported_once)
{
	setup();
	pulse(3);
	pulse(4);
	ASSERT_EQ(raised, 1);
	vpic_ack(&pic);
	vpic_write(&pic, M, 0x20);
	ASSERT_EQ(raised, 2);
}

TEST(state_image)
{
	struct kvm_pic_state s;

	setup();
	vpic_write(&pic, M + 1, 0x10);
	pulse(1);
	vpic_get_state(&pic, false, &s);
	ASSERT_EQ(s.irq_base, 0x20);
	ASSERT_EQ(s.imr, 0x10);
	ASSERT_EQ(s.irr, 0x02);
	ASSERT_EQ(s.elcr_mask, 0xf8);
	vpic_get_state(&pic, true, &s);
	ASSERT_EQ(s.irq_base, 0x28);

	/* Loading a state with a request raises INTR. */
	vpic_init(&pic, &ops, NULL);
	vpic_get_state(&pic, false, &s);
	s.irr = 0x80;
	s.irq_base = 0x08;
	vpic_set_state(&pic, false, &s);
	ASSERT_TRUE(vpic_output(&pic));
	ASSERT_EQ(vpic_ack(&pic), 0x0f);
}

TEST_HARNESS_MAIN
