// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections and processes, keyed as the BPF side names them (conn_id,
 * tgid), with request/response pairing on top of the HTTP parser. */
#include <arpa/inet.h>
#include <errno.h>
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

#define CONN_BUCKETS (1u << 17) /* 2x CONN_TABLE_MAX keeps chains short */
#define PROC_BUCKETS (1u << 14)

struct proc;

struct pending {
	struct pending *next;
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
};

struct proc {
	uint32_t tgid;
	struct proc *hnext;
	struct conn *conns;
	char comm[XTAP_COMM_LEN];
	char exe[TXN_EXE_MAX];
};

struct xtap_counters xtap_ctr;

static struct conn *conn_buckets[CONN_BUCKETS];
static struct proc *proc_buckets[PROC_BUCKETS];
static struct conn *lru_head, *lru_tail;
static size_t n_conns;
static struct pending *pool_free;
static size_t pool_allocated;
static txn_head_fn head_fn;
static txn_sink_fn sink_fn;
static void *sink_ctx;

static const struct http_stream_ops ops;

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

size_t conn_table_size(void)
{
	return n_conns;
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

static struct proc *proc_get(uint32_t tgid, const char *comm)
{
	struct proc **slot;
	struct proc *p = proc_find(tgid, &slot);
	char path[64];
	ssize_t n;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
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

static struct pending *pending_pop(struct conn *c)
{
	struct pending *p = c->q_head;

	if (!p)
		return NULL;
	c->q_head = p->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_len--;
	return p;
}

static void emit(struct pending *p)
{
	xtap_ctr.transactions++;
	if (p->txn.incomplete)
		xtap_ctr.incomplete++;
	sink_fn(&p->txn, sink_ctx);
	pending_free(p);
}

/* ---- connections ---- */

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

static struct conn *conn_create(const struct xtap_ev_hdr *h, const char *comm)
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
	c->proc = proc_get(h->tgid, comm);
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

static void fmt_ip(const struct xtap_addr *a, const uint8_t *ip, char *out)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family == 2 /* AF_INET */) {
		inet_ntop(AF_INET, ip, out, TXN_IP_MAX);
	} else if (!memcmp(ip, v4mapped, sizeof(v4mapped))) {
		/* dual-stack listeners see IPv4 peers as ::ffff:a.b.c.d */
		inet_ntop(AF_INET, ip + 12, out, TXN_IP_MAX);
	} else {
		inet_ntop(AF_INET6, ip, out, TXN_IP_MAX);
	}
}

/* ---- parser callbacks ---- */

static void copy_str(char *dst, size_t dst_size, const char *src)
{
	size_t n = strnlen(src, dst_size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
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

	if (c->q_len >= CONN_PENDING_MAX) {
		xtap_ctr.pending_overflow++;
		pending_free(pending_pop(c));
	}
	p = pending_alloc();
	if (!p) {
		xtap_ctr.pending_pool_full++;
		return false;
	}
	memset(p, 0, offsetof(struct pending, txn) + offsetof(struct xtap_txn, method));
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
	t->unsampled = false;
	t->rule_name[0] = '\0';
	if (head_fn)
		head_fn(t, sink_ctx);
	p->next = NULL;
	if (c->q_tail)
		c->q_tail->next = p;
	else
		c->q_head = p;
	c->q_tail = p;
	c->q_len++;
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

static void touch(struct conn *c, const struct xtap_ev_hdr *h)
{
	c->last_ts = h->ts_ns;
	c->last_tid = h->tid;
	lru_unlink(c);
	lru_push(c);
}

int conn_handle_record(const void *rec, size_t size)
{
	const struct xtap_ev_hdr *h = rec;
	struct conn *c;
	struct proc *p;

	if (size < sizeof(*h))
		return -EINVAL;
	xtap_ctr.events++;
	switch (h->type) {
	case XTAP_EV_OPEN: {
		const struct xtap_conn_event *e = rec;

		if (size < sizeof(*e))
			return -EINVAL;
		c = conn_create(h, e->comm);
		if (!c)
			return 0;
		c->addr = e->addr;
		c->have_addr = true;
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
		c = conn_create(h, NULL); /* finds it, or recovers from a lost OPEN */
		if (!c)
			return 0;
		touch(c, h);
		c->https |= XTAP_SYS_IS_TLS(h->sys);
		if (c->opaque || h->dir > XTAP_DIR_OUT)
			return 0;
		c->cur_dir = h->dir;
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
		p = proc_find(h->tgid, NULL);
		if (!p)
			return 0;
		/* the last conn_end frees p */
		while (p->conns) {
			struct conn *next = p->conns->pnext;
			bool last = next == NULL;

			conn_end(p->conns);
			if (last)
				break;
		}
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
	while (lru_head)
		conn_end(lru_head);
	while (pool_free) {
		struct pending *p = pool_free;

		pool_free = p->next;
		free(p);
	}
	pool_allocated = 0;
}
