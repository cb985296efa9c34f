/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ids.h"

#define N_IDS 10000

/* Interposes libc's getrandom() for ids.o so the tests can count refills
 * and make the syscall fail to exercise the /dev/urandom fallback. */
static unsigned int getrandom_calls;
static unsigned int getrandom_failures;
static bool getrandom_fail;

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	getrandom_calls++;
	if (getrandom_fail) {
		getrandom_failures++;
		errno = ENOSYS;
		return -1;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

static bool lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void test_span_id_format_unique(void **state)
{
	static char ids[N_IDS][XID_SPAN_LEN + 1];
	unsigned int counts[16] = { 0 };
	size_t i, j;

	(void)state;
	for (i = 0; i < N_IDS; i++) {
		memset(ids[i], 'Z', sizeof(ids[i]));
		xid_span_id(ids[i]);
		assert_int_equal(strlen(ids[i]), XID_SPAN_LEN);
		assert_true(lower_hex(ids[i], XID_SPAN_LEN));
		assert_string_not_equal(ids[i], "0000000000000000");
		assert_true(xid_valid_span_id(ids[i]));
		for (j = 0; j < XID_SPAN_LEN; j++) {
			char c = ids[i][j];

			counts[c <= '9' ? c - '0' : c - 'a' + 10]++;
		}
	}
	qsort(ids, N_IDS, sizeof(ids[0]), cmp_str);
	for (i = 1; i < N_IDS; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	/* 160,000 digits: 10,000 expected per value, sd ~97. A stuck or
	 * biased source lands far outside +-1,000. */
	for (i = 0; i < 16; i++)
		assert_in_range(counts[i], 9000, 11000);
}

static void test_trace_id_format_unique(void **state)
{
	static char ids[N_IDS][XID_TRACE_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < N_IDS; i++) {
		xid_trace_id(ids[i], 1480615200);
		assert_int_equal(strlen(ids[i]), XID_TRACE_LEN);
		assert_memory_equal(ids[i], "1-58406520-", 11);
		assert_true(lower_hex(ids[i] + 11, 24));
		assert_true(xid_valid_trace_id(ids[i]));
	}
	qsort(ids, N_IDS, sizeof(ids[0]), cmp_str);
	for (i = 1; i < N_IDS; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
}

static void test_trace_id_epoch(void **state)
{
	char id[XID_TRACE_LEN + 1];

	(void)state;
	xid_trace_id(id, 0);
	assert_memory_equal(id, "1-00000000-", 11);
	xid_trace_id(id, 0x6b02c704);
	assert_memory_equal(id, "1-6b02c704-", 11);
	xid_trace_id(id, 0xffffffffu);
	assert_memory_equal(id, "1-ffffffff-", 11);
	/* the field is 32 bits: later epochs wrap instead of overrunning */
	xid_trace_id(id, 0x100000001ull);
	assert_memory_equal(id, "1-00000001-", 11);
	assert_int_equal(strlen(id), XID_TRACE_LEN);
}

static void test_valid_span_id(void **state)
{
	(void)state;
	assert_true(xid_valid_span_id("53995c3f42cd8ad8"));
	assert_true(xid_valid_span_id("53995C3F42CD8AD8"));
	assert_false(xid_valid_span_id("53995c3f42cd8ad"));
	assert_false(xid_valid_span_id("53995c3f42cd8ad8a"));
	assert_false(xid_valid_span_id("53995c3f42cd8adg"));
	assert_false(xid_valid_span_id("53995c3f-2cd8ad8"));
	assert_false(xid_valid_span_id("0000000000000000"));
	assert_false(xid_valid_span_id(""));
	assert_false(xid_valid_span_id(NULL));
}

static void test_valid_trace_id(void **state)
{
	(void)state;
	assert_true(xid_valid_trace_id("1-5759e988-bd862e3fe1be46a994272793"));
	assert_true(xid_valid_trace_id("1-5759E988-BD862E3FE1BE46A994272793"));
	assert_false(xid_valid_trace_id("2-5759e988-bd862e3fe1be46a994272793"));
	assert_false(xid_valid_trace_id("1-5759e988-bd862e3fe1be46a99427279"));
	assert_false(xid_valid_trace_id("1-5759e988-bd862e3fe1be46a9942727933"));
	assert_false(xid_valid_trace_id("1-5759e98-bd862e3fe1be46a9942727933"));
	assert_false(xid_valid_trace_id("1-5759e988-bd862e3fe1be46a99427279x"));
	assert_false(xid_valid_trace_id("1_5759e988-bd862e3fe1be46a994272793"));
	assert_false(xid_valid_trace_id("1-5759e988_bd862e3fe1be46a994272793"));
	assert_false(xid_valid_trace_id("5759e988bd862e3fe1be46a994272793"));
	assert_false(xid_valid_trace_id(""));
	assert_false(xid_valid_trace_id(NULL));
}

static void test_pool_batches_syscalls(void **state)
{
	char id[XID_SPAN_LEN + 1];
	unsigned int before;
	size_t i;

	(void)state;
	before = getrandom_calls;
	/* 80,000 bytes from a 4 KiB pool: 19 or 20 refills, not 10,000. */
	for (i = 0; i < N_IDS; i++)
		xid_span_id(id);
	assert_in_range(getrandom_calls - before, 19, 20);
}

static void test_urandom_fallback(void **state)
{
	static char ids[1024][XID_SPAN_LEN + 1];
	size_t i;

	(void)state;
	getrandom_fail = true;
	getrandom_failures = 0;
	/* 8 KiB of ids forces at least one refill while getrandom() fails */
	for (i = 0; i < 1024; i++) {
		xid_span_id(ids[i]);
		assert_true(xid_valid_span_id(ids[i]));
	}
	getrandom_fail = false;
	assert_true(getrandom_failures >= 1);
	qsort(ids, 1024, sizeof(ids[0]), cmp_str);
	for (i = 1; i < 1024; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_span_id_format_unique),
		cmocka_unit_test(test_trace_id_format_unique),
		cmocka_unit_test(test_trace_id_epoch),
		cmocka_unit_test(test_valid_span_id),
		cmocka_unit_test(test_valid_trace_id),
		cmocka_unit_test(test_pool_batches_syscalls),
		cmocka_unit_test(test_urandom_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
