// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: kvmclock, the paravirtual clock, and KVM_GET/SET_CLOCK.
 *
 * A VM's kvmclock counts nanoseconds from the VM's creation (plus what
 * KVM_SET_CLOCK adds).  A guest that writes the address of a
 * pvclock_vcpu_time_info to MSR_KVM_SYSTEM_TIME(_NEW) gets it filled with a
 * (TSC, nanoseconds) pair and the TSC's scale, from which it computes the
 * time with RDTSC alone.  Where the host trusts its TSC (it keeps time with
 * it, or it runs at a constant rate), every vCPU of a VM gets the same pair
 * (the VM's "master" reading), so that the guest's clock is monotonic
 * across vCPUs, and the stable bit is set.  Hyper-V's TSC page (hyperv.c)
 * is made from the same reading.
 *
 * Also here: the KVM PV MSRs (kvmclock's and the steal time's), the steal
 * time, and the vCPU's TSC offset attribute.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/ktime.h>
#include <linux/sched/stat.h>
#include <linux/timekeeping.h>
#include <linux/timekeeper_internal.h>
#include <linux/pvclock_gtod.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <uapi/asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <asm/tsc.h>

#include "x86.h"
#include "hypercall.h"
#include "hyperv.h"
#include "lapic.h"

/*
 * The scale with which ns = ((tsc_delta << shift) * mul) >> 32 (a
 * negative shift shifts right): mul in [2^31, 2^32) for full precision.
 */
void kvm_clock_scale(u64 tsc_hz, u32 *mul, s8 *shift)
{
	u64 num = NSEC_PER_SEC, den = tsc_hz ? tsc_hz : 1;
	s8 s = 0;

	while (num >= den) {
		den <<= 1;
		s++;
	}
	while (num < (den >> 1)) {
		den >>= 1;
		s--;
	}
	*mul = div64_u64(num << 32, den);
	*shift = s;
}

static u64 kvm_scale_delta(u64 delta, u32 mul, s8 shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return mul_u64_u32_shr(delta, mul, 32);
}

/*
 * The host keeps its own time with the TSC (the timekeeping notifier
 * below follows the clocksource): the kernel trusts its TSC, and so does
 * kvmclock, as on Linux.  A host whose TSC runs at a constant rate in
 * every state is trusted too.
 */
static bool kvm_host_clock_is_tsc;

static int kvm_gtod_notify(struct notifier_block *nb, unsigned long was_set,
			   void *priv)
{
	struct timekeeper *tk = priv;

	WRITE_ONCE(kvm_host_clock_is_tsc,
		   tk->tkr_mono.clock->vdso_clock_mode == VDSO_CLOCKMODE_TSC);
	return 0;
}

static struct notifier_block kvm_gtod_nb = {
	.notifier_call = kvm_gtod_notify,
};

void kvm_kvmclock_module_init(void)
{
	pvclock_gtod_register_notifier(&kvm_gtod_nb);
}

void kvm_kvmclock_module_exit(void)
{
	pvclock_gtod_unregister_notifier(&kvm_gtod_nb);
}

static bool kvm_host_tsc_stable(void)
{
	return READ_ONCE(kvm_host_clock_is_tsc) ||
	       (boot_cpu_has(X86_FEATURE_CONSTANT_TSC) &&
		boot_cpu_has(X86_FEATURE_NONSTOP_TSC));
}

/* Take the VM's master (host TSC, host nanoseconds) reading. */
static void kvm_update_master_clock(struct kvm *kvm)
{
	struct kvm_arch *ka = &kvm->arch;
	unsigned long flags;

	local_irq_save(flags);
	ka->master_host_tsc = rdtsc();
	ka->master_ns = ktime_get_boottime_ns();
	local_irq_restore(flags);
	ka->use_master_clock = kvm_host_tsc_stable();
}

/* kvmclock now, without the VM's offset. */
static u64 kvm_clock_base_ns(struct kvm *kvm)
{
	struct kvm_arch *ka = &kvm->arch;
	u32 mul;
	s8 shift;

	if (!ka->use_master_clock)
		return ktime_get_boottime_ns();
	kvm_clock_scale((u64)tsc_khz * 1000, &mul, &shift);
	return ka->master_ns +
	       kvm_scale_delta(rdtsc() - ka->master_host_tsc, mul, shift);
}

/* kvmclock now, in ns (Hyper-V's TIME_REF_COUNT counts it in 100 ns). */
u64 kvm_get_kvmclock_ns(struct kvm *kvm)
{
	return kvm_clock_base_ns(kvm) + kvm->arch.kvmclock_offset;
}

/* The base a new kvmclock offset counts from: the master reading's, as on Linux. */
static u64 kvm_clock_now_base(struct kvm *kvm)
{
	return kvm->arch.use_master_clock ? kvm->arch.master_ns :
					    kvm_clock_base_ns(kvm);
}

void kvm_kvmclock_vm_init(struct kvm *kvm)
{
	kvm_update_master_clock(kvm);
	/*
	 * kvmclock starts at 0 with the VM: at the master reading itself,
	 * when there is one, so that no vCPU sees a time below 0.
	 */
	kvm->arch.kvmclock_offset = -(s64)kvm_clock_now_base(kvm);
}

/* Fill the guest's pvclock_vcpu_time_info, if it asked for one. */
void kvm_kvmclock_update(struct kvm_vcpu *vcpu)
{
	struct kvm_arch *ka = &vcpu->kvm->arch;
	struct pvclock_vcpu_time_info t = {};
	u64 gpa = vcpu->arch.pv_time & ~1ULL;
	u64 host_tsc, ns;
	u32 version;
	u8 flags;

	/* Hyper-V's TSC page follows kvmclock. */
	kvm_hv_update_tsc_page(vcpu);
	if (!(vcpu->arch.pv_time & 1))
		return;

	if (ka->use_master_clock) {
		host_tsc = ka->master_host_tsc;
		ns = ka->master_ns;
	} else {
		unsigned long flags;

		local_irq_save(flags);
		host_tsc = rdtsc();
		ns = ktime_get_boottime_ns();
		local_irq_restore(flags);
	}
	t.tsc_timestamp = host_tsc + vcpu->arch.tsc_offset;
	t.system_time = ns + ka->kvmclock_offset;
	kvm_clock_scale((u64)vcpu->arch.tsc_khz * 1000, &t.tsc_to_system_mul,
			&t.tsc_shift);
	t.flags = ka->use_master_clock ? PVCLOCK_TSC_STABLE_BIT : 0;
	/*
	 * PVCLOCK_GUEST_STOPPED stays until the guest clears it; it is set
	 * once after KVM_KVMCLOCK_CTRL.
	 */
	if (!nkvm_read_guest(vcpu->kvm,
			     gpa + offsetof(struct pvclock_vcpu_time_info, flags),
			     &flags, sizeof(flags)))
		t.flags |= flags & PVCLOCK_GUEST_STOPPED;
	if (vcpu->arch.pv_time_stopped) {
		t.flags |= PVCLOCK_GUEST_STOPPED;
		vcpu->arch.pv_time_stopped = false;
	}

	/* An odd version tells the guest an update is under way. */
	version = ++vcpu->arch.pv_time_version | 1;
	vcpu->arch.pv_time_version = version;
	t.version = version;
	if (nkvm_write_guest(vcpu->kvm, gpa, &t.version, sizeof(t.version)))
		return;
	smp_wmb();
	nkvm_write_guest(vcpu->kvm, gpa, &t, sizeof(t));
	smp_wmb();
	t.version = ++vcpu->arch.pv_time_version;
	nkvm_write_guest(vcpu->kvm, gpa, &t.version, sizeof(t.version));
}

/*
 * KVM_KVMCLOCK_CTRL: the VMM had the vCPU stopped; its next clock update
 * tells the guest (PVCLOCK_GUEST_STOPPED), so that the guest's watchdogs
 * do not take the pause for a lockup.  -EINVAL while the guest has no
 * kvmclock, as on Linux.
 */
int kvm_kvmclock_ctrl(struct kvm_vcpu *vcpu)
{
	if (!(vcpu->arch.pv_time & 1))
		return -EINVAL;
	vcpu->arch.pv_time_stopped = true;
	kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
	return 0;
}

/* The wall-clock time at which kvmclock was 0, for MSR_KVM_WALL_CLOCK. */
int kvm_write_wall_clock(struct kvm_vcpu *vcpu, u64 gpa)
{
	struct kvm *kvm = vcpu->kvm;
	struct pvclock_wall_clock wc = {};
	u64 boot_ns;
	u32 rem;

	boot_ns = ktime_get_real_ns() -
		  (kvm_clock_base_ns(kvm) + kvm->arch.kvmclock_offset);
	wc.sec = div_u64_rem(boot_ns, NSEC_PER_SEC, &rem);
	wc.nsec = rem;
	wc.version = ++kvm->arch.wall_clock_version | 1;
	if (nkvm_write_guest(kvm, gpa, &wc.version, sizeof(wc.version)))
		return 1;
	nkvm_write_guest(kvm, gpa, &wc, sizeof(wc));
	wc.version = ++kvm->arch.wall_clock_version;
	nkvm_write_guest(kvm, gpa, &wc.version, sizeof(wc.version));
	return 0;
}

int kvm_vm_ioctl_get_clock(struct kvm *kvm, struct kvm_clock_data __user *argp)
{
	struct kvm_clock_data data = {};
	unsigned long flags;

	local_irq_save(flags);
	data.clock = kvm_clock_base_ns(kvm) + kvm->arch.kvmclock_offset;
	data.realtime = ktime_get_real_ns();
	data.host_tsc = rdtsc();
	local_irq_restore(flags);
	data.flags = KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
	if (kvm->arch.use_master_clock)
		data.flags |= KVM_CLOCK_TSC_STABLE;
	return copy_to_user(argp, &data, sizeof(data)) ? -EFAULT : 0;
}

int kvm_vm_ioctl_set_clock(struct kvm *kvm, struct kvm_clock_data __user *argp)
{
	struct kvm_clock_data data;
	u64 ns, now_real;

	if (copy_from_user(&data, argp, sizeof(data)))
		return -EFAULT;
	if (data.flags & ~KVM_CLOCK_VALID_FLAGS)
		return -EINVAL;

	ns = data.clock;
	/* The time since userspace read the clock elsewhere counts too. */
	if (data.flags & KVM_CLOCK_REALTIME) {
		now_real = ktime_get_real_ns();
		if (now_real > data.realtime)
			ns += now_real - data.realtime;
	}

	mutex_lock(&kvm->lock);
	kvm_update_master_clock(kvm);
	kvm->arch.kvmclock_offset = ns - kvm_clock_now_base(kvm);
	mutex_unlock(&kvm->lock);
	kvm_make_all_vcpus_request(kvm, KVM_REQ_CLOCK_UPDATE);
	return 0;
}

/* ---- The KVM PV MSRs --------------------------------------------------- */

bool kvm_is_pv_msr(u32 index)
{
	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_WALL_CLOCK_NEW:
	case MSR_KVM_SYSTEM_TIME_NEW:
	case MSR_KVM_STEAL_TIME:
	case MSR_KVM_ASYNC_PF_EN:
	case MSR_KVM_ASYNC_PF_INT:
	case MSR_KVM_ASYNC_PF_ACK:
	case MSR_KVM_PV_EOI_EN:
		return true;
	default:
		return false;
	}
}

/* The feature a PV MSR belongs to (KVM_CAP_ENFORCE_PV_FEATURE_CPUID). */
static unsigned int kvm_pv_msr_feature(u32 index)
{
	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_SYSTEM_TIME:
		return KVM_FEATURE_CLOCKSOURCE;
	case MSR_KVM_WALL_CLOCK_NEW:
	case MSR_KVM_SYSTEM_TIME_NEW:
		return KVM_FEATURE_CLOCKSOURCE2;
	case MSR_KVM_ASYNC_PF_EN:
		return KVM_FEATURE_ASYNC_PF;
	case MSR_KVM_ASYNC_PF_INT:
	case MSR_KVM_ASYNC_PF_ACK:
		return KVM_FEATURE_ASYNC_PF_INT;
	case MSR_KVM_PV_EOI_EN:
		return KVM_FEATURE_PV_EOI;
	default:
		return KVM_FEATURE_STEAL_TIME;
	}
}

/*
 * Is [@gpa, @gpa + @len) in a writable memslot of address space 0?  The PV
 * structures must be there when they are enabled, as on Linux.
 */
static bool pv_area_writable(struct kvm *kvm, u64 gpa, unsigned int len)
{
	struct kvm_memory_slot *slot;
	bool ok = true;
	u64 gfn;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	for (gfn = gpa >> PAGE_SHIFT; gfn <= (gpa + len - 1) >> PAGE_SHIFT;
	     gfn++) {
		slot = kvm_gfn_to_memslot(kvm, gfn);
		if (!slot || (slot->flags & KVM_MEM_READONLY)) {
			ok = false;
			break;
		}
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return ok;
}

/*
 * MSR_KVM_ASYNC_PF_EN: a 64-byte aligned GPA, bit 0 enable, bit 1 "also in
 * kernel mode", bit 2 "as #PF VM exits" and bit 3 "as an interrupt" (each
 * only with its feature), bits 5:4 reserved.  Enabled means bits 0 and 3
 * together; only then must the area be writable guest memory.  Nothing
 * else happens: nkvm resolves every fault before the guest runs again, so
 * it never sends an async page fault (Documentation/virt/nkvm/design.rst).
 * Needs the in-kernel LAPIC for any value but 0, as Linux.
 */
static int async_pf_set_en(struct kvm_vcpu *vcpu, u64 data)
{
	const u64 on = KVM_ASYNC_PF_ENABLED | KVM_ASYNC_PF_DELIVERY_AS_INT;

	if (data & 0x30)
		return 1;
	if ((data & KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT) &&
	    !kvm_pv_has(vcpu, KVM_FEATURE_ASYNC_PF_VMEXIT))
		return 1;
	if ((data & KVM_ASYNC_PF_DELIVERY_AS_INT) &&
	    !kvm_pv_has(vcpu, KVM_FEATURE_ASYNC_PF_INT))
		return 1;
	if (!kvm_lapic_in_kernel(vcpu))
		return data ? 1 : 0;
	/*
	 * Linux keeps the value even when the area then turns out not to be
	 * guest memory and the write fails: so does nkvm, for the same
	 * KVM_GET_MSRS after it.
	 */
	vcpu->arch.async_pf_en = data;
	if ((data & on) == on &&
	    !pv_area_writable(vcpu->kvm, data & ~0x3fULL, sizeof(u64)))
		return 1;
	return 0;
}

/*
 * MSR_KVM_PV_EOI_EN: a 4-byte aligned GPA and bit 0 enable; the byte there
 * must be writable guest memory when enabled.  lapic.c does the rest.
 */
static int pv_eoi_set_msr(struct kvm_vcpu *vcpu, u64 data)
{
	u64 gpa = data & ~(u64)KVM_MSR_ENABLED;

	if (!IS_ALIGNED(gpa, 4))
		return 1;
	if ((data & KVM_MSR_ENABLED) && !pv_area_writable(vcpu->kvm, gpa, 1))
		return 1;
	vcpu->arch.pv_eoi_msr = data;
	return 0;
}

/*
 * An access to the MSR of a feature the guest's CPUID hides (enforcement
 * on) fails, from the guest (#GP) as from userspace, as on Linux.
 */
int kvm_pv_get_msr(struct kvm_vcpu *vcpu, u32 index, u64 *data)
{
	if (!kvm_pv_has(vcpu, kvm_pv_msr_feature(index)))
		return 1;
	switch (index) {
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		*data = vcpu->arch.pv_time;
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		*data = vcpu->arch.pv_wall_clock;
		return 0;
	case MSR_KVM_ASYNC_PF_EN:
		*data = vcpu->arch.async_pf_en;
		return 0;
	case MSR_KVM_ASYNC_PF_INT:
		*data = vcpu->arch.async_pf_int;
		return 0;
	case MSR_KVM_ASYNC_PF_ACK:
		*data = 0;
		return 0;
	case MSR_KVM_PV_EOI_EN:
		*data = vcpu->arch.pv_eoi_msr;
		return 0;
	default:
		*data = vcpu->arch.steal_time_msr;
		return 0;
	}
}

int kvm_pv_set_msr(struct kvm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	if (!kvm_pv_has(vcpu, kvm_pv_msr_feature(index)))
		return 1;
	switch (index) {
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		vcpu->arch.pv_time = data;
		kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		return 0;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		vcpu->arch.pv_wall_clock = data;
		/* Userspace restoring the value writes nothing to the guest. */
		return host ? 0 : kvm_write_wall_clock(vcpu, data);
	case MSR_KVM_ASYNC_PF_EN:
		return async_pf_set_en(vcpu, data);
	case MSR_KVM_ASYNC_PF_INT:
		/* The vector in bits 7:0; the rest reserved. */
		if ((data >> 8) || !kvm_lapic_in_kernel(vcpu))
			return 1;
		vcpu->arch.async_pf_int = data;
		return 0;
	case MSR_KVM_ASYNC_PF_ACK:
		/* "Page ready" acknowledged: there never was one to ack. */
		return 0;
	case MSR_KVM_PV_EOI_EN:
		return pv_eoi_set_msr(vcpu, data);
	default:
		/* The run delay comes from the scheduler's statistics. */
		if (!sched_info_on() || (data & KVM_STEAL_RESERVED_MASK))
			return 1;
		vcpu->arch.steal_time_msr = data;
		if (data & KVM_MSR_ENABLED)
			kvm_make_request(vcpu, KVM_REQ_STEAL_UPDATE);
		return 0;
	}
}

/* ---- Steal time -------------------------------------------------------- */

/*
 * Before the guest runs again after the vCPU was loaded on a CPU: add the
 * time its task waited on a run queue since the last update to the guest's
 * kvm_steal_time.steal.  The version is odd while the update is under way
 * (a guest that finds it odd, or changed, reads again); a structure the
 * guest left with an odd version is made even first.  The preempted flag
 * is always 0: nkvm does not report preemption.
 */
void kvm_record_steal_time(struct kvm_vcpu *vcpu)
{
	u64 gpa = vcpu->arch.steal_time_msr & KVM_STEAL_VALID_BITS;
	u64 gpa_version = gpa + offsetof(struct kvm_steal_time, version);
	struct kvm_steal_time st;
	u64 run_delay;

	if (!(vcpu->arch.steal_time_msr & KVM_MSR_ENABLED))
		return;
	if (nkvm_read_guest(vcpu->kvm, gpa, &st, sizeof(st)))
		return;

	st.version += (st.version & 1) ? 2 : 1;
	if (nkvm_write_guest(vcpu->kvm, gpa_version, &st.version,
			     sizeof(st.version)))
		return;
	smp_wmb();

	/* (Another task's smaller count, after a VMM switched threads, adds 0.) */
	run_delay = current->sched_info.run_delay;
	if (run_delay > vcpu->arch.steal_last_run_delay)
		st.steal += run_delay - vcpu->arch.steal_last_run_delay;
	vcpu->arch.steal_last_run_delay = run_delay;
	st.preempted = 0;
	nkvm_write_guest(vcpu->kvm, gpa + offsetof(struct kvm_steal_time, steal),
			 &st.steal, sizeof(st.steal));
	nkvm_write_guest(vcpu->kvm,
			 gpa + offsetof(struct kvm_steal_time, preempted),
			 &st.preempted, sizeof(st.preempted));
	smp_wmb();

	st.version++;
	nkvm_write_guest(vcpu->kvm, gpa_version, &st.version,
			 sizeof(st.version));
}

/* ---- vCPU attributes: the TSC offset ----------------------------------- */

/*
 * KVM_VCPU_TSC_CTRL/KVM_VCPU_TSC_OFFSET: the offset added to the host's TSC
 * (a u64 at attr->addr).  Setting it makes the offset the VM's reference,
 * so that vCPUs whose TSC is then written with the same value match it.
 */
int kvm_vcpu_tsc_attr(struct kvm_vcpu *vcpu, unsigned int ioctl,
		      const struct kvm_device_attr *attr)
{
	u64 __user *uaddr = u64_to_user_ptr(attr->addr);
	struct kvm_arch *ka = &vcpu->kvm->arch;
	unsigned long flags;
	u64 offset;

	if (attr->group != KVM_VCPU_TSC_CTRL || attr->attr != KVM_VCPU_TSC_OFFSET)
		return -ENXIO;

	switch (ioctl) {
	case KVM_HAS_DEVICE_ATTR:
		return 0;
	case KVM_GET_DEVICE_ATTR:
		return put_user(vcpu->arch.tsc_offset, uaddr) ? -EFAULT : 0;
	default:
		if (get_user(offset, uaddr))
			return -EFAULT;
		spin_lock_irqsave(&ka->tsc_lock, flags);
		vcpu->arch.tsc_offset = offset;
		ka->tsc_write_valid = true;
		ka->last_tsc_host = rdtsc();
		ka->last_tsc_write = ka->last_tsc_host + offset;
		ka->last_tsc_offset = offset;
		spin_unlock_irqrestore(&ka->tsc_lock, flags);
		kvm_make_request(vcpu, KVM_REQ_CLOCK_UPDATE);
		return 0;
	}
}
