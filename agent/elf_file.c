// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf_file.h"

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
	bool has_symtab;
};

int elf_file_open(const char *path, struct elf_file **out)
{
	struct elf_file *ef;
	Elf_Scn *scn = NULL;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = -errno;
		free(ef);
		return err;
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->ehdr) ||
	    elf_getshdrstrndx(ef->elf, &ef->shstrndx)) {
		elf_file_close(ef);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			ef->has_symtab = true;
	}
	*out = ef;
	return 0;
}

void elf_file_close(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef);
}

unsigned int elf_file_machine(const struct elf_file *ef)
{
	return ef->ehdr.e_machine;
}

bool elf_file_has_symtab(const struct elf_file *ef)
{
	return ef->has_symtab;
}

static const uint8_t *scn_bytes(Elf_Scn *scn, const GElf_Shdr *sh, size_t *size)
{
	Elf_Data *d;

	if (sh->sh_type == SHT_NOBITS)
		return NULL;
	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf)
		return NULL;
	*size = d->d_size;
	return d->d_buf;
}

const uint8_t *elf_file_section(struct elf_file *ef, const char *name, size_t *size,
				uint64_t *addr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(ef->elf, ef->shstrndx, sh.sh_name);
		if (!n || strcmp(n, name))
			continue;
		if (addr)
			*addr = sh.sh_addr;
		return scn_bytes(scn, &sh, size);
	}
	return NULL;
}

const uint8_t *elf_file_at(struct elf_file *ef, uint64_t addr, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		const uint8_t *b;
		GElf_Shdr sh;
		size_t size = 0;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || addr < sh.sh_addr ||
		    addr - sh.sh_addr >= sh.sh_size)
			continue;
		b = scn_bytes(scn, &sh, &size);
		if (!b || len > size - (addr - sh.sh_addr))
			return NULL;
		return b + (addr - sh.sh_addr);
	}
	return NULL;
}

/* "name" or "name@VERSION" / "name@@VERSION" */
static bool sym_name_is(const char *s, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(s, name, n) && (s[n] == '\0' || s[n] == '@');
}

static int scan_symbols(struct elf_file *ef, Elf64_Word type, const char *const *names, int n,
			struct elf_sym *out)
{
	Elf_Scn *scn = NULL;
	int found = 0;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			s = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (!s)
				continue;
			for (int k = 0; k < n; k++) {
				if (out[k].found || !sym_name_is(s, names[k]))
					continue;
				out[k].addr = sym.st_value;
				out[k].size = sym.st_size;
				out[k].found = true;
				out[k].from_symtab = type == SHT_SYMTAB;
				found++;
			}
		}
	}
	return found;
}

int elf_file_symbols(struct elf_file *ef, const char *const *names, int n, struct elf_sym *out)
{
	int found;

	memset(out, 0, sizeof(*out) * n);
	found = scan_symbols(ef, SHT_DYNSYM, names, n, out);
	if (found < n && ef->has_symtab)
		found += scan_symbols(ef, SHT_SYMTAB, names, n, out);
	return found;
}

int elf_file_offset(const struct elf_file *ef, uint64_t addr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file_read_code(const struct elf_file *ef, uint64_t addr, void *buf, size_t len)
{
	uint64_t off, end;
	ssize_t n;

	if (elf_file_offset(ef, addr, &off) || elf_file_offset(ef, addr + len - 1, &end) ||
	    end - off != len - 1)
		return -ENOENT;
	n = pread(ef->fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -EIO;
}

bool elf_file_needs(struct elf_file *ef, const char *prefix)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			s = elf_strptr(ef->elf, sh.sh_link, dyn.d_un.d_val);
			if (s && !strncmp(s, prefix, strlen(prefix)))
				return true;
		}
	}
	return false;
}
