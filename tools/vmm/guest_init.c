// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_init.c - the /init of the test guest: no libc, raw system calls.
 *
 * Runs CPUID (a userspace exit), prints "VMM-GUEST: init reached, N cpus"
 * on its console, then ends the machine as the kernel command line says
 * (the kernel hands unknown "name=value" words to init as environment):
 *   vmm_end=reboot      reboot(RESTART), what "reboot -f" does (default)
 *   vmm_end=exit:N      write N to the VMM's exit port (0x501)
 *   vmm_end=poweroff    reboot(POWER_OFF), what "poweroff -f" does
 *   vmm_end=echo        read a line from the console, print it back, then
 *                       write 5 to the exit port
 */
#include <stdint.h>

#define SYS_read		0
#define SYS_write		1
#define SYS_ioperm		173
#define SYS_reboot		169
#define SYS_sched_getaffinity	204
#define SYS_exit		60
#define SYS_ioctl		16
#define TCSBRK			0x5409	/* with 1: wait until all is sent */

#define REBOOT_MAGIC1		0xfee1dead
#define REBOOT_MAGIC2		672274793
#define REBOOT_RESTART		0x01234567
#define REBOOT_POWER_OFF	0x4321fedc

#define EXIT_PORT		0x501

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return ret;
}

static long sys4(long nr, long a, long b, long c, long d)
{
	register long r10 asm("r10") = d;
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c),
		     "r"(r10) : "rcx", "r11", "memory");
	return ret;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

/* Write to the console and wait until the UART has sent it all. */
static void say(const char *s)
{
	sys3(SYS_write, 1, (long)s, len(s));
	sys3(SYS_ioctl, 1, TCSBRK, 1);
}

static int starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

static char *utoa(unsigned int v, char *end)
{
	*--end = 0;
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v);
	return end;
}

static int ncpus(void)
{
	uint64_t mask[16] = { 0 };
	long n = sys3(SYS_sched_getaffinity, 0, sizeof(mask), (long)mask);
	int i, count = 0;

	for (i = 0; n > 0 && i < n / 8; i++)
		for (; mask[i]; mask[i] &= mask[i] - 1)
			count++;
	return count;
}

/*
 * CPUID from userspace, as every libc's start-up does: it exits at CPL 3,
 * where a hypervisor without NRIP save reads the instruction at RIP as a
 * user fetch (the guest kernel has SMEP on).
 */
static unsigned int cpuid_max_leaf(void)
{
	unsigned int a = 0, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return a;
}

int init_main(char **envp)
{
	const char *end = "reboot";
	char num[16];
	unsigned int code = 0;
	char **e;

	for (e = envp; *e; e++)
		if (starts(*e, "vmm_end="))
			end = *e + 8;
	if (!cpuid_max_leaf())
		say("VMM-GUEST: CPUID leaf 0 says no leaves\n");

	say("VMM-GUEST: init reached, ");
	say(utoa(ncpus(), num + sizeof(num)));
	say(" cpus\n");

	if (starts(end, "echo")) {
		char line[128];
		long n;

		say("VMM-GUEST: type a line\n");
		n = sys3(SYS_read, 0, (long)line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = 0;
		say("VMM-GUEST: got ");
		say(line);
		end = "exit:5";
	}
	if (starts(end, "exit:")) {
		for (end += 5; *end >= '0' && *end <= '9'; end++)
			code = code * 10 + *end - '0';
		say("VMM-GUEST: writing the exit port\n");
		if (sys3(SYS_ioperm, EXIT_PORT, 1, 1) == 0)
			asm volatile("outb %b0, %w1" : : "a"(code), "Nd"(EXIT_PORT));
	} else if (starts(end, "poweroff")) {
		say("VMM-GUEST: power off\n");
		sys4(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_POWER_OFF, 0);
	} else {
		say("VMM-GUEST: reboot\n");
		sys4(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_RESTART, 0);
	}
	say("VMM-GUEST: still running after the end\n");
	for (;;)
		asm volatile("pause");
}

/* The kernel starts init with argc, argv, NULL, envp, NULL on the stack. */
asm(".globl _start\n"
    "_start:\n"
    "	mov (%rsp), %rax\n"
    "	lea 16(%rsp,%rax,8), %rdi\n"
    "	and $-16, %rsp\n"
    "	call init_main\n"
    "	hlt\n");
