/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Just enough of the kernel's environment for nkvm's pure-logic files
 * (built with NKVM_USERSPACE) to compile and run as userspace unit tests.
 */
#ifndef NKVM_UNIT_COMPAT_H
#define NKVM_UNIT_COMPAT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <asm/processor-flags.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 gfn_t;
typedef u64 gpa_t;

#define BIT(n)			(1UL << (n))
#define BIT_ULL(n)		(1ULL << (n))
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define fallthrough		__attribute__((__fallthrough__))

/* asm/msr-index.h */
#define EFER_SCE		BIT_ULL(0)
#define EFER_LME		BIT_ULL(8)
#define EFER_LMA		BIT_ULL(10)
#define EFER_NX			BIT_ULL(11)

/* asm/trapnr.h */
#define X86_TRAP_DE		0
#define X86_TRAP_DB		1
#define X86_TRAP_UD		6
#define X86_TRAP_GP		13
#define X86_TRAP_SS		12
#define X86_TRAP_PF		14
#define X86_TRAP_AC		17

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define GFP_KERNEL_ACCOUNT	0

#define struct_size(p, member, n) \
	(sizeof(*(p)) + (size_t)(n) * sizeof((p)->member[0]))

static inline void *kvzalloc(size_t size, int gfp)
{
	(void)gfp;
	return calloc(1, size);
}

#ifndef min
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#endif

static inline void *kvmalloc(size_t size, int gfp)
{
	(void)gfp;
	return malloc(size);
}

static inline void kvfree(const void *p)
{
	free((void *)p);
}

/*
 * Tests may make the nth kmalloc() from now on fail (0: never), and count
 * the objects from kmalloc() and kzalloc() not yet given to kfree().
 */
__attribute__((weak)) int unit_alloc_fail_in;
__attribute__((weak)) long unit_alloc_live;

static inline void *kmalloc(size_t size, int gfp)
{
	void *p;

	(void)gfp;
	if (unit_alloc_fail_in && !--unit_alloc_fail_in)
		return NULL;
	p = malloc(size);
	unit_alloc_live += !!p;
	return p;
}

static inline void *kzalloc(size_t size, int gfp)
{
	void *p = kmalloc(size, gfp);

	if (p)
		memset(p, 0, size);
	return p;
}

static inline void kfree(const void *p)
{
	unit_alloc_live -= !!p;
	free((void *)p);
}

/* ---- For the irqchip models (lapic.c, ioapic.c, i8259.c, i8254.c, irq.c) */
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))
#define __aligned(n)		__attribute__((aligned(n)))

#endif
