# SPDX-License-Identifier: GPL-2.0-only
#
# nkvm top-level Makefile.
#
#   make            build kvm.ko and kvm-amd.ko against KDIR
#   make check      install what is missing, build, run unit tests and the bed
#   make check-vmx  the VMX bed (Bochs, slow): Debian's kvm-intel, then nkvm's
#                   (test programs and a set of the kernel's KVM selftests)
#   make bench-vmx  the benchmarks in the VMX bed
#   make demo       boot the bed, load nkvm, boot Linux with tools/vmm
#   make bench      nkvm vs Debian's KVM, one bed boot: table, CSV, chart
#   make stress     the long runs in the bed: the ioctl fuzzer for a million
#                   calls, 1000 module load/unload cycles, ten minutes of
#                   multi-VM stress, the isolation tests with slab poisoning
#   make selftests  the kernel's KVM selftests in the bed, Linux KVM and nkvm
#   make C=1 W=1    with sparse and extra warnings
#
# KDIR defaults to the running kernel's build directory when it exists, else
# the newest Debian linux-headers-*-amd64 6.1 tree.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		    $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64))))
TOP := $(CURDIR)
BUILD := $(TOP)/tools/testing/build

# Modules for the test bed are built against the headers of the kernel it
# boots (recursive: evaluated after the deps are installed).
BED_KDIR = /usr/src/linux-headers-$(shell tools/testing/bed/bed-kernel.sh)

.PHONY: all modules clean deps tools unit bed check demo bench stress \
	selftests selftests-build fuzz check-vmx bench-vmx \
	print-vmx-tests print-vmx-ksft

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no kernel headers: run scripts/install-deps.sh" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP) modules

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(TOP) clean; fi
	rm -rf $(BUILD)
	$(MAKE) -C tools/testing/unit clean

deps:
	@scripts/install-deps.sh

tools:
	$(MAKE) -C tools/testing/nkvm O=$(BUILD)
	$(MAKE) -C tools/testing/fuzz O=$(BUILD)
	$(MAKE) -C tools/demo O=$(BUILD)
	$(MAKE) -C tools/vmm O=$(BUILD)
	$(MAKE) -C tools/testing/qemu O=$(BUILD)

unit:
	$(MAKE) -C tools/testing/unit run

bed: tools
	$(MAKE) KDIR=$(BED_KDIR) modules
	tools/testing/bed/run-bed.sh --mode nkvm

check: deps
	@scripts/check.sh

demo: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	@tools/demo/run-demo.sh $(BUILD)

# The long runs (scripts/stress.sh), each in its own boot of the bed: the
# fuzzer for a million calls on nkvm (STRESS_MODE=both or linux for the
# reference): STRESS_PASSES passes with seeds STRESS_SEED, STRESS_SEED+1,
# ... (default: from the clock, printed), every other one single-threaded,
# then the leak check; STRESS_CYCLES module load/unload cycles with VMs in
# between and STRESS_SECONDS of the multi-VM stress, on nkvm
# (STRESS_TESTS_MODE=both also runs them under Linux KVM first: over an
# hour more); the isolation tests with slab poisoning.
# STRESS_PARTS="fuzz cycles poison" picks the parts.
STRESS_CALLS ?= 1000000
STRESS_PASSES ?= 10
STRESS_SEED ?= time
STRESS_MODE ?= nkvm
STRESS_TIMEOUT ?= 7200
STRESS_CYCLES ?= 1000
STRESS_SECONDS ?= 600
STRESS_TESTS_MODE ?= nkvm
STRESS_PARTS ?= fuzz cycles poison
export STRESS_CALLS STRESS_PASSES STRESS_SEED STRESS_MODE STRESS_TIMEOUT \
	STRESS_CYCLES STRESS_SECONDS STRESS_TESTS_MODE STRESS_PARTS

# The short fuzz pass with its leak check, under both KVMs, on its own (make
# check runs it with the other tests).
fuzz: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	tools/testing/bed/run-bed.sh --mode both --smp 2 --tests test_fuzz

stress: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	@scripts/stress.sh

# The kernel's own KVM selftests (tools/testing/selftests/): built once
# from Debian's linux-source-6.1 into a cache outside the tree, then all of
# kvm-x86.list run under Debian's KVM and nkvm in one boot.  More bed
# options (e.g. --kvm-selftests-only "cpuid_test", --kvm-selftests-trace):
#   make selftests KSFT_ARGS="..."
KSFT_ARGS ?=

selftests-build:
	@tools/testing/selftests/build-kvm-selftests.sh

selftests: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@dir=$$(tools/testing/selftests/build-kvm-selftests.sh --print-dir) || exit 1; \
	tools/testing/bed/run-bed.sh --mode both --smp 2 --tests "" \
		--kvm-selftests "$$dir" --kvm-selftests-slow $(KSFT_ARGS)

# The benchmarks, Debian's KVM then nkvm in one boot of the SVM bed (one
# CPU, BENCH_MEM of memory for the 4 GiB slot), then the table (text and
# CSV) and the chart of the ratios in BENCH_OUT.  Not part of make check.
# The bed's clock counts instructions (run-bed.sh --icount) so that the
# host's load does not change the figures; BENCH_ICOUNT=0 measures wall
# time instead (noisy on a shared machine).
BENCH_OUT ?= $(BUILD)/bench
BENCH_MEM ?= 6G
BENCH_ICOUNT ?= 1
BENCH_ARGS ?=

bench: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	@mkdir -p $(BENCH_OUT)
	install -m 755 tools/testing/bench/bench_vmm_boot.sh $(BUILD)/bench_vmm_boot
	@rc=0; tools/testing/bed/run-bed.sh --mode both --bench --mem $(BENCH_MEM) \
		$(if $(filter 1,$(BENCH_ICOUNT)),--icount) \
		--timeout 900 --files "$(BUILD)/test_vmm_boot" \
		--bench-out $(BENCH_OUT)/lines $(BENCH_ARGS) || rc=$$?; \
	echo; tools/testing/bench/report.sh $(BENCH_OUT)/lines $(BENCH_OUT) || rc=1; \
	echo "bench: results in $(BENCH_OUT)"; exit $$rc

# The vendor-neutral guest tests that make the VMX smoke set (one Bochs boot
# runs them under Debian's kvm-intel, then under nkvm's): those Debian's
# kvm-intel passes there.  Left out: test_run, test_fpu, test_irqchip,
# test_stats and test_vcpu_hang hang the bed under Debian's kvm-intel (the
# host stops taking interrupts while a guest spins: the open vCPU hang of
# testing.rst), test_msr and test_debug fail under it (VMX MSRs listed but
# not readable; a single step reported at the wrong RIP), test_pv fails
# under it (a real-mode VMMCALL, the other vendor's hypercall, raises #UD
# there instead of being patched: Linux's emulator takes VMMCALL in
# protected mode only).
VMX_TESTS ?= test_io test_hlt test_shutdown test_memory test_modes test_mmio \
	     test_cpuid test_events test_badstate test_lifecycle test_system test_pmu \
	     test_quirks test_cr0_cd test_kvmclock test_state test_caps

# And the kernel's KVM selftests that run there (the others hang the bed or
# need nested VMX, which Debian's kvm-intel offers and nkvm does not).
VMX_KSFT ?= cpuid_test cr4_cpuid_sync_test get_msr_index_features \
	    emulator_error_test platform_info_test set_sregs_test sync_regs_test \
	    xapic_state_test xss_msr_test tsc_msrs_test kvm_create_max_vcpus \
	    kvm_binary_stats_test mmio_warning_test set_boot_cpu_id \
	    max_vcpuid_cap_test fix_hypercall_test kvm_pv_test monitor_mwait_test

# scripts/check.sh runs the same set.
print-vmx-tests:
	@echo $(VMX_TESTS)

print-vmx-ksft:
	@echo $(VMX_KSFT)

check-vmx: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	@dir=$$(tools/testing/selftests/build-kvm-selftests.sh --print-dir) || exit 1; \
	tools/testing/bed/run-bochs-bed.sh --mode both --mem 2G --tests "$(VMX_TESTS)" \
		--kvm-selftests "$$dir" --kvm-selftests-only "$(VMX_KSFT)"

bench-vmx: deps
	@$(MAKE) --no-print-directory KDIR=$(BED_KDIR) modules
	@$(MAKE) --no-print-directory tools
	tools/testing/bed/run-bochs-bed.sh --mode both --bench --tests bench_pio

endif
