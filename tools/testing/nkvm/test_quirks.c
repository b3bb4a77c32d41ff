// SPDX-License-Identifier: GPL-2.0
/*
 * test_quirks.c - MONITOR and MWAIT, and the two quirks of
 * KVM_CAP_DISABLE_QUIRKS2 about them, from a real-mode guest.
 *
 * Linux 6.1 behaviour worth knowing (asserted below):
 *  - MONITOR and MWAIT are NOPs for the guest (it never waits in them).
 *  - KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS (on by default): they are NOPs
 *    even when the guest's CPUID lacks MWAIT (leaf 1 ECX bit 3).  With the
 *    quirk disabled they raise #UD then.
 *  - KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT (on by default): IA32_MISC_ENABLE
 *    bit 18 (ENABLE_MWAIT) leaves CPUID alone.  With the quirk disabled,
 *    CPUID's MWAIT bit follows it, and changing it needs SSE3 in the
 *    guest's CPUID (also for userspace's KVM_SET_MSRS).
 *  - KVM_CAP_DISABLE_QUIRKS2 sets the whole mask of disabled quirks each
 *    time, and refuses bits it does not know (EINVAL).
 */
#include <sys/ioctl.h>

#include "vm.h"

#define UD_HANDLER	0x3000
#define MSR_MISC_ENABLE	0x1a0
#define MISC_ENABLE_MWAIT (1ULL << 18)
#define CPUID_1_ECX_SSE3  (1U << 0)
#define CPUID_1_ECX_MWAIT (1U << 3)

/*
 * Ready on port 0x10, MONITOR, 0x11, MWAIT, 0x12, again.  The #UD handler
 * reports on port 0x16 and steps over the 3-byte instruction.
 */
GUEST_CODE(mwait_guest,
	"xor %eax, %eax\n"
	"xor %ecx, %ecx\n"
	"xor %edx, %edx\n"
	"1: out %al, $0x10\n"
	"monitor\n"
	"out %al, $0x11\n"
	"mwait\n"
	"out %al, $0x12\n"
	"jmp 1b\n"
);

GUEST_CODE(ud_step_handler,
	"mov %sp, %bp\n"
	"addw $3, (%bp)\n"
	"out %al, $0x16\n"
	"iret\n"
);

static struct vcpu *mwait_vm(void)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mwait_guest);

	vm_write(vcpu->vm, UD_HANDLER, ud_step_handler,
		 GUEST_SIZE(ud_step_handler));
	vm_set_ivt(vcpu->vm, 6, 0, UD_HANDLER);
	return vcpu;
}

/* One round of the guest: do MONITOR and MWAIT fault? */
static void mwait_round(struct vcpu *vcpu, bool ud)
{
	RUN_OUT(vcpu, 1, 0x10);
	if (ud)
		RUN_OUT(vcpu, 1, 0x16);
	RUN_OUT(vcpu, 1, 0x11);
	if (ud)
		RUN_OUT(vcpu, 1, 0x16);
	RUN_OUT(vcpu, 1, 0x12);
}

static bool has_quirks2(struct vm *vm, uint64_t quirks)
{
	int caps = kvm_check_cap(vm->fd, KVM_CAP_DISABLE_QUIRKS2);

	return caps > 0 && (caps & quirks) == quirks;
}

/* The supported CPUID, with MWAIT (and SSE3) as asked. */
static void set_cpuid(struct vcpu *vcpu, bool mwait, bool sse3)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(vcpu->vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);

	ASSERT_TRUE(e != NULL);
	e->ecx &= ~(CPUID_1_ECX_MWAIT | CPUID_1_ECX_SSE3);
	if (mwait)
		e->ecx |= CPUID_1_ECX_MWAIT;
	if (sse3)
		e->ecx |= CPUID_1_ECX_SSE3;
	vcpu_set_cpuid(vcpu, c);
	free(c);
}

static bool cpuid_mwait(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c = vcpu_get_cpuid(vcpu);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);
	bool r;

	ASSERT_TRUE(e != NULL);
	r = e->ecx & CPUID_1_ECX_MWAIT;
	free(c);
	return r;
}

TEST(monitor_mwait_are_nops)
{
	struct vcpu *vcpu = mwait_vm();

	/* No CPUID at all: the quirk makes them NOPs all the same. */
	mwait_round(vcpu, false);
	mwait_round(vcpu, false);
}

TEST(quirks2_mask_checked)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);

	if (!has_quirks2(vm, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS |
			 KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT))
		SKIP("no KVM_CAP_DISABLE_QUIRKS2 with the MWAIT quirks");
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DISABLE_QUIRKS2,
				       1ULL << 63), EINVAL);
	vm_enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, 0);
	vm_free(vm);
}

TEST(mwait_ud_without_the_quirk)
{
	struct vcpu *vcpu = mwait_vm();

	if (!has_quirks2(vcpu->vm, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS))
		SKIP("no KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS");
	set_cpuid(vcpu, false, true);
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
		      KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS);
	mwait_round(vcpu, true);
	/* The quirk back on: NOPs again. */
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2, 0);
	mwait_round(vcpu, false);
}

TEST(mwait_in_cpuid_never_faults)
{
	struct vcpu *vcpu = mwait_vm();

	if (!has_quirks2(vcpu->vm, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS))
		SKIP("no KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS");
	set_cpuid(vcpu, true, true);
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
		      KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS);
	mwait_round(vcpu, false);
}

TEST(misc_enable_mwait_with_the_quirk_leaves_cpuid)
{
	struct vcpu *vcpu = mwait_vm();

	set_cpuid(vcpu, false, true);
	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, MISC_ENABLE_MWAIT);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), MISC_ENABLE_MWAIT);
	ASSERT_FALSE(cpuid_mwait(vcpu));
}

TEST(misc_enable_mwait_shows_in_cpuid)
{
	struct vcpu *vcpu = mwait_vm();

	if (!has_quirks2(vcpu->vm, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS |
			 KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT))
		SKIP("no KVM_CAP_DISABLE_QUIRKS2 with the MWAIT quirks");
	set_cpuid(vcpu, false, true);
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
		      KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS |
		      KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT);
	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, 0);
	ASSERT_FALSE(cpuid_mwait(vcpu));
	mwait_round(vcpu, true);

	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, MISC_ENABLE_MWAIT);
	ASSERT_TRUE(cpuid_mwait(vcpu));
	mwait_round(vcpu, false);

	vcpu_set_msr(vcpu, MSR_MISC_ENABLE, 0);
	ASSERT_FALSE(cpuid_mwait(vcpu));
	mwait_round(vcpu, true);
}

TEST(misc_enable_mwait_needs_sse3)
{
	struct vcpu *vcpu = mwait_vm();
	uint64_t before;

	if (!has_quirks2(vcpu->vm, KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT))
		SKIP("no KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT");
	set_cpuid(vcpu, false, false);
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
		      KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT);
	before = vcpu_get_msr(vcpu, MSR_MISC_ENABLE);
	/* KVM_SET_MSRS sets none of the one entry. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MISC_ENABLE,
				   before ^ MISC_ENABLE_MWAIT), 0);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_MISC_ENABLE), before);
	/* Other bits may still change. */
	ASSERT_EQ(vcpu_set_msr_raw(vcpu, MSR_MISC_ENABLE, before | 1), 1);
}

TEST_HARNESS_MAIN
