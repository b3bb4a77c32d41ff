// SPDX-License-Identifier: GPL-2.0-only
/*
 * mptable.c - an Intel MultiProcessor Specification 1.4 table.
 *
 * It tells the guest about its vCPUs (local APIC IDs 0..n-1, the first one
 * the boot processor), the in-kernel IOAPIC at 0xfec00000 (ID n), the ISA
 * bus, where each ISA IRQ goes (pin = IRQ, as in KVM's default GSI routing)
 * and the local interrupts (LINT0 ExtINT, LINT1 NMI).  Linux scans the BIOS
 * area 0xf0000-0xfffff for the floating pointer "_MP_".
 */
#include <string.h>

#include "vmm.h"

struct mp_floating {
	char signature[4];		/* "_MP_" */
	uint32_t config;		/* physical address of the table */
	uint8_t length;			/* in 16-byte units: 1 */
	uint8_t spec;			/* 4: version 1.4 */
	uint8_t checksum;
	uint8_t feature[5];		/* 0: a configuration table follows */
} __attribute__((packed));

struct mp_config {
	char signature[4];		/* "PCMP" */
	uint16_t length;		/* header and entries */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_size;
	uint16_t entries;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

enum { MP_CPU, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };

struct mp_cpu {
	uint8_t type, apic_id, apic_version, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type, id, version, flags;
	uint32_t addr;
} __attribute__((packed));

struct mp_irq {		/* MP_IOINT and MP_LINT entries */
	uint8_t type, irq_type;
	uint16_t flags;			/* 0: as the bus says (ISA: edge, high) */
	uint8_t bus, bus_irq, apic, pin;
} __attribute__((packed));

#define MP_CPU_ENABLED		1
#define MP_CPU_BSP		2
#define MP_INT			0
#define MP_NMI			1
#define MP_EXTINT		3
#define APIC_VERSION		0x14	/* an integrated local APIC */
#define IOAPIC_VERSION		0x11
#define ISA_BUS			0

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

int vmm_write_mptable(struct vmm_mem *mem, int ncpus)
{
	size_t size = sizeof(struct mp_floating) + sizeof(struct mp_config) +
		      ncpus * sizeof(struct mp_cpu) + sizeof(struct mp_bus) +
		      sizeof(struct mp_ioapic) + 18 * sizeof(struct mp_irq);
	uint8_t *base = vmm_gpa(mem, VMM_MPTABLE_ADDR, size);
	struct mp_floating *mpf = (void *)base;
	struct mp_config *mpc = (void *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint16_t *bda_ebda = vmm_gpa(mem, 0x40e, 2);
	int i, entries = 0;

	if (!base || size > VMM_KERNEL_ADDR - VMM_MPTABLE_ADDR)
		return -1;
	memset(base, 0, size);
	/* The BIOS data area points at the EBDA (as a segment). */
	*bda_ebda = VMM_EBDA_ADDR >> 4;

	for (i = 0; i < ncpus; i++) {
		struct mp_cpu *c = (void *)p;

		c->type = MP_CPU;
		c->apic_id = i;
		c->apic_version = APIC_VERSION;
		c->flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		c->signature = 0x600;	/* family 6: any will do */
		c->features = 0x201;	/* FPU, APIC */
		p += sizeof(*c);
		entries++;
	}

	{
		struct mp_bus *b = (void *)p;

		b->type = MP_BUS;
		b->id = ISA_BUS;
		memcpy(b->name, "ISA   ", 6);
		p += sizeof(*b);
		entries++;
	}
	{
		struct mp_ioapic *a = (void *)p;

		a->type = MP_IOAPIC;
		a->id = ncpus;
		a->version = IOAPIC_VERSION;
		a->flags = 1;		/* usable */
		a->addr = VMM_IOAPIC_ADDR;
		p += sizeof(*a);
		entries++;
	}
	/* ISA IRQs 0-15 on the IOAPIC pins of the same number, but 2. */
	for (i = 0; i < 16; i++) {
		struct mp_irq *q = (void *)p;

		if (i == 2)
			continue;
		q->type = MP_IOINT;
		q->irq_type = MP_INT;
		q->bus = ISA_BUS;
		q->bus_irq = i;
		q->apic = ncpus;
		q->pin = i;
		p += sizeof(*q);
		entries++;
	}
	for (i = 0; i < 2; i++) {
		struct mp_irq *q = (void *)p;

		q->type = MP_LINT;
		q->irq_type = i == 0 ? MP_EXTINT : MP_NMI;
		q->bus = ISA_BUS;
		q->apic = 0xff;		/* every local APIC */
		q->pin = i;		/* LINT0, LINT1 */
		p += sizeof(*q);
		entries++;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = p - (uint8_t *)mpc;
	mpc->spec = 4;
	memcpy(mpc->oem, "NKVM    ", 8);
	memcpy(mpc->product, "VMM         ", 12);
	mpc->entries = entries;
	mpc->lapic = VMM_LAPIC_ADDR;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->config = VMM_MPTABLE_ADDR + sizeof(*mpf);
	mpf->length = 1;
	mpf->spec = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return 0;
}
