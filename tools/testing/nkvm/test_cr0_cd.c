// SPDX-License-Identifier: GPL-2.0
/*
 * test_cr0_cd.c - CR0.CD and CR0.NW as the guest sees them.
 *
 * Linux KVM on SVM keeps CD and NW clear in the CR0 the hardware uses
 * (KVM_X86_QUIRK_CD_NW_CLEARED, on by default), so that a guest that sets
 * CD does not run uncached, and intercepts CR0 reads and writes meanwhile:
 * the guest reads back exactly what it wrote (MOV from CR0 and SMSW), and
 * KVM_GET_SREGS reports it.  The quirk can be disabled with
 * KVM_CAP_DISABLE_QUIRKS2; what the guest sees stays the same, but its
 * CR0 reads no longer exit (counted with the "exits" statistic).  The
 * vCPU comes out of reset with CD and NW set (CR0 0x60000010).
 */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

#define CR0_PE		0x1ULL
#define CR0_TS		0x8ULL
#define CR0_ET		0x10ULL
#define CR0_NW		(1ULL << 29)
#define CR0_CD		(1ULL << 30)
#define GP_HANDLER	0x3000

/*
 * Real mode, from the reset CR0: report it (0x10), clear CD and NW and
 * report (0x11), set CD again, report with MOV and with a 32-bit SMSW
 * (0x12, 0x13), CLTS after setting TS (0x14), NW without CD must #GP
 * (0x16 from the handler), then on to protected mode and back with CD
 * still set (0x15), and HLT.
 */
GUEST_CODE(cd_guest,
	"mov %cr0, %eax\n"
	"out %eax, $0x10\n"
	"and $0x9fffffff, %eax\n"
	"mov %eax, %cr0\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x11\n"
	"or $0x40000000, %eax\n"
	"mov %eax, %cr0\n"
	"mov %cr0, %ebx\n"
	"mov %ebx, %eax\n"
	"out %eax, $0x12\n"
	"xor %ecx, %ecx\n"
	"smsw %ecx\n"
	"mov %ecx, %eax\n"
	"out %eax, $0x13\n"
	"mov %ebx, %eax\n"
	"or $8, %eax\n"
	"mov %eax, %cr0\n"
	"clts\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x14\n"
	/* NW without CD: #GP, CR0 unchanged. */
	"mov %ebx, %eax\n"
	"and $0xbfffffff, %eax\n"
	"or $0x20000000, %eax\n"
	"mov %eax, %cr0\n"
	/* Protected mode and back, CD kept; CPUID in between. */
	"mov %ebx, %eax\n"
	"or $1, %eax\n"
	"mov %eax, %cr0\n"
	"xor %eax, %eax\n"
	"cpuid\n"
	"mov %cr0, %eax\n"
	"and $0xfffffffe, %eax\n"
	"mov %eax, %cr0\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x15\n"
	"hlt\n"
);

/* #GP: report, step over the 3-byte "mov %eax, %cr0". */
GUEST_CODE(cd_gp_handler,
	"mov %sp, %bp\n"
	"addw $3, (%bp)\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x16\n"
	"iret\n"
);

static struct vcpu *cd_vm(void)
{
	struct vcpu *vcpu = VM_WITH_GUEST(cd_guest);
	struct kvm_sregs sregs;

	vm_write(vcpu->vm, GP_HANDLER, cd_gp_handler,
		 GUEST_SIZE(cd_gp_handler));
	vm_set_ivt(vcpu->vm, 13, 0, GP_HANDLER);
	/* The reset value, whatever the real-mode helper left. */
	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 = CR0_CD | CR0_NW | CR0_ET;
	vcpu_set_sregs(vcpu, &sregs);
	return vcpu;
}

static uint64_t sregs_cr0(struct vcpu *vcpu)
{
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	return sregs.cr0;
}

static void run_cd_guest(struct vcpu *vcpu)
{
	uint32_t cr0;

	cr0 = RUN_OUT(vcpu, 4, 0x10);
	ASSERT_EQ(cr0, CR0_CD | CR0_NW | CR0_ET);

	cr0 = RUN_OUT(vcpu, 4, 0x11);
	ASSERT_EQ(cr0, CR0_ET);
	ASSERT_EQ(sregs_cr0(vcpu), CR0_ET);

	cr0 = RUN_OUT(vcpu, 4, 0x12);
	ASSERT_EQ(cr0, CR0_CD | CR0_ET);
	ASSERT_EQ(sregs_cr0(vcpu), CR0_CD | CR0_ET);

	/* A 32-bit SMSW stores the whole CR0. */
	cr0 = RUN_OUT(vcpu, 4, 0x13);
	ASSERT_EQ(cr0, CR0_CD | CR0_ET);

	cr0 = RUN_OUT(vcpu, 4, 0x14);
	ASSERT_EQ(cr0, CR0_CD | CR0_ET);

	cr0 = RUN_OUT(vcpu, 4, 0x16);
	ASSERT_EQ(cr0, CR0_CD | CR0_ET);

	cr0 = RUN_OUT(vcpu, 4, 0x15);
	ASSERT_EQ(cr0, CR0_CD | CR0_ET);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(sregs_cr0(vcpu), CR0_CD | CR0_ET);
}

TEST(guest_reads_back_cd)
{
	run_cd_guest(cd_vm());
}

TEST(guest_reads_back_cd_without_the_quirk)
{
	struct vcpu *vcpu = cd_vm();
	int caps = kvm_check_cap(vcpu->vm->fd, KVM_CAP_DISABLE_QUIRKS2);

	if (caps <= 0 || !(caps & KVM_X86_QUIRK_CD_NW_CLEARED))
		SKIP("no KVM_X86_QUIRK_CD_NW_CLEARED in KVM_CAP_DISABLE_QUIRKS2");
	vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
		      KVM_X86_QUIRK_CD_NW_CLEARED);
	run_cd_guest(vcpu);
}

/* KVM_SET_SREGS with CD: KVM_GET_SREGS gives it back, the guest too. */
GUEST_CODE(cd_read_guest,
	"mov %cr0, %eax\n"
	"out %eax, $0x10\n"
	"hlt\n"
);

TEST(set_sregs_cd_reads_back)
{
	struct vcpu *vcpu = VM_WITH_GUEST(cd_read_guest);
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 = CR0_CD | CR0_ET;
	vcpu_set_sregs(vcpu, &sregs);
	ASSERT_EQ(sregs_cr0(vcpu), CR0_CD | CR0_ET);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), CR0_CD | CR0_ET);
	ASSERT_EQ(sregs_cr0(vcpu), CR0_CD | CR0_ET);
}

/* In long mode: MOV from CR0 to a REX register, CD set and cleared. */
GUEST_CODE64(cd_long_guest,
	"mov %cr0, %rax\n"
	"bts $30, %rax\n"
	"mov %rax, %cr0\n"
	"mov %cr0, %r9\n"
	"mov %r9, %rax\n"
	"out %eax, $0x10\n"
	"btr $30, %rax\n"
	"mov %rax, %cr0\n"
	"mov %cr0, %r10\n"
	"mov %r10, %rax\n"
	"out %eax, $0x11\n"
	"hlt\n"
);

/* A long-mode vCPU running @code, CD and NW clear in *base, its CR0. */
static struct vcpu *long_vm_cd_clear(const void *code, size_t len,
				     uint64_t *base)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(code, len, MODE_LONG);
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 &= ~(CR0_CD | CR0_NW);
	vcpu_set_sregs(vcpu, &sregs);
	*base = sregs.cr0;
	return vcpu;
}

TEST(long_mode_cd)
{
	uint64_t base;
	struct vcpu *vcpu = long_vm_cd_clear(cd_long_guest,
					     GUEST_SIZE(cd_long_guest), &base);

	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), (uint32_t)(base | CR0_CD));
	ASSERT_EQ(sregs_cr0(vcpu), base | CR0_CD);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), (uint32_t)base);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(sregs_cr0(vcpu), base);
}

/*
 * LMSW and SMSW with memory operands while CD makes CR0 accesses exit (on
 * SVM, with the quirk): SMSW stores one word, to RAM and to MMIO (at
 * 0x100000, past the 1 MiB of RAM), whatever the operand size; LMSW loads
 * PE, MP, EM and TS from RAM and from MMIO, and can set PE but not clear
 * it.  Back to real mode with MOV at the end.
 */
GUEST_CODE(msw_guest,
	"mov %cr0, %eax\n"
	"or $0x40000000, %eax\n"
	"mov %eax, %cr0\n"
	"movl $0xaaaaaaaa, (0x700)\n"
	"smsw (0x700)\n"
	"mov (0x700), %eax\n"
	"out %eax, $0x20\n"
	"movl $0xaaaaaaaa, (0x704)\n"
	".byte 0x66\n"
	"smsw (0x704)\n"
	"mov (0x704), %eax\n"
	"out %eax, $0x21\n"
	"mov $0xffff, %ax\n"
	"mov %ax, %es\n"
	"smsw %es:(0x10)\n"
	"movw $0xfffe, (0x708)\n"
	"lmsw (0x708)\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x22\n"
	"lmsw %es:(0x10)\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x23\n"
	"movw $1, (0x708)\n"
	"lmsw (0x708)\n"
	"movw $0, (0x708)\n"
	"lmsw (0x708)\n"
	"mov %cr0, %eax\n"
	"out %eax, $0x24\n"
	"and $0xfffffffe, %eax\n"
	"mov %eax, %cr0\n"
	"smsw (0x70c)\n"
	"movzwl (0x70c), %eax\n"
	"out %eax, $0x25\n"
	"hlt\n"
);

#define MSW_MMIO	0x100000

TEST(lmsw_smsw_memory_operands)
{
	struct vcpu *vcpu = VM_WITH_GUEST(msw_guest);
	uint64_t cr0 = sregs_cr0(vcpu) | CR0_CD;
	struct kvm_run *run = vcpu->run;
	uint16_t word;

	ASSERT_EQ(cr0 & CR0_PE, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x20), 0xaaaa0000 | (uint16_t)cr0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x21), 0xaaaa0000 | (uint16_t)cr0);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(run->mmio.phys_addr, MSW_MMIO);
	ASSERT_EQ(run->mmio.len, 2);
	ASSERT_TRUE(run->mmio.is_write);
	memcpy(&word, run->mmio.data, 2);
	ASSERT_EQ(word, (uint16_t)cr0);

	/* MP, EM and TS; PE stays clear (bit 0 of 0xfffe). */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x22), (uint32_t)(cr0 | 0xe));
	ASSERT_EQ(sregs_cr0(vcpu), cr0 | 0xe);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(run->mmio.phys_addr, MSW_MMIO);
	ASSERT_EQ(run->mmio.len, 2);
	ASSERT_FALSE(run->mmio.is_write);
	word = 0xfff8;		/* TS only */
	memcpy(run->mmio.data, &word, 2);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x23), (uint32_t)(cr0 | CR0_TS));

	/* PE set by LMSW, kept by an LMSW of 0. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x24), (uint32_t)(cr0 | CR0_PE));
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x25), (uint16_t)cr0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(sregs_cr0(vcpu), cr0);
}

/*
 * In long mode: SMSW to a 64-bit register stores the whole CR0, to a
 * 32-bit one zero-extends it, to memory a word; LMSW from memory keeps PE.
 */
GUEST_CODE64(msw_long_guest,
	"mov %cr0, %rax\n"
	"bts $30, %rax\n"
	"mov %rax, %cr0\n"
	"mov $-1, %r11\n"
	"smsw %r11\n"
	"mov %r11, %rax\n"
	"out %eax, $0x10\n"
	"shr $32, %rax\n"
	"out %eax, $0x11\n"
	"mov $-1, %r10\n"
	"smsw %r10d\n"
	"mov %r10, %rax\n"
	"shr $32, %rax\n"
	"out %eax, $0x12\n"
	"movq $-1, (0x700)\n"
	"smsw (0x700)\n"
	"mov (0x700), %rax\n"
	"out %eax, $0x13\n"
	"shr $32, %rax\n"
	"out %eax, $0x14\n"
	"movw $0xfff6, (0x708)\n"
	"lmsw (0x708)\n"
	"mov %cr0, %rax\n"
	"out %eax, $0x15\n"
	"movw $0, (0x708)\n"
	"lmsw (0x708)\n"
	"mov %cr0, %rax\n"
	"out %eax, $0x16\n"
	"hlt\n"
);

TEST(long_mode_lmsw_smsw)
{
	uint64_t base;
	struct vcpu *vcpu = long_vm_cd_clear(msw_long_guest,
					     GUEST_SIZE(msw_long_guest), &base);
	uint64_t cr0 = base | CR0_CD;

	ASSERT_EQ(base & CR0_PE, CR0_PE);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), (uint32_t)cr0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x13), 0xffff0000 | (uint16_t)cr0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x14), 0xffffffff);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x15), (uint32_t)((cr0 & ~0xeULL) | 0x6));
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x16), (uint32_t)(cr0 & ~0xeULL));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(sregs_cr0(vcpu), cr0 & ~0xeULL);
}

/* The vCPU's "exits" statistic (KVM_GET_STATS_FD). */
static uint64_t vcpu_exits(struct vcpu *vcpu)
{
	int fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);
	struct kvm_stats_header h;
	uint64_t v = UINT64_MAX;
	size_t size;
	char *desc;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(pread(fd, &h, sizeof(h), 0), sizeof(h));
	size = sizeof(struct kvm_stats_desc) + h.name_size;
	desc = calloc(h.num_desc, size);
	ASSERT_TRUE(desc != NULL);
	ASSERT_EQ(pread(fd, desc, h.num_desc * size, h.desc_offset),
		  (ssize_t)(h.num_desc * size));
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(desc + i * size);

		if (!strcmp(d->name, "exits"))
			ASSERT_EQ(pread(fd, &v, sizeof(v),
					h.data_offset + d->offset), sizeof(v));
	}
	free(desc);
	close(fd);
	ASSERT_NE(v, UINT64_MAX);
	return v;
}

/* 200 reads of CR0 between two OUTs. */
GUEST_CODE(cr0_reads_guest,
	"out %al, $0x10\n"
	"mov $200, %cx\n"
	"1: mov %cr0, %eax\n"
	"loop 1b\n"
	"out %al, $0x11\n"
	"hlt\n"
);

static uint64_t exits_for_cr0_reads(bool quirk)
{
	struct vcpu *vcpu = VM_WITH_GUEST(cr0_reads_guest);
	unsigned int eax, ebx, ecx, edx;
	struct kvm_sregs sregs;
	uint64_t before;

	/* On VMX, a CR0 read shadow answers them: nothing to count. */
	__cpuid(0, eax, ebx, ecx, edx);
	if (ebx != 0x68747541)		/* "Auth"enticAMD */
		SKIP("CR0 read intercepts are SVM's (the host is not AMD)");
	if (!quirk) {
		int caps = kvm_check_cap(vcpu->vm->fd, KVM_CAP_DISABLE_QUIRKS2);

		if (caps <= 0 || !(caps & KVM_X86_QUIRK_CD_NW_CLEARED))
			SKIP("no KVM_X86_QUIRK_CD_NW_CLEARED");
		vm_enable_cap(vcpu->vm, KVM_CAP_DISABLE_QUIRKS2,
			      KVM_X86_QUIRK_CD_NW_CLEARED);
	}
	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 = CR0_CD | CR0_ET;
	vcpu_set_sregs(vcpu, &sregs);
	RUN_OUT(vcpu, 1, 0x10);
	before = vcpu_exits(vcpu);
	RUN_OUT(vcpu, 1, 0x11);
	return vcpu_exits(vcpu) - before;
}

/* With the quirk, the hardware's CR0 lacks CD: every read exits. */
TEST(cd_reads_exit_with_the_quirk)
{
	ASSERT_GE(exits_for_cr0_reads(true), 200);
}

/* Without it the hardware's CR0 is the guest's: reads run natively. */
TEST(cd_reads_native_without_the_quirk)
{
	ASSERT_LT(exits_for_cr0_reads(false), 200);
}

TEST_HARNESS_MAIN
