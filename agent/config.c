// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap run's configuration file: "name = value" lines to an argv (config.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

/* Names that are no configuration: a file does not name another file, and
 * help is a question, not a setting. */
static const char *const not_in_file[] = { "config", "help" };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static const struct option *find_option(const struct option *opts, const char *name, size_t n)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == n && !memcmp(opts->name, name, n))
			return opts;
	return NULL;
}

static bool denied(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(not_in_file) / sizeof(not_in_file[0]); i++)
		if (strlen(not_in_file[i]) == n && !memcmp(not_in_file[i], name, n))
			return true;
	return false;
}

/* One line, blanks trimmed at both ends (s..e, not empty, not a comment).
 * Appends "--name[=value]" at *pos; 0 or -EINVAL with err set. */
static int parse_line(const char *origin, unsigned int lineno, const char *s, const char *e,
		      const struct option *opts, char **pos, char *err, size_t errlen)
{
	const char *name = s, *val = NULL, *vend = NULL;
	const struct option *o;
	size_t nlen;

	if (*s == '-') {
		seterr(err, errlen, "%s:%u: write the option's name without dashes", origin,
		       lineno);
		return -EINVAL;
	}
	while (s < e && is_name_char(*s))
		s++;
	nlen = s - name;
	while (s < e && is_blank(*s))
		s++;
	if (!nlen || (s < e && *s != '=')) {
		seterr(err, errlen, "%s:%u: expected 'name = value', 'name' or a # comment", origin,
		       lineno);
		return -EINVAL;
	}
	if (s < e) { /* at the '=' */
		val = s + 1;
		vend = e;
		while (val < vend && is_blank(*val))
			val++;
		if (val < vend && *val == '"') {
			if (vend - val < 2 || vend[-1] != '"') {
				seterr(err, errlen,
				       "%s:%u: unterminated quote in the value of '%.*s'", origin,
				       lineno, (int)nlen, name);
				return -EINVAL;
			}
			val++;
			vend--;
		} else if (val == vend) {
			seterr(err, errlen,
			       "%s:%u: '%.*s =' without a value (\"\" for an empty one)", origin,
			       lineno, (int)nlen, name);
			return -EINVAL;
		}
	}
	o = denied(name, nlen) ? NULL : find_option(opts, name, nlen);
	if (!o) {
		seterr(err, errlen, "%s:%u: unknown option '%.*s'%s", origin, lineno, (int)nlen,
		       name,
		       denied(name, nlen) ? " in a configuration file" : " (see xtap run --help)");
		return -EINVAL;
	}
	if (o->has_arg == no_argument && val) {
		seterr(err, errlen, "%s:%u: '%s' is a flag: write it alone, without a value",
		       origin, lineno, o->name);
		return -EINVAL;
	}
	if (o->has_arg == required_argument && !val) {
		seterr(err, errlen, "%s:%u: '%s' needs a value: %s = VALUE", origin, lineno,
		       o->name, o->name);
		return -EINVAL;
	}
	*pos += sprintf(*pos, "--%s", o->name);
	if (val) {
		*(*pos)++ = '=';
		memcpy(*pos, val, vend - val);
		*pos += vend - val;
	}
	*(*pos)++ = '\0';
	return 0;
}

int config_parse(const char *origin, const char *buf, size_t len, const struct option *opts,
		 struct config_args *out, char *err, size_t errlen)
{
	struct config_args a = {};
	const char *p = buf, *end = buf + len;
	unsigned int lineno = 0;
	size_t lines = 0;
	char *pos;
	int ret;

	*out = a;
	if (len > CONFIG_FILE_MAX) {
		seterr(err, errlen, "%s: larger than %d KiB", origin, CONFIG_FILE_MAX / 1024);
		return -EINVAL;
	}
	if (memchr(buf, '\0', len)) {
		seterr(err, errlen, "%s: a NUL byte: not a text file", origin);
		return -EINVAL;
	}
	for (const char *q = buf; q < end; q++)
		lines += *q == '\n';
	lines += len && end[-1] != '\n';
	if (lines > CONFIG_LINES_MAX) {
		seterr(err, errlen, "%s: more than %d lines", origin, CONFIG_LINES_MAX);
		return -EINVAL;
	}
	/* each line adds at most "--" and a NUL to its own bytes */
	a.strings_ = malloc(len + 3 * lines + 1);
	a.argv = calloc(lines + 1, sizeof(*a.argv));
	a.lines = calloc(lines + 1, sizeof(*a.lines));
	if (!a.strings_ || !a.argv || !a.lines) {
		ret = -ENOMEM;
		seterr(err, errlen, "%s: out of memory", origin);
		goto fail;
	}
	pos = a.strings_;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *e = nl ? nl : end, *s = p;

		lineno++;
		p = nl ? nl + 1 : end;
		if (e > s && e[-1] == '\r')
			e--;
		if ((size_t)(e - s) > CONFIG_LINE_MAX) {
			seterr(err, errlen, "%s:%u: longer than %d bytes", origin, lineno,
			       CONFIG_LINE_MAX);
			ret = -EINVAL;
			goto fail;
		}
		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		a.argv[a.argc] = pos;
		a.lines[a.argc] = lineno;
		ret = parse_line(origin, lineno, s, e, opts, &pos, err, errlen);
		if (ret)
			goto fail;
		a.argc++;
	}
	*out = a;
	return 0;
fail:
	config_args_free(&a);
	return ret;
}

int config_load(const char *path, const struct option *opts, struct config_args *out, char *err,
		size_t errlen)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, ret;

	*out = (struct config_args){};
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	/* one byte more than allowed tells "too large" from "just fits" */
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			seterr(err, errlen, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	ret = config_parse(path, buf, len, opts, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

int config_args_prepend(struct config_args *a, int argc, char **argv)
{
	char **v;
	int n = 0;

	if (argc < 1)
		return -EINVAL;
	v = calloc((size_t)a->argc + argc + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[n++] = argv[0];
	for (int i = 0; i < a->argc; i++)
		v[n++] = a->argv[i];
	for (int i = 1; i < argc; i++)
		v[n++] = argv[i];
	free(a->argv);
	a->argv = v;
	a->argc = n;
	return 0;
}

void config_args_free(struct config_args *a)
{
	free(a->argv);
	free(a->lines);
	free(a->strings_);
	*a = (struct config_args){};
}

const char *config_path(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	const char *path = NULL, *env;
	int saved = opterr, li;

	/* errors are the real pass's to report, once */
	opterr = 0;
	optind = 0;
	for (;;) {
		li = -1;
		if (getopt_long(argc, argv, shortopts, opts, &li) == -1)
			break;
		if (li >= 0 && !strcmp(opts[li].name, "config"))
			path = optarg;
	}
	opterr = saved;
	optind = 0;
	if (path)
		return path;
	env = getenv("XTAP_CONFIG");
	return env && *env ? env : NULL;
}
