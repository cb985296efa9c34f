/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What xtap reads from ELF files (libelf, the file mapped read-only):
 * sections, symbols, and where a code address lies in the file, which is
 * what a uprobe is attached at. */
#ifndef XTAP_ELF_FILE_H
#define XTAP_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	uint64_t addr; /* st_value: virtual address */
	uint64_t size;
	bool found;
	bool from_symtab; /* .symtab (else .dynsym) */
};

/* 0 or -errno (-ENOEXEC: not an ELF file). */
int elf_file_open(const char *path, struct elf_file **out);
void elf_file_close(struct elf_file *ef);
/* e_machine (EM_X86_64, EM_AARCH64) */
unsigned int elf_file_machine(const struct elf_file *ef);
bool elf_file_has_symtab(const struct elf_file *ef);

/* A section's bytes (valid until close) by name, with its size and
 * address; NULL when absent or without file contents. */
const uint8_t *elf_file_section(struct elf_file *ef, const char *name, size_t *size,
				uint64_t *addr);
/* Bytes at virtual address [addr, addr+len) when one section holds them
 * all, else NULL. */
const uint8_t *elf_file_at(struct elf_file *ef, uint64_t addr, size_t len);

/* Look up n function names, .dynsym first, then .symtab for what is still
 * missing; a versioned name ("SSL_read@@OPENSSL_3.0.0") matches its base.
 * Returns how many were found. */
int elf_file_symbols(struct elf_file *ef, const char *const *names, int n, struct elf_sym *out);

/* A DT_NEEDED entry of the dynamic section starts with prefix. */
bool elf_file_needs(struct elf_file *ef, const char *prefix);

/* The file offset of a code address (its loadable segment): 0 or -ENOENT. */
int elf_file_offset(const struct elf_file *ef, uint64_t addr, uint64_t *off);

/* Copy len bytes of code at addr into buf, read(2) from the file: the
 * sections above are a mapping of it, and a mapping of a file that has
 * uprobes (another agent's, or ours) shows their breakpoints where its
 * instructions were. 0, or -ENOENT (no code there), -EIO (short read). */
int elf_file_read_code(const struct elf_file *ef, uint64_t addr, void *buf, size_t len);

#endif /* XTAP_ELF_FILE_H */
