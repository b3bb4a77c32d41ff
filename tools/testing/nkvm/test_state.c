// SPDX-License-Identifier: GPL-2.0
/*
 * test_state.c - a vCPU's whole state through the state ioctls: FPU, XSAVE,
 * XCRS, DEBUGREGS and MP_STATE round trips; a guest that keeps state in
 * its general-purpose and segment registers, x87 and SSE registers and
 * memory is saved (REGS, SREGS, FPU or XSAVE, XCRS, the MSRs of
 * KVM_GET_MSR_INDEX_LIST, DEBUGREGS, VCPU_EVENTS, MP_STATE, memory) into a
 * fresh VM and vCPU, at an I/O exit and at an arbitrary point, and goes on
 * exactly as a run that was never interrupted; and sync_regs in kvm_run.
 *
 * Linux behaviour worth knowing (asserted below):
 *  - State is consistent at an I/O exit only once the I/O is completed
 *    with a KVM_RUN that has immediate_exit set (vcpu_settle_rip()).
 *  - KVM_RUN with kvm_dirty_regs applies the registers from kvm_run before
 *    it completes the I/O of the last exit: userspace that writes back the
 *    registers it got at an OUT (RIP on the OUT) does not run the OUT twice.
 *    The dirty bits are cleared once applied.
 *  - KVM_CAP_NESTED_STATE is the largest nested state: the header and a
 *    VMCB on AMD.  A vCPU that never ran a nested guest has the state
 *    "outside guest mode" (AMD: flags = GIF_SET, nothing after the
 *    header); KVM_GET_NESTED_STATE with too small a size fails with E2BIG
 *    and writes the size needed back.  KVM_SET_NESTED_STATE takes that
 *    state back, and refuses guest mode while EFER.SVME is clear.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "vm.h"

#define CR4_OSFXSR	(1ULL << 9)
#define CR4_OSXMMEXCPT	(1ULL << 10)
#define CR4_OSXSAVE	(1ULL << 18)

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

/*
 * Dirty x87 and SSE first (so that they are not in their initial state
 * any more), stop; then report XMM0's low dword and the x87 control word
 * the host set, and load XMM1 and ST0.
 */
GUEST_CODE(fpu_guest,
	"mov $1, %eax\n"
	"movd %eax, %xmm7\n"
	"fld1\n"
	"fstp %st(0)\n"
	"out %al, $0x12\n"
	"movd %xmm0, %eax\n"
	"out %eax, $0x10\n"
	"fnstcw (0x600)\n"
	"mov (0x600), %ax\n"
	"out %ax, $0x11\n"
	"mov $0xfeedf00d, %eax\n"
	"movd %eax, %xmm1\n"
	"fld1\n"
	"hlt\n"
);

static void enable_sse(struct vcpu *vcpu)
{
	struct kvm_sregs s;

	vcpu_get_sregs(vcpu, &s);
	s.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	vcpu_set_sregs(vcpu, &s);
}

/*
 * Linux 6.1's KVM_GET_FPU/KVM_SET_FPU leave MXCSR out (it reads as 0), and
 * with XSAVE a KVM_SET_FPU lands in a buffer whose XSTATE_BV may still say
 * "initial state": on a vCPU whose x87/SSE state was never used, XRSTOR
 * then ignores it.  So the guest dirties both before the host sets them.
 */
TEST(fpu_round_trip_and_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(fpu_guest);
	struct kvm_fpu f, g;

	enable_sse(vcpu);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &f));
	ASSERT_EQ(f.fcw, 0x37f);	/* power-on state, FNINIT's */

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x12), 1);
	vcpu_settle_rip(vcpu);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &f));
	ASSERT_EQ(f.xmm[7][0], 1);
	f.fcw = 0x0f7f;
	memset(f.xmm, 0, sizeof(f.xmm));
	f.xmm[0][0] = 0x78;
	f.xmm[0][1] = 0x56;
	f.xmm[0][2] = 0x34;
	f.xmm[0][3] = 0x12;
	f.xmm[7][15] = 0x99;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_FPU, &f));
	memset(&g, 0, sizeof(g));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &g));
	ASSERT_EQ(g.fcw, 0x0f7f);
	ASSERT_EQ(memcmp(g.xmm, f.xmm, sizeof(f.xmm)), 0);

	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x10), 0x12345678);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0x0f7f);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &g));
	ASSERT_EQ(g.xmm[1][0], 0x0d);
	ASSERT_EQ(g.xmm[1][1], 0xf0);
	ASSERT_EQ(g.xmm[1][2], 0xed);
	ASSERT_EQ(g.xmm[1][3], 0xfe);
	ASSERT_EQ(g.xmm[7][15], 0x99);
	/* ST0 = 1.0: an 80-bit 1.0 is 0x3fff:8000000000000000. */
	ASSERT_EQ(g.fpr[0][7], 0x80);
	ASSERT_EQ(g.fpr[0][8], 0xff);
	ASSERT_EQ(g.fpr[0][9], 0x3f);
	/* TOP moved to 7 (bits 11-13 of FSW). */
	ASSERT_EQ((g.fsw >> 11) & 7, 7);
}

static int xsave_size(struct vm *vm)
{
	int size = 0;

	if (kvm_check_cap(vm->kvm_fd, KVM_CAP_XSAVE2))
		size = kvm_check_cap(vm->fd, KVM_CAP_XSAVE2);
	return size > (int)sizeof(struct kvm_xsave) ? size :
						       (int)sizeof(struct kvm_xsave);
}

static void get_xsave(struct vcpu *vcpu, void *buf, int size)
{
	if (size > (int)sizeof(struct kvm_xsave))
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XSAVE2, buf));
	else
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XSAVE, buf));
}

TEST(xsave_round_trip)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *sup;
	struct kvm_cpuid_entry2 *d0;
	int size;
	uint8_t *a, *b;
	uint64_t xcr0, *xstate_bv;

	if (!kvm_check_cap(vm->kvm_fd, KVM_CAP_XSAVE))
		SKIP("no KVM_CAP_XSAVE");
	sup = kvm_supported_cpuid(vm->kvm_fd);
	d0 = cpuid_find(sup, 0xd, 0);
	ASSERT_TRUE(d0 != NULL);
	xcr0 = d0->eax | (uint64_t)d0->edx << 32;
	vcpu_set_cpuid(vcpu, sup);
	size = xsave_size(vm);
	a = calloc(1, size);
	b = calloc(1, size);
	ASSERT_TRUE(a && b);

	get_xsave(vcpu, a, size);
	/* Legacy area: FCW at 0, MXCSR at 24; the header's XSTATE_BV at 512. */
	ASSERT_EQ(*(uint16_t *)a, 0x37f);
	ASSERT_EQ(*(uint32_t *)(a + 24), 0x1f80);

	/* XMM2 and, if offered, the upper half of YMM2. */
	memset(a + 160 + 2 * 16, 0x5c, 16);
	xstate_bv = (uint64_t *)(a + 512);
	*xstate_bv |= 3;
	if (xcr0 & 4) {
		struct kvm_cpuid_entry2 *d2 = cpuid_find(sup, 0xd, 2);

		ASSERT_TRUE(d2 != NULL);
		memset(a + d2->ebx + 2 * 16, 0xc5, 16);
		*xstate_bv |= 4;
	}
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XSAVE, a));
	get_xsave(vcpu, b, size);
	ASSERT_EQ(memcmp(b + 160, a + 160, 256), 0);
	ASSERT_TRUE(*(uint64_t *)(b + 512) & 2);
	if (xcr0 & 4) {
		struct kvm_cpuid_entry2 *d2 = cpuid_find(sup, 0xd, 2);

		ASSERT_TRUE(*(uint64_t *)(b + 512) & 4);
		ASSERT_EQ(memcmp(b + d2->ebx, a + d2->ebx, d2->eax), 0);
	}

	/* What came back goes back in unchanged. */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XSAVE, b));
	get_xsave(vcpu, a, size);
	ASSERT_EQ(memcmp(a, b, 512 + 64), 0);

	/* KVM_GET_FPU sees the same XMM2. */
	{
		struct kvm_fpu f;

		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &f));
		ASSERT_EQ(memcmp(f.xmm[2], b + 160 + 32, 16), 0);
	}
}

TEST(xcrs_round_trip)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid2 *sup;
	struct kvm_xcrs x;

	if (!kvm_check_cap(vm->kvm_fd, KVM_CAP_XCRS))
		SKIP("no KVM_CAP_XCRS");
	sup = kvm_supported_cpuid(vm->kvm_fd);
	vcpu_set_cpuid(vcpu, sup);

	memset(&x, 0xff, sizeof(x));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &x));
	ASSERT_EQ(x.nr_xcrs, 1);
	ASSERT_EQ(x.flags, 0);
	ASSERT_EQ(x.xcrs[0].xcr, 0);
	ASSERT_EQ(x.xcrs[0].value, 1);		/* x87 only at reset */

	x.xcrs[0].value = 3;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &x));
	memset(&x, 0, sizeof(x));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &x));
	ASSERT_EQ(x.xcrs[0].value, 3);

	/* No x87; AVX without SSE; a feature the table does not offer. */
	x.xcrs[0].value = 2;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_XCRS, &x), EINVAL);
	x.xcrs[0].value = 5;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_XCRS, &x), EINVAL);
	x.xcrs[0].value = 1ULL << 62 | 3;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_XCRS, &x), EINVAL);
	/* Too many XCRs. */
	x.xcrs[0].value = 3;
	x.nr_xcrs = KVM_MAX_XCRS + 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_XCRS, &x), EINVAL);
	memset(&x, 0, sizeof(x));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &x));
	ASSERT_EQ(x.xcrs[0].value, 3);
}

TEST(debugregs_round_trip)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_debugregs d;

	memset(&d, 0xff, sizeof(d));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &d));
	ASSERT_EQ(d.db[0], 0);
	ASSERT_EQ(d.db[3], 0);
	ASSERT_EQ(d.dr6, 0xffff0ff0);
	ASSERT_EQ(d.dr7, 0x400);
	ASSERT_EQ(d.flags, 0);

	d.db[0] = 0x1000;
	d.db[1] = 0xffffffff81000000ULL;
	d.db[2] = 0x7fff0000;
	d.db[3] = 0x12345678;
	d.dr6 = 0xffff0ff1;
	d.dr7 = 0x700;		/* GE, LE, nothing enabled */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d));
	{
		struct kvm_debugregs g;

		memset(&g, 0, sizeof(g));
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &g));
		ASSERT_EQ(g.db[0], d.db[0]);
		ASSERT_EQ(g.db[1], d.db[1]);
		ASSERT_EQ(g.db[2], d.db[2]);
		ASSERT_EQ(g.db[3], d.db[3]);
		ASSERT_EQ(g.dr6, d.dr6);
		ASSERT_EQ(g.dr7, d.dr7);
	}
	/* DR6 and DR7 are 32-bit; flags must be 0. */
	d.dr7 = 1ULL << 32 | 0x400;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d), EINVAL);
	d.dr7 = 0x400;
	d.dr6 = 1ULL << 40 | 0xffff0ff0;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d), EINVAL);
	d.dr6 = 0xffff0ff0;
	d.flags = 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d), EINVAL);
}

TEST(mp_state_round_trip)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_mp_state mp = { .mp_state = 0xff };

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp));
	ASSERT_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp));
	/* Without an in-kernel LAPIC, only RUNNABLE. */
	mp.mp_state = KVM_MP_STATE_HALTED;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), EINVAL);
	mp.mp_state = 0xff;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), EINVAL);
}

/* ------------------------------------------------------------------ */
/* Save and restore into a fresh VM                                    */

/*
 * State in everything: an LCG in EBX, a mix in ESI, a counter in EDI,
 * rotating ECX/EDX, arrays in ES, FS and GS, an x87 sum of thirds rounded
 * with the control word the host set (toward zero), an SSE accumulator.
 * Every (mask + 1) iterations it OUTs a digest of all of it on port 0x10.
 * Constants from the host: 0x5e4 = 3 (int32), 0x5ea = FCW, 0x5ec = mask.
 */
GUEST_CODE(state_guest,
	"mov $0x2000, %ax\n"
	"mov %ax, %es\n"
	"mov $0x3000, %ax\n"
	"mov %ax, %fs\n"
	"mov $0x4000, %ax\n"
	"mov %ax, %gs\n"
	"fninit\n"
	"fldcw (0x5ea)\n"
	"fld1\n"
	"fidivl (0x5e4)\n"
	"fldz\n"
	"pxor %xmm0, %xmm0\n"
	"mov $0x12345678, %ebx\n"
	"mov $1, %esi\n"
	"xor %edi, %edi\n"
	"1:\n"
	"imul $1103515245, %ebx, %ebx\n"
	"add $12345, %ebx\n"
	"mov %di, %bp\n"
	"and $0x3fc, %bp\n"
	"xor %ebx, %es:(%bp)\n"
	"add %ebx, %fs:(%bp)\n"
	"mov %gs:(%bp), %eax\n"
	"add %esi, %eax\n"
	"mov %eax, %gs:(%bp)\n"
	"fadd %st(1), %st\n"
	"movd %ebx, %xmm1\n"
	"paddd %xmm1, %xmm0\n"
	"pshufd $0x39, %xmm0, %xmm0\n"
	"lea (%esi,%esi,2), %esi\n"
	"add %edi, %esi\n"
	"rol $3, %ecx\n"
	"add %ecx, %edx\n"
	"push %edx\n"
	"pop %eax\n"
	"inc %edi\n"
	"test %edi, (0x5ec)\n"
	"jnz 1b\n"
	"movd %xmm0, %eax\n"
	"xor %ebx, %eax\n"
	"xor %esi, %eax\n"
	"xor %edx, %eax\n"
	"fistl (0x5e0)\n"
	"xor (0x5e0), %eax\n"
	"xor %es:(%bp), %eax\n"
	"xor %fs:(%bp), %eax\n"
	"xor %gs:(%bp), %eax\n"
	"out %eax, $0x10\n"
	"jmp 1b\n"
);

#define NR_DIGESTS	64
#define MAX_DIGESTS	4096	/* for the runs that go on until moved enough */
/* A digest every state_mask + 1 iterations (a power of two). */
static uint32_t state_mask = 511;

struct saved_state {
	struct kvm_cpuid2 *cpuid;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	void *xsave;
	int xsave_size;
	struct kvm_xcrs xcrs;
	bool has_xcrs;
	struct kvm_msrs *msrs;
	struct kvm_debugregs debugregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	void *mem;
};

static struct kvm_cpuid2 *state_cpuid;	/* the table every run uses */
static uint64_t state_xcr0;

static struct vcpu *state_vm(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct kvm_cpuid_entry2 *e1, *d0;

	if (!state_cpuid) {
		state_cpuid = kvm_supported_cpuid(vm->kvm_fd);
		e1 = cpuid_find(state_cpuid, 1, 0);
		d0 = cpuid_find(state_cpuid, 0xd, 0);
		if (e1 && (e1->ecx & (1U << 26)) && d0 &&
		    kvm_check_cap(vm->kvm_fd, KVM_CAP_XCRS))
			state_xcr0 = d0->eax & 7;
	}
	vcpu_set_cpuid(vcpu, state_cpuid);
	return vcpu;
}

/* A VM and vCPU set up to run state_guest from the start. */
static struct vcpu *state_start(void)
{
	struct vcpu *vcpu = state_vm();
	struct vm *vm = vcpu->vm;
	uint32_t three = 3, mask = state_mask;
	uint16_t fcw = 0x0f7f;		/* round toward zero */
	struct kvm_debugregs d;
	struct kvm_sregs s;
	struct kvm_regs r;

	vm_load_guest(vm, state_guest);
	vm_write(vm, 0x5e4, &three, 4);
	vm_write(vm, 0x5ea, &fcw, 2);
	vm_write(vm, 0x5ec, &mask, 4);
	vcpu_set_real_mode(vcpu, CODE_ADDR);

	vcpu_get_sregs(vcpu, &s);
	s.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (state_xcr0)
		s.cr4 |= CR4_OSXSAVE;
	vcpu_set_sregs(vcpu, &s);
	if (state_xcr0) {
		struct kvm_xcrs x = { .nr_xcrs = 1 };

		x.xcrs[0].value = state_xcr0;
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &x));
	}

	vcpu_get_regs(vcpu, &r);
	r.rcx = 0x13579bdf;
	r.rdx = 0x2468ace0;
	r.r8 = 0x0808080808080808ULL;
	r.r15 = 0x1515151515151515ULL;
	vcpu_set_regs(vcpu, &r);

	memset(&d, 0, sizeof(d));
	d.db[0] = 0x1111;
	d.db[1] = 0x2222;
	d.db[2] = 0x3333;
	d.db[3] = 0x4444;
	d.dr6 = 0xffff0ff0;
	d.dr7 = 0x400;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d));

	vcpu_set_msr(vcpu, 0xc0000081, 0x0023001000000000ULL);	/* STAR */
	vcpu_set_msr(vcpu, 0xc0000082, 0xffffffff81a00000ULL);	/* LSTAR */
	vcpu_set_msr(vcpu, 0x277, 0x0007010600070106ULL);	/* PAT */
	return vcpu;
}

/* Linux's paravirtual MSRs: see test_msr.c. */
static bool pv_msr(uint32_t index)
{
	return (index >= 0x4b564d00 && index <= 0x4b564dff) ||
	       (index >= 0x40000000 && index <= 0x400000ff);
}

static void save_state(struct vcpu *vcpu, struct saved_state *st, bool xsave)
{
	struct vm *vm = vcpu->vm;
	struct kvm_msr_list head = { .nmsrs = 0 }, *l;
	int r;

	memset(st, 0, sizeof(*st));
	st->cpuid = vcpu_get_cpuid(vcpu);
	vcpu_get_regs(vcpu, &st->regs);
	vcpu_get_sregs(vcpu, &st->sregs);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_FPU, &st->fpu));
	if (xsave && kvm_check_cap(vm->kvm_fd, KVM_CAP_XSAVE)) {
		st->xsave_size = xsave_size(vm);
		st->xsave = calloc(1, st->xsave_size);
		ASSERT_TRUE(st->xsave != NULL);
		get_xsave(vcpu, st->xsave, st->xsave_size);
	}
	if (kvm_check_cap(vm->kvm_fd, KVM_CAP_XCRS)) {
		st->has_xcrs = true;
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &st->xcrs));
	}

	ASSERT_ERRNO(ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &head), E2BIG);
	l = calloc(1, sizeof(*l) + head.nmsrs * sizeof(uint32_t));
	ASSERT_TRUE(l != NULL);
	l->nmsrs = head.nmsrs;
	ASSERT_OK(ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l));
	st->msrs = calloc(1, sizeof(*st->msrs) +
			  l->nmsrs * sizeof(struct kvm_msr_entry));
	ASSERT_TRUE(st->msrs != NULL);
	st->msrs->nmsrs = l->nmsrs;
	for (uint32_t i = 0; i < l->nmsrs; i++)
		st->msrs->entries[i].index = l->indices[i];
	r = ioctl(vcpu->fd, KVM_GET_MSRS, st->msrs);
	if (r >= 0 && r < (int)l->nmsrs)
		TH_LOG("KVM_GET_MSRS stopped at MSR 0x%x", l->indices[r]);
	ASSERT_EQ(r, l->nmsrs);
	free(l);

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &st->debugregs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &st->events));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_MP_STATE, &st->mp_state));
	st->mem = malloc(vm->mem_size);
	ASSERT_TRUE(st->mem != NULL);
	memcpy(st->mem, vm->mem, vm->mem_size);
}

/* A fresh VM and vCPU with the saved state, in the order VMMs use. */
static struct vcpu *restore_state(const struct saved_state *st)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);

	memcpy(vm->mem, st->mem, vm->mem_size);
	vcpu_set_cpuid(vcpu, st->cpuid);
	vcpu_set_sregs(vcpu, &st->sregs);
	for (uint32_t i = 0; i < st->msrs->nmsrs; i++) {
		const struct kvm_msr_entry *e = &st->msrs->entries[i];

		if (vcpu_set_msr_raw(vcpu, e->index, e->data) != 1 &&
		    !pv_msr(e->index)) {
			TH_LOG("restoring MSR 0x%x = 0x%llx failed", e->index,
			       (unsigned long long)e->data);
			th_fail_now();
		}
	}
	if (st->has_xcrs)
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &st->xcrs));
	if (st->xsave)
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XSAVE, st->xsave));
	else
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_FPU, &st->fpu));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &st->events));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_MP_STATE, &st->mp_state));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &st->debugregs));
	vcpu_set_regs(vcpu, &st->regs);
	return vcpu;
}

static void free_state(struct saved_state *st)
{
	free(st->cpuid);
	free(st->xsave);
	free(st->msrs);
	free(st->mem);
}

/* Move the guest to a fresh VM; the old one is closed. */
static struct vcpu *migrate(struct vcpu *vcpu, bool xsave)
{
	struct saved_state st;
	struct vm *old = vcpu->vm;
	struct vcpu *fresh;

	save_state(vcpu, &st, xsave);
	vcpu_free(vcpu);
	vm_free(old);
	fresh = restore_state(&st);

	/* What was restored reads back the same. */
	{
		struct kvm_regs r;
		struct kvm_sregs s;
		struct kvm_debugregs d;

		vcpu_get_regs(fresh, &r);
		ASSERT_EQ(memcmp(&r, &st.regs, sizeof(r)), 0);
		vcpu_get_sregs(fresh, &s);
		ASSERT_EQ(s.cr0, st.sregs.cr0);
		ASSERT_EQ(s.cr4, st.sregs.cr4);
		ASSERT_EQ(s.es.selector, st.sregs.es.selector);
		ASSERT_EQ(s.gs.base, st.sregs.gs.base);
		ASSERT_OK(ioctl(fresh->fd, KVM_GET_DEBUGREGS, &d));
		ASSERT_EQ(memcmp(d.db, st.debugregs.db, sizeof(d.db)), 0);
		ASSERT_EQ(d.dr7, st.debugregs.dr7);
	}
	free_state(&st);
	return fresh;
}

static uint32_t reference[MAX_DIGESTS];
static struct kvm_regs reference_regs;

static uint32_t rol32(uint32_t v, int n)
{
	return v << n | v >> (32 - n);
}

/*
 * What state_guest computes, computed here: the digests the guest must
 * report, whatever happens to it in between, and its final registers.
 */
static void run_reference_n(int n)
{
	static uint32_t es[256], fs[256], gs[256];
	uint32_t ebx = 0x12345678, esi = 1, edi = 0, ecx = 0x13579bdf;
	uint32_t edx = 0x2468ace0, xmm[4] = { 0 }, t, bp = 0;
	volatile long double one = 1, three = 3;
	long double third, sum = 0;
	uint16_t cw, guest_cw = 0x0f7f;

	memset(es, 0, sizeof(es));
	memset(fs, 0, sizeof(fs));
	memset(gs, 0, sizeof(gs));
	/* x87 with the guest's control word: 64-bit precision, chop. */
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("fldcw %0" : : "m"(guest_cw));
	third = one / three;
	for (int k = 0; k < n;) {
		ebx = ebx * 1103515245u + 12345;
		bp = (edi & 0x3fc) / 4;
		es[bp] ^= ebx;
		fs[bp] += ebx;
		gs[bp] += esi;
		sum = *(volatile long double *)&sum + third;
		xmm[0] += ebx;
		t = xmm[0];
		xmm[0] = xmm[1];
		xmm[1] = xmm[2];
		xmm[2] = xmm[3];
		xmm[3] = t;
		esi = esi * 3 + edi;
		ecx = rol32(ecx, 3);
		edx += ecx;
		edi++;
		if (edi & state_mask)
			continue;
		reference[k++] = xmm[0] ^ ebx ^ esi ^ edx ^ (uint32_t)(int32_t)sum ^
				 es[bp] ^ fs[bp] ^ gs[bp];
	}
	__asm__ volatile("fldcw %0" : : "m"(cw));

	memset(&reference_regs, 0, sizeof(reference_regs));
	reference_regs.rip = CODE_ADDR + (state_guest_end - state_guest);
	reference_regs.rbx = ebx;
	reference_regs.rsi = esi;
	reference_regs.rdi = edi;
	reference_regs.rcx = ecx;
	reference_regs.rdx = edx;
	reference_regs.rsp = STACK_TOP;
	reference_regs.r8 = 0x0808080808080808ULL;
	reference_regs.r15 = 0x1515151515151515ULL;
}

static void run_reference(void)
{
	run_reference_n(NR_DIGESTS);
}

static void check_end(struct vcpu *vcpu)
{
	struct kvm_regs r;

	/* Complete the last OUT: RIP on the final "jmp". */
	vcpu_settle_rip(vcpu);
	vcpu_get_regs(vcpu, &r);
	ASSERT_EQ(r.rip + 2, reference_regs.rip);
	ASSERT_EQ((uint32_t)r.rbx, reference_regs.rbx);
	ASSERT_EQ((uint32_t)r.rsi, reference_regs.rsi);
	ASSERT_EQ((uint32_t)r.rdi, reference_regs.rdi);
	ASSERT_EQ((uint32_t)r.rcx, reference_regs.rcx);
	ASSERT_EQ((uint32_t)r.rdx, reference_regs.rdx);
	ASSERT_EQ(r.rsp, reference_regs.rsp);
	ASSERT_EQ(r.r8, reference_regs.r8);
	ASSERT_EQ(r.r15, reference_regs.r15);
}

/* The guest's digests, checked against the reference as they come. */
static void check_digest(struct vcpu *vcpu, int i, int moves)
{
	uint32_t d = *(uint32_t *)ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 4, 0x10);

	if (d != reference[i]) {
		TH_LOG("digest %d: 0x%08x, expected 0x%08x (after %d moves)",
		       i, d, reference[i], moves);
		th_fail_now();
	}
}

/* No interruption at all: the guest computes what it should. */
TEST(state_guest_computes_reference)
{
	struct vcpu *vcpu;

	run_reference();
	vcpu = state_start();
	for (int i = 0; i < NR_DIGESTS; i++) {
		vcpu_run(vcpu);
		check_digest(vcpu, i, 0);
	}
	check_end(vcpu);
}

static volatile int hog_stop;

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_OK(sched_setaffinity(0, sizeof(set), &set));
}

/* Keep CPU 0 busy with other x87/SSE contents. */
static void *fpu_hog(void *arg)
{
	(void)arg;
	pin_to_cpu0();
	while (!hog_stop) {
		__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n"
				 "pcmpeqd %%xmm1, %%xmm1\n"
				 "pcmpeqd %%xmm7, %%xmm7\n"
				 "fldpi\n"
				 "fldpi\n"
				 "fstp %%st(0)\n"
				 "fstp %%st(0)\n"
				 ::: "xmm0", "xmm1", "xmm7", "memory");
	}
	return NULL;
}

/*
 * The vCPU thread shares CPU 0 with a thread that uses the FPU: the
 * scheduler switches between them while the guest runs, and the guest's
 * x87/SSE registers must come back as they were each time.
 */
TEST(guest_fpu_survives_preemption)
{
	struct vcpu *vcpu;
	pthread_t hog;

	struct rusage before, after;

	state_mask = 8191;		/* long stretches in the guest */
	run_reference();
	pin_to_cpu0();
	vcpu = state_start();
	hog_stop = 0;
	ASSERT_EQ(pthread_create(&hog, NULL, fpu_hog, NULL), 0);
	ASSERT_OK(getrusage(RUSAGE_THREAD, &before));
	for (int i = 0; i < NR_DIGESTS; i++) {
		vcpu_run(vcpu);
		check_digest(vcpu, i, 0);
	}
	ASSERT_OK(getrusage(RUSAGE_THREAD, &after));
	hog_stop = 1;
	pthread_join(hog, NULL);
	TH_LOG("%ld involuntary context switches",
	       after.ru_nivcsw - before.ru_nivcsw);
	check_end(vcpu);
}

/*
 * Restoring with KVM_SET_FPU instead of KVM_SET_XSAVE: on a host with XSAVE
 * a fresh vCPU's FPU buffer says "initial state" and the x87/SSE registers
 * restored with KVM_SET_FPU are dropped on Linux 6.1 (MXCSR is not even
 * carried); VMMs use KVM_SET_XSAVE there.  Only tried without XSAVE.
 */
static void skip_fpu_only_with_xsave(bool xsave)
{
	int kvm = kvm_open();
	bool has = kvm_check_cap(kvm, KVM_CAP_XSAVE);

	close(kvm);
	if (!xsave && has)
		SKIP("with XSAVE, VMMs restore the FPU through KVM_SET_XSAVE");
}

static void migrate_at_io_exits(bool xsave)
{
	struct vcpu *vcpu;
	int i;

	skip_fpu_only_with_xsave(xsave);
	run_reference();
	vcpu = state_start();
	for (i = 0; i < NR_DIGESTS; i++) {
		vcpu_run(vcpu);
		check_digest(vcpu, i, i / 12);
		if (i % 12 == 5) {
			/* Complete the OUT, then move. */
			vcpu_settle_rip(vcpu);
			vcpu = migrate(vcpu, xsave);
		}
	}
	check_end(vcpu);
}

TEST(migrate_at_io_exits_xsave)
{
	migrate_at_io_exits(true);
}

TEST(migrate_at_io_exits_fpu)
{
	migrate_at_io_exits(false);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * Interrupt KVM_RUN with a timer signal wherever the guest happens to be,
 * and move it then; digests that come out meanwhile are checked.
 */
static void migrate_anywhere(bool xsave)
{
	struct vcpu *vcpu;
	int i = 0, moves = 0;

	skip_fpu_only_with_xsave(xsave);
	run_reference_n(MAX_DIGESTS);

	/*
	 * At least NR_DIGESTS digests, and on until moved 4 times; the run
	 * ends at a digest's OUT, where check_end() expects the guest.
	 */
	vcpu = state_start();
	vm_alarm_every(200, on_alarm);
	for (;;) {
		int r;

		ASSERT_LT(i, MAX_DIGESTS);
		r = vcpu_run_raw(vcpu);
		if (r < 0) {
			ASSERT_EQ(errno, EINTR);
			ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
			/* Once the guest is well into its work. */
			if (i > 0 && moves < 6) {
				/* No signals while moving: ioctls would fail. */
				vm_alarm_off();
				vcpu = migrate(vcpu, xsave);
				moves++;
				vm_alarm_every(200, on_alarm);
			}
			continue;
		}
		check_digest(vcpu, i++, moves);
		if (i >= NR_DIGESTS && moves >= 4)
			break;
	}
	vm_alarm_off();
	TH_LOG("moved %d times mid-guest in %d digests (%d alarms)", moves, i,
	       (int)alarms);
	run_reference_n(i);		/* the registers after i digests */
	check_end(vcpu);
}

TEST(migrate_anywhere_xsave)
{
	migrate_anywhere(true);
}

TEST(migrate_anywhere_fpu)
{
	migrate_anywhere(false);
}

/* ------------------------------------------------------------------ */
/* sync_regs                                                           */

GUEST_CODE(sync_guest,
	"1:\n"
	"mov %bx, %ax\n"
	"out %ax, $0x10\n"		/* 1002 */
	"mov (0x10), %al\n"
	"out %al, $0x11\n"
	"inc %bx\n"
	"jmp 1b\n"
);

#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

TEST(sync_regs_cap_and_invalid_bits)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sync_guest);
	struct kvm_run *run = vcpu->run;

	ASSERT_EQ(kvm_check_cap(vcpu->vm->fd, KVM_CAP_SYNC_REGS), SYNC_ALL);
	run->kvm_valid_regs = SYNC_ALL | 0x8;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINVAL);
	run->kvm_valid_regs = 1ULL << 40;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINVAL);
	run->kvm_valid_regs = 0;
	run->kvm_dirty_regs = 0x10;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINVAL);
	run->kvm_dirty_regs = 0;
	/* The guest did not run. */
	ASSERT_EQ(vcpu_rip(vcpu), CODE_ADDR);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0);
}

TEST(sync_regs_valid)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sync_guest);
	struct kvm_run *run = vcpu->run;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_vcpu_events ev;

	run->kvm_valid_regs = SYNC_ALL;
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0);
	vcpu_get_regs(vcpu, &r);
	ASSERT_EQ(memcmp(&r, &run->s.regs.regs, sizeof(r)), 0);
	vcpu_get_sregs(vcpu, &s);
	ASSERT_EQ(memcmp(&s, &run->s.regs.sregs, sizeof(s)), 0);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ASSERT_EQ(memcmp(&ev, &run->s.regs.events, sizeof(ev)), 0);

	/* Changed without a dirty bit: ignored. */
	run->s.regs.regs.rbx = 0x7777;
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 1);
	ASSERT_EQ(run->s.regs.regs.rbx, 1);
	/* Each exit refreshes them. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0);
	ASSERT_EQ(run->s.regs.regs.rbx, 1);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 2);
	ASSERT_EQ(run->s.regs.regs.rbx, 2);
	ASSERT_EQ(run->s.regs.regs.rax, 2);
}

TEST(sync_regs_dirty_regs)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sync_guest);
	struct kvm_run *run = vcpu->run;


	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0);
	/*
	 * Write back the registers of the OUT exit, RIP still on the OUT,
	 * with BX changed: the OUT completes once, not twice.
	 */
	run->s.regs.regs.rbx = 0x1233;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0);
	ASSERT_EQ(run->kvm_dirty_regs, 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x1234);
	ASSERT_EQ(run->s.regs.regs.rbx, 0x1234);

	/* A new RIP through sync_regs: the guest goes there. */
	run->s.regs.regs.rip = CODE_ADDR;
	run->s.regs.regs.rbx = 0x4000;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0x4000);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0);
}

TEST(sync_regs_dirty_sregs)
{
	struct vcpu *vcpu = VM_WITH_GUEST(sync_guest);
	struct kvm_run *run = vcpu->run;

	*(uint8_t *)vm_ptr(vcpu->vm, 0x10) = 0xa5;
	*(uint8_t *)vm_ptr(vcpu->vm, 0x1010) = 0x5a;
	run->kvm_valid_regs = KVM_SYNC_X86_SREGS;
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), 0);
	ASSERT_EQ(run->s.regs.sregs.ds.base, 0);
	run->s.regs.sregs.ds.selector = 0x100;
	run->s.regs.sregs.ds.base = 0x1000;
	run->kvm_dirty_regs = KVM_SYNC_X86_SREGS;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x5a);
	ASSERT_EQ(run->kvm_dirty_regs, 0);
	ASSERT_EQ(run->s.regs.sregs.ds.base, 0x1000);
	{
		struct kvm_sregs s;

		vcpu_get_sregs(vcpu, &s);
		ASSERT_EQ(s.ds.selector, 0x100);
	}
}

/* ------------------------------------------------------------------ */
/* Nested state, outside guest mode                                     */

GUEST_CODE(nested_hlt_guest,
	"hlt\n"
);

TEST(nested_state_outside_guest_mode)
{
	struct vcpu *vcpu = VM_WITH_GUEST(nested_hlt_guest);
	int max = kvm_check_cap(vcpu->vm->fd, KVM_CAP_NESTED_STATE);
	struct kvm_nested_state *st;
	bool svm;

	if (max <= 0)
		SKIP("no KVM_CAP_NESTED_STATE");
	ASSERT_GE(max, (int)sizeof(*st));
	st = calloc(1, max);
	ASSERT_TRUE(st != NULL);

	st->size = 0;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_NESTED_STATE, st), E2BIG);
	ASSERT_EQ(st->size, sizeof(*st));
	st->size = max;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_NESTED_STATE, st));
	ASSERT_EQ(st->size, sizeof(*st));
	svm = st->format == KVM_STATE_NESTED_FORMAT_SVM;
	if (svm) {
		ASSERT_EQ(max, sizeof(*st) + KVM_STATE_NESTED_SVM_VMCB_SIZE);
		ASSERT_EQ(st->flags, KVM_STATE_NESTED_GIF_SET);
	} else {
		ASSERT_EQ(st->format, KVM_STATE_NESTED_FORMAT_VMX);
		ASSERT_EQ(st->flags & KVM_STATE_NESTED_GUEST_MODE, 0);
	}

	/* It goes back as it came. */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st));
	/* Too small, unknown flags, run pending without guest mode. */
	st->size = sizeof(*st) - 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
	st->size = sizeof(*st);
	st->flags |= 0x8000;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
	st->flags &= ~0x8000;
	st->flags |= KVM_STATE_NESTED_RUN_PENDING;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
	st->flags &= ~KVM_STATE_NESTED_RUN_PENDING;
	if (svm) {
		/* The other format; guest mode with SVME clear; no GIF. */
		st->format = KVM_STATE_NESTED_FORMAT_VMX;
		ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
		st->format = KVM_STATE_NESTED_FORMAT_SVM;
		st->flags |= KVM_STATE_NESTED_GUEST_MODE;
		ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
		st->flags = 0;
		ASSERT_ERRNO(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st), EINVAL);
		st->flags = KVM_STATE_NESTED_GIF_SET;
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_NESTED_STATE, st));
	}
	/* The guest runs on. */
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	free(st);
}

TEST_HARNESS_MAIN
