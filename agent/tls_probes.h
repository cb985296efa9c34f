/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TLS probes, per file: which processes use which TLS library (their
 * /proc/PID/maps, at start and after exec or a libssl mapping), the probes
 * attached once per library or executable for all processes, released when
 * the last process using the file is gone; and the report of what was
 * attached and what was skipped, and why.
 *
 * The event loop owns it (start, record, tick, stop); the report functions
 * may be called from any thread. */
#ifndef XTAP_TLS_PROBES_H
#define XTAP_TLS_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tls_inspect.h"

/* Files with probes or a reported reason at once (each holds up to
 * TLS_PROBES_MAX links): past it a new one is not looked at (counted). */
#define TLS_FILES_MAX 256
/* Processes using a TLS file, or waiting to be looked at, at once. */
#define TLS_PROCS_MAX 16384
/* TLS files one process maps: libssl.so.3, libssl.so.1.1, its executable… */
#define TLS_PROC_FILES 4
/* Files known to hold no TLS library, so each is read once (a direct-mapped
 * cache: a collision costs a second read). */
#define TLS_NONE_CACHE 4096
/* A process is looked at this long after its exec or libssl mapping (the
 * loader maps several libraries in a row), and never later than
 * TLS_SCAN_DELAY_MAX_NS after the first of those events: the bound on how
 * late the first user of a library is probed. */
#define TLS_SCAN_DEBOUNCE_NS (20ull * 1000000)
#define TLS_SCAN_DELAY_MAX_NS (200ull * 1000000)

struct bpf_link;

/* Attach prog at file offset off of path for all processes: the link or
 * NULL with errno set. */
typedef struct bpf_link *(*tls_attach_fn)(void *ctx, enum tls_prog prog, const char *path,
					   uint64_t off);
typedef void (*tls_detach_fn)(void *ctx, struct bpf_link *link);

struct tls_probes_config {
	tls_attach_fn attach;
	tls_detach_fn detach;
	void *ctx;
	const uint32_t *pids; /* --pid: only these processes are looked at */
	int n_pids;
	uint32_t self; /* never looked at */
};

/* Look at every running process (bounded by TLS_PROCS_MAX) and attach what
 * they use. 0 or -errno (reported). */
int tls_probes_start(const struct tls_probes_config *c, uint64_t now_ns);
/* A ring buffer record: MAP_EXEC is taken (returns true), EXEC and EXIT
 * are noted and left for the connection table too (false). */
bool tls_probes_record(const void *rec, size_t size, uint64_t now_ns);
/* Look at the processes whose time has come; now and then, forget the ones
 * that are gone without an EXIT record. */
void tls_probes_tick(uint64_t now_ns);
/* Detach everything. */
void tls_probes_stop(void);

/* ---- the report ---- */

struct tls_file_info {
	const char *path; /* as the first process that used it names it */
	const char *kind; /* "openssl-dyn", "openssl-static", "go" */
	const char *version; /* "" when unknown */
	const char *detail; /* which symbols; when skipped, why */
	uint64_t dev, ino;
	int probes; /* attached now */
	int users; /* processes mapping it now */
	bool attached;
	bool skipped; /* a TLS library that cannot be probed: detail says why */
};

typedef void (*tls_file_fn)(const struct tls_file_info *f, void *ctx);
/* Each file with probes or a reason, attached first. Any thread. */
void tls_probes_foreach(tls_file_fn fn, void *ctx);
/* The same as a JSON document {"files":[{"path", "kind", "version",
 * "state": "attached"|"idle"|"skipped", "detail", "probes", "users", "dev",
 * "inode"}…], "processes": N}; malloc'd,
 * NUL-terminated, length in *len; NULL with errno set. Any thread. */
char *tls_probes_json(size_t *len);

#endif /* XTAP_TLS_PROBES_H */
