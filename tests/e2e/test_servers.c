// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End-to-end: real servers (python3 http.server, nginx, Go net/http, node)
 * and curl, traced by the real agent with --port; checks the segments and
 * subsegments field by field, their timing and that each exchange gives
 * exactly one document (checked again after the agent drained at stop).
 *
 * Each group starts its peers and one agent in the group setup; its last
 * test stops the agent and checks the final counts and counters.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct e2e_agent *agent;
static struct e2e_peer *py, *ngx, *gos, *nod;

/* ------------------------------------------------------------------------ */
/* shared checks                                                            */

static const char *curl_ver_prefix = "curl/";

/* Status-derived flags (the X-Ray segment document format): 4xx error, 429 throttle+error,
 * 5xx fault only; nothing otherwise. */
static void check_flags(json_t *d, int status)
{
	if (status == 429) {
		assert_json_true(d, "error");
		assert_json_true(d, "throttle");
		assert_json_absent(d, "fault");
	} else if (status >= 400 && status < 500) {
		assert_json_true(d, "error");
		assert_json_absent(d, "throttle");
		assert_json_absent(d, "fault");
	} else if (status >= 500) {
		assert_json_true(d, "fault");
		assert_json_absent(d, "error");
		assert_json_absent(d, "throttle");
	} else {
		assert_json_absent(d, "error");
		assert_json_absent(d, "throttle");
		assert_json_absent(d, "fault");
	}
}

/* A server-side segment for `method target` answered with `status` by peer
 * p, named `name` (NULL: the server's comm), inside [t0, t1]. */
static void check_segment(json_t *d, const struct e2e_peer *p, const char *name,
			  const char *method, const char *target, int status, double t0, double t1)
{
	const char *url = e2e_fmt("http://127.0.0.1:%d%s", p->port, target);

	assert_json_absent(d, "type");
	assert_trace_id(d, "trace_id");
	assert_json_hex(d, "id", 16);
	assert_json_str(d, "name", name ? name : p->comm);
	assert_json_present(d, "aws.xray");
	assert_json_str(d, "http.request.method", method);
	assert_json_str(d, "http.request.url", url);
	assert_json_str(d, "http.request.client_ip", "127.0.0.1");
	assert_json_absent(d, "http.request.x_forwarded_for");
	assert_json_int(d, "http.response.status", status);
	assert_json_str(d, "annotations.http_method", method);
	assert_json_str(d, "annotations.http_url", url);
	assert_json_int(d, "annotations.http_status", status);
	assert_json_int(d, "metadata.xtap.pid", p->server_pid);
	assert_json_str(d, "metadata.xtap.comm", p->comm);
	assert_json_str_suffix(d, "metadata.xtap.exe", p->exe);
	check_flags(d, status);
	assert_doc_timing(d, t0, t1);
}

/* A client-side independent subsegment from process `pid` (comm `comm`) for
 * `method http://127.0.0.1<path>` (port and query dropped) -> status. */
static void check_subsegment(json_t *d, long pid, const char *comm, const char *method,
			     const char *path, int status, double t0, double t1)
{
	assert_json_str(d, "type", "subsegment");
	assert_json_str(d, "namespace", "remote");
	assert_json_str(d, "name", "127.0.0.1");
	assert_trace_id(d, "trace_id");
	assert_json_hex(d, "id", 16);
	assert_json_hex(d, "parent_id", 16);
	assert_json_str(d, "http.request.method", method);
	assert_json_str(d, "http.request.url", e2e_fmt("http://127.0.0.1%s", path));
	assert_json_int(d, "http.response.status", status);
	assert_json_int(d, "metadata.xtap.pid", pid);
	if (comm)
		assert_json_str(d, "metadata.xtap.comm", comm);
	check_flags(d, status);
	assert_doc_timing(d, t0, t1);
}

/* Wait for exactly n documents matching f, record that exactly n must remain
 * after stop, return them. */
static json_t *docs_exactly(const struct e2e_filter *f, size_t n)
{
	return e2e_agent_expect_docs(agent, f, n, 10);
}

/* Exactly n segments whose url contains `tag`. */
static json_t *segs(const char *tag, size_t n)
{
	struct e2e_filter f = { .type = "segment", .url_contains = tag };

	return docs_exactly(&f, n);
}

/* The same for subsegments from process pid whose url contains `path`. */
static json_t *subsegs(long pid, const char *path, size_t n)
{
	struct e2e_filter f = { .type = "subsegment", .url_contains = path, .pid = pid };

	return docs_exactly(&f, n);
}

/* Two exchanges on one connection: a ended before b started. */
static void seq_check(json_t *a, json_t *b)
{
	if (e2e_json_num(a, "end_time", 0) > e2e_json_num(b, "start_time", 0) + 1e-6)
		fail_msg("exchanges on one connection overlap:\n first  %s\n second %s",
			 e2e_json_dump(a), e2e_json_dump(b));
}

/* Each line of curl's "-w '%{http_code} %{local_port}\n'" output. */
static int curl_lines(const char *out, int *codes, int *ports, int max)
{
	int n = 0;

	for (const char *p = out; *p && n < max;) {
		if (sscanf(p, "%d %d", &codes[n], &ports[n]) == 2)
			n++;
		p = strchrnul(p, '\n');
		if (*p)
			p++;
	}
	return n;
}

static void curl_ok(struct e2e_run r, int want_code)
{
	int code = 0, port = 0;

	if (r.status != 0)
		fail_msg("curl exited %d: %s", r.status, r.err);
	if (curl_lines(r.out, &code, &port, 1) != 1 || code != want_code)
		fail_msg("curl: expected HTTP %d, got output \"%s\"", want_code, r.out);
}

/* A final counter of the stopped agent equals want (prints the lines). */
static void counter_is(struct e2e_agent *a, const char *line, const char *key, long long want)
{
	long long got = e2e_agent_counter(a, line, key);

	if (got != want)
		fail_msg("agent %s %s=%lld, expected %lld\n%s", line, key, got, want,
			 e2e_tail(e2e_agent_log(a), 2000));
}

/* Stop the agent, require exit 0, the recorded exact counts, no ring buffer
 * drops or malformed heads, and the UDP copies equal the file's documents. */
static void stop_and_check(void)
{
	json_t *file, *udp, *d;
	size_t i;

	assert_int_equal(e2e_agent_stop(agent), 0);
	file = e2e_agent_docs(agent);
	assert_true(json_array_size(file) > 0);
	e2e_agent_check_final(agent);
	counter_is(agent, "kernel", "ringbuf_drops", 0);
	counter_is(agent, "counters", "http_malformed", 0);
	counter_is(agent, "counters", "http_lost_sync", 0);
	counter_is(agent, "counters", "incomplete", 0);
	counter_is(agent, "counters", "orphan_responses", 0);
	{
		long long segs_n = e2e_agent_counter(agent, "counters", "segments");
		long long subs_n = e2e_agent_counter(agent, "counters", "subsegments");
		struct e2e_filter fs = { .type = "segment" }, fss = { .type = "subsegment" };

		if (segs_n != (long long)json_array_size(e2e_docs_filter(file, &fs)) ||
		    subs_n != (long long)json_array_size(e2e_docs_filter(file, &fss)))
			fail_msg("counters segments=%lld subsegments=%lld but the file holds %zu / %zu",
				 segs_n, subs_n, json_array_size(e2e_docs_filter(file, &fs)),
				 json_array_size(e2e_docs_filter(file, &fss)));
	}
	udp = e2e_agent_udp_docs(agent);
	if (json_array_size(udp) != json_array_size(file))
		fail_msg("UDP daemon got %zu documents, the output file has %zu",
			 json_array_size(udp), json_array_size(file));
	json_array_foreach(file, i, d) {
		const char *id = e2e_json_str(d, "id");
		json_t *u;
		size_t j;
		bool found = false;

		json_array_foreach(udp, j, u) {
			if (id && e2e_json_str(u, "id") && !strcmp(id, e2e_json_str(u, "id"))) {
				found = json_equal(u, d);
				if (!found)
					fail_msg("UDP copy differs from the file:\n file %s\n udp  %s",
						 e2e_json_dump(d), e2e_json_dump(u));
			}
		}
		if (!found)
			fail_msg("document not sent over UDP: %s", e2e_json_dump(d));
	}
}

static const char *port_arg(const struct e2e_peer *p)
{
	return e2e_fmt("%d", p->port);
}

/* ------------------------------------------------------------------------ */
/* python3 http.server                                                      */

static int py_setup(void **state)
{
	e2e_group_setup(state);
	py = e2e_peer_python();
	agent = e2e_agent_startl("--port", port_arg(py), NULL);
	return 0;
}

static void test_python_get_file(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(py->port, "/hello.txt?t=py-get"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("?t=py-get", 1), 0);
	check_segment(d, py, NULL, "GET", "/hello.txt?t=py-get", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", strlen(E2E_HELLO_BODY));
	assert_json_str_contains(d, "http.request.user_agent", curl_ver_prefix);
	/* the real interpreter, not a launcher: python3 -> python3.X */
	assert_json_str(d, "metadata.xtap.exe", e2e_proc_exe(py->server_pid));
	assert_json_str(d, "name", e2e_proc_comm(py->server_pid));

	/* curl connected to the traced port: its side is a subsegment */
	d = json_array_get(subsegs(r.pid, "/hello.txt", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/hello.txt", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", strlen(E2E_HELLO_BODY));
}

static void test_python_404(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(py->port, "/missing.txt?t=py-404"), NULL);
	curl_ok(r, 404);
	d = json_array_get(segs("?t=py-404", 1), 0);
	check_segment(d, py, NULL, "GET", "/missing.txt?t=py-404", 404, r.t0, r.t1);
	d = json_array_get(subsegs(r.pid, "/missing.txt", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/missing.txt", 404, r.t0, r.t1);
}

/* HTTP/1.0 from a raw client: the server answers and closes. */
static void test_python_http10_close(void **state)
{
	struct e2e_tcp_result t;
	json_t *d;

	(void)state;
	t = e2e_tcp_strs(py->port, 0, 5,
			 e2e_fmt("GET /hello.txt?t=py-10 HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
				 "User-Agent: e2e-raw/1.0\r\n\r\n",
				 py->port),
			 NULL);
	assert_true(t.closed);
	assert_non_null(strstr(t.data, " 200 "));
	assert_non_null(strstr(t.data, E2E_HELLO_BODY));
	d = json_array_get(segs("?t=py-10", 1), 0);
	check_segment(d, py, NULL, "GET", "/hello.txt?t=py-10", 200, t.t0, t.t1);
	assert_json_str(d, "http.request.user_agent", "e2e-raw/1.0");
	assert_json_int(d, "http.response.content_length", strlen(E2E_HELLO_BODY));
	/* this test process was the client: a subsegment from our pid */
	d = json_array_get(subsegs(getpid(), "/hello.txt", 1), 0);
	check_subsegment(d, getpid(), NULL, "GET", "/hello.txt", 200, t.t0, t.t1);
}

/* A request head split at line boundaries over several writes. */
static void test_python_split_lines(void **state)
{
	struct e2e_tcp_result t;
	json_t *d;

	(void)state;
	t = e2e_tcp_strs(py->port, 0.05, 5, "GET /index.html?t=py-splitl HTTP/1.0\r\n",
			 e2e_fmt("Host: 127.0.0.1:%d\r\n", py->port), "User-Agent: e2e-split\r\n",
			 "\r\n", NULL);
	assert_true(t.closed);
	assert_non_null(strstr(t.data, " 200 "));
	d = json_array_get(segs("?t=py-splitl", 1), 0);
	check_segment(d, py, NULL, "GET", "/index.html?t=py-splitl", 200, t.t0, t.t1);
	assert_json_str(d, "http.request.user_agent", "e2e-split");
	/* first byte of the request to the last of the response, as the
	 * server read them: it may accept (and read the first chunk) up to a
	 * pause late, so two of the three pauses are certain; the client,
	 * below, saw all three */
	assert_doc_duration(d, 0.10, 5);
	d = json_array_get(subsegs(getpid(), "/index.html", 1), 0);
	check_subsegment(d, getpid(), NULL, "GET", "/index.html", 200, t.t0, t.t1);
	assert_doc_duration(d, 0.15, 5);
}

/* A request head split inside the method and the target. */
static void test_python_split_method(void **state)
{
	struct e2e_tcp_result t;
	json_t *d;

	(void)state;
	t = e2e_tcp_strs(py->port, 0.05, 5, "GE", "T /big.bin?t=py-splitm HT",
			 e2e_fmt("TP/1.0\r\nHost: 127.0.0.1:%d\r\n", py->port), "\r\n", NULL);
	assert_true(t.closed);
	assert_non_null(strstr(t.data, " 200 "));
	d = json_array_get(segs("?t=py-splitm", 1), 0);
	check_segment(d, py, NULL, "GET", "/big.bin?t=py-splitm", 200, t.t0, t.t1);
	/* server side: see test_python_split_lines */
	assert_doc_duration(d, 0.10, 5);
	d = json_array_get(subsegs(getpid(), "/big.bin", 1), 0);
	check_subsegment(d, getpid(), NULL, "GET", "/big.bin", 200, t.t0, t.t1);
	assert_doc_duration(d, 0.15, 5);
}

static void test_python_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* ------------------------------------------------------------------------ */
/* nginx                                                                    */

static int ngx_setup(void **state)
{
	e2e_group_setup(state);
	ngx = e2e_peer_nginx();
	agent = e2e_agent_startl("--port", port_arg(ngx), NULL);
	return 0;
}

/* One curl, three URLs: one kept-alive connection, three segments. */
static void test_nginx_keepalive(void **state)
{
	int codes[3], ports[3], i;
	struct e2e_run r;
	json_t *docs;

	(void)state;
	r = e2e_curl(e2e_url(ngx->port, "/static/hello.txt?t=ngx-ka1"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/static/index.html?t=ngx-ka2"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/ok?t=ngx-ka3"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 3), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(codes[i], 200);
		assert_int_equal(ports[i], ports[0]); /* one connection */
	}
	segs("?t=ngx-ka", 3);
	docs = json_array();
	json_array_append(docs, json_array_get(segs("?t=ngx-ka1", 1), 0));
	json_array_append(docs, json_array_get(segs("?t=ngx-ka2", 1), 0));
	json_array_append(docs, json_array_get(segs("?t=ngx-ka3", 1), 0));
	check_segment(json_array_get(segs("?t=ngx-ka1", 1), 0), ngx, NULL, "GET",
		      "/static/hello.txt?t=ngx-ka1", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=ngx-ka2", 1), 0), ngx, NULL, "GET",
		      "/static/index.html?t=ngx-ka2", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=ngx-ka3", 1), 0), ngx, NULL, "GET",
		      "/ok?t=ngx-ka3", 200, r.t0, r.t1);
	assert_json_int(json_array_get(segs("?t=ngx-ka1", 1), 0), "http.response.content_length",
			strlen(E2E_HELLO_BODY));
	/* three exchanges on one connection do not overlap in time */
	for (i = 1; i < 3; i++) {
		double prev_end = e2e_json_num(json_array_get(docs, i - 1), "end_time", 0);
		double start = e2e_json_num(json_array_get(docs, i), "start_time", 0);

		if (start + 1e-6 < prev_end) {
			json_decref(docs);
			fail_msg("keep-alive exchange %d starts at %.6f before the previous ended at %.6f",
				 i, start, prev_end);
		}
	}
	json_decref(docs);
	subsegs(r.pid, "/static/hello.txt", 1);
	subsegs(r.pid, "/static/index.html", 1);
	check_subsegment(json_array_get(subsegs(r.pid, "/ok", 1), 0), r.pid, "curl", "GET", "/ok",
			 200, r.t0, r.t1);
}

/* HEAD responses carry Content-Length but no body: two on one connection. */
static void test_nginx_head(void **state)
{
	int codes[2], ports[2];
	struct e2e_run r;

	(void)state;
	r = e2e_curl("-I", e2e_url(ngx->port, "/static/big.bin?t=ngx-head1"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/static/hello.txt?t=ngx-head2"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 200);
	assert_int_equal(ports[0], ports[1]);
	check_segment(json_array_get(segs("?t=ngx-head1", 1), 0), ngx, NULL, "HEAD",
		      "/static/big.bin?t=ngx-head1", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=ngx-head2", 1), 0), ngx, NULL, "HEAD",
		      "/static/hello.txt?t=ngx-head2", 200, r.t0, r.t1);
}

/* 204 has no body; the next exchange on the connection still parses. */
static void test_nginx_204(void **state)
{
	int codes[2], ports[2];
	struct e2e_run r;

	(void)state;
	r = e2e_curl(e2e_url(ngx->port, "/s204?t=ngx-204a"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/ok?t=ngx-204b"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 204);
	assert_int_equal(codes[1], 200);
	check_segment(json_array_get(segs("?t=ngx-204a", 1), 0), ngx, NULL, "GET",
		      "/s204?t=ngx-204a", 204, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=ngx-204b", 1), 0), ngx, NULL, "GET",
		      "/ok?t=ngx-204b", 200, r.t0, r.t1);
}

/* 304 Not Modified via If-Modified-Since equal to the file's mtime. */
static void test_nginx_304(void **state)
{
	struct stat st;
	struct tm tm;
	char date[64];
	int codes[2], ports[2];
	struct e2e_run r;

	(void)state;
	assert_int_equal(stat(e2e_fmt("%s/www/hello.txt", ngx->dir), &st), 0);
	gmtime_r(&st.st_mtime, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	r = e2e_curl("-H", e2e_fmt("If-Modified-Since: %s", date),
		     e2e_url(ngx->port, "/static/hello.txt?t=ngx-304a"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/ok?t=ngx-304b"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 304);
	check_segment(json_array_get(segs("?t=ngx-304a", 1), 0), ngx, NULL, "GET",
		      "/static/hello.txt?t=ngx-304a", 304, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=ngx-304b", 1), 0), ngx, NULL, "GET",
		      "/ok?t=ngx-304b", 200, r.t0, r.t1);
}

static void nginx_status(const char *path, const char *tag, int status)
{
	const char *target = e2e_fmt("%s?t=%s", path, tag);
	struct e2e_run r;

	r = e2e_curl(e2e_url(ngx->port, target), NULL);
	curl_ok(r, status);
	check_segment(json_array_get(segs(e2e_fmt("?t=%s", tag), 1), 0), ngx, NULL, "GET", target,
		      status, r.t0, r.t1);
	/* curl's own subsegment: same status and flags */
	check_subsegment(json_array_get(subsegs(r.pid, path, 1), 0), r.pid, "curl", "GET", path,
			 status, r.t0, r.t1);
}

static void test_nginx_404(void **state)
{
	(void)state;
	nginx_status("/s404", "ngx-404s", 404);
	nginx_status("/static/nope.txt", "ngx-404f", 404);
}

static void test_nginx_429(void **state)
{
	(void)state;
	nginx_status("/s429", "ngx-429", 429);
}

static void test_nginx_500(void **state)
{
	(void)state;
	nginx_status("/s500", "ngx-500", 500);
}

/* 64 KiB static file (sendfile: the body never passes through userspace). */
static void test_nginx_64k(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl("-w", "%{http_code} %{local_port} %{size_download}\\n",
		     e2e_url(ngx->port, "/static/big.bin?t=ngx-64k"), NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "200 "));
	assert_non_null(strstr(r.out, " 65536"));
	d = json_array_get(segs("?t=ngx-64k", 1), 0);
	check_segment(d, ngx, NULL, "GET", "/static/big.bin?t=ngx-64k", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 65536);
	d = json_array_get(subsegs(r.pid, "/static/big.bin", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/static/big.bin", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 65536);
}

/* gzip on: a chunked response, then another exchange on the connection. */
static void test_nginx_gzip_chunked(void **state)
{
	const char *hdrs = e2e_fmt("%s/gz.hdr", e2e_tmpdir());
	int codes[2], ports[2];
	struct e2e_run r;
	char *h;
	json_t *d;

	(void)state;
	r = e2e_curl("-H", "Accept-Encoding: gzip", "-D", hdrs,
		     e2e_url(ngx->port, "/gzip/big.txt?t=ngx-gz1"), "-o", "/dev/null",
		     e2e_url(ngx->port, "/ok?t=ngx-gz2"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 200);
	assert_int_equal(ports[0], ports[1]);
	h = e2e_read_file(hdrs, NULL);
	assert_non_null(h);
	if (!strcasestr(h, "Transfer-Encoding: chunked") || !strcasestr(h, "Content-Encoding: gzip"))
		fail_msg("nginx did not send a gzip chunked response:\n%s", h);
	d = json_array_get(segs("?t=ngx-gz1", 1), 0);
	check_segment(d, ngx, NULL, "GET", "/gzip/big.txt?t=ngx-gz1", 200, r.t0, r.t1);
	/* no Content-Length on the wire: if reported, it is the chunked body size */
	if (e2e_json_get(d, "http.response.content_length") &&
	    (e2e_json_num(d, "http.response.content_length", 0) <= 0 ||
	     e2e_json_num(d, "http.response.content_length", 0) >= 200000))
		fail_msg("gzip response content_length not plausible: %s", e2e_json_dump(d));
	check_segment(json_array_get(segs("?t=ngx-gz2", 1), 0), ngx, NULL, "GET",
		      "/ok?t=ngx-gz2", 200, r.t0, r.t1);
	/* the chunked response ended before the next request on the connection */
	seq_check(d, json_array_get(segs("?t=ngx-gz2", 1), 0));
}

/* nginx's segments come from the worker, named after its comm "nginx". */
static void test_nginx_worker_identity(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	assert_string_equal(ngx->comm, "nginx");
	assert_int_not_equal(ngx->server_pid, ngx->proc->pid);
	r = e2e_curl("-A", "e2e-agent/2", e2e_url(ngx->port, "/ok?t=ngx-id"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("?t=ngx-id", 1), 0);
	check_segment(d, ngx, "nginx", "GET", "/ok?t=ngx-id", 200, r.t0, r.t1);
	assert_json_str(d, "http.request.user_agent", "e2e-agent/2");
}

static void test_nginx_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* ------------------------------------------------------------------------ */
/* Go net/http (and nginx as the target of its outgoing calls)              */

static int go_setup(void **state)
{
	e2e_group_setup(state);
	gos = e2e_peer_go();
	ngx = e2e_peer_nginx();
	agent = e2e_agent_startl("--port", port_arg(gos), "--port", port_arg(ngx), NULL);
	return 0;
}

static void test_go_ok(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(gos->port, "/ok?t=go-ok"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("?t=go-ok", 1), 0);
	check_segment(d, gos, NULL, "GET", "/ok?t=go-ok", 200, r.t0, r.t1);
	assert_string_equal(gos->comm, "goserver");
	assert_json_int(d, "http.response.content_length", 3);
}

static void test_go_slow(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(gos->port, "/slow?ms=300&t=go-slow"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("t=go-slow", 1), 0);
	check_segment(d, gos, NULL, "GET", "/slow?ms=300&t=go-slow", 200, r.t0, r.t1);
	assert_doc_duration(d, 0.3, 5);
	d = json_array_get(subsegs(r.pid, "/slow", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/slow", 200, r.t0, r.t1);
	assert_doc_duration(d, 0.3, 5);
}

static void test_go_503(void **state)
{
	struct e2e_run r;

	(void)state;
	r = e2e_curl(e2e_url(gos->port, "/status/503?t=go-503"), NULL);
	curl_ok(r, 503);
	check_segment(json_array_get(segs("?t=go-503", 1), 0), gos, NULL, "GET",
		      "/status/503?t=go-503", 503, r.t0, r.t1);
}

static void test_go_chunked(void **state)
{
	struct e2e_run r;
	int codes[2], ports[2];

	(void)state;
	r = e2e_curl(e2e_url(gos->port, "/chunked?t=go-ch1"), "-o", "/dev/null",
		     e2e_url(gos->port, "/ok?t=go-ch2"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 200);
	assert_int_equal(ports[0], ports[1]);
	check_segment(json_array_get(segs("?t=go-ch1", 1), 0), gos, NULL, "GET",
		      "/chunked?t=go-ch1", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=go-ch2", 1), 0), gos, NULL, "GET", "/ok?t=go-ch2",
		      200, r.t0, r.t1);
	seq_check(json_array_get(segs("?t=go-ch1", 1), 0), json_array_get(segs("?t=go-ch2", 1), 0));
}

/* A 1 MB Content-Length body over many writes, then the next exchange. */
static void test_go_big(void **state)
{
	int codes[2], ports[2];
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(gos->port, "/big?size=1000000&t=go-big1"), "-o", "/dev/null",
		     e2e_url(gos->port, "/ok?t=go-big2"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 2), 2);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 200);
	assert_int_equal(ports[0], ports[1]);
	d = json_array_get(segs("t=go-big1", 1), 0);
	check_segment(d, gos, NULL, "GET", "/big?size=1000000&t=go-big1", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 1000000);
	check_segment(json_array_get(segs("?t=go-big2", 1), 0), gos, NULL, "GET",
		      "/ok?t=go-big2", 200, r.t0, r.t1);
	seq_check(d, json_array_get(segs("?t=go-big2", 1), 0));
	d = json_array_get(subsegs(r.pid, "/big", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/big", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 1000000);
}

/* Expect: 100-continue: the interim 100 is not the response. */
static void test_go_echo_100_continue(void **state)
{
	const char *file = e2e_fmt("%s/body.bin", e2e_tmpdir());
	size_t n = 1 << 20;
	char *body = calloc(1, n);
	struct e2e_run r;
	json_t *d;

	(void)state;
	assert_non_null(body);
	memset(body, 'b', n);
	e2e_write_file(file, body, n);
	free(body);
	r = e2e_curl("-H", "Expect: 100-continue", "--data-binary", e2e_fmt("@%s", file),
		     e2e_url(gos->port, "/echo?t=go-echo"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("?t=go-echo", 1), 0);
	check_segment(d, gos, NULL, "POST", "/echo?t=go-echo", 200, r.t0, r.t1);
	d = json_array_get(subsegs(r.pid, "/echo", 1), 0);
	check_subsegment(d, r.pid, "curl", "POST", "/echo", 200, r.t0, r.t1);
}

/* The Go server as a client: /fetch makes an outgoing GET to nginx. */
static void test_go_fetch_client(void **state)
{
	const char *target = e2e_fmt("http://127.0.0.1:%d/ok?t=go-fetch-ngx", ngx->port);
	struct e2e_run r;
	json_t *d, *up;

	(void)state;
	r = e2e_curl(e2e_url(gos->port, e2e_fmt("/fetch?t=go-fetch&url=%s", target)), NULL);
	curl_ok(r, 200);
	/* the Go server's own segment */
	up = json_array_get(segs("?t=go-fetch&", 1), 0);
	check_segment(up, gos, NULL, "GET", e2e_fmt("/fetch?t=go-fetch&url=%s", target), 200,
		      r.t0, r.t1);
	/* its outgoing call: an independent subsegment, no port, no query */
	d = json_array_get(subsegs(gos->server_pid, "/ok", 1), 0);
	check_subsegment(d, gos->server_pid, gos->comm, "GET", "/ok", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 3);
	/* inside the server's own exchange */
	if (e2e_json_num(d, "start_time", 0) + 1e-6 < e2e_json_num(up, "start_time", 0) ||
	    e2e_json_num(d, "end_time", 0) > e2e_json_num(up, "end_time", 0) + 1e-6)
		fail_msg("outgoing call not within the incoming exchange:\n in  %s\n out %s",
			 e2e_json_dump(up), e2e_json_dump(d));
	/* and nginx saw it as a Go client (the Go segment's url holds the tag too) */
	{
		struct e2e_filter f = { .type = "segment", .url_contains = "?t=go-fetch-ngx",
					.pid = ngx->server_pid };

		d = json_array_get(docs_exactly(&f, 1), 0);
	}
	check_segment(d, ngx, NULL, "GET", "/ok?t=go-fetch-ngx", 200, r.t0, r.t1);
	assert_json_str_contains(d, "http.request.user_agent", "Go-http-client/");
}

static void test_go_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* ------------------------------------------------------------------------ */
/* node http                                                                */

static int node_setup(void **state)
{
	e2e_group_setup(state);
	nod = e2e_peer_node();
	agent = e2e_agent_startl("--port", port_arg(nod), NULL);
	return 0;
}

static void test_node_ok(void **state)
{
	struct e2e_run r;
	json_t *d;

	(void)state;
	r = e2e_curl(e2e_url(nod->port, "/ok?t=node-ok"), NULL);
	curl_ok(r, 200);
	d = json_array_get(segs("?t=node-ok", 1), 0);
	check_segment(d, nod, NULL, "GET", "/ok?t=node-ok", 200, r.t0, r.t1);
	assert_json_int(d, "http.response.content_length", 3);
	d = json_array_get(subsegs(r.pid, "/ok", 1), 0);
	check_subsegment(d, r.pid, "curl", "GET", "/ok", 200, r.t0, r.t1);
}

static void test_node_chunked(void **state)
{
	struct e2e_run r;
	const char *argv[] = { "curl", "-sS", "--max-time", "10",
			       e2e_url(nod->port, "/chunked?t=node-ch"), NULL };
	struct e2e_spawn_opts o = { .argv = argv };

	(void)state;
	r = e2e_run_cmd(&o, 20);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "one\ntwo\nthree\n"));
	check_segment(json_array_get(segs("?t=node-ch", 1), 0), nod, NULL, "GET",
		      "/chunked?t=node-ch", 200, r.t0, r.t1);
}

static void test_node_keepalive(void **state)
{
	int codes[3], ports[3];
	struct e2e_run r;

	(void)state;
	r = e2e_curl(e2e_url(nod->port, "/ok?t=node-ka1"), "-o", "/dev/null",
		     e2e_url(nod->port, "/chunked?t=node-ka2"), "-o", "/dev/null",
		     e2e_url(nod->port, "/status/404?t=node-ka3"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(curl_lines(r.out, codes, ports, 3), 3);
	assert_int_equal(ports[0], ports[1]);
	assert_int_equal(ports[1], ports[2]);
	assert_int_equal(codes[2], 404);
	segs("?t=node-ka", 3);
	check_segment(json_array_get(segs("?t=node-ka1", 1), 0), nod, NULL, "GET",
		      "/ok?t=node-ka1", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=node-ka2", 1), 0), nod, NULL, "GET",
		      "/chunked?t=node-ka2", 200, r.t0, r.t1);
	check_segment(json_array_get(segs("?t=node-ka3", 1), 0), nod, NULL, "GET",
		      "/status/404?t=node-ka3", 404, r.t0, r.t1);
	seq_check(json_array_get(segs("?t=node-ka1", 1), 0), json_array_get(segs("?t=node-ka2", 1), 0));
	seq_check(json_array_get(segs("?t=node-ka2", 1), 0), json_array_get(segs("?t=node-ka3", 1), 0));
}

/* Exactly once under a burst: 20 requests on kept-alive connections. */
static void test_node_burst_exactly_once(void **state)
{
	const char *args[64];
	size_t n = 0;
	int i;
	struct e2e_run r;

	(void)state;
	for (i = 0; i < 20; i++) {
		if (i > 0) {
			args[n++] = "-o";
			args[n++] = "/dev/null";
		}
		args[n++] = e2e_url(nod->port, e2e_fmt("/ok?t=node-burst-%02d", i));
	}
	args[n] = NULL;
	r = e2e_curlv(args);
	assert_int_equal(r.status, 0);
	assert_int_equal(e2e_count_str(r.out, "200 "), 20);
	segs("?t=node-burst-", 20);
	subsegs(r.pid, "/ok", 20 + 0);
}

static void test_node_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* ------------------------------------------------------------------------ */
/* naming: AWS_XRAY_TRACING_NAME and -n                                      */

static int naming_setup(void **state)
{
	e2e_group_setup(state);
	py = e2e_peer_python();
	agent = NULL;
	return 0;
}

static void named_run(const char *const *args, const char *const *env, const char *want,
		      const char *tag)
{
	struct e2e_agent_opts o = { .args = args, .env = env };
	struct e2e_run r;
	json_t *d;

	agent = e2e_agent_start(&o);
	r = e2e_curl(e2e_url(py->port, e2e_fmt("/hello.txt?t=%s", tag)), NULL);
	curl_ok(r, 200);
	/* naming only: read what the agent wrote once it drained */
	e2e_sleep(0.5);
	assert_int_equal(e2e_agent_stop(agent), 0);
	d = json_array_get(segs(e2e_fmt("?t=%s", tag), 1), 0);
	check_segment(d, py, want, "GET", e2e_fmt("/hello.txt?t=%s", tag), 200, r.t0, r.t1);
	/* the metadata still names the process */
	assert_json_str(d, "metadata.xtap.comm", py->comm);
	e2e_agent_check_final(agent);
}

static void test_name_env(void **state)
{
	const char *args[] = { "--port", port_arg(py), NULL };
	const char *env[] = { "AWS_XRAY_TRACING_NAME=e2e-env-name", NULL };

	(void)state;
	named_run(args, env, "e2e-env-name", "name-env");
}

static void test_name_flag(void **state)
{
	const char *args[] = { "--port", port_arg(py), "-n", "e2e-flag-name", NULL };

	(void)state;
	named_run(args, NULL, "e2e-flag-name", "name-flag");
}

static void test_name_flag_beats_env(void **state)
{
	const char *args[] = { "--port", port_arg(py), "-n", "e2e-flag-wins", NULL };
	const char *env[] = { "AWS_XRAY_TRACING_NAME=e2e-env-loses", NULL };

	(void)state;
	named_run(args, env, "e2e-flag-wins", "name-both");
}

static void test_name_default_comm(void **state)
{
	const char *args[] = { "--port", port_arg(py), NULL };

	(void)state;
	named_run(args, NULL, py->comm, "name-comm");
}

/* ------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, e2e_test_setup, e2e_test_teardown)

int main(void)
{
	const struct CMUnitTest python_tests[] = {
		T(test_python_get_file),
		T(test_python_404),
		T(test_python_http10_close),
		T(test_python_split_lines),
		T(test_python_split_method),
		T(test_python_zz_stop),
	};
	const struct CMUnitTest nginx_tests[] = {
		T(test_nginx_keepalive),
		T(test_nginx_head),
		T(test_nginx_204),
		T(test_nginx_304),
		T(test_nginx_404),
		T(test_nginx_429),
		T(test_nginx_500),
		T(test_nginx_64k),
		T(test_nginx_gzip_chunked),
		T(test_nginx_worker_identity),
		T(test_nginx_zz_stop),
	};
	const struct CMUnitTest go_tests[] = {
		T(test_go_ok),
		T(test_go_slow),
		T(test_go_503),
		T(test_go_chunked),
		T(test_go_big),
		T(test_go_echo_100_continue),
		T(test_go_fetch_client),
		T(test_go_zz_stop),
	};
	const struct CMUnitTest node_tests[] = {
		T(test_node_ok),
		T(test_node_chunked),
		T(test_node_keepalive),
		T(test_node_burst_exactly_once),
		T(test_node_zz_stop),
	};
	const struct CMUnitTest naming_tests[] = {
		T(test_name_env),
		T(test_name_flag),
		T(test_name_flag_beats_env),
		T(test_name_default_comm),
	};
	int failed = 0;

	/* E2E_GROUPS=python,go runs only those groups (default: all) */
	if (e2e_group_wanted("python"))
		failed += cmocka_run_group_tests_name("e2e_python", python_tests, py_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("nginx"))
		failed += cmocka_run_group_tests_name("e2e_nginx", nginx_tests, ngx_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("go"))
		failed += cmocka_run_group_tests_name("e2e_go", go_tests, go_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("node"))
		failed += cmocka_run_group_tests_name("e2e_node", node_tests, node_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("naming"))
		failed += cmocka_run_group_tests_name("e2e_naming", naming_tests, naming_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
