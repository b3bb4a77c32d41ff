/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vm.h - tiny helpers for the nkvm tests: open /dev/kvm, create a VM with
 * anonymous memory, create vCPUs, put them in real mode, load guest code
 * and run it.  Only the first-cut ioctls are used (see the Makefile).
 *
 * Every helper that fails ends the current test (ASSERT semantics), except
 * kvm_open(), which skips it when /dev/kvm is absent.
 */
#ifndef NKVM_VM_H
#define NKVM_VM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "harness.h"

/* Default guest memory: the whole real-mode address space. */
#define VM_MEM_SIZE	0x100000UL
/* Where guest code is loaded and starts (cs = 0, ip = CODE_ADDR). */
#define CODE_ADDR	0x1000UL
/* Real-mode stack top (ss = 0). */
#define STACK_TOP	0x8000UL

struct vm {
	int kvm_fd;		/* /dev/kvm */
	int fd;			/* the VM */
	void *mem;		/* host mapping of slot 0 (guest physical 0) */
	size_t mem_size;
};

struct vcpu {
	struct vm *vm;
	int fd;
	int id;
	struct kvm_run *run;	/* the shared kvm_run page(s) */
	size_t run_size;
};

/*
 * Guest code written as 16-bit assembly (GNU as, AT&T syntax) inside the
 * test source.  It is assembled with the test, placed in its own section
 * .rodata.nkvm_guest.<name> (merged into .rodata at link time) and copied
 * into guest memory by vm_load_guest(); name[] is its first byte and
 * GUEST_SIZE(name) its length.  Only position-independent code works
 * (relative jumps, numeric addresses): labels of the guest code are host
 * addresses, not guest ones.  "make listing" disassembles every guest,
 * offsets from 0 (add the load address, usually CODE_ADDR).
 *
 *	GUEST_CODE(hlt_guest,
 *		"hlt\n"
 *	)
 */
#define GUEST_CODE(name, text)						\
	extern const unsigned char name[], name##_end[];		\
	__asm__(".pushsection .rodata.nkvm_guest." #name ",\"a\"\n"	\
		".code16\n"						\
		#name ":\n"						\
		text "\n"						\
		#name "_end:\n"						\
		".code64\n"						\
		".popsection\n")
#define GUEST_SIZE(name) ((size_t)(name##_end - name))

/*
 * The same for guest code that starts in 32-bit or 64-bit mode (.code32
 * or .code64 first; the text may switch with .code16/.code32/.code64 as
 * the guest changes modes).  Their sections are
 * .rodata.nkvm_guest32.<name> and .rodata.nkvm_guest64.<name>, so that
 * "make listing" disassembles them in the right mode.
 */
#define GUEST_CODE_BITS(name, bits, text)				\
	extern const unsigned char name[], name##_end[];		\
	__asm__(".pushsection .rodata.nkvm_guest" #bits "." #name ",\"a\"\n" \
		".code" #bits "\n"					\
		#name ":\n"						\
		text "\n"						\
		#name "_end:\n"						\
		".code64\n"						\
		".popsection\n")
#define GUEST_CODE32(name, text) GUEST_CODE_BITS(name, 32, text)
#define GUEST_CODE64(name, text) GUEST_CODE_BITS(name, 64, text)

/*
 * Absolute guest addresses inside guest code loaded at CODE_ADDR (which
 * must stay 0x1000 for this): GUEST_ADDR(name, "1f") is an assembler
 * expression for the guest address of label 1f of guest "name", for far
 * jumps, IDT entries and the like:
 *
 *	"ljmp $0x18, $" GUEST_ADDR(my_guest, "1f") "\n"
 *
 * From C, GUEST_LABEL(name, label) is the guest address of a named label
 * of the guest code (declare it first with GUEST_SYM(label)).
 */
#define GUEST_ADDR(name, label) "(" label " - " #name " + 0x1000)"
#define GUEST_SYM(label) extern const unsigned char label[]
#define GUEST_LABEL(name, label) (CODE_ADDR + (uint64_t)((label) - (name)))

/* For building assembler text from numeric macros: XSTR(0x10) is "0x10". */
#define STR(x) #x
#define XSTR(x) STR(x)

/*
 * Guest text (any mode): the local APIC into x2APIC mode (APIC base EXTD
 * and EN) and software-enabled (SVR 0x1ff); clobbers EAX, ECX, EDX.
 */
#define X2APIC_ON							\
	"mov $0x1b, %ecx\n"						\
	"rdmsr\n"							\
	"or $0xc00, %eax\n"						\
	"wrmsr\n"							\
	"mov $0x80f, %ecx\n"						\
	"mov $0x1ff, %eax\n"						\
	"xor %edx, %edx\n"						\
	"wrmsr\n"

/*
 * Guest text: a real-mode interrupt handler that counts at the 16-bit
 * @counter (an address string) and EOIs through the x2APIC.
 */
#define X2APIC_COUNT_HANDLER(counter)					\
	"push %eax\n"							\
	"push %ecx\n"							\
	"push %edx\n"							\
	"incw " counter "\n"						\
	"mov $0x80b, %ecx\n"						\
	"xor %eax, %eax\n"						\
	"xor %edx, %edx\n"						\
	"wrmsr\n"							\
	"pop %edx\n"							\
	"pop %ecx\n"							\
	"pop %eax\n"							\
	"iret\n"

/*
 * ---- Guests in every CPU mode ----
 *
 * vm_build_tables() writes, at fixed guest-physical addresses, a GDT with
 * a segment for each mode, a TSS, and page tables for 32-bit paging, PAE
 * and 4-level long mode, all describing the same address space:
 *
 *	virtual 0 .. 4 MiB       identity, except the 4 KiB page at 0x3ff000,
 *	                         which maps physical 0x205000 (REMAP_VA, REMAP_PA)
 *	virtual 0xc00000         a large page at physical 0x800000 (LARGE_VA,
 *	                         LARGE_PA): 4 MiB (32-bit paging with CR4.PSE)
 *	                         or 2 MiB (PAE, long mode)
 *	long mode only:          PML4 entry 511 repeats entry 0, so
 *	                         0xffffff8000000000 + x is x as well (HIGH_ALIAS)
 *
 * Under 32-bit paging the first 4 MiB use 4 KiB pages; under PAE and long
 * mode the first 2 MiB are one 2 MiB page and 2-4 MiB use 4 KiB pages.
 * Nothing else is mapped (0xa00000 is a safe address for a #PF).
 *
 * vcpu_set_mode() then puts a vCPU directly into a mode with
 * KVM_SET_SREGS/KVM_SET_REGS, as the kernel's selftests do: the segments
 * below, GDTR = GDT_ADDR, IDTR = IDT_ADDR (legacy 8-byte gates, or 16-byte
 * gates in long/compatibility mode; real mode keeps the IVT at 0),
 * CR0 = PE|MP|ET|NE (|PG), CR4 = PSE for 32-bit paging, PAE for PAE and
 * long mode, nothing else (no OSFXSR: guests set what they need),
 * EFER = LME|LMA in long and compatibility mode, rsp = STACK_TOP.
 *
 * The addresses have no suffix so that XSTR() can put them in guest code.
 */
#define GDT_ADDR	0x800		/* GDT, GDT_LIMIT + 1 bytes */
#define IDT_ADDR	0x9000		/* 256 gates of 8 or 16 bytes */
#define TSS_ADDR	0xb000		/* a 104-byte TSS, zeros */
#define PD32_ADDR	0x10000		/* 32-bit paging: page directory */
#define PT32_ADDR	0x11000		/*   its page table for 0-4 MiB */
#define PDPT_PAE_ADDR	0x12000		/* PAE: page-directory-pointer table */
#define PD_ADDR		0x13000		/* PAE and long: page directory 0-1 GiB */
#define PT_ADDR		0x14000		/*   its page table for 2-4 MiB */
#define PML4_ADDR	0x15000		/* long mode: PML4 */
#define PDPT_ADDR	0x16000		/*   its page-directory-pointer table */
#define TABLES_END	0x17000

#define REMAP_VA	0x3ff000	/* a 4 KiB page mapped elsewhere... */
#define REMAP_PA	0x205000	/* ...here */
#define LARGE_VA	0xc00000	/* a 4 MiB or 2 MiB page mapped... */
#define LARGE_PA	0x800000	/* ...here */
#define UNMAPPED_VA	0xa00000	/* not mapped in any paging mode */
#define HIGH_ALIAS	0xffffff8000000000

/* Selectors of the GDT (the guests that build their own use the same). */
#define SEL_CODE16	0x08	/* 16-bit code, base 0, limit 64 KiB */
#define SEL_DATA16	0x10	/* 16-bit data, base 0, limit 64 KiB */
#define SEL_CODE32	0x18	/* 32-bit code, flat 4 GiB */
#define SEL_DATA32	0x20	/* 32-bit data, flat 4 GiB (also used in long mode) */
#define SEL_CODE64	0x28	/* 64-bit code (L = 1) */
#define SEL_HIGH16	0x30	/* 16-bit data, base 0x100000 (1 MiB), limit 64 KiB */
#define SEL_TSS		0x38	/* TSS at TSS_ADDR (16 bytes: a 64-bit TSS descriptor) */
#define GDT_LIMIT	0x47

/* Guest memory enough for every mapping above (LARGE_PA + 4 MiB). */
#define VM_MODES_MEM	0x1000000UL

enum guest_mode {
	MODE_REAL,	/* real mode */
	MODE_PM16,	/* 16-bit protected mode */
	MODE_PM32,	/* 32-bit protected mode, no paging */
	MODE_PG32,	/* 32-bit paging, CR4.PSE */
	MODE_PAE,	/* PAE paging */
	MODE_LONG,	/* long mode, 64-bit code segment */
	MODE_COMPAT,	/* long mode, 32-bit code segment (compatibility mode) */
	MODE_COUNT
};

const char *mode_name(enum guest_mode mode);
/* Write the GDT, TSS and page tables above (slot 0 must hold TABLES_END). */
void vm_build_tables(struct vm *vm);
/* Put the vCPU in this mode at rip (see above); vm_build_tables() first. */
void vcpu_set_mode(struct vcpu *vcpu, enum guest_mode mode, uint64_t rip);
/*
 * Point vector at handler (a guest address) in the IDT at IDT_ADDR, as an
 * interrupt gate of the mode: a real-mode IVT entry (0:handler) at 0, a
 * 16-bit gate to SEL_CODE16, a 32-bit gate to SEL_CODE32, or a 64-bit
 * gate to SEL_CODE64 in long and compatibility mode.
 */
void vm_set_idt_gate(struct vm *vm, enum guest_mode mode, int vector,
		     uint64_t handler);
/*
 * Convenience: a VM with VM_MODES_MEM bytes, vm_build_tables(), the guest
 * code at CODE_ADDR, vCPU 0 in this mode at CODE_ADDR.
 */
struct vcpu *vm_with_guest_in_mode(const void *code, size_t len,
				   enum guest_mode mode);

/* Open /dev/kvm read-write; SKIP the test if it is not there. */
int kvm_open(void);
/* KVM_GET_VCPU_MMAP_SIZE on a /dev/kvm fd. */
size_t kvm_run_size(int kvm_fd);

/*
 * Create a VM with mem_size bytes (page multiple) of anonymous memory as
 * memslot 0 at guest physical 0.  mem_size 0 creates no memslot.
 */
struct vm *vm_create(size_t mem_size);
/* Close the VM and /dev/kvm fds and unmap slot 0 (vCPUs are not freed). */
void vm_free(struct vm *vm);

/*
 * mmap size bytes of anonymous memory and add them as memslot "slot" at
 * guest physical gpa.  Returns the host address.
 */
void *vm_add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, size_t size);
/* Raw KVM_SET_USER_MEMORY_REGION: returns the ioctl's result (errno set). */
int vm_set_region(struct vm *vm, uint32_t slot, uint32_t flags,
		  uint64_t gpa, uint64_t size, uint64_t hva);

/* Copy len bytes to guest physical gpa (which must lie in slot 0). */
void vm_write(struct vm *vm, uint64_t gpa, const void *src, size_t len);
/* Host pointer to guest physical gpa in slot 0. */
void *vm_ptr(struct vm *vm, uint64_t gpa);
/* Copy guest code to CODE_ADDR. */
#define vm_load_guest(vm, name) vm_write(vm, CODE_ADDR, name, GUEST_SIZE(name))

/* KVM_CREATE_VCPU with this id, then mmap its kvm_run. */
struct vcpu *vcpu_create(struct vm *vm, int id);
/* munmap kvm_run, close the fd, free. */
void vcpu_free(struct vcpu *vcpu);

/*
 * Real mode, flat: every segment has selector 0 and base 0 (limit 64 KiB),
 * ip = rip, sp = STACK_TOP, flags = 0x2, other GPRs 0.
 */
void vcpu_set_real_mode(struct vcpu *vcpu, uint64_t rip);

/*
 * Convenience: a VM with VM_MEM_SIZE bytes of memory, the guest code at
 * CODE_ADDR, and vCPU 0 in real mode at CODE_ADDR.
 */
struct vcpu *vm_with_guest(const void *code, size_t len);
#define VM_WITH_GUEST(name) vm_with_guest(name, GUEST_SIZE(name))

/* KVM_RUN; ASSERTs that it succeeds and returns run->exit_reason. */
uint32_t vcpu_run(struct vcpu *vcpu);
/* KVM_RUN; returns the ioctl's result (errno set), for error tests. */
int vcpu_run_raw(struct vcpu *vcpu);
/*
 * SIGALRM every @us microseconds, calling @handler (without SA_RESTART, so
 * that a KVM_RUN in progress ends with EINTR and KVM_EXIT_INTR), until
 * vm_alarm_off().
 */
void vm_alarm_every(long us, void (*handler)(int sig));
void vm_alarm_off(void);

/*
 * Complete the instruction of the last exit without running the guest any
 * further: KVM_RUN with kvm_run.immediate_exit = 1, which must fail with
 * EINTR.  The KVM API says the guest state is consistent after an I/O exit
 * only once userspace re-entered KVM_RUN; this is the documented way to
 * get there.  (Linux on SVM/VMX leaves RIP at an OUT until then; an
 * emulated OUT already has it past.)  Returns RIP afterwards.
 */
uint64_t vcpu_settle_rip(struct vcpu *vcpu);

void vcpu_get_regs(struct vcpu *vcpu, struct kvm_regs *regs);
void vcpu_set_regs(struct vcpu *vcpu, const struct kvm_regs *regs);
void vcpu_get_sregs(struct vcpu *vcpu, struct kvm_sregs *sregs);
void vcpu_set_sregs(struct vcpu *vcpu, const struct kvm_sregs *sregs);
uint64_t vcpu_rip(struct vcpu *vcpu);

/*
 * Give the vCPU the CPUID its KVM supports (KVM_GET_SUPPORTED_CPUID, then
 * KVM_SET_CPUID2), as a VMM would, before its first KVM_RUN.  Linux KVM
 * refuses a guest's own EFER.LME without CPUID.80000001H:EDX.LM, and XCR0
 * bits other than x87 without the XSAVE leaves, so guests that do those
 * themselves need it there.  Returns 1 if the CPUID was set, 0 if this KVM
 * has no KVM_GET_SUPPORTED_CPUID (nkvm, for now): the guest then runs with
 * the hypervisor's default CPUID.
 */
int vcpu_try_supported_cpuid(struct vcpu *vcpu);

/* Name of a KVM_EXIT_* value, for messages. */
const char *exit_name(uint32_t reason);

/*
 * ASSERT that the last exit was KVM_EXIT_IO with this direction, size and
 * port, count 1; returns the pointer to its data in the kvm_run area.
 */
void *vcpu_assert_io(struct vcpu *vcpu, int dir, int size, int port,
		     const char *file, int line);
#define ASSERT_IO(vcpu, dir, size, port) \
	vcpu_assert_io(vcpu, dir, size, port, __FILE__, __LINE__)
/* ASSERT that the exit reason is want (prints both names). */
void vcpu_assert_exit(struct vcpu *vcpu, uint32_t want,
		      const char *file, int line);
#define ASSERT_EXIT(vcpu, want) vcpu_assert_exit(vcpu, want, __FILE__, __LINE__)

/* Run and expect an OUT of size bytes to port; returns the data. */
uint32_t vcpu_run_out(struct vcpu *vcpu, int size, int port,
		      const char *file, int line);
#define RUN_OUT(vcpu, size, port) vcpu_run_out(vcpu, size, port, __FILE__, __LINE__)

/* ================================================================== */
/* x86 state helpers: CPUID, MSRs, capabilities, the real-mode IVT and */
/* the service guest (used by test_cpuid, test_msr, test_state,        */
/* test_events).                                                       */
/* ================================================================== */

#include <stdbool.h>

/* KVM_CHECK_EXTENSION on fd (/dev/kvm or a VM): the answer (>= 0). */
int kvm_check_cap(int fd, long cap);
/* Is this /dev/kvm nkvm (KVM_CAP_NKVM), rather than Linux KVM? */
bool kvm_is_nkvm(int kvm_fd);
/* KVM_ENABLE_CAP on the VM: the ioctl's result (errno set). */
int vm_enable_cap_raw(struct vm *vm, uint32_t cap, uint64_t arg0);
#define vm_enable_cap(vm, cap, arg0) ASSERT_OK(vm_enable_cap_raw(vm, cap, arg0))

/*
 * A test nkvm is known to fail (reported; the kernel is being fixed): on
 * nkvm it is skipped with "known nkvm bug: what", so that "make check"
 * stays green, unless the program was given --nkvm-strict (run-bed.sh
 * --args --nkvm-strict) or runs with NKVM_STRICT=1.  Does nothing on
 * Linux KVM.  Remove the call together with the fix.
 */
void nkvm_known_bug(const char *what);

/* A kvm_cpuid2 with room for nent entries, nent set, zeroed (free()). */
struct kvm_cpuid2 *cpuid_alloc(int nent);
/* KVM_GET_SUPPORTED_CPUID, trimmed to the entries returned (free()). */
struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd);
/* The entry for function/index (the index only counts where flagged). */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function,
				    uint32_t index);
/* Append an entry (the table must have room; nent grows by one). */
struct kvm_cpuid_entry2 *cpuid_add(struct kvm_cpuid2 *cpuid, uint32_t function,
				   uint32_t index, uint32_t flags, uint32_t eax,
				   uint32_t ebx, uint32_t ecx, uint32_t edx);
/* KVM_SET_CPUID2, asserted to succeed. */
void vcpu_set_cpuid(struct vcpu *vcpu, const struct kvm_cpuid2 *cpuid);
/* KVM_GET_CPUID2 with room for 256 entries; nent is set from what came back. */
struct kvm_cpuid2 *vcpu_get_cpuid(struct vcpu *vcpu);

/* One MSR through KVM_GET_MSRS / KVM_SET_MSRS: the ioctl's result (0 or 1). */
int vcpu_get_msr_raw(struct vcpu *vcpu, uint32_t index, uint64_t *data);
int vcpu_set_msr_raw(struct vcpu *vcpu, uint32_t index, uint64_t data);
/* The same, asserted to process the MSR. */
uint64_t vcpu_get_msr(struct vcpu *vcpu, uint32_t index);
void vcpu_set_msr(struct vcpu *vcpu, uint32_t index, uint64_t data);

/* Real-mode IVT entry: vector -> seg:off (the IVT is at guest physical 0). */
void vm_set_ivt(struct vm *vm, int vector, uint16_t seg, uint16_t off);

/*
 * The service guest: a real-mode loop at CODE_ADDR that signals "ready"
 * with an OUT to SVC_PORT, then performs the operation the host left in the
 * mailbox at SVC_MBOX (CPUID, RDMSR, WRMSR, CR4 accesses, RDTSC, XSETBV,
 * XGETBV, RDPMC) with EAX/ECX/EDX from the mailbox, stores EAX/EBX/ECX/EDX back
 * and signals ready again.  #UD and #GP are caught (IVT entries 6 and 13): the
 * handler counts the fault, records the vector and goes back to "ready".
 */
#define SVC_PORT	0x10
#define SVC_MBOX	0x500UL
enum svc_op {
	SVC_NOP = 0,
	SVC_CPUID = 1,
	SVC_RDMSR = 2,
	SVC_WRMSR = 3,
	SVC_WRITE_CR4 = 4,
	SVC_READ_CR4 = 5,
	SVC_RDTSC = 6,
	SVC_XSETBV = 7,
	SVC_XGETBV = 8,
	SVC_RDPMC = 9,
	SVC_RDTSCP = 10,
};

struct svc_mbox {
	uint16_t op;
	uint16_t pad;
	uint32_t in_eax, in_ecx, in_edx;
	uint32_t eax, ebx, ecx, edx;
	uint16_t faults;	/* exceptions caught so far */
	uint8_t vector;		/* the last one's vector */
	uint8_t pad2;
};

struct svc_result {
	uint32_t eax, ebx, ecx, edx;
	int faulted;		/* the operation raised an exception */
	int vector;		/* which one, if it did */
};

/*
 * Load the service guest into vcpu's VM (real mode, flat, at CODE_ADDR),
 * install its IVT entries and run it to its first "ready".
 */
void svc_init(struct vcpu *vcpu);
/* Leave an operation in the mailbox and KVM_RUN once: the exit reason. */
uint32_t svc_start(struct vcpu *vcpu, enum svc_op op, uint32_t eax,
		   uint32_t ecx, uint32_t edx);
/* After the exit that ends an operation (ASSERTed to be "ready"). */
void svc_finish(struct vcpu *vcpu, struct svc_result *res);
/* svc_start() + svc_finish(). */
void svc_call(struct vcpu *vcpu, enum svc_op op, uint32_t eax, uint32_t ecx,
	      uint32_t edx, struct svc_result *res);
/* Guest RDMSR: returns 0 and the value, or the vector of the fault. */
int svc_rdmsr(struct vcpu *vcpu, uint32_t index, uint64_t *data);
/* Guest WRMSR: 0, or the vector of the fault. */
int svc_wrmsr(struct vcpu *vcpu, uint32_t index, uint64_t data);
/* Guest RDPMC: 0 and the value, or the vector of the fault. */
int svc_rdpmc(struct vcpu *vcpu, uint32_t index, uint64_t *data);
/* Guest CPUID. */
void svc_cpuid(struct vcpu *vcpu, uint32_t function, uint32_t index,
	       struct svc_result *res);

#endif /* NKVM_VM_H */
