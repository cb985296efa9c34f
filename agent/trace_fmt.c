// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "cli.h"
#include "clock.h"
#include "redact.h"
#include "segment.h"
#include "trace_fmt.h"

#define URL_MAX (HTTP_HOST_MAX + HTTP_TARGET_MAX + 16)
#define RAW_PREVIEW 96 /* bytes of a data record shown */

int trace_parse_status(const char *s, int *lo, int *hi)
{
	char *end;
	long a, b;

	if (!s || !*s)
		return -EINVAL;
	if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] | 0x20) == 'x' &&
	    (s[2] | 0x20) == 'x') {
		*lo = (s[0] - '0') * 100;
		*hi = *lo + 99;
		return 0;
	}
	errno = 0;
	a = strtol(s, &end, 10);
	b = a;
	if (!errno && *end == '-' && end != s)
		b = strtol(end + 1, &end, 10);
	if (errno || *end || a < 100 || b > 599 || a > b)
		return -EINVAL;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

int trace_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "", 1e6 } };
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v != v)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].ns;
		if (v > 3600e9)
			return -EINVAL;
		*ns = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

bool trace_match(const struct trace_filter *f, const struct xtap_txn *t)
{
	uint64_t dur = t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0;

	if (f->comm && strncmp(f->comm, t->comm, sizeof(t->comm)))
		return false;
	if (f->pod && strncmp(f->pod, t->k8s.pod, sizeof(t->k8s.pod)))
		return false;
	if (f->ns && strncmp(f->ns, t->k8s.ns, sizeof(t->k8s.ns)))
		return false;
	if (f->status_hi && (!t->has_response || t->status < f->status_lo || t->status > f->status_hi))
		return false;
	return dur >= f->min_duration_ns;
}

/* s as one printable token: blanks and control bytes become '?' */
static void token(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < n && s[i]; i++)
		dst[i] = (unsigned char)s[i] <= ' ' || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

static void fmt_duration(uint64_t ns, char *buf, size_t cap)
{
	if (ns < 1000000)
		snprintf(buf, cap, "%.0fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, cap, "%.3fms", (double)ns / 1e6);
	else
		snprintf(buf, cap, "%.3fs", (double)ns / 1e9);
}

static void fmt_time(uint64_t epoch_ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(epoch_ns / 1000000000u);
	struct tm tm;

	localtime_r(&sec, &tm);
	snprintf(buf, cap, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned int)(epoch_ns % 1000000000u / 1000));
}

/* "namespace/pod" with pod metadata, else "comm[pid]" */
static void fmt_source(const struct xtap_txn *t, char *buf, size_t cap)
{
	char a[TXN_POD_MAX], b[TXN_K8S_LABEL_MAX];

	if (t->k8s.pod[0]) {
		token(a, sizeof(a), t->k8s.pod, sizeof(t->k8s.pod));
		token(b, sizeof(b), t->k8s.ns, sizeof(t->k8s.ns));
		snprintf(buf, cap, "%s/%s", b[0] ? b : "?", a);
	} else {
		token(a, sizeof(a), t->comm, sizeof(t->comm));
		snprintf(buf, cap, "%s[%u]", a[0] ? a : "?", t->pid);
	}
}

const char *trace_header(void)
{
	return "TIME            SOURCE                   DIR METHOD  URL STATUS DURATION TRACE";
}

/* The trace context as the documents carry it: resolved from the trace
 * links when the connection table did (t->trace_id), else what the
 * request's own header says. */
static bool txn_ctx(const struct xtap_txn *t, struct trace_ctx *tc)
{
	if (!t->trace_id[0])
		return segment_header_ctx(t, tc) && tc->trace_id[0];
	memcpy(tc->trace_id, t->trace_id, sizeof(tc->trace_id));
	memcpy(tc->parent_id, t->parent_id, sizeof(tc->parent_id));
	memcpy(tc->id, t->span_id, sizeof(tc->id));
	return true;
}

void trace_line(const struct xtap_txn *t, char *buf, size_t cap)
{
	char when[32], src[TXN_POD_MAX + TXN_K8S_LABEL_MAX + 2], url[URL_MAX], u[URL_MAX];
	char method[HTTP_METHOD_MAX], dur[32], status[8];
	struct trace_ctx tc;

	fmt_time(t->start_ns, when, sizeof(when));
	fmt_source(t, src, sizeof(src));
	segment_url(t, url, sizeof(url));
	token(u, sizeof(u), url, sizeof(url));
	token(method, sizeof(method), t->method, sizeof(t->method));
	fmt_duration(t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0, dur, sizeof(dur));
	if (t->has_response)
		snprintf(status, sizeof(status), "%d", t->status);
	else
		snprintf(status, sizeof(status), "-");
	snprintf(buf, cap, "%s %-24s %-3s %-7s %s %s %s %s", when, src,
		 t->role == XTAP_ROLE_CLIENT ? "out" : "in", method, u, status, dur,
		 txn_ctx(t, &tc) ? tc.trace_id : "-");
}

static json_t *str_or_null(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	json_t *v = n ? json_stringn(s, n) : NULL;

	/* jansson refuses invalid UTF-8: such a field shows as null */
	return v ? v : json_null();
}

json_t *trace_txn_json(const struct xtap_txn *t)
{
	char url[URL_MAX];
	struct trace_ctx tc;
	bool have_ctx = txn_ctx(t, &tc);
	json_t *o = json_object();

	if (!o)
		return NULL;
	segment_url(t, url, sizeof(url));
	json_object_set_new(o, "time", json_real((double)t->start_ns / 1e9));
	json_object_set_new(o, "end_time", json_real((double)t->end_ns / 1e9));
	json_object_set_new(o, "duration_ns",
			    json_integer(t->end_ns > t->start_ns ? (json_int_t)(t->end_ns - t->start_ns) : 0));
	json_object_set_new(o, "pid", json_integer(t->pid));
	json_object_set_new(o, "tid", json_integer(t->tid));
	json_object_set_new(o, "comm", str_or_null(t->comm, sizeof(t->comm)));
	json_object_set_new(o, "exe", str_or_null(t->exe, sizeof(t->exe)));
	json_object_set_new(o, "pod", str_or_null(t->k8s.pod, sizeof(t->k8s.pod)));
	json_object_set_new(o, "namespace", str_or_null(t->k8s.ns, sizeof(t->k8s.ns)));
	json_object_set_new(o, "direction", json_string(t->role == XTAP_ROLE_CLIENT ? "out" : "in"));
	json_object_set_new(o, "method", str_or_null(t->method, sizeof(t->method)));
	json_object_set_new(o, "url", str_or_null(url, sizeof(url)));
	json_object_set_new(o, "status", t->has_response ? json_integer(t->status) : json_null());
	json_object_set_new(o, "trace_id",
			    have_ctx && tc.trace_id[0] ? json_string(tc.trace_id) : json_null());
	json_object_set_new(o, "parent_id",
			    have_ctx && tc.parent_id[0] ? json_string(tc.parent_id) : json_null());
	json_object_set_new(o, "id",
			    have_ctx && t->trace_id[0] ? json_string(t->span_id) : json_null());
	json_object_set_new(o, "local", cli_endpoint_json(t->local_ip, t->local_port));
	json_object_set_new(o, "peer", cli_endpoint_json(t->peer_ip, t->peer_port));
	json_object_set_new(o, "incomplete", json_boolean(t->incomplete));
	json_object_set_new(o, "head_truncated", json_boolean(t->head_truncated));
	return o;
}

static const char *const type_names[] = {
	[XTAP_EV_DATA] = "data", [XTAP_EV_OPEN] = "open", [XTAP_EV_CLOSE] = "close",
	[XTAP_EV_EXIT] = "exit", [XTAP_EV_EXEC] = "exec", [XTAP_EV_MAP_EXEC] = "map_exec",
};
static const char *const sys_names[] = {
	[XTAP_SYS_READ] = "read",	  [XTAP_SYS_WRITE] = "write",	  [XTAP_SYS_READV] = "readv",
	[XTAP_SYS_WRITEV] = "writev",	  [XTAP_SYS_RECVFROM] = "recvfrom", [XTAP_SYS_SENDTO] = "sendto",
	[XTAP_SYS_RECVMSG] = "recvmsg",	  [XTAP_SYS_SENDMSG] = "sendmsg", [XTAP_SYS_SENDFILE] = "sendfile",
};
static const char *const role_names[] = { "unknown", "server", "client" };

static const char *name_of(const char *const *names, size_t n, unsigned int i)
{
	return i < n && names[i] ? names[i] : "?";
}

#define NAME(tab, i) name_of(tab, sizeof(tab) / sizeof(tab[0]), i)

/* The record's length check: the size its type needs, 0 for unknown types. */
static size_t need(const struct xtap_ev_hdr *h)
{
	switch (h->type) {
	case XTAP_EV_DATA:
		return offsetof(struct xtap_data_event, data);
	case XTAP_EV_OPEN:
		return sizeof(struct xtap_conn_event);
	default:
		return sizeof(*h);
	}
}

static void addr_str(const struct xtap_addr *a, const uint8_t *ip, uint16_t port, char *buf,
		     size_t cap)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(a->family == 2 ? AF_INET : AF_INET6, ip, s, sizeof(s));
	snprintf(buf, cap, a->family == 2 ? "%s:%u" : "[%s]:%u", s, (unsigned int)port);
}

/* An open record's addresses and process name as text. */
static void open_strs(const struct xtap_conn_event *e, char l[INET6_ADDRSTRLEN + 8],
		      char r[INET6_ADDRSTRLEN + 8], char comm[XTAP_COMM_LEN])
{
	addr_str(&e->addr, e->addr.laddr, e->addr.lport, l, INET6_ADDRSTRLEN + 8);
	addr_str(&e->addr, e->addr.raddr, e->addr.rport, r, INET6_ADDRSTRLEN + 8);
	token(comm, XTAP_COMM_LEN, e->comm, sizeof(e->comm));
}

/* the captured bytes as C-style escaped text, at most RAW_PREVIEW of them,
 * credentials and payload masked (redact.h) */
static void preview(const struct xtap_data_event *e, size_t size, bool query, char *buf,
		    size_t cap)
{
	size_t n = e->cap_len, o = 0;
	uint8_t shown[RAW_PREVIEW];

	if (n > size - offsetof(struct xtap_data_event, data))
		n = size - offsetof(struct xtap_data_event, data);
	if (n > RAW_PREVIEW)
		n = RAW_PREVIEW;
	memcpy(shown, e->data, n);
	redact_head_bytes(shown, n, query);
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char ch = shown[i];

		if (ch == '\r' || ch == '\n') {
			buf[o++] = '\\';
			buf[o++] = ch == '\r' ? 'r' : 'n';
		} else if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '"') {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o] = '\0';
}

json_t *trace_record_json(const void *rec, size_t size, bool redact_query)
{
	const struct xtap_ev_hdr *h = rec;
	json_t *o;

	if (size < sizeof(*h) || size < need(h))
		return NULL;
	o = json_object();
	json_object_set_new(o, "type", json_string(NAME(type_names, h->type)));
	json_object_set_new(o, "time", json_real((double)clock_mono_to_epoch(h->ts_ns) / 1e9));
	json_object_set_new(o, "pid", json_integer(h->tgid));
	json_object_set_new(o, "tid", json_integer(h->tid));
	json_object_set_new(o, "fd", json_integer(h->fd));
	json_object_set_new(o, "conn_id", json_integer((json_int_t)h->conn_id));
	json_object_set_new(o, "role", json_string(NAME(role_names, h->role)));
	if (h->type == XTAP_EV_DATA) {
		const struct xtap_data_event *e = rec;
		char buf[RAW_PREVIEW * 4 + 1];

		preview(e, size, redact_query, buf, sizeof(buf));
		json_object_set_new(o, "dir", json_string(h->dir == XTAP_DIR_OUT ? "out" : "in"));
		json_object_set_new(o, "syscall", json_string(NAME(sys_names, h->sys)));
		json_object_set_new(o, "len", json_integer((json_int_t)e->len));
		json_object_set_new(o, "cap_len", json_integer(e->cap_len));
		json_object_set_new(o, "tail_len", json_integer(e->tail_len));
		json_object_set_new(o, "data", json_string(buf));
	} else if (h->type == XTAP_EV_OPEN) {
		const struct xtap_conn_event *e = rec;
		char l[INET6_ADDRSTRLEN + 8], r[INET6_ADDRSTRLEN + 8], comm[XTAP_COMM_LEN];

		open_strs(e, l, r, comm);
		json_object_set_new(o, "comm", json_string(comm));
		json_object_set_new(o, "local", json_string(l));
		json_object_set_new(o, "peer", json_string(r));
		json_object_set_new(o, "cgroup_id", json_integer((json_int_t)e->cgroup_id));
	}
	return o;
}

int trace_record_line(const void *rec, size_t size, bool redact_query, char *buf, size_t cap)
{
	const struct xtap_ev_hdr *h = rec;
	char when[32];
	int n;

	if (size < sizeof(*h) || size < need(h))
		return -EINVAL;
	fmt_time(clock_mono_to_epoch(h->ts_ns), when, sizeof(when));
	n = snprintf(buf, cap, "%s %-5s pid=%u tid=%u fd=%d conn=%llx role=%s", when,
		     NAME(type_names, h->type), h->tgid, h->tid, h->fd,
		     (unsigned long long)h->conn_id, NAME(role_names, h->role));
	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (h->type == XTAP_EV_DATA) {
		const struct xtap_data_event *e = rec;
		char data[RAW_PREVIEW * 4 + 1];

		preview(e, size, redact_query, data, sizeof(data));
		snprintf(buf + n, cap - (size_t)n, " %s %s len=%llu cap=%u tail=%u \"%s\"",
			 h->dir == XTAP_DIR_OUT ? "out" : "in", NAME(sys_names, h->sys),
			 (unsigned long long)e->len, e->cap_len, e->tail_len, data);
	} else if (h->type == XTAP_EV_OPEN) {
		const struct xtap_conn_event *e = rec;
		char l[INET6_ADDRSTRLEN + 8], r[INET6_ADDRSTRLEN + 8], comm[XTAP_COMM_LEN];

		open_strs(e, l, r, comm);
		snprintf(buf + n, cap - (size_t)n, " comm=%s local=%s peer=%s cgroup=%llu", comm, l, r,
			 (unsigned long long)e->cgroup_id);
	}
	return 0;
}
