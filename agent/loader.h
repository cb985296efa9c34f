/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loads the capture programs: probe, configure, load, attach, one cleanup. */
#ifndef XTAP_LOADER_H
#define XTAP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../include/xtap.h"
#include "tls_inspect.h"

struct loader_opts {
	uint32_t cap_bytes; /* 1..XTAP_CAP_MAX */
	uint32_t ringbuf_mb; /* power of two */
	const uint32_t *pids;
	int n_pids;
	const uint16_t *ports;
	int n_ports;
	char *const *cgroups; /* cgroup v2 directories */
	int n_cgroups;
	bool tls; /* load the TLS programs (attached per file by tls_probes) */
	uint64_t netns_cookie; /* --netns: only sockets of this namespace; 0: all */
	bool propagate; /* trace context across nodes in a TCP option, when the kernel can */
	bool sample_all; /* sampling off: traces that start here are all sampled */
	bool mute_unsampled; /* the kernel keeps exchanges it knows are unsampled */
};

struct loader;

/* 0 or -errno; the failure is reported once, with what to do. */
int loader_open(const struct loader_opts *o, struct loader **out);
int loader_ringbuf_fd(const struct loader *l);
/* Sum of the per-CPU kernel counters, indexed by enum xtap_stat. */
int loader_read_stats(const struct loader *l, uint64_t out[XTAP_STAT_MAX]);
int loader_links(const struct loader *l);
/* Attach one TLS program at file offset off of path, for every process
 * (tls_attach_fn): the link, or NULL with errno set. */
struct bpf_link *loader_attach_tls(void *loader, enum tls_prog prog, const char *path, uint64_t off);
/* tls_detach_fn */
void loader_detach_tls(void *loader, struct bpf_link *link);
void loader_close(struct loader *l);
/* The programs (name, section, type, id, attached), the number of links and
 * the maps (name, type, id, max_entries; entries, counted, for hash maps)
 * as a jansson object, for `xtap status`. Any thread, while l is open: it
 * only reads the object's metadata and asks the kernel through map fds.
 * NULL on ENOMEM. */
struct json_t;
struct json_t *loader_status_json(const struct loader *l);

/* Load the capture programs as `run` would, without attaching them: the
 * verifier's verdict on this kernel. 0 or -errno (not reported: -v shows
 * libbpf's log). plan (may be NULL) receives [{"section", "use"}], whether
 * each program would be attached, as a new jansson array. */
int loader_try_load(struct json_t **plan);

/* "tracepoint/<cat>/<name>" exists on this kernel (arch and config decide
 * which syscalls have tracepoints); other sections: true. */
bool loader_tracepoint_exists(const char *sec);

/* Whether the trace context TCP option is on (loaded, and attached to the
 * cgroup v2 root). */
bool loader_propagating(const struct loader *l);
/* Keep the BPF side's wall clock (trace ids carry epoch seconds) in step
 * with CLOCK_REALTIME: cheap, call it now and then. */
void loader_sync_clock(struct loader *l);
/* Where the agent keeps the kernel's sampling slots, plans and their
 * generation (struct xtap_sample_slot): the object's mmap'd global data,
 * written without a syscall. NULL fields when the trace context is off:
 * then nothing decides in the kernel. */
struct loader_sampling {
	struct xtap_sample_slot *slots; /* XTAP_SAMPLE_SLOTS */
	struct xtap_sample_plan *plans; /* XTAP_SAMPLE_PLANS */
	volatile uint32_t *gen;
};
void loader_sampling(struct loader *l, struct loader_sampling *out);
/* This process's effective capabilities (CapEff), 0 when unreadable. */
uint64_t loader_cap_effective(void);
/* The cgroup v2 mount point (hybrid layouts put it at /sys/fs/cgroup/unified). */
bool loader_cgroup2_mount(char *out, size_t n);
/* Tracepoint programs can read a task's saved registers
 * (bpf_task_pt_regs, 5.15): a syscall's exit finds its arguments, and the
 * capture needs no enter program for it. */
bool loader_args_at_exit_supported(void);
/* The kernel lets sockops programs write, reserve and read TCP header
 * options and name their network namespace (5.15+). */
bool loader_tcp_option_supported(void);

/* Mount tracefs when it is missing (a fresh boot, a container): 0 or -errno. */
int tracefs_ensure(void);

#endif /* XTAP_LOADER_H */
