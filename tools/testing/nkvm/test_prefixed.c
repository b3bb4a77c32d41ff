// SPDX-License-Identifier: GPL-2.0
/*
 * test_prefixed.c - intercepted instructions with prefixes in front.
 *
 * HLT, CPUID, RDMSR, WRMSR, INVD, WBINVD, VMMCALL, MONITOR, MWAIT and
 * XSETBV exit to the hypervisor, which completes them and moves RIP past
 * them.  Without NRIP save (QEMU's TCG has none) the hypervisor must find
 * the length itself: a 66, 67, F3, segment override or REX prefix in front
 * makes the instruction longer than its opcode.  Linux KVM skips them with
 * its emulator; the guest here only goes on as written if every skip is
 * exact.  One of them also straddles a page boundary.  (QEMU 7.2 reports
 * INVD as a WBINVD exit: the hypervisor must accept either.)
 */
#include <cpuid.h>

#include "vm.h"

#define MSR_EFER	0xc0000080
#define KVM_ENOSYS	1000

GUEST_CODE64(prefixed_guest,
	"xor %eax, %eax\n"
	".byte 0x66\n cpuid\n"			/* operand size */
	"out %al, $0x10\n"
	"xor %eax, %eax\n"
	".byte 0x2e\n cpuid\n"			/* CS override */
	"out %al, $0x11\n"
	"xor %eax, %eax\n"
	".byte 0x48\n cpuid\n"			/* REX.W */
	"out %al, $0x12\n"
	"xor %eax, %eax\n"
	".byte 0xf3, 0x3e, 0x67, 0x41\n cpuid\n" /* several, REX last */
	"out %al, $0x13\n"
	"mov $" XSTR(MSR_EFER) ", %ecx\n"
	".byte 0x66\n rdmsr\n"
	"mov %rax, %rbx\n"
	".byte 0x3e, 0x48\n wrmsr\n"
	"out %al, $0x14\n"
	".byte 0x2e\n wbinvd\n"
	".byte 0x66\n invd\n"
	"out %al, $0x15\n"
	/* VMMCALL on AMD hosts only (RDI set): Intel's #UD it. */
	"test %edi, %edi\n"
	"jz 3f\n"
	"mov $0x12345, %eax\n"
	".byte 0x2e\n vmmcall\n"	/* 66 would make it #UD */
	"3: out %al, $0x16\n"
	"mov $0x1000, %eax\n"
	"xor %ecx, %ecx\n"
	"xor %edx, %edx\n"
	".byte 0x3e\n monitor\n"
	".byte 0x3e\n mwait\n"
	"out %al, $0x17\n"
	".byte 0x3e\n hlt\n"
	"prefixed_after_hlt:\n"
	"out %al, $0x18\n"
	/* XSETBV where CPUID has XSAVE. */
	"mov $1, %eax\n"
	"cpuid\n"
	"bt $26, %ecx\n"
	"jnc 1f\n"
	"mov %cr4, %rax\n"
	"bts $18, %rax\n"
	"mov %rax, %cr4\n"
	"xor %ecx, %ecx\n"
	"xgetbv\n"
	".byte 0x3e\n xsetbv\n"
	"1: out %al, $0x19\n"
	"jmp 2f\n"
	/* A prefixed CPUID from the last byte of the page on. */
	".skip 0xfff - (. - prefixed_guest), 0xcc\n"
	"2: .byte 0x66\n cpuid\n"
	"out %al, $0x1a\n"
	"hlt\n"
);
GUEST_SYM(prefixed_after_hlt);

TEST(prefixed_exits_in_long_mode)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(prefixed_guest,
						  GUEST_SIZE(prefixed_guest),
						  MODE_LONG);
	unsigned int eax, ebx, ecx, edx;
	struct kvm_regs regs;
	uint64_t efer;
	bool amd;
	int port;

	__cpuid(0, eax, ebx, ecx, edx);
	amd = ebx == 0x68747541;	/* "Auth"enticAMD */
	vcpu_try_supported_cpuid(vcpu);
	vcpu_get_regs(vcpu, &regs);
	regs.rdi = amd;
	vcpu_set_regs(vcpu, &regs);
	for (port = 0x10; port <= 0x13; port++)
		RUN_OUT(vcpu, 1, port);

	/* RDMSR got EFER (LME, LMA), WRMSR wrote it back unchanged. */
	RUN_OUT(vcpu, 1, 0x14);
	vcpu_get_regs(vcpu, &regs);
	efer = regs.rbx;
	ASSERT_EQ(efer & 0x500, 0x500);

	RUN_OUT(vcpu, 1, 0x15);

	/* An unknown hypercall: -KVM_ENOSYS, and on to the next one. */
	RUN_OUT(vcpu, 1, 0x16);
	vcpu_get_regs(vcpu, &regs);
	if (amd)
		ASSERT_EQ(regs.rax, (uint64_t)-KVM_ENOSYS);

	RUN_OUT(vcpu, 1, 0x17);

	/* HLT exits with RIP past the HLT and its prefix. */
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu),
		  GUEST_LABEL(prefixed_guest, prefixed_after_hlt));
	RUN_OUT(vcpu, 1, 0x18);
	RUN_OUT(vcpu, 1, 0x19);
	RUN_OUT(vcpu, 1, 0x1a);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

/* In real mode, 66 selects 32-bit operands and 26 is an ES override. */
GUEST_CODE(prefixed_real_guest,
	"xor %eax, %eax\n"
	".byte 0x66\n cpuid\n"
	"out %al, $0x10\n"
	"xor %eax, %eax\n"
	".byte 0x26, 0x66\n cpuid\n"
	"out %al, $0x11\n"
	".byte 0x26\n hlt\n"
	"prefixed_real_after_hlt:\n"
	"out %al, $0x12\n"
	"hlt\n"
);
GUEST_SYM(prefixed_real_after_hlt);

TEST(prefixed_exits_in_real_mode)
{
	struct vcpu *vcpu = VM_WITH_GUEST(prefixed_real_guest);

	RUN_OUT(vcpu, 1, 0x10);
	RUN_OUT(vcpu, 1, 0x11);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu),
		  GUEST_LABEL(prefixed_real_guest, prefixed_real_after_hlt));
	RUN_OUT(vcpu, 1, 0x12);
}

TEST_HARNESS_MAIN
