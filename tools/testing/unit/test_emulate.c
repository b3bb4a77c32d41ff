// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for arch/x86/kvm/emulate.c: a table of encodings run on a
 * small machine (guest RAM, two MMIO windows, an I/O port device, the
 * guest's page tables walked by mmu/walk.c), with the host CPU as the
 * oracle for the arithmetic, and the exit/restart protocol exercised the
 * way x86.c drives it.
 *
 * Every table case runs three times: with devices that answer at once
 * (SYNC), with MMIO and ports that need an exit to userspace (EXIT, as in
 * the kernel), and with every data access needing an exit (EXIT_ALL, the
 * worst case for the restart log).  All three must give the same result.
 */
#include "../nkvm/harness.h"
#include <stdint.h>
#include <emulate.h>

/* ---- The machine -------------------------------------------------------- */

#define RAM_SIZE	(4UL << 20)
#define MMIO_LO		0xa0000ULL	/* [0xa0000, 0xc0000): MMIO, not RAM */
#define MMIO_LO_END	0xc0000ULL
#define MMIO_HI		0xfec00000ULL	/* a second window, 64 KiB */
#define MMIO_HI_END	0xfec10000ULL
#define FIFO		0xbf000ULL	/* a page: reads pop, writes push */
#define CODE		0x1000ULL
#define TSS		0x200000ULL
#define TSS_LIMIT	(104 + 8192)
#define DENIED_PORT	0x80		/* the TSS bitmap forbids it */

/* Paging structures, in RAM. */
#define PML5		0x300000ULL
#define PML4		0x301000ULL
#define PDPT_LO		0x302000ULL	/* 1 GiB pages: [0, 4G) identity */
#define PDPT_HI		0x303000ULL	/* PML4[256]: 1 GiB page at 0 */
#define PD32		0x304000ULL	/* 2-level: 4 MiB pages, identity */
#define PAE_PDPT	0x305000ULL
#define PAE_PD0		0x306000ULL	/* 2 MiB pages, [0, 1G) */
#define PAE_PD3		0x307000ULL	/* 2 MiB pages, [3G, 4G) */
#define PDPT_T		0x308000ULL	/* PML4[1]: la 512 GiB + i * 4 KiB */
#define PD_T		0x309000ULL
#define PT_T		0x30a000ULL	/* ... maps through PT_T[i] */
#define LA_T		0x8000000000ULL

enum { IO_SYNC, IO_EXIT, IO_EXIT_ALL };

enum {
	M_REAL, M_VM86, M_P16, M_P32, M_P32PG, M_PAE, M_COMPAT, M_L64, M_L57,
	NR_MODES
};

static const char *const mode_names[NR_MODES] = {
	"real", "vm86", "prot16", "prot32", "prot32+paging", "pae", "compat",
	"long64", "la57",
};

struct pending {
	bool active;
	bool write;
	bool pio;
	u64 gpa;
	u16 port;
	unsigned int len;
	u8 data[8];
};

struct machine {
	u8 *ram;
	u8 mmio_lo[MMIO_LO_END - MMIO_LO];
	u8 mmio_hi[MMIO_HI_END - MMIO_HI];
	struct kvm_sregs sregs;
	unsigned long regs[X86EMUL_NR_REGS];
	unsigned long rflags;
	struct x86_emulate_ctxt ctxt;
	int io;				/* IO_* */
	struct pending pend;

	/* what the devices saw */
	unsigned int mmio_reads, mmio_writes, pio_ins, pio_outs, exits;
	unsigned int pio_count;		/* elements of the last port input */
	unsigned int fetches;
	u64 fifo_in[16], fifo_out[16];
	unsigned int fifo_in_pos, fifo_out_pos;
	u8 pio_in[64], pio_out[64];
	unsigned int pio_in_pos, pio_out_pos;
	u16 last_port;
	int retry_next;			/* callbacks answer RETRY after n */
	u64 cr0_set;			/* LMSW: the last CR0 loaded */
	unsigned int cr0_loads;
	bool cr0_refuse;		/* set_cr0 refuses (#GP) */
	unsigned int segs_asked;	/* get_seg: bit per segment */
	unsigned int seg_asks_again;	/* ... asked more than once */
};

static struct machine M;

/* set_up() calls x86_emulate_init_lazy() (kept across machine resets). */
static bool lazy_init;

static bool is_mmio(u64 gpa)
{
	return gpa >= RAM_SIZE || (gpa >= MMIO_LO && gpa < MMIO_LO_END);
}

/* The MMIO device: plain registers, except the FIFO. */
static void dev_read(u64 gpa, u8 *buf, unsigned int len)
{
	unsigned int i;

	M.mmio_reads++;
	if (gpa >= FIFO && gpa < FIFO + 0x1000) {
		u64 v = M.fifo_in[M.fifo_in_pos++ % 16];

		memcpy(buf, &v, len);
		return;
	}
	for (i = 0; i < len; i++) {
		u64 a = gpa + i;

		if (a >= MMIO_LO && a < MMIO_LO_END)
			buf[i] = M.mmio_lo[a - MMIO_LO];
		else if (a >= MMIO_HI && a < MMIO_HI_END)
			buf[i] = M.mmio_hi[a - MMIO_HI];
		else
			buf[i] = 0xff;
	}
}

static void dev_write(u64 gpa, const u8 *buf, unsigned int len)
{
	unsigned int i;

	M.mmio_writes++;
	if (gpa >= FIFO && gpa < FIFO + 0x1000) {
		u64 v = 0;

		memcpy(&v, buf, len);
		M.fifo_out[M.fifo_out_pos++ % 16] = v;
		return;
	}
	for (i = 0; i < len; i++) {
		u64 a = gpa + i;

		if (a >= MMIO_LO && a < MMIO_LO_END)
			M.mmio_lo[a - MMIO_LO] = buf[i];
		else if (a >= MMIO_HI && a < MMIO_HI_END)
			M.mmio_hi[a - MMIO_HI] = buf[i];
	}
}

static void port_in(u16 port, u8 *buf, unsigned int len)
{
	unsigned int i;

	M.pio_ins++;
	M.last_port = port;
	for (i = 0; i < len; i++)
		buf[i] = M.pio_in[M.pio_in_pos++ % sizeof(M.pio_in)];
}

static void port_out(u16 port, const u8 *buf, unsigned int len)
{
	unsigned int i;

	M.pio_outs++;
	M.last_port = port;
	for (i = 0; i < len; i++)
		M.pio_out[M.pio_out_pos++ % sizeof(M.pio_out)] = buf[i];
}

/* Guest-physical memory as the test sees it, without side effects. */
static u8 *phys(u64 gpa)
{
	if (gpa >= MMIO_LO && gpa < MMIO_LO_END)
		return &M.mmio_lo[gpa - MMIO_LO];
	if (gpa >= MMIO_HI && gpa < MMIO_HI_END)
		return &M.mmio_hi[gpa - MMIO_HI];
	if (gpa < RAM_SIZE)
		return &M.ram[gpa];
	return NULL;
}

static u64 peek(u64 gpa, unsigned int len)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < len; i++) {
		u8 *p = phys(gpa + i);

		v |= (u64)(p ? *p : 0xff) << (8 * i);
	}
	return v;
}

static void poke(u64 gpa, u64 v, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++) {
		u8 *p = phys(gpa + i);

		if (p)
			*p = v >> (8 * i);
	}
}

/* ---- The walker's view of guest memory ---------------------------------- */

static int read_pte(void *opaque, u64 gpa, u64 *pte, unsigned int size)
{
	if (gpa + size > RAM_SIZE || is_mmio(gpa))
		return -1;
	*pte = 0;
	memcpy(pte, M.ram + gpa, size);
	return 0;
}

static int cmpxchg_pte(void *opaque, u64 gpa, u64 old, u64 new,
		       unsigned int size)
{
	u64 cur = 0;

	if (gpa + size > RAM_SIZE || is_mmio(gpa))
		return -1;
	memcpy(&cur, M.ram + gpa, size);
	if (cur != old)
		return 1;
	memcpy(M.ram + gpa, &new, size);
	return 0;
}

static int translate(struct x86_emulate_ctxt *c, u64 la, unsigned int len,
		     u32 access, u64 *gpa, struct x86_exception *fault)
{
	struct x86_walk_env env = {
		.cr0 = M.sregs.cr0, .cr3 = M.sregs.cr3, .cr4 = M.sregs.cr4,
		.efer = M.sregs.efer, .maxphyaddr = 48, .gbpages = true,
		.amd = true, .read_pte = read_pte, .cmpxchg_pte = cmpxchg_pte,
	};
	struct x86_walk_result res;

	/* The emulator never hands out an access crossing a page. */
	if ((la & 0xfff) + len > 4096) {
		TH_LOG("access crosses a page: la %#llx len %u",
		       (unsigned long long)la, len);
		th_fail_now();
	}
	switch (x86_walk(&env, la, access, &res, fault)) {
	case X86_WALK_OK:
		*gpa = res.gpa;
		return X86EMUL_CONTINUE;
	case X86_WALK_FAULT:
		return X86EMUL_PROPAGATE_FAULT;
	default:
		return X86EMUL_UNHANDLEABLE;
	}
}

/* ---- The emulator's callbacks, as x86.c would write them ---------------- */

static int cb_fetch(struct x86_emulate_ctxt *c, u64 la, void *buf,
		    unsigned int len, u32 access, struct x86_exception *fault)
{
	u64 gpa;
	int r = translate(c, la, len, access, &gpa, fault);

	if (r)
		return r;
	if (is_mmio(gpa))
		return X86EMUL_UNHANDLEABLE;
	M.fetches++;
	memcpy(buf, M.ram + gpa, len);
	return X86EMUL_CONTINUE;
}

static int cb_read(struct x86_emulate_ctxt *c, u64 la, void *val,
		   unsigned int len, u32 access, struct x86_exception *fault)
{
	u64 gpa;
	int r;

	if (M.retry_next && !--M.retry_next)
		return X86EMUL_RETRY;
	r = translate(c, la, len, access, &gpa, fault);
	if (r)
		return r;
	if (!is_mmio(gpa) && M.io != IO_EXIT_ALL) {
		memcpy(val, M.ram + gpa, len);
		return X86EMUL_CONTINUE;
	}
	if (M.io == IO_SYNC) {
		dev_read(gpa, val, len);
		return X86EMUL_CONTINUE;
	}
	/* One exit carries one access: a held write goes out first. */
	if (M.pend.active)
		return X86EMUL_IO_NEEDED;
	M.pend = (struct pending) { .active = true, .gpa = gpa, .len = len };
	return X86EMUL_IO_NEEDED;
}

static int cb_write(struct x86_emulate_ctxt *c, u64 la, const void *val,
		    unsigned int len, u32 access, struct x86_exception *fault)
{
	u64 gpa;
	int r;

	if (M.retry_next && !--M.retry_next)
		return X86EMUL_RETRY;
	r = translate(c, la, len, access, &gpa, fault);
	if (r)
		return r;
	if (!is_mmio(gpa) && M.io != IO_EXIT_ALL) {
		memcpy(M.ram + gpa, val, len);
		return X86EMUL_CONTINUE;
	}
	if (M.io == IO_SYNC) {
		dev_write(gpa, val, len);
		return X86EMUL_CONTINUE;
	}
	if (M.pend.active)
		return X86EMUL_IO_NEEDED;
	M.pend = (struct pending) {
		.active = true, .write = true, .gpa = gpa, .len = len,
	};
	memcpy(M.pend.data, val, len);
	return X86EMUL_CONTINUE;
}

static int cb_pio_in(struct x86_emulate_ctxt *c, u16 port, unsigned int size,
		     unsigned int count, void *val)
{
	M.pio_count = count;
	if (M.io == IO_SYNC) {
		port_in(port, val, size * count);
		return X86EMUL_CONTINUE;
	}
	if (M.pend.active)
		return X86EMUL_IO_NEEDED;
	M.pend = (struct pending) {
		.active = true, .pio = true, .port = port, .len = size * count,
	};
	return X86EMUL_IO_NEEDED;
}

static int cb_pio_out(struct x86_emulate_ctxt *c, u16 port, unsigned int size,
		      const void *val)
{
	if (M.io == IO_SYNC) {
		port_out(port, val, size);
		return X86EMUL_CONTINUE;
	}
	if (M.pend.active)
		return X86EMUL_IO_NEEDED;
	M.pend = (struct pending) {
		.active = true, .pio = true, .write = true, .port = port,
		.len = size,
	};
	memcpy(M.pend.data, val, size);
	return X86EMUL_CONTINUE;
}

static int cb_set_cr0(struct x86_emulate_ctxt *ctxt, u64 val)
{
	if (M.cr0_refuse)
		return -1;
	M.cr0_set = val;
	M.cr0_loads++;
	return 0;
}

/* With x86_emulate_init_lazy(): the segment registers but CS and SS. */
static void cb_get_seg(struct x86_emulate_ctxt *c, int seg,
		       struct kvm_segment *var)
{
	const struct kvm_segment *s[] = {
		&M.sregs.es, &M.sregs.cs, &M.sregs.ss, &M.sregs.ds,
		&M.sregs.fs, &M.sregs.gs, &M.sregs.tr,
	};

	if (M.segs_asked & (1U << seg))
		M.seg_asks_again++;
	M.segs_asked |= 1U << seg;
	*var = *s[seg];
}

static const struct x86_emulate_ops ops = {
	.fetch = cb_fetch, .read = cb_read, .write = cb_write,
	.pio_in = cb_pio_in, .pio_out = cb_pio_out, .set_cr0 = cb_set_cr0,
	.get_seg = cb_get_seg,
};

/* Set up the context as the kernel does: CRs, CS and SS, the rest lazily. */
static void init_lazy(void)
{
	M.ctxt.cr0 = M.sregs.cr0;
	M.ctxt.cr4 = M.sregs.cr4;
	M.ctxt.efer = M.sregs.efer;
	M.ctxt.seg[X86EMUL_SEG_CS] = M.sregs.cs;
	M.ctxt.seg[X86EMUL_SEG_SS] = M.sregs.ss;
	/* What was there before must not count. */
	memset(&M.ctxt.seg[X86EMUL_SEG_DS], 0xa5, sizeof(M.ctxt.seg[0]));
	memset(&M.ctxt.seg[X86EMUL_SEG_ES], 0xa5, sizeof(M.ctxt.seg[0]));
	memset(&M.ctxt.seg[X86EMUL_SEG_FS], 0xa5, sizeof(M.ctxt.seg[0]));
	memset(&M.ctxt.seg[X86EMUL_SEG_GS], 0xa5, sizeof(M.ctxt.seg[0]));
	memset(&M.ctxt.tr, 0xa5, sizeof(M.ctxt.tr));
	M.segs_asked = 0;
	M.seg_asks_again = 0;
	x86_emulate_init_lazy(&M.ctxt, &ops, &M, M.regs, M.rflags);
}

/*
 * Userspace's side of an exit: perform the held access.  Returns true if
 * a read's data must be passed to the emulator.
 */
static bool do_exit(u8 *data)
{
	struct pending *p = &M.pend;
	bool ram = !p->pio && !is_mmio(p->gpa);

	M.exits++;
	p->active = false;
	if (p->pio) {
		if (p->write)
			port_out(p->port, p->data, p->len);
		else
			port_in(p->port, data, p->len);
	} else if (ram) {
		if (p->write)
			memcpy(M.ram + p->gpa, p->data, p->len);
		else
			memcpy(data, M.ram + p->gpa, p->len);
	} else {
		if (p->write)
			dev_write(p->gpa, p->data, p->len);
		else
			dev_read(p->gpa, data, p->len);
	}
	return !p->write;
}

/* One step as x86.c runs it, through all its exits.  An X86EMUL_* result. */
static int step(void)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	int r, n;

	for (n = 0; n < 32; n++) {
		r = x86_emulate_insn(c);
		if (r == X86EMUL_IO_NEEDED) {
			u8 data[X86EMUL_PIO_BATCH];

			if (!M.pend.active) {
				TH_LOG("IO_NEEDED without an access to do");
				th_fail_now();
			}
			/* Running again before the exit changes nothing. */
			if (n == 0) {
				ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
			}
			if (do_exit(data))
				ASSERT_EQ(x86_emulate_complete_read(c, data,
								    M.pend.len),
					  0);
			continue;
		}
		/* Completed: a held write goes to userspace now. */
		if (M.pend.active)
			do_exit(NULL);
		return r;
	}
	TH_LOG("too many exits in one step");
	th_fail_now();
}

/* ---- Modes -------------------------------------------------------------- */

static struct kvm_segment seg(u16 sel, u64 base, u32 limit, u8 type, bool db)
{
	return (struct kvm_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.present = 1, .s = 1, .db = db, .g = limit > 0xfffff,
	};
}

static void put64(u64 gpa, u64 v)
{
	memcpy(M.ram + gpa, &v, 8);
}

static void put32(u64 gpa, u32 v)
{
	memcpy(M.ram + gpa, &v, 4);
}

#define PTE_P	0x1ULL
#define PTE_RW	0x2ULL
#define PTE_US	0x4ULL
#define PTE_PS	0x80ULL
#define PTE_NX	(1ULL << 63)
#define TABLE	(PTE_P | PTE_RW | PTE_US)

static void build_page_tables(void)
{
	int i;

	put64(PML5, PML4 | TABLE);
	put64(PML4, PDPT_LO | TABLE);
	put64(PML4 + 8, PDPT_T | TABLE);
	put64(PML4 + 256 * 8, PDPT_HI | TABLE);
	for (i = 0; i < 4; i++)
		put64(PDPT_LO + i * 8, ((u64)i << 30) | TABLE | PTE_PS);
	put64(PDPT_HI, TABLE | PTE_PS);
	put64(PDPT_T, PD_T | TABLE);
	put64(PD_T, PT_T | TABLE);
	/* PT_T entries are left to the tests (all not present). */

	for (i = 0; i < 1024; i++)
		put32(PD32 + i * 4, ((u32)i << 22) | TABLE | PTE_PS);

	put64(PAE_PDPT, PAE_PD0 | PTE_P);
	put64(PAE_PDPT + 24, PAE_PD3 | PTE_P);
	for (i = 0; i < 512; i++) {
		put64(PAE_PD0 + i * 8, ((u64)i << 21) | TABLE | PTE_PS);
		put64(PAE_PD3 + i * 8, ((3ULL << 30) + ((u64)i << 21)) |
					TABLE | PTE_PS);
	}
}

/* The TSS: an I/O bitmap allowing every port but DENIED_PORT. */
static void build_tss(void)
{
	memset(M.ram + TSS, 0, TSS_LIMIT + 1);
	M.ram[TSS + 102] = 104;
	M.ram[TSS + 104 + DENIED_PORT / 8] |= 1 << (DENIED_PORT % 8);
	M.ram[TSS + TSS_LIMIT] = 0xff;
}

static void reset_machine(int mode, int io)
{
	struct kvm_sregs *s = &M.sregs;
	u8 *ram = M.ram;
	int i;

	if (!ram)
		ram = calloc(1, RAM_SIZE);
	memset(&M, 0, sizeof(M));
	memset(ram, 0, RAM_SIZE);
	M.ram = ram;
	M.io = io;
	build_page_tables();
	build_tss();
	for (i = 0; i < 16; i++)
		M.fifo_in[i] = 0x1111111111111111ULL * (i + 1);
	for (i = 0; i < 64; i++)
		M.pio_in[i] = 0xa0 + i;

	M.regs[X86EMUL_REG_RIP] = CODE;
	M.rflags = 0x2;
	s->tr = (struct kvm_segment) {
		.base = TSS, .limit = TSS_LIMIT, .selector = 0x28, .type = 11,
		.present = 1,
	};

	switch (mode) {
	case M_REAL:
	case M_VM86:
		s->cr0 = mode == M_VM86 ? X86_CR0_PE | X86_CR0_ET : X86_CR0_ET;
		s->cs = seg(0, 0, 0xffff, 0xb, false);
		s->ss = seg(0, 0, 0xffff, 3, false);
		/* Data segments on the low MMIO window. */
		s->ds = seg(0xa000, 0xa0000, 0xffff, 3, false);
		s->es = s->ds;
		s->fs = seg(0x100, 0x1000, 0xffff, 3, false);
		s->gs = seg(0x200, 0x2000, 0xffff, 3, false);
		if (mode == M_VM86) {
			M.rflags |= X86_EFLAGS_VM;
			s->cs.dpl = s->ss.dpl = s->ds.dpl = s->es.dpl = 3;
			s->fs.dpl = s->gs.dpl = 3;
		}
		break;
	case M_P16:
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		s->cs = seg(0x8, 0, 0xffff, 0xb, false);
		s->ds = seg(0x10, 0, 0xffffffff, 3, false);
		s->es = s->ss = s->fs = s->gs = s->ds;
		s->ds.base = MMIO_LO;
		s->es.base = MMIO_LO;
		break;
	default:
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		s->cs = seg(0x8, 0, 0xffffffff, 0xb, true);
		s->ds = seg(0x10, 0, 0xffffffff, 3, true);
		s->es = s->ss = s->fs = s->gs = s->ds;
		break;
	}
	switch (mode) {
	case M_P32PG:
		s->cr0 |= X86_CR0_PG | X86_CR0_WP;
		s->cr4 = X86_CR4_PSE;
		s->cr3 = PD32;
		break;
	case M_PAE:
		s->cr0 |= X86_CR0_PG | X86_CR0_WP;
		s->cr4 = X86_CR4_PAE;
		s->cr3 = PAE_PDPT;
		break;
	case M_COMPAT:
	case M_L64:
	case M_L57:
		s->cr0 |= X86_CR0_PG | X86_CR0_WP;
		s->cr4 = X86_CR4_PAE | (mode == M_L57 ? X86_CR4_LA57 : 0);
		s->cr3 = mode == M_L57 ? PML5 : PML4;
		s->efer = EFER_LME | EFER_LMA | EFER_NX;
		if (mode != M_COMPAT) {
			s->cs.l = 1;
			s->cs.db = 0;
		}
		break;
	}
}

/*
 * A reset for the many-case tests: rebuild the machine once per mode, then
 * only put back what an instruction may have changed.
 */
static void reset_machine_light(int mode, int io)
{
	static int built = -1;

	if (built != mode || !M.ram)
		reset_machine(mode, io);
	built = mode;
	memset(M.regs, 0, sizeof(M.regs));
	M.regs[X86EMUL_REG_RIP] = CODE;
	M.rflags = 0x2;
	M.io = io;
	M.pend.active = false;
	M.retry_next = 0;
}

/* ---- The table ---------------------------------------------------------- */

/*
 * A case: the instruction bytes (hex), the mode, the state before and what
 * must hold after, as space-separated "key=value" lists:
 *
 *   rax..r15, rip=N	registers (all others are checked unchanged)
 *   fl=N		RFLAGS (unchanged unless given)
 *   m8/m16/m32/m64[GPA]=N	guest-physical memory, RAM or MMIO
 *   pte[I]=N		before: PT_T entry I (la LA_T + I * 4 KiB)
 *   ds.base=N, ds.limit=N, ds.type=N, ds.db=N, ds.unusable=1, ... any
 *   segment (es cs ss ds fs gs tr); cpl=N sets CS.DPL and SS.DPL
 *   cr0=N, cr4=N, efer=N	override
 *   pin=N		the next port input bytes (little-endian, 8 bytes)
 *   fifo=N		the FIFO's first value
 *
 *   len=N		after: RIP moved by N (the instruction's length)
 *   rep=1		after: a REP instruction has elements left
 *   exc=V		after: exception vector V, ec=N its error code or
 *			noec; cr2=N the #PF address
 *   fail		after: X86EMUL_UNHANDLEABLE
 *   reads=N, writes=N	after: MMIO accesses the device saw
 *   pins=N, pouts=N, port=N, pout=N (first output bytes, 8 max)
 *   fifo_out=N	after: the first value written to the FIFO
 */
struct tcase {
	const char *name;
	int mode;
	const char *code;
	const char *before;
	const char *after;
};

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static const char *const seg_names[] = {
	"es", "cs", "ss", "ds", "fs", "gs", "tr",
};

static int reg_index(const char *k)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!strcmp(k, reg_names[i]))
			return i;
	if (!strcmp(k, "rip"))
		return X86EMUL_REG_RIP;
	return -1;
}

static struct kvm_segment *seg_by_name(const char *k)
{
	struct kvm_segment *segs[] = {
		&M.sregs.es, &M.sregs.cs, &M.sregs.ss, &M.sregs.ds,
		&M.sregs.fs, &M.sregs.gs, &M.sregs.tr,
	};
	unsigned int i;

	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (!strncmp(k, seg_names[i], 2) && k[2] == '.')
			return segs[i];
	return NULL;
}

/* Walk "key=value" tokens; calls fn(key, index, value) for each. */
typedef void (*kv_fn)(const char *key, u64 index, u64 value, void *arg);

static void parse_kv(const char *text, kv_fn fn, void *arg)
{
	char buf[1024], *save = NULL, *tok;

	if (!text)
		return;
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *br = strchr(tok, '[');
		u64 index = 0, value = 1;

		if (eq) {
			*eq = '\0';
			value = strtoull(eq + 1, NULL, 0);
		}
		if (br) {
			*br = '\0';
			index = strtoull(br + 1, NULL, 0);
		}
		fn(tok, index, value, arg);
	}
}

static void apply_before(const char *k, u64 idx, u64 v, void *arg)
{
	struct kvm_segment *s = seg_by_name(k);
	int r = reg_index(k);

	if (r >= 0) {
		M.regs[r] = v;
	} else if (!strcmp(k, "fl")) {
		M.rflags = v;
	} else if (k[0] == 'm' && (k[1] == '8' || k[1] == '1' || k[1] == '3' ||
				   k[1] == '6')) {
		poke(idx, v, atoi(k + 1) / 8);
	} else if (!strcmp(k, "pte")) {
		put64(PT_T + idx * 8, v);
	} else if (!strcmp(k, "cpl")) {
		M.sregs.cs.dpl = M.sregs.ss.dpl = v;
	} else if (!strcmp(k, "cr0")) {
		M.sregs.cr0 = v;
	} else if (!strcmp(k, "cr4")) {
		M.sregs.cr4 = v;
	} else if (!strcmp(k, "cr0refuse")) {
		M.cr0_refuse = v;
	} else if (!strcmp(k, "efer")) {
		M.sregs.efer = v;
	} else if (!strcmp(k, "pin")) {
		memcpy(M.pio_in, &v, 8);
	} else if (!strcmp(k, "fifo")) {
		M.fifo_in[0] = v;
	} else if (s) {
		const char *f = k + 3;

		if (!strcmp(f, "base"))
			s->base = v;
		else if (!strcmp(f, "limit"))
			s->limit = v;
		else if (!strcmp(f, "type"))
			s->type = v;
		else if (!strcmp(f, "db"))
			s->db = v;
		else if (!strcmp(f, "l"))
			s->l = v;
		else if (!strcmp(f, "dpl"))
			s->dpl = v;
		else if (!strcmp(f, "present"))
			s->present = v;
		else if (!strcmp(f, "unusable"))
			s->unusable = v;
		else if (!strcmp(f, "sel"))
			s->selector = v;
		else
			goto bad;
	} else {
		goto bad;
	}
	return;
bad:
	TH_LOG("bad 'before' key %s", k);
	th_fail_now();
}

struct expect {
	bool regs_set[X86EMUL_NR_REGS];
	u64 regs[X86EMUL_NR_REGS];
	bool fl_set, len_set, rep, fail, exc_set, ec_set, noec, cr2_set;
	u64 fl, len, exc, ec, cr2;
	/* checks evaluated afterwards */
	struct { const char *k; u64 idx, v; } chk[16];
	int nchk;
};

static void parse_after(const char *k, u64 idx, u64 v, void *arg)
{
	struct expect *x = arg;
	int r = reg_index(k);

	if (r >= 0) {
		x->regs_set[r] = true;
		x->regs[r] = v;
	} else if (!strcmp(k, "fl")) {
		x->fl_set = true;
		x->fl = v;
	} else if (!strcmp(k, "len")) {
		x->len_set = true;
		x->len = v;
	} else if (!strcmp(k, "rep")) {
		x->rep = v;
	} else if (!strcmp(k, "fail")) {
		x->fail = true;
	} else if (!strcmp(k, "exc")) {
		x->exc_set = true;
		x->exc = v;
	} else if (!strcmp(k, "ec")) {
		x->ec_set = true;
		x->ec = v;
	} else if (!strcmp(k, "noec")) {
		x->noec = true;
	} else if (!strcmp(k, "cr2")) {
		x->cr2_set = true;
		x->cr2 = v;
	} else {
		if (x->nchk == 16) {
			TH_LOG("too many checks");
			th_fail_now();
		}
		x->chk[x->nchk].k = k[0] == 'm' ? (k[1] == '8' ? "m8" :
				    k[1] == '1' ? "m16" : k[1] == '3' ? "m32" :
				    "m64") : strdup(k);
		x->chk[x->nchk].idx = idx;
		x->chk[x->nchk].v = v;
		x->nchk++;
	}
}

static int hex_bytes(const char *hex, u8 *out)
{
	int n = 0;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		char byte[3] = { hex[0], hex[1], 0 };

		out[n++] = strtoul(byte, NULL, 16);
		hex += 2;
	}
	return n;
}

/* Put the instruction bytes where the guest fetches them (if mapped). */
static void place_code(const u8 *code, int n)
{
	bool lm = (M.sregs.efer & EFER_LMA) && M.sregs.cs.l;
	struct x86_walk_env env = {
		.cr0 = M.sregs.cr0, .cr3 = M.sregs.cr3, .cr4 = M.sregs.cr4,
		.efer = M.sregs.efer, .maxphyaddr = 48, .gbpages = true,
		.read_pte = read_pte, .cmpxchg_pte = cmpxchg_pte,
	};
	struct x86_walk_result res;
	struct x86_exception ex;
	int i;

	for (i = 0; i < n; i++) {
		u64 la = M.regs[X86EMUL_REG_RIP] + i;

		if (!lm)
			la = (M.sregs.cs.base + la) & 0xffffffffULL;
		if (x86_walk(&env, la, PFERR_FETCH_MASK | X86_WALK_NO_AD, &res, &ex) == X86_WALK_OK &&
		    res.gpa < RAM_SIZE && !is_mmio(res.gpa))
			M.ram[res.gpa] = code[i];
	}
}

static void set_up(const struct tcase *t, int io)
{
	u8 code[32];
	int n;

	reset_machine(t->mode, io);
	n = hex_bytes(t->code, code);
	parse_kv(t->before, apply_before, NULL);
	place_code(code, n);
	if (lazy_init)
		init_lazy();
	else
		x86_emulate_init(&M.ctxt, &ops, &M, M.regs, M.rflags, &M.sregs);
}

static const char *const io_names[] = { "sync", "exit", "exit-all" };

/* Run one case in one I/O mode; false (with a log) if it failed. */
static bool run_case(const struct tcase *t, int io)
{
	unsigned long before[X86EMUL_NR_REGS];
	struct expect x = { 0 };
	u64 rflags0, rip_mask;
	bool ok = true;
	int i, r;

	set_up(t, io);
	memcpy(before, M.regs, sizeof(before));
	rflags0 = M.rflags;
	parse_kv(t->after, parse_after, &x);

	r = step();

#define BAD(fmt, ...) do {						\
		TH_LOG("%s [%s, %s]: " fmt, t->name, mode_names[t->mode], \
		       io_names[io], ##__VA_ARGS__);			\
		ok = false;						\
	} while (0)

	if (x.fail) {
		if (r != X86EMUL_UNHANDLEABLE)
			BAD("result %d, expected UNHANDLEABLE", r);
	} else if (x.exc_set) {
		if (r != X86EMUL_PROPAGATE_FAULT) {
			BAD("result %d, expected exception %llu", r,
			    (unsigned long long)x.exc);
		} else {
			struct x86_exception *e = &M.ctxt.exception;

			if (e->vector != x.exc)
				BAD("vector %u, expected %llu", e->vector,
				    (unsigned long long)x.exc);
			if (x.ec_set && (!e->has_error_code ||
					 e->error_code != x.ec))
				BAD("error code %d/%#x, expected %#llx",
				    e->has_error_code, e->error_code,
				    (unsigned long long)x.ec);
			if (x.noec && e->has_error_code)
				BAD("unexpected error code %#x", e->error_code);
			if (x.cr2_set && e->address != x.cr2)
				BAD("address %#llx, expected %#llx",
				    (unsigned long long)e->address,
				    (unsigned long long)x.cr2);
		}
	} else if (r != X86EMUL_CONTINUE) {
		BAD("result %d (exception %u/%#x)", r,
		    M.ctxt.exception.vector, M.ctxt.exception.error_code);
		return false;
	}

	/* Registers: as expected, else unchanged. */
	rip_mask = M.ctxt.mode == X86EMUL_MODE_PROT64 ? ~0ULL :
		   M.ctxt.mode == X86EMUL_MODE_PROT32 ? 0xffffffffULL :
		   M.sregs.cs.db ? 0xffffffffULL : 0xffffULL;
	if (x.len_set)
		x.regs[X86EMUL_REG_RIP] =
			(before[X86EMUL_REG_RIP] + x.len) & rip_mask;
	else if (!x.regs_set[X86EMUL_REG_RIP])
		x.regs[X86EMUL_REG_RIP] = before[X86EMUL_REG_RIP];
	if (x.len_set && !x.rep)
		x.regs_set[X86EMUL_REG_RIP] = true;
	if (!x.fail && !x.exc_set && !x.len_set && !x.rep &&
	    !x.regs_set[X86EMUL_REG_RIP])
		BAD("case gives neither len nor rep");
	for (i = 0; i < X86EMUL_NR_REGS; i++) {
		u64 want = x.regs_set[i] ? x.regs[i] : before[i];

		if (r != X86EMUL_CONTINUE)
			want = before[i];
		if (M.regs[i] != want)
			BAD("%s = %#lx, expected %#llx",
			    i < 16 ? reg_names[i] : "rip", M.regs[i],
			    (unsigned long long)want);
	}
	if (r == X86EMUL_CONTINUE) {
		u64 want = x.fl_set ? x.fl : rflags0;

		if (M.ctxt.rflags != want)
			BAD("rflags = %#lx, expected %#llx", M.ctxt.rflags,
			    (unsigned long long)want);
		if (M.ctxt.rep_more != x.rep)
			BAD("rep_more = %d, expected %d", M.ctxt.rep_more,
			    x.rep);
	} else if (M.ctxt.rflags != rflags0) {
		BAD("rflags changed by a failed step");
	}

	for (i = 0; i < x.nchk; i++) {
		const char *k = x.chk[i].k;
		u64 v = x.chk[i].v, got;

		if (k[0] == 'm') {
			got = peek(x.chk[i].idx, atoi(k + 1) / 8);
		} else if (!strcmp(k, "reads")) {
			got = M.mmio_reads;
		} else if (!strcmp(k, "writes")) {
			got = M.mmio_writes;
		} else if (!strcmp(k, "pins")) {
			got = M.pio_ins;
		} else if (!strcmp(k, "pouts")) {
			got = M.pio_outs;
		} else if (!strcmp(k, "port")) {
			got = M.last_port;
		} else if (!strcmp(k, "pout")) {
			got = 0;
			memcpy(&got, M.pio_out, 8);
		} else if (!strcmp(k, "fifo_out")) {
			got = M.fifo_out[0];
		} else if (!strcmp(k, "cr0set")) {
			got = M.cr0_set;
		} else if (!strcmp(k, "cr0loads")) {
			got = M.cr0_loads;
		} else {
			BAD("bad 'after' key %s", k);
			continue;
		}
		if (got != v)
			BAD("%s[%#llx] = %#llx, expected %#llx", k,
			    (unsigned long long)x.chk[i].idx,
			    (unsigned long long)got, (unsigned long long)v);
	}
#undef BAD
	return ok;
}

static void run_table(const struct tcase *t, int n)
{
	int i, io, bad = 0;

	for (i = 0; i < n; i++)
		for (io = IO_SYNC; io <= IO_EXIT_ALL; io++)
			bad += !run_case(&t[i], io);
	TH_LOG("%d cases x 3 I/O models, %d failed", n, bad);
	ASSERT_EQ(bad, 0);
}

#define RUN_TABLE(t) run_table(t, sizeof(t) / sizeof(t[0]))

/* ---- MOV ---------------------------------------------------------------- */

#define R64 "rax=0x1122334455667788 rbx=0xa0000"
#define M64 "rax=0x1122334455667788 rbx=0xa0000 m64[0xa0000]=0x8877665544332211"

static const struct tcase mov_cases[] = {
	{ "mov [rbx],al", M_L64, "88 03", R64, "m64[0xa0000]=0x88 len=2 writes=1 reads=0" },
	{ "mov [rbx],ax", M_L64, "66 89 03", R64, "m64[0xa0000]=0x7788 len=3 writes=1" },
	{ "mov [rbx],eax", M_L64, "89 03", R64, "m64[0xa0000]=0x55667788 len=2 writes=1" },
	{ "mov [rbx],rax", M_L64, "48 89 03", R64, "m64[0xa0000]=0x1122334455667788 len=3 writes=1" },
	{ "mov al,[rbx]", M_L64, "8a 03", M64, "rax=0x1122334455667711 len=2 reads=1 writes=0" },
	{ "mov ax,[rbx]", M_L64, "66 8b 03", M64, "rax=0x1122334455662211 len=3 reads=1" },
	{ "mov eax,[rbx]", M_L64, "8b 03", M64, "rax=0x44332211 len=2 reads=1" },
	{ "mov rax,[rbx]", M_L64, "48 8b 03", M64, "rax=0x8877665544332211 len=3 reads=1" },
	{ "mov [rbx],ah", M_L64, "88 23", R64, "m64[0xa0000]=0x77 len=2" },
	{ "mov [rbx],spl", M_L64, "40 88 23", R64 " rsp=0x1234", "m64[0xa0000]=0x34 len=3" },
	{ "mov [rbx],r8b", M_L64, "44 88 03", R64 " r8=0x9876", "m64[0xa0000]=0x76 len=3" },
	{ "mov [rbx],r15w", M_L64, "66 44 89 3b", R64 " r15=0x9876", "m64[0xa0000]=0x9876 len=4" },
	{ "mov bh,[rbx]", M_L64, "8a 3b", M64, "rbx=0xa1100 len=2" },
	{ "mov dil,[rbx]", M_L64, "40 8a 3b", M64 " rdi=-1", "rdi=0xffffffffffffff11 len=3" },
	{ "mov r15,[rbx]", M_L64, "4c 8b 3b", M64, "r15=0x8877665544332211 len=3" },
	{ "mov eax,[r15]", M_L64, "41 8b 07", "rax=-1 r15=0xa0000 m32[0xa0000]=0x80000001", "rax=0x80000001 len=3" },
	{ "mov r9w,[r10]", M_L64, "66 45 8b 0a", "r9=-1 r10=0xa0000 m16[0xa0000]=0x1234", "r9=0xffffffffffff1234 len=4" },
	{ "mov byte [rbx],0x5a", M_L64, "c6 03 5a", R64, "m64[0xa0000]=0x5a len=3" },
	{ "mov word [rbx],0x1234", M_L64, "66 c7 03 34 12", R64, "m64[0xa0000]=0x1234 len=5" },
	{ "mov dword [rbx],0x12345678", M_L64, "c7 03 78 56 34 12", R64, "m64[0xa0000]=0x12345678 len=6" },
	{ "mov qword [rbx],-16", M_L64, "48 c7 03 f0 ff ff ff", R64, "m64[0xa0000]=0xfffffffffffffff0 len=7" },
	{ "mov qword [rbx],0x7fffffff", M_L64, "48 c7 03 ff ff ff 7f", R64, "m64[0xa0000]=0x7fffffff len=7" },
	{ "mov al,[moffs64]", M_L64, "a0 00 00 0a 00 00 00 00 00", M64, "rax=0x1122334455667711 len=9 reads=1" },
	{ "mov rax,[moffs64]", M_L64, "48 a1 00 00 0a 00 00 00 00 00", M64, "rax=0x8877665544332211 len=10" },
	{ "mov eax,[moffs64]", M_L64, "a1 00 00 0a 00 00 00 00 00", M64, "rax=0x44332211 len=9" },
	{ "mov [moffs64],al", M_L64, "a2 04 00 0a 00 00 00 00 00", R64, "m8[0xa0004]=0x88 len=9" },
	{ "mov [moffs64],ax", M_L64, "66 a3 04 00 0a 00 00 00 00 00", R64, "m32[0xa0004]=0x7788 len=10" },
	{ "mov [moffs64],rax", M_L64, "48 a3 08 00 0a 00 00 00 00 00", R64, "m64[0xa0008]=0x1122334455667788 len=10" },
	{ "mov eax,[moffs32]", M_L64, "67 a1 00 00 0a 00", M64, "rax=0x44332211 len=6" },
	{ "mov al,fs:[moffs64]", M_L64, "64 a0 00 00 00 00 00 00 00 00", M64 " fs.base=0xa0000", "rax=0x1122334455667711 len=10" },
	{ "mov [rbx+rcx*4],eax", M_L64, "89 04 8b", R64 " rcx=4", "m32[0xa0010]=0x55667788 len=3" },
	{ "mov [rbx+rcx*8-8],eax", M_L64, "89 44 cb f8", R64 " rcx=3", "m32[0xa0010]=0x55667788 len=4" },
	{ "mov [rbx+rcx],eax", M_L64, "89 04 0b", R64 " rcx=0x20", "m32[0xa0020]=0x55667788 len=3" },
	{ "mov [rbx+rcx*2],eax", M_L64, "89 04 4b", R64 " rcx=0x20", "m32[0xa0040]=0x55667788 len=3" },
	{ "mov [rbx+0x10],eax", M_L64, "89 43 10", R64, "m32[0xa0010]=0x55667788 len=3" },
	{ "mov [rbx-0x10],eax", M_L64, "89 43 f0", R64 " rbx=0xa0010", "m32[0xa0000]=0x55667788 len=3" },
	{ "mov [rbx+0x100],eax", M_L64, "89 83 00 01 00 00", R64, "m32[0xa0100]=0x55667788 len=6" },
	{ "mov [rbx-0x1000],eax", M_L64, "89 83 00 f0 ff ff", R64 " rbx=0xa1000", "m32[0xa0000]=0x55667788 len=6" },
	{ "mov [rip+0x9effa],eax", M_L64, "89 05 fa ef 09 00", R64, "m32[0xa0000]=0x55667788 len=6" },
	{ "mov dword [rip+0x9eff6],imm32", M_L64, "c7 05 f6 ef 09 00 78 56 34 12", R64, "m32[0xa0000]=0x12345678 len=10" },
	{ "mov byte [rip+0x9eff9],imm8", M_L64, "c6 05 f9 ef 09 00 42", R64, "m32[0xa0000]=0x42 len=7" },
	{ "mov eax,[eip+x] (addr32)", M_L64, "67 8b 05 f9 ef 09 00", M64, "rax=0x44332211 len=7" },
	{ "mov eax,[0xa0000] (SIB, no base)", M_L64, "8b 04 25 00 00 0a 00", M64, "rax=0x44332211 len=7" },
	{ "mov eax,[rcx*4+0xa0000] (SIB, index only)", M_L64, "8b 04 8d 00 00 0a 00", M64 " rcx=1", "rax=0x88776655 len=7" },
	{ "mov [rbx+r12*4],eax", M_L64, "42 89 04 a3", R64 " r12=4", "m32[0xa0010]=0x55667788 len=4" },
	{ "mov [r13+0],eax", M_L64, "41 89 45 00", R64 " r13=0xa0000", "m32[0xa0000]=0x55667788 len=4" },
	{ "mov [r12],eax (SIB)", M_L64, "41 89 04 24", R64 " r12=0xa0000", "m32[0xa0000]=0x55667788 len=4" },
	{ "mov [rsp],eax", M_L64, "89 04 24", R64 " rsp=0xa0000", "m32[0xa0000]=0x55667788 len=3" },
	{ "mov [rbp+8],eax", M_L64, "89 45 08", R64 " rbp=0xa0000", "m32[0xa0008]=0x55667788 len=3" },
	{ "mov fs:[rbx],eax", M_L64, "64 89 03", R64 " rbx=0x9f000 fs.base=0x1000", "m32[0xa0000]=0x55667788 len=3" },
	{ "mov rax,gs:[rbx]", M_L64, "65 48 8b 03", M64 " gs.base=0xffff800000000000", "rax=0x8877665544332211 len=4" },
	{ "ds: override ignored in 64-bit mode", M_L64, "3e 89 03", R64 " ds.base=0x5000", "m32[0xa0000]=0x55667788 len=3" },
	{ "mov [ebx],eax (addr32)", M_L64, "67 89 03", R64 " rbx=0xffffffff000a0000", "m32[0xa0000]=0x55667788 len=3" },
	{ "mov [ebx+0x10],eax wraps at 4G", M_L64, "67 89 43 10", R64 " rbx=0xfffffff8", "m32[0x8]=0x55667788 len=4" },
	{ "REX.W=0 REX", M_L64, "40 89 03", R64, "m64[0xa0000]=0x55667788 len=3" },
	{ "REX before 66 is ignored", M_L64, "48 66 89 03", R64 " m64[0xa0000]=-1", "m64[0xa0000]=0xffffffffffff7788 len=4" },
	{ "66 then REX.W: 64-bit", M_L64, "66 48 89 03", R64, "m64[0xa0000]=0x1122334455667788 len=4" },
	{ "mov [rbx],eax, high window", M_L64, "89 03", R64 " rbx=0xfec00010", "m32[0xfec00010]=0x55667788 len=2" },
	{ "cs: override ignored in 64-bit mode", M_L64, "2e 8b 03", M64, "rax=0x44332211 len=3" },
	{ "mov eax,ebx (registers)", M_L64, "89 d8", "rbx=5 rax=-1", "rax=5 len=2 reads=0 writes=0" },
	{ "mov ah,bl", M_L64, "88 dc", "rbx=0x55 rax=0x1234", "rax=0x5534 len=2" },
	{ "mov r10b,sil", M_L64, "41 88 f2", "rsi=0x77 r10=0x1234", "r10=0x1277 len=3" },
	{ "mov [rbx],eax to RAM", M_L64, "89 03", R64 " rbx=0x2000", "m32[0x2000]=0x55667788 len=2 writes=0" },
	{ "xrelease mov", M_L64, "f3 89 03", R64, "m32[0xa0000]=0x55667788 len=3" },
	{ "mov: every prefix", M_L64, "f3 67 64 66 41 89 03", R64 " r11=0xffffffff0009f000 fs.base=0x1000", "m64[0xa0000]=0x7788 len=7" },
};

/* ---- MOVZX, MOVSX, MOVSXD, MOVNTI ---------------------------------------- */

static const struct tcase movx_cases[] = {
	{ "movzx eax,byte [rbx]", M_L64, "0f b6 03", "rbx=0xa0000 rax=-1 m8[0xa0000]=0x80", "rax=0x80 len=3 reads=1" },
	{ "movzx ax,byte [rbx]", M_L64, "66 0f b6 03", "rbx=0xa0000 rax=-1 m8[0xa0000]=0x80", "rax=0xffffffffffff0080 len=4" },
	{ "movzx rax,byte [rbx]", M_L64, "48 0f b6 03", "rbx=0xa0000 rax=-1 m8[0xa0000]=0x80", "rax=0x80 len=4" },
	{ "movzx eax,word [rbx]", M_L64, "0f b7 03", "rbx=0xa0000 rax=-1 m16[0xa0000]=0x8001", "rax=0x8001 len=3" },
	{ "movzx rax,word [rbx]", M_L64, "48 0f b7 03", "rbx=0xa0000 rax=-1 m16[0xa0000]=0x8001", "rax=0x8001 len=4" },
	{ "movzx ax,word [rbx]", M_L64, "66 0f b7 03", "rbx=0xa0000 rax=-1 m16[0xa0000]=0x8001", "rax=0xffffffffffff8001 len=4" },
	{ "movsx eax,byte [rbx]", M_L64, "0f be 03", "rbx=0xa0000 rax=-1 m8[0xa0000]=0x80", "rax=0xffffff80 len=3" },
	{ "movsx ax,byte [rbx]", M_L64, "66 0f be 03", "rbx=0xa0000 m8[0xa0000]=0x80", "rax=0xff80 len=4" },
	{ "movsx rax,byte [rbx]", M_L64, "48 0f be 03", "rbx=0xa0000 m8[0xa0000]=0x80", "rax=0xffffffffffffff80 len=4" },
	{ "movsx rax,byte [rbx] positive", M_L64, "48 0f be 03", "rbx=0xa0000 rax=-1 m8[0xa0000]=0x7f", "rax=0x7f len=4" },
	{ "movsx eax,word [rbx]", M_L64, "0f bf 03", "rbx=0xa0000 m16[0xa0000]=0x8001", "rax=0xffff8001 len=3" },
	{ "movsx rax,word [rbx]", M_L64, "48 0f bf 03", "rbx=0xa0000 m16[0xa0000]=0x8001", "rax=0xffffffffffff8001 len=4" },
	{ "movsxd rax,dword [rbx]", M_L64, "48 63 03", "rbx=0xa0000 m32[0xa0000]=0x80000000", "rax=0xffffffff80000000 len=3" },
	{ "movsxd eax,dword [rbx]", M_L64, "63 03", "rbx=0xa0000 rax=-1 m32[0xa0000]=0x80000000", "rax=0x80000000 len=2" },
	{ "movsxd r8,dword [rbx]", M_L64, "4c 63 03", "rbx=0xa0000 m32[0xa0000]=0x7fffffff", "r8=0x7fffffff len=3" },
	{ "movzx eax,ah", M_L64, "0f b6 c4", "rax=0x1234", "rax=0x12 len=3" },
	{ "movzx eax,spl", M_L64, "40 0f b6 c4", "rsp=0x1234", "rax=0x34 len=4" },
	{ "movsx r9d,byte [r10]", M_L64, "45 0f be 0a", "r10=0xa0000 r9=-1 m8[0xa0000]=0xfe", "r9=0xfffffffe len=4" },
	{ "movzx ax,byte [bx] (real mode)", M_REAL, "0f b6 07", "rbx=0x10 rax=0xffff0000ffff1234 m8[0xa0010]=0x80", "rax=0xffff0000ffff0080 len=3" },
	{ "movsx eax,word [ebx] (prot32)", M_P32, "0f bf 03", "rbx=0xa0000 m16[0xa0000]=0x8000", "rax=0xffff8000 len=3" },
	{ "movnti [rbx],eax", M_L64, "0f c3 03", R64, "m64[0xa0000]=0x55667788 len=3" },
	{ "movnti [rbx],rax", M_L64, "48 0f c3 03", R64, "m64[0xa0000]=0x1122334455667788 len=4" },
	{ "movnti [ebx],eax (prot32)", M_P32, "0f c3 03", R64, "m64[0xa0000]=0x55667788 len=3" },
	{ "movnti [bx],eax (real mode: still 32 bits)", M_REAL, "0f c3 07", "rbx=0x10 rax=0x12345678", "m32[0xa0010]=0x12345678 len=3" },
	{ "movnti to a register: #UD", M_L64, "0f c3 c3", R64, "exc=6 noec" },
	{ "66 movnti: not emulated", M_L64, "66 0f c3 03", R64, "fail" },
};

/* ---- Arithmetic and logic ----------------------------------------------- */

#define RB "rbx=0xa0000"
#define ALLF "fl=0x8d7"		/* CF PF AF ZF SF OF set */

static const struct tcase alu_cases[] = {
	{ "add [rbx],eax", M_L64, "01 03", RB " rax=1 m32[0xa0000]=0xffffffff", "m32[0xa0000]=0 fl=0x57 len=2 reads=1 writes=1" },
	{ "add eax,[rbx]", M_L64, "03 03", RB " rax=0x7fffffff m32[0xa0000]=1", "rax=0x80000000 fl=0x896 len=2 reads=1 writes=0" },
	{ "add [rbx],al", M_L64, "00 03", RB " rax=0x1 m8[0xa0000]=0x7f", "m8[0xa0000]=0x80 fl=0x892 len=2" },
	{ "add al,[rbx]", M_L64, "02 03", RB " rax=0x17f m8[0xa0000]=1", "rax=0x180 fl=0x892 len=2" },
	{ "add byte [rbx],1", M_L64, "80 03 01", RB " m8[0xa0000]=0x7f", "m8[0xa0000]=0x80 fl=0x892 len=3" },
	{ "add dword [rbx],-1", M_L64, "83 03 ff", RB " m32[0xa0000]=1", "m32[0xa0000]=0 fl=0x57 len=3" },
	{ "add dword [rbx],0x12345678", M_L64, "81 03 78 56 34 12", RB, "m32[0xa0000]=0x12345678 fl=0x6 len=6" },
	{ "add qword [rbx],-1 (imm32)", M_L64, "48 81 03 ff ff ff ff", RB " m64[0xa0000]=1", "m64[0xa0000]=0 fl=0x57 len=7" },
	{ "add word [rbx],0x8000", M_L64, "66 81 03 00 80", RB " m16[0xa0000]=0x8000", "m32[0xa0000]=0 fl=0x847 len=5" },
	{ "or [rbx],al", M_L64, "08 03", RB " " ALLF " rax=0xf0 m8[0xa0000]=0x0f", "m8[0xa0000]=0xff fl=0x86 len=2" },
	{ "or word [rbx],-128", M_L64, "66 83 0b 80", RB " m16[0xa0000]=0", "m32[0xa0000]=0xff80 fl=0x82 len=4" },
	{ "adc [rbx],eax", M_L64, "11 03", RB " fl=0x3 rax=6 m32[0xa0000]=5", "m32[0xa0000]=12 fl=0x6 len=2" },
	{ "adc r8b,[rbx]", M_L64, "44 12 03", RB " fl=0x3 r8=0x7f m8[0xa0000]=0", "r8=0x80 fl=0x892 len=3" },
	{ "sbb [rbx],eax", M_L64, "19 03", RB " fl=0x3 rax=5 m32[0xa0000]=5", "m32[0xa0000]=0xffffffff fl=0x97 len=2" },
	{ "sbb eax,[rbx]", M_L64, "1b 03", RB " fl=0x2 rax=5 m32[0xa0000]=5", "rax=0 fl=0x46 len=2" },
	{ "and [rbx],eax", M_L64, "21 03", RB " " ALLF " rax=0x0ff0 m32[0xa0000]=0xf0f0", "m32[0xa0000]=0xf0 fl=0x6 len=2" },
	{ "and rax,[rbx]", M_L64, "48 23 03", RB " rax=-1 m64[0xa0000]=0x8000000000000000", "rax=0x8000000000000000 fl=0x86 len=3" },
	{ "sub qword [rbx],1", M_L64, "48 83 2b 01", RB, "m64[0xa0000]=0xffffffffffffffff fl=0x97 len=4" },
	{ "sub spl,[rbx]", M_L64, "40 2a 23", RB " rsp=0x10 m8[0xa0000]=1", "rsp=0xf fl=0x16 len=3" },
	{ "sub ah,[rbx]", M_L64, "2a 23", RB " rax=0x1000 m8[0xa0000]=1", "rax=0xf00 fl=0x16 len=2" },
	{ "xor [rbx],eax", M_L64, "31 03", RB " rax=0xffff m32[0xa0000]=0xffff", "m32[0xa0000]=0 fl=0x46 len=2" },
	{ "xor r11w,[rbx]", M_L64, "66 44 33 1b", RB " r11=0x12345678 m16[0xa0000]=0x00ff", "r11=0x12345687 fl=0x6 len=4" },
	{ "cmp byte [rbx],5", M_L64, "80 3b 05", RB " m8[0xa0000]=5", "fl=0x46 len=3 reads=1 writes=0" },
	{ "cmp [rbx],eax", M_L64, "39 03", RB " rax=2 m32[0xa0000]=1", "fl=0x97 len=2 writes=0" },
	{ "cmp eax,[rbx]", M_L64, "3b 03", RB " rax=2 m32[0xa0000]=1", "fl=0x2 len=2 writes=0" },
	{ "cmp qword [rbx],imm8", M_L64, "48 83 3b 80", RB " m64[0xa0000]=0x8000000000000000", "fl=0x83 len=4 writes=0" },
	{ "test [rbx],al", M_L64, "84 03", RB " rax=0x80 m8[0xa0000]=0x80", "fl=0x82 len=2 writes=0" },
	{ "test [rbx],rax", M_L64, "48 85 03", RB " " ALLF " rax=1 m64[0xa0000]=2", "fl=0x46 len=3 writes=0" },
	{ "test byte [rbx],0x80", M_L64, "f6 03 80", RB " m8[0xa0000]=0x80", "fl=0x82 len=3 writes=0" },
	{ "test dword [rbx],imm32", M_L64, "f7 03 00 00 00 80", RB " m32[0xa0000]=0x80000000", "fl=0x86 len=6 writes=0" },
	{ "test word [rbx],imm16", M_L64, "66 f7 03 00 80", RB " m16[0xa0000]=0x8000", "fl=0x86 len=5 writes=0" },
	{ "test qword [rbx],imm32", M_L64, "48 f7 03 00 00 00 80", RB " m64[0xa0000]=0x8000000000000000", "fl=0x86 len=7 writes=0" },
	{ "not dword [rbx]", M_L64, "f7 13", RB " " ALLF " m32[0xa0000]=0x0f0f0f0f", "m32[0xa0000]=0xf0f0f0f0 len=2" },
	{ "not byte [rbx]", M_L64, "f6 13", RB " m16[0xa0000]=0x1234", "m16[0xa0000]=0x12cb len=2" },
	{ "not qword [rbx]", M_L64, "48 f7 13", RB, "m64[0xa0000]=0xffffffffffffffff len=3" },
	{ "neg dword [rbx]", M_L64, "f7 1b", RB " m32[0xa0000]=1", "m32[0xa0000]=0xffffffff fl=0x97 len=2" },
	{ "neg byte [rbx] 0x80", M_L64, "f6 1b", RB " m8[0xa0000]=0x80", "m8[0xa0000]=0x80 fl=0x883 len=2" },
	{ "neg word [rbx] 0", M_L64, "66 f7 1b", RB " " ALLF, "fl=0x46 len=3" },
	{ "inc byte [rbx]", M_L64, "fe 03", RB " fl=0x3 m8[0xa0000]=0xff", "m8[0xa0000]=0 fl=0x57 len=2" },
	{ "inc word [rbx]", M_L64, "66 ff 03", RB " m16[0xa0000]=0x7fff", "m16[0xa0000]=0x8000 fl=0x896 len=3" },
	{ "inc qword [rbx]", M_L64, "48 ff 03", RB " m64[0xa0000]=0x7fffffffffffffff", "m64[0xa0000]=0x8000000000000000 fl=0x896 len=3" },
	{ "dec dword [rbx]", M_L64, "ff 0b", RB " m32[0xa0000]=0x80000000", "m32[0xa0000]=0x7fffffff fl=0x816 len=2" },
	{ "dec byte [rbx] keeps CF", M_L64, "fe 0b", RB " fl=0x3 m8[0xa0000]=1", "m8[0xa0000]=0 fl=0x47 len=2" },
	{ "add al,imm8", M_L64, "04 01", "rax=0x1ff", "rax=0x100 fl=0x57 len=2" },
	{ "add ax,imm16", M_L64, "66 05 01 00", "rax=0x1ffff", "rax=0x10000 fl=0x57 len=4" },
	{ "add eax,imm32", M_L64, "05 01 00 00 00", "rax=0xffffffff00000001", "rax=2 fl=0x2 len=5" },
	{ "add rax,imm32", M_L64, "48 05 ff ff ff ff", "rax=1", "rax=0 fl=0x57 len=6" },
	{ "sub eax,imm32", M_L64, "2d 01 00 00 00", "rax=0", "rax=0xffffffff fl=0x97 len=5" },
	{ "cmp al,imm8", M_L64, "3c 80", "rax=0x7f", "fl=0x887 len=2" },
	{ "test al,imm8", M_L64, "a8 01", "rax=1 " ALLF, "fl=0x2 len=2" },
	{ "test eax,imm32", M_L64, "a9 00 00 00 80", "rax=0x80000000", "fl=0x86 len=5" },
	{ "add eax,ebx", M_L64, "01 d8", "rax=1 rbx=2", "rax=3 fl=0x6 len=2" },
	{ "add [ebx],byte 1 with 82 (prot32)", M_P32, "82 03 01", RB, "m8[0xa0000]=1 fl=0x2 len=3" },
	{ "82 in 64-bit mode: not emulated", M_L64, "82 03 01", RB, "fail" },
	{ "sub [bx],ax (real mode)", M_REAL, "29 07", "rbx=0x10 rax=1 m16[0xa0010]=0", "m16[0xa0010]=0xffff fl=0x97 len=2" },
	{ "add [ebx],eax (prot16, 66 67)", M_P16, "66 67 01 03", "rbx=0x10 rax=0x7fffffff m32[0xa0010]=1", "m32[0xa0010]=0x80000000 fl=0x896 len=4" },
};

/* ---- LOCK --------------------------------------------------------------- */

static const struct tcase lock_cases[] = {
	{ "lock add [rbx],eax", M_L64, "f0 01 03", RB " rax=1", "m32[0xa0000]=1 fl=0x2 len=3" },
	{ "lock or [rbx],imm8", M_L64, "f0 83 0b 01", RB, "m32[0xa0000]=1 fl=0x2 len=4" },
	{ "lock adc byte [rbx],imm8", M_L64, "f0 80 13 01", RB, "m32[0xa0000]=1 fl=0x2 len=4" },
	{ "lock sub word [rbx],imm16", M_L64, "f0 66 81 2b 01 00", RB, "m32[0xa0000]=0xffff fl=0x97 len=6" },
	{ "lock xchg [rbx],eax", M_L64, "f0 87 03", RB " rax=7", "rax=0 m32[0xa0000]=7 len=3" },
	{ "lock bts [rbx],eax", M_L64, "f0 0f ab 03", RB " rax=1", "m32[0xa0000]=2 len=4" },
	{ "lock bts dword [rbx],imm8", M_L64, "f0 0f ba 2b 01", RB, "m32[0xa0000]=2 len=5" },
	{ "lock btr dword [rbx],imm8", M_L64, "f0 0f ba 33 01", RB " m32[0xa0000]=3", "m32[0xa0000]=1 fl=0x3 len=5" },
	{ "lock btc [rbx],eax", M_L64, "f0 0f bb 03", RB " rax=0", "m32[0xa0000]=1 len=4" },
	{ "lock not byte [rbx]", M_L64, "f0 f6 13", RB, "m32[0xa0000]=0xff len=3" },
	{ "lock neg dword [rbx]", M_L64, "f0 f7 1b", RB " m32[0xa0000]=1", "m32[0xa0000]=0xffffffff fl=0x97 len=3" },
	{ "lock inc dword [rbx]", M_L64, "f0 ff 03", RB, "m32[0xa0000]=1 fl=0x2 len=3" },
	{ "lock dec byte [rbx]", M_L64, "f0 fe 0b", RB " m8[0xa0000]=2", "m8[0xa0000]=1 fl=0x2 len=3" },
	{ "lock sbb [bx],ax (real mode)", M_REAL, "f0 19 07", "rbx=0x10 rax=1", "m16[0xa0010]=0xffff fl=0x97 len=3" },
	{ "lock and [ebx],eax (prot32)", M_P32, "f0 21 03", RB " rax=1 m32[0xa0000]=3", "m32[0xa0000]=1 fl=0x2 len=3" },
	{ "lock add eax,ebx: #UD", M_L64, "f0 01 d8", RB, "exc=6 noec" },
	{ "lock add eax,[rbx]: #UD", M_L64, "f0 03 03", RB, "exc=6 noec" },
	{ "lock mov [rbx],eax: #UD", M_L64, "f0 89 03", RB, "exc=6 noec writes=0" },
	{ "lock mov eax,[rbx]: #UD", M_L64, "f0 8b 03", RB, "exc=6 noec reads=0" },
	{ "lock cmp [rbx],eax: #UD", M_L64, "f0 39 03", RB, "exc=6 noec" },
	{ "lock cmp byte [rbx],1: #UD", M_L64, "f0 80 3b 01", RB, "exc=6 noec" },
	{ "lock test [rbx],eax: #UD", M_L64, "f0 85 03", RB, "exc=6 noec" },
	{ "lock test byte [rbx],1: #UD", M_L64, "f0 f6 03 01", RB, "exc=6 noec" },
	{ "lock bt [rbx],eax: #UD", M_L64, "f0 0f a3 03", RB, "exc=6 noec" },
	{ "lock bt dword [rbx],1: #UD", M_L64, "f0 0f ba 23 01", RB, "exc=6 noec" },
	{ "lock movzx: #UD", M_L64, "f0 0f b6 03", RB, "exc=6 noec" },
	{ "lock movsb: #UD", M_L64, "f0 a4", RB, "exc=6 noec" },
	{ "lock stosd: #UD", M_L64, "f0 ab", RB, "exc=6 noec" },
	{ "lock inc eax: #UD", M_L64, "f0 ff c0", RB, "exc=6 noec" },
	{ "lock xchg eax,ebx: #UD", M_L64, "f0 87 d8", RB, "exc=6 noec" },
	{ "lock add al,imm8: #UD", M_L64, "f0 04 01", RB, "exc=6 noec" },
	{ "lock mov [bx],ax (real mode): #UD, no error code", M_REAL, "f0 89 07", "rbx=0x10", "exc=6 noec" },
	{ "lock cmpxchg: not emulated", M_L64, "f0 0f b1 03", RB, "fail" },
};

/* ---- XCHG and BT -------------------------------------------------------- */

static const struct tcase xchg_bt_cases[] = {
	{ "xchg [rbx],eax", M_L64, "87 03", RB " rax=0xffffffff00001111 m32[0xa0000]=0x2222", "rax=0x2222 m32[0xa0000]=0x1111 len=2 reads=1 writes=1" },
	{ "xchg [rbx],ah", M_L64, "86 23", RB " rax=0x1234 m8[0xa0000]=0x56", "rax=0x5634 m8[0xa0000]=0x12 len=2" },
	{ "xchg [rbx],rax", M_L64, "48 87 03", RB " rax=1 m64[0xa0000]=0x8000000000000000", "rax=0x8000000000000000 m64[0xa0000]=1 len=3" },
	{ "xchg [rbx],r10w", M_L64, "66 44 87 13", RB " r10=0x11112222 m16[0xa0000]=0x3333", "r10=0x11113333 m16[0xa0000]=0x2222 len=4" },
	{ "xchg eax,ebx", M_L64, "87 d8", "rax=1 rbx=2", "rax=2 rbx=1 len=2" },
	{ "xchg [bx],al (real mode)", M_REAL, "86 07", "rbx=0x10 rax=0x12 m8[0xa0010]=0x34", "rax=0x34 m8[0xa0010]=0x12 len=2" },
	{ "bt [rbx],eax: bit 3", M_L64, "0f a3 03", RB " rax=3 m32[0xa0000]=8", "fl=0x3 len=3 reads=1 writes=0" },
	{ "bt [rbx],eax: bit 35 is in the next dword", M_L64, "0f a3 03", RB " rax=35 m32[0xa0004]=8", "fl=0x3 len=3" },
	{ "bt [rbx],eax: bit -1 is in the previous dword", M_L64, "0f a3 03", RB " rbx=0xa0010 rax=0xffffffff m32[0xa000c]=0x80000000", "fl=0x3 len=3" },
	{ "bt [rbx],eax: clear bit", M_L64, "0f a3 03", RB " fl=0x3 rax=0", "fl=0x2 len=3" },
	{ "bt word [rbx],ax: bit 17", M_L64, "66 0f a3 03", RB " rax=17 m16[0xa0002]=2", "fl=0x3 len=4" },
	{ "bt word [rbx],ax: bit -16", M_L64, "66 0f a3 03", RB " rbx=0xa0010 rax=0xfff0 m16[0xa000e]=1", "fl=0x3 len=4" },
	{ "bt qword [rbx],rax: bit 64", M_L64, "48 0f a3 03", RB " rax=64 m64[0xa0008]=1", "fl=0x3 len=4" },
	{ "bt qword [rbx],rax: bit -65", M_L64, "48 0f a3 03", RB " rbx=0xa0020 rax=-65 m64[0xa0010]=0x8000000000000000", "fl=0x3 len=4" },
	{ "bts [rbx],eax", M_L64, "0f ab 03", RB " rax=4", "m32[0xa0000]=0x10 fl=0x2 len=3 writes=1" },
	{ "bts [rbx],eax: bit 36", M_L64, "0f ab 03", RB " rax=36", "m32[0xa0004]=0x10 fl=0x2 len=3" },
	{ "btr [rbx],eax", M_L64, "0f b3 03", RB " rax=4 m32[0xa0000]=0x11", "m32[0xa0000]=1 fl=0x3 len=3" },
	{ "btc [rbx],eax", M_L64, "0f bb 03", RB " rax=0 m32[0xa0000]=1", "m32[0xa0000]=0 fl=0x3 len=3" },
	{ "btc [rbx],eax: set", M_L64, "0f bb 03", RB " rax=31", "m32[0xa0000]=0x80000000 fl=0x2 len=3" },
	{ "bt dword [rbx],3", M_L64, "0f ba 23 03", RB " m32[0xa0000]=8", "fl=0x3 len=4" },
	{ "bts dword [rbx],35: the immediate wraps", M_L64, "0f ba 2b 23", RB, "m32[0xa0000]=8 m32[0xa0004]=0 fl=0x2 len=4" },
	{ "btr qword [rbx],63", M_L64, "48 0f ba 33 3f", RB " m64[0xa0000]=-1", "m64[0xa0000]=0x7fffffffffffffff fl=0x3 len=5" },
	{ "btc word [rbx],15", M_L64, "66 0f ba 3b 0f", RB, "m16[0xa0000]=0x8000 fl=0x2 len=5" },
	{ "bt eax,ebx", M_L64, "0f a3 d8", "rax=0x10 rbx=36", "fl=0x3 len=3" },
	{ "bts r9,rax", M_L64, "49 0f ab c1", "rax=65 r9=0", "r9=2 fl=0x2 len=4" },
	{ "bt dword [rbx],imm /0: not emulated", M_L64, "0f ba 03 01", RB, "fail" },
	{ "bt [bx],ax: bit 19 (real mode)", M_REAL, "0f a3 07", "rbx=0x10 rax=19 m16[0xa0012]=8", "fl=0x3 len=3" },
	{ "bt [bx],ax: bit -1 wraps the 16-bit offset (real mode)", M_REAL, "0f a3 07", "rbx=0 rax=0xffff m16[0xafffe]=0x8000", "fl=0x3 len=3" },
};

/* ---- String instructions ------------------------------------------------ */

#define MOVS "rsi=0x2000 rdi=0xa0000 m64[0x2000]=0x8877665544332211"

static const struct tcase string_cases[] = {
	{ "movsb", M_L64, "a4", MOVS, "m64[0xa0000]=0x11 rsi=0x2001 rdi=0xa0001 len=1 writes=1 reads=0" },
	{ "movsw", M_L64, "66 a5", MOVS, "m64[0xa0000]=0x2211 rsi=0x2002 rdi=0xa0002 len=2" },
	{ "movsd", M_L64, "a5", MOVS, "m64[0xa0000]=0x44332211 rsi=0x2004 rdi=0xa0004 len=1" },
	{ "movsq", M_L64, "48 a5", MOVS, "m64[0xa0000]=0x8877665544332211 rsi=0x2008 rdi=0xa0008 len=2" },
	{ "movsd, DF=1", M_L64, "a5", MOVS " fl=0x402", "m64[0xa0000]=0x44332211 rsi=0x1ffc rdi=0x9fffc len=1" },
	{ "movsq from MMIO to RAM", M_L64, "48 a5", "rsi=0xa0000 rdi=0x2000 m64[0xa0000]=0x1234", "m64[0x2000]=0x1234 rsi=0xa0008 rdi=0x2008 len=2 reads=1 writes=0" },
	{ "movsd from MMIO to MMIO", M_L64, "a5", "rsi=0xa0000 rdi=0xa0100 m32[0xa0000]=0x1234", "m32[0xa0100]=0x1234 rsi=0xa0004 rdi=0xa0104 len=1 reads=1 writes=1" },
	{ "rep movsb: first of 3", M_L64, "f3 a4", MOVS " rcx=3", "m8[0xa0000]=0x11 rcx=2 rsi=0x2001 rdi=0xa0001 rep=1" },
	{ "rep movsb: the last", M_L64, "f3 a4", MOVS " rcx=1", "m8[0xa0000]=0x11 rcx=0 rsi=0x2001 rdi=0xa0001 len=2" },
	{ "rep movsb: rcx=0", M_L64, "f3 a4", MOVS " rcx=0", "len=2 reads=0 writes=0" },
	{ "repne movsb is rep movsb", M_L64, "f2 a4", MOVS " rcx=2", "m8[0xa0000]=0x11 rcx=1 rsi=0x2001 rdi=0xa0001 rep=1" },
	{ "rep movsd, DF=1", M_L64, "f3 a5", MOVS " rcx=5 fl=0x402", "m32[0xa0000]=0x44332211 rcx=4 rsi=0x1ffc rdi=0x9fffc rep=1" },
	{ "rep movsd addr32: 32-bit registers", M_L64, "67 f3 a5", "rcx=0xffffffff00000001 rsi=0xffffffff00002000 rdi=0xffffffff000a0000 m32[0x2000]=7", "m32[0xa0000]=7 rcx=0 rsi=0x2004 rdi=0xa0004 len=3" },
	{ "rep movsb addr32: ecx=0", M_L64, "67 f3 a4", MOVS " rcx=0x100000000", "len=3 writes=0" },
	{ "movsb fs:", M_L64, "64 a4", "rsi=0x1000 rdi=0xa0000 fs.base=0x1000 m8[0x2000]=0x5a", "m8[0xa0000]=0x5a rsi=0x1001 rdi=0xa0001 len=2" },
	{ "movsb es: on the source (prot32)", M_P32, "26 a4", "rsi=0x2000 rdi=0 ds.base=0x100 es.base=0xa0000 m8[0xa2000]=0x77", "m8[0xa0000]=0x77 rsi=0x2001 rdi=1 len=2 reads=1" },
	{ "movsb ds: by default (prot32)", M_P32, "a4", "rsi=0x2000 rdi=0 ds.base=0x100 es.base=0xa0000 m8[0x2100]=0x66", "m8[0xa0000]=0x66 rsi=0x2001 rdi=1 len=1 reads=0" },
	{ "movsb: 16-bit si wraps (real mode)", M_REAL, "a4", "rsi=0x1ffff rdi=0x10 m8[0xaffff]=0x34", "m8[0xa0010]=0x34 rsi=0x10000 rdi=0x11 len=1" },
	{ "movsw: a word at si=0xffff: #GP (real mode)", M_REAL, "a5", "rsi=0xffff rdi=0x10", "exc=13 noec" },
	{ "movsb: DF=1 wraps si (real mode)", M_REAL, "a4", "rsi=0x10000 rdi=0x10 fl=0x402 m8[0xa0000]=0x42", "m8[0xa0010]=0x42 rsi=0x1ffff rdi=0xf len=1" },
	{ "rep movsb: cx (real mode)", M_REAL, "f3 a4", "rcx=0x10002 rsi=0 rdi=0x10", "rcx=0x10001 rsi=1 rdi=0x11 rep=1" },
	{ "rep movsb: cx=0 (real mode)", M_REAL, "f3 a4", "rcx=0x10000 rsi=0 rdi=0x10", "len=2" },
	{ "rep movsd: 66 67 (real mode)", M_REAL, "66 67 f3 a5", "ds.limit=0xffffffff es.limit=0xffffffff rcx=2 rsi=0x10000 rdi=0x20000 m32[0xb0000]=9", "m32[0xc0000]=9 rcx=1 rsi=0x10004 rdi=0x20004 rep=1 reads=1" },
	{ "stosb", M_L64, "aa", "rax=0x1122 rdi=0xa0000", "m16[0xa0000]=0x22 rdi=0xa0001 len=1 writes=1" },
	{ "stosw", M_L64, "66 ab", "rax=0x11223344 rdi=0xa0000", "m32[0xa0000]=0x3344 rdi=0xa0002 len=2" },
	{ "stosd", M_L64, "ab", "rax=0x1122334455667788 rdi=0xa0000", "m64[0xa0000]=0x55667788 rdi=0xa0004 len=1" },
	{ "stosq", M_L64, "48 ab", "rax=0x1122334455667788 rdi=0xa0000", "m64[0xa0000]=0x1122334455667788 rdi=0xa0008 len=2" },
	{ "rep stosd", M_L64, "f3 ab", "rax=1 rdi=0xa0000 rcx=2", "m32[0xa0000]=1 rdi=0xa0004 rcx=1 rep=1" },
	{ "stosb ignores segment overrides", M_P32, "64 aa", "rax=0x42 rdi=0x10 es.base=0xa0000 fs.base=0x3000", "m8[0xa0010]=0x42 rdi=0x11 len=2" },
	{ "stosw (prot16)", M_P16, "ab", "rax=0xabcd rdi=0x20", "m16[0xa0020]=0xabcd rdi=0x22 len=1" },
	{ "lodsb", M_L64, "ac", "rax=-1 rsi=0xa0000 m8[0xa0000]=0x99", "rax=0xffffffffffffff99 rsi=0xa0001 len=1 reads=1" },
	{ "lodsd", M_L64, "ad", "rax=-1 rsi=0xa0000 m32[0xa0000]=0x99", "rax=0x99 rsi=0xa0004 len=1" },
	{ "lodsq", M_L64, "48 ad", "rsi=0xa0000 m64[0xa0000]=-2", "rax=0xfffffffffffffffe rsi=0xa0008 len=2" },
	{ "rep lodsw", M_L64, "f3 66 ad", "rcx=2 rsi=0xa0000 m16[0xa0000]=0x55", "rax=0x55 rcx=1 rsi=0xa0002 rep=1" },
	{ "insb", M_L64, "6c", "rdx=0x60 rdi=0xa0000 pin=0x44332211", "m32[0xa0000]=0x11 rdi=0xa0001 len=1 pins=1 port=0x60 writes=1" },
	{ "insw", M_L64, "66 6d", "rdx=0x1060 rdi=0xa0000 pin=0x44332211", "m32[0xa0000]=0x2211 rdi=0xa0002 len=2 pins=1 port=0x1060" },
	{ "insd", M_L64, "6d", "rdx=0xffff0060 rdi=0xa0000 pin=0x44332211", "m32[0xa0000]=0x44332211 rdi=0xa0004 len=1 pins=1 port=0x60" },
	{ "insd with REX.W: still 4 bytes", M_L64, "48 6d", "rdx=0x60 rdi=0xa0000 pin=0x44332211", "m64[0xa0000]=0x44332211 rdi=0xa0004 len=2" },
	{ "insb to RAM", M_L64, "6c", "rdx=0x60 rdi=0x2000 pin=0x11", "m8[0x2000]=0x11 rdi=0x2001 len=1 writes=0 pins=1" },
	{ "rep insw, DF=1", M_L64, "66 f3 6d", "rcx=2 rdx=0x60 rdi=0xa0010 pin=0x44332211 fl=0x402", "m16[0xa0010]=0x2211 rcx=1 rdi=0xa000e rep=1 pins=1" },
	{ "outsb", M_L64, "6e", "rdx=0x3f8 rsi=0x2000 m8[0x2000]=0x42", "pout=0x42 port=0x3f8 pouts=1 rsi=0x2001 len=1" },
	{ "outsw", M_L64, "66 6f", "rdx=0x3f8 rsi=0x2000 m16[0x2000]=0x4243", "pout=0x4243 pouts=1 rsi=0x2002 len=2" },
	{ "outsd from MMIO", M_L64, "6f", "rdx=0x3f8 rsi=0xa0000 m32[0xa0000]=0xdeadbeef", "pout=0xdeadbeef pouts=1 rsi=0xa0004 len=1 reads=1" },
	{ "rep outsb", M_L64, "f3 6e", "rcx=3 rdx=0x3f8 rsi=0x2000 m8[0x2000]=0x42", "pout=0x42 pouts=1 rcx=2 rsi=0x2001 rep=1" },
	{ "outsb fs:", M_L64, "64 6e", "rdx=0x3f8 rsi=0x1000 fs.base=0x1000 m8[0x2000]=0x42", "pout=0x42 rsi=0x1001 len=2" },
	{ "insb at CPL 3, port allowed by the TSS", M_P32, "6c", "cpl=3 rdx=0x60 rdi=0xa0000 pin=0x11", "m8[0xa0000]=0x11 rdi=0xa0001 len=1 pins=1" },
	{ "insb at CPL 3, port denied: #GP", M_P32, "6c", "cpl=3 rdx=0x80 rdi=0xa0000", "exc=13 ec=0 pins=0 writes=0" },
	{ "outsb at CPL 3, port denied: #GP", M_L64, "6e", "cpl=3 rdx=0x80 rsi=0x2000", "exc=13 ec=0 pouts=0" },
	{ "outsw over a denied port: #GP", M_P32, "66 6f", "cpl=3 rdx=0x7f rsi=0x2000", "exc=13 ec=0 pouts=0" },
	{ "outsb at CPL 3 with IOPL 3", M_P32, "6e", "cpl=3 fl=0x3002 rdx=0x80 rsi=0x2000 m8[0x2000]=1", "pout=1 rsi=0x2001 len=1" },
	{ "insb at CPL 0", M_P32, "6c", "rdx=0x80 rdi=0xa0000 pin=0x11", "m8[0xa0000]=0x11 rdi=0xa0001 len=1" },
	{ "insb at CPL 3, 16-bit TSS: #GP", M_P32, "6c", "cpl=3 tr.type=3 rdx=0x60 rdi=0xa0000", "exc=13 ec=0" },
	{ "insb at CPL 3, bitmap past the TSS limit: #GP", M_P32, "6c", "cpl=3 tr.limit=0x70 rdx=0x60 rdi=0xa0000", "exc=13 ec=0" },
	{ "insb at CPL 3, TSS too small: #GP", M_P32, "6c", "cpl=3 tr.limit=0x60 rdx=0x60 rdi=0xa0000", "exc=13 ec=0" },
	{ "insb in vm86 mode, port allowed", M_VM86, "6c", "fl=0x23002 rdx=0x60 rdi=0x10 pin=0x11", "m8[0xa0010]=0x11 rdi=0x11 len=1" },
	{ "insb in vm86 mode, port denied even with IOPL 3", M_VM86, "6c", "fl=0x23002 rdx=0x80 rdi=0x10", "exc=13 ec=0" },
	{ "insb in real mode: no TSS check", M_REAL, "6c", "rdx=0x80 rdi=0x10 pin=0x11", "m8[0xa0010]=0x11 rdi=0x11 len=1" },
	{ "rep insb in real mode", M_REAL, "f3 6c", "rcx=0x10002 rdx=0x60 rdi=0x10 pin=0x11", "m8[0xa0010]=0x11 rcx=0x10001 rdi=0x11 rep=1" },
	{ "insb: destination limit checked before the port is read", M_P32, "6c", "es.limit=0xf rdx=0x60 rdi=0x10", "exc=13 ec=0 pins=0" },
	{ "insd: destination on a read-only segment", M_P32, "6d", "es.type=1 rdx=0x60 rdi=0x10", "exc=13 ec=0 pins=0" },
	{ "rep stosb at the end of the ES limit", M_P32, "f3 aa", "rcx=2 es.limit=0xa0000 rdi=0xa0001", "exc=13 ec=0 writes=0" },
};

/* ---- Modes, segmentation, paging ---------------------------------------- */

/* SMSW and LMSW (CR0 as the context has it, loaded through set_cr0). */
static const struct tcase msw_cases[] = {
	{ "real: smsw [bx] to MMIO stores a word", M_REAL, "0f 01 27", "rbx=0x10 cr0=0x6000001e m32[0xa0010]=0xaaaaaaaa", "m32[0xa0010]=0xaaaa001e len=3 writes=1" },
	{ "64: smsw [rbx] to RAM stores a word", M_L64, "0f 01 23", "rbx=0x2000 m64[0x2000]=-1", "m64[0x2000]=0xffffffffffff0011 len=3" },
	{ "64: smsw [rbx] with REX.W stores a word", M_L64, "48 0f 01 23", "rbx=0x2000 m64[0x2000]=-1", "m64[0x2000]=0xffffffffffff0011 len=4" },
	{ "64: smsw eax stores the whole CR0", M_L64, "0f 01 e0", "rax=-1", "rax=0x80010011 len=3" },
	{ "64: smsw ax keeps the rest of RAX", M_L64, "66 0f 01 e0", "rax=-1", "rax=0xffffffffffff0011 len=4" },
	{ "64: smsw rax stores the whole CR0", M_L64, "48 0f 01 e0", "rax=-1", "rax=0x80010011 len=4" },
	{ "64: smsw [rbx] at CPL 3 with UMIP: #GP", M_L64, "0f 01 23", "cpl=3 cr4=0x820 rbx=0x2000", "exc=13 ec=0 writes=0" },
	{ "real: lmsw [bx] from MMIO sets PE MP EM TS", M_REAL, "0f 01 37", "rbx=0x10 m16[0xa0010]=0xfff0f", "cr0set=0x1f cr0loads=1 len=3 reads=1" },
	{ "p32: lmsw [ebx] cannot clear PE", M_P32, "0f 01 33", "cr0=0x1f rbx=0xa0000 m16[0xa0000]=0", "cr0set=0x11 cr0loads=1 len=3" },
	{ "64: lmsw ax takes its low 4 bits", M_L64, "0f 01 f0", "rax=0xfff6", "cr0set=0x80010017 cr0loads=1 len=3" },
	{ "p32: lmsw at CPL 3: #GP", M_P32, "0f 01 33", "cpl=3 rbx=0xa0000", "exc=13 ec=0 cr0loads=0 reads=0" },
	{ "real: lmsw refused by set_cr0: #GP", M_REAL, "0f 01 37", "rbx=0x10 cr0refuse=1", "exc=13 cr0loads=0" },
	{ "real: lock lmsw: #UD", M_REAL, "f0 0f 01 37", "rbx=0x10", "exc=6 cr0loads=0" },
	{ "64: sgdt is not emulated", M_L64, "0f 01 03", "rbx=0x2000", "fail=1" },
};

static const struct tcase mode_cases[] = {
	{ "real: mov [bx],ax", M_REAL, "89 07", "rbx=0x10 rax=0x1234", "m16[0xa0010]=0x1234 len=2" },
	{ "real: mov [bx+si],al", M_REAL, "88 00", "rbx=0x10 rsi=0x20 rax=0x12", "m8[0xa0030]=0x12 len=2" },
	{ "real: mov [bx+di],al", M_REAL, "88 01", "rbx=0x10 rdi=0x30 rax=0x12", "m8[0xa0040]=0x12 len=2" },
	{ "real: mov [bp+si],al uses SS", M_REAL, "88 02", "rbp=0x10 rsi=0x20 rax=0x12 ss.base=0xb0000", "m8[0xb0030]=0x12 len=2" },
	{ "real: mov [bp+di],al uses SS", M_REAL, "88 03", "rbp=0x10 rdi=0x30 rax=0x12 ss.base=0xb0000", "m8[0xb0040]=0x12 len=2" },
	{ "real: mov [si],al", M_REAL, "88 04", "rsi=0x50 rax=0x12", "m8[0xa0050]=0x12 len=2" },
	{ "real: mov [di],al", M_REAL, "88 05", "rdi=0x60 rax=0x12", "m8[0xa0060]=0x12 len=2" },
	{ "real: mov [0x1234],ax", M_REAL, "89 06 34 12", "rax=0x5678", "m16[0xa1234]=0x5678 len=4" },
	{ "real: mov ax,[bp+si+4] uses SS", M_REAL, "8b 42 04", "rbp=0x10 rsi=0x20 ss.base=0xa0000 m16[0xa0034]=0x5678", "rax=0x5678 len=3" },
	{ "real: mov [bp-2],ax", M_REAL, "89 46 fe", "rbp=0x12 rax=0x77 ss.base=0xb0000", "m16[0xb0010]=0x77 len=3" },
	{ "real: mov [bx+0x1000],ax", M_REAL, "89 87 00 10", "rbx=0x10 rax=0x77", "m16[0xa1010]=0x77 len=4" },
	{ "real: mov [bx+si-1],ax", M_REAL, "89 40 ff", "rbx=0x10 rsi=0x1 rax=0x77", "m16[0xa0010]=0x77 len=3" },
	{ "real: mov [bx],eax (66)", M_REAL, "66 89 07", "rbx=0x10 rax=0x12345678", "m32[0xa0010]=0x12345678 len=3" },
	{ "real: mov [ebx],ax (67) past the limit: #GP", M_REAL, "67 89 03", "rbx=0x12345 rax=0x77", "exc=13 noec" },
	{ "real: mov [ebx],ax (67), unreal DS", M_REAL, "67 89 03", "rbx=0x12345 rax=0x77 ds.limit=0xffffffff", "m16[0xb2345]=0x77 len=3" },
	{ "real: mov [ebx+ecx*2],ax (67 SIB)", M_REAL, "67 89 04 4b", "rbx=0x10 rcx=8 rax=0x77", "m16[0xa0020]=0x77 len=4" },
	{ "real: [bx+0x10] wraps at 64K", M_REAL, "89 47 10", "rbx=0xfff8 rax=0x77", "m16[0xa0008]=0x77 len=3" },
	{ "real: word at 0xffff: #GP", M_REAL, "89 07", "rbx=0xffff rax=0x77", "exc=13 noec writes=0" },
	{ "real: byte at 0xffff", M_REAL, "88 07", "rbx=0xffff rax=0x77", "m8[0xaffff]=0x77 len=2" },
	{ "real: SS limit: #SS", M_REAL, "89 46 00", "rbp=0xffff", "exc=12 noec" },
	{ "real: es:[bx]", M_REAL, "26 89 07", "rbx=0x10 rax=0x77 es.base=0xb0000", "m16[0xb0010]=0x77 len=3" },
	{ "real: cs:[bx] is writable", M_REAL, "2e 89 07", "rbx=0x2000 rax=0x77 cs.base=0", "m16[0x2000]=0x77 len=3" },
	{ "real: ss:[bx]", M_REAL, "36 89 07", "rbx=0x10 rax=0x77 ss.base=0xb0000", "m16[0xb0010]=0x77 len=3" },
	{ "real: fs:[bx]", M_REAL, "64 89 07", "rbx=0x10 rax=0x77 fs.base=0xb0000", "m16[0xb0010]=0x77 len=3" },
	{ "real: gs:[bx]", M_REAL, "65 89 07", "rbx=0x10 rax=0x77 gs.base=0xb0000", "m16[0xb0010]=0x77 len=3" },
	{ "real: ds:[bp] overrides SS", M_REAL, "3e 89 46 00", "rbp=0x10 rax=0x77", "m16[0xa0010]=0x77 len=4" },
	{ "real: mov ax,[moffs16]", M_REAL, "a1 10 00", "m16[0xa0010]=0x4321", "rax=0x4321 len=3" },
	{ "real: mov [moffs32],eax (66 67)", M_REAL, "66 67 a3 10 00 00 00", "rax=0x87654321", "m32[0xa0010]=0x87654321 len=7" },
	{ "real: IP wraps at 64K", M_REAL, "89 07", "rip=0xfffe rbx=0x10 rax=0x77", "m16[0xa0010]=0x77 rip=0" },
	{ "real: instruction past the CS limit: #GP", M_REAL, "89 07", "rip=0xffff rbx=0x10", "exc=13 noec" },
	{ "real: CS.D set: 32-bit defaults", M_REAL, "89 03", "cs.db=1 rbx=0x10 rax=0x12345678", "m32[0xa0010]=0x12345678 len=2" },
	{ "real: CS.D set: 66 gives 16 bits", M_REAL, "66 89 03", "cs.db=1 rbx=0x10 rax=0x12345678", "m32[0xa0010]=0x5678 len=3" },
	{ "vm86: mov [bx],ax", M_VM86, "89 07", "rbx=0x10 rax=0x1234", "m16[0xa0010]=0x1234 len=2" },
	{ "vm86: misaligned with CR0.AM and AC: #AC", M_VM86, "89 07", "cr0=0x40011 fl=0x60002 rbx=0x11", "exc=17 ec=0" },
	{ "vm86: aligned with CR0.AM and AC", M_VM86, "89 07", "cr0=0x40011 fl=0x60002 rbx=0x10 rax=1", "m16[0xa0010]=1 len=2" },
	{ "vm86: misaligned, AC clear", M_VM86, "89 07", "cr0=0x40011 fl=0x20002 rbx=0x11 rax=1", "m16[0xa0011]=1 len=2" },
	{ "vm86: limit: #GP with error code", M_VM86, "89 07", "rbx=0xffff", "exc=13 ec=0" },
	{ "prot16: mov [bx],ax", M_P16, "89 07", "rbx=0x10 rax=0x1234", "m16[0xa0010]=0x1234 len=2" },
	{ "prot16: read-only DS: write #GP(0)", M_P16, "89 07", "ds.type=1 rbx=0x10", "exc=13 ec=0" },
	{ "prot16: read-only DS: read", M_P16, "8b 07", "ds.type=1 rbx=0x10 m16[0xa0010]=5", "rax=5 len=2" },
	{ "prot16: unusable DS: #GP(0)", M_P16, "8b 07", "ds.unusable=1 rbx=0x10", "exc=13 ec=0" },
	{ "prot16: SS not present: #SS(0)", M_P16, "89 46 00", "ss.present=0 rbp=0x10", "exc=12 ec=0" },
	{ "prot16: SS limit: #SS(0)", M_P16, "89 46 00", "ss.limit=0xf rbp=0xf", "exc=12 ec=0" },
	{ "prot16: expand-down, below the limit: #GP", M_P16, "89 07", "ds.type=7 ds.limit=0xfff ds.db=0 rbx=0x800", "exc=13 ec=0" },
	{ "prot16: expand-down, at the limit: #GP", M_P16, "88 07", "ds.type=7 ds.limit=0xfff ds.db=0 rbx=0xfff", "exc=13 ec=0" },
	{ "prot16: expand-down, above the limit", M_P16, "89 07", "ds.type=7 ds.limit=0xfff ds.db=0 rbx=0x2000 rax=9", "m16[0xa2000]=9 len=2" },
	{ "prot16: expand-down, past 64K: #GP", M_P16, "89 07", "ds.type=7 ds.limit=0xfff ds.db=0 rbx=0xffff", "exc=13 ec=0" },
	{ "prot16: expand-down, big", M_P16, "66 67 89 03", "ds.type=7 ds.limit=0xfff ds.db=1 rbx=0xffff rax=9", "m32[0xaffff]=9 len=4" },
	{ "prot16: CS override, write: #GP", M_P16, "2e 89 07", "rbx=0x10", "exc=13 ec=0" },
	{ "prot16: CS override, readable code", M_P16, "2e 8b 07", "rbx=0x2000 m16[0x2000]=0x4444", "rax=0x4444 len=3" },
	{ "prot16: CS override, execute-only: #GP", M_P16, "2e 8b 07", "cs.type=9 rbx=0x2000", "exc=13 ec=0" },
	{ "prot16: DS limit", M_P16, "89 07", "ds.limit=0xf rbx=0xf", "exc=13 ec=0" },
	{ "prot16: DS limit, last byte", M_P16, "89 07", "ds.limit=0xf rbx=0xe rax=3", "m16[0xa000e]=3 len=2" },
	{ "prot16: 66 67 mov [ebx],eax", M_P16, "66 67 89 03", "rbx=0x10 rax=0x12345678", "m32[0xa0010]=0x12345678 len=4" },
	{ "prot16: CS limit on fetch: #GP", M_P16, "89 07", "rip=0xffff", "exc=13 ec=0" },
	{ "prot32: mov [ebx],eax", M_P32, "89 03", "rbx=0xa0000 rax=0x12345678", "m32[0xa0000]=0x12345678 len=2" },
	{ "prot32: mov [ebx],ax", M_P32, "66 89 03", "rbx=0xa0000 rax=0x12345678", "m32[0xa0000]=0x5678 len=3" },
	{ "prot32: mov [bx+si],al (67)", M_P32, "67 88 00", "rbx=0x10 rsi=0x20 rax=0x12 ds.base=0xa0000", "m8[0xa0030]=0x12 len=3" },
	{ "prot32: mov [disp32],eax (not RIP-relative)", M_P32, "89 05 00 00 0a 00", "rax=5", "m32[0xa0000]=5 len=6" },
	{ "prot32: 0x48 is DEC, not REX", M_P32, "48 89 03", "rbx=0xa0000", "fail" },
	{ "prot32: base + offset wraps at 4G", M_P32, "89 03", "ds.base=0xfff00000 rbx=0x1a0000 rax=5", "m32[0xa0000]=5 len=2" },
	{ "prot32: high window", M_P32, "89 03", "rbx=0xfec00000 rax=5", "m32[0xfec00000]=5 len=2" },
	{ "prot32: SS limit: #SS(0)", M_P32, "89 04 24", "ss.limit=0xfff rsp=0x1000", "exc=12 ec=0" },
	{ "prot32: DS limit: #GP(0)", M_P32, "89 03", "ds.limit=0xa0001 rbx=0xa0000", "exc=13 ec=0" },
	{ "prot32: EIP wraps at 4G", M_P32, "89 03", "cs.base=0x2000 rip=0xfffff000 rbx=0xa0000 rax=1", "m32[0xa0000]=1 len=2" },
	{ "prot32+paging: 4 MiB page", M_P32PG, "89 03", "rbx=0xfec00000 rax=5", "m32[0xfec00000]=5 len=2" },
	{ "prot32+paging: CPL 3", M_P32PG, "89 03", "cpl=3 rbx=0xa0000 rax=5", "m32[0xa0000]=5 len=2" },
	{ "prot32+paging: not present: #PF", M_P32PG, "89 03", "m32[0x304400]=0 rbx=0x40000000", "exc=14 ec=2 cr2=0x40000000" },
	{ "pae: 2 MiB page", M_PAE, "89 03", "rbx=0xfec00000 rax=5", "m32[0xfec00000]=5 len=2" },
	{ "pae: PDPTE not present: #PF", M_PAE, "8b 03", "rbx=0x40000000", "exc=14 ec=0 cr2=0x40000000" },
	{ "compat: mov [ebx],eax", M_COMPAT, "89 03", "rbx=0xa0000 rax=5", "m32[0xa0000]=5 len=2" },
	{ "compat: 0x48 is DEC", M_COMPAT, "48 89 03", "rbx=0xa0000", "fail" },
	{ "compat: 16-bit code", M_COMPAT, "89 07", "cs.db=0 ds.base=0xa0000 rbx=0x10 rax=5", "m16[0xa0010]=5 len=2" },
	{ "compat: DS base and limit apply", M_COMPAT, "89 03", "ds.base=0x1000 ds.limit=0xfff rbx=0x1000", "exc=13 ec=0" },
	{ "la57: a 57-bit canonical address", M_L57, "89 03", "rbx=0x8000000a0000 rax=5", "m32[0xa0000]=5 len=2" },
	{ "long64: not canonical: #GP(0)", M_L64, "89 03", "rbx=0x8000000a0000", "exc=13 ec=0" },
	{ "long64: RSP-based, not canonical: #SS(0)", M_L64, "89 04 24", "rsp=0x800000000000", "exc=12 ec=0" },
	{ "long64: RBP-based, not canonical: #SS(0)", M_L64, "89 45 00", "rbp=0x800000000000", "exc=12 ec=0" },
	{ "long64: SS override ignored: #GP(0)", M_L64, "36 89 03", "rbx=0x800000000000", "exc=13 ec=0" },
	{ "long64: DS override ignored on [rbp]: #SS(0)", M_L64, "3e 89 45 00", "rbp=0x800000000000", "exc=12 ec=0" },
	{ "long64: R13-based is not SS", M_L64, "41 89 45 00", "r13=0x800000000000", "exc=13 ec=0" },
	{ "long64: last byte not canonical: #GP(0)", M_L64, "89 03", "rbx=0x7ffffffffffe", "exc=13 ec=0" },
	{ "long64: FS base + offset not canonical", M_L64, "64 89 03", "fs.base=0x7ffffffffff0 rbx=0x10", "exc=13 ec=0" },
	{ "la57: not canonical: #GP(0)", M_L57, "89 03", "rbx=0x100000000000000", "exc=13 ec=0" },
	{ "long64: movs to a non-canonical RDI", M_L64, "a4", "rsi=0x2000 rdi=0x8000000000000000", "exc=13 ec=0" },
	{ "prot16: movzx eax,byte [bx] (66)", M_P16, "66 0f b6 07", "rbx=0x10 m8[0xa0010]=0x80 rax=-1", "rax=0x80 len=4" },
	{ "prot16: movsx ax,byte [bx]", M_P16, "0f be 07", "rbx=0x10 m8[0xa0010]=0x80 rax=-1", "rax=0xffffffffffffff80 len=3" },
	{ "prot16: rep movsw", M_P16, "f3 a5", "rcx=2 rsi=0x20 rdi=0x40 m16[0xa0020]=0x1234", "m16[0xa0040]=0x1234 rcx=1 rsi=0x22 rdi=0x42 rep=1" },
	{ "prot16: lodsb", M_P16, "ac", "rsi=0x10 m8[0xa0010]=0x42 rax=0x1234", "rax=0x1242 rsi=0x11 len=1" },
	{ "prot16: xchg [bx],ax", M_P16, "87 07", "rbx=0x10 rax=0x1234 m16[0xa0010]=0x5678", "rax=0x5678 m16[0xa0010]=0x1234 len=2" },
	{ "prot16: lock inc word [bx]", M_P16, "f0 ff 07", "rbx=0x10 m16[0xa0010]=0xffff fl=0x3", "m16[0xa0010]=0 fl=0x57 len=3" },
	{ "prot16: outsb", M_P16, "6e", "rdx=0x61 rsi=0x10 m8[0xa0010]=0x5a", "pout=0x5a port=0x61 rsi=0x11 len=1" },
	{ "compat: movzx eax,word [ebx]", M_COMPAT, "0f b7 03", "rbx=0xa0000 m16[0xa0000]=0xffff rax=-1", "rax=0xffff len=3" },
	{ "compat: insw", M_COMPAT, "66 6d", "rdx=0x60 rdi=0xa0000 pin=0x2211", "m16[0xa0000]=0x2211 rdi=0xa0002 len=2" },
	{ "compat: outsd with 16-bit addressing", M_COMPAT, "67 6f", "rdx=0x60 rsi=0x10 ds.base=0xa0000 m32[0xa0010]=0xcafe", "pout=0xcafe rsi=0x14 len=2" },
	{ "compat: stosd, 32-bit RDI zero-extends", M_COMPAT, "ab", "rax=7 rdi=0xffffffff000a0000", "m32[0xa0000]=7 rdi=0xa0004 len=1" },
	{ "compat: bt [ebx],eax: bit -1", M_COMPAT, "0f a3 03", "rbx=0xa0010 rax=0xffffffff m32[0xa000c]=0x80000000", "fl=0x3 len=3" },
	{ "vm86: cmp [bx],al", M_VM86, "38 07", "rbx=0x10 rax=1 m8[0xa0010]=1", "fl=0x20046 len=2" },
	{ "vm86: movsb", M_VM86, "a4", "rsi=0x10 rdi=0x20 m8[0xa0010]=0x33", "m8[0xa0020]=0x33 rsi=0x11 rdi=0x21 len=1" },
	{ "la57: movsq", M_L57, "48 a5", "rsi=0x2000 rdi=0x8000000a0000 m64[0x2000]=5", "m64[0xa0000]=5 rsi=0x2008 rdi=0x8000000a0008 len=2" },
	{ "pae: movsb to the high window", M_PAE, "a4", "rsi=0x2000 rdi=0xfec00000 m8[0x2000]=9", "m8[0xfec00000]=9 rsi=0x2001 rdi=0xfec00001 len=1" },
	{ "prot32+paging: rep stosb", M_P32PG, "f3 aa", "rcx=5 rax=3 rdi=0xfec00010", "m8[0xfec00010]=3 rcx=4 rdi=0xfec00011 rep=1" },
	{ "prot32+paging: xchg [ebx],eax", M_P32PG, "87 03", "rbx=0xfec00000 rax=1 m32[0xfec00000]=2", "rax=2 m32[0xfec00000]=1 len=2" },
	{ "pae: neg dword [ebx]", M_PAE, "f7 1b", "rbx=0xfec00000 m32[0xfec00000]=1", "m32[0xfec00000]=0xffffffff fl=0x97 len=2" },
};

/* ---- Faults ------------------------------------------------------------- */

static const struct tcase fault_cases[] = {
	{ "#PF: not present, write", M_L64, "89 03", "rbx=0x8000000000", "exc=14 ec=2 cr2=0x8000000000" },
	{ "#PF: not present, read, CPL 3", M_L64, "8b 03", "cpl=3 rbx=0x8000000010", "exc=14 ec=4 cr2=0x8000000010" },
	{ "#PF: user read of a supervisor page", M_L64, "8b 03", "cpl=3 pte[0]=0xa0003 rbx=0x8000000000", "exc=14 ec=5 cr2=0x8000000000" },
	{ "#PF: user write of a supervisor page", M_L64, "89 03", "cpl=3 pte[0]=0xa0003 rbx=0x8000000000", "exc=14 ec=7" },
	{ "#PF: write to a read-only page with WP", M_L64, "89 03", "pte[0]=0xa0005 rbx=0x8000000000", "exc=14 ec=3" },
	{ "no #PF: read-only page without WP", M_L64, "89 03", "cr0=0x80000011 pte[0]=0xa0005 rbx=0x8000000000 rax=1", "m32[0xa0000]=1 len=2" },
	{ "mapped through a 4K page", M_L64, "89 03", "pte[0]=0xa0007 rbx=0x8000000010 rax=1", "m32[0xa0010]=1 len=2" },
	{ "#PF: reserved bit", M_L64, "89 03", "pte[0]=0x80000000a0007 rbx=0x8000000000", "exc=14 ec=0xb" },
	{ "#PF: SMAP, AC clear", M_L64, "8b 03", "cr4=0x200020 pte[0]=0xa0007 rbx=0x8000000000", "exc=14 ec=1" },
	{ "SMAP with AC set", M_L64, "8b 03", "cr4=0x200020 fl=0x40002 pte[0]=0xa0007 rbx=0x8000000000 m32[0xa0000]=3", "rax=3 len=2" },
	{ "#PF: fetch from an NX page", M_L64, "89 03", "rip=0x8000000000 pte[0]=0x8000000000001007", "exc=14 ec=0x11 cr2=0x8000000000" },
	{ "#PF: fetch from a not-present page", M_L64, "89 03", "rip=0x8000001000", "exc=14 ec=0x10 cr2=0x8000001000" },
	{ "#PF: instruction crossing into a not-present page", M_L64, "48 89 03", "rip=0x8000000ffe pte[0]=0x1007 rbx=0xa0000", "exc=14 ec=0x10 cr2=0x8000001000 writes=0" },
	{ "#PF: user fetch from a supervisor page", M_L64, "89 03", "cpl=3 rip=0x8000000000 pte[0]=0x1003", "exc=14 ec=0x15" },
	{ "#PF: SMEP", M_L64, "89 03", "cr4=0x100020 rip=0x8000000000 pte[0]=0x1007", "exc=14 ec=0x11" },
	{ "#PF: in 32-bit paging, no I/D bit", M_P32PG, "89 03", "m32[0x304000]=0 rip=0x1000", "exc=14 ec=0 cr2=0x1000" },
	{ "#AC: CPL 3, CR0.AM, RFLAGS.AC", M_L64, "89 03", "cpl=3 cr0=0x80050011 fl=0x40002 rbx=0xa0001", "exc=17 ec=0" },
	{ "no #AC at CPL 0", M_L64, "89 03", "cr0=0x80050011 fl=0x40002 rbx=0xa0001 rax=1", "m32[0xa0001]=1 len=2" },
	{ "no #AC for a byte", M_L64, "88 03", "cpl=3 cr0=0x80050011 fl=0x40002 rbx=0xa0001 rax=1", "m8[0xa0001]=1 len=2" },
	{ "#AC on a movsq destination", M_L64, "48 a5", "cpl=3 cr0=0x80050011 fl=0x40002 rsi=0x2000 rdi=0xa0004", "exc=17 ec=0" },
	{ "15 bytes", M_L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 89 03", "rbx=0xa0000 rax=0x1234", "m16[0xa0000]=0x1234 len=15" },
	{ "16 bytes: #GP(0)", M_L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 03", "rbx=0xa0000", "exc=13 ec=0" },
	{ "fetch from MMIO: not emulated", M_L64, "89 03", "rip=0xa0000", "fail" },
	{ "ud2: not emulated", M_L64, "0f 0b", "", "fail" },
	{ "div: not emulated", M_L64, "f7 33", RB, "fail" },
	{ "mul: not emulated", M_L64, "f7 23", RB, "fail" },
	{ "call [rbx]: not emulated", M_L64, "ff 13", RB, "fail" },
	{ "push [rbx]: not emulated", M_L64, "ff 33", RB, "fail" },
	{ "c6 /1: not emulated", M_L64, "c6 0b 00", RB, "fail" },
	{ "f6 /1: not emulated", M_L64, "f6 0b 00", RB, "fail" },
	{ "fe /2: not emulated", M_L64, "fe 13", RB, "fail" },
	{ "cmpsb: not emulated", M_L64, "a6", RB, "fail" },
	{ "scasb: not emulated", M_L64, "ae", RB, "fail" },
	{ "mov from a segment register: not emulated", M_L64, "8c 03", RB, "fail" },
	{ "arpl: not emulated", M_P32, "63 03", RB, "fail" },
	{ "inc eax (prot32, 0x40): not emulated", M_P32, "40", "", "fail" },
	{ "shl dword [rbx],1: not emulated", M_L64, "d1 23", RB, "fail" },
	{ "movaps: not emulated", M_L64, "0f 28 03", RB, "fail" },
	{ "movzx with REX.R", M_L64, "44 0f b6 03", RB " m8[0xa0000]=0x80", "r8=0x80 len=4" },
	{ "write across two MMIO pages", M_L64, "89 03", "rbx=0xa0ffe rax=0x44332211", "m32[0xa0ffe]=0x44332211 len=2 writes=2" },
	{ "read across two MMIO pages", M_L64, "8b 03", "rbx=0xa0ffe m32[0xa0ffe]=0x44332211", "rax=0x44332211 len=2 reads=2" },
	{ "read across RAM and MMIO", M_L64, "8b 03", "rbx=0x9fffe m16[0x9fffe]=0x2211 m16[0xa0000]=0x4433", "rax=0x44332211 len=2 reads=1" },
	{ "write across pages, the second faults: the first half is done", M_L64, "89 03", "pte[0]=0xa0007 rbx=0x8000000ffe rax=0x44332211", "exc=14 ec=2 cr2=0x8000001000 writes=1 m16[0xa0ffe]=0x2211" },
	{ "read across pages, the second faults", M_L64, "8b 03", "pte[0]=0xa0007 rbx=0x8000000ffe", "exc=14 ec=0 cr2=0x8000001000" },
};

TEST(mov)
{
	RUN_TABLE(mov_cases);
}

TEST(movzx_movsx_movnti)
{
	RUN_TABLE(movx_cases);
}

TEST(arith_logic_forms)
{
	RUN_TABLE(alu_cases);
}

TEST(lock_prefix)
{
	RUN_TABLE(lock_cases);
}

TEST(xchg_bt)
{
	RUN_TABLE(xchg_bt_cases);
}

TEST(string_and_port_io)
{
	RUN_TABLE(string_cases);
}

TEST(smsw_lmsw)
{
	RUN_TABLE(msw_cases);
}

TEST(modes_segments_paging)
{
	RUN_TABLE(mode_cases);
}

TEST(faults_and_limits)
{
	RUN_TABLE(fault_cases);
}

/*
 * Every case again with the segment registers but CS and SS asked for
 * only when needed (the kernel's way): the same results.
 */
TEST(lazy_segments_all_tables)
{
	lazy_init = true;
	RUN_TABLE(mov_cases);
	RUN_TABLE(movx_cases);
	RUN_TABLE(alu_cases);
	RUN_TABLE(lock_cases);
	RUN_TABLE(xchg_bt_cases);
	RUN_TABLE(string_cases);
	RUN_TABLE(msw_cases);
	RUN_TABLE(mode_cases);
	RUN_TABLE(fault_cases);
	lazy_init = false;
}

/* ---- Exits and restarts, driven step by step ----------------------------- */

/* Set up a case by hand: mode, I/O model, code, then registers. */
static void prepare(int mode, int io, const char *code, const char *before)
{
	struct tcase t = { "manual", mode, code, before, NULL };

	set_up(&t, io);
}

static unsigned long reg(int r)
{
	return M.regs[r];
}

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
#define RIP X86EMUL_REG_RIP

TEST(mmio_read_completes_without_a_second_device_read)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[8];

	prepare(M_L64, IO_EXIT, "8b 03", "rbx=0xbf000 rax=-1 fl=0x8d7");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	/* Nothing happened yet: no device access, no register change. */
	EXPECT_EQ(M.mmio_reads, 0);
	EXPECT_EQ(reg(RAX), -1UL);
	EXPECT_EQ(reg(RIP), CODE);
	EXPECT_EQ(c->rflags, 0x8d7);
	ASSERT_TRUE(M.pend.active && !M.pend.write);
	EXPECT_EQ(M.pend.gpa, FIFO);
	EXPECT_EQ(M.pend.len, 4);

	/* Running again before the data is there changes nothing. */
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	EXPECT_EQ(M.mmio_reads, 0);

	/* Userspace reads the FIFO once. */
	do_exit(data);
	EXPECT_EQ(M.mmio_reads, 1);
	EXPECT_EQ(x86_emulate_complete_read(c, data, 2), -EINVAL);
	ASSERT_EQ(x86_emulate_complete_read(c, data, 4), 0);
	EXPECT_EQ(x86_emulate_complete_read(c, data, 4), -EINVAL);

	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_CONTINUE);
	EXPECT_EQ(reg(RAX), 0x11111111);
	EXPECT_EQ(reg(RIP), CODE + 2);
	EXPECT_EQ(M.mmio_reads, 1);
	EXPECT_EQ(M.fetches, 1);	/* the bytes were fetched once */
	EXPECT_FALSE(M.pend.active);
}

TEST(mmio_write_completes_the_instruction)
{
	struct x86_emulate_ctxt *c = &M.ctxt;

	prepare(M_L64, IO_EXIT, "48 89 03", "rbx=0xa0000 rax=0x1122334455667788");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_CONTINUE);
	EXPECT_EQ(reg(RIP), CODE + 3);
	/* The caller holds the write for KVM_EXIT_MMIO; nothing to complete. */
	ASSERT_TRUE(M.pend.active && M.pend.write);
	EXPECT_EQ(M.pend.gpa, 0xa0000);
	EXPECT_EQ(M.pend.len, 8);
	EXPECT_EQ(x86_emulate_complete_read(c, "x", 1), -EINVAL);
	do_exit(NULL);
	EXPECT_EQ(peek(0xa0000, 8), 0x1122334455667788ULL);
	EXPECT_EQ(M.mmio_writes, 1);
}

TEST(movs_from_mmio_to_mmio_takes_two_exits)
{
	prepare(M_L64, IO_EXIT, "a5", "rsi=0xbf000 rdi=0xa0000");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.exits, 2);
	EXPECT_EQ(M.mmio_reads, 1);
	EXPECT_EQ(M.mmio_writes, 1);
	EXPECT_EQ(peek(0xa0000, 4), 0x11111111);
	EXPECT_EQ(reg(RSI), 0xbf004);
	EXPECT_EQ(reg(RDI), 0xa0004);
}

TEST(xchg_with_mmio_reads_once_and_writes_once)
{
	prepare(M_L64, IO_EXIT, "87 03", "rbx=0xbf000 rax=0x55");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.exits, 2);
	EXPECT_EQ(M.mmio_reads, 1);
	EXPECT_EQ(M.mmio_writes, 1);
	EXPECT_EQ(reg(RAX), 0x11111111);
	EXPECT_EQ(M.fifo_out[0], 0x55);
}

/* REP MOVSD from the FIFO, each element a step, in both ways to iterate. */
static void rep_movs_from_fifo(int io, bool reenter)
{
	int i, r;

	prepare(M_L64, io, "f3 a5", "rcx=4 rsi=0xbf000 rdi=0x2000");
	for (i = 0; i < 4; i++) {
		if (reenter && i)	/* the guest ran it again and faulted */
			x86_emulate_init(&M.ctxt, &ops, &M, M.regs, M.rflags,
					 &M.sregs);
		r = step();
		ASSERT_EQ(r, X86EMUL_CONTINUE);
		M.rflags = M.ctxt.rflags;
		EXPECT_EQ(reg(RCX), 3 - i);
		EXPECT_EQ(M.ctxt.rep_more, i < 3);
		EXPECT_EQ(reg(RIP), i < 3 ? CODE : CODE + 2);
	}
	for (i = 0; i < 4; i++)
		EXPECT_EQ(peek(0x2000 + 4 * i, 4), 0x11111111U * (i + 1));
	EXPECT_EQ(reg(RSI), 0xbf010);
	EXPECT_EQ(reg(RDI), 0x2010);
	EXPECT_EQ(M.mmio_reads, 4);
	/* Calling again directly reuses the bytes fetched the first time. */
	EXPECT_EQ(M.fetches, reenter ? 4 : 1);
}

TEST(rep_movs_from_mmio_one_element_per_step)
{
	rep_movs_from_fifo(IO_SYNC, false);
	rep_movs_from_fifo(IO_EXIT, false);
	EXPECT_EQ(M.exits, 4);
	rep_movs_from_fifo(IO_EXIT_ALL, false);
	EXPECT_EQ(M.exits, 8);
	rep_movs_from_fifo(IO_EXIT, true);
	rep_movs_from_fifo(IO_EXIT_ALL, true);
}

TEST(rep_stos_to_mmio_exits_per_element)
{
	int i;

	prepare(M_L64, IO_EXIT, "f3 48 ab", "rcx=3 rdi=0xbf000 rax=0x77");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_FALSE(M.ctxt.rep_more);
	EXPECT_EQ(reg(RCX), 0);
	EXPECT_EQ(reg(RIP), CODE + 3);
	EXPECT_EQ(M.mmio_writes, 3);
	EXPECT_EQ(M.exits, 3);
	EXPECT_EQ(M.fifo_out[2], 0x77);
}

TEST(rep_fault_keeps_the_elements_done)
{
	int i;

	prepare(M_L64, IO_SYNC, "f3 a4",
		"rcx=3 rsi=0x2000 rdi=0x8000000ffe pte[0]=0xa0007 m32[0x2000]=0x030201");
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(step(), X86EMUL_CONTINUE);
		ASSERT_TRUE(M.ctxt.rep_more);
	}
	ASSERT_EQ(step(), X86EMUL_PROPAGATE_FAULT);
	EXPECT_EQ(M.ctxt.exception.vector, X86_TRAP_PF);
	EXPECT_EQ(M.ctxt.exception.error_code, PFERR_WRITE_MASK);
	EXPECT_EQ(M.ctxt.exception.address, 0x8000001000ULL);
	EXPECT_FALSE(M.ctxt.rep_more);
	EXPECT_EQ(reg(RCX), 1);
	EXPECT_EQ(reg(RSI), 0x2002);
	EXPECT_EQ(reg(RDI), 0x8000001000ULL);
	EXPECT_EQ(reg(RIP), CODE);
	EXPECT_EQ(peek(0xa0ffe, 2), 0x0201);
}

TEST(page_crossing_mmio_write_is_two_exits)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[8];

	prepare(M_L64, IO_EXIT, "89 03", "rbx=0xa0ffe rax=0x44332211");
	/* The second half cannot go out with the first. */
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	ASSERT_TRUE(M.pend.active && M.pend.write);
	EXPECT_EQ(M.pend.gpa, 0xa0ffe);
	EXPECT_EQ(M.pend.len, 2);
	EXPECT_EQ(reg(RIP), CODE);
	EXPECT_FALSE(do_exit(data));
	/* Running again skips the first half and completes. */
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_CONTINUE);
	EXPECT_EQ(M.pend.gpa, 0xa1000);
	EXPECT_EQ(M.pend.len, 2);
	do_exit(NULL);
	EXPECT_EQ(M.mmio_writes, 2);
	EXPECT_EQ(peek(0xa0ffe, 4), 0x44332211);
	EXPECT_EQ(reg(RIP), CODE + 2);
}

TEST(page_crossing_mmio_read_is_two_exits)
{
	prepare(M_L64, IO_EXIT, "48 8b 03",
		"rbx=0xa0ffc m64[0xa0ffc]=0x8877665544332211");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.exits, 2);
	EXPECT_EQ(M.mmio_reads, 2);
	EXPECT_EQ(reg(RAX), 0x8877665544332211ULL);
}

TEST(retry_leaves_no_trace)
{
	prepare(M_L64, IO_SYNC, "01 03", "rbx=0xa0000 rax=1 fl=0x8d7");
	M.retry_next = 1;
	ASSERT_EQ(x86_emulate_insn(&M.ctxt), X86EMUL_RETRY);
	EXPECT_EQ(reg(RIP), CODE);
	EXPECT_EQ(M.ctxt.rflags, 0x8d7);
	EXPECT_EQ(M.mmio_reads + M.mmio_writes, 0);
	/* The next call starts over: fetch and all. */
	ASSERT_EQ(x86_emulate_insn(&M.ctxt), X86EMUL_CONTINUE);
	EXPECT_EQ(peek(0xa0000, 4), 1);
	EXPECT_EQ(M.fetches, 2);
}

TEST(init_drops_a_pending_step)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[8] = { 0x42 };

	prepare(M_L64, IO_EXIT, "8b 03", "rbx=0xa0000");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	/* e.g. KVM_SET_REGS before the next KVM_RUN */
	M.pend.active = false;
	M.regs[RBX] = 0xa0008;
	x86_emulate_init(c, &ops, &M, M.regs, M.rflags, &M.sregs);
	EXPECT_EQ(x86_emulate_complete_read(c, data, 4), -EINVAL);
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	EXPECT_EQ(M.pend.gpa, 0xa0008);
}

TEST(ins_waits_for_the_port_then_writes_mmio)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[8];

	prepare(M_L64, IO_EXIT, "66 6d", "rdx=0x1f0 rdi=0xa0000 pin=0xbeef");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	ASSERT_TRUE(M.pend.active && M.pend.pio && !M.pend.write);
	EXPECT_EQ(M.pend.port, 0x1f0);
	EXPECT_EQ(M.pend.len, 2);
	EXPECT_EQ(M.pio_ins, 0);
	ASSERT_TRUE(do_exit(data));
	ASSERT_EQ(x86_emulate_complete_read(c, data, 2), 0);
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_CONTINUE);
	ASSERT_TRUE(M.pend.active && M.pend.write && !M.pend.pio);
	do_exit(NULL);
	EXPECT_EQ(peek(0xa0000, 2), 0xbeef);
	EXPECT_EQ(M.pio_ins, 1);
	EXPECT_EQ(reg(RDI), 0xa0002);
}

/* Run the steps a REP takes without the guest, as mmio.c does. */
static int run_read_ahead(void)
{
	int r;

	do {
		r = x86_emulate_insn(&M.ctxt);
	} while (r == X86EMUL_CONTINUE && M.ctxt.rep_more &&
		 x86_emulate_read_ahead(&M.ctxt));
	return r;
}

TEST(rep_insb_fetches_a_batch_in_one_exit)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[X86EMUL_PIO_BATCH];
	int i;

	prepare(M_L64, IO_EXIT, "f3 6c", "rcx=8 rdx=0x80 rdi=0x5000");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	ASSERT_TRUE(M.pend.active && M.pend.pio && !M.pend.write);
	EXPECT_EQ(M.pend.len, 8);
	EXPECT_EQ(M.pio_count, 8);
	ASSERT_TRUE(do_exit(data));
	/* Too little data for the batch asked for. */
	EXPECT_EQ(x86_emulate_complete_read(c, data, 4), -EINVAL);
	ASSERT_EQ(x86_emulate_complete_read(c, data, 8), 0);
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_FALSE(c->rep_more);
	EXPECT_FALSE(x86_emulate_read_ahead(c));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(peek(0x5000 + i, 1), 0xa0U + i);
	EXPECT_EQ(reg(RCX), 0);
	EXPECT_EQ(reg(RDI), 0x5008);
	EXPECT_EQ(reg(RIP), CODE + 2);
	EXPECT_EQ(M.exits, 1);
	EXPECT_EQ(M.pio_ins, 1);
}

TEST(rep_insw_batch_stops_at_the_page_end)
{
	prepare(M_L64, IO_SYNC, "66 f3 6d", "rcx=100 rdx=0x80 rdi=0x5ff8");
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.pio_count, 4);
	/* The read-ahead is used up: the guest runs the INS again. */
	EXPECT_TRUE(M.ctxt.rep_more);
	EXPECT_EQ(reg(RCX), 96);
	EXPECT_EQ(reg(RDI), 0x6000);
	EXPECT_EQ(reg(RIP), CODE);
	/* Backwards: the elements down to the page's start. */
	prepare(M_L64, IO_SYNC, "66 f3 6d",
		"rcx=100 rdx=0x80 rdi=0x5006 fl=0x402");
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.pio_count, 4);
	EXPECT_EQ(reg(RCX), 96);
	EXPECT_EQ(reg(RDI), 0x4ffe);
	/* And never more than the read-ahead holds. */
	prepare(M_L64, IO_SYNC, "f3 6c", "rcx=5000 rdx=0x80 rdi=0x5000");
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.pio_count, X86EMUL_PIO_BATCH);
	EXPECT_EQ(reg(RCX), 5000 - X86EMUL_PIO_BATCH);
}

/* userspace_io_test's abuse: RCX changed between the exit and KVM_RUN. */
TEST(rep_ins_follows_rcx_changed_during_the_exit)
{
	struct x86_emulate_ctxt *c = &M.ctxt;
	u8 data[X86EMUL_PIO_BATCH];

	memset(data, 0xaa, sizeof(data));
	prepare(M_L64, IO_EXIT, "f3 6c", "rcx=2 rdx=0x80 rdi=0x5000");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	EXPECT_EQ(M.pend.len, 2);
	M.pend.active = false;
	M.regs[RCX] = 1;
	ASSERT_EQ(x86_emulate_complete_read(c, data, sizeof(data)), 0);
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_FALSE(c->rep_more);
	EXPECT_EQ(reg(RCX), 0);
	EXPECT_EQ(reg(RDI), 0x5001);
	EXPECT_EQ(peek(0x5000, 2), 0xaa);
	EXPECT_EQ(reg(RIP), CODE + 2);

	/* Raised: the batch goes on with what else the data page holds. */
	prepare(M_L64, IO_EXIT, "f3 6c", "rcx=3 rdx=0x80 rdi=0x5000");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	EXPECT_EQ(M.pend.len, 3);
	M.pend.active = false;
	M.regs[RCX] = 8192;
	ASSERT_EQ(x86_emulate_complete_read(c, data, sizeof(data)), 0);
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_TRUE(c->rep_more);
	EXPECT_EQ(reg(RCX), 8192 - X86EMUL_PIO_BATCH);
	EXPECT_EQ(reg(RDI), 0x5000 + X86EMUL_PIO_BATCH);
	EXPECT_EQ(peek(0x5000 + X86EMUL_PIO_BATCH - 1, 1), 0xaa);
	EXPECT_EQ(reg(RIP), CODE);

	/* Cleared: the instruction ends with no element. */
	prepare(M_L64, IO_EXIT, "f3 6c", "rcx=2 rdx=0x80 rdi=0x5000");
	ASSERT_EQ(x86_emulate_insn(c), X86EMUL_IO_NEEDED);
	M.pend.active = false;
	M.regs[RCX] = 0;
	ASSERT_EQ(x86_emulate_complete_read(c, data, sizeof(data)), 0);
	ASSERT_EQ(run_read_ahead(), X86EMUL_CONTINUE);
	EXPECT_EQ(reg(RDI), 0x5000);
	EXPECT_EQ(peek(0x5000, 1), 0);
	EXPECT_EQ(reg(RIP), CODE + 2);
}

TEST(rep_outs_from_mmio)
{
	int i;

	prepare(M_L64, IO_EXIT, "f3 6e", "rcx=3 rdx=0x3f8 rsi=0xa0000 m32[0xa0000]=0x636261");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(step(), X86EMUL_CONTINUE);
		EXPECT_EQ(M.exits, 2 * (i + 1));	/* the read, the port */
	}
	EXPECT_FALSE(M.ctxt.rep_more);
	EXPECT_EQ(M.pio_outs, 3);
	EXPECT_EQ(M.mmio_reads, 3);
	EXPECT_EQ(memcmp(M.pio_out, "abc", 3), 0);
	EXPECT_EQ(reg(RCX), 0);
	EXPECT_EQ(reg(RSI), 0xa0003);
	EXPECT_EQ(reg(RIP), CODE + 2);
}

TEST(next_instruction_without_init)
{
	prepare(M_L64, IO_SYNC, "01 03 48 ff 03", "rbx=0xa0000 rax=5");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(peek(0xa0000, 8), 6);
	EXPECT_EQ(reg(RIP), CODE + 5);
}

TEST(failure_reports_the_instruction_bytes)
{
	prepare(M_L64, IO_SYNC, "0f 0b 90 90", "");
	ASSERT_EQ(x86_emulate_insn(&M.ctxt), X86EMUL_UNHANDLEABLE);
	ASSERT_GE(M.ctxt.insn_len, 2);
	EXPECT_EQ(M.ctxt.insn_bytes[0], 0x0f);
	EXPECT_EQ(M.ctxt.insn_bytes[1], 0x0b);
	EXPECT_EQ(reg(RIP), CODE);
}

TEST(fetch_stops_at_the_page_and_the_limit)
{
	/* The bytes after the instruction are on a page that is not mapped. */
	prepare(M_L64, IO_SYNC, "89 03", "rip=0x8000000ffe pte[0]=0x1007 rbx=0xa0000 rax=1");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.ctxt.insn_len, 2);
	/* Nor is anything fetched past the CS limit. */
	prepare(M_P16, IO_SYNC, "89 07", "rip=0xfffe rbx=0x10 rax=1");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(peek(0xa0010, 2), 1);
	EXPECT_EQ(reg(RIP), 0);
}

TEST(rf_is_cleared_when_the_instruction_completes)
{
	prepare(M_L64, IO_SYNC, "f3 a4", "rcx=2 rsi=0x2000 rdi=0xa0000 fl=0x10002");
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.ctxt.rflags, 0x10002);	/* not yet: elements remain */
	ASSERT_EQ(step(), X86EMUL_CONTINUE);
	EXPECT_EQ(M.ctxt.rflags, 0x2);
}

TEST(access_bits_for_the_walker)
{
	prepare(M_L64, IO_SYNC, "90", "");
	EXPECT_EQ(x86_emulate_access(&M.ctxt, false), 0);
	EXPECT_EQ(x86_emulate_access(&M.ctxt, true), PFERR_WRITE_MASK);
	M.ctxt.rflags |= X86_EFLAGS_AC;
	EXPECT_EQ(x86_emulate_access(&M.ctxt, false), X86_WALK_AC);
	M.ctxt.cpl = 3;
	EXPECT_EQ(x86_emulate_access(&M.ctxt, true),
		  PFERR_WRITE_MASK | PFERR_USER_MASK);
}

TEST(init_derives_mode_and_cpl)
{
	static const struct { int mode; const char *before; int want, cpl; } t[] = {
		{ M_REAL, "", X86EMUL_MODE_REAL, 0 },
		{ M_VM86, "", X86EMUL_MODE_VM86, 3 },
		{ M_P16, "", X86EMUL_MODE_PROT16, 0 },
		{ M_P32, "cpl=3", X86EMUL_MODE_PROT32, 3 },
		{ M_PAE, "cpl=1", X86EMUL_MODE_PROT32, 1 },
		{ M_COMPAT, "", X86EMUL_MODE_PROT32, 0 },
		{ M_COMPAT, "cs.db=0", X86EMUL_MODE_PROT16, 0 },
		{ M_L64, "cpl=3", X86EMUL_MODE_PROT64, 3 },
		{ M_L57, "", X86EMUL_MODE_PROT64, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		prepare(t[i].mode, IO_SYNC, "90", t[i].before);
		EXPECT_EQ(M.ctxt.mode, t[i].want);
		EXPECT_EQ(M.ctxt.cpl, t[i].cpl);
	}
}

/* x86_emulate_init_lazy(): only what the instruction uses is asked for. */
TEST(lazy_segments_asked_only_when_needed)
{
	enum { ES = 1 << X86EMUL_SEG_ES, DS = 1 << X86EMUL_SEG_DS,
	       FS = 1 << X86EMUL_SEG_FS, GS = 1 << X86EMUL_SEG_GS,
	       TR = 1 << X86EMUL_SEG_TR };
	static const struct {
		int mode;
		const char *code, *before;
		unsigned int want;
		int r;		/* what the step returns (0: CONTINUE) */
	} t[] = {
		{ M_L64, "88 03", "rbx=0xa0000", 0 },
		{ M_L64, "26 3e 88 03", "rbx=0xa0000", 0 },
		{ M_L64, "64 88 03", "rbx=0x9f000 fs.base=0x1000", FS },
		{ M_L64, "65 8b 03", "rbx=0x9f000 gs.base=0x1000", GS },
		{ M_L64, "f3 a4", "rcx=2 rsi=0x2000 rdi=0xa0000", 0 },
		{ M_L64, "6e", "rdx=0x3f8 rsi=0x2000", 0 },
		{ M_L64, "6e", "cpl=3 rdx=0x80 rsi=0x2000", TR,
		  X86EMUL_PROPAGATE_FAULT },	/* the TSS denies the port */
		{ M_REAL, "88 07", "rbx=0x10", DS },
		{ M_REAL, "26 89 07", "rbx=0x10 es.base=0xb0000", ES },
		{ M_P32, "a4", "rsi=0x2000 rdi=0xa0000", DS | ES },
		{ M_P32, "6c", "cpl=3 rdx=0x60 rdi=0xa0000 pin=0x11", ES | TR },
		{ M_VM86, "6c", "fl=0x23002 rdx=0x60 rdi=0x10 pin=0x11", ES | TR },
	};
	unsigned int i;

	lazy_init = true;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		prepare(t[i].mode, IO_EXIT, t[i].code, t[i].before);
		EXPECT_EQ(step(), t[i].r);
		EXPECT_EQ(M.segs_asked, t[i].want);
		/* A restart after an exit asks for nothing again. */
		EXPECT_EQ(M.seg_asks_again, 0);
	}
	lazy_init = false;
}

/* ---- The host CPU as the oracle for the arithmetic ---------------------- */

#define ARITH (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
	       X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

/*
 * x = x <op> y natively, with the arithmetic flags in and out.  The red
 * zone is stepped over before pushing.
 */
#define NATIVE(fn, insn, T)						\
static u64 fn(u64 a, u64 b, u64 *fl)					\
{									\
	T x = (T)a, y = (T)b;						\
	unsigned long f = (*fl & ARITH) | 2;				\
									\
	asm volatile("lea -128(%%rsp), %%rsp\n\t"			\
		     "push %[f]\n\tpopf\n\t"				\
		     insn "\n\t"					\
		     "pushf\n\tpop %[f]\n\t"				\
		     "lea 128(%%rsp), %%rsp"				\
		     : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y)		\
		     : "cc", "memory");					\
	*fl = f;							\
	return x;							\
}

#define NATIVE4(op, insn)						\
	NATIVE(native_##op##8, insn, u8)				\
	NATIVE(native_##op##16, insn, u16)				\
	NATIVE(native_##op##32, insn, u32)				\
	NATIVE(native_##op##64, insn, u64)

#define BIN(op) NATIVE4(op, #op " %[y], %[x]")
#define UN(op) NATIVE4(op, #op " %[x]")

BIN(add) BIN(or) BIN(adc) BIN(sbb) BIN(and) BIN(sub) BIN(xor) BIN(cmp)
BIN(test) UN(neg) UN(not) UN(inc) UN(dec)
NATIVE(native_bt16, "bt %[y], %[x]", u16)
NATIVE(native_bt32, "bt %[y], %[x]", u32)
NATIVE(native_bt64, "bt %[y], %[x]", u64)
NATIVE(native_bts16, "bts %[y], %[x]", u16)
NATIVE(native_bts32, "bts %[y], %[x]", u32)
NATIVE(native_bts64, "bts %[y], %[x]", u64)
NATIVE(native_btr16, "btr %[y], %[x]", u16)
NATIVE(native_btr32, "btr %[y], %[x]", u32)
NATIVE(native_btr64, "btr %[y], %[x]", u64)
NATIVE(native_btc16, "btc %[y], %[x]", u16)
NATIVE(native_btc32, "btc %[y], %[x]", u32)
NATIVE(native_btc64, "btc %[y], %[x]", u64)

typedef u64 (*native_fn)(u64, u64, u64 *);

enum { K_BIN, K_UNARY, K_BT };

struct oracle_op {
	const char *name;
	int kind;
	int code;		/* ALU: 0-7 group 1, 8 TEST; unary: F6/FE /n;
				   BT: 0 BT, 1 BTS, 2 BTR, 3 BTC */
	bool fe;		/* unary: in group 4/5 (INC, DEC) */
	bool writes;
	u64 undefined;		/* flags the architecture leaves undefined */
	native_fn fn[4];	/* 8, 16, 32, 64 bits */
};

#define FNS(op) { native_##op##8, native_##op##16, native_##op##32, \
		  native_##op##64 }
#define BTFNS(op) { NULL, native_##op##16, native_##op##32, native_##op##64 }
#define LOGIC_UNDEF X86_EFLAGS_AF
#define BT_UNDEF (ARITH & ~X86_EFLAGS_CF)

static const struct oracle_op oracle_ops[] = {
	{ "add", K_BIN, 0, false, true, 0, FNS(add) },
	{ "or", K_BIN, 1, false, true, LOGIC_UNDEF, FNS(or) },
	{ "adc", K_BIN, 2, false, true, 0, FNS(adc) },
	{ "sbb", K_BIN, 3, false, true, 0, FNS(sbb) },
	{ "and", K_BIN, 4, false, true, LOGIC_UNDEF, FNS(and) },
	{ "sub", K_BIN, 5, false, true, 0, FNS(sub) },
	{ "xor", K_BIN, 6, false, true, LOGIC_UNDEF, FNS(xor) },
	{ "cmp", K_BIN, 7, false, false, 0, FNS(cmp) },
	{ "test", K_BIN, 8, false, false, LOGIC_UNDEF, FNS(test) },
	{ "not", K_UNARY, 2, false, true, 0, FNS(not) },
	{ "neg", K_UNARY, 3, false, true, 0, FNS(neg) },
	{ "inc", K_UNARY, 0, true, true, 0, FNS(inc) },
	{ "dec", K_UNARY, 1, true, true, 0, FNS(dec) },
	{ "bt", K_BT, 0, false, false, BT_UNDEF, BTFNS(bt) },
	{ "bts", K_BT, 1, false, true, BT_UNDEF, BTFNS(bts) },
	{ "btr", K_BT, 2, false, true, BT_UNDEF, BTFNS(btr) },
	{ "btc", K_BT, 3, false, true, BT_UNDEF, BTFNS(btc) },
};

/* The operand forms the oracle checks. */
enum {
	F_MEM_REG,	/* op [mem], reg   (also NOT/NEG/INC/DEC [mem]) */
	F_REG_MEM,	/* op reg, [mem] */
	F_MEM_IMM,	/* op [mem], imm */
	F_REG_REG,	/* op reg, reg     (also NOT/NEG/INC/DEC reg) */
	F_REG_IMM,	/* op reg, imm */
	NR_FORMS
};

static const char *const form_names[] = {
	"mem,reg", "reg,mem", "mem,imm", "reg,reg", "reg,imm",
};

static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const u64 edges[] = {
	0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
	0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffULL,
	0x8000000000000000ULL, 0xffffffffffffffffULL, 0x5555555555555555ULL,
};

#define NR_EDGES (sizeof(edges) / sizeof(edges[0]))

static u64 mask_of(unsigned int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static u64 sext_of(u64 v, unsigned int bytes)
{
	unsigned int sh = 64 - 8 * bytes;

	return (u64)((int64_t)(v << sh) >> sh);
}

/*
 * Encode the case for the mode: the memory operand is [rbx] ([bx] in
 * 16-bit code), the register operands rcx (the destination of register
 * forms is rdx for BT, to keep rcx the bit offset).  Returns the length.
 */
static int encode(u8 *p, int mode, const struct oracle_op *op, int form,
		  unsigned int size, u64 *b, bool *ok)
{
	bool bits16 = mode == M_REAL;
	u8 mem_rm = bits16 ? 7 : 3;
	int n = 0, immsz = 0;
	u8 modrm;

	*ok = true;
	if ((size == 2 && !bits16) || (size == 4 && bits16))
		p[n++] = 0x66;
	if (size == 8)
		p[n++] = 0x48;

	switch (op->kind) {
	case K_BIN:
		if (form == F_MEM_REG || form == F_REG_REG || form == F_REG_MEM) {
			if (form == F_REG_MEM && op->code == 8) {
				*ok = false;	/* TEST has no reg,mem form */
				return 0;
			}
			if (op->code == 8)
				p[n++] = size == 1 ? 0x84 : 0x85;
			else
				p[n++] = (op->code << 3) | (size != 1) |
					 (form == F_REG_MEM ? 2 : 0);
			/* reg = rcx (source, or destination for reg,mem) */
			modrm = form == F_REG_REG ? 0xc0 | (2 << 3) | 1 :
				(1 << 3) | mem_rm;
			p[n++] = modrm;
			break;
		}
		/* immediates */
		modrm = (form == F_REG_IMM ? 0xc1 : mem_rm) |
			((op->code == 8 ? 0 : op->code) << 3);
		if (op->code == 8) {
			p[n++] = size == 1 ? 0xf6 : 0xf7;
			immsz = size == 1 ? 1 : size == 2 ? 2 : 4;
		} else if (size == 1) {
			p[n++] = 0x80;
			immsz = 1;
		} else if (sext_of(*b, 1) == (*b & mask_of(size)) ||
			   (sext_of(*b, 1) & mask_of(size)) ==
			   (*b & mask_of(size))) {
			p[n++] = 0x83;
			immsz = 1;
		} else {
			p[n++] = 0x81;
			immsz = size == 2 ? 2 : 4;
		}
		p[n++] = modrm;
		if (size == 8 && immsz == 4)
			*b = sext_of(*b, 4);
		if (immsz == 1 && size > 1)
			*b = sext_of(*b, 1);
		memcpy(p + n, b, immsz);
		n += immsz;
		*b &= mask_of(size);
		break;
	case K_UNARY:
		if (form != F_MEM_REG && form != F_REG_REG) {
			*ok = false;
			return 0;
		}
		if (op->fe)
			p[n++] = size == 1 ? 0xfe : 0xff;
		else
			p[n++] = size == 1 ? 0xf6 : 0xf7;
		p[n++] = (form == F_REG_REG ? 0xc1 : mem_rm) | (op->code << 3);
		break;
	case K_BT:
		if (size == 1 || form == F_REG_MEM) {
			*ok = false;
			return 0;
		}
		p[n++] = 0x0f;
		if (form == F_MEM_IMM || form == F_REG_IMM) {
			p[n++] = 0xba;
			p[n++] = (form == F_REG_IMM ? 0xc2 : mem_rm) |
				 ((4 + op->code) << 3);
			p[n++] = *b;
			*b &= 0xff;
		} else {
			p[n++] = 0xa3 | (op->code << 3);
			p[n++] = (form == F_REG_REG ? 0xc2 : mem_rm) | (1 << 3);
		}
		break;
	}
	return n;
}

/* The register write rules: 8/16 bits merge, 32 zero-extends. */
static u64 merge(u64 old, u64 v, unsigned int size)
{
	if (size == 4)
		return v & 0xffffffffULL;
	return (old & ~mask_of(size)) | (v & mask_of(size));
}

static int oracle_failures;

/* Returns false if the op has no such form. */
static bool oracle_case(int mode, const struct oracle_op *op, int form,
			unsigned int size, u64 a, u64 b, u64 fl, int io)
{
	const unsigned int si = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
	u64 mem = mode == M_REAL ? 0xa0010 : 0xa0000;
	u64 want, want_fl = fl, got, got_fl, old = rnd();
	u8 code[16];
	bool ok, mem_dst;
	int n, r, dst, src;

	n = encode(code, mode, op, form, size, &b, &ok);
	if (!ok)
		return false;
	a &= mask_of(size);
	/* A bit offset into memory stays within the operand. */
	if (op->kind == K_BT && form == F_MEM_REG)
		b &= size * 8 - 1;
	b &= mask_of(size);

	want = op->fn[si](a, b, &want_fl);
	want_fl = (want_fl & ARITH) | (fl & ~ARITH);

	/* A light reset: registers, the operand, the code. */
	memset(M.regs, 0, sizeof(M.regs));
	M.regs[X86EMUL_REG_RIP] = CODE;
	M.regs[3] = mode == M_REAL ? 0x10 : 0xa0000;
	M.io = io;
	M.pend.active = false;
	M.mmio_reads = M.mmio_writes = 0;
	memcpy(M.ram + CODE, code, n);
	mem_dst = form == F_MEM_REG || form == F_MEM_IMM;
	/* BT: the destination is rdx; otherwise rdx is a reg,reg source */
	dst = op->kind == K_BT ? 2 : 1;
	src = op->kind != K_BT && form == F_REG_REG ? 2 : 1;
	if (mem_dst) {
		poke(mem, old, 8);
		poke(mem, a, size);
		M.regs[src] = merge(rnd(), b, size);
	} else {
		M.regs[dst] = merge(old, a, size);
		if (form == F_REG_MEM)
			poke(mem, b, size);
		else if (form == F_REG_REG)
			M.regs[src] = merge(rnd(), b, size);
	}
	M.rflags = fl;
	x86_emulate_init(&M.ctxt, &ops, &M, M.regs, M.rflags, &M.sregs);
	r = step();

	got_fl = M.ctxt.rflags;
	if (mem_dst)
		got = peek(mem, size);
	else
		got = M.regs[dst] & mask_of(size);
	if (r == X86EMUL_CONTINUE &&
	    (!mem_dst || size == 8 ||
	     peek(mem, 8) >> (8 * size) == old >> (8 * size)) &&
	    (mem_dst || M.regs[dst] == merge(old, op->writes ? want : a, size)) &&
	    (got == (op->writes ? want & mask_of(size) : a)) &&
	    (got_fl & ~op->undefined) == (want_fl & ~op->undefined) &&
	    M.regs[X86EMUL_REG_RIP] == ((CODE + n) & 0xffffffffULL) &&
	    M.mmio_writes == (mem_dst && op->writes))
		return true;

	if (oracle_failures++ < 20)
		TH_LOG("%s %s %u-bit [%s]: a=%#llx b=%#llx fl=%#llx: "
		       "r=%d got %#llx fl %#llx, want %#llx fl %#llx",
		       op->name, form_names[form], size * 8, mode_names[mode],
		       (unsigned long long)a, (unsigned long long)b,
		       (unsigned long long)fl, r, (unsigned long long)got,
		       (unsigned long long)got_fl, (unsigned long long)want,
		       (unsigned long long)want_fl);
	return true;
}

/* Every op, form and size of the mode, over edge and random operands. */
static void oracle_run(int mode, int nrandom, const unsigned int *sizes,
		       int nsizes)
{
	unsigned int oi, f, s, i, j;
	long cases = 0;

	reset_machine(mode, IO_SYNC);
	oracle_failures = 0;
	for (oi = 0; oi < sizeof(oracle_ops) / sizeof(oracle_ops[0]); oi++) {
		for (f = 0; f < NR_FORMS; f++) {
			for (s = 0; s < (unsigned int)nsizes; s++) {
				for (i = 0; i < NR_EDGES; i++) {
					for (j = 0; j < NR_EDGES; j++) {
						u64 fl = 2 | (rnd() & ARITH);

						cases += oracle_case(mode,
							&oracle_ops[oi], f, sizes[s],
							edges[i], edges[j], fl,
							(i + j) % 3);
					}
				}
				for (i = 0; i < (unsigned int)nrandom; i++) {
					u64 fl = 2 | (rnd() & ARITH);

					cases += oracle_case(mode,
						&oracle_ops[oi], f, sizes[s],
						rnd(), rnd(), fl, i % 3);
				}
			}
		}
	}
	TH_LOG("%ld operations compared with the host CPU, %d differ",
	       cases, oracle_failures);
	ASSERT_EQ(oracle_failures, 0);
}

TEST(arith_oracle_long64)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	oracle_run(M_L64, 200, sizes, 4);
}

TEST(arith_oracle_prot32)
{
	static const unsigned int sizes[] = { 1, 2, 4 };

	oracle_run(M_P32, 50, sizes, 3);
}

TEST(arith_oracle_real)
{
	static const unsigned int sizes[] = { 1, 2, 4 };

	oracle_run(M_REAL, 50, sizes, 3);
}

/* ---- Random instructions: only defined results ------------------------- */

TEST(fuzz_random_instructions)
{
	static const u8 prefixes[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64,
		0x65, 0x40, 0x41, 0x44, 0x48, 0x4f,
	};
	static const u8 opcodes[] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0b, 0x11, 0x19,
		0x21, 0x29, 0x31, 0x39, 0x3b, 0x63, 0x6c, 0x6d, 0x6e, 0x6f,
		0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8a, 0x8b, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa8, 0xa9,
		0xaa, 0xab, 0xac, 0xad, 0xc6, 0xc7, 0xf6, 0xf7, 0xfe, 0xff,
		0x0f,
	};
	static const u8 twobyte[] = {
		0xa3, 0xab, 0xb3, 0xbb, 0xba, 0xb6, 0xb7, 0xbe, 0xbf, 0xc3,
	};
	int counts[5] = { 0 }, i;

	for (i = 0; i < 180000; i++) {
		int mode = i / 20000, n = 0, j, r;
		unsigned long before[X86EMUL_NR_REGS];
		u64 fl;
		u8 code[20];

		/* A fresh machine now and then: the guest may scribble. */
		if (i % 1000 == 0)
			reset_machine(mode, IO_SYNC);
		reset_machine_light(mode, i % 3);
		for (j = rnd() % 4; j > 0; j--)
			code[n++] = prefixes[rnd() % sizeof(prefixes)];
		code[n++] = opcodes[rnd() % sizeof(opcodes)];
		if (code[n - 1] == 0x0f)
			code[n++] = twobyte[rnd() % sizeof(twobyte)];
		while (n < 20)
			code[n++] = rnd() % 4 ? rnd() : 0;
		if (rnd() % 8 == 0)
			for (j = 0; j < 20; j++)
				code[j] = rnd();
		for (j = 0; j < 16; j++) {
			u64 v = rnd();

			/* Mostly addresses that hit RAM or MMIO. */
			M.regs[j] = rnd() % 4 ? (v & 0x1ffff) + (j & 1 ? 0xa0000 : 0x2000) : v;
		}
		M.regs[RSP] = 0x8000;
		fl = 2 | (rnd() & (ARITH | X86_EFLAGS_DF));
		M.rflags = fl | (mode == M_VM86 ? X86_EFLAGS_VM : 0);
		memcpy(M.ram + CODE, code, sizeof(code));
		memcpy(before, M.regs, sizeof(before));
		x86_emulate_init(&M.ctxt, &ops, &M, M.regs, M.rflags, &M.sregs);
		r = step();
		ASSERT_TRUE(r >= X86EMUL_CONTINUE && r <= X86EMUL_UNHANDLEABLE);
		ASSERT_NE(r, X86EMUL_IO_NEEDED);
		counts[r]++;
		ASSERT_LE(M.ctxt.insn_len, X86EMUL_MAX_INSN);
		if (r != X86EMUL_CONTINUE) {
			ASSERT_EQ(memcmp(before, M.regs, sizeof(before)), 0);
			ASSERT_EQ(M.ctxt.rflags, M.rflags);
		} else {
			u64 len = M.regs[X86EMUL_REG_RIP] - CODE;

			ASSERT_TRUE(M.ctxt.rep_more ? len == 0 :
				    len >= 1 && len <= 15);
		}
		if (r == X86EMUL_PROPAGATE_FAULT) {
			u8 v = M.ctxt.exception.vector;

			ASSERT_TRUE(v == X86_TRAP_GP || v == X86_TRAP_SS ||
				    v == X86_TRAP_PF || v == X86_TRAP_UD ||
				    v == X86_TRAP_AC);
		}
	}
	TH_LOG("completed %d, faults %d, not emulated %d", counts[0],
	       counts[1], counts[3]);
}

TEST_HARNESS_MAIN
