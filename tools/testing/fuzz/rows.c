// SPDX-License-Identifier: GPL-2.0
/*
 * rows.c - every ioctl the fuzzer knows: the ones nkvm implements today and
 * every ioctl Linux KVM has (nkvm grows into them), each with the fds it
 * belongs to and a generator for its argument.
 *
 * To add an ioctl: add a row.  A row without a generator gets a structure
 * of _IOC_SIZE(cmd) bytes of mostly-zero, sometimes-special words; write a
 * generator when the ioctl needs well-formed input to get past its first
 * checks (counts, flags, nested pointers, fds).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#include <nkvm/nkvm.h>

#include "compat.h"
#include "fuzz.h"

/* ---- Small helpers ----------------------------------------------------- */

#define GEN(name) static void name(struct fz_thread *t __attribute__((unused)), \
				   struct fz_arg *a __attribute__((unused)))
#define POST(name) static void name(struct fz_thread *t __attribute__((unused)), \
				    struct fz_arg *a __attribute__((unused)), long ret)

static void *arg_struct(struct fz_arg *a, size_t len)
{
	if (len > a->cap)
		len = a->cap;
	memset(a->buf, 0, len);
	a->len = len;
	a->ptr = true;
	return a->buf;
}

/* A count for a flexible array: usually small, sometimes huge. */
static uint32_t fz_count_val(struct fz_thread *t, uint32_t sane_max)
{
	switch (fz_below(t, 10)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)fz_interesting(t);
	case 2:
		return sane_max + fz_below(t, 3);
	default:
		return 1 + fz_below(t, sane_max ? sane_max : 1);
	}
}

/* Entries that fit in the scratch buffer after a header of hdr bytes. */
static uint32_t fit(const struct fz_arg *a, size_t hdr, size_t esz, uint32_t n)
{
	size_t max = (a->cap - hdr) / esz;

	return n < max ? n : (uint32_t)max;
}

/* Interesting MSR indices, for KVM_GET/SET_MSRS and the guests. */
static const uint32_t fz_msrs[] = {
	0x10, 0x1b, 0x3a, 0x48, 0x49, 0x8b, 0xe7, 0xe8, 0xfe, 0x10a,
	0x122, 0x174, 0x175, 0x176, 0x179, 0x17a, 0x186, 0x1a0, 0x1d9,
	0x200, 0x277, 0x2ff, 0x400, 0x480, 0x6e0, 0x800, 0x808, 0x80b,
	0x830, 0x838, 0xd90, 0xda0,
	0x40000000, 0x40000001, 0x40000002, 0x40000003, 0x40000020,
	0x40000021, 0x40000022, 0x40000070, 0x40000071, 0x40000073,
	0x40000080, 0x40000084, 0x40000090, 0x400000b0, 0x400000b1,
	0x400000f1, 0x400000ff, 0x40000100, 0x40000105, 0x40000108,
	0x4b564d00,
	0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04,
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0xc0000104,
	0xc0010010, 0xc0010015, 0xc0010114, 0xc0010117, 0xc0010140,
	0xc0011022, 0xc001102a, 0xffffffff,
};

uint32_t fz_msr_index(struct fz_thread *t);
uint32_t fz_msr_index(struct fz_thread *t)
{
	if (fz_chance(t, 85))
		return fz_msrs[fz_below(t, sizeof(fz_msrs) / sizeof(fz_msrs[0]))];
	return (uint32_t)fz_rand(t);
}

/* ---- System ioctls ----------------------------------------------------- */

GEN(gen_zero)
{
	(void)a;
	a->val = fz_chance(t, 92) ? 0 : fz_val(t);
}

GEN(gen_create_vm)
{
	switch (fz_below(t, 20)) {
	case 0:
		a->val = fz_val(t);
		break;
	case 1:
		a->val = 1 + fz_below(t, 4);	/* protected/SEV VM types */
		break;
	default:
		a->val = 0;
	}
}

POST(post_create_vm)
{
	if (ret >= 0)
		fz_obj_add(t, FK_VM, (int)ret, -1);
}

GEN(gen_cap)
{
	switch (fz_below(t, 10)) {
	case 0:
		a->val = fz_val(t);
		break;
	case 1:
		a->val = (unsigned long)-1L - fz_below(t, 3);
		break;
	default:
		a->val = fz_below(t, 250);
	}
}

GEN(gen_msr_list)
{
	struct kvm_msr_list *l = arg_struct(a, sizeof(*l));
	uint32_t n = fz_count_val(t, 300);

	l->nmsrs = n;
	a->len = sizeof(*l) + 4 * (size_t)fit(a, sizeof(*l), 4, n);
}

GEN(gen_cpuid2)
{
	struct kvm_cpuid2 *c = arg_struct(a, sizeof(*c));
	uint32_t n = fz_count_val(t, 80), i, cnt;

	c->nent = n;
	cnt = fit(a, sizeof(*c), sizeof(c->entries[0]), n);
	for (i = 0; i < cnt; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		static const uint32_t leaves[] = {
			0, 1, 2, 4, 6, 7, 0xa, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14,
			0x1d, 0x1e, 0x1f, 0x40000000, 0x40000001, 0x40000003,
			0x40000004, 0x40000082, 0x40000100,
			0x80000000, 0x80000001, 0x80000007, 0x80000008,
			0x8000000a, 0x8000001f, 0x80000021,
		};
		e->function = fz_chance(t, 80) ?
			leaves[fz_below(t, sizeof(leaves) / sizeof(leaves[0]))] :
			(uint32_t)fz_rand(t);
		e->index = fz_chance(t, 70) ? 0 : (uint32_t)fz_below(t, 64);
		e->flags = fz_chance(t, 80) ? 0 : (uint32_t)fz_below(t, 8);
		e->eax = (uint32_t)fz_rand(t);
		e->ebx = (uint32_t)fz_rand(t);
		e->ecx = (uint32_t)fz_rand(t);
		e->edx = (uint32_t)fz_rand(t);
		if (fz_chance(t, 5))
			e->padding[fz_below(t, 3)] = (uint32_t)fz_rand(t);
	}
	a->len = sizeof(*c) + cnt * sizeof(c->entries[0]);
}

GEN(gen_cpuid1)
{
	struct kvm_cpuid *c = arg_struct(a, sizeof(*c));
	uint32_t n = fz_count_val(t, 40), cnt, i;

	c->nent = n;
	cnt = fit(a, sizeof(*c), sizeof(c->entries[0]), n);
	for (i = 0; i < cnt; i++) {
		c->entries[i].function = fz_chance(t, 50) ?
			(uint32_t)fz_below(t, 0x20) : (uint32_t)fz_rand(t);
		c->entries[i].eax = (uint32_t)fz_rand(t);
		c->entries[i].ebx = (uint32_t)fz_rand(t);
		c->entries[i].ecx = (uint32_t)fz_rand(t);
		c->entries[i].edx = (uint32_t)fz_rand(t);
	}
	a->len = sizeof(*c) + cnt * sizeof(c->entries[0]);
}

/* ---- VM ioctls --------------------------------------------------------- */

GEN(gen_create_vcpu)
{
	switch (fz_below(t, 20)) {
	case 0:
		a->val = fz_val(t);
		break;
	case 1:
		a->val = 4094 + fz_below(t, 4);	/* around KVM_MAX_VCPU_IDS */
		break;
	case 2:
		a->val = fz_below(t, 1024);
		break;
	default:
		a->val = fz_below(t, 8);
	}
}

void fz_vcpu_created(struct fz_thread *t, int vm_obj, int fd, int id);

POST(post_create_vcpu)
{
	if (ret >= 0)
		fz_vcpu_created(t, a->obj, (int)ret, (int)a->val);
}

/* Recently accepted memslots, replayed with changes (moves, flags, deletes). */
#define FZ_NREGIONS 16
static struct kvm_userspace_memory_region fz_regions[FZ_NREGIONS];
static unsigned int fz_nregion;

static void mem_region(struct fz_thread *t, struct kvm_userspace_memory_region *m)
{
	uint64_t size;

	if (fz_chance(t, 35) && fz_nregion) {
		*m = fz_regions[fz_below(t, fz_nregion < FZ_NREGIONS ?
					    fz_nregion : FZ_NREGIONS)];
		switch (fz_below(t, 6)) {
		case 0:
			m->memory_size = 0;		/* delete */
			break;
		case 1:
			m->guest_phys_addr = fz_gpa(t);	/* move */
			break;
		case 2:
			m->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
			break;
		case 3:
			m->flags ^= KVM_MEM_READONLY;
			break;
		case 4:
			m->userspace_addr += 4096 * fz_below(t, 4);
			break;
		default:
			break;				/* the same again */
		}
		return;
	}

	switch (fz_below(t, 20)) {
	case 0:
		m->slot = (uint32_t)fz_rand(t);
		break;
	case 1:
		m->slot = (1u << 16) | fz_below(t, 4);		/* SMM space */
		break;
	case 2:
		m->slot = 32764 - 2 + fz_below(t, 4);	/* KVM_USER_MEM_SLOTS */
		break;
	case 3:
	case 4:
		m->slot = fz_below(t, 32);
		break;
	default:
		m->slot = fz_below(t, 4);
	}

	switch (fz_below(t, 25)) {
	case 0:
		m->flags = (uint32_t)fz_rand(t);
		break;
	case 1:
		m->flags = fz_below(t, 16);
		break;
	case 2:
	case 3:
		m->flags = KVM_MEM_LOG_DIRTY_PAGES;
		break;
	case 4:
	case 5:
		m->flags = KVM_MEM_READONLY;
		break;
	case 6:
		m->flags = KVM_MEM_GUEST_MEMFD;
		break;
	default:
		m->flags = 0;
	}

	switch (fz_below(t, 20)) {
	case 0:
	case 1:
	case 2:
		size = 0;
		break;
	case 3:
		size = fz_rand(t);
		break;
	case 4:
		size = 4096 * (1 + fz_below(t, 64)) + 1 + fz_below(t, 4095);
		break;
	case 5:
		size = (1ULL << (30 + fz_below(t, 7)));	/* 1 GiB .. 64 GiB */
		break;
	case 6:
	case 7:
		size = fz_pool_size() >> fz_below(t, 4);
		break;
	default:
		size = 4096 * (1 + fz_below(t, 512));
	}
	m->memory_size = size;
	m->guest_phys_addr = fz_gpa(t);
	if (size && fz_chance(t, 30) && !(size & (size - 1)))
		m->guest_phys_addr &= ~(size - 1);
	m->userspace_addr = fz_hva(t, size);
}

GEN(gen_memregion)
{
	struct kvm_userspace_memory_region *m = arg_struct(a, sizeof(*m));

	mem_region(t, m);
}

POST(post_memregion)
{
	(void)t;
	if (ret == 0 && a->len >= sizeof(struct kvm_userspace_memory_region)) {
		const struct kvm_userspace_memory_region *m = (const void *)a->buf;

		if (m->memory_size)
			fz_regions[__atomic_fetch_add(&fz_nregion, 1, __ATOMIC_RELAXED) %
				   FZ_NREGIONS] = *m;
	}
}

GEN(gen_memregion2)
{
	struct fz_userspace_memory_region2 {
		uint32_t slot, flags;
		uint64_t gpa, size, hva, gmem_offset;
		uint32_t gmem_fd, pad1;
		uint64_t pad2[14];
	} *m = arg_struct(a, sizeof(*m));
	struct kvm_userspace_memory_region r = { 0 };

	mem_region(t, &r);
	m->slot = r.slot;
	m->flags = r.flags;
	m->gpa = r.guest_phys_addr;
	m->size = r.memory_size;
	m->hva = r.userspace_addr;
	if (fz_chance(t, 30)) {
		m->flags |= KVM_MEM_GUEST_MEMFD;
		m->gmem_fd = (uint32_t)fz_pick_fd(t, FKM(FK_GMEM));
		m->gmem_offset = fz_chance(t, 70) ? 4096 * fz_below(t, 16) : fz_val(t);
	}
	if (fz_chance(t, 5))
		m->pad2[fz_below(t, 14)] = fz_rand(t);
}

GEN(gen_old_region)
{
	struct kvm_memory_region *m = arg_struct(a, sizeof(*m));

	m->slot = fz_below(t, 8);
	m->guest_phys_addr = fz_gpa(t);
	m->memory_size = 4096 * fz_below(t, 64);
}

GEN(gen_dirty_log)
{
	struct kvm_dirty_log *d = arg_struct(a, sizeof(*d));

	d->slot = fz_chance(t, 80) ? fz_below(t, 4) : (uint32_t)fz_rand(t);
	d->dirty_bitmap = (void *)(uintptr_t)fz_user_ptr(t);
}

GEN(gen_clear_dirty_log)
{
	struct kvm_clear_dirty_log *d = arg_struct(a, sizeof(*d));

	d->slot = fz_chance(t, 80) ? fz_below(t, 4) : (uint32_t)fz_rand(t);
	d->first_page = fz_chance(t, 70) ? 64 * fz_below(t, 8) : fz_val(t);
	d->num_pages = fz_chance(t, 70) ? 64 * (1 + fz_below(t, 8)) : (uint32_t)fz_val(t);
	d->dirty_bitmap = (void *)(uintptr_t)fz_user_ptr(t);
}

GEN(gen_small_val)
{
	a->val = fz_chance(t, 80) ? fz_below(t, 64) : fz_val(t);
}

GEN(gen_addr_val)
{
	a->val = fz_chance(t, 70) ? fz_gpa(t) : fz_val(t);
}

GEN(gen_u64_addr)
{
	uint64_t *p = arg_struct(a, sizeof(*p));

	*p = fz_chance(t, 70) ? fz_gpa(t) : fz_val(t);
}

GEN(gen_irq_level)
{
	struct kvm_irq_level *l = arg_struct(a, sizeof(*l));

	l->irq = fz_chance(t, 80) ? fz_below(t, 48) : (uint32_t)fz_val(t);
	l->level = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
}

GEN(gen_irqchip)
{
	struct kvm_irqchip *c = arg_struct(a, sizeof(*c));

	fz_fill_struct(t, c, sizeof(*c));
	c->chip_id = fz_chance(t, 80) ? fz_below(t, 4) : (uint32_t)fz_val(t);
}

GEN(gen_irq_routing)
{
	struct kvm_irq_routing *r = arg_struct(a, sizeof(*r));
	uint32_t n = fz_count_val(t, 64), cnt, i;

	r->nr = n;
	r->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	cnt = fit(a, sizeof(*r), sizeof(r->entries[0]), n);
	for (i = 0; i < cnt; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[i];

		e->gsi = fz_chance(t, 80) ? fz_below(t, 64) : (uint32_t)fz_val(t);
		e->type = fz_chance(t, 85) ? 1 + fz_below(t, 5) : (uint32_t)fz_val(t);
		e->flags = fz_chance(t, 85) ? 0 : (uint32_t)fz_val(t);
		switch (e->type) {
		case KVM_IRQ_ROUTING_IRQCHIP:
			e->u.irqchip.irqchip = fz_below(t, 4);
			e->u.irqchip.pin = fz_chance(t, 80) ? fz_below(t, 24) :
						(uint32_t)fz_val(t);
			break;
		case KVM_IRQ_ROUTING_MSI:
			e->u.msi.address_lo = 0xfee00000 | (fz_below(t, 256) << 12);
			e->u.msi.address_hi = fz_chance(t, 80) ? 0 : (uint32_t)fz_val(t);
			e->u.msi.data = (uint32_t)fz_rand(t) & 0xffff;
			break;
		default:
			fz_fill_struct(t, &e->u, sizeof(e->u));
		}
	}
	a->len = sizeof(*r) + cnt * sizeof(r->entries[0]);
}

GEN(gen_irqfd)
{
	struct kvm_irqfd *f = arg_struct(a, sizeof(*f));

	f->fd = (uint32_t)fz_pick_fd(t, FKM(FK_EVENT));
	f->gsi = fz_chance(t, 80) ? fz_below(t, 32) : (uint32_t)fz_val(t);
	f->flags = fz_chance(t, 70) ? 0 : fz_below(t, 8);
	if (f->flags & KVM_IRQFD_FLAG_RESAMPLE)
		f->resamplefd = (uint32_t)fz_pick_fd(t, FKM(FK_EVENT));
}

/* Linux's layout; nkvm's DATAREAD flag reads a value from its padding. */
GEN(gen_ioeventfd)
{
	struct nkvm_ioeventfd_dataread *e = arg_struct(a, sizeof(*e));
	static const uint32_t lens[] = { 0, 1, 2, 4, 8, 3, 16 };

	e->fd = fz_pick_fd(t, FKM(FK_EVENT));
	e->flags = fz_chance(t, 80) ? fz_below(t, 8) : (uint32_t)fz_val(t);
	if (fz_chance(t, 30))
		e->flags |= KVM_IOEVENTFD_FLAG_DATAREAD;
	e->len = lens[fz_below(t, 7)];
	e->addr = (e->flags & KVM_IOEVENTFD_FLAG_PIO) ? fz_below(t, 0x10000) : fz_gpa(t);
	e->datamatch = fz_val(t);
	e->dataread = fz_chance(t, 70) ? fz_below(t, 256) : fz_val(t);
	if (fz_chance(t, 10))
		e->pad0 = (uint32_t)fz_val(t);
}

/* nkvm's floor loop: few entries, sometimes none or far too many. */
GEN(gen_floor)
{
	struct nkvm_floor *f = arg_struct(a, sizeof(*f));

	f->iterations = fz_chance(t, 80) ? fz_below(t, 64) : fz_val(t);
	f->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	if (fz_chance(t, 10))
		f->pad[fz_below(t, 3)] = fz_val(t);
}

GEN(gen_coalesced)
{
	struct kvm_coalesced_mmio_zone *z = arg_struct(a, sizeof(*z));

	z->addr = fz_chance(t, 50) ? fz_below(t, 0x10000) : fz_gpa(t);
	z->size = fz_chance(t, 80) ? 1 + fz_below(t, 0x1000) : (uint32_t)fz_val(t);
	z->pio = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
}

GEN(gen_msi)
{
	struct kvm_msi *m = arg_struct(a, sizeof(*m));

	m->address_lo = fz_chance(t, 80) ? 0xfee00000 | (fz_below(t, 256) << 12) :
					(uint32_t)fz_val(t);
	m->address_hi = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	m->data = (uint32_t)fz_rand(t);
	m->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
}

GEN(gen_enable_cap)
{
	struct kvm_enable_cap *c = arg_struct(a, sizeof(*c));
	int i;

	c->cap = fz_chance(t, 90) ? fz_below(t, 250) : (uint32_t)fz_val(t);
	c->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	for (i = 0; i < 4; i++) {
		switch (fz_below(t, 6)) {
		case 0:
			c->args[i] = (uint64_t)fz_pick_fd(t, FKM_VM);
			break;
		case 1:
			c->args[i] = fz_val(t);
			break;
		case 2:
			c->args[i] = fz_below(t, 2);
			break;
		case 3:
			c->args[i] = 4096ULL << fz_below(t, 10);
			break;
		default:
			c->args[i] = 0;
		}
	}
}

GEN(gen_create_device)
{
	struct kvm_create_device *d = arg_struct(a, sizeof(*d));

	d->type = fz_chance(t, 85) ? fz_below(t, 12) : (uint32_t)fz_val(t);
	d->flags = fz_chance(t, 70) ? 0 : fz_chance(t, 80) ? 1 : (uint32_t)fz_val(t);
	d->fd = (uint32_t)fz_rand(t);
}

POST(post_create_device)
{
	const struct kvm_create_device *d = (const void *)a->val;
	int fd = -1;

	if (ret != 0 || !a->val)
		return;
	fz_copy_guarded(t, &fd, &d->fd, sizeof(fd));
	/* With KVM_CREATE_DEVICE_TEST no device is made: fd is untouched. */
	if (fd > 2 && !(((const struct kvm_create_device *)a->buf)->flags & 1))
		fz_obj_add(t, FK_DEV, fd, a->obj);
}

GEN(gen_device_attr)
{
	struct kvm_device_attr *d = arg_struct(a, sizeof(*d));

	d->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	d->group = fz_chance(t, 85) ? fz_below(t, 8) : (uint32_t)fz_val(t);
	d->attr = fz_chance(t, 85) ? fz_below(t, 8) : fz_val(t);
	if (fz_chance(t, 40)) {
		/* Many attributes take a pointer to an fd or a u64. */
		int32_t *p = (int32_t *)(a->buf + 1024);

		*p = fz_pick_fd(t, ~0u);
		d->addr = (uintptr_t)p;
	} else {
		d->addr = fz_user_ptr(t);
	}
}

GEN(gen_clock)
{
	struct kvm_clock_data *c = arg_struct(a, sizeof(*c));

	c->clock = fz_val(t);
	c->flags = fz_chance(t, 70) ? 0 : fz_chance(t, 50) ? fz_below(t, 8) :
					(uint32_t)fz_val(t);
	c->realtime = fz_val(t);
	c->host_tsc = fz_val(t);
}

GEN(gen_pmu_filter)
{
	struct kvm_pmu_event_filter *f = arg_struct(a, sizeof(*f));
	uint32_t n = fz_count_val(t, 300), cnt, i;

	f->action = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
	f->nevents = n;
	f->fixed_counter_bitmap = (uint32_t)fz_rand(t);
	f->flags = fz_chance(t, 80) ? 0 : (uint32_t)fz_val(t);
	cnt = fit(a, sizeof(*f), 8, n);
	for (i = 0; i < cnt; i++)
		f->events[i] = fz_chance(t, 50) ? fz_below(t, 0x10000) : fz_rand(t);
	a->len = sizeof(*f) + 8 * (size_t)cnt;
}

GEN(gen_msr_filter)
{
	struct kvm_msr_filter *f = arg_struct(a, sizeof(*f));
	unsigned int i, n = fz_below(t, KVM_MSR_FILTER_MAX_RANGES + 1);
	uint8_t *bitmaps = a->buf + 2048;

	f->flags = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
	fz_fill_random(t, bitmaps, 4096);
	for (i = 0; i < n; i++) {
		f->ranges[i].flags = fz_chance(t, 85) ? fz_below(t, 4) : (uint32_t)fz_val(t);
		f->ranges[i].nmsrs = fz_chance(t, 80) ? fz_below(t, 8 * 1024) :
						(uint32_t)fz_val(t);
		f->ranges[i].base = fz_msr_index(t);
		f->ranges[i].bitmap = fz_chance(t, 80) ?
			bitmaps + fz_below(t, 1024) : (uint8_t *)(uintptr_t)fz_user_ptr(t);
	}
}

GEN(gen_xen_hvm_attr)
{
	struct kvm_xen_hvm_attr *x = arg_struct(a, sizeof(*x));

	fz_fill_struct(t, x, sizeof(*x));
	x->type = fz_chance(t, 85) ? fz_below(t, 8) : (uint16_t)fz_val(t);
	if (fz_chance(t, 30))
		x->u.evtchn.deliver.eventfd.fd = fz_pick_fd(t, FKM(FK_EVENT));
}

GEN(gen_enc_region)
{
	struct kvm_enc_region *r = arg_struct(a, sizeof(*r));

	r->size = fz_chance(t, 70) ? 4096 * fz_below(t, 16) : fz_val(t);
	r->addr = fz_hva(t, r->size);
}

GEN(gen_hv_eventfd)
{
	struct kvm_hyperv_eventfd *h = arg_struct(a, sizeof(*h));

	h->conn_id = fz_chance(t, 80) ? fz_below(t, 16) : (uint32_t)fz_val(t);
	h->fd = fz_pick_fd(t, FKM(FK_EVENT));
	h->flags = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
}

GEN(gen_memory_attributes)
{
	uint64_t *m = arg_struct(a, 32);	/* address, size, attributes, flags */

	m[0] = fz_gpa(t);
	m[1] = fz_chance(t, 70) ? 4096 * (1 + fz_below(t, 64)) : fz_val(t);
	m[2] = fz_chance(t, 70) ? (fz_below(t, 2) << 3) : fz_val(t);
	m[3] = fz_chance(t, 90) ? 0 : fz_val(t);
}

GEN(gen_guest_memfd)
{
	uint64_t *g = arg_struct(a, 64);	/* size, flags, reserved[6] */

	g[0] = fz_chance(t, 70) ? 4096 * (1 + fz_below(t, 256)) : fz_val(t);
	g[1] = fz_chance(t, 80) ? 0 : fz_val(t);
	if (fz_chance(t, 5))
		g[2 + fz_below(t, 6)] = fz_rand(t);
}

POST(post_gmem)
{
	if (ret >= 0)
		fz_obj_add(t, FK_GMEM, (int)ret, a->obj);
}

POST(post_stats_fd)
{
	if (ret >= 0)
		fz_obj_add(t, FK_STATS, (int)ret, a->obj);
}

GEN(gen_pre_fault)
{
	uint64_t *p = arg_struct(a, 64);	/* gpa, size, flags, padding[5] */

	p[0] = fz_gpa(t);
	p[1] = fz_chance(t, 70) ? 4096 * (1 + fz_below(t, 64)) : fz_val(t);
	p[2] = fz_chance(t, 90) ? 0 : fz_val(t);
}

/* ---- vCPU ioctls ------------------------------------------------------- */

GEN(gen_regs)
{
	fz_gen_regs(t, arg_struct(a, sizeof(struct kvm_regs)));
}

GEN(gen_sregs)
{
	fz_gen_sregs(t, arg_struct(a, sizeof(struct kvm_sregs)));
}

GEN(gen_sregs2)
{
	struct kvm_sregs2 *s2 = arg_struct(a, sizeof(*s2));
	struct kvm_sregs s;
	int i;

	fz_gen_sregs(t, &s);
	s2->cs = s.cs; s2->ds = s.ds; s2->es = s.es; s2->fs = s.fs;
	s2->gs = s.gs; s2->ss = s.ss; s2->tr = s.tr; s2->ldt = s.ldt;
	s2->gdt = s.gdt; s2->idt = s.idt;
	s2->cr0 = s.cr0; s2->cr2 = s.cr2; s2->cr3 = s.cr3; s2->cr4 = s.cr4;
	s2->cr8 = s.cr8; s2->efer = s.efer; s2->apic_base = s.apic_base;
	fz_tcg_safe_tr(&s2->tr);
	if (fz_tcg_workarounds() && !(s2->cr0 & (1ULL << 31)))
		s2->efer &= ~(1ULL << 8);
	s2->flags = fz_chance(t, 80) ? fz_below(t, 2) : fz_val(t);
	for (i = 0; i < 4; i++)
		s2->pdptrs[i] = fz_chance(t, 50) ? fz_gpa(t) | 1 : fz_rand(t);
}

GEN(gen_translation)
{
	struct kvm_translation *tr = arg_struct(a, sizeof(*tr));

	tr->linear_address = fz_chance(t, 60) ? fz_gpa(t) : fz_val(t);
}

GEN(gen_interrupt)
{
	struct kvm_interrupt *i = arg_struct(a, sizeof(*i));

	i->irq = fz_chance(t, 80) ? fz_below(t, 256) : (uint32_t)fz_val(t);
}

GEN(gen_msrs)
{
	struct kvm_msrs *m = arg_struct(a, sizeof(*m));
	uint32_t n = fz_count_val(t, 16), cnt, i;

	m->nmsrs = n;
	m->pad = fz_chance(t, 95) ? 0 : (uint32_t)fz_rand(t);
	cnt = fit(a, sizeof(*m), sizeof(m->entries[0]), n);
	for (i = 0; i < cnt; i++) {
		m->entries[i].index = fz_msr_index(t);
		m->entries[i].reserved = fz_chance(t, 95) ? 0 : (uint32_t)fz_rand(t);
		m->entries[i].data = fz_val(t);
		/*
		 * No EFER.LME from userspace either (see fz_tcg_safe_sregs()).
		 * A bed CPU was once found running the host's kernel code with
		 * the guest's CR0 (paging off) and EFER.LME and LMA set, under
		 * Linux KVM as under nkvm (seed 0xff18b420dd494899 of the table
		 * before this change, about 47,000 calls in); an EFER with LME
		 * written here while paging was off is the likely way in.
		 */
		if (m->entries[i].index == 0xc0000080 && fz_tcg_workarounds())
			m->entries[i].data &= ~(1ULL << 8);
	}
	a->len = sizeof(*m) + cnt * sizeof(m->entries[0]);
}

GEN(gen_signal_mask)
{
	struct kvm_signal_mask *m = arg_struct(a, sizeof(*m) + 16);
	uint64_t set = fz_rand(t);

	m->len = fz_chance(t, 80) ? 8 : (uint32_t)fz_val(t);
	/* Never block the signal that interrupts KVM_RUN. */
	set &= ~(1ULL << (SIGUSR1 - 1));
	memcpy(m->sigset, &set, 8);
	if (fz_chance(t, 20)) {
		a->ptr = false;		/* NULL: no mask */
		a->val = 0;
	}
}

GEN(gen_mp_state)
{
	struct kvm_mp_state *m = arg_struct(a, sizeof(*m));

	m->mp_state = fz_chance(t, 85) ? fz_below(t, 11) : (uint32_t)fz_val(t);
}

GEN(gen_guest_debug)
{
	struct kvm_guest_debug *d = arg_struct(a, sizeof(*d));
	static const uint32_t bits[] = {
		KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP,
		KVM_GUESTDBG_USE_SW_BP, KVM_GUESTDBG_USE_HW_BP,
		KVM_GUESTDBG_INJECT_DB, KVM_GUESTDBG_INJECT_BP,
		KVM_GUESTDBG_BLOCKIRQ,
	};
	unsigned int i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (fz_chance(t, 30))
			d->control |= bits[i];
	if (fz_chance(t, 5))
		d->control = (uint32_t)fz_rand(t);
	for (i = 0; i < 8; i++)
		d->arch.debugreg[i] = fz_chance(t, 50) ? fz_gpa(t) : fz_val(t);
	if (fz_tcg_workarounds()) {
		d->control &= ~KVM_GUESTDBG_USE_HW_BP;
		d->arch.debugreg[7] &= ~0xffULL;
	}
}

GEN(gen_u64_val)
{
	uint64_t *p = arg_struct(a, sizeof(*p));

	*p = fz_val(t);
}

GEN(gen_mce)
{
	struct kvm_x86_mce *m = arg_struct(a, sizeof(*m));

	m->status = fz_rand(t) | (fz_chance(t, 70) ? 1ULL << 63 : 0);
	m->addr = fz_gpa(t);
	m->misc = fz_val(t);
	m->mcg_status = fz_val(t);
	m->bank = fz_chance(t, 80) ? fz_below(t, 32) : (uint8_t)fz_rand(t);
}

GEN(gen_vcpu_events)
{
	struct kvm_vcpu_events *e = arg_struct(a, sizeof(*e));

	e->exception.injected = fz_below(t, 2);
	e->exception.nr = fz_chance(t, 80) ? fz_below(t, 32) : (uint8_t)fz_rand(t);
	e->exception.has_error_code = fz_below(t, 2);
	e->exception.pending = fz_below(t, 2);
	e->exception.error_code = (uint32_t)fz_val(t);
	e->interrupt.injected = fz_below(t, 2);
	e->interrupt.nr = (uint8_t)fz_rand(t);
	e->interrupt.soft = fz_below(t, 2);
	e->interrupt.shadow = fz_below(t, 4);
	e->nmi.injected = fz_below(t, 2);
	e->nmi.pending = fz_below(t, 2);
	e->nmi.masked = fz_below(t, 2);
	e->sipi_vector = (uint32_t)fz_val(t);
	e->flags = fz_chance(t, 80) ? fz_below(t, 0x40) : (uint32_t)fz_val(t);
	e->smi.smm = fz_below(t, 2);
	e->smi.pending = fz_below(t, 2);
	e->smi.smm_inside_nmi = fz_below(t, 2);
	e->smi.latched_init = fz_below(t, 2);
	e->triple_fault.pending = fz_below(t, 2);
	e->exception_has_payload = fz_below(t, 2);
	e->exception_payload = fz_val(t);
	if (fz_chance(t, 5))
		e->reserved[fz_below(t, 26)] = (uint8_t)fz_rand(t);
}

GEN(gen_debugregs)
{
	struct kvm_debugregs *d = arg_struct(a, sizeof(*d));
	int i;

	for (i = 0; i < 4; i++)
		d->db[i] = fz_val(t);
	d->dr6 = fz_chance(t, 50) ? 0xffff0ff0 : fz_val(t);
	d->dr7 = fz_chance(t, 50) ? 0x400 | fz_below(t, 0x100) : fz_val(t);
	/* No armed breakpoints under TCG (see guest.c, snippet 13). */
	if (fz_tcg_workarounds())
		d->dr7 &= ~0xffULL;
	d->flags = fz_chance(t, 90) ? 0 : fz_val(t);
}

GEN(gen_xcrs)
{
	struct kvm_xcrs *x = arg_struct(a, sizeof(*x));
	unsigned int i;

	x->nr_xcrs = fz_chance(t, 80) ? fz_below(t, KVM_MAX_XCRS + 1) : (uint32_t)fz_val(t);
	x->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
	for (i = 0; i < KVM_MAX_XCRS; i++) {
		x->xcrs[i].xcr = fz_chance(t, 80) ? 0 : (uint32_t)fz_val(t);
		x->xcrs[i].value = fz_chance(t, 50) ? 1 | (fz_below(t, 8) << 1) : fz_val(t);
	}
}

GEN(gen_xsave)
{
	struct kvm_xsave *x = arg_struct(a, sizeof(*x));

	fz_fill_struct(t, x, sizeof(*x));
	if (fz_chance(t, 30))
		fz_fill_random(t, x, sizeof(*x));
}

GEN(gen_one_reg)
{
	struct kvm_one_reg *r = arg_struct(a, sizeof(*r));

	r->id = fz_rand(t);
	r->addr = fz_user_ptr(t);
}

GEN(gen_reg_list)
{
	struct kvm_reg_list *l = arg_struct(a, sizeof(*l));

	l->n = fz_count_val(t, 512);
}

GEN(gen_nested_state)
{
	struct kvm_nested_state *n = arg_struct(a, sizeof(*n));
	size_t data = fz_chance(t, 60) ? 8192 : fz_below(t, 16384);

	if (sizeof(*n) + data > a->cap)
		data = a->cap - sizeof(*n);
	fz_fill_struct(t, n, sizeof(*n) + data);
	n->flags = fz_chance(t, 80) ? fz_below(t, 8) : (uint16_t)fz_rand(t);
	n->format = fz_chance(t, 85) ? fz_below(t, 2) : (uint16_t)fz_rand(t);
	n->size = fz_chance(t, 70) ? (uint32_t)(sizeof(*n) + data) : (uint32_t)fz_val(t);
	a->len = sizeof(*n) + data;
}

GEN(gen_tpr_access)
{
	struct kvm_tpr_access_ctl *c = arg_struct(a, sizeof(*c));

	c->enabled = fz_below(t, 2);
	c->flags = fz_chance(t, 90) ? 0 : (uint32_t)fz_val(t);
}

GEN(gen_vapic)
{
	struct kvm_vapic_addr *v = arg_struct(a, sizeof(*v));

	v->vapic_addr = fz_chance(t, 80) ? fz_gpa(t) : fz_val(t);
}

GEN(gen_xen_vcpu_attr)
{
	struct kvm_xen_vcpu_attr *x = arg_struct(a, sizeof(*x));

	fz_fill_struct(t, x, sizeof(*x));
	x->type = fz_chance(t, 85) ? fz_below(t, 10) : (uint16_t)fz_val(t);
	if (fz_chance(t, 50))
		x->u.gpa = fz_gpa(t);
}

GEN(gen_tsc_khz)
{
	a->val = fz_chance(t, 70) ? 100000 + fz_below(t, 5000000) : fz_val(t);
}

GEN(gen_pit_config)
{
	struct kvm_pit_config *c = arg_struct(a, sizeof(*c));

	c->flags = fz_chance(t, 80) ? fz_below(t, 2) : (uint32_t)fz_val(t);
}

/* ---- The table --------------------------------------------------------- */

#define R(n, k, f, w, g, p)	{ #n, n, k, f, w, g, p }
#define S	FKM_SYS
#define V	FKM_VM
#define C	FKM_VCPU
#define D	FKM_DEV
#define NK	FZR_NKVM
#define O	FZR_OUT
#define VAL	FZR_VAL
#define Z	(FZR_VAL | FZR_ZERO)

const struct fz_row fz_rows[] = {
	/* /dev/kvm */
	R(KVM_GET_API_VERSION,		S, NK | Z, 4, gen_zero, NULL),
	R(KVM_CREATE_VM,		S, NK | VAL, 6, gen_create_vm, post_create_vm),
	R(KVM_CHECK_EXTENSION,		S | V, NK | VAL, 8, gen_cap, NULL),
	R(KVM_GET_VCPU_MMAP_SIZE,	S, NK | Z, 4, gen_zero, NULL),
	R(KVM_GET_MSR_INDEX_LIST,	S, NK | O, 1, gen_msr_list, NULL),
	R(KVM_GET_MSR_FEATURE_INDEX_LIST, S, NK | O, 1, gen_msr_list, NULL),
	R(KVM_GET_SUPPORTED_CPUID,	S, NK | O, 1, gen_cpuid2, NULL),
	R(KVM_GET_EMULATED_CPUID,	S, O, 1, gen_cpuid2, NULL),
	R(KVM_GET_SUPPORTED_HV_CPUID,	S | C, NK | O, 1, gen_cpuid2, NULL),
	R(KVM_X86_GET_MCE_CAP_SUPPORTED, S, NK | O, 1, NULL, NULL),
	R(KVM_GET_DEVICE_ATTR,		S | V | C | D, NK | O, 1, gen_device_attr, NULL),
	R(KVM_HAS_DEVICE_ATTR,		S | V | C | D, NK, 1, gen_device_attr, NULL),
	R(KVM_S390_ENABLE_SIE,		S, Z, 1, gen_zero, NULL),
	R(FZ_OLD_TRACE_ENABLE,		S, 0, 1, NULL, NULL),
	R(FZ_OLD_TRACE_PAUSE,		S, Z, 1, gen_zero, NULL),
	R(FZ_OLD_TRACE_DISABLE,		S, Z, 1, gen_zero, NULL),

	/* VM */
	R(KVM_CREATE_VCPU,		V, NK | VAL, 10, gen_create_vcpu, post_create_vcpu),
	R(KVM_SET_USER_MEMORY_REGION,	V, NK, 24, gen_memregion, post_memregion),
	R(KVM_SET_USER_MEMORY_REGION2,	V, 0, 2, gen_memregion2, NULL),
	R(KVM_SET_MEMORY_REGION,	V, 0, 1, gen_old_region, NULL),
	R(KVM_GET_DIRTY_LOG,		V, NK, 2, gen_dirty_log, NULL),
	R(KVM_CLEAR_DIRTY_LOG,		V, NK, 1, gen_clear_dirty_log, NULL),
	R(KVM_SET_NR_MMU_PAGES,		V, NK | VAL, 1, gen_small_val, NULL),
	R(KVM_GET_NR_MMU_PAGES,		V, NK | Z, 1, gen_zero, NULL),
	R(KVM_SET_TSS_ADDR,		V, NK | VAL, 1, gen_addr_val, NULL),
	R(KVM_SET_IDENTITY_MAP_ADDR,	V, NK, 1, gen_u64_addr, NULL),
	R(KVM_CREATE_IRQCHIP,		V, NK | Z, 2, gen_zero, NULL),
	R(KVM_IRQ_LINE,			V, NK, 2, gen_irq_level, NULL),
	R(KVM_IRQ_LINE_STATUS,		V, NK | O, 1, gen_irq_level, NULL),
	R(KVM_GET_IRQCHIP,		V, NK | O, 1, gen_irqchip, NULL),
	R(KVM_SET_IRQCHIP,		V, NK, 1, gen_irqchip, NULL),
	R(KVM_CREATE_PIT,		V, Z, 1, gen_zero, NULL),
	R(KVM_CREATE_PIT2,		V, NK, 1, gen_pit_config, NULL),
	R(KVM_GET_PIT,			V, NK | O, 1, NULL, NULL),
	R(KVM_SET_PIT,			V, NK, 1, NULL, NULL),
	R(KVM_GET_PIT2,			V, NK | O, 1, NULL, NULL),
	R(KVM_SET_PIT2,			V, NK, 1, NULL, NULL),
	R(KVM_SET_GSI_ROUTING,		V, NK, 2, gen_irq_routing, NULL),
	R(KVM_REINJECT_CONTROL,		V, NK, 1, NULL, NULL),
	R(KVM_IRQFD,			V, NK, 2, gen_irqfd, NULL),
	R(KVM_IOEVENTFD,		V, NK, 2, gen_ioeventfd, NULL),
	R(KVM_SET_BOOT_CPU_ID,		V, NK | VAL, 1, gen_small_val, NULL),
	R(KVM_XEN_HVM_CONFIG,		V, 0, 1, NULL, NULL),
	R(KVM_SET_CLOCK,		V, NK, 1, gen_clock, NULL),
	R(KVM_GET_CLOCK,		V, NK | O, 1, NULL, NULL),
	R(KVM_SIGNAL_MSI,		V, NK, 2, gen_msi, NULL),
	R(KVM_SET_PMU_EVENT_FILTER,	V, NK, 1, gen_pmu_filter, NULL),
	R(KVM_CREATE_DEVICE,		V, O, 2, gen_create_device, post_create_device),
	R(KVM_SET_DEVICE_ATTR,		V | C | D, NK, 2, gen_device_attr, NULL),
	R(KVM_ENABLE_CAP,		V | C, NK, 3, gen_enable_cap, NULL),
	R(KVM_MEMORY_ENCRYPT_OP,	V, O, 1, NULL, NULL),
	R(KVM_MEMORY_ENCRYPT_REG_REGION, V, 0, 1, gen_enc_region, NULL),
	R(KVM_MEMORY_ENCRYPT_UNREG_REGION, V, 0, 1, gen_enc_region, NULL),
	R(KVM_HYPERV_EVENTFD,		V, 0, 1, gen_hv_eventfd, NULL),
	R(KVM_X86_SET_MSR_FILTER,	V, NK, 1, gen_msr_filter, NULL),
	R(KVM_RESET_DIRTY_RINGS,	V, NK | Z, 1, gen_zero, NULL),
	R(KVM_XEN_HVM_GET_ATTR,		V, O, 1, gen_xen_hvm_attr, NULL),
	R(KVM_XEN_HVM_SET_ATTR,		V, 0, 1, gen_xen_hvm_attr, NULL),
	R(KVM_XEN_HVM_EVTCHN_SEND,	V, 0, 1, NULL, NULL),
	R(KVM_GET_STATS_FD,		V | C, NK | Z, 2, gen_zero, post_stats_fd),
	R(KVM_SET_MEMORY_ATTRIBUTES,	V, 0, 1, gen_memory_attributes, NULL),
	R(KVM_CREATE_GUEST_MEMFD,	V, 0, 1, gen_guest_memfd, post_gmem),
	R(FZ_REGISTER_COALESCED_MMIO,	V, NK, 1, gen_coalesced, NULL),
	R(FZ_UNREGISTER_COALESCED_MMIO,	V, NK, 1, gen_coalesced, NULL),
	R(KVM_SET_TSC_KHZ,		V | C, NK | VAL, 1, gen_tsc_khz, NULL),
	R(KVM_GET_TSC_KHZ,		V | C, NK | Z, 1, gen_zero, NULL),
	R(KVM_ARM_SET_DEVICE_ADDR,	V, 0, 1, NULL, NULL),
	R(KVM_PPC_GET_PVINFO,		V, O, 1, NULL, NULL),
	R(KVM_PPC_ALLOCATE_HTAB,	V, O, 1, NULL, NULL),
	R(KVM_S390_UCAS_MAP,		C, 0, 1, NULL, NULL),

	/* vCPU */
	R(KVM_RUN,			C, NK | Z, 0, gen_zero, NULL),
	R(KVM_GET_REGS,			C, NK | O, 8, NULL, NULL),
	R(KVM_SET_REGS,			C, NK, 8, gen_regs, NULL),
	R(KVM_GET_SREGS,		C, NK | O, 8, NULL, NULL),
	R(KVM_SET_SREGS,		C, NK, 10, gen_sregs, NULL),
	R(KVM_GET_SREGS2,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_SREGS2,		C, NK, 1, gen_sregs2, NULL),
	R(KVM_TRANSLATE,		C, NK | O, 1, gen_translation, NULL),
	R(KVM_INTERRUPT,		C, NK, 2, gen_interrupt, NULL),
	R(KVM_GET_MSRS,			S | C, NK | O, 2, gen_msrs, NULL),
	R(KVM_SET_MSRS,			C, NK, 2, gen_msrs, NULL),
	R(KVM_SET_CPUID,		C, NK, 1, gen_cpuid1, NULL),
	R(KVM_SET_CPUID2,		C, NK, 2, gen_cpuid2, NULL),
	R(KVM_GET_CPUID2,		C, NK | O, 1, gen_cpuid2, NULL),
	R(KVM_SET_SIGNAL_MASK,		C, NK, 1, gen_signal_mask, NULL),
	R(KVM_GET_FPU,			C, NK | O, 1, NULL, NULL),
	R(KVM_SET_FPU,			C, NK, 1, NULL, NULL),
	R(KVM_GET_LAPIC,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_LAPIC,		C, NK, 1, NULL, NULL),
	R(KVM_TPR_ACCESS_REPORTING,	C, NK | O, 1, gen_tpr_access, NULL),
	R(KVM_SET_VAPIC_ADDR,		C, NK, 1, gen_vapic, NULL),
	R(KVM_GET_MP_STATE,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_MP_STATE,		C, NK, 2, gen_mp_state, NULL),
	R(KVM_NMI,			C, NK | Z, 2, gen_zero, NULL),
	R(KVM_SMI,			C, Z, 1, gen_zero, NULL),
	R(KVM_SET_GUEST_DEBUG,		C, NK, 2, gen_guest_debug, NULL),
	R(KVM_X86_SETUP_MCE,		C, NK, 1, gen_u64_val, NULL),
	R(KVM_X86_SET_MCE,		C, NK, 1, gen_mce, NULL),
	R(KVM_GET_VCPU_EVENTS,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_VCPU_EVENTS,		C, NK, 2, gen_vcpu_events, NULL),
	R(KVM_GET_DEBUGREGS,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_DEBUGREGS,		C, NK, 1, gen_debugregs, NULL),
	R(KVM_GET_XSAVE,		C, NK | O, 1, NULL, NULL),
	R(KVM_GET_XSAVE2,		C, NK | O, 1, NULL, NULL),
	R(KVM_SET_XSAVE,		C, NK, 1, gen_xsave, NULL),
	R(KVM_GET_XCRS,			C, NK | O, 1, NULL, NULL),
	R(KVM_SET_XCRS,			C, NK, 1, gen_xcrs, NULL),
	R(KVM_GET_ONE_REG,		C, 0, 1, gen_one_reg, NULL),
	R(KVM_SET_ONE_REG,		C, 0, 1, gen_one_reg, NULL),
	R(KVM_GET_REG_LIST,		C, O, 1, gen_reg_list, NULL),
	R(KVM_KVMCLOCK_CTRL,		C, Z, 1, gen_zero, NULL),
	R(KVM_GET_NESTED_STATE,		C, NK | O, 1, gen_nested_state, NULL),
	R(KVM_SET_NESTED_STATE,		C, NK, 1, gen_nested_state, NULL),
	R(KVM_XEN_VCPU_GET_ATTR,	C, O, 1, gen_xen_vcpu_attr, NULL),
	R(KVM_XEN_VCPU_SET_ATTR,	C, 0, 1, gen_xen_vcpu_attr, NULL),
	R(KVM_PRE_FAULT_MEMORY,		C, O, 1, gen_pre_fault, NULL),
	R(KVM_NKVM_FLOOR,		C, NK | O, 1, gen_floor, NULL),
	R(FZ_ARM_VCPU_INIT,		C, 0, 1, NULL, NULL),
	R(KVM_S390_INITIAL_RESET,	C, Z, 1, gen_zero, NULL),
	R(FZ_OLD_DEBUG_GUEST,		C, 0, 1, NULL, NULL),
};

const int fz_nrows = sizeof(fz_rows) / sizeof(fz_rows[0]);
