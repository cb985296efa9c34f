// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap trace: HTTP transactions as they complete, one line each, from an
 * instance of the capture programs of its own (it coexists with a running
 * agent: each instance has its own maps and ring buffer). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "capture.h"
#include "cli.h"
#include "clock.h"
#include "cmd.h"
#include "conn.h"
#include "k8s_meta.h"
#include "k8s_watch.h"
#include "log.h"
#include "redact.h"
#include "trace_fmt.h"

/* --raw --comm: the last processes' names, looked up in /proc once each */
#define COMM_CACHE 64

struct trace_ctx_ {
	struct cli_opts o;
	struct trace_filter f;
	long count; /* stop after this many lines; 0: never */
	long shown;
	bool failed; /* stdout went away */
	bool redact_query; /* --redact-query */
	struct {
		uint32_t tgid;
		char comm[XTAP_COMM_LEN];
	} comms[COMM_CACHE];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xtap trace [OPTIONS]\n"
		"Show HTTP/1.x transactions of this host as they complete, one line each:\n"
		"time, pod (namespace/pod) or process (comm[pid]), direction (in: served, out:\n"
		"called), method, url, status, duration, trace id (as the segments carry it: the\n"
		"request's X-Amzn-Trace-Id or traceparent, else the trace links; '-' without\n"
		"one). Runs its own instance of the\n"
		"capture programs, so it works with or without a running agent. Ctrl-C stops it.\n"
		"\n"
		"Filters (all must match):\n"
		"      --pid PID            only this process (repeatable, up to %d; in the kernel)\n"
		"      --port PORT          only connections with this local or remote port\n"
		"                           (repeatable, up to %d; in the kernel)\n"
		"      --comm NAME          only processes with this name (comm)\n"
		"      --status S           only these response statuses: 5xx, 404, 400-499\n"
		"      --min-duration D     only transactions that took at least D: 250ms, 1.5s,\n"
		"                           800us, 2m (a bare number is milliseconds)\n"
		"      --pod NAME           only this Kubernetes pod, and\n"
		"      --namespace NS       only this namespace (pods come from the Kubernetes\n"
		"                           API, as for xtap run: see the options below)\n"
		"Output:\n"
		"      --raw                the capture records themselves (open, data, close, exit),\n"
		"                           for debugging, bytes other than HTTP framing masked;\n"
		"                           takes --pid, --port, --comm and --redact-query only\n"
		"      --redact-query       show query strings without their values (?q=&page=)\n"
		"  -c, --count N            stop after N lines\n"
		"      --capture-bytes N    bytes of each message head copied (64..%d, default %d)\n"
		"      --ring-buffer-mb N   ring buffer size in MiB, a power of two (1..256, default 8)\n"
		"      --netns PATH         only sockets of this network namespace (/proc/PID/ns/net)\n"
		K8S_USAGE
		CLI_OPTS_HELP
		"\n"
		"Example: xtap trace --port 8080 --status 5xx --min-duration 100ms\n",
		XTAP_SCOPE_MAX, XTAP_SCOPE_MAX, XTAP_CAP_MAX, XTAP_CAP_DEFAULT);
}

static bool emit_done(struct trace_ctx_ *tc, int err)
{
	if (err) {
		tc->failed = true;
		return true;
	}
	tc->shown++;
	return tc->count && tc->shown >= tc->count;
}

static int print_line(const char *line)
{
	if (puts(line) == EOF || fflush(stdout)) {
		p_err("write to stdout: %s", strerror(errno));
		return XTAP_EXIT_FAIL;
	}
	return 0;
}

static bool done(const struct trace_ctx_ *tc)
{
	return tc->failed || (tc->count && tc->shown >= tc->count);
}

static void on_txn(struct xtap_txn *t, void *ctx)
{
	struct trace_ctx_ *tc = ctx;
	char line[HTTP_HOST_MAX + HTTP_TARGET_MAX + 512];

	if (done(tc))
		return;
	k8s_meta_fill(t);
	if (!trace_match(&tc->f, t))
		return;
	if (tc->redact_query)
		redact_query(t->target);
	if (tc->o.json) {
		emit_done(tc, cli_print_json(&tc->o, trace_txn_json(t)));
		return;
	}
	trace_line(t, line, sizeof(line));
	emit_done(tc, print_line(line));
}

static const char *comm_of(struct trace_ctx_ *tc, uint32_t tgid)
{
	unsigned int slot = tgid % COMM_CACHE;
	char path[40];
	FILE *f;

	if (tc->comms[slot].tgid == tgid)
		return tc->comms[slot].comm;
	tc->comms[slot].tgid = tgid;
	tc->comms[slot].comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(tc->comms[slot].comm, XTAP_COMM_LEN, f))
			tc->comms[slot].comm[strcspn(tc->comms[slot].comm, "\n")] = '\0';
		fclose(f);
	}
	return tc->comms[slot].comm;
}

static void on_raw(const void *rec, size_t size, void *ctx)
{
	struct trace_ctx_ *tc = ctx;
	const struct xtap_ev_hdr *h = rec;
	char line[TRACE_RAW_LINE_MAX];

	if (done(tc) || size < sizeof(*h))
		return;
	if (tc->f.comm) {
		const char *c = h->type == XTAP_EV_OPEN && size >= sizeof(struct xtap_conn_event)
					? ((const struct xtap_conn_event *)rec)->comm
					: comm_of(tc, h->tgid);

		if (strncmp(tc->f.comm, c, XTAP_COMM_LEN))
			return;
	}
	if (tc->o.json) {
		json_t *v = trace_record_json(rec, size, tc->redact_query);

		if (v)
			emit_done(tc, cli_print_json(&tc->o, v));
		return;
	}
	if (!trace_record_line(rec, size, tc->redact_query, line, sizeof(line)))
		emit_done(tc, print_line(line));
}

/* the shared capture options keep their enum cli_capture_opt value */
#define OPT_CAPTURE_BASE 0x100
enum {
	OPT_PID = OPT_CAPTURE_BASE + CLI_OPT_PID,
	OPT_PORT = OPT_CAPTURE_BASE + CLI_OPT_PORT,
	OPT_CAP = OPT_CAPTURE_BASE + CLI_OPT_CAPTURE_BYTES,
	OPT_RB = OPT_CAPTURE_BASE + CLI_OPT_RING_BUFFER_MB,
	OPT_NETNS = OPT_CAPTURE_BASE + CLI_OPT_NETNS,
	OPT_COMM = 0x200,
	OPT_STATUS,
	OPT_MIN_DURATION,
	OPT_POD,
	OPT_NAMESPACE,
	OPT_RAW,
	OPT_REDACT_QUERY,
	OPT_K8S, /* and the K8S_OPTS_N - 1 values after it */
};

int do_trace(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, OPT_PID },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "min-duration", required_argument, NULL, OPT_MIN_DURATION },
		{ "pod", required_argument, NULL, OPT_POD },
		{ "namespace", required_argument, NULL, OPT_NAMESPACE },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "redact-query", no_argument, NULL, OPT_REDACT_QUERY },
		{ "count", required_argument, NULL, 'c' },
		{ "capture-bytes", required_argument, NULL, OPT_CAP },
		{ "ring-buffer-mb", required_argument, NULL, OPT_RB },
		{ "netns", required_argument, NULL, OPT_NETNS },
		K8S_LONGOPTS(OPT_K8S),
		CLI_LONGOPTS,
		{},
	};
	static struct trace_ctx_ tc; /* the comm cache is 1.5 KiB: off the stack */
	uint32_t pids[XTAP_SCOPE_MAX];
	uint16_t ports[XTAP_SCOPE_MAX];
	struct loader_opts lo = { .cap_bytes = XTAP_CAP_DEFAULT, .ringbuf_mb = 8,
				  .pids = pids, .ports = ports };
	struct capture cap = {};
	struct k8s_config kc = { .mode = K8S_MODE_AUTO };
	char errbuf[256];
	bool raw = false;
	int opt, err = 0;

	memset(&tc, 0, sizeof(tc));
	cli_getopt_init();
	while ((opt = getopt_long(argc, argv, "c:" CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_opt(opt, &tc.o))
			continue;
		switch (opt) {
		case OPT_PID:
		case OPT_PORT:
		case OPT_CAP:
		case OPT_RB:
		case OPT_NETNS:
			if (cli_capture_opt(opt - OPT_CAPTURE_BASE, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) >= XTAP_COMM_LEN) {
				p_err("--comm '%s': a process name is 1..%d bytes (see /proc/PID/comm)",
				      optarg, XTAP_COMM_LEN - 1);
				return XTAP_EXIT_USAGE;
			}
			tc.f.comm = optarg;
			break;
		case OPT_STATUS:
			if (trace_parse_status(optarg, &tc.f.status_lo, &tc.f.status_hi)) {
				p_err("--status '%s': expected a class (5xx), a status (404) or a range (400-499)",
				      optarg);
				return XTAP_EXIT_USAGE;
			}
			break;
		case OPT_MIN_DURATION:
			if (trace_parse_duration(optarg, &tc.f.min_duration_ns)) {
				p_err("--min-duration '%s': expected a duration up to 1h: 250ms, 1.5s, 800us, 2m",
				      optarg);
				return XTAP_EXIT_USAGE;
			}
			break;
		case OPT_POD:
			tc.f.pod = optarg;
			break;
		case OPT_NAMESPACE:
			tc.f.ns = optarg;
			break;
		case OPT_K8S ... OPT_K8S + K8S_OPTS_N - 1:
			if (k8s_config_opt(&kc, opt - OPT_K8S, optarg))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_RAW:
			raw = true;
			break;
		case OPT_REDACT_QUERY:
			tc.redact_query = true;
			break;
		case 'c':
			if (parse_long(optarg, 1, LONG_MAX, &tc.count)) {
				p_err("--count '%s': expected a positive number", optarg);
				return XTAP_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return XTAP_EXIT_OK;
		default:
			return cli_bad_opt("trace", argv);
		}
	}
	if (optind < argc) {
		p_err("trace: unexpected argument '%s' (see xtap trace --help)", argv[optind]);
		return XTAP_EXIT_USAGE;
	}
	if (raw && (tc.f.status_hi || tc.f.min_duration_ns || tc.f.pod || tc.f.ns)) {
		p_err("--raw shows records, not transactions: --status, --min-duration, --pod and --namespace do not apply");
		return XTAP_EXIT_USAGE;
	}

	if (!raw) {
		/* pods for --pod, --namespace and the source column, as the
		 * agent finds them */
		err = k8s_start(&kc, errbuf, sizeof(errbuf));
		if (err) {
			p_err("%s", errbuf);
			return err == -EINVAL ? XTAP_EXIT_USAGE : XTAP_EXIT_FAIL;
		}
	}
	capture_handle_signals();
	clock_sync();
	if (raw) {
		cap.raw = on_raw;
		cap.raw_ctx = &tc;
	} else {
		conn_table_init(NULL, on_txn, &tc);
	}
	err = capture_open(&cap, &lo);
	if (err)
		goto out;
	p_info("tracing: %d programs attached; Ctrl-C stops", loader_links(cap.l));
	if (!tc.o.json && !raw)
		err = print_line(trace_header());
	while (!err && !capture_stopping() && !done(&tc))
		err = capture_turn(&cap, NULL);
	if (!err && !done(&tc))
		capture_drain(&cap);
out:
	capture_close(&cap);
	conn_table_flush();
	if (!raw)
		k8s_stop();
	if (tc.failed)
		return XTAP_EXIT_FAIL;
	return err ? XTAP_EXIT_FAIL : XTAP_EXIT_OK;
}
