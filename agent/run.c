// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap run: capture, pair, write segments, export, until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "aws_creds.h"
#include "capture.h"
#include "cli.h"
#include "clock.h"
#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "counters.h"
#include "endpoint.h"
#include "exporter.h"
#include "http_client.h"
#include "identity.h"
#include "k8s_watch.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "privs.h"
#include "reload.h"
#include "sampling.h"
#include "tls_probes.h"
#include "xray_api.h"

#define DRAIN_MS 2000
#define CGROUPS_MAX 8

/* the configuration file's options: optarg values point into it for the
 * whole run (static, so an early return does not lose it) */
static struct config_args run_config;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xtap run [OPTIONS]\n"
		"Capture HTTP/1.x traffic of this host with eBPF and emit AWS X-Ray segments:\n"
		"JSON lines on stdout and UDP datagrams to the X-Ray daemon, by default.\n"
		"\n"
		"      --config FILE        read options from FILE first, 'name = value' or 'name' a line\n"
		"                           (default: $XTAP_CONFIG); the command line wins\n"
		"Scope (all processes by default; xtap never traces itself):\n"
		"      --pid PID            only this process (repeatable, up to %d)\n"
		"      --port PORT          only connections with this local or remote port (repeatable, up to %d)\n"
		"      --cgroup DIR         only processes in this cgroup v2 directory or below (repeatable, up to %d)\n"
		"      --netns PATH         only sockets of this network namespace (/proc/PID/ns/net,\n"
		"                           /run/netns/NAME)\n"
		"Capture:\n"
		"      --capture-bytes N    bytes of each message head copied from the kernel (64..%d, default %d)\n"
		"      --ring-buffer-mb N   ring buffer size in MiB, a power of two (1..256, default 8)\n"
		"      --no-tls             do not probe TLS libraries (OpenSSL, Go crypto/tls)\n"
		"      --no-tcp-option      do not carry trace context to other nodes in a TCP option\n"
		"Output:\n"
		"      --daemon-address A   X-Ray daemon, host:port or 'tcp:host:port udp:host:port'\n"
		"                           (default: $AWS_XRAY_DAEMON_ADDRESS, else %s)\n"
		"      --no-daemon          do not send to the daemon\n"
		"      --no-stdout          do not print segments on stdout\n"
		"  -o, --output FILE        also append segments to FILE, one JSON document a line\n"
		"      --export MODE        auto, daemon, api, both or none: where segments go besides\n"
		"                           stdout and -o (default auto: the daemon if an address is set,\n"
		"                           else the X-Ray API when a region and credentials are found,\n"
		"                           else the daemon)\n"
		"      --region R           AWS region for the X-Ray API (default: $AWS_REGION,\n"
		"                           $AWS_DEFAULT_REGION, else EC2 instance metadata)\n"
		"      --xray-endpoint URL  X-Ray API endpoint (default: $AWS_ENDPOINT_URL_XRAY,\n"
		"                           $AWS_ENDPOINT_URL, else https://xray.REGION.amazonaws.com);\n"
		"                           without credentials requests go unsigned (a signing proxy)\n"
		"  -n, --name NAME          segment name (default: $AWS_XRAY_TRACING_NAME, else the process name)\n"
		"      --redact-query       query strings in segments without their values (?q=&page=)\n"
		"Sampling (requests whose trace header says Sampled=1 or 0 are never resampled):\n"
		"      --sampling MODE      off: emit every request; local: the rules file, else 1 req/s + 5%%;\n"
		"                           centralized: X-Ray sampling rules (through the X-Ray API when\n"
		"                           exporting there, else the daemon's TCP address), local rules\n"
		"                           while they are unavailable (default: centralized when exporting\n"
		"                           to the X-Ray API, else local with --sampling-rules, else off)\n"
		"      --sampling-rules F   local rules, the X-Ray SDKs' JSON format (version 1 or 2)\n"
		K8S_USAGE
		"Platform (aws.ec2 / aws.eks and origin in segments):\n"
		"      --platform P         auto, ec2, eks or none (default auto: eks with a cluster name,\n"
		"                           else ec2 on an EC2 host whose instance metadata answers)\n"
		"      --eks-cluster NAME   EKS cluster name (default: k8s.cluster.name in\n"
		"                           $OTEL_RESOURCE_ATTRIBUTES)\n"
		"Trace links:\n"
		"      --link-wait MS       how long a request from this node may wait for the record of\n"
		"                           the call that sent it, to join its trace (0..10000, default 250)\n"
		"      --stats-interval S   log the counters every S seconds (default 0: at exit only)\n"
		"      --metrics-address A  HOST:PORT of /metrics, /healthz and /status, or 'off'\n"
		"                           (default: $XTAP_METRICS_ADDRESS, else 127.0.0.1:9710)\n"
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
	n = 0;
	for (int i = 0; i < XTAP_STAT_MAX; i++)
		n += snprintf(line + n, sizeof(line) - n, " %s=%" PRIu64, metrics_kernel_name(i), k[i]);
	p_info("kernel:%s", line);
	if (!es)
		return;
	p_info("export: submitted=%" PRIu64 " dropped_full=%" PRIu64 " udp_sent=%" PRIu64
	       " udp_errors=%" PRIu64 " too_large=%" PRIu64 " lines=%" PRIu64 " write_errors=%" PRIu64
	       " queue_depth=%" PRIu64,
	       es->submitted, es->dropped_full, es->udp_sent, es->udp_errors, es->too_large,
	       es->lines_written, es->write_errors, es->queue_depth);
}

static void log_xray(const struct xray_api_stats *xs)
{
	uint64_t refreshed, failed;

	aws_creds_counts(&refreshed, &failed);
	p_info("xray: submitted=%" PRIu64 " sent=%" PRIu64 " batches=%" PRIu64 " retries=%" PRIu64
	       " failed=%" PRIu64 " rejected=%" PRIu64 " unprocessed=%" PRIu64
	       " dropped_full=%" PRIu64 " too_large=%" PRIu64 " queue_depth=%" PRIu64
	       " creds_refreshed=%" PRIu64 " creds_failed=%" PRIu64,
	       xs->submitted, xs->sent, xs->batches, xs->retries, xs->failed, xs->rejected,
	       xs->unprocessed, xs->dropped_full, xs->too_large, xs->queue_depth, refreshed, failed);
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
	OPT_SAMPLING,
	OPT_SAMPLING_RULES,
	OPT_PLATFORM,
	OPT_EKS_CLUSTER,
	OPT_EXPORT,
	OPT_REGION,
	OPT_XRAY_ENDPOINT,
	OPT_LINK_WAIT,
	OPT_KUBERNETES, /* and the K8S_OPTS_N - 1 values after it */
	OPT_K8S_LAST = OPT_KUBERNETES + K8S_OPTS_N - 1,
	OPT_METRICS,
	OPT_CONFIG,
	OPT_NO_TLS,
	OPT_REDACT_QUERY,
	OPT_NETNS,
	OPT_NO_TCP_OPTION,
};

/* "http://host:port" of the daemon's TCP address, where it proxies the
 * sampling APIs (the X-Ray API reference). */
static int daemon_tcp_url(const struct daemon_addr *d, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (d->tcp.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&d->tcp;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "http://[%s]:%u", ip, ntohs(a->sin6_port));
	} else if (d->tcp.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&d->tcp;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "http://%s:%u", ip, ntohs(a->sin_port));
	} else {
		return -EINVAL;
	}
	return 0;
}

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
		{ "sampling", required_argument, NULL, OPT_SAMPLING },
		{ "sampling-rules", required_argument, NULL, OPT_SAMPLING_RULES },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "eks-cluster", required_argument, NULL, OPT_EKS_CLUSTER },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "xray-endpoint", required_argument, NULL, OPT_XRAY_ENDPOINT },
		{ "link-wait", required_argument, NULL, OPT_LINK_WAIT },
		K8S_LONGOPTS(OPT_KUBERNETES),
		{ "metrics-address", required_argument, NULL, OPT_METRICS },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "no-tls", no_argument, NULL, OPT_NO_TLS },
		{ "redact-query", no_argument, NULL, OPT_REDACT_QUERY },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "no-tcp-option", no_argument, NULL, OPT_NO_TCP_OPTION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint32_t pids[XTAP_SCOPE_MAX];
	uint16_t ports[XTAP_SCOPE_MAX];
	char *cgroups[CGROUPS_MAX];
	struct loader_opts lo = { .cap_bytes = XTAP_CAP_DEFAULT, .ringbuf_mb = 8, .tls = true,
				  .propagate = true, .mute_unsampled = true };
	struct exporter_config ec = { .udp = true, .to_stdout = true };
	const char *daemon = getenv("AWS_XRAY_DAEMON_ADDRESS");
	struct pipeline pl = { .seg = { .name = getenv("AWS_XRAY_TRACING_NAME"),
					.sdk_version = XTAP_VERSION } };
	struct capture cap = {};
	struct reload rl = {};
	struct endpoint ep = {};
	const char *metrics_opt = NULL;
	uint64_t stats_every = 0, last_stats;
	struct sampling_config sc = { .mode = SAMPLING_OFF };
	const char *sampling = NULL, *rules_path = NULL, *cluster = NULL;
	enum xtap_platform platform = PLATFORM_AUTO;
	static struct xtap_identity ident; /* read by segments until the end */
	char cluster_env[EKS_CLUSTER_MAX + 1], daemon_url[80];
	char *rules_json = NULL;
	enum xray_export_mode export_mode = XRAY_EXPORT_AUTO;
	struct k8s_config kc = { .mode = K8S_MODE_AUTO };
	const char *region = NULL, *xray_endpoint = NULL, *config;
	bool no_daemon = false, use_api = false, daemon_explicit;
	char errbuf[256];
	long v;
	int opt, err = 0, file_argc = 0, argc0 = argc;
	char **argv0 = argv;
	int ret = 0; /* an exit code decided before the loop (usage, setup) */

	if (pl.seg.name && !*pl.seg.name)
		pl.seg.name = NULL;
	/* the file's options go first, so the command line's win */
	config = config_path(argc, argv, "o:n:vqh", longopts);
	if (config) {
		if (config_load(config, longopts, &run_config, errbuf, sizeof(errbuf))) {
			p_err("--config %s", errbuf);
			return XTAP_EXIT_USAGE;
		}
		file_argc = run_config.argc;
		if (config_args_prepend(&run_config, argc, argv)) {
			p_err("--config %s: out of memory", config);
			return XTAP_EXIT_FAIL;
		}
		argc = run_config.argc;
		argv = run_config.argv;
	}
	optind = 0; /* a full reset: config_path has run getopt */
	while ((opt = getopt_long(argc, argv, "o:n:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG: /* read above */
			break;
		case OPT_PID:
			if (cli_capture_opt(CLI_OPT_PID, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_PORT:
			if (cli_capture_opt(CLI_OPT_PORT, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_CGROUP:
			if (lo.n_cgroups >= CGROUPS_MAX) {
				p_err("--cgroup: at most %d", CGROUPS_MAX);
				return XTAP_EXIT_USAGE;
			}
			cgroups[lo.n_cgroups++] = optarg;
			break;
		case OPT_NETNS:
			if (cli_capture_opt(CLI_OPT_NETNS, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_NO_TCP_OPTION:
			lo.propagate = false;
			break;
		case OPT_CAP:
			if (cli_capture_opt(CLI_OPT_CAPTURE_BYTES, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_RB:
			if (cli_capture_opt(CLI_OPT_RING_BUFFER_MB, optarg, &lo, pids, ports))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_DAEMON:
			daemon = optarg;
			break;
		case OPT_NO_DAEMON:
			no_daemon = true;
			break;
		case OPT_EXPORT:
			if (xray_export_mode_parse(optarg, &export_mode)) {
				p_err("--export '%s': expected auto, daemon, api, both or none", optarg);
				return XTAP_EXIT_USAGE;
			}
			break;
		case OPT_REGION:
			region = optarg;
			break;
		case OPT_XRAY_ENDPOINT:
			xray_endpoint = optarg;
			break;
		case OPT_NO_TLS:
			lo.tls = false;
			break;
		case OPT_NO_STDOUT:
			ec.to_stdout = false;
			break;
		case OPT_REDACT_QUERY:
			pl.redact_query = true;
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
		case OPT_SAMPLING:
			if (strcmp(optarg, "off") && strcmp(optarg, "local") &&
			    strcmp(optarg, "centralized")) {
				p_err("--sampling '%s': expected off, local or centralized", optarg);
				return XTAP_EXIT_USAGE;
			}
			sampling = optarg;
			break;
		case OPT_SAMPLING_RULES:
			rules_path = optarg;
			break;
		case OPT_PLATFORM:
			if (identity_platform_parse(optarg, &platform)) {
				p_err("--platform '%s': expected auto, ec2, eks or none", optarg);
				return XTAP_EXIT_USAGE;
			}
			break;
		case OPT_EKS_CLUSTER:
			cluster = optarg;
			break;
		case OPT_LINK_WAIT:
			if (parse_long(optarg, 0, 10000, &v)) {
				p_err("--link-wait '%s': expected milliseconds, 0..10000", optarg);
				return XTAP_EXIT_USAGE;
			}
			conn_table_set_link_wait((uint64_t)v * 1000000ull);
			break;
		case OPT_KUBERNETES ... OPT_KUBERNETES + K8S_OPTS_N - 1:
			if (k8s_config_opt(&kc, opt - OPT_KUBERNETES, optarg))
				return XTAP_EXIT_USAGE;
			break;
		case OPT_METRICS:
			metrics_opt = optarg;
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
	if (endpoint_configure(&ep, metrics_opt))
		return XTAP_EXIT_USAGE;
	/* the address is checked unless --no-daemon, whatever --export
	 * decides below */
	daemon_explicit = daemon && *daemon;
	ec.udp = !no_daemon;
	if (ec.udp) {
		if (!daemon || !*daemon)
			daemon = DAEMON_DEFAULT_ADDR;
		if (daemon_addr_parse(daemon, &ec.daemon, errbuf, sizeof(errbuf))) {
			p_err("%s", errbuf);
			return XTAP_EXIT_USAGE;
		}
	}
	/* after the address check (a bad address is the only line printed);
	 * before sampling, which follows the export path. --no-daemon still
	 * turns UDP off whatever the mode. */
	if (xray_export_setup(export_mode, region, xray_endpoint, daemon_explicit, &ec.udp,
			      &use_api)) {
		ret = XTAP_EXIT_USAGE;
		goto out;
	}
	if (no_daemon)
		ec.udp = false;

	/* Sampling. With the X-Ray API as a sink, centralized, as the SDKs
	 * default to; otherwise "emit everything" (xtap's behaviour so far,
	 * which stdout/file/daemon users rely on) unless a rules file is
	 * given. See README, "Sampling". */
	if (!sampling)
		sampling = use_api ? "centralized" : rules_path ? "local" : "off";
	if (!strcmp(sampling, "local"))
		sc.mode = SAMPLING_LOCAL;
	else if (!strcmp(sampling, "centralized"))
		sc.mode = SAMPLING_CENTRALIZED;
	lo.sample_all = sc.mode == SAMPLING_OFF;
	if (sc.mode == SAMPLING_OFF && rules_path) {
		p_err("--sampling-rules: not used with --sampling off");
		ret = XTAP_EXIT_USAGE;
		goto out;
	}
	if (sc.mode == SAMPLING_CENTRALIZED && use_api) {
		sc.post = sampling_xray_post;
	} else if (sc.mode == SAMPLING_CENTRALIZED) {
		struct daemon_addr da;
		const char *d = daemon && *daemon ? daemon : DAEMON_DEFAULT_ADDR;

		if (daemon_addr_parse(d, &da, errbuf, sizeof(errbuf)) ||
		    daemon_tcp_url(&da, daemon_url, sizeof(daemon_url))) {
			p_err("--sampling centralized: daemon address: %s", errbuf);
			ret = XTAP_EXIT_USAGE;
			goto out;
		}
		if (http_client_global_init()) {
			p_err("--sampling centralized: libcurl initialisation failed");
			ret = XTAP_EXIT_FAIL;
			goto out;
		}
		sc.post = sampling_daemon_post;
		sc.post_ctx = daemon_url;
	}
	/* tests only: a shorter SamplingTargets period than the SDKs' 10 s */
	if (getenv("XTAP_TEST_TARGETS_PERIOD") &&
	    !parse_long(getenv("XTAP_TEST_TARGETS_PERIOD"), 1, 10, &v))
		sc.targets_period = (double)v;
	if (rules_path) {
		rules_json = rules_file_read(rules_path, errbuf, sizeof(errbuf));
		if (!rules_json) {
			p_err("--sampling-rules %s", errbuf);
			ret = XTAP_EXIT_USAGE;
			goto out;
		}
		sc.local_rules_json = rules_json;
	}
	if (sc.mode != SAMPLING_OFF) {
		err = sampler_create(&sc, &pl.sampler, errbuf, sizeof(errbuf));
		free(rules_json);
		if (err) {
			p_err("sampling%s%s: %s", rules_path ? " rules " : "", rules_path ? rules_path : "",
			      errbuf);
			ret = XTAP_EXIT_USAGE;
			goto out;
		}
	}
	if (!cluster && identity_cluster_from_env(cluster_env))
		cluster = cluster_env;
	if (identity_start(&ident, platform, cluster, errbuf, sizeof(errbuf))) {
		p_err("--platform: %s", errbuf);
		ret = XTAP_EXIT_USAGE;
		goto out;
	}
	pl.seg.identity = &ident;
	err = k8s_start(&kc, errbuf, sizeof(errbuf));
	if (err) {
		p_err("%s", errbuf);
		ret = err == -EINVAL ? XTAP_EXIT_USAGE : XTAP_EXIT_FAIL;
		goto out;
	}

	log_hook_libbpf();
	capture_handle_signals();
	reload_handle_signal();
	clock_sync();

	pl.ex = exporter_start(&ec);
	if (!pl.ex) {
		err = errno ? -errno : -EIO;
		p_err("start exporter: %s%s%s", strerror(errno), ec.file ? " (output file " : "",
		      ec.file ? ec.file : "");
		goto out;
	}
	if (use_api) {
		pl.xa = xray_api_start();
		if (!pl.xa) {
			err = -errno;
			p_err("start X-Ray API exporter: %s", strerror(errno));
			goto out;
		}
	}
	err = sampler_start(pl.sampler);
	if (err) {
		p_err("sampling thread: %s", strerror(-err));
		goto out;
	}
	conn_table_init(pipeline_head, pipeline_emit, &pl);
	err = capture_open(&cap, &lo);
	if (err)
		goto out;
	if (pl.sampler) {
		struct loader_sampling ls;

		/* the kernel decides traces that start here, so that their
		 * calls carry the decision to other nodes */
		loader_sampling(cap.l, &ls);
		if (ls.slots) {
			sampler_bind_kernel(pl.sampler, ls.slots, ls.gen);
			pl.kplans = ls.plans;
		}
	}
	if (lo.tls) {
		struct tls_probes_config tc = { .attach = loader_attach_tls,
						.detach = loader_detach_tls, .ctx = cap.l,
						.pids = pids, .n_pids = lo.n_pids, .self = getpid() };

		err = tls_probes_start(&tc, clock_mono_now());
		if (err)
			goto out;
		cap.tls = true;
	}
	err = endpoint_start(&ep, &cap, &pl, &lo, &ec, use_api);
	if (err)
		goto out;
	/* every thread runs by now; what loads and attaches is done */
	err = privs_drop(cap.tls);
	if (err)
		goto out;
	p_info("ready: %d programs attached, capture %u bytes, ring buffer %u MiB%s%s",
	       loader_links(cap.l), lo.cap_bytes, lo.ringbuf_mb, ec.udp ? ", daemon " : "",
	       ec.udp ? daemon : "");

	err = reload_init(&rl, config, longopts, "o:n:vqh", argc0, argv0,
			  config ? run_config.argv + 1 : NULL,
			  file_argc, &pl, rules_path);
	if (err)
		goto out;

	last_stats = clock_mono_now();
	while (!capture_stopping()) {
		uint64_t now;

		err = capture_turn(&cap, &now);
		exporter_kick(pl.ex);
		if (err)
			break;
		if (reload_requested())
			reload_apply(&rl);
		if (stats_every && now - last_stats >= stats_every) {
			struct exporter_stats es;

			exporter_get_stats(pl.ex, &es);
			log_counters(cap.l, &es);
			if (pl.xa) {
				struct xray_api_stats xs;

				xray_api_get_stats(pl.xa, &xs);
				log_xray(&xs);
			}
			k8s_log_stats();
			last_stats = now;
		}
	}
	capture_drain(&cap);
out:
	endpoint_stop(&ep);
	if (pl.xa) {
		struct xray_api_stats xs;

		/* stopped first: it has the network to wait for; the
		 * deadline is shared with the local sinks' drain */
		xray_api_stop(pl.xa, DRAIN_MS, &xs);
		log_xray(&xs);
	}
	if (pl.ex) {
		struct exporter_stats es;

		exporter_stop(pl.ex, DRAIN_MS, &es);
		if (cap.l)
			log_counters(cap.l, &es);
	}
	/* after the flush (the pipeline used it until then), before the
	 * credentials its X-Ray calls sign with */
	sampler_destroy(pl.sampler);
	aws_creds_stop();
	if (cap.tls)
		tls_probes_stop();
	capture_close(&cap);
	/* after the flush: the event loop no longer reads the store */
	k8s_stop();
	identity_stop(&ident);
	reload_free(&rl);
	config_args_free(&run_config);
	if (ret)
		return ret;
	return err ? XTAP_EXIT_FAIL : 0;
}
