// SPDX-License-Identifier: GPL-2.0-only
/*
 * boot_common.c - helpers shared by test_qemu_boot and test_vmm_boot
 * (see boot_common.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <linux/kvm.h>
#include <nkvm/nkvm.h>

#include "harness.h"
#include "boot_common.h"

double boot_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

const char *boot_guest_kernel(const char *env)
{
	static char path[300];
	const char *v = getenv(env);
	struct utsname u;

	if (v && *v)
		return v;
	if (uname(&u))
		return NULL;
	snprintf(path, sizeof(path), "/boot/vmlinuz-%s", u.release);
	return access(path, R_OK) ? NULL : path;
}

bool boot_kvm_is_nkvm(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	bool ret = false;

	if (fd >= 0) {
		ret = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NKVM) > 0;
		close(fd);
	}
	return ret;
}

bool boot_reference_is_flaky(const char *all_env)
{
	const char *all = getenv(all_env);

	return !(all && !strcmp(all, "1")) && !boot_kvm_is_nkvm() &&
	       sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

int boot_cpio_add(FILE *f, const char *name, unsigned int mode,
		  unsigned int rmaj, unsigned int rmin,
		  const void *data, size_t size)
{
	static unsigned int ino = 1;
	static const char zeros[4];
	size_t nlen = strlen(name) + 1;
	int hdr;

	hdr = fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
		      ino++, mode, 0, 0, 1, 0, size, 0, 0, rmaj, rmin, nlen, 0);
	if (hdr != 110 || fwrite(name, 1, nlen, f) != nlen)
		return -1;
	if (fwrite(zeros, 1, (4 - (110 + nlen) % 4) % 4, f) > 4)
		return -1;
	if (size && fwrite(data, 1, size, f) != size)
		return -1;
	if (fwrite(zeros, 1, (4 - size % 4) % 4, f) > 4)
		return -1;
	return 0;
}

void run_spawn(struct run_result *r, void (*child)(void *arg), void *arg)
{
	int p[2];

	memset(r, 0, sizeof(*r));
	r->start = boot_now();
	r->status = -1;
	r->marker_at = -1;
	r->out = calloc(1, RUN_OUT_MAX + 1);
	ASSERT_TRUE(r->out != NULL);
	ASSERT_OK(pipe(p));
	fflush(stdout);
	r->pid = fork();
	ASSERT_OK(r->pid);
	if (r->pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		close(p[1]);
		child(arg);
		_exit(127);
	}
	close(p[1]);
	r->fd = p[0];
}

int run_read(struct run_result *r, int timeout, const char *marker,
	     const char *until)
{
	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		double left = r->start + timeout - boot_now();
		ssize_t n;

		if (left <= 0) {
			r->timed_out = 1;
			return -1;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (r->len < RUN_OUT_MAX) {
			n = read(r->fd, r->out + r->len, RUN_OUT_MAX - r->len);
		} else {
			char sink[4096];

			n = read(r->fd, sink, sizeof(sink));
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (r->len < RUN_OUT_MAX) {
			r->len += n;
			if (r->marker_at < 0 && strstr(r->out, marker))
				r->marker_at = boot_now() - r->start;
		}
		if (until && strstr(r->out, until))
			return 1;
	}
}

void run_end(struct run_result *r)
{
	int status;

	if (r->timed_out)
		kill(r->pid, SIGKILL);
	close(r->fd);
	if (waitpid(r->pid, &status, 0) == r->pid && WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	r->total = boot_now() - r->start;
}

void show_output(const struct run_result *r, bool tidy)
{
	char *line, *save = NULL, *copy = strdup(r->out);

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, tidy ? "\r\033" : "\r")] = 0;
		if (*line || !tidy)
			printf("#   | %s\n", line);
	}
	free(copy);
}
