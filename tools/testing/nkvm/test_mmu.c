// SPDX-License-Identifier: GPL-2.0
/*
 * test_mmu.c - the guest-physical map: the MMU page budget
 * (KVM_SET/GET_NR_MMU_PAGES), guests touching more memory than it holds,
 * host memory changing under a running guest (munmap, mmap MAP_FIXED,
 * madvise, mprotect, fork's copy-on-write, THP splits), read-only memslots.
 *
 * Linux's behaviour, which these tests assert (6.1):
 *   KVM_GET_NR_MMU_PAGES on a new VM                      0
 *   ... after memslots are created or deleted           max(pages / 50, 64)
 *   KVM_SET_NR_MMU_PAGES below 64                          EINVAL
 *   guest access to a slot whose host memory is unmapped   KVM_RUN: EFAULT
 *   guest write to host memory mapped read-only            KVM_RUN: EFAULT
 *   guest write to a KVM_MEM_READONLY slot                 KVM_EXIT_MMIO
 * Linux's TDP MMU ignores the page budget; nkvm keeps it, recycling the
 * oldest tables, and fails KVM_RUN with ENOSPC when not even one walk fits
 * (tested on nkvm only, through its min_mmu_pages parameter).
 */
#define _GNU_SOURCE		/* memfd_create */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "vm.h"

#define PAGE		4096UL
#define MB		(1UL << 20)
#define GB		(1UL << 30)

/* ------------------------------------------------------------------ */
/* Helpers.                                                           */

/*
 * Flat 4 GiB code and data segments, CR0.PE, paging off: no tables needed
 * in guest memory (the segment registers are never reloaded).
 */
static void vcpu_set_flat32(struct vcpu *vcpu, uint64_t rip)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 0xb,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_regs regs = { .rip = rip, .rsp = STACK_TOP, .rflags = 2 };
	struct kvm_sregs sregs;

	data.selector = 0x10;
	data.type = 0x3;
	vcpu_get_sregs(vcpu, &sregs);
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 |= 1;
	vcpu_set_sregs(vcpu, &sregs);
	vcpu_set_regs(vcpu, &regs);
}

static void set_es(struct vcpu *vcpu, uint16_t sel)
{
	struct kvm_sregs sregs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.es.selector = sel;
	sregs.es.base = (uint64_t)sel << 4;
	vcpu_set_sregs(vcpu, &sregs);
}

static long nr_mmu_pages(struct vm *vm)
{
	return ioctl(vm->fd, KVM_GET_NR_MMU_PAGES, 0);
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

/* size bytes of anonymous memory aligned to align (a power of two). */
static void *map_aligned(size_t size, size_t align)
{
	uintptr_t p = (uintptr_t)map_anon(size + align);

	return (void *)((p + align - 1) & ~(align - 1));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait up to 10 s for *p to exceed min; returns its last value. */
static uint32_t wait_above(volatile uint32_t *p, uint32_t min)
{
	double t0 = now();

	while (*p <= min && now() - t0 < 10)
		usleep(1000);
	return *p;
}

/* ------------------------------------------------------------------ */
/* The page budget.                                                    */

TEST(nr_mmu_pages_default_follows_memslots)
{
	struct vm *vm = vm_create(0);
	void *a = map_anon(16 * MB);

	ASSERT_GT(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_MMU_SHADOW_CACHE_CONTROL), 0);
	ASSERT_EQ(nr_mmu_pages(vm), 0);
	/* 256 pages: below the minimum of 64. */
	ASSERT_OK(vm_set_region(vm, 0, 0, 0, MB, (uintptr_t)a));
	ASSERT_EQ(nr_mmu_pages(vm), 64);
	/* 256 + 4096 pages: 2 %. */
	ASSERT_OK(vm_set_region(vm, 1, 0, 16 * MB, 16 * MB, (uintptr_t)a));
	ASSERT_EQ(nr_mmu_pages(vm), (256 + 4096) / 50);
	/* Flag changes and moves do not recompute it... */
	ASSERT_OK(vm_set_region(vm, 1, 0, 64 * MB, 16 * MB, (uintptr_t)a));
	ASSERT_EQ(nr_mmu_pages(vm), (256 + 4096) / 50);
	/* ...deletes do. */
	ASSERT_OK(vm_set_region(vm, 1, 0, 0, 0, 0));
	ASSERT_EQ(nr_mmu_pages(vm), 64);
}

TEST(set_nr_mmu_pages)
{
	struct vm *vm = vm_create(MB);
	void *a = map_anon(64 * MB);

	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 0), EINVAL);
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 63), EINVAL);
	ASSERT_EQ(nr_mmu_pages(vm), 64);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 64));
	ASSERT_EQ(nr_mmu_pages(vm), 64);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 1000));
	ASSERT_EQ(nr_mmu_pages(vm), 1000);
	/* Once userspace chose, new memslots leave it alone. */
	ASSERT_OK(vm_set_region(vm, 1, 0, GB, 64 * MB, (uintptr_t)a));
	ASSERT_EQ(nr_mmu_pages(vm), 1000);
}

/*
 * Write each 32-bit word at esi, esi + edx, ... (ecx of them) with its own
 * address, read them all back, report the OR of the differences (0 when
 * all is well) on port 0x10, and start again.
 */
GUEST_CODE32(touch32_guest,
	"1:\n"
	"mov %esi, %edi\n"
	"mov %ecx, %ebp\n"
	"2:\n"
	"mov %edi, (%edi)\n"
	"add %edx, %edi\n"
	"dec %ebp\n"
	"jnz 2b\n"
	"mov %esi, %edi\n"
	"mov %ecx, %ebp\n"
	"xor %eax, %eax\n"
	"3:\n"
	"mov (%edi), %ebx\n"
	"sub %edi, %ebx\n"
	"or %ebx, %eax\n"
	"add %edx, %edi\n"
	"dec %ebp\n"
	"jnz 3b\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

TEST(guest_touching_more_than_the_budget_keeps_running)
{
	struct vm *vm = vm_create(MB);
	void *mem = map_anon(GB);
	struct kvm_regs regs;
	struct vcpu *vcpu;
	int round;

	/*
	 * One word in each 2 MiB of a GiB: 512 last-level tables with 4 KiB
	 * host pages, eight times the budget.
	 */
	ASSERT_OK(madvise(mem, GB, MADV_NOHUGEPAGE));
	ASSERT_OK(vm_set_region(vm, 1, 0, GB, GB, (uintptr_t)mem));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 64));
	vm_write(vm, CODE_ADDR, touch32_guest, GUEST_SIZE(touch32_guest));
	vcpu = vcpu_create(vm, 0);
	vcpu_set_flat32(vcpu, CODE_ADDR);
	vcpu_get_regs(vcpu, &regs);
	regs.rsi = GB;
	regs.rcx = 512;
	regs.rdx = 2 * MB;
	vcpu_set_regs(vcpu, &regs);

	for (round = 0; round < 3; round++)
		ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0);
	for (int i = 0; i < 512; i++)
		ASSERT_EQ(*(uint32_t *)((char *)mem + i * 2 * MB),
			  GB + i * 2 * MB);
	ASSERT_EQ(nr_mmu_pages(vm), 64);
}

/* nkvm's parameter that lets KVM_SET_NR_MMU_PAGES go below 64. */
#define MIN_MMU_PAGES "/sys/module/kvm/parameters/min_mmu_pages"

static int write_param(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), r;

	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return r;
}

GUEST_CODE(hlt_guest, "hlt\n");

static void enospc_body(void)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);
	struct vm *vm = vcpu->vm;

	/* The root and three tables make one walk: two pages cannot. */
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 2));
	ASSERT_EQ(nr_mmu_pages(vm), 2);
	ASSERT_ERRNO(vcpu_run_raw(vcpu), ENOSPC);
	ASSERT_ERRNO(vcpu_run_raw(vcpu), ENOSPC);
	ASSERT_EQ(vcpu_rip(vcpu), CODE_ADDR);
	/* Four pages are enough: the vCPU goes on. */
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 4));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST(budget_too_small_for_one_walk_is_enospc)
{
	char old[32] = "";
	int fd = open(MIN_MMU_PAGES, O_RDONLY), status;
	ssize_t n;
	pid_t pid;

	if (fd < 0)
		SKIP("nkvm only: Linux refuses budgets below 64 pages, which "
		     "always hold a walk (and its TDP MMU ignores the budget)");
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	ASSERT_OK(write_param(MIN_MMU_PAGES, "1"));

	/* In a child, so that the parameter is restored whatever happens. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		enospc_body();
		fflush(stdout);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_OK(write_param(MIN_MMU_PAGES, old));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* ------------------------------------------------------------------ */
/* Host memory changing under the guest.                               */

/* Report the dword at 0x3000, forever. */
GUEST_CODE(read_guest,
	"1:\n"
	"mov (0x3000), %eax\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

TEST(munmap_then_run_is_efault_and_a_new_mapping_is_seen)
{
	struct vcpu *vcpu = VM_WITH_GUEST(read_guest);
	void *page = vm_ptr(vcpu->vm, 0x3000);

	*(uint32_t *)page = 0x11111111;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x11111111);
	ASSERT_OK(munmap(page, PAGE));
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EFAULT);
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EFAULT);
	ASSERT_TRUE(mmap(page, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == page);
	*(uint32_t *)page = 0x22222222;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x22222222);
}

TEST(mmap_fixed_over_guest_memory_is_seen)
{
	struct vcpu *vcpu = VM_WITH_GUEST(read_guest);
	void *page = vm_ptr(vcpu->vm, 0x3000);

	*(uint32_t *)page = 0x33333333;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x33333333);
	ASSERT_TRUE(mmap(page, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == page);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0);
	*(uint32_t *)page = 0x44444444;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x44444444);
}

TEST(madvise_dontneed_is_seen)
{
	struct vcpu *vcpu = VM_WITH_GUEST(read_guest);
	void *page = vm_ptr(vcpu->vm, 0x3000);

	*(uint32_t *)page = 0x55555555;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x55555555);
	ASSERT_OK(madvise(page, PAGE, MADV_DONTNEED));
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0);
}

/* Add one to the dword at 0x3000 and report it, forever. */
GUEST_CODE(inc_guest,
	"1:\n"
	"mov (0x3000), %eax\n"
	"inc %eax\n"
	"mov %eax, (0x3000)\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

TEST(mprotect_read_only_stops_guest_writes)
{
	struct vcpu *vcpu = VM_WITH_GUEST(inc_guest);
	void *page = vm_ptr(vcpu->vm, 0x3000);

	*(uint32_t *)page = 7;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 8);
	ASSERT_OK(mprotect(page, PAGE, PROT_READ));
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EFAULT);
	ASSERT_EQ(*(uint32_t *)page, 8);
	ASSERT_OK(mprotect(page, PAGE, PROT_READ | PROT_WRITE));
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 9);
	ASSERT_EQ(*(uint32_t *)page, 9);
}

TEST(fork_keeps_the_childs_copy_private)
{
	struct vcpu *vcpu = VM_WITH_GUEST(inc_guest);
	volatile uint32_t *word = vm_ptr(vcpu->vm, 0x3000);
	int go[2], status;
	pid_t pid;
	char c;

	*word = 100;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 101);
	ASSERT_OK(pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child's copy must keep what it had at fork time. */
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(*word == 101 ? 0 : 1);
	}
	/* The guest writes the parent's page, not the one shared at fork. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 102);
	ASSERT_EQ(*word, 102);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/*
 * Count in the dword at ES:0 until the dword at 0x5000 is not zero, then
 * report on port 0x10 and halt.
 */
GUEST_CODE(count_guest,
	"1:\n"
	"incl %es:(0)\n"
	"cmpl $0, (0x5000)\n"
	"je 1b\n"
	"out %al, $0x10\n"
	"hlt\n"
);

struct runner {
	struct vcpu *vcpu;
	int r;
	int err;
};

static void *run_thread(void *arg)
{
	struct runner *rn = arg;

	rn->r = vcpu_run_raw(rn->vcpu);
	rn->err = errno;
	return NULL;
}

TEST(page_replaced_while_the_vcpu_runs)
{
	struct vm *vm = vm_create(0x10000);
	struct runner rn = { 0 };
	volatile uint32_t *old_view, *counter;
	uint32_t frozen;
	pthread_t thread;
	void *slot1;
	int fd;

	/*
	 * Slot 1 is a memfd, so that the page the guest counts in stays
	 * visible through a second mapping after it is replaced.
	 */
	fd = memfd_create("guest", 0);
	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, 0x10000));
	slot1 = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	old_view = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(slot1 != MAP_FAILED && old_view != MAP_FAILED);
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x20000, 0x10000, (uintptr_t)slot1));
	vm_load_guest(vm, count_guest);
	rn.vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(rn.vcpu, CODE_ADDR);
	set_es(rn.vcpu, 0x2000);

	ASSERT_OK(pthread_create(&thread, NULL, run_thread, &rn));
	ASSERT_GT(wait_above(old_view, 1000), 1000);

	/* Replace the page under the running guest. */
	counter = mmap(slot1, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_TRUE(counter == slot1);
	ASSERT_GT(wait_above(counter, 1000), 1000);
	/* The guest no longer writes the old page. */
	frozen = *old_view;
	usleep(100000);
	ASSERT_EQ(*old_view, frozen);

	*(volatile uint32_t *)vm_ptr(vm, 0x5000) = 1;
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_EQ(rn.r, 0);
	ASSERT_IO(rn.vcpu, KVM_EXIT_IO_OUT, 1, 0x10);
}

TEST(munmap_while_the_vcpu_runs_ends_its_run_with_efault)
{
	struct vm *vm = vm_create(0x10000);
	struct runner rn = { 0 };
	volatile uint32_t *view;
	pthread_t thread;
	void *slot1;
	uint32_t seen;
	int fd;

	/* A memfd again: a second mapping shows the counter after munmap. */
	fd = memfd_create("guest", 0);
	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, 0x10000));
	slot1 = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	view = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(slot1 != MAP_FAILED && view != MAP_FAILED);
	ASSERT_OK(vm_set_region(vm, 1, 0, 0x20000, 0x10000, (uintptr_t)slot1));
	vm_load_guest(vm, count_guest);
	rn.vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(rn.vcpu, CODE_ADDR);
	set_es(rn.vcpu, 0x2000);

	ASSERT_OK(pthread_create(&thread, NULL, run_thread, &rn));
	ASSERT_GT(wait_above(view, 1000), 1000);

	/* The slot's memory goes away under the running guest. */
	ASSERT_OK(munmap(slot1, 0x10000));
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_EQ(rn.r, -1);
	ASSERT_EQ(rn.err, EFAULT);
	/* And it wrote nothing more after the run ended. */
	seen = *view;
	usleep(50000);
	ASSERT_EQ(*view, seen);
	close(fd);
}

/* AnonHugePages of the mapping at p, from /proc/self/smaps, in kB. */
static long anon_huge_kb(void *p)
{
	char line[256], want[32];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Report the dwords at 0x10000, 0x11000 and 0x12000, halt, again. */
GUEST_CODE(three_pages_guest,
	"1:\n"
	"mov $0x1000, %ax\n"
	"mov %ax, %es\n"
	"mov %es:(0x0000), %eax\n"
	"out %eax, $0x10\n"
	"mov %es:(0x1000), %eax\n"
	"out %eax, $0x11\n"
	"mov %es:(0x2000), %eax\n"
	"out %eax, $0x12\n"
	"hlt\n"
	"jmp 1b\n"
);

TEST(thp_split_under_the_guest_is_seen)
{
	char *mem = map_aligned(2 * MB, 2 * MB);
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu;

	/* A 2 MiB slot on a transparent huge page: mapped large if it can. */
	ASSERT_OK(madvise(mem, 2 * MB, MADV_HUGEPAGE));
	memset(mem, 0, 2 * MB);
	TH_LOG("AnonHugePages of the slot: %ld kB", anon_huge_kb(mem));
	vm->mem = mem;
	vm->mem_size = 2 * MB;
	ASSERT_OK(vm_set_region(vm, 0, 0, 0, 2 * MB, (uintptr_t)mem));
	vm_load_guest(vm, three_pages_guest);
	*(uint32_t *)(mem + 0x10000) = 0xaaaa0000;
	*(uint32_t *)(mem + 0x11000) = 0xbbbb0000;
	*(uint32_t *)(mem + 0x12000) = 0xcccc0000;
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);

	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xaaaa0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0xbbbb0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0xcccc0000);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/* One 4 KiB page in the middle is replaced: the host splits. */
	ASSERT_TRUE(mmap(mem + 0x11000, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    mem + 0x11000);
	*(uint32_t *)(mem + 0x11000) = 0xdddd0000;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xaaaa0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0xdddd0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0xcccc0000);
	/* And the rest is still the same memory. */
	*(uint32_t *)(mem + 0x12000) = 0xeeee0000;
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xaaaa0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), 0xdddd0000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0xeeee0000);
}

/*
 * A guest touching memory while the host shrinks the MMU's caches
 * (drop_caches runs the shrinkers, nkvm's among them).
 */
TEST(shrinker_under_a_running_guest)
{
	struct vm *vm = vm_create(MB);
	void *mem = map_anon(64 * MB);
	struct kvm_regs regs;
	struct vcpu *vcpu;

	if (write_param("/proc/sys/vm/drop_caches", "2"))
		SKIP("cannot write /proc/sys/vm/drop_caches");
	ASSERT_OK(vm_set_region(vm, 1, 0, GB, 64 * MB, (uintptr_t)mem));
	vm_write(vm, CODE_ADDR, touch32_guest, GUEST_SIZE(touch32_guest));
	vcpu = vcpu_create(vm, 0);
	vcpu_set_flat32(vcpu, CODE_ADDR);
	vcpu_get_regs(vcpu, &regs);
	regs.rsi = GB;
	regs.rcx = 64 * MB / (64 * 1024);
	regs.rdx = 64 * 1024;
	vcpu_set_regs(vcpu, &regs);
	for (int round = 0; round < 4; round++) {
		ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0);
		ASSERT_OK(write_param("/proc/sys/vm/drop_caches", "2"));
	}
}

/*
 * Two vCPUs touch their own 32 MiB (transparent huge pages where the host
 * has them) while the host keeps changing what lies under them without
 * changing the contents: fork (copy-on-write protection), splitting huge
 * pages (mprotect of part of them), dirty logging on and off, other slots
 * coming and going, the page budget going up and down, and the shrinker.
 * Every round of every vCPU must read back what it wrote.
 */
struct stress_vcpu {
	struct vcpu *vcpu;
	volatile int *stop;
	int rounds;
	int errors;
	int bad_exit;
};

static void *stress_thread(void *arg)
{
	struct stress_vcpu *sv = arg;
	struct kvm_run *run = sv->vcpu->run;

	while (!*sv->stop) {
		if (vcpu_run_raw(sv->vcpu) || run->exit_reason != KVM_EXIT_IO ||
		    run->io.port != 0x10) {
			sv->bad_exit = 1;
			break;
		}
		if (*(uint32_t *)((char *)run + run->io.data_offset))
			sv->errors++;
		sv->rounds++;
	}
	return NULL;
}

/* Has this vCPU not yet gone round twice (and not failed)? */
static bool still_starting(struct stress_vcpu *sv)
{
	return *(volatile int *)&sv->rounds < 2 &&
	       !*(volatile int *)&sv->bad_exit;
}

TEST(host_changes_under_running_vcpus)
{
	struct vm *vm = vm_create(MB);
	char *mem = map_aligned(64 * MB, 2 * MB);
	char *other = map_anon(MB);
	struct stress_vcpu sv[2] = { 0 };
	pthread_t threads[2];
	volatile int stop = 0;
	bool drop = !write_param("/proc/sys/vm/drop_caches", "2");
	double t0;
	int i, step;

	ASSERT_OK(vm_set_region(vm, 1, 0, GB, 64 * MB, (uintptr_t)mem));
	vm_write(vm, CODE_ADDR, touch32_guest, GUEST_SIZE(touch32_guest));
	for (i = 0; i < 2; i++) {
		struct kvm_regs regs;

		sv[i].vcpu = vcpu_create(vm, i);
		sv[i].stop = &stop;
		vcpu_set_flat32(sv[i].vcpu, CODE_ADDR);
		vcpu_get_regs(sv[i].vcpu, &regs);
		regs.rsi = GB + i * 32 * MB;
		regs.rcx = 32 * MB / (16 * 1024);
		regs.rdx = 16 * 1024;
		regs.rsp = STACK_TOP - i * 0x1000;
		vcpu_set_regs(sv[i].vcpu, &regs);
		ASSERT_OK(pthread_create(&threads[i], NULL, stress_thread, &sv[i]));
	}

	t0 = now();
	/*
	 * Three seconds of changes, and on until each vCPU went round twice
	 * (a loaded bed may starve one of them for a while; 60 s at most).
	 */
	for (step = 0; now() - t0 < 3 ||
	     (now() - t0 < 60 && (still_starting(&sv[0]) ||
				  still_starting(&sv[1]))); step++) {
		char *part = mem + (step % 32) * 2 * MB + 0x10000;
		uint64_t bm[64 * MB / 4096 / 64];
		struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = bm };
		pid_t pid;

		switch (step % 6) {
		case 0:
			pid = fork();
			ASSERT_GE(pid, 0);
			if (pid == 0)
				_exit(0);
			ASSERT_EQ(waitpid(pid, NULL, 0), pid);
			break;
		case 1:
			ASSERT_OK(mprotect(part, 0x10000, PROT_READ | PROT_WRITE |
					   PROT_EXEC));
			ASSERT_OK(mprotect(part, 0x10000, PROT_READ | PROT_WRITE));
			break;
		case 2:
			ASSERT_OK(vm_set_region(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, GB,
						64 * MB, (uintptr_t)mem));
			usleep(10000);
			ASSERT_OK(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log));
			ASSERT_OK(vm_set_region(vm, 1, 0, GB, 64 * MB,
						(uintptr_t)mem));
			break;
		case 3:
			ASSERT_OK(vm_set_region(vm, 2, 0, 2 * GB, MB,
						(uintptr_t)other));
			ASSERT_OK(vm_set_region(vm, 2, 0, 3 * GB, MB,
						(uintptr_t)other));
			ASSERT_OK(vm_set_region(vm, 2, 0, 0, 0, 0));
			break;
		case 4:
			ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES,
					step % 12 == 4 ? 64 : 10000));
			break;
		case 5:
			if (drop)
				ASSERT_OK(write_param("/proc/sys/vm/drop_caches",
						      "2"));
			break;
		}
		usleep(5000);
	}
	stop = 1;
	for (i = 0; i < 2; i++) {
		ASSERT_OK(pthread_join(threads[i], NULL));
		TH_LOG("vCPU %d: %d rounds, %d with errors", i, sv[i].rounds,
		       sv[i].errors);
		ASSERT_FALSE(sv[i].bad_exit);
		ASSERT_EQ(sv[i].errors, 0);
		ASSERT_GT(sv[i].rounds, 1);
	}
	TH_LOG("%d host changes", step);
}

/* ------------------------------------------------------------------ */
/* Read-only memory.                                                   */

/*
 * Report ES:0x100 on port 0x10, write 0x12345678 there, report on port
 * 0x11, report ES:0x100 again on port 0x12, halt.
 */
GUEST_CODE(ro_guest,
	"mov %es:(0x100), %eax\n"
	"out %eax, $0x10\n"
	"movl $0x12345678, %es:(0x100)\n"
	"out %al, $0x11\n"
	"mov %es:(0x100), %eax\n"
	"out %eax, $0x12\n"
	"hlt\n"
);

static struct vcpu *ro_vm(uint32_t flags, void *mem)
{
	struct vm *vm = vm_create(0x10000);
	struct vcpu *vcpu;

	ASSERT_OK(vm_set_region(vm, 1, flags, 0x20000, 0x10000,
				(uintptr_t)mem));
	vm_load_guest(vm, ro_guest);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	set_es(vcpu, 0x2000);
	return vcpu;
}

TEST(readonly_slot_reads_and_write_exits)
{
	char *mem = map_anon(0x10000);
	struct vcpu *vcpu;
	struct kvm_run *run;

	ASSERT_GT(ioctl(kvm_open(), KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM),
		  0);
	*(uint32_t *)(mem + 0x100) = 0x0dd0feed;
	vcpu = ro_vm(KVM_MEM_READONLY, mem);
	run = vcpu->run;
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x0dd0feed);

	vcpu_run(vcpu);
	/* The write never reaches the memory. */
	ASSERT_EQ(*(uint32_t *)(mem + 0x100), 0x0dd0feed);
	ASSERT_EXIT(vcpu, KVM_EXIT_MMIO);
	ASSERT_EQ(run->mmio.phys_addr, 0x20100);
	ASSERT_EQ(run->mmio.len, 4);
	ASSERT_TRUE(run->mmio.is_write);
	ASSERT_EQ(*(uint32_t *)run->mmio.data, 0x12345678);
	RUN_OUT(vcpu, 1, 0x11);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), 0x0dd0feed);
	ASSERT_EQ(*(uint32_t *)(mem + 0x100), 0x0dd0feed);
}

TEST(readonly_slot_follows_host_writes)
{
	char *mem = map_anon(0x10000);
	struct vcpu *vcpu;

	*(uint32_t *)(mem + 0x100) = 1;
	vcpu = ro_vm(KVM_MEM_READONLY, mem);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 1);
	*(uint32_t *)(mem + 0x100) = 2;
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	set_es(vcpu, 0x2000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 2);
}

TEST(readonly_flag_cannot_change)
{
	char *mem = map_anon(0x10000);
	struct vm *vm = vm_create(0x10000);

	ASSERT_OK(vm_set_region(vm, 1, KVM_MEM_READONLY, 0x20000, 0x10000,
				(uintptr_t)mem));
	ASSERT_ERRNO(vm_set_region(vm, 1, 0, 0x20000, 0x10000, (uintptr_t)mem),
		     EINVAL);
	ASSERT_OK(vm_set_region(vm, 2, 0, 0x30000, 0x10000,
				(uintptr_t)mem));
	ASSERT_ERRNO(vm_set_region(vm, 2, KVM_MEM_READONLY, 0x30000, 0x10000,
				   (uintptr_t)mem), EINVAL);
}

TEST(readonly_host_memory_reads_and_write_is_efault)
{
	int fd = memfd_create("rom", 0);
	uint32_t v = 0xfeedf00d;
	struct vcpu *vcpu;
	char *mem;

	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, 0x10000));
	ASSERT_EQ(pwrite(fd, &v, 4, 0x100), 4);
	mem = mmap(NULL, 0x10000, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(mem != MAP_FAILED);

	/* A read-only slot over it: reads only. */
	vcpu = ro_vm(KVM_MEM_READONLY, mem);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xfeedf00d);

	/* A writable slot over it: the write cannot be done. */
	vcpu = ro_vm(0, mem);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0xfeedf00d);
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EFAULT);
	ASSERT_EQ(*(uint32_t *)(mem + 0x100), 0xfeedf00d);
}

TEST(sync_mmu_is_advertised)
{
	ASSERT_GT(ioctl(kvm_open(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_MMU), 0);
}

TEST_HARNESS_MAIN
