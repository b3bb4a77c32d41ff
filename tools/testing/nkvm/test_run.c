// SPDX-License-Identifier: GPL-2.0
/*
 * test_run.c - KVM_RUN control: kvm_run.immediate_exit, signals
 * interrupting KVM_RUN, KVM_GET/SET_REGS and KVM_GET/SET_SREGS round trips
 * and their effect on the guest, vCPUs run from several threads.
 *
 * Linux behaviour worth knowing (asserted below):
 *  - immediate_exit = 1: KVM_RUN returns -1/EINTR without entering the
 *    guest and leaves run->exit_reason as it was (it does NOT write
 *    KVM_EXIT_INTR; KVM's own selftests rely on the old value staying).
 *  - immediate_exit = 1 with an IN pending: the IN is completed first
 *    (data into AL, RIP past the IN), then -1/EINTR.
 *  - a signal arriving while the guest runs: KVM_RUN returns -1/EINTR
 *    and exit_reason is KVM_EXIT_INTR; the next KVM_RUN resumes the guest.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm.h"

#define FLAG_ADDR	0x500	/* a byte the guest polls or writes */

/* ------------------------------------------------------------------ */
/* immediate_exit                                                      */

GUEST_CODE(mark_guest,
	"movb $1, (0x500)\n"		/* 1000: c6 06 00 05 01	*/
	"hlt\n"				/* 1005: f4		*/
	"movb $2, (0x500)\n"		/* 1006: c6 06 00 05 02	*/
	"hlt\n"				/* 100b: f4		*/
);

#define SENTINEL_EXIT 0xabcd

TEST(immediate_exit_before_first_run)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mark_guest);
	uint8_t *flag = vm_ptr(vcpu->vm, FLAG_ADDR);

	vcpu->run->immediate_exit = 1;
	vcpu->run->exit_reason = SENTINEL_EXIT;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	/* Linux leaves exit_reason alone (see the top of the file). */
	ASSERT_EQ(vcpu->run->exit_reason, SENTINEL_EXIT);
	/* The guest did not run. */
	ASSERT_EQ(vcpu_rip(vcpu), 0x1000);
	ASSERT_EQ(*flag, 0);

	/* Again: still nothing. */
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1000);
	ASSERT_EQ(*flag, 0);

	/* Cleared: the guest runs. */
	vcpu->run->immediate_exit = 0;
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(*flag, 1);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1006);
}

TEST(immediate_exit_after_an_exit)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mark_guest);
	uint8_t *flag = vm_ptr(vcpu->vm, FLAG_ADDR);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	/* Still the previous exit's reason. */
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1006);
	ASSERT_EQ(*flag, 1);

	vcpu->run->immediate_exit = 0;
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(*flag, 2);
}

GUEST_CODE(in_guest,
	"mov $0x11223344, %eax\n"	/* 1000: 66 b8 44 33 22 11	*/
	"in $0x20, %al\n"		/* 1006: e4 20			*/
	"out %al, $0x21\n"		/* 1008: e6 21			*/
	"hlt\n"				/* 100a: f4			*/
);

TEST(immediate_exit_completes_pending_in)
{
	struct vcpu *vcpu = VM_WITH_GUEST(in_guest);
	struct kvm_regs regs;
	uint8_t *data;

	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, 1, 0x20);
	*data = 0xab;
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	/*
	 * Linux completed the IN before honouring immediate_exit: AL has
	 * the data and RIP is past the IN, but the OUT has not run.
	 */
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rax, 0x112233ab);
	ASSERT_EQ(regs.rip, 0x1008);
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_IO);

	/* A second immediate exit changes nothing. */
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1008);

	vcpu->run->immediate_exit = 0;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x21), 0xab);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */

/* Spin until the host sets the byte at 0x500, then report and halt. */
GUEST_CODE(spin_guest,
	"1:\n"
	"cmpb $0, (0x500)\n"		/* 1000: 80 3e 00 05 00	*/
	"je 1b\n"			/* 1005: 74 f9		*/
	"mov $0x77, %al\n"		/* 1007: b0 77		*/
	"out %al, $0x10\n"		/* 1009: e6 10		*/
	"hlt\n"				/* 100b: f4		*/
);

static atomic_int signals_seen;

static void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

static void install_handler(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(sig, &sa, NULL));
}

/*
 * After KVM_RUN returned EINTR: check the exit, let the guest leave its
 * loop, resume it.
 */
static void check_interrupted_then_resume(struct vcpu *vcpu, int r, int err)
{
	uint64_t rip;

	ASSERT_EQ(r, -1);
	ASSERT_EQ(err, EINTR);
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
	ASSERT_GE(atomic_load(&signals_seen), 1);
	/* The guest was stopped inside its loop. */
	rip = vcpu_rip(vcpu);
	ASSERT_TRUE(rip == 0x1000 || rip == 0x1005);

	*(volatile uint8_t *)vm_ptr(vcpu->vm, FLAG_ADDR) = 1;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x77);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

struct kicker {
	pthread_t target;
	atomic_int stop;
	int sig;
};

/*
 * Send the signal every 20 ms until told to stop (a signal that lands
 * before the target enters KVM_RUN is simply handled; the next one will
 * interrupt KVM_RUN).  Gives up after 10 s.
 */
static void *kicker_fn(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (int i = 0; i < 500 && !atomic_load(&k->stop); i++) {
		nanosleep(&ts, NULL);
		if (!atomic_load(&k->stop))
			pthread_kill(k->target, k->sig);
	}
	return NULL;
}

TEST(signal_from_thread_interrupts_run)
{
	struct vcpu *vcpu = VM_WITH_GUEST(spin_guest);
	struct kicker k = { .target = pthread_self(), .sig = SIGUSR1 };
	pthread_t t;
	int r, err;

	install_handler(SIGUSR1);
	ASSERT_EQ(pthread_create(&t, NULL, kicker_fn, &k), 0);
	r = vcpu_run_raw(vcpu);
	err = errno;
	atomic_store(&k.stop, 1);
	pthread_join(t, NULL);
	check_interrupted_then_resume(vcpu, r, err);
}

TEST(sigalrm_interrupts_run)
{
	struct vcpu *vcpu = VM_WITH_GUEST(spin_guest);
	int r, err;

	vm_alarm_every(30 * 1000, count_signal);
	r = vcpu_run_raw(vcpu);
	err = errno;
	vm_alarm_off();
	check_interrupted_then_resume(vcpu, r, err);
}

TEST(many_signal_interruptions)
{
	struct vcpu *vcpu = VM_WITH_GUEST(spin_guest);
	int interrupted = 0;

	/* 20 interruptions of the spinning guest, resumed each time. */
	vm_alarm_every(2 * 1000, count_signal);
	while (interrupted < 20) {
		int r = vcpu_run_raw(vcpu);

		ASSERT_EQ(r, -1);
		ASSERT_EQ(errno, EINTR);
		ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
		interrupted++;
	}
	vm_alarm_off();
	*(volatile uint8_t *)vm_ptr(vcpu->vm, FLAG_ADDR) = 1;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x77);
}

/* ------------------------------------------------------------------ */
/* KVM_GET/SET_REGS                                                    */

static void fill_regs(struct kvm_regs *r)
{
	r->rax = 0x0123456789abcdefULL;
	r->rbx = 0x1111111122222222ULL;
	r->rcx = 0x3333333344444444ULL;
	r->rdx = 0x5555555566666666ULL;
	r->rsi = 0x7777777788888888ULL;
	r->rdi = 0x99999999aaaaaaaaULL;
	r->rbp = 0xbbbbbbbbccccccccULL;
	r->rsp = 0xddddddddeeeeeeeeULL;
	r->r8 = 0x0808080808080808ULL;
	r->r9 = 0x0909090909090909ULL;
	r->r10 = 0x1010101010101010ULL;
	r->r11 = 0x1111111111111111ULL;
	r->r12 = 0x1212121212121212ULL;
	r->r13 = 0x1313131313131313ULL;
	r->r14 = 0x1414141414141414ULL;
	r->r15 = 0x1515151515151515ULL;
	r->rip = 0x2000;
	/* CF PF AF ZF SF DF OF, and the always-one bit 1. */
	r->rflags = 0x0cd7;
}

static void assert_regs_eq(const struct kvm_regs *a, const struct kvm_regs *b)
{
	ASSERT_EQ(a->rax, b->rax);
	ASSERT_EQ(a->rbx, b->rbx);
	ASSERT_EQ(a->rcx, b->rcx);
	ASSERT_EQ(a->rdx, b->rdx);
	ASSERT_EQ(a->rsi, b->rsi);
	ASSERT_EQ(a->rdi, b->rdi);
	ASSERT_EQ(a->rbp, b->rbp);
	ASSERT_EQ(a->rsp, b->rsp);
	ASSERT_EQ(a->r8, b->r8);
	ASSERT_EQ(a->r9, b->r9);
	ASSERT_EQ(a->r10, b->r10);
	ASSERT_EQ(a->r11, b->r11);
	ASSERT_EQ(a->r12, b->r12);
	ASSERT_EQ(a->r13, b->r13);
	ASSERT_EQ(a->r14, b->r14);
	ASSERT_EQ(a->r15, b->r15);
	ASSERT_EQ(a->rip, b->rip);
	ASSERT_EQ(a->rflags, b->rflags);
}

TEST(regs_round_trip)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mark_guest);
	struct kvm_regs set, got;

	memset(&set, 0, sizeof(set));
	fill_regs(&set);
	vcpu_set_regs(vcpu, &set);
	memset(&got, 0xff, sizeof(got));
	vcpu_get_regs(vcpu, &got);
	assert_regs_eq(&got, &set);

	/* A second, different set replaces all of them. */
	memset(&set, 0, sizeof(set));
	set.rip = 0x1000;
	set.rflags = 0x2;
	vcpu_set_regs(vcpu, &set);
	vcpu_get_regs(vcpu, &got);
	assert_regs_eq(&got, &set);
}

/* Report every 32-bit GPR and FLAGS through OUTs, then halt. */
GUEST_CODE(report_regs_guest,
	"out %eax, $0x10\n"		/* 2000 */
	"mov %ebx, %eax\n"
	"out %eax, $0x11\n"
	"mov %ecx, %eax\n"
	"out %eax, $0x12\n"
	"mov %edx, %eax\n"
	"out %eax, $0x13\n"
	"mov %esi, %eax\n"
	"out %eax, $0x14\n"
	"mov %edi, %eax\n"
	"out %eax, $0x15\n"
	"mov %ebp, %eax\n"
	"out %eax, $0x16\n"
	"mov %esp, %eax\n"
	"out %eax, $0x17\n"
	"pushf\n"
	"pop %ax\n"
	"out %ax, $0x18\n"
	"hlt\n"
);

TEST(regs_seen_by_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(report_regs_guest);
	struct kvm_regs set, got;

	vm_write(vcpu->vm, 0x2000, report_regs_guest,
		 GUEST_SIZE(report_regs_guest));
	memset(&set, 0, sizeof(set));
	fill_regs(&set);
	set.rsp = 0x7000;	/* a usable real-mode stack for pushf */
	vcpu_set_regs(vcpu, &set);

	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), (uint32_t)set.rax);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x11), (uint32_t)set.rbx);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x12), (uint32_t)set.rcx);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x13), (uint32_t)set.rdx);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x14), (uint32_t)set.rsi);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x15), (uint32_t)set.rdi);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x16), (uint32_t)set.rbp);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x17), 0x7000);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x18), 0x0cd7);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/*
	 * R8-R15 are out of reach of a real-mode guest: KVM_RUN keeps them.
	 */
	vcpu_get_regs(vcpu, &got);
	ASSERT_EQ(got.r8, set.r8);
	ASSERT_EQ(got.r9, set.r9);
	ASSERT_EQ(got.r10, set.r10);
	ASSERT_EQ(got.r11, set.r11);
	ASSERT_EQ(got.r12, set.r12);
	ASSERT_EQ(got.r13, set.r13);
	ASSERT_EQ(got.r14, set.r14);
	ASSERT_EQ(got.r15, set.r15);
	ASSERT_EQ((uint32_t)got.rbx, (uint32_t)set.rbx);
	ASSERT_EQ(got.rip, 0x2000 + GUEST_SIZE(report_regs_guest));
}

/* ------------------------------------------------------------------ */
/* KVM_GET/SET_SREGS                                                   */

static void assert_seg_eq(const struct kvm_segment *a,
			  const struct kvm_segment *b)
{
	ASSERT_EQ(a->base, b->base);
	ASSERT_EQ(a->limit, b->limit);
	ASSERT_EQ(a->selector, b->selector);
	ASSERT_EQ(a->type, b->type);
	ASSERT_EQ(a->present, b->present);
	ASSERT_EQ(a->dpl, b->dpl);
	ASSERT_EQ(a->db, b->db);
	ASSERT_EQ(a->s, b->s);
	ASSERT_EQ(a->l, b->l);
	ASSERT_EQ(a->g, b->g);
}

static void set_rm_seg(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
}

TEST(sregs_reset_state_is_real_mode)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_sregs s;
	struct kvm_regs r;

	/* The architectural reset state: CS f000:fff0, base ffff0000. */
	vcpu_get_sregs(vcpu, &s);
	vcpu_get_regs(vcpu, &r);
	ASSERT_EQ(s.cr0 & 1, 0);		/* PE clear */
	ASSERT_EQ(s.cr0 & 0x80000000ULL, 0);	/* PG clear */
	ASSERT_EQ(s.cs.selector, 0xf000);
	ASSERT_EQ(s.cs.base, 0xffff0000ULL);
	ASSERT_EQ(s.cs.limit, 0xffff);
	ASSERT_EQ(s.ds.base, 0);
	ASSERT_EQ(s.ds.limit, 0xffff);
	ASSERT_EQ(s.efer, 0);
	ASSERT_EQ(r.rip, 0xfff0);
	ASSERT_EQ(r.rflags, 0x2);
}

TEST(sregs_round_trip)
{
	struct vcpu *vcpu = VM_WITH_GUEST(mark_guest);
	struct kvm_sregs set, got;

	vcpu_get_sregs(vcpu, &set);
	set_rm_seg(&set.ds, 0x1234);
	set_rm_seg(&set.es, 0x2345);
	set_rm_seg(&set.fs, 0x3456);
	set_rm_seg(&set.gs, 0x4567);
	set_rm_seg(&set.ss, 0x0700);
	set.gdt.base = 0x9000;
	set.gdt.limit = 0x7f;
	set.idt.base = 0xa000;
	set.idt.limit = 0x3ff;
	set.cr2 = 0xdeadb000;
	set.cr3 = 0x5000;
	vcpu_set_sregs(vcpu, &set);

	memset(&got, 0xff, sizeof(got));
	vcpu_get_sregs(vcpu, &got);
	assert_seg_eq(&got.cs, &set.cs);
	assert_seg_eq(&got.ds, &set.ds);
	assert_seg_eq(&got.es, &set.es);
	assert_seg_eq(&got.fs, &set.fs);
	assert_seg_eq(&got.gs, &set.gs);
	assert_seg_eq(&got.ss, &set.ss);
	ASSERT_EQ(got.gdt.base, set.gdt.base);
	ASSERT_EQ(got.gdt.limit, set.gdt.limit);
	ASSERT_EQ(got.idt.base, set.idt.base);
	ASSERT_EQ(got.idt.limit, set.idt.limit);
	ASSERT_EQ(got.cr0, set.cr0);
	ASSERT_EQ(got.cr2, set.cr2);
	ASSERT_EQ(got.cr3, set.cr3);
	ASSERT_EQ(got.cr4, set.cr4);
	ASSERT_EQ(got.efer, set.efer);
}

/*
 * Report the segment selectors, a byte read through DS, CR2 and CR3, and
 * store the IDTR and GDTR (through CS, whose base is 0) at 0x600/0x610.
 */
GUEST_CODE(report_sregs_guest,
	"mov %ds, %ax\n"
	"out %ax, $0x10\n"
	"mov %es, %ax\n"
	"out %ax, $0x11\n"
	"mov %fs, %ax\n"
	"out %ax, $0x12\n"
	"mov %gs, %ax\n"
	"out %ax, $0x13\n"
	"mov %ss, %ax\n"
	"out %ax, $0x14\n"
	"mov (0x10), %al\n"		/* DS:0x10 */
	"out %al, $0x15\n"
	"mov %fs:(0x20), %al\n"		/* FS:0x20 */
	"out %al, $0x16\n"
	"mov %cr2, %eax\n"
	"out %eax, $0x17\n"
	"mov %cr3, %eax\n"
	"out %eax, $0x18\n"
	"sidt %cs:(0x600)\n"
	"sgdt %cs:(0x610)\n"
	"hlt\n"
);

TEST(sregs_seen_by_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(report_sregs_guest);
	struct kvm_sregs s;
	uint8_t *idtr = vm_ptr(vcpu->vm, 0x600);
	uint8_t *gdtr = vm_ptr(vcpu->vm, 0x610);

	vcpu_get_sregs(vcpu, &s);
	set_rm_seg(&s.ds, 0x2000);
	set_rm_seg(&s.es, 0x3000);
	set_rm_seg(&s.fs, 0x4000);
	set_rm_seg(&s.gs, 0x5000);
	set_rm_seg(&s.ss, 0x0000);
	s.idt.base = 0x12340;
	s.idt.limit = 0x3ff;
	s.gdt.base = 0x23450;
	s.gdt.limit = 0x2f;
	s.cr2 = 0xfeed1000;
	s.cr3 = 0x7000;
	vcpu_set_sregs(vcpu, &s);
	*(uint8_t *)vm_ptr(vcpu->vm, 0x20010) = 0xd5;
	*(uint8_t *)vm_ptr(vcpu->vm, 0x40020) = 0xf5;

	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x2000);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0x3000);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x4000);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x13), 0x5000);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x14), 0x0000);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x15), 0xd5);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x16), 0xf5);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x17), 0xfeed1000);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x18), 0x7000);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	/* 16-bit SIDT/SGDT: 2-byte limit, then a 24-bit base (+1 byte). */
	ASSERT_EQ(idtr[0] | idtr[1] << 8, 0x3ff);
	ASSERT_EQ(idtr[2] | idtr[3] << 8 | idtr[4] << 16, 0x12340);
	ASSERT_EQ(gdtr[0] | gdtr[1] << 8, 0x2f);
	ASSERT_EQ(gdtr[2] | gdtr[3] << 8 | gdtr[4] << 16, 0x23450);
}

/* Changes the guest makes are seen by KVM_GET_SREGS. */
GUEST_CODE(load_sregs_guest,
	"mov $0x1100, %ax\n"
	"mov %ax, %ds\n"
	"mov $0x2200, %ax\n"
	"mov %ax, %es\n"
	"lidt %cs:(0x600)\n"
	"hlt\n"
);

TEST(guest_changes_seen_by_get_sregs)
{
	struct vcpu *vcpu = VM_WITH_GUEST(load_sregs_guest);
	uint8_t desc[6] = { 0xff, 0x01, 0x00, 0x30, 0x01, 0x00 };
	struct kvm_sregs s;

	vm_write(vcpu->vm, 0x600, desc, sizeof(desc));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(s.ds.selector, 0x1100);
	ASSERT_EQ(s.ds.base, 0x11000);
	ASSERT_EQ(s.es.selector, 0x2200);
	ASSERT_EQ(s.es.base, 0x22000);
	ASSERT_EQ(s.idt.limit, 0x1ff);
	ASSERT_EQ(s.idt.base, 0x13000);
}

/* ------------------------------------------------------------------ */
/* Several vCPUs, each run by its own thread, at the same time.        */

/* BX counts; each iteration reports BX on port 0x10 + vCPU id (in SI). */
GUEST_CODE(count_guest,
	"xor %bx, %bx\n"
	"1:\n"
	"inc %bx\n"
	"mov %si, %dx\n"
	"mov %bx, %ax\n"
	"out %ax, %dx\n"
	"jmp 1b\n"
);

#define NR_THREADS	4
#define THREAD_ITERS	1000

static void *count_thread(void *arg)
{
	struct vcpu *vcpu = arg;

	for (int i = 1; i <= THREAD_ITERS; i++)
		ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10 + vcpu->id), i);
	return NULL;
}

TEST(vcpus_in_threads)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpus[NR_THREADS];
	pthread_t t[NR_THREADS];
	struct kvm_regs regs;

	vm_load_guest(vm, count_guest);
	for (int i = 0; i < NR_THREADS; i++) {
		vcpus[i] = vcpu_create(vm, i);
		vcpu_set_real_mode(vcpus[i], CODE_ADDR);
		vcpu_get_regs(vcpus[i], &regs);
		regs.rsi = 0x10 + i;
		vcpu_set_regs(vcpus[i], &regs);
	}
	for (int i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, count_thread, vcpus[i]), 0);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NR_THREADS; i++) {
		vcpu_get_regs(vcpus[i], &regs);
		ASSERT_EQ(regs.rbx, THREAD_ITERS);
	}
}

TEST_HARNESS_MAIN
