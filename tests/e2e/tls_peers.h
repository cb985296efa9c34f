/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS peers for the end-to-end tests: a self-signed certificate made by the
 * test (the openssl command), and HTTPS servers on 127.0.0.1 built on
 * different TLS stacks (nginx: e2e_peer_nginx_ssl in harness.h). Everything is owned by the current harness scope,
 * and fails the test loudly when something is missing (see harness.h).
 */
#ifndef XTAP_E2E_TLS_PEERS_H
#define XTAP_E2E_TLS_PEERS_H

#include "harness.h"

struct e2e_cert {
	const char *cert; /* PEM, CN and subjectAltName 127.0.0.1 */
	const char *key;
};

/* A new self-signed certificate (P-256) in a temp dir. */
const struct e2e_cert *e2e_cert_new(void);
/* The same for another address (one of a network namespace the test made). */
const struct e2e_cert *e2e_cert_new_ip(const char *ip);
/* "https://127.0.0.1:PORT" + path; scope-owned. */
const char *e2e_https_url(int port, const char *path);
/* curl trusting cert (--cacert), HTTP/1.1, then args as e2e_curl. */
struct e2e_run e2e_curl_tls(const struct e2e_cert *c, const char *arg, ...)
	__attribute__((sentinel));

/* peers/https_server.py under python3 (http.server + ssl) on port (0: a
 * free one). libdir: a directory put first in LD_LIBRARY_PATH (a private
 * libssl), or NULL. */
struct e2e_peer *e2e_peer_python_tls(const struct e2e_cert *c, int port, const char *libdir);
/* peers/server.js serving HTTPS under the node binary at node (NULL: node
 * in PATH) on port (0: a free one). */
struct e2e_peer *e2e_peer_node_tls(const struct e2e_cert *c, int port, const char *node);

/* peers/tls_static.c built with OpenSSL linked in statically (libssl.a),
 * into dir/tls_static, and a stripped copy (strip -s) into
 * dir/tls_static.stripped. */
void e2e_build_tls_static(const char *dir);
/* dir/NAME PORT CERT KEY: a tls_static build, on port (0: a free one). */
struct e2e_peer *e2e_peer_tls_static(const struct e2e_cert *c, int port, const char *bin);

/* peers/gotls.go built with the standard library (GOPROXY=off) into
 * dir/gotls, and with -ldflags=-s -w (no .symtab: the pclntab only) into
 * dir/gotls.stripped. */
void e2e_build_gotls(const char *dir);
/* bin -addr 127.0.0.1:PORT -cert -key: a gotls server on port (0: free). */
struct e2e_peer *e2e_peer_gotls(const struct e2e_cert *c, int port, const char *bin);

/* A python3 that imported ssl and waits: it keeps the system libssl mapped,
 * so an agent started after it probes that file from its start (clients
 * such as curl, which live a few milliseconds, are then traced from their
 * first byte). Returns the library's path. */
const char *e2e_libssl_holder(void);

/* The path under which process pid maps a file whose name starts with
 * prefix (/proc/PID/maps); fails when none. Scope-owned. */
const char *e2e_proc_mapped(pid_t pid, const char *prefix);
/* Copy a file (mode kept) to dir/name; returns the new path. */
const char *e2e_copy_file(const char *src, const char *dir, const char *name);

/* Wait up to timeout for needle in the agent's log; fails with the log. */
void e2e_agent_wait_log(struct e2e_agent *a, const char *needle, double timeout);
/* Occurrences of needle in the agent's log so far. */
int e2e_agent_log_count(struct e2e_agent *a, const char *needle);

#endif /* XTAP_E2E_TLS_PEERS_H */
