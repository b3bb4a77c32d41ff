// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the local APIC model (arch/x86/kvm/lapic.c) and message
 * delivery (arch/x86/kvm/irq.c): reset values, write masks, TPR/PPR, IRR
 * to ISR and EOI, every timer mode with mocked time, the ICR in xAPIC and
 * x2APIC, the KVM_GET/SET_LAPIC image, INIT/SIPI, destination matching,
 * lowest priority and MSIs.
 */
#include "../nkvm/harness.h"
#include "lapic.h"
#include "irq.h"

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* A vCPU's APIC with everything that leaves it recorded. */
struct mock {
	struct kvm_lapic apic;
	int kicks;
	bool armed;
	u64 expiry;
	int ipis;
	struct kvm_lapic_irq ipi;
	int eois;
	int eoi_vector;
	bool eoi_level;
};

static struct mock *to_mock(struct kvm_lapic *apic)
{
	return container_of(apic, struct mock, apic);
}

static void m_kick(struct kvm_lapic *apic)
{
	to_mock(apic)->kicks++;
}

static void m_arm(struct kvm_lapic *apic, u64 expiry)
{
	to_mock(apic)->armed = true;
	to_mock(apic)->expiry = expiry;
}

static void m_cancel(struct kvm_lapic *apic)
{
	to_mock(apic)->armed = false;
}

static void m_ipi(struct kvm_lapic *apic, const struct kvm_lapic_irq *irq)
{
	to_mock(apic)->ipis++;
	to_mock(apic)->ipi = *irq;
}

static void m_eoi(struct kvm_lapic *apic, u8 vector, bool level)
{
	to_mock(apic)->eois++;
	to_mock(apic)->eoi_vector = vector;
	to_mock(apic)->eoi_level = level;
}

static const struct kvm_lapic_ops mock_ops = {
	.kick = m_kick, .timer_arm = m_arm, .timer_cancel = m_cancel,
	.send_ipi = m_ipi, .eoi = m_eoi,
};

static void setup(struct mock *m, u32 id, bool bsp)
{
	memset(m, 0, sizeof(*m));
	m->eoi_vector = -1;
	vlapic_init(&m->apic, id, &mock_ops, m);
	vlapic_set_base(&m->apic, LAPIC_DEFAULT_BASE | LAPIC_BASE_EN |
				  (bsp ? LAPIC_BASE_BSP : 0));
	vlapic_reset(&m->apic, false, 0);
}

static u32 rd(struct kvm_lapic *apic, u32 off)
{
	u32 v = 0xdeadbeef;

	ASSERT_EQ(vlapic_read(apic, off, &v, 0), 0);
	return v;
}

static void wr(struct kvm_lapic *apic, u32 off, u32 val)
{
	ASSERT_EQ(vlapic_write(apic, off, val, 0), 0);
}

static void sw_enable(struct kvm_lapic *apic)
{
	wr(apic, LAPIC_SPIV, LAPIC_SPIV_ENABLE | 0xff);
}

static struct kvm_lapic_irq fixed(u8 vector, bool level_trig)
{
	return (struct kvm_lapic_irq) {
		.vector = vector, .delivery_mode = LAPIC_DM_FIXED,
		.level = true, .trig_level = level_trig,
	};
}

static bool irr(struct kvm_lapic *apic, u8 v)
{
	return vlapic_reg(apic, LAPIC_IRR + (v / 32) * 0x10) & (1U << (v % 32));
}

static bool isr(struct kvm_lapic *apic, u8 v)
{
	return vlapic_reg(apic, LAPIC_ISR + (v / 32) * 0x10) & (1U << (v % 32));
}

static bool tmr(struct kvm_lapic *apic, u8 v)
{
	return vlapic_reg(apic, LAPIC_TMR + (v / 32) * 0x10) & (1U << (v % 32));
}

static void to_x2apic(struct kvm_lapic *apic)
{
	vlapic_set_base(apic, LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | LAPIC_BASE_EXTD |
			      (apic->base & LAPIC_BASE_BSP));
}

/* ---- Reset and registers ------------------------------------------------- */

TEST(reset_values)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	int i;

	setup(&m, 3, true);
	ASSERT_EQ(rd(a, LAPIC_ID), 3U << 24);
	ASSERT_EQ(rd(a, LAPIC_LVR), 0x50014);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0);
	ASSERT_EQ(rd(a, LAPIC_APR), 0);
	ASSERT_EQ(rd(a, LAPIC_PPR), 0);
	ASSERT_EQ(rd(a, LAPIC_LDR), 0);
	ASSERT_EQ(rd(a, LAPIC_DFR), 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_SPIV), 0xff);
	ASSERT_EQ(rd(a, LAPIC_ESR), 0);
	ASSERT_EQ(rd(a, LAPIC_ICR), 0);
	ASSERT_EQ(rd(a, LAPIC_ICR2), 0);
	ASSERT_EQ(rd(a, LAPIC_LVTT), LAPIC_LVT_MASKED);
	ASSERT_EQ(rd(a, LAPIC_LVTTHMR), LAPIC_LVT_MASKED);
	ASSERT_EQ(rd(a, LAPIC_LVTPC), LAPIC_LVT_MASKED);
	/* The BSP's LINT0 takes the 8259 (virtual wire). */
	ASSERT_EQ(rd(a, LAPIC_LVT0), 0x700);
	ASSERT_EQ(rd(a, LAPIC_LVT1), LAPIC_LVT_MASKED);
	ASSERT_EQ(rd(a, LAPIC_LVTERR), LAPIC_LVT_MASKED);
	ASSERT_EQ(rd(a, LAPIC_TMICT), 0);
	ASSERT_EQ(rd(a, LAPIC_TMCCT), 0);
	ASSERT_EQ(rd(a, LAPIC_TDCR), 0);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(rd(a, LAPIC_IRR + i * 0x10), 0);
		ASSERT_EQ(rd(a, LAPIC_ISR + i * 0x10), 0);
		ASSERT_EQ(rd(a, LAPIC_TMR + i * 0x10), 0);
	}
	ASSERT_FALSE(vlapic_sw_enabled(a));
	ASSERT_TRUE(vlapic_accepts_extint(a));

	setup(&m, 1, false);
	ASSERT_EQ(rd(a, LAPIC_LVT0), LAPIC_LVT_MASKED);
	ASSERT_FALSE(vlapic_accepts_extint(a));
}

TEST(init_keeps_the_id_and_clears_the_rest)
{
	struct kvm_lapic_irq irq = fixed(0x40, false);
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 2, false);
	sw_enable(a);
	wr(a, LAPIC_ID, 7U << 24);
	wr(a, LAPIC_TPR, 0x20);
	wr(a, LAPIC_LDR, 0x01000000);
	wr(a, LAPIC_DFR, 0);
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	wr(a, LAPIC_TMICT, 100);
	vlapic_reset(a, true, 0);
	ASSERT_EQ(rd(a, LAPIC_ID), 7U << 24);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0);
	ASSERT_EQ(rd(a, LAPIC_LDR), 0);
	ASSERT_EQ(rd(a, LAPIC_DFR), 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_SPIV), 0xff);
	ASSERT_FALSE(irr(a, 0x40));
	ASSERT_EQ(rd(a, LAPIC_TMICT), 0);
	ASSERT_FALSE(a->timer_armed);
	/* RESET puts the vCPU id back. */
	vlapic_reset(a, false, 0);
	ASSERT_EQ(rd(a, LAPIC_ID), 2U << 24);
}

TEST(write_masks)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	sw_enable(a);
	wr(a, LAPIC_ID, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_ID), 0xff000000);
	wr(a, LAPIC_TPR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0xff);
	wr(a, LAPIC_TPR, 0);
	wr(a, LAPIC_LDR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LDR), 0xff000000);
	wr(a, LAPIC_DFR, 0);
	ASSERT_EQ(rd(a, LAPIC_DFR), 0x0fffffff);
	wr(a, LAPIC_SPIV, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_SPIV), 0x3ff);
	wr(a, LAPIC_ICR2, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_ICR2), 0xff000000);
	wr(a, LAPIC_LVTT, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVTT), 0x310ff);	/* no TSC deadline */
	wr(a, LAPIC_LVTTHMR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVTTHMR), 0x117ff);
	wr(a, LAPIC_LVTPC, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVTPC), 0x117ff);
	wr(a, LAPIC_LVT0, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVT0), 0x1f7ff);
	wr(a, LAPIC_LVT1, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVT1), 0x1f7ff);
	wr(a, LAPIC_LVTERR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_LVTERR), 0x110ff);
	wr(a, LAPIC_TDCR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_TDCR), 0xb);
	wr(a, LAPIC_ESR, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_ESR), 0);

	/* With TSC deadline and directed EOI offered. */
	a->tsc_deadline = true;
	a->directed_eoi = true;
	wr(a, LAPIC_LVTT, 0xffffffff & ~LAPIC_LVT_MASKED);
	ASSERT_EQ(rd(a, LAPIC_LVTT), 0x610ff);
	wr(a, LAPIC_SPIV, 0xffffffff);
	ASSERT_EQ(rd(a, LAPIC_SPIV), 0x13ff);
}

TEST(read_only_and_reserved_registers)
{
	static const u32 ro[] = {
		LAPIC_LVR, LAPIC_PPR, LAPIC_ISR, LAPIC_ISR + 0x70, LAPIC_TMR,
		LAPIC_IRR, LAPIC_IRR + 0x70, LAPIC_TMCCT, LAPIC_APR, LAPIC_RRD,
		0x000, 0x010, 0x040, 0x070, 0x2f0, 0x3a0, 0x3f0,
	};
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u32 v;
	size_t i;

	setup(&m, 0, true);
	for (i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		EXPECT_EQ(vlapic_write(a, ro[i], 0, 0), 1);
	ASSERT_EQ(rd(a, LAPIC_LVR), 0x50014);
	/* Not readable: EOI, RRD, CMCI (five LVTs + error), self IPI. */
	ASSERT_EQ(vlapic_read(a, LAPIC_EOI, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, LAPIC_RRD, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, LAPIC_LVTCMCI, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, LAPIC_SELF_IPI, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, 0x3a0, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, LAPIC_ID + 4, &v, 0), 1);
	ASSERT_EQ(vlapic_read(a, 0x400, &v, 0), 1);
}

TEST(software_disable_masks_the_lvts)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	/* Disabled: an LVT write keeps the mask bit. */
	wr(a, LAPIC_LVT1, 0x400);
	ASSERT_EQ(rd(a, LAPIC_LVT1), 0x10400);
	sw_enable(a);
	wr(a, LAPIC_LVT1, 0x400);
	wr(a, LAPIC_LVTT, 0x30);
	ASSERT_EQ(rd(a, LAPIC_LVT1), 0x400);
	wr(a, LAPIC_SPIV, 0xff);
	ASSERT_EQ(rd(a, LAPIC_LVT1), 0x10400);
	ASSERT_EQ(rd(a, LAPIC_LVTT), 0x10030);
	ASSERT_EQ(rd(a, LAPIC_LVT0), 0x10700);
}

TEST(mmio_access_widths)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u8 buf[8];
	u32 v;

	setup(&m, 0x12, true);
	ASSERT_TRUE(vlapic_mmio_enabled(a));
	vlapic_mmio_read(a, LAPIC_ID, &v, 4, 0);
	ASSERT_EQ(v, 0x12000000);
	vlapic_mmio_read(a, LAPIC_ID + 3, buf, 1, 0);
	ASSERT_EQ(buf[0], 0x12);
	vlapic_mmio_read(a, LAPIC_LVR, buf, 2, 0);
	ASSERT_EQ(buf[0] | buf[1] << 8, 0x0014);
	vlapic_mmio_read(a, LAPIC_LVR + 2, buf, 2, 0);
	ASSERT_EQ(buf[0] | buf[1] << 8, 0x0005);
	/* Across the dword, wider than 4, outside a register: zeros. */
	memset(buf, 0xaa, sizeof(buf));
	vlapic_mmio_read(a, LAPIC_LVR + 2, buf, 4, 0);
	ASSERT_EQ(buf[0] | buf[1] | buf[2] | buf[3], 0);
	memset(buf, 0xaa, sizeof(buf));
	vlapic_mmio_read(a, LAPIC_LVR, buf, 8, 0);
	ASSERT_EQ(buf[0] | buf[7], 0);
	vlapic_mmio_read(a, LAPIC_LVR + 4, &v, 4, 0);
	ASSERT_EQ(v, 0);
	vlapic_mmio_read(a, 0x800, &v, 4, 0);
	ASSERT_EQ(v, 0);

	/* Writes: aligned dwords only. */
	v = 0x55;
	vlapic_mmio_write(a, LAPIC_TPR, &v, 2, 0);
	vlapic_mmio_write(a, LAPIC_TPR + 4, &v, 4, 0);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0);
	vlapic_mmio_write(a, LAPIC_TPR, &v, 4, 0);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0x55);

	/* The page answers in xAPIC mode only. */
	to_x2apic(a);
	ASSERT_FALSE(vlapic_mmio_enabled(a));
	vlapic_set_base(a, 0);
	ASSERT_FALSE(vlapic_mmio_enabled(a));
}

/* ---- Priorities, acknowledge, EOI ---------------------------------------- */

TEST(ppr_arithmetic)
{
	struct kvm_lapic_irq irq;
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	sw_enable(a);
	irq = fixed(0x31, false);
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_ack_irq(a), 0x31);
	/* ISR 0x31: PPR is its class; TPR above it wins, with its low bits. */
	wr(a, LAPIC_TPR, 0x20);
	ASSERT_EQ(rd(a, LAPIC_PPR), 0x30);
	wr(a, LAPIC_TPR, 0x45);
	ASSERT_EQ(rd(a, LAPIC_PPR), 0x45);
	wr(a, LAPIC_TPR, 0x3f);
	ASSERT_EQ(rd(a, LAPIC_PPR), 0x3f);

	/* A vector is pending only if its class is above the PPR. */
	wr(a, LAPIC_TPR, 0);
	irq = fixed(0x3f, false);
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_pending_irq(a), -1);
	irq = fixed(0x40, false);
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_pending_irq(a), 0x40);
	wr(a, LAPIC_TPR, 0x40);
	ASSERT_EQ(vlapic_pending_irq(a), -1);
	wr(a, LAPIC_TPR, 0x3f);
	ASSERT_EQ(vlapic_pending_irq(a), 0x40);
	ASSERT_EQ(vlapic_highest_irr(a), 0x40);
	ASSERT_EQ(vlapic_highest_isr(a), 0x31);

	/* Vectors 0-15 never become pending. */
	setup(&m, 0, true);
	sw_enable(a);
	irq = fixed(0x0f, false);
	vlapic_accept_irq(a, &irq);
	ASSERT_TRUE(irr(a, 0x0f));
	ASSERT_EQ(vlapic_pending_irq(a), -1);
}

TEST(cr8_is_tpr_high_nibble)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	vlapic_set_tpr(a, 0x9 << 4);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0x90);
	ASSERT_EQ(vlapic_get_tpr(a) >> 4, 9);
	ASSERT_EQ(rd(a, LAPIC_PPR), 0x90);
}

TEST(ack_moves_irr_to_isr_and_eoi_retires_the_highest)
{
	struct kvm_lapic_irq e = fixed(0x40, false), l = fixed(0x50, true);
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	sw_enable(a);
	ASSERT_EQ(vlapic_accept_irq(a, &e), 1);
	ASSERT_EQ(vlapic_accept_irq(a, &l), 1);
	ASSERT_EQ(m.kicks, 2);
	ASSERT_TRUE(tmr(a, 0x50));
	ASSERT_FALSE(tmr(a, 0x40));

	ASSERT_EQ(vlapic_ack_irq(a), 0x50);
	ASSERT_FALSE(irr(a, 0x50));
	ASSERT_TRUE(isr(a, 0x50));
	ASSERT_EQ(rd(a, LAPIC_PPR), 0x50);
	/* 0x40 waits for the EOI of 0x50. */
	ASSERT_EQ(vlapic_ack_irq(a), -1);

	wr(a, LAPIC_EOI, 0);
	ASSERT_EQ(m.eois, 1);
	ASSERT_EQ(m.eoi_vector, 0x50);
	ASSERT_TRUE(m.eoi_level);
	ASSERT_FALSE(isr(a, 0x50));
	ASSERT_EQ(rd(a, LAPIC_PPR), 0);

	ASSERT_EQ(vlapic_ack_irq(a), 0x40);
	/* A higher vector preempts: nested service. */
	l = fixed(0x60, false);
	vlapic_accept_irq(a, &l);
	ASSERT_EQ(vlapic_ack_irq(a), 0x60);
	wr(a, LAPIC_EOI, 0);
	ASSERT_EQ(m.eoi_vector, 0x60);
	ASSERT_FALSE(m.eoi_level);
	wr(a, LAPIC_EOI, 0);
	ASSERT_EQ(m.eoi_vector, 0x40);
	ASSERT_EQ(m.eois, 3);
	/* Nothing in service: no EOI goes out. */
	wr(a, LAPIC_EOI, 0);
	ASSERT_EQ(m.eois, 3);
}

/* PV EOI: the EOI may be skipped only for a lone, edge, unnested vector. */
TEST(pv_eoi_vector)
{
	struct kvm_lapic_irq e = fixed(0x40, false), l = fixed(0x50, true);
	struct kvm_lapic_irq h = fixed(0x60, false), low = fixed(0x30, false);
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	sw_enable(a);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), -1);		/* nothing in service */
	vlapic_accept_irq(a, &e);
	ASSERT_EQ(vlapic_ack_irq(a), 0x40);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), 0x40);
	/* Something requested, even below the PPR: no. */
	vlapic_accept_irq(a, &low);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), -1);
	wr(a, LAPIC_EOI, 0);
	ASSERT_EQ(vlapic_ack_irq(a), 0x30);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), 0x30);
	/* Two in service (nested): no. */
	vlapic_accept_irq(a, &h);
	ASSERT_EQ(vlapic_ack_irq(a), 0x60);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), -1);
	wr(a, LAPIC_EOI, 0);
	wr(a, LAPIC_EOI, 0);
	/* Level-triggered: its EOI has work to do. */
	vlapic_accept_irq(a, &l);
	ASSERT_EQ(vlapic_ack_irq(a), 0x50);
	ASSERT_EQ(vlapic_pv_eoi_vector(a), -1);
}

TEST(accept_rules)
{
	struct kvm_lapic_irq irq = fixed(0x40, false);
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	/* Software-disabled: fixed interrupts are refused. */
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	ASSERT_FALSE(irr(a, 0x40));
	sw_enable(a);
	/* A level-triggered message that deasserts carries nothing. */
	irq = fixed(0x41, true);
	irq.level = false;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	/* Lowest priority is accepted like fixed. */
	irq = fixed(0x42, false);
	irq.delivery_mode = LAPIC_DM_LOWEST;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	ASSERT_TRUE(irr(a, 0x42));
	/* TMR follows the last message of the vector. */
	irq = fixed(0x43, true);
	vlapic_accept_irq(a, &irq);
	ASSERT_TRUE(tmr(a, 0x43));
	irq = fixed(0x43, false);
	vlapic_accept_irq(a, &irq);
	ASSERT_FALSE(tmr(a, 0x43));

	irq.delivery_mode = LAPIC_DM_SMI;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	/* An SMI is posted for the vCPU, once. */
	ASSERT_TRUE(vlapic_events_pending(a));
	ASSERT_TRUE(vlapic_take_smi(a));
	ASSERT_FALSE(vlapic_take_smi(a));
	irq.delivery_mode = LAPIC_DM_REMRD;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	irq.delivery_mode = LAPIC_DM_EXTINT;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	ASSERT_FALSE(vlapic_events_pending(a));

	/* Hardware-disabled. */
	vlapic_set_base(a, LAPIC_DEFAULT_BASE);
	irq = fixed(0x44, false);
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	ASSERT_EQ(vlapic_pending_irq(a), -1);
}

TEST(nmi_init_sipi)
{
	struct kvm_lapic_irq irq = { .level = true };
	u32 mp = KVM_MP_STATE_RUNNABLE;
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u8 vec = 0;

	setup(&m, 1, false);
	/* NMIs need no software enable, and several collapse. */
	irq.delivery_mode = LAPIC_DM_NMI;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	ASSERT_TRUE(vlapic_take_nmi(a));
	ASSERT_FALSE(vlapic_take_nmi(a));

	/* SIPI without INIT: dropped. */
	irq.delivery_mode = LAPIC_DM_STARTUP;
	irq.vector = 0x9a;
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0), 0);
	ASSERT_EQ(mp, KVM_MP_STATE_RUNNABLE);

	/* INIT level de-assert: nothing. */
	irq.delivery_mode = LAPIC_DM_INIT;
	irq.trig_level = true;
	irq.level = false;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 0);
	ASSERT_FALSE(vlapic_events_pending(a));

	/* INIT, then SIPI: the AP waits, then starts at the vector. */
	sw_enable(a);
	wr(a, LAPIC_TPR, 0x30);
	irq.level = true;
	irq.trig_level = false;
	ASSERT_EQ(vlapic_accept_irq(a, &irq), 1);
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0), LAPIC_DID_INIT);
	ASSERT_EQ(mp, KVM_MP_STATE_INIT_RECEIVED);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0);
	ASSERT_FALSE(vlapic_sw_enabled(a));
	irq.delivery_mode = LAPIC_DM_STARTUP;
	irq.vector = 0x9a;
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0), LAPIC_DID_SIPI);
	ASSERT_EQ(mp, KVM_MP_STATE_RUNNABLE);
	ASSERT_EQ(vec, 0x9a);

	/* Both at once (INIT; SIPI), and a second SIPI is ignored. */
	irq.delivery_mode = LAPIC_DM_INIT;
	vlapic_accept_irq(a, &irq);
	irq.delivery_mode = LAPIC_DM_STARTUP;
	irq.vector = 0x10;
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0),
		  LAPIC_DID_INIT | LAPIC_DID_SIPI);
	ASSERT_EQ(vec, 0x10);
	vlapic_accept_irq(a, &irq);
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0), 0);

	/* The BSP runs again right after INIT. */
	setup(&m, 0, true);
	irq.delivery_mode = LAPIC_DM_INIT;
	vlapic_accept_irq(a, &irq);
	mp = KVM_MP_STATE_HALTED;
	ASSERT_EQ(vlapic_accept_init_sipi(a, &mp, &vec, 0), LAPIC_DID_INIT);
	ASSERT_EQ(mp, KVM_MP_STATE_RUNNABLE);
	ASSERT_EQ(rd(a, LAPIC_LVT0), 0x700);
}

TEST(set_mp_state)
{
	struct kvm_lapic_irq irq = { .level = true };
	u32 mp = KVM_MP_STATE_RUNNABLE;
	struct mock m;
	u8 vec = 0;

	setup(&m, 1, false);
	ASSERT_EQ(vlapic_set_mp_state(&m.apic, &mp, KVM_MP_STATE_HALTED), 0);
	ASSERT_EQ(mp, KVM_MP_STATE_HALTED);
	ASSERT_EQ(vlapic_set_mp_state(&m.apic, &mp, KVM_MP_STATE_STOPPED), -EINVAL);
	ASSERT_EQ(vlapic_set_mp_state(&m.apic, &mp, 1000), -EINVAL);
	ASSERT_EQ(mp, KVM_MP_STATE_HALTED);
	/* SIPI_RECEIVED: waiting for SIPI, with one posted (last vector). */
	irq.delivery_mode = LAPIC_DM_STARTUP;
	irq.vector = 0x77;
	vlapic_accept_irq(&m.apic, &irq);
	vlapic_accept_init_sipi(&m.apic, &mp, &vec, 0);	/* dropped */
	ASSERT_EQ(vlapic_set_mp_state(&m.apic, &mp, KVM_MP_STATE_SIPI_RECEIVED), 0);
	ASSERT_EQ(mp, KVM_MP_STATE_INIT_RECEIVED);
	ASSERT_EQ(vlapic_accept_init_sipi(&m.apic, &mp, &vec, 0), LAPIC_DID_SIPI);
	ASSERT_EQ(vec, 0x77);
	ASSERT_EQ(mp, KVM_MP_STATE_RUNNABLE);
}

/* ---- The timer -------------------------------------------------------------- */

static void timer_setup(struct mock *m, u32 lvtt, u32 tdcr)
{
	setup(m, 0, true);
	m->apic.min_period_ns = 0;
	sw_enable(&m->apic);
	wr(&m->apic, LAPIC_LVTT, lvtt);
	wr(&m->apic, LAPIC_TDCR, tdcr);
}

TEST(timer_divide_configuration)
{
	static const struct { u32 tdcr, div; } t[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};
	struct mock m;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		timer_setup(&m, 0x30, t[i].tdcr);
		ASSERT_EQ(vlapic_write(&m.apic, LAPIC_TMICT, 1000, 100), 0);
		ASSERT_TRUE(m.armed);
		ASSERT_EQ(m.expiry, 100 + 1000ULL * t[i].div);
	}
}

TEST(timer_one_shot)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u32 v;

	timer_setup(&m, 0x30, 0x0);	/* divide by 2 */
	vlapic_write(a, LAPIC_TMICT, 1000, 1000);
	ASSERT_EQ(m.expiry, 3000);
	vlapic_read(a, LAPIC_TMCCT, &v, 1500);
	ASSERT_EQ(v, 750);
	ASSERT_FALSE(vlapic_timer_service(a, 2999));
	ASSERT_FALSE(irr(a, 0x30));
	ASSERT_TRUE(vlapic_timer_service(a, 3000));
	ASSERT_TRUE(irr(a, 0x30));
	ASSERT_FALSE(a->timer_armed);
	vlapic_read(a, LAPIC_TMCCT, &v, 3500);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(rd(a, LAPIC_TMICT), 1000);
	ASSERT_FALSE(vlapic_timer_service(a, 10000));

	/* Expired but not serviced: the counter reads zero. */
	vlapic_write(a, LAPIC_TMICT, 10, 20000);
	vlapic_read(a, LAPIC_TMCCT, &v, 30000);
	ASSERT_EQ(v, 0);
	/* A write of 0 stops it. */
	vlapic_write(a, LAPIC_TMICT, 0, 20000);
	ASSERT_FALSE(a->timer_armed);
	ASSERT_FALSE(m.armed);
}

TEST(timer_periodic)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u32 v;

	timer_setup(&m, LAPIC_TIMER_PERIODIC | 0x31, 0xb);	/* divide by 1 */
	vlapic_write(a, LAPIC_TMICT, 1000, 0);
	ASSERT_EQ(m.expiry, 1000);
	ASSERT_TRUE(vlapic_timer_service(a, 1000));
	ASSERT_TRUE(irr(a, 0x31));
	ASSERT_EQ(m.expiry, 2000);
	vlapic_read(a, LAPIC_TMCCT, &v, 1250);
	ASSERT_EQ(v, 750);
	/* Late: the counter kept reloading; missed ticks are dropped. */
	vlapic_read(a, LAPIC_TMCCT, &v, 5200);
	ASSERT_EQ(v, 800);
	ASSERT_TRUE(vlapic_timer_service(a, 5500));
	ASSERT_EQ(m.expiry, 6500);
	ASSERT_TRUE(a->timer_armed);

	/* Switching to one-shot: this countdown is the last. */
	wr(a, LAPIC_LVTT, 0x31);
	ASSERT_TRUE(vlapic_timer_service(a, 6500));
	ASSERT_FALSE(a->timer_armed);

	/* The shortest period is bounded. */
	timer_setup(&m, LAPIC_TIMER_PERIODIC | 0x31, 0xb);
	a->min_period_ns = 200000;
	vlapic_write(a, LAPIC_TMICT, 100, 0);
	ASSERT_EQ(m.expiry, 200000);
	vlapic_timer_service(a, 200000);
	ASSERT_EQ(m.expiry, 400000);
}

TEST(timer_masked_lvtt_counts_silently)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	timer_setup(&m, LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC | 0x32, 0xb);
	vlapic_write(a, LAPIC_TMICT, 1000, 0);
	ASSERT_TRUE(vlapic_timer_service(a, 1000));
	ASSERT_FALSE(irr(a, 0x32));
	ASSERT_EQ(m.expiry, 2000);
	/* Software disable masks it too, and it keeps counting. */
	wr(a, LAPIC_LVTT, LAPIC_TIMER_PERIODIC | 0x32);
	wr(a, LAPIC_SPIV, 0xff);
	ASSERT_TRUE(vlapic_timer_service(a, 2000));
	ASSERT_FALSE(irr(a, 0x32));
	ASSERT_TRUE(a->timer_armed);
}

TEST(timer_divide_change_rescales_the_remainder)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u32 v;

	timer_setup(&m, 0x30, 0x0);	/* divide by 2 */
	vlapic_write(a, LAPIC_TMICT, 1000, 0);
	ASSERT_EQ(m.expiry, 2000);
	/* At 1000 ns, 500 counts remain; at divide 4 they take 2000 ns. */
	vlapic_write(a, LAPIC_TDCR, 0x1, 1000);
	ASSERT_EQ(m.expiry, 3000);
	vlapic_read(a, LAPIC_TMCCT, &v, 1000);
	ASSERT_EQ(v, 500);
}

TEST(timer_tsc_deadline)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u32 v;

	setup(&m, 0, true);
	sw_enable(a);
	/* Without the CPUID bit, mode 2 cannot be selected. */
	wr(a, LAPIC_LVTT, LAPIC_TIMER_TSCDEADLINE | 0x33);
	ASSERT_EQ(rd(a, LAPIC_LVTT), 0x33);
	vlapic_set_tscdeadline(a, 100, 0, 0);
	ASSERT_EQ(vlapic_get_tscdeadline(a), 0);
	ASSERT_FALSE(a->timer_armed);

	a->tsc_deadline = true;
	a->tsc_khz = 2000000;			/* 2 GHz: 2 cycles per ns */
	wr(a, LAPIC_LVTT, LAPIC_TIMER_TSCDEADLINE | 0x33);
	vlapic_set_tscdeadline(a, 10000, 100, 2000);
	ASSERT_EQ(vlapic_get_tscdeadline(a), 10000);
	ASSERT_EQ(m.expiry, 100 + 4000);
	/* TMICT is ignored, TMCCT reads zero. */
	vlapic_write(a, LAPIC_TMICT, 5, 200);
	ASSERT_EQ(rd(a, LAPIC_TMICT), 0);
	vlapic_read(a, LAPIC_TMCCT, &v, 300);
	ASSERT_EQ(v, 0);
	ASSERT_FALSE(vlapic_timer_service(a, 4099));
	ASSERT_TRUE(vlapic_timer_service(a, 4100));
	ASSERT_TRUE(irr(a, 0x33));
	ASSERT_EQ(vlapic_get_tscdeadline(a), 0);

	/* A deadline already passed: no host timer, a kick, then it fires. */
	m.kicks = 0;
	m.armed = false;
	vlapic_set_tscdeadline(a, 1000, 5000, 9000);
	ASSERT_FALSE(m.armed);
	ASSERT_EQ(m.kicks, 1);
	ASSERT_TRUE(a->timer_armed);
	ASSERT_TRUE(vlapic_timer_service(a, 5000));
	ASSERT_EQ(vlapic_get_tscdeadline(a), 0);
	vlapic_set_tscdeadline(a, 1000, 5000, 9000);
	vlapic_set_tscdeadline(a, 0, 5000, 9000);
	ASSERT_FALSE(a->timer_armed);
	/* Far deadlines saturate instead of wrapping. */
	vlapic_set_tscdeadline(a, ~0ULL, 5000, 0);
	ASSERT_GT(m.expiry, 5000);

	/* Leaving TSC-deadline mode stops the timer and clears it. */
	vlapic_set_tscdeadline(a, 20000, 5000, 9000);
	wr(a, LAPIC_LVTT, 0x33);
	ASSERT_FALSE(a->timer_armed);
	ASSERT_FALSE(m.armed);
	ASSERT_EQ(vlapic_get_tscdeadline(a), 0);
	wr(a, LAPIC_LVTT, LAPIC_TIMER_TSCDEADLINE | 0x33);
	ASSERT_EQ(vlapic_get_tscdeadline(a), 0);
	/* Entering it stops a one-shot countdown and clears TMICT. */
	wr(a, LAPIC_LVTT, 0x33);
	vlapic_write(a, LAPIC_TMICT, 100, 0);
	wr(a, LAPIC_LVTT, LAPIC_TIMER_TSCDEADLINE | 0x33);
	ASSERT_FALSE(a->timer_armed);
	ASSERT_EQ(rd(a, LAPIC_TMICT), 0);
}

/* ---- ICR, x2APIC ------------------------------------------------------------ */

TEST(xapic_icr_sends_and_keeps_what_was_written)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0, true);
	wr(a, LAPIC_ICR2, 0xa5ffffff);
	/* Busy is cleared: the IPI is sent at once. */
	wr(a, LAPIC_ICR, 0xfffff7ff | LAPIC_SEND_PENDING);
	ASSERT_EQ(rd(a, LAPIC_ICR), 0xffffe7ff);
	ASSERT_EQ(rd(a, LAPIC_ICR2), 0xa5000000);
	ASSERT_EQ(m.ipis, 1);
	ASSERT_EQ(m.ipi.vector, 0xff);
	ASSERT_EQ(m.ipi.delivery_mode, 7);
	ASSERT_FALSE(m.ipi.logical);
	ASSERT_TRUE(m.ipi.level);
	ASSERT_TRUE(m.ipi.trig_level);
	ASSERT_EQ(m.ipi.shorthand, 3);
	ASSERT_EQ(m.ipi.dest_id, 0xa5);

	wr(a, LAPIC_ICR, LAPIC_DEST_LOGICAL | (LAPIC_DM_INIT << 8) | 0x12);
	ASSERT_EQ(m.ipis, 2);
	ASSERT_TRUE(m.ipi.logical);
	ASSERT_FALSE(m.ipi.level);
	ASSERT_EQ(m.ipi.delivery_mode, LAPIC_DM_INIT);
	ASSERT_EQ(m.ipi.shorthand, 0);
	/* ICR2 alone sends nothing. */
	wr(a, LAPIC_ICR2, 0);
	ASSERT_EQ(m.ipis, 2);
}

TEST(x2apic_mode)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;
	u64 v;

	setup(&m, 0x123, true);
	/* Not in x2APIC mode: every MSR faults. */
	ASSERT_EQ(vlapic_msr_read(a, 0x802, &v, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x808, 0, 0), 1);

	to_x2apic(a);
	ASSERT_EQ(vlapic_msr_read(a, 0x802, &v, 0), 0);
	ASSERT_EQ(v, 0x123);
	ASSERT_EQ(vlapic_msr_read(a, 0x80d, &v, 0), 0);	/* LDR */
	ASSERT_EQ(v, (0x12U << 16) | (1U << 3));
	ASSERT_EQ(vlapic_msr_read(a, 0x803, &v, 0), 0);
	ASSERT_EQ(v, 0x50014);
	/* No DFR, no ICR2, no APR; EOI and SELF IPI are write-only. */
	ASSERT_EQ(vlapic_msr_read(a, 0x80e, &v, 0), 1);
	ASSERT_EQ(vlapic_msr_read(a, 0x831, &v, 0), 1);
	ASSERT_EQ(vlapic_msr_read(a, 0x809, &v, 0), 1);
	ASSERT_EQ(vlapic_msr_read(a, 0x80b, &v, 0), 1);
	ASSERT_EQ(vlapic_msr_read(a, 0x83f, &v, 0), 1);
	/* ID, LDR, DFR and ICR2 are read-only or absent. */
	ASSERT_EQ(vlapic_msr_write(a, 0x802, 0, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x80d, 0, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x80e, 0, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x831, 0, 0), 1);
	/* ESR takes only 0; 32-bit registers refuse bits 63:32. */
	ASSERT_EQ(vlapic_msr_write(a, 0x828, 1, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x828, 0, 0), 0);
	ASSERT_EQ(vlapic_msr_write(a, 0x808, 1ULL << 32, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x808, 0x20, 0), 0);
	ASSERT_EQ(rd(a, LAPIC_TPR), 0x20);

	/* The ICR is one 64-bit register: 32-bit destination. */
	ASSERT_EQ(vlapic_msr_write(a, 0x830, 0x12345678ULL << 32 | 0x40c8 |
				   LAPIC_SEND_PENDING, 0), 0);
	ASSERT_EQ(m.ipis, 1);
	ASSERT_EQ(m.ipi.dest_id, 0x12345678);
	ASSERT_EQ(m.ipi.vector, 0xc8);
	ASSERT_EQ(vlapic_msr_read(a, 0x830, &v, 0), 0);
	ASSERT_EQ(v, 0x12345678ULL << 32 | 0x40c8);
	ASSERT_EQ(vlapic_reg(a, LAPIC_ICR2), 0x12345678);
	/* Reserved bits 31:20, 17:16, 13 fault. */
	ASSERT_EQ(vlapic_msr_write(a, 0x830, 1ULL << 20, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x830, 1ULL << 16, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x830, 1ULL << 13, 0), 1);
	ASSERT_EQ(m.ipis, 1);

	/* SELF IPI: a vector and nothing else. */
	ASSERT_EQ(vlapic_msr_write(a, 0x83f, 0x1ee, 0), 1);
	ASSERT_EQ(vlapic_msr_write(a, 0x83f, 0xee, 0), 0);
	ASSERT_EQ(m.ipis, 2);
	ASSERT_EQ(m.ipi.shorthand, LAPIC_SHORT_SELF);
	ASSERT_EQ(m.ipi.vector, 0xee);
	ASSERT_EQ(m.ipi.delivery_mode, LAPIC_DM_FIXED);
	/* xAPIC SELF IPI does not exist. */
	setup(&m, 0, true);
	ASSERT_EQ(vlapic_write(a, LAPIC_SELF_IPI, 0x40, 0), 1);

	/* Outside the range. */
	ASSERT_EQ(vlapic_msr_read(a, 0x900, &v, 0), 1);
}

TEST(apic_base_transitions)
{
	const u64 D = 0, X = LAPIC_BASE_EN, X2 = LAPIC_BASE_EN | LAPIC_BASE_EXTD;

	ASSERT_TRUE(vlapic_base_valid(X, X2, false));
	ASSERT_TRUE(vlapic_base_valid(X2, D, false));
	ASSERT_TRUE(vlapic_base_valid(D, X, false));
	ASSERT_TRUE(vlapic_base_valid(X, D, false));
	ASSERT_FALSE(vlapic_base_valid(X2, X, false));
	ASSERT_FALSE(vlapic_base_valid(D, X2, false));
	ASSERT_FALSE(vlapic_base_valid(X, LAPIC_BASE_EXTD, false));
	/* The host may jump, but not to EXTD without EN. */
	ASSERT_TRUE(vlapic_base_valid(X2, X, true));
	ASSERT_TRUE(vlapic_base_valid(D, X2, true));
	ASSERT_FALSE(vlapic_base_valid(X, LAPIC_BASE_EXTD, true));
}

TEST(x2apic_after_xapic_id_write_and_back)
{
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 5, false);
	wr(a, LAPIC_ID, 9U << 24);
	to_x2apic(a);
	ASSERT_EQ(rd(a, LAPIC_ID), 5);
	vlapic_set_base(a, 0);
	vlapic_set_base(a, LAPIC_DEFAULT_BASE | LAPIC_BASE_EN);
	ASSERT_EQ(rd(a, LAPIC_ID), 5U << 24);
}

/* ---- KVM_GET/SET_LAPIC ------------------------------------------------------ */

static u32 img(const struct kvm_lapic_state *s, u32 off)
{
	u32 v;

	memcpy(&v, s->regs + off, 4);
	return v;
}

static void img_set(struct kvm_lapic_state *s, u32 off, u32 v)
{
	memcpy(s->regs + off, &v, 4);
}

TEST(state_round_trip_and_timer_restore)
{
	struct kvm_lapic_irq irq = fixed(0x61, true);
	struct kvm_lapic_state s;
	struct mock m, n;
	struct kvm_lapic *a = &m.apic, *b = &n.apic;

	setup(&m, 4, false);
	a->min_period_ns = 0;
	sw_enable(a);
	wr(a, LAPIC_TPR, 0x20);
	vlapic_accept_irq(a, &irq);
	wr(a, LAPIC_LVTT, LAPIC_TIMER_PERIODIC | 0x35);
	wr(a, LAPIC_TDCR, 0xb);
	vlapic_write(a, LAPIC_TMICT, 1000, 0);
	vlapic_get_state(a, &s, false, 300);
	ASSERT_EQ(img(&s, LAPIC_ID), 4U << 24);
	ASSERT_EQ(img(&s, LAPIC_TMCCT), 700);
	ASSERT_EQ(img(&s, LAPIC_TMICT), 1000);
	ASSERT_EQ(img(&s, LAPIC_IRR + 0x30) & (1U << 1), 1U << 1);

	setup(&n, 4, false);
	b->min_period_ns = 0;
	img_set(&s, LAPIC_LVR, 0);	/* recomputed */
	img_set(&s, LAPIC_PPR, 0xff);	/* recomputed */
	ASSERT_EQ(vlapic_set_state(b, &s, false, 10000), 0);
	ASSERT_EQ(rd(b, LAPIC_LVR), 0x50014);
	ASSERT_EQ(rd(b, LAPIC_PPR), 0x20);
	ASSERT_EQ(rd(b, LAPIC_TPR), 0x20);
	ASSERT_TRUE(irr(b, 0x61));
	ASSERT_TRUE(tmr(b, 0x61));
	ASSERT_EQ(vlapic_pending_irq(b), 0x61);
	/* The countdown resumes with what was left, then runs periods. */
	ASSERT_TRUE(n.armed);
	ASSERT_EQ(n.expiry, 10000 + 700);
	ASSERT_EQ(vlapic_reg(b, LAPIC_TMCCT), 0);
	vlapic_timer_service(b, 10700);
	ASSERT_EQ(n.expiry, 11700);

	/* A one-shot with TMCCT 0 stays stopped. */
	img_set(&s, LAPIC_LVTT, 0x35);
	img_set(&s, LAPIC_TMCCT, 0);
	ASSERT_EQ(vlapic_set_state(b, &s, false, 0), 0);
	ASSERT_FALSE(b->timer_armed);
	/* TMCCT above TMICT: the whole period. */
	img_set(&s, LAPIC_TMCCT, 5000);
	ASSERT_EQ(vlapic_set_state(b, &s, false, 0), 0);
	ASSERT_EQ(n.expiry, 1000);
}

TEST(state_x2apic_id_formats)
{
	struct kvm_lapic_state s;
	struct mock m;
	struct kvm_lapic *a = &m.apic;

	setup(&m, 0x1234, false);
	to_x2apic(a);
	/* Without KVM_X2APIC_API_USE_32BIT_IDS the ID is shifted as in xAPIC. */
	vlapic_get_state(a, &s, false, 0);
	ASSERT_EQ(img(&s, LAPIC_ID), 0x1234U << 24);
	vlapic_get_state(a, &s, true, 0);
	ASSERT_EQ(img(&s, LAPIC_ID), 0x1234);
	ASSERT_EQ(img(&s, LAPIC_LDR), vlapic_x2apic_ldr(0x1234));

	/* With it, only the vCPU's own ID is accepted. */
	img_set(&s, LAPIC_ID, 0x1235);
	ASSERT_EQ(vlapic_set_state(a, &s, true, 0), -EINVAL);
	img_set(&s, LAPIC_ID, 0x1234);
	img_set(&s, LAPIC_LDR, 0);	/* recomputed from the ID */
	ASSERT_EQ(vlapic_set_state(a, &s, true, 0), 0);
	ASSERT_EQ(rd(a, LAPIC_LDR), vlapic_x2apic_ldr(0x1234));
	img_set(&s, LAPIC_ID, 0x34U << 24);
	ASSERT_EQ(vlapic_set_state(a, &s, false, 0), 0);
	ASSERT_EQ(rd(a, LAPIC_ID), 0x34);

	/* The x2APIC ICR: ICR holds the low half, ICR2 the high half. */
	setup(&m, 1, false);
	to_x2apic(a);
	vlapic_msr_write(a, 0x830, 0xabcdef01ULL << 32 | 0x4030, 0);
	vlapic_get_state(a, &s, true, 0);
	ASSERT_EQ(img(&s, LAPIC_ICR), 0x4030);
	ASSERT_EQ(img(&s, LAPIC_ICR2), 0xabcdef01);
}

/* ---- Delivery (irq.c) ------------------------------------------------------- */

#define NR 4
static struct mock cpus[NR];

static struct kvm_lapic *arr_next(void *ctx, unsigned long *pos)
{
	(void)ctx;
	if (*pos >= NR)
		return NULL;
	return &cpus[(*pos)++].apic;
}

static struct kvm_apic_set set = { .next = arr_next, .bcast_quirk = true };

static void cpus_setup(void)
{
	int i;

	for (i = 0; i < NR; i++) {
		setup(&cpus[i], i, i == 0);
		sw_enable(&cpus[i].apic);
	}
}

/* Deliver @irq and return the mask of the CPUs that got its vector. */
static unsigned int got(struct kvm_lapic_irq irq, struct kvm_lapic *src,
			int *r)
{
	unsigned int mask = 0;
	int i;

	for (i = 0; i < NR; i++)
		memset(&cpus[i].apic.regs[LAPIC_IRR >> 2], 0, 0x80);
	*r = vlapic_deliver(&set, src, &irq);
	for (i = 0; i < NR; i++)
		if (irr(&cpus[i].apic, irq.vector))
			mask |= 1U << i;
	return mask;
}

TEST(physical_destinations)
{
	struct kvm_lapic_irq irq = fixed(0x40, false);
	int r;

	cpus_setup();
	irq.dest_id = 2;
	ASSERT_EQ(got(irq, NULL, &r), 1U << 2);
	ASSERT_EQ(r, 1);
	irq.dest_id = 9;
	ASSERT_EQ(got(irq, NULL, &r), 0);
	ASSERT_EQ(r, -1);
	irq.dest_id = 0xff;
	ASSERT_EQ(got(irq, NULL, &r), 0xf);
	ASSERT_EQ(r, 4);
	/* A rewritten xAPIC ID is what counts. */
	wr(&cpus[3].apic, LAPIC_ID, 0x20U << 24);
	irq.dest_id = 0x20;
	ASSERT_EQ(got(irq, NULL, &r), 1U << 3);
	irq.dest_id = 3;
	ASSERT_EQ(got(irq, NULL, &r), 0);
	/* Software-disabled: matched but refused (status 0). */
	cpus_setup();
	irq.dest_id = 1;
	wr(&cpus[1].apic, LAPIC_SPIV, 0xff);
	ASSERT_EQ(vlapic_deliver(&set, NULL, &irq), 0);
	/* Hardware-disabled: never matches. */
	vlapic_set_base(&cpus[1].apic, 0);
	ASSERT_EQ(vlapic_deliver(&set, NULL, &irq), -1);
}

TEST(logical_flat_and_cluster)
{
	struct kvm_lapic_irq irq = fixed(0x41, false);
	int r, i;

	cpus_setup();
	irq.logical = true;
	for (i = 0; i < NR; i++)
		wr(&cpus[i].apic, LAPIC_LDR, (1U << i) << 24);
	irq.dest_id = 0x05;
	ASSERT_EQ(got(irq, NULL, &r), 0x5);
	ASSERT_EQ(r, 2);
	irq.dest_id = 0x00;
	ASSERT_EQ(got(irq, NULL, &r), 0);

	/* Cluster model: cluster in 7:4, members in 3:0. */
	for (i = 0; i < NR; i++) {
		wr(&cpus[i].apic, LAPIC_DFR, LAPIC_DFR_CLUSTER);
		wr(&cpus[i].apic, LAPIC_LDR,
		   ((i < 2 ? 0x10 : 0x20) | (1U << (i & 1))) << 24);
	}
	irq.dest_id = 0x23;
	ASSERT_EQ(got(irq, NULL, &r), 0xc);
	irq.dest_id = 0x11;
	ASSERT_EQ(got(irq, NULL, &r), 0x1);
	irq.dest_id = 0x33;
	ASSERT_EQ(got(irq, NULL, &r), 0);
	/* Logical broadcast. */
	irq.dest_id = 0xff;
	ASSERT_EQ(got(irq, NULL, &r), 0xf);
}

TEST(x2apic_destinations_and_broadcast_quirk)
{
	struct kvm_lapic_irq irq = fixed(0x42, false);
	int r, i;

	cpus_setup();
	for (i = 0; i < NR; i++)
		to_x2apic(&cpus[i].apic);
	irq.dest_id = 3;
	ASSERT_EQ(got(irq, NULL, &r), 1U << 3);
	irq.dest_id = 0xffffffff;
	ASSERT_EQ(got(irq, NULL, &r), 0xf);
	/* Cluster 0, members 0 and 2 (x2APIC IDs 0-15 are cluster 0). */
	irq.logical = true;
	irq.dest_id = 0x5;
	ASSERT_EQ(got(irq, NULL, &r), 0x5);
	irq.dest_id = 0x10005;
	ASSERT_EQ(got(irq, NULL, &r), 0);
	irq.logical = false;

	/* 0xff from an IOAPIC/MSI reaches every x2APIC (the quirk)... */
	irq.dest_id = 0xff;
	ASSERT_EQ(got(irq, NULL, &r), 0xf);
	/* ...not from an IPI, nor with the quirk disabled. */
	ASSERT_EQ(got(irq, &cpus[0].apic, &r), 0);
	set.bcast_quirk = false;
	ASSERT_EQ(got(irq, NULL, &r), 0);
	set.bcast_quirk = true;
}

TEST(xapic_target_of_a_wide_destination_is_its_vcpu_id)
{
	struct kvm_lapic_irq irq = fixed(0x43, false);
	struct mock big;

	setup(&big, 0x300, false);
	sw_enable(&big.apic);
	irq.dest_id = 0x300;
	ASSERT_TRUE(vlapic_match_dest(&big.apic, NULL, &irq, true));
	irq.dest_id = 0x00;
	ASSERT_TRUE(vlapic_match_dest(&big.apic, NULL, &irq, true));
	irq.dest_id = 0x01;
	ASSERT_FALSE(vlapic_match_dest(&big.apic, NULL, &irq, true));
}

TEST(shorthands)
{
	struct kvm_lapic_irq irq = fixed(0x44, false);
	int r;

	cpus_setup();
	irq.dest_id = 0;	/* ignored with a shorthand */
	irq.shorthand = LAPIC_SHORT_SELF;
	ASSERT_EQ(got(irq, &cpus[2].apic, &r), 1U << 2);
	ASSERT_EQ(got(irq, NULL, &r), 0);
	irq.shorthand = LAPIC_SHORT_ALL;
	ASSERT_EQ(got(irq, &cpus[2].apic, &r), 0xf);
	irq.shorthand = LAPIC_SHORT_OTHERS;
	ASSERT_EQ(got(irq, &cpus[2].apic, &r), 0xb);
	ASSERT_EQ(r, 3);
}

TEST(lowest_priority_by_vector_hashing)
{
	struct kvm_lapic_irq irq = fixed(0x40, false);
	int r, i;

	cpus_setup();
	irq.delivery_mode = LAPIC_DM_LOWEST;
	irq.logical = true;
	for (i = 0; i < NR; i++)
		wr(&cpus[i].apic, LAPIC_LDR, (1U << i) << 24);
	/* Candidates 1, 2, 3: vector 0x40 % 3 = 1 -> the second, CPU 2. */
	irq.dest_id = 0xe;
	ASSERT_EQ(got(irq, NULL, &r), 1U << 2);
	ASSERT_EQ(r, 1);
	irq.vector = 0x42;	/* 0x42 % 3 = 0 -> CPU 1 */
	ASSERT_EQ(got(irq, NULL, &r), 1U << 1);
	/* Software-disabled APICs are not candidates. */
	got(irq, NULL, &r);
	wr(&cpus[1].apic, LAPIC_SPIV, 0xff);
	memset(&cpus[2].apic.regs[LAPIC_IRR >> 2], 0, 0x80);
	ASSERT_EQ(vlapic_deliver(&set, NULL, &irq), 1);
	/* 0x42 % 2 = 0 -> CPU 2, the first of 2 and 3 */
	ASSERT_TRUE(irr(&cpus[2].apic, 0x42));
	/* No candidate at all. */
	for (i = 0; i < NR; i++)
		wr(&cpus[i].apic, LAPIC_SPIV, 0xff);
	ASSERT_EQ(vlapic_deliver(&set, NULL, &irq), -1);
	/* The MSI redirection hint means lowest priority too. */
	cpus_setup();
	for (i = 0; i < NR; i++)
		wr(&cpus[i].apic, LAPIC_LDR, (1U << i) << 24);
	irq = fixed(0x41, false);
	irq.logical = true;
	irq.redir_hint = true;
	irq.dest_id = 0xf;	/* 0x41 % 4 = 1 -> CPU 1 */
	ASSERT_EQ(got(irq, NULL, &r), 1U << 1);
}

TEST(ipi_kinds_to_missing_destinations_are_harmless)
{
	struct kvm_lapic_irq irq = { .vector = 0xff, .level = true };
	int dm;

	cpus_setup();
	irq.dest_id = 0x80;
	for (dm = 0; dm < 8; dm++) {
		irq.delivery_mode = dm;
		ASSERT_EQ(vlapic_deliver(&set, &cpus[0].apic, &irq), -1);
	}
	for (dm = 0; dm < 4; dm++)
		ASSERT_FALSE(vlapic_events_pending(&cpus[dm].apic));
}

TEST(msi_decode)
{
	struct kvm_lapic_irq irq;

	ASSERT_TRUE(kvm_msi_decode(0xfee0300c, 0, 0xc441, false, &irq));
	ASSERT_EQ(irq.dest_id, 3);
	ASSERT_TRUE(irq.logical);
	ASSERT_TRUE(irq.redir_hint);
	ASSERT_EQ(irq.vector, 0x41);
	ASSERT_EQ(irq.delivery_mode, LAPIC_DM_NMI);
	ASSERT_TRUE(irq.trig_level);
	ASSERT_TRUE(irq.level);
	ASSERT_EQ(irq.shorthand, LAPIC_SHORT_NONE);
	/* 32-bit destinations come from address_hi with the x2APIC API. */
	ASSERT_TRUE(kvm_msi_decode(0xfee12000, 0x345600, 0x30, true, &irq));
	ASSERT_EQ(irq.dest_id, 0x345612);
	ASSERT_FALSE(irq.logical);
	ASSERT_FALSE(irq.trig_level);
	ASSERT_TRUE(kvm_msi_decode(0xfee12000, 0x345600, 0x30, false, &irq));
	ASSERT_EQ(irq.dest_id, 0x12);
	/* Reserved low byte of address_hi in the 32-bit format. */
	ASSERT_FALSE(kvm_msi_decode(0xfee12000, 0x345601, 0x30, true, &irq));
	ASSERT_TRUE(kvm_msi_decode(0xfee12000, 0x01, 0x30, false, &irq));
}

TEST_HARNESS_MAIN
