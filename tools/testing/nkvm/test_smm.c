// SPDX-License-Identifier: GPL-2.0
/*
 * test_smm.c - System Management Mode beyond what the kernel selftest
 * smm_test covers: the 32-bit and AMD64 state-save maps of an SMI taken in
 * real mode, RSM bringing the state back, SMRAM in address space 1 seen
 * only in SMM (and its dirty log), an SMI latched while in SMM, NMIs held
 * back in SMM, SMIs through KVM_SET_VCPU_EVENTS, MSR_IA32_SMBASE, and an SMI
 * in long mode that the guest's CPUID does not offer.
 *
 * SMRAM is an address-space-1 memslot of its own memory at SMBASE
 * (0x30000 after RESET), SMBASE_SIZE bytes: the handler at SMBASE + 0x8000,
 * the map at SMBASE + 0xfe00.  The same guest-physical range in address
 * space 0 is ordinary RAM with other contents.
 */
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vm.h"

#define SMBASE		0x30000ULL
#define SMRAM_SIZE	0x10000ULL
#define SMRAM_SLOT	((1u << 16) | 1)
#define MSR_SMBASE	0x9e
#define AS0_MARK	0xa1
#define AS1_MARK	0xb2

/*
 * The SMI handler, at SMBASE + 0x8000 (CS = SMBASE >> 4): counts its runs
 * in SMRAM, reports the count (port 0x11), reads SMBASE + 0x1000 (port
 * 0x14), clobbers BX and returns.
 */
GUEST_CODE(smi_handler,
	"mov %cs:0x2000, %al\n"
	"inc %al\n"
	"mov %al, %cs:0x2000\n"
	"out %al, $0x11\n"
	"mov %cs:0x1000, %al\n"
	"out %al, $0x14\n"
	"mov $0x5555, %bx\n"
	"rsm\n"
);

/*
 * Outside SMM: reads SMBASE + 0x1000 (port 0x10), then reports BX (port
 * 0x12) after the SMI the test injects there.  The NMI handler reports on
 * port 0x13.
 */
GUEST_CODE(smm_main,
	"mov $0x1234, %bx\n"
	"mov $0x3000, %ax\n"
	"mov %ax, %ds\n"
	"mov 0x1000, %al\n"
	"out %al, $0x10\n"
	"mov %bx, %ax\n"
	"out %ax, $0x12\n"
	"hlt\n"
	"nmi_handler:\n"
	"mov $0x77, %al\n"
	"out %al, $0x13\n"
	"iret\n"
);

#define NMI_HANDLER_OFF	(GUEST_SIZE(smm_main) - 5)

struct smm_vm {
	struct vcpu *vcpu;
	uint8_t *smram;		/* host memory of address space 1's slot */
};

static void smm_require(void)
{
	int kvm = kvm_open();

	if (kvm_check_cap(kvm, KVM_CAP_X86_SMM) <= 0)
		SKIP("no KVM_CAP_X86_SMM");
	close(kvm);
}

static uint8_t *smram_slot(struct vm *vm, uint32_t slot, uint64_t base,
			   uint32_t flags)
{
	uint8_t *mem = mmap(NULL, SMRAM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_TRUE(mem != MAP_FAILED);
	memcpy(mem + 0x8000, smi_handler, GUEST_SIZE(smi_handler));
	mem[0x1000] = AS1_MARK;
	ASSERT_OK(vm_set_region(vm, slot, flags, base, SMRAM_SIZE,
				(uint64_t)(uintptr_t)mem));
	return mem;
}

static struct smm_vm smm_setup(bool lm, uint32_t flags)
{
	struct smm_vm s;

	smm_require();
	s.vcpu = VM_WITH_GUEST(smm_main);
	/* The guest's CPUID picks the map: long mode, the AMD64 one. */
	if (lm)
		ASSERT_OK(vcpu_try_supported_cpuid(s.vcpu));
	((uint8_t *)vm_ptr(s.vcpu->vm, SMBASE))[0x1000] = AS0_MARK;
	vm_set_ivt(s.vcpu->vm, 2, 0, CODE_ADDR + NMI_HANDLER_OFF);
	s.smram = smram_slot(s.vcpu->vm, SMRAM_SLOT, SMBASE, flags);
	return s;
}

static void get_events(struct vcpu *vcpu, struct kvm_vcpu_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, ev));
}

static uint32_t map32(const uint8_t *smram, uint32_t off)
{
	uint32_t v;

	memcpy(&v, smram + 0x8000 + off, sizeof(v));
	return v;
}

static uint64_t map64(const uint8_t *smram, uint32_t off)
{
	uint64_t v;

	memcpy(&v, smram + 0x8000 + off, sizeof(v));
	return v;
}

static bool in_smm(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	get_events(vcpu, &ev);
	ASSERT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_SMM);
	ASSERT_EQ(!!(vcpu->run->flags & KVM_RUN_X86_SMM), ev.smi.smm);
	return ev.smi.smm;
}

/* Run to the first OUT, inject an SMI there; RIP of the next instruction. */
static uint64_t smi_after_first_out(struct smm_vm *s)
{
	uint64_t rip;

	ASSERT_EQ(RUN_OUT(s->vcpu, 1, 0x10), AS0_MARK);
	ASSERT_FALSE(in_smm(s->vcpu));
	rip = vcpu_settle_rip(s->vcpu);
	ASSERT_OK(ioctl(s->vcpu->fd, KVM_SMI, 0));
	return rip;
}

/* In SMM at the handler's first OUT: where the vCPU is. */
static void assert_smm_entry_state(struct smm_vm *s, uint64_t smbase)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	ASSERT_TRUE(in_smm(s->vcpu));
	vcpu_get_sregs(s->vcpu, &sregs);
	vcpu_get_regs(s->vcpu, &regs);
	ASSERT_EQ(sregs.cs.base, smbase);
	ASSERT_EQ(sregs.cs.selector, (smbase >> 4) & 0xffff);
	ASSERT_EQ(sregs.cr0 & 1, 0);
	ASSERT_EQ(sregs.cr4, 0);
	ASSERT_EQ(sregs.idt.limit, 0);
	ASSERT_EQ(sregs.ds.base, 0);
	ASSERT_TRUE(regs.rip > 0x8000 && regs.rip < 0x8000 + GUEST_SIZE(smi_handler));
	ASSERT_EQ(regs.rflags & 0x200, 0);
}

/* After RSM: BX came back from the map, not the handler's. */
static void finish_after_rsm(struct smm_vm *s)
{
	ASSERT_EQ(RUN_OUT(s->vcpu, 2, 0x12), 0x1234);
	ASSERT_FALSE(in_smm(s->vcpu));
}

TEST(caps)
{
	int kvm = kvm_open();
	struct vm *vm;

	smm_require();
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_X86_SMM), 1);
	ASSERT_EQ(kvm_check_cap(kvm, KVM_CAP_MULTI_ADDRESS_SPACE), 2);
	vm = vm_create(VM_MEM_SIZE);
	ASSERT_EQ(kvm_check_cap(vm->fd, KVM_CAP_MULTI_ADDRESS_SPACE), 2);
	vm_free(vm);
	close(kvm);
}

TEST(smi_round_trip_32bit_map)
{
	struct smm_vm s = smm_setup(false, 0);
	uint64_t rip = smi_after_first_out(&s);

	/* SMRAM (address space 1) shows through in SMM only. */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	assert_smm_entry_state(&s, SMBASE);
	ASSERT_EQ(map32(s.smram, 0x7efc), 0x00020000);	/* revision */
	ASSERT_EQ(map32(s.smram, 0x7ef8), SMBASE);
	ASSERT_EQ(map32(s.smram, 0x7ff0), rip);		/* EIP */
	ASSERT_EQ(map32(s.smram, 0x7fd0 + 3 * 4), 0x1234);	/* EBX */
	ASSERT_EQ(map32(s.smram, 0x7ffc) & 1, 0);	/* CR0: real mode */
	ASSERT_EQ(map32(s.smram, 0x7fa8 + 3 * 4), 0x3000);	/* DS */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	finish_after_rsm(&s);
	/* The address space 0 memory was never written by the SMI. */
	ASSERT_EQ(((uint8_t *)vm_ptr(s.vcpu->vm, SMBASE))[0x1000], AS0_MARK);
	ASSERT_EQ(((uint8_t *)vm_ptr(s.vcpu->vm, SMBASE))[0xfff0], 0);
}

TEST(smi_round_trip_amd64_map)
{
	struct smm_vm s = smm_setup(true, 0);
	uint64_t rip = smi_after_first_out(&s);
	struct kvm_sregs sregs;

	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	assert_smm_entry_state(&s, SMBASE);
	vcpu_get_sregs(s.vcpu, &sregs);
	ASSERT_EQ(sregs.efer, 0);
	ASSERT_EQ(map32(s.smram, 0x7efc), 0x00020064);	/* revision */
	ASSERT_EQ(map32(s.smram, 0x7f00), SMBASE);
	ASSERT_EQ(map64(s.smram, 0x7f78), rip);		/* RIP */
	ASSERT_EQ(map64(s.smram, 0x7ff8 - 3 * 8), 0x1234);	/* RBX */
	ASSERT_EQ(map64(s.smram, 0x7e00 + 3 * 16) & 0xffff, 0x3000); /* DS */
	ASSERT_EQ(map64(s.smram, 0x7e00 + 3 * 16 + 8), 0x30000); /* its base */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	finish_after_rsm(&s);
}

TEST(smi_while_in_smm_is_latched)
{
	struct smm_vm s = smm_setup(false, 0);
	struct kvm_vcpu_events ev;

	smi_after_first_out(&s);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	ASSERT_OK(ioctl(s.vcpu->fd, KVM_SMI, 0));
	vcpu_settle_rip(s.vcpu);
	get_events(s.vcpu, &ev);
	ASSERT_EQ(ev.smi.smm, 1);
	ASSERT_EQ(ev.smi.pending, 1);
	/* Not taken in SMM: the handler goes on to its RSM ... */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	/* ... and then at once. */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 2);
	get_events(s.vcpu, &ev);
	ASSERT_EQ(ev.smi.pending, 0);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	finish_after_rsm(&s);
}

TEST(nmi_waits_for_rsm)
{
	struct smm_vm s = smm_setup(false, 0);
	struct kvm_vcpu_events ev;

	smi_after_first_out(&s);
	/* NMIs unmasked before the SMI (Bochs's VMX may leave them masked). */
	get_events(s.vcpu, &ev);
	if (ev.nmi.masked) {
		TH_LOG("NMIs were masked before the SMI: unmasking them");
		ev.flags = 0;
		ev.nmi.masked = 0;
		ASSERT_OK(ioctl(s.vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	}
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	get_events(s.vcpu, &ev);
	ASSERT_EQ(ev.nmi.masked, 1);
	ASSERT_EQ(ev.smi.smm_inside_nmi, 0);
	ASSERT_OK(ioctl(s.vcpu->fd, KVM_NMI, 0));
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	/* RSM unmasks NMIs: the NMI comes before the next instruction. */
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x13), 0x77);
	finish_after_rsm(&s);
}

TEST(smi_through_vcpu_events)
{
	struct smm_vm s = smm_setup(false, 0);
	struct kvm_vcpu_events ev;

	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x10), AS0_MARK);
	vcpu_settle_rip(s.vcpu);
	get_events(s.vcpu, &ev);
	ASSERT_EQ(ev.smi.pending, 0);
	ev.flags = KVM_VCPUEVENT_VALID_SMM;
	ev.smi.pending = 1;
	ASSERT_OK(ioctl(s.vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	get_events(s.vcpu, &ev);
	ASSERT_EQ(ev.smi.pending, 1);
	ASSERT_EQ(ev.smi.smm, 0);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	ASSERT_TRUE(in_smm(s.vcpu));
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	finish_after_rsm(&s);
}

/* RSM outside SMM is #UD: the real-mode IVT's vector 6 runs. */
GUEST_CODE(rsm_outside,
	"rsm\n"
	"hlt\n"
	"ud_handler:\n"
	"mov $0x66, %al\n"
	"out %al, $0x15\n"
	"hlt\n"
);

TEST(rsm_outside_smm_is_ud)
{
	struct vcpu *vcpu;

	smm_require();
	vcpu = VM_WITH_GUEST(rsm_outside);
	vm_set_ivt(vcpu->vm, 6, 0, CODE_ADDR + 3);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x15), 0x66);
}

TEST(smbase_msr)
{
	struct smm_vm s = smm_setup(false, 0);
	struct kvm_msr_list *list;
	uint8_t *smram2;
	bool found = false;
	uint32_t i;

	ASSERT_EQ(vcpu_get_msr(s.vcpu, MSR_SMBASE), SMBASE);
	list = calloc(1, sizeof(*list) + 1024 * sizeof(uint32_t));
	ASSERT_TRUE(list != NULL);
	list->nmsrs = 1024;
	ASSERT_OK(ioctl(s.vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list));
	for (i = 0; i < list->nmsrs; i++)
		found |= list->indices[i] == MSR_SMBASE;
	ASSERT_TRUE(found);
	free(list);

	/* A new SMBASE: the next SMI goes there. */
	smram2 = smram_slot(s.vcpu->vm, (1u << 16) | 2, 0x50000, 0);
	smram2[0x1000] = 0xc3;
	vcpu_set_msr(s.vcpu, MSR_SMBASE, 0x50000);
	ASSERT_EQ(vcpu_get_msr(s.vcpu, MSR_SMBASE), 0x50000);
	smi_after_first_out(&s);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	assert_smm_entry_state(&s, 0x50000);
	ASSERT_EQ(map32(smram2, 0x7ef8), 0x50000);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), 0xc3);
	finish_after_rsm(&s);
	ASSERT_EQ(s.smram[0x2000], 0);	/* the old SMRAM saw nothing */
}

TEST(address_space_1_slots)
{
	struct smm_vm s = smm_setup(false, 0);
	struct vm *vm = s.vcpu->vm;
	uint64_t hva = (uint64_t)(uintptr_t)s.smram;

	/* No third address space. */
	ASSERT_ERRNO(vm_set_region(vm, (2u << 16) | 3, 0, 0x60000, 0x1000, hva),
		     EINVAL);
	/* Overlaps count within one address space only. */
	ASSERT_ERRNO(vm_set_region(vm, (1u << 16) | 3, 0, SMBASE + 0x1000,
				   0x1000, hva), EEXIST);
	ASSERT_OK(vm_set_region(vm, 3, 0, 0x200000, 0x1000, hva));
	ASSERT_OK(vm_set_region(vm, (1u << 16) | 3, 0, 0x200000, 0x1000, hva));
	/* Slot ids are per address space too. */
	ASSERT_OK(vm_set_region(vm, (1u << 16) | 3, 0, 0, 0, 0));
	ASSERT_OK(vm_set_region(vm, 3, 0, 0, 0, 0));
	ASSERT_ERRNO(vm_set_region(vm, (1u << 16) | 3, 0, 0, 0, 0), EINVAL);
}

TEST(smram_dirty_log)
{
	struct smm_vm s = smm_setup(false, KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t bm[1] = { 0 };
	struct kvm_dirty_log log = {
		.slot = SMRAM_SLOT,
		.dirty_bitmap = bm,
	};

	ASSERT_OK(ioctl(s.vcpu->vm->fd, KVM_GET_DIRTY_LOG, &log));
	smi_after_first_out(&s);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x11), 1);
	ASSERT_EQ(RUN_OUT(s.vcpu, 1, 0x14), AS1_MARK);
	finish_after_rsm(&s);
	memset(bm, 0, sizeof(bm));
	ASSERT_OK(ioctl(s.vcpu->vm->fd, KVM_GET_DIRTY_LOG, &log));
	/* The handler's counter (page 2) and the state-save map (page 15). */
	ASSERT_TRUE(bm[0] & (1ULL << 2));
	ASSERT_TRUE(bm[0] & (1ULL << 15));
	/* Nothing beyond the slot's 16 pages. */
	ASSERT_EQ(bm[0] >> 16, 0);
}

/*
 * An SMI in long mode while the guest's CPUID does not offer long mode (no
 * KVM_SET_CPUID2 here; the fuzzer's random CPUIDs do this): the 32-bit
 * map, and in SMM paging is off, so long mode is not active.  nkvm used to
 * leave EFER.LME and LMA set there, a state KVM_SET_SREGS refuses, and
 * QEMU's TCG, the SVM bed's CPU, hung the whole bed running the handler
 * in it (the fuzz pass with kvm.smm=1).
 */
GUEST_CODE64(long_main,
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(smi_in_long_mode_without_lm_cpuid)
{
	struct kvm_sregs sregs;
	struct vcpu *vcpu;
	uint8_t *smram;

	smm_require();
	vcpu = vm_with_guest_in_mode(long_main, GUEST_SIZE(long_main),
				     MODE_LONG);
	smram = smram_slot(vcpu->vm, SMRAM_SLOT, SMBASE, 0);
	RUN_OUT(vcpu, 1, 0x10);
	vcpu_settle_rip(vcpu);
	ASSERT_OK(ioctl(vcpu->fd, KVM_SMI, 0));
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 1);
	ASSERT_TRUE(in_smm(vcpu));
	ASSERT_EQ(map32(smram, 0x7efc), 0x00020000);	/* the 32-bit map */
	ASSERT_EQ(map32(smram, 0x7ffc) >> 31, 1);	/* CR0.PG saved */
	vcpu_get_sregs(vcpu, &sregs);
	ASSERT_EQ(sregs.cr0 >> 31, 0);
	ASSERT_EQ(sregs.efer & (1ULL << 10), 0);	/* LMA */
	/*
	 * Linux keeps LME in the vCPU's EFER (and out of the VMCB while
	 * paging is off; KVM_SET_SREGS would put it there, which TCG does
	 * not survive); nkvm drops it, as a CPU without long mode has none,
	 * and its SMM entry state is one KVM_SET_SREGS takes.
	 */
	if (kvm_is_nkvm(vcpu->vm->kvm_fd)) {
		ASSERT_EQ(sregs.efer & (1ULL << 8), 0);
		ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), 0);
	}
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x14), AS1_MARK);
	/*
	 * RSM: the 32-bit map brings back paging and the 64-bit CS, without
	 * long mode (Linux's RSM refuses the 64-bit CS when it turns paging
	 * on): the CPU shuts down.
	 */
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_SHUTDOWN);
}

TEST_HARNESS_MAIN
