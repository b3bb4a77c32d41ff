/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the VMX instructions, as C helpers.
 *
 * Every VMX instruction faults (#UD) once VMX has been turned off under a
 * running vCPU (emergency reboot, see nkvm_rebooting): the faults are fixed
 * up and reported as failures, never as host oopses.  VMfailInvalid and
 * VMfailValid (CF or ZF set) are failures too.
 */
#ifndef _NKVM_VMX_OPS_H
#define _NKVM_VMX_OPS_H

#include <linux/types.h>
#include <asm/asm.h>

/* VMXON, VMCLEAR, VMPTRLD: 0, or -EIO when the CPU refused or faulted. */
#define NKVM_VMX_PA_INSN(name, insn)					\
static inline int vmx_##name(u64 pa)					\
{									\
	asm goto("1: " insn " %[p]\n\t"				\
		 "jbe %l[fail]\n\t"					\
		 _ASM_EXTABLE(1b, %l[fail])				\
		 : : [p] "m"(pa) : "cc", "memory" : fail);		\
	return 0;							\
fail:									\
	return -EIO;							\
}

NKVM_VMX_PA_INSN(vmxon, "vmxon")
NKVM_VMX_PA_INSN(vmclear, "vmclear")
NKVM_VMX_PA_INSN(vmptrld, "vmptrld")

static inline void vmx_vmxoff(void)
{
	asm volatile("1: vmxoff\n2:\n" _ASM_EXTABLE(1b, 2b) : : : "cc", "memory");
}

static __always_inline unsigned long vmcs_read(unsigned long field)
{
	unsigned long value = 0;

	asm volatile("1: vmread %[field], %[value]\n2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [value] "+r"(value) : [field] "r"(field) : "cc");
	return value;
}

static __always_inline void vmcs_write(unsigned long field, unsigned long value)
{
	asm volatile("1: vmwrite %[value], %[field]\n2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : : [value] "rm"(value), [field] "r"(field) : "cc");
}

/* INVEPT and INVVPID take a 128-bit descriptor in memory. */
struct vmx_inv_desc {
	u64 a;
	u64 b;
};

static inline void vmx_invept(unsigned long type, u64 eptp)
{
	struct vmx_inv_desc d = { eptp, 0 };

	asm volatile("1: invept %[d], %[t]\n2:\n" _ASM_EXTABLE(1b, 2b)
		     : : [d] "m"(d), [t] "r"(type) : "cc", "memory");
}

static inline void vmx_invvpid(unsigned long type, u16 vpid)
{
	struct vmx_inv_desc d = { vpid, 0 };

	asm volatile("1: invvpid %[d], %[t]\n2:\n" _ASM_EXTABLE(1b, 2b)
		     : : [d] "m"(d), [t] "r"(type) : "cc", "memory");
}

#endif /* _NKVM_VMX_OPS_H */
