// SPDX-License-Identifier: GPL-2.0
/*
 * test_nested.c - nested SVM: a long-mode guest (L1) runs its own guest
 * (L2) with VMRUN.
 *
 * L1 turns EFER.SVME on with WRMSR, sets MSR_VM_HSAVE_PA, then loops:
 * VMRUN the VMCB at VMCB_GPA, report the exit code it finds there with an
 * OUT to port 0x11.  The test writes that VMCB ("vmcb12") itself, from L1's
 * own segments and control registers, and moves L2 on between runs, so
 * that each test only picks L2's code and the intercepts.
 *
 * Covered: the CPUID that offers SVM; VMRUN/#VMEXIT round trips (VMMCALL,
 * CPUID, an I/O port from L1's permission map) and what is not intercepted
 * going to userspace from L2; VMLOAD/VMSAVE; CLGI/STGI and the interrupt
 * window they close; VMEXIT_INVALID for a bad vmcb12 and #GP for a bad
 * vmcb12 address; SHUTDOWN in L2 to L1 or to userspace; MSR exits from
 * L1's permission map and Hyper-V's enlightened MSR bitmap (its clean bit);
 * and KVM_GET/SET_NESTED_STATE moving a vCPU that is in L2 into a fresh VM;
 * IA32_TSC read and written by L2 without L1's intercept (L2 reads its own
 * TSC, L1's plus vmcb12's offset; a write sets L1's TSC, as Linux does;
 * userspace reads L1's throughout).
 * Intel hosts (no SVM) skip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

#define VMCB_GPA	0x20000
#define HSAVE_GPA	0x21000
#define IOPM_GPA	0x22000		/* 12 KiB */
#define MSRPM_GPA	0x25000		/* 8 KiB */
#define SAVE_GPA	0x27000		/* VMSAVE here */
#define LOAD_GPA	0x28000		/* VMLOAD from here */
#define L2_STACK	0x7000

/* VMCB offsets (APM vol. 2, appendix B). */
#define C_INTERCEPT_CR		0x000
#define C_EXCEPTIONS		0x008
#define C_MISC1			0x00c
#define C_MISC2			0x010
#define C_IOPM			0x040
#define C_MSRPM			0x048
#define C_ASID			0x058
#define C_TSC_OFFSET		0x050
#define C_EXIT_CODE		0x070
#define C_EXIT_INFO1		0x078
#define C_EXIT_INFO2		0x080
#define C_CLEAN			0x0c0
#define C_HV_ENLIGHTENMENTS	0x3e0	/* Hyper-V's, in the software area */
#define S_ES			0x400
#define S_CS			0x410
#define S_SS			0x420
#define S_DS			0x430
#define S_FS			0x440
#define S_GDTR			0x460
#define S_IDTR			0x480
#define S_CPL			0x4cb
#define S_EFER			0x4d0
#define S_CR4			0x548
#define S_CR3			0x550
#define S_CR0			0x558
#define S_DR7			0x560
#define S_DR6			0x568
#define S_RFLAGS		0x570
#define S_RIP			0x578
#define S_RSP			0x5d8
#define S_RAX			0x5f8
#define S_STAR			0x600
#define S_KERNEL_GS_BASE	0x620

#define MISC1_CPUID		(1u << 18)
#define MISC1_IOIO		(1u << 27)
#define MISC1_MSR		(1u << 28)
#define MISC1_SHUTDOWN		(1u << 31)
#define MISC2_VMRUN		(1u << 0)
#define MISC2_VMMCALL		(1u << 1)

#define EXIT_CPUID		0x72
#define EXIT_IOIO		0x7b
#define EXIT_MSR		0x7c
#define EXIT_SHUTDOWN		0x7f
#define EXIT_VMMCALL		0x81
#define EXIT_INVALID		0xffffffffu

#define EFER_SVME		(1ULL << 12)
#define MSR_IA32_TSC		0x10
#define MSR_TSC_ADJUST		0x3b
#define MSR_STAR		0xc0000081
#define MSR_VM_HSAVE_PA		0xc0010117
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101

/* Hyper-V (TLFS) */
#define HV_MSR_GUEST_OS_ID	0x40000000
#define HV_CPUID_NESTED		0x4000000a
#define HV_NESTED_MSR_BITMAP	(1u << 19)
#define HV_ENL_MSR_BITMAP	(1u << 1)	/* in C_HV_ENLIGHTENMENTS */
#define HV_CLEAN_ENLIGHTENMENTS	(1u << 31)	/* in C_CLEAN */

GUEST_SYM(l1_main);
GUEST_SYM(l1_loop);
GUEST_SYM(l1_gp);
GUEST_SYM(l1_ud);
GUEST_SYM(l1_loadsave);
GUEST_SYM(l1_gif);
GUEST_SYM(l1_badaddr);
GUEST_SYM(l2_vmmcall);
GUEST_SYM(l2_io);
GUEST_SYM(l2_ud);
GUEST_SYM(l2_msr);
GUEST_SYM(l2_tsc);

GUEST_CODE64(nested_guest,
	"l1_main:\n"
	"call l1_svm_on\n"
	"out %al, $0x10\n"		/* ready: the test fills vmcb12 */
	"l1_loop:\n"
	"mov $" XSTR(VMCB_GPA) ", %rax\n"
	"vmrun %rax\n"
	"mov " XSTR(VMCB_GPA) " + 0x70, %eax\n"
	"out %eax, $0x11\n"
	"jmp l1_loop\n"

	/* EFER.SVME on, the host save area at HSAVE_GPA. */
	"l1_svm_on:\n"
	"mov $0xc0000080, %ecx\n"
	"rdmsr\n"
	"or $0x1000, %eax\n"
	"wrmsr\n"
	"mov $0xc0010117, %ecx\n"
	"mov $" XSTR(HSAVE_GPA) ", %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"ret\n"

	/* #GP in L1: report, halt. */
	"l1_gp:\n"
	"out %al, $0x1d\n"
	"hlt\n"
	"l1_ud:\n"
	"out %al, $0x1c\n"
	"hlt\n"

	/* VMSAVE what L1 set, VMLOAD what the test left at LOAD_GPA. */
	"l1_loadsave:\n"
	"call l1_svm_on\n"
	"mov $" XSTR(MSR_STAR) ", %ecx\n"
	"mov $0x11112222, %eax\n"
	"mov $0x00230010, %edx\n"
	"wrmsr\n"
	"mov $0xc0000102, %ecx\n"	/* KERNEL_GS_BASE */
	"mov $0x5000, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"mov $" XSTR(SAVE_GPA) ", %rax\n"
	"vmsave %rax\n"
	"out %al, $0x12\n"
	"mov $" XSTR(LOAD_GPA) ", %rax\n"
	"vmload %rax\n"
	"mov $" XSTR(MSR_STAR) ", %ecx\n"
	"rdmsr\n"
	"out %eax, $0x13\n"
	"hlt\n"

	/* GIF: IF set, then CLGI: no interrupt may come; STGI. */
	"l1_gif:\n"
	"call l1_svm_on\n"
	"sti\n"
	"nop\n"
	"clgi\n"
	"out %al, $0x14\n"
	"stgi\n"
	"out %al, $0x15\n"
	"hlt\n"

	/* VMRUN with the VMCB address the test put in RBX. */
	"l1_badaddr:\n"
	"call l1_svm_on\n"
	"mov %rbx, %rax\n"
	"vmrun %rax\n"
	"out %al, $0x1e\n"
	"hlt\n"

	/* L2: VMMCALL, an OUT to port 0x20, VMMCALL. */
	"l2_vmmcall:\n"
	"mov $0x1234, %rbx\n"
	"vmmcall\n"
	"out %al, $0x20\n"
	"vmmcall\n"
	"hlt\n"

	/* L2: OUT to 0x31 (not in L1's map), 0x30 (in it), CPUID. */
	"l2_io:\n"
	"out %al, $0x31\n"
	"out %al, $0x30\n"
	"xor %eax, %eax\n"
	"cpuid\n"
	"hlt\n"

	/* L2: #UD with no IDT: #DF, then SHUTDOWN. */
	"l2_ud:\n"
	"ud2\n"

	/* L2: RDMSR FS_BASE, GS_BASE, VMMCALL, GS_BASE again. */
	"l2_msr:\n"
	"mov $" XSTR(MSR_FS_BASE) ", %ecx\n"
	"rdmsr\n"
	"mov $" XSTR(MSR_GS_BASE) ", %ecx\n"
	"rdmsr\n"
	"vmmcall\n"
	"mov $" XSTR(MSR_GS_BASE) ", %ecx\n"
	"rdmsr\n"
	"hlt\n"

	/*
	 * L2: RDMSR IA32_TSC into EDI:ESI, OUT to 0x21; WRMSR IA32_TSC with
	 * RBX, RDMSR it again into EDI:ESI, VMMCALL.
	 */
	"l2_tsc:\n"
	"mov $" XSTR(MSR_IA32_TSC) ", %ecx\n"
	"rdmsr\n"
	"mov %eax, %esi\n"
	"mov %edx, %edi\n"
	"out %al, $0x21\n"
	"mov %rbx, %rax\n"
	"mov %rbx, %rdx\n"
	"shr $32, %rdx\n"
	"mov $" XSTR(MSR_IA32_TSC) ", %ecx\n"
	"wrmsr\n"
	"rdmsr\n"
	"mov %eax, %esi\n"
	"mov %edx, %edi\n"
	"vmmcall\n"
	"hlt\n"
);

static void put64(struct vm *vm, uint64_t gpa, uint64_t v)
{
	memcpy(vm_ptr(vm, gpa), &v, 8);
}

static void put32(struct vm *vm, uint64_t gpa, uint32_t v)
{
	memcpy(vm_ptr(vm, gpa), &v, 4);
}

static uint64_t get64(struct vm *vm, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, vm_ptr(vm, gpa), 8);
	return v;
}

static void put_seg(struct vm *vm, uint64_t gpa, const struct kvm_segment *s)
{
	uint16_t attr = s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
			s->avl << 8 | s->l << 9 | s->db << 10 | s->g << 11;

	memcpy(vm_ptr(vm, gpa), &s->selector, 2);
	memcpy(vm_ptr(vm, gpa + 2), &attr, 2);
	put32(vm, gpa + 4, s->limit);
	put64(vm, gpa + 8, s->base);
}

static bool host_has_svm(void)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e = c ? cpuid_find(c, 0x80000001, 0) : NULL;
	bool svm = e && (e->ecx & (1u << 2));

	free(c);
	close(kvm);
	return svm;
}

/* vCPU 0 of a new VM, in long mode at @l1 with the supported CPUID. */
static struct vcpu *nested_vm(const unsigned char *l1)
{
	struct vcpu *vcpu;

	if (!host_has_svm())
		SKIP("no SVM in KVM_GET_SUPPORTED_CPUID");
	vcpu = vm_with_guest_in_mode(nested_guest, GUEST_SIZE(nested_guest),
				     MODE_LONG);
	ASSERT_EQ(vcpu_try_supported_cpuid(vcpu), 1);
	vm_set_idt_gate(vcpu->vm, MODE_LONG, 13,
			GUEST_LABEL(nested_guest, l1_gp));
	vm_set_idt_gate(vcpu->vm, MODE_LONG, 6,
			GUEST_LABEL(nested_guest, l1_ud));
	vcpu_set_mode(vcpu, MODE_LONG, GUEST_LABEL(nested_guest, l1));
	return vcpu;
}

/*
 * vmcb12 for L2 at @l2: L1's own segments, control registers and page
 * tables (as the kernel's selftests do), intercepting VMRUN, VMMCALL and
 * @misc1.
 */
static void fill_vmcb12(struct vcpu *vcpu, const unsigned char *l2,
			uint32_t misc1)
{
	struct vm *vm = vcpu->vm;
	struct kvm_sregs sr;

	vcpu_get_sregs(vcpu, &sr);
	memset(vm_ptr(vm, VMCB_GPA), 0, 4096);
	put32(vm, VMCB_GPA + C_MISC1, misc1);
	put32(vm, VMCB_GPA + C_MISC2, MISC2_VMRUN | MISC2_VMMCALL);
	put64(vm, VMCB_GPA + C_IOPM, IOPM_GPA);
	put64(vm, VMCB_GPA + C_MSRPM, MSRPM_GPA);
	put32(vm, VMCB_GPA + C_ASID, 1);
	put_seg(vm, VMCB_GPA + S_ES, &sr.es);
	put_seg(vm, VMCB_GPA + S_CS, &sr.cs);
	put_seg(vm, VMCB_GPA + S_SS, &sr.ss);
	put_seg(vm, VMCB_GPA + S_DS, &sr.ds);
	put64(vm, VMCB_GPA + S_GDTR + 8, sr.gdt.base);
	put32(vm, VMCB_GPA + S_GDTR + 4, sr.gdt.limit);
	put64(vm, VMCB_GPA + S_IDTR + 8, sr.idt.base);
	put32(vm, VMCB_GPA + S_IDTR + 4, sr.idt.limit);
	put64(vm, VMCB_GPA + S_EFER, sr.efer | EFER_SVME);
	put64(vm, VMCB_GPA + S_CR0, sr.cr0);
	put64(vm, VMCB_GPA + S_CR3, sr.cr3);
	put64(vm, VMCB_GPA + S_CR4, sr.cr4);
	put64(vm, VMCB_GPA + S_DR6, 0xffff0ff0);
	put64(vm, VMCB_GPA + S_DR7, 0x400);
	put64(vm, VMCB_GPA + S_RFLAGS, 2);
	put64(vm, VMCB_GPA + S_RIP, GUEST_LABEL(nested_guest, l2));
	put64(vm, VMCB_GPA + S_RSP, L2_STACK);
}

/* Run L1 up to its "ready" OUT, then give it a vmcb12 for @l2. */
static void start_l1(struct vcpu *vcpu, const unsigned char *l2, uint32_t misc1)
{
	RUN_OUT(vcpu, 1, 0x10);
	fill_vmcb12(vcpu, l2, misc1);
}

TEST(nested_cpuid_offers_svm)
{
	int kvm = kvm_open();
	struct kvm_cpuid2 *c = kvm_supported_cpuid(kvm);
	struct kvm_cpuid_entry2 *e;

	ASSERT_TRUE(c != NULL);
	e = cpuid_find(c, 0x80000001, 0);
	ASSERT_TRUE(e != NULL);
	if (!(e->ecx & (1u << 2)))
		SKIP("no SVM in KVM_GET_SUPPORTED_CPUID (an Intel host?)");
	e = cpuid_find(c, 0x80000000, 0);
	ASSERT_GE(e->eax, 0x8000000a);
	e = cpuid_find(c, 0x8000000a, 0);
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->eax & 0xff, 1);		/* SVM revision */
	EXPECT_GT(e->ebx, 0);			/* ASIDs */
	/* nkvm offers no nested paging to L1 (Linux does). */
	if (kvm_is_nkvm(kvm))
		EXPECT_EQ(e->edx & 1, 0);
	free(c);
	close(kvm);
}

TEST(nested_vmrun_vmmcall_round_trip)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;
	struct kvm_regs regs;
	uint64_t vmmcall = GUEST_LABEL(nested_guest, l2_vmmcall) + 7;

	start_l1(vcpu, l2_vmmcall, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_VMMCALL);
	/* #VMEXIT wrote L2's state: RIP at the VMMCALL (no NRIP save). */
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), vmmcall);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RSP), L2_STACK);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_EFER) & EFER_SVME, EFER_SVME);
	vcpu_get_regs(vcpu, &regs);
	EXPECT_EQ(regs.rbx, 0x1234);	/* GPRs other than RAX are shared */

	/* On past the VMMCALL: L2's OUT, not intercepted, is userspace's. */
	put64(vm, VMCB_GPA + S_RIP, vmmcall + 3);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x20);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 4, 0x11);
	EXPECT_EQ(*(uint32_t *)((char *)vcpu->run + vcpu->run->io.data_offset),
		  EXIT_VMMCALL);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), vmmcall + 5);
	vm_free(vm);
}

TEST(nested_io_and_cpuid_reflection)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;
	uint64_t l2 = GUEST_LABEL(nested_guest, l2_io);

	/* L1's I/O map: only port 0x30. */
	memset(vm_ptr(vm, IOPM_GPA), 0, 0x3000);
	*(uint8_t *)vm_ptr(vm, IOPM_GPA + 0x30 / 8) = 1u << (0x30 % 8);
	start_l1(vcpu, l2_io, MISC1_IOIO | MISC1_CPUID);

	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x31);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_IOIO);
	/* EXITINFO1: port 0x30, 8-bit, OUT; EXITINFO2: the next RIP. */
	EXPECT_EQ(get64(vm, VMCB_GPA + C_EXIT_INFO1) >> 16, 0x30);
	EXPECT_EQ(get64(vm, VMCB_GPA + C_EXIT_INFO1) & 1, 0);
	EXPECT_EQ(get64(vm, VMCB_GPA + C_EXIT_INFO2), l2 + 4);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 2);

	put64(vm, VMCB_GPA + S_RIP, l2 + 4);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_CPUID);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 6);
	vm_free(vm);
}

TEST(nested_vmcb12_invalid)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;

	/* ASID 0: VMEXIT_INVALID, L1 goes on after its VMRUN. */
	start_l1(vcpu, l2_vmmcall, 0);
	put32(vm, VMCB_GPA + C_ASID, 0);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_INVALID);
	EXPECT_EQ(get64(vm, VMCB_GPA + C_EXIT_CODE), (uint64_t)-1);

	/* No VMRUN intercept. */
	fill_vmcb12(vcpu, l2_vmmcall, 0);
	put32(vm, VMCB_GPA + C_MISC2, MISC2_VMMCALL);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_INVALID);

	/* EFER.SVME clear in L2's state; CR0.NW without CD. */
	fill_vmcb12(vcpu, l2_vmmcall, 0);
	put64(vm, VMCB_GPA + S_EFER, get64(vm, VMCB_GPA + S_EFER) & ~EFER_SVME);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_INVALID);
	fill_vmcb12(vcpu, l2_vmmcall, 0);
	put64(vm, VMCB_GPA + S_CR0, get64(vm, VMCB_GPA + S_CR0) | (1ULL << 29));
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_INVALID);

	/* And a good one still runs. */
	fill_vmcb12(vcpu, l2_vmmcall, 0);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_VMMCALL);
	vm_free(vm);
}

/*
 * A VMCB address that is not page-aligned, outside guest memory, or beyond
 * the physical address width: #GP.  (A good one, as a control: L2 runs.)
 */
static void vmrun_at(uint64_t gpa, int port)
{
	struct vcpu *vcpu = nested_vm(l1_badaddr);
	struct kvm_regs regs;

	fill_vmcb12(vcpu, l2_vmmcall, 0);
	put64(vcpu->vm, VMCB_GPA + S_EFER,
	      get64(vcpu->vm, VMCB_GPA + S_EFER) | EFER_SVME);
	vcpu_get_regs(vcpu, &regs);
	regs.rbx = gpa;
	vcpu_set_regs(vcpu, &regs);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, port);
	vm_free(vcpu->vm);
}

TEST(nested_vmrun_bad_address_gp)
{
	vmrun_at(VMCB_GPA + 8, 0x1d);
	vmrun_at(0x40000000, 0x1d);
	vmrun_at(1ULL << 52, 0x1d);
	vmrun_at(VMCB_GPA, 0x1e);
}

TEST(nested_vmrun_without_hsave_gp)
{
	struct vcpu *vcpu = nested_vm(l1_main);

	start_l1(vcpu, l2_vmmcall, 0);
	vcpu_set_msr(vcpu, MSR_VM_HSAVE_PA, 0);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x1d);
	vm_free(vcpu->vm);
}

TEST(nested_vmrun_without_svme_ud)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct kvm_regs regs;

	/* Straight to the VMRUN, EFER.SVME clear: #UD. */
	vcpu_get_regs(vcpu, &regs);
	regs.rip = GUEST_LABEL(nested_guest, l1_loop);
	vcpu_set_regs(vcpu, &regs);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x1c);
	vm_free(vcpu->vm);
}

TEST(nested_vmload_vmsave)
{
	struct vcpu *vcpu = nested_vm(l1_loadsave);
	struct vm *vm = vcpu->vm;

	memset(vm_ptr(vm, SAVE_GPA), 0, 4096);
	memset(vm_ptr(vm, LOAD_GPA), 0, 4096);
	put64(vm, LOAD_GPA + S_STAR, 0x0023001055667788ULL);
	RUN_OUT(vcpu, 1, 0x12);
	EXPECT_EQ(get64(vm, SAVE_GPA + S_STAR), 0x0023001011112222ULL);
	EXPECT_EQ(get64(vm, SAVE_GPA + S_KERNEL_GS_BASE), 0x5000);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x13), 0x55667788);
	EXPECT_EQ(vcpu_get_msr(vcpu, MSR_STAR), 0x0023001055667788ULL);
	vm_free(vm);
}

static uint16_t nested_flags(struct vcpu *vcpu)
{
	struct kvm_nested_state st = { .size = sizeof(st) };

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_NESTED_STATE, &st));
	return st.flags;
}

TEST(nested_gif)
{
	struct vcpu *vcpu = nested_vm(l1_gif);

	/* With IF set but GIF clear, no interrupt may be injected. */
	RUN_OUT(vcpu, 1, 0x14);
	EXPECT_EQ(vcpu->run->if_flag, 1);
	EXPECT_EQ(vcpu->run->ready_for_interrupt_injection, 0);
	EXPECT_EQ(nested_flags(vcpu) & KVM_STATE_NESTED_GIF_SET, 0);
	RUN_OUT(vcpu, 1, 0x15);
	EXPECT_EQ(vcpu->run->ready_for_interrupt_injection, 1);
	EXPECT_EQ(nested_flags(vcpu) & KVM_STATE_NESTED_GIF_SET,
		  KVM_STATE_NESTED_GIF_SET);
	vm_free(vcpu->vm);
}

TEST(nested_shutdown_in_l2)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;

	/* L1 intercepts SHUTDOWN: it gets the exit. */
	start_l1(vcpu, l2_ud, MISC1_SHUTDOWN);
	put32(vm, VMCB_GPA + S_IDTR + 4, 0);
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_SHUTDOWN);

	/* It does not: the vCPU shuts down. */
	fill_vmcb12(vcpu, l2_ud, 0);
	put32(vm, VMCB_GPA + S_IDTR + 4, 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_SHUTDOWN);
	vm_free(vm);
}

TEST(nested_triple_fault_event_in_l2)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;
	struct kvm_vcpu_events ev;

	vm_enable_cap(vm, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);
	start_l1(vcpu, l2_vmmcall, MISC1_SHUTDOWN);
	put64(vm, VMCB_GPA + S_RIP, GUEST_LABEL(nested_guest, l2_vmmcall) + 10);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x20);
	vcpu_settle_rip(vcpu);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ev.flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	ev.triple_fault.pending = 1;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	/* L1 intercepts SHUTDOWN: the event is an exit to L1. */
	EXPECT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_SHUTDOWN);
	vm_free(vm);
}

/* Set the read bit of @msr (0xc0000000-0xc0001fff) in L1's MSR map. */
static void msrpm_intercept_read(struct vm *vm, uint32_t msr)
{
	uint32_t bit = 0x800 * 8 + (msr & 0x1fff) * 2;
	uint8_t *byte = vm_ptr(vm, MSRPM_GPA + bit / 8);

	*byte |= 1u << (bit % 8);
}

/*
 * The supported CPUID with Linux's Hyper-V leaves in place of the KVM ones
 * (as the kernel's selftests build it); the nested leaf must offer the
 * enlightened MSR bitmap.
 */
static void vcpu_set_hv_cpuid(struct vcpu *vcpu)
{
	int kvm = vcpu->vm->kvm_fd;
	struct kvm_cpuid2 *sys = kvm_supported_cpuid(kvm);
	struct kvm_cpuid2 *hv = cpuid_alloc(100), *all;
	struct kvm_cpuid_entry2 *e;
	uint32_t i;

	ASSERT_OK(ioctl(kvm, KVM_GET_SUPPORTED_HV_CPUID, hv));
	e = cpuid_find(hv, HV_CPUID_NESTED, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->eax & HV_NESTED_MSR_BITMAP, HV_NESTED_MSR_BITMAP);
	all = cpuid_alloc(sys->nent + hv->nent);
	all->nent = 0;
	for (i = 0; i < sys->nent; i++)
		if (sys->entries[i].function < 0x40000000 ||
		    sys->entries[i].function >= 0x40000100)
			all->entries[all->nent++] = sys->entries[i];
	for (i = 0; i < hv->nent; i++)
		all->entries[all->nent++] = hv->entries[i];
	vcpu_set_cpuid(vcpu, all);
	free(all);
	free(sys);
	free(hv);
}

/*
 * L1 intercepts reads of FS_BASE, turns the enlightened MSR bitmap on,
 * then intercepts GS_BASE too but says with the clean bit that its map did
 * not change.  With Hyper-V's interface (@hv) the old map still holds: L2
 * reads GS_BASE without an exit; once the clean bit is clear, it exits.
 * Without it the clean bit means nothing and the new map holds at once.
 */
static void msr_bitmap_clean(bool hv)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;
	uint64_t l2 = GUEST_LABEL(nested_guest, l2_msr);
	struct kvm_regs regs;

	if (hv) {
		vcpu_set_hv_cpuid(vcpu);
		vcpu_set_msr(vcpu, HV_MSR_GUEST_OS_ID, 0x8100ULL << 48);
	}
	memset(vm_ptr(vm, MSRPM_GPA), 0, 0x2000);
	msrpm_intercept_read(vm, MSR_FS_BASE);
	start_l1(vcpu, l2_msr, MISC1_MSR);
	put32(vm, VMCB_GPA + C_HV_ENLIGHTENMENTS, HV_ENL_MSR_BITMAP);

	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_MSR);
	EXPECT_EQ(get64(vm, VMCB_GPA + C_EXIT_INFO1), 0);	/* a read */
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 5);

	msrpm_intercept_read(vm, MSR_GS_BASE);
	put32(vm, VMCB_GPA + C_CLEAN, HV_CLEAN_ENLIGHTENMENTS);
	put64(vm, VMCB_GPA + S_RIP, l2 + 7);
	if (!hv) {
		ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_MSR);
		EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 12);
		vm_free(vm);
		return;
	}
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_VMMCALL);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 14);

	put32(vm, VMCB_GPA + C_CLEAN, 0);
	put64(vm, VMCB_GPA + S_RIP, l2 + 17);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_MSR);
	EXPECT_EQ(get64(vm, VMCB_GPA + S_RIP), l2 + 22);
	vcpu_get_regs(vcpu, &regs);
	EXPECT_EQ(regs.rcx, MSR_GS_BASE);
	vm_free(vm);
}

TEST(nested_msr_bitmap_clean_without_hyperv)
{
	msr_bitmap_clean(false);
}

TEST(nested_hv_enlightened_msr_bitmap)
{
	msr_bitmap_clean(true);
}

/* EDI:ESI, where l2_tsc leaves what it read. */
static uint64_t l2_tsc_read(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	return (regs.rdi << 32) | (uint32_t)regs.rsi;
}

/*
 * L1 does not intercept MSRs: L2's RDMSR of IA32_TSC reads L2's TSC (L1's
 * plus vmcb12's offset), KVM_GET_MSRS reads L1's even while the vCPU is in
 * L2, and L2's WRMSR sets L1's TSC (moving TSC_ADJUST as much), so that L2
 * then reads the value written plus its offset.  Between two reads of L1's
 * TSC by userspace, L2's read falls between the two plus the offset.
 */
TEST(nested_l2_reads_its_own_tsc)
{
	const uint64_t off = 1ULL << 50, slack = 1ULL << 40;
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm;
	struct kvm_regs regs;
	uint64_t t0, t1, l2, h, w, adj;

	memset(vm_ptr(vm, IOPM_GPA), 0, 0x3000);
	memset(vm_ptr(vm, MSRPM_GPA), 0, 0x2000);
	start_l1(vcpu, l2_tsc, 0);
	put64(vm, VMCB_GPA + C_TSC_OFFSET, off);
	ASSERT_EQ(vcpu_get_msr(vcpu, MSR_TSC_ADJUST), 0);

	t0 = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x21);
	l2 = l2_tsc_read(vcpu);
	h = vcpu_get_msr(vcpu, MSR_IA32_TSC);	/* still in L2: L1's TSC */
	EXPECT_GE(l2, t0 + off);
	EXPECT_LE(l2 - off, h);
	EXPECT_LT(h, l2);

	/* L2 writes w: L1's TSC becomes w, L2's w + off. */
	w = h + (1ULL << 45);
	vcpu_get_regs(vcpu, &regs);
	regs.rbx = w;
	vcpu_set_regs(vcpu, &regs);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), EXIT_VMMCALL);
	t1 = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	l2 = l2_tsc_read(vcpu);
	EXPECT_GE(l2, w + off);
	EXPECT_LE(l2 - off, t1);
	EXPECT_GE(t1, w);
	EXPECT_LT(t1 - w, slack);
	/* TSC_ADJUST moved by w less L1's TSC at the write. */
	adj = vcpu_get_msr(vcpu, MSR_TSC_ADJUST);
	EXPECT_LE(adj, w - h);
	EXPECT_GT(adj, w - h - slack);
	vm_free(vm);
}

/* Save a vCPU that is in L2, restore it into a fresh VM, go on. */
TEST(nested_state_save_restore)
{
	struct vcpu *vcpu = nested_vm(l1_main);
	struct vm *vm = vcpu->vm, *vm2;
	struct vcpu *v2;
	size_t size = sizeof(struct kvm_nested_state) + 0x1000;
	struct kvm_nested_state *st = calloc(1, size), *bad = calloc(1, size);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events ev;
	uint64_t star;
	int cap = kvm_check_cap(vm->fd, KVM_CAP_NESTED_STATE);

	ASSERT_GE(cap, (int)size);
	start_l1(vcpu, l2_vmmcall, 0);
	put64(vm, VMCB_GPA + S_RIP, GUEST_LABEL(nested_guest, l2_vmmcall) + 10);
	(void)vcpu_run(vcpu);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x20);
	vcpu_settle_rip(vcpu);

	/* Too small: E2BIG, and the size needed. */
	st->size = sizeof(*st);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_NESTED_STATE, st), E2BIG);
	EXPECT_EQ(st->size, size);
	st->size = size;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_NESTED_STATE, st));
	EXPECT_EQ(st->format, KVM_STATE_NESTED_FORMAT_SVM);
	EXPECT_EQ(st->flags, KVM_STATE_NESTED_GUEST_MODE |
			     KVM_STATE_NESTED_GIF_SET);
	EXPECT_EQ(st->hdr.svm.vmcb_pa, VMCB_GPA);

	vcpu_get_regs(vcpu, &regs);
	vcpu_get_sregs(vcpu, &sregs);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	star = vcpu_get_msr(vcpu, MSR_STAR);
	EXPECT_EQ(sregs.efer & EFER_SVME, EFER_SVME);

	/* A fresh VM with the same memory and L2's state. */
	vm2 = vm_create(VM_MODES_MEM);
	memcpy(vm2->mem, vm->mem, VM_MODES_MEM);
	v2 = vcpu_create(vm2, 0);
	ASSERT_EQ(vcpu_try_supported_cpuid(v2), 1);
	vcpu_set_sregs(v2, &sregs);
	vcpu_set_msr(v2, MSR_STAR, star);
	vcpu_set_msr(v2, MSR_VM_HSAVE_PA, vcpu_get_msr(vcpu, MSR_VM_HSAVE_PA));
	ASSERT_OK(ioctl(v2->fd, KVM_SET_VCPU_EVENTS, &ev));
	vcpu_set_regs(v2, &regs);

	/* Bad states first: each refused, nothing changed. */
	memcpy(bad, st, size);
	bad->size = sizeof(*bad);
	ASSERT_ERRNO(ioctl(v2->fd, KVM_SET_NESTED_STATE, bad), EINVAL);
	memcpy(bad, st, size);
	bad->hdr.svm.vmcb_pa = VMCB_GPA + 8;
	ASSERT_ERRNO(ioctl(v2->fd, KVM_SET_NESTED_STATE, bad), EINVAL);
	memcpy(bad, st, size);
	memset(bad->data.svm[0].vmcb12 + C_ASID, 0, 4);
	ASSERT_ERRNO(ioctl(v2->fd, KVM_SET_NESTED_STATE, bad), EINVAL);
	memcpy(bad, st, size);
	bad->flags |= 0x80;
	ASSERT_ERRNO(ioctl(v2->fd, KVM_SET_NESTED_STATE, bad), EINVAL);

	ASSERT_OK(ioctl(v2->fd, KVM_SET_NESTED_STATE, st));
	/* The old VM goes away with its vCPU in L2. */
	vcpu_free(vcpu);
	vm_free(vm);

	/* L2 goes on: its VMMCALL is L1's exit. */
	EXPECT_EQ(RUN_OUT(v2, 4, 0x11), EXIT_VMMCALL);
	EXPECT_EQ(get64(vm2, VMCB_GPA + S_RIP),
		  GUEST_LABEL(nested_guest, l2_vmmcall) + 12);
	/* L1's state came back too: its RSP is its own. */
	vcpu_get_regs(v2, &regs);
	EXPECT_EQ(regs.rsp, STACK_TOP);

	/* Back into L2, then out of guest mode by KVM_SET_NESTED_STATE. */
	put64(vm2, VMCB_GPA + S_RIP, GUEST_LABEL(nested_guest, l2_vmmcall) + 10);
	(void)vcpu_run(v2);
	ASSERT_IO(v2, KVM_EXIT_IO_OUT, 1, 0x20);
	memset(bad, 0, size);
	bad->format = KVM_STATE_NESTED_FORMAT_SVM;
	bad->size = sizeof(*bad);
	bad->flags = KVM_STATE_NESTED_GIF_SET;
	ASSERT_OK(ioctl(v2->fd, KVM_SET_NESTED_STATE, bad));
	EXPECT_EQ(nested_flags(v2), KVM_STATE_NESTED_GIF_SET);
	free(st);
	free(bad);
	vm_free(vm2);
}

TEST_HARNESS_MAIN
