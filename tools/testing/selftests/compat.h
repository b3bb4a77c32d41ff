/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compat.h - forced include (-include) for building Debian's linux-source-6.1
 * KVM selftests as nkvm's conformance suite.  build-kvm-selftests.sh passes
 * it in EXTRA_CFLAGS; it is seen first by every C and assembler file.
 *
 * Debian's 6.1 tree has two problems that this file works around, without
 * touching the tree itself:
 *
 *  - the installed uapi <asm/kvm.h> uses __DECLARE_FLEX_ARRAY() but does not
 *    include <linux/stddef.h>, which defines it;
 *  - dirty_log_test.c, backported from a newer kernel, uses TEST_ASSERT_EQ(),
 *    which 6.1's test_util.h does not have.  The build script defines
 *    NKVM_COMPAT_TEST_ASSERT_EQ only when test_util.h lacks it, so a tree that
 *    gets its own definition later does not see a second one.
 */
#ifndef NKVM_SELFTESTS_COMPAT_H
#define NKVM_SELFTESTS_COMPAT_H

#ifndef __ASSEMBLY__

#include <linux/stddef.h>

#ifdef NKVM_COMPAT_TEST_ASSERT_EQ
/*
 * Both sides are evaluated once, compared as written and, on a mismatch,
 * printed as 64-bit hexadecimal numbers with their source text.
 * TEST_ASSERT() comes from test_util.h, which the tests include after this.
 */
#define TEST_ASSERT_EQ(left, right)					\
do {									\
	__typeof__(left) nkvm_eq_l = (left);				\
	__typeof__(right) nkvm_eq_r = (right);				\
									\
	TEST_ASSERT(nkvm_eq_l == nkvm_eq_r,				\
		    "%s == %s failed: %#llx != %#llx", #left, #right,	\
		    (unsigned long long)nkvm_eq_l,			\
		    (unsigned long long)nkvm_eq_r);			\
} while (0)
#endif

#endif /* !__ASSEMBLY__ */

#endif /* NKVM_SELFTESTS_COMPAT_H */
