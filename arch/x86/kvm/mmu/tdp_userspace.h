/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nkvm: the kernel environment tdp.c needs, for its userspace unit test
 * (built with NKVM_USERSPACE; see tools/testing/unit/test_mmu.c): list
 * and hlist, READ_ONCE/WRITE_ONCE and WARN_ON_ONCE.
 */
#ifndef _NKVM_TDP_USERSPACE_H
#define _NKVM_TDP_USERSPACE_H

#include <limits.h>
#include <stdio.h>
#include "unit_compat.h"

/* unit_compat.h may have them already (it grew them for the irqchip). */
#ifndef READ_ONCE
#define READ_ONCE(x)		(*(const volatile typeof(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, v)	(*(volatile typeof(x) *)&(x) = (v))
#endif

#define WARN_ON_ONCE(cond) ({						\
	static bool __warned;						\
	bool __c = !!(cond);						\
	if (__c && !__warned) {						\
		__warned = true;					\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
	}								\
	__c;								\
})

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

struct list_head {
	struct list_head *next, *prev;
};

static inline void INIT_LIST_HEAD(struct list_head *h)
{
	h->next = h;
	h->prev = h;
}

static inline void __list_link(struct list_head *n, struct list_head *prev,
			       struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void list_add(struct list_head *n, struct list_head *h)
{
	__list_link(n, h, h->next);
}

static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	__list_link(n, h->prev, h);
}

static inline void __list_unlink(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static inline void list_del(struct list_head *e)
{
	__list_unlink(e);
	e->next = e->prev = NULL;
}

static inline void list_del_init(struct list_head *e)
{
	__list_unlink(e);
	INIT_LIST_HEAD(e);
}

static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	__list_unlink(e);
	list_add_tail(e, h);
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

#define list_entry(ptr, type, member)	container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)

#define list_for_each_entry(pos, h, member)				\
	for (pos = list_entry((h)->next, typeof(*pos), member);		\
	     &pos->member != (h);					\
	     pos = list_entry(pos->member.next, typeof(*pos), member))

#define list_for_each_entry_safe(pos, n, h, member)			\
	for (pos = list_entry((h)->next, typeof(*pos), member),		\
	     n = list_entry(pos->member.next, typeof(*pos), member);	\
	     &pos->member != (h);					\
	     pos = n, n = list_entry(n->member.next, typeof(*n), member))

struct hlist_node {
	struct hlist_node *next, **pprev;
};

struct hlist_head {
	struct hlist_node *first;
};

static inline void INIT_HLIST_HEAD(struct hlist_head *h)
{
	h->first = NULL;
}

static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{
	n->next = h->first;
	if (h->first)
		h->first->pprev = &n->next;
	h->first = n;
	n->pprev = &h->first;
}

static inline void hlist_del(struct hlist_node *n)
{
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
}

#define hlist_entry_safe(ptr, type, member) \
	((ptr) ? container_of(ptr, type, member) : NULL)

#define hlist_for_each_entry(pos, h, member)				\
	for (pos = hlist_entry_safe((h)->first, typeof(*pos), member);	\
	     pos;							\
	     pos = hlist_entry_safe(pos->member.next, typeof(*pos), member))

#endif /* _NKVM_TDP_USERSPACE_H */
