/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Lengths of x86-64 instructions (64-bit mode), enough to walk a function
 * from its entry and find its RET instructions: a 0xC3 byte is just as
 * often a ModRM (mov %rax,%rbx is 48 89 c3) or part of an immediate. The
 * encoding rules are those of the Intel SDM, volume 2, chapter 2 and
 * appendix A (opcode maps); legacy and REX prefixes, VEX and EVEX. */
#ifndef XTAP_X86_INSN_H
#define XTAP_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_insn {
	unsigned int len;
	bool ret; /* near return: C3, or C2 imm16 */
};

/* Decode the instruction at p (n bytes available): 0, or -EINVAL when the
 * bytes are not an instruction valid in 64-bit mode or run past n. */
int x86_insn_decode(const uint8_t *p, size_t n, struct x86_insn *out);

#endif /* XTAP_X86_INSN_H */
