// SPDX-License-Identifier: GPL-2.0
/*
 * test_isolation.c - what crosses between the kernel, the VMM and the
 * guest, and what must not:
 *
 *   - No byte of kernel memory reaches userspace uninitialised.  Every
 *     structure a GET ioctl copies out is fetched twice, into buffers
 *     filled with two different patterns: no byte may come back as the
 *     caller's pattern in both (a byte the kernel did not write keeps it),
 *     and the padding and reserved fields must be what the kernel defines
 *     (zero).  The same for the stats fds (header, id, descriptors, data),
 *     the kvm_run mapping of a new vCPU (all zero) and the lists (supported
 *     CPUID, MSR indices).
 *     Every output is also searched for eight bytes of SLUB's free poison
 *     (0x6b) or the page allocator's (0xaa): a bed booted with
 *     slub_debug=P page_poison=1 init_on_alloc=0 (make stress) fills freed
 *     and new slab objects and free pages with them, so a copy of memory
 *     the kernel never wrote shows it.
 *   - A guest cannot reach host memory outside its memslots: its reads of
 *     guest-physical addresses around and between memslots, whose host
 *     neighbours hold a secret, are MMIO exits, and the guest sees what the
 *     VMM answered, never the secret.
 *   - A vCPU or VM fd used from another process (fork; and after the
 *     process that created the VM has exited) fails with EIO; a vCPU fd
 *     keeps working after its VM fd is closed, as on Linux.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "vm.h"

#define PAT_A	0xa5
#define PAT_B	0x5a
#define POISON	0x6b		/* SLUB's POISON_FREE */
#define PAGE_POISON 0xaa	/* the page allocator's, with page_poison=1 */

/* Is slab poisoning on (slub_debug=P)? */
static bool slab_poisoning(void)
{
	char c = '0';
	int fd = open("/sys/kernel/slab/kmalloc-64/poison", O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* Is the page allocator's poisoning on (page_poison=1, init_on_alloc=0)? */
static bool page_poisoning(void)
{
	char line[4096] = "";
	int fd = open("/proc/cmdline", O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, line, sizeof(line) - 1) < 0)
		line[0] = 0;
	close(fd);
	return strstr(line, "page_poison=1") && strstr(line, "init_on_alloc=0");
}

/*
 * Eight bytes of slab or page poison in a row: memory the kernel never
 * wrote (Debian's kernels zero new memory by default, init_on_alloc=1,
 * but not the objects of a poisoned slab cache).
 */
static void assert_no_poison(const char *what, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i, slab = 0, page = 0;

	for (i = 0; i < len; i++) {
		slab = p[i] == POISON ? slab + 1 : 0;
		page = p[i] == PAGE_POISON ? page + 1 : 0;
		if (slab == 8 || page == 8) {
			TH_LOG("%s: %s poison at offset %zu of %zu", what,
			       slab == 8 ? "slab" : "page", i - 7, len);
			ASSERT_TRUE(0);
		}
	}
}

/* Fetch into buf: -1 (errno set), or how many bytes the kernel filled. */
typedef long (*get_fn)(void *ctx, void *buf, size_t len);

/*
 * Fetch len bytes twice, into buffers prefilled with PAT_A and PAT_B: no
 * byte of what the kernel says it filled may have kept the caller's
 * pattern in both (a value that moves between the calls is no problem),
 * none may be slab poison.  Returns the first copy (free()), or NULL if
 * the ioctl is not offered (errno from the first call).
 */
static void *fetch_twice(const char *what, get_fn get, void *ctx, size_t len)
{
	uint8_t *a = malloc(len), *b = malloc(len);
	long ra, rb, i;

	ASSERT_TRUE(a && b);
	memset(a, PAT_A, len);
	memset(b, PAT_B, len);
	ra = get(ctx, a, len);
	if (ra < 0) {
		int e = errno;

		TH_LOG("%s: not offered (%s)", what, strerror(e));
		free(a);
		free(b);
		errno = e;
		return NULL;
	}
	rb = get(ctx, b, len);
	ASSERT_EQ(ra, rb);
	ASSERT_LE(ra, (long)len);
	for (i = 0; i < ra; i++) {
		if (a[i] == PAT_A && b[i] == PAT_B) {
			TH_LOG("%s: byte %ld of %ld not written by the kernel", what, i, ra);
			ASSERT_TRUE(0);
		}
	}
	assert_no_poison(what, a, ra);
	assert_no_poison(what, b, rb);
	free(b);
	return a;
}

static bool all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--)
		if (*p++)
			return false;
	return true;
}

#define ASSERT_ZERO_FIELD(s, field) \
	ASSERT_TRUE(all_zero(&(s)->field, sizeof((s)->field)))

/* ---- Fixed-size GET ioctls ------------------------------------------------ */

struct ioctl_ctx {
	int fd;
	unsigned long req;
};

static long get_ioctl(void *ctx, void *buf, size_t len)
{
	struct ioctl_ctx *c = ctx;

	return ioctl(c->fd, c->req, buf) < 0 ? -1 : (long)len;
}

static void *fetch_ioctl(const char *what, int fd, unsigned long req, size_t len)
{
	struct ioctl_ctx c = { .fd = fd, .req = req };

	return fetch_twice(what, get_ioctl, &c, len);
}

/*
 * A VM with an irqchip, a PIT and one vCPU that has run a little guest
 * (an OUT at each KVM_RUN: with an in-kernel LAPIC, HLT would not exit).
 */
GUEST_CODE(iso_guest,
	"1: mov $0x1234, %ax\n"
	"out %ax, $0x10\n"
	"jmp 1b\n"
);

static struct vcpu *ran_vcpu(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct kvm_pit_config pit = { .flags = 0 };
	struct vcpu *vcpu;

	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit))
		TH_LOG("KVM_CREATE_PIT2: %s", strerror(errno));
	vcpu = vcpu_create(vm, 0);
	vcpu_try_supported_cpuid(vcpu);
	vm_load_guest(vm, iso_guest);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x1234);
	/* The kvm_run page after an exit: nothing of the kernel's there. */
	assert_no_poison("kvm_run", vcpu->run, vcpu->run_size);
	return vcpu;
}

static void assert_segments_padded(struct kvm_segment *const *segs)
{
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(segs[i]->padding, 0);
}

TEST(vcpu_get_ioctls_write_every_byte)
{
	struct vcpu *vcpu = ran_vcpu();
	struct kvm_sregs *sregs;
	struct kvm_fpu *fpu;
	struct kvm_vcpu_events *ev;
	struct kvm_debugregs *dr;
	struct kvm_xcrs *xcrs;
	struct kvm_sregs2 *sregs2;
	void *p;
	int i, size;

	TH_LOG("slab poisoning %s, page poisoning %s", slab_poisoning() ? "on" : "off",
	       page_poisoning() ? "on" : "off");
	free(fetch_ioctl("KVM_GET_REGS", vcpu->fd, KVM_GET_REGS, sizeof(struct kvm_regs)));

	sregs = fetch_ioctl("KVM_GET_SREGS", vcpu->fd, KVM_GET_SREGS, sizeof(*sregs));
	ASSERT_TRUE(sregs != NULL);
	assert_segments_padded((struct kvm_segment *const[]) {
		&sregs->cs, &sregs->ds, &sregs->es, &sregs->fs, &sregs->gs,
		&sregs->ss, &sregs->tr, &sregs->ldt });
	ASSERT_ZERO_FIELD(sregs, gdt.padding);
	ASSERT_ZERO_FIELD(sregs, idt.padding);
	free(sregs);

	sregs2 = fetch_ioctl("KVM_GET_SREGS2", vcpu->fd, KVM_GET_SREGS2, sizeof(*sregs2));
	if (sregs2) {
		assert_segments_padded((struct kvm_segment *const[]) {
			&sregs2->cs, &sregs2->ds, &sregs2->es, &sregs2->fs,
			&sregs2->gs, &sregs2->ss, &sregs2->tr, &sregs2->ldt });
		ASSERT_ZERO_FIELD(sregs2, gdt.padding);
		ASSERT_ZERO_FIELD(sregs2, idt.padding);
		ASSERT_EQ(sregs2->flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID, 0);
		/* Real mode: no PDPTRs to report, and none made up. */
		ASSERT_EQ(sregs2->flags, 0);
		ASSERT_ZERO_FIELD(sregs2, pdptrs);
		free(sregs2);
	}

	fpu = fetch_ioctl("KVM_GET_FPU", vcpu->fd, KVM_GET_FPU, sizeof(*fpu));
	ASSERT_TRUE(fpu != NULL);
	ASSERT_EQ(fpu->pad1, 0);
	ASSERT_EQ(fpu->pad2, 0);
	free(fpu);

	ev = fetch_ioctl("KVM_GET_VCPU_EVENTS", vcpu->fd, KVM_GET_VCPU_EVENTS, sizeof(*ev));
	if (ev) {
		ASSERT_ZERO_FIELD(ev, reserved);
		ASSERT_EQ(ev->nmi.pad, 0);
		free(ev);
	}
	dr = fetch_ioctl("KVM_GET_DEBUGREGS", vcpu->fd, KVM_GET_DEBUGREGS, sizeof(*dr));
	if (dr) {
		ASSERT_EQ(dr->flags, 0);
		ASSERT_ZERO_FIELD(dr, reserved);
		free(dr);
	}
	xcrs = fetch_ioctl("KVM_GET_XCRS", vcpu->fd, KVM_GET_XCRS, sizeof(*xcrs));
	if (xcrs) {
		ASSERT_EQ(xcrs->flags, 0);
		ASSERT_ZERO_FIELD(xcrs, padding);
		for (i = 0; i < KVM_MAX_XCRS; i++)
			ASSERT_EQ(xcrs->xcrs[i].reserved, 0);
		free(xcrs);
	}
	free(fetch_ioctl("KVM_GET_XSAVE", vcpu->fd, KVM_GET_XSAVE, sizeof(struct kvm_xsave)));
	size = ioctl(vcpu->vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size > 0)
		free(fetch_ioctl("KVM_GET_XSAVE2", vcpu->fd, KVM_GET_XSAVE2, size));
	free(fetch_ioctl("KVM_GET_LAPIC", vcpu->fd, KVM_GET_LAPIC, sizeof(struct kvm_lapic_state)));
	p = fetch_ioctl("KVM_GET_MP_STATE", vcpu->fd, KVM_GET_MP_STATE, sizeof(struct kvm_mp_state));
	ASSERT_TRUE(p != NULL);
	free(p);
}

/* KVM_GET_MSRS: the data of every MSR the index list names. */
struct msrs_ctx {
	int fd;
	struct kvm_msr_list *list;
};

static long get_msrs(void *ctx, void *buf, size_t len)
{
	struct msrs_ctx *c = ctx;
	struct kvm_msrs *m = buf;
	uint32_t i;
	int n;

	(void)len;
	/* The header and indices are the caller's; the data is the kernel's. */
	m->nmsrs = c->list->nmsrs;
	m->pad = 0;
	for (i = 0; i < c->list->nmsrs; i++)
		m->entries[i].index = c->list->indices[i], m->entries[i].reserved = 0;
	n = ioctl(c->fd, KVM_GET_MSRS, m);
	return n < 0 ? -1 : (long)(sizeof(*m) + n * sizeof(m->entries[0]));
}

static long get_msr_list(void *ctx, void *buf, size_t len)
{
	struct ioctl_ctx *c = ctx;
	struct kvm_msr_list *l = buf;

	l->nmsrs = (len - sizeof(*l)) / sizeof(l->indices[0]);
	if (ioctl(c->fd, c->req, l) < 0)
		return -1;
	return sizeof(*l) + l->nmsrs * sizeof(l->indices[0]);
}

TEST(msr_lists_and_values_are_fully_written)
{
	struct vcpu *vcpu = ran_vcpu();
	struct ioctl_ctx c = { .fd = vcpu->vm->kvm_fd, .req = KVM_GET_MSR_INDEX_LIST };
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	struct msrs_ctx m;
	size_t len;
	int n;

	ASSERT_ERRNO(ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe), E2BIG);
	n = probe.nmsrs;
	ASSERT_GT(n, 0);
	len = sizeof(*list) + n * sizeof(list->indices[0]);
	list = fetch_twice("KVM_GET_MSR_INDEX_LIST", get_msr_list, &c, len);
	ASSERT_TRUE(list != NULL);
	ASSERT_EQ(list->nmsrs, n);

	m.fd = vcpu->fd;
	m.list = list;
	len = sizeof(struct kvm_msrs) + list->nmsrs * sizeof(struct kvm_msr_entry);
	free(fetch_twice("KVM_GET_MSRS", get_msrs, &m, len));

	c.req = KVM_GET_MSR_FEATURE_INDEX_LIST;
	probe.nmsrs = 0;
	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &probe) < 0 &&
	    errno == E2BIG && probe.nmsrs) {
		len = sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]);
		free(fetch_twice("KVM_GET_MSR_FEATURE_INDEX_LIST", get_msr_list, &c, len));
	}
	free(list);
}

/* KVM_GET_SUPPORTED_CPUID and friends: entries, padding zero. */
static long get_cpuid(void *ctx, void *buf, size_t len)
{
	struct ioctl_ctx *c = ctx;
	struct kvm_cpuid2 *cp = buf;

	cp->nent = (len - sizeof(*cp)) / sizeof(cp->entries[0]);
	cp->padding = 0;
	if (ioctl(c->fd, c->req, cp) < 0)
		return -1;
	return sizeof(*cp) + cp->nent * sizeof(cp->entries[0]);
}

/*
 * Room for n entries: 256 is room for every list.  KVM_GET_CPUID2 is given
 * exactly as many as the vCPU has (Linux 6.1 writes nent back neither on
 * success nor with E2BIG).
 */
static void check_cpuid_list(const char *what, int fd, unsigned long req, uint32_t n)
{
	struct ioctl_ctx c = { .fd = fd, .req = req };
	struct kvm_cpuid2 *cp;
	uint32_t i;

	cp = fetch_twice(what, get_cpuid, &c,
			 sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2));

	if (!cp)
		return;
	ASSERT_GT(cp->nent, 0);
	ASSERT_LE(cp->nent, 256);
	for (i = 0; i < cp->nent; i++)
		ASSERT_ZERO_FIELD(&cp->entries[i], padding);
	free(cp);
}

TEST(cpuid_lists_are_fully_written)
{
	struct vcpu *vcpu = ran_vcpu();

	struct kvm_cpuid2 *set = kvm_supported_cpuid(vcpu->vm->kvm_fd);

	/* ran_vcpu() gave the vCPU the supported list. */
	check_cpuid_list("KVM_GET_SUPPORTED_CPUID", vcpu->vm->kvm_fd,
			 KVM_GET_SUPPORTED_CPUID, 256);
	check_cpuid_list("KVM_GET_EMULATED_CPUID", vcpu->vm->kvm_fd,
			 KVM_GET_EMULATED_CPUID, 256);
	check_cpuid_list("KVM_GET_CPUID2", vcpu->fd, KVM_GET_CPUID2, set->nent);
	free(set);
}

/* The VM's GET ioctls. */
struct chip_ctx {
	int fd;
	uint32_t chip;
};

static long get_irqchip(void *ctx, void *buf, size_t len)
{
	struct chip_ctx *c = ctx;
	struct kvm_irqchip *ic = buf;

	ic->chip_id = c->chip;
	ic->pad = 0;
	return ioctl(c->fd, KVM_GET_IRQCHIP, ic) < 0 ? -1 : (long)len;
}

TEST(vm_get_ioctls_write_every_byte)
{
	struct vcpu *vcpu = ran_vcpu();
	int fd = vcpu->vm->fd;
	struct kvm_pit_state2 *pit;
	struct kvm_clock_data *clk;
	struct kvm_irqchip *ic;
	struct chip_ctx c = { .fd = fd };
	size_t used[3] = { sizeof(struct kvm_pic_state), sizeof(struct kvm_pic_state),
			   sizeof(struct kvm_ioapic_state) };
	int pat;

	pit = fetch_ioctl("KVM_GET_PIT2", fd, KVM_GET_PIT2, sizeof(*pit));
	if (pit) {
		ASSERT_ZERO_FIELD(pit, reserved);
		free(pit);
		free(fetch_ioctl("KVM_GET_PIT", fd, KVM_GET_PIT, sizeof(struct kvm_pit_state)));
	}
	/* The irqchips: the state's own bytes (the rest stays the caller's). */
	for (c.chip = 0; c.chip < 3; c.chip++) {
		size_t len = offsetof(struct kvm_irqchip, chip) + used[c.chip];

		ic = fetch_twice("KVM_GET_IRQCHIP", get_irqchip, &c, len);
		ASSERT_TRUE(ic != NULL);
		if (c.chip == 2)
			ASSERT_EQ(ic->chip.ioapic.pad, 0);
		free(ic);
	}
	/* KVM_GET_CLOCK moves: only its padding is checked, in both fills. */
	clk = malloc(sizeof(*clk));
	ASSERT_TRUE(clk != NULL);
	for (pat = 0; pat < 2; pat++) {
		memset(clk, pat ? PAT_B : PAT_A, sizeof(*clk));
		ASSERT_EQ(ioctl(fd, KVM_GET_CLOCK, clk), 0);
		ASSERT_EQ(clk->pad0, 0);
		ASSERT_ZERO_FIELD(clk, pad);
		ASSERT_EQ(clk->flags & ~(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME |
					 KVM_CLOCK_HOST_TSC), 0);
		assert_no_poison("KVM_GET_CLOCK", clk, sizeof(*clk));
	}
	free(clk);
}

/* KVM_GET_DIRTY_LOG: the whole bitmap of the slot, every time. */
struct dirty_ctx {
	int fd;
	uint32_t slot;
};

static long get_dirty_log(void *ctx, void *buf, size_t len)
{
	struct dirty_ctx *c = ctx;
	struct kvm_dirty_log log = { .slot = c->slot, .dirty_bitmap = buf };

	return ioctl(c->fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -1 : (long)len;
}

TEST(dirty_log_bitmap_is_fully_written)
{
	struct vcpu *vcpu = ran_vcpu();
	struct dirty_ctx c = { .fd = vcpu->vm->fd, .slot = 1 };
	size_t size = 0x200000;		/* 512 pages: 64 bytes of bitmap */
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_OK(vm_set_region(vcpu->vm, 1, KVM_MEM_LOG_DIRTY_PAGES, 0x1000000,
				size, (uintptr_t)mem));
	free(fetch_twice("KVM_GET_DIRTY_LOG", get_dirty_log, &c, size / 4096 / 8));
}

/* ---- The kvm_run mapping and the stats fds -------------------------------- */

TEST(kvm_run_of_a_new_vcpu_is_zero)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	const uint8_t *p = (const uint8_t *)vcpu->run;
	size_t i;

	for (i = 0; i < vcpu->run_size; i++) {
		if (p[i]) {
			TH_LOG("kvm_run byte %zu of %zu is %#x", i, vcpu->run_size, p[i]);
			ASSERT_TRUE(0);
		}
	}
}

static long read_stats(void *ctx, void *buf, size_t len)
{
	return pread(*(int *)ctx, buf, len, 0);
}

static void check_stats_fd(const char *what, int owner)
{
	struct kvm_stats_header h;
	int fd = ioctl(owner, KVM_GET_STATS_FD, 0);
	size_t len, desc_size, i, end;
	uint8_t *all;

	if (fd < 0) {
		TH_LOG("%s: no stats fd (%s)", what, strerror(errno));
		return;
	}
	ASSERT_EQ(pread(fd, &h, sizeof(h), 0), sizeof(h));
	ASSERT_EQ(h.flags, 0);
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	len = h.data_offset;
	/* The data: one u64 per bucket, as far as the descriptors reach. */
	all = malloc(h.num_desc * desc_size);
	ASSERT_TRUE(all != NULL);
	ASSERT_EQ(pread(fd, all, h.num_desc * desc_size, h.desc_offset),
		  (ssize_t)(h.num_desc * desc_size));
	for (i = 0, end = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(all + i * desc_size);

		if (d->offset + d->size * 8UL > end)
			end = d->offset + d->size * 8UL;
	}
	free(all);
	len += end;
	all = fetch_twice(what, read_stats, &fd, len);
	ASSERT_TRUE(all != NULL);
	/* The id: a string, zero-padded to name_size. */
	ASSERT_LE(strnlen((char *)all + h.id_offset, h.name_size), h.name_size - 1);
	ASSERT_TRUE(all_zero(all + h.id_offset + strlen((char *)all + h.id_offset),
			     h.name_size - strlen((char *)all + h.id_offset)));
	/* Every descriptor's name: a string, zero-padded. */
	for (i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(all + h.desc_offset + i * desc_size);
		size_t n = strnlen(d->name, h.name_size);

		ASSERT_LT(n, h.name_size);
		if (!all_zero(d->name + n, h.name_size - n)) {
			TH_LOG("%s: descriptor %zu (%s): name not zero-padded", what, i, d->name);
			ASSERT_TRUE(0);
		}
	}
	free(all);
	close(fd);
}

TEST(stats_fds_are_fully_written)
{
	struct vcpu *vcpu = ran_vcpu();

	check_stats_fd("VM stats", vcpu->vm->fd);
	check_stats_fd("vCPU stats", vcpu->fd);
}

/* ---- Guest reads outside the memslots ---------------------------------------- */

#define SECRET	0x5ec2e75ec2e75ec2ULL

/*
 * Read the dword at every address in the table at 0x600 (count at 0x5fc)
 * with ES:0 in 32-bit flat mode, and store what it read next to it.
 */
GUEST_CODE32(probe_guest,
	"mov 0x5fc, %ecx\n"
	"mov $0x600, %esi\n"
	"1: mov (%esi), %edi\n"
	"mov (%edi), %eax\n"
	"mov %eax, 4(%esi)\n"
	"add $8, %esi\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"hlt\n"
);

TEST(guest_reads_outside_memslots_are_mmio_exits)
{
	/* Host: secret | 1 MiB slot 0 | secret; secret | 64 KiB slot 1 | secret. */
	size_t pg = 4096, s0 = VM_MEM_SIZE, s1 = 0x10000;
	uint8_t *h0 = mmap(NULL, s0 + 2 * pg, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *h1 = mmap(NULL, s1 + 2 * pg, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t probes[] = {
		0x100000, 0x100ffc, 0x1ff000, 0x0fff000,
		0x1000000 - 4, 0x1000000 + 0x10000, 0x1000000 + 0x10004,
		0x2000000, 0x7ffffffc, 0xfffff000,
	};
	struct vm *vm = calloc(1, sizeof(*vm));
	struct kvm_run *run;
	struct vcpu *vcpu;
	uint32_t *table, n = sizeof(probes) / sizeof(probes[0]), i, got;
	size_t k;

	ASSERT_TRUE(h0 != MAP_FAILED && h1 != MAP_FAILED && vm);
	for (k = 0; k < pg; k += 8) {
		memcpy(h0 + k, &(uint64_t){ SECRET }, 8);
		memcpy(h0 + pg + s0 + k, &(uint64_t){ SECRET }, 8);
		memcpy(h1 + k, &(uint64_t){ SECRET }, 8);
		memcpy(h1 + pg + s1 + k, &(uint64_t){ SECRET }, 8);
	}
	vm->kvm_fd = kvm_open();
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm->fd);
	vm->mem = h0 + pg;
	vm->mem_size = s0;
	ASSERT_OK(vm_set_region(vm, 0, 0, 0, s0, (uintptr_t)vm->mem));
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x1000000, s1, (uintptr_t)(h1 + pg)));
	vm_build_tables(vm);
	vm_load_guest(vm, probe_guest);
	table = vm_ptr(vm, 0x5fc);
	table[0] = n;
	for (i = 0; i < n; i++) {
		table[1 + 2 * i] = probes[i];
		table[2 + 2 * i] = 0;
	}
	vcpu = vcpu_create(vm, 0);
	vcpu_set_mode(vcpu, MODE_PM32, CODE_ADDR);
	run = vcpu->run;
	for (i = 0; i < n; i++) {
		vcpu_run(vcpu);
		ASSERT_EXIT(vcpu, KVM_EXIT_MMIO);
		ASSERT_EQ(run->mmio.phys_addr, probes[i]);
		ASSERT_EQ(run->mmio.is_write, 0);
		ASSERT_EQ(run->mmio.len, 4);
		got = 0xc0de0000 + i;
		memcpy(run->mmio.data, &got, 4);
	}
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	for (i = 0; i < n; i++)
		ASSERT_EQ(table[2 + 2 * i], 0xc0de0000 + i);
	/* And nothing in the guest's memory came from the neighbours. */
	for (k = 0; k + 8 <= s0; k += 8)
		ASSERT_NE(*(uint64_t *)(vm->mem + k), SECRET);
}

/* ---- Fds in other processes ------------------------------------------------ */

/* Every vCPU and VM ioctl from another process: EIO. */
static void assert_foreign(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	struct kvm_clock_data clk;
	struct kvm_irqchip chip = { .chip_id = 0 };

	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_RUN, 0), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_REGS, &regs), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_REGS, &regs), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_FPU, &fpu), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev), EIO);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_STATS_FD, 0), EIO);
	ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_GET_CLOCK, &clk), EIO);
	ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_GET_IRQCHIP, &chip), EIO);
	ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_CREATE_VCPU, 1), EIO);
	ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_GET_STATS_FD, 0), EIO);
	ASSERT_ERRNO(vm_set_region(vcpu->vm, 0, 0, 0, 0, 0), EIO);
}

TEST(fds_in_a_forked_child_fail_eio)
{
	struct vcpu *vcpu = ran_vcpu();
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_OK(pid);
	if (pid == 0) {
		assert_foreign(vcpu);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The owner is not disturbed. */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x1234);
}

/*
 * The process that created the VM exits; its child, holding the last
 * references, gets EIO everywhere and tears the VM down by closing.  The
 * test adopts the orphan (a subreaper) to collect its verdict.
 */
TEST(fds_outliving_their_creator_fail_eio)
{
	int gone[2], status;
	pid_t owner, pid;

	ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_OK(pipe(gone));
	owner = fork();
	ASSERT_OK(owner);
	if (owner == 0) {
		struct vcpu *vcpu = ran_vcpu();
		pid_t heir;
		char c;

		heir = fork();
		ASSERT_OK(heir);
		if (heir)
			_exit(0);	/* the owner goes, its mm with it */
		close(gone[1]);
		/* EOF once the owner has exited (and the test closed its end). */
		ASSERT_EQ(read(gone[0], &c, 1), 0);
		assert_foreign(vcpu);
		close(vcpu->fd);
		vm_free(vcpu->vm);
		_exit(0);
	}
	close(gone[1]);
	ASSERT_EQ(waitpid(owner, &status, 0), owner);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid = waitpid(-1, &status, 0);
	ASSERT_GT(pid, 0);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* The vCPU holds its VM: with the VM fd closed it still runs, as on Linux. */
TEST(vcpu_outlives_its_vm_fd)
{
	struct vcpu *vcpu = ran_vcpu();
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	close(vcpu->vm->fd);
	close(vcpu->vm->kvm_fd);
	vcpu_get_regs(vcpu, &regs);
	vcpu_get_sregs(vcpu, &sregs);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x1234);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x1234);
	free(fetch_ioctl("KVM_GET_REGS", vcpu->fd, KVM_GET_REGS, sizeof(regs)));
	close(vcpu->fd);
}

TEST_HARNESS_MAIN
