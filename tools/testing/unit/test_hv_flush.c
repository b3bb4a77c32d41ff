// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the Hyper-V guest-mapping flush tracker
 * (arch/x86/kvm/hyperv_flush.c), against a mocked hypercall: how many
 * hypercalls a flush makes, which roots they name, when the common root
 * becomes INVALID and valid again, and the fallback on a failed hypercall.
 */
#include "../nkvm/harness.h"
#include "hyperv_flush.h"

#define MAX_VCPUS	8
#define MAX_CALLS	64

/* A VM: its vCPUs' roots, as the tracker sees them. */
struct mock_vm {
	struct hv_flush_tracker t;
	u64 root[MAX_VCPUS];
	unsigned int nr;
	/* The mocked hypercall's log and behaviour. */
	u64 flushed[MAX_CALLS];
	unsigned int calls;
	int fail_at;		/* fail the call with this number (1-based) */
	int fail_err;
};

static int mock_flush(void *ctx, u64 root)
{
	struct mock_vm *vm = ctx;

	if (vm->calls < MAX_CALLS)
		vm->flushed[vm->calls] = root;
	vm->calls++;
	if (vm->fail_at && (int)vm->calls == vm->fail_at)
		return vm->fail_err;
	return 0;
}

static u64 mock_root_of(void *ctx, unsigned int i)
{
	return ((struct mock_vm *)ctx)->root[i];
}

static void vm_init(struct mock_vm *vm, unsigned int nr)
{
	memset(vm, 0, sizeof(*vm));
	vm->nr = nr;
	vm->fail_err = -5;
	nkvm_hv_flush_init(&vm->t, mock_flush, vm);
}

static void load(struct mock_vm *vm, unsigned int vcpu, u64 root)
{
	nkvm_hv_flush_root_loaded(&vm->t, &vm->root[vcpu], root);
}

static int flush(struct mock_vm *vm)
{
	vm->calls = 0;
	return nkvm_hv_flush_remote(&vm->t, vm, mock_root_of, vm->nr);
}

/* Was @root flushed in the last pass, and how often? */
static unsigned int times_flushed(struct mock_vm *vm, u64 root)
{
	unsigned int i, n = 0;

	for (i = 0; i < vm->calls && i < MAX_CALLS; i++)
		n += vm->flushed[i] == root;
	return n;
}

TEST(no_root_loaded_flushes_nothing)
{
	struct mock_vm vm;

	vm_init(&vm, 4);
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_NONE);
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 0);
}

TEST(first_root_becomes_common)
{
	struct mock_vm vm;

	vm_init(&vm, 4);
	load(&vm, 2, 0x1000);
	ASSERT_EQ(vm.t.common_root, 0x1000);
}

TEST(same_root_on_every_vcpu_is_one_hypercall)
{
	struct mock_vm vm;
	unsigned int i;

	vm_init(&vm, 4);
	for (i = 0; i < 4; i++)
		load(&vm, i, 0x5000);
	ASSERT_EQ(vm.t.common_root, 0x5000);
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 1);
	ASSERT_EQ(vm.flushed[0], 0x5000);
}

TEST(loading_the_same_root_again_changes_nothing)
{
	struct mock_vm vm;

	vm_init(&vm, 2);
	load(&vm, 0, 0x5000);
	load(&vm, 1, 0x5000);
	load(&vm, 0, 0x5000);
	load(&vm, 1, 0x5000);
	ASSERT_EQ(vm.t.common_root, 0x5000);
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 1);
}

TEST(different_root_invalidates)
{
	struct mock_vm vm;

	vm_init(&vm, 2);
	load(&vm, 0, 0x5000);
	load(&vm, 1, 0x6000);
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
	/* Even when every vCPU then agrees again, until a flush recomputes. */
	load(&vm, 1, 0x5000);
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
}

TEST(invalid_flushes_each_distinct_root_once)
{
	struct mock_vm vm;

	vm_init(&vm, 6);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xb000);
	load(&vm, 2, 0xa000);
	load(&vm, 3, 0xc000);
	load(&vm, 4, 0xb000);
	/* vCPU 5 has no root: skipped. */
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 3);
	ASSERT_EQ(times_flushed(&vm, 0xa000), 1);
	ASSERT_EQ(times_flushed(&vm, 0xb000), 1);
	ASSERT_EQ(times_flushed(&vm, 0xc000), 1);
	/* In vCPU order. */
	ASSERT_EQ(vm.flushed[0], 0xa000);
	ASSERT_EQ(vm.flushed[1], 0xb000);
	ASSERT_EQ(vm.flushed[2], 0xc000);
	/* Still different: stays INVALID. */
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
}

TEST(invalid_flush_recomputes_a_common_root)
{
	struct mock_vm vm;
	unsigned int i;

	vm_init(&vm, 3);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xb000);
	load(&vm, 1, 0xa000);
	load(&vm, 2, 0xa000);
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
	/* Every vCPU is on 0xa000 now: one hypercall, and it is common. */
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 1);
	ASSERT_EQ(vm.flushed[0], 0xa000);
	ASSERT_EQ(vm.t.common_root, 0xa000);
	/* So the next flush is a single hypercall without a pass. */
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 1);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(vm.root[i], 0xa000);
}

TEST(invalid_flush_with_no_roots_left_resets_to_none)
{
	struct mock_vm vm;

	vm_init(&vm, 2);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xb000);
	load(&vm, 0, HV_FLUSH_ROOT_NONE);
	load(&vm, 1, HV_FLUSH_ROOT_NONE);
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 0);
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_NONE);
	/* The next root loaded is common again. */
	load(&vm, 1, 0xc000);
	ASSERT_EQ(vm.t.common_root, 0xc000);
}

TEST(vcpu_without_root_does_not_invalidate)
{
	struct mock_vm vm;

	vm_init(&vm, 3);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xa000);
	load(&vm, 1, HV_FLUSH_ROOT_NONE);	/* its root was zapped */
	ASSERT_EQ(vm.t.common_root, 0xa000);
	load(&vm, 1, 0xa000);
	ASSERT_EQ(vm.t.common_root, 0xa000);
}

TEST(failed_hypercall_with_common_root_falls_back)
{
	struct mock_vm vm;

	vm_init(&vm, 2);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xa000);
	vm.fail_at = 1;
	ASSERT_EQ(flush(&vm), -5);
	ASSERT_EQ(vm.calls, 1);
	/* The tracking itself is still right. */
	ASSERT_EQ(vm.t.common_root, 0xa000);
}

TEST(failed_hypercall_in_a_pass_stops_and_stays_invalid)
{
	struct mock_vm vm;

	vm_init(&vm, 4);
	load(&vm, 0, 0xa000);
	load(&vm, 1, 0xb000);
	load(&vm, 2, 0xc000);
	load(&vm, 3, 0xd000);
	vm.fail_at = 2;
	ASSERT_EQ(flush(&vm), -5);
	ASSERT_EQ(vm.calls, 2);		/* no hypercall after the failure */
	ASSERT_EQ(vm.t.common_root, HV_FLUSH_ROOT_INVALID);
	/* The next flush does the whole pass again. */
	vm.fail_at = 0;
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 4);
}

TEST(many_vcpus_one_distinct_root_each_pass)
{
	struct mock_vm vm;
	unsigned int i;

	vm_init(&vm, MAX_VCPUS);
	for (i = 0; i < MAX_VCPUS; i++)
		load(&vm, i, 0x1000 * (1 + i % 3));
	ASSERT_EQ(flush(&vm), 0);
	ASSERT_EQ(vm.calls, 3);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(times_flushed(&vm, 0x1000 * (1 + i)), 1);
}

TEST_HARNESS_MAIN
