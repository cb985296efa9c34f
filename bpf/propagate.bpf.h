/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Trace context across nodes, included by capture.bpf.c.
 *
 * A call's packets leave inside the write(2) that sends its request, long
 * before the agent reads a record of it, so the kernel decides the context
 * itself, in the same terms the agent will use:
 *  - a server's request head takes the trace id of its X-Amzn-Trace-Id or
 *    traceparent header, else of the TCP option its caller sent, else a new
 *    one, sampled or not as the agent planned for the process
 *    (kernel_sample); the thread that read it and its process remember
 *    it while the request is served (thread per request; an event loop
 *    serving one);
 *  - a client's request head, at the write's enter, gets a new subsegment
 *    id and the context of its thread, else of its process's only request,
 *    else a new trace id; the socket keeps it until the response comes back.
 *    Only processes that serve requests do this: a pure client's calls
 *    start traces that nothing upstream links to, so they carry nothing;
 *  - a sockops program writes it as a TCP option on the data packets of
 *    that socket, and the server's side parses it into the socket it
 *    arrives on, for that socket's next request head.
 * Every record of a request head carries the context (xtap_trace_ctx), and
 * the agent adopts its ids. The agent links calls by the same rules, with
 * more knowledge; when the two disagree it counts it (link_ctx_mismatch). */
#ifndef XTAP_PROPAGATE_BPF_H
#define XTAP_PROPAGATE_BPF_H

/* tcp_flags bits (include/net/tcp.h, not in BTF) */
#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define TCPHDR_RST 0x04
/* contexts of sockets, threads and processes that may be waiting at once */
#define CTX_MAX 16384

/* CLOCK_REALTIME - CLOCK_MONOTONIC, kept by the agent: trace ids carry
 * the epoch seconds of their request */
volatile __s64 wall_offset_ns = 0;

/* Sampling in the kernel (xtap_sample_slot): the agent writes parameters,
 * plans and the generation through the mmap'd global data, no syscall;
 * with sampling off every trace that starts here is sampled. */
const volatile bool sample_all = false;
struct xtap_sample_slot sample_slots[XTAP_SAMPLE_SLOTS];
struct xtap_sample_plan sample_plans[XTAP_SAMPLE_PLANS];
volatile __u32 sample_gen = 0;

struct sock_ctx {
	__u8 trace_id[16];
	__u64 span_id; /* on the wire: the parent id, with the sampled flag */
	__u8 sampled;
	/* ctx_out: a request is on its way (its response not read yet). A
	 * keep-alive connection's entry stays, idle, and the next request
	 * writes over it in place: no map update per request. */
	__u8 active;
	__u8 pad[6];
};

struct flight_ctx {
	__u8 trace_id[16];
	__u64 req_key; /* the served request's key (xtap_trace_ctx.span_id of its record) */
	__u32 tgid;
	__s32 inflight; /* request heads read minus response heads written, by the
			 * thread (an event loop's thread serves several) or the process */
	__u8 sampled;
	__u8 once; /* a thread entry for one call (Go's writeLoop): gone once used */
	__u8 pad[6];
};

/* socket cookie → the context its packets carry out (client) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, __u64);
	__type(value, struct sock_ctx);
} ctx_out SEC(".maps");

/* socket cookie → the context its last option brought in (server) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, __u64);
	__type(value, struct sock_ctx);
} ctx_in SEC(".maps");

/* tid (thread) or tgid (process) → the request it serves */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, __u32);
	__type(value, struct flight_ctx);
} ctx_thread SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, __u32);
	__type(value, struct flight_ctx);
} ctx_proc SEC(".maps");

static __always_inline __u64 sk_cookie(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline void new_trace_id(__u8 id[16])
{
	__u32 epoch = (bpf_ktime_get_ns() + wall_offset_ns) / 1000000000ULL;
	__u32 r;

	id[0] = epoch >> 24;
	id[1] = epoch >> 16;
	id[2] = epoch >> 8;
	id[3] = epoch;
	r = bpf_get_prandom_u32();
	__builtin_memcpy(id + 4, &r, 4);
	r = bpf_get_prandom_u32();
	__builtin_memcpy(id + 8, &r, 4);
	r = bpf_get_prandom_u32();
	__builtin_memcpy(id + 12, &r, 4);
}

static __always_inline __u64 new_span_id(void)
{
	__u64 id = ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32()) &
		   ~XTAP_SPAN_FLAG_MASK;

	return id ? id : 4;
}

/* The decision for a trace process tgid starts, as the agent's sampler
 * would make it (sampler_decide): the slot's reservoir for the current
 * second, else one borrowed request a second, else its rate. The agent
 * draws from the same reservoir; a race between CPUs at most lets each
 * take one request over the quota. UNKNOWN when the agent left no plan:
 * its sampler decides, after the calls have left. */
static __always_inline __u8 kernel_sample(__u32 tgid)
{
	struct xtap_sample_plan *p = &sample_plans[tgid & (XTAP_SAMPLE_PLANS - 1)];
	struct xtap_sample_slot *sl;
	bool yes = false;
	__u64 sec;

	if (sample_all)
		return XTAP_SAMPLED_YES;
	if (p->tgid != tgid || p->gen != (__u16)sample_gen)
		return XTAP_SAMPLED_UNKNOWN;
	sl = &sample_slots[p->slot & (XTAP_SAMPLE_SLOTS - 1)];
	sec = (bpf_ktime_get_ns() + wall_offset_ns) / 1000000000ULL;
	if (sl->sec != sec) {
		sl->sec = sec;
		sl->taken = 0;
		sl->borrowed = 0;
	}
	__sync_fetch_and_add(&sl->requests, 1);
	if (sec <= sl->quota_until) {
		if (sl->taken < sl->quota) {
			__sync_fetch_and_add(&sl->taken, 1);
			yes = true;
		}
	} else if (sl->borrow && sl->borrowed < 1) {
		__sync_fetch_and_add(&sl->borrowed, 1);
		__sync_fetch_and_add(&sl->borrows, 1);
		yes = true;
	}
	if (!yes && (__u64)bpf_get_prandom_u32() < sl->rate)
		yes = true;
	if (!yes)
		return XTAP_SAMPLED_NO;
	__sync_fetch_and_add(&sl->sampled, 1);
	return XTAP_SAMPLED_YES;
}

static __always_inline int hexval(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n hex digits at data[at…] (scratch event) into out[n/2]; false on a
 * non-hex digit */
static __always_inline bool unhex(const __u8 *data, __u32 at, __u8 *out, int n)
{
	for (int k = 0; k < n; k += 2) {
		int hi = hexval(data[(at + k) & (2 * XTAP_CAP_MAX - 1)]);
		int lo = hexval(data[(at + k + 1) & (2 * XTAP_CAP_MAX - 1)]);

		if (hi < 0 || lo < 0)
			return false;
		out[k / 2] = hi << 4 | lo;
	}
	return true;
}

#define AMZN_NAME "-amzn-trace-id:"
#define TP_NAME "raceparent:"
/* bytes of a header's value looked at */
#define TRACE_VALUE_SCAN 128

struct amzn_scan {
	struct scratch *s;
	__u32 at; /* the value's first byte */
	__u32 n;
	bool root;
};

/* One byte of an X-Amzn-Trace-Id value (a bpf_loop callback, verified
 * once): where a key starts, "Root=1-" or "Sampled=". */
static long amzn_scan_byte(__u32 k, void *arg)
{
	struct amzn_scan *x = arg;
	struct xtap_trace_ctx *t = &x->s->ev.tctx;
	const __u8 *data = x->s->ev.data;
	__u32 i = (x->at + k) & (2 * XTAP_CAP_MAX - 1);
	__u8 prev;
	__u64 w;

	if (x->at + k + 8 > x->n || data[i] == '\r' || data[i] == '\n')
		return 1;
	prev = data[(i - 1) & (2 * XTAP_CAP_MAX - 1)];
	if (k && prev != ';' && prev != ' ')
		return 0;
	__builtin_memcpy(&w, data + i, 8);
	if ((w & 0x00ffffffffffffffULL) == 0x2d313d746f6f52ULL) { /* "Root=1-" */
		if (x->at + k + 40 > x->n || data[(i + 15) & (2 * XTAP_CAP_MAX - 1)] != '-' ||
		    !unhex(data, i + 7, t->trace_id, 8) || !unhex(data, i + 16, t->trace_id + 4, 24))
			return 1;
		x->root = true;
	} else if (w == 0x3d64656c706d6153ULL) { /* "Sampled=" */
		__u8 c = data[(i + 8) & (2 * XTAP_CAP_MAX - 1)];

		t->sampled = c == '1' ? XTAP_SAMPLED_YES :
			     c == '0' ? XTAP_SAMPLED_NO : XTAP_SAMPLED_UNKNOWN;
	}
	return 0;
}

/* X-Amzn-Trace-Id after a "\nx" at data[at - 1] of the scratch event, of
 * n captured bytes: its Root (1-8hex-24hex) and Sampled into the event's
 * trace context. A global function: verified once. */
__noinline int amzn_header_at(__u32 at, __u32 n)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_map, &zero);
	struct amzn_scan x = { .n = n };
	const __u8 *data;

	if (!sc)
		return 0;
	data = sc->ev.data;
	at &= XTAP_CAP_MAX - 1;
#pragma unroll
	for (int k = 0; k < (int)sizeof(AMZN_NAME) - 1; k++) {
		if (LOWER(data[at + k]) != AMZN_NAME[k])
			return 0;
	}
	x.s = sc;
	x.at = at + sizeof(AMZN_NAME) - 1;
	bpf_loop(TRACE_VALUE_SCAN, amzn_scan_byte, &x, 0);
	if (!x.root)
		return 0;
	sc->ev.tctx.source = XTAP_CTX_HEADER;
	return 1;
}

/* traceparent after a "\nt" at data[at - 1]: version-traceid-parent-flags */
__noinline int traceparent_at(__u32 at, __u32 n)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_map, &zero);
	struct xtap_trace_ctx *t;
	const __u8 *data;
	int flags;

	if (!sc)
		return 0;
	data = sc->ev.data;
	t = &sc->ev.tctx;
	at &= XTAP_CAP_MAX - 1;
#pragma unroll
	for (int k = 0; k < (int)sizeof(TP_NAME) - 1; k++) {
		if (LOWER(data[at + k]) != TP_NAME[k])
			return 0;
	}
	at += sizeof(TP_NAME) - 1;
	for (int k = 0; k < 4 && (data[at] == ' ' || data[at] == '\t'); k++)
		at++;
	at &= 2 * XTAP_CAP_MAX - 1;
	/* 00-<32>-<16>-<2>: 55 bytes */
	if (at + 55 > n || data[at + 2] != '-' || data[at + 35] != '-' || data[at + 52] != '-' ||
	    !unhex(data, at + 3, t->trace_id, 32))
		return 0;
	flags = hexval(data[at + 54]);
	if (flags < 0)
		return 0;
	/* as the agent converts it (trace_header.c) */
	t->sampled = (flags & 1) ? XTAP_SAMPLED_YES : XTAP_SAMPLED_NO;
	t->source = XTAP_CTX_HEADER;
	return 1;
}

static __always_inline bool starts_response(const __u8 *p)
{
	return p[0] == 'H' && p[1] == 'T' && p[2] == 'T' && p[3] == 'P' && p[4] == '/';
}

/* A server read a request head (n bytes captured, in the scratch event):
 * decide its context, put it in the record and remember it as what its
 * thread and process serve. */
static __always_inline void server_request_ctx(struct scratch *s, struct conn_val *v, __u32 n,
					       __u64 pid_tgid)
{
	struct xtap_trace_ctx *t = &s->ev.tctx;
	struct flight_ctx f = {}, *pf, *pt;
	struct sock_ctx *in;
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;

	t->sampled = XTAP_SAMPLED_UNKNOWN;
	/* the request's key, by which its calls name it to the agent */
	t->span_id = new_span_id();
	scratch_head_end(n); /* finds the trace headers' lines */
	if (!(s->amzn_at && amzn_header_at(s->amzn_at, n)) &&
	    !(s->tp_at && traceparent_at(s->tp_at, n))) {
		in = v->cookie ? bpf_map_lookup_elem(&ctx_in, &v->cookie) : NULL;
		if (in) {
			__builtin_memcpy(t->trace_id, in->trace_id, 16);
			t->parent_id = in->span_id;
			t->sampled = in->sampled;
			t->source = XTAP_CTX_TCPOPT;
			bpf_map_delete_elem(&ctx_in, &v->cookie);
		} else {
			new_trace_id(t->trace_id);
			t->sampled = kernel_sample(tgid);
			t->decided = t->sampled != XTAP_SAMPLED_UNKNOWN;
			t->source = XTAP_CTX_NEW;
		}
	}
	__builtin_memcpy(f.trace_id, t->trace_id, 16);
	f.sampled = t->sampled;
	f.tgid = tgid;
	f.req_key = t->span_id;
	pt = bpf_map_lookup_elem(&ctx_thread, &tid);
	f.inflight = pt && pt->tgid == tgid && !pt->once && pt->inflight > 0 ? pt->inflight + 1 : 1;
	if (pt)
		*pt = f; /* in place: a thread serves request after request */
	else
		bpf_map_update_elem(&ctx_thread, &tid, &f, BPF_ANY);
	f.inflight = 0;
	pf = bpf_map_lookup_elem(&ctx_proc, &tgid);
	if (pf) {
		__builtin_memcpy(pf->trace_id, t->trace_id, 16);
		pf->sampled = t->sampled;
		pf->req_key = t->span_id;
		pf->inflight++;
	} else {
		f.inflight = 1;
		bpf_map_update_elem(&ctx_proc, &tgid, &f, BPF_ANY);
	}
}

/* A server wrote a response head: its thread serves one request less. */
static __always_inline void server_response_ctx(__u64 pid_tgid)
{
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct flight_ctx *pf, *pt;

	/* the entry stays, idle (inflight 0), for the thread's next request */
	pt = bpf_map_lookup_elem(&ctx_thread, &tid);
	if (pt && pt->inflight > 0)
		pt->inflight--;
	pf = bpf_map_lookup_elem(&ctx_proc, &tgid);
	if (pf && pf->inflight > 0)
		pf->inflight--;
}

/* The request of key was answered whole (its exchange was kept from the
 * ring buffer, so the kernel saw where it ended): its thread and process
 * serve it no longer, whatever their counts say (a response head the
 * kernel did not see whole leaves them one high). */
static __always_inline void flight_end(__u64 pid_tgid, __u64 key)
{
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct flight_ctx *f = bpf_map_lookup_elem(&ctx_thread, &tid);

	if (f && f->req_key == key)
		f->inflight = 0;
	f = bpf_map_lookup_elem(&ctx_proc, &tgid);
	if (f && f->req_key == key)
		f->inflight = 0;
}

/* The first bytes a write-family syscall is about to send (enter side):
 * false when they cannot be read. */
static __always_inline bool first_bytes(__u64 buf, __u64 iovcnt, __u8 sys, __u8 out[8])
{
	struct iovec iov;
	__u64 p = buf;

	if (sys == XTAP_SYS_WRITEV || sys == XTAP_SYS_SENDMSG) {
		if (sys == XTAP_SYS_SENDMSG) {
			struct user_msghdr msg;

			if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf))
				return false;
			p = (__u64)msg.msg_iov;
			iovcnt = msg.msg_iovlen;
		}
		if (!iovcnt || bpf_probe_read_user(&iov, sizeof(iov), (void *)p) || iov.iov_len < 8)
			return false;
		p = (__u64)iov.iov_base;
	} else if (sys != XTAP_SYS_WRITE && sys != XTAP_SYS_SENDTO) {
		return false;
	}
	return bpf_probe_read_user(out, 8, (void *)p) == 0;
}

/* A client is about to send a request head on v's socket: a subsegment id
 * for the call, its trace context, and the socket carries both out. */
static __always_inline void client_request_ctx(struct conn_val *v, __u64 pid_tgid,
					       struct active_args *a)
{
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct xtap_trace_ctx *t = &a->tctx;
	struct flight_ctx *f;
	struct sock_ctx sc = {}, *out;
	__u8 head[8];

	if (!first_bytes(a->buf, a->iovcnt, a->sys, head) || !starts_msg(head) ||
	    starts_response(head))
		return;
	f = bpf_map_lookup_elem(&ctx_thread, &tid);
	if (f && f->tgid == tgid && (f->once || f->inflight == 1)) {
		t->source = XTAP_CTX_THREAD;
	} else {
		/* a process that has served no request (curl, a batch job)
		 * has no context to send: its call starts a trace, as the
		 * agent decides, and its packets carry nothing */
		f = bpf_map_lookup_elem(&ctx_proc, &tgid);
		if (!f)
			return;
		t->source = f->inflight == 1 ? XTAP_CTX_PROCESS : XTAP_CTX_ROOT;
	}
	if (t->source != XTAP_CTX_ROOT && f) {
		__builtin_memcpy(t->trace_id, f->trace_id, 16);
		t->sampled = f->sampled;
		t->parent_id = f->req_key;
		if (f->once)
			bpf_map_delete_elem(&ctx_thread, &tid);
	} else {
		new_trace_id(t->trace_id);
		t->sampled = kernel_sample(tgid);
		t->decided = t->sampled != XTAP_SAMPLED_UNKNOWN;
	}
	t->span_id = new_span_id();
	out = bpf_map_lookup_elem(&ctx_out, &v->cookie);
	if (!out) {
		bpf_map_update_elem(&ctx_out, &v->cookie, &sc, BPF_ANY);
		out = bpf_map_lookup_elem(&ctx_out, &v->cookie);
		if (!out)
			return;
	}
	__builtin_memcpy(out->trace_id, t->trace_id, 16);
	out->span_id = t->span_id;
	out->sampled = t->sampled;
	out->active = 1;
}

/* The response came back: the socket's packets go without the option. */
static __always_inline void sock_ctx_idle(__u64 cookie)
{
	struct sock_ctx *c = bpf_map_lookup_elem(&ctx_out, &cookie);

	if (c)
		c->active = 0;
}

/* ---- the TCP option ---- */

struct trace_opt {
	__u8 kind;
	__u8 len;
	__be16 exid;
	__u8 trace_id[16];
	__be64 parent; /* the caller's subsegment id | sampled */
} __attribute__((packed));

_Static_assert(sizeof(struct trace_opt) == XTAP_TCPOPT_LEN, "trace_opt layout");

static __always_inline bool sockops_in_scope(struct bpf_sock_ops *skops)
{
	return !scope_netns || bpf_get_netns_cookie(skops) == scope_netns;
}

/* --port, as classify() applies it */
static __always_inline bool sockops_port_in_scope(struct bpf_sock_ops *skops)
{
	__u16 lport = skops->local_port, rport = bpf_ntohl(skops->remote_port);

	return !scope_by_port || bpf_map_lookup_elem(&scope_ports, &lport) ||
	       bpf_map_lookup_elem(&scope_ports, &rport);
}

static __always_inline void set_cb_flags(struct bpf_sock_ops *skops, __u32 flag)
{
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | flag);
}

/* Client sockets ask to write options on their packets, server sockets to
 * see options the kernel does not know: neither costs anything on a socket
 * the other programs never tag (no context, no option). */
SEC("sockops")
int trace_sockops(struct bpf_sock_ops *skops)
{
	struct sock_ctx *c;
	struct trace_opt opt;
	__u64 cookie;

	if (!propagate || !sockops_in_scope(skops))
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB: {
		/* connect(2) runs here, in the caller's context: only a process
		 * that serves requests has a context to send, so only its
		 * connections pay for a callback per packet */
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!bpf_map_lookup_elem(&ctx_proc, &tgid) || !sockops_port_in_scope(skops))
			break;
		bpf_get_socket_cookie(skops); /* made now, read by classify() */
		set_cb_flags(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	}
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (!sockops_port_in_scope(skops))
			break;
		bpf_get_socket_cookie(skops);
		set_cb_flags(skops, BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		/* on the packets of a request (and when the MSS is computed
		 * for them), not on bare ACKs or the handshake */
		if (skops->skb_tcp_flags & (TCPHDR_SYN | TCPHDR_FIN | TCPHDR_RST))
			break;
		if (skops->args[0] != BPF_WRITE_HDR_TCP_CURRENT_MSS && !skops->skb_len)
			break;
		cookie = bpf_get_socket_cookie(skops);
		c = bpf_map_lookup_elem(&ctx_out, &cookie);
		if (!c || !c->active)
			break;
		if (bpf_reserve_hdr_opt(skops, XTAP_TCPOPT_LEN, 0) &&
		    skops->args[0] != BPF_WRITE_HDR_TCP_CURRENT_MSS)
			stat_add(XTAP_STAT_TCPOPT_NOSPACE, 1);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		cookie = bpf_get_socket_cookie(skops);
		c = bpf_map_lookup_elem(&ctx_out, &cookie);
		if (!c || !c->active)
			break;
		opt.kind = XTAP_TCPOPT_KIND;
		opt.len = XTAP_TCPOPT_LEN;
		opt.exid = bpf_htons(XTAP_TCPOPT_EXID);
		__builtin_memcpy(opt.trace_id, c->trace_id, 16);
		opt.parent = bpf_cpu_to_be64(c->span_id | (c->sampled & XTAP_SPAN_FLAG_MASK));
		if (bpf_store_hdr_opt(skops, &opt, sizeof(opt), 0))
			stat_add(XTAP_STAT_TCPOPT_NOSPACE, 1);
		else
			stat_add(XTAP_STAT_TCPOPT_WRITTEN, 1);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB: {
		struct sock_ctx in = {};
		__u64 parent;

		/* the search gives kind, a length of 4 and the experiment id */
		opt.kind = XTAP_TCPOPT_KIND;
		opt.len = 4;
		opt.exid = bpf_htons(XTAP_TCPOPT_EXID);
		if (bpf_load_hdr_opt(skops, &opt, sizeof(opt), 0) != XTAP_TCPOPT_LEN)
			break;
		parent = bpf_be64_to_cpu(opt.parent);
		__builtin_memcpy(in.trace_id, opt.trace_id, 16);
		in.span_id = parent & ~XTAP_SPAN_FLAG_MASK;
		in.sampled = parent & XTAP_SPAN_FLAG_MASK;
		if (!in.span_id)
			break;
		cookie = bpf_get_socket_cookie(skops);
		bpf_map_update_elem(&ctx_in, &cookie, &in, BPF_ANY);
		stat_add(XTAP_STAT_TCPOPT_PARSED, 1);
		break;
	}
	}
	return 1;
}

#endif /* XTAP_PROPAGATE_BPF_H */
