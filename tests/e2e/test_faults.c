// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Faults around the agent, with real BPF and real peers:
 *   tracefs      the agent in a private mount namespace where tracefs is
 *                not mounted: it mounts it there and traces (the host's
 *                tracefs is never touched)
 *   restart      an agent stopped and another started while keep-alive
 *                connections stay open, some in the middle of a request or
 *                of a response: what each agent sees of each connection
 *   overflow     the smallest ring buffer and a burst while the agent is
 *                stopped (SIGSTOP): drops counted, the agent carries on,
 *                and no response is paired with another request's head
 *   drain        SIGTERM with a working sink delivers everything; with an
 *                -o pipe nobody reads, or an X-Ray API that never answers,
 *                the agent still exits within its drain deadline and says
 *                what it could not deliver
 *   pid reuse    a server exits and another one gets its pid (clone3
 *                set_tid), also after the first one's EXIT record was
 *                lost; a server execs another program: each one's
 *                segments carry its own name
 *   killed       a server killed half-way through its response, a client
 *                killed while it waits: no crash, no made-up segment, the
 *                connections leave the agent's table
 *
 * Faults tested elsewhere: a daemon that is down (test_scope), X-Ray API
 * 429, 5xx and hung requests (test_xray_api), a Kubernetes API that does
 * not answer (test_kubernetes), a server killed with the request in hand
 * (test_wire), the blocked-write path of the exporter (unit test_exporter).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define DOC_WAIT 10.0
/* agent/run.c DRAIN_MS, in seconds, and the slack the deadline gets here */
#define DRAIN_S 2.0
#define DRAIN_SLACK 5.0
/* the name under which this program acts as the agent's launcher */
#define NS_WRAPPER "xtap-nstracefs"
#define REAL_XTAP_ENV "XTAP_FAULTS_REAL_BIN"
/* argv[1] under which this program acts as the small server after exec */
#define MINI_EXEC "--mini-server"

/* ------------------------------------------------------------------------ */
/* A small keep-alive HTTP/1.1 server in a child process                    */
/* ------------------------------------------------------------------------ */

/* Paths: /s/N answers status N; /hold/... waits for a byte on the control
 * pipe first; /half/... writes its head and half its body, then waits to
 * be killed; /exec/... answers, then execs this program as the server
 * named "srv-exec" (the connection, CLOEXEC, goes with the old image). */
struct mini {
	pid_t pid;
	const char *name; /* its process name */
	int port;
	int lfd;
	int ctl; /* write end: one byte releases one /hold/ */
	int ctl_r;
};

static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		fail_msg("listen on 127.0.0.1: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void mini_exec(int lfd, int ctl_r)
{
	char self[PATH_MAX], a1[16], a2[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		_exit(90);
	self[n] = '\0';
	snprintf(a1, sizeof(a1), "%d", lfd);
	snprintf(a2, sizeof(a2), "%d", ctl_r);
	execl(self, self, MINI_EXEC, a1, a2, "srv-exec", (char *)NULL);
	_exit(91);
}

/* One connection, request after request, until the client closes. */
static char hold_body[3001];

static void mini_conn(int fd, int lfd, int ctl_r)
{
	char buf[8192], path[512], head[4096], *eoh;
	size_t have = 0;

	for (;;) {
		int status = 200, hl;
		const char *body;
		size_t used;
		char c;

		while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
			ssize_t n = have < sizeof(buf) - 1 ? read(fd, buf + have, sizeof(buf) - 1 - have)
							   : -1;

			if (n <= 0)
				return;
			have += (size_t)n;
		}
		buf[have] = '\0';
		if (sscanf(buf, "%*s %511s", path) != 1)
			return;
		used = (size_t)(eoh + 4 - buf);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (!strncmp(path, "/hold/", 6) && read(ctl_r, &c, 1) != 1)
			return;
		if (!strncmp(path, "/s/", 3))
			status = atoi(path + 3);
		if (!strncmp(path, "/half/", 6)) {
			hl = snprintf(head, sizeof(head),
				      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%050d", 0);
			write_all(fd, head, (size_t)hl);
			for (;;)
				pause();
		}
		/* a response to a held request is large: one record of its own
		 * that a nearly full ring buffer cannot take */
		body = strncmp(path, "/hold/", 6) ? "mini\n" : hold_body;
		hl = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n%s",
			      status, strlen(body), body);
		write_all(fd, head, (size_t)hl);
		if (!strncmp(path, "/exec/", 6))
			mini_exec(lfd, ctl_r);
	}
}

static void mini_loop(int lfd, int ctl_r, const char *name)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, name);
	alarm(120);
	memset(hold_body, 'h', sizeof(hold_body) - 1);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			_exit(1);
		mini_conn(fd, lfd, ctl_r);
		close(fd);
	}
}

/* Start the server as `name` on m's socket (a new one when m->lfd is 0),
 * with pid `pid` when it is not 0. */
static void mini_start(struct mini *m, const char *name, pid_t pid)
{
	int p[2];

	if (!m->lfd) {
		m->lfd = listen_any(&m->port);
		if (pipe(p))
			fail_msg("pipe: %s", strerror(errno));
		m->ctl_r = p[0];
		m->ctl = p[1];
	}
	m->name = name;
	m->pid = pid ? e2e_fork_with_pid(pid) : fork();
	if (m->pid < 0)
		fail_msg("%s for %s (pid %d): %s", pid ? "clone3 with set_tid" : "fork", name, pid,
			 strerror(errno));
	if (!m->pid) {
		close(m->ctl);
		mini_loop(m->lfd, m->ctl_r, name);
	}
}

static void mini_kill(struct mini *m)
{
	int st;

	if (m->pid <= 0)
		return;
	kill(m->pid, SIGKILL);
	waitpid(m->pid, &st, 0);
	m->pid = 0;
}

/* Does a thread of pid wait in a kernel function whose name contains
 * `what` (/proc/PID/task/TID/wchan)? */
static bool waits_in(pid_t pid, const char *what)
{
	DIR *d = opendir(e2e_fmt("/proc/%d/task", pid));
	struct dirent *e;
	bool found = false;

	for (int i = 0; d && !found && i < 256 && (e = readdir(d)); i++) {
		char *w = e->d_name[0] == '.' ? NULL :
			  e2e_read_file(e2e_fmt("/proc/%d/task/%s/wchan", pid, e->d_name), NULL);

		found = w && strstr(w, what);
	}
	if (d)
		closedir(d);
	return found;
}

/* Wait (bounded) until the server holds a /hold/ request: it has read
 * the request and waits on the control pipe. */
static void mini_wait_holding(struct mini *m)
{
	double end = e2e_mono() + DOC_WAIT;

	while (!waits_in(m->pid, "pipe_read") && e2e_mono() < end)
		e2e_sleep(0.05);
	if (!waits_in(m->pid, "pipe_read"))
		fail_msg("the server (pid %d) never took its held request", m->pid);
}

static void mini_release(struct mini *m)
{
	if (write(m->ctl, "x", 1) != 1)
		fail_msg("control pipe: %s", strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* Raw client connections                                                   */
/* ------------------------------------------------------------------------ */

static int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		fail_msg("connect to 127.0.0.1:%d: %s", port, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_str(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		fail_msg("send: %s", strerror(errno));
}

static const char *req_head(const char *path, int port)
{
	return e2e_fmt("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: faults\r\n\r\n", path,
		       port);
}

/* Read one response with a Content-Length body; returns its status. */
static int read_response(int fd)
{
	char buf[16384], *eoh;
	size_t have = 0, need;
	int status = -1;
	long cl = 0;
	const char *p;

	while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
		ssize_t n = have < sizeof(buf) - 1 ? read(fd, buf + have, sizeof(buf) - 1 - have) : -1;

		if (n <= 0)
			fail_msg("no response head (%zu bytes): %s", have, strerror(errno));
		have += (size_t)n;
	}
	buf[have] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &status);
	p = strcasestr(buf, "\r\nContent-Length:");
	if (p && p < eoh)
		cl = strtol(p + 17, NULL, 10);
	need = (size_t)(eoh + 4 - buf) + (size_t)cl;
	while (have < need && have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			fail_msg("response body cut at %zu of %zu bytes", have, need);
		have += (size_t)n;
	}
	return status;
}

static int exchange(int fd, const char *path, int port)
{
	send_str(fd, req_head(path, port));
	return read_response(fd);
}

/* ------------------------------------------------------------------------ */
/* Agent helpers                                                            */
/* ------------------------------------------------------------------------ */

static struct e2e_agent *agent_on_ports(int p1, int p2, const char *const *extra)
{
	const char *args[24] = { "--port", e2e_fmt("%d", p1) };
	struct e2e_agent_opts o = { .args = args };
	size_t n = 2;

	if (p2) {
		args[n++] = "--port";
		args[n++] = e2e_fmt("%d", p2);
	}
	for (; extra && *extra && n + 1 < sizeof(args) / sizeof(args[0]); extra++)
		args[n++] = *extra;
	return e2e_agent_start(&o);
}

/* The agent's connection table (its /conns, through xtap dump conns), as
 * JSON text. */
static const char *agent_conns(struct e2e_agent *a)
{
	const char *argv[] = { e2e_xtap_bin(), "dump", "conns", "-j", "--address",
			       e2e_fmt("127.0.0.1:%d", a->metrics_port), NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);

	if (r.status)
		fail_msg("xtap dump conns: exit %d\n%s", r.status, r.err);
	return r.out;
}

/* Connections of pid in the agent's table; *pending (if not NULL) gets
 * the requests they hold that await a response. */
static size_t conns_of_pending(struct e2e_agent *a, pid_t pid, size_t *pending)
{
	const char *text = agent_conns(a);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je), *c;
	size_t i, n = 0, p = 0;

	if (!j)
		fail_msg("xtap dump conns -j: %s\n%s", je.text, text);
	json_array_foreach(json_object_get(j, "connections"), i, c) {
		if (e2e_json_num(c, "pid", 0) != pid)
			continue;
		n++;
		p += (size_t)e2e_json_num(c, "pending", 0);
	}
	json_decref(j);
	if (pending)
		*pending = p;
	return n;
}

static size_t conns_of(struct e2e_agent *a, pid_t pid)
{
	return conns_of_pending(a, pid, NULL);
}

/* Wait (bounded) until pid's connections hold a request each side of
 * which awaits its response. */
static void wait_pending(struct e2e_agent *a, pid_t pid)
{
	double end = e2e_mono() + DOC_WAIT;
	size_t p = 0;

	while ((conns_of_pending(a, pid, &p), p == 0) && e2e_mono() < end)
		e2e_sleep(0.1);
	if (!p)
		fail_msg("the agent never had pid %d's request in flight: %s", pid, agent_conns(a));
}

/* Wait (bounded) until pid has no connection in the agent's table. */
static void expect_no_conns(struct e2e_agent *a, pid_t pid)
{
	double end = e2e_mono() + DOC_WAIT;

	while (conns_of(a, pid) && e2e_mono() < end)
		e2e_sleep(0.2);
	if (conns_of(a, pid))
		fail_msg("the agent still holds connections of pid %d: %s", pid, agent_conns(a));
}

static json_t *one_doc(struct e2e_agent *a, const char *type, const char *url)
{
	struct e2e_filter f = { .type = type, .url_contains = url };

	return json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
}

static void expect_none(struct e2e_agent *a, const char *url)
{
	struct e2e_filter f = { .url_contains = url };

	e2e_agent_expect_final(a, &f, 0);
}

/* ------------------------------------------------------------------------ */
/* tracefs                                                                  */
/* ------------------------------------------------------------------------ */

static bool tracefs_here(void)
{
	struct stat st;

	return !stat("/sys/kernel/tracing/events", &st) ||
	       !stat("/sys/kernel/debug/tracing/events", &st);
}

/* Run as NS_WRAPPER: become the agent in a mount namespace of its own,
 * private (so nothing done here reaches the host), without tracefs or the
 * debugfs that would mount it on access. */
static int ns_wrapper(char **argv)
{
	static const char *const mounts[] = { "/sys/kernel/debug/tracing", "/sys/kernel/debug",
					      "/sys/kernel/tracing" };
	const char *real = getenv(REAL_XTAP_ENV);

	if (!real) {
		fprintf(stderr, NS_WRAPPER ": $" REAL_XTAP_ENV " not set\n");
		return 97;
	}
	if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, NS_WRAPPER ": private mount namespace: %s\n", strerror(errno));
		return 97;
	}
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if (umount2(mounts[i], MNT_DETACH) && errno != EINVAL && errno != ENOENT) {
			fprintf(stderr, NS_WRAPPER ": umount %s: %s\n", mounts[i], strerror(errno));
			return 97;
		}
	if (tracefs_here()) {
		fprintf(stderr, NS_WRAPPER ": tracefs still mounted\n");
		return 97;
	}
	argv[0] = (char *)real;
	execv(real, argv);
	fprintf(stderr, NS_WRAPPER ": exec %s: %s\n", real, strerror(errno));
	return 97;
}

/* $XTAP_BIN while the test points it at the wrapper; put back at teardown,
 * even after a failure */
static char *saved_bin;
static bool bin_swapped;

static void restore_xtap_bin(void)
{
	if (!bin_swapped)
		return;
	if (saved_bin)
		setenv("XTAP_BIN", saved_bin, 1);
	else
		unsetenv("XTAP_BIN");
	free(saved_bin);
	saved_bin = NULL;
	bin_swapped = false;
}

static int tracefs_teardown(void **state)
{
	restore_xtap_bin();
	return e2e_test_teardown(state);
}

static void test_tracefs_missing(void **state)
{
	char self[PATH_MAX], real[PATH_MAX];
	const char *link = e2e_fmt("%s/" NS_WRAPPER, e2e_tmpdir());
	const char *env[] = { NULL, NULL };
	const char *args[] = { "--port", NULL, NULL };
	struct e2e_agent_opts o = { .args = args, .env = env };
	struct e2e_peer *py = e2e_peer_python();
	struct e2e_agent *a;
	struct e2e_run r;
	json_t *d;
	ssize_t n;

	(void)state;
	if (!tracefs_here())
		fail_msg("tracefs is not mounted on this host: the test needs it to start from");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || !realpath(e2e_xtap_bin(), real))
		fail_msg("resolve this program or %s: %s", e2e_xtap_bin(), strerror(errno));
	self[n] = '\0';
	env[0] = e2e_fmt(REAL_XTAP_ENV "=%s", real);
	if (symlink(self, link))
		fail_msg("symlink %s: %s", link, strerror(errno));
	args[1] = e2e_fmt("%d", py->port);
	saved_bin = getenv("XTAP_BIN") ? strdup(getenv("XTAP_BIN")) : NULL;
	bin_swapped = true;
	setenv("XTAP_BIN", link, 1);
	a = e2e_agent_start(&o);
	restore_xtap_bin();
	if (!strstr(e2e_agent_log(a), "mounted tracefs on /sys/kernel/tracing"))
		fail_msg("the agent did not mount tracefs:\n%s", e2e_agent_log(a));
	r = e2e_curl(e2e_url(py->port, "/hello.txt?t=tracefs"), NULL);
	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl: exit %d, %s %s", r.status, r.out, r.err);
	d = one_doc(a, "segment", "/hello.txt?t=tracefs");
	assert_json_str(d, "http.request.method", "GET");
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "metadata.xtap.pid", py->server_pid);
	/* a client's subsegment names the path without its query */
	d = one_doc(a, "subsegment", "/hello.txt");
	assert_json_int(d, "metadata.xtap.pid", r.pid);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	/* the mount stayed in the agent's namespace */
	assert_true(tracefs_here());
}

/* ------------------------------------------------------------------------ */
/* restart                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * What the BPF side knows of a connection older than the agent: nothing
 * until its first read or write, whose first bytes classify it for good
 * (bpf/capture.bpf.c, sniff). A connection whose next bytes start a
 * request or a status line is traced from there, its role taken from the
 * first request (agent/conn.c); a response first is an orphan, counted. A
 * connection caught in the middle of a head is not HTTP to it, counted
 * (not_http), and stays untraced.
 */
static void test_restart_with_open_connections(void **state)
{
	struct e2e_peer *ng = e2e_peer_nginx();
	struct mini m = { 0 };
	struct e2e_agent *a1, *a2;
	struct e2e_filter seg = { .type = "segment" }, sub = { .type = "subsegment" };
	int k1, k2, k3, k4;
	json_t *d;

	(void)state;
	mini_start(&m, "faults-mini", 0);
	a1 = agent_on_ports(ng->port, m.port, NULL);
	k1 = connect_port(ng->port);
	k3 = connect_port(ng->port);
	k4 = connect_port(m.port);
	assert_int_equal(exchange(k1, "/static/index.html?k1=a1", ng->port), 200);
	d = one_doc(a1, "segment", "/static/index.html?k1=a1");
	assert_json_int(d, "http.response.status", 200);
	one_doc(a1, "subsegment", "/static/index.html");
	/* k3 is half-way through its head when the agent stops */
	send_str(k3, "GET /ok?k3=split HTTP/1.1\r\nHo");
	assert_int_equal(e2e_agent_stop(a1), 0);
	expect_none(a1, "/ok");
	e2e_agent_check_final(a1);

	/* no agent */
	assert_int_equal(exchange(k1, "/ok?k1=gap", ng->port), 200);
	send_str(k3, e2e_fmt("st: 127.0.0.1:%d\r\n\r\n", ng->port));
	assert_int_equal(read_response(k3), 200);
	send_str(k4, req_head("/hold/k4", m.port));
	mini_wait_holding(&m);
	k2 = connect_port(ng->port);
	send_str(k2, "GET /ok?k2=split HTTP/1.1\r\nHo");

	a2 = agent_on_ports(ng->port, m.port, NULL);
	/* idle keep-alive connections: traced from their next request */
	assert_int_equal(exchange(k1, "/s204?k1=a2", ng->port), 204);
	assert_int_equal(exchange(k3, "/static/hello.txt?k3=a2", ng->port), 200);
	/* caught mid-head: never HTTP to this agent */
	send_str(k2, e2e_fmt("st: 127.0.0.1:%d\r\n\r\n", ng->port));
	assert_int_equal(read_response(k2), 200);
	assert_int_equal(exchange(k2, "/s429?k2=after", ng->port), 429);
	/* a response to a request sent before the agent: an orphan at both
	 * ends; the next exchange is traced */
	mini_release(&m);
	assert_int_equal(read_response(k4), 200);
	assert_int_equal(exchange(k4, "/s/201/k4-after", m.port), 201);

	for (int i = 0; i < 2; i++) {
		const char *type = i ? "subsegment" : "segment";

		d = one_doc(a2, type, "/s204");
		assert_json_int(d, "http.response.status", 204);
		d = one_doc(a2, type, "/static/hello.txt");
		assert_json_int(d, "http.response.status", 200);
		d = one_doc(a2, type, "/s/201/k4-after");
		assert_json_int(d, "http.response.status", 201);
		assert_json_int(d, "metadata.xtap.pid", i ? getpid() : m.pid);
	}
	close(k1);
	close(k2);
	close(k3);
	close(k4);
	assert_int_equal(e2e_agent_stop(a2), 0);
	expect_none(a2, "/ok");
	expect_none(a2, "/s429");
	expect_none(a2, "/hold/");
	/* nothing else: three exchanges seen from both ends */
	e2e_agent_expect_final(a2, &seg, 3);
	e2e_agent_expect_final(a2, &sub, 3);
	e2e_agent_check_final(a2);
	assert_int_equal(e2e_agent_counter(a2, "counters", "orphan_responses"), 2);
	assert_int_equal(e2e_agent_counter(a2, "counters", "http_malformed"), 0);
	assert_int_equal(e2e_agent_counter(a2, "counters", "incomplete"), 0);
	assert_true(e2e_agent_counter(a2, "kernel", "not_http") > 0);
	mini_kill(&m);
}

/* ------------------------------------------------------------------------ */
/* overflow                                                                 */
/* ------------------------------------------------------------------------ */

#define URLS_MAX 1024

/* One curl with these args, then the urls (both NULL-terminated, args may
 * be NULL): one kept-alive connection for all of them. */
static struct e2e_proc *curl_spawn(const char *const *args, const char *const *urls)
{
	const char *argv[URLS_MAX + 16] = { "curl", "-sS", "--max-time", "60", "-o", "/dev/null" };
	size_t k = 6;

	for (; args && *args && k < 15; args++)
		argv[k++] = *args;
	for (; *urls && k + 1 < sizeof(argv) / sizeof(argv[0]); urls++)
		argv[k++] = *urls;
	argv[k] = NULL;
	return e2e_spawnv(argv);
}

/* n urls of the port, the paths made from fmt and 0..n-1 (scope-owned) */
static const char *const *urls_fmt(const char *fmt, int port, int n)
{
	const char **u = e2e_alloc(sizeof(*u) * (size_t)(n + 1));

	for (int i = 0; i < n; i++)
		u[i] = e2e_url(port, e2e_fmt(fmt, i));
	return u;
}

/* curl_spawn of urls_fmt, to completion */
static struct e2e_proc *curl_urls(const char *const *args, const char *fmt, int port, int n)
{
	struct e2e_proc *p = curl_spawn(args, urls_fmt(fmt, port, n));

	if (e2e_proc_wait(p, 120))
		fail_msg("curl failed:\n%s", e2e_proc_out(p));
	return p;
}

/* After a burst: request after request until one gets its segment, so the
 * agent has read what the ring buffer held. */
static void wait_caught_up(struct e2e_agent *a, int port)
{
	struct e2e_filter f = { .type = "segment" };
	json_t *d;

	for (int i = 0; i < 10; i++) {
		f.url_contains = e2e_fmt("marker=%d", i);
		assert_int_equal(
			e2e_curl(e2e_url(port, e2e_fmt("/s404?marker=%d", i)), NULL).status, 0);
		d = json_array_get(e2e_agent_wait_docs(a, &f, 1, 3), 0);
		if (d) {
			assert_json_int(d, "http.response.status", 404);
			return;
		}
	}
	fail_msg("the agent never caught up after the burst");
}

/* nginx's /sNNN locations answer NNN, /ok 200 */
static bool status_matches_url(json_t *d, const void *arg)
{
	const char *url = e2e_json_str(d, "http.request.url"), *p;
	json_t *st = e2e_json_get(d, "http.response.status");
	long want = 200;

	(void)arg;
	if (!url)
		return false;
	p = strstr(url, "/s");
	if (p && p[2] >= '0' && p[2] <= '9')
		want = strtol(p + 2, NULL, 10);
	/* a request whose response was lost with the records may be
	 * reported without one, never with another's */
	return !st || json_integer_value(st) == want;
}

#define BURST_CLIENTS 8
#define BURST_PER_CLIENT 200

static void test_ringbuf_overflow(void **state)
{
	static const char *const paths[] = { "/ok", "/s204", "/s404", "/s429", "/s500" };
	const char *const extra[] = { "--ring-buffer-mb", "1", "--capture-bytes", "4096", NULL };
	struct e2e_peer *ng = e2e_peer_nginx();
	struct e2e_agent *a = agent_on_ports(ng->port, 0, extra);
	struct e2e_proc *cl[BURST_CLIENTS];
	char pad[3001];
	const char *big[] = { "-H", NULL, NULL };
	json_t *docs, *d;
	long long drops;
	double end;
	size_t i;

	(void)state;
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	big[1] = e2e_fmt("X-Pad: %s", pad);
	/* on each connection, the statuses take turns */
	for (int c = 0; c < BURST_CLIENTS; c++) {
		const char **u = e2e_alloc(sizeof(*u) * (BURST_PER_CLIENT + 1));

		for (int k = 0; k < BURST_PER_CLIENT; k++)
			u[k] = e2e_url(ng->port,
				       e2e_fmt("%s?burst=%d-%d", paths[(c + k) % 5], c, k));
		cl[c] = curl_spawn(big, u);
	}
	/* the consumer stalls, again and again, while the producers do not:
	 * each connection loses records in several places */
	end = e2e_mono() + 90;
	for (int c = 0; c < BURST_CLIENTS && e2e_mono() < end; c++) {
		while (e2e_proc_alive(cl[c]) && e2e_mono() < end) {
			if (kill(a->proc->pid, SIGSTOP))
				fail_msg("SIGSTOP the agent: %s", strerror(errno));
			e2e_sleep(0.2);
			kill(a->proc->pid, SIGCONT);
			e2e_sleep(0.05);
		}
	}
	kill(a->proc->pid, SIGCONT);
	for (int c = 0; c < BURST_CLIENTS; c++)
		if (e2e_proc_wait(cl[c], 30))
			fail_msg("curl %d failed: %s", c, e2e_proc_out(cl[c]));
	/* the agent carries on: a request after the burst has its segment */
	wait_caught_up(a, ng->port);
	assert_true(e2e_proc_alive(a->proc));
	assert_int_equal(e2e_agent_stop(a), 0);
	drops = e2e_agent_counter(a, "kernel", "ringbuf_drops");
	printf("ring buffer drops: %lld, documents %zu, orphan responses %lld, incomplete %lld\n",
	       drops, json_array_size(e2e_agent_docs(a)),
	       e2e_agent_counter(a, "counters", "orphan_responses"),
	       e2e_agent_counter(a, "counters", "incomplete"));
	assert_true(drops > 0);
	docs = e2e_agent_docs(a);
	/* every document is one of the burst's, with its own status */
	json_array_foreach(docs, i, d) {
		if (!status_matches_url(d, NULL))
			fail_msg("a response paired with another request: %s", e2e_json_dump(d));
		assert_json_str(d, "http.request.method", "GET");
	}
	assert_true(json_array_size(docs) < 2 * (BURST_CLIENTS * BURST_PER_CLIENT + 1));
}

/* With the agent stopped (SIGSTOP), fill its ring buffer to the last
 * bytes: large records, then small ones, then the smallest there are (the
 * EXIT records of short processes), so that no further record fits. */
static void fill_ring(int port)
{
	char pad[3001];
	const char *big[] = { "-H", NULL, NULL };

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	big[1] = e2e_fmt("X-Pad: %s", pad);
	curl_urls(big, "/ok?fill=%d", port, 400);
	curl_urls(NULL, "/ok?top=%d", port, 300);
	for (int i = 0; i < 300; i++) {
		pid_t p = fork();

		if (p < 0)
			fail_msg("fork: %s", strerror(errno));
		if (!p)
			_exit(0);
		waitpid(p, NULL, 0);
	}
}

/*
 * The response to a request is lost with the ring buffer full, and the
 * same connection's next exchange gets through: the first request must not
 * take the second's response.
 */
static void test_ringbuf_gap_same_connection(void **state)
{
	const char *const extra[] = { "--ring-buffer-mb", "1", "--capture-bytes", "4096", NULL };
	struct e2e_peer *ng = e2e_peer_nginx();
	struct mini m = { 0 };
	struct e2e_agent *a;
	json_t *d;
	int fd;

	(void)state;
	mini_start(&m, "srv-gap", 0);
	a = agent_on_ports(m.port, ng->port, extra);
	fd = connect_port(m.port);
	send_str(fd, req_head("/hold/first", m.port));
	wait_pending(a, m.pid);
	wait_pending(a, getpid());
	if (kill(a->proc->pid, SIGSTOP))
		fail_msg("SIGSTOP the agent: %s", strerror(errno));
	fill_ring(ng->port);
	mini_release(&m);
	assert_int_equal(read_response(fd), 200);
	kill(a->proc->pid, SIGCONT);
	wait_caught_up(a, ng->port);
	assert_int_equal(exchange(fd, "/s/202/second", m.port), 202);
	d = one_doc(a, "segment", "/s/202/second");
	assert_json_int(d, "http.response.status", 202);
	assert_json_int(d, "metadata.xtap.pid", m.pid);
	d = one_doc(a, "subsegment", "/s/202/second");
	assert_json_int(d, "http.response.status", 202);
	close(fd);
	mini_kill(&m);
	assert_int_equal(e2e_agent_stop(a), 0);
	/* the request whose response was lost is dropped at both ends */
	expect_none(a, "/hold/first");
	e2e_agent_check_final(a);
	assert_true(e2e_agent_counter(a, "kernel", "ringbuf_drops") > 0);
	/* its two ends, and maybe requests of the burst's connections */
	assert_true(e2e_agent_counter(a, "counters", "gap_dropped") >= 2);
}

/* ------------------------------------------------------------------------ */
/* drain                                                                    */
/* ------------------------------------------------------------------------ */

/* SIGTERM, and the seconds until the agent reports its exporter's final
 * counters: the drain is over then. What follows (detaching the programs,
 * each waiting for an RCU grace period) is the kernel's time, not the
 * drain's, and only bounded by e2e_agent_stop. */
static double timed_stop(struct e2e_agent *a, int *code)
{
	double t0 = e2e_mono(), dt;

	if (kill(a->proc->pid, SIGTERM))
		fail_msg("SIGTERM the agent: %s", strerror(errno));
	while (!strstr(e2e_agent_log(a), "xtap: export: submitted=") && e2e_proc_alive(a->proc) &&
	       e2e_mono() - t0 < 30)
		e2e_sleep(0.05);
	dt = e2e_mono() - t0;
	*code = e2e_agent_stop(a);
	if (!strstr(e2e_agent_log(a), "xtap: export: submitted="))
		fail_msg("no final export line:\n%s", e2e_agent_log(a));
	return dt;
}

/* Everything queued at SIGTERM is written, once. */
static void test_drain_delivers(void **state)
{
	struct e2e_peer *ng = e2e_peer_nginx();
	struct e2e_agent *a = agent_on_ports(ng->port, 0, NULL);
	struct e2e_filter seg = { .type = "segment", .url_contains = "drain=" },
			  sub = { .type = "subsegment", .url_contains = "drain=" };
	struct e2e_proc *curl;
	int code;
	double dt;

	(void)state;
	curl = curl_urls(NULL, "/ok?drain=%d", ng->port, 40);
	sub.url_contains = "/ok";
	sub.pid = curl->pid;
	/* no wait for the documents: SIGTERM right away */
	dt = timed_stop(a, &code);
	assert_int_equal(code, 0);
	if (dt > DRAIN_S + DRAIN_SLACK)
		fail_msg("the agent took %.1f s to drain", dt);
	e2e_agent_expect_final(a, &seg, 40);
	e2e_agent_expect_final(a, &sub, 40);
	e2e_agent_check_final(a);
	assert_int_equal(json_array_size(e2e_agent_udp_docs(a)), 80);
	assert_int_equal(e2e_agent_counter(a, "export", "queue_depth"), 0);
	assert_int_equal(e2e_agent_counter(a, "export", "dropped_full"), 0);
}

/* -o into a pipe whose reader never reads: the exporter's write blocks. */
static void test_drain_blocked_file(void **state)
{
	struct e2e_peer *ng = e2e_peer_nginx();
	const char *fifo = e2e_fmt("%s/out.fifo", e2e_tmpdir());
	const char *extra[] = { "-o", fifo, NULL };
	struct e2e_agent *a;
	double dt, end;
	int rfd, code, queued = 0;

	(void)state;
	if (mkfifo(fifo, 0600))
		fail_msg("mkfifo: %s", strerror(errno));
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0)
		fail_msg("open %s: %s", fifo, strerror(errno));
	a = agent_on_ports(ng->port, 0, extra);
	/* long urls: many bytes of documents */
	curl_urls(NULL, e2e_fmt("/ok?blocked=%%d-%0500d", 0), ng->port, 300);
	/* until one of the agent's threads waits in the full pipe */
	end = e2e_mono() + DOC_WAIT;
	/* anon_pipe_write on 6.x kernels, pipe_write before */
	while (e2e_mono() < end && !waits_in(a->proc->pid, "pipe_write"))
		e2e_sleep(0.1);
	if (!waits_in(a->proc->pid, "pipe_write")) {
		ioctl(rfd, FIONREAD, &queued);
		fail_msg("no thread of the agent is blocked on the pipe (%d bytes in it)", queued);
	}
	dt = timed_stop(a, &code);
	printf("drained in %.2f s with the sink blocked\n", dt);
	assert_int_equal(code, 0);
	if (dt > DRAIN_S + DRAIN_SLACK)
		fail_msg("the agent took %.1f s to drain, past its deadline", dt);
	if (!strstr(e2e_agent_log(a), "not delivered"))
		fail_msg("the agent did not say what it could not deliver:\n%s", e2e_agent_log(a));
	assert_true(e2e_agent_counter(a, "export", "queue_depth") +
			    e2e_agent_counter(a, "export", "dropped_full") >
		    0);
	close(rfd);
}

/* An X-Ray endpoint that accepts connections (the kernel does) and never
 * answers. */
static void test_drain_api_unanswered(void **state)
{
	struct e2e_peer *ng = e2e_peer_nginx();
	int port, lfd = listen_any(&port);
	const char *extra[] = { "--export", "api", "--xray-endpoint",
				e2e_fmt("http://127.0.0.1:%d", port), NULL };
	const char *env[] = { "AWS_REGION=us-west-2", "AWS_EC2_METADATA_DISABLED=true",
			      "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
			      "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
			      "AWS_CONTAINER_CREDENTIALS_FULL_URI",
			      "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL",
			      "AWS_ENDPOINT_URL_XRAY", "http_proxy", "HTTP_PROXY", NULL };
	const char *args[24] = { "--port", e2e_fmt("%d", ng->port), "--no-daemon", "--sampling",
				 "off" };
	struct e2e_agent_opts o = { .args = args, .env = env };
	struct e2e_filter seg = { .type = "segment", .url_contains = "api=" };
	struct e2e_agent *a;
	long long sent, failed, dropped, submitted;
	double dt;
	int code;

	(void)state;
	for (size_t i = 0; extra[i]; i++)
		args[5 + i] = extra[i];
	a = e2e_agent_start(&o);
	for (int k = 0; k < 5; k++)
		assert_int_equal(e2e_curl(e2e_url(ng->port, e2e_fmt("/ok?api=%d", k)), NULL).status,
				 0);
	assert_doc_count(e2e_agent_wait_docs(a, &seg, 5, DOC_WAIT), 5);
	e2e_agent_expect_final(a, &seg, 5);
	dt = timed_stop(a, &code);
	printf("drained in %.2f s with the X-Ray API unanswered\n", dt);
	assert_int_equal(code, 0);
	if (dt > DRAIN_S + DRAIN_SLACK)
		fail_msg("the agent took %.1f s to drain, past its deadline", dt);
	e2e_agent_check_final(a);
	submitted = e2e_agent_counter(a, "xray", "submitted");
	sent = e2e_agent_counter(a, "xray", "sent");
	failed = e2e_agent_counter(a, "xray", "failed");
	dropped = e2e_agent_counter(a, "xray", "dropped_full");
	assert_int_equal(submitted, 10);
	assert_int_equal(sent, 0);
	assert_int_equal(failed + dropped, submitted);
	if (!strstr(e2e_agent_log(a), "not delivered"))
		fail_msg("the agent did not say what it could not deliver:\n%s", e2e_agent_log(a));
	close(lfd);
}

/* ------------------------------------------------------------------------ */
/* pid reuse, exec                                                          */
/* ------------------------------------------------------------------------ */

/* An exchange on fd tagged `who`: its segment carries the server's name. */
static void exchange_named(struct e2e_agent *a, struct mini *m, int fd, const char *who)
{
	const char *path = e2e_fmt("/s/200?who=%s", who);
	json_t *d;

	assert_int_equal(exchange(fd, path, m->port), 200);
	d = one_doc(a, "segment", path);
	assert_json_str(d, "name", m->name);
	assert_json_str(d, "metadata.xtap.comm", m->name);
	assert_json_int(d, "metadata.xtap.pid", m->pid);
}

/* A last exchange on a new connection, named after the server running
 * now; then the server and the agent stop, and the counts are checked. */
static void last_exchange_named(struct e2e_agent *a, struct mini *m, const char *who)
{
	int fd = connect_port(m->port);

	exchange_named(a, m, fd, who);
	close(fd);
	mini_kill(m);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

static void test_pid_reuse_names(void **state)
{
	struct mini m = { 0 };
	struct e2e_agent *a;
	pid_t first;
	int fd;

	(void)state;
	mini_start(&m, "srv-one", 0);
	a = agent_on_ports(m.port, 0, NULL);
	fd = connect_port(m.port);
	exchange_named(a, &m, fd, "one");
	first = m.pid;
	/* the server dies with the connection open */
	mini_kill(&m);
	close(fd);
	mini_start(&m, "srv-two", first);
	assert_int_equal(m.pid, first);
	last_exchange_named(a, &m, "two");
}

/* A server's EXIT record is lost (the agent stopped, its ring buffer
 * full) and its pid comes back as another server: the agent must not take
 * the new one for the old. */
static void test_pid_reuse_exit_lost(void **state)
{
	const char *const extra[] = { "--ring-buffer-mb", "1", "--capture-bytes", "4096", NULL };
	struct e2e_peer *ng = e2e_peer_nginx();
	struct mini m = { 0 };
	struct e2e_agent *a;
	pid_t first;
	int fd;

	(void)state;
	mini_start(&m, "srv-one", 0);
	a = agent_on_ports(m.port, ng->port, extra);
	fd = connect_port(m.port);
	exchange_named(a, &m, fd, "one");
	first = m.pid;
	if (kill(a->proc->pid, SIGSTOP))
		fail_msg("SIGSTOP the agent: %s", strerror(errno));
	fill_ring(ng->port);
	mini_kill(&m);
	close(fd);
	kill(a->proc->pid, SIGCONT);
	wait_caught_up(a, ng->port);
	mini_start(&m, "srv-two", first);
	assert_int_equal(m.pid, first);
	last_exchange_named(a, &m, "two");
	assert_true(e2e_agent_counter(a, "kernel", "ringbuf_drops") > 0);
	assert_int_equal(e2e_agent_counter(a, "counters", "pids_reused"), 1);
}

/* The same process execs another program while the agent holds one of its
 * connections (closed by the exec, so no close(2) is seen). */
static void test_exec_names(void **state)
{
	struct mini m = { 0 };
	struct e2e_agent *a;
	int fd;

	(void)state;
	mini_start(&m, "srv-before", 0);
	a = agent_on_ports(m.port, 0, NULL);
	fd = connect_port(m.port);
	exchange_named(a, &m, fd, "before");
	assert_int_equal(exchange(fd, "/exec/now", m.port), 200);
	close(fd);
	m.name = "srv-exec";
	last_exchange_named(a, &m, "after");
}

/* ------------------------------------------------------------------------ */
/* killed                                                                   */
/* ------------------------------------------------------------------------ */

static void test_server_killed_mid_response(void **state)
{
	struct mini m = { 0 };
	struct e2e_agent *a;
	char buf[512];
	size_t have = 0;
	pid_t srv;
	json_t *d;
	int fd;

	(void)state;
	mini_start(&m, "srv-half", 0);
	a = agent_on_ports(m.port, 0, NULL);
	fd = connect_port(m.port);
	send_str(fd, req_head("/half/x", m.port));
	/* the head and half the body */
	while (have < 80) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			fail_msg("half response: %s", strerror(errno));
		have += (size_t)n;
	}
	srv = m.pid;
	mini_kill(&m);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* each end: the request and the head its answer began with */
	d = one_doc(a, "segment", "/half/x");
	assert_json_int(d, "metadata.xtap.pid", srv);
	assert_json_int(d, "http.response.status", 200);
	d = one_doc(a, "subsegment", "/half/x");
	assert_json_int(d, "http.response.status", 200);
	expect_no_conns(a, srv);
	expect_no_conns(a, getpid());
	assert_true(e2e_proc_alive(a->proc));
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 1);
	assert_int_equal(e2e_agent_counter(a, "counters", "subsegments"), 1);
}

static void test_client_killed_waiting(void **state)
{
	struct mini m = { 0 };
	struct e2e_agent *a;
	pid_t client;
	json_t *d;
	int st, fd;

	(void)state;
	mini_start(&m, "srv-hold", 0);
	a = agent_on_ports(m.port, 0, NULL);
	client = fork();
	if (client < 0)
		fail_msg("fork: %s", strerror(errno));
	if (!client) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60);
		fd = connect_port(m.port);
		send_str(fd, req_head("/hold/client", m.port));
		for (;;)
			pause();
	}
	/* until the agent has its request in flight at both ends */
	wait_pending(a, client);
	wait_pending(a, m.pid);
	kill(client, SIGKILL);
	waitpid(client, &st, 0);
	mini_release(&m);
	/* the client waited in vain: incomplete */
	d = one_doc(a, "subsegment", "/hold/client");
	assert_json_int(d, "metadata.xtap.pid", client);
	assert_json_true(d, "fault");
	assert_json_absent(d, "http.response");
	/* the server answered a closed connection */
	d = one_doc(a, "segment", "/hold/client");
	assert_json_int(d, "metadata.xtap.pid", m.pid);
	assert_json_int(d, "http.response.status", 200);
	expect_no_conns(a, client);
	expect_no_conns(a, m.pid);
	assert_true(e2e_proc_alive(a->proc));
	mini_kill(&m);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_counter(a, "counters", "incomplete"), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, e2e_test_setup, e2e_test_teardown)
		cmocka_unit_test_setup_teardown(test_tracefs_missing, e2e_test_setup,
						tracefs_teardown),
		T(test_restart_with_open_connections),
		T(test_ringbuf_overflow),
		T(test_ringbuf_gap_same_connection),
		T(test_drain_delivers),
		T(test_drain_blocked_file),
		T(test_drain_api_unanswered),
		T(test_pid_reuse_names),
		T(test_pid_reuse_exit_lost),
		T(test_exec_names),
		T(test_server_killed_mid_response),
		T(test_client_killed_waiting),
#undef T
	};

	if (!strcmp(basename(argv[0]), NS_WRAPPER))
		return ns_wrapper(argv);
	if (argc == 5 && !strcmp(argv[1], MINI_EXEC)) {
		mini_loop(atoi(argv[2]), atoi(argv[3]), argv[4]);
		return 1;
	}
	/* FAULTS_TESTS=pattern runs only the matching tests (cmocka's filter) */
	if (getenv("FAULTS_TESTS"))
		cmocka_set_test_filter(getenv("FAULTS_TESTS"));
	return cmocka_run_group_tests_name("faults", tests, e2e_group_setup, e2e_group_teardown);
}
