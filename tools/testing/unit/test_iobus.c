// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for virt/kvm/iobus.c: building bus arrays copy-on-write,
 * looking up the ranges that contain an access (overlapping and nested
 * windows, len 0 windows, the ends of the address space) and dispatching
 * to devices that accept or decline.
 */
#include "../nkvm/harness.h"
#include <nkvm/iobus.h>

/* A device that records what it saw and accepts only if told to. */
struct fake_dev {
	struct kvm_io_device dev;
	int reads, writes;
	bool accept;
	u64 value;		/* what a read returns */
	u64 last;		/* last value written */
};

static int fake_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
		     gpa_t addr, int len, void *val)
{
	struct fake_dev *d = (struct fake_dev *)dev;

	d->reads++;
	if (!d->accept)
		return -EOPNOTSUPP;
	memcpy(val, &d->value, len);
	return 0;
}

static int fake_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
		      gpa_t addr, int len, const void *val)
{
	struct fake_dev *d = (struct fake_dev *)dev;

	d->writes++;
	if (!d->accept)
		return -EOPNOTSUPP;
	d->last = 0;
	memcpy(&d->last, val, len);
	return 0;
}

static const struct kvm_io_device_ops fake_ops = {
	.read = fake_read,
	.write = fake_write,
};

static const struct kvm_io_device_ops write_only_ops = {
	.write = fake_write,
};

static struct fake_dev *mkdev(bool accept)
{
	struct fake_dev *d = calloc(1, sizeof(*d));

	kvm_iodevice_init(&d->dev, &fake_ops);
	d->accept = accept;
	return d;
}

/* Copy-on-write insert into a fresh array; the old one is freed. */
static struct kvm_io_bus *add(struct kvm_io_bus *bus, gpa_t addr, u32 len,
			      struct kvm_io_device *dev)
{
	struct kvm_io_bus *n = kvm_io_bus_alloc(bus->nr + 1);

	ASSERT_EQ(kvm_io_bus_insert(n, bus, addr, len, 0, dev), 0);
	kvm_io_bus_free(bus);
	return n;
}

static struct kvm_io_bus *del(struct kvm_io_bus *bus,
			      struct kvm_io_device *dev, int want)
{
	struct kvm_io_bus *n = kvm_io_bus_alloc(bus->nr);

	ASSERT_EQ(kvm_io_bus_remove(n, bus, dev), want);
	if (!want) {
		kvm_io_bus_free(n);
		return bus;
	}
	kvm_io_bus_free(bus);
	return n;
}

/* The devices an access is offered to, in order, as indexes into devs. */
static int candidates(const struct kvm_io_bus *bus, gpa_t addr, int len,
		      struct fake_dev **devs, int ndevs, int *out)
{
	int n = 0, i, j;

	for (i = kvm_io_bus_first(bus, addr, len); i >= 0;
	     i = kvm_io_bus_next(bus, addr, len, i))
		for (j = 0; j < ndevs; j++)
			if (bus->range[i].dev == &devs[j]->dev)
				out[n++] = j;
	return n;
}

TEST(empty_bus_finds_nothing)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	u64 v = 0;

	ASSERT_EQ(kvm_io_bus_first(bus, 0, 1), -1);
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x10, 4, &v, true), -EOPNOTSUPP);
	kvm_io_bus_free(bus);
}

TEST(insert_keeps_order_and_source)
{
	struct kvm_io_bus *a = kvm_io_bus_alloc(0), *b, *c;
	struct fake_dev *d1 = mkdev(true), *d2 = mkdev(true);

	b = kvm_io_bus_alloc(1);
	ASSERT_EQ(kvm_io_bus_insert(b, a, 0x3f8, 8, 0, &d1->dev), 0);
	c = kvm_io_bus_alloc(2);
	ASSERT_EQ(kvm_io_bus_insert(c, b, 0x60, 1, 0, &d2->dev), 0);

	/* The sources are untouched (copy-on-write). */
	ASSERT_EQ(a->nr, 0);
	ASSERT_EQ(b->nr, 1);
	ASSERT_EQ(b->range[0].addr, 0x3f8);
	/* The new array is sorted. */
	ASSERT_EQ(c->nr, 2);
	ASSERT_EQ(c->range[0].addr, 0x60);
	ASSERT_EQ(c->range[1].addr, 0x3f8);
	ASSERT_EQ(c->nr_counted, 2);

	kvm_io_bus_free(a);
	kvm_io_bus_free(b);
	kvm_io_bus_free(c);
	free(d1);
	free(d2);
}

TEST(insert_refuses_small_destination_and_wrap)
{
	struct kvm_io_bus *a = kvm_io_bus_alloc(0), *b = kvm_io_bus_alloc(0);
	struct kvm_io_bus *c = kvm_io_bus_alloc(1);
	struct fake_dev *d = mkdev(true);

	ASSERT_EQ(kvm_io_bus_insert(b, a, 0x10, 1, 0, &d->dev), -ENOMEM);
	/* A window may end at the last address, not wrap past it. */
	ASSERT_EQ(kvm_io_bus_insert(c, a, ~0ULL - 7, 9, 0, &d->dev), -EINVAL);
	ASSERT_EQ(kvm_io_bus_insert(c, a, ~0ULL - 7, 8, 0, &d->dev), 0);
	ASSERT_EQ(kvm_io_bus_first(c, ~0ULL, 1), 0);
	ASSERT_EQ(kvm_io_bus_first(c, ~0ULL - 1, 2), 0);
	ASSERT_EQ(kvm_io_bus_first(c, ~0ULL, 2), -1);
	/* len 0 at the very last address. */
	ASSERT_EQ(kvm_io_bus_insert(c, a, ~0ULL, 0, 0, &d->dev), 0);
	ASSERT_EQ(kvm_io_bus_first(c, ~0ULL, 8), 0);
	kvm_io_bus_free(a);
	kvm_io_bus_free(b);
	kvm_io_bus_free(c);
	free(d);
}

TEST(lookup_needs_the_access_inside_the_window)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *d = mkdev(true);

	bus = add(bus, 0x1000, 0x10, &d->dev);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x1000, 1), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x1000, 8), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x100c, 4), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x100f, 1), 0);
	/* Straddling either end, or outside. */
	ASSERT_EQ(kvm_io_bus_first(bus, 0x100e, 4), -1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0xfff, 2), -1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x1010, 1), -1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0xfff, 1), -1);
	/* No access has length 0 or less. */
	ASSERT_EQ(kvm_io_bus_first(bus, 0x1000, 0), -1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x1000, -1), -1);
	kvm_io_bus_free(bus);
	free(d);
}

TEST(len0_window_matches_any_width_at_its_address)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *d = mkdev(true);

	bus = add(bus, 0x70, 0, &d->dev);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x70, 1), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x70, 2), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x70, 8), 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x6f, 2), -1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x71, 1), -1);
	kvm_io_bus_free(bus);
	free(d);
}

TEST(overlapping_windows_all_found_most_specific_first)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *d[5];
	int out[8], n;

	for (int i = 0; i < 5; i++)
		d[i] = mkdev(false);
	/* A big window, one nested in it, two at the same start, one apart. */
	bus = add(bus, 0x0, 0x10000, &d[0]->dev);
	bus = add(bus, 0x400, 0x100, &d[1]->dev);
	bus = add(bus, 0x480, 4, &d[2]->dev);
	bus = add(bus, 0x480, 0, &d[3]->dev);
	bus = add(bus, 0x20000, 4, &d[4]->dev);

	n = candidates(bus, 0x480, 4, d, 5, out);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(out[0], 3);	/* same start: newest first */
	ASSERT_EQ(out[1], 2);
	ASSERT_EQ(out[2], 1);
	ASSERT_EQ(out[3], 0);

	n = candidates(bus, 0x482, 2, d, 5, out);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(out[0], 2);
	ASSERT_EQ(out[1], 1);
	ASSERT_EQ(out[2], 0);

	/* The big window is found from beyond many other ranges. */
	n = candidates(bus, 0xfffc, 4, d, 5, out);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(out[0], 0);
	n = candidates(bus, 0x20000, 4, d, 5, out);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(out[0], 4);
	ASSERT_EQ(candidates(bus, 0x10000, 1, d, 5, out), 0);

	kvm_io_bus_free(bus);
	for (int i = 0; i < 5; i++)
		free(d[i]);
}

TEST(lookup_stops_early_without_overlaps)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *d = mkdev(true);

	/* 1000 disjoint ports: each lookup finds exactly its own. */
	for (int p = 0; p < 1000; p++)
		bus = add(bus, 0x1000 + 2 * p, 1, &d->dev);
	for (int p = 0; p < 1000; p++) {
		int i = kvm_io_bus_first(bus, 0x1000 + 2 * p, 1);

		ASSERT_GE(i, 0);
		ASSERT_EQ(bus->range[i].addr, 0x1000 + 2 * p);
		ASSERT_EQ(kvm_io_bus_next(bus, 0x1000 + 2 * p, 1, i), -1);
		ASSERT_EQ(kvm_io_bus_first(bus, 0x1001 + 2 * p, 1), -1);
	}
	kvm_io_bus_free(bus);
	free(d);
}

TEST(dispatch_offers_until_one_accepts)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *outer = mkdev(true), *inner = mkdev(false);
	u64 v = 0x1234;

	outer->value = 0xaabbccdd;
	bus = add(bus, 0x100, 0x100, &outer->dev);
	bus = add(bus, 0x180, 4, &inner->dev);

	/* inner declines, outer takes it. */
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x180, 2, &v, true), 0);
	ASSERT_EQ(inner->writes, 1);
	ASSERT_EQ(outer->writes, 1);
	ASSERT_EQ(outer->last, 0x1234);

	/* inner accepts: outer never sees it. */
	inner->accept = true;
	inner->value = 0x55;
	v = 0;
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x180, 1, &v, false), 0);
	ASSERT_EQ(v, 0x55);
	ASSERT_EQ(outer->reads, 0);

	/* Outside both. */
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x200, 1, &v, false), -EOPNOTSUPP);
	kvm_io_bus_free(bus);
	free(outer);
	free(inner);
}

TEST(device_without_a_callback_declines)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *d = mkdev(true);
	u64 v = 7;

	d->dev.ops = &write_only_ops;
	bus = add(bus, 0x20, 2, &d->dev);
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x20, 1, &v, false), -EOPNOTSUPP);
	ASSERT_EQ(kvm_io_bus_dispatch(bus, NULL, 0x20, 1, &v, true), 0);
	ASSERT_EQ(d->last, 7);
	kvm_io_bus_free(bus);
	free(d);
}

TEST(remove_takes_every_range_of_the_device)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0), *before;
	struct fake_dev *pic = mkdev(true), *pit = mkdev(true);

	bus = add(bus, 0x20, 2, &pic->dev);
	bus = add(bus, 0x40, 4, &pit->dev);
	bus = add(bus, 0xa0, 2, &pic->dev);
	bus = add(bus, 0x4d0, 2, &pic->dev);
	ASSERT_EQ(bus->nr, 4);

	before = bus;
	{
		struct kvm_io_bus *n = kvm_io_bus_alloc(3);

		ASSERT_EQ(kvm_io_bus_remove(n, before, &pic->dev), 3);
		/* Copy-on-write: the old array still has everything. */
		ASSERT_EQ(before->nr, 4);
		ASSERT_EQ(kvm_io_bus_first(before, 0xa0, 1), 2);
		ASSERT_EQ(n->nr, 1);
		ASSERT_TRUE(n->range[0].dev == &pit->dev);
		ASSERT_EQ(kvm_io_bus_first(n, 0xa0, 1), -1);
		ASSERT_EQ(kvm_io_bus_first(n, 0x42, 2), 0);
		kvm_io_bus_free(before);
		bus = n;
	}
	/* Not on the bus: nothing removed, nothing written. */
	bus = del(bus, &pic->dev, 0);
	ASSERT_EQ(bus->nr, 1);
	bus = del(bus, &pit->dev, 1);
	ASSERT_EQ(bus->nr, 0);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x40, 1), -1);
	kvm_io_bus_free(bus);
	free(pic);
	free(pit);
}

TEST(remove_recomputes_reach)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0);
	struct fake_dev *big = mkdev(true), *small = mkdev(true);

	bus = add(bus, 0x0, 0x1000, &big->dev);
	bus = add(bus, 0x10, 1, &small->dev);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x800, 1), 0);
	bus = del(bus, &big->dev, 1);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x800, 1), -1);
	ASSERT_EQ(bus->range[0].reach, 0x10);
	ASSERT_EQ(kvm_io_bus_first(bus, 0x10, 1), 0);
	kvm_io_bus_free(bus);
	free(big);
	free(small);
}

TEST(remove_into_small_destination)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0), *n;
	struct fake_dev *a = mkdev(true), *b = mkdev(true);

	bus = add(bus, 0x10, 1, &a->dev);
	bus = add(bus, 0x20, 1, &b->dev);
	n = kvm_io_bus_alloc(0);
	ASSERT_EQ(kvm_io_bus_remove(n, bus, &a->dev), -ENOMEM);
	kvm_io_bus_free(n);
	/* Exactly the size of the result is enough. */
	n = kvm_io_bus_alloc(1);
	ASSERT_EQ(kvm_io_bus_remove(n, bus, &a->dev), 1);
	ASSERT_EQ(n->nr, 1);
	kvm_io_bus_free(n);
	kvm_io_bus_free(bus);
	free(a);
	free(b);
}

TEST(device_limit_excludes_uncounted_ranges)
{
	struct kvm_io_bus *bus = kvm_io_bus_alloc(0), *n;
	struct fake_dev *d = mkdev(true);

	for (int i = 0; i < NR_IOBUS_DEVS; i++)
		bus = add(bus, i, 1, &d->dev);
	ASSERT_EQ(bus->nr_counted, NR_IOBUS_DEVS);

	n = kvm_io_bus_alloc(bus->nr + 1);
	ASSERT_EQ(kvm_io_bus_insert(n, bus, 0x5000, 1, 0, &d->dev), -ENOSPC);
	/* An ioeventfd still fits. */
	ASSERT_EQ(kvm_io_bus_insert(n, bus, 0x5000, 1, KVM_IO_RANGE_UNCOUNTED,
				    &d->dev), 0);
	ASSERT_EQ(n->nr, NR_IOBUS_DEVS + 1);
	ASSERT_EQ(n->nr_counted, NR_IOBUS_DEVS);
	kvm_io_bus_free(bus);

	/* Removing counts right. */
	bus = kvm_io_bus_alloc(n->nr);
	ASSERT_EQ(kvm_io_bus_remove(bus, n, &d->dev), NR_IOBUS_DEVS + 1);
	ASSERT_EQ(bus->nr_counted, 0);
	kvm_io_bus_free(n);
	kvm_io_bus_free(bus);
	free(d);
}

TEST_HARNESS_MAIN
