/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kubernetes metadata for transactions: pid → cgroup → container id → pod.
 *
 * Two halves with one owner each:
 *  - the pod store (this node's pods by uid and by container id), written
 *    by the watch thread (k8s_watch.c) under a mutex held for one pod's
 *    update at a time, with a generation number bumped on every change;
 *  - the process cache, owned by the event loop: pid → (process start
 *    time, cgroup identity, the metadata last resolved and the store
 *    generation it was resolved at). A request whose process is cached and
 *    whose store generation has not moved costs a hash lookup, one atomic
 *    load and a copy; no lock, no syscall. The store is asked again (under
 *    its mutex, briefly) only after a change.
 *
 * A pid is trusted for K8S_PID_RECHECK_NS; then its start time is read
 * again, so a pid reused by a new process is resolved afresh, and an exit
 * record (k8s_meta_pid_exit) forgets it at once. */
#ifndef XTAP_K8S_META_H
#define XTAP_K8S_META_H

#include <stdbool.h>
#include <stdint.h>
#include "cgroup_id.h"
#include "k8s_pod.h"
#include "txn.h"

/* Pods in the store. The kubelet runs at most 110 by default (250 at
 * most on EKS); past this a new pod is refused and counted. ~6 KiB each. */
#define K8S_PODS_MAX 1024
/* Processes cached; past this the least recently used is dropped
 * (counted). ~1.2 KiB each. */
#define K8S_PID_CACHE_MAX 4096
#define K8S_PID_RECHECK_NS (10ull * 1000000000ull)

struct k8s_meta_stats {
	/* the store */
	uint64_t pods; /* now */
	uint64_t containers; /* now, mapped by id */
	uint64_t pods_dropped; /* refused: K8S_PODS_MAX */
	uint64_t containers_cut; /* not mapped: K8S_CONTAINERS_MAX */
	/* the process cache */
	uint64_t procs; /* now */
	uint64_t procs_evicted;
	uint64_t procs_reused; /* same pid, another start time */
	uint64_t proc_unreadable; /* /proc/PID gone or unreadable at lookup */
	uint64_t with_pod; /* transactions given pod metadata */
	uint64_t without_pod; /* in a container, but no pod known for it */
};

/* Turn lookups on for this node (copied). proc_root: "/proc", or a test
 * tree with PID/cgroup and PID/stat files. 0 or -ENOMEM / -EINVAL. */
int k8s_meta_init(const char *node, const char *proc_root);
/* Forget everything and turn lookups off. No other thread may use the
 * store meanwhile. */
void k8s_meta_destroy(void);
bool k8s_meta_enabled(void);

/* ---- the watch thread ---- */

/* Insert or replace the pod with p's uid. 0, or -ENOSPC when the store is
 * full (counted). */
int k8s_meta_upsert(const struct k8s_pod *p, unsigned int containers_cut);
/* Remove the pod with this uid (if known). */
void k8s_meta_delete(const char *uid);
/* A full list replaces the store: pods not upserted between begin and end
 * are removed at end. */
void k8s_meta_sync_begin(void);
void k8s_meta_sync_end(void);

/* ---- the event loop ---- */

/* Fill t->k8s for process t->pid. No-op when lookups are off. */
void k8s_meta_fill(struct xtap_txn *t);
/* The same at a given monotonic time (tests). */
void k8s_meta_fill_at(struct xtap_txn *t, uint64_t now_ns);
/* The process exited: its pid may come back as another process. */
void k8s_meta_pid_exit(uint32_t pid);

/* The metadata for a cgroup identity as the store has it now: true when a
 * pod matched. out->node is set too. Takes the store's mutex. */
bool k8s_meta_lookup(const struct cgroup_ident *cg, struct txn_k8s *out);
/* Any thread; the event-loop counters may be a moment old. */
void k8s_meta_get_stats(struct k8s_meta_stats *s);

#endif /* XTAP_K8S_META_H */
