// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP/1.x stream parser (agent/http.c) driven as conn.c drives it: two
 * streams, one per direction of a connection, fed syscall by syscall, with
 * uncaptured bytes and tails, and finished at the end.
 *
 * Input: a mode byte, then records separated by 0xff bytes. A record is a
 * control byte and the bytes one syscall moved:
 *   mode bit 0    roles known (request / response streams, as for a socket
 *                 whose accept or connect was seen); else both "any"
 *   ctl bit 0     direction: 0 the request stream, 1 the response stream
 *   ctl bit 1     the syscall moved more than was captured (a gap):
 *                 bits 4-7 (g) give the hidden bytes, g * 100, or 1 MiB
 *                 when g is 15
 *   ctl bit 2     with bit 1: the record's last (up to) 16 bytes are the
 *                 captured tail of the gap, not head bytes
 *   ctl bit 3     the direction's stream is finished after the feed (a
 *                 close, or the peer starting a new exchange)
 * A seed is printf-able: "\x01" "\x00GET / HTTP/1.1\r\n\r\n" "\xff" "\x01HTTP/1.1 ...".
 *
 * What xtap shows of the same bytes goes through agent/redact.c: each
 * record's bytes as `xtap trace --raw` masks them, each target as
 * --redact-query writes it. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"
#include "redact.h"

#define SEP 0xff
#define TAIL_MAX 16

struct conn {
	struct http_stream st[2];
	uint64_t ts; /* one tick per record, as syscall times only grow */
	/* the methods of requests whose response is pending, as conn.c
	 * keeps them, for on_head's "no body" answer (a short ring) */
	char method[8][HTTP_METHOD_MAX];
	unsigned int q_head, q_len;
};

static void check_msg(const struct http_msg *m)
{
	FUZZ_TERMINATED(m->method);
	FUZZ_TERMINATED(m->target);
	FUZZ_TERMINATED(m->host);
	FUZZ_TERMINATED(m->user_agent);
	FUZZ_TERMINATED(m->xff);
	FUZZ_TERMINATED(m->amzn_trace);
	FUZZ_TERMINATED(m->traceparent);
	FUZZ_CHECK(m->version == 10 || m->version == 11);
	FUZZ_CHECK(m->content_length >= -1);
	if (m->is_request) {
		FUZZ_CHECK(m->method[0]);
	} else {
		FUZZ_CHECK(m->status >= 100 && m->status <= 599);
	}
}

static size_t count(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Only values go: the path, and each key with its '=', stay. */
static void check_redact_query(const char *target)
{
	char t[HTTP_TARGET_MAX];
	const char *q = strchr(target, '?'), *p;

	strcpy(t, target);
	redact_query(t);
	if (!q) {
		FUZZ_CHECK(!strcmp(t, target));
		return;
	}
	FUZZ_CHECK(!strncmp(t, target, (size_t)(q - target) + 1));
	FUZZ_CHECK(count(t, '&') == count(target, '&'));
	for (p = t + (q - target) + 1; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);

		FUZZ_CHECK(!eq || eq == p + len - 1);
		p += len + (amp != NULL);
	}
}

static bool on_head(void *ctx, const struct http_msg *m)
{
	struct conn *c = ctx;
	const char *method;

	check_msg(m);
	if (m->is_request) {
		check_redact_query(m->target);
		if (c->q_len == 8) {
			c->q_head = (c->q_head + 1) % 8;
			c->q_len--;
		}
		strcpy(c->method[(c->q_head + c->q_len++) % 8], m->method);
		return false;
	}
	if (m->status < 200 || !c->q_len)
		return false;
	method = c->method[c->q_head];
	c->q_head = (c->q_head + 1) % 8;
	c->q_len--;
	if (!strcmp(method, "HEAD"))
		return true;
	return !strcmp(method, "CONNECT") && m->status < 300;
}

static void on_done(void *ctx, const struct http_done *d)
{
	struct conn *c = ctx;

	FUZZ_CHECK(d->start_ts <= d->end_ts);
	FUZZ_CHECK(d->end_ts <= c->ts);
	FUZZ_CHECK(d->is_request ? !d->status : d->status >= 100 && d->status <= 599);
}

static void on_error(void *ctx, enum http_err err, uint64_t nbytes)
{
	(void)ctx;
	(void)nbytes;
	FUZZ_CHECK(err >= HTTP_ERR_NOT_HTTP && err <= HTTP_ERR_LOST_SYNC);
}

static const struct http_stream_ops ops = {
	.on_head = on_head,
	.on_done = on_done,
	.on_error = on_error,
};

/* Masking changes bytes to '*' and nothing else. */
static void check_redact_bytes(const uint8_t *p, size_t n, bool query)
{
	uint8_t *b = malloc(n ? n : 1);

	FUZZ_CHECK(b);
	if (n)
		memcpy(b, p, n);
	redact_head_bytes(b, n, query);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(b[i] == p[i] || b[i] == '*');
	free(b);
}

static void feed(struct conn *c, const uint8_t *rec, size_t n)
{
	struct http_stream *s;
	const uint8_t *tail = NULL;
	size_t cap, tail_len = 0;
	uint64_t gap = 0;
	uint8_t ctl;

	if (!n)
		return;
	ctl = rec[0];
	rec++;
	n--;
	s = &c->st[ctl & 1];
	c->ts++;
	cap = n;
	if (ctl & 2) {
		unsigned int g = ctl >> 4;

		if (ctl & 4) {
			tail_len = n < TAIL_MAX ? n : TAIL_MAX;
			cap = n - tail_len;
			tail = rec + cap;
		}
		gap = tail_len + (g == 15 ? 1u << 20 : g * 100u);
		if (!gap)
			gap = 1;
	}
	check_redact_bytes(rec, cap, ctl & 0x10);
	if (tail_len)
		FUZZ_CHECK(!http_stream_feed_tail(s, rec, cap, cap + gap, tail, tail_len, c->ts, &ops,
						  c));
	else
		FUZZ_CHECK(!http_stream_feed(s, rec, cap, cap + gap, c->ts, &ops, c));
	if (ctl & 8) {
		http_stream_finish(s, &ops, c);
		FUZZ_CHECK(!http_stream_busy(s));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p, *end = data + size;
	struct conn c;

	if (!size)
		return 0;
	memset(&c, 0, sizeof(c));
	http_stream_init(&c.st[0], data[0] & 1 ? HTTP_KIND_REQUEST : HTTP_KIND_ANY);
	http_stream_init(&c.st[1], data[0] & 1 ? HTTP_KIND_RESPONSE : HTTP_KIND_ANY);
	for (p = data + 1; p < end;) {
		const uint8_t *sep = memchr(p, SEP, (size_t)(end - p));
		const uint8_t *e = sep ? sep : end;

		feed(&c, p, (size_t)(e - p));
		p = sep ? sep + 1 : end;
	}
	for (int d = 0; d < 2; d++) {
		http_stream_finish(&c.st[d], &ops, &c);
		FUZZ_CHECK(!http_stream_busy(&c.st[d]));
		http_stream_free(&c.st[d]);
	}
	/* every head buffer went back to the budget */
	FUZZ_CHECK(http_head_bytes_in_use() == 0);
	return 0;
}
