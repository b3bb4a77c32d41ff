// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - tiny helpers for the nkvm tests (see vm.h).
 */
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/time.h>

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

void vm_alarm_every(long us, void (*handler)(int sig))
{
	struct itimerval it = {
		.it_value = { us / 1000000, us % 1000000 },
		.it_interval = { us / 1000000, us % 1000000 },
	};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(SIGALRM, &sa, NULL));
	ASSERT_OK(setitimer(ITIMER_REAL, &it, NULL));
}

void vm_alarm_off(void)
{
	struct itimerval off = { 0 };

	ASSERT_OK(setitimer(ITIMER_REAL, &off, NULL));
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

int vcpu_try_supported_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int nent = 64, r;

	for (;;) {
		cpuid = realloc(cpuid, sizeof(*cpuid) +
				nent * sizeof(cpuid->entries[0]));
		ASSERT_TRUE(cpuid != NULL);
		memset(cpuid, 0, sizeof(*cpuid));
		cpuid->nent = nent;
		r = ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (r == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			free(cpuid);
			return 0;
		}
		nent *= 2;
	}
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid));
	free(cpuid);
	return 1;
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

/* ---- Guests in every CPU mode (see vm.h) ---- */

_Static_assert(CODE_ADDR == 0x1000, "GUEST_ADDR() assumes CODE_ADDR 0x1000");

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_PG		(1ULL << 31)
#define CR4_PSE		(1ULL << 4)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

/* Page-table entry bits. */
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

const char *mode_name(enum guest_mode mode)
{
	static const char *const names[MODE_COUNT] = {
		[MODE_REAL] = "real mode",
		[MODE_PM16] = "16-bit protected mode",
		[MODE_PM32] = "32-bit protected mode",
		[MODE_PG32] = "32-bit paging",
		[MODE_PAE] = "PAE paging",
		[MODE_LONG] = "64-bit long mode",
		[MODE_COMPAT] = "compatibility mode",
	};

	return (unsigned int)mode < MODE_COUNT ? names[mode] : "?";
}

/*
 * A legacy segment descriptor.  access: P, DPL, S and type (0x9b code,
 * 0x93 data, 0x8b busy TSS); flags: G (8), D/B (4), L (2); limit in units
 * of the granularity (20 bits).
 */
static uint64_t gdt_desc(uint32_t base, uint32_t limit, uint8_t access,
			 uint8_t flags)
{
	return (limit & 0xffffULL) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)(limit >> 16 & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

void vm_build_tables(struct vm *vm)
{
	uint64_t *gdt = vm_ptr(vm, GDT_ADDR);
	uint32_t *pd32 = vm_ptr(vm, PD32_ADDR), *pt32 = vm_ptr(vm, PT32_ADDR);
	uint64_t *pdpt_pae = vm_ptr(vm, PDPT_PAE_ADDR), *pd = vm_ptr(vm, PD_ADDR);
	uint64_t *pt = vm_ptr(vm, PT_ADDR), *pml4 = vm_ptr(vm, PML4_ADDR);
	uint64_t *pdpt = vm_ptr(vm, PDPT_ADDR);
	int i;

	ASSERT_GE(vm->mem_size, TABLES_END);
	memset(gdt, 0, GDT_LIMIT + 1);
	gdt[SEL_CODE16 / 8] = gdt_desc(0, 0xffff, 0x9b, 0x0);
	gdt[SEL_DATA16 / 8] = gdt_desc(0, 0xffff, 0x93, 0x0);
	gdt[SEL_CODE32 / 8] = gdt_desc(0, 0xfffff, 0x9b, 0xc);
	gdt[SEL_DATA32 / 8] = gdt_desc(0, 0xfffff, 0x93, 0xc);
	gdt[SEL_CODE64 / 8] = gdt_desc(0, 0xfffff, 0x9b, 0xa);
	gdt[SEL_HIGH16 / 8] = gdt_desc(0x100000, 0xffff, 0x93, 0x0);
	/* The high half of a 64-bit TSS descriptor (base 63:32) is zero. */
	gdt[SEL_TSS / 8] = gdt_desc(TSS_ADDR, 0x67, 0x8b, 0x0);
	memset(vm_ptr(vm, TSS_ADDR), 0, 0x68);

	/* 32-bit paging: 4 KiB pages for 0-4 MiB, one 4 MiB page. */
	memset(pd32, 0, 0x1000);
	for (i = 0; i < 1024; i++)
		pt32[i] = (i << 12) | PTE_P | PTE_RW;
	pt32[REMAP_VA >> 12] = REMAP_PA | PTE_P | PTE_RW;
	pd32[0] = PT32_ADDR | PTE_P | PTE_RW;
	pd32[LARGE_VA >> 22] = LARGE_PA | PTE_P | PTE_RW | PTE_PS;

	/* PAE and long mode share the page directory and its page table. */
	memset(pd, 0, 0x1000);
	pd[0] = 0 | PTE_P | PTE_RW | PTE_PS;
	pd[1] = PT_ADDR | PTE_P | PTE_RW;
	pd[LARGE_VA >> 21] = LARGE_PA | PTE_P | PTE_RW | PTE_PS;
	for (i = 0; i < 512; i++)
		pt[i] = (0x200000 + (i << 12)) | PTE_P | PTE_RW;
	pt[(REMAP_VA >> 12) & 511] = REMAP_PA | PTE_P | PTE_RW;

	/* PAE PDPTEs have no RW bit (it is reserved there). */
	memset(pdpt_pae, 0, 0x1000);
	pdpt_pae[0] = PD_ADDR | PTE_P;

	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pdpt[0] = PD_ADDR | PTE_P | PTE_RW;
	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	pml4[511] = PDPT_ADDR | PTE_P | PTE_RW;
}

/* A kvm_segment matching a descriptor of vm_build_tables()' GDT. */
static struct kvm_segment gdt_seg(uint16_t sel)
{
	struct kvm_segment s = {
		.selector = sel, .present = 1, .s = 1, .type = 0x3,
		.limit = 0xffffffff, .g = 1, .db = 1,
	};

	switch (sel) {
	case SEL_CODE16:
		s.type = 0xb;
		/* fall through */
	case SEL_DATA16:
	case SEL_HIGH16:
		s.limit = 0xffff;
		s.g = 0;
		s.db = 0;
		s.base = sel == SEL_HIGH16 ? 0x100000 : 0;
		break;
	case SEL_CODE32:
		s.type = 0xb;
		break;
	case SEL_CODE64:
		s.type = 0xb;
		s.db = 0;
		s.l = 1;
		break;
	case SEL_TSS:
		s = (struct kvm_segment) {
			.selector = sel, .base = TSS_ADDR, .limit = 0x67,
			.type = 0xb, .present = 1,
		};
		break;
	}
	return s;
}

/* A real-mode segment: base = selector * 16, limit 64 KiB. */
static struct kvm_segment real_seg(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment) {
		.selector = sel, .base = (uint64_t)sel << 4, .limit = 0xffff,
		.type = type, .present = 1, .s = 1,
	};
}

void vcpu_set_mode(struct vcpu *vcpu, enum guest_mode mode, uint64_t rip)
{
	uint16_t cs = SEL_CODE32, data = SEL_DATA32;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vcpu_get_sregs(vcpu, &sregs);
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
	sregs.cr2 = 0;
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	sregs.gdt.base = GDT_ADDR;
	sregs.gdt.limit = GDT_LIMIT;
	sregs.idt.base = IDT_ADDR;
	sregs.idt.limit = 256 * 8 - 1;
	sregs.tr = gdt_seg(SEL_TSS);
	sregs.ldt = (struct kvm_segment) { .type = 0x2, .unusable = 1 };

	switch (mode) {
	case MODE_REAL:
		sregs.cr0 &= ~CR0_PE;
		sregs.idt.base = 0;
		sregs.idt.limit = 0x3ff;
		break;
	case MODE_PM16:
		cs = SEL_CODE16;
		data = SEL_DATA16;
		break;
	case MODE_PM32:
		break;
	case MODE_PG32:
		sregs.cr0 |= CR0_PG;
		sregs.cr4 = CR4_PSE;
		sregs.cr3 = PD32_ADDR;
		break;
	case MODE_PAE:
		sregs.cr0 |= CR0_PG;
		sregs.cr4 = CR4_PAE;
		sregs.cr3 = PDPT_PAE_ADDR;
		break;
	case MODE_LONG:
	case MODE_COMPAT:
		sregs.cr0 |= CR0_PG;
		sregs.cr4 = CR4_PAE;
		sregs.cr3 = PML4_ADDR;
		sregs.efer = EFER_LME | EFER_LMA;
		sregs.idt.limit = 256 * 16 - 1;
		if (mode == MODE_LONG)
			cs = SEL_CODE64;
		break;
	default:
		ASSERT_TRUE(0);
	}

	if (mode == MODE_REAL) {
		sregs.cs = real_seg(0, 0xb);
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
			real_seg(0, 0x3);
	} else {
		sregs.cs = gdt_seg(cs);
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
			gdt_seg(data);
	}
	vcpu_set_sregs(vcpu, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = STACK_TOP;
	regs.rflags = 0x2;
	vcpu_set_regs(vcpu, &regs);
}

void vm_set_idt_gate(struct vm *vm, enum guest_mode mode, int vector,
		     uint64_t handler)
{
	uint16_t *ivt;
	uint64_t *idt;

	ASSERT_TRUE(vector >= 0 && vector < 256);
	switch (mode) {
	case MODE_REAL:
		ASSERT_LT(handler, 0x10000);
		ivt = vm_ptr(vm, vector * 4);
		ivt[0] = handler;
		ivt[1] = 0;
		break;
	case MODE_PM16:
	case MODE_PM32:
	case MODE_PG32:
	case MODE_PAE:
		ASSERT_LT(handler, 1ULL << 32);
		idt = vm_ptr(vm, IDT_ADDR + vector * 8);
		/* P, DPL 0, type 6 (16-bit interrupt gate) or 0xe (32-bit). */
		*idt = (handler & 0xffff) |
		       ((uint64_t)(mode == MODE_PM16 ? SEL_CODE16 : SEL_CODE32) << 16) |
		       ((uint64_t)(mode == MODE_PM16 ? 0x86 : 0x8e) << 40) |
		       ((handler >> 16 & 0xffff) << 48);
		break;
	case MODE_LONG:
	case MODE_COMPAT:
		idt = vm_ptr(vm, IDT_ADDR + vector * 16);
		idt[0] = (handler & 0xffff) | ((uint64_t)SEL_CODE64 << 16) |
			 (0x8eULL << 40) | ((handler >> 16 & 0xffff) << 48);
		idt[1] = handler >> 32;
		break;
	default:
		ASSERT_TRUE(0);
	}
}

struct vcpu *vm_with_guest_in_mode(const void *code, size_t len,
				   enum guest_mode mode)
{
	struct vm *vm = vm_create(VM_MODES_MEM);
	struct vcpu *vcpu;

	ASSERT_LE(CODE_ADDR + len, 0x7000);	/* below the stack */
	vm_build_tables(vm);
	vm_write(vm, CODE_ADDR, code, len);
	vcpu = vcpu_create(vm, 0);
	vcpu_set_mode(vcpu, mode, CODE_ADDR);
	return vcpu;
}

/* ================================================================== */
/* x86 state helpers: CPUID, MSRs, capabilities, the real-mode IVT and */
/* the service guest (see vm.h).                                       */
/* ================================================================== */

#include <nkvm/nkvm.h>

int kvm_check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	ASSERT_OK(r);
	return r;
}

bool kvm_is_nkvm(int kvm_fd)
{
	return ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM) > 0;
}

static bool nkvm_strict(void)
{
	const char *env = getenv("NKVM_STRICT");
	char buf[4096];
	ssize_t n;
	int fd;

	if (env && *env && strcmp(env, "0"))
		return true;
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';		/* the arguments, each NUL-terminated */
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strcmp(buf + i, "--nkvm-strict"))
			return true;
	return false;
}

void nkvm_known_bug(const char *what)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	bool nkvm;

	if (fd < 0)
		return;		/* the test's own kvm_open() skips */
	nkvm = kvm_is_nkvm(fd);
	close(fd);
	if (nkvm && !nkvm_strict())
		SKIP("known nkvm bug: %s", what);
	if (nkvm)
		TH_LOG("known nkvm bug: %s", what);
}

int vm_enable_cap_raw(struct vm *vm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };

	return ioctl(vm->fd, KVM_ENABLE_CAP, &c);
}

struct kvm_cpuid2 *cpuid_alloc(int nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
				      nent * sizeof(struct kvm_cpuid_entry2));

	ASSERT_TRUE(c != NULL);
	c->nent = nent;
	return c;
}

struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c = cpuid_alloc(256);

	ASSERT_OK(ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c));
	ASSERT_GT(c->nent, 0);
	ASSERT_LE(c->nent, 256);
	return c;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function,
				    uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		    e->index == index)
			return e;
	}
	return NULL;
}

struct kvm_cpuid_entry2 *cpuid_add(struct kvm_cpuid2 *cpuid, uint32_t function,
				   uint32_t index, uint32_t flags, uint32_t eax,
				   uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &cpuid->entries[cpuid->nent++];

	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
	return e;
}

void vcpu_set_cpuid(struct vcpu *vcpu, const struct kvm_cpuid2 *cpuid)
{
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid));
}

struct kvm_cpuid2 *vcpu_get_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c = cpuid_alloc(256);
	uint32_t n;

	/*
	 * Linux 6.1 leaves nent as it was on success (later kernels write the
	 * count back): fill the room with a pattern and count the entries
	 * that were written over it.
	 */
	memset(c->entries, 0xa5, 256 * sizeof(c->entries[0]));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_CPUID2, c));
	if (c->nent == 256) {
		for (n = 256; n > 0; n--) {
			const unsigned char *p = (const void *)&c->entries[n - 1];
			size_t k;

			for (k = 0; k < sizeof(c->entries[0]) && p[k] == 0xa5; k++)
				;
			if (k < sizeof(c->entries[0]))
				break;
		}
		c->nent = n;
	}
	return c;
}

static int vcpu_msr_io(struct vcpu *vcpu, unsigned long req, uint32_t index,
		       uint64_t *data)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	m.e.data = *data;
	r = ioctl(vcpu->fd, req, &m);
	if (r == 1)
		*data = m.e.data;
	return r;
}

int vcpu_get_msr_raw(struct vcpu *vcpu, uint32_t index, uint64_t *data)
{
	*data = 0;
	return vcpu_msr_io(vcpu, KVM_GET_MSRS, index, data);
}

int vcpu_set_msr_raw(struct vcpu *vcpu, uint32_t index, uint64_t data)
{
	return vcpu_msr_io(vcpu, KVM_SET_MSRS, index, &data);
}

uint64_t vcpu_get_msr(struct vcpu *vcpu, uint32_t index)
{
	uint64_t v;
	int r = vcpu_get_msr_raw(vcpu, index, &v);

	if (r != 1) {
		th_log("%s: KVM_GET_MSRS of MSR 0x%x returned %d (errno %d)",
		       th_current, index, r, r < 0 ? errno : 0);
		th_fail_now();
	}
	return v;
}

void vcpu_set_msr(struct vcpu *vcpu, uint32_t index, uint64_t data)
{
	int r = vcpu_set_msr_raw(vcpu, index, data);

	if (r != 1) {
		th_log("%s: KVM_SET_MSRS of MSR 0x%x = 0x%llx returned %d (errno %d)",
		       th_current, index, (unsigned long long)data, r,
		       r < 0 ? errno : 0);
		th_fail_now();
	}
}

void vm_set_ivt(struct vm *vm, int vector, uint16_t seg, uint16_t off)
{
	uint16_t e[2] = { off, seg };

	ASSERT_GE(vector, 0);
	ASSERT_LT(vector, 256);
	vm_write(vm, vector * 4, e, sizeof(e));
}

/* See vm.h; the mailbox is struct svc_mbox at 0x500. */
GUEST_CODE(svc_guest,
	"1:\n"
	"out %al, $0x10\n"		/* ready */
	"mov (0x500), %bx\n"		/* op */
	"mov (0x504), %eax\n"
	"mov (0x508), %ecx\n"
	"mov (0x50c), %edx\n"
	"cmp $1, %bx\n"
	"jne 2f\n"
	"cpuid\n"
	"jmp 9f\n"
	"2: cmp $2, %bx\n"
	"jne 3f\n"
	"rdmsr\n"
	"jmp 9f\n"
	"3: cmp $3, %bx\n"
	"jne 4f\n"
	"wrmsr\n"
	"jmp 9f\n"
	"4: cmp $4, %bx\n"
	"jne 5f\n"
	"mov %eax, %cr4\n"
	"jmp 9f\n"
	"5: cmp $5, %bx\n"
	"jne 6f\n"
	"mov %cr4, %eax\n"
	"jmp 9f\n"
	"6: cmp $6, %bx\n"
	"jne 7f\n"
	"rdtsc\n"
	"jmp 9f\n"
	"7: cmp $7, %bx\n"
	"jne 8f\n"
	"xsetbv\n"
	"jmp 9f\n"
	"8: cmp $8, %bx\n"
	"jne 11f\n"
	"xgetbv\n"
	"jmp 9f\n"
	"11: cmp $9, %bx\n"
	"jne 12f\n"
	"rdpmc\n"
	"jmp 9f\n"
	"12: cmp $10, %bx\n"
	"jne 9f\n"
	"rdtscp\n"
	"9:\n"
	"mov %eax, (0x510)\n"
	"mov %ebx, (0x514)\n"
	"mov %ecx, (0x518)\n"
	"mov %edx, (0x51c)\n"
	"jmp 1b\n"
	"svc_ud:\n"
	"movb $6, (0x522)\n"
	"jmp 10f\n"
	"svc_gp:\n"
	"movb $13, (0x522)\n"
	"10: incw (0x520)\n"
	"add $6, %sp\n"			/* drop IP, CS, FLAGS */
	"jmp 1b\n"
);
extern const unsigned char svc_ud[], svc_gp[];

static struct svc_mbox *svc_mbox(struct vcpu *vcpu)
{
	return vm_ptr(vcpu->vm, SVC_MBOX);
}

void svc_init(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	vm_write(vm, CODE_ADDR, svc_guest, GUEST_SIZE(svc_guest));
	memset(svc_mbox(vcpu), 0, sizeof(struct svc_mbox));
	vm_set_ivt(vm, 6, 0, CODE_ADDR + (svc_ud - svc_guest));
	vm_set_ivt(vm, 13, 0, CODE_ADDR + (svc_gp - svc_guest));
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	RUN_OUT(vcpu, 1, SVC_PORT);
}

uint32_t svc_start(struct vcpu *vcpu, enum svc_op op, uint32_t eax,
		   uint32_t ecx, uint32_t edx)
{
	volatile struct svc_mbox *m = svc_mbox(vcpu);

	m->op = op;
	m->in_eax = eax;
	m->in_ecx = ecx;
	m->in_edx = edx;
	m->eax = m->ebx = m->ecx = m->edx = 0xdeadbeef;
	m->faults = 0;
	m->vector = 0;
	return vcpu_run(vcpu);
}

void svc_finish(struct vcpu *vcpu, struct svc_result *res)
{
	volatile struct svc_mbox *m = svc_mbox(vcpu);

	ASSERT_IO(vcpu, KVM_EXIT_IO_OUT, 1, SVC_PORT);
	res->eax = m->eax;
	res->ebx = m->ebx;
	res->ecx = m->ecx;
	res->edx = m->edx;
	res->faulted = m->faults != 0;
	res->vector = res->faulted ? m->vector : -1;
}

void svc_call(struct vcpu *vcpu, enum svc_op op, uint32_t eax, uint32_t ecx,
	      uint32_t edx, struct svc_result *res)
{
	svc_start(vcpu, op, eax, ecx, edx);
	svc_finish(vcpu, res);
}

int svc_rdmsr(struct vcpu *vcpu, uint32_t index, uint64_t *data)
{
	struct svc_result r;

	svc_call(vcpu, SVC_RDMSR, 0, index, 0, &r);
	if (r.faulted)
		return r.vector;
	*data = r.eax | (uint64_t)r.edx << 32;
	return 0;
}

int svc_wrmsr(struct vcpu *vcpu, uint32_t index, uint64_t data)
{
	struct svc_result r;

	svc_call(vcpu, SVC_WRMSR, (uint32_t)data, index, data >> 32, &r);
	return r.faulted ? r.vector : 0;
}

int svc_rdpmc(struct vcpu *vcpu, uint32_t index, uint64_t *data)
{
	struct svc_result r;

	svc_call(vcpu, SVC_RDPMC, 0, index, 0, &r);
	if (r.faulted)
		return r.vector;
	*data = r.eax | (uint64_t)r.edx << 32;
	return 0;
}

void svc_cpuid(struct vcpu *vcpu, uint32_t function, uint32_t index,
	       struct svc_result *res)
{
	svc_call(vcpu, SVC_CPUID, function, index, 0, res);
	ASSERT_FALSE(res->faulted);
}
