/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Trace links: the span ring and its resolution, then the connection
 * table fed with capture records in the orders two processes' records can
 * arrive in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "clock.h"
#include "conn.h"
#include "counters.h"
#include "span.h"

/* ---- the span ring ---- */

static void test_root_resolves_with_new_trace(void **state)
{
	struct span_ref r = span_new(1700000000);
	struct span_resolved out;

	(void)state;
	assert_int_equal(span_resolve(r, 0, false, &out), 1);
	assert_true(xid_valid_trace_id(out.trace_id));
	assert_memory_equal(out.trace_id, "1-6553f100-", 11);
	assert_true(xid_valid_span_id(out.id));
	assert_string_equal(out.parent_id, "");
	assert_int_equal(out.drop, SPAN_KEEP);
}

/* A root takes the kernel's ids; a pure client's call, linked to by the
 * server its request reached, takes the server's kernel trace id. */
static void test_kernel_seeds(void **state)
{
	static const char kt[] = "1-6553f100-0123456789abcdef01234567";
	static const char kp[] = "00f067aa0ba902b4";
	struct span_ref srv = span_new(1700000000), call = span_new(1700000000),
			other = span_new(1700000000);
	struct span_resolved a, b, c;

	(void)state;
	memcpy(span_get(srv)->seed_trace_id, kt, sizeof(kt));
	memcpy(span_get(other)->seed_trace_id, kt, sizeof(kt));
	memcpy(span_get(other)->seed_parent_id, kp, sizeof(kp));
	assert_true(span_link(srv, call));
	span_seed_caller(srv, call);
	assert_int_equal(span_resolve(srv, 0, false, &a), 1);
	assert_int_equal(span_resolve(call, 0, false, &b), 1);
	assert_string_equal(a.trace_id, kt);
	assert_string_equal(b.trace_id, kt);
	assert_string_equal(a.parent_id, b.id);
	/* a root with a caller's option: its trace and parent */
	assert_int_equal(span_resolve(other, 0, false, &c), 1);
	assert_string_equal(c.trace_id, kt);
	assert_string_equal(c.parent_id, kp);
}

/* The kernel decided the server's sampling and its calls carried it: the
 * pure client's call that starts the trace follows, whatever the sampler
 * drew for it; a decision from a header stays. */
static void test_kernel_decision_reaches_caller(void **state)
{
	struct span_ref srv = span_new(1700000000), call = span_new(1700000000),
			srv2 = span_new(1700000000), call2 = span_new(1700000000);
	struct span_resolved a, b;

	(void)state;
	span_get(call)->drop = SPAN_KEEP; /* the sampler's draw */
	span_get(srv)->drop = SPAN_DROP_SAMPLER;
	span_get(srv)->kernel_decided = true;
	assert_true(span_link(srv, call));
	span_seed_caller(srv, call);
	assert_int_equal(span_resolve(srv, 0, false, &a), 1);
	assert_int_equal(span_resolve(call, 0, false, &b), 1);
	assert_int_equal(a.drop, SPAN_DROP_SAMPLER);
	assert_int_equal(b.drop, SPAN_DROP_SAMPLER);
	assert_true(span_get(call)->kernel_decided);

	span_get(call2)->drop = SPAN_DROP_HEADER;
	span_get(srv2)->drop = SPAN_KEEP;
	span_get(srv2)->kernel_decided = true;
	assert_true(span_link(srv2, call2));
	span_seed_caller(srv2, call2);
	assert_int_equal(span_resolve(srv2, 0, false, &a), 1);
	assert_int_equal(a.drop, SPAN_DROP_HEADER);
}

static void test_child_inherits(void **state)
{
	struct span_ref root = span_new(1700000000), mid = span_new(1700000000),
			leaf = span_new(1700000000);
	struct span_resolved a, b, c;

	(void)state;
	span_get(root)->drop = SPAN_DROP_SAMPLER;
	assert_true(span_link(mid, root));
	assert_true(span_link(leaf, mid));
	assert_int_equal(span_resolve(leaf, 0, false, &c), 1);
	assert_int_equal(span_resolve(root, 0, false, &a), 1);
	assert_int_equal(span_resolve(mid, 0, false, &b), 1);
	assert_string_equal(a.trace_id, b.trace_id);
	assert_string_equal(a.trace_id, c.trace_id);
	assert_string_equal(b.parent_id, a.id);
	assert_string_equal(c.parent_id, b.id);
	assert_int_equal(c.drop, SPAN_DROP_SAMPLER);
	/* resolved spans are final: no re-linking */
	assert_false(span_link(leaf, root));
	/* nor a span to itself */
	assert_false(span_link(root, root));
}

static void test_await_waits_until_deadline(void **state)
{
	struct span_ref srv = span_new(1700000000), kid = span_new(1700000000);
	struct span_resolved out;
	uint64_t before = xtap_ctr.link_timeouts;

	(void)state;
	span_get(srv)->state = SPAN_AWAIT;
	span_get(srv)->deadline_ns = 1000;
	assert_true(span_link(kid, srv));
	assert_int_equal(span_resolve(kid, 999, false, &out), 0);
	assert_int_equal(span_resolve(srv, 999, false, &out), 0);
	/* forced (shutdown) or past the deadline: a root of its own */
	assert_int_equal(span_resolve(kid, 999, true, &out), 1);
	assert_true(xid_valid_trace_id(out.trace_id));
	assert_int_equal(xtap_ctr.link_timeouts, before + 1);
	assert_int_equal(span_get(srv)->state, SPAN_ROOT);
}

static void test_await_linked_in_time(void **state)
{
	struct span_ref call = span_new(1700000000), srv = span_new(1700000000);
	struct span_resolved c, s;

	(void)state;
	span_get(srv)->state = SPAN_AWAIT;
	span_get(srv)->deadline_ns = 1000;
	assert_true(span_link(srv, call));
	assert_int_equal(span_resolve(srv, 10, false, &s), 1);
	assert_int_equal(span_resolve(call, 10, false, &c), 1);
	assert_string_equal(s.trace_id, c.trace_id);
	assert_string_equal(s.parent_id, c.id);
}

static void test_ring_reuse_detected(void **state)
{
	struct span_ref old = span_new(1700000000), kid;
	struct span_resolved out;
	uint64_t lost = xtap_ctr.link_lost;

	(void)state;
	kid = span_new(1700000000);
	assert_true(span_link(kid, old));
	for (int i = 0; i < SPAN_MAX; i++)
		span_new(1700000000);
	assert_null(span_get(old));
	assert_null(span_get(kid));
	assert_int_equal(span_resolve(kid, 0, false, &out), -1);

	/* a parent overwritten under a live child: the child becomes a root */
	old = span_new(1700000000);
	for (int i = 0; i < SPAN_MAX - 1; i++)
		span_new(1700000000);
	kid = span_new(1700000000); /* reuses old's slot */
	assert_null(span_get(old));
	assert_false(span_link(kid, old));
	kid = span_new(1700000000);
	span_get(kid)->state = SPAN_CHILD;
	span_get(kid)->up = old;
	assert_int_equal(span_resolve(kid, 0, false, &out), 1);
	assert_int_equal(xtap_ctr.link_lost, lost + 1);
}

/* ---- the connection table ---- */

#define MAX_OUT 64
static struct xtap_txn out[MAX_OUT];
static int n_out;

static void sink(struct xtap_txn *t, void *ctx)
{
	(void)ctx;
	if (n_out < MAX_OUT)
		out[n_out++] = *t;
}

static uint64_t next_conn_id = 1;

struct end {
	uint32_t tgid;
	uint64_t id;
	uint8_t role;
};

static void rec_open(struct end *e, uint32_t tgid, uint8_t role, uint16_t lport, uint16_t rport)
{
	struct xtap_conn_event ev = { 0 };

	e->tgid = tgid;
	e->id = next_conn_id++;
	e->role = role;
	ev.hdr.type = XTAP_EV_OPEN;
	ev.hdr.role = role;
	ev.hdr.tgid = tgid;
	ev.hdr.tid = tgid;
	ev.hdr.fd = 5;
	ev.hdr.ts_ns = clock_mono_now();
	ev.hdr.conn_id = e->id;
	ev.addr.family = AF_INET;
	ev.addr.lport = lport;
	ev.addr.rport = rport;
	inet_pton(AF_INET, "127.0.0.1", ev.addr.laddr);
	inet_pton(AF_INET, "127.0.0.1", ev.addr.raddr);
	snprintf(ev.comm, sizeof(ev.comm), "p%u", tgid);
	assert_int_equal(conn_handle_record(&ev, sizeof(ev)), 0);
}

static void rec_data(const struct end *e, uint8_t dir, const char *bytes)
{
	static struct xtap_data_event ev;
	size_t n = strlen(bytes);

	memset(&ev, 0, offsetof(struct xtap_data_event, data));
	ev.hdr.type = XTAP_EV_DATA;
	ev.hdr.dir = dir;
	ev.hdr.role = e->role;
	ev.hdr.tgid = e->tgid;
	ev.hdr.tid = e->tgid;
	ev.hdr.fd = 5;
	ev.hdr.ts_ns = clock_mono_now();
	ev.hdr.conn_id = e->id;
	ev.hdr.sys = XTAP_SYS_WRITE;
	ev.len = n;
	ev.cap_len = n;
	memcpy(ev.data, bytes, n);
	assert_int_equal(conn_handle_record(&ev, XTAP_DATA_EV_SIZE(n)), 0);
}

#define REQ "GET /x HTTP/1.1\r\nHost: b\r\n\r\n"
#define RESP "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

static int conn_setup(void **state)
{
	(void)state;
	memset(&xtap_ctr, 0, sizeof(xtap_ctr));
	n_out = 0;
	clock_sync();
	conn_table_init(NULL, sink, NULL);
	conn_table_set_link_wait(200ull * 1000000ull);
	return 0;
}

static int conn_teardown(void **state)
{
	(void)state;
	conn_table_flush();
	return 0;
}

static const struct xtap_txn *find(uint8_t role, uint32_t pid)
{
	for (int i = 0; i < n_out; i++)
		if (out[i].role == role && out[i].pid == pid)
			return &out[i];
	fail_msg("no transaction of role %u from pid %u among %d", role, pid, n_out);
	return NULL;
}

/* client (pid 901, port 40000) → server (pid 902, port 8080) */
static void pair(struct end *cli, struct end *srv)
{
	rec_open(cli, 901, XTAP_ROLE_CLIENT, 40000, 8080);
	rec_open(srv, 902, XTAP_ROLE_SERVER, 8080, 40000);
}

static void check_linked(void)
{
	const struct xtap_txn *c = find(XTAP_ROLE_CLIENT, 901), *s = find(XTAP_ROLE_SERVER, 902);

	assert_string_equal(s->trace_id, c->trace_id);
	assert_string_equal(s->parent_id, c->span_id);
	assert_true(c->callee_traced);
	assert_int_equal(xtap_ctr.links_node, 1);
}

static void test_conn_client_first(void **state)
{
	struct end cli, srv;

	(void)state;
	pair(&cli, &srv);
	rec_data(&cli, XTAP_DIR_OUT, REQ);
	rec_data(&srv, XTAP_DIR_IN, REQ);
	rec_data(&srv, XTAP_DIR_OUT, RESP);
	rec_data(&cli, XTAP_DIR_IN, RESP);
	assert_int_equal(n_out, 2);
	check_linked();
}

/* the server's records come before the client's: the server's request
 * waits in its queue, and is adopted when the call shows up */
static void test_conn_server_head_first(void **state)
{
	struct end cli, srv;

	(void)state;
	pair(&cli, &srv);
	rec_data(&srv, XTAP_DIR_IN, REQ);
	rec_data(&cli, XTAP_DIR_OUT, REQ);
	rec_data(&srv, XTAP_DIR_OUT, RESP);
	rec_data(&cli, XTAP_DIR_IN, RESP);
	assert_int_equal(n_out, 2);
	check_linked();
}

/* ... even when the server's whole exchange is over first: it waits in the
 * deferred list */
static void test_conn_server_done_first(void **state)
{
	struct end cli, srv;

	(void)state;
	pair(&cli, &srv);
	rec_data(&srv, XTAP_DIR_IN, REQ);
	rec_data(&srv, XTAP_DIR_OUT, RESP);
	assert_int_equal(n_out, 0);
	rec_data(&cli, XTAP_DIR_OUT, REQ);
	conn_tick(clock_mono_now());
	assert_int_equal(n_out, 1);
	rec_data(&cli, XTAP_DIR_IN, RESP);
	assert_int_equal(n_out, 2);
	check_linked();
}

/* nobody sent it from this node: after the wait, a root of its own */
static void test_conn_wait_times_out(void **state)
{
	struct end srv;
	const struct xtap_txn *s;

	(void)state;
	rec_open(&srv, 902, XTAP_ROLE_SERVER, 8080, 40001);
	rec_data(&srv, XTAP_DIR_IN, REQ);
	rec_data(&srv, XTAP_DIR_OUT, RESP);
	conn_tick(clock_mono_now());
	assert_int_equal(n_out, 0);
	conn_tick(clock_mono_now() + 300ull * 1000000ull);
	assert_int_equal(n_out, 1);
	s = find(XTAP_ROLE_SERVER, 902);
	assert_true(xid_valid_trace_id(s->trace_id));
	assert_string_equal(s->parent_id, "");
	assert_int_equal(xtap_ctr.link_timeouts, 1);
}

/* a call made while the process serves one request belongs to it */
static void test_conn_call_in_request(void **state)
{
	struct end in, call;
	const struct xtap_txn *s, *c;

	(void)state;
	conn_table_set_link_wait(0); /* nothing from this node: no wait */
	rec_open(&in, 903, XTAP_ROLE_SERVER, 8081, 50000);
	rec_open(&call, 903, XTAP_ROLE_CLIENT, 50001, 9090);
	rec_data(&in, XTAP_DIR_IN, REQ);
	rec_data(&call, XTAP_DIR_OUT, REQ);
	rec_data(&call, XTAP_DIR_IN, RESP);
	rec_data(&in, XTAP_DIR_OUT, RESP);
	assert_int_equal(n_out, 2);
	s = find(XTAP_ROLE_SERVER, 903);
	c = find(XTAP_ROLE_CLIENT, 903);
	assert_string_equal(c->trace_id, s->trace_id);
	assert_string_equal(c->parent_id, s->span_id);
	assert_false(c->own_segment);
	assert_false(c->callee_traced);
	assert_int_equal(xtap_ctr.links_call, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_resolves_with_new_trace),
		cmocka_unit_test(test_kernel_seeds),
		cmocka_unit_test(test_kernel_decision_reaches_caller),
		cmocka_unit_test(test_child_inherits),
		cmocka_unit_test(test_await_waits_until_deadline),
		cmocka_unit_test(test_await_linked_in_time),
		cmocka_unit_test(test_ring_reuse_detected),
		cmocka_unit_test_setup_teardown(test_conn_client_first, conn_setup, conn_teardown),
		cmocka_unit_test_setup_teardown(test_conn_server_head_first, conn_setup,
						conn_teardown),
		cmocka_unit_test_setup_teardown(test_conn_server_done_first, conn_setup,
						conn_teardown),
		cmocka_unit_test_setup_teardown(test_conn_wait_times_out, conn_setup, conn_teardown),
		cmocka_unit_test_setup_teardown(test_conn_call_in_request, conn_setup,
						conn_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
