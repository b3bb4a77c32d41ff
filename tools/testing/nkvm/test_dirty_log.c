// SPDX-License-Identifier: GPL-2.0
/*
 * test_dirty_log.c - dirty page logging: KVM_MEM_LOG_DIRTY_PAGES,
 * KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG and
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, with exact bitmaps.
 *
 * The guest only writes the logged slot (its code, data and stack are in
 * slot 0, which does not log), so the bitmaps must hold exactly the pages
 * it wrote.  Linux's behaviour (6.1), asserted here:
 *   KVM_GET_DIRTY_LOG, slot without logging or absent      ENOENT
 *   ... slot id >= KVM_CAP_NR_MEMSLOTS, address space >= 2  EINVAL
 *   KVM_CLEAR_DIRTY_LOG, first_page not a multiple of 64    EINVAL
 *   ... a range past the slot, or not whole 64-page words
 *       except at the end of the slot                       EINVAL
 *   KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2): args[0] within 3, and
 *       INITIALLY_SET (2) only with MANUAL_PROTECT_ENABLE (1)
 */
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vm.h"

#define PAGE		4096UL
#define MB		(1UL << 20)

/* The logged slot: 128 pages at 0x40000 (reachable in real mode). */
#define LOG_SLOT	1
#define LOG_GPA		0x40000UL
#define LOG_PAGES	128
#define LIST_ADDR	0x500		/* count, then page numbers (words) */

/*
 * For each page number n in the list at LIST_ADDR, write the round
 * number (kept at 0x4fe) into the first word of page n of the logged
 * slot; then report on port 0x10 and start again.
 */
GUEST_CODE(writer_guest,
	"1:\n"
	"incw (0x4fe)\n"
	"mov $0x502, %si\n"
	"mov (0x500), %cx\n"
	"jcxz 3f\n"
	"2:\n"
	"mov (%si), %ax\n"
	"shl $8, %ax\n"
	"add $0x4000, %ax\n"
	"mov %ax, %es\n"
	"mov (0x4fe), %ax\n"
	"mov %ax, %es:(0)\n"
	"add $2, %si\n"
	"loop 2b\n"
	"3:\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

struct logvm {
	struct vm *vm;
	struct vcpu *vcpu;
	char *log_mem;
};

/* Slot 0 (256 KiB, not logged) and the logged slot, with flags. */
static struct logvm logvm_create(uint32_t manual_caps, uint32_t log_flags)
{
	struct logvm l;

	l.vm = vm_create(LOG_GPA);
	if (manual_caps) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = { manual_caps },
		};

		ASSERT_OK(ioctl(l.vm->fd, KVM_ENABLE_CAP, &cap));
	}
	l.log_mem = mmap(NULL, LOG_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(l.log_mem != MAP_FAILED);
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, log_flags, LOG_GPA,
				LOG_PAGES * PAGE, (uintptr_t)l.log_mem));
	vm_load_guest(l.vm, writer_guest);
	l.vcpu = vcpu_create(l.vm, 0);
	vcpu_set_real_mode(l.vcpu, CODE_ADDR);
	return l;
}

/* One round of the guest: it writes the pages given (-1 ends the list). */
static void guest_writes(struct logvm *l, const int *pages)
{
	uint16_t *list = vm_ptr(l->vm, LIST_ADDR);
	uint16_t round;
	int n = 0;

	while (pages[n] >= 0) {
		list[1 + n] = pages[n];
		n++;
	}
	list[0] = n;
	RUN_OUT(l->vcpu, 1, 0x10);
	round = *(uint16_t *)vm_ptr(l->vm, 0x4fe);
	for (int i = 0; i < n; i++)
		ASSERT_EQ(*(uint16_t *)(l->log_mem + pages[i] * PAGE), round);
}

static int get_log(struct vm *vm, uint32_t slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log);
}

static int clear_log(struct vm *vm, uint32_t slot, uint64_t first,
		     uint32_t num, void *bitmap)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num,
		.dirty_bitmap = bitmap,
	};

	return ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &log);
}

/* ASSERT that the nbits-bit bitmap holds exactly the listed bits. */
static void expect_bits(const uint64_t *bm, int nbits, const int *want,
			const char *file, int line)
{
	uint64_t exp[16] = { 0 };
	int i, bad = 0;

	for (i = 0; want[i] >= 0; i++)
		exp[want[i] / 64] |= 1ULL << (want[i] % 64);
	for (i = 0; i < (nbits + 63) / 64; i++) {
		if (bm[i] != exp[i]) {
			th_log("%s:%d: %s: word %d is 0x%016llx, expected 0x%016llx",
			       file, line, th_current, i,
			       (unsigned long long)bm[i],
			       (unsigned long long)exp[i]);
			bad = 1;
		}
	}
	if (bad)
		th_fail_now();
}

#define BITS(...)	((const int[]){ __VA_ARGS__ __VA_OPT__(,) -1 })
#define EXPECT_LOG(l, ...)						\
	do {								\
		uint64_t th_bm[2] = { ~0ULL, ~0ULL };			\
		ASSERT_OK(get_log((l)->vm, LOG_SLOT, th_bm));		\
		expect_bits(th_bm, LOG_PAGES, BITS(__VA_ARGS__),	\
			    __FILE__, __LINE__);			\
	} while (0)

/* ------------------------------------------------------------------ */

TEST(capabilities)
{
	int kvm = kvm_open();

	ASSERT_EQ(ioctl(kvm, KVM_CHECK_EXTENSION,
			KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2),
		  KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
		  KVM_DIRTY_LOG_INITIALLY_SET);
	ASSERT_GT(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ENABLE_CAP_VM), 0);
}

TEST(enable_cap_checks_its_arguments)
{
	struct vm *vm = vm_create(0);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	static const uint64_t good[] = { 0, 1, 3 };
	static const uint64_t bad[] = { 2, 4, 5, 7, 1ULL << 63 };

	for (unsigned int i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cap.args[0] = good[i];
		ASSERT_OK(ioctl(vm->fd, KVM_ENABLE_CAP, &cap));
	}
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cap.args[0] = bad[i];
		ASSERT_ERRNO(ioctl(vm->fd, KVM_ENABLE_CAP, &cap), EINVAL);
	}
	cap.args[0] = 1;
	cap.flags = 1;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_ENABLE_CAP, &cap), EINVAL);
	/* A capability a VM cannot enable. */
	cap.cap = KVM_CAP_USER_MEMORY;
	cap.flags = 0;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_ENABLE_CAP, &cap), EINVAL);
}

TEST(get_dirty_log_errors)
{
	struct logvm l = logvm_create(0, KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t bm[2];

	ASSERT_OK(get_log(l.vm, LOG_SLOT, bm));
	/* Slot 0 does not log; slot 5 does not exist. */
	ASSERT_ERRNO(get_log(l.vm, 0, bm), ENOENT);
	ASSERT_ERRNO(get_log(l.vm, 5, bm), ENOENT);
	ASSERT_ERRNO(get_log(l.vm, 32764, bm), EINVAL);
	ASSERT_ERRNO(get_log(l.vm, 0xffff, bm), EINVAL);
	/* The SMM address space has no slots here; there is no third. */
	ASSERT_ERRNO(get_log(l.vm, (1 << 16) | LOG_SLOT, bm), ENOENT);
	ASSERT_ERRNO(get_log(l.vm, (2 << 16) | LOG_SLOT, bm), EINVAL);
	ASSERT_ERRNO(get_log(l.vm, LOG_SLOT, (void *)8), EFAULT);
	ASSERT_ERRNO(ioctl(l.vm->fd, KVM_GET_DIRTY_LOG, (void *)8), EFAULT);
}

TEST(get_reports_exactly_the_written_pages_and_clears_them)
{
	struct logvm l = logvm_create(0, KVM_MEM_LOG_DIRTY_PAGES);

	EXPECT_LOG(&l);
	guest_writes(&l, BITS(0, 5, 63, 64, 127));
	EXPECT_LOG(&l, 0, 5, 63, 64, 127);
	/* Reported pages are protected again: their next write is seen. */
	guest_writes(&l, BITS(5, 7));
	EXPECT_LOG(&l, 5, 7);
	guest_writes(&l, BITS());
	EXPECT_LOG(&l);
	guest_writes(&l, BITS(0, 64));
	guest_writes(&l, BITS(64, 65));
	EXPECT_LOG(&l, 0, 64, 65);
	EXPECT_LOG(&l);
}

TEST(manual_protect_get_then_clear)
{
	struct logvm l = logvm_create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
				      KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t bm[2];

	guest_writes(&l, BITS(1, 2));
	EXPECT_LOG(&l, 1, 2);
	/* Getting does not clear. */
	guest_writes(&l, BITS(3));
	EXPECT_LOG(&l, 1, 2, 3);
	EXPECT_LOG(&l, 1, 2, 3);

	/* Clearing page 1 protects it again. */
	bm[0] = 1ULL << 1;
	bm[1] = 0;
	ASSERT_OK(clear_log(l.vm, LOG_SLOT, 0, LOG_PAGES, bm));
	EXPECT_LOG(&l, 2, 3);
	guest_writes(&l, BITS(1));
	EXPECT_LOG(&l, 1, 2, 3);

	/* Clear everything; pages 2 and 100 written again are seen. */
	bm[0] = bm[1] = ~0ULL;
	ASSERT_OK(clear_log(l.vm, LOG_SLOT, 0, LOG_PAGES, bm));
	EXPECT_LOG(&l);
	guest_writes(&l, BITS(2, 100));
	EXPECT_LOG(&l, 2, 100);

	/* The second word only. */
	bm[0] = ~0ULL;
	ASSERT_OK(clear_log(l.vm, LOG_SLOT, 64, 64, bm));
	EXPECT_LOG(&l, 2);
}

TEST(initially_set)
{
	struct logvm l = logvm_create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				      KVM_DIRTY_LOG_INITIALLY_SET,
				      KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t bm[2] = { ~0ULL, ~0ULL };

	ASSERT_OK(get_log(l.vm, LOG_SLOT, bm));
	ASSERT_EQ(bm[0], ~0ULL);
	ASSERT_EQ(bm[1], ~0ULL);
	bm[0] = bm[1] = ~0ULL;
	ASSERT_OK(clear_log(l.vm, LOG_SLOT, 0, LOG_PAGES, bm));
	EXPECT_LOG(&l);
	guest_writes(&l, BITS(4, 90));
	EXPECT_LOG(&l, 4, 90);
}

TEST(clear_dirty_log_errors)
{
	struct logvm l = logvm_create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, 0);
	char *mem = mmap(NULL, 100 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t bm[4] = { 0 };

	ASSERT_TRUE(mem != MAP_FAILED);
	/* Slot 1 does not log. */
	ASSERT_ERRNO(clear_log(l.vm, LOG_SLOT, 0, 64, bm), ENOENT);
	ASSERT_ERRNO(clear_log(l.vm, 9, 0, 64, bm), ENOENT);
	ASSERT_ERRNO(clear_log(l.vm, 32764, 0, 64, bm), EINVAL);

	/* A logged slot of 100 pages. */
	ASSERT_OK(vm_set_region(l.vm, 2, KVM_MEM_LOG_DIRTY_PAGES, 0x100000,
				100 * PAGE, (uintptr_t)mem));
	ASSERT_OK(clear_log(l.vm, 2, 0, 100, bm));
	ASSERT_OK(clear_log(l.vm, 2, 0, 64, bm));
	ASSERT_OK(clear_log(l.vm, 2, 64, 36, bm));
	ASSERT_OK(clear_log(l.vm, 2, 0, 0, bm));
	ASSERT_OK(clear_log(l.vm, 2, 64, 0, bm));
	ASSERT_ERRNO(clear_log(l.vm, 2, 1, 63, bm), EINVAL);
	ASSERT_ERRNO(clear_log(l.vm, 2, 32, 64, bm), EINVAL);
	/* Not whole words, and not up to the end. */
	ASSERT_ERRNO(clear_log(l.vm, 2, 0, 63, bm), EINVAL);
	ASSERT_ERRNO(clear_log(l.vm, 2, 0, 65, bm), EINVAL);
	/* Beyond the slot. */
	ASSERT_ERRNO(clear_log(l.vm, 2, 0, 101, bm), EINVAL);
	ASSERT_ERRNO(clear_log(l.vm, 2, 64, 37, bm), EINVAL);
	ASSERT_ERRNO(clear_log(l.vm, 2, 128, 0, bm), EINVAL);
	ASSERT_ERRNO(clear_log(l.vm, 2, 0, 100, (void *)8), EFAULT);
}

TEST(logging_switched_on_and_off_on_a_live_slot)
{
	struct logvm l = logvm_create(0, 0);
	uint64_t bm[2];

	/* Writable mappings exist before logging starts... */
	guest_writes(&l, BITS(1, 2, 3));
	ASSERT_ERRNO(get_log(l.vm, LOG_SLOT, bm), ENOENT);
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				LOG_GPA, LOG_PAGES * PAGE,
				(uintptr_t)l.log_mem));
	EXPECT_LOG(&l);
	/* ...and are write-protected when it does. */
	guest_writes(&l, BITS(2, 10));
	EXPECT_LOG(&l, 2, 10);

	/* Off: no log, and the guest goes on writing. */
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, 0, LOG_GPA, LOG_PAGES * PAGE,
				(uintptr_t)l.log_mem));
	ASSERT_ERRNO(get_log(l.vm, LOG_SLOT, bm), ENOENT);
	guest_writes(&l, BITS(2, 10, 11));

	/* On again: a fresh, empty log. */
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				LOG_GPA, LOG_PAGES * PAGE,
				(uintptr_t)l.log_mem));
	EXPECT_LOG(&l);
	guest_writes(&l, BITS(11));
	EXPECT_LOG(&l, 11);
}

TEST(log_follows_a_moved_slot)
{
	struct logvm l = logvm_create(0, KVM_MEM_LOG_DIRTY_PAGES);

	guest_writes(&l, BITS(6));
	/* Moved out of the guest's way and back: the log stays. */
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				0x200000, LOG_PAGES * PAGE,
				(uintptr_t)l.log_mem));
	ASSERT_OK(vm_set_region(l.vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				LOG_GPA, LOG_PAGES * PAGE,
				(uintptr_t)l.log_mem));
	EXPECT_LOG(&l, 6);
	guest_writes(&l, BITS(6, 7));
	EXPECT_LOG(&l, 6, 7);
}

/*
 * Huge pages while logging: the whole guest is one 2 MiB slot on a
 * transparent huge page, mapped large until logging starts.  Code and
 * data are only read; the guest writes its round counter in frame 0 and
 * the pages it is given (slot page n is frame 0x40 + n, below 1 MiB).
 */
TEST(huge_pages_split_while_logging)
{
	char *raw = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *mem = (char *)(((uintptr_t)raw + 2 * MB - 1) & ~(2 * MB - 1));
	struct logvm l;
	uint64_t bm[8];
	int i;

	ASSERT_TRUE(raw != MAP_FAILED);
	ASSERT_OK(madvise(mem, 2 * MB, MADV_HUGEPAGE));
	memset(mem, 0, 2 * MB);
	l.vm = vm_create(0);
	l.vm->mem = mem;
	l.vm->mem_size = 2 * MB;
	l.log_mem = mem + LOG_GPA;
	ASSERT_OK(vm_set_region(l.vm, 0, 0, 0, 2 * MB, (uintptr_t)mem));
	vm_load_guest(l.vm, writer_guest);
	l.vcpu = vcpu_create(l.vm, 0);
	vcpu_set_real_mode(l.vcpu, CODE_ADDR);

	guest_writes(&l, BITS(0, 100, 150, 190));
	ASSERT_OK(vm_set_region(l.vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB,
				(uintptr_t)mem));
	memset(bm, 0xff, sizeof(bm));
	ASSERT_OK(get_log(l.vm, 0, bm));
	expect_bits(bm, 512, BITS(), __FILE__, __LINE__);

	guest_writes(&l, BITS(3, 100, 191));
	ASSERT_OK(get_log(l.vm, 0, bm));
	expect_bits(bm, 512, BITS(0, 0x40 + 3, 0x40 + 100, 0x40 + 191),
		    __FILE__, __LINE__);
	guest_writes(&l, BITS(4));
	ASSERT_OK(get_log(l.vm, 0, bm));
	expect_bits(bm, 512, BITS(0, 0x40 + 4), __FILE__, __LINE__);

	/* Logging off: large again, and every write still lands. */
	ASSERT_OK(vm_set_region(l.vm, 0, 0, 0, 2 * MB, (uintptr_t)mem));
	guest_writes(&l, BITS(0, 3, 4, 100, 150, 191));
	for (i = 0; i < 10; i++)
		guest_writes(&l, BITS(i * 19));
}

TEST_HARNESS_MAIN
