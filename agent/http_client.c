// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See http_client.h. Every exchange is bounded by its connect and total
 * timeouts, and the answer by HTTP_BODY_MAX; redirects are not followed
 * (no AWS endpoint we call redirects, and following one would carry the
 * signature or a credential token to another host). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "aws_creds.h"
#include "http_client.h"

#define CONNECT_TIMEOUT_DEFAULT_MS 2000
#define TIMEOUT_DEFAULT_MS 5000

struct sink {
	char *buf;
	size_t len;
	size_t cap;
	bool overflow;
	const struct http_req *req;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (s->req->on_data)
		return s->req->on_data(ptr, n, s->req->on_data_arg) ? n : 0;
	if (s->len + n > HTTP_BODY_MAX) {
		s->overflow = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while (cap < s->len + n + 1)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct http_req *req = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return req->cancel(req->cancel_arg) ? 1 : 0;
}

int http_client_global_init(void)
{
	static int done;

	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return 0;
}

static int curl_to_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int http_request(const struct http_req *req, struct http_resp *resp, char *err, size_t errlen)
{
	/* "X-Amz-Security-Token: " + token */
	char token_hdr[sizeof("X-Amz-Security-Token: ") + AWS_TOKEN_MAX];
	char sigv4[128];
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL, *t;
	struct sink s = { .req = req };
	CURLcode c;
	CURL *h;
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	if (err && errlen)
		err[0] = '\0';
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	for (int i = 0; i < HTTP_HEADERS_MAX && req->headers[i]; i++) {
		t = curl_slist_append(hl, req->headers[i]);
		if (!t) {
			rc = -ENOMEM;
			goto out;
		}
		hl = t;
	}
	if (req->creds) {
		/* libcurl >= 7.86 puts every caller header into the canonical
		 * request, so adding the token here gets it signed (checked
		 * by tests/unit/test_sigv4.c and the mock's verifier) */
		if (req->creds->session_token[0]) {
			snprintf(token_hdr, sizeof(token_hdr), "X-Amz-Security-Token: %s",
				 req->creds->session_token);
			t = curl_slist_append(hl, token_hdr);
			explicit_bzero(token_hdr, sizeof(token_hdr));
			if (!t) {
				rc = -ENOMEM;
				goto out;
			}
			hl = t;
		}
		snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", req->sigv4_region,
			 req->sigv4_service);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->creds->access_key_id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->creds->secret_access_key);
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	if (req->direct)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (req->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms ? req->connect_timeout_ms : CONNECT_TIMEOUT_DEFAULT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : TIMEOUT_DEFAULT_MS);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "xtap/" XTAP_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	/* bodies over 1 KiB go with "Expect: 100-continue"; AWS answers it
	 * at once, anything else gets the body after this short wait */
	curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
	if (req->cancel) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, req);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->body) {
		/* POSTFIELDS, not a read callback: libcurl's SigV4 hashes
		 * only POSTFIELDS (libcurl's CURLOPT_AWS_SIGV4) */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	}
	if (req->method && strcmp(req->method, "POST") && strcmp(req->method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	else if (req->method && !strcmp(req->method, "POST") && !req->body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

	c = curl_easy_perform(h);
	if (c == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	} else {
		rc = s.overflow ? -EMSGSIZE
		     : c == CURLE_ABORTED_BY_CALLBACK ||
				     (c == CURLE_WRITE_ERROR && req->on_data)
			     ? -ECANCELED
			     : curl_to_errno(c);
		resp->timed_out = c == CURLE_OPERATION_TIMEDOUT;
		if (err && errlen)
			snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(c));
	}
out:
	curl_easy_cleanup(h); /* after perform: the options above pointed at our buffers */
	curl_slist_free_all(hl);
	if (rc && s.buf) {
		free(s.buf);
		s.buf = NULL;
		s.len = 0;
	}
	resp->body = s.buf;
	resp->len = s.len;
	return rc;
}
