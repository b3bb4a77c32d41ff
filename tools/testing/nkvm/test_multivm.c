// SPDX-License-Identifier: GPL-2.0
/*
 * test_multivm.c - several VMs with several vCPUs each, all running
 * exit-heavy guests at once for a while, with memslots added, moved and
 * deleted, dirty logging switched on and off and the MMU page budget
 * changed under them; every guest checksums its own memory.
 *
 *	test_multivm [--seconds=N] [--vms=N] [--vcpus=N]
 *
 * Defaults: 30 s (make check; make stress gives 600), 3 VMs of 2 vCPUs.
 *
 * Each vCPU runs a 32-bit guest (flat protected mode, xAPIC at its default
 * base) in rounds.  A round: the round number r and a key k = r * golden;
 * every dword of the vCPU's own 32 KiB ("dense", in memslot 0) and one
 * dword in each 2 MiB of a 256 MiB memslot ("sparse": 128 last-level
 * tables, twice the MMU budget of 64 pages, so the MMU recycles on nkvm)
 * gets its address xor k; then OUT r to port 0x10, IN from port 0x11 (the
 * host answers r ^ 0x5a5a5a5a), an MMIO write of r and an MMIO read (the
 * host answers ~r) at an unbacked address, four CPUIDs handled in the
 * kernel, the next tick of a periodic 2 ms LAPIC timer waited for with
 * STI; HLT (the vCPU sleeps in the kernel, the handler counts the tick and
 * EOIs), then every dword
 * written is read back and compared, and the result is reported with an
 * OUT to port 0x12 (0: all well; bits: what went wrong).
 *
 * The host checks that the exits of every round come in exactly this
 * order with exactly these values (no exit lost, none invented), that the
 * guest reports no error, that the ticks are at least as many as rounds, and
 * reads back every dword the guest wrote from its own mapping.  Meanwhile
 * a thread per VM loops over: add a 2 MiB memslot, move it, delete it;
 * switch dirty logging on the sparse memslot on (and fetch the log) or
 * off; set the MMU budget to 64 or 96 pages.  A vCPU that completes no
 * round for 60 s is a hang.  The counts are printed at the end.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm.h"

#define MB		(1UL << 20)
#define SLOT0_SIZE	(4 * MB)
#define PARAM_ADDR	0x20000UL	/* + id * 0x1000: params, stack on top */
#define DENSE_ADDR	0x100000UL	/* + id * DENSE_SIZE */
#define DENSE_SIZE	0x8000UL
#define SPARSE_GPA	0x40000000UL	/* slot 1 */
#define SPARSE_SIZE	(256 * MB)
#define SPARSE_STRIDE	(2 * MB)
#define SPARSE_COUNT	(SPARSE_SIZE / SPARSE_STRIDE)
#define CHURN_GPA	0x80000000UL	/* slot 2, added and deleted */
#define CHURN_SIZE	(2 * MB)
#define MMIO_GPA	0xc0000000UL	/* + id * 0x1000: nothing there */
#define TIMER_VECTOR	0x40
#define MAX_VCPUS	16
#define MAX_VMS		16
#define HANG_SECONDS	60

#define PORT_ROUND	0x10
#define PORT_ECHO	0x11
#define PORT_REPORT	0x12
#define ECHO_XOR	0x5a5a5a5aU
#define KEY_MULT	0x9e3779b1U

/* The guest's parameter block (at PARAM_ADDR + id * 0x1000, in %ebp). */
struct params {
	uint32_t dense, dense_len, sparse, sparse_count, sparse_stride, mmio;
	uint32_t round, ticks, errors, cpuid0, id;
};

/* Bits of the guest's report (the guest code has them as numbers). */
#define ERR_ECHO	1
#define ERR_MMIO	2
#define ERR_CPUID	4
#define ERR_DENSE	16
#define ERR_SPARSE	32

GUEST_SYM(mv_handler);
GUEST_CODE32(mv_guest,
	"movl $0x1ff, 0xfee000f0\n"	/* SPIV: APIC on, spurious 0xff */
	"movl $0xb, 0xfee003e0\n"	/* TDCR: divide by 1 */
	"movl $0x20040, 0xfee00320\n"	/* LVTT: periodic, vector 0x40 */
	"movl $2000000, 0xfee00380\n"	/* TMICT: 2 ms */
	"xor %eax, %eax\n"
	"xor %ecx, %ecx\n"
	"cpuid\n"
	"mov %eax, 36(%ebp)\n"
	"20:\n"
	"incl 24(%ebp)\n"
	"xor %esi, %esi\n"
	"imul $0x9e3779b1, 24(%ebp), %ebx\n"
	/* Fill the dense and the sparse words with address ^ key. */
	"mov 0(%ebp), %edi\n"
	"mov 4(%ebp), %ecx\n"
	"shr $2, %ecx\n"
	"1: mov %edi, %eax\n"
	"xor %ebx, %eax\n"
	"mov %eax, (%edi)\n"
	"add $4, %edi\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"mov 8(%ebp), %edi\n"
	"mov 12(%ebp), %ecx\n"
	"2: mov %edi, %eax\n"
	"xor %ebx, %eax\n"
	"mov %eax, (%edi)\n"
	"add 16(%ebp), %edi\n"
	"dec %ecx\n"
	"jnz 2b\n"
	/* Port I/O both ways. */
	"mov 24(%ebp), %eax\n"
	"out %eax, $0x10\n"
	"in $0x11, %eax\n"
	"mov 24(%ebp), %edx\n"
	"xor $0x5a5a5a5a, %edx\n"
	"cmp %edx, %eax\n"
	"je 3f\n"
	"or $1, %esi\n"
	/* MMIO both ways. */
	"3: mov 20(%ebp), %edi\n"
	"mov 24(%ebp), %eax\n"
	"mov %eax, (%edi)\n"
	"mov 4(%edi), %eax\n"
	"mov 24(%ebp), %edx\n"
	"not %edx\n"
	"cmp %edx, %eax\n"
	"je 4f\n"
	"or $2, %esi\n"
	/* CPUID, in the kernel. */
	"4: mov $4, %edi\n"
	"5: xor %eax, %eax\n"
	"xor %ecx, %ecx\n"
	"cpuid\n"
	"cmp 36(%ebp), %eax\n"
	"je 6f\n"
	"or $4, %esi\n"
	"6: dec %edi\n"
	"jnz 5b\n"
	/* The next timer tick, slept for in HLT. */
	"mov 28(%ebp), %edx\n"
	"7: cli\n"
	"cmp 28(%ebp), %edx\n"
	"jne 8f\n"
	"sti\n"
	"hlt\n"
	"jmp 7b\n"
	/* Read everything back. */
	"8: imul $0x9e3779b1, 24(%ebp), %ebx\n"
	"mov 0(%ebp), %edi\n"
	"mov 4(%ebp), %ecx\n"
	"shr $2, %ecx\n"
	"10: mov %edi, %eax\n"
	"xor %ebx, %eax\n"
	"cmp %eax, (%edi)\n"
	"je 11f\n"
	"or $16, %esi\n"
	"11: add $4, %edi\n"
	"dec %ecx\n"
	"jnz 10b\n"
	"mov 8(%ebp), %edi\n"
	"mov 12(%ebp), %ecx\n"
	"12: mov %edi, %eax\n"
	"xor %ebx, %eax\n"
	"cmp %eax, (%edi)\n"
	"je 13f\n"
	"or $32, %esi\n"
	"13: add 16(%ebp), %edi\n"
	"dec %ecx\n"
	"jnz 12b\n"
	"mov %esi, 32(%ebp)\n"
	"mov %esi, %eax\n"
	"out %eax, $0x12\n"
	"jmp 20b\n"
	"mv_handler:\n"
	"incl 28(%ebp)\n"
	"movl $0, 0xfee000b0\n"		/* EOI */
	"iret\n"
);

struct mv_vcpu {
	struct vcpu *vcpu;
	struct mv_vm *vm;
	pthread_t thread;
	_Atomic uint32_t rounds;
	atomic_int step;		/* where in the round it is */
	atomic_bool abandon;		/* stop even in the middle of a round */
	bool joined;
	uint64_t io_exits, mmio_exits, eintr;
	int failed;
	char why[300];
};

struct mv_vm {
	struct vm *vm;
	uint32_t *sparse;		/* host mapping of slot 1 */
	void *churn_mem;
	int nvcpus;
	struct mv_vcpu vcpus[MAX_VCPUS];
	pthread_t churn;
	uint64_t slot_adds, slot_moves, slot_deletes, dirty_on, dirty_off,
		 dirty_logs, budget_sets;
	int churn_failed;
	char churn_why[200];
};

static int seconds = 30, nvms = 3, nvcpus = 2;
static atomic_bool stop;

static void on_signal(int sig)
{
	(void)sig;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct params *params_of(struct mv_vcpu *v)
{
	return vm_ptr(v->vm->vm, PARAM_ADDR + v->vcpu->id * 0x1000UL);
}

__attribute__((format(printf, 2, 3)))
static void vcpu_fail(struct mv_vcpu *v, const char *fmt, ...)
{
	struct kvm_run *run = v->vcpu->run;
	struct kvm_regs regs;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v->why))
		n = 0;
	if (!ioctl(v->vcpu->fd, KVM_GET_REGS, &regs))
		n += snprintf(v->why + n, sizeof(v->why) - n,
			      " (rip %#llx rflags %#llx edx %#llx, guest round %u",
			      (unsigned long long)regs.rip,
			      (unsigned long long)regs.rflags,
			      (unsigned long long)regs.rdx, params_of(v)->round);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR && (size_t)n < sizeof(v->why))
		n += snprintf(v->why + n, sizeof(v->why) - n, ", suberror %u",
			      run->internal.suberror);
	if ((size_t)n < sizeof(v->why))
		snprintf(v->why + n, sizeof(v->why) - n, ")");
	v->failed = 1;
}

/* The host's own look at what the guest wrote in round r. */
static bool memory_matches(struct mv_vcpu *v, uint32_t r)
{
	uint32_t key = r * KEY_MULT, id = v->vcpu->id, i, gpa;
	uint32_t *dense = vm_ptr(v->vm->vm, DENSE_ADDR + id * DENSE_SIZE);

	for (i = 0; i < DENSE_SIZE / 4; i++) {
		gpa = DENSE_ADDR + id * DENSE_SIZE + i * 4;
		if (dense[i] != (gpa ^ key)) {
			vcpu_fail(v, "round %u: dense word at %#x is %#x, not %#x",
				  r, gpa, dense[i], gpa ^ key);
			return false;
		}
	}
	for (i = 0; i < SPARSE_COUNT; i++) {
		uint32_t off = i * SPARSE_STRIDE + id * 0x1000;

		gpa = SPARSE_GPA + off;
		if (v->vm->sparse[off / 4] != (gpa ^ key)) {
			vcpu_fail(v, "round %u: sparse word at %#x is %#x, not %#x",
				  r, gpa, v->vm->sparse[off / 4], gpa ^ key);
			return false;
		}
	}
	return true;
}

/* The timer and interrupt state of a stuck vCPU, for the report. */
static const char *lapic_summary(struct mv_vcpu *v)
{
	static __thread char buf[160];
	struct kvm_lapic_state s;
	uint32_t r[8];
	int i, irr = -1, isr = -1;

	if (ioctl(v->vcpu->fd, KVM_GET_LAPIC, &s))
		return "no KVM_GET_LAPIC";
	for (i = 0; i < 8; i++) {
		memcpy(&r[i], s.regs + 0x100 + i * 0x10, 4);
		if (r[i] && isr < 0)
			isr = i * 32 + __builtin_ctz(r[i]);
		memcpy(&r[i], s.regs + 0x200 + i * 0x10, 4);
		if (r[i] && irr < 0)
			irr = i * 32 + __builtin_ctz(r[i]);
	}
	memcpy(&r[0], s.regs + 0x320, 4);
	memcpy(&r[1], s.regs + 0x380, 4);
	memcpy(&r[2], s.regs + 0x390, 4);
	memcpy(&r[3], s.regs + 0xf0, 4);
	snprintf(buf, sizeof(buf), "LVTT %#x TMICT %u TMCCT %u SPIV %#x, lowest ISR %d IRR %d",
		 r[0], r[1], r[2], r[3], isr, irr);
	return buf;
}

/*
 * One round's exits, in order: OUT r to PORT_ROUND, IN from PORT_ECHO,
 * MMIO write of r, MMIO read, OUT of the report to PORT_REPORT.
 */
static void *vcpu_thread(void *arg)
{
	struct mv_vcpu *v = arg;
	struct kvm_run *run = v->vcpu->run;
	uint32_t mmio = MMIO_GPA + v->vcpu->id * 0x1000, r = 1, val;
	struct params *p = params_of(v);
	int step = 0;

	while (!v->failed) {
		uint8_t *io;

		if (ioctl(v->vcpu->fd, KVM_RUN, 0)) {
			if (errno == EINTR) {
				v->eintr++;
				if (atomic_load(&stop) &&
				    (step == 0 || atomic_load(&v->abandon)))
					break;
				continue;
			}
			vcpu_fail(v, "KVM_RUN: %s (round %u, step %d)",
				  strerror(errno), r, step);
			break;
		}
		io = (uint8_t *)run + run->io.data_offset;
		switch (step) {
		case 0:
		case 1:
		case 4: {
			int port = step == 0 ? PORT_ROUND : step == 1 ? PORT_ECHO : PORT_REPORT;
			int dir = step == 1 ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;

			if (run->exit_reason != KVM_EXIT_IO || run->io.port != port ||
			    run->io.direction != dir || run->io.size != 4 ||
			    run->io.count != 1) {
				vcpu_fail(v, "round %u step %d: exit %s port %#x dir %d size %d, not the I/O expected",
					  r, step, exit_name(run->exit_reason),
					  run->io.port, run->io.direction, run->io.size);
				break;
			}
			v->io_exits++;
			if (step == 1) {
				val = r ^ ECHO_XOR;
				memcpy(io, &val, 4);
				break;
			}
			memcpy(&val, io, 4);
			if (step == 0 && val != r)
				vcpu_fail(v, "round %u: the guest says round %u", r, val);
			if (step == 4) {
				if (val)
					vcpu_fail(v, "round %u: the guest reports%s%s%s%s%s", r,
						  val & ERR_ECHO ? " a wrong IN" : "",
						  val & ERR_MMIO ? " a wrong MMIO read" : "",
						  val & ERR_CPUID ? " a changed CPUID" : "",
						  val & ERR_DENSE ? " dense memory corrupted" : "",
						  val & ERR_SPARSE ? " sparse memory corrupted" : "");
				else if (p->ticks < r)
					vcpu_fail(v, "round %u: %u timer ticks", r, p->ticks);
				else if (memory_matches(v, r))
					atomic_store(&v->rounds, r);
				r++;
			}
			break;
		}
		case 2:
		case 3:
			if (run->exit_reason != KVM_EXIT_MMIO ||
			    run->mmio.phys_addr != mmio + (step == 3 ? 4 : 0) ||
			    run->mmio.len != 4 || run->mmio.is_write != (step == 2)) {
				vcpu_fail(v, "round %u step %d: exit %s at %#llx len %u write %d, not the MMIO expected",
					  r, step, exit_name(run->exit_reason),
					  (unsigned long long)run->mmio.phys_addr,
					  run->mmio.len, run->mmio.is_write);
				break;
			}
			v->mmio_exits++;
			if (step == 2) {
				memcpy(&val, run->mmio.data, 4);
				if (val != r)
					vcpu_fail(v, "round %u: MMIO write of %u", r, val);
			} else {
				val = ~r;
				memcpy(run->mmio.data, &val, 4);
			}
			break;
		}
		step = (step + 1) % 5;
		atomic_store(&v->step, step);
		if (step == 0 && atomic_load(&stop))
			break;
	}
	if (atomic_load(&v->abandon)) {
		struct kvm_mp_state mp = { 0 };

		ioctl(v->vcpu->fd, KVM_GET_MP_STATE, &mp);
		vcpu_fail(v, "stuck in round %u, step %d: ticks %u, mp_state %u, %s", r,
			  step, p->ticks, mp.mp_state, lapic_summary(v));
	}
	return NULL;
}

__attribute__((format(printf, 2, 3)))
static void churn_fail(struct mv_vm *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->churn_why, sizeof(m->churn_why), fmt, ap);
	va_end(ap);
	m->churn_failed = 1;
}

/* Memslot changes, dirty logging and the MMU budget, round and round. */
static void *churn_thread(void *arg)
{
	struct mv_vm *m = arg;
	struct vm *vm = m->vm;
	unsigned long bitmap[SPARSE_SIZE / 4096 / 64];
	uint64_t hva = (uintptr_t)m->churn_mem;
	bool logging = false;
	unsigned int i;

	for (i = 0; !atomic_load(&stop) && !m->churn_failed; i++) {
		struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = bitmap };

		switch (i % 6) {
		case 0:
			if (vm_set_region(vm, 2, 0, CHURN_GPA, CHURN_SIZE, hva))
				churn_fail(m, "adding slot 2: %s", strerror(errno));
			m->slot_adds++;
			break;
		case 1:
			if (vm_set_region(vm, 2, 0, CHURN_GPA + 4 * MB, CHURN_SIZE, hva))
				churn_fail(m, "moving slot 2: %s", strerror(errno));
			m->slot_moves++;
			break;
		case 2:
			if (vm_set_region(vm, 2, 0, CHURN_GPA + 4 * MB, 0, hva))
				churn_fail(m, "deleting slot 2: %s", strerror(errno));
			m->slot_deletes++;
			break;
		case 3:
			logging = !logging;
			if (vm_set_region(vm, 1, logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
					  SPARSE_GPA, SPARSE_SIZE, (uintptr_t)m->sparse))
				churn_fail(m, "dirty logging %s: %s", logging ? "on" : "off",
					   strerror(errno));
			if (logging)
				m->dirty_on++;
			else
				m->dirty_off++;
			break;
		case 4:
			if (logging) {
				if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log))
					churn_fail(m, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
				m->dirty_logs++;
			}
			break;
		case 5:
			if (ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, i % 12 == 5 ? 96 : 64))
				churn_fail(m, "KVM_SET_NR_MMU_PAGES: %s", strerror(errno));
			m->budget_sets++;
			break;
		}
		usleep(2000);
	}
	return NULL;
}

static void set_runnable(struct vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), 0);
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

static void setup_vm(struct mv_vm *m)
{
	struct vm *vm = vm_create(SLOT0_SIZE);
	int i;

	m->vm = vm;
	m->nvcpus = nvcpus;
	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
	m->sparse = map_anon(SPARSE_SIZE);
	/* 4 KiB host pages: one table per 2 MiB for the host, too. */
	ASSERT_OK(madvise(m->sparse, SPARSE_SIZE, MADV_NOHUGEPAGE));
	ASSERT_OK(vm_set_region(vm, 1, 0, SPARSE_GPA, SPARSE_SIZE,
				(uintptr_t)m->sparse));
	m->churn_mem = map_anon(CHURN_SIZE);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_NR_MMU_PAGES, 64));
	vm_build_tables(vm);
	vm_load_guest(vm, mv_guest);
	vm_set_idt_gate(vm, MODE_PM32, TIMER_VECTOR, GUEST_LABEL(mv_guest, mv_handler));
	for (i = 0; i < nvcpus; i++) {
		struct mv_vcpu *v = &m->vcpus[i];
		struct kvm_regs regs;
		struct params *p;

		v->vm = m;
		v->vcpu = vcpu_create(vm, i);
		/* Linux keeps LVTT's periodic bit only once CPUID is set. */
		vcpu_try_supported_cpuid(v->vcpu);
		p = params_of(v);
		*p = (struct params) {
			.dense = DENSE_ADDR + i * DENSE_SIZE, .dense_len = DENSE_SIZE,
			.sparse = SPARSE_GPA + i * 0x1000, .sparse_count = SPARSE_COUNT,
			.sparse_stride = SPARSE_STRIDE, .mmio = MMIO_GPA + i * 0x1000,
			.id = i,
		};
		vcpu_set_mode(v->vcpu, MODE_PM32, CODE_ADDR);
		vcpu_get_regs(v->vcpu, &regs);
		regs.rbp = PARAM_ADDR + i * 0x1000UL;
		regs.rsp = regs.rbp + 0x1000;
		vcpu_set_regs(v->vcpu, &regs);
		set_runnable(v->vcpu);
	}
}

TEST(vms_with_exit_heavy_guests_and_memslot_churn)
{
	struct mv_vm *vms = calloc(nvms, sizeof(*vms));
	uint64_t rounds = 0, io = 0, mmio = 0, eintr = 0, slots = 0, dirty = 0,
		 budget = 0;
	uint32_t last[MAX_VMS][MAX_VCPUS] = { { 0 } };
	double t0, t1, told, seen[MAX_VMS][MAX_VCPUS];
	struct sigaction sa = { .sa_handler = on_signal };
	int i, j, problems = 0;
	bool early = false;		/* a failure or a hang: stop now */

	ASSERT_TRUE(vms != NULL);
	close(kvm_open());
	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	for (i = 0; i < nvms; i++)
		setup_vm(&vms[i]);
	TH_LOG("%d VMs of %d vCPUs for %d s", nvms, nvcpus, seconds);

	t0 = now();
	for (i = 0; i < nvms; i++) {
		for (j = 0; j < nvcpus; j++) {
			ASSERT_EQ(pthread_create(&vms[i].vcpus[j].thread, NULL,
						 vcpu_thread, &vms[i].vcpus[j]), 0);
			seen[i][j] = t0;
		}
		ASSERT_EQ(pthread_create(&vms[i].churn, NULL, churn_thread, &vms[i]), 0);
	}

	/* Watch: progress of every vCPU, failures, the clock. */
	told = t0;
	while (now() - t0 < seconds && !early) {
		sleep(1);
		if (now() - told >= 30) {
			char line[400];
			int n = 0;

			told = now();
			for (i = 0; i < nvms; i++)
				for (j = 0; j < nvcpus && n < 350; j++)
					n += snprintf(line + n, sizeof(line) - n, " %u",
						      atomic_load(&vms[i].vcpus[j].rounds));
			TH_LOG("%.0f s: rounds per vCPU:%s", told - t0, line);
		}
		for (i = 0; i < nvms; i++) {
			for (j = 0; j < nvcpus; j++) {
				struct mv_vcpu *v = &vms[i].vcpus[j];
				uint32_t r = atomic_load(&v->rounds);

				if (v->failed)
					early = true;
				if (r != last[i][j]) {
					last[i][j] = r;
					seen[i][j] = now();
				} else if (now() - seen[i][j] > HANG_SECONDS) {
					TH_LOG("VM %d vCPU %d: no round for %d s, stuck after round %u",
					       i, j, HANG_SECONDS, r);
					problems++;
					early = true;
				}
			}
			if (vms[i].churn_failed)
				early = true;
		}
	}

	/*
	 * Stop: the threads end at the end of a round; signals kick KVM_RUN.
	 * A vCPU that cannot finish its round in HANG_SECONDS is told to stop
	 * where it is (and counted as a hang); one that does not even come
	 * back from KVM_RUN then ends the test.
	 */
	atomic_store(&stop, true);
	t1 = now();
	for (;;) {
		int running = 0;

		for (i = 0; i < nvms; i++) {
			for (j = 0; j < nvcpus; j++) {
				struct mv_vcpu *v = &vms[i].vcpus[j];

				if (v->joined)
					continue;
				if (!pthread_tryjoin_np(v->thread, NULL)) {
					v->joined = true;
					continue;
				}
				running++;
				pthread_kill(v->thread, SIGUSR1);
				if (now() - t1 > HANG_SECONDS && !atomic_load(&v->abandon)) {
					TH_LOG("VM %d vCPU %d: round %u not finished %d s after the stop (step %d)",
					       i, j, atomic_load(&v->rounds) + 1, HANG_SECONDS,
					       atomic_load(&v->step));
					atomic_store(&v->abandon, true);
					problems++;
				}
			}
		}
		if (!running)
			break;
		if (now() - t1 > 2 * HANG_SECONDS) {
			TH_LOG("%d vCPUs do not come back from KVM_RUN", running);
			ASSERT_TRUE(0);
		}
		usleep(100 * 1000);
	}
	for (i = 0; i < nvms; i++)
		pthread_join(vms[i].churn, NULL);

	for (i = 0; i < nvms; i++) {
		struct mv_vm *m = &vms[i];

		for (j = 0; j < nvcpus; j++) {
			struct mv_vcpu *v = &m->vcpus[j];

			if (v->failed) {
				TH_LOG("VM %d vCPU %d: %s", i, j, v->why);
				problems++;
			}
			TH_LOG("VM %d vCPU %d: %u rounds, %llu I/O exits, %llu MMIO exits, %llu EINTR",
			       i, j, atomic_load(&v->rounds),
			       (unsigned long long)v->io_exits,
			       (unsigned long long)v->mmio_exits,
			       (unsigned long long)v->eintr);
			rounds += atomic_load(&v->rounds);
			io += v->io_exits;
			mmio += v->mmio_exits;
			eintr += v->eintr;
			EXPECT_GT(atomic_load(&v->rounds), 0);
		}
		if (m->churn_failed) {
			TH_LOG("VM %d: %s", i, m->churn_why);
			problems++;
		}
		slots += m->slot_adds + m->slot_moves + m->slot_deletes;
		dirty += m->dirty_on + m->dirty_off + m->dirty_logs;
		budget += m->budget_sets;
	}
	TH_LOG("totals after %.1f s: %llu rounds, %llu I/O exits, %llu MMIO exits, "
	       "%llu CPUID and %llu HLT/timer in the kernel, %llu EINTR; "
	       "%llu memslot changes, %llu dirty-log calls, %llu MMU budget changes",
	       now() - t0, (unsigned long long)rounds, (unsigned long long)io,
	       (unsigned long long)mmio, (unsigned long long)rounds * 4,
	       (unsigned long long)rounds, (unsigned long long)eintr,
	       (unsigned long long)slots, (unsigned long long)dirty,
	       (unsigned long long)budget);
	ASSERT_EQ(problems, 0);

	for (i = 0; i < nvms; i++) {
		for (j = 0; j < nvcpus; j++)
			vcpu_free(vms[i].vcpus[j].vcpu);
		vm_free(vms[i].vm);
		munmap(vms[i].sparse, SPARSE_SIZE);
		munmap(vms[i].churn_mem, CHURN_SIZE);
	}
	free(vms);
}

int main(int argc, char **argv)
{
	char t[32];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seconds=", 10))
			seconds = atoi(argv[i] + 10);
		else if (!strncmp(argv[i], "--vms=", 6))
			nvms = atoi(argv[i] + 6);
		else if (!strncmp(argv[i], "--vcpus=", 8))
			nvcpus = atoi(argv[i] + 8);
	}
	if (seconds < 1)
		seconds = 1;
	nvms = nvms < 1 ? 1 : nvms > MAX_VMS ? MAX_VMS : nvms;
	nvcpus = nvcpus < 1 ? 1 : nvcpus > MAX_VCPUS ? MAX_VCPUS : nvcpus;
	if (!getenv("TH_TIMEOUT")) {
		snprintf(t, sizeof(t), "%d", seconds + HANG_SECONDS + 60);
		setenv("TH_TIMEOUT", t, 1);
	}
	return th_main(argc, argv);
}
