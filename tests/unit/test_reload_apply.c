/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The SIGHUP reload (agent/reload.c) without the agent: what a new file
 * changes in the pipeline, what the command line keeps, a refused file, a
 * restart-only change logged once, new local sampling rules in force. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "reload.h"
#include "sampling.h"

/* The names reload.c knows, as xtap run's table has them. */
static const struct option opts[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "sampling-rules", required_argument, NULL, 0x100 },
	{ "link-wait", required_argument, NULL, 0x101 },
	{ "redact-query", no_argument, NULL, 0x102 },
	{ "ring-buffer-mb", required_argument, NULL, 0x103 },
	{ "port", required_argument, NULL, 0x104 },
	{ "config", required_argument, NULL, 0x105 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

struct fixture {
	char dir[64];
	char conf[96];
	char log[96];
	struct config_args start;
	struct pipeline pl;
	struct reload r;
	int saved_stderr;
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The agent's stderr so far. */
static char *log_text(struct fixture *fx)
{
	static char buf[16384];
	FILE *f;
	size_t n;

	fflush(stderr);
	f = fopen(fx->log, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Start as `xtap run --config FILE ARGS...` with the file's text. */
static void start(struct fixture *fx, const char *text, char **cmdline, int cmdc,
		  const char *rules_path)
{
	char e[256];
	int fd;

	put(fx->conf, text);
	assert_int_equal(config_load(fx->conf, opts, &fx->start, e, sizeof(e)), 0);
	fflush(stderr);
	fx->saved_stderr = dup(2);
	fd = open(fx->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
	assert_int_equal(reload_init(&fx->r, fx->conf, opts, "n:vqh", cmdc, cmdline,
				     fx->start.argv, fx->start.argc, &fx->pl, rules_path),
			 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/xtap-reload-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/xtap.conf", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/log", fx->dir);
	fx->saved_stderr = -1;
	unsetenv("AWS_XRAY_TRACING_NAME");
	log_set_level(LOG_INFO);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	fflush(stderr);
	if (fx->saved_stderr >= 0) {
		dup2(fx->saved_stderr, 2);
		close(fx->saved_stderr);
	}
	reload_free(&fx->r);
	config_args_free(&fx->start);
	sampler_destroy(fx->pl.sampler);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd))
		return -1;
	free(fx);
	log_set_level(LOG_INFO);
	return 0;
}

static void test_live_options_change(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = { "xtap-run", "--config", fx->conf, NULL };

	start(fx, "name = first\n", argv, 3, NULL);
	put(fx->conf, "name = second\nredact-query\nverbose\nlink-wait = 0\n");
	reload_apply(&fx->r);
	assert_string_equal(fx->pl.seg.name, "second");
	assert_true(fx->pl.redact_query);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	/* gone from the file: back to the defaults */
	setenv("AWS_XRAY_TRACING_NAME", "from-env", 1);
	put(fx->conf, "# nothing\n");
	reload_apply(&fx->r);
	assert_string_equal(fx->pl.seg.name, "from-env");
	assert_false(fx->pl.redact_query);
	assert_int_equal(log_get_level(), LOG_INFO);
	assert_int_equal(count(log_text(fx), "applied"), 2);
}

static void test_command_line_wins(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = { "xtap-run", "-n", "cli", "--config", fx->conf, "-q", NULL };

	start(fx, "name = file\n", argv, 6, NULL);
	put(fx->conf, "name = file2\nverbose\n");
	reload_apply(&fx->r);
	assert_string_equal(fx->pl.seg.name, "cli");
	assert_int_equal(log_get_level(), LOG_ERROR);
}

static void test_bad_file_refused_whole(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = { "xtap-run", "--config", fx->conf, NULL };

	start(fx, "name = kept\n", argv, 3, NULL);
	put(fx->conf, "name = kept\n");
	reload_apply(&fx->r);
	put(fx->conf, "name = lost\nredact-query\nlink-wait = later\n");
	reload_apply(&fx->r);
	assert_string_equal(fx->pl.seg.name, "kept");
	assert_false(fx->pl.redact_query);
	put(fx->conf, "name = lost\n\n--port 80\n");
	reload_apply(&fx->r);
	assert_string_equal(fx->pl.seg.name, "kept");
	assert_non_null(strstr(log_text(fx), ":3: link-wait 'later'"));
	assert_non_null(strstr(log_text(fx), ":3: write the option's name without dashes"));
	assert_int_equal(count(log_text(fx), "keeping the running configuration"), 2);
}

static void test_restart_only_logged_once(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = { "xtap-run", "--config", fx->conf, NULL };

	start(fx, "ring-buffer-mb = 8\nport = 80\nport = 81\n", argv, 3, NULL);
	put(fx->conf, "ring-buffer-mb = 16\nport = 80\nport = 81\n");
	reload_apply(&fx->r);
	reload_apply(&fx->r);
	assert_int_equal(count(log_text(fx), "ring-buffer-mb changed in "), 1);
	put(fx->conf, "ring-buffer-mb = 32\nport = 81\nport = 80\n");
	reload_apply(&fx->r);
	assert_int_equal(count(log_text(fx), "ring-buffer-mb changed in "), 2);
	assert_int_equal(count(log_text(fx), "port changed in "), 1);
	/* back to what runs: nothing to say */
	put(fx->conf, "ring-buffer-mb = 8\nport = 80\nport = 81\n");
	reload_apply(&fx->r);
	assert_int_equal(count(log_text(fx), "needs restart"), 3);
	assert_int_equal(count(log_text(fx), "applied"), 4);
}

static bool sampled(struct sampler *s)
{
	struct sampling_req q = { "svc", "", "h", "GET", "/x" };
	struct sampling_decision d;

	sampler_decide(s, &q, &d);
	return d.sampled;
}

static void test_rules_file_reread(void **state)
{
	struct fixture *fx = *state;
	char rules[128], text[256], e[256];
	char *argv[] = { "xtap-run", "--config", fx->conf, NULL };
	static const char all[] = "{\"version\":2,\"default\":{\"fixed_target\":0,\"rate\":1}}";
	static const char none[] = "{\"version\":2,\"default\":{\"fixed_target\":0,\"rate\":0}}";
	struct sampling_config sc = { .mode = SAMPLING_LOCAL, .local_rules_json = all };

	snprintf(rules, sizeof(rules), "%s/rules.json", fx->dir);
	put(rules, all);
	assert_int_equal(sampler_create(&sc, &fx->pl.sampler, e, sizeof(e)), 0);
	snprintf(text, sizeof(text), "sampling-rules = %s\n", rules);
	start(fx, text, argv, 3, rules);
	assert_true(sampled(fx->pl.sampler));
	/* the same name, new contents */
	put(rules, none);
	reload_apply(&fx->r);
	assert_false(sampled(fx->pl.sampler));
	/* a broken file keeps the rules in force and names the line */
	put(rules, "{\"version\":2");
	put(fx->conf, text);
	reload_apply(&fx->r);
	assert_false(sampled(fx->pl.sampler));
	assert_non_null(strstr(log_text(fx), ":1: sampling-rules "));
	/* the file gone from the configuration changes the mode: not applied */
	put(rules, all);
	put(fx->conf, "# no rules\n");
	reload_apply(&fx->r);
	assert_false(sampled(fx->pl.sampler));
	assert_int_equal(count(log_text(fx), "sampling-rules changed in "), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_live_options_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_refused_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_only_logged_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_file_reread, setup, teardown),
	};

	return cmocka_run_group_tests_name("reload_apply", tests, NULL, NULL);
}
