// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End-to-end trace links on one node: curl → A (python, a thread per
 * request) → B (Go net/http) → C (nginx), all on 127.0.0.1, none of them
 * aware of tracing.
 *   chain         one trace id across the six documents; each segment's
 *                 parent is the caller's subsegment, each subsegment's
 *                 parent the segment of the request it served; children
 *                 inside their parents in time; traced: true on calls that
 *                 reached a traced service; the service graph's edges;
 *   header        an incoming X-Amzn-Trace-Id roots the whole chain;
 *   unsampled     Sampled=0 at the entry: nothing downstream either;
 *   event loop    node with one request in flight: its call is linked; with
 *                 two in flight, the calls are ambiguous: each becomes a
 *                 segment of its own (counted), and nginx's segments hang
 *                 under those calls;
 *   goroutines    Go with two requests in flight: each call is linked to
 *                 its own request all the same (net/http probes).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_WAIT 15.0

static struct e2e_peer *relay, *gos, *ngx;

static int setup(void **state)
{
	e2e_group_setup(state);
	relay = e2e_peer_relay();
	gos = e2e_peer_go();
	ngx = e2e_peer_nginx();
	return 0;
}

static struct e2e_agent *agent_on(const struct e2e_peer *extra)
{
	return e2e_agent_startl("--port", e2e_fmt("%d", relay->port), "--port",
				e2e_fmt("%d", gos->port), "--port", e2e_fmt("%d", ngx->port),
				"--port", e2e_fmt("%d", extra ? extra->port : ngx->port), NULL);
}

/* Percent-encode s for a query value (scope-owned). */
static const char *qenc(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	assert_non_null(out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	s = e2e_fmt("%s", out);
	free(out);
	return s;
}

/* The chain's entry URL for nginx path /static/hello.txt?t=tag. */
static const char *chain_url(const char *tag)
{
	const char *c = e2e_url(ngx->port, e2e_fmt("/static/hello.txt?t=%s", tag));
	const char *b = e2e_url(gos->port, e2e_fmt("/fetch?url=%s", qenc(c)));

	return e2e_url(relay->port, e2e_fmt("/relay?url=%s", qenc(b)));
}

struct chain {
	json_t *curl_sub, *a_seg, *a_sub, *b_seg, *b_sub, *c_seg;
};

/* Run the chain once with extra curl args; returns its six documents, all
 * of one trace id (and only those: exactly six carry it). */
static struct chain run_chain(struct e2e_agent *a, const char *tag, const char *hdr)
{
	struct e2e_filter fc = { .type = "segment", .url_contains = e2e_fmt("t=%s", tag) };
	struct e2e_run r = hdr ? e2e_curl(chain_url(tag), "-H", hdr, NULL) :
				 e2e_curl(chain_url(tag), NULL);
	struct e2e_filter ft = { .pred = e2e_has_trace_id };
	struct e2e_filter f;
	struct chain ch;
	json_t *docs;

	if (r.status != 0 || strncmp(r.out, "200", 3))
		fail_msg("curl %s: exit %d, '%s'\n%s", chain_url(tag), r.status, r.out, r.err);
	ch.c_seg = json_array_get(e2e_agent_expect_docs(a, &fc, 1, DOC_WAIT), 0);
	ft.pred_arg = e2e_json_str(ch.c_seg, "trace_id");
	assert_non_null(ft.pred_arg);
	docs = e2e_agent_expect_docs(a, &ft, 6, DOC_WAIT);

	f = (struct e2e_filter){ .type = "subsegment", .pid = r.pid };
	ch.curl_sub = e2e_one_doc(docs, &f);
	f = (struct e2e_filter){ .type = "segment", .port = relay->port };
	ch.a_seg = e2e_one_doc(docs, &f);
	f = (struct e2e_filter){ .type = "subsegment", .pid = relay->server_pid };
	ch.a_sub = e2e_one_doc(docs, &f);
	f = (struct e2e_filter){ .type = "segment", .port = gos->port };
	ch.b_seg = e2e_one_doc(docs, &f);
	f = (struct e2e_filter){ .type = "subsegment", .pid = gos->server_pid };
	ch.b_sub = e2e_one_doc(docs, &f);
	assert_json_str(ch.a_seg, "name", relay->comm);
	assert_json_str(ch.b_seg, "name", gos->comm);
	assert_json_str(ch.c_seg, "name", ngx->comm);
	assert_json_str(ch.a_sub, "http.request.url", "http://127.0.0.1/fetch");
	assert_json_str(ch.b_sub, "http.request.url", "http://127.0.0.1/static/hello.txt");
	return ch;
}

/* The links inside the chain, from A's segment down. */
static void check_links(const struct chain *ch)
{
	/* edges of the service graph: A → B → C through the calls */
	e2e_assert_parent(ch->a_sub, ch->a_seg);
	e2e_assert_parent(ch->b_seg, ch->a_sub);
	e2e_assert_parent(ch->b_sub, ch->b_seg);
	e2e_assert_parent(ch->c_seg, ch->b_sub);
	e2e_assert_inside(ch->a_sub, ch->a_seg);
	e2e_assert_inside(ch->b_sub, ch->b_seg);
	/* a callee's segment starts after its caller's request began and ends
	 * before the caller saw the response end */
	e2e_assert_inside(ch->b_seg, ch->a_sub);
	e2e_assert_inside(ch->c_seg, ch->b_sub);
	assert_json_true(ch->a_sub, "traced");
	assert_json_true(ch->b_sub, "traced");
	assert_json_int(ch->c_seg, "http.response.status", 200);
	assert_json_int(ch->a_seg, "http.response.status", 200);
}

static void test_chain(void **state)
{
	struct e2e_agent *a = agent_on(NULL);
	struct chain ch;

	(void)state;
	ch = run_chain(a, "chain", NULL);
	assert_trace_id(ch.a_seg, "trace_id");
	/* curl's call is the entry: A's request came from it */
	e2e_assert_parent(ch.a_seg, ch.curl_sub);
	e2e_assert_inside(ch.a_seg, ch.curl_sub);
	assert_json_true(ch.curl_sub, "traced");
	check_links(&ch);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "links_call"), 2);
	assert_int_equal(e2e_agent_counter(a, "counters", "links_node"), 3);
	assert_int_equal(e2e_agent_counter(a, "counters", "link_ambiguous"), 0);
}

static const char *now_root(void)
{
	return e2e_fmt("1-%08lx-%s", (unsigned long)time(NULL), "0123456789abcdef01234567");
}

static void test_chain_header(void **state)
{
	struct e2e_agent *a = agent_on(NULL);
	const char *root = now_root();
	struct chain ch;

	(void)state;
	ch = run_chain(a, "hdr",
		       e2e_fmt("X-Amzn-Trace-Id: Root=%s;Parent=53995c3f42cd8ad8;Sampled=1", root));
	assert_json_str(ch.a_seg, "trace_id", root);
	assert_json_str(ch.a_seg, "parent_id", "53995c3f42cd8ad8");
	/* A's segment names the header's Parent, not curl's call: that call
	 * is not marked traced, or X-Ray would wait for its child */
	assert_json_absent(ch.curl_sub, "traced");
	check_links(&ch);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

static void test_chain_unsampled(void **state)
{
	struct e2e_agent *a = agent_on(NULL);
	const char *root = now_root();
	struct e2e_filter ft = { .pred = e2e_has_trace_id, .pred_arg = root };
	struct e2e_filter tag = { .url_contains = "t=unsampled" };
	struct e2e_run r;

	(void)state;
	r = e2e_curl(chain_url("unsampled"), "-H",
		     e2e_fmt("X-Amzn-Trace-Id: Root=%s;Parent=53995c3f42cd8ad8;Sampled=0", root),
		     NULL);
	if (r.status != 0 || strncmp(r.out, "200", 3))
		fail_msg("curl: exit %d, '%s'\n%s", r.status, r.out, r.err);
	/* a sampled chain after it: once it is out, the first one would be too */
	run_chain(a, "after-unsampled", NULL);
	assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &ft), 0);
	assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &tag), 0);
	assert_int_equal(e2e_agent_stop(a), 0);
	assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &ft), 0);
	/* curl's call, A, A's call, B, B's call, C */
	assert_int_equal(e2e_agent_unsampled(a), 6);
}

/* node: an event loop, one thread for every request */
static void test_event_loop(void **state)
{
	struct e2e_peer *nd = e2e_peer_node();
	struct e2e_agent *a = agent_on(nd);
	const char *target = e2e_url(ngx->port, "/static/hello.txt?t=loop1");
	struct e2e_filter fn = { .type = "segment", .url_contains = "t=loop1" };
	struct e2e_filter fs = { .type = "subsegment", .pid = nd->server_pid };
	struct e2e_filter fa = { .type = "segment", .port = nd->port };
	struct e2e_run r;
	json_t *c_seg, *sub, *seg;

	(void)state;
	r = e2e_curl(e2e_url(nd->port, e2e_fmt("/call?url=%s", qenc(target))), NULL);
	if (r.status != 0 || strncmp(r.out, "200", 3))
		fail_msg("curl: exit %d, '%s'\n%s", r.status, r.out, r.err);
	c_seg = json_array_get(e2e_agent_expect_docs(a, &fn, 1, DOC_WAIT), 0);
	sub = json_array_get(e2e_agent_expect_docs(a, &fs, 1, DOC_WAIT), 0);
	seg = json_array_get(e2e_agent_expect_docs(a, &fa, 1, DOC_WAIT), 0);
	e2e_assert_parent(sub, seg);
	e2e_assert_parent(c_seg, sub);
	assert_json_str(sub, "trace_id", e2e_json_str(seg, "trace_id"));
	assert_json_str(c_seg, "trace_id", e2e_json_str(seg, "trace_id"));
	e2e_assert_inside(sub, seg);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "link_ambiguous"), 0);
}

/* the node segment written for an ambiguous call whose embedded
 * subsegment has id `arg` */
static bool embeds(json_t *doc, const void *arg)
{
	json_t *subs = e2e_json_get(doc, "subsegments");
	const char *id = e2e_json_str(json_array_get(subs, 0), "id");

	return json_array_size(subs) == 1 && id && !strcmp(id, arg);
}

static void test_event_loop_ambiguous(void **state)
{
	struct e2e_peer *nd = e2e_peer_node();
	struct e2e_agent *a = agent_on(nd);
	const char *target = e2e_url(ngx->port, "/static/hello.txt?t=amb");
	const char *url =
		e2e_url(nd->port, e2e_fmt("/call?ms=400&hold=400&url=%s", qenc(target)));
	const char *argv[] = { "curl", "-sS", "--max-time", "10", "-o", "/dev/null", url, NULL };
	struct e2e_filter fn = { .type = "segment", .url_contains = "t=amb" };
	struct e2e_filter fa = { .type = "segment", .port = nd->port };
	struct e2e_proc *c1, *c2;
	json_t *c_segs, *d;
	size_t i;

	(void)state;
	/* both requests are in flight when the calls begin, 400 ms later,
	 * and until 400 ms after they end */
	c1 = e2e_spawnv(argv);
	c2 = e2e_spawnv(argv);
	assert_int_equal(e2e_proc_wait(c1, 20), 0);
	assert_int_equal(e2e_proc_wait(c2, 20), 0);
	c_segs = e2e_agent_expect_docs(a, &fn, 2, DOC_WAIT);
	e2e_agent_expect_docs(a, &fa, 2, DOC_WAIT);
	json_array_foreach(c_segs, i, d) {
		struct e2e_filter fw = { .type = "segment", .pred = embeds,
					 .pred_arg = e2e_json_str(d, "parent_id") };
		json_t *w = json_array_get(e2e_agent_expect_docs(a, &fw, 1, DOC_WAIT), 0);
		json_t *call = json_array_get(e2e_json_get(w, "subsegments"), 0);

		/* a segment of the calling service, the call inside it */
		assert_json_str(w, "name", nd->comm);
		assert_json_str(w, "trace_id", e2e_json_str(d, "trace_id"));
		assert_json_int(w, "metadata.xtap.pid", nd->server_pid);
		assert_json_str(call, "namespace", "remote");
		assert_json_str(call, "http.request.url", "http://127.0.0.1/static/hello.txt");
		assert_json_int(call, "http.response.status", 200);
		assert_json_true(call, "traced");
		assert_json_absent(call, "type");
		e2e_assert_inside(d, call);
	}
	/* and no independent subsegment from node */
	{
		struct e2e_filter fs = { .type = "subsegment", .pid = nd->server_pid };

		assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &fs), 0);
	}
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "link_ambiguous"), 2);
}

/* Go serves two requests at once, and their calls are written by the
 * transport's goroutines on any thread: the goroutine probes still link
 * each call to its own request, nothing is ambiguous. */
static void test_go_goroutines(void **state)
{
	struct e2e_agent *a = agent_on(NULL);
	static const char *const tags[] = { "g1", "g2" };
	struct e2e_proc *c[2];
	const char *urls[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		const char *target = e2e_url(ngx->port, e2e_fmt("/static/hello.txt?t=%s", tags[i]));

		urls[i] = e2e_url(gos->port, e2e_fmt("/fetch?wait=400&url=%s", qenc(target)));
	}
	/* both requests are in flight when either call begins */
	for (int i = 0; i < 2; i++)
		c[i] = e2e_spawnv((const char *const[]){ "curl", "-sS", "--max-time", "10", "-o",
							 "/dev/null", urls[i], NULL });
	for (int i = 0; i < 2; i++)
		assert_int_equal(e2e_proc_wait(c[i], 20), 0);
	for (int i = 0; i < 2; i++) {
		struct e2e_filter fn = { .type = "segment", .port = ngx->port,
					 .url_contains = e2e_fmt("t=%s", tags[i]) };
		struct e2e_filter fg = { .type = "segment", .port = gos->port,
					 .url_contains = e2e_fmt("t%%3D%s", tags[i]) };
		struct e2e_filter fc = { .type = "subsegment", .pid = gos->server_pid,
					 .pred = e2e_has_trace_id };
		json_t *n = json_array_get(e2e_agent_expect_docs(a, &fn, 1, DOC_WAIT), 0);
		json_t *g = json_array_get(e2e_agent_expect_docs(a, &fg, 1, DOC_WAIT), 0);
		json_t *call;

		fc.pred_arg = e2e_json_str(g, "trace_id");
		assert_non_null(fc.pred_arg);
		call = json_array_get(e2e_agent_expect_docs(a, &fc, 1, DOC_WAIT), 0);
		e2e_assert_parent(call, g);
		e2e_assert_parent(n, call);
		assert_json_str(n, "trace_id", e2e_json_str(g, "trace_id"));
		assert_json_str(call, "http.request.url", "http://127.0.0.1/static/hello.txt");
		e2e_assert_inside(call, g);
	}
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "link_ambiguous"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_chain_header, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_chain_unsampled, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_event_loop, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_event_loop_ambiguous, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_go_goroutines, e2e_test_setup,
						e2e_test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, e2e_group_teardown);
}
