// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the two 8259A PICs (see i8259.h).  The model first, the kernel
 * glue at the end.
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/slab.h>
#include <linux/spinlock.h>

#include "x86.h"
#endif
#include "i8259.h"

/* ---- The model ------------------------------------------------------------ */

#define MASTER	0
#define SLAVE	1

static bool is_master(const struct kvm_pic *pic, const struct kvm_pic_state *c)
{
	return c == &pic->chip[MASTER];
}

/* Service of @irq (0-7) on chip @c ended. */
static void clear_isr(struct kvm_pic *pic, struct kvm_pic_state *c, int irq)
{
	c->isr &= ~(1U << irq);
	pic->acked |= 1U << (is_master(pic, c) ? irq : irq + 8);
}

/*
 * The input @irq of chip @c is at @level.  An edge input requests on a
 * rising edge; a level input (ELCR) requests while high.  Returns 1 for a
 * new request, 0 if it was already requested, -1 if masked.
 */
static int set_input(struct kvm_pic_state *c, int irq, bool level)
{
	u8 bit = 1U << irq;
	int r = 1;

	if (c->elcr & bit) {
		if (level) {
			r = !(c->irr & bit);
			c->irr |= bit;
			c->last_irr |= bit;
		} else {
			c->irr &= ~bit;
			c->last_irr &= ~bit;
		}
	} else {
		if (level) {
			if (!(c->last_irr & bit)) {
				r = !(c->irr & bit);
				c->irr |= bit;
			}
			c->last_irr |= bit;
		} else {
			c->last_irr &= ~bit;
		}
	}
	return (c->imr & bit) ? -1 : r;
}

/*
 * The priority (0 highest, 8 none) of the best bit of @mask, IRQ
 * priority_add having priority 0 (rotation).
 */
static int priority_of(const struct kvm_pic_state *c, u8 mask)
{
	int p;

	if (!mask)
		return 8;
	for (p = 0; !(mask & (1U << ((p + c->priority_add) & 7))); p++)
		;
	return p;
}

/* The IRQ this chip would raise INTR for, or -1. */
static int chip_irq(const struct kvm_pic *pic, const struct kvm_pic_state *c)
{
	u8 in_service = c->isr;
	int req = priority_of(c, c->irr & ~c->imr);

	if (req == 8)
		return -1;
	/* Special mask mode: a masked IRQ in service blocks nothing. */
	if (c->special_mask)
		in_service &= ~c->imr;
	/* Special fully nested: the slave may interrupt its own service. */
	if (c->special_fully_nested_mode && is_master(pic, c))
		in_service &= ~(1U << 2);
	if (req < priority_of(c, in_service))
		return (req + c->priority_add) & 7;
	return -1;
}

/* Recompute the cascade and INTR; call after anything that may change it. */
static void update(struct kvm_pic *pic)
{
	bool was = pic->output;

	if (chip_irq(pic, &pic->chip[SLAVE]) >= 0) {
		/* The slave's INT is an edge on the master's IRQ 2. */
		set_input(&pic->chip[MASTER], 2, true);
		set_input(&pic->chip[MASTER], 2, false);
	}
	pic->output = chip_irq(pic, &pic->chip[MASTER]) >= 0;
	if (pic->output && !was && pic->ops && pic->ops->intr_raised)
		pic->ops->intr_raised(pic);
}

void vpic_init(struct kvm_pic *pic, const struct kvm_pic_ops *ops, void *owner)
{
	memset(pic->chip, 0, sizeof(pic->chip));
	memset(pic->sources, 0, sizeof(pic->sources));
	pic->chip[MASTER].elcr_mask = VPIC_MASTER_ELCR_MASK;
	pic->chip[SLAVE].elcr_mask = VPIC_SLAVE_ELCR_MASK;
	pic->output = false;
	pic->acked = 0;
	pic->ops = ops;
	pic->owner = owner;
}

int vpic_set_irq(struct kvm_pic *pic, unsigned int irq, unsigned int source,
		 bool level)
{
	int r;

	if (irq >= VPIC_NR_IRQS || source >= 32)
		return -1;
	if (level)
		pic->sources[irq] |= 1U << source;
	else
		pic->sources[irq] &= ~(1U << source);
	r = set_input(&pic->chip[irq >> 3], irq & 7, pic->sources[irq] != 0);
	update(pic);
	return r;
}

void vpic_clear_source(struct kvm_pic *pic, unsigned int source)
{
	int i;

	if (source >= 32)
		return;
	for (i = 0; i < VPIC_NR_IRQS; i++)
		pic->sources[i] &= ~(1U << source);
}

/* INTA on one chip: the IRQ enters service (and leaves it in auto-EOI). */
static void intack(struct kvm_pic *pic, struct kvm_pic_state *c, int irq)
{
	c->isr |= 1U << irq;
	/* A level input stays requested while its line is high. */
	if (!(c->elcr & (1U << irq)))
		c->irr &= ~(1U << irq);
	if (c->auto_eoi) {
		if (c->rotate_on_auto_eoi)
			c->priority_add = (irq + 1) & 7;
		clear_isr(pic, c, irq);
	}
}

int vpic_ack(struct kvm_pic *pic)
{
	struct kvm_pic_state *m = &pic->chip[MASTER], *s = &pic->chip[SLAVE];
	int irq = chip_irq(pic, m), irq2, vector;

	if (irq < 0) {
		/* Spurious: IRQ 7 of the master, not put in service. */
		vector = m->irq_base + 7;
	} else {
		intack(pic, m, irq);
		if (irq == 2) {
			irq2 = chip_irq(pic, s);
			if (irq2 >= 0)
				intack(pic, s, irq2);
			else
				irq2 = 7;	/* spurious on the slave */
			vector = s->irq_base + irq2;
		} else {
			vector = m->irq_base + irq;
		}
	}
	update(pic);
	return vector;
}

u16 vpic_take_acked(struct kvm_pic *pic)
{
	u16 a = pic->acked;

	pic->acked = 0;
	return a;
}

/* ICW1: start an initialisation sequence. */
static void icw1(struct kvm_pic_state *c, u8 val)
{
	c->init4 = val & 1;
	c->last_irr = 0;
	c->irr &= c->elcr;
	c->imr = 0;
	c->priority_add = 0;
	c->special_mask = 0;
	c->read_reg_select = 0;
	if (!c->init4) {
		c->special_fully_nested_mode = 0;
		c->auto_eoi = 0;
	}
	c->init_state = 1;
}

static void ocw2(struct kvm_pic *pic, struct kvm_pic_state *c, u8 val)
{
	int p, irq;

	switch (val >> 5) {
	case 0:		/* rotate in auto-EOI mode: clear */
	case 4:		/* rotate in auto-EOI mode: set */
		c->rotate_on_auto_eoi = val >> 7;
		break;
	case 1:		/* non-specific EOI */
	case 5:		/* rotate on non-specific EOI */
		p = priority_of(c, c->isr);
		if (p == 8)
			break;
		irq = (p + c->priority_add) & 7;
		if (val >> 5 == 5)
			c->priority_add = (irq + 1) & 7;
		clear_isr(pic, c, irq);
		break;
	case 3:		/* specific EOI */
		clear_isr(pic, c, val & 7);
		break;
	case 6:		/* set priority: IRQ val & 7 becomes the lowest */
		c->priority_add = (val + 1) & 7;
		break;
	case 7:		/* rotate on specific EOI */
		irq = val & 7;
		c->priority_add = (irq + 1) & 7;
		clear_isr(pic, c, irq);
		break;
	default:	/* 2: no operation */
		break;
	}
}

static void ocw3(struct kvm_pic_state *c, u8 val)
{
	if (val & 0x04)
		c->poll = 1;
	if (val & 0x02)
		c->read_reg_select = val & 1;
	if (val & 0x40)
		c->special_mask = (val >> 5) & 1;
}

static void data_write(struct kvm_pic_state *c, u8 val)
{
	switch (c->init_state) {
	case 0:		/* OCW1 */
		c->imr = val;
		break;
	case 1:		/* ICW2 */
		c->irq_base = val & 0xf8;
		c->init_state = 2;
		break;
	case 2:		/* ICW3: the cascade is fixed */
		c->init_state = c->init4 ? 3 : 0;
		break;
	case 3:		/* ICW4 */
		c->special_fully_nested_mode = (val >> 4) & 1;
		c->auto_eoi = (val >> 1) & 1;
		c->init_state = 0;
		break;
	}
}

void vpic_write(struct kvm_pic *pic, u16 port, u8 val)
{
	struct kvm_pic_state *c;

	switch (port) {
	case VPIC_ELCR_MASTER:
	case VPIC_ELCR_SLAVE:
		c = &pic->chip[port & 1];
		c->elcr = val & c->elcr_mask;
		return;
	case VPIC_MASTER_CMD:
	case VPIC_MASTER_DATA:
		c = &pic->chip[MASTER];
		break;
	case VPIC_SLAVE_CMD:
	case VPIC_SLAVE_DATA:
		c = &pic->chip[SLAVE];
		break;
	default:
		return;
	}

	if (port & 1)
		data_write(c, val);
	else if (val & 0x10)
		icw1(c, val);
	else if (val & 0x08)
		ocw3(c, val);
	else
		ocw2(pic, c, val);
	update(pic);
}

/* A read after an OCW3 poll command: acknowledge and end the best IRQ. */
static u8 poll_read(struct kvm_pic *pic, struct kvm_pic_state *c)
{
	int irq = chip_irq(pic, c);

	if (irq < 0)
		return 7;
	if (!is_master(pic, c)) {
		pic->chip[MASTER].isr &= ~(1U << 2);
		pic->chip[MASTER].irr &= ~(1U << 2);
	}
	c->irr &= ~(1U << irq);
	clear_isr(pic, c, irq);
	return irq;
}

u8 vpic_read(struct kvm_pic *pic, u16 port)
{
	struct kvm_pic_state *c;
	u8 r;

	switch (port) {
	case VPIC_ELCR_MASTER:
	case VPIC_ELCR_SLAVE:
		return pic->chip[port & 1].elcr;
	case VPIC_MASTER_CMD:
	case VPIC_MASTER_DATA:
		c = &pic->chip[MASTER];
		break;
	case VPIC_SLAVE_CMD:
	case VPIC_SLAVE_DATA:
		c = &pic->chip[SLAVE];
		break;
	default:
		return 0xff;
	}

	if (c->poll) {
		c->poll = 0;
		r = poll_read(pic, c);
		update(pic);
		return r;
	}
	if (port & 1)
		return c->imr;
	return c->read_reg_select ? c->isr : c->irr;
}

void vpic_get_state(const struct kvm_pic *pic, bool slave,
		    struct kvm_pic_state *s)
{
	*s = pic->chip[slave];
}

void vpic_set_state(struct kvm_pic *pic, bool slave,
		    const struct kvm_pic_state *s)
{
	pic->chip[slave] = *s;
	update(pic);
}

#ifndef NKVM_USERSPACE
/* ---- Kernel glue ------------------------------------------------------------ */

static void glue_intr_raised(struct kvm_pic *pic)
{
	pic->raised = true;	/* the kicks wait for the unlock */
}

static const struct kvm_pic_ops pic_glue_ops = {
	.intr_raised = glue_intr_raised,
};

static void pic_lock(struct kvm_pic *pic, unsigned long *flags)
	__acquires(&pic->lock)
{
	spin_lock_irqsave(&pic->lock, *flags);
}

/* Drop the lock, then kick and run the ack notifiers. */
static void pic_unlock(struct kvm_pic *pic, unsigned long flags)
	__releases(&pic->lock)
{
	bool raised = pic->raised;
	u16 acked = vpic_take_acked(pic);

	pic->raised = false;
	spin_unlock_irqrestore(&pic->lock, flags);

	if (raised)
		kvm_irq_extint_raised(pic->kvm);
	while (acked) {
		unsigned int irq = __ffs(acked);

		acked &= acked - 1;
		kvm_notify_acked_irq(pic->kvm, irq < 8 ? KVM_IRQCHIP_PIC_MASTER :
							 KVM_IRQCHIP_PIC_SLAVE,
				     irq & 7);
	}
}

static int pic_dev_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			gpa_t addr, int len, void *val)
{
	return kvm_pic_pio_read(vcpu->kvm, addr, len, val);
}

static int pic_dev_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			 gpa_t addr, int len, const void *val)
{
	return kvm_pic_pio_write(vcpu->kvm, addr, len, val);
}

static const struct kvm_io_device_ops pic_dev_ops = {
	.read = pic_dev_read,
	.write = pic_dev_write,
};

static void pic_unregister(struct kvm *kvm, struct kvm_pic *pic)
{
	mutex_lock(&kvm->slots_lock);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_master);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_slave);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_elcr);
	mutex_unlock(&kvm->slots_lock);
}

int kvm_pic_create(struct kvm *kvm)
{
	struct kvm_pic *pic;
	int r;

	if (kvm->arch.vpic)
		return -EEXIST;
	pic = kzalloc(sizeof(*pic), GFP_KERNEL_ACCOUNT);
	if (!pic)
		return -ENOMEM;
	spin_lock_init(&pic->lock);
	pic->kvm = kvm;
	vpic_init(pic, &pic_glue_ops, kvm);
	kvm_iodevice_init(&pic->dev_master, &pic_dev_ops);
	kvm_iodevice_init(&pic->dev_slave, &pic_dev_ops);
	kvm_iodevice_init(&pic->dev_elcr, &pic_dev_ops);
	/* Published before the ports: their callbacks look it up. */
	smp_store_release(&kvm->arch.vpic, pic);

	mutex_lock(&kvm->slots_lock);
	r = kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, VPIC_MASTER_CMD, 2,
				    &pic->dev_master);
	if (!r)
		r = kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, VPIC_SLAVE_CMD, 2,
					    &pic->dev_slave);
	if (!r)
		r = kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, VPIC_ELCR_MASTER,
					    2, &pic->dev_elcr);
	mutex_unlock(&kvm->slots_lock);
	if (r) {
		pic_unregister(kvm, pic);
		kvm->arch.vpic = NULL;
		kfree(pic);
	}
	return r;
}

void kvm_pic_destroy(struct kvm *kvm)
{
	struct kvm_pic *pic = kvm->arch.vpic;

	if (!pic)
		return;
	pic_unregister(kvm, pic);
	kvm->arch.vpic = NULL;
	kfree(pic);
}

int kvm_pic_set_irq(struct kvm *kvm, unsigned int irq, int irq_source_id,
		    int level)
{
	struct kvm_pic *pic = smp_load_acquire(&kvm->arch.vpic);
	unsigned long flags;
	int r;

	if (!pic || irq >= VPIC_NR_IRQS || irq_source_id < 0 ||
	    irq_source_id >= KVM_NR_IRQ_SOURCE_IDS)
		return -EINVAL;
	pic_lock(pic, &flags);
	r = vpic_set_irq(pic, irq, irq_source_id, level);
	pic_unlock(pic, flags);
	return r;
}

void kvm_pic_clear_source(struct kvm *kvm, int irq_source_id)
{
	struct kvm_pic *pic = smp_load_acquire(&kvm->arch.vpic);
	unsigned long flags;

	if (!pic)
		return;
	pic_lock(pic, &flags);
	vpic_clear_source(pic, irq_source_id);
	pic_unlock(pic, flags);
}

static bool is_pic_port(u16 port)
{
	switch (port) {
	case VPIC_MASTER_CMD:
	case VPIC_MASTER_DATA:
	case VPIC_SLAVE_CMD:
	case VPIC_SLAVE_DATA:
	case VPIC_ELCR_MASTER:
	case VPIC_ELCR_SLAVE:
		return true;
	default:
		return false;
	}
}

int kvm_pic_pio_read(struct kvm *kvm, u16 port, unsigned int len, void *data)
{
	struct kvm_pic *pic = smp_load_acquire(&kvm->arch.vpic);
	unsigned long flags;

	if (!pic || !is_pic_port(port))
		return -EOPNOTSUPP;
	memset(data, 0, len);
	/* The chips are 8 bits wide: wider accesses read as zero. */
	if (len != 1)
		return 0;
	pic_lock(pic, &flags);
	*(u8 *)data = vpic_read(pic, port);
	pic_unlock(pic, flags);
	return 0;
}

int kvm_pic_pio_write(struct kvm *kvm, u16 port, unsigned int len,
		      const void *data)
{
	struct kvm_pic *pic = smp_load_acquire(&kvm->arch.vpic);
	unsigned long flags;

	if (!pic || !is_pic_port(port))
		return -EOPNOTSUPP;
	if (len != 1)
		return 0;
	pic_lock(pic, &flags);
	vpic_write(pic, port, *(const u8 *)data);
	pic_unlock(pic, flags);
	return 0;
}

int kvm_pic_ack(struct kvm_pic *pic)
{
	unsigned long flags;
	int vector;

	pic_lock(pic, &flags);
	vector = vpic_ack(pic);
	pic_unlock(pic, flags);
	return vector;
}

void kvm_pic_get_state(struct kvm *kvm, u32 chip_id, struct kvm_pic_state *s)
{
	struct kvm_pic *pic = kvm->arch.vpic;
	unsigned long flags;

	pic_lock(pic, &flags);
	vpic_get_state(pic, chip_id == KVM_IRQCHIP_PIC_SLAVE, s);
	pic_unlock(pic, flags);
}

void kvm_pic_set_state(struct kvm *kvm, u32 chip_id,
		       const struct kvm_pic_state *s)
{
	struct kvm_pic *pic = kvm->arch.vpic;
	unsigned long flags;

	pic_lock(pic, &flags);
	vpic_set_state(pic, chip_id == KVM_IRQCHIP_PIC_SLAVE, s);
	pic_unlock(pic, flags);
}
#endif /* !NKVM_USERSPACE */
