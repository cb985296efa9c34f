/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Direct export to the X-Ray API: PutTraceSegments (POST /TraceSegments),
 * SigV4-signed by libcurl with the credentials from aws_creds.h. Its own
 * thread and bounded queue, batches of at most 50 documents, retries with
 * exponential backoff and full jitter on 429, 5xx and network errors.
 *
 * Also the one place that knows the X-Ray endpoint, so other parts (the
 * sampler) call the X-Ray API through xray_api_call(). */
#ifndef XTAP_XRAY_API_H
#define XTAP_XRAY_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of PutTraceSegments (the X-Ray API reference). */
#define XRAY_BATCH_MAX 50
#define XRAY_DOC_MAX (64 * 1024)
/* Queue bound; a submit past either is refused and counted (drop-newest). */
#define XRAY_QUEUE_DOCS 4096
#define XRAY_QUEUE_BYTES (16u * 1024 * 1024)
/* A partial batch goes out once its oldest document has waited this long
 * (the daemon's IdleTimeoutMillisecond is 1000: the same latency). */
#define XRAY_IDLE_MS 1000
/* Retries: attempt n (from 0) sleeps a uniform random time in
 * [0, min(XRAY_BACKOFF_CAP_MS, XRAY_BACKOFF_BASE_MS << n)] (full jitter);
 * at most XRAY_ATTEMPTS_MAX attempts and XRAY_RETRY_BUDGET_MS in all per
 * batch, then the batch is dropped and counted. */
#define XRAY_BACKOFF_BASE_MS 100
#define XRAY_BACKOFF_CAP_MS 5000
#define XRAY_ATTEMPTS_MAX 5
#define XRAY_RETRY_BUDGET_MS 30000
#define XRAY_CONNECT_TIMEOUT_MS 2000
#define XRAY_TIMEOUT_MS 5000

#define XRAY_ENDPOINT_MAX 512

/* Set the endpoint and region once at start-up, before xray_api_start or
 * xray_api_call. endpoint_flag (--xray-endpoint) may be NULL; region may be
 * NULL only when an endpoint override exists. 0, -EINVAL, -ENOSPC. */
int xray_api_configure(const char *endpoint_flag, const char *region);
/* The configured base URL ("" before xray_api_configure). */
const char *xray_api_endpoint(void);

/* Endpoint choice: endpoint_flag, else AWS_ENDPOINT_URL_XRAY, else
 * AWS_ENDPOINT_URL, else https://xray.<region>.amazonaws.com (.com.cn for
 * cn-*). A trailing '/' is removed. *overridden tells whether it came
 * from a flag or the environment. 0, -EINVAL (no region and no
 * override), -ENOSPC. */
int xray_endpoint_select(const char *endpoint_flag, const char *region, char *out, size_t n,
			 bool *overridden);

/* One signed call: POST <endpoint><path> with a JSON body, bounded by
 * XRAY_CONNECT_TIMEOUT_MS / XRAY_TIMEOUT_MS, no retry. Signed with the
 * current aws_creds_get() credentials; when there are none and the
 * endpoint was overridden (the daemon's TCP proxy signs itself), it is
 * sent unsigned. Returns 0 with *status (HTTP status) and *body (malloc'ed,
 * NUL-terminated, may be NULL; free it) when an answer arrived; otherwise a
 * negative errno as http_request (-ENOENT: no credentials and no override,
 * -ENOTCONN: not configured). A 403 ExpiredToken / InvalidClientTokenId
 * also calls aws_creds_invalidate(). Thread-safe. */
int xray_api_call(const char *path, const char *json, size_t len, long *status, char **body,
		  size_t *body_len);

/* --export: where documents go besides stdout and -o files. */
enum xray_export_mode {
	XRAY_EXPORT_AUTO = 0, /* see xray_export_setup */
	XRAY_EXPORT_DAEMON, /* UDP to the daemon */
	XRAY_EXPORT_API, /* PutTraceSegments */
	XRAY_EXPORT_BOTH,
	XRAY_EXPORT_NONE,
};

/* "auto", "daemon", "api", "both", "none". 0 or -EINVAL. */
int xray_export_mode_parse(const char *s, enum xray_export_mode *m);

/* Decide the export path at start-up and log it, once, with the reason.
 * auto: the daemon when a daemon address is configured (daemon_explicit:
 * --daemon-address or AWS_XRAY_DAEMON_ADDRESS); otherwise the API when a
 * region and credentials are found now (IMDS only asked on EC2), else the
 * daemon at its default address. api/both: starts aws_creds and
 * xray_api_configure; fails without a region (and no endpoint override)
 * or with no credential provider (and no override: then requests go
 * unsigned). Sets *udp and *api. 0, or -EINVAL with the reason logged
 * (a configuration error: exit 2). aws_creds_stop() at exit in any case. */
int xray_export_setup(enum xray_export_mode m, const char *region_flag, const char *endpoint_flag,
		      bool daemon_explicit, bool *udp, bool *api);

struct xray_api_stats {
	uint64_t submitted;
	uint64_t dropped_full; /* queue full, or still queued at the stop deadline */
	uint64_t too_large; /* over XRAY_DOC_MAX: refused at submit */
	uint64_t sent; /* documents in batches that got a 2xx */
	uint64_t batches; /* 2xx answers */
	uint64_t retries; /* attempts after the first */
	uint64_t failed; /* documents dropped after the retries ran out */
	uint64_t rejected; /* documents dropped on a non-retryable 4xx */
	uint64_t unprocessed; /* UnprocessedTraceSegments entries */
	uint64_t queue_depth;
};

struct xray_api;

/* Start the export thread. xray_api_configure first. NULL with errno. */
struct xray_api *xray_api_start(void);
/* Copy doc into the queue. 0; -ENOBUFS when full; -EMSGSIZE over
 * XRAY_DOC_MAX (both counted). Never blocks on the network. Thread-safe. */
int xray_api_submit(struct xray_api *xa, const char *doc, size_t len);
/* Send what is queued for at most deadline_ms (retries are cut short by
 * it), then stop and free. final (may be NULL) receives the counters. */
void xray_api_stop(struct xray_api *xa, int deadline_ms, struct xray_api_stats *final);
void xray_api_get_stats(struct xray_api *xa, struct xray_api_stats *st);

/* ---- parts, exposed for the unit tests ---- */

/* {"TraceSegmentDocuments":[docs as JSON strings]} for n <= XRAY_BATCH_MAX
 * documents. malloc'ed NUL-terminated string, length in *out_len; NULL on
 * error (errno: EINVAL for n out of range or a document that is not valid
 * UTF-8, ENOMEM). */
char *xray_batch_build(const char *const *docs, const size_t *lens, size_t n, size_t *out_len);
/* Sleep before retry `attempt` (0-based) given a uniform random r in
 * [0, 2^32): r scaled into [0, min(cap, base << attempt)]. */
uint32_t xray_backoff_ms(unsigned attempt, uint32_t r);
/* What to do with an HTTP outcome: rc from http_request, status. */
enum xray_verdict { XRAY_OK, XRAY_RETRY, XRAY_DROP };
enum xray_verdict xray_classify(int rc, long status);

#endif /* XTAP_XRAY_API_H */
