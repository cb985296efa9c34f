/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Delivery of finished documents: a bounded queue drained by one thread, so
 * a slow sink never stalls capture. Sinks: the X-Ray daemon over UDP, JSON
 * lines on stdout or to a file. */
#ifndef XTAP_EXPORTER_H
#define XTAP_EXPORTER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* The queue holds at most this many documents and this many bytes; a submit
 * past either bound is refused and counted (drop-newest). */
#define EXPORTER_QUEUE_DOCS 4096
#define EXPORTER_QUEUE_BYTES (16u * 1024 * 1024)

#define DAEMON_DEFAULT_ADDR "127.0.0.1:2000"

struct daemon_addr {
	struct sockaddr_storage udp;
	socklen_t udp_len;
	struct sockaddr_storage tcp;
	socklen_t tcp_len;
};

/* Parse AWS_XRAY_DAEMON_ADDRESS: "host:port" (both UDP and TCP) or
 * "tcp:host:port udp:host:port" in either order, both parts required
 * (the X-Ray daemon). IPv6 hosts in brackets. Numeric hosts and "localhost".
 * Returns 0 or -EINVAL, with a one-line reason in err (errlen bytes). */
int daemon_addr_parse(const char *s, struct daemon_addr *out, char *err, size_t errlen);

struct exporter_config {
	bool udp; /* send to the daemon */
	struct daemon_addr daemon;
	bool to_stdout; /* JSON lines on stdout */
	const char *file; /* JSON lines appended to this file; NULL: none */
};

struct exporter_stats {
	uint64_t submitted;
	uint64_t dropped_full; /* queue full */
	uint64_t udp_sent;
	uint64_t udp_errors; /* sendto failed (nothing listening is not an error for UDP) */
	uint64_t too_large; /* over the datagram limit: not sent by UDP */
	uint64_t lines_written;
	uint64_t write_errors;
	uint64_t queue_depth;
};

struct exporter; /* opaque */

/* Returns NULL with errno set. */
struct exporter *exporter_start(const struct exporter_config *cfg);
/* A submit wakes the exporter thread only when this many documents wait;
 * otherwise exporter_kick() does, or the thread's own EXPORTER_IDLE_MS timer. */
#define EXPORTER_KICK_DOCS 256
#define EXPORTER_IDLE_MS 100

/* Copy doc into the queue. 0, or -ENOBUFS when full (counted). Thread-safe. */
int exporter_submit(struct exporter *ex, const char *doc, size_t len);
/* Wake the exporter thread for what has been submitted (once per batch of
 * submits, not per document). Thread-safe. */
void exporter_kick(struct exporter *ex);
/* Drain what is queued for at most deadline_ms, then stop and free.
 * final (may be NULL) receives the counters as they stand at the end. */
void exporter_stop(struct exporter *ex, int deadline_ms, struct exporter_stats *final);
void exporter_get_stats(struct exporter *ex, struct exporter_stats *st);

#endif /* XTAP_EXPORTER_H */
