// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: memslot set validation, lookup and replacement (pure logic).
 *
 * Each index of a set is an AVL tree made persistent by path copying: a
 * change never writes a node a published set can reach.  It copies the
 * nodes on its way down (and those a rotation moves), writes only its
 * copies, and lists both: the copies ("fresh", stamped with the new set's
 * generation, so that a second visit in the same change writes them in
 * place) and the originals they replace ("stale", freed when the set
 * before is retired).  Freed nodes go to a pool of the VM first, so that
 * a change in steady state allocates nothing.  The height of an AVL tree of n nodes is below
 * 1.45 log2(n + 2): at most 21 for the 32764 slots of a VM, which bounds
 * both the recursion and the nodes one change copies.
 */
#ifndef NKVM_USERSPACE
#include <linux/minmax.h>
#include <linux/slab.h>
#endif
#include <nkvm/memslot.h>

static bool ranges_overlap(gfn_t a, unsigned long na, gfn_t b, unsigned long nb)
{
	return a < b + nb && b < a + na;
}

/* ---- Lookups (readers: no locks, the set is immutable) ------------------ */

static int node_cmp(u64 key, u16 id, const struct kvm_memslot_node *n)
{
	if (key != n->key)
		return key < n->key ? -1 : 1;
	return id < n->id ? -1 : id > n->id;
}

struct kvm_memory_slot *kvm_memslots_find_id(const struct kvm_memslots *slots,
					     u16 id)
{
	const struct kvm_memslot_node *n = slots->root[KVM_MEMSLOT_BY_ID];

	while (n && n->key != id)
		n = n->child[id > n->key];
	return n ? n->slot : NULL;
}

struct kvm_memory_slot *kvm_memslots_next_id(const struct kvm_memslots *slots,
					     unsigned int id)
{
	const struct kvm_memslot_node *n = slots->root[KVM_MEMSLOT_BY_ID];
	struct kvm_memory_slot *found = NULL;

	while (n) {
		if (n->key >= id) {
			found = n->slot;
			n = n->child[0];
		} else {
			n = n->child[1];
		}
	}
	return found;
}

/*
 * The node of the first slot ending beyond @gfn.  Slots never overlap, so
 * their ends rise with their bases: the tree is ordered by end as well.
 */
static const struct kvm_memslot_node *
memslots_gfn_after(const struct kvm_memslots *slots, gfn_t gfn)
{
	const struct kvm_memslot_node *n = slots->root[KVM_MEMSLOT_BY_GFN];
	const struct kvm_memslot_node *found = NULL;

	while (n) {
		if (n->end > gfn) {
			found = n;
			n = n->child[0];
		} else {
			n = n->child[1];
		}
	}
	return found;
}

struct kvm_memory_slot *kvm_memslots_next_gfn(const struct kvm_memslots *slots,
					      gfn_t gfn)
{
	const struct kvm_memslot_node *n = memslots_gfn_after(slots, gfn);

	return n ? n->slot : NULL;
}

struct kvm_memory_slot *kvm_memslots_find_gfn(const struct kvm_memslots *slots,
					      gfn_t gfn)
{
	const struct kvm_memslot_node *n = memslots_gfn_after(slots, gfn);

	return n && n->key <= gfn ? n->slot : NULL;
}

static void memslots_hva_walk(const struct kvm_memslot_node *n,
			      unsigned long start, unsigned long end,
			      void (*fn)(const struct kvm_memory_slot *slot,
					 void *ctx),
			      void *ctx)
{
	/* Nothing below ends beyond start: the whole subtree is out. */
	while (n && n->max_end > start) {
		memslots_hva_walk(n->child[0], start, end, fn, ctx);
		if (n->key >= end)
			return;		/* this and the higher ones start too late */
		if (n->end > start)
			fn(n->slot, ctx);
		n = n->child[1];
	}
}

void kvm_memslots_for_each_hva(const struct kvm_memslots *slots,
			       unsigned long start, unsigned long end,
			       void (*fn)(const struct kvm_memory_slot *slot,
					  void *ctx),
			       void *ctx)
{
	if (start < end)
		memslots_hva_walk(slots->root[KVM_MEMSLOT_BY_HVA], start, end,
				  fn, ctx);
}

/* ---- Validation ---------------------------------------------------------- */

/* Does [base, base + npages) meet a slot other than @id? */
static bool overlaps_other(const struct kvm_memslots *slots, u16 id,
			   gfn_t base, unsigned long npages)
{
	const struct kvm_memslot_node *n = memslots_gfn_after(slots, base);

	/* At most the slot being moved comes first: then the one after it. */
	if (n && n->id == id)
		n = memslots_gfn_after(slots, n->end);
	return n && ranges_overlap(base, npages, n->key, n->end - n->key);
}

int kvm_memslot_check(const struct kvm_memslots *slots,
		      const struct kvm_userspace_memory_region *mem,
		      u32 valid_flags, gfn_t max_gfn,
		      enum kvm_mr_change *change,
		      struct kvm_memory_slot **oldp)
{
	u16 as_id = mem->slot >> 16, id = (u16)mem->slot;
	gfn_t base = mem->guest_phys_addr >> PAGE_SHIFT;
	unsigned long npages = mem->memory_size >> PAGE_SHIFT;
	struct kvm_memory_slot *old;

	if (mem->flags & ~valid_flags)
		return -EINVAL;
	if (as_id >= KVM_ADDRESS_SPACE_NUM || id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	if ((mem->memory_size | mem->guest_phys_addr | mem->userspace_addr) &
	    (PAGE_SIZE - 1))
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	if (npages > KVM_MEM_MAX_NR_PAGES)
		return -EINVAL;

	old = kvm_memslots_find_id(slots, id);
	*oldp = old;

	if (!mem->memory_size) {
		if (!old)
			return -EINVAL;
		*change = KVM_MR_DELETE;
		return 0;
	}

	/* Beyond what the guest-physical map can reach. */
	if (base + npages - 1 > max_gfn &&
	    (!old || base != old->base_gfn))
		return -EINVAL;

	if (!old) {
		if (overlaps_other(slots, id, base, npages))
			return -EEXIST;
		*change = KVM_MR_CREATE;
		return 0;
	}

	/* An existing slot keeps its size, backing and read-only-ness. */
	if (mem->userspace_addr != old->userspace_addr ||
	    npages != old->npages ||
	    ((mem->flags ^ old->flags) & KVM_MEM_READONLY))
		return -EINVAL;

	if (base != old->base_gfn) {
		if (overlaps_other(slots, id, base, npages))
			return -EEXIST;
		*change = KVM_MR_MOVE;
	} else if (mem->flags != old->flags) {
		*change = KVM_MR_FLAGS_ONLY;
	} else {
		*change = KVM_MR_NONE;
	}
	return 0;
}

/* ---- Building a new set (the writer, under the VM's slots_lock) -------- */

struct memslots_change {
	struct kvm_memslots *set;	/* the set being built */
	bool failed;			/* out of memory: stop, discard */
};

static int node_height(const struct kvm_memslot_node *n)
{
	return n ? n->height : 0;
}

/* Height and largest end of a node written in this change. */
static void node_update(struct kvm_memslot_node *n)
{
	u64 max_end = n->end;
	int h = 0, i;

	for (i = 0; i < 2; i++) {
		const struct kvm_memslot_node *c = n->child[i];

		if (c) {
			max_end = max(max_end, c->max_end);
			h = max(h, (int)c->height);
		}
	}
	n->max_end = max_end;
	n->height = h + 1;
}

static struct kvm_memslot_node *node_new(struct memslots_change *c)
{
	struct kvm_memslots_pool *pool = c->set->pool;
	struct kvm_memslot_node *n = pool->nodes;

	if (n) {
		pool->nodes = n->next;
		pool->nr--;
	} else {
		n = kmalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
		if (!n) {
			c->failed = true;
			return NULL;
		}
	}
	n->gen = c->set->generation;
	n->next = c->set->fresh;
	c->set->fresh = n;
	return n;
}

/* A node this change may write: @n itself if it made it, else a copy. */
static struct kvm_memslot_node *node_cow(struct memslots_change *c,
					 struct kvm_memslot_node *n)
{
	struct kvm_memslot_node *copy, *next;

	if (n->gen == c->set->generation)
		return n;
	copy = node_new(c);
	if (!copy)
		return NULL;
	next = copy->next;
	*copy = *n;
	copy->gen = c->set->generation;
	copy->next = next;
	/* Only the writer reads ->next: published readers never do. */
	n->next = c->set->stale;
	c->set->stale = n;
	return copy;
}

/*
 * A node leaves the tree.  Each change removes from a tree before adding
 * to it, so the node is one of the set before and is freed with it.
 */
static void node_drop(struct memslots_change *c, struct kvm_memslot_node *n)
{
	if (n->gen == c->set->generation)
		n->slot = NULL;		/* on the fresh list: freed as dead */
	else {
		n->next = c->set->stale;
		c->set->stale = n;
	}
}

/* Lift @n's child on side @d above it; @n is fresh. */
static struct kvm_memslot_node *node_rotate(struct memslots_change *c,
					    struct kvm_memslot_node *n, int d)
{
	struct kvm_memslot_node *p = node_cow(c, n->child[d]);

	if (!p)
		return NULL;
	n->child[d] = p->child[!d];
	node_update(n);
	p->child[!d] = n;
	node_update(p);
	return p;
}

/* Restore the AVL balance at fresh node @n, whose subtrees are AVL trees. */
static struct kvm_memslot_node *node_balance(struct memslots_change *c,
					     struct kvm_memslot_node *n)
{
	int bf = node_height(n->child[0]) - node_height(n->child[1]);
	struct kvm_memslot_node *h;
	int d;

	if (bf >= -1 && bf <= 1) {
		node_update(n);
		return n;
	}
	d = bf < 0;		/* the higher side */
	h = n->child[d];
	if (node_height(h->child[!d]) > node_height(h->child[d])) {
		h = node_cow(c, h);
		if (!h)
			return NULL;
		n->child[d] = h;
		h = node_rotate(c, h, !d);
		if (!h)
			return NULL;
		n->child[d] = h;
	}
	return node_rotate(c, n, d);
}

static struct kvm_memslot_node *node_insert(struct memslots_change *c,
					    struct kvm_memslot_node *n,
					    struct kvm_memslot_node *add)
{
	struct kvm_memslot_node *child;
	int d;

	if (!n)
		return add;
	n = node_cow(c, n);
	if (!n)
		return NULL;
	d = node_cmp(add->key, add->id, n) > 0;
	child = node_insert(c, n->child[d], add);
	if (c->failed)
		return NULL;
	n->child[d] = child;
	return node_balance(c, n);
}

/* Take the lowest node out of subtree @n, into *@min. */
static struct kvm_memslot_node *node_remove_min(struct memslots_change *c,
						struct kvm_memslot_node *n,
						struct kvm_memslot_node **min)
{
	struct kvm_memslot_node *child;

	if (!n->child[0]) {
		*min = n;
		return n->child[1];
	}
	n = node_cow(c, n);
	if (!n)
		return NULL;
	child = node_remove_min(c, n->child[0], min);
	if (c->failed)
		return NULL;
	n->child[0] = child;
	return node_balance(c, n);
}

static struct kvm_memslot_node *node_remove(struct memslots_change *c,
					    struct kvm_memslot_node *n,
					    u64 key, u16 id)
{
	struct kvm_memslot_node *child, *min;
	int r;

	if (!n)
		return NULL;	/* not there: nothing to do */
	r = node_cmp(key, id, n);
	if (!r) {
		node_drop(c, n);
		if (!n->child[0] || !n->child[1])
			return n->child[!n->child[0]];
		/* Its successor takes its place. */
		child = node_remove_min(c, n->child[1], &min);
		if (c->failed)
			return NULL;
		min = node_cow(c, min);
		if (!min)
			return NULL;
		min->child[0] = n->child[0];
		min->child[1] = child;
		return node_balance(c, min);
	}
	n = node_cow(c, n);
	if (!n)
		return NULL;
	child = node_remove(c, n->child[r > 0], key, id);
	if (c->failed)
		return NULL;
	n->child[r > 0] = child;
	return node_balance(c, n);
}

/* The key and end of @slot in index @i. */
static void slot_key(const struct kvm_memory_slot *slot, int i, u64 *key,
		     u64 *end)
{
	switch (i) {
	case KVM_MEMSLOT_BY_GFN:
		*key = slot->base_gfn;
		*end = slot->base_gfn + slot->npages;
		break;
	case KVM_MEMSLOT_BY_HVA:
		*key = slot->userspace_addr;
		*end = kvm_memslot_hva_end(slot);
		break;
	default:
		*key = slot->id;
		*end = slot->id + 1;
		break;
	}
}

/* Give the nodes of a change's @list (only the dead ones) to the pool. */
static void nodes_put(struct kvm_memslots_pool *pool,
		      struct kvm_memslot_node *list, bool dead_only)
{
	struct kvm_memslot_node *n, *next;

	for (n = list; n; n = next) {
		next = n->next;
		if (dead_only && n->slot)
			continue;
		if (pool->nr < KVM_MEMSLOT_POOL_NODES) {
			n->next = pool->nodes;
			pool->nodes = n;
			pool->nr++;
		} else {
			kfree(n);
		}
	}
}

static void set_put(struct kvm_memslots *set)
{
	struct kvm_memslots_pool *pool = set->pool;

	if (!pool->set)
		pool->set = set;
	else
		kfree(set);
}

struct kvm_memslots *kvm_memslots_alloc(void)
{
	struct kvm_memslots *set;

	set = kzalloc(sizeof(*set), GFP_KERNEL_ACCOUNT);
	if (!set)
		return NULL;
	set->pool = kzalloc(sizeof(*set->pool), GFP_KERNEL_ACCOUNT);
	if (!set->pool) {
		kfree(set);
		return NULL;
	}
	return set;
}

struct kvm_memslots *kvm_memslots_replace(const struct kvm_memslots *slots,
					  const struct kvm_memory_slot *remove,
					  struct kvm_memory_slot *add)
{
	struct memslots_change c = { };
	struct kvm_memslots *new;
	u64 key, end;
	int i;

	new = slots->pool->set;
	if (new)
		slots->pool->set = NULL;
	else
		new = kmalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	*new = *slots;
	new->generation = slots->generation + 1;
	new->nr = slots->nr - !!remove + !!add;
	new->fresh = NULL;
	new->stale = NULL;
	c.set = new;

	for (i = 0; i < KVM_MEMSLOT_INDEXES && !c.failed; i++) {
		struct kvm_memslot_node *root = new->root[i], *n;

		if (remove) {
			slot_key(remove, i, &key, &end);
			root = node_remove(&c, root, key, remove->id);
		}
		if (add && !c.failed) {
			n = node_new(&c);
			if (!n)
				break;
			n->child[0] = NULL;
			n->child[1] = NULL;
			n->slot = add;
			n->id = add->id;
			slot_key(add, i, &n->key, &n->end);
			node_update(n);
			root = node_insert(&c, root, n);
		}
		new->root[i] = root;
	}
	if (c.failed) {
		kvm_memslots_discard(new);
		return NULL;
	}
	return new;
}

void kvm_memslots_discard(struct kvm_memslots *new)
{
	nodes_put(new->pool, new->fresh, false);
	set_put(new);
}

void kvm_memslots_retire(struct kvm_memslots *old, struct kvm_memslots *new)
{
	nodes_put(new->pool, new->stale, false);
	nodes_put(new->pool, new->fresh, true);
	new->stale = NULL;
	new->fresh = NULL;
	set_put(old);
}

void kvm_memslots_free(struct kvm_memslots *slots)
{
	int i;

	if (!slots)
		return;
	/* Retired (or never changed): it owns every node it reaches. */
	nodes_put(slots->pool, slots->fresh, true);
	while (slots->pool->nodes) {
		struct kvm_memslot_node *n = slots->pool->nodes;

		slots->pool->nodes = n->next;
		kfree(n);
	}
	kfree(slots->pool->set);
	kfree(slots->pool);
	for (i = 0; i < KVM_MEMSLOT_INDEXES; i++) {
		struct kvm_memslot_node *n = slots->root[i], *l;

		/* Rotate left children up until there is none, freeing. */
		while (n) {
			l = n->child[0];
			if (l) {
				n->child[0] = l->child[1];
				l->child[1] = n;
				n = l;
			} else {
				l = n->child[1];
				kfree(n);
				n = l;
			}
		}
	}
	kfree(slots);
}
