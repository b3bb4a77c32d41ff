// SPDX-License-Identifier: GPL-2.0
/*
 * bench_mmu.c - the guest-physical map: how fast a guest faults memory in,
 * how long deleting a populated memslot takes, and the dirty log.
 *
 *	bench_mmu [MiB]		size of the fault-in slots (default 256)
 *
 * A long-mode guest writes one word every "stride" bytes of a slot at
 * guest-physical 4 GiB (identity-mapped with 2 MiB pages), then says so on
 * port 0x10.  Figures (each the median of several runs, see bench.h):
 *
 *	fault_in_4k		pages/s: the guest touches every 4 KiB page of
 *				a fresh slot once, host memory in 4 KiB pages
 *				(MADV_NOHUGEPAGE): one fault per page
 *	fault_in_thp		pages/s: the same over transparent huge pages
 *	delete_slot_<N>m_4k	ms: deleting that 4 KiB-mapped slot, populated
 *	delete_slot_<N>g	ms: deleting a fully populated slot of N GiB
 *				(4 if the host's memory allows, else less),
 *				host memory in transparent huge pages, every
 *				page touched by the guest
 *	dirty_log_get_1g	ms: KVM_GET_DIRTY_LOG of a 1 GiB slot with
 *				KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, one page in
 *				16 dirtied by the guest since the last clear
 *	dirty_log_clear_1g	ms: KVM_CLEAR_DIRTY_LOG of that whole slot
 *
 * Exit code 0, 1 on error, 4 if /dev/kvm is missing.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "vm.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define MB		(1UL << 20)
#define GB		(1UL << 30)
#define SLOT_GPA	(4 * GB)	/* the test slot, above 32-bit reach */
#define PD_EXTRA	0x100000UL	/* page directories for it, in slot 0 */
#define FAULT_RUNS	3
#define BIG_RUNS	3
#define DIRTY_STRIDE	(16 * 4096UL)

/* Write rcx words at rsi, rsi + rdx, ...; report on port 0x10; again. */
GUEST_CODE64(touch_guest,
	"1:\n"
	"mov %rsi, %rdi\n"
	"mov %rcx, %rbp\n"
	"2:\n"
	"mov %edi, (%rdi)\n"
	"add %rdx, %rdi\n"
	"dec %rbp\n"
	"jnz 2b\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

struct slot {
	uintptr_t raw;		/* the mapping, with room to align it */
	size_t raw_size;
	void *mem;		/* 2 MiB aligned */
	size_t size;
};

static void slot_map(struct slot *s, size_t size, int advice)
{
	s->raw_size = size + 2 * MB;
	s->raw = (uintptr_t)mmap(NULL, s->raw_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);
	ASSERT_TRUE((void *)s->raw != MAP_FAILED);
	s->mem = (void *)((s->raw + 2 * MB - 1) & ~(2 * MB - 1));
	s->size = size;
	ASSERT_OK(madvise(s->mem, size, advice));
}

static void slot_unmap(struct slot *s)
{
	munmap((void *)s->raw, s->raw_size);
}

/*
 * A VM with the standard tables, slot 1 (size bytes at SLOT_GPA, flags)
 * identity-mapped with 2 MiB pages, and a long-mode vCPU at the touch loop.
 */
static struct vcpu *touch_vm(struct slot *s, uint32_t flags,
			     void (*before_slot)(struct vm *vm))
{
	struct vcpu *vcpu = vm_with_guest_in_mode(touch_guest,
						  GUEST_SIZE(touch_guest),
						  MODE_LONG);
	struct vm *vm = vcpu->vm;
	uint64_t *pdpt = vm_ptr(vm, PDPT_ADDR);

	ASSERT_TRUE(s->size % GB == 0 && s->size <= 4 * GB);
	for (uint64_t gb = 0; gb < s->size / GB; gb++) {
		uint64_t pd_gpa = PD_EXTRA + gb * 4096;
		uint64_t *pd = vm_ptr(vm, pd_gpa);

		for (int i = 0; i < 512; i++)
			pd[i] = (SLOT_GPA + gb * GB + i * 2 * MB) | 0x83;
		pdpt[SLOT_GPA / GB + gb] = pd_gpa | 0x3;
	}
	if (before_slot)
		before_slot(vm);
	ASSERT_OK(vm_set_region(vm, 1, flags, SLOT_GPA, s->size,
				(uintptr_t)s->mem));
	return vcpu;
}

/* The guest writes every stride bytes of the first len of the slot. */
static double touch(struct vcpu *vcpu, size_t len, size_t stride)
{
	struct kvm_regs regs;
	double t;

	vcpu_get_regs(vcpu, &regs);
	regs.rsi = SLOT_GPA;
	regs.rcx = len / stride;
	regs.rdx = stride;
	vcpu_set_regs(vcpu, &regs);
	t = bench_now();
	RUN_OUT(vcpu, 1, 0x10);
	return bench_now() - t;
}

static double delete_slot(struct vm *vm)
{
	double t = bench_now();

	ASSERT_OK(vm_set_region(vm, 1, 0, SLOT_GPA, 0, 0));
	return (bench_now() - t) * 1e3;
}

static void free_vcpu_vm(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	vcpu_free(vcpu);
	vm_free(vm);
}

/* ---------------------------------------------------------- fault-in */

static void bench_fault_in(size_t size, int advice, const char *what,
			   const char *fault_name, bool report_delete)
{
	double pps[FAULT_RUNS], ms[FAULT_RUNS];
	char name[64];

	for (int r = 0; r < FAULT_RUNS; r++) {
		struct slot s;
		struct vcpu *vcpu;

		/* The page tables cover whole GiBs; the guest touches size. */
		slot_map(&s, GB, advice);
		vcpu = touch_vm(&s, 0, NULL);
		pps[r] = (size / 4096) / touch(vcpu, size, 4096);
		ms[r] = delete_slot(vcpu->vm);
		free_vcpu_vm(vcpu);
		slot_unmap(&s);
	}
	bench_report(fault_name, "pages/s", pps, FAULT_RUNS, what);
	snprintf(name, sizeof(name), "delete_slot_%zum_4k", size / MB);
	if (report_delete)
		bench_report(name, "ms", ms, FAULT_RUNS,
			     "deleting the slot just faulted in, 4 KiB mappings");
}

/* ------------------------------------------------- big populated slot */

/* The largest slot of 1, 2 or 4 GiB that leaves the host 768 MiB. */
static size_t big_slot_size(void)
{
	long avail = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &avail) == 1)
			break;
	if (f)
		fclose(f);
	for (size_t gb = 4; gb >= 1; gb /= 2)
		if ((size_t)avail * 1024 >= gb * GB + 768 * MB)
			return gb * GB;
	return 0;
}

static void bench_big_delete(void)
{
	size_t size = big_slot_size();
	double ms[BIG_RUNS], pps[BIG_RUNS];
	char name[64], what[128];
	struct slot s;

	if (!size) {
		printf("# delete_slot: less than 1.75 GiB of host memory available: skipped\n");
		return;
	}
	/* Host memory populated once, reused by every run. */
	slot_map(&s, size, MADV_HUGEPAGE);
	ASSERT_OK(madvise(s.mem, size, MADV_POPULATE_WRITE));
	for (int r = 0; r < BIG_RUNS; r++) {
		struct vcpu *vcpu = touch_vm(&s, 0, NULL);

		pps[r] = (size / 4096) / touch(vcpu, size, 4096);
		ms[r] = delete_slot(vcpu->vm);
		free_vcpu_vm(vcpu);
	}
	slot_unmap(&s);
	snprintf(name, sizeof(name), "fault_in_%zug_populated", size / GB);
	snprintf(what, sizeof(what), "the guest touches every 4 KiB page of %zu GiB of populated huge pages",
		 size / GB);
	bench_report(name, "pages/s", pps, BIG_RUNS, what);
	snprintf(name, sizeof(name), "delete_slot_%zug", size / GB);
	snprintf(what, sizeof(what), "deleting a fully populated %zu GiB slot", size / GB);
	bench_report(name, "ms", ms, BIG_RUNS, what);
}

/* ---------------------------------------------------------- dirty log */

static void enable_manual_protect(struct vm *vm)
{
	ASSERT_OK(vm_enable_cap_raw(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
}

static void bench_dirty_log(void)
{
	double get_ms[BENCH_RUNS], clear_ms[BENCH_RUNS];
	size_t pages = GB / 4096;
	uint64_t *bitmap = calloc(pages / 64, sizeof(uint64_t));
	struct kvm_dirty_log get = { .slot = 1, .dirty_bitmap = bitmap };
	struct kvm_clear_dirty_log clear = {
		.slot = 1, .first_page = 0, .num_pages = pages,
		.dirty_bitmap = bitmap,
	};
	struct vm *probe = vm_create(0);
	struct vcpu *vcpu;
	struct slot s;
	int manual = kvm_check_cap(probe->fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	vm_free(probe);
	if (!manual) {
		printf("# dirty_log: no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: skipped\n");
		return;
	}
	ASSERT_TRUE(bitmap != NULL);
	slot_map(&s, GB, MADV_NOHUGEPAGE);
	vcpu = touch_vm(&s, KVM_MEM_LOG_DIRTY_PAGES, enable_manual_protect);
	for (int r = -1; r < BENCH_RUNS; r++) {
		double t0, t1, t2;
		size_t dirty = 0;

		touch(vcpu, GB, DIRTY_STRIDE);
		t0 = bench_now();
		ASSERT_OK(ioctl(vcpu->vm->fd, KVM_GET_DIRTY_LOG, &get));
		t1 = bench_now();
		ASSERT_OK(ioctl(vcpu->vm->fd, KVM_CLEAR_DIRTY_LOG, &clear));
		t2 = bench_now();
		for (size_t i = 0; i < pages / 64; i++)
			dirty += __builtin_popcountll(bitmap[i]);
		ASSERT_EQ(dirty, GB / DIRTY_STRIDE);
		if (r >= 0) {
			get_ms[r] = (t1 - t0) * 1e3;
			clear_ms[r] = (t2 - t1) * 1e3;
		}
	}
	bench_report("dirty_log_get_1g", "ms", get_ms, BENCH_RUNS,
		     "KVM_GET_DIRTY_LOG, 1 GiB slot, 16384 pages dirty");
	bench_report("dirty_log_clear_1g", "ms", clear_ms, BENCH_RUNS,
		     "KVM_CLEAR_DIRTY_LOG of the whole slot, 16384 pages dirty");
	free_vcpu_vm(vcpu);
	slot_unmap(&s);
	free(bitmap);
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 256;

	if (mib <= 0 || mib > 1024) {
		fprintf(stderr, "usage: %s [MiB, 1..1024]\n", argv[0]);
		return KSFT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	close(kvm_open());

	bench_fault_in(mib * MB, MADV_NOHUGEPAGE,
		       "the guest touches every 4 KiB page once, 4 KiB host pages",
		       "fault_in_4k", true);
	bench_fault_in(mib * MB, MADV_HUGEPAGE,
		       "the guest touches every 4 KiB page once, transparent huge pages",
		       "fault_in_thp", false);
	bench_dirty_log();
	bench_big_delete();
	return 0;
}
