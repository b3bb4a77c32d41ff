// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the x86 instruction emulator (pure logic, see emulate.h).
 *
 * A step decodes the instruction completely (prefixes, opcode, ModRM, SIB,
 * displacement, immediate) into a private copy of the registers, then
 * executes it: every guest access goes through guest_access() below, which
 * either replays it from the step's log (after a restart) or performs it
 * through the caller's callbacks and logs it.  Registers and RFLAGS reach
 * the caller only when the step completes.
 */
#ifndef NKVM_USERSPACE
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/build_bug.h>
#include <nkvm/kvm_arch.h>
#endif
#include "emulate.h"

#define REG_RAX		0
#define REG_RCX		1
#define REG_RDX		2
#define REG_RBX		3
#define REG_RSP		4
#define REG_RBP		5
#define REG_RSI		6
#define REG_RDI		7

#define ARITH_FLAGS	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

#define PAGE_BYTES	4096ULL

/* What a logged access was. */
enum { LOG_NONE, LOG_READ, LOG_WRITE, LOG_PIO_OUT };

/* The arithmetic operations, group 1 order first. */
enum {
	ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
	ALU_TEST, ALU_NEG, ALU_INC, ALU_DEC,
};

/* The instructions, after decoding. */
enum {
	I_ALU,		/* dst = dst <alu> src, or flags only (CMP, TEST) */
	I_MOV,		/* dst = src */
	I_MOVZX,	/* dst = zero-extended src */
	I_MOVSX,	/* dst = sign-extended src */
	I_XCHG,
	I_NOT,
	I_BT,		/* bt_op: 0 BT, 1 BTS, 2 BTR, 3 BTC */
	I_SMSW,		/* dst = CR0 */
	I_LMSW,		/* CR0 = CR0 with src's low 4 bits, PE kept */
	/* The string instructions, last (ctxt->single_mem). */
	I_MOVS, I_STOS, I_LODS, I_INS, I_OUTS,
};

enum { OPND_NONE, OPND_REG, OPND_MEM, OPND_IMM };

struct opnd {
	u8 kind;
	u8 size;
	u8 reg;		/* OPND_REG: 0..15 */
	bool hi8;	/* OPND_REG: AH, CH, DH or BH */
	u8 seg;		/* OPND_MEM */
	u64 ea;		/* OPND_MEM: offset, wrapped to the address size */
	u64 val;
};

/* The working state of one step; r[] last (x86_emulate_insn()). */
struct emu {
	struct x86_emulate_ctxt *c;
	u64 flags;
	u64 rip;		/* of this instruction, within ip_mask */
	u64 next_rip;
	u64 ip_mask;
	u64 ad_mask;

	u8 log_op;		/* index of the next access in the log */
	u8 log_pos;		/* replay position in the log's data */

	/* decoding */
	u8 pos;			/* next instruction byte */
	u8 op_bytes, ad_bytes;
	u8 rex;
	u8 rep;			/* 0, 0xf2 or 0xf3 */
	bool lock;
	bool opsize_prefix;
	bool adsize_prefix;
	s8 seg_ovr;		/* -1 if none */
	bool rip_rel;
	bool lockable;
	u8 mod, reg;		/* ModRM fields; reg includes REX.R */
	u8 insn, alu, bt_op;
	u8 str_size;		/* string element size */
	u16 pio_taken;		/* INS: read-ahead bytes this step used */
	struct opnd dst, src;
	u64 r[16];		/* GPRs, copied in whole: not cleared */
};

static bool mode64(const struct emu *e)
{
	return e->c->mode == X86EMUL_MODE_PROT64;
}

static u64 size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static u64 sext(u64 v, unsigned int size)
{
	switch (size) {
	case 1:
		return (u64)(s64)(s8)v;
	case 2:
		return (u64)(s64)(s16)v;
	case 4:
		return (u64)(s64)(s32)v;
	default:
		return v;
	}
}

static int emu_fault(struct emu *e, u8 vector, bool has_error_code, u32 ec)
{
	struct x86_emulate_ctxt *c = e->c;

	c->exception = (struct x86_exception) {
		.vector = vector,
		/* Real mode pushes no error code. */
		.has_error_code = has_error_code && c->mode != X86EMUL_MODE_REAL,
		.error_code = ec,
	};
	return X86EMUL_PROPAGATE_FAULT;
}

static int gp0(struct emu *e)
{
	return emu_fault(e, X86_TRAP_GP, true, 0);
}

static int ud(struct emu *e)
{
	return emu_fault(e, X86_TRAP_UD, false, 0);
}

static bool canonical(const struct emu *e, u64 la)
{
	int shift = (e->c->cr4 & X86_CR4_LA57) ? 7 : 16;

	return (u64)((s64)(la << shift) >> shift) == la;
}

/* The width of IP: 64 bits, or the default operand size of CS. */
static u64 ip_mask(const struct x86_emulate_ctxt *c)
{
	switch (c->mode) {
	case X86EMUL_MODE_PROT64:
		return ~0ULL;
	case X86EMUL_MODE_PROT32:
		return 0xffffffffULL;
	case X86EMUL_MODE_REAL:
		return c->seg[X86EMUL_SEG_CS].db ? 0xffffffffULL : 0xffffULL;
	default:
		return 0xffffULL;
	}
}

u32 x86_emulate_access(const struct x86_emulate_ctxt *ctxt, bool write)
{
	u32 access = write ? PFERR_WRITE_MASK : 0;

	if (ctxt->cpl == 3)
		access |= PFERR_USER_MASK;
	else if (ctxt->rflags & X86_EFLAGS_AC)
		access |= X86_WALK_AC;
	return access;
}

/* ---- Instruction fetch ------------------------------------------------- */

/* Make sure insn_bytes holds byte pos of the instruction. */
static int fetch_to(struct emu *e, unsigned int pos)
{
	struct x86_emulate_ctxt *c = e->c;
	const struct kvm_segment *cs = &c->seg[X86EMUL_SEG_CS];
	u32 access = PFERR_FETCH_MASK | (c->cpl == 3 ? PFERR_USER_MASK : 0);

	while (c->insn_len <= pos) {
		unsigned int p = c->insn_len, n = X86EMUL_MAX_INSN - p;
		u64 off = e->rip + p, la;
		int r;

		if (p >= X86EMUL_MAX_INSN)
			return gp0(e);
		if (mode64(e)) {
			la = off;
			if (!canonical(e, la))
				return gp0(e);
		} else {
			if (off > cs->limit)
				return gp0(e);
			if (n > cs->limit - off + 1)
				n = cs->limit - off + 1;
			la = (cs->base + off) & 0xffffffffULL;
		}
		if (n > PAGE_BYTES - (la & (PAGE_BYTES - 1)))
			n = PAGE_BYTES - (la & (PAGE_BYTES - 1));
		r = c->ops->fetch(c, la, c->insn_bytes + p, n, access,
				  &c->exception);
		if (r == X86EMUL_PROPAGATE_FAULT || r == X86EMUL_RETRY)
			return r;
		if (r != X86EMUL_CONTINUE)
			return X86EMUL_UNHANDLEABLE;
		c->insn_len += n;
	}
	return X86EMUL_CONTINUE;
}

static int next_byte(struct emu *e, u8 *b)
{
	/* The usual case: the first fetch brought the whole instruction. */
	if (e->pos >= e->c->insn_len) {
		int r = fetch_to(e, e->pos);

		if (r)
			return r;
	}
	*b = e->c->insn_bytes[e->pos++];
	return X86EMUL_CONTINUE;
}

/* A little-endian immediate of size bytes, zero-extended. */
static int next_imm(struct emu *e, unsigned int size, u64 *v)
{
	unsigned int i;
	int r;

	*v = 0;
	for (i = 0; i < size; i++) {
		u8 b;

		r = next_byte(e, &b);
		if (r)
			return r;
		*v |= (u64)b << (8 * i);
	}
	return X86EMUL_CONTINUE;
}

/* ---- Guest accesses, logged for restarts -------------------------------- */

static bool is_input(int kind)
{
	return kind == LOG_READ;
}

/*
 * One access of n bytes (a page piece, or a port).  Replayed from the log
 * if an earlier run of this step completed it.
 */
static int guest_access(struct emu *e, int kind, u64 la, u16 port,
			void *buf, unsigned int n, u32 acc)
{
	struct x86_emulate_ctxt *c = e->c;
	struct x86_emulate_log *l = &c->log;
	int r;

	if (e->log_op < l->nr) {
		/* A restart must retrace the accesses of the first run. */
		if (l->kind[e->log_op] != kind || l->len[e->log_op] != n)
			return X86EMUL_UNHANDLEABLE;
		if (is_input(kind)) {
			memcpy(buf, l->data + e->log_pos, n);
			e->log_pos += n;
		}
		e->log_op++;
		return X86EMUL_CONTINUE;
	}
	if (l->nr >= X86EMUL_LOG_OPS ||
	    (is_input(kind) && l->bytes + n > X86EMUL_LOG_BYTES))
		return X86EMUL_UNHANDLEABLE;

	switch (kind) {
	case LOG_READ:
		r = c->ops->read(c, la, buf, n, acc, &c->exception);
		break;
	case LOG_WRITE:
		r = c->ops->write(c, la, buf, n, acc, &c->exception);
		break;
	default:
		r = c->ops->pio_out(c, port, n, buf);
		break;
	}
	switch (r) {
	case X86EMUL_CONTINUE:
		l->kind[l->nr] = kind;
		l->len[l->nr] = n;
		l->nr++;
		if (is_input(kind)) {
			memcpy(l->data + l->bytes, buf, n);
			l->bytes += n;
			e->log_pos += n;
		}
		e->log_op++;
		return X86EMUL_CONTINUE;
	case X86EMUL_IO_NEEDED:
		if (is_input(kind)) {
			l->pending = n;
			l->pending_kind = kind;
		}
		return r;
	case X86EMUL_PROPAGATE_FAULT:
		if (kind == LOG_PIO_OUT)
			return X86EMUL_UNHANDLEABLE;
		return r;
	case X86EMUL_RETRY:
		return r;
	default:
		return X86EMUL_UNHANDLEABLE;
	}
}

/* A memory access at linear address la, split at page boundaries. */
static int access_mem(struct emu *e, int kind, u64 la, void *buf,
		      unsigned int size, u32 acc)
{
	u64 la_mask = mode64(e) ? ~0ULL : 0xffffffffULL;
	u8 *p = buf;
	int r;

	while (size) {
		unsigned int n = size;

		if (n > PAGE_BYTES - (la & (PAGE_BYTES - 1)))
			n = PAGE_BYTES - (la & (PAGE_BYTES - 1));
		r = guest_access(e, kind, la, 0, p, n, acc);
		if (r)
			return r;
		la = (la + n) & la_mask;
		p += n;
		size -= n;
	}
	return X86EMUL_CONTINUE;
}

/* Segment register seg (or X86EMUL_SEG_TR), asked of the caller if need be. */
static const struct kvm_segment *seg_reg(struct emu *e, int seg)
{
	struct x86_emulate_ctxt *c = e->c;
	struct kvm_segment *s = seg == X86EMUL_SEG_TR ? &c->tr : &c->seg[seg];

	if (!(c->segs_valid & (1U << seg))) {
		c->ops->get_seg(c, seg, s);
		c->segs_valid |= 1U << seg;
	}
	return s;
}

static int seg_fault(struct emu *e, int seg)
{
	return emu_fault(e, seg == X86EMUL_SEG_SS ? X86_TRAP_SS : X86_TRAP_GP,
			 true, 0);
}

/*
 * The linear address of size bytes at offset ea of segment seg, with the
 * checks of the mode: limits and types outside long mode, canonical form
 * in 64-bit mode, then alignment checking.
 */
static int linearize(struct emu *e, int seg, u64 ea, unsigned int size,
		     bool write, u64 *la)
{
	struct x86_emulate_ctxt *c = e->c;
	const struct kvm_segment *s;
	u64 last = ea + size - 1;

	if (mode64(e)) {
		*la = ea;
		/* The only segment registers that count here. */
		if (seg == X86EMUL_SEG_FS || seg == X86EMUL_SEG_GS)
			*la += seg_reg(e, seg)->base;
		if (!canonical(e, *la) || !canonical(e, *la + size - 1))
			return seg_fault(e, seg);
	} else if (c->mode == X86EMUL_MODE_REAL ||
		   c->mode == X86EMUL_MODE_VM86) {
		s = seg_reg(e, seg);
		if (last > s->limit)
			return seg_fault(e, seg);
		*la = (s->base + ea) & 0xffffffffULL;
	} else {
		bool code;

		s = seg_reg(e, seg);
		code = s->type & 8;

		if (s->unusable || !s->present || !s->s)
			return seg_fault(e, seg);
		if (write && (code || !(s->type & 2)))
			return seg_fault(e, seg);
		if (!write && code && !(s->type & 2))
			return seg_fault(e, seg);
		if (!code && (s->type & 4)) {
			/* Expand-down: valid offsets are above the limit. */
			u64 upper = s->db ? 0xffffffffULL : 0xffffULL;

			if (ea <= s->limit || last > upper)
				return seg_fault(e, seg);
		} else if (last > s->limit) {
			return seg_fault(e, seg);
		}
		*la = (s->base + ea) & 0xffffffffULL;
	}

	if ((c->cr0 & X86_CR0_AM) && (e->flags & X86_EFLAGS_AC) &&
	    c->cpl == 3 && (*la & (size - 1)))
		return emu_fault(e, X86_TRAP_AC, true, 0);
	return X86EMUL_CONTINUE;
}

static int mem_read(struct emu *e, int seg, u64 ea, unsigned int size,
		    u64 *val)
{
	u64 la;
	int r;

	r = linearize(e, seg, ea, size, false, &la);
	if (r)
		return r;
	*val = 0;
	return access_mem(e, LOG_READ, la, val, size,
			  x86_emulate_access(e->c, false));
}

static int mem_write(struct emu *e, int seg, u64 ea, unsigned int size,
		     u64 val)
{
	u64 la;
	int r;

	r = linearize(e, seg, ea, size, true, &la);
	if (r)
		return r;
	return access_mem(e, LOG_WRITE, la, &val, size,
			  x86_emulate_access(e->c, true));
}

/* ---- Registers and operands --------------------------------------------- */

static u64 reg_get(const struct emu *e, u8 reg, unsigned int size, bool hi8)
{
	if (hi8)
		return (e->r[reg] >> 8) & 0xff;
	return e->r[reg] & size_mask(size);
}

/* A write of size bytes: 8 and 16 bits merge, 32 bits zero-extend. */
static void reg_set(struct emu *e, u8 reg, unsigned int size, bool hi8,
		    u64 val)
{
	u64 *r = &e->r[reg];

	if (hi8)
		*r = (*r & ~0xff00ULL) | ((val & 0xff) << 8);
	else if (size == 1)
		*r = (*r & ~0xffULL) | (val & 0xff);
	else if (size == 2)
		*r = (*r & ~0xffffULL) | (val & 0xffff);
	else if (size == 4)
		*r = val & 0xffffffffULL;
	else
		*r = val;
}

/* Register n (with REX bits) as an operand of size bytes. */
static void opnd_reg(const struct emu *e, struct opnd *o, u8 n,
		     unsigned int size)
{
	*o = (struct opnd) { .kind = OPND_REG, .size = size, .reg = n };
	/* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
	if (size == 1 && !e->rex && n >= 4 && n < 8) {
		o->reg = n - 4;
		o->hi8 = true;
	}
}

static void opnd_imm(struct opnd *o, unsigned int size, u64 v)
{
	*o = (struct opnd) { .kind = OPND_IMM, .size = size, .val = v };
}

static int opnd_read(struct emu *e, struct opnd *o)
{
	switch (o->kind) {
	case OPND_REG:
		o->val = reg_get(e, o->reg, o->size, o->hi8);
		return X86EMUL_CONTINUE;
	case OPND_MEM:
		return mem_read(e, o->seg, o->ea, o->size, &o->val);
	default:
		o->val &= size_mask(o->size);
		return X86EMUL_CONTINUE;
	}
}

static int opnd_write(struct emu *e, struct opnd *o, u64 v)
{
	if (o->kind == OPND_REG) {
		reg_set(e, o->reg, o->size, o->hi8, v);
		return X86EMUL_CONTINUE;
	}
	return mem_write(e, o->seg, o->ea, o->size, v & size_mask(o->size));
}

/* The segment of a data access whose default is def. */
static int data_seg(const struct emu *e, int def)
{
	if (e->seg_ovr < 0)
		return def;
	/* 64-bit mode ignores ES, CS, SS and DS overrides. */
	if (mode64(e) && e->seg_ovr < X86EMUL_SEG_FS)
		return def;
	return e->seg_ovr;
}

/* ---- Decoding ----------------------------------------------------------- */

/* The ModRM byte and what follows it; dst or src gets the r/m operand. */
static int decode_modrm(struct emu *e, struct opnd *rm, unsigned int size)
{
	u8 modrm, low, base = 0xff, index = 0xff, scale = 0;
	bool ss = false;
	u64 disp = 0, ea = 0;
	int r;

	r = next_byte(e, &modrm);
	if (r)
		return r;
	e->mod = modrm >> 6;
	e->reg = ((modrm >> 3) & 7) | ((e->rex & 4) << 1);
	low = modrm & 7;

	if (e->mod == 3) {
		opnd_reg(e, rm, low | ((e->rex & 1) << 3), size);
		return X86EMUL_CONTINUE;
	}

	if (e->ad_bytes == 2) {
		static const u8 b16[8] = { REG_RBX, REG_RBX, REG_RBP, REG_RBP,
					   0xff, 0xff, REG_RBP, REG_RBX };
		static const u8 i16[8] = { REG_RSI, REG_RDI, REG_RSI, REG_RDI,
					   REG_RSI, REG_RDI, 0xff, 0xff };

		base = b16[low];
		index = i16[low];
		if (e->mod == 0 && low == 6) {
			base = 0xff;
			r = next_imm(e, 2, &disp);
			disp = sext(disp, 2);
		} else if (e->mod == 1) {
			r = next_imm(e, 1, &disp);
			disp = sext(disp, 1);
		} else if (e->mod == 2) {
			r = next_imm(e, 2, &disp);
			disp = sext(disp, 2);
		}
		if (r)
			return r;
		ss = base == REG_RBP;
	} else {
		if (low == 4) {
			u8 sib;

			r = next_byte(e, &sib);
			if (r)
				return r;
			scale = sib >> 6;
			index = ((sib >> 3) & 7) | ((e->rex & 2) << 2);
			if (index == REG_RSP)
				index = 0xff;
			base = (sib & 7) | ((e->rex & 1) << 3);
			if ((sib & 7) == 5 && e->mod == 0)
				base = 0xff;
		} else if (low == 5 && e->mod == 0) {
			/* disp32: RIP-relative in 64-bit mode. */
			e->rip_rel = mode64(e);
		} else {
			base = low | ((e->rex & 1) << 3);
		}
		if (e->mod == 1) {
			r = next_imm(e, 1, &disp);
			disp = sext(disp, 1);
		} else if (e->mod == 2 || base == 0xff) {
			r = next_imm(e, 4, &disp);
			disp = sext(disp, 4);
		}
		if (r)
			return r;
		ss = base == REG_RSP || base == REG_RBP;
	}

	if (base != 0xff)
		ea += e->r[base];
	if (index != 0xff)
		ea += e->r[index] << scale;
	ea += disp;
	*rm = (struct opnd) {
		.kind = OPND_MEM, .size = size,
		.seg = data_seg(e, ss ? X86EMUL_SEG_SS : X86EMUL_SEG_DS),
		.ea = ea & e->ad_mask,
	};
	/* RIP-relative: the displacement is added once the length is known. */
	if (e->rip_rel)
		rm->ea = disp;
	return X86EMUL_CONTINUE;
}

/* Iz: 16 or 32 bits, sign-extended to 64 for a 64-bit operand. */
static int imm_z(struct emu *e, struct opnd *o, unsigned int size)
{
	u64 v;
	int r = next_imm(e, size == 2 ? 2 : 4, &v);

	if (r)
		return r;
	opnd_imm(o, size, size == 8 ? sext(v, 4) : v);
	return X86EMUL_CONTINUE;
}

static int imm_b(struct emu *e, struct opnd *o, unsigned int size, bool sx)
{
	u64 v;
	int r = next_imm(e, 1, &v);

	if (r)
		return r;
	opnd_imm(o, size, sx ? sext(v, 1) : v);
	return X86EMUL_CONTINUE;
}

static int decode_prefixes(struct emu *e, u8 *op)
{
	u8 b;
	int r;

	for (;;) {
		r = next_byte(e, &b);
		if (r)
			return r;
		switch (b) {
		case 0x66:
			e->opsize_prefix = true;
			break;
		case 0x67:
			e->adsize_prefix = true;
			break;
		case 0xf0:
			e->lock = true;
			break;
		case 0xf2:
		case 0xf3:
			e->rep = b;
			break;
		case 0x26:
		case 0x2e:
		case 0x36:
		case 0x3e:
			e->seg_ovr = (b >> 3) & 3;
			break;
		case 0x64:
		case 0x65:
			e->seg_ovr = X86EMUL_SEG_FS + (b & 1);
			break;
		default:
			if (mode64(e) && (b & 0xf0) == 0x40) {
				e->rex = b;
				continue;
			}
			*op = b;
			return X86EMUL_CONTINUE;
		}
		/* REX counts only right before the opcode. */
		e->rex = 0;
	}
}

static void decode_sizes(struct emu *e)
{
	struct x86_emulate_ctxt *c = e->c;
	unsigned int def;

	switch (c->mode) {
	case X86EMUL_MODE_PROT64:
		e->op_bytes = (e->rex & 8) ? 8 : e->opsize_prefix ? 2 : 4;
		e->ad_bytes = e->adsize_prefix ? 4 : 8;
		return;
	case X86EMUL_MODE_PROT32:
		def = 4;
		break;
	case X86EMUL_MODE_REAL:
		def = c->seg[X86EMUL_SEG_CS].db ? 4 : 2;
		break;
	default:
		def = 2;
		break;
	}
	e->op_bytes = e->opsize_prefix ? 6 - def : def;
	e->ad_bytes = e->adsize_prefix ? 6 - def : def;
}

static int decode_string(struct emu *e, u8 op)
{
	e->str_size = (op & 1) ? e->op_bytes : 1;
	switch (op) {
	case 0x6c:
	case 0x6d:
		e->insn = I_INS;
		if (e->str_size == 8)
			e->str_size = 4;
		break;
	case 0x6e:
	case 0x6f:
		e->insn = I_OUTS;
		if (e->str_size == 8)
			e->str_size = 4;
		break;
	case 0xa4:
	case 0xa5:
		e->insn = I_MOVS;
		break;
	case 0xaa:
	case 0xab:
		e->insn = I_STOS;
		break;
	default:
		e->insn = I_LODS;
		break;
	}
	return X86EMUL_CONTINUE;
}

static int decode_0f(struct emu *e)
{
	unsigned int sz = e->op_bytes;
	u8 op;
	int r;

	r = next_byte(e, &op);
	if (r)
		return r;
	switch (op) {
	case 0x01:	/* group 7: SMSW Ew/Rv (/4), LMSW Ew (/6) only */
		if (e->rep)
			return X86EMUL_UNHANDLEABLE;
		r = decode_modrm(e, &e->dst, sz);
		if (r)
			return r;
		switch (e->reg & 7) {
		case 4:
			/* To memory, always a word. */
			if (e->mod != 3)
				e->dst.size = 2;
			e->insn = I_SMSW;
			return X86EMUL_CONTINUE;
		case 6:
			e->src = e->dst;
			e->src.size = 2;
			e->dst = (struct opnd) { .kind = OPND_NONE };
			e->insn = I_LMSW;
			return X86EMUL_CONTINUE;
		}
		return X86EMUL_UNHANDLEABLE;
	case 0xa3:	/* BT Ev, Gv */
	case 0xab:	/* BTS */
	case 0xb3:	/* BTR */
	case 0xbb:	/* BTC */
		r = decode_modrm(e, &e->dst, sz);
		if (r)
			return r;
		opnd_reg(e, &e->src, e->reg, sz);
		e->insn = I_BT;
		e->bt_op = (op >> 3) & 3;
		e->lockable = e->bt_op != 0;
		return X86EMUL_CONTINUE;
	case 0xba:	/* BT* Ev, Ib */
		r = decode_modrm(e, &e->dst, sz);
		if (r)
			return r;
		if ((e->reg & 7) < 4)
			return X86EMUL_UNHANDLEABLE;
		r = imm_b(e, &e->src, 1, false);
		if (r)
			return r;
		e->insn = I_BT;
		e->bt_op = e->reg & 3;
		e->lockable = e->bt_op != 0;
		return X86EMUL_CONTINUE;
	case 0xb6:	/* MOVZX Gv, Eb */
	case 0xb7:	/* MOVZX Gv, Ew */
	case 0xbe:	/* MOVSX Gv, Eb */
	case 0xbf:	/* MOVSX Gv, Ew */
		r = decode_modrm(e, &e->src, (op & 1) ? 2 : 1);
		if (r)
			return r;
		opnd_reg(e, &e->dst, e->reg, sz);
		e->insn = (op & 8) ? I_MOVSX : I_MOVZX;
		return X86EMUL_CONTINUE;
	case 0xc3:	/* MOVNTI My, Gy: 32 bits, or 64 with REX.W */
		if (e->opsize_prefix || e->rep)
			return X86EMUL_UNHANDLEABLE;
		sz = (e->rex & 8) ? 8 : 4;
		r = decode_modrm(e, &e->dst, sz);
		if (r)
			return r;
		if (e->mod == 3)
			return ud(e);
		opnd_reg(e, &e->src, e->reg, sz);
		e->insn = I_MOV;
		return X86EMUL_CONTINUE;
	}
	return X86EMUL_UNHANDLEABLE;
}

static int decode(struct emu *e)
{
	unsigned int sz;
	u8 op;
	int r;

	r = decode_prefixes(e, &op);
	if (r)
		return r;
	decode_sizes(e);
	e->ad_mask = size_mask(e->ad_bytes);
	sz = e->op_bytes;

	if (op == 0x0f) {
		r = decode_0f(e);
	} else if (op < 0x40 && (op & 7) < 6) {
		/* ADD OR ADC SBB AND SUB XOR CMP in their six forms. */
		unsigned int s = (op & 1) ? sz : 1;

		e->insn = I_ALU;
		e->alu = op >> 3;
		switch (op & 7) {
		case 0:
		case 1:
			r = decode_modrm(e, &e->dst, s);
			opnd_reg(e, &e->src, e->reg, s);
			e->lockable = e->alu != ALU_CMP;
			break;
		case 2:
		case 3:
			r = decode_modrm(e, &e->src, s);
			opnd_reg(e, &e->dst, e->reg, s);
			break;
		default:
			opnd_reg(e, &e->dst, REG_RAX, s);
			r = s == 1 ? imm_b(e, &e->src, 1, false) :
				     imm_z(e, &e->src, s);
			break;
		}
	} else {
		switch (op) {
		case 0x63:	/* MOVSXD Gv, Ed (64-bit mode; ARPL else) */
			if (!mode64(e))
				return X86EMUL_UNHANDLEABLE;
			r = decode_modrm(e, &e->src, sz > 4 ? 4 : sz);
			opnd_reg(e, &e->dst, e->reg, sz);
			e->insn = I_MOVSX;
			break;
		case 0x6c ... 0x6f:
		case 0xa4:
		case 0xa5:
		case 0xaa ... 0xad:
			r = decode_string(e, op);
			break;
		case 0x80:	/* group 1 Eb, Ib */
		case 0x81:	/* Ev, Iz */
		case 0x82:	/* Eb, Ib (not in 64-bit mode) */
		case 0x83:	/* Ev, Ib sign-extended */
			if (op == 0x82 && mode64(e))
				return X86EMUL_UNHANDLEABLE;
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->dst, sz);
			if (r)
				return r;
			e->insn = I_ALU;
			e->alu = e->reg & 7;
			e->lockable = e->alu != ALU_CMP;
			r = op == 0x81 ? imm_z(e, &e->src, sz) :
					 imm_b(e, &e->src, sz, op == 0x83);
			break;
		case 0x84:	/* TEST Eb, Gb */
		case 0x85:	/* TEST Ev, Gv */
		case 0x86:	/* XCHG Eb, Gb */
		case 0x87:	/* XCHG Ev, Gv */
		case 0x88:	/* MOV Eb, Gb */
		case 0x89:	/* MOV Ev, Gv */
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->dst, sz);
			opnd_reg(e, &e->src, e->reg, sz);
			if (op < 0x86) {
				e->insn = I_ALU;
				e->alu = ALU_TEST;
			} else if (op < 0x88) {
				e->insn = I_XCHG;
				e->lockable = true;
			} else {
				e->insn = I_MOV;
			}
			break;
		case 0x8a:	/* MOV Gb, Eb */
		case 0x8b:	/* MOV Gv, Ev */
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->src, sz);
			opnd_reg(e, &e->dst, e->reg, sz);
			e->insn = I_MOV;
			break;
		case 0xa0:	/* MOV AL, moffs */
		case 0xa1:	/* MOV eAX, moffs */
		case 0xa2:	/* MOV moffs, AL */
		case 0xa3: {	/* MOV moffs, eAX */
			struct opnd *m = (op & 2) ? &e->dst : &e->src;
			struct opnd *a = (op & 2) ? &e->src : &e->dst;
			u64 off;

			sz = (op & 1) ? sz : 1;
			r = next_imm(e, e->ad_bytes, &off);
			if (r)
				return r;
			*m = (struct opnd) {
				.kind = OPND_MEM, .size = sz, .ea = off,
				.seg = data_seg(e, X86EMUL_SEG_DS),
			};
			opnd_reg(e, a, REG_RAX, sz);
			e->insn = I_MOV;
			break;
		}
		case 0xa8:	/* TEST AL, Ib */
		case 0xa9:	/* TEST eAX, Iz */
			sz = (op & 1) ? sz : 1;
			opnd_reg(e, &e->dst, REG_RAX, sz);
			r = sz == 1 ? imm_b(e, &e->src, 1, false) :
				      imm_z(e, &e->src, sz);
			e->insn = I_ALU;
			e->alu = ALU_TEST;
			break;
		case 0xc6:	/* MOV Eb, Ib */
		case 0xc7:	/* MOV Ev, Iz */
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->dst, sz);
			if (r)
				return r;
			if (e->reg & 7)
				return X86EMUL_UNHANDLEABLE;
			r = sz == 1 ? imm_b(e, &e->src, 1, false) :
				      imm_z(e, &e->src, sz);
			e->insn = I_MOV;
			break;
		case 0xf6:	/* group 3 Eb */
		case 0xf7:	/* group 3 Ev */
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->dst, sz);
			if (r)
				return r;
			switch (e->reg & 7) {
			case 0:		/* TEST E, I */
				e->insn = I_ALU;
				e->alu = ALU_TEST;
				r = sz == 1 ? imm_b(e, &e->src, 1, false) :
					      imm_z(e, &e->src, sz);
				break;
			case 2:
				e->insn = I_NOT;
				e->lockable = true;
				break;
			case 3:
				e->insn = I_ALU;
				e->alu = ALU_NEG;
				e->lockable = true;
				break;
			default:
				return X86EMUL_UNHANDLEABLE;
			}
			break;
		case 0xfe:	/* group 4: INC/DEC Eb */
		case 0xff:	/* group 5: INC/DEC Ev */
			sz = (op & 1) ? sz : 1;
			r = decode_modrm(e, &e->dst, sz);
			if (r)
				return r;
			if ((e->reg & 7) > 1)
				return X86EMUL_UNHANDLEABLE;
			e->insn = I_ALU;
			e->alu = (e->reg & 7) ? ALU_DEC : ALU_INC;
			e->lockable = true;
			break;
		default:
			return X86EMUL_UNHANDLEABLE;
		}
	}
	if (r)
		return r;

	e->next_rip = (e->rip + e->pos) & e->ip_mask;
	if (e->rip_rel) {
		struct opnd *m = e->dst.kind == OPND_MEM ? &e->dst : &e->src;

		m->ea = (e->next_rip + m->ea) & e->ad_mask;
	}

	/* LOCK: only the read-modify-write forms, with a memory operand. */
	if (e->lock && (!e->lockable || e->dst.kind != OPND_MEM))
		return ud(e);
	return X86EMUL_CONTINUE;
}

/* ---- Execution ---------------------------------------------------------- */

static bool parity_even(u8 v)
{
	v ^= v >> 4;
	v ^= v >> 2;
	v ^= v >> 1;
	return !(v & 1);
}

/* a <op> b on size bytes; sets the arithmetic flags in e->flags. */
static u64 alu(struct emu *e, int op, u64 a, u64 b, unsigned int size)
{
	u64 mask = size_mask(size), sign = 1ULL << (size * 8 - 1);
	u64 cin = e->flags & X86_EFLAGS_CF, res, fl = 0, keep = 0;
	bool cf = false, of = false, af = false;

	a &= mask;
	b &= mask;
	switch (op) {
	case ALU_INC:
		b = 1;
		keep = X86_EFLAGS_CF;
		fallthrough;
	case ALU_ADD:
	case ALU_ADC:
		if (op != ALU_ADC)
			cin = 0;
		res = (a + b + cin) & mask;
		if (size == 8)
			cf = res < a || (cin && res == a);
		else
			cf = ((a + b + cin) >> (size * 8)) & 1;
		of = (a ^ res) & (b ^ res) & sign;
		af = (a ^ b ^ res) & 0x10;
		break;
	case ALU_NEG:
		b = a;
		a = 0;
		cin = 0;
		goto sub;
	case ALU_DEC:
		b = 1;
		keep = X86_EFLAGS_CF;
		fallthrough;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		if (op != ALU_SBB)
			cin = 0;
sub:
		res = (a - b - cin) & mask;
		cf = a < b || (cin && a == b);
		of = (a ^ b) & (a ^ res) & sign;
		af = (a ^ b ^ res) & 0x10;
		break;
	case ALU_OR:
		res = a | b;
		break;
	case ALU_XOR:
		res = a ^ b;
		break;
	default:	/* AND, TEST */
		res = a & b;
		break;
	}
	if (cf)
		fl |= X86_EFLAGS_CF;
	if (of)
		fl |= X86_EFLAGS_OF;
	if (af)
		fl |= X86_EFLAGS_AF;
	if (!res)
		fl |= X86_EFLAGS_ZF;
	if (res & sign)
		fl |= X86_EFLAGS_SF;
	if (parity_even(res))
		fl |= X86_EFLAGS_PF;
	e->flags = (e->flags & ~(ARITH_FLAGS & ~keep)) | (fl & ~keep);
	return res;
}

static int exec_alu(struct emu *e)
{
	u64 res;
	int r;

	r = opnd_read(e, &e->dst);
	if (!r && e->src.kind != OPND_NONE)
		r = opnd_read(e, &e->src);
	if (r)
		return r;
	res = alu(e, e->alu, e->dst.val, e->src.val, e->dst.size);
	if (e->alu == ALU_CMP || e->alu == ALU_TEST)
		return X86EMUL_CONTINUE;
	return opnd_write(e, &e->dst, res);
}

static int exec_bt(struct emu *e)
{
	unsigned int bits = e->dst.size * 8;
	u64 off, bit, res;
	int r;

	r = opnd_read(e, &e->src);
	if (r)
		return r;
	off = e->src.val;
	if (e->src.kind == OPND_REG && e->dst.kind == OPND_MEM) {
		/* A register bit offset is signed and may leave the operand. */
		s64 soff = (s64)sext(off, e->src.size);
		s64 words = soff >> (bits == 16 ? 4 : bits == 32 ? 5 : 6);

		e->dst.ea = (e->dst.ea + (u64)words * e->dst.size) & e->ad_mask;
	}
	bit = off & (bits - 1);
	r = opnd_read(e, &e->dst);
	if (r)
		return r;
	if ((e->dst.val >> bit) & 1)
		e->flags |= X86_EFLAGS_CF;
	else
		e->flags &= ~X86_EFLAGS_CF;
	switch (e->bt_op) {
	case 1:
		res = e->dst.val | (1ULL << bit);
		break;
	case 2:
		res = e->dst.val & ~(1ULL << bit);
		break;
	case 3:
		res = e->dst.val ^ (1ULL << bit);
		break;
	default:
		return X86EMUL_CONTINUE;
	}
	return opnd_write(e, &e->dst, res);
}

/*
 * String I/O is allowed at CPL <= IOPL in protected mode; otherwise (and
 * always in virtual-8086 mode) the TSS I/O permission bitmap decides.
 */
static int io_permitted(struct emu *e, u16 port, unsigned int size)
{
	struct x86_emulate_ctxt *c = e->c;
	const struct kvm_segment *tr;
	u64 la_mask = mode64(e) ? ~0ULL : 0xffffffffULL;
	u32 acc = X86_WALK_IMPLICIT;
	u64 base = 0, bits = 0;
	unsigned int off;
	int r;

	if (c->mode == X86EMUL_MODE_REAL)
		return X86EMUL_CONTINUE;
	if (c->mode != X86EMUL_MODE_VM86 &&
	    c->cpl <= ((e->flags & X86_EFLAGS_IOPL) >> X86_EFLAGS_IOPL_BIT))
		return X86EMUL_CONTINUE;
	/* Only a 32-bit (or 64-bit) TSS has a bitmap. */
	tr = seg_reg(e, X86EMUL_SEG_TR);
	if ((tr->type & ~2) != 9 || tr->unusable || tr->limit < 103)
		return gp0(e);
	r = access_mem(e, LOG_READ, (tr->base + 102) & la_mask, &base, 2, acc);
	if (r)
		return r;
	off = base + port / 8;
	if ((u64)off + 1 > tr->limit)
		return gp0(e);
	r = access_mem(e, LOG_READ, (tr->base + off) & la_mask, &bits, 2, acc);
	if (r)
		return r;
	if ((bits >> (port & 7)) & ((1U << size) - 1))
		return gp0(e);
	return X86EMUL_CONTINUE;
}

/*
 * How many elements of an INS at linear address @la one port input may
 * fetch ahead: those left (REP) or one, no more than the read-ahead holds,
 * and no further than the end of the page in the direction of DF.
 */
static unsigned int ins_batch(struct emu *e, unsigned int size, u64 count,
			      u64 la)
{
	unsigned int off = la & (PAGE_BYTES - 1);
	u64 n = X86EMUL_PIO_BATCH / size, in_page;

	if (e->flags & X86_EFLAGS_DF)
		in_page = off / size + 1;
	else
		in_page = (PAGE_BYTES - off) / size;
	if (in_page < n)
		n = in_page;
	if (!e->rep)
		count = 1;
	if (count < n)
		n = count;
	return n ? n : 1;
}

/*
 * The next INS element, from the read-ahead, which is refilled by one
 * port input of several elements when empty.  The element counts as used
 * only when the step completes, so that a restart takes it again.
 */
static int ins_input(struct emu *e, u16 port, unsigned int size, u64 count,
		     u64 la, u64 *v)
{
	struct x86_emulate_ctxt *c = e->c;
	unsigned int n;
	int r;

	if (c->pio_pos >= c->pio_end) {
		n = ins_batch(e, size, count, la);
		if (c->pio_ready) {
			/*
			 * Userspace answered the exit.  It may have changed
			 * RCX meanwhile: the batch follows the count as it is
			 * now, within the data it gave.
			 */
			if (n > c->pio_have / size)
				n = c->pio_have / size;
			c->pio_ready = false;
			if (!n)
				return X86EMUL_UNHANDLEABLE;
		} else {
			r = c->ops->pio_in(c, port, size, n, c->pio_data);
			if (r == X86EMUL_IO_NEEDED) {
				c->pio_want = n * size;
				return r;
			}
			if (r != X86EMUL_CONTINUE)
				return X86EMUL_UNHANDLEABLE;
		}
		c->pio_pos = 0;
		c->pio_end = n * size;
	}
	*v = 0;
	memcpy(v, c->pio_data + c->pio_pos, size);
	e->pio_taken = size;
	return X86EMUL_CONTINUE;
}

/* Write an index or count register with the address size. */
static void set_areg(struct emu *e, u8 reg, u64 v)
{
	reg_set(e, reg, e->ad_bytes, false, v);
}

static int exec_string(struct emu *e)
{
	unsigned int size = e->str_size;
	int src_seg = data_seg(e, X86EMUL_SEG_DS);
	u64 si = e->r[REG_RSI] & e->ad_mask, di = e->r[REG_RDI] & e->ad_mask;
	u64 count = e->r[REG_RCX] & e->ad_mask;
	u64 delta = (e->flags & X86_EFLAGS_DF) ? -(u64)size : size;
	u16 port = e->r[REG_RDX];
	u64 v = 0, la;
	int r;

	if (e->rep && !count)
		return X86EMUL_CONTINUE;

	switch (e->insn) {
	case I_MOVS:
		r = mem_read(e, src_seg, si, size, &v);
		if (!r)
			r = mem_write(e, X86EMUL_SEG_ES, di, size, v);
		break;
	case I_STOS:
		r = mem_write(e, X86EMUL_SEG_ES, di, size, e->r[REG_RAX]);
		break;
	case I_LODS:
		r = mem_read(e, src_seg, si, size, &v);
		if (!r)
			reg_set(e, REG_RAX, size, false, v);
		break;
	case I_INS:
		/* Segment checks on the destination come before the input. */
		r = io_permitted(e, port, size);
		if (!r)
			r = linearize(e, X86EMUL_SEG_ES, di, size, true, &la);
		if (!r)
			r = ins_input(e, port, size, count, la, &v);
		if (!r)
			r = mem_write(e, X86EMUL_SEG_ES, di, size, v);
		break;
	default:	/* I_OUTS */
		r = io_permitted(e, port, size);
		if (!r)
			r = mem_read(e, src_seg, si, size, &v);
		if (!r)
			r = guest_access(e, LOG_PIO_OUT, 0, port, &v, size, 0);
		break;
	}
	if (r)
		return r;

	if (e->insn == I_MOVS || e->insn == I_LODS || e->insn == I_OUTS)
		set_areg(e, REG_RSI, si + delta);
	if (e->insn == I_MOVS || e->insn == I_STOS || e->insn == I_INS)
		set_areg(e, REG_RDI, di + delta);
	if (e->rep) {
		set_areg(e, REG_RCX, count - 1);
		if (count - 1)
			e->c->rep_more = true;
	}
	return X86EMUL_CONTINUE;
}

static int exec_lmsw(struct emu *e)
{
	struct x86_emulate_ctxt *c = e->c;
	u64 cr0;
	int r;

	if (c->cpl)
		return gp0(e);
	r = opnd_read(e, &e->src);
	if (r)
		return r;
	if (!c->ops->set_cr0)
		return X86EMUL_UNHANDLEABLE;
	/* PE, MP, EM and TS from the operand; PE can be set, not cleared. */
	cr0 = (c->cr0 & ~0xeULL) | (e->src.val & 0xf);
	if (c->ops->set_cr0(c, cr0))
		return gp0(e);
	c->cr0 = cr0;
	return X86EMUL_CONTINUE;
}

static int execute(struct emu *e)
{
	int r;

	switch (e->insn) {
	case I_ALU:
		return exec_alu(e);
	case I_MOV:
		r = opnd_read(e, &e->src);
		return r ? r : opnd_write(e, &e->dst, e->src.val);
	case I_MOVZX:
		r = opnd_read(e, &e->src);
		return r ? r : opnd_write(e, &e->dst, e->src.val);
	case I_MOVSX:
		r = opnd_read(e, &e->src);
		return r ? r : opnd_write(e, &e->dst,
					  sext(e->src.val, e->src.size));
	case I_XCHG:
		r = opnd_read(e, &e->dst);
		if (!r)
			r = opnd_read(e, &e->src);
		if (!r)
			r = opnd_write(e, &e->dst, e->src.val);
		if (!r)
			r = opnd_write(e, &e->src, e->dst.val);
		return r;
	case I_NOT:
		r = opnd_read(e, &e->dst);
		return r ? r : opnd_write(e, &e->dst, ~e->dst.val);
	case I_BT:
		return exec_bt(e);
	case I_SMSW:
		if (e->c->cpl && (e->c->cr4 & X86_CR4_UMIP))
			return gp0(e);
		return opnd_write(e, &e->dst, e->c->cr0);
	case I_LMSW:
		return exec_lmsw(e);
	default:
		return exec_string(e);
	}
}

/* ---- The interface ------------------------------------------------------ */

static void reset_step(struct x86_emulate_ctxt *ctxt)
{
	struct x86_emulate_log *l = &ctxt->log;

	/* Entries past nr and bytes are never read. */
	l->nr = 0;
	l->bytes = 0;
	l->pending = 0;
	l->pending_kind = LOG_NONE;
}

/* Drop the INS read-ahead and any port input awaited. */
static void reset_pio(struct x86_emulate_ctxt *ctxt)
{
	ctxt->pio_pos = 0;
	ctxt->pio_end = 0;
	ctxt->pio_want = 0;
	ctxt->pio_ready = false;
}

/* What both ways of setting up an emulation share. */
static void emulate_reset(struct x86_emulate_ctxt *ctxt,
			  const struct x86_emulate_ops *ops, void *opaque,
			  unsigned long *regs, unsigned long rflags)
{
	/*
	 * Field by field: the INS read-ahead buffer is large and needs no
	 * clearing (pio_end says what it holds), nor do the instruction
	 * bytes (insn_len) or the log's entries (log.nr, log.bytes).
	 */
	ctxt->exception = (struct x86_exception) {};
	ctxt->rep_more = false;
	ctxt->single_mem = false;
	ctxt->insn_len = 0;
	ctxt->insn_valid = false;
	reset_step(ctxt);
	reset_pio(ctxt);
	ctxt->pio_have = 0;
	ctxt->ops = ops;
	ctxt->opaque = opaque;
	ctxt->regs = regs;
	ctxt->rflags = rflags;
}

/* The mode and CPL, from CR0, EFER, RFLAGS, CS and SS. */
static void emulate_set_mode(struct x86_emulate_ctxt *ctxt)
{
	const struct kvm_segment *cs = &ctxt->seg[X86EMUL_SEG_CS];

	if (!(ctxt->cr0 & X86_CR0_PE)) {
		ctxt->mode = X86EMUL_MODE_REAL;
		ctxt->cpl = 0;
		return;
	}
	/* Long mode has no virtual-8086 mode: there RFLAGS.VM is ignored. */
	if ((ctxt->rflags & X86_EFLAGS_VM) && !(ctxt->efer & EFER_LMA)) {
		ctxt->mode = X86EMUL_MODE_VM86;
		ctxt->cpl = 3;
		return;
	}
	if ((ctxt->efer & EFER_LMA) && cs->l)
		ctxt->mode = X86EMUL_MODE_PROT64;
	else if (cs->db)
		ctxt->mode = X86EMUL_MODE_PROT32;
	else
		ctxt->mode = X86EMUL_MODE_PROT16;
	ctxt->cpl = ctxt->seg[X86EMUL_SEG_SS].dpl & 3;
}

void x86_emulate_init(struct x86_emulate_ctxt *ctxt,
		      const struct x86_emulate_ops *ops, void *opaque,
		      unsigned long *regs, unsigned long rflags,
		      const struct kvm_sregs *sregs)
{
	emulate_reset(ctxt, ops, opaque, regs, rflags);
	ctxt->seg[X86EMUL_SEG_ES] = sregs->es;
	ctxt->seg[X86EMUL_SEG_CS] = sregs->cs;
	ctxt->seg[X86EMUL_SEG_SS] = sregs->ss;
	ctxt->seg[X86EMUL_SEG_DS] = sregs->ds;
	ctxt->seg[X86EMUL_SEG_FS] = sregs->fs;
	ctxt->seg[X86EMUL_SEG_GS] = sregs->gs;
	ctxt->tr = sregs->tr;
	ctxt->segs_valid = (1U << (X86EMUL_SEG_TR + 1)) - 1;
	ctxt->cr0 = sregs->cr0;
	ctxt->cr4 = sregs->cr4;
	ctxt->efer = sregs->efer;
	emulate_set_mode(ctxt);
}

void x86_emulate_init_lazy(struct x86_emulate_ctxt *ctxt,
			   const struct x86_emulate_ops *ops, void *opaque,
			   unsigned long *regs, unsigned long rflags)
{
	emulate_reset(ctxt, ops, opaque, regs, rflags);
	ctxt->segs_valid = (1U << X86EMUL_SEG_CS) | (1U << X86EMUL_SEG_SS);
	emulate_set_mode(ctxt);
}

int x86_emulate_insn(struct x86_emulate_ctxt *ctxt)
{
	/* Cleared below up to r[], which is copied in whole. */
	struct emu e X86_NOINIT;
	int r;

	memset(&e, 0, offsetof(struct emu, r));
	e.c = ctxt;
	e.seg_ovr = -1;

#ifndef NKVM_USERSPACE
	BUILD_BUG_ON(VCPU_REGS_RIP != X86EMUL_REG_RIP);
	BUILD_BUG_ON(NR_VCPU_REGS != X86EMUL_NR_REGS);
	BUILD_BUG_ON(sizeof(ctxt->regs[0]) != sizeof(e.r[0]));
#endif
	if (!ctxt->insn_valid) {
		ctxt->insn_len = 0;
		ctxt->insn_valid = true;
		reset_step(ctxt);
		reset_pio(ctxt);
	}
	ctxt->log.pending = 0;
	ctxt->rep_more = false;
	/* (One block copy: cheaper than a loop of 16.) */
	memcpy(e.r, ctxt->regs, sizeof(e.r));
	e.flags = ctxt->rflags;
	e.ip_mask = ip_mask(ctxt);
	e.rip = ctxt->regs[X86EMUL_REG_RIP] & e.ip_mask;

	r = decode(&e);
	if (!r) {
		ctxt->single_mem = e.insn < I_MOVS;
		r = execute(&e);
	}

	if (r == X86EMUL_CONTINUE) {
		ctxt->pio_pos += e.pio_taken;
		memcpy(ctxt->regs, e.r, sizeof(e.r));
		if (!ctxt->rep_more) {
			ctxt->regs[X86EMUL_REG_RIP] = e.next_rip;
			e.flags &= ~X86_EFLAGS_RF;
			ctxt->insn_valid = false;
		}
		ctxt->rflags = e.flags;
		reset_step(ctxt);
		if (!ctxt->rep_more)
			reset_pio(ctxt);
	} else if (r != X86EMUL_IO_NEEDED) {
		ctxt->rep_more = false;
		ctxt->insn_valid = false;
		reset_step(ctxt);
		reset_pio(ctxt);
	}
	return r;
}

bool x86_emulate_read_ahead(const struct x86_emulate_ctxt *ctxt)
{
	return ctxt->pio_pos < ctxt->pio_end;
}

int x86_emulate_complete_read(struct x86_emulate_ctxt *ctxt, const void *data,
			      unsigned int len)
{
	struct x86_emulate_log *l = &ctxt->log;

	if (ctxt->insn_valid && ctxt->pio_want) {
		if (len < ctxt->pio_want)
			return -EINVAL;
		ctxt->pio_have = len < X86EMUL_PIO_BATCH ? len : X86EMUL_PIO_BATCH;
		memcpy(ctxt->pio_data, data, ctxt->pio_have);
		ctxt->pio_want = 0;
		ctxt->pio_ready = true;
		return 0;
	}
	if (!ctxt->insn_valid || !l->pending || len != l->pending ||
	    l->nr >= X86EMUL_LOG_OPS || l->bytes + len > X86EMUL_LOG_BYTES)
		return -EINVAL;
	memcpy(l->data + l->bytes, data, len);
	l->kind[l->nr] = l->pending_kind;
	l->len[l->nr] = len;
	l->nr++;
	l->bytes += len;
	l->pending = 0;
	return 0;
}
