/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Go executables: the version from the build info, crypto/tls functions
 * through .symtab and through the pclntab of a stripped build, their RET
 * instructions against objdump, and corrupted copies that must be refused
 * without a crash. The Go program is tests/e2e/peers/gotls.go, built here
 * with the installed Go (GOPROXY=off, the standard library only). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_file.h"
#include "go_elf.h"
#include "tls_inspect.h"

static char dir[] = "/tmp/xtap-unit-go-XXXXXX";
static char bin[128], stripped[128], goversion[32];
static const char *const names[] = { "crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write" };

/* Run a shell command (bounded by timeout(1)); its first output line. */
static void run(const char *cmd, char *out, size_t n)
{
	char full[1024], line[256] = "";
	FILE *f;

	snprintf(full, sizeof(full),
		 "cd '%s' && env GOPROXY=off GOFLAGS=-mod=mod GOCACHE=/tmp/xtap-e2e-gocache "
		 "GOPATH=/tmp/xtap-e2e-gopath CGO_ENABLED=0 GO111MODULE= timeout 300 %s 2>&1",
		 dir, cmd);
	f = popen(full, "r");
	if (!f)
		fail_msg("popen: %s", strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	while (fgetc(f) != EOF)
		;
	if (pclose(f) != 0)
		fail_msg("%s failed: %s", cmd, line);
	if (out)
		snprintf(out, n, "%.*s", (int)strcspn(line, "\n"), line);
}

static int build(void **state)
{
	char src[PATH_MAX], cmd[PATH_MAX + 256];

	(void)state;
	if (!mkdtemp(dir) || !realpath("tests/e2e/peers/gotls.go", src))
		fail_msg("temp dir or tests/e2e/peers/gotls.go (run from the repository root): %s",
			 strerror(errno));
	snprintf(bin, sizeof(bin), "%s/gotls", dir);
	snprintf(stripped, sizeof(stripped), "%s/gotls.stripped", dir);
	snprintf(cmd, sizeof(cmd), "go build -o '%s' '%s'", bin, src);
	run(cmd, NULL, 0);
	snprintf(cmd, sizeof(cmd), "go build -ldflags='-s -w' -o '%s' '%s'", stripped, src);
	run(cmd, NULL, 0);
	run("go env GOVERSION", goversion, sizeof(goversion));
	return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int cleanup(void **state)
{
	(void)state;
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void test_version(void **state)
{
	struct elf_file *ef;
	char v[32];
	int major, minor;

	(void)state;
	assert_int_equal(elf_file_open(stripped, &ef), 0);
	assert_int_equal(go_elf_version(ef, v, sizeof(v)), 0);
	assert_string_equal(v, goversion);
	assert_true(go_version_parse(v, &major, &minor));
	assert_int_equal(major, 1);
	assert_true(minor >= 17);
	elf_file_close(ef);

	assert_false(go_version_parse("devel +abc", &major, &minor));
	/* a C program is not Go */
	assert_int_equal(elf_file_open("/proc/self/exe", &ef), 0);
	assert_int_equal(go_elf_version(ef, v, sizeof(v)), -ENOENT);
	elf_file_close(ef);
}

/* The RET addresses objdump shows in a function of the unstripped build. */
static int objdump_rets(const char *fn, uint64_t *addrs, int max)
{
	char cmd[512], line[512];
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '--disassemble=%s' '%s'", fn, bin);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		uint64_t a;
		char m[16];

		if (sscanf(line, " %" SCNx64 ": %15s", &a, m) == 2 && !strcmp(m, "ret") && n < max)
			addrs[n++] = a;
	}
	assert_int_equal(pclose(f), 0);
	return n;
}

static void test_funcs_and_rets(void **state)
{
	struct elf_file *full, *str;
	struct go_func a[2], b[2];

	(void)state;
	assert_int_equal(elf_file_open(bin, &full), 0);
	assert_int_equal(elf_file_open(stripped, &str), 0);
	assert_true(elf_file_has_symtab(full));
	assert_false(elf_file_has_symtab(str));
	assert_int_equal(go_elf_funcs(full, names, 2, a), 2);
	assert_int_equal(go_elf_funcs(str, names, 2, b), 2);
	for (int i = 0; i < 2; i++) {
		uint64_t ra[TLS_PROBES_MAX], rb[TLS_PROBES_MAX], want[TLS_PROBES_MAX];
		int na, nb, nw;

		assert_true(a[i].from_symtab);
		assert_false(b[i].from_symtab);
		/* -s -w drops symbols, not code: the same addresses */
		assert_int_equal(a[i].entry, b[i].entry);
		/* the pclntab's end runs to the next function, padding included */
		assert_true(b[i].end >= a[i].end && b[i].end - a[i].end < 64);
		na = go_elf_rets(full, &a[i], ra, TLS_PROBES_MAX);
		nb = go_elf_rets(str, &b[i], rb, TLS_PROBES_MAX);
#if defined(__x86_64__)
		nw = objdump_rets(names[i], want, TLS_PROBES_MAX);
#else
		nw = na;
#endif
		assert_true(nw > 0);
		assert_int_equal(na, nw);
		assert_int_equal(nb, nw);
		for (int k = 0; k < nw; k++) {
			uint64_t off;

			assert_int_equal(elf_file_offset(full, want[k], &off), 0);
			assert_int_equal(ra[k], off);
		}
		/* too small a buffer is an error, never an overrun */
		assert_int_equal(go_elf_rets(full, &a[i], ra, na - 1), -E2BIG);
	}
	elf_file_close(full);
	elf_file_close(str);
}

static void test_inspect(void **state)
{
	struct tls_target t;

	(void)state;
	assert_int_equal(tls_inspect(bin, bin, false, &t), 0);
	assert_int_equal(t.verdict, TLS_PROBE);
	assert_int_equal(t.kind, TLS_KIND_GO);
	assert_string_equal(t.version, goversion);
	assert_non_null(strstr(t.detail, "from .symtab"));
	/* an HTTP server and client: net/http's four probes come last */
	assert_non_null(strstr(t.detail, "; net/http"));
	assert_int_equal(t.probes[t.n_probes - 4].prog, TLS_PROG_GO_HTTP_SERVE);
	assert_int_equal(t.probes[t.n_probes - 3].prog, TLS_PROG_GO_HTTP_FINISH);
	assert_int_equal(t.probes[t.n_probes - 2].prog, TLS_PROG_GO_HTTP_ROUNDTRIP);
	assert_int_equal(t.probes[t.n_probes - 1].prog, TLS_PROG_GO_HTTP_REQ_WRITE);
	/* every RET, then the two entries */
	assert_int_equal(t.probes[t.n_probes - 6].prog, TLS_PROG_GO_READ);
	assert_int_equal(t.probes[t.n_probes - 5].prog, TLS_PROG_GO_WRITE);
	for (int i = 0; i < t.n_probes - 6; i++)
		assert_int_equal(t.probes[i].prog, TLS_PROG_GO_RETURN);

	assert_int_equal(tls_inspect(stripped, stripped, false, &t), 0);
	assert_int_equal(t.verdict, TLS_PROBE);
	assert_non_null(strstr(t.detail, "from .gopclntab"));
}

/* A copy of the stripped build with bytes of a section overwritten. */
static const char *corrupt(const char *section, size_t at, const void *bytes, size_t n)
{
	static char path[160];
	char cmd[512];
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *e;
	int fd;

	snprintf(path, sizeof(path), "%s/corrupt", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", stripped, path);
	run(cmd, NULL, 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(e, shstrndx, sh.sh_name), section)) {
			assert_int_equal(pwrite(fd, bytes, n, (off_t)(sh.sh_offset + at)), (ssize_t)n);
			break;
		}
	}
	assert_non_null(scn);
	elf_end(e);
	close(fd);
	return path;
}

static void test_corrupt_inputs(void **state)
{
	static const uint8_t ones[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t zero[4] = { 0 };
	struct tls_target t;
	struct elf_file *ef;
	struct go_func f[2];
	char v[32];

	(void)state;
	/* pclntab: a huge function count, then a name table past the end */
	assert_int_equal(tls_inspect(corrupt(".gopclntab", 8, ones, 8), "c", false, &t), 0);
	assert_int_not_equal(t.verdict, TLS_PROBE);
	assert_int_equal(tls_inspect(corrupt(".gopclntab", 8 + 3 * 8, ones, 8), "c", false, &t), 0);
	assert_int_not_equal(t.verdict, TLS_PROBE);
	/* a magic no Go version has */
	assert_int_equal(elf_file_open(corrupt(".gopclntab", 0, zero, 4), &ef), 0);
	assert_int_equal(go_elf_funcs(ef, names, 2, f), 0);
	elf_file_close(ef);
	/* build info: bad magic, then a string length past the end */
	assert_int_equal(elf_file_open(corrupt(".go.buildinfo", 0, zero, 4), &ef), 0);
	assert_int_equal(go_elf_version(ef, v, sizeof(v)), -EINVAL);
	elf_file_close(ef);
	assert_int_equal(elf_file_open(corrupt(".go.buildinfo", 32, ones, 8), &ef), 0);
	assert_int_equal(go_elf_version(ef, v, sizeof(v)), -EINVAL);
	elf_file_close(ef);
	/* an unknown version: not probed, and said why */
	assert_int_equal(tls_inspect(corrupt(".go.buildinfo", 0, zero, 4), "c", false, &t), 0);
	assert_int_equal(t.verdict, TLS_SKIP);
	assert_non_null(strstr(t.detail, "version"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_funcs_and_rets),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_corrupt_inputs),
	};

	return cmocka_run_group_tests(tests, build, cleanup);
}
