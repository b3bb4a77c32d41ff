// SPDX-License-Identifier: GPL-2.0
/*
 * test_stats.c - binary statistics: KVM_GET_STATS_FD on the VM and vCPU
 * fds and KVM_CAP_BINARY_STATS_FD.
 *
 * The checks of the kernel's kvm_binary_stats_test (header, id string,
 * descriptors, data read in bulk and one statistic at a time, several VMs
 * and vCPUs), then what that test leaves out: Linux's exact layout and id
 * strings, reads at any offset and of any size, the fd's flags, its hold on
 * the VM, and counters that follow what the guest does.
 *
 * Linux 6.1 behaviour worth knowing (asserted below):
 *  - the file is header | id | descriptors | data, contiguous, each
 *    descriptor followed by its name in name_size (48) bytes;
 *  - the id is "kvm-<tid>" / "kvm-<tid>/vcpu-<vcpu id>", <tid> being the
 *    thread that created the VM or the vCPU;
 *  - lseek() on a stats fd moves nothing and returns the position (the fd
 *    is read with read() from the start, or with pread());
 *  - the fd is read-only and close-on-exec; KVM_GET_STATS_FD ignores its
 *    argument;
 *  - an exit for an interrupt window userspace asked for counts in
 *    request_irq_exits, an immediate_exit does not count as a signal exit.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "vm.h"

#define NAME_SIZE	48	/* Linux's KVM_STATS_NAME_SIZE */

struct stats {
	int fd;
	struct kvm_stats_header h;
	char id[NAME_SIZE];
	size_t desc_size;		/* sizeof(struct kvm_stats_desc) + name */
	unsigned char *desc;		/* num_desc descriptors */
	size_t data_size;		/* sum of the sizes, in bytes */
};

static pid_t tid(void)
{
	return syscall(SYS_gettid);
}

static int vm_stats_fd(struct vm *vm)
{
	int fd = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);

	ASSERT_GE(fd, 0);
	return fd;
}

static int vcpu_stats_fd(struct vcpu *vcpu)
{
	int fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);

	ASSERT_GE(fd, 0);
	return fd;
}

static struct kvm_stats_desc *desc_at(struct stats *s, unsigned int i)
{
	return (struct kvm_stats_desc *)(s->desc + i * s->desc_size);
}

/* Read the header, the id and the descriptors, as a reader would. */
static void stats_open(struct stats *s, int fd)
{
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	ASSERT_EQ(read(fd, &s->h, sizeof(s->h)), sizeof(s->h));
	ASSERT_EQ(s->h.name_size, NAME_SIZE);
	ASSERT_EQ(read(fd, s->id, sizeof(s->id)), sizeof(s->id));
	s->desc_size = sizeof(struct kvm_stats_desc) + s->h.name_size;
	n = s->h.num_desc * s->desc_size;
	s->desc = calloc(1, n);
	ASSERT_TRUE(s->desc);
	ASSERT_EQ(pread(fd, s->desc, n, s->h.desc_offset), n);
	for (unsigned int i = 0; i < s->h.num_desc; i++)
		s->data_size += desc_at(s, i)->size * sizeof(uint64_t);
}

static void stats_close(struct stats *s)
{
	free(s->desc);
	ASSERT_OK(close(s->fd));
}

static struct kvm_stats_desc *stats_find(struct stats *s, const char *name)
{
	for (unsigned int i = 0; i < s->h.num_desc; i++)
		if (!strcmp(desc_at(s, i)->name, name))
			return desc_at(s, i);
	return NULL;
}

/* The (first) value of a statistic, read with pread(). */
static uint64_t stat_get(struct stats *s, const char *name)
{
	struct kvm_stats_desc *d = stats_find(s, name);
	uint64_t v;

	if (!d)
		TH_LOG("no statistic %s", name);
	ASSERT_TRUE(d);
	ASSERT_EQ(pread(s->fd, &v, sizeof(v), s->h.data_offset + d->offset),
		  sizeof(v));
	return v;
}

/* The total size of the file. */
static size_t stats_file_size(struct stats *s)
{
	return s->h.data_offset + s->data_size;
}

/* ------------------------------------------------------------------ */
/* The checks of kvm_binary_stats_test                                 */

static void check_stats_file(int fd)
{
	struct stats s;
	uint64_t *data, v;

	stats_open(&s, fd);
	ASSERT_EQ(strncmp(s.id, "kvm", 3), 0);
	ASSERT_LT(strnlen(s.id, sizeof(s.id)), s.h.name_size);
	ASSERT_GT(s.h.num_desc, 0);
	ASSERT_GE(s.h.desc_offset, sizeof(s.h));
	ASSERT_GE(s.h.data_offset, sizeof(s.h));
	ASSERT_TRUE(s.h.desc_offset > s.h.data_offset ||
		    s.h.desc_offset + s.desc_size * s.h.num_desc <= s.h.data_offset);

	for (unsigned int i = 0; i < s.h.num_desc; i++) {
		struct kvm_stats_desc *d = desc_at(&s, i);
		uint32_t type = d->flags & KVM_STATS_TYPE_MASK;
		uint32_t unit = d->flags & KVM_STATS_UNIT_MASK;
		uint32_t base = d->flags & KVM_STATS_BASE_MASK;

		ASSERT_LT(strnlen(d->name, s.h.name_size), s.h.name_size);
		ASSERT_LE(type, KVM_STATS_TYPE_MAX);
		ASSERT_LE(unit, KVM_STATS_UNIT_MAX);
		ASSERT_LE(base, KVM_STATS_BASE_MAX);
		switch (unit) {
		case KVM_STATS_UNIT_NONE:
		case KVM_STATS_UNIT_BYTES:
		case KVM_STATS_UNIT_CYCLES:
			ASSERT_GE(d->exponent, 0);
			break;
		case KVM_STATS_UNIT_SECONDS:
			ASSERT_LE(d->exponent, 0);
			break;
		case KVM_STATS_UNIT_BOOLEAN:
			ASSERT_EQ(d->exponent, 0);
			break;
		}
		ASSERT_NE(d->size, 0);
		if (type == KVM_STATS_TYPE_LINEAR_HIST)
			ASSERT_NE(d->bucket_size, 0);
		else
			ASSERT_EQ(d->bucket_size, 0);
	}
	ASSERT_TRUE(s.h.data_offset >= s.h.desc_offset ||
		    s.h.data_offset + s.data_size <= s.h.desc_offset);
	ASSERT_GE(s.data_size, s.h.num_desc * sizeof(uint64_t));
	for (unsigned int i = 0; i < s.h.num_desc; i++)
		ASSERT_LT(desc_at(&s, i)->offset, s.data_size);

	data = malloc(s.data_size);
	ASSERT_TRUE(data);
	ASSERT_EQ(pread(fd, data, s.data_size, s.h.data_offset), s.data_size);
	for (unsigned int i = 0; i < s.h.num_desc; i++) {
		struct kvm_stats_desc *d = desc_at(&s, i);

		ASSERT_EQ(pread(fd, data, d->size * sizeof(v),
				s.h.data_offset + d->offset),
			  d->size * sizeof(v));
	}
	free(data);
	stats_close(&s);
	ASSERT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST(capability)
{
	int kvm = kvm_open();
	struct vm *vm = vm_create(0);

	ASSERT_EQ(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD), 1);
	ASSERT_EQ(ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD), 1);
}

/* What kvm_binary_stats_test does by default: 4 VMs with 4 vCPUs each. */
TEST(binary_stats_test_checks)
{
	struct vm *vm[4];
	struct vcpu *vcpu[4][4];

	for (int i = 0; i < 4; i++) {
		vm[i] = vm_create(0);
		for (int j = 0; j < 4; j++)
			vcpu[i][j] = vcpu_create(vm[i], j);
	}
	for (int i = 0; i < 4; i++) {
		check_stats_file(vm_stats_fd(vm[i]));
		for (int j = 0; j < 4; j++)
			check_stats_file(vcpu_stats_fd(vcpu[i][j]));
	}
}

/* ------------------------------------------------------------------ */
/* Layout and names                                                    */

static void check_linux_layout(struct stats *s)
{
	unsigned char used[4096] = { 0 };

	ASSERT_EQ(s->h.flags, 0);
	ASSERT_EQ(s->h.name_size, NAME_SIZE);
	ASSERT_EQ(s->h.id_offset, sizeof(s->h));
	ASSERT_EQ(s->h.desc_offset, s->h.id_offset + NAME_SIZE);
	ASSERT_EQ(s->h.data_offset, s->h.desc_offset + s->h.num_desc * s->desc_size);

	/* Distinct names; the values tile the data block. */
	ASSERT_LE(s->data_size, sizeof(used));
	for (unsigned int i = 0; i < s->h.num_desc; i++) {
		struct kvm_stats_desc *d = desc_at(s, i);

		ASSERT_NE(d->name[0], 0);
		ASSERT_EQ(d->offset % sizeof(uint64_t), 0);
		ASSERT_LE(d->offset + d->size * sizeof(uint64_t), s->data_size);
		for (unsigned int b = d->offset;
		     b < d->offset + d->size * sizeof(uint64_t); b++) {
			ASSERT_EQ(used[b], 0);
			used[b] = 1;
		}
		for (unsigned int j = 0; j < i; j++)
			ASSERT_NE(strcmp(desc_at(s, j)->name, d->name), 0);
	}
}

TEST(vm_layout_and_id)
{
	struct vm *vm = vm_create(0);
	char want[NAME_SIZE];
	struct stats s;

	stats_open(&s, vm_stats_fd(vm));
	check_linux_layout(&s);
	snprintf(want, sizeof(want), "kvm-%d", tid());
	ASSERT_EQ(strcmp(s.id, want), 0);
	/* The id is padded with NULs to name_size. */
	for (size_t i = strlen(want); i < NAME_SIZE; i++)
		ASSERT_EQ(s.id[i], 0);
	stats_close(&s);
}

TEST(vcpu_layout_and_id)
{
	struct vm *vm = vm_create(0);
	int ids[] = { 0, 5, 1023 };

	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		struct vcpu *vcpu = vcpu_create(vm, ids[k]);
		char want[NAME_SIZE];
		struct stats s;

		stats_open(&s, vcpu_stats_fd(vcpu));
		check_linux_layout(&s);
		snprintf(want, sizeof(want), "kvm-%d/vcpu-%d", tid(), ids[k]);
		if (strcmp(s.id, want))
			TH_LOG("id \"%s\", want \"%s\"", s.id, want);
		ASSERT_EQ(strcmp(s.id, want), 0);
		stats_close(&s);
	}
}

struct creator {
	struct vm *vm;
	int vcpu_id;
	int fd;		/* VM or vCPU fd created */
	pid_t tid;
};

static void *create_vcpu_fn(void *arg)
{
	struct creator *c = arg;

	c->tid = tid();
	c->fd = ioctl(c->vm->fd, KVM_CREATE_VCPU, c->vcpu_id);
	return NULL;
}

static void *create_vm_fn(void *arg)
{
	struct creator *c = arg;

	c->tid = tid();
	c->fd = ioctl(c->vm->kvm_fd, KVM_CREATE_VM, 0);
	return NULL;
}

/* The id names the thread that created the object, not the reader. */
TEST(ids_name_the_creating_thread)
{
	struct vm *vm = vm_create(0);
	struct creator c = { .vm = vm, .vcpu_id = 3 };
	char want[NAME_SIZE];
	struct stats s;
	pthread_t t;
	int fd;

	ASSERT_EQ(pthread_create(&t, NULL, create_vcpu_fn, &c), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_GE(c.fd, 0);
	ASSERT_NE(c.tid, tid());
	fd = ioctl(c.fd, KVM_GET_STATS_FD, NULL);
	ASSERT_GE(fd, 0);
	stats_open(&s, fd);
	snprintf(want, sizeof(want), "kvm-%d/vcpu-3", c.tid);
	ASSERT_EQ(strcmp(s.id, want), 0);
	stats_close(&s);

	ASSERT_EQ(pthread_create(&t, NULL, create_vm_fn, &c), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_GE(c.fd, 0);
	fd = ioctl(c.fd, KVM_GET_STATS_FD, NULL);
	ASSERT_GE(fd, 0);
	stats_open(&s, fd);
	snprintf(want, sizeof(want), "kvm-%d", c.tid);
	ASSERT_EQ(strcmp(s.id, want), 0);
	stats_close(&s);
}

struct want_desc {
	const char *name;
	uint32_t flags;
	int16_t exponent;
	uint16_t size;
};

#define CUMUL	(KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10)
#define INST	(KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10)
#define NSEC	(KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10)
#define LOGH	(KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10)
#define IBOOL	(KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN | KVM_STATS_BASE_POW10)

/* Statistics Linux 6.1 has on x86 and nkvm exposes too, as Linux has them. */
static const struct want_desc vm_want[] = {
	{ "remote_tlb_flush", CUMUL, 0, 1 },
	{ "remote_tlb_flush_requests", CUMUL, 0, 1 },
	{ "mmu_shadow_zapped", CUMUL, 0, 1 },
	{ "mmu_recycled", CUMUL, 0, 1 },
	{ "mmu_cache_miss", CUMUL, 0, 1 },
	{ "pages_4k", INST, 0, 1 },
	{ "pages_2m", INST, 0, 1 },
	{ "pages_1g", INST, 0, 1 },
};

static const struct want_desc vcpu_want[] = {
	{ "halt_successful_poll", CUMUL, 0, 1 },
	{ "halt_attempted_poll", CUMUL, 0, 1 },
	{ "halt_poll_invalid", CUMUL, 0, 1 },
	{ "halt_wakeup", CUMUL, 0, 1 },
	{ "halt_poll_success_ns", NSEC, -9, 1 },
	{ "halt_poll_fail_ns", NSEC, -9, 1 },
	{ "halt_wait_ns", NSEC, -9, 1 },
	{ "halt_poll_success_hist", LOGH, -9, 32 },
	{ "halt_poll_fail_hist", LOGH, -9, 32 },
	{ "halt_wait_hist", LOGH, -9, 32 },
	{ "blocking", IBOOL, 0, 1 },
	{ "pf_taken", CUMUL, 0, 1 },
	{ "exits", CUMUL, 0, 1 },
	{ "io_exits", CUMUL, 0, 1 },
	{ "mmio_exits", CUMUL, 0, 1 },
	{ "signal_exits", CUMUL, 0, 1 },
	{ "irq_window_exits", CUMUL, 0, 1 },
	{ "nmi_window_exits", CUMUL, 0, 1 },
	{ "halt_exits", CUMUL, 0, 1 },
	{ "request_irq_exits", CUMUL, 0, 1 },
	{ "irq_exits", CUMUL, 0, 1 },
	{ "insn_emulation", CUMUL, 0, 1 },
	{ "hypercalls", CUMUL, 0, 1 },
};

static void check_names(struct stats *s, const struct want_desc *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kvm_stats_desc *d = stats_find(s, want[i].name);

		if (!d)
			TH_LOG("no statistic %s", want[i].name);
		ASSERT_TRUE(d);
		EXPECT_EQ(d->flags, want[i].flags);
		EXPECT_EQ(d->exponent, want[i].exponent);
		EXPECT_EQ(d->size, want[i].size);
		EXPECT_EQ(d->bucket_size, 0);
		if (th_expect_failed)
			TH_LOG("statistic %s differs", want[i].name);
		ASSERT_FALSE(th_expect_failed);
	}
}

TEST(linux_names_and_kinds)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct stats s;

	stats_open(&s, vm_stats_fd(vm));
	check_names(&s, vm_want, sizeof(vm_want) / sizeof(vm_want[0]));
	stats_close(&s);
	stats_open(&s, vcpu_stats_fd(vcpu));
	check_names(&s, vcpu_want, sizeof(vcpu_want) / sizeof(vcpu_want[0]));
	stats_close(&s);
}

/* A VM that never ran has nothing to count. */
TEST(fresh_counters_are_zero)
{
	struct vm *vm = vm_create(VM_MEM_SIZE);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct stats s;
	uint64_t *data;

	/* (Linux's own statistics, such as host_state_reload, need not be.) */
	stats_open(&s, vcpu_stats_fd(vcpu));
	data = malloc(32 * sizeof(*data));
	ASSERT_TRUE(data);
	for (size_t i = 0; i < sizeof(vcpu_want) / sizeof(vcpu_want[0]); i++) {
		struct kvm_stats_desc *d = stats_find(&s, vcpu_want[i].name);

		ASSERT_TRUE(d && d->size <= 32);
		ASSERT_EQ(pread(s.fd, data, d->size * sizeof(*data),
				s.h.data_offset + d->offset),
			  d->size * sizeof(*data));
		for (size_t j = 0; j < d->size; j++)
			ASSERT_EQ(data[j], 0);
	}
	free(data);
	stats_close(&s);

	stats_open(&s, vm_stats_fd(vm));
	for (size_t i = 0; i < sizeof(vm_want) / sizeof(vm_want[0]); i++)
		ASSERT_EQ(stat_get(&s, vm_want[i].name), 0);
	stats_close(&s);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static unsigned char *read_whole(struct stats *s)
{
	size_t size = stats_file_size(s);
	unsigned char *buf = malloc(size + 64);

	ASSERT_TRUE(buf);
	/* More than the file: only the file comes back. */
	ASSERT_EQ(pread(s->fd, buf, size + 64, 0), size);
	return buf;
}

/* @owner_fd: the VM or vCPU fd, for fresh stats fds (read at 0). */
static void check_reads_anywhere(int owner_fd)
{
	size_t size, chunks[] = { 1, 3, 7, 24, 64, 100, 4096 };
	unsigned char *all, *buf;
	unsigned int seed = 1;
	struct stats s;
	int fd;

	fd = ioctl(owner_fd, KVM_GET_STATS_FD, NULL);
	ASSERT_GE(fd, 0);
	stats_open(&s, fd);
	size = stats_file_size(&s);
	all = read_whole(&s);
	buf = malloc(size + 4096);
	ASSERT_TRUE(buf);

	/* Byte by byte. */
	for (size_t off = 0; off < size; off++) {
		ASSERT_EQ(pread(fd, buf, 1, off), 1);
		ASSERT_EQ(buf[0], all[off]);
	}
	/* Pieces at random offsets, some across the end or past it. */
	for (int i = 0; i < 2000; i++) {
		size_t off = rand_r(&seed) % (size + 8);
		size_t len = rand_r(&seed) % 300;
		size_t want = off >= size ? 0 : (len < size - off ? len : size - off);

		memset(buf, 0xa5, len);
		ASSERT_EQ(pread(fd, buf, len, off), want);
		if (want)
			ASSERT_EQ(memcmp(buf, all + off, want), 0);
	}
	ASSERT_EQ(pread(fd, buf, 0, 10), 0);
	ASSERT_EQ(pread(fd, buf, 16, size), 0);
	ASSERT_EQ(pread(fd, buf, 16, 1 << 30), 0);
	ASSERT_ERRNO(pread(fd, buf, 16, -1), EINVAL);
	stats_close(&s);

	/* read() from the start of a new fd, in pieces of each size. */
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		size_t got = 0;
		ssize_t r;

		fd = ioctl(owner_fd, KVM_GET_STATS_FD, NULL);
		ASSERT_GE(fd, 0);
		while ((r = read(fd, buf + got, chunks[c])) > 0)
			got += r;
		ASSERT_EQ(r, 0);
		ASSERT_EQ(got, size);
		ASSERT_EQ(memcmp(buf, all, size), 0);
		/* At the end, it stays there. */
		ASSERT_EQ(read(fd, buf, 1), 0);
		ASSERT_OK(close(fd));
	}
	free(buf);
	free(all);
}

/* A VM and a vCPU that ran: their counters are not all zero. */
GUEST_CODE(out_hlt_guest,
	"out %al, $0x10\n"
	"hlt\n"
);

TEST(read_at_any_offset)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_hlt_guest);

	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	check_reads_anywhere(vcpu->vm->fd);
	check_reads_anywhere(vcpu->fd);
}

/* lseek() neither moves nor fails: it returns where read() is. */
TEST(lseek_moves_nothing)
{
	struct vm *vm = vm_create(0);
	struct kvm_stats_header h;
	char id[NAME_SIZE], want[NAME_SIZE];
	int fd = vm_stats_fd(vm);

	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	ASSERT_EQ(lseek(fd, 100, SEEK_SET), 0);
	ASSERT_EQ(read(fd, &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), sizeof(h));
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), sizeof(h));
	ASSERT_EQ(lseek(fd, -5, SEEK_END), sizeof(h));
	ASSERT_EQ(lseek(fd, 1000, SEEK_CUR), sizeof(h));
	/* pread() does not move it either. */
	ASSERT_EQ(pread(fd, id, sizeof(id), 0), sizeof(id));
	ASSERT_EQ(read(fd, id, sizeof(id)), sizeof(id));
	snprintf(want, sizeof(want), "kvm-%d", tid());
	ASSERT_EQ(strcmp(id, want), 0);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), sizeof(h) + sizeof(id));
	ASSERT_OK(close(fd));
}

/* ------------------------------------------------------------------ */
/* The fd                                                              */

TEST(fd_flags)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	int fds[2] = { vm_stats_fd(vm), vcpu_stats_fd(vcpu) };
	char c = 0;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(fcntl(fds[i], F_GETFD), FD_CLOEXEC);
		ASSERT_EQ(fcntl(fds[i], F_GETFL) & O_ACCMODE, O_RDONLY);
		ASSERT_ERRNO(write(fds[i], &c, 1), EBADF);
		ASSERT_ERRNO(pwrite(fds[i], &c, 1, 0), ESPIPE);
		ASSERT_ERRNO(ioctl(fds[i], KVM_GET_STATS_FD, NULL), ENOTTY);
		ASSERT_OK(close(fds[i]));
	}
}

/* The ioctl takes no argument, and ignores whatever it is given. */
TEST(argument_ignored)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	unsigned long args[] = { 1, 0xdeadbeef, ~0UL };

	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		int a = ioctl(vm->fd, KVM_GET_STATS_FD, args[i]);
		int b = ioctl(vcpu->fd, KVM_GET_STATS_FD, args[i]);

		ASSERT_GE(a, 0);
		ASSERT_GE(b, 0);
		ASSERT_OK(close(a));
		ASSERT_OK(close(b));
	}
}

/* Many fds at once, each with its own position. */
TEST(many_fds)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 7);
	struct kvm_stats_header h;
	int fd[64];

	for (int i = 0; i < 64; i++)
		fd[i] = i % 2 ? vcpu_stats_fd(vcpu) : vm_stats_fd(vm);
	for (int i = 0; i < 64; i += 3)
		ASSERT_EQ(read(fd[i], &h, sizeof(h)), sizeof(h));
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(lseek(fd[i], 0, SEEK_CUR), i % 3 ? 0 : sizeof(h));
	for (int i = 0; i < 64; i++)
		ASSERT_OK(close(fd[i]));
}

/* The stats fds keep the VM: readable after its own fds are closed. */
TEST(fd_holds_the_vm)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_hlt_guest);
	struct vm *vm = vcpu->vm;
	char vm_id[NAME_SIZE], vcpu_id[NAME_SIZE];
	struct stats vs, cs;

	RUN_OUT(vcpu, 1, 0x10);
	stats_open(&vs, vm_stats_fd(vm));
	stats_open(&cs, vcpu_stats_fd(vcpu));
	memcpy(vm_id, vs.id, sizeof(vm_id));
	memcpy(vcpu_id, cs.id, sizeof(vcpu_id));
	ASSERT_EQ(stat_get(&cs, "io_exits"), 1);

	munmap(vcpu->run, vcpu->run_size);
	ASSERT_OK(close(vcpu->fd));
	ASSERT_OK(close(vm->fd));
	ASSERT_OK(close(vm->kvm_fd));

	ASSERT_EQ(stat_get(&cs, "io_exits"), 1);
	ASSERT_GE(stat_get(&cs, "exits"), 1);
	stat_get(&vs, "pages_4k");
	ASSERT_EQ(pread(vs.fd, vs.id, sizeof(vs.id), vs.h.id_offset), sizeof(vs.id));
	ASSERT_EQ(memcmp(vs.id, vm_id, sizeof(vm_id)), 0);
	ASSERT_EQ(pread(cs.fd, cs.id, sizeof(cs.id), cs.h.id_offset), sizeof(cs.id));
	ASSERT_EQ(memcmp(cs.id, vcpu_id, sizeof(vcpu_id)), 0);
	/* The vCPU's stats fd alone keeps the VM too. */
	stats_close(&vs);
	ASSERT_EQ(stat_get(&cs, "io_exits"), 1);
	stats_close(&cs);
}

/* Reading from another process (after fork) works: no mm check. */
TEST(read_from_child_process)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_hlt_guest);
	struct stats s;
	pid_t pid;
	int status;

	RUN_OUT(vcpu, 1, 0x10);
	stats_open(&s, vcpu_stats_fd(vcpu));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		uint64_t v = 0;
		struct kvm_stats_desc *d = stats_find(&s, "io_exits");

		_exit(!d || pread(s.fd, &v, 8, s.h.data_offset + d->offset) != 8 ||
		      v != 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	stats_close(&s);
}

/*
 * The last reference in another process: the VMM closes everything, a
 * child still reads, and the VM goes away when the child exits.
 */
TEST(last_reference_in_child)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_hlt_guest);
	struct vm *vm = vcpu->vm;
	int p[2], status;
	struct stats s;
	pid_t pid;
	char c;

	RUN_OUT(vcpu, 1, 0x10);
	stats_open(&s, vcpu_stats_fd(vcpu));
	ASSERT_OK(pipe(p));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		uint64_t v = 0;
		struct kvm_stats_desc *d = stats_find(&s, "io_exits");

		/* Only the stats fd: the VM's own fds and mappings go. */
		munmap(vcpu->run, vcpu->run_size);
		close(vcpu->fd);
		close(vm->fd);
		close(vm->kvm_fd);
		if (read(p[0], &c, 1) != 1)
			_exit(2);
		_exit(!d || pread(s.fd, &v, 8, s.h.data_offset + d->offset) != 8 ||
		      v != 1);
	}
	munmap(vcpu->run, vcpu->run_size);
	munmap(vm->mem, vm->mem_size);
	ASSERT_OK(close(vcpu->fd));
	ASSERT_OK(close(vm->fd));
	ASSERT_OK(close(vm->kvm_fd));
	stats_close(&s);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* Out of fds: EMFILE, and nothing is leaked. */
TEST(no_free_fd)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	struct rlimit old, lim;
	int next = dup(0);

	ASSERT_GE(next, 0);
	ASSERT_OK(close(next));
	ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
	lim = old;
	lim.rlim_cur = next;
	ASSERT_OK(setrlimit(RLIMIT_NOFILE, &lim));
	ASSERT_ERRNO(ioctl(vm->fd, KVM_GET_STATS_FD, NULL), EMFILE);
	ASSERT_ERRNO(ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL), EMFILE);
	ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
	ASSERT_OK(close(vm_stats_fd(vm)));
	ASSERT_OK(close(vcpu_stats_fd(vcpu)));
}

/* Only the process that created the VM may ask for the fds. */
TEST(other_process_gets_eio)
{
	struct vm *vm = vm_create(0);
	struct vcpu *vcpu = vcpu_create(vm, 0);
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int a = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);
		int ea = errno;
		int b = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);
		int eb = errno;

		_exit(!(a == -1 && ea == EIO && b == -1 && eb == EIO));
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */

GUEST_CODE(out_loop_guest,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

struct reader {
	struct stats *vm, *vcpu;
	atomic_int stop;
	int reads, backwards;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	uint64_t last = 0, v;

	while (!atomic_load(&r->stop)) {
		unsigned char buf[4096];

		v = stat_get(r->vcpu, "io_exits");
		if (v < last)
			r->backwards++;
		last = v;
		stat_get(r->vm, "pages_4k");
		if (pread(r->vcpu->fd, buf, sizeof(buf), 0) <= 0 ||
		    pread(r->vm->fd, buf, sizeof(buf), 0) <= 0)
			r->backwards++;
		r->reads++;
	}
	return NULL;
}

/* Reads race with a running vCPU: counters only go up. */
TEST(read_while_running)
{
	struct vcpu *vcpu = VM_WITH_GUEST(out_loop_guest);
	struct stats vs, cs;
	struct reader r = { .vm = &vs, .vcpu = &cs };
	pthread_t t;

	stats_open(&vs, vm_stats_fd(vcpu->vm));
	stats_open(&cs, vcpu_stats_fd(vcpu));
	ASSERT_EQ(pthread_create(&t, NULL, reader_fn, &r), 0);
	for (int i = 0; i < 2000; i++)
		RUN_OUT(vcpu, 1, 0x10);
	atomic_store(&r.stop, 1);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	TH_LOG("%d reads", r.reads);
	ASSERT_EQ(r.backwards, 0);
	ASSERT_EQ(stat_get(&cs, "io_exits"), 2000);
	stats_close(&vs);
	stats_close(&cs);
}

/* The vCPU's values we follow, read in one snapshot. */
struct vcpu_counts {
	uint64_t exits, io, mmio, halt, insn, signal, irq, irq_window,
		 request_irq, nmi_window, pf;
};

static void counts(struct stats *s, struct vcpu_counts *c)
{
	c->exits = stat_get(s, "exits");
	c->io = stat_get(s, "io_exits");
	c->mmio = stat_get(s, "mmio_exits");
	c->halt = stat_get(s, "halt_exits");
	c->insn = stat_get(s, "insn_emulation");
	c->signal = stat_get(s, "signal_exits");
	c->irq = stat_get(s, "irq_exits");
	c->irq_window = stat_get(s, "irq_window_exits");
	c->request_irq = stat_get(s, "request_irq_exits");
	c->nmi_window = stat_get(s, "nmi_window_exits");
	c->pf = stat_get(s, "pf_taken");
}

GUEST_CODE(count_guest,
	"mov $0xffff, %ax\n"
	"mov %ax, %ds\n"
	"out %al, $0x10\n"
	"out %al, $0x11\n"
	"out %al, $0x12\n"
	"hlt\n"
	"hlt\n"
	"movb $1, 0x10\n"		/* MMIO at 0x100000 */
	"movw $2, 0x12\n"
	"movb 0x14, %al\n"
	"hlt\n"
);

TEST(exit_counters_follow_the_guest)
{
	struct vcpu *vcpu = VM_WITH_GUEST(count_guest);
	struct vcpu_counts a, b;
	struct stats s;

	stats_open(&s, vcpu_stats_fd(vcpu));
	RUN_OUT(vcpu, 1, 0x10);
	counts(&s, &a);
	ASSERT_EQ(a.io, 1);
	ASSERT_GE(a.exits, 1);
	ASSERT_GE(a.pf, 1);		/* the code page, at least */

	RUN_OUT(vcpu, 1, 0x11);
	RUN_OUT(vcpu, 1, 0x12);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_MMIO);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	counts(&s, &b);
	TH_LOG("deltas: exits %llu io %llu halt %llu mmio %llu insn %llu; pf_taken %llu",
	       (unsigned long long)(b.exits - a.exits),
	       (unsigned long long)(b.io - a.io),
	       (unsigned long long)(b.halt - a.halt),
	       (unsigned long long)(b.mmio - a.mmio),
	       (unsigned long long)(b.insn - a.insn),
	       (unsigned long long)b.pf);

	EXPECT_EQ(b.io - a.io, 2);
	EXPECT_EQ(b.halt - a.halt, 3);
	EXPECT_EQ(b.mmio - a.mmio, 3);
	/* Linux may decode an instruction twice (it retries a first fault). */
	EXPECT_GE(b.insn - a.insn, 3);
	EXPECT_GE(b.exits - a.exits, 2 + 3 + 3);
	EXPECT_EQ(b.signal, 0);
	EXPECT_EQ(b.request_irq, 0);
	EXPECT_EQ(b.nmi_window, 0);
	stats_close(&s);
}

/* A guest that spins until the host stops it. */
GUEST_CODE(spin_guest,
	"1: jmp 1b\n"
);

static void on_signal(int sig)
{
	(void)sig;
}

TEST(signal_and_irq_exits)
{
	struct vcpu *vcpu = VM_WITH_GUEST(spin_guest);
	struct itimerval it = { .it_value = { 0, 50 * 1000 } };
	struct sigaction sa = { .sa_handler = on_signal };
	struct vcpu_counts a, b;
	struct stats s;

	stats_open(&s, vcpu_stats_fd(vcpu));
	ASSERT_OK(sigaction(SIGALRM, &sa, NULL));

	/* immediate_exit is not a signal exit. */
	vcpu->run->immediate_exit = 1;
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	vcpu->run->immediate_exit = 0;
	counts(&s, &a);
	ASSERT_EQ(a.signal, 0);
	ASSERT_EQ(a.exits, 0);

	ASSERT_OK(setitimer(ITIMER_REAL, &it, NULL));
	ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
	counts(&s, &b);
	TH_LOG("signal_exits %llu irq_exits %llu exits %llu",
	       (unsigned long long)b.signal, (unsigned long long)b.irq,
	       (unsigned long long)b.exits);
	ASSERT_EQ(b.signal, 1);
	/* The signal's interrupt, or the kick, took the guest out. */
	ASSERT_GE(b.irq, 1);
	ASSERT_GE(b.exits, b.irq);
	stats_close(&s);
}

/* IF off, OUT, IF on: each round opens an interrupt window once. */
GUEST_CODE(window_guest,
	"1: cli\n"
	"out %al, $0x10\n"
	"sti\n"
	"nop\n"
	"jmp 1b\n"
);

TEST(irq_window_exits)
{
	struct vcpu *vcpu = VM_WITH_GUEST(window_guest);
	struct vcpu_counts a, b;
	struct stats s;

	stats_open(&s, vcpu_stats_fd(vcpu));
	RUN_OUT(vcpu, 1, 0x10);
	counts(&s, &a);
	for (int i = 0; i < 5; i++) {
		vcpu->run->request_interrupt_window = 1;
		ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_IRQ_WINDOW_OPEN);
		vcpu->run->request_interrupt_window = 0;
		RUN_OUT(vcpu, 1, 0x10);
	}
	counts(&s, &b);
	TH_LOG("deltas: request_irq_exits %llu irq_window_exits %llu",
	       (unsigned long long)(b.request_irq - a.request_irq),
	       (unsigned long long)(b.irq_window - a.irq_window));
	ASSERT_EQ(b.request_irq - a.request_irq, 5);
	/* An interrupt exit may come first, now and then. */
	ASSERT_GE(b.irq_window - a.irq_window, 1);
	ASSERT_LE(b.irq_window - a.irq_window, 5);
	stats_close(&s);
}

/* Two hypercalls: a known one and an unknown one; both count. */
GUEST_CODE(vmmcall_guest,
	"mov $1, %eax\n"		/* KVM_HC_VAPIC_POLL_IRQ */
	"vmmcall\n"
	"out %al, $0x10\n"
	"mov $0xfff0, %eax\n"
	"vmmcall\n"
	"hlt\n"
);

GUEST_CODE(vmcall_guest,
	"mov $1, %eax\n"
	"vmcall\n"
	"out %al, $0x10\n"
	"mov $0xfff0, %eax\n"
	"vmcall\n"
	"hlt\n"
);

static bool host_is_amd(void)
{
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	return b == 0x68747541;	/* "Auth"enticAMD */
}

TEST(hypercalls)
{
	struct vcpu *vcpu = host_is_amd() ? VM_WITH_GUEST(vmmcall_guest) :
					    VM_WITH_GUEST(vmcall_guest);
	struct stats s;

	stats_open(&s, vcpu_stats_fd(vcpu));
	RUN_OUT(vcpu, 1, 0x10);
	ASSERT_EQ(stat_get(&s, "hypercalls"), 1);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	ASSERT_EQ(stat_get(&s, "hypercalls"), 2);
	stats_close(&s);
}

/* A halt nothing but a signal ends (IF is clear). */
GUEST_CODE(cli_hlt_guest,
	"cli\n"
	"hlt\n"
	"out %al, $0x10\n"
);

struct poker {
	pthread_t target;
	atomic_int stop;
};

static void *poker_fn(void *arg)
{
	struct poker *p = arg;

	while (!atomic_load(&p->stop)) {
		usleep(50 * 1000);
		pthread_kill(p->target, SIGUSR1);
	}
	return NULL;
}

/* With an in-kernel irqchip, HLT sleeps in the kernel: the halt statistics. */
TEST(halt_in_kernel)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct poker p = { .target = pthread_self() };
	int kvm = kvm_open(), eintr = 0;
	uint64_t hist[32], sum = 0;
	struct kvm_stats_desc *d;
	struct vcpu *vcpu;
	struct stats s;
	struct vm *vm;
	pthread_t t;

	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		SKIP("no KVM_CAP_IRQCHIP: HLT exits to userspace");
	vm = vm_create(VM_MEM_SIZE);
	ASSERT_OK(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0));
	vcpu = vcpu_create(vm, 0);
	vm_load_guest(vm, cli_hlt_guest);
	vcpu_set_real_mode(vcpu, CODE_ADDR);
	stats_open(&s, vcpu_stats_fd(vcpu));

	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(pthread_create(&t, NULL, poker_fn, &p), 0);
	/* Until the guest has halted and a signal took it out of the halt. */
	while (eintr < 20) {
		ASSERT_ERRNO(vcpu_run_raw(vcpu), EINTR);
		ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_INTR);
		eintr++;
		if (stat_get(&s, "halt_exits") && stat_get(&s, "halt_wait_ns"))
			break;
	}
	atomic_store(&p.stop, 1);
	ASSERT_EQ(pthread_join(t, NULL), 0);

	TH_LOG("%d runs: halt_exits %llu halt_wait_ns %llu attempted_poll %llu",
	       eintr, (unsigned long long)stat_get(&s, "halt_exits"),
	       (unsigned long long)stat_get(&s, "halt_wait_ns"),
	       (unsigned long long)stat_get(&s, "halt_attempted_poll"));
	ASSERT_EQ(stat_get(&s, "halt_exits"), 1);
	ASSERT_EQ(stat_get(&s, "signal_exits"), eintr);
	ASSERT_GT(stat_get(&s, "halt_wait_ns"), 0);
	ASSERT_EQ(stat_get(&s, "blocking"), 0);
	/* Nothing polled successfully: no wake-up came while polling. */
	ASSERT_EQ(stat_get(&s, "halt_successful_poll"), 0);
	d = stats_find(&s, "halt_wait_hist");
	ASSERT_TRUE(d && d->size == 32);
	ASSERT_EQ(pread(s.fd, hist, sizeof(hist), s.h.data_offset + d->offset),
		  sizeof(hist));
	for (int i = 0; i < 32; i++)
		sum += hist[i];
	ASSERT_GE(sum, 1);
	/* The halts lasted milliseconds: nothing in the buckets below 1 us. */
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(hist[i], 0);
	stats_close(&s);
}

#define HANDLER_ADDR	0x3000

/* The NMI handler reports itself twice, then returns. */
GUEST_CODE(nmi_handler,
	"out %al, $0x12\n"
	"out %al, $0x13\n"
	"iret\n"
);

GUEST_CODE(nmi_main,
	"1: out %al, $0x10\n"
	"jmp 1b\n"
);

TEST(nmi_window_exits)
{
	struct vcpu *vcpu = VM_WITH_GUEST(nmi_main);
	struct vcpu_counts a, b;
	struct stats s;

	vm_write(vcpu->vm, HANDLER_ADDR, nmi_handler, GUEST_SIZE(nmi_handler));
	vm_set_ivt(vcpu->vm, 2, 0, HANDLER_ADDR);
	stats_open(&s, vcpu_stats_fd(vcpu));
	RUN_OUT(vcpu, 1, 0x10);
	counts(&s, &a);

	/* The second waits for the first one's IRET. */
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	ASSERT_OK(ioctl(vcpu->fd, KVM_NMI));
	RUN_OUT(vcpu, 1, 0x12);
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x12);
	RUN_OUT(vcpu, 1, 0x13);
	RUN_OUT(vcpu, 1, 0x10);
	counts(&s, &b);
	TH_LOG("delta: nmi_window_exits %llu",
	       (unsigned long long)(b.nmi_window - a.nmi_window));
	ASSERT_GE(b.nmi_window - a.nmi_window, 1);
	ASSERT_LE(b.nmi_window - a.nmi_window, 2);
	ASSERT_EQ(b.io - a.io, 5);
	stats_close(&s);
}

/* Writes to 16 pages, then halts. */
GUEST_CODE(touch_guest,
	"mov $0x2000, %ax\n"
	"mov %ax, %ds\n"
	"xor %bx, %bx\n"
	"mov $16, %cx\n"
	"1: movb $1, (%bx)\n"
	"add $0x1000, %bx\n"
	"loop 1b\n"
	"hlt\n"
);

TEST(mmu_mappings)
{
	struct vcpu *vcpu = VM_WITH_GUEST(touch_guest);
	struct stats s;

	stats_open(&s, vm_stats_fd(vcpu->vm));
	ASSERT_EQ(stat_get(&s, "pages_4k") + stat_get(&s, "pages_2m") +
		  stat_get(&s, "pages_1g"), 0);
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	TH_LOG("pages_4k %llu pages_2m %llu pages_1g %llu mmu_cache_miss %llu",
	       (unsigned long long)stat_get(&s, "pages_4k"),
	       (unsigned long long)stat_get(&s, "pages_2m"),
	       (unsigned long long)stat_get(&s, "pages_1g"),
	       (unsigned long long)stat_get(&s, "mmu_cache_miss"));
	/* The code page and the 16 written ones are mapped, in some size. */
	ASSERT_GE(stat_get(&s, "pages_4k") + 512 * stat_get(&s, "pages_2m") +
		  512 * 512 * stat_get(&s, "pages_1g"), 17);
	stats_close(&s);
}

/* Reporting written pages write-protects them again, with a flush. */
TEST(dirty_log_flushes)
{
	struct vcpu *vcpu = VM_WITH_GUEST(touch_guest);
	struct vm *vm = vcpu->vm;
	size_t bitmap_size = VM_MEM_SIZE / 4096 / 8;
	uint64_t *bitmap = calloc(1, bitmap_size);
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };
	uint64_t before;
	struct stats s;

	ASSERT_TRUE(bitmap);
	ASSERT_OK(vm_set_region(vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0, VM_MEM_SIZE,
				(uint64_t)(uintptr_t)vm->mem));
	stats_open(&s, vm_stats_fd(vm));
	ASSERT_EQ(vcpu_run(vcpu), KVM_EXIT_HLT);
	before = stat_get(&s, "remote_tlb_flush_requests");
	ASSERT_OK(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log));
	ASSERT_NE(bitmap[0x20000 / 4096 / 64], 0);
	TH_LOG("remote_tlb_flush_requests %llu -> %llu",
	       (unsigned long long)before,
	       (unsigned long long)stat_get(&s, "remote_tlb_flush_requests"));
	ASSERT_GE(stat_get(&s, "remote_tlb_flush_requests"), before + 1);
	/* No vCPU was in the guest: none had to be interrupted. */
	ASSERT_LE(stat_get(&s, "remote_tlb_flush"),
		  stat_get(&s, "remote_tlb_flush_requests"));
	stats_close(&s);
	free(bitmap);
}

TEST_HARNESS_MAIN
