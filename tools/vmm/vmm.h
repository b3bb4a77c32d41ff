/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm.h - a small VMM that boots an x86 Linux bzImage on /dev/kvm.
 *
 * The pieces: loader.c (the Linux boot protocol: setup header, boot_params,
 * e820, command line, initramfs, page tables and GDT for the 64-bit entry),
 * mptable.c (the Intel MP table that describes the vCPUs and the IOAPIC),
 * uart.c (an 8250/16550A on COM1), vmm.c (/dev/kvm, the vCPU threads and
 * the exits).  main.c is the command line; the test links everything else.
 */
#ifndef VMM_H
#define VMM_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

/* Guest physical layout. */
#define VMM_GDT_ADDR		0x00500ULL
#define VMM_BOOT_PARAMS_ADDR	0x07000ULL	/* the "zero page" */
#define VMM_STACK_TOP		0x08ff0ULL
#define VMM_PML4_ADDR		0x09000ULL	/* then the PDPT and 4 PDs */
#define VMM_CMDLINE_ADDR	0x20000ULL
#define VMM_EBDA_ADDR		0x9fc00ULL	/* reserved up to 1 MiB */
#define VMM_ACPI_ADDR		0xe0000ULL	/* RSDP and tables (acpi.c) */
#define VMM_MPTABLE_ADDR	0xf0000ULL	/* in the BIOS area Linux scans */
#define VMM_RESET_VECTOR	0xffff0ULL	/* F000:FFF0 (loader.c) */
#define VMM_KERNEL_ADDR		0x100000ULL	/* protected-mode kernel */
#define VMM_HOLE_START		0xc0000000ULL	/* 3 GiB: LAPIC, IOAPIC, ... */
#define VMM_HIGH_START		0x100000000ULL	/* RAM above the hole */

#define VMM_IOAPIC_ADDR		0xfec00000U
#define VMM_LAPIC_ADDR		0xfee00000U

#define VMM_COM1_PORT		0x3f8
#define VMM_COM1_IRQ		4
/* A write of one byte here ends the VMM with that byte as its exit status. */
#define VMM_EXIT_PORT		0x501
#define VMM_RESET_PORT		0xcf9	/* bit 2: reset */
/* ACPI PM1a event (4 bytes) and control (2) blocks; S5 in control: power off. */
#define VMM_ACPI_PM1A_EVT	0x600
#define VMM_ACPI_PM1A_CNT	0x604
#define VMM_ACPI_S5_TYPE	5

/* The MP table gives APIC IDs in a byte and the IOAPIC takes one more. */
#define VMM_MAX_CPUS		254

/* Exit statuses of the VMM that are not the guest's own (see vmm.c). */
#define VMM_EXIT_ERROR		1	/* the VMM failed (message on stderr) */

struct vmm_config {
	const char *kernel;	/* path, or "-" for stdin; or kernel_fd */
	int kernel_fd;		/* used when kernel is NULL */
	const char *initrd;	/* path, "-" for stdin, or NULL; or initrd_fd */
	int initrd_fd;		/* used when initrd is NULL; -1: none */
	const char *cmdline;
	uint64_t mem_size;	/* bytes */
	int ncpus;
	int console_in;		/* fd the UART receives from, -1: none */
	int console_out;	/* fd the UART transmits to */
	int verbose;
	int no_acpi;		/* no ACPI tables: the MP table only */
	int pin;		/* vCPU i's thread on the i-th online CPU */
	const char *kvm_path;	/* default /dev/kvm */
};

/* Guest memory: one host mapping, split around the PCI hole if needed. */
struct vmm_mem {
	uint8_t *host;
	uint64_t size;		/* total RAM */
	uint64_t low_size;	/* RAM below VMM_HOLE_START */
};

/* What the loader found and placed (for messages and the vCPU setup). */
struct vmm_boot_info {
	uint16_t protocol;
	uint64_t kernel_bytes;	/* protected-mode part streamed in */
	uint64_t kernel_need;	/* end of what the kernel uses while booting */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	uint64_t entry;		/* 64-bit entry point */
};

/* loader.c */
int vmm_mem_alloc(struct vmm_mem *mem, uint64_t size);
void *vmm_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len);
int vmm_load_linux(struct vmm_mem *mem, int kernel_fd, int initrd_fd,
		   const char *cmdline, struct vmm_boot_info *info);

/* mptable.c */
int vmm_write_mptable(struct vmm_mem *mem, int ncpus);

/* acpi.c: the tables; returns the RSDP's address, 0 if they do not fit. */
uint64_t vmm_write_acpi(struct vmm_mem *mem, int ncpus);

/* uart.c */
struct vmm_uart {
	pthread_mutex_t lock;
	pthread_cond_t room;		/* the receive FIFO has room */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	int thr_irq;			/* a "THR empty" interrupt is pending */
	int irq_level;			/* last level put on the IRQ line */
	uint8_t rx[64];
	unsigned int rx_head, rx_count;
	int out_fd;
	void (*set_irq)(void *opaque, int level);
	void *opaque;
};

void vmm_uart_init(struct vmm_uart *u, int out_fd,
		   void (*set_irq)(void *opaque, int level), void *opaque);
uint8_t vmm_uart_read(struct vmm_uart *u, unsigned int off);
void vmm_uart_write(struct vmm_uart *u, unsigned int off, uint8_t val);
/* Queue received bytes; blocks while the FIFO is full. */
void vmm_uart_receive(struct vmm_uart *u, const uint8_t *buf, size_t len);

/* vmm.c */
/*
 * The capability that /dev/kvm (an open fd) lacks for this VMM, as its
 * KVM_CAP_ name, or NULL when it has them all.
 */
const char *vmm_kvm_missing(int kvm_fd);
/*
 * Boot the guest and run it to its end.  Returns the VMM's exit status:
 * the byte the guest wrote to VMM_EXIT_PORT, 0 when the guest reset itself
 * (reboot) or powered off, VMM_EXIT_ERROR after a message on stderr.
 */
int vmm_run(const struct vmm_config *cfg);
__attribute__((format(printf, 1, 2)))
void vmm_err(const char *fmt, ...);

#endif /* VMM_H */
