// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "log.h"

/* atomic: a reload (SIGHUP) sets it while other threads log */
static int cur_level = LOG_INFO;

void log_set_level(int level)
{
	__atomic_store_n(&cur_level, level, __ATOMIC_RELAXED);
}

int log_get_level(void)
{
	return __atomic_load_n(&cur_level, __ATOMIC_RELAXED);
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level > log_get_level())
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* one fprintf per line so concurrent threads do not interleave */
	fprintf(stderr, "xtap: %s\n", line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* All of libbpf's output is for -v: the loader reports each failure
	 * itself, once, with context, and libbpf warns about things the loader
	 * handles (tracepoints it probed as missing). */
	(void)level;
	vlog(LOG_DEBUG, fmt, ap);
	return 0;
}

void log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
