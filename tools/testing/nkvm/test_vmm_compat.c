// SPDX-License-Identifier: GPL-2.0
/*
 * test_vmm_compat.c - the ioctl sequences of VMMs that are not part of this
 * project, replayed as those VMMs issue them, with what each of them needs
 * from KVM asserted.  One test per VMM flavour:
 *
 * firecracker_boot_setup
 *	Capabilities Firecracker refuses to start without (IRQCHIP, IOEVENTFD,
 *	IRQFD, USER_MEMORY, SET_TSS_ADDR, PIT2, PIT_STATE2, ADJUST_CLOCK,
 *	DEBUGREGS, MP_STATE, VCPU_EVENTS, XCRS, XSAVE, EXT_CPUID all non-zero);
 *	KVM_GET_SUPPORTED_CPUID with nent 80 (KVM_MAX_CPUID_ENTRIES) and the
 *	leaves its CPUID normalisation fails without (0, 1, 0x80000005,
 *	0x80000006; on AMD also 7.0, 0x80000000, 0x80000001, 0x80000008 and
 *	the brand string), patched as it patches them and taken back by
 *	KVM_SET_CPUID2; KVM_SET_TSS_ADDR 0xfffbd000, KVM_CREATE_IRQCHIP,
 *	KVM_CREATE_PIT2 with KVM_PIT_SPEAKER_DUMMY (port 0x61 never exits),
 *	the ten boot MSRs (KVM_SET_MSRS must set all of them), KVM_SET_REGS,
 *	KVM_SET_FPU, KVM_GET_SREGS/KVM_SET_SREGS into long mode (its GDT at
 *	0x500, IDT at 0x520, page tables at 0x9000-0xb000, CR0.CD/NW left as
 *	reset left them), LINT0 = ExtINT and LINT1 = NMI through
 *	KVM_GET_LAPIC/KVM_SET_LAPIC, an IOAPIC route in KVM_SET_GSI_ROUTING, an
 *	irqfd on it, and an MMIO ioeventfd with a 4-byte datamatch (virtio-mmio
 *	QueueNotify).  The guest then takes a TSC-deadline LAPIC timer
 *	interrupt and an irqfd interrupt through the IOAPIC in HLT.
 *
 * firecracker_snapshot_roundtrip
 *	The same VM, paused at an I/O exit (immediate_exit), saved the way
 *	Firecracker saves it: MP_STATE, REGS, SREGS, XSAVE (KVM_GET_XSAVE2 with
 *	the KVM_CAP_XSAVE2 size when that is non-zero), XCRS, DEBUGREGS, LAPIC,
 *	TSC_KHZ, CPUID2 (nent 80), the MSRs of KVM_GET_MSR_INDEX_LIST within
 *	its list of serialisable ranges plus the MTRR/PAT, MCE-bank (0x400-
 *	0x47f) and BNDCFGS MSRs its CPUID implies, read in chunks of 256 with
 *	KVM_GET_MSRS, which must return every MSR asked for (Firecracker fails
 *	the snapshot otherwise), VCPU_EVENTS; then PIT2, CLOCK (TSC_STABLE
 *	cleared) and the three IRQCHIPs.  Restored into a fresh VM in its
 *	order (CPUID2, MP_STATE, REGS, SREGS, XSAVE, XCRS, DEBUGREGS, LAPIC,
 *	MSRs with TSC_DEADLINE last, each KVM_SET_MSRS setting all, VCPU_EVENTS,
 *	KVMCLOCK_CTRL; then SET_PIT2, SET_CLOCK, SET_IRQCHIP x3), the guest
 *	goes on: its pending TSC-deadline timer fires (so the MSR index list
 *	must hold IA32_TSC_DEADLINE), an irqfd interrupt arrives through the
 *	restored IOAPIC, its registers, XMM state, MSRs and kvmclock page are
 *	intact, and the page has PVCLOCK_GUEST_STOPPED set.
 *
 * cloud_hypervisor_setup
 *	Cloud Hypervisor's required capabilities (ADJUST_CLOCK, EXT_CPUID,
 *	GET_TSC_KHZ, IMMEDIATE_EXIT, IOEVENTFD, IRQCHIP, IRQFD, IRQ_ROUTING,
 *	MP_STATE, SET_IDENTITY_MAP_ADDR, SET_TSS_ADDR, SPLIT_IRQCHIP,
 *	TSC_DEADLINE_TIMER, USER_MEMORY, USER_NMI, VCPU_EVENTS, XSAVE), the
 *	whole KVM_GET_MSR_INDEX_LIST, KVM_SET_IDENTITY_MAP_ADDR 0xfffbc000,
 *	KVM_SET_TSS_ADDR 0xfffbd000, KVM_ENABLE_CAP(SPLIT_IRQCHIP, 24) and
 *	X2APIC_API (32-bit IDs, no broadcast quirk); MSI routes for the
 *	userspace IOAPIC's pins, irqfds on them (an edge and a level one: the
 *	guest's EOI of the level one must come back as KVM_EXIT_IOAPIC_EOI),
 *	an any-length MMIO ioeventfd (virtio-pci notify); its vCPU state save
 *	(GET_CPUID2, MP_STATE, REGS, SREGS, XSAVE, XCRS, LAPIC, FPU, the whole
 *	MSR list with its skip-the-failing-MSR retry, VCPU_EVENTS, TSC_KHZ)
 *	and restore into a fresh VM, which runs on.  HLT must never reach
 *	userspace (Cloud Hypervisor takes KVM_EXIT_HLT for a reset).
 *
 * kvmtool_setup
 *	kvmtool's required capabilities (COALESCED_MMIO, SET_TSS_ADDR, PIT2,
 *	USER_MEMORY, IRQ_ROUTING, IRQCHIP, HLT, IRQ_INJECT_STATUS, EXT_CPUID),
 *	KVM_SET_TSS_ADDR, KVM_CREATE_IRQCHIP, then KVM_CREATE_PIT2 with flags 0
 *	(port 0x61 exits; Linux refuses a PIT before the PIC), its GSI routing
 *	table (PIC master 0-7 but 2, slave 8-15, IOAPIC 0 -> pin 2 and 1-23
 *	but 2), the coalesced MMIO ring at
 *	the page KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) names,
 *	KVM_GET_SUPPORTED_CPUID with nent 100, its real-mode boot state
 *	(selector 0x1000, base 0x10000, IP 0x200), KVM_SET_FPU, KVM_SET_MSRS,
 *	and a PIC interrupt raised with KVM_IRQ_LINE in real mode.
 *
 * kvm_ioctls_crate_expectations
 *	What rust-vmm's kvm-ioctls crate asserts about KVM in its own tests:
 *	API 12, NR_VCPUS >= 4 or the CPU count, MAX_VCPUS >= NR_VCPUS,
 *	NR_MEMSLOTS >= 32, CPUID lists, MSR index and feature lists (readable
 *	through /dev/kvm), TSS and identity-map addresses (the latter refused
 *	once a vCPU exists), PIC state and PIT2 state round trips, KVM_SET_CLOCK,
 *	irqfd and ioeventfd registration semantics, GSI routing refused before
 *	the irqchip exists, vCPU state round trips, KVM_TRANSLATE, and its
 *	real-mode "run code" test with single-stepping (DR6 low bits 0x4ff0,
 *	DR7 0x400), I/O and MMIO exits, HLT and a dirty log of exactly two
 *	pages.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "vm.h"

/* ------------------------------------------------------------------ */
/* Constants of the VMMs (their ABI choices, not ours)                 */

#define VMM_TSS_ADDR		0xfffbd000UL
#define VMM_IDENTITY_MAP_ADDR	0xfffbc000UL
#define VMM_MAX_CPUID_ENTRIES	80	/* kvm-bindings' KVM_MAX_CPUID_ENTRIES */
#define VMM_MAX_MSR_ENTRIES	256	/* kvm-bindings' KVM_MAX_MSR_ENTRIES */
#define KVMTOOL_CPUID_ENTRIES	100

/* Firecracker's boot layout (arch/x86_64/layout.rs, regs.rs). */
#define FC_GDT		0x500
#define FC_IDT		0x520
#define FC_ZERO_PAGE	0x7000
#define FC_STACK	0x8ff0
#define FC_PML4		0x9000
#define FC_PDPTE	0xa000
#define FC_PDE		0xb000

/* Our guests' own tables and data (what a guest kernel would set up). */
#define G_PDE_HIGH	0xc000		/* 2 MiB pages for 3-4 GiB (APICs) */
#define G_IDT		0x3000
#define G_IDTR		0x4000
#define G_TIMER_CNT	0x4100
#define G_IRQ_CNT	0x4104
#define G_LVL_CNT	0x4108
#define G_PVCLOCK	0x4200
#define G_DEADLINE	0x4300		/* TSC ticks to the timer, from the host */
#define G_MEM		0x400000UL	/* 4 MiB of guest RAM */

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2	231
#endif

/* Entries of the coalesced MMIO ring page (x86's 4 KiB pages). */
#define COALESCED_MAX	((4096 - sizeof(struct kvm_coalesced_mmio_ring)) / \
			 sizeof(struct kvm_coalesced_mmio))

#define SERIAL_PORT	0x3f8
#define MMIO_NOTIFY	0x30000050UL	/* a virtio-mmio QueueNotify */
#define PCI_NOTIFY	0x30001000UL	/* a virtio-pci notify address */

#define VEC_TIMER	0xec
#define VEC_IRQ		0x24
#define VEC_LEVEL	0x25
#define VEC_SPURIOUS	0xff

#define MSR_IA32_TSC		0x10
#define MSR_IA32_APICBASE	0x1b
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_IA32_TSC_DEADLINE	0x6e0
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102

#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define APIC_SPIV	0xf0
#define APIC_LVTT	0x320
#define APIC_ID		0x20

/* ------------------------------------------------------------------ */
/* Guest code                                                          */

#define G_OUT(c)							\
	"mov $" #c ", %al\n"						\
	"mov $" XSTR(SERIAL_PORT) ", %dx\n"				\
	"out %al, %dx\n"

/* Wait with interrupts on until the counter at @cnt is non-zero. */
#define G_WAIT(cnt)							\
	"1:\n"								\
	"cli\n"								\
	"cmpl $0, " cnt "\n"						\
	"jne 2f\n"							\
	"sti\n"								\
	"hlt\n"								\
	"jmp 1b\n"							\
	"2:\n"

#define G_LAPIC_ON							\
	"mov $0xfee00000, %esi\n"					\
	"movl $0x1ff, 0xf0(%rsi)\n"

/* LVT timer in TSC-deadline mode; deadline = TSC + the host's delta. */
#define G_TIMER_ARM							\
	"movl $(0x40000 | " XSTR(VEC_TIMER) "), 0x320(%rsi)\n"		\
	"rdtsc\n"							\
	"shl $32, %rdx\n"						\
	"or %rdx, %rax\n"						\
	"add " XSTR(G_DEADLINE) ", %rax\n"				\
	"mov %rax, %rdx\n"						\
	"shr $32, %rdx\n"						\
	"mov $0x6e0, %ecx\n"						\
	"wrmsr\n"

/* IOAPIC pin 4: vector VEC_IRQ, fixed, physical, edge, unmasked, to 0. */
#define G_IOAPIC_PIN4							\
	"mov $0xfec00000, %edi\n"					\
	"movl $0x18, (%rdi)\n"						\
	"movl $" XSTR(VEC_IRQ) ", 0x10(%rdi)\n"				\
	"movl $0x19, (%rdi)\n"						\
	"movl $0, 0x10(%rdi)\n"

#define G_ISR(name, cnt)						\
	#name ":\n"							\
	"incl " cnt "\n"						\
	"push %rsi\n"							\
	"mov $0xfee00000, %esi\n"					\
	"movl $0, 0xb0(%rsi)\n"						\
	"pop %rsi\n"							\
	"iretq\n"

GUEST_SYM(fc_timer_isr);
GUEST_SYM(fc_irq_isr);
GUEST_SYM(fc_spurious_isr);
GUEST_CODE64(fc_guest,
	"lidt " XSTR(G_IDTR) "\n"
	G_OUT(0x46)			/* 'F' */
	"in $0x61, %al\n"		/* the speaker port: no exit */
	"out %al, $0x61\n"
	G_OUT(0x53)			/* 'S' */
	"movl $0, " XSTR(MMIO_NOTIFY) "\n"	/* queue 0: the ioeventfd */
	"movl $1, " XSTR(MMIO_NOTIFY) "\n"	/* queue 1: an MMIO exit */
	G_LAPIC_ON
	G_TIMER_ARM
	G_WAIT(XSTR(G_TIMER_CNT))
	G_OUT(0x54)			/* 'T' */
	G_IOAPIC_PIN4
	G_OUT(0x52)			/* 'R': raise the irqfd now */
	G_WAIT(XSTR(G_IRQ_CNT))
	G_OUT(0x49)			/* 'I' */
	"3:\n"
	G_OUT(0x44)			/* 'D' */
	"jmp 3b\n"
	G_ISR(fc_timer_isr, XSTR(G_TIMER_CNT))
	G_ISR(fc_irq_isr, XSTR(G_IRQ_CNT))
	"fc_spurious_isr:\n"
	"iretq\n"
);

GUEST_SYM(snap_timer_isr);
GUEST_SYM(snap_irq_isr);
GUEST_SYM(snap_spurious_isr);
GUEST_CODE64(snap_guest,
	"lidt " XSTR(G_IDTR) "\n"
	/* kvmclock on, and MSRs a Linux guest writes */
	"mov $0x4b564d01, %ecx\n"
	"mov $(" XSTR(G_PVCLOCK) " | 1), %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	"mov $0xc0000082, %ecx\n"
	"mov $0x81e00010, %eax\n"
	"mov $0xffffffff, %edx\n"
	"wrmsr\n"
	"mov $0xc0000102, %ecx\n"
	"mov $0x00001000, %eax\n"
	"mov $0xffff8880, %edx\n"
	"wrmsr\n"
	"mov %cr4, %rax\n"		/* OSFXSR | OSXMMEXCPT */
	"or $0x600, %rax\n"
	"mov %rax, %cr4\n"
	G_LAPIC_ON
	G_TIMER_ARM
	G_IOAPIC_PIN4
	"mov $0x0123456789abcdef, %r12\n"
	"mov %r12, 0x4400\n"
	"mov %r12, 0x4408\n"
	"movdqu 0x4400, %xmm3\n"
	G_OUT(0x50)			/* 'P': the snapshot is taken here */
	G_WAIT(XSTR(G_TIMER_CNT))
	G_OUT(0x54)			/* 'T' */
	G_OUT(0x52)			/* 'R' */
	G_WAIT(XSTR(G_IRQ_CNT))
	G_OUT(0x49)			/* 'I' */
	"mov $0xc0000082, %ecx\n"
	"rdmsr\n"
	"cmp $0x81e00010, %eax\n"
	"jne 4f\n"
	"cmp $0xffffffff, %edx\n"
	"jne 4f\n"
	"movq $0, 0x4410\n"
	"movdqu %xmm3, 0x4410\n"
	"mov 0x4410, %rax\n"
	"cmp %r12, %rax\n"
	"jne 4f\n"
	"mov $0x0123456789abcdef, %rax\n"
	"cmp %rax, %r12\n"
	"jne 4f\n"
	"mov " XSTR(G_PVCLOCK) ", %eax\n"	/* version: non-zero, even */
	"test %eax, %eax\n"
	"jz 4f\n"
	"test $1, %eax\n"
	"jnz 4f\n"
	/* PVCLOCK_GUEST_STOPPED, from KVM_KVMCLOCK_CTRL */
	"testb $2, (" XSTR(G_PVCLOCK) " + 29)\n"
	"jz 4f\n"
	"3:\n"
	G_OUT(0x44)			/* 'D' */
	"jmp 3b\n"
	"4:\n"
	G_OUT(0x58)			/* 'X' */
	"jmp 4b\n"
	G_ISR(snap_timer_isr, XSTR(G_TIMER_CNT))
	G_ISR(snap_irq_isr, XSTR(G_IRQ_CNT))
	"snap_spurious_isr:\n"
	"iretq\n"
);

GUEST_SYM(ch_irq_isr);
GUEST_SYM(ch_level_isr);
GUEST_SYM(ch_spurious_isr);
GUEST_CODE64(ch_guest,
	"lidt " XSTR(G_IDTR) "\n"
	G_LAPIC_ON
	G_OUT(0x52)			/* 'R': edge MSI irqfd */
	G_WAIT(XSTR(G_IRQ_CNT))
	G_OUT(0x49)			/* 'I' */
	G_OUT(0x4c)			/* 'L': level MSI irqfd */
	G_WAIT(XSTR(G_LVL_CNT))
	G_OUT(0x4a)			/* 'J' */
	"movw $0, " XSTR(PCI_NOTIFY) "\n"	/* the ioeventfd, no exit */
	G_OUT(0x4e)			/* 'N' */
	"3:\n"
	G_OUT(0x44)			/* 'D' */
	"jmp 3b\n"
	G_ISR(ch_irq_isr, XSTR(G_IRQ_CNT))
	G_ISR(ch_level_isr, XSTR(G_LVL_CNT))
	"ch_spurious_isr:\n"
	"iretq\n"
);

/* kvmtool: real mode at 0x1000:0x200, every segment 0x1000. */
#define KT_SEL		0x1000
#define KT_IP		0x200
#define KT_CNT		0x7000		/* ds:0x7000 */
GUEST_SYM(kt_isr);
GUEST_CODE(kt_guest,
	"mov $0x3f8, %dx\n"
	"mov $0x4b, %al\n"		/* 'K' */
	"out %al, %dx\n"
	"in $0x61, %al\n"		/* no speaker dummy: an exit */
	"mov $0xa000, %ax\n"		/* coalesced MMIO at 0xa0000 */
	"mov %ax, %es\n"
	"movb $0x5a, %es:0\n"
	"movb $0x5b, %es:1\n"
	"movb $0x5c, %es:2\n"
	"mov $0x43, %al\n"		/* 'C' */
	"out %al, %dx\n"
	/* the in-kernel 8259: vectors 8-15, only IRQ 4 unmasked */
	"mov $0x11, %al\n"
	"out %al, $0x20\n"
	"mov $0x08, %al\n"
	"out %al, $0x21\n"
	"mov $0x04, %al\n"
	"out %al, $0x21\n"
	"mov $0x01, %al\n"
	"out %al, $0x21\n"
	"mov $0xef, %al\n"
	"out %al, $0x21\n"
	"mov $0x52, %al\n"		/* 'R': KVM_IRQ_LINE 4 now */
	"out %al, %dx\n"
	"1:\n"
	"cli\n"
	"cmpb $0, (" XSTR(KT_CNT) ")\n"
	"jne 2f\n"
	"sti\n"
	"hlt\n"
	"jmp 1b\n"
	"2:\n"
	"mov $0x49, %al\n"		/* 'I' */
	"out %al, %dx\n"
	"3:\n"
	"mov $0x44, %al\n"		/* 'D' */
	"out %al, %dx\n"
	"jmp 3b\n"
	"kt_isr:\n"
	"push %ax\n"
	"incb (" XSTR(KT_CNT) ")\n"
	"mov $0x20, %al\n"
	"out %al, $0x20\n"
	"pop %ax\n"
	"iret\n"
);

/* kvm-ioctls' test_run_code guest, at 0x1000 in real mode. */
GUEST_CODE(crate_guest,
	"mov $0x3f8, %dx\n"
	"add %bl, %al\n"
	"add $0x30, %al\n"
	"out %al, %dx\n"
	"in %dx, %al\n"
	"movb $0, (0x8000)\n"
	"mov (0x8000), %dl\n"
	"movb $0, (0x2000)\n"
	"hlt\n"
);

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void require_caps(int fd, const long *caps, const char *const *names,
			 int n)
{
	for (int i = 0; i < n; i++) {
		int r = ioctl(fd, KVM_CHECK_EXTENSION, caps[i]);

		if (r <= 0)
			TH_LOG("capability %s (%ld) missing: %d", names[i],
			       caps[i], r);
		ASSERT_GT(r, 0);
	}
}

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/*
 * Does the kernel KVM runs on use XSAVE (the "xsave" flag of
 * /proc/cpuinfo)?  Without it Linux offers no KVM_CAP_XCRS and refuses
 * KVM_SET_XCRS.  Bochs' VMX bed reports XSAVE in CPUID, but the kernel
 * turns it off at boot.
 */
static bool host_has_xsave(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool yes = false;

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5)) {
			yes = strstr(line, " xsave ") || strstr(line, " xsave\n");
			break;
		}
	fclose(f);
	return yes;
}

static bool vendor_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	/* "AuthenticAMD" / "HygonGenuine" take Firecracker's AMD path */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

/* KVM_GET_SUPPORTED_CPUID with exactly @nent entries of room. */
static struct kvm_cpuid2 *supported_cpuid_n(int kvm_fd, int nent, int room)
{
	struct kvm_cpuid2 *c = cpuid_alloc(room);

	c->nent = nent;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
		TH_LOG("KVM_GET_SUPPORTED_CPUID(nent %d): %s", nent,
		       strerror(errno));
	ASSERT_OK(ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c));
	ASSERT_GT(c->nent, 0);
	ASSERT_LE(c->nent, nent);
	return c;
}

static struct kvm_cpuid_entry2 *need_leaf(struct kvm_cpuid2 *c, uint32_t f,
					  uint32_t i)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, f, i);

	if (!e)
		TH_LOG("KVM_GET_SUPPORTED_CPUID lacks leaf %#x.%u", f, i);
	ASSERT_TRUE(e != NULL);
	return e;
}

static void set_bits(uint32_t *x, int lo, int hi, uint32_t v)
{
	uint32_t mask = (hi - lo == 31) ? ~0u : (((1u << (hi - lo + 1)) - 1) << lo);

	*x = (*x & ~mask) | ((v << lo) & mask);
}

/*
 * Firecracker's CPUID normalisation for vCPU 0 of 1 (cpuid/normalize.rs and
 * amd/normalize.rs), on the table KVM_GET_SUPPORTED_CPUID gave; the table
 * has room for the entries added.
 */
static void fc_normalize_cpuid(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e;
	uint32_t h[4];

	e = need_leaf(c, 0, 0);
	e = need_leaf(c, 1, 0);
	set_bits(&e->ebx, 8, 15, 8);		/* CLFLUSH line size */
	set_bits(&e->ebx, 16, 23, 1);		/* max logical CPUs */
	set_bits(&e->ebx, 24, 31, 0);		/* initial APIC ID */
	e->ecx &= ~(1u << 15);			/* PDCM */
	e->ecx |= 1u << 24;			/* TSC-deadline */
	e->ecx |= 1u << 31;			/* hypervisor */
	e->edx &= ~(1u << 28);			/* HTT: one CPU */

	if (!cpuid_find(c, 0xb, 1))
		cpuid_add(c, 0xb, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 0, 0);
	for (uint32_t i = 0; (e = cpuid_find(c, 0xb, i)); i++) {
		e->eax = e->ebx = e->ecx = 0;
		e->edx = 0;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (i == 0) {
			e->ebx = 1;
			e->ecx = 1 << 8;
		} else if (i == 1) {
			e->eax = 5;		/* 32 vCPUs at most */
			e->ebx = 1;
			e->ecx = 1 | (2 << 8);
		} else {
			e->ecx = i;
		}
	}

	e = need_leaf(c, 0x80000005, 0);
	host_cpuid(0x80000005, 0, h);
	e->eax = h[0], e->ebx = h[1], e->ecx = h[2], e->edx = h[3];
	e = need_leaf(c, 0x80000006, 0);
	host_cpuid(0x80000006, 0, h);
	e->eax = h[0], e->ebx = h[1], e->ecx = h[2], e->edx = h[3] & ~0x30000u;

	if (!vendor_amd(c))
		return;
	host_cpuid(0, 0, h);
	if (h[1] == 0x68747541) {	/* the host is AMD too: pass-through */
		host_cpuid(0x8000001e, 0, h);
		if (!cpuid_find(c, 0x8000001e, 0))
			cpuid_add(c, 0x8000001e, 0, 0, h[0], h[1], h[2], h[3]);
		for (uint32_t i = 0; i < 8; i++) {
			host_cpuid(0x8000001d, i, h);
			if (!(h[0] & 0xf))
				break;
			if (!cpuid_find(c, 0x8000001d, i))
				cpuid_add(c, 0x8000001d, i,
					  KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					  h[0], h[1], h[2], h[3]);
		}
	}
	e = need_leaf(c, 7, 0);
	e->edx &= ~(1u << 29);			/* no ARCH_CAPABILITIES */
	e = need_leaf(c, 0x80000000, 0);
	e->eax = 0x8000001f;
	e = need_leaf(c, 0x80000001, 0);
	e->ecx |= 1u << 22;			/* topology extensions */
	e = need_leaf(c, 0x80000008, 0);
	set_bits(&e->ecx, 12, 15, 7);
	set_bits(&e->ecx, 0, 7, 0);
	if ((e = cpuid_find(c, 0x8000001e, 0))) {
		e->eax = 0;			/* extended APIC ID */
		set_bits(&e->ebx, 0, 7, 0);
		set_bits(&e->ebx, 8, 15, 0);
	}
	for (uint32_t f = 0x80000002; f <= 0x80000004; f++) {
		static const char brand[48] = "AMD EPYC";

		e = need_leaf(c, f, 0);
		memcpy(&e->eax, brand + (f - 0x80000002) * 16, 16);
	}
}

static bool cpuid_bit(struct kvm_cpuid2 *c, uint32_t f, uint32_t i, int reg,
		      int bit)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, f, i);
	uint32_t v;

	if (!e)
		return false;
	v = reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
	return v & (1u << bit);
}

/* Firecracker's guest memory: one slot at 0, the boot tables written. */
struct fc_vm {
	struct vm *vm;
	struct vcpu *vcpu;
	struct kvm_cpuid2 *cpuid;	/* what KVM_SET_CPUID2 took */
	uint32_t *save_list;		/* msrs_to_save */
	int nsave;
};

static void write64(struct vm *vm, uint64_t gpa, uint64_t v)
{
	vm_write(vm, gpa, &v, 8);
}

/* Page tables: Firecracker's 1 GiB identity map plus 3-4 GiB (APICs). */
static void fc_write_tables(struct vm *vm)
{
	write64(vm, FC_PML4, FC_PDPTE | 3);
	write64(vm, FC_PDPTE, FC_PDE | 3);
	for (uint64_t i = 0; i < 512; i++)
		write64(vm, FC_PDE + i * 8, (i << 21) | 0x83);
	write64(vm, FC_PDPTE + 3 * 8, G_PDE_HIGH | 3);
	for (uint64_t i = 0; i < 512; i++)
		write64(vm, G_PDE_HIGH + i * 8, ((3ULL << 30) + (i << 21)) | 0x9b);
}

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) |
	       ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) |
	       ((uint64_t)(base & 0xffffff) << 16) | (limit & 0xffff);
}

static struct kvm_segment seg_from_gdt(uint64_t e, uint16_t sel)
{
	struct kvm_segment s = {
		.base = ((e >> 16) & 0xffffff) | ((e >> 32) & 0xff000000),
		.selector = sel,
		.type = (e >> 40) & 0xf,
		.s = (e >> 44) & 1,
		.dpl = (e >> 45) & 3,
		.present = (e >> 47) & 1,
		.avl = (e >> 52) & 1,
		.l = (e >> 53) & 1,
		.db = (e >> 54) & 1,
		.g = (e >> 55) & 1,
	};
	uint32_t limit = (e & 0xffff) | ((e >> 32) & 0xf0000);

	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	s.unusable = !s.present;
	return s;
}

/* IDT gates for the guest's handlers, and its IDTR image. */
static void guest_idt(struct vm *vm, const uint64_t *vec, const uint64_t *isr,
		      int n)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		.limit = 256 * 16 - 1, .base = G_IDT,
	};

	for (int i = 0; i < n; i++) {
		uint64_t lo = (isr[i] & 0xffff) | (0x8ULL << 16) |
			      (0x8eULL << 40) | ((isr[i] & 0xffff0000) << 32);

		write64(vm, G_IDT + vec[i] * 16, lo);
		write64(vm, G_IDT + vec[i] * 16 + 8, isr[i] >> 32);
	}
	vm_write(vm, G_IDTR, &idtr, sizeof(idtr));
}

/* Firecracker's create_boot_msr_entries(), through KVM_SET_MSRS. */
static const struct { uint32_t index; uint64_t data; } fc_boot_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
	{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
	{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, 1 },
};

static struct kvm_msrs *msrs_alloc(int n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));

	ASSERT_TRUE(m != NULL);
	m->nmsrs = n;
	return m;
}

static int set_boot_msrs(struct vcpu *vcpu, bool mtrr_def_type)
{
	int n = sizeof(fc_boot_msrs) / sizeof(fc_boot_msrs[0]);
	struct kvm_msrs *m = msrs_alloc(n + 1);
	int r;

	for (int i = 0; i < n; i++) {
		m->entries[i].index = fc_boot_msrs[i].index;
		m->entries[i].data = fc_boot_msrs[i].data;
	}
	if (mtrr_def_type) {	/* Cloud Hypervisor adds MTRRdefType = E | WB */
		m->entries[n].index = MSR_MTRR_DEF_TYPE;
		m->entries[n].data = 0x800 | 6;
		n++;
	}
	m->nmsrs = n;
	r = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	if (r != n)
		TH_LOG("KVM_SET_MSRS of the boot MSRs: %d of %d", r, n);
	free(m);
	return r == n ? 0 : -1;
}

/* regs.rs: setup_fpu, setup_regs, setup_sregs (64-bit), interrupts.rs. */
static void fc_boot_cpu(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	uint64_t gdt[4] = {
		0,
		gdt_entry(0xa09b, 0, 0xfffff),
		gdt_entry(0xc093, 0, 0xfffff),
		gdt_entry(0x808b, 0, 0xfffff),
	};
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_regs regs = {
		.rflags = 2, .rip = CODE_ADDR, .rsp = FC_STACK, .rbp = FC_STACK,
		.rsi = FC_ZERO_PAGE,
	};
	struct kvm_lapic_state lapic;
	struct kvm_sregs sregs;
	uint32_t *lvt0 = (uint32_t *)&lapic.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)&lapic.regs[APIC_LVT1];

	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_REGS, &regs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_FPU, &fpu));

	vm_write(vm, FC_GDT, gdt, sizeof(gdt));
	write64(vm, FC_IDT, 0);
	fc_write_tables(vm);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_SREGS, &sregs));
	sregs.gdt.base = FC_GDT;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = FC_IDT;
	sregs.idt.limit = 7;
	sregs.cs = seg_from_gdt(gdt[1], 0x08);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
		seg_from_gdt(gdt[2], 0x10);
	sregs.tr = seg_from_gdt(gdt[3], 0x18);
	sregs.cr0 |= 1;			/* PE */
	sregs.efer |= 0x500;		/* LME | LMA */
	sregs.cr3 = FC_PML4;
	sregs.cr4 |= 0x20;		/* PAE */
	sregs.cr0 |= 0x80000000;	/* PG */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SREGS, &sregs));

	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic));
	*lvt0 = (*lvt0 & ~0x700u) | (7 << 8);	/* ExtINT */
	*lvt1 = (*lvt1 & ~0x700u) | (4 << 8);	/* NMI */
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic));
}

/* Firecracker's SERIALIZABLE_MSR_RANGES (arch/x86_64/msr.rs). */
static const struct { uint32_t base, n; } fc_ranges[] = {
	{ 0x0, 1 }, { 0x1, 1 }, { 0x10, 1 }, { 0x17, 1 }, { 0x1b, 1 },
	{ 0x2a, 1 }, { 0x2c, 1 }, { 0x34, 1 }, { 0x3a, 1 }, { 0x3b, 1 },
	{ 0x48, 1 }, { 0x49, 1 }, { 0x79, 1 }, { 0x8b, 1 }, { 0x9e, 1 },
	{ 0xcd, 1 }, { 0xce, 1 }, { 0xe2, 1 }, { 0xe7, 1 }, { 0xe8, 1 },
	{ 0xfe, 1 }, { 0x11e, 1 }, { 0x174, 1 }, { 0x175, 1 }, { 0x176, 1 },
	{ 0x179, 1 }, { 0x17a, 1 }, { 0x17b, 1 }, { 0x198, 1 }, { 0x1a0, 1 },
	{ 0x1a4, 1 }, { 0x1aa, 1 }, { 0x1ad, 1 }, { 0x1ae, 1 }, { 0x1d9, 1 },
	{ 0x1db, 1 }, { 0x1dc, 1 }, { 0x1dd, 1 }, { 0x1de, 1 }, { 0x1fc, 1 },
	{ 0x200, 0x100 }, { 0x3fc, 3 }, { 0x400, 0x80 }, { 0x606, 1 },
	{ 0x60a, 3 }, { 0x610, 1 }, { 0x611, 1 }, { 0x613, 1 }, { 0x614, 1 },
	{ 0x618, 1 }, { 0x619, 1 }, { 0x61b, 1 }, { 0x61c, 1 }, { 0x648, 1 },
	{ 0x649, 1 }, { 0x64a, 1 }, { 0x64b, 1 }, { 0x64c, 1 }, { 0x6e0, 1 },
	{ 0x800, 0x400 }, { 0x4b564d00, 1 }, { 0x4b564d01, 1 },
	{ 0x4b564d02, 1 }, { 0x4b564d03, 1 }, { 0x4b564d04, 1 },
	{ 0xc0000080, 1 }, { 0xc0000081, 1 }, { 0xc0000082, 1 },
	{ 0xc0000083, 1 }, { 0xc0000084, 1 }, { 0xc0000100, 1 },
	{ 0xc0000101, 1 }, { 0xc0000102, 1 }, { 0xc0000103, 1 },
	{ 0x140, 1 }, { 0xc0010015, 1 }, { 0x4b564d05, 1 },
	{ 0x4b564d06, 1 }, { 0x122, 1 },
};

static bool fc_should_serialize(uint32_t index)
{
	if (index == 0x17b)		/* IA32_MCG_CTL is denied */
		return false;
	for (size_t i = 0; i < sizeof(fc_ranges) / sizeof(fc_ranges[0]); i++)
		if (index >= fc_ranges[i].base &&
		    index - fc_ranges[i].base < fc_ranges[i].n)
			return true;
	return false;
}

static struct kvm_msr_list *msr_index_list(int kvm_fd, unsigned long req)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	ASSERT_EQ(ioctl(kvm_fd, req, &probe), -1);
	ASSERT_EQ(errno, E2BIG);
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	ASSERT_TRUE(l != NULL);
	l->nmsrs = probe.nmsrs;
	ASSERT_OK(ioctl(kvm_fd, req, l));
	return l;
}

static void save_list_add(struct fc_vm *f, uint32_t index)
{
	f->save_list = realloc(f->save_list, (f->nsave + 1) * sizeof(uint32_t));
	ASSERT_TRUE(f->save_list != NULL);
	f->save_list[f->nsave++] = index;
}

/* get_msrs_to_save() and msrs_to_save_by_cpuid(). */
static void fc_build_save_list(struct fc_vm *f)
{
	struct kvm_msr_list *l = msr_index_list(f->vm->kvm_fd,
						KVM_GET_MSR_INDEX_LIST);
	static const uint32_t mtrr_more[] = {
		0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d,
		0x26e, 0x26f, 0x277, 0x2ff,
	};

	for (uint32_t i = 0; i < l->nmsrs; i++)
		if (fc_should_serialize(l->indices[i]))
			save_list_add(f, l->indices[i]);
	free(l);
	if (cpuid_bit(f->cpuid, 7, 0, 1, 14))		/* MPX */
		save_list_add(f, 0xd90);
	if (cpuid_bit(f->cpuid, 1, 0, 3, 12)) {		/* MTRR */
		for (uint32_t m = 0x200; m < 0x210; m++)
			save_list_add(f, m);
		for (size_t i = 0; i < sizeof(mtrr_more) / 4; i++)
			save_list_add(f, mtrr_more[i]);
	}
	if (cpuid_bit(f->cpuid, 1, 0, 3, 7))		/* MCE: 32 banks */
		for (uint32_t m = 0x400; m < 0x480; m++)
			save_list_add(f, m);
	if (cpuid_bit(f->cpuid, 7, 0, 2, 7) || cpuid_bit(f->cpuid, 7, 0, 3, 20)) {
		save_list_add(f, 0x6a0);
		save_list_add(f, 0x6a2);
	}
	if (cpuid_bit(f->cpuid, 7, 0, 2, 7))
		for (uint32_t m = 0x6a4; m <= 0x6a8; m++)
			save_list_add(f, m);
}

static int irqfd_assign(int vm_fd, int efd, uint32_t gsi, uint32_t flags,
			int resample_fd)
{
	struct kvm_irqfd irqfd = {
		.fd = efd, .gsi = gsi, .flags = flags, .resamplefd = resample_fd,
	};

	return ioctl(vm_fd, KVM_IRQFD, &irqfd);
}

static int ioeventfd(int vm_fd, uint64_t addr, uint32_t len, int efd,
		     uint32_t flags, uint64_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = efd,
		.flags = flags,
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io);
}

static uint64_t efd_read(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, 8) != 8)
		return 0;
	return v;
}

static void efd_signal(int efd)
{
	uint64_t one = 1;

	ASSERT_EQ(write(efd, &one, 8), 8);
}

static struct kvm_irq_routing *routing_alloc(int n)
{
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) +
					   n * sizeof(r->entries[0]));

	ASSERT_TRUE(r != NULL);
	return r;
}

static void route_irqchip(struct kvm_irq_routing *r, uint32_t gsi,
			  uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &r->entries[r->nr++];

	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

static void route_msi(struct kvm_irq_routing *r, uint32_t gsi, uint32_t vec,
		      bool level)
{
	struct kvm_irq_routing_entry *e = &r->entries[r->nr++];

	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = 0xfee00000;
	e->u.msi.address_hi = 0;
	e->u.msi.data = vec | (level ? (1 << 15) | (1 << 14) : 0);
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, int off)
{
	return *(const uint32_t *)&l->regs[off];
}

static volatile sig_atomic_t alarm_ticks;
static int last_serial = -1;	/* for the message of a guest that stalls */

/* A guest that stopped making progress: where it is, and its APIC. */
static void log_stall(struct vcpu *vcpu)
{
	struct kvm_lapic_state l;

	TH_LOG("stalled after serial '%c', rip %#llx", last_serial,
	       (unsigned long long)vcpu_rip(vcpu));
	if (!ioctl(vcpu->fd, KVM_GET_LAPIC, &l))
		TH_LOG("APIC: LVTT %#x TMICT %#x TMCCT %#x ISR[7] %#x IRR[7] %#x IRR[1] %#x",
		       lapic_reg(&l, APIC_LVTT), lapic_reg(&l, 0x380),
		       lapic_reg(&l, 0x390), lapic_reg(&l, 0x170),
		       lapic_reg(&l, 0x270), lapic_reg(&l, 0x210));
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_ticks++;
}

/*
 * Run until the guest writes to the serial port; KVM_RUN interrupted by
 * the alarm is run again, up to about 30 s.  Returns the byte.
 */
static int run_to_serial(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	for (;;) {
		int r = ioctl(vcpu->fd, KVM_RUN, 0);

		if (r < 0 && errno == EINTR) {
			if (alarm_ticks >= 300)
				log_stall(vcpu);
			ASSERT_LT(alarm_ticks, 300);
			continue;
		}
		ASSERT_OK(r);
		if (run->exit_reason == KVM_EXIT_INTR)
			continue;
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.port != SERIAL_PORT)
			TH_LOG("unexpected exit %s (port %#x, mmio %#llx, rip %#llx)",
			       exit_name(run->exit_reason), run->io.port,
			       (unsigned long long)run->mmio.phys_addr,
			       (unsigned long long)vcpu_rip(vcpu));
		ASSERT_EQ(run->exit_reason, KVM_EXIT_IO);
		ASSERT_EQ(run->io.port, SERIAL_PORT);
		ASSERT_EQ(run->io.direction, KVM_EXIT_IO_OUT);
		ASSERT_EQ(run->io.size, 1);
		ASSERT_EQ(run->io.count, 1);
		last_serial = *((uint8_t *)run + run->io.data_offset);
		return last_serial;
	}
}

static void expect_serial(struct vcpu *vcpu, int c)
{
	int got = run_to_serial(vcpu);

	if (got != c)
		TH_LOG("serial: got '%c' (%#x), want '%c'", got, got, c);
	ASSERT_EQ(got, c);
}

static void alarm_start(void)
{
	alarm_ticks = 0;
	vm_alarm_every(100000, on_alarm);
}

/* A Firecracker VM: KVM::new(), Vm::new(), memory, irqchip, vCPU 0. */
static void fc_create(struct fc_vm *f, const void *code, size_t len)
{
	static const long caps[] = {
		KVM_CAP_IRQCHIP, KVM_CAP_IOEVENTFD, KVM_CAP_IRQFD,
		KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_PIT2,
		KVM_CAP_PIT_STATE2, KVM_CAP_ADJUST_CLOCK, KVM_CAP_DEBUGREGS,
		KVM_CAP_MP_STATE, KVM_CAP_VCPU_EVENTS, KVM_CAP_XCRS,
		KVM_CAP_XSAVE, KVM_CAP_EXT_CPUID,
	};
	static const char *const names[] = {
		"IRQCHIP", "IOEVENTFD", "IRQFD", "USER_MEMORY", "SET_TSS_ADDR",
		"PIT2", "PIT_STATE2", "ADJUST_CLOCK", "DEBUGREGS", "MP_STATE",
		"VCPU_EVENTS", "XCRS", "XSAVE", "EXT_CPUID",
	};
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_cpuid2 *sup;
	struct vm *vm;
	int xsave2;

	vm = calloc(1, sizeof(*vm));
	ASSERT_TRUE(vm != NULL);
	vm->kvm_fd = kvm_open();
	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
	if (!host_has_xsave())
		SKIP("the host has no XSAVE: no KVM_CAP_XCRS, which Firecracker requires");
	require_caps(vm->kvm_fd, caps, names, sizeof(caps) / sizeof(caps[0]));
	ASSERT_GT(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS), 0);

	/* kvm.rs: supported CPUID with KVM_MAX_CPUID_ENTRIES, MSR list */
	sup = supported_cpuid_n(vm->kvm_fd, VMM_MAX_CPUID_ENTRIES,
				VMM_MAX_CPUID_ENTRIES + 16);
	f->cpuid = sup;

	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm->fd);
	xsave2 = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	ASSERT_GE(xsave2, 0);
	if (xsave2)
		ASSERT_GE(xsave2, 4096);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR));
	ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2);
	vm->mem = vm_add_slot(vm, 0, 0, G_MEM);
	vm->mem_size = G_MEM;
	f->vm = vm;

	/* arch_pre_create_vcpus: irqchip, then PIT with the dummy speaker */
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_PIT2, &pit));
	f->vcpu = vcpu_create(vm, 0);

	/* configure(): CPUID, boot MSRs, boot state */
	fc_normalize_cpuid(f->cpuid);
	vcpu_set_cpuid(f->vcpu, f->cpuid);
	fc_build_save_list(f);
	ASSERT_OK(set_boot_msrs(f->vcpu, false));
	vm_write(vm, CODE_ADDR, code, len);
	fc_boot_cpu(f->vcpu);
}

/* register_irq() + set_gsi_routes(): GSI 4 to IOAPIC pin 4. */
static int fc_serial_irq(struct fc_vm *f)
{
	struct kvm_irq_routing *r = routing_alloc(1);
	int efd = eventfd(0, EFD_NONBLOCK);

	ASSERT_OK(efd);
	ASSERT_OK(irqfd_assign(f->vm->fd, efd, 4, 0, 0));
	route_irqchip(r, 4, KVM_IRQCHIP_IOAPIC, 4);
	ASSERT_OK(ioctl(f->vm->fd, KVM_SET_GSI_ROUTING, r));
	free(r);
	return efd;
}

static void fc_idt(struct vm *vm, uint64_t timer, uint64_t irq, uint64_t spur)
{
	uint64_t vec[] = { VEC_TIMER, VEC_IRQ, VEC_SPURIOUS };
	uint64_t isr[] = { timer, irq, spur };

	guest_idt(vm, vec, isr, 3);
}

static uint32_t tsc_khz(struct vcpu *vcpu)
{
	int r = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	return r > 0 ? r : 1000000;
}

/* ------------------------------------------------------------------ */
/* Firecracker                                                         */

TEST(firecracker_boot_setup)
{
	struct fc_vm f = { 0 };
	struct kvm_run *run;
	int irq_efd, mmio_efd;
	uint64_t delta;

	fc_create(&f, fc_guest, GUEST_SIZE(fc_guest));
	run = f.vcpu->run;
	fc_idt(f.vm, GUEST_LABEL(fc_guest, fc_timer_isr),
	       GUEST_LABEL(fc_guest, fc_irq_isr),
	       GUEST_LABEL(fc_guest, fc_spurious_isr));
	delta = tsc_khz(f.vcpu) * 2ULL;		/* 2 ms */
	write64(f.vm, G_DEADLINE, delta);
	irq_efd = fc_serial_irq(&f);

	/* virtio-mmio QueueNotify: queue index 0 as a 4-byte datamatch */
	mmio_efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(mmio_efd);
	ASSERT_OK(ioeventfd(f.vm->fd, MMIO_NOTIFY, 4, mmio_efd,
			    KVM_IOEVENTFD_FLAG_DATAMATCH, 0));

	alarm_start();
	expect_serial(f.vcpu, 'F');
	expect_serial(f.vcpu, 'S');	/* port 0x61 did not exit */

	/* the 4-byte write of 1 to QueueNotify: an MMIO exit */
	ASSERT_EQ(vcpu_run(f.vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(run->mmio.phys_addr, MMIO_NOTIFY);
	ASSERT_EQ(run->mmio.len, 4);
	ASSERT_EQ(run->mmio.is_write, 1);
	ASSERT_EQ(*(uint32_t *)run->mmio.data, 1);
	ASSERT_EQ(efd_read(mmio_efd), 1);	/* the write of 0 */

	expect_serial(f.vcpu, 'T');	/* the TSC-deadline timer fired */
	expect_serial(f.vcpu, 'R');
	efd_signal(irq_efd);
	expect_serial(f.vcpu, 'I');	/* irqfd -> IOAPIC pin 4 -> LAPIC */
	expect_serial(f.vcpu, 'D');
	vm_alarm_off();
}

struct fc_vcpu_state {
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	void *xsave;
	int xsave_size;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dbg;
	struct kvm_lapic_state lapic;
	int tsc_khz;
	struct kvm_cpuid2 *cpuid;
	struct kvm_msrs **chunks;
	int nchunks;
	struct kvm_vcpu_events events;
};

struct fc_vm_state {
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	void *mem;
};

/* KvmVcpu::save_state(). */
static void fc_save_vcpu(struct fc_vm *f, struct fc_vcpu_state *s)
{
	int fd = f->vcpu->fd, xsave2;
	struct kvm_msrs *deferred;
	uint64_t tsc = 0;
	bool have_tsc = false;
	int n, pos = 0;

	ASSERT_OK(ioctl(fd, KVM_GET_MP_STATE, &s->mp));
	ASSERT_OK(ioctl(fd, KVM_GET_REGS, &s->regs));
	ASSERT_OK(ioctl(fd, KVM_GET_SREGS, &s->sregs));
	xsave2 = ioctl(f->vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	s->xsave_size = xsave2 > 0 ? xsave2 : 4096;
	s->xsave = calloc(1, s->xsave_size);
	ASSERT_TRUE(s->xsave != NULL);
	if (xsave2 > 0)
		ASSERT_OK(ioctl(fd, KVM_GET_XSAVE2, s->xsave));
	else
		ASSERT_OK(ioctl(fd, KVM_GET_XSAVE, s->xsave));
	ASSERT_OK(ioctl(fd, KVM_GET_XCRS, &s->xcrs));
	ASSERT_OK(ioctl(fd, KVM_GET_DEBUGREGS, &s->dbg));
	ASSERT_OK(ioctl(fd, KVM_GET_LAPIC, &s->lapic));
	s->tsc_khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);

	/*
	 * get_cpuid(): KVM_GET_CPUID2 with 80 entries; Linux leaves nent as
	 * it was on success, so the zero entries after the table are dropped.
	 */
	s->cpuid = cpuid_alloc(VMM_MAX_CPUID_ENTRIES);
	ASSERT_OK(ioctl(fd, KVM_GET_CPUID2, s->cpuid));
	n = 0;
	for (uint32_t i = 0; i < s->cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &s->cpuid->entries[i];

		if (e->function || e->index || e->flags || e->eax)
			s->cpuid->entries[n++] = *e;
	}
	s->cpuid->nent = n;
	ASSERT_EQ(s->cpuid->nent, f->cpuid->nent);

	/* get_msr_chunks(): every MSR asked for, or the snapshot fails */
	n = (f->nsave + VMM_MAX_MSR_ENTRIES - 1) / VMM_MAX_MSR_ENTRIES;
	s->chunks = calloc(n + 1, sizeof(*s->chunks));
	ASSERT_TRUE(s->chunks != NULL);
	for (int c = 0; c < n; c++) {
		int len = f->nsave - pos;
		struct kvm_msrs *m;
		int got;

		if (len > VMM_MAX_MSR_ENTRIES)
			len = VMM_MAX_MSR_ENTRIES;
		m = msrs_alloc(len);
		for (int i = 0; i < len; i++)
			m->entries[i].index = f->save_list[pos + i];
		got = ioctl(fd, KVM_GET_MSRS, m);
		ASSERT_GE(got, 0);
		if (got != len)
			TH_LOG("KVM_GET_MSRS stopped at MSR %#x (%d of %d)",
			       m->entries[got].index, got, len);
		ASSERT_EQ(got, len);
		s->chunks[c] = m;
		pos += len;
	}
	/* fix_zero_tsc_deadline_msr(), extract_deferred_msrs() */
	for (int c = 0; c < n; c++)
		for (uint32_t i = 0; i < s->chunks[c]->nmsrs; i++)
			if (s->chunks[c]->entries[i].index == MSR_IA32_TSC &&
			    (!have_tsc || s->chunks[c]->entries[i].data > tsc)) {
				tsc = s->chunks[c]->entries[i].data;
				have_tsc = true;
			}
	deferred = msrs_alloc(0);
	for (int c = 0; c < n; c++) {
		struct kvm_msrs *m = s->chunks[c];
		uint32_t k = 0;

		for (uint32_t i = 0; i < m->nmsrs; i++) {
			struct kvm_msr_entry e = m->entries[i];

			if (e.index == MSR_IA32_TSC_DEADLINE) {
				if (!e.data && have_tsc)
					e.data = tsc;
				deferred = realloc(deferred, sizeof(*deferred) +
						   (deferred->nmsrs + 1) * sizeof(e));
				ASSERT_TRUE(deferred != NULL);
				deferred->entries[deferred->nmsrs++] = e;
			} else {
				m->entries[k++] = e;
			}
		}
		m->nmsrs = k;
	}
	s->chunks[n] = deferred;
	s->nchunks = n + 1;
	ASSERT_OK(ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events));
}

/* ArchVm::save_state(). */
static void fc_save_vm(struct fc_vm *f, struct fc_vm_state *s)
{
	int fd = f->vm->fd;

	ASSERT_OK(ioctl(fd, KVM_GET_PIT2, &s->pit));
	ASSERT_OK(ioctl(fd, KVM_GET_CLOCK, &s->clock));
	s->clock.flags &= ~KVM_CLOCK_TSC_STABLE;
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	ASSERT_OK(ioctl(fd, KVM_GET_IRQCHIP, &s->pic_master));
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	ASSERT_OK(ioctl(fd, KVM_GET_IRQCHIP, &s->pic_slave));
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	ASSERT_OK(ioctl(fd, KVM_GET_IRQCHIP, &s->ioapic));
	s->mem = malloc(G_MEM);
	ASSERT_TRUE(s->mem != NULL);
	memcpy(s->mem, f->vm->mem, G_MEM);
}

/* KvmVcpu::restore_state(). */
static void fc_restore_vcpu(struct vcpu *vcpu, struct fc_vcpu_state *s)
{
	int fd = vcpu->fd, r;

	ASSERT_OK(ioctl(fd, KVM_SET_CPUID2, s->cpuid));
	ASSERT_OK(ioctl(fd, KVM_SET_MP_STATE, &s->mp));
	ASSERT_OK(ioctl(fd, KVM_SET_REGS, &s->regs));
	ASSERT_OK(ioctl(fd, KVM_SET_SREGS, &s->sregs));
	ASSERT_OK(ioctl(fd, KVM_SET_XSAVE, s->xsave));
	ASSERT_OK(ioctl(fd, KVM_SET_XCRS, &s->xcrs));
	ASSERT_OK(ioctl(fd, KVM_SET_DEBUGREGS, &s->dbg));
	ASSERT_OK(ioctl(fd, KVM_SET_LAPIC, &s->lapic));
	for (int c = 0; c < s->nchunks; c++) {
		r = ioctl(fd, KVM_SET_MSRS, s->chunks[c]);
		ASSERT_GE(r, 0);
		if (r < (int)s->chunks[c]->nmsrs)
			TH_LOG("KVM_SET_MSRS stopped at MSR %#x = %#llx",
			       s->chunks[c]->entries[r].index,
			       (unsigned long long)s->chunks[c]->entries[r].data);
		ASSERT_EQ(r, s->chunks[c]->nmsrs);
	}
	ASSERT_OK(ioctl(fd, KVM_SET_VCPU_EVENTS, &s->events));
	/*
	 * kvmclock_ctrl(): Firecracker only counts a failure, but this guest
	 * has kvmclock on, so Linux takes it (and the guest checks the flag).
	 */
	r = ioctl(fd, KVM_KVMCLOCK_CTRL, 0);
	if (r)
		TH_LOG("KVM_KVMCLOCK_CTRL: %s", strerror(errno));
	ASSERT_OK(r);
}

static uint32_t ioapic_redir_lo(const struct kvm_irqchip *c, int pin)
{
	return (uint32_t)c->chip.ioapic.redirtbl[pin].bits;
}

TEST(firecracker_snapshot_roundtrip)
{
	struct fc_vcpu_state vs = { 0 };
	struct fc_vm_state ms = { 0 };
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_lapic_state lapic;
	struct kvm_pit_state2 pit2;
	struct kvm_clock_data clock;
	struct kvm_irqchip ioapic = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct fc_vm f = { 0 }, g = { 0 };
	struct vm *vm2;
	int irq_efd;
	int khz;

	fc_create(&f, snap_guest, GUEST_SIZE(snap_guest));
	fc_idt(f.vm, GUEST_LABEL(snap_guest, snap_timer_isr),
	       GUEST_LABEL(snap_guest, snap_irq_isr),
	       GUEST_LABEL(snap_guest, snap_spurious_isr));
	write64(f.vm, G_DEADLINE, tsc_khz(f.vcpu) * 100ULL);	/* 100 ms */
	irq_efd = fc_serial_irq(&f);
	close(irq_efd);

	alarm_start();
	expect_serial(f.vcpu, 'P');

	/* pause: the vCPU thread's KVM_RUN ends with EINTR */
	f.vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(ioctl(f.vcpu->fd, KVM_RUN, 0), EINTR);
	f.vcpu->run->immediate_exit = 0;
	fc_save_vcpu(&f, &vs);
	fc_save_vm(&f, &ms);
	TH_LOG("saved %d MSRs in %d chunks, TSC %d kHz, XSAVE %d bytes",
	       f.nsave, vs.nchunks, vs.tsc_khz, vs.xsave_size);

	/* build_microvm_from_snapshot(): a fresh VM the way it is created */
	vm2 = calloc(1, sizeof(*vm2));
	ASSERT_TRUE(vm2 != NULL);
	vm2->kvm_fd = kvm_open();
	vm2->fd = ioctl(vm2->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm2->fd);
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR));
	vm2->mem = vm_add_slot(vm2, 0, 0, G_MEM);
	vm2->mem_size = G_MEM;
	memcpy(vm2->mem, ms.mem, G_MEM);
	ASSERT_OK(ioctl(vm2->fd, KVM_CREATE_IRQCHIP, 0));
	ASSERT_OK(ioctl(vm2->fd, KVM_CREATE_PIT2, &pit));
	g.vm = vm2;
	g.vcpu = vcpu_create(vm2, 0);

	/* TSC scaling only when the frequency differs by > 250 ppm */
	khz = ioctl(g.vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (vs.tsc_khz > 0 && khz > 0 &&
	    llabs((long long)khz - vs.tsc_khz) > (long long)vs.tsc_khz * 250 / 1000000)
		ASSERT_OK(ioctl(g.vcpu->fd, KVM_SET_TSC_KHZ, vs.tsc_khz));

	fc_restore_vcpu(g.vcpu, &vs);
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_PIT2, &ms.pit));
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_CLOCK, &ms.clock));
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_IRQCHIP, &ms.pic_master));
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_IRQCHIP, &ms.pic_slave));
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_IRQCHIP, &ms.ioapic));
	g.cpuid = vs.cpuid;
	irq_efd = fc_serial_irq(&g);	/* the devices re-register theirs */

	/* what came back */
	ASSERT_OK(ioctl(g.vcpu->fd, KVM_GET_LAPIC, &lapic));
	ASSERT_EQ(lapic_reg(&lapic, APIC_SPIV), lapic_reg(&vs.lapic, APIC_SPIV));
	ASSERT_EQ(lapic_reg(&lapic, APIC_LVTT), lapic_reg(&vs.lapic, APIC_LVTT));
	ASSERT_EQ(lapic_reg(&lapic, APIC_LVT0), lapic_reg(&vs.lapic, APIC_LVT0));
	ASSERT_EQ(lapic_reg(&lapic, APIC_ID), lapic_reg(&vs.lapic, APIC_ID));
	ASSERT_OK(ioctl(vm2->fd, KVM_GET_IRQCHIP, &ioapic));
	ASSERT_EQ(ioapic_redir_lo(&ioapic, 4), VEC_IRQ);
	ASSERT_EQ(ioapic_redir_lo(&ioapic, 4), ioapic_redir_lo(&ms.ioapic, 4));
	ASSERT_OK(ioctl(vm2->fd, KVM_GET_PIT2, &pit2));
	for (int i = 0; i < 3; i++)
		pit2.channels[i].count_load_time =
			ms.pit.channels[i].count_load_time;
	ASSERT_EQ(memcmp(&pit2, &ms.pit, sizeof(pit2)), 0);
	ASSERT_OK(ioctl(vm2->fd, KVM_GET_CLOCK, &clock));
	ASSERT_GE(clock.clock, ms.clock.clock);
	ASSERT_EQ(vcpu_get_msr(g.vcpu, MSR_LSTAR), 0xffffffff81e00010ULL);
	ASSERT_EQ(vcpu_get_msr(g.vcpu, MSR_KERNEL_GS_BASE),
		  0xffff888000001000ULL);

	/* and the guest runs on */
	expect_serial(g.vcpu, 'T');	/* the timer armed before the snapshot */
	expect_serial(g.vcpu, 'R');
	efd_signal(irq_efd);
	expect_serial(g.vcpu, 'I');
	expect_serial(g.vcpu, 'D');	/* registers, XMM, MSRs, kvmclock */
	vm_alarm_off();
}

/* ------------------------------------------------------------------ */
/* Cloud Hypervisor                                                    */

struct ch_state {
	struct kvm_cpuid2 *cpuid;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_fpu fpu;
	struct kvm_msrs *msrs;
	struct kvm_vcpu_events events;
	int tsc_khz;		/* 0: none (EIO) */
};

static struct kvm_msrs *msrs_from_list(const struct kvm_msr_list *l,
				       uint32_t from, uint32_t n)
{
	struct kvm_msrs *m = msrs_alloc(n);

	for (uint32_t i = 0; i < n; i++)
		m->entries[i].index = l->indices[from + i];
	return m;
}

/*
 * KvmVcpu::state(): KVM_GET_MSRS on the whole index list; where it stops
 * short, the MSR it stopped at is skipped and the rest read again.
 */
static void ch_save(struct vcpu *vcpu, struct kvm_msr_list *list,
		    struct ch_state *s)
{
	int fd = vcpu->fd, r;
	uint32_t pos = 0, kept = 0, skipped = 0;

	s->cpuid = cpuid_alloc(VMM_MAX_CPUID_ENTRIES);
	ASSERT_OK(ioctl(fd, KVM_GET_CPUID2, s->cpuid));
	ASSERT_OK(ioctl(fd, KVM_GET_MP_STATE, &s->mp));
	ASSERT_OK(ioctl(fd, KVM_GET_REGS, &s->regs));
	ASSERT_OK(ioctl(fd, KVM_GET_SREGS, &s->sregs));
	ASSERT_OK(ioctl(fd, KVM_GET_XSAVE, &s->xsave));
	ASSERT_OK(ioctl(fd, KVM_GET_XCRS, &s->xcrs));
	ASSERT_OK(ioctl(fd, KVM_GET_LAPIC, &s->lapic));
	ASSERT_OK(ioctl(fd, KVM_GET_FPU, &s->fpu));

	s->msrs = msrs_alloc(list->nmsrs);
	while (pos < list->nmsrs) {
		struct kvm_msrs *m = msrs_from_list(list, pos, list->nmsrs - pos);

		r = ioctl(fd, KVM_GET_MSRS, m);
		ASSERT_GE(r, 0);
		ASSERT_LE(r, (int)m->nmsrs);
		memcpy(&s->msrs->entries[kept], m->entries,
		       r * sizeof(m->entries[0]));
		kept += r;
		pos += r;
		if (pos < list->nmsrs) {
			TH_LOG("KVM_GET_MSRS: MSR %#x skipped", list->indices[pos]);
			pos++;
			skipped++;
		}
		free(m);
	}
	s->msrs->nmsrs = kept;
	TH_LOG("saved %u of %u MSRs of the index list", kept, list->nmsrs);

	ASSERT_OK(ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events));
	r = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (r < 0)
		ASSERT_EQ(errno, EIO);
	s->tsc_khz = r > 0 ? r : 0;
}

/* KvmVcpu::set_state(). */
static void ch_restore(struct vcpu *vcpu, struct ch_state *s)
{
	int fd = vcpu->fd, r;
	uint32_t pos = 0;

	ASSERT_OK(ioctl(fd, KVM_SET_CPUID2, s->cpuid));
	ASSERT_OK(ioctl(fd, KVM_SET_MP_STATE, &s->mp));
	ASSERT_OK(ioctl(fd, KVM_SET_REGS, &s->regs));
	ASSERT_OK(ioctl(fd, KVM_SET_SREGS, &s->sregs));
	ASSERT_OK(ioctl(fd, KVM_SET_XSAVE, &s->xsave));
	ASSERT_OK(ioctl(fd, KVM_SET_XCRS, &s->xcrs));
	ASSERT_OK(ioctl(fd, KVM_SET_LAPIC, &s->lapic));
	ASSERT_OK(ioctl(fd, KVM_SET_FPU, &s->fpu));
	if (s->tsc_khz)
		ASSERT_OK(ioctl(fd, KVM_SET_TSC_KHZ, s->tsc_khz));
	while (pos < s->msrs->nmsrs) {
		struct kvm_msrs *m = msrs_alloc(s->msrs->nmsrs - pos);

		memcpy(m->entries, &s->msrs->entries[pos],
		       m->nmsrs * sizeof(m->entries[0]));
		r = ioctl(fd, KVM_SET_MSRS, m);
		ASSERT_GE(r, 0);
		if (r < (int)m->nmsrs)
			TH_LOG("KVM_SET_MSRS: MSR %#x = %#llx refused",
			       m->entries[r].index,
			       (unsigned long long)m->entries[r].data);
		/* what KVM_GET_MSRS gave back, KVM_SET_MSRS takes */
		ASSERT_EQ(r, m->nmsrs);
		pos += r;
		free(m);
	}
	ASSERT_OK(ioctl(fd, KVM_SET_VCPU_EVENTS, &s->events));
}

/* create_vm() + the vmm's x86 setup, then the vCPU as it configures it. */
static struct vcpu *ch_create(struct kvm_msr_list **list)
{
	static const long caps[] = {
		KVM_CAP_ADJUST_CLOCK, KVM_CAP_EXT_CPUID, KVM_CAP_GET_TSC_KHZ,
		KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IOEVENTFD, KVM_CAP_IRQCHIP,
		KVM_CAP_IRQFD, KVM_CAP_IRQ_ROUTING, KVM_CAP_MP_STATE,
		KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_SET_TSS_ADDR,
		KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_TSC_DEADLINE_TIMER,
		KVM_CAP_USER_MEMORY, KVM_CAP_USER_NMI, KVM_CAP_VCPU_EVENTS,
		KVM_CAP_XSAVE,
	};
	static const char *const names[] = {
		"ADJUST_CLOCK", "EXT_CPUID", "GET_TSC_KHZ", "IMMEDIATE_EXIT",
		"IOEVENTFD", "IRQCHIP", "IRQFD", "IRQ_ROUTING", "MP_STATE",
		"SET_IDENTITY_MAP_ADDR", "SET_TSS_ADDR", "SPLIT_IRQCHIP",
		"TSC_DEADLINE_TIMER", "USER_MEMORY", "USER_NMI", "VCPU_EVENTS",
		"XSAVE",
	};
	struct kvm_enable_cap split = {
		.cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 },
	};
	struct kvm_enable_cap x2apic = {
		.cap = KVM_CAP_X2APIC_API,
		.args = { KVM_X2APIC_API_USE_32BIT_IDS |
			  KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK },
	};
	struct kvm_cpuid_entry2 *e;
	struct kvm_cpuid2 *cpuid;
	struct vcpu *vcpu;
	struct vm *vm;
	uint32_t khz;

	vm = calloc(1, sizeof(*vm));
	ASSERT_TRUE(vm != NULL);
	vm->kvm_fd = kvm_open();
	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
	require_caps(vm->kvm_fd, caps, names, sizeof(caps) / sizeof(caps[0]));
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm->fd);
	*list = msr_index_list(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR,
			&(uint64_t){ VMM_IDENTITY_MAP_ADDR }));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR));
	ASSERT_OK(ioctl(vm->fd, KVM_ENABLE_CAP, &split));
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X2APIC_API) > 0)
		ASSERT_OK(ioctl(vm->fd, KVM_ENABLE_CAP, &x2apic));
	vm->mem = vm_add_slot(vm, 0, 0, G_MEM);
	vm->mem_size = G_MEM;
	vcpu = vcpu_create(vm, 0);

	/* CPUID: the supported table with its patches */
	cpuid = supported_cpuid_n(vm->kvm_fd, VMM_MAX_CPUID_ENTRIES,
				  VMM_MAX_CPUID_ENTRIES + 4);
	e = need_leaf(cpuid, 1, 0);
	e->ecx |= (1u << 24) | (1u << 31);
	set_bits(&e->ebx, 24, 31, 0);
	khz = tsc_khz(vcpu);
	if ((e = cpuid_find(cpuid, 0x40000001, 0)))
		e->eax |= 1u << 15;	/* KVM_FEATURE_MSI_EXT_DEST_ID */
	if ((e = cpuid_find(cpuid, 0x40000000, 0)) && e->eax < 0x40000010)
		e->eax = 0x40000010;
	if (!cpuid_find(cpuid, 0x40000010, 0))
		cpuid_add(cpuid, 0x40000010, 0, 0, khz, 1000000, 0, 0);
	vcpu_set_cpuid(vcpu, cpuid);
	free(cpuid);
	ASSERT_OK(set_boot_msrs(vcpu, true));
	fc_boot_cpu(vcpu);	/* the same 64-bit boot layout and LINTs */
	return vcpu;
}

TEST(cloud_hypervisor_setup)
{
	struct kvm_irq_routing *r = routing_alloc(2);
	struct kvm_msr_list *list, *list2;
	struct kvm_clock_data clock;
	struct vcpu *vcpu, *vcpu2;
	struct ch_state s = { 0 };
	int edge_efd, level_efd, notify_efd;
	struct kvm_run *run;
	struct vm *vm;

	vcpu = ch_create(&list);
	vm = vcpu->vm;
	run = vcpu->run;
	vm_write(vm, CODE_ADDR, ch_guest, GUEST_SIZE(ch_guest));
	{
		uint64_t vec[] = { VEC_IRQ, VEC_LEVEL, VEC_SPURIOUS };
		uint64_t isr[] = { GUEST_LABEL(ch_guest, ch_irq_isr),
				   GUEST_LABEL(ch_guest, ch_level_isr),
				   GUEST_LABEL(ch_guest, ch_spurious_isr) };

		guest_idt(vm, vec, isr, 3);
	}

	/* the userspace IOAPIC's pins as MSI routes, irqfds on them */
	route_msi(r, 4, VEC_IRQ, false);
	route_msi(r, 5, VEC_LEVEL, true);
	ASSERT_OK(ioctl(vm->fd, KVM_SET_GSI_ROUTING, r));
	edge_efd = eventfd(0, EFD_NONBLOCK);
	level_efd = eventfd(0, EFD_NONBLOCK);
	notify_efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(irqfd_assign(vm->fd, edge_efd, 4, 0, 0));
	ASSERT_OK(irqfd_assign(vm->fd, level_efd, 5, 0, 0));
	/* virtio-pci notify: no datamatch, any length */
	ASSERT_OK(ioeventfd(vm->fd, PCI_NOTIFY, 0, notify_efd, 0, 0));

	alarm_start();
	expect_serial(vcpu, 'R');
	efd_signal(edge_efd);
	expect_serial(vcpu, 'I');
	expect_serial(vcpu, 'L');
	efd_signal(level_efd);
	/* the EOI of a level-triggered vector of a reserved pin */
	for (;;) {
		int rr = ioctl(vcpu->fd, KVM_RUN, 0);

		if (rr < 0 && errno == EINTR) {
			ASSERT_LT(alarm_ticks, 300);
			continue;
		}
		ASSERT_OK(rr);
		if (run->exit_reason != KVM_EXIT_INTR)
			break;
	}
	if (run->exit_reason != KVM_EXIT_IOAPIC_EOI)
		TH_LOG("want KVM_EXIT_IOAPIC_EOI, got %s (port %#x '%c')",
		       exit_name(run->exit_reason), run->io.port,
		       *((char *)run + run->io.data_offset));
	ASSERT_EQ(run->exit_reason, KVM_EXIT_IOAPIC_EOI);
	ASSERT_EQ(run->eoi.vector, VEC_LEVEL);
	expect_serial(vcpu, 'J');
	expect_serial(vcpu, 'N');
	ASSERT_EQ(efd_read(notify_efd), 1);
	expect_serial(vcpu, 'D');

	/* pause, save, restore into a new VM, resume */
	if (!host_has_xsave())
		SKIP("the host has no XSAVE: Cloud Hypervisor's state save needs KVM_SET_XCRS");
	run->immediate_exit = 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_RUN, 0), EINTR);
	run->immediate_exit = 0;
	ch_save(vcpu, list, &s);
	ASSERT_OK(ioctl(vm->fd, KVM_GET_CLOCK, &clock));
	clock.flags &= ~KVM_CLOCK_TSC_STABLE;

	vcpu2 = ch_create(&list2);
	memcpy(vcpu2->vm->mem, vm->mem, G_MEM);
	ch_restore(vcpu2, &s);
	ASSERT_OK(ioctl(vcpu2->vm->fd, KVM_SET_CLOCK, &clock));
	/* notify_guest_clock_paused(): success or EINVAL */
	if (ioctl(vcpu2->fd, KVM_KVMCLOCK_CTRL, 0))
		ASSERT_EQ(errno, EINVAL);
	expect_serial(vcpu2, 'D');
	vm_alarm_off();
}

/* ------------------------------------------------------------------ */
/* kvmtool                                                             */

TEST(kvmtool_setup)
{
	static const long caps[] = {
		KVM_CAP_COALESCED_MMIO, KVM_CAP_SET_TSS_ADDR, KVM_CAP_PIT2,
		KVM_CAP_USER_MEMORY, KVM_CAP_IRQ_ROUTING, KVM_CAP_IRQCHIP,
		KVM_CAP_HLT, KVM_CAP_IRQ_INJECT_STATUS, KVM_CAP_EXT_CPUID,
	};
	static const char *const names[] = {
		"COALESCED_MMIO", "SET_TSS_ADDR", "PIT2", "USER_MEMORY",
		"IRQ_ROUTING", "IRQCHIP", "HLT", "IRQ_INJECT_STATUS",
		"EXT_CPUID",
	};
	struct kvm_pit_config pit = { .flags = 0 };
	struct kvm_coalesced_mmio_zone zone = { .addr = 0xa0000, .size = 0x1000 };
	struct kvm_irq_routing *r = routing_alloc(48);
	struct kvm_coalesced_mmio_ring *ring;
	struct kvm_irq_level irq = { .irq = 4 };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_regs regs = {
		.rflags = 2, .rip = KT_IP, .rsp = 0x8000, .rbp = 0x8000,
	};
	struct kvm_lapic_state lapic;
	struct kvm_cpuid2 *cpuid;
	struct kvm_sregs sregs;
	struct kvm_segment *segs[6];
	struct kvm_run *run;
	struct vcpu *vcpu;
	struct vm *vm;
	int off, max, seen = 0;

	vm = calloc(1, sizeof(*vm));
	ASSERT_TRUE(vm != NULL);
	vm->kvm_fd = kvm_open();
	ASSERT_EQ(ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
	require_caps(vm->kvm_fd, caps, names, sizeof(caps) / sizeof(caps[0]));
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	ASSERT_GE(max, 1);
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_OK(vm->fd);

	/* kvm__arch_init(): TSS, RAM, irqchip, PIT (no dummy speaker) */
	ASSERT_OK(ioctl(vm->fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR));
	vm->mem = vm_add_slot(vm, 0, 0, 0xa0000);
	vm->mem_size = 0xa0000;
	vm_add_slot(vm, 1, 0x100000, 0x100000);
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_PIT2, &pit));

	/* irq__init_kernel() */
	for (int i = 0; i < 8; i++)
		if (i != 2)
			route_irqchip(r, i, KVM_IRQCHIP_PIC_MASTER, i);
	for (int i = 8; i < 16; i++)
		route_irqchip(r, i, KVM_IRQCHIP_PIC_SLAVE, i - 8);
	for (int i = 0; i < 24; i++) {
		if (i == 0)
			route_irqchip(r, i, KVM_IRQCHIP_IOAPIC, 2);
		else if (i != 2)
			route_irqchip(r, i, KVM_IRQCHIP_IOAPIC, i);
	}
	ASSERT_OK(ioctl(vm->fd, KVM_SET_GSI_ROUTING, r));
	free(r);
	ASSERT_OK(ioctl(vm->fd, KVM_REGISTER_COALESCED_MMIO, &zone));

	/* kvm_cpu__init(): the vCPU, its kvm_run and the coalesced ring */
	vcpu = vcpu_create(vm, 0);
	run = vcpu->run;
	off = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	ASSERT_GT(off, 0);
	ASSERT_LT((size_t)off * 4096, vcpu->run_size);
	ring = (void *)((char *)run + off * 4096);

	/* kvm_cpu__reset_vcpu(): CPUID, SREGS, REGS, FPU, MSRs */
	cpuid = supported_cpuid_n(vm->kvm_fd, KVMTOOL_CPUID_ENTRIES,
				  KVMTOOL_CPUID_ENTRIES);
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1 && e->index == 0)
			e->ecx |= 1u << 31;
		else if (e->function == 6)
			e->ecx &= ~(1u << 3);
		else if (e->function == 0xa)
			e->eax = 0;
	}
	vcpu_set_cpuid(vcpu, cpuid);
	free(cpuid);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_SREGS, &sregs));
	segs[0] = &sregs.cs, segs[1] = &sregs.ss, segs[2] = &sregs.ds;
	segs[3] = &sregs.es, segs[4] = &sregs.fs, segs[5] = &sregs.gs;
	for (int i = 0; i < 6; i++) {
		segs[i]->selector = KT_SEL;
		segs[i]->base = KT_SEL * 16;
	}
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SREGS, &sregs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_REGS, &regs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_FPU, &fpu));
	ASSERT_OK(set_boot_msrs(vcpu, false));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic));
	*(uint32_t *)&lapic.regs[APIC_LVT0] =
		(lapic_reg(&lapic, APIC_LVT0) & ~0x700u) | (7 << 8);
	*(uint32_t *)&lapic.regs[APIC_LVT1] =
		(lapic_reg(&lapic, APIC_LVT1) & ~0x700u) | (4 << 8);
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic));

	vm_write(vm, KT_SEL * 16 + KT_IP, kt_guest, GUEST_SIZE(kt_guest));
	vm_set_ivt(vm, 0x0c, KT_SEL,
		   KT_IP + (uint16_t)(GUEST_LABEL(kt_guest, kt_isr) - CODE_ADDR));

	alarm_start();
	ASSERT_EQ(run_to_serial(vcpu), 'K');
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);	/* in from port 0x61 */
	ASSERT_EQ(run->io.port, 0x61);
	ASSERT_EQ(run->io.direction, KVM_EXIT_IO_IN);
	*((uint8_t *)run + run->io.data_offset) = 0;
	ASSERT_EQ(run_to_serial(vcpu), 'C');
	/* kvm_cpu__handle_coalesced_mmio() */
	while (ring->first != ring->last) {
		struct kvm_coalesced_mmio *m = &ring->coalesced_mmio[ring->first];

		ASSERT_EQ(m->phys_addr, 0xa0000 + seen);
		ASSERT_EQ(m->len, 1);
		ASSERT_EQ(m->data[0], 0x5a + seen);
		seen++;
		ring->first = (ring->first + 1) % COALESCED_MAX;
	}
	ASSERT_EQ(seen, 3);
	ASSERT_EQ(run_to_serial(vcpu), 'R');
	irq.level = 1;
	ASSERT_OK(ioctl(vm->fd, KVM_IRQ_LINE, &irq));
	irq.level = 0;
	ASSERT_OK(ioctl(vm->fd, KVM_IRQ_LINE, &irq));
	ASSERT_EQ(run_to_serial(vcpu), 'I');
	ASSERT_EQ(run_to_serial(vcpu), 'D');
	vm_alarm_off();
}

/* ------------------------------------------------------------------ */
/* rust-vmm kvm-ioctls                                                 */

static void crate_system_checks(int kvm_fd)
{
	struct kvm_msr_list *l;
	struct kvm_cpuid2 *c;
	struct kvm_msrs *m;
	int nr, max, slots;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	ASSERT_EQ(ioctl(kvm_fd, KVM_GET_API_VERSION, 0), 12);
	ASSERT_GT(ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0), 0);
	ASSERT_GT(ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY), 0);
	nr = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	slots = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	/* the crate falls back to 4 when NR_VCPUS is 0 */
	ASSERT_GE(nr > 0 ? nr : 4, cpus < 4 ? cpus : 4);
	ASSERT_GE(max > 0 ? max : (nr > 0 ? nr : 4), nr > 0 ? nr : 4);
	ASSERT_GE(slots, 32);

	c = supported_cpuid_n(kvm_fd, VMM_MAX_CPUID_ENTRIES,
			      VMM_MAX_CPUID_ENTRIES);
	ASSERT_LE(c->nent, VMM_MAX_CPUID_ENTRIES);
	free(c);
	/* test_get_emulated_cpuid, when KVM_CAP_EXT_EMUL_CPUID is there */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXT_EMUL_CPUID) > 0) {
		c = cpuid_alloc(VMM_MAX_CPUID_ENTRIES);
		ASSERT_OK(ioctl(kvm_fd, KVM_GET_EMULATED_CPUID, c));
		ASSERT_GT(c->nent, 0);
		ASSERT_LE(c->nent, VMM_MAX_CPUID_ENTRIES);
		free(c);
	}

	l = msr_index_list(kvm_fd, KVM_GET_MSR_INDEX_LIST);
	ASSERT_GE(l->nmsrs, 2);
	free(l);
	l = msr_index_list(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST);
	ASSERT_GT(l->nmsrs, 0);
	m = msrs_alloc(l->nmsrs);
	for (uint32_t i = 0; i < l->nmsrs; i++)
		m->entries[i].index = l->indices[i];
	ASSERT_EQ(ioctl(kvm_fd, KVM_GET_MSRS, m), (int)l->nmsrs);
	free(m);
	free(l);
}

static void crate_vm_checks(void)
{
	struct kvm_pit_config pitcfg = { 0 };
	struct kvm_irqchip pic = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	struct kvm_irqchip pic2 = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	struct kvm_pit_state2 pit, pit2;
	struct kvm_clock_data clock = { .clock = 10 }, now;
	struct kvm_irq_routing *none = routing_alloc(0);
	struct kvm_enable_cap split = {
		.cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 },
	};
	struct vm *vm = vm_create(0), *vm2;
	int e1, e2, e3, rs;

	ASSERT_OK(ioctl(vm->fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR,
			&(uint64_t){ VMM_IDENTITY_MAP_ADDR }));
	/* routing needs the irqchip first */
	ASSERT_ERRNO(ioctl(vm->fd, KVM_SET_GSI_ROUTING, none), EINVAL);
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_GSI_ROUTING, none));

	/* test_irq_chip: the PIC state back as it was set */
	pic.chip.pic.irq_base = 10;
	ASSERT_OK(ioctl(vm->fd, KVM_SET_IRQCHIP, &pic));
	ASSERT_OK(ioctl(vm->fd, KVM_GET_IRQCHIP, &pic2));
	ASSERT_EQ(memcmp(&pic.chip.pic, &pic2.chip.pic, sizeof(pic.chip.pic)), 0);

	/* test_pit2 */
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_PIT2, &pitcfg));
	ASSERT_OK(ioctl(vm->fd, KVM_GET_PIT2, &pit));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_PIT2, &pit));
	ASSERT_OK(ioctl(vm->fd, KVM_GET_PIT2, &pit2));
	for (int i = 0; i < 3; i++)
		pit2.channels[i].count_load_time = pit.channels[i].count_load_time;
	ASSERT_EQ(memcmp(&pit, &pit2, sizeof(pit)), 0);

	/* test_clock */
	ASSERT_OK(ioctl(vm->fd, KVM_GET_CLOCK, &now));
	ASSERT_OK(ioctl(vm->fd, KVM_SET_CLOCK, &clock));
	ASSERT_OK(ioctl(vm->fd, KVM_GET_CLOCK, &now));
	ASSERT_GT(now.clock, clock.clock);
	ASSERT_LT(now.clock, clock.clock + 10000000000ULL);

	/* test_register_irqfd */
	e1 = eventfd(0, EFD_NONBLOCK);
	e2 = eventfd(0, EFD_NONBLOCK);
	e3 = eventfd(0, EFD_NONBLOCK);
	rs = eventfd(0, EFD_NONBLOCK);
	ASSERT_OK(irqfd_assign(vm->fd, e1, 4, 0, 0));
	ASSERT_OK(irqfd_assign(vm->fd, e2, 8, 0, 0));
	ASSERT_OK(irqfd_assign(vm->fd, e3, 4, 0, 0));
	ASSERT_OK(irqfd_assign(vm->fd, e2, 8, KVM_IRQFD_FLAG_DEASSIGN, 0));
	/* deassigning what is not assigned succeeds */
	ASSERT_OK(irqfd_assign(vm->fd, e2, 8, KVM_IRQFD_FLAG_DEASSIGN, 0));
	/* an eventfd bound once cannot be bound again */
	ASSERT_ERRNO(irqfd_assign(vm->fd, e3, 4, 0, 0), EBUSY);
	ASSERT_ERRNO(irqfd_assign(vm->fd, e3, 5, 0, 0), EBUSY);
	ASSERT_OK(irqfd_assign(vm->fd, e3, 5, KVM_IRQFD_FLAG_DEASSIGN, 0));
	/* with a resample fd */
	ASSERT_OK(irqfd_assign(vm->fd, e2, 4, KVM_IRQFD_FLAG_RESAMPLE, rs));
	ASSERT_OK(irqfd_assign(vm->fd, e2, 4, KVM_IRQFD_FLAG_DEASSIGN, 0));

	/* test_register_ioevent / test_unregister_ioevent */
	{
#define PIO_DM	(KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH)
		static const struct { uint64_t addr; uint32_t len, flags;
				      uint64_t dm; } io[] = {
			{ 0xf4, 0, KVM_IOEVENTFD_FLAG_PIO, 0 },
			{ 0x1000, 0, 0, 0 },
			{ 0xc1, 1, PIO_DM, 0x7f },
			{ 0xc2, 2, PIO_DM, 0x1337 },
			{ 0xc4, 4, PIO_DM, 0xdeadbeef },
			{ 0xc8, 8, PIO_DM, 0xdeadbeefdeadbeefULL },
		};
#undef PIO_DM

		for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++)
			ASSERT_OK(ioeventfd(vm->fd, io[i].addr, io[i].len, e1,
					    io[i].flags, io[i].dm));
		for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++)
			ASSERT_OK(ioeventfd(vm->fd, io[i].addr, io[i].len, e1,
					    io[i].flags | KVM_IOEVENTFD_FLAG_DEASSIGN,
					    io[i].dm));
	}

	/* test_set_identity_map_address: refused once a vCPU exists */
	vm2 = vm_create(0);
	ASSERT_OK(ioctl(vm2->fd, KVM_SET_IDENTITY_MAP_ADDR,
			&(uint64_t){ VMM_IDENTITY_MAP_ADDR }));
	vcpu_create(vm2, 0);
	ASSERT_ERRNO(ioctl(vm2->fd, KVM_SET_IDENTITY_MAP_ADDR,
			   &(uint64_t){ VMM_IDENTITY_MAP_ADDR }), EINVAL);

	/* test_enable_split_irqchip_cap */
	vm2 = vm_create(0);
	ASSERT_OK(ioctl(vm2->fd, KVM_ENABLE_CAP, &split));
	free(none);
}

static void log_cpuid_diff(const struct kvm_cpuid_entry2 *a,
			   const struct kvm_cpuid_entry2 *b)
{
	TH_LOG("CPUID %#x.%u set %08x %08x %08x %08x flags %x",
	       a->function, a->index, a->eax, a->ebx, a->ecx, a->edx, a->flags);
	TH_LOG("CPUID %#x.%u got %08x %08x %08x %08x flags %x",
	       b->function, b->index, b->eax, b->ebx, b->ecx, b->edx, b->flags);
}

static void crate_vcpu_checks(int kvm_fd)
{
	struct vm *vm = vm_create(0x10000);
	struct kvm_cpuid2 *c, *back;
	struct kvm_msrs *m = msrs_alloc(2);
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	struct kvm_xsave xs, xs2;
	struct kvm_xcrs xc, xc2;
	struct kvm_debugregs dr, dr2;
	struct kvm_lapic_state la, la2;
	struct kvm_translation tr = { .linear_address = 0x10000 };
	struct vcpu *vcpu;
	int nr;

	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	nr = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (nr <= 0)
		nr = 4;
	/* test_get_cpuid: every vCPU takes the table; the first 3 come back */
	c = supported_cpuid_n(kvm_fd, VMM_MAX_CPUID_ENTRIES,
			      VMM_MAX_CPUID_ENTRIES);
	for (int i = 0; i < nr && i < 16; i++) {
		struct vcpu *v = vcpu_create(vm, i);

		vcpu_set_cpuid(v, c);
		back = cpuid_alloc(c->nent);
		ASSERT_OK(ioctl(v->fd, KVM_GET_CPUID2, back));
		for (int k = 0; k < 3; k++)
			if (memcmp(&back->entries[k], &c->entries[k],
				   sizeof(c->entries[0])))
				log_cpuid_diff(&c->entries[k], &back->entries[k]);
		ASSERT_EQ(memcmp(back->entries, c->entries,
				 3 * sizeof(c->entries[0])), 0);
		free(back);
	}
	vcpu = vcpu_create(vm, nr < 16 ? nr : 16);

	/* test_set_get_msrs */
	m->entries[0].index = MSR_IA32_SYSENTER_CS;
	m->entries[0].data = 0;
	m->entries[1].index = MSR_IA32_SYSENTER_ESP;
	m->entries[1].data = 1;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MSRS, m), 2);
	m->entries[0].data = m->entries[1].data = 0xdead;
	ASSERT_EQ(ioctl(vcpu->fd, KVM_GET_MSRS, m), 2);
	ASSERT_EQ(m->entries[0].data, 0);
	ASSERT_EQ(m->entries[1].data, 1);

	/* round trips */
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XSAVE, &xs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XSAVE, &xs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XSAVE, &xs2));
	ASSERT_EQ(memcmp(&xs, &xs2, sizeof(xs)), 0);
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &xc));
		ASSERT_OK(ioctl(vcpu->fd, KVM_SET_XCRS, &xc));
		ASSERT_OK(ioctl(vcpu->fd, KVM_GET_XCRS, &xc2));
		ASSERT_EQ(memcmp(&xc, &xc2, sizeof(xc)), 0);
	}
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &dr));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &dr));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &dr2));
	ASSERT_EQ(memcmp(&dr, &dr2, sizeof(dr)), 0);
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_LAPIC, &la));
	*(uint32_t *)&la.regs[APIC_LVT0] =
		(lapic_reg(&la, APIC_LVT0) & ~0x700u) | (7 << 8);
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_LAPIC, &la));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_LAPIC, &la2));
	ASSERT_EQ(lapic_reg(&la2, APIC_LVT0), lapic_reg(&la, APIC_LVT0));

	/* test_translate_gva (real mode) */
	ASSERT_OK(ioctl(vcpu->fd, KVM_TRANSLATE, &tr));
	ASSERT_EQ(tr.valid, 1);
	ASSERT_EQ(tr.physical_address, 0x10000);
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = ~0ULL;
	ASSERT_OK(ioctl(vcpu->fd, KVM_TRANSLATE, &tr));
	ASSERT_EQ(tr.valid, 0);

	/* immediate_exit */
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_RUN, 0), EINTR);
	free(c);
	free(m);
}

/* test_run_code (x86_64) */
static void crate_run_code(void)
{
	static const uint64_t rips[] = { 0x1003, 0x1005, 0x1007 };
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
	};
	struct kvm_dirty_log log = { .slot = 0 };
	uint64_t bitmap[1] = { 0 };
	struct vm *vm = vm_create(0);
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	struct vcpu *vcpu;
	void *mem = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int step = 0, dirty = 0;
	bool in = false, out = false, rd = false, wr = false;

	ASSERT_TRUE(mem != MAP_FAILED);
	memcpy(mem, crate_guest, GUEST_SIZE(crate_guest));
	ASSERT_OK(vm_set_region(vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0x1000, 0x4000,
				(uintptr_t)mem));
	vcpu = vcpu_create(vm, 0);
	run = vcpu->run;
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_SREGS, &sregs));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_SREGS, &sregs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_GET_REGS, &regs));
	regs.rip = 0x1000;
	regs.rax = 2;
	regs.rbx = 3;
	regs.rflags = 2;
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_REGS, &regs));
	ASSERT_OK(ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg));

	for (;;) {
		uint8_t *data;

		ASSERT_OK(ioctl(vcpu->fd, KVM_RUN, 0));
		switch (run->exit_reason) {
		case KVM_EXIT_DEBUG:
			ASSERT_LT(step, 3);
			if (step == 2) {
				dbg.control = 0;
				ASSERT_OK(ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg));
			}
			ASSERT_EQ(vcpu_rip(vcpu), rips[step]);
			ASSERT_EQ(run->debug.arch.exception, 1);
			ASSERT_EQ(run->debug.arch.pc, rips[step]);
			ASSERT_EQ(run->debug.arch.dr6 & 0xffff, 0x4ff0);
			ASSERT_EQ(run->debug.arch.dr7, 0x400);
			step++;
			break;
		case KVM_EXIT_IO:
			ASSERT_EQ(run->io.port, 0x3f8);
			ASSERT_EQ(run->io.size, 1);
			data = (uint8_t *)run + run->io.data_offset;
			if (run->io.direction == KVM_EXIT_IO_OUT) {
				ASSERT_EQ(*data, '5');
				out = true;
			} else {
				in = true;
			}
			break;
		case KVM_EXIT_MMIO:
			ASSERT_EQ(run->mmio.phys_addr, 0x8000);
			ASSERT_EQ(run->mmio.len, 1);
			if (run->mmio.is_write) {
				ASSERT_EQ(run->mmio.data[0], 0);
				wr = true;
			} else {
				rd = true;
			}
			break;
		case KVM_EXIT_HLT:
			goto done;
		default:
			TH_LOG("unexpected exit %s", exit_name(run->exit_reason));
			ASSERT_TRUE(false);
		}
	}
done:
	ASSERT_EQ(step, 3);
	ASSERT_TRUE(in && out && rd && wr);
	log.dirty_bitmap = bitmap;
	ASSERT_OK(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log));
	dirty = __builtin_popcountll(bitmap[0]);
	/* the code page (mapped writable on its fetch) and 0x2000 */
	if (dirty != 2)
		TH_LOG("dirty bitmap %#llx", (unsigned long long)bitmap[0]);
	ASSERT_EQ(dirty, 2);
}

TEST(kvm_ioctls_crate_expectations)
{
	int kvm_fd = kvm_open();

	crate_system_checks(kvm_fd);
	crate_vm_checks();
	crate_vcpu_checks(kvm_fd);
	crate_run_code();
}

TEST_HARNESS_MAIN
