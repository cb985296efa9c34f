/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the event loop shows to other threads (the metrics endpoint). The
 * loop owns xtap_ctr and the connection table and never waits for a reader:
 * it publishes a copy of the counters at most every TELEMETRY_PUBLISH_NS
 * under a mutex it only try-locks, stamps a heartbeat every turn, and lists
 * its connections when a reader has asked for them. */
#ifndef XTAP_TELEMETRY_H
#define XTAP_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>
#include "conn.h"
#include "counters.h"

#define TELEMETRY_PUBLISH_NS (100ull * 1000000)
/* Connections one listing holds (most recently used first): the buffer,
 * allocated once, is TELEMETRY_CONNS_MAX * sizeof(struct conn_info),
 * about 200 KiB. */
#define TELEMETRY_CONNS_MAX 1024

struct telemetry_snapshot {
	struct xtap_counters ctr;
	uint64_t conns; /* connections in the table */
	uint64_t published_ns; /* monotonic; 0: nothing published yet */
};

struct telemetry;

/* NULL with errno set. */
struct telemetry *telemetry_new(void);
void telemetry_free(struct telemetry *t);

/* ---- the event loop ---- */
/* Every turn: the heartbeat, a due publish, a pending connection listing. */
void telemetry_tick(struct telemetry *t, uint64_t now_ns);
/* The programs are attached (true) or the loop is ending (false). */
void telemetry_set_ready(struct telemetry *t, bool ready);

/* ---- any other thread ---- */
void telemetry_get(struct telemetry *t, struct telemetry_snapshot *out);
/* Monotonic time of the loop's last turn (0: none yet) and the ready flag. */
uint64_t telemetry_last_turn(struct telemetry *t);
bool telemetry_ready(struct telemetry *t);
/* Ask the loop for its connections and wait up to timeout_ms. Returns the
 * number listed into out (at most TELEMETRY_CONNS_MAX) with *total the
 * table's size, or -ETIMEDOUT when the loop did not answer in time (a
 * stalled loop, or none). One caller at a time. */
int telemetry_conns(struct telemetry *t, struct conn_info *out, uint64_t *total, int timeout_ms);

#endif /* XTAP_TELEMETRY_H */
