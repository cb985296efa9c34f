/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The x86-64 length decoder: encodings checked by hand, then every
 * instruction objdump (binutils) finds in real code — this test program and
 * libcrypto, whose assembly uses AVX2 and AVX-512 — must decode to the
 * length objdump gives it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_file.h"
#include "x86_insn.h"

struct known {
	const char *what;
	uint8_t b[16];
	unsigned int len; /* 0: invalid */
	bool ret;
};

static const struct known known[] = {
	{ "mov %rax,%rbx (a C3 ModRM)", { 0x48, 0x89, 0xc3 }, 3, false },
	{ "ret", { 0xc3 }, 1, true },
	{ "ret $8", { 0xc2, 0x08, 0x00 }, 3, true },
	{ "movabs $imm64,%rax", { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 0xc3 }, 10, false },
	{ "mov $imm16,%ax", { 0x66, 0xb8, 0x12, 0xc3 }, 4, false },
	{ "mov $imm32,%eax", { 0xb8, 0xc3, 0xc3, 0xc3, 0xc3 }, 5, false },
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, false },
	{ "mov 0x8(%rsp),%rax (SIB, disp8)", { 0x48, 0x8b, 0x44, 0x24, 0x08 }, 5, false },
	{ "mov 0x0(%rip),%rax", { 0x48, 0x8b, 0x05, 0xc3, 0, 0, 0 }, 7, false },
	{ "mov (,%rax,8) disp32 (SIB base 5)", { 0x48, 0x8b, 0x04, 0xc5, 0, 0, 0, 0 }, 8, false },
	{ "mov %fs:0x28,%rax", { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 }, 9, false },
	{ "je rel32", { 0x0f, 0x84, 0xc3, 0, 0, 0 }, 6, false },
	{ "call rel32", { 0xe8, 0xc3, 0xc3, 0xc3, 0xc3 }, 5, false },
	{ "jmpw rel16", { 0x66, 0xe9, 0x53, 0xcc }, 4, false },
	{ "jmp rel8", { 0xeb, 0xc3 }, 2, false },
	{ "cmp $0xc3,%al", { 0x3c, 0xc3 }, 2, false },
	{ "add $imm32,%rax", { 0x48, 0x05, 1, 2, 3, 4 }, 6, false },
	{ "test $1,%cl (F6 /0 imm8)", { 0xf6, 0xc1, 0x01 }, 3, false },
	{ "not %cl (F6 /2)", { 0xf6, 0xd1 }, 2, false },
	{ "testl $imm32,(%rax) (F7 /0)", { 0xf7, 0x00, 1, 2, 3, 4 }, 6, false },
	{ "enter $16,$0", { 0xc8, 0x10, 0x00, 0x00 }, 4, false },
	{ "movabs 0x...,%al (moffs64)", { 0xa0, 1, 2, 3, 4, 5, 6, 7, 8 }, 9, false },
	{ "addr32 mov moffs32,%al", { 0x67, 0xa0, 1, 2, 3, 4 }, 6, false },
	{ "palignr $8 (0F 3A, imm8)", { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 }, 6, false },
	{ "pshufb (0F 38)", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, false },
	{ "shld $3 (0F A4)", { 0x0f, 0xa4, 0xc3, 0x03 }, 4, false },
	{ "ud2", { 0x0f, 0x0b }, 2, false },
	{ "xstore-rng (VIA 0F A7)", { 0x0f, 0xa7, 0xc0 }, 3, false },
	{ "mov %rdi,%db0 (mod ignored)", { 0x0f, 0x23, 0x87 }, 3, false },
	{ "syscall", { 0x0f, 0x05 }, 2, false },
	{ "vzeroupper (VEX, no ModRM)", { 0xc5, 0xf8, 0x77 }, 3, false },
	{ "vmovdqu (%rsi),%ymm0 (VEX2)", { 0xc5, 0xfe, 0x6f, 0x06 }, 4, false },
	{ "vbroadcastss (%rsi),%ymm0 (VEX3 0F38)", { 0xc4, 0xe2, 0x7d, 0x18, 0x06 }, 5, false },
	{ "vpalignr $8 (VEX3 0F3A)", { 0xc4, 0xe3, 0x7d, 0x0f, 0xc1, 0x08 }, 6, false },
	{ "vmovups (%rsi),%zmm0 (EVEX)", { 0x62, 0xf1, 0x7c, 0x48, 0x10, 0x06 }, 6, false },
	{ "vmovups 0x40(%rsi),%zmm0 (EVEX disp8*N)", { 0x62, 0xf1, 0x7c, 0x48, 0x10, 0x46, 0x01 },
	  7, false },
	{ "vprotd $14 (AMD XOP, map 8)", { 0x8f, 0xe8, 0x78, 0xc2, 0xec, 0x0e }, 6, false },
	{ "pop (%rax) (8F /0, not XOP)", { 0x8f, 0x00 }, 2, false },
	{ "int3", { 0xcc }, 1, false },
	{ "push %rbp", { 0x55 }, 1, false },
	{ "push $imm8", { 0x6a, 0x01 }, 2, false },
	{ "lock cmpxchg %rcx,(%rdx)", { 0xf0, 0x48, 0x0f, 0xb1, 0x0a }, 5, false },
	{ "push %es (invalid in 64-bit mode)", { 0x06 }, 0, false },
	{ "only prefixes", { 0x66, 0x66 }, 0, false },
};

static void test_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct known *k = &known[i];
		struct x86_insn in;
		size_t n = k->len ? k->len : 2;
		int err = x86_insn_decode(k->b, n, &in);

		if (!k->len) {
			if (err != -EINVAL)
				fail_msg("%s: decoded (len %u), expected invalid", k->what, in.len);
			continue;
		}
		if (err || in.len != k->len || in.ret != k->ret)
			fail_msg("%s: got err %d len %u ret %d, expected len %u ret %d", k->what, err,
				 err ? 0 : in.len, err ? 0 : in.ret, k->len, k->ret);
		/* one byte short: never read past the buffer */
		assert_int_equal(x86_insn_decode(k->b, k->len - 1, &in), -EINVAL);
	}
}

#if defined(__x86_64__)
/* objdump printed prefixes alone ("rex.W", "gs rex.X", "lock"): the
 * bytes after them did not make an instruction */
static bool lone_prefix(const char *line)
{
	static const char *const prefixes[] = { "rex", "lock", "data16", "addr32", "cs", "ds",
						"es", "fs", "gs", "ss", "rep", "repz", "repnz",
						"bnd", "notrack", "xacquire", "xrelease" };
	const char *m = strrchr(line, '\t');

	if (!m)
		return false;
	for (m++; *m && *m != '\n';) {
		size_t n = strcspn(m, " \n");
		bool prefix = false;

		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t k = strlen(prefixes[i]);

			prefix |= !strncmp(m, prefixes[i], k) && (k == n || m[k] == '.');
		}
		if (!prefix)
			return false;
		m += n;
		m += strspn(m, " ");
	}
	return true;
}

/* Every instruction of the .text of path, as objdump disassembles it (an
 * x86-64 host: the files are this process's own). */
static void check_against_objdump(const char *path, unsigned int min_insns)
{
	char cmd[512], *line = NULL;
	unsigned int seen = 0, bad = 0;
	struct elf_file *ef;
	size_t cap = 0;
	FILE *f;

	assert_int_equal(elf_file_open(path, &ef), 0);
	snprintf(cmd, sizeof(cmd), "objdump -d --insn-width=16 -j .text '%s' 2>&1", path);
	f = popen(cmd, "r");
	if (!f)
		fail_msg("popen objdump: %s", strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		const uint8_t *code;
		struct x86_insn in;
		uint64_t addr;
		unsigned int n = 0, avail;
		char *p;
		int pos;

		/* "  401000:\t48 89 e5 \tmov    %rsp,%rbp" */
		pos = 0; /* %n is not reached when the ':' is missing */
		if (sscanf(line, " %" SCNx64 ":%n", &addr, &pos) != 1 || !pos || line[pos] != '\t')
			continue;
		/* data inside .text, where objdump loses its way too: "(bad)",
		 * ".byte", or a prefix printed alone ("rex.W", "lock") */
		if (strstr(line, "(bad)") || strstr(line, "\t.byte") || lone_prefix(line))
			continue;
		for (p = line + pos + 1; isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1]) &&
					 (p[2] == ' ' || p[2] == '\t');
		     p += 3)
			n++;
		/* data: no instruction is longer than 15 bytes, and an
		 * instruction's bytes are followed by a tab and its text */
		if (!n || n > 15 || !strchr(p, '\t'))
			continue;
		code = elf_file_at(ef, addr, n);
		if (!code)
			fail_msg("%s: no bytes at 0x%" PRIx64, path, addr);
		seen++;
		/* objdump folds fwait (9B) into the x87 instruction after it */
		if (code[0] == 0x9b && n > 1 && !x86_insn_decode(code + 1, n - 1, &in) &&
		    in.len == n - 1)
			continue;
		/* as many bytes as the section has, up to 15 */
		avail = n;
		while (avail < 15 && elf_file_at(ef, addr, avail + 1))
			avail++;
		if (x86_insn_decode(code, avail, &in) || in.len != n) {
			if (bad++ < 10)
				fprintf(stderr, "%s: 0x%" PRIx64 ": objdump says %u bytes, decoded %d: %s",
					path, addr, n, x86_insn_decode(code, avail, &in) ? -1 : (int)in.len,
					line);
		}
	}
	free(line);
	assert_int_equal(pclose(f), 0);
	elf_file_close(ef);
	if (seen < min_insns)
		fail_msg("%s: objdump listed only %u instructions", path, seen);
	if (bad)
		fail_msg("%s: %u of %u instructions decoded to another length", path, bad, seen);
}

static void test_objdump_self(void **state)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	check_against_objdump(self, 1000);
}

static void test_objdump_libcrypto(void **state)
{
	char path[256] = "";
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	(void)state;
	assert_non_null(f);
	/* libcurl brings libcrypto into every agent binary */
	while (getline(&line, &cap, f) > 0) {
		char *p = strchr(line, '/');

		if (p && strstr(p, "/libcrypto.so")) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s", p);
			break;
		}
	}
	free(line);
	fclose(f);
	if (!path[0])
		fail_msg("this process maps no libcrypto.so");
	check_against_objdump(path, 100000);
}

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
#if defined(__x86_64__)
		cmocka_unit_test(test_objdump_self),
		cmocka_unit_test(test_objdump_libcrypto),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
