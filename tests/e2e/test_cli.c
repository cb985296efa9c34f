/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The operator's CLI against the real kernel: probe, trace (lines checked
 * field by field against known curl requests, JSON, filters, --raw, beside
 * a running agent), status and dump against a running agent, the agent's
 * endpoint (/healthz, /metrics, its address options), usage errors, the man
 * page and the bash completion.
 *   E2E_GROUPS=cli,trace,agent build/tests/test_cli */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define TRACE_ID "1-5759e988-bd862e3fe1be46a994272793"
#define PARENT_ID "53995c3f42cd8ad8"
#define TRACE_HDR "X-Amzn-Trace-Id: Root=" TRACE_ID ";Parent=" PARENT_ID ";Sampled=1"
#define WAIT 20.0

/* ---- running xtap ---- */

static struct e2e_run xtapv(const char *const *env, const char *const *args)
{
	const char *argv[64];
	struct e2e_spawn_opts so = { .argv = argv, .env = env, .split_stderr = true };
	size_t n = 0;

	argv[n++] = e2e_xtap_bin();
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return e2e_run_cmd(&so, 60);
}

#define XTAP(...) xtapv(NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define XTAP_ENV(env, ...) xtapv(env, (const char *const[]){ __VA_ARGS__, NULL })

/* Parse stdout as one JSON value; fail with the output otherwise. */
static json_t *json_out(struct e2e_run r)
{
	json_error_t je;
	json_t *v;

	if (r.status)
		fail_msg("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.status, r.out, r.err);
	v = json_loads(r.out, 0, &je);
	if (!v)
		fail_msg("stdout is not one JSON value (%s):\n%s", je.text, r.out);
	/* scope-owned: the harness's array holds the only reference */
	{
		json_t *tmp = json_pack("[o]", v), *owned = e2e_docs_filter(tmp, NULL);

		json_decref(tmp);
		return json_array_get(owned, 0);
	}
}

/* An error: the exit code and exactly one line on stderr containing what. */
static void assert_error(struct e2e_run r, int code, const char *what)
{
	size_t n = strlen(r.err);

	if (r.status != code || !n || r.err[n - 1] != '\n' || strchr(r.err, '\n') != r.err + n - 1 ||
	    !strstr(r.err, what) || strncmp(r.err, "xtap: ", 6))
		fail_msg("want exit %d and one line with \"%s\"; got exit %d\n--- stderr:\n%s", code,
			 what, r.status, r.err);
}

#define TRACE(...) e2e_trace_start((const char *const[]){ __VA_ARGS__, NULL })

/* Wait for trace to exit on its own (-c), 0; its stdout. */
static const char *trace_wait(struct e2e_proc *p)
{
	int rc = e2e_proc_wait(p, WAIT);

	if (rc)
		fail_msg("xtap trace exited %d\n--- stdout:\n%s\n--- stderr:\n%s", rc,
			 e2e_proc_out(p), e2e_proc_err(p));
	return e2e_proc_out(p);
}

/* The lines of s (scope-owned copies). */
static int split_lines(const char *s, char **out, int max)
{
	char *copy = (char *)e2e_fmt("%s", s), *save = NULL;
	int n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
		out[n++] = l;
	return n;
}

static int split_fields(char *line, char **out, int max)
{
	char *save = NULL;
	int n = 0;

	for (char *f = strtok_r(line, " ", &save); f && n < max; f = strtok_r(NULL, " ", &save))
		out[n++] = f;
	return n;
}

/* "HH:MM:SS.ffffff" local time to seconds since local midnight */
static double clock_secs(const char *s)
{
	int h, m;
	double sec;

	if (sscanf(s, "%d:%d:%lf", &h, &m, &sec) != 3)
		fail_msg("not a time: %s", s);
	return h * 3600 + m * 60 + sec;
}

static double local_secs(double epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec + (epoch - (double)t);
}

/* "12.345ms", "800us", "1.200s" to seconds */
static double duration_secs(const char *s)
{
	char unit[8] = "";
	double v;

	if (sscanf(s, "%lf%7s", &v, unit) != 2)
		fail_msg("not a duration: %s", s);
	if (!strcmp(unit, "us"))
		return v / 1e6;
	if (!strcmp(unit, "ms"))
		return v / 1e3;
	if (!strcmp(unit, "s"))
		return v;
	fail_msg("unknown unit in %s", s);
	return 0;
}

/* ---- group cli: no agent ---- */

static void test_usage(void **state)
{
	static const char *const verbs[] = { "run", "trace", "probe", "status", "dump", "version" };
	struct e2e_run r, help;

	(void)state;
	help = XTAP("--help");
	assert_int_equal(help.status, 0);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		assert_non_null(strstr(help.out, e2e_fmt("\n  %s ", verbs[i])));
		r = XTAP(verbs[i], "--help");
		if (r.status || !strstr(r.out, e2e_fmt("Usage: xtap %s", verbs[i])))
			fail_msg("xtap %s --help: exit %d\n%s%s", verbs[i], r.status, r.out, r.err);
	}
	r = XTAP("dump", "conns", "--help");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "Usage: xtap dump conns"));
	r = XTAP("dump", "help");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "segments"));
	assert_error(XTAP("bogus"), 2, "unknown command 'bogus' (try: xtap help)");
	assert_error(XTAP("status", "--bogus"), 2, "'--bogus'");
	assert_error(XTAP("dump", "nope"), 2, "unknown dump object 'nope'");
	assert_error(XTAP("dump", "segments", "-n", "65"), 2, "1..64");
	assert_error(XTAP("trace", "--status", "9xx"), 2, "--status '9xx'");
	assert_error(XTAP("trace", "--min-duration", "fast"), 2, "--min-duration 'fast'");
	assert_error(XTAP("trace", "--raw", "--status", "5xx"), 2, "--raw shows records");
	assert_error(XTAP("trace", "--comm", "a-name-longer-than-15"), 2, "--comm");
	assert_error(XTAP("trace", "extra"), 2, "unexpected argument 'extra'");
	assert_error(XTAP("run", "--metrics-address", "9710"), 2, "--metrics-address '9710'");
	r = xtapv(NULL, (const char *const[]){ NULL });
	assert_int_equal(r.status, 2);
	/* prefixes name verbs and dump objects */
	r = XTAP("ver", "-j");
	{
		json_t *v = json_out(r);

		assert_non_null(json_string_value(json_object_get(v, "version")));
		assert_non_null(strchr(json_string_value(json_object_get(v, "libbpf")), '.'));
	}
	r = XTAP("version");
	assert_int_equal(r.status, 0);
	assert_memory_equal(r.out, "xtap ", 5);
	assert_non_null(strstr(r.out, "\nlibbpf "));
}

static void test_probe(void **state)
{
	struct utsname u;
	json_t *p, *f, *progs, *x;
	struct e2e_run r;
	size_t i, used = 0;

	(void)state;
	uname(&u);
	p = json_out(XTAP("probe", "-j"));
	assert_json_str(p, "kernel.release", u.release);
	f = json_object_get(p, "features");
	/* what it says agrees with what the system shows */
	assert_int_equal(json_is_true(e2e_json_get(f, "btf.available")),
			 access("/sys/kernel/btf/vmlinux", F_OK) == 0);
	assert_int_equal(json_is_true(e2e_json_get(f, "kprobes.available")),
			 access("/sys/bus/event_source/devices/kprobe", F_OK) == 0);
	/* what run needs works here: the other tests depend on it */
	assert_json_true(f, "syscall_tracepoints.available");
	assert_json_true(f, "raw_tracepoints.available");
	assert_json_true(f, "ringbuf.available");
	assert_json_true(f, "tracefs.available");
	assert_json_true(f, "uprobes.available");
	assert_json_true(f, "sockops.available");
	assert_json_true(f, "cgroup_v2.available");
	/* fentry: whichever way, a verdict with a reason */
	assert_true(json_is_boolean(e2e_json_get(f, "fentry.available")));
	assert_true(strlen(e2e_json_str(f, "fentry.detail")) > 5);
	if (!json_is_true(e2e_json_get(f, "kprobes.available")))
		assert_json_str_contains(f, "kprobes.detail", "kprobe");
	assert_json_true(p, "capabilities.CAP_BPF");
	assert_json_true(p, "run.ready");
	assert_json_true(p, "run.capture.available");
	progs = e2e_json_get(p, "run.programs");
	json_array_foreach(progs, i, x) {
		assert_non_null(json_string_value(json_object_get(x, "section")));
		used += json_is_true(json_object_get(x, "use"));
	}
	assert_true(used >= 20);
	assert_true(json_array_size(e2e_json_get(p, "run.why")) >= 2);

	r = XTAP("probe");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "run can start here"));
	assert_non_null(strstr(r.out, "  syscall tracepoints    yes: "));
	r = XTAP("pro", "-p");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "{\n  \""));
}

/* Long options a verb's --help lists: the lines that start with one
 * ("      --name ..." or "  -x, --name ..."). */
static int help_options(const char *verb, const char **out, int max)
{
	struct e2e_run r = XTAP(verb, "--help");
	char *lines[128];
	int n = 0, nl = split_lines(r.out, lines, 128);

	for (int i = 0; i < nl && n < max; i++) {
		const char *s = lines[i];
		size_t len = 2;

		while (*s == ' ')
			s++;
		if (s[0] == '-' && s[1] != '-' && s[2] == ',' && s[3] == ' ')
			s += 4;
		if (s == lines[i] || strncmp(s, "--", 2))
			continue;
		while (s[len] == '-' || (s[len] >= 'a' && s[len] <= 'z'))
			len++;
		out[n++] = e2e_fmt("%.*s", (int)len, s);
	}
	return n;
}

/* The man page and the completion know every option of every verb. */
static void test_docs(void **state)
{
	static const char *const verbs[] = { "trace", "status", "probe", "version" };
	const char *man = e2e_read_file("docs/xtap.8", NULL);
	const char *bash = e2e_require_bin("bash");
	struct e2e_run r;

	(void)state;
	assert_non_null(man);
	e2e_require_bin("groff");
	{
		const char *argv[] = { "groff", "-man", "-Tutf8", "-ww", "-z", "docs/xtap.8", NULL };
		struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };

		r = e2e_run_cmd(&so, 30);
		if (r.status || *r.err)
			fail_msg("docs/xtap.8 does not render cleanly:\n%s", r.err);
	}
	if (access("/usr/share/bash-completion/bash_completion", F_OK))
		fail_msg("bash-completion is not installed: deploy/install-deps.sh --test installs it");
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		const char *opts[64];
		int n = help_options(verbs[v], opts, 64);
		const char *script;

		assert_true(n >= 4);
		script = e2e_fmt("source /usr/share/bash-completion/bash_completion; "
				 "source deploy/bash-completion/xtap; "
				 "COMP_WORDS=(xtap %s --); COMP_CWORD=2; COMP_LINE='xtap %s --'; "
				 "COMP_POINT=${#COMP_LINE}; _xtap; printf '%%s\\n' \"${COMPREPLY[@]}\"",
				 verbs[v], verbs[v]);
		{
			const char *argv[] = { bash, "-c", script, NULL };
			struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };

			r = e2e_run_cmd(&so, 30);
		}
		assert_int_equal(r.status, 0);
		for (int i = 0; i < n; i++) {
			char esc[160];
			size_t k = 0;

			/* the man page writes '-' as '\-' */
			for (const char *q = opts[i]; *q && k + 3 < sizeof(esc); q++) {
				if (*q == '-')
					esc[k++] = '\\';
				esc[k++] = *q;
			}
			esc[k] = '\0';
			if (!strstr(man, esc))
				fail_msg("docs/xtap.8 does not document xtap %s %s", verbs[v], opts[i]);
			if (!strstr(r.out, e2e_fmt("%s\n", opts[i])))
				fail_msg("the completion does not offer xtap %s %s:\n%s", verbs[v],
					 opts[i], r.out);
		}
	}
	assert_non_null(strstr(man, "\\-\\-metrics\\-address"));
}

/* ---- group trace: its own programs, real servers ---- */

static struct e2e_peer *py, *go;

static int trace_group_setup(void **state)
{
	e2e_group_setup(state);
	py = e2e_peer_python();
	go = e2e_peer_go();
	return 0;
}

/* The transaction line of a known curl request, field by field. */
static void test_trace_line(void **state)
{
	struct e2e_proc *t = TRACE("--port", e2e_fmt("%d", py->port), "-c", "2");
	char *lines[8], *f[16];
	struct e2e_run c;
	int n, server = -1, client = -1;

	(void)state;
	c = e2e_curl(e2e_url(py->port, "/hello.txt?t=line"), "-H", TRACE_HDR, NULL);
	assert_int_equal(c.status, 0);
	n = split_lines(trace_wait(t), lines, 8);
	if (n != 3)
		fail_msg("want the header and 2 lines:\n%s", e2e_proc_out(t));
	assert_memory_equal(lines[0], "TIME ", 5);
	for (int i = 1; i < 3; i++) {
		if (strstr(lines[i], " in "))
			server = i;
		else if (strstr(lines[i], " out "))
			client = i;
	}
	if (server < 0 || client < 0)
		fail_msg("want one 'in' and one 'out' line:\n%s", e2e_proc_out(t));

	assert_int_equal(split_fields(lines[server], f, 16), 8);
	assert_true(clock_secs(f[0]) >= local_secs(c.t0) - 1 && clock_secs(f[0]) <= local_secs(c.t1) + 1);
	assert_string_equal(f[1], e2e_fmt("%s[%d]", py->comm, py->server_pid));
	assert_string_equal(f[2], "in");
	assert_string_equal(f[3], "GET");
	assert_string_equal(f[4], e2e_fmt("http://127.0.0.1:%d/hello.txt?t=line", py->port));
	assert_string_equal(f[5], "200");
	assert_true(duration_secs(f[6]) > 0 && duration_secs(f[6]) <= c.t1 - c.t0);
	assert_string_equal(f[7], TRACE_ID);

	assert_int_equal(split_fields(lines[client], f, 16), 8);
	assert_true(clock_secs(f[0]) >= local_secs(c.t0) - 1 && clock_secs(f[0]) <= local_secs(c.t1) + 1);
	assert_string_equal(f[1], e2e_fmt("curl[%d]", c.pid));
	assert_string_equal(f[2], "out");
	assert_string_equal(f[3], "GET");
	/* as the subsegment writes it: no port, no query */
	assert_string_equal(f[4], "http://127.0.0.1/hello.txt");
	assert_string_equal(f[5], "200");
	assert_true(duration_secs(f[6]) > 0 && duration_secs(f[6]) <= c.t1 - c.t0);
	assert_string_equal(f[7], TRACE_ID);
}

static void test_trace_json(void **state)
{
	struct e2e_proc *t = TRACE("--port", e2e_fmt("%d", py->port), "--comm", "curl", "-j", "-c", "1");
	struct e2e_run c;
	json_error_t je;
	const char *exe;
	json_t *o;

	(void)state;
	/* A second, slow request (not on the traced port) keeps curl alive
	 * until the agent has looked it up: the executable of a process that
	 * exited before then is unknown (null). */
	c = e2e_curl(e2e_url(py->port, "/nothing-here?t=json"), "-H", TRACE_HDR,
		     e2e_url(go->port, "/slow?ms=300"), NULL);
	o = json_loads(trace_wait(t), 0, &je);
	if (!o)
		fail_msg("not one JSON line (%s):\n%s", je.text, e2e_proc_out(t));
	assert_json_int(o, "pid", c.pid);
	assert_json_str(o, "comm", "curl");
	exe = e2e_json_str(o, "exe");
	if (!exe || exe[0] != '/' || strcmp(strrchr(exe, '/'), "/curl"))
		fail_msg("want curl's executable, got %s", exe ? exe : "null");
	assert_json_str(o, "direction", "out");
	assert_json_str(o, "method", "GET");
	assert_json_str(o, "url", "http://127.0.0.1/nothing-here");
	assert_json_int(o, "status", 404);
	assert_json_str(o, "trace_id", TRACE_ID);
	assert_json_str(o, "parent_id", PARENT_ID);
	assert_json_str(o, "peer", e2e_fmt("127.0.0.1:%d", py->port));
	assert_true(json_is_null(json_object_get(o, "pod")));
	assert_true(json_number_value(json_object_get(o, "time")) >= c.t0 - 1);
	assert_true(json_integer_value(json_object_get(o, "duration_ns")) <= (c.t1 - c.t0) * 1e9);
	json_decref(o);
}

/* The request that does not match goes first: with -c 1 the one line
 * shown must be the one that does. */
static void test_trace_filters(void **state)
{
	struct e2e_proc *t;
	char *lines[4], *f[16];
	struct e2e_run c;

	(void)state;
	t = TRACE("--port", e2e_fmt("%d", go->port), "--status", "5xx", "-c", "1");
	c = e2e_curl(e2e_url(go->port, "/ok?t=status"), NULL);
	assert_int_equal(c.status, 0);
	e2e_sleep(0.3);
	e2e_curl(e2e_url(go->port, "/status/503"), NULL);
	assert_int_equal(split_lines(trace_wait(t), lines, 4), 2);
	assert_int_equal(split_fields(lines[1], f, 16), 8);
	assert_non_null(strstr(f[4], "/status/503"));
	assert_string_equal(f[5], "503");

	t = TRACE("--port", e2e_fmt("%d", go->port), "--min-duration", "250ms", "-c", "1");
	e2e_curl(e2e_url(go->port, "/ok?t=fast"), NULL);
	e2e_sleep(0.3);
	e2e_curl(e2e_url(go->port, "/slow?ms=300"), NULL);
	assert_int_equal(split_lines(trace_wait(t), lines, 4), 2);
	assert_int_equal(split_fields(lines[1], f, 16), 8);
	assert_non_null(strstr(f[4], "/slow"));
	assert_true(duration_secs(f[6]) >= 0.3);

	t = TRACE("--port", e2e_fmt("%d", go->port), "--comm", "curl", "--status", "404", "-c", "1");
	e2e_curl(e2e_url(go->port, "/status/404"), NULL); /* both ends match the status */
	assert_int_equal(split_lines(trace_wait(t), lines, 4), 2);
	assert_int_equal(split_fields(lines[1], f, 16), 8);
	assert_memory_equal(f[1], "curl[", 5);
	assert_string_equal(f[2], "out");
}

/* Without Kubernetes metadata, --pod and --namespace match nothing. */
static void test_trace_pod(void **state)
{
	struct e2e_proc *t = TRACE("--port", e2e_fmt("%d", py->port), "--pod", "web-1");
	char *lines[4];

	(void)state;
	assert_int_equal(e2e_curl(e2e_url(py->port, "/hello.txt?t=pod"), NULL).status, 0);
	e2e_sleep(1);
	assert_int_equal(e2e_proc_stop(t, 10), 0);
	assert_int_equal(split_lines(e2e_proc_out(t), lines, 4), 1);
}

static void test_trace_raw(void **state)
{
	struct e2e_proc *t = TRACE("--port", e2e_fmt("%d", py->port), "--raw", "-j");
	bool open_client = false, data_out = false, data_in = false;
	char *lines[256];
	struct e2e_run c;
	int n;

	(void)state;
	c = e2e_curl(e2e_url(py->port, "/hello.txt?t=raw"), NULL);
	e2e_sleep(1);
	assert_int_equal(e2e_proc_stop(t, 10), 0);
	n = split_lines(e2e_proc_out(t), lines, 256);
	for (int i = 0; i < n; i++) {
		json_error_t je;
		json_t *o = json_loads(lines[i], 0, &je);
		const char *type, *data;

		if (!o)
			fail_msg("line %d is not JSON: %s", i, lines[i]);
		type = e2e_json_str(o, "type");
		data = e2e_json_str(o, "data");
		if (!strcmp(type, "open") && e2e_json_num(o, "pid", 0) == c.pid) {
			assert_json_str(o, "role", "client");
			assert_json_str(o, "comm", "curl");
			assert_json_str(o, "peer", e2e_fmt("127.0.0.1:%d", py->port));
			open_client = true;
		}
		if (!strcmp(type, "data") && data && !strncmp(data, "GET /hello.txt?t=raw HTTP/1.1\\r\\n", 32)) {
			if (e2e_json_num(o, "pid", 0) == c.pid) {
				assert_json_str(o, "dir", "out");
				data_out = true;
			} else if (e2e_json_num(o, "pid", 0) == py->server_pid) {
				assert_json_str(o, "dir", "in");
				data_in = true;
			}
		}
		json_decref(o);
	}
	if (!open_client || !data_out || !data_in)
		fail_msg("missing records (open %d, out %d, in %d):\n%s", open_client, data_out, data_in,
			 e2e_proc_out(t));
}

/* trace beside a running agent: both see the same request. */
static void test_trace_beside_agent(void **state)
{
	struct e2e_agent *a = e2e_agent_startl("--port", e2e_fmt("%d", py->port), NULL);
	struct e2e_proc *t = TRACE("--port", e2e_fmt("%d", py->port), "-c", "2");
	struct e2e_filter f = { .url_contains = "?t=both" };
	char *lines[4];

	(void)state;
	assert_int_equal(e2e_curl(e2e_url(py->port, "/hello.txt?t=both"), NULL).status, 0);
	assert_int_equal(split_lines(trace_wait(t), lines, 4), 3);
	assert_non_null(strstr(lines[1], "?t=both") ? lines[1] : lines[2]);
	e2e_agent_expect_docs(a, &f, 1, 10);
	assert_int_equal(e2e_agent_stop(a), 0);
}

/* ---- group agent: status, dump and the endpoint ---- */

static struct e2e_agent *agent;
static int n_programs;

static const char *maddr(void)
{
	return e2e_fmt("127.0.0.1:%d", agent->metrics_port);
}

/* GET from the endpoint with curl: the status line's code, body in *body */
static int http_get(int port, const char *path, const char **body)
{
	const char *argv[] = { "curl", "-sS", "--max-time", "20", "-w", "\n%{http_code}",
			       e2e_fmt("http://127.0.0.1:%d%s", port, path), NULL };
	struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&so, 30);
	const char *nl = strrchr(r.out, '\n');

	if (r.status || !nl)
		fail_msg("curl %s: exit %d: %s", argv[6], r.status, r.err);
	/* bodies end with a newline: drop it too */
	*body = e2e_fmt("%.*s", (int)(nl - r.out) - (nl > r.out && nl[-1] == '\n'), r.out);
	return atoi(nl + 1);
}

/* The value of one sample in Prometheus text; fails when absent. */
static double metric(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	fail_msg("no sample %s in:\n%s", name, text);
	return 0;
}

static int agent_group_setup(void **state)
{
	const char *log;

	e2e_group_setup(state);
	py = e2e_peer_python();
	agent = e2e_agent_startl("--port", e2e_fmt("%d", py->port), NULL);
	log = e2e_agent_log(agent);
	assert_int_equal(sscanf(strstr(log, "xtap: ready: "), "xtap: ready: %d programs", &n_programs), 1);
	assert_non_null(strstr(log, e2e_fmt("metrics endpoint on %s", maddr())));
	return 0;
}

static void test_metrics(void **state)
{
	struct e2e_filter seg = { .type = "segment", .url_contains = "?t=metrics" };
	const char *body;

	(void)state;
	assert_int_equal(http_get(agent->metrics_port, "/healthz", &body), 200);
	assert_string_equal(body, "ok");
	for (int i = 0; i < 3; i++)
		assert_int_equal(e2e_curl(e2e_url(py->port, e2e_fmt("/hello.txt?t=metrics%d", i)),
					  NULL).status,
				 0);
	e2e_agent_expect_docs(agent, &seg, 3, 10);
	e2e_sleep(0.5); /* the loop publishes every 100 ms */
	assert_int_equal(http_get(agent->metrics_port, "/metrics", &body), 200);
	/* 3 server segments, 3 curl subsegments */
	assert_true(metric(body, "xtap_segments_total") == 3);
	assert_true(metric(body, "xtap_subsegments_total") == 3);
	assert_true(metric(body, "xtap_transactions_total") == 6);
	assert_true(metric(body, "xtap_attached_programs") == n_programs);
	assert_true(metric(body, "xtap_export_sent_total{sink=\"lines\"}") == 6);
	assert_true(metric(body, "xtap_export_sent_total{sink=\"daemon\"}") == 6);
	assert_true(metric(body, "xtap_drops_total{reason=\"ringbuf_full\"}") == 0);
	assert_true(metric(body, "xtap_kernel_events_total") > 0);
	assert_true(metric(body, "xtap_resident_memory_bytes") > 1 << 20);
	assert_non_null(strstr(body, "# TYPE xtap_segments_total counter\n"));
	assert_non_null(strstr(body, "# HELP xtap_drops_total "));
	assert_int_equal(http_get(agent->metrics_port, "/nope", &body), 404);
}

/* Whether status lists the program as attached (false when absent) */
static bool prog_attached(json_t *st, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(e2e_json_get(st, "bpf.programs"), i, p)
		if (!strcmp(e2e_json_str(p, "name"), name))
			return json_is_true(json_object_get(p, "attached"));
	return false;
}

static bool why_says(json_t *probe, const char *what)
{
	json_t *w;
	size_t i;

	json_array_foreach(e2e_json_get(probe, "run.why"), i, w)
		if (strstr(json_string_value(w), what))
			return true;
	return false;
}

static void test_status(void **state)
{
	json_t *st, *maps, *m, *p;
	const char *env[] = { e2e_fmt("XTAP_METRICS_ADDRESS=%s", maddr()), NULL };
	struct e2e_run r;
	size_t i;
	int attached = 0;
	bool conns = false, events = false;

	(void)state;
	st = json_out(XTAP("status", "-j", "--address", maddr()));
	assert_json_true(st, "healthy");
	assert_json_str(st, "health", "ok");
	assert_json_int(st, "programs_attached", n_programs);
	assert_json_int(st, "bpf.links", n_programs);
	json_array_foreach(e2e_json_get(st, "bpf.programs"), i, p) {
		attached += json_is_true(json_object_get(p, "attached"));
		if (json_is_true(json_object_get(p, "attached")))
			assert_true(json_integer_value(json_object_get(p, "id")) > 0);
	}
	assert_int_equal(attached, n_programs);
	/* the syscall hooks this kernel needs: where an exit reads its own
	 * arguments, reads have no enter program, sendfile none, and writes
	 * one only while the TCP option needs a call's context first */
	if (why_says(json_out(XTAP("probe", "-j")), "bpf_task_pt_regs lets")) {
		assert_true(prog_attached(st, "exit_read") && prog_attached(st, "exit_write"));
		assert_false(prog_attached(st, "enter_read") || prog_attached(st, "enter_recvfrom"));
		assert_false(prog_attached(st, "enter_sendfile64"));
		assert_int_equal(prog_attached(st, "enter_write"), prog_attached(st, "trace_sockops"));
		assert_int_equal(prog_attached(st, "enter_writev"), prog_attached(st, "trace_sockops"));
	}
	maps = e2e_json_get(st, "bpf.maps");
	json_array_foreach(maps, i, m) {
		const char *name = e2e_json_str(m, "name");

		if (!strcmp(name, "conns")) {
			assert_json_str(m, "type", "lru_hash");
			assert_json_int(m, "max_entries", 65536);
			assert_true(e2e_json_num(m, "entries", 0) >= 1);
			conns = true;
		} else if (!strcmp(name, "events")) {
			assert_json_str(m, "type", "ringbuf");
			assert_json_int(m, "max_entries", 8 << 20);
			events = true;
		} else if (!strcmp(name, "scope_ports")) {
			assert_json_int(m, "entries", 1);
		}
	}
	assert_true(conns && events);
	assert_json_int(st, "counters.segments", 3);
	assert_json_int(st, "counters.transactions", 6);
	assert_json_int(st, "drops.ringbuf_full", 0);
	assert_json_int(st, "export.lines_written", 6);
	assert_json_str(st, "sampling.mode", "off");
	assert_int_equal(json_integer_value(json_array_get(e2e_json_get(st, "config.ports"), 0)),
			 py->port);
	assert_json_int(st, "pid", agent->proc->pid);

	/* text, a prefix, and the address from the environment */
	r = XTAP_ENV(env, "st");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, e2e_fmt("programs    %d attached of ", n_programs)));
	assert_non_null(strstr(r.out, "sampling    off"));
	assert_non_null(strstr(r.out, "segments=3"));
	r = XTAP("status", "-p", "--address", maddr());
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "{\n  \""));
}

/* The test holds a connection to the server open, without a byte sent:
 * both ends are in the agent's table. */
static void test_dump_conns(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)py->port) };
	struct sockaddr_in me;
	socklen_t mlen = sizeof(me);
	bool client = false, server = false;
	json_t *o, *c;
	struct e2e_run r;
	size_t i;
	int fd;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&me, &mlen);
	e2e_sleep(0.5);
	o = json_out(XTAP("dump", "conns", "-j", "--address", maddr()));
	json_array_foreach(json_object_get(o, "connections"), i, c) {
		const char *mine = e2e_fmt("127.0.0.1:%d", ntohs(me.sin_port));
		const char *srv = e2e_fmt("127.0.0.1:%d", py->port);

		if (e2e_json_num(c, "pid", 0) == getpid()) {
			assert_json_str(c, "role", "client");
			assert_json_int(c, "fd", fd);
			assert_json_str(c, "local", mine);
			assert_json_str(c, "peer", srv);
			client = true;
		} else if (e2e_json_num(c, "pid", 0) == py->server_pid &&
			   !strcmp(e2e_json_str(c, "peer"), mine)) {
			assert_json_str(c, "role", "server");
			assert_json_str(c, "local", srv);
			assert_json_str(c, "comm", py->comm);
			server = true;
		}
	}
	if (!client || !server)
		fail_msg("want both ends of the test's connection: %s", e2e_json_dump(o));
	assert_true(e2e_json_num(o, "total", 0) >= 2);
	r = XTAP("d", "c", "--address", maddr());
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, e2e_fmt("%-8d %-16s %-5d client ", getpid(),
					       e2e_proc_comm(getpid()), fd)));
	close(fd);
}

static void test_dump_maps_segments(void **state)
{
	json_t *maps, *segs, *docs;
	struct e2e_run r;
	char *lines[16];
	size_t n;

	(void)state;
	maps = json_out(XTAP("dump", "maps", "-j", "--address", maddr()));
	assert_true(json_array_size(maps) >= 8);
	r = XTAP("dump", "maps", "--address", maddr());
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, " conns "));
	assert_non_null(strstr(r.out, " lru_hash "));

	docs = e2e_agent_docs(agent);
	n = json_array_size(docs);
	assert_true(n >= 2);
	segs = json_out(XTAP("dump", "segments", "-n", "2", "-j", "--address", maddr()));
	assert_int_equal(json_array_size(segs), 2);
	/* the last two documents written, oldest first */
	assert_json_str(json_array_get(segs, 0), "id", e2e_json_str(json_array_get(docs, n - 2), "id"));
	assert_json_str(json_array_get(segs, 1), "id", e2e_json_str(json_array_get(docs, n - 1), "id"));
	r = XTAP("dump", "seg", "--address", maddr());
	assert_int_equal(r.status, 0);
	assert_int_equal(split_lines(r.out, lines, 16), n < 10 ? n : 10);
	for (int i = 0; i < (int)(n < 10 ? n : 10); i++) {
		json_error_t je;
		json_t *d = json_loads(lines[i], 0, &je);

		assert_non_null(d);
		json_decref(d);
	}
}

/* Silent clients on the endpoint hold up neither capture nor, for long,
 * the endpoint. */
static void test_endpoint_hostile(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)agent->metrics_port) };
	struct e2e_filter f = { .type = "segment", .url_contains = "?t=hostile" };
	int fds[12];
	double t0;
	const char *body;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 12; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	t0 = e2e_now();
	assert_int_equal(e2e_curl(e2e_url(py->port, "/hello.txt?t=hostile"), NULL).status, 0);
	e2e_agent_expect_docs(agent, &f, 1, 5);
	assert_true(e2e_now() - t0 < 5);
	/* answered once the silent ones have been dropped (5 s each batch) */
	assert_int_equal(http_get(agent->metrics_port, "/healthz", &body), 200);
	for (int i = 0; i < 12; i++)
		close(fds[i]);
}

static void test_no_agent(void **state)
{
	int port = e2e_free_port();

	(void)state;
	assert_error(XTAP("status", "--address", e2e_fmt("127.0.0.1:%d", port)), 1,
		     e2e_fmt("no answer from the agent at 127.0.0.1:%d", port));
	assert_error(XTAP("dump", "conns", "--address", e2e_fmt("127.0.0.1:%d", port)), 1,
		     "is 'xtap run' running");
	assert_error(XTAP("status", "--address", "off"), 2, "turned off");
}

/* A second agent on the same endpoint address: one line, exit 1. The
 * address from the environment; off. */
static void test_metrics_address(void **state)
{
	const char *const args[] = { "--port", e2e_fmt("%d", py->port), "--metrics-address", maddr(),
				     NULL };
	struct e2e_agent_opts o = { .args = args };
	const char *argv[] = { e2e_xtap_bin(), "run", "--no-daemon", "--no-stdout", "--port",
			       e2e_fmt("%d", py->port), "--metrics-address", maddr(), NULL };
	struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };
	struct e2e_run r;
	struct e2e_agent *b;
	int q = e2e_free_port();
	const char *env[] = { e2e_fmt("XTAP_METRICS_ADDRESS=127.0.0.1:%d", q), NULL };
	const char *const env_args[] = { "--port", e2e_fmt("%d", py->port), "--metrics-address", "",
					 NULL };
	const char *const off_args[] = { "--port", e2e_fmt("%d", py->port), "--metrics-address", "off",
					 NULL };
	const char *body;

	(void)state;
	(void)o;
	r = e2e_run_cmd(&so, 60);
	if (r.status != 1 || !strstr(r.err, e2e_fmt("xtap: metrics endpoint %s: Address already in use", maddr())))
		fail_msg("want exit 1 and the address in use:\n%s", r.err);

	o = (struct e2e_agent_opts){ .args = env_args, .env = env };
	b = e2e_agent_start(&o);
	assert_non_null(strstr(e2e_agent_log(b), e2e_fmt("metrics endpoint on 127.0.0.1:%d", q)));
	assert_int_equal(http_get(q, "/healthz", &body), 200);
	assert_int_equal(e2e_agent_stop(b), 0);

	o = (struct e2e_agent_opts){ .args = off_args };
	b = e2e_agent_start(&o);
	assert_null(strstr(e2e_agent_log(b), "metrics endpoint"));
	assert_int_equal(e2e_agent_stop(b), 0);
}

static void test_zz_stop(void **state)
{
	const char *body;
	double segs, subs, txns;

	(void)state;
	e2e_sleep(0.3);
	assert_int_equal(http_get(agent->metrics_port, "/metrics", &body), 200);
	segs = metric(body, "xtap_segments_total");
	subs = metric(body, "xtap_subsegments_total");
	txns = metric(body, "xtap_transactions_total");
	assert_int_equal(e2e_agent_stop(agent), 0);
	/* what /metrics said is what the agent logs at exit */
	assert_true(segs == e2e_agent_counter(agent, "counters", "segments"));
	assert_true(subs == e2e_agent_counter(agent, "counters", "subsegments"));
	assert_true(txns == e2e_agent_counter(agent, "counters", "transactions"));
	e2e_agent_check_final(agent);
}

/* ------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, e2e_test_setup, e2e_test_teardown)

int main(void)
{
	const struct CMUnitTest cli[] = { T(test_usage), T(test_probe), T(test_docs) };
	const struct CMUnitTest trace[] = {
		T(test_trace_line), T(test_trace_json),	 T(test_trace_filters),
		T(test_trace_pod),  T(test_trace_raw),	 T(test_trace_beside_agent),
	};
	const struct CMUnitTest agent_tests[] = {
		T(test_metrics),	 T(test_status),	  T(test_dump_conns),
		T(test_dump_maps_segments), T(test_endpoint_hostile), T(test_no_agent),
		T(test_metrics_address), T(test_zz_stop),
	};
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	if (e2e_group_wanted("cli"))
		failed += cmocka_run_group_tests_name("cli", cli, e2e_group_setup, e2e_group_teardown);
	if (e2e_group_wanted("trace"))
		failed += cmocka_run_group_tests_name("trace", trace, trace_group_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("agent"))
		failed += cmocka_run_group_tests_name("agent", agent_tests, agent_group_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
