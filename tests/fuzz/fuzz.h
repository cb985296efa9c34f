/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the libFuzzer harnesses share. Each tests/fuzz/fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput for one parser; `make fuzz` links it with libFuzzer,
 * and the unit test test_fuzz_replay links every harness at once (each
 * object built with -DLLVMFuzzerTestOneInput=fuzz_one_<name>) to run it
 * over tests/fuzz/corpus/<name> and tests/fuzz/regress/<name>.
 *
 * A harness checks what the parser promises besides not crashing (bounds,
 * NUL-terminated fields, cleared secrets, memory given back): a broken
 * promise aborts, so the fuzzer keeps the input and the replay fails. */
#ifndef XTAP_FUZZ_H
#define XTAP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every harness, by name: fuzz_<name>.c, corpus/<name>, regress/<name>. */
#define FUZZ_TARGETS(X) X(http) X(trace_header) X(sampling) X(k8s) X(sts) X(config)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_failed(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, what);
	abort();
}

#define FUZZ_CHECK(cond)                                           \
	do {                                                       \
		if (!(cond))                                       \
			fuzz_check_failed(__FILE__, __LINE__, #cond); \
	} while (0)

/* data[0..size) as a NUL-terminated heap string, for parsers that take
 * one (an embedded NUL ends it early, as it would in the agent). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A fixed-size string field is NUL-terminated within its size. */
#define FUZZ_TERMINATED(field) FUZZ_CHECK(memchr((field), '\0', sizeof(field)))

#endif /* XTAP_FUZZ_H */
