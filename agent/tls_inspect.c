// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <elf.h>
#include "elf_file.h"
#include "go_elf.h"
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

/* Entry probes on the four net/http functions that say which request a
 * call serves (bpf/go_http.bpf.h): all or none. */
static bool go_http_probes(struct elf_file *ef, struct tls_target *t)
{
	static const char *const names[] = {
		"net/http.serverHandler.ServeHTTP", "net/http.(*response).finishRequest",
		"net/http.(*Transport).roundTrip", "net/http.(*Request).write",
	};
	static const enum tls_prog progs[] = { TLS_PROG_GO_HTTP_SERVE, TLS_PROG_GO_HTTP_FINISH,
					       TLS_PROG_GO_HTTP_ROUNDTRIP,
					       TLS_PROG_GO_HTTP_REQ_WRITE };
	struct go_func f[4] = {};
	uint64_t off[4];
	int n = t->n_probes;

	if (go_elf_funcs(ef, names, 4, f) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (!f[i].entry || elf_file_offset(ef, f[i].entry, &off[i]))
			return false;
	for (int i = 0; i < 4; i++)
		if (add_probe(t, progs[i], off[i])) {
			t->n_probes = n;
			return false;
		}
	return true;
}

/* crypto/tls's probes: every RET of Read and Write, then their entries.
 * false with t->detail saying why not (t->n_probes back to 0). */
static bool go_tls_probes(struct elf_file *ef, struct tls_target *t, const struct go_func *f,
			  const char *const *names, int *nret)
{
	uint64_t rets[TLS_PROBES_MAX];

	for (int i = 0; i < 2; i++) {
		nret[i] = go_elf_rets(ef, &f[i], rets, TLS_PROBES_MAX);
		if (nret[i] <= 0) {
			skip(t, TLS_KIND_GO, "");
			detail(t, "%s: %s", names[i],
			       nret[i] == 0 ? "no RET instruction found" : strerror(-nret[i]));
			return false;
		}
		for (int k = 0; k < nret[i]; k++)
			if (add_probe(t, TLS_PROG_GO_RETURN, rets[k])) {
				skip(t, TLS_KIND_GO, "too many RET instructions to probe");
				return false;
			}
	}
	for (int i = 0; i < 2; i++) {
		uint64_t off;

		if (elf_file_offset(ef, f[i].entry, &off) ||
		    add_probe(t, i ? TLS_PROG_GO_WRITE : TLS_PROG_GO_READ, off)) {
			skip(t, TLS_KIND_GO, "crypto/tls.(*Conn).Read/Write outside the code");
			return false;
		}
	}
	return true;
}

/* Go crypto/tls (*Conn).Read and Write, with the register ABI: an entry
 * probe each and a probe on every RET (a uretprobe would rewrite the
 * return address on a goroutine stack, which the Go runtime moves). Go's
 * register ABI came with 1.17 on amd64 and 1.18 on arm64 (the Go 1.17 and
 * 1.18 release notes). Returns false when the file is no Go program that
 * uses crypto/tls. */
static bool go_target(struct elf_file *ef, struct tls_target *t)
{
	static const char *const names[] = { "crypto/tls.(*Conn).Read",
					     "crypto/tls.(*Conn).Write" };
	int min_minor = elf_file_machine(ef) == EM_AARCH64 ? 18 : 17;
	int verr, found, major, minor;
	struct go_func f[2];
	int nret[2];

	verr = go_elf_version(ef, t->version, sizeof(t->version));
	if (verr == -ENOENT && !go_elf_has_pclntab(ef))
		return false;
	if (verr)
		t->version[0] = '\0';
	found = go_elf_funcs(ef, names, 2, f);
	if (!found) {
		if (elf_file_has_symtab(ef) || go_elf_has_pclntab(ef)) {
			t->version[0] = '\0';
			return false; /* no crypto/tls in it */
		}
		skip(t, TLS_KIND_GO, "Go program without symbols: no .symtab and no .gopclntab to find crypto/tls");
		return true;
	}
	if (found < 2) {
		skip(t, TLS_KIND_GO, "crypto/tls.(*Conn).Read or Write not found");
		return true;
	}
	if (verr || !go_version_parse(t->version, &major, &minor)) {
		skip(t, TLS_KIND_GO, "Go version unreadable (.go.buildinfo): the calling convention is unknown");
		return true;
	}
	if (major == 1 && minor < min_minor) {
		skip(t, TLS_KIND_GO, "");
		detail(t, "built before Go's register ABI (Go 1.%d on this architecture)", min_minor);
		return true;
	}
	t->n_probes = 0;
	if (go_tls_probes(ef, t, f, names, nret)) {
		t->verdict = TLS_PROBE;
		t->kind = TLS_KIND_GO;
		detail(t, "crypto/tls.(*Conn).Read, Write from %s, %d+%d returns%s",
		       f[0].from_symtab ? ".symtab" : ".gopclntab", nret[0], nret[1],
		       go_http_probes(ef, t) ? "; net/http" : "");
		return true;
	}
	/* its HTTP calls can still be linked to their requests */
	if (go_http_probes(ef, t)) {
		char why[TLS_DETAIL_MAX];

		snprintf(why, sizeof(why), "%s", t->detail);
		t->verdict = TLS_PROBE;
		t->kind = TLS_KIND_GO;
		detail(t, "net/http only; HTTPS not traced: %.120s", why);
	}
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
	} else if (go_target(ef, t)) {
		/* t says what */
	} else if (!elf_file_has_symtab(ef) && !elf_file_needs(ef, LIBSSL_PREFIX) &&
		   openssl_inside(ef, t->version, sizeof(t->version))) {
		/* the library is in there, but nothing says where */
		skip(t, TLS_KIND_OPENSSL_STATIC,
		     "OpenSSL linked in but stripped: no symbol table to find SSL_read/SSL_write, its TLS traffic is not seen");
	}
	elf_file_close(ef);
	return 0;
}
