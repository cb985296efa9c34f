// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The naive tracer of the overhead issue, as a yardstick for `make bench`:
 * 256 bytes of every read/write-family syscall of every process into a
 * ring buffer, wake-ups batched (the reader polls on a timer). No
 * filtering, no parsing: what xtap is measured against. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define COPY 256

struct rec {
	__u32 pid;
	__u32 len;
	__u8 data[COPY];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} rb SEC(".maps");

/* the buffer, from enter to exit (by thread) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} bufs SEC(".maps");

const volatile __u32 self = 0;

static __always_inline void enter(__u64 buf)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (id >> 32 != self)
		bpf_map_update_elem(&bufs, &id, &buf, BPF_ANY);
}

static __always_inline void leave(long ret, bool iov)
{
	__u64 id = bpf_get_current_pid_tgid(), *bp = bpf_map_lookup_elem(&bufs, &id);
	__u64 buf;
	struct rec *r;

	if (!bp)
		return;
	buf = *bp;
	bpf_map_delete_elem(&bufs, &id);
	if (ret <= 0)
		return;
	if (iov && bpf_probe_read_user(&buf, sizeof(buf), (void *)buf)) /* iov[0].iov_base */
		return;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r)
		return;
	r->pid = id >> 32;
	r->len = ret;
	if (bpf_probe_read_user(r->data, ret < COPY ? (ret & (COPY - 1)) : COPY, (void *)buf))
		r->len = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#define HOOK(name, iov)                                                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                          \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                              \
	{                                                                                    \
		enter(ctx->args[1]);                                                         \
		return 0;                                                                    \
	}                                                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                           \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                                \
	{                                                                                    \
		leave(ctx->ret, iov);                                                        \
		return 0;                                                                    \
	}

HOOK(read, false)
HOOK(write, false)
HOOK(recvfrom, false)
HOOK(sendto, false)
HOOK(readv, true)
HOOK(writev, true)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
