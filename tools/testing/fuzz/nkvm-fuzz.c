// SPDX-License-Identifier: GPL-2.0
/*
 * nkvm-fuzz - drive /dev/kvm, VM and vCPU fds with random and malformed
 * ioctl sequences (see fuzz.c for what it does, rows.c for the ioctls).
 *
 *	nkvm-fuzz [fuzz options] [--seeds K] [--mix] [--leak-check]
 *
 * Runs K passes (default 1) with seeds S, S+1, ... each in a child process,
 * so that a pass ends with every fd it opened closed.  With --mix, every
 * other pass runs single-threaded.  With --leak-check, a short warm-up pass
 * comes first, then kernel memory (slab objects per cache, page counts) is
 * compared before and after the passes (which run once more, untallied, to
 * confirm a finding).  Output is TAP: one line per pass
 * and one for the leak check; everything else is a "#" line.  A pass fails
 * when its process dies of a signal, when an operation hangs, or when the
 * fuzzer finds the kernel misbehaving; the bed fails the run as well on any
 * oops, BUG, WARN, lockdep report or hung task in the kernel log.
 *
 * The same seed replays the same single-threaded sequence:
 *	nkvm-fuzz --seed 0x1234 --calls 5000 -v
 * prints every operation and call; --trace-from N only from operation N on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "fuzz.h"

/*
 * Tolerances of the leak check.  Objects: the bed's background moves a
 * cache by a few objects, but Linux KVM itself (the reference) was seen to
 * end a short run with up to 170 more lsm_file_cache objects than it began
 * with (files whose release the kernel defers), so 256.  A leak of one
 * object per memslot change, per ioctl or per KVM_RUN exceeds it in the
 * short pass (thousands of each); one per VM or vCPU (about 80 each in the
 * short pass) needs the longer runs of make stress (thousands).  Pages:
 * 1 MiB, counting the per-CPU free lists as free.
 *
 * A count over its tolerance is a finding only if it grows again (by more
 * than half the tolerance) when the same passes run once more: in one make
 * check, kmalloc-8 grew by 273 objects across the short passes under nkvm,
 * and eight runs of the same passes right after grew it by nothing.
 */
#define LEAK_OBJ_TOL	256
#define LEAK_KIB_TOL	1024
#define FUZZ_MIN_CREATED 32

struct pass_out {
	struct fuzz_result res;
	int ran;
};

static int tap_n;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * One pass in a child process; returns its result, ok or not.  Reported as
 * a TAP line, or with @quiet as a "#" line (a pass run again to confirm a
 * leak finding is not in the plan).
 */
static bool run_pass(const struct fuzz_cfg *cfg, const char *what,
		     struct fuzz_result *res, bool quiet)
{
	struct pass_out *out = mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char why[128] = "";
	pid_t pid;
	int st;
	bool ok;

	if (out == MAP_FAILED)
		return false;
	memset(out, 0, sizeof(*out));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = fuzz_run(cfg, &out->res);

		out->ran = r == 0;
		fflush(stdout);
		_exit(r ? 2 : out->res.hangs ? 3 : out->res.failures ? 1 : 0);
	}
	if (pid < 0) {
		perror("fork");
		munmap(out, sizeof(*out));
		return false;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*res = out->res;
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && out->ran;
	if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), " # killed by signal %d", WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		snprintf(why, sizeof(why), " # %d operation(s) hung", res->hangs);
	else if (!ok)
		snprintf(why, sizeof(why), " # exit status %d", WEXITSTATUS(st));
	if (quiet)
		printf("# %s%s: seed %#" PRIx64 ", %d thread(s), %" PRIu64 " calls%s\n",
		       ok ? "" : "FAILED: ", what, cfg->seed, cfg->threads,
		       res->calls, why);
	else
		tap(ok, "%s: seed %#" PRIx64 ", %d thread(s), %" PRIu64 " calls, %" PRIu64
		    " VMs, %" PRIu64 " vCPUs, %" PRIu64 " KVM_RUN, %.1f s%s",
		    what, cfg->seed, cfg->threads, res->calls, res->created[FK_VM],
		    res->created[FK_VCPU], res->runs, res->secs, why);
	munmap(out, sizeof(*out));
	return ok;
}

/* The numbered passes, seeds S, S+1, ...; adds them up in @tot. */
static bool run_passes(const struct fuzz_cfg *cfg, uint64_t seeds, bool mix,
		       bool again, struct fuzz_result *tot, int *failed)
{
	struct fuzz_result res;
	bool all_ok = true;
	uint64_t i;
	int a;

	for (i = 0; i < seeds; i++) {
		struct fuzz_cfg p = *cfg;
		char what[40];

		p.seed = cfg->seed + i;
		p.threads = mix && (i % 2 == 0) ? 1 : cfg->threads;
		snprintf(what, sizeof(what), "%spass %" PRIu64,
			 again ? "again, " : "", i + 1);
		if (!run_pass(&p, what, &res, again)) {
			all_ok = false;
			(*failed)++;
		}
		tot->calls += res.calls;
		tot->secs += res.secs;
		tot->runs += res.runs;
		for (a = 0; a < FK_NR; a++)
			tot->created[a] += res.created[a];
	}
	return all_ok;
}

static void usage(FILE *f, const char *prog)
{
	fuzz_usage(f, prog);
	fprintf(f,
		"      --seeds K       K passes, seeds S, S+1, ... (default 1)\n"
		"      --mix           every other pass single-threaded\n"
		"      --leak-check    compare kernel memory before and after (root)\n"
		"      --warmup N      calls of the warm-up pass (default 2000)\n");
}

int fuzz_main(int argc, char **argv);
int fuzz_main(int argc, char **argv)
{
	struct fuzz_cfg cfg;
	struct fuzz_result res, tot = { 0 };
	struct leak_snap *before = NULL, *after;
	uint64_t seeds = 1, warmup = 2000;
	bool mix = false, leak = false, all_ok = true;
	char **rest = calloc(argc + 1, sizeof(char *));
	int nrest = 0, a, failed = 0;

	fuzz_default_cfg(&cfg);
	rest[nrest++] = argv[0];
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--seeds") && a + 1 < argc) {
			seeds = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--warmup") && a + 1 < argc) {
			warmup = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--mix")) {
			mix = true;
		} else if (!strcmp(argv[a], "--leak-check")) {
			leak = true;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			rest[nrest++] = argv[a];
		}
	}
	if (fuzz_parse_args(&cfg, nrest, rest) || !seeds) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (access(cfg.dev, R_OK | W_OK)) {
		printf("1..0 # SKIP %s: %s\n", cfg.dev, strerror(errno));
		return 4;
	}
	if (leak && access("/proc/slabinfo", R_OK)) {
		printf("# leak check needs /proc/slabinfo (root): skipped\n");
		leak = false;
	}

	printf("TAP version 13\n1..%" PRIu64 "\n", seeds + (leak ? 2 : 0));

	if (leak) {
		struct fuzz_cfg w = cfg;

		/* Caches and lazily allocated kernel state reach their steady size. */
		w.seed = fz_mix(cfg.seed ^ 0x3c6ef372fe94f82bULL);
		w.max_calls = warmup;
		w.verbose = 0;
		w.quiet_summary = true;
		w.diff_path = w.log_path = NULL;
		all_ok &= run_pass(&w, "warm-up pass", &res, false);
		before = leak_settled_snapshot(NULL, 0, 0);
	}

	all_ok &= run_passes(&cfg, seeds, mix, false, &tot, &failed);

	if (leak && before) {
		int problems;
		bool enough = tot.created[FK_VM] >= FUZZ_MIN_CREATED &&
			      tot.created[FK_VCPU] >= FUZZ_MIN_CREATED;

		after = leak_settled_snapshot(before, LEAK_OBJ_TOL, LEAK_KIB_TOL);
		problems = after ? leak_compare(before, after, LEAK_OBJ_TOL,
						LEAK_KIB_TOL, NULL) : 1;
		if (problems && after) {
			/*
			 * A leak grows with the work: the same passes once
			 * more tell it from the bed's background.
			 */
			struct fuzz_result more = { 0 };
			int again_failed = 0;
			struct leak_snap *again;

			printf("# leak check: %d count(s) over the tolerances; the same passes again, to tell a leak from the background\n",
			       problems);
			all_ok &= run_passes(&cfg, seeds, mix, true, &more, &again_failed);
			again = leak_settled_snapshot(after, LEAK_OBJ_TOL / 2,
						      LEAK_KIB_TOL / 2);
			problems = again ? leak_confirm(before, after, again,
							LEAK_OBJ_TOL, LEAK_KIB_TOL,
							"# leak: ") : 1;
			leak_free(again);
		}
		/*
		 * A heavily loaded bed can make the time-bounded passes too
		 * short for the check to mean anything: that is a skip, not
		 * a finding (a leak it did see still fails).
		 */
		tap(!problems,
		    "no kernel memory leaked (%d finding(s); tolerance %d objects per cache, %d KiB)%s",
		    problems, LEAK_OBJ_TOL, LEAK_KIB_TOL,
		    problems || enough ? "" :
		    " # SKIP the passes created too few VMs/vCPUs to tell");
		all_ok &= !problems;
		leak_free(after);
		leak_free(before);
	}

	printf("# nkvm-fuzz total: %" PRIu64 " calls in %.1f s (%.0f calls/s), %" PRIu64
	       " VMs, %" PRIu64 " vCPUs, %" PRIu64 " KVM_RUN; %d of %" PRIu64 " passes failed\n",
	       tot.calls, tot.secs, tot.secs > 0 ? (double)tot.calls / tot.secs : 0.0,
	       tot.created[FK_VM], tot.created[FK_VCPU], tot.runs, failed, seeds);
	free(rest);
	return all_ok ? 0 : 1;
}

#ifndef NKVM_FUZZ_NO_MAIN
int main(int argc, char **argv)
{
	return fuzz_main(argc, argv);
}
#endif
