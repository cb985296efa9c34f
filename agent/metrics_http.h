/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's own HTTP endpoint: /healthz, Prometheus /metrics, /status
 * JSON for `xtap status`, and, to loopback clients only, /conns and
 * /segments for `xtap dump`. One thread, non-blocking sockets, poll():
 * at most METRICS_CONN_MAX clients at once (more wait in the listen
 * backlog), requests of at most METRICS_REQ_MAX bytes, METRICS_TIMEOUT_MS
 * for a whole exchange. HTTP/1.0: one request per connection. */
#ifndef XTAP_METRICS_HTTP_H
#define XTAP_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "../include/xtap.h"

#define METRICS_DEFAULT_ADDRESS "127.0.0.1:9710"
#define METRICS_ADDRESS_ENV "XTAP_METRICS_ADDRESS"
#define METRICS_CONN_MAX 8
#define METRICS_REQ_MAX 4096
#define METRICS_TIMEOUT_MS 5000
/* /healthz fails when the event loop has not turned for this long (it
 * turns at least every CAPTURE_POLL_MS). */
#define METRICS_STALE_NS (5ull * 1000000000)

struct json_t;
struct telemetry;
struct exporter;
struct xray_api;
struct sampler;
struct recent;

/* What the endpoint reads; everything but tel may be NULL. */
struct metrics_source {
	struct telemetry *tel;
	struct exporter *ex;
	struct xray_api *xa;
	struct sampler *sampler;
	struct recent *recent;
	int programs_attached;
	/* The BPF side, called on the endpoint's thread: kernel counters
	 * (0 or -errno) and the programs and maps (a new reference). */
	int (*kernel_stats)(void *ctx, uint64_t out[XTAP_STAT_MAX]);
	struct json_t *(*bpf_status)(void *ctx);
	void *bpf_ctx;
	/* how the agent was started (scope, sinks); borrowed, not changed */
	struct json_t *config;
	const char *version;
};

/* The address to use: opt, else $XTAP_METRICS_ADDRESS, else the default;
 * NULL when that is "none" or "off". *explicit_out (may be NULL): it was
 * not the default. */
const char *metrics_address(const char *opt, bool *explicit_out);
/* "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface). 0, or -EINVAL
 * with a one-line reason in err. */
int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
		       size_t errlen);

struct metrics_http;

/* Bind, listen and start the thread. NULL with errno set and the reason
 * in err (errlen bytes). */
struct metrics_http *metrics_http_start(const char *addr, const struct metrics_source *src,
					char *err, size_t errlen);
/* The bound port (when the address asked for port 0). */
int metrics_http_port(const struct metrics_http *m);
/* Stop the thread, close every client, free. NULL ok. */
void metrics_http_stop(struct metrics_http *m);

#endif /* XTAP_METRICS_HTTP_H */
