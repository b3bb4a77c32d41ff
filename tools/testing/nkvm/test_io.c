// SPDX-License-Identifier: GPL-2.0
/*
 * test_io.c - port I/O exits (KVM_EXIT_IO) from a real-mode guest: OUT and
 * IN of 1, 2 and 4 bytes, immediate and DX ports, the data area at
 * run + io.data_offset, RIP around the exit, and many round trips.
 *
 * Linux behaviour worth knowing:
 *  - the KVM API says guest state is consistent after an I/O exit only
 *    once userspace re-entered KVM_RUN.  Where RIP points at an OUT exit
 *    depends on the backend (SVM/VMX "fast PIO" leave it AT the OUT and
 *    skip it on the next KVM_RUN; an emulated OUT, as on this reference
 *    machine, has it past already), so RIP after an OUT is checked after
 *    completing the exit with immediate_exit (vcpu_settle_rip());
 *  - at an IN exit every Linux backend leaves RIP AT the IN and RAX
 *    unchanged, until the next KVM_RUN copies the data from the data
 *    area into AL/AX/EAX and moves RIP past the IN (asserted below).
 *  - REP INS to userspace is emulated in batches: one exit asks for
 *    count = min(RCX, what is left of the destination's page, 1 KiB)
 *    elements.  Userspace may change RCX before the next KVM_RUN: the
 *    batch then follows the new count (the kernel's userspace_io_test
 *    relies on it), and the instruction completes with RCX = 0.
 */
#include <sys/ioctl.h>

#include "vm.h"

/* Sizes of the instructions used below, to compute expected RIPs. */
#define OUT_IMM_LEN	2	/* e6 ib / e7 ib		*/
#define OUT32_IMM_LEN	3	/* 66 e7 ib			*/
#define OUT_DX_LEN	1	/* ee / ef			*/
#define OUT32_DX_LEN	2	/* 66 ef			*/
#define IN_IMM_LEN	2	/* e4 ib / e5 ib		*/
#define IN32_IMM_LEN	3	/* 66 e5 ib			*/

GUEST_CODE(out_imm_guest,
	"mov $0x12345678, %eax\n"	/* 1000: 66 b8 78 56 34 12	*/
	"out %al, $0x10\n"		/* 1006: e6 10			*/
	"out %ax, $0x12\n"		/* 1008: e7 12			*/
	"out %eax, $0x14\n"		/* 100a: 66 e7 14		*/
	"mov $0xcafef00d, %eax\n"	/* 100d: 66 b8 0d f0 fe ca	*/
	"out %al, $0xff\n"		/* 1013: e6 ff			*/
	"out %ax, $0x00\n"		/* 1015: e7 00			*/
	"out %eax, $0x80\n"		/* 1017: 66 e7 80		*/
	"hlt\n"				/* 101a: f4			*/
);

TEST(out_imm_sizes_ports_data)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_imm_guest);
	static const struct {
		int size, port;
		uint32_t data;
		uint64_t rip;	/* RIP once the OUT is complete */
	} want[] = {
		{ 1, 0x10, 0x78, 0x1008 },
		{ 2, 0x12, 0x5678, 0x100a },
		{ 4, 0x14, 0x12345678, 0x100d },
		{ 1, 0xff, 0x0d, 0x1015 },
		{ 2, 0x00, 0xf00d, 0x1017 },
		{ 4, 0x80, 0xcafef00d, 0x101a },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint32_t data = RUN_OUT(vcpu, want[i].size, want[i].port);

		ASSERT_EQ(data, want[i].data);
		ASSERT_EQ(vcpu_settle_rip(vcpu), want[i].rip);
	}
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

GUEST_CODE(out_dx_guest,
	"mov $0x3f8, %dx\n"		/* 1000: ba f8 03	*/
	"mov $0x41, %al\n"		/* 1003: b0 41		*/
	"out %al, %dx\n"		/* 1005: ee		*/
	"mov $0xcf8, %dx\n"		/* 1006: ba f8 0c	*/
	"mov $0x80001234, %eax\n"	/* 1009: 66 b8 ...	*/
	"out %eax, %dx\n"		/* 100f: 66 ef		*/
	"mov $0xfffe, %dx\n"		/* 1011: ba fe ff	*/
	"mov $0xbeef, %ax\n"		/* 1014: b8 ef be	*/
	"out %ax, %dx\n"		/* 1017: ef		*/
	"mov $0xffff, %dx\n"		/* 1018: ba ff ff	*/
	"out %al, %dx\n"		/* 101b: ee		*/
	"hlt\n"				/* 101c: f4		*/
);

TEST(out_dx_ports)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_dx_guest);

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x3f8), 0x41);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1005 + OUT_DX_LEN);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0xcf8), 0x80001234);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x100f + OUT32_DX_LEN);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0xfffe), 0xbeef);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1017 + OUT_DX_LEN);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0xffff), 0xef);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x101b + OUT_DX_LEN);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST(out_exit_fields)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_imm_guest);
	struct kvm_run *run = vcpu->run;

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
	ASSERT_EQ(run->io.direction, KVM_EXIT_IO_OUT);
	ASSERT_EQ(KVM_EXIT_IO_OUT, 1);
	ASSERT_EQ(run->io.size, 1);
	ASSERT_EQ(run->io.port, 0x10);
	ASSERT_EQ(run->io.count, 1);
	/* The data lives in the mmap'ed area, past struct kvm_run. */
	ASSERT_GE(run->io.data_offset, sizeof(struct kvm_run));
	ASSERT_LE(run->io.data_offset + run->io.size * run->io.count,
		  vcpu->run_size);
}

/*
 * IN of each size, each value echoed back by an OUT of the same size to
 * port + 1, then the whole EAX to port 0x40 to check which bits the IN
 * replaced.
 */
GUEST_CODE(in_echo_guest,
	"mov $0x11223344, %eax\n"	/* 1000: 66 b8 44 33 22 11	*/
	"in $0x20, %al\n"		/* 1006: e4 20			*/
	"out %al, $0x21\n"		/* 1008: e6 21			*/
	"out %eax, $0x40\n"		/* 100a: 66 e7 40		*/
	"in $0x22, %ax\n"		/* 100d: e5 22			*/
	"out %ax, $0x23\n"		/* 100f: e7 23			*/
	"out %eax, $0x40\n"		/* 1011: 66 e7 40		*/
	"in $0x24, %eax\n"		/* 1014: 66 e5 24		*/
	"out %eax, $0x25\n"		/* 1017: 66 e7 25		*/
	"hlt\n"				/* 101a: f4			*/
);

/* Run to an IN exit, check it, fill in the data. */
static void complete_in(struct vcpu *vcpu, int size, int port, uint32_t v)
{
	void *data;

	vcpu_run(vcpu);
	data = ASSERT_IO(vcpu, KVM_EXIT_IO_IN, size, port);
	memcpy(data, &v, size);
}

TEST(in_sizes_echo)
{
	struct vcpu *vcpu = VM_WITH_GUEST(in_echo_guest);

	complete_in(vcpu, 1, 0x20, 0xab);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x21), 0xab);
	/* IN AL replaced only AL. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x40), 0x112233ab);

	complete_in(vcpu, 2, 0x22, 0xbeef);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x23), 0xbeef);
	/* IN AX replaced only AX. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x40), 0x1122beef);

	complete_in(vcpu, 4, 0x24, 0xdeadc0de);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x25), 0xdeadc0de);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST(in_exit_fields)
{
	struct vcpu *vcpu = VM_WITH_GUEST(in_echo_guest);
	struct kvm_run *run = vcpu->run;

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
	ASSERT_EQ(run->io.direction, KVM_EXIT_IO_IN);
	ASSERT_EQ(KVM_EXIT_IO_IN, 0);
	ASSERT_EQ(run->io.size, 1);
	ASSERT_EQ(run->io.port, 0x20);
	ASSERT_EQ(run->io.count, 1);
	ASSERT_GE(run->io.data_offset, sizeof(struct kvm_run));
	ASSERT_LE(run->io.data_offset + 1, vcpu->run_size);
}

TEST(rip_and_rax_while_in_pending)
{
	struct vcpu *vcpu = VM_WITH_GUEST(in_echo_guest);
	struct kvm_regs regs;

	complete_in(vcpu, 1, 0x20, 0x5a);
	/*
	 * Linux (SVM, VMX and emulated alike): the IN is not done yet.  RIP
	 * is still at the IN instruction (0x1006) and AL still holds its
	 * old value.
	 */
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rip, 0x1006);
	ASSERT_EQ(regs.rax, 0x11223344);

	/* The next KVM_RUN completes it: AL = data, then the OUT runs. */
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x21), 0x5a);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1008 + OUT_IMM_LEN);
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rax, 0x1122335a);

	/* Same for the 2-byte IN at 0x100d and the 4-byte IN at 0x1014. */
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x40), 0x1122335a);
	complete_in(vcpu, 2, 0x22, 0x1234);
	ASSERT_EQ(vcpu_rip(vcpu), 0x100d);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x23), 0x1234);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x40), 0x11221234);
	complete_in(vcpu, 4, 0x24, 0x87654321);
	ASSERT_EQ(vcpu_rip(vcpu), 0x1014);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x25), 0x87654321);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1017 + OUT32_IMM_LEN);
}

/*
 * Completing an exit with immediate_exit does not re-execute or skip
 * anything: after it, the guest goes on with the next instruction.
 */
TEST(settle_then_continue)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_imm_guest);

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x78);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1008);
	/* Settling twice changes nothing. */
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x1008);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x5678);
	ASSERT_EQ(RUN_OUT(vcpu, 4, 0x14), 0x12345678);
	ASSERT_EQ(vcpu_settle_rip(vcpu), 0x100d);
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0xff), 0x0d);
}

/*
 * Round trips: the guest reads a byte from port 0x30 (IN AL, DX), adds one
 * and writes it to port 0x31, forever; BX counts the iterations.
 */
GUEST_CODE(loop_guest,
	"xor %bx, %bx\n"
	"1:\n"
	"mov $0x30, %dx\n"
	"in %dx, %al\n"
	"inc %al\n"
	"inc %dx\n"
	"inc %bx\n"
	"out %al, %dx\n"
	"jmp 1b\n"
);

#define ROUND_TRIPS 2000

TEST(in_out_round_trips)
{
	struct vcpu *vcpu = VM_WITH_GUEST(loop_guest);
	struct kvm_regs regs;

	for (int i = 0; i < ROUND_TRIPS; i++) {
		complete_in(vcpu, 1, 0x30, (uint8_t)i);
		ASSERT_EQ(RUN_OUT(vcpu, 1, 0x31), (uint8_t)(i + 1));
	}
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rbx & 0xffff, ROUND_TRIPS);
}

/* 16-bit and 32-bit round trips through DX, values wider than a byte. */
GUEST_CODE(loop_wide_guest,
	"1:\n"
	"mov $0x5000, %dx\n"
	"in %dx, %ax\n"
	"not %ax\n"
	"out %ax, %dx\n"
	"in %dx, %eax\n"
	"neg %eax\n"
	"out %eax, %dx\n"
	"jmp 1b\n"
);

TEST(wide_round_trips)
{
	struct vcpu *vcpu = VM_WITH_GUEST(loop_wide_guest);

	for (uint32_t i = 0; i < 500; i++) {
		uint32_t v = i * 0x9e3779b9u;

		complete_in(vcpu, 2, 0x5000, v & 0xffff);
		ASSERT_EQ(RUN_OUT(vcpu, 2, 0x5000), ~v & 0xffff);
		complete_in(vcpu, 4, 0x5000, v);
		ASSERT_EQ(RUN_OUT(vcpu, 4, 0x5000), -v);
	}
}

/*
 * Writing into the data area at an OUT exit has no effect on the guest:
 * the OUT is already complete.
 */
GUEST_CODE(out_then_report_guest,
	"mov $0x77, %al\n"
	"out %al, $0x10\n"
	"out %al, $0x11\n"
	"hlt\n"
);

TEST(out_data_area_write_ignored)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_then_report_guest);
	struct kvm_run *run = vcpu->run;

	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x10), 0x77);
	*((uint8_t *)run + run->io.data_offset) = 0x99;
	ASSERT_EQ(RUN_OUT(vcpu, 1, 0x11), 0x77);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

/*
 * The registers the guest does not use for I/O are untouched by the exits.
 */
GUEST_CODE(regs_kept_guest,
	"mov $0x1111, %bx\n"
	"mov $0x2222, %cx\n"
	"mov $0x3333, %si\n"
	"mov $0x4444, %di\n"
	"mov $0x5555, %bp\n"
	"out %al, $0x10\n"
	"in $0x10, %al\n"
	"hlt\n"
);

TEST(io_exits_keep_other_registers)
{
	struct vcpu *vcpu = VM_WITH_GUEST(regs_kept_guest);
	struct kvm_regs regs;

	RUN_OUT(vcpu, 1, 0x10);
	complete_in(vcpu, 1, 0x10, 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	vcpu_get_regs(vcpu, &regs);
	ASSERT_EQ(regs.rbx, 0x1111);
	ASSERT_EQ(regs.rcx, 0x2222);
	ASSERT_EQ(regs.rsi, 0x3333);
	ASSERT_EQ(regs.rdi, 0x4444);
	ASSERT_EQ(regs.rbp, 0x5555);
	ASSERT_EQ(regs.rsp, STACK_TOP);
}

/* ------------------------------------------------------------------ */
/* REP INS to userspace                                                 */

#define INS_PORT	0x80

/* REP INSB of CX bytes at ES:DI (set by the test), then report and halt. */
GUEST_CODE(rep_insb_guest,
	"cld\n"
	"mov $" XSTR(INS_PORT) ", %dx\n"
	"rep insb\n"
	"mov %cx, %ax\n"
	"out %ax, $0x11\n"
	"mov %di, %ax\n"
	"out %ax, $0x12\n"
	"hlt\n"
);

static struct vcpu *rep_insb_vm(uint16_t cx, uint16_t di)
{
	struct vcpu *vcpu = VM_WITH_GUEST(rep_insb_guest);
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	regs.rcx = cx;
	regs.rdi = di;
	vcpu_set_regs(vcpu, &regs);
	return vcpu;
}

/* Run to a REP INSB exit of @count bytes and give them, from @first on. */
static void give_ins(struct vcpu *vcpu, uint32_t count, uint8_t first)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data;

	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IO);
	ASSERT_EQ(run->io.direction, KVM_EXIT_IO_IN);
	ASSERT_EQ(run->io.size, 1);
	ASSERT_EQ(run->io.port, INS_PORT);
	ASSERT_EQ(run->io.count, count);
	ASSERT_LE(run->io.data_offset + count, vcpu->run_size);
	data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < count; i++)
		data[i] = first + i;
}

TEST(rep_ins_one_exit_per_batch)
{
	struct vcpu *vcpu = rep_insb_vm(16, 0x2000);
	uint8_t *buf = vm_ptr(vcpu->vm, 0x2000);

	give_ins(vcpu, 16, 0x40);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x2010);
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(buf[i], 0x40 + i);
	ASSERT_EQ(buf[16], 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST(rep_ins_batch_ends_at_the_page_end)
{
	struct vcpu *vcpu = rep_insb_vm(8, 0x2ffd);
	uint8_t *buf = vm_ptr(vcpu->vm, 0x2ffd);

	/* Three bytes to the end of the page, then the other five. */
	give_ins(vcpu, 3, 0x10);
	give_ins(vcpu, 5, 0x13);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x3005);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(buf[i], 0x10 + i);
}

/* Change RCX at a REP INSB exit, as userspace_io_test does. */
static void set_rcx(struct vcpu *vcpu, uint64_t rcx)
{
	struct kvm_regs regs;

	vcpu_get_regs(vcpu, &regs);
	regs.rcx = rcx;
	vcpu_set_regs(vcpu, &regs);
}

TEST(rep_ins_count_lowered_during_the_exit)
{
	struct vcpu *vcpu = rep_insb_vm(2, 0x2000);
	uint8_t *buf = vm_ptr(vcpu->vm, 0x2000);

	give_ins(vcpu, 2, 0x61);
	set_rcx(vcpu, 1);
	/* One byte only, and the instruction is over. */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x2001);
	ASSERT_EQ(buf[0], 0x61);
	ASSERT_EQ(buf[1], 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST(rep_ins_count_raised_during_the_exit)
{
	struct vcpu *vcpu = rep_insb_vm(3, 0x2000);
	uint8_t *buf = vm_ptr(vcpu->vm, 0x2000);

	give_ins(vcpu, 3, 0x71);
	set_rcx(vcpu, 8);
	/*
	 * The batch follows the new count: all eight bytes go in without
	 * another exit (what lands beyond the three given is not ABI).
	 */
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x11), 0);
	ASSERT_EQ(RUN_OUT(vcpu, 2, 0x12), 0x2008);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(buf[i], 0x71 + i);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
}

TEST_HARNESS_MAIN
