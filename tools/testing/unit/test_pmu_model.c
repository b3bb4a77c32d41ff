// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the guest PMU's registers (arch/x86/kvm/pmu_model.h):
 * which MSR is which counter on AMD and Intel, reserved bits, the GLOBAL
 * MSRs, when a counter counts and what perf is asked for, counter values
 * from a mocked perf count, periods, RDPMC.
 */
#include "../nkvm/harness.h"
#include "pmu_model.h"

#define W48 0xffffffffffffULL
#define SEL_FLAGS (NKVM_EVTSEL_EN | NKVM_EVTSEL_OS | NKVM_EVTSEL_USR | NKVM_EVTSEL_INT)

/* The mocked perf counts, by pmc. */
static u64 mock[64];

static u64 mock_read(void *ctx, unsigned int pmc)
{
	(void)ctx;
	return mock[pmc];
}

static const struct nkvm_pmu_counts counts = { .read = mock_read };

static void amd(struct nkvm_pmu_model *m, bool core, bool enabled)
{
	struct nkvm_pmu_shape s = {
		.enabled = enabled,
		.nr_gp = core ? NKVM_PMU_AMD_GP_CORE : NKVM_PMU_AMD_GP,
	};

	memset(mock, 0, sizeof(mock));
	nkvm_pmu_model_init(m, &s);
}

static void intel(struct nkvm_pmu_model *m, int version, bool fw_writes)
{
	struct nkvm_pmu_shape s = {
		.intel = true, .enabled = true, .version = version,
		.nr_gp = 4, .nr_fixed = 3, .gp_width = 48, .fixed_width = 48,
		.fw_writes = fw_writes,
	};

	memset(mock, 0, sizeof(mock));
	nkvm_pmu_model_init(m, &s);
}

/* Guest (or with @host, userspace) MSR accesses through the model. */
static int wr(struct nkvm_pmu_model *m, u32 msr, u64 data, bool host,
	      u64 *dirty)
{
	struct nkvm_pmu_reg r;
	u64 ignored = 0;

	if (!nkvm_pmu_decode_msr(m, msr, &r))
		return -ENOENT;
	return nkvm_pmu_set(m, &r, data, host, &counts, dirty ? dirty : &ignored);
}

static int rd(struct nkvm_pmu_model *m, u32 msr, u64 *data)
{
	struct nkvm_pmu_reg r;

	if (!nkvm_pmu_decode_msr(m, msr, &r))
		return -ENOENT;
	*data = nkvm_pmu_get(m, &r, &counts);
	return 0;
}

TEST(amd_legacy_and_core_msrs_are_the_same_counters)
{
	struct nkvm_pmu_model m;
	u64 v;
	int i;

	amd(&m, true, true);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(wr(&m, NKVM_MSR_K7_EVNTSEL0 + i, 0x4300c0 + i, false, NULL), 0);
		ASSERT_EQ(rd(&m, NKVM_MSR_F15H_PERF_CTL0 + 2 * i, &v), 0);
		ASSERT_EQ(v, 0x4300c0 + i);
		ASSERT_EQ(wr(&m, NKVM_MSR_F15H_PERF_CTL0 + 2 * i + 1, 1000 + i, false, NULL), 0);
		ASSERT_EQ(rd(&m, NKVM_MSR_K7_PERFCTR0 + i, &v), 0);
		ASSERT_EQ(v, 1000 + i);
	}
	/* Counters 4 and 5 only through the PerfCtrExtCore MSRs. */
	ASSERT_EQ(wr(&m, 0xc0010209, 77, false, NULL), 0);
	ASSERT_EQ(rd(&m, 0xc0010209, &v), 0);
	ASSERT_EQ(v, 77);
	ASSERT_EQ(rd(&m, 0xc001020c, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_EVNTSEL0 + 4, &v), 0);	/* that is PERFCTR0 */
	ASSERT_EQ(v, 1000);
	/* No Intel MSRs on AMD. */
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_CTRL, &v), -ENOENT);
}

TEST(amd_without_perfctr_core_has_only_the_legacy_msrs)
{
	struct nkvm_pmu_model m;
	u64 v;

	amd(&m, false, true);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_PERFCTR0 + 3, &v), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_F15H_PERF_CTL0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_F15H_PERF_CTL0 + 1, &v), -ENOENT);
}

TEST(amd_event_select_drops_reserved_bits)
{
	struct nkvm_pmu_model m;
	u64 v;

	amd(&m, true, true);
	/* HostOnly (41), bit 21, bit 19 go; event select 35:32 stays. */
	ASSERT_EQ(wr(&m, NKVM_MSR_K7_EVNTSEL0, BIT_ULL(41) | BIT_ULL(21) |
		     BIT_ULL(19) | 0x3ULL << 32 | 0x5300c0, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_EVNTSEL0, &v), 0);
	ASSERT_EQ(v, 0x3ULL << 32 | 0x5300c0);
}

TEST(amd_counters_are_48_bits)
{
	struct nkvm_pmu_model m;
	u64 v;

	amd(&m, false, true);
	ASSERT_EQ(wr(&m, NKVM_MSR_K7_PERFCTR0, ~0ULL, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_PERFCTR0, &v), 0);
	ASSERT_EQ(v, W48);
	/* One more event wraps it to 0. */
	mock[0] = 1;
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_PERFCTR0, &v), 0);
	ASSERT_EQ(v, 0);
}

TEST(vpmu_off_has_no_msrs_and_amd_rdpmc_reads_zero)
{
	struct nkvm_pmu_model m;
	struct nkvm_pmu_shape s = { .intel = true, .version = 2, .nr_gp = 4 };
	u64 v;

	amd(&m, false, false);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_EVNTSEL0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_K7_PERFCTR0, &v), -ENOENT);
	v = 5;
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 3, &counts, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 4, &counts, &v), 1);
	/* With PerfCtrExtCore in its CPUID, six. */
	amd(&m, true, false);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 5, &counts, &v), 0);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 6, &counts, &v), 1);

	nkvm_pmu_model_init(&m, &s);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_CTRL, &v), -ENOENT);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 0, &counts, &v), 1);
}

TEST(legacy_msrs_without_a_counter)
{
	u32 i;

	for (i = 0; i < 8; i++)
		ASSERT_TRUE(nkvm_pmu_legacy_msr(NKVM_MSR_K7_EVNTSEL0 + i));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_K7_EVNTSEL0 + 8));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_F15H_PERF_CTL0));
	ASSERT_TRUE(nkvm_pmu_legacy_msr(NKVM_MSR_IA32_PMC0 + 1));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_IA32_PMC0 + 2));
	ASSERT_TRUE(nkvm_pmu_legacy_msr(NKVM_MSR_IA32_PERFEVTSEL0 + 1));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_IA32_PERFEVTSEL0 + 2));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_FIXED_CTR0));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_GLOBAL_CTRL));
	ASSERT_FALSE(nkvm_pmu_legacy_msr(NKVM_MSR_IA32_A_PMC0));
}

TEST(intel_version_0_is_no_pmu)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 0, true);
	ASSERT_EQ(m.s.nr_gp, 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0, &v), -ENOENT);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 0, &counts, &v), 1);
}

TEST(intel_version_1_has_no_fixed_counters_nor_global_msrs)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 1, false);
	ASSERT_EQ(m.s.nr_fixed, 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0 + 3, &v), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0 + 4, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 3, &v), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 4, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_FIXED_CTR0, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_FIXED_CTR_CTRL, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_CTRL, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_STATUS, &v), -ENOENT);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_OVF_CTRL, &v), -ENOENT);
	/* Version 1 counts with EN alone. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, NKVM_EVTSEL_EN | NKVM_EVTSEL_OS | 0xc0, false, NULL), 0);
	{
		struct nkvm_pmc_event ev;

		ASSERT_TRUE(nkvm_pmc_event(&m, 0, &ev));
	}
}

TEST(intel_legacy_pmc_writes_sign_extend_32_bits)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PMC0, 0x80000000ULL, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 0xffff80000000ULL);
	/* Upper bits of the written value do not matter to a guest. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PMC0, 0x1234500000010ULL, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 0x10);
	/* Userspace restores the whole value. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PMC0, 0x123480000000ULL, true, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 0x123480000000ULL);
	/* No full-width MSRs without FW_WRITE. */
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_A_PMC0, &v), -ENOENT);
}

TEST(intel_full_width_writes)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, true);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_A_PMC0 + 1, 0x800000000000ULL, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0 + 1, &v), 0);
	ASSERT_EQ(v, 0x800000000000ULL);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_A_PMC0 + 1, &v), 0);
	ASSERT_EQ(v, 0x800000000000ULL);
	/* Bits beyond the width fault. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_A_PMC0 + 1, 1ULL << 48, false, NULL), 1);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_A_PMC0 + 4, &v), -ENOENT);
}

TEST(intel_event_select_reserved_bits_fault)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, BIT_ULL(21), false, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, BIT_ULL(32), false, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, BIT_ULL(63), true, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, 0xff5f00c0ULL | BIT_ULL(19), false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PERFEVTSEL0, &v), 0);
	ASSERT_EQ(v, 0xff5f00c0ULL | BIT_ULL(19));
}

TEST(intel_global_ctrl_and_fixed_ctrl_reserved_bits)
{
	struct nkvm_pmu_model m;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, 0x70000000fULL, false, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, BIT_ULL(4), false, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, BIT_ULL(35), false, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, BIT_ULL(62), true, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0xbbb, false, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0x4, false, NULL), 1);	/* AnyThread */
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0x1000, false, NULL), 1);	/* no counter 3 */
	/* Two fixed counters: the third field is reserved too. */
	{
		struct nkvm_pmu_shape s = m.s;

		s.nr_fixed = 2;
		nkvm_pmu_model_init(&m, &s);
		ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0x100, false, NULL), 1);
		ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, BIT_ULL(34), false, NULL), 1);
		ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR0 + 2, 0, false, NULL), -ENOENT);
	}
}

TEST(intel_global_status_and_ovf_ctrl)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, false);
	nkvm_pmu_overflow(&m, 1);
	nkvm_pmu_overflow(&m, NKVM_PMC_FIXED + 2);
	nkvm_pmu_overflow(&m, 7);		/* no such counter */
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_STATUS, &v), 0);
	ASSERT_EQ(v, BIT_ULL(1) | BIT_ULL(34));
	/* Read-only for the guest, restorable by userspace. */
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_STATUS, 0, false, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_STATUS, BIT_ULL(5), true, NULL), 1);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_STATUS, BIT_ULL(63) | BIT_ULL(34) |
		     BIT_ULL(1) | BIT_ULL(2), true, NULL), 0);
	/* OVF_CTRL clears what the guest writes, reads as 0. */
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_OVF_CTRL, BIT_ULL(63) | BIT_ULL(1), false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_STATUS, &v), 0);
	ASSERT_EQ(v, BIT_ULL(34) | BIT_ULL(2));
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_OVF_CTRL, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_OVF_CTRL, BIT_ULL(40), false, NULL), 1);
	/* Userspace's write changes nothing. */
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_OVF_CTRL, BIT_ULL(34), true, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_GLOBAL_STATUS, &v), 0);
	ASSERT_EQ(v, BIT_ULL(34) | BIT_ULL(2));
	/* AMD and Intel version 1 have no status. */
	intel(&m, 1, false);
	nkvm_pmu_overflow(&m, 0);
	ASSERT_EQ(m.global_status, 0);
}

TEST(when_counters_count_and_what_perf_counts)
{
	struct nkvm_pmu_model m;
	struct nkvm_pmc_event ev;
	u64 sel = NKVM_EVTSEL_EN | NKVM_EVTSEL_USR | NKVM_EVTSEL_INT |
		  BIT_ULL(23) | BIT_ULL(18) | 0x05000000 | 0x4f2e;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 2, sel, false, NULL), 0);
	ASSERT_FALSE(nkvm_pmc_event(&m, 2, &ev));	/* GLOBAL_CTRL off */
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, BIT_ULL(2), false, NULL), 0);
	ASSERT_TRUE(nkvm_pmc_event(&m, 2, &ev));
	ASSERT_EQ(ev.config, 0x05844f2e);		/* cmask, inv, edge, umask, event */
	ASSERT_FALSE(ev.exclude_user);
	ASSERT_TRUE(ev.exclude_kernel);
	ASSERT_TRUE(ev.intr);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 2, sel & ~NKVM_EVTSEL_EN, false, NULL), 0);
	ASSERT_FALSE(nkvm_pmc_event(&m, 2, &ev));

	/* Fixed counters: their field (OS/USR) and GLOBAL_CTRL. */
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0x0b1, false, NULL), 0);
	ASSERT_FALSE(nkvm_pmc_event(&m, NKVM_PMC_FIXED, &ev));
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, 0x700000000ULL, false, NULL), 0);
	ASSERT_TRUE(nkvm_pmc_event(&m, NKVM_PMC_FIXED, &ev));
	ASSERT_EQ(ev.config, 0x00c0);			/* instructions */
	ASSERT_TRUE(ev.exclude_user);
	ASSERT_FALSE(ev.exclude_kernel);
	ASSERT_FALSE(ev.intr);
	ASSERT_TRUE(nkvm_pmc_event(&m, NKVM_PMC_FIXED + 1, &ev));
	ASSERT_EQ(ev.config, 0x003c);			/* cycles */
	ASSERT_FALSE(ev.exclude_user);
	ASSERT_FALSE(ev.exclude_kernel);
	ASSERT_TRUE(ev.intr);
	ASSERT_FALSE(nkvm_pmc_event(&m, NKVM_PMC_FIXED + 2, &ev));

	/* AMD: EN alone; event select bits 35:32 go to perf. */
	amd(&m, true, true);
	ASSERT_EQ(wr(&m, NKVM_MSR_F15H_PERF_CTL0 + 10, NKVM_EVTSEL_EN |
		     NKVM_EVTSEL_OS | 0x1ULL << 32 | 0x76, false, NULL), 0);
	ASSERT_TRUE(nkvm_pmc_event(&m, 5, &ev));
	ASSERT_EQ(ev.config, 0x1ULL << 32 | 0x76);
	ASSERT_TRUE(ev.exclude_user);
	/* Nothing counts while the vPMU is off. */
	m.s.enabled = false;
	ASSERT_FALSE(nkvm_pmc_event(&m, 5, &ev));
}

TEST(which_writes_need_the_perf_event_redone)
{
	struct nkvm_pmu_model m;
	u64 dirty = 0;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 1, 0x4300c0, false, &dirty), 0);
	ASSERT_EQ(dirty, BIT_ULL(1));
	dirty = 0;
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 1, 0x4300c0, false, &dirty), 0);
	ASSERT_EQ(dirty, 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, 0x300000003ULL, false, &dirty), 0);
	ASSERT_EQ(dirty, 0x300000003ULL);
	dirty = 0;
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, 0x100000003ULL, false, &dirty), 0);
	ASSERT_EQ(dirty, 0x200000000ULL);
	dirty = 0;
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR_CTRL, 0x300, false, &dirty), 0);
	ASSERT_EQ(dirty, BIT_ULL(34));
	dirty = 0;
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR0 + 1, 5, false, &dirty), 0);
	ASSERT_EQ(dirty, BIT_ULL(33));
	/* A fault changes nothing. */
	dirty = 0;
	ASSERT_EQ(wr(&m, NKVM_MSR_GLOBAL_CTRL, ~0ULL, false, &dirty), 1);
	ASSERT_EQ(dirty, 0);
	ASSERT_EQ(m.global_ctrl, 0x100000003ULL);
}

TEST(values_are_base_plus_perf_count)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, true);
	mock[0] = 1000;
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 1000);
	/* A write sets the value whatever perf counted so far. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_A_PMC0, 50, false, NULL), 0);
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 50);
	mock[0] += 7;
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 57);
	/* The glue resets its count: folded into the base, same value. */
	nkvm_pmc_fold(&m, 0, mock[0]);
	mock[0] = 0;
	ASSERT_EQ(rd(&m, NKVM_MSR_IA32_PMC0, &v), 0);
	ASSERT_EQ(v, 57);
	/* Counters are independent, fixed ones too. */
	mock[NKVM_PMC_FIXED + 1] = 3;
	ASSERT_EQ(rd(&m, NKVM_MSR_FIXED_CTR0 + 1, &v), 0);
	ASSERT_EQ(v, 3);
	ASSERT_EQ(rd(&m, NKVM_MSR_FIXED_CTR0, &v), 0);
	ASSERT_EQ(v, 0);
	/* Wrapping at the width. */
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR0, W48 - 1, false, NULL), 0);
	mock[NKVM_PMC_FIXED] = 5;
	ASSERT_EQ(rd(&m, NKVM_MSR_FIXED_CTR0, &v), 0);
	ASSERT_EQ(v, 3);
}

TEST(periods_run_to_the_overflow)
{
	struct nkvm_pmu_model m;

	intel(&m, 2, false);
	ASSERT_EQ(nkvm_pmc_period(&m, 0, 0), 1ULL << 48);
	ASSERT_EQ(nkvm_pmc_period(&m, 0, W48), 1);
	ASSERT_EQ(nkvm_pmc_period(&m, 0, W48 - 99), 100);
	ASSERT_EQ(nkvm_pmc_period(&m, 0, 1), W48);
	/* A Linux guest's sampling write: -period, sign-extended. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PMC0, (u32)-100000, false, NULL), 0);
	ASSERT_EQ(nkvm_pmc_period(&m, 0, nkvm_pmc_read(&m, 0, &counts)), 100000);
	amd(&m, false, true);
	ASSERT_EQ(nkvm_pmc_period(&m, 3, 0), 1ULL << 48);
}

/* A filter with room for a few events (sorted, as the kernel keeps them). */
struct filter {
	struct kvm_pmu_event_filter f;
	u64 events[4];
};

TEST(event_filter)
{
	struct nkvm_pmu_model m;
	struct filter fl = {
		.f = { .action = KVM_PMU_EVENT_ALLOW, .nevents = 3,
		       .fixed_counter_bitmap = 0x2 },
		.events = { 0x00c0, 0x01c4, 0x2000000c2ULL },
	};

	intel(&m, 2, false);
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, NULL, 0));
	/* Matched on event select and unit mask, not the other bits. */
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0, SEL_FLAGS | 0x00c0, false, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 1, SEL_FLAGS | 0x00c4, false, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PERFEVTSEL0 + 2, SEL_FLAGS | 0x01c4, false, NULL), 0);
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, 0));
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, 1));
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, 2));
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, NKVM_PMC_FIXED));
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, NKVM_PMC_FIXED + 1));
	fl.f.action = KVM_PMU_EVENT_DENY;
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, 0));
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, 1));
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, NKVM_PMC_FIXED));
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, NKVM_PMC_FIXED + 1));
	/* AMD's event select bits 35:32 count. */
	amd(&m, false, true);
	ASSERT_EQ(wr(&m, NKVM_MSR_K7_EVNTSEL0, SEL_FLAGS | 0x2000000c2ULL, false, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_K7_EVNTSEL0 + 1, SEL_FLAGS | 0xc2, false, NULL), 0);
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, 0));
	ASSERT_TRUE(nkvm_pmu_filter_allows(&m, &fl.f, 1));
	/* An empty allow list allows nothing. */
	fl.f.action = KVM_PMU_EVENT_ALLOW;
	fl.f.nevents = 0;
	ASSERT_FALSE(nkvm_pmu_filter_allows(&m, &fl.f, 1));
}

TEST(intel_rdpmc)
{
	struct nkvm_pmu_model m;
	u64 v;

	intel(&m, 2, false);
	ASSERT_EQ(wr(&m, NKVM_MSR_IA32_PMC0 + 3, 0x123456789aULL, true, NULL), 0);
	ASSERT_EQ(wr(&m, NKVM_MSR_FIXED_CTR0 + 2, 0xabcdef012345ULL, true, NULL), 0);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 3, &counts, &v), 0);
	ASSERT_EQ(v, 0x123456789aULL);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 3 | NKVM_RDPMC_FAST, &counts, &v), 0);
	ASSERT_EQ(v, 0x3456789aULL);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 2 | NKVM_RDPMC_FIXED, &counts, &v), 0);
	ASSERT_EQ(v, 0xabcdef012345ULL);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 4, &counts, &v), 1);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 3 | NKVM_RDPMC_FIXED, &counts, &v), 1);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 0x10000, &counts, &v), 1);
}

TEST(amd_rdpmc)
{
	struct nkvm_pmu_model m;
	u64 v;

	amd(&m, true, true);
	ASSERT_EQ(wr(&m, 0xc001020b, 0xfedcba987654ULL, false, NULL), 0);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 5, &counts, &v), 0);
	ASSERT_EQ(v, 0xfedcba987654ULL);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 5 | NKVM_RDPMC_FAST, &counts, &v), 0);
	ASSERT_EQ(v, 0xba987654ULL);
	ASSERT_EQ(nkvm_pmu_rdpmc(&m, 6, &counts, &v), 1);
}

TEST_HARNESS_MAIN
