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

#endif /* NKVM_VM_H */
