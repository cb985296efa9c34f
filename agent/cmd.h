/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Verbs of the xtap command and what they share. */
#ifndef XTAP_CMD_H
#define XTAP_CMD_H

/* Exit codes (documented in README.md) */
#define XTAP_EXIT_OK 0
#define XTAP_EXIT_FAIL 1 /* a runtime failure: load, attach, I/O */
#define XTAP_EXIT_USAGE 2 /* bad command line or configuration */

int do_run(int argc, char **argv);
int do_probe(int argc, char **argv);
int do_trace(int argc, char **argv);
int do_status(int argc, char **argv);
int do_dump(int argc, char **argv);

/* Strict base-10 parse into [min, max]: 0 or -EINVAL/-ERANGE. */
int parse_long(const char *s, long min, long max, long *out);

#endif /* XTAP_CMD_H */
