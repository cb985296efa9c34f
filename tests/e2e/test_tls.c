// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End-to-end: HTTPS through the TLS probes. Real servers on different TLS
 * stacks with a certificate the test makes, real clients, the real agent:
 * segments must carry https urls, the right status, client_ip, pid and
 * timing, exactly once each (the ciphertext on the same sockets must never
 * make a second document), and processes started after the agent must be
 * traced as well as those running before it.
 *
 * Groups:
 *  nginx   nginx (dynamic libssl) and curl running before the agent starts
 *  python  python3 ssl server started after the agent, with its own copy of
 *          libssl (so it is that file's first user): attached within a
 *          bounded delay, released when the server exits
 *  node    node's https (OpenSSL inside the executable, memory BIOs) started
 *          after the agent, as a server and as a client on one thread
 *  go      Go crypto/tls server and client (the standard library), with a
 *          symbol table and stripped (-s -w: found through the pclntab)
 *  static  a C server with libssl.a linked in: probed by symbol; its
 *          stripped copy is reported once, and the agent carries on
 */
#include "tls_peers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long the agent may take to attach a file a new process maps: its
 * bound (tls_probes.h) plus the ring buffer poll, with room for a loaded
 * machine. */
#define ATTACH_TIMEOUT 10.0

static struct e2e_agent *agent;
static const struct e2e_cert *cert;
static struct e2e_peer *srv;

/* ------------------------------------------------------------------------ */
/* shared checks                                                            */

static void curl_ok(struct e2e_run r, int want)
{
	int code = 0;

	if (r.status != 0 || sscanf(r.out, "%d", &code) != 1 || code != want)
		fail_msg("curl: expected HTTP %d, got exit %d, output \"%s\", errors \"%s\"", want,
			 r.status, r.out, r.err);
}

static void check_flags(json_t *d, int status)
{
	if (status >= 500) {
		assert_json_true(d, "fault");
		assert_json_absent(d, "error");
	} else if (status >= 400) {
		assert_json_true(d, "error");
		assert_json_absent(d, "fault");
	} else {
		assert_json_absent(d, "error");
		assert_json_absent(d, "fault");
	}
}

/* The server segment of `GET target` answered with status by srv. */
static void check_segment(json_t *d, const char *target, int status, double t0, double t1)
{
	const char *url = e2e_https_url(srv->port, target);

	assert_json_absent(d, "type");
	assert_trace_id(d, "trace_id");
	assert_json_str(d, "name", srv->comm);
	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url", url);
	assert_json_str(d, "annotations.http_url", url);
	assert_json_str(d, "http.request.client_ip", "127.0.0.1");
	assert_json_int(d, "http.response.status", status);
	assert_json_int(d, "metadata.xtap.pid", srv->server_pid);
	assert_json_str(d, "metadata.xtap.exe", srv->exe);
	check_flags(d, status);
	assert_doc_timing(d, t0, t1);
}

/* The client subsegment of process pid for https://127.0.0.1<path>. */
static void check_subsegment(json_t *d, long pid, const char *comm, const char *path, int status,
			     double t0, double t1)
{
	assert_json_str(d, "type", "subsegment");
	assert_json_str(d, "namespace", "remote");
	assert_json_str(d, "name", "127.0.0.1");
	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url", e2e_fmt("https://127.0.0.1%s", path));
	assert_json_int(d, "http.response.status", status);
	assert_json_int(d, "metadata.xtap.pid", pid);
	assert_json_str(d, "metadata.xtap.comm", comm);
	check_flags(d, status);
	assert_doc_timing(d, t0, t1);
}

/* Exactly one server segment whose url contains tag (also after stop). */
static json_t *seg(const char *tag)
{
	struct e2e_filter f = { .type = "segment", .url_contains = tag };

	return json_array_get(e2e_agent_expect_docs(agent, &f, 1, 10), 0);
}

/* Exactly one subsegment of pid whose url contains path. */
static json_t *subseg(long pid, const char *path)
{
	struct e2e_filter f = { .type = "subsegment", .url_contains = path, .pid = pid };

	return json_array_get(e2e_agent_expect_docs(agent, &f, 1, 10), 0);
}

static void counter_is(const char *line, const char *key, long long want)
{
	long long got = e2e_agent_counter(agent, line, key);

	if (got != want)
		fail_msg("agent %s %s=%lld, expected %lld\n%s", line, key, got, want,
			 e2e_tail(e2e_agent_log(agent), 3000));
}

static bool is_http_url(json_t *doc, const void *arg)
{
	const char *url = e2e_json_str(doc, "http.request.url");

	(void)arg;
	return url && !strncmp(url, "http://", 7);
}

/* Stop the agent: exit 0, the recorded exact counts, nothing lost or
 * malformed, and not one document made from the ciphertext (it would parse
 * as nothing, or as plain http://). tls_unbound is not checked here: other
 * processes on the machine may have TLS connections older than the agent
 * (test_node_stream_before_agent checks it under --pid). */
static void stop_and_check(void)
{
	struct e2e_filter plain = { .pred = is_http_url };

	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
	counter_is("kernel", "ringbuf_drops", 0);
	counter_is("counters", "bytes_not_http", 0);
	counter_is("counters", "http_malformed", 0);
	counter_is("counters", "incomplete", 0);
	counter_is("counters", "orphan_responses", 0);
	assert_true(e2e_agent_counter(agent, "kernel", "tls_calls") > 0);
	assert_true(e2e_agent_counter(agent, "kernel", "tls_ciphertext") > 0);
	assert_doc_count(e2e_docs_filter(e2e_agent_docs(agent), &plain), 0);
}

static const char *attached_line(const char *path)
{
	return e2e_fmt("tls: attached %s: ", path);
}

/* The TLS report of `xtap status -j` for the file at path (the operator's
 * view of what the agent attached to, and why not); fails when absent. */
static json_t *status_tls_file(const char *path)
{
	const char *argv[] = { e2e_xtap_bin(), "status", "-j", "--address",
			       e2e_fmt("127.0.0.1:%d", agent->metrics_port), NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);
	json_t *st, *f;
	size_t i;

	if (r.status)
		fail_msg("xtap status: exit %d\n%s", r.status, r.err);
	st = json_loads(r.out, 0, NULL);
	if (!st)
		fail_msg("xtap status -j printed no JSON:\n%s", r.out);
	json_array_foreach(e2e_json_get(st, "tls.files"), i, f) {
		const char *fp = e2e_json_str(f, "path");

		if (fp && !strcmp(fp, path)) {
			json_incref(f);
			json_decref(st);
			return f;
		}
	}
	fail_msg("xtap status does not list %s:\n%s", path, r.out);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* nginx and curl, both running on the system libssl before the agent       */

static int nginx_setup(void **state)
{
	e2e_group_setup(state);
	cert = e2e_cert_new();
	srv = e2e_peer_nginx_ssl(cert->cert, cert->key);
	agent = e2e_agent_startl("--port", e2e_fmt("%d", srv->port), NULL);
	return 0;
}

/* Found by the scan at start: attached before "ready". */
static void test_nginx_attached_at_start(void **state)
{
	const char *lib = e2e_proc_mapped(srv->server_pid, "libssl.so");
	const char *log = e2e_agent_log(agent);
	const char *att = strstr(log, attached_line(lib));

	(void)state;
	json_t *f;

	if (!att || att > strstr(log, "xtap: ready:"))
		fail_msg("%s was not attached before ready:\n%s", lib, e2e_tail(log, 3000));
	assert_non_null(strstr(att, "openssl-dyn"));
	/* and the operator sees it */
	f = status_tls_file(lib);
	assert_json_str(f, "state", "attached");
	assert_json_str(f, "kind", "openssl-dyn");
	assert_true(e2e_json_num(f, "probes", 0) >= 4);
	assert_true(e2e_json_num(f, "users", 0) >= 1);
	json_decref(f);
}

/* Three URLs on one kept-alive TLS connection: three segments, and curl's
 * own three subsegments (curl uses the same libssl). */
static void test_nginx_keepalive(void **state)
{
	struct e2e_run r;

	(void)state;
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/static/hello.txt?t=ngx1"), "-o",
			 "/dev/null", e2e_https_url(srv->port, "/ok?t=ngx2"), "-o", "/dev/null",
			 e2e_https_url(srv->port, "/s404?t=ngx3"), NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(e2e_count_str(r.out, "\n"), 3);
	check_segment(seg("?t=ngx1"), "/static/hello.txt?t=ngx1", 200, r.t0, r.t1);
	assert_json_int(seg("?t=ngx1"), "http.response.content_length", strlen(E2E_HELLO_BODY));
	check_segment(seg("?t=ngx2"), "/ok?t=ngx2", 200, r.t0, r.t1);
	check_segment(seg("?t=ngx3"), "/s404?t=ngx3", 404, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/static/hello.txt"), r.pid, "curl", "/static/hello.txt",
			 200, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/ok"), r.pid, "curl", "/ok", 200, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/s404"), r.pid, "curl", "/s404", 404, r.t0, r.t1);
}

/* A 64 KiB body in many TLS records: one exchange, its length and 500. */
static void test_nginx_big_and_500(void **state)
{
	struct e2e_run r;

	(void)state;
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/static/big.bin?t=ngx-big"), NULL);
	curl_ok(r, 200);
	check_segment(seg("?t=ngx-big"), "/static/big.bin?t=ngx-big", 200, r.t0, r.t1);
	assert_json_int(seg("?t=ngx-big"), "http.response.content_length", 65536);
	subseg(r.pid, "/static/big.bin");
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/s500?t=ngx-500"), NULL);
	curl_ok(r, 500);
	check_segment(seg("?t=ngx-500"), "/s500?t=ngx-500", 500, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/s500"), r.pid, "curl", "/s500", 500, r.t0, r.t1);
}

static void test_nginx_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* ------------------------------------------------------------------------ */
/* python3, started after the agent, on its own copy of libssl              */

static const char *py_libdir, *py_lib;
static int py_port;

static int python_setup(void **state)
{
	const char *sys_lib;

	e2e_group_setup(state);
	cert = e2e_cert_new();
	sys_lib = e2e_libssl_holder(); /* for curl */
	py_libdir = e2e_fmt("%s/lib", e2e_tmpdir());
	if (mkdir(py_libdir, 0755))
		fail_msg("mkdir %s: %s", py_libdir, strerror(errno));
	py_lib = e2e_copy_file(sys_lib, py_libdir, strrchr(sys_lib, '/') + 1);
	py_port = e2e_free_port();
	agent = e2e_agent_startl("--port", e2e_fmt("%d", py_port), NULL);
	if (e2e_agent_log_count(agent, py_lib))
		fail_msg("%s is attached before any process uses it:\n%s", py_lib,
			 e2e_agent_log(agent));
	/* in the group's scope: it serves the group's tests */
	srv = e2e_peer_python_tls(cert, py_port, py_libdir);
	return 0;
}

/* The server starts after the agent and is the first user of its libssl:
 * the agent attaches it within the bound, and traces it from then on. */
static void test_python_started_later(void **state)
{
	struct e2e_run r;

	(void)state;
	assert_string_equal(e2e_proc_mapped(srv->server_pid, "libssl.so"), py_lib);
	e2e_agent_wait_log(agent, attached_line(py_lib), ATTACH_TIMEOUT);

	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/ok?t=py1"), NULL);
	curl_ok(r, 200);
	check_segment(seg("?t=py1"), "/ok?t=py1", 200, r.t0, r.t1);
	assert_json_int(seg("?t=py1"), "http.response.content_length", 3);
	check_subsegment(subseg(r.pid, "/ok"), r.pid, "curl", "/ok", 200, r.t0, r.t1);

	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/status/503?t=py2"), NULL);
	curl_ok(r, 503);
	check_segment(seg("?t=py2"), "/status/503?t=py2", 503, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/status/503"), r.pid, "curl", "/status/503", 503, r.t0,
			 r.t1);
}

/* Timing comes from the plaintext calls: a 300 ms handler is a segment of
 * at least 300 ms, on both sides. */
static void test_python_slow(void **state)
{
	struct e2e_run r;

	(void)state;
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/slow?ms=300&t=py3"), NULL);
	curl_ok(r, 200);
	check_segment(seg("?ms=300&t=py3"), "/slow?ms=300&t=py3", 200, r.t0, r.t1);
	assert_doc_duration(seg("?ms=300&t=py3"), 0.3, r.t1 - r.t0);
	check_subsegment(subseg(r.pid, "/slow"), r.pid, "curl", "/slow", 200, r.t0, r.t1);
	assert_doc_duration(subseg(r.pid, "/slow"), 0.3, r.t1 - r.t0);
}

/* The last user gone, its library's probes are released. */
static void test_python_released(void **state)
{
	(void)state;
	e2e_proc_stop(srv->proc, 5);
	e2e_agent_wait_log(agent, e2e_fmt("tls: detached %s: no process uses it", py_lib),
			   ATTACH_TIMEOUT);
}

static void test_python_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
	/* attached once, released once */
	assert_int_equal(e2e_agent_log_count(agent, attached_line(py_lib)), 1);
	assert_int_equal(e2e_agent_log_count(agent, e2e_fmt("tls: detached %s:", py_lib)), 1);
}

/* ------------------------------------------------------------------------ */
/* node: OpenSSL linked into the executable, memory BIOs                     */

static const char *node_bin;

static int node_setup(void **state)
{
	int port;

	e2e_group_setup(state);
	cert = e2e_cert_new();
	e2e_libssl_holder(); /* for curl */
	/* a copy of its own, so this test's server is the file's first user */
	node_bin = e2e_copy_file(e2e_require_bin("node"), e2e_tmpdir(), "node");
	port = e2e_free_port();
	agent = e2e_agent_startl("--port", e2e_fmt("%d", port), NULL);
	srv = e2e_peer_node_tls(cert, port, node_bin);
	return 0;
}

static void test_node_started_later(void **state)
{
	const char *line;
	struct e2e_run r;

	(void)state;
	assert_string_equal(srv->exe, node_bin);
	e2e_agent_wait_log(agent, attached_line(node_bin), ATTACH_TIMEOUT);
	line = strstr(e2e_agent_log(agent), attached_line(node_bin));
	assert_true(!strncmp(line + strlen(attached_line(node_bin)), "openssl-static ", 15));

	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/ok?t=node1"), "-o", "/dev/null",
			 e2e_https_url(srv->port, "/chunked?t=node2"), "-o", "/dev/null",
			 e2e_https_url(srv->port, "/status/404?t=node3"), NULL);
	assert_int_equal(r.status, 0);
	check_segment(seg("?t=node1"), "/ok?t=node1", 200, r.t0, r.t1);
	assert_json_int(seg("?t=node1"), "http.response.content_length", 3);
	check_segment(seg("?t=node2"), "/chunked?t=node2", 200, r.t0, r.t1);
	check_segment(seg("?t=node3"), "/status/404?t=node3", 404, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/ok"), r.pid, "curl", "/ok", 200, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/chunked"), r.pid, "curl", "/chunked", 200, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/status/404"), r.pid, "curl", "/status/404", 404, r.t0,
			 r.t1);
}

/* node as a client too: /fetch calls the server itself over a new TLS
 * connection, on the same thread as the connection it serves. Each SSL
 * object must land on its own socket: the outer exchange, the inner one
 * seen from both ends. */
static void test_node_client(void **state)
{
	/* https://127.0.0.1:PORT/ok?t=node-inner, percent-encoded: the outer
	 * url must not contain the inner one's tag */
	const char *outer = e2e_fmt("/fetch?t=node-outer&url=https%%3A%%2F%%2F127.0.0.1%%3A%d"
				    "%%2Fok%%3Ft%%3Dnode-inner",
				    srv->port);
	struct e2e_run r;

	(void)state;
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, outer), NULL);
	curl_ok(r, 200);
	check_segment(seg("?t=node-outer"), outer, 200, r.t0, r.t1);
	check_segment(seg("/ok?t=node-inner"), "/ok?t=node-inner", 200, r.t0, r.t1);
	check_subsegment(subseg(srv->server_pid, "/ok"), srv->server_pid, srv->comm, "/ok", 200,
			 r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/fetch"), r.pid, "curl", "/fetch", 200, r.t0, r.t1);
}

static void test_node_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

/* A response streamed on a connection that was set up before the agent
 * started: the server only writes, so nothing read names the socket. The
 * first write's plaintext is lost (counted), the ciphertext write after it
 * binds the SSL object, and the rest are seen. --pid keeps other
 * processes' TLS out of the counters. */
static void test_node_stream_before_agent(void **state)
{
	struct e2e_agent *a;
	struct e2e_proc *client;
	const char *argv[] = { "curl", "-sS", "-N", "--http1.1", "--cacert", cert->cert,
			       e2e_https_url(srv->port, "/stream?n=600&ms=50"), NULL };
	long long calls;
	int seen;

	(void)state;
	/* the group's server; its agent has stopped */
	client = e2e_spawnv(argv);
	for (int i = 0; i < 200 && !strstr(e2e_proc_out(client), "chunk 0"); i++)
		e2e_sleep(0.02);
	a = e2e_agent_startl("--pid", e2e_fmt("%d", srv->server_pid), NULL);
	/* ten more chunks written while the agent runs */
	seen = e2e_count_str(e2e_proc_out(client), "chunk");
	for (int i = 0; i < 400 && e2e_count_str(e2e_proc_out(client), "chunk") < seen + 10; i++)
		e2e_sleep(0.05);
	assert_true(e2e_count_str(e2e_proc_out(client), "chunk") >= seen + 10);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_proc_stop(client, 5);
	assert_int_equal(e2e_agent_counter(a, "kernel", "tls_unbound"), 1);
	calls = e2e_agent_counter(a, "kernel", "tls_calls");
	if (calls < 8)
		fail_msg("only %lld TLS calls seen after the first: %s", calls,
			 e2e_tail(e2e_agent_log(a), 2000));
}

/* ------------------------------------------------------------------------ */
/* OpenSSL linked statically into a C server: with symbols, and stripped     */

static const char *static_dir;
static struct e2e_peer *stripped;
static int stripped_port;

static int static_setup(void **state)
{
	int port;

	e2e_group_setup(state);
	cert = e2e_cert_new();
	e2e_libssl_holder(); /* for curl */
	static_dir = e2e_tmpdir();
	e2e_build_tls_static(static_dir);
	port = e2e_free_port();
	stripped_port = e2e_free_port();
	/* -v: the agent says when it looked at a process */
	agent = e2e_agent_startl("-v", "--port", e2e_fmt("%d", port), "--port",
				 e2e_fmt("%d", stripped_port), NULL);
	srv = e2e_peer_tls_static(cert, port, e2e_fmt("%s/tls_static", static_dir));
	stripped = e2e_peer_tls_static(cert, stripped_port,
				       e2e_fmt("%s/tls_static.stripped", static_dir));
	return 0;
}

static bool on_stripped_port(json_t *doc, const void *arg)
{
	const char *url = e2e_json_str(doc, "http.request.url");

	(void)arg;
	return url && strstr(url, e2e_fmt(":%d/", stripped_port));
}

/* A binary without symbols is reported once, clearly, however many
 * processes run it, and the agent carries on. */
static void test_static_stripped_reported_once(void **state)
{
	const char *bin = e2e_fmt("%s/tls_static.stripped", static_dir);
	const char *skip = e2e_fmt("tls: %s (openssl-static", bin);
	struct e2e_filter f = { .type = "segment", .pred = on_stripped_port };
	struct e2e_run r;
	pid_t second;

	(void)state;
	e2e_agent_wait_log(agent, skip, ATTACH_TIMEOUT);
	assert_non_null(strstr(strstr(e2e_agent_log(agent), skip), "not traced: "));
	assert_non_null(strstr(strstr(e2e_agent_log(agent), skip), "stripped"));
	e2e_agent_wait_log(agent, e2e_fmt("tls: pid %d uses %s", stripped->server_pid, bin),
			   ATTACH_TIMEOUT);
	/* a second process on the same file: looked at, not reported again */
	e2e_proc_stop(stripped->proc, 5);
	second = e2e_peer_tls_static(cert, stripped_port, bin)->server_pid;
	e2e_agent_wait_log(agent, e2e_fmt("tls: pid %d uses %s", second, bin), ATTACH_TIMEOUT);
	assert_int_equal(e2e_agent_log_count(agent, skip), 1);
	{
		json_t *rep = status_tls_file(bin);

		assert_json_str(rep, "state", "skipped");
		assert_json_str_contains(rep, "detail", "stripped");
		json_decref(rep);
	}

	/* its clients are still traced; it is not */
	r = e2e_curl_tls(cert, e2e_https_url(stripped_port, "/x?t=stripped"), NULL);
	curl_ok(r, 200);
	check_subsegment(subseg(r.pid, "/x"), r.pid, "curl", "/x", 200, r.t0, r.t1);
	e2e_agent_expect_final(agent, &f, 0);
}

/* The same server with its symbol table: probed in the executable. */
static void test_static_symbols(void **state)
{
	const char *bin = e2e_fmt("%s/tls_static", static_dir);
	const char *line;
	struct e2e_run r;

	(void)state;
	e2e_agent_wait_log(agent, attached_line(bin), ATTACH_TIMEOUT);
	line = strstr(e2e_agent_log(agent), attached_line(bin));
	assert_true(!strncmp(line + strlen(attached_line(bin)), "openssl-static", 14));
	assert_non_null(strstr(line, "from .symtab"));
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/hello?t=static1"), NULL);
	curl_ok(r, 200);
	check_segment(seg("?t=static1"), "/hello?t=static1", 200, r.t0, r.t1);
	assert_json_int(seg("?t=static1"), "http.response.content_length", 3);
	check_subsegment(subseg(r.pid, "/hello"), r.pid, "curl", "/hello", 200, r.t0, r.t1);
}

static void test_static_zz_stop(void **state)
{
	const char *bin = e2e_fmt("%s/tls_static.stripped", static_dir);

	(void)state;
	stop_and_check();
	assert_int_equal(e2e_agent_log_count(agent, e2e_fmt("tls: %s (", bin)), 1);
	assert_int_equal(e2e_agent_counter(agent, "counters", "tls_skipped"), 1);
}

/* ------------------------------------------------------------------------ */
/* Go crypto/tls: server and client, with a symbol table and stripped       */

static const char *go_dir;
static struct e2e_peer *go_stripped;

static int go_setup(void **state)
{
	int port, sport;

	e2e_group_setup(state);
	cert = e2e_cert_new();
	e2e_libssl_holder(); /* for curl */
	go_dir = e2e_tmpdir();
	e2e_build_gotls(go_dir);
	port = e2e_free_port();
	sport = e2e_free_port();
	agent = e2e_agent_startl("--port", e2e_fmt("%d", port), "--port", e2e_fmt("%d", sport),
				 NULL);
	srv = e2e_peer_gotls(cert, port, e2e_fmt("%s/gotls", go_dir));
	go_stripped = e2e_peer_gotls(cert, sport, e2e_fmt("%s/gotls.stripped", go_dir));
	return 0;
}

/* The attach line for bin: Go, its version, and where the symbols came from. */
static void go_attached(const char *bin, const char *from)
{
	const char *line;

	e2e_agent_wait_log(agent, attached_line(bin), ATTACH_TIMEOUT);
	line = strstr(e2e_agent_log(agent), attached_line(bin));
	assert_true(!strncmp(line + strlen(attached_line(bin)), "go go1.", 7));
	assert_non_null(strstr(line, e2e_fmt("crypto/tls.(*Conn).Read, Write from %s", from)));
}

static void test_go_server(void **state)
{
	struct e2e_run r;

	(void)state;
	go_attached(srv->exe, ".symtab");
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/ok?t=go1"), "-o", "/dev/null",
			 e2e_https_url(srv->port, "/status/503?t=go2"), NULL);
	assert_int_equal(r.status, 0);
	check_segment(seg("?t=go1"), "/ok?t=go1", 200, r.t0, r.t1);
	assert_json_int(seg("?t=go1"), "http.response.content_length", 3);
	check_segment(seg("?t=go2"), "/status/503?t=go2", 503, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/ok"), r.pid, "curl", "/ok", 200, r.t0, r.t1);
	check_subsegment(subseg(r.pid, "/status/503"), r.pid, "curl", "/status/503", 503, r.t0,
			 r.t1);
}

/* A handler that sleeps: the goroutine parks inside Read and Write and may
 * resume on another thread; its calls pair up by goroutine. */
static void test_go_slow(void **state)
{
	struct e2e_run r;

	(void)state;
	r = e2e_curl_tls(cert, e2e_https_url(srv->port, "/slow?ms=300&t=go3"), NULL);
	curl_ok(r, 200);
	check_segment(seg("&t=go3"), "/slow?ms=300&t=go3", 200, r.t0, r.t1);
	assert_doc_duration(seg("&t=go3"), 0.3, r.t1 - r.t0);
}

/* -ldflags=-s -w: no .symtab, found through the pclntab. The server calls
 * it from /fetch (a client subsegment of the Go server), and a short Go
 * client process calls it too. */
static void test_go_stripped_and_clients(void **state)
{
	struct e2e_peer *s = go_stripped;
	const char *argv[] = { e2e_fmt("%s/gotls", go_dir), "-get",
			       e2e_https_url(s->port, "/status/201?t=go-cli"), "-ca", cert->cert,
			       NULL };
	struct e2e_spawn_opts o = { .argv = argv };
	struct e2e_run r;
	json_t *d;

	(void)state;
	go_attached(s->exe, ".gopclntab");
	r = e2e_curl_tls(cert,
			 e2e_https_url(srv->port, e2e_fmt("/fetch?t=go-fetch&url=https%%3A%%2F%%2F"
							  "127.0.0.1%%3A%d%%2Fok%%3Ft%%3Dgo-inner",
							  s->port)),
			 NULL);
	curl_ok(r, 200);
	check_segment(seg("?t=go-fetch"),
		      e2e_fmt("/fetch?t=go-fetch&url=https%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fok%%3Ft%%3D"
			      "go-inner",
			      s->port),
		      200, r.t0, r.t1);
	d = seg("/ok?t=go-inner");
	assert_json_str(d, "http.request.url", e2e_https_url(s->port, "/ok?t=go-inner"));
	assert_json_int(d, "metadata.xtap.pid", s->server_pid);
	assert_json_str(d, "http.request.client_ip", "127.0.0.1");
	check_subsegment(subseg(srv->server_pid, "/ok"), srv->server_pid, srv->comm, "/ok", 200,
			 r.t0, r.t1);

	/* a Go client process that lives a few milliseconds: its file is
	 * probed already (the server runs it), so it is traced from its start */
	r = e2e_run_cmd(&o, 20);
	if (r.status != 0 || strcmp(r.out, "201 11\n"))
		fail_msg("gotls -get: exit %d, output \"%s\", errors \"%s\"", r.status, r.out,
			 r.err);
	check_subsegment(subseg(r.pid, "/status/201"), r.pid, "gotls", "/status/201", 201, r.t0,
			 r.t1);
	d = seg("?t=go-cli");
	assert_json_int(d, "metadata.xtap.pid", s->server_pid);
	assert_json_int(d, "http.response.status", 201);
	/* More of them: net/http writes a request in one goroutine and reads
	 * its response in another, which may well read it before the writer
	 * returns from Write; the request must still come first. */
	for (int i = 0; i < 15; i++) {
		argv[2] = e2e_https_url(s->port, e2e_fmt("/status/201?t=go-many%02d", i));
		r = e2e_run_cmd(&o, 20);
		if (r.status != 0 || strcmp(r.out, "201 11\n"))
			fail_msg("gotls -get (%d): exit %d, output \"%s\"", i, r.status, r.out);
		assert_json_int(subseg(r.pid, "/status/201"), "http.response.status", 201);
		assert_json_int(seg(e2e_fmt("?t=go-many%02d", i)), "http.response.status", 201);
	}
}

/* A second agent while the first holds its probes (a restart that
 * overlaps, a debugging `xtap trace`): its mapping of the binary shows the
 * first agent's breakpoints where RETs were, and it must still find the
 * returns, which it reads from the file. */
static void test_go_second_agent(void **state)
{
	struct e2e_agent *second;
	const char *line;

	(void)state;
	go_attached(srv->exe, ".symtab");
	second = e2e_agent_startl("--port", "1", "--no-tcp-option", NULL);
	e2e_agent_wait_log(second, attached_line(srv->exe), ATTACH_TIMEOUT);
	line = strstr(e2e_agent_log(second), attached_line(srv->exe));
	if (!strstr(line, "crypto/tls.(*Conn).Read, Write from .symtab"))
		fail_msg("the second agent did not probe crypto/tls: %s", line);
	e2e_agent_stop(second);
}

static void test_go_zz_stop(void **state)
{
	(void)state;
	stop_and_check();
}

#define T(f) cmocka_unit_test_setup_teardown(f, e2e_test_setup, e2e_test_teardown)

int main(void)
{
	const struct CMUnitTest nginx[] = {
		T(test_nginx_attached_at_start),
		T(test_nginx_keepalive),
		T(test_nginx_big_and_500),
		T(test_nginx_zz_stop),
	};
	const struct CMUnitTest python[] = {
		T(test_python_started_later),
		T(test_python_slow),
		T(test_python_released),
		T(test_python_zz_stop),
	};
	const struct CMUnitTest node[] = {
		T(test_node_started_later),
		T(test_node_client),
		T(test_node_zz_stop),
		T(test_node_stream_before_agent),
	};
	const struct CMUnitTest static_[] = {
		T(test_static_stripped_reported_once),
		T(test_static_symbols),
		T(test_static_zz_stop),
	};
	const struct CMUnitTest go[] = {
		T(test_go_server),
		T(test_go_slow),
		T(test_go_stripped_and_clients),
		T(test_go_second_agent),
		T(test_go_zz_stop),
	};
	int fails = 0;

	/* E2E_GROUPS=nginx,python runs only those */
	if (e2e_group_wanted("nginx"))
		fails += cmocka_run_group_tests_name("tls_nginx", nginx, nginx_setup,
						     e2e_group_teardown);
	if (e2e_group_wanted("python"))
		fails += cmocka_run_group_tests_name("tls_python", python, python_setup,
						     e2e_group_teardown);
	if (e2e_group_wanted("node"))
		fails += cmocka_run_group_tests_name("tls_node", node, node_setup,
						     e2e_group_teardown);
	if (e2e_group_wanted("go"))
		fails += cmocka_run_group_tests_name("tls_go", go, go_setup, e2e_group_teardown);
	if (e2e_group_wanted("static"))
		fails += cmocka_run_group_tests_name("tls_static", static_, static_setup,
						     e2e_group_teardown);
	return fails ? 1 : 0;
}
