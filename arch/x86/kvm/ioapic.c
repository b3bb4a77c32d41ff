// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the I/O APIC (see ioapic.h).  The model first, the kernel glue at
 * the end.
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "x86.h"
#endif
#include "ioapic.h"

#ifdef NKVM_USERSPACE
#define array_index_nospec(i, n)	(i)
#endif

/* ---- The model ------------------------------------------------------------ */

void vioapic_init(struct kvm_ioapic *ioapic, const struct kvm_ioapic_ops *ops,
		  void *owner)
{
	memset(ioapic->sources, 0, sizeof(ioapic->sources));
	ioapic->ops = ops;
	ioapic->owner = owner;
}

void vioapic_reset(struct kvm_ioapic *ioapic)
{
	int i;

	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		ioapic->redir[i] = VIOAPIC_RTE_MASKED;
	ioapic->base = VIOAPIC_DEFAULT_BASE;
	ioapic->ioregsel = 0;
	ioapic->id = 0;
	ioapic->irr = 0;
	ioapic->irr_delivered = 0;
}

static bool rte_level(u64 rte)
{
	return rte & VIOAPIC_RTE_LEVEL;
}

/*
 * Send pin @pin's message if it may go: not masked, and for a level pin
 * not waiting for an EOI.  A level pin then waits for one (even when no
 * APIC took the message, as on Linux).
 */
static int service(struct kvm_ioapic *ioapic, unsigned int pin)
{
	u64 *rte = &ioapic->redir[pin];
	struct kvm_lapic_irq irq = {
		.dest_id = *rte >> VIOAPIC_RTE_DEST_SHIFT,
		.vector = *rte & VIOAPIC_RTE_VECTOR,
		.delivery_mode = (*rte >> VIOAPIC_RTE_DM_SHIFT) & 7,
		.logical = *rte & VIOAPIC_RTE_LOGICAL,
		.level = true,
		.trig_level = rte_level(*rte),
		.shorthand = LAPIC_SHORT_NONE,
	};
	int r;

	if ((*rte & VIOAPIC_RTE_MASKED) ||
	    (rte_level(*rte) && (*rte & VIOAPIC_RTE_REMOTE_IRR)))
		return -1;
	if (!rte_level(*rte))
		ioapic->irr_delivered |= 1U << pin;
	r = ioapic->ops->deliver(ioapic, &irq);
	if (r && rte_level(*rte))
		*rte |= VIOAPIC_RTE_REMOTE_IRR;
	return r;
}

/* The line of @pin is now @level (the OR of its sources). */
static int set_line(struct kvm_ioapic *ioapic, unsigned int pin, bool level)
{
	u32 bit = 1U << pin, old = ioapic->irr;

	if (!level) {
		ioapic->irr &= ~bit;
		return 1;
	}
	ioapic->irr |= bit;
	if (!rte_level(ioapic->redir[pin])) {
		ioapic->irr_delivered &= ~bit;
		if (old & bit)
			return 0;	/* no edge: coalesced */
	}
	return service(ioapic, pin);
}

int vioapic_set_irq(struct kvm_ioapic *ioapic, unsigned int pin,
		    unsigned int source, bool level)
{
	if (pin >= VIOAPIC_NR_PINS || source >= 32)
		return -1;
	if (level)
		ioapic->sources[pin] |= 1U << source;
	else
		ioapic->sources[pin] &= ~(1U << source);
	return set_line(ioapic, pin, ioapic->sources[pin] != 0);
}

void vioapic_clear_source(struct kvm_ioapic *ioapic, unsigned int source)
{
	int i;

	if (source >= 32)
		return;
	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		ioapic->sources[i] &= ~(1U << source);
}

static u32 read_indirect(const struct kvm_ioapic *ioapic)
{
	u32 sel = ioapic->ioregsel, pin;
	u64 rte = ~0ULL;

	switch (sel) {
	case VIOAPIC_REG_ID:
	case VIOAPIC_REG_ARB:
		return (ioapic->id & 0xf) << 24;
	case VIOAPIC_REG_VERSION:
		return ((VIOAPIC_NR_PINS - 1) << 16) | VIOAPIC_VERSION;
	}
	pin = (sel - VIOAPIC_REG_REDTBL) >> 1;
	if (sel >= VIOAPIC_REG_REDTBL && pin < VIOAPIC_NR_PINS)
		rte = ioapic->redir[array_index_nospec(pin, VIOAPIC_NR_PINS)];
	return (sel & 1) ? rte >> 32 : (u32)rte;
}

static void write_indirect(struct kvm_ioapic *ioapic, u32 val)
{
	u32 sel = ioapic->ioregsel, pin;
	u64 *rte, keep;

	switch (sel) {
	case VIOAPIC_REG_ID:
		ioapic->id = (val >> 24) & 0xf;
		return;
	case VIOAPIC_REG_VERSION:
	case VIOAPIC_REG_ARB:
		return;
	}
	pin = (sel - VIOAPIC_REG_REDTBL) >> 1;
	if (sel < VIOAPIC_REG_REDTBL || pin >= VIOAPIC_NR_PINS)
		return;
	rte = &ioapic->redir[array_index_nospec(pin, VIOAPIC_NR_PINS)];

	/* Remote IRR and delivery status are read-only. */
	keep = *rte & (VIOAPIC_RTE_REMOTE_IRR | VIOAPIC_RTE_STATUS);
	if (sel & 1)
		*rte = (*rte & 0xffffffffULL) | (u64)val << 32;
	else
		*rte = (*rte & ~0xffffffffULL) | val;
	*rte = (*rte & ~(VIOAPIC_RTE_REMOTE_IRR | VIOAPIC_RTE_STATUS)) | keep;
	/*
	 * An IOAPIC without an EOI register clears remote IRR when the pin
	 * turns edge-triggered: guests (Linux, Xen) use that as an EOI.
	 */
	if (!rte_level(*rte))
		*rte &= ~VIOAPIC_RTE_REMOTE_IRR;
	/* A level pin whose line is high delivers now, if it may. */
	if (rte_level(*rte) && (ioapic->irr & (1U << pin)))
		service(ioapic, pin);
}

void vioapic_mmio_read(struct kvm_ioapic *ioapic, u32 offset, void *data,
		       unsigned int len)
{
	u64 val = 0;

	switch (offset & 0xff) {
	case VIOAPIC_REGSEL:
		val = ioapic->ioregsel;
		break;
	case VIOAPIC_WINDOW:
		val = read_indirect(ioapic);
		break;
	}
	if (len > 8)
		len = 8;
	memcpy(data, &val, len);
}

void vioapic_mmio_write(struct kvm_ioapic *ioapic, u32 offset,
			const void *data, unsigned int len)
{
	u32 val = 0;

	switch (len) {
	case 1:
	case 2:
	case 4:
		memcpy(&val, data, len);
		break;
	case 8:		/* the low half */
		memcpy(&val, data, 4);
		break;
	default:
		return;
	}
	switch (offset & 0xff) {
	case VIOAPIC_REGSEL:
		ioapic->ioregsel = val & 0xff;
		break;
	case VIOAPIC_WINDOW:
		write_indirect(ioapic, val);
		break;
	}
}

u32 vioapic_vector_pins(const struct kvm_ioapic *ioapic, u8 vector)
{
	u32 pins = 0;
	int i;

	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		if ((ioapic->redir[i] & VIOAPIC_RTE_VECTOR) == vector)
			pins |= 1U << i;
	return pins;
}

void vioapic_eoi(struct kvm_ioapic *ioapic, u8 vector)
{
	int i;

	for (i = 0; i < VIOAPIC_NR_PINS; i++) {
		u64 *rte = &ioapic->redir[i];

		if ((*rte & VIOAPIC_RTE_VECTOR) != vector || !rte_level(*rte) ||
		    !(*rte & VIOAPIC_RTE_REMOTE_IRR))
			continue;
		*rte &= ~VIOAPIC_RTE_REMOTE_IRR;
		if (!(*rte & VIOAPIC_RTE_MASKED) && (ioapic->irr & (1U << i)))
			service(ioapic, i);
	}
}

void vioapic_get_state(const struct kvm_ioapic *ioapic,
		       struct kvm_ioapic_state *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->base_address = ioapic->base;
	s->ioregsel = ioapic->ioregsel;
	s->id = ioapic->id;
	/* A delivered edge is not pending any more. */
	s->irr = ioapic->irr & ~ioapic->irr_delivered;
	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		s->redirtbl[i].bits = ioapic->redir[i];
}

void vioapic_set_state(struct kvm_ioapic *ioapic,
		       const struct kvm_ioapic_state *s)
{
	int i;

	ioapic->base = s->base_address;
	ioapic->ioregsel = s->ioregsel;
	ioapic->id = s->id;
	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		ioapic->redir[i] = s->redirtbl[i].bits;
	/* Pending lines are raised again, which delivers what may go. */
	ioapic->irr = 0;
	ioapic->irr_delivered = 0;
	for (i = 0; i < VIOAPIC_NR_PINS; i++)
		if (s->irr & (1U << i))
			set_line(ioapic, i, true);
}

#ifndef NKVM_USERSPACE
/* ---- Kernel glue ------------------------------------------------------------ */

static int glue_deliver(struct kvm_ioapic *ioapic,
			const struct kvm_lapic_irq *irq)
{
	return kvm_irq_deliver(ioapic->kvm, NULL, irq);
}

static const struct kvm_ioapic_ops ioapic_glue_ops = {
	.deliver = glue_deliver,
};

static int ioapic_dev_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			   gpa_t addr, int len, void *val)
{
	return kvm_ioapic_mmio_read(vcpu->kvm, addr, len, val);
}

static int ioapic_dev_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			    gpa_t addr, int len, const void *val)
{
	return kvm_ioapic_mmio_write(vcpu->kvm, addr, len, val);
}

static const struct kvm_io_device_ops ioapic_dev_ops = {
	.read = ioapic_dev_read,
	.write = ioapic_dev_write,
};

int kvm_ioapic_create(struct kvm *kvm)
{
	struct kvm_ioapic *ioapic;
	int r;

	if (kvm->arch.vioapic)
		return -EEXIST;
	ioapic = kzalloc(sizeof(*ioapic), GFP_KERNEL_ACCOUNT);
	if (!ioapic)
		return -ENOMEM;
	spin_lock_init(&ioapic->lock);
	ioapic->kvm = kvm;
	vioapic_init(ioapic, &ioapic_glue_ops, kvm);
	vioapic_reset(ioapic);
	kvm_iodevice_init(&ioapic->dev, &ioapic_dev_ops);
	smp_store_release(&kvm->arch.vioapic, ioapic);

	mutex_lock(&kvm->slots_lock);
	r = kvm_io_bus_register_dev(kvm, KVM_MMIO_BUS, VIOAPIC_DEFAULT_BASE,
				    VIOAPIC_MMIO_SIZE, &ioapic->dev);
	mutex_unlock(&kvm->slots_lock);
	if (r) {
		kvm->arch.vioapic = NULL;
		kfree(ioapic);
	}
	return r;
}

void kvm_ioapic_destroy(struct kvm *kvm)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;

	if (!ioapic)
		return;
	mutex_lock(&kvm->slots_lock);
	kvm_io_bus_unregister_dev(kvm, KVM_MMIO_BUS, &ioapic->dev);
	mutex_unlock(&kvm->slots_lock);
	kvm->arch.vioapic = NULL;
	kfree(ioapic);
}

int kvm_ioapic_set_irq(struct kvm *kvm, unsigned int pin, int irq_source_id,
		       int level, bool line_status)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;
	int r;

	if (!ioapic || pin >= VIOAPIC_NR_PINS || irq_source_id < 0 ||
	    irq_source_id >= KVM_NR_IRQ_SOURCE_IDS)
		return -EINVAL;
	spin_lock_irqsave(&ioapic->lock, flags);
	r = vioapic_set_irq(ioapic, pin, irq_source_id, level);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return r;
}

void kvm_ioapic_clear_source(struct kvm *kvm, int irq_source_id)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;

	if (!ioapic)
		return;
	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_clear_source(ioapic, irq_source_id);
	spin_unlock_irqrestore(&ioapic->lock, flags);
}

static bool in_window(struct kvm_ioapic *ioapic, gpa_t gpa, unsigned int len)
{
	u64 base = READ_ONCE(ioapic->base);

	return gpa >= base && gpa + len <= base + VIOAPIC_MMIO_SIZE;
}

int kvm_ioapic_mmio_read(struct kvm *kvm, gpa_t gpa, unsigned int len,
			 void *data)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;

	if (!ioapic || !in_window(ioapic, gpa, len))
		return -EOPNOTSUPP;
	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_mmio_read(ioapic, gpa - ioapic->base, data, len);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return 0;
}

int kvm_ioapic_mmio_write(struct kvm *kvm, gpa_t gpa, unsigned int len,
			  const void *data)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;

	if (!ioapic || !in_window(ioapic, gpa, len))
		return -EOPNOTSUPP;
	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_mmio_write(ioapic, gpa - ioapic->base, data, len);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return 0;
}

bool kvm_ioapic_uses_vector(struct kvm *kvm, u8 vector)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;
	u32 pins;

	if (!ioapic)
		return false;
	spin_lock_irqsave(&ioapic->lock, flags);
	pins = vioapic_vector_pins(ioapic, vector);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return pins;
}

void kvm_ioapic_eoi(struct kvm *kvm, u8 vector, bool level)
{
	struct kvm_ioapic *ioapic = smp_load_acquire(&kvm->arch.vioapic);
	unsigned long flags;
	u32 pins;

	if (!ioapic)
		return;
	/*
	 * Ack notifiers first, without the lock (they may drive a GSI):
	 * a resampler that lowers its line then prevents a new delivery.
	 */
	spin_lock_irqsave(&ioapic->lock, flags);
	pins = vioapic_vector_pins(ioapic, vector);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	while (pins) {
		unsigned int pin = __ffs(pins);

		pins &= pins - 1;
		kvm_notify_acked_irq(kvm, KVM_IRQCHIP_IOAPIC, pin);
	}
	if (!level)
		return;
	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_eoi(ioapic, vector);
	spin_unlock_irqrestore(&ioapic->lock, flags);
}

void kvm_ioapic_get_state(struct kvm *kvm, struct kvm_ioapic_state *s)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;
	unsigned long flags;

	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_get_state(ioapic, s);
	spin_unlock_irqrestore(&ioapic->lock, flags);
}

void kvm_ioapic_set_state(struct kvm *kvm, const struct kvm_ioapic_state *s)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;
	unsigned long flags;

	spin_lock_irqsave(&ioapic->lock, flags);
	vioapic_set_state(ioapic, s);
	spin_unlock_irqrestore(&ioapic->lock, flags);
}
#endif /* !NKVM_USERSPACE */
