// SPDX-License-Identifier: GPL-2.0
/*
 * test_hyperv.c - the Hyper-V enlightenments: KVM_GET_SUPPORTED_HV_CPUID
 * (system and vCPU, its E2BIG convention), the synthetic MSRs (only with
 * "Hv#1" in the guest's CPUID; per CPUID bit with
 * KVM_CAP_HYPERV_ENFORCE_CPUID), the hypercall page and hypercalls from a
 * 32-bit guest, a POST_MESSAGE that goes to userspace, the TSC page
 * against TIME_REF_COUNT and KVM_SET_CLOCK, and the reset and crash MSRs'
 * system events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

#define HV_CPUID_VENDOR		0x40000000
#define HV_CPUID_INTERFACE	0x40000001
#define HV_CPUID_FEATURES	0x40000003
#define HV_CPUID_ENLIGHTENMENTS	0x40000004
#define HV_CPUID_SYNDBG_CAPS	0x40000082
#define HV_HYPERCALL_AVAILABLE	(1U << 5)
#define HV_VP_INDEX_AVAILABLE	(1U << 6)
#define HV_POST_MESSAGES	(1U << 4)

#define HV_MSR_GUEST_OS_ID	0x40000000
#define HV_MSR_HYPERCALL	0x40000001
#define HV_MSR_VP_INDEX		0x40000002
#define HV_MSR_RESET		0x40000003
#define HV_MSR_TIME_REF_COUNT	0x40000020
#define HV_MSR_REFERENCE_TSC	0x40000021
#define HV_MSR_TSC_FREQUENCY	0x40000022
#define HV_MSR_APIC_FREQUENCY	0x40000023
#define HV_MSR_CRASH_CTL	0x40000105
#define MSR_IA32_TSC		0x10

#define HVCALL_LONG_SPIN_WAIT	0x0008
#define HVCALL_FLUSH_SPACE	0x0002
#define HVCALL_SEND_IPI		0x000b
#define HVCALL_POST_MESSAGE	0x005c
#define HV_FAST			(1U << 16)
#define HV_STATUS_INVALID_CODE	2
#define HV_STATUS_INVALID_INPUT	3
#define HV_STATUS_ACCESS_DENIED	6

#define GP_VECTOR		13

/* The 32-bit hypercall guest's pages and mailbox. */
#define HC_PAGE		0x20000
#define HC_IN		0x21000
#define HC_MBOX		0x600
#define TSC_PAGE	0x30000

/* ---- CPUID -------------------------------------------------------------- */

/* KVM_GET_SUPPORTED_HV_CPUID on fd with room for nent entries. */
static int get_hv_cpuid(int fd, struct kvm_cpuid2 *c, int nent)
{
	c->nent = nent;
	return ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
}

/* Linux 6.1's ten leaves, as KVM reports them without eVMCS. */
static void check_hv_cpuid(int fd)
{
	struct kvm_cpuid2 *c = cpuid_alloc(100);
	struct kvm_cpuid_entry2 *e;
	uint32_t i;

	ASSERT_ERRNO(get_hv_cpuid(fd, c, 0), E2BIG);
	ASSERT_ERRNO(get_hv_cpuid(fd, c, 9), E2BIG);
	ASSERT_OK(get_hv_cpuid(fd, c, 100));
	ASSERT_EQ(c->nent, 10);
	for (i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		ASSERT_GE(e->function, 0x40000000);
		ASSERT_LE(e->function, 0x40000082);
		ASSERT_EQ(e->index, 0);
		ASSERT_EQ(e->flags, 0);
	}
	e = cpuid_find(c, HV_CPUID_VENDOR, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->eax, 0x40000082);
	e = cpuid_find(c, HV_CPUID_INTERFACE, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->eax, 0x31237648);		/* "Hv#1" */
	e = cpuid_find(c, HV_CPUID_FEATURES, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_TRUE(e->eax & HV_HYPERCALL_AVAILABLE);
	e = cpuid_find(c, 0x4000000a, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_TRUE(e->eax & (1U << 19));	/* enlightened MSR bitmap */
	ASSERT_EQ(e->eax & 0xffff, 0);		/* no enlightened VMCS */
	free(c);
}

TEST(hv_cpuid_system)
{
	int kvm = kvm_open();

	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_SYS_HYPERV_CPUID), 1);
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_HYPERV_CPUID), 1);
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_HYPERV_ENFORCE_CPUID), 1);
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_HYPERV_TIME), 1);
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_HYPERV_ENLIGHTENED_VMCS), 0);
	check_hv_cpuid(kvm);
	close(kvm);
}

TEST(hv_cpuid_vcpu)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	check_hv_cpuid(vcpu->fd);
}

/*
 * The supported CPUID with the KVM leaves replaced by the Hyper-V ones, as
 * the selftests' vcpu_set_hv_cpuid() builds it (free()).
 */
static struct kvm_cpuid2 *hv_full_cpuid(int kvm)
{
	struct kvm_cpuid2 *sys = kvm_supported_cpuid(kvm);
	struct kvm_cpuid2 *hv = cpuid_alloc(100), *all;
	uint32_t i;

	ASSERT_OK(get_hv_cpuid(kvm, hv, 100));
	all = cpuid_alloc(sys->nent + hv->nent);
	all->nent = 0;
	for (i = 0; i < sys->nent; i++)
		if (sys->entries[i].function < 0x40000000 ||
		    sys->entries[i].function >= 0x40000100)
			all->entries[all->nent++] = sys->entries[i];
	for (i = 0; i < hv->nent; i++)
		all->entries[all->nent++] = hv->entries[i];
	free(sys);
	free(hv);
	return all;
}

static int vcpu_enable_cap_raw(struct vcpu *vcpu, uint32_t cap, uint64_t arg)
{
	struct kvm_enable_cap c = { .cap = cap };

	c.args[0] = arg;
	return ioctl(vcpu->fd, KVM_ENABLE_CAP, &c);
}

/* A real-mode service guest; Hyper-V in its CPUID if @hv. */
static struct vcpu *svc_vcpu(bool hv)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	if (hv) {
		struct kvm_cpuid2 *c = hv_full_cpuid(vm->kvm_fd);

		vcpu_set_cpuid(vcpu, c);
		free(c);
	}
	svc_init(vcpu);
	return vcpu;
}

/* ---- MSRs --------------------------------------------------------------- */

TEST(msrs_need_hv_cpuid)
{
	struct vcpu *vcpu = svc_vcpu(false);
	uint64_t v;

	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_GUEST_OS_ID, &v), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_GUEST_OS_ID, 1), GP_VECTOR);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TIME_REF_COUNT, &v), GP_VECTOR);
	/* Userspace always reaches them. */
	ASSERT_EQ(vcpu_get_msr(vcpu, HV_MSR_GUEST_OS_ID), 0);
}

TEST(msrs_with_hv_cpuid)
{
	struct vcpu *vcpu = svc_vcpu(true);
	uint64_t v, t1, t2;
	struct kvm_msr_list *l;
	uint32_t i;
	bool listed = false;

	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_GUEST_OS_ID, 0x8100ULL << 48), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_GUEST_OS_ID, &v), 0);
	ASSERT_EQ(v, 0x8100ULL << 48);
	ASSERT_EQ(vcpu_get_msr(vcpu, HV_MSR_GUEST_OS_ID), 0x8100ULL << 48);

	/* VP index: the vCPU's index; only userspace may change it. */
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_VP_INDEX, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_VP_INDEX, 3), GP_VECTOR);
	vcpu_set_msr(vcpu, HV_MSR_VP_INDEX, 3);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_VP_INDEX, &v), 0);
	ASSERT_EQ(v, 3);

	/* Frequencies: the vCPU's TSC, and the 1 GHz APIC timer. */
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TSC_FREQUENCY, &v), 0);
	ASSERT_EQ(v, (uint64_t)ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0) * 1000);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_APIC_FREQUENCY, &v), 0);
	ASSERT_EQ(v, 1000000000ULL);
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_TSC_FREQUENCY, 1), GP_VECTOR);

	/* The reference counter runs, and is read-only. */
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TIME_REF_COUNT, &t1), 0);
	usleep(20000);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TIME_REF_COUNT, &t2), 0);
	ASSERT_GT(t2, t1 + 100000);		/* 20 ms, in 100 ns units */
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_TIME_REF_COUNT, 1), GP_VECTOR);

	/* Without a guest OS ID the hypercall MSR ignores writes. */
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_GUEST_OS_ID, 0), 0);
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_HYPERCALL, HC_PAGE | 1), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_HYPERCALL, &v), 0);
	ASSERT_EQ(v, 0);
	/* Userspace restoring both fills the page too. */
	vcpu_set_msr(vcpu, HV_MSR_GUEST_OS_ID, 1);
	vcpu_set_msr(vcpu, HV_MSR_HYPERCALL, HC_PAGE | 1);
	ASSERT_EQ(((uint8_t *)vm_ptr(vcpu->vm, HC_PAGE))[3], 0xc3);

	/* A VMM saves them. */
	l = calloc(1, sizeof(*l) + 1024 * sizeof(uint32_t));
	l->nmsrs = 1024;
	ASSERT_OK(ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l));
	for (i = 0; i < l->nmsrs; i++)
		listed |= l->indices[i] == HV_MSR_REFERENCE_TSC;
	ASSERT_TRUE(listed);
	free(l);
}

/* One CPUID leaf's register changed before KVM_SET_CPUID2. */
static struct vcpu *svc_vcpu_enforced(uint32_t features_eax)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *c = hv_full_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, HV_CPUID_FEATURES, 0);

	ASSERT_TRUE(e != NULL);
	e->eax = features_eax;
	e->ebx = e->edx = 0;
	ASSERT_OK(vcpu_enable_cap_raw(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1));
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);
	return vcpu;
}

TEST(msrs_enforced_by_cpuid)
{
	struct vcpu *vcpu = svc_vcpu_enforced(0);
	uint64_t v;

	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_GUEST_OS_ID, &v), GP_VECTOR);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_VP_INDEX, &v), GP_VECTOR);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TIME_REF_COUNT, &v), GP_VECTOR);
	/* Userspace is never refused. */
	ASSERT_EQ(vcpu_get_msr(vcpu, HV_MSR_VP_INDEX), 0);
	vm_free(vcpu->vm);

	vcpu = svc_vcpu_enforced(HV_HYPERCALL_AVAILABLE | HV_VP_INDEX_AVAILABLE);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_GUEST_OS_ID, &v), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_VP_INDEX, &v), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, HV_MSR_TIME_REF_COUNT, &v), GP_VECTOR);
}

/* A write that makes the vCPU exit with KVM_EXIT_SYSTEM_EVENT @type. */
static void check_system_event(struct vcpu *vcpu, uint32_t msr, uint64_t val,
			       uint32_t type)
{
	struct svc_result r;

	ASSERT_EQ(svc_start(vcpu, SVC_WRMSR, (uint32_t)val, msr, val >> 32),
		  KVM_EXIT_SYSTEM_EVENT);
	ASSERT_EQ(vcpu->run->system_event.type, type);
	/* The WRMSR itself completed: the guest goes on. */
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
}

TEST(reset_and_crash_exit)
{
	struct vcpu *vcpu = svc_vcpu(true);

	check_system_event(vcpu, HV_MSR_RESET, 1, KVM_SYSTEM_EVENT_RESET);
	check_system_event(vcpu, HV_MSR_CRASH_CTL, 1ULL << 63,
			   KVM_SYSTEM_EVENT_CRASH);
	/* Other values do nothing. */
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_RESET, 0), 0);
}

/*
 * The SynIC's registers, once KVM_CAP_HYPERV_SYNIC2 activated it: kept,
 * checked, and the control MSRs' writes reported to userspace.
 */
TEST(synic_registers)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct kvm_cpuid2 *c;
	struct svc_result r;
	struct vcpu *vcpu;
	uint64_t v;

	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vcpu = vcpu_create(vm, 0);
	c = hv_full_cpuid(vm->kvm_fd);
	vcpu_set_cpuid(vcpu, c);
	free(c);
	svc_init(vcpu);

	/* Inactive: the guest gets #GP, userspace reads the reset values. */
	ASSERT_EQ(svc_rdmsr(vcpu, 0x40000080, &v), GP_VECTOR);
	ASSERT_EQ(vcpu_get_msr(vcpu, 0x40000081), 1);		/* SVERSION */
	ASSERT_EQ(vcpu_get_msr(vcpu, 0x40000090), 1ULL << 16);	/* SINT0: masked */

	ASSERT_OK(vcpu_enable_cap_raw(vcpu, KVM_CAP_HYPERV_SYNIC2, 0));
	ASSERT_EQ(svc_rdmsr(vcpu, 0x40000080, &v), 0);		/* SCONTROL */
	ASSERT_EQ(v, 1);
	/* SINTs take vectors 16-255, or are masked. */
	ASSERT_EQ(svc_wrmsr(vcpu, 0x40000090, 5), GP_VECTOR);
	ASSERT_EQ(svc_wrmsr(vcpu, 0x40000090, 0x30), 0);
	ASSERT_EQ(svc_rdmsr(vcpu, 0x40000090, &v), 0);
	ASSERT_EQ(v, 0x30);
	/* SVERSION is read-only for the guest. */
	ASSERT_EQ(svc_wrmsr(vcpu, 0x40000081, 2), GP_VECTOR);

	/* A write of SCONTROL is reported after it completed. */
	ASSERT_EQ(svc_start(vcpu, SVC_WRMSR, 0, 0x40000080, 0), KVM_EXIT_HYPERV);
	ASSERT_EQ(vcpu->run->hyperv.type, KVM_EXIT_HYPERV_SYNIC);
	ASSERT_EQ(vcpu->run->hyperv.u.synic.msr, 0x40000080);
	ASSERT_EQ(vcpu->run->hyperv.u.synic.control, 0);
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
}

/*
 * The synthetic debugger: a write of its control MSR goes to userspace,
 * and the status userspace leaves is what the guest reads next.
 */
TEST(syndbg_control_goes_to_userspace)
{
	struct vcpu *vcpu = svc_vcpu(true);
	struct svc_result r;
	uint64_t v;

	ASSERT_EQ(svc_wrmsr(vcpu, 0x400000f3, 0x5000), 0);	/* SEND_BUFFER */
	ASSERT_EQ(svc_start(vcpu, SVC_WRMSR, 5, 0x400000f1, 0), KVM_EXIT_HYPERV);
	ASSERT_EQ(vcpu->run->hyperv.type, KVM_EXIT_HYPERV_SYNDBG);
	ASSERT_EQ(vcpu->run->hyperv.u.syndbg.msr, 0x400000f1);
	ASSERT_EQ(vcpu->run->hyperv.u.syndbg.control, 5);
	ASSERT_EQ(vcpu->run->hyperv.u.syndbg.send_page, 0x5000);
	vcpu->run->hyperv.u.syndbg.status = 0x77;
	vcpu_run(vcpu);
	svc_finish(vcpu, &r);
	ASSERT_FALSE(r.faulted);
	ASSERT_EQ(svc_rdmsr(vcpu, 0x400000f2, &v), 0);		/* STATUS */
	ASSERT_EQ(v, 0x77);
}

/* ---- The TSC page ------------------------------------------------------- */

struct tsc_page {
	volatile uint32_t sequence;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
};

static uint64_t tsc_page_time(const struct tsc_page *p, uint64_t tsc)
{
	return (uint64_t)(((unsigned __int128)tsc * p->scale) >> 64) + p->offset;
}

TEST(tsc_page_follows_kvmclock)
{
	struct vcpu *vcpu = svc_vcpu(true);
	struct tsc_page *p = vm_ptr(vcpu->vm, TSC_PAGE);
	struct kvm_clock_data clock = {};
	uint64_t t, ref, tsc;

	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_GET_CLOCK, &clock));
	if (!(clock.flags & KVM_CLOCK_TSC_STABLE))
		SKIP("kvmclock not TSC-stable here: no TSC page");

	/* Disabled: the page stays untouched. */
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_REFERENCE_TSC, TSC_PAGE), 0);
	ASSERT_EQ(p->sequence, 0);
	ASSERT_EQ(p->scale, 0);

	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_REFERENCE_TSC, TSC_PAGE | 1), 0);
	ASSERT_NE(p->sequence, 0);
	ASSERT_NE(p->scale, 0);
	tsc = vcpu_get_msr(vcpu, MSR_IA32_TSC);
	ref = vcpu_get_msr(vcpu, HV_MSR_TIME_REF_COUNT);
	t = tsc_page_time(p, tsc);
	ASSERT_GE(ref, t);
	ASSERT_LT(ref - t, 100000);		/* 10 ms */

	/* KVM_SET_CLOCK moves it before the guest runs again. */
	clock.clock = 1000ULL * 1000000000;	/* 1000 s */
	clock.flags = 0;
	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_SET_CLOCK, &clock));
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_GUEST_OS_ID, 1), 0);
	t = tsc_page_time(p, vcpu_get_msr(vcpu, MSR_IA32_TSC));
	ASSERT_GE(t, 10000000000ULL);
	ASSERT_LT(t, 10000000000ULL + 10000000);	/* within 1 s */

	/* Disabled again: no more updates. */
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_REFERENCE_TSC, 0), 0);
	memset(p, 0, sizeof(*p));
	ASSERT_OK(ioctl(vcpu->vm->fd, KVM_SET_CLOCK, &clock));
	ASSERT_EQ(svc_wrmsr(vcpu, HV_MSR_GUEST_OS_ID, 1), 0);
	ASSERT_EQ(p->sequence, 0);
}

/* ---- Hypercalls --------------------------------------------------------- */

/*
 * 32-bit protected mode: a guest OS ID, the hypercall page at HC_PAGE,
 * an OUT to 0x11; then, each round, the hypercall in the mailbox
 * (EDX:EAX control, EBX:ECX input, EDI:ESI output) through the page, its
 * EDX:EAX result stored back, and an OUT to 0x10.
 */
GUEST_CODE32(hc32_guest,
	"mov $0x40000000, %ecx\n"
	"mov $1, %eax\n"
	"mov $0x81000000, %edx\n"
	"wrmsr\n"
	"mov $0x40000001, %ecx\n"
	"mov $" XSTR(HC_PAGE) " + 1, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"out %al, $0x11\n"
	"1: mov 0x600, %eax\n"
	"mov 0x604, %edx\n"
	"mov 0x608, %ecx\n"
	"mov 0x60c, %ebx\n"
	"mov 0x610, %esi\n"
	"mov 0x614, %edi\n"
	"mov $" XSTR(HC_PAGE) ", %ebp\n"
	"call *%ebp\n"
	"mov %eax, 0x620\n"
	"mov %edx, 0x624\n"
	"out %al, $0x10\n"
	"jmp 1b\n"
);

struct hc_mbox {
	uint64_t control;
	uint64_t in;
	uint64_t out;
	uint64_t pad;
	uint64_t result;
};

/*
 * A VM with an in-kernel irqchip and the hypercall guest, Hyper-V in its
 * CPUID (with @features_eax/ebx in 0x40000003 and enforcement, if
 * @enforce), run to its "ready".
 */
static struct vcpu *hc_vcpu(bool enforce, uint32_t features_eax,
			    uint32_t features_ebx)
{
	struct vm *vm = vm_create(VM_MODES_MEM);
	struct kvm_cpuid2 *c;
	struct vcpu *vcpu;

	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vm_build_tables(vm);
	vm_write(vm, CODE_ADDR, hc32_guest, GUEST_SIZE(hc32_guest));
	vcpu = vcpu_create(vm, 0);
	vcpu_set_mode(vcpu, MODE_PM32, CODE_ADDR);
	c = hv_full_cpuid(vm->kvm_fd);
	if (enforce) {
		struct kvm_cpuid_entry2 *e = cpuid_find(c, HV_CPUID_FEATURES, 0);

		e->eax = features_eax;
		e->ebx = features_ebx;
		e->edx = 0;
		e = cpuid_find(c, HV_CPUID_ENLIGHTENMENTS, 0);
		e->eax = e->ebx = 0;
		ASSERT_OK(vcpu_enable_cap_raw(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1));
	}
	vcpu_set_cpuid(vcpu, c);
	free(c);
	RUN_OUT(vcpu, 1, 0x11);
	return vcpu;
}

/* Leave the hypercall in the mailbox and run to the guest's next exit. */
static uint32_t hc_start(struct vcpu *vcpu, uint64_t control, uint64_t in,
			 uint64_t out)
{
	struct hc_mbox *m = vm_ptr(vcpu->vm, HC_MBOX);

	m->control = control;
	m->in = in;
	m->out = out;
	m->result = ~0ULL;
	return vcpu_run(vcpu);
}

static uint64_t hcall(struct vcpu *vcpu, uint64_t control, uint64_t in,
		      uint64_t out)
{
	hc_start(vcpu, control, in, out);
	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, 0x10);
	return ((struct hc_mbox *)vm_ptr(vcpu->vm, HC_MBOX))->result;
}

static bool host_is_amd(void)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b == 0x68747541;		/* "Auth"enticAMD */
}

TEST(hypercall_page_and_calls)
{
	struct vcpu *vcpu = hc_vcpu(false, 0, 0);
	const uint8_t *page = vm_ptr(vcpu->vm, HC_PAGE);
	static const uint8_t vmmcall[3] = { 0x0f, 0x01, 0xd9 };
	static const uint8_t vmcall[3] = { 0x0f, 0x01, 0xc1 };

	/* The CPU's own hypercall instruction, then RET. */
	ASSERT_EQ(memcmp(page, host_is_amd() ? vmmcall : vmcall, 3), 0);
	ASSERT_EQ(page[3], 0xc3);
	ASSERT_EQ(vcpu_get_msr(vcpu, HV_MSR_HYPERCALL), HC_PAGE | 1);

	ASSERT_EQ(hcall(vcpu, 0xbeef, 0, 0), HV_STATUS_INVALID_CODE);
	ASSERT_EQ(hcall(vcpu, HVCALL_LONG_SPIN_WAIT | HV_FAST, 0, 0), 0);
	/* A flush of all processors: done, in registers. */
	ASSERT_EQ(hcall(vcpu, HVCALL_FLUSH_SPACE | HV_FAST, 0, 1), 0);
	/* Vector 0 (from guest memory): refused. */
	ASSERT_EQ(hcall(vcpu, HVCALL_SEND_IPI, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
	/* Vector 0x40 to VP 0 (itself), fast. */
	ASSERT_EQ(hcall(vcpu, HVCALL_SEND_IPI | HV_FAST, 0x40, 1), 0);
	/* Reserved control bits. */
	ASSERT_EQ(hcall(vcpu, HVCALL_LONG_SPIN_WAIT | HV_FAST | (1ULL << 30),
			0, 0), HV_STATUS_INVALID_INPUT);
	/* Without an active SynIC, nobody takes messages. */
	ASSERT_EQ(hcall(vcpu, HVCALL_POST_MESSAGE, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
}

/* Input a guest gets wrong, answered as Linux answers it. */
TEST(hypercall_bad_input)
{
	struct vcpu *vcpu = hc_vcpu(false, 0, 0);
	uint64_t *in = vm_ptr(vcpu->vm, HC_IN);
	uint64_t var = 1ULL << 17, rep = 1ULL << 32;

	/* Input outside guest memory. */
	ASSERT_EQ(hcall(vcpu, HVCALL_FLUSH_SPACE, 0xfff00000, 0),
		  HV_STATUS_INVALID_INPUT);
	ASSERT_EQ(hcall(vcpu, HVCALL_SEND_IPI, 0xfff00000, 0),
		  HV_STATUS_INVALID_INPUT);
	/* Reps: a list needs some, a space none; all done at once. */
	ASSERT_EQ(hcall(vcpu, 0x0003 | HV_FAST, 0, 1), HV_STATUS_INVALID_INPUT);
	ASSERT_EQ(hcall(vcpu, 0x0003 | HV_FAST | 5 * rep, 0, 1), 5 * rep);
	ASSERT_EQ(hcall(vcpu, HVCALL_FLUSH_SPACE | HV_FAST | rep, 0, 1),
		  HV_STATUS_INVALID_INPUT);
	ASSERT_EQ(hcall(vcpu, HVCALL_LONG_SPIN_WAIT | HV_FAST | var, 0, 0),
		  HV_STATUS_INVALID_INPUT);

	/* SEND_IPI_EX: 64 banks, as many as the mask says; then one more. */
	in[0] = 0x40;			/* vector */
	in[1] = 0;			/* sparse set */
	in[2] = ~0ULL;			/* valid bank mask */
	ASSERT_EQ(hcall(vcpu, 0x0015 | 64 * var, HC_IN, 0), 0);
	ASSERT_EQ(hcall(vcpu, 0x0015 | 65 * var, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
	ASSERT_EQ(hcall(vcpu, 0x0015 | 1023 * var, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
	in[0] = 0x5;			/* below 16 */
	ASSERT_EQ(hcall(vcpu, 0x0015 | 64 * var, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
	/* FLUSH_SPACE_EX: the same mask with its banks after 4 words. */
	in[0] = 0;
	in[1] = 0;
	in[2] = 0;
	in[3] = 3;
	ASSERT_EQ(hcall(vcpu, 0x0013 | 2 * var, HC_IN, 0), 0);
	ASSERT_EQ(hcall(vcpu, 0x0013 | 3 * var, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);

	/* SIGNAL_EVENT: misaligned input; a flag number is an unknown port. */
	ASSERT_EQ(hcall(vcpu, 0x005d, HC_IN + 1, 0), 4);
	ASSERT_EQ(hcall(vcpu, 0x005d | HV_FAST, 1ULL << 32, 0),
		  HV_STATUS_INVALID_INPUT);

	/* The debugger's calls: no fast form; refused by its options. */
	ASSERT_EQ(hcall(vcpu, 0x0069 | HV_FAST, 0, 0), 5);
	ASSERT_EQ(hcall(vcpu, 0x0069, HC_IN, 0), 8);
}

TEST(hypercalls_enforced_by_cpuid)
{
	struct vcpu *vcpu = hc_vcpu(true, HV_HYPERCALL_AVAILABLE, 0);

	ASSERT_EQ(hcall(vcpu, HVCALL_POST_MESSAGE, HC_IN, 0),
		  HV_STATUS_ACCESS_DENIED);
	ASSERT_EQ(hcall(vcpu, HVCALL_FLUSH_SPACE | HV_FAST, 0, 1),
		  HV_STATUS_ACCESS_DENIED);
	ASSERT_EQ(hcall(vcpu, HVCALL_SEND_IPI | HV_FAST, 0x40, 1),
		  HV_STATUS_ACCESS_DENIED);
	/* No spinlock retry count: no long-spin notification. */
	ASSERT_EQ(hcall(vcpu, HVCALL_LONG_SPIN_WAIT | HV_FAST, 0, 0),
		  HV_STATUS_ACCESS_DENIED);
	ASSERT_EQ(hcall(vcpu, 0xbeef, 0, 0), HV_STATUS_INVALID_CODE);
	vm_free(vcpu->vm);

	vcpu = hc_vcpu(true, HV_HYPERCALL_AVAILABLE, HV_POST_MESSAGES);
	ASSERT_EQ(hcall(vcpu, HVCALL_POST_MESSAGE, HC_IN, 0),
		  HV_STATUS_INVALID_INPUT);
}

TEST(post_message_goes_to_userspace)
{
	struct vcpu *vcpu = hc_vcpu(false, 0, 0);
	struct hc_mbox *m = vm_ptr(vcpu->vm, HC_MBOX);

	ASSERT_OK(vcpu_enable_cap_raw(vcpu, KVM_CAP_HYPERV_SYNIC2, 0));
	ASSERT_EQ(hc_start(vcpu, HVCALL_POST_MESSAGE, HC_IN, HC_IN + 0x1000),
		  KVM_EXIT_HYPERV);
	ASSERT_EQ(vcpu->run->hyperv.type, KVM_EXIT_HYPERV_HCALL);
	ASSERT_EQ(vcpu->run->hyperv.u.hcall.input, HVCALL_POST_MESSAGE);
	ASSERT_EQ(vcpu->run->hyperv.u.hcall.params[0], HC_IN);
	ASSERT_EQ(vcpu->run->hyperv.u.hcall.params[1], HC_IN + 0x1000);
	vcpu->run->hyperv.u.hcall.result = 0x1234567890ULL;
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(m->result, 0x1234567890ULL);	/* EDX:EAX, 32-bit ABI */
}

TEST_HARNESS_MAIN
