// SPDX-License-Identifier: GPL-2.0
/*
 * test_cycles.c - unload and reload kvm.ko and the vendor module (kvm-amd
 * or kvm-intel) many times, with VMs created, run and destroyed in between,
 * and check that the kernel's memory comes back: slab objects per cache and
 * page counts after the last cycle against those after the first ones
 * (tools/testing/fuzz/leak.c does the counting).
 *
 * Each cycle: rmmod the vendor module and kvm, insmod them again, then
 * two VMs, each with an in-kernel irqchip, two memslots and two vCPUs, a
 * stats fd, and a real-mode guest on vCPU 0 that writes into both memslots
 * and reports with an OUT; then everything is closed.
 *
 *	test_cycles [--cycles=N] [--kvm-ko=PATH] [--vendor-ko=PATH]
 *
 * N defaults to 20 (make check); make stress gives 1000.  Without the
 * paths, the modules are taken from where the bed keeps them: nkvm's in
 * /nkvm/ when the loaded KVM is nkvm (KVM_CAP_NKVM), else Debian's under
 * /lib/modules/$(uname -r)/kernel/arch/x86/kvm/.  The test needs root and
 * the module files; it skips without them.  Whatever happens, the modules
 * are loaded again when it ends, for the programs that follow.
 *
 * The tolerance, between the snapshot after the warm-up cycles and the
 * last one: a cache may gain cycles / 2 objects (at least 16, at most 256)
 * plus, per CPU, one slab and its per-CPU partial objects (SLUB counts
 * them as in use), the page counts cycles * 2 KiB (at least 512 KiB, at
 * most 2 MiB).  In 1000 cycles, a leak of one object or one page per cycle
 * exceeds it (but for caches of tiny objects, 512 a slab); in the short
 * run's 20 cycles, only a leak per VM or vCPU of the bigger objects (two
 * VMs and four vCPUs per cycle; 21 objects a slab for 192 bytes): the
 * short run is there for the crashes and the kernel log.  A count over its
 * tolerance is a leak only if it grows again (by more than half of it) in
 * as many cycles once more.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

#include "vm.h"

/* From tools/testing/fuzz/leak.c, linked in. */
struct leak_snap;
struct leak_snap *leak_snapshot(void);
struct leak_snap *leak_settled_snapshot(const struct leak_snap *ref,
					long obj_tol, long kib_tol);
int leak_compare(const struct leak_snap *before, const struct leak_snap *after,
		 long obj_tol, long kib_tol, const char *prefix);
int leak_confirm(const struct leak_snap *before, const struct leak_snap *after,
		 const struct leak_snap *again, long obj_tol, long kib_tol,
		 const char *prefix);
void leak_free(struct leak_snap *s);

#define WARMUP_CYCLES	2
#define SLOT1_GPA	0x100000UL
#define SLOT1_SIZE	0x10000UL
#define REPORT_PORT	0x10

static int cycles = 20;
static char kvm_ko[256], vendor_ko[256];
static const char *vendor_name;		/* kvm_amd or kvm_intel */
static const char *skip_why;		/* find_modules()'s answer */

/* Guest: one word into each memslot, then report it with an OUT. */
GUEST_CODE(cycle_guest,
	"movw $0x1234, 0x600\n"
	"mov $0xffff, %ax\n"		/* ES base 0xffff0: ES:0x10 is 1 MiB */
	"mov %ax, %es\n"
	"movw $0xbeef, %es:0x10\n"
	"mov %es:0x10, %ax\n"
	"out %ax, $0x10\n"
	"1: jmp 1b\n"
);

static bool module_loaded(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

/* rmmod: 0 or an errno.  A module still busy is retried for 5 s. */
static int unload(const char *name)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (!syscall(SYS_delete_module, name, O_NONBLOCK))
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			return errno;
		usleep(10000);
	}
	return errno;
}

/* insmod: 0 or an errno. */
static int load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		err = errno;
	close(fd);
	return err == EEXIST ? 0 : err;
}

static int reload_modules(void)
{
	int err;

	err = load(kvm_ko);
	if (err) {
		th_log("insmod %s: %s", kvm_ko, strerror(err));
		return err;
	}
	err = load(vendor_ko);
	if (err)
		th_log("insmod %s: %s", vendor_ko, strerror(err));
	return err;
}

/*
 * Which modules to cycle: from the options, or where the bed keeps them.
 * Runs once, in the harness's process, before any cycle: NULL, or why the
 * test cannot run.
 */
static const char *find_modules(void)
{
	struct utsname u;
	struct stat st;
	char *slash;
	int fd, nkvm;

	if (module_loaded("kvm_amd"))
		vendor_name = "kvm_amd";
	else if (module_loaded("kvm_intel"))
		vendor_name = "kvm_intel";
	else
		return "no kvm_amd or kvm_intel loaded";
	if (geteuid())
		return "not root";
	if (!kvm_ko[0]) {
		fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return "no /dev/kvm";
		nkvm = kvm_is_nkvm(fd);
		close(fd);
		uname(&u);
		if (nkvm)
			snprintf(kvm_ko, sizeof(kvm_ko), "/nkvm/kvm.ko");
		else
			snprintf(kvm_ko, sizeof(kvm_ko),
				 "/lib/modules/%s/kernel/arch/x86/kvm/kvm.ko", u.release);
	}
	if (!vendor_ko[0]) {
		/* The vendor module sits next to kvm.ko. */
		snprintf(vendor_ko, sizeof(vendor_ko), "%s", kvm_ko);
		slash = strrchr(vendor_ko, '/');
		slash = slash ? slash + 1 : vendor_ko;
		snprintf(slash, sizeof(vendor_ko) - (slash - vendor_ko), "%s.ko",
			 strcmp(vendor_name, "kvm_amd") ? "kvm-intel" : "kvm-amd");
	}
	if (stat(kvm_ko, &st) || stat(vendor_ko, &st))
		return "module files not found (give --kvm-ko= and --vendor-ko=)";
	return NULL;
}

static void set_runnable(struct vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	ASSERT_EQ(ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), 0);
}

/* One VM: irqchip, two memslots, two vCPUs, a stats fd, a guest run. */
static void one_vm(void)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu[2];
	uint16_t *slot1;
	int stats, i;

	ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
	slot1 = vm_add_slot(vm, 1, SLOT1_GPA, SLOT1_SIZE);
	for (i = 0; i < 2; i++)
		vcpu[i] = vcpu_create(vm, i);
	stats = ioctl(vm->fd, KVM_GET_STATS_FD, 0);
	ASSERT_OK(stats);
	vm_load_guest(vm, cycle_guest);
	vcpu_set_real_mode(vcpu[0], CODE_ADDR);
	set_runnable(vcpu[0]);
	ASSERT_EQ(RUN_OUT(vcpu[0], 2, REPORT_PORT), 0xbeef);
	ASSERT_EQ(*(uint16_t *)vm_ptr(vm, 0x600), 0x1234);
	ASSERT_EQ(slot1[0], 0xbeef);
	close(stats);
	for (i = 0; i < 2; i++)
		vcpu_free(vcpu[i]);
	vm_free(vm);
	munmap(slot1, SLOT1_SIZE);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long clamp(long v, long lo, long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Slab objects per cache, with what each CPU may keep as their own
 * tolerance: SLUB counts every object of a CPU's current slab and of its
 * per-CPU partial slabs as active, and the reads themselves (opening
 * /proc files) leave each CPU such slabs of filp, lsm_file_cache,
 * kmalloc-*: a whole slab of noise, 170 objects for lsm_file_cache, and
 * about three slabs of filp (46 objects) seen on nkvm whatever the number
 * of cycles.  The allowance per CPU is one slab plus the cache's
 * cpu_partial (objects, /sys/kernel/slab).  leak.c's comparison, with one
 * tolerance for all caches, is used for the page counts only.
 */
#define MAX_CACHES 512

struct slabs {
	int n;
	struct {
		char name[64];
		long active, per_slab, cpu_partial;
	} c[MAX_CACHES];
};

/* A cache's cpu_partial (objects a CPU may keep on partial slabs), or 0. */
static long cpu_partial(const char *name)
{
	char path[160], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/cpu_partial", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return atol(buf);
}

static void read_slabs(struct slabs *s)
{
	FILE *f = fopen("/proc/slabinfo", "re");
	char line[512];
	long num, size;
	int i;

	s->n = 0;
	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f) && s->n < MAX_CACHES) {
		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld %ld", s->c[s->n].name,
			   &s->c[s->n].active, &num, &size, &s->c[s->n].per_slab) == 5)
			s->n++;
	}
	fclose(f);
	for (i = 0; i < s->n; i++)
		s->c[i].cpu_partial = cpu_partial(s->c[i].name);
}

/* A cache's active objects in @s (0 if it has none). */
static long slab_active(const struct slabs *s, const char *name)
{
	int j;

	for (j = 0; j < s->n; j++)
		if (!strcmp(s->c[j].name, name))
			return s->c[j].active;
	return 0;
}

/*
 * Caches of "after" that grew beyond the tolerance (printed if say, with
 * the largest growth within it).  With @again (the counts after as many
 * cycles once more), a cache counts only if it grew again by more than
 * half its tolerance: a leak grows with the cycles, the background not.
 */
static int slab_growth(const struct slabs *before, const struct slabs *after,
		       const struct slabs *again, long tol, bool say)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN), was, grew, more, limit;
	long most = 0;
	int i, problems = 0, which = -1;

	for (i = 0; i < after->n; i++) {
		/* Freed vmalloc areas are purged lazily: VmallocUsed counts. */
		if (!strcmp(after->c[i].name, "vmap_area"))
			continue;
		was = slab_active(before, after->c[i].name);
		grew = after->c[i].active - was;
		limit = tol + ncpus * (after->c[i].per_slab + after->c[i].cpu_partial);
		if (grew <= limit) {
			if (grew > most) {
				most = grew;
				which = i;
			}
			continue;
		}
		more = again ? slab_active(again, after->c[i].name) - after->c[i].active : 0;
		if (again && more <= limit / 2) {
			if (say)
				th_log("no leak: slab cache %s grew by %ld, then by %ld in as many cycles again",
				       after->c[i].name, grew, more);
			continue;
		}
		if (say)
			th_log("leak: slab cache %s: %ld -> %ld active objects (+%ld; %ld a slab, %ld per-CPU partial)%s",
			       after->c[i].name, was, after->c[i].active, grew,
			       after->c[i].per_slab, after->c[i].cpu_partial,
			       again ? ", and more in as many cycles again" : "");
		problems++;
	}
	if (say && which >= 0)
		th_log("largest growth within the tolerance: %s, +%ld objects (%ld a slab, %ld per-CPU partial)",
		       after->c[which].name, most, after->c[which].per_slab,
		       after->c[which].cpu_partial);
	return problems;
}

/* Keep the smaller count of each cache: deferred frees only lower them. */
static void slabs_min(struct slabs *m, const struct slabs *s)
{
	int i, j;

	for (i = 0; i < m->n; i++)
		for (j = 0; j < s->n; j++)
			if (!strcmp(m->c[i].name, s->c[j].name) &&
			    s->c[j].active < m->c[i].active)
				m->c[i].active = s->c[j].active;
}

/* One cycle: both modules out and in again, then two VMs. */
static void one_cycle(int i)
{
	int err;

	err = unload(vendor_name);
	if (err)
		th_log("cycle %d: rmmod %s: %s", i, vendor_name, strerror(err));
	ASSERT_EQ(err, 0);
	err = unload("kvm");
	if (err)
		th_log("cycle %d: rmmod kvm: %s", i, strerror(err));
	ASSERT_EQ(err, 0);
	ASSERT_EQ(reload_modules(), 0);
	one_vm();
	one_vm();
}

/*
 * The slab counts once deferred frees (RCU, workqueues) had a few seconds
 * to land: the smallest seen of each, until they are within the tolerance
 * of @ref.
 */
static void settle_slabs(const struct slabs *ref, struct slabs *out,
			 struct slabs *now, long obj_tol)
{
	struct leak_snap *snap;
	int tries;

	read_slabs(out);
	for (tries = 0; tries < 12; tries++) {
		if (!slab_growth(ref, out, NULL, obj_tol, false))
			break;
		sleep(1);
		snap = leak_snapshot();
		read_slabs(now);
		leak_free(snap);
		slabs_min(out, now);
	}
}

TEST(load_unload_cycles_leave_memory_as_it_was)
{
	long obj_tol = clamp(cycles / 2, 16, 256);
	long kib_tol = clamp(cycles * 2L, 512, 2048);
	struct leak_snap *before = NULL, *after, *again = NULL;
	struct slabs *slabs_before = calloc(1, sizeof(struct slabs));
	struct slabs *slabs_after = calloc(1, sizeof(struct slabs));
	struct slabs *slabs_now = calloc(1, sizeof(struct slabs));
	struct slabs *slabs_again = NULL;
	double t0 = now();
	int i;

	if (skip_why)
		SKIP("%s", skip_why);
	ASSERT_TRUE(slabs_before && slabs_after && slabs_now);
	TH_LOG("%d cycles of %s and %s", cycles, kvm_ko, vendor_ko);
	for (i = 0; i < cycles; i++) {
		one_cycle(i);
		if (i + 1 == WARMUP_CYCLES || (cycles <= WARMUP_CYCLES && !i)) {
			before = leak_snapshot();
			read_slabs(slabs_before);
		}
		if ((i + 1) % 100 == 0)
			TH_LOG("%d cycles, %.1f s", i + 1, now() - t0);
	}
	ASSERT_TRUE(before != NULL);
	TH_LOG("%d cycles in %.1f s (%.0f ms each)", cycles, now() - t0,
	       (now() - t0) * 1000 / cycles);

	/* The page counts in leak.c, the slab counts here. */
	after = leak_settled_snapshot(before, LONG_MAX / 2, kib_tol);
	ASSERT_TRUE(after != NULL);
	settle_slabs(slabs_before, slabs_after, slabs_now, obj_tol);

	/*
	 * Over a tolerance: as many cycles once more tell a leak (it grows
	 * again) from the bed's background (seen once: inode_cache and
	 * dentry up by 170 in a make check run, nothing in six runs after).
	 */
	if (slab_growth(slabs_before, slabs_after, NULL, obj_tol, false) ||
	    leak_compare(before, after, LONG_MAX / 2, kib_tol, NULL)) {
		TH_LOG("over a tolerance after %d cycles: %d more, to tell a leak from the background",
		       cycles, cycles);
		slabs_again = calloc(1, sizeof(struct slabs));
		ASSERT_TRUE(slabs_again != NULL);
		for (i = 0; i < cycles; i++)
			one_cycle(cycles + i);
		again = leak_settled_snapshot(after, LONG_MAX / 2, kib_tol / 2);
		ASSERT_TRUE(again != NULL);
		settle_slabs(slabs_after, slabs_again, slabs_now, obj_tol / 2);
	}
	TH_LOG("tolerance: %ld objects per cache and a slab per CPU, %ld KiB",
	       obj_tol, kib_tol);
	EXPECT_EQ(slab_growth(slabs_before, slabs_after, slabs_again, obj_tol, true), 0);
	/* The page counts (the slab counts above): LONG_MAX / 2 objects. */
	EXPECT_EQ(leak_confirm(before, after, again, LONG_MAX / 2, kib_tol, "# leak: "), 0);
	leak_free(again);
	leak_free(before);
	leak_free(after);
	free(slabs_again);
}

int main(int argc, char **argv)
{
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--cycles=", 9))
			cycles = atoi(argv[i] + 9);
		else if (!strncmp(argv[i], "--kvm-ko=", 9))
			snprintf(kvm_ko, sizeof(kvm_ko), "%s", argv[i] + 9);
		else if (!strncmp(argv[i], "--vendor-ko=", 12))
			snprintf(vendor_ko, sizeof(vendor_ko), "%s", argv[i] + 12);
	}
	if (cycles < 1)
		cycles = 1;
	/*
	 * 0.3-3 s a cycle in the bed, ten times more when the host is busy:
	 * the bed's timeout is the one that counts.
	 */
	if (!getenv("TH_TIMEOUT")) {
		char t[32];

		snprintf(t, sizeof(t), "%d", 300 + cycles * 20);
		setenv("TH_TIMEOUT", t, 1);
	}
	skip_why = find_modules();
	rc = th_main(argc, argv);
	/* A cycle that failed half-way must not leave the bed without KVM. */
	if (!skip_why && (!module_loaded("kvm") || !module_loaded(vendor_name)))
		reload_modules();
	return rc;
}
