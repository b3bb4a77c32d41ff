/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the local APIC of a vCPU (xAPIC and x2APIC).
 *
 * Two layers live in lapic.c:
 *
 *  - the model, vlapic_*(): the register image, IRR/ISR/TMR, TPR/PPR, EOI,
 *    the LVTs, the timer (one-shot, periodic, TSC-deadline), the ICR, the
 *    KVM_GET/SET_LAPIC image.  It is pure code: no kernel object, time is
 *    passed in as nanoseconds ("now"), and everything that leaves the APIC
 *    goes through struct kvm_lapic_ops.  It also builds in userspace with
 *    NKVM_USERSPACE for the unit tests (tools/testing/unit/test_lapic.c);
 *
 *  - the kernel glue, kvm_lapic_*(): the hrtimer behind the timer, the
 *    vCPU kick, the MMIO and MSR entry points and the ioctl state copies,
 *    taking a struct kvm_vcpu (see the end of this file).
 *
 * Concurrency.  A vCPU's APIC has one owner: whoever holds vcpu->mutex
 * (the vCPU thread in KVM_RUN, or a vCPU ioctl).  Only the owner calls
 * vlapic_*() functions, with two exceptions that any context may call at
 * any time, with interrupts on or off: vlapic_accept_irq() (an IPI from
 * another vCPU, the IOAPIC, an MSI, an irqfd) and vlapic_match_dest().  The
 * accepting side sets IRR/TMR bits and pending events with atomic bit
 * operations and reads the destination registers once; the owner clears
 * IRR bits atomically.  So the APIC needs no lock, and the callbacks may
 * take other devices' locks (the IOAPIC's, on EOI).
 *
 * The timer: the model computes the expiry and asks for a callback at that
 * time (ops->timer_arm); the callback only kicks the vCPU.  The owner then
 * calls vlapic_timer_service(), which compares "now" with the expiry and
 * delivers through LVTT.  A stale or early callback is harmless.
 */
#ifndef _NKVM_LAPIC_H
#define _NKVM_LAPIC_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <linux/hrtimer.h>
#include <linux/rcuwait.h>
#include <uapi/linux/kvm.h>
#else
#include "unit_compat.h"
#endif

/* Register offsets, in the MMIO page and in struct kvm_lapic_state. */
#define LAPIC_ID		0x020
#define LAPIC_LVR		0x030
#define LAPIC_TPR		0x080
#define LAPIC_APR		0x090
#define LAPIC_PPR		0x0a0
#define LAPIC_EOI		0x0b0
#define LAPIC_RRD		0x0c0
#define LAPIC_LDR		0x0d0
#define LAPIC_DFR		0x0e0
#define LAPIC_SPIV		0x0f0
#define LAPIC_ISR		0x100
#define LAPIC_TMR		0x180
#define LAPIC_IRR		0x200
#define LAPIC_ESR		0x280
#define LAPIC_LVTCMCI		0x2f0
#define LAPIC_ICR		0x300
#define LAPIC_ICR2		0x310
#define LAPIC_LVTT		0x320
#define LAPIC_LVTTHMR		0x330
#define LAPIC_LVTPC		0x340
#define LAPIC_LVT0		0x350
#define LAPIC_LVT1		0x360
#define LAPIC_LVTERR		0x370
#define LAPIC_TMICT		0x380
#define LAPIC_TMCCT		0x390
#define LAPIC_TDCR		0x3e0
#define LAPIC_SELF_IPI		0x3f0	/* x2APIC only */

#define LAPIC_MMIO_SIZE		0x1000
#define LAPIC_X2APIC_MSR_BASE	0x800
#define LAPIC_X2APIC_MSR_END	0x8ff

/*
 * The version register: version 0x14, six LVT entries (timer, thermal,
 * performance counter, LINT0, LINT1, error), as Linux reports it.
 */
#define LAPIC_VERSION		0x14
#define LAPIC_NR_LVT		6
#define LAPIC_LVR_VALUE		(LAPIC_VERSION | ((LAPIC_NR_LVT - 1) << 16))
#define LAPIC_LVR_DIRECTED_EOI	(1U << 24)

/* IA32_APIC_BASE */
#define LAPIC_BASE_BSP		(1ULL << 8)
#define LAPIC_BASE_EXTD		(1ULL << 10)	/* x2APIC mode */
#define LAPIC_BASE_EN		(1ULL << 11)
#define LAPIC_BASE_ADDR_MASK	(~0xfffULL)
#define LAPIC_DEFAULT_BASE	0xfee00000ULL

/* LVT, ICR and SPIV bits */
#define LAPIC_VECTOR_MASK	0xffU
#define LAPIC_DM_SHIFT		8
#define LAPIC_DM_MASK		(7U << LAPIC_DM_SHIFT)
#define LAPIC_DEST_LOGICAL	(1U << 11)
#define LAPIC_SEND_PENDING	(1U << 12)	/* delivery status */
#define LAPIC_INPUT_POLARITY	(1U << 13)
#define LAPIC_LVT_REMOTE_IRR	(1U << 14)
#define LAPIC_INT_ASSERT	(1U << 14)	/* ICR: level */
#define LAPIC_LEVEL_TRIGGER	(1U << 15)
#define LAPIC_LVT_MASKED	(1U << 16)
#define LAPIC_SHORT_SHIFT	18
#define LAPIC_SHORT_MASK	(3U << LAPIC_SHORT_SHIFT)
#define LAPIC_TIMER_MODE_MASK	(3U << 17)
#define LAPIC_TIMER_ONESHOT	(0U << 17)
#define LAPIC_TIMER_PERIODIC	(1U << 17)
#define LAPIC_TIMER_TSCDEADLINE	(2U << 17)
#define LAPIC_SPIV_ENABLE	(1U << 8)
#define LAPIC_SPIV_FOCUS	(1U << 9)
#define LAPIC_SPIV_DIRECTED_EOI	(1U << 12)
#define LAPIC_DFR_FLAT		0xffffffffU
#define LAPIC_DFR_CLUSTER	0x0fffffffU

/* Delivery modes (ICR, LVT and redirection-entry bits 10:8) */
#define LAPIC_DM_FIXED		0
#define LAPIC_DM_LOWEST		1
#define LAPIC_DM_SMI		2
#define LAPIC_DM_REMRD		3
#define LAPIC_DM_NMI		4
#define LAPIC_DM_INIT		5
#define LAPIC_DM_STARTUP	6
#define LAPIC_DM_EXTINT		7

/* Destination shorthands (ICR bits 19:18) */
#define LAPIC_SHORT_NONE	0
#define LAPIC_SHORT_SELF	1
#define LAPIC_SHORT_ALL		2
#define LAPIC_SHORT_OTHERS	3

#define LAPIC_XAPIC_BROADCAST	0xffU
#define LAPIC_X2APIC_BROADCAST	0xffffffffU

/* x2APIC ICR bits that must be zero (31:20, 17:16, 13). */
#define LAPIC_X2APIC_ICR_RESERVED	0xfff32000ULL

/* The timer counts at the APIC bus clock: 1 GHz, as on Linux. */
#define LAPIC_BUS_CYCLE_NS	1
/* Shortest periodic timer period by default (Linux: min_timer_period_us). */
#define LAPIC_MIN_PERIOD_NS	200000ULL

/*
 * One interrupt message for the local APICs: an IPI (from an ICR), an
 * IOAPIC redirection entry, an MSI, or an LVT entry.
 */
struct kvm_lapic_irq {
	u32 dest_id;		/* xAPIC: 8 bits; x2APIC: 32 bits */
	u8 vector;
	u8 delivery_mode;	/* LAPIC_DM_* */
	u8 shorthand;		/* LAPIC_SHORT_* */
	bool logical;		/* logical destination mode */
	bool level;		/* asserted (ICR bit 14); 1 for everything else */
	bool trig_level;	/* level-triggered */
	bool redir_hint;	/* MSI redirection hint: lowest priority */
};

struct kvm_lapic;

/*
 * What leaves the APIC.  All are called by the owner (see above) from
 * vlapic_*() functions, except kick, which vlapic_accept_irq() calls from
 * whatever context delivers an interrupt.
 */
struct kvm_lapic_ops {
	/* Something new for the vCPU: an IRR bit, an NMI, INIT or SIPI. */
	void (*kick)(struct kvm_lapic *apic);
	/*
	 * Call kick at @expiry_ns (absolute) or later; replaces any earlier.
	 * An expiry already due is not armed: the model kicks at once.
	 */
	void (*timer_arm)(struct kvm_lapic *apic, u64 expiry_ns);
	void (*timer_cancel)(struct kvm_lapic *apic);
	/* An ICR or SELF IPI write: deliver @irq with @apic as the source. */
	void (*send_ipi)(struct kvm_lapic *apic, const struct kvm_lapic_irq *irq);
	/*
	 * An EOI retired @vector from ISR; @level if its TMR bit was set
	 * (a level-triggered interrupt: the IOAPIC clears its remote IRR).
	 */
	void (*eoi)(struct kvm_lapic *apic, u8 vector, bool level);
};

/* Events for the vCPU besides interrupts (bits in kvm_lapic.events). */
#define LAPIC_EV_INIT		0
#define LAPIC_EV_SIPI		1
#define LAPIC_EV_NMI		2
#define LAPIC_EV_SMI		3

/* What vlapic_accept_init_sipi() did. */
#define LAPIC_DID_INIT		(1U << 0)
#define LAPIC_DID_SIPI		(1U << 1)

struct kvm_lapic {
	/* The registers, laid out as in struct kvm_lapic_state. */
	u32 regs[KVM_APIC_REG_SIZE / 4] __aligned(16);
	u64 base;		/* IA32_APIC_BASE */
	u32 id;			/* the vCPU id: the x2APIC ID */

	/* Set by the owner: what the vCPU's CPUID offers, the TSC rate. */
	bool tsc_deadline;	/* CPUID.1:ECX[24] */
	bool directed_eoi;	/* LVR bit 24: EOI broadcast suppression */
	u32 tsc_khz;
	u64 min_period_ns;	/* periodic timers are never shorter */

	/* The timer */
	u32 divide;		/* from TDCR: 1, 2, 4, ... 128 */
	bool timer_armed;
	u64 timer_target;	/* when armed: expiry, in ns */
	u64 timer_period;	/* one-shot/periodic: TMICT in ns, 0 = stopped */
	u64 tscdeadline;	/* IA32_TSC_DEADLINE; 0 once it fired */

	/* Posted by any context with atomic bit operations: LAPIC_EV_* */
	unsigned long events;
	u8 sipi_vector;

	const struct kvm_lapic_ops *ops;
	void *owner;		/* the vCPU (or a unit test's mock) */

#ifndef NKVM_USERSPACE
	struct hrtimer timer;
	struct rcuwait wait;	/* the vCPU thread, halted in the kernel */
	unsigned int halt_poll_ns;	/* next halt's polling (irq.c) */
#endif
};

/* ---- The model: register access ---------------------------------------- */

static inline u32 vlapic_reg(const struct kvm_lapic *apic, u32 off)
{
	return READ_ONCE(apic->regs[off >> 2]);
}

static inline void vlapic_set_reg(struct kvm_lapic *apic, u32 off, u32 val)
{
	WRITE_ONCE(apic->regs[off >> 2], val);
}

static inline bool vlapic_hw_enabled(const struct kvm_lapic *apic)
{
	return READ_ONCE(apic->base) & LAPIC_BASE_EN;
}

static inline bool vlapic_x2apic_mode(const struct kvm_lapic *apic)
{
	return READ_ONCE(apic->base) & LAPIC_BASE_EXTD;
}

static inline bool vlapic_sw_enabled(const struct kvm_lapic *apic)
{
	return vlapic_reg(apic, LAPIC_SPIV) & LAPIC_SPIV_ENABLE;
}

/* Both enabled: the APIC accepts fixed and lowest-priority interrupts. */
static inline bool vlapic_enabled(const struct kvm_lapic *apic)
{
	return vlapic_hw_enabled(apic) && vlapic_sw_enabled(apic);
}

/* The APIC ID as the guest set it (8 bits in xAPIC mode). */
static inline u32 vlapic_cur_id(const struct kvm_lapic *apic)
{
	u32 id = vlapic_reg(apic, LAPIC_ID);

	return vlapic_x2apic_mode(apic) ? id : id >> 24;
}

static inline bool vlapic_is_bsp(const struct kvm_lapic *apic)
{
	return READ_ONCE(apic->base) & LAPIC_BASE_BSP;
}

/* The xAPIC page answers only in xAPIC mode (enabled, not x2APIC). */
static inline bool vlapic_mmio_enabled(const struct kvm_lapic *apic)
{
	return vlapic_hw_enabled(apic) && !vlapic_x2apic_mode(apic);
}

static inline u64 vlapic_mmio_base(const struct kvm_lapic *apic)
{
	return READ_ONCE(apic->base) & LAPIC_BASE_ADDR_MASK;
}

/* The logical ID of an x2APIC: cluster in 31:16, one bit in 15:0. */
static inline u32 vlapic_x2apic_ldr(u32 id)
{
	return ((id >> 4) << 16) | (1U << (id & 0xf));
}

/*
 * Set up a new APIC for vCPU @id (not yet reset: call vlapic_reset()).
 * The configuration fields may be changed afterwards.
 */
void vlapic_init(struct kvm_lapic *apic, u32 id,
		 const struct kvm_lapic_ops *ops, void *owner);

/*
 * RESET (@init false: everything, the ID too) or INIT (@init true: the ID
 * and the base are kept).  The base MSR itself is the owner's, through
 * vlapic_set_base(); the BSP's LINT0 is then ExtINT, unmasked (Linux's
 * KVM_X86_QUIRK_LINT0_REENABLED, which nkvm always applies).
 */
void vlapic_reset(struct kvm_lapic *apic, bool init, u64 now);

/*
 * Is the IA32_APIC_BASE write @new (the value is @old) a legal mode
 * transition?  EXTD without EN is invalid; a guest may not go from x2APIC
 * to xAPIC, nor from disabled to x2APIC, directly.  Reserved bits are the
 * caller's (they depend on MAXPHYADDR and on CPUID's x2APIC bit).
 */
bool vlapic_base_valid(u64 old, u64 new, bool host);

/* IA32_APIC_BASE changed: IDs follow EN and EXTD turning on. */
void vlapic_set_base(struct kvm_lapic *apic, u64 base);

/*
 * A 32-bit register, as through the MMIO page (xAPIC) or an MSR (x2APIC,
 * except the 64-bit ICR: see vlapic_msr_*()).  Returns 0, or 1 if @off is
 * not a register that can be read (written) in the current mode.
 */
int vlapic_read(struct kvm_lapic *apic, u32 off, u32 *val, u64 now);
int vlapic_write(struct kvm_lapic *apic, u32 off, u32 val, u64 now);

/*
 * A guest access to the xAPIC page at byte @offset (0-0xfff), as the
 * hardware does it: reads of 1, 2 or 4 bytes within a register, writes of
 * 4 aligned bytes; anything else reads as zero and writes are dropped.
 * The caller checks vlapic_mmio_enabled() first.
 */
void vlapic_mmio_read(struct kvm_lapic *apic, u32 offset, void *data,
		      unsigned int len, u64 now);
void vlapic_mmio_write(struct kvm_lapic *apic, u32 offset, const void *data,
		       unsigned int len, u64 now);

/*
 * RDMSR/WRMSR of an x2APIC MSR (0x800-0x8ff).  Returns 1 for a #GP: not in
 * x2APIC mode, not a register, read-only, reserved bits.
 */
int vlapic_msr_read(struct kvm_lapic *apic, u32 msr, u64 *data, u64 now);
int vlapic_msr_write(struct kvm_lapic *apic, u32 msr, u64 data, u64 now);

/* TPR (CR8 is TPR[7:4]) */
void vlapic_set_tpr(struct kvm_lapic *apic, u32 tpr);
static inline u32 vlapic_get_tpr(const struct kvm_lapic *apic)
{
	return vlapic_reg(apic, LAPIC_TPR);
}

/* IA32_TSC_DEADLINE; @guest_tsc is the guest's TSC at @now. */
u64 vlapic_get_tscdeadline(const struct kvm_lapic *apic);
void vlapic_set_tscdeadline(struct kvm_lapic *apic, u64 deadline, u64 now,
			    u64 guest_tsc);

/* ---- The model: interrupts --------------------------------------------- */

/*
 * Does @target take a message for @irq sent by @src (NULL when the source
 * is not an APIC: IOAPIC, MSI)?  @bcast_quirk: Linux's x2APIC broadcast
 * quirk is on (KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK not set), so that a
 * non-IPI to 0xff reaches x2APICs as a broadcast.  Any context.
 */
bool vlapic_match_dest(const struct kvm_lapic *target,
		       const struct kvm_lapic *src,
		       const struct kvm_lapic_irq *irq, bool bcast_quirk);

/*
 * Accept @irq at @apic (its destination matched): fixed and lowest
 * priority set IRR (and TMR for level-triggered ones) if the APIC is
 * enabled; NMI, INIT and SIPI are posted for the vCPU.  Returns 1 if
 * accepted, 0 if not (APIC disabled, deasserted level, SMI, reserved
 * modes).  Any context; kicks the vCPU.
 */
int vlapic_accept_irq(struct kvm_lapic *apic, const struct kvm_lapic_irq *irq);

/* Deliver through an LVT entry (LVTT, LVT0, LVT1, LVTPC...), if unmasked. */
int vlapic_local_deliver(struct kvm_lapic *apic, u32 lvt);

/* Highest vector in IRR / ISR, or -1. */
int vlapic_highest_irr(const struct kvm_lapic *apic);
int vlapic_highest_isr(const struct kvm_lapic *apic);

/* The highest IRR vector whose class is above the PPR, or -1. */
int vlapic_pending_irq(struct kvm_lapic *apic);

/*
 * The CPU acknowledges the interrupt it is about to take: the highest
 * pending vector moves from IRR to ISR.  Returns it, or -1.
 */
int vlapic_ack_irq(struct kvm_lapic *apic);

/*
 * The vector whose EOI the guest may skip (KVM PV EOI), or -1: nothing
 * requested, exactly one vector in service, and that one edge-triggered.
 */
int vlapic_pv_eoi_vector(const struct kvm_lapic *apic);

/* Does this APIC pass the 8259's INTR through (ExtINT)? */
bool vlapic_accepts_extint(const struct kvm_lapic *apic);

/* Expire the timer if its time has come: returns true if it expired. */
bool vlapic_timer_service(struct kvm_lapic *apic, u64 now);

/* Has an NMI, INIT or SIPI been posted? */
static inline bool vlapic_events_pending(const struct kvm_lapic *apic)
{
	return READ_ONCE(apic->events) != 0;
}

/* Take a posted NMI (several collapse into one). */
bool vlapic_take_nmi(struct kvm_lapic *apic);
/* Take a posted SMI (several collapse into one). */
bool vlapic_take_smi(struct kvm_lapic *apic);

/*
 * Take a posted INIT, then SIPI, and move *@mp_state (KVM_MP_STATE_*):
 * INIT resets the APIC (vlapic_reset(init)) and leaves an AP waiting for
 * SIPI (INIT_RECEIVED; the BSP RUNNABLE); SIPI starts an AP that waits for
 * one, at *@sipi_vector << 12, and is dropped otherwise.  Returns
 * LAPIC_DID_INIT (the caller puts the vCPU's registers in their INIT
 * state) and/or LAPIC_DID_SIPI (the caller loads CS:IP from the vector).
 */
unsigned int vlapic_accept_init_sipi(struct kvm_lapic *apic, u32 *mp_state,
				     u8 *sipi_vector, u64 now);

/*
 * KVM_SET_MP_STATE with an in-kernel APIC: RUNNABLE, UNINITIALIZED,
 * HALTED, AP_RESET_HOLD and INIT_RECEIVED are taken as they are;
 * SIPI_RECEIVED becomes INIT_RECEIVED with a SIPI posted (with the last
 * vector received), as on Linux.  -EINVAL for anything else.
 */
int vlapic_set_mp_state(struct kvm_lapic *apic, u32 *mp_state, u32 new);

/* ---- The model: KVM_GET_LAPIC / KVM_SET_LAPIC -------------------------- */

/*
 * The 1 KiB image: the registers with TMCCT computed at @now.  In x2APIC
 * mode the ID register holds the 32-bit ID if @x2apic_format
 * (KVM_X2APIC_API_USE_32BIT_IDS), else the ID shifted left by 24 as in
 * xAPIC; ICR2 holds the upper half of the 64-bit ICR.
 */
void vlapic_get_state(struct kvm_lapic *apic, struct kvm_lapic_state *s,
		      bool x2apic_format, u64 now);

/*
 * Load an image (the mode comes from the base MSR, set before): -EINVAL if
 * @x2apic_format and the x2APIC ID is not the vCPU's.  LVR and, in x2APIC
 * mode, LDR are recomputed; the timer restarts from TMCCT.
 */
int vlapic_set_state(struct kvm_lapic *apic, const struct kvm_lapic_state *s,
		     bool x2apic_format, u64 now);

#ifndef NKVM_USERSPACE
/* ---- The kernel glue ---------------------------------------------------- */

struct kvm;
struct kvm_vcpu;

/*
 * In vCPU context (vcpu->mutex held) unless said otherwise.  "gpa" is a
 * guest-physical address, "msr" an MSR index.
 */

/* At vCPU creation, before the vCPU is visible to others / at destruction. */
int kvm_lapic_create(struct kvm_vcpu *vcpu);
void kvm_lapic_destroy(struct kvm_vcpu *vcpu);

static inline bool kvm_lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic != NULL;
}

/* vCPU RESET (@init false) or INIT. */
void kvm_lapic_reset(struct kvm_vcpu *vcpu, bool init);

/* After vcpu->arch.apic_base changed (MSR write, SET_SREGS, reset). */
void kvm_lapic_set_base(struct kvm_vcpu *vcpu, u64 base);

/* After KVM_SET_CPUID2: the TSC-deadline and x2APIC bits of leaf 1. */
void kvm_lapic_update_cpuid(struct kvm_vcpu *vcpu, bool tsc_deadline,
			    bool x2apic);

/*
 * A guest MMIO access: 0 if it was the APIC page's, -EOPNOTSUPP if not
 * (another device, or the APIC is disabled or in x2APIC mode and
 * KVM_X86_QUIRK_LAPIC_MMIO_HOLE is disabled).
 */
int kvm_lapic_mmio_read(struct kvm_vcpu *vcpu, gpa_t gpa, unsigned int len,
			void *data);
int kvm_lapic_mmio_write(struct kvm_vcpu *vcpu, gpa_t gpa, unsigned int len,
			 const void *data);

/* x2APIC MSRs: 0, or 1 for a #GP. */
static inline bool kvm_lapic_is_x2apic_msr(u32 msr)
{
	return msr >= LAPIC_X2APIC_MSR_BASE && msr <= LAPIC_X2APIC_MSR_END;
}
int kvm_lapic_msr_read(struct kvm_vcpu *vcpu, u32 msr, u64 *data);
int kvm_lapic_msr_write(struct kvm_vcpu *vcpu, u32 msr, u64 data);

/* IA32_TSC_DEADLINE (MSR 0x6e0) */
/* Hyper-V's APIC MSRs: a register at its xAPIC offset, in either mode. */
int kvm_lapic_hv_reg_write(struct kvm_vcpu *vcpu, u32 off, u64 data);
int kvm_lapic_hv_reg_read(struct kvm_vcpu *vcpu, u32 off, u64 *data);
u64 kvm_lapic_get_tscdeadline(struct kvm_vcpu *vcpu);
void kvm_lapic_set_tscdeadline(struct kvm_vcpu *vcpu, u64 data);

/* CR8: call set after every exit (the guest writes V_TPR freely), get
 * before every entry (an MMIO write to TPR changes it). */
void kvm_lapic_set_cr8(struct kvm_vcpu *vcpu, u64 cr8);
u64 kvm_lapic_get_cr8(struct kvm_vcpu *vcpu);

/* KVM_GET_LAPIC / KVM_SET_LAPIC */
int kvm_lapic_get_state(struct kvm_vcpu *vcpu, struct kvm_lapic_state *s);
int kvm_lapic_set_state(struct kvm_vcpu *vcpu, const struct kvm_lapic_state *s);

/* Take a posted NMI into vcpu->arch.nmi_pending (before injecting). */
void kvm_lapic_take_nmi(struct kvm_vcpu *vcpu);
bool kvm_lapic_take_smi(struct kvm_vcpu *vcpu);
/* An INIT posted and not taken (latched while in SMM); set or drop it. */
bool kvm_lapic_init_posted(struct kvm_vcpu *vcpu);
void kvm_lapic_set_init_posted(struct kvm_vcpu *vcpu, bool posted);

/* INIT/SIPI: vlapic_accept_init_sipi() on vcpu->arch.mp_state. */
unsigned int kvm_lapic_accept_init_sipi(struct kvm_vcpu *vcpu, u8 *sipi_vector);

/* The timer's expiry, if due: before injecting and in the halt loop. */
void kvm_lapic_service_timer(struct kvm_vcpu *vcpu);

/* Has the APIC an NMI, INIT or SIPI posted (a halted vCPU wakes up)? */
bool kvm_lapic_has_events(struct kvm_vcpu *vcpu);

/*
 * The highest vector in IRR, or -1: with V_TPR, CR8 writes must exit while
 * it is blocked by the TPR, so that lowering the TPR lets it in.
 */
int kvm_lapic_max_irr(struct kvm_vcpu *vcpu);
int kvm_lapic_set_vapic_addr(struct kvm_vcpu *vcpu, u64 gpa);
void kvm_lapic_sync_to_vapic(struct kvm_vcpu *vcpu);
void kvm_lapic_sync_from_vapic(struct kvm_vcpu *vcpu);

/*
 * KVM PV EOI (MSR_KVM_PV_EOI_EN).  Before an entry, after the injection:
 * where the in-service interrupt's EOI may be skipped, set the flag in the
 * guest's byte.  After the exit (or an entry that did not happen): a flag
 * the guest cleared is its EOI; one still set is cleared, and the guest
 * writes the EOI register itself.
 */
void kvm_lapic_pv_eoi_to_guest(struct kvm_vcpu *vcpu);
void kvm_lapic_pv_eoi_from_guest(struct kvm_vcpu *vcpu);

/* Does the TPR (CR8) hold back the highest requested interrupt? */
bool kvm_lapic_tpr_blocks_irq(struct kvm_vcpu *vcpu);

/* KVM_SET_MP_STATE (vlapic_set_mp_state()), then KVM_REQ_EVENT. */
int kvm_lapic_set_mp_state(struct kvm_vcpu *vcpu, u32 mp_state);
#endif /* !NKVM_USERSPACE */

#endif /* _NKVM_LAPIC_H */
