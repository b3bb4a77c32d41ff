// SPDX-License-Identifier: GPL-2.0
/*
 * test_vcpu_hang.c - the vCPU states the ioctl fuzzer found to keep KVM_RUN
 * from ever returning on nkvm, each checked to end with EINTR when a
 * signal comes (KVM_EXIT_INTR), a bounded number of times in a row:
 *
 *  - an AP waiting for INIT or SIPI (in-kernel irqchip, KVM_SET_MP_STATE)
 *    with an NMI pending: nkvm counted it as a reason to wake up, so its
 *    wait for SIPI went round without sleeping and without ever looking at
 *    signals (a soft lockup of the host CPU);
 *  - a guest spinning with IF clear after an entry that failed: QEMU's TCG
 *    had cleared V_INTR_MASKING in the VMCB, and nkvm kept it so, so host
 *    interrupts stopped ending the guest's run (see testing.rst);
 *  - guests spinning with RFLAGS.IF clear, in the states the fuzzer caught
 *    them in: "popf; jmp $" in 16-bit protected mode, and "cpuid; jmp $" in
 *    long mode with RFLAGS 0x20002 (VM set, which long mode ignores);
 *  - CR8 written by a guest with IF clear while an interrupt window is
 *    open: with a userspace APIC, lowering the TPR exits with
 *    KVM_EXIT_SET_TPR (as on Linux).  While nkvm let CR8 writes through,
 *    this brought down QEMU's TCG, the test bed (see testing.rst).
 *
 * Each run gets a periodic SIGALRM; a KVM_RUN that never returns is caught
 * by the harness's per-test timeout, or by the bed's when the host CPU no
 * longer takes interrupts either (then not even SIGKILL ends the run).
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#include "vm.h"

#define RUNS		10	/* KVM_RUNs each signal must end */
#define TICK_US		20000	/* SIGALRM period */

static atomic_int ticks;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&ticks, 1);
}

/* Every one of RUNS KVM_RUNs ends with EINTR and KVM_EXIT_INTR. */
static void assert_signals_end_run(struct vcpu *vcpu)
{
	int i;

	vm_alarm_every(TICK_US, on_alarm);
	for (i = 0; i < RUNS; i++) {
		int r = vcpu_run_raw(vcpu);
		int err = errno;

		if (r != -1 || err != EINTR) {
			vm_alarm_off();
			TH_LOG("run %d: r %d errno %d exit %s", i, r, err,
			       exit_name(vcpu->run->exit_reason));
		}
		ASSERT_EQ(r, -1);
		ASSERT_EQ(err, EINTR);
		ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
	}
	vm_alarm_off();
	ASSERT_GE(atomic_load(&ticks), RUNS);
}

/* A VM with an in-kernel irqchip and one vCPU in real mode at "hlt". */
static struct vcpu *irqchip_vcpu(void)
{
	static const unsigned char hlt[] = { 0xf4 };
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu;

	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vm_write(vm, CODE_ADDR, hlt, sizeof(hlt));
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

static void set_mp_state(struct vcpu *vcpu, uint32_t state)
{
	struct kvm_mp_state mp = { .mp_state = state };

	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp));
}

static uint32_t get_mp_state(struct vcpu *vcpu)
{
	struct kvm_mp_state mp;

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp));
	return mp.mp_state;
}

TEST(wait_for_sipi_with_nmi_pending_ends_on_signal)
{
	struct vcpu *vcpu = irqchip_vcpu();

	set_mp_state(vcpu, KVM_MP_STATE_INIT_RECEIVED);
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	assert_signals_end_run(vcpu);
	/* Still waiting: an NMI does not start an AP. */
	ASSERT_EQ(get_mp_state(vcpu), KVM_MP_STATE_INIT_RECEIVED);
}

TEST(wait_for_sipi_with_nmi_in_events_ends_on_signal)
{
	struct vcpu *vcpu = irqchip_vcpu();
	struct kvm_vcpu_events ev;

	set_mp_state(vcpu, KVM_MP_STATE_INIT_RECEIVED);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ev.nmi.pending = 1;
	ev.nmi.masked = 0;
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	assert_signals_end_run(vcpu);
	ASSERT_EQ(get_mp_state(vcpu), KVM_MP_STATE_INIT_RECEIVED);
}

/*
 * A vCPU that waits for INIT: Linux returns EAGAIN as soon as anything
 * (here the NMI) wakes it, nkvm sleeps until the signal.  Either way
 * KVM_RUN returns, again and again.
 */
TEST(uninitialized_with_nmi_pending_returns)
{
	struct vcpu *vcpu = irqchip_vcpu();
	int i;

	set_mp_state(vcpu, KVM_MP_STATE_UNINITIALIZED);
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	vm_alarm_every(TICK_US, on_alarm);
	for (i = 0; i < RUNS; i++) {
		int r = vcpu_run_raw(vcpu);
		int err = errno;

		ASSERT_EQ(r, -1);
		ASSERT_TRUE(err == EINTR || err == EAGAIN);
	}
	vm_alarm_off();
	ASSERT_EQ(get_mp_state(vcpu), KVM_MP_STATE_UNINITIALIZED);
}

/* 16-bit protected mode: popf of a value with IF clear, then jmp $. */
GUEST_CODE(popf_spin_guest,
	"push $0x0002\n"
	"popf\n"
	"1: jmp 1b\n"
);

TEST(popf_jmp_self_in_pm16_ends_on_signal)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(popf_spin_guest,
						  GUEST_SIZE(popf_spin_guest),
						  MODE_PM16);

	assert_signals_end_run(vcpu);
}

GUEST_CODE64(cpuid_spin_guest,
	"xor %eax, %eax\n"
	"cpuid\n"
	"1: jmp 1b\n"
);

TEST(cpuid_jmp_self_in_long_mode_with_vm_flag_ends_on_signal)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(cpuid_spin_guest,
						  GUEST_SIZE(cpuid_spin_guest),
						  MODE_LONG);
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	regs.rflags = 0x20002;		/* VM, IF clear */
	vcpu_set_regs(vcpu, &regs);
	assert_signals_end_run(vcpu);
}

GUEST_CODE(cli_spin_guest,
	"cli\n"
	"1: jmp 1b\n"
);

/*
 * The state the fuzzer left: an entry that failed (here a CR3 above
 * MAXPHYADDR, which a real-mode guest never uses but VMRUN checks), then
 * good state and a guest spinning with IF clear.  QEMU's TCG fails that
 * VMRUN before reading int_ctl and writes a stale int_ctl of 0 back into
 * the VMCB; nkvm kept the VMCB's V_INTR_MASKING from then on, so the
 * guest's IF masked the host's interrupts and nothing but an NMI ended the
 * next KVM_RUN.  Linux KVM keeps V_INTR_MASKING in the VMCB alone as well:
 * under TCG its vCPU also stops taking host interrupts after such an
 * entry, so that part is only checked on nkvm.
 */
TEST(failed_entry_then_spin_with_if_clear_ends_on_signal)
{
	struct vcpu *vcpu = VM_WITH_GUEST(cli_spin_guest);
	struct kvm_sregs good, bad;
	struct kvm_regs regs;

	vcpu_get_sregs(vcpu, &good);
	vcpu_get_regs(vcpu, &regs);
	bad = good;
	bad.cr3 = 1ULL << 51;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &bad) == 0) {
		uint32_t exit = vcpu_run(vcpu);

		TH_LOG("CR3 %#llx: exit %s", bad.cr3, exit_name(exit));
	}
	if (!kvm_is_nkvm(vcpu->vm->kvm_fd))
		SKIP("Linux KVM loses V_INTR_MASKING after this entry under TCG");
	vcpu_set_sregs(vcpu, &good);
	vcpu_set_regs(vcpu, &regs);
	assert_signals_end_run(vcpu);
}

/*
 * Long mode, IF clear: raise the TPR, lower it, report, spin.  Run with an
 * interrupt window requested (it cannot open: IF is clear).
 */
GUEST_CODE64(cr8_guest,
	"mov $9, %eax\n"
	"mov %rax, %cr8\n"
	"mov $3, %eax\n"
	"mov %rax, %cr8\n"
	"mov %cr8, %rax\n"
	"out %al, $0x10\n"
	"1: jmp 1b\n"
);

TEST(cr8_lowered_with_irq_window_requested_exits_set_tpr)
{
	struct vcpu *vcpu = vm_with_guest_in_mode(cr8_guest,
						  GUEST_SIZE(cr8_guest),
						  MODE_LONG);
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	regs.rflags = 0x2;
	vcpu_set_regs(vcpu, &regs);
	vcpu->run->request_interrupt_window = 1;

	/* Raising the TPR goes unreported; lowering it exits. */
	vcpu_run(vcpu);
	ASSERT_EXIT(vcpu, KVM_EXIT_SET_TPR);
	ASSERT_EQ(vcpu->run->cr8, 3);
	ASSERT_EQ(vcpu->run->if_flag, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 3);
	assert_signals_end_run(vcpu);
}

TEST_HARNESS_MAIN
