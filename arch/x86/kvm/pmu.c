// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest PMU on host perf events (see pmu.h; the registers are
 * pmu_model.h).
 *
 * A counter that counts has a pinned perf event of the vCPU's task,
 * PERF_TYPE_RAW with the guest's event, excluding the host (so that it
 * counts only in guest mode: GuestOnly on AMD, the VM-entry/exit switch
 * of IA32_PERF_GLOBAL_CTRL on Intel) and, per the guest's USR/OS bits,
 * user or kernel mode.  Its sample period is the distance to the
 * counter's overflow.  Events are (re)programmed only in the vCPU's task,
 * before an entry (KVM_REQ_PMU): MSR writes mark counters for it, and so
 * does an overflow, whose handler (NMI context) only sets bits, raises the
 * request and kicks the vCPU through an irq_work.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/irq_work.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/perf_event.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <asm/cpufeature.h>
#include <asm/perf_event.h>
#include <asm/trapnr.h>

#include "x86.h"
#include "cpuid.h"
#include "irq.h"
#include "lapic.h"
#include "pmu.h"
#include "pmu_model.h"

bool enable_pmu = true;
module_param(enable_pmu, bool, 0444);
MODULE_PARM_DESC(enable_pmu, "Give guests a PMU (off when the host has none)");

#define NR_SLOTS	(NKVM_PMU_MAX_GP + NKVM_PMU_MAX_FIXED)

struct kvm_pmc_perf {
	struct perf_event *event;
	struct nkvm_pmc_event ev;	/* what the event counts */
	struct kvm_pmu *pmu;
	u8 pmc;
	bool paused;
};

struct kvm_pmu {
	struct kvm_vcpu *vcpu;
	struct nkvm_pmu_model m;
	u64 perf_caps;			/* IA32_PERF_CAPABILITIES */
	struct kvm_pmc_perf perf[NR_SLOTS];
	unsigned long reprogram;	/* pmcs whose event must be redone */
	unsigned long overflowed;	/* pmcs that overflowed (any context) */
	unsigned long pmi;		/* bit 0: an overflow wants a PMI */
	u32 filter_gen;			/* the event filter it programmed for */
	/* The task the events count (never dereferenced: only compared). */
	const struct task_struct *owner;
	struct irq_work kick;
};

/* The host's PMU as nkvm offers it (capped as on Linux). */
static struct {
	bool intel;
	u8 version, nr_gp, nr_fixed, gp_width, fixed_width;
	u8 events_len;
	u32 events_mask;
	bool perfctr_core;
	u64 perf_caps;
} host;

static u32 pmu_msrs[2 * NKVM_PMU_AMD_GP_CORE + 2 * NKVM_PMU_MAX_GP +
		    NKVM_PMU_MAX_FIXED + 5];
static u32 nr_pmu_msrs;

static void kvm_pmu_build_msr_list(void)
{
	u32 i, n = 0;

	if (!host.intel) {
		for (i = 0; i < NKVM_PMU_AMD_GP; i++) {
			pmu_msrs[n++] = NKVM_MSR_K7_EVNTSEL0 + i;
			pmu_msrs[n++] = NKVM_MSR_K7_PERFCTR0 + i;
		}
		for (i = 0; host.perfctr_core && i < 2 * NKVM_PMU_AMD_GP_CORE; i++)
			pmu_msrs[n++] = NKVM_MSR_F15H_PERF_CTL0 + i;
	} else {
		pmu_msrs[n++] = NKVM_MSR_PERF_CAPABILITIES;
		for (i = 0; i < host.nr_gp; i++) {
			pmu_msrs[n++] = NKVM_MSR_IA32_PERFEVTSEL0 + i;
			pmu_msrs[n++] = NKVM_MSR_IA32_PMC0 + i;
		}
		for (i = 0; i < host.nr_fixed; i++)
			pmu_msrs[n++] = NKVM_MSR_FIXED_CTR0 + i;
		if (host.version >= 2) {
			pmu_msrs[n++] = NKVM_MSR_FIXED_CTR_CTRL;
			pmu_msrs[n++] = NKVM_MSR_GLOBAL_STATUS;
			pmu_msrs[n++] = NKVM_MSR_GLOBAL_CTRL;
			pmu_msrs[n++] = NKVM_MSR_GLOBAL_OVF_CTRL;
		}
	}
	nr_pmu_msrs = n;
}

void kvm_pmu_init(void)
{
	struct x86_pmu_capability cap = {};

	memset(&host, 0, sizeof(host));
	nr_pmu_msrs = 0;
	host.intel = kvm_x86_ops->pmu_from_cpuid_0xa;
	perf_get_x86_pmu_capability(&cap);
	if (!enable_pmu) {
		pr_info("vPMU off: enable_pmu=N\n");
		return;
	}
	if (!cap.num_counters_gp) {
		pr_info("the host has no PMU: guests get none (enable_pmu=N)\n");
		enable_pmu = false;
		return;
	}
	if (host.intel && !cap.version) {
		pr_info("the host has no architectural PMU: guests get none (enable_pmu=N)\n");
		enable_pmu = false;
		return;
	}
	if (boot_cpu_has(X86_FEATURE_HYBRID_CPU)) {
		pr_info("the host's PMU is hybrid: guests get none (enable_pmu=N)\n");
		enable_pmu = false;
		return;
	}
	host.version = min(cap.version, 2);
	host.nr_gp = min(cap.num_counters_gp, NKVM_PMU_MAX_GP);
	host.nr_fixed = host.version >= 2 ?
			min(cap.num_counters_fixed, NKVM_PMU_MAX_FIXED) : 0;
	host.gp_width = cap.bit_width_gp;
	host.fixed_width = cap.bit_width_fixed;
	host.events_len = cap.events_mask_len;
	host.events_mask = cap.events_mask;
	host.perfctr_core = boot_cpu_has(X86_FEATURE_PERFCTR_CORE);
	host.perf_caps = host.intel ? NKVM_PERF_CAP_FW_WRITES : 0;
	kvm_pmu_build_msr_list();
	if (host.intel)
		pr_info("vPMU: architectural PMU version %u, %u+%u counters\n",
			host.version, host.nr_gp, host.nr_fixed);
	else
		pr_info("vPMU: %u AMD core counters\n",
			host.perfctr_core ? NKVM_PMU_AMD_GP_CORE : NKVM_PMU_AMD_GP);
}

void kvm_pmu_supported_cpuid(struct kvm_cpuid_entry2 *e)
{
	switch (e->function) {
	case 1:
		/* PDCM: IA32_PERF_CAPABILITIES (full-width writes). */
		if (enable_pmu && host.intel && boot_cpu_has(X86_FEATURE_PDCM))
			e->ecx |= BIT(15);
		break;
	case 0xa:
		e->eax = e->ebx = e->ecx = e->edx = 0;
		if (!enable_pmu || !host.intel)
			break;
		e->eax = host.version | host.nr_gp << 8 | host.gp_width << 16 |
			 host.events_len << 24;
		e->ebx = host.events_mask;
		/* Fixed counters and their width; AnyThread deprecated. */
		e->edx = host.nr_fixed | host.fixed_width << 5 | BIT(15);
		break;
	case 0x80000001:
		if (enable_pmu && !host.intel && host.perfctr_core)
			e->ecx |= BIT(23);
		break;
	}
}

u64 kvm_pmu_supported_perf_caps(void)
{
	return enable_pmu ? host.perf_caps : 0;
}

const u32 *kvm_pmu_msrs_to_save(u32 *n)
{
	*n = enable_pmu ? nr_pmu_msrs : 0;
	return pmu_msrs;
}

/*
 * KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY), under kvm->lock: before the
 * first vCPU only.
 */
int kvm_pmu_enable_cap(struct kvm *kvm, u64 flags)
{
	lockdep_assert_held(&kvm->lock);
	if (!enable_pmu || (flags & ~(u64)KVM_PMU_CAP_DISABLE) ||
	    kvm->created_vcpus)
		return -EINVAL;
	kvm->arch.pmu_disabled = flags & KVM_PMU_CAP_DISABLE;
	return 0;
}

/* At most as many events as Linux takes. */
#define PMU_FILTER_MAX_EVENTS	300

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* KVM_SET_PMU_EVENT_FILTER: which events the VM's counters may count. */
int kvm_pmu_set_event_filter(struct kvm *kvm, void __user *argp)
{
	struct kvm_pmu_event_filter head, *f, *old;
	size_t size;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if ((head.action != KVM_PMU_EVENT_ALLOW &&
	     head.action != KVM_PMU_EVENT_DENY) || head.flags)
		return -EINVAL;
	if (head.nevents > PMU_FILTER_MAX_EVENTS)
		return -E2BIG;
	size = struct_size(f, events, head.nevents);
	f = kmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	if (copy_from_user(f, argp, size)) {
		kfree(f);
		return -EFAULT;
	}
	*f = head;		/* nevents as checked */
	sort(f->events, f->nevents, sizeof(u64), cmp_u64, NULL);

	mutex_lock(&kvm->lock);
	old = rcu_replace_pointer(kvm->arch.pmu_event_filter, f,
				  lockdep_is_held(&kvm->lock));
	WRITE_ONCE(kvm->arch.pmu_filter_gen, kvm->arch.pmu_filter_gen + 1);
	mutex_unlock(&kvm->lock);
	synchronize_srcu_expedited(&kvm->srcu);
	kfree(old);
	/* Counters that count now are checked again before the next entry. */
	kvm_make_all_vcpus_request(kvm, KVM_REQ_PMU);
	return 0;
}

void kvm_pmu_vm_destroy(struct kvm *kvm)
{
	kfree(rcu_dereference_protected(kvm->arch.pmu_event_filter, true));
	RCU_INIT_POINTER(kvm->arch.pmu_event_filter, NULL);
}

/* ---- Perf events --------------------------------------------------------- */

static u64 kvm_pmc_perf_count(void *ctx, unsigned int pmc)
{
	struct kvm_pmu *pmu = ctx;
	struct kvm_pmc_perf *p = &pmu->perf[nkvm_pmc_slot(pmc)];
	u64 enabled, running;

	if (!p->event)
		return 0;
	return perf_event_read_value(p->event, &enabled, &running);
}

static struct nkvm_pmu_counts kvm_pmu_counts(struct kvm_pmu *pmu)
{
	return (struct nkvm_pmu_counts){ .read = kvm_pmc_perf_count, .ctx = pmu };
}

/* Counter @p's event reached the period: NMI context, only bits here. */
static void kvm_pmc_overflow(struct perf_event *event,
			     struct perf_sample_data *data,
			     struct pt_regs *regs)
{
	struct kvm_pmc_perf *p = event->overflow_handler_context;
	struct kvm_pmu *pmu = p->pmu;

	set_bit(p->pmc, &pmu->overflowed);
	set_bit(p->pmc, &pmu->reprogram);	/* the next lap is a full one */
	if (p->ev.intr)
		set_bit(0, &pmu->pmi);
	kvm_make_request(pmu->vcpu, KVM_REQ_PMU);
	irq_work_queue(&pmu->kick);
}

static void kvm_pmu_kick(struct irq_work *work)
{
	kvm_vcpu_kick(container_of(work, struct kvm_pmu, kick)->vcpu);
}

/* Drop counter @p's event, its count kept in the model. */
static void kvm_pmc_release(struct kvm_pmu *pmu, struct kvm_pmc_perf *p)
{
	u64 enabled, running;

	if (!p->event)
		return;
	nkvm_pmc_fold(&pmu->m, p->pmc,
		      perf_event_read_value(p->event, &enabled, &running));
	perf_event_release_kernel(p->event);
	p->event = NULL;
	p->paused = false;
}

static void kvm_pmc_reprogram(struct kvm_pmu *pmu, unsigned int pmc)
	__must_hold(&pmu->vcpu->kvm->srcu)
{
	struct kvm_pmc_perf *p = &pmu->perf[nkvm_pmc_slot(pmc)];
	struct kvm *kvm = pmu->vcpu->kvm;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_RAW,
		.size = sizeof(attr),
		.pinned = 1,
		.exclude_host = 1,
	};
	struct perf_event *event;
	struct nkvm_pmc_event ev;
	bool counts;
	u64 period;

	if (!nkvm_pmc_valid(&pmu->m, pmc))
		return;
	counts = nkvm_pmc_event(&pmu->m, pmc, &ev) &&
		 nkvm_pmu_filter_allows(&pmu->m,
			srcu_dereference(kvm->arch.pmu_event_filter, &kvm->srcu),
			pmc);
	/* Stop counting and start the count at 0: the value is the base. */
	if (p->event && !p->paused) {
		nkvm_pmc_fold(&pmu->m, pmc, perf_event_pause(p->event, true));
		p->paused = true;
	}
	if (!counts)
		return;
	period = nkvm_pmc_period(&pmu->m, pmc, nkvm_pmc_read(&pmu->m, pmc, NULL));
	if (p->event && nkvm_pmc_event_same(&p->ev, &ev) &&
	    !perf_event_period(p->event, period)) {
		perf_event_enable(p->event);
		p->paused = false;
		return;
	}

	kvm_pmc_release(pmu, p);
	p->ev = ev;
	attr.config = ev.config;
	attr.exclude_user = ev.exclude_user;
	attr.exclude_kernel = ev.exclude_kernel;
	attr.sample_period = period;
	event = perf_event_create_kernel_counter(&attr, -1, current,
						 kvm_pmc_overflow, p);
	if (IS_ERR(event)) {
		/* The counter keeps its value and does not count. */
		pr_debug_ratelimited("perf event 0x%llx for counter %u: %ld\n",
				     ev.config, pmc, PTR_ERR(event));
		return;
	}
	p->event = event;
	p->paused = false;
	pmu->owner = current;
}

/* IA32_A_PMCx: FW_WRITE in PERF_CAPABILITIES, which needs PDCM. */
static bool kvm_pmu_fw_writes(struct kvm_vcpu *vcpu)
{
	return host.intel &&
	       (vcpu->arch.pmu->perf_caps & NKVM_PERF_CAP_FW_WRITES) &&
	       kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(15));
}

/* Every event released; the model of the guest's CPUID, cleared. */
static void kvm_pmu_rebuild(struct kvm_vcpu *vcpu)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	struct nkvm_pmu_shape s = {};
	struct kvm_cpuid_entry2 *e;
	int i;

	for (i = 0; i < NR_SLOTS; i++)
		kvm_pmc_release(pmu, &pmu->perf[i]);
	pmu->reprogram = 0;
	pmu->overflowed = 0;
	pmu->pmi = 0;
	pmu->owner = NULL;

	s.intel = host.intel;
	s.enabled = enable_pmu && !vcpu->kvm->arch.pmu_disabled;
	if (!s.intel) {
		/* Linux's count, whatever the vPMU: RDPMC answers for them. */
		s.nr_gp = kvm_guest_cpuid_has(vcpu, 0x80000001, 0, CPUID_ECX,
					      BIT(23)) ?
			  NKVM_PMU_AMD_GP_CORE : NKVM_PMU_AMD_GP;
	} else if (s.enabled) {
		e = kvm_cpuid_find(vcpu->arch.cpuid_entries,
				   vcpu->arch.cpuid_nent, 0xa, 0);
		if (e) {
			s.version = min_t(u8, e->eax & 0xff, 2);
			s.nr_gp = min_t(u8, (e->eax >> 8) & 0xff, host.nr_gp);
			s.gp_width = min_t(u8, (e->eax >> 16) & 0xff, host.gp_width);
			s.nr_fixed = min_t(u8, e->edx & 0x1f, host.nr_fixed);
			s.fixed_width = min_t(u8, (e->edx >> 5) & 0xff,
					      host.fixed_width);
		}
		s.fw_writes = kvm_pmu_fw_writes(vcpu);
	}
	nkvm_pmu_model_init(&pmu->m, &s);
}

int kvm_pmu_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct kvm_pmu *pmu;
	int i;

	pmu = kzalloc(sizeof(*pmu), GFP_KERNEL_ACCOUNT);
	if (!pmu)
		return -ENOMEM;
	pmu->vcpu = vcpu;
	for (i = 0; i < NR_SLOTS; i++) {
		pmu->perf[i].pmu = pmu;
		pmu->perf[i].pmc = i < NKVM_PMU_MAX_GP ? i :
				   NKVM_PMC_FIXED + i - NKVM_PMU_MAX_GP;
	}
	pmu->perf_caps = kvm_pmu_supported_perf_caps();
	init_irq_work(&pmu->kick, kvm_pmu_kick);
	vcpu->arch.pmu = pmu;
	return 0;
}

void kvm_pmu_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	int i;

	if (!pmu)
		return;
	for (i = 0; i < NR_SLOTS; i++)
		kvm_pmc_release(pmu, &pmu->perf[i]);
	/* No overflow can queue it any more. */
	irq_work_sync(&pmu->kick);
	kfree(pmu);
	vcpu->arch.pmu = NULL;
}

static bool kvm_vcpu_has_pmu(struct kvm_vcpu *vcpu)
{
	const struct nkvm_pmu_model *m = &vcpu->arch.pmu->m;

	return m->s.enabled && (!m->s.intel || m->s.version);
}

void kvm_pmu_refresh(struct kvm_vcpu *vcpu)
{
	kvm_pmu_rebuild(vcpu);
	vcpu->arch.has_pmu = kvm_vcpu_has_pmu(vcpu);
	vcpu->arch.misc_enable = kvm_misc_enable_model(vcpu->arch.misc_enable,
						       vcpu->arch.has_pmu);
}

void kvm_pmu_reset(struct kvm_vcpu *vcpu)
{
	kvm_pmu_rebuild(vcpu);
}

/* Overflows the handler saw, into GLOBAL_STATUS (before the model is read). */
static void kvm_pmu_sync_status(struct kvm_pmu *pmu)
{
	unsigned long bits = xchg(&pmu->overflowed, 0);
	unsigned int pmc;

	for_each_set_bit(pmc, &bits, BITS_PER_LONG)
		nkvm_pmu_overflow(&pmu->m, pmc);
}

/* KVM_REQ_PMU: status, events redone, the PMI delivered. */
static void kvm_pmu_handle_event(struct kvm_vcpu *vcpu)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	unsigned long bits;
	unsigned int pmc;

	kvm_pmu_sync_status(pmu);
	bits = xchg(&pmu->reprogram, 0);
	if (pmu->filter_gen != READ_ONCE(vcpu->kvm->arch.pmu_filter_gen)) {
		pmu->filter_gen = READ_ONCE(vcpu->kvm->arch.pmu_filter_gen);
		bits |= nkvm_pmu_all_pmcs(&pmu->m);
	}
	for_each_set_bit(pmc, &bits, BITS_PER_LONG)
		kvm_pmc_reprogram(pmu, pmc);
	/* Without an in-kernel APIC the PMI goes nowhere, as on Linux. */
	if (test_and_clear_bit(0, &pmu->pmi) && kvm_lapic_in_kernel(vcpu))
		vlapic_local_deliver(vcpu->arch.apic, LAPIC_LVTPC);
}

void kvm_pmu_service(struct kvm_vcpu *vcpu)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	int i;

	/* Another thread runs the vCPU now: its events must be this one's. */
	if (unlikely(pmu->owner && pmu->owner != current)) {
		for (i = 0; i < NR_SLOTS; i++)
			kvm_pmc_release(pmu, &pmu->perf[i]);
		pmu->owner = NULL;
		atomic_long_or(nkvm_pmu_all_pmcs(&pmu->m),
			       (atomic_long_t *)&pmu->reprogram);
		kvm_make_request(vcpu, KVM_REQ_PMU);
	}
	if (kvm_check_request(vcpu, KVM_REQ_PMU))
		kvm_pmu_handle_event(vcpu);
}

/* ---- MSRs and RDPMC -------------------------------------------------------- */

static bool kvm_pmu_msr_to_save(u32 index)
{
	u32 i, n;
	const u32 *list = kvm_pmu_msrs_to_save(&n);

	for (i = 0; i < n; i++)
		if (list[i] == index)
			return true;
	return false;
}

int kvm_pmu_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	struct nkvm_pmu_counts c = kvm_pmu_counts(pmu);
	struct nkvm_pmu_reg r;

	if (index == NKVM_MSR_PERF_CAPABILITIES) {
		if (!host && !kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(15)))
			return 1;
		*data = pmu->perf_caps;
		return 0;
	}
	if (nkvm_pmu_decode_msr(&pmu->m, index, &r)) {
		kvm_pmu_sync_status(pmu);
		*data = nkvm_pmu_get(&pmu->m, &r, &c);
		return 0;
	}
	/* Userspace may read what KVM_GET_MSR_INDEX_LIST listed. */
	if (nkvm_pmu_legacy_msr(index) || (host && kvm_pmu_msr_to_save(index))) {
		*data = 0;
		return 0;
	}
	return -ENOENT;
}

int kvm_pmu_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	struct nkvm_pmu_counts c = kvm_pmu_counts(pmu);
	struct nkvm_pmu_reg r;
	u64 dirty = 0;
	int ret;

	if (index == NKVM_MSR_PERF_CAPABILITIES) {
		/* Userspace's, within what nkvm supports, for a vCPU with a PMU. */
		if (!host || (data & ~kvm_pmu_supported_perf_caps()) ||
		    (data && !vcpu->arch.has_pmu))
			return 1;
		pmu->perf_caps = data;
		pmu->m.s.fw_writes = kvm_pmu_fw_writes(vcpu);
		return 0;
	}
	if (nkvm_pmu_decode_msr(&pmu->m, index, &r)) {
		kvm_pmu_sync_status(pmu);
		ret = nkvm_pmu_set(&pmu->m, &r, data, host, &c, &dirty);
		if (!ret && dirty) {
			/* Atomic: the overflow handler sets bits here too. */
			atomic_long_or(dirty, (atomic_long_t *)&pmu->reprogram);
			kvm_make_request(vcpu, KVM_REQ_PMU);
		}
		return ret;
	}
	if (nkvm_pmu_legacy_msr(index) || (host && !data && kvm_pmu_msr_to_save(index)))
		return 0;
	return -ENOENT;
}

/*
 * Linux's VMware backdoor counters, which its RDPMC answers whenever the
 * vCPU has a PMU version (an AMD vCPU always): the host's TSC, the host's
 * boot time and the guest's kvmclock time, in ns.
 */
static bool kvm_pmu_rdpmc_vmware(struct kvm_vcpu *vcpu, u32 ecx, u64 *val)
{
	const struct nkvm_pmu_model *m = &vcpu->arch.pmu->m;

	if (m->s.intel && !(m->s.enabled && m->s.version))
		return false;
	switch (ecx) {
	case 0x10000:
		*val = rdtsc();
		return true;
	case 0x10001:
		*val = ktime_get_boottime_ns();
		return true;
	case 0x10002:
		*val = ktime_get_boottime_ns() + vcpu->kvm->arch.kvmclock_offset;
		return true;
	default:
		return false;
	}
}

int kvm_pmu_rdpmc(struct kvm_vcpu *vcpu, u64 next_rip)
{
	struct kvm_pmu *pmu = vcpu->arch.pmu;
	struct nkvm_pmu_counts c = kvm_pmu_counts(pmu);
	u32 ecx = kvm_reg_read(vcpu, VCPU_REGS_RCX);
	u64 val;

	/* Outside ring 0 only with CR4.PCE (real mode is ring 0). */
	if (!(vcpu->arch.cr4 & X86_CR4_PCE) && (vcpu->arch.cr0 & X86_CR0_PE) &&
	    kvm_x86_ops->get_cpl(vcpu))
		goto gp;
	if (!kvm_pmu_rdpmc_vmware(vcpu, ecx, &val) &&
	    nkvm_pmu_rdpmc(&pmu->m, ecx, &c, &val))
		goto gp;
	kvm_reg_write(vcpu, VCPU_REGS_RAX, (u32)val);
	kvm_reg_write(vcpu, VCPU_REGS_RDX, val >> 32);
	nkvm_skip_insn(vcpu, next_rip);
	return 1;
gp:
	nkvm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}
