/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the 8254 programmable interval timer (ports 0x40-0x43) and the
 * speaker gate of port 0x61.
 *
 * The model, vpit_*(), is pure code that also builds in userspace
 * (tools/testing/unit/test_pit.c): three channels in modes 0-5 (the BCD
 * bit is kept, counting is binary, as on Linux), LSB/MSB/word access, counter latch and read-back (count and
 * status), the gate of channel 2 from port 0x61 (channels 0 and 1 are
 * always gated on), OUT, and the KVM_GET/SET_PIT2 image.  Counters are
 * computed from the time their count was loaded: time is passed in as
 * nanoseconds ("now").  Channel 0 drives IRQ 0: the model asks for a
 * timer at each of its OUT edges that interrupts (one-shot in modes 0, 1,
 * 4, 5; periodic in modes 2 and 3) through ops->timer_arm; the glue's
 * hrtimer then pulses GSI 0.  The caller serialises calls (the glue's
 * mutex).
 *
 * Like Linux: a periodic timer is no shorter than 200 us, no timer runs in
 * HPET legacy mode (KVM_PIT_FLAGS_HPET_LEGACY), and the reads of port 0x61
 * give the refresh toggle of bit 4 every 2^14 ns.  Unlike Linux, ticks are
 * not re-injected: a tick while IRQ 0 is still pending is lost
 * (KVM_REINJECT_CONTROL is accepted and has no effect).
 */
#ifndef _NKVM_I8254_H
#define _NKVM_I8254_H

#ifndef NKVM_USERSPACE
#include <linux/hrtimer.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#endif
#include "irq.h"

#define VPIT_FREQ_HZ		1193182ULL
#define VPIT_PORT_BASE		0x40
#define VPIT_PORT_CONTROL	0x43
#define VPIT_PORT_SPEAKER	0x61
#define VPIT_MIN_PERIOD_NS	200000ULL

struct kvm_pit;

struct kvm_pit_ops {
	/*
	 * Pulse IRQ 0 at @expiry_ns, then every @period_ns if not 0;
	 * replaces what was armed.
	 */
	void (*timer_arm)(struct kvm_pit *pit, u64 expiry_ns, u64 period_ns);
	void (*timer_cancel)(struct kvm_pit *pit);
};

struct kvm_pit_chan {
	u32 count;		/* 1-65536 (a loaded 0 means 65536) */
	u16 latched_count;
	u8 count_latched;	/* RW_* of the latched count, 0 if none */
	u8 status_latched;
	u8 status;
	u8 read_state;
	u8 write_state;
	u8 write_latch;
	u8 rw_mode;		/* 1 LSB, 2 MSB, 3 LSB then MSB */
	u8 mode;		/* 0-5; 0xff until programmed */
	u8 bcd;
	u8 gate;
	u64 load_time;		/* ns: when counting started */
};

struct kvm_pit {
	struct kvm_pit_chan chan[3];
	u32 flags;		/* KVM_PIT_FLAGS_* */
	bool reinject;		/* KVM_REINJECT_CONTROL (no effect) */
	u64 min_period_ns;

	const struct kvm_pit_ops *ops;
	void *owner;

#ifndef NKVM_USERSPACE
	struct mutex lock;
	struct kvm *kvm;
	bool speaker;		/* KVM_PIT_SPEAKER_DUMMY: port 0x61 is ours */
	struct kvm_io_device dev, speaker_dev;	/* PIO bus */
	struct hrtimer timer;
	u64 period_ns;		/* of the armed timer, 0 for one-shot */
	struct work_struct inject;
#endif
};

void vpit_init(struct kvm_pit *pit, const struct kvm_pit_ops *ops,
	       void *owner);
/* Every channel: mode 0xff (unprogrammed), count 65536; gate on for 0, 1. */
void vpit_reset(struct kvm_pit *pit, u64 now);

/* A guest access to ports 0x40-0x43 or 0x61 (8 bits). */
void vpit_write(struct kvm_pit *pit, u16 port, u8 val, u64 now);
u8 vpit_read(struct kvm_pit *pit, u16 port, u64 now);

/* What a channel shows at @now (for the tests and the speaker port). */
u16 vpit_count(const struct kvm_pit *pit, int ch, u64 now);
bool vpit_out(const struct kvm_pit *pit, int ch, u64 now);

/* KVM_GET/SET_PIT2 (and KVM_GET/SET_PIT: the channels alone). */
void vpit_get_state(const struct kvm_pit *pit, struct kvm_pit_state2 *s);
void vpit_set_state(struct kvm_pit *pit, const struct kvm_pit_state2 *s,
		    u64 now);

#ifndef NKVM_USERSPACE
/*
 * The kernel glue.  The PIT needs the in-kernel PIC and IOAPIC (the caller
 * checks): its ticks pulse GSI 0 with kvm_set_irq(), as source
 * KVM_PIT_IRQ_SOURCE_ID, from a work item.  kvm_pit_create() registers
 * ports 0x40-0x43, and 0x61 with KVM_PIT_SPEAKER_DUMMY in @cfg (the caller
 * checks the flags), on the PIO bus (taking kvm->slots_lock);
 * kvm_pit_destroy() stops the timer, waits for the last tick, unregisters
 * the ports and frees the PIT.  Every function takes the PIT's mutex:
 * process context only.
 */
int kvm_pit_create(struct kvm *kvm, const struct kvm_pit_config *cfg);
void kvm_pit_destroy(struct kvm *kvm);

/* Port I/O: 0, or -EOPNOTSUPP for a port that is not the PIT's. */
int kvm_pit_pio_read(struct kvm *kvm, u16 port, unsigned int len, void *data);
int kvm_pit_pio_write(struct kvm *kvm, u16 port, unsigned int len,
		      const void *data);

void kvm_pit_get_state2(struct kvm *kvm, struct kvm_pit_state2 *s);
void kvm_pit_set_state2(struct kvm *kvm, const struct kvm_pit_state2 *s);
void kvm_pit_get_state(struct kvm *kvm, struct kvm_pit_state *s);
void kvm_pit_set_state(struct kvm *kvm, const struct kvm_pit_state *s);
void kvm_pit_set_reinject(struct kvm *kvm, bool reinject);
#endif

#endif /* _NKVM_I8254_H */
