/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: delivering interrupt messages to the local APICs of a VM, and the
 * vCPU side of interrupts: kicks, the halt loop, what to inject next.
 *
 * The model, vlapic_deliver(), picks the destinations of one message
 * (IPI, IOAPIC entry, MSI) among a set of APICs: shorthands, physical and
 * logical (flat, cluster, x2APIC cluster) destinations, broadcast, and
 * lowest priority, which Linux resolves by vector hashing: among the
 * matching software-enabled APICs, the (vector mod count)-th.  It builds in
 * userspace for the unit tests.  The kernel glue below runs it over the
 * VM's vCPUs.
 */
#ifndef _NKVM_IRQ_H
#define _NKVM_IRQ_H

#include "lapic.h"

/* A set of local APICs: next() returns the first at or after *pos, or NULL,
 * and moves *pos past it. */
struct kvm_apic_set {
	struct kvm_lapic *(*next)(void *ctx, unsigned long *pos);
	void *ctx;
	bool bcast_quirk;	/* see vlapic_match_dest() */
};

/*
 * Deliver @irq from @src (NULL: not an IPI) to the APICs of @set that it
 * names.  APICs disabled in IA32_APIC_BASE never match.  Returns -1 if
 * no APIC matched, else how many accepted it (0: all refused, e.g.
 * software-disabled): the KVM_IRQ_LINE_STATUS / KVM_SIGNAL_MSI result.
 */
int vlapic_deliver(const struct kvm_apic_set *set, struct kvm_lapic *src,
		   const struct kvm_lapic_irq *irq);

/*
 * An MSI (address, data) as a message for the APICs.  @x2apic_format:
 * KVM_X2APIC_API_USE_32BIT_IDS, destination bits 31:8 in address_hi[31:8].
 * Returns false if the message is invalid: in that format, address_hi[7:0]
 * must be zero (Linux's rule; the 0xfeexxxxx window is not checked).
 */
bool kvm_msi_decode(u32 address_lo, u32 address_hi, u32 data,
		    bool x2apic_format, struct kvm_lapic_irq *irq);

#ifndef NKVM_USERSPACE
#include <nkvm/kvm_host.h>

/* kvm->arch.irqchip_mode */
#define NKVM_IRQCHIP_NONE	0	/* userspace has them all */
#define NKVM_IRQCHIP_KERNEL	1	/* KVM_CREATE_IRQCHIP */
#define NKVM_IRQCHIP_SPLIT	2	/* KVM_CAP_SPLIT_IRQCHIP: LAPICs only */

/*
 * irq_source_id values: each GSI is the OR of its sources' levels.
 * KVM_USERSPACE_IRQ_SOURCE_ID (0) and KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID (1)
 * come from <nkvm/eventfd.h>; the PIT drives GSI 0 as source 2 (the one
 * Linux's PIT gets).
 */
#define KVM_PIT_IRQ_SOURCE_ID			2
#define KVM_NR_IRQ_SOURCE_IDS			32

/*
 * Creating and destroying the controllers of a VM (VM ioctl context).
 *
 * kvm_irqchip_create(): KVM_CREATE_IRQCHIP, called with kvm->lock held:
 * -EEXIST if an irqchip exists, -EINVAL once vCPUs exist; creates the
 * PICs and the IOAPIC with their ports and window on the I/O buses,
 * installs the default GSI routes and attaches to the router
 * (kvm_irqchip_attach()); vCPUs created afterwards get a local APIC.
 * kvm_irqchip_enable_split(): KVM_CAP_SPLIT_IRQCHIP, same rules: local
 * APICs only, empty routes.
 * kvm_irqchip_release(): before the vCPUs are freed (a pre-destroy hook):
 * stops the PIT, the one source that delivers on its own.
 * kvm_irqchip_destroy(): in kvm_arch_vm_destroy(): frees the rest.
 */
int kvm_irqchip_create(struct kvm *kvm);
long kvm_irqchip_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			  void __user *argp);
int kvm_irqchip_enable_split(struct kvm *kvm);
void kvm_irqchip_release(struct kvm *kvm);
void kvm_irqchip_destroy(struct kvm *kvm);

/*
 * Make @vcpu look at its interrupts: sets KVM_REQ_EVENT, wakes it if it
 * is halted in kvm_vcpu_halt(), and sends its CPU an IPI if it is in guest
 * mode.  Any context, even hard interrupts.
 */
void kvm_vcpu_kick(struct kvm_vcpu *vcpu);

/*
 * HLT (or INIT_RECEIVED) with an in-kernel APIC: poll briefly, then sleep
 * until @runnable(vcpu) or a signal.  Called from the run loop with
 * vcpu->srcu held (dropped while sleeping).  Returns 0 when runnable,
 * -EINTR on a signal.  @runnable must not sleep; it typically is
 * "kvm_cpu_has_interrupt() && interrupts allowed, or an NMI, INIT, SIPI".
 */
int kvm_vcpu_halt(struct kvm_vcpu *vcpu, bool (*runnable)(struct kvm_vcpu *));

/* Deliver a message to the VM's APICs (vlapic_deliver()).  Any context. */
int kvm_irq_deliver(struct kvm *kvm, struct kvm_lapic *src,
		    const struct kvm_lapic_irq *irq);

/* MSI routes and KVM_SIGNAL_MSI (through the router): decode and deliver.
 * -EINVAL for an invalid message (kvm_msi_decode()). */
/*
 * The IPI @irq (physical, no shorthand) to every enabled APIC whose ID is
 * @min + i for a bit i set in @bitmap (2 words of @bits bits: KVM_HC_SEND_IPI).
 * Returns how many took it.
 */
int kvm_irq_deliver_bitmap(struct kvm *kvm, const u64 bitmap[2], u32 min,
			   unsigned int bits, const struct kvm_lapic_irq *irq);
int kvm_irq_deliver_msi(struct kvm *kvm, u32 address_lo, u32 address_hi,
			u32 data);

/*
 * An EOI from @vcpu's APIC: the in-kernel IOAPIC clears remote IRR (and
 * ack notifiers run); with a split irqchip a level-triggered vector makes
 * the vCPU exit with KVM_EXIT_IOAPIC_EOI (KVM_REQ_IOAPIC_EOI_EXIT, vector
 * in vcpu->arch.pending_ioapic_eoi).
 */
void kvm_irq_eoi(struct kvm_vcpu *vcpu, u8 vector, bool level);

/* The 8259's INTR rose: kick the vCPUs whose APIC takes ExtINT.  Any
 * context. */
void kvm_irq_extint_raised(struct kvm *kvm);

/*
 * The run loop: is an interrupt waiting for @vcpu (the PIC's INTR through
 * LVT0, or an APIC vector above the PPR)?  Services the APIC timer first.
 * Then kvm_cpu_get_interrupt() acknowledges it (8259 INTA or IRR -> ISR)
 * and returns the vector to inject, or -1.  vCPU context, in-kernel APIC.
 */
bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu);
int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu);
#endif /* !NKVM_USERSPACE */

#endif /* _NKVM_IRQ_H */
