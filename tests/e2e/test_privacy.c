/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What leaves xtap of a request that carries secrets: Authorization, Cookie,
 * an API key, a query token and a body going in, Set-Cookie and a body
 * coming back. None of them may appear in anything xtap writes: the
 * documents (-o file, stdout, the daemon's datagrams), the agent's log at
 * its default verbosity, the endpoint's /segments, /conns, /status and
 * /metrics, and `xtap trace` in its four forms (lines, -j, --raw, --raw -j).
 * The agent and the traces run with --redact-query, so the query's value is
 * a secret too; each output must still show the exchange (its redacted URL,
 * or in --raw its masked fields), so a capture that saw nothing fails.
 *   build/tests/test_privacy */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* Every secret starts so: one search finds them all. */
#define MARK "xtapSecret"
#define SERVER_PY                                                                        \
	"import http.server, sys\n"                                                      \
	"class H(http.server.BaseHTTPRequestHandler):\n"                                 \
	"    protocol_version = 'HTTP/1.1'\n"                                            \
	"    def do_POST(self):\n"                                                       \
	"        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"          \
	"        body = b'welcome " MARK "RespBody6'\n"                                  \
	"        self.send_response_only(200)\n"                                         \
	"        self.send_header('Set-Cookie', 'session=" MARK "SetCookie3; HttpOnly')\n" \
	"        self.send_header('Content-Length', str(len(body)))\n"                   \
	"        self.end_headers()\n"                                                   \
	"        self.wfile.write(body)\n"                                               \
	"    def log_message(self, *args):\n"                                            \
	"        pass\n"                                                                 \
	"http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
#define PATH "/login?token=" MARK "Query4&page=2"
#define REDACTED "/login?token=&page="
#define WAIT 20.0

static int port;
static struct e2e_proc *server;
static struct e2e_agent *agent;
static struct e2e_proc *traces[4];
static const char *const trace_forms[4][2] = {
	{ NULL }, { "-j", NULL }, { "--raw", NULL }, { "--raw", "-j" },
};

static int setup(void **state)
{
	const char *argv[] = { "python3", "-c", SERVER_PY, NULL, NULL };

	e2e_group_setup(state);
	port = e2e_free_port();
	argv[3] = e2e_fmt("%d", port);
	server = e2e_spawnv(argv);
	e2e_wait_port(port, server, 20);
	{
		const char *args[] = { "--port", e2e_fmt("%d", port), "--redact-query", NULL };
		struct e2e_agent_opts o = { .args = args, .keep_stdout = true };

		agent = e2e_agent_start(&o);
	}
	for (int i = 0; i < 4; i++) {
		const char *args[] = { "--port", e2e_fmt("%d", port), "--redact-query",
				       trace_forms[i][0], trace_forms[i][1], NULL };

		traces[i] = e2e_trace_start(args);
	}
	return 0;
}

/* Fail when text holds any secret; name the output and show the line. */
static void assert_clean(const char *what, const char *text)
{
	const char *hit = text ? strstr(text, MARK) : NULL;

	if (hit) {
		const char *b = hit, *e = strchr(hit, '\n');

		while (b > text && b[-1] != '\n')
			b--;
		fail_msg("%s shows a secret:\n%.*s", what, (int)(e ? e - b : (long)strlen(b)), b);
	}
}

/* GET path from the agent's endpoint: the body (a 2xx status only). */
static const char *endpoint(const char *path)
{
	const char *argv[] = { "curl", "-sSf", "--max-time", "10",
			       e2e_fmt("http://127.0.0.1:%d%s", agent->metrics_port, path), NULL };
	struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&so, 20);

	if (r.status)
		fail_msg("GET %s: exit %d: %s", path, r.status, r.err);
	return r.out;
}

static void test_secrets_stay(void **state)
{
	struct e2e_filter seg = { .type = "segment", .url_contains = REDACTED };
	struct e2e_filter sub = { .type = "subsegment", .method = "POST",
				  .url_contains = "127.0.0.1/login" };
	struct e2e_run r;
	const char *out, *s;

	(void)state;
	/* no User-Agent or Accept: the secrets come first, inside what --raw
	 * previews of a record */
	r = e2e_curl("-X", "POST", "-H", "User-Agent:", "-H", "Accept:", "-H",
		     "Authorization: Bearer " MARK "Auth1", "-H",
		     "Cookie: sid=" MARK "Cookie2; theme=dark", "-H", "X-Api-Key: " MARK "ApiKey7",
		     "--data", "password=" MARK "ReqBody5", e2e_url(port, PATH), NULL);
	if (r.status || strncmp(r.out, "200 ", 4))
		fail_msg("curl: exit %d, %s%s", r.status, r.out, r.err);
	/* the server's segment with the query's values gone; curl's
	 * subsegment has no query at all */
	e2e_agent_expect_docs(agent, &seg, 1, WAIT);
	e2e_agent_expect_docs(agent, &sub, 1, WAIT);
	e2e_sleep(0.5);

	s = endpoint("/segments");
	assert_non_null(strstr(s, REDACTED));
	assert_clean("/segments", s);
	assert_clean("/conns", endpoint("/conns"));
	assert_clean("/status", endpoint("/status"));
	assert_clean("/metrics", endpoint("/metrics"));

	for (int i = 0; i < 4; i++) {
		const char *form = e2e_fmt("xtap trace --redact-query %s %s",
					   trace_forms[i][0] ? trace_forms[i][0] : "",
					   trace_forms[i][1] ? trace_forms[i][1] : "");

		assert_int_equal(e2e_proc_stop(traces[i], 10), 0);
		out = e2e_proc_out(traces[i]);
		assert_clean(form, out);
		assert_clean(e2e_fmt("%s (stderr)", form), e2e_proc_err(traces[i]));
		if (i < 2 && !strstr(out, REDACTED))
			fail_msg("%s: no line with %s:\n%s", form, REDACTED, out);
		/* --raw: the records were seen, their fields masked */
		if (i >= 2 && (!strstr(out, "Authorization:*") || !strstr(out, "Set-Cookie:*") ||
			       !strstr(out, "/login?token=**")))
			fail_msg("%s: the masked records are missing:\n%s", form, out);
	}

	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
	assert_clean("the -o file", e2e_read_file(agent->out_path, NULL));
	out = e2e_proc_out(agent->proc);
	assert_non_null(strstr(out, REDACTED));
	assert_clean("the agent's stdout", out);
	out = e2e_json_dump(e2e_agent_udp_docs(agent));
	assert_non_null(strstr(out, REDACTED));
	assert_clean("the daemon's datagrams", out);
	assert_clean("the agent's log", e2e_agent_log(agent));
	assert_non_null(strstr(e2e_agent_log(agent), "xtap: ready:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_stay),
	};

	return cmocka_run_group_tests_name("privacy", tests, setup, e2e_group_teardown);
}
