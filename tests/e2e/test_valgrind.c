// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A short agent run under valgrind's memcheck: the plain build (ASan and
 * valgrind do not mix) loads the real programs, traces a few requests to a
 * python server on 127.0.0.1, drains on SIGTERM, and must leave no memory
 * error and no leak. tests/valgrind/xtap.supp holds the only suppressions,
 * for memcheck's view of libbpf's bpf(2) attribute blocks.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_REQS 5

/* $XTAP_PLAIN_BIN, else build/xtap: a build without sanitizers */
static const char *plain_bin(void)
{
	const char *b = getenv("XTAP_PLAIN_BIN");

	return b && *b ? b : "build/xtap";
}

static void test_memcheck_clean(void **state)
{
	struct e2e_peer *py = e2e_peer_python();
	const char *dir = e2e_tmpdir();
	const char *out = e2e_fmt("%s/out.jsonl", dir);
	const char *argv[] = { e2e_require_bin("valgrind"),
			       "--error-exitcode=99",
			       "--leak-check=full",
			       "--errors-for-leak-kinds=definite,indirect",
			       "--show-leak-kinds=definite,indirect",
			       "--suppressions=tests/valgrind/xtap.supp",
			       plain_bin(),
			       "run",
			       "--port",
			       e2e_fmt("%d", py->port),
			       "--no-daemon",
			       "--no-stdout",
			       "--metrics-address",
			       "off",
			       "-o",
			       out,
			       NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_proc *vg;
	const char *log;
	char *text;
	int rc, lines = 0;

	(void)state;
	vg = e2e_spawn(&o);
	/* valgrind makes loading the programs slow: allow it two minutes */
	for (int i = 0; i < 1200 && !strstr(e2e_proc_err(vg), "xtap: ready:"); i++) {
		if (!e2e_proc_alive(vg))
			fail_msg("the agent exited under valgrind:\n%s", e2e_tail(e2e_proc_err(vg), 4000));
		e2e_sleep(0.1);
	}
	if (!strstr(e2e_proc_err(vg), "xtap: ready:"))
		fail_msg("no 'ready' within 120 s:\n%s", e2e_tail(e2e_proc_err(vg), 4000));
	for (int i = 0; i < N_REQS; i++) {
		struct e2e_run r = e2e_curl(e2e_url(py->port, e2e_fmt("/hello.txt?vg=%d", i)), NULL);

		assert_int_equal(r.status, 0);
	}
	e2e_sleep(1.0);
	kill(vg->pid, SIGTERM);
	rc = e2e_proc_wait(vg, 60);
	log = e2e_proc_err(vg);
	if (rc != 0 || !strstr(log, "ERROR SUMMARY: 0 errors"))
		fail_msg("valgrind: exit %d\n%s", rc, e2e_tail(log, 6000));
	/* every request was traced, both sides, and drained before exit */
	text = e2e_read_file(out, NULL);
	assert_non_null(text);
	/* one line per server segment (curl's subsegments carry no query) */
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			fail_msg("a partial last line in %s", out);
		*nl = '\0';
		if (strstr(line, "vg="))
			lines++;
	}
	assert_int_equal(lines, N_REQS);
	assert_non_null(strstr(log, "in use at exit: 0 bytes") ? log : strstr(log, "definitely lost: 0 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memcheck_clean, e2e_test_setup, e2e_test_teardown),
	};

	return cmocka_run_group_tests(tests, e2e_group_setup, e2e_group_teardown);
}
