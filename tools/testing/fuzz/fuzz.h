/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - the nkvm ioctl fuzzer: shared declarations.
 *
 * The engine (fuzz.c) runs operations on a table of file descriptors
 * (/dev/kvm, VMs, vCPUs, devices, stats fds, eventfds...).  Each operation
 * draws one 64-bit seed from its thread's sequence and takes every other
 * random decision from a generator seeded with it, so the sequence of
 * operations depends on the seed only, whatever the kernel answers: the same
 * seed replays the same single-threaded sequence, on nkvm as on Linux KVM.
 *
 * The ioctls are rows of a table (rows.c): a name, the number, the kinds of
 * fd it applies to, and an argument generator.  A new ioctl joins the fuzzer
 * by adding a row.
 */
#ifndef NKVM_FUZZ_H
#define NKVM_FUZZ_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- Random numbers ---------------------------------------------------- */

struct fz_rng {
	uint64_t s[4];
};

void fz_rng_seed(struct fz_rng *r, uint64_t seed);
uint64_t fz_rng_next(struct fz_rng *r);
/* SplitMix64 step: derives seeds (per thread, per operation). */
uint64_t fz_mix(uint64_t x);

/* ---- File descriptor kinds --------------------------------------------- */

enum fz_kind {
	FK_SYS,		/* /dev/kvm */
	FK_VM,
	FK_VCPU,
	FK_DEV,		/* KVM_CREATE_DEVICE */
	FK_STATS,	/* KVM_GET_STATS_FD */
	FK_GMEM,	/* KVM_CREATE_GUEST_MEMFD */
	FK_EVENT,	/* eventfds for irqfd/ioeventfd */
	FK_OTHER,	/* unrelated fds: /dev/null, a memfd */
	FK_NR
};

#define FKM(k)		(1u << (k))
#define FKM_SYS		FKM(FK_SYS)
#define FKM_VM		FKM(FK_VM)
#define FKM_VCPU	FKM(FK_VCPU)
#define FKM_DEV		FKM(FK_DEV)

struct fz_obj {
	int fd;			/* -1: empty */
	int kind;
	int parent;		/* index of the VM object (vCPU, device...) */
	uint32_t gen;		/* bumped whenever the slot is reused */
	void *run;		/* vCPU: its kvm_run mapping */
	size_t run_size;
	int vcpu_id;
	char code[112];		/* vCPU: the last guest code set up, in hex */
};

/* ---- Per-thread state -------------------------------------------------- */

#define FZ_NERRNO	256	/* errno histogram buckets; [0] is success */
#define FZ_NEXIT	64	/* exit reasons 0..62, 63 = others */
#define FZ_SCRATCH	(64 * 1024)
#define FZ_ROW_ERRS	6	/* distinct errnos remembered per call */

struct fz_callstat {
	uint64_t calls;
	uint64_t ok;
	uint16_t err[FZ_ROW_ERRS];
	uint64_t nerr[FZ_ROW_ERRS];
	uint64_t other_err;
};

struct fz_stats {
	uint64_t calls;
	uint64_t ops;
	uint64_t err[FZ_NERRNO];
	uint64_t exits[FZ_NEXIT];
	uint64_t runs;
	uint64_t created[FK_NR];
	uint64_t faults_caught;	/* SIGSEGV/SIGBUS in guarded accesses */
	struct fz_callstat *call;	/* per call id (fz_ncalls) */
};

struct fz_thread {
	int id;
	pid_t tid;
	pthread_t pth;
	struct fz_rng seq;	/* one draw per operation */
	struct fz_rng r;	/* the current operation's generator */
	uint64_t op;		/* operations started by this thread */
	uint64_t op_seed;
	uint8_t *scratch;	/* FZ_SCRATCH bytes, then a PROT_NONE page */
	uint8_t *ro;		/* FZ_SCRATCH bytes, read-only alias of rw */
	uint8_t *rw;		/* writable alias of ro */
	struct fz_stats st;
	void *timer;		/* timer_t for KVM_RUN, or NULL */
	volatile uint64_t op_start_ns;	/* 0 when between operations */
	volatile uint64_t call_start_ns;	/* 0 when not in a system call */
	volatile int kicks;
	char desc[1024];	/* what the current operation does */
	bool trace;
	bool stop;
};

/* ---- Calls ------------------------------------------------------------- */

struct fz_arg {
	unsigned long val;	/* the ioctl's argument when not a pointer */
	uint8_t *buf;		/* scratch to build a structure in */
	size_t cap;
	size_t len;		/* bytes of buf that form the argument */
	bool ptr;		/* pass a pointer to the structure */
	bool no_mangle;		/* pass it as built (used for setup) */
	int obj;		/* the object the ioctl targets */
};

typedef void fz_gen_t(struct fz_thread *t, struct fz_arg *a);
/* Runs after the ioctl with its result (>= 0 or -errno). */
typedef void fz_post_t(struct fz_thread *t, struct fz_arg *a, long ret);

/* Row flags. */
#define FZR_NKVM	0x1	/* nkvm implements it today */
#define FZR_OUT		0x2	/* writes a result through its pointer */
#define FZR_VAL		0x4	/* the argument is a value, not a pointer */
#define FZR_ZERO	0x8	/* the argument must be 0 */

struct fz_row {
	const char *name;
	unsigned long cmd;
	unsigned int kinds;	/* FKM_* the ioctl belongs to */
	unsigned int flags;
	unsigned int weight;	/* relative frequency among its kind's rows */
	fz_gen_t *gen;		/* NULL: generic bytes of _IOC_SIZE(cmd) */
	fz_post_t *post;
};

extern const struct fz_row fz_rows[];
extern const int fz_nrows;

/* Call ids beyond the rows: the other system calls the fuzzer makes. */
enum {
	FZC_OPEN,
	FZC_CLOSE,
	FZC_DUP,
	FZC_MMAP,
	FZC_MUNMAP,
	FZC_READ,
	FZC_FORK,
	FZC_EVENTFD,
	FZC_RANDOM_IOCTL,
	FZC_MANGLED_IOCTL,
	FZC_BACKING,
	FZC_NR
};
extern int fz_ncalls;
const char *fz_call_name(int call);

/* ---- Engine services for the generators ------------------------------- */

uint64_t fz_rand(struct fz_thread *t);
uint64_t fz_below(struct fz_thread *t, uint64_t n);	/* [0, n) */
bool fz_chance(struct fz_thread *t, unsigned int percent);
uint64_t fz_interesting(struct fz_thread *t);
/* Mostly small, sometimes interesting, sometimes random. */
uint64_t fz_val(struct fz_thread *t);
void fz_fill_random(struct fz_thread *t, void *buf, size_t len);
/* Structure-like contents: mostly zero words, small and special values. */
void fz_fill_struct(struct fz_thread *t, void *buf, size_t len);

/* An fd of one of the kinds in mask (or sometimes anything), or -1. */
int fz_pick_fd(struct fz_thread *t, unsigned int kinds);
int fz_pick_obj(struct fz_thread *t, int kind);	/* index or -1 */
struct fz_obj *fz_obj(int idx);
/* Store a new fd; closes whatever the chosen slot held before. */
int fz_obj_add(struct fz_thread *t, int kind, int fd, int parent);

/* Guest-physical addresses and host addresses for memslots. */
uint64_t fz_gpa(struct fz_thread *t);
uint64_t fz_hva(struct fz_thread *t, uint64_t size);
uint64_t fz_user_ptr(struct fz_thread *t);	/* any user pointer, good or bad */
int fz_host_phys_bits(void);
uint8_t *fz_pool(void);
size_t fz_pool_size(void);
size_t fz_run_size(void);

/* Perform one ioctl, counted under its call id; returns >= 0 or -errno. */
long fz_do_ioctl(struct fz_thread *t, int call, int fd, unsigned long cmd,
		 unsigned long arg);
void fz_count(struct fz_thread *t, int call, long ret);

/*
 * Guarded memory access: SIGSEGV/SIGBUS inside return to the guard.  Use it
 * only in small functions of its own (noinline), so that no local variable
 * of a caller lives across the sigsetjmp.
 */
extern __thread sigjmp_buf *fz_guard_jb;
#define FZ_GUARDED(t, stmt) do {					\
	sigjmp_buf __jb;						\
	if (sigsetjmp(__jb, 1) == 0) {					\
		fz_guard_jb = &__jb;					\
		stmt;							\
	} else {							\
		(t)->st.faults_caught++;				\
	}								\
	fz_guard_jb = NULL;						\
} while (0)

/* Copy n bytes, where either side may vanish under us; false on a fault. */
bool fz_copy_guarded(struct fz_thread *t, void *dst, const void *src, size_t n);

/* ---- Guests (guest.c) -------------------------------------------------- */

/* Set up vCPU object idx to run random code in a random mode. */
void fz_guest_setup(struct fz_thread *t, int idx);
/* Random but well-formed-ish register state. */
void fz_gen_regs(struct fz_thread *t, void *regs);
void fz_gen_sregs(struct fz_thread *t, void *sregs);
const char *fz_exit_name(unsigned int reason);
struct kvm_segment;
void fz_tcg_safe_tr(struct kvm_segment *tr);
struct kvm_sregs;
void fz_tcg_safe_sregs(struct kvm_sregs *s);
bool fz_tcg_workarounds(void);

/* ---- Running ----------------------------------------------------------- */

struct fuzz_cfg {
	uint64_t seed;
	uint64_t max_calls;	/* 0: unbounded */
	double max_secs;	/* 0: unbounded */
	int threads;
	int run_ms;		/* KVM_RUN is interrupted after this long */
	int hang_secs;		/* an operation this long is a hang */
	const char *dev;
	bool nkvm_only;		/* only the ioctls nkvm implements today */
	int verbose;		/* 0 summary, 1 progress, 2 every operation */
	uint64_t trace_from;	/* print operations from this one on */
	const char *log_path;	/* one line per call, for comparing runs */
	const char *diff_path;	/* record there, or compare with it */
	double progress_secs;
	bool quiet_summary;	/* one-line summary only */
	bool no_tcg_workarounds; /* also states that crash QEMU's TCG */
	bool snapshot_runs;	/* vCPU state in the description of KVM_RUN */
};

struct fuzz_result {
	uint64_t calls;
	uint64_t ops;
	uint64_t created[FK_NR];
	uint64_t runs;
	uint64_t exits_total;
	double secs;
	int hangs;		/* operations that exceeded hang_secs */
	int failures;		/* other problems the fuzzer detected */
};

void fuzz_default_cfg(struct fuzz_cfg *cfg);
int fuzz_run(const struct fuzz_cfg *cfg, struct fuzz_result *res);
int fuzz_parse_args(struct fuzz_cfg *cfg, int argc, char **argv);
void fuzz_usage(FILE *f, const char *prog);

/* ---- Leak check (leak.c) ----------------------------------------------- */

struct leak_snap;
struct leak_snap *leak_snapshot(void);
/*
 * Compare two snapshots; prints what grew beyond the tolerances and returns
 * the number of problems (0: clean).
 */
int leak_compare(const struct leak_snap *before, const struct leak_snap *after,
		 long obj_tol, long kib_tol, const char *prefix);
/*
 * The same, but a finding counts only if @again (taken after the same work
 * ran once more) shows the count growing again: a leak grows with the
 * work every time, the background does not.
 */
int leak_confirm(const struct leak_snap *before, const struct leak_snap *after,
		 const struct leak_snap *again, long obj_tol, long kib_tol,
		 const char *prefix);
/* Wait for deferred frees to settle, then snapshot (takes a few seconds). */
struct leak_snap *leak_settled_snapshot(const struct leak_snap *ref,
					long obj_tol, long kib_tol);
void leak_free(struct leak_snap *s);

#endif /* NKVM_FUZZ_H */
