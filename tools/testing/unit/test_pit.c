// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the 8254 PIT model (arch/x86/kvm/i8254.c) with mocked
 * time: every mode's count and OUT, access modes, counter latch and
 * read-back, the gate and port 0x61, channel 0's timer, HPET legacy mode
 * and the KVM_GET/SET_PIT2 image.
 */
#include "../nkvm/harness.h"
#include "i8254.h"

static struct kvm_pit pit;
static int arms, cancels;
static u64 expiry, period;

static void m_arm(struct kvm_pit *p, u64 e, u64 per)
{
	arms++;
	expiry = e;
	period = per;
}

static void m_cancel(struct kvm_pit *p)
{
	cancels++;
}

static const struct kvm_pit_ops ops = {
	.timer_arm = m_arm, .timer_cancel = m_cancel,
};

static void setup(void)
{
	vpit_init(&pit, &ops, NULL);
	pit.min_period_ns = 0;
	arms = cancels = 0;
	vpit_reset(&pit, 0);
}

/* A time at which exactly @ticks input clocks have passed since @base. */
static u64 at(u64 base, u64 ticks)
{
	return base + (ticks * 1000000000ULL + VPIT_FREQ_HZ - 1) / VPIT_FREQ_HZ;
}

static u64 ns_of(u64 ticks)
{
	return ticks * 1000000000ULL / VPIT_FREQ_HZ;
}

/* Program channel @ch: mode @mode, LSB then MSB, count @count, at @now. */
static void program(int ch, int mode, u16 count, u64 now)
{
	vpit_write(&pit, 0x43, (ch << 6) | (3 << 4) | (mode << 1), now);
	vpit_write(&pit, 0x40 + ch, count & 0xff, now);
	vpit_write(&pit, 0x40 + ch, count >> 8, now);
}

static u16 read16(int ch, u64 now)
{
	u16 lo = vpit_read(&pit, 0x40 + ch, now);

	return lo | vpit_read(&pit, 0x40 + ch, now) << 8;
}

TEST(reset_values)
{
	struct kvm_pit_state2 s;
	int i;

	setup();
	ASSERT_EQ(arms, 0);
	ASSERT_GE(cancels, 1);
	vpit_get_state(&pit, &s);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(s.channels[i].mode, 0xff);
		ASSERT_EQ(s.channels[i].count, 0x10000);
		ASSERT_EQ(s.channels[i].gate, i != 2);
	}
	ASSERT_EQ(s.flags, 0);
}

TEST(rate_generator_on_channel_0)
{
	u64 t0 = 1000;

	setup();
	program(0, 2, 1000, t0);
	ASSERT_EQ(arms, 1);
	ASSERT_EQ(expiry, t0 + ns_of(1000));
	ASSERT_EQ(period, ns_of(1000));
	ASSERT_EQ(vpit_count(&pit, 0, at(t0, 250)), 750);
	ASSERT_EQ(vpit_count(&pit, 0, at(t0, 1250)), 750);
	ASSERT_FALSE(vpit_out(&pit, 0, at(t0, 999)));
	ASSERT_TRUE(vpit_out(&pit, 0, at(t0, 1000)));
	ASSERT_FALSE(vpit_out(&pit, 0, at(t0, 1001)));
	/* Read as LSB then MSB. */
	ASSERT_EQ(read16(0, at(t0, 100)), 900);
	/* Modes 6 and 7 are 2 and 3. */
	vpit_write(&pit, 0x43, 0x3c, t0);
	ASSERT_EQ(pit.chan[0].mode, 2);
	vpit_write(&pit, 0x43, 0x3e, t0);
	ASSERT_EQ(pit.chan[0].mode, 3);
}

TEST(one_shot_modes)
{
	u64 t0 = 5000;

	setup();
	program(0, 0, 100, t0);
	ASSERT_EQ(expiry, t0 + ns_of(100));
	ASSERT_EQ(period, 0);
	ASSERT_FALSE(vpit_out(&pit, 0, at(t0, 99)));
	ASSERT_TRUE(vpit_out(&pit, 0, at(t0, 100)));
	ASSERT_TRUE(vpit_out(&pit, 0, at(t0, 5000)));
	/* The counter wraps through zero and goes on. */
	ASSERT_EQ(vpit_count(&pit, 0, at(t0, 100)), 0);
	ASSERT_EQ(vpit_count(&pit, 0, at(t0, 101)), 0xffff);

	/* Mode 1, as Linux (and QEMU) compute it: high until the end. */
	program(1, 1, 100, t0);
	ASSERT_TRUE(vpit_out(&pit, 1, at(t0, 50)));
	ASSERT_FALSE(vpit_out(&pit, 1, at(t0, 100)));
	/* Mode 4: one low strobe... as Linux, high only at zero. */
	program(1, 4, 100, t0);
	ASSERT_FALSE(vpit_out(&pit, 1, at(t0, 99)));
	ASSERT_TRUE(vpit_out(&pit, 1, at(t0, 100)));
	ASSERT_FALSE(vpit_out(&pit, 1, at(t0, 101)));
	/* Mode 4 on channel 0 arms a one-shot; mode 5 arms nothing. */
	arms = 0;
	program(0, 4, 100, t0);
	ASSERT_EQ(arms, 1);
	ASSERT_EQ(period, 0);
	cancels = 0;
	program(0, 5, 100, t0);
	ASSERT_EQ(arms, 1);
	ASSERT_EQ(cancels, 1);
}

TEST(square_wave)
{
	u64 t0 = 0;

	setup();
	program(2, 3, 1000, t0);
	ASSERT_EQ(arms, 0);	/* only channel 0 has a timer */
	ASSERT_EQ(vpit_count(&pit, 2, at(t0, 100)), 800);
	ASSERT_TRUE(vpit_out(&pit, 2, at(t0, 499)));
	ASSERT_FALSE(vpit_out(&pit, 2, at(t0, 500)));
	ASSERT_TRUE(vpit_out(&pit, 2, at(t0, 1000)));
	/* Odd count: high one tick longer. */
	program(2, 3, 5, t0);
	ASSERT_TRUE(vpit_out(&pit, 2, at(t0, 2)));
	ASSERT_FALSE(vpit_out(&pit, 2, at(t0, 3)));
}

TEST(access_modes)
{
	setup();
	/* LSB only. */
	vpit_write(&pit, 0x43, 0x10, 0);
	vpit_write(&pit, 0x40, 0x40, 0);
	ASSERT_EQ(pit.chan[0].count, 0x40);
	ASSERT_EQ(vpit_read(&pit, 0x40, 0), 0x40);
	ASSERT_EQ(vpit_read(&pit, 0x40, 0), 0x40);
	/* MSB only. */
	vpit_write(&pit, 0x43, 0x20, 0);
	vpit_write(&pit, 0x40, 0x12, 0);
	ASSERT_EQ(pit.chan[0].count, 0x1200);
	ASSERT_EQ(vpit_read(&pit, 0x40, 0), 0x12);
	/* A count of 0 is 65536. */
	program(1, 2, 0, 0);
	ASSERT_EQ(pit.chan[1].count, 0x10000);
	ASSERT_EQ(read16(1, at(0, 1)), 0xffff);
	/* Word access alternates LSB and MSB, and a count write too. */
	program(1, 0, 0x1234, 0);
	ASSERT_EQ(vpit_read(&pit, 0x41, 0), 0x34);
	ASSERT_EQ(vpit_read(&pit, 0x41, 0), 0x12);
	ASSERT_EQ(vpit_read(&pit, 0x41, 0), 0x34);
	vpit_write(&pit, 0x41, 0x78, 0);
	ASSERT_EQ(pit.chan[1].count, 0x1234);	/* half written */
	vpit_write(&pit, 0x41, 0x56, 0);
	ASSERT_EQ(pit.chan[1].count, 0x5678);
	/* The control word cannot be read. */
	ASSERT_EQ(vpit_read(&pit, 0x43, 0), 0);
	/* The BCD bit is kept. */
	vpit_write(&pit, 0x43, 0x71, 0);
	ASSERT_EQ(pit.chan[1].bcd, 1);
}

TEST(counter_latch)
{
	u64 t0 = 0;

	setup();
	program(0, 2, 1000, t0);
	vpit_write(&pit, 0x43, 0x00, at(t0, 100));	/* latch channel 0 */
	/* A second latch before reading changes nothing. */
	vpit_write(&pit, 0x43, 0x00, at(t0, 200));
	ASSERT_EQ(vpit_read(&pit, 0x40, at(t0, 300)), 900 & 0xff);
	ASSERT_EQ(vpit_read(&pit, 0x40, at(t0, 400)), 900 >> 8);
	/* Read out: live again. */
	ASSERT_EQ(read16(0, at(t0, 500)), 500);
	/* LSB-only channels latch a one-byte read. */
	vpit_write(&pit, 0x43, 0x50, t0);
	vpit_write(&pit, 0x41, 200, t0);
	vpit_write(&pit, 0x43, 0x40, at(t0, 50));
	ASSERT_EQ(vpit_read(&pit, 0x41, at(t0, 60)), 150);
	ASSERT_EQ(vpit_read(&pit, 0x41, at(t0, 60)), 140);
}

TEST(read_back)
{
	u64 t0 = 0;
	u8 st;

	setup();
	program(0, 3, 1000, t0);
	program(2, 0, 100, t0);
	/* Latch count and status of channels 0 and 2. */
	vpit_write(&pit, 0x43, 0xc0 | (1 << 1) | (1 << 3), at(t0, 200));
	st = vpit_read(&pit, 0x40, at(t0, 900));
	ASSERT_EQ(st, 0x80 | (3 << 4) | (3 << 1));	/* OUT high */
	ASSERT_EQ(read16(0, at(t0, 900)), 600);
	st = vpit_read(&pit, 0x42, at(t0, 900));
	ASSERT_EQ(st, 0x80 | (3 << 4) | (0 << 1));	/* counted out at 100 */
	ASSERT_EQ(read16(2, at(t0, 900)), (u16)(100 - 200));	/* latched */
	/* Status only (bit 5 set): the count stays live. */
	vpit_write(&pit, 0x43, 0xe0 | (1 << 3), at(t0, 150));
	st = vpit_read(&pit, 0x42, at(t0, 160));
	ASSERT_EQ(st, 0x80 | (3 << 4));
	ASSERT_EQ(read16(2, at(t0, 160)), (u16)(100 - 160));
	/* Count only (bit 4 set). */
	vpit_write(&pit, 0x43, 0xd0 | (1 << 1), at(t0, 10));
	ASSERT_EQ(read16(0, at(t0, 300)), 980);
}

TEST(speaker_port_and_gate)
{
	u64 t0 = 0;
	u8 v;

	setup();
	program(2, 2, 1000, t0);
	ASSERT_EQ(vpit_read(&pit, 0x61, 0) & 3, 0);
	/* Gate on, data on; the rising edge restarts the count. */
	vpit_write(&pit, 0x61, 3, at(t0, 400));
	ASSERT_EQ(pit.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON,
		  KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	ASSERT_EQ(vpit_count(&pit, 2, at(at(t0, 400), 100)), 900);
	/* Bit 5 is OUT of channel 2. */
	v = vpit_read(&pit, 0x61, at(at(t0, 400), 1000));
	ASSERT_EQ(v & 0x23, 0x23);
	/* Gate held: no restart. */
	vpit_write(&pit, 0x61, 1, at(t0, 600));
	ASSERT_EQ(vpit_count(&pit, 2, at(at(t0, 400), 300)), 700);
	/* Bit 4 toggles every 2^14 ns. */
	ASSERT_EQ(vpit_read(&pit, 0x61, 0) & 0x10, 0);
	ASSERT_EQ(vpit_read(&pit, 0x61, 1 << 14) & 0x10, 0x10);
	ASSERT_EQ(vpit_read(&pit, 0x61, 2 << 14) & 0x10, 0);
	/* Mode 0 ignores the gate edge (as on Linux). */
	program(2, 0, 1000, t0);
	vpit_write(&pit, 0x61, 0, at(t0, 100));
	vpit_write(&pit, 0x61, 1, at(t0, 200));
	ASSERT_EQ(vpit_count(&pit, 2, at(t0, 300)), 700);
}

TEST(short_periods_are_bounded)
{
	setup();
	pit.min_period_ns = 200000;
	program(0, 2, 2, 100);
	ASSERT_EQ(expiry, 100 + ns_of(2));
	ASSERT_EQ(period, 200000);
}

TEST(hpet_legacy_stops_the_timer)
{
	struct kvm_pit_state2 s;

	setup();
	program(0, 2, 1000, 0);
	vpit_get_state(&pit, &s);
	s.flags |= KVM_PIT_FLAGS_HPET_LEGACY;
	arms = cancels = 0;
	vpit_set_state(&pit, &s, 10);
	ASSERT_EQ(arms, 0);
	ASSERT_EQ(cancels, 1);
	program(0, 2, 1000, 20);
	ASSERT_EQ(arms, 0);
	/* Back to the PIT. */
	s.flags = 0;
	vpit_set_state(&pit, &s, 30);
	ASSERT_EQ(arms, 1);
	ASSERT_EQ(expiry, 30 + ns_of(1000));
}

TEST(state_image)
{
	struct kvm_pit_state2 s;

	setup();
	program(0, 2, 1000, 0);
	program(1, 0, 0x1234, 0);
	vpit_write(&pit, 0x41, 0x78, 0);	/* half a count */
	vpit_write(&pit, 0x43, 0x40, 0);	/* latched */
	vpit_write(&pit, 0x61, 2, 0);
	vpit_get_state(&pit, &s);
	ASSERT_EQ(s.channels[0].count, 1000);
	ASSERT_EQ(s.channels[0].mode, 2);
	ASSERT_EQ(s.channels[0].rw_mode, 3);
	ASSERT_EQ(s.channels[1].write_state, 4);
	ASSERT_EQ(s.channels[1].write_latch, 0x78);
	ASSERT_EQ(s.channels[1].count_latched, 3);
	ASSERT_EQ(s.channels[1].latched_count, 0x1234);
	ASSERT_EQ(s.flags, KVM_PIT_FLAGS_SPEAKER_DATA_ON);

	/* Loading restarts every count now, and channel 0's timer. */
	setup();
	arms = 0;
	vpit_set_state(&pit, &s, 7000);
	ASSERT_EQ(arms, 1);
	ASSERT_EQ(expiry, 7000 + ns_of(1000));
	ASSERT_EQ(vpit_count(&pit, 0, at(7000, 10)), 990);
	ASSERT_EQ(vpit_read(&pit, 0x41, 7000), 0x34);
	ASSERT_EQ(vpit_read(&pit, 0x41, 7000), 0x12);
	vpit_write(&pit, 0x41, 0x56, 7000);
	ASSERT_EQ(pit.chan[1].count, 0x5678);
	/* Garbage does not crash it. */
	memset(&s, 0xff, sizeof(s));
	vpit_set_state(&pit, &s, 0);
	vpit_count(&pit, 0, 1000000);
	vpit_out(&pit, 1, 1000000);
	vpit_read(&pit, 0x40, 1000000);
	vpit_read(&pit, 0x61, 1000000);
}

TEST(long_uptime_does_not_overflow)
{
	u64 t0 = 400000ULL * 1000000000ULL;	/* ~4.6 days */

	setup();
	program(2, 2, 1000, 0);
	/* 1193182 ticks per second: a multiple of nothing convenient. */
	ASSERT_EQ(vpit_count(&pit, 2, t0), 1000 - (400000ULL * VPIT_FREQ_HZ) % 1000);
}

TEST_HARNESS_MAIN
