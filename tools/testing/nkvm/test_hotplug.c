// SPDX-License-Identifier: GPL-2.0
/*
 * test_hotplug.c - guests run on every host CPU, including a CPU that was
 * taken offline and brought back while the hypervisor was loaded, and a
 * vCPU keeps its state when it moves between CPUs or while CPUs come and
 * go under it.  Needs two or more CPUs and CPU hotplug (skips otherwise);
 * the bed runs it with --smp 2.  CPUs are taken offline only where
 * NKVM_TEST_HOTPLUG=1 says that is fine (the bed sets it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm.h"

/* Counts in CX and reports each count with an OUT to port 0x10. */
GUEST_CODE(count_guest,
	"xor %cx, %cx\n"
	"1:\n"
	"inc %cx\n"
	"mov %cx, %ax\n"
	"out %ax, $0x10\n"
	"jmp 1b\n"
);

/* Spins forever: only signals and host interrupts make it exit. */
GUEST_CODE(spin_guest,
	"1: jmp 1b\n"
);

static int nr_cpus(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_OK(sched_setaffinity(0, sizeof(set), &set));
	ASSERT_EQ(sched_getcpu(), cpu);
}

static int set_online(int cpu, int online)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	r = write(fd, online ? "1" : "0", 1) == 1 ? 0 : -1;
	close(fd);
	return r;
}

static void need_two_cpus(void)
{
	if (nr_cpus() < 2)
		SKIP("needs two or more online CPUs");
}

static void need_hotplug(void)
{
	need_two_cpus();
	if (!getenv("NKVM_TEST_HOTPLUG") || strcmp(getenv("NKVM_TEST_HOTPLUG"), "1"))
		SKIP("set NKVM_TEST_HOTPLUG=1 to let this test take CPU 1 offline");
	if (access("/sys/devices/system/cpu/cpu1/online", W_OK))
		SKIP("CPU 1 cannot be taken offline here");
}

TEST(guest_runs_on_every_cpu)
{
	need_two_cpus();
	for (int cpu = 0; cpu < nr_cpus(); cpu++) {
		pin_to(cpu);
		struct vcpu *vcpu = VM_WITH_GUEST(count_guest);

		for (int i = 1; i <= 20; i++)
			ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), i);
		vcpu_free(vcpu);
	}
}

TEST(cpu_offline_then_online_runs_guests)
{
	need_hotplug();
	for (int round = 0; round < 3; round++) {
		pin_to(0);
		ASSERT_OK(set_online(1, 0));
		/* A guest still runs on the CPU that stayed. */
		struct vcpu *a = VM_WITH_GUEST(count_guest);

		ASSERT_EQ(RUN_OUT(a, 2, 0x10), 1);
		ASSERT_OK(set_online(1, 1));
		/* And on the CPU that came back: it was enabled again. */
		pin_to(1);
		struct vcpu *b = VM_WITH_GUEST(count_guest);

		ASSERT_EQ(RUN_OUT(b, 2, 0x10), 1);
		ASSERT_EQ(RUN_OUT(a, 2, 0x10), 2);
		vcpu_free(a);
		vcpu_free(b);
	}
}

TEST(vcpu_moves_between_cpus)
{
	need_two_cpus();
	struct vcpu *vcpu = VM_WITH_GUEST(count_guest);

	for (int i = 1; i <= 200; i++) {
		pin_to(i % nr_cpus());
		ASSERT_EQ(RUN_OUT(vcpu, 2, 0x10), i);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

struct spinner {
	struct vcpu *vcpu;
	volatile int stop;
	long runs;
	int error;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;

	while (!s->stop) {
		int r = ioctl(s->vcpu->fd, KVM_RUN, 0);

		if (r == 0 || errno != EINTR) {
			s->error = r ? errno : -1;
			break;
		}
		s->runs++;
	}
	return NULL;
}

TEST(cpus_go_and_come_while_a_vcpu_runs)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct spinner s = { 0 };
	pthread_t t;

	need_hotplug();
	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	s.vcpu = VM_WITH_GUEST(spin_guest);
	ASSERT_EQ(pthread_create(&t, NULL, spin_thread, &s), 0);

	for (int i = 0; i < 6; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		ASSERT_OK(set_online(1, i % 2));
		pthread_kill(t, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	ASSERT_OK(set_online(1, 1));
	s.stop = 1;
	/* A signal that lands just before KVM_RUN is lost: repeat it. */
	do {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		pthread_kill(t, SIGUSR1);
		nanosleep(&ts, NULL);
	} while (pthread_tryjoin_np(t, NULL));
	ASSERT_EQ(s.error, 0);
	ASSERT_GE(s.runs, 1);
	/* The guest is still where it spins. */
	ASSERT_EQ(vcpu_rip(s.vcpu), CODE_ADDR);
}

TEST_HARNESS_MAIN
