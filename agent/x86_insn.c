// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include "x86_insn.h"

#define MAX_LEN 15 /* the architectural limit */

/* A bit per opcode: set when the opcode is followed by a ModRM byte. */
#define ROW(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, ba, bb, bc, bd, be, bf)                   \
	(uint16_t)((b0) | (b1) << 1 | (b2) << 2 | (b3) << 3 | (b4) << 4 | (b5) << 5 | (b6) << 6 | \
		   (b7) << 7 | (b8) << 8 | (b9) << 9 | (ba) << 10 | (bb) << 11 | (bc) << 12 |    \
		   (bd) << 13 | (be) << 14 | (bf) << 15)

/* one-byte map */
static const uint16_t modrm1[16] = {
	/*       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f */
	/* 0 */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0),
	/* 1 */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0),
	/* 2 */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0),
	/* 3 */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0),
	/* 4 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* 5 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* 6 */ ROW(0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0),
	/* 7 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* 8 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 9 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* a */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* b */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* c */ ROW(1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
	/* d */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
	/* e */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* f */ ROW(0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1),
};

/* two-byte map (0F xx); 0F 38 and 0F 3A always have one */
static const uint16_t modrm2[16] = {
	/*       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f */
	/* 0 */ ROW(1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1),
	/* 1 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 2 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 3 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0),
	/* 4 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 5 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 6 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 7 */ ROW(1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1),
	/* 8 */ ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* 9 */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* a */ ROW(0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1),
	/* b */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* c */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
	/* d */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* e */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	/* f */ ROW(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
};

static bool bit(const uint16_t *map, uint8_t op)
{
	return map[op >> 4] >> (op & 15) & 1;
}

/* Opcodes that do not exist in 64-bit mode. */
static bool invalid64(uint8_t op)
{
	switch (op) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x82:
	case 0x9a: case 0xce: case 0xd4: case 0xd5: case 0xd6: case 0xea:
		return true;
	default:
		return false;
	}
}

enum { MAP1 = 1, MAP2, MAP38, MAP3A, XOP8, XOP9, XOPA };

/* Bytes of immediate (and relative offset, and moffs) after the ModRM
 * part. z is the 16/32-bit operand size, in bytes. */
static int imm_size(int map, uint8_t op, uint8_t modrm_reg, bool rex_w, int z, bool a32,
		    bool vex)
{
	if (map == MAP3A || map == XOP8)
		return 1;
	if (map == MAP38 || map == XOP9)
		return 0;
	if (map == XOPA)
		return 4;
	if (map == MAP2) {
		if (op >= 0x80 && op <= 0x8f)
			return vex ? 0 : z; /* jcc rel32 (rel16 after 66) */
		switch (op) {
		case 0x70: case 0x71: case 0x72: case 0x73: case 0xc2: case 0xc4: case 0xc5:
		case 0xc6:
			return 1;
		case 0xa4: case 0xac: case 0xba: case 0x0f: /* 3DNow! suffix */
			return vex ? 0 : 1;
		default:
			return 0;
		}
	}
	if ((op & 0xc7) == 0x04 && op < 0x40) /* ALU al, imm8 */
		return 1;
	if ((op & 0xc7) == 0x05 && op < 0x40) /* ALU eax, imm */
		return z;
	if (op >= 0x70 && op <= 0x7f) /* jcc rel8 */
		return 1;
	if (op >= 0xb0 && op <= 0xb7)
		return 1;
	if (op >= 0xb8 && op <= 0xbf) /* mov r, imm: imm64 with REX.W */
		return rex_w ? 8 : z;
	if (op >= 0xa0 && op <= 0xa3) /* mov moffs */
		return a32 ? 4 : 8;
	switch (op) {
	case 0x6a: case 0x6b: case 0x80: case 0x83: case 0xa8: case 0xc0: case 0xc1: case 0xc6:
	case 0xcd: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe4: case 0xe5: case 0xe6:
	case 0xe7: case 0xeb:
		return 1;
	case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7:
		return z;
	case 0xe8: case 0xe9: /* call/jmp rel32, rel16 after 66 (as binutils decodes it) */
		return z;
	case 0xc2: case 0xca:
		return 2;
	case 0xc8: /* enter imm16, imm8 */
		return 3;
	case 0xf6:
		return modrm_reg < 2 ? 1 : 0; /* test r/m8, imm8 */
	case 0xf7:
		return modrm_reg < 2 ? z : 0;
	default:
		return 0;
	}
}

/* ModRM, SIB and displacement bytes at p: their length, or -1. */
static int modrm_len(const uint8_t *p, size_t n)
{
	uint8_t m, mod, rm;
	int len = 1;

	if (n < 1)
		return -1;
	m = p[0];
	mod = m >> 6;
	rm = m & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* SIB */
		if (n < 2)
			return -1;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) { /* RIP-relative */
		len += 4;
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len;
}

int x86_insn_decode(const uint8_t *p, size_t n, struct x86_insn *out)
{
	bool opsize16 = false, a32 = false, rex_w = false, vex = false, has_modrm;
	size_t i = 0, lim = n < MAX_LEN ? n : MAX_LEN;
	int map = MAP1, imm, ml;
	uint8_t op;

	/* legacy prefixes, any order */
	for (; i < lim; i++) {
		uint8_t b = p[i];

		if (b == 0x66)
			opsize16 = true;
		else if (b == 0x67)
			a32 = true;
		else if (b != 0xf0 && b != 0xf2 && b != 0xf3 && b != 0x2e && b != 0x36 &&
			 b != 0x3e && b != 0x26 && b != 0x64 && b != 0x65)
			break;
	}
	if (i >= lim)
		return -EINVAL;
	if ((p[i] & 0xf0) == 0x40) { /* REX */
		rex_w = p[i] & 8;
		if (++i >= lim)
			return -EINVAL;
	}
	op = p[i];
	if (op == 0x8f && i + 1 < lim && (p[i + 1] & 0x1f) >= 8) {
		/* AMD XOP: 8F with a map number where POP r/m has ModRM.reg 0 */
		int mm = p[i + 1] & 0x1f;

		if (mm > 10 || i + 3 >= lim)
			return -EINVAL;
		map = mm == 8 ? XOP8 : mm == 9 ? XOP9 : XOPA;
		vex = true;
		i += 3;
		op = p[i];
	} else if (op == 0xc4 || op == 0xc5 || op == 0x62) {
		/* VEX (3 or 2 bytes) or EVEX (4 bytes): the map is in the prefix */
		size_t plen = op == 0xc5 ? 2 : op == 0xc4 ? 3 : 4;

		if (i + plen >= lim)
			return -EINVAL;
		vex = true;
		if (op == 0xc5) {
			map = MAP2;
		} else {
			int mm = p[i + 1] & (op == 0xc4 ? 0x1f : 0x03);

			if (mm < 1 || mm > 3)
				return -EINVAL;
			map = mm == 1 ? MAP2 : mm == 2 ? MAP38 : MAP3A;
			rex_w = p[i + 2] & 0x80;
		}
		i += plen;
		op = p[i];
	} else if (op == 0x0f) {
		if (++i >= lim)
			return -EINVAL;
		op = p[i];
		map = MAP2;
		if (op == 0x38 || op == 0x3a) {
			map = op == 0x38 ? MAP38 : MAP3A;
			if (++i >= lim)
				return -EINVAL;
			op = p[i];
		}
	} else if (invalid64(op)) {
		return -EINVAL;
	}
	i++; /* the opcode */

	if (map == MAP1)
		has_modrm = bit(modrm1, op);
	else if (map == MAP2)
		/* vzeroupper/vzeroall (VEX 0F 77) have none */
		has_modrm = bit(modrm2, op) || (vex && op != 0x77 && !(op >= 0x80 && op <= 0x8f));
	else
		has_modrm = true;
	ml = 0;
	if (has_modrm && map == MAP2 && !vex && op >= 0x20 && op <= 0x23) {
		ml = 1; /* mov to/from CRn/DRn: always the register form, whatever mod says */
	} else if (has_modrm) {
		ml = modrm_len(p + i, lim - i);
		if (ml < 0)
			return -EINVAL;
	}
	imm = imm_size(map, op, has_modrm ? (p[i] >> 3) & 7 : 0, rex_w, opsize16 && !rex_w ? 2 : 4,
		       a32, vex);
	i += ml + imm;
	if (i > lim)
		return -EINVAL;
	out->len = (unsigned int)i;
	out->ret = map == MAP1 && (op == 0xc3 || op == 0xc2);
	return 0;
}
