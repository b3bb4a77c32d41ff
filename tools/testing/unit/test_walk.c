// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for arch/x86/kvm/mmu/walk.c: page tables built in a buffer
 * that plays guest-physical memory, walked in every paging mode, with the
 * permission rules checked exhaustively against a model written from the
 * architecture manuals' rules.
 */
#include "../nkvm/harness.h"
#include <mmu/walk.h>

#define MEM_SIZE	(2UL << 20)

#define P	0x1ULL
#define RW	0x2ULL
#define US	0x4ULL
#define A	0x20ULL
#define D	0x40ULL
#define PS	0x80ULL
#define NX	(1ULL << 63)
#define ALL	(P | RW | US)

static u8 mem[MEM_SIZE];
static u64 next_table;
static int cmpxchg_calls, cmpxchg_fail;	/* fail the next n exchanges */
static bool cmpxchg_changes;		/* ... as if another CPU set A */

static int read_pte(void *opaque, u64 gpa, u64 *pte, unsigned int size)
{
	if (gpa + size > MEM_SIZE)
		return -1;
	*pte = 0;
	memcpy(pte, mem + gpa, size);
	return 0;
}

static int cmpxchg_pte(void *opaque, u64 gpa, u64 old, u64 new,
		       unsigned int size)
{
	u64 cur = 0;

	cmpxchg_calls++;
	if (gpa + size > MEM_SIZE)
		return -1;
	if (cmpxchg_fail) {
		cmpxchg_fail--;
		if (cmpxchg_changes) {
			cur = old | A;
			memcpy(mem + gpa, &cur, size);
		}
		return 1;
	}
	memcpy(&cur, mem + gpa, size);
	if (cur != old)
		return 1;
	memcpy(mem + gpa, &new, size);
	return 0;
}

static u64 get(u64 gpa, unsigned int size)
{
	u64 v = 0;

	memcpy(&v, mem + gpa, size);
	return v;
}

static void put(u64 gpa, u64 v, unsigned int size)
{
	memcpy(mem + gpa, &v, size);
}

static u64 new_table(void)
{
	u64 t = next_table;

	next_table += 4096;
	memset(mem + t, 0, 4096);
	return t;
}

enum { PG_32, PG_PAE, PG_4, PG_5 };

static struct x86_walk_env env;

static void reset(int mode)
{
	memset(mem, 0, sizeof(mem));
	next_table = 0x1000;
	cmpxchg_calls = cmpxchg_fail = 0;
	cmpxchg_changes = false;
	env = (struct x86_walk_env) {
		.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP,
		.maxphyaddr = 48, .gbpages = true, .amd = true,
		.read_pte = read_pte, .cmpxchg_pte = cmpxchg_pte,
	};
	switch (mode) {
	case PG_32:
		env.cr4 = X86_CR4_PSE;
		break;
	case PG_PAE:
		env.cr4 = X86_CR4_PAE;
		env.efer = EFER_NX;
		break;
	case PG_4:
	case PG_5:
		env.cr4 = X86_CR4_PAE | (mode == PG_5 ? X86_CR4_LA57 : 0);
		env.efer = EFER_LME | EFER_LMA | EFER_NX;
		break;
	}
	env.cr3 = new_table();
}

/*
 * Map la in the current mode down to level stop (1: 4K page, 2: 2M/4M,
 * 3: 1G), with the given bits at each level (table[0] is the root).
 * Returns the gpa of the leaf entry.
 */
static u64 map(u64 la, u64 pa, int stop, const u64 *bits)
{
	bool pae = (env.cr4 & X86_CR4_PAE) && !(env.efer & EFER_LMA);
	int levels, level, i = 0;
	u64 table = env.cr3 & ~0xfffULL, e;

	if (!(env.cr4 & X86_CR4_PAE)) {
		u64 pde = table + ((la >> 22) & 1023) * 4;

		if (stop == 2) {
			put(pde, (pa & ~0x3fffffULL) | PS | bits[0] |
			    (((pa >> 32) & 0xff) << 13), 4);
			return pde;
		}
		e = get(pde, 4);
		if (!(e & P)) {
			e = new_table() | bits[0];
			put(pde, e, 4);
		}
		table = e & ~0xfffULL;
		put(table + ((la >> 12) & 1023) * 4, pa | bits[1], 4);
		return table + ((la >> 12) & 1023) * 4;
	}
	if (pae) {
		u64 pdpte = (env.cr3 & ~0x1fULL) + ((la >> 30) & 3) * 8;

		e = get(pdpte, 8);
		if (!(e & P)) {
			e = new_table() | bits[i];
			put(pdpte, e, 8);
		}
		i++;
		table = e & 0xffffffffff000ULL;
		levels = 2;
	} else {
		levels = (env.cr4 & X86_CR4_LA57) ? 5 : 4;
	}
	for (level = levels; level > stop; level--, i++) {
		u64 slot = table + ((la >> (12 + 9 * (level - 1))) & 511) * 8;

		e = get(slot, 8);
		if (!(e & P)) {
			e = new_table() | bits[i];
			put(slot, e, 8);
		}
		table = e & 0xffffffffff000ULL;
	}
	e = table + ((la >> (12 + 9 * (stop - 1))) & 511) * 8;
	put(e, pa | bits[i] | (stop > 1 ? PS : 0), 8);
	return e;
}

static const u64 full[6] = { ALL, ALL, ALL, ALL, ALL, ALL };

static enum x86_walk_status walk(u64 la, u32 access, struct x86_walk_result *r,
				 struct x86_exception *ex)
{
	memset(r, 0, sizeof(*r));
	memset(ex, 0, sizeof(*ex));
	return x86_walk(&env, la, access, r, ex);
}

/* Expect a #PF with error code ec at la. */
#define EXPECT_PF(la, access, ec) do {					\
		struct x86_walk_result r_;				\
		struct x86_exception ex_;				\
		ASSERT_EQ(walk(la, access, &r_, &ex_), X86_WALK_FAULT);	\
		EXPECT_EQ(ex_.vector, X86_TRAP_PF);			\
		EXPECT_TRUE(ex_.has_error_code);			\
		EXPECT_EQ(ex_.error_code, ec);				\
		EXPECT_EQ(ex_.address, la);				\
	} while (0)

#define EXPECT_GPA(la, access, want) do {				\
		struct x86_walk_result r_;				\
		struct x86_exception ex_;				\
		ASSERT_EQ(walk(la, access, &r_, &ex_), X86_WALK_OK);	\
		EXPECT_EQ(r_.gpa, want);				\
	} while (0)

TEST(no_paging_is_identity)
{
	struct x86_walk_result r;
	struct x86_exception ex;

	reset(PG_4);
	env.cr0 = X86_CR0_PE;
	ASSERT_EQ(walk(0xfffff123, PFERR_WRITE_MASK | PFERR_USER_MASK, &r, &ex),
		  X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0xfffff123);
	EXPECT_TRUE(r.writable && r.user && !r.nx);
	EXPECT_EQ(cmpxchg_calls, 0);
}

TEST(two_level_4k)
{
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 pte, pde;

	reset(PG_32);
	pte = map(0x12345678, 0xabcde000, 1, full);
	pde = env.cr3 + (0x12345678 >> 22) * 4;
	ASSERT_EQ(walk(0x12345678, 0, &r, &ex), X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0xabcde678);
	EXPECT_EQ(r.page_size, 4096);
	EXPECT_TRUE(r.writable && r.user && !r.nx);
	/* A on both levels; D only on a write, only on the leaf. */
	EXPECT_EQ(get(pde, 4) & (A | D), A);
	EXPECT_EQ(get(pte, 4) & (A | D), A);
	EXPECT_GPA(0x12345678, PFERR_WRITE_MASK, 0xabcde678);
	EXPECT_EQ(get(pte, 4) & (A | D), A | D);
	EXPECT_EQ(get(pde, 4) & D, 0);

	EXPECT_PF(0x12346000, 0, 0);			/* PTE not present */
	EXPECT_PF(0x52345000, PFERR_WRITE_MASK | PFERR_USER_MASK, 6);
	/* 32-bit paging has no reserved bits in a 4K PTE. */
	put(pte, get(pte, 4) | 0x100 | 0x80, 4);
	EXPECT_GPA(0x12345000, 0, 0xabcde000);
}

TEST(two_level_4m_pages_and_pse36)
{
	static const u64 b[1] = { ALL };
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 pde;

	reset(PG_32);
	pde = map(0x80123456, 0x40400000, 2, b);
	ASSERT_EQ(walk(0x80123456, PFERR_WRITE_MASK, &r, &ex), X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x40523456);
	EXPECT_EQ(r.page_size, 4 << 20);
	EXPECT_EQ(get(pde, 4) & (A | D), A | D);

	/* PSE-36: PDE bits 20:13 are physical-address bits 39:32. */
	pde = map(0x00c00000, 0xab00400000ULL, 2, b);
	EXPECT_GPA(0x00c01234, 0, 0xab00401234ULL);
	/* ... reserved above MAXPHYADDR, and bit 21 always. */
	env.maxphyaddr = 36;
	EXPECT_PF(0x00c01234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pde, (get(pde, 4) & ~0x1fe000ULL) | (0xfULL << 13), 4);
	EXPECT_GPA(0x00c01234, 0, 0xf00401234ULL);
	env.maxphyaddr = 48;
	put(pde, get(pde, 4) | (1 << 21), 4);
	EXPECT_PF(0x00c01234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);

	/* Without CR4.PSE the PS bit is ignored: the PDE points to a table. */
	reset(PG_32);
	env.cr4 = 0;
	map(0x00400000, 0x7000, 1, full);
	pde = env.cr3 + 4;
	put(pde, get(pde, 4) | PS, 4);
	EXPECT_GPA(0x00400000, 0, 0x7000);
	/* With it, the same PDE (table at 0x2000) maps a 4 MiB page. */
	env.cr4 = X86_CR4_PSE;
	EXPECT_GPA(0x00400000, 0, 0x100000000ULL);
}

TEST(pae)
{
	static const u64 pdpte_bits[3] = { P, ALL, ALL };
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 pte, pdpte, e2m;

	reset(PG_PAE);
	env.cr3 = 0x20;			/* 32-byte aligned, not page aligned */
	pte = map(0xc0201234, 0x123456000ULL, 1, pdpte_bits);
	ASSERT_EQ(walk(0xc0201234, PFERR_WRITE_MASK, &r, &ex), X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x123456234ULL);
	EXPECT_EQ(r.page_size, 4096);
	pdpte = 0x20 + 3 * 8;
	EXPECT_EQ(get(pdpte, 8), get(pdpte, 8) & ~(A | D));	/* no A bit */
	EXPECT_EQ(get(pte, 8) & (A | D), A | D);

	e2m = map(0x40000000 + 0x200000, 0x40000000ULL, 2, pdpte_bits);
	ASSERT_EQ(walk(0x40212345, 0, &r, &ex), X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x40012345ULL);
	EXPECT_EQ(r.page_size, 2 << 20);
	put(e2m, get(e2m, 8) | (1ULL << 20), 8);
	EXPECT_PF(0x40212345, 0, 9);

	EXPECT_PF(0x80000000, 0, 0);		/* PDPTE not present */
	/* PDPTE: R/W, U/S (2:1), 8:5 and 63 are reserved. */
	put(pdpte, get(pdpte, 8) | RW, 8);
	EXPECT_PF(0xc0201234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pdpte, (get(pdpte, 8) & ~RW) | NX, 8);
	EXPECT_PF(0xc0201234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pdpte, get(pdpte, 8) & ~NX, 8);
	EXPECT_GPA(0xc0201234, 0, 0x123456234ULL);
	/* Bit 5 is let through (QEMU's TCG sets it, see walk.c). */
	put(pdpte, get(pdpte, 8) | A, 8);
	EXPECT_GPA(0xc0201234, 0, 0x123456234ULL);
	put(pdpte, get(pdpte, 8) | (1ULL << 6), 8);
	EXPECT_PF(0xc0201234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pdpte, get(pdpte, 8) & ~(A | (1ULL << 6)), 8);
	/* PAE entries reserve 62:MAXPHYADDR (long mode ignores 62:52). */
	put(pte, get(pte, 8) | (1ULL << 60), 8);
	EXPECT_PF(0xc0201234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pte, get(pte, 8) & ~(1ULL << 60), 8);
	/* NX: reserved without EFER.NXE. */
	put(pte, get(pte, 8) | NX, 8);
	EXPECT_PF(0xc0201234, PFERR_FETCH_MASK, 0x11);
	env.efer = 0;
	EXPECT_PF(0xc0201234, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
}

TEST(long_mode_4k_2m_1g)
{
	static const u64 bits[4] = { ALL, ALL, ALL, ALL };
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 e;

	reset(PG_4);
	e = map(0x00007fffdeadb000ULL, 0xfffff000ULL, 1, bits);
	ASSERT_EQ(walk(0x00007fffdeadbeefULL, PFERR_WRITE_MASK, &r, &ex),
		  X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0xfffffeefULL);
	EXPECT_EQ(r.page_size, 4096);
	EXPECT_EQ(get(e, 8) & (A | D), A | D);

	e = map(0xffff800000200000ULL, 0x80000000ULL, 2, bits);
	ASSERT_EQ(walk(0xffff8000002abcdeULL, 0, &r, &ex), X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x800abcdeULL);
	EXPECT_EQ(r.page_size, 2 << 20);
	EXPECT_EQ(get(e, 8) & (A | D), A);
	put(e, get(e, 8) | (1ULL << 13), 8);
	EXPECT_PF(0xffff8000002abcdeULL, 0, 9);
	put(e, (get(e, 8) & ~(1ULL << 13)) | (1ULL << 12), 8);	/* PAT */
	EXPECT_GPA(0xffff8000002abcdeULL, 0, 0x800abcdeULL);

	e = map(0x0000004000000000ULL, 0x40000000ULL, 3, bits);
	ASSERT_EQ(walk(0x0000004012345678ULL, PFERR_WRITE_MASK, &r, &ex),
		  X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x52345678ULL);
	EXPECT_EQ(r.page_size, 1 << 30);
	EXPECT_EQ(get(e, 8) & (A | D), A | D);

	/* 1G pages reserve 29:13, 2M pages 20:13. */
	put(e, get(e, 8) | (1ULL << 20), 8);
	EXPECT_PF(0x0000004012345678ULL, 0, 9);
	put(e, get(e, 8) & ~(1ULL << 20), 8);
	env.gbpages = false;
	EXPECT_PF(0x0000004012345678ULL, 0, 9);
	env.gbpages = true;

	/* MAXPHYADDR: bits above it are reserved. */
	env.maxphyaddr = 40;
	e = map(0x1000, 0x10000000000ULL, 1, bits);
	EXPECT_PF(0x1000, 0, 9);
	env.maxphyaddr = 41;
	EXPECT_GPA(0x1000, 0, 0x10000000000ULL);
	/* ... but 62:52 are ignored in long mode. */
	put(e, get(e, 8) | (0x7ffULL << 52), 8);
	EXPECT_GPA(0x1000, 0, 0x10000000000ULL);
}

TEST(long_mode_top_level_reserved_bits)
{
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 pml4e;

	reset(PG_4);
	map(0x2000, 0x5000, 1, full);
	pml4e = env.cr3;
	put(pml4e, get(pml4e, 8) | PS, 8);
	EXPECT_PF(0x2000, 0, 9);
	put(pml4e, get(pml4e, 8) & ~PS, 8);
	/* Bit 8: reserved on AMD only. */
	put(pml4e, get(pml4e, 8) | 0x100, 8);
	EXPECT_PF(0x2000, 0, 9);
	env.amd = false;
	EXPECT_GPA(0x2000, 0, 0x5000);
	/* A hole further down is simply not present. */
	ASSERT_EQ(walk(0x200000, 0, &r, &ex), X86_WALK_FAULT);
	EXPECT_EQ(ex.error_code, 0);
}

TEST(five_level)
{
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 e;

	reset(PG_5);
	e = map(0x00ff123456789000ULL, 0x3000, 1, full);
	ASSERT_EQ(walk(0x00ff123456789abcULL, PFERR_WRITE_MASK, &r, &ex),
		  X86_WALK_OK);
	EXPECT_EQ(r.gpa, 0x3abc);
	EXPECT_EQ(get(e, 8) & (A | D), A | D);
	/* The PML5E got its A bit, and bit 7 is reserved there. */
	e = env.cr3 + ((0x00ff123456789000ULL >> 48) & 511) * 8;
	EXPECT_EQ(get(e, 8) & A, A);
	put(e, get(e, 8) | PS, 8);
	EXPECT_PF(0x00ff123456789abcULL, 0, 9);
	/* Another 57-bit address in another PML5 slot is not mapped. */
	EXPECT_PF(0xff00000000000000ULL, 0, 0);
}

TEST(accessed_dirty_updates)
{
	static const u64 bits[4] = { ALL, ALL, ALL, ALL };
	u64 e;

	reset(PG_4);
	e = map(0x5000, 0x9000, 1, bits);
	/* A faulting walk changes nothing. */
	put(e, get(e, 8) & ~RW, 8);
	EXPECT_PF(0x5000, PFERR_WRITE_MASK, 3);
	EXPECT_EQ(get(env.cr3, 8) & A, 0);
	EXPECT_EQ(get(e, 8) & (A | D), 0);
	EXPECT_EQ(cmpxchg_calls, 0);
	/* A probe changes nothing either. */
	EXPECT_GPA(0x5000, X86_WALK_NO_AD, 0x9000);
	EXPECT_EQ(get(e, 8) & A, 0);
	/* A read sets A on the four levels, once. */
	EXPECT_GPA(0x5000, 0, 0x9000);
	EXPECT_EQ(cmpxchg_calls, 4);
	EXPECT_EQ(get(env.cr3, 8) & A, A);
	EXPECT_EQ(get(e, 8) & (A | D), A);
	EXPECT_GPA(0x5000, 0, 0x9000);
	EXPECT_EQ(cmpxchg_calls, 4);
	/* Without WP, a supervisor write to a read-only page dirties it. */
	env.cr0 &= ~X86_CR0_WP;
	EXPECT_GPA(0x5000, PFERR_WRITE_MASK, 0x9000);
	EXPECT_EQ(get(e, 8) & (A | D), A | D);
	EXPECT_EQ(cmpxchg_calls, 5);
}

TEST(accessed_dirty_races)
{
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 e;

	reset(PG_4);
	e = map(0x5000, 0x9000, 1, full);
	/* Another CPU sets A under us twice: the walk starts over. */
	cmpxchg_fail = 2;
	cmpxchg_changes = true;
	EXPECT_GPA(0x5000, PFERR_WRITE_MASK, 0x9000);
	EXPECT_EQ(get(e, 8) & (A | D), A | D);
	/* The entry keeps changing: give up, for the caller to retry. */
	reset(PG_4);
	map(0x5000, 0x9000, 1, full);
	cmpxchg_fail = 1000;
	ASSERT_EQ(walk(0x5000, 0, &r, &ex), X86_WALK_RETRY);
}

TEST(tables_outside_ram)
{
	struct x86_walk_result r;
	struct x86_exception ex;
	u64 e;

	reset(PG_4);
	env.cr3 = 0x100000000ULL;
	ASSERT_EQ(walk(0x5000, 0, &r, &ex), X86_WALK_ERROR);
	reset(PG_4);
	map(0x5000, 0x9000, 1, full);
	e = env.cr3;
	put(e, 0x100000000ULL | ALL, 8);
	ASSERT_EQ(walk(0x5000, 0, &r, &ex), X86_WALK_ERROR);
	reset(PG_32);
	env.cr3 = 0xfffff000;
	ASSERT_EQ(walk(0x5000, 0, &r, &ex), X86_WALK_ERROR);
}

TEST(instruction_fetch_error_code)
{
	reset(PG_32);
	/* 32-bit paging: I/D only with SMEP (NXE alone does not count). */
	EXPECT_PF(0x5000, PFERR_FETCH_MASK, 0);
	env.efer = EFER_NX;
	EXPECT_PF(0x5000, PFERR_FETCH_MASK, 0);
	env.cr4 |= X86_CR4_SMEP;
	EXPECT_PF(0x5000, PFERR_FETCH_MASK, 0x10);
	reset(PG_PAE);
	env.cr3 = 0x20;
	put(0x20, new_table() | P, 8);
	EXPECT_PF(0x5000, PFERR_FETCH_MASK, 0x10);	/* PAE with NXE */
	env.efer = 0;
	EXPECT_PF(0x5000, PFERR_FETCH_MASK, 0);
	reset(PG_4);
	EXPECT_PF(0x5000, PFERR_FETCH_MASK | PFERR_USER_MASK, 0x14);
}

/*
 * The permission rules, from the manuals: a user access needs U/S at every
 * level, and R/W at every level to write; a supervisor write needs R/W at
 * every level only with CR0.WP; a fetch from an NX page faults (EFER.NXE);
 * SMEP stops supervisor fetches from user pages; SMAP stops supervisor
 * data accesses to user pages unless RFLAGS.AC is set for an explicit one.
 */
static bool model_allows(bool user, bool write, bool fetch, bool implicit,
			 bool ac, bool u_all, bool w_all, bool nx, bool wp,
			 bool smep, bool smap)
{
	if (fetch) {
		if (nx)
			return false;
		if (user)
			return u_all;
		return !(smep && u_all);
	}
	if (user)
		return u_all && (!write || w_all);
	if (u_all && smap && (implicit || !ac))
		return false;
	return !(write && !w_all && wp);
}

TEST(permission_matrix)
{
	int cases = 0, bad = 0, mode;

	for (mode = PG_32; mode <= PG_4; mode++) {
		unsigned int combo;

		for (combo = 0; combo < (1U << 13); combo++) {
			bool u1 = combo & 1, u2 = combo & 2;
			bool w1 = combo & 4, w2 = combo & 8;
			bool nx = combo & 16, wp = combo & 32;
			bool smep = combo & 64, smap = combo & 128;
			bool ac = combo & 256, implicit = combo & 512;
			bool user = combo & 1024, write = combo & 2048;
			bool fetch = combo & 4096;
			u64 b[4], la = 0x40201000, leaf;
			struct x86_walk_result r;
			struct x86_exception ex;
			enum x86_walk_status st;
			bool allow;
			u32 access = 0, want;

			if ((user && implicit) || (write && fetch) ||
			    (nx && mode == PG_32))
				continue;
			reset(mode);
			/* The upper level(s) and the leaf differ; the rest full. */
			b[0] = P | (u1 ? US : 0) | (w1 ? RW : 0);
			b[1] = P | (u2 ? US : 0) | (w2 ? RW : 0) | (nx ? NX : 0);
			b[2] = b[3] = ALL;
			if (mode == PG_PAE) {
				b[0] = P;	/* PDPTEs have no permissions */
				b[1] = P | (u1 ? US : 0) | (w1 ? RW : 0);
				b[2] = P | (u2 ? US : 0) | (w2 ? RW : 0) |
				       (nx ? NX : 0);
			}
			if (mode == PG_4) {
				b[0] = ALL;
				b[1] = ALL;
				b[2] = P | (u1 ? US : 0) | (w1 ? RW : 0);
				b[3] = P | (u2 ? US : 0) | (w2 ? RW : 0) |
				       (nx ? NX : 0);
			}
			leaf = map(la, 0x777000, 1, b);
			(void)leaf;
			env.cr0 = X86_CR0_PE | X86_CR0_PG | (wp ? X86_CR0_WP : 0);
			env.cr4 |= (smep ? X86_CR4_SMEP : 0) |
				   (smap ? X86_CR4_SMAP : 0);
			if (user)
				access |= PFERR_USER_MASK;
			if (write)
				access |= PFERR_WRITE_MASK;
			if (fetch)
				access |= PFERR_FETCH_MASK;
			if (ac)
				access |= X86_WALK_AC;
			if (implicit)
				access |= X86_WALK_IMPLICIT;

			allow = model_allows(user, write, fetch, implicit, ac,
					     u1 && u2, w1 && w2, nx, wp, smep,
					     smap);
			want = PFERR_PRESENT_MASK | (write ? PFERR_WRITE_MASK : 0) |
			       (user ? PFERR_USER_MASK : 0);
			if (fetch && (smep || mode != PG_32))
				want |= PFERR_FETCH_MASK;
			st = walk(la, access, &r, &ex);
			cases++;
			if (allow ? st == X86_WALK_OK && r.gpa == 0x777000 &&
				    r.writable == (w1 && w2) &&
				    r.user == (u1 && u2) && r.nx == nx
				  : st == X86_WALK_FAULT && ex.error_code == want)
				continue;
			if (bad++ < 10)
				TH_LOG("mode %d combo %#x: status %d ec %#x, "
				       "model %s ec %#x", mode, combo, st,
				       ex.error_code, allow ? "allows" : "faults",
				       want);
		}
	}
	TH_LOG("%d combinations checked, %d differ from the model", cases, bad);
	ASSERT_EQ(bad, 0);
}

TEST(protection_keys)
{
	static const u64 key5[4] = { ALL, ALL, ALL, ALL | (5ULL << 59) };
	u64 e;

	reset(PG_4);
	e = map(0x5000, 0x9000, 1, key5);
	env.cr4 |= X86_CR4_PKE;
	/* Key 5: access-disable. */
	env.pkru = 1U << 10;
	EXPECT_PF(0x5000, PFERR_USER_MASK, 0x25);
	EXPECT_PF(0x5000, 0, 0x21);			/* supervisor too */
	EXPECT_GPA(0x5000, PFERR_FETCH_MASK | PFERR_USER_MASK, 0x9000);
	/* Write-disable: user writes; supervisor writes only with WP. */
	env.pkru = 2U << 10;
	EXPECT_GPA(0x5000, PFERR_USER_MASK, 0x9000);
	EXPECT_PF(0x5000, PFERR_USER_MASK | PFERR_WRITE_MASK, 0x27);
	EXPECT_PF(0x5000, PFERR_WRITE_MASK, 0x23);
	env.cr0 &= ~X86_CR0_WP;
	EXPECT_GPA(0x5000, PFERR_WRITE_MASK, 0x9000);
	/* Other keys, supervisor pages and CR4.PKE clear are unaffected. */
	env.pkru = ~(3U << 10);
	EXPECT_GPA(0x5000, PFERR_USER_MASK | PFERR_WRITE_MASK, 0x9000);
	env.pkru = ~0U;
	put(e, get(e, 8) & ~US, 8);
	EXPECT_GPA(0x5000, PFERR_WRITE_MASK, 0x9000);
	put(e, get(e, 8) | US, 8);
	env.cr4 &= ~X86_CR4_PKE;
	EXPECT_GPA(0x5000, PFERR_USER_MASK | PFERR_WRITE_MASK, 0x9000);
}

TEST(not_present_beats_permissions)
{
	reset(PG_4);
	/* A not-present entry below a supervisor-only one: P=0 in the code. */
	map(0x5000, 0x9000, 1, (const u64[4]) { P, P, P, 0 });
	EXPECT_PF(0x5000, PFERR_USER_MASK | PFERR_WRITE_MASK, 6);
	/* Reserved bits beat permissions. */
	map(0x6000, 0x9000 | (1ULL << 50), 1, (const u64[4]) { P, P, P, P });
	EXPECT_PF(0x6000, PFERR_USER_MASK | PFERR_WRITE_MASK, 0xf);
}

/* Random page tables, random state: only defined results. */
TEST(fuzz_random_tables)
{
	u64 seed = 0x2545f4914f6cdd1dULL;
	int i, j, st[4] = { 0 };

	for (i = 0; i < 20000; i++) {
		struct x86_walk_result r;
		struct x86_exception ex;
		enum x86_walk_status s;
		u64 la;

#define NEXT() (seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17)
		if (i % 500 == 0) {
			reset(PG_4);
			/* Entries pointing mostly into the buffer. */
			for (j = 0; j < (int)(MEM_SIZE / 8); j++) {
				u64 v = NEXT();

				if (v % 3)
					v = (v & ~0x000ffffffffff000ULL) |
					    (v & (MEM_SIZE - 1) & ~0xfffULL);
				put(j * 8ULL, v, 8);
			}
		}
		env.cr0 = X86_CR0_PE | X86_CR0_PG | (NEXT() & X86_CR0_WP);
		env.cr4 = NEXT() & (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_LA57 |
				    X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE);
		env.efer = NEXT() & EFER_NX;
		if ((env.cr4 & X86_CR4_PAE) && NEXT() % 2)
			env.efer |= EFER_LMA | EFER_LME;
		env.cr3 = NEXT() & (MEM_SIZE - 1) & ~0x1fULL;
		env.maxphyaddr = 36 + NEXT() % 17;
		env.gbpages = NEXT() & 1;
		env.amd = NEXT() & 1;
		env.pkru = NEXT();
		la = NEXT();
		if (!(env.efer & EFER_LMA))
			la &= 0xffffffffULL;
		s = walk(la, NEXT() & (PFERR_WRITE_MASK | PFERR_USER_MASK |
				       PFERR_FETCH_MASK | X86_WALK_AC |
				       X86_WALK_NO_AD), &r, &ex);
		ASSERT_TRUE(s <= X86_WALK_RETRY);
		st[s]++;
		if (s == X86_WALK_OK)
			ASSERT_LT(r.gpa, 1ULL << env.maxphyaddr);
		if (s == X86_WALK_FAULT) {
			ASSERT_EQ(ex.vector, X86_TRAP_PF);
			ASSERT_EQ(ex.address, la);
			ASSERT_EQ(ex.error_code & ~0x3fU, 0);
		}
#undef NEXT
	}
	TH_LOG("ok %d, #PF %d, tables outside RAM %d, retry %d", st[0], st[1],
	       st[2], st[3]);
}

TEST_HARNESS_MAIN
