/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* xtap trace's filters and output, the verb tables' prefix matching, and
 * the sampling rules as `xtap status` shows them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "cmd.h"
#include "sampling.h"
#include "trace_fmt.h"

#define ROOT "1-5759e988-bd862e3fe1be46a994272793"
#define PARENT "53995c3f42cd8ad8"
#define START_NS 1795344132155000000ull

static void txn(struct xtap_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->role = XTAP_ROLE_SERVER;
	t->has_response = true;
	t->pid = 4242;
	t->tid = 4243;
	snprintf(t->comm, sizeof(t->comm), "nginx");
	snprintf(t->method, sizeof(t->method), "GET");
	snprintf(t->target, sizeof(t->target), "/api/x?q=1");
	snprintf(t->host, sizeof(t->host), "example.com:8080");
	t->has_host = true;
	snprintf(t->local_ip, sizeof(t->local_ip), "127.0.0.1");
	snprintf(t->peer_ip, sizeof(t->peer_ip), "::1");
	t->local_port = 8080;
	t->peer_port = 50000;
	t->status = 503;
	t->start_ns = START_NS;
	t->end_ns = START_NS + 12345678; /* 12.345678 ms */
}

static void test_parse_status(void **state)
{
	int lo, hi;

	(void)state;
	assert_int_equal(trace_parse_status("5xx", &lo, &hi), 0);
	assert_int_equal(lo, 500);
	assert_int_equal(hi, 599);
	assert_int_equal(trace_parse_status("4XX", &lo, &hi), 0);
	assert_int_equal(lo, 400);
	assert_int_equal(trace_parse_status("404", &lo, &hi), 0);
	assert_int_equal(lo, 404);
	assert_int_equal(hi, 404);
	assert_int_equal(trace_parse_status("400-499", &lo, &hi), 0);
	assert_int_equal(hi, 499);
	const char *bad[] = { "", "6xx", "0xx", "5x", "99", "600", "500-400", "abc", "404-", "-404", "5xxx" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (trace_parse_status(bad[i], &lo, &hi) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_parse_duration(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(trace_parse_duration("250ms", &ns), 0);
	assert_int_equal(ns, 250000000ull);
	assert_int_equal(trace_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(trace_parse_duration("800us", &ns), 0);
	assert_int_equal(ns, 800000ull);
	assert_int_equal(trace_parse_duration("2m", &ns), 0);
	assert_int_equal(ns, 120000000000ull);
	assert_int_equal(trace_parse_duration("100", &ns), 0);
	assert_int_equal(ns, 100000000ull);
	const char *bad[] = { "", "ms", "-1ms", "+1s", "1h", "2hours", "1 s", "nan", "61m", "1e400" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (trace_parse_duration(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_match(void **state)
{
	struct trace_filter f = {};
	struct xtap_txn t;

	(void)state;
	txn(&t);
	assert_true(trace_match(&f, &t));
	f.comm = "nginx";
	assert_true(trace_match(&f, &t));
	f.comm = "ngin";
	assert_false(trace_match(&f, &t));
	f.comm = NULL;
	assert_int_equal(trace_parse_status("5xx", &f.status_lo, &f.status_hi), 0);
	assert_true(trace_match(&f, &t));
	t.status = 200;
	assert_false(trace_match(&f, &t));
	t.status = 503;
	t.has_response = false; /* no response: no status to match */
	assert_false(trace_match(&f, &t));
	t.has_response = true;
	f.min_duration_ns = 12345678;
	assert_true(trace_match(&f, &t));
	f.min_duration_ns = 12345679;
	assert_false(trace_match(&f, &t));
	f.min_duration_ns = 0;
	/* pod and namespace need metadata: without it nothing matches */
	f.pod = "web-1";
	assert_false(trace_match(&f, &t));
	snprintf(t.k8s.pod, sizeof(t.k8s.pod), "web-1");
	assert_true(trace_match(&f, &t));
	f.ns = "shop";
	assert_false(trace_match(&f, &t));
	snprintf(t.k8s.ns, sizeof(t.k8s.ns), "shop");
	assert_true(trace_match(&f, &t));
}

/* Split a line on blanks: fields into out (at most max). */
static int fields(char *line, char **out, int max)
{
	int n = 0;

	for (char *s = strtok(line, " "); s && n < max; s = strtok(NULL, " "))
		out[n++] = s;
	return n;
}

static void test_line(void **state)
{
	char line[1024], want_time[32], *f[16];
	time_t sec = (time_t)(START_NS / 1000000000u);
	struct xtap_txn t;
	struct tm tm;

	(void)state;
	txn(&t);
	snprintf(t.amzn_trace, sizeof(t.amzn_trace), "Root=%s;Parent=%s;Sampled=1", ROOT, PARENT);
	t.has_amzn_trace = true;
	trace_line(&t, line, sizeof(line));
	localtime_r(&sec, &tm);
	snprintf(want_time, sizeof(want_time), "%02d:%02d:%02d.155000", tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	assert_int_equal(fields(line, f, 16), 8);
	assert_string_equal(f[0], want_time);
	assert_string_equal(f[1], "nginx[4242]");
	assert_string_equal(f[2], "in");
	assert_string_equal(f[3], "GET");
	assert_string_equal(f[4], "http://example.com:8080/api/x?q=1");
	assert_string_equal(f[5], "503");
	assert_string_equal(f[6], "12.346ms");
	assert_string_equal(f[7], ROOT);

	/* a client call without a trace header and without a response; a
	 * pod; blanks in names do not split the line */
	txn(&t);
	t.role = XTAP_ROLE_CLIENT;
	t.has_response = false;
	t.end_ns = t.start_ns + 999;
	snprintf(t.k8s.pod, sizeof(t.k8s.pod), "web 1");
	snprintf(t.k8s.ns, sizeof(t.k8s.ns), "shop");
	trace_line(&t, line, sizeof(line));
	assert_int_equal(fields(line, f, 16), 8);
	assert_string_equal(f[1], "shop/web?1");
	assert_string_equal(f[2], "out");
	assert_string_equal(f[4], "http://example.com/api/x"); /* as the subsegment: no port, no query */
	assert_string_equal(f[5], "-");
	assert_string_equal(f[6], "1us");
	assert_string_equal(f[7], "-");

	/* traceparent, and seconds */
	txn(&t);
	snprintf(t.traceparent, sizeof(t.traceparent),
		 "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
	t.has_traceparent = true;
	t.end_ns = t.start_ns + 2500000000ull;
	trace_line(&t, line, sizeof(line));
	assert_int_equal(fields(line, f, 16), 8);
	assert_string_equal(f[6], "2.500s");
	assert_string_equal(f[7], ROOT);
}

static void test_json(void **state)
{
	struct xtap_txn t;
	json_t *o;

	(void)state;
	txn(&t);
	snprintf(t.amzn_trace, sizeof(t.amzn_trace), "Root=%s;Parent=%s", ROOT, PARENT);
	t.has_amzn_trace = true;
	t.comm[0] = '\xff'; /* not UTF-8 */
	o = trace_txn_json(&t);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ns")), 12345678);
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 4242);
	assert_true(json_is_null(json_object_get(o, "comm")));
	assert_true(json_is_null(json_object_get(o, "pod")));
	assert_string_equal(json_string_value(json_object_get(o, "direction")), "in");
	assert_string_equal(json_string_value(json_object_get(o, "url")),
			    "http://example.com:8080/api/x?q=1");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 503);
	assert_string_equal(json_string_value(json_object_get(o, "trace_id")), ROOT);
	assert_string_equal(json_string_value(json_object_get(o, "parent_id")), PARENT);
	assert_string_equal(json_string_value(json_object_get(o, "local")), "127.0.0.1:8080");
	assert_string_equal(json_string_value(json_object_get(o, "peer")), "[::1]:50000");
	assert_true(json_number_value(json_object_get(o, "time")) > 1795344132.15);
	json_decref(o);
	t.has_response = false;
	o = trace_txn_json(&t);
	assert_true(json_is_null(json_object_get(o, "status")));
	assert_true(json_is_null(json_object_get(o, "id")));
	json_decref(o);
	/* resolved by the trace links: what the documents carry wins */
	snprintf(t.trace_id, sizeof(t.trace_id), "1-6b037b99-826eebb07231f187b10009f9");
	snprintf(t.span_id, sizeof(t.span_id), "953d45199618c9cf");
	snprintf(t.parent_id, sizeof(t.parent_id), "36c49cc48c9bd841");
	o = trace_txn_json(&t);
	assert_string_equal(json_string_value(json_object_get(o, "trace_id")),
			    "1-6b037b99-826eebb07231f187b10009f9");
	assert_string_equal(json_string_value(json_object_get(o, "id")), "953d45199618c9cf");
	assert_string_equal(json_string_value(json_object_get(o, "parent_id")), "36c49cc48c9bd841");
	json_decref(o);
}

static void test_records(void **state)
{
	static struct xtap_data_event d;
	struct xtap_conn_event c = {};
	char line[TRACE_RAW_LINE_MAX];
	const char req[] = "GET /x HTTP/1.1\r\nHost: a\"b\r\n\r\n";
	json_t *o;

	(void)state;
	d.hdr.type = XTAP_EV_DATA;
	d.hdr.dir = XTAP_DIR_IN;
	d.hdr.role = XTAP_ROLE_SERVER;
	d.hdr.sys = XTAP_SYS_RECVFROM;
	d.hdr.tgid = 7;
	d.hdr.fd = 3;
	d.hdr.conn_id = 0x10;
	d.hdr.ts_ns = clock_mono_now();
	d.len = 500;
	d.cap_len = sizeof(req) - 1;
	memcpy(d.data, req, d.cap_len);
	assert_int_equal(trace_record_line(&d, XTAP_DATA_EV_SIZE(d.cap_len), false, line,
					   sizeof(line)),
			 0);
	assert_non_null(strstr(line, " data  pid=7 "));
	assert_non_null(strstr(line, " conn=10 role=server in recvfrom len=500 cap=30 "));
	assert_non_null(strstr(line, "\"GET /x HTTP/1.1\\r\\nHost: a\\x22b\\r\\n\\r\\n\""));
	o = trace_record_json(&d, XTAP_DATA_EV_SIZE(d.cap_len), false);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "data");
	assert_string_equal(json_string_value(json_object_get(o, "syscall")), "recvfrom");
	assert_int_equal(json_integer_value(json_object_get(o, "len")), 500);
	assert_memory_equal(json_string_value(json_object_get(o, "data")), "GET /x HTTP/1.1\\r\\n", 19);
	json_decref(o);
	/* cap_len larger than the record: only what is there is shown */
	d.cap_len = 4000;
	assert_int_equal(trace_record_line(&d, XTAP_DATA_EV_SIZE(5), false, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "\"GET /\""));
	/* too short for its type */
	assert_int_equal(trace_record_line(&d, 40, false, line, sizeof(line)), -EINVAL);
	assert_null(trace_record_json(&d, 40, false));
	assert_null(trace_record_json(&d, 8, false));

	c.hdr.type = XTAP_EV_OPEN;
	c.hdr.role = XTAP_ROLE_CLIENT;
	c.addr.family = 10;
	c.addr.lport = 1;
	c.addr.rport = 2;
	c.addr.laddr[15] = c.addr.raddr[15] = 1;
	memcpy(c.comm, "my app", 7);
	assert_int_equal(trace_record_line(&c, sizeof(c), false, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "comm=my?app local=[::1]:1 peer=[::1]:2"));
	assert_int_equal(trace_record_line(&c, sizeof(c) - 1, false, line, sizeof(line)), -EINVAL);
	c.hdr.type = XTAP_EV_EXEC;
	o = trace_record_json(&c.hdr, sizeof(c.hdr), false);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "exec");
	json_decref(o);
	c.hdr.type = 99;
	o = trace_record_json(&c, sizeof(c), false);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "?");
	json_decref(o);
}

static int f_a(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}

static void test_cli_match(void **state)
{
	static const struct cli_cmd t[] = { { "status", f_a, "" }, { "stop", f_a, "" },
					    { "st", f_a, "" }, { "dump", f_a, "" } };

	(void)state;
	assert_ptr_equal(cli_match(t, 4, "d", "command", "x"), &t[3]);
	assert_ptr_equal(cli_match(t, 4, "stat", "command", "x"), &t[0]);
	assert_ptr_equal(cli_match(t, 4, "sto", "command", "x"), &t[1]);
	/* an exact name wins over the longer ones it prefixes */
	assert_ptr_equal(cli_match(t, 4, "st", "command", "x"), &t[2]);
	assert_null(cli_match(t, 3, "s", "command", "x")); /* ambiguous */
	assert_null(cli_match(t, 4, "x", "command", "x"));
	assert_null(cli_match(t, 4, "", "command", "x"));
	assert_null(cli_match(t, 4, "dumpy", "command", "x"));
}

static void test_parse_long(void **state)
{
	long v;

	(void)state;
	assert_int_equal(parse_long("42", 1, 64, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_long("65", 1, 64, &v), -ERANGE);
	assert_int_equal(parse_long("4x", 1, 64, &v), -EINVAL);
	assert_int_equal(parse_long("", 1, 64, &v), -EINVAL);
}

static void test_sampling_status(void **state)
{
	struct sampling_config sc = {
		.mode = SAMPLING_LOCAL,
		.local_rules_json = "{\"version\":2,\"default\":{\"fixed_target\":2,\"rate\":0.1},"
				    "\"rules\":[{\"description\":\"api\",\"host\":\"*\","
				    "\"http_method\":\"GET\",\"url_path\":\"/api/*\","
				    "\"fixed_target\":0,\"rate\":0.5}]}",
	};
	struct sampler *s;
	char err[128];
	json_t *o, *r;

	(void)state;
	o = sampler_status_json(NULL);
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "off");
	assert_int_equal(json_array_size(json_object_get(o, "rules")), 0);
	json_decref(o);

	assert_int_equal(sampler_create(&sc, &s, err, sizeof(err)), 0);
	o = sampler_status_json(s);
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "local");
	assert_string_equal(json_string_value(json_object_get(o, "source")), "local");
	assert_int_equal(json_array_size(json_object_get(o, "rules")), 2);
	r = json_array_get(json_object_get(o, "rules"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "rules[0]");
	assert_string_equal(json_string_value(json_object_get(r, "http_method")), "GET");
	assert_string_equal(json_string_value(json_object_get(r, "url_path")), "/api/*");
	assert_true(json_real_value(json_object_get(r, "rate")) == 0.5);
	r = json_array_get(json_object_get(o, "rules"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "default");
	assert_int_equal(json_integer_value(json_object_get(r, "reservoir")), 2);
	json_decref(o);
	sampler_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_status), cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_match),	     cmocka_unit_test(test_line),
		cmocka_unit_test(test_json),	     cmocka_unit_test(test_records),
		cmocka_unit_test(test_cli_match),    cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_sampling_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
