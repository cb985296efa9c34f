/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TLS probe discovery without BPF: /proc/PID/maps parsing, what tls_inspect
 * finds in real files (the libssl this very process maps, through libcurl),
 * and the per-file bookkeeping of tls_probes with a recording attach. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "counters.h"
#include "proc_maps.h"
#include "tls_inspect.h"
#include "tls_probes.h"
#include "../include/xtap.h"

/* ---- maps lines ---- */

static void test_maps_parse(void **state)
{
	struct maps_entry e;

	(void)state;
	assert_int_equal(proc_maps_parse("7f1a2b3c4000-7f1a2b3c8000 r-xp 00022000 fd:01 131842    "
					 "/usr/lib/x86_64-linux-gnu/libssl.so.3\n",
					 &e),
			 0);
	assert_true(e.start == 0x7f1a2b3c4000 && e.end == 0x7f1a2b3c8000);
	assert_true(e.exec);
	assert_false(e.deleted);
	assert_true(e.dev == makedev(0xfd, 1));
	assert_true(e.ino == 131842);
	assert_string_equal(e.path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");

	assert_int_equal(proc_maps_parse("00400000-00401000 r--p 00000000 00:00 0 \n", &e), 0);
	assert_false(e.exec);
	assert_string_equal(e.path, "");

	assert_int_equal(proc_maps_parse("00400000-00452000 r-xp 00000000 08:02 173521     "
					 "/tmp/my server (deleted)",
					 &e),
			 0);
	assert_true(e.deleted);
	assert_string_equal(e.path, "/tmp/my server");

	assert_int_equal(proc_maps_parse("not a maps line\n", &e), -EINVAL);
	assert_int_equal(proc_maps_parse("0-1 r-xp zz 08:02 1 /x", &e), -EINVAL);
}

static void test_libssl_names(void **state)
{
	(void)state;
	assert_true(tls_is_libssl_name("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
	assert_true(tls_is_libssl_name("/opt/lib/libssl.so.1.1"));
	assert_true(tls_is_libssl_name("libssl.so"));
	assert_false(tls_is_libssl_name("/usr/lib/libssl3.so")); /* NSS */
	assert_false(tls_is_libssl_name("/usr/lib/libcrypto.so.3"));
	assert_false(tls_is_libssl_name("/usr/bin/libssl"));
}

/* ---- inspecting real files ---- */

struct mapped {
	char path[PATH_MAX];
	char open_path[96];
};

static int find_libssl(const struct maps_entry *e, void *ctx)
{
	struct mapped *m = ctx;

	if (!tls_is_libssl_name(e->path))
		return 0;
	snprintf(m->path, sizeof(m->path), "%s", e->path);
	snprintf(m->open_path, sizeof(m->open_path), "/proc/self/map_files/%" PRIx64 "-%" PRIx64,
		 e->start, e->end);
	return 1;
}

/* The file offset of a function this process has loaded, worked out from
 * where it sits in memory: its mapping's start and file offset. */
static uint64_t loaded_offset(void *fn)
{
	uint64_t addr = (uint64_t)(uintptr_t)fn, off = UINT64_MAX;
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, foff;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &start, &end, &foff) == 3 &&
		    addr >= start && addr < end)
			off = addr - start + foff;
	}
	free(line);
	fclose(f);
	assert_true(off != UINT64_MAX);
	return off;
}

static struct mapped self_libssl;

static int setup_libssl(void **state)
{
	(void)state;
	/* libcurl, linked into every agent object, brings in libssl */
	if (proc_maps_exec_files(getpid(), find_libssl, &self_libssl) != 1)
		fail_msg("this process maps no libssl.so* (is libcurl built on OpenSSL?)");
	return 0;
}

static void test_inspect_libssl(void **state)
{
	static const char *const names[] = { "SSL_read", "SSL_write", "SSL_read_ex",
					     "SSL_write_ex" };
	static const enum tls_prog progs[] = { TLS_PROG_SSL_READ, TLS_PROG_SSL_WRITE,
					       TLS_PROG_SSL_READ_EX, TLS_PROG_SSL_WRITE_EX };
	struct tls_target t;
	void *h;

	(void)state;
	assert_int_equal(tls_inspect(self_libssl.open_path, self_libssl.path, true, &t), 0);
	assert_int_equal(t.verdict, TLS_PROBE);
	assert_int_equal(t.kind, TLS_KIND_OPENSSL_DYN);
	assert_string_equal(t.version, strstr(self_libssl.path, "libssl.so.") + 10);
	assert_non_null(strstr(t.detail, ".dynsym"));
	assert_int_equal(t.n_probes, 8);
	h = dlopen(self_libssl.path, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	for (int i = 0; i < 4; i++) {
		uint64_t off = loaded_offset(dlsym(h, names[i]));

		/* a return probe first, then its entry, on the same offset */
		assert_int_equal(t.probes[i].prog, TLS_PROG_SSL_RETURN);
		assert_int_equal(t.probes[i].off, off);
		assert_int_equal(t.probes[4 + i].prog, progs[i]);
		assert_int_equal(t.probes[4 + i].off, off);
	}
	dlclose(h);
}

static void test_inspect_no_tls(void **state)
{
	struct tls_target t;

	(void)state;
	/* this test program: symbols, no TLS library of its own */
	assert_int_equal(tls_inspect("/proc/self/exe", "test", false, &t), 0);
	assert_int_equal(t.verdict, TLS_NONE);
	/* not ELF */
	assert_int_equal(tls_inspect("/proc/self/maps", "maps", false, &t), -ENOEXEC);
	assert_int_equal(t.verdict, TLS_NONE);
}

static void test_inspect_unreadable_libssl(void **state)
{
	struct tls_target t;

	(void)state;
	assert_int_equal(tls_inspect("/nonexistent/libssl.so.3", "/nonexistent/libssl.so.3", true, &t),
			 -ENOENT);
	assert_int_equal(t.verdict, TLS_SKIP);
	assert_non_null(strstr(t.detail, "cannot read"));
	/* a libssl without the functions */
	assert_int_equal(tls_inspect("/proc/self/exe", "/x/libssl.so.9", true, &t), 0);
	assert_int_equal(t.verdict, TLS_SKIP);
	assert_string_equal(t.detail, "no SSL_read/SSL_write symbols");
}

/* ---- the bookkeeping, with a recording attach ---- */

#define CALLS_MAX 64

struct rec {
	int attaches, detaches, fail_at;
	enum tls_prog prog[CALLS_MAX];
	uint64_t off[CALLS_MAX];
	uintptr_t detached[CALLS_MAX];
};

static struct rec rec;

static struct bpf_link *fake_attach(void *ctx, enum tls_prog prog, const char *path, uint64_t off)
{
	(void)ctx;
	assert_non_null(strstr(path, "/map_files/"));
	if (rec.attaches + 1 == rec.fail_at) {
		errno = EPERM;
		return NULL;
	}
	rec.prog[rec.attaches] = prog;
	rec.off[rec.attaches] = off;
	rec.attaches++;
	return (struct bpf_link *)(uintptr_t)rec.attaches; /* never dereferenced */
}

static void fake_detach(void *ctx, struct bpf_link *link)
{
	(void)ctx;
	rec.detached[rec.detaches++] = (uintptr_t)link;
}

static int fresh(void **state)
{
	(void)state;
	memset(&rec, 0, sizeof(rec));
	memset(&xtap_ctr, 0, sizeof(xtap_ctr));
	return 0;
}

static int stop(void **state)
{
	(void)state;
	tls_probes_stop();
	return 0;
}

static void start_self(uint32_t *pid)
{
	struct tls_probes_config c = { .attach = fake_attach, .detach = fake_detach,
				       .pids = pid, .n_pids = 1 };

	*pid = getpid();
	assert_int_equal(tls_probes_start(&c, 1), 0);
}

static void exit_record(uint32_t pid)
{
	struct xtap_ev_hdr h = { .type = XTAP_EV_EXIT, .tgid = pid, .tid = pid, .fd = -1 };

	assert_false(tls_probes_record(&h, sizeof(h), 2));
}

static json_t *report(void)
{
	size_t len = 0;
	char *s = tls_probes_json(&len);
	json_error_t err;
	json_t *j;

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	j = json_loads(s, 0, &err);
	if (!j)
		fail_msg("report is not JSON (%s): %s", err.text, s);
	free(s);
	return j;
}

static void test_attach_once_release_at_exit(void **state)
{
	struct tls_target t;
	uint32_t pid;
	json_t *j, *f;

	(void)state;
	assert_int_equal(tls_inspect(self_libssl.open_path, self_libssl.path, true, &t), 0);
	start_self(&pid);
	assert_int_equal(rec.attaches, t.n_probes);
	for (int i = 0; i < t.n_probes; i++) {
		assert_int_equal(rec.prog[i], t.probes[i].prog);
		assert_int_equal(rec.off[i], t.probes[i].off);
	}
	assert_int_equal(xtap_ctr.tls_attached, 1);

	j = report();
	assert_int_equal(json_integer_value(json_object_get(j, "processes")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "files")), 1);
	f = json_array_get(json_object_get(j, "files"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "path")), self_libssl.path);
	assert_string_equal(json_string_value(json_object_get(f, "kind")), "openssl-dyn");
	assert_string_equal(json_string_value(json_object_get(f, "state")), "attached");
	assert_int_equal(json_integer_value(json_object_get(f, "probes")), t.n_probes);
	assert_int_equal(json_integer_value(json_object_get(f, "users")), 1);
	json_decref(j);

	/* an exec looks again, later: nothing changes while the mapping stays */
	{
		struct xtap_ev_hdr h = { .type = XTAP_EV_EXEC, .tgid = pid, .tid = pid };

		/* noted, and left for the connection table */
		assert_false(tls_probes_record(&h, sizeof(h), 10));
		tls_probes_tick(10); /* not due yet */
		assert_int_equal(xtap_ctr.tls_scans, 1);
		tls_probes_tick(10 + TLS_SCAN_DELAY_MAX_NS);
		assert_int_equal(xtap_ctr.tls_scans, 2);
		assert_int_equal(rec.attaches, t.n_probes);
		assert_int_equal(rec.detaches, 0);
	}

	/* the last user exits: every link goes, entries before returns */
	exit_record(pid);
	assert_int_equal(rec.detaches, t.n_probes);
	for (int i = 0; i < t.n_probes; i++)
		assert_int_equal(rec.detached[i], (uintptr_t)(t.n_probes - i));
	assert_int_equal(xtap_ctr.tls_detached, 1);
	j = report();
	f = json_array_get(json_object_get(j, "files"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "state")), "idle");
	assert_int_equal(json_integer_value(json_object_get(f, "users")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "processes")), 0);
	json_decref(j);
}

static void test_attach_failure_is_reported_once(void **state)
{
	uint32_t pid;
	json_t *j, *f;

	(void)state;
	rec.fail_at = 3;
	start_self(&pid);
	/* two attached, then undone */
	assert_int_equal(rec.attaches, 2);
	assert_int_equal(rec.detaches, 2);
	assert_int_equal(xtap_ctr.tls_attached, 0);
	assert_int_equal(xtap_ctr.tls_skipped, 1);
	j = report();
	f = json_array_get(json_object_get(j, "files"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "state")), "skipped");
	assert_non_null(strstr(json_string_value(json_object_get(f, "detail")),
			       strerror(EPERM)));
	json_decref(j);
	/* looked at again: not attached again, not reported again */
	{
		struct xtap_ev_hdr h = { .type = XTAP_EV_MAP_EXEC, .tgid = pid, .tid = pid };

		exit_record(pid);
		assert_true(tls_probes_record(&h, sizeof(h), 10));
		tls_probes_tick(10 + TLS_SCAN_DELAY_MAX_NS);
	}
	assert_int_equal(rec.attaches, 2);
	assert_int_equal(xtap_ctr.tls_skipped, 1);
}

/* --pid: other processes are never looked at. */
static void test_scope_pids(void **state)
{
	uint32_t other = 999999999; /* no such process */
	struct tls_probes_config c = { .attach = fake_attach, .detach = fake_detach,
				       .pids = &other, .n_pids = 1 };
	struct xtap_ev_hdr h = { .type = XTAP_EV_EXEC };
	json_t *j;

	(void)state;
	assert_int_equal(tls_probes_start(&c, 1), 0);
	h.tgid = h.tid = getpid();
	assert_false(tls_probes_record(&h, sizeof(h), 10));
	tls_probes_tick(10 + TLS_SCAN_DELAY_MAX_NS);
	assert_int_equal(rec.attaches, 0);
	j = report();
	assert_int_equal(json_array_size(json_object_get(j, "files")), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_parse),
		cmocka_unit_test(test_libssl_names),
		cmocka_unit_test(test_inspect_libssl),
		cmocka_unit_test(test_inspect_no_tls),
		cmocka_unit_test(test_inspect_unreadable_libssl),
		cmocka_unit_test_setup_teardown(test_attach_once_release_at_exit, fresh, stop),
		cmocka_unit_test_setup_teardown(test_attach_failure_is_reported_once, fresh, stop),
		cmocka_unit_test_setup_teardown(test_scope_pids, fresh, stop),
	};

	return cmocka_run_group_tests(tests, setup_libssl, NULL);
}
