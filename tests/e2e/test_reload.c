// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SIGHUP re-reads `xtap run --config FILE` (agent/reload.h), against the
 * real agent and nginx:
 *   applied   a new segment name and new local sampling rules take effect
 *             for the next requests: the documents carry the new name, and
 *             what the new rules sample out is gone
 *   refused   a file with a bad line is refused whole: the log names
 *             FILE:LINE, and the documents keep the name in force
 *   restart   a changed option that needs a restart is logged once
 *             ("needs restart"), however many SIGHUPs follow, and the
 *             running value stays (/status's ring buffer size)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tls_peers.h"

#define DOC_WAIT 10.0
#define LOG_WAIT 10.0

static struct e2e_peer *ngx;

/* every request sampled, by the default rule */
static const char rules_all[] = "{\"version\":2,\"default\":{\"fixed_target\":0,\"rate\":1}}";
/* t=drop never sampled; the rest still are */
static const char rules_drop[] =
	"{\"version\":2,\"default\":{\"fixed_target\":0,\"rate\":1},\"rules\":["
	"{\"description\":\"drop\",\"host\":\"*\",\"http_method\":\"*\","
	"\"url_path\":\"*t=drop*\",\"fixed_target\":0,\"rate\":0}]}";

static int setup(void **state)
{
	e2e_group_setup(state);
	ngx = e2e_peer_nginx();
	return 0;
}

static void get_ok(const char *tag)
{
	struct e2e_run r =
		e2e_curl(e2e_url(ngx->port, e2e_fmt("/static/hello.txt?t=%s", tag)), NULL);

	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl ?t=%s: exit %d, %s %s", tag, r.status, r.out, r.err);
}

/* extra starts at line 5 */
static void write_config(const char *path, const char *name, const char *rules,
			 const char *extra)
{
	const char *text = e2e_fmt("# xtap run options\n"
				   "name = %s\n"
				   "sampling-rules = %s\n"
				   "pid = %d\n"
				   "%s",
				   name, rules, (int)ngx->server_pid, extra ? extra : "");

	e2e_write_file(path, text, strlen(text));
}

/* SIGHUP, then wait for the n-th log line with needle */
static void hup(struct e2e_agent *a, const char *needle, int n)
{
	double t0 = e2e_mono();

	if (kill(a->proc->pid, SIGHUP))
		fail_msg("kill -HUP %d failed", (int)a->proc->pid);
	while (e2e_agent_log_count(a, needle) < n) {
		if (e2e_mono() - t0 > LOG_WAIT)
			fail_msg("no %d-th \"%s\" after SIGHUP:\n%s", n, needle,
				 e2e_tail(e2e_agent_log(a), 3000));
		e2e_sleep(0.05);
	}
}

static json_t *one_doc(struct e2e_agent *a, const char *tag)
{
	struct e2e_filter f = { .type = "segment", .url_contains = e2e_fmt("t=%s", tag) };

	get_ok(tag);
	return json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
}

static long long status_ring_buffer_mb(struct e2e_agent *a)
{
	const char *argv[] = { "curl", "-sS", "--max-time", "10",
			       e2e_url(a->metrics_port, "/status"), NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);
	json_t *st = json_loads(r.out, 0, NULL);
	long long mb;

	if (r.status || !st)
		fail_msg("/status: exit %d: %s", r.status, e2e_tail(r.out, 500));
	mb = (long long)e2e_json_num(st, "config.ring_buffer_mb", -1);
	json_decref(st);
	return mb;
}

static void test_reload(void **state)
{
	const char *dir = e2e_tmpdir(), *conf = e2e_fmt("%s/xtap.conf", dir),
		   *all = e2e_fmt("%s/all.json", dir), *drop = e2e_fmt("%s/drop.json", dir);
	const char *applied = e2e_fmt("reload: %s applied", conf);
	struct e2e_filter dropped = { .url_contains = "t=drop2" };
	struct e2e_agent *a;
	json_t *d;

	(void)state;
	e2e_write_file(all, rules_all, strlen(rules_all));
	e2e_write_file(drop, rules_drop, strlen(rules_drop));
	write_config(conf, "before", all, NULL);
	a = e2e_agent_startl("--config", conf, NULL);
	d = one_doc(a, "first");
	assert_json_str(d, "name", "before");
	/* the same rules sample t=drop before the reload */
	d = one_doc(a, "drop1");
	assert_json_str(d, "name", "before");
	assert_int_equal(status_ring_buffer_mb(a), 8);

	/* applied: a new name and rules; a restart-only change beside them */
	write_config(conf, "after", drop, "ring-buffer-mb = 16\n");
	hup(a, applied, 1);
	if (e2e_agent_log_count(a, "reload: ring-buffer-mb changed in ") != 1 ||
	    !strstr(e2e_agent_log(a), "needs restart"))
		fail_msg("the ring buffer change is not logged as needing a restart:\n%s",
			 e2e_tail(e2e_agent_log(a), 3000));
	d = one_doc(a, "second");
	assert_json_str(d, "name", "after");
	get_ok("drop2");
	e2e_agent_expect_final(a, &dropped, 0);
	assert_int_equal(status_ring_buffer_mb(a), 8);

	/* the same file again: applied again, the restart note not repeated */
	hup(a, applied, 2);
	assert_int_equal(e2e_agent_log_count(a, "reload: ring-buffer-mb changed in "), 1);

	/* refused: line 5 is not an option; nothing of the file applies */
	write_config(conf, "refused", all, "no-such-option = 1\n");
	hup(a, e2e_fmt("reload: %s:5: unknown option 'no-such-option'", conf), 1);
	if (!strstr(e2e_agent_log(a), "keeping the running configuration"))
		fail_msg("the refusal does not say the configuration stays:\n%s",
			 e2e_tail(e2e_agent_log(a), 3000));
	d = one_doc(a, "third");
	assert_json_str(d, "name", "after");
	get_ok("drop3");
	e2e_agent_expect_final(a, &(struct e2e_filter){ .url_contains = "t=drop3" }, 0);

	/* a bad value of a live option names its line too */
	write_config(conf, "refused", all, "link-wait = soon\n");
	hup(a, e2e_fmt("reload: %s:5: link-wait 'soon'", conf), 1);
	assert_json_str(one_doc(a, "fourth"), "name", "after");

	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
	assert_int_equal(e2e_agent_unsampled(a), 2);
	assert_int_equal(e2e_agent_log_count(a, "reload: "), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload, e2e_test_setup, e2e_test_teardown),
	};

	return cmocka_run_group_tests_name("reload", tests, setup, e2e_group_teardown);
}
