/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which TLS library a file holds, and where its probes go: a dynamic
 * libssl, OpenSSL/BoringSSL linked into an executable, or Go crypto/tls. */
#ifndef XTAP_TLS_INSPECT_H
#define XTAP_TLS_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

/* The BPF programs a probe runs (bpf/tls.bpf.h). */
enum tls_prog {
	TLS_PROG_SSL_READ,
	TLS_PROG_SSL_WRITE,
	TLS_PROG_SSL_READ_EX,
	TLS_PROG_SSL_WRITE_EX,
	TLS_PROG_SSL_RETURN, /* a return probe */
	TLS_PROG_GO_READ,
	TLS_PROG_GO_WRITE,
	TLS_PROG_GO_RETURN, /* at a RET instruction */
	/* Go net/http: which request a call serves (bpf/go_http.bpf.h) */
	TLS_PROG_GO_HTTP_SERVE,
	TLS_PROG_GO_HTTP_FINISH,
	TLS_PROG_GO_HTTP_ROUNDTRIP,
	TLS_PROG_GO_HTTP_REQ_WRITE,
};

enum tls_verdict {
	TLS_NONE = 0, /* no TLS library in it: nothing to report */
	TLS_PROBE, /* probes to attach */
	TLS_SKIP, /* a TLS library that cannot be probed: reported with the reason */
};

enum tls_kind {
	TLS_KIND_NONE = 0,
	TLS_KIND_OPENSSL_DYN, /* libssl.so.* */
	TLS_KIND_OPENSSL_STATIC, /* OpenSSL or BoringSSL inside an executable */
	TLS_KIND_GO, /* Go crypto/tls */
};

/* Probes on one file at most: OpenSSL needs 5; Go 2 entries and every RET
 * of Read and Write, and 4 on net/http. */
#define TLS_PROBES_MAX 56
#define TLS_VERSION_MAX 48
#define TLS_DETAIL_MAX 160

struct tls_probe {
	enum tls_prog prog;
	uint64_t off; /* file offset */
};

struct tls_target {
	enum tls_verdict verdict;
	enum tls_kind kind;
	char version[TLS_VERSION_MAX]; /* "3", "3.0.15+quic", "go1.19.8"; "" unknown */
	char detail[TLS_DETAIL_MAX]; /* where the symbols came from, or why skipped */
	int n_probes;
	struct tls_probe probes[TLS_PROBES_MAX]; /* return probes first */
};

/* Look at the file at path (opened through /proc/PID/map_files so it is the
 * process's file, whatever its mount namespace), known to the process as
 * name. is_libssl: mapped under a libssl.so name; else it is the process's
 * executable. Fills t; 0, or -errno when the file cannot be read (a
 * libssl then says TLS_SKIP and why). */
int tls_inspect(const char *path, const char *name, bool is_libssl, struct tls_target *t);
const char *tls_kind_name(enum tls_kind k);
/* A file name the dynamic OpenSSL library goes by: libssl.so, libssl.so.3… */
bool tls_is_libssl_name(const char *path);

#endif /* XTAP_TLS_INSPECT_H */
