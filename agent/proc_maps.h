/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /proc/PID/maps: the files a process has mapped executable (proc(5)). */
#ifndef XTAP_PROC_MAPS_H
#define XTAP_PROC_MAPS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Lines read from one maps file at most: a process with more mappings is
 * looked at only that far (counted by the caller). */
#define PROC_MAPS_LINES_MAX 65536

struct maps_entry {
	uint64_t start, end;
	uint64_t dev; /* makedev(major, minor) as maps shows them */
	uint64_t ino;
	bool exec;
	bool deleted; /* the file was removed or replaced since it was mapped */
	char path[PATH_MAX]; /* as the process sees it (its mount namespace) */
};

/* Parse one line (without or with its '\n'): 0, or -EINVAL for a line that
 * does not have the maps format; an anonymous mapping has path "". */
int proc_maps_parse(const char *line, struct maps_entry *e);

/* Called for each executable file mapping; return nonzero to stop. */
typedef int (*maps_fn)(const struct maps_entry *e, void *ctx);
/* Every executable file mapping of pid: 0, what fn returned, -E2BIG when
 * the file had more than PROC_MAPS_LINES_MAX lines (those were seen), or
 * -errno (the process is gone: -ENOENT / -ESRCH). */
int proc_maps_exec_files(pid_t pid, maps_fn fn, void *ctx);

#endif /* XTAP_PROC_MAPS_H */
