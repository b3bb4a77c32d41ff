// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the local APIC (see lapic.h for the model, its owner and its
 * callbacks).  The model comes first and builds in userspace too; the
 * kernel glue is at the end.
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/bitops.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/rcuwait.h>
#include <uapi/asm/kvm_para.h>

#include "x86.h"
#include "irq.h"
#include "ioapic.h"
#endif
#include "lapic.h"

/* ---- Atomic bits shared with other contexts ---------------------------- */

#ifdef NKVM_USERSPACE
static inline void word_set_bit(u32 *w, unsigned int bit)
{
	__atomic_fetch_or(w, 1U << bit, __ATOMIC_SEQ_CST);
}

static inline void word_clear_bit(u32 *w, unsigned int bit)
{
	__atomic_fetch_and(w, ~(1U << bit), __ATOMIC_SEQ_CST);
}

static inline void events_set(unsigned long *ev, unsigned int bit)
{
	__atomic_fetch_or(ev, 1UL << bit, __ATOMIC_SEQ_CST);
}

static inline bool events_test_and_clear(unsigned long *ev, unsigned int bit)
{
	return __atomic_fetch_and(ev, ~(1UL << bit), __ATOMIC_SEQ_CST) &
	       (1UL << bit);
}

#define lapic_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)
#else
/*
 * Each 32-bit register starts a 16-byte slot whose other bytes are zero,
 * so an unsigned long at its address holds the register in its low half.
 */
static inline void word_set_bit(u32 *w, unsigned int bit)
{
	set_bit(bit, (unsigned long *)w);
}

static inline void word_clear_bit(u32 *w, unsigned int bit)
{
	clear_bit(bit, (unsigned long *)w);
}

static inline void events_set(unsigned long *ev, unsigned int bit)
{
	set_bit(bit, ev);
}

static inline bool events_test_and_clear(unsigned long *ev, unsigned int bit)
{
	return test_and_clear_bit(bit, ev);
}

#define lapic_wmb()	smp_wmb()
#endif

/* ---- Vector bitmaps (IRR, ISR, TMR: eight registers 16 bytes apart) --- */

static inline u32 *vec_word(struct kvm_lapic *apic, u32 bank, u8 vec)
{
	return &apic->regs[(bank + (vec >> 5) * 0x10) >> 2];
}

static inline bool vec_test(const struct kvm_lapic *apic, u32 bank, u8 vec)
{
	return vlapic_reg(apic, bank + (vec >> 5) * 0x10) & (1U << (vec & 31));
}

static int vec_highest(const struct kvm_lapic *apic, u32 bank)
{
	int i;

	for (i = 7; i >= 0; i--) {
		u32 w = vlapic_reg(apic, bank + i * 0x10);

		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

int vlapic_highest_irr(const struct kvm_lapic *apic)
{
	return vec_highest(apic, LAPIC_IRR);
}

int vlapic_highest_isr(const struct kvm_lapic *apic)
{
	return vec_highest(apic, LAPIC_ISR);
}

/* ---- Priorities -------------------------------------------------------- */

static u32 compute_ppr(const struct kvm_lapic *apic)
{
	u32 tpr = vlapic_reg(apic, LAPIC_TPR);
	int isr = vlapic_highest_isr(apic);
	u32 isrv = isr < 0 ? 0 : isr;

	if ((tpr & 0xf0) >= (isrv & 0xf0))
		return tpr & 0xff;
	return isrv & 0xf0;
}

static void update_ppr(struct kvm_lapic *apic)
{
	vlapic_set_reg(apic, LAPIC_PPR, compute_ppr(apic));
}

void vlapic_set_tpr(struct kvm_lapic *apic, u32 tpr)
{
	vlapic_set_reg(apic, LAPIC_TPR, tpr & 0xff);
	update_ppr(apic);
}

int vlapic_pending_irq(struct kvm_lapic *apic)
{
	int irr;

	if (!vlapic_hw_enabled(apic))
		return -1;
	irr = vlapic_highest_irr(apic);
	if (irr < 0 || (u32)(irr & 0xf0) <= compute_ppr(apic))
		return -1;
	return irr;
}

int vlapic_ack_irq(struct kvm_lapic *apic)
{
	int vec = vlapic_pending_irq(apic);

	if (vec < 0)
		return -1;
	word_clear_bit(vec_word(apic, LAPIC_IRR, vec), vec & 31);
	word_set_bit(vec_word(apic, LAPIC_ISR, vec), vec & 31);
	update_ppr(apic);
	return vec;
}

int vlapic_pv_eoi_vector(const struct kvm_lapic *apic)
{
	int i, vec = -1;

	if (vlapic_highest_irr(apic) >= 0)
		return -1;
	for (i = 0; i < 8; i++) {
		u32 w = vlapic_reg(apic, LAPIC_ISR + i * 0x10);

		if (!w)
			continue;
		if (vec >= 0 || (w & (w - 1)))
			return -1;	/* more than one in service */
		vec = i * 32 + __builtin_ctz(w);
	}
	if (vec < 0 || vec_test(apic, LAPIC_TMR, vec))
		return -1;
	return vec;
}

bool vlapic_accepts_extint(const struct kvm_lapic *apic)
{
	u32 lvt0 = vlapic_reg(apic, LAPIC_LVT0);

	if (!vlapic_hw_enabled(apic))
		return true;
	return !(lvt0 & LAPIC_LVT_MASKED) &&
	       ((lvt0 & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT) == LAPIC_DM_EXTINT;
}

/* ---- Accepting interrupts ---------------------------------------------- */

static void kick(struct kvm_lapic *apic)
{
	if (apic->ops && apic->ops->kick)
		apic->ops->kick(apic);
}

int vlapic_accept_irq(struct kvm_lapic *apic, const struct kvm_lapic_irq *irq)
{
	u8 vec = irq->vector;

	switch (irq->delivery_mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		/* A level-triggered message that deasserts carries nothing. */
		if (irq->trig_level && !irq->level)
			return 0;
		if (!vlapic_enabled(apic))
			return 0;
		if (irq->trig_level)
			word_set_bit(vec_word(apic, LAPIC_TMR, vec), vec & 31);
		else
			word_clear_bit(vec_word(apic, LAPIC_TMR, vec), vec & 31);
		word_set_bit(vec_word(apic, LAPIC_IRR, vec), vec & 31);
		kick(apic);
		return 1;
	case LAPIC_DM_NMI:
		events_set(&apic->events, LAPIC_EV_NMI);
		kick(apic);
		return 1;
	case LAPIC_DM_INIT:
		/* INIT level de-assert (the old MP synchronisation) is a no-op. */
		if (irq->trig_level && !irq->level)
			return 0;
		events_set(&apic->events, LAPIC_EV_INIT);
		kick(apic);
		return 1;
	case LAPIC_DM_STARTUP:
		WRITE_ONCE(apic->sipi_vector, vec);
		lapic_wmb();	/* the vector before the event */
		events_set(&apic->events, LAPIC_EV_SIPI);
		kick(apic);
		return 1;
	case LAPIC_DM_SMI:
		events_set(&apic->events, LAPIC_EV_SMI);
		kick(apic);
		return 1;
	default:		/* reserved; ExtINT comes from the 8259 */
		return 0;
	}
}

int vlapic_local_deliver(struct kvm_lapic *apic, u32 lvt)
{
	u32 val = vlapic_reg(apic, lvt);
	struct kvm_lapic_irq irq = {
		.vector = val & LAPIC_VECTOR_MASK,
		.delivery_mode = (val & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT,
		.level = true,
		.trig_level = val & LAPIC_LEVEL_TRIGGER,
	};

	if (!vlapic_hw_enabled(apic) || (val & LAPIC_LVT_MASKED))
		return 0;
	return vlapic_accept_irq(apic, &irq);
}

bool vlapic_take_nmi(struct kvm_lapic *apic)
{
	return events_test_and_clear(&apic->events, LAPIC_EV_NMI);
}

bool vlapic_take_smi(struct kvm_lapic *apic)
{
	return events_test_and_clear(&apic->events, LAPIC_EV_SMI);
}

unsigned int vlapic_accept_init_sipi(struct kvm_lapic *apic, u32 *mp_state,
				     u8 *sipi_vector, u64 now)
{
	unsigned int did = 0;

	if (events_test_and_clear(&apic->events, LAPIC_EV_INIT)) {
		vlapic_reset(apic, true, now);
		*mp_state = vlapic_is_bsp(apic) ? KVM_MP_STATE_RUNNABLE :
						  KVM_MP_STATE_INIT_RECEIVED;
		did |= LAPIC_DID_INIT;
	}
	if (events_test_and_clear(&apic->events, LAPIC_EV_SIPI) &&
	    *mp_state == KVM_MP_STATE_INIT_RECEIVED) {
		/* The bit was cleared with a full barrier: the vector is set. */
		*sipi_vector = READ_ONCE(apic->sipi_vector);
		*mp_state = KVM_MP_STATE_RUNNABLE;
		did |= LAPIC_DID_SIPI;
	}
	return did;
}

int vlapic_set_mp_state(struct kvm_lapic *apic, u32 *mp_state, u32 new)
{
	switch (new) {
	case KVM_MP_STATE_SIPI_RECEIVED:
		*mp_state = KVM_MP_STATE_INIT_RECEIVED;
		events_set(&apic->events, LAPIC_EV_SIPI);
		return 0;
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_HALTED:
	case KVM_MP_STATE_AP_RESET_HOLD:
	case KVM_MP_STATE_INIT_RECEIVED:
		*mp_state = new;
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- Destinations ------------------------------------------------------ */

static bool match_physical(const struct kvm_lapic *t, u32 mda)
{
	if (vlapic_x2apic_mode(t))
		return mda == LAPIC_X2APIC_BROADCAST || mda == t->id;
	if (mda == LAPIC_XAPIC_BROADCAST)
		return true;
	/*
	 * An xAPIC cannot have an ID above 0xff: such a destination is taken
	 * to mean the vCPU id (a vCPU hot-added in xAPIC mode), as on Linux.
	 */
	if (mda > 0xff)
		return mda == t->id;
	return mda == vlapic_reg(t, LAPIC_ID) >> 24;
}

static bool match_logical(const struct kvm_lapic *t, u32 mda)
{
	u32 ldr = vlapic_reg(t, LAPIC_LDR);

	if (vlapic_x2apic_mode(t)) {
		if (mda == LAPIC_X2APIC_BROADCAST)
			return true;
		return (ldr >> 16) == (mda >> 16) && (ldr & mda & 0xffff);
	}
	if (mda == LAPIC_XAPIC_BROADCAST)
		return true;
	ldr >>= 24;
	switch (vlapic_reg(t, LAPIC_DFR)) {
	case LAPIC_DFR_FLAT:
		return ldr & mda;
	case LAPIC_DFR_CLUSTER:
		return (ldr >> 4) == (mda >> 4) && (ldr & mda & 0xf);
	default:
		return false;
	}
}

bool vlapic_match_dest(const struct kvm_lapic *target,
		       const struct kvm_lapic *src,
		       const struct kvm_lapic_irq *irq, bool bcast_quirk)
{
	u32 mda = irq->dest_id;

	switch (irq->shorthand) {
	case LAPIC_SHORT_SELF:
		return target == src;
	case LAPIC_SHORT_ALL:
		return true;
	case LAPIC_SHORT_OTHERS:
		return target != src;
	}

	/*
	 * Without interrupt remapping an IOAPIC or MSI message cannot name
	 * an x2APIC broadcast: 0xff stands for it (Linux's quirk).
	 */
	if (bcast_quirk && !src && mda == LAPIC_XAPIC_BROADCAST &&
	    vlapic_x2apic_mode(target))
		mda = LAPIC_X2APIC_BROADCAST;

	return irq->logical ? match_logical(target, mda) :
			      match_physical(target, mda);
}

/* The message an ICR value sends (@hi: ICR2, or bits 63:32 in x2APIC). */
static void icr_to_irq(const struct kvm_lapic *apic, u32 lo, u32 hi,
		       struct kvm_lapic_irq *irq)
{
	*irq = (struct kvm_lapic_irq) {
		.vector = lo & LAPIC_VECTOR_MASK,
		.delivery_mode = (lo & LAPIC_DM_MASK) >> LAPIC_DM_SHIFT,
		.logical = lo & LAPIC_DEST_LOGICAL,
		.level = lo & LAPIC_INT_ASSERT,
		.trig_level = lo & LAPIC_LEVEL_TRIGGER,
		.shorthand = (lo & LAPIC_SHORT_MASK) >> LAPIC_SHORT_SHIFT,
		.dest_id = vlapic_x2apic_mode(apic) ? hi : hi >> 24,
	};
}

static void send_ipi(struct kvm_lapic *apic, u32 lo, u32 hi)
{
	struct kvm_lapic_irq irq;

	icr_to_irq(apic, lo, hi, &irq);
	if (apic->ops && apic->ops->send_ipi)
		apic->ops->send_ipi(apic, &irq);
}

/* ---- The timer --------------------------------------------------------- */

/* TDCR bits 3, 1:0 -> divide by 2, 4, 8, 16, 32, 64, 128, 1. */
static u32 tdcr_divide(u32 tdcr)
{
	u32 v = (tdcr & 3) | ((tdcr & 8) >> 1);

	return 1U << ((v + 1) & 7);
}

static u32 timer_mode(const struct kvm_lapic *apic)
{
	return vlapic_reg(apic, LAPIC_LVTT) & LAPIC_TIMER_MODE_MASK;
}

static u32 timer_mode_mask(const struct kvm_lapic *apic)
{
	return apic->tsc_deadline ? LAPIC_TIMER_MODE_MASK : LAPIC_TIMER_PERIODIC;
}

static void timer_stop(struct kvm_lapic *apic)
{
	if (apic->timer_armed && apic->ops && apic->ops->timer_cancel)
		apic->ops->timer_cancel(apic);
	apic->timer_armed = false;
}

/*
 * Expire at @target.  Already due: no host timer (its interrupt would only
 * disturb the guest), the owner just has to look before the next entry.
 */
static void timer_arm(struct kvm_lapic *apic, u64 target, u64 now)
{
	apic->timer_armed = true;
	apic->timer_target = target;
	if (target <= now)
		kick(apic);
	else if (apic->ops && apic->ops->timer_arm)
		apic->ops->timer_arm(apic, target);
}

static u64 count_to_ns(const struct kvm_lapic *apic, u32 count)
{
	return (u64)count * apic->divide * LAPIC_BUS_CYCLE_NS;
}

static u64 period_of(const struct kvm_lapic *apic, u32 tmict)
{
	u64 ns = count_to_ns(apic, tmict);

	if (ns && timer_mode(apic) == LAPIC_TIMER_PERIODIC &&
	    ns < apic->min_period_ns)
		ns = apic->min_period_ns;
	return ns;
}

/*
 * (Re)start a one-shot or periodic countdown from TMICT, the first period
 * lasting @first_ns (a restored TMCCT) or a whole period if 0.
 */
static void timer_start(struct kvm_lapic *apic, u64 first_ns, u64 now)
{
	timer_stop(apic);
	apic->timer_period = period_of(apic, vlapic_reg(apic, LAPIC_TMICT));
	if (!apic->timer_period)
		return;
	if (!first_ns || first_ns > apic->timer_period)
		first_ns = apic->timer_period;
	timer_arm(apic, now + first_ns, now);
}

/* Nanoseconds until the counter reaches zero (0 if stopped or expired). */
static u64 timer_remaining(const struct kvm_lapic *apic, u64 now)
{
	u64 period = apic->timer_period;

	if (!apic->timer_armed || !period)
		return 0;
	if (now < apic->timer_target)
		return apic->timer_target - now;
	if (timer_mode(apic) != LAPIC_TIMER_PERIODIC)
		return 0;
	/* Expired, not yet serviced: the counter has reloaded meanwhile. */
	return period - (now - apic->timer_target) % period;
}

static u32 read_tmcct(const struct kvm_lapic *apic, u64 now)
{
	if (timer_mode(apic) == LAPIC_TIMER_TSCDEADLINE ||
	    !vlapic_reg(apic, LAPIC_TMICT))
		return 0;
	return timer_remaining(apic, now) / (apic->divide * LAPIC_BUS_CYCLE_NS);
}

/* LVTT was written: a change into or out of TSC-deadline mode stops it. */
static void lvtt_changed(struct kvm_lapic *apic, u32 old_mode)
{
	u32 mode = timer_mode(apic);

	if (mode == old_mode)
		return;
	if (mode == LAPIC_TIMER_TSCDEADLINE ||
	    old_mode == LAPIC_TIMER_TSCDEADLINE) {
		timer_stop(apic);
		vlapic_set_reg(apic, LAPIC_TMICT, 0);
		apic->timer_period = 0;
		apic->tscdeadline = 0;
		return;
	}
	/* One-shot <-> periodic: the countdown goes on, with the new mode. */
	apic->timer_period = period_of(apic, vlapic_reg(apic, LAPIC_TMICT));
}

/* TDCR changed while counting: what remains is rescaled. */
static void divide_changed(struct kvm_lapic *apic, u32 old_divide, u64 now)
{
	u64 left;

	if (apic->divide == old_divide || !apic->timer_period ||
	    timer_mode(apic) == LAPIC_TIMER_TSCDEADLINE)
		return;
	left = timer_remaining(apic, now);
	apic->timer_period = period_of(apic, vlapic_reg(apic, LAPIC_TMICT));
	if (apic->timer_armed)
		timer_arm(apic, now + left * apic->divide / old_divide, now);
}

bool vlapic_timer_service(struct kvm_lapic *apic, u64 now)
{
	if (!apic->timer_armed || now < apic->timer_target)
		return false;

	vlapic_local_deliver(apic, LAPIC_LVTT);
	switch (timer_mode(apic)) {
	case LAPIC_TIMER_PERIODIC:
		if (apic->timer_period) {
			u64 next = apic->timer_target + apic->timer_period;

			/* Ticks missed while the vCPU did not run are dropped. */
			if (next <= now)
				next = now + apic->timer_period;
			timer_arm(apic, next, now);
			break;
		}
		fallthrough;
	default:
		apic->timer_armed = false;
		if (timer_mode(apic) == LAPIC_TIMER_TSCDEADLINE)
			apic->tscdeadline = 0;
		break;
	}
	return true;
}

/* Guest TSC cycles to nanoseconds, saturating far in the future. */
#define LAPIC_FAR_NS	(1ULL << 62)

static u64 tsc_to_ns(u64 cycles, u32 khz)
{
	u64 q = cycles / khz, r = cycles % khz;

	if (q >= LAPIC_FAR_NS / 1000000)
		return LAPIC_FAR_NS;
	return q * 1000000 + r * 1000000 / khz;
}

u64 vlapic_get_tscdeadline(const struct kvm_lapic *apic)
{
	if (timer_mode(apic) != LAPIC_TIMER_TSCDEADLINE)
		return 0;
	return apic->tscdeadline;
}

void vlapic_set_tscdeadline(struct kvm_lapic *apic, u64 deadline, u64 now,
			    u64 guest_tsc)
{
	/* Writes outside TSC-deadline mode are ignored. */
	if (timer_mode(apic) != LAPIC_TIMER_TSCDEADLINE)
		return;
	timer_stop(apic);
	apic->tscdeadline = deadline;
	if (!deadline || !apic->tsc_khz)
		return;
	if (deadline <= guest_tsc)
		timer_arm(apic, now, now);	/* due: the next service fires it */
	else
		timer_arm(apic, now + tsc_to_ns(deadline - guest_tsc,
						apic->tsc_khz), now);
}

/* ---- Registers --------------------------------------------------------- */

/* The writable bits of each LVT entry (the timer's mode bits come apart). */
#define LVT_BASE_MASK	(LAPIC_LVT_MASKED | LAPIC_SEND_PENDING | LAPIC_VECTOR_MASK)
#define LVT_LINT_MASK	(LVT_BASE_MASK | LAPIC_DM_MASK | LAPIC_INPUT_POLARITY | \
			 LAPIC_LVT_REMOTE_IRR | LAPIC_LEVEL_TRIGGER)

static const u32 lvt_regs[LAPIC_NR_LVT] = {
	LAPIC_LVTT, LAPIC_LVTTHMR, LAPIC_LVTPC, LAPIC_LVT0, LAPIC_LVT1,
	LAPIC_LVTERR,
};

static u32 lvt_write_mask(const struct kvm_lapic *apic, u32 off)
{
	switch (off) {
	case LAPIC_LVTT:
		return LVT_BASE_MASK | timer_mode_mask(apic);
	case LAPIC_LVTTHMR:
	case LAPIC_LVTPC:
		return LVT_BASE_MASK | LAPIC_DM_MASK;
	case LAPIC_LVT0:
	case LAPIC_LVT1:
		return LVT_LINT_MASK;
	default:	/* LVTERR */
		return LVT_BASE_MASK;
	}
}

/* Registers that can be read, as a bit per 16-byte slot (offset >> 4). */
#define REG_BIT(off)		(1ULL << ((off) >> 4))
#define REG_BITS(off, n)	(REG_BIT(off) * ((1ULL << (n)) - 1))

static u64 readable_regs(const struct kvm_lapic *apic)
{
	u64 mask = REG_BIT(LAPIC_ID) | REG_BIT(LAPIC_LVR) | REG_BIT(LAPIC_TPR) |
		   REG_BIT(LAPIC_PPR) | REG_BIT(LAPIC_LDR) | REG_BIT(LAPIC_DFR) |
		   REG_BIT(LAPIC_SPIV) | REG_BITS(LAPIC_ISR, 8) |
		   REG_BITS(LAPIC_TMR, 8) | REG_BITS(LAPIC_IRR, 8) |
		   REG_BIT(LAPIC_ESR) | REG_BIT(LAPIC_ICR) |
		   REG_BIT(LAPIC_LVTT) | REG_BIT(LAPIC_LVTTHMR) |
		   REG_BIT(LAPIC_LVTPC) | REG_BIT(LAPIC_LVT0) |
		   REG_BIT(LAPIC_LVT1) | REG_BIT(LAPIC_LVTERR) |
		   REG_BIT(LAPIC_TMICT) | REG_BIT(LAPIC_TMCCT) |
		   REG_BIT(LAPIC_TDCR);

	/* x2APIC has neither the arbitration priority nor ICR2. */
	if (!vlapic_x2apic_mode(apic))
		mask |= REG_BIT(LAPIC_APR) | REG_BIT(LAPIC_ICR2);
	return mask;
}

int vlapic_read(struct kvm_lapic *apic, u32 off, u32 *val, u64 now)
{
	if (off & 0xf || off >= KVM_APIC_REG_SIZE ||
	    !(readable_regs(apic) & REG_BIT(off)))
		return 1;

	switch (off) {
	case LAPIC_APR:
		*val = 0;
		break;
	case LAPIC_PPR:
		update_ppr(apic);
		*val = vlapic_reg(apic, LAPIC_PPR);
		break;
	case LAPIC_TMCCT:
		*val = read_tmcct(apic, now);
		break;
	default:
		*val = vlapic_reg(apic, off);
		break;
	}
	return 0;
}

static void write_spiv(struct kvm_lapic *apic, u32 val)
{
	u32 mask = 0x3ff;
	int i;

	if (apic->directed_eoi)
		mask |= LAPIC_SPIV_DIRECTED_EOI;
	vlapic_set_reg(apic, LAPIC_SPIV, val & mask);
	if (val & LAPIC_SPIV_ENABLE)
		return;
	/* Software disable masks every LVT entry (the timer keeps counting). */
	for (i = 0; i < LAPIC_NR_LVT; i++)
		vlapic_set_reg(apic, lvt_regs[i],
			       vlapic_reg(apic, lvt_regs[i]) | LAPIC_LVT_MASKED);
}

static void do_eoi(struct kvm_lapic *apic)
{
	int vec = vlapic_highest_isr(apic);
	bool level;

	/* An EOI with nothing in service (Linux probes with one) is ignored. */
	if (vec < 0)
		return;
	word_clear_bit(vec_word(apic, LAPIC_ISR, vec), vec & 31);
	update_ppr(apic);
	level = vec_test(apic, LAPIC_TMR, vec);
	if (apic->ops && apic->ops->eoi)
		apic->ops->eoi(apic, vec, level);
}

int vlapic_write(struct kvm_lapic *apic, u32 off, u32 val, u64 now)
{
	bool x2apic = vlapic_x2apic_mode(apic);
	u32 old;

	switch (off) {
	case LAPIC_ID:
		if (x2apic)
			return 1;
		vlapic_set_reg(apic, LAPIC_ID, val & 0xff000000);
		break;
	case LAPIC_TPR:
		vlapic_set_tpr(apic, val);
		break;
	case LAPIC_EOI:
		do_eoi(apic);
		break;
	case LAPIC_LDR:
		if (x2apic)
			return 1;
		vlapic_set_reg(apic, LAPIC_LDR, val & 0xff000000);
		break;
	case LAPIC_DFR:
		if (x2apic)
			return 1;
		vlapic_set_reg(apic, LAPIC_DFR, val | 0x0fffffff);
		break;
	case LAPIC_SPIV:
		write_spiv(apic, val);
		break;
	case LAPIC_ESR:
		/* Errors are never latched: ESR reads as zero. */
		if (x2apic && val)
			return 1;
		break;
	case LAPIC_ICR:
		if (x2apic)	/* a 64-bit MSR: vlapic_msr_write() */
			return 1;
		val &= ~LAPIC_SEND_PENDING;	/* sent at once */
		vlapic_set_reg(apic, LAPIC_ICR, val);
		send_ipi(apic, val, vlapic_reg(apic, LAPIC_ICR2));
		break;
	case LAPIC_ICR2:
		if (x2apic)
			return 1;
		vlapic_set_reg(apic, LAPIC_ICR2, val & 0xff000000);
		break;
	case LAPIC_LVTT:
		old = timer_mode(apic);
		if (!vlapic_sw_enabled(apic))
			val |= LAPIC_LVT_MASKED;
		vlapic_set_reg(apic, LAPIC_LVTT, val & lvt_write_mask(apic, off));
		lvtt_changed(apic, old);
		break;
	case LAPIC_LVTTHMR:
	case LAPIC_LVTPC:
	case LAPIC_LVT0:
	case LAPIC_LVT1:
	case LAPIC_LVTERR:
		if (!vlapic_sw_enabled(apic))
			val |= LAPIC_LVT_MASKED;
		vlapic_set_reg(apic, off, val & lvt_write_mask(apic, off));
		break;
	case LAPIC_TMICT:
		if (timer_mode(apic) == LAPIC_TIMER_TSCDEADLINE)
			break;
		vlapic_set_reg(apic, LAPIC_TMICT, val);
		timer_start(apic, 0, now);
		break;
	case LAPIC_TDCR:
		old = apic->divide;
		vlapic_set_reg(apic, LAPIC_TDCR, val & 0xb);
		apic->divide = tdcr_divide(val);
		divide_changed(apic, old, now);
		break;
	case LAPIC_SELF_IPI:
		if (!x2apic || (val & ~LAPIC_VECTOR_MASK))
			return 1;
		send_ipi(apic, (LAPIC_SHORT_SELF << LAPIC_SHORT_SHIFT) | val, 0);
		break;
	default:	/* read-only or reserved */
		return 1;
	}
	return 0;
}

void vlapic_mmio_read(struct kvm_lapic *apic, u32 offset, void *data,
		      unsigned int len, u64 now)
{
	u32 align = offset & 0xf, val;

	memset(data, 0, len);
	if (len > 4 || align + len > 4 || offset >= LAPIC_MMIO_SIZE)
		return;
	if (vlapic_read(apic, offset & ~0xfU, &val, now))
		return;
	memcpy(data, (u8 *)&val + align, len);
}

void vlapic_mmio_write(struct kvm_lapic *apic, u32 offset, const void *data,
		       unsigned int len, u64 now)
{
	u32 val;

	/* Registers are written as aligned dwords; anything else is lost. */
	if (len != 4 || (offset & 0xf) || offset >= LAPIC_MMIO_SIZE)
		return;
	memcpy(&val, data, 4);
	vlapic_write(apic, offset, val, now);
}

int vlapic_msr_read(struct kvm_lapic *apic, u32 msr, u64 *data, u64 now)
{
	u32 off = (msr - LAPIC_X2APIC_MSR_BASE) << 4, val;

	if (!vlapic_x2apic_mode(apic) || msr < LAPIC_X2APIC_MSR_BASE ||
	    msr > LAPIC_X2APIC_MSR_END)
		return 1;
	if (off == LAPIC_ICR) {
		*data = vlapic_reg(apic, LAPIC_ICR) |
			(u64)vlapic_reg(apic, LAPIC_ICR2) << 32;
		return 0;
	}
	if (off == LAPIC_DFR || vlapic_read(apic, off, &val, now))
		return 1;
	*data = val;
	return 0;
}

int vlapic_msr_write(struct kvm_lapic *apic, u32 msr, u64 data, u64 now)
{
	u32 off = (msr - LAPIC_X2APIC_MSR_BASE) << 4;

	if (!vlapic_x2apic_mode(apic) || msr < LAPIC_X2APIC_MSR_BASE ||
	    msr > LAPIC_X2APIC_MSR_END)
		return 1;
	if (off == LAPIC_ICR) {
		if (data & LAPIC_X2APIC_ICR_RESERVED)
			return 1;
		data &= ~(u64)LAPIC_SEND_PENDING;
		vlapic_set_reg(apic, LAPIC_ICR, (u32)data);
		vlapic_set_reg(apic, LAPIC_ICR2, data >> 32);
		send_ipi(apic, (u32)data, data >> 32);
		return 0;
	}
	/* Every other register is 32 bits wide. */
	if (data >> 32)
		return 1;
	return vlapic_write(apic, off, (u32)data, now);
}

/* ---- Base, reset, state ------------------------------------------------ */

bool vlapic_base_valid(u64 old, u64 new, bool host)
{
	bool old_x2 = (old & LAPIC_BASE_EXTD), new_x2 = (new & LAPIC_BASE_EXTD);
	bool old_en = (old & LAPIC_BASE_EN), new_en = (new & LAPIC_BASE_EN);

	if (new_x2 && !new_en)
		return false;
	if (host)
		return true;
	/* x2APIC -> xAPIC and disabled -> x2APIC go through another mode. */
	if (old_en && old_x2 && new_en && !new_x2)
		return false;
	if (!old_en && new_x2)
		return false;
	return true;
}

void vlapic_set_base(struct kvm_lapic *apic, u64 base)
{
	u64 old = apic->base;

	WRITE_ONCE(apic->base, base);
	if ((base & LAPIC_BASE_EN) && !(old & LAPIC_BASE_EN))
		vlapic_set_reg(apic, LAPIC_ID, apic->id << 24);
	if ((base & LAPIC_BASE_EXTD) && !(old & LAPIC_BASE_EXTD)) {
		vlapic_set_reg(apic, LAPIC_ID, apic->id);
		vlapic_set_reg(apic, LAPIC_LDR, vlapic_x2apic_ldr(apic->id));
	}
}

void vlapic_init(struct kvm_lapic *apic, u32 id,
		 const struct kvm_lapic_ops *ops, void *owner)
{
	apic->id = id;
	apic->ops = ops;
	apic->owner = owner;
	apic->min_period_ns = LAPIC_MIN_PERIOD_NS;
	apic->divide = 2;
	/* Enabled, as at RESET (the owner sets the real base). */
	apic->base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN;
	vlapic_set_reg(apic, LAPIC_ID, id << 24);
}

void vlapic_reset(struct kvm_lapic *apic, bool init, u64 now)
{
	bool x2apic = vlapic_x2apic_mode(apic);
	int i;

	timer_stop(apic);
	apic->timer_period = 0;
	apic->tscdeadline = 0;

	if (!init)
		vlapic_set_reg(apic, LAPIC_ID, x2apic ? apic->id : apic->id << 24);
	vlapic_set_reg(apic, LAPIC_LVR, LAPIC_LVR_VALUE |
		       (apic->directed_eoi ? LAPIC_LVR_DIRECTED_EOI : 0));
	for (i = 0; i < LAPIC_NR_LVT; i++)
		vlapic_set_reg(apic, lvt_regs[i], LAPIC_LVT_MASKED);
	if (vlapic_is_bsp(apic))
		vlapic_set_reg(apic, LAPIC_LVT0,
			       LAPIC_DM_EXTINT << LAPIC_DM_SHIFT);
	vlapic_set_reg(apic, LAPIC_DFR, LAPIC_DFR_FLAT);
	vlapic_set_reg(apic, LAPIC_SPIV, 0xff);
	vlapic_set_reg(apic, LAPIC_TPR, 0);
	if (!x2apic)
		vlapic_set_reg(apic, LAPIC_LDR, 0);
	vlapic_set_reg(apic, LAPIC_ESR, 0);
	vlapic_set_reg(apic, LAPIC_ICR, 0);
	vlapic_set_reg(apic, LAPIC_ICR2, 0);
	vlapic_set_reg(apic, LAPIC_TDCR, 0);
	vlapic_set_reg(apic, LAPIC_TMICT, 0);
	vlapic_set_reg(apic, LAPIC_TMCCT, 0);
	for (i = 0; i < 8; i++) {
		vlapic_set_reg(apic, LAPIC_IRR + i * 0x10, 0);
		vlapic_set_reg(apic, LAPIC_ISR + i * 0x10, 0);
		vlapic_set_reg(apic, LAPIC_TMR + i * 0x10, 0);
	}
	apic->divide = tdcr_divide(0);
	update_ppr(apic);
	if (!init)
		WRITE_ONCE(apic->events, 0);
}

void vlapic_get_state(struct kvm_lapic *apic, struct kvm_lapic_state *s,
		      bool x2apic_format, u64 now)
{
	u32 tmcct = read_tmcct(apic, now);

	memcpy(s->regs, apic->regs, sizeof(s->regs));
	memcpy(s->regs + LAPIC_TMCCT, &tmcct, 4);
	if (vlapic_x2apic_mode(apic) && !x2apic_format) {
		u32 id = apic->regs[LAPIC_ID >> 2] << 24;

		memcpy(s->regs + LAPIC_ID, &id, 4);
	}
}

int vlapic_set_state(struct kvm_lapic *apic, const struct kvm_lapic_state *s,
		     bool x2apic_format, u64 now)
{
	u32 id, tmcct, old_mode;

	memcpy(&id, s->regs + LAPIC_ID, 4);
	if (vlapic_x2apic_mode(apic)) {
		if (x2apic_format && id != apic->id)
			return -EINVAL;
		if (!x2apic_format)
			id >>= 24;
	}

	timer_stop(apic);
	old_mode = timer_mode(apic);
	memcpy(apic->regs, s->regs, sizeof(apic->regs));
	memcpy(&tmcct, s->regs + LAPIC_TMCCT, 4);
	vlapic_set_reg(apic, LAPIC_TMCCT, 0);
	vlapic_set_reg(apic, LAPIC_LVR, LAPIC_LVR_VALUE |
		       (apic->directed_eoi ? LAPIC_LVR_DIRECTED_EOI : 0));
	if (vlapic_x2apic_mode(apic)) {
		vlapic_set_reg(apic, LAPIC_ID, id);
		vlapic_set_reg(apic, LAPIC_LDR, vlapic_x2apic_ldr(id));
	}
	update_ppr(apic);

	apic->divide = tdcr_divide(vlapic_reg(apic, LAPIC_TDCR));
	if (timer_mode(apic) != old_mode)
		apic->tscdeadline = 0;
	apic->timer_period = 0;
	if (timer_mode(apic) != LAPIC_TIMER_TSCDEADLINE) {
		/* Resume the countdown where TMCCT says it was. */
		if (tmcct || timer_mode(apic) == LAPIC_TIMER_PERIODIC)
			timer_start(apic, count_to_ns(apic, tmcct), now);
	}
	return 0;
}

#ifndef NKVM_USERSPACE
/* ---- Kernel glue -------------------------------------------------------- */

static struct kvm_vcpu *apic_vcpu(struct kvm_lapic *apic)
{
	return apic->owner;
}

static void glue_kick(struct kvm_lapic *apic)
{
	kvm_vcpu_kick(apic_vcpu(apic));
}

/* The hrtimer only wakes the vCPU: vlapic_timer_service() does the rest. */
static enum hrtimer_restart lapic_timer_fn(struct hrtimer *timer)
{
	struct kvm_lapic *apic = container_of(timer, struct kvm_lapic, timer);

	kvm_vcpu_kick(apic_vcpu(apic));
	return HRTIMER_NORESTART;
}

static void glue_timer_arm(struct kvm_lapic *apic, u64 expiry_ns)
{
	hrtimer_start(&apic->timer, ns_to_ktime(expiry_ns),
		      HRTIMER_MODE_ABS_HARD);
}

static void glue_timer_cancel(struct kvm_lapic *apic)
{
	/* Do not wait for a running callback: a late kick is harmless. */
	hrtimer_try_to_cancel(&apic->timer);
}

static void glue_send_ipi(struct kvm_lapic *apic,
			  const struct kvm_lapic_irq *irq)
{
	struct kvm_vcpu *vcpu = apic_vcpu(apic);

	kvm_irq_deliver(vcpu->kvm, apic, irq);
}

static void glue_eoi(struct kvm_lapic *apic, u8 vector, bool level)
{
	kvm_irq_eoi(apic_vcpu(apic), vector, level);
}

static const struct kvm_lapic_ops lapic_glue_ops = {
	.kick = glue_kick,
	.timer_arm = glue_timer_arm,
	.timer_cancel = glue_timer_cancel,
	.send_ipi = glue_send_ipi,
	.eoi = glue_eoi,
};

static u64 lapic_now(void)
{
	return ktime_get_ns();
}

int kvm_lapic_create(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic;

	apic = kzalloc(sizeof(*apic), GFP_KERNEL_ACCOUNT);
	if (!apic)
		return -ENOMEM;
	vlapic_init(apic, vcpu->vcpu_id, &lapic_glue_ops, vcpu);
	apic->tsc_khz = vcpu->arch.tsc_khz;
	hrtimer_init(&apic->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	apic->timer.function = lapic_timer_fn;
	rcuwait_init(&apic->wait);
	vlapic_set_base(apic, vcpu->arch.apic_base);
	vlapic_reset(apic, false, lapic_now());
	/* Published last: deliveries may look at it from now on. */
	smp_store_release(&vcpu->arch.apic, apic);
	return 0;
}

void kvm_lapic_destroy(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic)
		return;
	hrtimer_cancel(&apic->timer);
	vcpu->arch.apic = NULL;
	kfree(apic);
}

void kvm_lapic_reset(struct kvm_vcpu *vcpu, bool init)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic)
		return;
	if (!init)
		vlapic_set_base(apic, vcpu->arch.apic_base);
	vlapic_reset(apic, init, lapic_now());
}

void kvm_lapic_set_base(struct kvm_vcpu *vcpu, u64 base)
{
	if (vcpu->arch.apic)
		vlapic_set_base(vcpu->arch.apic, base);
}

void kvm_lapic_update_cpuid(struct kvm_vcpu *vcpu, bool tsc_deadline,
			    bool x2apic)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	bool split = vcpu->kvm->arch.irqchip_mode == NKVM_IRQCHIP_SPLIT;

	if (!apic)
		return;
	apic->tsc_deadline = tsc_deadline;
	/*
	 * EOI-broadcast suppression only with a userspace IOAPIC (the
	 * in-kernel one models the 82093AA, which has no EOI register).
	 */
	apic->directed_eoi = x2apic && split;
	vlapic_set_reg(apic, LAPIC_LVR, LAPIC_LVR_VALUE |
		       (apic->directed_eoi ? LAPIC_LVR_DIRECTED_EOI : 0));
}

static bool in_apic_page(struct kvm_lapic *apic, gpa_t gpa, unsigned int len)
{
	u64 base = vlapic_mmio_base(apic);

	return gpa >= base && gpa + len <= base + LAPIC_MMIO_SIZE;
}

/*
 * KVM_TPR_ACCESS_REPORTING: an MMIO access to the TPR ends KVM_RUN with
 * KVM_EXIT_TPR_ACCESS once it is done (QEMU patches such instructions of
 * old guests to use the VAPIC page instead).
 */
static void report_tpr_access(struct kvm_vcpu *vcpu, u32 offset, bool write)
{
	if (!vcpu->arch.tpr_access_reporting || (offset & ~0xf) != APIC_TASKPRI)
		return;
	vcpu->run->tpr_access.rip = kvm_reg_read(vcpu, VCPU_REGS_RIP);
	vcpu->run->tpr_access.is_write = write;
	kvm_make_request(vcpu, KVM_REQ_REPORT_TPR_ACCESS);
}

int kvm_lapic_mmio_read(struct kvm_vcpu *vcpu, gpa_t gpa, unsigned int len,
			void *data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic || !in_apic_page(apic, gpa, len))
		return -EOPNOTSUPP;
	if (!vlapic_mmio_enabled(apic)) {
		if (!kvm_has_quirk(vcpu->kvm, KVM_X86_QUIRK_LAPIC_MMIO_HOLE))
			return -EOPNOTSUPP;
		memset(data, 0xff, len);
		return 0;
	}
	vlapic_mmio_read(apic, gpa - vlapic_mmio_base(apic), data, len,
			 lapic_now());
	report_tpr_access(vcpu, gpa - vlapic_mmio_base(apic), false);
	return 0;
}

int kvm_lapic_mmio_write(struct kvm_vcpu *vcpu, gpa_t gpa, unsigned int len,
			 const void *data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic || !in_apic_page(apic, gpa, len))
		return -EOPNOTSUPP;
	if (!vlapic_mmio_enabled(apic))
		return kvm_has_quirk(vcpu->kvm, KVM_X86_QUIRK_LAPIC_MMIO_HOLE) ?
		       0 : -EOPNOTSUPP;
	vlapic_mmio_write(apic, gpa - vlapic_mmio_base(apic), data, len,
			  lapic_now());
	report_tpr_access(vcpu, gpa - vlapic_mmio_base(apic), true);
	return 0;
}

int kvm_lapic_msr_read(struct kvm_vcpu *vcpu, u32 msr, u64 *data)
{
	if (!vcpu->arch.apic)
		return 1;
	return vlapic_msr_read(vcpu->arch.apic, msr, data, lapic_now());
}

int kvm_lapic_msr_write(struct kvm_vcpu *vcpu, u32 msr, u64 data)
{
	if (!vcpu->arch.apic)
		return 1;
	return vlapic_msr_write(vcpu->arch.apic, msr, data, lapic_now());
}

/*
 * Hyper-V's EOI, ICR and TPR MSRs: the register at @off (LAPIC_EOI,
 * LAPIC_ICR with the destination in the high half, LAPIC_TPR) in either
 * APIC mode.  1 if there is no in-kernel APIC or the value is refused.
 */
int kvm_lapic_hv_reg_write(struct kvm_vcpu *vcpu, u32 off, u64 data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (!apic)
		return 1;
	if (vlapic_x2apic_mode(apic))
		return vlapic_msr_write(apic, LAPIC_X2APIC_MSR_BASE + (off >> 4),
					data, lapic_now());
	if (off == LAPIC_ICR &&
	    vlapic_write(apic, LAPIC_ICR2, data >> 32, lapic_now()))
		return 1;
	return vlapic_write(apic, off, (u32)data, lapic_now());
}

int kvm_lapic_hv_reg_read(struct kvm_vcpu *vcpu, u32 off, u64 *data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	u32 lo, hi = 0;

	if (!apic)
		return 1;
	/* EOI is write-only: it reads as 0. */
	if (off == LAPIC_EOI) {
		*data = 0;
		return 0;
	}
	if (vlapic_x2apic_mode(apic))
		return vlapic_msr_read(apic, LAPIC_X2APIC_MSR_BASE + (off >> 4),
				       data, lapic_now());
	if (vlapic_read(apic, off, &lo, lapic_now()))
		return 1;
	if (off == LAPIC_ICR && vlapic_read(apic, LAPIC_ICR2, &hi, lapic_now()))
		return 1;
	*data = lo | (u64)hi << 32;
	return 0;
}

u64 kvm_lapic_get_tscdeadline(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic ? vlapic_get_tscdeadline(vcpu->arch.apic) : 0;
}

void kvm_lapic_set_tscdeadline(struct kvm_vcpu *vcpu, u64 data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	unsigned long flags;
	u64 now, tsc;

	if (!apic)
		return;
	/* Read both clocks as close together as possible. */
	local_irq_save(flags);
	now = lapic_now();
	tsc = kvm_read_guest_tsc(vcpu);
	local_irq_restore(flags);
	apic->tsc_khz = vcpu->arch.tsc_khz;
	vlapic_set_tscdeadline(apic, data, now, tsc);
}

void kvm_lapic_set_cr8(struct kvm_vcpu *vcpu, u64 cr8)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (apic && (vlapic_get_tpr(apic) >> 4) != (cr8 & 0xf))
		vlapic_set_tpr(apic, (cr8 & 0xf) << 4);
}

u64 kvm_lapic_get_cr8(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	return apic ? (vlapic_get_tpr(apic) >> 4) & 0xf : vcpu->arch.cr8;
}

int kvm_lapic_get_state(struct kvm_vcpu *vcpu, struct kvm_lapic_state *s)
{
	if (!vcpu->arch.apic)
		return -ENXIO;
	vlapic_get_state(vcpu->arch.apic, s, vcpu->kvm->arch.x2apic_format,
			 lapic_now());
	return 0;
}

int kvm_lapic_set_state(struct kvm_vcpu *vcpu, const struct kvm_lapic_state *s)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	int r;

	if (!apic)
		return -ENXIO;
	vlapic_set_base(apic, vcpu->arch.apic_base);
	r = vlapic_set_state(apic, s, vcpu->kvm->arch.x2apic_format,
			     lapic_now());
	if (!r)
		kvm_vcpu_kick(vcpu);
	return r;
}

void kvm_lapic_take_nmi(struct kvm_vcpu *vcpu)
{
	if (vcpu->arch.apic && vlapic_take_nmi(vcpu->arch.apic) &&
	    vcpu->arch.nmi_pending < 2)
		vcpu->arch.nmi_pending++;
}

bool kvm_lapic_take_smi(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic && vlapic_take_smi(vcpu->arch.apic);
}

bool kvm_lapic_init_posted(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic &&
	       (READ_ONCE(vcpu->arch.apic->events) & BIT(LAPIC_EV_INIT));
}

void kvm_lapic_set_init_posted(struct kvm_vcpu *vcpu, bool posted)
{
	if (!vcpu->arch.apic)
		return;
	if (posted)
		set_bit(LAPIC_EV_INIT, &vcpu->arch.apic->events);
	else
		clear_bit(LAPIC_EV_INIT, &vcpu->arch.apic->events);
}

unsigned int kvm_lapic_accept_init_sipi(struct kvm_vcpu *vcpu, u8 *sipi_vector)
{
	/* INIT is latched in SMM, and so is the SIPI after it. */
	if (!vcpu->arch.apic || vcpu->arch.smm)
		return 0;
	return vlapic_accept_init_sipi(vcpu->arch.apic, &vcpu->arch.mp_state,
				       sipi_vector, lapic_now());
}

void kvm_lapic_service_timer(struct kvm_vcpu *vcpu)
{
	if (vcpu->arch.apic)
		vlapic_timer_service(vcpu->arch.apic, lapic_now());
}

bool kvm_lapic_has_events(struct kvm_vcpu *vcpu)
{
	unsigned long ev;

	if (!vcpu->arch.apic)
		return false;
	ev = READ_ONCE(vcpu->arch.apic->events);
	/* What SMM latches wakes nothing. */
	if (vcpu->arch.smm)
		ev &= ~(BIT(LAPIC_EV_INIT) | BIT(LAPIC_EV_SIPI));
	return ev != 0;
}

int kvm_lapic_max_irr(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic ? vlapic_highest_irr(vcpu->arch.apic) : -1;
}
EXPORT_SYMBOL_GPL(kvm_lapic_max_irr);

bool kvm_lapic_tpr_blocks_irq(struct kvm_vcpu *vcpu)
{
	int irr = kvm_lapic_max_irr(vcpu);

	return irr >= 0 && (irr >> 4) <= kvm_lapic_get_cr8(vcpu);
}

/*
 * KVM_SET_VAPIC_ADDR: a guest word that mirrors the APIC for a guest that
 * avoids TPR accesses (QEMU's kvmvapic option ROM): before each entry
 * nkvm writes the TPR (bits 7:0), the highest in-service vector's class
 * (bits 15:12) and the highest requested vector (bits 31:24); after each
 * exit the TPR is taken back from bits 7:0.  0 turns it off.
 */
int kvm_lapic_set_vapic_addr(struct kvm_vcpu *vcpu, u64 gpa)
{
	u32 word;

	if (gpa && nkvm_read_guest(vcpu->kvm, gpa, &word, sizeof(word)))
		return -EINVAL;
	vcpu->arch.vapic_addr = gpa;
	return 0;
}

void kvm_lapic_sync_to_vapic(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	int irr, isr;
	u32 word;

	if (!apic || !vcpu->arch.vapic_addr)
		return;
	irr = max(vlapic_highest_irr(apic), 0);
	isr = max(vlapic_highest_isr(apic), 0);
	word = (vlapic_get_tpr(apic) & 0xff) | ((isr & 0xf0) << 8) | (irr << 24);
	/* Memory gone since: nothing to mirror into (as on Linux). */
	nkvm_write_guest(vcpu->kvm, vcpu->arch.vapic_addr, &word, sizeof(word));
}

void kvm_lapic_sync_from_vapic(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	u32 word;

	if (!apic || !vcpu->arch.vapic_addr ||
	    nkvm_read_guest(vcpu->kvm, vcpu->arch.vapic_addr, &word, sizeof(word)))
		return;
	if ((vlapic_get_tpr(apic) & 0xff) != (word & 0xff))
		vlapic_set_tpr(apic, word & 0xff);
}

void kvm_lapic_pv_eoi_to_guest(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	u64 gpa = vcpu->arch.pv_eoi_msr & ~(u64)KVM_MSR_ENABLED;
	u8 flag = KVM_PV_EOI_ENABLED;
	int vec;

	if (!apic || !(vcpu->arch.pv_eoi_msr & KVM_MSR_ENABLED))
		return;
	vec = vlapic_pv_eoi_vector(apic);
	/* An IOAPIC pin's vector: its EOI has work to do, keep it. */
	if (vec < 0 || kvm_ioapic_uses_vector(vcpu->kvm, vec))
		return;
	if (nkvm_write_guest(vcpu->kvm, gpa, &flag, sizeof(flag)))
		return;
	vcpu->arch.pv_eoi_pending = true;
}

void kvm_lapic_pv_eoi_from_guest(struct kvm_vcpu *vcpu)
{
	u64 gpa = vcpu->arch.pv_eoi_msr & ~(u64)KVM_MSR_ENABLED;
	u8 flag;

	if (!vcpu->arch.pv_eoi_pending)
		return;
	vcpu->arch.pv_eoi_pending = false;
	if (!vcpu->arch.apic || !(vcpu->arch.pv_eoi_msr & KVM_MSR_ENABLED) ||
	    nkvm_read_guest(vcpu->kvm, gpa, &flag, sizeof(flag)))
		return;
	if (flag & KVM_PV_EOI_ENABLED) {
		/* Not taken: the guest will write the EOI register. */
		flag = KVM_PV_EOI_DISABLED;
		nkvm_write_guest(vcpu->kvm, gpa, &flag, sizeof(flag));
		return;
	}
	vlapic_write(vcpu->arch.apic, LAPIC_EOI, 0, lapic_now());
}

int kvm_lapic_set_mp_state(struct kvm_vcpu *vcpu, u32 mp_state)
{
	int r;

	if (!vcpu->arch.apic)
		return mp_state == KVM_MP_STATE_RUNNABLE ? 0 : -EINVAL;
	r = vlapic_set_mp_state(vcpu->arch.apic, &vcpu->arch.mp_state,
				mp_state);
	if (!r)
		kvm_make_request(vcpu, KVM_REQ_EVENT);
	return r;
}
#endif /* !NKVM_USERSPACE */
