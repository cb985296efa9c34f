// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "cmd.h"
#include "http_client.h"
#include "loader.h"
#include "log.h"
#include "netns.h"
#include "metrics_http.h"

/* the agent answers from memory: anything slower is a stuck agent */
#define AGENT_TIMEOUT_MS 5000

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end)
		return errno ? -errno : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const struct cli_cmd *cli_match(const struct cli_cmd *cmds, size_t n, const char *word,
				const char *what, const char *try_cmd)
{
	const struct cli_cmd *match = NULL;
	size_t len = strlen(word);

	/* an exact name wins over the longer ones it prefixes */
	for (size_t i = 0; len && i < n; i++)
		if (!strcmp(cmds[i].name, word))
			return &cmds[i];
	for (size_t i = 0; len && i < n; i++) {
		if (strncmp(cmds[i].name, word, len))
			continue;
		if (match) {
			p_err("%s '%s' is ambiguous: %s or %s? (try: %s)", what, word, match->name,
			      cmds[i].name, try_cmd);
			return NULL;
		}
		match = &cmds[i];
	}
	if (!match)
		p_err("unknown %s '%s' (try: %s)", what, word, try_cmd);
	return match;
}

void cli_getopt_init(void)
{
	optind = 1;
	opterr = 0;
}

int cli_bad_opt(const char *verb, char **argv)
{
	p_err("%s: unknown option, or one missing its value: '%s' (see xtap %s --help)", verb,
	      argv[optind - 1], verb);
	return XTAP_EXIT_USAGE;
}

bool cli_common_opt(int opt, struct cli_opts *o)
{
	switch (opt) {
	case 'p':
		o->pretty = true;
		/* fall through */
	case 'j':
		o->json = true;
		return true;
	case 'v':
		log_set_level(LOG_DEBUG);
		log_hook_libbpf();
		return true;
	default:
		return false;
	}
}

int cli_print_json(const struct cli_opts *o, json_t *v)
{
	size_t flags = JSON_ENCODE_ANY | (o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
	int err = json_dumpf(v, stdout, flags);

	json_decref(v);
	if (err || putchar('\n') == EOF || fflush(stdout)) {
		p_err("write to stdout: %s", strerror(errno ? errno : EIO));
		return XTAP_EXIT_FAIL;
	}
	return XTAP_EXIT_OK;
}

int cli_capture_opt(enum cli_capture_opt which, const char *arg, struct loader_opts *lo,
		    uint32_t *pids, uint16_t *ports)
{
	long v;

	switch (which) {
	case CLI_OPT_PID:
		if (lo->n_pids >= XTAP_SCOPE_MAX) {
			p_err("--pid: at most %d", XTAP_SCOPE_MAX);
			return -EINVAL;
		}
		if (parse_long(arg, 1, INT32_MAX, &v)) {
			p_err("--pid '%s': expected a process id", arg);
			return -EINVAL;
		}
		pids[lo->n_pids++] = (uint32_t)v;
		return 0;
	case CLI_OPT_PORT:
		if (lo->n_ports >= XTAP_SCOPE_MAX) {
			p_err("--port: at most %d", XTAP_SCOPE_MAX);
			return -EINVAL;
		}
		if (parse_long(arg, 1, 65535, &v)) {
			p_err("--port '%s': expected 1..65535", arg);
			return -EINVAL;
		}
		ports[lo->n_ports++] = (uint16_t)v;
		return 0;
	case CLI_OPT_CAPTURE_BYTES:
		if (parse_long(arg, 64, XTAP_CAP_MAX, &v)) {
			p_err("--capture-bytes '%s': expected 64..%d", arg, XTAP_CAP_MAX);
			return -EINVAL;
		}
		lo->cap_bytes = (uint32_t)v;
		return 0;
	case CLI_OPT_NETNS:
		return netns_cookie(arg, &lo->netns_cookie) ? -EINVAL : 0;
	default:
		if (parse_long(arg, 1, 256, &v) || (v & (v - 1))) {
			p_err("--ring-buffer-mb '%s': expected a power of two, 1..256", arg);
			return -EINVAL;
		}
		lo->ringbuf_mb = (uint32_t)v;
		return 0;
	}
}

json_t *cli_endpoint_json(const char *ip, uint16_t port)
{
	char s[64];

	if (!ip[0])
		return json_null();
	snprintf(s, sizeof(s), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, (unsigned int)port);
	return json_string(s);
}

const char *cli_agent_address(const char *opt)
{
	const char *a = metrics_address(opt, NULL);

	if (!a)
		p_err("the agent's endpoint is turned off here ($%s or --address): "
		      "give its address with --address HOST:PORT",
		      METRICS_ADDRESS_ENV);
	return a;
}

json_t *cli_agent_get(const char *addr, const char *path)
{
	struct http_req req = { .method = "GET", .timeout_ms = AGENT_TIMEOUT_MS,
				.connect_timeout_ms = AGENT_TIMEOUT_MS, .direct = true };
	struct http_resp resp;
	char url[320], why[256] = "";
	json_error_t je;
	json_t *v = NULL;
	int err;

	if (http_client_global_init()) {
		p_err("libcurl initialisation failed");
		return NULL;
	}
	snprintf(url, sizeof(url), "http://%s%s", addr, path);
	req.url = url;
	err = http_request(&req, &resp, why, sizeof(why));
	if (err) {
		p_err("no answer from the agent at %s: %s (is 'xtap run' running, with this --metrics-address? pass --address or set $%s)",
		      addr, why[0] ? why : strerror(-err), METRICS_ADDRESS_ENV);
	} else if (resp.status != 200) {
		p_err("the agent at %s answered %ld to %s: %.*s", addr, resp.status, path,
		      resp.body ? (int)strcspn(resp.body, "\n") : 0, resp.body ? resp.body : "");
	} else if (!(v = json_loadb(resp.body ? resp.body : "", resp.len, 0, &je))) {
		p_err("the agent at %s sent JSON that does not parse (%s): is it xtap?", addr,
		      je.text);
	}
	free(resp.body);
	return v;
}
