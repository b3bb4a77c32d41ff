// SPDX-License-Identifier: GPL-2.0
/*
 * test_cpuid.c - the CPUID ioctls and the guest's CPUID: what
 * KVM_GET_SUPPORTED_CPUID offers, KVM_SET_CPUID2 / KVM_GET_CPUID2 /
 * KVM_SET_CPUID, the values the guest reads (missing leaves too), the bits
 * that follow vCPU state (OSXSAVE, APIC, the XSAVE size in leaf 0xD) and
 * the tables KVM refuses.
 *
 * Linux 6.1 behaviour worth knowing (asserted below):
 *  - KVM_GET_SUPPORTED_CPUID with nent 0, or fewer than it needs: E2BIG,
 *    nent not written back; on success nent is the count.
 *  - KVM_GET_CPUID2 with too small an nent: E2BIG, nent not written back.
 *    On success 6.1 leaves nent as userspace passed it; from 6.5 on (6.12)
 *    it is the count.  Both KVMs of a bed run on one kernel: the test
 *    expects what that kernel's version does.
 *  - The guest reading a leaf the table lacks: zeroes if the vendor in
 *    leaf 0 is AMD (or Hygon); for any other vendor, a function beyond
 *    its class's maximum (leaf 0, 0x80000000, 0x400000xx) reads as the
 *    highest basic leaf, as on Intel hardware.
 *  - Once the vCPU has run, KVM_SET_CPUID2 takes only the very same table
 *    again (EINVAL otherwise).
 *  - A failed KVM_SET_CPUID2 leaves the previous table on Linux; nkvm
 *    leaves the vCPU with no entries at all (never half-applied).
 */
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "vm.h"

#define CPUID_1_ECX_XSAVE	(1U << 26)
#define CPUID_1_ECX_OSXSAVE	(1U << 27)
#define CPUID_1_ECX_HYPERVISOR	(1U << 31)
#define CPUID_1_EDX_APIC	(1U << 9)
#define CR4_OSXSAVE		(1U << 18)
#define MSR_IA32_APICBASE	0x1b
#define APICBASE_BSP		(1ULL << 8)
#define APICBASE_ENABLE		(1ULL << 11)
#define APIC_DEFAULT_BASE	0xfee00000ULL

/* Vendor strings in leaf 0's EBX, EDX, ECX. */
#define AMD_EBX 0x68747541	/* "Auth" */
#define AMD_EDX 0x69746e65	/* "enti" */
#define AMD_ECX 0x444d4163	/* "cAMD" */
#define INTEL_EBX 0x756e6547	/* "Genu" */
#define INTEL_EDX 0x49656e69	/* "ineI" */
#define INTEL_ECX 0x6c65746e	/* "ntel" */

/* Is the running kernel (whose KVM or nkvm build we test) this recent? */
static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	ASSERT_OK(uname(&u));
	ASSERT_EQ(sscanf(u.release, "%d.%d", &ma, &mi), 2);
	return ma > major || (ma == major && mi >= minor);
}

static struct vcpu *new_vcpu(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);

	return vcpu_create(vm, 0);
}

/* ------------------------------------------------------------------ */
/* KVM_GET_SUPPORTED_CPUID                                             */

TEST(supported_cpuid_e2big)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = cpuid_alloc(256);
	uint32_t n;

	c->nent = 0;
	ASSERT_ERRNO(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c), E2BIG);
	ASSERT_EQ(c->nent, 0);

	c->nent = 1;
	ASSERT_ERRNO(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c), E2BIG);
	ASSERT_EQ(c->nent, 1);

	c->nent = 256;
	ASSERT_OK(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c));
	n = c->nent;
	ASSERT_GT(n, 1);
	ASSERT_LT(n, 256);

	/* One entry short: E2BIG; exactly enough: fine. */
	c->nent = n - 1;
	ASSERT_ERRNO(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c), E2BIG);
	c->nent = n;
	ASSERT_OK(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c));
	ASSERT_EQ(c->nent, n);

	/* More than 256 is taken as 256. */
	free(c);
	c = cpuid_alloc(300);
	ASSERT_OK(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c));
	ASSERT_EQ(c->nent, n);
}

TEST(supported_cpuid_is_sane)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e0, *e1, *ext, *hv;
	uint32_t max_basic, max_ext;

	e0 = cpuid_find(c, 0, 0);
	ASSERT_TRUE(e0 != NULL);
	max_basic = e0->eax;
	ASSERT_GE(max_basic, 1);
	e1 = cpuid_find(c, 1, 0);
	ASSERT_TRUE(e1 != NULL);
	ext = cpuid_find(c, 0x80000000, 0);
	ASSERT_TRUE(ext != NULL);
	max_ext = ext->eax;
	ASSERT_GE(max_ext, 0x80000001);

	/* No entry beyond its class's maximum. */
	for (uint32_t i = 0; i < c->nent; i++) {
		uint32_t f = c->entries[i].function;

		if (f < 0x40000000)
			EXPECT_LE(f, max_basic);
		else if (f >= 0x80000000 && f < 0xc0000000)
			EXPECT_LE(f, max_ext);
		EXPECT_EQ(c->entries[i].padding[0], 0);
	}

	/* The KVM paravirtual leaves: "KVMKVMKVM\0\0\0". */
	hv = cpuid_find(c, 0x40000000, 0);
	ASSERT_TRUE(hv != NULL);
	ASSERT_EQ(hv->ebx, 0x4b4d564b);
	ASSERT_EQ(hv->ecx, 0x564b4d56);
	ASSERT_EQ(hv->edx, 0x4d);
	ASSERT_GE(hv->eax, 0x40000001);
	ASSERT_TRUE(cpuid_find(c, 0x40000001, 0) != NULL);

	/*
	 * OSXSAVE is the guest's own to set.  Linux 6.1 does not offer the
	 * hypervisor bit either (VMMs set it themselves); say what we got.
	 */
	EXPECT_FALSE(e1->ecx & CPUID_1_ECX_OSXSAVE);
	TH_LOG("leaf 1 ecx 0x%08x edx 0x%08x (hypervisor bit %s)", e1->ecx,
	       e1->edx, e1->ecx & CPUID_1_ECX_HYPERVISOR ? "set" : "clear");

	/* Leaves with a significant index are flagged so. */
	for (uint32_t f = 4; f <= 0xd; f++) {
		struct kvm_cpuid_entry2 *e = cpuid_find(c, f, 0);

		if (e && (f == 4 || f == 7 || f == 0xb || f == 0xd))
			EXPECT_TRUE(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	}
}

/*
 * What KVM emulates is offered whatever the host has (QEMU's -cpu host
 * takes it from here): x2APIC (in-kernel APIC), TSC_ADJUST and
 * ARCH_CAPABILITIES (kept by the kernel).
 */
TEST(supported_cpuid_offers_emulated_features)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e1 = cpuid_find(c, 1, 0);
	struct kvm_cpuid_entry2 *e7 = cpuid_find(c, 7, 0);

	ASSERT_TRUE(e1 != NULL);
	EXPECT_TRUE(e1->ecx & (1U << 21));	/* x2APIC */
	if (!e7)
		SKIP("no leaf 7 on this host");
	EXPECT_TRUE(e7->ebx & (1U << 1));	/* TSC_ADJUST */
	EXPECT_TRUE(e7->edx & (1U << 29));	/* ARCH_CAPABILITIES */
	free(c);
}

TEST(supported_cpuid_xsave_leaf_consistent)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e1 = cpuid_find(c, 1, 0), *d0;
	uint64_t xcr0;
	uint32_t max_end = 512 + 64;

	ASSERT_TRUE(e1 != NULL);
	if (!(e1->ecx & CPUID_1_ECX_XSAVE))
		SKIP("XSAVE not offered");
	d0 = cpuid_find(c, 0xd, 0);
	ASSERT_TRUE(d0 != NULL);
	ASSERT_TRUE(d0->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	xcr0 = d0->eax | (uint64_t)d0->edx << 32;
	TH_LOG("supported XCR0 0x%llx, sizes ebx %u ecx %u",
	       (unsigned long long)xcr0, d0->ebx, d0->ecx);
	ASSERT_EQ(xcr0 & 3, 3);		/* x87 and SSE */

	for (int i = 2; i < 63; i++) {
		struct kvm_cpuid_entry2 *d = cpuid_find(c, 0xd, i);

		if (!(xcr0 & (1ULL << i)))
			continue;
		ASSERT_TRUE(d != NULL);
		ASSERT_EQ(d->index, i);
		ASSERT_GT(d->eax, 0);			/* size */
		ASSERT_GE(d->ebx, 512 + 64);		/* offset */
		if (d->ebx + d->eax > max_end)
			max_end = d->ebx + d->eax;
	}
	/* ECX: the area for every feature offered; EBX (XCR0 = all): the same. */
	ASSERT_EQ(d0->ecx, max_end);
	ASSERT_EQ(d0->ebx, max_end);
	/* AVX needs SSE; AVX-512's three components go together. */
	if (xcr0 & 4)
		ASSERT_TRUE(xcr0 & 2);
	if (xcr0 & 0xe0)
		ASSERT_EQ(xcr0 & 0xe0, 0xe0);
}

/* ------------------------------------------------------------------ */
/* KVM_SET_CPUID2 / KVM_GET_CPUID2                                     */

static void assert_entry_eq(const struct kvm_cpuid_entry2 *a,
			    const struct kvm_cpuid_entry2 *b)
{
	ASSERT_EQ(a->function, b->function);
	ASSERT_EQ(a->index, b->index);
	ASSERT_EQ(a->flags, b->flags);
	ASSERT_EQ(a->eax, b->eax);
	ASSERT_EQ(a->ebx, b->ebx);
	ASSERT_EQ(a->ecx, b->ecx);
	ASSERT_EQ(a->edx, b->edx);
}

/* A small table of our own, free of the bits KVM updates at run time. */
static struct kvm_cpuid2 *own_table(uint32_t vendor_ebx, uint32_t vendor_edx,
				    uint32_t vendor_ecx)
{
	struct kvm_cpuid2 *c = cpuid_alloc(16);

	c->nent = 0;
	cpuid_add(c, 0, 0, 0, 7, vendor_ebx, vendor_ecx, vendor_edx);
	/* leaf 1: no XSAVE/OSXSAVE; APIC set (the APIC base MSR enables it) */
	cpuid_add(c, 1, 0, 0, 0x00000f61, 0x00010800, 0x00802001, 0x0781affd);
	cpuid_add(c, 2, 0, 0, 0x02020202, 0x12345678, 0x9abcdef0, 0x0fedcba9);
	cpuid_add(c, 7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 0x00000209,
		  0x00000001, 0x00000400);
	cpuid_add(c, 7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x00000010, 0, 0,
		  0);
	cpuid_add(c, 0x80000000, 0, 0, 0x80000008, vendor_ebx, vendor_ecx,
		  vendor_edx);
	cpuid_add(c, 0x80000001, 0, 0, 0x00000f61, 0, 0x00000001, 0x20100800);
	cpuid_add(c, 0x80000008, 0, 0, 0x00003028, 0, 0, 0);
	return c;
}

TEST(set_get_cpuid2_round_trip)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *set = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *got = cpuid_alloc(256);

	/* A fresh vCPU has no entries. */
	got->nent = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));

	vcpu_set_cpuid(vcpu, set);

	/* Too small: E2BIG, and nent stays. */
	got->nent = set->nent - 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_CPUID2, got), E2BIG);
	ASSERT_EQ(got->nent, set->nent - 1);
	got->nent = 0;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_CPUID2, got), E2BIG);
	ASSERT_EQ(got->nent, 0);

	/* Exactly right. */
	got->nent = set->nent;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));
	ASSERT_EQ(got->nent, set->nent);
	for (uint32_t i = 0; i < set->nent; i++)
		assert_entry_eq(&got->entries[i], &set->entries[i]);

	/* Roomier: the same entries; nent unchanged (6.1) or the count. */
	free(got);
	got = cpuid_alloc(256);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));
	ASSERT_EQ(got->nent, kernel_at_least(6, 5) ? set->nent : 256);
	ASSERT_EQ(got->padding, 0);
	for (uint32_t i = 0; i < set->nent; i++)
		assert_entry_eq(&got->entries[i], &set->entries[i]);

	/* A second table replaces the first entirely. */
	set->nent = 3;
	set->entries[2].eax = 0x11111111;
	vcpu_set_cpuid(vcpu, set);
	free(got);
	got = vcpu_get_cpuid(vcpu);
	ASSERT_EQ(got->nent, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_entry_eq(&got->entries[i], &set->entries[i]);

	/* An empty table is a table too. */
	set->nent = 0;
	vcpu_set_cpuid(vcpu, set);
	got->nent = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));
}

TEST(set_supported_cpuid_round_trip)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid2 *got;

	vcpu_set_cpuid(vcpu, sup);
	got = vcpu_get_cpuid(vcpu);
	ASSERT_EQ(got->nent, sup->nent);
	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 *a = &got->entries[i];
		struct kvm_cpuid_entry2 *b = &sup->entries[i];

		ASSERT_EQ(a->function, b->function);
		ASSERT_EQ(a->index, b->index);
		ASSERT_EQ(a->flags, b->flags);
		ASSERT_EQ(a->eax, b->eax);
		ASSERT_EQ(a->ecx, b->ecx);
		if (a->function == 0xd && a->index <= 1)
			continue;	/* EBX: the size for the current XCR0 */
		ASSERT_EQ(a->ebx, b->ebx);
		if (a->function == 1)
			continue;	/* EDX: APIC follows the APIC base MSR */
		ASSERT_EQ(a->edx, b->edx);
	}
}

/* The old KVM_SET_CPUID: no index, no flags. */
TEST(set_cpuid_old_struct)
{
	struct vcpu *vcpu = new_vcpu();
	struct {
		struct kvm_cpuid hdr;
		struct kvm_cpuid_entry e[3];
	} old;
	struct kvm_cpuid2 *got;
	struct svc_result r;

	memset(&old, 0, sizeof(old));
	old.hdr.nent = 3;
	old.e[0] = (struct kvm_cpuid_entry) { 0, 1, AMD_EBX, AMD_ECX, AMD_EDX, 0 };
	old.e[1] = (struct kvm_cpuid_entry) { 1, 0x00000f61, 0x00010800,
					      0x00802001, 0x0781affd, 0 };
	old.e[2] = (struct kvm_cpuid_entry) { 0x80000000, 0x80000000, 0, 0, 0, 0 };
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID, &old));

	got = vcpu_get_cpuid(vcpu);
	ASSERT_EQ(got->nent, 3);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(got->entries[i].function, old.e[i].function);
		ASSERT_EQ(got->entries[i].index, 0);
		ASSERT_EQ(got->entries[i].flags, 0);
		ASSERT_EQ(got->entries[i].eax, old.e[i].eax);
		ASSERT_EQ(got->entries[i].ebx, old.e[i].ebx);
		ASSERT_EQ(got->entries[i].ecx, old.e[i].ecx);
		ASSERT_EQ(got->entries[i].edx, old.e[i].edx);
	}

	/* The guest sees it, whatever index it asks for. */
	svc_init(vcpu);
	svc_cpuid(vcpu, 1, 5, &r);
	ASSERT_EQ(r.eax, 0x00000f61);
	ASSERT_EQ(r.ebx, 0x00010800);
	ASSERT_EQ(r.ecx, 0x00802001);
	ASSERT_EQ(r.edx, 0x0781affd);

	/* Too many entries. */
	old.hdr.nent = 257;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID, &old), E2BIG);
}

/* ------------------------------------------------------------------ */
/* The guest's CPUID                                                   */

static void expect_leaf(struct vcpu *vcpu, uint32_t f, uint32_t i,
			uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	struct svc_result r;

	svc_cpuid(vcpu, f, i, &r);
	if (r.eax != a || r.ebx != b || r.ecx != c || r.edx != d) {
		th_log("%s: CPUID 0x%x.%u: got %08x %08x %08x %08x, expected "
		       "%08x %08x %08x %08x", th_current, f, i, r.eax, r.ebx,
		       r.ecx, r.edx, a, b, c, d);
		th_expect_failed = 1;
	}
}

static void expect_entry(struct vcpu *vcpu, uint32_t f, uint32_t i,
			 const struct kvm_cpuid_entry2 *e)
{
	expect_leaf(vcpu, f, i, e->eax, e->ebx, e->ecx, e->edx);
}

TEST(guest_cpuid_reads_table)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);

	vcpu_set_cpuid(vcpu, t);
	svc_init(vcpu);
	for (uint32_t i = 0; i < t->nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		expect_entry(vcpu, e->function, e->index, e);
	}
	/* Leaf 1's index is not significant: any ECX reads the same. */
	expect_entry(vcpu, 1, 3, cpuid_find(t, 1, 0));
	expect_entry(vcpu, 0x80000001, 0xffffffff, cpuid_find(t, 0x80000001, 0));
}

TEST(guest_cpuid_missing_leaves_amd)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);

	vcpu_set_cpuid(vcpu, t);
	svc_init(vcpu);
	/* In range but absent, beyond range, a missing index: zeroes. */
	expect_leaf(vcpu, 3, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 7, 2, 0, 0, 0, 0);
	expect_leaf(vcpu, 0x20, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 0x40000000, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 0x80000002, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 0x80000020, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 0xc0000000, 0, 0, 0, 0, 0);
}

TEST(guest_cpuid_missing_leaves_intel)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(INTEL_EBX, INTEL_EDX, INTEL_ECX);
	struct kvm_cpuid_entry2 *max;


	cpuid_find(t, 0, 0)->eax = 2;		/* max basic leaf: 2 */
	max = cpuid_find(t, 2, 0);
	vcpu_set_cpuid(vcpu, t);
	svc_init(vcpu);

	/* Absent but within range: zeroes. */
	expect_leaf(vcpu, 0x80000002, 0, 0, 0, 0, 0);
	/* Beyond the basic range: the highest basic leaf. */
	expect_entry(vcpu, 3, 0, max);
	expect_entry(vcpu, 0x20, 0, max);
	/* Beyond the extended range: the highest basic leaf. */
	expect_entry(vcpu, 0x80000009, 0, max);
	/* A hypervisor range with no 0x40000000 leaf: likewise. */
	expect_entry(vcpu, 0x40000005, 0, max);
	/* 0xc0000000 and up, no such leaf: likewise. */
	expect_entry(vcpu, 0xc0000001, 0, max);
}

/* Linux treats every vendor other than AMD and Hygon like Intel. */
TEST(guest_cpuid_missing_leaves_other_vendor)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(0x6b6b6b6b, 0x6b6b6b6b, 0x6b6b6b6b);
	struct kvm_cpuid_entry2 *max;


	cpuid_find(t, 0, 0)->eax = 2;
	max = cpuid_find(t, 2, 0);
	vcpu_set_cpuid(vcpu, t);
	svc_init(vcpu);
	expect_entry(vcpu, 0x20, 0, max);
	expect_leaf(vcpu, 0x80000003, 0, 0, 0, 0, 0);
}

TEST(guest_cpuid_without_table)
{
	struct vcpu *vcpu = new_vcpu();

	/* No table at all: every leaf reads as zeroes. */
	svc_init(vcpu);
	expect_leaf(vcpu, 0, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 1, 0, 0, 0, 0, 0);
	expect_leaf(vcpu, 0x80000000, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Bits that follow vCPU state                                          */

static uint32_t get_leaf_reg(struct vcpu *vcpu, uint32_t f, uint32_t i, int reg)
{
	struct kvm_cpuid2 *c = vcpu_get_cpuid(vcpu);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, f, i);
	uint32_t v;

	ASSERT_TRUE(e != NULL);
	v = reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
	free(c);
	return v;
}

TEST(osxsave_follows_guest_cr4)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e1 = cpuid_find(sup, 1, 0);
	struct svc_result r;

	ASSERT_TRUE(e1 != NULL);
	if (!(e1->ecx & CPUID_1_ECX_XSAVE))
		SKIP("XSAVE not offered");
	vcpu_set_cpuid(vcpu, sup);
	svc_init(vcpu);

	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_FALSE(r.ecx & CPUID_1_ECX_OSXSAVE);
	ASSERT_TRUE(r.ecx & CPUID_1_ECX_XSAVE);
	ASSERT_FALSE(get_leaf_reg(vcpu, 1, 0, 2) & CPUID_1_ECX_OSXSAVE);

	/* The guest sets CR4.OSXSAVE itself. */
	svc_call(vcpu, SVC_READ_CR4, 0, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_call(vcpu, SVC_WRITE_CR4, r.eax | CR4_OSXSAVE, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_TRUE(r.ecx & CPUID_1_ECX_OSXSAVE);
	ASSERT_TRUE(get_leaf_reg(vcpu, 1, 0, 2) & CPUID_1_ECX_OSXSAVE);

	/* And clears it. */
	svc_call(vcpu, SVC_READ_CR4, 0, 0, 0, &r);
	svc_call(vcpu, SVC_WRITE_CR4, r.eax & ~CR4_OSXSAVE, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_FALSE(r.ecx & CPUID_1_ECX_OSXSAVE);
	ASSERT_FALSE(get_leaf_reg(vcpu, 1, 0, 2) & CPUID_1_ECX_OSXSAVE);
}

TEST(osxsave_refused_without_xsave_in_table)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct svc_result r;


	vcpu_set_cpuid(vcpu, t);	/* leaf 1 without XSAVE */
	svc_init(vcpu);
	svc_call(vcpu, SVC_READ_CR4, 0, 0, 0, &r);
	svc_call(vcpu, SVC_WRITE_CR4, r.eax | CR4_OSXSAVE, 0, 0, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, 13);
	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_FALSE(r.ecx & CPUID_1_ECX_OSXSAVE);
}

TEST(apic_bit_follows_apic_base_msr)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	uint64_t on = APIC_DEFAULT_BASE | APICBASE_BSP | APICBASE_ENABLE;
	struct svc_result r;

	vcpu_set_cpuid(vcpu, t);
	svc_init(vcpu);

	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, on & ~APICBASE_ENABLE);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_IA32_APICBASE), on & ~APICBASE_ENABLE);
	ASSERT_FALSE(get_leaf_reg(vcpu, 1, 0, 3) & CPUID_1_EDX_APIC);
	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_FALSE(r.edx & CPUID_1_EDX_APIC);
	/* Only that bit changed. */
	ASSERT_EQ(r.edx, 0x0781affd & ~CPUID_1_EDX_APIC);

	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, on);
	ASSERT_TRUE(get_leaf_reg(vcpu, 1, 0, 3) & CPUID_1_EDX_APIC);
	svc_cpuid(vcpu, 1, 0, &r);
	ASSERT_EQ(r.edx, 0x0781affd);

	/* A table set while the APIC is disabled gets the bit cleared. */
	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, on & ~APICBASE_ENABLE);
	ASSERT_FALSE(get_leaf_reg(vcpu, 1, 0, 3) & CPUID_1_EDX_APIC);
}

TEST(apic_bit_cleared_in_table_set_while_disabled)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);

	vcpu_set_msr(vcpu, MSR_IA32_APICBASE, APIC_DEFAULT_BASE | APICBASE_BSP);
	vcpu_set_cpuid(vcpu, t);
	ASSERT_FALSE(get_leaf_reg(vcpu, 1, 0, 3) & CPUID_1_EDX_APIC);
}

/* The XSAVE area size for the XSAVE components of xcr0 (standard format). */
static uint32_t xsave_size(struct kvm_cpuid2 *sup, uint64_t xcr0)
{
	uint32_t size = 512 + 64;

	for (int i = 2; i < 63; i++) {
		struct kvm_cpuid_entry2 *d = cpuid_find(sup, 0xd, i);

		if ((xcr0 & (1ULL << i)) && d && d->ebx + d->eax > size)
			size = d->ebx + d->eax;
	}
	return size;
}

static void set_xcr0(struct vcpu *vcpu, uint64_t xcr0)
{
	struct kvm_xcrs x;

	memset(&x, 0, sizeof(x));
	x.nr_xcrs = 1;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = xcr0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &x));
}

static uint64_t supported_xcr0(struct kvm_cpuid2 *sup)
{
	struct kvm_cpuid_entry2 *d0 = cpuid_find(sup, 0xd, 0);

	return d0 ? d0->eax | (uint64_t)d0->edx << 32 : 0;
}

TEST(xsave_size_follows_xcr0)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	uint64_t xcr0 = supported_xcr0(sup);
	struct svc_result r;

	if (!kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_XCRS) || !(xcr0 & 3))
		SKIP("no XCRs or no XSAVE leaf");
	vcpu_set_cpuid(vcpu, sup);
	svc_init(vcpu);

	/* At reset XCR0 is x87 only: the legacy area and the header. */
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), 576);
	svc_cpuid(vcpu, 0xd, 0, &r);
	ASSERT_EQ(r.ebx, 576);
	ASSERT_EQ(r.ecx, xsave_size(sup, xcr0));

	set_xcr0(vcpu, 3);
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), 576);
	if (!(xcr0 & 4))
		SKIP("AVX not offered: no bigger XCR0 to try");
	set_xcr0(vcpu, 7);
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), xsave_size(sup, 7));
	svc_cpuid(vcpu, 0xd, 0, &r);
	ASSERT_EQ(r.ebx, xsave_size(sup, 7));
	ASSERT_GT(r.ebx, 576);
	set_xcr0(vcpu, 1);
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), 576);
	svc_cpuid(vcpu, 0xd, 0, &r);
	ASSERT_EQ(r.ebx, 576);
}

TEST(xsave_size_follows_guest_xsetbv)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	uint64_t xcr0 = supported_xcr0(sup);
	struct kvm_cpuid_entry2 *e1 = cpuid_find(sup, 1, 0);
	struct svc_result r;

	if (!e1 || !(e1->ecx & CPUID_1_ECX_XSAVE) || !(xcr0 & 4))
		SKIP("XSAVE with AVX not offered");
	vcpu_set_cpuid(vcpu, sup);
	svc_init(vcpu);
	svc_call(vcpu, SVC_READ_CR4, 0, 0, 0, &r);
	svc_call(vcpu, SVC_WRITE_CR4, r.eax | CR4_OSXSAVE, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_call(vcpu, SVC_XSETBV, 7, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_call(vcpu, SVC_XGETBV, 0, 0, 0, &r);
	/*
	 * QEMU's TCG (the bed) does not intercept a nested guest's XSETBV:
	 * the write never reaches KVM, which loads its own XCR0 again.
	 */
	if (r.eax != 7)
		SKIP("XSETBV was not intercepted (XGETBV reads 0x%x)", r.eax);
	svc_cpuid(vcpu, 0xd, 0, &r);
	ASSERT_EQ(r.ebx, xsave_size(sup, 7));
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), xsave_size(sup, 7));

	/* An XCR0 the table does not offer (AVX without SSE): #GP. */
	svc_call(vcpu, SVC_XSETBV, 5, 0, 0, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, 13);
}

/* Leaf 0xD is updated even in a table that has no leaf 1. */
TEST(xsave_size_without_leaf_1)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *sup = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	uint64_t xcr0 = supported_xcr0(sup);
	struct kvm_cpuid2 *t = cpuid_alloc(80);
	struct kvm_cpuid_entry2 *d0;

	if (!(xcr0 & 3))
		SKIP("no XSAVE leaf");
	t->nent = 0;
	cpuid_add(t, 0, 0, 0, 0xd, AMD_EBX, AMD_ECX, AMD_EDX);
	for (uint32_t i = 0; i < sup->nent; i++)
		if (sup->entries[i].function == 0xd)
			t->entries[t->nent++] = sup->entries[i];
	d0 = cpuid_find(t, 0xd, 0);
	d0->ebx = 0x1234;		/* stale: KVM must recompute it */
	vcpu_set_cpuid(vcpu, t);
	ASSERT_TRUE(cpuid_find(vcpu_get_cpuid(vcpu), 1, 0) == NULL);
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), 576);

	if (!(xcr0 & 4) || !kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_XCRS))
		return;
	set_xcr0(vcpu, 7);
	ASSERT_EQ(get_leaf_reg(vcpu, 0xd, 0, 1), xsave_size(sup, 7));
}

/* ------------------------------------------------------------------ */
/* Tables KVM refuses                                                  */

TEST(too_many_entries_e2big)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = cpuid_alloc(257);

	for (uint32_t i = 0; i < 257; i++) {
		t->entries[i].function = 0x40000100 + i;
	}
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), E2BIG);
	/* 256 is the limit, and fine. */
	t->nent = 256;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, t));
	free(t);
	t = vcpu_get_cpuid(vcpu);
	ASSERT_EQ(t->nent, 256);
}

TEST(virtual_address_width_checked)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 0x80000008, 0);

	e->eax = 40 << 8 | 40;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), EINVAL);
	e->eax = 32 << 8 | 40;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), EINVAL);
	e->eax = 48 << 8 | 40;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, t));
	e->eax = 57 << 8 | 52;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, t));
	e->eax = 0 << 8 | 40;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, t));
}

TEST(after_run_only_the_same_table)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *got;

	/* Before the first KVM_RUN any table goes. */
	vcpu_set_cpuid(vcpu, t);
	cpuid_find(t, 2, 0)->eax ^= 1;
	vcpu_set_cpuid(vcpu, t);

	svc_init(vcpu);			/* runs the guest */

	/* The same table again: accepted. */
	vcpu_set_cpuid(vcpu, t);
	/* So is what KVM_GET_CPUID2 returns. */
	got = vcpu_get_cpuid(vcpu);
	vcpu_set_cpuid(vcpu, got);

	/* Anything else: EINVAL, and the table in force stays. */
	cpuid_find(t, 2, 0)->eax ^= 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), EINVAL);
	t->nent--;
	cpuid_find(t, 2, 0)->eax ^= 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), EINVAL);
	t->nent = 0;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, t), EINVAL);

	free(got);
	got = vcpu_get_cpuid(vcpu);
	t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	cpuid_find(t, 2, 0)->eax ^= 1;
	ASSERT_EQ(got->nent, t->nent);
	for (uint32_t i = 0; i < t->nent; i++)
		assert_entry_eq(&got->entries[i], &t->entries[i]);
}

/* Linux: a refused table leaves the previous one in force. */
TEST(failed_set_keeps_table_on_linux)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *bad = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *got;

	if (kvm_is_nkvm(vcpu->vm->kvm_fd))
		SKIP("nkvm leaves no entries (failed_set_leaves_no_entries)");
	vcpu_set_cpuid(vcpu, t);
	cpuid_find(bad, 0x80000008, 0)->eax = 40 << 8 | 40;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, bad), EINVAL);
	got = vcpu_get_cpuid(vcpu);
	ASSERT_EQ(got->nent, t->nent);
}

/* nkvm: a refused table is never half-applied: the vCPU has no entries. */
TEST(failed_set_leaves_no_entries)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *t = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *bad = own_table(AMD_EBX, AMD_EDX, AMD_ECX);
	struct kvm_cpuid2 *got = cpuid_alloc(256);
	struct svc_result r;


	if (!kvm_is_nkvm(vcpu->vm->kvm_fd))
		SKIP("Linux keeps the previous table");
	vcpu_set_cpuid(vcpu, t);
	cpuid_find(bad, 0x80000008, 0)->eax = 40 << 8 | 40;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, bad), EINVAL);
	got->nent = 256;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));
	ASSERT_EQ(got->nent, kernel_at_least(6, 5) ? 0 : 256);
	got->nent = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));

	/* Too many entries: the same. */
	vcpu_set_cpuid(vcpu, t);
	free(bad);
	bad = cpuid_alloc(257);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_CPUID2, bad), E2BIG);
	got->nent = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, got));

	/* The guest sees an empty table. */
	svc_init(vcpu);
	svc_cpuid(vcpu, 0, 0, &r);
	ASSERT_EQ(r.eax, 0);
	ASSERT_EQ(r.ebx, 0);
}

/* ------------------------------------------------------------------ */
/* RDTSCP                                                               */

#define CPUID_80000001_EDX_RDTSCP	(1U << 27)
#define CPUID_7_ECX_RDPID		(1U << 22)
#define MSR_TSC_AUX			0xc0000103

/*
 * A vCPU whose table is the supported one, with or without RDTSCP (and
 * RDPID, which also makes RDTSCP run on VMX), in the service guest.
 * NULL if KVM does not offer RDTSCP.
 */
static struct vcpu *rdtscp_vcpu(bool rdtscp)
{
	struct vcpu *vcpu = new_vcpu();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000001, 0);
	struct kvm_cpuid_entry2 *e7 = cpuid_find(c, 7, 0);

	if (!e || !(e->edx & CPUID_80000001_EDX_RDTSCP)) {
		free(c);
		return NULL;
	}
	if (!rdtscp) {
		e->edx &= ~CPUID_80000001_EDX_RDTSCP;
		if (e7)
			e7->ecx &= ~CPUID_7_ECX_RDPID;
	}
	vcpu_set_cpuid(vcpu, c);
	free(c);
	vcpu_set_msr(vcpu, MSR_TSC_AUX, 0x5a5a);
	svc_init(vcpu);
	return vcpu;
}

TEST(rdtscp_reads_tsc_aux_when_offered)
{
	struct vcpu *vcpu = rdtscp_vcpu(true);
	struct svc_result r;

	if (!vcpu)
		SKIP("no RDTSCP in KVM_GET_SUPPORTED_CPUID");
	svc_call(vcpu, SVC_RDTSCP, 0, 0, 0, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(r.ecx, 0x5a5a);
}

/*
 * On AMD the #UD comes from the RDTSCP intercept, which QEMU's TCG (7.2,
 * the SVM bed) ignores under both KVMs: asserted on Intel (the VMX bed),
 * where "enable RDTSCP" left clear makes the CPU raise it.
 */
TEST(rdtscp_ud_when_not_offered)
{
	struct vcpu *vcpu = rdtscp_vcpu(false);
	struct kvm_cpuid2 *c;
	struct svc_result r;
	bool amd;

	if (!vcpu)
		SKIP("no RDTSCP in KVM_GET_SUPPORTED_CPUID");
	c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	amd = cpuid_find(c, 0, 0)->ebx == AMD_EBX;
	free(c);
	if (amd)
		SKIP("AMD: QEMU's TCG ignores the RDTSCP intercept");
	svc_call(vcpu, SVC_RDTSCP, 0, 0, 0, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, 6);
}

TEST_HARNESS_MAIN
