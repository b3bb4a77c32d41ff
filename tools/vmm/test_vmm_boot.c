// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_vmm_boot.c - the VMM boots Linux to userspace and ends cleanly.
 *
 * The guest kernel is the host's own (/boot/vmlinuz-$(uname -r): the test
 * bed puts the kernel it boots there) or $VMM_TEST_KERNEL; its initramfs is
 * made here, in memory: /dev/console and /init (guest_init.c, linked into
 * this program).  Both reach the VMM through pipes, so the loader is tested
 * on files it cannot seek.  The VMM runs in a child process with its
 * console on a pipe that this test reads and timestamps.
 *
 * The boots need the in-kernel irqchip and PIT: without them (nkvm before
 * its irqchip lands) those tests skip and name the missing capability.
 * Each boot takes about 6 s in the SVM test bed.  The test prints
 * "BENCH vmm_boot_to_init_<n>cpu <seconds> s": VMM start to the guest's
 * /init (1 vCPU with ACPI, and 2 vCPUs).
 */
#define TH_DEFAULT_TIMEOUT 110
#include "../testing/nkvm/harness.h"
#include "../testing/nkvm/boot_common.h"

#include <fcntl.h>

#include "vmm.h"

#define MARKER		"VMM-GUEST: init reached, "
#define BOOT_TIMEOUT	40		/* seconds, per boot (they take ~6) */
#define GUEST_CMDLINE	"console=ttyS0 panic=-1 quiet"

extern const uint8_t vmm_guest_init[];
extern const uint8_t vmm_guest_init_end[];

/* ------------------------------------------------------------ helpers */

static void need_kernel(const char **path)
{
	*path = boot_guest_kernel("VMM_TEST_KERNEL");
	if (!*path)
		SKIP("no guest kernel: set VMM_TEST_KERNEL or provide /boot/vmlinuz-<release>");
}

static void need_kvm(void)
{
	const char *missing;
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0)
		SKIP("cannot open /dev/kvm: %s", strerror(errno));
	missing = vmm_kvm_missing(fd);
	close(fd);
	if (missing)
		SKIP("/dev/kvm lacks %s", missing);
}

static uint8_t *make_initramfs(size_t *size)
{
	size_t init_size = vmm_guest_init_end - vmm_guest_init;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, size);

	ASSERT_TRUE(f != NULL);
	ASSERT_OK(boot_cpio_add(f, "dev", 040755, 0, 0, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "dev/console", 020600, 5, 1, NULL, 0));
	ASSERT_OK(boot_cpio_add(f, "init", 0100755, 0, 0, vmm_guest_init,
				init_size));
	ASSERT_OK(boot_cpio_add(f, "TRAILER!!!", 0, 0, 0, NULL, 0));
	ASSERT_OK(fclose(f));
	return (uint8_t *)buf;
}

/* A child that writes buf (or the file path) into a pipe; its read end. */
static int feed(const char *path, const void *buf, size_t size, size_t limit)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char chunk[65536];
		size_t sent = 0;
		ssize_t n;
		int fd;

		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		if (path) {
			fd = open(path, O_RDONLY);
			if (fd < 0)
				_exit(1);
			while (sent < limit &&
			       (n = read(fd, chunk, sizeof(chunk))) > 0) {
				if ((size_t)n > limit - sent)
					n = limit - sent;
				if (write(p[1], chunk, n) != n)
					_exit(1);
				sent += n;
			}
		} else if (write(p[1], buf, size) != (ssize_t)size) {
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

struct vmm_child {
	struct vmm_config cfg;
	int in[2];		/* the console's input, or -1 */
};

/* In the child: the VMM, its console on stdout. */
static void vmm_child(void *arg)
{
	struct vmm_child *c = arg;

	if (c->in[1] >= 0)
		close(c->in[1]);
	c->cfg.console_in = c->in[0];
	c->cfg.console_out = STDOUT_FILENO;
	_exit(vmm_run(&c->cfg));
}

/*
 * Run the VMM in a child with its stdout and stderr on a pipe, the kernel
 * and initramfs from the fds given.  Returns once it has exited or after
 * timeout seconds (then it is killed).
 */
static void run_vmm_talk(const struct vmm_config *cfg, int timeout,
			 struct run_result *r, const char *prompt,
			 const char *reply)
{
	struct vmm_child c = { .cfg = *cfg, .in = { -1, -1 } };
	int *in = c.in, ret;

	if (prompt)
		ASSERT_OK(pipe(in));
	run_spawn(r, vmm_child, &c);
	if (prompt)
		close(in[0]);
	if (cfg->kernel_fd >= 0)
		close(cfg->kernel_fd);
	if (cfg->initrd_fd >= 0)
		close(cfg->initrd_fd);

	ret = run_read(r, timeout, MARKER, prompt);
	if (ret > 0) {
		/* The console's input, once the guest asks for it. */
		if (write(in[1], reply, strlen(reply)) < 0)
			TH_LOG("writing to the console: %s", strerror(errno));
		close(in[1]);
		in[1] = -1;
		ret = run_read(r, timeout, MARKER, NULL);
	}
	if (ret < 0)
		TH_LOG("the VMM did not end within %d s: killing it", timeout);
	if (in[1] >= 0)
		close(in[1]);
	run_end(r);
	/* Reap the feeders. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void run_vmm(const struct vmm_config *cfg, int timeout,
		    struct run_result *r)
{
	run_vmm_talk(cfg, timeout, r, NULL, NULL);
}

/*
 * Under Debian's KVM in the SVM test bed with two CPUs (nested KVM under
 * single-threaded QEMU TCG), guests hang at random places: a two-vCPU
 * guest in about half of the boots (a vCPU waits for a spinlock that
 * nobody holds while the other idles), a one-vCPU guest in about one boot
 * in ten or twenty, with or without the PV features, transparent huge
 * pages, XSAVE, or the vCPU threads pinned.  In a bed with one CPU every
 * boot passes, and nkvm passes every boot in the bed with two.  So on
 * Linux KVM with more than one host CPU the test boots once (and retries
 * once after a hang) and skips the other boots, unless VMM_TEST_ALL=1:
 *	tools/testing/bed/run-bed.sh --mode both --smp 1 --tests test_vmm_boot
 */
static bool reference_is_flaky(void)
{
	return boot_reference_is_flaky("VMM_TEST_ALL");
}

static void skip_if_flaky(void)
{
	if (reference_is_flaky())
		SKIP("Linux KVM hangs guests at random in a nested bed with 2 CPUs; VMM_TEST_ALL=1 or one host CPU runs this");
}

/* Boot the kernel with the test initramfs, both through pipes. */
static void boot(int ncpus, const char *end, int acpi, int want_status,
		 const char *bench)
{
	struct vmm_config cfg = {
		.ncpus = ncpus, .mem_size = 256ULL << 20, .no_acpi = !acpi,
	};
	int tries = reference_is_flaky() ? 2 : 1;
	char cmdline[256], want[64];
	const char *kernel;
	struct run_result r;
	size_t isize;
	uint8_t *initrd;

	need_kvm();
	need_kernel(&kernel);
	initrd = make_initramfs(&isize);
	snprintf(cmdline, sizeof(cmdline), "%s vmm_end=%s", GUEST_CMDLINE, end);
	cfg.cmdline = cmdline;
	TH_LOG("%s, %d vCPU(s), 256 MiB, %s, \"%s\"", kernel, ncpus,
	       acpi ? "ACPI" : "MP table only", cmdline);
	for (;;) {
		cfg.kernel_fd = feed(kernel, NULL, 0, SIZE_MAX);
		cfg.initrd_fd = feed(NULL, initrd, isize, 0);
		ASSERT_GE(cfg.kernel_fd, 0);
		ASSERT_GE(cfg.initrd_fd, 0);
		run_vmm(&cfg, BOOT_TIMEOUT, &r);
		if (!r.timed_out || --tries == 0)
			break;
		TH_LOG("the guest hung (Linux KVM in the nested bed): once more");
		show_output(&r, false);
		free(r.out);
	}
	/*
	 * Twice in a row is still the reference's known hang (both boots
	 * stop early in the guest's boot; nkvm boots these in a few seconds):
	 * the reference says nothing about our VMM then.
	 */
	if (r.timed_out && reference_is_flaky()) {
		show_output(&r, false);
		SKIP("Linux KVM hung the guest in both boots (the nested bed's known hang, Documentation/virt/testing.rst)");
	}
	snprintf(want, sizeof(want), MARKER "%d cpus", ncpus);
	if (r.status != want_status || !strstr(r.out, want)) {
		TH_LOG("console and VMM messages:");
		show_output(&r, false);
	}
	if (r.marker_at >= 0)
		TH_LOG("guest /init reached %.2f s after the VMM started; VMM ended after %.2f s",
		       r.marker_at, r.total);
	if (bench)
		printf("BENCH %s %.2f s\n", bench, r.marker_at);
	ASSERT_TRUE(strstr(r.out, MARKER) != NULL);
	ASSERT_TRUE(strstr(r.out, want) != NULL);
	ASSERT_EQ(r.status, want_status);
	free(initrd);
	free(r.out);
}

/* Expect the VMM to fail with a message containing want. */
static void expect_error(struct vmm_config *cfg, const char *want)
{
	struct run_result r;

	run_vmm(cfg, 30, &r);
	if (r.status != VMM_EXIT_ERROR || !strstr(r.out, want)) {
		TH_LOG("expected exit status %d and \"%s\", got %d and:",
		       VMM_EXIT_ERROR, want, r.status);
		show_output(&r, false);
	}
	EXPECT_EQ(r.status, VMM_EXIT_ERROR);
	EXPECT_TRUE(strstr(r.out, want) != NULL);
	free(r.out);
}

static void base_config(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = 1;
	cfg->mem_size = 256ULL << 20;
	cfg->cmdline = GUEST_CMDLINE;
	cfg->kernel_fd = -1;
	cfg->initrd_fd = -1;
}

/* ------------------------------------------------------------ tests */

/* Malformed images are refused with a message that says why. */
TEST(bad_images)
{
	uint8_t img[2048];
	struct vmm_config cfg;

	base_config(&cfg);
	cfg.kernel = "/nonexistent/bzImage";
	expect_error(&cfg, "cannot open the kernel image");

	base_config(&cfg);
	memset(img, 0, sizeof(img));
	cfg.kernel_fd = feed(NULL, img, 100, 0);
	expect_error(&cfg, "too short");

	base_config(&cfg);
	cfg.kernel_fd = feed(NULL, img, sizeof(img), 0);
	expect_error(&cfg, "no boot sector signature");

	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	img[0x1f1] = 1;		/* one sector of setup */
	base_config(&cfg);
	cfg.kernel_fd = feed(NULL, img, sizeof(img), 0);
	expect_error(&cfg, "no \"HdrS\" magic");

	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x03;	/* protocol 2.03 */
	img[0x207] = 0x02;
	base_config(&cfg);
	cfg.kernel_fd = feed(NULL, img, sizeof(img), 0);
	expect_error(&cfg, "boot protocol 2.03 is too old");

	base_config(&cfg);
	cfg.kernel_fd = feed(NULL, img, 700, 0);
	expect_error(&cfg, "truncated in its setup code");
}

/* A real kernel cut short, and one given too little memory. */
TEST(kernel_does_not_fit)
{
	struct vmm_config cfg;
	const char *kernel;

	need_kernel(&kernel);
	base_config(&cfg);
	cfg.kernel_fd = feed(kernel, NULL, 0, 1 << 20);
	expect_error(&cfg, "kernel image truncated");

	base_config(&cfg);
	cfg.mem_size = 32ULL << 20;
	cfg.kernel_fd = feed(kernel, NULL, 0, SIZE_MAX);
	expect_error(&cfg, "too little memory");

	base_config(&cfg);
	cfg.cmdline = calloc(1, 1 << 20);
	memset((char *)cfg.cmdline, 'x', (1 << 20) - 1);
	cfg.kernel_fd = feed(kernel, NULL, 0, SIZE_MAX);
	expect_error(&cfg, "command line too long");
}

/* One vCPU; the guest does what "reboot -f" does: the VMM exits 0. */
TEST(boot_reboot)
{
	boot(1, "reboot", 1, 0, "vmm_boot_to_init_1cpu");
}

/* What "poweroff -f" does: ACPI S5, the VMM exits 0. */
TEST(boot_poweroff)
{
	skip_if_flaky();
	boot(1, "poweroff", 1, 0, NULL);
}

/* No ACPI tables: the guest finds its CPU in the MP table; exit port. */
TEST(boot_mptable_exit_port)
{
	skip_if_flaky();
	boot(1, "exit:7", 0, 7, NULL);
}

/* Two vCPUs (the second started by the guest with INIT/SIPI), exit port. */
TEST(boot_smp_exit_port)
{
	skip_if_flaky();
	boot(2, "exit:42", 1, 42, "vmm_boot_to_init_2cpu");
}

/* The console's input: the guest reads a line from ttyS0 and says it back. */
TEST(boot_console_input)
{
	struct vmm_config cfg = {
		.ncpus = 1, .mem_size = 256ULL << 20,
		.cmdline = GUEST_CMDLINE " vmm_end=echo",
	};
	const char *kernel;
	struct run_result r;
	size_t isize;
	uint8_t *initrd;

	skip_if_flaky();
	need_kvm();
	need_kernel(&kernel);
	initrd = make_initramfs(&isize);
	cfg.kernel_fd = feed(kernel, NULL, 0, SIZE_MAX);
	cfg.initrd_fd = feed(NULL, initrd, isize, 0);
	run_vmm_talk(&cfg, BOOT_TIMEOUT, &r, "VMM-GUEST: type a line",
		     "hello from the host\n");
	if (r.status != 5 || !strstr(r.out, "VMM-GUEST: got hello from the host")) {
		TH_LOG("console and VMM messages:");
		show_output(&r, false);
	}
	ASSERT_TRUE(strstr(r.out, "VMM-GUEST: got hello from the host") != NULL);
	ASSERT_EQ(r.status, 5);
	free(initrd);
	free(r.out);
}

TEST_HARNESS_MAIN
