/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's own counters. The event loop is their only writer; readers on
 * other threads (metrics, later) may see values a moment old. */
#ifndef XTAP_COUNTERS_H
#define XTAP_COUNTERS_H

#include <stdint.h>

#define XTAP_COUNTERS(X)                                                                  \
	X(events, "ring buffer records read")                                              \
	X(data_events, "data records read")                                                \
	X(conns_opened, "connections tracked")                                             \
	X(conns_closed, "connections closed")                                              \
	X(conns_evicted, "connections dropped: table full (LRU)")                          \
	X(conns_expired, "connections dropped: idle too long")                             \
	X(pids_reused, "processes found gone when their pid came back (exit not seen)")    \
	X(bytes_not_http, "records dropped: not HTTP/1.x")                                 \
	X(http_malformed, "messages dropped: malformed head")                              \
	X(http_head_too_large, "messages dropped: head too large")                         \
	X(http_lost_sync, "messages whose framing was lost (ended by resync)")            \
	X(http_cut_short, "messages whose connection ended inside their body")              \
	X(http_role_mismatch, "messages in an unexpected direction")                       \
	X(orphan_responses, "responses without a request")                                 \
	X(pending_overflow, "requests dropped: too many awaiting a response")              \
	X(pending_pool_full, "requests dropped: pending pool exhausted")                   \
	X(gap_dropped, "requests dropped: records of their connection were lost")          \
	X(transactions, "transactions completed")                                          \
	X(incomplete, "transactions ended without a response")                             \
	X(sampled_out, "transactions not emitted: Sampled=0")                              \
	X(sampler_dropped, "transactions not emitted: the sampler said no")                \
	X(muted_here, "unsampled exchanges the kernel could not keep back whole, dropped here") \
	X(sampled_in_kernel, "trace starts sampled in the kernel, so their calls carry it") \
	X(links_call, "outgoing calls linked to the incoming request they serve")             \
	X(links_node, "incoming requests linked to a call seen on this node")               \
	X(link_ambiguous, "outgoing calls not linked: several requests in flight")         \
	X(links_tcp_option, "incoming requests linked by the TCP option of a caller")      \
	X(link_ctx_mismatch, "calls whose kernel-sent trace id differs from their trace")  \
	X(link_timeouts, "requests that waited for a parent on this node in vain")          \
	X(link_lost, "links broken: the parent's context was forgotten")                   \
	X(link_wait_overflow, "documents written early: too many waiting for a parent")     \
	X(segments, "segments written")                                                    \
	X(subsegments, "independent subsegments written")                                  \
	X(segment_errors, "documents that did not fit")                                    \
	X(export_dropped, "documents refused by a full export queue")                      \
	X(xray_dropped, "documents refused by the X-Ray API queue (full or over 64 KB)")     \
	X(tls_scans, "processes looked at for TLS libraries")                              \
	X(tls_attached, "files whose TLS probes were attached")                            \
	X(tls_detached, "files whose TLS probes were released: no process used them")     \
	X(tls_skipped, "files with a TLS library that could not be probed")                \
	X(tls_table_full, "TLS files or processes not tracked: table full")

struct xtap_counters {
#define X(name, help) uint64_t name;
	XTAP_COUNTERS(X)
#undef X
};

extern struct xtap_counters xtap_ctr;

#endif /* XTAP_COUNTERS_H */
