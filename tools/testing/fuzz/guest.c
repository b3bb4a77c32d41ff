// SPDX-License-Identifier: GPL-2.0
/*
 * guest.c - random guests: register and segment state in every x86 mode
 * (real, virtual-8086, 16- and 32-bit protected, with and without paging,
 * PAE, 64-bit and compatibility mode), mutated at random, and guest code
 * made of random bytes mixed with the instructions that make a hypervisor
 * work: port and MMIO accesses, MSRs, CPUID, control and debug registers,
 * descriptor tables, SVM instructions, exceptions and halts.
 *
 * Guest-physical layout of the memslot fz_guest_setup() installs (slot 0 at
 * guest-physical 0, 4 MiB of the pool):
 *
 *	0x0000	real-mode IVT		0x0800	GDT	0x0900	TSS
 *	0x2000	IDT			0x3000	exception handler
 *	0x7000	stack top		0x10000-0x9ffff	code
 *	0x180000 page tables (PAE PDs, PDPT, PML4, 32-bit PD)
 */
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "fuzz.h"

uint32_t fz_msr_index(struct fz_thread *t);
int fz_row_index(unsigned long cmd);

#define SLOT_SIZE	(4UL << 20)
#define IVT_GPA		0x0
#define GDT_GPA		0x800
#define TSS_GPA		0x900
#define IDT_GPA		0x2000
#define HANDLER_GPA	0x3000
#define STACK_TOP	0x7000
#define CODE_MIN	0x10000
#define CODE_MAX	0xa0000
#define PT_GPA		0x180000
#define PD_GPA		(PT_GPA)		/* 4 PAE page directories */
#define PDPT_GPA	(PT_GPA + 0x4000)
#define PML4_GPA	(PT_GPA + 0x5000)
#define PDPT64_GPA	(PT_GPA + 0x6000)
#define PD32_GPA	(PT_GPA + 0x7000)

#define CR0_PE		(1ULL << 0)
#define CR0_ET		(1ULL << 4)
#define CR0_NW		(1ULL << 29)
#define CR0_CD		(1ULL << 30)
#define CR0_PG		(1ULL << 31)
#define CR4_PSE		(1ULL << 4)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define EFLAGS_VM	(1ULL << 17)

enum mode {
	M_REAL, M_VM86, M_PM16, M_PM32, M_PM32_PG, M_PAE, M_LONG, M_COMPAT,
	M_RANDOM, M_NR
};

static const char *const mode_names[M_NR] = {
	"real", "vm86", "pm16", "pm32", "pm32-paging", "pae", "long", "compat",
	"random",
};

static bool mode_16bit(int m)
{
	return m == M_REAL || m == M_VM86 || m == M_PM16;
}

/* ---- Segments and sregs ------------------------------------------------ */

static void seg(struct kvm_segment *s, uint64_t base, uint32_t limit,
		uint16_t sel, uint8_t type, int code_data, int dpl, int db,
		int l, int g)
{
	*s = (struct kvm_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.present = 1, .dpl = dpl, .db = db, .s = code_data, .l = l,
		.g = g,
	};
}

static void mode_sregs(int m, struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->apic_base = 0xfee00900;
	s->gdt.base = GDT_GPA;
	s->gdt.limit = 0x57;
	s->idt.base = IDT_GPA;
	s->idt.limit = 0xfff;
	seg(&s->tr, TSS_GPA, 0x67, 0x30, 0xb, 0, 0, 0, 0, 0);
	seg(&s->ldt, 0, 0xffff, 0, 0x2, 0, 0, 0, 0, 0);
	s->cr0 = CR0_ET;

	switch (m) {
	case M_REAL:
		seg(&s->cs, 0, 0xffff, 0, 0xb, 1, 0, 0, 0, 0);
		seg(&s->ds, 0, 0xffff, 0, 0x3, 1, 0, 0, 0, 0);
		s->idt.base = IVT_GPA;
		s->idt.limit = 0x3ff;
		s->tr.type = 0x3;
		break;
	case M_VM86:
		s->cr0 |= CR0_PE;
		seg(&s->cs, 0, 0xffff, 0, 0x3, 1, 3, 0, 0, 0);
		seg(&s->ds, 0, 0xffff, 0, 0x3, 1, 3, 0, 0, 0);
		break;
	case M_PM16:
		s->cr0 |= CR0_PE;
		seg(&s->cs, 0, 0xffff, 0x20, 0xb, 1, 0, 0, 0, 0);
		seg(&s->ds, 0, 0xffff, 0x28, 0x3, 1, 0, 0, 0, 0);
		break;
	case M_PM32:
	case M_PM32_PG:
	case M_PAE:
		s->cr0 |= CR0_PE;
		seg(&s->cs, 0, 0xffffffff, 0x08, 0xb, 1, 0, 1, 0, 1);
		seg(&s->ds, 0, 0xffffffff, 0x10, 0x3, 1, 0, 1, 0, 1);
		if (m == M_PM32_PG) {
			s->cr0 |= CR0_PG;
			s->cr4 |= CR4_PSE;
			s->cr3 = PD32_GPA;
		} else if (m == M_PAE) {
			s->cr0 |= CR0_PG;
			s->cr4 |= CR4_PAE;
			s->cr3 = PDPT_GPA;
		}
		break;
	case M_LONG:
	case M_COMPAT:
		s->cr0 |= CR0_PE | CR0_PG;
		s->cr4 |= CR4_PAE;
		s->cr3 = PML4_GPA;
		s->efer = EFER_LME | EFER_LMA;
		if (m == M_LONG)
			seg(&s->cs, 0, 0xffffffff, 0x18, 0xb, 1, 0, 0, 1, 1);
		else
			seg(&s->cs, 0, 0xffffffff, 0x08, 0xb, 1, 0, 1, 0, 1);
		seg(&s->ds, 0, 0xffffffff, 0x10, 0x3, 1, 0, 1, 0, 1);
		s->idt.limit = 0xfff;
		break;
	}
	s->es = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	s->ss = s->ds;
}

static struct kvm_segment *rand_seg(struct fz_thread *t, struct kvm_sregs *s)
{
	struct kvm_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};

	return segs[fz_below(t, 8)];
}

/* A few random changes, of the kind that break entry checks. */
static void mutate_sregs(struct fz_thread *t, struct kvm_sregs *s)
{
	int n = 1 + (int)fz_below(t, 3);

	while (n--) {
		struct kvm_segment *g = rand_seg(t, s);

		switch (fz_below(t, 20)) {
		case 0:
			s->cr0 ^= 1ULL << fz_below(t, 32);
			break;
		case 1:
			s->cr0 ^= 1ULL << fz_below(t, 64);
			break;
		case 2:
			s->cr4 ^= 1ULL << fz_below(t, 32);
			break;
		case 3:
			s->efer ^= 1ULL << fz_below(t, 16);
			break;
		case 4:
			s->cr3 = fz_chance(t, 50) ? fz_gpa(t) : fz_rand(t);
			break;
		case 5:
			g->type = fz_below(t, 16);
			break;
		case 6:
			g->s ^= 1;
			break;
		case 7:
			g->dpl = fz_below(t, 4);
			break;
		case 8:
			g->present ^= 1;
			break;
		case 9:
			g->db ^= 1;
			break;
		case 10:
			g->l ^= 1;
			break;
		case 11:
			g->g ^= 1;
			break;
		case 12:
			g->base = fz_chance(t, 50) ? fz_gpa(t) : fz_rand(t);
			break;
		case 13:
			g->limit = (uint32_t)fz_val(t);
			break;
		case 14:
			g->selector = (uint16_t)fz_rand(t);
			break;
		case 15:
			g->unusable ^= 1;
			break;
		case 16:
			s->gdt.limit = (uint16_t)fz_rand(t);
			s->idt.base = fz_val(t);
			break;
		case 17:
			s->apic_base = fz_chance(t, 50) ? fz_val(t) :
				       s->apic_base ^ (1ULL << fz_below(t, 64));
			break;
		case 18:
			s->cr8 = fz_val(t);
			s->cr2 = fz_val(t);
			break;
		default:
			g->avl ^= 1;
			g->padding = (uint8_t)fz_rand(t);
		}
	}
}

static int pick_mode(struct fz_thread *t)
{
	return (int)fz_below(t, M_NR);
}

/*
 * QEMU's TCG (the bed's CPU) aborts the whole emulator when a guest takes an
 * interrupt that switches stacks while the cached TR is not present or not
 * an available TSS (seg_helper.c, get_ss_esp_from_tss): an emulator bug,
 * not a kernel one.  Real CPUs take busy types there.  Unless told
 * otherwise, keep TR a present, available TSS.
 */
/*
 * QEMU's TCG also hangs (the whole bed, under Linux KVM as under nkvm) when
 * it enters a guest with EFER.LME set and CR0.PG clear, a state real CPUs
 * run in (it is how long mode is entered).
 */
/*
 * And its VMRUN fails a CR3 above MAXPHYADDR (checked against the host's
 * EFER.LMA, so in every guest mode) before it has read int_ctl; its
 * #VMEXIT then writes back an int_ctl without V_INTR_MASKING.  nkvm writes
 * int_ctl on every entry, but Linux KVM keeps V_INTR_MASKING in the VMCB
 * alone, and its vCPU no longer takes host interrupts while the guest's IF
 * is clear (see Documentation/virt/testing.rst): keep CR3 below
 * MAXPHYADDR (the bed's CPU's, from CPUID 0x80000008).
 */
static uint64_t cr3_mask(void)
{
	static uint64_t mask;
	unsigned int a, b, c, d;

	if (!mask) {
		unsigned int bits = 36;

		if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000008 &&
		    __get_cpuid(0x80000008, &a, &b, &c, &d))
			bits = a & 0xff;
		mask = (1ULL << bits) - 1;
	}
	return mask;
}

void fz_tcg_safe_sregs(struct kvm_sregs *s)
{
	if (!fz_tcg_workarounds())
		return;
	fz_tcg_safe_tr(&s->tr);
	if (!(s->cr0 & CR0_PG))
		s->efer &= ~EFER_LME;
	s->cr3 &= cr3_mask();
}

void fz_tcg_safe_tr(struct kvm_segment *tr)
{
	if (!fz_tcg_workarounds())
		return;
	tr->present = 1;
	tr->unusable = 0;
	tr->s = 0;
	tr->type = (tr->type & 8) || (tr->base & 1) ? 9 : 1;
}

static void build_sregs(struct fz_thread *t, int m, struct kvm_sregs *s)
{
	if (m == M_RANDOM) {
		mode_sregs((int)fz_below(t, M_RANDOM), s);
		fz_fill_random(t, s, sizeof(*s));
		if (fz_chance(t, 50))
			memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
	} else {
		mode_sregs(m, s);
		if (fz_chance(t, 30))
			mutate_sregs(t, s);
		if (fz_chance(t, 5))
			s->interrupt_bitmap[fz_below(t, 4)] = 1ULL << fz_below(t, 64);
	}
	fz_tcg_safe_sregs(s);
}

void fz_gen_sregs(struct fz_thread *t, void *p)
{
	build_sregs(t, pick_mode(t), p);
}

static uint64_t rand_rflags(struct fz_thread *t, int m)
{
	uint64_t f = 0x2;

	if (fz_chance(t, 30))
		f |= 1ULL << 9;			/* IF */
	if (m == M_VM86)
		f |= EFLAGS_VM;
	switch (fz_below(t, 12)) {
	case 0:
		f |= 1ULL << 8;			/* TF */
		break;
	case 1:
		f |= 3ULL << 12;		/* IOPL 3 */
		break;
	case 2:
		f ^= EFLAGS_VM;
		break;
	case 3:
		f |= 1ULL << fz_below(t, 22);
		break;
	case 4:
		f = fz_rand(t);
		break;
	default:
		break;
	}
	return f;
}

static void build_regs(struct fz_thread *t, int m, uint64_t rip, struct kvm_regs *r)
{
	uint64_t *g = (uint64_t *)r;
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 16; i++)
		if (fz_chance(t, 40))
			g[i] = fz_val(t);
	r->rsp = STACK_TOP;
	r->rip = rip;
	r->rflags = rand_rflags(t, m);
	if (fz_chance(t, 5))
		r->rip = fz_val(t);
	if (fz_chance(t, 5))
		r->rsp = fz_val(t);
}

void fz_gen_regs(struct fz_thread *t, void *p)
{
	int m = pick_mode(t);

	build_regs(t, m, CODE_MIN + fz_below(t, CODE_MAX - CODE_MIN), p);
}

/* ---- Guest code -------------------------------------------------------- */

struct code {
	uint8_t *p;
	size_t n, cap;
	int mode;
};

static void emit(struct code *c, const void *b, size_t n)
{
	if (c->n + n > c->cap)
		return;
	memcpy(c->p + c->n, b, n);
	c->n += n;
}

static void emit1(struct code *c, uint8_t b)
{
	emit(c, &b, 1);
}

static void emit32(struct code *c, uint32_t v)
{
	emit(c, &v, 4);
}

#define EMIT(c, ...) do {						\
	static const uint8_t __b[] = { __VA_ARGS__ };			\
	emit(c, __b, sizeof(__b));					\
} while (0)

/* mov r32, imm32 in any mode (operand-size prefix in 16-bit code). */
static void mov_r32(struct code *c, int reg, uint32_t imm)
{
	if (mode_16bit(c->mode))
		emit1(c, 0x66);
	emit1(c, 0xb8 + reg);
	emit32(c, imm);
}

enum { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI };

static void a32(struct code *c)
{
	if (mode_16bit(c->mode))
		emit1(c, 0x67);
}

static void o32(struct code *c)
{
	if (mode_16bit(c->mode))
		emit1(c, 0x66);
}

static uint32_t rand_port(struct fz_thread *t)
{
	static const uint16_t ports[] = {
		0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80,
		0x92, 0xa0, 0xcf8, 0xcfc, 0x3f8, 0x3fd, 0x402, 0x510, 0xf0,
		0xb2, 0xcf9, 0x604, 0xb004,
	};

	if (fz_chance(t, 70))
		return ports[fz_below(t, sizeof(ports) / sizeof(ports[0]))];
	return (uint32_t)fz_below(t, 0x10000);
}

static uint32_t rand_addr(struct fz_thread *t)
{
	switch (fz_below(t, 6)) {
	case 0:
		return 0xfee00000 + 16 * (uint32_t)fz_below(t, 64);	/* APIC */
	case 1:
		return 0xfec00000 + 16 * (uint32_t)fz_below(t, 4);	/* IOAPIC */
	case 2:
		return (uint32_t)fz_gpa(t);
	case 3:
		return (uint32_t)fz_rand(t);
	default:
		return (uint32_t)fz_below(t, SLOT_SIZE);
	}
}

/*
 * NKVM_FUZZ_SNIPPETS=N,M,... limits the guest code to those snippet kinds
 * (the case numbers below; 37 and up are random bytes): for narrowing down
 * what a guest did, with the rest replaced by NOPs.
 */
static uint64_t snippet_mask(void)
{
	static uint64_t mask;
	const char *e, *p;

	if (mask)
		return mask;
	e = getenv("NKVM_FUZZ_SNIPPETS");
	if (!e || !*e)
		return mask = ~0ULL;
	for (p = e; *p; ) {
		unsigned long n = strtoul(p, (char **)&p, 10);

		mask |= 1ULL << (n < 63 ? n : 63);
		while (*p == ',')
			p++;
	}
	return mask;
}

static void snippet(struct fz_thread *t, struct code *c)
{
	static const uint8_t cr_mov[] = { 0xc0, 0xd0, 0xd8, 0xe0 };	/* cr0,2,3,4 */
	unsigned int kind = (unsigned int)fz_below(t, 40);

	if (!(snippet_mask() & (1ULL << (kind < 37 ? kind : 37)))) {
		emit1(c, 0x90);
		return;
	}
	switch (kind) {
	case 0:
		EMIT(c, 0xf4);					/* hlt */
		break;
	case 1:
		mov_r32(c, EAX, (uint32_t)fz_rand(t));
		emit1(c, 0xe6);					/* out imm8, al */
		emit1(c, (uint8_t)rand_port(t));
		break;
	case 2:
		mov_r32(c, EDX, rand_port(t));
		mov_r32(c, EAX, (uint32_t)fz_rand(t));
		emit1(c, fz_chance(t, 50) ? 0xee : 0xef);	/* out dx, al/eax */
		break;
	case 3:
		mov_r32(c, EDX, rand_port(t));
		emit1(c, fz_chance(t, 50) ? 0xec : 0xed);	/* in al/eax, dx */
		break;
	case 4:							/* rep outs/ins */
		mov_r32(c, EDX, rand_port(t));
		mov_r32(c, ECX, fz_chance(t, 70) ? (uint32_t)fz_below(t, 64) :
						   (uint32_t)fz_val(t));
		mov_r32(c, ESI, (uint32_t)fz_below(t, SLOT_SIZE));
		mov_r32(c, EDI, (uint32_t)fz_below(t, SLOT_SIZE));
		a32(c);
		emit1(c, 0xf3);
		emit1(c, 0x6c + (uint8_t)fz_below(t, 4));
		break;
	case 5:
		mov_r32(c, EAX, (uint32_t)(fz_chance(t, 50) ? fz_below(t, 0x20) :
			0x80000000 + fz_below(t, 0x22)));
		mov_r32(c, ECX, (uint32_t)fz_below(t, 4));
		EMIT(c, 0x0f, 0xa2);				/* cpuid */
		break;
	case 6:
		mov_r32(c, ECX, fz_msr_index(t));
		EMIT(c, 0x0f, 0x32);				/* rdmsr */
		break;
	case 7: {
		uint32_t msr = fz_msr_index(t), val = (uint32_t)fz_val(t);

		/* See fz_tcg_safe_sregs(): no EFER.LME without paging. */
		if (msr == 0xc0000080 && fz_tcg_workarounds())
			val &= ~(uint32_t)EFER_LME;
		mov_r32(c, ECX, msr);
		mov_r32(c, EAX, val);
		mov_r32(c, EDX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x30);				/* wrmsr */
		break;
	}
	case 8:							/* MMIO store */
		mov_r32(c, EDI, rand_addr(t));
		mov_r32(c, EAX, (uint32_t)fz_rand(t));
		o32(c);
		a32(c);
		EMIT(c, 0x89, 0x07);				/* mov [edi], eax */
		break;
	case 9:							/* MMIO load */
		mov_r32(c, ESI, rand_addr(t));
		o32(c);
		a32(c);
		EMIT(c, 0x8b, 0x06);				/* mov eax, [esi] */
		break;
	case 10:						/* touch many pages */
		mov_r32(c, EDI, (uint32_t)fz_below(t, SLOT_SIZE));
		mov_r32(c, ECX, 4096 * (1 + (uint32_t)fz_below(t, 256)));
		a32(c);
		EMIT(c, 0xf3, 0xaa);				/* rep stosb */
		break;
	case 11:
		mov_r32(c, EAX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x22);				/* mov crN, eax */
		/* Paging off in compatibility mode leaves LME without PG. */
		if ((c->mode == M_LONG || c->mode == M_COMPAT) && fz_tcg_workarounds())
			emit1(c, cr_mov[1 + fz_below(t, 3)]);
		else
			emit1(c, cr_mov[fz_below(t, 4)]);
		break;
	case 12:
		EMIT(c, 0x0f, 0x20);				/* mov eax, crN */
		emit1(c, cr_mov[fz_below(t, 4)]);
		break;
	case 13:
		/*
		 * QEMU's TCG crashes (a BQL assertion) or hangs when a nested
		 * guest arms hardware breakpoints, under Linux KVM as under
		 * nkvm: with the workarounds, DR7 is only read.
		 */
		if (fz_tcg_workarounds()) {
			EMIT(c, 0x0f, 0x21, 0xf8);		/* mov eax, dr7 */
			break;
		}
		mov_r32(c, EAX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x23);				/* mov drN, eax */
		emit1(c, 0xc0 | (uint8_t)(fz_below(t, 8) << 3));
		break;
	case 14:
		EMIT(c, 0x0f, 0x21);				/* mov eax, drN */
		emit1(c, 0xc0 | (uint8_t)(fz_below(t, 8) << 3));
		break;
	case 15: {						/* SVM and friends */
		static const uint8_t op3[] = {
			0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
			0xc8, 0xc9, 0xd0, 0xd1, 0xf9, 0xfd, 0xf8, 0xca,
			0xcb, 0xee, 0xef, 0xfa, 0xfb,
		};
		/*
		 * Now and then turn EFER.SVME on and set a host save area
		 * first, so that VMRUN and friends get past their #UD and #GP
		 * checks (nested SVM: a VMCB in guest memory, bad or not).
		 */
		if (fz_chance(t, 30)) {
			mov_r32(c, ECX, 0xc0000080);		/* EFER */
			EMIT(c, 0x0f, 0x32);			/* rdmsr */
			emit1(c, 0x0d);				/* or eax, imm32 */
			emit1(c, 0x00);
			emit1(c, 0x10);
			emit1(c, 0x00);
			emit1(c, 0x00);
			EMIT(c, 0x0f, 0x30);			/* wrmsr */
			mov_r32(c, ECX, 0xc0010117);		/* VM_HSAVE_PA */
			mov_r32(c, EAX, (uint32_t)fz_gpa(t) & ~0xfffu);
			mov_r32(c, EDX, 0);
			EMIT(c, 0x0f, 0x30);
		}
		mov_r32(c, EAX, fz_chance(t, 50) ?
				(uint32_t)fz_gpa(t) & ~0xfffu :
				(uint32_t)fz_val(t));
		mov_r32(c, ECX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x01);
		emit1(c, op3[fz_below(t, sizeof(op3))]);
		break;
	}
	case 16: {						/* two-byte privileged ops */
		static const uint8_t op2[] = {
			0x05, 0x07, 0x08, 0x09, 0x0b, 0x31, 0x33, 0x34, 0x35,
			0x37, 0xaa, 0x06, 0xa2, 0x0e, 0x77,
		};
		EMIT(c, 0x0f);
		emit1(c, op2[fz_below(t, sizeof(op2))]);
		break;
	}
	case 17:
		emit1(c, 0xcd);					/* int n */
		emit1(c, (uint8_t)fz_rand(t));
		break;
	case 18: {
		static const uint8_t op1[] = {
			0xcc, 0xce, 0xf1, 0xcf, 0xfa, 0xfb, 0x9c, 0x9d, 0x17,
			0x1f, 0x07, 0xf4, 0x90, 0xcb, 0xca, 0xc3,
		};
		emit1(c, op1[fz_below(t, sizeof(op1))]);
		break;
	}
	case 19:						/* popf of anything */
		mov_r32(c, EAX, (uint32_t)fz_rand(t));
		o32(c);
		EMIT(c, 0x50);
		o32(c);
		EMIT(c, 0x9d);
		break;
	case 20:						/* mov seg, ax */
		mov_r32(c, EAX, (uint32_t)fz_below(t, 0x60));
		emit1(c, 0x8e);
		emit1(c, 0xc0 | (uint8_t)(fz_below(t, 6) << 3));
		break;
	case 21:						/* lldt/ltr/verr */
		mov_r32(c, EAX, (uint32_t)fz_below(t, 0x60));
		emit1(c, 0x0f);
		emit1(c, 0x00);
		emit1(c, 0xc0 | (uint8_t)(fz_below(t, 6) << 3));
		break;
	case 22:						/* lgdt/lidt [eax] */
		mov_r32(c, EAX, (uint32_t)fz_below(t, SLOT_SIZE));
		a32(c);
		emit1(c, 0x0f);
		emit1(c, 0x01);
		emit1(c, fz_chance(t, 50) ? 0x10 : 0x18);
		break;
	case 23:						/* far jump */
		emit1(c, 0xea);
		if (mode_16bit(c->mode)) {
			uint16_t off = (uint16_t)fz_rand(t);

			emit(c, &off, 2);
		} else {
			emit32(c, (uint32_t)fz_rand(t));
		}
		{
			uint16_t sel = (uint16_t)fz_below(t, 0x60);

			emit(c, &sel, 2);
		}
		break;
	case 24:
		EMIT(c, 0xeb, 0xfe);				/* jmp $ */
		break;
	case 25:						/* divide by zero */
		EMIT(c, 0x31, 0xc9, 0xf7, 0xf1);
		break;
	case 26:						/* xsave family */
		mov_r32(c, EAX, (uint32_t)fz_val(t));
		mov_r32(c, EDX, (uint32_t)fz_val(t));
		mov_r32(c, EBX, (uint32_t)fz_below(t, SLOT_SIZE));
		a32(c);
		emit1(c, 0x0f);
		emit1(c, 0xae);
		emit1(c, 0x03 | (uint8_t)(fz_below(t, 8) << 3));
		break;
	case 27:						/* invlpg [eax] */
		mov_r32(c, EAX, (uint32_t)fz_rand(t));
		a32(c);
		EMIT(c, 0x0f, 0x01, 0x38);
		break;
	case 28:						/* mov cr8, rax */
		if (c->mode == M_LONG) {
			mov_r32(c, EAX, (uint32_t)fz_below(t, 32));
			EMIT(c, 0x44, 0x0f, 0x22, 0xc0);
		}
		break;
	case 29:						/* near jump anywhere */
		emit1(c, 0xe9);
		if (mode_16bit(c->mode)) {
			uint16_t rel = (uint16_t)fz_rand(t);

			emit(c, &rel, 2);
		} else {
			emit32(c, (uint32_t)(fz_chance(t, 50) ? fz_below(t, 256) : fz_rand(t)));
		}
		break;
	case 30:						/* vmmcall, hypercall nr */
		mov_r32(c, EAX, (uint32_t)fz_below(t, 16));
		mov_r32(c, EBX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x01, 0xd9);
		break;
	case 31: {						/* prefixes */
		static const uint8_t pfx[] = {
			0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26,
			0x64, 0x65, 0x48, 0x41,
		};
		int n = 1 + (int)fz_below(t, 4);

		while (n--)
			emit1(c, pfx[fz_below(t, sizeof(pfx))]);
		break;
	}
	case 32:						/* sti; hlt */
		EMIT(c, 0xfb, 0xf4);
		break;
	case 33:						/* cli; hlt */
		EMIT(c, 0xfa, 0xf4);
		break;
	case 34:						/* mov ss; hlt */
		EMIT(c, 0x8e, 0xd0, 0xf4);
		break;
	case 35:						/* store anywhere */
		mov_r32(c, EDI, (uint32_t)fz_rand(t));
		o32(c);
		a32(c);
		EMIT(c, 0x89, 0x07);
		break;
	case 36:						/* rdpmc/rdtscp */
		mov_r32(c, ECX, (uint32_t)fz_val(t));
		EMIT(c, 0x0f, 0x33);
		break;
	default: {						/* random bytes */
		uint8_t b[16];
		size_t n = 1 + fz_below(t, sizeof(b));

		fz_fill_random(t, b, n);
		emit(c, b, n);
		break;
	}
	}
}

static size_t gen_code(struct fz_thread *t, int mode, uint8_t *buf, size_t cap)
{
	struct code c = { .p = buf, .cap = cap, .mode = mode };
	int n = 1 + (int)fz_below(t, 24);

	if (fz_chance(t, 5) && (snippet_mask() & (1ULL << 37))) {
		fz_fill_random(t, buf, cap);
		return cap;
	}
	while (n--)
		snippet(t, &c);
	/* Often end in something that exits. */
	if (fz_chance(t, 60))
		emit1(&c, fz_chance(t, 50) ? 0xf4 : 0xe6);
	if (c.n < cap)
		emit1(&c, 0xf0);
	return c.n;
}

/* ---- Tables in guest memory -------------------------------------------- */

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, 8);
}

static void put32(uint8_t *mem, uint64_t gpa, uint32_t v)
{
	memcpy(mem + gpa, &v, 4);
}

static void write_tables(struct fz_thread *t, uint8_t *mem, int m)
{
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL,	/* 0x08 code32 */
		0x00cf93000000ffffULL,	/* 0x10 data32 */
		0x00af9b000000ffffULL,	/* 0x18 code64 */
		0x00009b000000ffffULL,	/* 0x20 code16 */
		0x000093000000ffffULL,	/* 0x28 data16 */
		0,			/* 0x30 TSS, below */
		0,			/* 0x38 TSS upper half */
		0x00cffb000000ffffULL,	/* 0x40 user code32 */
		0x00cff3000000ffffULL,	/* 0x48 user data32 */
		0x00008200000000ffULL,	/* 0x50 LDT */
	};
	uint64_t tss = 0x0000890000000067ULL | ((uint64_t)TSS_GPA << 16);
	unsigned int i;

	memcpy(mem + GDT_GPA, gdt, sizeof(gdt));
	put64(mem, GDT_GPA + 0x30, tss);
	memset(mem + TSS_GPA, 0, 0x68);

	/* An exception handler: report the vector port, return. */
	if (m == M_LONG)
		memcpy(mem + HANDLER_GPA, "\xe6\xf0\x48\xcf", 4);
	else
		memcpy(mem + HANDLER_GPA, "\xe6\xf0\xcf", 3);

	if (fz_chance(t, 30)) {
		/* No usable IDT: exceptions end in a triple fault. */
		fz_fill_struct(t, mem + IDT_GPA, 0x1000);
	} else if (m == M_REAL || m == M_VM86) {
		for (i = 0; i < 256; i++)
			put32(mem, IVT_GPA + 4 * i, HANDLER_GPA);
	} else if (m == M_LONG || m == M_COMPAT) {
		for (i = 0; i < 256; i++) {
			put64(mem, IDT_GPA + 16 * i, HANDLER_GPA | (0x18ULL << 16) |
			      (0x8e00ULL << 32));
			put64(mem, IDT_GPA + 16 * i + 8, 0);
		}
	} else {
		for (i = 0; i < 256; i++)
			put64(mem, IDT_GPA + 8 * i, HANDLER_GPA | (0x08ULL << 16) |
			      (0x8e00ULL << 32));
	}

	/* Identity maps of the low 4 GiB. */
	for (i = 0; i < 4 * 512; i++)
		put64(mem, PD_GPA + 8 * i, ((uint64_t)i << 21) | 0x87);
	for (i = 0; i < 4; i++) {
		put64(mem, PDPT_GPA + 8 * i, (PD_GPA + 0x1000ULL * i) | 1);
		put64(mem, PDPT64_GPA + 8 * i, (PD_GPA + 0x1000ULL * i) | 7);
	}
	memset(mem + PML4_GPA, 0, 4096);
	put64(mem, PML4_GPA, PDPT64_GPA | 7);
	for (i = 0; i < 1024; i++)
		put32(mem, PD32_GPA + 4 * i, (i << 22) | 0x87);

	/* Sometimes a reserved bit or a missing table somewhere. */
	if (fz_chance(t, 10)) {
		uint64_t at = PT_GPA + 8 * fz_below(t, 0x8000 / 8);

		put64(mem, at, fz_chance(t, 50) ? 0 : fz_rand(t));
	}
}

/* The memory may be mprotected or remapped by other operations. */
static void trace_code(struct fz_thread *t, const uint8_t *code, size_t len,
		       uint64_t gpa, int idx)
{
	char hex[3 * 64 + 1];
	size_t i;

	for (i = 0; i < len && i < 64; i++)
		snprintf(hex + 3 * i, 4, "%02x ", code[i]);
	hex[3 * i] = 0;
	snprintf(fz_obj(idx)->code, sizeof(fz_obj(idx)->code), "%#" PRIx64 ": %.90s", gpa, hex);
	if (t->trace)
		printf("#     code (%zu bytes): %s%s\n", len, hex, len > 64 ? "..." : "");
}

__attribute__((noinline))
static void write_guest_memory(struct fz_thread *t, uint8_t *mem, int mode,
			       uint64_t code_gpa, int idx)
{
	FZ_GUARDED(t, {
		size_t len;

		write_tables(t, mem, mode);
		len = gen_code(t, mode, t->scratch + 8192, 1024);
		trace_code(t, t->scratch + 8192, len, code_gpa, idx);
		memcpy(mem + code_gpa, t->scratch + 8192, len);
	});
}

/* ---- Setup ------------------------------------------------------------- */

static long set_slot0(struct fz_thread *t, int vmfd, uint64_t hva)
{
	struct kvm_userspace_memory_region m = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = SLOT_SIZE,
		.userspace_addr = hva,
	};
	int row = fz_row_index(KVM_SET_USER_MEMORY_REGION);
	long r;

	memcpy(t->scratch, &m, sizeof(m));
	r = fz_do_ioctl(t, row, vmfd, KVM_SET_USER_MEMORY_REGION,
			(unsigned long)t->scratch);
	if (r == -EINVAL || r == -EEXIST) {
		struct kvm_userspace_memory_region del = m;

		/* Slot 0 is elsewhere or something overlaps: start over. */
		del.memory_size = 0;
		memcpy(t->scratch, &del, sizeof(del));
		fz_do_ioctl(t, row, vmfd, KVM_SET_USER_MEMORY_REGION,
			    (unsigned long)t->scratch);
		memcpy(t->scratch, &m, sizeof(m));
		r = fz_do_ioctl(t, row, vmfd, KVM_SET_USER_MEMORY_REGION,
				(unsigned long)t->scratch);
	}
	return r;
}

void fz_guest_setup(struct fz_thread *t, int idx)
{
	struct fz_obj o = *fz_obj(idx), vm;
	struct kvm_sregs s;
	struct kvm_regs regs;
	int m = pick_mode(t), code_mode;
	uint64_t code_gpa, hva;
	uint8_t *mem;

	if (o.fd < 0 || o.parent < 0)
		return;
	vm = *fz_obj(o.parent);
	/* Each VM slot of the table gets its own 4 MiB of the pool. */
	hva = (uint64_t)(uintptr_t)fz_pool() +
	      (uint64_t)(o.parent % (fz_pool_size() / SLOT_SIZE)) * SLOT_SIZE;
	mem = (uint8_t *)(uintptr_t)hva;
	snprintf(t->desc, sizeof(t->desc), "guest setup: vcpu obj %d (fd %d), vm fd %d, mode %s",
		 idx, o.fd, vm.fd, mode_names[m]);

	if (vm.fd >= 0 && fz_chance(t, 85))
		set_slot0(t, vm.fd, hva);

	code_mode = m == M_RANDOM ? (int)fz_below(t, M_RANDOM) : m;
	code_gpa = CODE_MIN + fz_below(t, CODE_MAX - CODE_MIN - 4096);
	write_guest_memory(t, mem, code_mode, code_gpa, idx);

	build_sregs(t, m, &s);
	if (t->trace)
		printf("#     %s, code mode %s at %#" PRIx64 ": cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx"
		       " cs %#x/%#llx type %u dpl %u db %u l %u p %u ss.dpl %u tr type %u\n",
		       mode_names[m], mode_names[code_mode], code_gpa, s.cr0, s.cr3, s.cr4, s.efer,
		       s.cs.selector, s.cs.base, s.cs.type, s.cs.dpl, s.cs.db, s.cs.l,
		       s.cs.present, s.ss.dpl, s.tr.type);
	memcpy(t->scratch, &s, sizeof(s));
	fz_do_ioctl(t, fz_row_index(KVM_SET_SREGS), o.fd, KVM_SET_SREGS,
		    (unsigned long)t->scratch);

	build_regs(t, code_mode, code_gpa, &regs);
	if (t->trace)
		printf("#     rip %#llx rsp %#llx rflags %#llx\n", regs.rip, regs.rsp, regs.rflags);
	memcpy(t->scratch, &regs, sizeof(regs));
	fz_do_ioctl(t, fz_row_index(KVM_SET_REGS), o.fd, KVM_SET_REGS,
		    (unsigned long)t->scratch);
}

const char *fz_exit_name(unsigned int reason)
{
	static const char *const names[] = {
		"UNKNOWN", "EXCEPTION", "IO", "HYPERCALL", "DEBUG", "HLT",
		"MMIO", "IRQ_WINDOW_OPEN", "SHUTDOWN", "FAIL_ENTRY", "INTR",
		"SET_TPR", "TPR_ACCESS", "S390_SIEIC", "S390_RESET", "DCR",
		"NMI", "INTERNAL_ERROR", "OSI", "PAPR_HCALL", "S390_UCONTROL",
		"WATCHDOG", "S390_TSCH", "EPR", "SYSTEM_EVENT", "S390_STSI",
		"IOAPIC_EOI", "HYPERV", "ARM_NISV", "X86_RDMSR", "X86_WRMSR",
		"DIRTY_RING_FULL", "AP_RESET_HOLD", "X86_BUS_LOCK", "XEN",
		"RISCV_SBI", "RISCV_CSR", "NOTIFY", "LOONGARCH_IOCSR",
		"MEMORY_FAULT",
	};

	if (reason < sizeof(names) / sizeof(names[0]))
		return names[reason];
	return "OTHER";
}
