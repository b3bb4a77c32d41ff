// SPDX-License-Identifier: GPL-2.0-only
/*
 * nkvm: the 8254 PIT (see i8254.h).  The model first, the kernel glue at
 * the end.
 */
#ifndef NKVM_USERSPACE
#define pr_fmt(fmt) "nkvm: " fmt

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "x86.h"
#endif
#include "i8254.h"

/* read_state / write_state / count_latched values */
#define RW_LSB		1
#define RW_MSB		2
#define RW_WORD0	3	/* LSB next, then MSB */
#define RW_WORD1	4

#define NSEC_PER_SECOND	1000000000ULL

/* ---- The model ------------------------------------------------------------ */

/* Input clock ticks in @ns nanoseconds (no overflow for any u64). */
static u64 ns_to_ticks(u64 ns)
{
	return ns / NSEC_PER_SECOND * VPIT_FREQ_HZ +
	       ns % NSEC_PER_SECOND * VPIT_FREQ_HZ / NSEC_PER_SECOND;
}

static u64 ticks_to_ns(u64 ticks)
{
	return ticks * NSEC_PER_SECOND / VPIT_FREQ_HZ;
}

static u64 elapsed_ticks(const struct kvm_pit_chan *c, u64 now)
{
	return now > c->load_time ? ns_to_ticks(now - c->load_time) : 0;
}

u16 vpit_count(const struct kvm_pit *pit, int ch, u64 now)
{
	const struct kvm_pit_chan *c = &pit->chan[ch];
	u64 d = elapsed_ticks(c, now);

	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		/* Counts down through zero and wraps. */
		return (c->count - d) & 0xffff;
	case 3:
		/* Square wave: the counter goes down by two. */
		return c->count - (2 * d) % c->count;
	default:
		/* Rate generator: reloads at each period. */
		return c->count - d % c->count;
	}
}

bool vpit_out(const struct kvm_pit *pit, int ch, u64 now)
{
	const struct kvm_pit_chan *c = &pit->chan[ch];
	u64 d = elapsed_ticks(c, now);

	switch (c->mode) {
	case 1:		/* as Linux and QEMU have it: high until the end */
		return d < c->count;
	case 2:		/* one low tick at the end of each period */
		return d % c->count == 0 && d;
	case 3:		/* high for the first half of each period */
		return d % c->count < (c->count + 1) / 2;
	case 4:		/* strobes: one low tick at zero */
	case 5:
		return d == c->count;
	default:	/* 0: interrupt on terminal count */
		return d >= c->count;
	}
}

/* Channel 0's timer follows its mode and count. */
static void update_timer(struct kvm_pit *pit, u64 now)
{
	const struct kvm_pit_chan *c = &pit->chan[0];
	u64 interval = ticks_to_ns(c->count), period = 0;

	if (pit->flags & KVM_PIT_FLAGS_HPET_LEGACY)
		goto cancel;
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
		break;
	case 2:
	case 3:
		period = interval;
		if (period < pit->min_period_ns)
			period = pit->min_period_ns;
		break;
	default:	/* 5 (needs a gate edge), unprogrammed */
		goto cancel;
	}
	if (pit->ops && pit->ops->timer_arm)
		pit->ops->timer_arm(pit, now + interval, period);
	return;
cancel:
	if (pit->ops && pit->ops->timer_cancel)
		pit->ops->timer_cancel(pit);
}

static void load_count(struct kvm_pit *pit, int ch, u32 val, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];

	/* The largest count is 0: 2^16 (binary) or 10^4 (BCD, as 2^16). */
	c->count = val ? val : 0x10000;
	c->load_time = now;
	if (ch == 0)
		update_timer(pit, now);
}

static void set_gate(struct kvm_pit *pit, int ch, bool gate, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];

	switch (c->mode) {
	case 1:
	case 2:
	case 3:
	case 5:
		/* A rising edge restarts the count. */
		if (!c->gate && gate)
			c->load_time = now;
		break;
	default:	/* 0, 4: counting is not suspended (as on Linux) */
		break;
	}
	c->gate = gate;
}

static void latch_count(struct kvm_pit *pit, int ch, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];

	if (!c->count_latched) {
		c->latched_count = vpit_count(pit, ch, now);
		c->count_latched = c->rw_mode;
	}
}

static void latch_status(struct kvm_pit *pit, int ch, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];

	if (!c->status_latched) {
		c->status = (vpit_out(pit, ch, now) << 7) | (c->rw_mode << 4) |
			    ((c->mode & 7) << 1) | (c->bcd & 1);
		c->status_latched = 1;
	}
}

void vpit_init(struct kvm_pit *pit, const struct kvm_pit_ops *ops,
	       void *owner)
{
	memset(pit->chan, 0, sizeof(pit->chan));
	pit->flags = 0;
	pit->reinject = true;
	pit->min_period_ns = VPIT_MIN_PERIOD_NS;
	pit->ops = ops;
	pit->owner = owner;
}

void vpit_reset(struct kvm_pit *pit, u64 now)
{
	int i;

	pit->flags = 0;
	for (i = 0; i < 3; i++) {
		pit->chan[i].mode = 0xff;
		pit->chan[i].gate = i != 2;
		load_count(pit, i, 0, now);
	}
}

static void control_write(struct kvm_pit *pit, u8 val, u64 now)
{
	int ch = val >> 6, access;
	struct kvm_pit_chan *c;

	if (ch == 3) {
		/* Read-back: bit 5 clear latches counts, bit 4 clear status. */
		for (ch = 0; ch < 3; ch++) {
			if (!(val & (2 << ch)))
				continue;
			if (!(val & 0x20))
				latch_count(pit, ch, now);
			if (!(val & 0x10))
				latch_status(pit, ch, now);
		}
		return;
	}

	c = &pit->chan[ch];
	access = (val >> 4) & 3;
	if (!access) {
		latch_count(pit, ch, now);
		return;
	}
	c->rw_mode = access;
	c->read_state = access;
	c->write_state = access;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)	/* 6 and 7 are 2 and 3 */
		c->mode -= 4;
	c->bcd = val & 1;
}

static void count_write(struct kvm_pit *pit, int ch, u8 val, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];

	switch (c->write_state) {
	case RW_MSB:
		load_count(pit, ch, val << 8, now);
		break;
	case RW_WORD0:
		c->write_latch = val;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		load_count(pit, ch, c->write_latch | (val << 8), now);
		c->write_state = RW_WORD0;
		break;
	default:	/* RW_LSB, or never programmed */
		load_count(pit, ch, val, now);
		break;
	}
}

static u8 count_read(struct kvm_pit *pit, int ch, u64 now)
{
	struct kvm_pit_chan *c = &pit->chan[ch];
	u16 count;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched) {
		switch (c->count_latched) {
		case RW_MSB:
			c->count_latched = 0;
			return c->latched_count >> 8;
		case RW_WORD0:
			c->count_latched = RW_MSB;
			return c->latched_count & 0xff;
		default:
			c->count_latched = 0;
			return c->latched_count & 0xff;
		}
	}

	count = vpit_count(pit, ch, now);
	switch (c->read_state) {
	case RW_MSB:
		return count >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return count >> 8;
	default:
		return count & 0xff;
	}
}

void vpit_write(struct kvm_pit *pit, u16 port, u8 val, u64 now)
{
	switch (port) {
	case VPIT_PORT_BASE ... VPIT_PORT_BASE + 2:
		count_write(pit, port - VPIT_PORT_BASE, val, now);
		break;
	case VPIT_PORT_CONTROL:
		control_write(pit, val, now);
		break;
	case VPIT_PORT_SPEAKER:
		if (val & 2)
			pit->flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
		else
			pit->flags &= ~KVM_PIT_FLAGS_SPEAKER_DATA_ON;
		set_gate(pit, 2, val & 1, now);
		break;
	}
}

u8 vpit_read(struct kvm_pit *pit, u16 port, u64 now)
{
	switch (port) {
	case VPIT_PORT_BASE ... VPIT_PORT_BASE + 2:
		return count_read(pit, port - VPIT_PORT_BASE, now);
	case VPIT_PORT_SPEAKER:
		/* Bit 4 is the DRAM refresh toggle, every ~15 us. */
		return (vpit_out(pit, 2, now) << 5) | (((now >> 14) & 1) << 4) |
		       (!!(pit->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON) << 1) |
		       (pit->chan[2].gate & 1);
	default:	/* the control word cannot be read */
		return 0;
	}
}

void vpit_get_state(const struct kvm_pit *pit, struct kvm_pit_state2 *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 3; i++) {
		const struct kvm_pit_chan *c = &pit->chan[i];
		struct kvm_pit_channel_state *o = &s->channels[i];

		o->count = c->count;
		o->latched_count = c->latched_count;
		o->count_latched = c->count_latched;
		o->status_latched = c->status_latched;
		o->status = c->status;
		o->read_state = c->read_state;
		o->write_state = c->write_state;
		o->write_latch = c->write_latch;
		o->rw_mode = c->rw_mode;
		o->mode = c->mode;
		o->bcd = c->bcd;
		o->gate = c->gate;
		o->count_load_time = c->load_time;
	}
	s->flags = pit->flags;
}

void vpit_set_state(struct kvm_pit *pit, const struct kvm_pit_state2 *s,
		    u64 now)
{
	int i;

	pit->flags = s->flags;
	for (i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *o = &s->channels[i];
		struct kvm_pit_chan *c = &pit->chan[i];

		c->latched_count = o->latched_count;
		c->count_latched = o->count_latched;
		c->status_latched = o->status_latched;
		c->status = o->status;
		c->read_state = o->read_state;
		c->write_state = o->write_state;
		c->write_latch = o->write_latch;
		c->rw_mode = o->rw_mode;
		c->mode = o->mode;
		c->bcd = o->bcd;
		c->gate = o->gate;
	}
	/* Counting restarts now, from the counts given (and so does IRQ 0). */
	for (i = 0; i < 3; i++)
		load_count(pit, i, s->channels[i].count, now);
}

#ifndef NKVM_USERSPACE
/* ---- Kernel glue ------------------------------------------------------------ */

static enum hrtimer_restart pit_timer_fn(struct hrtimer *timer)
{
	struct kvm_pit *pit = container_of(timer, struct kvm_pit, timer);
	u64 period = READ_ONCE(pit->period_ns);

	queue_work(system_highpri_wq, &pit->inject);
	if (!period)
		return HRTIMER_NORESTART;
	/* Ticks missed meanwhile are skipped, not made up for. */
	hrtimer_forward_now(timer, ns_to_ktime(period));
	return HRTIMER_RESTART;
}

/* A tick: an edge on GSI 0 (PIC IRQ 0 and the IOAPIC, per the routes). */
static void pit_inject(struct work_struct *work)
{
	struct kvm_pit *pit = container_of(work, struct kvm_pit, inject);

	if (READ_ONCE(pit->flags) & KVM_PIT_FLAGS_HPET_LEGACY)
		return;
	kvm_set_irq(pit->kvm, KVM_PIT_IRQ_SOURCE_ID, 0, 1, false);
	kvm_set_irq(pit->kvm, KVM_PIT_IRQ_SOURCE_ID, 0, 0, false);
}

/* Under pit->lock; the timer callback never takes it. */
static void glue_timer_arm(struct kvm_pit *pit, u64 expiry_ns, u64 period_ns)
{
	hrtimer_cancel(&pit->timer);
	WRITE_ONCE(pit->period_ns, period_ns);
	hrtimer_start(&pit->timer, ns_to_ktime(expiry_ns), HRTIMER_MODE_ABS);
}

static void glue_timer_cancel(struct kvm_pit *pit)
{
	hrtimer_cancel(&pit->timer);
}

static const struct kvm_pit_ops pit_glue_ops = {
	.timer_arm = glue_timer_arm,
	.timer_cancel = glue_timer_cancel,
};

static int pit_dev_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			gpa_t addr, int len, void *val)
{
	return kvm_pit_pio_read(vcpu->kvm, addr, len, val);
}

static int pit_dev_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			 gpa_t addr, int len, const void *val)
{
	return kvm_pit_pio_write(vcpu->kvm, addr, len, val);
}

static const struct kvm_io_device_ops pit_dev_ops = {
	.read = pit_dev_read,
	.write = pit_dev_write,
};

static void pit_unregister(struct kvm *kvm, struct kvm_pit *pit)
{
	mutex_lock(&kvm->slots_lock);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pit->dev);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pit->speaker_dev);
	mutex_unlock(&kvm->slots_lock);
}

int kvm_pit_create(struct kvm *kvm, const struct kvm_pit_config *cfg)
{
	struct kvm_pit *pit;
	int r;

	if (kvm->arch.vpit)
		return -EEXIST;
	pit = kzalloc(sizeof(*pit), GFP_KERNEL_ACCOUNT);
	if (!pit)
		return -ENOMEM;
	mutex_init(&pit->lock);
	pit->kvm = kvm;
	pit->speaker = cfg->flags & KVM_PIT_SPEAKER_DUMMY;
	hrtimer_init(&pit->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	pit->timer.function = pit_timer_fn;
	INIT_WORK(&pit->inject, pit_inject);
	vpit_init(pit, &pit_glue_ops, kvm);
	mutex_lock(&pit->lock);
	vpit_reset(pit, ktime_get_ns());
	mutex_unlock(&pit->lock);
	kvm_iodevice_init(&pit->dev, &pit_dev_ops);
	kvm_iodevice_init(&pit->speaker_dev, &pit_dev_ops);
	smp_store_release(&kvm->arch.vpit, pit);

	mutex_lock(&kvm->slots_lock);
	r = kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, VPIT_PORT_BASE, 4,
				    &pit->dev);
	if (!r && pit->speaker)
		r = kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, VPIT_PORT_SPEAKER,
					    1, &pit->speaker_dev);
	mutex_unlock(&kvm->slots_lock);
	if (r)
		kvm_pit_destroy(kvm);
	return r;
}

void kvm_pit_destroy(struct kvm *kvm)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	if (!pit)
		return;
	pit_unregister(kvm, pit);
	hrtimer_cancel(&pit->timer);
	cancel_work_sync(&pit->inject);
	kvm->arch.vpit = NULL;
	kfree(pit);
}

static bool is_pit_port(struct kvm_pit *pit, u16 port)
{
	return (port >= VPIT_PORT_BASE && port <= VPIT_PORT_CONTROL) ||
	       (port == VPIT_PORT_SPEAKER && pit->speaker);
}

int kvm_pit_pio_read(struct kvm *kvm, u16 port, unsigned int len, void *data)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	if (!pit || !is_pit_port(pit, port))
		return -EOPNOTSUPP;
	memset(data, 0, len);
	mutex_lock(&pit->lock);
	*(u8 *)data = vpit_read(pit, port, ktime_get_ns());
	mutex_unlock(&pit->lock);
	return 0;
}

int kvm_pit_pio_write(struct kvm *kvm, u16 port, unsigned int len,
		      const void *data)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	if (!pit || !is_pit_port(pit, port))
		return -EOPNOTSUPP;
	mutex_lock(&pit->lock);
	vpit_write(pit, port, *(const u8 *)data, ktime_get_ns());
	mutex_unlock(&pit->lock);
	return 0;
}

void kvm_pit_get_state2(struct kvm *kvm, struct kvm_pit_state2 *s)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	mutex_lock(&pit->lock);
	vpit_get_state(pit, s);
	mutex_unlock(&pit->lock);
}

void kvm_pit_set_state2(struct kvm *kvm, const struct kvm_pit_state2 *s)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	mutex_lock(&pit->lock);
	vpit_set_state(pit, s, ktime_get_ns());
	mutex_unlock(&pit->lock);
}

void kvm_pit_get_state(struct kvm *kvm, struct kvm_pit_state *s)
{
	struct kvm_pit_state2 s2;

	kvm_pit_get_state2(kvm, &s2);
	memcpy(s->channels, s2.channels, sizeof(s->channels));
}

void kvm_pit_set_state(struct kvm *kvm, const struct kvm_pit_state *s)
{
	struct kvm_pit *pit = kvm->arch.vpit;
	struct kvm_pit_state2 s2;

	mutex_lock(&pit->lock);
	memcpy(s2.channels, s->channels, sizeof(s2.channels));
	s2.flags = pit->flags;	/* KVM_SET_PIT leaves the flags alone */
	vpit_set_state(pit, &s2, ktime_get_ns());
	mutex_unlock(&pit->lock);
}

void kvm_pit_set_reinject(struct kvm *kvm, bool reinject)
{
	struct kvm_pit *pit = kvm->arch.vpit;

	mutex_lock(&pit->lock);
	pit->reinject = reinject;
	mutex_unlock(&pit->lock);
}
#endif /* !NKVM_USERSPACE */
