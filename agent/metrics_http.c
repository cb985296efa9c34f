// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A deliberately small HTTP/1.0 responder (RFC 1945): GET and HEAD, one
 * request per connection, Content-Length on every answer, then close. It
 * runs on its own thread and reads the event loop's state only through
 * telemetry.h's snapshot, the exporters' atomic counters and the BPF
 * objects' file descriptors, so no client can stall capture. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "clock.h"
#include "cmd.h"
#include "metrics.h"
#include "metrics_http.h"
#include "privs.h"
#include "recent.h"
#include "sampling.h"
#include "tls_probes.h"
#include "telemetry.h"

#define LISTEN_BACKLOG 16
/* /conns waits this long for the event loop's listing: the loop turns every
 * 50 ms, but a loaded node (or a sanitizer build) can hold it back a while */
#define CONNS_WAIT_MS 3000
#define SEGMENTS_DEFAULT 10

struct client {
	int fd; /* -1: free slot */
	bool loopback;
	uint64_t deadline_ns;
	size_t req_len;
	char req[METRICS_REQ_MAX];
	char *resp; /* NULL while reading the request */
	size_t resp_len;
	size_t resp_off;
};

struct metrics_http {
	int lfd;
	int wake[2]; /* a byte on wake[1] stops the thread */
	pthread_t thread;
	struct metrics_source src;
	double start_time;
	int port;
	struct client clients[METRICS_CONN_MAX];
	struct conn_info *conns; /* /conns scratch: TELEMETRY_CONNS_MAX entries */
};

const char *metrics_address(const char *opt, bool *explicit_out)
{
	const char *a = opt;

	if (!a || !*a)
		a = getenv(METRICS_ADDRESS_ENV);
	if (explicit_out)
		*explicit_out = a && *a;
	if (!a || !*a)
		a = METRICS_DEFAULT_ADDRESS;
	if (!strcmp(a, "none") || !strcmp(a, "off"))
		return NULL;
	return a;
}

int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
		       size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon, *h = s;
	size_t hn;
	long port;
	int rc;

	colon = strrchr(s, ':');
	if (!colon) {
		snprintf(err, errlen, "'%.64s': expected HOST:PORT, [IPv6]:PORT or :PORT", s);
		return -EINVAL;
	}
	hn = (size_t)(colon - s);
	if (hn >= 2 && s[0] == '[' && s[hn - 1] == ']') {
		h = s + 1;
		hn -= 2;
	} else if (memchr(s, ':', hn)) {
		snprintf(err, errlen, "'%.64s': write an IPv6 host in brackets, [::1]:PORT", s);
		return -EINVAL;
	}
	if (parse_long(colon + 1, 0, 65535, &port)) {
		snprintf(err, errlen, "'%.64s': the port must be 0..65535", s);
		return -EINVAL;
	}
	if (hn >= sizeof(host)) {
		snprintf(err, errlen, "'%.64s': host too long", s);
		return -EINVAL;
	}
	memcpy(host, h, hn);
	host[hn] = '\0';
	rc = getaddrinfo(hn ? host : NULL, colon + 1, &hints, &res);
	if (rc || !res) {
		snprintf(err, errlen, "'%.64s': %s", s, rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	/* ":PORT" is every interface: AI_PASSIVE gives 0.0.0.0 first */
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- answers ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/* The whole answer into c->resp; body NULL: the reason phrase. Bodies end
 * with a newline, for curl and shells. */
static void respond(struct client *c, int status, const char *ctype, const char *body,
		    size_t len, bool head)
{
	char hdr[256];
	size_t blen;
	bool nl;
	int hn;

	if (!body) {
		body = reason(status);
		len = strlen(body);
		ctype = "text/plain; charset=utf-8";
	}
	nl = !len || body[len - 1] != '\n';
	blen = len + nl;
	hn = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
		      status, reason(status), ctype, blen,
		      status == 405 ? "Allow: GET, HEAD\r\n" : "");
	c->resp = malloc((size_t)hn + blen);
	if (!c->resp)
		return;
	memcpy(c->resp, hdr, (size_t)hn);
	c->resp_len = (size_t)hn;
	if (!head) {
		memcpy(c->resp + hn, body, len);
		if (nl)
			c->resp[hn + len] = '\n';
		c->resp_len += blen;
	}
	c->resp_off = 0;
}

static void respond_json(struct client *c, json_t *o, bool head)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (s)
		respond(c, 200, "application/json", s, strlen(s), head);
	else
		respond(c, 500, NULL, NULL, 0, head);
	free(s);
	json_decref(o);
}

static void collect(struct metrics_http *m, struct metrics_values *v)
{
	const struct metrics_source *src = &m->src;

	memset(v, 0, sizeof(*v));
	telemetry_get(src->tel, &v->snap);
	if (src->kernel_stats)
		v->have_kernel = !src->kernel_stats(src->bpf_ctx, v->kernel);
	if (src->ex)
		exporter_get_stats(src->ex, &v->ex);
	if (src->xa) {
		v->have_xray = true;
		xray_api_get_stats(src->xa, &v->xa);
	}
	v->programs_attached = src->programs_attached;
	v->rss_bytes = metrics_rss_bytes();
	v->start_time = m->start_time;
	v->version = src->version;
}

/* true when healthy; else why, in one line */
static bool health(struct metrics_http *m, char *why, size_t n)
{
	uint64_t last = telemetry_last_turn(m->src.tel), now = clock_mono_now();

	if (!telemetry_ready(m->src.tel)) {
		snprintf(why, n, "not ready: the programs are not attached, or the agent is stopping");
		return false;
	}
	if (!last || (now > last && now - last > METRICS_STALE_NS)) {
		snprintf(why, n, "not ready: the event loop has not turned for %.1f s",
			 last ? (double)(now - last) / 1e9 : 0.0);
		return false;
	}
	snprintf(why, n, "ok");
	return true;
}

static double epoch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void get_metrics(struct metrics_http *m, struct client *c, bool head)
{
	struct metrics_values v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		respond(c, 500, NULL, NULL, 0, head);
		return;
	}
	collect(m, &v);
	metrics_write_prometheus(f, &v);
	if (fclose(f) || !buf)
		respond(c, 500, NULL, NULL, 0, head);
	else
		respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len, head);
	free(buf);
}

/* The TLS probes' report: files attached, idle or skipped, and why. */
static json_t *tls_status(void)
{
	size_t len;
	char *s = tls_probes_json(&len);
	json_t *o = s ? json_loadb(s, len, 0, NULL) : NULL;

	free(s);
	return o ? o : json_null();
}

static void get_status(struct metrics_http *m, struct client *c, bool head)
{
	const struct metrics_source *src = &m->src;
	json_t *o = json_object(), *seg = json_object();
	struct metrics_values v;
	char why[128];
	bool ok = health(m, why, sizeof(why));

	collect(m, &v);
	json_object_set_new(o, "version", json_string(src->version ? src->version : ""));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "start_time", json_real(m->start_time));
	json_object_set_new(o, "uptime_seconds", json_real(epoch_now() - m->start_time));
	json_object_set_new(o, "healthy", json_boolean(ok));
	json_object_set_new(o, "health", json_string(why));
	json_object_set_new(o, "programs_attached", json_integer(src->programs_attached));
	json_object_set_new(o, "bpf", src->bpf_status ? src->bpf_status(src->bpf_ctx) : json_null());
	json_object_set_new(o, "connections", json_integer((json_int_t)v.snap.conns));
	json_object_set_new(o, "resident_memory_bytes", json_integer((json_int_t)v.rss_bytes));
	metrics_status_json(o, &v);
	json_object_set_new(o, "sampling", sampler_status_json(src->sampler));
	json_object_set_new(o, "tls", tls_status());
	json_object_set_new(o, "capabilities", privs_status_json());
	json_object_set_new(o, "config", src->config ? json_deep_copy(src->config) : json_null());
	json_object_set_new(seg, "capacity", json_integer(src->recent ? RECENT_DOCS : 0));
	json_object_set_new(seg, "skipped",
			    json_integer(src->recent ? (json_int_t)recent_skipped(src->recent) : 0));
	json_object_set_new(o, "recent_segments", seg);
	respond_json(c, o, head);
}

static const char *role_name(uint8_t role)
{
	return role == XTAP_ROLE_SERVER ? "server" : role == XTAP_ROLE_CLIENT ? "client" : "unknown";
}

static void get_conns(struct metrics_http *m, struct client *c, bool head)
{
	uint64_t total = 0, now = clock_mono_now();
	int n = telemetry_conns(m->src.tel, m->conns, &total, CONNS_WAIT_MS);
	json_t *o, *arr;

	if (n < 0) {
		const char *msg = "the event loop did not answer within 3 s\n";

		respond(c, 503, "text/plain; charset=utf-8", msg, strlen(msg), head);
		return;
	}
	o = json_object();
	arr = json_array();
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	json_object_set_new(o, "listed", json_integer(n));
	json_object_set_new(o, "connections", arr);
	for (int i = 0; i < n; i++) {
		const struct conn_info *ci = &m->conns[i];
		json_t *j = json_object();

		json_object_set_new(j, "id", json_integer((json_int_t)ci->id));
		json_object_set_new(j, "pid", json_integer(ci->tgid));
		json_object_set_new(j, "fd", json_integer(ci->fd));
		json_object_set_new(j, "comm", json_stringn(ci->comm, strnlen(ci->comm, sizeof(ci->comm))));
		json_object_set_new(j, "role", json_string(role_name(ci->role)));
		json_object_set_new(j, "local", cli_endpoint_json(ci->local_ip, ci->local_port));
		json_object_set_new(j, "peer", cli_endpoint_json(ci->peer_ip, ci->peer_port));
		json_object_set_new(j, "pending", json_integer(ci->pending));
		json_object_set_new(j, "opaque", json_boolean(ci->opaque));
		json_object_set_new(j, "idle_seconds",
				    json_real(now > ci->last_ns ? (double)(now - ci->last_ns) / 1e9 : 0));
		json_array_append_new(arr, j);
	}
	respond_json(c, o, head);
}

static void get_segments(struct metrics_http *m, struct client *c, const char *query, bool head)
{
	long n = SEGMENTS_DEFAULT;
	size_t len;
	char *body;

	if (query && !strncmp(query, "n=", 2) && parse_long(query + 2, 1, RECENT_DOCS, &n)) {
		char msg[64];

		snprintf(msg, sizeof(msg), "n must be 1..%d\n", RECENT_DOCS);
		respond(c, 400, "text/plain; charset=utf-8", msg, strlen(msg), head);
		return;
	}
	if (!m->src.recent) {
		respond(c, 404, NULL, NULL, 0, head);
		return;
	}
	body = recent_json(m->src.recent, (size_t)n, &len);
	if (!body) {
		respond(c, 500, NULL, NULL, 0, head);
		return;
	}
	respond(c, 200, "application/json", body, len, head);
	free(body);
}

/* A complete request head is in c->req: route it. */
static void handle(struct metrics_http *m, struct client *c)
{
	char *line = c->req, *sp1, *sp2, *query;
	bool head;

	c->req[c->req_len < sizeof(c->req) ? c->req_len : sizeof(c->req) - 1] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) || sp1[1] != '/') {
		respond(c, 400, NULL, NULL, 0, false);
		return;
	}
	*sp1 = *sp2 = '\0';
	head = !strcmp(line, "HEAD");
	if (!head && strcmp(line, "GET")) {
		respond(c, 405, NULL, NULL, 0, false);
		return;
	}
	query = strchr(sp1 + 1, '?');
	if (query)
		*query++ = '\0';
	if (!strcmp(sp1 + 1, "/healthz")) {
		char why[128];
		bool ok = health(m, why, sizeof(why));

		strcat(why, "\n");
		respond(c, ok ? 200 : 503, "text/plain; charset=utf-8", why, strlen(why), head);
	} else if (!strcmp(sp1 + 1, "/metrics")) {
		get_metrics(m, c, head);
	} else if (!strcmp(sp1 + 1, "/status")) {
		get_status(m, c, head);
	} else if (!strcmp(sp1 + 1, "/conns") || !strcmp(sp1 + 1, "/segments")) {
		/* connection tuples and request URLs stay on this machine */
		if (!c->loopback)
			respond(c, 403, NULL, NULL, 0, head);
		else if (!strcmp(sp1 + 1, "/conns"))
			get_conns(m, c, head);
		else
			get_segments(m, c, query, head);
	} else {
		respond(c, 404, NULL, NULL, 0, head);
	}
}

/* ---- the thread ---- */

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	free(c->resp);
	c->resp = NULL;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			return a->sin6_addr.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return false;
}

static void accept_some(struct metrics_http *m)
{
	for (int i = 0; i < METRICS_CONN_MAX; i++) {
		struct client *c = &m->clients[i];
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);

		if (c->fd >= 0)
			continue;
		c->fd = accept4(m->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c->fd < 0) {
			/* out of descriptors or memory: the listen fd stays
			 * readable, so pause rather than spin */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				usleep(100000);
			return; /* EAGAIN: none waiting */
		}
		c->loopback = is_loopback(&peer);
		c->deadline_ns = clock_mono_now() + (uint64_t)METRICS_TIMEOUT_MS * 1000000;
		c->req_len = 0;
		c->resp = NULL;
	}
}

static bool head_complete(const struct client *c)
{
	return memmem(c->req, c->req_len, "\r\n\r\n", 4) || memmem(c->req, c->req_len, "\n\n", 2);
}

static void client_io(struct metrics_http *m, struct client *c, short revents)
{
	ssize_t n;

	if (!c->resp && (revents & (POLLIN | POLLHUP | POLLERR))) {
		n = read(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				client_close(c); /* gone before asking: nothing to answer */
			return;
		}
		c->req_len += (size_t)n;
		if (head_complete(c))
			handle(m, c);
		else if (c->req_len == sizeof(c->req))
			respond(c, 431, NULL, NULL, 0, false);
		else
			return;
		if (!c->resp) {
			client_close(c); /* out of memory for the answer */
			return;
		}
	}
	if (c->resp) {
		n = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			client_close(c);
			return;
		}
		c->resp_off += (size_t)n;
		if (c->resp_off == c->resp_len)
			client_close(c);
	}
}

static void *serve(void *arg)
{
	struct metrics_http *m = arg;

	for (;;) {
		struct pollfd pfd[2 + METRICS_CONN_MAX];
		int idx[METRICS_CONN_MAX];
		uint64_t now = clock_mono_now(), next = 0;
		int n = 0, lidx = -1, timeout = -1;
		bool room = false;

		pfd[n++] = (struct pollfd){ .fd = m->wake[0], .events = POLLIN };
		for (int i = 0; i < METRICS_CONN_MAX; i++) {
			struct client *c = &m->clients[i];

			idx[i] = -1;
			if (c->fd < 0) {
				room = true;
				continue;
			}
			if (now >= c->deadline_ns) {
				client_close(c); /* too slow: a stuck or hostile client */
				room = true;
				continue;
			}
			if (!next || c->deadline_ns < next)
				next = c->deadline_ns;
			idx[i] = n;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->resp ? POLLOUT : POLLIN };
		}
		/* full: new clients wait in the listen backlog */
		if (room) {
			lidx = n;
			pfd[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		}
		if (next)
			timeout = (int)((next - now) / 1000000) + 1;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (int i = 0; i < METRICS_CONN_MAX; i++)
			if (idx[i] >= 0 && pfd[idx[i]].revents)
				client_io(m, &m->clients[i], pfd[idx[i]].revents);
		if (lidx >= 0 && pfd[lidx].revents)
			accept_some(m);
	}
	return NULL;
}

struct metrics_http *metrics_http_start(const char *addr, const struct metrics_source *src,
					char *err, size_t errlen)
{
	struct sockaddr_storage ss, bound;
	socklen_t len, blen = sizeof(bound);
	struct metrics_http *m;
	int one = 1, e;

	if (metrics_addr_parse(addr, &ss, &len, err, errlen)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->conns = calloc(TELEMETRY_CONNS_MAX, sizeof(*m->conns)))) {
		free(m);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	m->src = *src;
	m->start_time = epoch_now();
	m->wake[0] = m->wake[1] = -1;
	for (int i = 0; i < METRICS_CONN_MAX; i++)
		m->clients[i].fd = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->lfd, (struct sockaddr *)&ss, len) || listen(m->lfd, LISTEN_BACKLOG) ||
	    getsockname(m->lfd, (struct sockaddr *)&bound, &blen)) {
		e = errno;
		snprintf(err, errlen, "%s: %s", addr, strerror(e));
		goto fail;
	}
	m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	if (pipe2(m->wake, O_CLOEXEC)) {
		e = errno;
		snprintf(err, errlen, "pipe: %s", strerror(e));
		goto fail;
	}
	e = pthread_create(&m->thread, NULL, serve, m);
	if (e) {
		snprintf(err, errlen, "thread: %s", strerror(e));
		goto fail;
	}
	return m;
fail:
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	free(m->conns);
	free(m);
	errno = e;
	return NULL;
}

int metrics_http_port(const struct metrics_http *m)
{
	return m->port;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	/* the thread leaves its poll at once; nothing it does blocks longer
	 * than CONNS_WAIT_MS */
	if (write(m->wake[1], "x", 1) != 1) {
		close(m->wake[1]); /* POLLHUP on wake[0] wakes it too */
		m->wake[1] = -1;
	}
	pthread_join(m->thread, NULL);
	for (int i = 0; i < METRICS_CONN_MAX; i++)
		if (m->clients[i].fd >= 0)
			client_close(&m->clients[i]);
	close(m->lfd);
	close(m->wake[0]);
	if (m->wake[1] >= 0)
		close(m->wake[1]);
	free(m->conns);
	free(m);
}
