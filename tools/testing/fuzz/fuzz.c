// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz.c - the engine of the nkvm ioctl fuzzer.
 *
 * Worker threads pick operations at random: ioctls from the table (rows.c)
 * on fds of the right kind, of a wrong kind, or closed ones, with arguments
 * placed at good, read-only, partly mapped, unmapped, kernel and
 * non-canonical addresses; random and mangled ioctl numbers; memslot
 * changes; guest setups and KVM_RUN; mmap of every fd; close and dup2 of fds
 * other threads are using; changes to the host memory behind memslots
 * (mprotect, MADV_DONTNEED, remapping); fork (the child uses the parent's
 * fds); lowered fd limits.  A watchdog thread interrupts calls that run too
 * long (a guest that never exits) and reports operations that hang.
 *
 * Every operation draws one number from its thread's sequence and takes all
 * its other decisions from a generator seeded with that number: what the
 * kernel answers never shifts the sequence.  Thread 0's sequence is the
 * seed's; thread i's is derived from the seed and i.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kvm.h>

#include "compat.h"
#include "fuzz.h"

int fz_row_index(unsigned long cmd);
void fz_vcpu_created(struct fz_thread *t, int vm_obj, int fd, int id);

/* ---- Random numbers ---------------------------------------------------- */

uint64_t fz_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void fz_rng_seed(struct fz_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		seed = fz_mix(seed);
		r->s[i] = seed;
	}
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
uint64_t fz_rng_next(struct fz_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t fz_rand(struct fz_thread *t)
{
	return fz_rng_next(&t->r);
}

uint64_t fz_below(struct fz_thread *t, uint64_t n)
{
	return n ? fz_rand(t) % n : 0;
}

bool fz_chance(struct fz_thread *t, unsigned int percent)
{
	return fz_below(t, 100) < percent;
}

uint64_t fz_interesting(struct fz_thread *t)
{
	static const uint64_t vals[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256,
		511, 512, 1023, 1024, 4095, 4096, 4097, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
		0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
		0xfffffffffffff000ULL, 0xffffffffffffffffULL,
		0xfffffffffffffffeULL, 0x0000800000000000ULL,
		0x00007ffffffff000ULL, 0xffff800000000000ULL, 1ULL << 52,
		(1ULL << 52) - 1, 32764, 32765, 1ULL << 31, 4094, 4096 * 4096,
	};

	return vals[fz_below(t, sizeof(vals) / sizeof(vals[0]))];
}

uint64_t fz_val(struct fz_thread *t)
{
	switch (fz_below(t, 10)) {
	case 0:
	case 1:
	case 2:
		return fz_interesting(t);
	case 3:
	case 4:
		return fz_rand(t);
	case 5:
		return fz_rand(t) & 0xffffffff;
	case 6:
		return fz_interesting(t) + fz_below(t, 3) - 1;
	default:
		return fz_below(t, 256);
	}
}

void fz_fill_random(struct fz_thread *t, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len >= 8) {
		uint64_t v = fz_rand(t);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	while (len--)
		*p++ = (uint8_t)fz_rand(t);
}

void fz_fill_struct(struct fz_thread *t, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	memset(buf, 0, len);
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		switch (fz_below(t, 8)) {
		case 0:
		case 1:
			v = fz_below(t, 16);
			break;
		case 2:
			v = fz_interesting(t);
			break;
		case 3:
			v = fz_rand(t);
			break;
		default:
			continue;
		}
		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		if (fz_chance(t, 30))
			p[i] = (uint8_t)fz_rand(t);
}

/* ---- Globals ----------------------------------------------------------- */

static struct fuzz_cfg cfg;
static struct fz_thread *threads;
static int nthreads;
static volatile int stop_all;
static uint64_t t0_ns;
static uint64_t total_calls;		/* atomic */
static int hangs, failures;		/* atomic */
static FILE *logf;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* The arena: 1 TiB of address space, PROT_NONE except for the regions. */
#define ARENA_SIZE	(1ULL << 40)
#define POOL_SIZE	(16UL << 20)
#define RO_SIZE		(1UL << 20)
#define MEMFD_SIZE	(1UL << 20)
static uint8_t *arena, *pool, *ro_region, *memfd_region;
static int memfd_fd = -1;
static size_t run_size = 3 * 4096;
static int phys_bits = 40;

uint8_t *fz_pool(void) { return pool; }
size_t fz_pool_size(void) { return POOL_SIZE; }
size_t fz_run_size(void) { return run_size; }
int fz_host_phys_bits(void) { return phys_bits; }
bool fz_tcg_workarounds(void) { return !cfg.no_tcg_workarounds; }

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double elapsed(void)
{
	return (double)(now_ns() - t0_ns) / 1e9;
}

__thread sigjmp_buf *fz_guard_jb;

__attribute__((noinline))
bool fz_copy_guarded(struct fz_thread *t, void *dst, const void *src, size_t n)
{
	volatile bool ok = false;

	FZ_GUARDED(t, { memcpy(dst, src, n); ok = true; });
	return ok;
}

/* ---- The object table -------------------------------------------------- */

static const int kind_cap[FK_NR] = {
	[FK_SYS] = 2, [FK_VM] = 4, [FK_VCPU] = 10, [FK_DEV] = 3,
	[FK_STATS] = 3, [FK_GMEM] = 2, [FK_EVENT] = 3, [FK_OTHER] = 2,
};
static const char *const kind_names[FK_NR] = {
	"kvm", "vm", "vcpu", "device", "stats", "guest_memfd", "eventfd", "other",
};
static int kind_base[FK_NR];
#define FZ_NOBJ 32
static struct fz_obj objs[FZ_NOBJ];
static int nobjs;
static pthread_mutex_t objs_lock = PTHREAD_MUTEX_INITIALIZER;

struct fz_obj *fz_obj(int idx)
{
	return &objs[idx];
}

static void objs_init(void)
{
	int k, i, n = 0;

	for (k = 0; k < FK_NR; k++) {
		kind_base[k] = n;
		for (i = 0; i < kind_cap[k]; i++) {
			objs[n] = (struct fz_obj) { .fd = -1, .kind = k, .parent = -1 };
			n++;
		}
	}
	nobjs = n;
}

/* Drop an object; the caller holds objs_lock.  Returns the fd to close. */
static int obj_clear(struct fz_obj *o)
{
	int fd = o->fd;

	if (o->run)
		munmap(o->run, o->run_size);
	o->run = NULL;
	o->fd = -1;
	o->parent = -1;
	o->gen++;
	return fd;
}

int fz_obj_add(struct fz_thread *t, int kind, int fd, int parent)
{
	int i, idx = -1, old;

	pthread_mutex_lock(&objs_lock);
	for (i = 0; i < kind_cap[kind]; i++) {
		if (objs[kind_base[kind] + i].fd < 0) {
			idx = kind_base[kind] + i;
			break;
		}
	}
	if (idx < 0)
		idx = kind_base[kind] + (int)fz_below(t, kind_cap[kind]);
	old = obj_clear(&objs[idx]);
	objs[idx].fd = fd;
	objs[idx].parent = parent;
	pthread_mutex_unlock(&objs_lock);
	if (old >= 0 && old != fd) {
		long r = close(old) ? -errno : 0;

		fz_count(t, fz_nrows + FZC_CLOSE, r);
	}
	t->st.created[kind]++;
	return idx;
}

void fz_vcpu_created(struct fz_thread *t, int vm_obj, int fd, int id)
{
	void *run;
	int idx;

	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	fz_count(t, fz_nrows + FZC_MMAP, run == MAP_FAILED ? -errno : 0);
	idx = fz_obj_add(t, FK_VCPU, fd, vm_obj);
	pthread_mutex_lock(&objs_lock);
	if (objs[idx].fd == fd && run != MAP_FAILED) {
		objs[idx].run = run;
		objs[idx].run_size = run_size;
		run = MAP_FAILED;
	}
	objs[idx].vcpu_id = id;
	pthread_mutex_unlock(&objs_lock);
	if (run != MAP_FAILED)
		munmap(run, run_size);
}

int fz_pick_obj(struct fz_thread *t, int kind)
{
	int i, start = (int)fz_below(t, kind_cap[kind]);

	/* Prefer a live one; an empty slot now and then is fine too. */
	for (i = 0; i < kind_cap[kind]; i++) {
		int idx = kind_base[kind] + (start + i) % kind_cap[kind];

		if (objs[idx].fd >= 0)
			return idx;
	}
	return -1;
}

int fz_pick_fd(struct fz_thread *t, unsigned int kinds)
{
	int k, idx, tries;

	switch (fz_below(t, 40)) {
	case 0:
		return -1;
	case 1:
		return (int)fz_val(t);
	case 2:
		kinds = ~0u;
		break;
	default:
		break;
	}
	for (tries = 0; tries < 8; tries++) {
		k = (int)fz_below(t, FK_NR);
		if (!(kinds & FKM(k)))
			continue;
		idx = fz_pick_obj(t, k);
		if (idx >= 0)
			return objs[idx].fd;
	}
	return -1;
}

/* ---- Addresses --------------------------------------------------------- */

uint64_t fz_gpa(struct fz_thread *t)
{
	static const uint64_t known[] = {
		0xa0000, 0xc0000, 0xe0000, 0xf0000, 0xfec00000, 0xfee00000,
		0xfed00000, 0xffff0000, 0xfffff000, 0xc0000000, 0x100000000ULL,
		0xe0000000, 0x80000000,
	};
	uint64_t top = 1ULL << phys_bits;

	switch (fz_below(t, 20)) {
	case 0:
	case 1:
	case 2:
	case 3:
		return 0;
	case 4:
	case 5:
		return 4096 * fz_below(t, 1024);
	case 6:
		return 0x100000 * fz_below(t, 16);
	case 7:
	case 8:
		return known[fz_below(t, sizeof(known) / sizeof(known[0]))];
	case 9:
		return 4096 * fz_below(t, 1 << 20);
	case 10:
		return top - 4096 * (1 + fz_below(t, 16));
	case 11:
		return top + 4096 * fz_below(t, 4);
	case 12:
		return 1ULL << (32 + fz_below(t, 21));
	case 13:
		return fz_rand(t) & ((1ULL << 52) - 1) & ~0xfffULL;
	case 14:
		return fz_rand(t);
	case 15:
		return 4096 * fz_below(t, 4096) + (1ULL << 32);
	default:
		return 0x1000 * fz_below(t, 16);
	}
}

static uint64_t any_run_page(struct fz_thread *t)
{
	int idx = fz_pick_obj(t, FK_VCPU);
	void *run = idx >= 0 ? objs[idx].run : NULL;

	return (uint64_t)(uintptr_t)run;
}

uint64_t fz_hva(struct fz_thread *t, uint64_t size)
{
	uint64_t pool_pages = POOL_SIZE / 4096, run;

	switch (fz_below(t, 40)) {
	case 0:
	case 1:
		return (uint64_t)(uintptr_t)ro_region +
		       (size <= RO_SIZE ? 4096 * fz_below(t, (RO_SIZE - size) / 4096 + 1) : 0);
	case 2:
	case 3:
		return (uint64_t)(uintptr_t)memfd_region +
		       (size <= MEMFD_SIZE ? 4096 * fz_below(t, (MEMFD_SIZE - size) / 4096 + 1) : 0);
	case 4:
		/* Inside the arena but PROT_NONE. */
		return (uint64_t)(uintptr_t)arena + (64ULL << 20) +
		       4096 * fz_below(t, 1 << 20);
	case 5:
		/* Below every mapping (the binary starts at 4 MiB). */
		if (size <= 0x200000)
			return 0x10000 + 4096 * fz_below(t, 256);
		return (uint64_t)(uintptr_t)arena;
	case 6:
		return 0xffff888000000000ULL + 4096 * fz_below(t, 1 << 20);
	case 7:
		return fz_chance(t, 50) ? 0x0000800000000000ULL : 0x8000000000000000ULL;
	case 8:
		return (uint64_t)(uintptr_t)pool + 1 + fz_below(t, 4095);
	case 9:
		return 0;
	case 10:
		run = any_run_page(t);
		if (run && size <= run_size)
			return run;
		break;
	case 11:
		if (size <= FZ_SCRATCH)
			return (uint64_t)(uintptr_t)t->rw;
		break;
	case 12:
		/* The end of user space: only with sizes that overflow it. */
		if (size > 0x10000)
			return 0x800000000000ULL - 4096 * fz_below(t, 2);
		break;
	default:
		break;
	}
	if (size <= POOL_SIZE)
		return (uint64_t)(uintptr_t)pool +
		       4096 * fz_below(t, pool_pages - size / 4096 + 1);
	/* Larger than the pool: it runs on into the PROT_NONE arena. */
	return (uint64_t)(uintptr_t)arena;
}

uint64_t fz_user_ptr(struct fz_thread *t)
{
	switch (fz_below(t, 12)) {
	case 0:
		return 0;
	case 1:
		return 0xffffffff81000000ULL + 4096 * fz_below(t, 4096);
	case 2:
		return 0x8000000000000000ULL;
	case 3:
		return (uint64_t)(uintptr_t)t->ro + fz_below(t, 4096);
	case 4:
		return (uint64_t)(uintptr_t)arena + (64ULL << 20);
	case 5:
		return (uint64_t)(uintptr_t)(t->scratch + FZ_SCRATCH - 8);
	default:
		return (uint64_t)(uintptr_t)(t->scratch + 16384 + fz_below(t, 16384));
	}
}

/* ---- Calls and their accounting ---------------------------------------- */

int fz_ncalls;
static const char *const call_names[FZC_NR] = {
	"open", "close", "dup", "mmap", "munmap", "read", "fork", "eventfd",
	"random-ioctl", "mangled-ioctl", "backing",
};

const char *fz_call_name(int call)
{
	if (call < fz_nrows)
		return fz_rows[call].name;
	if (call - fz_nrows < FZC_NR)
		return call_names[call - fz_nrows];
	return "?";
}

int fz_row_index(unsigned long cmd)
{
	int i;

	for (i = 0; i < fz_nrows; i++)
		if (fz_rows[i].cmd == cmd)
			return i;
	return -1;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "ok";

	return n ? n : "E?";
}

void fz_count(struct fz_thread *t, int call, long ret)
{
	struct fz_callstat *cs = &t->st.call[call];
	int e = ret < 0 ? (int)-ret : 0, i;

	t->st.calls++;
	__atomic_fetch_add(&total_calls, 1, __ATOMIC_RELAXED);
	t->st.err[e < FZ_NERRNO ? e : FZ_NERRNO - 1]++;
	cs->calls++;
	if (!e) {
		cs->ok++;
	} else {
		for (i = 0; i < FZ_ROW_ERRS; i++) {
			if (cs->err[i] == e || !cs->err[i]) {
				cs->err[i] = (uint16_t)e;
				cs->nerr[i]++;
				break;
			}
		}
		if (i == FZ_ROW_ERRS)
			cs->other_err++;
	}

	if (logf) {
		/* Returned fds depend on the fd table: log only "fd". */
		bool val = call < fz_nrows && !fz_rows[call].post && ret >= 0;

		pthread_mutex_lock(&log_lock);
		if (nthreads > 1)
			fprintf(logf, "t%d ", t->id);
		if (val)
			fprintf(logf, "%" PRIu64 " %s =%ld\n", t->op, fz_call_name(call), ret);
		else
			fprintf(logf, "%" PRIu64 " %s %s\n", t->op, fz_call_name(call),
				errname(e));
		pthread_mutex_unlock(&log_lock);
	}
	if (t->trace && ret > 0)
		printf("#   t%d op %" PRIu64 ": %s -> %ld\n", t->id, t->op,
		       fz_call_name(call), ret);
	else if (t->trace)
		printf("#   t%d op %" PRIu64 ": %s -> %s\n", t->id, t->op,
		       fz_call_name(call), errname(e));
}

long fz_do_ioctl(struct fz_thread *t, int call, int fd, unsigned long cmd,
		 unsigned long arg)
{
	long r;

	t->kicks = 0;
	t->call_start_ns = now_ns();
	r = ioctl(fd, cmd, arg);
	if (r < 0)
		r = -errno;
	t->call_start_ns = 0;
	fz_count(t, call, r);
	return r;
}

/* ---- Arguments --------------------------------------------------------- */

/* Where the argument goes: mostly a good pointer, sometimes a bad one. */
static unsigned long place_arg(struct fz_thread *t, const struct fz_row *row,
			       struct fz_arg *a)
{
	uint8_t *p;
	size_t len = a->len;

	if (!a->ptr)
		return a->val;
	if (a->no_mangle)
		return (unsigned long)a->buf;

	switch (fz_below(t, 100)) {
	case 0 ... 69:
		return (unsigned long)a->buf;
	case 70 ... 77:
		/* Right before the guard page. */
		p = t->scratch + FZ_SCRATCH - len;
		memmove(p, a->buf, len);
		return (unsigned long)p;
	case 78 ... 81:
		/* Straddling the guard page. */
		p = t->scratch + FZ_SCRATCH - len / 2;
		memmove(p, a->buf, len / 2);
		return (unsigned long)p;
	case 82 ... 86:
		/* Readable, not writable: results cannot be written. */
		memcpy(t->rw, a->buf, len < FZ_SCRATCH ? len : FZ_SCRATCH);
		return (unsigned long)t->ro;
	case 87 ... 88:
		return 0;
	case 89 ... 90:
		return 0xffff888000000000ULL + 64 * fz_below(t, 1 << 20);
	case 91:
		return 0x8000000000000000ULL + 4096 * fz_below(t, 16);
	case 92 ... 93:
		return (unsigned long)(arena + (64ULL << 20));
	case 94:
		return 0x1000 + 64 * fz_below(t, 64);
	case 95 ... 96:
		p = a->buf + 1 + fz_below(t, 7);
		memmove(p, a->buf, len);
		return (unsigned long)p;
	default: {
		/* Inside a kvm_run page. */
		int idx = fz_pick_obj(t, FK_VCPU);
		uint8_t *run = idx >= 0 ? objs[idx].run : NULL;

		if (!run || len > 4096)
			return (unsigned long)a->buf;
		fz_copy_guarded(t, run, a->buf, len);
		return (unsigned long)run;
	}
	}
	(void)row;
}

static void gen_arg(struct fz_thread *t, const struct fz_row *row, struct fz_arg *a)
{
	size_t size = _IOC_SIZE(row->cmd);

	*a = (struct fz_arg) { .buf = t->scratch, .cap = FZ_SCRATCH - 64, .obj = a->obj };
	if (row->gen) {
		row->gen(t, a);
	} else if (row->flags & FZR_VAL) {
		a->val = fz_val(t);
	} else {
		if (!size || fz_chance(t, 3))
			size = 8 + fz_below(t, 4096);
		if (size > a->cap)
			size = a->cap;
		fz_fill_struct(t, a->buf, size);
		a->len = size;
		a->ptr = true;
	}
	/* A value where a pointer belongs, or the other way round. */
	if (fz_chance(t, 2)) {
		a->ptr = false;
		a->val = fz_chance(t, 50) ? fz_val(t) : (unsigned long)t->scratch;
	}
}

static long do_row(struct fz_thread *t, int ri, int obj, int fd)
{
	const struct fz_row *row = &fz_rows[ri];
	struct fz_arg a = { .obj = obj };
	unsigned long arg;
	long r;

	gen_arg(t, row, &a);
	arg = place_arg(t, row, &a);
	if (a.ptr)
		a.val = arg;
	snprintf(t->desc, sizeof(t->desc), "%s on fd %d (obj %d) arg %#lx len %zu",
		 row->name, fd, obj, arg, a.len);
	r = fz_do_ioctl(t, ri, fd, row->cmd, arg);
	if (row->post)
		row->post(t, &a, r);
	return r;
}

/* ---- Row choice -------------------------------------------------------- */

struct rowset {
	int n;
	int *row;
	unsigned int *cum;	/* cumulative weights */
	unsigned int total;
};
static struct rowset rowsets[FK_NR];
static struct rowset allrows;

static void rowset_build(struct rowset *s, unsigned int kinds)
{
	int i;

	s->row = calloc(fz_nrows, sizeof(int));
	s->cum = calloc(fz_nrows, sizeof(unsigned int));
	s->n = 0;
	s->total = 0;
	for (i = 0; i < fz_nrows; i++) {
		const struct fz_row *r = &fz_rows[i];

		if (!(r->kinds & kinds) || !r->weight)
			continue;
		if (cfg.nkvm_only && !(r->flags & FZR_NKVM))
			continue;
		s->total += r->weight;
		s->row[s->n] = i;
		s->cum[s->n] = s->total;
		s->n++;
	}
}

static int rowset_pick(struct fz_thread *t, const struct rowset *s)
{
	unsigned int x;
	int i;

	if (!s->n)
		return -1;
	x = (unsigned int)fz_below(t, s->total);
	for (i = 0; i < s->n; i++)
		if (x < s->cum[i])
			return s->row[i];
	return s->row[s->n - 1];
}

/* ---- Operations -------------------------------------------------------- */

static int open_kvm(struct fz_thread *t)
{
	static const int modes[] = { O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };
	int flags = modes[fz_below(t, 5)] | O_CLOEXEC;
	int fd = open(cfg.dev, flags);

	fz_count(t, fz_nrows + FZC_OPEN, fd < 0 ? -errno : 0);
	if (fd < 0)
		return -1;
	return fz_obj_add(t, FK_SYS, fd, -1);
}

static int ensure_obj(struct fz_thread *t, int kind);

static int create_vm(struct fz_thread *t)
{
	int sys = ensure_obj(t, FK_SYS), ri = fz_row_index(KVM_CREATE_VM);
	long r;

	if (sys < 0)
		return -1;
	snprintf(t->desc, sizeof(t->desc), "KVM_CREATE_VM on fd %d", objs[sys].fd);
	r = fz_do_ioctl(t, ri, objs[sys].fd, KVM_CREATE_VM, 0);
	if (r < 0)
		return -1;
	return fz_obj_add(t, FK_VM, (int)r, -1);
}

static int create_vcpu(struct fz_thread *t)
{
	int vm = ensure_obj(t, FK_VM), ri = fz_row_index(KVM_CREATE_VCPU);
	int id = (int)fz_below(t, 8);
	long r;

	if (vm < 0)
		return -1;
	snprintf(t->desc, sizeof(t->desc), "KVM_CREATE_VCPU %d on fd %d", id, objs[vm].fd);
	r = fz_do_ioctl(t, ri, objs[vm].fd, KVM_CREATE_VCPU, id);
	if (r < 0)
		return -1;
	fz_vcpu_created(t, vm, (int)r, id);
	return fz_pick_obj(t, FK_VCPU);
}

/* An object of this kind, created if there is none. */
static int ensure_obj(struct fz_thread *t, int kind)
{
	int idx = fz_pick_obj(t, kind);

	if (idx >= 0)
		return idx;
	switch (kind) {
	case FK_SYS:
		return open_kvm(t);
	case FK_VM:
		return create_vm(t);
	case FK_VCPU:
		return create_vcpu(t);
	default:
		return -1;
	}
}

static void op_kind_ioctl(struct fz_thread *t, int kind)
{
	int idx = kind == FK_DEV ? fz_pick_obj(t, kind) : ensure_obj(t, kind);
	int ri = rowset_pick(t, &rowsets[kind]);

	if (idx < 0 || ri < 0)
		return;
	do_row(t, ri, idx, objs[idx].fd);
}

/* Any ioctl on the wrong kind of fd, on a closed one, or on a stranger. */
static void op_wrong_fd(struct fz_thread *t)
{
	int ri = rowset_pick(t, &allrows), fd, idx = -1, k;

	if (ri < 0)
		return;
	switch (fz_below(t, 6)) {
	case 0:
		fd = (int)fz_val(t);
		break;
	case 1:
		fd = 1000 + (int)fz_below(t, 24);
		break;
	default:
		k = (int)fz_below(t, FK_NR);
		idx = fz_pick_obj(t, k);
		fd = idx >= 0 ? objs[idx].fd : -1;
	}
	if (fd >= 0 && fd <= 2)
		fd = -1;
	if (fz_rows[ri].cmd == KVM_RUN && idx >= 0 && objs[idx].kind == FK_VCPU)
		return;
	do_row(t, ri, idx, fd);
}

static bool cmd_is_safe(unsigned long cmd)
{
	/* Blocking the kick signal would make KVM_RUN unstoppable. */
	return _IOC_NR(cmd) != _IOC_NR(KVM_SET_SIGNAL_MASK) ||
	       _IOC_TYPE(cmd) != KVMIO;
}

static void random_ioctl(struct fz_thread *t, int call, unsigned long cmd)
{
	unsigned int kvm_kinds = FKM_SYS | FKM_VM | FKM_VCPU | FKM_DEV |
				 FKM(FK_STATS) | FKM(FK_GMEM);
	int k, idx = -1, fd = -1, tries, ri;
	unsigned long arg;

	if (!cmd_is_safe(cmd))
		return;
	/* A number that happens to be a known ioctl goes through its row. */
	ri = fz_row_index(cmd);
	for (tries = 0; tries < 8 && fd < 0; tries++) {
		k = (int)fz_below(t, FK_NR);
		if (!(kvm_kinds & FKM(k)))
			continue;
		idx = fz_pick_obj(t, k);
		fd = idx >= 0 ? objs[idx].fd : -1;
	}
	if (ri >= 0) {
		if (fz_rows[ri].cmd != KVM_RUN && (!cfg.nkvm_only || (fz_rows[ri].flags & FZR_NKVM)))
			do_row(t, ri, idx, fd);
		return;
	}
	if (fz_chance(t, 60)) {
		size_t n = _IOC_SIZE(cmd) ? _IOC_SIZE(cmd) : 64;

		if (n > FZ_SCRATCH)
			n = FZ_SCRATCH;
		fz_fill_struct(t, t->scratch, n);
		arg = (unsigned long)t->scratch;
	} else {
		arg = fz_val(t);
	}
	snprintf(t->desc, sizeof(t->desc), "ioctl %#lx on fd %d arg %#lx", cmd, fd, arg);
	fz_do_ioctl(t, fz_nrows + call, fd, cmd, arg);
}

static void op_random_ioctl(struct fz_thread *t)
{
	unsigned long cmd;

	if (fz_chance(t, 70))
		cmd = _IOC(fz_below(t, 4), KVMIO, fz_below(t, 256),
			   fz_chance(t, 50) ? fz_below(t, 0x4000) :
			   _IOC_SIZE(fz_rows[fz_below(t, fz_nrows)].cmd));
	else
		cmd = (uint32_t)fz_rand(t);
	random_ioctl(t, FZC_RANDOM_IOCTL, cmd);
}

/* A known ioctl with its size, direction or number slightly wrong. */
static void op_mangled_ioctl(struct fz_thread *t)
{
	int ri = rowset_pick(t, &allrows);
	unsigned long cmd;
	unsigned int dir, size, nr;

	if (ri < 0)
		return;
	cmd = fz_rows[ri].cmd;
	dir = _IOC_DIR(cmd);
	size = _IOC_SIZE(cmd);
	nr = _IOC_NR(cmd);
	switch (fz_below(t, 5)) {
	case 0:
		size = (size + 1 + (unsigned int)fz_below(t, 8)) & 0x3fff;
		break;
	case 1:
		size = size ? size - 1 - (unsigned int)fz_below(t, size) : 8;
		break;
	case 2:
		dir = (unsigned int)fz_below(t, 4);
		break;
	case 3:
		size = (unsigned int)fz_below(t, 0x4000);
		break;
	default:
		nr = (nr + 1) & 0xff;
		break;
	}
	cmd = _IOC(dir, KVMIO, nr, size);
	random_ioctl(t, FZC_MANGLED_IOCTL, cmd);
}

static void op_memslot(struct fz_thread *t)
{
	int vm = ensure_obj(t, FK_VM);
	int ri = fz_row_index(fz_chance(t, 95) || cfg.nkvm_only ?
			      KVM_SET_USER_MEMORY_REGION : KVM_SET_USER_MEMORY_REGION2);

	if (vm < 0)
		return;
	do_row(t, ri, vm, objs[vm].fd);
}

__attribute__((noinline))
static void handle_exit(struct fz_thread *t, struct kvm_run *run, size_t size)
{
	uint32_t reason = run->exit_reason;

	t->st.exits[reason < FZ_NEXIT - 1 ? reason : FZ_NEXIT - 1]++;
	if (reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN) {
		uint64_t off = run->io.data_offset;
		uint64_t len = (uint64_t)run->io.size * run->io.count;

		/* The page may be guest memory: trust nothing in it. */
		if (off < size && len <= size - off)
			fz_fill_random(t, (uint8_t *)run + off, len);
	} else if (reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
		fz_fill_random(t, run->mmio.data, sizeof(run->mmio.data));
	}
}

/*
 * The state a KVM_RUN starts from, appended to the operation's description
 * (for traces and hang reports; these two calls are not counted).
 */
static void describe_vcpu(struct fz_thread *t, int fd, int idx)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	size_t n = strlen(t->desc);

	if (ioctl(fd, KVM_GET_REGS, &r) || ioctl(fd, KVM_GET_SREGS, &s))
		return;
	snprintf(t->desc + n, sizeof(t->desc) - n, ": rip %#llx rsp %#llx rflags %#llx rax %#llx cr0 %#llx cr3 %#llx"
	       " cr4 %#llx efer %#llx cs %#x/%#llx lim %#x type %u s %u dpl %u p %u db %u"
	       " l %u g %u ss %#x type %u dpl %u p %u db %u tr type %u p %u"
	       " gdt %#llx/%#x idt %#llx/%#x",
	       r.rip, r.rsp, r.rflags, r.rax, s.cr0, s.cr3, s.cr4, s.efer,
	       s.cs.selector, s.cs.base, s.cs.limit, s.cs.type, s.cs.s, s.cs.dpl,
	       s.cs.present, s.cs.db, s.cs.l, s.cs.g, s.ss.selector, s.ss.type,
	       s.ss.dpl, s.ss.present, s.ss.db, s.tr.type, s.tr.present,
	       s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	n = strlen(t->desc);
	snprintf(t->desc + n, sizeof(t->desc) - n, "; code at %s", objs[idx].code);
}

__attribute__((noinline))
static void trace_exit(struct fz_thread *t, struct kvm_run *run)
{
	FZ_GUARDED(t, printf("#     exit %s\n", fz_exit_name(run->exit_reason)));
}

__attribute__((noinline))
static void handle_exit_guarded(struct fz_thread *t, struct kvm_run *run, size_t size)
{
	FZ_GUARDED(t, handle_exit(t, run, size));
}

static void op_run(struct fz_thread *t)
{
	int idx = ensure_obj(t, FK_VCPU), ri = fz_row_index(KVM_RUN), n, i;
	struct fz_obj o;

	if (idx < 0)
		return;
	if (fz_chance(t, 40))
		fz_guest_setup(t, idx);
	n = 1 + (int)fz_below(t, 6);
	for (i = 0; i < n; i++) {
		unsigned long arg = fz_chance(t, 2) ? fz_val(t) : 0;
		bool imm = fz_chance(t, 4);
		long r;

		o = objs[idx];
		if (o.fd < 0)
			return;
		if (o.run)
			fz_copy_guarded(t, &((struct kvm_run *)o.run)->immediate_exit,
					&imm, 1);
		snprintf(t->desc, sizeof(t->desc), "KVM_RUN on fd %d (obj %d, vcpu %d) arg %#lx",
			 o.fd, idx, o.vcpu_id, arg);
		if (t->trace || cfg.snapshot_runs)
			describe_vcpu(t, o.fd, idx);
		if (t->trace)
			printf("#     %s\n", t->desc);
		r = fz_do_ioctl(t, ri, o.fd, KVM_RUN, arg);
		if (t->trace && r == 0 && o.run)
			trace_exit(t, o.run);
		t->st.runs++;
		if (r == 0 && o.run)
			handle_exit_guarded(t, o.run, o.run_size);
		if (r < 0 && r != -EINTR && r != -EAGAIN)
			break;
		if (fz_chance(t, 10))
			fz_guest_setup(t, idx);
	}
}

static void op_mmap(struct fz_thread *t)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
		PROT_WRITE, PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	static const unsigned long pgoffs[] = { 0, 0, 0, 1, 2, 3, 64, 65, 4096 };
	int k = fz_chance(t, 70) ? FK_VCPU : (int)fz_below(t, FK_NR);
	int idx = fz_pick_obj(t, k), prot = prots[fz_below(t, 6)];
	int flags = fz_chance(t, 80) ? MAP_SHARED : MAP_PRIVATE;
	unsigned long pgoff = fz_chance(t, 90) ? pgoffs[fz_below(t, 9)] : fz_below(t, 1 << 20);
	size_t len = fz_chance(t, 60) ? run_size : 4096 * (1 + fz_below(t, 80));
	uint8_t *p;
	size_t i;

	if (idx < 0)
		return;
	snprintf(t->desc, sizeof(t->desc), "mmap fd %d (%s) pgoff %lu len %zu prot %d",
		 objs[idx].fd, kind_names[k], pgoff, len, prot);
	p = mmap(NULL, len, prot, flags, objs[idx].fd, (off_t)pgoff * 4096);
	fz_count(t, fz_nrows + FZC_MMAP, p == MAP_FAILED ? -errno : 0);
	if (p == MAP_FAILED)
		return;
	for (i = 0; i < len; i += 4096) {
		uint8_t b = (uint8_t)fz_rand(t);

		if (prot & PROT_READ)
			fz_copy_guarded(t, &b, p + i, 1);
		if ((prot & PROT_WRITE) && fz_chance(t, 30))
			fz_copy_guarded(t, p + i + fz_below(t, 4096), &b, 1);
	}
	fz_count(t, fz_nrows + FZC_MUNMAP, munmap(p, len) ? -errno : 0);
}

static void op_close(struct fz_thread *t)
{
	int k = (int)fz_below(t, FK_OTHER), idx = fz_pick_obj(t, k), fd = -1;

	if (idx < 0)
		return;
	pthread_mutex_lock(&objs_lock);
	if (objs[idx].fd >= 0)
		fd = obj_clear(&objs[idx]);
	pthread_mutex_unlock(&objs_lock);
	if (fd < 0)
		return;
	snprintf(t->desc, sizeof(t->desc), "close fd %d (%s)", fd, kind_names[k]);
	fz_count(t, fz_nrows + FZC_CLOSE, close(fd) ? -errno : 0);
}

/* dup2 one object's fd over another's: the second slot now holds a
 * different kind of file than it believes. */
static void op_dup(struct fz_thread *t)
{
	int a = fz_pick_obj(t, (int)fz_below(t, FK_OTHER));
	int b = fz_pick_obj(t, (int)fz_below(t, FK_OTHER));
	long r;

	if (a < 0 || b < 0 || a == b)
		return;
	pthread_mutex_lock(&objs_lock);
	if (objs[a].fd >= 0 && objs[b].fd > 2 && objs[a].fd != objs[b].fd) {
		snprintf(t->desc, sizeof(t->desc), "dup2 %d -> %d", objs[a].fd, objs[b].fd);
		r = dup3(objs[a].fd, objs[b].fd, O_CLOEXEC);
		fz_count(t, fz_nrows + FZC_DUP, r < 0 ? -errno : 0);
		/* b's kvm_run mapping belongs to the file dup2 just closed. */
		if (r >= 0 && objs[b].run) {
			munmap(objs[b].run, objs[b].run_size);
			objs[b].run = NULL;
		}
	}
	pthread_mutex_unlock(&objs_lock);
}

/* Change the host memory behind memslots while guests may be using it. */
static void op_backing(struct fz_thread *t)
{
	size_t pages = 1 + fz_below(t, 256);
	size_t off = 4096 * fz_below(t, POOL_SIZE / 4096 - pages + 1);
	uint8_t *p = pool + off;
	size_t len = pages * 4096;
	long r = 0;

	snprintf(t->desc, sizeof(t->desc), "backing: pool+%#zx len %#zx", off, len);
	switch (fz_below(t, 12)) {
	case 0:
		r = mprotect(p, len, PROT_READ);
		break;
	case 1:
		r = mprotect(p, len, PROT_NONE);
		break;
	case 2:
		r = madvise(p, len, MADV_DONTNEED);
		break;
	case 3:
		r = mmap(p, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED;
		break;
	case 4:
		r = fallocate(memfd_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      4096 * fz_below(t, MEMFD_SIZE / 4096), 4096 * (1 + fz_below(t, 16)));
		break;
	case 5:
		/* Everything writable again. */
		r = mprotect(pool, POOL_SIZE, PROT_READ | PROT_WRITE);
		break;
	default:
		r = mprotect(p, len, PROT_READ | PROT_WRITE);
		break;
	}
	fz_count(t, fz_nrows + FZC_BACKING, r ? -errno : 0);
}

/*
 * A child process uses the parent's fds: the VM and vCPU ioctls must fail
 * (another mm), /dev/kvm and the mappings still work.  Only system calls in
 * the child: the parent may be multi-threaded.
 */
static void op_fork(struct fz_thread *t)
{
	int vm = fz_pick_obj(t, FK_VM), vcpu = fz_pick_obj(t, FK_VCPU);
	int sys = fz_pick_obj(t, FK_SYS);
	int vmfd = vm >= 0 ? objs[vm].fd : -1, vcpufd = vcpu >= 0 ? objs[vcpu].fd : -1;
	int sysfd = sys >= 0 ? objs[sys].fd : -1;
	bool keep = fz_chance(t, 30);
	pid_t pid;
	int st;

	snprintf(t->desc, sizeof(t->desc), "fork: vm %d vcpu %d", vmfd, vcpufd);
	pid = fork();
	if (pid == 0) {
		struct kvm_regs regs;
		void *p;

		alarm(10);
		ioctl(vmfd, KVM_CREATE_VCPU, 7);
		ioctl(vmfd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
		ioctl(vcpufd, KVM_GET_REGS, &regs);
		ioctl(vcpufd, KVM_RUN, 0);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vcpufd, 0);
		if (p != MAP_FAILED)
			*(volatile uint8_t *)p = 1;
		/* A VM of the child's own, left for exit to clean up. */
		if (sysfd >= 0) {
			int fd = ioctl(sysfd, KVM_CREATE_VM, 0);

			if (fd >= 0)
				ioctl(fd, KVM_CREATE_VCPU, 0);
		}
		if (!keep) {
			close(vmfd);
			close(vcpufd);
		}
		_exit(0);
	}
	fz_count(t, fz_nrows + FZC_FORK, pid < 0 ? -errno : 0);
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
}

static void op_eventfd(struct fz_thread *t)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	fz_count(t, fz_nrows + FZC_EVENTFD, fd < 0 ? -errno : 0);
	if (fd >= 0)
		fz_obj_add(t, FK_EVENT, fd, -1);
	if (fd >= 0 && fz_chance(t, 50)) {
		uint64_t one = 1;

		if (write(fd, &one, 8) < 0)
			(void)0;
	}
}

static void op_read(struct fz_thread *t)
{
	int k = fz_chance(t, 70) ? FK_STATS : (int)fz_below(t, FK_NR);
	int idx = fz_pick_obj(t, k);
	size_t len = fz_chance(t, 50) ? fz_below(t, 256) : fz_below(t, FZ_SCRATCH);
	off_t off = fz_chance(t, 70) ? (off_t)fz_below(t, 4096) : (off_t)(fz_val(t) >> 1);
	ssize_t r;

	if (idx < 0 || k == FK_EVENT)
		return;
	snprintf(t->desc, sizeof(t->desc), "pread fd %d len %zu off %lld",
		 objs[idx].fd, len, (long long)off);
	t->call_start_ns = now_ns();
	r = pread(objs[idx].fd, t->scratch, len, off);
	t->call_start_ns = 0;
	fz_count(t, fz_nrows + FZC_READ, r < 0 ? -errno : 0);
}

static void op_kick(struct fz_thread *t)
{
	int other = (int)fz_below(t, nthreads);

	if (other != t->id)
		pthread_kill(threads[other].pth, SIGUSR1);
}

/* A low fd limit: creating fds fails part-way (EMFILE). */
static void op_rlimit(struct fz_thread *t)
{
	struct rlimit old, low;

	if (getrlimit(RLIMIT_NOFILE, &old))
		return;
	low = old;
	low.rlim_cur = 3 + fz_below(t, 40);
	if (setrlimit(RLIMIT_NOFILE, &low))
		return;
	switch (fz_below(t, 3)) {
	case 0:
		create_vm(t);
		break;
	case 1:
		create_vcpu(t);
		break;
	default:
		op_kind_ioctl(t, FK_VM);
	}
	setrlimit(RLIMIT_NOFILE, &old);
}

enum fz_op {
	OP_OPEN, OP_SYS, OP_VM, OP_VCPU, OP_DEV, OP_WRONG_FD, OP_RANDOM,
	OP_MANGLED, OP_MEMSLOT, OP_GUEST, OP_RUN, OP_MMAP, OP_CLOSE, OP_DUP,
	OP_BACKING, OP_FORK, OP_EVENTFD, OP_READ, OP_KICK, OP_RLIMIT, OP_NR
};

static const char *const op_names[OP_NR] = {
	"open", "sys-ioctl", "vm-ioctl", "vcpu-ioctl", "device-ioctl",
	"wrong-fd", "random-ioctl", "mangled-ioctl", "memslot", "guest",
	"run", "mmap", "close", "dup", "backing", "fork", "eventfd", "read",
	"kick", "rlimit",
};

static unsigned int op_weight[OP_NR] = {
	[OP_OPEN] = 2, [OP_SYS] = 6, [OP_VM] = 14, [OP_VCPU] = 16,
	[OP_DEV] = 2, [OP_WRONG_FD] = 3, [OP_RANDOM] = 3, [OP_MANGLED] = 3,
	[OP_MEMSLOT] = 12, [OP_GUEST] = 5, [OP_RUN] = 12, [OP_MMAP] = 3,
	[OP_CLOSE] = 4, [OP_DUP] = 1, [OP_BACKING] = 2, [OP_FORK] = 1,
	[OP_EVENTFD] = 1, [OP_READ] = 1, [OP_KICK] = 1, [OP_RLIMIT] = 1,
};
static unsigned int op_total;

static int pick_op(struct fz_thread *t)
{
	unsigned int x = (unsigned int)fz_below(t, op_total);
	int i;

	for (i = 0; i < OP_NR; i++) {
		if (x < op_weight[i])
			return i;
		x -= op_weight[i];
	}
	return OP_VM;
}

static void do_op(struct fz_thread *t, int op)
{
	int idx;

	switch (op) {
	case OP_OPEN:
		open_kvm(t);
		break;
	case OP_SYS:
		op_kind_ioctl(t, FK_SYS);
		break;
	case OP_VM:
		op_kind_ioctl(t, FK_VM);
		break;
	case OP_VCPU:
		op_kind_ioctl(t, FK_VCPU);
		break;
	case OP_DEV:
		op_kind_ioctl(t, FK_DEV);
		break;
	case OP_WRONG_FD:
		op_wrong_fd(t);
		break;
	case OP_RANDOM:
		op_random_ioctl(t);
		break;
	case OP_MANGLED:
		op_mangled_ioctl(t);
		break;
	case OP_MEMSLOT:
		op_memslot(t);
		break;
	case OP_GUEST:
		idx = ensure_obj(t, FK_VCPU);
		if (idx >= 0)
			fz_guest_setup(t, idx);
		break;
	case OP_RUN:
		op_run(t);
		break;
	case OP_MMAP:
		op_mmap(t);
		break;
	case OP_CLOSE:
		op_close(t);
		break;
	case OP_DUP:
		op_dup(t);
		break;
	case OP_BACKING:
		op_backing(t);
		break;
	case OP_FORK:
		op_fork(t);
		break;
	case OP_EVENTFD:
		op_eventfd(t);
		break;
	case OP_READ:
		op_read(t);
		break;
	case OP_KICK:
		op_kick(t);
		break;
	case OP_RLIMIT:
		op_rlimit(t);
		break;
	}
}

/* ---- Threads ----------------------------------------------------------- */

static bool should_stop(void)
{
	if (stop_all)
		return true;
	if (cfg.max_calls && __atomic_load_n(&total_calls, __ATOMIC_RELAXED) >= cfg.max_calls)
		return true;
	if (cfg.max_secs > 0 && elapsed() >= cfg.max_secs)
		return true;
	return false;
}

static void progress(void)
{
	uint64_t calls = __atomic_load_n(&total_calls, __ATOMIC_RELAXED), ops = 0, runs = 0;
	uint64_t vms = 0, vcpus = 0;
	double s = elapsed();
	int i;

	for (i = 0; i < nthreads; i++) {
		ops += threads[i].st.ops;
		runs += threads[i].st.runs;
		vms += threads[i].st.created[FK_VM];
		vcpus += threads[i].st.created[FK_VCPU];
	}
	printf("# [%7.1fs] %" PRIu64 " calls (%.0f/s), %" PRIu64 " ops, %" PRIu64
	       " KVM_RUN, %" PRIu64 " VMs and %" PRIu64 " vCPUs created\n",
	       s, calls, s > 0 ? (double)calls / s : 0.0, ops, runs, vms, vcpus);
	fflush(stdout);
}

static void *worker(void *arg)
{
	struct fz_thread *t = arg;
	double next_progress = cfg.progress_secs;

	t->tid = (pid_t)syscall(SYS_gettid);
	while (!should_stop()) {
		int op;

		t->op_seed = fz_rng_next(&t->seq);
		fz_rng_seed(&t->r, t->op_seed);
		t->trace = cfg.verbose >= 2 || (cfg.trace_from && t->op >= cfg.trace_from);
		op = pick_op(t);
		t->desc[0] = 0;
		t->op_start_ns = now_ns();
		if (t->trace) {
			printf("# t%d op %" PRIu64 ": %s\n", t->id, t->op, op_names[op]);
			fflush(stdout);
		}
		do_op(t, op);
		t->op_start_ns = 0;
		t->st.ops++;
		t->op++;
		if (t->id == 0 && cfg.verbose >= 1 && cfg.progress_secs > 0 &&
		    elapsed() >= next_progress) {
			progress();
			next_progress = elapsed() + cfg.progress_secs;
		}
	}
	return NULL;
}

/* Interrupts calls that run too long; reports operations that hang. */
static void *watchdog(void *arg)
{
	uint64_t poll_ns = (uint64_t)(cfg.run_ms > 4 ? cfg.run_ms / 2 : 2) * 1000000ULL;
	struct timespec ts = { 0, (long)poll_ns };
	int *reported = calloc(nthreads, sizeof(int));

	(void)arg;
	while (__atomic_load_n(&stop_all, __ATOMIC_RELAXED) != 2) {
		uint64_t now = now_ns();
		int i;

		for (i = 0; i < nthreads; i++) {
			struct fz_thread *t = &threads[i];
			uint64_t cs = t->call_start_ns, os = t->op_start_ns;
			double secs;

			/* Stamps taken after "now" are simply not late yet. */
			if (cs && cs < now && now - cs > (uint64_t)cfg.run_ms * 1000000ULL) {
				t->kicks++;
				pthread_kill(t->pth, SIGUSR1);
			}
			if (!os || os >= now)
				continue;
			secs = (double)(now - os) / 1e9;
			if (secs < cfg.hang_secs)
				continue;
			if (reported[i] != (int)(t->op + 1)) {
				reported[i] = (int)(t->op + 1);
				__atomic_fetch_add(&hangs, 1, __ATOMIC_RELAXED);
				printf("# HANG: thread %d op %" PRIu64 " (seed %#" PRIx64
				       ") has run for %.1f s, %d kicks: %s\n",
				       i, t->op, t->op_seed, secs, t->kicks, t->desc);
				fflush(stdout);
			}
			if (secs > 3.0 * cfg.hang_secs) {
				printf("# HANG: giving up on thread %d after %.0f s\n", i, secs);
				fflush(stdout);
				_exit(3);
			}
		}
		nanosleep(&ts, NULL);
	}
	free(reported);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "nkvm-fuzz: unexpected SIGSEGV/SIGBUS outside a guarded access\n";

	(void)si;
	(void)uc;
	if (fz_guard_jb)
		siglongjmp(*fz_guard_jb, sig);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		(void)0;
	signal(sig, SIG_DFL);
}

/* ---- Setup ------------------------------------------------------------- */

static int setup_memory(void)
{
	arena = mmap(NULL, ARENA_SIZE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED) {
		perror("nkvm-fuzz: reserving the arena");
		return -1;
	}
	pool = arena;
	if (mmap(pool, POOL_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -1;
	ro_region = arena + POOL_SIZE;
	if (mmap(ro_region, RO_SIZE, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -1;
	memfd_region = ro_region + RO_SIZE;
	memfd_fd = memfd_create("nkvm-fuzz", MFD_CLOEXEC);
	if (memfd_fd < 0 || ftruncate(memfd_fd, MEMFD_SIZE) ||
	    mmap(memfd_region, MEMFD_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, memfd_fd, 0) == MAP_FAILED) {
		perror("nkvm-fuzz: memfd");
		return -1;
	}
	return 0;
}

static int setup_thread(struct fz_thread *t, int id)
{
	char name[32];
	int fd;

	memset(t, 0, sizeof(*t));
	t->id = id;
	fz_rng_seed(&t->seq, id ? fz_mix(cfg.seed ^ (0x5851f42d4c957f2dULL * (uint64_t)id))
				: cfg.seed);
	t->st.call = calloc(fz_ncalls, sizeof(struct fz_callstat));
	t->scratch = mmap(NULL, FZ_SCRATCH + 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!t->st.call || t->scratch == MAP_FAILED)
		return -1;
	mprotect(t->scratch + FZ_SCRATCH, 4096, PROT_NONE);

	/* Two views of one memfd: rw to fill, ro to pass to the kernel. */
	snprintf(name, sizeof(name), "nkvm-fuzz-ro-%d", id);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, FZ_SCRATCH))
		return -1;
	t->rw = mmap(NULL, FZ_SCRATCH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	t->ro = mmap(NULL, FZ_SCRATCH, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (t->rw == MAP_FAILED || t->ro == MAP_FAILED)
		return -1;
	return 0;
}

static void query_host(void)
{
	unsigned int a, b, c, d;
	int fd = open(cfg.dev, O_RDWR | O_CLOEXEC);

	if (__get_cpuid(0x80000008, &a, &b, &c, &d))
		phys_bits = a & 0xff;
	if (fd >= 0) {
		long r = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);

		if (r > 0 && r < (1 << 20))
			run_size = (size_t)r;
		close(fd);
	}
}

/* ---- Reporting --------------------------------------------------------- */

static void summary(struct fz_stats *all, const struct fuzz_result *res)
{
	uint64_t runs_ok = 0;
	int i, j;

	printf("# nkvm-fuzz: seed %#" PRIx64 ", %d thread(s)%s: %" PRIu64 " calls, %"
	       PRIu64 " operations in %.1f s (%.0f calls/s)\n",
	       cfg.seed, nthreads, cfg.nkvm_only ? ", nkvm ioctls only" : "",
	       res->calls, res->ops, res->secs,
	       res->secs > 0 ? (double)res->calls / res->secs : 0.0);
	printf("# created:");
	for (i = 0; i < FK_NR; i++)
		if (i != FK_OTHER)
			printf(" %s %" PRIu64, kind_names[i], all->created[i]);
	printf("\n");
	if (cfg.quiet_summary)
		return;

	printf("# errno histogram:");
	for (i = 0; i < FZ_NERRNO; i++)
		if (all->err[i])
			printf(" %s %" PRIu64, errname(i), all->err[i]);
	printf("\n");

	for (i = 0; i < FZ_NEXIT; i++)
		runs_ok += all->exits[i];
	printf("# KVM_RUN: %" PRIu64 " calls, %" PRIu64 " returned 0; exit reasons:",
	       all->runs, runs_ok);
	for (i = 0; i < FZ_NEXIT; i++)
		if (all->exits[i])
			printf(" %s %" PRIu64, fz_exit_name(i), all->exits[i]);
	printf("\n");
	if (all->faults_caught)
		printf("# %" PRIu64 " faults in guarded accesses (memory unmapped by other threads)\n",
		       all->faults_caught);

	printf("# per call (calls, ok, errors):\n");
	for (i = 0; i < fz_ncalls; i++) {
		struct fz_callstat *cs = &all->call[i];

		if (!cs->calls)
			continue;
		printf("#   %-34s %8" PRIu64 " %8" PRIu64, fz_call_name(i), cs->calls, cs->ok);
		for (j = 0; j < FZ_ROW_ERRS; j++)
			if (cs->err[j])
				printf(" %s %" PRIu64, errname(cs->err[j]), cs->nerr[j]);
		if (cs->other_err)
			printf(" others %" PRIu64, cs->other_err);
		printf("\n");
	}
}

static void merge(struct fz_stats *all, const struct fz_stats *s)
{
	int i, j, k;

	all->calls += s->calls;
	all->ops += s->ops;
	all->runs += s->runs;
	all->faults_caught += s->faults_caught;
	for (i = 0; i < FZ_NERRNO; i++)
		all->err[i] += s->err[i];
	for (i = 0; i < FZ_NEXIT; i++)
		all->exits[i] += s->exits[i];
	for (i = 0; i < FK_NR; i++)
		all->created[i] += s->created[i];
	for (i = 0; i < fz_ncalls; i++) {
		struct fz_callstat *a = &all->call[i];
		const struct fz_callstat *b = &s->call[i];

		a->calls += b->calls;
		a->ok += b->ok;
		a->other_err += b->other_err;
		for (j = 0; j < FZ_ROW_ERRS && b->err[j]; j++) {
			for (k = 0; k < FZ_ROW_ERRS; k++) {
				if (a->err[k] == b->err[j] || !a->err[k]) {
					a->err[k] = b->err[j];
					a->nerr[k] += b->nerr[j];
					break;
				}
			}
			if (k == FZ_ROW_ERRS)
				a->other_err += b->nerr[j];
		}
	}
}

/* Compare this run's log with a reference log, operation by operation. */
struct logline {
	uint64_t op;
	char call[80];
	char res[64];
};

static int read_logline(FILE *f, struct logline *l)
{
	char buf[512];

	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "%" SCNu64 " %79s %63s", &l->op, l->call, l->res) == 3)
			return 1;
	return 0;
}

/* Read the calls of the next operation (at most max) into g; 0 at the end. */
static int read_op(FILE *f, struct logline *pend, int *have, struct logline *g, int max)
{
	int n = 0;

	if (!*have && !(*have = read_logline(f, pend)))
		return 0;
	g[n++] = *pend;
	while ((*have = read_logline(f, pend)) && pend->op == g[0].op)
		if (n < max)
			g[n++] = *pend;
	return n;
}

struct diffkind {
	char key[256];
	uint64_t n;
};

static void diff_note(struct diffkind *kinds, int *nkinds,
		      uint64_t op, const char *key)
{
	int i;

	for (i = 0; i < *nkinds; i++)
		if (!strcmp(kinds[i].key, key))
			break;
	if (i == *nkinds) {
		if (*nkinds == 64)
			return;
		snprintf(kinds[i].key, sizeof(kinds[i].key), "%s", key);
		kinds[i].n = 0;
		(*nkinds)++;
		printf("# diff: first at op %" PRIu64 ": %s\n", op, key);
	}
	kinds[i].n++;
}

static int compare_logs(const char *ref_path, const char *new_path)
{
	FILE *a = fopen(ref_path, "r"), *b = fopen(new_path, "r");
	static struct logline ga[64], gb[64];
	struct logline pa, pb;
	int ha = 0, hb = 0, na = 0, nb = 0, i;
	uint64_t ops = 0, differ = 0, diverged = 0;
	struct diffkind kinds[64];
	int nkinds = 0;
	char key[256];

	if (!a || !b) {
		printf("# diff: cannot open %s or %s\n", ref_path, new_path);
		return -1;
	}
	na = read_op(a, &pa, &ha, ga, 64);
	nb = read_op(b, &pb, &hb, gb, 64);
	while (na && nb) {
		if (ga[0].op < gb[0].op) {
			na = read_op(a, &pa, &ha, ga, 64);
			continue;
		}
		if (gb[0].op < ga[0].op) {
			nb = read_op(b, &pb, &hb, gb, 64);
			continue;
		}
		ops++;
		for (i = 0; i < na && i < nb; i++) {
			if (strcmp(ga[i].call, gb[i].call))
				break;
			/* KVM_RUN results depend on timing: not comparable. */
			if (!strcmp(ga[i].call, "KVM_RUN") || !strcmp(ga[i].res, gb[i].res))
				continue;
			differ++;
			snprintf(key, sizeof(key), "%s: reference %s, this run %s",
				 ga[i].call, ga[i].res, gb[i].res);
			diff_note(kinds, &nkinds, ga[0].op, key);
		}
		if (i < na && i < nb) {
			diverged++;
			snprintf(key, sizeof(key), "calls differ within an operation: %s vs %s",
				 ga[i].call, gb[i].call);
			diff_note(kinds, &nkinds, ga[0].op, key);
		}
		na = read_op(a, &pa, &ha, ga, 64);
		nb = read_op(b, &pb, &hb, gb, 64);
	}
	fclose(a);
	fclose(b);
	printf("# diff: %" PRIu64 " operations compared, %" PRIu64 " results differ"
	       " (KVM_RUN ignored), %" PRIu64 " operations made other calls\n",
	       ops, differ, diverged);
	for (i = 0; i < nkinds; i++)
		printf("# diff: %8" PRIu64 "  %s\n", kinds[i].n, kinds[i].key);
	return (int)(differ > 0);
}

/* ---- Entry points ------------------------------------------------------ */

void fuzz_default_cfg(struct fuzz_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->max_calls = 100000;
	c->max_secs = 600;
	c->threads = 1;
	c->run_ms = 10;
	c->hang_secs = 30;
	c->dev = "/dev/kvm";
	c->verbose = 1;
	c->progress_secs = 10;
}

int fuzz_run(const struct fuzz_cfg *c, struct fuzz_result *res)
{
	struct sigaction sa;
	struct fz_stats all = { 0 };
	pthread_t wd;
	char new_log[512];
	bool diff_compare = false;
	int i;

	cfg = *c;
	memset(res, 0, sizeof(*res));
	nthreads = cfg.threads > 0 ? cfg.threads : 1;
	fz_ncalls = fz_nrows + FZC_NR;
	stop_all = 0;
	total_calls = 0;
	hangs = failures = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);		/* no SA_RESTART: calls end with EINTR */
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < OP_NR; i++) {
		if (nthreads == 1 && i == OP_KICK)
			op_weight[i] = 0;
		op_total += op_weight[i];
	}
	objs_init();
	query_host();
	if (setup_memory())
		return -1;
	for (i = 0; i < FK_NR; i++)
		rowset_build(&rowsets[i], FKM(i));
	rowset_build(&allrows, ~0u);

	if (cfg.diff_path) {
		if (access(cfg.diff_path, F_OK) == 0) {
			snprintf(new_log, sizeof(new_log), "%s.new", cfg.diff_path);
			cfg.log_path = new_log;
			diff_compare = true;
		} else {
			cfg.log_path = cfg.diff_path;
		}
	}
	logf = NULL;
	if (cfg.log_path) {
		logf = fopen(cfg.log_path, "w");
		if (!logf) {
			perror(cfg.log_path);
			return -1;
		}
	}

	threads = calloc(nthreads, sizeof(*threads));
	for (i = 0; i < nthreads; i++)
		if (setup_thread(&threads[i], i))
			return -1;
	/* Unrelated fds for the wrong-fd cases. */
	{
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0)
			objs[kind_base[FK_OTHER]].fd = fd;
		objs[kind_base[FK_OTHER] + 1].fd = memfd_fd;
	}

	printf("# nkvm-fuzz: seed %#" PRIx64 ", %d thread(s), up to %" PRIu64
	       " calls and %.0f s, KVM_RUN cut after %d ms, %s%s\n",
	       cfg.seed, nthreads, cfg.max_calls, cfg.max_secs, cfg.run_ms, cfg.dev,
	       cfg.nkvm_only ? ", nkvm ioctls only" : "");
	fflush(stdout);

	t0_ns = now_ns();
	for (i = 0; i < nthreads; i++)
		pthread_create(&threads[i].pth, NULL, worker, &threads[i]);
	pthread_create(&wd, NULL, watchdog, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i].pth, NULL);
	__atomic_store_n(&stop_all, 2, __ATOMIC_RELAXED);
	pthread_join(wd, NULL);

	all.call = calloc(fz_ncalls, sizeof(struct fz_callstat));
	for (i = 0; i < nthreads; i++)
		merge(&all, &threads[i].st);
	res->calls = all.calls;
	res->ops = all.ops;
	res->runs = all.runs;
	for (i = 0; i < FK_NR; i++)
		res->created[i] = all.created[i];
	for (i = 0; i < FZ_NEXIT; i++)
		res->exits_total += all.exits[i];
	res->secs = elapsed();
	res->hangs = hangs;
	res->failures = failures;
	summary(&all, res);
	if (logf) {
		fclose(logf);
		logf = NULL;
	}
	if (diff_compare)
		compare_logs(cfg.diff_path, new_log);
	return 0;
}

void fuzz_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options]\n"
		"  -s, --seed N        seed (default 1; 0x.. accepted; 'time' for the clock)\n"
		"  -n, --calls N       stop after N calls (default 100000, 0 = no limit)\n"
		"  -t, --time SECS     stop after SECS seconds (default 600, 0 = no limit)\n"
		"  -j, --threads N     worker threads (default 1: a deterministic sequence)\n"
		"      --run-ms MS     interrupt KVM_RUN and other calls after MS ms (default 10)\n"
		"      --hang SECS     an operation running this long is a hang (default 30)\n"
		"      --dev PATH      the device (default /dev/kvm)\n"
		"      --nkvm-only     only the ioctls nkvm implements today\n"
		"      --no-tcg-workarounds  also guest states that crash QEMU's TCG\n"
		"      --snippets N,M  guest code only of these kinds (guest.c), NOPs else\n"
		"      --snapshot-runs read the vCPU state before each KVM_RUN (hang reports)\n"
		"      --log FILE      one line per call: op, call, result\n"
		"      --diff FILE     record the log in FILE, or if it exists compare with it\n"
		"      --trace-from N  print every operation from the Nth on\n"
		"  -v, --verbose       print every operation and call\n"
		"  -q, --quiet         no progress lines, short summary\n"
		"      --progress SECS progress line interval (default 10)\n",
		prog);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!strcmp(s, "time")) {
		*v = fz_mix(now_ns() ^ (uint64_t)getpid());
		return 0;
	}
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end || end == s ? -1 : 0;
}

int fuzz_parse_args(struct fuzz_cfg *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;

#define NEED_VAL do { if (!v) return -1; i++; } while (0)
		if (!strcmp(o, "-s") || !strcmp(o, "--seed")) {
			NEED_VAL;
			if (parse_u64(v, &c->seed))
				return -1;
		} else if (!strcmp(o, "-n") || !strcmp(o, "--calls")) {
			NEED_VAL;
			if (parse_u64(v, &c->max_calls))
				return -1;
		} else if (!strcmp(o, "-t") || !strcmp(o, "--time")) {
			NEED_VAL;
			c->max_secs = atof(v);
		} else if (!strcmp(o, "-j") || !strcmp(o, "--threads")) {
			NEED_VAL;
			if (parse_u64(v, &n) || n < 1 || n > 64)
				return -1;
			c->threads = (int)n;
		} else if (!strcmp(o, "--run-ms")) {
			NEED_VAL;
			if (parse_u64(v, &n) || n < 1)
				return -1;
			c->run_ms = (int)n;
		} else if (!strcmp(o, "--hang")) {
			NEED_VAL;
			if (parse_u64(v, &n) || n < 1)
				return -1;
			c->hang_secs = (int)n;
		} else if (!strcmp(o, "--dev")) {
			NEED_VAL;
			c->dev = v;
		} else if (!strcmp(o, "--snapshot-runs")) {
			c->snapshot_runs = true;
		} else if (!strcmp(o, "--snippets")) {
			NEED_VAL;
			setenv("NKVM_FUZZ_SNIPPETS", v, 1);
		} else if (!strcmp(o, "--no-tcg-workarounds")) {
			c->no_tcg_workarounds = true;
		} else if (!strcmp(o, "--nkvm-only")) {
			c->nkvm_only = true;
		} else if (!strcmp(o, "--log")) {
			NEED_VAL;
			c->log_path = v;
		} else if (!strcmp(o, "--diff")) {
			NEED_VAL;
			c->diff_path = v;
		} else if (!strcmp(o, "--trace-from")) {
			NEED_VAL;
			if (parse_u64(v, &c->trace_from))
				return -1;
		} else if (!strcmp(o, "--progress")) {
			NEED_VAL;
			c->progress_secs = atof(v);
		} else if (!strcmp(o, "-v") || !strcmp(o, "--verbose")) {
			c->verbose = 2;
		} else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) {
			c->verbose = 0;
			c->quiet_summary = true;
		} else {
			return -1;
		}
#undef NEED_VAL
	}
	return 0;
}
