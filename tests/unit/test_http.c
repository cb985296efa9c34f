/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* ---- recorder: every callback, in order ---- */

enum ev_type { EV_HEAD = 'H', EV_DONE = 'D', EV_ERR = 'E' };

struct ev {
	int type;
	struct http_msg m; /* EV_HEAD */
	struct http_done d; /* EV_DONE */
	enum http_err err; /* EV_ERR */
	uint64_t nbytes;
	uint8_t state_in_cb; /* stream state seen from inside the callback */
};

struct rec {
	struct ev *ev;
	size_t n, cap;
	bool no_body; /* what on_head returns */
	struct http_stream *s;
};

static void rec_push(struct rec *r, const struct ev *e)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		assert_non_null(r->ev);
	}
	memcpy(&r->ev[r->n++], e, sizeof(*e));
}

static bool cb_head(void *ctx, const struct http_msg *m)
{
	struct rec *r = ctx;
	struct ev e;

	memset(&e, 0, sizeof(e));
	e.type = EV_HEAD;
	memcpy(&e.m, m, sizeof(*m));
	e.state_in_cb = r->s ? r->s->state : 0;
	rec_push(r, &e);
	return r->no_body;
}

static void cb_done(void *ctx, const struct http_done *d)
{
	struct rec *r = ctx;
	struct ev e;

	memset(&e, 0, sizeof(e));
	e.type = EV_DONE;
	e.d = *d;
	e.state_in_cb = r->s ? r->s->state : 0;
	rec_push(r, &e);
}

static void cb_error(void *ctx, enum http_err err, uint64_t nbytes)
{
	struct rec *r = ctx;
	struct ev e;

	memset(&e, 0, sizeof(e));
	e.type = EV_ERR;
	e.err = err;
	e.nbytes = nbytes;
	rec_push(r, &e);
}

static const struct http_stream_ops ops = {
	.on_head = cb_head,
	.on_done = cb_done,
	.on_error = cb_error,
};

static void rec_clear(struct rec *r)
{
	r->n = 0;
}

static void rec_free(struct rec *r)
{
	free(r->ev);
	memset(r, 0, sizeof(*r));
}

/* "HD", "E1", ...: the callbacks in order, errors with their code */
static const char *order(const struct rec *r)
{
	static char buf[4096];
	size_t i, o = 0;

	for (i = 0; i < r->n && o + 3 < sizeof(buf); i++) {
		buf[o++] = (char)r->ev[i].type;
		if (r->ev[i].type == EV_ERR)
			buf[o++] = (char)('0' + r->ev[i].err);
	}
	buf[o] = '\0';
	return buf;
}

static size_t count(const struct rec *r, int type)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->ev[i].type == type;
	return n;
}

/* the idx-th event of a type */
static const struct ev *nth(const struct rec *r, int type, size_t idx)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->ev[i].type == type && !idx--)
			return &r->ev[i];
	fail_msg("no event %c #%zu in \"%s\"", type, idx, order(r));
	return NULL;
}

static const struct http_msg *head(const struct rec *r, size_t idx)
{
	return &nth(r, EV_HEAD, idx)->m;
}

static const struct http_done *done(const struct rec *r, size_t idx)
{
	return &nth(r, EV_DONE, idx)->d;
}

static void feedn(struct http_stream *s, struct rec *r, const void *data, size_t cap, uint64_t len,
		  uint64_t ts)
{
	assert_int_equal(http_stream_feed(s, data, cap, len, ts, &ops, r), 0);
}

static void feed(struct http_stream *s, struct rec *r, const char *str, uint64_t ts)
{
	size_t n = strlen(str);

	feedn(s, r, str, n, n, ts);
}

static void setup(struct http_stream *s, struct rec *r, enum http_kind kind)
{
	memset(r, 0, sizeof(*r));
	http_stream_init(s, kind);
	r->s = s;
}

static void teardown(struct http_stream *s, struct rec *r)
{
	http_stream_free(s);
	rec_free(r);
	assert_int_equal(http_head_bytes_in_use(), 0);
}

static void assert_done(const struct http_done *d, bool is_request, int status, uint64_t start,
			uint64_t end, uint64_t body, bool lost)
{
	assert_int_equal(d->is_request, is_request);
	assert_int_equal(d->status, status);
	assert_int_equal(d->start_ts, start);
	assert_int_equal(d->end_ts, end);
	assert_int_equal(d->body_bytes, body);
	assert_int_equal(d->framing_lost, lost);
}

/* ---- basic messages ---- */

static void test_simple_get(void **state)
{
	struct http_stream s;
	struct rec r;
	const struct http_msg *m;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r,
	     "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
	     "User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
	     100);
	assert_string_equal(order(&r), "HD");
	m = head(&r, 0);
	assert_true(m->is_request);
	assert_string_equal(m->method, "GET");
	assert_string_equal(m->target, "/index.html?q=1");
	assert_false(m->target_cut);
	assert_int_equal(m->version, 11);
	assert_true(m->has_host);
	assert_string_equal(m->host, "example.com");
	assert_true(m->has_user_agent);
	assert_string_equal(m->user_agent, "curl/8.0");
	assert_false(m->has_xff);
	assert_false(m->has_amzn_trace);
	assert_false(m->has_traceparent);
	assert_int_equal(m->content_length, -1);
	assert_false(m->chunked);
	assert_false(m->conn_close);
	assert_false(m->expect_continue);
	assert_false(m->head_truncated);
	assert_int_equal(m->start_ts, 100);
	assert_done(done(&r, 0), true, 0, 100, 100, 0, false);
	assert_int_equal(s.state, HTTP_S_IDLE);
	assert_false(http_stream_busy(&s));
	assert_int_equal(s.kind, HTTP_KIND_REQUEST);
	teardown(&s, &r);
}

/* Records were lost in the middle of a response body: what follows the
 * hole (the rest of that body) is skipped, nothing is reported for the
 * message cut off but a status-less end at the next message start, and
 * that next message parses whole. */
static void test_resync_after_lost_bytes(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 10);
	assert_string_equal(order(&r), "H");
	http_stream_resync(&s);
	assert_int_equal(s.state, HTTP_S_LOST);
	/* body bytes after the hole: no message start, nothing reported */
	feed(&s, &r, "body bytes that follow the lost ones", 20);
	assert_string_equal(order(&r), "H");
	feed(&s, &r, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc", 30);
	assert_string_equal(order(&r), "HDHD");
	assert_int_equal(done(&r, 0)->status, 0);
	assert_true(done(&r, 0)->framing_lost);
	assert_int_equal(head(&r, 1)->status, 404);
	assert_done(done(&r, 1), false, 404, 30, 30, 3, false);
	assert_int_equal(s.state, HTTP_S_IDLE);

	/* a request stream cut in its head resumes at the next request line */
	teardown(&s, &r);
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r, "GET /first HTTP/1.1\r\nHo", 40);
	http_stream_resync(&s);
	feed(&s, &r, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n", 50);
	assert_string_equal(order(&r), "DHD");
	assert_true(done(&r, 0)->is_request);
	assert_string_equal(head(&r, 0)->target, "/second");
	teardown(&s, &r);
}

static void test_simple_response(void **state)
{
	struct http_stream s;
	struct rec r;
	const struct http_msg *m;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n", 5);
	assert_string_equal(order(&r), "H");
	assert_true(http_stream_busy(&s));
	assert_int_equal(s.state, HTTP_S_BODY_LENGTH);
	feed(&s, &r, "not found", 7);
	assert_string_equal(order(&r), "HD");
	m = head(&r, 0);
	assert_false(m->is_request);
	assert_int_equal(m->status, 404);
	assert_int_equal(m->version, 11);
	assert_int_equal(m->content_length, 9);
	assert_true(m->conn_close);
	assert_int_equal(m->start_ts, 5);
	assert_done(done(&r, 0), false, 404, 5, 7, 9, false);
	assert_false(http_stream_busy(&s));

	/* status line without a reason phrase */
	rec_clear(&r);
	feed(&s, &r, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 8);
	assert_string_equal(order(&r), "HD");
	assert_int_equal(head(&r, 0)->status, 200);
	teardown(&s, &r);
}

static void test_keepalive_many(void **state)
{
	struct http_stream rq, rs;
	struct rec r, q;
	char buf[512];
	uint64_t i;

	(void)state;
	setup(&rq, &q, HTTP_KIND_REQUEST);
	setup(&rs, &r, HTTP_KIND_RESPONSE);
	for (i = 0; i < 400; i++) {
		uint64_t ts = 1000 + i * 10;
		size_t bl = i % 37;

		if (i % 2) {
			snprintf(buf, sizeof(buf),
				 "POST /item/%u HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n",
				 (unsigned)i, bl);
			feed(&rq, &q, buf, ts);
			memset(buf, 'b', bl);
			feedn(&rq, &q, buf, bl, bl, ts + 1);
		} else {
			snprintf(buf, sizeof(buf), "GET /item/%u HTTP/1.1\r\nHost: h\r\n\r\n", (unsigned)i);
			feed(&rq, &q, buf, ts);
		}
		switch (i % 4) {
		case 0:
			feed(&rs, &r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", ts + 5);
			break;
		case 1:
			feed(&rs, &r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			     ts + 5);
			break;
		case 2:
			feed(&rs, &r, "HTTP/1.1 204 No Content\r\n\r\n", ts + 5);
			break;
		default:
			feed(&rs, &r, "HTTP/1.1 304 Not Modified\r\nContent-Length: 55\r\n\r\n", ts + 5);
			break;
		}
	}
	assert_int_equal(q.n, 800);
	assert_int_equal(r.n, 800);
	for (i = 0; i < 400; i++) {
		uint64_t ts = 1000 + i * 10;
		char target[32];

		assert_int_equal(q.ev[2 * i].type, EV_HEAD);
		assert_int_equal(q.ev[2 * i + 1].type, EV_DONE);
		snprintf(target, sizeof(target), "/item/%u", (unsigned)i);
		assert_string_equal(head(&q, i)->target, target);
		assert_string_equal(head(&q, i)->method, i % 2 ? "POST" : "GET");
		if (i % 2)
			assert_done(done(&q, i), true, 0, ts, i % 37 ? ts + 1 : ts, i % 37, false);
		else
			assert_done(done(&q, i), true, 0, ts, ts, 0, false);
		assert_int_equal(r.ev[2 * i].type, EV_HEAD);
		assert_int_equal(r.ev[2 * i + 1].type, EV_DONE);
		assert_done(done(&r, i), false, (int[]){ 200, 200, 204, 304 }[i % 4], ts + 5, ts + 5,
			    (uint64_t[]){ 3, 3, 0, 0 }[i % 4], false);
	}
	teardown(&rq, &q);
	teardown(&rs, &r);
}

/* ---- splits ---- */

static const char split_req[] = "POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\n"
				"User-Agent: t/1\r\nContent-Length: 11\r\n\r\nhello world";
static const char split_resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				 "X-Amzn-Trace-Id: Root=1-abc\r\n\r\n"
				 "5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";

/* Feed msg cut at the given points (ts = 1 + piece index) and check the
 * result equals the one-shot parse. */
static void check_pieces(enum http_kind kind, const char *msg, const size_t *cuts, size_t ncuts,
			 const struct http_msg *want, uint64_t want_body)
{
	struct http_stream s;
	struct rec r;
	size_t n = strlen(msg), prev = 0, i;
	struct http_msg got;

	setup(&s, &r, kind);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		feedn(&s, &r, msg + prev, end - prev, end - prev, 1 + i);
		prev = end;
	}
	assert_string_equal(order(&r), "HD");
	memcpy(&got, head(&r, 0), sizeof(got));
	assert_int_equal(got.start_ts, 1);
	got.start_ts = want->start_ts;
	assert_memory_equal(&got, want, sizeof(got));
	assert_done(done(&r, 0), want->is_request, want->status, 1, 1 + ncuts, want_body, false);
	teardown(&s, &r);
}

static void one_shot(enum http_kind kind, const char *msg, struct http_msg *out, uint64_t body)
{
	struct http_stream s;
	struct rec r;

	setup(&s, &r, kind);
	feed(&s, &r, msg, 1);
	assert_string_equal(order(&r), "HD");
	memcpy(out, head(&r, 0), sizeof(*out));
	assert_int_equal(done(&r, 0)->body_bytes, body);
	teardown(&s, &r);
}

static void test_request_split_everywhere(void **state)
{
	size_t n = strlen(split_req), i, *cuts;
	struct http_msg want;

	(void)state;
	one_shot(HTTP_KIND_REQUEST, split_req, &want, 11);
	assert_string_equal(want.method, "POST");
	assert_string_equal(want.target, "/submit?x=1");
	assert_int_equal(want.content_length, 11);
	for (i = 1; i < n; i++)
		check_pieces(HTTP_KIND_REQUEST, split_req, &i, 1, &want, 11);
	/* one byte per feed */
	cuts = calloc(n, sizeof(*cuts));
	assert_non_null(cuts);
	for (i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	check_pieces(HTTP_KIND_REQUEST, split_req, cuts, n - 1, &want, 11);
	/* and the role decided by the stream itself */
	check_pieces(HTTP_KIND_ANY, split_req, cuts, n - 1, &want, 11);
	free(cuts);
}

static void test_response_split_everywhere(void **state)
{
	size_t n = strlen(split_resp), i, j, *cuts;
	struct http_msg want;

	(void)state;
	one_shot(HTTP_KIND_RESPONSE, split_resp, &want, 11);
	assert_true(want.chunked);
	assert_string_equal(want.amzn_trace, "Root=1-abc");
	for (i = 1; i < n; i++)
		check_pieces(HTTP_KIND_RESPONSE, split_resp, &i, 1, &want, 11);
	for (i = 1; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			size_t c[2] = { i, j };

			check_pieces(HTTP_KIND_RESPONSE, split_resp, c, 2, &want, 11);
		}
	}
	cuts = calloc(n, sizeof(*cuts));
	assert_non_null(cuts);
	for (i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	check_pieces(HTTP_KIND_RESPONSE, split_resp, cuts, n - 1, &want, 11);
	check_pieces(HTTP_KIND_ANY, split_resp, cuts, n - 1, &want, 11);
	free(cuts);
}

static void test_one_byte_writer(void **state)
{
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: s\r\n\r\n";
	struct http_stream s;
	struct rec r;
	size_t n = strlen(req), i;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	for (i = 0; i < n; i++) {
		feedn(&s, &r, req + i, 1, 1, 50 + i);
		if (i + 1 < n) {
			/* nothing until the final LF, and the head is held */
			assert_int_equal(r.n, 0);
			assert_true(http_stream_busy(&s));
			assert_int_equal(s.state, HTTP_S_HEAD);
			assert_true(http_head_bytes_in_use() > 0);
		}
	}
	assert_string_equal(order(&r), "HD");
	assert_string_equal(head(&r, 0)->target, "/slow");
	assert_string_equal(head(&r, 0)->host, "s");
	assert_int_equal(head(&r, 0)->start_ts, 50);
	assert_done(done(&r, 0), true, 0, 50, 50 + n - 1, 0, false);
	assert_int_equal(http_head_bytes_in_use(), 0);
	teardown(&s, &r);
}

static void test_pipelined_one_feed(void **state)
{
	static const char three[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				    "POST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
				    "DELETE /c HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_stream s;
	struct rec r;
	size_t n = strlen(three), i;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r, three, 9);
	assert_string_equal(order(&r), "HDHDHD");
	assert_string_equal(head(&r, 0)->target, "/a");
	assert_string_equal(head(&r, 1)->method, "POST");
	assert_string_equal(head(&r, 2)->method, "DELETE");
	assert_done(done(&r, 0), true, 0, 9, 9, 0, false);
	assert_done(done(&r, 1), true, 0, 9, 9, 4, false);
	assert_done(done(&r, 2), true, 0, 9, 9, 0, false);
	teardown(&s, &r);

	/* the same bytes cut anywhere */
	for (i = 1; i < n; i++) {
		setup(&s, &r, HTTP_KIND_REQUEST);
		feedn(&s, &r, three, i, i, 1);
		feedn(&s, &r, three + i, n - i, n - i, 2);
		assert_string_equal(order(&r), "HDHDHD");
		assert_string_equal(head(&r, 0)->target, "/a");
		assert_string_equal(head(&r, 1)->target, "/b");
		assert_string_equal(head(&r, 2)->target, "/c");
		assert_int_equal(done(&r, 1)->body_bytes, 4);
		assert_int_equal(done(&r, 2)->end_ts, 2);
		teardown(&s, &r);
	}
}

/* ---- bodies and gaps ---- */

static void test_body_larger_than_capture(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	struct http_stream s;
	struct rec r;
	uint8_t buf[2048];
	size_t hl = strlen(h);

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	memcpy(buf, h, hl);
	memset(buf + hl, 'x', 100);
	/* head + 100 body bytes seen, 3900 more moved by the same write */
	feedn(&s, &r, buf, hl + 100, hl + 4000, 1);
	assert_string_equal(order(&r), "H");
	assert_int_equal(s.remaining, 6000);
	/* sendfile: nothing captured */
	feedn(&s, &r, NULL, 0, 5000, 2);
	assert_string_equal(order(&r), "H");
	assert_int_equal(s.remaining, 1000);
	/* the last 1000 bytes and, in the same read, the next response */
	memset(buf, 'y', 1000);
	strcpy((char *)buf + 1000, nf);
	feedn(&s, &r, buf, 1000 + strlen(nf), 1000 + strlen(nf), 3);
	assert_string_equal(order(&r), "HDHD");
	assert_done(done(&r, 0), false, 200, 1, 3, 10000, false);
	assert_int_equal(head(&r, 1)->status, 404);
	assert_done(done(&r, 1), false, 404, 3, 3, 0, false);

	/* the whole body moved by the write that carried the head */
	rec_clear(&r);
	feedn(&s, &r, buf, 0, 0, 4);
	memcpy(buf, h, hl);
	feedn(&s, &r, buf, hl + 10, hl + 10000, 5);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 200, 5, 5, 10000, false);
	/* a next message started in uncaptured bytes cannot be parsed */
	rec_clear(&r);
	feedn(&s, &r, buf, hl + 10, hl + 10000 + 77, 6);
	assert_string_equal(order(&r), "HDE4");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 77);
	assert_false(http_stream_busy(&s));
	teardown(&s, &r);
}

static void test_head_response_no_body(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	r.no_body = true; /* the caller knows it answered HEAD */
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1);
	assert_string_equal(order(&r), "HD");
	assert_int_equal(head(&r, 0)->content_length, 5000);
	assert_done(done(&r, 0), false, 200, 1, 1, 0, false);
	assert_false(http_stream_busy(&s));
	r.no_body = false;
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
	assert_string_equal(order(&r), "HDHD");
	assert_done(done(&r, 1), false, 200, 2, 2, 2, false);
	teardown(&s, &r);
}

static void test_204_304(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 1);
	feed(&s, &r, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 2);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", 3);
	assert_string_equal(order(&r), "HDHDHD");
	assert_done(done(&r, 0), false, 204, 1, 1, 0, false);
	assert_done(done(&r, 1), false, 304, 2, 2, 0, false);
	assert_done(done(&r, 2), false, 200, 3, 3, 1, false);
	teardown(&s, &r);
}

static void test_http10_close_delimited(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nabc", 10);
	assert_string_equal(order(&r), "H");
	assert_int_equal(head(&r, 0)->version, 10);
	assert_true(head(&r, 0)->conn_close);
	assert_int_equal(s.state, HTTP_S_BODY_CLOSE);
	feed(&s, &r, "defgh", 11);
	feedn(&s, &r, "ij", 2, 100, 12);
	assert_string_equal(order(&r), "H");
	assert_true(http_stream_busy(&s));
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 200, 10, 12, 108, false);
	assert_false(http_stream_busy(&s));
	assert_int_equal(s.state, HTTP_S_IDLE);
	/* finish on an idle stream does nothing */
	http_stream_finish(&s, &ops, &r);
	assert_int_equal(r.n, 2);
	teardown(&s, &r);
}

static void test_close_delimited_then_new_response(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 200 OK\r\n\r\npart1", 1);
	feed(&s, &r, "part2", 2);
	feed(&s, &r, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 3);
	assert_string_equal(order(&r), "HDHD");
	assert_done(done(&r, 0), false, 200, 1, 2, 10, false);
	assert_done(done(&r, 1), false, 201, 3, 3, 0, false);
	teardown(&s, &r);
}

static void test_chunked_one_feed(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r,
	     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	     "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	     "A \r\n0123456789\r\n"
	     "0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	     4);
	assert_string_equal(order(&r), "HDHD");
	assert_true(head(&r, 0)->chunked);
	assert_done(done(&r, 0), false, 200, 4, 4, 36, false);
	/* bare LF framing is accepted too */
	rec_clear(&r);
	feed(&s, &r, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", 5);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 200, 5, 5, 3, false);
	teardown(&s, &r);
}

static void test_chunked_gap_in_data(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n";
	struct http_stream s;
	struct rec r;
	uint8_t buf[256];
	size_t hl = strlen(h);

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	memcpy(buf, h, hl);
	memset(buf + hl, 'a', 10);
	/* 10 of the 0x400 data bytes seen, 500 more uncaptured */
	feedn(&s, &r, buf, hl + 10, hl + 510, 1);
	assert_string_equal(order(&r), "H");
	assert_int_equal(s.state, HTTP_S_BODY_CHUNKED);
	assert_int_equal(s.remaining, 514);
	feedn(&s, &r, NULL, 0, 514, 2);
	assert_int_equal(s.state, HTTP_S_BODY_CHUNKED);
	feed(&s, &r, "\r\n2\r\nzz\r\n0\r\n\r\n", 3);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 200, 1, 3, 1026, false);
	teardown(&s, &r);
}

static void test_chunked_gap_over_framing(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
	struct http_stream s;
	struct rec r;
	size_t hl = strlen(h);

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	/* the gap covers "lo\r\n" and chunk-size lines that were never seen */
	feedn(&s, &r, h, hl, hl + 100, 1);
	assert_string_equal(order(&r), "HE4");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 0);
	assert_int_equal(s.state, HTTP_S_LOST);
	assert_true(http_stream_busy(&s));
	/* more of the same body: belongs to the lost message */
	feed(&s, &r, "still the body\r\n", 2);
	assert_string_equal(order(&r), "HE4");
	/* its last-chunk at the end of a syscall ends it there */
	feed(&s, &r, "more\r\n0\r\n\r\n", 2);
	assert_string_equal(order(&r), "HE4D");
	/* a new response follows normally */
	feed(&s, &r, "HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno", 3);
	assert_string_equal(order(&r), "HE4DHD");
	assert_done(done(&r, 0), false, 200, 1, 2, 3 + 100 + 16 + 11, true);
	assert_done(done(&r, 1), false, 503, 3, 3, 2, false);
	teardown(&s, &r);
}

/* The whole chunked body lies past the head capture; the tail shows its
 * last-chunk, so it ends at that syscall with no loss of sync. */
static void test_chunked_end_in_tail(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\n";
	static const char tail[] = "xyz\r\n0\r\n\r\n";
	struct http_stream s;
	struct rec r;
	size_t hl = strlen(h);

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	assert_int_equal(http_stream_feed_tail(&s, (const uint8_t *)h, hl, hl + 500,
					       (const uint8_t *)tail, strlen(tail), 7, &ops, &r),
			 0);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 200, 7, 7, 500, false);
	assert_int_equal(s.state, HTTP_S_IDLE);
	/* keep-alive: the next response parses */
	feed(&s, &r, "HTTP/1.1 204 No Content\r\n\r\n", 8);
	assert_string_equal(order(&r), "HDHD");
	/* a tail without the last-chunk: framing is lost, as before */
	rec_clear(&r);
	assert_int_equal(http_stream_feed_tail(&s, (const uint8_t *)h, hl, hl + 500,
					       (const uint8_t *)"0123456789abcdef", 16, 9, &ops,
					       &r),
			 0);
	assert_string_equal(order(&r), "HE4");
	assert_int_equal(s.state, HTTP_S_LOST);
	/* bad arguments: a tail longer than the gap */
	assert_int_equal(http_stream_feed_tail(&s, (const uint8_t *)h, hl, hl + 2,
					       (const uint8_t *)tail, 5, 9, &ops, &r),
			 -EINVAL);
	teardown(&s, &r);
}

static void test_chunked_bad_framing(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx", 1);
	assert_string_equal(order(&r), "HE4");
	assert_int_equal(s.state, HTTP_S_LOST);
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HE4D");
	assert_true(done(&r, 0)->framing_lost);
	/* data not followed by CRLF */
	rec_clear(&r);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", 2);
	assert_string_equal(order(&r), "HE4");
	http_stream_finish(&s, &ops, &r);
	teardown(&s, &r);
}

static void test_100_continue(void **state)
{
	struct http_stream s, q;
	struct rec r, rq;

	(void)state;
	/* response side: the interim 100 is a message of its own */
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.1 100 Continue\r\n\r\n", 1);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), false, 100, 1, 1, 0, false);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 3);
	assert_string_equal(order(&r), "HDHD");
	assert_done(done(&r, 1), false, 200, 3, 3, 2, false);
	/* both in one read */
	rec_clear(&r);
	feed(&s, &r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 4);
	assert_string_equal(order(&r), "HDHD");
	assert_int_equal(done(&r, 0)->status, 100);
	assert_int_equal(done(&r, 1)->status, 201);
	teardown(&s, &r);

	/* request side: the head, then the body once the 100 came back */
	setup(&q, &rq, HTTP_KIND_REQUEST);
	feed(&q, &rq,
	     "PUT /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 1);
	assert_string_equal(order(&rq), "H");
	assert_true(head(&rq, 0)->expect_continue);
	assert_true(http_stream_busy(&q));
	feed(&q, &rq, "hello", 2);
	assert_string_equal(order(&rq), "HD");
	assert_done(done(&rq, 0), true, 0, 1, 2, 5, false);
	teardown(&q, &rq);
}

static void test_101_opaque(void **state)
{
	static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n\r\n\x81\x05hello";
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, up, 1);
	assert_string_equal(order(&r), "HD");
	assert_int_equal(head(&r, 0)->status, 101);
	assert_done(done(&r, 0), false, 101, 1, 1, 0, false);
	assert_int_equal(nth(&r, EV_DONE, 0)->state_in_cb, HTTP_S_OPAQUE);
	assert_int_equal(s.state, HTTP_S_OPAQUE);
	assert_false(http_stream_busy(&s));
	/* websocket frames, even ones that look like HTTP: silently ignored */
	feed(&s, &r, "\x82\x7e\x01\x02" "binary", 2);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3);
	feedn(&s, &r, NULL, 0, 4096, 4);
	assert_int_equal(r.n, 2);
	http_stream_finish(&s, &ops, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(s.state, HTTP_S_IDLE);
	teardown(&s, &r);
}

/* ---- not HTTP, malformed ---- */

static void test_not_http(void **state)
{
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
	static const char redis[] = "*1\r\n$4\r\nPING\r\n";
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	enum http_kind kinds[] = { HTTP_KIND_REQUEST, HTTP_KIND_ANY };
	struct http_stream s;
	struct rec r;
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		setup(&s, &r, kinds[k]);
		feed(&s, &r, redis, 1);
		feedn(&s, &r, tls, sizeof(tls), 517, 2);
		feed(&s, &r, h2, 3);
		feed(&s, &r, "+PONG\r\n", 4);
		assert_string_equal(order(&r), "E1E1E1E1");
		assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, strlen(redis));
		assert_int_equal(nth(&r, EV_ERR, 1)->nbytes, 517);
		assert_int_equal(nth(&r, EV_ERR, 2)->nbytes, strlen(h2));
		assert_int_equal(s.state, HTTP_S_IDLE);
		assert_int_equal(s.kind, kinds[k]);
		feed(&s, &r, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", 5);
		assert_string_equal(order(&r), "E1E1E1E1HD");
		assert_string_equal(head(&r, 0)->target, "/ok");
		teardown(&s, &r);
	}

	/* a line protocol that begins with a capital word is dropped at its LF */
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r, "SET k v\r\n", 1);
	assert_string_equal(order(&r), "E1");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 9);
	assert_false(http_stream_busy(&s));
	feed(&s, &r, "AUTH", 2);
	feed(&s, &r, " PLAIN", 3);
	assert_true(http_stream_busy(&s));
	feed(&s, &r, "\r\n", 4);
	assert_string_equal(order(&r), "E1E1");
	assert_int_equal(nth(&r, EV_ERR, 1)->nbytes, 12);
	assert_int_equal(http_head_bytes_in_use(), 0);
	/* lowercase is not a method; HTTP/2 in a request line is not HTTP/1.x */
	feed(&s, &r, "get / HTTP/1.1\r\n\r\n", 5);
	feed(&s, &r, "GET / HTTP/2.0\r\n\r\n", 6);
	feed(&s, &r, "GET /\r\n", 7);
	assert_string_equal(order(&r), "E1E1E1E1E1");
	teardown(&s, &r);
}

static void test_prefix_then_garbage(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r, "G", 1);
	assert_int_equal(r.n, 0);
	assert_true(http_stream_busy(&s));
	feed(&s, &r, "x\r\n", 2);
	assert_string_equal(order(&r), "E1");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 4);
	assert_false(http_stream_busy(&s));
	feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", 3);
	assert_string_equal(order(&r), "E1HD");

	/* responses: "HTTP/1." or nothing */
	teardown(&s, &r);
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTT", 1);
	assert_true(http_stream_busy(&s));
	feed(&s, &r, "P/2 200 OK\r\n", 2);
	assert_string_equal(order(&r), "E1");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 15);
	/* a request on a response stream is not HTTP for it */
	feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", 3);
	assert_string_equal(order(&r), "E1E1");
	teardown(&s, &r);
}

static void expect_malformed(struct http_stream *s, struct rec *r, const char *msg)
{
	rec_clear(r);
	feed(s, r, msg, 1);
	if (strcmp(order(r), "E2"))
		fail_msg("\"%s\": got \"%s\"", msg, order(r));
	assert_int_equal(nth(r, EV_ERR, 0)->nbytes, strlen(msg));
	assert_int_equal(s->state, HTTP_S_IDLE);
	assert_int_equal(http_head_bytes_in_use(), 0);
}

static void test_malformed(void **state)
{
	static const char *const bad_resp[] = {
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 700 Odd\r\n\r\n",
		"HTTP/1.x 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	};
	static const char nul_value[] = "HTTP/1.1 200 OK\r\nServer: a\0b\r\n\r\n";
	static const char nul_target[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	struct http_stream s;
	struct rec r;
	size_t i;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	for (i = 0; i < sizeof(bad_resp) / sizeof(bad_resp[0]); i++) {
		expect_malformed(&s, &r, bad_resp[i]);
		/* the stream is still usable */
		rec_clear(&r);
		feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nk", 2);
		assert_string_equal(order(&r), "HD");
	}
	rec_clear(&r);
	feedn(&s, &r, nul_value, sizeof(nul_value) - 1, sizeof(nul_value) - 1, 3);
	assert_string_equal(order(&r), "E2");
	teardown(&s, &r);

	setup(&s, &r, HTTP_KIND_REQUEST);
	expect_malformed(&s, &r, "GET /a b HTTP/1.1\r\n\r\n");
	expect_malformed(&s, &r, "GET  HTTP/1.1\r\n\r\n");
	expect_malformed(&s, &r, "GET / HTTP/1.11\r\n\r\n");
	rec_clear(&r);
	feedn(&s, &r, nul_target, sizeof(nul_target) - 1, sizeof(nul_target) - 1, 3);
	assert_string_equal(order(&r), "E2");
	/* identical repeats are one length (RFC 9110 8.6) */
	rec_clear(&r);
	feed(&s, &r, "POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc", 4);
	feed(&s, &r, "POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab", 5);
	assert_string_equal(order(&r), "HDHD");
	assert_int_equal(done(&r, 0)->body_bytes, 3);
	assert_int_equal(done(&r, 1)->body_bytes, 2);
	teardown(&s, &r);
}

/* ---- truncated and oversized heads ---- */

static void test_head_truncated_by_gap(void **state)
{
	static const char part[] = "GET /path HTTP/1.1\r\nHost: a.example\r\nUser-Agent: cur";
	struct http_stream s;
	struct rec r;
	const struct http_msg *m;
	size_t pl = strlen(part);

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feedn(&s, &r, part, pl, pl + 200, 1);
	assert_string_equal(order(&r), "HE4");
	m = head(&r, 0);
	assert_true(m->head_truncated);
	assert_string_equal(m->method, "GET");
	assert_string_equal(m->target, "/path");
	assert_true(m->has_host);
	assert_string_equal(m->host, "a.example");
	assert_false(m->has_user_agent); /* its line was cut: the value may be too */
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 0);
	assert_int_equal(s.state, HTTP_S_LOST);
	assert_true(s.head_truncated);
	assert_int_equal(http_head_bytes_in_use(), 0);
	/* body-like data: no resync on words that are not a request line */
	feed(&s, &r, "POSTAL CODE 12345\r\n", 2);
	feed(&s, &r, "HELLO there", 3);
	assert_string_equal(order(&r), "HE4");
	feed(&s, &r, "GET /next HTTP/1.1\r\n\r\n", 4);
	assert_string_equal(order(&r), "HE4DHD");
	assert_done(done(&r, 0), true, 0, 1, 3, 19 + 11, true);
	assert_string_equal(head(&r, 1)->target, "/next");
	assert_done(done(&r, 1), true, 0, 4, 4, 0, false);

	/* a gap inside the request line: the target is marked cut */
	rec_clear(&r);
	feedn(&s, &r, "GET /very/long/pa", 17, 5000, 5);
	assert_string_equal(order(&r), "HE4");
	assert_string_equal(head(&r, 0)->target, "/very/long/pa");
	assert_true(head(&r, 0)->target_cut);
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HE4D");
	assert_done(done(&r, 0), true, 0, 5, 5, 0, true);

	/* a gap after only a prefix of a start: nothing to report but the bytes */
	rec_clear(&r);
	feedn(&s, &r, "GE", 2, 300, 6);
	assert_string_equal(order(&r), "E1");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 300);
	assert_false(http_stream_busy(&s));
	teardown(&s, &r);
}

static void test_truncated_101(void **state)
{
	static const char part[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs";
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_RESPONSE);
	feedn(&s, &r, part, strlen(part), 4000, 1);
	assert_string_equal(order(&r), "HE4D");
	assert_done(done(&r, 0), false, 101, 1, 1, 0, true);
	assert_int_equal(s.state, HTTP_S_OPAQUE);
	teardown(&s, &r);
}

static char *build_big_head(size_t nheaders, const char *line, size_t *out_len)
{
	size_t ll = strlen(line), n = 0;
	char *b = malloc(64 + nheaders * ll + 2);
	size_t i;

	assert_non_null(b);
	n += sprintf(b, "GET /big HTTP/1.1\r\nHost: big\r\n");
	for (i = 0; i < nheaders; i++) {
		memcpy(b + n, line, ll);
		n += ll;
	}
	memcpy(b + n, "\r\n", 3);
	*out_len = n + 2;
	return b;
}

static void test_head_too_large(void **state)
{
	struct http_stream s;
	struct rec r;
	size_t n, i;
	char *big;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	/* 20 KB of headers in one write */
	big = build_big_head(1000, "X-Pad: aaaaaaaaaaaa\r\n", &n);
	assert_true(n > HTTP_HEAD_MAX);
	feed(&s, &r, big, 1);
	assert_string_equal(order(&r), "HE3");
	assert_true(head(&r, 0)->head_truncated);
	assert_string_equal(head(&r, 0)->host, "big");
	assert_string_equal(head(&r, 0)->target, "/big");
	assert_int_equal(s.state, HTTP_S_LOST);
	assert_int_equal(http_head_bytes_in_use(), 0);
	feed(&s, &r, "GET /after HTTP/1.1\r\n\r\n", 2);
	assert_string_equal(order(&r), "HE3DHD");
	assert_done(done(&r, 0), true, 0, 1, 1, 0, true);
	free(big);

	/* 100 KB of headers one byte at a time */
	rec_clear(&r);
	big = build_big_head(5000, "X-Pad: aaaaaaaaaaaa\r\n", &n);
	assert_true(n > 100000);
	for (i = 0; i < n; i++) {
		feedn(&s, &r, big + i, 1, 1, 10 + i);
		assert_true(http_head_bytes_in_use() <= HTTP_HEAD_MAX);
	}
	assert_string_equal(order(&r), "HE3");
	assert_true(http_stream_busy(&s));
	feed(&s, &r, "GET /after HTTP/1.1\r\n\r\n", 200000);
	assert_string_equal(order(&r), "HE3DHD");
	assert_int_equal(done(&r, 0)->start_ts, 10);
	assert_int_equal(done(&r, 0)->end_ts, 10 + n - 1);
	assert_true(done(&r, 0)->framing_lost);
	free(big);

	/* 10,000 headers */
	rec_clear(&r);
	big = build_big_head(10000, "a:b\r\n", &n);
	feed(&s, &r, big, 1);
	assert_string_equal(order(&r), "HE3");
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HE3D");
	free(big);

	/* 3,000 headers that fit: parsed whole, in one feed and in 7-byte feeds */
	rec_clear(&r);
	big = build_big_head(3000, "a:\r\n", &n);
	assert_true(n < HTTP_HEAD_MAX);
	feed(&s, &r, big, 1);
	for (i = 0; i < n; i += 7)
		feedn(&s, &r, big + i, n - i < 7 ? n - i : 7, n - i < 7 ? n - i : 7, 2);
	assert_string_equal(order(&r), "HDHD");
	assert_false(head(&r, 1)->head_truncated);
	assert_string_equal(head(&r, 1)->host, "big");
	free(big);
	teardown(&s, &r);
}

/* ---- header fields ---- */

static void test_header_names_case_insensitive(void **state)
{
	struct http_stream s;
	struct rec r;
	const struct http_msg *m;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r,
	     "POST /x HTTP/1.1\r\nhOsT: Mixed.Example\r\nUSER-AGENT: UA\r\n"
	     "x-FORWARDED-for: 1.2.3.4\r\nX-AMZN-TRACE-ID: Root=1-a\r\nTRACEPARENT: 00-b\r\n"
	     "eXpEcT: 100-Continue\r\nTRANSFER-encoding: CHUNKED\r\nconnection: CLOSE\r\n\r\n"
	     "0\r\n\r\n",
	     1);
	assert_string_equal(order(&r), "HD");
	m = head(&r, 0);
	assert_string_equal(m->host, "Mixed.Example");
	assert_string_equal(m->user_agent, "UA");
	assert_string_equal(m->xff, "1.2.3.4");
	assert_string_equal(m->amzn_trace, "Root=1-a");
	assert_string_equal(m->traceparent, "00-b");
	assert_true(m->expect_continue);
	assert_true(m->chunked);
	assert_true(m->conn_close);
	teardown(&s, &r);
}

static void test_trace_headers(void **state)
{
	struct http_stream s;
	struct rec r;
	const struct http_msg *m;
	char buf[1024], longhost[400];

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r,
	     "GET /api HTTP/1.1\r\n"
	     "Host:   api.example.com:8080 \t\r\n"
	     "User-Agent:\tMozilla/5.0 (X11)  \r\n"
	     "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"
	     "X-Forwarded-For: 10.0.0.2\r\n"
	     "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	     "Content-Length: 0\r\n\r\n",
	     1);
	assert_string_equal(order(&r), "HD");
	m = head(&r, 0);
	assert_true(m->has_host && m->has_user_agent && m->has_xff && m->has_amzn_trace &&
		    m->has_traceparent);
	assert_string_equal(m->host, "api.example.com:8080");
	assert_string_equal(m->user_agent, "Mozilla/5.0 (X11)");
	assert_string_equal(m->xff, "203.0.113.7, 10.0.0.1");
	assert_string_equal(m->amzn_trace,
			    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
	assert_string_equal(m->traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	assert_int_equal(m->content_length, 0);

	/* long values are cut to their field */
	rec_clear(&r);
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\nHost: second\r\n\r\n", longhost);
	feed(&s, &r, buf, 2);
	assert_string_equal(order(&r), "HD");
	assert_int_equal(strlen(head(&r, 0)->host), HTTP_HOST_MAX - 1);
	assert_int_equal(head(&r, 0)->host[0], 'h');
	teardown(&s, &r);
}

static void test_long_target(void **state)
{
	struct http_stream s;
	struct rec r;
	char *buf = malloc(4096);
	size_t n = 0;

	(void)state;
	assert_non_null(buf);
	setup(&s, &r, HTTP_KIND_REQUEST);
	n += sprintf(buf, "GET /");
	memset(buf + n, 'a', 2000);
	n += 2000;
	n += sprintf(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	feed(&s, &r, buf, 1);
	assert_string_equal(order(&r), "HD");
	assert_true(head(&r, 0)->target_cut);
	assert_int_equal(strlen(head(&r, 0)->target), HTTP_TARGET_MAX - 1);
	assert_string_equal(head(&r, 0)->host, "h");
	free(buf);
	teardown(&s, &r);
}

static void test_connection_and_versions(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feed(&s, &r, "GET / HTTP/1.0\r\n\r\n", 1);
	feed(&s, &r, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 2);
	feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", 3);
	feed(&s, &r, "GET / HTTP/1.1\r\nConnection: keep-alive , Close\r\n\r\n", 4);
	feed(&s, &r, "GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", 5);
	feed(&s, &r, "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 6);
	assert_string_equal(order(&r), "HDHDHDHDHDHD");
	assert_int_equal(head(&r, 0)->version, 10);
	assert_true(head(&r, 0)->conn_close);
	assert_int_equal(head(&r, 1)->version, 10);
	assert_false(head(&r, 1)->conn_close);
	assert_int_equal(head(&r, 2)->version, 11);
	assert_false(head(&r, 2)->conn_close);
	assert_true(head(&r, 3)->conn_close);
	assert_false(head(&r, 4)->conn_close);
	assert_true(head(&r, 5)->conn_close);
	teardown(&s, &r);

	setup(&s, &r, HTTP_KIND_RESPONSE);
	feed(&s, &r, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 1);
	feed(&s, &r, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
	assert_string_equal(order(&r), "HDHD");
	assert_false(head(&r, 0)->conn_close);
	assert_true(head(&r, 1)->conn_close);
	teardown(&s, &r);
}

static void test_request_framing(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	/* requests without a length have no body, whatever follows */
	feed(&s, &r, "POST /a HTTP/1.1\r\nHost: h\r\n\r\n", 1);
	assert_string_equal(order(&r), "HD");
	/* chunked wins over Content-Length */
	feed(&s, &r, "POST /b HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "4\r\nwxyz\r\n0\r\n\r\n", 2);
	assert_string_equal(order(&r), "HDHD");
	assert_int_equal(done(&r, 1)->body_bytes, 4);
	/* a final coding other than chunked cannot be framed in a request */
	feed(&s, &r, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxxxx", 3);
	assert_string_equal(order(&r), "HDHDHE4");
	assert_int_equal(s.state, HTTP_S_LOST);
	feed(&s, &r, "GET /d HTTP/1.1\r\n\r\n", 4);
	assert_string_equal(order(&r), "HDHDHE4DHD");
	assert_done(done(&r, 2), true, 0, 3, 3, 4, true);
	/* the caller may say a request has no body */
	rec_clear(&r);
	r.no_body = true;
	feed(&s, &r, "POST /e HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 5);
	assert_string_equal(order(&r), "HD");
	/* empty lines between requests are skipped quietly */
	r.no_body = false;
	feed(&s, &r, "\r\n\r\nGET /f HTTP/1.1\r\n\r\n\r\n", 6);
	assert_string_equal(order(&r), "HDHD");
	assert_string_equal(head(&r, 1)->target, "/f");
	teardown(&s, &r);
}

/* ---- finish, kinds, arguments ---- */

static void test_finish(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	/* partial head: not a message */
	feed(&s, &r, "GET / HTTP/1.1\r\nHo", 1);
	assert_true(http_stream_busy(&s));
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "E2");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 18);
	assert_false(http_stream_busy(&s));
	assert_int_equal(http_head_bytes_in_use(), 0);
	/* cut inside a Content-Length body */
	rec_clear(&r);
	feed(&s, &r, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 2);
	feed(&s, &r, "de", 3);
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), true, 0, 2, 3, 5, true);
	/* cut inside a chunked body */
	rec_clear(&r);
	feed(&s, &r, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 4);
	http_stream_finish(&s, &ops, &r);
	assert_string_equal(order(&r), "HD");
	assert_done(done(&r, 0), true, 0, 4, 4, 2, true);
	assert_int_equal(s.state, HTTP_S_IDLE);
	/* the stream goes on */
	feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", 5);
	assert_string_equal(order(&r), "HDHD");
	http_stream_finish(&s, &ops, &r);
	assert_int_equal(r.n, 4);
	teardown(&s, &r);
}

static void test_kind_any(void **state)
{
	struct http_stream s;
	struct rec r;
	const char *p;

	(void)state;
	setup(&s, &r, HTTP_KIND_ANY);
	feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1);
	assert_string_equal(order(&r), "HD");
	assert_false(head(&r, 0)->is_request);
	assert_int_equal(s.kind, HTTP_KIND_RESPONSE);
	feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", 2);
	assert_string_equal(order(&r), "HDE1");
	teardown(&s, &r);

	/* "HEAD " and "HTTP/" share a prefix: one byte at a time still decides */
	setup(&s, &r, HTTP_KIND_ANY);
	for (p = "HEAD / HTTP/1.1\r\n\r\n"; *p; p++)
		feedn(&s, &r, p, 1, 1, 3);
	assert_string_equal(order(&r), "HD");
	assert_true(head(&r, 0)->is_request);
	assert_string_equal(head(&r, 0)->method, "HEAD");
	assert_int_equal(s.kind, HTTP_KIND_REQUEST);
	teardown(&s, &r);

	setup(&s, &r, HTTP_KIND_ANY);
	for (p = "HTTP/1.1 204 No Content\r\n\r\n"; *p; p++)
		feedn(&s, &r, p, 1, 1, 3);
	assert_string_equal(order(&r), "HD");
	assert_int_equal(done(&r, 0)->status, 204);
	assert_int_equal(s.kind, HTTP_KIND_RESPONSE);
	teardown(&s, &r);

	/* a malformed first message decides nothing */
	setup(&s, &r, HTTP_KIND_ANY);
	feed(&s, &r, "HTTP/1.1 xyz\r\n\r\n", 1);
	assert_int_equal(s.kind, HTTP_KIND_ANY);
	feed(&s, &r, "OPTIONS * HTTP/1.1\r\n\r\n", 2);
	assert_string_equal(order(&r), "E2HD");
	assert_string_equal(head(&r, 0)->target, "*");
	assert_int_equal(s.kind, HTTP_KIND_REQUEST);
	teardown(&s, &r);
}

static void test_methods(void **state)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "HEAD", "DELETE", "PATCH",
					       "OPTIONS", "CONNECT", "TRACE", "PROPFIND",
					       "ABCDEFGHIJKLMNO" };
	struct http_stream s;
	struct rec r;
	char buf[128];
	size_t i;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		rec_clear(&r);
		snprintf(buf, sizeof(buf), "%s example.com:443 HTTP/1.1\r\n\r\n", methods[i]);
		feed(&s, &r, buf, i);
		assert_string_equal(order(&r), "HD");
		assert_string_equal(head(&r, 0)->method, methods[i]);
	}
	/* 16 letters is no method */
	rec_clear(&r);
	feed(&s, &r, "ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", 1);
	assert_string_equal(order(&r), "E1");
	teardown(&s, &r);
}

static void test_bad_args(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	assert_int_equal(http_stream_feed(NULL, (const uint8_t *)"x", 1, 1, 1, &ops, &r), -EINVAL);
	assert_int_equal(http_stream_feed(&s, (const uint8_t *)"x", 1, 1, 1, NULL, &r), -EINVAL);
	assert_int_equal(http_stream_feed(&s, NULL, 1, 1, 1, &ops, &r), -EINVAL);
	assert_int_equal(http_stream_feed(&s, (const uint8_t *)"xy", 2, 1, 1, &ops, &r), -EINVAL);
	assert_int_equal(http_stream_feed(&s, NULL, 0, 0, 1, &ops, &r), 0);
	assert_int_equal(r.n, 0);
	assert_false(http_stream_busy(NULL));
	teardown(&s, &r);
}

static void test_idle_gap(void **state)
{
	struct http_stream s;
	struct rec r;

	(void)state;
	setup(&s, &r, HTTP_KIND_REQUEST);
	feedn(&s, &r, "GET / HTTP/1.1\r\n\r\n", 18, 68, 1);
	assert_string_equal(order(&r), "HDE4");
	assert_int_equal(nth(&r, EV_ERR, 0)->nbytes, 50);
	feedn(&s, &r, NULL, 0, 10, 2);
	assert_string_equal(order(&r), "HDE4E4");
	assert_false(http_stream_busy(&s));
	teardown(&s, &r);
}

/* ---- robustness and memory ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_garbage_fuzz(void **state)
{
	static const char *const words[] = {
		"GET ", "HTTP/1.1 ", "HTTP/1.0 200 OK", "\r\n", "\n", "\r\n\r\n", "Content-Length: ",
		"Transfer-Encoding: chunked", "0\r\n\r\n", "5\r\n", "123", " ", ":", "\0",
		"Connection: close", "HTTP/1.1 101 x\r\n\r\n", "PRI ", "abc", "ffffffffffffffff\r\n",
	};
	static uint8_t buf[8192];
	struct http_stream s;
	struct rec r;
	int iter;

	(void)state;
	for (iter = 0; iter < 600; iter++) {
		enum http_kind kind = (enum http_kind)(iter % 3);
		size_t n = 0, pos = 0, want = rnd() % sizeof(buf), i;
		uint64_t ts = 1;

		while (n < want) {
			if (rnd() % 3) {
				const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
				size_t wl = *w ? strlen(w) : 1;

				if (n + wl > sizeof(buf))
					break;
				memcpy(buf + n, w, wl);
				n += wl;
			} else {
				buf[n++] = (uint8_t)rnd();
			}
		}
		setup(&s, &r, kind);
		while (pos < n) {
			size_t cap = 1 + rnd() % (rnd() % 2 ? 8 : 600);
			uint64_t extra = rnd() % 4 == 0 ? rnd() % 5000 : 0;

			if (cap > n - pos)
				cap = n - pos;
			feedn(&s, &r, buf + pos, cap, cap + extra, ts++);
			pos += cap;
			assert_true(http_head_bytes_in_use() <= HTTP_HEAD_MAX);
		}
		http_stream_finish(&s, &ops, &r);
		assert_false(http_stream_busy(&s));
		assert_int_equal(http_head_bytes_in_use(), 0);
		/* every message done was announced, in time order */
		for (i = 0; i < r.n; i++) {
			if (r.ev[i].type == EV_DONE)
				assert_true(r.ev[i].d.start_ts <= r.ev[i].d.end_ts);
		}
		assert_true(count(&r, EV_DONE) <= count(&r, EV_HEAD));
		/* and the stream still parses what its role allows */
		rec_clear(&r);
		if (s.kind == HTTP_KIND_RESPONSE)
			feed(&s, &r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ts);
		else
			feed(&s, &r, "GET / HTTP/1.1\r\n\r\n", ts);
		assert_string_equal(order(&r), "HD");
		teardown(&s, &r);
	}
}

static void test_head_accounting(void **state)
{
	enum { N = 64 };
	struct http_stream *s = calloc(N, sizeof(*s));
	struct rec r;
	size_t i;

	(void)state;
	assert_non_null(s);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_head_bytes_in_use(), 0);
	for (i = 0; i < N; i++) {
		http_stream_init(&s[i], HTTP_KIND_REQUEST);
		feed(&s[i], &r, "GET / HTTP/1.1\r\nHost: x\r\n", 1);
		assert_true(http_stream_busy(&s[i]));
		assert_non_null(s[i].head);
	}
	assert_true(http_head_bytes_in_use() >= N * strlen("GET / HTTP/1.1\r\nHost: x\r\n"));
	/* grow one to the limit */
	for (i = 0; i < 600; i++)
		feed(&s[0], &r, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2);
	assert_string_equal(order(&r), "HE3");
	assert_null(s[0].head);
	assert_int_equal(r.n, 2);
	/* half finish (flush), half just freed */
	for (i = 0; i < N; i++) {
		if (i % 2)
			http_stream_finish(&s[i], &ops, &r);
		http_stream_free(&s[i]);
		assert_null(s[i].head);
	}
	assert_int_equal(count(&r, EV_ERR), 1 + N / 2);
	assert_int_equal(http_head_bytes_in_use(), 0);
	free(s);
	rec_free(&r);
}

/* All heads together stay under HTTP_HEAD_BUDGET: the stream that would go
 * over it gets its head marked truncated instead of a bigger buffer. */
static void test_head_budget(void **state)
{
	enum { N = HTTP_HEAD_BUDGET / HTTP_HEAD_MAX };
	struct http_stream *s = calloc(N + 1, sizeof(*s));
	struct rec r;
	char *big;
	size_t n, i;

	(void)state;
	assert_non_null(s);
	memset(&r, 0, sizeof(r));
	big = build_big_head(500, "X-Pad: aaaaaaaaaaaaaaaaaa\r\n", &n);
	assert_true(n > HTTP_HEAD_MAX / 2 + 256 && n - 2 < HTTP_HEAD_MAX);
	/* everything but the final CRLF: each stream holds a full-size buffer */
	for (i = 0; i < N; i++) {
		http_stream_init(&s[i], HTTP_KIND_REQUEST);
		feedn(&s[i], &r, big, n - 2, n - 2, 1);
	}
	assert_int_equal(r.n, 0);
	assert_int_equal(http_head_bytes_in_use(), HTTP_HEAD_BUDGET);
	http_stream_init(&s[N], HTTP_KIND_REQUEST);
	feedn(&s[N], &r, big, n - 2, n - 2, 2);
	assert_string_equal(order(&r), "HE3");
	assert_true(head(&r, 0)->head_truncated);
	assert_string_equal(head(&r, 0)->target, "/big");
	assert_int_equal(s[N].state, HTTP_S_LOST);
	assert_int_equal(http_head_bytes_in_use(), HTTP_HEAD_BUDGET);
	/* the held heads still complete */
	feedn(&s[0], &r, "\r\n", 2, 2, 3);
	assert_string_equal(order(&r), "HE3HD");
	assert_false(head(&r, 1)->head_truncated);
	assert_int_equal(http_head_bytes_in_use(), HTTP_HEAD_BUDGET - HTTP_HEAD_MAX);
	for (i = 0; i <= N; i++)
		http_stream_free(&s[i]);
	assert_int_equal(http_head_bytes_in_use(), 0);
	free(big);
	free(s);
	rec_free(&r);
}

/* Every path that holds a head buffer, left in every way a stream can be
 * left; under ASan, LeakSanitizer must find nothing. */
static void test_no_leaks(void **state)
{
	static const char *const partial[] = {
		"G", "GET / HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 200 OK\r\nContent-Le",
	};
	struct http_stream s;
	struct rec r;
	size_t i, j;
	char *big;

	(void)state;
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			setup(&s, &r, HTTP_KIND_ANY);
			feed(&s, &r, partial[j], 1);
			assert_true(http_head_bytes_in_use() > 0);
			if (i == 1)
				http_stream_finish(&s, &ops, &r);
			if (i == 2)
				feedn(&s, &r, "x", 1, 1000, 2); /* truncated by a gap */
			http_stream_free(&s);
			/* a freed stream may be freed again and re-initialised */
			http_stream_free(&s);
			rec_free(&r);
			assert_int_equal(http_head_bytes_in_use(), 0);
		}
	}
	setup(&s, &r, HTTP_KIND_REQUEST);
	big = build_big_head(2000, "X-Pad: aaaaaaaaaaaa\r\n", &i);
	for (j = 0; j < i; j += 1000)
		feedn(&s, &r, big + j, i - j < 1000 ? i - j : 1000, i - j < 1000 ? i - j : 1000, 3);
	free(big);
	assert_string_equal(order(&r), "HE3");
	teardown(&s, &r);
#if defined(__SANITIZE_ADDRESS__)
	assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_resync_after_lost_bytes),
		cmocka_unit_test(test_simple_response),
		cmocka_unit_test(test_keepalive_many),
		cmocka_unit_test(test_request_split_everywhere),
		cmocka_unit_test(test_response_split_everywhere),
		cmocka_unit_test(test_one_byte_writer),
		cmocka_unit_test(test_pipelined_one_feed),
		cmocka_unit_test(test_body_larger_than_capture),
		cmocka_unit_test(test_head_response_no_body),
		cmocka_unit_test(test_204_304),
		cmocka_unit_test(test_http10_close_delimited),
		cmocka_unit_test(test_close_delimited_then_new_response),
		cmocka_unit_test(test_chunked_one_feed),
		cmocka_unit_test(test_chunked_gap_in_data),
		cmocka_unit_test(test_chunked_gap_over_framing),
		cmocka_unit_test(test_chunked_end_in_tail),
		cmocka_unit_test(test_chunked_bad_framing),
		cmocka_unit_test(test_100_continue),
		cmocka_unit_test(test_101_opaque),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_prefix_then_garbage),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_head_truncated_by_gap),
		cmocka_unit_test(test_truncated_101),
		cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_header_names_case_insensitive),
		cmocka_unit_test(test_trace_headers),
		cmocka_unit_test(test_long_target),
		cmocka_unit_test(test_connection_and_versions),
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_kind_any),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_idle_gap),
		cmocka_unit_test(test_garbage_fuzz),
		cmocka_unit_test(test_head_accounting),
		cmocka_unit_test(test_head_budget),
		cmocka_unit_test(test_no_leaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
