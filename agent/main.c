// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap: verbs dispatched from a table, matched by unique prefix as bpftool does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "log.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int do_help(int argc, char **argv);

static int do_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("xtap %s\n", XTAP_VERSION);
	return XTAP_EXIT_OK;
}

static const struct cmd cmds[] = {
	{ "run", do_run, "capture HTTP traffic and emit X-Ray segments" },
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
	printf("\n'xtap COMMAND --help' tells more. Exit codes: 0 ok, 1 failure, 2 usage.\n");
	return XTAP_EXIT_OK;
}

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

int main(int argc, char **argv)
{
	const struct cmd *match = NULL;
	size_t len;

	if (argc < 2)
		return do_help(0, NULL) ? XTAP_EXIT_FAIL : XTAP_EXIT_USAGE;
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return do_help(0, NULL);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return do_version(0, NULL);
	len = strlen(argv[1]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[1], len))
			continue;
		if (match) {
			p_err("'%s' is ambiguous: %s or %s?", argv[1], match->name, cmds[i].name);
			return XTAP_EXIT_USAGE;
		}
		match = &cmds[i];
	}
	if (!match || !len) {
		p_err("unknown command '%s' (try: xtap help)", argv[1]);
		return XTAP_EXIT_USAGE;
	}
	return match->fn(argc - 1, argv + 1);
}
