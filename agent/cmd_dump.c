// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap dump conns|maps|segments: a running agent's connection table, BPF
 * maps and last documents, from its endpoint. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "recent.h"

#define OPT_ADDRESS 0x100

static int dump_conns(int argc, char **argv);
static int dump_maps(int argc, char **argv);
static int dump_segments(int argc, char **argv);

static const struct cli_cmd objs[] = {
	{ "conns", dump_conns, "the agent's connection table, most recently used first" },
	{ "maps", dump_maps, "the agent's BPF maps with their entry counts" },
	{ "segments", dump_segments, "the last documents the agent wrote" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: xtap dump OBJECT [--address HOST:PORT] [OPTIONS]\n\nObjects:\n");
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		fprintf(f, "  %-9s %s\n", objs[i].name, objs[i].help);
	fprintf(f,
		"\nThey come from a running agent's endpoint: --address A is its\n"
		"--metrics-address (default: $XTAP_METRICS_ADDRESS, else 127.0.0.1:9710).\n"
		"conns and segments are served to loopback clients only. A unique prefix\n"
		"names an object. 'xtap dump OBJECT --help' tells more.\n");
}

/* The options each object takes; -n for segments. NULL: exit with *ret. */
static json_t *fetch(int argc, char **argv, const char *what, const char *path_fmt,
		     struct cli_opts *o, int *ret)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "count", required_argument, NULL, 'n' },
		CLI_LONGOPTS,
		{},
	};
	const char *addr_opt = NULL, *addr;
	bool counted = strchr(path_fmt, '%') != NULL;
	long n = 10;
	char path[64];
	json_t *v;
	int opt;

	*ret = XTAP_EXIT_USAGE;
	cli_getopt_init();
	while ((opt = getopt_long(argc, argv, "n:" CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_opt(opt, o))
			continue;
		if (opt == OPT_ADDRESS) {
			addr_opt = optarg;
		} else if (opt == 'n' && counted) {
			if (parse_long(optarg, 1, RECENT_DOCS, &n)) {
				p_err("-n '%s': the agent keeps the last %d documents: 1..%d", optarg,
				      RECENT_DOCS, RECENT_DOCS);
				return NULL;
			}
		} else if (opt == 'h') {
			printf("Usage: xtap dump %s [--address HOST:PORT]%s [-j|-p]\n", what,
			       counted ? " [-n N]" : "");
			if (counted)
				printf("  -n, --count N            the last N documents, oldest first "
				       "(1..%d, default 10)\n",
				       RECENT_DOCS);
			printf("      --address A          the agent's --metrics-address\n%s",
			       CLI_OPTS_HELP);
			*ret = XTAP_EXIT_OK;
			return NULL;
		} else {
			char verb[32];

			snprintf(verb, sizeof(verb), "dump %s", what);
			cli_bad_opt(verb, argv);
			return NULL;
		}
	}
	if (optind < argc) {
		p_err("dump %s: unexpected argument '%s' (see xtap dump %s --help)", what,
		      argv[optind], what);
		return NULL;
	}
	addr = cli_agent_address(addr_opt);
	if (!addr)
		return NULL;
	snprintf(path, sizeof(path), path_fmt, n);
	v = cli_agent_get(addr, path);
	*ret = v ? XTAP_EXIT_OK : XTAP_EXIT_FAIL;
	return v;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static int dump_conns(int argc, char **argv)
{
	struct cli_opts o = {};
	json_t *v, *c;
	size_t i;
	int ret;

	v = fetch(argc, argv, "conns", "/conns", &o, &ret);
	if (!v)
		return ret;
	if (o.json)
		return cli_print_json(&o, v);
	printf("%-8s %-16s %-5s %-7s %-22s %-22s %-7s %s\n", "PID", "COMM", "FD", "ROLE", "LOCAL",
	       "PEER", "PENDING", "IDLE");
	json_array_foreach(json_object_get(v, "connections"), i, c) {
		printf("%-8" JSON_INTEGER_FORMAT " %-16s %-5" JSON_INTEGER_FORMAT
		       " %-7s %-22s %-22s %-7" JSON_INTEGER_FORMAT " %.1fs\n",
		       json_integer_value(json_object_get(c, "pid")), str(c, "comm"),
		       json_integer_value(json_object_get(c, "fd")), str(c, "role"), str(c, "local"),
		       str(c, "peer"), json_integer_value(json_object_get(c, "pending")),
		       json_number_value(json_object_get(c, "idle_seconds")));
	}
	printf("%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " connections listed\n",
	       json_integer_value(json_object_get(v, "listed")),
	       json_integer_value(json_object_get(v, "total")));
	json_decref(v);
	return XTAP_EXIT_OK;
}

static int dump_maps(int argc, char **argv)
{
	struct cli_opts o = {};
	json_t *v, *maps, *m;
	size_t i;
	int ret;

	v = fetch(argc, argv, "maps", "/status", &o, &ret);
	if (!v)
		return ret;
	maps = json_incref(json_object_get(json_object_get(v, "bpf"), "maps"));
	json_decref(v);
	if (!json_is_array(maps)) {
		json_decref(maps);
		p_err("the agent's status names no maps: is it an older xtap?");
		return XTAP_EXIT_FAIL;
	}
	if (o.json)
		return cli_print_json(&o, maps);
	printf("%-7s %-16s %-16s %-10s %s\n", "ID", "NAME", "TYPE", "ENTRIES", "MAX_ENTRIES");
	json_array_foreach(maps, i, m) {
		json_t *e = json_object_get(m, "entries");
		char entries[24] = "-";

		if (e)
			snprintf(entries, sizeof(entries), "%" JSON_INTEGER_FORMAT, json_integer_value(e));
		printf("%-7" JSON_INTEGER_FORMAT " %-16s %-16s %-10s %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(m, "id")), str(m, "name"), str(m, "type"),
		       entries, json_integer_value(json_object_get(m, "max_entries")));
	}
	json_decref(maps);
	return XTAP_EXIT_OK;
}

static int dump_segments(int argc, char **argv)
{
	struct cli_opts o = {};
	json_t *v, *d;
	size_t i;
	int ret;

	v = fetch(argc, argv, "segments", "/segments?n=%ld", &o, &ret);
	if (!v)
		return ret;
	if (o.json)
		return cli_print_json(&o, v);
	/* text: one document a line, as `xtap run` prints them */
	json_array_foreach(v, i, d) {
		json_dumpf(d, stdout, JSON_COMPACT);
		putchar('\n');
	}
	json_decref(v);
	return fflush(stdout) ? XTAP_EXIT_FAIL : XTAP_EXIT_OK;
}

int do_dump(int argc, char **argv)
{
	const struct cli_cmd *obj;

	if (argc < 2) {
		usage(stderr);
		return XTAP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return XTAP_EXIT_OK;
	}
	obj = cli_match(objs, sizeof(objs) / sizeof(objs[0]), argv[1], "dump object",
			"xtap dump help");
	if (!obj)
		return XTAP_EXIT_USAGE;
	return obj->fn(argc - 1, argv + 1);
}
