// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the guest's CPUID (see cpuid.h for the three steps).
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>
#include <asm/processor.h>
#include <uapi/asm/kvm_para.h>

#include "x86.h"
#include "pmu.h"
#include "lapic.h"
#endif
#include "cpuid.h"

/* ---- Pure logic: lookup and the three steps on a table ----------------- */

struct kvm_cpuid_entry2 *kvm_cpuid_find(struct kvm_cpuid_entry2 *entries,
					int nent, u32 function, u32 index)
{
	int i;

	for (i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		    e->index == index)
			return e;
	}
	return NULL;
}

static struct kvm_cpuid_entry2 *find_const(const struct kvm_cpuid_entry2 *e,
					   int nent, u32 function, u32 index)
{
	return kvm_cpuid_find((struct kvm_cpuid_entry2 *)e, nent, function,
			      index);
}

/* Would XSETBV accept this XCR0?  A CPUID that offers less is inconsistent. */
static bool xcr0_consistent(u64 xcr0)
{
	if (!(xcr0 & NKVM_XFEATURE_X87))
		return false;
	if ((xcr0 & NKVM_XFEATURE_AVX) && !(xcr0 & NKVM_XFEATURE_SSE))
		return false;
	if (xcr0 & NKVM_XFEATURE_AVX512) {
		if ((xcr0 & NKVM_XFEATURE_AVX512) != NKVM_XFEATURE_AVX512 ||
		    !(xcr0 & NKVM_XFEATURE_AVX))
			return false;
	}
	if ((xcr0 & NKVM_XFEATURE_XTILE) &&
	    (xcr0 & NKVM_XFEATURE_XTILE) != NKVM_XFEATURE_XTILE)
		return false;
	return true;
}

int kvm_cpuid_check(const struct kvm_cpuid_entry2 *entries, int nent)
{
	const struct kvm_cpuid_entry2 *e;

	if (nent > KVM_MAX_CPUID_ENTRIES)
		return -E2BIG;

	e = find_const(entries, nent, 0x80000008, 0);
	if (e) {
		u32 vaddr_bits = (e->eax >> 8) & 0xff;

		if (vaddr_bits != 0 && vaddr_bits != 48 && vaddr_bits != 57)
			return -EINVAL;
	}

	e = find_const(entries, nent, 0xd, 0);
	if (e) {
		u64 xcr0 = e->eax | ((u64)e->edx << 32);

		if (xcr0 && !xcr0_consistent(xcr0))
			return -EINVAL;
	}
	return 0;
}

/* Size of an XSAVE area holding @features (standard format). */
u32 kvm_xstate_size(const struct kvm_xstate_layout *layout, u64 features)
{
	u32 size = 512 + 64;	/* legacy area and XSAVE header */
	int i;

	for (i = 2; i < 64; i++) {
		if (!(features & (1ULL << i)) || !layout->size[i])
			continue;
		if (layout->offset[i] + layout->size[i] > size)
			size = layout->offset[i] + layout->size[i];
	}
	return size;
}

/*
 * The entry the guest's CPUID(function, index) reads.  A leaf missing from
 * the table reads as zeroes, except that on vendors other than AMD and
 * Hygon a function beyond the range of its class (basic, 0x4xxxxxxx,
 * extended, 0xc0000000) reads the highest basic leaf, with the same index.
 */
struct kvm_cpuid_entry2 *kvm_cpuid_lookup(struct kvm_cpuid_entry2 *entries,
					  int nent,
					  const struct kvm_cpuid_model *m,
					  u32 function, u32 index)
{
	struct kvm_cpuid_entry2 *e, *class;
	u32 class_leaf;

	e = kvm_cpuid_find(entries, nent, function, index);
	if (e || !m->out_of_range_to_basic)
		return e;

	if (function >= 0x40000000 && function <= 0x4fffffff)
		class_leaf = function & 0xffffff00;
	else if (function >= 0xc0000000)
		class_leaf = 0xc0000000;
	else
		class_leaf = function & 0x80000000;
	class = kvm_cpuid_find(entries, nent, class_leaf, 0);
	if (class && function <= class->eax)
		return NULL;
	return kvm_cpuid_find(entries, nent, m->max_basic_leaf, index);
}

static void change_bit32(u32 *reg, u32 bit, bool set)
{
	if (set)
		*reg |= bit;
	else
		*reg &= ~bit;
}

void kvm_cpuid_update_runtime(struct kvm_cpuid_entry2 *entries, int nent,
			      const struct kvm_cpuid_runtime *rt,
			      const struct kvm_xstate_layout *layout)
{
	struct kvm_cpuid_entry2 *e;

	/* Each leaf on its own: a table without leaf 1 still gets the rest. */
	e = kvm_cpuid_find(entries, nent, 1, 0);
	if (e) {
		change_bit32(&e->ecx, CPUID_1_ECX_OSXSAVE,
			     rt->cr4 & NKVM_CR4_OSXSAVE);
		change_bit32(&e->edx, CPUID_1_EDX_APIC, rt->apic_enabled);
		if (rt->update_mwait)
			change_bit32(&e->ecx, CPUID_1_ECX_MWAIT,
				     rt->mwait_enabled);
	}

	e = kvm_cpuid_find(entries, nent, 7, 0);
	if (e)
		change_bit32(&e->ecx, CPUID_7_ECX_OSPKE, rt->cr4 & NKVM_CR4_PKE);

	e = kvm_cpuid_find(entries, nent, 0xd, 0);
	if (e)
		e->ebx = kvm_xstate_size(layout, rt->xcr0);

	e = kvm_cpuid_find(entries, nent, 0xd, 1);
	if (e && (e->eax & (1U << 1 | 1U << 3)))	/* XSAVEC or XSAVES */
		e->ebx = kvm_xstate_size(layout, rt->xcr0 | rt->xss);
}

void kvm_cpuid_compute_model(struct kvm_cpuid_entry2 *entries, int nent,
			     u64 host_xcr0, u64 host_cr4_reserved,
			     struct kvm_cpuid_model *m)
{
	struct kvm_cpuid_entry2 *e, *e1, *e7;
	u32 ecx1 = 0, edx1 = 0, ebx7 = 0, ecx7 = 0;
	u64 rsvd = host_cr4_reserved;

	*m = (struct kvm_cpuid_model) { .maxphyaddr = 36 };

	e = kvm_cpuid_find(entries, nent, 0, 0);
	if (e) {
		/* "AuthenticAMD" and "HygonGenuine" in EBX, EDX, ECX */
		bool amd = e->ebx == 0x68747541 && e->edx == 0x69746e65 &&
			   e->ecx == 0x444d4163;
		bool hygon = e->ebx == 0x6f677948 && e->edx == 0x6e65476e &&
			     e->ecx == 0x656e6975;

		m->max_basic_leaf = e->eax;
		/* "GenuineIntel" */
		m->intel = e->ebx == 0x756e6547 && e->edx == 0x49656e69 &&
			   e->ecx == 0x6c65746e;
		m->out_of_range_to_basic = !amd && !hygon;
	}

	e = kvm_cpuid_find(entries, nent, 0x80000000, 0);
	if (e && e->eax >= 0x80000008) {
		e = kvm_cpuid_find(entries, nent, 0x80000008, 0);
		if (e && (e->eax & 0xff))
			m->maxphyaddr = e->eax & 0xff;
	}

	e = kvm_cpuid_find(entries, nent, 0xd, 0);
	if (e)
		m->supported_xcr0 = (e->eax | ((u64)e->edx << 32)) & host_xcr0;

	e = kvm_cpuid_find(entries, nent, 0x80000001, 0);
	m->rdtscp = e && (e->edx & CPUID_80000001_EDX_RDTSCP);
	m->gbpages = e && (e->edx & CPUID_80000001_EDX_GBPAGES);

	e1 = kvm_cpuid_find(entries, nent, 1, 0);
	if (e1) {
		ecx1 = e1->ecx;
		edx1 = e1->edx;
	}
	e7 = kvm_cpuid_find(entries, nent, 7, 0);
	if (e7) {
		ebx7 = e7->ebx;
		ecx7 = e7->ecx;
	}

	/* CR4 bits whose feature the guest's CPUID does not offer. */
	if (!(ecx1 & CPUID_1_ECX_XSAVE))
		rsvd |= NKVM_CR4_OSXSAVE;
	if (!(ecx1 & CPUID_1_ECX_PCID))
		rsvd |= NKVM_CR4_PCIDE;
	if (!(ebx7 & CPUID_7_EBX_SMEP))
		rsvd |= NKVM_CR4_SMEP;
	if (!(ebx7 & CPUID_7_EBX_SMAP))
		rsvd |= NKVM_CR4_SMAP;
	if (!(ebx7 & CPUID_7_EBX_FSGSBASE))
		rsvd |= NKVM_CR4_FSGSBASE;
	if (!(ecx7 & CPUID_7_ECX_PKU))
		rsvd |= NKVM_CR4_PKE;
	if (!(ecx7 & CPUID_7_ECX_LA57))
		rsvd |= NKVM_CR4_LA57;
	if (!(ecx7 & CPUID_7_ECX_UMIP))
		rsvd |= NKVM_CR4_UMIP;
	m->tsc_aux = m->rdtscp || (ecx7 & CPUID_7_ECX_RDPID);
	(void)edx1;
	m->cr4_reserved = rsvd;
}

#ifndef NKVM_USERSPACE
/* ---- The host's side: what nkvm offers --------------------------------- */

static struct kvm_cpuid_entry2 *supported_cpuid;
static int supported_nent;
static struct kvm_xstate_layout host_layout;
static u64 supported_xcr0;

u64 kvm_host_supported_xcr0(void)
{
	return supported_xcr0;
}

const struct kvm_xstate_layout *kvm_host_xstate_layout(void)
{
	return &host_layout;
}

/* A feature bit of one CPUID register, from the kernel's X86_FEATURE_*. */
#define FEAT(name)	(1U << (X86_FEATURE_##name & 31))

/*
 * The features nkvm offers a guest, per CPUID register.  With nested paging
 * the guest runs these natively; each mask is further limited to what the
 * host kernel itself uses (boot_cpu_data), so nothing the host disabled
 * leaks through.
 */
static const u32 cpuid_1_edx_mask =
	FEAT(FPU) | FEAT(VME) | FEAT(DE) | FEAT(PSE) | FEAT(TSC) | FEAT(MSR) |
	FEAT(PAE) | FEAT(MCE) | FEAT(CX8) | FEAT(APIC) | FEAT(SEP) |
	FEAT(MTRR) | FEAT(PGE) | FEAT(MCA) | FEAT(CMOV) | FEAT(PAT) |
	FEAT(PSE36) | FEAT(CLFLUSH) | FEAT(MMX) | FEAT(FXSR) | FEAT(XMM) |
	FEAT(XMM2) | FEAT(SELFSNOOP);
static const u32 cpuid_1_ecx_mask =
	FEAT(XMM3) | FEAT(PCLMULQDQ) | FEAT(SSSE3) | FEAT(FMA) | FEAT(CX16) |
	FEAT(PCID) | FEAT(XMM4_1) | FEAT(XMM4_2) | FEAT(MOVBE) |
	FEAT(POPCNT) | FEAT(AES) | FEAT(XSAVE) | FEAT(AVX) | FEAT(F16C) |
	FEAT(RDRAND);
static const u32 cpuid_7_0_ebx_mask =
	FEAT(FSGSBASE) | FEAT(BMI1) | FEAT(AVX2) | FEAT(FDP_EXCPTN_ONLY) |
	FEAT(SMEP) | FEAT(BMI2) | FEAT(ERMS) | FEAT(INVPCID) |
	FEAT(ZERO_FCS_FDS) | FEAT(AVX512F) | FEAT(AVX512DQ) | FEAT(RDSEED) |
	FEAT(ADX) | FEAT(SMAP) | FEAT(AVX512IFMA) | FEAT(CLFLUSHOPT) |
	FEAT(CLWB) | FEAT(AVX512PF) | FEAT(AVX512ER) | FEAT(AVX512CD) |
	FEAT(SHA_NI) | FEAT(AVX512BW) | FEAT(AVX512VL);
static const u32 cpuid_7_ecx_mask =
	FEAT(AVX512VBMI) | FEAT(UMIP) | FEAT(AVX512_VBMI2) | FEAT(GFNI) |
	FEAT(VAES) | FEAT(VPCLMULQDQ) | FEAT(AVX512_VNNI) |
	FEAT(AVX512_BITALG) | FEAT(AVX512_VPOPCNTDQ) | FEAT(LA57) |
	FEAT(MOVDIRI) | FEAT(MOVDIR64B);
static const u32 cpuid_7_edx_mask =
	FEAT(AVX512_4VNNIW) | FEAT(AVX512_4FMAPS) | FEAT(FSRM) |
	FEAT(MD_CLEAR) | FEAT(SERIALIZE);
static const u32 cpuid_7_1_eax_mask = FEAT(AVX_VNNI) | FEAT(AVX512_BF16);
static const u32 cpuid_d_1_eax_mask = FEAT(XSAVEOPT) | FEAT(XSAVEC) |
				      FEAT(XGETBV1);
static const u32 cpuid_8000_0001_ecx_mask =
	FEAT(LAHF_LM) | FEAT(CR8_LEGACY) | FEAT(ABM) | FEAT(SSE4A) |
	FEAT(MISALIGNSSE) | FEAT(3DNOWPREFETCH) | FEAT(XOP) | FEAT(FMA4) |
	FEAT(TBM);
static const u32 cpuid_8000_0001_edx_mask =
	/* AMD repeats leaf 1's bits 0-17, 23, 24 here */
	0x0183f3ff | FEAT(SYSCALL) | FEAT(NX) | FEAT(MMXEXT) |
	FEAT(FXSR_OPT) | FEAT(GBPAGES) | FEAT(LM) | FEAT(3DNOWEXT) |
	FEAT(3DNOW);
static const u32 cpuid_8000_0008_ebx_mask =
	FEAT(CLZERO) | FEAT(XSAVEERPTR) | FEAT(WBNOINVD);
/* IA32_SPEC_CTRL and IA32_PRED_CMD bits: spec.c decides them. */

/* The XCR0 features nkvm switches for the guest (no dynamic ones). */
#define NKVM_SUPPORTED_XCR0 (NKVM_XFEATURE_X87 | NKVM_XFEATURE_SSE | \
			     NKVM_XFEATURE_AVX | NKVM_XFEATURE_AVX512)

static u32 caps(enum cpuid_leafs word)
{
	return boot_cpu_data.x86_capability[word];
}

/*
 * RDTSCP and RDPID, where the backend runs them natively (common code
 * switches TSC_AUX around the guest's runs).
 */
static u32 tsc_aux_mask(u32 bit)
{
	return kvm_x86_ops->tsc_aux_native ? bit : 0;
}

static struct kvm_cpuid_entry2 *add_entry(u32 function, u32 index, u32 flags)
{
	struct kvm_cpuid_entry2 *e;

	if (WARN_ON_ONCE(supported_nent >= KVM_MAX_CPUID_ENTRIES))
		return NULL;
	e = &supported_cpuid[supported_nent++];
	e->function = function;
	e->index = index;
	e->flags = flags;
	cpuid_count(function, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	return e;
}

static void build_xsave_leaves(void)
{
	struct kvm_cpuid_entry2 *e;
	int i;

	e = add_entry(0xd, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	e->eax = (u32)supported_xcr0;
	e->edx = supported_xcr0 >> 32;
	e->ebx = kvm_xstate_size(&host_layout, supported_xcr0);
	e->ecx = e->ebx;
	/* Without XSAVE on the host, an empty leaf 0xD.0, as on Linux. */
	if (!supported_xcr0)
		return;

	e = add_entry(0xd, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	e->eax &= cpuid_d_1_eax_mask & caps(CPUID_D_1_EAX);
	e->ebx = (e->eax & FEAT(XSAVEC)) ?
		 kvm_xstate_size(&host_layout, supported_xcr0) : 0;
	e->ecx = 0;
	e->edx = 0;

	for (i = 2; i < 64; i++) {
		if (!(supported_xcr0 & (1ULL << i)))
			continue;
		e = add_entry(0xd, i, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		e->ecx &= 2;		/* keep "64-byte aligned", not "in XSS" */
		e->edx = 0;
	}
}

static void build_supported_cpuid(void)
{
	u32 max_basic = min_t(u32, cpuid_eax(0), 0xd);
	u32 max_ext = min_t(u32, cpuid_eax(0x80000000),
			    kvm_x86_ops->nested_svm ? 0x8000000a : 0x80000008);
	struct kvm_cpuid_entry2 *e;
	u32 f;

	e = add_entry(0, 0, 0);
	e->eax = max_basic;

	e = add_entry(1, 0, 0);
	e->ebx &= 0x00ffffff;		/* the APIC ID is the VMM's to set */
	/* (The hypervisor bit is userspace's to set, as on Linux.) */
	e->ecx &= cpuid_1_ecx_mask & caps(CPUID_1_ECX);
	/* The in-kernel APIC does x2APIC whatever the host has. */
	e->ecx |= FEAT(X2APIC);
	e->edx &= cpuid_1_edx_mask & caps(CPUID_1_EDX);

	if (max_basic >= 2)
		add_entry(2, 0, 0);	/* cache descriptors, as they are */

	if (max_basic >= 4) {
		u32 i = 0;

		/* Deterministic cache parameters, until the null level. */
		do {
			e = add_entry(4, i++, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
			e->eax &= 0x03ffffff;	/* no core count */
		} while ((e->eax & 0x1f) && i < 8);
	}

	if (max_basic >= 6) {
		e = add_entry(6, 0, 0);
		e->eax = 1U << 2;	/* ARAT: the APIC timer always runs */
		e->ebx = e->ecx = e->edx = 0;
	}

	if (max_basic >= 7) {
		u32 sub;

		e = add_entry(7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		sub = min_t(u32, e->eax, 1);
		e->eax = sub;
		e->ebx &= cpuid_7_0_ebx_mask & caps(CPUID_7_0_EBX);
		e->ecx &= (cpuid_7_ecx_mask | tsc_aux_mask(CPUID_7_ECX_RDPID)) &
			  caps(CPUID_7_ECX);
		e->edx &= cpuid_7_edx_mask & caps(CPUID_7_EDX);
		e->edx |= nkvm_spec_cpuid_7_edx();
		/* Emulated whatever the host has (msr.c, spec.c), as Linux. */
		e->ebx |= FEAT(TSC_ADJUST);
		e->edx |= FEAT(ARCH_CAPABILITIES);
		if (sub >= 1) {
			e = add_entry(7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
			e->eax &= cpuid_7_1_eax_mask & caps(CPUID_7_1_EAX);
			e->ebx = e->ecx = e->edx = 0;
		}
	}

	if (max_basic >= 0xa)
		add_entry(0xa, 0, 0);	/* the architectural PMU (below) */

	if (max_basic >= 0xd)
		build_xsave_leaves();

	/* nkvm answers to the KVM paravirtual signature. */
	e = add_entry(0x40000000, 0, 0);
	e->eax = 0x40000001;
	e->ebx = 0x4b4d564b;	/* "KVMK" */
	e->ecx = 0x564b4d56;	/* "VMKV" */
	e->edx = 0x4d;		/* "M\0\0\0" */
	e = add_entry(0x40000001, 0, 0);
	/*
	 * kvmclock; no port-0x80 delays needed; hypercall.c, kvmclock.c.
	 * Async page faults: the MSRs only, nkvm never sends one (design.rst).
	 */
	e->eax = BIT(KVM_FEATURE_CLOCKSOURCE) | BIT(KVM_FEATURE_NOP_IO_DELAY) |
		 BIT(KVM_FEATURE_CLOCKSOURCE2) |
		 BIT(KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) |
		 BIT(KVM_FEATURE_ASYNC_PF) | BIT(KVM_FEATURE_ASYNC_PF_INT) |
		 BIT(KVM_FEATURE_PV_EOI) |
		 BIT(KVM_FEATURE_PV_UNHALT) | BIT(KVM_FEATURE_PV_SEND_IPI) |
		 BIT(KVM_FEATURE_PV_SCHED_YIELD) |
		 (sched_info_on() ? BIT(KVM_FEATURE_STEAL_TIME) : 0);
	e->ebx = e->ecx = e->edx = 0;

	e = add_entry(0x80000000, 0, 0);
	e->eax = max_ext;
	for (f = 0x80000001; f <= max_ext; f++) {
		e = add_entry(f, 0, 0);
		switch (f) {
		case 0x80000001:
			e->ecx &= cpuid_8000_0001_ecx_mask &
				  caps(CPUID_8000_0001_ECX);
			e->edx &= (cpuid_8000_0001_edx_mask |
				   tsc_aux_mask(CPUID_80000001_EDX_RDTSCP)) &
				  caps(CPUID_8000_0001_EDX);
			/* Nested SVM (svm/nested.c). */
			if (kvm_x86_ops->nested_svm)
				e->ecx |= FEAT(SVM) & caps(CPUID_8000_0001_ECX);
			break;
		case 0x80000007:
			e->eax = e->ebx = e->ecx = 0;
			e->edx &= 1U << 8;	/* invariant TSC only */
			break;
		case 0x80000008:
			/* Physical and virtual address widths, nothing else. */
			e->eax &= 0xffff;
			e->ebx &= cpuid_8000_0008_ebx_mask &
				  caps(CPUID_8000_0008_EBX);
			e->ebx |= nkvm_spec_cpuid_8000_0008_ebx();
			e->ecx = e->edx = 0;
			break;
		case 0x80000009:
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x8000000a:
			/*
			 * SVM revision 1 and 8 ASIDs, as Linux offers, and no
			 * optional feature: no nested paging, NRIP save,
			 * decode assists, V_VMSAVE_VMLOAD, vGIF or AVIC.
			 */
			e->eax = 1;
			e->ebx = 8;
			e->ecx = e->edx = 0;
			break;
		default:		/* brand string, cache and TLB info */
			break;
		}
	}

	/* What the vPMU offers, if it is on (pmu.c). */
	for (f = 0; f < supported_nent; f++)
		kvm_pmu_supported_cpuid(&supported_cpuid[f]);
}

int kvm_cpuid_init(void)
{
	u64 host_xcr0 = 0;
	int i;

	if (boot_cpu_has(X86_FEATURE_XSAVE))
		host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	supported_xcr0 = host_xcr0 & NKVM_SUPPORTED_XCR0;

	memset(&host_layout, 0, sizeof(host_layout));
	for (i = 2; i < 64; i++) {
		u32 eax, ebx, ecx, edx;

		if (!(supported_xcr0 & (1ULL << i)))
			continue;
		cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx);
		host_layout.size[i] = eax;
		host_layout.offset[i] = ebx;
	}

	if (!supported_cpuid) {
		supported_cpuid = kvcalloc(KVM_MAX_CPUID_ENTRIES,
					   sizeof(*supported_cpuid), GFP_KERNEL);
		if (!supported_cpuid)
			return -ENOMEM;
	}
	supported_nent = 0;
	build_supported_cpuid();
	return 0;
}

void kvm_cpuid_exit(void)
{
	kvfree(supported_cpuid);
	supported_cpuid = NULL;
}

int kvm_dev_ioctl_get_supported_cpuid(struct kvm_cpuid2 __user *ucpuid)
{
	struct kvm_cpuid2 cpuid;

	if (copy_from_user(&cpuid, ucpuid, sizeof(cpuid)))
		return -EFAULT;
	if (cpuid.nent < 1)
		return -E2BIG;
	if (cpuid.nent > KVM_MAX_CPUID_ENTRIES)
		cpuid.nent = KVM_MAX_CPUID_ENTRIES;
	if (cpuid.nent < supported_nent)
		return -E2BIG;

	if (copy_to_user(ucpuid->entries, supported_cpuid,
			 supported_nent * sizeof(*supported_cpuid)))
		return -EFAULT;
	cpuid.nent = supported_nent;
	if (copy_to_user(ucpuid, &cpuid, sizeof(cpuid)))
		return -EFAULT;
	return 0;
}

/* ---- The vCPU's side ---------------------------------------------------- */

static void kvm_cpuid_runtime_state(struct kvm_vcpu *vcpu,
				    struct kvm_cpuid_runtime *rt)
{
	*rt = (struct kvm_cpuid_runtime) {
		.cr4 = vcpu->arch.cr4,
		.xcr0 = vcpu->arch.xcr0,
		.xss = 0,
		.apic_enabled = vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE,
		.mwait_enabled = vcpu->arch.misc_enable &
				 MSR_IA32_MISC_ENABLE_MWAIT,
		.update_mwait = !kvm_has_quirk(vcpu->kvm,
					       KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT),
	};
}

/* Step 2, on the vCPU's table: call whenever the state it follows changes. */
void kvm_vcpu_cpuid_runtime(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid_runtime rt;

	kvm_cpuid_runtime_state(vcpu, &rt);
	kvm_cpuid_update_runtime(vcpu->arch.cpuid_entries,
				 vcpu->arch.cpuid_nent, &rt, &host_layout);
	vcpu->arch.cpuid_cr4 = vcpu->arch.cr4;
}

/* Step 3: what the table means for the vCPU. */
static void kvm_vcpu_after_set_cpuid(struct kvm_vcpu *vcpu)
{
	kvm_cpuid_compute_model(vcpu->arch.cpuid_entries,
				vcpu->arch.cpuid_nent, supported_xcr0,
				kvm_host_cr4_reserved_bits(),
				&vcpu->arch.model);
	kvm_pmu_refresh(vcpu);
	if (kvm_lapic_in_kernel(vcpu))
		kvm_lapic_update_cpuid(vcpu,
			kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(24)),
			kvm_guest_cpuid_has(vcpu, 1, 0, CPUID_ECX, BIT(21)));
	if (kvm_x86_ops->vcpu_after_set_cpuid)
		kvm_x86_ops->vcpu_after_set_cpuid(vcpu);
	/* IA32_SPEC_CTRL passes through only to a guest that has it. */
	nkvm_spec_ctrl_update_intercept(vcpu);
}

void kvm_vcpu_cpuid_free(struct kvm_vcpu *vcpu)
{
	kvfree(vcpu->arch.cpuid_entries);
	vcpu->arch.cpuid_entries = NULL;
	vcpu->arch.cpuid_nent = 0;
}

static bool cpuid_tables_equal(const struct kvm_cpuid_entry2 *a, int na,
			       const struct kvm_cpuid_entry2 *b, int nb)
{
	int i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++) {
		if (a[i].function != b[i].function || a[i].index != b[i].index ||
		    a[i].flags != b[i].flags || a[i].eax != b[i].eax ||
		    a[i].ebx != b[i].ebx || a[i].ecx != b[i].ecx ||
		    a[i].edx != b[i].edx)
			return false;
	}
	return true;
}

/*
 * A KVM_SET_CPUID that failed before its table was even read: before the
 * first KVM_RUN the vCPU is then left with no entries, like any failed
 * SET_CPUID; afterwards its model stays as it is.
 */
static int kvm_set_cpuid_failed(struct kvm_vcpu *vcpu, int r)
{
	if (!vcpu->arch.has_run) {
		kvm_vcpu_cpuid_free(vcpu);
		kvm_vcpu_after_set_cpuid(vcpu);
	}
	return r;
}

/* Takes ownership of @entries (a kvmalloc'ed table of @nent entries). */
static int kvm_set_cpuid(struct kvm_vcpu *vcpu,
			 struct kvm_cpuid_entry2 *entries, int nent)
{
	struct kvm_cpuid_runtime rt;
	int i, r;

	for (i = 0; i < nent; i++)
		memset(entries[i].padding, 0, sizeof(entries[i].padding));

	/*
	 * Once the vCPU has run, its model cannot change under the guest:
	 * only the very same table is accepted again (as on Linux).
	 */
	if (vcpu->arch.has_run) {
		kvm_cpuid_runtime_state(vcpu, &rt);
		kvm_cpuid_update_runtime(entries, nent, &rt, &host_layout);
		r = cpuid_tables_equal(entries, nent, vcpu->arch.cpuid_entries,
				       vcpu->arch.cpuid_nent) ? 0 : -EINVAL;
		kvfree(entries);
		return r;
	}

	r = kvm_cpuid_check(entries, nent);
	kvm_vcpu_cpuid_free(vcpu);
	if (r) {
		/* Never half-applied: the vCPU is left with no entries. */
		kvfree(entries);
		kvm_vcpu_after_set_cpuid(vcpu);
		return r;
	}

	vcpu->arch.cpuid_entries = entries;
	vcpu->arch.cpuid_nent = nent;
	kvm_vcpu_cpuid_runtime(vcpu);
	kvm_vcpu_after_set_cpuid(vcpu);
	return 0;
}

int kvm_vcpu_ioctl_set_cpuid2(struct kvm_vcpu *vcpu,
			      struct kvm_cpuid2 __user *ucpuid)
{
	struct kvm_cpuid_entry2 *entries = NULL;
	struct kvm_cpuid2 cpuid;

	if (copy_from_user(&cpuid, ucpuid, sizeof(cpuid)))
		return kvm_set_cpuid_failed(vcpu, -EFAULT);
	if (cpuid.nent > KVM_MAX_CPUID_ENTRIES)
		return kvm_set_cpuid_failed(vcpu, -E2BIG);
	if (cpuid.nent) {
		entries = vmemdup_user(ucpuid->entries,
				       array_size(sizeof(*entries), cpuid.nent));
		if (IS_ERR(entries))
			return kvm_set_cpuid_failed(vcpu, PTR_ERR(entries));
	}
	return kvm_set_cpuid(vcpu, entries, cpuid.nent);
}

int kvm_vcpu_ioctl_set_cpuid(struct kvm_vcpu *vcpu,
			     struct kvm_cpuid __user *ucpuid)
{
	struct kvm_cpuid_entry2 *entries = NULL;
	struct kvm_cpuid_entry *old;
	struct kvm_cpuid cpuid;
	u32 i;

	if (copy_from_user(&cpuid, ucpuid, sizeof(cpuid)))
		return kvm_set_cpuid_failed(vcpu, -EFAULT);
	if (cpuid.nent > KVM_MAX_CPUID_ENTRIES)
		return kvm_set_cpuid_failed(vcpu, -E2BIG);
	if (cpuid.nent) {
		old = vmemdup_user(ucpuid->entries,
				   array_size(sizeof(*old), cpuid.nent));
		if (IS_ERR(old))
			return kvm_set_cpuid_failed(vcpu, PTR_ERR(old));
		entries = kvcalloc(cpuid.nent, sizeof(*entries),
				   GFP_KERNEL_ACCOUNT);
		if (!entries) {
			kvfree(old);
			return kvm_set_cpuid_failed(vcpu, -ENOMEM);
		}
		for (i = 0; i < cpuid.nent; i++) {
			entries[i].function = old[i].function;
			entries[i].eax = old[i].eax;
			entries[i].ebx = old[i].ebx;
			entries[i].ecx = old[i].ecx;
			entries[i].edx = old[i].edx;
		}
		kvfree(old);
	}
	return kvm_set_cpuid(vcpu, entries, cpuid.nent);
}

int kvm_vcpu_ioctl_get_cpuid2(struct kvm_vcpu *vcpu,
			      struct kvm_cpuid2 __user *ucpuid)
{
	struct kvm_cpuid2 cpuid;

	if (copy_from_user(&cpuid, ucpuid, sizeof(cpuid)))
		return -EFAULT;
	if (cpuid.nent < vcpu->arch.cpuid_nent)
		return -E2BIG;
	kvm_vcpu_cpuid_runtime(vcpu);
	if (copy_to_user(ucpuid->entries, vcpu->arch.cpuid_entries,
			 vcpu->arch.cpuid_nent * sizeof(struct kvm_cpuid_entry2)))
		return -EFAULT;
	/*
	 * Only on success is the header written back (never with E2BIG):
	 * up to 6.4 exactly as userspace passed it, from 6.5 on with nent
	 * the number of entries.
	 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	cpuid.nent = vcpu->arch.cpuid_nent;
#endif
	return copy_to_user(ucpuid, &cpuid, sizeof(cpuid)) ? -EFAULT : 0;
}

/* Does the guest's CPUID say AuthenticAMD or HygonGenuine? */
bool kvm_guest_cpuid_is_amd(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid_entry2 *e;

	e = kvm_cpuid_find(vcpu->arch.cpuid_entries, vcpu->arch.cpuid_nent,
			   0, 0);
	if (!e)
		return false;
	return (e->ebx == 0x68747541 && e->edx == 0x69746e65 &&
		e->ecx == 0x444d4163) ||
	       (e->ebx == 0x6f677948 && e->edx == 0x6e65476e &&
		e->ecx == 0x656e6975);
}

bool kvm_guest_cpuid_has(struct kvm_vcpu *vcpu, u32 function, u32 index,
			 int reg, u32 bit)
{
	struct kvm_cpuid_entry2 *e;
	u32 val;

	e = kvm_cpuid_find(vcpu->arch.cpuid_entries, vcpu->arch.cpuid_nent,
			   function, index);
	if (!e)
		return false;
	switch (reg) {
	case CPUID_EAX:
		val = e->eax;
		break;
	case CPUID_EBX:
		val = e->ebx;
		break;
	case CPUID_ECX:
		val = e->ecx;
		break;
	default:
		val = e->edx;
		break;
	}
	return val & bit;
}

/* The guest executed CPUID (kvm_cpuid_lookup() has the rules). */
void kvm_cpuid_query(struct kvm_vcpu *vcpu, u32 *eax, u32 *ebx, u32 *ecx,
		     u32 *edx)
{
	u32 function = *eax, index = *ecx;
	const struct kvm_cpuid_model *m = &vcpu->arch.model;
	struct kvm_cpuid_entry2 *e;

	/* The guest changes CR4 without exiting: catch up if it did. */
	if ((vcpu->arch.cr4 ^ vcpu->arch.cpuid_cr4) &
	    (NKVM_CR4_OSXSAVE | NKVM_CR4_PKE))
		kvm_vcpu_cpuid_runtime(vcpu);

	e = kvm_cpuid_lookup(vcpu->arch.cpuid_entries, vcpu->arch.cpuid_nent,
			     m, function, index);
	if (e) {
		*eax = e->eax;
		*ebx = e->ebx;
		*ecx = e->ecx;
		*edx = e->edx;
	} else {
		*eax = *ebx = *ecx = *edx = 0;
	}
}
#endif /* !NKVM_USERSPACE */
