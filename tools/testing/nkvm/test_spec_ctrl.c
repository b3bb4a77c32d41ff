// SPDX-License-Identifier: GPL-2.0
/*
 * test_spec_ctrl.c - IA32_SPEC_CTRL (0x48) on a host without it.
 *
 * Linux 6.1 offers SPEC_CTRL to a guest only where the host has it.  The
 * SVM bed's EPYC model has none, so only the absent case is checked (and
 * the test skips on a host with any of IBRS, STIBP, SSBD):
 *  - KVM_GET_SUPPORTED_CPUID clears leaf 7 EDX bit 26 (SPEC_CTRL) and
 *    leaf 0x80000008 EBX bit 14 (AMD_IBRS);
 *  - the guest's RDMSR and WRMSR of it raise #GP;
 *  - KVM_GET_MSRS reads it as 0.
 * Not asserted, as they follow QEMU's TCG rather than the CPU model (TCG
 * reads unknown MSRs as 0 and ignores writes, so Linux's probes of the
 * host's MSR succeed): Linux then lists the MSR in KVM_GET_MSR_INDEX_LIST
 * and takes any value from KVM_SET_MSRS; nkvm does not list it and takes
 * only 0.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vm.h"

#define MSR_SPEC_CTRL	0x48
#define GP_VECTOR	13

static bool host_has_spec_ctrl(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid_count(7, 0, eax, ebx, ecx, edx);
	if (edx & ((1U << 26) | (1U << 27) | (1U << 31)))
		return true;
	__cpuid(0x80000000, eax, ebx, ecx, edx);
	if (eax < 0x80000008)
		return false;
	__cpuid(0x80000008, eax, ebx, ecx, edx);
	return ebx & ((1U << 14) | (1U << 15) | (1U << 24));
}

static struct vcpu *spec_vcpu(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	if (host_has_spec_ctrl())
		SKIP("the host has SPEC_CTRL: only the absent case is tested");
	vcpu_try_supported_cpuid(vcpu);
	svc_init(vcpu);
	return vcpu;
}

TEST(cpuid_does_not_offer_it)
{
	struct vcpu *vcpu = spec_vcpu();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(c, 7, 0);
	if (e)
		ASSERT_EQ(e->edx & (1U << 26), 0);
	e = cpuid_find(c, 0x80000008, 0);
	if (e)
		ASSERT_EQ(e->ebx & (1U << 14), 0);
	free(c);
}

TEST(guest_access_gp)
{
	struct vcpu *vcpu = spec_vcpu();
	uint64_t v;

	ASSERT_EQ(svc_rdmsr(vcpu, MSR_SPEC_CTRL, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 0), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, MSR_SPEC_CTRL, 1), GP_VECTOR);
}

TEST(host_reads_zero)
{
	struct vcpu *vcpu = spec_vcpu();
	uint64_t v = 1;

	ASSERT_EQ(vcpu_get_msr_raw(vcpu, MSR_SPEC_CTRL, &v), 1);
	ASSERT_EQ(v, 0);
}

TEST_HARNESS_MAIN
