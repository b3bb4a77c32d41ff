/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harness.h - a small TAP 13 test harness for the nkvm userspace tests.
 *
 * Usage:
 *
 *	#include "harness.h"
 *
 *	TEST(two_plus_two)
 *	{
 *		ASSERT_EQ(2 + 2, 4);
 *	}
 *
 *	TEST_HARNESS_MAIN
 *
 * Every TEST is registered by a constructor, in source order, and run in a
 * forked child: a crash, a failed ASSERT_* or a hang (per-test timeout,
 * TH_TIMEOUT seconds, default 60) fails that test only.  ASSERT_* stops the
 * test at the first failure, EXPECT_* records the failure and goes on.
 * SKIP(fmt, ...) ends the test as skipped with the reason given.
 * TH_LOG(fmt, ...) prints a diagnostic line ("# ...").
 *
 * Output is TAP 13:
 *	TAP version 13
 *	1..N
 *	ok 1 - name
 *	not ok 2 - name
 *	ok 3 - name # SKIP reason
 *	# Totals: pass:1 fail:1 skip:1
 * Exit code: 0 if every test passed (skips allowed), 1 if any failed,
 * 4 if every test was skipped.
 *
 * Command line: "prog [-l] [NAME...]": -l lists the tests, NAMEs run only
 * those tests.  The environment variable TH_TIMEOUT overrides the per-test
 * timeout in seconds.
 *
 * The ASSERT/EXPECT comparison macros take integer (or enum, bool)
 * operands of any width and signedness: both are compared as __int128, so
 * the comparison is mathematically exact. For pointers use ASSERT_TRUE.
 *
 * The macros may also be used in helper files (vm.c) that include this
 * header without defining tests: the state they share with the harness is
 * a weak symbol.
 */
#ifndef NKVM_HARNESS_H
#define NKVM_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

#ifndef TH_DEFAULT_TIMEOUT
#define TH_DEFAULT_TIMEOUT 60
#endif

struct th_test {
	const char *name;
	void (*fn)(void);
	struct th_test *next;
};

/*
 * State shared between a test child and the parent: it lives in a
 * MAP_SHARED page so that the parent can read the skip reason.
 */
struct th_shared {
	int skipped;
	char reason[256];
};

/* Weak, so that every object file including this header sees one copy. */
__attribute__((weak)) struct th_test *th_first, *th_last;
__attribute__((weak)) struct th_shared *th_shared;
__attribute__((weak)) int th_expect_failed;
__attribute__((weak)) const char *th_current;

static inline void th_register(struct th_test *t)
{
	if (th_last)
		th_last->next = t;
	else
		th_first = t;
	th_last = t;
}

/* Print one diagnostic line, prefixed "# ", flushed at once. */
__attribute__((format(printf, 1, 2)))
static inline void th_log(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* End the current test (in its child) as failed. */
static inline __attribute__((noreturn)) void th_fail_now(void)
{
	fflush(stdout);
	_exit(KSFT_FAIL);
}

/* End the current test as skipped; the reason goes to the parent. */
__attribute__((format(printf, 1, 2), noreturn))
static inline void th_skip(const char *fmt, ...)
{
	va_list ap;

	if (th_shared) {
		th_shared->skipped = 1;
		va_start(ap, fmt);
		vsnprintf(th_shared->reason, sizeof(th_shared->reason), fmt, ap);
		va_end(ap);
	}
	fflush(stdout);
	_exit(KSFT_SKIP);
}

#define TH_LOG(fmt, ...) th_log("%s: " fmt, th_current ? th_current : "?", ##__VA_ARGS__)
#define SKIP(fmt, ...) th_skip(fmt, ##__VA_ARGS__)

#define TEST(test_name)							\
	static void th_fn_##test_name(void);				\
	static struct th_test th_test_##test_name = {			\
		.name = #test_name, .fn = th_fn_##test_name,		\
	};								\
	static void __attribute__((constructor)) th_reg_##test_name(void) \
	{								\
		th_register(&th_test_##test_name);			\
	}								\
	static void th_fn_##test_name(void)

/*
 * Comparison core.  "fatal" selects ASSERT (stop) or EXPECT (go on).
 * The operands are evaluated once each.
 */
#define TH_CMP(fatal, a, op, b)						\
	do {								\
		__int128 th_a = (__int128)(a);				\
		__int128 th_b = (__int128)(b);				\
		if (!(th_a op th_b)) {					\
			th_log("%s:%d: %s: expected %s %s %s",		\
			       __FILE__, __LINE__, th_current, #a, #op, #b); \
			th_log("    %s = %lld (0x%llx)", #a,		\
			       (long long)th_a, (unsigned long long)th_a); \
			th_log("    %s = %lld (0x%llx)", #b,		\
			       (long long)th_b, (unsigned long long)th_b); \
			if (fatal)					\
				th_fail_now();				\
			th_expect_failed = 1;				\
		}							\
	} while (0)

#define TH_BOOL(fatal, cond, want)					\
	do {								\
		if ((!!(cond)) != (want)) {				\
			th_log("%s:%d: %s: expected %s to be %s",	\
			       __FILE__, __LINE__, th_current, #cond,	\
			       (want) ? "true" : "false");		\
			if (fatal)					\
				th_fail_now();				\
			th_expect_failed = 1;				\
		}							\
	} while (0)

#define ASSERT_EQ(a, b) TH_CMP(1, a, ==, b)
#define ASSERT_NE(a, b) TH_CMP(1, a, !=, b)
#define ASSERT_LT(a, b) TH_CMP(1, a, <, b)
#define ASSERT_LE(a, b) TH_CMP(1, a, <=, b)
#define ASSERT_GT(a, b) TH_CMP(1, a, >, b)
#define ASSERT_GE(a, b) TH_CMP(1, a, >=, b)
#define ASSERT_TRUE(c) TH_BOOL(1, c, 1)
#define ASSERT_FALSE(c) TH_BOOL(1, c, 0)
#define EXPECT_EQ(a, b) TH_CMP(0, a, ==, b)
#define EXPECT_NE(a, b) TH_CMP(0, a, !=, b)
#define EXPECT_LT(a, b) TH_CMP(0, a, <, b)
#define EXPECT_LE(a, b) TH_CMP(0, a, <=, b)
#define EXPECT_GT(a, b) TH_CMP(0, a, >, b)
#define EXPECT_GE(a, b) TH_CMP(0, a, >=, b)
#define EXPECT_TRUE(c) TH_BOOL(0, c, 1)
#define EXPECT_FALSE(c) TH_BOOL(0, c, 0)

/*
 * ASSERT_ERRNO(expr, err): expr (a syscall wrapper) must return -1 and set
 * errno to err.  On mismatch both the return value and errno are printed.
 */
#define ASSERT_ERRNO(expr, err)						\
	do {								\
		errno = 0;						\
		long th_r = (long)(expr);				\
		int th_e = errno;					\
		if (th_r != -1 || th_e != (err)) {			\
			th_log("%s:%d: %s: expected %s to fail with %s (%d)", \
			       __FILE__, __LINE__, th_current, #expr,	\
			       #err, (err));				\
			th_log("    it returned %ld, errno %d (%s)",	\
			       th_r, th_e, strerror(th_e));		\
			th_fail_now();					\
		}							\
	} while (0)

/* ASSERT_OK(expr): expr must not return -1 (prints errno if it does). */
#define ASSERT_OK(expr)							\
	do {								\
		errno = 0;						\
		long th_r = (long)(expr);				\
		if (th_r == -1) {					\
			int th_e = errno;				\
			th_log("%s:%d: %s: %s failed: errno %d (%s)",	\
			       __FILE__, __LINE__, th_current, #expr,	\
			       th_e, strerror(th_e));			\
			th_fail_now();					\
		}							\
	} while (0)

static inline void th_on_alarm(int sig)
{
	(void)sig;	/* only here to interrupt waitpid() */
}

static inline int th_timeout(void)
{
	const char *s = getenv("TH_TIMEOUT");
	int t = s ? atoi(s) : 0;

	return t > 0 ? t : TH_DEFAULT_TIMEOUT;
}

static inline int th_selected(const struct th_test *t, int argc, char **argv)
{
	int i, any = 0;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		any = 1;
		if (!strcmp(argv[i], t->name))
			return 1;
	}
	return !any;
}

/*
 * Run one test in a child.  Returns KSFT_PASS, KSFT_FAIL or KSFT_SKIP;
 * *reason receives the skip reason or the cause of an abnormal end.
 */
static inline int th_run_one(const struct th_test *t, char *reason, size_t len)
{
	struct sigaction sa, old;
	int status, timed_out = 0;
	pid_t pid, w;

	memset(th_shared, 0, sizeof(*th_shared));
	reason[0] = '\0';
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(reason, len, "fork: %s", strerror(errno));
		return KSFT_FAIL;
	}
	if (pid == 0) {
		th_current = t->name;
		th_expect_failed = 0;
		t->fn();
		fflush(stdout);
		_exit(th_expect_failed ? KSFT_FAIL : KSFT_PASS);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = th_on_alarm;	/* no SA_RESTART: waitpid gets EINTR */
	sigaction(SIGALRM, &sa, &old);
	alarm(th_timeout());
	for (;;) {
		w = waitpid(pid, &status, 0);
		if (w == pid)
			break;
		if (w < 0 && errno == EINTR && !timed_out) {
			timed_out = 1;
			kill(pid, SIGKILL);
			continue;
		}
		if (w < 0 && errno != EINTR) {
			snprintf(reason, len, "waitpid: %s", strerror(errno));
			alarm(0);
			sigaction(SIGALRM, &old, NULL);
			return KSFT_FAIL;
		}
	}
	alarm(0);
	sigaction(SIGALRM, &old, NULL);

	if (timed_out) {
		snprintf(reason, len, "timed out after %d s", th_timeout());
		return KSFT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		snprintf(reason, len, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
		return KSFT_FAIL;
	}
	if (WEXITSTATUS(status) == KSFT_SKIP && th_shared->skipped) {
		snprintf(reason, len, "%s", th_shared->reason);
		return KSFT_SKIP;
	}
	if (WEXITSTATUS(status) == KSFT_PASS)
		return KSFT_PASS;
	if (WEXITSTATUS(status) != KSFT_FAIL)
		snprintf(reason, len, "exit code %d", WEXITSTATUS(status));
	return KSFT_FAIL;
}

static inline int th_main(int argc, char **argv)
{
	int n = 0, i = 0, pass = 0, fail = 0, skip = 0;
	const struct th_test *t;
	char reason[300];

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-l")) {
			for (t = th_first; t; t = t->next)
				printf("%s\n", t->name);
			return 0;
		}
	}

	th_shared = mmap(NULL, sizeof(*th_shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (th_shared == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}

	/* Unbuffered-ish output: one line at a time, even into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (t = th_first; t; t = t->next)
		n += th_selected(t, argc, argv);

	printf("TAP version 13\n");
	printf("1..%d\n", n);
	for (t = th_first; t; t = t->next) {
		if (!th_selected(t, argc, argv))
			continue;
		i++;
		printf("# RUN %s\n", t->name);
		switch (th_run_one(t, reason, sizeof(reason))) {
		case KSFT_PASS:
			pass++;
			printf("ok %d - %s\n", i, t->name);
			break;
		case KSFT_SKIP:
			skip++;
			printf("ok %d - %s # SKIP %s\n", i, t->name, reason);
			break;
		default:
			fail++;
			if (reason[0])
				printf("# %s: %s\n", t->name, reason);
			printf("not ok %d - %s\n", i, t->name);
			break;
		}
	}
	printf("# Totals: pass:%d fail:%d skip:%d\n", pass, fail, skip);
	fflush(stdout);

	if (fail)
		return KSFT_FAIL;
	if (n > 0 && skip == n)
		return KSFT_SKIP;
	return KSFT_PASS;
}

#define TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		return th_main(argc, argv);				\
	}

#endif /* NKVM_HARNESS_H */
