// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: memslot set validation, lookup and replacement (pure logic).
 */
#ifndef NKVM_USERSPACE
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/overflow.h>
#endif
#include <nkvm/memslot.h>

static bool ranges_overlap(gfn_t a, unsigned long na, gfn_t b, unsigned long nb)
{
	return a < b + nb && b < a + na;
}

struct kvm_memory_slot *kvm_memslots_find_id(const struct kvm_memslots *slots,
					     u16 id)
{
	int i;

	for (i = 0; i < slots->nr; i++)
		if (slots->slots[i]->id == id)
			return slots->slots[i];
	return NULL;
}


/* The first slot ending beyond @gfn (slots never overlap), or nr. */
static int memslots_first_after(const struct kvm_memslots *slots, gfn_t gfn)
{
	int lo = 0, hi = slots->nr;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		struct kvm_memory_slot *s = slots->slots[mid];

		if (gfn >= s->base_gfn + s->npages)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps_other(const struct kvm_memslots *slots, u16 id,
			   gfn_t base, unsigned long npages)
{
	int i;

	/* Only the slots from the first ending beyond base can meet it. */
	for (i = memslots_first_after(slots, base); i < slots->nr; i++) {
		const struct kvm_memory_slot *s = slots->slots[i];

		if (s->base_gfn >= base + npages)
			break;
		if (s->id != id &&
		    ranges_overlap(base, npages, s->base_gfn, s->npages))
			return true;
	}
	return false;
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
	if (as_id != 0 || id >= KVM_USER_MEM_SLOTS)
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

int kvm_memslots_hva_last(const struct kvm_memslots *slots, unsigned long end)
{
	int lo = 0, hi = slots->nr;

	/* The first slot starting at or above end; the one before it. */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (slots->by_hva[mid]->userspace_addr < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

struct kvm_memory_slot *kvm_memslots_find_gfn(const struct kvm_memslots *slots,
					      gfn_t gfn)
{
	int i = memslots_first_after(slots, gfn);

	if (i < slots->nr && gfn >= slots->slots[i]->base_gfn)
		return slots->slots[i];
	return NULL;
}

static u64 memslot_key_gfn(const struct kvm_memory_slot *s)
{
	return s->base_gfn;
}

static u64 memslot_key_hva(const struct kvm_memory_slot *s)
{
	return s->userspace_addr;
}

/* The first of the @n entries of @a whose key is above (@upper) or at @k. */
static int memslots_bound(struct kvm_memory_slot *const *a, int n, u64 k,
			  bool upper,
			  u64 (*key)(const struct kvm_memory_slot *))
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		u64 m = key(a[mid]);

		if (m < k || (upper && m == k))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * @dst: the @n entries of @src, sorted by @key, without @remove and with
 * @add after the entries of its key.  Bulk copies: a set can hold 32764
 * slots.  Returns the first index where @dst differs from @src.
 */
static int memslots_copy(struct kvm_memory_slot **dst,
			 struct kvm_memory_slot *const *src, int n,
			 const struct kvm_memory_slot *remove,
			 struct kvm_memory_slot *add,
			 u64 (*key)(const struct kvm_memory_slot *))
{
	int r = n, a = n, j = n;

	if (remove) {
		/* Keys may repeat (slots sharing host memory): find it. */
		r = memslots_bound(src, n, key(remove), false, key);
		while (r < n && src[r] != remove)
			r++;
	}
	/* (The empty set of a new VM has no arrays at all.) */
	if (r)
		memcpy(dst, src, r * sizeof(*dst));
	if (r < n) {
		memcpy(dst + r, src + r + 1, (n - r - 1) * sizeof(*dst));
		j = n - 1;
	}
	if (add) {
		a = memslots_bound(dst, j, key(add), true, key);
		memmove(dst + a + 1, dst + a, (j - a) * sizeof(*dst));
		dst[a] = add;
	}
	return min(r, a);
}

struct kvm_memslots *kvm_memslots_replace(const struct kvm_memslots *slots,
					  const struct kvm_memory_slot *remove,
					  struct kvm_memory_slot *add)
{
	int nr = slots->nr - !!remove + !!add;
	struct kvm_memslots *new;
	unsigned long end;
	int i;

	/* Every field is written below: no need to clear a large set. */
	new = kvmalloc(struct_size(new, slots, nr) +
		       nr * (sizeof(*new->by_hva) + sizeof(*new->hva_end)),
		       GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	new->nr = nr;
	new->by_hva = (struct kvm_memory_slot **)&new->slots[nr];
	new->hva_end = (unsigned long *)&new->by_hva[nr];
	memslots_copy(new->slots, slots->slots, slots->nr, remove, add,
		      memslot_key_gfn);
	i = memslots_copy(new->by_hva, slots->by_hva, slots->nr, remove, add,
			  memslot_key_hva);

	/* The running maximum of the host ends, from the first change on. */
	if (i)
		memcpy(new->hva_end, slots->hva_end, i * sizeof(*new->hva_end));
	for (end = i ? new->hva_end[i - 1] : 0; i < nr; i++) {
		end = max(end, kvm_memslot_hva_end(new->by_hva[i]));
		new->hva_end[i] = end;
	}
	return new;
}

void kvm_memslots_free(struct kvm_memslots *slots)
{
	kvfree(slots);
}
