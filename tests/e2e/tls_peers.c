// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tls_peers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *repo_file(const char *rel)
{
	char buf[PATH_MAX];

	if (!realpath(rel, buf))
		fail_msg("%s: %s (run the tests from the repository root)", rel, strerror(errno));
	return e2e_fmt("%s", buf);
}

static struct e2e_run run_argv(const char *const *argv, double timeout)
{
	struct e2e_spawn_opts o = { .argv = argv };

	return e2e_run_cmd(&o, timeout);
}

const struct e2e_cert *e2e_cert_new(void)
{
	return e2e_cert_new_ip("127.0.0.1");
}

const struct e2e_cert *e2e_cert_new_ip(const char *ip)
{
	struct e2e_cert *c = e2e_alloc(sizeof(*c));
	const char *dir = e2e_tmpdir();
	const char *argv[] = { e2e_require_bin("openssl"), "req", "-x509", "-newkey", "ec",
			       "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
			       "-subj", e2e_fmt("/CN=%s", ip), "-addext",
			       e2e_fmt("subjectAltName=IP:%s", ip), "-keyout", e2e_fmt("%s/key.pem", dir), "-out",
			       e2e_fmt("%s/cert.pem", dir), NULL };
	struct e2e_run r = run_argv(argv, 30);

	if (r.status != 0)
		fail_msg("openssl req failed (%d): %s", r.status, r.err);
	c->key = argv[15];
	c->cert = argv[17];
	return c;
}

const char *e2e_https_url(int port, const char *path)
{
	return e2e_fmt("https://127.0.0.1:%d%s", port, path);
}

struct e2e_run e2e_curl_tls(const struct e2e_cert *c, const char *arg, ...)
{
	const char *args[64] = { "--cacert", c->cert, "--http1.1" };
	va_list ap;

	va_start(ap, arg);
	e2e_args_from(args, sizeof(args) / sizeof(args[0]), 3, arg, ap);
	va_end(ap);
	return e2e_curlv(args);
}

/* argv's port argument, when port is 0: a free port */
static int port_or_free(int port)
{
	return port ? port : e2e_free_port();
}

static struct e2e_peer *peer_start(const char *const *argv, const char *const *env, int port)
{
	struct e2e_peer *p = e2e_alloc(sizeof(*p));
	struct e2e_spawn_opts o = { .argv = argv, .env = env };

	p->port = port;
	p->proc = e2e_spawn(&o);
	e2e_wait_port(port, p->proc, 20);
	p->server_pid = p->proc->pid;
	return p;
}

static void peer_fill_names(struct e2e_peer *p)
{
	p->exe = e2e_proc_exe(p->server_pid);
	p->comm = e2e_proc_comm(p->server_pid);
}

struct e2e_peer *e2e_peer_python_tls(const struct e2e_cert *c, int port, const char *libdir)
{
	const char *argv[] = { e2e_python_exe(), repo_file("tests/e2e/peers/https_server.py"),
			       e2e_fmt("%d", port = port_or_free(port)), c->cert, c->key, NULL };
	const char *env[] = { libdir ? e2e_fmt("LD_LIBRARY_PATH=%s", libdir) : NULL, NULL };
	struct e2e_peer *p = peer_start(argv, env, port);

	peer_fill_names(p);
	return p;
}

struct e2e_peer *e2e_peer_node_tls(const struct e2e_cert *c, int port, const char *node)
{
	const char *argv[] = { node ? node : e2e_require_bin("node"),
			       repo_file("tests/e2e/peers/server.js"),
			       e2e_fmt("%d", port = port_or_free(port)),
			       c->cert, c->key, NULL };
	struct e2e_peer *p = peer_start(argv, NULL, port);

	peer_fill_names(p);
	return p;
}

void e2e_build_tls_static(const char *dir)
{
	const char *bin = e2e_fmt("%s/tls_static", dir);
	const char *cc[] = { e2e_require_bin("cc"), "-O1", "-o", bin,
			     repo_file("tests/e2e/peers/tls_static.c"), "-Wl,-Bstatic", "-lssl",
			     "-lcrypto", "-Wl,-Bdynamic", "-lpthread", NULL };
	const char *strip[] = { e2e_require_bin("strip"), "-s", "-o",
				e2e_fmt("%s.stripped", bin), bin, NULL };
	struct e2e_run r = run_argv(cc, 120);

	if (r.status != 0)
		fail_msg("building %s with libssl.a failed (%d; libssl-dev installed?):\n%s%s", bin,
			 r.status, r.out, r.err);
	r = run_argv(strip, 60);
	if (r.status != 0)
		fail_msg("strip -s %s failed (%d): %s", bin, r.status, r.err);
}

struct e2e_peer *e2e_peer_tls_static(const struct e2e_cert *c, int port, const char *bin)
{
	const char *argv[] = { bin, e2e_fmt("%d", port = port_or_free(port)), c->cert, c->key,
			       NULL };
	struct e2e_peer *p = peer_start(argv, NULL, port);

	peer_fill_names(p);
	return p;
}

void e2e_build_gotls(const char *dir)
{
	const char *env[] = { "GOPROXY=off", "GOFLAGS=-mod=mod", "GOCACHE=/tmp/xtap-e2e-gocache",
			      "GOPATH=/tmp/xtap-e2e-gopath", "CGO_ENABLED=0", "GO111MODULE=",
			      NULL };
	const char *src = repo_file("tests/e2e/peers/gotls.go");

	for (int stripped = 0; stripped < 2; stripped++) {
		const char *out = e2e_fmt("%s/gotls%s", dir, stripped ? ".stripped" : "");
		const char *argv[] = { e2e_require_bin("go"), "build",
				       stripped ? "-ldflags=-s -w" : "-ldflags=", "-o", out, src,
				       NULL };
		struct e2e_spawn_opts o = { .argv = argv, .env = env };
		struct e2e_run r = e2e_run_cmd(&o, 180);

		if (r.status != 0)
			fail_msg("go build %s failed (%d):\n%s%s", out, r.status, r.out, r.err);
	}
}

struct e2e_peer *e2e_peer_gotls(const struct e2e_cert *c, int port, const char *bin)
{
	const char *argv[] = { bin, "-addr", e2e_fmt("127.0.0.1:%d", port = port_or_free(port)),
			       "-cert", c->cert, "-key", c->key, NULL };
	struct e2e_peer *p = peer_start(argv, NULL, port);

	peer_fill_names(p);
	return p;
}

const char *e2e_libssl_holder(void)
{
	const char *argv[] = { e2e_python_exe(), "-c",
			       "import ssl, time; print(ssl.OPENSSL_VERSION, flush=True); "
			       "time.sleep(600)",
			       NULL };
	struct e2e_proc *p = e2e_spawnv(argv);
	double end = e2e_mono() + 20;

	while (!*e2e_proc_out(p)) {
		if (!e2e_proc_alive(p) || e2e_mono() > end)
			fail_msg("python3 -c 'import ssl' did not start: %s", e2e_proc_out(p));
		e2e_sleep(0.05);
	}
	return e2e_proc_mapped(p->pid, "libssl.so");
}

const char *e2e_proc_mapped(pid_t pid, const char *prefix)
{
	const char *maps = e2e_read_file(e2e_fmt("/proc/%d/maps", (int)pid), NULL);
	const char *line = maps;

	while (line && *line) {
		const char *nl = strchrnul(line, '\n'), *path = memchr(line, '/', nl - line);

		if (path) {
			const char *base = path;

			for (const char *s = path; s < nl; s++)
				if (*s == '/')
					base = s + 1;
			if (!strncmp(base, prefix, strlen(prefix)))
				return e2e_fmt("%.*s", (int)(nl - path), path);
		}
		line = *nl ? nl + 1 : nl;
	}
	fail_msg("process %d maps no file named %s*", (int)pid, prefix);
	return NULL;
}

const char *e2e_copy_file(const char *src, const char *dir, const char *name)
{
	const char *dst = e2e_fmt("%s/%s", dir, name);
	const char *argv[] = { "cp", "-p", src, dst, NULL };
	struct e2e_run r = run_argv(argv, 60);

	if (r.status != 0)
		fail_msg("cp %s %s failed (%d): %s", src, dst, r.status, r.err);
	return dst;
}

void e2e_agent_wait_log(struct e2e_agent *a, const char *needle, double timeout)
{
	double end = e2e_mono() + timeout;

	while (!strstr(e2e_agent_log(a), needle)) {
		if (e2e_mono() > end)
			fail_msg("agent log: no \"%s\" within %.1f s:\n%s", needle, timeout,
				 e2e_tail(e2e_agent_log(a), 4000));
		e2e_sleep(0.05);
	}
}

int e2e_agent_log_count(struct e2e_agent *a, const char *needle)
{
	return e2e_count_str(e2e_agent_log(a), needle);
}
