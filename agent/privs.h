/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* After the programs are loaded and attached, `xtap run` keeps only the
 * capabilities it still uses (capabilities(7)):
 *   CAP_SYS_PTRACE  /proc/PID/exe and /proc/PID/maps of processes of other
 *                   users or with capabilities the agent lacks (ptrace
 *                   access mode checks, ptrace(2))
 *   CAP_SYS_ADMIN   TLS only: uprobes attached to processes that start
 *                   later (perf_event_open(2) of a uprobe, the libbpf
 *                   feature probes at the first attach) and
 *                   /proc/PID/map_files (proc(5)). It passes every CAP_BPF
 *                   and CAP_PERFMON check too, so those two go.
 *   CAP_DAC_READ_SEARCH  TLS only, when held: /proc/PID/map_files of a
 *                   process of another user is a directory of that user,
 *                   mode 0500 (a root shell has it; the deployments do not
 *                   grant it, and there such processes are not traced)
 * A capability the agent does not hold is not kept.
 * Everything else leaves the effective, permitted and inheritable sets of
 * every thread, and the ambient set; the bounding set loses it too when the
 * agent holds CAP_SETPCAP (a root shell does; a systemd unit or a pod with a
 * bounding set of their own already did). no_new_privs is set. Capabilities
 * are per thread: each thread drops its own, on a real-time signal
 * (PRIVS_SIGNAL), the way libcap's psx does, without the library. */
#ifndef XTAP_PRIVS_H
#define XTAP_PRIVS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Threads that block every signal must leave this one open (exporter.c). */
#define PRIVS_SIGNAL (SIGRTMIN + 7)
/* Threads of the agent at most (a handful run; more is a bug). */
#define PRIVS_THREADS_MAX 128

/* The capability mask (bit n: capability n) kept with or without TLS. */
uint64_t privs_needed(bool tls);
/* Drop every capability outside privs_needed(tls) in every thread, set
 * no_new_privs, and log what was kept. 0, or -errno (reported): a thread
 * that could not drop is an error, the agent must not run half dropped. */
int privs_drop(bool tls);

/* This process's capability sets and no_new_privs as /proc/self/status
 * shows them: {"effective", "permitted", "bounding": [names], "no_new_privs"}
 * (a jansson json_t *, a new reference; NULL on failure). */
struct json_t;
struct json_t *privs_status_json(void);

#endif /* XTAP_PRIVS_H */
