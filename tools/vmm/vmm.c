// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm.c - /dev/kvm, the vCPUs and the devices the VMM emulates.
 *
 * The machine: RAM from 0 (split at 3 GiB, the rest from 4 GiB), the
 * in-kernel irqchip (a PIC pair, an IOAPIC and a local APIC per vCPU) and
 * PIT, an MP table (mptable.c) and ACPI tables (acpi.c), and in this
 * process: COM1 (uart.c), a CMOS clock with the host's time, the ACPI PM1a
 * registers, and just enough of an i8042 keyboard controller for the reset
 * command.  vCPU 0 starts at the kernel's 64-bit entry; the others
 * wait in the kernel for the INIT/SIPI sequence of the guest.
 *
 * The guest ends the VMM by:
 *   - resetting the machine: the ACPI reset register (port 0xcf9), the
 *     i8042 reset command (0xfe to port 0x64) or a triple fault
 *     (KVM_EXIT_SHUTDOWN), which is what Linux's "reboot -f" does: exit
 *     status 0;
 *   - powering off through ACPI (S5 in PM1a control, what "poweroff -f"
 *     does): exit status 0;
 *   - writing a byte to VMM_EXIT_PORT: that byte is the exit status.
 * Without ACPI (--no-acpi, or acpi=off in the guest) "poweroff -f" only
 * halts the vCPUs with interrupts off, which the in-kernel irqchip never
 * reports: the VMM then waits until it is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <asm/bootparam.h>
#include <asm/kvm_para.h>

#include "vmm.h"

#define KVM_API_VERSION_WANTED	12
/* Where VMX wants its real-mode helpers (unused by SVM), in the hole. */
#define VMM_IDENTITY_MAP_ADDR	0xfffbc000ULL
#define VMM_TSS_ADDR		0xfffbd000ULL

#define CMOS_INDEX		0x70
#define CMOS_DATA		0x71
#define I8042_CMD		0x64
#define I8042_CMD_RESET		0xfe

struct vmm;

struct vcpu {
	struct vmm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
};

struct vmm {
	const struct vmm_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct vmm_mem mem;
	struct vmm_uart uart;
	struct vcpu *vcpus;
	int ncpus;
	size_t run_size;
	uint8_t cmos_index;
	uint8_t pm1_en[2];		/* ACPI PM1a enable register */
	struct timespec start;

	pthread_mutex_t end_lock;
	pthread_cond_t end_cond;
	int ended;
	int status;
};

void vmm_err(const char *fmt, ...)
{
	va_list ap;

	fputs("vmm: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 2, 3)))
static void vmm_info(const struct vmm *vm, const char *fmt, ...)
{
	va_list ap;

	if (!vm->cfg->verbose)
		return;
	fputs("vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double elapsed(const struct vmm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - vm->start.tv_sec) +
	       (now.tv_nsec - vm->start.tv_nsec) / 1e9;
}

/* The guest is done (or the VMM failed): wake vmm_run() with a status. */
static void vmm_end(struct vmm *vm, int status, const char *why)
{
	pthread_mutex_lock(&vm->end_lock);
	if (!vm->ended) {
		__atomic_store_n(&vm->ended, 1, __ATOMIC_RELEASE);
		vm->status = status;
		vmm_info(vm, "%s after %.2f s: exit status %d", why,
			 elapsed(vm), status);
		pthread_cond_signal(&vm->end_cond);
	}
	pthread_mutex_unlock(&vm->end_lock);
}

/* ------------------------------------------------------------ capabilities */

static const struct {
	int cap;
	const char *name;
} needed_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID (KVM_GET_SUPPORTED_CPUID)" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (the in-kernel PIC, IOAPIC and local APICs)" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2 (the in-kernel PIT)" },
};

const char *vmm_kvm_missing(int kvm_fd)
{
	size_t i;

	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION_WANTED)
		return "KVM_GET_API_VERSION 12 (is it a KVM device?)";
	for (i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
			return needed_caps[i].name;
	}
	return NULL;
}

/* ------------------------------------------------------------ devices */

static void uart_irq(void *opaque, int level)
{
	struct vmm *vm = opaque;
	struct kvm_irq_level irq = { .irq = VMM_COM1_IRQ, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		vmm_err("KVM_IRQ_LINE: %s", strerror(errno));
}

static uint8_t bcd(int v)
{
	return (v / 10) << 4 | (v % 10);
}

/* The MC146818 clock: the host's UTC time, BCD, 24-hour, never updating. */
static uint8_t cmos_read(struct vmm *vm)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (vm->cmos_index & 0x7f) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return tm.tm_wday + 1;
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x32: return bcd(tm.tm_year / 100 + 19);	/* century */
	case 0x0a: return 0x26;		/* 32.768 kHz, 1024 Hz; no update */
	case 0x0b: return 0x02;		/* 24-hour, BCD, no interrupts */
	case 0x0d: return 0x80;		/* the clock's power is good */
	default:   return 0;
	}
}

static void port_in(struct vcpu *v, uint16_t port, uint8_t *data, int size)
{
	struct vmm *vm = v->vm;

	memset(data, 0xff, size);
	if (port >= VMM_COM1_PORT && port < VMM_COM1_PORT + 8) {
		data[0] = vmm_uart_read(&vm->uart, port - VMM_COM1_PORT);
	} else if (port == CMOS_DATA) {
		data[0] = cmos_read(vm);
	} else if (port >= VMM_ACPI_PM1A_EVT && port < VMM_ACPI_PM1A_EVT + 4) {
		/* Status: no event ever; enable: what was written. */
		int i;

		for (i = 0; i < size && port + i < VMM_ACPI_PM1A_EVT + 4; i++)
			data[i] = port + i >= VMM_ACPI_PM1A_EVT + 2 ?
				  vm->pm1_en[port + i - VMM_ACPI_PM1A_EVT - 2] : 0;
	} else if (port == VMM_ACPI_PM1A_CNT) {
		data[0] = 0x01;		/* SCI_EN: in ACPI mode */
		if (size > 1)
			data[1] = 0;
	} else if (port == I8042_CMD) {
		/*
		 * No keyboard: an output buffer that never empties tells
		 * Linux's i8042 driver at once that there is no controller,
		 * and an empty input buffer lets the reset command through.
		 */
		data[0] = 0x01;
	}
}

static void port_out(struct vcpu *v, uint16_t port, const uint8_t *data,
		     int size)
{
	struct vmm *vm = v->vm;

	/* A word written to PM1a control is its two bytes. */
	if (port == VMM_ACPI_PM1A_CNT && size == 2) {
		port_out(v, port + 1, data + 1, 1);
		return;
	}
	if (port >= VMM_ACPI_PM1A_EVT + 2 && port < VMM_ACPI_PM1A_EVT + 4) {
		int i;

		for (i = 0; i < size && port + i < VMM_ACPI_PM1A_EVT + 4; i++)
			vm->pm1_en[port + i - VMM_ACPI_PM1A_EVT - 2] = data[i];
		return;
	}

	if (port >= VMM_COM1_PORT && port < VMM_COM1_PORT + 8) {
		vmm_uart_write(&vm->uart, port - VMM_COM1_PORT, data[0]);
	} else if (port == CMOS_INDEX) {
		vm->cmos_index = data[0];
	} else if (port == I8042_CMD && data[0] == I8042_CMD_RESET) {
		vmm_end(vm, 0, "guest reset (keyboard controller)");
	} else if (port == VMM_RESET_PORT && (data[0] & 0x04)) {
		vmm_end(vm, 0, "guest reset (port 0xcf9)");
	} else if (port == VMM_ACPI_PM1A_CNT + 1 && (data[0] & 0x20) &&
		   ((data[0] >> 2) & 7) == VMM_ACPI_S5_TYPE) {
		/* The high byte of PM1a control: SLP_EN and SLP_TYP 5. */
		vmm_end(vm, 0, "guest powered off (ACPI S5)");
	} else if (port == VMM_EXIT_PORT) {
		vmm_end(vm, data[0], "guest wrote the exit port");
	}
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			port_out(v, run->io.port, data, run->io.size);
		else
			port_in(v, run->io.port, data, run->io.size);
	}
}

/* ------------------------------------------------------------ vCPUs */

static void dump_vcpu(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	fprintf(stderr,
		"vmm: vCPU %d: rip %016llx rsp %016llx rflags %08llx\n"
		"vmm:   rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"vmm:   rsi %016llx rdi %016llx cr0 %llx cr3 %llx cr4 %llx efer %llx\n"
		"vmm:   cs %04x (base %llx l %d db %d) ss %04x\n",
		v->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
		r.rsi, r.rdi, s.cr0, s.cr3, s.cr4, s.efer,
		s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector);
}

/* -vvv: one line per exit. */
static void trace_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	if (run->exit_reason == KVM_EXIT_IO)
		fprintf(stderr, "vmm: vCPU %d: %s port 0x%x size %u count %u\n",
			v->id, run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			run->io.port, run->io.size, run->io.count);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		fprintf(stderr, "vmm: vCPU %d: mmio %s 0x%llx len %u\n", v->id,
			run->mmio.is_write ? "write" : "read",
			(unsigned long long)run->mmio.phys_addr, run->mmio.len);
	else
		fprintf(stderr, "vmm: vCPU %d: exit reason %u\n", v->id,
			run->exit_reason);
}

/* Pin the calling thread to the n-th CPU it may run on (modulo). */
static void pin_to_cpu(int n)
{
	cpu_set_t allowed, one;
	int cpu, count, seen = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	count = CPU_COUNT(&allowed);
	if (count <= 0)
		return;
	n %= count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || seen++ != n)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		return;
	}
}

/* An emulation failure: the instruction's bytes, where KVM gives them. */
static void dump_emulation_failure(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char hex[3 * 16 + 1] = "";
	unsigned int i, n;

	if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    !(run->emulation_failure.flags &
	      KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return;
	n = run->emulation_failure.insn_size;
	if (n > sizeof(run->emulation_failure.insn_bytes))
		n = sizeof(run->emulation_failure.insn_bytes);
	for (i = 0; i < n; i++)
		sprintf(hex + 3 * i, " %02x", run->emulation_failure.insn_bytes[i]);
	vmm_err("vCPU %d: the instruction (%u bytes):%s", v->id, n, hex);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vmm *vm = v->vm;
	struct kvm_run *run = v->run;
	char why[160];

	if (vm->cfg->pin)
		pin_to_cpu(v->id);

	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (vm->cfg->verbose > 1)
					dump_vcpu(v);
				continue;
			}
			vmm_err("vCPU %d: KVM_RUN: %s", v->id, strerror(errno));
			dump_vcpu(v);
			vmm_end(vm, VMM_EXIT_ERROR, "KVM_RUN failed");
			return NULL;
		}
		if (vm->cfg->verbose > 2)
			trace_exit(v);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			/* Nothing is there: reads see all ones. */
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_HLT:
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			vmm_end(vm, 0, "guest reset (triple fault)");
			return NULL;
		case KVM_EXIT_SYSTEM_EVENT:
			vmm_end(vm, 0, "guest system event (shutdown or reset)");
			return NULL;
		case KVM_EXIT_FAIL_ENTRY:
			vmm_err("vCPU %d: entry failed, hardware reason 0x%llx",
				v->id, (unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
			dump_vcpu(v);
			vmm_end(vm, VMM_EXIT_ERROR, "vCPU entry failed");
			return NULL;
		case KVM_EXIT_INTERNAL_ERROR:
			vmm_err("vCPU %d: KVM internal error, suberror %u",
				v->id, run->internal.suberror);
			dump_emulation_failure(v);
			dump_vcpu(v);
			vmm_end(vm, VMM_EXIT_ERROR, "KVM internal error");
			return NULL;
		default:
			snprintf(why, sizeof(why), "unexpected exit reason %u",
				 run->exit_reason);
			vmm_err("vCPU %d: %s", v->id, why);
			dump_vcpu(v);
			vmm_end(vm, VMM_EXIT_ERROR, why);
			return NULL;
		}
		if (__atomic_load_n(&vm->ended, __ATOMIC_ACQUIRE))
			return NULL;
	}
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	int n = 64;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || n >= 4096)
			return NULL;
		n *= 2;
	}
}

/*
 * The paravirtual features offered (CPUID 0x40000001 EAX): the set QEMU
 * offers by default (kvmclock, no I/O delay, async page faults, steal
 * time, PV EOI), not every feature KVM supports: PV spinlocks, TLB flush,
 * IPIs and yield are left out.
 */
#ifndef VMM_PV_FEATURES
#define VMM_PV_FEATURES	((1U << KVM_FEATURE_CLOCKSOURCE) |		\
			 (1U << KVM_FEATURE_NOP_IO_DELAY) |		\
			 (1U << KVM_FEATURE_CLOCKSOURCE2) |		\
			 (1U << KVM_FEATURE_ASYNC_PF) |			\
			 (1U << KVM_FEATURE_STEAL_TIME) |		\
			 (1U << KVM_FEATURE_PV_EOI) |			\
			 (1U << KVM_FEATURE_ASYNC_PF_INT) |		\
			 (1U << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT))
#endif

/*
 * The supported CPUID, with this vCPU's APIC ID where CPUID reports it,
 * the hypervisor bit, and the TSC deadline timer when the in-kernel local
 * APIC has it (KVM does not list it among the supported bits).
 */
static int set_cpuid(struct vcpu *v, const struct kvm_cpuid2 *sup)
{
	int deadline = ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION,
			     KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	size_t size = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	uint32_t i;
	int ret;

	if (!c)
		return -1;
	memcpy(c, sup, size);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffff) | (uint32_t)v->id << 24;
			e->ecx |= 1U << 31;	/* a hypervisor is there */
			if (deadline)
				e->ecx |= 1U << 24;
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->id;
			break;
		case 0x8000001e:
			e->eax = v->id;
			break;
		case KVM_CPUID_FEATURES:
			e->eax &= VMM_PV_FEATURES;
			break;
		}
	}
	ret = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	return ret;
}

/* vCPU 0 at the 64-bit entry, as boot.rst's 64-bit boot protocol says. */
static int setup_bsp(struct vcpu *v, uint64_t entry)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment tr = {
		.base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb,
		.present = 1,
	};
	struct kvm_regs regs;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = tr;
	s.gdt.base = VMM_GDT_ADDR;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80000031;	/* PG, NE, ET, PE */
	s.cr3 = VMM_PML4_ADDR;
	s.cr4 = 0x20;		/* PAE */
	s.efer = 0x500;		/* LMA, LME */
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -1;

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsi = VMM_BOOT_PARAMS_ADDR;
	regs.rsp = VMM_STACK_TOP;
	regs.rflags = 0x2;	/* interrupts off */
	return ioctl(v->fd, KVM_SET_REGS, &regs);
}

/* ------------------------------------------------------------ console in */

static struct termios saved_tio;
static int saved_tio_fd = -1;

static void restore_tty(void)
{
	if (saved_tio_fd >= 0)
		tcsetattr(saved_tio_fd, TCSANOW, &saved_tio);
	saved_tio_fd = -1;
}

/* Console input; on a terminal, raw, and Ctrl-A x ends the VMM. */
static void *input_thread(void *arg)
{
	struct vmm *vm = arg;
	int fd = vm->cfg->console_in, escape = 0;
	uint8_t buf[64];
	ssize_t n, i;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (saved_tio_fd >= 0) {
			for (i = 0; i < n; i++) {
				if (escape && buf[i] == 'x') {
					vmm_end(vm, 0, "Ctrl-A x on the console");
					return NULL;
				}
				escape = buf[i] == 0x01;
			}
		}
		vmm_uart_receive(&vm->uart, buf, n);
	}
}

/* ------------------------------------------------------------ the VM */

static int open_file(const char *path, const char *what)
{
	int fd;

	if (!strcmp(path, "-"))
		return dup(STDIN_FILENO);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		vmm_err("cannot open the %s %s: %s", what, path, strerror(errno));
	return fd;
}

static int create_vm(struct vmm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	const char *path = cfg->kvm_path ? cfg->kvm_path : "/dev/kvm";
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_userspace_memory_region r;
	const char *missing;
	int max;

	vm->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		vmm_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	missing = vmm_kvm_missing(vm->kvm_fd);
	if (missing) {
		vmm_err("%s lacks %s", path, missing);
		return -1;
	}
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;	/* what KVM promises without the capability */
	if (vm->ncpus > max) {
		vmm_err("%d vCPUs asked for, %s allows %d (KVM_CAP_MAX_VCPUS)",
			vm->ncpus, path, max);
		return -1;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		vmm_err("KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = VMM_IDENTITY_MAP_ADDR;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
			vmm_err("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
			return -1;
		}
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR) < 0) {
		vmm_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		vmm_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		vmm_err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}

	memset(&r, 0, sizeof(r));
	r.slot = 0;
	r.guest_phys_addr = 0;
	r.memory_size = vm->mem.low_size;
	r.userspace_addr = (uintptr_t)vm->mem.host;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		vmm_err("KVM_SET_USER_MEMORY_REGION (low memory): %s", strerror(errno));
		return -1;
	}
	if (vm->mem.size > vm->mem.low_size) {
		r.slot = 1;
		r.guest_phys_addr = VMM_HIGH_START;
		r.memory_size = vm->mem.size - vm->mem.low_size;
		r.userspace_addr = (uintptr_t)(vm->mem.host + vm->mem.low_size);
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			vmm_err("KVM_SET_USER_MEMORY_REGION (high memory): %s",
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int create_vcpus(struct vmm *vm, uint64_t entry)
{
	struct kvm_cpuid2 *cpuid;
	int i, size;

	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0) {
		vmm_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	vm->run_size = size;
	cpuid = supported_cpuid(vm->kvm_fd);
	if (!cpuid) {
		vmm_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return -1;
	}
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		free(cpuid);
		vmm_err("out of memory");
		return -1;
	}
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0) {
			vmm_err("KVM_CREATE_VCPU %d: %s", i, strerror(errno));
			goto fail;
		}
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			vmm_err("mmap of vCPU %d's kvm_run: %s", i, strerror(errno));
			goto fail;
		}
		if (set_cpuid(v, cpuid) < 0) {
			vmm_err("KVM_SET_CPUID2 on vCPU %d: %s", i, strerror(errno));
			goto fail;
		}
	}
	free(cpuid);
	if (setup_bsp(&vm->vcpus[0], entry) < 0) {
		vmm_err("setting up vCPU 0's registers: %s", strerror(errno));
		return -1;
	}
	return 0;
fail:
	free(cpuid);
	return -1;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vmm_run(const struct vmm_config *cfg)
{
	struct vmm *vm;
	struct vmm_boot_info info;
	int kfd = -1, ifd = -1, i, status = VMM_EXIT_ERROR;
	pthread_t input;
	struct sigaction sa;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		vmm_err("out of memory");
		return VMM_EXIT_ERROR;
	}
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->ncpus = cfg->ncpus;
	clock_gettime(CLOCK_MONOTONIC, &vm->start);
	pthread_mutex_init(&vm->end_lock, NULL);
	pthread_cond_init(&vm->end_cond, NULL);

	if (vm->ncpus < 1 || vm->ncpus > VMM_MAX_CPUS) {
		vmm_err("%d vCPUs: this VMM runs 1 to %d", vm->ncpus, VMM_MAX_CPUS);
		return VMM_EXIT_ERROR;
	}
	if (cfg->mem_size < 2 * 1024 * 1024 || cfg->mem_size % 4096) {
		vmm_err("too little memory: %llu bytes (give a multiple of 4 KiB, at least 2 MiB; Linux wants more)",
			(unsigned long long)cfg->mem_size);
		return VMM_EXIT_ERROR;
	}

	/* The image first: a bad one is reported even without /dev/kvm. */
	kfd = cfg->kernel ? open_file(cfg->kernel, "kernel image") : cfg->kernel_fd;
	if (kfd < 0)
		return VMM_EXIT_ERROR;
	if (cfg->initrd) {
		ifd = open_file(cfg->initrd, "initramfs");
		if (ifd < 0)
			return VMM_EXIT_ERROR;
	} else {
		ifd = cfg->initrd_fd;
	}
	if (vmm_mem_alloc(&vm->mem, cfg->mem_size))
		return VMM_EXIT_ERROR;
	if (vmm_load_linux(&vm->mem, kfd, ifd, cfg->cmdline, &info))
		return VMM_EXIT_ERROR;
	if (cfg->kernel)
		close(kfd);
	if (cfg->initrd)
		close(ifd);
	vmm_info(vm, "boot protocol %u.%02u, kernel %llu KiB at 0x%llx (needs up to %llu MiB), initramfs %llu KiB at 0x%llx",
		 info.protocol >> 8, info.protocol & 0xff,
		 (unsigned long long)info.kernel_bytes >> 10,
		 (unsigned long long)VMM_KERNEL_ADDR,
		 (unsigned long long)(info.kernel_need >> 20),
		 (unsigned long long)info.initrd_size >> 10,
		 (unsigned long long)info.initrd_addr);
	if (vmm_write_mptable(&vm->mem, vm->ncpus)) {
		vmm_err("the MP table does not fit");
		return VMM_EXIT_ERROR;
	}
	if (!cfg->no_acpi) {
		uint64_t rsdp = vmm_write_acpi(&vm->mem, vm->ncpus);
		struct boot_params *bp = vmm_gpa(&vm->mem, VMM_BOOT_PARAMS_ADDR,
						 sizeof(*bp));

		if (!rsdp) {
			vmm_err("the ACPI tables do not fit");
			return VMM_EXIT_ERROR;
		}
		bp->acpi_rsdp_addr = rsdp;
	}

	if (create_vm(vm) || create_vcpus(vm, info.entry))
		return VMM_EXIT_ERROR;
	vmm_uart_init(&vm->uart, cfg->console_out, uart_irq, vm);
	vmm_info(vm, "%d vCPU(s), %llu MiB, set up in %.3f s", vm->ncpus,
		 (unsigned long long)(vm->mem.size >> 20), elapsed(vm));

	if (cfg->console_in >= 0) {
		if (isatty(cfg->console_in) &&
		    tcgetattr(cfg->console_in, &saved_tio) == 0) {
			struct termios raw = saved_tio;

			cfmakeraw(&raw);
			raw.c_oflag |= OPOST | ONLCR;
			saved_tio_fd = cfg->console_in;
			atexit(restore_tty);
			tcsetattr(cfg->console_in, TCSANOW, &raw);
		}
		if (pthread_create(&input, NULL, input_thread, vm) == 0)
			pthread_detach(input);
	}

	/* A signal that only interrupts KVM_RUN (-vvv uses it). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigaction(SIGUSR1, &sa, NULL);

	pthread_mutex_lock(&vm->end_lock);
	for (i = 0; i < vm->ncpus; i++) {
		if (pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				   &vm->vcpus[i])) {
			vmm_err("cannot start the thread of vCPU %d", i);
			vm->ended = 1;
			vm->status = VMM_EXIT_ERROR;
			break;
		}
	}
	while (!vm->ended) {
		if (cfg->verbose > 1) {
			/* -vv: every vCPU's registers every 2 seconds. */
			struct timespec t;

			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 2;
			if (pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, &t) &&
			    !vm->ended)
				for (i = 0; i < vm->ncpus; i++)
					pthread_kill(vm->vcpus[i].thread, SIGUSR1);
			continue;
		}
		pthread_cond_wait(&vm->end_cond, &vm->end_lock);
	}
	status = vm->status;
	pthread_mutex_unlock(&vm->end_lock);
	restore_tty();
	/* The vCPU threads go with the process; the caller exits now. */
	return status;
}
