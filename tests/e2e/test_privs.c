// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Once attached, the agent keeps only what it still uses (agent/privs.h).
 * Started as full root (every capability, CAP_SETPCAP included), the ready
 * agent has, in every one of its threads:
 *   TLS      CapEff = CapPrm = CapBnd = CAP_SYS_PTRACE + CAP_SYS_ADMIN +
 *            CAP_DAC_READ_SEARCH
 *   --no-tls CapEff = CapPrm = CapBnd = CAP_SYS_PTRACE
 * no inheritable or ambient capability, and NoNewPrivs 1; /status says the
 * same. What it still does with that set is checked after the drop: a
 * plain request to a server with every capability (more than the agent:
 * /proc/PID/exe takes CAP_SYS_PTRACE) gives a segment with its exe, and
 * with TLS, servers started after the drop are attached and their HTTPS
 * requests give segments: one as root on a libssl no process used before,
 * one running as nobody with OpenSSL linked in (its /proc/PID/map_files is
 * nobody's, mode 0500: CAP_DAC_READ_SEARCH).
 * tests/e2e/test_caps.c checks the deployment's bounding set.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tls_peers.h"

#define DOC_WAIT 10.0
#define ATTACH_WAIT 20.0

#define CAP_DAC_READ_SEARCH_BIT 2
#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT 21
#define TLS_KEPT                                                                            \
	(1ull << CAP_SYS_PTRACE_BIT | 1ull << CAP_SYS_ADMIN_BIT | 1ull << CAP_DAC_READ_SEARCH_BIT)

static unsigned long long status_hex(const char *status, const char *key, pid_t tid)
{
	const char *p = strstr(status, key);
	unsigned long long v;

	if (!p || sscanf(p + strlen(key), "%llx", &v) != 1)
		fail_msg("no %s in /proc/.../task/%d/status", key + 1, (int)tid);
	return v;
}

/* Every thread of pid: the exact sets, nothing inheritable or ambient,
 * no_new_privs. Returns the number of threads. */
static int expect_threads(pid_t pid, unsigned long long want)
{
	const char *dir = e2e_fmt("/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		fail_msg("%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		const char *st;
		const char *nnp;

		if (tid <= 0)
			continue;
		st = e2e_read_file(e2e_fmt("%s/%d/status", dir, (int)tid), NULL);
		if (!st) /* a thread that just ended */
			continue;
		if (status_hex(st, "\nCapEff:", tid) != want ||
		    status_hex(st, "\nCapPrm:", tid) != want ||
		    status_hex(st, "\nCapBnd:", tid) != want ||
		    status_hex(st, "\nCapInh:", tid) != 0 || status_hex(st, "\nCapAmb:", tid) != 0) {
			closedir(d);
			fail_msg("thread %d of the agent: want CapEff = CapPrm = CapBnd = %llx, "
				 "nothing inheritable or ambient:\n%s",
				 (int)tid, want, st);
		}
		nnp = strstr(st, "\nNoNewPrivs:");
		if (!nnp || atoi(nnp + 12) != 1) {
			closedir(d);
			fail_msg("thread %d of the agent: no_new_privs not set:\n%s", (int)tid, st);
		}
		n++;
	}
	closedir(d);
	if (n < 2)
		fail_msg("the agent has %d threads: expected its exporter's besides the loop", n);
	return n;
}

/* /status's "capabilities" lists exactly the names */
static void expect_status(struct e2e_agent *a, const char *const *names)
{
	const char *argv[] = { "curl", "-sS", "--max-time", "10",
			       e2e_url(a->metrics_port, "/status"), NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);
	json_t *st = json_loads(r.out, 0, NULL), *set;
	size_t n = 0;

	if (r.status || !st)
		fail_msg("/status: exit %d: %s", r.status, e2e_tail(r.out, 500));
	while (names[n])
		n++;
	for (int k = 0; k < 3; k++) {
		const char *key = k == 0 ? "capabilities.effective" :
				  k == 1 ? "capabilities.permitted" : "capabilities.bounding";

		set = e2e_json_get(st, key);
		if (!json_is_array(set) || json_array_size(set) != n)
			fail_msg("/status %s: %s", key, e2e_json_dump(set));
		for (size_t i = 0; i < n; i++)
			if (strcmp(json_string_value(json_array_get(set, i)) ?: "", names[i]))
				fail_msg("/status %s: %s, want %s at %zu", key, e2e_json_dump(set),
					 names[i], i);
	}
	if (!json_is_true(e2e_json_get(st, "capabilities.no_new_privs")))
		fail_msg("/status: no_new_privs not true: %s",
			 e2e_json_dump(e2e_json_get(st, "capabilities")));
	json_decref(st);
}

/* A plain GET to a python server this (full root) process runs: the
 * segment names its exe, read through /proc with CAP_SYS_PTRACE only. */
static void plain_request(struct e2e_agent *a, struct e2e_peer *py, const char *tag)
{
	const char *path = e2e_fmt("/hello.txt?t=%s", tag);
	struct e2e_run r = e2e_curl(e2e_url(py->port, path), NULL);
	struct e2e_filter f = { .type = "segment", .url_contains = path };
	json_t *d;

	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl: exit %d, %s %s", r.status, r.out, r.err);
	d = json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
	assert_json_int(d, "http.response.status", 200);
	assert_json_int(d, "metadata.xtap.pid", py->server_pid);
	assert_json_str(d, "metadata.xtap.exe", e2e_proc_exe(py->server_pid));
}

/* dir/tls_static run as nobody through a wrapper that execs it (the pid
 * stays); the certificate and the binary made readable to nobody. */
static struct e2e_peer *static_server_as_nobody(const struct e2e_cert *c, int port,
						 const char *dir)
{
	const char *wrap = e2e_fmt("%s/as-nobody", dir), *text;
	char *cdir = strdup(c->cert);

	if (!cdir)
		fail_msg("out of memory");
	*strrchr(cdir, '/') = '\0';
	if (chmod(dir, 0755) || chmod(cdir, 0755) || chmod(c->cert, 0644) || chmod(c->key, 0644))
		fail_msg("chmod for nobody: %s", strerror(errno));
	free(cdir);
	text = e2e_fmt("#!/bin/sh\nexec '%s' --reuid=65534 --regid=65534 --clear-groups "
		       "'%s/tls_static' \"$@\"\n",
		       e2e_require_bin("setpriv"), dir);
	e2e_write_file(wrap, text, strlen(text));
	if (chmod(wrap, 0755))
		fail_msg("chmod %s: %s", wrap, strerror(errno));
	return e2e_peer_tls_static(c, port, wrap);
}

static void test_tls_keeps_ptrace_sys_admin_dac_read_search(void **state)
{
	static const char *const names[] = { "cap_dac_read_search", "cap_sys_ptrace",
					     "cap_sys_admin", NULL };
	const struct e2e_cert *c = e2e_cert_new();
	const char *sys_lib = e2e_libssl_holder(), *libdir = e2e_fmt("%s/lib", e2e_tmpdir()), *lib;
	struct e2e_peer *py = e2e_peer_python(), *tls;
	int tls_port = e2e_free_port(), nobody_port = e2e_free_port();
	const char *bindir = e2e_tmpdir();
	struct e2e_filter f = { .type = "segment", .url_contains = "/ok?t=privs-tls" };
	struct e2e_agent *a;
	struct e2e_run r;
	json_t *d;

	(void)state;
	if (mkdir(libdir, 0755))
		fail_msg("mkdir %s: %s", libdir, strerror(errno));
	lib = e2e_copy_file(sys_lib, libdir, strrchr(sys_lib, '/') + 1);
	a = e2e_agent_startl("--port", e2e_fmt("%d", py->port), "--port",
			     e2e_fmt("%d", tls_port), "--port", e2e_fmt("%d", nobody_port), NULL);
	e2e_agent_wait_log(a, "capabilities: kept cap_dac_read_search,cap_sys_ptrace,cap_sys_admin (",
			   DOC_WAIT);
	expect_threads(a->proc->pid, TLS_KEPT);
	expect_status(a, names);
	plain_request(a, py, "privs-plain");

	/* after the drop: a library no process used before, a new attach */
	if (e2e_agent_log_count(a, lib))
		fail_msg("%s attached before a process used it:\n%s", lib, e2e_agent_log(a));
	tls = e2e_peer_python_tls(c, tls_port, libdir);
	e2e_agent_wait_log(a, e2e_fmt("tls: attached %s", lib), ATTACH_WAIT);
	r = e2e_curl_tls(c, e2e_https_url(tls->port, "/ok?t=privs-tls"), NULL);
	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl https: exit %d, %s %s", r.status, r.out, r.err);
	d = json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
	assert_json_str(d, "http.request.url", e2e_https_url(tls->port, "/ok?t=privs-tls"));
	assert_json_int(d, "metadata.xtap.pid", tls->server_pid);

	/* after the drop, as another user, OpenSSL inside the executable */
	e2e_build_tls_static(bindir);
	tls = static_server_as_nobody(c, nobody_port, bindir);
	e2e_agent_wait_log(a, e2e_fmt("tls: attached %s/tls_static", bindir), ATTACH_WAIT);
	r = e2e_curl_tls(c, e2e_https_url(tls->port, "/ok?t=privs-nobody"), NULL);
	if (r.status || strncmp(r.out, "200", 3))
		fail_msg("curl https: exit %d, %s %s", r.status, r.out, r.err);
	f.url_contains = "?t=privs-nobody";
	d = json_array_get(e2e_agent_expect_docs(a, &f, 1, DOC_WAIT), 0);
	assert_json_int(d, "metadata.xtap.pid", tls->server_pid);
	if (strcmp(e2e_proc_exe(tls->server_pid), e2e_fmt("%s/tls_static", bindir)))
		fail_msg("the server runs %s", e2e_proc_exe(tls->server_pid));
	/* still the same sets, after the attach */
	expect_threads(a->proc->pid, TLS_KEPT);
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

static void test_no_tls_keeps_ptrace(void **state)
{
	static const char *const names[] = { "cap_sys_ptrace", NULL };
	struct e2e_peer *py = e2e_peer_python();
	struct e2e_agent *a;

	(void)state;
	a = e2e_agent_startl("--no-tls", "--port", e2e_fmt("%d", py->port), NULL);
	e2e_agent_wait_log(a, "capabilities: kept cap_sys_ptrace (", DOC_WAIT);
	expect_threads(a->proc->pid, 1ull << CAP_SYS_PTRACE_BIT);
	expect_status(a, names);
	plain_request(a, py, "privs-no-tls");
	assert_int_equal(e2e_agent_stop(a), 0);
	e2e_agent_check_final(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_keeps_ptrace_sys_admin_dac_read_search,
						e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_no_tls_keeps_ptrace, e2e_test_setup,
						e2e_test_teardown),
	};

	return cmocka_run_group_tests_name("privs", tests, e2e_group_setup, e2e_group_teardown);
}
