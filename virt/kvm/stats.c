// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: binary statistics (KVM_GET_STATS_FD), in Linux's file format.
 *
 * A stats fd reads as one file:
 *
 *	header | id string | descriptors (generic, then the arch's) | data
 *
 * at any offset and in pieces of any size; a read past the end returns 0.
 * As on Linux, lseek() moves nothing and returns the current position
 * (pread() is how to read at an offset), the fd is read-only and
 * close-on-exec, and it holds a reference on the VM (a vCPU lives as long
 * as its VM), so it stays readable after the VM and vCPU fds are closed.
 *
 * The data block is a snapshot taken by each read that reaches it: the
 * counters are plain u64s updated without locks by their owners, as on
 * Linux, so a value may lag behind by an event or so.
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <nkvm/kvm_host.h>

static_assert(KVM_STATS_NAME_SIZE == 48 && HALT_POLL_HIST_COUNT == 32);

/* struct nkvm_stats_desc is the uapi descriptor followed by the name. */
static_assert(offsetof(struct nkvm_stats_desc, flags) ==
	      offsetof(struct kvm_stats_desc, flags));
static_assert(offsetof(struct nkvm_stats_desc, exponent) ==
	      offsetof(struct kvm_stats_desc, exponent));
static_assert(offsetof(struct nkvm_stats_desc, size) ==
	      offsetof(struct kvm_stats_desc, size));
static_assert(offsetof(struct nkvm_stats_desc, offset) ==
	      offsetof(struct kvm_stats_desc, offset));
static_assert(offsetof(struct nkvm_stats_desc, bucket_size) ==
	      offsetof(struct kvm_stats_desc, bucket_size));
static_assert(offsetof(struct nkvm_stats_desc, name) ==
	      offsetof(struct kvm_stats_desc, name));
static_assert(sizeof(struct nkvm_stats_desc) ==
	      offsetof(struct kvm_stats_desc, name) + KVM_STATS_NAME_SIZE);
/* The generic statistics come first in the data, as in the descriptors. */
static_assert(offsetof(struct kvm_vm_stat, generic) == 0);
static_assert(offsetof(struct kvm_vcpu_stat, generic) == 0);
static_assert(sizeof(((struct kvm *)0)->stats_id) == KVM_STATS_NAME_SIZE);
static_assert(sizeof(((struct kvm_vcpu *)0)->stats_id) == KVM_STATS_NAME_SIZE);

/* ---- The generic descriptors --------------------------------------------- */

#define VM_GENERIC(m) \
	NKVM_STATS_DESC(struct kvm_vm_stat, generic.m, #m, CUMULATIVE, NONE, \
			POW10, 0, 1, 0)

static const struct nkvm_stats_desc kvm_generic_vm_desc[] = {
	VM_GENERIC(remote_tlb_flush),
	VM_GENERIC(remote_tlb_flush_requests),
};

#define VCPU_GENERIC(m, type, unit, exp, sz) \
	NKVM_STATS_DESC(struct kvm_vcpu_stat, generic.m, #m, type, unit, \
			POW10, exp, sz, 0)

static const struct nkvm_stats_desc kvm_generic_vcpu_desc[] = {
	VCPU_GENERIC(halt_successful_poll, CUMULATIVE, NONE, 0, 1),
	VCPU_GENERIC(halt_attempted_poll, CUMULATIVE, NONE, 0, 1),
	VCPU_GENERIC(halt_poll_invalid, CUMULATIVE, NONE, 0, 1),
	VCPU_GENERIC(halt_wakeup, CUMULATIVE, NONE, 0, 1),
	VCPU_GENERIC(halt_poll_success_ns, CUMULATIVE, SECONDS, -9, 1),
	VCPU_GENERIC(halt_poll_fail_ns, CUMULATIVE, SECONDS, -9, 1),
	VCPU_GENERIC(halt_wait_ns, CUMULATIVE, SECONDS, -9, 1),
	VCPU_GENERIC(halt_poll_success_hist, LOG_HIST, SECONDS, -9,
		     HALT_POLL_HIST_COUNT),
	VCPU_GENERIC(halt_poll_fail_hist, LOG_HIST, SECONDS, -9,
		     HALT_POLL_HIST_COUNT),
	VCPU_GENERIC(halt_wait_hist, LOG_HIST, SECONDS, -9,
		     HALT_POLL_HIST_COUNT),
	VCPU_GENERIC(blocking, INSTANT, BOOLEAN, 0, 1),
};

static const struct nkvm_stats_table kvm_generic_vm_stats = {
	.desc = kvm_generic_vm_desc,
	.count = ARRAY_SIZE(kvm_generic_vm_desc),
};

static const struct nkvm_stats_table kvm_generic_vcpu_stats = {
	.desc = kvm_generic_vcpu_desc,
	.count = ARRAY_SIZE(kvm_generic_vcpu_desc),
};

/* ---- Layout of a statistics file ------------------------------------------ */

struct kvm_stats_layout {
	const char *what;			/* for messages */
	struct kvm_stats_header header;
	const struct nkvm_stats_table *part[2];	/* generic, arch */
	size_t data_size;			/* the stat structure's size */
};

static struct kvm_stats_layout kvm_vm_layout = {
	.what = "VM",
	.part = { &kvm_generic_vm_stats, &kvm_arch_vm_stats },
	.data_size = sizeof(struct kvm_vm_stat),
};

static struct kvm_stats_layout kvm_vcpu_layout = {
	.what = "vCPU",
	.part = { &kvm_generic_vcpu_stats, &kvm_arch_vcpu_stats },
	.data_size = sizeof(struct kvm_vcpu_stat),
};

/* Room for the u64 values of the largest stat structure. */
#define KVM_STATS_MAX_WORDS	256

static bool kvm_stats_desc_valid(const struct nkvm_stats_desc *d,
				 unsigned int words)
{
	u32 type = d->flags & KVM_STATS_TYPE_MASK;
	u32 unit = d->flags & KVM_STATS_UNIT_MASK;
	u32 base = d->flags & KVM_STATS_BASE_MASK;
	bool exp_ok;

	if (!d->name[0] || strnlen(d->name, KVM_STATS_NAME_SIZE) == KVM_STATS_NAME_SIZE)
		return false;
	if (d->flags & ~(KVM_STATS_TYPE_MASK | KVM_STATS_UNIT_MASK |
			 KVM_STATS_BASE_MASK))
		return false;
	if (type > KVM_STATS_TYPE_MAX || unit > KVM_STATS_UNIT_MAX ||
	    base > KVM_STATS_BASE_MAX)
		return false;
	switch (unit) {
	case KVM_STATS_UNIT_SECONDS:
		exp_ok = d->exponent <= 0;
		break;
	case KVM_STATS_UNIT_BOOLEAN:
		exp_ok = d->exponent == 0;
		break;
	default:
		exp_ok = d->exponent >= 0;
		break;
	}
	if (!exp_ok || !d->size || d->offset % sizeof(u64) ||
	    d->offset / sizeof(u64) + d->size > words)
		return false;
	/* Only linear histograms have (and need) a bucket size. */
	return (type == KVM_STATS_TYPE_LINEAR_HIST) == !!d->bucket_size;
}

/*
 * Fill in the header and check the descriptors: valid, with distinct
 * names, and tiling the data block (so that every offset is below the
 * sum of the sizes, as readers assume).
 */
static int kvm_stats_layout_init(struct kvm_stats_layout *l)
{
	DECLARE_BITMAP(used, KVM_STATS_MAX_WORDS);
	unsigned int words = l->data_size / sizeof(u64);
	unsigned int nr = 0, p, i, q, j, w;

	if (l->data_size % sizeof(u64) || words > KVM_STATS_MAX_WORDS)
		goto bad;
	bitmap_zero(used, KVM_STATS_MAX_WORDS);
	for (p = 0; p < ARRAY_SIZE(l->part); p++) {
		for (i = 0; i < l->part[p]->count; i++) {
			const struct nkvm_stats_desc *d = &l->part[p]->desc[i];

			if (!kvm_stats_desc_valid(d, words)) {
				pr_err("%s statistic %u.%u is malformed\n",
				       l->what, p, i);
				return -EINVAL;
			}
			for (w = d->offset / sizeof(u64);
			     w < d->offset / sizeof(u64) + d->size; w++) {
				if (__test_and_set_bit(w, used)) {
					pr_err("%s statistic %s overlaps another\n",
					       l->what, d->name);
					return -EINVAL;
				}
			}
			for (q = 0; q <= p; q++) {
				for (j = 0; j < (q < p ? l->part[q]->count : i); j++) {
					if (!strcmp(l->part[q]->desc[j].name, d->name)) {
						pr_err("%s statistic %s appears twice\n",
						       l->what, d->name);
						return -EINVAL;
					}
				}
			}
			nr++;
		}
	}
	if (!bitmap_full(used, words))
		goto bad;

	l->header = (struct kvm_stats_header) {
		.flags = 0,
		.name_size = KVM_STATS_NAME_SIZE,
		.num_desc = nr,
		.id_offset = sizeof(struct kvm_stats_header),
		.desc_offset = sizeof(struct kvm_stats_header) +
			       KVM_STATS_NAME_SIZE,
		.data_offset = sizeof(struct kvm_stats_header) +
			       KVM_STATS_NAME_SIZE +
			       nr * sizeof(struct nkvm_stats_desc),
	};
	return 0;

bad:
	pr_err("%s statistics do not describe their %zu-byte structure\n",
	       l->what, l->data_size);
	return -EINVAL;
}

/* ---- Reading ------------------------------------------------------------- */

/* Copy out what [pos, pos + len) covers of the @n bytes at @start. */
static int kvm_stats_copy(char __user *ubuf, loff_t pos, size_t len,
			  loff_t start, const void *src, size_t n)
{
	loff_t from = max_t(loff_t, pos, start);
	loff_t to = min_t(loff_t, pos + len, start + n);

	if (from >= to)
		return 0;
	if (copy_to_user(ubuf + (from - pos), (const char *)src + (from - start),
			 to - from))
		return -EFAULT;
	return 0;
}

static ssize_t kvm_stats_read(const struct kvm_stats_layout *l, const char *id,
			      void (*snapshot)(void *obj, void *buf), void *obj,
			      char __user *ubuf, size_t size, loff_t *ppos)
{
	const struct kvm_stats_header *h = &l->header;
	loff_t pos = *ppos, end = h->data_offset + l->data_size, at;
	unsigned int p;
	size_t len;
	void *data;
	int r;

	if (pos < 0)
		return -EINVAL;
	if (pos >= end)
		return 0;
	len = min_t(u64, size, end - pos);

	r = kvm_stats_copy(ubuf, pos, len, 0, h, sizeof(*h));
	if (!r)
		r = kvm_stats_copy(ubuf, pos, len, h->id_offset, id,
				   KVM_STATS_NAME_SIZE);
	at = h->desc_offset;
	for (p = 0; !r && p < ARRAY_SIZE(l->part); p++) {
		size_t n = l->part[p]->count * sizeof(struct nkvm_stats_desc);

		r = kvm_stats_copy(ubuf, pos, len, at, l->part[p]->desc, n);
		at += n;
	}
	if (!r && pos + (loff_t)len > h->data_offset) {
		data = kmalloc(l->data_size, GFP_KERNEL);
		if (!data)
			return -ENOMEM;
		snapshot(obj, data);
		r = kvm_stats_copy(ubuf, pos, len, h->data_offset, data,
				   l->data_size);
		kfree(data);
	}
	if (r)
		return r;
	*ppos = pos + len;
	return len;
}

static void kvm_vm_stats_snapshot(void *obj, void *buf)
{
	struct kvm *kvm = obj;
	struct kvm_vm_stat *st = buf;

	memcpy(st, &kvm->stat, sizeof(*st));
	kvm_arch_vm_stats_read(kvm, st);
}

static void kvm_vcpu_stats_snapshot(void *obj, void *buf)
{
	struct kvm_vcpu *vcpu = obj;
	struct kvm_vcpu_stat *st = buf;

	memcpy(st, &vcpu->stat, sizeof(*st));
	kvm_arch_vcpu_stats_read(vcpu, st);
}

static ssize_t kvm_vm_stats_read(struct file *file, char __user *ubuf,
				 size_t size, loff_t *ppos)
{
	struct kvm *kvm = file->private_data;

	return kvm_stats_read(&kvm_vm_layout, kvm->stats_id,
			      kvm_vm_stats_snapshot, kvm, ubuf, size, ppos);
}

static ssize_t kvm_vcpu_stats_read(struct file *file, char __user *ubuf,
				   size_t size, loff_t *ppos)
{
	struct kvm_vcpu *vcpu = file->private_data;

	return kvm_stats_read(&kvm_vcpu_layout, vcpu->stats_id,
			      kvm_vcpu_stats_snapshot, vcpu, ubuf, size, ppos);
}

static int kvm_vm_stats_release(struct inode *inode, struct file *file)
{
	struct kvm *kvm = file->private_data;

	kvm_put_kvm(kvm);
	return 0;
}

static int kvm_vcpu_stats_release(struct inode *inode, struct file *file)
{
	struct kvm_vcpu *vcpu = file->private_data;

	kvm_put_kvm(vcpu->kvm);
	return 0;
}

/* The owner is the backend module, as for the VM and vCPU fds. */
static struct file_operations kvm_vm_stats_fops = {
	.read = kvm_vm_stats_read,
	.release = kvm_vm_stats_release,
	.llseek = noop_llseek,
};

static struct file_operations kvm_vcpu_stats_fops = {
	.read = kvm_vcpu_stats_read,
	.release = kvm_vcpu_stats_release,
	.llseek = noop_llseek,
};

/* ---- The fds --------------------------------------------------------------- */

static int kvm_stats_getfd(struct kvm *kvm, const char *name,
			   const struct file_operations *fops, void *obj)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile(name, fops, obj, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	/* Dropped by the file's release. */
	kvm_get_kvm(kvm);
	file->f_mode |= FMODE_PREAD;
	fd_install(fd, file);
	return fd;
}

int kvm_vm_ioctl_get_stats_fd(struct kvm *kvm)
{
	return kvm_stats_getfd(kvm, "kvm-vm-stats", &kvm_vm_stats_fops, kvm);
}

int kvm_vcpu_ioctl_get_stats_fd(struct kvm_vcpu *vcpu)
{
	char name[32];

	snprintf(name, sizeof(name), "kvm-vcpu-stats:%u", vcpu->vcpu_id);
	return kvm_stats_getfd(vcpu->kvm, name, &kvm_vcpu_stats_fops, vcpu);
}

/* The id strings name the thread that created the VM or the vCPU. */
void kvm_stats_vm_init(struct kvm *kvm)
{
	snprintf(kvm->stats_id, sizeof(kvm->stats_id), "kvm-%d",
		 task_pid_nr(current));
}

void kvm_stats_vcpu_init(struct kvm_vcpu *vcpu)
{
	snprintf(vcpu->stats_id, sizeof(vcpu->stats_id), "kvm-%d/vcpu-%u",
		 task_pid_nr(current), vcpu->vcpu_id);
}

int kvm_stats_init(struct module *owner)
{
	int r;

	r = kvm_stats_layout_init(&kvm_vm_layout);
	if (!r)
		r = kvm_stats_layout_init(&kvm_vcpu_layout);
	if (r)
		return r;
	kvm_vm_stats_fops.owner = owner;
	kvm_vcpu_stats_fops.owner = owner;
	return 0;
}

/* ---- Halt statistics ------------------------------------------------------ */

void kvm_stats_halt_poll(struct kvm_vcpu *vcpu, u64 poll_ns, bool success)
{
	struct nkvm_vcpu_stat_generic *st = &vcpu->stat.generic;

	st->halt_attempted_poll++;
	if (success) {
		/* halt_poll_invalid: x86 has no spurious wake-ups to count. */
		st->halt_successful_poll++;
		st->halt_poll_success_ns += poll_ns;
		kvm_stats_log_hist_add(st->halt_poll_success_hist,
				       HALT_POLL_HIST_COUNT, poll_ns);
	} else {
		st->halt_poll_fail_ns += poll_ns;
		kvm_stats_log_hist_add(st->halt_poll_fail_hist,
				       HALT_POLL_HIST_COUNT, poll_ns);
	}
}

void kvm_stats_halt_wait(struct kvm_vcpu *vcpu, u64 wait_ns)
{
	struct nkvm_vcpu_stat_generic *st = &vcpu->stat.generic;

	st->halt_wait_ns += wait_ns;
	kvm_stats_log_hist_add(st->halt_wait_hist, HALT_POLL_HIST_COUNT,
			       wait_ns);
}

void kvm_stats_halt_wakeup(struct kvm_vcpu *vcpu)
{
	vcpu->stat.generic.halt_wakeup++;
}

void kvm_stats_set_blocking(struct kvm_vcpu *vcpu, bool blocking)
{
	WRITE_ONCE(vcpu->stat.generic.blocking, blocking);
}
