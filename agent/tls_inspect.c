// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "elf_file.h"
#include "tls_inspect.h"

#define LIBSSL_PREFIX "libssl.so"

const char *tls_kind_name(enum tls_kind k)
{
	switch (k) {
	case TLS_KIND_OPENSSL_DYN:
		return "openssl-dyn";
	case TLS_KIND_OPENSSL_STATIC:
		return "openssl-static";
	case TLS_KIND_GO:
		return "go";
	default:
		return "none";
	}
}

bool tls_is_libssl_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strncmp(base ? base + 1 : path, LIBSSL_PREFIX, strlen(LIBSSL_PREFIX));
}

static void detail(struct tls_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void detail(struct tls_target *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->detail, sizeof(t->detail), fmt, ap);
	va_end(ap);
}

static void skip(struct tls_target *t, enum tls_kind kind, const char *why)
{
	t->verdict = TLS_SKIP;
	t->kind = kind;
	t->n_probes = 0;
	detail(t, "%s", why);
}

static int add_probe(struct tls_target *t, enum tls_prog prog, uint64_t off)
{
	if (t->n_probes >= TLS_PROBES_MAX)
		return -E2BIG;
	t->probes[t->n_probes].prog = prog;
	t->probes[t->n_probes].off = off;
	t->n_probes++;
	return 0;
}

/* "OpenSSL 3.0.15+quic  3 Sep 2024" in the read-only data: the version
 * OpenSSL reports (BoringSSL: "OpenSSL 1.1.1 (compatible; BoringSSL)"),
 * there when the program asks for it. Writes the version word into out;
 * false when there is none. */
static bool openssl_version_text(const uint8_t *ro, size_t size, char *out, size_t n)
{
	static const char mark[] = "OpenSSL ";
	const uint8_t *p = ro, *end = ro + size;
	size_t i, dots;

	while (ro && p < end) {
		p = memmem(p, end - p, mark, sizeof(mark) - 1);
		if (!p)
			break;
		p += sizeof(mark) - 1;
		/* a version, X.Y.Z: not prose like "OpenSSL 3.0 legacy" */
		for (i = 0, dots = 0; p + i < end && p[i] > ' ' && p[i] < 0x7f; i++)
			dots += p[i] == '.';
		if (dots < 2 || p[0] < '0' || p[0] > '9')
			continue;
		if (i >= n)
			i = n - 1;
		memcpy(out, p, i);
		out[i] = '\0';
		if (memmem(p, end - p > 64 ? 64 : end - p, "BoringSSL", 9))
			snprintf(out + i, n - i, " (BoringSSL)");
		return true;
	}
	return false;
}

/* OpenSSL or BoringSSL is linked in: its version text, or the source file
 * names its errors carry ("ssl/ssl_lib.c", BoringSSL's "ssl_lib.cc"). */
static bool openssl_inside(struct elf_file *ef, char *version, size_t n)
{
	static const char mark[] = "ssl/ssl_lib.c";
	size_t size = 0;
	const uint8_t *ro = elf_file_section(ef, ".rodata", &size, NULL);

	if (!ro)
		return false;
	return openssl_version_text(ro, size, version, n) ||
	       memmem(ro, size, mark, sizeof(mark) - 1);
}

/* SSL_read and SSL_write, and the _ex forms where the library has them
 * (OpenSSL >= 1.1.1): a return probe and an entry probe each. */
static bool openssl_probes(struct elf_file *ef, struct tls_target *t)
{
	static const char *const names[] = { "SSL_read", "SSL_write", "SSL_read_ex",
					     "SSL_write_ex" };
	static const enum tls_prog progs[] = { TLS_PROG_SSL_READ, TLS_PROG_SSL_WRITE,
					       TLS_PROG_SSL_READ_EX, TLS_PROG_SSL_WRITE_EX };
	struct elf_sym syms[4];
	uint64_t off[4];
	int i;

	elf_file_symbols(ef, names, 4, syms);
	if (!syms[0].found || !syms[1].found)
		return false;
	for (i = 0; i < 4; i++) {
		if (syms[i].found && elf_file_offset(ef, syms[i].addr, &off[i]))
			return false;
	}
	/* returns first: an entry whose return is not probed yet would
	 * leave a call behind */
	t->n_probes = 0;
	for (i = 0; i < 4; i++)
		if (syms[i].found)
			add_probe(t, TLS_PROG_SSL_RETURN, off[i]);
	for (i = 0; i < 4; i++)
		if (syms[i].found)
			add_probe(t, progs[i], off[i]);
	detail(t, "SSL_read, SSL_write%s from %s", syms[2].found ? ", SSL_read_ex, SSL_write_ex" : "",
	       syms[0].from_symtab ? ".symtab" : ".dynsym");
	return true;
}

/* "libssl.so.3" → "3", "libssl.so.1.1" → "1.1" */
static void soname_version(const char *path, char *out, size_t n)
{
	const char *v = strstr(path, LIBSSL_PREFIX ".");

	snprintf(out, n, "%s", v ? v + strlen(LIBSSL_PREFIX ".") : "");
}

int tls_inspect(const char *path, const char *name, bool is_libssl, struct tls_target *t)
{
	struct elf_file *ef;
	int err;

	memset(t, 0, sizeof(*t));
	err = elf_file_open(path, &ef);
	if (err) {
		if (is_libssl || err != -ENOEXEC) {
			skip(t, is_libssl ? TLS_KIND_OPENSSL_DYN : TLS_KIND_NONE, "");
			detail(t, "cannot read it: %s", strerror(-err));
		}
		return err;
	}
	if (openssl_probes(ef, t)) {
		t->verdict = TLS_PROBE;
		if (is_libssl) {
			t->kind = TLS_KIND_OPENSSL_DYN;
			soname_version(name, t->version, sizeof(t->version));
		} else {
			t->kind = TLS_KIND_OPENSSL_STATIC;
			openssl_inside(ef, t->version, sizeof(t->version));
		}
	} else if (is_libssl) {
		skip(t, TLS_KIND_OPENSSL_DYN, "no SSL_read/SSL_write symbols");
	} else if (!elf_file_has_symtab(ef) && !elf_file_needs(ef, LIBSSL_PREFIX) &&
		   openssl_inside(ef, t->version, sizeof(t->version))) {
		/* the library is in there, but nothing says where */
		skip(t, TLS_KIND_OPENSSL_STATIC,
		     "OpenSSL linked in but stripped: no symbol table to find SSL_read/SSL_write, its TLS traffic is not seen");
	}
	elf_file_close(ef);
	return 0;
}
