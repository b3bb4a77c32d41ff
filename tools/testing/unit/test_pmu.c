// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for IA32_MISC_ENABLE.EMON (arch/x86/kvm/pmu.h): set with a
 * PMU, clear without, guest writes ignored, read-only PMU bits fault.
 */
#include "../nkvm/harness.h"
#include "pmu.h"

#define RO (NKVM_MISC_ENABLE_BTS_UNAVAIL | NKVM_MISC_ENABLE_PEBS_UNAVAIL)

TEST(emon_follows_the_model)
{
	ASSERT_EQ(kvm_misc_enable_model(0, true), NKVM_MISC_ENABLE_EMON);
	ASSERT_EQ(kvm_misc_enable_model(NKVM_MISC_ENABLE_EMON, false), 0);
	ASSERT_EQ(kvm_misc_enable_model(RO, true), RO | NKVM_MISC_ENABLE_EMON);
	ASSERT_EQ(kvm_misc_enable_model(RO | NKVM_MISC_ENABLE_EMON, false), RO);
}

TEST(guest_writes_to_emon_are_ignored)
{
	u64 res;

	/* Clearing EMON: kept set, no fault. */
	ASSERT_TRUE(kvm_misc_enable_write(RO | NKVM_MISC_ENABLE_EMON, RO, false, &res));
	ASSERT_EQ(res, RO | NKVM_MISC_ENABLE_EMON);
	/* Setting EMON without a PMU: kept clear, no fault. */
	ASSERT_TRUE(kvm_misc_enable_write(RO, RO | NKVM_MISC_ENABLE_EMON, false, &res));
	ASSERT_EQ(res, RO);
	/* Other bits still change. */
	ASSERT_TRUE(kvm_misc_enable_write(RO, RO | (1ULL << 18), false, &res));
	ASSERT_EQ(res, RO | (1ULL << 18));
}

TEST(guest_changing_read_only_pmu_bits_faults)
{
	u64 res = 0xdead;

	ASSERT_FALSE(kvm_misc_enable_write(RO, 0, false, &res));
	ASSERT_FALSE(kvm_misc_enable_write(0, NKVM_MISC_ENABLE_BTS_UNAVAIL, false, &res));
	ASSERT_EQ(res, 0xdead);
}

TEST(userspace_writes_anything)
{
	u64 res;

	ASSERT_TRUE(kvm_misc_enable_write(RO, NKVM_MISC_ENABLE_EMON, true, &res));
	ASSERT_EQ(res, NKVM_MISC_ENABLE_EMON);
	ASSERT_TRUE(kvm_misc_enable_write(NKVM_MISC_ENABLE_EMON, 0, true, &res));
	ASSERT_EQ(res, 0);
}

TEST_HARNESS_MAIN
