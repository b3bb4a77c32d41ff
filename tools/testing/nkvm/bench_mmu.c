// SPDX-License-Identifier: GPL-2.0
/*
 * bench_mmu.c - the guest-physical map: how fast a guest faults memory in,
 * and how long deleting a populated memslot takes.
 *
 *	bench_mmu [MiB]		size of the fault-in slots (default 128)
 *
 * A 32-bit guest writes one word in every 4 KiB page of a fresh slot once;
 * the time of that KVM_RUN gives pages per second, with the host memory in
 * 4 KiB pages (MADV_NOHUGEPAGE) and in transparent huge pages.  Then the
 * slot is deleted (KVM_SET_USER_MEMORY_REGION with size 0) and timed.  A
 * last case maps a 3 GiB slot sparsely (one page in every 2 MiB, so that
 * all its last-level tables exist) and times its deletion.  Lines:
 *
 *	BENCH fault_in_4k <pages per second> pages/s
 *	BENCH fault_in_thp <pages per second> pages/s
 *	BENCH delete_slot_4k_<N>M <milliseconds> ms
 *	BENCH delete_slot_thp_<N>M <milliseconds> ms
 *	BENCH delete_slot_3g_sparse <milliseconds> ms
 *
 * Exit code 0, 1 on error, 4 if /dev/kvm is missing.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "vm.h"

#define MB		(1UL << 20)
#define GB		(1UL << 30)


/* Write ecx words at esi, esi + edx, ...; report on port 0x10; again. */
GUEST_CODE32(touch_guest,
	"1:\n"
	"mov %esi, %edi\n"
	"mov %ecx, %ebp\n"
	"2:\n"
	"mov %edi, (%edi)\n"
	"add %edx, %edi\n"
	"dec %ebp\n"
	"jnz 2b\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void vcpu_set_flat32(struct vcpu *vcpu)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 0xb,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;

	data.selector = 0x10;
	data.type = 0x3;
	vcpu_get_sregs(vcpu, &sregs);
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 |= 1;
	vcpu_set_sregs(vcpu, &sregs);
}

struct result {
	double pages_per_s;
	double delete_ms;
};

/*
 * A slot of size bytes at guest 1 GiB; the guest writes every stride
 * bytes of it once.  advice: MADV_HUGEPAGE or MADV_NOHUGEPAGE.
 */
static struct result touch_and_delete(size_t size, size_t stride, int advice)
{
	struct vm *vm = vm_create(MB);
	uintptr_t raw = (uintptr_t)mmap(NULL, size + 2 * MB,
					PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS |
					MAP_NORESERVE, -1, 0);
	void *mem = (void *)((raw + 2 * MB - 1) & ~(2 * MB - 1));
	struct kvm_regs regs = { .rip = CODE_ADDR, .rflags = 2 };
	struct vcpu *vcpu;
	struct result res;
	double t;

	ASSERT_TRUE((void *)raw != MAP_FAILED);
	ASSERT_OK(madvise(mem, size, advice));
	ASSERT_OK(vm_set_region(vm, 1, 0, GB, size, (uintptr_t)mem));
	vm_write(vm, CODE_ADDR, touch_guest, GUEST_SIZE(touch_guest));
	vcpu = vcpu_create(vm, 0);
	vcpu_set_flat32(vcpu);
	regs.rsi = GB;
	regs.rcx = size / stride;
	regs.rdx = stride;
	vcpu_set_regs(vcpu, &regs);

	t = now();
	RUN_OUT(vcpu, 1, 0x10);
	res.pages_per_s = (size / stride) / (now() - t);

	t = now();
	ASSERT_OK(vm_set_region(vm, 1, 0, 0, 0, 0));
	res.delete_ms = (now() - t) * 1e3;

	vcpu_free(vcpu);
	vm_free(vm);
	munmap((void *)raw, size + 2 * MB);
	return res;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 128;
	struct result r4k, rthp, sparse;

	if (mib <= 0 || mib > 1024) {
		fprintf(stderr, "usage: %s [MiB, 1..1024]\n", argv[0]);
		return KSFT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	close(kvm_open());

	/* Warm up the code paths once, small. */
	touch_and_delete(8 * MB, 4096, MADV_NOHUGEPAGE);

	r4k = touch_and_delete(mib * MB, 4096, MADV_NOHUGEPAGE);
	printf("# fault-in, 4 KiB host pages: %.0f pages/s; deleting the %ld MiB slot: %.2f ms\n",
	       r4k.pages_per_s, mib, r4k.delete_ms);
	rthp = touch_and_delete(mib * MB, 4096, MADV_HUGEPAGE);
	printf("# fault-in, transparent huge pages: %.0f pages/s; deleting: %.2f ms\n",
	       rthp.pages_per_s, rthp.delete_ms);
	sparse = touch_and_delete(3 * GB, 2 * MB, MADV_NOHUGEPAGE);
	printf("# deleting a 3 GiB slot with a page in every 2 MiB: %.2f ms\n",
	       sparse.delete_ms);

	printf("BENCH fault_in_4k %.0f pages/s\n", r4k.pages_per_s);
	printf("BENCH fault_in_thp %.0f pages/s\n", rthp.pages_per_s);
	printf("BENCH delete_slot_4k_%ldM %.3f ms\n", mib, r4k.delete_ms);
	printf("BENCH delete_slot_thp_%ldM %.3f ms\n", mib, rthp.delete_ms);
	printf("BENCH delete_slot_3g_sparse %.3f ms\n", sparse.delete_ms);
	return 0;
}
