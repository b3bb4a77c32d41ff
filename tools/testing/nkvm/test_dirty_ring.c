// SPDX-License-Identifier: GPL-2.0
/*
 * test_dirty_ring.c - the dirty ring (KVM_CAP_DIRTY_LOG_RING) and
 * KVM_SET_SIGNAL_MASK.
 *
 * The guest writes pages of a logging slot (its code, data and stack are
 * in slot 0, which does not log), so each vCPU ring must hold exactly the
 * pages it wrote, in order.  Linux's behaviour (6.1, x86), asserted here:
 *   KVM_CHECK_EXTENSION(DIRTY_LOG_RING and _ACQ_REL)  65536 * 16 bytes
 *   enable: 0, not a power of two, below a page       EINVAL
 *           above 65536 entries                       E2BIG
 *           a second time, or after a vCPU exists     EINVAL
 *   mmap of the ring: private or executable           EINVAL (or EPERM)
 *   KVM_GET/CLEAR_DIRTY_LOG with the ring             ENXIO
 *   KVM_RESET_DIRTY_RINGS: the entries recycled (only those userspace
 *       marked RESET, in order); their pages fault again on the next write
 *   a ring holding its size less 64 entries           KVM_EXIT_DIRTY_RING_FULL
 *   KVM_SET_SIGNAL_MASK, len other than 8             EINVAL
 */
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vm.h"

#define PAGE		4096UL

/* The logged slot: 200 pages at 0x20000 (reachable in real mode). */
#define LOG_SLOT	1
#define LOG_GPA		0x20000UL
#define LOG_PAGES	200
#define LIST_ADDR	0x500		/* count, then page numbers (words) */

#define RING_BYTES	4096		/* the smallest ring: 256 entries */
#define RING_ENTRIES	(RING_BYTES / sizeof(struct kvm_dirty_gfn))

/*
 * For each page number n in the list at LIST_ADDR, write the round number
 * (kept at 0x4fe) into the first word of page n of the logged slot; then
 * report on port 0x10 and start again.
 */
GUEST_CODE(ring_writer_guest,
	"1:\n"
	"incw (0x4fe)\n"
	"mov $0x502, %si\n"
	"mov (0x500), %cx\n"
	"jcxz 3f\n"
	"2:\n"
	"mov (%si), %ax\n"
	"shl $8, %ax\n"
	"add $0x2000, %ax\n"
	"mov %ax, %es\n"
	"mov (0x4fe), %ax\n"
	"mov %ax, %es:(0)\n"
	"add $2, %si\n"
	"loop 2b\n"
	"3:\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

struct ringvm {
	struct vm *vm;
	struct vcpu *vcpu;
	struct kvm_dirty_gfn *ring;
	char *log_mem;
};

static struct ringvm ringvm_create(void)
{
	struct ringvm r;

	r.vm = vm_create(LOG_GPA);
	ASSERT_OK(vm_enable_cap_raw(r.vm, KVM_CAP_DIRTY_LOG_RING, RING_BYTES));
	r.log_mem = mmap(NULL, LOG_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(r.log_mem != MAP_FAILED);
	ASSERT_OK(vm_set_region(r.vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				LOG_GPA, LOG_PAGES * PAGE,
				(uintptr_t)r.log_mem));
	vm_load_guest(r.vm, ring_writer_guest);
	r.vcpu = vcpu_create(r.vm, 0);
	vcpu_set_real_mode(r.vcpu, CODE_ADDR);
	r.ring = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r.vcpu->fd, KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
	ASSERT_TRUE(r.ring != MAP_FAILED);
	return r;
}

/* Give the guest the pages to write in its next round (-1 ends). */
static void set_list(struct ringvm *r, const int *pages)
{
	uint16_t *list = vm_ptr(r->vm, LIST_ADDR);
	int n = 0;

	while (pages[n] >= 0) {
		list[1 + n] = pages[n];
		n++;
	}
	list[0] = n;
}

#define PAGES(...)	((const int[]){ __VA_ARGS__ __VA_OPT__(,) -1 })

/* Entries [from, from + n) hold exactly these offsets of LOG_SLOT. */
static void expect_entries(struct ringvm *r, unsigned int from,
			   const int *offsets)
{
	unsigned int i;

	for (i = 0; offsets[i] >= 0; i++) {
		struct kvm_dirty_gfn *e = &r->ring[(from + i) % RING_ENTRIES];

		ASSERT_EQ(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE),
			  KVM_DIRTY_GFN_F_DIRTY);
		ASSERT_EQ(e->slot, LOG_SLOT);
		ASSERT_EQ(e->offset, (uint64_t)offsets[i]);
	}
	/* And nothing after them. */
	ASSERT_EQ(r->ring[(from + i) % RING_ENTRIES].flags, 0);
}

static void harvest(struct ringvm *r, unsigned int from, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		__atomic_store_n(&r->ring[(from + i) % RING_ENTRIES].flags,
				 KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
}

static int reset_rings(struct vm *vm)
{
	return ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0);
}

/* ------------------------------------------------------------------ */

TEST(capabilities)
{
	int kvm = kvm_open();

	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_DIRTY_LOG_RING),
		  65536 * (int)sizeof(struct kvm_dirty_gfn));
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL),
		  65536 * (int)sizeof(struct kvm_dirty_gfn));
	close(kvm);
}

TEST(enable_checks_its_size_and_comes_before_the_vcpus)
{
	struct vm *vm = vm_create(LOG_GPA);
	struct kvm_dirty_log log = { .slot = 0 };
	uint64_t bm[4];

	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 0), EINVAL);
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 3 * 4096),
		     EINVAL);
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 2048),
		     EINVAL);
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 2 << 20),
		     E2BIG);
	ASSERT_OK(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
				    1 << 20));
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 4096),
		     EINVAL);
	/* No bitmaps with the ring. */
	ASSERT_OK(vm_set_region(vm, LOG_SLOT, KVM_MEM_LOG_DIRTY_PAGES, LOG_GPA,
				PAGE, (uintptr_t)vm->mem));
	log.slot = LOG_SLOT;
	log.dirty_bitmap = bm;
	ASSERT_ERRNO(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log), ENXIO);
	vm_free(vm);

	vm = vm_create(LOG_GPA);
	vcpu_create(vm, 0);
	ASSERT_ERRNO(vm_enable_cap_raw(vm, KVM_CAP_DIRTY_LOG_RING, 4096),
		     EINVAL);
	/* Without a ring there is nothing to reset. */
	ASSERT_ERRNO(reset_rings(vm), EINVAL);
	vm_free(vm);
}

TEST(ring_mapping_is_shared_and_not_executable)
{
	struct ringvm r = ringvm_create();
	void *p;

	p = mmap(NULL, RING_BYTES, PROT_READ, MAP_PRIVATE, r.vcpu->fd,
		 KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
	ASSERT_TRUE(p == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	/* (EPERM where the kernel refuses PROT_EXEC on the fd itself.) */
	p = mmap(NULL, RING_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED,
		 r.vcpu->fd, KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
	ASSERT_TRUE(p == MAP_FAILED);
	ASSERT_TRUE(errno == EINVAL || errno == EPERM);
	/* The ring starts empty. */
	ASSERT_EQ(r.ring[0].flags, 0);
	vm_free(r.vm);
}

TEST(writes_are_pushed_in_order_and_reset_recycles_the_harvested)
{
	struct ringvm r = ringvm_create();

	set_list(&r, PAGES(3, 5, 70));
	RUN_OUT(r.vcpu, 1, 0x10);
	expect_entries(&r, 0, PAGES(3, 5, 70));

	/* Writable until reset: writing them again pushes nothing. */
	RUN_OUT(r.vcpu, 1, 0x10);
	expect_entries(&r, 0, PAGES(3, 5, 70));

	/* Nothing harvested, nothing recycled. */
	ASSERT_EQ(reset_rings(r.vm), 0);
	expect_entries(&r, 0, PAGES(3, 5, 70));

	/* Two harvested: those two are recycled, the third stays. */
	harvest(&r, 0, 2);
	ASSERT_EQ(reset_rings(r.vm), 2);
	ASSERT_EQ(r.ring[0].flags, 0);
	ASSERT_EQ(r.ring[1].flags, 0);
	ASSERT_EQ(r.ring[2].flags, KVM_DIRTY_GFN_F_DIRTY);

	/* Pages 3 and 5 are protected again, page 70 is not. */
	RUN_OUT(r.vcpu, 1, 0x10);
	expect_entries(&r, 2, PAGES(70, 3, 5));

	harvest(&r, 2, 3);
	ASSERT_EQ(reset_rings(r.vm), 3);
	set_list(&r, PAGES(70));
	RUN_OUT(r.vcpu, 1, 0x10);
	expect_entries(&r, 5, PAGES(70));
	vm_free(r.vm);
}

TEST(a_ring_at_its_soft_limit_exits_until_reset)
{
	struct ringvm r = ringvm_create();
	const unsigned int limit = RING_ENTRIES - 64;
	int pages[LOG_PAGES + 1];
	unsigned int i;

	for (i = 0; i < LOG_PAGES; i++)
		pages[i] = i;
	pages[LOG_PAGES] = -1;
	set_list(&r, pages);

	ASSERT_OK(vcpu_run_raw(r.vcpu));
	ASSERT_EQ(r.vcpu->run->exit_reason, KVM_EXIT_DIRTY_RING_FULL);
	for (i = 0; i < limit; i++) {
		ASSERT_EQ(r.ring[i].flags, KVM_DIRTY_GFN_F_DIRTY);
		ASSERT_EQ(r.ring[i].offset, i);
	}
	/* It stopped right at the limit (a write may be pending). */
	ASSERT_EQ(r.ring[limit].flags, 0);
	ASSERT_EQ(*(uint16_t *)(r.log_mem + (limit - 2) * PAGE), 1);

	/* Full until userspace resets. */
	ASSERT_OK(vcpu_run_raw(r.vcpu));
	ASSERT_EQ(r.vcpu->run->exit_reason, KVM_EXIT_DIRTY_RING_FULL);
	harvest(&r, 0, limit);
	ASSERT_EQ(reset_rings(r.vm), (int)limit);
	/*
	 * The last page pushed is protected again before the write that
	 * faulted on it ran: it faults, and is pushed, once more.
	 */
	RUN_OUT(r.vcpu, 1, 0x10);
	for (i = limit; i <= LOG_PAGES; i++)
		ASSERT_EQ(r.ring[i].offset, i - 1);
	ASSERT_EQ(*(uint16_t *)(r.log_mem + (LOG_PAGES - 1) * PAGE), 1);
	vm_free(r.vm);
}

/* ------------------------------------------------------------------ */

GUEST_CODE(spin_guest,
	"1:\n"
	"jmp 1b\n"
);

struct kick {
	pthread_t target;
	volatile int go;
};

static void *kicker(void *arg)
{
	struct kick *k = arg;

	while (!k->go)
		usleep(1000);
	usleep(50000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

TEST(signal_mask_inside_kvm_run)
{
	struct vcpu *vcpu = VM_WITH_GUEST(spin_guest);
	/* struct kvm_signal_mask: len, then the kernel's 8-byte sigset. */
	uint32_t arg[3] = { 8, 0, 0 };
	struct kick k = { .target = pthread_self() };
	sigset_t blocked, pending;
	pthread_t thread;
	int sig;

	/* The thread blocks SIGUSR1; KVM_RUN unblocks it. */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	ASSERT_OK(pthread_sigmask(SIG_BLOCK, &blocked, NULL));

	arg[0] = 7;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, arg), EINVAL);
	arg[0] = 8;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, arg));

	ASSERT_OK(pthread_create(&thread, NULL, kicker, &k));
	k.go = 1;
	/* The signal ends KVM_RUN, and is still pending afterwards. */
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_OK(sigpending(&pending));
	ASSERT_TRUE(sigismember(&pending, SIGUSR1));
	ASSERT_OK(sigwait(&blocked, &sig));
	ASSERT_EQ(sig, SIGUSR1);

	/* NULL: the thread's own mask again, so it stays blocked. */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, NULL));
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	ASSERT_OK(pthread_sigmask(SIG_UNBLOCK, &blocked, NULL));
}

TEST_HARNESS_MAIN
