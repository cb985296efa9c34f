/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* X-Ray segment documents from transactions (the X-Ray segment document format). */
#ifndef XTAP_SEGMENT_H
#define XTAP_SEGMENT_H

#include <stddef.h>
#include "identity.h"
#include "txn.h"
#include "trace_header.h"

/* Largest document xtap writes; the daemon reads 64 KiB datagrams. */
#define SEGMENT_DOC_MAX 65000

struct segment_config {
	const char *name; /* -n / AWS_XRAY_TRACING_NAME; NULL: segment_service_name() */
	const char *sdk_version; /* aws.xray.sdk_version */
	/* Where xtap runs: aws.ec2 / aws.eks and origin on segments. NULL, or
	 * not known yet (identity_get() NULL): none. */
	const struct xtap_identity *identity;
	/* Per document, set by the pipeline on its copy: the centralized
	 * sampling rule that matched (aws.xray.rule_name). NULL or "": none. */
	const char *rule_name;
};

/* Decide the trace context of a transaction from its request headers:
 * X-Amzn-Trace-Id first, then traceparent; a missing or invalid trace id is
 * replaced by a new one (epoch of start_ns), a missing parent stays empty. */
void segment_trace_ctx(const struct xtap_txn *t, struct trace_ctx *ctx);
/* The context the request's headers give (X-Amzn-Trace-Id, then
 * traceparent): true when one did. */
bool segment_header_ctx(const struct xtap_txn *t, struct trace_ctx *ctx);
/* Only the Sampled flag of that context (enum trace_sampled), without
 * making a trace id: what the sampling decision needs at the request head. */
int segment_trace_sampled(const struct xtap_txn *t);

/* The segment name before cleaning: cfg->name (-n, AWS_XRAY_TRACING_NAME:
 * set on purpose, so it wins), else the name the pod's metadata gives
 * (t->k8s.name), else the process name. Also the ServiceName that sampling
 * rules match. *len (may be NULL) gets its length, bounded by the size of
 * the field it comes from. */
const char *segment_service_name(const struct xtap_txn *t, const struct segment_config *cfg,
				 size_t *len);
/* http.request.url as the document writes it (server: with the query;
 * client: without). */
void segment_url(const struct xtap_txn *t, char *url, size_t cap);

/* Write one document for t into buf: a segment for a server transaction, an
 * independent subsegment (type, trace_id, parent_id) for a client one.
 * id_out (XID_SPAN_LEN + 1) receives the document's id.
 * Returns the length, or -ENOSPC. Never called for Sampled=0 (the caller drops those). */
int segment_write(const struct xtap_txn *t, const struct trace_ctx *ctx,
		  const struct segment_config *cfg, char *buf, size_t cap, char *id_out);

#endif /* XTAP_SEGMENT_H */
