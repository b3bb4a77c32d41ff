// SPDX-License-Identifier: GPL-2.0
/*
 * test_pmu - the guest PMU, as a guest and a VMM see it.
 *
 * Whether this KVM gives guests a PMU is what KVM_CAP_PMU_CAPABILITY says
 * (0: the vPMU is off, because of enable_pmu=N or a host without a PMU,
 * as in the TCG bed).  Without a vPMU, both KVMs must agree:
 *  - KVM_GET_SUPPORTED_CPUID offers no PMU: leaf 0xA is zero, no
 *    PerfCtrExtCore (0x80000001.ECX[23]), no PDCM; KVM_ENABLE_CAP of
 *    KVM_CAP_PMU_CAPABILITY fails with EINVAL;
 *  - IA32_MISC_ENABLE.EMON is clear, and a guest cannot set it;
 *  - the legacy counter MSRs (AMD K7 0xc0010000-7, P6 0xc1/0xc2,
 *    0x186/0x187) read 0 and ignore writes, for the guest and userspace;
 *    the PerfCtrExtCore, fixed and GLOBAL MSRs raise #GP;
 *  - RDPMC: an AMD vCPU reads its 4 (6 with PerfCtrExtCore in its CPUID)
 *    counters as 0 and faults above, but for Linux's VMware backdoor
 *    counters (0x10000-2); an Intel vCPU faults.
 * With a vPMU, counters count the guest's instructions, wrap and set
 * GLOBAL_STATUS (Intel), RDPMC agrees with RDMSR, userspace saves and
 * restores the counters, and KVM_PMU_CAP_DISABLE turns the vPMU off for a
 * VM.  Those checks are skipped, and say so, where the vPMU is off.
 * KVM_SET_PMU_EVENT_FILTER checks its argument as on Linux either way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm.h"

#ifndef KVM_CAP_PMU_CAPABILITY
#define KVM_CAP_PMU_CAPABILITY	212
#endif
#ifndef KVM_PMU_CAP_DISABLE
#define KVM_PMU_CAP_DISABLE	(1 << 0)
#endif

#define GP			13
#define MSR_MISC_ENABLE		0x1a0
#define MISC_ENABLE_EMON	(1ULL << 7)
#define MSR_K7_EVNTSEL0		0xc0010000
#define MSR_K7_PERFCTR0		0xc0010004
#define MSR_F15H_PERF_CTL0	0xc0010200
#define MSR_IA32_PMC0		0xc1
#define MSR_IA32_PERFEVTSEL0	0x186
#define MSR_FIXED_CTR0		0x309
#define MSR_FIXED_CTR_CTRL	0x38d
#define MSR_GLOBAL_STATUS	0x38e
#define MSR_GLOBAL_CTRL		0x38f
#define MSR_GLOBAL_OVF_CTRL	0x390
#define PERFCTR_CORE		(1U << 23)	/* CPUID 0x80000001.ECX */
#define PDCM			(1U << 15)	/* CPUID 1.ECX */

/* Event select: retired instructions, ring 0 and 3, enabled. */
#define SEL_INSNS		(0xc0 | 1 << 16 | 1 << 17 | 1 << 22)

static bool vpmu_on(int kvm_fd)
{
	return kvm_check_cap(kvm_fd, KVM_CAP_PMU_CAPABILITY) != 0;
}

static bool host_is_amd(int kvm_fd)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);
	bool amd = e && e->ebx == 0x68747541;	/* "Auth" */

	free(c);
	return amd;
}

/*
 * A VM (its vPMU disabled first if @disable) whose vCPU has the supported
 * CPUID (PerfCtrExtCore forced on if @core) and runs the service guest.
 */
static struct vcpu *pmu_vcpu(bool core, bool disable)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *e;
	struct vcpu *vcpu;

	if (disable)
		vm_enable_cap(vm, KVM_CAP_PMU_CAPABILITY, KVM_PMU_CAP_DISABLE);
	vcpu = vcpu_create(vm, 0);
	c = kvm_supported_cpuid(vm->kvm_fd);
	e = cpuid_find(c, 0x80000001, 0);
	if (core && e)
		e->ecx |= PERFCTR_CORE;
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);
	return vcpu;
}

static void skip_without_vpmu(int kvm_fd)
{
	if (!vpmu_on(kvm_fd))
		SKIP("the host has no PMU for guests (KVM_CAP_PMU_CAPABILITY is 0): counting not checked");
}

static void skip_with_vpmu(int kvm_fd)
{
	if (vpmu_on(kvm_fd))
		SKIP("this KVM has a vPMU: the checks without one do not apply");
}

TEST(pmu_capability)
{
	int kvm_fd = kvm_open();
	struct vm *vm = vm_create(0);
	int cap = kvm_check_cap(kvm_fd, KVM_CAP_PMU_CAPABILITY);

	TH_LOG("vPMU %s", cap ? "on" : "off");
	if (!cap) {
		ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_PMU_CAPABILITY,
					       KVM_PMU_CAP_DISABLE), EINVAL);
		return;
	}
	ASSERT_EQ(cap, KVM_PMU_CAP_DISABLE);
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_PMU_CAPABILITY, 2), EINVAL);
	ASSERT_OK(vm_enable_cap_raw(vm, KVM_CAP_PMU_CAPABILITY, 0));
	vcpu_create(vm, 0);
	/* Too late once a vCPU exists. */
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_PMU_CAPABILITY,
				       KVM_PMU_CAP_DISABLE), EINVAL);
}

/* A filter with room for a few events. */
struct filter {
	struct kvm_pmu_event_filter f;
	uint64_t events[8];
};

TEST(pmu_event_filter_ioctl)
{
	int kvm_fd = kvm_open();
	struct vm *vm = vm_create(0);
	struct filter fl = {
		.f = { .action = KVM_PMU_EVENT_DENY, .nevents = 2 },
		.events = { 0xc4, 0xc0 },
	};
	struct kvm_pmu_event_filter *big;

	ASSERT_EQ(kvm_check_cap(kvm_fd, KVM_CAP_PMU_EVENT_FILTER), 1);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, &fl));
	fl.f.action = KVM_PMU_EVENT_ALLOW;
	ASSERT_OK(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, &fl));
	fl.f.action = 2;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, &fl), EINVAL);
	fl.f.action = KVM_PMU_EVENT_ALLOW;
	fl.f.flags = 1;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, &fl), EINVAL);
	/* At most 300 events. */
	big = calloc(1, sizeof(*big) + 301 * sizeof(uint64_t));
	ASSERT_TRUE(big != NULL);
	big->nevents = 301;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, big), E2BIG);
	big->nevents = 300;
	ASSERT_OK(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, big));
	free(big);
	/* An unreadable argument. */
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_PMU_EVENT_FILTER, (void *)8), EFAULT);
}

TEST(supported_cpuid_offers_no_pmu_without_vpmu)
{
	int kvm_fd = kvm_open();
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *e;

	skip_with_vpmu(kvm_fd);
	c = kvm_supported_cpuid(kvm_fd);
	e = cpuid_find(c, 0xa, 0);
	if (e) {
		EXPECT_EQ(e->eax, 0);
		EXPECT_EQ(e->edx, 0);
	}
	e = cpuid_find(c, 0x80000001, 0);
	if (e)
		EXPECT_EQ(e->ecx & PERFCTR_CORE, 0);
	e = cpuid_find(c, 1, 0);
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->ecx & PDCM, 0);
	free(c);
}

TEST(emon_follows_the_vpmu)
{
	int kvm_fd = kvm_open();
	bool on = vpmu_on(kvm_fd), amd = host_is_amd(kvm_fd);
	struct vcpu *vcpu = pmu_vcpu(false, false);
	uint64_t v;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
	if (!on) {
		ASSERT_EQ(v & MISC_ENABLE_EMON, 0);
		/* A guest cannot set it: ignored, no fault. */
		ASSERT_EQ(svc_wrmsr(vcpu, MSR_MISC_ENABLE, v | MISC_ENABLE_EMON), 0);
		ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
		ASSERT_EQ(v & MISC_ENABLE_EMON, 0);
	} else if (!amd) {
		/* The supported CPUID has an architectural PMU. */
		ASSERT_NE(v & MISC_ENABLE_EMON, 0);
	} else {
		/* Linux leaves it clear on AMD, nkvm sets it: not compared. */
		TH_LOG("EMON %s on this AMD vCPU", v & MISC_ENABLE_EMON ? "set" : "clear");
	}
}

TEST(legacy_counter_msrs_read_zero_without_vpmu)
{
	static const uint32_t msrs[] = {
		MSR_K7_EVNTSEL0, MSR_K7_EVNTSEL0 + 1, MSR_K7_EVNTSEL0 + 2,
		MSR_K7_EVNTSEL0 + 3, MSR_K7_PERFCTR0, MSR_K7_PERFCTR0 + 1,
		MSR_K7_PERFCTR0 + 2, MSR_K7_PERFCTR0 + 3, MSR_IA32_PMC0,
		MSR_IA32_PMC0 + 1, MSR_IA32_PERFEVTSEL0, MSR_IA32_PERFEVTSEL0 + 1,
	};
	int kvm_fd = kvm_open();
	struct vcpu *vcpu;
	uint64_t v;
	size_t i;

	skip_with_vpmu(kvm_fd);
	vcpu = pmu_vcpu(true, false);
	for (i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		v = 0xdead;
		ASSERT_EQ(svc_wrmsr(vcpu, msrs[i], 0x530076), 0);
		ASSERT_EQ(svc_rdmsr(vcpu, msrs[i], &v), 0);
		ASSERT_EQ(v, 0);
		/* Userspace: the same. */
		ASSERT_EQ(vcpu_set_msr_raw(vcpu, msrs[i], 12345), 1);
		ASSERT_EQ(vcpu_get_msr(vcpu, msrs[i]), 0);
	}
}

TEST(other_counter_msrs_fault_without_vpmu)
{
	static const uint32_t msrs[] = {
		MSR_F15H_PERF_CTL0, MSR_F15H_PERF_CTL0 + 1, MSR_F15H_PERF_CTL0 + 11,
		MSR_IA32_PMC0 + 2, MSR_IA32_PERFEVTSEL0 + 2, MSR_FIXED_CTR0,
		MSR_FIXED_CTR_CTRL, MSR_GLOBAL_STATUS, MSR_GLOBAL_CTRL,
		MSR_GLOBAL_OVF_CTRL,
	};
	int kvm_fd = kvm_open();
	struct vcpu *vcpu;
	uint64_t v;
	size_t i;

	skip_with_vpmu(kvm_fd);
	/* Even with PerfCtrExtCore in the guest's CPUID. */
	vcpu = pmu_vcpu(true, false);
	for (i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		ASSERT_EQ(svc_rdmsr(vcpu, msrs[i], &v), GP);
		ASSERT_EQ(svc_wrmsr(vcpu, msrs[i], 0), GP);
	}
}

static void check_rdpmc_without_vpmu(struct vcpu *vcpu, bool amd, bool core)
{
	uint32_t n = core ? 6 : 4, i;
	uint64_t v;

	for (i = 0; i < n && amd; i++) {
		v = 0xdead;
		ASSERT_EQ(svc_rdpmc(vcpu, i, &v), 0);
		ASSERT_EQ(v, 0);
	}
	ASSERT_EQ(svc_rdpmc(vcpu, amd ? n : 0, &v), GP);
	ASSERT_EQ(svc_rdpmc(vcpu, 1U << 30, &v), amd ? 0 : GP);
	/* Linux's VMware backdoor counters: host TSC, boot time, kvmclock. */
	for (i = 0x10000; i <= 0x10002; i++) {
		v = 0;
		ASSERT_EQ(svc_rdpmc(vcpu, i, &v), amd ? 0 : GP);
		if (amd)
			ASSERT_NE(v, 0);
	}
	ASSERT_EQ(svc_rdpmc(vcpu, 0x10003, &v), GP);
}

TEST(rdpmc_without_vpmu)
{
	int kvm_fd = kvm_open();
	bool amd = host_is_amd(kvm_fd);

	skip_with_vpmu(kvm_fd);
	check_rdpmc_without_vpmu(pmu_vcpu(false, false), amd, false);
	check_rdpmc_without_vpmu(pmu_vcpu(true, false), amd, true);
}

TEST(pmu_cap_disable_turns_the_vpmu_off)
{
	int kvm_fd = kvm_open();
	bool amd = host_is_amd(kvm_fd);
	struct vcpu *vcpu;
	uint64_t v;

	skip_without_vpmu(kvm_fd);
	vcpu = pmu_vcpu(false, true);
	ASSERT_EQ(svc_wrmsr(vcpu, amd ? MSR_K7_EVNTSEL0 : MSR_IA32_PERFEVTSEL0,
			    SEL_INSNS), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, amd ? MSR_K7_EVNTSEL0 : MSR_IA32_PERFEVTSEL0,
			    &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_GLOBAL_CTRL, &v), GP);
	if (!amd) {
		ASSERT_EQ(svc_rdpmc(vcpu, 0, &v), GP);
		ASSERT_EQ(svc_rdmsr(vcpu, MSR_MISC_ENABLE, &v), 0);
		ASSERT_EQ(v & MISC_ENABLE_EMON, 0);
	}
}

/* The counter-0 MSRs of the vendor, and GLOBAL_CTRL's use (Intel v2+). */
struct ctr0 {
	uint32_t sel, ctr;
	bool global;
};

static struct ctr0 ctr0_of(int kvm_fd)
{
	struct ctr0 c = { MSR_K7_EVNTSEL0, MSR_K7_PERFCTR0, false };
	struct kvm_cpuid2 *cpuid;
	struct kvm_cpuid_entry2 *e;

	if (host_is_amd(kvm_fd))
		return c;
	cpuid = kvm_supported_cpuid(kvm_fd);
	e = cpuid_find(cpuid, 0xa, 0);
	c.sel = MSR_IA32_PERFEVTSEL0;
	c.ctr = MSR_IA32_PMC0;
	c.global = e && (e->eax & 0xff) >= 2;
	free(cpuid);
	return c;
}

/* Let the service guest run @n operations. */
static void guest_work(struct vcpu *vcpu, int n)
{
	struct svc_result r;

	while (n--)
		svc_call(vcpu, SVC_NOP, 0, 0, 0, &r);
}

TEST(counter_counts_guest_instructions)
{
	int kvm_fd = kvm_open();
	struct vcpu *vcpu;
	struct ctr0 c;
	uint64_t v, p;

	skip_without_vpmu(kvm_fd);
	c = ctr0_of(kvm_fd);
	vcpu = pmu_vcpu(false, false);
	ASSERT_EQ(svc_wrmsr(vcpu, c.ctr, 0), 0);
	if (c.global)
		ASSERT_EQ(svc_wrmsr(vcpu, MSR_GLOBAL_CTRL, 1), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, c.sel, SEL_INSNS), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, c.sel, &v), 0);
	ASSERT_EQ(v, SEL_INSNS);
	guest_work(vcpu, 20);
	ASSERT_EQ(svc_wrmsr(vcpu, c.sel, 0), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, c.ctr, &v), 0);
	/* Each operation is a few dozen instructions. */
	EXPECT_GE(v, 20);
	EXPECT_LT(v, 100000);
	/* Stopped: RDPMC, RDMSR and userspace agree. */
	ASSERT_EQ(svc_rdpmc(vcpu, 0, &p), 0);
	ASSERT_EQ(p, v);
	ASSERT_EQ(vcpu_get_msr(vcpu, c.ctr), v);
}

TEST(counter_wraps_and_reports_the_overflow)
{
	int kvm_fd = kvm_open();
	bool amd = host_is_amd(kvm_fd);
	struct vcpu *vcpu;
	struct ctr0 c;
	uint64_t v;

	skip_without_vpmu(kvm_fd);
	c = ctr0_of(kvm_fd);
	vcpu = pmu_vcpu(false, false);
	/* 10 events before the overflow (Intel sign-extends the write). */
	ASSERT_EQ(svc_wrmsr(vcpu, c.ctr, amd ? 0xfffffffffff6ULL : 0xfffffff6), 0);
	if (c.global)
		ASSERT_EQ(svc_wrmsr(vcpu, MSR_GLOBAL_CTRL, 1), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, c.sel, SEL_INSNS), 0);
	guest_work(vcpu, 20);
	ASSERT_EQ(svc_wrmsr(vcpu, c.sel, 0), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, c.ctr, &v), 0);
	EXPECT_LT(v, 100000);
	if (!c.global)
		return;
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_GLOBAL_STATUS, &v), 0);
	ASSERT_EQ(v & 1, 1);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_GLOBAL_OVF_CTRL, 1), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_GLOBAL_STATUS, &v), 0);
	ASSERT_EQ(v & 1, 0);
}

/*
 * A real-mode guest that turns on its x2APIC, points LVTPC at vector
 * PMI_VECTOR, performs the three WRMSRs of the table at PMI_WRMSRS (index,
 * low and high half of the value: the counter, GLOBAL_CTRL, the event
 * select) and waits, with interrupts on, for its handler to count a PMI at
 * PMI_COUNT: OUT to port 0x11 when it came, to 0x12 when it did not
 * within a few million loops.  The handler sends the EOI.
 */
#define PMI_VECTOR	0x40
#define PMI_COUNT	0x600
#define PMI_WRMSRS	0x700
GUEST_CODE(pmi_guest,
	"mov $0x1b, %ecx\n"		/* APIC base: enable, x2APIC */
	"rdmsr\n"
	"or $0xc00, %eax\n"
	"wrmsr\n"
	"xor %edx, %edx\n"
	"mov $0x80f, %ecx\n"		/* SVR: APIC on, spurious 0xff */
	"mov $0x1ff, %eax\n"
	"wrmsr\n"
	"mov $0x834, %ecx\n"		/* LVTPC: fixed, PMI_VECTOR */
	"mov $" XSTR(PMI_VECTOR) ", %eax\n"
	"wrmsr\n"
	"mov $" XSTR(PMI_WRMSRS) ", %bx\n"
	"mov $3, %si\n"
	"3: mov (%bx), %ecx\n"
	"mov 4(%bx), %eax\n"
	"mov 8(%bx), %edx\n"
	"wrmsr\n"
	"add $12, %bx\n"
	"dec %si\n"
	"jnz 3b\n"
	"sti\n"
	"mov $0x1000000, %ecx\n"
	"1: cmpw $0, (" XSTR(PMI_COUNT) ")\n"
	"jne 2f\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"out %al, $0x12\n"
	"hlt\n"
	"2: out %al, $0x11\n"
	"hlt\n"
	"pmi_handler:\n"
	"incw (" XSTR(PMI_COUNT) ")\n"
	"push %eax\n"
	"push %ecx\n"
	"push %edx\n"
	"xor %eax, %eax\n"
	"xor %edx, %edx\n"
	"mov $0x80b, %ecx\n"		/* EOI */
	"wrmsr\n"
	"pop %edx\n"
	"pop %ecx\n"
	"pop %eax\n"
	"iret\n"
);
GUEST_SYM(pmi_handler);

TEST(overflow_raises_a_pmi_through_lvtpc)
{
	int kvm_fd = kvm_open();
	struct kvm_cpuid2 *cpuid;
	uint32_t *wrmsrs;
	struct vcpu *vcpu;
	struct vm *vm;
	struct ctr0 c;

	skip_without_vpmu(kvm_fd);
	c = ctr0_of(kvm_fd);
	vm = vm_create(VM_MEM_SIZE);
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vcpu = vcpu_create(vm, 0);
	cpuid = kvm_supported_cpuid(vm->kvm_fd);
	vcpu_set_cpuid(vcpu, cpuid);
	free(cpuid);
	vm_load_guest(vm, pmi_guest);
	vm_set_ivt(vm, PMI_VECTOR, 0, GUEST_LABEL(pmi_guest, pmi_handler));
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	/*
	 * Instructions, with a PMI, 100000 of them before the overflow (the
	 * value is sign-extended from 32 bits on Intel).  Without GLOBAL_CTRL
	 * the second write clears the event select, which the third sets.
	 */
	wrmsrs = vm_ptr(vm, PMI_WRMSRS);
	wrmsrs[0] = c.ctr;
	wrmsrs[1] = (uint32_t)-100000;
	wrmsrs[2] = 0xffff;
	wrmsrs[3] = c.global ? MSR_GLOBAL_CTRL : c.sel;
	wrmsrs[4] = c.global;
	wrmsrs[6] = c.sel;
	wrmsrs[7] = SEL_INSNS | 1 << 20;
	vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x11);
	ASSERT_GE(*(uint16_t *)vm_ptr(vm, PMI_COUNT), 1);
	if (c.global)
		ASSERT_EQ(vcpu_get_msr(vcpu, MSR_GLOBAL_STATUS) & 1, 1);
}

TEST(userspace_saves_and_restores_counters)
{
	int kvm_fd = kvm_open();
	struct vcpu *vcpu;
	struct ctr0 c;
	uint64_t v;

	skip_without_vpmu(kvm_fd);
	c = ctr0_of(kvm_fd);
	vcpu = pmu_vcpu(false, false);
	vcpu_set_msr(vcpu, c.ctr, 0x123456789aULL);
	vcpu_set_msr(vcpu, c.sel, 0x1300c0);
	ASSERT_EQ(vcpu_get_msr(vcpu, c.ctr), 0x123456789aULL);
	ASSERT_EQ(vcpu_get_msr(vcpu, c.sel), 0x1300c0);
	ASSERT_EQ(svc_rdmsr(vcpu, c.ctr, &v), 0);
	ASSERT_EQ(v, 0x123456789aULL);
}

TEST_HARNESS_MAIN
