// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The capabilities the deployment gives xtap are enough, and each of them is
 * needed. The list is the CapabilityBoundingSet of deploy/ec2/xtap.service
 * (tests/deploy/run checks that the DaemonSet adds the same). The agent runs
 * as uid 0 with only those capabilities, as a container runtime or systemd
 * starts it (setpriv --bounding-set):
 *   enough   a request to a server that runs as full root, with more
 *            capabilities than the agent (as any other container's process
 *            has), gives a segment with metadata.xtap.exe; an HTTPS request
 *            to a TLS server running before the agent, one with an https url
 *   needed   without CAP_SYS_ADMIN the TLS libraries are not traced (the log
 *            says so, no https segment) while plain HTTP still is; without
 *            CAP_SYS_PTRACE the segment has no exe; without CAP_BPF or
 *            CAP_PERFMON the programs do not load, in the set --no-tls
 *            deployments use (CAP_SYS_ADMIN would stand in for both)
 *   after    once ready the agent holds CAP_SYS_PTRACE and CAP_SYS_ADMIN of
 *            these only (and CAP_DAC_READ_SEARCH, which the unit does not
 *            give), and its bounding set is the one it was given
 *            (tests/e2e/test_privs.c checks the drop itself)
 *   tracefs  where tracefs is not mounted (a private mount namespace here)
 *            the set without CAP_SYS_ADMIN is not enough; with it xtap
 *            mounts tracefs
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tls_peers.h"

#define UNIT_FILE "deploy/ec2/xtap.service"
#define CAPS_MAX 16
#define RUN_TIMEOUT 60.0
#define DOC_WAIT 10.0

/* capability numbers (linux/capability.h), for reading CapEff */
static const struct {
	const char *name;
	int bit;
} cap_bits[] = {
	{ "dac_read_search", 2 }, { "net_admin", 12 }, { "sys_ptrace", 19 }, { "sys_admin", 21 },
	{ "sys_resource", 24 }, { "perfmon", 38 },   { "bpf", 39 },
};

/* what xtap loses without the capability */
enum loss { LOSS_LOAD, LOSS_EXE, LOSS_TLS };
static const struct {
	const char *cap;
	enum loss loss;
} needs[] = {
	{ "bpf", LOSS_LOAD },
	{ "perfmon", LOSS_LOAD },
	{ "sys_ptrace", LOSS_EXE },
	{ "sys_admin", LOSS_TLS },
};

/* what the agent logs when it cannot look at other processes' libraries */
#define TLS_DENIED "TLS libraries are not traced (this needs CAP_SYS_ADMIN"


static char unit_caps[CAPS_MAX][32]; /* lower case, without "cap_" */
static int n_unit_caps;

static void read_unit_caps(void)
{
	char *text = e2e_read_file(UNIT_FILE, NULL), *line, *save = NULL;

	if (!text)
		fail_msg(UNIT_FILE ": missing (run the tests from the repository root)");
	n_unit_caps = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *s2 = NULL;

		if (strncmp(line, "CapabilityBoundingSet=", 22))
			continue;
		for (tok = strtok_r(line + 22, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2)) {
			if (strncasecmp(tok, "CAP_", 4) || n_unit_caps == CAPS_MAX)
				fail_msg(UNIT_FILE ": odd capability '%s'", tok);
			snprintf(unit_caps[n_unit_caps], sizeof(unit_caps[0]), "%s", tok + 4);
			for (char *c = unit_caps[n_unit_caps]; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
			n_unit_caps++;
		}
	}
	if (!n_unit_caps)
		fail_msg(UNIT_FILE ": no CapabilityBoundingSet= line");
}

static int cap_bit(const char *name)
{
	for (size_t i = 0; i < sizeof(cap_bits) / sizeof(cap_bits[0]); i++)
		if (!strcmp(cap_bits[i].name, name))
			return cap_bits[i].bit;
	fail_msg("capability %s: add its number to cap_bits[]", name);
	return -1;
}

/* The unit's capabilities without `drop` and `drop2` (either may be NULL),
 * as setpriv's "+a,+b" and as a CapEff mask. */
static const char *cap_set(const char *drop, const char *drop2, unsigned long long *mask)
{
	const char *list = "";

	*mask = 0;
	for (int i = 0; i < n_unit_caps; i++) {
		if ((drop && !strcmp(unit_caps[i], drop)) || (drop2 && !strcmp(unit_caps[i], drop2)))
			continue;
		list = e2e_fmt("%s,+%s", list, unit_caps[i]);
		*mask |= 1ull << cap_bit(unit_caps[i]);
	}
	return list;
}

/* A script that runs the agent as uid 0 with only the capabilities in
 * `caps` (",+a,+b"); with no_tracefs, in a mount namespace of its own where
 * tracefs (and debugfs, whose tracing/ would mount it on access) is gone.
 * Every step execs, so the agent keeps the script's pid. */
static const char *wrapper(const char *caps, bool no_tracefs)
{
	static int n;
	char real[PATH_MAX];
	const char *path = e2e_fmt("%s/xtap-caps-%d", e2e_tmpdir(), n++);
	const char *text;

	if (!realpath(e2e_xtap_bin(), real))
		fail_msg("realpath %s: %s", e2e_xtap_bin(), strerror(errno));
	if (no_tracefs) {
		const char *inner = e2e_fmt("%s.inner", path);

		text = e2e_fmt("#!/bin/sh\n"
			       "for m in /sys/kernel/debug/tracing /sys/kernel/debug "
			       "/sys/kernel/tracing; do\n"
			       "\tif mountpoint -q \"$m\"; then umount -l \"$m\" || exit 97; fi\n"
			       "done\n"
			       "exec setpriv --bounding-set=-all%s -- '%s' \"$@\"\n",
			       caps, real);
		e2e_write_file(inner, text, strlen(text));
		chmod(inner, 0755);
		text = e2e_fmt("#!/bin/sh\n"
			       "exec unshare --mount --propagation private '%s' \"$@\"\n",
			       inner);
	} else {
		text = e2e_fmt("#!/bin/sh\nexec setpriv --bounding-set=-all%s -- '%s' \"$@\"\n",
			       caps, real);
	}
	e2e_write_file(path, text, strlen(text));
	if (chmod(path, 0755))
		fail_msg("chmod %s: %s", path, strerror(errno));
	return path;
}

/* e2e_agent_start through the wrapper, tracing port and port2 (0: none) */
static struct e2e_agent *start_agent(const char *wrap, int port, int port2)
{
	const char *saved = getenv("XTAP_BIN");
	char *keep = saved ? strdup(saved) : NULL;
	const char *args[] = { "--port", e2e_fmt("%d", port), port2 ? "--port" : NULL,
			       e2e_fmt("%d", port2), NULL };
	struct e2e_agent_opts o = { .args = args };
	struct e2e_agent *a;

	setenv("XTAP_BIN", wrap, 1);
	a = e2e_agent_start(&o);
	if (keep)
		setenv("XTAP_BIN", keep, 1);
	else
		unsetenv("XTAP_BIN");
	free(keep);
	return a;
}

static unsigned long long cap_set_of(pid_t pid, const char *key)
{
	char *status = e2e_read_file(e2e_fmt("/proc/%d/status", (int)pid), NULL);
	const char *p = status ? strstr(status, key) : NULL;
	unsigned long long v;

	if (!p || sscanf(p + strlen(key), "%llx", &v) != 1)
		fail_msg("no %s in /proc/%d/status", key + 1, (int)pid);
	return v;
}

/* Started with `mask`, the ready agent keeps CAP_SYS_PTRACE and, for TLS,
 * CAP_SYS_ADMIN of it (agent/privs.h); without CAP_SETPCAP its bounding set
 * stays the one it was given. */
static void expect_caps(pid_t pid, unsigned long long mask)
{
	unsigned long long kept = mask & (1ull << cap_bit("sys_ptrace") |
					  1ull << cap_bit("sys_admin") |
					  1ull << cap_bit("dac_read_search"));

	if (cap_set_of(pid, "\nCapEff:") != kept || cap_set_of(pid, "\nCapPrm:") != kept ||
	    cap_set_of(pid, "\nCapBnd:") != mask)
		fail_msg("started with %llx, the agent has CapEff %llx CapPrm %llx CapBnd %llx, not %llx %llx %llx",
			 mask, cap_set_of(pid, "\nCapEff:"), cap_set_of(pid, "\nCapPrm:"),
			 cap_set_of(pid, "\nCapBnd:"), kept, kept, mask);
}

/* One GET to a python server run by this (full root) process; returns the
 * segment. */
static json_t *one_request(struct e2e_agent *a, struct e2e_peer *py, const char *tag)
{
	const char *path = e2e_fmt("/hello.txt?t=%s", tag);
	struct e2e_run r = e2e_curl(e2e_url(py->port, path), NULL);
	struct e2e_filter f = { .type = "segment", .url_contains = path };

	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl: exit %d, %s %s", r.status, r.out, r.err);
	return json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
}

/* One HTTPS GET to a TLS server (running as full root); curl must get 200. */
static void one_https_request(const struct e2e_cert *c, struct e2e_peer *tls, const char *path)
{
	struct e2e_run r = e2e_curl_tls(c, e2e_https_url(tls->port, path), NULL);

	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl https: exit %d, %s %s", r.status, r.out, r.err);
}

/* The agent through the wrapper, expected to stop at start-up with exit
 * code 1 and this message. */
static void expect_start_failure(const char *wrap, const char *message)
{
	const char *argv[] = { wrap, "run", "--no-daemon", "--no-stdout", "--export", "none",
			       "--port", "1", NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, RUN_TIMEOUT);

	if (r.status != 1 || !strstr(r.err, message))
		fail_msg("exit %d, expected 1 and \"%s\":\n%s", r.status, message, r.err);
}

static void require_tools(void)
{
	e2e_require_bin("setpriv");
	e2e_require_bin("unshare");
	e2e_require_bin("mountpoint");
	read_unit_caps();
}

static void test_unit_caps_are_enough(void **state)
{
	unsigned long long mask;
	const char *caps;
	const struct e2e_cert *c;
	struct e2e_peer *py, *tls;
	struct e2e_filter fs = { .type = "segment", .url_contains = "/ok?t=enough" };
	struct e2e_agent *a;
	json_t *d;

	(void)state;
	require_tools();
	caps = cap_set(NULL, NULL, &mask);
	py = e2e_peer_python();
	/* before the agent: found by the scan at its start */
	c = e2e_cert_new();
	tls = e2e_peer_python_tls(c, 0, NULL);
	a = start_agent(wrapper(caps, false), py->port, tls->port);
	expect_caps(a->proc->pid, mask);
	d = one_request(a, py, "enough");
	assert_json_str(d, "http.request.method", "GET");
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "metadata.xtap.pid", py->server_pid);
	/* /proc/PID/exe of a process with more capabilities than the agent */
	assert_json_str(d, "metadata.xtap.exe", e2e_proc_exe(py->server_pid));
	if (strstr(e2e_agent_log(a), TLS_DENIED))
		fail_msg("TLS not traced with the unit's capabilities:\n%s", e2e_agent_log(a));
	e2e_agent_wait_log(a, "tls: attached ", DOC_WAIT);
	one_https_request(c, tls, "/ok?t=enough");
	d = json_array_get(e2e_agent_expect_docs(a, &fs, 1, DOC_WAIT), 0);
	assert_json_str(d, "http.request.url", e2e_https_url(tls->port, "/ok?t=enough"));
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "metadata.xtap.pid", tls->server_pid);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

/* Without CAP_SYS_ADMIN: the log says TLS is not traced, an HTTPS request
 * gives nothing, and a plain one after it still gives its segment. */
static void check_without_sys_admin(const char *caps, unsigned long long mask)
{
	const struct e2e_cert *c = e2e_cert_new();
	struct e2e_peer *py = e2e_peer_python(), *tls = e2e_peer_python_tls(c, 0, NULL);
	struct e2e_filter fs = { .url_contains = "https://" };
	struct e2e_agent *a = start_agent(wrapper(caps, false), py->port, tls->port);
	json_t *d;

	expect_caps(a->proc->pid, mask);
	e2e_agent_wait_log(a, TLS_DENIED, DOC_WAIT);
	if (e2e_agent_log_count(a, "tls: attached "))
		fail_msg("TLS attached without CAP_SYS_ADMIN:\n%s", e2e_agent_log(a));
	e2e_agent_expect_final(a, &fs, 0);
	one_https_request(c, tls, "/ok?t=no-sys-admin");
	d = one_request(a, py, "no-sys_admin");
	assert_json_int(d, "metadata.xtap.pid", py->server_pid);
	assert_json_str(d, "metadata.xtap.exe", e2e_proc_exe(py->server_pid));
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

static void test_each_unit_cap_is_needed(void **state)
{
	(void)state;
	require_tools();
	for (int i = 0; i < n_unit_caps; i++) {
		const char *cap = unit_caps[i], *caps;
		unsigned long long mask;
		size_t k;

		for (k = 0; k < sizeof(needs) / sizeof(needs[0]); k++)
			if (!strcmp(needs[k].cap, cap))
				break;
		if (k == sizeof(needs) / sizeof(needs[0]))
			fail_msg(UNIT_FILE " grants CAP_%s: say in needs[] what xtap loses without it",
				 cap);
		/* CAP_SYS_ADMIN passes every CAP_BPF and CAP_PERFMON check */
		caps = cap_set(cap, needs[k].loss == LOSS_LOAD ? "sys_admin" : NULL, &mask);
		printf("without cap_%s (%s)\n", cap, caps);
		if (needs[k].loss == LOSS_LOAD) {
			expect_start_failure(wrapper(caps, false),
					     "load BPF programs: Operation not permitted");
		} else if (needs[k].loss == LOSS_TLS) {
			check_without_sys_admin(caps, mask);
		} else {
			struct e2e_peer *py = e2e_peer_python();
			struct e2e_agent *a = start_agent(wrapper(caps, false), py->port, 0);
			json_t *d;

			expect_caps(a->proc->pid, mask);
			d = one_request(a, py, e2e_fmt("no-%s", cap));
			assert_json_int(d, "metadata.xtap.pid", py->server_pid);
			assert_json_present(d, "metadata.xtap.comm");
			assert_json_absent(d, "metadata.xtap.exe");
			assert_int_equal(e2e_agent_stop(a), 0);
			e2e_agent_check_final(a);
		}
	}
}

static void test_tracefs_mount_needs_sys_admin(void **state)
{
	unsigned long long mask;
	const char *caps;
	struct e2e_agent *a;

	(void)state;
	require_tools();
	caps = cap_set("sys_admin", NULL, &mask);
	expect_start_failure(wrapper(caps, true),
			     "mount tracefs on /sys/kernel/tracing: Operation not permitted");
	a = start_agent(wrapper(cap_set(NULL, NULL, &mask), true), 1, 0);
	if (!strstr(e2e_agent_log(a), "mounted tracefs on /sys/kernel/tracing"))
		fail_msg("the agent did not mount tracefs:\n%s", e2e_agent_log(a));
	assert_int_equal(e2e_agent_stop(a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unit_caps_are_enough, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_each_unit_cap_is_needed, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_tracefs_mount_needs_sys_admin, e2e_test_setup,
						e2e_test_teardown),
	};

	return cmocka_run_group_tests_name("caps", tests, e2e_group_setup, e2e_group_teardown);
}
