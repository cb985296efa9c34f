/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Trace context of recent exchanges, and the links between them: an
 * outgoing call to the incoming request it serves, an incoming request to
 * the outgoing call (seen on this node) that sent it. A context is decided
 * when the request head is seen, but a link may only become known later
 * (records of two processes arrive in any order), so a span can wait for
 * its parent for a bounded time; its trace id is resolved when its document
 * is written. Owned by the event loop; not thread-safe. */
#ifndef XTAP_SPAN_H
#define XTAP_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include "ids.h"

/* Spans live in a ring: one stays valid until SPAN_MAX newer ones were
 * made (~100 bytes each: ~1.6 MiB). A reference to an overwritten span is
 * detected by its generation. */
#define SPAN_MAX 16384
/* Parent chains followed when resolving (client → server → client …). */
#define SPAN_DEPTH_MAX 16

struct span_ref {
	uint32_t slot;
	uint32_t gen; /* 0: no span */
};

enum span_state {
	SPAN_ROOT,  /* trace id and sampling decided (header, or new) */
	SPAN_CHILD, /* takes trace id and sampling from `up` */
	SPAN_AWAIT, /* may have a parent on this node not seen yet: waits until deadline */
};

/* Why a trace is not emitted; children inherit it. */
enum span_drop {
	SPAN_KEEP = 0,
	SPAN_DROP_HEADER,  /* Sampled=0 in a trace header */
	SPAN_DROP_SAMPLER, /* the sampler said no */
};

struct span {
	uint32_t gen;
	uint8_t state; /* enum span_state */
	uint8_t drop; /* enum span_drop: for ROOT, and AWAIT's own decision if it stays a root */
	bool callee_traced; /* a client span whose request a traced server read */
	bool has_child_link; /* a server on this node already took this client span as parent */
	bool own_segment; /* a call that could belong to several requests: written alone */
	/* drop is the kernel's sampling decision at the request head
	 * (kernel_sample), which the request's calls carried to other nodes:
	 * a pure client's call that starts the trace takes it (span_seed_caller) */
	bool kernel_decided;
	char id[XID_SPAN_LEN + 1];
	char parent_id[XID_SPAN_LEN + 1]; /* "" for a root without a propagated Parent */
	char trace_id[XID_TRACE_LEN + 1]; /* "" until resolved, for CHILD and AWAIT */
	struct span_ref up;
	/* What the kernel decided at the request head (propagate.bpf.h): a
	 * span that ends up a root takes these rather than new ones, so the
	 * ids its calls carried to other nodes hold. "": none. */
	char seed_trace_id[XID_TRACE_LEN + 1];
	char seed_parent_id[XID_SPAN_LEN + 1];
	uint64_t start_epoch_s; /* for a trace id made at resolution */
	uint64_t deadline_ns; /* AWAIT: monotonic time it gives up and becomes a root */
};

struct span_resolved {
	char trace_id[XID_TRACE_LEN + 1];
	char id[XID_SPAN_LEN + 1];
	char parent_id[XID_SPAN_LEN + 1];
	uint8_t drop; /* enum span_drop */
	bool callee_traced;
	bool own_segment;
};

/* A new span with a fresh id, state ROOT and nothing else set. */
struct span_ref span_new(uint64_t start_epoch_s);
/* The span, or NULL when the ring has reused its slot. */
struct span *span_get(struct span_ref r);
/* Make child a CHILD of parent (parent_id = parent's id). false when either
 * is gone. */
bool span_link(struct span_ref child, struct span_ref parent);
/* A server's span linked to the call that sent its request: a call the
 * kernel made no context for (a pure client's) takes the trace id the
 * kernel gave the server's request, and the kernel's sampling decision,
 * so the ids and the decision the server sent on hold. */
void span_seed_caller(struct span_ref server, struct span_ref call);
/* Resolve r's trace context. Returns 1 when resolved (out is filled), 0 when
 * r or an ancestor still waits for a link (now_ns < its deadline). force:
 * waiting spans give up now (shutdown, a full wait list). A span whose
 * ancestor was overwritten becomes a root (counted). */
int span_resolve(struct span_ref r, uint64_t now_ns, bool force, struct span_resolved *out);
/* Forget every span (tests). */
void span_reset(void);

#endif /* XTAP_SPAN_H */
