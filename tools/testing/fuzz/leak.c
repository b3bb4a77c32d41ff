// SPDX-License-Identifier: GPL-2.0
/*
 * leak.c - kernel memory before and after: slab objects per cache
 * (/proc/slabinfo) and page counts (/proc/meminfo), taken when every fd of
 * the fuzz passes is closed (the passes run in child processes that have
 * exited).
 *
 * To make the counts mean "objects in use", each snapshot first drops the
 * reclaimable caches (dentries and inodes of /proc, page cache), then asks
 * SLUB to shrink every cache (/sys/kernel/slab/<cache>/shrink: objects that
 * sit free on per-CPU slabs are otherwise counted as active), and folds the
 * per-CPU counters (/proc/sys/vm/stat_refresh); free pages on the per-CPU
 * lists (/proc/zoneinfo) count as free.  Frees that the kernel
 * defers (RCU callbacks, kfree_rcu batches, workqueues) are waited for by
 * taking snapshots until the counts are back within the tolerances or a few
 * seconds have passed, keeping the smallest value seen of each count.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fuzz.h"

#define MAX_CACHES 512

struct cache {
	char name[64];
	long active;
	long objsize;
};

/* The /proc/meminfo lines the comparison uses, in KiB. */
enum {
	MI_MEMFREE, MI_SUNRECLAIM, MI_KSTACK, MI_PAGETABLES, MI_VMALLOC,
	MI_PERCPU, MI_UNACCOUNTED, MI_NR
};
static const char *const mi_names[MI_NR] = {
	"MemFree", "SUnreclaim", "KernelStack", "PageTables", "VmallocUsed",
	"Percpu", "unaccounted",
};

struct leak_snap {
	int ncaches;
	struct cache caches[MAX_CACHES];
	long mi[MI_NR];
};

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0)
		(void)0;
	close(fd);
}

static void shrink_caches(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		write_file(path, "1");
	}
	closedir(d);
}

static void read_slabinfo(struct leak_snap *s)
{
	FILE *f = fopen("/proc/slabinfo", "re");
	char line[512];

	s->ncaches = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->ncaches < MAX_CACHES) {
		struct cache *c = &s->caches[s->ncaches];
		long num;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld", c->name, &c->active, &num,
			   &c->objsize) == 4)
			s->ncaches++;
	}
	fclose(f);
}

static long meminfo_value(const char *buf, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s:", key);
	p = strstr(buf, pat);
	if (!p && !strncmp(buf, key, strlen(key)))
		p = buf - 1;
	return p ? strtol(p + strlen(pat), NULL, 10) : 0;
}

/* Free pages held on the per-CPU lists, which MemFree does not count. */
static long pcp_free_kib(void)
{
	FILE *f = fopen("/proc/zoneinfo", "re");
	char line[256];
	long pages = 0, n;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static void read_meminfo(struct leak_snap *s)
{
	char buf[8192];
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	long total;

	memset(s->mi, 0, sizeof(s->mi));
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	total = meminfo_value(buf, "MemTotal");
	s->mi[MI_MEMFREE] = meminfo_value(buf, "MemFree") + pcp_free_kib();
	s->mi[MI_SUNRECLAIM] = meminfo_value(buf, "SUnreclaim");
	s->mi[MI_KSTACK] = meminfo_value(buf, "KernelStack");
	s->mi[MI_PAGETABLES] = meminfo_value(buf, "PageTables");
	s->mi[MI_VMALLOC] = meminfo_value(buf, "VmallocUsed");
	s->mi[MI_PERCPU] = meminfo_value(buf, "Percpu");
	/* Pages no counter explains: where a lost alloc_page() shows up. */
	s->mi[MI_UNACCOUNTED] = total - s->mi[MI_MEMFREE] -
		meminfo_value(buf, "Buffers") - meminfo_value(buf, "Cached") -
		meminfo_value(buf, "SwapCached") - meminfo_value(buf, "AnonPages") -
		meminfo_value(buf, "Slab") - s->mi[MI_KSTACK] -
		s->mi[MI_PAGETABLES] - s->mi[MI_VMALLOC] - s->mi[MI_PERCPU];
}

struct leak_snap *leak_snapshot(void)
{
	struct leak_snap *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
	shrink_caches();
	write_file("/proc/sys/vm/stat_refresh", "1");
	read_slabinfo(s);
	read_meminfo(s);
	return s;
}

void leak_free(struct leak_snap *s)
{
	free(s);
}

static const struct cache *find_cache(const struct leak_snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->ncaches; i++)
		if (!strcmp(s->caches[i].name, name))
			return &s->caches[i];
	return NULL;
}

/* Growth of a meminfo value in KiB (a drop for MemFree). */
static long mi_growth(const struct leak_snap *b, const struct leak_snap *a, int i)
{
	return i == MI_MEMFREE ? b->mi[i] - a->mi[i] : a->mi[i] - b->mi[i];
}

/*
 * Findings from @before to @after over the tolerances.  With @again (a
 * snapshot after the same work ran once more), a finding stands only if
 * the count grew again by more than half the tolerance: a leak grows with
 * the work every time, the bed's background does not.
 */
static int compare(const struct leak_snap *before, const struct leak_snap *after,
		   const struct leak_snap *again, long obj_tol, long kib_tol,
		   const char *prefix)
{
	int i, problems = 0;

	for (i = 0; i < after->ncaches; i++) {
		const struct cache *a = &after->caches[i];
		const struct cache *b = find_cache(before, a->name);
		const struct cache *c = again ? find_cache(again, a->name) : NULL;
		long grew = a->active - (b ? b->active : 0);
		long more = again ? (c ? c->active : 0) - a->active : 0;

		/* Freed vmalloc areas are purged lazily: VmallocUsed counts. */
		if (!strcmp(a->name, "vmap_area") || grew <= obj_tol)
			continue;
		if (again && more <= obj_tol / 2) {
			if (prefix)
				printf("# no leak: slab cache %s grew by %ld, then by %ld when the same work ran again\n",
				       a->name, grew, more);
			continue;
		}
		if (prefix)
			printf("%sslab cache %s: %ld -> %ld active objects (+%ld, %ld bytes each)",
			       prefix, a->name, b ? b->active : 0, a->active, grew,
			       a->objsize);
		if (prefix && again)
			printf(", then %+ld when the same work ran again", more);
		if (prefix)
			printf("\n");
		problems++;
	}
	for (i = 0; i < MI_NR; i++) {
		long grew = mi_growth(before, after, i);
		long more = again ? mi_growth(after, again, i) : 0;

		if (grew <= kib_tol)
			continue;
		if (again && more <= kib_tol / 2) {
			if (prefix)
				printf("# no leak: %s grew by %ld kB, then by %ld kB when the same work ran again\n",
				       mi_names[i], grew, more);
			continue;
		}
		if (prefix)
			printf("%s%s: %ld -> %ld kB (%+ld kB)", prefix, mi_names[i],
			       before->mi[i], after->mi[i],
			       i == MI_MEMFREE ? -grew : grew);
		if (prefix && again)
			printf(", then %+ld kB when the same work ran again",
			       i == MI_MEMFREE ? -more : more);
		if (prefix)
			printf("\n");
		problems++;
	}
	return problems;
}

int leak_compare(const struct leak_snap *before, const struct leak_snap *after,
		 long obj_tol, long kib_tol, const char *prefix)
{
	return compare(before, after, NULL, obj_tol, kib_tol, prefix);
}

int leak_confirm(const struct leak_snap *before, const struct leak_snap *after,
		 const struct leak_snap *again, long obj_tol, long kib_tol,
		 const char *prefix)
{
	return compare(before, after, again, obj_tol, kib_tol, prefix);
}

/* Keep the smaller of each count: deferred frees only ever lower them. */
static void snap_min(struct leak_snap *m, const struct leak_snap *s)
{
	int i;

	for (i = 0; i < m->ncaches; i++) {
		const struct cache *c = find_cache(s, m->caches[i].name);

		if (c && c->active < m->caches[i].active)
			m->caches[i].active = c->active;
	}
	for (i = 0; i < MI_NR; i++) {
		if (i == MI_MEMFREE ? s->mi[i] > m->mi[i] : s->mi[i] < m->mi[i])
			m->mi[i] = s->mi[i];
	}
}

struct leak_snap *leak_settled_snapshot(const struct leak_snap *ref,
					long obj_tol, long kib_tol)
{
	struct leak_snap *m = leak_snapshot(), *s;
	int tries;

	for (tries = 0; m && tries < 12; tries++) {
		if (!ref || !leak_compare(ref, m, obj_tol, kib_tol, NULL))
			break;
		sleep(1);
		s = leak_snapshot();
		if (!s)
			break;
		snap_min(m, s);
		free(s);
	}
	return m;
}
