/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - what the bench_* programs share: a clock, and the report of a
 * figure measured over several runs.  Each figure ends as one line for
 * the bed (tools/testing/bed/bed-init.sh) and make bench
 * (tools/testing/bench/report.sh):
 *
 *	BENCH <name> <median> <unit> <min> <max> <runs>
 *
 * Times are lower-is-better; a unit ending in "/s" is a throughput
 * (higher is better).
 */
#ifndef NKVM_BENCH_H
#define NKVM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Runs per figure unless a program says otherwise. */
#define BENCH_RUNS	5

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort the n values of a figure, print it for humans and for the bed. */
static inline void bench_report(const char *name, const char *unit,
				double *v, int n, const char *what)
{
	double med;

	qsort(v, n, sizeof(v[0]), bench_cmp);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("# %s: %s: median %.4g %s over %d runs (min %.4g, max %.4g)\n",
	       name, what, med, unit, n, v[0], v[n - 1]);
	printf("BENCH %s %.6g %s %.6g %.6g %d\n", name, med, unit, v[0],
	       v[n - 1], n);
	fflush(stdout);
}

#endif /* NKVM_BENCH_H */
