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

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef u64 gfn_t;
typedef u64 gpa_t;

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

static inline void kvfree(const void *p)
{
	free((void *)p);
}

#endif
