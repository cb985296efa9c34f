// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the agent traces and where its documents go, end to end:
 *   scope   --pid, --port, --cgroup (a cgroup v2 child made for the test),
 *           and the agent never tracing its own sockets;
 *   daemon  one UDP datagram per document with the exact header and the
 *           file line as body; AWS_XRAY_DAEMON_ADDRESS in the split
 *           "tcp:… udp:…" form; invalid values (exit 2, one line); a daemon
 *           that is not there (the agent carries on, the file is complete).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define DOC_WAIT 10.0

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* GET url with curl; fails unless the status is want. */
static struct e2e_run get(const char *url, int want)
{
	struct e2e_run r = e2e_curl(url, "-A", "scope-test/1.0", NULL);
	int code = 0;

	if (r.status != 0 || sscanf(r.out, "%d", &code) != 1 || code != want)
		fail_msg("curl %s: exit %d, output '%s' (wanted HTTP %d)\n%s", url, r.status, r.out, want,
			 r.err);
	return r;
}

static bool pid_is_not(json_t *doc, const void *arg)
{
	return e2e_json_num(doc, "metadata.xtap.pid", -1) != (double)*(const pid_t *)arg;
}

/* Every document in docs, and none other, comes from pid. */
static void assert_all_from(json_t *docs, pid_t pid)
{
	struct e2e_filter other = { .pred = pid_is_not, .pred_arg = &pid };

	assert_doc_count(e2e_docs_filter(docs, &other), 0);
}

/* A UDP "daemon" of our own: raw datagrams, byte for byte. */
struct udp_listener {
	int fd;
	int port;
};

static struct udp_listener udp_open(void)
{
	struct udp_listener u = { -1, 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int big = 8 << 20;

	u.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u.fd < 0)
		fail_msg("socket: %s", strerror(errno));
	setsockopt(u.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(u.fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(u.fd, (struct sockaddr *)&a, &al))
		fail_msg("bind udp: %s", strerror(errno));
	u.port = ntohs(a.sin_port);
	return u;
}

/* Every datagram queued so far, as a scope-owned JSON array of strings. */
static json_t *udp_take(struct udp_listener *u)
{
	static char buf[70000];
	json_t *all = json_array(), *owned;

	for (int i = 0; i < 100000; i++) {
		ssize_t n = recv(u->fd, buf, sizeof(buf), 0);

		if (n < 0)
			break;
		json_array_append_new(all, json_stringn(buf, (size_t)n));
	}
	owned = e2e_docs_filter(all, NULL); /* a scope-owned copy of the array */
	json_decref(all);
	return owned;
}

static void udp_close(struct udp_listener *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/* The complete lines of a file, as a scope-owned JSON array of strings. */
static json_t *file_lines(const char *path)
{
	size_t len = 0;
	char *s = e2e_read_file(path, &len), *p, *nl;
	json_t *all = json_array(), *owned;

	for (p = s; s && p < s + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(s + len - p));
		if (!nl)
			fail_msg("%s: last line has no newline: %s", path, p);
		json_array_append_new(all, json_stringn(p, (size_t)(nl - p)));
	}
	owned = e2e_docs_filter(all, NULL);
	json_decref(all);
	return owned;
}

/* The lines parsed as JSON objects (scope-owned array). */
static json_t *lines_docs(json_t *lines)
{
	json_t *all = json_array(), *owned, *l;
	size_t i;

	json_array_foreach(lines, i, l) {
		json_error_t err;
		json_t *d = json_loads(json_string_value(l), 0, &err);

		if (!d || !json_is_object(d))
			fail_msg("not a JSON object (%s): %s", err.text, json_string_value(l));
		json_array_append_new(all, d);
	}
	owned = e2e_docs_filter(all, NULL);
	json_decref(all);
	return owned;
}

/* Start the agent ourselves (the harness would add its own daemon address):
 * xtap run -o <dir>/out.jsonl --no-stdout ARGS, with ENV. Waits for ready. */
struct raw_agent {
	struct e2e_proc *p;
	const char *out;
};

static bool raw_ready(struct e2e_proc *p, double timeout)
{
	double end = e2e_mono() + timeout;

	for (int i = 0; i < 100000 && e2e_mono() < end; i++) {
		if (strstr(e2e_proc_err(p), "xtap: ready:"))
			return true;
		if (!e2e_proc_alive(p))
			return false;
		e2e_sleep(0.05);
	}
	return false;
}

static struct raw_agent raw_start(const char *const *args, const char *const *env)
{
	const char *argv[32];
	struct e2e_spawn_opts o = { .argv = argv, .env = env, .split_stderr = true };
	struct raw_agent a;
	size_t n = 0;

	a.out = e2e_fmt("%s/out.jsonl", e2e_tmpdir());
	argv[n++] = e2e_xtap_bin();
	argv[n++] = "run";
	argv[n++] = "-o";
	argv[n++] = a.out;
	argv[n++] = "--no-stdout";
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	a.p = e2e_spawn(&o);
	if (!raw_ready(a.p, 30))
		fail_msg("agent not ready (alive=%d)\n--- log:\n%s", e2e_proc_alive(a.p),
			 e2e_tail(e2e_proc_err(a.p), 3000));
	return a;
}

static json_t *raw_docs(struct raw_agent *a)
{
	return lines_docs(file_lines(a->out));
}

/* Poll the agent's file until n documents match f (or timeout). */
static json_t *raw_wait_docs(struct raw_agent *a, const struct e2e_filter *f, size_t n)
{
	double end = e2e_mono() + DOC_WAIT;
	json_t *m = NULL;

	for (int i = 0; i < 100000; i++) {
		size_t len = 0;
		char *s = e2e_read_file(a->out, &len);
		char *last_nl = s ? memrchr(s, '\n', len) : NULL;
		json_t *all = json_array();

		/* only complete lines while the agent writes */
		if (last_nl) {
			char *p = s, *nl;

			for (; p <= last_nl; p = nl + 1) {
				json_t *d;

				nl = memchr(p, '\n', (size_t)(last_nl - p + 1));
				d = json_loadb(p, (size_t)(nl - p), 0, NULL);
				if (!d)
					fail_msg("%s: not JSON: %.*s", a->out, (int)(nl - p), p);
				json_array_append_new(all, d);
			}
		}
		m = e2e_docs_filter(all, f);
		json_decref(all);
		if (json_array_size(m) >= n || e2e_mono() > end)
			break;
		if (!e2e_proc_alive(a->p))
			fail_msg("agent exited while waiting for documents\n%s",
				 e2e_tail(e2e_proc_err(a->p), 3000));
		e2e_sleep(0.05);
	}
	return m;
}

/* SIGTERM and the exit code; fails if it does not exit in 20 s. */
static int raw_stop(struct raw_agent *a)
{
	double t0 = e2e_mono();
	int code = e2e_proc_stop(a->p, 20);

	if (e2e_mono() - t0 > 19)
		fail_msg("agent did not exit on SIGTERM within 20 s\n%s", e2e_tail(e2e_proc_err(a->p), 3000));
	return code;
}

/* A counter from the agent's last "xtap: LINE:" log line. */
static long long log_counter(const char *log, const char *line, const char *key)
{
	char tag[64], pat[64];
	const char *p, *last = NULL, *eol, *k;

	snprintf(tag, sizeof(tag), "xtap: %s:", line);
	for (p = log; (p = strstr(p, tag)); p++)
		last = p;
	if (!last)
		fail_msg("no \"%s\" line in the agent log:\n%s", tag, e2e_tail(log, 3000));
	eol = strchrnul(last, '\n');
	snprintf(pat, sizeof(pat), " %s=", key);
	k = strstr(last, pat);
	if (!k || k > eol)
		fail_msg("no %s= in \"%.*s\"", key, (int)(eol - last), last);
	return strtoll(k + strlen(pat), NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* --pid                                                                    */
/* ------------------------------------------------------------------------ */

static void test_pid(void **state)
{
	struct e2e_peer *in = e2e_peer_go(), *out = e2e_peer_python();
	struct e2e_agent *a;
	struct e2e_filter fin = { .type = "segment", .port = in->port };
	struct e2e_filter fout = { .url_contains = "hello.txt" };
	json_t *docs, *d;

	(void)state;
	a = e2e_agent_startl("--pid", e2e_fmt("%d", in->server_pid), NULL);
	get(e2e_url(out->port, "/hello.txt?scope=pid-out"), 200);
	get(e2e_url(in->port, "/ok?scope=pid-in"), 200);
	docs = e2e_agent_wait_docs(a, &fin, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	d = json_array_get(docs, 0);
	assert_json_str(d, "http.request.url", e2e_fmt("http://127.0.0.1:%d/ok?scope=pid-in", in->port));
	assert_json_int(d, "metadata.xtap.pid", in->server_pid);
	/* the python server, and curl (a client of both), are out of scope */
	e2e_sleep(0.3);
	docs = e2e_agent_docs(a);
	assert_doc_count(e2e_docs_filter(docs, &fout), 0);
	assert_all_from(docs, in->server_pid);
	assert_int_equal(e2e_agent_stop(a), 0);
	docs = e2e_agent_docs(a);
	assert_doc_count(docs, 1);
	assert_all_from(docs, in->server_pid);
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 1);
	assert_int_equal(e2e_agent_counter(a, "counters", "subsegments"), 0);
}

/* ------------------------------------------------------------------------ */
/* --port                                                                   */
/* ------------------------------------------------------------------------ */

static void test_port(void **state)
{
	struct e2e_peer *in = e2e_peer_go(), *out = e2e_peer_nginx();
	struct e2e_agent *a;
	struct e2e_filter seg = { .type = "segment", .port = in->port };
	struct e2e_filter sub = { .type = "subsegment", .url_contains = "/status/201" };
	struct e2e_filter fout = { .url_contains = "hello.txt" };
	struct e2e_run r;
	json_t *docs, *d;

	(void)state;
	a = e2e_agent_startl("--port", e2e_fmt("%d", in->port), NULL);
	get(e2e_url(out->port, "/static/hello.txt?scope=port-out"), 200);
	r = get(e2e_url(in->port, "/status/201?scope=port-in"), 201);

	docs = e2e_agent_wait_docs(a, &seg, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	d = json_array_get(docs, 0);
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://127.0.0.1:%d/status/201?scope=port-in", in->port));
	assert_json_int(d, "http.response.status", 201);
	assert_json_int(d, "metadata.xtap.pid", in->server_pid);
	/* curl's side of the same connection: remote port in scope */
	docs = e2e_agent_wait_docs(a, &sub, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	d = json_array_get(docs, 0);
	assert_json_str(d, "http.request.url", "http://127.0.0.1/status/201");
	assert_json_int(d, "metadata.xtap.pid", r.pid);

	assert_int_equal(e2e_agent_stop(a), 0);
	docs = e2e_agent_docs(a);
	assert_doc_count(e2e_docs_filter(docs, &fout), 0);
	assert_doc_count(docs, 2);
	/* nginx's and curl's sockets to nginx were seen and left alone */
	assert_true(e2e_agent_counter(a, "kernel", "out_of_scope") >= 2);
	assert_int_equal(e2e_agent_counter(a, "kernel", "conns_tracked"), 2);
}

/* ------------------------------------------------------------------------ */
/* --cgroup                                                                 */
/* ------------------------------------------------------------------------ */

static char cg_root[256], cg_dir[300];

static void cgroup_v2_root(void)
{
	snprintf(cg_root, sizeof(cg_root), "%s", e2e_cgroup2_mount());
}

static void write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	n = write(fd, s, strlen(s));
	close(fd);
	if (n != (ssize_t)strlen(s))
		fail_msg("write '%s' to %s: %s", s, path, strerror(errno));
}

/* Move every process out of cg_dir (back to the root) and remove it. */
static void cgroup_remove(void)
{
	char path[400], line[64];
	FILE *f;

	if (!cg_dir[0])
		return;
	for (int round = 0; round < 50; round++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
		f = fopen(path, "re");
		if (f) {
			char root_procs[300];

			snprintf(root_procs, sizeof(root_procs), "%s/cgroup.procs", cg_root);
			while (fgets(line, sizeof(line), f)) {
				int fd = open(root_procs, O_WRONLY | O_CLOEXEC);

				if (fd >= 0) {
					if (write(fd, line, strlen(line)) < 0) {
						/* exited meanwhile */
					}
					close(fd);
				}
			}
			fclose(f);
		}
		if (!rmdir(cg_dir) || errno == ENOENT)
			break;
		e2e_sleep(0.1);
	}
	if (rmdir(cg_dir) && errno != ENOENT)
		fprintf(stderr, "test_scope: could not remove %s: %s\n", cg_dir, strerror(errno));
	cg_dir[0] = '\0';
}

static int cgroup_teardown(void **state)
{
	e2e_test_teardown(state);
	cgroup_remove();
	return 0;
}

static void test_cgroup(void **state)
{
	struct e2e_peer *in = e2e_peer_go(), *out = e2e_peer_go();
	struct e2e_agent *a;
	struct e2e_filter seg = { .type = "segment", .port = in->port };
	json_t *docs, *d;
	char path[400];

	(void)state;
	cgroup_v2_root();
	snprintf(cg_dir, sizeof(cg_dir), "%s/xtap-e2e-%d", cg_root, (int)getpid());
	if (mkdir(cg_dir, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", cg_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	write_str(path, e2e_fmt("%d\n", in->server_pid));

	a = e2e_agent_startl("--cgroup", cg_dir, NULL);
	get(e2e_url(out->port, "/status/202?scope=cg-out"), 202);
	get(e2e_url(in->port, "/ok?scope=cg-in"), 200);
	docs = e2e_agent_wait_docs(a, &seg, 1, DOC_WAIT);
	assert_doc_count(docs, 1);
	d = json_array_get(docs, 0);
	assert_json_str(d, "http.request.url", e2e_fmt("http://127.0.0.1:%d/ok?scope=cg-in", in->port));
	assert_json_int(d, "metadata.xtap.pid", in->server_pid);

	assert_int_equal(e2e_agent_stop(a), 0);
	docs = e2e_agent_docs(a);
	/* the other go server and curl live outside the cgroup */
	assert_doc_count(docs, 1);
	assert_all_from(docs, in->server_pid);
	assert_true(e2e_agent_counter(a, "kernel", "out_of_scope") >= 2);

	e2e_proc_stop(in->proc, 5);
	cgroup_remove();
}

/* ------------------------------------------------------------------------ */
/* The agent never traces itself                                            */
/* ------------------------------------------------------------------------ */

/* The agent's stdout is a TCP connection to a port in scope (set up by bash
 * before it execs the agent, so the socket is the agent's own). If the agent
 * traced itself, its writes there would make a tracked connection. The test
 * accepts that connection only after the agent stopped, so the only tracked
 * sockets are curl's and the go server's. */
static void test_not_self(void **state)
{
	struct e2e_peer *srv = e2e_peer_go();
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(la);
	const char *dir = e2e_tmpdir(), *out = e2e_fmt("%s/out.jsonl", dir);
	struct e2e_filter seg = { .type = "segment", .port = srv->port };
	struct raw_agent ra;
	const char *argv[4], *script, *log;
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	int lfd, cfd, lport, one = 1;
	pid_t agent_pid;
	json_t *docs;
	char *streamed;
	size_t slen = 0, cap = 1 << 20;

	(void)state;
	e2e_require_bin("bash");
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&la, sizeof(la)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&la, &al))
		fail_msg("listen: %s", strerror(errno));
	lport = ntohs(la.sin_port);

	script = e2e_fmt("exec >/dev/tcp/127.0.0.1/%d && exec %s run -o %s --no-daemon --port %d --port %d",
			 lport, e2e_xtap_bin(), out, srv->port, lport);
	argv[0] = "bash";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = NULL;
	ra.p = e2e_spawn(&o);
	ra.out = out;
	if (!raw_ready(ra.p, 30)) {
		close(lfd);
		fail_msg("agent not ready\n%s", e2e_tail(e2e_proc_err(ra.p), 3000));
	}
	agent_pid = ra.p->pid;

	get(e2e_url(srv->port, "/ok?scope=self"), 200);
	docs = raw_wait_docs(&ra, &seg, 1);
	assert_doc_count(docs, 1);
	assert_int_equal(raw_stop(&ra), 0);
	log = e2e_proc_err(ra.p);

	docs = raw_docs(&ra);
	assert_doc_count(docs, 2); /* go's segment, curl's subsegment */
	{
		struct e2e_filter self = { .pid = agent_pid };

		assert_doc_count(e2e_docs_filter(docs, &self), 0);
	}
	if (log_counter(log, "kernel", "conns_tracked") != 2)
		fail_msg("conns_tracked=%lld, want 2 (curl and the go server): the agent tracked a "
			 "socket of its own?\n%s",
			 log_counter(log, "kernel", "conns_tracked"), e2e_tail(log, 2000));
	assert_int_equal(log_counter(log, "counters", "bytes_not_http"), 0);
	assert_int_equal(log_counter(log, "kernel", "not_http"), 0);

	/* and stdout, the TCP stream, carried the same documents */
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	assert_true(cfd >= 0);
	streamed = malloc(cap + 1);
	assert_non_null(streamed);
	{
		struct timeval tv = { .tv_sec = 2 };

		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	for (int i = 0; i < 10000 && slen < cap; i++) {
		ssize_t n = read(cfd, streamed + slen, cap - slen);

		if (n <= 0)
			break;
		slen += (size_t)n;
	}
	close(cfd);
	streamed[slen] = '\0';
	{
		size_t flen = 0;
		char *file = e2e_read_file(out, &flen);

		if (flen != slen || memcmp(file, streamed, slen))
			fail_msg("stdout (%zu bytes) differs from the file (%zu bytes):\n%s\n---\n%s", slen,
				 flen, streamed, file);
	}
	free(streamed);
}

/* ------------------------------------------------------------------------ */
/* The daemon path                                                          */
/* ------------------------------------------------------------------------ */

#define DAEMON_HEADER "{\"format\":\"json\",\"version\":1}\n"

/* Every datagram is header + one file line, and each line came exactly once. */
static void assert_datagrams_match(json_t *grams, json_t *lines)
{
	size_t hl = strlen(DAEMON_HEADER), i, j;
	json_t *g;
	char *used = calloc(json_array_size(lines) + 1, 1);

	assert_non_null(used);
	if (json_array_size(grams) != json_array_size(lines))
		fail_msg("%zu datagrams for %zu documents in the file", json_array_size(grams),
			 json_array_size(lines));
	json_array_foreach(grams, i, g) {
		const char *s = json_string_value(g);
		size_t n = json_string_length(g);
		bool found = false;

		if (n < hl || memcmp(s, DAEMON_HEADER, hl))
			fail_msg("datagram %zu does not start with the header %s: %.*s", i, DAEMON_HEADER,
				 (int)(n > 200 ? 200 : n), s);
		for (j = 0; j < json_array_size(lines) && !found; j++) {
			json_t *l = json_array_get(lines, j);

			if (!used[j] && json_string_length(l) == n - hl &&
			    !memcmp(json_string_value(l), s + hl, n - hl)) {
				used[j] = 1;
				found = true;
			}
		}
		if (!found)
			fail_msg("datagram %zu's body is not a (remaining) line of the file: %s", i, s + hl);
	}
	free(used);
}

static struct udp_listener udp_l = { -1, 0 };

static int daemon_teardown(void **state)
{
	e2e_test_teardown(state);
	udp_close(&udp_l);
	return 0;
}

static void test_daemon_datagrams(void **state)
{
	struct e2e_peer *srv = e2e_peer_go();
	struct e2e_agent *a;
	struct e2e_filter all = { .type = NULL };
	json_t *grams, *lines;

	(void)state;
	udp_l = udp_open();
	a = e2e_agent_startl("--daemon-address", e2e_fmt("127.0.0.1:%d", udp_l.port), "--port",
			     e2e_fmt("%d", srv->port), NULL);
	get(e2e_url(srv->port, "/ok?d=1"), 200);
	get(e2e_url(srv->port, "/status/404?d=2"), 404);
	get(e2e_url(srv->port, "/status/503?d=3"), 503);
	assert_doc_count(e2e_agent_wait_docs(a, &all, 6, DOC_WAIT), 6);
	assert_int_equal(e2e_agent_stop(a), 0);
	lines = file_lines(a->out_path);
	assert_int_equal(json_array_size(lines), 6);
	grams = udp_take(&udp_l);
	assert_datagrams_match(grams, lines);
	assert_int_equal(e2e_agent_counter(a, "export", "udp_sent"), 6);
	assert_int_equal(e2e_agent_counter(a, "export", "udp_errors"), 0);
}

static void test_daemon_env_split(void **state)
{
	struct e2e_peer *srv = e2e_peer_go();
	struct e2e_filter all = { .type = NULL };
	struct raw_agent ra;
	int tcp_port = e2e_free_port();
	const char *args[3], *env[2];
	json_t *grams, *lines;

	(void)state;
	udp_l = udp_open();
	args[0] = "--port";
	args[1] = e2e_fmt("%d", srv->port);
	args[2] = NULL;
	/* udp first, to show the order does not matter */
	env[0] = e2e_fmt("AWS_XRAY_DAEMON_ADDRESS=udp:127.0.0.1:%d tcp:127.0.0.1:%d", udp_l.port,
			 tcp_port);
	env[1] = NULL;
	ra = raw_start(args, env);
	get(e2e_url(srv->port, "/ok?env=1"), 200);
	get(e2e_url(srv->port, "/status/429?env=2"), 429);
	assert_doc_count(raw_wait_docs(&ra, &all, 4), 4);
	assert_int_equal(raw_stop(&ra), 0);
	lines = file_lines(ra.out);
	assert_int_equal(json_array_size(lines), 4);
	grams = udp_take(&udp_l);
	assert_datagrams_match(grams, lines);
}

static void test_daemon_env_tcp_first(void **state)
{
	struct e2e_peer *srv = e2e_peer_go();
	struct e2e_filter all = { .type = NULL };
	struct raw_agent ra;
	const char *args[3], *env[2];

	(void)state;
	udp_l = udp_open();
	args[0] = "--port";
	args[1] = e2e_fmt("%d", srv->port);
	args[2] = NULL;
	env[0] = e2e_fmt("AWS_XRAY_DAEMON_ADDRESS=tcp:127.0.0.1:%d udp:127.0.0.1:%d", e2e_free_port(),
			 udp_l.port);
	env[1] = NULL;
	ra = raw_start(args, env);
	get(e2e_url(srv->port, "/ok?env=3"), 200);
	assert_doc_count(raw_wait_docs(&ra, &all, 2), 2);
	assert_int_equal(raw_stop(&ra), 0);
	assert_datagrams_match(udp_take(&udp_l), file_lines(ra.out));
}

static void test_daemon_env_invalid(void **state)
{
	static const char *const bad[] = {
		"udp:127.0.0.1:2000",              /* one part of the split form */
		"tcp:127.0.0.1:2000",
		"127.0.0.1",                       /* no port */
		"not an address",
		"tcp:127.0.0.1:2000 udp:127.0.0.1", /* udp part without port */
		"127.0.0.1:70000",                 /* port out of range */
		"tcp:127.0.0.1:1 udp:127.0.0.1:2 x:3",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { e2e_xtap_bin(), "run", "--no-stdout", NULL };
		const char *env[] = { e2e_fmt("AWS_XRAY_DAEMON_ADDRESS=%s", bad[i]), NULL };
		struct e2e_spawn_opts o = { .argv = argv, .env = env, .split_stderr = true };
		struct e2e_run r = e2e_run_cmd(&o, 20);
		const char *nl = strchr(r.err, '\n');

		if (r.status != 2)
			fail_msg("AWS_XRAY_DAEMON_ADDRESS='%s': exit %d, want 2\n%s", bad[i], r.status,
				 r.err);
		if (!nl || nl == r.err || nl[1] != '\0')
			fail_msg("AWS_XRAY_DAEMON_ADDRESS='%s': want exactly one line on stderr, got:\n%s",
				 bad[i], r.err);
		if (!strstr(r.err, bad[i]))
			fail_msg("AWS_XRAY_DAEMON_ADDRESS='%s': the error does not show the value: %s",
				 bad[i], r.err);
		assert_true(strstr(r.err, "ready") == NULL);
		assert_string_equal(r.out, "");
	}
}

/* Nothing listens on the daemon port: sends fail (or vanish), the agent
 * carries on and the file still gets every document. */
static void test_daemon_down(void **state)
{
	struct e2e_peer *srv = e2e_peer_go();
	struct e2e_agent *a;
	struct e2e_filter seg = { .type = "segment" }, sub = { .type = "subsegment" };
	int dead = e2e_free_port();

	(void)state;
	a = e2e_agent_startl("--daemon-address", e2e_fmt("127.0.0.1:%d", dead), "--port",
			     e2e_fmt("%d", srv->port), NULL);
	for (int i = 0; i < 10; i++)
		get(e2e_url(srv->port, e2e_fmt("/ok?down=%d", i)), 200);
	assert_doc_count(e2e_agent_wait_docs(a, &seg, 10, DOC_WAIT), 10);
	assert_doc_count(e2e_agent_wait_docs(a, &sub, 10, DOC_WAIT), 10);
	assert_true(e2e_proc_alive(a->proc));
	/* still working after the failed sends */
	get(e2e_url(srv->port, "/ok?down=after"), 200);
	assert_doc_count(e2e_agent_wait_docs(a, &(struct e2e_filter){ .url_contains = "down=after" }, 1,
					     DOC_WAIT),
			 1);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_expect_final(a, &seg, 11);
	e2e_agent_expect_final(a, &sub, 11);
	e2e_agent_check_final(a);
	for (int i = 0; i < 10; i++) {
		struct e2e_filter f = { .type = "segment", .url_contains = e2e_fmt("/ok?down=%d", i) };

		assert_doc_count(e2e_docs_filter(e2e_agent_docs(a), &f), 1);
	}
	assert_int_equal(e2e_agent_counter(a, "export", "lines"), 22);
	assert_int_equal(e2e_agent_counter(a, "export", "write_errors"), 0);
}

int main(void)
{
	const struct CMUnitTest scope[] = {
		cmocka_unit_test_setup_teardown(test_pid, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_port, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup, e2e_test_setup, cgroup_teardown),
		cmocka_unit_test_setup_teardown(test_not_self, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest daemon[] = {
		cmocka_unit_test_setup_teardown(test_daemon_datagrams, e2e_test_setup, daemon_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_env_split, e2e_test_setup, daemon_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_env_tcp_first, e2e_test_setup,
						daemon_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_env_invalid, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_down, e2e_test_setup, e2e_test_teardown),
	};
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	failed += cmocka_run_group_tests_name("scope", scope, e2e_group_setup, e2e_group_teardown);
	failed += cmocka_run_group_tests_name("daemon", daemon, e2e_group_setup, e2e_group_teardown);
	return failed ? 1 : 0;
}
