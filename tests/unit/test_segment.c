/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "segment.h"

#define START_NS 1795344132155000000ull /* 0x6b02c704 seconds */
#define END_NS 1795344132166123999ull
#define ROOT "1-5759e988-bd862e3fe1be46a994272793"
#define PARENT "53995c3f42cd8ad8"

static char doc[SEGMENT_DOC_MAX];
static char id_out[XID_SPAN_LEN + 1];
static const struct segment_config cfg = { .name = "my-app", .sdk_version = "1.2.3" };

static void set(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s);
}

#define SET(field, s) set(field, sizeof(field), s)

/* What the Node SDK's Express middleware emitted for GET /ok?x=1 answered 200. */
static void server_txn(struct xtap_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->role = XTAP_ROLE_SERVER;
	t->has_response = true;
	t->pid = 4242;
	t->tid = 4243;
	SET(t->comm, "node");
	SET(t->exe, "/usr/bin/node");
	SET(t->method, "GET");
	SET(t->target, "/ok?x=1");
	SET(t->host, "127.0.0.1:32001");
	t->has_host = true;
	SET(t->user_agent, "ua-test/1.0");
	t->has_user_agent = true;
	SET(t->local_ip, "127.0.0.1");
	SET(t->peer_ip, "127.0.0.1");
	t->local_port = 32001;
	t->peer_port = 50000;
	t->status = 200;
	t->content_length = 5;
	t->start_ns = START_NS;
	t->end_ns = END_NS;
}

/* The Node outgoing capture: GET http://127.0.0.1:32002/down?secret=1 */
static void client_txn(struct xtap_txn *t)
{
	server_txn(t);
	t->role = XTAP_ROLE_CLIENT;
	SET(t->target, "/down?secret=1");
	SET(t->host, "127.0.0.1:32002");
	SET(t->local_ip, "127.0.0.1");
	SET(t->peer_ip, "127.0.0.1");
	t->local_port = 50001;
	t->peer_port = 32002;
}

/* Writes t (with the context segment_trace_ctx() decides unless ctx is
 * given) and parses the result, keeping key order. */
static json_t *write_doc_cfg(const struct xtap_txn *t, const struct trace_ctx *ctx,
			     const struct segment_config *c)
{
	struct trace_ctx own;
	json_error_t err;
	json_t *root;
	int len;

	if (!ctx) {
		segment_trace_ctx(t, &own);
		ctx = &own;
	}
	memset(id_out, 0, sizeof(id_out));
	len = segment_write(t, ctx, c, doc, sizeof(doc), id_out);
	if (len <= 0)
		fail_msg("segment_write: %d", len);
	assert_int_equal((size_t)len, strlen(doc));
	assert_null(strchr(doc, '\n'));
	root = json_loads(doc, JSON_PRESERVE_ORDER, &err);
	if (!root)
		fail_msg("invalid JSON (%s): %s", err.text, doc);
	assert_true(json_is_object(root));
	assert_string_equal(json_string_value(json_object_get(root, "id")), id_out);
	assert_true(xid_valid_span_id(id_out));
	assert_true(xid_valid_trace_id(json_string_value(json_object_get(root, "trace_id"))));
	return root;
}

static json_t *write_doc(const struct xtap_txn *t, const struct trace_ctx *ctx)
{
	return write_doc_cfg(t, ctx, &cfg);
}

/* keys of obj joined by ',' */
static void key_list(json_t *obj, char *out, size_t cap)
{
	const char *k;
	json_t *v;

	out[0] = '\0';
	json_object_foreach(obj, k, v) {
		(void)v;
		if (out[0])
			strncat(out, ",", cap - strlen(out) - 1);
		strncat(out, k, cap - strlen(out) - 1);
	}
}

static void assert_keys(json_t *obj, const char *want)
{
	char got[512];

	assert_non_null(obj);
	key_list(obj, got, sizeof(got));
	assert_string_equal(got, want);
}

static json_t *path(json_t *root, const char *p)
{
	char buf[128], *save = NULL, *tok;
	json_t *cur = root;

	set(buf, sizeof(buf), p);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	return cur;
}

static const char *str_at(json_t *root, const char *p)
{
	json_t *v = path(root, p);

	if (!json_is_string(v))
		fail_msg("%s is not a string in %s", p, doc);
	return json_string_value(v);
}

static json_int_t int_at(json_t *root, const char *p)
{
	json_t *v = path(root, p);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer in %s", p, doc);
	return json_integer_value(v);
}

static void assert_true_at(json_t *root, const char *p)
{
	if (!json_is_true(path(root, p)))
		fail_msg("%s is not true in %s", p, doc);
}

static void assert_absent(json_t *root, const char *p)
{
	if (path(root, p))
		fail_msg("%s is present in %s", p, doc);
}

static void test_server_200(void **state)
{
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	r = write_doc(&t, NULL);
	assert_keys(r, "trace_id,id,start_time,name,aws,annotations,metadata,http,end_time");
	assert_memory_equal(str_at(r, "trace_id"), "1-6b02c704-", 11);
	assert_non_null(strstr(doc, "\"start_time\":1795344132.155000,"));
	assert_non_null(strstr(doc, "\"end_time\":1795344132.166123}"));
	assert_string_equal(str_at(r, "name"), "my-app");
	assert_keys(path(r, "aws"), "xray");
	assert_string_equal(str_at(r, "aws.xray.sdk"), "xtap");
	assert_string_equal(str_at(r, "aws.xray.sdk_version"), "1.2.3");
	assert_true_at(r, "aws.xray.auto_instrumentation");

	assert_keys(path(r, "http"), "request,response");
	assert_keys(path(r, "http.request"), "method,user_agent,client_ip,url");
	assert_string_equal(str_at(r, "http.request.method"), "GET");
	assert_string_equal(str_at(r, "http.request.user_agent"), "ua-test/1.0");
	assert_string_equal(str_at(r, "http.request.client_ip"), "127.0.0.1");
	assert_string_equal(str_at(r, "http.request.url"), "http://127.0.0.1:32001/ok?x=1");
	assert_keys(path(r, "http.response"), "status,content_length");
	assert_int_equal(int_at(r, "http.response.status"), 200);
	assert_int_equal(int_at(r, "http.response.content_length"), 5);

	assert_keys(path(r, "annotations"), "http_method,http_url,http_status");
	assert_string_equal(str_at(r, "annotations.http_method"), "GET");
	assert_string_equal(str_at(r, "annotations.http_url"), "http://127.0.0.1:32001/ok?x=1");
	assert_int_equal(int_at(r, "annotations.http_status"), 200);

	assert_keys(path(r, "metadata"), "xtap");
	assert_keys(path(r, "metadata.xtap"), "pid,comm,exe");
	assert_int_equal(int_at(r, "metadata.xtap.pid"), 4242);
	assert_string_equal(str_at(r, "metadata.xtap.comm"), "node");
	assert_string_equal(str_at(r, "metadata.xtap.exe"), "/usr/bin/node");

	assert_absent(r, "parent_id");
	assert_absent(r, "type");
	assert_absent(r, "error");
	assert_absent(r, "fault");
	assert_absent(r, "throttle");
	json_decref(r);
}

static void test_ids_fresh_per_document(void **state)
{
	char first[XID_SPAN_LEN + 1];
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	r = write_doc(&t, NULL);
	memcpy(first, id_out, sizeof(first));
	json_decref(r);
	r = write_doc(&t, NULL);
	assert_string_not_equal(first, id_out);
	json_decref(r);
}

static void test_status_flags(void **state)
{
	static const struct {
		int status;
		bool error, throttle, fault;
	} cases[] = {
		{ 200, false, false, false }, { 302, false, false, false },
		{ 400, true, false, false },  { 404, true, false, false },
		{ 429, true, true, false },   { 499, true, false, false },
		{ 500, false, false, true },  { 503, false, false, true },
	};
	struct xtap_txn t;
	json_t *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int role;

		for (role = XTAP_ROLE_SERVER; role <= XTAP_ROLE_CLIENT; role++) {
			server_txn(&t);
			t.role = (uint8_t)role;
			t.status = cases[i].status;
			r = write_doc(&t, NULL);
			assert_int_equal(int_at(r, "http.response.status"), cases[i].status);
			assert_int_equal(int_at(r, "annotations.http_status"), cases[i].status);
			assert_int_equal(json_is_true(json_object_get(r, "error")), cases[i].error);
			assert_int_equal(json_is_true(json_object_get(r, "throttle")), cases[i].throttle);
			assert_int_equal(json_is_true(json_object_get(r, "fault")), cases[i].fault);
			/* flags are never written as false */
			assert_null(strstr(doc, "false"));
			json_decref(r);
		}
	}

	/* Node writes throttle before error, just before end_time */
	server_txn(&t);
	t.status = 429;
	r = write_doc(&t, NULL);
	assert_keys(r, "trace_id,id,start_time,name,aws,annotations,metadata,http,"
		       "throttle,error,end_time");
	json_decref(r);
}

static void test_xff(void **state)
{
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	SET(t.xff, "203.0.113.7, 10.0.0.1");
	t.has_xff = true;
	r = write_doc(&t, NULL);
	assert_keys(path(r, "http.request"), "method,user_agent,client_ip,url,x_forwarded_for");
	assert_string_equal(str_at(r, "http.request.client_ip"), "203.0.113.7");
	assert_true_at(r, "http.request.x_forwarded_for");
	json_decref(r);

	SET(t.xff, " \t203.0.113.7\t ");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.client_ip"), "203.0.113.7");
	json_decref(r);

	/* no usable first entry: the socket peer, not flagged */
	SET(t.xff, " , 10.0.0.1");
	SET(t.peer_ip, "10.1.2.3");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.client_ip"), "10.1.2.3");
	assert_absent(r, "http.request.x_forwarded_for");
	json_decref(r);

	/* the text is there but the header was not: ignored */
	SET(t.xff, "203.0.113.7");
	t.has_xff = false;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.client_ip"), "10.1.2.3");
	assert_absent(r, "http.request.x_forwarded_for");
	json_decref(r);
}

static void test_sampled_parent_header(void **state)
{
	struct trace_ctx ctx;
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	SET(t.amzn_trace, "Root=" ROOT ";Parent=" PARENT ";Sampled=1");
	t.has_amzn_trace = true;
	SET(t.xff, "203.0.113.7, 10.0.0.1");
	t.has_xff = true;
	segment_trace_ctx(&t, &ctx);
	assert_string_equal(ctx.trace_id, ROOT);
	assert_string_equal(ctx.parent_id, PARENT);
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_YES);
	r = write_doc(&t, &ctx);
	assert_keys(r, "trace_id,id,start_time,name,parent_id,aws,annotations,metadata,http,end_time");
	assert_string_equal(str_at(r, "trace_id"), ROOT);
	assert_string_equal(str_at(r, "parent_id"), PARENT);
	assert_string_equal(str_at(r, "http.request.client_ip"), "203.0.113.7");
	assert_true_at(r, "http.request.x_forwarded_for");
	assert_string_not_equal(str_at(r, "id"), PARENT);
	json_decref(r);
}

static void test_trace_ctx_sources(void **state)
{
	struct trace_ctx ctx;
	struct xtap_txn t;

	(void)state;
	/* nothing: a new id with the request's epoch, no parent */
	server_txn(&t);
	segment_trace_ctx(&t, &ctx);
	assert_true(xid_valid_trace_id(ctx.trace_id));
	assert_memory_equal(ctx.trace_id, "1-6b02c704-", 11);
	assert_string_equal(ctx.parent_id, "");
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_UNKNOWN);
	assert_int_equal(segment_trace_sampled(&t), TRACE_SAMPLED_UNKNOWN);

	/* Sampled=0 comes through for the caller to drop */
	SET(t.amzn_trace, "Root=" ROOT ";Sampled=0");
	t.has_amzn_trace = true;
	segment_trace_ctx(&t, &ctx);
	assert_string_equal(ctx.trace_id, ROOT);
	assert_string_equal(ctx.parent_id, "");
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_NO);
	assert_int_equal(segment_trace_sampled(&t), TRACE_SAMPLED_NO);

	/* traceparent when X-Amzn-Trace-Id has no valid Root */
	SET(t.amzn_trace, "Root=1-bad;Parent=" PARENT ";Sampled=1");
	SET(t.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	t.has_traceparent = true;
	segment_trace_ctx(&t, &ctx);
	assert_string_equal(ctx.trace_id, "1-0af76519-16cd43dd8448eb211c80319c");
	assert_string_equal(ctx.parent_id, "b7ad6b7169203331");
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_YES);
	assert_int_equal(segment_trace_sampled(&t), TRACE_SAMPLED_YES);

	/* a valid X-Amzn-Trace-Id wins over traceparent */
	SET(t.amzn_trace, "Root=" ROOT);
	segment_trace_ctx(&t, &ctx);
	assert_string_equal(ctx.trace_id, ROOT);
	assert_string_equal(ctx.parent_id, "");
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_UNKNOWN);

	/* both invalid: a new id */
	SET(t.amzn_trace, "Root=nope");
	SET(t.traceparent, "00-00000000000000000000000000000000-b7ad6b7169203331-01");
	segment_trace_ctx(&t, &ctx);
	assert_true(xid_valid_trace_id(ctx.trace_id));
	assert_memory_equal(ctx.trace_id, "1-6b02c704-", 11);
	assert_string_equal(ctx.parent_id, "");
	assert_int_equal(ctx.sampled, TRACE_SAMPLED_UNKNOWN);

	/* header text without its has_ flag is not used */
	t.has_amzn_trace = false;
	t.has_traceparent = false;
	SET(t.amzn_trace, "Root=" ROOT);
	segment_trace_ctx(&t, &ctx);
	assert_string_not_equal(ctx.trace_id, ROOT);
}

static void test_client_subsegment(void **state)
{
	struct trace_ctx ctx;
	struct xtap_txn t;
	json_t *r;

	(void)state;
	client_txn(&t);
	segment_trace_ctx(&t, &ctx);
	r = write_doc(&t, &ctx);
	assert_keys(r, "trace_id,id,start_time,name,parent_id,type,namespace,annotations,"
		       "metadata,http,end_time");
	assert_string_equal(str_at(r, "trace_id"), ctx.trace_id);
	assert_string_equal(str_at(r, "name"), "127.0.0.1");
	assert_true(xid_valid_span_id(str_at(r, "parent_id")));
	assert_string_not_equal(str_at(r, "parent_id"), id_out);
	assert_string_equal(str_at(r, "type"), "subsegment");
	assert_string_equal(str_at(r, "namespace"), "remote");
	assert_keys(path(r, "http.request"), "url,method");
	assert_string_equal(str_at(r, "http.request.url"), "http://127.0.0.1/down");
	assert_string_equal(str_at(r, "http.request.method"), "GET");
	assert_int_equal(int_at(r, "http.response.status"), 200);
	assert_int_equal(int_at(r, "http.response.content_length"), 5);
	assert_string_equal(str_at(r, "annotations.http_url"), "http://127.0.0.1/down");
	assert_absent(r, "aws");
	assert_null(strstr(doc, "secret"));
	json_decref(r);

	/* a propagated Parent is the parent */
	SET(t.amzn_trace, "Root=" ROOT ";Parent=" PARENT ";Sampled=1");
	t.has_amzn_trace = true;
	SET(t.host, "api.example.com");
	SET(t.target, "/v1/items?id=7#frag");
	t.https = true;
	t.status = 503;
	t.content_length = -1;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "trace_id"), ROOT);
	assert_string_equal(str_at(r, "parent_id"), PARENT);
	assert_string_equal(str_at(r, "name"), "api.example.com");
	assert_string_equal(str_at(r, "http.request.url"), "https://api.example.com/v1/items");
	assert_keys(path(r, "http.response"), "status");
	assert_true_at(r, "fault");
	json_decref(r);

	/* no Host header: the peer address */
	client_txn(&t);
	t.has_host = false;
	SET(t.peer_ip, "10.0.0.9");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "name"), "10.0.0.9");
	assert_string_equal(str_at(r, "http.request.url"), "http://10.0.0.9/down");
	json_decref(r);
}

static void test_incomplete(void **state)
{
	struct xtap_txn t;
	json_t *r;
	int role;

	(void)state;
	for (role = XTAP_ROLE_SERVER; role <= XTAP_ROLE_CLIENT; role++) {
		server_txn(&t);
		t.role = (uint8_t)role;
		t.incomplete = true;
		t.has_response = false;
		t.status = 0;
		t.end_ns = t.start_ns + 1000;
		r = write_doc(&t, NULL);
		assert_keys(path(r, "http"), "request");
		assert_true_at(r, "fault");
		assert_absent(r, "error");
		assert_absent(r, "annotations.http_status");
		assert_non_null(path(r, "annotations.http_url"));
		assert_non_null(strstr(doc, "\"end_time\":1795344132.155001}"));
		json_decref(r);
	}
}

static void test_ipv6_and_default_ports(void **state)
{
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	SET(t.host, "[::1]:8080");
	SET(t.target, "/p?q=1");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "http://[::1]:8080/p?q=1");
	json_decref(r);

	t.role = XTAP_ROLE_CLIENT;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "name"), "::1");
	assert_string_equal(str_at(r, "http.request.url"), "http://[::1]/p");
	json_decref(r);

	/* no Host: the local address, bracketed, and a non-default port */
	server_txn(&t);
	t.has_host = false;
	SET(t.target, "/p");
	SET(t.local_ip, "::1");
	t.local_port = 8080;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "http://[::1]:8080/p");
	json_decref(r);

	SET(t.local_ip, "10.0.0.1");
	t.local_port = 80;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "http://10.0.0.1/p");
	json_decref(r);

	t.https = true;
	t.local_port = 443;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "https://10.0.0.1/p");
	json_decref(r);

	t.local_port = 80;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "https://10.0.0.1:80/p");
	json_decref(r);

	/* an absolute-form target (proxy request) is already the url */
	t.https = false;
	t.has_host = true;
	SET(t.host, "proxy:3128");
	SET(t.target, "http://example.com/x?y");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "http://example.com/x?y");
	json_decref(r);
}

static void expect_name(const char *cfg_name, const char *comm, const char *want)
{
	struct segment_config c = { .name = cfg_name, .sdk_version = "1" };
	struct xtap_txn t;
	json_t *r;

	server_txn(&t);
	SET(t.comm, comm);
	r = write_doc_cfg(&t, NULL, &c);
	assert_string_equal(str_at(r, "name"), want);
	json_decref(r);
}

static void test_name_sanitised(void **state)
{
	char long_name[400], want[201];
	locale_t l;

	(void)state;
	expect_name(NULL, "python3", "python3");
	expect_name("", "python3", "python3");
	expect_name("my app!<svc>", "x", "my app__svc_");
	expect_name("a_b.c:d/e%f&g#h=i+j\\k-l@m 9", "x", "a_b.c:d/e%f&g#h=i+j\\k-l@m 9");
	expect_name("tab\there\nnl", "x", "tab_here_nl");
	expect_name("\"quoted\"", "x", "_quoted_");
	expect_name("bad\xff\xc3", "x", "bad__");
	expect_name(NULL, "", "unknown");
	/* non-breaking space is \p{Z} */
	expect_name("a\xc2\xa0z", "x", "a\xc2\xa0z");
	/* symbols outside the set are replaced whole, not per byte */
	expect_name("a\xe2\x82\xac", "x", "a_"); /* U+20AC EURO SIGN */

	/* Unicode letters need the C library's tables */
	l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (l) {
		freelocale(l);
		expect_name("caf\xc3\xa9-\xe6\x9d\xb1\xe4\xba\xac", "x",
			    "caf\xc3\xa9-\xe6\x9d\xb1\xe4\xba\xac");
	}

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(want, 'n', 200);
	want[200] = '\0';
	expect_name(long_name, "x", want);

	/* 200 characters, not 200 bytes */
	{
		char wide[300 * 2 + 1], wwant[200 * 2 + 1];
		int i;

		for (i = 0; i < 300; i++)
			memcpy(wide + 2 * i, "\xc2\xa0", 2);
		wide[600] = '\0';
		memcpy(wwant, wide, 400);
		wwant[400] = '\0';
		expect_name(wide, "x", wwant);
	}

	/* cfg NULL: comm and some sdk_version */
	{
		struct xtap_txn t;
		json_t *r;

		server_txn(&t);
		r = write_doc_cfg(&t, NULL, NULL);
		assert_string_equal(str_at(r, "name"), "node");
		assert_true(json_is_string(path(r, "aws.xray.sdk_version")));
		json_decref(r);
	}
}

/* Kubernetes metadata: the name precedence (-n, then the pod's, then
 * comm), the annotations on segments and subsegments, metadata.k8s. */
static void test_kubernetes_fields(void **state)
{
	static const char node[] = "ip-10-0-1-2.ec2.internal";
	struct segment_config none = { .sdk_version = "1" };
	struct xtap_txn t;
	json_t *r;
	size_t n;

	(void)state;
	server_txn(&t);
	SET(t.k8s.pod, "web-5d8f7c9b6-x2x4z");
	SET(t.k8s.pod_uid, "4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30");
	SET(t.k8s.ns, "shop");
	SET(t.k8s.container, "app");
	SET(t.k8s.workload, "web");
	SET(t.k8s.workload_kind, "Deployment");
	SET(t.k8s.name, "web");
	t.k8s.node = node;
	r = write_doc_cfg(&t, NULL, &none);
	assert_string_equal(str_at(r, "name"), "web");
	assert_keys(path(r, "annotations"),
		    "http_method,http_url,http_status,pod,namespace,container,workload,node");
	assert_string_equal(str_at(r, "annotations.pod"), "web-5d8f7c9b6-x2x4z");
	assert_string_equal(str_at(r, "annotations.namespace"), "shop");
	assert_string_equal(str_at(r, "annotations.container"), "app");
	assert_string_equal(str_at(r, "annotations.workload"), "web");
	assert_string_equal(str_at(r, "annotations.node"), node);
	assert_keys(path(r, "metadata.k8s"), "pod_uid,workload_kind");
	assert_string_equal(str_at(r, "metadata.k8s.pod_uid"), "4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30");
	assert_string_equal(str_at(r, "metadata.k8s.workload_kind"), "Deployment");
	json_decref(r);
	/* -n and AWS_XRAY_TRACING_NAME are set on purpose: they win */
	r = write_doc_cfg(&t, NULL, &cfg);
	assert_string_equal(str_at(r, "name"), "my-app");
	json_decref(r);
	assert_string_equal(segment_service_name(&t, &cfg, &n), "my-app");
	assert_int_equal(n, 6);
	assert_string_equal(segment_service_name(&t, &none, &n), "web");
	assert_string_equal(segment_service_name(&t, NULL, NULL), "web");
	/* the pod names are cleaned like any name */
	SET(t.k8s.name, "checkout api!");
	r = write_doc_cfg(&t, NULL, &none);
	assert_string_equal(str_at(r, "name"), "checkout api_");
	json_decref(r);

	/* a subsegment says which pod made the call; its name stays the host */
	client_txn(&t);
	SET(t.k8s.pod, "web-1");
	SET(t.k8s.ns, "shop");
	SET(t.k8s.name, "web");
	t.k8s.node = node;
	r = write_doc_cfg(&t, NULL, &none);
	assert_string_equal(str_at(r, "name"), "127.0.0.1");
	assert_string_equal(str_at(r, "annotations.pod"), "web-1");
	assert_string_equal(str_at(r, "annotations.namespace"), "shop");
	assert_absent(r, "annotations.container");
	assert_absent(r, "metadata.k8s");
	json_decref(r);

	/* a host process on a Kubernetes node: the node only, comm names it */
	server_txn(&t);
	t.k8s.node = node;
	r = write_doc_cfg(&t, NULL, &none);
	assert_string_equal(str_at(r, "name"), "node");
	assert_keys(path(r, "annotations"), "http_method,http_url,http_status,node");
	assert_absent(r, "metadata.k8s");
	json_decref(r);
	/* not on Kubernetes: nothing */
	server_txn(&t);
	r = write_doc_cfg(&t, NULL, &none);
	assert_keys(path(r, "annotations"), "http_method,http_url,http_status");
	json_decref(r);
}

static void test_optional_fields(void **state)
{
	struct xtap_txn t;
	json_t *r;

	(void)state;
	server_txn(&t);
	t.has_user_agent = false;
	SET(t.user_agent, "leftover");
	t.content_length = -1;
	t.head_truncated = true;
	t.exe[0] = '\0';
	t.end_ns = t.start_ns - 5;
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.user_agent"), "");
	assert_keys(path(r, "http.response"), "status");
	assert_keys(path(r, "metadata.xtap"), "pid,comm,head_truncated");
	assert_true_at(r, "metadata.xtap.head_truncated");
	assert_non_null(strstr(doc, "\"end_time\":1795344132.155000}"));
	json_decref(r);

	/* user agent longer than X-Ray's 250 characters */
	server_txn(&t);
	memset(t.user_agent, 'u', sizeof(t.user_agent) - 1);
	t.user_agent[sizeof(t.user_agent) - 1] = '\0';
	r = write_doc(&t, NULL);
	assert_int_equal(strlen(str_at(r, "http.request.user_agent")), 250);
	json_decref(r);

	/* control characters and quotes in request fields are escaped */
	server_txn(&t);
	SET(t.target, "/a\"b\\c\x01\x7f");
	SET(t.user_agent, "ua\r\nInjected: 1");
	r = write_doc(&t, NULL);
	assert_string_equal(str_at(r, "http.request.url"), "http://127.0.0.1:32001/a\"b\\c\x01\x7f");
	assert_string_equal(str_at(r, "http.request.user_agent"), "ua\r\nInjected: 1");
	json_decref(r);
}

static void test_annotation_cut_utf8(void **state)
{
	struct xtap_txn t;
	const char *a, *u;
	json_t *r;
	size_t i;

	(void)state;
	/* The url is "http://127.0.0.1:32001" (22 characters), 977 ASCII
	 * characters of target, then three-byte characters: character 1,000
	 * is the first three-byte one, so a cut by bytes would split it. */
	server_txn(&t);
	t.target[0] = '/';
	memset(t.target + 1, 'a', 976);
	for (i = 977; i + 3 < sizeof(t.target); i += 3)
		memcpy(t.target + i, "\xe6\x9d\xb1", 3);
	t.target[i] = '\0';
	r = write_doc(&t, NULL);
	a = str_at(r, "annotations.http_url");
	u = str_at(r, "http.request.url");
	assert_null(strstr(a, "\xef\xbf\xbd"));
	assert_null(strstr(u, "\xef\xbf\xbd"));
	assert_true(strlen(u) > strlen(a));
	assert_memory_equal(a, u, strlen(a));
	{
		size_t chars = 0;

		for (i = 0; a[i]; i++)
			chars += ((unsigned char)a[i] & 0xc0) != 0x80;
		assert_int_equal(chars, 1000);
		assert_int_equal(strlen(a), 1002);
	}
	json_decref(r);
}

static void fill(char *s, size_t cap, char c)
{
	memset(s, c, cap - 1);
	s[cap - 1] = '\0';
}

static void test_maximal_fits(void **state)
{
	struct segment_config big = { .sdk_version = "1.0" };
	char name[4096];
	struct trace_ctx ctx;
	struct xtap_txn t;
	json_t *r;
	int role;

	(void)state;
	/* Every field full of bytes that escape to six characters each. */
	fill(name, sizeof(name), '\x01');
	big.name = name;
	for (role = XTAP_ROLE_SERVER; role <= XTAP_ROLE_CLIENT; role++) {
		memset(&t, 0, sizeof(t));
		t.role = (uint8_t)role;
		t.has_response = true;
		t.head_truncated = true;
		t.status = 599;
		t.content_length = INT64_MAX;
		t.pid = UINT32_MAX;
		t.start_ns = UINT64_MAX - 1;
		t.end_ns = UINT64_MAX;
		fill(t.comm, sizeof(t.comm), '\x02');
		fill(t.exe, sizeof(t.exe), '\xff');
		fill(t.method, sizeof(t.method), '"');
		fill(t.target, sizeof(t.target), '\x1f');
		t.target[0] = '/';
		fill(t.host, sizeof(t.host), '\x80');
		t.has_host = true;
		fill(t.user_agent, sizeof(t.user_agent), '\xfe');
		t.has_user_agent = true;
		fill(t.xff, sizeof(t.xff), '\x03');
		t.has_xff = true;
		fill(t.amzn_trace, sizeof(t.amzn_trace), ';');
		t.has_amzn_trace = true;
		fill(t.traceparent, sizeof(t.traceparent), '-');
		t.has_traceparent = true;
		fill(t.local_ip, sizeof(t.local_ip), ':');
		fill(t.peer_ip, sizeof(t.peer_ip), '\\');
		fill(t.k8s.pod, sizeof(t.k8s.pod), '\x04');
		fill(t.k8s.pod_uid, sizeof(t.k8s.pod_uid), '\x05');
		fill(t.k8s.ns, sizeof(t.k8s.ns), '\x06');
		fill(t.k8s.container, sizeof(t.k8s.container), '\x07');
		fill(t.k8s.container_id, sizeof(t.k8s.container_id), '\x08');
		fill(t.k8s.workload, sizeof(t.k8s.workload), '\x0b');
		fill(t.k8s.workload_kind, sizeof(t.k8s.workload_kind), '\x0c');
		fill(t.k8s.name, sizeof(t.k8s.name), '\x0e');
		t.k8s.node = t.k8s.workload;
		segment_trace_ctx(&t, &ctx);
		r = write_doc_cfg(&t, &ctx, &big);
		assert_true(strlen(doc) < SEGMENT_DOC_MAX);
		assert_true(strlen(str_at(r, "http.request.url")) <= 2000 * 3);
		json_decref(r);
	}
}

static void test_enospc(void **state)
{
	struct trace_ctx ctx;
	struct xtap_txn t;
	char small[64];

	(void)state;
	server_txn(&t);
	segment_trace_ctx(&t, &ctx);
	assert_int_equal(segment_write(&t, &ctx, &cfg, small, sizeof(small), id_out), -ENOSPC);
	assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_200),
		cmocka_unit_test(test_ids_fresh_per_document),
		cmocka_unit_test(test_status_flags),
		cmocka_unit_test(test_xff),
		cmocka_unit_test(test_sampled_parent_header),
		cmocka_unit_test(test_trace_ctx_sources),
		cmocka_unit_test(test_client_subsegment),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_ipv6_and_default_ports),
		cmocka_unit_test(test_name_sanitised),
		cmocka_unit_test(test_kubernetes_fields),
		cmocka_unit_test(test_optional_fields),
		cmocka_unit_test(test_annotation_cut_utf8),
		cmocka_unit_test(test_maximal_fits),
		cmocka_unit_test(test_enospc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
