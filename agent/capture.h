/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The event loop that `run` and `trace` share: tracefs, the capture
 * programs, the ring buffer, and one turn of reading and sweeping. What
 * happens to a finished transaction is the caller's (conn_table_init). */
#ifndef XTAP_CAPTURE_H
#define XTAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loader.h"

/* Poll timeout: BPF wakes the agent only when half the ring buffer is
 * pending, so this bounds how long a finished transaction may wait in it.
 * A turn that read CAPTURE_BUSY_RECORDS or more makes the next wait
 * CAPTURE_BUSY_POLL_MS: under load the agent then reads in a few large
 * batches a second. Each of its wake-ups on a busy node takes a CPU from a
 * traced process for a moment, and on two CPUs a client and a server that
 * were on one CPU each end up sharing one for a while, the other idle:
 * with nginx answering from memory at ~55,000 requests a second, the idle
 * time went from 8-9 to ~4.5 us per request (docs/performance.md). */
#define CAPTURE_POLL_MS 50
#define CAPTURE_BUSY_POLL_MS 200
#define CAPTURE_BUSY_RECORDS 4096
#define CAPTURE_SWEEP_NS 1000000000ull

struct telemetry;

/* A raw record consumer (trace --raw): the record is valid during the call. */
typedef void (*capture_raw_fn)(const void *rec, size_t size, void *ctx);

struct capture {
	struct loader *l;
	struct ring_buffer *rb;
	uint64_t last_sweep;
	int poll_ms; /* the next turn's wait */
	capture_raw_fn raw; /* NULL: records go to the connection table */
	void *raw_ctx;
	/* NULL, or where each turn publishes counters for other threads */
	struct telemetry *tel;
	/* the TLS probes were started (tls_probes.h): they take their records
	 * and their turn */
	bool tls;
};

/* SIGINT/SIGTERM end the loop (capture_stopping); SIGPIPE is ignored. */
void capture_handle_signals(void);
bool capture_stopping(void);

/* Mount tracefs if needed, load and attach the programs, open the ring
 * buffer. c->raw, c->raw_ctx and c->tel are read from c. 0 or -errno,
 * reported once; capture_close cleans up either way. */
int capture_open(struct capture *c, const struct loader_opts *lo);
/* One turn: wait up to c->poll_ms for records, read them all, and once
 * a second expire idle connections and resync the clock. *now (may be NULL)
 * receives the monotonic time after the turn. 0 or -errno (reported). */
int capture_turn(struct capture *c, uint64_t *now);
/* At the end: what the kernel already wrote still counts, and every
 * connection ends (requests without a response are emitted as incomplete). */
void capture_drain(struct capture *c);
void capture_close(struct capture *c);

#endif /* XTAP_CAPTURE_H */
