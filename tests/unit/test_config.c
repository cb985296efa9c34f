/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The configuration file parser: lines to argv, errors with FILE:LINE, the
 * bounds, and the merge with the command line that getopt then reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* The shape of xtap run's table: flags, options with values, a short
 * alias, and the two names a file may not use. */
static const struct option opts[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "name", required_argument, NULL, 'n' },
	{ "daemon-address", required_argument, NULL, 'd' },
	{ "no-daemon", no_argument, NULL, 'D' },
	{ "no-stdout", no_argument, NULL, 'S' },
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static char err[256];

static struct config_args parse_ok(const char *text)
{
	struct config_args a;
	int r = config_parse("t.conf", text, strlen(text), opts, &a, err, sizeof(err));

	if (r)
		fail_msg("parse failed (%d): %s\n--- input:\n%s", r, err, text);
	return a;
}

/* Parse must fail with -EINVAL and exactly this message. */
static void parse_bad_len(const char *text, size_t len, const char *want)
{
	struct config_args a = { .argc = 99 };
	int r;

	err[0] = '\0';
	r = config_parse("t.conf", text, len, opts, &a, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("expected -EINVAL, got %d (argc %d) for:\n%.*s", r, a.argc, (int)len, text);
	assert_string_equal(err, want);
	assert_int_equal(a.argc, 0);
	assert_null(a.argv);
	config_args_free(&a);
}

static void parse_bad(const char *text, const char *want)
{
	parse_bad_len(text, strlen(text), want);
}

static void assert_args(struct config_args *a, const char *const *want)
{
	int n = 0;

	while (want[n])
		n++;
	assert_int_equal(a->argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(a->argv[i], want[i]);
	assert_null(a->argv[n]);
}

static void test_good_lines(void **state)
{
	struct config_args a;
	const char *const want[] = {
		"--port=8080", "--no-daemon", "--name=my service", "--port=9090",
		"--daemon-address=tcp:127.0.0.1:2000 udp:127.0.0.1:2001", "--name=a=b # c",
		"--no-stdout", NULL,
	};

	(void)state;
	a = parse_ok("# xtap\n"
		     "\n"
		     "port = 8080\n"
		     "   # indented comment\n"
		     "\tno-daemon\t\n"
		     "name=my service\n"
		     "port    =9090\n"
		     "daemon-address = tcp:127.0.0.1:2000 udp:127.0.0.1:2001\n"
		     "name = a=b # c\n"
		     "no-stdout");
	assert_args(&a, want);
	config_args_free(&a);
	assert_null(a.argv);
}

static void test_quotes_and_line_ends(void **state)
{
	struct config_args a;
	const char *const want[] = { "--name=  padded ", "--name=", "--name=\"inner\"",
				     "--port=1", "--no-daemon", NULL };

	(void)state;
	a = parse_ok("name = \"  padded \"\r\n"
		     "name = \"\"\r\n"
		     "name = \"\"inner\"\"\n"
		     "port = 1\r\n"
		     "no-daemon\r\n");
	assert_args(&a, want);
	config_args_free(&a);
}

static void test_empty(void **state)
{
	struct config_args a;

	(void)state;
	a = parse_ok("");
	assert_int_equal(a.argc, 0);
	assert_non_null(a.argv);
	assert_null(a.argv[0]);
	config_args_free(&a);
	a = parse_ok("\n# only comments\n\n   \n");
	assert_int_equal(a.argc, 0);
	config_args_free(&a);
}

static void test_bad_lines(void **state)
{
	(void)state;
	parse_bad("port = 1\nbogus = 2\n", "t.conf:2: unknown option 'bogus' (see xtap run --help)");
	/* full names only: getopt's abbreviations are for typing, not files */
	parse_bad("no-dae\n", "t.conf:1: unknown option 'no-dae' (see xtap run --help)");
	parse_bad("\n\nno-daemon = yes\n", "t.conf:3: 'no-daemon' is a flag: write it alone, without a value");
	parse_bad("port\n", "t.conf:1: 'port' needs a value: port = VALUE");
	parse_bad("port =   \n", "t.conf:1: 'port =' without a value (\"\" for an empty one)");
	parse_bad("port 8080\n", "t.conf:1: expected 'name = value', 'name' or a # comment");
	parse_bad("Port = 1\n", "t.conf:1: expected 'name = value', 'name' or a # comment");
	parse_bad("= 1\n", "t.conf:1: expected 'name = value', 'name' or a # comment");
	parse_bad("port: 1\n", "t.conf:1: expected 'name = value', 'name' or a # comment");
	parse_bad("--port = 1\n", "t.conf:1: write the option's name without dashes");
	parse_bad("name = \"open\n", "t.conf:1: unterminated quote in the value of 'name'");
	parse_bad("name = \"\n", "t.conf:1: unterminated quote in the value of 'name'");
	parse_bad("config = other.conf\n", "t.conf:1: unknown option 'config' in a configuration file");
	parse_bad("help\n", "t.conf:1: unknown option 'help' in a configuration file");
	parse_bad_len("port = 1\0\n", 10, "t.conf: a NUL byte: not a text file");
}

static char *repeat_lines(const char *line, size_t n, size_t *len)
{
	size_t l = strlen(line);
	char *buf = malloc(l * n + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * l, line, l);
	buf[l * n] = '\0';
	*len = l * n;
	return buf;
}

static void test_line_length_limit(void **state)
{
	char line[CONFIG_LINE_MAX + 16];
	struct config_args a;
	size_t n;
	int r;

	(void)state;
	/* exactly CONFIG_LINE_MAX bytes before the line end: accepted */
	n = (size_t)snprintf(line, sizeof(line), "name = ");
	memset(line + n, 'x', CONFIG_LINE_MAX - n);
	memcpy(line + CONFIG_LINE_MAX, "\r\n", 3);
	r = config_parse("t.conf", line, strlen(line), opts, &a, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_int_equal(a.argc, 1);
	assert_int_equal(strlen(a.argv[0]), strlen("--name=") + CONFIG_LINE_MAX - n);
	config_args_free(&a);
	/* one more: refused, even as a comment */
	line[0] = '#';
	memset(line + 1, 'x', CONFIG_LINE_MAX);
	memcpy(line + CONFIG_LINE_MAX + 1, "\n", 2);
	parse_bad(line, "t.conf:1: longer than 1024 bytes");
}

static void test_line_count_limit(void **state)
{
	struct config_args a;
	size_t len;
	char *buf;
	int r;

	(void)state;
	buf = repeat_lines("port = 1\n", CONFIG_LINES_MAX, &len);
	r = config_parse("t.conf", buf, len, opts, &a, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_int_equal(a.argc, CONFIG_LINES_MAX);
	config_args_free(&a);
	free(buf);
	/* a last line without '\n' counts too */
	buf = repeat_lines("#\n", CONFIG_LINES_MAX, &len);
	buf = realloc(buf, len + 2);
	assert_non_null(buf);
	memcpy(buf + len, "#", 2);
	parse_bad_len(buf, len + 1, "t.conf: more than 1000 lines");
	free(buf);
}

static void test_size_limit(void **state)
{
	char *buf;

	(void)state;
	/* 64 KiB + 1 in short lines, under the line count */
	buf = malloc(CONFIG_FILE_MAX + 1);
	assert_non_null(buf);
	memset(buf, ' ', CONFIG_FILE_MAX + 1);
	for (size_t i = 1000; i < CONFIG_FILE_MAX; i += 1000)
		buf[i] = '\n';
	parse_bad_len(buf, CONFIG_FILE_MAX + 1, "t.conf: larger than 64 KiB");
	free(buf);
}

static const char *write_tmp(const char *data, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/xtap-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_load(void **state)
{
	const char *const want[] = { "--no-daemon", "--port=80", NULL };
	struct config_args a;
	const char *path;
	char msg[512];
	char *big;
	int r;

	(void)state;
	path = write_tmp("no-daemon\nport = 80\n", 20);
	r = config_load(path, opts, &a, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_args(&a, want);
	config_args_free(&a);
	unlink(path);

	path = write_tmp("port = 80\nport\n", 15);
	r = config_load(path, opts, &a, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	snprintf(msg, sizeof(msg), "%s:2: 'port' needs a value: port = VALUE", path);
	assert_string_equal(err, msg);
	unlink(path);

	/* the file is read only up to the bound */
	big = malloc(CONFIG_FILE_MAX + 100);
	assert_non_null(big);
	memset(big, '\n', CONFIG_FILE_MAX + 100);
	path = write_tmp(big, CONFIG_FILE_MAX + 100);
	free(big);
	r = config_load(path, opts, &a, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	snprintf(msg, sizeof(msg), "%s: larger than 64 KiB", path);
	assert_string_equal(err, msg);
	unlink(path);

	r = config_load("/nonexistent/xtap.conf", opts, &a, err, sizeof(err));
	assert_int_equal(r, -ENOENT);
	assert_string_equal(err, "/nonexistent/xtap.conf: No such file or directory");
	assert_int_equal(a.argc, 0);
}

/* getopt over the merged argv: the file first, so the command line's
 * options come later and win; repeated options accumulate. */
static void test_prepend_command_line_wins(void **state)
{
	char *cmd[] = { "run", "--name", "from-cmdline", "-p", "443", NULL };
	const char *name = NULL;
	int ports = 0, daemon_off = 0, c;
	struct config_args a = parse_ok("name = from-file\nport = 80\nno-daemon\n");

	(void)state;
	assert_int_equal(config_args_prepend(&a, 5, cmd), 0);
	assert_int_equal(a.argc, 8);
	assert_string_equal(a.argv[0], "run");
	assert_string_equal(a.argv[1], "--name=from-file");
	assert_string_equal(a.argv[4], "--name");
	assert_null(a.argv[8]);
	optind = 0;
	while ((c = getopt_long(a.argc, a.argv, "p:", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'p')
			ports++;
		else if (c == 'D')
			daemon_off++;
		else
			fail_msg("unexpected option %d", c);
	}
	assert_string_equal(name, "from-cmdline");
	assert_int_equal(ports, 2);
	assert_int_equal(daemon_off, 1);
	assert_int_equal(optind, a.argc);
	config_args_free(&a);
}

static void test_config_path(void **state)
{
	char *v1[] = { "run", "--port", "1", "--config", "/a.conf", NULL };
	char *v2[] = { "run", "--config=/b.conf", "--conf", "/c.conf", NULL };
	/* "--config" as the value of --name is not the option */
	char *v3[] = { "run", "--name", "--config", "-n", "--config", NULL };
	char *v4[] = { "run", "--bogus", "--config", NULL };

	(void)state;
	unsetenv("XTAP_CONFIG");
	assert_string_equal(config_path(5, v1, "n:p:", opts), "/a.conf");
	/* the last one; getopt's abbreviation works on the command line */
	assert_string_equal(config_path(4, v2, "n:p:", opts), "/c.conf");
	assert_null(config_path(5, v3, "n:p:", opts));
	/* a missing value is the real pass's error, not a path */
	assert_null(config_path(3, v4, "n:p:", opts));
	setenv("XTAP_CONFIG", "/env.conf", 1);
	assert_string_equal(config_path(5, v3, "n:p:", opts), "/env.conf");
	assert_string_equal(config_path(5, v1, "n:p:", opts), "/a.conf");
	setenv("XTAP_CONFIG", "", 1);
	assert_null(config_path(5, v3, "n:p:", opts));
	unsetenv("XTAP_CONFIG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_quotes_and_line_ends),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_line_count_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_prepend_command_line_wins),
		cmocka_unit_test(test_config_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
