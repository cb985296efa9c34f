/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What xtap reads from a Go executable: the Go version (the build info
 * blob), functions by name (.symtab, else the pclntab that even stripped
 * Go binaries keep), and where a function returns. */
#ifndef XTAP_GO_ELF_H
#define XTAP_GO_ELF_H

#include <stdbool.h>
#include <stdint.h>
#include "elf_file.h"

/* From a crypto/tls.Conn to its socket's fd, the same in every Go version
 * with the register ABI (1.17 and later):
 *   tls.Conn.conn, a net.Conn interface: first field; its data word at +8
 *   *net.TCPConn → conn{fd *netFD}: the netFD pointer at +0
 *   netFD.pfd (poll.FD) first; poll.FD{fdmu fdMutex (16 bytes), Sysfd int}
 * (crypto/tls/conn.go, net/net.go, net/fd_posix.go, internal/poll/fd_unix.go) */
#define GO_TLS_CONN_DATA_OFF 8
#define GO_TCPCONN_NETFD_OFF 0
#define GO_NETFD_SYSFD_OFF 16

struct go_func {
	uint64_t entry; /* virtual address */
	uint64_t end;
	bool from_symtab; /* else the pclntab */
};

/* The version the binary was built with ("go1.19.8"), from .go.buildinfo:
 * 0, -ENOENT for a file that is not a Go executable, -EINVAL when the blob
 * cannot be read. */
int go_elf_version(struct elf_file *ef, char *out, size_t n);
/* "go1.19.8" → 1, 19; false when it is not that shape. */
bool go_version_parse(const char *v, int *major, int *minor);
/* Whether the file has Go's function table (.gopclntab). */
bool go_elf_has_pclntab(struct elf_file *ef);

/* Look up n functions by their full name ("crypto/tls.(*Conn).Read"): the
 * number found. .symtab is used when present, else the pclntab. */
int go_elf_funcs(struct elf_file *ef, const char *const *names, int n, struct go_func *out);

/* File offsets of f's return instructions, at most max: how many, or
 * -errno (-ENOTSUP for another architecture, -EINVAL for bytes that do not
 * decode, -E2BIG past max). */
int go_elf_rets(struct elf_file *ef, const struct go_func *f, uint64_t *offs, int max);

#endif /* XTAP_GO_ELF_H */
