/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the guest page-table walker (pure logic).
 *
 * Translates a guest linear address to a guest-physical address through the
 * guest's own page tables, in every paging mode: none, 32-bit (two levels,
 * 4 MiB pages with CR4.PSE), PAE (three levels), 4-level and 5-level
 * (CR4.LA57) long mode.  It checks permissions (U/S, R/W with CR0.WP, NX
 * with EFER.NXE, SMEP, SMAP with RFLAGS.AC, protection keys with CR4.PKE),
 * reserved bits, and sets the accessed and dirty bits of a successful
 * translation with a compare-and-exchange on guest memory.  A failed
 * translation yields the #PF the guest should see.
 *
 * The walker reads guest-physical memory only through the callbacks of
 * struct x86_walk_env, so it builds both in the kernel and in userspace
 * (NKVM_USERSPACE, tools/testing/unit/test_walk.c).
 *
 * Usage (the emulator's fetch/read/write callbacks, KVM_TRANSLATE):
 *
 *	struct x86_walk_env env = {
 *		.cr0 = sregs.cr0, .cr3 = sregs.cr3, .cr4 = sregs.cr4,
 *		.efer = sregs.efer, .maxphyaddr = 48, .gbpages = true,
 *		.amd = true, .opaque = vcpu,
 *		.read_pte = my_read_gpa, .cmpxchg_pte = my_cmpxchg_gpa,
 *	};
 *	struct x86_walk_result res;
 *	struct x86_exception ex;
 *
 *	switch (x86_walk(&env, la, PFERR_WRITE_MASK | PFERR_USER_MASK,
 *			 &res, &ex)) {
 *	case X86_WALK_OK:	use res.gpa
 *	case X86_WALK_FAULT:	inject ex (a #PF, ex.address is CR2)
 *	case X86_WALK_ERROR:	a paging structure is not in guest RAM
 *	case X86_WALK_RETRY:	the tables kept changing under the walk
 *	}
 */
#ifndef _NKVM_X86_WALK_H
#define _NKVM_X86_WALK_H

#ifndef NKVM_USERSPACE
#include <linux/types.h>
#include <linux/bits.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include <asm/trapnr.h>
#else
#include "unit_compat.h"
#endif

/*
 * For a large local that the code writes before it reads: spares it the
 * zeroing that the kernel's CONFIG_INIT_STACK_ALL_ZERO gives every local
 * (the emulator's and the walker's per-call state, on every MMIO exit).
 */
#if defined(__has_attribute)
#if __has_attribute(__uninitialized__)
#define X86_NOINIT	__attribute__((__uninitialized__))
#endif
#endif
#ifndef X86_NOINIT
#define X86_NOINIT
#endif

/*
 * An exception for the caller to inject into the guest.  error_code is
 * meaningful only with has_error_code; address is CR2 for a #PF.
 */
struct x86_exception {
	u8 vector;
	bool has_error_code;
	u32 error_code;
	u64 address;
};

/*
 * #PF error-code bits.  The low bits also describe an access to x86_walk():
 * PFERR_WRITE_MASK for a write, PFERR_USER_MASK for an access made at CPL 3
 * (not an implicit supervisor access), PFERR_FETCH_MASK for an instruction
 * fetch.  The X86_WALK_* bits are walker options, never in an error code.
 */
#define PFERR_PRESENT_MASK	BIT(0)
#define PFERR_WRITE_MASK	BIT(1)
#define PFERR_USER_MASK		BIT(2)
#define PFERR_RSVD_MASK		BIT(3)
#define PFERR_FETCH_MASK	BIT(4)
#define PFERR_PK_MASK		BIT(5)

/* A supervisor access that SMAP allows on user pages (RFLAGS.AC set). */
#define X86_WALK_AC		BIT(28)
/* An implicit supervisor access (e.g. the TSS): SMAP ignores RFLAGS.AC. */
#define X86_WALK_IMPLICIT	BIT(29)
/* Leave the accessed and dirty bits alone (a probe, not an access). */
#define X86_WALK_NO_AD		BIT(30)

/*
 * The guest's paging state and access to its physical memory.
 *
 * read_pte reads the size-byte (4 or 8) entry at guest-physical gpa into
 * *pte (zero-extended); it returns 0, or non-zero if gpa is not guest RAM.
 * cmpxchg_pte atomically replaces the entry at gpa by new if it still
 * holds old: it returns 0 if it did, 1 if the entry held something else
 * (the walker then walks again), another value if gpa is not guest RAM.
 *
 * maxphyaddr is the guest's physical-address width (CPUID 0x80000008
 * EAX[7:0]; 0 means 52): entry bits from there up to 51 are reserved.
 * gbpages: 1 GiB pages exist (CPUID 0x80000001 EDX[26]); without them the
 * PS bit of a long-mode PDPTE is reserved.  amd: bit 8 of PML4Es and PML5Es
 * is reserved, as on AMD processors.  pkru is used only with CR4.PKE.
 */
struct x86_walk_env {
	u64 cr0, cr3, cr4, efer;
	u32 pkru;
	u8 maxphyaddr;
	bool gbpages;
	bool amd;
	void *opaque;
	int (*read_pte)(void *opaque, u64 gpa, u64 *pte, unsigned int size);
	int (*cmpxchg_pte)(void *opaque, u64 gpa, u64 old, u64 new,
			   unsigned int size);
};

/*
 * A successful translation: the guest-physical address, the size of the
 * page that maps it (4 KiB, 2 MiB, 4 MiB or 1 GiB; the whole linear space
 * without paging), and what the mapping allows at every level combined.
 */
struct x86_walk_result {
	u64 gpa;
	u64 page_size;
	bool writable;		/* R/W set at every level */
	bool user;		/* U/S set at every level */
	bool nx;		/* execute-disable at some level (with NXE) */
};

enum x86_walk_status {
	X86_WALK_OK,
	X86_WALK_FAULT,		/* *fault holds the #PF to inject */
	X86_WALK_ERROR,		/* a paging structure is not in guest RAM */
	X86_WALK_RETRY,		/* the A/D updates kept losing races */
};

/*
 * Translate linear address la for an access of type access (PFERR_* and
 * X86_WALK_* bits).  la must already be a canonical address of the current
 * mode (a 32-bit one outside long mode): canonical and segment checks are
 * the caller's.  Without paging (CR0.PG clear) the result is la itself.
 */
enum x86_walk_status x86_walk(const struct x86_walk_env *env, u64 la,
			      u32 access, struct x86_walk_result *res,
			      struct x86_exception *fault);

#endif /* _NKVM_X86_WALK_H */
