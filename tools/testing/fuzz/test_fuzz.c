// SPDX-License-Identifier: GPL-2.0
/*
 * test_fuzz - the bed's short fuzz pass: a warm-up pass, then two passes of
 * the nkvm ioctl fuzzer (one single-threaded with a replayable sequence, one
 * with two threads racing on the same fds), then the leak check: kernel
 * slab objects and page counts with every fd closed, compared with the
 * counts after the warm-up.  Bounded in calls and in time (about 20 s per
 * pass at most under TCG).
 *
 * NKVM_FUZZ_SEED, NKVM_FUZZ_CALLS and NKVM_FUZZ_SECS override the seed, the
 * calls per pass and the time limit per pass; NKVM_FUZZ_SNIPPETS the guest
 * code kinds (default: all); arguments are passed on to nkvm-fuzz (see
 * nkvm-fuzz.c).
 */
#include <stdlib.h>

int fuzz_main(int argc, char **argv);

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
	char *args[64] = {
		argv[0],
		"--seed", (char *)env("NKVM_FUZZ_SEED", "0x5eed"),
		"--calls", (char *)env("NKVM_FUZZ_CALLS", "5000"),
		"--time", (char *)env("NKVM_FUZZ_SECS", "20"),
		"--seeds", "2", "--mix", "--threads", "2",
		"--leak-check", "--quiet",
	};
	int n = 14, i;

	for (i = 1; i < argc && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return fuzz_main(n, args);
}
