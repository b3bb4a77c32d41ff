// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.c - the vmm command line.
 *
 *   vmm -k bzImage [-i initramfs] [-a "cmdline"] [-m 256M] [-c 2] [-v]
 *
 * The kernel and the initramfs may be "-" (standard input) or any file
 * that can only be read front to back (a pipe, /dev/fd/N, a FIFO).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

#define DEFAULT_CMDLINE	"console=ttyS0 panic=-1"

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmm -k KERNEL [options]\n"
"  -k, --kernel FILE     x86-64 Linux bzImage (boot protocol 2.12 or newer);\n"
"                        \"-\" reads it from standard input; no seek is needed\n"
"  -i, --initrd FILE     initramfs (\"-\": standard input)\n"
"  -a, --append CMDLINE  kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
"  -m, --mem SIZE        guest memory, suffix K, M or G (default 256M)\n"
"  -c, --cpus N          vCPUs (default 1, at most %d)\n"
"  -v, --verbose         say what is loaded where, and when the guest ends;\n"
"                        -vv: the vCPUs' registers every 2 s; -vvv: every exit\n"
"      --no-acpi         no ACPI tables (MP table only; no power-off)\n"
"      --pin             vCPU i's thread on the i-th CPU it may use\n"
"      --kvm PATH        the KVM device (default /dev/kvm)\n"
"The console is COM1 (ttyS0) on standard output; standard input feeds it\n"
"unless the kernel or initramfs come from there (on a terminal: Ctrl-A x\n"
"quits).  The exit status is the guest's: 0 after a reset (reboot -f) or\n"
"an ACPI power-off (poweroff -f), the byte written to I/O port 0x%x, or 1\n"
"if the VMM failed.\n",
		VMM_MAX_CPUS, VMM_EXIT_PORT);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	int shift = 20;		/* plain numbers are MiB */

	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return -1;
	}
	if ((*end == 'i' && end[1] == 'B' && !end[2]) || (*end == 'B' && !end[1]))
		end += strlen(end);
	if (*end || v > (~0ULL >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "kvm", required_argument, NULL, 'K' },
		{ "no-acpi", no_argument, NULL, 'A' },
		{ "pin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm_config cfg = {
		.kernel_fd = -1,
		.initrd_fd = -1,
		.cmdline = DEFAULT_CMDLINE,
		.mem_size = 256ULL << 20,
		.ncpus = 1,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "k:i:a:m:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg.kernel = optarg;
			break;
		case 'i':
			cfg.initrd = optarg;
			break;
		case 'a':
			cfg.cmdline = optarg;
			break;
		case 'm':
			if (parse_size(optarg, &cfg.mem_size)) {
				vmm_err("bad memory size \"%s\" (e.g. 256M, 1G)", optarg);
				return VMM_EXIT_ERROR;
			}
			break;
		case 'c':
			cfg.ncpus = strtol(optarg, &end, 10);
			if (*end || end == optarg) {
				vmm_err("bad vCPU count \"%s\"", optarg);
				return VMM_EXIT_ERROR;
			}
			break;
		case 'v':
			cfg.verbose++;
			break;
		case 'K':
			cfg.kvm_path = optarg;
			break;
		case 'A':
			cfg.no_acpi = 1;
			break;
		case 'P':
			cfg.pin = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return VMM_EXIT_ERROR;
		}
	}
	if (optind < argc || !cfg.kernel) {
		if (!cfg.kernel)
			vmm_err("no kernel image (-k FILE)");
		else
			vmm_err("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return VMM_EXIT_ERROR;
	}
	if (!strcmp(cfg.kernel, "-") || (cfg.initrd && !strcmp(cfg.initrd, "-")))
		cfg.console_in = -1;
	if (cfg.initrd && !strcmp(cfg.initrd, "-") && !strcmp(cfg.kernel, "-")) {
		vmm_err("the kernel and the initramfs cannot both come from standard input");
		return VMM_EXIT_ERROR;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	return vmm_run(&cfg);
}
