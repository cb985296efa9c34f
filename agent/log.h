/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One logging funnel for the agent and libbpf: stderr, one line each,
 * prefixed "xtap: ", quiet below the chosen level. */
#ifndef XTAP_LOG_H
#define XTAP_LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3, /* -v: includes libbpf's debug output */
};

void log_set_level(int level);
int log_get_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Route libbpf's print callback through log_msg. */
void log_hook_libbpf(void);

#define p_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define p_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define p_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define p_dbg(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* XTAP_LOG_H */
