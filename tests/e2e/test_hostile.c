// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hostile bytes on the wire, end to end: the agent watches real servers on
 * 127.0.0.1 (python3 http.server, nginx, and two small servers running as
 * threads of this process) while this process sends what no polite client
 * sends: 100 KB heads, 10,000 header lines, NUL bytes, invalid UTF-8, heads
 * dribbled a byte at a time or never finished, half-closed and reset
 * connections, the HTTP/2 preface, a TLS ClientHello, redis and postgres.
 *
 * After each case a plain request on a fresh connection must still give its
 * segment (the agent is alive and its state not poisoned), the documents of
 * the case must be exactly the expected ones (none for what is not HTTP),
 * and the counter that says what was dropped must have moved (read from the
 * agent's /metrics between cases). At the end every line of the output file
 * and every UDP datagram must be JSON in valid UTF-8, the agent's resident
 * memory must have stayed within its bounds, and no payload byte may appear
 * in its log. test_wire.c covers split, pipelined and plain non-HTTP
 * exchanges; this file does not repeat them.
 *
 * Groups:
 *   hostile  one agent, the cases above
 *   harness  the checks used here fail on invalid JSON (a child run of this
 *            program that must fail)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define DOC_WAIT 15.0
/* In headers and bodies of every case; must never reach the agent's log. */
#define MARK "hostile-payload-5c1e0d9a"

/* ------------------------------------------------------------------------ */
/* Raw sockets                                                              */
/* ------------------------------------------------------------------------ */

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

/* Send what the peer takes; false once it refuses (reset, closed). */
static bool send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read until the peer closes, max bytes (0: no limit but the buffer), an
 * error, or timeout; scope-owned, NUL-terminated. */
static char *recv_until(int fd, size_t max, double timeout, size_t *got)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = e2e_alloc(cap + 1);
	double end = e2e_mono() + timeout;

	if (!max || max > cap)
		max = cap;
	while (len < max) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = end - e2e_mono();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			break;
		n = recv(fd, buf + len, max - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (got)
		*got = len;
	return buf;
}

/* Close so that the peer gets a RST, not a FIN. */
static void close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		fail_msg("SO_LINGER: %s", strerror(errno));
	close(fd);
}

/* One connection: send, read the answer until close, close. */
static char *exchange(int port, const void *data, size_t len, double timeout)
{
	int fd = tcp_connect(port);
	char *r;

	send_all(fd, data, len);
	r = recv_until(fd, 0, timeout, NULL);
	close(fd);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Servers running as threads of this process                               */
/* ------------------------------------------------------------------------ */

/* A bare HTTP/1.1 server (one thread per connection, the answer decided by
 * the path) or a binary one (RESP and the postgres protocol). */
enum srv_kind { SRV_HTTP, SRV_PROTO };

struct srv {
	enum srv_kind kind;
	int lfd;
	int port;
	pthread_t th;
	atomic_bool stop;
	atomic_int active;
};

#define SRV_IDLE_MS 10000
/* the 100 KB response head of /bighead */
#define BIG_HEAD (100 * 1024)
/* /bigbody's Content-Length: far more than socket buffers hold, so the
 * client's reset finds the server still writing */
#define BIG_BODY (64u << 20)

static bool srv_readable(struct srv *s, int fd)
{
	for (int waited = 0; waited < SRV_IDLE_MS && !atomic_load(&s->stop); waited += 100) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, 100);

		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
	return false;
}

/* Read a head (to CRLFCRLF) into buf; its length, 0 on close or error. */
static size_t srv_read_head(struct srv *s, int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap - 1 && srv_readable(s, fd)) {
		/* 1 KB at a time, as nginx's client_header_buffer_size: each
		 * read fits the agent's default capture */
		ssize_t n = recv(fd, buf + len, cap - 1 - len < 1024 ? cap - 1 - len : 1024, 0);
		char *e;

		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		e = memmem(buf, len, "\r\n\r\n", 4);
		if (e)
			return (size_t)(e + 4 - buf);
	}
	return 0;
}

static void srv_http_conn(struct srv *s, int fd)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				 "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
	char *buf = malloc(256 * 1024), *cl;
	size_t hl = buf ? srv_read_head(s, fd, buf, 256 * 1024) : 0;

	if (!hl)
		goto out;
	if (!strncmp(buf, "GET /bighead", 12)) {
		size_t n = 0;
		char *h = malloc(BIG_HEAD + 256);

		if (!h)
			goto out;
		n += (size_t)sprintf(h, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
		for (int i = 0; n < BIG_HEAD; i++)
			n += (size_t)sprintf(h + n, "X-Pad-%05d: " MARK " %0200d\r\n", i, i);
		n += (size_t)sprintf(h + n, "Content-Length: 3\r\nConnection: close\r\n\r\nok\n");
		send_all(fd, h, n);
		free(h);
	} else if (!strncmp(buf, "GET /bigbody", 12)) {
		char head[160], *blk = malloc(65536);
		size_t sent = 0;

		if (!blk)
			goto out;
		memset(blk, 'b', 65536);
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Length: %u\r\n\r\n",
			 BIG_BODY);
		if (send_all(fd, head, strlen(head)))
			while (sent < BIG_BODY && send_all(fd, blk, 65536))
				sent += 65536;
		free(blk);
	} else if ((cl = strcasestr(buf, "\r\nContent-Length: ")) && cl < buf + hl) {
		/* read the body the head announced; the client may reset first */
		size_t want = strtoul(cl + 18, NULL, 10), have = 0;

		while (have < want && srv_readable(s, fd)) {
			ssize_t n = recv(fd, buf, 256 * 1024, 0);

			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		send_all(fd, ok, sizeof(ok) - 1);
	} else {
		send_all(fd, ok, sizeof(ok) - 1);
	}
out:
	free(buf);
}

/* RESP: "+PONG" / "+OK" per command; postgres: AuthenticationOk,
 * ParameterStatus, BackendKeyData, ReadyForQuery after the startup
 * message, then a one-row result for a Query. */
static void srv_proto_conn(struct srv *s, int fd)
{
	static const unsigned char pg_ready[] = {
		'R', 0, 0, 0, 8, 0, 0, 0, 0, /* AuthenticationOk */
		'S', 0, 0, 0, 25, 'c', 'l', 'i', 'e', 'n', 't', '_', 'e', 'n', 'c', 'o', 'd', 'i',
		'n', 'g', 0, 'U', 'T', 'F', '8', 0, /* ParameterStatus */
		'K', 0, 0, 0, 12, 0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef, /* BackendKeyData */
		'Z', 0, 0, 0, 5, 'I', /* ReadyForQuery */
	};
	static const unsigned char pg_row[] = {
		'T', 0, 0, 0, 33, 0, 1, '?', 'c', 'o', 'l', 'u', 'm', 'n', '?', 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0x17, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0, /* RowDescription */
		'D', 0, 0, 0, 11, 0, 1, 0, 0, 0, 1, '1', /* DataRow */
		'C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, /* CommandComplete */
		'Z', 0, 0, 0, 5, 'I',
	};
	unsigned char buf[4096];

	while (srv_readable(s, fd)) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			return;
		if (buf[0] == '*') {
			const char *r = memmem(buf, (size_t)n, "PING", 4) ? "+PONG\r\n" : "+OK\r\n";

			send_all(fd, r, strlen(r));
		} else if (buf[0] == 'Q') {
			send_all(fd, pg_row, sizeof(pg_row));
		} else if (buf[0] == 'X') {
			return; /* Terminate */
		} else {
			send_all(fd, pg_ready, sizeof(pg_ready));
		}
	}
}

struct srv_conn {
	struct srv *s;
	int fd;
};

static void *srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;

	if (c->s->kind == SRV_HTTP)
		srv_http_conn(c->s, c->fd);
	else
		srv_proto_conn(c->s, c->fd);
	close(c->fd);
	atomic_fetch_sub(&c->s->active, 1);
	free(c);
	return NULL;
}

static void *srv_accept_main(void *arg)
{
	struct srv *s = arg;

	/* polls every 100 ms: an hour at most, the group's teardown stops it */
	for (int i = 0; i < 36000 && !atomic_load(&s->stop); i++) {
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		struct srv_conn *c;
		pthread_t th;
		int fd;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		atomic_fetch_add(&s->active, 1);
		if (pthread_create(&th, NULL, srv_conn_main, c)) {
			atomic_fetch_sub(&s->active, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

static void srv_start(struct srv *s, enum srv_kind kind)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->lfd, 64) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &sl) < 0)
		fail_msg("server socket: %s", strerror(errno));
	s->port = ntohs(sa.sin_port);
	if (pthread_create(&s->th, NULL, srv_accept_main, s))
		fail_msg("pthread_create failed");
}

static void srv_stop(struct srv *s)
{
	if (!s->lfd)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	close(s->lfd);
	s->lfd = 0;
	/* connection threads notice stop within 100 ms */
	for (int i = 0; i < 200 && atomic_load(&s->active); i++)
		e2e_sleep(0.05);
}

/* ------------------------------------------------------------------------ */
/* The agent's counters and memory                                          */
/* ------------------------------------------------------------------------ */

static struct e2e_peer *py, *ngx;
static struct srv hsrv, psrv;
static struct e2e_agent *agent;

/* What the cases look at, by Prometheus sample name. */
static const char *const ctr_names[] = {
	"xtap_drops_total{reason=\"head_malformed\"}",
	"xtap_drops_total{reason=\"head_too_large\"}",
	"xtap_bytes_not_http_total",
	"xtap_kernel_not_http_total",
	"xtap_http_lost_sync_total",
	"xtap_http_cut_short_total",
	"xtap_orphan_responses_total",
	"xtap_incomplete_total",
	"xtap_segments_total",
};
enum { C_MALFORMED, C_TOO_LARGE, C_NOT_HTTP, C_K_NOT_HTTP, C_LOST_SYNC, C_CUT_SHORT, C_ORPHAN,
       C_INCOMPLETE, C_SEGMENTS, C_N };

struct ctrs {
	long long v[C_N];
};

static const char *metrics_text(void)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	char *r = exchange(agent->metrics_port, req, sizeof(req) - 1, 10);

	if (strncmp(r, "HTTP/1.", 7) || strncmp(r + 9, "200", 3))
		fail_msg("GET /metrics on 127.0.0.1:%d: %s", agent->metrics_port, e2e_tail(r, 500));
	return r;
}

static long long sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; (p = strstr(p, name)); p += n)
		if (p[-1] == '\n' && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	fail_msg("no sample %s in /metrics:\n%s", name, text);
	return 0;
}

static struct ctrs ctrs_now(void)
{
	const char *t = metrics_text();
	struct ctrs c;

	for (int i = 0; i < C_N; i++)
		c.v[i] = sample(t, ctr_names[i]);
	return c;
}

/* Wait (bounded) until counters i and j (-1: none) together grew past
 * their values in before; their growth. */
static long long ctr_grew2(const struct ctrs *before, int i, int j)
{
	long long d = 0;

	for (int k = 0; k < 100; k++) {
		struct ctrs now = ctrs_now();

		d = now.v[i] - before->v[i] + (j >= 0 ? now.v[j] - before->v[j] : 0);
		if (d > 0)
			break;
		e2e_sleep(0.1);
	}
	if (d <= 0)
		fail_msg("counter %s%s%s did not move\n--- agent log:\n%s", ctr_names[i],
			 j >= 0 ? " + " : "", j >= 0 ? ctr_names[j] : "",
			 e2e_tail(e2e_agent_log(agent), 2000));
	return d;
}

static long long ctr_grew(const struct ctrs *before, int i)
{
	return ctr_grew2(before, i, -1);
}

static void ctr_same(const struct ctrs *before, int i)
{
	long long now = ctrs_now().v[i];

	if (now != before->v[i])
		fail_msg("counter %s moved: %lld -> %lld", ctr_names[i], before->v[i], now);
}

/* kB of a "Key:" line of /proc/PID/status. */
static long proc_status_kb(pid_t pid, const char *key)
{
	char *s = e2e_read_file(e2e_fmt("/proc/%d/status", (int)pid), NULL);
	const char *p = s ? strstr(s, key) : NULL;

	if (!p)
		fail_msg("no %s in /proc/%d/status", key, (int)pid);
	return strtol(p + strlen(key), NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* Per case: what the output held before, and the follow-up request         */
/* ------------------------------------------------------------------------ */

static size_t n_expected; /* documents the cases so far must have produced */
static long hwm_start_kb;

/* Clients' urls keep only the path (as Node's do), so the cases put their
 * tag in the path: "/tag". */
static bool url_has(json_t *doc, const void *tag)
{
	const char *u = e2e_json_str(doc, "http.request.url");

	return u && strstr(u, tag);
}

/* A plain request on a fresh connection after a case: its segment (python,
 * the server) and subsegment (curl, the client) both come, exact. */
static void follow_up(const char *tag)
{
	const char *path = e2e_fmt("/hello.txt?after=%s", tag + (tag[0] == '/'));
	struct e2e_run r;
	struct e2e_filter seg = { .type = "segment", .url_contains = path };
	struct e2e_filter sub = { .type = "subsegment", .url_contains = "/hello.txt" };
	json_t *d;

	assert_true(e2e_proc_alive(agent->proc));
	r = e2e_curl(e2e_url(py->port, path), NULL);
	assert_int_equal(r.status, 0);
	d = json_array_get(e2e_agent_expect_docs(agent, &seg, 1, DOC_WAIT), 0);
	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url", e2e_fmt("http://127.0.0.1:%d%s", py->port, path));
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "http.response.content_length", 12);
	assert_json_absent(d, "fault");
	assert_json_absent(d, "error");
	assert_json_absent(d, "metadata.xtap.head_truncated");
	assert_json_int(d, "metadata.xtap.pid", py->server_pid);
	sub.pid = r.pid;
	d = json_array_get(e2e_agent_expect_docs(agent, &sub, 1, DOC_WAIT), 0);
	assert_json_int(d, "http.response.status", 200);
	n_expected += 2;
}

/* Every document so far is one the cases expected: nothing made of the
 * hostile bytes got out. */
static void no_extra_docs(void)
{
	json_t *docs = e2e_agent_docs(agent);

	if (json_array_size(docs) != n_expected)
		fail_msg("%zu documents, expected %zu: %s", json_array_size(docs), n_expected,
			 e2e_json_dump(docs));
}

/* Exactly n documents of type (NULL: both) whose url holds tag. */
static json_t *expect_tagged(const char *type, const char *tag, size_t n)
{
	struct e2e_filter f = { .type = type, .pred = url_has, .pred_arg = tag };
	json_t *docs = e2e_agent_expect_docs(agent, &f, n, DOC_WAIT);

	n_expected += n;
	return docs;
}

/* The case left no document at all: the follow-up's came, nothing else. */
static void expect_nothing(const char *tag)
{
	follow_up(tag);
	e2e_sleep(0.3);
	no_extra_docs();
}

/* The one GET of a case: its segment (returned) and subsegment, each with
 * the status the server sent; the head was cut short of what was sent. */
static json_t *expect_truncated_get(const char *tag, int port, int status)
{
	json_t *d = json_array_get(expect_tagged("segment", tag, 1), 0);
	json_t *sub = json_array_get(expect_tagged("subsegment", tag, 1), 0);

	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url", e2e_fmt("http://127.0.0.1:%d%s", port, tag));
	assert_json_int(d, "http.response.status", status);
	assert_json_true(d, "metadata.xtap.head_truncated");
	assert_json_int(sub, "http.response.status", status);
	return d;
}

/* A head past what the agent keeps is counted at both ends, the server's
 * read and this process's write: as too large when it came in captured
 * pieces up to HTTP_HEAD_MAX, as lost sync when one syscall moved more
 * than the capture (1 KB by default) and the end of the head went unseen.
 * Nothing is malformed, and the agent goes on. */
static void truncated_case_end(const struct ctrs *c0, const char *tag)
{
	assert_true(ctr_grew2(c0, C_TOO_LARGE, C_LOST_SYNC) >= 2);
	ctr_same(c0, C_MALFORMED);
	follow_up(tag);
	no_extra_docs();
}

/* A GET of path with 52 fields of 2000 bytes: a head of over 100 KB. */
static size_t big_request(char *req, const char *path, int port)
{
	size_t n = (size_t)sprintf(req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", path, port);

	for (int i = 0; i < 52; i++) {
		n += (size_t)sprintf(req + n, "X-Big-%02d: " MARK, i);
		memset(req + n, 'a' + i % 26, 2000);
		n += 2000;
		n += (size_t)sprintf(req + n, "\r\n");
	}
	n += (size_t)sprintf(req + n, "Connection: close\r\n\r\n");
	assert_true(n > 100 * 1024);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Group "hostile"                                                          */
/* ------------------------------------------------------------------------ */

/* python serves these too, so that each case has a path of its own */
static const char *const py_files[] = { "/head100k.txt", "/memrepeat.txt", "/dribble.txt",
					"/halfclose.txt" };

static int hostile_setup(void **state)
{
	e2e_group_setup(state);
	py = e2e_peer_python();
	for (size_t i = 0; i < sizeof(py_files) / sizeof(py_files[0]); i++)
		e2e_write_file(e2e_fmt("%s%s", py->dir, py_files[i]), E2E_HELLO_BODY,
			       strlen(E2E_HELLO_BODY));
	ngx = e2e_peer_nginx();
	srv_start(&hsrv, SRV_HTTP);
	srv_start(&psrv, SRV_PROTO);
	agent = e2e_agent_startl("--port", e2e_fmt("%d", py->port), "--port",
				 e2e_fmt("%d", ngx->port), "--port", e2e_fmt("%d", hsrv.port),
				 "--port", e2e_fmt("%d", psrv.port), NULL);
	return 0;
}

static int hostile_teardown(void **state)
{
	e2e_group_teardown(state);
	srv_stop(&hsrv);
	srv_stop(&psrv);
	return 0;
}

static void test_baseline(void **state)
{
	(void)state;
	follow_up("baseline");
	no_extra_docs();
	/* reset the peak to what is resident now (proc(5), clear_refs "5"), so
	 * that the start-up's own peak cannot hide what the cases add */
	e2e_write_file(e2e_fmt("/proc/%d/clear_refs", (int)agent->proc->pid), "5", 1);
	hwm_start_kb = proc_status_kb(agent->proc->pid, "VmHWM:");
}

/* A 100 KB request head (50 fields of 2 KB: python reads up to 100 fields
 * of 64 KB each) is answered normally; the agent keeps its first 16 KB
 * (HTTP_HEAD_MAX) and says the head was truncated. */
static void test_request_head_100k(void **state)
{
	const char *tag = "/head100k.txt";
	struct ctrs c0 = ctrs_now();
	char *req = e2e_alloc(128 * 1024), *r;
	size_t n;

	(void)state;
	n = big_request(req, tag, py->port);
	r = exchange(py->port, req, n, 15);
	assert_true(strstr(r, " 200 ") && strstr(r, E2E_HELLO_BODY));
	expect_truncated_get(tag, py->port, 200);
	truncated_case_end(&c0, tag);
}

/* 10,000 header lines in one request. nginx refuses the head (its
 * large_client_header_buffers hold 32 KB) with a 4xx; the request line was
 * valid, so one segment with that status. */
static void test_10000_headers(void **state)
{
	const char *tag = "/h10000";
	struct ctrs c0 = ctrs_now();
	char *req = e2e_alloc(256 * 1024), *r;
	size_t n;
	int status;

	(void)state;
	n = (size_t)sprintf(req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", tag, ngx->port);
	for (int i = 0; i < 10000; i++)
		n += (size_t)sprintf(req + n, "X-H%d: %d\r\n", i, i);
	n += (size_t)sprintf(req + n, "X-Mark: " MARK "\r\nConnection: close\r\n\r\n");
	r = exchange(ngx->port, req, n, 15);
	if (strncmp(r, "HTTP/1.1 4", 10))
		fail_msg("nginx did not refuse 10,000 headers: %s", e2e_tail(r, 300));
	status = atoi(r + 9);
	assert_json_true(expect_truncated_get(tag, ngx->port, status), "error");
	truncated_case_end(&c0, tag);
}

/* A response head of 100 KB: the status line is all the agent needs. */
static void test_response_head_100k(void **state)
{
	const char *tag = "/bighead";
	const char *req = e2e_fmt("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				  "Connection: close\r\n\r\n", tag, hsrv.port);
	struct ctrs c0 = ctrs_now();
	char *r;

	(void)state;
	r = exchange(hsrv.port, req, strlen(req), 15);
	assert_true(strlen(r) > BIG_HEAD && !strncmp(r, "HTTP/1.1 200 ", 13));
	assert_json_absent(expect_truncated_get(tag, hsrv.port, 200), "fault");
	truncated_case_end(&c0, tag);
}

/* After the large heads the agent's peak resident memory has grown by less
 * than 32 MiB. What the cases can make it hold: one head buffer per stream
 * of at most HTTP_HEAD_MAX (16 KiB), two streams per connection; with
 * UNFINISHED connections holding heads at once that is 2 * 100 * 16 KiB =
 * 3.2 MiB (the parser's cap on all heads, HTTP_HEAD_BUDGET, is 32 MiB, not
 * reached here). Then the 8 MiB BPF ring buffer, whose pages the agent maps
 * and touches, all of them, while draining the 20 MB below. The rest is
 * room for the ASan allocator: redzones, and its quarantine, which keeps
 * freed memory (every smaller buffer a head grew out of, every finished
 * exchange) resident a while; about 20 MiB in all under ASan, 5 MiB
 * without. Without the per-head bound the 200 KB heads below would hold
 * 2 * 100 * 256 KiB (their buffers double) = 50 MiB at once, far past it. */
#define UNFINISHED 100
#define UNFINISHED_BIG (200 * 1000)
#define HWM_GROWTH_MAX_KB (32 * 1024)

/* An outgoing call whose url holds tag: an independent subsegment, or the
 * only subsegment of a segment of its own. */
static bool call_has(json_t *doc, const void *tag)
{
	const char *type = e2e_json_str(doc, "type");
	json_t *subs = json_object_get(doc, "subsegments");

	if (type && !strcmp(type, "subsegment"))
		return url_has(doc, tag);
	return json_array_size(subs) == 1 && url_has(json_array_get(subs, 0), tag);
}

/* A GET of /unfinished/KIND/I with header lines up to len bytes and no
 * end: its length (at least len). */
static size_t unfinished_head(char *req, const char *kind, int i, size_t len)
{
	size_t n = (size_t)sprintf(req, "GET /unfinished/%s/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n",
				   kind, i);

	while (n < len)
		n += (size_t)sprintf(req + n, "X-U-%06zu: " MARK "\r\n", n);
	return n;
}

static void test_memory_bounded(void **state)
{
	const char *tag = "/memrepeat.txt";
	char *req = e2e_alloc(128 * 1024);
	int fds[UNFINISHED];
	char *heads[UNFINISHED];
	struct ctrs c0;
	json_t *docs;
	long hwm, rss;
	size_t n;

	(void)state;
	/* 40 more 100 KB heads, 4 MB in all: a leak of the heads shows here */
	n = big_request(req, tag, py->port);
	for (int i = 0; i < 40; i++)
		exchange(py->port, req, n, 15);
	expect_tagged("segment", tag, 40);
	expect_tagged("subsegment", tag, 40);
	follow_up(tag);

	/* UNFINISHED heads of 15 KB on as many connections at once, each
	 * write and each of the server's reads captured whole: both ends of
	 * every connection hold a head buffer until the close, which drops
	 * and counts each of them */
	c0 = ctrs_now();
	for (int i = 0; i < UNFINISHED; i++) {
		fds[i] = tcp_connect(hsrv.port);
		n = unfinished_head(req, "held", i, 15000);
		for (size_t off = 0; off < n; off += 1000)
			assert_true(send_all(fds[i], req + off, n - off < 1000 ? n - off : 1000));
	}
	e2e_sleep(1); /* the agent drains what was sent */
	for (int i = 0; i < UNFINISHED; i++)
		close(fds[i]);
	for (int k = 0; k < 100 && ctrs_now().v[C_MALFORMED] - c0.v[C_MALFORMED] < 2 * UNFINISHED;
	     k++)
		e2e_sleep(0.1);
	assert_int_equal(ctrs_now().v[C_MALFORMED] - c0.v[C_MALFORMED], 2 * UNFINISHED);

	/* then heads of 200 KB, grown side by side 1000 bytes at a time: each
	 * stops at HTTP_HEAD_MAX (too large, at both ends), the rest of it is
	 * skipped, and at the close the request it began is one that got no
	 * answer (a fault, incomplete) */
	c0 = ctrs_now();
	for (int i = 0; i < UNFINISHED; i++) {
		fds[i] = tcp_connect(hsrv.port);
		heads[i] = e2e_alloc(UNFINISHED_BIG + 128);
		unfinished_head(heads[i], "big", i, UNFINISHED_BIG);
	}
	/* ~100 KB a round, copied at both ends (~220 KB of records): paced so
	 * that the ring buffer (8 MiB) does not overflow while the sanitized
	 * agent drains it; a lost record would end the connection's requests
	 * as a gap (gap_dropped), which is not what this case is about */
	for (size_t off = 0; off < UNFINISHED_BIG; off += 1000) {
		for (int i = 0; i < UNFINISHED; i++)
			assert_true(send_all(fds[i], heads[i] + off, 1000));
		e2e_sleep(0.02);
	}
	for (int k = 0; k < 200 && ctrs_now().v[C_TOO_LARGE] - c0.v[C_TOO_LARGE] < 2 * UNFINISHED;
	     k++)
		e2e_sleep(0.1);
	assert_int_equal(ctrs_now().v[C_TOO_LARGE] - c0.v[C_TOO_LARGE], 2 * UNFINISHED);
	e2e_sleep(1); /* and the skipped rest */
	hwm = proc_status_kb(agent->proc->pid, "VmHWM:");
	rss = proc_status_kb(agent->proc->pid, "VmRSS:");
	for (int i = 0; i < UNFINISHED; i++)
		close(fds[i]);
	print_message("agent VmHWM %ld kB at start, %ld kB now; VmRSS %ld kB\n", hwm_start_kb, hwm,
		      rss);
	docs = expect_tagged("segment", "/unfinished/big/", UNFINISHED);
	for (size_t i = 0; i < json_array_size(docs); i++) {
		assert_json_true(json_array_get(docs, i), "fault");
		assert_json_true(json_array_get(docs, i), "metadata.xtap.head_truncated");
		assert_json_absent(json_array_get(docs, i), "http.response");
	}
	/* this process serves the other connections while it calls: with
	 * several requests in flight a call cannot be told whose it is, and
	 * is written as a segment of its own around it (link_ambiguous) */
	docs = e2e_agent_expect_docs(agent,
				     &(struct e2e_filter){ .pred = call_has,
							   .pred_arg = "/unfinished/big/" },
				     UNFINISHED, DOC_WAIT);
	n_expected += UNFINISHED;
	for (size_t i = 0; i < json_array_size(docs); i++) {
		json_t *d = json_array_get(docs, i), *subs = json_object_get(d, "subsegments");

		assert_json_true(subs ? json_array_get(subs, 0) : d, "fault");
	}
	assert_int_equal(ctrs_now().v[C_INCOMPLETE] - c0.v[C_INCOMPLETE], 2 * UNFINISHED);
	if (hwm - hwm_start_kb > HWM_GROWTH_MAX_KB)
		fail_msg("agent peak RSS grew by %ld kB (%ld -> %ld), bound %d kB", hwm - hwm_start_kb,
			 hwm_start_kb, hwm, HWM_GROWTH_MAX_KB);
	no_extra_docs();
}

/* NUL in the method, in the request-target, in a field value and in a field
 * name: never a segment (RFC 9110 5.5: a recipient must reject or replace
 * it; the agent drops the message and counts it). */
static void test_nul_bytes(void **state)
{
	static const char *const reqs[] = {
		"G\0T /hello.txt?t=nul-method HTTP/1.1\r\nHost: h\r\nX-M: " MARK "\r\n\r\n",
		"GET /hello.txt?t=nul\0url HTTP/1.1\r\nHost: h\r\nX-M: " MARK "\r\n\r\n",
		"GET /hello.txt?t=nul-value HTTP/1.1\r\nHost: h\r\nX-V: a\0" MARK "\r\n\r\n",
		"GET /hello.txt?t=nul-name HTTP/1.1\r\nHost: h\r\nX-\0N: " MARK "\r\n\r\n",
		"GET /hello.txt?t=nul-host HTTP/1.1\r\nHost: 127.0.0.1\0.evil\r\nX-M: " MARK "\r\n\r\n",
	};
	static const size_t lens[] = {
		sizeof("G\0T /hello.txt?t=nul-method HTTP/1.1\r\nHost: h\r\nX-M: " MARK "\r\n\r\n") - 1,
		sizeof("GET /hello.txt?t=nul\0url HTTP/1.1\r\nHost: h\r\nX-M: " MARK "\r\n\r\n") - 1,
		sizeof("GET /hello.txt?t=nul-value HTTP/1.1\r\nHost: h\r\nX-V: a\0" MARK "\r\n\r\n") - 1,
		sizeof("GET /hello.txt?t=nul-name HTTP/1.1\r\nHost: h\r\nX-\0N: " MARK "\r\n\r\n") - 1,
		sizeof("GET /hello.txt?t=nul-host HTTP/1.1\r\nHost: 127.0.0.1\0.evil\r\nX-M: " MARK
		       "\r\n\r\n") - 1,
	};
	struct ctrs c0 = ctrs_now();

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		exchange(py->port, reqs[i], lens[i], 10);
	expect_nothing("nul");
	/* the target, value, name and Host cases in both directions */
	assert_true(ctr_grew(&c0, C_MALFORMED) >= 8);
	/* "G\0T" does not start a request at all */
	assert_true(ctr_grew2(&c0, C_NOT_HTTP, C_K_NOT_HTTP) >= 1);
}

/* Invalid UTF-8 in the request-target and in Host is valid HTTP (field
 * values and targets are bytes). The JSON writer keeps valid sequences as
 * they are and writes one \ufffd per byte that is not part of one: it
 * judges the rest of a broken sequence on its own, so a 4-byte sequence
 * cut after 3 bytes gives three (a WHATWG decoder would give one). */
static void test_invalid_utf8(void **state)
{
	/* é valid; lone continuation; 0xff; C3 followed by '('; overlong
	 * C0 AF; a surrogate ED A0 80; a 4-byte sequence cut short */
	static const char target[] = "/u8?t=utf8&v=caf\xc3\xa9-\x80-\xff-\xc3(-\xc0\xaf-\xed\xa0\x80-"
				     "\xf0\x9f\x98-end";
	static const char want_target[] =
		"/u8?t=utf8&v=caf\xc3\xa9-\xef\xbf\xbd-\xef\xbf\xbd-\xef\xbf\xbd(-"
		"\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-end";
	/* what the file holds for it, byte for byte */
	static const char want_json[] =
		"/u8?t=utf8&v=caf\xc3\xa9-\\ufffd-\\ufffd-\\ufffd(-\\ufffd\\ufffd-"
		"\\ufffd\\ufffd\\ufffd-\\ufffd\\ufffd\\ufffd-end";
	static const char host[] = "h\xfe\xffst.\xe2\x82.example";
	static const char want_host[] = "h\xef\xbf\xbd\xef\xbf\xbdst.\xef\xbf\xbd\xef\xbf\xbd.example";
	const char *req = e2e_fmt("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: \xff" MARK
				  "\r\nConnection: close\r\n\r\n",
				  target, host, py->port);
	const char *file;
	char *r;
	int status;
	json_t *d;

	(void)state;
	r = exchange(py->port, req, strlen(req), 10);
	/* python refuses the target (400) or finds no such file (404) */
	if (strncmp(r, "HTTP/1.0 4", 10))
		fail_msg("python did not answer 4xx: %s", e2e_tail(r, 300));
	status = atoi(r + 9);
	d = json_array_get(expect_tagged("segment", "/u8", 1), 0);
	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://%s:%d%s", want_host, py->port, want_target));
	assert_json_int(d, "http.response.status", status);
	assert_json_true(d, "error");
	assert_json_str(d, "http.request.user_agent", "\xef\xbf\xbd" MARK);
	d = json_array_get(expect_tagged("subsegment", "/u8", 1), 0);
	assert_json_str(d, "http.request.url", e2e_fmt("http://%s/u8", want_host));
	/* X-Ray names allow letters, digits and a few signs: U+FFFD is none */
	assert_json_str(d, "name", "h__st.__.example");
	/* the escapes themselves, as written */
	file = e2e_read_file(agent->out_path, NULL);
	assert_non_null(file);
	if (!strstr(file, want_json))
		fail_msg("no \"%s\" in the output:\n%s", want_json, e2e_tail(file, 3000));
	follow_up("utf8");
	no_extra_docs();
}

/* A head dribbled one byte per 100 ms (about 5 s): one segment, exact. */
static void test_slowloris_complete(void **state)
{
	const char *tag = "/dribble.txt";
	const char *req = e2e_fmt("GET %s HTTP/1.0\r\nX-M: " MARK "\r\n\r\n", tag);
	struct e2e_chunk *ch = e2e_alloc(strlen(req) * sizeof(*ch));
	struct e2e_tcp_opts o = { .port = py->port, .chunks = ch, .n_chunks = strlen(req),
				  .pause = 0.1, .timeout = 30 };
	struct ctrs c0 = ctrs_now();
	struct e2e_tcp_result r;
	json_t *d;

	(void)state;
	for (size_t i = 0; i < o.n_chunks; i++)
		ch[i] = (struct e2e_chunk){ req + i, 1 };
	r = e2e_tcp_exchange(&o);
	assert_true(r.closed && !strncmp(r.data, "HTTP/1.0 200 ", 13));
	d = json_array_get(expect_tagged("segment", tag, 1), 0);
	assert_json_str(d, "http.request.method", "GET");
	/* no Host: the url is made of the server's address */
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://127.0.0.1:%d%s", py->port, tag));
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "http.response.content_length", 12);
	assert_json_absent(d, "metadata.xtap.head_truncated");
	assert_doc_duration(d, 0.1 * (double)(o.n_chunks - 1) - 1.0, 120);
	expect_tagged("subsegment", tag, 1);
	follow_up(tag);
	no_extra_docs();
	ctr_same(&c0, C_MALFORMED);
	ctr_same(&c0, C_LOST_SYNC);
}

/* A head dribbled for 2 s and never finished, then closed: nothing to
 * report but the count of heads cut off. */
static void test_slowloris_abandoned(void **state)
{
	static const char req[] = "GET /hello.txt?t=abandoned HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M: " MARK;
	struct ctrs c0 = ctrs_now();
	int fd = tcp_connect(py->port);

	(void)state;
	for (size_t i = 0; i < 20; i++) {
		assert_true(send_all(fd, req + i, 1));
		e2e_sleep(0.1);
	}
	assert_true(send_all(fd, req + 20, sizeof(req) - 21));
	close(fd);
	expect_nothing("abandoned");
	/* this process's write side and the server's read side */
	assert_true(ctr_grew(&c0, C_MALFORMED) >= 2);
}

/* shutdown(SHUT_WR) right after the request: the server still answers, and
 * the exchange is a normal one. */
static void test_half_close(void **state)
{
	const char *tag = "/halfclose.txt";
	const char *req = e2e_fmt("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				  "X-M: " MARK "\r\n\r\n", tag, py->port);
	struct e2e_chunk ch = { req, 0 };
	struct e2e_tcp_opts o = { .port = py->port, .chunks = &ch, .n_chunks = 1, .shut_wr = true,
				  .timeout = 10 };
	struct e2e_tcp_result r = e2e_tcp_exchange(&o);
	json_t *d;

	(void)state;
	assert_true(r.closed && !strncmp(r.data, "HTTP/1.0 200 ", 13));
	d = json_array_get(expect_tagged("segment", tag, 1), 0);
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://127.0.0.1:%d%s", py->port, tag));
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "http.response.content_length", 12);
	assert_json_absent(d, "fault");
	d = json_array_get(expect_tagged("subsegment", tag, 1), 0);
	assert_json_int(d, "http.response.status", 200);
	follow_up(tag);
	no_extra_docs();
}

/* The client resets while the server is writing a 64 MB body: the exchange
 * happened (status 200 was sent), its body was cut short, which is
 * counted. */
static void test_reset_mid_response(void **state)
{
	const char *tag = "/bigbody";
	const char *req = e2e_fmt("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				  "X-M: " MARK "\r\n\r\n", tag, hsrv.port);
	struct ctrs c0 = ctrs_now();
	int fd = tcp_connect(hsrv.port);
	size_t got;
	char *r;
	json_t *d;

	(void)state;
	assert_true(send_all(fd, req, strlen(req)));
	r = recv_until(fd, 256 * 1024, 10, &got);
	assert_true(got == 256 * 1024 && !strncmp(r, "HTTP/1.1 200 ", 13));
	close_reset(fd);
	d = json_array_get(expect_tagged("segment", tag, 1), 0);
	assert_json_str(d, "http.request.method", "GET");
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://127.0.0.1:%d%s", hsrv.port, tag));
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "http.response.content_length", BIG_BODY);
	expect_tagged("subsegment", tag, 1);
	/* both ends saw the body stop before its Content-Length */
	assert_true(ctr_grew(&c0, C_CUT_SHORT) >= 2);
	follow_up(tag);
	no_extra_docs();
}

/* The client resets in the middle of a request: inside its head (nothing
 * to report but the cut head), then inside its body (a request that got no
 * response: a fault, counted as incomplete). */
static void test_reset_mid_request(void **state)
{
	const char *tag = "/upload";
	const char *head_part = e2e_fmt("GET %s-head HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M: " MARK,
					tag);
	const char *post = e2e_fmt("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				   "Content-Length: 1000000\r\n\r\n" MARK, tag, hsrv.port);
	struct ctrs c0 = ctrs_now();
	int fd;
	json_t *d;

	(void)state;
	fd = tcp_connect(hsrv.port);
	assert_true(send_all(fd, head_part, strlen(head_part)));
	e2e_sleep(0.2);
	close_reset(fd);
	assert_true(ctr_grew(&c0, C_MALFORMED) >= 1);

	fd = tcp_connect(hsrv.port);
	assert_true(send_all(fd, post, strlen(post)));
	e2e_sleep(0.2);
	close_reset(fd);
	d = json_array_get(expect_tagged("segment", tag, 1), 0);
	assert_json_str(d, "http.request.method", "POST");
	assert_json_str(d, "http.request.url",
			e2e_fmt("http://127.0.0.1:%d%s", hsrv.port, tag));
	assert_json_true(d, "fault");
	assert_json_absent(d, "http.response");
	d = json_array_get(expect_tagged("subsegment", tag, 1), 0);
	assert_json_true(d, "fault");
	assert_true(ctr_grew(&c0, C_INCOMPLETE) >= 2);
	assert_true(ctr_grew(&c0, C_CUT_SHORT) >= 2);
	follow_up(tag);
	no_extra_docs();
}

/* The HTTP/2 prior-knowledge preface and a SETTINGS frame to an HTTP/1.x
 * server: no segment (python's 505 answers no request the agent saw). */
static void test_h2_preface(void **state)
{
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				 "\x00\x00\x06\x04\x00\x00\x00\x00\x00" /* SETTINGS, 6 bytes */
				 "\x00\x03\x00\x00\x00\x64"; /* MAX_CONCURRENT_STREAMS 100 */
	struct ctrs c0 = ctrs_now();

	(void)state;
	exchange(py->port, h2, sizeof(h2) - 1, 10);
	expect_nothing("h2");
	assert_true(ctr_grew2(&c0, C_NOT_HTTP, C_K_NOT_HTTP) >= 1);
	ctr_same(&c0, C_MALFORMED);
}

/* A TLS 1.3 ClientHello to the plain HTTP port: python answers 400 to it,
 * the agent makes nothing of either. */
static void test_tls_to_plain_port(void **state)
{
	static const unsigned char hello[] = {
		0x16, 0x03, 0x01, 0x00, 0x4a, 0x01, 0x00, 0x00, 0x46, 0x03, 0x03, /* record, hello */
		0x8d, 0x1f, 0x6e, 0x01, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
		0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
		0xaa, 0xbb, 0xcc, 0xdd, /* random */
		0x00, /* session id */
		0x00, 0x04, 0x13, 0x01, 0x13, 0x02, /* cipher suites */
		0x01, 0x00, /* compression */
		0x00, 0x19, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 'l', 'o', 'c', 'a',
		'l', 'h', 'o', 's', 't', 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, /* SNI, versions */
	};
	struct ctrs c0 = ctrs_now();

	(void)state;
	exchange(py->port, hello, sizeof(hello), 10);
	expect_nothing("tls");
	assert_true(ctr_grew2(&c0, C_NOT_HTTP, C_K_NOT_HTTP) >= 1);
	ctr_same(&c0, C_MALFORMED);
}

/* redis: PING, SET with a payload, answered by +PONG / +OK. */
static void test_redis(void **state)
{
	static const char cmds[] = "*1\r\n$4\r\nPING\r\n";
	static const char set[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$24\r\n" MARK "\r\n";
	struct ctrs c0 = ctrs_now();
	int fd = tcp_connect(psrv.port);
	char *r;

	(void)state;
	assert_true(send_all(fd, cmds, sizeof(cmds) - 1));
	r = recv_until(fd, 7, 10, NULL);
	assert_string_equal(r, "+PONG\r\n");
	assert_true(send_all(fd, set, sizeof(set) - 1));
	r = recv_until(fd, 5, 10, NULL);
	assert_string_equal(r, "+OK\r\n");
	close(fd);
	expect_nothing("redis");
	assert_true(ctr_grew2(&c0, C_NOT_HTTP, C_K_NOT_HTTP) >= 1);
	ctr_same(&c0, C_MALFORMED);
}

/* postgres: a StartupMessage (protocol 3.0), a simple Query, Terminate. */
static void test_postgres(void **state)
{
	static const unsigned char startup[] = {
		0, 0, 0, 36, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'p', 'o', 's', 't', 'g', 'r', 'e',
		's', 0, 'd', 'a', 't', 'a', 'b', 'a', 's', 'e', 0, 'a', 'p', 'p', 0, 0,
	};
	static const unsigned char query[] = { 'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ',
					       '1', 0 };
	static const unsigned char term[] = { 'X', 0, 0, 0, 4 };
	struct ctrs c0 = ctrs_now();
	int fd = tcp_connect(psrv.port);
	size_t got;

	(void)state;
	assert_int_equal(sizeof(startup), 36);
	assert_true(send_all(fd, startup, sizeof(startup)));
	recv_until(fd, 9 + 26 + 13 + 6, 10, &got);
	assert_int_equal(got, 9 + 26 + 13 + 6);
	assert_true(send_all(fd, query, sizeof(query)));
	recv_until(fd, 34 + 12 + 14 + 6, 10, &got);
	assert_int_equal(got, 34 + 12 + 14 + 6);
	assert_true(send_all(fd, term, sizeof(term)));
	close(fd);
	expect_nothing("postgres");
	assert_true(ctr_grew2(&c0, C_NOT_HTTP, C_K_NOT_HTTP) >= 1);
	ctr_same(&c0, C_MALFORMED);
}

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or code points past
 * U+10FFFF. jansson checks the same when it parses. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return false;
		if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

static void test_hostile_zz_stop(void **state)
{
	const char *file, *log;
	size_t len, lines = 0;
	json_t *docs, *udp;

	(void)state;
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
	/* the harness parses every line and datagram with jansson (which
	 * refuses invalid UTF-8); the bytes are checked here on their own too */
	docs = e2e_agent_docs(agent);
	assert_int_equal(json_array_size(docs), n_expected);
	file = e2e_read_file(agent->out_path, &len);
	assert_non_null(file);
	assert_true(utf8_valid((const unsigned char *)file, len));
	assert_null(memchr(file, '\0', len));
	for (const char *p = file; p < file + len; p = strchr(p, '\n') + 1) {
		assert_non_null(strchr(p, '\n'));
		lines++;
	}
	assert_int_equal(lines, n_expected);
	udp = e2e_agent_udp_docs(agent);
	assert_int_equal(json_array_size(udp), n_expected);
	for (size_t i = 0; i < n_expected; i++) {
		json_t *d = json_array_get(docs, i);
		size_t k;

		for (k = 0; k < n_expected && !json_equal(d, json_array_get(udp, k)); k++)
			;
		if (k == n_expected)
			fail_msg("document not sent over UDP as written: %s", e2e_json_dump(d));
	}
	/* nothing of the captured bytes in the log at default verbosity */
	log = e2e_agent_log(agent);
	if (strstr(log, MARK))
		fail_msg("payload bytes in the agent's log:\n%s", e2e_tail(log, 3000));
	assert_int_equal(e2e_agent_counter(agent, "counters", "segments") +
				 e2e_agent_counter(agent, "counters", "subsegments"),
			 (long long)n_expected);
	assert_int_equal(e2e_agent_counter(agent, "counters", "segment_errors"), 0);
	assert_int_equal(e2e_agent_counter(agent, "kernel", "ringbuf_drops"), 0);
}

/* ------------------------------------------------------------------------ */
/* Group "harness": the JSON checks this file relies on fail when they must */
/* ------------------------------------------------------------------------ */

/* Child mode (argv[1] == CHILD_ARG): an agent whose output file and UDP
 * daemon get one invalid document each; both tests must fail. */
#define CHILD_ARG "--expect-invalid-json"

static struct e2e_agent *child_agent;

static int child_setup(void **state)
{
	e2e_group_setup(state);
	child_agent = e2e_agent_startl("--port", e2e_fmt("%d", e2e_free_port()), NULL);
	return 0;
}

/* Raw invalid UTF-8 in a string: what a writer that copied captured bytes
 * as they are would produce. */
static const char bad_doc[] = "{\"name\":\"x\",\"http\":{\"request\":{\"url\":\"/\xff\xfe\"}}}\n";

static void child_bad_file(void **state)
{
	FILE *f = fopen(child_agent->out_path, "a");

	(void)state;
	assert_non_null(f);
	fputs(bad_doc, f);
	fclose(f);
	e2e_agent_docs(child_agent); /* must fail here */
}

static void child_bad_udp(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)e2e_agent_udp_port(child_agent)) };
	char dgram[256];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), n;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(dgram, sizeof(dgram), "{\"format\":\"json\",\"version\":1}\n%s", bad_doc);
	assert_true(fd >= 0 && sendto(fd, dgram, (size_t)n, 0, (struct sockaddr *)&sa,
				      sizeof(sa)) == n);
	close(fd);
	e2e_sleep(0.2);
	e2e_agent_udp_docs(child_agent); /* must fail here */
}

static int child_main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(child_bad_file, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(child_bad_udp, e2e_test_setup, e2e_test_teardown),
	};

	return cmocka_run_group_tests_name("invalid", t, child_setup, e2e_group_teardown);
}

static void test_harness_rejects_invalid_json(void **state)
{
	const char *argv[] = { "/proc/self/exe", CHILD_ARG, NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r;

	(void)state;
	argv[0] = e2e_fmt("%s", e2e_proc_exe(getpid()));
	r = e2e_run_cmd(&o, 120);
	/* both tests failed, each at the check meant to catch it */
	if (r.status != 2 || !strstr(r.err, "is not a JSON object") ||
	    !strstr(r.err, "UDP datagram body is not one JSON object"))
		fail_msg("the harness accepted invalid JSON (exit %d)\n--- stdout:\n%s\n--- stderr:\n%s",
			 r.status, e2e_tail(r.out, 2000), e2e_tail(r.err, 3000));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest hostile[] = {
		cmocka_unit_test_setup_teardown(test_baseline, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_request_head_100k, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_10000_headers, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_response_head_100k, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_memory_bounded, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_nul_bytes, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_slowloris_complete, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_slowloris_abandoned, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_half_close, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_reset_mid_response, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_reset_mid_request, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_h2_preface, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_tls_to_plain_port, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_redis, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_postgres, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test(test_hostile_zz_stop),
	};
	const struct CMUnitTest harness[] = {
		cmocka_unit_test_setup_teardown(test_harness_rejects_invalid_json, e2e_test_setup,
						e2e_test_teardown),
	};
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], CHILD_ARG))
		return child_main();
	if (e2e_group_wanted("hostile"))
		failed += cmocka_run_group_tests_name("hostile", hostile, hostile_setup,
						      hostile_teardown);
	if (e2e_group_wanted("harness"))
		failed += cmocka_run_group_tests_name("harness", harness, e2e_group_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
