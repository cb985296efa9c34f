/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* SIGHUP: `xtap run` re-reads its configuration file (config.h) and the
 * local sampling rules file, as daemons under systemd do on
 * `systemctl reload` (ExecReload=/bin/kill -HUP $MAINPID).
 *
 * What changes while running, on the event loop between two turns:
 *   name            the segment name (unset: $AWS_XRAY_TRACING_NAME, else
 *                   the process name, as at start)
 *   sampling-rules  the local rules (the file is re-read even when its name
 *                   did not change); only while a sampler runs and the
 *                   option stays given: adding or removing it changes the
 *                   sampling mode, which takes a restart
 *   link-wait, redact-query, verbose, quiet
 * Everything else (scope, capture, ring buffer, sinks, export, sampling
 * mode, platform, Kubernetes, metrics address, stats interval) is fixed by
 * what was loaded and connected at start: a changed value is logged once
 * as "needs restart" and the running value stays. The command line still
 * wins over the file. A file that does not parse, or a bad value of an
 * option above, is refused whole ("FILE:LINE: ..." logged) and the running
 * configuration stays. /status's "config" keeps showing the values the
 * agent started with. */
#ifndef XTAP_RELOAD_H
#define XTAP_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

struct pipeline;

/* One option as given: its index in the getopt table, its value (NULL for
 * a flag) and its line in the file (0: the command line). */
struct reload_arg {
	int opt;
	const char *val;
	unsigned int line;
};

struct reload_args {
	struct reload_arg *v;
	size_t n;
};

struct reload {
	const char *path; /* the configuration file; NULL: none */
	const struct option *opts;
	struct reload_args cmdline; /* wins over the file */
	struct reload_args start; /* the file the agent started with */
	struct reload_args cur; /* the file last applied (start until a reload) */
	struct config_args cur_file; /* owns cur's strings once a reload applied */
	struct pipeline *pl;
	const char *rules_path; /* the local rules file in force; NULL: none */
	char *rules_buf; /* owns rules_path once a reload changed it */
};

/* SIGHUP sets a flag (reload_requested) and does nothing else. */
void reload_handle_signal(void);
/* The flag, cleared. */
bool reload_requested(void);

/* path: the configuration file (NULL: none); argv: the command line as
 * given; file_argv/file_argc: the file's "--name[=value]" options the agent
 * started with (borrowed for the whole run); rules_path: the local rules
 * file in force. 0 or -ENOMEM (reported). */
int reload_init(struct reload *r, const char *path, const struct option *opts,
		const char *shortopts, int argc, char **argv, char **file_argv, int file_argc,
		struct pipeline *pl, const char *rules_path);
/* Re-read and apply (see above); everything it does or refuses is logged. */
void reload_apply(struct reload *r);
void reload_free(struct reload *r);

/* A local sampling rules file, NUL-terminated and malloc'd, or NULL with
 * the reason in err ("PATH: ..."). At most RELOAD_RULES_FILE_MAX bytes. */
#define RELOAD_RULES_FILE_MAX (1024 * 1024) /* a rules file is a few KiB */
char *rules_file_read(const char *path, char *err, size_t errlen);

#endif /* XTAP_RELOAD_H */
