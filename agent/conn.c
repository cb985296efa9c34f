// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections and processes, keyed as the BPF side names them (conn_id,
 * tgid), with request/response pairing on top of the HTTP parser. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "conn.h"
#include "counters.h"
#include "http.h"
#include "segment.h"
#include "span.h"
#include "k8s_meta.h"

#define CONN_BUCKETS (1u << 17) /* 2x CONN_TABLE_MAX keeps chains short */
#define PROC_BUCKETS (1u << 14)
/* Connections indexed by their client end (ip, port), to find both ends of
 * a connection on this node. */
#define EP_BUCKETS (1u << 16)
/* In-flight requests of one process examined to find the one an outgoing
 * call serves; past it the call is ambiguous. */
#define INFLIGHT_SCAN_MAX 64

struct proc;

struct pending {
	struct pending *next;
	/* a request the kernel kept back as unsampled (XTAP_DATA_MUTED):
	 * it only takes its response's place in the queue */
	bool muted;
	/* the process's in-flight incoming requests (server side) */
	struct pending *if_prev, *if_next;
	struct proc *if_proc;
	struct xtap_txn txn;
};

struct conn {
	uint64_t id;
	struct conn *hnext; /* hash chain */
	struct conn *lru_prev, *lru_next; /* oldest at lru_head */
	struct conn *pprev, *pnext; /* the process's connections */
	struct proc *proc;
	uint32_t tgid;
	int32_t fd;
	uint8_t role;
	bool opaque; /* after 101 / CONNECT: no longer HTTP */
	bool https; /* the bytes came from a TLS library: the plaintext */
	uint8_t cur_dir; /* direction being fed: heads are only parsed inside a feed */
	bool have_addr;
	struct xtap_addr addr;
	struct http_stream st[2]; /* by enum xtap_dir */
	struct pending *q_head, *q_tail;
	uint32_t q_len;
	uint64_t last_ts;
	uint32_t last_tid;
	struct conn *enext; /* endpoint index chain */
	bool in_ep_index;
	/* by direction: the kernel's trace context of the last record that
	 * began a message, for the head the parser completes next */
	struct xtap_trace_ctx tctx[2];
};

struct proc {
	uint32_t tgid;
	struct proc *hnext;
	struct conn *conns;
	struct pending *inflight; /* incoming requests awaiting their response */
	uint64_t start_ns; /* xtap_conn_event.start_ns, 0 until an OPEN says */
	char comm[XTAP_COMM_LEN];
	char exe[TXN_EXE_MAX];
};

struct xtap_counters xtap_ctr;

static struct conn *conn_buckets[CONN_BUCKETS];
static struct proc *proc_buckets[PROC_BUCKETS];
static struct conn *ep_buckets[EP_BUCKETS];
static struct conn *lru_head, *lru_tail;
static size_t n_conns;
static struct pending *pool_free;
static size_t pool_allocated;
/* Finished exchanges whose trace context waits for a parent (span.h), in
 * the order they finished. They hold pending-pool entries, so they are
 * within PENDING_POOL_MAX; past DEFER_MAX the oldest is written at once. */
#define DEFER_MAX 1024
static struct pending *defer_head, *defer_tail;
static size_t n_deferred;
static uint64_t link_wait_ns = CONN_LINK_WAIT_DEFAULT_MS * 1000000ull;
static bool flushing;
static txn_head_fn head_fn;
static txn_sink_fn sink_fn;
static void *sink_ctx;

static const struct http_stream_ops ops;
static void fmt_ip(const struct xtap_addr *a, const uint8_t *ip, char *out);

static inline uint32_t hash64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (uint32_t)v;
}

void conn_table_init(txn_head_fn head, txn_sink_fn sink, void *ctx)
{
	head_fn = head;
	sink_fn = sink;
	sink_ctx = ctx;
}

void conn_table_set_link_wait(uint64_t ns)
{
	link_wait_ns = ns;
}

size_t conn_table_size(void)
{
	return n_conns;
}

size_t conn_table_list(struct conn_info *out, size_t max)
{
	size_t n = 0;

	for (struct conn *c = lru_tail; c && n < max; c = c->lru_prev, n++) {
		struct conn_info *i = &out[n];

		memset(i, 0, sizeof(*i));
		i->id = c->id;
		i->tgid = c->tgid;
		i->fd = c->fd;
		i->role = c->role;
		i->opaque = c->opaque;
		if (c->proc)
			memcpy(i->comm, c->proc->comm, sizeof(i->comm));
		if (c->have_addr) {
			fmt_ip(&c->addr, c->addr.laddr, i->local_ip);
			fmt_ip(&c->addr, c->addr.raddr, i->peer_ip);
			i->local_port = c->addr.lport;
			i->peer_port = c->addr.rport;
		}
		i->pending = c->q_len;
		i->last_ns = c->last_ts;
	}
	return n;
}

/* ---- processes ---- */

static struct proc *proc_find(uint32_t tgid, struct proc ***slot_out)
{
	struct proc **slot = &proc_buckets[hash64(tgid) & (PROC_BUCKETS - 1)];

	while (*slot && (*slot)->tgid != tgid)
		slot = &(*slot)->hnext;
	if (slot_out)
		*slot_out = slot;
	return *slot;
}

static void proc_forget(uint32_t tgid);

/* The process entry, made with comm (NULL: read from /proc) when new.
 * start_ns (0: unknown) tells a process from an earlier one with the same
 * pid whose EXIT record was lost: that one's connections end first. */
static struct proc *proc_get(uint32_t tgid, const char *comm, uint64_t start_ns)
{
	struct proc **slot;
	struct proc *p = proc_find(tgid, &slot);
	char path[64];
	ssize_t n;

	if (p && start_ns && p->start_ns && p->start_ns != start_ns) {
		xtap_ctr.pids_reused++;
		proc_forget(tgid);
		p = proc_find(tgid, &slot);
	}
	if (p) {
		if (!p->start_ns)
			p->start_ns = start_ns;
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->start_ns = start_ns;
	if (comm)
		memcpy(p->comm, comm, XTAP_COMM_LEN);
	p->comm[XTAP_COMM_LEN - 1] = '\0';
	/* once per process, not per record */
	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	if (!p->comm[0]) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
		f = fopen(path, "re");
		if (f) {
			if (fgets(p->comm, sizeof(p->comm), f))
				p->comm[strcspn(p->comm, "\n")] = '\0';
			fclose(f);
		}
	}
	*slot = p;
	return p;
}

static void proc_release_if_empty(struct proc *p)
{
	struct proc **slot;

	if (!p || p->conns)
		return;
	if (proc_find(p->tgid, &slot) == p) {
		*slot = p->hnext;
		free(p);
	}
}

/* ---- pending requests ---- */

static struct pending *pending_alloc(void)
{
	struct pending *p = pool_free;

	if (p) {
		pool_free = p->next;
		return p;
	}
	if (pool_allocated >= PENDING_POOL_MAX)
		return NULL;
	p = malloc(sizeof(*p));
	if (p)
		pool_allocated++;
	return p;
}

static void pending_free(struct pending *p)
{
	p->next = pool_free;
	pool_free = p;
}

static void inflight_del(struct pending *p)
{
	if (!p->if_proc)
		return;
	if (p->if_prev)
		p->if_prev->if_next = p->if_next;
	else
		p->if_proc->inflight = p->if_next;
	if (p->if_next)
		p->if_next->if_prev = p->if_prev;
	p->if_prev = p->if_next = NULL;
	p->if_proc = NULL;
}

static void inflight_add(struct proc *proc, struct pending *p)
{
	p->if_proc = proc;
	p->if_prev = NULL;
	p->if_next = proc->inflight;
	if (proc->inflight)
		proc->inflight->if_prev = p;
	proc->inflight = p;
}

static struct pending *pending_pop(struct conn *c)
{
	struct pending *p = c->q_head;

	if (!p)
		return NULL;
	inflight_del(p);
	c->q_head = p->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_len--;
	return p;
}

static void emit_now(struct pending *p)
{
	xtap_ctr.transactions++;
	if (p->txn.incomplete)
		xtap_ctr.incomplete++;
	sink_fn(&p->txn, sink_ctx);
	pending_free(p);
}

/* Fill t's trace context from its span: 1, or 0 while a parent on this
 * node may still turn up. */
static int resolve(struct xtap_txn *t, uint64_t now, bool force)
{
	struct span_resolved r;
	int ret;

	if (!t->span.gen)
		return 1; /* no span: segment_trace_ctx() decides */
	ret = span_resolve(t->span, now, force || flushing, &r);
	if (ret == 0)
		return 0;
	if (ret < 0) {
		/* overwritten while the request was in flight (SPAN_MAX newer
		 * ones): the headers decide, as with no span */
		xtap_ctr.link_lost++;
		t->trace_id[0] = '\0';
		return 1;
	}
	memcpy(t->trace_id, r.trace_id, sizeof(t->trace_id));
	memcpy(t->span_id, r.id, sizeof(t->span_id));
	memcpy(t->parent_id, r.parent_id, sizeof(t->parent_id));
	t->callee_traced = r.callee_traced;
	t->own_segment = r.own_segment;
	t->drop = r.drop;
	return 1;
}

static void defer_push(struct pending *p)
{
	p->next = NULL;
	if (defer_tail)
		defer_tail->next = p;
	else
		defer_head = p;
	defer_tail = p;
	n_deferred++;
}

static void emit(struct pending *p)
{
	uint64_t now = clock_mono_now();

	inflight_del(p);
	if (p->muted) {
		xtap_ctr.muted_here++;
		pending_free(p);
		return;
	}
	if (resolve(&p->txn, now, false)) {
		emit_now(p);
		return;
	}
	if (n_deferred >= DEFER_MAX) {
		struct pending *old = defer_head;

		defer_head = old->next;
		if (!defer_head)
			defer_tail = NULL;
		n_deferred--;
		xtap_ctr.link_wait_overflow++;
		resolve(&old->txn, now, true);
		emit_now(old);
	}
	defer_push(p);
}

void conn_tick(uint64_t now_ns)
{
	struct pending *p = defer_head;
	size_t n = n_deferred;

	defer_head = defer_tail = NULL;
	n_deferred = 0;
	/* bounded by n: what sink_fn does cannot add to this list */
	while (p && n--) {
		struct pending *next = p->next;

		if (resolve(&p->txn, now_ns, false))
			emit_now(p);
		else
			defer_push(p);
		p = next;
	}
}

/* ---- connections ---- */

static void ep_remove(struct conn *c);

static void lru_unlink(struct conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_push(struct conn *c)
{
	c->lru_prev = lru_tail;
	c->lru_next = NULL;
	if (lru_tail)
		lru_tail->lru_next = c;
	else
		lru_head = c;
	lru_tail = c;
}

static struct conn *conn_find(uint64_t id, struct conn ***slot_out)
{
	struct conn **slot = &conn_buckets[hash64(id) & (CONN_BUCKETS - 1)];

	while (*slot && (*slot)->id != id)
		slot = &(*slot)->hnext;
	if (slot_out)
		*slot_out = slot;
	return *slot;
}

static void conn_init_streams(struct conn *c)
{
	enum http_kind in = HTTP_KIND_ANY, out = HTTP_KIND_ANY;

	if (c->role == XTAP_ROLE_SERVER) {
		in = HTTP_KIND_REQUEST;
		out = HTTP_KIND_RESPONSE;
	} else if (c->role == XTAP_ROLE_CLIENT) {
		in = HTTP_KIND_RESPONSE;
		out = HTTP_KIND_REQUEST;
	}
	http_stream_init(&c->st[XTAP_DIR_IN], in);
	http_stream_init(&c->st[XTAP_DIR_OUT], out);
}

/* The connection ended: complete what the bytes allow, emit requests that
 * never got a response as incomplete, and free it. */
static void conn_end(struct conn *c)
{
	struct conn **slot;
	struct pending *p;

	if (!c->opaque) {
		/* a reset or close before the Content-Length or the last chunk
		 * was reached: the message is reported, but it is not whole */
		for (int d = 0; d < 2; d++)
			if (c->st[d].state == HTTP_S_BODY_LENGTH ||
			    c->st[d].state == HTTP_S_BODY_CHUNKED)
				xtap_ctr.http_cut_short++;
		/* responses first: a close-delimited body ends here */
		for (int d = 0; d < 2; d++) {
			struct http_stream *s = &c->st[d];

			if (s->kind == HTTP_KIND_RESPONSE ||
			    (s->kind == HTTP_KIND_ANY && !s->in_msg_is_request))
				http_stream_finish(s, &ops, c);
		}
		for (int d = 0; d < 2; d++)
			http_stream_finish(&c->st[d], &ops, c);
	}
	while ((p = pending_pop(c))) {
		p->txn.incomplete = !p->txn.has_response;
		p->txn.end_ns = clock_mono_to_epoch(c->last_ts);
		if (p->txn.end_ns < p->txn.start_ns)
			p->txn.end_ns = p->txn.start_ns;
		emit(p);
	}
	http_stream_free(&c->st[0]);
	http_stream_free(&c->st[1]);
	ep_remove(c);

	if (conn_find(c->id, &slot) == c)
		*slot = c->hnext;
	lru_unlink(c);
	if (c->proc) {
		if (c->pprev)
			c->pprev->pnext = c->pnext;
		else
			c->proc->conns = c->pnext;
		if (c->pnext)
			c->pnext->pprev = c->pprev;
		proc_release_if_empty(c->proc);
	}
	n_conns--;
	free(c);
}

static struct conn *conn_create(const struct xtap_ev_hdr *h, const char *comm, uint64_t start_ns)
{
	struct conn **slot;
	struct conn *c;

	if (conn_find(h->conn_id, &slot))
		return *slot;
	if (n_conns >= CONN_TABLE_MAX && lru_head) {
		xtap_ctr.conns_evicted++;
		conn_end(lru_head);
		conn_find(h->conn_id, &slot); /* the chain may have changed */
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = h->conn_id;
	c->tgid = h->tgid;
	c->fd = h->fd;
	c->role = h->role;
	c->last_ts = h->ts_ns;
	conn_init_streams(c);
	c->proc = proc_get(h->tgid, comm, start_ns);
	conn_find(h->conn_id, &slot); /* proc_get may have ended connections */
	if (c->proc) {
		c->pnext = c->proc->conns;
		if (c->pnext)
			c->pnext->pprev = c;
		c->proc->conns = c;
	}
	*slot = c;
	lru_push(c);
	n_conns++;
	xtap_ctr.conns_opened++;
	return c;
}

/* a.b.c.d without inet_ntop's sprintf: every transaction formats two */
static void fmt_ip4(const uint8_t *ip, char *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = ip[i];

		if (v >= 100)
			*out++ = (char)('0' + v / 100);
		if (v >= 10)
			*out++ = (char)('0' + v / 10 % 10);
		*out++ = (char)('0' + v % 10);
		*out++ = i < 3 ? '.' : '\0';
	}
}

static void fmt_ip(const struct xtap_addr *a, const uint8_t *ip, char *out)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family == 2 /* AF_INET */) {
		fmt_ip4(ip, out);
	} else if (!memcmp(ip, v4mapped, sizeof(v4mapped))) {
		/* dual-stack listeners see IPv4 peers as ::ffff:a.b.c.d */
		fmt_ip4(ip + 12, out);
	} else {
		inet_ntop(AF_INET6, ip, out, TXN_IP_MAX);
	}
}

/* ---- both ends of a connection on this node ---- */

/* One end of a connection: IPv4 as v4-mapped IPv6, so a dual-stack
 * listener's view (::ffff:a.b.c.d) meets the client's (a.b.c.d). */
struct ep_key {
	uint8_t ip[16];
	uint16_t port;
};

static void ep_of(const struct xtap_addr *a, bool local, struct ep_key *k)
{
	const uint8_t *ip = local ? a->laddr : a->raddr;

	memset(k, 0, sizeof(*k));
	if (a->family == 2 /* AF_INET */) {
		k->ip[10] = k->ip[11] = 0xff;
		memcpy(k->ip + 12, ip, 4);
	} else {
		memcpy(k->ip, ip, 16);
	}
	k->port = local ? a->lport : a->rport;
}

/* The client end of c's connection, and the server end. */
static void ep_client(const struct conn *c, struct ep_key *k)
{
	ep_of(&c->addr, c->role == XTAP_ROLE_CLIENT, k);
}

static void ep_server(const struct conn *c, struct ep_key *k)
{
	ep_of(&c->addr, c->role != XTAP_ROLE_CLIENT, k);
}

static bool ep_eq(const struct ep_key *a, const struct ep_key *b)
{
	return a->port == b->port && !memcmp(a->ip, b->ip, sizeof(a->ip));
}

static uint32_t ep_bucket(const struct ep_key *k)
{
	uint64_t a, b;

	memcpy(&a, k->ip, 8);
	memcpy(&b, k->ip + 8, 8);
	return hash64(a ^ hash64(b ^ k->port)) & (EP_BUCKETS - 1);
}

static bool ep_loopback(const struct ep_key *k)
{
	static const uint8_t v4m[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t one[16] = { [15] = 1 };

	return (!memcmp(k->ip, v4m, sizeof(v4m)) && k->ip[12] == 127) ||
	       !memcmp(k->ip, one, sizeof(one));
}

static void ep_insert(struct conn *c)
{
	struct ep_key k;
	uint32_t b;

	if (c->in_ep_index || !c->have_addr ||
	    (c->role != XTAP_ROLE_CLIENT && c->role != XTAP_ROLE_SERVER))
		return;
	ep_client(c, &k);
	b = ep_bucket(&k);
	c->enext = ep_buckets[b];
	ep_buckets[b] = c;
	c->in_ep_index = true;
}

static void ep_remove(struct conn *c)
{
	struct ep_key k;
	struct conn **slot;

	if (!c->in_ep_index)
		return;
	ep_client(c, &k);
	for (slot = &ep_buckets[ep_bucket(&k)]; *slot; slot = &(*slot)->enext) {
		if (*slot == c) {
			*slot = c->enext;
			break;
		}
	}
	c->in_ep_index = false;
}

/* The other end of c's connection among the connections of `role` on this
 * node: the same client end, and the same server end unless only one
 * candidate exists (a DNAT'd service address differs on the two sides).
 * *seen: some connection had c's client end. */
static struct conn *ep_other_end(const struct conn *c, uint8_t role, bool *seen)
{
	struct ep_key k, ks, xk;
	struct conn *x, *loose = NULL;
	int n_loose = 0;

	ep_client(c, &k);
	ep_server(c, &ks);
	for (x = ep_buckets[ep_bucket(&k)]; x; x = x->enext) {
		if (x == c || x->role != role)
			continue;
		ep_client(x, &xk);
		if (!ep_eq(&xk, &k))
			continue;
		*seen = true;
		ep_server(x, &xk);
		if (ep_eq(&xk, &ks))
			return x;
		loose = x;
		n_loose++;
	}
	return n_loose == 1 ? loose : NULL;
}

/* A server on this node read a request of c's: take the oldest call on c
 * that no server has claimed. */
static struct span_ref node_caller(struct conn *c, bool *seen)
{
	struct conn *cc = ep_other_end(c, XTAP_ROLE_CLIENT, seen);
	struct span_ref none = { 0 };

	if (!cc)
		return none;
	for (struct pending *q = cc->q_head; q; q = q->next) {
		struct span *cs = span_get(q->txn.span);

		if (cs && !cs->has_child_link) {
			/* claimed even when a header decides the server's
			 * context: the next request on cc pairs with the next */
			cs->has_child_link = true;
			return q->txn.span;
		}
	}
	return none;
}

static bool adopt(struct pending *q, struct span_ref call)
{
	struct span *ss = span_get(q->txn.span), *cs;

	if (!ss || ss->state != SPAN_AWAIT || !span_link(q->txn.span, call))
		return false;
	cs = span_get(call);
	cs->has_child_link = true;
	cs->callee_traced = true;
	span_seed_caller(q->txn.span, call);
	xtap_ctr.links_node++;
	return true;
}

/* A call whose request a server on this node read before the call's record
 * came in (records of two processes arrive in any order): that server's
 * request waits (SPAN_AWAIT), in its connection's queue or, finished, in
 * the deferred list. */
static void adopt_waiting_server(struct conn *c, struct span_ref call)
{
	bool seen = false;
	struct conn *sc = ep_other_end(c, XTAP_ROLE_SERVER, &seen);
	char ip[TXN_IP_MAX];

	if (sc) {
		for (struct pending *q = sc->q_head; q; q = q->next)
			if (adopt(q, call))
				return;
	}
	if (!defer_head)
		return;
	fmt_ip(&c->addr, c->addr.laddr, ip);
	for (struct pending *q = defer_head; q; q = q->next) {
		const struct xtap_txn *t = &q->txn;

		if (t->role != XTAP_ROLE_CLIENT && t->peer_port == c->addr.lport &&
		    t->local_port == c->addr.rport && !strcmp(t->peer_ip, ip) && adopt(q, call))
			return;
	}
}

/* The incoming request of this process that an outgoing call t serves: the
 * one read by the same thread (thread per request), else the only one in
 * flight (an event loop with one request). Several candidates: none, as a
 * wrong parent is worse than none. */
static struct span_ref call_parent(struct proc *proc, const struct xtap_txn *t, bool *ambiguous)
{
	struct pending *q, *by_tid = NULL, *any = NULL;
	int n_tid = 0, n_any = 0, scanned = 0;
	struct span_ref none = { 0 };

	/* the kernel named the request (its thread's, its goroutine's, its
	 * process's only one: propagate.bpf.h, go_http.bpf.h) */
	if (t->kctx.parent_id &&
	    (t->kctx.source == XTAP_CTX_THREAD || t->kctx.source == XTAP_CTX_PROCESS)) {
		for (q = proc->inflight; q && scanned < INFLIGHT_SCAN_MAX; q = q->if_next, scanned++)
			if (q->txn.kctx.span_id == t->kctx.parent_id)
				return q->txn.span;
		/* that request was unsampled, kept back in the kernel: no
		 * other request in flight is this call's parent */
		if (t->kctx.sampled == XTAP_SAMPLED_NO)
			return none;
		scanned = 0;
	}
	for (q = proc->inflight; q && scanned < INFLIGHT_SCAN_MAX; q = q->if_next, scanned++) {
		if (q->txn.start_ns > t->start_ns)
			continue; /* began after the call: not its cause */
		n_any++;
		any = q;
		if (q->txn.tid == t->tid) {
			n_tid++;
			by_tid = q;
		}
	}
	if (n_tid == 1)
		return by_tid->txn.span;
	if (n_tid == 0 && n_any == 1 && !q)
		return any->txn.span;
	if (n_any) {
		xtap_ctr.link_ambiguous++;
		*ambiguous = true;
	}
	return none;
}

/* Hex by hand: these run for every request head, and printf's
 * machinery cost more than the rest of linking it. */
static const char hexd[] = "0123456789abcdef";

static void fmt_kernel_trace_id(const uint8_t b[16], char out[XID_TRACE_LEN + 1])
{
	char *p = out;

	*p++ = '1';
	*p++ = '-';
	for (int i = 0; i < 16; i++) {
		if (i == 4)
			*p++ = '-';
		*p++ = hexd[b[i] >> 4];
		*p++ = hexd[b[i] & 15];
	}
	*p = '\0';
}

static void fmt_kernel_span_id(uint64_t id, char out[XID_SPAN_LEN + 1])
{
	for (int i = 15; i >= 0; i--, id >>= 4)
		out[i] = hexd[id & 15];
	out[16] = '\0';
}

/* A caller on another node sent its context in a TCP option: the request
 * carries it as if in an X-Amzn-Trace-Id header, which then decides the
 * trace, its parent and its sampling like any header. */
static void take_tcp_option(struct xtap_txn *t)
{
	const struct xtap_trace_ctx *k = &t->kctx;
	char tid[XID_TRACE_LEN + 1], pid[XID_SPAN_LEN + 1];

	fmt_kernel_trace_id(k->trace_id, tid);
	fmt_kernel_span_id(k->parent_id, pid);
	snprintf(t->amzn_trace, sizeof(t->amzn_trace), "Root=%s;Parent=%s%s", tid, pid,
		 k->sampled == XTAP_SAMPLED_YES ? ";Sampled=1" :
		 k->sampled == XTAP_SAMPLED_NO ? ";Sampled=0" : "");
	t->has_amzn_trace = true;
	xtap_ctr.links_tcp_option++;
}

/* The ids the kernel sent with a call (or will, from its request's
 * context) become the span's: its own id, and the trace id it takes if it
 * ends up a root. A linked call whose trace the kernel saw otherwise is
 * counted: the callee on another node then starts another trace. */
static void seed_from_kernel(struct span *s, const struct xtap_txn *t, struct span_ref parent)
{
	const struct xtap_trace_ctx *k = &t->kctx;
	struct span *ps;

	if (k->source == XTAP_CTX_NONE || k->source == XTAP_CTX_HEADER)
		return;
	fmt_kernel_trace_id(k->trace_id, s->seed_trace_id);
	if (k->source == XTAP_CTX_TCPOPT)
		fmt_kernel_span_id(k->parent_id, s->seed_parent_id);
	ps = parent.gen ? span_get(parent) : NULL;
	if (ps && ps->state == SPAN_ROOT) {
		const char *pt = ps->trace_id[0] ? ps->trace_id : ps->seed_trace_id;

		if (pt[0] && strcmp(pt, s->seed_trace_id))
			xtap_ctr.link_ctx_mismatch++;
	}
}

/* The request head of p is known: make its span and link it. The sampling
 * decision is made here for the first exchange of a trace; the others
 * inherit theirs when resolved. */
static void link_request(struct conn *c, struct pending *p)
{
	struct xtap_txn *t = &p->txn;
	struct span_ref parent = { 0 };
	struct trace_ctx hc;
	bool hdr = segment_header_ctx(t, &hc) && hc.trace_id[0];
	bool seen = false, ambiguous = false;
	struct span *s;
	struct ep_key k;

	t->span = span_new(t->start_ns / 1000000000ull);
	s = span_get(t->span);
	/* a call's id is the one the kernel sent in its option: before any
	 * link copies it */
	if (c->role == XTAP_ROLE_CLIENT && t->kctx.span_id)
		fmt_kernel_span_id(t->kctx.span_id, s->id);
	if (txn_kernel_decided(t)) {
		s->kernel_decided = true;
		s->drop = t->kctx.sampled == XTAP_SAMPLED_YES ? SPAN_KEEP : SPAN_DROP_SAMPLER;
	}
	if (c->role == XTAP_ROLE_CLIENT) {
		/* a trace header the process put on the call is what the
		 * callee continues: it wins over the request in flight */
		if (c->proc && !hdr)
			parent = call_parent(c->proc, t, &ambiguous);
		/* its request's trace, unsampled in the kernel, stands for it
		 * as a root's would */
		if (!parent.gen && !hdr && t->kctx.sampled == XTAP_SAMPLED_NO &&
		    (t->kctx.source == XTAP_CTX_THREAD || t->kctx.source == XTAP_CTX_PROCESS)) {
			t->kctx.source = XTAP_CTX_ROOT;
			t->kctx.decided = 1;
			s->kernel_decided = true;
			s->drop = SPAN_DROP_SAMPLER;
		}
		if (parent.gen && span_link(t->span, parent))
			xtap_ctr.links_call++;
		s->own_segment = ambiguous;
		if (c->have_addr)
			adopt_waiting_server(c, t->span);
	} else {
		if (c->proc)
			inflight_add(c->proc, p);
		/* with a trace header the context is the header's: the call
		 * is not marked traced, as no segment will name it parent */
		if (c->have_addr)
			parent = node_caller(c, &seen);
		if (c->have_addr)
			ep_client(c, &k);
		/* a caller on this node is linked here, with more certainty
		 * than its option gives; one elsewhere only by the option */
		if (!hdr && !parent.gen && t->kctx.source == XTAP_CTX_TCPOPT &&
		    !(c->have_addr && (seen || ep_loopback(&k)))) {
			take_tcp_option(t);
			hdr = segment_header_ctx(t, &hc) && hc.trace_id[0];
		}
		if (!hdr && parent.gen && span_link(t->span, parent)) {
			span_get(parent)->callee_traced = true;
			xtap_ctr.links_node++;
		} else if (!hdr && link_wait_ns && c->have_addr && (seen || ep_loopback(&k))) {
			s->state = SPAN_AWAIT;
			s->deadline_ns = clock_mono_now() + link_wait_ns;
		}
	}
	if (!hdr) {
		seed_from_kernel(s, t, parent);
		if (c->role != XTAP_ROLE_CLIENT && s->state == SPAN_CHILD)
			span_seed_caller(t->span, parent);
	} else if (c->role != XTAP_ROLE_CLIENT && t->kctx.source == XTAP_CTX_NEW) {
		xtap_ctr.link_ctx_mismatch++; /* the kernel missed the header: its calls did too */
	}
	t->inherits = s->state == SPAN_CHILD;
	if (hdr && !t->inherits) {
		memcpy(s->trace_id, hc.trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, hc.parent_id, sizeof(s->parent_id));
	}
	if (head_fn)
		head_fn(t, sink_ctx);
	/* a server on this node may have given this call its kernel's
	 * decision already (adopt_waiting_server) */
	if (!t->inherits && !s->kernel_decided)
		s->drop = t->drop;
}

/* ---- parser callbacks ---- */

static void copy_str(char *dst, size_t dst_size, const char *src)
{
	size_t n = strnlen(src, dst_size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A request's place in c's queue, cleared up to its method; NULL (and
 * counted) when the pool is exhausted. */
static struct pending *pending_new(struct conn *c)
{
	struct pending *p;

	if (c->q_len >= CONN_PENDING_MAX) {
		xtap_ctr.pending_overflow++;
		pending_free(pending_pop(c));
	}
	p = pending_alloc();
	if (!p) {
		xtap_ctr.pending_pool_full++;
		return NULL;
	}
	memset(p, 0, offsetof(struct pending, txn) + offsetof(struct xtap_txn, method));
	return p;
}

static void pending_enqueue(struct conn *c, struct pending *p)
{
	p->next = NULL;
	if (c->q_tail)
		c->q_tail->next = p;
	else
		c->q_head = p;
	c->q_tail = p;
	c->q_len++;
}

/* The kernel kept an unsampled request back but cannot frame its
 * response: a placeholder takes that response, so that the requests
 * behind it get their own, and the pair is dropped. */
static void conn_muted_request(struct conn *c, bool head)
{
	struct pending *p = pending_new(c);

	if (!p)
		return;
	p->muted = true;
	if (head)
		memcpy(p->txn.method, "HEAD", sizeof("HEAD"));
	else
		p->txn.method[0] = '\0';
	pending_enqueue(c, p);
}

static bool on_request_head(struct conn *c, const struct http_msg *m)
{
	struct http_stream *resp;
	struct pending *p;
	struct xtap_txn *t;
	uint8_t req_dir;

	/* the first request decides the role of a connection xtap saw only
	 * after accept/connect */
	req_dir = c->cur_dir;
	if (c->role == XTAP_ROLE_UNKNOWN) {
		c->role = req_dir == XTAP_DIR_IN ? XTAP_ROLE_SERVER : XTAP_ROLE_CLIENT;
	} else if ((c->role == XTAP_ROLE_SERVER) != (req_dir == XTAP_DIR_IN)) {
		xtap_ctr.http_role_mismatch++;
		return false;
	}
	/* a new exchange begins: a response whose end was lost ends now */
	resp = &c->st[!req_dir];
	if (resp->state == HTTP_S_LOST)
		http_stream_finish(resp, &ops, c);

	p = pending_new(c);
	if (!p)
		return false;
	t = &p->txn;
	t->role = c->role;
	t->https = c->https;
	t->pid = c->tgid;
	t->tid = c->last_tid;
	if (c->proc) {
		memcpy(t->comm, c->proc->comm, sizeof(t->comm));
		copy_str(t->exe, sizeof(t->exe), c->proc->exe);
	} else {
		t->comm[0] = t->exe[0] = '\0';
	}
	copy_str(t->method, sizeof(t->method), m->method);
	copy_str(t->target, sizeof(t->target), m->target);
	copy_str(t->host, sizeof(t->host), m->host);
	t->has_host = m->has_host;
	copy_str(t->user_agent, sizeof(t->user_agent), m->user_agent);
	t->has_user_agent = m->has_user_agent;
	copy_str(t->xff, sizeof(t->xff), m->xff);
	t->has_xff = m->has_xff;
	copy_str(t->amzn_trace, sizeof(t->amzn_trace), m->amzn_trace);
	t->has_amzn_trace = m->has_amzn_trace;
	copy_str(t->traceparent, sizeof(t->traceparent), m->traceparent);
	t->has_traceparent = m->has_traceparent;
	t->head_truncated = m->head_truncated;
	t->local_ip[0] = t->peer_ip[0] = '\0';
	t->local_port = t->peer_port = 0;
	if (c->have_addr) {
		fmt_ip(&c->addr, c->addr.laddr, t->local_ip);
		fmt_ip(&c->addr, c->addr.raddr, t->peer_ip);
		t->local_port = c->addr.lport;
		t->peer_port = c->addr.rport;
	}
	t->status = 0;
	t->content_length = -1;
	t->start_ns = clock_mono_to_epoch(m->start_ts);
	t->end_ns = t->start_ns;
	t->drop = SPAN_KEEP;
	t->rule_name[0] = '\0';
	t->trace_id[0] = '\0';
	t->callee_traced = false;
	if (c->tctx[req_dir].source) {
		t->kctx = c->tctx[req_dir];
		c->tctx[req_dir].source = XTAP_CTX_NONE;
	}
	link_request(c, p);
	pending_enqueue(c, p);
	return false;
}

static bool on_head(void *ctx, const struct http_msg *m)
{
	struct conn *c = ctx;
	struct xtap_txn *t;

	if (m->is_request)
		return on_request_head(c, m);
	if (m->status >= 100 && m->status < 200 && m->status != 101)
		return false; /* interim (100-continue): the final response follows */
	if (!c->q_head) {
		xtap_ctr.orphan_responses++;
		return false;
	}
	t = &c->q_head->txn;
	t->has_response = true;
	t->status = m->status;
	t->content_length = m->content_length;
	t->head_truncated |= m->head_truncated;
	if (!strcmp(t->method, "HEAD"))
		return true;
	return !strcmp(t->method, "CONNECT") && m->status >= 200 && m->status < 300;
}

static void on_done(void *ctx, const struct http_done *d)
{
	struct conn *c = ctx;
	struct pending *p;

	if (d->is_request)
		return;
	if (d->status >= 100 && d->status < 200 && d->status != 101)
		return;
	if (!c->q_head || !c->q_head->txn.has_response)
		return;
	p = pending_pop(c);
	if (d->status == 101 || (!strcmp(p->txn.method, "CONNECT") && d->status < 300))
		c->opaque = true;
	p->txn.end_ns = clock_mono_to_epoch(d->end_ts);
	if (p->txn.end_ns < p->txn.start_ns)
		p->txn.end_ns = p->txn.start_ns;
	emit(p);
}

static void on_error(void *ctx, enum http_err err, uint64_t nbytes)
{
	(void)ctx;
	(void)nbytes;
	switch (err) {
	case HTTP_ERR_NOT_HTTP:
		xtap_ctr.bytes_not_http++;
		break;
	case HTTP_ERR_MALFORMED:
		xtap_ctr.http_malformed++;
		break;
	case HTTP_ERR_HEAD_TOO_LARGE:
		xtap_ctr.http_head_too_large++;
		break;
	case HTTP_ERR_LOST_SYNC:
		xtap_ctr.http_lost_sync++;
		break;
	}
}

static const struct http_stream_ops ops = {
	.on_head = on_head,
	.on_done = on_done,
	.on_error = on_error,
};

/* ---- records ---- */

/* Records of c were lost: its streams have holes the parser cannot see,
 * and pairing across one could give a request another's response. Requests
 * that have their response head are written as they stand; those still
 * waiting for one are dropped, and counted; both directions wait for the
 * next message start. */
static void conn_gap(struct conn *c)
{
	struct pending *p;

	if (c->opaque)
		return;
	while ((p = pending_pop(c))) {
		if (p->txn.has_response) {
			p->txn.end_ns = clock_mono_to_epoch(c->last_ts);
			if (p->txn.end_ns < p->txn.start_ns)
				p->txn.end_ns = p->txn.start_ns;
			emit(p);
		} else {
			xtap_ctr.gap_dropped++;
			pending_free(p);
		}
	}
	http_stream_resync(&c->st[XTAP_DIR_IN]);
	http_stream_resync(&c->st[XTAP_DIR_OUT]);
}

static void touch(struct conn *c, const struct xtap_ev_hdr *h)
{
	c->last_ts = h->ts_ns;
	c->last_tid = h->tid;
	lru_unlink(c);
	lru_push(c);
}

/* End every connection of the process, which frees its entry. */
static void proc_forget(uint32_t tgid)
{
	struct proc *p = proc_find(tgid, NULL);

	/* the last conn_end frees p */
	while (p && p->conns) {
		struct conn *next = p->conns->pnext;
		bool last = next == NULL;

		conn_end(p->conns);
		if (last)
			break;
	}
}

int conn_handle_record(const void *rec, size_t size)
{
	const struct xtap_ev_hdr *h = rec;
	struct conn *c;

	if (size < sizeof(*h))
		return -EINVAL;
	xtap_ctr.events++;
	switch (h->type) {
	case XTAP_EV_OPEN: {
		const struct xtap_conn_event *e = rec;

		if (size < sizeof(*e))
			return -EINVAL;
		c = conn_create(h, e->comm, e->start_ns);
		if (!c)
			return 0;
		if (!c->have_addr) {
			c->addr = e->addr;
			c->have_addr = true;
			ep_insert(c);
		}
		touch(c, h);
		return 0;
	}
	case XTAP_EV_DATA: {
		const struct xtap_data_event *e = rec;
		uint32_t cap;

		if (size < offsetof(struct xtap_data_event, data))
			return -EINVAL;
		cap = e->cap_len;
		if (cap > size - offsetof(struct xtap_data_event, data) || cap > e->len ||
		    e->tail_len > XTAP_TAIL_LEN || e->tail_len > e->len - cap)
			return -EINVAL;
		xtap_ctr.data_events++;
		c = conn_create(h, NULL, 0); /* finds it, or recovers from a lost OPEN */
		if (!c)
			return 0;
		touch(c, h);
		c->https |= XTAP_SYS_IS_TLS(h->sys);
		if (e->flags & XTAP_DATA_GAP)
			conn_gap(c);
		if (c->opaque || h->dir > XTAP_DIR_OUT)
			return 0;
		if (e->flags & XTAP_DATA_MUTED) {
			conn_muted_request(c, e->flags & XTAP_DATA_MUTED_HEAD);
			return 0;
		}
		if (!e->len)
			return 0;
		c->cur_dir = h->dir;
		if (e->tctx.source)
			c->tctx[h->dir] = e->tctx;
		http_stream_feed_tail(&c->st[h->dir], e->data, cap, e->len, e->tail, e->tail_len,
				      h->ts_ns, &ops, c);
		return 0;
	}
	case XTAP_EV_CLOSE:
		c = conn_find(h->conn_id, NULL);
		if (c) {
			xtap_ctr.conns_closed++;
			conn_end(c);
		}
		return 0;
	case XTAP_EV_EXIT:
		k8s_meta_pid_exit(h->tgid); /* the pid may come back as another process */
		proc_forget(h->tgid);
		return 0;
	case XTAP_EV_EXEC:
		/* another program: its name and executable are read afresh,
		 * and the connections exec closed end here (no close(2) for
		 * CLOEXEC fds; those it kept are new connections to the BPF
		 * side, whose epoch changed) */
		proc_forget(h->tgid);
		return 0;
	default:
		return -EINVAL;
	}
}

void conn_sweep(uint64_t now_ns)
{
	struct conn *c = lru_head;

	while (c) {
		struct conn *next = c->lru_next;
		uint64_t idle = now_ns > c->last_ts ? now_ns - c->last_ts : 0;

		if (idle >= CONN_IDLE_NS) {
			xtap_ctr.conns_expired++;
			conn_end(c);
		} else if (idle >= CONN_LOST_QUIET_NS) {
			for (int d = 0; d < 2; d++)
				if (c->st[d].state == HTTP_S_LOST)
					http_stream_finish(&c->st[d], &ops, c);
		} else {
			break; /* the rest are more recent */
		}
		c = next;
	}
}

void conn_table_flush(void)
{
	/* nothing more will come to link: every context is final now */
	flushing = true;
	while (lru_head)
		conn_end(lru_head);
	conn_tick(clock_mono_now());
	flushing = false;
	while (pool_free) {
		struct pending *p = pool_free;

		pool_free = p->next;
		free(p);
	}
	pool_allocated = 0;
}
