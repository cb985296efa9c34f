/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What xtap shows of captured text: query values dropped (--redact-query)
 * in targets, documents and trace lines; credentials and payload masked in
 * `xtap trace --raw` previews. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "http.h"
#include "redact.h"
#include "segment.h"
#include "trace_fmt.h"

static const char *query(const char *target)
{
	static char buf[HTTP_TARGET_MAX];

	snprintf(buf, sizeof(buf), "%s", target);
	redact_query(buf);
	return buf;
}

static void test_query(void **state)
{
	(void)state;
	assert_string_equal(query("/search?q=shoes&page=2&debug"), "/search?q=&page=&debug");
	assert_string_equal(query("/no/query"), "/no/query");
	assert_string_equal(query("/"), "/");
	assert_string_equal(query("/p?"), "/p?");
	assert_string_equal(query("/p?token"), "/p?token");
	/* the value ends at '&' only: '=' and '?' in it are value */
	assert_string_equal(query("/cb?code=a=b?c&&state=xyz"), "/cb?code=&&state=");
	assert_string_equal(query("/p?=secret"), "/p?=");
	/* the path is kept as sent, '=' in it included */
	assert_string_equal(query("/a=b/c?d=e"), "/a=b/c?d=");
	/* absolute-form (a proxy's request) */
	assert_string_equal(query("http://api.example.com/v1?key=abc123"),
			    "http://api.example.com/v1?key=");
}

static const char *masked(const char *in, bool q)
{
	static uint8_t buf[1024];
	size_t n = strlen(in);

	memcpy(buf, in, n);
	redact_head_bytes(buf, n, q);
	buf[n] = '\0';
	return (const char *)buf;
}

static void test_head_request(void **state)
{
	(void)state;
	assert_string_equal(
		masked("POST /login?next=/home HTTP/1.1\r\n"
		       "Host: shop.example.com\r\n"
		       "Authorization: Bearer eyJhbGciOi\r\n"
		       "cookie:sid=s3cr3t; theme=dark\r\n"
		       "X-Api-Key: k-123\r\n"
		       "Content-Length: 13\r\n"
		       "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n"
		       "\r\n"
		       "user=a&pw=b\r\n",
		       false),
		"POST /login?next=/home HTTP/1.1\r\n"
		"Host: shop.example.com\r\n"
		"Authorization:******************\r\n"
		"cookie:**********************\r\n"
		"X-Api-Key:******\r\n"
		"Content-Length: 13\r\n"
		"X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n"
		"\r\n"
		"***********\r\n");
	/* query values too, when asked, up to the end of the target */
	assert_string_equal(masked("GET /cb?code=abc&state=x&flag HTTP/1.1\r\nHost: a\r\n", true),
			    "GET /cb?code=***&state=*&flag HTTP/1.1\r\nHost: a\r\n");
	assert_string_equal(masked("GET /cb?code=abc HTTP/1.1\r\n", false),
			    "GET /cb?code=abc HTTP/1.1\r\n");
}

static void test_head_response(void **state)
{
	(void)state;
	assert_string_equal(masked("HTTP/1.1 200 OK\nSet-Cookie: sid=abc; HttpOnly\n"
				   "Transfer-Encoding: chunked\nConnection: keep-alive\n\n"
				   "5\r\nhello\r\n0\r\n\r\n",
				   true),
			    "HTTP/1.1 200 OK\nSet-Cookie:******************\n"
			    "Transfer-Encoding: chunked\nConnection: keep-alive\n\n"
			    "*\r\n*****\r\n*\r\n\r\n");
}

/* A head written in pieces: the next write may begin inside a line, where
 * the field it belongs to cannot be seen. */
static void test_head_pieces(void **state)
{
	(void)state;
	/* the rest of "Authori" + "zation: ..." */
	assert_string_equal(masked("zation: Bearer abc\r\nHost: a\r\n", false),
			    "zation:***********\r\nHost: a\r\n");
	/* the rest of a cookie's value */
	assert_string_equal(masked("def; lang=en\r\nUser-Agent: curl/8\r\n", false),
			    "************\r\nUser-Agent: curl/8\r\n");
	/* cut by the capture: the field's value, and a name that may be one */
	assert_string_equal(masked("GET / HTTP/1.1\r\nCookie: a", false),
			    "GET / HTTP/1.1\r\nCookie:**");
	assert_string_equal(masked("GET / HTTP/1.1\r\nAuthoriz", false),
			    "GET / HTTP/1.1\r\n********");
	/* an obs-fold continuation line */
	assert_string_equal(masked("X-Token: a\r\n  b\r\n", false), "X-Token:**\r\n***\r\n");
	/* body text that starts like a request or status line is no such line */
	assert_string_equal(masked("ABC def\nHTTP/1.1 is fine\nGET /x HTTP/1.1\n", false),
			    "*******\n****************\nGET /x HTTP/1.1\n");
	assert_string_equal(masked("PUT /a/b\nPOST x HTTP/1.1\n", false),
			    "********\n***************\n");
	/* a request line cut by the capture is one as far as it goes */
	assert_string_equal(masked("GET /api/v1/orders?id=42", true), "GET /api/v1/orders?id=**");
	assert_string_equal(masked("CONNECT example.com:443 HTTP/1.1\r\n", false),
			    "CONNECT example.com:443 HTTP/1.1\r\n");
	assert_string_equal(masked("HTTP/1.0 404 File not found\r\n", false),
			    "HTTP/1.0 404 File not found\r\n");
	assert_string_equal(masked("", false), "");
	assert_string_equal(masked("\r\n\r\n", false), "\r\n\r\n");
}

static void test_field_read(void **state)
{
	(void)state;
	assert_true(http_field_read("Host", 4));
	assert_true(http_field_read("content-length", 14));
	assert_true(http_field_read("TRACEPARENT", 11));
	assert_true(http_field_read("X-Amzn-Trace-Id", 15));
	assert_false(http_field_read("Authorization", 13));
	assert_false(http_field_read("Cookie", 6));
	assert_false(http_field_read("Set-Cookie", 10));
	assert_false(http_field_read("Hos", 3));
	assert_false(http_field_read("Hostx", 5));
}

/* The preview xtap trace --raw prints goes through the masking. */
static void test_raw_preview(void **state)
{
	static struct xtap_data_event d;
	static const char req[] = "GET /a?k=v HTTP/1.1\r\nAuthorization: Basic dXNlcjpwdw==\r\n\r\n";
	char line[TRACE_RAW_LINE_MAX];
	json_t *o;

	(void)state;
	d.hdr.type = XTAP_EV_DATA;
	d.hdr.dir = XTAP_DIR_IN;
	d.len = d.cap_len = sizeof(req) - 1;
	memcpy(d.data, req, d.cap_len);
	assert_int_equal(trace_record_line(&d, XTAP_DATA_EV_SIZE(d.cap_len), true, line,
					   sizeof(line)),
			 0);
	assert_non_null(strstr(line, "\"GET /a?k=* HTTP/1.1\\r\\nAuthorization:*********"));
	assert_null(strstr(line, "dXNlcjpwdw"));
	o = trace_record_json(&d, XTAP_DATA_EV_SIZE(d.cap_len), false);
	assert_non_null(o);
	assert_non_null(strstr(json_string_value(json_object_get(o, "data")), "GET /a?k=v "));
	assert_null(strstr(json_string_value(json_object_get(o, "data")), "dXNlcjpwdw"));
	json_decref(o);
}

/* A redacted target is what the document's url and http_url annotation
 * and the trace line show. */
static void test_document(void **state)
{
	static struct xtap_txn t;
	static char doc[SEGMENT_DOC_MAX];
	struct trace_ctx ctx;
	char line[HTTP_HOST_MAX + HTTP_TARGET_MAX + 512];
	json_t *o;
	int n;

	(void)state;
	t.role = XTAP_ROLE_SERVER;
	t.has_response = true;
	t.status = 200;
	t.start_ns = 1795344132155000000ull;
	t.end_ns = t.start_ns + 1000000;
	snprintf(t.comm, sizeof(t.comm), "web");
	snprintf(t.method, sizeof(t.method), "GET");
	snprintf(t.target, sizeof(t.target), "/reset?email=a@example.com&token=s3cr3t");
	snprintf(t.host, sizeof(t.host), "shop.example.com");
	t.has_host = true;
	redact_query(t.target);
	segment_trace_ctx(&t, &ctx);
	n = segment_write(&t, &ctx, NULL, doc, sizeof(doc), NULL);
	assert_true(n > 0);
	o = json_loadb(doc, (size_t)n, 0, NULL);
	assert_non_null(o);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(o, "http"), "request"), "url")),
		"http://shop.example.com/reset?email=&token=");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "annotations"),
							      "http_url")),
			    "http://shop.example.com/reset?email=&token=");
	json_decref(o);
	trace_line(&t, line, sizeof(line));
	assert_non_null(strstr(line, "/reset?email=&token="));
	assert_null(strstr(line, "s3cr3t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),	    cmocka_unit_test(test_head_request),
		cmocka_unit_test(test_head_response), cmocka_unit_test(test_head_pieces),
		cmocka_unit_test(test_field_read),   cmocka_unit_test(test_raw_preview),
		cmocka_unit_test(test_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
