/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel layout differences, one accessor each, resolved by CO-RE at load. */
#ifndef XTAP_CORE_FIXES_BPF_H
#define XTAP_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* sk_protocol was an 8-bit bitfield beside sk_type until 5.6 (commit
 * bf9765145b85 "sock: Make sk_protocol a 16-bit value"); the bitfield read
 * handles both shapes. */
static __always_inline __u16 sk_get_protocol(struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* files_struct->fdt is RCU-managed since 2.6; the fd array lives in fdtable.
 * Unchanged in the kernels xtap supports (≥ 5.8 for the ring buffer). */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

#endif /* XTAP_CORE_FIXES_BPF_H */
