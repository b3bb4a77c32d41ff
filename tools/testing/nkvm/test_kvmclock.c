// SPDX-License-Identifier: GPL-2.0
/*
 * test_kvmclock.c - the paravirtual clock: a guest that writes
 * MSR_KVM_SYSTEM_TIME_NEW gets a consistent pvclock_vcpu_time_info;
 * MSR_KVM_WALL_CLOCK_NEW gives the wall-clock time of kvmclock's zero;
 * KVM_GET_CLOCK advances and KVM_SET_CLOCK sets it.
 */
#include <sys/ioctl.h>
#include <time.h>

#include "vm.h"

#define PVTIME		0x5000
#define WALLCLOCK	0x5100

struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

struct wallclock {
	uint32_t version;
	uint32_t sec;
	uint32_t nsec;
} __attribute__((packed));

/* wrmsr(0x4b564d01, PVTIME | 1); wrmsr(0x4b564d00, WALLCLOCK); hlt */
GUEST_CODE(kvmclock_guest,
	"mov $0x4b564d01, %ecx\n"
	"mov $0x5001, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"mov $0x4b564d00, %ecx\n"
	"mov $0x5100, %eax\n"
	"wrmsr\n"
	"hlt\n"
	"out %al, $0x10\n"
);

static uint64_t get_clock(struct vcpu *vcpu)
{
	struct kvm_clock_data d = {};

	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_GET_CLOCK, &d));
	return d.clock;
}

TEST(guest_reads_a_consistent_pvclock)
{
	struct vcpu *vcpu = VM_WITH_GUEST(kvmclock_guest);
	struct pvclock *pv = vm_ptr(vcpu->vm, PVTIME);
	struct wallclock *wc = vm_ptr(vcpu->vm, WALLCLOCK);
	struct timespec now;

	if (kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_ADJUST_CLOCK) <= 0)
		SKIP("no KVM_CAP_ADJUST_CLOCK");
	vcpu_try_supported_cpuid(vcpu);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	/* Filled in at the next entry after the MSR write. */
	RUN_OUT(vcpu, 1, 0x10);

	ASSERT_EQ(pv->version & 1, 0);
	ASSERT_NE(pv->version, 0);
	ASSERT_NE(pv->tsc_to_system_mul, 0);
	ASSERT_GE(pv->tsc_shift, -32);
	ASSERT_LE(pv->tsc_shift, 32);
	/* The VM is young: kvmclock is within a minute of zero. */
	ASSERT_LT(pv->system_time, 60ULL * 1000000000);
	ASSERT_LE(pv->system_time, get_clock(vcpu));

	/* The wall clock at kvmclock's zero: a moment ago. */
	clock_gettime(CLOCK_REALTIME, &now);
	ASSERT_EQ(wc->version & 1, 0);
	ASSERT_LE(wc->sec, (uint32_t)now.tv_sec);
	ASSERT_GE(wc->sec + 120, (uint32_t)now.tv_sec);
}

TEST(get_clock_advances_and_set_clock_sets)
{
	struct vcpu *vcpu = VM_WITH_GUEST(kvmclock_guest);
	struct kvm_clock_data d = {};
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t a, b;

	if (kvm_check_cap(vcpu->vm->kvm_fd, KVM_CAP_ADJUST_CLOCK) <= 0)
		SKIP("no KVM_CAP_ADJUST_CLOCK");
	a = get_clock(vcpu);
	nanosleep(&ts, NULL);
	b = get_clock(vcpu);
	ASSERT_GE(b - a, 10 * 1000 * 1000);

	d.clock = 1000ULL * 1000000000;		/* 1000 s */
	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_SET_CLOCK, &d));
	a = get_clock(vcpu);
	ASSERT_GE(a, d.clock);
	ASSERT_LT(a, d.clock + 5ULL * 1000000000);

	d.flags = 1u << 30;
	ASSERT_ERRNO(ioctl(vcpu->vm->fd, KVM_SET_CLOCK, &d), EINVAL);
}

TEST_HARNESS_MAIN
