// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap run: capture, pair, write segments, export, until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "cmd.h"
#include "conn.h"
#include "counters.h"
#include "exporter.h"
#include "loader.h"
#include "log.h"
#include "pipeline.h"

#define SWEEP_NS 1000000000ull
/* Poll timeout: BPF wakes the agent only when a backlog builds up, so this
 * bounds how long a finished transaction may wait in the ring buffer. */
#define POLL_MS 50
#define DRAIN_MS 2000
#define CGROUPS_MAX 8

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xtap run [OPTIONS]\n"
		"Capture HTTP/1.x traffic of this host with eBPF and emit AWS X-Ray segments:\n"
		"JSON lines on stdout and UDP datagrams to the X-Ray daemon, by default.\n"
		"\n"
		"Scope (all processes by default; xtap never traces itself):\n"
		"      --pid PID            only this process (repeatable, up to %d)\n"
		"      --port PORT          only connections with this local or remote port (repeatable, up to %d)\n"
		"      --cgroup DIR         only processes in this cgroup v2 directory or below (repeatable, up to %d)\n"
		"Capture:\n"
		"      --capture-bytes N    bytes of each message head copied from the kernel (64..%d, default %d)\n"
		"      --ring-buffer-mb N   ring buffer size in MiB, a power of two (1..256, default 8)\n"
		"Output:\n"
		"      --daemon-address A   X-Ray daemon, host:port or 'tcp:host:port udp:host:port'\n"
		"                           (default: $AWS_XRAY_DAEMON_ADDRESS, else %s)\n"
		"      --no-daemon          do not send to the daemon\n"
		"      --no-stdout          do not print segments on stdout\n"
		"  -o, --output FILE        also append segments to FILE, one JSON document a line\n"
		"  -n, --name NAME          segment name (default: $AWS_XRAY_TRACING_NAME, else the process name)\n"
		"      --stats-interval S   log the counters every S seconds (default 0: at exit only)\n"
		"  -v, --verbose            debug output, libbpf's included\n"
		"  -q, --quiet              errors only\n"
		"  -h, --help\n",
		XTAP_SCOPE_MAX, XTAP_SCOPE_MAX, CGROUPS_MAX, XTAP_CAP_MAX, XTAP_CAP_DEFAULT,
		DAEMON_DEFAULT_ADDR);
}

static void log_counters(struct loader *l, const struct exporter_stats *es)
{
	uint64_t k[XTAP_STAT_MAX] = {};
	char line[2048];
	int n = 0;

	if (l)
		loader_read_stats(l, k);
#define X(name, help) n += snprintf(line + n, sizeof(line) - n, " " #name "=%" PRIu64, xtap_ctr.name);
	XTAP_COUNTERS(X)
#undef X
	p_info("counters:%s", line);
	p_info("kernel: events=%" PRIu64 " ringbuf_drops=%" PRIu64 " not_http=%" PRIu64
	       " truncated=%" PRIu64 " conns_tracked=%" PRIu64 " out_of_scope=%" PRIu64
	       " body_only=%" PRIu64,
	       k[XTAP_STAT_EVENTS], k[XTAP_STAT_RB_DROPS], k[XTAP_STAT_NON_HTTP],
	       k[XTAP_STAT_TRUNCATED], k[XTAP_STAT_CONN_TRACKED], k[XTAP_STAT_OUT_OF_SCOPE],
	       k[XTAP_STAT_BODY_BYTES]);
	if (!es)
		return;
	p_info("export: submitted=%" PRIu64 " dropped_full=%" PRIu64 " udp_sent=%" PRIu64
	       " udp_errors=%" PRIu64 " too_large=%" PRIu64 " lines=%" PRIu64 " write_errors=%" PRIu64
	       " queue_depth=%" PRIu64,
	       es->submitted, es->dropped_full, es->udp_sent, es->udp_errors, es->too_large,
	       es->lines_written, es->write_errors, es->queue_depth);
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (conn_handle_record(data, size))
		p_dbg("bad record of %zu bytes", size);
	return 0;
}

enum {
	OPT_PID = 0x100,
	OPT_PORT,
	OPT_CGROUP,
	OPT_CAP,
	OPT_RB,
	OPT_DAEMON,
	OPT_NO_DAEMON,
	OPT_NO_STDOUT,
	OPT_STATS,
};

int do_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, OPT_PID },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "capture-bytes", required_argument, NULL, OPT_CAP },
		{ "ring-buffer-mb", required_argument, NULL, OPT_RB },
		{ "daemon-address", required_argument, NULL, OPT_DAEMON },
		{ "no-daemon", no_argument, NULL, OPT_NO_DAEMON },
		{ "no-stdout", no_argument, NULL, OPT_NO_STDOUT },
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "stats-interval", required_argument, NULL, OPT_STATS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint32_t pids[XTAP_SCOPE_MAX];
	uint16_t ports[XTAP_SCOPE_MAX];
	char *cgroups[CGROUPS_MAX];
	struct loader_opts lo = { .cap_bytes = XTAP_CAP_DEFAULT, .ringbuf_mb = 8 };
	struct exporter_config ec = { .udp = true, .to_stdout = true };
	const char *daemon = getenv("AWS_XRAY_DAEMON_ADDRESS");
	struct pipeline pl = { .seg = { .name = getenv("AWS_XRAY_TRACING_NAME"),
					.sdk_version = XTAP_VERSION } };
	struct ring_buffer *rb = NULL;
	struct loader *l = NULL;
	uint64_t stats_every = 0, last_sweep, last_stats;
	char errbuf[256];
	long v;
	int opt, err;

	if (pl.seg.name && !*pl.seg.name)
		pl.seg.name = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:n:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_PID:
			if (lo.n_pids >= XTAP_SCOPE_MAX) {
				p_err("--pid: at most %d", XTAP_SCOPE_MAX);
				return XTAP_EXIT_USAGE;
			}
			if (parse_long(optarg, 1, INT32_MAX, &v)) {
				p_err("--pid '%s': expected a process id", optarg);
				return XTAP_EXIT_USAGE;
			}
			pids[lo.n_pids++] = v;
			break;
		case OPT_PORT:
			if (lo.n_ports >= XTAP_SCOPE_MAX) {
				p_err("--port: at most %d", XTAP_SCOPE_MAX);
				return XTAP_EXIT_USAGE;
			}
			if (parse_long(optarg, 1, 65535, &v)) {
				p_err("--port '%s': expected 1..65535", optarg);
				return XTAP_EXIT_USAGE;
			}
			ports[lo.n_ports++] = v;
			break;
		case OPT_CGROUP:
			if (lo.n_cgroups >= CGROUPS_MAX) {
				p_err("--cgroup: at most %d", CGROUPS_MAX);
				return XTAP_EXIT_USAGE;
			}
			cgroups[lo.n_cgroups++] = optarg;
			break;
		case OPT_CAP:
			if (parse_long(optarg, 64, XTAP_CAP_MAX, &v)) {
				p_err("--capture-bytes '%s': expected 64..%d", optarg, XTAP_CAP_MAX);
				return XTAP_EXIT_USAGE;
			}
			lo.cap_bytes = v;
			break;
		case OPT_RB:
			if (parse_long(optarg, 1, 256, &v) || (v & (v - 1))) {
				p_err("--ring-buffer-mb '%s': expected a power of two, 1..256", optarg);
				return XTAP_EXIT_USAGE;
			}
			lo.ringbuf_mb = v;
			break;
		case OPT_DAEMON:
			daemon = optarg;
			break;
		case OPT_NO_DAEMON:
			ec.udp = false;
			break;
		case OPT_NO_STDOUT:
			ec.to_stdout = false;
			break;
		case 'o':
			ec.file = optarg;
			break;
		case 'n':
			pl.seg.name = optarg;
			break;
		case OPT_STATS:
			if (parse_long(optarg, 0, 86400, &v)) {
				p_err("--stats-interval '%s': expected seconds, 0..86400", optarg);
				return XTAP_EXIT_USAGE;
			}
			stats_every = (uint64_t)v * 1000000000ull;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'q':
			log_set_level(LOG_ERROR);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return XTAP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		p_err("run: unexpected argument '%s' (see xtap run --help)", argv[optind]);
		return XTAP_EXIT_USAGE;
	}
	lo.pids = pids;
	lo.ports = ports;
	lo.cgroups = cgroups;
	if (ec.udp) {
		if (!daemon || !*daemon)
			daemon = DAEMON_DEFAULT_ADDR;
		if (daemon_addr_parse(daemon, &ec.daemon, errbuf, sizeof(errbuf))) {
			p_err("%s", errbuf);
			return XTAP_EXIT_USAGE;
		}
	}

	log_hook_libbpf();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_sync();

	err = tracefs_ensure();
	if (err)
		return XTAP_EXIT_FAIL;
	pl.ex = exporter_start(&ec);
	if (!pl.ex) {
		p_err("start exporter: %s%s%s", strerror(errno), ec.file ? " (output file " : "",
		      ec.file ? ec.file : "");
		return XTAP_EXIT_FAIL;
	}
	err = loader_open(&lo, &l);
	if (err)
		goto out;
	conn_table_init(pipeline_emit, &pl);
	rb = ring_buffer__new(loader_ringbuf_fd(l), on_record, NULL, NULL);
	if (!rb) {
		err = -errno;
		p_err("ring buffer: %s", strerror(-err));
		goto out;
	}
	p_info("ready: %d programs attached, capture %u bytes, ring buffer %u MiB%s%s", loader_links(l),
	       lo.cap_bytes, lo.ringbuf_mb, ec.udp ? ", daemon " : "", ec.udp ? daemon : "");

	last_sweep = last_stats = clock_mono_now();
	while (!stopping) {
		uint64_t now;

		/* poll returns early only on a forced wake-up (a backlog);
		 * records submitted without one are read by the consume */
		err = ring_buffer__poll(rb, POLL_MS);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		exporter_kick(pl.ex);
		if (err < 0 && err != -EINTR) {
			p_err("ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		now = clock_mono_now();
		if (now - last_sweep >= SWEEP_NS) {
			conn_sweep(now);
			clock_sync();
			last_sweep = now;
		}
		if (stats_every && now - last_stats >= stats_every) {
			struct exporter_stats es;

			exporter_get_stats(pl.ex, &es);
			log_counters(l, &es);
			last_stats = now;
		}
	}
	/* what the kernel already wrote still counts */
	ring_buffer__consume(rb);
	conn_table_flush();
out:
	ring_buffer__free(rb);
	if (pl.ex) {
		struct exporter_stats es;

		exporter_stop(pl.ex, DRAIN_MS, &es);
		if (l)
			log_counters(l, &es);
	}
	loader_close(l);
	return err ? XTAP_EXIT_FAIL : 0;
}
