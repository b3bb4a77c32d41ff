/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: binary statistics, KVM_GET_STATS_FD on the VM and vCPU fds.
 *
 * The file a stats fd reads is Linux's: a struct kvm_stats_header, the id
 * string ("kvm-<pid>" or "kvm-<pid>/vcpu-<id>", KVM_STATS_NAME_SIZE bytes),
 * the descriptors (the uapi struct kvm_stats_desc, each followed by its
 * name in KVM_STATS_NAME_SIZE bytes), then the data: u64 values at the
 * offsets the descriptors give.
 *
 * Every counter lives in kvm->stat or vcpu->stat (struct kvm_vm_stat and
 * struct kvm_vcpu_stat, defined by the architecture with the generic part
 * below first).  The data block is a snapshot of that structure: copied,
 * then completed by the architecture with what it keeps elsewhere (the MMU's
 * gauges, for example).  The descriptors must tile the structure exactly:
 * that is checked when the backend registers.
 *
 * Documentation/virt/nkvm/stats.rst lists the statistics.
 */
#ifndef _NKVM_STATS_H
#define _NKVM_STATS_H

#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/minmax.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <uapi/linux/kvm.h>

/*
 * Bytes of the id string and of every descriptor's name, and buckets of the
 * halt histograms (bucket i counts values of i bits): Linux's values, which
 * the kernel's own <linux/kvm_types.h> may have defined already.
 */
#ifndef KVM_STATS_NAME_SIZE
#define KVM_STATS_NAME_SIZE	48
#endif
#ifndef HALT_POLL_HIST_COUNT
#define HALT_POLL_HIST_COUNT	32
#endif

/* The statistics every VM has, whatever the architecture. */
struct nkvm_vm_stat_generic {
	u64 remote_tlb_flush;		/* flushes that interrupted a vCPU */
	u64 remote_tlb_flush_requests;	/* flushes of every vCPU asked for */
};

/* The statistics every vCPU has (the halt ones: in-kernel halting). */
struct nkvm_vcpu_stat_generic {
	u64 halt_successful_poll;
	u64 halt_attempted_poll;
	u64 halt_poll_invalid;
	u64 halt_wakeup;
	u64 halt_poll_success_ns;
	u64 halt_poll_fail_ns;
	u64 halt_wait_ns;
	u64 halt_poll_success_hist[HALT_POLL_HIST_COUNT];
	u64 halt_poll_fail_hist[HALT_POLL_HIST_COUNT];
	u64 halt_wait_hist[HALT_POLL_HIST_COUNT];
	u64 blocking;
};

/*
 * One descriptor as the file holds it: the fields of the uapi struct
 * kvm_stats_desc (whose name[] is a flexible array), then the name.
 * virt/kvm/stats.c checks the layout against the uapi structure.
 */
struct nkvm_stats_desc {
	u32 flags;
	s16 exponent;
	u16 size;		/* u64 values */
	u32 offset;		/* bytes into the data block */
	u32 bucket_size;	/* linear histograms only */
	char name[KVM_STATS_NAME_SIZE];
};

/*
 * Describe member @m of the statistics structure @st, named @nm.  @type,
 * @unit and @base are the suffixes of the KVM_STATS_TYPE_, _UNIT_ and
 * _BASE_ constants; @sz counts u64 values.
 */
#define NKVM_STATS_DESC(st, m, nm, type, unit, base, exp, sz, bsz) {	\
	.flags = KVM_STATS_TYPE_##type | KVM_STATS_UNIT_##unit |	\
		 KVM_STATS_BASE_##base,					\
	.exponent = (exp),						\
	.size = (sz),							\
	.offset = offsetof(st, m),					\
	.bucket_size = (bsz),						\
	.name = nm,							\
}

/* A count of events since the VM or vCPU was created. */
#define NKVM_STATS_COUNTER(st, m) \
	NKVM_STATS_DESC(st, m, #m, CUMULATIVE, NONE, POW10, 0, 1, 0)
/* A count of things that exist now (it goes up and down). */
#define NKVM_STATS_ICOUNTER(st, m) \
	NKVM_STATS_DESC(st, m, #m, INSTANT, NONE, POW10, 0, 1, 0)

/* One part of a statistics file's descriptors (generic, or the arch's). */
struct nkvm_stats_table {
	const struct nkvm_stats_desc *desc;
	unsigned int count;
};

struct kvm;
struct kvm_vcpu;
struct kvm_vm_stat;
struct kvm_vcpu_stat;
struct module;

/* The architecture's descriptors, after the generic ones in the file. */
extern const struct nkvm_stats_table kvm_arch_vm_stats;
extern const struct nkvm_stats_table kvm_arch_vcpu_stats;
/*
 * Complete a snapshot (already a copy of kvm->stat or vcpu->stat) with the
 * values the architecture keeps elsewhere.  May sleep; no lock is held.
 */
void kvm_arch_vm_stats_read(struct kvm *kvm, struct kvm_vm_stat *st);
void kvm_arch_vcpu_stats_read(struct kvm_vcpu *vcpu, struct kvm_vcpu_stat *st);

/* virt/kvm/stats.c */
int kvm_stats_init(struct module *owner);
void kvm_stats_vm_init(struct kvm *kvm);
void kvm_stats_vcpu_init(struct kvm_vcpu *vcpu);
int kvm_vm_ioctl_get_stats_fd(struct kvm *kvm);
int kvm_vcpu_ioctl_get_stats_fd(struct kvm_vcpu *vcpu);

/*
 * The halt statistics, for the code that halts a vCPU in the kernel
 * (called by the vCPU's thread, except kvm_stats_halt_wakeup(), which the
 * waker calls when it did wake the vCPU up).  Times are in nanoseconds:
 * @poll_ns of polling that ended in a wake-up (@success) or in a sleep,
 * @wait_ns asleep.
 */
void kvm_stats_halt_poll(struct kvm_vcpu *vcpu, u64 poll_ns, bool success);
void kvm_stats_halt_wait(struct kvm_vcpu *vcpu, u64 wait_ns);
void kvm_stats_halt_wakeup(struct kvm_vcpu *vcpu);
void kvm_stats_set_blocking(struct kvm_vcpu *vcpu, bool blocking);

/* Add @value to a logarithmic histogram: bucket fls64(value), the last one at most. */
static inline void kvm_stats_log_hist_add(u64 *hist, unsigned int buckets,
					  u64 value)
{
	unsigned int i = fls64(value);

	hist[min(i, buckets - 1)]++;
}

#endif /* _NKVM_STATS_H */
