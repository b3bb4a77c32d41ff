// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_qemu_boot.c - Debian's QEMU boots Linux on /dev/kvm, to userspace,
 * and powers off.
 *
 * QEMU (qemu-system-x86_64 -accel kvm, a q35 machine, SeaBIOS) boots the
 * host's own kernel (/boot/vmlinuz-$(uname -r): the test bed puts the
 * kernel it boots there) with an initramfs made here: the static busybox
 * and an /init that prints a marker and powers off through ACPI.  The
 * test reads QEMU's console, checks the marker, the kernel's "Power down"
 * and that QEMU ended by itself with status 0.  run-bed.sh copies QEMU,
 * its libraries and firmware into the bed's initramfs
 * (tools/testing/qemu/qemu-files.sh) when a test_qemu* program runs.
 *
 * One boot per program, so that the bed's per-program timeout holds: the
 * Makefile builds this file five times, with QEMU_VARIANT
 *	0  test_qemu_boot           in-kernel irqchip (QEMU's default), 1 vCPU
 *	1  test_qemu_boot_smp       in-kernel irqchip, 2 vCPUs
 *	2  test_qemu_irqchip_split  kernel-irqchip=split (LAPICs in the
 *				    kernel, PIC and IOAPIC in QEMU), 2 vCPUs
 *	3  test_qemu_irqchip_off    kernel-irqchip=off (all in QEMU), 1 vCPU
 *	4  test_qemu_cpu_host       -cpu host (every CPUID feature and MSR
 *				    the KVM below offers), in-kernel
 *				    irqchip, 1 vCPU
 * A boot takes 15-30 s in the SVM test bed (QEMU TCG below, KVM in it).
 *
 * Under Debian's KVM in the bed with two CPUs, nested guests hang at
 * random (see tools/vmm/README): there the first program boots once and
 * retries once after a hang (a hang both times is a skip, as in
 * test_vmm_boot), and the others skip, unless QEMU_TEST_ALL=1.
 *
 * A hung boot is never retried on nkvm.  (It once hung about one boot in
 * ten, the guest spinning on an irq descriptor's lock with interrupts
 * off: QEMU's TCG below delivered some injected interrupts twice, see
 * svm_tcg_settle_injected_irq() in arch/x86/kvm/svm/svm.c.)  After a
 * hang the test shows the guest's registers, its stack with the kernel
 * addresses named, the interrupt controllers and, for a module built
 * with KCFLAGS=-DNKVM_TRACE_EVENTS, the host's trace of the injections.
 *
 * Options: --loop N boots N times (stopping at the first failure), for
 * bugs that show once in many boots; --help.
 *
 * Environment: QEMU_TEST_BINARY (default /usr/bin/qemu-system-x86_64),
 * QEMU_TEST_KERNEL, QEMU_TEST_BUSYBOX (default /bin/busybox).
 */
#define _GNU_SOURCE
#define TH_DEFAULT_TIMEOUT 115
#include "../nkvm/harness.h"
#include "../nkvm/boot_common.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#ifndef QEMU_VARIANT
#define QEMU_VARIANT	0
#endif

#define MARKER		"QEMU-GUEST: init reached, "
#define POWER_DOWN	"reboot: Power down"
/*
 * Seconds before a boot is given up: where the reference may hang, short
 * enough for one retry within the harness's timeout.
 */
#define BOOT_TIMEOUT		100
#define BOOT_TIMEOUT_RETRY	50

/*
 * What the guest's kernel logged that a boot must not log (the console is
 * quiet: they are warnings): an MSR access that faulted where the kernel
 * did not expect it, a WARN() or a BUG, each line prefixed DMESG_BAD; with
 * "qemu_test_show" on its command line (--show), the whole log and the
 * CPU's flags too.  One WARN() is let through: with -cpu host (or max) in
 * the SVM bed the guest's kernel finds its XSAVE sizes inconsistent
 * ("XSAVE consistency problem", fpu__init_system_xstate()) under Linux's
 * KVM exactly as under nkvm: the bed's TCG runs the guest's XSETBV
 * without the exit SVM asks for, so the KVM below never learns the
 * guest's XCR0 and its CPUID leaf 0xD keeps the old XSAVE size.
 * (The first line /init prints is an empty one: it ends SeaBIOS's last
 * line of terminal codes, which show_output() drops.)
 */
#define DMESG_BAD	"QEMU-GUEST-DMESG: "
#define DMESG_BAD_RE	"unchecked MSR access|WARNING: CPU:|BUG:"
#define DMESG_KNOWN_RE	"WARNING: .* fpu__init_system_xstate"

static const char guest_init[] =
	"#!/bin/busybox sh\n"
	"echo\n"
	"/bin/busybox mount -t proc proc /proc\n"
	"/bin/busybox dmesg | /bin/busybox grep -E '" DMESG_BAD_RE "' |\n"
	"	/bin/busybox grep -v -E '" DMESG_KNOWN_RE "' |\n"
	"	/bin/busybox sed 's/^/" DMESG_BAD "/'\n"
	"if /bin/busybox grep -q qemu_test_show /proc/cmdline; then\n"
	"	/bin/busybox dmesg\n"
	"	/bin/busybox grep -m1 flags /proc/cpuinfo\n"
	"fi\n"
	"echo \"" MARKER "$(/bin/busybox nproc) cpus\"\n"
	"/bin/busybox poweroff -f\n";

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static bool reference_is_flaky(void)
{
	return boot_reference_is_flaky("QEMU_TEST_ALL");
}

/* ------------------------------------------------------------ initramfs */

static void *slurp(const char *path, size_t *size)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !(buf = malloc(st.st_size ? st.st_size : 1))) {
		close(fd);
		return NULL;
	}
	*size = 0;
	while (*size < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)buf + *size, st.st_size - *size);

		if (n <= 0)
			break;
		*size += n;
	}
	close(fd);
	if (*size != (size_t)st.st_size) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The guest's initramfs in a temporary file: its path. */
static void make_initramfs(char *path, size_t len)
{
	const char *bb_path = env_or("QEMU_TEST_BUSYBOX", "/bin/busybox");
	size_t bb_size;
	void *bb = slurp(bb_path, &bb_size);
	FILE *f;
	int fd;

	if (!bb)
		SKIP("no static busybox at %s for the guest (QEMU_TEST_BUSYBOX)", bb_path);
	snprintf(path, len, "/tmp/qemu-guest-XXXXXX");
	fd = mkstemp(path);
	ASSERT_OK(fd);
	f = fdopen(fd, "w");
	ASSERT_TRUE(f != NULL);
	ASSERT_OK(boot_cpio_add(f, "dev", 040755, 0, 0, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "dev/console", 020600, 5, 1, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "proc", 040755, 0, 0, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "bin", 040755, 0, 0, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "bin/busybox", 0100755, 0, 0, bb, bb_size));
	ASSERT_OK(boot_cpio_add(f, "init", 0100755, 0, 0, guest_init,
				strlen(guest_init)));
	ASSERT_OK(boot_cpio_add(f, "TRAILER!!!", 0, 0, 0, NULL, 0));
	ASSERT_OK(fclose(f));
	free(bb);
}

/* ------------------------------------------------------------ running */

/*
 * The guest runs the bed's own kernel with nokaslr: its text addresses are
 * the bed's /proc/kallsyms ones less the bed's KASLR offset.  Names a
 * guest address "sym+0xoff", or NULL.
 */
struct ksym {
	unsigned long long addr;
	char name[64];
};

static struct ksym *ksyms;
static size_t nksyms;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void ksyms_load(void)
{
	unsigned long long addr, text = 0;
	char type, name[256];
	size_t cap = 0, i;
	FILE *f;

	if (ksyms || !(f = fopen("/proc/kallsyms", "r")))
		return;
	while (fscanf(f, "%llx %c %255s%*[^\n]", &addr, &type, name) == 3) {
		if (type != 't' && type != 'T')
			continue;
		if (!strcmp(name, "_text"))
			text = addr;
		if (nksyms == cap) {
			cap = cap ? 2 * cap : 65536;
			ksyms = realloc(ksyms, cap * sizeof(*ksyms));
			if (!ksyms)
				break;
		}
		ksyms[nksyms].addr = addr;
		snprintf(ksyms[nksyms].name, sizeof(ksyms[nksyms].name), "%.63s", name);
		nksyms++;
	}
	fclose(f);
	if (!ksyms || !text) {
		nksyms = 0;
		return;
	}
	/* The kernel's link address of _text, which nokaslr keeps. */
	for (i = 0; i < nksyms; i++)
		ksyms[i].addr -= text - 0xffffffff81000000ULL;
	qsort(ksyms, nksyms, sizeof(*ksyms), ksym_cmp);
}

static const char *ksym_name(unsigned long long addr)
{
	static char buf[128];
	size_t lo = 0, hi = nksyms;

	if (!nksyms || addr < ksyms[0].addr || addr >= 0xffffffffc0000000ULL)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ksyms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (addr - ksyms[lo].addr > 0x10000)
		return NULL;
	snprintf(buf, sizeof(buf), "%s+0x%llx", ksyms[lo].name,
		 addr - ksyms[lo].addr);
	return buf;
}

struct buf {
	char *p;
	size_t len, cap;
};

/* Append what fd has to say within ms milliseconds to b. */
static void drain_into(int fd, int ms, struct buf *b)
{
	double end = boot_now() + ms / 1000.0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = end - boot_now();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			return;
		if (b->len + 4096 + 1 > b->cap) {
			char *q = realloc(b->p, b->cap + 65536);

			if (!q)
				return;
			b->p = q;
			b->cap += 65536;
		}
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n <= 0)
			return;
		b->len += n;
		b->p[b->len] = 0;
	}
}

static void out_append(struct run_result *r, const char *s, size_t n)
{
	if (n > RUN_OUT_MAX - r->len)
		n = RUN_OUT_MAX - r->len;
	memcpy(r->out + r->len, s, n);
	r->len += n;
	r->out[r->len] = 0;
}

/* One monitor command; its answer goes to r->out and is returned. */
static char *monitor_cmd(int s, const char *cmd, int ms, struct run_result *r)
{
	static struct buf b;
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);

	b.len = 0;
	if (b.p)
		b.p[0] = 0;
	if (write(s, line, n) != n)
		return NULL;
	drain_into(s, ms, &b);
	out_append(r, "\n(qemu) ", 8);
	out_append(r, cmd, strlen(cmd));
	out_append(r, "\n", 1);
	if (b.p)
		out_append(r, b.p, b.len);
	return b.p;
}

/* The guest's kernel text addresses in a monitor answer, named. */
static void name_addresses(const char *text, struct run_result *r)
{
	const char *q = text;
	char line[200];

	while (q && (q = strstr(q, "ffffffff")) != NULL) {
		unsigned long long a = strtoull(q, NULL, 16);
		const char *name = ksym_name(a);

		if (name) {
			snprintf(line, sizeof(line), "  %016llx = %s\n", a, name);
			out_append(r, line, strlen(line));
		}
		q += 8;
	}
}

/*
 * The host kernel's trace buffer (an nkvm built with -DNKVM_TRACE_EVENTS
 * writes its event injections there): its last lines.
 */
static void dump_host_trace(struct run_result *r)
{
	const char *path = "/sys/kernel/debug/tracing/trace";
	struct buf b = { 0 };
	size_t i, lines = 0;
	int fd;

	fd = open("/sys/kernel/debug/tracing/tracing_on", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			TH_LOG("cannot stop tracing");
		close(fd);
	}
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	drain_into(fd, 3000, &b);
	close(fd);
	if (!b.len || !memmem(b.p, b.len, "inj", 3)) {
		free(b.p);
		return;
	}
	/* Every delivery an exit interrupted, then the end. */
	out_append(r, "\n(host trace: interrupted deliveries)\n", 38);
	for (i = 0; i < b.len; ) {
		char *nl = memchr(b.p + i, '\n', b.len - i);
		size_t n = nl ? (size_t)(nl - (b.p + i)) + 1 : b.len - i;

		if (memmem(b.p + i, n, "requeue", 7))
			out_append(r, b.p + i, n);
		i += n;
	}
	for (i = b.len; i > 0 && lines < 300; i--)
		if (b.p[i - 1] == '\n')
			lines++;
	out_append(r, "\n(host trace)\n", 14);
	out_append(r, b.p + i, b.len - i);
	free(b.p);
}

/*
 * A hung guest: ask QEMU's monitor (a socket at mon) for the vCPUs'
 * registers, each vCPU's stack (the kernel text addresses in it named
 * from the bed's kallsyms: the guest runs with nokaslr) and the interrupt
 * controllers' state; then the host's trace buffer.  Everything lands in
 * r->out.
 */
static void dump_hung_guest(const char *mon, int ncpus, struct run_result *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct buf junk = { 0 };
	char cmd[64], *ans;
	int cpu;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", mon);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		TH_LOG("cannot reach QEMU's monitor at %s: %s", mon, strerror(errno));
		if (s >= 0)
			close(s);
		return;
	}
	ksyms_load();
	drain_into(s, 500, &junk);
	free(junk.p);
	for (cpu = 0; cpu < ncpus; cpu++) {
		unsigned long long rsp = 0;
		const char *q;

		snprintf(cmd, sizeof(cmd), "cpu %d", cpu);
		monitor_cmd(s, cmd, 300, r);
		ans = monitor_cmd(s, "info registers", 1000, r);
		if (!ans)
			break;
		q = strstr(ans, "RSP=");
		if (q)
			rsp = strtoull(q + 4, NULL, 16);
		q = strstr(ans, "RIP=");
		if (q)
			name_addresses(q, r);
		if (!rsp)
			continue;
		snprintf(cmd, sizeof(cmd), "x /96gx 0x%llx", rsp);
		ans = monitor_cmd(s, cmd, 1000, r);
		name_addresses(ans, r);
	}
	monitor_cmd(s, "info lapic", 1000, r);
	monitor_cmd(s, "info pic", 1000, r);
	close(s);
	dump_host_trace(r);
}

/* In the child: QEMU, its stdin on /dev/null. */
static void exec_qemu(void *arg)
{
	char *const *argv = arg;
	int null = open("/dev/null", O_RDONLY);

	dup2(null, STDIN_FILENO);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * One QEMU run; a guest that does not end in @timeout seconds is shown
 * (with @dump, its state from QEMU's monitor) and killed.
 */
static void run_qemu(char *const argv[], int timeout, const char *mon,
		     int ncpus, bool dump, struct run_result *r)
{
	run_spawn(r, exec_qemu, (void *)argv);
	if (run_read(r, timeout, MARKER, NULL) < 0) {
		TH_LOG("QEMU did not end within %d s%s", timeout,
		       dump ? ": its state, then kill" : ": kill");
		if (dump)
			dump_hung_guest(mon, ncpus, r);
	}
	run_end(r);
}

/* --loop N: boots per program; --cpu MODEL; --show (see main()). */
static int loops = 1;
static const char *cpu_opt;
static bool show;

/* One boot (retried once after a hang where the reference is flaky). */
static void boot_once(char *const argv[], const char *mon, int ncpus,
		      const char *bench, int boot_nr)
{
	int retry = reference_is_flaky();
	int tries = retry ? 2 : 1;
	struct run_result r;
	char want[64];

	/*
	 * The reference's hangs are not dumped: both tries must fit in the
	 * harness's timeout, and it is nkvm's that need looking into.
	 */
	for (;;) {
		run_qemu(argv, retry ? BOOT_TIMEOUT_RETRY : BOOT_TIMEOUT, mon,
			 ncpus, !retry, &r);
		if (!r.timed_out || --tries == 0)
			break;
		TH_LOG("the guest hung (Linux KVM in the nested bed): once more");
		show_output(&r, true);
		free(r.out);
	}
	/*
	 * Twice in a row is still the reference's known hang (as in
	 * test_vmm_boot): it says nothing about nkvm, whose boots are never
	 * retried.
	 */
	if (r.timed_out && retry) {
		show_output(&r, true);
		free(r.out);
		SKIP("Linux KVM hung the guest in both boots (the nested bed's known hang, Documentation/virt/testing.rst)");
	}
	snprintf(want, sizeof(want), MARKER "%d cpus", ncpus);
	if (show || r.status != 0 || !strstr(r.out, want) ||
	    !strstr(r.out, POWER_DOWN) || strstr(r.out, DMESG_BAD)) {
		TH_LOG("boot %d: QEMU's console and messages (exit status %d):",
		       boot_nr, r.status);
		show_output(&r, true);
	}
	if (r.marker_at >= 0)
		TH_LOG("boot %d: guest /init reached %.2f s after QEMU started; QEMU ended after %.2f s",
		       boot_nr, r.marker_at, r.total);
	if (bench && r.marker_at >= 0)
		printf("BENCH %s %.2f s\n", bench, r.marker_at);
	EXPECT_TRUE(strstr(r.out, MARKER) != NULL);
	EXPECT_TRUE(strstr(r.out, want) != NULL);
	EXPECT_TRUE(strstr(r.out, POWER_DOWN) != NULL);
	EXPECT_FALSE(r.timed_out);
	EXPECT_EQ(r.status, 0);
	/* Nothing the guest's kernel warned about (its log, DMESG_BAD_RE). */
	EXPECT_TRUE(strstr(r.out, DMESG_BAD) == NULL);
	free(r.out);
}

/*
 * Boot the kernel under QEMU with -M <machine>, ncpus and -cpu <cpu>
 * (NULL: QEMU's default model; --cpu overrides either).
 */
static void boot(const char *machine, int ncpus, const char *cpu,
		 const char *bench)
{
	const char *qemu = env_or("QEMU_TEST_BINARY", "/usr/bin/qemu-system-x86_64");
	const char *kernel = boot_guest_kernel("QEMU_TEST_KERNEL");
	char initrd[64], smp[16], mon[80], mon_opt[112];
	int fd, i;

	if (access(qemu, X_OK))
		SKIP("no %s (run-bed.sh copies it in for test_qemu* programs)", qemu);
	if (!kernel || access(kernel, R_OK))
		SKIP("no guest kernel: set QEMU_TEST_KERNEL or provide /boot/vmlinuz-<release>");
	fd = open("/dev/kvm", O_RDWR);
	if (fd < 0)
		SKIP("cannot open /dev/kvm: %s", strerror(errno));
	close(fd);
	make_initramfs(initrd, sizeof(initrd));
	snprintf(smp, sizeof(smp), "%d", ncpus);
	snprintf(mon, sizeof(mon), "%s.mon", initrd);
	snprintf(mon_opt, sizeof(mon_opt), "unix:%s,server=on,wait=off", mon);

	if (cpu_opt)
		cpu = cpu_opt;
	/* nokaslr: dump_hung_guest() names the guest's kernel addresses. */
	char *argv[] = {
		(char *)qemu, "-M", (char *)machine, "-accel", "kvm",
		"-m", "256M", "-smp", smp,
		"-nographic", "-nodefaults", "-no-reboot",
		"-serial", "stdio", "-monitor", mon_opt,
		"-kernel", (char *)kernel, "-initrd", initrd,
		"-append", show ? "console=ttyS0 quiet panic=-1 nokaslr qemu_test_show" :
				  "console=ttyS0 quiet panic=-1 nokaslr",
		/* -cpu <cpu>, when given */
		NULL, NULL, NULL,
	};

	if (cpu) {
		argv[sizeof(argv) / sizeof(argv[0]) - 3] = "-cpu";
		argv[sizeof(argv) / sizeof(argv[0]) - 2] = (char *)cpu;
	}
	TH_LOG("%s -M %s -accel kvm%s%s -smp %d -m 256M, %s%s", qemu, machine,
	       cpu ? " -cpu " : "", cpu ? cpu : "", ncpus, kernel,
	       loops > 1 ? ", boots:" : "");
	for (i = 1; i <= loops; i++) {
		boot_once(argv, mon, ncpus, bench, i);
		unlink(mon);
		if (th_expect_failed) {
			if (loops > 1)
				TH_LOG("boot %d of %d failed", i, loops);
			break;
		}
	}
	unlink(initrd);
	if (loops > 1 && !th_expect_failed)
		TH_LOG("%d boots, all reached /init and powered off", loops);
}

static __attribute__((unused)) void skip_if_flaky(void)
{
	if (reference_is_flaky())
		SKIP("Linux KVM hangs nested guests at random in a bed with 2 CPUs; QEMU_TEST_ALL=1 runs this");
}

#if QEMU_VARIANT == 0
TEST(qemu_q35_irqchip_kernel_1cpu)
{
	boot("q35", 1, NULL, "qemu_boot_to_init_1cpu");
}
#elif QEMU_VARIANT == 1
TEST(qemu_q35_irqchip_kernel_2cpus)
{
	skip_if_flaky();
	boot("q35", 2, NULL, "qemu_boot_to_init_2cpu");
}
#elif QEMU_VARIANT == 2
TEST(qemu_q35_irqchip_split_2cpus)
{
	skip_if_flaky();
	boot("q35,kernel-irqchip=split", 2, NULL, NULL);
}
#elif QEMU_VARIANT == 3
TEST(qemu_q35_irqchip_off_1cpu)
{
	skip_if_flaky();
	boot("q35,kernel-irqchip=off", 1, NULL, NULL);
}
#elif QEMU_VARIANT == 4
TEST(qemu_q35_cpu_host_1cpu)
{
	skip_if_flaky();
	boot("q35", 1, "host", NULL);
}
#else
#error "QEMU_VARIANT must be 0 to 4"
#endif

static void usage(const char *prog)
{
	printf("usage: %s [--loop N] [--cpu MODEL] [--show] [TEST]\n"
	       "  --loop N   boot N times in a row, stop at the first failure\n"
	       "  --cpu MODEL  QEMU's -cpu MODEL (e.g. host, max) for every boot\n"
	       "  --show     show QEMU's messages and the guest's console, whole\n"
	       "             kernel log and CPU flags, for every boot\n"
	       "A hung guest's registers, stack and interrupt controllers (from\n"
	       "QEMU's monitor) are shown before QEMU is killed.\n",
	       prog);
}

int main(int argc, char **argv)
{
	char tmo[32];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(argv[0]);
			return 0;
		} else if (!strcmp(argv[i], "--loop") && i + 1 < argc) {
			loops = atoi(argv[i + 1]);
			argv[i + 1] = "-";	/* not a test name */
			i++;
		} else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
			cpu_opt = argv[i + 1];
			argv[i + 1] = "-";
			i++;
		} else if (!strcmp(argv[i], "--show")) {
			show = true;
		}
	}
	if (loops < 1)
		loops = 1;
	/* The harness's per-test timeout, for every boot. */
	if (loops > 1 && !getenv("TH_TIMEOUT")) {
		snprintf(tmo, sizeof(tmo), "%d", loops * (BOOT_TIMEOUT + 15));
		setenv("TH_TIMEOUT", tmo, 1);
	}
	return th_main(argc, argv);
}
