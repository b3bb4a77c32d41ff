/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * boot_common.h - what the programs that boot Linux on /dev/kvm share:
 * test_qemu_boot (tools/testing/qemu, Debian's QEMU) and test_vmm_boot
 * (tools/vmm, our VMM).
 *
 * The guest kernel to boot, whether /dev/kvm is nkvm's, whether the
 * reference (Linux KVM in the nested bed) hangs guests at random, a newc
 * cpio entry for the guest's initramfs, and a child run with its output
 * captured and a deadline:
 *
 *	run_spawn(&r, child_fn, arg);		fork; child_fn(arg) in the child,
 *						its stdout and stderr on a pipe
 *	if (run_read(&r, timeout, MARKER, NULL) < 0)
 *		TH_LOG("... did not end ...");	the deadline passed
 *	run_end(&r);				killed if it timed out; reaped
 *	...
 *	free(r.out);
 *
 * Helpers end the current test on failure (ASSERT semantics, harness.h).
 */
#ifndef NKVM_BOOT_COMMON_H
#define NKVM_BOOT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* The most output a run keeps; the rest is read and dropped. */
#define RUN_OUT_MAX	(1 << 20)

/* CLOCK_MONOTONIC in seconds. */
double boot_now(void);

/*
 * The guest kernel: $env if set, else the host's own
 * /boot/vmlinuz-$(uname -r) (the test bed puts the kernel it boots
 * there) if readable; NULL otherwise.
 */
const char *boot_guest_kernel(const char *env);

/* Does /dev/kvm belong to nkvm? */
bool boot_kvm_is_nkvm(void);

/*
 * Linux KVM in the nested bed with more than one CPU hangs guests at
 * random: true there, unless $all_env is "1".
 */
bool boot_reference_is_flaky(const char *all_env);

/*
 * One newc cpio entry to f: its header, name and data, each padded to 4
 * bytes.  Inode numbers count from 1 in each process.  0 or -1.
 */
int boot_cpio_add(FILE *f, const char *name, unsigned int mode,
		  unsigned int rmaj, unsigned int rmin,
		  const void *data, size_t size);

struct run_result {
	int status;		/* the child's exit status, -1 if killed */
	char *out;		/* its output, NUL-terminated */
	size_t len;
	double marker_at;	/* seconds from start to the marker, or -1 */
	double total;
	int timed_out;
	/* The run in progress. */
	double start;
	pid_t pid;
	int fd;			/* the read end of the child's output */
};

/*
 * Fork; in the child, with stdout and stderr on a pipe, call child(arg),
 * which must not return (if it does, the child exits 127).
 */
void run_spawn(struct run_result *r, void (*child)(void *arg), void *arg);

/*
 * Read the child's output into r->out until it ends (0), until the
 * output shows until (1, when until is not NULL) or until timeout seconds
 * from the spawn have passed (-1, r->timed_out set).  r->marker_at is
 * when marker first showed.
 */
int run_read(struct run_result *r, int timeout, const char *marker,
	     const char *until);

/* Kill the child if it timed out, reap it, note its status and time. */
void run_end(struct run_result *r);

/*
 * The output as "#   | " lines, each cut at a CR; tidy also cuts at an
 * ESC and drops the empty lines (a firmware's terminal noise).
 */
void show_output(const struct run_result *r, bool tidy);

#endif /* NKVM_BOOT_COMMON_H */
