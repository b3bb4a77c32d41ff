// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the core of the two-dimensional paging MMU (see tdp.h).
 *
 * Age order.  A page goes to the young end of the active list when it is
 * created and whenever a fault maps through it, deepest first, so that a
 * table is always younger than every page below it.  Zapping the oldest
 * pages therefore takes idle last-level tables first, and never a table
 * whose children were used more recently than it.
 *
 * Zapping.  A zapped page leaves the hash and the active list at once and
 * goes to the caller's zap list with everything below it; its entries are
 * left as they are, since a CPU may still walk them until the flush that
 * the caller does before freeing.  A zapped root that vCPUs still use is
 * emptied at once and freed when its last user puts it.
 */
#include "tdp.h"

static const union kvm_mmu_page_role tdp_root_role = {
	.level = TDP_ROOT_LEVEL,
	.direct = 1,
	.access = TDP_ACC_ALL,
};

static struct hlist_head *tdp_bucket(struct tdp_mmu *mmu, gfn_t gfn,
				     union kvm_mmu_page_role role)
{
	/* gfns are below 2^40: the role goes above them. */
	u64 key = gfn ^ ((u64)role.word << 44);

	return &mmu->hash[(key * 0x9e3779b97f4a7c15ULL) >> (64 - TDP_HASH_BITS)];
}

static struct kvm_mmu_page *tdp_search(struct tdp_mmu *mmu,
				       struct hlist_head *bucket, gfn_t gfn,
				       union kvm_mmu_page_role role)
{
	struct kvm_mmu_page *sp;

	mmu->stats.hash_walks++;
	hlist_for_each_entry(sp, bucket, hash_link)
		if (sp->gfn == gfn && sp->role.word == role.word)
			return sp;
	return NULL;
}

static struct kvm_mmu_page *tdp_child(u64 spte)
{
	return tdp_table_page(tdp_table_va(spte & TDP_ADDR_MASK));
}

static unsigned long tdp_avail(const struct tdp_mmu *mmu)
{
	return mmu->max_pages > mmu->nr_pages ? mmu->max_pages - mmu->nr_pages : 0;
}

/* A present leaf at @level is cleared or replaced. */
static void tdp_leaf_gone(struct tdp_mmu *mmu, u64 spte, int level)
{
	mmu->nr_leaves[level - 1]--;
	if (spte & mmu->bits.writable)
		tdp_leaf_written(mmu, spte, level);
}

void tdp_mmu_init(struct tdp_mmu *mmu, const struct tdp_bits *bits,
		  struct hlist_head *hash)
{
	int i;

	memset(mmu, 0, sizeof(*mmu));
	mmu->bits = *bits;
	mmu->hash = hash;
	for (i = 0; i < TDP_HASH_SIZE; i++)
		INIT_HLIST_HEAD(&hash[i]);
	INIT_LIST_HEAD(&mmu->active);
	INIT_LIST_HEAD(&mmu->nx_splits);
	mmu->max_pages = ULONG_MAX;
}

/* Take a zeroed page from the cache and make it valid in @bucket. */
static struct kvm_mmu_page *tdp_alloc_page(struct tdp_mmu *mmu,
					   struct tdp_cache *cache,
					   struct hlist_head *bucket, gfn_t gfn,
					   union kvm_mmu_page_role role)
{
	struct kvm_mmu_page *sp;

	/* Callers make sure the cache holds what they may take. */
	if (WARN_ON_ONCE(!cache->nr))
		return NULL;
	sp = cache->pages[--cache->nr];
	sp->gfn = gfn;
	sp->role = role;
	sp->invalid = false;
	sp->nx_split = false;
	sp->root_count = 0;
	sp->parent_pte = NULL;
	hlist_add_head(&sp->hash_link, bucket);
	list_add_tail(&sp->link, &mmu->active);
	mmu->nr_pages++;
	if (!role.direct)
		mmu->nr_indirect++;
	mmu->stats.pages_created++;
	return sp;
}

struct kvm_mmu_page *tdp_get_page(struct tdp_mmu *mmu, struct tdp_cache *cache,
				  gfn_t gfn, union kvm_mmu_page_role role)
{
	struct hlist_head *bucket = tdp_bucket(mmu, gfn, role);
	struct kvm_mmu_page *sp;

	/*
	 * A direct page below the root has exactly one place in the tree and
	 * is in the hash only while it is linked there, so when its parent
	 * entry is empty it cannot exist: while every page is direct, only
	 * roots (shared by the vCPUs) are looked up.  Indirect pages shadow
	 * guest tables that may be reachable from several places and are
	 * always looked up.
	 */
	if (role.level == TDP_ROOT_LEVEL || !role.direct || mmu->nr_indirect) {
		sp = tdp_search(mmu, bucket, gfn, role);
		if (sp)
			return sp;
	}
	return tdp_alloc_page(mmu, cache, bucket, gfn, role);
}

static union kvm_mmu_page_role tdp_as_root_role(int as_id)
{
	union kvm_mmu_page_role role = tdp_root_role;

	role.as_id = as_id;
	return role;
}

struct kvm_mmu_page *tdp_current_root(struct tdp_mmu *mmu, int as_id)
{
	union kvm_mmu_page_role role = tdp_as_root_role(as_id);

	return tdp_search(mmu, tdp_bucket(mmu, 0, role), 0, role);
}

struct kvm_mmu_page *tdp_get_root(struct tdp_mmu *mmu, struct tdp_cache *cache,
				  int as_id, struct tdp_zap *zap)
{
	union kvm_mmu_page_role role = tdp_as_root_role(as_id);
	struct hlist_head *bucket = tdp_bucket(mmu, 0, role);
	struct kvm_mmu_page *root;

	root = tdp_search(mmu, bucket, 0, role);
	if (!root) {
		/* Room if possible; a root is allowed beyond the budget. */
		tdp_make_room(mmu, 1, zap);
		root = tdp_alloc_page(mmu, cache, bucket, 0, role);
		if (!root)
			return NULL;
		root->root_count = 1;	/* the MMU's own, while valid */
		mmu->nr_roots++;
	}
	root->root_count++;
	return root;
}

void tdp_put_root(struct tdp_mmu *mmu, struct kvm_mmu_page *root,
		  struct tdp_zap *zap)
{
	if (--root->root_count)
		return;
	/* The MMU holds a reference on the valid root: this one was zapped. */
	WARN_ON_ONCE(!root->invalid);
	mmu->nr_invalid_roots--;
	list_add_tail(&root->link, &zap->pages);
}

/* @sp leaves the hash and the active list for the zap list. */
static void tdp_drop_page(struct tdp_mmu *mmu, struct kvm_mmu_page *sp,
			  struct tdp_zap *zap)
{
	hlist_del(&sp->hash_link);
	list_move_tail(&sp->link, &zap->pages);
	sp->invalid = true;
	if (sp->nx_split) {
		list_del(&sp->nx_link);
		sp->nx_split = false;
		mmu->nr_nx_splits--;
	}
	mmu->nr_pages--;
	if (!sp->role.direct)
		mmu->nr_indirect--;
	mmu->stats.pages_zapped++;
}

/*
 * @sp and every page below it leave the map; the caller has cleared, or
 * is about to clear, the entry pointing to @sp.  Returns the page count.
 */
static unsigned long tdp_zap_subtree(struct tdp_mmu *mmu,
				     struct kvm_mmu_page *sp,
				     struct tdp_zap *zap)
{
	int level = sp->role.level, i;
	unsigned long n = 1;

	for (i = 0; i < TDP_ENTRIES; i++) {
		u64 spte = READ_ONCE(sp->spt[i]);

		if (!tdp_present(mmu, spte))
			continue;
		if (tdp_is_table(mmu, spte, level))
			n += tdp_zap_subtree(mmu, tdp_child(spte), zap);
		else
			tdp_leaf_gone(mmu, spte, level);
	}
	tdp_drop_page(mmu, sp, zap);
	return n;
}

/* Zap a page below the root, unlinking it from its parent. */
static unsigned long tdp_zap_page(struct tdp_mmu *mmu, struct kvm_mmu_page *sp,
				  struct tdp_zap *zap)
{
	WRITE_ONCE(*sp->parent_pte, 0);
	zap->flush = true;
	return tdp_zap_subtree(mmu, sp, zap);
}

/* Zap the oldest pages below the roots, up to @stop (excluded). */
static unsigned long tdp_zap_oldest_before(struct tdp_mmu *mmu,
					   unsigned long nr,
					   struct kvm_mmu_page *stop,
					   struct tdp_zap *zap)
{
	unsigned long zapped = 0;

	while (zapped < nr) {
		struct kvm_mmu_page *sp, *victim = NULL;

		/* Roots (no parent) stay; they sit at the old end. */
		list_for_each_entry(sp, &mmu->active, link) {
			if (sp == stop)
				break;
			if (sp->parent_pte) {
				victim = sp;
				break;
			}
		}
		if (!victim)
			break;
		zapped += tdp_zap_page(mmu, victim, zap);
	}
	return zapped;
}

unsigned long tdp_zap_oldest(struct tdp_mmu *mmu, unsigned long nr,
			     struct tdp_zap *zap)
{
	return tdp_zap_oldest_before(mmu, nr, NULL, zap);
}

unsigned long tdp_zap_nx_splits(struct tdp_mmu *mmu, unsigned long nr,
				struct tdp_zap *zap)
{
	unsigned long n = 0;

	/* Zapping one may take younger ones below it off the list too. */
	while (n < nr && !list_empty(&mmu->nx_splits)) {
		tdp_zap_page(mmu, list_first_entry(&mmu->nx_splits,
						   struct kvm_mmu_page, nx_link),
			     zap);
		n++;
	}
	return n;
}

int tdp_make_room(struct tdp_mmu *mmu, unsigned long need, struct tdp_zap *zap)
{
	unsigned long avail = tdp_avail(mmu);

	if (avail >= need)
		return 0;
	/* One batch, under one flush, for this fault and the next few. */
	mmu->stats.pages_recycled +=
		tdp_zap_oldest(mmu, need - avail + TDP_REFILL_PAGES, zap);
	return tdp_avail(mmu) >= need ? 0 : -ENOSPC;
}

void tdp_set_max_pages(struct tdp_mmu *mmu, unsigned long max,
		       struct tdp_zap *zap)
{
	if (mmu->nr_pages > max)
		mmu->stats.pages_recycled +=
			tdp_zap_oldest(mmu, mmu->nr_pages - max, zap);
	/* What cannot be zapped (roots) stays allowed, as on Linux. */
	mmu->max_pages = mmu->nr_pages > max ? mmu->nr_pages : max;
}

/* The tables of a path become the youngest pages, deepest first. */
static void tdp_touch(struct tdp_mmu *mmu, struct kvm_mmu_page **path,
		      int depth)
{
	while (depth--)
		list_move_tail(&path[depth]->link, &mmu->active);
}

/*
 * Replace the huge leaf @huge in *@sptep (at @level) by a table of leaves
 * one level down that map the same memory with the same rights.
 */
static struct kvm_mmu_page *tdp_split(struct tdp_mmu *mmu,
				      struct tdp_cache *cache, u64 *sptep,
				      u64 huge, int level, gfn_t gfn,
				      union kvm_mmu_page_role role,
				      struct tdp_zap *zap)
{
	u64 step = tdp_level_pages(level - 1) << PAGE_SHIFT;
	u64 rights = huge & ~TDP_ADDR_MASK;
	u64 pa = huge & TDP_ADDR_MASK;
	struct kvm_mmu_page *child;
	int i;

	role.level = level - 1;
	child = tdp_get_page(mmu, cache, gfn & ~(tdp_level_pages(level) - 1),
			     role);
	/* 4 KiB leaves are never kept from executing (NX huge pages). */
	if (level - 1 == 1)
		rights = ((rights & ~mmu->bits.huge) & ~mmu->bits.nx) |
			 mmu->bits.exec;
	for (i = 0; i < TDP_ENTRIES; i++)
		child->spt[i] = (pa + i * step) | rights;
	mmu->nr_leaves[level - 1]--;
	mmu->nr_leaves[level - 2] += TDP_ENTRIES;
	child->parent_pte = sptep;
	WRITE_ONCE(*sptep, tdp_table_pa(child->spt) | mmu->bits.table);
	/* The same translations in smaller pages: no CPU may mix the two. */
	zap->flush = true;
	return child;
}

/* A table made where a huge leaf could have been, for a fetch. */
static void tdp_mark_nx_split(struct tdp_mmu *mmu, struct kvm_mmu_page *sp)
{
	sp->nx_split = true;
	list_add_tail(&sp->nx_link, &mmu->nx_splits);
	mmu->nr_nx_splits++;
}

int tdp_map(struct tdp_mmu *mmu, struct kvm_mmu_page *root,
	    struct tdp_cache *cache, gfn_t gfn, u64 pfn, int level,
	    unsigned int flags, struct tdp_zap *zap)
{
	struct kvm_mmu_page *path[TDP_ROOT_LEVEL], *sp = root;
	union kvm_mmu_page_role role = root->role;
	unsigned long need, avail = tdp_avail(mmu);
	bool nx_huge = flags & TDP_MAP_NX_HUGE;
	u64 *sptep, spte, new;
	int l, depth = 0, nx_level = 0;

	/* A fetch may not run from a huge leaf: 4 KiB, tables marked. */
	if (nx_huge && (flags & TDP_MAP_EXEC) && level > 1) {
		nx_level = level;
		level = 1;
	}

	/*
	 * The tables already there; one is needed per level below them.  An
	 * nx_split table where the leaf would go stays: the leaf goes below.
	 */
	for (l = TDP_ROOT_LEVEL; ; l--) {
		spte = READ_ONCE(sp->spt[tdp_index(gfn, l)]);
		if (!tdp_is_table(mmu, spte, l))
			break;
		if (l == level) {
			if (!tdp_child(spte)->nx_split)
				break;
			level--;
		}
		sp = tdp_child(spte);
		path[depth++] = sp;
	}
	need = l - level;

	if (need > avail) {
		/* The roots and this path cannot go: is there enough else? */
		if (need > avail + mmu->nr_pages - mmu->nr_roots - depth)
			return -ENOSPC;
		/*
		 * One batch, under one flush, for this fault and the next
		 * few; the path is made the youngest and is never in it.
		 */
		tdp_touch(mmu, path, depth);
		mmu->stats.pages_recycled +=
			tdp_zap_oldest_before(mmu, need - avail + TDP_REFILL_PAGES,
					      depth ? path[depth - 1] : NULL,
					      zap);
	}
	if (need > (unsigned long)cache->nr)
		return -ENOMEM;

	for (; l > level; l--) {
		sptep = &sp->spt[tdp_index(gfn, l)];
		spte = READ_ONCE(*sptep);
		if (tdp_present(mmu, spte)) {
			sp = tdp_split(mmu, cache, sptep, spte, l, gfn, role,
				       zap);
		} else {
			role.level = l - 1;
			sp = tdp_get_page(mmu, cache,
					  gfn & ~(tdp_level_pages(l) - 1), role);
			sp->parent_pte = sptep;
			WRITE_ONCE(*sptep, tdp_table_pa(sp->spt) | mmu->bits.table);
		}
		if (l <= nx_level)
			tdp_mark_nx_split(mmu, sp);
		path[depth++] = sp;
	}

	sptep = &sp->spt[tdp_index(gfn, level)];
	spte = READ_ONCE(*sptep);
	pfn &= ~(tdp_level_pages(level) - 1);
	new = (pfn << PAGE_SHIFT) | mmu->bits.leaf;
	if (!(flags & TDP_MAP_WRITABLE))
		new &= ~mmu->bits.writable;
	if (level > 1) {
		new |= mmu->bits.huge;
		if (nx_huge)
			new = (new | mmu->bits.nx) & ~mmu->bits.exec;
	}

	if (!tdp_present(mmu, spte)) {
		mmu->nr_leaves[level - 1]++;
	} else if (tdp_is_table(mmu, spte, level)) {
		/* A larger page replaces a table: what was below it goes. */
		tdp_zap_subtree(mmu, tdp_child(spte), zap);
		mmu->nr_leaves[level - 1]++;
		zap->flush = true;
	} else if ((spte & TDP_ADDR_MASK) == (new & TDP_ADDR_MASK)) {
		/* Mapped meanwhile, or lacking only write access. */
		new |= spte & mmu->bits.writable;
	} else {
		/* Never with the notifier: another page replaces this one. */
		tdp_leaf_gone(mmu, spte, level);
		mmu->nr_leaves[level - 1]++;
		zap->flush = true;
	}
	WRITE_ONCE(*sptep, new);

	tdp_touch(mmu, path, depth);
	return 0;
}

u64 tdp_lookup(struct tdp_mmu *mmu, struct kvm_mmu_page *root, gfn_t gfn,
	       int *level)
{
	struct kvm_mmu_page *sp = root;
	int l;

	for (l = TDP_ROOT_LEVEL; l >= 1; l--) {
		u64 spte = READ_ONCE(sp->spt[tdp_index(gfn, l)]);

		if (!tdp_present(mmu, spte))
			return 0;
		if (tdp_is_leaf(mmu, spte, l)) {
			*level = l;
			return spte;
		}
		sp = tdp_child(spte);
	}
	return 0;
}

enum tdp_range_op {
	TDP_RANGE_ZAP,
	TDP_RANGE_WRPROT,
};

/*
 * Apply @op to the leaves of @sp's subtree that map guest frames in
 * [start, end).  A huge leaf partly in the range is handled whole (it is
 * always safe to unmap or protect more).  Zapping frees the tables wholly
 * inside the range.  Returns true if an entry changed.
 */
static bool tdp_range_walk(struct tdp_mmu *mmu, struct kvm_mmu_page *sp,
			   gfn_t start, gfn_t end, enum tdp_range_op op,
			   struct tdp_zap *zap)
{
	int level = sp->role.level;
	u64 span = tdp_level_pages(level);
	u64 writable = mmu->bits.writable;
	unsigned int i = start > sp->gfn ? (start - sp->gfn) / span : 0;
	bool changed = false;

	for (; i < TDP_ENTRIES; i++) {
		gfn_t g = sp->gfn + i * span;
		u64 *sptep = &sp->spt[i];
		u64 spte = READ_ONCE(*sptep);

		if (g >= end)
			break;
		if (!tdp_present(mmu, spte))
			continue;
		if (tdp_is_table(mmu, spte, level)) {
			if (op == TDP_RANGE_ZAP && g >= start && g + span <= end) {
				WRITE_ONCE(*sptep, 0);
				tdp_zap_subtree(mmu, tdp_child(spte), zap);
				changed = true;
			} else if (tdp_range_walk(mmu, tdp_child(spte), start,
						  end, op, zap)) {
				changed = true;
			}
			continue;
		}
		if (op == TDP_RANGE_ZAP) {
			WRITE_ONCE(*sptep, 0);
			tdp_leaf_gone(mmu, spte, level);
		} else if (spte & writable) {
			WRITE_ONCE(*sptep, spte & ~writable);
			tdp_leaf_written(mmu, spte, level);
		} else {
			continue;
		}
		changed = true;
	}
	return changed;
}

void tdp_zap_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
		   struct tdp_zap *zap)
{
	struct kvm_mmu_page *root;
	int as_id;

	for (as_id = 0; as_id < TDP_NR_AS; as_id++) {
		root = tdp_current_root(mmu, as_id);
		if (root && start < end &&
		    tdp_range_walk(mmu, root, start, end, TDP_RANGE_ZAP, zap))
			zap->flush = true;
	}
}

bool tdp_wrprot_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	struct kvm_mmu_page *root;
	bool changed = false;
	int as_id;

	for (as_id = 0; as_id < TDP_NR_AS; as_id++) {
		root = tdp_current_root(mmu, as_id);
		if (root && start < end &&
		    tdp_range_walk(mmu, root, start, end, TDP_RANGE_WRPROT,
				   NULL))
			changed = true;
	}
	return changed;
}

static void tdp_collapse_walk(struct tdp_mmu *mmu, struct kvm_mmu_page *sp,
			      gfn_t start, gfn_t end,
			      bool (*huge_ok)(void *ctx, gfn_t gfn, int level),
			      void *ctx, struct tdp_zap *zap)
{
	int level = sp->role.level;
	u64 span = tdp_level_pages(level);
	unsigned int i = start > sp->gfn ? (start - sp->gfn) / span : 0;

	for (; i < TDP_ENTRIES; i++) {
		gfn_t g = sp->gfn + i * span;
		u64 spte = READ_ONCE(sp->spt[i]);

		if (g >= end)
			break;
		if (!tdp_is_table(mmu, spte, level))
			continue;
		if (level <= TDP_MAX_HUGE_LEVEL && g >= start && g + span <= end &&
		    huge_ok(ctx, g, level)) {
			WRITE_ONCE(sp->spt[i], 0);
			tdp_zap_subtree(mmu, tdp_child(spte), zap);
			zap->flush = true;
		} else if (level > 2) {
			tdp_collapse_walk(mmu, tdp_child(spte), start, end,
					  huge_ok, ctx, zap);
		}
	}
}

void tdp_zap_collapsible(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
			 bool (*huge_ok)(void *ctx, gfn_t gfn, int level),
			 void *ctx, struct tdp_zap *zap)
{
	struct kvm_mmu_page *root;
	int as_id;

	for (as_id = 0; as_id < TDP_NR_AS; as_id++) {
		root = tdp_current_root(mmu, as_id);
		if (root && start < end)
			tdp_collapse_walk(mmu, root, start, end, huge_ok, ctx,
					  zap);
	}
}

static void tdp_zap_root(struct tdp_mmu *mmu, struct kvm_mmu_page *root,
			 struct tdp_zap *zap)
{
	int i;

	for (i = 0; i < TDP_ENTRIES; i++) {
		u64 spte = READ_ONCE(root->spt[i]);

		if (!tdp_present(mmu, spte))
			continue;
		WRITE_ONCE(root->spt[i], 0);
		/* No leaf is ever made at the root's level. */
		tdp_zap_subtree(mmu, tdp_child(spte), zap);
	}

	/* Off the hash and the active list at once, never to return. */
	hlist_del(&root->hash_link);
	list_del_init(&root->link);
	root->invalid = true;
	mmu->nr_pages--;
	mmu->nr_roots--;
	mmu->nr_invalid_roots++;
	mmu->stats.pages_zapped++;
	zap->flush = true;
	zap->reload = true;
	tdp_put_root(mmu, root, zap);
}

void tdp_zap_all(struct tdp_mmu *mmu, struct tdp_zap *zap)
{
	struct kvm_mmu_page *root;
	int as_id;

	for (as_id = 0; as_id < TDP_NR_AS; as_id++) {
		root = tdp_current_root(mmu, as_id);
		if (root)
			tdp_zap_root(mmu, root, zap);
	}
}
