// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Layouts from the Go distribution's own readers: debug/buildinfo
 * (buildinfo.go) and debug/gosym (pclntab.go). Every read is bounds
 * checked: the file may be anything. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "go_elf.h"
#include "x86_insn.h"

#define BUILDINFO_MAGIC "\xff Go buildinf:"
#define BUILDINFO_HDR 32
#define BUILDINFO_INLINE 2 /* flags: strings follow the header (Go 1.18+) */
#define BUILDINFO_BIG_ENDIAN 1
#define PCLN_MAGIC_116 0xfffffffau
#define PCLN_MAGIC_118 0xfffffff0u
#define PCLN_MAGIC_120 0xfffffff1u
#define FUNC_NAME_MAX 512
#define ARM64_RET 0xd65f03c0u /* ret x30 */

static uint64_t le(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- version ---- */

static size_t uvarint(const uint8_t *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

static int copy_version(const uint8_t *s, uint64_t len, char *out, size_t n)
{
	if (!len || len >= n || len > 64)
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return strncmp(out, "go", 2) ? -EINVAL : 0;
}

int go_elf_version(struct elf_file *ef, char *out, size_t n)
{
	size_t size = 0, k;
	const uint8_t *d = elf_file_section(ef, ".go.buildinfo", &size, NULL);
	const uint8_t *hdr, *s;
	unsigned int ptr;
	uint64_t len;

	if (!d)
		return -ENOENT;
	if (size < BUILDINFO_HDR || memcmp(d, BUILDINFO_MAGIC, sizeof(BUILDINFO_MAGIC) - 1))
		return -EINVAL;
	ptr = d[14];
	if (d[15] & BUILDINFO_INLINE) {
		k = uvarint(d + BUILDINFO_HDR, size - BUILDINFO_HDR, &len);
		if (!k || len > size - BUILDINFO_HDR - k)
			return -EINVAL;
		return copy_version(d + BUILDINFO_HDR + k, len, out, n);
	}
	/* before 1.18: the address of runtime.buildVersion, a Go string */
	if ((d[15] & BUILDINFO_BIG_ENDIAN) || (ptr != 4 && ptr != 8))
		return -EINVAL;
	hdr = elf_file_at(ef, le(d + 16, ptr), 2 * ptr);
	if (!hdr)
		return -EINVAL;
	len = le(hdr + ptr, ptr);
	s = len <= 64 ? elf_file_at(ef, le(hdr, ptr), len) : NULL;
	return s ? copy_version(s, len, out, n) : -EINVAL;
}

bool go_version_parse(const char *v, int *major, int *minor)
{
	return sscanf(v, "go%d.%d", major, minor) == 2;
}

/* ---- the pclntab ---- */

struct pcln {
	const uint8_t *d;
	size_t size;
	bool v118; /* 1.18+: 32-bit entry offsets from the text start */
	unsigned int ptr;
	uint64_t text;
	uint64_t nfunc;
	uint64_t nametab; /* offsets into d */
	uint64_t functab;
};

bool go_elf_has_pclntab(struct elf_file *ef)
{
	size_t size;

	return elf_file_section(ef, ".gopclntab", &size, NULL) != NULL;
}

static int pcln_open(struct elf_file *ef, struct pcln *t)
{
	uint64_t field_size, word_name, word_func;
	uint32_t magic;

	memset(t, 0, sizeof(*t));
	t->d = elf_file_section(ef, ".gopclntab", &t->size, NULL);
	if (!t->d || t->size < 64)
		return -ENOENT;
	magic = (uint32_t)le(t->d, 4);
	t->ptr = t->d[7];
	if (t->d[4] || t->d[5] || (t->ptr != 4 && t->ptr != 8))
		return -EINVAL;
	if (magic == PCLN_MAGIC_118 || magic == PCLN_MAGIC_120) {
		/* nfunc, nfiles, textStart, funcname, cu, file, pc, func */
		t->v118 = true;
		word_name = 3;
		word_func = 7;
		/* the text start is relocated at run time: the .text address */
		if (!elf_file_section(ef, ".text", &(size_t){ 0 }, &t->text))
			return -EINVAL;
	} else if (magic == PCLN_MAGIC_116) {
		word_name = 2; /* nfunc, nfiles, funcname, cu, file, pc, func */
		word_func = 6;
	} else {
		return -EINVAL; /* before 1.16: no register ABI anyway */
	}
	t->nfunc = le(t->d + 8, t->ptr);
	t->nametab = le(t->d + 8 + word_name * t->ptr, t->ptr);
	t->functab = le(t->d + 8 + word_func * t->ptr, t->ptr);
	field_size = t->v118 ? 4 : t->ptr;
	if (t->nametab >= t->size || t->functab >= t->size || !t->nfunc ||
	    t->nfunc > (t->size - t->functab) / (2 * field_size) - 1)
		return -EINVAL;
	return 0;
}

/* Entry of function i (i == nfunc: the end of the last one). */
static uint64_t pcln_entry(const struct pcln *t, uint64_t i)
{
	if (t->v118)
		return t->text + le(t->d + t->functab + i * 8, 4);
	return le(t->d + t->functab + i * 2 * t->ptr, t->ptr);
}

/* Name of function i, or NULL. */
static const char *pcln_name(const struct pcln *t, uint64_t i)
{
	uint64_t fo, name_field, nameoff;
	const char *s;

	if (t->v118)
		fo = le(t->d + t->functab + i * 8 + 4, 4);
	else
		fo = le(t->d + t->functab + (i * 2 + 1) * t->ptr, t->ptr);
	/* _func: entry (uint32 since 1.18, else uintptr), then int32 nameoff */
	name_field = t->functab + fo + (t->v118 ? 4 : t->ptr);
	if (fo >= t->size || name_field + 4 > t->size)
		return NULL;
	nameoff = le(t->d + name_field, 4);
	if (t->nametab + nameoff >= t->size)
		return NULL;
	s = (const char *)t->d + t->nametab + nameoff;
	return memchr(s, '\0', t->size - (t->nametab + nameoff)) ? s : NULL;
}

static int pcln_funcs(struct elf_file *ef, const char *const *names, int n, struct go_func *out)
{
	struct pcln t;
	int found = 0;

	if (pcln_open(ef, &t))
		return 0;
	for (uint64_t i = 0; i < t.nfunc && found < n; i++) {
		const char *s = pcln_name(&t, i);

		for (int k = 0; s && k < n; k++) {
			if (out[k].entry || strcmp(s, names[k]))
				continue;
			out[k].entry = pcln_entry(&t, i);
			out[k].end = pcln_entry(&t, i + 1);
			out[k].from_symtab = false;
			if (out[k].end > out[k].entry)
				found++;
			else
				out[k].entry = 0;
		}
	}
	return found;
}

int go_elf_funcs(struct elf_file *ef, const char *const *names, int n, struct go_func *out)
{
	struct elf_sym syms[8];
	int found = 0;

	if (n > 8)
		return -E2BIG;
	memset(out, 0, sizeof(*out) * n);
	if (elf_file_has_symtab(ef)) {
		elf_file_symbols(ef, names, n, syms);
		for (int k = 0; k < n; k++) {
			if (!syms[k].found || !syms[k].size)
				continue;
			out[k].entry = syms[k].addr;
			out[k].end = syms[k].addr + syms[k].size;
			out[k].from_symtab = true;
			found++;
		}
	}
	if (found < n)
		found += pcln_funcs(ef, names, n, out);
	return found;
}

/* ---- returns ---- */

/* go_elf_rets over the function's bytes */
static int scan_rets(struct elf_file *ef, const struct go_func *f, const uint8_t *code,
		     uint64_t len, uint64_t *offs, int max)
{
	uint64_t pos = 0;
	int n = 0;

	while (pos < len) {
		bool ret;
		unsigned int step;

		if (elf_file_machine(ef) == EM_X86_64) {
			struct x86_insn in;

			if (x86_insn_decode(code + pos, len - pos, &in))
				return -EINVAL;
			ret = in.ret;
			step = in.len;
		} else if (elf_file_machine(ef) == EM_AARCH64) {
			if (len - pos < 4)
				break;
			ret = le(code + pos, 4) == ARM64_RET;
			step = 4;
		} else {
			return -ENOTSUP;
		}
		if (ret) {
			if (n >= max)
				return -E2BIG;
			if (elf_file_offset(ef, f->entry + pos, &offs[n]))
				return -EINVAL;
			n++;
		}
		pos += step;
	}
	return n;
}

int go_elf_rets(struct elf_file *ef, const struct go_func *f, uint64_t *offs, int max)
{
	uint64_t len = f->end - f->entry;
	uint8_t *code;
	int n;

	if (f->end <= f->entry || len > (1u << 20))
		return -EINVAL;
	/* read, not mapped: a mapping would show the RETs other agents
	 * probe as breakpoints (elf_file_read_code) */
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	if (elf_file_read_code(ef, f->entry, code, len)) {
		free(code);
		return -EINVAL;
	}
	n = scan_rets(ef, f, code, len, offs, max);
	free(code);
	return n;
}
