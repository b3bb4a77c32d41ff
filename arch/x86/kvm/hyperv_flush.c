// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the common-root tracker of Hyper-V's guest-mapping flush (see
 * hyperv_flush.h).  Pure logic: no locks, no allocation, no hypercall of
 * its own.
 */
#ifndef NKVM_USERSPACE
#include <linux/export.h>
#endif

#include "hyperv_flush.h"

static bool hv_root_valid(u64 root)
{
	return root != HV_FLUSH_ROOT_NONE && root != HV_FLUSH_ROOT_INVALID;
}

void nkvm_hv_flush_init(struct hv_flush_tracker *t, hv_flush_root_fn flush,
		   void *ctx)
{
	t->common_root = HV_FLUSH_ROOT_NONE;
	t->flush = flush;
	t->ctx = ctx;
}

void nkvm_hv_flush_root_loaded(struct hv_flush_tracker *t, u64 *vcpu_root, u64 root)
{
	if (*vcpu_root == root)
		return;
	*vcpu_root = root;
	if (!hv_root_valid(root))
		return;
	/* The first root loaded in the VM is common to all vCPUs so far. */
	if (t->common_root == HV_FLUSH_ROOT_NONE)
		t->common_root = root;
	else if (t->common_root != root)
		t->common_root = HV_FLUSH_ROOT_INVALID;
}

/* Was @root, of vCPU @i, already seen among vCPUs 0..i-1 of this pass? */
static bool hv_root_seen(void *vm, hv_vcpu_root_fn root_of, unsigned int i,
			 u64 root)
{
	unsigned int j;

	for (j = 0; j < i; j++)
		if (root_of(vm, j) == root)
			return true;
	return false;
}

int nkvm_hv_flush_remote(struct hv_flush_tracker *t, void *vm,
		    hv_vcpu_root_fn root_of, unsigned int nr)
{
	u64 common = HV_FLUSH_ROOT_NONE;
	unsigned int i;
	int r;

	if (hv_root_valid(t->common_root))
		return t->flush(t->ctx, t->common_root);
	if (t->common_root == HV_FLUSH_ROOT_NONE)
		return 0;	/* no vCPU has a root: nothing is cached */

	for (i = 0; i < nr; i++) {
		u64 root = root_of(vm, i);

		if (!hv_root_valid(root))
			continue;
		/* The common root, recomputed as the vCPUs are visited. */
		if (common == HV_FLUSH_ROOT_NONE)
			common = root;
		else if (common != root)
			common = HV_FLUSH_ROOT_INVALID;
		if (hv_root_seen(vm, root_of, i, root))
			continue;
		r = t->flush(t->ctx, root);
		if (r)
			return r;	/* stays INVALID: the caller flushes all */
	}
	t->common_root = common;
	return 0;
}

#ifndef NKVM_USERSPACE
EXPORT_SYMBOL_GPL(nkvm_hv_flush_init);
EXPORT_SYMBOL_GPL(nkvm_hv_flush_root_loaded);
EXPORT_SYMBOL_GPL(nkvm_hv_flush_remote);
#endif
