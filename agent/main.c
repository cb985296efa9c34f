// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap: verbs dispatched from a table, matched by unique prefix as bpftool does. */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "cli.h"
#include "cmd.h"
#include "log.h"

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);

static const struct cli_cmd cmds[] = {
	{ "run", do_run, "capture HTTP traffic and emit X-Ray segments" },
	{ "trace", do_trace, "show HTTP transactions live, one line each" },
	{ "probe", do_probe, "what this kernel offers, and what run will use" },
	{ "status", do_status, "ask a running agent for its programs, maps and counters" },
	{ "dump", do_dump, "show a running agent's connections, maps or last segments" },
	{ "version", do_version, "print the version" },
	{ "help", do_help, "this list" },
};

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("Usage: xtap COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-9s %s\n", cmds[i].name, cmds[i].help);
	printf("\nA unique prefix names a command (xtap st = xtap status). Every command takes\n"
	       "-j/--json, -p/--pretty, -v/--verbose and --help. 'xtap COMMAND --help' tells more;\n"
	       "man xtap tells all.\n"
	       "Exit codes: 0 ok, 1 failure (load, attach, I/O, no agent), 2 usage or configuration.\n");
	return XTAP_EXIT_OK;
}

static int do_version(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_LONGOPTS, {} };
	struct cli_opts o = {};
	char libbpf[32];
	json_t *v;
	int opt;

	cli_getopt_init();
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_opt(opt, &o))
			continue;
		if (opt == 'h') {
			printf("Usage: xtap version [-j|-p]\nThe version of xtap and of the libbpf it uses.\n\n%s",
			       CLI_OPTS_HELP);
			return XTAP_EXIT_OK;
		}
		return cli_bad_opt("version", argv);
	}
	if (optind < argc) {
		p_err("version: unexpected argument '%s' (see xtap version --help)", argv[optind]);
		return XTAP_EXIT_USAGE;
	}
	snprintf(libbpf, sizeof(libbpf), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	if (!o.json) {
		printf("xtap %s\nlibbpf %s\n", XTAP_VERSION, libbpf);
		return XTAP_EXIT_OK;
	}
	v = json_pack("{s:s, s:s, s:s}", "version", XTAP_VERSION, "libbpf", libbpf, "jansson",
		      JANSSON_VERSION);
	return cli_print_json(&o, v);
}

int main(int argc, char **argv)
{
	const struct cli_cmd *match;

	/* libbpf speaks only with -v, through the one log funnel */
	log_hook_libbpf();
	if (argc < 2) {
		do_help(0, NULL);
		return XTAP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return do_help(0, NULL);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return do_version(1, argv + 1);
	match = cli_match(cmds, sizeof(cmds) / sizeof(cmds[0]), argv[1], "command", "xtap help");
	if (!match)
		return XTAP_EXIT_USAGE;
	return match->fn(argc - 1, argv + 1);
}
