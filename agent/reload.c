// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap run's configuration reload on SIGHUP (reload.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "pipeline.h"
#include "reload.h"
#include "sampling.h"

static volatile sig_atomic_t hup;

static void on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

void reload_handle_signal(void)
{
	struct sigaction sa = { .sa_handler = on_hup, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

bool reload_requested(void)
{
	if (!hup)
		return false;
	hup = 0;
	return true;
}

char *rules_file_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(RELOAD_RULES_FILE_MAX + 1);
	n = buf ? fread(buf, 1, RELOAD_RULES_FILE_MAX + 1, f) : 0;
	if (!buf || ferror(f) || n > RELOAD_RULES_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 !buf ? "out of memory" : ferror(f) ? "read error" : "larger than 1 MiB");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The options a reload applies; every other one takes a restart. */
static const char *const live[] = { "name",	    "sampling-rules", "link-wait",
				    "redact-query", "verbose",	      "quiet" };
/* Repeated, they add up (every value counts, not the last). */
static const char *const repeatable[] = { "pid", "port", "cgroup" };
/* Not settings. */
static const char *const ignored[] = { "config", "help" };

static bool in(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

#define IN(list, name) in(list, sizeof(list) / sizeof(list[0]), name)

static int opt_index(const struct option *opts, const char *name, size_t n)
{
	for (int i = 0; opts[i].name; i++)
		if (strlen(opts[i].name) == n && !memcmp(opts[i].name, name, n))
			return i;
	return -1;
}

/* The file's "--name[=value]" entries (config.c wrote them: the names are
 * known options). */
static int file_args(const struct option *opts, char **argv, const unsigned int *lines, int n,
		     struct reload_args *out)
{
	out->n = 0;
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const char *name = argv[i] + 2, *eq = strchr(name, '=');
		int k = opt_index(opts, name, eq ? (size_t)(eq - name) : strlen(name));

		if (k < 0)
			continue;
		out->v[out->n++] = (struct reload_arg){ .opt = k, .val = eq ? eq + 1 : NULL,
							.line = lines ? lines[i] : 0 };
	}
	return 0;
}

/* The command line's options, with a silent getopt pass over a copy (getopt
 * permutes what it reads). */
static int cmdline_args(const struct option *opts, const char *shortopts, int argc, char **argv,
			struct reload_args *out)
{
	char **copy = calloc((size_t)argc + 1, sizeof(*copy));
	int saved = opterr, c;

	out->n = 0;
	out->v = calloc((size_t)argc + 1, sizeof(*out->v));
	if (!copy || !out->v) {
		free(copy);
		free(out->v);
		out->v = NULL;
		return -ENOMEM;
	}
	memcpy(copy, argv, (size_t)argc * sizeof(*copy));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, copy, shortopts, opts, NULL)) != -1) {
		for (int k = 0; opts[k].name; k++) {
			if (opts[k].flag || opts[k].val != c)
				continue;
			out->v[out->n++] = (struct reload_arg){ .opt = k, .val = optarg };
			break;
		}
	}
	opterr = saved;
	optind = 0;
	free(copy);
	return 0;
}

/* The option's value in force with `file`: the command line's last, else
 * the file's last. false: not given. *at (may be NULL): where it was. */
static bool value_of(const struct reload *r, const struct reload_args *file, int opt,
		     const char **val, const struct reload_arg **at)
{
	const struct reload_args *srcs[2] = { &r->cmdline, file };

	for (int s = 0; s < 2; s++) {
		for (size_t i = srcs[s]->n; i-- > 0;) {
			if (srcs[s]->v[i].opt != opt)
				continue;
			*val = srcs[s]->v[i].val;
			if (at)
				*at = &srcs[s]->v[i];
			return true;
		}
	}
	return false;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Whether the option has the same effect with file a and with file b. */
static bool same(const struct reload *r, const struct reload_args *a, const struct reload_args *b,
		 int opt)
{
	const char *va = NULL, *vb = NULL;
	size_t i = 0, j = 0;
	bool ha, hb;

	if (!IN(repeatable, r->opts[opt].name)) {
		ha = value_of(r, a, opt, &va, NULL);
		hb = value_of(r, b, opt, &vb, NULL);
		return ha == hb && str_eq(va, vb);
	}
	/* every value, in order (the command line's are the same on both sides) */
	for (;;) {
		while (i < a->n && a->v[i].opt != opt)
			i++;
		while (j < b->n && b->v[j].opt != opt)
			j++;
		if (i == a->n || j == b->n)
			return i == a->n && j == b->n;
		if (!str_eq(a->v[i++].val, b->v[j++].val))
			return false;
	}
}

int reload_init(struct reload *r, const char *path, const struct option *opts,
		const char *shortopts, int argc, char **argv, char **file_argv, int file_argc,
		struct pipeline *pl, const char *rules_path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->opts = opts;
	r->pl = pl;
	r->rules_path = rules_path;
	if (cmdline_args(opts, shortopts, argc, argv, &r->cmdline) ||
	    file_args(opts, file_argv, NULL, file_argc, &r->start)) {
		p_err("reload: out of memory");
		reload_free(r);
		return -ENOMEM;
	}
	r->cur = r->start;
	return 0;
}

/* What a reload applies, checked before anything changes. */
struct live_values {
	const char *name;
	const char *rules_path;
	char *rules_json; /* read, when a sampler takes it */
	bool rules_restart; /* the file came or went: not applied */
	long link_wait_ms;
	bool redact_query;
	int level;
};

/* "FILE:LINE: " for an option from the file, "--" for the command line */
static void where(const struct reload *r, const struct reload_arg *a, char *out, size_t n)
{
	if (a && a->line)
		snprintf(out, n, "%s:%u: ", r->path, a->line);
	else
		snprintf(out, n, "--");
}

static int check_live(struct reload *r, const struct reload_args *file, struct live_values *lv)
{
	const struct reload_arg *at = NULL;
	const char *v, *env = getenv("AWS_XRAY_TRACING_NAME");
	char pos[300], why[256];
	int k;

	memset(lv, 0, sizeof(*lv));
	lv->link_wait_ms = CONN_LINK_WAIT_DEFAULT_MS;
	lv->level = LOG_INFO;
	lv->name = env && *env ? env : NULL;
	if (value_of(r, file, opt_index(r->opts, "name", 4), &v, NULL))
		lv->name = v;
	lv->redact_query = value_of(r, file, opt_index(r->opts, "redact-query", 12), &v, NULL);
	k = opt_index(r->opts, "link-wait", 9);
	if (value_of(r, file, k, &v, &at) && parse_long(v, 0, 10000, &lv->link_wait_ms)) {
		where(r, at, pos, sizeof(pos));
		p_err("reload: %slink-wait '%s': expected milliseconds, 0..10000; keeping the running configuration",
		      pos, v);
		return -EINVAL;
	}
	/* -v and -q: the last one given wins, the command line's over the file's */
	for (int s = 0; s < 2; s++) {
		const struct reload_args *src = s ? &r->cmdline : file;

		for (size_t i = 0; i < src->n; i++) {
			const char *n = r->opts[src->v[i].opt].name;

			if (!strcmp(n, "verbose") || !strcmp(n, "quiet"))
				lv->level = n[0] == 'v' ? LOG_DEBUG : LOG_ERROR;
		}
	}
	k = opt_index(r->opts, "sampling-rules", 14);
	at = NULL;
	lv->rules_path = value_of(r, file, k, &v, &at) ? v : NULL;
	if (!r->pl->sampler || sampler_mode(r->pl->sampler) == SAMPLING_OFF ||
	    !lv->rules_path != !r->rules_path) {
		/* whether there is a rules file decides the sampling mode, and
		 * that takes a restart */
		lv->rules_restart = !str_eq(lv->rules_path, r->rules_path);
		lv->rules_path = r->rules_path;
		return 0;
	}
	if (!lv->rules_path)
		return 0;
	lv->rules_json = rules_file_read(lv->rules_path, why, sizeof(why));
	if (!lv->rules_json) {
		where(r, at, pos, sizeof(pos));
		p_err("reload: %ssampling-rules %s; keeping the running configuration", pos, why);
		return -EINVAL;
	}
	return 0;
}

/* Restart-only options whose value changed: logged once per new value. */
static void report_restart_only(const struct reload *r, const struct reload_args *file)
{
	const struct reload_args *prev = &r->cur;

	for (int k = 0; r->opts[k].name; k++) {
		const char *name = r->opts[k].name;

		if (IN(live, name) || IN(ignored, name))
			continue;
		if (same(r, file, &r->start, k) || same(r, file, prev, k))
			continue;
		p_warn("reload: %s changed in %s: needs restart; the running value stays", name,
		       r->path);
	}
}

void reload_apply(struct reload *r)
{
	struct config_args nf = {};
	struct reload_args args = {};
	struct live_values lv;
	char why[512];
	int err, k;

	if (r->path) {
		if (config_load(r->path, r->opts, &nf, why, sizeof(why))) {
			p_err("reload: %s; keeping the running configuration", why);
			return;
		}
	}
	if (file_args(r->opts, nf.argv, nf.lines, nf.argc, &args)) {
		p_err("reload: out of memory; keeping the running configuration");
		config_args_free(&nf);
		return;
	}
	if (check_live(r, &args, &lv))
		goto drop;
	if (lv.rules_json) {
		err = sampler_set_local_rules(r->pl->sampler, lv.rules_json, why, sizeof(why));
		free(lv.rules_json);
		if (err) {
			const struct reload_arg *at = NULL;
			const char *v;
			char pos[300];

			k = opt_index(r->opts, "sampling-rules", 14);
			value_of(r, &args, k, &v, &at);
			where(r, at, pos, sizeof(pos));
			p_err("reload: %ssampling-rules %s: %s; keeping the running configuration",
			      pos, lv.rules_path, why);
			goto drop;
		}
	}
	report_restart_only(r, &args);
	k = opt_index(r->opts, "sampling-rules", 14);
	if (lv.rules_restart && !same(r, &args, &r->cur, k))
		p_warn("reload: sampling-rules changed in %s: needs restart (whether there is a rules file sets the sampling mode); the running rules stay",
		       r->path ? r->path : "the configuration");
	if (!str_eq(lv.rules_path, r->rules_path)) {
		char *copy = strdup(lv.rules_path);

		if (copy) { /* else the old name stays in the summary: harmless */
			free(r->rules_buf);
			r->rules_buf = copy;
			r->rules_path = copy;
		}
	}
	r->pl->seg.name = lv.name;
	r->pl->redact_query = lv.redact_query;
	conn_table_set_link_wait((uint64_t)lv.link_wait_ms * 1000000ull);
	p_info("reload: %s applied: name %s, sampling rules %s, link-wait %ld ms, redact-query %s, log level %s",
	       r->path ? r->path : "(no configuration file)", lv.name ? lv.name : "(process name)",
	       lv.rules_path ? lv.rules_path : "(none)", lv.link_wait_ms,
	       lv.redact_query ? "on" : "off",
	       lv.level == LOG_DEBUG ? "debug" : lv.level == LOG_ERROR ? "error" : "info");
	log_set_level(lv.level);
	/* the new file is in force: the old one's strings are no longer read */
	if (r->cur.v != r->start.v)
		free(r->cur.v);
	config_args_free(&r->cur_file);
	r->cur = args;
	r->cur_file = nf;
	return;
drop:
	free(args.v);
	config_args_free(&nf);
}

void reload_free(struct reload *r)
{
	if (r->cur.v != r->start.v)
		free(r->cur.v);
	free(r->start.v);
	free(r->cmdline.v);
	config_args_free(&r->cur_file);
	free(r->rules_buf);
	memset(r, 0, sizeof(*r));
}
