/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: arch-neutral core objects.
 *
 * The core (virt/kvm) owns the lifetime and locking of every object here:
 * the VM, its vCPUs and its memslots.  The architecture code (arch/<arch>/kvm)
 * embeds its own state in struct kvm_arch / struct kvm_vcpu_arch and plugs in
 * through the kvm_arch_*() hooks declared at the end of this file.
 */
#ifndef _NKVM_KVM_HOST_H
#define _NKVM_KVM_HOST_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/xarray.h>
#include <linux/refcount.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <uapi/linux/kvm.h>

#include <nkvm/memslot.h>
#include <nkvm/xfer_work.h>
#include <nkvm/iobus.h>
#include <nkvm/eventfd.h>
#include <nkvm/coalesced_mmio.h>
#include <nkvm/dirty_ring.h>
#include <nkvm/kvm_arch.h>

#define KVM_API_VERSION		12

#define KVM_MAX_VCPUS		1024
#define KVM_MAX_VCPU_IDS	4096

struct kvm;

/* vcpu->mode: whether a kick must interrupt the CPU the vCPU runs on. */
enum kvm_vcpu_mode {
	OUTSIDE_GUEST_MODE,
	IN_GUEST_MODE,
};

/* Requests: bits in vcpu->requests, serviced before the next guest entry. */
#define KVM_REQ_TLB_FLUSH	0
#define KVM_REQ_MMU_RELOAD	1	/* the guest-physical root was zapped */
#define KVM_REQ_CLOCK_UPDATE	2	/* refresh the guest's kvmclock */
#define KVM_REQ_EVENT		3	/* look at interrupts again (irq.c) */
#define KVM_REQ_IOAPIC_EOI_EXIT	4	/* KVM_EXIT_IOAPIC_EOI (split irqchip) */
#define KVM_REQ_STEAL_UPDATE	5	/* refresh the guest's steal time */
#define KVM_REQ_PMU		6	/* guest PMU: overflows, perf events */
#define KVM_REQ_REPORT_TPR_ACCESS 7	/* KVM_EXIT_TPR_ACCESS */
#define KVM_REQ_MSR_FILTER_CHANGED 8	/* recompute MSR pass-through */
#define KVM_REQ_HV_EXIT		9	/* KVM_EXIT_HYPERV or a Hyper-V reset/crash */
#define KVM_REQ_SMI		10	/* KVM_SMI: latch an SMI */

struct kvm_vcpu {
	struct kvm *kvm;
	u32 vcpu_id;			/* the id userspace chose */
	int cpu;			/* host CPU it last ran on, -1 if none */
	int mode;			/* enum kvm_vcpu_mode */
	unsigned long requests;

	struct mutex mutex;		/* serialises the vCPU fd's ioctls */
	struct kvm_run *run;		/* the page userspace mmaps */
	struct page *pio_page;		/* KVM_EXIT_IO data (KVM_PIO_PAGE_OFFSET) */
	struct preempt_notifier preempt_notifier;
	int srcu_idx;

	/* KVM_SET_SIGNAL_MASK: the thread's signal mask inside KVM_RUN. */
	bool sigset_active;
	sigset_t sigset;

	struct kvm_dirty_ring dirty_ring;	/* KVM_CAP_DIRTY_LOG_RING */

	/* Binary statistics (virt/kvm/stats.c) */
	struct kvm_vcpu_stat stat;
	char stats_id[KVM_STATS_NAME_SIZE];

	struct kvm_vcpu_arch arch;
	/* the backend's own state follows (ops->vcpu_size) */
};

struct kvm {
	refcount_t users;
	struct mm_struct *mm;		/* the VMM's address space */

	struct mutex lock;		/* vCPU creation */
	struct xarray vcpus;		/* index: creation order */
	atomic_t nr_vcpus;		/* published in vcpus */
	int created_vcpus;		/* counting those being created */
	u32 max_vcpu_ids;		/* KVM_CAP_MAX_VCPU_ID, 0: the default */

	struct mutex slots_lock;	/* memslot updates */
	/* One set per address space (x86: 1 is SMM's). */
	struct kvm_memslots __rcu *memslots[KVM_ADDRESS_SPACE_NUM];
	struct srcu_struct srcu;	/* readers of memslots, I/O buses */

	struct kvm_io_buses buses;	/* in-kernel PIO/MMIO devices */
	struct kvm_eventfds eventfds;	/* ioeventfd, irqfd, GSI routing */
	struct kvm_coalesced coalesced;	/* KVM_REGISTER_COALESCED_MMIO */
	u64 manual_dirty_log_protect;	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
	u32 dirty_ring_size;		/* bytes per vCPU ring; 0: bitmaps */

	/* Binary statistics (virt/kvm/stats.c) */
	struct kvm_vm_stat stat;
	char stats_id[KVM_STATS_NAME_SIZE];

	struct kvm_arch arch;
	/* the backend's own state follows (ops->vm_size) */
};

static inline struct kvm_memslots *__kvm_memslots(struct kvm *kvm, int as_id)
{
	return srcu_dereference_check(kvm->memslots[as_id], &kvm->srcu,
				      lockdep_is_held(&kvm->slots_lock));
}

/* Address space 0: what devices, userspace's view and vCPUs outside SMM see. */
static inline struct kvm_memslots *kvm_memslots(struct kvm *kvm)
{
	return __kvm_memslots(kvm, 0);
}

static inline struct kvm_memory_slot *kvm_gfn_to_memslot(struct kvm *kvm,
							 gfn_t gfn)
{
	return kvm_memslots_find_gfn(kvm_memslots(kvm), gfn);
}

/* The address space the vCPU sees now (the architecture's choice). */
static inline struct kvm_memslots *kvm_vcpu_memslots(struct kvm_vcpu *vcpu)
{
	return __kvm_memslots(vcpu->kvm, kvm_arch_vcpu_memslots_id(vcpu));
}

static inline struct kvm_memory_slot *
kvm_vcpu_gfn_to_memslot(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	return kvm_memslots_find_gfn(kvm_vcpu_memslots(vcpu), gfn);
}

/*
 * kvm_run->immediate_exit is written by userspace at any time: read it once.
 * (Kernels from 6.12 name it immediate_exit__unsafe to enforce that.)
 */
#ifdef NKVM_HAVE_IMMEDIATE_EXIT_UNSAFE
#define kvm_run_immediate_exit(run)	READ_ONCE((run)->immediate_exit__unsafe)
#else
#define kvm_run_immediate_exit(run)	READ_ONCE((run)->immediate_exit)
#endif

/* Bytes of a slot's dirty bitmap (which is allocated twice as large). */
static inline unsigned long kvm_dirty_bitmap_bytes(const struct kvm_memory_slot *slot)
{
	return ALIGN(slot->npages, BITS_PER_LONG) / 8;
}

#define kvm_for_each_vcpu(idx, vcpu, kvm) \
	xa_for_each(&(kvm)->vcpus, idx, vcpu)

static inline void kvm_make_request(struct kvm_vcpu *vcpu, int req)
{
	/* Pairs with the barrier in kvm_vcpu_enter_guest_mode(). */
	smp_mb__before_atomic();
	set_bit(req, &vcpu->requests);
}

static inline bool kvm_check_request(struct kvm_vcpu *vcpu, int req)
{
	return test_and_clear_bit(req, &vcpu->requests);
}

void kvm_make_all_vcpus_request(struct kvm *kvm, int req);

/*
 * Called with interrupts disabled right before entering the guest: the vCPU
 * becomes kickable.  Returns false (and leaves guest mode again) if a request
 * or a reschedule is pending and the entry must be retried.
 */
bool kvm_vcpu_enter_guest_mode(struct kvm_vcpu *vcpu);

static inline void kvm_vcpu_exit_guest_mode(struct kvm_vcpu *vcpu)
{
	smp_store_release(&vcpu->mode, OUTSIDE_GUEST_MODE);
}

/* Hooks the architecture provides to the core. */
int kvm_arch_init(void);
void kvm_arch_exit(void);
int kvm_arch_cpu_enable(void);
void kvm_arch_cpu_disable(void);
long kvm_arch_check_extension(struct kvm *kvm, long ext);
long kvm_arch_dev_ioctl(unsigned int ioctl, unsigned long arg);
gfn_t kvm_arch_max_gfn(void);
size_t kvm_arch_vm_size(void);
size_t kvm_arch_vcpu_size(void);
int kvm_arch_vm_init(struct kvm *kvm, unsigned long type);
/* Before the vCPUs are freed: stop what may still reach them. */
void kvm_arch_pre_destroy_vm(struct kvm *kvm);
void kvm_arch_vm_release(struct kvm *kvm);
void kvm_arch_vm_destroy(struct kvm *kvm);
long kvm_arch_vm_ioctl(struct kvm *kvm, unsigned int ioctl, unsigned long arg);
/*
 * A memslot change: prepare before the new set is published (@old and
 * @new are NULL for a create and a delete), commit after no vCPU can see
 * the old set any more.
 */
int kvm_arch_prepare_memory_region(struct kvm *kvm,
				   const struct kvm_memory_slot *old,
				   struct kvm_memory_slot *new,
				   enum kvm_mr_change change);
void kvm_arch_commit_memory_region(struct kvm *kvm,
				   const struct kvm_memory_slot *old,
				   const struct kvm_memory_slot *new,
				   enum kvm_mr_change change);
/*
 * The dirty ring's harvested pages: write-protect the pages of @slot at
 * @offset + each set bit of @mask (slots_lock held); true if a mapping
 * changed, and the TLBs must be flushed (kvm_arch_flush_remote_tlbs())
 * before the pages count as protected.
 */
bool kvm_arch_dirty_log_protect(struct kvm *kvm,
				const struct kvm_memory_slot *slot,
				u64 offset, unsigned long mask);
void kvm_arch_flush_remote_tlbs(struct kvm *kvm);
int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu);
void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu);
void kvm_arch_vcpu_load(struct kvm_vcpu *vcpu, int cpu);
void kvm_arch_vcpu_put(struct kvm_vcpu *vcpu);
int kvm_arch_vcpu_run(struct kvm_vcpu *vcpu);
long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			 unsigned long arg);

/* Services the core offers to the architecture and the backends. */
extern bool nkvm_rebooting;
int nkvm_core_init(struct module *owner);
void nkvm_core_exit(void);
int nkvm_read_guest(struct kvm *kvm, gpa_t gpa, void *buf, unsigned long len);
/* The same in the address space the vCPU sees now. */
int nkvm_vcpu_read_guest(struct kvm_vcpu *vcpu, gpa_t gpa, void *buf,
			 unsigned long len);
int nkvm_vcpu_write_guest(struct kvm_vcpu *vcpu, gpa_t gpa, const void *buf,
			  unsigned long len);
int nkvm_write_guest(struct kvm *kvm, gpa_t gpa, const void *buf,
		     unsigned long len);
void kvm_vcpu_load(struct kvm_vcpu *vcpu);
void kvm_vcpu_put(struct kvm_vcpu *vcpu);
bool kvm_file_is_vm(struct file *file);
/* A reference on the VM (and so on its vCPUs), for fds other than its own. */
void kvm_get_kvm(struct kvm *kvm);
void kvm_put_kvm(struct kvm *kvm);

#endif /* _NKVM_KVM_HOST_H */
