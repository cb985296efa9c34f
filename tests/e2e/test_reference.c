// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference comparison (the Node SDK's Express middleware): an Express 4 app instrumented
 * with the AWS X-Ray Node SDK (tests/reference/app.js) serves the same
 * requests while xtap traces it from the kernel. The SDK's documents arrive
 * on our UDP listener, xtap's in its output file; they are paired by url and
 * status and compared field by field. Every difference is printed as a
 * table. Differences that are understood are listed in `expected[]` with the
 * reason; any other one fails the test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define REF_DIR "tests/reference"
#define SDK_VERSION "3.12.0"
#define SEG_NAME "my-app"
#define UA "ua-test/1.0"
#define XFF "203.0.113.7, 10.0.0.1"
#define PARENT "53995c3f42cd8ad8"
#define NPM_TIMEOUT 300.0
#define DOC_WAIT 15.0
/* timing: xtap's times within this of the SDK's */
#define TIME_BOUND 0.050
/* ... and its interval contains the SDK's but for this much: Node takes its
 * end on the response's 'finish' event, a few ms of event loop after the
 * write() that xtap's end is */
#define TIME_SLACK 0.020

/* ------------------------------------------------------------------------ */
/* Differences that are explained                                           */
/* ------------------------------------------------------------------------ */

enum diff_kind {
	D_VALUE,     /* both have it, values differ */
	D_SDK_ONLY,  /* only the Node SDK sends it */
	D_XTAP_ONLY, /* only xtap sends it */
};

enum doc_kind {
	K_SEGMENT = 1,
	K_SUBSEGMENT = 2,
	K_ANY = 3,
};

struct expected_diff {
	const char *path; /* a dotted path; ending in '.' it is a prefix */
	enum diff_kind kind;
	enum doc_kind where;
	bool only_without_header; /* only when the request carried no trace header */
	const char *reason;
};

static const struct expected_diff expected[] = {
	{ "id", D_VALUE, K_ANY, false, "random per document on each side" },
	{ "start_time", D_VALUE, K_ANY, false,
	  "two clocks, Node in ms, xtap in us: checked by the timing rule instead" },
	{ "end_time", D_VALUE, K_ANY, false,
	  "two clocks, Node in ms, xtap in us: checked by the timing rule instead" },
	{ "trace_id", D_VALUE, K_SEGMENT, true,
	  "no incoming trace header: each side starts a new random trace" },
	{ "service.", D_SDK_ONLY, K_SEGMENT, false,
	  "Node describes its runtime and npm package; xtap instruments no runtime" },
	{ "aws.xray.sdk", D_VALUE, K_ANY, false, "SDK name: 'X-Ray for Node.js' vs 'xtap'" },
	{ "aws.xray.sdk_version", D_VALUE, K_ANY, false, "SDK version" },
	{ "aws.xray.package", D_SDK_ONLY, K_ANY, false, "Node names its npm package" },
	{ "aws.xray.auto_instrumentation", D_XTAP_ONLY, K_ANY, false,
	  "xtap marks its documents as auto-instrumented" },
	{ "annotations.", D_XTAP_ONLY, K_ANY, false,
	  "xtap adds http_method/http_url/http_status annotations for filter expressions" },
	{ "metadata.xtap.", D_XTAP_ONLY, K_ANY, false, "xtap adds pid/comm/exe of the traced process" },
	{ "http.response.content_length", D_XTAP_ONLY, K_SEGMENT, false,
	  "Node never sets it for incoming requests (ServerResponse has no .headers, the Node SDK's Express middleware); "
	  "xtap reports the Content-Length it saw" },
	{ "subsegments", D_SDK_ONLY, K_SEGMENT, false,
	  "Node embeds the outgoing call; xtap sends it as an independent subsegment (compared "
	  "separately)" },
	{ "type", D_XTAP_ONLY, K_SUBSEGMENT, false, "independent subsegment: sent as its own document" },
	{ "trace_id", D_XTAP_ONLY, K_SUBSEGMENT, false,
	  "independent subsegment needs it (embedded ones inherit it); checked equal to Node's" },
	{ "parent_id", D_XTAP_ONLY, K_SUBSEGMENT, false,
	  "independent subsegment needs it; xtap takes the Parent the app propagated (checked)" },
};

static const struct expected_diff *explain(const char *path, enum diff_kind kind, enum doc_kind dk,
					   bool had_header)
{
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		const struct expected_diff *e = &expected[i];
		size_t n = strlen(e->path);
		bool match = e->path[n - 1] == '.' ? !strncmp(path, e->path, n) : !strcmp(path, e->path);

		if (match && e->kind == kind && (e->where & dk) && !(e->only_without_header && had_header))
			return e;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Flattening and the diff table                                            */
/* ------------------------------------------------------------------------ */

/* Leaves of the object tree as "a.b.c" -> value (arrays are leaves). */
static void flatten(json_t *v, const char *prefix, json_t *out)
{
	const char *k;
	json_t *c;

	if (json_is_object(v) && json_object_size(v)) {
		json_object_foreach(v, k, c) {
			char path[256];

			snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten(c, path, out);
		}
		return;
	}
	json_object_set(out, prefix, v);
}

static const char *show(json_t *v)
{
	static char buf[4][72];
	static int slot;
	char *b = buf[slot++ & 3];
	char *s;

	if (!v)
		return "-";
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(b, sizeof(buf[0]), "%s", s ? s : "?");
	if (s && strlen(s) > sizeof(buf[0]) - 1)
		strcpy(b + sizeof(buf[0]) - 4, "...");
	free(s);
	return b;
}

static int unexpected_total;
static int rows_printed;

static void table_header(void)
{
	printf("\n%-26s | %-30s | %-36s | %-36s | %s\n", "request", "field", "node sdk", "xtap",
	       "verdict");
	printf("%.26s-+-%.30s-+-%.36s-+-%.36s-+-%s\n", "------------------------------------",
	       "------------------------------------", "------------------------------------",
	       "------------------------------------", "--------------------------------");
}

static void row(const char *label, const char *path, json_t *a, json_t *b, const char *verdict)
{
	printf("%-26.26s | %-30.30s | %-36s | %-36s | %s\n", label, path, show(a), show(b), verdict);
	rows_printed++;
}

/* Compare two documents field by field; print every difference. Returns
 * the number of unexplained ones. */
static int compare_docs(const char *label, json_t *sdk, json_t *xt, enum doc_kind dk, bool had_header)
{
	json_t *fs = json_object(), *fx = json_object(), *v;
	const char *k;
	int bad = 0;

	flatten(sdk, "", fs);
	flatten(xt, "", fx);
	json_object_foreach(fs, k, v) {
		json_t *w = json_object_get(fx, k);
		enum diff_kind kind;
		const struct expected_diff *e;

		if (w && json_equal(v, w))
			continue;
		kind = w ? D_VALUE : D_SDK_ONLY;
		e = explain(k, kind, dk, had_header);
		row(label, k, v, w, e ? e->reason : "UNEXPECTED");
		bad += !e;
	}
	json_object_foreach(fx, k, v) {
		const struct expected_diff *e;

		if (json_object_get(fs, k))
			continue;
		e = explain(k, D_XTAP_ONLY, dk, had_header);
		row(label, k, NULL, v, e ? e->reason : "UNEXPECTED");
		bad += !e;
	}
	json_decref(fs);
	json_decref(fx);
	return bad;
}

/* Timing: within TIME_BOUND of each other, and (server side) xtap's
 * interval contains Node's but for TIME_SLACK; (client side) Node's timer
 * starts before connect() and xtap sees only the bytes, so xtap's interval
 * lies within Node's but for TIME_SLACK. */
static int compare_timing(const char *label, json_t *sdk, json_t *xt, enum doc_kind dk)
{
	double ss = e2e_json_num(sdk, "start_time", NAN), se = e2e_json_num(sdk, "end_time", NAN);
	double xs = e2e_json_num(xt, "start_time", NAN), xe = e2e_json_num(xt, "end_time", NAN);
	char a[96], b[160];
	bool ok;

	if (isnan(ss) || isnan(se) || isnan(xs) || isnan(xe)) {
		row(label, "start_time/end_time", NULL, NULL, "UNEXPECTED: missing");
		return 1;
	}
	ok = fabs(xs - ss) <= TIME_BOUND && fabs(xe - se) <= TIME_BOUND && xs <= xe;
	if (dk == K_SEGMENT)
		ok = ok && xs <= ss + TIME_SLACK && xe >= se - TIME_SLACK;
	else
		ok = ok && xs >= ss - TIME_SLACK && xe <= se + TIME_SLACK;
	snprintf(a, sizeof(a), "start %+.1f ms, end %+.1f ms", (xs - ss) * 1e3, (xe - se) * 1e3);
	snprintf(b, sizeof(b), "%s (xtap - node; bound %.0f ms, %s)", ok ? "timing ok" : "UNEXPECTED timing",
		 TIME_BOUND * 1e3, dk == K_SEGMENT ? "xtap contains node" : "node contains xtap");
	printf("%-26.26s | %-30.30s | %-36s | %-36s | %s\n", label, "timing", a, "", b);
	return !ok;
}

/* ------------------------------------------------------------------------ */
/* The SDK's daemon: a UDP listener                                         */
/* ------------------------------------------------------------------------ */

static int udp_fd = -1, udp_port;

static void udp_listen(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int big = 4 << 20;

	udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (udp_fd < 0)
		fail_msg("socket: %s", strerror(errno));
	setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(udp_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(udp_fd, (struct sockaddr *)&a, &al))
		fail_msg("bind: %s", strerror(errno));
	udp_port = ntohs(a.sin_port);
}

static json_t *sdk_docs; /* every SDK document so far (owned here) */

static void udp_collect(void)
{
	static char buf[70000];
	static const char hdr[] = "{\"format\":\"json\",\"version\":1}\n";

	for (int i = 0; i < 10000; i++) {
		ssize_t n = recv(udp_fd, buf, sizeof(buf) - 1, 0);
		json_error_t err;
		json_t *d;

		if (n < 0)
			break;
		buf[n] = '\0';
		if ((size_t)n < sizeof(hdr) - 1 || memcmp(buf, hdr, sizeof(hdr) - 1))
			fail_msg("SDK datagram without the daemon header: %s", buf);
		d = json_loads(buf + sizeof(hdr) - 1, 0, &err);
		if (!d)
			fail_msg("SDK datagram body is not JSON (%s): %s", err.text, buf);
		json_array_append_new(sdk_docs, d);
	}
}

/* ------------------------------------------------------------------------ */
/* Setup: npm ci, the downstream server, the app, the agent                 */
/* ------------------------------------------------------------------------ */

static struct e2e_peer *down;
static struct e2e_proc *app;
static int app_port;
static struct e2e_agent *agent;

static bool exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

static void npm_install(void)
{
	const char *argv_ci[] = { "npm", "ci", "--no-audit", "--no-fund", NULL };
	const char *argv_install[] = { "npm", "install", "--no-audit", "--no-fund", NULL };
	struct e2e_spawn_opts o = { .cwd = REF_DIR, .split_stderr = true };
	const char *pkg = REF_DIR "/node_modules/aws-xray-sdk-core/package.json";
	struct e2e_run r;
	char *s;

	e2e_require_bin("node");
	e2e_require_bin("npm");
	if (!exists(REF_DIR "/app.js") || !exists(REF_DIR "/package.json"))
		fail_msg(REF_DIR "/app.js or package.json not found: run from the repository root");
	if (!exists(REF_DIR "/node_modules")) {
		o.argv = exists(REF_DIR "/package-lock.json") ? argv_ci : argv_install;
		printf("test_reference: %s %s in " REF_DIR " (first run)\n", o.argv[0], o.argv[1]);
		fflush(stdout);
		r = e2e_run_cmd(&o, NPM_TIMEOUT);
		if (r.status != 0)
			fail_msg("npm %s in " REF_DIR " failed (exit %d):\n%s\n%s", o.argv[1], r.status,
				 e2e_tail(r.out, 2000), e2e_tail(r.err, 4000));
	}
	s = e2e_read_file(pkg, NULL);
	if (!s || !strstr(s, "\"version\": \"" SDK_VERSION "\""))
		fail_msg("%s is not aws-xray-sdk-core " SDK_VERSION ": remove " REF_DIR
			 "/node_modules and rerun",
			 pkg);
}

static int ref_setup(void **state)
{
	const char *argv[] = { "node", "app.js", NULL };
	const char *env[6];
	struct e2e_spawn_opts o = { .argv = argv, .env = env, .cwd = REF_DIR, .split_stderr = true };

	e2e_group_setup(state);
	npm_install();
	udp_listen();
	sdk_docs = json_array();
	down = e2e_peer_go();
	app_port = e2e_free_port();
	env[0] = e2e_fmt("PORT=%d", app_port);
	env[1] = e2e_fmt("DOWNSTREAM_PORT=%d", down->port);
	env[2] = e2e_fmt("AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:%d", udp_port);
	env[3] = "AWS_XRAY_TRACING_NAME";
	env[4] = "AWS_XRAY_CONTEXT_MISSING";
	env[5] = NULL;
	app = e2e_spawn(&o);
	e2e_wait_port(app_port, app, 30);
	agent = e2e_agent_startl("-n", SEG_NAME, "--pid", e2e_fmt("%d", app->pid), "--pid",
				 e2e_fmt("%d", down->server_pid), NULL);
	return 0;
}

static int ref_teardown(void **state)
{
	e2e_group_teardown(state);
	if (udp_fd >= 0)
		close(udp_fd);
	udp_fd = -1;
	json_decref(sdk_docs);
	sdk_docs = NULL;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The requests                                                             */
/* ------------------------------------------------------------------------ */

struct req {
	const char *method;
	const char *path;
	int status;
	bool ua;
	bool xff;
	int trace; /* X-Amzn-Trace-Id Root/Parent/Sampled=<trace - 1>; 0: none */
	const char *body; /* POST data */
	/* filled in */
	char root[40];
	json_t *sdk, *xt;
};

static struct req reqs[] = {
	{ "GET", "/ok?x=1", 200, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/notfound", 404, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/throttle", 429, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/fault", 500, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/ok?x=2", 200, true, true, 2, NULL, "", NULL, NULL },
	{ "GET", "/ok?x=3", 200, false, true, 0, NULL, "", NULL, NULL },
	{ "GET", "/notfound?t=1", 404, true, false, 2, NULL, "", NULL, NULL },
	{ "POST", "/submit?form=1", 201, true, false, 0, "name=xtap&value=reference", "", NULL, NULL },
	{ "GET", "/slow?ms=200", 200, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/ok?x=a%20b&y=%E2%9C%93", 200, true, false, 0, NULL, "", NULL, NULL },
	{ "GET", "/call", 200, true, false, 0, NULL, "", NULL, NULL },
};
#define N_REQS (sizeof(reqs) / sizeof(reqs[0]))
/* the outgoing call is the last request */
#define CALL (&reqs[N_REQS - 1])
/* sent with Sampled=0: neither side may emit anything for it */
#define UNSAMPLED_PATH "/ok?x=unsampled"

static bool traffic_done;

static const char *url_of(const struct req *q)
{
	return e2e_fmt("http://127.0.0.1:%d%s", app_port, q->path);
}

static json_t *find_by_url_status(json_t *docs, const char *url, int status, bool segment)
{
	json_t *d, *hit = NULL;
	size_t i;

	json_array_foreach(docs, i, d) {
		const char *u = e2e_json_str(d, "http.request.url");
		bool is_sub = e2e_json_str(d, "type") != NULL;

		if (is_sub == segment || !u || strcmp(u, url) ||
		    e2e_json_num(d, "http.response.status", -1) != status)
			continue;
		if (hit)
			fail_msg("two documents for %s %d:\n%s\n%s", url, status, e2e_json_dump(hit),
				 e2e_json_dump(d));
		hit = d;
	}
	return hit;
}

static void test_traffic(void **state)
{
	struct e2e_filter fseg = { .type = "segment", .pid = 0 };
	double end;

	(void)state;
	fseg.pid = app->pid;
	for (size_t i = 0; i < N_REQS; i++) {
		struct req *q = &reqs[i];
		const char *args[16];
		size_t n = 0;
		struct e2e_run r;
		int code = 0;

		snprintf(q->root, sizeof(q->root), "1-%08lx-%012lx%012x", (unsigned long)time(NULL),
			 (unsigned long)(0x5a5a00000000ul + i), 0xc0ffee);
		args[n++] = url_of(q);
		if (q->body) {
			args[n++] = "--data";
			args[n++] = q->body;
		}
		args[n++] = "-A";
		args[n++] = q->ua ? UA : "";
		if (!q->ua) {
			args[n++] = "-H";
			args[n++] = "User-Agent:";
		}
		if (q->xff) {
			args[n++] = "-H";
			args[n++] = "X-Forwarded-For: " XFF;
		}
		if (q->trace) {
			args[n++] = "-H";
			args[n++] = e2e_fmt("X-Amzn-Trace-Id: Root=%s;Parent=" PARENT ";Sampled=%d", q->root,
					    q->trace - 1);
		}
		args[n] = NULL;
		r = e2e_curlv(args);
		if (r.status != 0 || sscanf(r.out, "%d", &code) != 1 || code != q->status)
			fail_msg("curl %s: exit %d, '%s', wanted %d\n%s\n--- app log:\n%s", q->path, r.status,
				 r.out, q->status, r.err, e2e_tail(e2e_proc_err(app), 2000));
	}

	/* Sampled=0: both sides must stay silent about it */
	{
		const char *h = e2e_fmt("X-Amzn-Trace-Id: Root=1-%08lx-%024x;Parent=" PARENT ";Sampled=0",
					(unsigned long)time(NULL), 0xdead);
		struct e2e_run r = e2e_curl(e2e_fmt("http://127.0.0.1:%d" UNSAMPLED_PATH, app_port), "-A",
					    UA, "-H", h, NULL);

		if (r.status != 0 || strncmp(r.out, "200 ", 4))
			fail_msg("curl " UNSAMPLED_PATH ": exit %d, '%s'", r.status, r.out);
	}

	/* the SDK's documents: one segment per request */
	end = e2e_mono() + DOC_WAIT;
	for (int i = 0; i < 10000 && e2e_mono() < end; i++) {
		udp_collect();
		if (json_array_size(sdk_docs) >= N_REQS)
			break;
		e2e_sleep(0.05);
	}
	e2e_sleep(0.3);
	udp_collect();
	if (json_array_size(sdk_docs) != N_REQS)
		fail_msg("the Node SDK sent %zu documents, want %zu\n--- app log:\n%s",
			 json_array_size(sdk_docs), N_REQS, e2e_tail(e2e_proc_err(app), 3000));
	/* xtap's: one segment per request, from the app */
	assert_doc_count(e2e_agent_wait_docs(agent, &fseg, N_REQS, DOC_WAIT), N_REQS);
	traffic_done = true;
}

static void test_segments(void **state)
{
	json_t *xdocs;
	int bad = 0;

	(void)state;
	if (!traffic_done)
		fail_msg("no traffic (test_traffic failed)");
	xdocs = e2e_agent_docs(agent);
	table_header();
	for (size_t i = 0; i < N_REQS; i++) {
		struct req *q = &reqs[i];
		const char *url = url_of(q);
		char label[64];

		snprintf(label, sizeof(label), "%s %s %d", q->method, q->path, q->status);
		q->sdk = find_by_url_status(sdk_docs, url, q->status, true);
		q->xt = find_by_url_status(xdocs, url, q->status, true);
		if (!q->sdk || !q->xt) {
			printf("%-26.26s | %-30.30s | %-36s | %-36s | %s\n", label, "(document)",
			       q->sdk ? "present" : "MISSING", q->xt ? "present" : "MISSING",
			       "UNEXPECTED: no pair");
			bad++;
			continue;
		}
		/* the fields the brief names, checked directly as well */
		if (q->trace) {
			assert_json_str(q->sdk, "trace_id", q->root);
			assert_json_str(q->sdk, "parent_id", PARENT);
		}
		bad += compare_docs(label, q->sdk, q->xt, K_SEGMENT, q->trace);
		bad += compare_timing(label, q->sdk, q->xt, K_SEGMENT);
	}
	printf("\n");
	unexpected_total += bad;
	if (bad)
		fail_msg("%d unexplained difference(s) between the Node SDK and xtap (table above)", bad);
	/* the comparison compared something */
	assert_true(rows_printed >= (int)N_REQS);
}

static void test_outgoing(void **state)
{
	struct req *call = CALL;
	struct e2e_filter fsub = { .type = "subsegment", .pid = 0 };
	struct e2e_filter fdown = { .type = "segment", .pid = 0, .url_contains = "secret=1" };
	json_t *nsub, *xsub, *dseg, *subs, *docs;
	int bad = 0;

	(void)state;
	if (!traffic_done)
		fail_msg("no traffic (test_traffic failed)");
	fsub.pid = app->pid;
	fdown.pid = down->server_pid;
	if (!call->sdk)
		call->sdk = find_by_url_status(sdk_docs, url_of(call), 200, true);
	assert_non_null(call->sdk);
	subs = e2e_json_get(call->sdk, "subsegments");
	if (!json_is_array(subs) || json_array_size(subs) != 1)
		fail_msg("the SDK's /call segment should embed one subsegment: %s",
			 e2e_json_dump(call->sdk));
	nsub = json_array_get(subs, 0);
	docs = e2e_agent_wait_docs(agent, &fsub, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	xsub = json_array_get(docs, 0);

	table_header();
	bad += compare_docs("outgoing GET /ok?secret=1", nsub, xsub, K_SUBSEGMENT, true);
	bad += compare_timing("outgoing GET /ok?secret=1", nsub, xsub, K_SUBSEGMENT);
	printf("\n");

	/* what the explained differences promise */
	assert_json_str(xsub, "type", "subsegment");
	assert_json_str(xsub, "trace_id", e2e_json_str(call->sdk, "trace_id"));
	assert_json_str(xsub, "parent_id", e2e_json_str(nsub, "id"));
	/* and the downstream server's segment continues the SDK's trace */
	docs = e2e_agent_wait_docs(agent, &fdown, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	dseg = json_array_get(docs, 0);
	assert_json_str(dseg, "trace_id", e2e_json_str(call->sdk, "trace_id"));
	assert_json_str(dseg, "parent_id", e2e_json_str(nsub, "id"));

	unexpected_total += bad;
	if (bad)
		fail_msg("%d unexplained difference(s) in the outgoing call (table above)", bad);
}

static void test_zz_stop(void **state)
{
	struct e2e_filter fseg = { .type = "segment", .pid = 0 };
	struct e2e_filter fsub = { .type = "subsegment", .pid = 0 };

	(void)state;
	fseg.pid = app->pid;
	fsub.pid = app->pid;
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_expect_final(agent, &fseg, N_REQS);
	e2e_agent_expect_final(agent, &fsub, 1);
	e2e_agent_check_final(agent);
	/* the SDK sent nothing more either (nothing for the unsampled one) */
	udp_collect();
	assert_int_equal(json_array_size(sdk_docs), N_REQS);
	{
		struct e2e_filter un = { .url_contains = "x=unsampled" };

		assert_doc_count(e2e_docs_filter(sdk_docs, &un), 0);
		assert_doc_count(e2e_docs_filter(e2e_agent_docs(agent), &un), 0);
		e2e_agent_expect_final(agent, &un, 0);
		e2e_agent_check_final(agent);
	}
	/* dropped by the agent, or kept in the kernel (the x=unsampled request) */
	assert_true(e2e_agent_unsampled(agent) >= 1);
	printf("reference comparison: %d unexplained difference(s)\n", unexpected_total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traffic),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_outgoing),
		cmocka_unit_test(test_zz_stop),
	};

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("reference", tests, ref_setup, ref_teardown) ? 1 : 0;
}
