// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End-to-end sampling and platform identity, against nginx on 127.0.0.1:
 *   local        a rules file of rate 0 / fixed_target 0 drops untraced
 *                requests, while Sampled=1 is still emitted and Sampled=0
 *                still dropped; fixed_target 1 / rate 0 over ~3 s of steady
 *                requests gives one segment per wall-clock second;
 *   bad file     a broken rules file is a usage error (exit 2, one line);
 *   centralized  a fake X-Ray sampling API behind the daemon TCP address
 *                (a python script written here): GetSamplingRules and
 *                SamplingTargets requests with the shapes of the API, a
 *                rule with FixedRate 0 and a quota of 2/s honoured, and
 *                aws.xray.rule_name in the segments;
 *   identity     the same script as IMDS (AWS_EC2_METADATA_SERVICE_ENDPOINT):
 *                aws.ec2 and origin in the segments.
 * Everything on 127.0.0.1; the agent and the scripts die with the scope.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_WAIT 10.0
/* Steady traffic lasts a little under 3 s, so it touches 3 or 4 wall-clock
 * seconds, never 5, whatever the phase. */
#define SPAN 2.9

static struct e2e_peer *ngx;

static int setup(void **state)
{
	e2e_group_setup(state);
	ngx = e2e_peer_nginx();
	return 0;
}

/* GET /ok on nginx with extra curl args; fails unless 200. */
static void get_ok(const char *tag, const char *hdr)
{
	const char *url = e2e_url(ngx->port, e2e_fmt("/ok?t=%s", tag));
	struct e2e_run r = hdr ? e2e_curl(url, "-H", hdr, NULL) : e2e_curl(url, NULL);

	if (r.status != 0 || strncmp(r.out, "200", 3))
		fail_msg("curl %s: exit %d, '%s'\n%s", url, r.status, r.out, r.err);
}

static const char *write_tmp(const char *name, const char *text)
{
	const char *p = e2e_fmt("%s/%s", e2e_tmpdir(), name);

	e2e_write_file(p, text, strlen(text));
	return p;
}

/* The agent on nginx's worker only (curl's own client side stays out). */
static struct e2e_agent *agent_with(const char *const *extra, const char *const *env)
{
	const char *args[16];
	struct e2e_agent_opts o = { .args = args, .env = env };
	size_t n = 0;

	args[n++] = "--pid";
	args[n++] = e2e_fmt("%d", ngx->server_pid);
	for (; extra && *extra && n < 15; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	return e2e_agent_start(&o);
}

static const char *const no_imds[] = { "AWS_EC2_METADATA_DISABLED=true", NULL };

/* rate 0, fixed_target 0: only the trace header's own decision passes. */
static void test_local_nothing_but_sampled(void **state)
{
	const char *rules = write_tmp("rules.json", "{\"version\":2,\"default\":{\"fixed_target\":0,"
						    "\"rate\":0},\"rules\":[]}");
	const char *args[] = { "--sampling", "local", "--sampling-rules", rules, NULL };
	struct e2e_agent *a = agent_with(args, no_imds);
	struct e2e_filter untraced = { .type = "segment", .url_contains = "t=untraced" };
	struct e2e_filter yes = { .type = "segment", .url_contains = "t=yes" };
	struct e2e_filter no = { .type = "segment", .url_contains = "t=no" };
	json_t *d;

	(void)state;
	for (int i = 0; i < 5; i++)
		get_ok("untraced", NULL);
	get_ok("no", "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
	get_ok("yes", "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
	d = json_array_get(e2e_agent_expect_docs(a, &yes, 1, DOC_WAIT), 0);
	assert_json_str(d, "trace_id", "1-5759e988-bd862e3fe1be46a994272793");
	assert_json_absent(d, "aws.xray.rule_name"); /* local rules are not named */
	assert_json_absent(d, "origin");
	e2e_agent_expect_final(a, &untraced, 0);
	e2e_agent_expect_final(a, &no, 0);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	/* Sampled=0 is known at the request head: the kernel keeps that
	 * exchange back, and the untraced ones once the agent has planned
	 * nginx's sampling (after the first) */
	assert_int_equal(e2e_agent_unsampled(a), 6);
	assert_true(e2e_agent_counter(a, "kernel", "muted") >= 1);
	assert_int_equal(e2e_agent_counter(a, "counters", "muted_here"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 1);
}

/* fixed_target 1, rate 0: one per wall-clock second. Requests every
 * ~100 ms for SPAN touch 3 or 4 seconds. */
static void test_local_one_per_second(void **state)
{
	const char *rules = write_tmp("rules.json", "{\"version\":2,\"default\":{\"fixed_target\":1,"
						    "\"rate\":0}}");
	const char *args[] = { "--sampling-rules", rules, NULL }; /* implies local */
	struct e2e_agent *a = agent_with(args, no_imds);
	struct e2e_filter f = { .type = "segment", .url_contains = "t=steady" };
	double t0 = e2e_mono();
	int sent = 0;
	size_t got;

	(void)state;
	while (e2e_mono() - t0 < SPAN && sent < 100) {
		get_ok("steady", NULL);
		sent++;
		e2e_sleep(0.1);
	}
	assert_true(sent >= 10);
	e2e_sleep(0.5);
	assert_int_equal(e2e_agent_stop(a), 0);
	got = json_array_size(e2e_docs_filter(e2e_agent_docs(a), &f));
	if (got < 3 || got > 4)
		fail_msg("%d requests over 3 s at 1/s + 0%%: %zu segments, expected 3 or 4", sent, got);
	assert_int_equal(e2e_agent_unsampled(a), sent - (long long)got);
}

static void test_bad_rules_file(void **state)
{
	const char *rules = write_tmp("bad.json", "{\"version\":2,\"default\":{\"rate\":0.1}}");
	const char *argv[] = { e2e_xtap_bin(), "run", "--sampling-rules", rules, NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);

	(void)state;
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "sampling rules"));
	assert_non_null(strstr(r.err, "fixed_target"));
	assert_int_equal(e2e_count_str(r.err, "sampling rules"), 1); /* reported once */

	argv[2] = "--sampling";
	argv[3] = "sometimes";
	r = e2e_run_cmd(&o, 20);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "off, local or centralized"));
}

/* ------------------------------------------------------------------ */
/* A fake X-Ray sampling API and IMDS                                  */
/* ------------------------------------------------------------------ */

static const char mock_py[] =
	"import json, sys, time, threading\n"
	"from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n"
	"port, log, quota = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])\n"
	"lock = threading.Lock()\n"
	"DOC = {'accountId':'123456789012','availabilityZone':'us-west-2c',\n"
	"       'imageId':'ami-0abcdef1234567890','instanceId':'i-0123456789abcdef0',\n"
	"       'instanceType':'m5.large','region':'us-west-2','version':'2017-09-30'}\n"
	"def rule(name, prio, rate, res, path):\n"
	"    return {'SamplingRule':{'RuleName':name,'RuleARN':'arn:aws:xray:us-west-2:1:sampling-rule/'+name,\n"
	"        'ResourceARN':'*','Priority':prio,'FixedRate':rate,'ReservoirSize':res,'ServiceName':'*',\n"
	"        'ServiceType':'*','Host':'*','HTTPMethod':'*','URLPath':path,'Version':1,'Attributes':{}},\n"
	"        'CreatedAt':1.0,'ModifiedAt':1.0}\n"
	"class H(BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, code, body):\n"
	"        b = body.encode() if isinstance(body, str) else json.dumps(body).encode()\n"
	"        self.send_response(code)\n"
	"        self.send_header('Content-Length', str(len(b)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(b)\n"
	"    def record(self, body):\n"
	"        with lock, open(log, 'a') as f:\n"
	"            f.write(json.dumps({'method':self.command,'path':self.path,'body':body,\n"
	"                'token':self.headers.get('X-aws-ec2-metadata-token')}) + '\\n')\n"
	"    def do_PUT(self):\n"
	"        self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
	"        self.record(None)\n"
	"        self.reply(200 if self.path == '/latest/api/token' else 404, 'tok-e2e')\n"
	"    def do_GET(self):\n"
	"        self.record(None)\n"
	"        ok = self.path == '/latest/dynamic/instance-identity/document' and \\\n"
	"             self.headers.get('X-aws-ec2-metadata-token') == 'tok-e2e'\n"
	"        self.reply(200 if ok else 401, DOC if ok else '')\n"
	"    def do_POST(self):\n"
	"        raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
	"        try: body = json.loads(raw)\n"
	"        except ValueError: body = raw.decode('latin-1')\n"
	"        self.record(body)\n"
	"        if self.path == '/GetSamplingRules':\n"
	"            self.reply(200, {'SamplingRuleRecords':[rule('Default',10000,0.0,0,'*'),\n"
	"                rule('ok-quota',10,0.0,1,'/ok*'),\n"
	"                dict(rule('skipped',1,1.0,1,'*'),\n"
	"                     SamplingRule=dict(rule('skipped',1,1.0,1,'*')['SamplingRule'],ResourceARN='arn:x'))]})\n"
	"        elif self.path == '/SamplingTargets':\n"
	"            docs = body.get('SamplingStatisticsDocuments', []) if isinstance(body, dict) else []\n"
	"            self.reply(200, {'SamplingTargetDocuments':[{'RuleName':d['RuleName'],'FixedRate':0.0,\n"
	"                'ReservoirQuota':quota,'ReservoirQuotaTTL':time.time()+300,'Interval':1}\n"
	"                for d in docs if d.get('RuleName') == 'ok-quota'],\n"
	"                'LastRuleModification':1.0,'UnprocessedStatistics':[]})\n"
	"        else:\n"
	"            self.reply(404, '{}')\n"
	"ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n";

struct mock {
	int port;
	const char *log;
};

static struct mock mock_start(int quota)
{
	const char *py = e2e_require_bin("python3");
	struct mock m = { e2e_free_port(), e2e_fmt("%s/mock.log", e2e_tmpdir()) };
	const char *script = write_tmp("mock.py", mock_py);
	const char *argv[] = { py, script, e2e_fmt("%d", m.port), m.log, e2e_fmt("%d", quota), NULL };
	struct e2e_proc *p = e2e_spawnv(argv);

	e2e_wait_port(m.port, p, 10);
	return m;
}

/* The mock's log as an array of {method, path, body, token}. */
static json_t *mock_calls(const struct mock *m)
{
	char *s = e2e_read_file(m->log, NULL);
	json_t *all = json_array(), *owned;
	char *line, *save = NULL;

	for (line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);

		if (!j)
			fail_msg("mock log line is not JSON: %s", line);
		json_array_append_new(all, j);
	}
	owned = e2e_docs_filter(all, NULL);
	json_decref(all);
	return owned;
}

static size_t count_path(json_t *calls, const char *path)
{
	size_t i, n = 0;
	json_t *c;

	json_array_foreach(calls, i, c)
		n += !strcmp(e2e_json_str(c, "path") ? e2e_json_str(c, "path") : "", path);
	return n;
}

/* Wait up to timeout for n calls on path. */
static json_t *wait_calls(const struct mock *m, const char *path, size_t n, double timeout)
{
	double t0 = e2e_mono();
	json_t *calls;

	for (;;) {
		calls = mock_calls(m);
		if (count_path(calls, path) >= n || e2e_mono() - t0 > timeout)
			return calls;
		e2e_sleep(0.1);
	}
}

static bool is_hex24(const char *s)
{
	return s && strlen(s) == 24 && strspn(s, "0123456789abcdef") == 24;
}

static void test_centralized(void **state)
{
	struct mock m = mock_start(2);
	const char *args[] = { "--sampling", "centralized", "--daemon-address",
			       e2e_fmt("tcp:127.0.0.1:%d udp:127.0.0.1:%d", m.port, e2e_free_port()),
			       NULL };
	const char *const env[] = { "AWS_EC2_METADATA_DISABLED=true", "XTAP_TEST_TARGETS_PERIOD=1",
				    NULL };
	struct e2e_agent *a = agent_with(args, env);
	struct e2e_filter ok = { .type = "segment", .url_contains = "t=quota" };
	struct e2e_filter other = { .type = "segment", .url_contains = "/s404" };
	json_t *calls, *c, *docs, *d;
	const char *cid = NULL;
	double t0;
	size_t i, got;
	int sent = 0;

	(void)state;
	/* rules, then targets with a report of our rules */
	calls = wait_calls(&m, "/SamplingTargets", 1, 10);
	assert_true(count_path(calls, "/GetSamplingRules") >= 1);
	assert_true(count_path(calls, "/SamplingTargets") >= 1);
	json_array_foreach(calls, i, c) {
		json_t *sd;
		size_t j;

		if (strcmp(e2e_json_str(c, "method"), "POST"))
			continue;
		if (!strcmp(e2e_json_str(c, "path"), "/GetSamplingRules")) {
			assert_true(json_is_object(e2e_json_get(c, "body")));
			continue;
		}
		sd = e2e_json_get(c, "body.SamplingStatisticsDocuments");
		if (!json_is_array(sd) || !json_array_size(sd) || json_array_size(sd) > 25)
			fail_msg("SamplingTargets body: %s", e2e_json_dump(c));
		json_array_foreach(sd, j, d) {
			const char *rn = e2e_json_str(d, "RuleName");

			/* the rule with a ResourceARN was skipped */
			if (!rn || (strcmp(rn, "Default") && strcmp(rn, "ok-quota")))
				fail_msg("unexpected statistics document %s", e2e_json_dump(d));
			if (!is_hex24(e2e_json_str(d, "ClientID")))
				fail_msg("ClientID not 24 hex: %s", e2e_json_dump(d));
			if (cid && strcmp(cid, e2e_json_str(d, "ClientID")))
				fail_msg("ClientID changed: %s", e2e_json_dump(d));
			cid = e2e_json_str(d, "ClientID");
			assert_true(json_is_number(e2e_json_get(d, "Timestamp")));
			assert_true(json_is_integer(e2e_json_get(d, "RequestCount")));
			assert_true(json_is_integer(e2e_json_get(d, "SampledCount")));
			assert_true(json_is_integer(e2e_json_get(d, "BorrowCount")));
		}
	}
	/* the quota is in place: 2 per second, FixedRate 0 */
	t0 = e2e_mono();
	while (e2e_mono() - t0 < SPAN && sent < 100) {
		get_ok("quota", NULL);
		sent++;
		e2e_sleep(0.05);
	}
	/* Default: FixedRate 0 and no reservoir: never */
	for (i = 0; i < 3; i++)
		e2e_curl(e2e_url(ngx->port, "/s404"), NULL);
	assert_true(sent >= 20);
	docs = e2e_agent_wait_docs(a, &ok, 6, 3);
	assert_int_equal(e2e_agent_stop(a), 0);
	docs = e2e_docs_filter(e2e_agent_docs(a), &ok);
	got = json_array_size(docs);
	/* 3 s touch 3 or 4 seconds at 2 each */
	if (got < 6 || got > 8)
		fail_msg("%d requests over 3 s with a quota of 2/s: %zu segments", sent, got);
	json_array_foreach(docs, i, d)
		assert_json_str(d, "aws.xray.rule_name", "ok-quota");
	assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &other), 0);
	/* the counts the agent reported add up to what it did */
	calls = mock_calls(&m);
	{
		long long req = 0, smp = 0;

		json_array_foreach(calls, i, c) {
			json_t *sd = e2e_json_get(c, "body.SamplingStatisticsDocuments");
			size_t j;

			json_array_foreach(sd, j, d) {
				if (!strcmp(e2e_json_str(d, "RuleName"), "ok-quota")) {
					req += json_integer_value(e2e_json_get(d, "RequestCount"));
					smp += json_integer_value(e2e_json_get(d, "SampledCount"));
				}
			}
		}
		/* the last second's counts may not have been reported yet */
		assert_true(req <= sent && smp <= (long long)got);
		assert_true(req >= sent - 40);
	}
}

static void test_identity_ec2(void **state)
{
	struct mock m = mock_start(0);
	const char *args[] = { "--platform", "ec2", NULL };
	const char *const env[] = {
		e2e_fmt("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d", m.port), NULL
	};
	struct e2e_agent *a = agent_with(args, env);
	struct e2e_filter f = { .type = "segment", .url_contains = "t=ec2" };
	json_t *calls, *d = NULL, *docs;
	size_t i;

	(void)state;
	/* the document arrives in the background: wait for it to be asked for */
	calls = wait_calls(&m, "/latest/dynamic/instance-identity/document", 1, 10);
	assert_int_equal(count_path(calls, "/latest/api/token"), 1);
	for (i = 0; i < 20 && !d; i++) {
		get_ok("ec2", NULL);
		docs = e2e_agent_wait_docs(a, &f, i + 1, DOC_WAIT);
		d = json_array_get(docs, i);
		if (d && !e2e_json_get(d, "origin"))
			d = NULL;
		else if (!d)
			break;
	}
	if (!d)
		fail_msg("no segment with an origin:\n%s", e2e_agent_log(a));
	assert_json_str(d, "origin", "AWS::EC2::Instance");
	assert_json_str(d, "aws.ec2.instance_id", "i-0123456789abcdef0");
	assert_json_str(d, "aws.ec2.availability_zone", "us-west-2c");
	assert_json_str(d, "aws.ec2.instance_size", "m5.large");
	assert_json_str(d, "aws.ec2.ami_id", "ami-0abcdef1234567890");
	assert_json_present(d, "aws.xray.sdk");
	/* the token went with the document request */
	json_array_foreach(calls, i, d) {
		if (!strcmp(e2e_json_str(d, "path"), "/latest/dynamic/instance-identity/document"))
			assert_json_str(d, "token", "tok-e2e");
	}
	assert_int_equal(e2e_agent_stop(a), 0);
}

static void test_identity_eks(void **state)
{
	const char *args[] = { "--eks-cluster", "e2e-cluster", NULL };
	struct e2e_agent *a = agent_with(args, no_imds);
	struct e2e_filter f = { .type = "segment", .url_contains = "t=eks" };
	json_t *d;

	(void)state;
	get_ok("eks", NULL);
	d = json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
	assert_json_str(d, "origin", "AWS::EKS::Container");
	assert_json_str(d, "aws.eks.cluster_name", "e2e-cluster");
	assert_json_absent(d, "aws.ec2");
	assert_int_equal(e2e_agent_stop(a), 0);
}

#define UNSAMPLED "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0\r\n"
#define SAMPLED "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272796;Sampled=1\r\n"

/* One keep-alive connection to the node server, a request at a time (each
 * answered before the next is sent); the agent on the server alone. */
static struct e2e_tcp_result one_by_one(int port, const struct e2e_chunk *chunks, size_t n)
{
	struct e2e_tcp_opts o = { .port = port, .chunks = chunks, .n_chunks = n,
				  .pause = 0.4, .shut_wr = true, .timeout = 10 };

	return e2e_tcp_exchange(&o);
}

/* Exchanges the kernel knows are unsampled (here: Sampled=0) never reach
 * the agent when the kernel can frame them, in each way it can: a
 * Content-Length response, a chunked one, the answer to a HEAD, a request
 * with a body. (Not Go's server: it reads one byte ahead while a handler
 * runs, so the kernel never sees its later request heads whole.) The sampled
 * requests between them on the same connection keep their own responses. */
static void test_kernel_keeps_unsampled_back(void **state)
{
	struct e2e_peer *nd = e2e_peer_node();
	struct e2e_agent *a = e2e_agent_startl("--pid", e2e_fmt("%d", nd->server_pid), NULL);
	const struct e2e_chunk reqs[] = {
		{ "GET /ok?t=mute-cl HTTP/1.1\r\nHost: a\r\n" UNSAMPLED "\r\n", 0 },
		{ "GET /chunked?t=mute-chunked HTTP/1.1\r\nHost: a\r\n" UNSAMPLED "\r\n", 0 },
		{ "HEAD /ok?t=mute-head HTTP/1.1\r\nHost: a\r\n" UNSAMPLED "\r\n", 0 },
		{ "GET /status/503?t=kept-1 HTTP/1.1\r\nHost: a\r\n" SAMPLED "\r\n", 0 },
		{ "POST /ok?t=mute-post HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n" UNSAMPLED
		  "\r\nhello", 0 },
		{ "GET /ok?t=kept-2 HTTP/1.1\r\nHost: a\r\n" SAMPLED "\r\n", 0 },
	};
	struct e2e_filter kept1 = { .url_contains = "t=kept-1", .status = 503 };
	struct e2e_filter kept2 = { .url_contains = "t=kept-2", .status = 200 };
	struct e2e_filter muted = { .url_contains = "t=mute" };
	struct e2e_tcp_result r;

	(void)state;
	r = one_by_one(nd->port, reqs, sizeof(reqs) / sizeof(reqs[0]));
	if (e2e_count_str(r.data, "HTTP/1.1 ") != 6)
		fail_msg("want 6 responses, got:\n%s", r.data);
	e2e_agent_expect_docs(a, &kept1, 1, DOC_WAIT);
	e2e_agent_expect_docs(a, &kept2, 1, DOC_WAIT);
	e2e_agent_expect_final(a, &muted, 0);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "kernel", "muted"), 4);
	assert_int_equal(e2e_agent_counter(a, "counters", "muted_here"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "sampled_out"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "orphan_responses"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "gap_dropped"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "http_lost_sync"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 2);
}

/* What the kernel cannot frame goes to the agent with a placeholder for
 * the unsampled request, which takes its response: a second request read
 * while the first is served (pipelined), and a response that ends with
 * the connection (HTTP/1.0, no Content-Length). */
static void test_kernel_placeholder(void **state)
{
	struct e2e_peer *nd = e2e_peer_node();
	struct e2e_agent *a = e2e_agent_startl("--pid", e2e_fmt("%d", nd->server_pid), NULL);
	const struct e2e_chunk ahead[] = {
		{ "GET /slow?ms=600&t=mute-slow HTTP/1.1\r\nHost: a\r\n" UNSAMPLED "\r\n", 0 },
		{ "GET /ok?t=kept-ahead HTTP/1.1\r\nHost: a\r\n" SAMPLED "\r\n", 0 },
	};
	const struct e2e_chunk close_delimited[] = {
		{ "GET /chunked?t=mute-http10 HTTP/1.0\r\n" UNSAMPLED "\r\n", 0 },
	};
	struct e2e_filter kept = { .url_contains = "t=kept-ahead", .status = 200 };
	struct e2e_filter muted = { .url_contains = "t=mute" };
	/* node answers nothing once the client has shut its side down */
	struct e2e_tcp_opts o = { .port = nd->port, .chunks = ahead, .n_chunks = 2, .pause = 0.2,
				  .until_str = "\r\n\r\nok\n", .timeout = 10 };
	struct e2e_tcp_result r;

	(void)state;
	r = e2e_tcp_exchange(&o);
	if (e2e_count_str(r.data, "HTTP/1.1 200") != 2)
		fail_msg("want 2 responses, got:\n%s", r.data);
	r = one_by_one(nd->port, close_delimited, 1);
	if (!r.closed || e2e_count_str(r.data, "three\n") != 1)
		fail_msg("want the whole body, then the close:\n%s", r.data);
	e2e_agent_expect_docs(a, &kept, 1, DOC_WAIT);
	e2e_agent_expect_final(a, &muted, 0);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "muted_here"), 2);
	assert_int_equal(e2e_agent_counter(a, "kernel", "muted"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "orphan_responses"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "gap_dropped"), 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_local_nothing_but_sampled, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_local_one_per_second, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_bad_rules_file, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_centralized, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_identity_ec2, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_identity_eks, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_kernel_keeps_unsampled_back, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_kernel_placeholder, e2e_test_setup,
						e2e_test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, e2e_group_teardown);
}
