/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "trace_header.h"

#define ROOT "1-5759e988-bd862e3fe1be46a994272793"
#define PARENT "53995c3f42cd8ad8"

static void test_amzn_node_example(void **state)
{
	struct trace_ctx c;

	(void)state;
	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=" PARENT ";Sampled=1", &c), 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);
}

static void test_amzn_sampled_values(void **state)
{
	struct trace_ctx c;

	(void)state;
	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=" PARENT ";Sampled=0", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_NO);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);

	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=" PARENT ";Sampled=?", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);
	assert_string_equal(c.trace_id, ROOT);

	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Sampled=yes", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);

	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Sampled=10", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);

	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Sampled=", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);
}

static void test_amzn_root_only(void **state)
{
	struct trace_ctx c;

	(void)state;
	assert_int_equal(trace_parse_amzn("Root=" ROOT, &c), 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, "");
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);
}

static void test_amzn_case_and_spaces(void **state)
{
	struct trace_ctx c;

	(void)state;
	assert_int_equal(trace_parse_amzn("root=" ROOT ";parent=" PARENT ";sampled=1", &c), 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	assert_int_equal(trace_parse_amzn(" ROOT = " ROOT " ;\tPARENT=\t" PARENT "\t; SaMpLeD = 0 ",
					  &c),
			 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_NO);

	/* uppercase hex is accepted and stored lowercase */
	assert_int_equal(
		trace_parse_amzn("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8", &c),
		0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
}

static void test_amzn_self_lineage_other(void **state)
{
	struct trace_ctx c;

	(void)state;
	/* ALB puts Self before Root; Self's id must not be taken as the root. */
	assert_int_equal(trace_parse_amzn("Self=1-67891233-12456789abcdef012345678a;Root=" ROOT
					  ";Parent=" PARENT ";Sampled=1",
					  &c),
			 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=" PARENT
					  ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;Foo=bar",
					  &c),
			 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	/* Self alone gives nothing usable */
	assert_int_equal(trace_parse_amzn("Self=" ROOT, &c), -EINVAL);
	assert_string_equal(c.trace_id, "");
}

static void test_amzn_invalid_root(void **state)
{
	struct trace_ctx c;

	(void)state;
	/* short random part: Root dropped, Parent and Sampled still read */
	assert_int_equal(trace_parse_amzn("Root=1-5759e988-bd862e3fe1be46a99427279;Parent=" PARENT
					  ";Sampled=1",
					  &c),
			 0);
	assert_string_equal(c.trace_id, "");
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	assert_int_equal(trace_parse_amzn("Root=garbage", &c), -EINVAL);
	assert_string_equal(c.trace_id, "");
	assert_string_equal(c.parent_id, "");
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);

	assert_int_equal(trace_parse_amzn("Root=2-5759e988-bd862e3fe1be46a994272793", &c), -EINVAL);
	assert_int_equal(trace_parse_amzn("Root=1-5759e988-bd862e3fe1be46a99427279g", &c), -EINVAL);
	/* Node keeps only the text up to a second '=' */
	assert_int_equal(trace_parse_amzn("Root=" ROOT "=x", &c), 0);
	assert_string_equal(c.trace_id, ROOT);

	/* bad Parent is dropped, Root kept */
	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=53995c3f42cd8ad", &c), 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, "");
	assert_int_equal(trace_parse_amzn("Root=" ROOT ";Parent=53995c3f42cd8adz", &c), 0);
	assert_string_equal(c.parent_id, "");
}

static void test_amzn_missing_and_junk(void **state)
{
	struct trace_ctx c;

	(void)state;
	memset(&c, 'x', sizeof(c));
	assert_int_equal(trace_parse_amzn("", &c), -EINVAL);
	assert_string_equal(c.trace_id, "");
	assert_string_equal(c.parent_id, "");
	assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);
	assert_int_equal(trace_parse_amzn(NULL, &c), -EINVAL);
	assert_int_equal(trace_parse_amzn(";;;", &c), -EINVAL);
	assert_int_equal(trace_parse_amzn("Root", &c), -EINVAL);
	assert_int_equal(trace_parse_amzn("=;=", &c), -EINVAL);
	/* empty parts and a trailing separator are harmless */
	assert_int_equal(trace_parse_amzn(";;Root=" ROOT ";;", &c), 0);
	assert_string_equal(c.trace_id, ROOT);
	/* a later duplicate wins, as in Node */
	assert_int_equal(trace_parse_amzn("Sampled=1;Sampled=0", &c), 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_NO);
}

static void test_traceparent_valid(void **state)
{
	struct trace_ctx c;

	(void)state;
	assert_int_equal(trace_parse_traceparent(
				 "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", &c),
			 0);
	assert_string_equal(c.trace_id, ROOT);
	assert_string_equal(c.parent_id, PARENT);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	assert_int_equal(trace_parse_traceparent(
				 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &c),
			 0);
	assert_string_equal(c.trace_id, "1-0af76519-16cd43dd8448eb211c80319c");
	assert_string_equal(c.parent_id, "b7ad6b7169203331");
	assert_int_equal(c.sampled, TRACE_SAMPLED_NO);

	/* only bit 0 of the flags is "sampled" */
	assert_int_equal(trace_parse_traceparent(
				 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02", &c),
			 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_NO);
	assert_int_equal(trace_parse_traceparent(
				 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff", &c),
			 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);

	/* surrounding whitespace */
	assert_int_equal(trace_parse_traceparent(
				 " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\t", &c),
			 0);
	assert_string_equal(c.parent_id, "b7ad6b7169203331");
}

static void test_traceparent_versions(void **state)
{
	struct trace_ctx c;

	(void)state;
	/* future versions: the first four fields are enough, more may follow */
	assert_int_equal(trace_parse_traceparent(
				 "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &c),
			 0);
	assert_int_equal(c.sampled, TRACE_SAMPLED_YES);
	assert_int_equal(trace_parse_traceparent(
				 "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future",
				 &c),
			 0);
	assert_string_equal(c.trace_id, "1-0af76519-16cd43dd8448eb211c80319c");
	assert_int_equal(trace_parse_traceparent(
				 "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", &c),
			 -EINVAL);
	/* version 00 has exactly four fields */
	assert_int_equal(trace_parse_traceparent(
				 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", &c),
			 -EINVAL);
	/* ff is forbidden */
	assert_int_equal(trace_parse_traceparent(
				 "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &c),
			 -EINVAL);
	assert_string_equal(c.trace_id, "");
}

static void test_traceparent_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"00",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319cc-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
		"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
	};
	struct trace_ctx c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 'x', sizeof(c));
		if (trace_parse_traceparent(bad[i], &c) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_string_equal(c.trace_id, "");
		assert_string_equal(c.parent_id, "");
		assert_int_equal(c.sampled, TRACE_SAMPLED_UNKNOWN);
	}
	assert_int_equal(trace_parse_traceparent(NULL, &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_amzn_node_example),
		cmocka_unit_test(test_amzn_sampled_values),
		cmocka_unit_test(test_amzn_root_only),
		cmocka_unit_test(test_amzn_case_and_spaces),
		cmocka_unit_test(test_amzn_self_lineage_other),
		cmocka_unit_test(test_amzn_invalid_root),
		cmocka_unit_test(test_amzn_missing_and_junk),
		cmocka_unit_test(test_traceparent_valid),
		cmocka_unit_test(test_traceparent_versions),
		cmocka_unit_test(test_traceparent_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
