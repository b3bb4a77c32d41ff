// SPDX-License-Identifier: GPL-2.0
/*
 * bench_exits.c - the exit paths besides port I/O (bench_pio.c), and the
 * bed's floor:
 *
 *	mmio_exit	guest write outside every memslot, KVM_EXIT_MMIO to
 *			userspace, KVM_RUN back (us per round trip); a real
 *			mode guest
 *	mmio64_exit	the same in long mode, through 4 levels of the
 *			guest's page tables to a 4 KiB page
 *	cpuid_exit	CPUID, handled in the kernel (us per instruction)
 *	hlt_wake	a cycle of: the guest signals an ioeventfd and halts
 *			(STI; HLT), a second thread sees the eventfd and
 *			raises an interrupt through an irqfd (in-kernel
 *			8259), the vCPU wakes, its handler sends the EOI
 *			(us per cycle)
 *	vmrun_floor	nkvm only: a bare VMRUN/#VMEXIT whose exit is handled
 *			by nothing (KVM_NKVM_FLOOR, with kvm.ko's parameter
 *			nkvm_floor set for the while), us per entry
 *
 *	bench_exits [N [FIGURE]]	N exits per run (default 5000); only
 *				FIGURE (floor, cpuid, mmio, mmio64 or hlt)
 *				if given
 *
 * Each figure is the median of BENCH_RUNS runs (see bench.h for the
 * lines printed).  Exit code 0, 1 on error, 4 if /dev/kvm is missing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <nkvm/nkvm.h>

#include "bench.h"
#include "vm.h"

#define DEFAULT_N	5000
#define WARMUP		500
#define COUNT_ADDR	0x600	/* the guest's loop count, set per run */
#define EARLY_ADDR	0x604	/* interrupts taken before their HLT */
#define MMIO_GPA	0x20000	/* outside the VM's 64 KiB */
#define MMIO64_VA	0x3fe000	/* a 4 KiB page PT_ADDR maps ... */
#define MMIO64_GPA	0x1000000	/* ... there: past VM_MODES_MEM */

static long n_exits = DEFAULT_N;

/* ---------------------------------------------------------------- MMIO */

GUEST_CODE(mmio_guest,
	"mov $0x2000, %ax\n"
	"mov %ax, %es\n"
	"1:\n"
	"mov %al, %es:(0)\n"
	"jmp 1b\n"
);

GUEST_CODE64(mmio64_guest,
	"mov $" XSTR(MMIO64_VA) ", %rbx\n"
	"1:\n"
	"mov %al, (%rbx)\n"
	"jmp 1b\n"
);

static void mmio_round_trips(struct vcpu *vcpu, long n, uint64_t gpa)
{
	for (long i = 0; i < n; i++) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0 ||
		    vcpu->run->exit_reason != KVM_EXIT_MMIO ||
		    vcpu->run->mmio.phys_addr != gpa) {
			fprintf(stderr, "bench_exits: mmio: unexpected exit %u (%s), errno %d\n",
				vcpu->run->exit_reason,
				exit_name(vcpu->run->exit_reason), errno);
			exit(KSFT_FAIL);
		}
	}
}

static void bench_vm_free(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	vcpu_free(vcpu);
	vm_free(vm);
}

/* 64 KiB of memory, the code at CODE_ADDR, vCPU 0 in real mode there. */
static struct vcpu *small_vm(const void *code, size_t len, bool irqchip)
{
	struct vm *vm = vm_create(0x10000);
	struct vcpu *vcpu;

	if (irqchip)
		ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

static void bench_mmio_in(struct vcpu *vcpu, uint64_t gpa, const char *name,
			  const char *what)
{
	double us[BENCH_RUNS];

	mmio_round_trips(vcpu, WARMUP, gpa);
	for (int r = 0; r < BENCH_RUNS; r++) {
		double t0 = bench_now();

		mmio_round_trips(vcpu, n_exits, gpa);
		us[r] = (bench_now() - t0) * 1e6 / n_exits;
	}
	bench_report(name, "us", us, BENCH_RUNS, what);
	bench_vm_free(vcpu);
}

static void bench_mmio(void)
{
	bench_mmio_in(small_vm(mmio_guest, GUEST_SIZE(mmio_guest), false),
		      MMIO_GPA, "mmio_exit", "KVM_EXIT_MMIO round trip");
}

static void bench_mmio64(void)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(mmio64_guest,
						  GUEST_SIZE(mmio64_guest),
						  MODE_LONG);
	uint64_t *pt = vm_ptr(vcpu->vm, PT_ADDR);

	pt[(MMIO64_VA >> 12) & 511] = MMIO64_GPA | 3;	/* present, writable */
	bench_mmio_in(vcpu, MMIO64_GPA, "mmio64_exit",
		      "KVM_EXIT_MMIO round trip, long mode");
}

/* ---------------------------------------------------------------- CPUID */

/* (COUNT_ADDR) CPUIDs, then OUT to port 0x10; again. */
GUEST_CODE(cpuid_guest,
	"1:\n"
	"mov (" XSTR(COUNT_ADDR) "), %ebp\n"
	"2:\n"
	"xor %eax, %eax\n"
	"cpuid\n"
	"dec %ebp\n"
	"jnz 2b\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

/* Run a guest that does *(u32 *)COUNT_ADDR things, then an OUT to 0x10. */
static double run_counted(struct vcpu *vcpu, long n)
{
	double t0;

	*(uint32_t *)vm_ptr(vcpu->vm, COUNT_ADDR) = n;
	t0 = bench_now();
	RUN_OUT(vcpu, 1, 0x10);
	return bench_now() - t0;
}

static void bench_cpuid(void)
{
	struct vcpu *vcpu = small_vm(cpuid_guest, GUEST_SIZE(cpuid_guest), false);
	double us[BENCH_RUNS];

	run_counted(vcpu, WARMUP);
	for (int r = 0; r < BENCH_RUNS; r++)
		us[r] = run_counted(vcpu, n_exits) * 1e6 / n_exits;
	bench_report("cpuid_exit", "us", us, BENCH_RUNS,
		     "CPUID handled in the kernel");
	bench_vm_free(vcpu);
}

/* ---------------------------------------------------------------- HLT */

/*
 * The 8259 with vectors 0x20-0x27, only IRQ 5 unmasked, its handler at
 * IVT entry 0x25; "ready" on port 0x80.  Then (COUNT_ADDR) cycles of:
 * signal port 0x81 (an ioeventfd) with interrupts off, STI; HLT.  The
 * handler counts, sends a non-specific EOI and, if the interrupt came
 * before the HLT ran, returns past it: the STI shadow should keep it out
 * until then, but QEMU's TCG before 9.1 drops the shadow when VMRUN
 * re-enters a guest that had an exit right after its STI, so the
 * interrupt may come first (counted at EARLY_ADDR), and a HLT after it
 * would sleep for good.  OUT to 0x10 at the end; again.
 */
GUEST_CODE(hlt_guest,
	"cli\n"
	"movw $" GUEST_ADDR(hlt_guest, "3f") ", (0x94)\n"
	"movw $0, (0x96)\n"
	"mov $0x11, %al\n"
	"out %al, $0x20\n"
	"mov $0x20, %al\n"
	"out %al, $0x21\n"
	"mov $0x04, %al\n"
	"out %al, $0x21\n"
	"mov $0x01, %al\n"
	"out %al, $0x21\n"
	"mov $0xdf, %al\n"
	"out %al, $0x21\n"
	"out %al, $0x80\n"
	"1:\n"
	"mov (" XSTR(COUNT_ADDR) "), %ebp\n"
	"2:\n"
	"cli\n"
	"out %al, $0x81\n"
	"sti\n"
	"4:\n"
	"hlt\n"
	"dec %ebp\n"
	"jnz 2b\n"
	"cli\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
	"3:\n"
	"push %bp\n"
	"mov %sp, %bp\n"
	"cmpw $" GUEST_ADDR(hlt_guest, "4b") ", 2(%bp)\n"
	"jne 5f\n"
	"incw 2(%bp)\n"
	"incl (" XSTR(EARLY_ADDR) ")\n"
	"5:\n"
	"push %ax\n"
	"mov $0x20, %al\n"
	"out %al, $0x20\n"
	"pop %ax\n"
	"pop %bp\n"
	"iret\n"
);

struct waker {
	int halting;		/* the ioeventfd's eventfd */
	int irq;		/* the irqfd's */
	volatile int stop;
};

/* Each signal of the guest gets one interrupt. */
static void *waker_thread(void *arg)
{
	struct waker *w = arg;
	uint64_t v, one = 1;

	while (read(w->halting, &v, sizeof(v)) == sizeof(v) && !w->stop)
		if (write(w->irq, &one, sizeof(one)) != sizeof(one))
			break;
	return NULL;
}

static void bench_hlt(void)
{
	struct vcpu *vcpu;
	struct waker w = { .stop = 0 };
	struct kvm_ioeventfd io = { .addr = 0x81, .len = 1,
				    .flags = KVM_IOEVENTFD_FLAG_PIO };
	struct kvm_irqfd irqfd = { .gsi = 5 };
	double us[BENCH_RUNS];
	uint64_t one = 1;
	pthread_t t;
	long n = n_exits / 2;

	vcpu = small_vm(hlt_guest, GUEST_SIZE(hlt_guest), true);
	w.halting = eventfd(0, EFD_CLOEXEC);
	w.irq = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(w.halting, 0);
	ASSERT_GE(w.irq, 0);
	io.fd = w.halting;
	irqfd.fd = w.irq;
	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_IOEVENTFD, &io));
	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_IRQFD, &irqfd));
	ASSERT_OK(pthread_create(&t, NULL, waker_thread, &w));

	RUN_OUT(vcpu, 1, 0x80);
	run_counted(vcpu, WARMUP / 5);
	for (int r = 0; r < BENCH_RUNS; r++)
		us[r] = run_counted(vcpu, n) * 1e6 / n;
	bench_report("hlt_wake", "us", us, BENCH_RUNS,
		     "HLT, then woken by an irqfd from another thread");

	w.stop = 1;
	ASSERT_EQ(write(w.halting, &one, sizeof(one)), sizeof(one));
	pthread_join(t, NULL);
	if (*(uint32_t *)vm_ptr(vcpu->vm, EARLY_ADDR))
		printf("# hlt_wake: %u interrupts came before their HLT (QEMU's lost STI shadow)\n",
		       *(uint32_t *)vm_ptr(vcpu->vm, EARLY_ADDR));
	bench_vm_free(vcpu);
	close(w.halting);
	close(w.irq);
}

/* ---------------------------------------------------------------- floor */

/* OUT to 0x10, then sit at a CPUID (KVM_NKVM_FLOOR re-enters it). */
GUEST_CODE(floor_guest,
	"out %al, $0x10\n"
	"1:\n"
	"cpuid\n"
	"jmp 1b\n"
);

#define FLOOR_PARAM "/sys/module/kvm/parameters/nkvm_floor"

static int set_floor_param(const char *val)
{
	int fd = open(FLOOR_PARAM, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

static void bench_floor(int kvm_fd)
{
	struct vcpu *vcpu;
	double us[BENCH_RUNS];
	struct nkvm_floor f;
	uint64_t interrupts = 0;

	if (!kvm_is_nkvm(kvm_fd)) {
		printf("# vmrun_floor: not nkvm: no floor path\n");
		return;
	}
	if (set_floor_param("1") ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM_FLOOR) != 1) {
		printf("# vmrun_floor: KVM_CAP_NKVM_FLOOR not offered\n");
		set_floor_param("0");
		return;
	}
	vcpu = small_vm(floor_guest, GUEST_SIZE(floor_guest), false);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);

	for (int r = -1; r < BENCH_RUNS; r++) {
		f = (struct nkvm_floor){ .iterations = r < 0 ? WARMUP : n_exits };
		ASSERT_OK(ioctl(vcpu->fd, KVM_NKVM_FLOOR, &f));
		if (f.done != f.iterations) {
			fprintf(stderr, "bench_exits: floor: stopped after %llu of %llu entries, exit code 0x%x\n",
				(unsigned long long)f.done,
				(unsigned long long)f.iterations, f.exit_code);
			exit(KSFT_FAIL);
		}
		if (r >= 0) {
			us[r] = f.ns / 1e3 / f.done;
			interrupts += f.interrupts;
		}
	}
	printf("# vmrun_floor: %llu of the exits were host interrupts\n",
	       (unsigned long long)interrupts);
	bench_report("vmrun_floor", "us", us, BENCH_RUNS,
		     "bare VMRUN/#VMEXIT, empty exit handler");
	set_floor_param("0");
	bench_vm_free(vcpu);
}

int main(int argc, char **argv)
{
	const char *only = argc > 2 ? argv[2] : NULL;
	int kvm_fd;

	if (argc > 1)
		n_exits = atol(argv[1]);
	if (n_exits < 10) {
		fprintf(stderr, "usage: %s [exits-per-run, >= 10]\n", argv[0]);
		return KSFT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm_fd = kvm_open();

	if (!only || !strcmp(only, "floor"))
		bench_floor(kvm_fd);
	if (!only || !strcmp(only, "cpuid"))
		bench_cpuid();
	if (!only || !strcmp(only, "mmio"))
		bench_mmio();
	if (!only || !strcmp(only, "mmio64"))
		bench_mmio64();
	if (!only || !strcmp(only, "hlt"))
		bench_hlt();
	close(kvm_fd);
	return KSFT_PASS;
}
