// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the CPUID pipeline's pure steps (arch/x86/kvm/cpuid.c):
 * lookup, check, runtime update and the vCPU model.
 */
#include "../nkvm/harness.h"
#include "cpuid.h"

#define SIG	KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static struct kvm_cpuid_entry2 leaf(u32 fn, u32 idx, u32 flags, u32 a, u32 b,
				    u32 c, u32 d)
{
	return (struct kvm_cpuid_entry2) {
		.function = fn, .index = idx, .flags = flags,
		.eax = a, .ebx = b, .ecx = c, .edx = d,
	};
}

/* A layout with AVX at offset 576 (256 bytes) and AVX-512 beyond. */
static const struct kvm_xstate_layout layout = {
	.offset = { [2] = 576, [5] = 1088, [6] = 1152, [7] = 1664 },
	.size = { [2] = 256, [5] = 64, [6] = 512, [7] = 1024 },
};

TEST(find_honours_significant_index)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(7, 0, SIG, 1, 0, 0, 0),
		leaf(7, 1, SIG, 2, 0, 0, 0),
		leaf(1, 0, 0, 3, 0, 0, 0),
	};

	ASSERT_EQ(kvm_cpuid_find(t, 3, 7, 1)->eax, 2);
	ASSERT_EQ(kvm_cpuid_find(t, 3, 7, 0)->eax, 1);
	ASSERT_TRUE(kvm_cpuid_find(t, 3, 7, 2) == NULL);
	/* Without the flag, the index does not matter. */
	ASSERT_EQ(kvm_cpuid_find(t, 3, 1, 5)->eax, 3);
	ASSERT_TRUE(kvm_cpuid_find(t, 3, 2, 0) == NULL);
}

TEST(check_limits_entries)
{
	static struct kvm_cpuid_entry2 t[KVM_MAX_CPUID_ENTRIES + 1];

	ASSERT_EQ(kvm_cpuid_check(t, KVM_MAX_CPUID_ENTRIES), 0);
	ASSERT_EQ(kvm_cpuid_check(t, KVM_MAX_CPUID_ENTRIES + 1), -E2BIG);
}

TEST(check_virtual_address_width)
{
	u32 widths[] = { 0, 48, 57, 32, 39, 40, 56, 64 };
	int want[] = { 0, 0, 0, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL };

	for (int i = 0; i < 8; i++) {
		struct kvm_cpuid_entry2 t[] = {
			leaf(0x80000008, 0, 0, (widths[i] << 8) | 40, 0, 0, 0),
		};

		EXPECT_EQ(kvm_cpuid_check(t, 1), want[i]);
	}
}

TEST(check_xsave_leaf_consistency)
{
	u64 ok[] = { 0, 1, 3, 7, 0xe7 };
	u64 bad[] = { 2, 5, 0x27, 0xa7, 0x63 };

	for (int i = 0; i < 5; i++) {
		struct kvm_cpuid_entry2 t[] = { leaf(0xd, 0, SIG, ok[i], 0, 0, 0) };

		EXPECT_EQ(kvm_cpuid_check(t, 1), 0);
	}
	for (int i = 0; i < 5; i++) {
		struct kvm_cpuid_entry2 t[] = { leaf(0xd, 0, SIG, bad[i], 0, 0, 0) };

		EXPECT_EQ(kvm_cpuid_check(t, 1), -EINVAL);
	}
}

TEST(runtime_follows_cr4_apic_and_xcr0)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(1, 0, 0, 0, 0, CPUID_1_ECX_XSAVE, CPUID_1_EDX_APIC),
		leaf(7, 0, SIG, 0, 0, CPUID_7_ECX_PKU, 0),
		leaf(0xd, 0, SIG, 7, 0, 0, 0),
	};
	struct kvm_cpuid_runtime rt = {
		.cr4 = NKVM_CR4_OSXSAVE | NKVM_CR4_PKE, .xcr0 = 7,
		.apic_enabled = false,
	};

	kvm_cpuid_update_runtime(t, 3, &rt, &layout);
	ASSERT_TRUE(t[0].ecx & CPUID_1_ECX_OSXSAVE);
	ASSERT_FALSE(t[0].edx & CPUID_1_EDX_APIC);
	ASSERT_TRUE(t[1].ecx & CPUID_7_ECX_OSPKE);
	ASSERT_EQ(t[2].ebx, 832);		/* legacy + header + AVX */

	rt = (struct kvm_cpuid_runtime) { .xcr0 = 3, .apic_enabled = true };
	kvm_cpuid_update_runtime(t, 3, &rt, &layout);
	ASSERT_FALSE(t[0].ecx & CPUID_1_ECX_OSXSAVE);
	ASSERT_TRUE(t[0].edx & CPUID_1_EDX_APIC);
	ASSERT_FALSE(t[1].ecx & CPUID_7_ECX_OSPKE);
	ASSERT_EQ(t[2].ebx, 576);
}

TEST(runtime_updates_other_leaves_without_leaf_1)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(7, 0, SIG, 0, 0, 0, 0),
		leaf(0xd, 0, SIG, 0xe7, 0, 0, 0),
		leaf(0xd, 1, SIG, 1 << 1, 0, 0, 0),	/* XSAVEC */
	};
	struct kvm_cpuid_runtime rt = { .cr4 = NKVM_CR4_PKE, .xcr0 = 0xe7 };

	kvm_cpuid_update_runtime(t, 3, &rt, &layout);
	ASSERT_TRUE(t[0].ecx & CPUID_7_ECX_OSPKE);
	ASSERT_EQ(t[1].ebx, 2688);		/* up to the end of Hi16_ZMM */
	ASSERT_EQ(t[2].ebx, 2688);
}

TEST(runtime_mwait_only_without_the_quirk)
{
	struct kvm_cpuid_entry2 t[] = { leaf(1, 0, 0, 0, 0, CPUID_1_ECX_MWAIT, 0) };
	struct kvm_cpuid_runtime rt = { .mwait_enabled = false };

	kvm_cpuid_update_runtime(t, 1, &rt, &layout);
	ASSERT_TRUE(t[0].ecx & CPUID_1_ECX_MWAIT);	/* quirk on: untouched */
	rt.update_mwait = true;
	kvm_cpuid_update_runtime(t, 1, &rt, &layout);
	ASSERT_FALSE(t[0].ecx & CPUID_1_ECX_MWAIT);
	rt.mwait_enabled = true;
	kvm_cpuid_update_runtime(t, 1, &rt, &layout);
	ASSERT_TRUE(t[0].ecx & CPUID_1_ECX_MWAIT);
}

TEST(model_maxphyaddr)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
		leaf(0x80000008, 0, 0, (48 << 8) | 43, 0, 0, 0),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(t, 2, 0, 0, &m);
	ASSERT_EQ(m.maxphyaddr, 43);
	/* Without the extended leaf (or its range), 36 bits. */
	t[0].eax = 0x80000004;
	kvm_cpuid_compute_model(t, 2, 0, 0, &m);
	ASSERT_EQ(m.maxphyaddr, 36);
	kvm_cpuid_compute_model(NULL, 0, 0, 0, &m);
	ASSERT_EQ(m.maxphyaddr, 36);
}

TEST(model_xcr0_and_cr4)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(1, 0, 0, 0, 0, CPUID_1_ECX_XSAVE, 0),
		leaf(7, 0, SIG, 0, CPUID_7_EBX_SMEP, 0, 0),
		leaf(0xd, 0, SIG, 0xe7, 0, 0, 0),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(t, 3, 7, 1ULL << 13, &m);
	ASSERT_EQ(m.supported_xcr0, 7);		/* what the host switches */
	ASSERT_FALSE(m.cr4_reserved & NKVM_CR4_OSXSAVE);
	ASSERT_FALSE(m.cr4_reserved & NKVM_CR4_SMEP);
	ASSERT_TRUE(m.cr4_reserved & NKVM_CR4_SMAP);
	ASSERT_TRUE(m.cr4_reserved & NKVM_CR4_PKE);
	ASSERT_TRUE(m.cr4_reserved & NKVM_CR4_LA57);
	ASSERT_TRUE(m.cr4_reserved & (1ULL << 13));	/* the host's own */

	kvm_cpuid_compute_model(NULL, 0, 7, 0, &m);
	ASSERT_EQ(m.supported_xcr0, 0);
	ASSERT_TRUE(m.cr4_reserved & NKVM_CR4_OSXSAVE);
}

TEST(model_vendor)
{
	struct kvm_cpuid_entry2 intel[] = {
		leaf(0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69),
	};
	struct kvm_cpuid_entry2 amd[] = {
		leaf(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(intel, 1, 0, 0, &m);
	ASSERT_TRUE(m.intel);
	ASSERT_TRUE(m.out_of_range_to_basic);
	ASSERT_EQ(m.max_basic_leaf, 0xd);
	kvm_cpuid_compute_model(amd, 1, 0, 0, &m);
	ASSERT_FALSE(m.intel);
	ASSERT_FALSE(m.out_of_range_to_basic);
}

TEST(model_tsc_aux)
{
	struct kvm_cpuid_entry2 rdtscp[] = {
		leaf(0x80000001, 0, 0, 0, 0, 0, CPUID_80000001_EDX_RDTSCP),
	};
	struct kvm_cpuid_entry2 rdpid[] = {
		leaf(7, 0, 0, 0, 0, CPUID_7_ECX_RDPID, 0),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(rdtscp, 1, 0, 0, &m);
	ASSERT_TRUE(m.rdtscp);
	ASSERT_TRUE(m.tsc_aux);
	kvm_cpuid_compute_model(rdpid, 1, 0, 0, &m);
	ASSERT_FALSE(m.rdtscp);
	ASSERT_TRUE(m.tsc_aux);
	kvm_cpuid_compute_model(NULL, 0, 0, 0, &m);
	ASSERT_FALSE(m.rdtscp);
	ASSERT_FALSE(m.tsc_aux);
}

TEST(model_gbpages)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(0x80000001, 0, 0, 0, 0, 0, CPUID_80000001_EDX_GBPAGES),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(t, 1, 0, 0, &m);
	ASSERT_TRUE(m.gbpages);
	ASSERT_FALSE(m.rdtscp);
	t[0].edx = ~CPUID_80000001_EDX_GBPAGES;
	kvm_cpuid_compute_model(t, 1, 0, 0, &m);
	ASSERT_FALSE(m.gbpages);
	kvm_cpuid_compute_model(NULL, 0, 0, 0, &m);
	ASSERT_FALSE(m.gbpages);
}

TEST(lookup_out_of_range)
{
	struct kvm_cpuid_entry2 t[] = {
		leaf(0, 0, 0, 2, 0x756e6547, 0x6c65746e, 0x49656e69),
		leaf(2, 0, 0, 0x02020202, 0x12345678, 0x9abcdef0, 0x0fedcba9),
		leaf(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
		leaf(0x40000000, 0, 0, 0x40000001, 0, 0, 0),
	};
	struct kvm_cpuid_model m;

	kvm_cpuid_compute_model(t, 4, 0, 0, &m);
	/* Beyond each class's range: the highest basic leaf. */
	ASSERT_EQ(kvm_cpuid_lookup(t, 4, &m, 3, 0)->eax, 0x02020202);
	ASSERT_EQ(kvm_cpuid_lookup(t, 4, &m, 0x80000009, 0)->eax, 0x02020202);
	ASSERT_EQ(kvm_cpuid_lookup(t, 4, &m, 0x40000005, 0)->eax, 0x02020202);
	ASSERT_EQ(kvm_cpuid_lookup(t, 4, &m, 0xc0000001, 0)->eax, 0x02020202);
	/* Missing but within range: zeroes. */
	ASSERT_TRUE(kvm_cpuid_lookup(t, 4, &m, 1, 0) == NULL);
	ASSERT_TRUE(kvm_cpuid_lookup(t, 4, &m, 0x80000001, 0) == NULL);
	ASSERT_TRUE(kvm_cpuid_lookup(t, 4, &m, 0x40000001, 0) == NULL);

	/* AMD: zeroes everywhere. */
	t[0] = leaf(0, 0, 0, 2, 0x68747541, 0x444d4163, 0x69746e65);
	kvm_cpuid_compute_model(t, 4, 0, 0, &m);
	ASSERT_TRUE(kvm_cpuid_lookup(t, 4, &m, 3, 0) == NULL);
	ASSERT_TRUE(kvm_cpuid_lookup(t, 4, &m, 0x80000009, 0) == NULL);
}

TEST(xstate_size)
{
	ASSERT_EQ(kvm_xstate_size(&layout, 1), 576);
	ASSERT_EQ(kvm_xstate_size(&layout, 3), 576);
	ASSERT_EQ(kvm_xstate_size(&layout, 7), 832);
	ASSERT_EQ(kvm_xstate_size(&layout, 0xe7), 2688);
	/* A component the host does not have adds nothing. */
	ASSERT_EQ(kvm_xstate_size(&layout, 7 | (1ULL << 9)), 832);
}

TEST_HARNESS_MAIN
