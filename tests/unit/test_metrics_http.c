/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's endpoint on a real socket on 127.0.0.1: every path, the
 * Prometheus text, the JSON, the loop's connection listing through the
 * telemetry handshake, and clients that misbehave (garbage, oversized,
 * silent, too many). The "event loop" is this test calling telemetry_tick.
 * Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "clock.h"
#include "conn.h"
#include "counters.h"
#include "metrics_http.h"
#include "recent.h"
#include "telemetry.h"

static struct metrics_http *srv;
static struct telemetry *tel;
static struct recent *rec;
static json_t *config;
static int port;

static int fake_kernel(void *ctx, uint64_t out[XTAP_STAT_MAX])
{
	(void)ctx;
	for (int i = 0; i < XTAP_STAT_MAX; i++)
		out[i] = 100 + (uint64_t)i;
	return 0;
}

static json_t *fake_bpf(void *ctx)
{
	(void)ctx;
	return json_pack("{s:[{s:s}], s:i, s:[]}", "programs", "name", "p", "links", 1, "maps");
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_srv(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Send req (len bytes), read until the server closes, at most timeout s.
 * Returns the malloc'd answer (NUL-terminated). */
static char *exchange_fd(int fd, const char *req, size_t len, double timeout)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap + 1);
	double end = mono() + timeout;

	assert_non_null(buf);
	if (len)
		assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	for (int i = 0; i < 100000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = end - mono();
		ssize_t r;

		if (left <= 0)
			fail_msg("no complete answer within %.1f s; got %zu bytes", timeout, n);
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		assert_true(n < cap);
	}
	buf[n] = '\0';
	close(fd);
	return buf;
}

static char *exchange(const char *req)
{
	return exchange_fd(connect_srv(), req, strlen(req), 5);
}

/* GET path: the status code, the body in *body (malloc'd). */
static int get(const char *path, char **body)
{
	char req[256];
	char *resp, *b;
	int status = 0;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	resp = exchange(req);
	assert_int_equal(sscanf(resp, "HTTP/1.0 %d ", &status), 1);
	b = strstr(resp, "\r\n\r\n");
	assert_non_null(b);
	{
		/* Content-Length is right */
		const char *cl = strstr(resp, "Content-Length: ");

		assert_non_null(cl);
		assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(b + 4));
	}
	*body = strdup(b + 4);
	free(resp);
	return status;
}

/* The loop: publish now. */
static void tick(void)
{
	/* published at most every TELEMETRY_PUBLISH_NS: step past it */
	static uint64_t fake_now;

	if (!fake_now)
		fake_now = clock_mono_now();
	fake_now += TELEMETRY_PUBLISH_NS;
	telemetry_tick(tel, fake_now > clock_mono_now() ? fake_now : clock_mono_now());
}

static int setup(void **state)
{
	struct metrics_source src = { .programs_attached = 3, .kernel_stats = fake_kernel,
				      .bpf_status = fake_bpf, .version = "9.9.9" };
	char err[160];

	(void)state;
	tel = telemetry_new();
	rec = recent_new();
	config = json_pack("{s:[i]}", "ports", 8080);
	assert_non_null(tel);
	assert_non_null(rec);
	src.tel = tel;
	src.recent = rec;
	src.config = config;
	srv = metrics_http_start("127.0.0.1:0", &src, err, sizeof(err));
	if (!srv)
		fail_msg("start: %s", err);
	port = metrics_http_port(srv);
	assert_true(port > 0);
	telemetry_set_ready(tel, true);
	tick();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	metrics_http_stop(srv);
	telemetry_free(tel);
	recent_free(rec);
	json_decref(config);
	conn_table_flush();
	return 0;
}

static void test_healthz(void **state)
{
	char *body;

	(void)state;
	tick();
	assert_int_equal(get("/healthz", &body), 200);
	assert_string_equal(body, "ok\n");
	free(body);

	telemetry_set_ready(tel, false);
	assert_int_equal(get("/healthz", &body), 503);
	assert_non_null(strstr(body, "not attached"));
	free(body);
	telemetry_set_ready(tel, true);

	/* a loop that stopped turning 10 s ago */
	telemetry_tick(tel, clock_mono_now() - 10000000000ull);
	assert_int_equal(get("/healthz", &body), 503);
	assert_non_null(strstr(body, "has not turned"));
	free(body);
	tick();
	assert_int_equal(get("/healthz", &body), 200);
	free(body);
}

/* Each sample's family has HELP and TYPE lines before it; counters end in
 * _total; every name starts with xtap_. Returns the value of `want`. */
static double check_prometheus(const char *body, const char *want)
{
	char help[128] = "", type[128] = "", kind[32] = "";
	char *text = strdup(body), *save = NULL;
	double found = -1;
	int samples = 0;

	assert_non_null(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], fam[128];
		double v;

		if (!strncmp(line, "# HELP ", 7)) {
			assert_int_equal(sscanf(line, "# HELP %127s", help), 1);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line, "# TYPE %127s %31s", type, kind), 2);
			assert_string_equal(type, help);
			assert_true(!strcmp(kind, "counter") || !strcmp(kind, "gauge"));
			continue;
		}
		assert_int_equal(sscanf(line, "%127s %lf", name, &v), 2);
		snprintf(fam, sizeof(fam), "%.*s", (int)strcspn(name, "{"), name);
		if (strcmp(fam, type))
			fail_msg("sample %s without its own HELP/TYPE (last: %s)", name, type);
		assert_memory_equal(name, "xtap_", 5);
		if (!strcmp(kind, "counter")) {
			size_t n = strlen(fam);

			assert_true(n > 6 && !strcmp(fam + n - 6, "_total"));
		}
		if (!strcmp(name, want))
			found = v;
		samples++;
	}
	assert_true(samples > 30);
	free(text);
	return found;
}

static void test_metrics(void **state)
{
	char *body;

	(void)state;
	xtap_ctr.transactions = 7;
	xtap_ctr.segments = 5;
	xtap_ctr.conns_evicted = 2;
	tick();
	assert_int_equal(get("/metrics", &body), 200);
	assert_true(check_prometheus(body, "xtap_transactions_total") == 7);
	assert_true(check_prometheus(body, "xtap_segments_total") == 5);
	assert_true(check_prometheus(body, "xtap_drops_total{reason=\"conn_table_full\"}") == 2);
	/* the kernel's ring buffer drops (index 1 of the fake: 101) */
	assert_true(check_prometheus(body, "xtap_drops_total{reason=\"ringbuf_full\"}") == 101);
	assert_true(check_prometheus(body, "xtap_kernel_events_total") == 100);
	assert_true(check_prometheus(body, "xtap_attached_programs") == 3);
	assert_true(check_prometheus(body, "xtap_resident_memory_bytes") > 1 << 20);
	/* a drop reason is not also exported under its counter's name */
	assert_null(strstr(body, "xtap_conns_evicted_total"));
	assert_non_null(strstr(body, "xtap_build_info{version=\"9.9.9\"} 1\n"));
	free(body);
}

static void test_status(void **state)
{
	json_error_t je;
	json_t *st;
	char *body;

	(void)state;
	xtap_ctr.subsegments = 4;
	tick();
	assert_int_equal(get("/status", &body), 200);
	st = json_loads(body, 0, &je);
	if (!st)
		fail_msg("status is not JSON (%s): %s", je.text, body);
	assert_string_equal(json_string_value(json_object_get(st, "version")), "9.9.9");
	assert_int_equal(json_integer_value(json_object_get(st, "pid")), getpid());
	assert_true(json_is_true(json_object_get(st, "healthy")));
	assert_int_equal(json_integer_value(json_object_get(st, "programs_attached")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "counters"),
							   "subsegments")),
			 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "kernel"),
							   "ringbuf_drops")),
			 101);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "drops"),
							   "ringbuf_full")),
			 101);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "bpf"), "links")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "sampling"), "mode")),
			    "off");
	assert_true(json_equal(json_object_get(st, "config"), config));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "recent_segments"),
							   "capacity")),
			 RECENT_DOCS);
	json_decref(st);
	free(body);
}

static void test_segments(void **state)
{
	json_error_t je;
	json_t *arr;
	char *body, doc[64];

	(void)state;
	for (int i = 0; i < RECENT_DOCS + 6; i++) {
		int n = snprintf(doc, sizeof(doc), "{\"n\":%d}", i);

		recent_add(rec, doc, (size_t)n);
	}
	assert_int_equal(get("/segments?n=3", &body), 200);
	arr = json_loads(body, 0, &je);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 3);
	/* oldest first: the last three added */
	for (int i = 0; i < 3; i++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, i), "n")),
				 RECENT_DOCS + 3 + i);
	json_decref(arr);
	free(body);
	assert_int_equal(get("/segments", &body), 200);
	arr = json_loads(body, 0, &je);
	assert_int_equal(json_array_size(arr), 10);
	json_decref(arr);
	free(body);
	/* the ring holds RECENT_DOCS, oldest evicted */
	assert_int_equal(get("/segments?n=64", &body), 200);
	arr = json_loads(body, 0, &je);
	assert_int_equal(json_array_size(arr), RECENT_DOCS);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "n")), 6);
	json_decref(arr);
	free(body);
	assert_int_equal(get("/segments?n=0", &body), 400);
	free(body);
	assert_int_equal(get("/segments?n=65", &body), 400);
	free(body);
	assert_int_equal(get("/segments?n=x", &body), 400);
	free(body);
}

static volatile int looping;

static void *loop(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500 && looping; i++) {
		telemetry_tick(tel, clock_mono_now());
		usleep(10000);
	}
	return NULL;
}

/* An OPEN record as the BPF side sends it. */
static void open_conn(uint64_t id, uint32_t tgid, int fd, uint16_t lport, uint16_t rport)
{
	struct xtap_conn_event e = { .hdr = { .type = XTAP_EV_OPEN, .role = XTAP_ROLE_SERVER,
					      .tgid = tgid, .tid = tgid, .fd = fd,
					      .ts_ns = clock_mono_now(), .conn_id = id } };

	e.addr.family = 2;
	e.addr.lport = lport;
	e.addr.rport = rport;
	e.addr.laddr[0] = e.addr.raddr[0] = 127;
	e.addr.laddr[3] = e.addr.raddr[3] = 1;
	memcpy(e.comm, "srv", 4);
	assert_int_equal(conn_handle_record(&e, sizeof(e)), 0);
}

static void test_conns(void **state)
{
	pthread_t th;
	json_error_t je;
	json_t *o, *c;
	char *body;
	double t0;

	(void)state;
	open_conn(1, 4242, 5, 8080, 50001);
	open_conn(2, 4242, 6, 8080, 50002);
	/* no loop turning: the endpoint gives up after its 3 s bound */
	t0 = mono();
	assert_int_equal(get("/conns", &body), 503);
	assert_true(mono() - t0 >= 2.9 && mono() - t0 < 5);
	free(body);

	looping = 1;
	assert_int_equal(pthread_create(&th, NULL, loop, NULL), 0);
	assert_int_equal(get("/conns", &body), 200);
	looping = 0;
	pthread_join(th, NULL);
	o = json_loads(body, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "listed")), 2);
	/* most recently used first */
	c = json_array_get(json_object_get(o, "connections"), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "fd")), 6);
	assert_int_equal(json_integer_value(json_object_get(c, "pid")), 4242);
	assert_string_equal(json_string_value(json_object_get(c, "comm")), "srv");
	assert_string_equal(json_string_value(json_object_get(c, "role")), "server");
	assert_string_equal(json_string_value(json_object_get(c, "local")), "127.0.0.1:8080");
	assert_string_equal(json_string_value(json_object_get(c, "peer")), "127.0.0.1:50002");
	json_decref(o);
	free(body);
	conn_table_flush();
}

static void test_bad_requests(void **state)
{
	char big[METRICS_REQ_MAX + 100];
	char *r;

	(void)state;
	r = exchange("POST /metrics HTTP/1.0\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 405 ", 13);
	assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
	free(r);
	r = exchange("GET /nope HTTP/1.0\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 404 ", 13);
	free(r);
	r = exchange("\x16\x03\x01 garbage\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 400 ", 13);
	free(r);
	r = exchange("GET nope HTTP/1.0\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 400 ", 13);
	free(r);
	/* HEAD: the headers alone */
	r = exchange("HEAD /healthz HTTP/1.0\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 200 ", 13);
	assert_non_null(strstr(r, "Content-Length: 3\r\n"));
	assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n");
	free(r);
	/* a head that never ends within the bound */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
	r = exchange_fd(connect_srv(), big, sizeof(big), 5);
	assert_memory_equal(r, "HTTP/1.0 431 ", 13);
	free(r);
	/* the server is still there */
	r = exchange("GET /healthz HTTP/1.0\r\n\r\n");
	assert_memory_equal(r, "HTTP/1.0 200 ", 13);
	free(r);
}

/* METRICS_CONN_MAX silent clients take every slot: the next client waits in
 * the backlog until they time out, and is answered then; the loop is never
 * held up meanwhile. */
static void test_slow_clients(void **state)
{
	int idle[METRICS_CONN_MAX];
	double t0, t1, worst = 0;
	char *r;
	int fd;

	(void)state;
	for (int i = 0; i < METRICS_CONN_MAX; i++)
		idle[i] = connect_srv();
	usleep(200000); /* the server accepts them all */
	fd = connect_srv();
	t0 = mono();
	for (int i = 0; i < 20; i++) {
		double a = mono();

		tick();
		if (mono() - a > worst)
			worst = mono() - a;
	}
	assert_true(worst < 0.1);
	r = exchange_fd(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25, METRICS_TIMEOUT_MS / 1000.0 + 5);
	t1 = mono();
	assert_memory_equal(r, "HTTP/1.0 200 ", 13);
	free(r);
	/* it waited for the silent ones to be dropped, no longer */
	assert_true(t1 - t0 > METRICS_TIMEOUT_MS / 1000.0 - 1);
	assert_true(t1 - t0 < METRICS_TIMEOUT_MS / 1000.0 + 4);
	for (int i = 0; i < METRICS_CONN_MAX; i++) {
		char b[8];

		/* the server closed them */
		assert_int_equal(read(idle[i], b, sizeof(b)), 0);
		close(idle[i]);
	}
}

static void test_address(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160];
	bool ex;

	(void)state;
	assert_int_equal(metrics_addr_parse("127.0.0.1:9710", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9710);
	assert_int_equal(metrics_addr_parse("[::1]:80", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(metrics_addr_parse(":9710", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(metrics_addr_parse("localhost:1", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(metrics_addr_parse("9710", &ss, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected HOST:PORT"));
	assert_int_equal(metrics_addr_parse("::1:9710", &ss, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "brackets"));
	assert_int_equal(metrics_addr_parse("127.0.0.1:65536", &ss, &len, err, sizeof(err)), -EINVAL);
	assert_int_equal(metrics_addr_parse("127.0.0.1:x", &ss, &len, err, sizeof(err)), -EINVAL);
	assert_int_equal(metrics_addr_parse("no.such.host.invalid:80", &ss, &len, err, sizeof(err)),
			 -EINVAL);

	unsetenv(METRICS_ADDRESS_ENV);
	assert_string_equal(metrics_address(NULL, &ex), METRICS_DEFAULT_ADDRESS);
	assert_false(ex);
	setenv(METRICS_ADDRESS_ENV, "127.0.0.1:1234", 1);
	assert_string_equal(metrics_address(NULL, &ex), "127.0.0.1:1234");
	assert_true(ex);
	assert_string_equal(metrics_address("[::1]:5", &ex), "[::1]:5");
	assert_null(metrics_address("off", NULL));
	setenv(METRICS_ADDRESS_ENV, "none", 1);
	assert_null(metrics_address(NULL, NULL));
	unsetenv(METRICS_ADDRESS_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),	  cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_status),	  cmocka_unit_test(test_segments),
		cmocka_unit_test(test_conns),	  cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_slow_clients), cmocka_unit_test(test_address),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
