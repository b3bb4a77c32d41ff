/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the guest PMU's registers as pure logic (no perf, no vCPU), so that
 * it builds and is unit-tested in userspace (tools/testing/unit/test_pmu.c).
 *
 * Counters are named by their bit in IA32_PERF_GLOBAL_CTRL: general-purpose
 * counter i is "pmc" i, fixed counter i is pmc 32 + i.  AMD has 4 core
 * counters, 6 with PerfCtrExtCore; its legacy K7 MSRs (0xc0010000-7) and
 * the PerfCtrExtCore ones (0xc0010200-b, CTL and CTR interleaved) name the
 * same counters.  Intel's architectural PMU (CPUID 0xA) has version 1 (GP
 * counters only) or 2 (fixed counters and the GLOBAL MSRs; later versions
 * are handled as 2).
 *
 * A counter's value is its base plus what the host's perf event counted
 * since the base was taken, truncated to the counter's width.  The perf
 * counts come from a struct nkvm_pmu_counts (perf in the kernel, a mock in
 * the unit test).  Writing a value moves the base; the glue (pmu.c) folds
 * the perf count into the base whenever it resets its event.  A counter
 * overflows after nkvm_pmc_period() more events.
 */
#ifndef _NKVM_PMU_MODEL_H
#define _NKVM_PMU_MODEL_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <uapi/linux/kvm.h>
#else
#include "unit_compat.h"
#endif

#define NKVM_PMU_MAX_GP		8	/* Intel; AMD has 4 or 6 */
#define NKVM_PMU_MAX_FIXED	3
#define NKVM_PMC_FIXED		32	/* pmc of fixed counter 0 */
#define NKVM_PMU_AMD_GP		4
#define NKVM_PMU_AMD_GP_CORE	6	/* with PerfCtrExtCore */
#define NKVM_PMU_AMD_WIDTH	48
#define NKVM_PMU_MAX_WIDTH	63

/* MSRs (Intel SDM vol. 4, AMD APM vol. 2, 13.2) */
#define NKVM_MSR_K7_EVNTSEL0		0xc0010000
#define NKVM_MSR_K7_PERFCTR0		0xc0010004
#define NKVM_MSR_F15H_PERF_CTL0		0xc0010200	/* CTLn: +2n, CTRn: +2n+1 */
#define NKVM_MSR_IA32_PMC0		0x0c1		/* IA32_PMCx (P6 PERFCTR) */
#define NKVM_MSR_IA32_PERFEVTSEL0	0x186
#define NKVM_MSR_IA32_A_PMC0		0x4c1		/* full-width writes */
#define NKVM_MSR_PERF_CAPABILITIES	0x345
#define NKVM_MSR_FIXED_CTR0		0x309
#define NKVM_MSR_FIXED_CTR_CTRL		0x38d
#define NKVM_MSR_GLOBAL_STATUS		0x38e
#define NKVM_MSR_GLOBAL_CTRL		0x38f
#define NKVM_MSR_GLOBAL_OVF_CTRL	0x390

/* Event select bits (both vendors) */
#define NKVM_EVTSEL_USR		BIT_ULL(16)
#define NKVM_EVTSEL_OS		BIT_ULL(17)
#define NKVM_EVTSEL_INT		BIT_ULL(20)
#define NKVM_EVTSEL_EN		BIT_ULL(22)
/* Intel: AnyThread (21) and bits 63:32 are not offered: #GP. */
#define NKVM_INTEL_EVTSEL_RSVD	0xffffffff00200000ULL
/* AMD: bits 19, 21, 63:36 (HostOnly/GuestOnly too) are dropped. */
#define NKVM_AMD_EVTSEL_RSVD	0xfffffff000280000ULL
/* What goes to perf as a raw event: event, unit mask, edge, inv, cmask. */
#define NKVM_INTEL_RAW_MASK	0x00000000ff84ffffULL
#define NKVM_AMD_RAW_MASK	0x0000000fff84ffffULL	/* + event 11:8 */
/* FIXED_CTR_CTRL, per counter (4 bits): OS, USR, AnyThread, PMI. */
#define NKVM_FIXED_OS		0x1
#define NKVM_FIXED_USR		0x2
#define NKVM_FIXED_PMI		0x8
#define NKVM_FIXED_FIELD_OK	0xbULL
#define NKVM_GLOBAL_OVF_BUF	BIT_ULL(62)
#define NKVM_GLOBAL_COND_CHGD	BIT_ULL(63)
#define NKVM_PERF_CAP_FW_WRITES	BIT_ULL(13)
/* RDPMC's ECX */
#define NKVM_RDPMC_FIXED	BIT(30)
#define NKVM_RDPMC_FAST		BIT(31)

/* What the guest's CPUID (and PERF_CAPABILITIES) make of its PMU. */
struct nkvm_pmu_shape {
	bool intel;
	bool enabled;		/* the vPMU is on for this vCPU */
	u8 version;		/* Intel: CPUID 0xA.EAX[7:0] */
	u8 nr_gp;
	u8 nr_fixed;
	u8 gp_width;
	u8 fixed_width;
	bool fw_writes;		/* Intel: IA32_A_PMCx */
};

struct nkvm_pmu_model {
	struct nkvm_pmu_shape s;
	u64 gp_mask;
	u64 fixed_mask;
	u64 evtsel_rsvd;
	u64 fixed_ctrl_rsvd;
	u64 global_rsvd;	/* GLOBAL_CTRL: bits of no counter */
	u64 evtsel[NKVM_PMU_MAX_GP];
	u64 base[NKVM_PMU_MAX_GP + NKVM_PMU_MAX_FIXED];
	u64 fixed_ctrl;
	u64 global_ctrl;
	u64 global_status;
};

/* Where the perf counts come from: what counter @pmc's event counted. */
struct nkvm_pmu_counts {
	u64 (*read)(void *ctx, unsigned int pmc);
	void *ctx;
};

/* Which register of which counter an MSR is. */
enum nkvm_pmu_reg_kind {
	NKVM_PMU_CTR,		/* a counter (pmc) */
	NKVM_PMU_SEL,		/* a GP counter's event select */
	NKVM_PMU_FIXED_CTRL,
	NKVM_PMU_GLOBAL_STATUS,
	NKVM_PMU_GLOBAL_CTRL,
	NKVM_PMU_GLOBAL_OVF_CTRL,
};

struct nkvm_pmu_reg {
	u8 kind;		/* enum nkvm_pmu_reg_kind */
	u8 pmc;
	bool full_width;	/* IA32_A_PMCx */
	bool legacy;		/* IA32_PMCx: a guest's write is sign-extended */
};

/* What perf must count for a counter. */
struct nkvm_pmc_event {
	u64 config;		/* PERF_TYPE_RAW */
	bool exclude_user;
	bool exclude_kernel;
	bool intr;		/* overflow raises a PMI */
};

static inline u64 nkvm_pmu_width_mask(unsigned int width)
{
	if (width > NKVM_PMU_MAX_WIDTH)
		width = NKVM_PMU_MAX_WIDTH;
	return width ? (1ULL << width) - 1 : 0;
}

static inline bool nkvm_pmc_is_fixed(unsigned int pmc)
{
	return pmc >= NKVM_PMC_FIXED;
}

static inline bool nkvm_pmc_valid(const struct nkvm_pmu_model *m,
				  unsigned int pmc)
{
	if (nkvm_pmc_is_fixed(pmc))
		return pmc - NKVM_PMC_FIXED < m->s.nr_fixed;
	return pmc < m->s.nr_gp;
}

/* Index of the counter's base in m->base[] (0 for no counter). */
static inline unsigned int nkvm_pmc_slot(unsigned int pmc)
{
	if (nkvm_pmc_is_fixed(pmc))
		return pmc - NKVM_PMC_FIXED < NKVM_PMU_MAX_FIXED ?
		       NKVM_PMU_MAX_GP + pmc - NKVM_PMC_FIXED : 0;
	return pmc < NKVM_PMU_MAX_GP ? pmc : 0;
}

static inline u64 nkvm_pmc_mask(const struct nkvm_pmu_model *m,
				unsigned int pmc)
{
	return nkvm_pmc_is_fixed(pmc) ? m->fixed_mask : m->gp_mask;
}

/* The GLOBAL_CTRL/STATUS bits of every counter there is. */
static inline u64 nkvm_pmu_all_pmcs(const struct nkvm_pmu_model *m)
{
	return GENMASK_ULL(m->s.nr_gp, 0) >> 1 |
	       (GENMASK_ULL(m->s.nr_fixed, 0) >> 1) << NKVM_PMC_FIXED;
}

static inline bool nkvm_pmu_has_global(const struct nkvm_pmu_model *m)
{
	return m->s.intel && m->s.version >= 2;
}

/* A new shape (KVM_SET_CPUID2, reset): every register back to 0. */
static inline void nkvm_pmu_model_init(struct nkvm_pmu_model *m,
				       const struct nkvm_pmu_shape *s)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->s = *s;
	if (m->s.intel && !m->s.version)
		m->s.nr_gp = m->s.nr_fixed = 0;
	if (m->s.nr_gp > NKVM_PMU_MAX_GP)
		m->s.nr_gp = NKVM_PMU_MAX_GP;
	if (!m->s.intel || m->s.version < 2)
		m->s.nr_fixed = 0;
	if (m->s.nr_fixed > NKVM_PMU_MAX_FIXED)
		m->s.nr_fixed = NKVM_PMU_MAX_FIXED;
	if (!m->s.intel)
		m->s.gp_width = NKVM_PMU_AMD_WIDTH;
	if (!m->s.intel)
		m->s.fw_writes = false;
	m->gp_mask = nkvm_pmu_width_mask(m->s.gp_width);
	m->fixed_mask = nkvm_pmu_width_mask(m->s.fixed_width);
	m->evtsel_rsvd = m->s.intel ? NKVM_INTEL_EVTSEL_RSVD :
				      NKVM_AMD_EVTSEL_RSVD;
	m->fixed_ctrl_rsvd = ~0ULL;
	for (i = 0; i < m->s.nr_fixed; i++)
		m->fixed_ctrl_rsvd &= ~(NKVM_FIXED_FIELD_OK << (4 * i));
	m->global_rsvd = ~nkvm_pmu_all_pmcs(m);
}

/*
 * Which counter register @msr is, if the vCPU has it: false for MSRs of
 * counters it does not have and for every MSR while the vPMU is off.
 */
static inline bool nkvm_pmu_decode_msr(const struct nkvm_pmu_model *m,
				       u32 msr, struct nkvm_pmu_reg *r)
{
	u32 nr_gp = m->s.nr_gp, nr_fixed = m->s.nr_fixed;
	u32 i;

	memset(r, 0, sizeof(*r));
	if (!m->s.enabled)
		return false;
	if (!m->s.intel) {
		if (msr >= NKVM_MSR_K7_EVNTSEL0 && msr < NKVM_MSR_K7_EVNTSEL0 + 4) {
			r->kind = NKVM_PMU_SEL;
			r->pmc = msr - NKVM_MSR_K7_EVNTSEL0;
		} else if (msr >= NKVM_MSR_K7_PERFCTR0 &&
			   msr < NKVM_MSR_K7_PERFCTR0 + 4) {
			r->kind = NKVM_PMU_CTR;
			r->pmc = msr - NKVM_MSR_K7_PERFCTR0;
		} else if (nr_gp > NKVM_PMU_AMD_GP &&
			   msr >= NKVM_MSR_F15H_PERF_CTL0 &&
			   msr < NKVM_MSR_F15H_PERF_CTL0 + 2 * nr_gp) {
			i = msr - NKVM_MSR_F15H_PERF_CTL0;
			r->kind = (i & 1) ? NKVM_PMU_CTR : NKVM_PMU_SEL;
			r->pmc = i / 2;
		} else {
			return false;
		}
		return r->pmc < m->s.nr_gp;
	}

	if (!m->s.version)
		return false;
	if (msr >= NKVM_MSR_IA32_PERFEVTSEL0 &&
	    msr < NKVM_MSR_IA32_PERFEVTSEL0 + nr_gp) {
		r->kind = NKVM_PMU_SEL;
		r->pmc = msr - NKVM_MSR_IA32_PERFEVTSEL0;
		return true;
	}
	if (msr >= NKVM_MSR_IA32_PMC0 && msr < NKVM_MSR_IA32_PMC0 + nr_gp) {
		r->kind = NKVM_PMU_CTR;
		r->pmc = msr - NKVM_MSR_IA32_PMC0;
		r->legacy = true;
		return true;
	}
	if (m->s.fw_writes && msr >= NKVM_MSR_IA32_A_PMC0 &&
	    msr < NKVM_MSR_IA32_A_PMC0 + nr_gp) {
		r->kind = NKVM_PMU_CTR;
		r->pmc = msr - NKVM_MSR_IA32_A_PMC0;
		r->full_width = true;
		return true;
	}
	if (msr >= NKVM_MSR_FIXED_CTR0 &&
	    msr < NKVM_MSR_FIXED_CTR0 + nr_fixed) {
		r->kind = NKVM_PMU_CTR;
		r->pmc = NKVM_PMC_FIXED + msr - NKVM_MSR_FIXED_CTR0;
		return true;
	}
	if (!nkvm_pmu_has_global(m))
		return false;
	switch (msr) {
	case NKVM_MSR_FIXED_CTR_CTRL:
		r->kind = NKVM_PMU_FIXED_CTRL;
		return true;
	case NKVM_MSR_GLOBAL_STATUS:
		r->kind = NKVM_PMU_GLOBAL_STATUS;
		return true;
	case NKVM_MSR_GLOBAL_CTRL:
		r->kind = NKVM_PMU_GLOBAL_CTRL;
		return true;
	case NKVM_MSR_GLOBAL_OVF_CTRL:
		r->kind = NKVM_PMU_GLOBAL_OVF_CTRL;
		return true;
	default:
		return false;
	}
}

/*
 * MSRs that read as 0 and ignore writes when they are no counter of the
 * vCPU (no vPMU, or fewer counters), as on Linux: AMD's K7 counters and
 * the first two P6 counters and event selects.  The others fault.
 */
static inline bool nkvm_pmu_legacy_msr(u32 msr)
{
	return (msr >= NKVM_MSR_K7_EVNTSEL0 && msr < NKVM_MSR_K7_PERFCTR0 + 4) ||
	       msr == NKVM_MSR_IA32_PMC0 || msr == NKVM_MSR_IA32_PMC0 + 1 ||
	       msr == NKVM_MSR_IA32_PERFEVTSEL0 ||
	       msr == NKVM_MSR_IA32_PERFEVTSEL0 + 1;
}

static inline u8 nkvm_fixed_field(const struct nkvm_pmu_model *m,
				  unsigned int pmc)
{
	return (m->fixed_ctrl >> (4 * (pmc - NKVM_PMC_FIXED))) & 0xf;
}

/*
 * What perf must count for counter @pmc; false if it does not count now
 * (disabled by its event select, its FIXED_CTR_CTRL field or GLOBAL_CTRL).
 */
static inline bool nkvm_pmc_event(const struct nkvm_pmu_model *m,
				  unsigned int pmc, struct nkvm_pmc_event *ev)
{
	/* The fixed counters' events: instructions, cycles, reference cycles. */
	static const u16 fixed_events[NKVM_PMU_MAX_FIXED] = {
		0x00c0, 0x003c, 0x0300
	};
	u64 sel;
	u8 f;

	memset(ev, 0, sizeof(*ev));
	if (!m->s.enabled || !nkvm_pmc_valid(m, pmc))
		return false;
	if (nkvm_pmu_has_global(m) && !(m->global_ctrl & BIT_ULL(pmc)))
		return false;
	if (nkvm_pmc_is_fixed(pmc)) {
		f = nkvm_fixed_field(m, pmc);
		if (!(f & (NKVM_FIXED_OS | NKVM_FIXED_USR)))
			return false;
		ev->config = fixed_events[pmc - NKVM_PMC_FIXED];
		ev->exclude_kernel = !(f & NKVM_FIXED_OS);
		ev->exclude_user = !(f & NKVM_FIXED_USR);
		ev->intr = f & NKVM_FIXED_PMI;
		return true;
	}
	sel = m->evtsel[pmc];
	if (!(sel & NKVM_EVTSEL_EN))
		return false;
	ev->config = sel & (m->s.intel ? NKVM_INTEL_RAW_MASK : NKVM_AMD_RAW_MASK);
	ev->exclude_user = !(sel & NKVM_EVTSEL_USR);
	ev->exclude_kernel = !(sel & NKVM_EVTSEL_OS);
	ev->intr = sel & NKVM_EVTSEL_INT;
	return true;
}

static inline bool nkvm_pmc_event_same(const struct nkvm_pmc_event *a,
				       const struct nkvm_pmc_event *b)
{
	return a->config == b->config && a->exclude_user == b->exclude_user &&
	       a->exclude_kernel == b->exclude_kernel && a->intr == b->intr;
}

/*
 * KVM_SET_PMU_EVENT_FILTER (@f, its events sorted; NULL: none): may
 * counter @pmc count its event?  A GP counter's event is matched on its
 * event select (11:0) and unit mask; fixed counters by their bit.
 */
#define NKVM_PMU_FILTER_KEY	0x0000000f0000ffffULL

static inline bool nkvm_pmu_filter_allows(const struct nkvm_pmu_model *m,
					  const struct kvm_pmu_event_filter *f,
					  unsigned int pmc)
{
	bool listed = false;
	u32 lo = 0, hi, mid;
	u64 key;

	if (!f)
		return true;
	if (nkvm_pmc_is_fixed(pmc)) {
		listed = pmc - NKVM_PMC_FIXED < 32 &&
			 (f->fixed_counter_bitmap & BIT(pmc - NKVM_PMC_FIXED));
	} else {
		key = m->evtsel[nkvm_pmc_slot(pmc)] & NKVM_PMU_FILTER_KEY;
		hi = f->nevents;
		while (lo < hi && !listed) {
			mid = lo + (hi - lo) / 2;
			if (f->events[mid] == key)
				listed = true;
			else if (f->events[mid] < key)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return f->action == KVM_PMU_EVENT_ALLOW ? listed : !listed;
}

/* ---- Counter values ----------------------------------------------------- */

static inline u64 nkvm_pmc_count(const struct nkvm_pmu_counts *c,
				 unsigned int pmc)
{
	return c && c->read ? c->read(c->ctx, pmc) : 0;
}

static inline u64 nkvm_pmc_read(const struct nkvm_pmu_model *m,
				unsigned int pmc, const struct nkvm_pmu_counts *c)
{
	return (m->base[nkvm_pmc_slot(pmc)] + nkvm_pmc_count(c, pmc)) &
	       nkvm_pmc_mask(m, pmc);
}

static inline void nkvm_pmc_write(struct nkvm_pmu_model *m, unsigned int pmc,
				  u64 val, const struct nkvm_pmu_counts *c)
{
	m->base[nkvm_pmc_slot(pmc)] = (val - nkvm_pmc_count(c, pmc)) &
				      nkvm_pmc_mask(m, pmc);
}

/* The glue resets its perf count, which held @count: keep the value. */
static inline void nkvm_pmc_fold(struct nkvm_pmu_model *m, unsigned int pmc,
				 u64 count)
{
	unsigned int slot = nkvm_pmc_slot(pmc);

	m->base[slot] = (m->base[slot] + count) & nkvm_pmc_mask(m, pmc);
}

/* Events until the counter at @value wraps to 0 (a whole lap from 0). */
static inline u64 nkvm_pmc_period(const struct nkvm_pmu_model *m,
				  unsigned int pmc, u64 value)
{
	u64 mask = nkvm_pmc_mask(m, pmc);
	u64 left = -value & mask;

	return left ? left : mask + 1;
}

/* Counter @pmc overflowed (its perf event reached the period). */
static inline void nkvm_pmu_overflow(struct nkvm_pmu_model *m,
				     unsigned int pmc)
{
	if (nkvm_pmu_has_global(m) && nkvm_pmc_valid(m, pmc))
		m->global_status |= BIT_ULL(pmc);
}

/* ---- MSR accesses -------------------------------------------------------- */

/* Read a register nkvm_pmu_decode_msr() found. */
static inline u64 nkvm_pmu_get(const struct nkvm_pmu_model *m,
			       const struct nkvm_pmu_reg *r,
			       const struct nkvm_pmu_counts *c)
{
	switch (r->kind) {
	case NKVM_PMU_CTR:
		return nkvm_pmc_read(m, r->pmc, c);
	case NKVM_PMU_SEL:
		return m->evtsel[r->pmc];
	case NKVM_PMU_FIXED_CTRL:
		return m->fixed_ctrl;
	case NKVM_PMU_GLOBAL_STATUS:
		return m->global_status;
	case NKVM_PMU_GLOBAL_CTRL:
		return m->global_ctrl;
	default:		/* GLOBAL_OVF_CTRL reads as 0 */
		return 0;
	}
}

/* The counters in @mask whose FIXED_CTR_CTRL fields differ in @a and @b. */
static inline u64 nkvm_fixed_ctrl_diff(const struct nkvm_pmu_model *m,
				       u64 a, u64 b)
{
	u64 pmcs = 0;
	unsigned int i;

	for (i = 0; i < m->s.nr_fixed; i++)
		if (((a ^ b) >> (4 * i)) & 0xf)
			pmcs |= BIT_ULL(NKVM_PMC_FIXED + i);
	return pmcs;
}

/*
 * Write @data (from userspace if @host) to a register nkvm_pmu_decode_msr()
 * found.  Returns 0, or 1 if the write faults.  *@dirty gains the
 * counters whose perf event must be redone (event or value changed).
 */
static inline int nkvm_pmu_set(struct nkvm_pmu_model *m,
			       const struct nkvm_pmu_reg *r, u64 data,
			       bool host, const struct nkvm_pmu_counts *c,
			       u64 *dirty)
{
	u64 mask;

	switch (r->kind) {
	case NKVM_PMU_CTR:
		mask = nkvm_pmc_mask(m, r->pmc);
		if (r->full_width && (data & ~mask))
			return 1;
		if (r->legacy && !host)
			data = (u64)(s64)(s32)data;
		nkvm_pmc_write(m, r->pmc, data & mask, c);
		*dirty |= BIT_ULL(r->pmc);
		return 0;
	case NKVM_PMU_SEL:
		if (!m->s.intel)
			data &= ~m->evtsel_rsvd;
		else if (data & m->evtsel_rsvd)
			return 1;
		if (data != m->evtsel[r->pmc])
			*dirty |= BIT_ULL(r->pmc);
		m->evtsel[r->pmc] = data;
		return 0;
	case NKVM_PMU_FIXED_CTRL:
		if (data & m->fixed_ctrl_rsvd)
			return 1;
		*dirty |= nkvm_fixed_ctrl_diff(m, m->fixed_ctrl, data);
		m->fixed_ctrl = data;
		return 0;
	case NKVM_PMU_GLOBAL_STATUS:
		/* Read-only; userspace restores it. */
		if (!host || (data & m->global_rsvd &
			      ~(NKVM_GLOBAL_OVF_BUF | NKVM_GLOBAL_COND_CHGD)))
			return 1;
		m->global_status = data;
		return 0;
	case NKVM_PMU_GLOBAL_CTRL:
		if (data & m->global_rsvd)
			return 1;
		*dirty |= m->global_ctrl ^ data;
		m->global_ctrl = data;
		return 0;
	case NKVM_PMU_GLOBAL_OVF_CTRL:
		if (data & m->global_rsvd &
		    ~(NKVM_GLOBAL_OVF_BUF | NKVM_GLOBAL_COND_CHGD))
			return 1;
		/* Clears status bits; there is nothing to restore. */
		if (!host)
			m->global_status &= ~data;
		return 0;
	default:
		return 1;
	}
}

/*
 * RDPMC with @ecx.  Returns 0 and the value in *@val, or 1 for #GP.  As
 * on Linux, AMD's index ignores bits 31:30 and an AMD vCPU answers for its
 * counters (as zeros) even with the vPMU off; bit 31 asks for the low 32
 * bits only.
 */
static inline int nkvm_pmu_rdpmc(const struct nkvm_pmu_model *m, u32 ecx,
				 const struct nkvm_pmu_counts *c, u64 *val)
{
	u64 mask = (ecx & NKVM_RDPMC_FAST) ? 0xffffffffULL : ~0ULL;
	u32 idx = ecx & ~(NKVM_RDPMC_FIXED | NKVM_RDPMC_FAST);
	unsigned int pmc;

	if (!m->s.intel) {
		if (idx >= m->s.nr_gp)
			return 1;
		*val = (m->s.enabled ? nkvm_pmc_read(m, idx, c) : 0) & mask;
		return 0;
	}
	if (!m->s.enabled || !m->s.version)
		return 1;
	if (ecx & NKVM_RDPMC_FIXED) {
		if (idx >= m->s.nr_fixed)
			return 1;
		pmc = NKVM_PMC_FIXED + idx;
	} else {
		if (idx >= m->s.nr_gp)
			return 1;
		pmc = idx;
	}
	*val = nkvm_pmc_read(m, pmc, c) & mask;
	return 0;
}

#endif /* _NKVM_PMU_MODEL_H */
