/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the two cascaded 8259A PICs (master on IRQ 0-7, slave on IRQ 8-15
 * through the master's IRQ 2), with the PIIX edge/level control registers.
 *
 * The model, vpic_*(), is pure code that also builds in userspace
 * (tools/testing/unit/test_pic.c).  Each chip's state is Linux's struct
 * kvm_pic_state, which is also the KVM_GET/SET_IRQCHIP image.  What the
 * model implements: ICW1-4 (x86 mode, cascade), OCW1 (mask), OCW2 (EOI,
 * specific EOI, rotation on EOI and in auto-EOI mode, set priority), OCW3
 * (IRR/ISR read, poll, special mask mode), auto-EOI, special fully nested
 * mode, ELCR (level-triggered inputs; master 0xf8 and slave 0xde
 * writable).  Like Linux, a poll read returns the IRQ number (no bit 7)
 * and also ends its service.  The caller serialises calls (the glue's
 * spinlock).
 *
 * Out of the model: INTR (vpic_output()) and the IRQs whose service ended
 * (vpic_take_acked(), for the ack notifiers).
 */
#ifndef _NKVM_I8259_H
#define _NKVM_I8259_H

#ifndef NKVM_USERSPACE
#include <linux/spinlock.h>
#endif
#include "irq.h"

#define VPIC_NR_IRQS		16
#define VPIC_MASTER_CMD		0x20
#define VPIC_MASTER_DATA	0x21
#define VPIC_SLAVE_CMD		0xa0
#define VPIC_SLAVE_DATA		0xa1
#define VPIC_ELCR_MASTER	0x4d0
#define VPIC_ELCR_SLAVE		0x4d1
#define VPIC_MASTER_ELCR_MASK	0xf8	/* IRQ 0-2 are always edge */
#define VPIC_SLAVE_ELCR_MASK	0xde	/* and IRQ 8 and 13 */

struct kvm_pic;

struct kvm_pic_ops {
	/* INTR to the CPU went from low to high. */
	void (*intr_raised)(struct kvm_pic *pic);
};

struct kvm_pic {
	struct kvm_pic_state chip[2];	/* master, slave */
	u32 sources[VPIC_NR_IRQS];	/* level per irq_source_id */
	bool output;			/* INTR */
	u16 acked;			/* IRQs whose service ended */

	const struct kvm_pic_ops *ops;
	void *owner;

#ifndef NKVM_USERSPACE
	spinlock_t lock;
	struct kvm *kvm;
	bool raised;			/* INTR rose under the lock */
	struct kvm_io_device dev_master, dev_slave, dev_elcr;	/* PIO bus */
#endif
};

void vpic_init(struct kvm_pic *pic, const struct kvm_pic_ops *ops,
	       void *owner);

/*
 * Source @source (0-31) drives IRQ @irq (0-15) to @level.  Returns the
 * KVM_IRQ_LINE_STATUS status: 1 a new request, 0 coalesced (already
 * requested), -1 masked.
 */
int vpic_set_irq(struct kvm_pic *pic, unsigned int irq, unsigned int source,
		 bool level);
void vpic_clear_source(struct kvm_pic *pic, unsigned int source);

/* A guest access to port 0x20, 0x21, 0xa0, 0xa1, 0x4d0 or 0x4d1. */
void vpic_write(struct kvm_pic *pic, u16 port, u8 val);
u8 vpic_read(struct kvm_pic *pic, u16 port);

/* INTR, and the CPU's INTA cycle: the vector to take (maybe spurious). */
static inline bool vpic_output(const struct kvm_pic *pic)
{
	return pic->output;
}
int vpic_ack(struct kvm_pic *pic);

/* IRQs (bit n: IRQ n) whose service ended since the last call. */
u16 vpic_take_acked(struct kvm_pic *pic);

/* KVM_GET/SET_IRQCHIP: @slave selects the chip. */
void vpic_get_state(const struct kvm_pic *pic, bool slave,
		    struct kvm_pic_state *s);
void vpic_set_state(struct kvm_pic *pic, bool slave,
		    const struct kvm_pic_state *s);

#ifndef NKVM_USERSPACE
/*
 * The kernel glue: every function takes the PIC's spinlock (interrupts
 * off), so any context may call them; INTR rising kicks the vCPUs that
 * take ExtINT, and the ack notifiers (kvm_notify_acked_irq()) run, after
 * the lock is dropped (so the ack of a pin must not come from atomic
 * context: it comes from guest port I/O or INTA, in vCPU context).
 *
 * kvm_pic_create() registers ports 0x20-0x21, 0xa0-0xa1 and 0x4d0-0x4d1
 * on the PIO bus (taking kvm->slots_lock); kvm_pic_destroy() unregisters
 * them and frees the PICs.  kvm_irqchip_create() (irq.c) calls both.
 */
int kvm_pic_create(struct kvm *kvm);
void kvm_pic_destroy(struct kvm *kvm);

int kvm_pic_set_irq(struct kvm *kvm, unsigned int irq, int irq_source_id,
		    int level);
void kvm_pic_clear_source(struct kvm *kvm, int irq_source_id);

/* Port I/O: 0, or -EOPNOTSUPP for a port that is not the PIC's. */
int kvm_pic_pio_read(struct kvm *kvm, u16 port, unsigned int len, void *data);
int kvm_pic_pio_write(struct kvm *kvm, u16 port, unsigned int len,
		      const void *data);

static inline bool kvm_pic_output(struct kvm_pic *pic)
{
	return READ_ONCE(pic->output);
}
int kvm_pic_ack(struct kvm_pic *pic);

/* @chip_id: KVM_IRQCHIP_PIC_MASTER or KVM_IRQCHIP_PIC_SLAVE */
void kvm_pic_get_state(struct kvm *kvm, u32 chip_id, struct kvm_pic_state *s);
void kvm_pic_set_state(struct kvm *kvm, u32 chip_id,
		       const struct kvm_pic_state *s);
#endif

#endif /* _NKVM_I8259_H */
