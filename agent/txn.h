/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One HTTP exchange as the trace builder hands it to the segment writer. */
#ifndef XTAP_TXN_H
#define XTAP_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "../include/xtap.h"

#define TXN_IP_MAX 46 /* INET6_ADDRSTRLEN */
#define TXN_EXE_MAX 256
#define TXN_RULE_MAX 33 /* X-Ray rule names: 1..32 characters */
#define TXN_POD_MAX 254 /* a pod name is a DNS subdomain: <= 253 */
#define TXN_CONTAINER_ID_MAX 65 /* 64 hex */

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
	/* Optional Kubernetes metadata for aws.eks (pod, container_id), filled
	 * by the Kubernetes metadata lookup when there is one; "" = unknown.
	 * Kept before `method` so conn.c's per-request memset clears them. */
	char k8s_pod[TXN_POD_MAX];
	char container_id[TXN_CONTAINER_ID_MAX];
	/* The sampling decision, made at the request head (txn_head_fn): an
	 * unsampled exchange is still paired, but no document is written. */
	bool unsampled;
	char rule_name[TXN_RULE_MAX]; /* the centralized rule that sampled it, or "" */
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

#endif /* XTAP_TXN_H */
