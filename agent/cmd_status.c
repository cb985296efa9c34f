// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap status: a running agent's programs, maps, counters, exporters and
 * sampling rules, from its endpoint's /status. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "cmd.h"
#include "log.h"

#define OPT_ADDRESS 0x100

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xtap status [--address HOST:PORT] [-j|-p]\n"
		"Ask a running agent (xtap run) for its attached programs and links, its maps\n"
		"with their entry counts, its counters and drops, the state of its exporters\n"
		"and the sampling rules in force, through its metrics endpoint.\n"
		"\n"
		"      --address A          the agent's --metrics-address (default:\n"
		"                           $XTAP_METRICS_ADDRESS, else 127.0.0.1:9710)\n"
		CLI_OPTS_HELP);
}

/* "name=value" for each member of an object of numbers; with nonzero,
 * only those that are not 0 ("none" if all are) */
static void print_numbers(const char *title, json_t *o, bool nonzero)
{
	const char *k;
	json_t *v;
	int n = 0;

	printf("%-12s", title);
	json_object_foreach(o, k, v) {
		if (nonzero && json_is_integer(v) && !json_integer_value(v))
			continue;
		printf("%s%s=%" JSON_INTEGER_FORMAT, !n ? "" : n % 6 ? " " : "\n            ", k,
		       json_integer_value(v));
		n++;
	}
	printf("%s\n", n ? "" : "none");
}

static void print_maps(json_t *maps)
{
	size_t i;
	json_t *m;

	json_array_foreach(maps, i, m) {
		json_t *e = json_object_get(m, "entries");

		printf("%-12s%-16s %-16s id %-6" JSON_INTEGER_FORMAT, i ? "" : "maps",
		       json_string_value(json_object_get(m, "name")),
		       json_string_value(json_object_get(m, "type")),
		       json_integer_value(json_object_get(m, "id")));
		if (e)
			printf(" %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " entries\n",
			       json_integer_value(e), json_integer_value(json_object_get(m, "max_entries")));
		else
			printf(" max %" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(json_object_get(m, "max_entries")));
	}
}

static void print_sampling(json_t *s)
{
	json_t *rules = json_object_get(s, "rules"), *r;
	const char *src = json_string_value(json_object_get(s, "source"));
	size_t i;

	printf("%-12s%s%s%s\n", "sampling", json_string_value(json_object_get(s, "mode")),
	       src ? ", rules from " : "", src ? src : "");
	json_array_foreach(rules, i, r) {
		printf("            %s: %s %s %s%s rate %g reservoir %" JSON_INTEGER_FORMAT "\n",
		       json_string_value(json_object_get(r, "name")),
		       json_string_value(json_object_get(r, "http_method")),
		       json_string_value(json_object_get(r, "host")),
		       json_string_value(json_object_get(r, "url_path")),
		       strcmp(json_string_value(json_object_get(r, "service_name")) ?: "*", "*")
			       ? " (service)"
			       : "",
		       json_number_value(json_object_get(r, "rate")),
		       json_integer_value(json_object_get(r, "reservoir")));
	}
}

/* Which binaries and libraries carry TLS probes, and why others do not. */
static void print_tls(json_t *t)
{
	json_t *files = json_object_get(t, "files"), *f;
	size_t i;

	if (!json_is_array(files) || !json_array_size(files)) {
		printf("%-12snone\n", "tls");
		return;
	}
	json_array_foreach(files, i, f) {
		const char *ver = json_string_value(json_object_get(f, "version"));
		const char *detail = json_string_value(json_object_get(f, "detail"));

		printf("%-12s%-8s %-15s %s%s%s", i ? "" : "tls",
		       json_string_value(json_object_get(f, "state")),
		       json_string_value(json_object_get(f, "kind")),
		       json_string_value(json_object_get(f, "path")), ver && *ver ? " " : "",
		       ver ? ver : "");
		if (json_integer_value(json_object_get(f, "probes")))
			printf(", %" JSON_INTEGER_FORMAT " probes, %" JSON_INTEGER_FORMAT " users",
			       json_integer_value(json_object_get(f, "probes")),
			       json_integer_value(json_object_get(f, "users")));
		if (detail && *detail)
			printf(" (%s)", detail);
		printf("\n");
	}
}

static void print_status(json_t *st)
{
	json_t *bpf = json_object_get(st, "bpf"), *progs = json_object_get(bpf, "programs");
	json_t *p;
	size_t i, attached = 0;

	printf("%-12spid %" JSON_INTEGER_FORMAT ", version %s, up %.0f s, %s\n", "agent",
	       json_integer_value(json_object_get(st, "pid")),
	       json_string_value(json_object_get(st, "version")),
	       json_number_value(json_object_get(st, "uptime_seconds")),
	       json_string_value(json_object_get(st, "health")));
	json_array_foreach(progs, i, p)
		attached += json_is_true(json_object_get(p, "attached"));
	printf("%-12s%zu attached of %zu, %" JSON_INTEGER_FORMAT " links\n", "programs", attached,
	       json_array_size(progs), json_integer_value(json_object_get(bpf, "links")));
	print_maps(json_object_get(bpf, "maps"));
	printf("%-12s%" JSON_INTEGER_FORMAT ", resident memory %.1f MiB\n", "connections",
	       json_integer_value(json_object_get(st, "connections")),
	       (double)json_integer_value(json_object_get(st, "resident_memory_bytes")) / 1048576);
	print_numbers("counters", json_object_get(st, "counters"), true);
	print_numbers("kernel", json_object_get(st, "kernel"), false);
	print_numbers("drops", json_object_get(st, "drops"), true);
	print_numbers("export", json_object_get(st, "export"), false);
	if (json_object_get(st, "xray"))
		print_numbers("xray api", json_object_get(st, "xray"), false);
	print_sampling(json_object_get(st, "sampling"));
	print_tls(json_object_get(st, "tls"));
}

int do_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, OPT_ADDRESS },
		CLI_LONGOPTS,
		{},
	};
	const char *addr_opt = NULL, *addr;
	struct cli_opts o = {};
	json_t *st;
	int opt;

	cli_getopt_init();
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_opt(opt, &o))
			continue;
		if (opt == OPT_ADDRESS) {
			addr_opt = optarg;
		} else if (opt == 'h') {
			usage(stdout);
			return XTAP_EXIT_OK;
		} else {
			return cli_bad_opt("status", argv);
		}
	}
	if (optind < argc) {
		p_err("status: unexpected argument '%s' (see xtap status --help)", argv[optind]);
		return XTAP_EXIT_USAGE;
	}
	addr = cli_agent_address(addr_opt);
	if (!addr)
		return XTAP_EXIT_USAGE;
	st = cli_agent_get(addr, "/status");
	if (!st)
		return XTAP_EXIT_FAIL;
	if (o.json)
		return cli_print_json(&o, st);
	print_status(st);
	json_decref(st);
	return fflush(stdout) ? XTAP_EXIT_FAIL : XTAP_EXIT_OK;
}
