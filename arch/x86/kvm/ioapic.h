/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the I/O APIC (an 82093AA with 24 pins, as Linux KVM models it).
 *
 * The model, vioapic_*(), is pure code that also builds in userspace
 * (tools/testing/unit/test_ioapic.c): the redirection table, IOREGSEL and
 * IOWIN, edge and level pins with remote IRR, EOI, the per-source line
 * levels and the KVM_GET/SET_IRQCHIP image.  Messages go out through
 * ops->deliver.  The caller serialises all calls (the glue's spinlock).
 *
 * Pin levels: each pin is the OR of up to 32 sources (irq_source_id:
 * userspace, the PIT, irqfd resamplers...), as on Linux.  An edge pin
 * delivers when its line rises; a level pin delivers while its line is
 * high and remote IRR is clear, and sets remote IRR; an EOI of its vector
 * (from a LAPIC whose TMR bit was set) clears remote IRR and delivers
 * again if the line is still high.  Delivery status is never set.
 */
#ifndef _NKVM_IOAPIC_H
#define _NKVM_IOAPIC_H

#ifndef NKVM_USERSPACE
#include <linux/spinlock.h>
#endif
#include "irq.h"

#define VIOAPIC_NR_PINS		KVM_IOAPIC_NUM_PINS	/* 24 */
#define VIOAPIC_DEFAULT_BASE	0xfec00000ULL
#define VIOAPIC_MMIO_SIZE	0x100
#define VIOAPIC_REGSEL		0x00	/* MMIO offsets */
#define VIOAPIC_WINDOW		0x10
#define VIOAPIC_REG_ID		0x00	/* IOREGSEL values */
#define VIOAPIC_REG_VERSION	0x01
#define VIOAPIC_REG_ARB		0x02
#define VIOAPIC_REG_REDTBL	0x10	/* two registers per pin */
#define VIOAPIC_VERSION		0x11

/* Redirection entry bits */
#define VIOAPIC_RTE_VECTOR	0xffULL
#define VIOAPIC_RTE_DM_SHIFT	8
#define VIOAPIC_RTE_LOGICAL	(1ULL << 11)
#define VIOAPIC_RTE_STATUS	(1ULL << 12)
#define VIOAPIC_RTE_POLARITY	(1ULL << 13)
#define VIOAPIC_RTE_REMOTE_IRR	(1ULL << 14)
#define VIOAPIC_RTE_LEVEL	(1ULL << 15)
#define VIOAPIC_RTE_MASKED	(1ULL << 16)
#define VIOAPIC_RTE_DEST_SHIFT	56

struct kvm_ioapic;

struct kvm_ioapic_ops {
	/* Send @irq to the APICs: returns vlapic_deliver()'s result. */
	int (*deliver)(struct kvm_ioapic *ioapic, const struct kvm_lapic_irq *irq);
};

struct kvm_ioapic {
	u64 base;
	u32 ioregsel;
	u32 id;			/* 4 bits */
	u32 irr;		/* lines that are high */
	u32 irr_delivered;	/* edge pins whose rising edge was delivered */
	u64 redir[VIOAPIC_NR_PINS];
	u32 sources[VIOAPIC_NR_PINS];	/* level per irq_source_id */

	const struct kvm_ioapic_ops *ops;
	void *owner;

#ifndef NKVM_USERSPACE
	spinlock_t lock;
	struct kvm *kvm;
	struct kvm_io_device dev;	/* MMIO bus, at VIOAPIC_DEFAULT_BASE */
#endif
};

void vioapic_init(struct kvm_ioapic *ioapic, const struct kvm_ioapic_ops *ops,
		  void *owner);
/* Every pin masked, base 0xfec00000, ID 0. */
void vioapic_reset(struct kvm_ioapic *ioapic);

/*
 * Source @source (0-31) drives pin @pin to @level.  Returns the
 * KVM_IRQ_LINE_STATUS status: > 0 delivered (or the line was lowered),
 * 0 coalesced (an edge on a line already high), < 0 not delivered
 * (masked, waiting for EOI, or no destination).
 */
int vioapic_set_irq(struct kvm_ioapic *ioapic, unsigned int pin,
		    unsigned int source, bool level);

/* Every pin of @source goes low (the source is going away). */
void vioapic_clear_source(struct kvm_ioapic *ioapic, unsigned int source);

/* A guest access at @offset in the 256-byte window; len 1, 2, 4 or 8. */
void vioapic_mmio_read(struct kvm_ioapic *ioapic, u32 offset, void *data,
		       unsigned int len);
void vioapic_mmio_write(struct kvm_ioapic *ioapic, u32 offset,
			const void *data, unsigned int len);

/* The pins that use @vector (for the ack notifiers of an EOI). */
u32 vioapic_vector_pins(const struct kvm_ioapic *ioapic, u8 vector);

/*
 * A level-triggered EOI of @vector: remote IRR clears on its level pins,
 * which deliver again while their line is high and they are unmasked.
 */
void vioapic_eoi(struct kvm_ioapic *ioapic, u8 vector);

/* KVM_GET_IRQCHIP / KVM_SET_IRQCHIP (KVM_IRQCHIP_IOAPIC) */
void vioapic_get_state(const struct kvm_ioapic *ioapic,
		       struct kvm_ioapic_state *s);
void vioapic_set_state(struct kvm_ioapic *ioapic,
		       const struct kvm_ioapic_state *s);

#ifndef NKVM_USERSPACE
/*
 * The kernel glue.  Every function takes the IOAPIC's spinlock (interrupts
 * off): any context may call them, except kvm_ioapic_eoi() (process
 * context: the ack notifiers, kvm_notify_acked_irq(), run from it, without
 * the lock).  Deliveries to the APICs happen under the lock.
 *
 * kvm_ioapic_create() registers the 256-byte window at 0xfec00000 on the
 * MMIO bus (taking kvm->slots_lock), kvm_ioapic_destroy() unregisters it
 * and frees the IOAPIC.  kvm_irqchip_create() (irq.c) calls both.
 */
int kvm_ioapic_create(struct kvm *kvm);
void kvm_ioapic_destroy(struct kvm *kvm);

/* GSI -> IOAPIC pin, from the router.  -EINVAL for a bad pin or source. */
int kvm_ioapic_set_irq(struct kvm *kvm, unsigned int pin, int irq_source_id,
		       int level, bool line_status);
void kvm_ioapic_clear_source(struct kvm *kvm, int irq_source_id);

/* MMIO: 0, or -EOPNOTSUPP if @gpa is not in the IOAPIC's window. */
int kvm_ioapic_mmio_read(struct kvm *kvm, gpa_t gpa, unsigned int len,
			 void *data);
int kvm_ioapic_mmio_write(struct kvm *kvm, gpa_t gpa, unsigned int len,
			  const void *data);

/* An EOI from a LAPIC (kvm_irq_eoi()); @level: the vector's TMR bit. */
void kvm_ioapic_eoi(struct kvm *kvm, u8 vector, bool level);

/* Does an in-kernel IOAPIC pin use @vector (its EOI would matter)? */
bool kvm_ioapic_uses_vector(struct kvm *kvm, u8 vector);

void kvm_ioapic_get_state(struct kvm *kvm, struct kvm_ioapic_state *s);
void kvm_ioapic_set_state(struct kvm *kvm, const struct kvm_ioapic_state *s);
#endif

#endif /* _NKVM_IOAPIC_H */
