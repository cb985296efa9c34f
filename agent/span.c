// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "counters.h"
#include "span.h"

static struct span ring[SPAN_MAX];
static uint32_t next_slot;
static uint32_t next_gen = 1;

struct span_ref span_new(uint64_t start_epoch_s)
{
	struct span_ref r = { .slot = next_slot, .gen = next_gen };
	struct span *s = &ring[r.slot];

	if (++next_slot == SPAN_MAX)
		next_slot = 0;
	if (++next_gen == 0) /* 0 means "no span" */
		next_gen = 1;
	memset(s, 0, sizeof(*s));
	s->gen = r.gen;
	s->state = SPAN_ROOT;
	s->start_epoch_s = start_epoch_s;
	xid_span_id(s->id);
	return r;
}

struct span *span_get(struct span_ref r)
{
	if (!r.gen || r.slot >= SPAN_MAX || ring[r.slot].gen != r.gen)
		return NULL;
	return &ring[r.slot];
}

bool span_link(struct span_ref child, struct span_ref parent)
{
	struct span *c = span_get(child), *p = span_get(parent);

	/* a resolved span has been written, or its children have */
	if (!c || !p || c->trace_id[0] || child.gen == parent.gen)
		return false;
	c->state = SPAN_CHILD;
	c->up = parent;
	memcpy(c->parent_id, p->id, sizeof(c->parent_id));
	return true;
}

void span_seed_caller(struct span_ref server, struct span_ref call)
{
	struct span *s = span_get(server), *c = span_get(call);

	if (s && c && !c->seed_trace_id[0] && !c->trace_id[0])
		memcpy(c->seed_trace_id, s->seed_trace_id, sizeof(c->seed_trace_id));
	/* The server's kernel decided its sampling, and its calls carried
	 * that to other nodes; the agent's sampler decided for the call that
	 * starts the trace (curl's, which sends no context): the trace
	 * follows the kernel. A decision from a header or a kernel stays. */
	if (s && c && s->kernel_decided && c->state != SPAN_CHILD && !c->kernel_decided &&
	    c->drop != SPAN_DROP_HEADER) {
		c->drop = s->drop;
		c->kernel_decided = true;
	}
}

/* s stops waiting, or lost its parent: it starts a trace of its own. */
static void make_root(struct span *s)
{
	s->state = SPAN_ROOT;
	s->up.gen = 0;
	if (!s->parent_id[0])
		memcpy(s->parent_id, s->seed_parent_id, sizeof(s->parent_id));
	if (!s->trace_id[0] && s->seed_trace_id[0])
		memcpy(s->trace_id, s->seed_trace_id, sizeof(s->trace_id));
	else if (!s->trace_id[0])
		xid_trace_id(s->trace_id, s->start_epoch_s);
}

int span_resolve(struct span_ref r, uint64_t now_ns, bool force, struct span_resolved *out)
{
	struct span *path[SPAN_DEPTH_MAX];
	struct span *s = span_get(r), *top;
	int n = 0;

	if (!s)
		return -1;
	/* up to the first span that knows its trace id */
	for (;;) {
		path[n++] = s;
		if (s->trace_id[0] && s->state != SPAN_AWAIT)
			break;
		if (s->state == SPAN_AWAIT) {
			if (!force && now_ns < s->deadline_ns)
				return 0;
			xtap_ctr.link_timeouts++;
			make_root(s);
			break;
		}
		if (s->state == SPAN_ROOT) {
			make_root(s);
			break;
		}
		/* SPAN_CHILD */
		top = span_get(s->up);
		if (!top || n == SPAN_DEPTH_MAX) {
			/* the parent's slot was reused, or a chain this long is
			 * a loop of mis-links: keep the parent_id, own trace */
			xtap_ctr.link_lost++;
			s->drop = SPAN_KEEP;
			make_root(s);
			break;
		}
		s = top;
	}
	top = path[n - 1];
	for (int i = n - 2; i >= 0; i--) {
		memcpy(path[i]->trace_id, top->trace_id, sizeof(top->trace_id));
		path[i]->drop = top->drop;
	}
	s = path[0];
	memcpy(out->trace_id, s->trace_id, sizeof(out->trace_id));
	memcpy(out->id, s->id, sizeof(out->id));
	memcpy(out->parent_id, s->parent_id, sizeof(out->parent_id));
	out->drop = s->drop;
	out->callee_traced = s->callee_traced;
	out->own_segment = s->own_segment;
	return 1;
}

void span_reset(void)
{
	memset(ring, 0, sizeof(ring));
	next_slot = 0;
	next_gen = 1;
}
