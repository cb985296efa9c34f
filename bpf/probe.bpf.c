// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Empty programs, one per hook kind, for `xtap probe`: each is loaded and
 * attached on its own, so the kernel itself says whether it has the hook. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_getpid")
int probe_tracepoint(void *ctx)
{
	return 0;
}

SEC("raw_tp/sched_process_fork")
int probe_raw_tp(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int probe_tp_btf(void *ctx)
{
	return 0;
}

/* tcp_sendmsg: present and not inlined on every kernel xtap targets */
SEC("kprobe/tcp_sendmsg")
int probe_kprobe(void *ctx)
{
	return 0;
}

SEC("fentry/tcp_sendmsg")
int probe_fentry(void *ctx)
{
	return 0;
}

/* attached by the agent to a function of its own binary */
SEC("uprobe")
int probe_uprobe(void *ctx)
{
	return 0;
}

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *ctx)
{
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
