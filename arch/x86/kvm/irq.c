// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: interrupt delivery to the local APICs, MSIs, and the vCPU side of
 * interrupts (see irq.h).
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/smp.h>
#include <linux/rcuwait.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
/* 6.12's smp_send_reschedule() traces the IPI. */
#include <trace/events/ipi.h>

#include "x86.h"
#include "i8254.h"
#include "i8259.h"
#include "ioapic.h"
#endif
#include "irq.h"

/* ---- The model ----------------------------------------------------------- */

static bool is_lowest_priority(const struct kvm_lapic_irq *irq)
{
	return irq->delivery_mode == LAPIC_DM_LOWEST || irq->redir_hint;
}

static bool takes(const struct kvm_apic_set *set, struct kvm_lapic *apic,
		  struct kvm_lapic *src, const struct kvm_lapic_irq *irq)
{
	return vlapic_hw_enabled(apic) &&
	       vlapic_match_dest(apic, src, irq, set->bcast_quirk);
}

int vlapic_deliver(const struct kvm_apic_set *set, struct kvm_lapic *src,
		   const struct kvm_lapic_irq *irq)
{
	bool lowest = is_lowest_priority(irq);
	struct kvm_lapic *apic;
	unsigned long pos = 0;
	unsigned int n = 0, k;
	int r = -1;

	while ((apic = set->next(set->ctx, &pos))) {
		if (!takes(set, apic, src, irq))
			continue;
		if (!lowest) {
			if (r < 0)
				r = 0;
			r += vlapic_accept_irq(apic, irq);
		} else if (vlapic_sw_enabled(apic)) {
			n++;
		}
	}
	if (!lowest || !n)
		return r;

	/* Lowest priority: one of the candidates, chosen by the vector. */
	k = irq->vector % n;
	pos = 0;
	while ((apic = set->next(set->ctx, &pos))) {
		if (!takes(set, apic, src, irq) || !vlapic_sw_enabled(apic))
			continue;
		if (!k--)
			return vlapic_accept_irq(apic, irq);
	}
	return -1;	/* the set changed under us */
}

#define MSI_ADDR_DEST_SHIFT	12
#define MSI_ADDR_REDIR_HINT	(1U << 3)
#define MSI_ADDR_LOGICAL	(1U << 2)
#define MSI_DATA_TRIGGER	(1U << 15)

bool kvm_msi_decode(u32 address_lo, u32 address_hi, u32 data,
		    bool x2apic_format, struct kvm_lapic_irq *irq)
{
	u32 dest = (address_lo >> MSI_ADDR_DEST_SHIFT) & 0xff;

	/* Like Linux, the address window itself is not checked. */
	if (x2apic_format) {
		if (address_hi & 0xff)	/* reserved in this format */
			return false;
		dest |= address_hi & 0xffffff00;
	}
	*irq = (struct kvm_lapic_irq) {
		.dest_id = dest,
		.vector = data & LAPIC_VECTOR_MASK,
		.delivery_mode = (data & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT,
		.logical = address_lo & MSI_ADDR_LOGICAL,
		.redir_hint = address_lo & MSI_ADDR_REDIR_HINT,
		.trig_level = data & MSI_DATA_TRIGGER,
		/* An MSI is a message: always asserted. */
		.level = true,
		.shorthand = LAPIC_SHORT_NONE,
	};
	return true;
}

#ifndef NKVM_USERSPACE
/* ---- Kernel glue ----------------------------------------------------------- */

/* Upper bound of the adaptive halt polling, in ns (Linux's parameter). */
static unsigned int halt_poll_ns = 200000;
module_param(halt_poll_ns, uint, 0644);
MODULE_PARM_DESC(halt_poll_ns, "Longest a halted vCPU polls before sleeping (ns)");

void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = READ_ONCE(vcpu->arch.apic);
	int me, cpu;

	kvm_make_request(vcpu, KVM_REQ_EVENT);
	/* The request before the mode: pairs with kvm_vcpu_enter_guest_mode(). */
	smp_mb__after_atomic();
	/* Lock-free (RCU): safe from the hard interrupt of an hrtimer. */
	if (apic && rcuwait_wake_up(&apic->wait))
		kvm_stats_halt_wakeup(vcpu);

	me = get_cpu();
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu >= 0 && cpu != me && READ_ONCE(vcpu->mode) == IN_GUEST_MODE)
		smp_send_reschedule(cpu);
	put_cpu();
}

/*
 * Halt polling adapts per vCPU: a wake-up that came within the polling
 * bound doubles the next poll (from 10 us), a longer sleep stops polling.
 */
#define HALT_POLL_START_NS	10000U

static void halt_poll_adapt(struct kvm_vcpu *vcpu, u64 waited)
{
	unsigned int *poll = &vcpu->arch.apic->halt_poll_ns;
	unsigned int max = READ_ONCE(halt_poll_ns);

	if (waited > max)
		*poll = 0;
	else if (!*poll)
		*poll = min(HALT_POLL_START_NS, max);
	else
		*poll = min(*poll * 2, max);
}

int kvm_vcpu_halt(struct kvm_vcpu *vcpu, bool (*runnable)(struct kvm_vcpu *))
	__must_hold(&vcpu->kvm->srcu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	u64 poll_ns = min(apic->halt_poll_ns, READ_ONCE(halt_poll_ns));
	u64 start = ktime_get_ns(), now = start, poll_end = start + poll_ns;
	bool waited = false;
	int r = 0;

	if (runnable(vcpu))
		return 0;

	while ((now = ktime_get_ns()) < poll_end) {
		if (runnable(vcpu))
			goto out;
		/* Polling only helps while no other task wants this CPU. */
		if (signal_pending(current) || need_resched() ||
		    !single_task_running())
			break;
		cpu_relax();
	}

	srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx);
	kvm_stats_set_blocking(vcpu, true);
	prepare_to_rcuwait(&apic->wait);
	for (;;) {
		/* The state before the check: pairs with rcuwait_wake_up(). */
		set_current_state(TASK_INTERRUPTIBLE);
		if (runnable(vcpu))
			break;
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}
		waited = true;
		schedule();
	}
	finish_rcuwait(&apic->wait);
	kvm_stats_set_blocking(vcpu, false);
	vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
	/* The statistics: asleep since polling ended; polled if allowed to. */
	if (waited)
		kvm_stats_halt_wait(vcpu, ktime_get_ns() - now);
out:
	if (poll_ns)
		kvm_stats_halt_poll(vcpu, now - start, !waited);
	halt_poll_adapt(vcpu, ktime_get_ns() - start);
	return r;
}

/*
 * The APICs of the vCPUs published so far (a vCPU is counted in nr_vcpus
 * only once its creation can no longer fail).
 */
static struct kvm_lapic *vm_next_apic(void *ctx, unsigned long *pos)
{
	struct kvm *kvm = ctx;
	unsigned long idx = *pos, nr = atomic_read(&kvm->nr_vcpus);
	struct kvm_vcpu *vcpu;

	smp_rmb();	/* pairs with the publication in the core */
	while (nr && (vcpu = xa_find(&kvm->vcpus, &idx, nr - 1, XA_PRESENT))) {
		/* Pairs with the release in kvm_lapic_create(). */
		struct kvm_lapic *apic = smp_load_acquire(&vcpu->arch.apic);

		idx++;
		if (apic) {
			*pos = idx;
			return apic;
		}
	}
	*pos = idx;
	return NULL;
}

int kvm_irq_deliver(struct kvm *kvm, struct kvm_lapic *src,
		    const struct kvm_lapic_irq *irq)
{
	struct kvm_apic_set set = {
		.next = vm_next_apic,
		.ctx = kvm,
		.bcast_quirk = !READ_ONCE(kvm->arch.x2apic_broadcast_quirk_disabled),
	};

	return vlapic_deliver(&set, src, irq);
}

int kvm_irq_deliver_bitmap(struct kvm *kvm, const u64 bitmap[2], u32 min,
			   unsigned int bits, const struct kvm_lapic_irq *irq)
{
	struct kvm_lapic *apic;
	unsigned long pos = 0;
	int n = 0;

	while ((apic = vm_next_apic(kvm, &pos))) {
		u32 off = vlapic_cur_id(apic) - min;

		if (off >= 2 * bits || !vlapic_hw_enabled(apic) ||
		    !(bitmap[off / bits] & BIT_ULL(off % bits)))
			continue;
		n += vlapic_accept_irq(apic, irq);
	}
	return n;
}

int kvm_irq_deliver_msi(struct kvm *kvm, u32 address_lo, u32 address_hi,
			u32 data)
{
	struct kvm_lapic_irq irq;

	if (!kvm_msi_decode(address_lo, address_hi, data,
			    READ_ONCE(kvm->arch.x2apic_format), &irq))
		return -EINVAL;
	return kvm_irq_deliver(kvm, NULL, &irq);
}

void kvm_irq_eoi(struct kvm_vcpu *vcpu, u8 vector, bool level)
{
	struct kvm *kvm = vcpu->kvm;

	if (READ_ONCE(kvm->arch.irqchip_mode) == NKVM_IRQCHIP_SPLIT) {
		if (level) {
			vcpu->arch.pending_ioapic_eoi = vector;
			kvm_make_request(vcpu, KVM_REQ_IOAPIC_EOI_EXIT);
		}
		return;
	}
	kvm_ioapic_eoi(kvm, vector, level);
}

void kvm_irq_extint_raised(struct kvm *kvm)
{
	struct kvm_lapic *apic;
	unsigned long pos = 0;

	while ((apic = vm_next_apic(kvm, &pos)))
		if (vlapic_accepts_extint(apic))
			kvm_vcpu_kick(apic->owner);
}

static bool has_extint(struct kvm_vcpu *vcpu)
{
	struct kvm_pic *pic = READ_ONCE(vcpu->kvm->arch.vpic);

	return pic && vlapic_accepts_extint(vcpu->arch.apic) &&
	       kvm_pic_output(pic);
}

bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic)
		return false;
	kvm_lapic_service_timer(vcpu);
	return has_extint(vcpu) || vlapic_pending_irq(apic) >= 0;
}
EXPORT_SYMBOL_GPL(kvm_cpu_has_interrupt);

int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic)
		return -1;
	/* The 8259 first: its INTA always yields a vector (maybe spurious). */
	if (has_extint(vcpu))
		return kvm_pic_ack(vcpu->kvm->arch.vpic);
	return vlapic_ack_irq(apic);
}
/* ---- The router's side (include/nkvm/eventfd.h) ------------------------- */

static int irqchip_set(struct kvm *kvm, const struct kvm_irq_route *route,
		       int irq_source_id, int level, bool line_status)
{
	u32 pin = route->irqchip.pin;

	switch (route->irqchip.irqchip) {
	case KVM_IRQCHIP_PIC_MASTER:
		return kvm_pic_set_irq(kvm, pin, irq_source_id, level);
	case KVM_IRQCHIP_PIC_SLAVE:
		return kvm_pic_set_irq(kvm, pin + 8, irq_source_id, level);
	case KVM_IRQCHIP_IOAPIC:
		return kvm_ioapic_set_irq(kvm, pin, irq_source_id, level,
					  line_status);
	default:
		return -1;
	}
}

static int irqchip_set_msi(struct kvm *kvm, const struct kvm_msi *msi)
{
	return kvm_irq_deliver_msi(kvm, msi->address_lo, msi->address_hi,
				   msi->data);
}

/*
 * An irqfd's wake-up: nothing on the way sleeps (the 8259's and the
 * IOAPIC's locks are spinlocks taken with interrupts off, delivery to the
 * APICs only kicks), so an MSI or a pin goes at once, without the
 * router's worker and the context switches it costs.
 */
static int irqchip_set_inatomic(struct kvm *kvm,
				const struct kvm_irq_route *route,
				int irq_source_id, int level)
{
	if (route->type == KVM_IRQ_ROUTING_MSI)
		return level ? irqchip_set_msi(kvm, &route->msi) : 0;
	return irqchip_set(kvm, route, irq_source_id, level, false);
}

static bool irqchip_msi_x2apic_format(struct kvm *kvm)
{
	return READ_ONCE(kvm->arch.x2apic_format);
}

static const struct kvm_irqchip_ops irqchip_ops = {
	.set_irqchip = irqchip_set,
	.set_msi = irqchip_set_msi,
	.set_irq_inatomic = irqchip_set_inatomic,
	.msi_x2apic_format = irqchip_msi_x2apic_format,
};

static int irqchip_may_create(struct kvm *kvm)
{
	if (kvm->arch.irqchip_mode != NKVM_IRQCHIP_NONE)
		return -EEXIST;
	/* Counted from when a creation starts: none may slip in without APIC. */
	if (kvm->created_vcpus)
		return -EINVAL;
	return 0;
}

int kvm_irqchip_create(struct kvm *kvm)
	__must_hold(&kvm->lock)
{
	int r = irqchip_may_create(kvm);

	if (r)
		return r;
	r = kvm_pic_create(kvm);
	if (r)
		return r;
	r = kvm_ioapic_create(kvm);
	if (r)
		goto err_pic;
	r = kvm_setup_default_irq_routing(kvm);
	if (r)
		goto err_ioapic;
	WRITE_ONCE(kvm->arch.irqchip_mode, NKVM_IRQCHIP_KERNEL);
	kvm_irqchip_attach(kvm, &irqchip_ops, false);
	return 0;
err_ioapic:
	kvm_ioapic_destroy(kvm);
err_pic:
	kvm_pic_destroy(kvm);
	return r;
}

int kvm_irqchip_enable_split(struct kvm *kvm)
	__must_hold(&kvm->lock)
{
	int r = irqchip_may_create(kvm);

	if (r)
		return r;
	r = kvm_setup_empty_irq_routing(kvm);
	if (r)
		return r;
	WRITE_ONCE(kvm->arch.irqchip_mode, NKVM_IRQCHIP_SPLIT);
	kvm_irqchip_attach(kvm, &irqchip_ops, true);
	return 0;
}

void kvm_irqchip_release(struct kvm *kvm)
{
	kvm_pit_destroy(kvm);
}

void kvm_irqchip_destroy(struct kvm *kvm)
{
	kvm_pit_destroy(kvm);
	kvm_ioapic_destroy(kvm);
	kvm_pic_destroy(kvm);
}
/*
 * The VM ioctls of the in-kernel irqchip: copy in, check the mode, call the
 * device, copy out.  Returns -ENOIOCTLCMD for an ioctl that is not one.
 */
long kvm_irqchip_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			  void __user *argp)
{
	bool kernel = kvm->arch.irqchip_mode == NKVM_IRQCHIP_KERNEL;
	long r;

	switch (ioctl) {
	case KVM_CREATE_IRQCHIP:
		mutex_lock(&kvm->lock);
		r = kvm_irqchip_create(kvm);
		mutex_unlock(&kvm->lock);
		return r;
	case KVM_IRQ_LINE:
	case KVM_IRQ_LINE_STATUS: {
		struct kvm_irq_level level;

		if (copy_from_user(&level, argp, sizeof(level)))
			return -EFAULT;
		/* Split too: the GSI goes through the routes userspace set. */
		if (kvm->arch.irqchip_mode == NKVM_IRQCHIP_NONE)
			return -ENXIO;
		level.status = kvm_set_irq(kvm, KVM_USERSPACE_IRQ_SOURCE_ID,
					   level.irq, level.level,
					   ioctl == KVM_IRQ_LINE_STATUS);
		if (ioctl == KVM_IRQ_LINE_STATUS &&
		    copy_to_user(argp, &level, sizeof(level)))
			return -EFAULT;
		return 0;
	}
	case KVM_GET_IRQCHIP:
	case KVM_SET_IRQCHIP: {
		struct kvm_irqchip *chip;

		chip = memdup_user(argp, sizeof(*chip));
		if (IS_ERR(chip))
			return PTR_ERR(chip);
		r = -ENXIO;
		if (!kernel)
			goto out_chip;
		r = -EINVAL;
		switch (chip->chip_id) {
		case KVM_IRQCHIP_PIC_MASTER:
		case KVM_IRQCHIP_PIC_SLAVE:
			if (ioctl == KVM_GET_IRQCHIP)
				kvm_pic_get_state(kvm, chip->chip_id, &chip->chip.pic);
			else
				kvm_pic_set_state(kvm, chip->chip_id, &chip->chip.pic);
			r = 0;
			break;
		case KVM_IRQCHIP_IOAPIC:
			if (ioctl == KVM_GET_IRQCHIP)
				kvm_ioapic_get_state(kvm, &chip->chip.ioapic);
			else
				kvm_ioapic_set_state(kvm, &chip->chip.ioapic);
			r = 0;
			break;
		}
		if (!r && ioctl == KVM_GET_IRQCHIP &&
		    copy_to_user(argp, chip, sizeof(*chip)))
			r = -EFAULT;
out_chip:
		kfree(chip);
		return r;
	}
	case KVM_CREATE_PIT2: {
		struct kvm_pit_config cfg;

		if (copy_from_user(&cfg, argp, sizeof(cfg)))
			return -EFAULT;
		if (!kernel)
			return -ENOENT;
		if (cfg.flags & ~KVM_PIT_SPEAKER_DUMMY)
			return -EINVAL;
		mutex_lock(&kvm->lock);
		r = kvm_pit_create(kvm, &cfg);
		mutex_unlock(&kvm->lock);
		return r;
	}
	case KVM_GET_PIT2: {
		struct kvm_pit_state2 st = {};

		if (!kvm->arch.vpit)
			return -ENXIO;
		kvm_pit_get_state2(kvm, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	case KVM_SET_PIT2: {
		struct kvm_pit_state2 st;

		if (copy_from_user(&st, argp, sizeof(st)))
			return -EFAULT;
		if (!kvm->arch.vpit)
			return -ENXIO;
		kvm_pit_set_state2(kvm, &st);
		return 0;
	}
	case KVM_GET_PIT: {
		struct kvm_pit_state st = {};

		if (!kvm->arch.vpit)
			return -ENXIO;
		kvm_pit_get_state(kvm, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	case KVM_SET_PIT: {
		struct kvm_pit_state st;

		if (copy_from_user(&st, argp, sizeof(st)))
			return -EFAULT;
		if (!kvm->arch.vpit)
			return -ENXIO;
		kvm_pit_set_state(kvm, &st);
		return 0;
	}
	case KVM_REINJECT_CONTROL: {
		struct kvm_reinject_control rc;

		if (copy_from_user(&rc, argp, sizeof(rc)))
			return -EFAULT;
		if (!kvm->arch.vpit)
			return -ENXIO;
		kvm_pit_set_reinject(kvm, rc.pit_reinject);
		return 0;
	}
	default:
		return -ENOIOCTLCMD;
	}
}
#endif /* !NKVM_USERSPACE */
