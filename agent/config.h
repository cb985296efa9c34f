/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The configuration file of `xtap run` (--config FILE, or $XTAP_CONFIG):
 * long options of `xtap run`, one a line.
 *
 *   # a comment: a line whose first non-blank character is '#'
 *   name = value    an option that takes a value, as --name=value
 *   name            a flag, as --name
 *
 * A name is a long option's full name, without the dashes. Blanks around the
 * name, the '=' and the value are dropped. A value in double quotes is taken
 * as it is between them (for blanks at its ends, or an empty value). There
 * are no escapes and no comments after a value: '#' in a value is data.
 * Repeating a line repeats the option (--pid, --port, --cgroup).
 *
 * Parsing is kept apart from applying: the file becomes an argv-like list
 * that run.c hands to getopt ahead of the command line, so the command line
 * wins and every value goes through the same checks. A reload (SIGHUP) can
 * parse a new file without touching the running configuration. */
#ifndef XTAP_CONFIG_H
#define XTAP_CONFIG_H

#include <getopt.h>
#include <stddef.h>

/* Bounds: a configuration file is a few lines; more is not one. */
#define CONFIG_FILE_MAX (64 * 1024) /* bytes */
#define CONFIG_LINES_MAX 1000
#define CONFIG_LINE_MAX 1024 /* bytes of one line, without its line end */

struct config_args {
	int argc; /* entries in argv, not counting its final NULL */
	char **argv; /* NULL-terminated; "--name" or "--name=value" */
	/* the file's line of each option, in the file's order (config_args_prepend
	 * leaves it as it is: lines[i] is the file's i-th option) */
	unsigned int *lines;
	char *strings_; /* private: the file's strings, one allocation */
};

/* Parse len bytes of buf (no NUL terminator needed); origin names the file
 * in messages. Every name must be a long option in opts (a getopt_long
 * table ending in a zeroed entry), other than "config" and "help". On
 * success *out holds one argv entry per option line. On failure *out is
 * empty, err holds "ORIGIN:LINE: what is wrong" (or "ORIGIN: ..." for the
 * whole file) and the return is -EINVAL (bad content) or -ENOMEM. */
int config_parse(const char *origin, const char *buf, size_t len, const struct option *opts,
		 struct config_args *out, char *err, size_t errlen);

/* Read the file at path (at most CONFIG_FILE_MAX bytes) and parse it.
 * 0, or -errno with err set ("PATH: ..."). */
int config_load(const char *path, const struct option *opts, struct config_args *out, char *err,
		size_t errlen);

/* Make a->argv the command line argv[0], then the file's options, then
 * argv[1..argc-1] (borrowed, not copied). 0 or -ENOMEM (a unchanged). */
int config_args_prepend(struct config_args *a, int argc, char **argv);

void config_args_free(struct config_args *a);

/* The configuration file to read: the last --config on the command line
 * (found with a silent getopt_long pass over argv, so an option's value
 * is never mistaken for it; getopt is reset, set optind = 0 before the
 * next pass), else $XTAP_CONFIG when set and not empty, else NULL. */
const char *config_path(int argc, char **argv, const char *shortopts, const struct option *opts);

#endif /* XTAP_CONFIG_H */
