// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the arch-neutral core.
 *
 * /dev/kvm, the VM and vCPU file descriptors, memslots, and the virtualization
 * state of every host CPU.  The ioctl handlers here are thin: they copy the
 * argument in, take the lock the object needs, call the worker, and copy the
 * result out.  Everything architecture-specific is behind kvm_arch_*().
 */
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/syscore_ops.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <nkvm/kvm_host.h>
#include <uapi/nkvm/nkvm.h>

MODULE_AUTHOR("nkvm developers");
MODULE_DESCRIPTION("nkvm: a hypervisor with the /dev/kvm ABI");
MODULE_LICENSE("GPL");

/* Set once the host is going down: entries fail instead of faulting. */
bool nkvm_rebooting;
EXPORT_SYMBOL_GPL(nkvm_rebooting);

static int kvm_cpuhp_state = -1;
static bool kvm_dev_registered;
static DEFINE_PER_CPU(bool, kvm_cpu_enabled);

/* fops get their owner (the backend module) when it registers. */
static struct file_operations kvm_chardev_fops;
static struct file_operations kvm_vm_fops;
static struct file_operations kvm_vcpu_fops;

/* ---- Host CPU virtualization state ------------------------------------ */

static int kvm_enable_this_cpu(void)
{
	int r;

	if (__this_cpu_read(kvm_cpu_enabled))
		return 0;
	r = kvm_arch_cpu_enable();
	if (!r)
		__this_cpu_write(kvm_cpu_enabled, true);
	return r;
}

static void kvm_disable_this_cpu(void *unused)
{
	if (!__this_cpu_read(kvm_cpu_enabled))
		return;
	kvm_arch_cpu_disable();
	__this_cpu_write(kvm_cpu_enabled, false);
}

static int kvm_cpu_online(unsigned int cpu)
{
	return kvm_enable_this_cpu();
}

static int kvm_cpu_offline(unsigned int cpu)
{
	kvm_disable_this_cpu(NULL);
	return 0;
}

static int kvm_reboot(struct notifier_block *nb, unsigned long code, void *v)
{
	/* Entries racing with this fail cleanly (see the backends' fixups). */
	WRITE_ONCE(nkvm_rebooting, true);
	on_each_cpu(kvm_disable_this_cpu, NULL, 1);
	return NOTIFY_OK;
}

static struct notifier_block kvm_reboot_nb = {
	.notifier_call = kvm_reboot,
	.priority = 0,
};

/* Suspend and resume run on the last online CPU, with interrupts off. */
static int kvm_suspend(void)
{
	kvm_disable_this_cpu(NULL);
	return 0;
}

static void kvm_resume(void)
{
	if (kvm_enable_this_cpu())
		pr_err("cannot re-enable virtualization on CPU %d after resume\n",
		       raw_smp_processor_id());
}

#ifdef NKVM_HAVE_STRUCT_SYSCORE
static int kvm_syscore_suspend(void *data)
{
	return kvm_suspend();
}

static void kvm_syscore_resume(void *data)
{
	kvm_resume();
}

static const struct syscore_ops kvm_syscore_ops = {
	.suspend = kvm_syscore_suspend,
	.resume = kvm_syscore_resume,
};

static struct syscore kvm_syscore = {
	.ops = &kvm_syscore_ops,
};

static void kvm_register_syscore(void)
{
	register_syscore(&kvm_syscore);
}

static void kvm_unregister_syscore(void)
{
	unregister_syscore(&kvm_syscore);
}
#else
static struct syscore_ops kvm_syscore_ops = {
	.suspend = kvm_suspend,
	.resume = kvm_resume,
};

static void kvm_register_syscore(void)
{
	register_syscore_ops(&kvm_syscore_ops);
}

static void kvm_unregister_syscore(void)
{
	unregister_syscore_ops(&kvm_syscore_ops);
}
#endif

/* ---- Requests and kicks ----------------------------------------------- */

bool kvm_vcpu_enter_guest_mode(struct kvm_vcpu *vcpu)
{
	/* Pairs with kvm_make_request() + the mode check in the kicker. */
	smp_store_mb(vcpu->mode, IN_GUEST_MODE);
	/* A reschedule, a signal or TIF_NOTIFY_RESUME: kvm_xfer_handle_work(). */
	if (READ_ONCE(vcpu->requests) || kvm_xfer_work_pending()) {
		kvm_vcpu_exit_guest_mode(vcpu);
		return false;
	}
	return true;
}

static void kvm_ack_kick(void *unused)
{
}

/*
 * Post a request to every vCPU and wait until none of them is still in guest
 * mode without having seen it: the IPI forces an exit, and a vCPU checks its
 * requests after setting IN_GUEST_MODE, before entering.
 */
void kvm_make_all_vcpus_request(struct kvm *kvm, int req)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;
	cpumask_var_t cpus;
	bool have_mask;

	have_mask = zalloc_cpumask_var(&cpus, GFP_KERNEL);
	kvm_for_each_vcpu(i, vcpu, kvm) {
		kvm_make_request(vcpu, req);
		smp_mb__after_atomic();
		if (READ_ONCE(vcpu->mode) == IN_GUEST_MODE && have_mask)
			cpumask_set_cpu(READ_ONCE(vcpu->cpu), cpus);
	}

	preempt_disable();
	if (have_mask)
		smp_call_function_many(cpus, kvm_ack_kick, NULL, true);
	else
		smp_call_function(kvm_ack_kick, NULL, true);
	preempt_enable();

	free_cpumask_var(cpus);
}

/* ---- vCPU load/put and preemption -------------------------------------- */

/* The vCPU loaded on each CPU (inside KVM_RUN), for the dirty ring. */
static DEFINE_PER_CPU(struct kvm_vcpu *, kvm_loaded_vcpu);

struct kvm_vcpu *kvm_running_vcpu(void)
{
	return this_cpu_read(kvm_loaded_vcpu);
}

static inline struct kvm_vcpu *preempt_notifier_to_vcpu(struct preempt_notifier *pn)
{
	return container_of(pn, struct kvm_vcpu, preempt_notifier);
}

static void kvm_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct kvm_vcpu *vcpu = preempt_notifier_to_vcpu(pn);

	WRITE_ONCE(vcpu->cpu, cpu);
	__this_cpu_write(kvm_loaded_vcpu, vcpu);
	kvm_arch_vcpu_load(vcpu, cpu);
}

static void kvm_sched_out(struct preempt_notifier *pn, struct task_struct *next)
{
	kvm_arch_vcpu_put(preempt_notifier_to_vcpu(pn));
	__this_cpu_write(kvm_loaded_vcpu, NULL);
}

static struct preempt_ops kvm_preempt_ops = {
	.sched_in = kvm_sched_in,
	.sched_out = kvm_sched_out,
};

void kvm_vcpu_load(struct kvm_vcpu *vcpu)
{
	int cpu = get_cpu();

	WRITE_ONCE(vcpu->cpu, cpu);
	__this_cpu_write(kvm_loaded_vcpu, vcpu);
	preempt_notifier_register(&vcpu->preempt_notifier);
	kvm_arch_vcpu_load(vcpu, cpu);
	put_cpu();
}

void kvm_vcpu_put(struct kvm_vcpu *vcpu)
{
	preempt_disable();
	kvm_arch_vcpu_put(vcpu);
	__this_cpu_write(kvm_loaded_vcpu, NULL);
	preempt_notifier_unregister(&vcpu->preempt_notifier);
	preempt_enable();
}

/* ---- VM lifetime ------------------------------------------------------- */

static void kvm_vcpu_free(struct kvm_vcpu *vcpu)
{
	kvm_arch_vcpu_destroy(vcpu);
	kvm_dirty_ring_free(vcpu);
	if (vcpu->pio_page)
		__free_page(vcpu->pio_page);
	free_page((unsigned long)vcpu->run);
	kvfree(vcpu);
}

static void kvm_destroy_vm(struct kvm *kvm)
{
	struct kvm_memory_slot *slot, *next;
	struct kvm_memslots *slots;
	struct kvm_vcpu *vcpu;
	unsigned long i;
	int as_id;

	/* irqfds and timers deliver into the vCPUs: stop them first. */
	kvm_eventfd_release(kvm);
	kvm_arch_vm_release(kvm);
	/* Nor may the MMU notifier and the shrinker reach them any more. */
	kvm_arch_pre_destroy_vm(kvm);

	xa_for_each(&kvm->vcpus, i, vcpu)
		kvm_vcpu_free(vcpu);
	xa_destroy(&kvm->vcpus);

	kvm_arch_vm_destroy(kvm);
	kvm_eventfd_destroy(kvm);
	kvm_coalesced_mmio_free(kvm);

	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++) {
		slots = rcu_dereference_protected(kvm->memslots[as_id], true);
		/* The walk reads the nodes, never a slot freed before. */
		for (slot = kvm_memslots_next_id(slots, 0); slot; slot = next) {
			next = kvm_memslots_next_id(slots, slot->id + 1);
			kvfree(slot->dirty_bitmap);
			kfree(slot);
		}
		kvm_memslots_free(slots);
	}

	cleanup_srcu_struct(&kvm->srcu);
	mmdrop(kvm->mm);
	kvfree(kvm);
}

void kvm_get_kvm(struct kvm *kvm)
{
	refcount_inc(&kvm->users);
}

void kvm_put_kvm(struct kvm *kvm)
{
	if (refcount_dec_and_test(&kvm->users))
		kvm_destroy_vm(kvm);
}

static struct kvm *kvm_create_vm(unsigned long type)
{
	struct kvm_memslots *slots;
	struct kvm *kvm;
	int as_id, r;

	kvm = kvzalloc(kvm_arch_vm_size(), GFP_KERNEL_ACCOUNT);
	if (!kvm)
		return ERR_PTR(-ENOMEM);

	refcount_set(&kvm->users, 1);
	kvm_stats_vm_init(kvm);
	mutex_init(&kvm->lock);
	mutex_init(&kvm->slots_lock);
	xa_init(&kvm->vcpus);
	atomic_set(&kvm->nr_vcpus, 0);

	r = -ENOMEM;
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++) {
		slots = kvm_memslots_alloc();
		if (!slots)
			goto out_slots;
		RCU_INIT_POINTER(kvm->memslots[as_id], slots);
	}

	r = init_srcu_struct(&kvm->srcu);
	if (r)
		goto out_slots;

	r = kvm_eventfd_init(kvm);
	if (r)
		goto out_srcu;

	r = kvm_coalesced_mmio_init(kvm);
	if (r)
		goto out_eventfd;

	r = kvm_arch_vm_init(kvm, type);
	if (r)
		goto out_coalesced;

	mmgrab(current->mm);
	kvm->mm = current->mm;
	return kvm;

out_coalesced:
	kvm_coalesced_mmio_free(kvm);
out_eventfd:
	kvm_eventfd_destroy(kvm);
out_srcu:
	cleanup_srcu_struct(&kvm->srcu);
out_slots:
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++) {
		slots = rcu_dereference_protected(kvm->memslots[as_id], true);
		if (slots)
			kvm_memslots_free(slots);
	}
	kvfree(kvm);
	return ERR_PTR(r);
}

/* ---- Memslots ---------------------------------------------------------- */

#define KVM_MEM_VALID_FLAGS	(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)

/*
 * The dirty bitmap of a slot that logs: the old slot's when it had one
 * (a move keeps it), else a new one, all set with KVM_DIRTY_LOG_INITIALLY_SET.
 * With the dirty ring there are no bitmaps.
 */
static int kvm_slot_dirty_bitmap(struct kvm *kvm, struct kvm_memory_slot *new,
				 const struct kvm_memory_slot *old)
{
	if (!kvm_slot_dirty_logging(new) || READ_ONCE(kvm->dirty_ring_size))
		return 0;
	if (old && old->dirty_bitmap) {
		new->dirty_bitmap = old->dirty_bitmap;
		return 0;
	}
	/* Twice the size: the second half is the dirty log ioctls' scratch. */
	new->dirty_bitmap = kvzalloc(2 * kvm_dirty_bitmap_bytes(new),
				     GFP_KERNEL_ACCOUNT);
	if (!new->dirty_bitmap)
		return -ENOMEM;
	if (READ_ONCE(kvm->manual_dirty_log_protect) & KVM_DIRTY_LOG_INITIALLY_SET)
		bitmap_set(new->dirty_bitmap, 0, new->npages);
	return 0;
}

/* Free a slot; its bitmap too unless @keep (its successor) took it over. */
static void kvm_free_slot(struct kvm_memory_slot *slot,
			  const struct kvm_memory_slot *keep)
{
	if (!slot)
		return;
	if (!keep || keep->dirty_bitmap != slot->dirty_bitmap)
		kvfree(slot->dirty_bitmap);
	kfree(slot);
}

static int kvm_set_memory_region(struct kvm *kvm,
				 const struct kvm_userspace_memory_region *mem)
{
	struct kvm_memslots *slots, *new_slots;
	struct kvm_memory_slot *old, *new = NULL;
	enum kvm_mr_change change;
	int as_id, r;

	if (!access_ok((void __user *)(unsigned long)mem->userspace_addr,
		       mem->memory_size))
		return -EINVAL;

	/* kvm_memslot_check() refuses the address spaces beyond. */
	as_id = min_t(u32, mem->slot >> 16, KVM_ADDRESS_SPACE_NUM - 1);
	mutex_lock(&kvm->slots_lock);
	slots = __kvm_memslots(kvm, as_id);

	r = kvm_memslot_check(slots, mem, KVM_MEM_VALID_FLAGS,
			      kvm_arch_max_gfn(), &change, &old);
	if (r || change == KVM_MR_NONE)
		goto out;

	if (change != KVM_MR_DELETE) {
		r = -ENOMEM;
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			goto out;
		new->id = (u16)mem->slot;
		new->as_id = as_id;
		new->base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
		new->npages = mem->memory_size >> PAGE_SHIFT;
		new->userspace_addr = mem->userspace_addr;
		new->flags = mem->flags;
		r = kvm_slot_dirty_bitmap(kvm, new, old);
		if (r) {
			kfree(new);
			goto out;
		}
	}

	r = -ENOMEM;
	new_slots = kvm_memslots_replace(slots, old, new);
	if (!new_slots)
		goto out_free_new;

	r = kvm_arch_prepare_memory_region(kvm, old, new, change);
	if (r) {
		kvm_memslots_discard(new_slots);
		goto out_free_new;
	}

	rcu_assign_pointer(kvm->memslots[as_id], new_slots);
	/* After this no vCPU can still be using the old set. */
	synchronize_srcu_expedited(&kvm->srcu);

	kvm_arch_commit_memory_region(kvm, old, new, change);

	kvm_memslots_retire(slots, new_slots);
	kvm_free_slot(old, new);
	r = 0;
	goto out;

out_free_new:
	kvm_free_slot(new, old);
out:
	mutex_unlock(&kvm->slots_lock);
	return r;
}

/* ---- Guest memory from the VMM's side ------------------------------------ */

/*
 * Copy to or from guest-physical memory through the VMM's mapping of the
 * memslots.  Runs in the VMM's context (an ioctl or KVM_RUN), under
 * kvm->srcu.  Returns 0, or -EFAULT when a page is outside every memslot,
 * its host mapping is gone, or a write meets a read-only slot.
 */
static int kvm_guest_copy(struct kvm *kvm, struct kvm_memslots *slots,
			  gpa_t gpa, void *buf, unsigned long len, bool write)
{
	while (len) {
		unsigned long off = offset_in_page(gpa);
		unsigned long n = min(len, PAGE_SIZE - off);
		struct kvm_memory_slot *slot;
		void __user *hva;

		slot = kvm_memslots_find_gfn(slots, gpa >> PAGE_SHIFT);
		if (!slot || (write && (slot->flags & KVM_MEM_READONLY)))
			return -EFAULT;
		hva = (void __user *)(kvm_memslot_hva(slot, gpa >> PAGE_SHIFT) + off);
		if (write ? copy_to_user(hva, buf, n) : copy_from_user(buf, hva, n))
			return -EFAULT;
		/* The dirty log shows what nkvm writes for the guest too. */
		if (write)
			kvm_mark_page_dirty(kvm, slot, gpa >> PAGE_SHIFT);
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int nkvm_read_guest(struct kvm *kvm, gpa_t gpa, void *buf, unsigned long len)
{
	return kvm_guest_copy(kvm, kvm_memslots(kvm), gpa, buf, len, false);
}
EXPORT_SYMBOL_GPL(nkvm_read_guest);

int nkvm_vcpu_read_guest(struct kvm_vcpu *vcpu, gpa_t gpa, void *buf,
			 unsigned long len)
{
	return kvm_guest_copy(vcpu->kvm, kvm_vcpu_memslots(vcpu), gpa, buf,
			      len, false);
}
EXPORT_SYMBOL_GPL(nkvm_vcpu_read_guest);

int nkvm_vcpu_write_guest(struct kvm_vcpu *vcpu, gpa_t gpa, const void *buf,
			  unsigned long len)
{
	return kvm_guest_copy(vcpu->kvm, kvm_vcpu_memslots(vcpu), gpa,
			      (void *)buf, len, true);
}
EXPORT_SYMBOL_GPL(nkvm_vcpu_write_guest);

int nkvm_write_guest(struct kvm *kvm, gpa_t gpa, const void *buf,
		     unsigned long len)
{
	return kvm_guest_copy(kvm, kvm_memslots(kvm), gpa, (void *)buf, len,
			      true);
}
EXPORT_SYMBOL_GPL(nkvm_write_guest);

/* ---- Capabilities ------------------------------------------------------ */

static long kvm_check_extension(struct kvm *kvm, long ext)
{
	switch (ext) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
	case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
	case KVM_CAP_INTERNAL_ERROR_DATA:
	case KVM_CAP_CHECK_EXTENSION_VM:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_BINARY_STATS_FD:
		return 1;
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		return KVM_DIRTY_LOG_MANUAL_CAPS;
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
		return kvm_dirty_ring_cap();
	case KVM_CAP_NR_MEMSLOTS:
		return KVM_USER_MEM_SLOTS;
	case KVM_CAP_MULTI_ADDRESS_SPACE:
		return KVM_ADDRESS_SPACE_NUM;
	case KVM_CAP_NR_VCPUS:
		return min_t(unsigned int, num_online_cpus(), KVM_MAX_VCPUS);
	case KVM_CAP_MAX_VCPUS:
		return KVM_MAX_VCPUS;
	case KVM_CAP_MAX_VCPU_ID:
		return KVM_MAX_VCPU_IDS;
	case KVM_CAP_NKVM:
		return NKVM_ABI_REVISION;
	/* I/O bus, ioeventfd, irqfd, routing: virt/kvm/eventfd.c */
	case KVM_CAP_IOEVENTFD:
	case KVM_CAP_IOEVENTFD_NO_LENGTH:
	case KVM_CAP_IOEVENTFD_ANY_LENGTH:
	case KVM_CAP_IRQFD:
	case KVM_CAP_IRQFD_RESAMPLE:
	case KVM_CAP_SIGNAL_MSI:
	case KVM_CAP_NKVM_IOEVENTFD_DATAREAD:
		return 1;
	case KVM_CAP_IRQ_ROUTING:
		return KVM_MAX_IRQ_ROUTES;
	case KVM_CAP_COALESCED_MMIO:
		return KVM_COALESCED_MMIO_PAGE_OFFSET;
	case KVM_CAP_COALESCED_PIO:
		return 1;
	default:
		return kvm_arch_check_extension(kvm, ext);
	}
}

/* ---- vCPU file --------------------------------------------------------- */

static vm_fault_t kvm_vcpu_fault(struct vm_fault *vmf)
{
	struct kvm_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff == 0)
		page = virt_to_page(vcpu->run);
	else if (vmf->pgoff == KVM_PIO_PAGE_OFFSET)
		page = vcpu->pio_page;
	else if (vmf->pgoff == KVM_COALESCED_MMIO_PAGE_OFFSET)
		page = kvm_coalesced_mmio_page(vcpu->kvm);
	else if (kvm_dirty_ring_pgoff(vcpu->kvm, vmf->pgoff))
		page = kvm_dirty_ring_page(vcpu,
					   vmf->pgoff - KVM_DIRTY_LOG_PAGE_OFFSET);
	else
		page = NULL;
	if (!page)
		return VM_FAULT_SIGBUS;

	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct kvm_vcpu_vm_ops = {
	.fault = kvm_vcpu_fault,
};

static int kvm_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kvm_vcpu *vcpu = file->private_data;
	unsigned long last = vma->vm_pgoff + vma_pages(vma) - 1;

	/* The dirty ring is shared with KVM, and never executable. */
	if ((kvm_dirty_ring_pgoff(vcpu->kvm, vma->vm_pgoff) ||
	     kvm_dirty_ring_pgoff(vcpu->kvm, last)) &&
	    ((vma->vm_flags & VM_EXEC) || !(vma->vm_flags & VM_SHARED)))
		return -EINVAL;
	vma->vm_ops = &kvm_vcpu_vm_ops;
	return 0;
}

static int kvm_vcpu_release(struct inode *inode, struct file *file)
{
	struct kvm_vcpu *vcpu = file->private_data;

	kvm_put_kvm(vcpu->kvm);
	return 0;
}

/*
 * KVM_SET_SIGNAL_MASK: the signal mask the thread runs the guest with (a
 * signal it unblocks ends KVM_RUN with -EINTR, and stays pending for the
 * thread once its own mask is back); NULL: its own mask.
 */
static int kvm_vcpu_set_sigmask(struct kvm_vcpu *vcpu,
				struct kvm_signal_mask __user *argp)
{
	struct kvm_signal_mask m;
	sigset_t set;

	if (!argp) {
		vcpu->sigset_active = false;
		return 0;
	}
	if (copy_from_user(&m, argp, sizeof(m)))
		return -EFAULT;
	if (m.len != sizeof(set))
		return -EINVAL;
	if (copy_from_user(&set, argp->sigset, sizeof(set)))
		return -EFAULT;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	vcpu->sigset = set;
	vcpu->sigset_active = true;
	return 0;
}

/*
 * Inside KVM_RUN the thread runs with the vCPU's mask.  Its own mask is
 * parked in current->real_blocked, as sigtimedwait() does: a signal the
 * thread itself blocks then stays pending for it, instead of killing the
 * whole process at once when it has no handler.
 */
static void kvm_vcpu_sigmask_enter(struct kvm_vcpu *vcpu)
{
	if (vcpu->sigset_active)
		sigprocmask(SIG_SETMASK, &vcpu->sigset, &current->real_blocked);
}

static void kvm_vcpu_sigmask_exit(struct kvm_vcpu *vcpu)
{
	if (!vcpu->sigset_active)
		return;
	sigprocmask(SIG_SETMASK, &current->real_blocked, NULL);
	sigemptyset(&current->real_blocked);
}

static long kvm_vcpu_ioctl(struct file *file, unsigned int ioctl,
			   unsigned long arg)
{
	struct kvm_vcpu *vcpu = file->private_data;
	long r;

	if (vcpu->kvm->mm != current->mm)
		return -EIO;

	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;

	switch (ioctl) {
	case KVM_RUN:
		r = -EINVAL;
		if (arg)
			break;
		kvm_vcpu_sigmask_enter(vcpu);
		kvm_vcpu_load(vcpu);
		vcpu->srcu_idx = srcu_read_lock(&vcpu->kvm->srcu);
		r = kvm_arch_vcpu_run(vcpu);
		srcu_read_unlock(&vcpu->kvm->srcu, vcpu->srcu_idx);
		kvm_vcpu_put(vcpu);
		kvm_vcpu_sigmask_exit(vcpu);
		break;
	case KVM_SET_SIGNAL_MASK:
		r = kvm_vcpu_set_sigmask(vcpu, (void __user *)arg);
		break;
	case KVM_GET_STATS_FD:
		r = kvm_vcpu_ioctl_get_stats_fd(vcpu);
		break;
	default:
		r = kvm_arch_vcpu_ioctl(vcpu, ioctl, arg);
		break;
	}

	mutex_unlock(&vcpu->mutex);
	return r;
}

static int kvm_vm_ioctl_create_vcpu(struct kvm *kvm, unsigned long id)
{
	struct kvm_vcpu *vcpu, *other;
	char name[24];
	unsigned long i;
	u32 idx;
	int r;

	if (id >= (READ_ONCE(kvm->max_vcpu_ids) ?: KVM_MAX_VCPU_IDS))
		return -EINVAL;

	/*
	 * Counted from now on, so that what depends on "no vCPU yet"
	 * (KVM_CREATE_IRQCHIP) cannot race with a creation under way.
	 */
	mutex_lock(&kvm->lock);
	if (kvm->created_vcpus >= KVM_MAX_VCPUS) {
		mutex_unlock(&kvm->lock);
		return -EINVAL;
	}
	kvm->created_vcpus++;
	mutex_unlock(&kvm->lock);

	r = -ENOMEM;
	vcpu = kvzalloc(kvm_arch_vcpu_size(), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		goto out_uncount;
	vcpu->kvm = kvm;
	vcpu->vcpu_id = id;
	kvm_stats_vcpu_init(vcpu);
	vcpu->cpu = -1;
	mutex_init(&vcpu->mutex);
	preempt_notifier_init(&vcpu->preempt_notifier, &kvm_preempt_ops);

	r = -ENOMEM;
	vcpu->run = (struct kvm_run *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vcpu->pio_page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!vcpu->run || !vcpu->pio_page)
		goto out_free;

	r = kvm_dirty_ring_alloc(vcpu);
	if (r)
		goto out_free;

	r = kvm_arch_vcpu_create(vcpu);
	if (r)
		goto out_free;

	mutex_lock(&kvm->lock);
	r = -EINVAL;
	idx = atomic_read(&kvm->nr_vcpus);
	if (idx >= KVM_MAX_VCPUS)
		goto out_unlock;
	r = -EEXIST;
	xa_for_each(&kvm->vcpus, i, other)
		if (other->vcpu_id == id)
			goto out_unlock;

	r = xa_insert(&kvm->vcpus, idx, vcpu, GFP_KERNEL_ACCOUNT);
	if (r)
		goto out_unlock;

	kvm_get_kvm(kvm);
	snprintf(name, sizeof(name), "kvm-vcpu:%lu", id);
	r = anon_inode_getfd(name, &kvm_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (r < 0) {
		xa_erase(&kvm->vcpus, idx);
		refcount_dec(&kvm->users);
		goto out_unlock;
	}
	/* Publish: kvm_for_each_vcpu() readers may now see it. */
	smp_wmb();
	atomic_inc(&kvm->nr_vcpus);
	mutex_unlock(&kvm->lock);
	return r;

out_unlock:
	mutex_unlock(&kvm->lock);
	kvm_arch_vcpu_destroy(vcpu);
out_free:
	kvm_dirty_ring_free(vcpu);
	if (vcpu->pio_page)
		__free_page(vcpu->pio_page);
	free_page((unsigned long)vcpu->run);
	kvfree(vcpu);
out_uncount:
	mutex_lock(&kvm->lock);
	kvm->created_vcpus--;
	mutex_unlock(&kvm->lock);
	return r;
}

/* ---- VM file ----------------------------------------------------------- */

/* The capabilities every architecture has; the others are the arch's. */
static int kvm_vm_ioctl_enable_cap_generic(struct kvm *kvm,
					   struct kvm_enable_cap *cap)
{
	switch (cap->cap) {
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: {
		u64 allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;

		/* The other options only come with manual protection. */
		if (cap->args[0] & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
			allowed = KVM_DIRTY_LOG_MANUAL_CAPS;
		if (cap->flags || (cap->args[0] & ~allowed))
			return -EINVAL;
		WRITE_ONCE(kvm->manual_dirty_log_protect, cap->args[0]);
		return 0;
	}
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
		return kvm_dirty_ring_enable(kvm, cap->args[0]);
	default:
		return -ENOTTY;
	}
}

static int kvm_vm_release(struct inode *inode, struct file *file)
{
	kvm_put_kvm(file->private_data);
	return 0;
}

static long kvm_vm_ioctl(struct file *file, unsigned int ioctl,
			 unsigned long arg)
{
	struct kvm *kvm = file->private_data;
	void __user *argp = (void __user *)arg;

	if (kvm->mm != current->mm)
		return -EIO;

	switch (ioctl) {
	case KVM_CREATE_VCPU:
		return kvm_vm_ioctl_create_vcpu(kvm, arg);
	case KVM_SET_USER_MEMORY_REGION: {
		struct kvm_userspace_memory_region mem;

		if (copy_from_user(&mem, argp, sizeof(mem)))
			return -EFAULT;
		return kvm_set_memory_region(kvm, &mem);
	}
	case KVM_CHECK_EXTENSION:
		return kvm_check_extension(kvm, arg);
	case KVM_GET_STATS_FD:
		return kvm_vm_ioctl_get_stats_fd(kvm);
	case KVM_RESET_DIRTY_RINGS:
		return kvm_dirty_ring_reset_all(kvm);
	case KVM_IOEVENTFD:
	case KVM_IRQFD:
	case KVM_SIGNAL_MSI:
	case KVM_SET_GSI_ROUTING:
		return kvm_eventfd_vm_ioctl(kvm, ioctl, argp);
	case KVM_REGISTER_COALESCED_MMIO:
	case KVM_UNREGISTER_COALESCED_MMIO:
		return kvm_coalesced_mmio_ioctl(kvm, ioctl, argp);
	case KVM_ENABLE_CAP: {
		struct kvm_enable_cap cap;
		int r;

		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		r = kvm_vm_ioctl_enable_cap_generic(kvm, &cap);
		if (r != -ENOTTY)
			return r;
		return kvm_arch_vm_ioctl(kvm, ioctl, arg);
	}
	default:
		return kvm_arch_vm_ioctl(kvm, ioctl, arg);
	}
}

/* ---- /dev/kvm ---------------------------------------------------------- */

static int kvm_dev_ioctl_create_vm(unsigned long type)
{
	struct kvm *kvm;
	int fd;

	kvm = kvm_create_vm(type);
	if (IS_ERR(kvm))
		return PTR_ERR(kvm);

	fd = anon_inode_getfd("kvm-vm", &kvm_vm_fops, kvm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		kvm_put_kvm(kvm);
	return fd;
}

static long kvm_dev_ioctl(struct file *file, unsigned int ioctl,
			  unsigned long arg)
{
	switch (ioctl) {
	case KVM_GET_API_VERSION:
		return arg ? -EINVAL : KVM_API_VERSION;
	case KVM_CREATE_VM:
		return kvm_dev_ioctl_create_vm(arg);
	case KVM_CHECK_EXTENSION:
		return kvm_check_extension(NULL, arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		if (arg)
			return -EINVAL;
		/* kvm_run, the PIO data page, the coalesced MMIO ring */
		return (KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * PAGE_SIZE;
	default:
		return kvm_arch_dev_ioctl(ioctl, arg);
	}
}

static struct file_operations kvm_chardev_fops = {
	.unlocked_ioctl = kvm_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct file_operations kvm_vm_fops = {
	.release = kvm_vm_release,
	.unlocked_ioctl = kvm_vm_ioctl,
	.llseek = noop_llseek,
};

/* Is @file a VM's fd?  Then its private_data is the VM. */
bool kvm_file_is_vm(struct file *file)
{
	return file && file->f_op == &kvm_vm_fops;
}

static struct file_operations kvm_vcpu_fops = {
	.release = kvm_vcpu_release,
	.unlocked_ioctl = kvm_vcpu_ioctl,
	.mmap = kvm_vcpu_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice kvm_dev = {
	.minor = KVM_MINOR,
	.name = "kvm",
	.fops = &kvm_chardev_fops,
};

/* ---- Backend registration ---------------------------------------------- */

/*
 * Called by arch code when a backend registers: enable virtualization on
 * every CPU (and on CPUs that come online later), then open /dev/kvm.
 */
int nkvm_core_init(struct module *owner)
{
	int r;

	r = kvm_stats_init(owner);
	if (r)
		return r;
	kvm_chardev_fops.owner = owner;
	kvm_vm_fops.owner = owner;
	kvm_vcpu_fops.owner = owner;
	WRITE_ONCE(nkvm_rebooting, false);

	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "kvm/nkvm:online",
			      kvm_cpu_online, kvm_cpu_offline);
	if (r < 0)
		return r;
	kvm_cpuhp_state = r;

	register_reboot_notifier(&kvm_reboot_nb);
	kvm_register_syscore();
	/*
	 * Enable preempt notifiers once for the module's lifetime rather than
	 * per VM: flipping the static key on every VM create/destroy is costly.
	 */
	preempt_notifier_inc();

	r = misc_register(&kvm_dev);
	if (r) {
		pr_err("cannot register /dev/kvm (misc minor %d): %d%s\n",
		       KVM_MINOR, r, r == -EBUSY ? ", another hypervisor owns it" : "");
		nkvm_core_exit();
		return r;
	}
	kvm_dev_registered = true;
	return 0;
}
EXPORT_SYMBOL_GPL(nkvm_core_init);

void nkvm_core_exit(void)
{
	if (kvm_cpuhp_state < 0)
		return;
	if (kvm_dev_registered)
		misc_deregister(&kvm_dev);
	kvm_dev_registered = false;
	preempt_notifier_dec();
	kvm_unregister_syscore();
	unregister_reboot_notifier(&kvm_reboot_nb);
	cpuhp_remove_state(kvm_cpuhp_state);
	kvm_cpuhp_state = -1;
}
EXPORT_SYMBOL_GPL(nkvm_core_exit);

static int __init kvm_module_init(void)
{
	int r = kvm_eventfd_module_init();

	if (r)
		return r;
	r = kvm_arch_init();
	if (r)
		kvm_eventfd_module_exit();
	return r;
}

static void __exit kvm_module_exit(void)
{
	kvm_arch_exit();
	kvm_eventfd_module_exit();
}

module_init(kvm_module_init);
module_exit(kvm_module_exit);
