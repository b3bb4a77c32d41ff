// SPDX-License-Identifier: GPL-2.0
/*
 * test_modes.c - guests in every x86 CPU mode.
 *
 * 1. One guest tours the modes by itself, starting in real mode: it builds
 *    its own GDT and page tables and goes real -> 16-bit protected ->
 *    32-bit protected -> 32-bit paging (4 KiB and 4 MiB pages, CR4.PSE) ->
 *    PAE -> long mode (EFER.LME with WRMSR, CR4.PAE, CR3, CR0.PG, far jump
 *    to a 64-bit code segment) -> compatibility mode (far return to a
 *    32-bit code segment) -> out of long mode -> 32-bit protected ->
 *    16-bit protected -> real mode.
 * 2. The host puts a vCPU directly into each mode with KVM_SET_SREGS
 *    (GDT and page tables built by the host: vm_build_tables() in vm.c).
 * 3. In each mode, an IDT (the IVT in real mode) whose guest handlers catch
 *    #DE, #UD, #GP (from the hardware and injected by the hypervisor for an
 *    unknown MSR) and #PF (with CR2), report the vector and return.
 *
 * In each mode the guest does the same "proof" work (the WORK_* macros),
 * reported with OUTs that expect_work() checks, and the host checks the
 * mode with KVM_GET_SREGS at the first exit of each block:
 *
 *	port 0x10, 1 byte:  the mode number (enum guest_mode)
 *	port 0x11:          a constant, OUT from eAX: 2 bytes in 16-bit
 *	                    code, 4 in 32/64-bit code (the operand size)
 *	port 0x12, 1 byte:  how far "push $1" (6a 01) moved the stack
 *	                    pointer: 2, 4 or 8
 *	port 0x13, 4 bytes: a value read from memory (see expect_work())
 *	port 0x14, 1 byte:  the block is done (the host checks its writes)
 *	port 0x15, 1 byte:  long mode: the host checks RAX and R15
 *
 * Addresses and selectors are those of vm.h (GDT_ADDR, SEL_*, REMAP_VA...).
 * CPUID is not used (nkvm's answers all zeros today).
 */
#include <sys/ioctl.h>

#include "vm.h"

#define PORT_MODE	0x10
#define PORT_OPSIZE	0x11
#define PORT_STACK	0x12
#define PORT_VALUE	0x13
#define PORT_DONE	0x14
#define PORT_REGS	0x15
#define PORT_VECTOR	0x20
#define PORT_ERROR	0x21
#define PORT_CR2	0x22
#define PORT_CR2_HIGH	0x23

/* Values the host plants in guest memory, and where. */
#define REAL_VALUE_PA	0x30000		/* read in real mode as 3000:0000 */
#define REAL_VALUE	0x4c414552
#define HIGH16_VALUE	0x48474948	/* at 0x100000, read via SEL_HIGH16 */
#define PM32_VALUE_PA	0x300000
#define PM32_VALUE	0x32335350
#define REMAP_VALUE	0x50414d52	/* at REMAP_PA, read via REMAP_VA */
#define IDENT_VALUE	0xbad0bad0	/* at physical REMAP_VA and LARGE_VA+0x10 */
#define LARGE_VALUE	0x4752414c	/* at LARGE_PA + 0x10 */

/* Values the guest writes, and where. */
#define REAL_WRITE_PA	0x20010		/* 2000:0010 */
#define HIGH16_WRITE_PA	0x100020	/* SEL_HIGH16:0020 */
#define PM32_WRITE_PA	0x200010
#define REMAP_WRITE(m)	(0xa0000001 + (m) * 0x100)	/* REMAP_VA + 4 */
#define LARGE_WRITE(m)	(0xa0000002 + (m) * 0x100)	/* LARGE_VA + 0x20 */

#define LONG_RAX	0x0123456789abcdef
#define LONG_R15	0x123456789abcdef0

#define CR0_PE		(1ULL << 0)
#define CR0_PG		(1ULL << 31)
#define CR4_PSE		(1ULL << 4)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define X(v) XSTR(v)

/* The mode numbers (enum guest_mode) as plain numbers, for guest code. */
#define N_REAL		0
#define N_PM16		1
#define N_PM32		2
#define N_PG32		3
#define N_PAE		4
#define N_LONG		5
#define N_COMPAT	6
_Static_assert(N_REAL == MODE_REAL && N_PM16 == MODE_PM16 &&
	       N_PM32 == MODE_PM32 && N_PG32 == MODE_PG32 &&
	       N_PAE == MODE_PAE && N_LONG == MODE_LONG &&
	       N_COMPAT == MODE_COMPAT, "mode numbers");

/* ---- The proof of each mode (guest side) ---- */

/* Report how far "push $1" moves the stack pointer, then undo it. */
#define PUSH_WIDTH16							\
	"mov %sp, %bx\n"						\
	".byte 0x6a, 0x01\n"		/* push $1 */			\
	"mov %bx, %ax\n"						\
	"sub %sp, %ax\n"						\
	"mov %bx, %sp\n"						\
	"out %al, $" X(PORT_STACK) "\n"
#define PUSH_WIDTH32							\
	"mov %esp, %ebx\n"						\
	".byte 0x6a, 0x01\n"						\
	"mov %ebx, %eax\n"						\
	"sub %esp, %eax\n"						\
	"mov %ebx, %esp\n"						\
	"out %al, $" X(PORT_STACK) "\n"
#define PUSH_WIDTH64							\
	"mov %rsp, %rbx\n"						\
	".byte 0x6a, 0x01\n"						\
	"mov %rbx, %rax\n"						\
	"sub %rsp, %rax\n"						\
	"mov %rbx, %rsp\n"						\
	"out %al, $" X(PORT_STACK) "\n"

/* Real mode (.code16): segment arithmetic reaches past 64 KiB. */
#define WORK_REAL							\
	"mov $" X(N_REAL) ", %al\n"					\
	"out %al, $" X(PORT_MODE) "\n"					\
	"mov $0x1616, %ax\n"						\
	"out %ax, $" X(PORT_OPSIZE) "\n"				\
	PUSH_WIDTH16							\
	"mov $0x2000, %ax\n"						\
	"mov %ax, %es\n"						\
	"movw $0xbeef, %es:0x10\n"	/* physical 0x20010 */		\
	"mov $0x3000, %ax\n"						\
	"mov %ax, %es\n"						\
	"mov %es:0, %eax\n"		/* physical 0x30000 */		\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"xor %ax, %ax\n"						\
	"mov %ax, %es\n"						\
	"out %al, $" X(PORT_DONE) "\n"

/* 16-bit protected mode: a 16-bit data segment based at 1 MiB. */
#define WORK_PM16							\
	"mov $" X(N_PM16) ", %al\n"					\
	"out %al, $" X(PORT_MODE) "\n"					\
	"mov $0x1616, %ax\n"						\
	"out %ax, $" X(PORT_OPSIZE) "\n"				\
	PUSH_WIDTH16							\
	"mov $" X(SEL_HIGH16) ", %ax\n"					\
	"mov %ax, %es\n"						\
	"movw $0xcafe, %es:0x20\n"	/* physical 0x100020 */		\
	"mov %es:0, %eax\n"		/* physical 0x100000 */		\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"mov $" X(SEL_DATA16) ", %ax\n"					\
	"mov %ax, %es\n"						\
	"out %al, $" X(PORT_DONE) "\n"

/* 32-bit protected mode without paging: flat addresses past 1 MiB. */
#define WORK_PM32							\
	"mov $" X(N_PM32) ", %al\n"					\
	"out %al, $" X(PORT_MODE) "\n"					\
	"mov $0x32323232, %eax\n"					\
	"out %eax, $" X(PORT_OPSIZE) "\n"				\
	PUSH_WIDTH32							\
	"movl $0xa0000201, " X(PM32_WRITE_PA) "\n"			\
	"mov " X(PM32_VALUE_PA) ", %eax\n"				\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"out %al, $" X(PORT_DONE) "\n"

/*
 * 32-bit code with paging (32-bit paging, PAE, compatibility mode): a 4 KiB
 * page and a large page mapped away from their physical addresses.
 */
#define WORK_PAGING(mode)						\
	"mov $" X(mode) ", %al\n"					\
	"out %al, $" X(PORT_MODE) "\n"					\
	"mov $0x32323232, %eax\n"					\
	"out %eax, $" X(PORT_OPSIZE) "\n"				\
	PUSH_WIDTH32							\
	"mov " X(REMAP_VA) ", %eax\n"	/* physical REMAP_PA */		\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"movl $" X(REMAP_WRITE(mode)) ", " X(REMAP_VA) " + 4\n"		\
	"mov " X(LARGE_VA) " + 0x10, %eax\n" /* physical LARGE_PA + 0x10 */ \
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"movl $" X(LARGE_WRITE(mode)) ", " X(LARGE_VA) " + 0x20\n"	\
	"out %al, $" X(PORT_DONE) "\n"

/*
 * 64-bit mode: 64-bit registers, and the same pages reached through the
 * sign-extended alias at 0xffffff8000000000 (PML4 entry 511).
 */
#define WORK_LONG							\
	"mov $" X(N_LONG) ", %al\n"					\
	"out %al, $" X(PORT_MODE) "\n"					\
	"mov $0x64646464, %eax\n"					\
	"out %eax, $" X(PORT_OPSIZE) "\n"				\
	PUSH_WIDTH64							\
	"movabs $" X(LONG_RAX) ", %rax\n"				\
	"mov %rax, %r15\n"						\
	"shl $4, %r15\n"		/* LONG_R15 */			\
	"out %al, $" X(PORT_REGS) "\n"					\
	"shr $32, %rax\n"						\
	"out %eax, $" X(PORT_VALUE) "\n" /* 0x01234567 */		\
	"movabs $" X(HIGH_ALIAS) " + " X(REMAP_VA) ", %rbx\n"		\
	"mov (%rbx), %eax\n"						\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"movl $" X(REMAP_WRITE(N_LONG)) ", 4(%rbx)\n"		\
	"movabs $" X(HIGH_ALIAS) " + " X(LARGE_VA) ", %rbx\n"		\
	"mov 0x10(%rbx), %eax\n"					\
	"out %eax, $" X(PORT_VALUE) "\n"				\
	"movl $" X(LARGE_WRITE(N_LONG)) ", 0x20(%rbx)\n"		\
	"out %al, $" X(PORT_DONE) "\n"

/* ---- The proof of each mode (host side) ---- */

static void plant_values(struct vm *vm)
{
	*(uint32_t *)vm_ptr(vm, REAL_VALUE_PA) = REAL_VALUE;
	*(uint32_t *)vm_ptr(vm, 0x100000) = HIGH16_VALUE;
	*(uint32_t *)vm_ptr(vm, PM32_VALUE_PA) = PM32_VALUE;
	*(uint32_t *)vm_ptr(vm, REMAP_PA) = REMAP_VALUE;
	*(uint32_t *)vm_ptr(vm, REMAP_VA) = IDENT_VALUE;
	*(uint32_t *)vm_ptr(vm, LARGE_PA + 0x10) = LARGE_VALUE;
	*(uint32_t *)vm_ptr(vm, LARGE_VA + 0x10) = IDENT_VALUE;
}

/* What KVM_GET_SREGS must say in each mode. */
static void check_sregs(struct vcpu *vcpu, enum guest_mode mode)
{
	int pe = mode != MODE_REAL;
	int pg = mode >= MODE_PG32;
	int pae = mode >= MODE_PAE;
	int lma = mode >= MODE_LONG;
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	TH_LOG("%s: cr0 %llx cr3 %llx cr4 %llx efer %llx cs %x (db %d l %d)",
	       mode_name(mode), (unsigned long long)s.cr0,
	       (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	       (unsigned long long)s.efer, s.cs.selector, s.cs.db, s.cs.l);
	ASSERT_EQ(!!(s.cr0 & CR0_PE), pe);
	ASSERT_EQ(!!(s.cr0 & CR0_PG), pg);
	if (pg) {
		ASSERT_EQ(!!(s.cr4 & CR4_PAE), pae);
		ASSERT_EQ(!!(s.efer & EFER_LMA), lma);
		ASSERT_EQ(!!(s.efer & EFER_LME), lma);
		ASSERT_EQ(s.cr3 & ~0xfffULL,
			  lma ? PML4_ADDR : pae ? PDPT_PAE_ADDR : PD32_ADDR);
	} else {
		ASSERT_EQ(s.efer & (EFER_LME | EFER_LMA), 0);
	}
	if (mode == MODE_PG32)
		ASSERT_TRUE(s.cr4 & CR4_PSE);
	switch (mode) {
	case MODE_REAL:
		break;
	case MODE_PM16:
		ASSERT_EQ(s.cs.selector, SEL_CODE16);
		ASSERT_EQ(s.cs.db, 0);
		ASSERT_EQ(s.cs.l, 0);
		break;
	case MODE_LONG:
		ASSERT_EQ(s.cs.selector, SEL_CODE64);
		ASSERT_EQ(s.cs.l, 1);
		ASSERT_EQ(s.cs.db, 0);
		break;
	default:
		ASSERT_EQ(s.cs.selector, SEL_CODE32);
		ASSERT_EQ(s.cs.db, 1);
		ASSERT_EQ(s.cs.l, 0);
		break;
	}
}

static uint32_t mem32(struct vm *vm, uint64_t gpa)
{
	return *(uint32_t *)vm_ptr(vm, gpa);
}

/* Check (and clear) a value the guest wrote. */
static void expect_written32(struct vm *vm, uint64_t gpa, uint32_t want)
{
	ASSERT_EQ(mem32(vm, gpa), want);
	*(uint32_t *)vm_ptr(vm, gpa) = 0;
}

static void expect_written16(struct vm *vm, uint64_t gpa, uint16_t want)
{
	ASSERT_EQ(*(uint16_t *)vm_ptr(vm, gpa), want);
	*(uint16_t *)vm_ptr(vm, gpa) = 0;
}

/* Run through one WORK_* block of this mode. */
static void expect_work(struct vcpu *vcpu, enum guest_mode mode)
{
	int bits16 = mode <= MODE_PM16;
	struct vm *vm = vcpu->vm;
	struct kvm_regs regs;

	ASSERT_EQ(RUN_OUT(vcpu, 1, PORT_MODE), mode);
	check_sregs(vcpu, mode);
	ASSERT_EQ(RUN_OUT(vcpu, bits16 ? 2 : 4, PORT_OPSIZE),
		  bits16 ? 0x1616 : mode == MODE_LONG ? 0x64646464 : 0x32323232);
	ASSERT_EQ(RUN_OUT(vcpu, 1, PORT_STACK),
		  bits16 ? 2 : mode == MODE_LONG ? 8 : 4);

	switch (mode) {
	case MODE_REAL:
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), REAL_VALUE);
		RUN_OUT(vcpu, 1, PORT_DONE);
		expect_written16(vm, REAL_WRITE_PA, 0xbeef);
		break;
	case MODE_PM16:
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), HIGH16_VALUE);
		RUN_OUT(vcpu, 1, PORT_DONE);
		expect_written16(vm, HIGH16_WRITE_PA, 0xcafe);
		break;
	case MODE_PM32:
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), PM32_VALUE);
		RUN_OUT(vcpu, 1, PORT_DONE);
		expect_written32(vm, PM32_WRITE_PA, 0xa0000201);
		break;
	case MODE_LONG:
		RUN_OUT(vcpu, 1, PORT_REGS);
		vcpu_get_regs(vcpu, &regs);
		ASSERT_EQ(regs.rax, LONG_RAX);
		ASSERT_EQ(regs.r15, LONG_R15);
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), LONG_RAX >> 32);
		/* fall through */
	default:
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), REMAP_VALUE);
		ASSERT_EQ(RUN_OUT(vcpu, 4, PORT_VALUE), LARGE_VALUE);
		RUN_OUT(vcpu, 1, PORT_DONE);
		expect_written32(vm, REMAP_PA + 4, REMAP_WRITE(mode));
		expect_written32(vm, LARGE_PA + 0x20, LARGE_WRITE(mode));
		/* Nothing went to the identity addresses. */
		ASSERT_EQ(mem32(vm, REMAP_VA + 4), 0);
		ASSERT_EQ(mem32(vm, LARGE_VA + 0x20), 0);
		break;
	}
}

static void expect_hlt(struct vcpu *vcpu)
{
	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_HLT);
}

/* ---- 1. The guest tours the modes by itself ---- */

/* Guest address of a label of mode_tour. */
#define TOUR(label) GUEST_ADDR(mode_tour, label)

/* Write GDT entry sel (8 bytes: low, high dword); .code16 or .code32. */
#define GDT_ENTRY(sel, low, high)					\
	"movl $" low ", " X(GDT_ADDR) " + " X(sel) "\n"			\
	"movl $" high ", " X(GDT_ADDR) " + " X(sel) " + 4\n"

/* Fill n entries of size bytes at table: (first + i * step) | bits. */
#define FILL_TABLE(table, n, size, first, step, bits)			\
	"mov $" X(table) ", %edi\n"					\
	"mov $(" X(first) " | " bits "), %eax\n"			\
	"mov $" X(n) ", %ecx\n"						\
	"1: mov %eax, (%edi)\n"						\
	"add $" X(step) ", %eax\n"					\
	"add $" X(size) ", %edi\n"					\
	"loop 1b\n"

#define PAGING_OFF							\
	"mov %cr0, %eax\n"						\
	"and $0x7fffffff, %eax\n"					\
	"mov %eax, %cr0\n"
#define PAGING_ON							\
	"mov %cr0, %eax\n"						\
	"or $0x80000000, %eax\n"					\
	"mov %eax, %cr0\n"

GUEST_CODE(mode_tour,
	/* ---- real mode: cs = ds = es = ss = 0, sp = STACK_TOP ---- */
	WORK_REAL
	/*
	 * The GDT (the same as vm_build_tables()' but for the TSS):
	 * limit 0xffff or 0xfffff, base 0 unless said, access 9b (code) or
	 * 93 (data), flags 0 (16-bit), c (32-bit, 4 KiB granularity) or
	 * a (64-bit).
	 */
	GDT_ENTRY(SEL_CODE16, "0x0000ffff", "0x00009b00")
	GDT_ENTRY(SEL_DATA16, "0x0000ffff", "0x00009300")
	GDT_ENTRY(SEL_CODE32, "0x0000ffff", "0x00cf9b00")
	GDT_ENTRY(SEL_DATA32, "0x0000ffff", "0x00cf9300")
	GDT_ENTRY(SEL_CODE64, "0x0000ffff", "0x00af9b00")
	GDT_ENTRY(SEL_HIGH16, "0x0000ffff", "0x00009310") /* base 0x100000 */
	/* Its pseudo-descriptor at 0x500: limit, then base. */
	"movw $" X(GDT_LIMIT) ", 0x500\n"
	"movl $" X(GDT_ADDR) ", 0x502\n"
	"lgdt 0x500\n"
	"mov %cr0, %eax\n"
	"or $1, %eax\n"			/* CR0.PE */
	"mov %eax, %cr0\n"
	"ljmp $" X(SEL_CODE16) ", $" TOUR("1f") "\n"

	/* ---- 16-bit protected mode ---- */
	"1: mov $" X(SEL_DATA16) ", %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov %ax, %ss\n"
	WORK_PM16
	"ljmp $" X(SEL_CODE32) ", $" TOUR("1f") "\n"

	/* ---- 32-bit protected mode ---- */
	".code32\n"
	"1: mov $" X(SEL_DATA32) ", %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov %ax, %ss\n"
	"mov $" X(STACK_TOP) ", %esp\n"
	WORK_PM32

	/*
	 * ---- 32-bit paging ----
	 * Page table: 1024 identity 4 KiB pages, then REMAP_VA -> REMAP_PA;
	 * page directory: that table for 0-4 MiB, a 4 MiB page (PS) for
	 * LARGE_VA.  P|RW = 3, PS = 0x80.
	 */
	FILL_TABLE(PT32_ADDR, 1024, 4, 0, 0x1000, "3")
	"movl $(" X(REMAP_PA) " | 3), " X(PT32_ADDR) " + (" X(REMAP_VA) " >> 10)\n"
	"movl $(" X(PT32_ADDR) " | 3), " X(PD32_ADDR) "\n"
	"movl $(" X(LARGE_PA) " | 0x83), " X(PD32_ADDR) " + (" X(LARGE_VA) " >> 20)\n"
	"mov $" X(PD32_ADDR) ", %eax\n"
	"mov %eax, %cr3\n"
	"mov %cr4, %eax\n"
	"or $0x10, %eax\n"		/* CR4.PSE */
	"mov %eax, %cr4\n"
	PAGING_ON
	WORK_PAGING(N_PG32)
	PAGING_OFF

	/*
	 * ---- PAE paging ----
	 * Page table (2-4 MiB): 512 identity 8-byte entries, then REMAP_VA ->
	 * REMAP_PA; page directory: a 2 MiB page for 0-2 MiB, the table,
	 * a 2 MiB page for LARGE_VA; PDPT: the directory (P only).
	 * The high dwords stay zero (memory starts zeroed).
	 */
	FILL_TABLE(PT_ADDR, 512, 8, 0x200000, 0x1000, "3")
	"movl $(" X(REMAP_PA) " | 3), " X(PT_ADDR) " + ((" X(REMAP_VA) " & 0x1fffff) >> 9)\n"
	"movl $0x83, " X(PD_ADDR) "\n"
	"movl $(" X(PT_ADDR) " | 3), " X(PD_ADDR) " + 8\n"
	"movl $(" X(LARGE_PA) " | 0x83), " X(PD_ADDR) " + (" X(LARGE_VA) " >> 18)\n"
	"movl $(" X(PD_ADDR) " | 1), " X(PDPT_PAE_ADDR) "\n"
	"mov $" X(PDPT_PAE_ADDR) ", %eax\n"
	"mov %eax, %cr3\n"
	"mov %cr4, %eax\n"
	"or $0x20, %eax\n"		/* CR4.PAE */
	"mov %eax, %cr4\n"
	PAGING_ON
	WORK_PAGING(N_PAE)
	PAGING_OFF

	/*
	 * ---- long mode ----
	 * PDPT: the same page directory; PML4: the PDPT at entries 0 and 511.
	 * EFER.LME = 1 (WRMSR: ECX = 0xc0000080, EDX:EAX = 0:0x100), then
	 * CR0.PG = 1 activates long mode (EFER.LMA) in compatibility mode;
	 * the far jump to the 64-bit code segment enters 64-bit mode.
	 */
	"movl $(" X(PD_ADDR) " | 3), " X(PDPT_ADDR) "\n"
	"movl $(" X(PDPT_ADDR) " | 3), " X(PML4_ADDR) "\n"
	"movl $(" X(PDPT_ADDR) " | 3), " X(PML4_ADDR) " + 511 * 8\n"
	"mov $" X(PML4_ADDR) ", %eax\n"
	"mov %eax, %cr3\n"
	"mov $0xc0000080, %ecx\n"
	"mov $0x100, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	PAGING_ON
	"ljmp $" X(SEL_CODE64) ", $" TOUR("1f") "\n"
	".code64\n"
	"1:\n"
	WORK_LONG

	/* ---- compatibility mode: far return to the 32-bit code segment ---- */
	"pushq $" X(SEL_CODE32) "\n"
	"pushq $" TOUR("1f") "\n"
	"lretq\n"
	".code32\n"
	"1:\n"
	WORK_PAGING(N_COMPAT)

	/*
	 * ---- leave long mode: paging off (EFER.LMA = 0), EFER.LME = 0 ----
	 */
	PAGING_OFF
	"mov $0xc0000080, %ecx\n"
	"xor %eax, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	WORK_PM32

	/* ---- back to 16-bit protected mode, then real mode ---- */
	"ljmp $" X(SEL_CODE16) ", $" TOUR("1f") "\n"
	".code16\n"
	"1: mov $" X(SEL_DATA16) ", %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov %ax, %ss\n"
	WORK_PM16
	"mov %cr0, %eax\n"
	"and $0xfe, %al\n"		/* CR0.PE = 0 */
	"mov %eax, %cr0\n"
	"ljmp $0, $" TOUR("1f") "\n"
	"1: xor %ax, %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov %ax, %ss\n"
	WORK_REAL
	"hlt\n"
);

TEST(guest_tours_every_mode)
{
	static const enum guest_mode tour[] = {
		MODE_REAL, MODE_PM16, MODE_PM32, MODE_PG32, MODE_PAE,
		MODE_LONG, MODE_COMPAT, MODE_PM32, MODE_PM16, MODE_REAL,
	};
	struct vm *vm = vm_create(VM_MODES_MEM);
	struct vcpu *vcpu;
	size_t i;

	ASSERT_LE(CODE_ADDR + GUEST_SIZE(mode_tour), 0x7000);
	vm_load_guest(vm, mode_tour);
	plant_values(vm);
	vcpu = vcpu_create(vm, 0);
	/* Linux lets the guest set EFER.LME only with CPUID's LM bit. */
	vcpu_try_supported_cpuid(vcpu);
	vcpu_set_real_mode(vcpu, CODE_ADDR);

	for (i = 0; i < sizeof(tour) / sizeof(tour[0]); i++)
		expect_work(vcpu, tour[i]);
	expect_hlt(vcpu);
}

/* The guest built the same tables as the host would have. */
TEST(guest_tables_match_host_tables)
{
	struct vm *vm = vm_create(VM_MODES_MEM), *ref = vm_create(VM_MODES_MEM);
	struct vcpu *vcpu;

	vm_load_guest(vm, mode_tour);
	plant_values(vm);
	vcpu = vcpu_create(vm, 0);
	vcpu_try_supported_cpuid(vcpu);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	for (int m = MODE_REAL; m <= MODE_LONG; m++)
		expect_work(vcpu, m);

	vm_build_tables(ref);
	/* The guest's GDT has no TSS entry. */
	ASSERT_EQ(memcmp(vm_ptr(vm, GDT_ADDR), vm_ptr(ref, GDT_ADDR), SEL_TSS), 0);
	/* Paging structures, ignoring the accessed and dirty bits. */
	for (uint64_t a = PD32_ADDR; a < TABLES_END; a += 4) {
		uint32_t g = mem32(vm, a) & ~0x60u, h = mem32(ref, a) & ~0x60u;

		if (g != h)
			TH_LOG("table entry at 0x%llx: guest %x, host %x",
			       (unsigned long long)a, g, h);
		ASSERT_EQ(g, h);
	}
}

/* ---- 2. The host puts the vCPU in each mode with KVM_SET_SREGS ---- */

GUEST_CODE(real_work, WORK_REAL "hlt\n");
GUEST_CODE(pm16_work, WORK_PM16 "hlt\n");
GUEST_CODE32(pm32_work, WORK_PM32 "hlt\n");
GUEST_CODE32(pg32_work, WORK_PAGING(N_PG32) "hlt\n");
GUEST_CODE32(pae_work, WORK_PAGING(N_PAE) "hlt\n");
GUEST_CODE64(long_work, WORK_LONG "hlt\n");
GUEST_CODE32(compat_work, WORK_PAGING(N_COMPAT) "hlt\n");

static void host_set_mode(const void *code, size_t len, enum guest_mode mode)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(code, len, mode);

	plant_values(vcpu->vm);
	expect_work(vcpu, mode);
	expect_hlt(vcpu);
}

TEST(host_sets_real_mode)
{
	host_set_mode(real_work, GUEST_SIZE(real_work), MODE_REAL);
}

TEST(host_sets_pm16)
{
	host_set_mode(pm16_work, GUEST_SIZE(pm16_work), MODE_PM16);
}

TEST(host_sets_pm32)
{
	host_set_mode(pm32_work, GUEST_SIZE(pm32_work), MODE_PM32);
}

TEST(host_sets_paging32)
{
	host_set_mode(pg32_work, GUEST_SIZE(pg32_work), MODE_PG32);
}

TEST(host_sets_pae)
{
	host_set_mode(pae_work, GUEST_SIZE(pae_work), MODE_PAE);
}

TEST(host_sets_long_mode)
{
	host_set_mode(long_work, GUEST_SIZE(long_work), MODE_LONG);
}

TEST(host_sets_compat_mode)
{
	host_set_mode(compat_work, GUEST_SIZE(compat_work), MODE_COMPAT);
}

/*
 * ---- 3. Exceptions caught by guest handlers in each mode ----
 *
 * Every handler reports the vector (port 0x20, 1 byte), the error code
 * (port 0x21: 2 bytes in 16-bit handlers, 4 otherwise; 0 when the CPU
 * pushes none) and CR2 (port 0x22, 4 bytes; the high half on port 0x23 in
 * 64-bit handlers), then returns past the faulting instruction: every one
 * of them is 2 bytes long (div %cx/%ecx = f7 f1, ud2 = 0f 0b,
 * mov %ax,%ds = 8e d8, rdmsr = 0f 32, mov (%ebx),%eax = 8b 03,
 * mov %eax,(%ebx) = 89 03; the same bytes in every mode).
 *
 * #GP comes two ways: loading DS with selector 0x78, past the GDT limit
 * (error code 0x78, raised by the CPU), and RDMSR of an MSR that does not
 * exist (0xdeadbeef; the hypervisor intercepts it and injects #GP(0),
 * which in real mode has no error code).
 */
#define BAD_SEL		0x78
#define BAD_MSR		0xdeadbeef

/* 16-bit handlers (real mode IVT, or 16-bit gates); gp: what #GP pushes. */
#define HANDLERS16(p, gp_push)						\
	p "_de: pushw $0\n pushw $0\n jmp 1f\n"				\
	p "_ud: pushw $0\n pushw $6\n jmp 1f\n"				\
	p "_gp: " gp_push " pushw $13\n jmp 1f\n"			\
	"1: pop %ax\n"							\
	"out %al, $" X(PORT_VECTOR) "\n"				\
	"pop %ax\n"							\
	"out %ax, $" X(PORT_ERROR) "\n"					\
	"mov %cr2, %eax\n"						\
	"out %eax, $" X(PORT_CR2) "\n"					\
	"mov %sp, %bp\n"						\
	"addw $2, (%bp)\n"		/* past the faulting instruction */ \
	"iret\n"

#define HANDLERS32(p)							\
	p "_de: pushl $0\n pushl $0\n jmp 1f\n"				\
	p "_ud: pushl $0\n pushl $6\n jmp 1f\n"				\
	p "_gp: pushl $13\n jmp 1f\n"					\
	p "_pf: pushl $14\n jmp 1f\n"					\
	"1: pop %eax\n"							\
	"out %al, $" X(PORT_VECTOR) "\n"				\
	"pop %eax\n"							\
	"out %eax, $" X(PORT_ERROR) "\n"				\
	"mov %cr2, %eax\n"						\
	"out %eax, $" X(PORT_CR2) "\n"					\
	"addl $2, (%esp)\n"						\
	"iret\n"

#define HANDLERS64(p)							\
	p "_de: pushq $0\n pushq $0\n jmp 1f\n"				\
	p "_ud: pushq $0\n pushq $6\n jmp 1f\n"				\
	p "_gp: pushq $13\n jmp 1f\n"					\
	p "_pf: pushq $14\n jmp 1f\n"					\
	"1: pop %rax\n"							\
	"out %al, $" X(PORT_VECTOR) "\n"				\
	"pop %rax\n"							\
	"out %eax, $" X(PORT_ERROR) "\n"				\
	"mov %cr2, %rax\n"						\
	"out %eax, $" X(PORT_CR2) "\n"					\
	"shr $32, %rax\n"						\
	"out %eax, $" X(PORT_CR2_HIGH) "\n"				\
	"addq $2, (%rsp)\n"						\
	"iretq\n"

/* The faults, in 16-bit and 32-bit code. */
#define FAULTS16_DE_UD							\
	"xor %cx, %cx\n div %cx\n"	/* #DE */			\
	"ud2\n"				/* #UD */
#define FAULT16_SEL							\
	"mov $" X(BAD_SEL) ", %ax\n mov %ax, %ds\n"	/* #GP(0x78) */
#define FAULT_MSR							\
	"mov $" X(BAD_MSR) ", %ecx\n rdmsr\n"		/* #GP(0) */
#define FAULTS32							\
	"xor %ecx, %ecx\n div %ecx\n"					\
	"ud2\n"								\
	"mov $" X(BAD_SEL) ", %eax\n mov %ax, %ds\n"			\
	FAULT_MSR
#define FAULTS32_PF							\
	"mov $" X(UNMAPPED_VA) ", %ebx\n"				\
	"mov (%ebx), %eax\n"		/* #PF read: error 0 */		\
	"mov $" X(UNMAPPED_VA) " + 0xff8, %ebx\n"			\
	"mov %eax, (%ebx)\n"		/* #PF write: error 2 */

/* Each guest starts with a jump over its handlers. */
GUEST_CODE(exc_real,
	"jmp 2f\n"
	HANDLERS16("exc_real", "pushw $0\n")
	"2:\n"
	FAULTS16_DE_UD
	FAULT_MSR
	"hlt\n"
);
GUEST_SYM(exc_real_de); GUEST_SYM(exc_real_ud); GUEST_SYM(exc_real_gp);

GUEST_CODE(exc_pm16,
	"jmp 2f\n"
	HANDLERS16("exc_pm16", "")
	"2:\n"
	FAULTS16_DE_UD
	FAULT16_SEL
	FAULT_MSR
	"hlt\n"
);
GUEST_SYM(exc_pm16_de); GUEST_SYM(exc_pm16_ud); GUEST_SYM(exc_pm16_gp);

GUEST_CODE32(exc_pm32,
	"jmp 2f\n"
	HANDLERS32("exc_pm32")
	"2:\n"
	FAULTS32
	"hlt\n"
);
GUEST_SYM(exc_pm32_de); GUEST_SYM(exc_pm32_ud); GUEST_SYM(exc_pm32_gp);
GUEST_SYM(exc_pm32_pf);

/* 32-bit paging and PAE: the same code and handlers, plus #PF. */
GUEST_CODE32(exc_paging,
	"jmp 2f\n"
	HANDLERS32("exc_paging")
	"2:\n"
	FAULTS32
	FAULTS32_PF
	"hlt\n"
);
GUEST_SYM(exc_paging_de); GUEST_SYM(exc_paging_ud); GUEST_SYM(exc_paging_gp);
GUEST_SYM(exc_paging_pf);

/* 64-bit mode; also a #PF above 4 GiB and a non-canonical #GP(0). */
GUEST_CODE64(exc_long,
	"jmp 2f\n"
	HANDLERS64("exc_long")
	"2:\n"
	"xor %ecx, %ecx\n div %ecx\n"
	"ud2\n"
	"mov $" X(BAD_SEL) ", %eax\n mov %ax, %ds\n"
	FAULT_MSR
	"mov $" X(UNMAPPED_VA) ", %ebx\n"
	"mov (%rbx), %eax\n"
	"mov $" X(UNMAPPED_VA) " + 0xff8, %ebx\n"
	"mov %eax, (%rbx)\n"
	"movabs $0x123456789000, %rbx\n"	/* PML4 entry 0x24: absent */
	"mov (%rbx), %eax\n"
	"movabs $0x8000000000000000, %rbx\n"	/* not canonical: #GP(0) */
	"mov (%rbx), %eax\n"
	"hlt\n"
);
GUEST_SYM(exc_long_de); GUEST_SYM(exc_long_ud); GUEST_SYM(exc_long_gp);
GUEST_SYM(exc_long_pf);

/*
 * Compatibility mode: 32-bit code faults, 64-bit handlers (IA-32e IDT).
 * The vCPU starts in the 32-bit code segment: the first jmp decodes the
 * same in both.
 */
GUEST_CODE64(exc_compat,
	"jmp 2f\n"
	HANDLERS64("exc_compat")
	"2:\n"
	".code32\n"
	FAULTS32
	FAULTS32_PF
	"hlt\n"
);
GUEST_SYM(exc_compat_de); GUEST_SYM(exc_compat_ud); GUEST_SYM(exc_compat_gp);
GUEST_SYM(exc_compat_pf);

struct fault {
	int vector;
	uint32_t error;
	uint64_t cr2;		/* checked for #PF only */
};

#define DE	{ 0, 0, 0 }
#define UD	{ 6, 0, 0 }
#define GP(e)	{ 13, (e), 0 }
#define PF(e, a) { 14, (e), (a) }
#define PF_READ	PF(0, UNMAPPED_VA)
#define PF_WRITE PF(2, UNMAPPED_VA + 0xff8)

static void expect_faults(struct vcpu *vcpu, enum guest_mode mode,
			  const struct fault *f, size_t n)
{
	int err_size = mode <= MODE_PM16 ? 2 : 4;
	int wide = mode >= MODE_LONG;	/* 64-bit handlers */
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t cr2;
		uint32_t v, e;

		v = RUN_OUT(vcpu, 1, PORT_VECTOR);
		e = RUN_OUT(vcpu, err_size, PORT_ERROR);
		cr2 = RUN_OUT(vcpu, 4, PORT_CR2);
		if (wide)
			cr2 |= (uint64_t)RUN_OUT(vcpu, 4, PORT_CR2_HIGH) << 32;
		TH_LOG("%s: fault %zu: vector %u error 0x%x cr2 0x%llx",
		       mode_name(mode), i, v, e, (unsigned long long)cr2);
		ASSERT_EQ(v, f[i].vector);
		ASSERT_EQ(e, f[i].error);
		if (v == 14)
			ASSERT_EQ(cr2, f[i].cr2);
	}
	expect_hlt(vcpu);
}

/* A VM in this mode whose IDT sends #DE, #UD, #GP (and #PF) to the guest's handlers. */
static struct vcpu *exc_vm(const unsigned char *code, size_t len,
			   enum guest_mode mode, const unsigned char *de,
			   const unsigned char *ud, const unsigned char *gp,
			   const unsigned char *pf)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(code, len, mode);

	vm_set_idt_gate(vcpu->vm, mode, 0, GUEST_LABEL(code, de));
	vm_set_idt_gate(vcpu->vm, mode, 6, GUEST_LABEL(code, ud));
	vm_set_idt_gate(vcpu->vm, mode, 13, GUEST_LABEL(code, gp));
	if (pf)
		vm_set_idt_gate(vcpu->vm, mode, 14, GUEST_LABEL(code, pf));
	return vcpu;
}

TEST(exceptions_real_mode)
{
	static const struct fault f[] = { DE, UD, GP(0) };
	struct vcpu *vcpu = exc_vm(exc_real, GUEST_SIZE(exc_real), MODE_REAL,
				   exc_real_de, exc_real_ud, exc_real_gp, NULL);

	expect_faults(vcpu, MODE_REAL, f, 3);
}

TEST(exceptions_pm16)
{
	static const struct fault f[] = { DE, UD, GP(BAD_SEL), GP(0) };
	struct vcpu *vcpu = exc_vm(exc_pm16, GUEST_SIZE(exc_pm16), MODE_PM16,
				   exc_pm16_de, exc_pm16_ud, exc_pm16_gp, NULL);

	expect_faults(vcpu, MODE_PM16, f, 4);
}

TEST(exceptions_pm32)
{
	static const struct fault f[] = { DE, UD, GP(BAD_SEL), GP(0) };
	struct vcpu *vcpu = exc_vm(exc_pm32, GUEST_SIZE(exc_pm32), MODE_PM32,
				   exc_pm32_de, exc_pm32_ud, exc_pm32_gp, NULL);

	expect_faults(vcpu, MODE_PM32, f, 4);
}

static const struct fault paging_faults[] = {
	DE, UD, GP(BAD_SEL), GP(0), PF_READ, PF_WRITE,
};

TEST(exceptions_paging32)
{
	struct vcpu *vcpu = exc_vm(exc_paging, GUEST_SIZE(exc_paging),
				   MODE_PG32, exc_paging_de, exc_paging_ud,
				   exc_paging_gp, exc_paging_pf);

	expect_faults(vcpu, MODE_PG32, paging_faults, 6);
}

TEST(exceptions_pae)
{
	struct vcpu *vcpu = exc_vm(exc_paging, GUEST_SIZE(exc_paging),
				   MODE_PAE, exc_paging_de, exc_paging_ud,
				   exc_paging_gp, exc_paging_pf);

	expect_faults(vcpu, MODE_PAE, paging_faults, 6);
}

TEST(exceptions_long_mode)
{
	static const struct fault f[] = {
		DE, UD, GP(BAD_SEL), GP(0), PF_READ, PF_WRITE,
		PF(0, 0x123456789000ULL), GP(0),
	};
	struct vcpu *vcpu = exc_vm(exc_long, GUEST_SIZE(exc_long), MODE_LONG,
				   exc_long_de, exc_long_ud, exc_long_gp,
				   exc_long_pf);

	expect_faults(vcpu, MODE_LONG, f, 8);
}

TEST(exceptions_compat_mode)
{
	struct vcpu *vcpu = exc_vm(exc_compat, GUEST_SIZE(exc_compat),
				   MODE_COMPAT, exc_compat_de, exc_compat_ud,
				   exc_compat_gp, exc_compat_pf);
	expect_faults(vcpu, MODE_COMPAT, paging_faults, 6);
}

TEST_HARNESS_MAIN
