// SPDX-License-Identifier: GPL-2.0
/*
 * test_caps.c - the capabilities Firecracker and kvmtool refuse to start
 * without on x86 are advertised by KVM_CHECK_EXTENSION, on /dev/kvm and on
 * a VM fd alike, and what each one promises works (one call or two each).
 */
#include <cpuid.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

static const struct {
	long cap;
	const char *name;
} required[] = {
#define CAP(c) { KVM_CAP_##c, #c }
	CAP(IRQCHIP), CAP(IOEVENTFD), CAP(IRQFD), CAP(USER_MEMORY),
	CAP(SET_TSS_ADDR), CAP(PIT2), CAP(PIT_STATE2), CAP(ADJUST_CLOCK),
	CAP(DEBUGREGS), CAP(MP_STATE), CAP(VCPU_EVENTS), CAP(XCRS),
	CAP(XSAVE), CAP(EXT_CPUID), CAP(COALESCED_MMIO), CAP(IRQ_ROUTING),
	CAP(HLT), CAP(IRQ_INJECT_STATUS),
#undef CAP
};

#define NR_REQUIRED (sizeof(required) / sizeof(required[0]))

/*
 * KVM_CAP_XCRS follows the host's XSAVE on Linux as on nkvm (Bochs's CPU in
 * the VMX bed has none): the host kernel uses XSAVE if CPUID says OSXSAVE.
 */
static int host_has_xsave(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1U << 27));
}

static int cap_required(long cap)
{
	return cap != KVM_CAP_XCRS || host_has_xsave();
}

TEST(advertised_on_dev_kvm_and_vm)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	unsigned int i;

	for (i = 0; i < NR_REQUIRED; i++) {
		TH_LOG("KVM_CAP_%s", required[i].name);
		if (!cap_required(required[i].cap)) {
			ASSERT_EQ(kvm_check_cap(vm->kvm_fd, required[i].cap), 0);
			continue;
		}
		ASSERT_GT(kvm_check_cap(vm->kvm_fd, required[i].cap), 0);
		ASSERT_GT(kvm_check_cap(vm->fd, required[i].cap), 0);
	}
}

/* The VM-level ones, in the order a VMM uses them. */
TEST(vm_capabilities_work)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);	/* USER_MEMORY */
	struct kvm_pit_config pit = { .flags = 0 };
	struct kvm_pit_state2 ps;
	struct kvm_irq_level line = { .irq = 4, .level = 1 };
	struct kvm_clock_data clock = {};
	struct kvm_coalesced_mmio_zone zone = { .addr = 0xfec10000, .size = 8 };
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[1];
	} routing = {
		.r.nr = 1,
		.e[0] = {
			.gsi = 30,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = 0xfee00000, .data = 0x41 },
		},
	};
	struct kvm_ioeventfd io = { .addr = 0x3f8, .len = 1,
				    .flags = KVM_IOEVENTFD_FLAG_PIO };
	struct kvm_irqfd irqfd = { .gsi = 5 };
	int efd = eventfd(0, EFD_CLOEXEC), ifd = eventfd(0, EFD_CLOEXEC);

	ASSERT_GE(efd, 0);
	ASSERT_GE(ifd, 0);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL));
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_PIT2, &pit));
	ASSERT_OK(ioctl(vm->fd, KVM_GET_PIT2, &ps));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_PIT2, &ps));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_GSI_ROUTING, &routing));
	io.fd = efd;
	ASSERT_OK(ioctl(vm->fd, KVM_IOEVENTFD, &io));
	irqfd.fd = ifd;
	ASSERT_OK(ioctl(vm->fd, KVM_IRQFD, &irqfd));
	ASSERT_OK(ioctl(vm->fd, KVM_IRQ_LINE_STATUS, &line));
	ASSERT_NE(line.status, 0);
	ASSERT_OK(ioctl(vm->fd, KVM_GET_CLOCK, &clock));
	clock.flags = 0;
	ASSERT_OK(ioctl(vm->fd, KVM_SET_CLOCK, &clock));
	ASSERT_OK(ioctl(vm->fd, KVM_REGISTER_COALESCED_MMIO, &zone));
	close(efd);
	close(ifd);
}

/* The vCPU-level ones: state a VMM saves and restores. */
TEST(vcpu_capabilities_work)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu;
	struct kvm_debugregs dbg;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	struct kvm_xcrs xcrs;
	struct kvm_xsave *xs = calloc(1, sizeof(*xs));
	struct kvm_cpuid2 *cpuid;

	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vcpu = vcpu_create(vm, 0);
	cpuid = kvm_supported_cpuid(vm->kvm_fd);	/* EXT_CPUID */
	ASSERT_TRUE(cpuid_find(cpuid, 0x80000000, 0) != NULL);
	vcpu_set_cpuid(vcpu, cpuid);
	free(cpuid);

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &dbg));
	dbg.db[0] = 0x1000;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &dbg));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &dbg));
	ASSERT_EQ(dbg.db[0], 0x1000);

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp));
	ASSERT_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp));

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &xcrs));
	if (host_has_xsave()) {
		ASSERT_GE(xcrs.nr_xcrs, 1);
		ASSERT_EQ(xcrs.xcrs[0].xcr, 0);
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs));
	} else {
		ASSERT_EQ(xcrs.nr_xcrs, 0);
	}

	ASSERT_TRUE(xs != NULL);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XSAVE, xs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XSAVE, xs));
	free(xs);
}

GUEST_CODE(hlt_guest,
	"hlt\n"
);

/* Without an in-kernel irqchip, HLT exits to userspace. */
TEST(hlt_exits_without_irqchip)
{
	struct vcpu *vcpu = VM_WITH_GUEST(hlt_guest);

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_rip(vcpu), CODE_ADDR + 1);
}

TEST_HARNESS_MAIN
