/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One bounded HTTP exchange through libcurl, optionally SigV4-signed by
 * libcurl itself (CURLOPT_AWS_SIGV4). Used for X-Ray calls and for fetching
 * credentials (STS, container provider, IMDS). No connection reuse: calls
 * are rare (a batch a second at most per thread) and a fresh handle keeps
 * the code free of shared state. */
#ifndef XTAP_HTTP_CLIENT_H
#define XTAP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* A response body larger than this is cut off and the call fails with
 * -EMSGSIZE: no AWS answer we read comes near it. */
#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_HEADERS_MAX 8

struct aws_creds;

struct http_req {
	const char *method; /* "GET", "POST", "PUT" */
	const char *url;
	const char *headers[HTTP_HEADERS_MAX]; /* "Name: value", NULL-terminated */
	const char *body; /* sent as CURLOPT_POSTFIELDS (so SigV4 hashes it); NULL: none */
	size_t body_len;
	long connect_timeout_ms; /* 0: 2000 */
	long timeout_ms; /* whole exchange; 0: 5000 */
	/* SigV4: when creds is not NULL, libcurl signs the request for
	 * sigv4_region/sigv4_service and, for temporary credentials, the
	 * X-Amz-Security-Token header is added before signing (libcurl >= 7.86
	 * signs every header the caller adds, so the token is signed). */
	const struct aws_creds *creds;
	const char *sigv4_region;
	const char *sigv4_service;
	/* Polled about once a second and at each transfer step: returning
	 * true aborts the exchange (-ECANCELED). NULL: never. */
	bool (*cancel)(void *arg);
	void *cancel_arg;
	/* Ignore http(s)_proxy: link-local and loopback credential endpoints
	 * (IMDS, the container agent) must never go through a proxy. */
	bool direct;
	/* CA bundle that verifies the server (CURLOPT_CAINFO); NULL: the
	 * system's. */
	const char *ca_file;
	/* Streaming: the body goes to on_data piece by piece as it arrives
	 * (a watch stream, a large list), not to resp->body, and
	 * HTTP_BODY_MAX does not apply: the callback bounds what it keeps.
	 * Returning false aborts the exchange (-ECANCELED). */
	bool (*on_data)(const char *p, size_t n, void *arg);
	void *on_data_arg;
};

struct http_resp {
	long status; /* 0 when no HTTP answer arrived */
	char *body; /* NUL-terminated, malloc'ed (free it); NULL when empty */
	size_t len;
	bool timed_out;
};

/* Perform req. Returns 0 when an HTTP status was received (any status:
 * look at resp->status), -ETIMEDOUT on a timeout, -ECONNREFUSED/-EHOSTUNREACH
 * and friends on network failure (-EIO when libcurl says nothing finer),
 * -EMSGSIZE for an oversized answer, -ECANCELED when cancel said so, -ENOMEM. resp is always initialised;
 * free resp->body with free() in every case. Thread-safe after
 * http_client_global_init(). err (errlen bytes, may be NULL) gets libcurl's
 * reason on failure. */
int http_request(const struct http_req *req, struct http_resp *resp, char *err, size_t errlen);

/* curl_global_init, once, before any thread calls http_request. 0 or -EIO. */
int http_client_global_init(void);

#endif /* XTAP_HTTP_CLIENT_H */
