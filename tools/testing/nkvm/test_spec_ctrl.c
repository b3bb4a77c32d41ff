// SPDX-License-Identifier: GPL-2.0
/*
 * test_spec_ctrl.c - IA32_SPEC_CTRL (0x48) and IA32_PRED_CMD (0x49).
 *
 * KVM offers SPEC_CTRL in KVM_GET_SUPPORTED_CPUID only where the host has
 * it (leaf 7 EDX 26/27/31, leaf 0x80000008 EBX 14/15/24).  A VMM may still
 * give a guest those bits itself; the MSR's emulation is then checked here:
 *  - without the CPUID bits, the guest's RDMSR and WRMSR raise #GP and
 *    KVM_GET_MSRS reads 0;
 *  - with them, the guest reads and writes the MSR; a value the host's CPU
 *    takes is kept (KVM_GET_MSRS returns it); userspace may set values the
 *    guest's CPUID does not cover;
 *  - nkvm only: bits the guest's CPUID does not give it raise #GP, and a
 *    guest without the bits cannot access the MSR after userspace set it
 *    (Linux
 *    6.1 only asks whether the host's CPU takes the value, and QEMU's TCG
 *    takes anything, so it cannot be compared in the SVM bed);
 *  - PRED_CMD: #GP without the CPUID bit or for any bit but IBPB, and, as
 *    on Linux, when the host has no IBPB.
 * What the guest reads back once it wrote a non-zero value is not asserted:
 * Linux then passes the MSR through even where the host lacks it, and under
 * TCG the guest reads TCG's 0.  The world switch itself (the guest's value
 * loaded around VMRUN/VMLAUNCH) needs a host with the MSR: the beds have
 * none (Documentation/virt/testing.rst).
 */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm.h"

#define MSR_SPEC_CTRL	0x48
#define MSR_PRED_CMD	0x49
#define GP_VECTOR	13

#define SPEC_IBRS	(1ULL << 0)
#define SPEC_STIBP	(1ULL << 1)
#define SPEC_SSBD	(1ULL << 2)

#define C7_EDX_BITS	((1U << 26) | (1U << 27) | (1U << 31))
#define C8_IBPB		(1U << 12)
#define C8_IBRS		(1U << 14)
#define C8_STIBP	(1U << 15)
#define C8_SSBD		(1U << 24)
#define C8_BITS		(C8_IBRS | C8_STIBP | C8_SSBD)

static bool host_has_spec_ctrl(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid_count(7, 0, eax, ebx, ecx, edx);
	if (edx & C7_EDX_BITS)
		return true;
	__cpuid(0x80000000, eax, ebx, ecx, edx);
	if (eax < 0x80000008)
		return false;
	__cpuid(0x80000008, eax, ebx, ecx, edx);
	return ebx & C8_BITS;
}

/* The kernel's own flag for IBPB, as /proc/cpuinfo lists it. */
static bool host_has_ibpb(void)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " ibpb ") || strstr(line, " ibpb\n");
		break;
	}
	fclose(f);
	return found;
}

static struct vcpu *spec_vcpu(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	vcpu_try_supported_cpuid(vcpu);
	svc_init(vcpu);
	return vcpu;
}

/*
 * A vCPU whose CPUID is the supported one with leaf 7 EDX's and leaf
 * 0x80000008 EBX's speculation bits replaced by edx7 and ebx8.
 */
static struct vcpu *spec_vcpu_with(uint32_t edx7, uint32_t ebx8)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(c, 7, 0);
	if (e)
		e->edx = (e->edx & ~C7_EDX_BITS) | edx7;
	else if (edx7)
		SKIP("no CPUID leaf 7 to put the bits in");
	e = cpuid_find(c, 0x80000008, 0);
	if (e)
		e->ebx = (e->ebx & ~(C8_BITS | C8_IBPB)) | ebx8;
	else if (ebx8)
		SKIP("no CPUID leaf 0x80000008 to put the bits in");
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);
	return vcpu;
}

TEST(cpuid_offers_it_only_where_the_host_has_it)
{
	struct vcpu *vcpu = spec_vcpu();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e7 = cpuid_find(c, 7, 0);
	struct kvm_cpuid_entry2 *e8 = cpuid_find(c, 0x80000008, 0);
	uint32_t offered = (e7 ? e7->edx & C7_EDX_BITS : 0) |
			   (e8 ? e8->ebx & C8_BITS : 0);

	if (!host_has_spec_ctrl())
		ASSERT_EQ(offered, 0);
	free(c);
}

TEST(absent_guest_access_gp)
{
	struct vcpu *vcpu = spec_vcpu_with(0, 0);
	uint64_t v = 1;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 0), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, SPEC_IBRS), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PRED_CMD, 1), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, 0);
}

TEST(guest_with_cpuid_uses_it)
{
	struct vcpu *vcpu = spec_vcpu_with(0, C8_BITS);
	uint64_t v = ~0ULL;
	int r;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 0), 0);
	/* Kept where the host's CPU takes it (TCG takes anything). */
	r = svc_wrmsr(vcpu, MSR_SPEC_CTRL, SPEC_IBRS | SPEC_SSBD);
	if (r == GP_VECTOR)
		SKIP("the host's CPU refuses IBRS|SSBD in IA32_SPEC_CTRL");
	ASSERT_EQ(r, 0);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, SPEC_IBRS | SPEC_SSBD);
	/* The guest keeps running, and can read it (its value not asserted). */
	ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 0), 0);
}

TEST(intel_cpuid_bit_also_gives_it)
{
	struct vcpu *vcpu = spec_vcpu_with(1U << 26, 0);
	uint64_t v = ~0ULL;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 0), 0);
}

TEST(reserved_bits_gp_on_nkvm)
{
	struct vcpu *vcpu = spec_vcpu_with(0, C8_IBRS);
	uint64_t v;

	if (!kvm_is_nkvm(vcpu->vm->kvm_fd))
		SKIP("Linux 6.1 checks only the host's CPU (see the header)");
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, SPEC_STIBP), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, SPEC_SSBD), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 1ULL << 63), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, 0);
}

TEST(host_writes_follow_the_host_cpu)
{
	struct vcpu *vcpu = spec_vcpu_with(0, 0);
	uint64_t v = 0;

	/* Userspace is not held to the guest's CPUID (a VMM restoring one). */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_SPEC_CTRL, 0), 1);
	if (vcpu_set_msr_raw(vcpu, MSR_SPEC_CTRL, SPEC_SSBD) != 1)
		SKIP("the host's CPU refuses SSBD in IA32_SPEC_CTRL");
	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, SPEC_SSBD);
	/*
	 * nkvm: the guest without the CPUID bits still cannot touch it
	 * (Linux passes the MSR through after any non-zero write, and the
	 * guest then reads the CPU's, here TCG's, 0).
	 */
	if (kvm_is_nkvm(vcpu->vm->kvm_fd))
		ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), GP_VECTOR);
}

TEST(pred_cmd)
{
	struct vcpu *vcpu = spec_vcpu_with(0, C8_IBPB);
	int want = host_has_ibpb() ? 0 : GP_VECTOR;

	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PRED_CMD, 1), want);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PRED_CMD, 0), want);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_PRED_CMD, 2), GP_VECTOR);
}

TEST_HARNESS_MAIN
