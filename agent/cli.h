/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the operator's verbs share, after bpftool: command tables matched by
 * unique prefix, the options every verb takes (-j/--json, -p/--pretty,
 * -v/--verbose, -h/--help), JSON on stdout, and the way to the agent's
 * endpoint for status and dump. */
#ifndef XTAP_CLI_H
#define XTAP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* The entry whose name starts with word, when exactly one does; else NULL,
 * reported ("unknown" or "ambiguous", with what to try). what names the
 * table in messages ("command", "dump object"). */
const struct cli_cmd *cli_match(const struct cli_cmd *cmds, size_t n, const char *word,
				const char *what, const char *try_cmd);

struct cli_opts {
	bool json;
	bool pretty; /* implies json */
};

#define CLI_SHORTOPTS "jpvh"
#define CLI_LONGOPTS                                                                     \
	{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' },          \
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' }
#define CLI_OPTS_HELP                                                                    \
	"  -j, --json               JSON output\n"                                         \
	"  -p, --pretty             indented JSON output (implies -j)\n"                    \
	"  -v, --verbose            debug output, libbpf's included\n"                      \
	"  -h, --help               this text\n"

/* Before a verb's getopt_long loop: getopt stays quiet, cli_bad_opt speaks. */
void cli_getopt_init(void);
/* The option getopt_long just refused, in one line: XTAP_EXIT_USAGE. */
int cli_bad_opt(const char *verb, char **argv);
/* -j, -p or -v: applied, true. Anything else: false. */
bool cli_common_opt(int opt, struct cli_opts *o);
/* Print v on stdout, compact on one line or indented, and drop the
 * reference. XTAP_EXIT_OK, or XTAP_EXIT_FAIL when stdout fails. */
int cli_print_json(const struct cli_opts *o, struct json_t *v);

struct loader_opts;

/* The capture options `run` and `trace` share. */
enum cli_capture_opt {
	CLI_OPT_PID, /* --pid PID, into pids[] (XTAP_SCOPE_MAX) */
	CLI_OPT_PORT, /* --port PORT, into ports[] (XTAP_SCOPE_MAX) */
	CLI_OPT_CAPTURE_BYTES, /* --capture-bytes N */
	CLI_OPT_RING_BUFFER_MB, /* --ring-buffer-mb N */
	CLI_OPT_NETNS, /* --netns PATH */
};
/* Parse one into lo: 0, or -EINVAL reported in one line. */
int cli_capture_opt(enum cli_capture_opt which, const char *arg, struct loader_opts *lo,
		    uint32_t *pids, uint16_t *ports);

/* "ip:port" or "[ip]:port" (IPv6) as a new JSON string; null when ip is "". */
struct json_t *cli_endpoint_json(const char *ip, uint16_t port);

/* The agent's endpoint for status and dump: --address, else
 * $XTAP_METRICS_ADDRESS, else the default. NULL (reported) when that says
 * "off". */
const char *cli_agent_address(const char *opt);
/* GET http://addr/path from the agent, parsed as JSON: a new reference, or
 * NULL with the failure reported in one line (what, and what to do). */
struct json_t *cli_agent_get(const char *addr, const char *path);

#endif /* XTAP_CLI_H */
