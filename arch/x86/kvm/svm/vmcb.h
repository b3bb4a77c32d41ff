/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the AMD VMCB, as laid out in the AMD64 Architecture Programmer's
 * Manual, volume 2, appendix B.  Only the fields nkvm uses are named; the
 * offsets are checked at build time (svm_check_layout()).
 */
#ifndef _NKVM_SVM_VMCB_H
#define _NKVM_SVM_VMCB_H

#include <linux/types.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>

/* CPUID leaf with the SVM revision, ASID count and SVM features. */
#define SVM_CPUID_LEAF		0x8000000a

/* MSR_VM_CR: SVM disabled by the firmware. */
#define VM_CR_SVMDIS		BIT_ULL(4)

/* Debug register values at reset. */
#define DR6_RESET		0xffff0ff0ULL
#define DR7_RESET		0x400ULL

/* Intercept vector 3 (offset 0x00c) */
#define INTERCEPT_INTR		BIT(0)
#define INTERCEPT_NMI		BIT(1)
#define INTERCEPT_SMI		BIT(2)
#define INTERCEPT_VINTR		BIT(4)
#define INTERCEPT_SELECTIVE_CR0	BIT(5)	/* CR0 writes beyond TS and MP */
#define INTERCEPT_RDPMC		BIT(15)
#define INTERCEPT_CPUID		BIT(18)
#define INTERCEPT_RSM		BIT(19)
#define INTERCEPT_IRET		BIT(20)
#define INTERCEPT_INVD		BIT(22)
#define INTERCEPT_HLT		BIT(24)
#define INTERCEPT_INVLPGA	BIT(26)
#define INTERCEPT_IOIO_PROT	BIT(27)
#define INTERCEPT_MSR_PROT	BIT(28)
#define INTERCEPT_SHUTDOWN	BIT(31)

/* Intercept vector 4 (offset 0x010) */
#define INTERCEPT_VMRUN		BIT(0)
#define INTERCEPT_VMMCALL	BIT(1)
#define INTERCEPT_VMLOAD	BIT(2)
#define INTERCEPT_VMSAVE	BIT(3)
#define INTERCEPT_STGI		BIT(4)
#define INTERCEPT_CLGI		BIT(5)
#define INTERCEPT_SKINIT	BIT(6)
#define INTERCEPT_RDTSCP	BIT(7)
#define INTERCEPT_WBINVD	BIT(9)
#define INTERCEPT_MONITOR	BIT(10)
#define INTERCEPT_MWAIT		BIT(11)
#define INTERCEPT_XSETBV	BIT(13)
#define INTERCEPT_RDPRU		BIT(14)

/* int_ctl */
#define V_IRQ			BIT(8)
#define V_INTR_PRIO_SHIFT	16
#define V_IGN_TPR		BIT(20)
#define V_INTR_MASKING		BIT(24)

/* int_state */
#define SVM_INTERRUPT_SHADOW	BIT(0)

/* nested_ctl */
#define NESTED_CTL_NP_ENABLE	BIT(0)

/* clean: bit 31 is the software's; Hyper-V's enlightenments unchanged */
#define VMCB_CLEAN_HV_ENLIGHTENMENTS	BIT(31)

/* hv_enlightenments */
#define HV_VMCB_ENL_MSR_BITMAP	BIT(1)	/* the MSR map obeys the clean bit */

/* tlb_ctl */
#define TLB_CONTROL_DO_NOTHING	0
#define TLB_CONTROL_FLUSH_ALL	1

/* event_inj and exit_int_info */
#define SVM_EVTINJ_VEC_MASK	0xff
#define SVM_EVTINJ_TYPE_SHIFT	8
#define SVM_EVTINJ_TYPE_MASK	(7 << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_TYPE_INTR	(0 << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_TYPE_NMI	(2 << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_TYPE_EXEPT	(3 << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_TYPE_SOFT	(4 << SVM_EVTINJ_TYPE_SHIFT)
#define SVM_EVTINJ_VALID_ERR	BIT(11)
#define SVM_EVTINJ_VALID	BIT(31)

/* IOIO exit_info_1 */
#define SVM_IOIO_TYPE_IN	BIT(0)
#define SVM_IOIO_STR		BIT(2)
#define SVM_IOIO_REP		BIT(3)
#define SVM_IOIO_SIZE_SHIFT	4
#define SVM_IOIO_SIZE_MASK	(7 << SVM_IOIO_SIZE_SHIFT)
#define SVM_IOIO_PORT_SHIFT	16

/* Segment attributes: the descriptor's bits 8-15 and 20-23, packed. */
#define SVM_SEG_TYPE_MASK	0xf
#define SVM_SEG_S		BIT(4)
#define SVM_SEG_DPL_SHIFT	5
#define SVM_SEG_P		BIT(7)
#define SVM_SEG_AVL		BIT(8)
#define SVM_SEG_L		BIT(9)
#define SVM_SEG_DB		BIT(10)
#define SVM_SEG_G		BIT(11)

struct vmcb_control {
	u16 cr_read;			/* 0x000 */
	u16 cr_write;
	u16 dr_read;			/* 0x004 */
	u16 dr_write;
	u32 exceptions;			/* 0x008 */
	u32 intercept_misc1;		/* 0x00c */
	u32 intercept_misc2;		/* 0x010 */
	u32 intercept_misc3;		/* 0x014 */
	u8 reserved_018[0x03c - 0x018];
	u16 pause_filter_thresh;	/* 0x03c */
	u16 pause_filter_count;
	u64 iopm_base_pa;		/* 0x040 */
	u64 msrpm_base_pa;		/* 0x048 */
	u64 tsc_offset;			/* 0x050 */
	u32 asid;			/* 0x058 */
	u8 tlb_ctl;			/* 0x05c */
	u8 reserved_05d[3];
	u32 int_ctl;			/* 0x060 */
	u32 int_vector;
	u64 int_state;			/* 0x068 */
	u64 exit_code;			/* 0x070 */
	u64 exit_info_1;		/* 0x078 */
	u64 exit_info_2;		/* 0x080 */
	u32 exit_int_info;		/* 0x088 */
	u32 exit_int_info_err;
	u64 nested_ctl;			/* 0x090 */
	u64 avic_vapic_bar;		/* 0x098 */
	u64 ghcb_gpa;			/* 0x0a0 */
	u32 event_inj;			/* 0x0a8 */
	u32 event_inj_err;
	u64 nested_cr3;			/* 0x0b0 */
	u64 virt_ext;			/* 0x0b8 */
	u32 clean;			/* 0x0c0 */
	u32 reserved_0c4;
	u64 next_rip;			/* 0x0c8 */
	u8 insn_len;			/* 0x0d0 */
	u8 insn_bytes[15];
	u8 reserved_0e0[0x3e0 - 0x0e0];
	/* 0x3e0: the software's; Hyper-V's enlightenments (TLFS) */
	u32 hv_enlightenments;
	u32 hv_vp_id;
	u64 hv_vm_id;
	u64 hv_partition_assist_page;
	u64 hv_reserved;
} __packed;

struct vmcb_seg {
	u16 selector;
	u16 attrib;
	u32 limit;
	u64 base;
} __packed;

struct vmcb_save {
	struct vmcb_seg es;		/* 0x400 */
	struct vmcb_seg cs;
	struct vmcb_seg ss;
	struct vmcb_seg ds;
	struct vmcb_seg fs;
	struct vmcb_seg gs;
	struct vmcb_seg gdtr;
	struct vmcb_seg ldtr;
	struct vmcb_seg idtr;
	struct vmcb_seg tr;
	u8 reserved_0a0[0x0cb - 0x0a0];
	u8 cpl;				/* 0x4cb */
	u32 reserved_0cc;
	u64 efer;			/* 0x4d0 */
	u8 reserved_0d8[0x148 - 0x0d8];
	u64 cr4;			/* 0x548 */
	u64 cr3;
	u64 cr0;
	u64 dr7;
	u64 dr6;
	u64 rflags;
	u64 rip;			/* 0x578 */
	u8 reserved_180[0x1d8 - 0x180];
	u64 rsp;			/* 0x5d8 */
	u64 s_cet;
	u64 ssp;
	u64 isst_addr;
	u64 rax;			/* 0x5f8 */
	u64 star;			/* 0x600 */
	u64 lstar;
	u64 cstar;
	u64 sfmask;
	u64 kernel_gs_base;
	u64 sysenter_cs;
	u64 sysenter_esp;
	u64 sysenter_eip;
	u64 cr2;			/* 0x640 */
	u8 reserved_248[0x268 - 0x248];
	u64 g_pat;			/* 0x668 */
	u64 dbgctl;
	u8 reserved_278[0x2e0 - 0x278];
	u64 spec_ctrl;			/* 0x6e0: the guest's, with V_SPEC_CTRL */
	u8 reserved_2e8[0xc00 - 0x2e8];
} __packed;

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
} __packed;

static inline void svm_check_layout(void)
{
	BUILD_BUG_ON(offsetof(struct vmcb_control, iopm_base_pa) != 0x040);
	BUILD_BUG_ON(offsetof(struct vmcb_control, asid) != 0x058);
	BUILD_BUG_ON(offsetof(struct vmcb_control, exit_code) != 0x070);
	BUILD_BUG_ON(offsetof(struct vmcb_control, event_inj) != 0x0a8);
	BUILD_BUG_ON(offsetof(struct vmcb_control, nested_cr3) != 0x0b0);
	BUILD_BUG_ON(offsetof(struct vmcb_control, next_rip) != 0x0c8);
	BUILD_BUG_ON(offsetof(struct vmcb_control, hv_enlightenments) != 0x3e0);
	BUILD_BUG_ON(sizeof(struct vmcb_control) != 0x400);
	BUILD_BUG_ON(offsetof(struct vmcb, save.cpl) != 0x4cb);
	BUILD_BUG_ON(offsetof(struct vmcb, save.efer) != 0x4d0);
	BUILD_BUG_ON(offsetof(struct vmcb, save.cr4) != 0x548);
	BUILD_BUG_ON(offsetof(struct vmcb, save.rip) != 0x578);
	BUILD_BUG_ON(offsetof(struct vmcb, save.rsp) != 0x5d8);
	BUILD_BUG_ON(offsetof(struct vmcb, save.rax) != 0x5f8);
	BUILD_BUG_ON(offsetof(struct vmcb, save.cr2) != 0x640);
	BUILD_BUG_ON(offsetof(struct vmcb, save.g_pat) != 0x668);
	BUILD_BUG_ON(offsetof(struct vmcb, save.spec_ctrl) != 0x6e0);
	BUILD_BUG_ON(sizeof(struct vmcb) != PAGE_SIZE);
}

#endif /* _NKVM_SVM_VMCB_H */
