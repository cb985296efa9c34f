// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End-to-end trace links across nodes. Two network namespaces made here,
 * joined by a veth pair, stand for two nodes; each has its own agent,
 * scoped to it with --netns, so each sees only its "node":
 *   node A (10.231.0.1): curl → relay (python, a thread per request)
 *   node B (10.231.0.2): python http.server, and an HTTPS one
 * The relay's call to B leaves A with the trace context in a TCP option
 * (sockops), and B's agent takes its trace id and parent from it.
 *   option      no header: B's segment has A's trace id, and A's
 *               subsegment of the call as parent, inside it in time; the
 *               same over HTTPS (python's OpenSSL on both nodes);
 *               X-Amzn-Trace-Id and traceparent at A's entry reach B the
 *               same way; Sampled=0 at A's entry leaves nothing on B;
 *               neither agent saw the other node's processes;
 *   no option   A's agent with --no-tcp-option: B starts its own trace.
 *   sampling    both agents sample (local rules, rate 0.5, no reservoir):
 *               A's kernel decides each trace at the relay's request head
 *               and the option carries it, so B keeps exactly the traces
 *               A keeps (two independent draws would part on about half).
 */
#include "harness.h"
#include "tls_peers.h"

#include <stdio.h>
#include <string.h>

#define DOC_WAIT 15.0
#define A_ADDR "10.231.0.1"
#define B_ADDR "10.231.0.2"

static const char *ns_a, *ns_b;
static struct e2e_proc *relay, *server, *tls_server;
static int relay_port, server_port, tls_port;

/* an HTTP answer (any status) inside ns, within a bounded wait (the servers start
 * in namespaces e2e_wait_port cannot reach) */
static void wait_http(const char *ns, const char *url, struct e2e_proc *p)
{
	for (int i = 0; i < 100; i++) {
		struct e2e_spawn_opts o = {
			.argv = (const char *const[]){ "ip", "netns", "exec", ns, "curl", "-sk",
						       "--max-time", "2", "-o", "/dev/null", url,
						       NULL },
		};

		if (e2e_run_cmd(&o, 10).status == 0)
			return;
		if (!e2e_proc_alive(p))
			fail_msg("%s exited: %s", p->name, e2e_proc_out(p));
		e2e_sleep(0.1);
	}
	fail_msg("%s: no answer inside %s after 10 s", url, ns);
}

static int setup(void **state)
{
	const struct e2e_cert *cert;
	const char *py;

	e2e_group_setup(state);
	e2e_require_bin("curl");
	py = e2e_python_exe();
	ns_a = e2e_netns();
	ns_b = e2e_netns();
	e2e_veth(ns_a, A_ADDR "/24", ns_b, B_ADDR "/24");
	relay_port = e2e_free_port();
	server_port = e2e_free_port();
	server = e2e_spawnv((const char *const[]){ "ip", "netns", "exec", ns_b, py, "-m",
						   "http.server", "--bind", B_ADDR,
						   e2e_fmt("%d", server_port), NULL });
	cert = e2e_cert_new_ip(B_ADDR);
	tls_port = e2e_free_port();
	tls_server = e2e_spawnv((const char *const[]){ "ip", "netns", "exec", ns_b, py,
						       "tests/e2e/peers/https_server.py",
						       e2e_fmt("%d", tls_port), cert->cert, cert->key,
						       B_ADDR, NULL });
	{
		struct e2e_spawn_opts o = {
			.argv = (const char *const[]){ "ip", "netns", "exec", ns_a, py,
						       "tests/e2e/peers/relay.py",
						       e2e_fmt("%d", relay_port), "127.0.0.1", B_ADDR,
						       NULL },
			.env = (const char *const[]){ e2e_fmt("RELAY_CA=%s", cert->cert), NULL },
		};

		relay = e2e_spawn(&o);
	}
	wait_http(ns_b, e2e_fmt("http://" B_ADDR ":%d/", server_port), server);
	wait_http(ns_b, e2e_fmt("https://" B_ADDR ":%d/ok", tls_port), tls_server);
	wait_http(ns_a, e2e_fmt("http://127.0.0.1:%d/", relay_port), relay);
	return 0;
}

static struct e2e_agent *agent_for(const char *ns, const char *extra)
{
	return e2e_agent_startl("--netns", e2e_netns_path(ns), extra ? extra : "--link-wait",
				extra ? NULL : "250", NULL);
}

/* curl inside A → relay → B's server (B's HTTPS one: /ok) ?t=tag, with
 * an optional header */
static void call_to(bool https, const char *tag, const char *hdr)
{
	const char *url = e2e_fmt("http://127.0.0.1:%d/relay?url=%s://" B_ADDR ":%d/%s%%3Ft%%3D%s",
				  relay_port, https ? "https" : "http",
				  https ? tls_port : server_port, https ? "ok" : "", tag);
	const char *argv[] = { "ip", "netns", "exec", ns_a, "curl", "-sS", "--max-time", "10",
			       "-o", "/dev/null", "-w", "%{http_code}", url,
			       hdr ? "-H" : NULL, hdr, NULL };
	struct e2e_spawn_opts o = { .argv = argv };
	struct e2e_run r = e2e_run_cmd(&o, 20);

	if (r.status != 0 || strcmp(r.out, "200"))
		fail_msg("curl %s: exit %d, '%s'\n%s", url, r.status, r.out, r.err);
}

static void call_through(const char *tag, const char *hdr)
{
	call_to(false, tag, hdr);
}

struct hop {
	json_t *a_seg, *a_call, *b_seg;
};

/* The relay's segment and its call on A, and B's segment, for tag. */
static struct hop hop_docs(struct e2e_agent *a, struct e2e_agent *b, const char *tag)
{
	struct e2e_filter fb = { .type = "segment", .url_contains = e2e_fmt("t=%s", tag) };
	struct e2e_filter fa = { .type = "segment", .url_contains = e2e_fmt("t%%3D%s", tag) };
	struct e2e_filter fc = { .type = "subsegment", .url_contains = B_ADDR };
	struct e2e_filter ft = { .pred = e2e_has_trace_id };
	/* the final check runs after this test's documents are freed */
	static char kept[8][64];
	static int n_kept;
	struct hop h;

	h.b_seg = json_array_get(e2e_agent_expect_docs(b, &fb, 1, DOC_WAIT), 0);
	h.a_seg = json_array_get(e2e_agent_expect_docs(a, &fa, 1, DOC_WAIT), 0);
	assert_non_null(e2e_json_str(h.a_seg, "trace_id"));
	assert_true(n_kept < 8);
	snprintf(kept[n_kept], sizeof(kept[0]), "%s", e2e_json_str(h.a_seg, "trace_id"));
	ft.pred_arg = kept[n_kept++];
	/* curl's call, the relay's segment, the relay's call */
	h.a_call = e2e_one_doc(e2e_agent_expect_docs(a, &ft, 3, DOC_WAIT), &fc);
	return h;
}

static void assert_hop(struct hop h)
{
	assert_json_str(h.b_seg, "trace_id", e2e_json_str(h.a_seg, "trace_id"));
	e2e_assert_parent(h.b_seg, h.a_call);
	e2e_assert_parent(h.a_call, h.a_seg);
	e2e_assert_inside(h.b_seg, h.a_call);
	e2e_assert_inside(h.a_call, h.a_seg);
	assert_json_str(h.a_call, "namespace", "remote");
	assert_json_str(h.b_seg, "http.request.method", "GET");
	assert_json_int(h.b_seg, "http.response.status", 200);
}

/* ------------------------------------------------------------------------ */
/* Group: option                                                            */
/* ------------------------------------------------------------------------ */

static struct e2e_agent *agent_a, *agent_b;

static int option_setup(void **state)
{
	setup(state);
	agent_a = agent_for(ns_a, NULL);
	agent_b = agent_for(ns_b, NULL);
	return 0;
}

static char plain_trace[64];

static void test_option(void **state)
{
	struct e2e_filter ft = { .pred = e2e_has_trace_id, .pred_arg = plain_trace };
	struct hop h;

	(void)state;
	call_through("plain", NULL);
	h = hop_docs(agent_a, agent_b, "plain");
	assert_hop(h);
	/* B's agent saw only B: one document of this trace, the server's
	 * (pred_arg is kept as is, past this test's scope) */
	snprintf(plain_trace, sizeof(plain_trace), "%s", e2e_json_str(h.b_seg, "trace_id"));
	e2e_agent_expect_final(agent_b, &ft, 1);
}

static void test_option_amzn_header(void **state)
{
	struct hop h;

	(void)state;
	call_through("amzn", "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;"
			     "Parent=53995c3f42cd8ad8;Sampled=1");
	h = hop_docs(agent_a, agent_b, "amzn");
	assert_json_str(h.a_seg, "trace_id", "1-5759e988-bd862e3fe1be46a994272793");
	assert_json_str(h.a_seg, "parent_id", "53995c3f42cd8ad8");
	assert_hop(h);
}

static void test_option_traceparent(void **state)
{
	struct hop h;

	(void)state;
	call_through("w3c", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	h = hop_docs(agent_a, agent_b, "w3c");
	assert_json_str(h.a_seg, "trace_id", "1-4bf92f35-77b34da6a3ce929d0e0e4736");
	assert_hop(h);
}

static void test_option_unsampled(void **state)
{
	struct e2e_filter fb = { .url_contains = "t=nosample" };
	struct e2e_filter fa = { .url_contains = "t%3Dnosample" };
	struct e2e_filter ft = { .pred = e2e_has_trace_id,
				 .pred_arg = "1-5759e988-bd862e3fe1be46a994270000" };

	(void)state;
	call_through("nosample", "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994270000;"
				 "Sampled=0");
	/* a later traced exchange on both nodes: the unsampled one, had it
	 * been written, would be there by then */
	call_through("after-nosample", NULL);
	hop_docs(agent_a, agent_b, "after-nosample");
	e2e_agent_expect_final(agent_b, &fb, 0);
	e2e_agent_expect_final(agent_a, &fa, 0);
	e2e_agent_expect_final(agent_a, &ft, 0);
	e2e_agent_expect_final(agent_b, &ft, 0);
}

static bool url_starts(json_t *doc, const void *prefix)
{
	const char *u = e2e_json_str(doc, "http.request.url");

	return u && !strncmp(u, prefix, strlen(prefix));
}

static void test_option_https(void **state)
{
	struct hop h;

	(void)state;
	call_to(true, "tls", NULL);
	h = hop_docs(agent_a, agent_b, "tls");
	assert_json_str_contains(h.a_call, "http.request.url", "https://" B_ADDR "/ok");
	assert_json_str_contains(h.b_seg, "http.request.url", "https://" B_ADDR ":");
	assert_hop(h);
}

static void test_option_zz_stop(void **state)
{
	struct e2e_filter other_b = { .url_contains = e2e_fmt(":%d/relay", relay_port) };
	struct e2e_filter other_a = { .type = "segment", .pred = url_starts,
				      .pred_arg = "http://" B_ADDR ":" };

	(void)state;
	/* each agent saw only its own node's processes */
	e2e_agent_expect_final(agent_b, &other_b, 0);
	e2e_agent_expect_final(agent_a, &other_a, 0);
	e2e_agent_stop(agent_a);
	e2e_agent_stop(agent_b);
	e2e_agent_check_final(agent_a);
	e2e_agent_check_final(agent_b);
	/* plain, amzn, w3c, nosample, after-nosample, tls */
	assert_true(e2e_agent_counter(agent_a, "kernel", "tcpopt_written") >= 6);
	assert_int_equal(e2e_agent_counter(agent_a, "kernel", "tcpopt_nospace"), 0);
	assert_true(e2e_agent_counter(agent_b, "kernel", "tcpopt_parsed") >= 6);
	/* nosample's came with Sampled=0 */
	assert_int_equal(e2e_agent_counter(agent_b, "counters", "links_tcp_option"), 6);
	assert_int_equal(e2e_agent_counter(agent_b, "counters", "sampled_out"), 1);
	assert_int_equal(e2e_agent_counter(agent_a, "counters", "link_ctx_mismatch"), 0);
}

/* ------------------------------------------------------------------------ */
/* Group: no option                                                         */
/* ------------------------------------------------------------------------ */

static int nooption_setup(void **state)
{
	setup(state);
	agent_a = agent_for(ns_a, "--no-tcp-option");
	agent_b = agent_for(ns_b, NULL);
	return 0;
}

static void test_no_option(void **state)
{
	struct hop h;

	(void)state;
	call_through("nooption", NULL);
	h = hop_docs(agent_a, agent_b, "nooption");
	assert_string_not_equal(e2e_json_str(h.b_seg, "trace_id"),
				e2e_json_str(h.a_seg, "trace_id"));
	assert_json_absent(h.b_seg, "parent_id");
	e2e_agent_stop(agent_a);
	e2e_agent_stop(agent_b);
	e2e_agent_check_final(agent_a);
	e2e_agent_check_final(agent_b);
	assert_int_equal(e2e_agent_counter(agent_a, "kernel", "tcpopt_written"), 0);
	assert_int_equal(e2e_agent_counter(agent_b, "counters", "links_tcp_option"), 0);
}

/* ------------------------------------------------------------------------ */
/* Group: sampling                                                          */
/* ------------------------------------------------------------------------ */

#define SAMPLED_CALLS 24

static int sampling_setup(void **state)
{
	const char *rules = e2e_fmt("%s/rules.json", e2e_tmpdir());
	const char *json = "{\"version\":2,\"rules\":[],"
			   "\"default\":{\"fixed_target\":0,\"rate\":0.5}}";

	setup(state);
	e2e_write_file(rules, json, strlen(json));
	agent_a = e2e_agent_startl("--netns", e2e_netns_path(ns_a), "--link-wait", "250",
				   "--sampling-rules", rules, NULL);
	agent_b = e2e_agent_startl("--netns", e2e_netns_path(ns_b), "--link-wait", "250",
				   "--sampling-rules", rules, NULL);
	return 0;
}

static void test_sampling_follows_entry(void **state)
{
	int kept = 0, dropped = 0;

	(void)state;
	/* A's agent plans the relay's sampling in the kernel when it reads
	 * the relay's first request; the later ones are decided at their
	 * heads. Bounded: 2 s is ~20 of the agent's turns. */
	call_through("warm", NULL);
	e2e_sleep(2.0);
	for (int i = 0; i < SAMPLED_CALLS; i++)
		call_through(e2e_fmt("smp%02d", i), NULL);
	e2e_agent_stop(agent_a);
	e2e_agent_stop(agent_b);
	e2e_agent_check_final(agent_a);
	e2e_agent_check_final(agent_b);
	for (int i = 0; i < SAMPLED_CALLS; i++) {
		struct e2e_filter fb = { .type = "segment",
					 .url_contains = e2e_fmt("t=smp%02d", i) };
		struct e2e_filter fa = { .type = "segment",
					 .url_contains = e2e_fmt("t%%3Dsmp%02d", i) };
		json_t *b = e2e_docs_filter(e2e_agent_docs(agent_b), &fb);
		json_t *a = e2e_docs_filter(e2e_agent_docs(agent_a), &fa);

		if (json_array_size(a) > 1 || json_array_size(a) != json_array_size(b))
			fail_msg("smp%02d: A wrote %zu segments, B %zu", i, json_array_size(a),
				 json_array_size(b));
		if (json_array_size(a)) {
			assert_json_str(json_array_get(b, 0), "trace_id",
					e2e_json_str(json_array_get(a, 0), "trace_id"));
			kept++;
		} else {
			dropped++;
		}
	}
	/* both outcomes, at rate 0.5 (each missing: 2^-24) */
	assert_true(kept > 0);
	assert_true(dropped > 0);
	/* the kernel decided each: the sampled ones reached A's agent, the
	 * others it kept back there */
	assert_true(e2e_agent_counter(agent_a, "counters", "sampled_in_kernel") >= kept);
	assert_true(e2e_agent_counter(agent_a, "kernel", "muted") +
			    e2e_agent_counter(agent_a, "counters", "muted_here") >=
		    dropped);
	/* B followed every decision: its sampler drew at most for the
	 * warm-up, which left A before A's agent had planned the relay */
	assert_true(e2e_agent_counter(agent_b, "counters", "sampler_dropped") <= 1);
	assert_true(e2e_agent_unsampled(agent_b) >= dropped);
}

int main(void)
{
	const struct CMUnitTest option[] = {
		cmocka_unit_test_setup_teardown(test_option, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_option_amzn_header, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_option_traceparent, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_option_unsampled, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_option_https, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_option_zz_stop, e2e_test_setup,
						e2e_test_teardown),
	};
	const struct CMUnitTest nooption[] = {
		cmocka_unit_test_setup_teardown(test_no_option, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest sampling[] = {
		cmocka_unit_test_setup_teardown(test_sampling_follows_entry, e2e_test_setup,
						e2e_test_teardown),
	};
	int failed = 0;

	if (e2e_group_wanted("option"))
		failed += cmocka_run_group_tests_name("option", option, option_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("nooption"))
		failed += cmocka_run_group_tests_name("nooption", nooption, nooption_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("sampling"))
		failed += cmocka_run_group_tests_name("sampling", sampling, sampling_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
