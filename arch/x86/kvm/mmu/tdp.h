/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the core of the two-dimensional paging MMU (NPT and EPT).
 *
 * The guest-physical map is a tree of 4 KiB tables.  Every table is a
 * shadow page (struct kvm_mmu_page) with a role (level, direct, access)
 * and the first gfn it maps; valid pages are kept in a hash table by
 * (gfn, role) and on an active list in age order, oldest first.  Only the
 * bits of an entry differ between vendors (struct tdp_bits).
 *
 * This file and tdp.c are pure logic: they never sleep, never allocate and
 * never flush.  Table pages come from a struct tdp_cache the caller filled
 * beforehand; pages taken off the map are gathered in a struct tdp_zap,
 * which tells the caller whether a remote TLB flush (and a root reload)
 * must come before they are freed.  Every function is called with the
 * MMU's lock held.  With NKVM_USERSPACE the same code builds as a
 * userspace unit test (tools/testing/unit/test_mmu.c), which supplies
 * the few environment functions declared at the end.
 */
#ifndef _NKVM_TDP_H
#define _NKVM_TDP_H

#ifdef NKVM_USERSPACE
#include "tdp_userspace.h"
#else
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/types.h>
#include <linux/kvm_types.h>
#endif

#define TDP_ROOT_LEVEL		4
#define TDP_MAX_HUGE_LEVEL	3	/* 1 GiB */
#define TDP_LEVEL_BITS		9
#define TDP_ENTRIES		(1 << TDP_LEVEL_BITS)
#define TDP_ADDR_MASK		0x000ffffffffff000ULL	/* bits 51:12 */

#define TDP_HASH_BITS		12
#define TDP_HASH_SIZE		(1 << TDP_HASH_BITS)

/*
 * One fault needs at most a table per level below the root, and a load
 * needs the root: a cache holding TDP_ROOT_LEVEL pages never runs dry.
 */
#define TDP_CACHE_MIN		TDP_ROOT_LEVEL
#define TDP_CACHE_SIZE		8

/* Pages freed beyond the need when the budget is spent (one batch). */
#define TDP_REFILL_PAGES	16

#define TDP_ACC_EXEC		1
#define TDP_ACC_WRITE		2
#define TDP_ACC_USER		4
#define TDP_ACC_ALL		(TDP_ACC_EXEC | TDP_ACC_WRITE | TDP_ACC_USER)

/* The vendor's entry bits. */
struct tdp_bits {
	u64 present;		/* any of these set: the entry is present */
	u64 table;		/* an entry pointing to a table */
	u64 leaf;		/* a writable 4 KiB leaf mapping RAM */
	u64 writable;		/* the write permission of a leaf */
	u64 huge;		/* a leaf above level 1 (2 MiB, 1 GiB) */
	u64 nx;			/* set in a leaf the guest may not execute */
	u64 exec;		/* cleared in such a leaf */
};

/* tdp_map()'s flags. */
#define TDP_MAP_WRITABLE	1	/* the leaf allows writes */
#define TDP_MAP_NX_HUGE		2	/* huge leaves are not executable */
#define TDP_MAP_EXEC		4	/* an instruction fetch faulted */

union kvm_mmu_page_role {
	u32 word;
	struct {
		u32 level:4;	/* 1 (4 KiB entries) .. TDP_ROOT_LEVEL */
		u32 direct:1;	/* maps guest-physical memory directly */
		u32 access:3;	/* TDP_ACC_* */
		u32 as_id:1;	/* the address space: 1 for SMM */
		u32 pad:23;
	};
};

struct kvm_mmu_page {
	struct list_head link;		/* active list, or a zap list */
	struct hlist_node hash_link;
	gfn_t gfn;			/* first guest frame it maps */
	union kvm_mmu_page_role role;
	bool invalid;			/* zapped: off the hash and the list */
	bool nx_split;			/* made for a fetch instead of a huge leaf */
	struct list_head nx_link;	/* on the MMU's nx_splits, if so */
	int root_count;			/* roots: the MMU's and vCPUs' refs */
	u64 *spt;			/* the table: TDP_ENTRIES entries */
	u64 *parent_pte;		/* entry pointing here; NULL: a root */
};

struct tdp_stats {
	u64 pages_created;
	u64 pages_zapped;		/* for any reason */
	u64 pages_recycled;		/* zapped because the budget was spent */
	u64 pages_shrunk;		/* zapped for the host's memory pressure */
	u64 hash_walks;			/* bucket chains searched */
};

/* Pages a vCPU preallocated, outside the lock, for its next fault. */
struct tdp_cache {
	int nr;
	struct kvm_mmu_page *pages[TDP_CACHE_SIZE];
};

/* Pages taken off the map by one operation. */
struct tdp_zap {
	struct list_head pages;		/* to be freed after the flush */
	bool flush;			/* a remote TLB flush must come first */
	bool reload;			/* a root was zapped: vCPUs reload */
};

struct tdp_mmu {
	struct tdp_bits bits;
	struct hlist_head *hash;	/* TDP_HASH_SIZE buckets */
	struct list_head active;	/* valid pages, oldest first */
	unsigned long nr_pages;		/* valid pages, roots included */
	unsigned long max_pages;	/* the budget for valid pages */
	unsigned long nr_roots;		/* valid roots */
	unsigned long nr_indirect;	/* valid indirect pages: 0, fully direct */
	unsigned long nr_invalid_roots;	/* zapped roots still referenced */
	/* Present leaves by level - 1: 4 KiB, 2 MiB, 1 GiB mappings. */
	unsigned long nr_leaves[TDP_MAX_HUGE_LEVEL];
	/* Valid nx_split tables, oldest first (Linux's nx_lpage_splits). */
	struct list_head nx_splits;
	unsigned long nr_nx_splits;
	struct tdp_stats stats;
};

static inline u64 tdp_level_pages(int level)
{
	return 1ULL << ((level - 1) * TDP_LEVEL_BITS);
}

static inline unsigned int tdp_index(gfn_t gfn, int level)
{
	return (gfn >> ((level - 1) * TDP_LEVEL_BITS)) & (TDP_ENTRIES - 1);
}

static inline bool tdp_present(const struct tdp_mmu *mmu, u64 spte)
{
	return spte & mmu->bits.present;
}

static inline bool tdp_is_leaf(const struct tdp_mmu *mmu, u64 spte, int level)
{
	return tdp_present(mmu, spte) &&
	       (level == 1 || (spte & mmu->bits.huge));
}

static inline bool tdp_is_table(const struct tdp_mmu *mmu, u64 spte, int level)
{
	return tdp_present(mmu, spte) && !tdp_is_leaf(mmu, spte, level);
}

static inline u64 tdp_spte_pfn(u64 spte)
{
	return (spte & TDP_ADDR_MASK) >> PAGE_SHIFT;
}

static inline void tdp_zap_init(struct tdp_zap *zap)
{
	INIT_LIST_HEAD(&zap->pages);
	zap->flush = false;
	zap->reload = false;
}

void tdp_mmu_init(struct tdp_mmu *mmu, const struct tdp_bits *bits,
		  struct hlist_head *hash);

/* Find or create the page for (gfn, role). */
struct kvm_mmu_page *tdp_get_page(struct tdp_mmu *mmu, struct tdp_cache *cache,
				  gfn_t gfn, union kvm_mmu_page_role role);

/* Address spaces: 0, and 1 for SMM; each has its own root. */
#define TDP_NR_AS		2

/*
 * The valid root of address space @as_id, created if there is none, with
 * a reference for the caller.  A new root may exceed the budget: without
 * one nothing runs.  Every page below a root has the root's as_id.
 */
struct kvm_mmu_page *tdp_get_root(struct tdp_mmu *mmu, struct tdp_cache *cache,
				  int as_id, struct tdp_zap *zap);
void tdp_put_root(struct tdp_mmu *mmu, struct kvm_mmu_page *root,
		  struct tdp_zap *zap);
/* The valid root of @as_id, or NULL; no reference taken. */
struct kvm_mmu_page *tdp_current_root(struct tdp_mmu *mmu, int as_id);

/*
 * Map @gfn to host frame @pfn with one leaf of at most @level (@gfn and
 * @pfn equally aligned to it; the leaf maps the aligned block around
 * them), splitting a larger leaf or replacing a table on the way.  With
 * TDP_MAP_NX_HUGE, huge leaves are not executable: a fetch (TDP_MAP_EXEC)
 * maps 4 KiB, and the tables made where a huge leaf would have been are
 * nx_split; no fault replaces an nx_split table with a huge leaf again.
 * Makes room within the budget first, never taking the tables of this
 * path; -ENOSPC if even that cannot make enough (nothing is zapped then).
 */
int tdp_map(struct tdp_mmu *mmu, struct kvm_mmu_page *root,
	    struct tdp_cache *cache, gfn_t gfn, u64 pfn, int level,
	    unsigned int flags, struct tdp_zap *zap);

/* The leaf mapping @gfn (0 if none) and its level. */
u64 tdp_lookup(struct tdp_mmu *mmu, struct kvm_mmu_page *root, gfn_t gfn,
	       int *level);

/* Make the budget allow @need more pages.  0 or -ENOSPC. */
int tdp_make_room(struct tdp_mmu *mmu, unsigned long need,
		  struct tdp_zap *zap);
/* Zap the oldest pages that are not roots, at least @nr if there are. */
unsigned long tdp_zap_oldest(struct tdp_mmu *mmu, unsigned long nr,
			     struct tdp_zap *zap);
/*
 * Zap up to @nr of the oldest nx_split tables, so that huge leaves may come
 * back (Linux's NX huge page recovery).  Returns how many were zapped.
 */
unsigned long tdp_zap_nx_splits(struct tdp_mmu *mmu, unsigned long nr,
				struct tdp_zap *zap);
/* Change the budget, zapping the oldest pages down to it if needed. */
void tdp_set_max_pages(struct tdp_mmu *mmu, unsigned long max,
		       struct tdp_zap *zap);

/*
 * The range operations below act on the valid roots of both address
 * spaces (a guest frame may be mapped in each).
 */
/* Unmap guest frames [start, end) of the valid roots. */
void tdp_zap_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
		   struct tdp_zap *zap);
/*
 * Zap the tables mapping guest frames in [start, end) where @huge_ok says
 * one huge leaf (@level 2 or 3, at @gfn) could map their whole block, so
 * that faults map them large again (dirty logging stopped).
 */
void tdp_zap_collapsible(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
			 bool (*huge_ok)(void *ctx, gfn_t gfn, int level),
			 void *ctx, struct tdp_zap *zap);
/* Remove write access to guest frames [start, end); true if any lost it. */
bool tdp_wrprot_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end);
/*
 * Zap the valid roots: each leaves the hash and the active list at once, its
 * tables go to @zap, and it is freed when its last user puts it.
 */
void tdp_zap_all(struct tdp_mmu *mmu, struct tdp_zap *zap);

/*
 * Environment.  Tables are addressed by physical address in entries;
 * tdp_table_page() finds the shadow page owning a table.
 * tdp_leaf_written() is called, with the lock held, for every writable
 * leaf that is zapped or write-protected (the host page may be dirty).
 */
void tdp_leaf_written(struct tdp_mmu *mmu, u64 spte, int level);

#ifdef NKVM_USERSPACE
u64 tdp_table_pa(const u64 *spt);
u64 *tdp_table_va(u64 pa);
struct kvm_mmu_page *tdp_table_page(const u64 *spt);
#else
static inline u64 tdp_table_pa(const u64 *spt)
{
	return __pa(spt);
}

static inline u64 *tdp_table_va(u64 pa)
{
	return __va(pa);
}

static inline struct kvm_mmu_page *tdp_table_page(const u64 *spt)
{
	return (struct kvm_mmu_page *)page_private(virt_to_page(spt));
}
#endif

#endif /* _NKVM_TDP_H */
