// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names follow the Prometheus conventions: an xtap_ prefix, base units,
 * _total on counters, one family with a label where values share a meaning
 * (drops by reason, exports by sink). */
#include <stddef.h>
#include <unistd.h>
#include <jansson.h>
#include "metrics.h"

/* enum xtap_stat: the names the agent's "kernel:" log line uses, and
 * the metric each becomes (the ring buffer's drops are a drop reason) */
static const struct {
	const char *name;
	const char *metric;
	const char *help;
} kernel[XTAP_STAT_MAX] = {
	[XTAP_STAT_EVENTS] = { "events", "xtap_kernel_events_total",
			       "records the BPF programs submitted to the ring buffer" },
	[XTAP_STAT_RB_DROPS] = { "ringbuf_drops", NULL, NULL },
	[XTAP_STAT_NON_HTTP] = { "not_http", "xtap_kernel_not_http_total",
				 "syscalls on sockets classified as not HTTP (nothing copied)" },
	[XTAP_STAT_TRUNCATED] = { "truncated", "xtap_kernel_truncated_total",
				  "message heads cut at the capture size" },
	[XTAP_STAT_CONN_TRACKED] = { "conns_tracked", "xtap_kernel_conns_tracked_total",
				     "TCP sockets that became tracked" },
	[XTAP_STAT_OUT_OF_SCOPE] = { "out_of_scope", "xtap_kernel_out_of_scope_total",
				     "TCP sockets left alone by --pid/--port/--cgroup" },
	[XTAP_STAT_BODY_BYTES] = { "body_only", "xtap_kernel_body_only_bytes_total",
				   "bytes moved past message heads: counted, not copied" },
	[XTAP_STAT_TLS_CALLS] = { "tls_calls", "xtap_kernel_tls_calls_total",
				  "TLS library reads and writes that moved plaintext" },
	[XTAP_STAT_TLS_UNBOUND] = { "tls_unbound", "xtap_kernel_tls_unbound_total",
				    "TLS calls lost: the socket behind them was not found" },
	[XTAP_STAT_TLS_CIPHERTEXT] = { "tls_ciphertext", "xtap_kernel_tls_ciphertext_total",
				       "syscalls on TLS sockets: ciphertext, never copied" },
	[XTAP_STAT_TCPOPT_WRITTEN] = { "tcpopt_written", "xtap_kernel_tcpopt_written_total",
				       "packets that carried a trace context TCP option out" },
	[XTAP_STAT_TCPOPT_NOSPACE] = { "tcpopt_nospace", NULL, NULL },
	[XTAP_STAT_TCPOPT_PARSED] = { "tcpopt_parsed", "xtap_kernel_tcpopt_parsed_total",
				      "packets that brought a trace context TCP option in" },
	[XTAP_STAT_MUTED] = { "muted", "xtap_kernel_muted_total",
			      "unsampled exchanges the kernel kept from the ring buffer" },
};
_Static_assert(XTAP_STAT_MAX == 14, "name the new kernel counter above");

const char *metrics_kernel_name(int i)
{
	return i >= 0 && i < XTAP_STAT_MAX ? kernel[i].name : "?";
}

enum src { SRC_CTR, SRC_KERNEL, SRC_EXPORT };

/* Each drop reason once: counters listed here are not also exported under
 * their own name. */
static const struct drop {
	const char *reason;
	enum src src;
	size_t off; /* in struct xtap_counters / struct exporter_stats; kernel: index */
} drops[] = {
	{ "ringbuf_full", SRC_KERNEL, XTAP_STAT_RB_DROPS },
	{ "tcp_option_no_space", SRC_KERNEL, XTAP_STAT_TCPOPT_NOSPACE },
	{ "conn_table_full", SRC_CTR, offsetof(struct xtap_counters, conns_evicted) },
	{ "pending_overflow", SRC_CTR, offsetof(struct xtap_counters, pending_overflow) },
	{ "pending_pool_full", SRC_CTR, offsetof(struct xtap_counters, pending_pool_full) },
	{ "head_malformed", SRC_CTR, offsetof(struct xtap_counters, http_malformed) },
	{ "head_too_large", SRC_CTR, offsetof(struct xtap_counters, http_head_too_large) },
	{ "segment_too_large", SRC_CTR, offsetof(struct xtap_counters, segment_errors) },
	{ "export_queue_full", SRC_CTR, offsetof(struct xtap_counters, export_dropped) },
	{ "xray_queue_full", SRC_CTR, offsetof(struct xtap_counters, xray_dropped) },
	{ "udp_too_large", SRC_EXPORT, offsetof(struct exporter_stats, too_large) },
};
#define N_DROPS (sizeof(drops) / sizeof(drops[0]))

static uint64_t drop_value(const struct drop *d, const struct metrics_values *v)
{
	switch (d->src) {
	case SRC_KERNEL:
		return v->have_kernel ? v->kernel[d->off] : 0;
	case SRC_EXPORT:
		return *(const uint64_t *)((const char *)&v->ex + d->off);
	default:
		return *(const uint64_t *)((const char *)&v->snap.ctr + d->off);
	}
}

static bool is_drop_counter(size_t off)
{
	for (size_t i = 0; i < N_DROPS; i++)
		if (drops[i].src == SRC_CTR && drops[i].off == off)
			return true;
	return false;
}

uint64_t metrics_rss_bytes(void)
{
	unsigned long long size, rss;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t val)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)val);
}

void metrics_write_prometheus(FILE *f, const struct metrics_values *v)
{
	const struct exporter_stats *e = &v->ex;

	family(f, "xtap_build_info", "gauge", "xtap version, as a label");
	fprintf(f, "xtap_build_info{version=\"%s\"} 1\n", v->version ? v->version : "");
	family(f, "xtap_start_time_seconds", "gauge", "when the agent started, epoch seconds");
	fprintf(f, "xtap_start_time_seconds %.3f\n", v->start_time);
	one(f, "xtap_resident_memory_bytes", "gauge", "resident memory of the agent", v->rss_bytes);
	one(f, "xtap_attached_programs", "gauge", "BPF programs attached",
	    (uint64_t)v->programs_attached);
	one(f, "xtap_connections", "gauge", "connections in the agent's table", v->snap.conns);

#define X(n, help)                                                                              \
	if (!is_drop_counter(offsetof(struct xtap_counters, n)))                                 \
		one(f, "xtap_" #n "_total", "counter", help, v->snap.ctr.n);
	XTAP_COUNTERS(X)
#undef X
	if (v->have_kernel) {
		for (int i = 0; i < XTAP_STAT_MAX; i++)
			if (kernel[i].metric)
				one(f, kernel[i].metric, "counter", kernel[i].help, v->kernel[i]);
	}
	family(f, "xtap_drops_total", "counter", "what was lost, by reason");
	for (size_t i = 0; i < N_DROPS; i++)
		fprintf(f, "xtap_drops_total{reason=\"%s\"} %llu\n", drops[i].reason,
			(unsigned long long)drop_value(&drops[i], v));

	one(f, "xtap_export_submitted_total", "counter", "documents handed to the local exporter",
	    e->submitted);
	family(f, "xtap_export_sent_total", "counter", "documents delivered, by sink");
	fprintf(f, "xtap_export_sent_total{sink=\"daemon\"} %llu\n", (unsigned long long)e->udp_sent);
	fprintf(f, "xtap_export_sent_total{sink=\"lines\"} %llu\n",
		(unsigned long long)e->lines_written);
	if (v->have_xray)
		fprintf(f, "xtap_export_sent_total{sink=\"xray_api\"} %llu\n",
			(unsigned long long)v->xa.sent);
	family(f, "xtap_export_failed_total", "counter",
	       "documents that failed to reach a sink (the X-Ray API: after the retries, or refused)");
	fprintf(f, "xtap_export_failed_total{sink=\"daemon\"} %llu\n",
		(unsigned long long)e->udp_errors);
	fprintf(f, "xtap_export_failed_total{sink=\"lines\"} %llu\n",
		(unsigned long long)e->write_errors);
	if (v->have_xray)
		fprintf(f, "xtap_export_failed_total{sink=\"xray_api\"} %llu\n",
			(unsigned long long)(v->xa.failed + v->xa.rejected));
	family(f, "xtap_export_queue_depth", "gauge", "documents waiting to be sent, by queue");
	fprintf(f, "xtap_export_queue_depth{queue=\"local\"} %llu\n",
		(unsigned long long)e->queue_depth);
	if (v->have_xray) {
		fprintf(f, "xtap_export_queue_depth{queue=\"xray_api\"} %llu\n",
			(unsigned long long)v->xa.queue_depth);
		one(f, "xtap_xray_batches_total", "counter", "PutTraceSegments calls answered 2xx",
		    v->xa.batches);
		one(f, "xtap_xray_retries_total", "counter", "PutTraceSegments attempts after the first",
		    v->xa.retries);
		one(f, "xtap_xray_unprocessed_total", "counter",
		    "UnprocessedTraceSegments entries in answers", v->xa.unprocessed);
	}
}

void metrics_status_json(json_t *o, const struct metrics_values *v)
{
	json_t *c = json_object(), *k = json_object(), *d = json_object(), *e = json_object();
	const struct exporter_stats *es = &v->ex;

#define X(n, help) json_object_set_new(c, #n, json_integer((json_int_t)v->snap.ctr.n));
	XTAP_COUNTERS(X)
#undef X
	json_object_set_new(o, "counters", c);
	if (v->have_kernel) {
		for (int i = 0; i < XTAP_STAT_MAX; i++)
			json_object_set_new(k, kernel[i].name, json_integer((json_int_t)v->kernel[i]));
		json_object_set_new(o, "kernel", k);
	} else {
		json_decref(k);
	}
	for (size_t i = 0; i < N_DROPS; i++)
		json_object_set_new(d, drops[i].reason,
				    json_integer((json_int_t)drop_value(&drops[i], v)));
	json_object_set_new(o, "drops", d);
	json_object_set_new(e, "submitted", json_integer((json_int_t)es->submitted));
	json_object_set_new(e, "dropped_full", json_integer((json_int_t)es->dropped_full));
	json_object_set_new(e, "udp_sent", json_integer((json_int_t)es->udp_sent));
	json_object_set_new(e, "udp_errors", json_integer((json_int_t)es->udp_errors));
	json_object_set_new(e, "too_large", json_integer((json_int_t)es->too_large));
	json_object_set_new(e, "lines_written", json_integer((json_int_t)es->lines_written));
	json_object_set_new(e, "write_errors", json_integer((json_int_t)es->write_errors));
	json_object_set_new(e, "queue_depth", json_integer((json_int_t)es->queue_depth));
	json_object_set_new(o, "export", e);
	if (v->have_xray) {
		json_t *x = json_object();

		json_object_set_new(x, "submitted", json_integer((json_int_t)v->xa.submitted));
		json_object_set_new(x, "sent", json_integer((json_int_t)v->xa.sent));
		json_object_set_new(x, "batches", json_integer((json_int_t)v->xa.batches));
		json_object_set_new(x, "retries", json_integer((json_int_t)v->xa.retries));
		json_object_set_new(x, "failed", json_integer((json_int_t)v->xa.failed));
		json_object_set_new(x, "rejected", json_integer((json_int_t)v->xa.rejected));
		json_object_set_new(x, "unprocessed", json_integer((json_int_t)v->xa.unprocessed));
		json_object_set_new(x, "dropped_full", json_integer((json_int_t)v->xa.dropped_full));
		json_object_set_new(x, "too_large", json_integer((json_int_t)v->xa.too_large));
		json_object_set_new(x, "queue_depth", json_integer((json_int_t)v->xa.queue_depth));
		json_object_set_new(o, "xray", x);
	}
}
