// SPDX-License-Identifier: GPL-2.0-only
/*
 * acpi.c - ACPI tables, for power-off.
 *
 * RSDP -> XSDT -> FADT (-> FACS, DSDT) and MADT, in the BIOS area at
 * 0xe0000 where Linux looks for the RSDP (its address also goes into
 * boot_params).  The FADT describes a minimal fixed-hardware machine: no
 * SMI command port (the machine is always in ACPI mode), a PM1a event
 * block (status, always zero, and enable, which keeps what is written: no
 * event ever fires) and a PM1a control block
 * in I/O space, the SCI on IRQ 9 (never raised), no PM timer and no GPEs.
 * The DSDT only defines \_S5, so that the guest powers off by writing
 * SLP_TYP 5 with SLP_EN to PM1a control, which ends the VMM (vmm.c).  The
 * reset register is port 0xcf9 (value 6).  The MADT repeats what the MP
 * table says: one local APIC per vCPU, the IOAPIC at GSI 0 and the NMI on
 * LINT1; ISA IRQs are identity-mapped, as KVM's default routing has them,
 * with an override that makes the SCI level-triggered, active high.
 *
 * (Hardware-reduced ACPI would be smaller, but Linux then drops the legacy
 * PIC and its ISA IRQs, so COM1's IRQ 4 would need a DSDT device, and
 * Linux reboots through EFI and then the BIOS instead of the reset
 * register.)
 */
#include <string.h>

#include "vmm.h"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];		/* "RSD PTR " */
	uint8_t checksum;		/* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision;		/* 2: ACPI 2.0 and later */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;		/* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {			/* Generic Address Structure */
	uint8_t space;			/* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;		/* 1: byte */
	uint64_t address;
} __attribute__((packed));

/* The FADT of ACPI 6 (276 bytes); offsets as in the specification. */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t facs, dsdt;
	uint8_t model, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr;
	uint32_t gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_len, gpe1_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_facs, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt;
	struct acpi_gas x_pm2_cnt, x_pm_tmr, x_gpe0, x_gpe1;
	struct acpi_gas sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == 276, "the FADT of ACPI 6");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "the RSDP of ACPI 2");

#define FADT_WBINVD		(1U << 0)
#define FADT_RESET_REGISTER	(1U << 10)
#define IAPC_NO_VGA		(1U << 2)
#define SCI_IRQ			9

struct acpi_facs {
	char signature[4];		/* "FACS" */
	uint32_t length;		/* 64 */
	uint32_t hardware_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;		/* 2 */
	uint8_t reserved[31];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_facs) == 64, "the FACS");

struct madt_lapic {
	uint8_t type, length;		/* 0, 8 */
	uint8_t uid, apic_id;
	uint32_t flags;			/* 1: enabled */
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;		/* 1, 12 */
	uint8_t id, reserved;
	uint32_t addr, gsi_base;
} __attribute__((packed));

struct madt_override {
	uint8_t type, length;		/* 2, 10 */
	uint8_t bus, source;		/* ISA, IRQ */
	uint32_t gsi;
	uint16_t flags;			/* polarity (bits 0-1), trigger (2-3) */
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;		/* 4, 6 */
	uint8_t uid;			/* 0xff: every processor */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

/* DefName(\_S5_, Package(4) { 5, 5, 0, 0 }) in AML. */
static const uint8_t dsdt_aml[] = {
	0x08, '\\', '_', 'S', '5', '_',		/* NameOp \_S5_ */
	0x12, 0x08, 0x04,			/* PackageOp, length 8, 4 elements */
	0x0a, VMM_ACPI_S5_TYPE,			/* BytePrefix 5 */
	0x0a, VMM_ACPI_S5_TYPE,
	0x00, 0x00,				/* ZeroOp, ZeroOp */
};

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

static void header(struct acpi_header *h, const char *sig, uint32_t len,
		   uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "NKVM  ", 6);
	memcpy(h->oem_table_id, "NKVMVMM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "NKVM", 4);
	h->creator_revision = 1;
}

static void io_reg(struct acpi_gas *g, uint16_t port, unsigned int bytes)
{
	g->space = 1;
	g->bit_width = 8 * bytes;
	g->access_size = bytes == 1 ? 1 : 2;	/* byte, word */
	g->address = port;
}

uint64_t vmm_write_acpi(struct vmm_mem *mem, int ncpus)
{
	uint64_t rsdp_at = VMM_ACPI_ADDR, xsdt_at = rsdp_at + 64;
	uint64_t facs_at = xsdt_at + 64, fadt_at = facs_at + 64;
	uint64_t dsdt_at = fadt_at + 320, madt_at = dsdt_at + 64;
	size_t madt_len = sizeof(struct acpi_header) + 8 +
			  ncpus * sizeof(struct madt_lapic) +
			  sizeof(struct madt_ioapic) + sizeof(struct madt_override) +
			  sizeof(struct madt_lapic_nmi);
	uint8_t *base = vmm_gpa(mem, rsdp_at, madt_at + madt_len - rsdp_at);
	struct acpi_rsdp *rsdp;
	struct acpi_header *xsdt, *dsdt, *madt;
	struct acpi_facs *facs;
	struct acpi_fadt *fadt;
	uint64_t *entries;
	uint32_t *madt_head;
	uint8_t *p;
	int i;

	if (!base || madt_at + madt_len > VMM_MPTABLE_ADDR)
		return 0;
	memset(base, 0, madt_at + madt_len - rsdp_at);
	rsdp = (void *)base;
	xsdt = (void *)(base + (xsdt_at - rsdp_at));
	facs = (void *)(base + (facs_at - rsdp_at));
	fadt = (void *)(base + (fadt_at - rsdp_at));
	dsdt = (void *)(base + (dsdt_at - rsdp_at));
	madt = (void *)(base + (madt_at - rsdp_at));

	/* DSDT: \_S5 only. */
	header(dsdt, "DSDT", sizeof(*dsdt) + sizeof(dsdt_aml), 2);
	memcpy(dsdt + 1, dsdt_aml, sizeof(dsdt_aml));
	dsdt->checksum = checksum(dsdt, dsdt->length);

	/* FACS: required with fixed hardware; nothing in it is used. */
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	/* FADT: PM1a blocks, the SCI, the reset register. */
	header(&fadt->h, "FACP", sizeof(*fadt), 6);
	fadt->x_facs = facs_at;
	fadt->dsdt = dsdt_at;
	fadt->x_dsdt = dsdt_at;
	fadt->sci_int = SCI_IRQ;
	fadt->pm1a_evt = VMM_ACPI_PM1A_EVT;
	fadt->pm1_evt_len = 4;
	io_reg(&fadt->x_pm1a_evt, VMM_ACPI_PM1A_EVT, 4);
	fadt->pm1a_cnt = VMM_ACPI_PM1A_CNT;
	fadt->pm1_cnt_len = 2;
	io_reg(&fadt->x_pm1a_cnt, VMM_ACPI_PM1A_CNT, 2);
	fadt->flags = FADT_WBINVD | FADT_RESET_REGISTER;
	fadt->iapc_boot_arch = IAPC_NO_VGA;	/* and no i8042 */
	io_reg(&fadt->reset_reg, VMM_RESET_PORT, 1);
	fadt->reset_value = 0x06;
	fadt->h.checksum = checksum(fadt, sizeof(*fadt));

	/* MADT: the local APICs, the IOAPIC, the SCI, LINT1 as NMI. */
	madt_head = (uint32_t *)(madt + 1);
	madt_head[0] = VMM_LAPIC_ADDR;
	madt_head[1] = 1;			/* PC-AT compatible PICs */
	p = (uint8_t *)(madt_head + 2);
	for (i = 0; i < ncpus; i++) {
		struct madt_lapic *l = (void *)p;

		l->type = 0;
		l->length = sizeof(*l);
		l->uid = i;
		l->apic_id = i;
		l->flags = 1;
		p += sizeof(*l);
	}
	{
		struct madt_ioapic *a = (void *)p;

		a->type = 1;
		a->length = sizeof(*a);
		a->id = ncpus;
		a->addr = VMM_IOAPIC_ADDR;
		a->gsi_base = 0;
		p += sizeof(*a);
	}
	{
		struct madt_override *o = (void *)p;

		o->type = 2;
		o->length = sizeof(*o);
		o->bus = 0;
		o->source = SCI_IRQ;
		o->gsi = SCI_IRQ;
		o->flags = 0xd;		/* level-triggered, active high */
		p += sizeof(*o);
	}
	{
		struct madt_lapic_nmi *n = (void *)p;

		n->type = 4;
		n->length = sizeof(*n);
		n->uid = 0xff;
		n->flags = 0;		/* as the bus says */
		n->lint = 1;
		p += sizeof(*n);
	}
	header(madt, "APIC", p - (uint8_t *)madt, 4);
	madt->checksum = checksum(madt, madt->length);

	/* XSDT: the FADT and the MADT. */
	header(xsdt, "XSDT", sizeof(*xsdt) + 2 * sizeof(uint64_t), 1);
	entries = (uint64_t *)(xsdt + 1);
	entries[0] = fadt_at;
	entries[1] = madt_at;
	xsdt->checksum = checksum(xsdt, xsdt->length);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "NKVM  ", 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = xsdt_at;
	rsdp->checksum = checksum(rsdp, 20);
	rsdp->ext_checksum = checksum(rsdp, sizeof(*rsdp));
	return rsdp_at;
}
