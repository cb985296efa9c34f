/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wctype.h>

#include "json_writer.h"
#include "segment.h"

#ifndef XTAP_VERSION
#define XTAP_VERSION "unknown"
#endif

/* X-Ray limits (X-Ray quotas). The schema's 250 for url is not
 * what the service enforces in practice and would cut most real paths, so
 * urls get a byte budget instead. */
#define NAME_MAX_CHARS 200
#define STR_MAX_CHARS 250
#define URL_MAX_BYTES 2000
#define ANNOTATION_MAX_CHARS 1000

#define URL_BUF (sizeof("https://[]:65535") + HTTP_HOST_MAX + TXN_IP_MAX + HTTP_TARGET_MAX)

static size_t field_len(const char *s, size_t cap)
{
	return strnlen(s, cap);
}

/* Bytes of s[0..n) that hold at most max_chars characters and max_bytes
 * bytes without splitting a UTF-8 sequence. An invalid byte counts as one
 * character, as it becomes one U+FFFD. */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars, size_t max_bytes)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, chars = 0;

	while (i < n && chars < max_chars) {
		uint32_t cp;
		size_t l = utf8_decode(u + i, n - i, &cp);

		if (!l)
			l = 1;
		if (i + l > max_bytes)
			break;
		i += l;
		chars++;
	}
	return i;
}

static void kv_strn_cut(struct jw *w, const char *key, const char *s, size_t n, size_t max_chars)
{
	jw_key(w, key);
	jw_strn(w, s, utf8_prefix(s, n, max_chars, n));
}

/* Letters and digits beyond ASCII are judged by the C library's Unicode
 * tables. Without a UTF-8 locale installed they cannot be, and such names
 * fall back to '_' rather than risk the service rejecting the document. */
static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
	static const char *const names[] = { "C.UTF-8", "C.utf8", "en_US.UTF-8" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) && !utf8_locale; i++)
		utf8_locale = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
}

/* Unicode space separators (\p{Z}), which X-Ray allows in names. */
static bool is_unicode_space(uint32_t cp)
{
	return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* The name pattern is [\p{L}\p{Z}\p{N}_.:/%&#=+\-@] (the X-Ray segment document format). */
static bool name_char_ok(uint32_t cp)
{
	if (!cp)
		return false;
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9') || cp == ' ' || strchr("_.:/%&#=+\\-@", (int)cp);
	if (is_unicode_space(cp))
		return true;
	pthread_once(&utf8_once, utf8_locale_init);
	if (!utf8_locale)
		return false;
	return iswalnum_l((wint_t)cp, utf8_locale);
}

/* out: NAME_MAX_CHARS * 4 + 1 bytes */
static void sanitize_name(const char *in, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0, o = 0, chars = 0;

	while (i < n && chars < NAME_MAX_CHARS) {
		uint32_t cp = 0;
		size_t l = utf8_decode(u + i, n - i, &cp);

		if (l && name_char_ok(cp)) {
			memcpy(out + o, in + i, l);
			o += l;
		} else {
			out[o++] = '_';
			if (!l)
				l = 1;
		}
		i += l;
		chars++;
	}
	if (!o) {
		strcpy(out, "unknown");
		return;
	}
	out[o] = '\0';
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool has_prefix_ci(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);

	return n >= pn && !strncasecmp(s, p, pn);
}

static bool is_absolute_url(const char *s, size_t n)
{
	return has_prefix_ci(s, n, "http://") || has_prefix_ci(s, n, "https://");
}

/* Appends [s, s + n) to the NUL-terminated buf of cap bytes, cutting. */
static void append(char *buf, size_t cap, const char *s, size_t n)
{
	size_t len = strlen(buf);

	if (len + 1 >= cap)
		return;
	if (n > cap - 1 - len)
		n = cap - 1 - len;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
}

static void append_s(char *buf, size_t cap, const char *s)
{
	append(buf, cap, s, strlen(s));
}

/* An address as it goes into a URL authority: IPv6 in brackets. */
static void append_ip(char *buf, size_t cap, const char *ip)
{
	size_t n = field_len(ip, TXN_IP_MAX);

	if (memchr(ip, ':', n)) {
		append_s(buf, cap, "[");
		append(buf, cap, ip, n);
		append_s(buf, cap, "]");
	} else {
		append(buf, cap, ip, n);
	}
}

/* The host part of a Host header value: "[v6]:port" gives "v6",
 * "name:port" gives "name". A bare IPv6 literal (invalid, but seen) is
 * kept whole. */
static void host_without_port(const char *h, size_t n, const char **hb, size_t *hn)
{
	const char *colon;

	if (n && h[0] == '[') {
		const char *rb = memchr(h, ']', n);

		*hb = h + 1;
		*hn = rb ? (size_t)(rb - h - 1) : n - 1;
		return;
	}
	*hb = h;
	colon = memchr(h, ':', n);
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - h)))
		*hn = (size_t)(colon - h);
	else
		*hn = n;
}

/* Node's incoming url: scheme + Host as sent + request-target as sent
 * (the Node SDK's Express middleware). An absolute-form target (a proxy request) already is the
 * url; prefixing it with a host again would give nonsense. */
static void server_url(const struct xtap_txn *t, char *url, size_t cap)
{
	size_t tn = field_len(t->target, sizeof(t->target));
	size_t hn = field_len(t->host, sizeof(t->host));
	char port[8];

	url[0] = '\0';
	if (is_absolute_url(t->target, tn)) {
		append(url, cap, t->target, tn);
		return;
	}
	append_s(url, cap, t->https ? "https://" : "http://");
	if (t->has_host && hn) {
		append(url, cap, t->host, hn);
	} else {
		append_ip(url, cap, t->local_ip);
		if (t->local_port != (t->https ? 443 : 80)) {
			snprintf(port, sizeof(port), ":%u", (unsigned int)t->local_port);
			append_s(url, cap, port);
		}
	}
	/* "*" (OPTIONS) and authority-form targets name no path. */
	if (tn && t->target[0] == '/')
		append(url, cap, t->target, tn);
	else
		append_s(url, cap, "/");
}

/* Node's outgoing url: scheme + host without port + path without query
 * (the Node SDK's Express middleware), so that secrets in query strings are not recorded. IPv6
 * hosts keep their brackets here so the url stays parseable. */
static void client_url(const struct xtap_txn *t, char *url, size_t cap)
{
	size_t tn = field_len(t->target, sizeof(t->target));
	size_t hn = field_len(t->host, sizeof(t->host));
	const char *path = t->target;
	const char *hb, *q;
	size_t hbn;

	url[0] = '\0';
	q = memchr(t->target, '?', tn);
	if (q)
		tn = (size_t)(q - t->target);
	q = memchr(t->target, '#', tn);
	if (q)
		tn = (size_t)(q - t->target);

	if (is_absolute_url(t->target, tn)) {
		append(url, cap, t->target, tn);
		return;
	}
	append_s(url, cap, t->https ? "https://" : "http://");
	if (t->has_host && hn) {
		host_without_port(t->host, hn, &hb, &hbn);
		if (memchr(hb, ':', hbn)) {
			append_s(url, cap, "[");
			append(url, cap, hb, hbn);
			append_s(url, cap, "]");
		} else {
			append(url, cap, hb, hbn);
		}
	} else {
		append_ip(url, cap, t->peer_ip);
	}
	if (!tn || path[0] != '/')
		append_s(url, cap, "/");
	append(url, cap, path, tn);
}

/* The first X-Forwarded-For entry, trimmed: the original client as the
 * first proxy saw it. */
static bool xff_first(const struct xtap_txn *t, const char **b, size_t *n)
{
	size_t xn = field_len(t->xff, sizeof(t->xff));
	const char *s = t->xff, *e;

	if (!t->has_xff)
		return false;
	e = memchr(s, ',', xn);
	if (!e)
		e = s + xn;
	while (s < e && is_ows(*s))
		s++;
	while (e > s && is_ows(e[-1]))
		e--;
	*b = s;
	*n = (size_t)(e - s);
	return *n > 0;
}

static void write_times_end(struct jw *w, const struct xtap_txn *t)
{
	jw_key(w, "end_time");
	jw_epoch_us(w, t->end_ns < t->start_ns ? t->start_ns : t->end_ns);
}

/* Status to flags as the devguide and Node map them; no response at all
 * means the exchange failed on our side of the wire: a fault. */
static void write_flags(struct jw *w, const struct xtap_txn *t)
{
	if (t->incomplete || !t->has_response) {
		jw_kv_bool(w, "fault", true);
		return;
	}
	if (t->status == 429) {
		jw_kv_bool(w, "throttle", true);
		jw_kv_bool(w, "error", true);
	} else if (t->status >= 400 && t->status < 500) {
		jw_kv_bool(w, "error", true);
	} else if (t->status >= 500 && t->status < 600) {
		jw_kv_bool(w, "fault", true);
	}
}

static bool has_resp(const struct xtap_txn *t)
{
	return t->has_response && !t->incomplete;
}

static void annotation_nonempty(struct jw *w, const char *key, const char *v, size_t cap)
{
	size_t n = field_len(v, cap);

	if (n)
		kv_strn_cut(w, key, v, n, ANNOTATION_MAX_CHARS);
}

/* The Kubernetes annotations make segments searchable by pod, namespace
 * and workload in filter expressions (annotation.namespace = "shop"). */
static void write_annotations(struct jw *w, const struct xtap_txn *t, const char *url)
{
	const struct txn_k8s *k = &t->k8s;

	jw_key(w, "annotations");
	jw_obj_begin(w);
	kv_strn_cut(w, "http_method", t->method, field_len(t->method, sizeof(t->method)),
		    ANNOTATION_MAX_CHARS);
	kv_strn_cut(w, "http_url", url, strlen(url), ANNOTATION_MAX_CHARS);
	if (has_resp(t))
		jw_kv_i64(w, "http_status", t->status);
	annotation_nonempty(w, "pod", k->pod, sizeof(k->pod));
	annotation_nonempty(w, "namespace", k->ns, sizeof(k->ns));
	annotation_nonempty(w, "container", k->container, sizeof(k->container));
	annotation_nonempty(w, "workload", k->workload, sizeof(k->workload));
	if (k->node)
		annotation_nonempty(w, "node", k->node, TXN_POD_MAX);
	jw_obj_end(w);
}

static void write_metadata(struct jw *w, const struct xtap_txn *t)
{
	size_t en = field_len(t->exe, sizeof(t->exe));

	jw_key(w, "metadata");
	jw_obj_begin(w);
	jw_key(w, "xtap");
	jw_obj_begin(w);
	jw_kv_u64(w, "pid", t->pid);
	jw_key(w, "comm");
	jw_strn(w, t->comm, field_len(t->comm, sizeof(t->comm)));
	if (en) {
		jw_key(w, "exe");
		jw_strn(w, t->exe, en);
	}
	if (t->head_truncated)
		jw_kv_bool(w, "head_truncated", true);
	jw_obj_end(w);
	if (t->k8s.pod_uid[0]) {
		jw_key(w, "k8s");
		jw_obj_begin(w);
		jw_key(w, "pod_uid");
		jw_strn(w, t->k8s.pod_uid, field_len(t->k8s.pod_uid, sizeof(t->k8s.pod_uid)));
		if (t->k8s.workload_kind[0]) {
			jw_key(w, "workload_kind");
			jw_strn(w, t->k8s.workload_kind,
				field_len(t->k8s.workload_kind, sizeof(t->k8s.workload_kind)));
		}
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void write_response_obj(struct jw *w, const struct xtap_txn *t)
{
	if (!has_resp(t))
		return;
	jw_key(w, "response");
	jw_obj_begin(w);
	jw_kv_i64(w, "status", t->status);
	if (t->content_length >= 0)
		jw_kv_i64(w, "content_length", t->content_length);
	jw_obj_end(w);
}

static void kv_nonempty(struct jw *w, const char *key, const char *v, size_t cap)
{
	size_t n = field_len(v, cap);

	if (n)
		kv_strn_cut(w, key, v, n, STR_MAX_CHARS);
}

/* aws.ec2 (the instance identity document, named as Node's ec2_plugin) or
 * aws.eks (OTel's EKSMetadata keys; pod and container_id only when the
 * transaction carries them), inside the open aws object. */
static void write_platform(struct jw *w, const struct xtap_txn *t, const struct xtap_identity *idn)
{
	if (!idn)
		return;
	if (idn->platform == PLATFORM_EC2) {
		jw_key(w, "ec2");
		jw_obj_begin(w);
		kv_nonempty(w, "instance_id", idn->ec2.instance_id, sizeof(idn->ec2.instance_id));
		kv_nonempty(w, "availability_zone", idn->ec2.availability_zone,
			    sizeof(idn->ec2.availability_zone));
		kv_nonempty(w, "instance_size", idn->ec2.instance_size,
			    sizeof(idn->ec2.instance_size));
		kv_nonempty(w, "ami_id", idn->ec2.ami_id, sizeof(idn->ec2.ami_id));
		jw_obj_end(w);
	} else if (idn->platform == PLATFORM_EKS) {
		jw_key(w, "eks");
		jw_obj_begin(w);
		kv_nonempty(w, "cluster_name", idn->cluster_name, sizeof(idn->cluster_name));
		kv_nonempty(w, "pod", t->k8s.pod, sizeof(t->k8s.pod));
		kv_nonempty(w, "container_id", t->k8s.container_id, sizeof(t->k8s.container_id));
		jw_obj_end(w);
	}
}

/* The name of the service t ran in. */
static void service_name(const struct xtap_txn *t, const struct segment_config *cfg, char *name)
{
	size_t n;
	const char *s = segment_service_name(t, cfg, &n);

	sanitize_name(s, n, name);
}

/* The keys every document starts with, in Node's order. */
static void write_head(struct jw *w, const struct xtap_txn *t, const char *trace_id, const char *id,
		       const char *name)
{
	jw_kv_str(w, "trace_id", trace_id);
	jw_kv_str(w, "id", id);
	jw_key(w, "start_time");
	jw_epoch_us(w, t->start_ns);
	jw_kv_str(w, "name", name);
}

/* A segment's aws block and origin: where it ran, and who wrote it. */
static void write_aws(struct jw *w, const struct xtap_txn *t, const struct segment_config *cfg)
{
	const struct xtap_identity *idn = cfg ? identity_get(cfg->identity) : NULL;

	jw_key(w, "aws");
	jw_obj_begin(w);
	write_platform(w, t, idn);
	jw_key(w, "xray");
	jw_obj_begin(w);
	jw_kv_str(w, "sdk", "xtap");
	jw_kv_str(w, "sdk_version", cfg && cfg->sdk_version ? cfg->sdk_version : XTAP_VERSION);
	jw_kv_bool(w, "auto_instrumentation", true);
	if (cfg && cfg->rule_name && cfg->rule_name[0])
		jw_kv_str(w, "rule_name", cfg->rule_name);
	jw_obj_end(w);
	jw_obj_end(w);
	/* Node's order: aws, then origin (the Node SDK's Express middleware) */
	if (idn && idn->origin)
		jw_kv_str(w, "origin", idn->origin);
}

static void write_server(struct jw *w, const struct xtap_txn *t, const struct trace_ctx *ctx,
			 const struct segment_config *cfg, const char *trace_id, const char *id)
{
	char name[NAME_MAX_CHARS * 4 + 1];
	char url[URL_BUF];
	const char *ip;
	size_t url_len, ipn;
	bool xff;

	service_name(t, cfg, name);
	server_url(t, url, sizeof(url));
	url_len = utf8_prefix(url, strlen(url), SIZE_MAX, URL_MAX_BYTES);
	url[url_len] = '\0';

	jw_obj_begin(w);
	write_head(w, t, trace_id, id, name);
	if (ctx && ctx->parent_id[0])
		jw_kv_str(w, "parent_id", ctx->parent_id);
	write_aws(w, t, cfg);
	write_annotations(w, t, url);
	write_metadata(w, t);

	/* Key order inside request follows Node's IncomingRequestData. */
	jw_key(w, "http");
	jw_obj_begin(w);
	jw_key(w, "request");
	jw_obj_begin(w);
	kv_strn_cut(w, "method", t->method, field_len(t->method, sizeof(t->method)),
		    STR_MAX_CHARS);
	/* Node always sends user_agent, "" when the header is absent. */
	kv_strn_cut(w, "user_agent", t->user_agent,
		    t->has_user_agent ? field_len(t->user_agent, sizeof(t->user_agent)) : 0,
		    STR_MAX_CHARS);
	xff = xff_first(t, &ip, &ipn);
	if (!xff) {
		ip = t->peer_ip;
		ipn = field_len(t->peer_ip, sizeof(t->peer_ip));
	}
	kv_strn_cut(w, "client_ip", ip, ipn, STR_MAX_CHARS);
	jw_kv_str(w, "url", url);
	if (xff)
		jw_kv_bool(w, "x_forwarded_for", true);
	jw_obj_end(w);
	write_response_obj(w, t);
	jw_obj_end(w);

	write_flags(w, t);
	write_times_end(w, t);
	jw_obj_end(w);
}

/* An outgoing call: an independent subsegment (trace_id, parent_id, type),
 * or with trace_id NULL one embedded in a segment's subsegments. */
static void write_client(struct jw *w, const struct xtap_txn *t, const struct trace_ctx *ctx,
			 const char *trace_id, const char *id)
{
	char name[NAME_MAX_CHARS * 4 + 1];
	char url[URL_BUF];
	char parent[XID_SPAN_LEN + 1];
	size_t hn = field_len(t->host, sizeof(t->host)), url_len;
	const char *hb;
	size_t hbn = 0;

	if (t->has_host && hn)
		host_without_port(t->host, hn, &hb, &hbn);
	if (!hbn) {
		hb = t->peer_ip;
		hbn = field_len(t->peer_ip, sizeof(t->peer_ip));
	}
	sanitize_name(hb, hbn, name);
	client_url(t, url, sizeof(url));
	url_len = utf8_prefix(url, strlen(url), SIZE_MAX, URL_MAX_BYTES);
	url[url_len] = '\0';

	/* An independent subsegment needs a parent_id: the segment of the
	 * request the call served (span.c), else a Parent the process
	 * propagated; a call outside any request gets a fresh one. */
	if (ctx && ctx->parent_id[0])
		memcpy(parent, ctx->parent_id, sizeof(parent));
	else
		xid_span_id(parent);

	jw_obj_begin(w);
	if (trace_id)
		jw_kv_str(w, "trace_id", trace_id);
	jw_kv_str(w, "id", id);
	jw_key(w, "start_time");
	jw_epoch_us(w, t->start_ns);
	jw_kv_str(w, "name", name);
	if (trace_id) {
		jw_kv_str(w, "parent_id", parent);
		jw_kv_str(w, "type", "subsegment");
	}
	jw_kv_str(w, "namespace", "remote");
	if (ctx && ctx->traced)
		jw_kv_bool(w, "traced", true);

	write_annotations(w, t, url);
	write_metadata(w, t);

	/* Key order inside request follows Node's RemoteRequestData. */
	jw_key(w, "http");
	jw_obj_begin(w);
	jw_key(w, "request");
	jw_obj_begin(w);
	jw_kv_str(w, "url", url);
	kv_strn_cut(w, "method", t->method, field_len(t->method, sizeof(t->method)),
		    STR_MAX_CHARS);
	jw_obj_end(w);
	write_response_obj(w, t);
	jw_obj_end(w);

	write_flags(w, t);
	write_times_end(w, t);
	jw_obj_end(w);
}

/* A call that may belong to one of several requests in flight: rather than
 * guess its parent, a segment of its own for the calling service, with the
 * call embedded. */
static void write_call_segment(struct jw *w, const struct xtap_txn *t, const struct trace_ctx *ctx,
			       const struct segment_config *cfg, const char *trace_id,
			       const char *id)
{
	char name[NAME_MAX_CHARS * 4 + 1];
	char seg_id[XID_SPAN_LEN + 1];

	xid_span_id(seg_id);
	service_name(t, cfg, name);
	jw_obj_begin(w);
	write_head(w, t, trace_id, seg_id, name);
	write_aws(w, t, cfg);
	write_metadata(w, t);
	jw_key(w, "subsegments");
	jw_arr_begin(w);
	write_client(w, t, ctx, NULL, id);
	jw_arr_end(w);
	write_times_end(w, t);
	jw_obj_end(w);
}

const char *segment_service_name(const struct xtap_txn *t, const struct segment_config *cfg,
				 size_t *len)
{
	const char *s = t->comm;
	size_t n = field_len(t->comm, sizeof(t->comm));

	if (cfg && cfg->name && cfg->name[0]) {
		s = cfg->name;
		n = strlen(s);
	} else if (t->k8s.name[0]) {
		s = t->k8s.name;
		n = field_len(s, sizeof(t->k8s.name));
	}
	if (len)
		*len = n;
	return s;
}

static uint64_t epoch_seconds(uint64_t ns)
{
	struct timespec ts;

	if (ns)
		return ns / 1000000000u;
	/* A zero epoch would give a trace id X-Ray rejects as too old. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

bool segment_header_ctx(const struct xtap_txn *t, struct trace_ctx *ctx)
{
	if (t->has_amzn_trace && !trace_parse_amzn(t->amzn_trace, ctx) && ctx->trace_id[0])
		return true;
	return t->has_traceparent && !trace_parse_traceparent(t->traceparent, ctx);
}

int segment_trace_sampled(const struct xtap_txn *t)
{
	struct trace_ctx c;

	return segment_header_ctx(t, &c) ? c.sampled : TRACE_SAMPLED_UNKNOWN;
}

void segment_trace_ctx(const struct xtap_txn *t, struct trace_ctx *ctx)
{
	if (segment_header_ctx(t, ctx))
		return;
	ctx->parent_id[0] = '\0';
	ctx->sampled = TRACE_SAMPLED_UNKNOWN;
	ctx->id[0] = '\0';
	ctx->traced = false;
	ctx->own_segment = false;
	xid_trace_id(ctx->trace_id, epoch_seconds(t->start_ns));
}

void segment_url(const struct xtap_txn *t, char *url, size_t cap)
{
	if (t->role == XTAP_ROLE_CLIENT)
		client_url(t, url, cap);
	else
		server_url(t, url, cap);
}

int segment_write(const struct xtap_txn *t, const struct trace_ctx *ctx,
		  const struct segment_config *cfg, char *buf, size_t cap, char *id_out)
{
	char trace_id[XID_TRACE_LEN + 1];
	char id[XID_SPAN_LEN + 1];
	struct jw w;
	int ret;

	/* A document without a valid trace id is dropped by X-Ray; a caller
	 * that skipped segment_trace_ctx() still gets a usable one. */
	if (ctx && xid_valid_trace_id(ctx->trace_id))
		memcpy(trace_id, ctx->trace_id, sizeof(trace_id));
	else
		xid_trace_id(trace_id, epoch_seconds(t->start_ns));
	if (ctx && xid_valid_span_id(ctx->id))
		memcpy(id, ctx->id, sizeof(id));
	else
		xid_span_id(id);
	if (id_out)
		memcpy(id_out, id, sizeof(id));

	jw_init(&w, buf, cap);
	/* A transaction of unknown role was still served by this process as
	 * far as the trace builder could tell: a segment is the safer guess,
	 * as it needs no parent to be accepted. */
	if (t->role == XTAP_ROLE_CLIENT && ctx && ctx->own_segment)
		write_call_segment(&w, t, ctx, cfg, trace_id, id);
	else if (t->role == XTAP_ROLE_CLIENT)
		write_client(&w, t, ctx, trace_id, id);
	else
		write_server(&w, t, ctx, cfg, trace_id, id);
	ret = jw_finish(&w);
	return ret;
}
