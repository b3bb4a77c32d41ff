// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: x86 common code.
 *
 * The vCPU state ioctls, the run loop, and the guest-visible semantics of
 * every exit a backend reports through struct kvm_x86_exit.  Nothing here
 * knows whether the hardware is SVM or VMX.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/reboot.h>
#include <asm/trapnr.h>

#include "x86.h"

const struct kvm_x86_ops *kvm_x86_ops;

/* CR4 bits a guest may not set: undefined, or the host lacks the feature. */
static u64 kvm_cr4_reserved_bits;

#define APIC_DEFAULT_BASE	0xfee00000ULL

/* ---- Registration ------------------------------------------------------ */

int kvm_arch_init(void)
{
	return 0;
}

void kvm_arch_exit(void)
{
}

/*
 * The CR4 bits nkvm lets a guest have: those the architecture defines and
 * the host CPU implements, less VMX/SMX (no nested virtualization).  The
 * guest's CPUID will narrow this further once it has a CPUID model.
 */
static u64 kvm_compute_cr4_reserved_bits(void)
{
	u64 ok = X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE |
		 X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
		 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	if (boot_cpu_has(X86_FEATURE_UMIP))
		ok |= X86_CR4_UMIP;
	if (boot_cpu_has(X86_FEATURE_LA57))
		ok |= X86_CR4_LA57;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		ok |= X86_CR4_FSGSBASE;
	if (boot_cpu_has(X86_FEATURE_PCID))
		ok |= X86_CR4_PCIDE;
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		ok |= X86_CR4_OSXSAVE;
	if (boot_cpu_has(X86_FEATURE_SMEP))
		ok |= X86_CR4_SMEP;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		ok |= X86_CR4_SMAP;
	if (boot_cpu_has(X86_FEATURE_PKU))
		ok |= X86_CR4_PKE;
	return ~ok;
}

int nkvm_x86_register(const struct kvm_x86_ops *ops)
{
	int r;

	kvm_cr4_reserved_bits = kvm_compute_cr4_reserved_bits();

	if (kvm_x86_ops) {
		pr_err("%s: backend %s is already registered\n", ops->name,
		       kvm_x86_ops->name);
		return -EBUSY;
	}
	if (ops->vm_size < sizeof(struct kvm) ||
	    ops->vcpu_size < sizeof(struct kvm_vcpu))
		return -EINVAL;

	kvm_x86_ops = ops;
	cpu_emergency_register_virt_callback(ops->emergency_disable);
	r = nkvm_core_init(ops->owner);
	if (r) {
		cpu_emergency_unregister_virt_callback(ops->emergency_disable);
		kvm_x86_ops = NULL;
		return r;
	}
	pr_info("%s backend ready\n", ops->name);
	return 0;
}
EXPORT_SYMBOL_GPL(nkvm_x86_register);

void nkvm_x86_unregister(void)
{
	nkvm_core_exit();
	cpu_emergency_unregister_virt_callback(kvm_x86_ops->emergency_disable);
	kvm_x86_ops = NULL;
}
EXPORT_SYMBOL_GPL(nkvm_x86_unregister);

int kvm_arch_cpu_enable(void)
{
	return kvm_x86_ops->cpu_enable();
}

void kvm_arch_cpu_disable(void)
{
	kvm_x86_ops->cpu_disable();
}

size_t kvm_arch_vm_size(void)
{
	return kvm_x86_ops->vm_size;
}

size_t kvm_arch_vcpu_size(void)
{
	return kvm_x86_ops->vcpu_size;
}

long kvm_arch_check_extension(struct kvm *kvm, long ext)
{
	switch (ext) {
	case KVM_CAP_HLT:
		return 1;
	default:
		return 0;
	}
}

/*
 * The last guest frame a memslot may cover: the host's physical address
 * width, as on Linux, and no more than the four-level map reaches.
 */
gfn_t kvm_arch_max_gfn(void)
{
	int bits = min_t(int, boot_cpu_data.x86_phys_bits, 48);

	return (1ULL << (bits - PAGE_SHIFT)) - 1;
}

/* ---- VM ---------------------------------------------------------------- */

int kvm_arch_vm_init(struct kvm *kvm, unsigned long type)
{
	if (type)
		return -EINVAL;
	return kvm_mmu_init_vm(kvm);
}

void kvm_arch_vm_destroy(struct kvm *kvm)
{
	kvm_mmu_destroy_vm(kvm);
}

long kvm_arch_vm_ioctl(struct kvm *kvm, unsigned int ioctl, unsigned long arg)
{
	return -ENOTTY;
}

void kvm_arch_memslot_removed(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_zap_all(kvm);
}

/* ---- vCPU lifetime ----------------------------------------------------- */

static void kvm_vcpu_reset(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *arch = &vcpu->arch;

	memset(arch->regs, 0, sizeof(arch->regs));
	/* Power-on state: EDX holds the processor signature (none set yet). */
	arch->regs[VCPU_REGS_RDX] = 0x600;
	arch->regs[VCPU_REGS_RIP] = 0xfff0;
	arch->rflags = X86_EFLAGS_FIXED;
	arch->exception.pending = false;
	arch->pio.pending = false;
	memset(arch->db, 0, sizeof(arch->db));
	arch->dr_guest_owned = false;
	arch->apic_base = APIC_DEFAULT_BASE | MSR_IA32_APICBASE_ENABLE;
	if (vcpu->vcpu_id == 0)
		arch->apic_base |= MSR_IA32_APICBASE_BSP;
	kvm_x86_ops->vcpu_reset(vcpu);
}

int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu)
{
	int r;

	if (!fpu_alloc_guest_fpstate(&vcpu->arch.guest_fpu))
		return -ENOMEM;

	r = kvm_x86_ops->vcpu_create(vcpu);
	if (r) {
		fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
		return r;
	}
	kvm_vcpu_reset(vcpu);
	return 0;
}

void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	while (vcpu->arch.mmu_cache_nr)
		free_page((unsigned long)vcpu->arch.mmu_cache[--vcpu->arch.mmu_cache_nr]);
	kvm_x86_ops->vcpu_free(vcpu);
	fpu_free_guest_fpstate(&vcpu->arch.guest_fpu);
}

void kvm_arch_vcpu_load(struct kvm_vcpu *vcpu, int cpu)
{
	kvm_x86_ops->vcpu_load(vcpu, cpu);
}

void kvm_arch_vcpu_put(struct kvm_vcpu *vcpu)
{
	kvm_x86_ops->vcpu_put(vcpu);
}

void nkvm_queue_exception(struct kvm_vcpu *vcpu, u8 vector, bool has_error,
			  u32 error_code)
{
	vcpu->arch.exception = (struct kvm_queued_exception) {
		.pending = true,
		.vector = vector,
		.has_error_code = has_error,
		.error_code = error_code,
	};
}
EXPORT_SYMBOL_GPL(nkvm_queue_exception);

/* ---- Exits ------------------------------------------------------------- */

static void *kvm_pio_data(struct kvm_vcpu *vcpu)
{
	return page_address(vcpu->pio_page);
}

static int kvm_internal_error(struct kvm_vcpu *vcpu, u32 suberror,
			      const struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = 4;
	run->internal.data[0] = exit->hw.hw_reason;
	run->internal.data[1] = exit->hw.info[0];
	run->internal.data[2] = exit->hw.info[1];
	run->internal.data[3] = vcpu->cpu;
	return 0;
}

static int kvm_handle_io(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);

	if (exit->io.string)	/* INS/OUTS need the emulator: not yet */
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
					  exit);

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = exit->io.in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = exit->io.size;
	run->io.port = exit->io.port;
	run->io.count = 1;
	run->io.data_offset = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;

	if (!exit->io.in)
		memcpy(kvm_pio_data(vcpu), &rax, exit->io.size);

	/*
	 * As on Linux, RIP stays on the instruction while userspace handles
	 * it; the next KVM_RUN completes it (kvm_complete_pio()).
	 */
	vcpu->arch.pio = (typeof(vcpu->arch.pio)) {
		.pending = true,
		.in = exit->io.in,
		.size = exit->io.size,
		.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP),
		.next_rip = exit->next_rip,
	};
	return 0;
}

/*
 * Finish the port access of the last exit: merge a read's data into RAX and
 * move past the instruction.  If userspace moved the vCPU elsewhere in the
 * meantime (KVM_SET_REGS), the access is dropped, as on Linux.
 */
static void kvm_complete_pio(struct kvm_vcpu *vcpu)
{
	u8 size = vcpu->arch.pio.size;
	u64 rax = kvm_reg_read(vcpu, VCPU_REGS_RAX);
	u64 val = 0;

	vcpu->arch.pio.pending = false;
	if (kvm_reg_read(vcpu, VCPU_REGS_RIP) != vcpu->arch.pio.rip)
		return;

	if (vcpu->arch.pio.in) {
		memcpy(&val, kvm_pio_data(vcpu), size);
		if (size == 4)		/* a 32-bit write zero-extends */
			rax = val;
		else
			rax = (rax & ~((1ULL << (size * 8)) - 1)) | val;
		kvm_reg_write(vcpu, VCPU_REGS_RAX, rax);
	}
	kvm_reg_write(vcpu, VCPU_REGS_RIP, vcpu->arch.pio.next_rip);
}

static int kvm_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data)
{
	struct kvm_sregs sregs;

	switch (index) {
	case MSR_EFER:
		kvm_x86_ops->get_sregs(vcpu, &sregs);
		*data = sregs.efer;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->arch.apic_base;
		return 0;
	default:
		return 1;
	}
}

static int kvm_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data)
{
	switch (index) {
	case MSR_EFER:
		return kvm_x86_ops->set_efer(vcpu, data);
	default:
		return 1;
	}
}

static int kvm_handle_msr(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	u32 index = exit->msr.index;
	u64 data;

	if (exit->reason == X86_EXIT_RDMSR) {
		if (kvm_get_msr(vcpu, index, &data))
			goto gp;
		kvm_reg_write(vcpu, VCPU_REGS_RAX, (u32)data);
		kvm_reg_write(vcpu, VCPU_REGS_RDX, data >> 32);
	} else {
		data = (u32)kvm_reg_read(vcpu, VCPU_REGS_RAX) |
		       (kvm_reg_read(vcpu, VCPU_REGS_RDX) << 32);
		if (kvm_set_msr(vcpu, index, data))
			goto gp;
	}
	kvm_reg_write(vcpu, VCPU_REGS_RIP, exit->next_rip);
	return 1;
gp:
	nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

static int kvm_handle_cpuid(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	/* No CPUID table yet: every leaf reads as zeroes, as on Linux. */
	kvm_reg_write(vcpu, VCPU_REGS_RAX, 0);
	kvm_reg_write(vcpu, VCPU_REGS_RBX, 0);
	kvm_reg_write(vcpu, VCPU_REGS_RCX, 0);
	kvm_reg_write(vcpu, VCPU_REGS_RDX, 0);
	kvm_reg_write(vcpu, VCPU_REGS_RIP, exit->next_rip);
	return 1;
}

static int kvm_handle_npf(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	int r = kvm_mmu_map_gfn(vcpu, exit->npf.gpa >> PAGE_SHIFT);

	if (r == -ENOENT) {
		/* Outside every memslot: MMIO, which needs the emulator. */
		exit->hw.info[1] = exit->npf.gpa;
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
					  exit);
	}
	return r ? r : 1;
}

/* Returns > 0 to enter the guest again, 0 to exit to userspace, < 0 error. */
static int kvm_handle_exit(struct kvm_vcpu *vcpu, struct kvm_x86_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	switch (exit->reason) {
	case X86_EXIT_NONE:
		return 1;
	case X86_EXIT_IO:
		return kvm_handle_io(vcpu, exit);
	case X86_EXIT_HLT:
		kvm_reg_write(vcpu, VCPU_REGS_RIP, exit->next_rip);
		run->exit_reason = KVM_EXIT_HLT;
		return 0;
	case X86_EXIT_CPUID:
		return kvm_handle_cpuid(vcpu, exit);
	case X86_EXIT_RDMSR:
	case X86_EXIT_WRMSR:
		return kvm_handle_msr(vcpu, exit);
	case X86_EXIT_NPF:
		return kvm_handle_npf(vcpu, exit);
	case X86_EXIT_SHUTDOWN:
		/* The hardware state is undefined now: back to power-on. */
		kvm_vcpu_reset(vcpu);
		run->exit_reason = KVM_EXIT_SHUTDOWN;
		return 0;
	case X86_EXIT_FAIL_ENTRY:
		run->exit_reason = KVM_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_entry_failure_reason = exit->hw.hw_reason;
		run->fail_entry.cpu = vcpu->cpu;
		return 0;
	default:
		return kvm_internal_error(vcpu,
					  KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					  exit);
	}
}

/* ---- The run loop ------------------------------------------------------ */

/*
 * Run the guest once.  Returns > 0 to go round again, 0 to return to
 * userspace (kvm_run filled in), < 0 for an error.
 */
static int kvm_enter_guest(struct kvm_vcpu *vcpu)
	__must_hold(&vcpu->kvm->srcu)
{
	struct kvm_x86_exit exit = {};

	if (kvm_check_request(vcpu, KVM_REQ_TLB_FLUSH))
		kvm_x86_ops->flush_tlb(vcpu);

	srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx);
	preempt_disable();
	local_irq_disable();

	if (!kvm_vcpu_enter_guest_mode(vcpu)) {
		local_irq_enable();
		preempt_enable();
		vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
		return 1;
	}

	/* Ticks that land while the guest runs count as guest time. */
	current->flags |= PF_VCPU;
	kvm_x86_ops->run(vcpu);
	kvm_vcpu_exit_guest_mode(vcpu);

	/* Take the interrupt that caused the exit, if any, as guest time. */
	local_irq_enable();
	barrier();
	local_irq_disable();
	current->flags &= ~PF_VCPU;
	local_irq_enable();
	preempt_enable();

	vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
	kvm_x86_ops->handle_exit(vcpu, &exit);
	return kvm_handle_exit(vcpu, &exit);
}

static void kvm_post_run(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	run->if_flag = kvm_x86_ops->interrupts_enabled(vcpu);
	run->apic_base = vcpu->arch.apic_base;
	run->cr8 = 0;
	run->ready_for_interrupt_injection = 0;
}

int kvm_arch_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	int r;

	run->flags = 0;
	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, true);

	/* Finish what the last exit started, even on an immediate exit. */
	if (vcpu->arch.pio.pending)
		kvm_complete_pio(vcpu);

	/* As on Linux, exit_reason keeps the value of the last exit. */
	if (kvm_run_immediate_exit(run)) {
		r = -EINTR;
		goto out;
	}

	for (;;) {
		r = kvm_enter_guest(vcpu);
		if (r <= 0)
			break;
		if (signal_pending(current)) {
			run->exit_reason = KVM_EXIT_INTR;
			r = -EINTR;
			break;
		}
		cond_resched();
	}
out:
	kvm_post_run(vcpu);
	fpu_swap_kvm_fpstate(&vcpu->arch.guest_fpu, false);
	return r;
}

/* ---- State ioctls ------------------------------------------------------ */

static void kvm_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	const unsigned long *r = vcpu->arch.regs;

	*regs = (struct kvm_regs) {
		.rax = r[VCPU_REGS_RAX], .rbx = r[VCPU_REGS_RBX],
		.rcx = r[VCPU_REGS_RCX], .rdx = r[VCPU_REGS_RDX],
		.rsi = r[VCPU_REGS_RSI], .rdi = r[VCPU_REGS_RDI],
		.rsp = r[VCPU_REGS_RSP], .rbp = r[VCPU_REGS_RBP],
		.r8 = r[VCPU_REGS_R8], .r9 = r[VCPU_REGS_R9],
		.r10 = r[VCPU_REGS_R10], .r11 = r[VCPU_REGS_R11],
		.r12 = r[VCPU_REGS_R12], .r13 = r[VCPU_REGS_R13],
		.r14 = r[VCPU_REGS_R14], .r15 = r[VCPU_REGS_R15],
		.rip = r[VCPU_REGS_RIP], .rflags = vcpu->arch.rflags,
	};
}

static void kvm_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs)
{
	unsigned long *r = vcpu->arch.regs;

	r[VCPU_REGS_RAX] = regs->rax;
	r[VCPU_REGS_RBX] = regs->rbx;
	r[VCPU_REGS_RCX] = regs->rcx;
	r[VCPU_REGS_RDX] = regs->rdx;
	r[VCPU_REGS_RSI] = regs->rsi;
	r[VCPU_REGS_RDI] = regs->rdi;
	r[VCPU_REGS_RSP] = regs->rsp;
	r[VCPU_REGS_RBP] = regs->rbp;
	r[VCPU_REGS_R8] = regs->r8;
	r[VCPU_REGS_R9] = regs->r9;
	r[VCPU_REGS_R10] = regs->r10;
	r[VCPU_REGS_R11] = regs->r11;
	r[VCPU_REGS_R12] = regs->r12;
	r[VCPU_REGS_R13] = regs->r13;
	r[VCPU_REGS_R14] = regs->r14;
	r[VCPU_REGS_R15] = regs->r15;
	r[VCPU_REGS_RIP] = regs->rip;
	/* Bit 1 always reads as one. */
	vcpu->arch.rflags = regs->rflags | X86_EFLAGS_FIXED;
}

static void kvm_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	memset(sregs, 0, sizeof(*sregs));
	kvm_x86_ops->get_sregs(vcpu, sregs);
	sregs->apic_base = vcpu->arch.apic_base;
}

/*
 * What Linux refuses in KVM_SET_SREGS: reserved CR4 bits, paging without
 * protection, and long-mode bits that do not agree.  Other inconsistencies
 * are left to the hardware's entry checks (KVM_EXIT_FAIL_ENTRY).
 */
static bool kvm_sregs_valid(const struct kvm_sregs *s)
{
	if (s->cr4 & kvm_cr4_reserved_bits)
		return false;
	if ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE))
		return false;
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
		if (s->cr3 >> boot_cpu_data.x86_phys_bits)
			return false;
	} else if ((s->efer & EFER_LMA) || s->cs.l) {
		return false;
	}
	return true;
}

static int kvm_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	int r;

	if (!kvm_sregs_valid(sregs))
		return -EINVAL;
	r = kvm_x86_ops->set_sregs(vcpu, sregs);
	if (r)
		return r;
	vcpu->arch.apic_base = sregs->apic_base;
	kvm_x86_ops->flush_tlb(vcpu);
	return 0;
}

long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			 unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_GET_REGS: {
		struct kvm_regs regs;

		kvm_get_regs(vcpu, &regs);
		return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
	}
	case KVM_SET_REGS: {
		struct kvm_regs regs;

		if (copy_from_user(&regs, argp, sizeof(regs)))
			return -EFAULT;
		kvm_set_regs(vcpu, &regs);
		return 0;
	}
	case KVM_GET_SREGS: {
		struct kvm_sregs sregs;

		kvm_get_sregs(vcpu, &sregs);
		return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
	}
	case KVM_SET_SREGS: {
		struct kvm_sregs sregs;

		if (copy_from_user(&sregs, argp, sizeof(sregs)))
			return -EFAULT;
		return kvm_set_sregs(vcpu, &sregs);
	}
	default:
		return -EINVAL;
	}
}
