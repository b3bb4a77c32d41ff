// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - tiny helpers for the nkvm tests (see vm.h).
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "vm.h"

int kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		SKIP("/dev/kvm: %s", strerror(errno));
	ASSERT_OK(fd);
	return fd;
}

size_t kvm_run_size(int kvm_fd)
{
	int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	ASSERT_OK(size);
	ASSERT_GE(size, (int)sizeof(struct kvm_run));
	return size;
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

int vm_set_region(struct vm *vm, uint32_t slot, uint32_t flags,
		  uint64_t gpa, uint64_t size, uint64_t hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r);
}

void *vm_add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, size_t size)
{
	void *p = map_anon(size);

	ASSERT_OK(vm_set_region(vm, slot, 0, gpa, size, (uintptr_t)p));
	return p;
}

struct vm *vm_create(size_t mem_size)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	ASSERT_TRUE(vm != NULL);
	vm->kvm_fd = kvm_open();
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm->fd);
	if (mem_size) {
		vm->mem = vm_add_slot(vm, 0, 0, mem_size);
		vm->mem_size = mem_size;
	}
	return vm;
}

void vm_free(struct vm *vm)
{
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	close(vm->fd);
	close(vm->kvm_fd);
	free(vm);
}

void *vm_ptr(struct vm *vm, uint64_t gpa)
{
	ASSERT_LT(gpa, vm->mem_size);
	return (char *)vm->mem + gpa;
}

void vm_write(struct vm *vm, uint64_t gpa, const void *src, size_t len)
{
	ASSERT_LE(gpa + len, vm->mem_size);
	memcpy((char *)vm->mem + gpa, src, len);
}

struct vcpu *vcpu_create(struct vm *vm, int id)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));
	void *run;

	ASSERT_TRUE(vcpu != NULL);
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	ASSERT_OK(vcpu->fd);
	vcpu->run_size = kvm_run_size(vm->kvm_fd);
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	ASSERT_TRUE(run != MAP_FAILED);
	vcpu->run = run;
	return vcpu;
}

void vcpu_free(struct vcpu *vcpu)
{
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
}

void vcpu_get_regs(struct vcpu *vcpu, struct kvm_regs *regs)
{
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_REGS, regs));
}

void vcpu_set_regs(struct vcpu *vcpu, const struct kvm_regs *regs)
{
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_REGS, regs));
}

void vcpu_get_sregs(struct vcpu *vcpu, struct kvm_sregs *sregs)
{
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_SREGS, sregs));
}

void vcpu_set_sregs(struct vcpu *vcpu, const struct kvm_sregs *sregs)
{
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SREGS, sregs));
}

uint64_t vcpu_rip(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	return regs.rip;
}

static void flat_real_segment(struct kvm_segment *s)
{
	s->selector = 0;
	s->base = 0;
	s->limit = 0xffff;
}

void vcpu_set_real_mode(struct vcpu *vcpu, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	/*
	 * Start from the reset state (real mode, CR0.PE = 0; cs is
	 * f000:fff0 with base ffff0000) and keep each segment's attributes:
	 * only selector, base and limit change.
	 */
	vcpu_get_sregs(vcpu, &sregs);
	flat_real_segment(&sregs.cs);
	flat_real_segment(&sregs.ds);
	flat_real_segment(&sregs.es);
	flat_real_segment(&sregs.fs);
	flat_real_segment(&sregs.gs);
	flat_real_segment(&sregs.ss);
	vcpu_set_sregs(vcpu, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = STACK_TOP;
	regs.rflags = 0x2;	/* bit 1 is always set */
	vcpu_set_regs(vcpu, &regs);
}

struct vcpu *vm_with_guest(const void *code, size_t len)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu;

	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	return vcpu;
}

int vcpu_run_raw(struct vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_RUN, 0);
}

uint32_t vcpu_run(struct vcpu *vcpu)
{
	ASSERT_OK(vcpu_run_raw(vcpu));
	return vcpu->run->exit_reason;
}

uint64_t vcpu_settle_rip(struct vcpu *vcpu)
{
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	vcpu->run->immediate_exit = 0;
	return vcpu_rip(vcpu);
}

const char *exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_S390_SIEIC] = "S390_SIEIC",
		[KVM_EXIT_S390_RESET] = "S390_RESET",
		[KVM_EXIT_DCR] = "DCR",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "?";
}

void vcpu_assert_exit(struct vcpu *vcpu, uint32_t want,
		      const char *file, int line)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason == want)
		return;
	th_log("%s:%d: %s: exit reason %u (%s), expected %u (%s)", file, line,
	       th_current, run->exit_reason, exit_name(run->exit_reason),
	       want, exit_name(want));
	if (run->exit_reason == KVM_EXIT_IO)
		th_log("    io: dir %u size %u port 0x%x count %u",
		       run->io.direction, run->io.size, run->io.port,
		       run->io.count);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		th_log("    internal error: suberror %u", run->internal.suberror);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		th_log("    fail entry: reason 0x%llx",
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	th_log("    rip 0x%llx", (unsigned long long)vcpu_rip(vcpu));
	th_fail_now();
}

void *vcpu_assert_io(struct vcpu *vcpu, int dir, int size, int port,
		     const char *file, int line)
{
	struct kvm_run *run = vcpu->run;

	vcpu_assert_exit(vcpu, KVM_EXIT_IO, file, line);
	if (run->io.direction != dir || run->io.size != size ||
	    run->io.port != port || run->io.count != 1) {
		th_log("%s:%d: %s: io exit dir %u size %u port 0x%x count %u, "
		       "expected dir %d size %d port 0x%x count 1", file, line,
		       th_current, run->io.direction, run->io.size,
		       run->io.port, run->io.count, dir, size, port);
		th_fail_now();
	}
	ASSERT_LE(run->io.data_offset + size, vcpu->run_size);
	return (char *)run + run->io.data_offset;
}

uint32_t vcpu_run_out(struct vcpu *vcpu, int size, int port,
		      const char *file, int line)
{
	uint32_t v = 0;
	void *data;

	vcpu_run(vcpu);
	data = vcpu_assert_io(vcpu, KVM_EXIT_IO_OUT, size, port, file, line);
	memcpy(&v, data, size);	/* little-endian, like the guest */
	return v;
}
