/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Go: causality by goroutine, for propagate.bpf.h; included by
 * capture.bpf.c after tls.bpf.h (Go's register ABI). Attached per file,
 * with the TLS probes, by agent/tls_probes.c. */
#ifndef XTAP_GO_HTTP_BPF_H
#define XTAP_GO_HTTP_BPF_H

/* net/http serves a connection's requests in one goroutine, which also runs
 * the handler, but the handler's calls are written by the transport's
 * writeLoop goroutine, and goroutines move between threads: neither the
 * thread nor the process says which request a call serves. Four probes on
 * net/http carry the context from the goroutine that read the request to
 * the thread that writes its call (arguments per Go's internal register
 * ABI, tls.bpf.h's GO_ARG*, GO_G):
 *   serverHandler.ServeHTTP      the goroutine takes its thread's request
 *   (*response).finishRequest    and gives it up
 *   (*Transport).roundTrip       a call (its *Request) takes the goroutine's
 *   (*Request).write             the thread about to write it takes the
 *                                call's, for that one write */

struct go_key {
	__u64 ptr; /* a g, or a *http.Request */
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, struct go_key);
	__type(value, struct flight_ctx);
} ctx_goroutine SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CTX_MAX);
	__type(key, struct go_key);
	__type(value, struct flight_ctx);
} ctx_go_call SEC(".maps");

SEC("uprobe")
int go_http_serve(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct go_key k = { .ptr = GO_G(ctx), .tgid = pid_tgid >> 32 };
	struct flight_ctx *f;

	if (!propagate)
		return 0;
	f = bpf_map_lookup_elem(&ctx_thread, &tid);
	if (!f || f->tgid != k.tgid)
		return 0;
	bpf_map_update_elem(&ctx_goroutine, &k, f, BPF_ANY);
	/* the thread goes on to run other goroutines */
	bpf_map_delete_elem(&ctx_thread, &tid);
	return 0;
}

SEC("uprobe")
int go_http_finish(struct pt_regs *ctx)
{
	struct go_key k = { .ptr = GO_G(ctx), .tgid = bpf_get_current_pid_tgid() >> 32 };

	bpf_map_delete_elem(&ctx_goroutine, &k);
	return 0;
}

SEC("uprobe")
int go_http_roundtrip(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_key k = { .ptr = GO_G(ctx), .tgid = tgid };
	struct go_key req = { .ptr = GO_ARG2(ctx), .tgid = tgid };
	struct flight_ctx *f = bpf_map_lookup_elem(&ctx_goroutine, &k);

	if (f)
		bpf_map_update_elem(&ctx_go_call, &req, f, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_http_req_write(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct go_key req = { .ptr = GO_ARG1(ctx), .tgid = pid_tgid >> 32 };
	struct flight_ctx *f = bpf_map_lookup_elem(&ctx_go_call, &req);
	struct flight_ctx c;

	if (!f)
		return 0;
	c = *f;
	c.once = 1;
	bpf_map_delete_elem(&ctx_go_call, &req);
	bpf_map_update_elem(&ctx_thread, &tid, &c, BPF_ANY);
	return 0;
}

#endif /* XTAP_GO_HTTP_BPF_H */
