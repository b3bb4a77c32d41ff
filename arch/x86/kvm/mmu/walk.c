// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest page-table walker (pure logic, see walk.h).
 *
 * One walk reads the entries from the root down, checking each for the
 * present bit and reserved bits, and accumulating R/W, U/S and NX over the
 * levels.  Once the leaf is found the access is checked against the
 * combined permissions; only a translation that succeeds sets accessed and
 * dirty bits.  If another agent changed an entry between our read and our
 * compare-and-exchange, the walk starts again from the root.
 */
#ifndef NKVM_USERSPACE
#include <linux/kernel.h>
#endif
#include "walk.h"

/*
 * How an entry is read: through env->read_pte, unless the file that
 * includes this one defines a direct read (the kernel's mmio.c does, so
 * that the read, once per level of every walk, is inlined).
 */
#ifndef X86_WALK_READ_PTE
#define X86_WALK_READ_PTE(env, gpa, pte, size) \
	((env)->read_pte((env)->opaque, (gpa), (pte), (size)))
#endif

#define PTE_P		BIT_ULL(0)
#define PTE_RW		BIT_ULL(1)
#define PTE_US		BIT_ULL(2)
#define PTE_A		BIT_ULL(5)
#define PTE_D		BIT_ULL(6)
#define PTE_PS		BIT_ULL(7)
#define PTE_NX		BIT_ULL(63)

/* The walk is retried this often when A/D updates race, then given up. */
#define WALK_MAX_TRIES	16

#define MAX_LEVELS	5

/* What a walk found at one level, for the A/D updates. */
struct walk_entry {
	u64 gpa;
	u64 pte;
	u8 size;	/* 4 or 8 bytes */
	bool has_a;	/* the entry has an accessed bit (not PAE PDPTEs) */
};

struct walk {
	const struct x86_walk_env *env;
	u64 la;
	u32 access;
	struct walk_entry e[MAX_LEVELS];
	int n;			/* entries used, root first */
	bool writable, user, nx;
	u64 gpa, page_size;
	u32 pk;			/* protection key of the leaf */
};

/* What one pass of the walk concluded. */
enum { WALK_DONE, WALK_AGAIN, WALK_LEAF };

static enum x86_walk_status pf(struct walk *w, u32 bits,
			       struct x86_exception *fault)
{
	const struct x86_walk_env *env = w->env;
	u32 ec = bits | (w->access & (PFERR_WRITE_MASK | PFERR_USER_MASK));

	/* I/D is reported only when NX or SMEP can make fetches fault. */
	if ((w->access & PFERR_FETCH_MASK) &&
	    ((env->cr4 & X86_CR4_SMEP) ||
	     ((env->cr4 & X86_CR4_PAE) && (env->efer & EFER_NX))))
		ec |= PFERR_FETCH_MASK;
	fault->vector = X86_TRAP_PF;
	fault->has_error_code = true;
	fault->error_code = ec;
	fault->address = w->la;
	return X86_WALK_FAULT;
}

/* (Inlined: it runs once per level of every walk.) */
static __always_inline int read_entry(struct walk *w, u64 gpa,
				      unsigned int size, u64 *pte)
{
	*pte = 0;
	if (X86_WALK_READ_PTE(w->env, gpa, pte, size))
		return -1;
	if (size == 4)
		*pte &= 0xffffffffULL;
	if (w->n < MAX_LEVELS)
		w->e[w->n++] = (struct walk_entry) {
			.gpa = gpa, .pte = *pte, .size = size, .has_a = true,
		};
	return 0;
}

/* Bits M..hi (M = MAXPHYADDR) of an entry, reserved as physical address. */
static u64 pa_rsvd(const struct x86_walk_env *env, int hi)
{
	int m = env->maxphyaddr ? env->maxphyaddr : 52;

	return m <= hi ? GENMASK_ULL(hi, m) : 0;
}

static u64 pa_mask(const struct x86_walk_env *env)
{
	int m = env->maxphyaddr ? env->maxphyaddr : 52;

	if (m > 52)
		m = 52;
	return GENMASK_ULL(m - 1, 12);
}

/* Accumulate the permissions of a table or leaf entry of PAE/long mode. */
static void accumulate(struct walk *w, u64 pte)
{
	w->writable &= !!(pte & PTE_RW);
	w->user &= !!(pte & PTE_US);
	if ((w->env->efer & EFER_NX) && (pte & PTE_NX))
		w->nx = true;
}

/*
 * 32-bit paging: a page directory of 1024 4-byte entries, 4 MiB pages when
 * CR4.PSE is set (PSE-36: bits 20:13 hold physical-address bits 39:32).
 */
static int walk_32(struct walk *w, struct x86_exception *fault,
		   enum x86_walk_status *st)
{
	const struct x86_walk_env *env = w->env;
	u32 la = (u32)w->la;
	u64 pde, pte, gpa;

	gpa = (env->cr3 & 0xfffff000ULL) + ((la >> 22) << 2);
	if (read_entry(w, gpa, 4, &pde))
		goto error;
	if (!(pde & PTE_P))
		goto not_present;
	w->writable = !!(pde & PTE_RW);
	w->user = !!(pde & PTE_US);
	if ((pde & PTE_PS) && (env->cr4 & X86_CR4_PSE)) {
		int m = env->maxphyaddr ? env->maxphyaddr : 52;
		u64 rsvd;

		m = m > 40 ? 40 : m < 32 ? 32 : m;
		/* Bits 20:13 carry PA 39:32; those at or above M, and 21. */
		rsvd = GENMASK_ULL(21, 13 + m - 32);
		if (pde & rsvd) {
			*st = pf(w, PFERR_PRESENT_MASK | PFERR_RSVD_MASK, fault);
			return WALK_DONE;
		}
		w->gpa = (pde & 0xffc00000ULL) |
			 (((pde >> 13) & 0xffULL) << 32) | (la & 0x3fffff);
		w->page_size = 1ULL << 22;
		return WALK_LEAF;
	}
	gpa = (pde & 0xfffff000ULL) + (((la >> 12) & 0x3ff) << 2);
	if (read_entry(w, gpa, 4, &pte))
		goto error;
	if (!(pte & PTE_P))
		goto not_present;
	w->writable &= !!(pte & PTE_RW);
	w->user &= !!(pte & PTE_US);
	w->gpa = (pte & 0xfffff000ULL) | (la & 0xfff);
	w->page_size = 1ULL << 12;
	return WALK_LEAF;

not_present:
	*st = pf(w, 0, fault);
	return WALK_DONE;
error:
	*st = X86_WALK_ERROR;
	return WALK_DONE;
}

/* PAE, 4-level and 5-level paging: 512 8-byte entries per table. */
static int walk_64(struct walk *w, struct x86_exception *fault,
		   enum x86_walk_status *st)
{
	const struct x86_walk_env *env = w->env;
	bool pae = !(env->efer & EFER_LMA);
	u64 nx_rsvd = (env->efer & EFER_NX) ? 0 : PTE_NX;
	u64 high = pa_rsvd(env, pae ? 62 : 51) | nx_rsvd;
	u64 mask = pa_mask(env);	/* (once, not per level) */
	u64 table, pte, rsvd;
	int level;

	if (pae) {
		u64 gpa = (env->cr3 & 0xffffffe0ULL) + ((w->la >> 30) & 3) * 8;

		if (read_entry(w, gpa, 8, &pte))
			goto error;
		w->e[w->n - 1].has_a = false;
		if (!(pte & PTE_P))
			goto not_present;
		/*
		 * PDPTEs have no permission bits: 63, 8:5 and 2:1 reserved.
		 * Bit 5 excepted: QEMU's TCG (the SVM bed) sets it as an A
		 * bit when it walks the tables under nested paging, and
		 * Linux's walker never checks PDPTE bits after CR3 loads.
		 */
		rsvd = pa_rsvd(env, 63) | GENMASK_ULL(8, 6) | GENMASK_ULL(2, 1);
		if (pte & rsvd)
			goto reserved;
		table = pte & mask;
		level = 2;
	} else {
		table = env->cr3 & mask;
		level = (env->cr4 & X86_CR4_LA57) ? 5 : 4;
	}

	for (;; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		u64 gpa = table + ((w->la >> shift) & 511) * 8;
		bool leaf;

		if (read_entry(w, gpa, 8, &pte))
			goto error;
		if (!(pte & PTE_P))
			goto not_present;

		rsvd = high;
		leaf = level == 1;
		switch (level) {
		case 5:
		case 4:
			rsvd |= PTE_PS | (env->amd ? BIT_ULL(8) : 0);
			break;
		case 3:
			if (!(pte & PTE_PS))
				break;
			rsvd |= env->gbpages ? GENMASK_ULL(29, 13) : PTE_PS;
			leaf = true;
			break;
		case 2:
			if (!(pte & PTE_PS))
				break;
			rsvd |= GENMASK_ULL(20, 13);
			leaf = true;
			break;
		}
		if (pte & rsvd)
			goto reserved;
		accumulate(w, pte);
		if (leaf) {
			w->page_size = 1ULL << shift;
			w->gpa = (pte & mask & ~(w->page_size - 1)) |
				 (w->la & (w->page_size - 1));
			w->pk = (pte >> 59) & 15;
			return WALK_LEAF;
		}
		table = pte & mask;
	}

not_present:
	*st = pf(w, 0, fault);
	return WALK_DONE;
reserved:
	*st = pf(w, PFERR_PRESENT_MASK | PFERR_RSVD_MASK, fault);
	return WALK_DONE;
error:
	*st = X86_WALK_ERROR;
	return WALK_DONE;
}

/* The protection checks on the combined permissions; 0 if allowed. */
static u32 check_access(struct walk *w)
{
	const struct x86_walk_env *env = w->env;
	u32 access = w->access;
	bool write = access & PFERR_WRITE_MASK;
	bool user = access & PFERR_USER_MASK;
	bool fetch = access & PFERR_FETCH_MASK;

	if (user) {
		if (!w->user)
			return PFERR_PRESENT_MASK;
		if (write && !w->writable)
			return PFERR_PRESENT_MASK;
	} else {
		if (write && !w->writable && (env->cr0 & X86_CR0_WP))
			return PFERR_PRESENT_MASK;
		if (w->user && fetch && (env->cr4 & X86_CR4_SMEP))
			return PFERR_PRESENT_MASK;
		if (w->user && !fetch && (env->cr4 & X86_CR4_SMAP) &&
		    ((access & X86_WALK_IMPLICIT) || !(access & X86_WALK_AC)))
			return PFERR_PRESENT_MASK;
	}
	if (fetch && w->nx)
		return PFERR_PRESENT_MASK;

	/* Protection keys: data accesses to user pages in long mode. */
	if ((env->cr4 & X86_CR4_PKE) && (env->efer & EFER_LMA) && w->user &&
	    !fetch) {
		bool ad = env->pkru & (1U << (2 * w->pk));
		bool wd = env->pkru & (2U << (2 * w->pk));

		if (ad || (wd && write && (user || (env->cr0 & X86_CR0_WP))))
			return PFERR_PRESENT_MASK | PFERR_PK_MASK;
	}
	return 0;
}

/* Set A on every entry used and D on the leaf of a write. */
static int update_ad(struct walk *w, enum x86_walk_status *st)
{
	const struct x86_walk_env *env = w->env;
	int i;

	for (i = 0; i < w->n; i++) {
		struct walk_entry *e = &w->e[i];
		u64 new = e->pte;
		int r;

		if (e->has_a)
			new |= PTE_A;
		if (i == w->n - 1 && (w->access & PFERR_WRITE_MASK))
			new |= PTE_D;
		if (new == e->pte)
			continue;
		r = env->cmpxchg_pte(env->opaque, e->gpa, e->pte, new, e->size);
		if (r == 1)
			return WALK_AGAIN;
		if (r) {
			*st = X86_WALK_ERROR;
			return WALK_DONE;
		}
	}
	*st = X86_WALK_OK;
	return WALK_DONE;
}

static int walk_once(struct walk *w, struct x86_walk_result *res,
		     struct x86_exception *fault, enum x86_walk_status *st)
{
	const struct x86_walk_env *env = w->env;
	u32 bits;
	int r;

	w->n = 0;
	w->writable = true;
	w->user = true;
	w->nx = false;
	w->pk = 0;

	if (!(env->cr4 & X86_CR4_PAE))
		r = walk_32(w, fault, st);
	else
		r = walk_64(w, fault, st);
	if (r != WALK_LEAF)
		return r;

	bits = check_access(w);
	if (bits) {
		*st = pf(w, bits, fault);
		return WALK_DONE;
	}
	if (!(w->access & X86_WALK_NO_AD)) {
		r = update_ad(w, st);
		if (r != WALK_DONE || *st != X86_WALK_OK)
			return r;
	}
	*res = (struct x86_walk_result) {
		.gpa = w->gpa, .page_size = w->page_size,
		.writable = w->writable, .user = w->user, .nx = w->nx,
	};
	*st = X86_WALK_OK;
	return WALK_DONE;
}

enum x86_walk_status x86_walk(const struct x86_walk_env *env, u64 la,
			      u32 access, struct x86_walk_result *res,
			      struct x86_exception *fault)
{
	enum x86_walk_status st = X86_WALK_RETRY;
	struct walk w X86_NOINIT;
	int i;

	if (!(env->cr0 & X86_CR0_PG)) {
		*res = (struct x86_walk_result) {
			.gpa = la, .page_size = 1ULL << 32,
			.writable = true, .user = true,
		};
		return X86_WALK_OK;
	}
	/*
	 * Not cleared (it is large, X86_NOINIT): walk_once() sets up the
	 * rest, and an entry, the leaf's GPA and size are written before
	 * they are read.
	 */
	w.env = env;
	w.la = la;
	w.access = access;
	for (i = 0; i < WALK_MAX_TRIES; i++)
		if (walk_once(&w, res, fault, &st) == WALK_DONE)
			return st;
	return X86_WALK_RETRY;
}
