// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the MMU core (arch/x86/kvm/mmu/tdp.c): the shadow-page
 * hash, the active list in age order, batch zapping, recycling within the
 * page budget, -ENOSPC, zapped roots, range zaps and write protection,
 * huge pages split and collapsed, NX huge pages (fetches map 4 KiB, the
 * tables made for them and their recovery).  Table pages come from an ordinary
 * memory pool; "physical" addresses are the pool's virtual addresses.
 */
#include <sys/mman.h>

#include "../nkvm/harness.h"
#include "tdp.h"

/* NPT's bits: P, RW, US, A (tables) and D (leaves), PS for huge leaves. */
static const struct tdp_bits bits = {
	.present = 0x1,
	.table = 0x27,
	.leaf = 0x67,
	.writable = 0x2,
	.huge = 0x80,
	.nx = 1ULL << 63,
};

#define W	TDP_MAP_WRITABLE
#define NXH	TDP_MAP_NX_HUGE
#define X	TDP_MAP_EXEC

#define POOL_PAGES	4096

static u64 *pool;
static struct kvm_mmu_page *owner[POOL_PAGES];
static int free_idx[POOL_PAGES], nr_free;
static unsigned long leaves_written;

static void pool_init(void)
{
	void *p = mmap(NULL, POOL_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	pool = p;
	for (nr_free = 0; nr_free < POOL_PAGES; nr_free++)
		free_idx[nr_free] = POOL_PAGES - 1 - nr_free;
}

static int pool_index(const u64 *spt)
{
	long i = (spt - pool) / (PAGE_SIZE / sizeof(u64));

	ASSERT_TRUE(i >= 0 && i < POOL_PAGES);
	return (int)i;
}

u64 tdp_table_pa(const u64 *spt)
{
	return (u64)(uintptr_t)spt;
}

u64 *tdp_table_va(u64 pa)
{
	return (u64 *)(uintptr_t)pa;
}

struct kvm_mmu_page *tdp_table_page(const u64 *spt)
{
	struct kvm_mmu_page *sp = owner[pool_index(spt)];

	ASSERT_TRUE(sp != NULL);
	return sp;
}

void tdp_leaf_written(struct tdp_mmu *mmu, u64 spte, int level)
{
	leaves_written++;
}

static void topup(struct tdp_cache *cache)
{
	while (cache->nr < TDP_CACHE_MIN) {
		struct kvm_mmu_page *sp = calloc(1, sizeof(*sp));
		int i;

		ASSERT_TRUE(sp != NULL);
		ASSERT_GT(nr_free, 0);
		i = free_idx[--nr_free];
		sp->spt = pool + i * (PAGE_SIZE / sizeof(u64));
		memset(sp->spt, 0, PAGE_SIZE);
		owner[i] = sp;
		cache->pages[cache->nr++] = sp;
	}
}

static void free_sp(struct kvm_mmu_page *sp)
{
	int i = pool_index(sp->spt);

	owner[i] = NULL;
	free_idx[nr_free++] = i;
	free(sp);
}

/* Free a zap list; returns how many pages it held. */
static int free_zap(struct tdp_zap *zap)
{
	struct kvm_mmu_page *sp, *tmp;
	int n = 0;

	list_for_each_entry_safe(sp, tmp, &zap->pages, link) {
		ASSERT_TRUE(sp->invalid);
		list_del(&sp->link);
		free_sp(sp);
		n++;
	}
	return n;
}

/* A VM: the core, its hash, one vCPU's cache and its root. */
struct vm {
	struct tdp_mmu mmu;
	struct hlist_head hash[TDP_HASH_SIZE];
	struct tdp_cache cache;
	struct kvm_mmu_page *root;
	int flushes;
};

static struct vm *vm_new(unsigned long max_pages)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct tdp_zap zap;

	ASSERT_TRUE(vm != NULL);
	pool_init();
	tdp_mmu_init(&vm->mmu, &bits, vm->hash);
	vm->mmu.max_pages = max_pages;
	topup(&vm->cache);
	tdp_zap_init(&zap);
	vm->root = tdp_get_root(&vm->mmu, &vm->cache, 0, &zap);
	ASSERT_TRUE(vm->root != NULL);
	ASSERT_EQ(free_zap(&zap), 0);
	return vm;
}

/* Map like a fault does; returns tdp_map's result, counts flushes. */
static int map(struct vm *vm, gfn_t gfn, u64 pfn, int level,
	       unsigned int flags)
{
	struct tdp_zap zap;
	int r;

	topup(&vm->cache);
	tdp_zap_init(&zap);
	r = tdp_map(&vm->mmu, vm->root, &vm->cache, gfn, pfn, level, flags,
		    &zap);
	if (zap.flush)
		vm->flushes++;
	else
		ASSERT_TRUE(list_empty(&zap.pages));
	free_zap(&zap);
	return r;
}

static u64 lookup(struct vm *vm, gfn_t gfn, int *level)
{
	int l = 0;
	u64 spte = tdp_lookup(&vm->mmu, vm->root, gfn, &l);

	if (level)
		*level = l;
	return spte;
}

/* The pfn that maps gfn, or -1 if none. */
static long long pfn_of(struct vm *vm, gfn_t gfn)
{
	int level;
	u64 spte = lookup(vm, gfn, &level);

	if (!spte)
		return -1;
	return tdp_spte_pfn(spte) + (gfn & (tdp_level_pages(level) - 1));
}

#define ASSERT_LEAVES(vm, n4k, n2m, n1g)				\
	do {								\
		ASSERT_EQ((vm)->mmu.nr_leaves[0], n4k);			\
		ASSERT_EQ((vm)->mmu.nr_leaves[1], n2m);			\
		ASSERT_EQ((vm)->mmu.nr_leaves[2], n1g);			\
	} while (0)

/* Tear everything down; every page must come back to the pool. */
static void vm_destroy(struct vm *vm)
{
	struct tdp_zap zap;

	tdp_zap_init(&zap);
	tdp_zap_all(&vm->mmu, &zap);
	tdp_put_root(&vm->mmu, vm->root, &zap);
	free_zap(&zap);
	ASSERT_LEAVES(vm, 0, 0, 0);
	ASSERT_EQ(vm->mmu.nr_pages, 0);
	ASSERT_EQ(vm->mmu.nr_invalid_roots, 0);
	ASSERT_TRUE(list_empty(&vm->mmu.active));
	while (vm->cache.nr)
		free_sp(vm->cache.pages[--vm->cache.nr]);
	ASSERT_EQ(nr_free, POOL_PAGES);
	ASSERT_EQ(vm->mmu.stats.pages_created, vm->mmu.stats.pages_zapped);
	free(vm);
}

#define GFN_2M(i)	((gfn_t)(i) * 512)		/* i-th 2 MiB region */

/* ---- The hash ---------------------------------------------------------- */

TEST(root_is_shared_through_the_hash)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct kvm_mmu_page *again;
	struct tdp_zap zap;
	u64 walks = vm->mmu.stats.hash_walks;

	tdp_zap_init(&zap);
	again = tdp_get_root(&vm->mmu, &vm->cache, 0, &zap);
	ASSERT_TRUE(again == vm->root);
	/* One bucket search per get, and no new page. */
	ASSERT_EQ(vm->mmu.stats.hash_walks, walks + 1);
	ASSERT_EQ(vm->mmu.nr_pages, 1);
	/* The MMU's reference and two users. */
	ASSERT_EQ(vm->root->root_count, 3);
	tdp_put_root(&vm->mmu, again, &zap);
	ASSERT_EQ(free_zap(&zap), 0);
	ASSERT_TRUE(tdp_current_root(&vm->mmu, 0) == vm->root);
	vm_destroy(vm);
}

/* SMM's address space has a root of its own; range operations hit both. */
TEST(address_spaces_have_their_own_roots)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct kvm_mmu_page *smm;
	struct tdp_zap zap;
	int level;

	tdp_zap_init(&zap);
	topup(&vm->cache);
	smm = tdp_get_root(&vm->mmu, &vm->cache, 1, &zap);
	ASSERT_TRUE(smm != NULL && smm != vm->root);
	ASSERT_EQ(smm->role.as_id, 1);
	ASSERT_EQ(vm->root->role.as_id, 0);
	ASSERT_TRUE(tdp_current_root(&vm->mmu, 1) == smm);
	ASSERT_TRUE(tdp_current_root(&vm->mmu, 0) == vm->root);
	ASSERT_EQ(vm->mmu.nr_roots, 2);

	/* The same frame, other host pages: each root keeps its own. */
	ASSERT_EQ(map(vm, 0x30, 0x1000, 1, TDP_MAP_WRITABLE), 0);
	topup(&vm->cache);
	ASSERT_EQ(tdp_map(&vm->mmu, smm, &vm->cache, 0x30, 0x2000, 1,
			  TDP_MAP_WRITABLE, &zap), 0);
	ASSERT_EQ(pfn_of(vm, 0x30), 0x1000);
	ASSERT_EQ(tdp_spte_pfn(tdp_lookup(&vm->mmu, smm, 0x30, &level)),
		  0x2000);
	ASSERT_EQ(lookup(vm, 0x31, NULL), 0);

	/* Write protection and zaps reach both. */
	ASSERT_TRUE(tdp_wrprot_range(&vm->mmu, 0x30, 0x31));
	ASSERT_FALSE(tdp_lookup(&vm->mmu, smm, 0x30, &level) & bits.writable);
	ASSERT_FALSE(lookup(vm, 0x30, NULL) & bits.writable);
	tdp_zap_range(&vm->mmu, 0x30, 0x31, &zap);
	ASSERT_EQ(tdp_lookup(&vm->mmu, smm, 0x30, &level), 0);
	ASSERT_EQ(lookup(vm, 0x30, NULL), 0);

	/* Zapping all takes both roots; each goes with its last user. */
	tdp_zap_all(&vm->mmu, &zap);
	ASSERT_TRUE(smm->invalid && vm->root->invalid);
	ASSERT_EQ(vm->mmu.nr_roots, 0);
	tdp_put_root(&vm->mmu, smm, &zap);
	free_zap(&zap);
	vm_destroy(vm);
}

TEST(fully_direct_gets_skip_the_search)
{
	struct vm *vm = vm_new(ULONG_MAX);
	u64 walks = vm->mmu.stats.hash_walks;

	/* Four levels of tables, no lookup below the root. */
	ASSERT_EQ(map(vm, 0x12345, 0x777, 1, true), 0);
	ASSERT_EQ(vm->mmu.stats.hash_walks, walks);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_EQ(vm->mmu.stats.pages_created, 4);
	vm_destroy(vm);
}

TEST(indirect_pages_are_looked_up_and_found)
{
	struct vm *vm = vm_new(ULONG_MAX);
	union kvm_mmu_page_role shadow = { .level = 1, .direct = 0,
					   .access = TDP_ACC_ALL };
	union kvm_mmu_page_role direct = { .level = 1, .direct = 1,
					   .access = TDP_ACC_ALL };
	struct kvm_mmu_page *a, *b, *c, *d;
	u64 anchor[4] = { 0 };
	struct tdp_zap zap;
	u64 walks;

	topup(&vm->cache);
	walks = vm->mmu.stats.hash_walks;
	a = tdp_get_page(&vm->mmu, &vm->cache, 0x400, shadow);
	b = tdp_get_page(&vm->mmu, &vm->cache, 0x400, shadow);
	ASSERT_TRUE(a == b);
	ASSERT_EQ(vm->mmu.stats.hash_walks, walks + 2);
	ASSERT_EQ(vm->mmu.nr_indirect, 1);
	/* Same gfn, other role: another page. */
	c = tdp_get_page(&vm->mmu, &vm->cache, 0x400, direct);
	ASSERT_TRUE(c != a);
	/* With an indirect page around, direct gets search too. */
	d = tdp_get_page(&vm->mmu, &vm->cache, 0x400, direct);
	ASSERT_TRUE(d == c);
	ASSERT_EQ(vm->mmu.stats.hash_walks, walks + 4);

	/* Hang them somewhere so the oldest-first zap can take them. */
	a->parent_pte = &anchor[0];
	c->parent_pte = &anchor[1];
	tdp_zap_init(&zap);
	ASSERT_EQ(tdp_zap_oldest(&vm->mmu, 2, &zap), 2);
	ASSERT_EQ(vm->mmu.nr_indirect, 0);
	ASSERT_EQ(free_zap(&zap), 2);
	vm_destroy(vm);
}

TEST(many_pages_in_the_hash)
{
	struct vm *vm = vm_new(ULONG_MAX);
	union kvm_mmu_page_role shadow = { .level = 1, .direct = 0,
					   .access = TDP_ACC_ALL };
	struct kvm_mmu_page *sp[600];
	u64 anchor = 0;
	struct tdp_zap zap;
	int i;

	for (i = 0; i < 600; i++) {
		topup(&vm->cache);
		sp[i] = tdp_get_page(&vm->mmu, &vm->cache, GFN_2M(i), shadow);
		sp[i]->parent_pte = &anchor;
	}
	for (i = 0; i < 600; i++)
		ASSERT_TRUE(tdp_get_page(&vm->mmu, &vm->cache, GFN_2M(i),
					 shadow) == sp[i]);
	ASSERT_EQ(vm->mmu.nr_pages, 601);
	tdp_zap_init(&zap);
	ASSERT_EQ(tdp_zap_oldest(&vm->mmu, 600, &zap), 600);
	ASSERT_EQ(free_zap(&zap), 600);
	vm_destroy(vm);
}

/* ---- Mapping ----------------------------------------------------------- */

TEST(map_and_lookup)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;
	u64 spte;

	ASSERT_EQ(map(vm, 0x12345, 0xabcde, 1, true), 0);
	spte = lookup(vm, 0x12345, &level);
	ASSERT_EQ(level, 1);
	ASSERT_EQ(tdp_spte_pfn(spte), 0xabcde);
	ASSERT_EQ(spte & ~TDP_ADDR_MASK, bits.leaf);
	ASSERT_EQ(lookup(vm, 0x12346, NULL), 0);

	/* Read-only, then the write fault upgrades it. */
	ASSERT_EQ(map(vm, 0x12346, 0xabcdf, 1, false), 0);
	ASSERT_EQ(lookup(vm, 0x12346, NULL) & bits.writable, 0);
	ASSERT_EQ(map(vm, 0x12346, 0xabcdf, 1, true), 0);
	ASSERT_NE(lookup(vm, 0x12346, NULL) & bits.writable, 0);
	/* A read fault racing with it does not take the right away. */
	ASSERT_EQ(map(vm, 0x12346, 0xabcdf, 1, false), 0);
	ASSERT_NE(lookup(vm, 0x12346, NULL) & bits.writable, 0);
	ASSERT_EQ(vm->flushes, 0);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_LEAVES(vm, 2, 0, 0);
	/* Another page for the same frame replaces the leaf. */
	ASSERT_EQ(map(vm, 0x12346, 0xbbbbb, 1, false), 0);
	ASSERT_EQ(pfn_of(vm, 0x12346), 0xbbbbb);
	ASSERT_EQ(vm->flushes, 1);
	ASSERT_LEAVES(vm, 2, 0, 0);
	vm_destroy(vm);
}

/* ---- The active list --------------------------------------------------- */

/* The active list as "level:gfn" items, oldest first. */
static void active_list(struct vm *vm, char *buf, size_t len)
{
	struct kvm_mmu_page *sp;
	size_t n = 0;

	buf[0] = '\0';
	list_for_each_entry(sp, &vm->mmu.active, link)
		n += snprintf(buf + n, len - n, "%s%d:%llx", n ? " " : "",
			      sp->role.level, (unsigned long long)sp->gfn);
}

#define ASSERT_ACTIVE(vm, want)						\
	do {								\
		char th_buf[512];					\
		active_list(vm, th_buf, sizeof(th_buf));		\
		if (strcmp(th_buf, want)) {				\
			TH_LOG("active list \"%s\", expected \"%s\"",	\
			       th_buf, want);				\
			ASSERT_TRUE(0);					\
		}							\
	} while (0)

TEST(active_list_in_age_order)
{
	struct vm *vm = vm_new(ULONG_MAX);

	/* A in the first GiB, B in the second: they share the level-3 table. */
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), 0);
	ASSERT_ACTIVE(vm, "4:0 1:0 2:0 3:0");
	ASSERT_EQ(map(vm, 0x40010, 0x200, 1, true), 0);
	ASSERT_ACTIVE(vm, "4:0 1:0 2:0 1:40000 2:40000 3:0");
	/* Touching A again makes its path the youngest, deepest first. */
	ASSERT_EQ(map(vm, 0x11, 0x101, 1, true), 0);
	ASSERT_ACTIVE(vm, "4:0 1:40000 2:40000 1:0 2:0 3:0");
	vm_destroy(vm);
}

TEST(oldest_zap_takes_idle_leaf_tables_first)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct tdp_zap zap;

	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), 0);
	ASSERT_EQ(map(vm, 0x40010, 0x200, 1, true), 0);
	ASSERT_EQ(map(vm, 0x11, 0x101, 1, true), 0);

	tdp_zap_init(&zap);
	ASSERT_EQ(tdp_zap_oldest(&vm->mmu, 1, &zap), 1);
	ASSERT_TRUE(zap.flush);
	ASSERT_FALSE(zap.reload);
	ASSERT_EQ(free_zap(&zap), 1);
	ASSERT_ACTIVE(vm, "4:0 2:40000 1:0 2:0 3:0");
	ASSERT_EQ(pfn_of(vm, 0x40010), -1);
	ASSERT_EQ(pfn_of(vm, 0x10), 0x100);
	ASSERT_EQ(pfn_of(vm, 0x11), 0x101);

	/* The empty table goes next, then A's, never the root. */
	tdp_zap_init(&zap);
	ASSERT_EQ(tdp_zap_oldest(&vm->mmu, 100, &zap), 4);
	ASSERT_EQ(free_zap(&zap), 4);
	ASSERT_ACTIVE(vm, "4:0");
	ASSERT_EQ(pfn_of(vm, 0x10), -1);
	vm_destroy(vm);
}

/* ---- Budget: batch zap, recycling, -ENOSPC ----------------------------- */

TEST(spent_budget_zaps_one_batch_with_one_flush)
{
	/* Root, level-3 and level-2 tables, and room for 61 last-level ones. */
	struct vm *vm = vm_new(64);
	int i;

	for (i = 0; i < 61; i++)
		ASSERT_EQ(map(vm, GFN_2M(i), 0x1000 + i, 1, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 64);
	ASSERT_EQ(vm->flushes, 0);

	/* The next table zaps the 17 oldest at once: need + refill. */
	ASSERT_EQ(map(vm, GFN_2M(61), 0x1000 + 61, 1, true), 0);
	ASSERT_EQ(vm->flushes, 1);
	ASSERT_EQ(vm->mmu.stats.pages_recycled, 1 + TDP_REFILL_PAGES);
	ASSERT_EQ(vm->mmu.nr_pages, 64 - 17 + 1);
	for (i = 0; i < 17; i++)
		ASSERT_EQ(pfn_of(vm, GFN_2M(i)), -1);
	for (i = 17; i < 62; i++)
		ASSERT_EQ(pfn_of(vm, GFN_2M(i)), 0x1000 + i);

	/* The refill serves the next 16 faults without zapping. */
	for (i = 62; i < 78; i++)
		ASSERT_EQ(map(vm, GFN_2M(i), 0x1000 + i, 1, true), 0);
	ASSERT_EQ(vm->flushes, 1);
	ASSERT_EQ(vm->mmu.nr_pages, 64);
	ASSERT_EQ(map(vm, GFN_2M(78), 0x1000 + 78, 1, true), 0);
	ASSERT_EQ(vm->flushes, 2);
	vm_destroy(vm);
}

TEST(recycling_keeps_a_small_budget)
{
	struct vm *vm = vm_new(20);
	unsigned int x = 1;
	int i;

	for (i = 0; i < 3000; i++) {
		gfn_t gfn;

		x = x * 1103515245 + 12345;
		gfn = (x >> 8) & 0xfffff;	/* 4 GiB of guest memory */
		ASSERT_EQ(map(vm, gfn, gfn + 0x100000, 1, true), 0);
		ASSERT_LE(vm->mmu.nr_pages, 20);
		ASSERT_EQ(pfn_of(vm, gfn), gfn + 0x100000);
		ASSERT_EQ(vm->mmu.stats.pages_created -
			  vm->mmu.stats.pages_zapped, vm->mmu.nr_pages);
	}
	ASSERT_GT(vm->mmu.stats.pages_recycled, 1000);
	ASSERT_EQ(vm->mmu.stats.pages_recycled, vm->mmu.stats.pages_zapped);
	vm_destroy(vm);
}

TEST(budget_too_small_for_one_walk_is_enospc)
{
	struct vm *vm = vm_new(3);

	/* The root and three tables do not fit in three pages. */
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), -ENOSPC);
	ASSERT_EQ(vm->mmu.nr_pages, 1);
	ASSERT_EQ(vm->mmu.stats.pages_created, 1);
	/* A 1 GiB leaf needs only the level-3 table. */
	ASSERT_EQ(map(vm, 0, 0x40000, 3, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 2);
	/* A 2 MiB leaf needs one more: the 1 GiB one is split. */
	ASSERT_EQ(map(vm, 0x200, 0x40200, 2, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 3);
	ASSERT_EQ(pfn_of(vm, 0x1234), 0x41234);
	/* A 4 KiB leaf needs a fourth: nothing older can go. */
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), -ENOSPC);
	ASSERT_EQ(pfn_of(vm, 0x10), 0x40010);
	vm_destroy(vm);
}

TEST(lowering_the_budget_zaps_down_to_it)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct tdp_zap zap;
	int i;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(map(vm, GFN_2M(i), 0x1000 + i, 1, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 13);

	tdp_zap_init(&zap);
	tdp_set_max_pages(&vm->mmu, 8, &zap);
	ASSERT_TRUE(zap.flush);
	ASSERT_EQ(free_zap(&zap), 5);
	ASSERT_EQ(vm->mmu.max_pages, 8);
	ASSERT_EQ(pfn_of(vm, GFN_2M(4)), -1);
	ASSERT_EQ(pfn_of(vm, GFN_2M(5)), 0x1005);

	/* Below what cannot be zapped (the root): the budget is that. */
	tdp_zap_init(&zap);
	tdp_set_max_pages(&vm->mmu, 0, &zap);
	ASSERT_EQ(free_zap(&zap), 7);
	ASSERT_EQ(vm->mmu.max_pages, 1);
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), -ENOSPC);
	vm_destroy(vm);
}

/* ---- Roots ------------------------------------------------------------- */

TEST(zapped_root_is_freed_by_its_last_user)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct kvm_mmu_page *old = vm->root, *user2, *fresh;
	struct tdp_zap zap;

	tdp_zap_init(&zap);
	user2 = tdp_get_root(&vm->mmu, &vm->cache, 0, &zap);
	ASSERT_TRUE(user2 == old);
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), 0);

	tdp_zap_all(&vm->mmu, &zap);
	ASSERT_TRUE(zap.flush);
	ASSERT_TRUE(zap.reload);
	/* Its tables go now; the root leaves hash and list at once. */
	ASSERT_EQ(free_zap(&zap), 3);
	ASSERT_TRUE(old->invalid);
	ASSERT_TRUE(tdp_current_root(&vm->mmu, 0) == NULL);
	ASSERT_TRUE(list_empty(&vm->mmu.active));
	ASSERT_EQ(vm->mmu.nr_pages, 0);
	ASSERT_EQ(vm->mmu.nr_invalid_roots, 1);
	ASSERT_EQ(old->spt[0], 0);

	/* A user reloads: a new root; the old one waits for the other. */
	topup(&vm->cache);
	tdp_zap_init(&zap);
	tdp_put_root(&vm->mmu, old, &zap);
	fresh = tdp_get_root(&vm->mmu, &vm->cache, 0, &zap);
	ASSERT_TRUE(fresh != old);
	ASSERT_EQ(free_zap(&zap), 0);
	ASSERT_EQ(vm->mmu.nr_invalid_roots, 1);
	/* Never back on the list: only the new root is there. */
	ASSERT_ACTIVE(vm, "4:0");
	ASSERT_EQ(vm->mmu.stats.pages_zapped, 4);

	tdp_put_root(&vm->mmu, user2, &zap);
	ASSERT_EQ(vm->mmu.nr_invalid_roots, 0);
	ASSERT_EQ(free_zap(&zap), 1);
	vm->root = fresh;
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), 0);
	ASSERT_EQ(pfn_of(vm, 0x10), 0x100);
	vm_destroy(vm);
}

TEST(root_may_exceed_the_budget)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct kvm_mmu_page *old = vm->root;
	struct tdp_zap zap;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(map(vm, GFN_2M(i), 0x1000 + i, 1, true), 0);
	tdp_zap_init(&zap);
	tdp_zap_all(&vm->mmu, &zap);
	tdp_put_root(&vm->mmu, old, &zap);
	ASSERT_EQ(free_zap(&zap), 7);

	/* A budget of nothing: the root comes anyway, tables do not. */
	tdp_set_max_pages(&vm->mmu, 0, &zap);
	ASSERT_EQ(vm->mmu.max_pages, 0);
	topup(&vm->cache);
	vm->root = tdp_get_root(&vm->mmu, &vm->cache, 0, &zap);
	ASSERT_TRUE(vm->root != NULL);
	ASSERT_EQ(free_zap(&zap), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 1);
	ASSERT_EQ(map(vm, 0x10, 0x100, 1, true), -ENOSPC);
	vm_destroy(vm);
}

TEST(recycling_never_takes_the_faulting_path)
{
	/* Room for the root and one path. */
	struct vm *vm = vm_new(4);

	ASSERT_EQ(map(vm, GFN_2M(0), 0x1000, 1, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	/* Region 1 needs a table: region 0's goes, not the path's. */
	ASSERT_EQ(map(vm, GFN_2M(1), 0x2000, 1, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_EQ(vm->flushes, 1);
	ASSERT_EQ(pfn_of(vm, GFN_2M(0)), -1);
	ASSERT_EQ(pfn_of(vm, GFN_2M(1)), 0x2000);
	/* Another GiB: its level-2 table replaces the old one. */
	ASSERT_EQ(map(vm, 0x40000, 0x3000, 1, true), 0);
	ASSERT_EQ(pfn_of(vm, 0x40000), 0x3000);
	ASSERT_EQ(pfn_of(vm, GFN_2M(1)), -1);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	vm_destroy(vm);
}

TEST(hopeless_fault_zaps_nothing)
{
	/* The root, a level-3 and a level-2 table with a 2 MiB leaf. */
	struct vm *vm = vm_new(3);

	ASSERT_EQ(map(vm, 0, 0x200, 2, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 3);
	/*
	 * 4 KiB in another GiB needs two tables; only the level-2 one
	 * could go (the level-3 one is on the path): -ENOSPC at once.
	 */
	ASSERT_EQ(map(vm, 0x40000, 0x3000, 1, true), -ENOSPC);
	ASSERT_EQ(vm->flushes, 0);
	ASSERT_EQ(pfn_of(vm, 0x1ff), 0x3ff);
	ASSERT_EQ(vm->mmu.stats.pages_zapped, 0);
	vm_destroy(vm);
}

/* ---- Range zaps and write protection ----------------------------------- */

TEST(zap_range_is_exact)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct tdp_zap zap;
	gfn_t g;

	for (g = 0; g < 1024; g++)
		ASSERT_EQ(map(vm, g, 0x5000 + g, 1, true), 0);
	ASSERT_EQ(map(vm, 0x80000, 0x9000, 1, true), 0);
	/* Root, level 3, two level-2 and three level-1 tables. */
	ASSERT_EQ(vm->mmu.nr_pages, 7);

	tdp_zap_init(&zap);
	tdp_zap_range(&vm->mmu, 100, 600, &zap);
	ASSERT_TRUE(zap.flush);
	ASSERT_FALSE(zap.reload);
	/* Both tables are only partly in the range: none goes. */
	ASSERT_EQ(free_zap(&zap), 0);
	ASSERT_LEAVES(vm, 1024 - 500 + 1, 0, 0);
	for (g = 0; g < 1024; g++)
		ASSERT_EQ(pfn_of(vm, g),
			  g < 100 || g >= 600 ? (long long)(0x5000 + g) : -1);
	ASSERT_EQ(pfn_of(vm, 0x80000), 0x9000);

	/* A whole table in the range goes with it. */
	tdp_zap_init(&zap);
	tdp_zap_range(&vm->mmu, 512, 1024, &zap);
	ASSERT_EQ(free_zap(&zap), 1);
	ASSERT_LEAVES(vm, 100 + 1, 0, 0);
	ASSERT_EQ(pfn_of(vm, 99), 0x5000 + 99);
	ASSERT_EQ(pfn_of(vm, 0x80000), 0x9000);

	/* Nothing mapped in the range: no flush. */
	tdp_zap_init(&zap);
	tdp_zap_range(&vm->mmu, 0x100000, 0x200000, &zap);
	ASSERT_FALSE(zap.flush);
	ASSERT_EQ(free_zap(&zap), 0);
	vm_destroy(vm);
}

TEST(write_protection_and_dirty_host_pages)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct tdp_zap zap;
	gfn_t g;

	leaves_written = 0;
	for (g = 0; g < 64; g++)
		ASSERT_EQ(map(vm, g, 0x5000 + g, 1, g < 32), 0);
	ASSERT_TRUE(tdp_wrprot_range(&vm->mmu, 16, 48));
	/* Only the leaves that could be written count. */
	ASSERT_EQ(leaves_written, 16);
	for (g = 0; g < 64; g++)
		ASSERT_EQ(!!(lookup(vm, g, NULL) & bits.writable), g < 16);
	ASSERT_FALSE(tdp_wrprot_range(&vm->mmu, 16, 48));

	tdp_zap_init(&zap);
	tdp_zap_range(&vm->mmu, 0, 64, &zap);
	ASSERT_EQ(leaves_written, 32);
	free_zap(&zap);
	vm_destroy(vm);
}

/* ---- Huge pages -------------------------------------------------------- */

TEST(huge_page_split_and_collapse)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;
	gfn_t g;

	/* 2 MiB at gfn 0x200. */
	ASSERT_EQ(map(vm, 0x200, 0x1000, 2, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 3);
	ASSERT_LEAVES(vm, 0, 1, 0);
	lookup(vm, 0x2ab, &level);
	ASSERT_EQ(level, 2);
	ASSERT_EQ(pfn_of(vm, 0x2ab), 0x10ab);

	/* Dirty logging: protect, then a 4 KiB write fault splits it. */
	ASSERT_TRUE(tdp_wrprot_range(&vm->mmu, 0x2ab, 0x2ac));
	ASSERT_EQ(map(vm, 0x2ab, 0x10ab, 1, true), 0);
	ASSERT_EQ(vm->flushes, 1);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_LEAVES(vm, 512, 0, 0);
	for (g = 0x200; g < 0x400; g++) {
		u64 spte = lookup(vm, g, &level);

		ASSERT_EQ(level, 1);
		ASSERT_EQ(pfn_of(vm, g), 0x1000 + g - 0x200);
		ASSERT_EQ(!!(spte & bits.writable), g == 0x2ab);
		ASSERT_EQ(spte & bits.huge, 0);
	}

	/* Logging off: 2 MiB again, the table goes. */
	ASSERT_EQ(map(vm, 0x200, 0x1000, 2, true), 0);
	ASSERT_EQ(vm->flushes, 2);
	ASSERT_EQ(vm->mmu.nr_pages, 3);
	ASSERT_LEAVES(vm, 0, 1, 0);
	lookup(vm, 0x3ff, &level);
	ASSERT_EQ(level, 2);
	ASSERT_EQ(pfn_of(vm, 0x3ff), 0x11ff);
	vm_destroy(vm);
}

TEST(one_gib_page_split_down_to_4k)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;

	ASSERT_EQ(map(vm, 0x40000, 0x80000, 3, false), 0);
	ASSERT_EQ(pfn_of(vm, 0x7ffff), 0xbffff);
	ASSERT_LEAVES(vm, 0, 0, 1);
	ASSERT_EQ(map(vm, 0x54321, 0x94321, 1, true), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_LEAVES(vm, 512, 511, 0);
	lookup(vm, 0x54321, &level);
	ASSERT_EQ(level, 1);
	lookup(vm, 0x54200, &level);
	ASSERT_EQ(level, 1);
	lookup(vm, 0x54400, &level);
	ASSERT_EQ(level, 2);
	lookup(vm, 0x7ffff, &level);
	ASSERT_EQ(level, 2);
	ASSERT_EQ(pfn_of(vm, 0x7ffff), 0xbffff);
	ASSERT_EQ(pfn_of(vm, 0x40000), 0x80000);
	ASSERT_EQ(lookup(vm, 0x54322, NULL) & bits.writable, 0);
	vm_destroy(vm);
}

/* Only the 2 MiB block at gfn 0x200 may be one leaf again. */
static bool huge_at_0x200(void *ctx, gfn_t gfn, int level)
{
	(*(int *)ctx)++;
	return level == 2 && gfn == 0x200;
}

TEST(logging_off_zaps_only_the_collapsible_tables)
{
	struct vm *vm = vm_new(ULONG_MAX);
	struct tdp_zap zap;
	int asked = 0;

	ASSERT_EQ(map(vm, 0x201, 0x1001, 1, W), 0);
	ASSERT_EQ(map(vm, 0x3ff, 0x11ff, 1, W), 0);
	ASSERT_EQ(map(vm, 0x401, 0x1201, 1, W), 0);
	ASSERT_EQ(vm->mmu.nr_pages, 5);
	tdp_zap_init(&zap);
	tdp_zap_collapsible(&vm->mmu, 0x200, 0x600, huge_at_0x200, &asked,
			    &zap);
	ASSERT_TRUE(zap.flush);
	ASSERT_EQ(free_zap(&zap), 1);
	/* The 1 GiB block is not wholly in the range: never asked about. */
	ASSERT_EQ(asked, 2);
	ASSERT_EQ(vm->mmu.nr_pages, 4);
	ASSERT_LEAVES(vm, 1, 0, 0);
	ASSERT_EQ(pfn_of(vm, 0x401), 0x1201);
	ASSERT_EQ(lookup(vm, 0x201, NULL), 0);
	vm_destroy(vm);
}

/* Zap @nr nx_split tables as the recovery does; returns how many. */
static unsigned long recover(struct vm *vm, unsigned long nr)
{
	struct tdp_zap zap;
	unsigned long n;

	tdp_zap_init(&zap);
	n = tdp_zap_nx_splits(&vm->mmu, nr, &zap);
	if (zap.flush)
		vm->flushes++;
	free_zap(&zap);
	return n;
}

TEST(nx_huge_pages_fetch_maps_4k_and_recovery_brings_2m_back)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;
	u64 spte;

	/* A read maps 2 MiB, not executable. */
	ASSERT_EQ(map(vm, 0x200, 0x1000, 2, W | NXH), 0);
	ASSERT_LEAVES(vm, 0, 1, 0);
	spte = lookup(vm, 0x2ab, &level);
	ASSERT_EQ(level, 2);
	ASSERT_TRUE(spte & bits.nx);

	/* A fetch there: 4 KiB leaves, all executable, one split counted. */
	ASSERT_EQ(map(vm, 0x2ab, 0x10ab, 2, W | NXH | X), 0);
	ASSERT_LEAVES(vm, 512, 0, 0);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 1);
	spte = lookup(vm, 0x2ab, &level);
	ASSERT_EQ(level, 1);
	ASSERT_EQ(spte & bits.nx, 0);
	ASSERT_EQ(lookup(vm, 0x3ff, NULL) & bits.nx, 0);
	ASSERT_EQ(pfn_of(vm, 0x3ff), 0x11ff);

	/* A read allowed 2 MiB does not undo the split. */
	ASSERT_EQ(map(vm, 0x300, 0x1100, 2, W | NXH), 0);
	ASSERT_LEAVES(vm, 512, 0, 0);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 1);

	/* A fetch where nothing was mapped: one 4 KiB leaf, one more split. */
	ASSERT_EQ(map(vm, 0x456, 0x1256, 2, NXH | X), 0);
	ASSERT_LEAVES(vm, 513, 0, 0);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 2);
	ASSERT_EQ(pfn_of(vm, 0x456), 0x1256);
	ASSERT_EQ(lookup(vm, 0x457, NULL), 0);

	/* Recovery takes the oldest first, then the rest. */
	ASSERT_EQ(recover(vm, 1), 1);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 1);
	ASSERT_LEAVES(vm, 1, 0, 0);
	ASSERT_EQ(lookup(vm, 0x2ab, NULL), 0);
	ASSERT_EQ(map(vm, 0x2ab, 0x10ab, 2, W | NXH), 0);
	ASSERT_LEAVES(vm, 1, 1, 0);
	ASSERT_EQ(recover(vm, 5), 1);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 0);
	ASSERT_TRUE(list_empty(&vm->mmu.nx_splits));
	ASSERT_LEAVES(vm, 0, 1, 0);
	ASSERT_EQ(recover(vm, 1), 0);
	vm_destroy(vm);
}

TEST(nx_huge_pages_off_fetch_maps_huge)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;
	u64 spte;

	ASSERT_EQ(map(vm, 0x2ab, 0x10ab, 2, W | X), 0);
	spte = lookup(vm, 0x2ab, &level);
	ASSERT_EQ(level, 2);
	ASSERT_EQ(spte & bits.nx, 0);
	ASSERT_EQ(pfn_of(vm, 0x2ab), 0x10ab);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 0);
	vm_destroy(vm);
}

TEST(nx_huge_pages_fetch_in_a_1g_page)
{
	struct vm *vm = vm_new(ULONG_MAX);
	int level;

	/* A fetch the host allowed 1 GiB: tables at both levels count. */
	ASSERT_EQ(map(vm, 0x54321, 0x94321, 3, W | NXH | X), 0);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 2);
	ASSERT_LEAVES(vm, 1, 0, 0);
	/* A read next to it maps 4 KiB too: both tables stay. */
	ASSERT_EQ(map(vm, 0x54322, 0x94322, 3, W | NXH), 0);
	lookup(vm, 0x54322, &level);
	ASSERT_EQ(level, 1);
	/* In another 2 MiB of that 1 GiB a read maps 2 MiB. */
	ASSERT_EQ(map(vm, 0x60000, 0xa0000, 3, W | NXH), 0);
	lookup(vm, 0x60001, &level);
	ASSERT_EQ(level, 2);
	ASSERT_LEAVES(vm, 2, 1, 0);
	/* The oldest (the 2 MiB-level table) takes the other with it. */
	ASSERT_EQ(recover(vm, 1), 1);
	ASSERT_EQ(vm->mmu.nr_nx_splits, 0);
	ASSERT_LEAVES(vm, 0, 0, 0);
	ASSERT_EQ(map(vm, 0x54321, 0x94321, 3, W | NXH), 0);
	ASSERT_LEAVES(vm, 0, 0, 1);
	vm_destroy(vm);
}

TEST_HARNESS_MAIN
