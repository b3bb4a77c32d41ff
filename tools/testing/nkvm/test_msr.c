// SPDX-License-Identifier: GPL-2.0
/*
 * test_msr.c - model-specific registers: the index lists, KVM_GET_MSRS and
 * KVM_SET_MSRS (also on /dev/kvm for the feature MSRs), round trips of the
 * MSRs a VMM saves, what the guest sees with RDMSR/WRMSR, #GP for what it
 * may not do, and the userspace MSR exits and filters.
 *
 * Linux behaviour worth knowing (asserted below):
 *  - KVM_GET_MSR_INDEX_LIST writes the count back even when it fails with
 *    E2BIG.
 *  - KVM_GET_MSRS / KVM_SET_MSRS process the entries in order and return
 *    how many succeeded: they stop at the first that fails.  256 or more
 *    entries: E2BIG.
 *  - A host write to the TSC does not touch TSC_ADJUST; a guest write
 *    moves TSC_ADJUST by as much as it moved the TSC.
 *  - MISC_ENABLE bit 7 (EMON) is read-only for the guest: its writes to
 *    it are dropped without a fault.  Bits 11 and 12 (BTS/PEBS
 *    unavailable) are read-only too, and a guest changing them faults.
 *  - On AMD (the bed), SYSENTER_ESP/EIP keep only their low 32 bits
 *    unless the guest's CPUID says GenuineIntel.
 *  - KVM_CHECK_EXTENSION(KVM_CAP_X86_USER_SPACE_MSR) is 1 on Linux 6.1,
 *    not a mask of exit reasons: only "non-zero" is relied on.
 *  - IA32_ARCH_CAPABILITIES is offered whatever the host has (leaf 7 EDX
 *    bit 29, and in KVM_GET_MSR_INDEX_LIST); a new vCPU starts with the
 *    feature MSR's value; userspace may set any value; a guest reads it
 *    only when its CPUID names it, and never writes it.
 *  - IA32_TSC_DEADLINE is in KVM_GET_MSR_INDEX_LIST; without the
 *    in-kernel APIC it reads 0 and drops writes, for userspace and for
 *    the guest alike (no #GP).
 *  - IA32_POWER_CTL is kept by the kernel (any value, no effect), so it
 *    never exits as "unknown" (userspace_msr_exit_test relies on it); it
 *    is in KVM_GET_MSR_INDEX_LIST.
 *  - KVM_SET_PMU_EVENT_FILTER: action ALLOW or DENY, flags 0, at most 300
 *    events (E2BIG); accepted even where the guest has no PMU.
 *  - Machine checks (KVM_CAP_MCE = 32 banks): before KVM_X86_SETUP_MCE a
 *    vCPU has MCG_CAP = 32 (banks, no MCG_CTL).  KVM_X86_SET_MCE fills a
 *    bank; an uncorrected error raises #MC, or shuts the vCPU down when
 *    CR4.MCE is clear.  On AMD no CMCI is offered, and KVM_X86_SETUP_MCE
 *    drops MCG_CAP bits 63:9 (MCG_SER_P included).
 *  - RDTSCP (when the guest's CPUID offers it) returns TSC_AUX in ECX.
 *    TSC_AUX bits 63:32 are dropped unless the guest is GenuineIntel
 *    (then they are reserved).  (Without RDTSCP in its CPUID the guest
 *    should get #UD, but QEMU's TCG runs it all the same, under Linux KVM
 *    too, so that is not checked.)
 *  - AMD's VIRT_SPEC_CTRL (0xc001011f), on SVM: KVM_GET_SUPPORTED_CPUID
 *    offers VIRT_SSBD (leaf 0x80000008 EBX bit 25) wherever the host can
 *    disable speculative store bypass at all (/proc/cpuinfo "ssbd": by
 *    AMD_SSBD, VIRT_SSBD or LS_CFG; the SVM bed's TCG EPYC has only
 *    LS_CFG).  The MSR is in KVM_GET_MSR_INDEX_LIST whatever the host
 *    has; userspace reads and writes it always, the guest only with
 *    VIRT_SSBD in its CPUID (else #GP); only bit 2 (SSBD) may be set,
 *    by either (else #GP, or KVM_SET_MSRS stops).
 */
#include <sys/ioctl.h>

#include "vm.h"

#define MSR_IA32_TSC		0x10
#define MSR_IA32_APICBASE	0x1b
#define MSR_IA32_TSC_ADJUST	0x3b
#define MSR_IA32_UCODE_REV	0x8b
#define MSR_ARCH_CAPABILITIES	0x10a
#define MSR_TSC_DEADLINE	0x6e0
#define MSR_PLATFORM_INFO	0xce
#define MSR_MTRRcap		0xfe
#define MSR_POWER_CTL		0x1fc
#define MSR_SYSENTER_CS		0x174
#define MSR_SYSENTER_ESP	0x175
#define MSR_SYSENTER_EIP	0x176
#define MSR_MISC_ENABLE		0x1a0
#define MSR_MTRR_BASE(n)	(0x200 + 2 * (n))
#define MSR_MTRR_MASK(n)	(0x201 + 2 * (n))
#define MSR_MTRRfix64K_00000	0x250
#define MSR_MTRRfix16K_80000	0x258
#define MSR_MTRRfix16K_A0000	0x259
#define MSR_MTRRfix4K_C0000	0x268
#define MSR_MTRRfix4K_F8000	0x26f
#define MSR_PAT			0x277
#define MSR_MTRRdefType		0x2ff
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SFMASK		0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_VIRT_SPEC_CTRL	0xc001011f

#define C8_EBX_VIRT_SSBD	(1U << 25)
#define VIRT_SPEC_CTRL_SSBD	(1ULL << 2)

#define MSR_UNKNOWN		0xdeadbeef	/* nobody's MSR */

#define EFER_LME		(1ULL << 8)
#define MISC_ENABLE_EMON	(1ULL << 7)
#define MISC_ENABLE_BTS_UNAVAIL	(1ULL << 11)
#define MISC_ENABLE_PEBS_UNAVAIL (1ULL << 12)

#define GP_VECTOR 13

#define KVM_EXIT_X86_RDMSR_ 29
#define KVM_EXIT_X86_WRMSR_ 30

/* A VM with the service guest running on vCPU 0. */
static struct vcpu *svc_vcpu(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	svc_init(vcpu);
	return vcpu;
}

/* A GenuineIntel or AuthenticAMD host? (leaf 0 of the supported CPUID) */
static bool host_is_amd(int kvm_fd)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);
	bool amd = e && e->ebx == 0x68747541;

	free(c);
	return amd;
}

static struct kvm_msr_list *msr_list(int kvm_fd, unsigned long req)
{
	struct kvm_msr_list head = { .nmsrs = 0 };
	struct kvm_msr_list *l;
	uint32_t n;

	ASSERT_ERRNO(ioctl(kvm_fd, req, &head), E2BIG);
	n = head.nmsrs;
	l = calloc(1, sizeof(*l) + (n + 8) * sizeof(uint32_t));
	ASSERT_TRUE(l != NULL);
	l->nmsrs = n + 8;
	ASSERT_OK(ioctl(kvm_fd, req, l));
	ASSERT_EQ(l->nmsrs, n);
	return l;
}

static bool list_has(const struct kvm_msr_list *l, uint32_t index)
{
	for (uint32_t i = 0; i < l->nmsrs; i++)
		if (l->indices[i] == index)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* The lists                                                           */

TEST(msr_index_list)
{
	int kvm = kvm_open();
	struct kvm_msr_list head = { .nmsrs = 0 };
	struct kvm_msr_list *l;
	uint32_t n;

	/* E2BIG, and the count comes back all the same. */
	ASSERT_ERRNO(ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &head), E2BIG);
	n = head.nmsrs;
	ASSERT_GT(n, 8);
	head.nmsrs = 1;
	ASSERT_ERRNO(ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &head), E2BIG);
	ASSERT_EQ(head.nmsrs, n);

	l = msr_list(kvm, KVM_GET_MSR_INDEX_LIST);
	ASSERT_EQ(l->nmsrs, n);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			ASSERT_NE(l->indices[i], l->indices[j]);
	/* What every VMM saves is there. */
	EXPECT_TRUE(list_has(l, MSR_IA32_TSC));
	EXPECT_TRUE(list_has(l, MSR_STAR));
	EXPECT_TRUE(list_has(l, MSR_LSTAR));
	EXPECT_TRUE(list_has(l, MSR_SYSENTER_CS));
	EXPECT_TRUE(list_has(l, MSR_PAT));
	EXPECT_TRUE(list_has(l, MSR_KERNEL_GS_BASE));
}

/*
 * Linux's paravirtual MSRs (KVM's 0x4b564dxx, Hyper-V's 0x400000xx) are in
 * the list, but some refuse their reset value without an in-kernel LAPIC
 * (MSR_KVM_ASYNC_PF_INT, for one).
 */
static bool pv_msr(uint32_t index)
{
	return (index >= 0x4b564d00 && index <= 0x4b564dff) ||
	       (index >= 0x40000000 && index <= 0x400000ff);
}

TEST(msr_index_list_all_readable)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_msr_list *l = msr_list(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST);
	struct kvm_msrs *m;
	int r;

	m = calloc(1, sizeof(*m) + l->nmsrs * sizeof(struct kvm_msr_entry));
	ASSERT_TRUE(m != NULL);
	m->nmsrs = l->nmsrs;
	for (uint32_t i = 0; i < l->nmsrs; i++)
		m->entries[i].index = l->indices[i];
	r = ioctl(vcpu->fd, KVM_GET_MSRS, m);
	if (r >= 0 && r < (int)l->nmsrs)
		TH_LOG("KVM_GET_MSRS stopped at MSR 0x%x", l->indices[r]);
	ASSERT_EQ(r, l->nmsrs);

	/* And they can be written back as they are, one by one. */
	for (uint32_t i = 0; i < l->nmsrs; i++) {
		struct kvm_msr_entry *e = &m->entries[i];

		if (pv_msr(e->index))
			continue;
		if (vcpu_set_msr_raw(vcpu, e->index, e->data) != 1) {
			TH_LOG("KVM_SET_MSRS refused MSR 0x%x = 0x%llx", e->index,
			       (unsigned long long)e->data);
			th_expect_failed = 1;
		}
	}
}

TEST(feature_msrs)
{
	int kvm = kvm_open();
	struct kvm_msr_list *l;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} m;

	if (!kvm_check_cap(kvm, KVM_CAP_GET_MSR_FEATURES))
		SKIP("no KVM_CAP_GET_MSR_FEATURES");
	l = msr_list(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST);
	ASSERT_GT(l->nmsrs, 0);
	EXPECT_TRUE(list_has(l, MSR_IA32_UCODE_REV));
	for (uint32_t i = 0; i < l->nmsrs; i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 1;
		m.e[0].index = l->indices[i];
		m.e[0].data = 0x5a5a5a5a5a5a5a5aULL;
		if (ioctl(kvm, KVM_GET_MSRS, &m) != 1) {
			TH_LOG("feature MSR 0x%x not readable on /dev/kvm",
			       l->indices[i]);
			th_expect_failed = 1;
		}
	}
	/* An MSR that is not a feature MSR: nothing read. */
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 2;
	m.e[0].index = MSR_IA32_UCODE_REV;
	m.e[1].index = MSR_UNKNOWN;
	ASSERT_EQ(ioctl(kvm, KVM_GET_MSRS, &m), 1);
	m.e[0].index = MSR_STAR;
	ASSERT_EQ(ioctl(kvm, KVM_GET_MSRS, &m), 0);
}

/* ------------------------------------------------------------------ */
/* KVM_GET_MSRS / KVM_SET_MSRS                                          */

TEST(msrs_stop_at_first_bad_index)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[4];
	} m;

	vcpu_set_msr(vcpu, MSR_STAR, 0);
	vcpu_set_msr(vcpu, MSR_LSTAR, 0);
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 4;
	m.e[0].index = MSR_STAR;
	m.e[0].data = 0x0023001000000000ULL;
	m.e[1].index = MSR_SFMASK;
	m.e[1].data = 0x47700;
	m.e[2].index = MSR_UNKNOWN;
	m.e[2].data = 1;
	m.e[3].index = MSR_LSTAR;
	m.e[3].data = 0xffffffff81000000ULL;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MSRS, &m), 2);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_STAR), 0x0023001000000000ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_SFMASK), 0x47700);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_LSTAR), 0);	/* never reached */

	memset(&m.e[0].data, 0, sizeof(m.e[0].data));
	m.e[0].data = m.e[1].data = m.e[2].data = m.e[3].data = 0x77;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MSRS, &m), 2);
	ASSERT_EQ(m.e[0].data, 0x0023001000000000ULL);
	ASSERT_EQ(m.e[1].data, 0x47700);

	/* The first one bad: nothing done. */
	m.e[0].index = MSR_UNKNOWN;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MSRS, &m), 0);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MSRS, &m), 0);

	/* No entries: nothing to do. */
	m.hdr.nmsrs = 0;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MSRS, &m), 0);
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MSRS, &m), 0);
}

TEST(msrs_too_many_e2big)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_msrs *m = calloc(1, sizeof(*m) + 256 * sizeof(m->entries[0]));

	ASSERT_TRUE(m != NULL);
	for (int i = 0; i < 256; i++)
		m->entries[i].index = MSR_STAR;
	m->nmsrs = 256;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_MSRS, m), E2BIG);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_MSRS, m), E2BIG);
	m->nmsrs = 255;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MSRS, m), 255);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

struct msr_value {
	uint32_t index;
	uint64_t value;
};

static const struct msr_value syscall_msrs[] = {
	{ MSR_STAR, 0x0023001000000000ULL },
	{ MSR_LSTAR, 0xffffffff81a00000ULL },
	{ MSR_CSTAR, 0xffffffff81a00040ULL },
	{ MSR_SFMASK, 0x47700 },
	{ MSR_KERNEL_GS_BASE, 0xffff888012340000ULL },
	{ MSR_FS_BASE, 0x00007f1234567000ULL },
	{ MSR_GS_BASE, 0xffff888076540000ULL },
	{ MSR_SYSENTER_CS, 0x10 },
	{ MSR_SYSENTER_ESP, 0x12345670 },
	{ MSR_SYSENTER_EIP, 0x81234560 },
};

TEST(syscall_msrs_host_round_trip)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	for (size_t i = 0; i < sizeof(syscall_msrs) / sizeof(syscall_msrs[0]); i++)
		vcpu_set_msr(vcpu, syscall_msrs[i].index, syscall_msrs[i].value);
	for (size_t i = 0; i < sizeof(syscall_msrs) / sizeof(syscall_msrs[0]); i++)
		EXPECT_EQ(vcpu_get_msr(vcpu, syscall_msrs[i].index),
			  syscall_msrs[i].value);
}

TEST(syscall_msrs_seen_by_guest)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	/* The host writes, the guest reads. */
	for (size_t i = 0; i < sizeof(syscall_msrs) / sizeof(syscall_msrs[0]); i++) {
		uint32_t idx = syscall_msrs[i].index;

		/* FS and GS bases are segment state: not for a real-mode guest. */
		if (idx == MSR_FS_BASE || idx == MSR_GS_BASE)
			continue;
		vcpu_set_msr(vcpu, idx, syscall_msrs[i].value);
		ASSERT_EQ(svc_rdmsr(vcpu, idx, &v), 0);
		EXPECT_EQ(v, syscall_msrs[i].value);
	}
	/* The guest writes, the host reads. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_LSTAR, 0xffffffff8badf000ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_LSTAR), 0xffffffff8badf000ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_STAR, 0x001b000800000000ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_STAR), 0x001b000800000000ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SYSENTER_CS, 0x23), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_SYSENTER_CS), 0x23);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_KERNEL_GS_BASE, 0x1000), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_KERNEL_GS_BASE), 0x1000);
}

TEST(noncanonical_refused)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	static const uint32_t idx[] = { MSR_LSTAR, MSR_CSTAR, MSR_KERNEL_GS_BASE,
					MSR_FS_BASE, MSR_GS_BASE };

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		vcpu_set_msr(vcpu, idx[i], 0x1000);
		ASSERT_EQ(vcpu_set_msr_raw(vcpu, idx[i], 0x0000800000000000ULL), 0);
		ASSERT_EQ(vcpu_get_msr(vcpu, idx[i]), 0x1000);
	}
	/*
	 * A guest WRMSR is not tried: Linux lets the guest access LSTAR and
	 * friends directly, and the bed's TCG does not check the value.
	 */
}

/* AMD keeps only 32 bits of SYSENTER_ESP/EIP (unless the guest is "Intel"). */
TEST(sysenter_32bit_on_amd)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);


	if (!host_is_amd(vm->kvm_fd))
		SKIP("not an AMD host");
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_SYSENTER_EIP, 0xffffffff81234560ULL), 1);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_SYSENTER_EIP), 0x81234560);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_SYSENTER_ESP, 0xffff888000001000ULL), 1);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_SYSENTER_ESP), 0x00001000);
	/* Even a non-canonical value: its top half is ignored. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_SYSENTER_EIP, 0x8000000012345678ULL), 1);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_SYSENTER_EIP), 0x12345678);
}

TEST(pat)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	/* The power-on value. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PAT), 0x0007040600070406ULL);
	vcpu_set_msr(vcpu, MSR_PAT, 0x0007010600070106ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PAT), 0x0007010600070106ULL);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_PAT, &v), 0);
	ASSERT_EQ(v, 0x0007010600070106ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PAT, 0x0505050505050505ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PAT), 0x0505050505050505ULL);

	/* Types 2 and 3 and 8 and up do not exist. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_PAT, 0x0007040600070402ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_PAT, 0x0307040600070406ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_PAT, 0x0007040600070408ULL), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PAT, 0x0202020202020202ULL), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PAT), 0x0505050505050505ULL);
}

TEST(mtrrs)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRcap), 0x508);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MTRRcap, &v), 0);
	ASSERT_EQ(v, 0x508);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRRcap, 0x508), GP_VECTOR);

	/* Default type: E, FE, type; nothing else. */
	vcpu_set_msr(vcpu, MSR_MTRRdefType, 0xc06);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRdefType), 0xc06);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRRdefType, 0xc02), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRRdefType, 0xc07), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRRdefType, 0x1c06), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRdefType), 0xc06);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRRdefType, 0x800), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRdefType), 0x800);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRRdefType, 0x803), GP_VECTOR);

	/* Fixed ranges: eight valid types each. */
	vcpu_set_msr(vcpu, MSR_MTRRfix64K_00000, 0x0606060606060606ULL);
	vcpu_set_msr(vcpu, MSR_MTRRfix16K_80000, 0x0000000006060606ULL);
	vcpu_set_msr(vcpu, MSR_MTRRfix16K_A0000, 0x0505050500000000ULL);
	vcpu_set_msr(vcpu, MSR_MTRRfix4K_C0000, 0x0504010006050401ULL);
	vcpu_set_msr(vcpu, MSR_MTRRfix4K_F8000, 0x0505050505050505ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix64K_00000), 0x0606060606060606ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix16K_80000), 0x0000000006060606ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix16K_A0000), 0x0505050500000000ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix4K_C0000), 0x0504010006050401ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix4K_F8000), 0x0505050505050505ULL);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRRfix64K_00000,
				   0x0606060606060603ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRRfix4K_C0000,
				   0x0706060606060606ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRRfix64K_00000), 0x0606060606060606ULL);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MTRRfix4K_C0000, &v), 0);
	ASSERT_EQ(v, 0x0504010006050401ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRRfix4K_C0000, 0x0202020202020202ULL),
		  GP_VECTOR);

	/*
	 * Variable ranges (8 pairs), with no CPUID the guest's MAXPHYADDR
	 * is 36: base = address | type, mask = address mask | valid (bit 11).
	 */
	for (int n = 0; n < 8; n++) {
		vcpu_set_msr(vcpu, MSR_MTRR_BASE(n), 0x80000000ULL | (n & 1 ? 6 : 5));
		vcpu_set_msr(vcpu, MSR_MTRR_MASK(n), 0xfc0000800ULL);
	}
	for (int n = 0; n < 8; n++) {
		ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRR_BASE(n)),
			  0x80000000ULL | (n & 1 ? 6 : 5));
		ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRR_MASK(n)), 0xfc0000800ULL);
	}
	/* Bad type, reserved low bits, bits beyond MAXPHYADDR. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRR_BASE(0), 0x80000002ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRR_BASE(0), 0x80000106ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRR_BASE(0), 0x1000000006ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRR_MASK(0), 0xfc0000801ULL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MTRR_MASK(0), 0x1fc0000800ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRR_BASE(0)), 0x80000005ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRR_MASK(0)), 0xfc0000800ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRR_BASE(1), 0xc0000000ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MTRR_BASE(1)), 0xc0000000ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MTRR_BASE(1), 0xc0000007ULL), GP_VECTOR);
	/* Only 8 pairs. */
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_MTRR_BASE(8), &v), 0);
}

TEST(tsc_host_write_seen_by_guest)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	uint64_t slack, t = 1ULL << 40, v;
	struct svc_result r;

	ASSERT_GT(khz, 0);
	slack = khz * 1000 * 30;	/* 30 s: the bed is slow */
	vcpu_set_msr(vcpu, MSR_IA32_TSC, t);
	v = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	ASSERT_GE(v, t);
	ASSERT_LT(v, t + slack);

	svc_call(vcpu, SVC_RDTSC, 0, 0, 0, &r);
	v = r.eax | (uint64_t)r.edx << 32;
	ASSERT_GE(v, t);
	ASSERT_LT(v, t + slack);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_IA32_TSC, &v), 0);
	ASSERT_GE(v, t);
	ASSERT_LT(v, t + slack);
	ASSERT_LE(v, vcpu_get_msr(vcpu, MSR_IA32_TSC));

	/* The host's write left TSC_ADJUST alone. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST), 0);
}

TEST(tsc_guest_write_moves_tsc_adjust)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	uint64_t slack, t1, y, v;
	const uint64_t d = 1ULL << 41;
	int64_t adj;
	struct svc_result r;

	ASSERT_GT(khz, 0);
	slack = khz * 1000 * 30;
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST), 0);

	svc_call(vcpu, SVC_RDTSC, 0, 0, 0, &r);
	t1 = r.eax | (uint64_t)r.edx << 32;
	y = t1 + d;
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_IA32_TSC, y), 0);
	adj = vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST);
	/* It moved by y - (the TSC when written), which is at least t1. */
	ASSERT_LE(adj, (int64_t)d);
	ASSERT_GT(adj, (int64_t)(d - slack));
	v = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	ASSERT_GE(v, y);
	ASSERT_LT(v, y + slack);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_IA32_TSC_ADJUST, &v), 0);
	ASSERT_EQ(v, (uint64_t)adj);

	/* A host write to the TSC leaves TSC_ADJUST where it was. */
	vcpu_set_msr(vcpu, MSR_IA32_TSC, 1ULL << 44);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_IA32_TSC_ADJUST), (uint64_t)adj);
	v = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	ASSERT_GE(v, 1ULL << 44);
	ASSERT_LT(v, (1ULL << 44) + slack);
}

TEST(misc_enable_emon)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v, reset;

	/* No PMU in this vCPU (no CPUID; and the bed's host has none). */
	reset = vcpu_get_msr(vcpu, MSR_MISC_ENABLE);
	ASSERT_EQ(reset & MISC_ENABLE_EMON, 0);
	ASSERT_TRUE(reset & MISC_ENABLE_BTS_UNAVAIL);
	ASSERT_TRUE(reset & MISC_ENABLE_PEBS_UNAVAIL);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
	ASSERT_EQ(v, reset);

	/* The guest setting EMON: ignored, no fault. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MISC_ENABLE, reset | MISC_ENABLE_EMON), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), reset);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
	ASSERT_EQ(v, reset);

	/* The guest changing BTS/PEBS unavailable: #GP. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MISC_ENABLE, reset & ~MISC_ENABLE_BTS_UNAVAIL),
		  GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MISC_ENABLE, reset & ~MISC_ENABLE_PEBS_UNAVAIL),
		  GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), reset);

	/* The host may set EMON; the guest cannot clear it then. */
	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, reset | MISC_ENABLE_EMON);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
	ASSERT_EQ(v, reset | MISC_ENABLE_EMON);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MISC_ENABLE, reset), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), reset | MISC_ENABLE_EMON);
	/* And the host may clear it again. */
	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, reset);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), reset);
}

TEST(unknown_msr_gp)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_UNKNOWN, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_UNKNOWN, 1), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_UNKNOWN, &v), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_UNKNOWN, 1), 0);
	/* The guest goes on normally afterwards. */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_PAT, &v), 0);
	ASSERT_EQ(v, 0x0007040600070406ULL);
}

/* ------------------------------------------------------------------ */
/* Userspace MSR exits and filters                                      */

static void assert_msr_exit(struct vcpu *vcpu, uint32_t exit, uint32_t index,
			    uint32_t reason)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason != exit) {
		th_log("%s: exit reason %u, expected %u", th_current,
		       run->exit_reason, exit);
		th_fail_now();
	}
	ASSERT_EQ(run->msr.index, index);
	ASSERT_EQ(run->msr.reason, reason);
	ASSERT_EQ(run->msr.error, 0);
}

TEST(user_space_msr_unknown)
{
	struct vcpu *vcpu = svc_vcpu();
	struct kvm_run *run = vcpu->run;
	struct svc_result r;
	int caps = kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_USER_SPACE_MSR);

	if (!caps)
		SKIP("no KVM_CAP_X86_USER_SPACE_MSR");
	ASSERT_ERRNO(vm_enable_cap_raw(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
				       0x80), EINVAL);
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
		      KVM_MSR_EXIT_REASON_UNKNOWN);

	/* RDMSR: userspace supplies the value. */
	svc_start(vcpu, SVC_RDMSR, 0, MSR_UNKNOWN, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_RDMSR_, MSR_UNKNOWN,
			KVM_MSR_EXIT_REASON_UNKNOWN);
	run->msr.data = 0x1122334455667788ULL;
	run->msr.error = 0;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(r.eax, 0x55667788);
	ASSERT_EQ(r.edx, 0x11223344);

	/* WRMSR: userspace gets EDX:EAX. */
	svc_start(vcpu, SVC_WRMSR, 0xcafef00d, MSR_UNKNOWN, 0x12345678);
	assert_msr_exit(vcpu, KVM_EXIT_X86_WRMSR_, MSR_UNKNOWN,
			KVM_MSR_EXIT_REASON_UNKNOWN);
	ASSERT_EQ(run->msr.data, 0x12345678cafef00dULL);
	run->msr.error = 0;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);

	/* error = 1: #GP in the guest. */
	svc_start(vcpu, SVC_RDMSR, 0, MSR_UNKNOWN + 1, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_RDMSR_, MSR_UNKNOWN + 1,
			KVM_MSR_EXIT_REASON_UNKNOWN);
	run->msr.error = 1;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, GP_VECTOR);

	svc_start(vcpu, SVC_WRMSR, 1, MSR_UNKNOWN, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_WRMSR_, MSR_UNKNOWN,
			KVM_MSR_EXIT_REASON_UNKNOWN);
	run->msr.error = 1;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, GP_VECTOR);

	/* A known MSR with a bad value is not "unknown": #GP, no exit. */
	svc_call(vcpu, SVC_WRMSR, 2, MSR_PAT, 0, &r);
	ASSERT_TRUE(r.faulted);

	/* Known MSRs do not exit at all. */
	vcpu_set_msr(vcpu, MSR_STAR, 0x42);
	svc_call(vcpu, SVC_RDMSR, 0, MSR_STAR, 0, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(r.eax, 0x42);
}

TEST(user_space_msr_inval)
{
	struct vcpu *vcpu = svc_vcpu();
	struct kvm_run *run = vcpu->run;
	struct svc_result r;
	int caps = kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_USER_SPACE_MSR);

	if (!caps)
		SKIP("no KVM_CAP_X86_USER_SPACE_MSR");
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
		      KVM_MSR_EXIT_REASON_INVAL);
	/* A known MSR refusing its value goes to userspace. */
	svc_start(vcpu, SVC_WRMSR, 2, MSR_PAT, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_WRMSR_, MSR_PAT,
			KVM_MSR_EXIT_REASON_INVAL);
	ASSERT_EQ(run->msr.data, 2);
	run->msr.error = 0;		/* userspace takes it */
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PAT), 0x0007040600070406ULL);

	/* An unknown one does not (only INVAL was asked for): #GP. */
	svc_call(vcpu, SVC_RDMSR, 0, MSR_UNKNOWN, 0, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, GP_VECTOR);
}

static int set_filter(struct vm *vm, uint32_t flags, uint32_t range_flags,
		      uint32_t base, uint32_t nmsrs, uint64_t *bitmap)
{
	struct kvm_msr_filter f;

	memset(&f, 0, sizeof(f));
	f.flags = flags;
	if (nmsrs) {
		f.ranges[0].flags = range_flags;
		f.ranges[0].base = base;
		f.ranges[0].nmsrs = nmsrs;
		f.ranges[0].bitmap = (uint8_t *)bitmap;
	}
	return ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &f);
}

TEST(msr_filter_denies_gp)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t deny = 0, allow = 1, v;

	if (!kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_X86_MSR_FILTER))
		SKIP("no KVM_CAP_X86_MSR_FILTER");
	vcpu_set_msr(vcpu, MSR_STAR, 0x4242);
	vcpu_set_msr(vcpu, MSR_LSTAR, 0x1000);

	/* Bad filters. */
	ASSERT_ERRNO(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_DENY, 0, 0, 0,
				NULL), EINVAL);
	ASSERT_ERRNO(set_filter(vcpu->vm, 0x80, 0, 0, 0, NULL), EINVAL);
	ASSERT_ERRNO(set_filter(vcpu->vm, 0, 0, MSR_STAR, 1, &deny), EINVAL);
	ASSERT_ERRNO(set_filter(vcpu->vm, 0, 0x10, MSR_STAR, 1, &deny), EINVAL);

	/* STAR denied for reads and writes. */
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_ALLOW,
			     KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			     MSR_STAR, 1, &deny));
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_STAR, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_STAR, 1), GP_VECTOR);
	/* The host is never filtered. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_STAR), 0x4242);
	/* Other MSRs are not affected. */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_LSTAR, &v), 0);
	ASSERT_EQ(v, 0x1000);

	/* Writes only. */
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_ALLOW,
			     KVM_MSR_FILTER_WRITE, MSR_STAR, 1, &deny));
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_STAR, &v), 0);
	ASSERT_EQ(v, 0x4242);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_STAR, 1), GP_VECTOR);

	/* Default deny, STAR allowed. */
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_DENY,
			     KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			     MSR_STAR, 1, &allow));
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_STAR, &v), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_LSTAR, &v), GP_VECTOR);

	/* No filter any more. */
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_ALLOW, 0, 0, 0, NULL));
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_STAR, &v), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_LSTAR, &v), 0);
}

TEST(msr_filter_exits_to_userspace)
{
	struct vcpu *vcpu = svc_vcpu();
	struct kvm_run *run = vcpu->run;
	uint64_t deny = 0;
	struct svc_result r;
	int caps = kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_USER_SPACE_MSR);

	if (!caps ||
	    !kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_X86_MSR_FILTER))
		SKIP("no MSR filter exits");
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
		      KVM_MSR_EXIT_REASON_FILTER);
	vcpu_set_msr(vcpu, MSR_STAR, 0x4242);
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_ALLOW,
			     KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			     MSR_STAR, 1, &deny));

	svc_start(vcpu, SVC_RDMSR, 0, MSR_STAR, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_RDMSR_, MSR_STAR,
			KVM_MSR_EXIT_REASON_FILTER);
	run->msr.data = 0xabcdef;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(r.eax, 0xabcdef);
	ASSERT_EQ(r.edx, 0);

	svc_start(vcpu, SVC_WRMSR, 7, MSR_STAR, 8);
	assert_msr_exit(vcpu, KVM_EXIT_X86_WRMSR_, MSR_STAR,
			KVM_MSR_EXIT_REASON_FILTER);
	ASSERT_EQ(run->msr.data, 0x800000007ULL);
	run->msr.error = 1;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_TRUE(r.faulted);
	ASSERT_EQ(r.vector, GP_VECTOR);
	/* The MSR itself never changed. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_STAR), 0x4242);

	/* An unknown MSR, not filtered: #GP (UNKNOWN was not asked for). */
	svc_call(vcpu, SVC_RDMSR, 0, MSR_UNKNOWN, 0, &r);
	ASSERT_TRUE(r.faulted);
}

TEST(platform_info_cap)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_MSR_PLATFORM_INFO))
		SKIP("no KVM_CAP_MSR_PLATFORM_INFO");
	/* Readable by default. */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_PLATFORM_INFO, &v), 0);
	ASSERT_EQ(v, vcpu_get_msr(vcpu, MSR_PLATFORM_INFO));

	vm_enable_cap(vcpu->vm, KVM_CAP_MSR_PLATFORM_INFO, 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_PLATFORM_INFO, &v), GP_VECTOR);
	/* The host still reads and writes it. */
	vcpu_set_msr(vcpu, MSR_PLATFORM_INFO, 0x8000);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_PLATFORM_INFO), 0x8000);

	vm_enable_cap(vcpu->vm, KVM_CAP_MSR_PLATFORM_INFO, 1);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_PLATFORM_INFO, &v), 0);
	ASSERT_EQ(v, 0x8000);
	/* Never writable by the guest. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PLATFORM_INFO, 0x8000), GP_VECTOR);
}

TEST(power_ctl_kept)
{
	struct vcpu *vcpu = svc_vcpu();
	struct kvm_msr_list *l = msr_list(vcpu->vm->kvm_fd,
					  KVM_GET_MSR_INDEX_LIST);
	struct svc_result r;
	uint64_t v;

	ASSERT_TRUE(list_has(l, MSR_POWER_CTL));
	free(l);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_POWER_CTL), 0);
	vcpu_set_msr(vcpu, MSR_POWER_CTL, 0x1234);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_POWER_CTL, &v), 0);
	ASSERT_EQ(v, 0x1234);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_POWER_CTL, 0xffffffff00000001ULL), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_POWER_CTL), 0xffffffff00000001ULL);

	/* Known: with every userspace exit asked for, still no exit. */
	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_USER_SPACE_MSR))
		return;
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
		      KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
		      KVM_MSR_EXIT_REASON_FILTER);
	svc_call(vcpu, SVC_WRMSR, 0x1234, MSR_POWER_CTL, 0, &r);
	ASSERT_FALSE(r.faulted);
	svc_call(vcpu, SVC_RDMSR, 0, MSR_POWER_CTL, 0, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(r.eax, 0x1234);
}

static uint64_t feature_msr(int kvm_fd, uint32_t index)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e[0].index = index;
	ASSERT_EQ(ioctl(kvm_fd, KVM_GET_MSRS, &m), 1);
	return m.e[0].data;
}

/* A service guest whose CPUID is the supported one, leaf 7 EDX as given. */
static struct vcpu *svc_vcpu_c7_edx(bool arch_cap)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 7, 0);

	ASSERT_TRUE(e != NULL);
	if (!arch_cap)
		e->edx &= ~(1U << 29);
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);
	return vcpu;
}

TEST(arch_capabilities)
{
	struct vcpu *vcpu = svc_vcpu_c7_edx(true);
	int kvm = vcpu->vm->kvm_fd;
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 7, 0);
	struct kvm_msr_list *l = msr_list(kvm, KVM_GET_MSR_INDEX_LIST);
	uint64_t feat, v;

	/* Emulated: offered whatever the host has. */
	ASSERT_TRUE(e != NULL);
	ASSERT_TRUE(e->edx & (1U << 29));
	free(c);
	ASSERT_TRUE(list_has(l, MSR_ARCH_CAPABILITIES));
	free(l);
	l = msr_list(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST);
	ASSERT_TRUE(list_has(l, MSR_ARCH_CAPABILITIES));
	free(l);
	feat = feature_msr(kvm, MSR_ARCH_CAPABILITIES);

	/* A new vCPU starts with the feature MSR's value; the guest reads it. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_ARCH_CAPABILITIES), feat);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_ARCH_CAPABILITIES, &v), 0);
	ASSERT_EQ(v, feat);
	/* Userspace sets what it likes; the guest never writes it. */
	vcpu_set_msr(vcpu, MSR_ARCH_CAPABILITIES, feat ^ 0x21);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_ARCH_CAPABILITIES, &v), 0);
	ASSERT_EQ(v, feat ^ 0x21);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_ARCH_CAPABILITIES, feat), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_ARCH_CAPABILITIES), feat ^ 0x21);

	/* Not in the guest's CPUID: #GP, while userspace still reads it. */
	vcpu = svc_vcpu_c7_edx(false);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_ARCH_CAPABILITIES, &v), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_ARCH_CAPABILITIES), feat);
}

TEST(tsc_deadline_without_in_kernel_apic)
{
	struct vcpu *vcpu = svc_vcpu();
	struct kvm_msr_list *l = msr_list(vcpu->vm->kvm_fd,
					  KVM_GET_MSR_INDEX_LIST);
	uint64_t v;

	ASSERT_TRUE(list_has(l, MSR_TSC_DEADLINE));
	free(l);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_TSC_DEADLINE), 0);
	vcpu_set_msr(vcpu, MSR_TSC_DEADLINE, 0x123456789ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_TSC_DEADLINE), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_TSC_DEADLINE, 0x123456789ULL), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_TSC_DEADLINE, &v), 0);
	ASSERT_EQ(v, 0);
}

/* A filter that denies writes of POWER_CTL: FILTER wins over "known". */
TEST(msr_filter_before_known_msr)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t bits = 0;
	uint64_t v;

	if (!kvm_check_cap(vcpu->vm->fd, KVM_CAP_X86_MSR_FILTER))
		SKIP("no KVM_CAP_X86_MSR_FILTER");
	vm_enable_cap(vcpu->vm, KVM_CAP_X86_USER_SPACE_MSR,
		      KVM_MSR_EXIT_REASON_FILTER);
	ASSERT_OK(set_filter(vcpu->vm, KVM_MSR_FILTER_DEFAULT_ALLOW,
			     KVM_MSR_FILTER_WRITE, MSR_POWER_CTL, 1, &bits));
	svc_start(vcpu, SVC_WRMSR, 0x1234, MSR_POWER_CTL, 0);
	assert_msr_exit(vcpu, KVM_EXIT_X86_WRMSR_, MSR_POWER_CTL,
			KVM_MSR_EXIT_REASON_FILTER);
	ASSERT_EQ(vcpu->run->msr.data, 0x1234);
	vcpu_run(vcpu);
	svc_finish(vcpu, &(struct svc_result){ 0 });
	/* Userspace took the write; reads still go to the kernel. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_POWER_CTL), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_POWER_CTL, &v), 0);
	ASSERT_EQ(v, 0);
}

static int set_pmu_filter(struct vm *vm, uint32_t action, uint32_t flags,
			  uint32_t nevents)
{
	struct kvm_pmu_event_filter *f;
	int r;

	f = calloc(1, sizeof(*f) + nevents * sizeof(f->events[0]));
	ASSERT_TRUE(f != NULL);
	f->action = action;
	f->flags = flags;
	f->nevents = nevents;
	for (uint32_t i = 0; i < nevents; i++)
		f->events[i] = 0xc0 + i;
	r = ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, f);
	free(f);
	return r;
}

TEST(pmu_event_filter_checked)
{
	struct vcpu *vcpu = svc_vcpu();
	struct vm *vm = vcpu->vm;

	if (!kvm_check_cap(vm->fd, KVM_CAP_PMU_EVENT_FILTER))
		SKIP("no KVM_CAP_PMU_EVENT_FILTER");
	ASSERT_ERRNO(set_pmu_filter(vm, 2, 0, 1), EINVAL);
	ASSERT_ERRNO(set_pmu_filter(vm, KVM_PMU_EVENT_ALLOW, 0x80, 1), EINVAL);
	ASSERT_ERRNO(set_pmu_filter(vm, KVM_PMU_EVENT_DENY, 0, 301), E2BIG);
	ASSERT_OK(set_pmu_filter(vm, KVM_PMU_EVENT_DENY, 0, 300));
	ASSERT_OK(set_pmu_filter(vm, KVM_PMU_EVENT_ALLOW, 0, 2));
	ASSERT_OK(set_pmu_filter(vm, KVM_PMU_EVENT_ALLOW, 0, 0));
	/* The guest runs on with its filter. */
	svc_call(vcpu, SVC_NOP, 0, 0, 0, &(struct svc_result){ 0 });
}

/* ------------------------------------------------------------------ */
/* Machine checks                                                       */

#define MSR_MCG_CAP		0x179
#define MSR_MCG_STATUS		0x17a
#define MSR_MCG_CTL		0x17b
#define MSR_MC_CTL(i)		(0x400 + 4 * (i))
#define MSR_MC_STATUS(i)	(0x401 + 4 * (i))
#define MSR_MC_ADDR(i)		(0x402 + 4 * (i))
#define MSR_MC_MISC(i)		(0x403 + 4 * (i))
#define MCG_CTL_P		(1ULL << 8)
#define MCG_CMCI_P		(1ULL << 10)
#define MCG_SER_P		(1ULL << 24)
#define MCI_STATUS_VAL		(1ULL << 63)
#define MCI_STATUS_OVER		(1ULL << 62)
#define MCI_STATUS_UC		(1ULL << 61)
#define MCI_STATUS_EN		(1ULL << 60)
#define MCI_STATUS_PCC		(1ULL << 57)
#define MCG_STATUS_MCIP		(1ULL << 2)
#define MC_VECTOR		18
#define X86_CR4_MCE_		(1ULL << 6)

static uint64_t mce_cap_supported(int kvm_fd)
{
	uint64_t cap = 0;

	ASSERT_OK(ioctl(kvm_fd, KVM_X86_GET_MCE_CAP_SUPPORTED, &cap));
	return cap;
}

static int set_mce(struct vcpu *vcpu, uint8_t bank, uint64_t status,
		   uint64_t mcg_status, uint64_t addr)
{
	struct kvm_x86_mce m = {
		.status = status, .addr = addr, .misc = 0x86,
		.mcg_status = mcg_status, .bank = bank,
	};

	return ioctl(vcpu->fd, KVM_X86_SET_MCE, &m);
}

TEST(mce_banks_before_setup)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t v;

	if (kvm_check_cap(vcpu->vm->fd, KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MCG_CAP), 32);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MCG_CAP, &v), 0);
	ASSERT_EQ(v, 32);
	/* No MCG_CTL for the guest; the host reads it as 0. */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MCG_CTL, &v), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MCG_CTL), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MCG_CTL, ~0ULL), 0);
	/* The 32 banks, zeroed. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_MISC(31)), 0);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_MC_CTL(32), &v), 0);
	/* The guest writes a bank's control: 0 or all ones (bit 10 aside). */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MC_CTL(4), ~0ULL & ~(1ULL << 10)), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_CTL(4)), ~0ULL & ~(1ULL << 10));
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MC_CTL(4), 0x1234), GP_VECTOR);
	/* It may clear a status, not set one (no AMD CPUID here). */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MC_STATUS(0), 0), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MC_STATUS(0), 1), GP_VECTOR);
	/* MCG_CAP is read-only. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MCG_CAP, 32), GP_VECTOR);
}

TEST(mce_setup_checked)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t sup, cap, v;

	if (kvm_check_cap(vcpu->vm->fd, KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	sup = mce_cap_supported(vcpu->vm->kvm_fd);
	ASSERT_EQ(sup & (MCG_CTL_P | MCG_SER_P), MCG_CTL_P | MCG_SER_P);
	if (host_is_amd(vcpu->vm->kvm_fd))
		ASSERT_EQ(sup & MCG_CMCI_P, 0);

	cap = 0;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap), EINVAL);
	cap = 33;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap), EINVAL);
	cap = 4 | (1ULL << 40);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap), EINVAL);

	cap = MCG_CTL_P | MCG_SER_P | 4;
	ASSERT_OK(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap));
	/* AMD has no MCG_SER_P: bits 63:9 are dropped there. */
	if (host_is_amd(vcpu->vm->kvm_fd))
		cap &= 0x1ff;
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MCG_CAP), cap);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MCG_CTL, &v), 0);
	ASSERT_EQ(v, ~0ULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_CTL(3)), ~0ULL);
	/* Only the four banks now. */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MC_CTL(4), &v), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_MC_STATUS(4), &v), 0);
	/* MCG_CTL: 0 or all ones. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MCG_CTL, 1), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_MCG_CTL, 0), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MCG_CTL), 0);
}

TEST(mce_corrected_errors_fill_the_bank)
{
	struct vcpu *vcpu = svc_vcpu();
	uint64_t cap = MCG_CTL_P | 2, st = MCI_STATUS_VAL | MCI_STATUS_EN | 0x17;
	uint64_t v;

	if (kvm_check_cap(vcpu->vm->fd, KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	ASSERT_OK(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap));
	ASSERT_ERRNO(set_mce(vcpu, 2, st, 0, 0), EINVAL);	/* no bank 2 */
	ASSERT_ERRNO(set_mce(vcpu, 1, 0x17, 0, 0), EINVAL);	/* no VAL */

	ASSERT_OK(set_mce(vcpu, 1, st, 0, 0x1000));
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_STATUS(1)), st);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_ADDR(1)), 0x1000);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_MISC(1)), 0x86);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MC_STATUS(1), &v), 0);
	ASSERT_EQ(v, st);
	/* A second one overflows. */
	ASSERT_OK(set_mce(vcpu, 1, st, 0, 0x2000));
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_STATUS(1)), st | MCI_STATUS_OVER);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_ADDR(1)), 0x2000);
	/* The guest goes on (no exception for a corrected error). */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MC_ADDR(1), &v), 0);
	ASSERT_EQ(v, 0x2000);
}

/* An exception handler that reports on port 0x16 and halts. */
GUEST_CODE(report_handler,
	"out %al, $0x16\n"
	"hlt\n"
);

/* A real-mode guest with report_handler for @vector. */
static struct vcpu *vcpu_with_handler(const void *code, size_t len,
				      int vector)
{
	struct vcpu *vcpu = vm_with_guest(code, len);

	vm_write(vcpu->vm, 0x3000, report_handler, GUEST_SIZE(report_handler));
	vm_set_ivt(vcpu->vm, vector, 0, 0x3000);
	return vcpu;
}

/* Ready on port 0x10 forever. */
GUEST_CODE(mce_guest,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

static struct vcpu *mce_vcpu(bool cr4_mce)
{
	struct vcpu *vcpu = vcpu_with_handler(mce_guest, GUEST_SIZE(mce_guest),
					      MC_VECTOR);
	uint64_t cap = MCG_CTL_P | MCG_SER_P | 1;
	struct kvm_sregs sregs;

	ASSERT_OK(ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &cap));
	vcpu_get_sregs(vcpu, &sregs);
	if (cr4_mce)
		sregs.cr4 |= X86_CR4_MCE_;
	vcpu_set_sregs(vcpu, &sregs);
	RUN_OUT(vcpu, 1, 0x10);
	return vcpu;
}

TEST(mce_uncorrected_raises_mc)
{
	uint64_t st = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN |
		      MCI_STATUS_PCC | 0x42;
	struct vcpu *vcpu;

	if (kvm_check_cap(kvm_open(), KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	vcpu = mce_vcpu(true);
	ASSERT_OK(set_mce(vcpu, 0, st, MCG_STATUS_MCIP, 0x5000));
	RUN_OUT(vcpu, 1, 0x16);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_STATUS(0)), st);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MCG_STATUS), MCG_STATUS_MCIP);
	/* A second one while MCIP is set: shutdown. */
	ASSERT_OK(set_mce(vcpu, 0, st, MCG_STATUS_MCIP, 0x6000));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_SHUTDOWN);
}

TEST(mce_uncorrected_without_cr4_mce_shuts_down)
{
	uint64_t st = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN |
		      MCI_STATUS_PCC;
	struct vcpu *vcpu;

	if (kvm_check_cap(kvm_open(), KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	vcpu = mce_vcpu(false);
	ASSERT_OK(set_mce(vcpu, 0, st, MCG_STATUS_MCIP, 0));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_SHUTDOWN);
}

TEST(mce_uncorrected_dropped_when_reporting_is_off)
{
	uint64_t st = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN |
		      MCI_STATUS_PCC;
	struct vcpu *vcpu;

	if (kvm_check_cap(kvm_open(), KVM_CAP_MCE) != 32)
		SKIP("no KVM_CAP_MCE");
	vcpu = mce_vcpu(true);
	vcpu_set_msr(vcpu, MSR_MC_CTL(0), 0);
	ASSERT_OK(set_mce(vcpu, 0, st, MCG_STATUS_MCIP, 0));
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_STATUS(0)), 0);
	RUN_OUT(vcpu, 1, 0x10);

	/* UCNA (no MCG_STATUS, no PCC): logged, no #MC. */
	st = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | 0x9;
	ASSERT_OK(set_mce(vcpu, 0, st, 0, 0x7000));
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_STATUS(0)), st);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MC_ADDR(0)), 0x7000);
	RUN_OUT(vcpu, 1, 0x10);
}

/* ------------------------------------------------------------------ */
/* RDTSCP and TSC_AUX                                                   */

#define MSR_TSC_AUX_		0xc0000103
#define CPUID_RDTSCP		(1U << 27)	/* 0x80000001 EDX */

/* RDTSCP, then ECX out on port 0x10, forever. */
GUEST_CODE(rdtscp_guest,
	"1: rdtscp\n"
	"mov %ecx, %eax\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

static struct vcpu *rdtscp_vcpu(void)
{
	struct vcpu *vcpu = VM_WITH_GUEST(rdtscp_guest);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000001, 0);

	if (!e || !(e->edx & CPUID_RDTSCP)) {
		free(c);
		return NULL;
	}
	vcpu_set_cpuid(vcpu, c);
	free(c);
	return vcpu;
}

TEST(rdtscp_reads_tsc_aux)
{
	struct vcpu *vcpu = rdtscp_vcpu();

	if (!vcpu)
		SKIP("no RDTSCP in KVM_GET_SUPPORTED_CPUID");
	vcpu_set_msr(vcpu, MSR_TSC_AUX_, 0x1234);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x1234);
	vcpu_set_msr(vcpu, MSR_TSC_AUX_, 0xabcdef);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xabcdef);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xabcdef);
	/* Bits 63:32: reserved for an Intel guest, else dropped. */
	if (!host_is_amd(vcpu->vm->kvm_fd)) {
		ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_TSC_AUX_, 1ULL << 32), 0);
		return;
	}
	vcpu_set_msr(vcpu, MSR_TSC_AUX_, (1ULL << 32) | 7);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_TSC_AUX_), 7);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 7);
}

/* ------------------------------------------------------------------ */
/* EFER                                                                 */

static struct kvm_cpuid2 *table_with_lm(int kvm_fd, bool lm)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000001, 0);

	ASSERT_TRUE(e != NULL);
	ASSERT_TRUE(e->edx & (1U << 29));
	if (!lm)
		e->edx &= ~(1U << 29);
	return c;
}

TEST(efer_lme_needs_cpuid_lm)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	uint64_t v;

	vcpu_set_cpuid(vcpu, table_with_lm(vm->kvm_fd, false));
	svc_init(vcpu);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_EFER, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_EFER, EFER_LME), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_EFER), 0);
}

/*
 * With LM in the table the guest's write is allowed; not tried in the bed:
 * a real-mode guest with EFER.LME set locks up QEMU's TCG under Linux KVM.
 * The host's write is allowed either way.
 */
TEST(efer_lme_host_write)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_sregs s;

	vcpu_set_cpuid(vcpu, table_with_lm(vm->kvm_fd, true));
	vcpu_set_msr(vcpu, MSR_EFER, EFER_LME);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_EFER), EFER_LME);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(s.efer, EFER_LME);
	vcpu_set_msr(vcpu, MSR_EFER, 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_EFER), 0);
	/* A reserved bit: refused. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_EFER, 1ULL << 2), 0);
}

TEST(efer_without_cpuid)
{
	struct vcpu *vcpu = svc_vcpu();

	/* No CPUID table at all: no LM either. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_EFER, EFER_LME), GP_VECTOR);
	/* The host may set it all the same. */
	vcpu_set_msr(vcpu, MSR_EFER, EFER_LME);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_EFER), EFER_LME);
}

/* ------------------------------------------------------------------ */
/* AMD's VIRT_SPEC_CTRL                                                */
/* ------------------------------------------------------------------ */

/* Does the host kernel list @flag among its CPU's flags? */
static bool host_cpuinfo_has(const char *flag)
{
	char line[8192], pat[64];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	ASSERT_TRUE(f != NULL);
	snprintf(pat, sizeof(pat), " %s", flag);
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (strncmp(line, "flags", 5))
			continue;
		while ((p = strstr(p, pat))) {
			p += strlen(pat);
			if (*p == ' ' || *p == '\n') {
				found = true;
				break;
			}
		}
		break;
	}
	fclose(f);
	return found;
}

static uint32_t supported_c8_ebx(int kvm_fd)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000008, 0);
	uint32_t ebx = e ? e->ebx : 0;

	free(c);
	return ebx;
}

/* The service guest, supported CPUID with VIRT_SSBD set or cleared. */
static struct vcpu *svc_vcpu_virt_ssbd(bool virt_ssbd)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000008, 0);

	ASSERT_TRUE(e != NULL);
	if (virt_ssbd)
		e->ebx |= C8_EBX_VIRT_SSBD;
	else
		e->ebx &= ~C8_EBX_VIRT_SSBD;
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);
	return vcpu;
}

TEST(virt_ssbd_offered_where_the_host_has_ssbd)
{
	int kvm = kvm_open();
	bool offered = supported_c8_ebx(kvm) & C8_EBX_VIRT_SSBD;

	if (!host_is_amd(kvm)) {
		ASSERT_FALSE(offered);
		return;
	}
	ASSERT_EQ(offered, host_cpuinfo_has("ssbd"));
}

TEST(virt_spec_ctrl_userspace)
{
	struct vcpu *vcpu;
	struct kvm_msr_list *l;
	uint64_t v;

	if (!host_is_amd(kvm_open()))
		SKIP("VIRT_SPEC_CTRL is SVM's");
	vcpu = svc_vcpu_virt_ssbd(false);
	l = msr_list(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST);
	ASSERT_TRUE(list_has(l, MSR_VIRT_SPEC_CTRL));
	free(l);

	/* Saved and restored even for a guest without VIRT_SSBD. */
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), 0);
	vcpu_set_msr(vcpu, MSR_VIRT_SPEC_CTRL, VIRT_SPEC_CTRL_SSBD);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), VIRT_SPEC_CTRL_SSBD);
	/* Nothing but SSBD, from userspace either. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_VIRT_SPEC_CTRL, 1), 0);
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_VIRT_SPEC_CTRL,
				   VIRT_SPEC_CTRL_SSBD | (1ULL << 32)), 0);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_VIRT_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, VIRT_SPEC_CTRL_SSBD);
	vcpu_set_msr(vcpu, MSR_VIRT_SPEC_CTRL, 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), 0);
}

TEST(virt_spec_ctrl_guest)
{
	struct vcpu *vcpu;
	uint64_t v = 0;

	if (!host_is_amd(kvm_open()))
		SKIP("VIRT_SPEC_CTRL is SVM's");

	/* Without VIRT_SSBD in its CPUID: #GP both ways, nothing changes. */
	vcpu = svc_vcpu_virt_ssbd(false);
	vcpu_set_msr(vcpu, MSR_VIRT_SPEC_CTRL, VIRT_SPEC_CTRL_SSBD);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_VIRT_SPEC_CTRL, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_VIRT_SPEC_CTRL, 0), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), VIRT_SPEC_CTRL_SSBD);

	/* With it: SSBD sticks, other bits #GP. */
	vcpu = svc_vcpu_virt_ssbd(true);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_VIRT_SPEC_CTRL, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_VIRT_SPEC_CTRL, VIRT_SPEC_CTRL_SSBD), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_VIRT_SPEC_CTRL, &v), 0);
	ASSERT_EQ(v, VIRT_SPEC_CTRL_SSBD);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), VIRT_SPEC_CTRL_SSBD);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_VIRT_SPEC_CTRL, 1), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_VIRT_SPEC_CTRL, 1ULL << 33), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), VIRT_SPEC_CTRL_SSBD);
	/* The guest runs on with it set, and clears it. */
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_VIRT_SPEC_CTRL, 0), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_VIRT_SPEC_CTRL), 0);
	/* What userspace restores is what the guest reads. */
	vcpu_set_msr(vcpu, MSR_VIRT_SPEC_CTRL, VIRT_SPEC_CTRL_SSBD);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_VIRT_SPEC_CTRL, &v), 0);
	ASSERT_EQ(v, VIRT_SPEC_CTRL_SSBD);
}

TEST_HARNESS_MAIN
