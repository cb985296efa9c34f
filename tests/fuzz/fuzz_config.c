// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The configuration file (agent/config.c): the input is the file. What it
 * gives back must be an argv getopt can take: "--name" or "--name=value"
 * for a name in the table, one entry a line at most, NULL-terminated, and
 * it must survive being put in front of a command line. */
#include <errno.h>
#include <getopt.h>

#include "config.h"
#include "fuzz.h"

/* xtap run's options (agent/run.c): the names a file may use. */
static const struct option opts[] = {
	{ "pid", required_argument, NULL, 1 },
	{ "port", required_argument, NULL, 1 },
	{ "cgroup", required_argument, NULL, 1 },
	{ "capture-bytes", required_argument, NULL, 1 },
	{ "ring-buffer-mb", required_argument, NULL, 1 },
	{ "daemon-address", required_argument, NULL, 1 },
	{ "no-daemon", no_argument, NULL, 1 },
	{ "no-stdout", no_argument, NULL, 1 },
	{ "output", required_argument, NULL, 'o' },
	{ "name", required_argument, NULL, 'n' },
	{ "stats-interval", required_argument, NULL, 1 },
	{ "sampling", required_argument, NULL, 1 },
	{ "sampling-rules", required_argument, NULL, 1 },
	{ "platform", required_argument, NULL, 1 },
	{ "eks-cluster", required_argument, NULL, 1 },
	{ "export", required_argument, NULL, 1 },
	{ "region", required_argument, NULL, 1 },
	{ "xray-endpoint", required_argument, NULL, 1 },
	{ "link-wait", required_argument, NULL, 1 },
	{ "kubernetes", required_argument, NULL, 1 },
	{ "kube-api", required_argument, NULL, 1 },
	{ "kube-token-file", required_argument, NULL, 1 },
	{ "kube-ca-file", required_argument, NULL, 1 },
	{ "node-name", required_argument, NULL, 1 },
	{ "kube-resync", required_argument, NULL, 1 },
	{ "metrics-address", required_argument, NULL, 1 },
	{ "config", required_argument, NULL, 1 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static bool known(const char *arg)
{
	size_t n = strcspn(arg, "=");

	for (const struct option *o = opts; o->name; o++) {
		if (strlen(o->name) != n || memcmp(o->name, arg, n))
			continue;
		/* a flag never gets a value, an option always does */
		return (o->has_arg == no_argument) == !arg[n];
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "xtap", "--port=8080", NULL };
	struct config_args a;
	size_t lines = 1;
	char err[256];
	int rc;

	err[0] = '\0';
	rc = config_parse("fuzz.conf", (const char *)data, size, opts, &a, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && !strncmp(err, "fuzz.conf", 9));
		FUZZ_CHECK(!a.argc && !a.argv && !a.strings_);
		return 0;
	}
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	FUZZ_CHECK(a.argc >= 0 && (size_t)a.argc <= lines);
	for (int i = 0; i < a.argc; i++) {
		FUZZ_CHECK(!strncmp(a.argv[i], "--", 2));
		FUZZ_CHECK(strncmp(a.argv[i] + 2, "config", 6) && strncmp(a.argv[i] + 2, "help", 4));
		FUZZ_CHECK(known(a.argv[i] + 2));
	}
	FUZZ_CHECK(!a.argv[a.argc]);
	rc = a.argc;
	FUZZ_CHECK(!config_args_prepend(&a, 2, argv));
	FUZZ_CHECK(a.argc == rc + 2 && a.argv[0] == argv[0] && a.argv[a.argc - 1] == argv[1]);
	FUZZ_CHECK(!a.argv[a.argc]);
	config_args_free(&a);
	return 0;
}
