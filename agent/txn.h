/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One HTTP exchange as the trace builder hands it to the segment writer. */
#ifndef XTAP_TXN_H
#define XTAP_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "span.h"
#include "../include/xtap.h"

#define TXN_IP_MAX 46 /* INET6_ADDRSTRLEN */
#define TXN_EXE_MAX 256
#define TXN_RULE_MAX 33 /* X-Ray rule names: 1..32 characters */
#define TXN_POD_MAX 254 /* a pod name is a DNS subdomain: <= 253 */
#define TXN_CONTAINER_ID_MAX 65 /* 64 hex */
#define TXN_K8S_LABEL_MAX 64 /* namespaces, container names: DNS labels, <= 63 */
#define TXN_K8S_UID_MAX 37 /* a UUID */

/* Kubernetes metadata of the process (agent/k8s_meta.h); "" = unknown. */
struct txn_k8s {
	char pod[TXN_POD_MAX];
	char pod_uid[TXN_K8S_UID_MAX];
	char ns[TXN_K8S_LABEL_MAX];
	char container[TXN_K8S_LABEL_MAX];
	char container_id[TXN_CONTAINER_ID_MAX]; /* from the cgroup, even without a pod */
	char workload[TXN_POD_MAX]; /* Deployment, StatefulSet, … name */
	char workload_kind[TXN_K8S_LABEL_MAX];
	/* The segment name the pod asks for: its xtap.io/segment-name
	 * annotation or label, else the workload, else the container name. */
	char name[TXN_POD_MAX];
	const char *node; /* lives as long as the agent; NULL: not on Kubernetes */
};

struct xtap_txn {
	uint8_t role; /* enum xtap_role: SERVER gives a segment, CLIENT a subsegment */
	bool https; /* the exchange was read from a TLS library (tls.bpf.h) */
	bool has_response;
	bool incomplete; /* the connection ended (close, exit) before the response */
	bool head_truncated; /* request or response head only partly captured */
	uint32_t pid;
	uint32_t tid;
	char comm[XTAP_COMM_LEN];
	char exe[TXN_EXE_MAX];
	/* Filled at the request head when Kubernetes metadata is on. Kept
	 * before `method` so conn.c's per-request memset clears it. */
	struct txn_k8s k8s;
	/* The sampling decision (enum span_drop), made at the request head
	 * (txn_head_fn) for the first exchange of a trace and inherited by the
	 * rest: a dropped exchange is still paired, but no document is written. */
	uint8_t drop;
	bool inherits; /* linked at its head: takes its parent's decision */
	char rule_name[TXN_RULE_MAX]; /* the centralized rule that sampled it, or "" */
	/* Trace context (span.h): the span is made at the request head; the
	 * ids are resolved when the document is written. trace_id "": none
	 * (segment_trace_ctx() decides from the headers). */
	struct span_ref span;
	char trace_id[XID_TRACE_LEN + 1];
	char span_id[XID_SPAN_LEN + 1];
	char parent_id[XID_SPAN_LEN + 1];
	bool callee_traced; /* a client call whose request a traced server read */
	bool own_segment; /* a client call written as a segment of its own (span.h) */
	/* the kernel's context of the request head (source NONE: none) */
	struct xtap_trace_ctx kctx;
	/* request */
	char method[HTTP_METHOD_MAX];
	char target[HTTP_TARGET_MAX];
	char host[HTTP_HOST_MAX]; /* Host header, as sent (may carry :port) */
	bool has_host;
	char user_agent[HTTP_UA_MAX];
	bool has_user_agent;
	char xff[HTTP_XFF_MAX];
	bool has_xff;
	char amzn_trace[HTTP_TRACE_MAX];
	bool has_amzn_trace;
	char traceparent[HTTP_TRACEPARENT_MAX];
	bool has_traceparent;
	/* the socket */
	char local_ip[TXN_IP_MAX];
	char peer_ip[TXN_IP_MAX]; /* the remote end: client on a server socket, server on a client one */
	uint16_t local_port;
	uint16_t peer_port;
	/* response */
	int status;
	int64_t content_length; /* -1 when the response had no Content-Length */
	/* epoch nanoseconds: first request byte, last response byte, as the process saw them */
	uint64_t start_ns;
	uint64_t end_ns;
};

/* The kernel decided the sampling of the trace t starts at its head
 * (kernel_sample), and t's calls carried it to other nodes. */
static inline bool txn_kernel_decided(const struct xtap_txn *t)
{
	return t->kctx.decided &&
	       (t->kctx.source == XTAP_CTX_NEW || t->kctx.source == XTAP_CTX_ROOT) &&
	       (t->kctx.sampled == XTAP_SAMPLED_YES || t->kctx.sampled == XTAP_SAMPLED_NO);
}

#endif /* XTAP_TXN_H */
