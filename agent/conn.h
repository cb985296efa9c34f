/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The connection table: capture records in, paired HTTP transactions out.
 * Owned by the event loop; not thread-safe. */
#ifndef XTAP_CONN_H
#define XTAP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "txn.h"

/* Connections tracked at once; past it the least recently used is dropped
 * (counted). Matches the BPF side's table. */
#define CONN_TABLE_MAX 65536
/* Requests awaiting their response on one connection (pipelining). */
#define CONN_PENDING_MAX 32
/* Requests awaiting a response across all connections: each holds a
 * struct xtap_txn (~3.5 KiB), so this bounds that memory to ~14 MiB. */
#define PENDING_POOL_MAX 4096
/* A connection with no record for this long is forgotten (its close was
 * never seen: close_range, a lost record). */
#define CONN_IDLE_NS (10ull * 60 * 1000000000ull)
/* A message whose framing was lost ends after this much quiet. */
#define CONN_LOST_QUIET_NS (1ull * 1000000000ull)

/* Called with each finished transaction; t is valid only during the call. */
typedef void (*txn_sink_fn)(struct xtap_txn *t, void *ctx);
/* Called once the request head of t is known (the response is not): the
 * sampling decision, as early as the bytes allow. Sets t->drop and
 * t->rule_name, unless t->inherits: linked to its parent already, it takes
 * the decision of the trace's first exchange when resolved. */
typedef void (*txn_head_fn)(struct xtap_txn *t, void *ctx);

/* head may be NULL (everything is emitted). */
void conn_table_init(txn_head_fn head, txn_sink_fn sink, void *ctx);
/* How long a request from this node waits, at most, for the record of the
 * call that sent it (span.h); 0: never waits. */
#define CONN_LINK_WAIT_DEFAULT_MS 250
void conn_table_set_link_wait(uint64_t ns);
/* Write the finished exchanges whose wait is over. Cheap when none waits:
 * call it every loop turn. now: monotonic ns. */
void conn_tick(uint64_t now_ns);
/* One ring buffer record. 0, or -EINVAL for a record that is too short or
 * of an unknown type (counted, never fatal). */
int conn_handle_record(const void *rec, size_t size);
/* Periodic work: idle expiry and lost-framing flushes. now: monotonic ns. */
void conn_sweep(uint64_t now_ns);
/* End every connection (agent shutdown): pending requests are emitted as incomplete. */
void conn_table_flush(void);
size_t conn_table_size(void);

/* One connection as `xtap dump conns` shows it. */
struct conn_info {
	uint64_t id;
	uint32_t tgid;
	int32_t fd;
	uint8_t role; /* enum xtap_role */
	bool opaque; /* no longer parsed (after 101 / CONNECT) */
	char comm[XTAP_COMM_LEN];
	char local_ip[TXN_IP_MAX]; /* "" until the socket's addresses are known */
	char peer_ip[TXN_IP_MAX];
	uint16_t local_port;
	uint16_t peer_port;
	uint32_t pending; /* requests awaiting their response */
	uint64_t last_ns; /* monotonic time of its last record */
};
/* The most recently used connections first, at most max of them: the
 * number written to out. */
size_t conn_table_list(struct conn_info *out, size_t max);

#endif /* XTAP_CONN_H */
