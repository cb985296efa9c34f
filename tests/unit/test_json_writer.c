/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "json_writer.h"

/* Writes s as a lone string value and returns what jansson decodes from
 * it; the raw JSON text is left in buf. */
static json_t *roundtrip_str(const char *s, size_t n, char *buf, size_t cap)
{
	struct jw w;
	json_error_t err;
	json_t *v;
	int len;

	jw_init(&w, buf, cap);
	jw_arr_begin(&w);
	jw_strn(&w, s, n);
	jw_arr_end(&w);
	len = jw_finish(&w);
	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(buf));
	/* \u0000 is valid JSON; jansson only wants it asked for. */
	v = json_loads(buf, JSON_ALLOW_NUL, &err);
	if (!v)
		fail_msg("jansson rejected %s: %s", buf, err.text);
	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), 1);
	return v;
}

static void expect_str(const char *in, size_t n, const char *want_json, const char *want_val,
		       size_t want_val_len)
{
	char buf[512];
	json_t *v = roundtrip_str(in, n, buf, sizeof(buf));
	json_t *s = json_array_get(v, 0);

	if (want_json)
		assert_string_equal(buf, want_json);
	assert_true(json_is_string(s));
	assert_int_equal(json_string_length(s), want_val_len);
	assert_memory_equal(json_string_value(s), want_val, want_val_len);
	json_decref(v);
}

static void test_simple_object(void **state)
{
	char buf[256];
	struct jw w;
	int len;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_kv_str(&w, "a", "x");
	jw_kv_u64(&w, "b", UINT64_MAX);
	jw_kv_i64(&w, "c", INT64_MIN);
	jw_kv_bool(&w, "d", true);
	jw_kv_bool(&w, "e", false);
	jw_key(&w, "f");
	jw_arr_begin(&w);
	jw_u64(&w, 1);
	jw_i64(&w, -2);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_str(&w, "z");
	jw_arr_end(&w);
	jw_key(&w, "g");
	jw_obj_begin(&w);
	jw_kv_str(&w, "h", "");
	jw_obj_end(&w);
	jw_obj_end(&w);
	len = jw_finish(&w);
	assert_int_equal(len, (int)strlen(buf));
	assert_string_equal(buf, "{\"a\":\"x\",\"b\":18446744073709551615,"
				 "\"c\":-9223372036854775808,\"d\":true,\"e\":false,"
				 "\"f\":[1,-2,{},[],\"z\"],\"g\":{\"h\":\"\"}}");
}

static void test_escapes(void **state)
{
	(void)state;
	expect_str("a\"b\\c", 5, "[\"a\\\"b\\\\c\"]", "a\"b\\c", 5);
	expect_str("\n\r\t\b\f", 5, "[\"\\n\\r\\t\\b\\f\"]", "\n\r\t\b\f", 5);
	expect_str("\x01\x1f", 2, "[\"\\u0001\\u001f\"]", "\x01\x1f", 2);
	/* DEL and '/' need no escape */
	expect_str("\x7f/", 2, "[\"\x7f/\"]", "\x7f/", 2);
	/* an embedded NUL is data when the length says so */
	expect_str("a\0b", 3, "[\"a\\u0000b\"]", "a\0b", 3);
}

static void test_key_escaped(void **state)
{
	char buf[64];
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_kv_str(&w, "k\"\n", "v");
	jw_obj_end(&w);
	assert_true(jw_finish(&w) > 0);
	assert_string_equal(buf, "{\"k\\\"\\n\":\"v\"}");
}

static void test_valid_utf8_kept(void **state)
{
	/* 2-, 3- and 4-byte sequences at the edges of their ranges */
	static const char s[] = "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
				"\xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xc3\xa9";
	char want[sizeof(s) + 4];

	(void)state;
	snprintf(want, sizeof(want), "[\"%s\"]", s);
	expect_str(s, sizeof(s) - 1, want, s, sizeof(s) - 1);
}

#define FFFD "\xef\xbf\xbd"

static void test_invalid_utf8_replaced(void **state)
{
	(void)state;
	/* lone continuation byte */
	expect_str("a\x80z", 3, "[\"a\\ufffdz\"]", "a" FFFD "z", 5);
	/* truncated 3-byte sequence, each byte replaced, next char survives */
	expect_str("\xe2\x82z", 3, "[\"\\ufffd\\ufffdz\"]", FFFD FFFD "z", 7);
	/* truncated at the end of input */
	expect_str("a\xf0\x9f\x98", 4, NULL, "a" FFFD FFFD FFFD, 10);
	/* overlong '/' and overlong NUL */
	expect_str("\xc0\xaf", 2, "[\"\\ufffd\\ufffd\"]", FFFD FFFD, 6);
	expect_str("\xc1\xbf", 2, NULL, FFFD FFFD, 6);
	expect_str("\xe0\x80\xaf", 3, NULL, FFFD FFFD FFFD, 9);
	expect_str("\xf0\x80\x80\xaf", 4, NULL, FFFD FFFD FFFD FFFD, 12);
	/* UTF-16 surrogates U+D800 and U+DFFF */
	expect_str("\xed\xa0\x80", 3, NULL, FFFD FFFD FFFD, 9);
	expect_str("\xed\xbf\xbf", 3, NULL, FFFD FFFD FFFD, 9);
	/* past U+10FFFF */
	expect_str("\xf4\x90\x80\x80", 4, NULL, FFFD FFFD FFFD FFFD, 12);
	expect_str("\xf5\x80\x80\x80", 4, NULL, FFFD FFFD FFFD FFFD, 12);
	expect_str("\xff\xfe", 2, NULL, FFFD FFFD, 6);
}

static void test_all_bytes_parse(void **state)
{
	char in[256 * 3], buf[8192];
	size_t i;
	json_t *v;

	(void)state;
	/* Every byte value, alone and in bad neighbourhoods, gives valid JSON. */
	for (i = 0; i < 256; i++) {
		in[3 * i] = (char)i;
		in[3 * i + 1] = (char)(0xff - i);
		in[3 * i + 2] = (char)(i ^ 0x80);
	}
	v = roundtrip_str(in, sizeof(in), buf, sizeof(buf));
	assert_true(json_is_string(json_array_get(v, 0)));
	json_decref(v);
}

static void test_epoch_us(void **state)
{
	char buf[128];
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_arr_begin(&w);
	jw_epoch_us(&w, 1795344132155999999ull); /* truncated, not rounded */
	jw_epoch_us(&w, 1000);
	jw_epoch_us(&w, 0);
	jw_epoch_us(&w, 1480615200010000000ull);
	jw_arr_end(&w);
	assert_true(jw_finish(&w) > 0);
	assert_string_equal(buf, "[1795344132.155999,0.000001,0.000000,1480615200.010000]");
}

static void test_overflow(void **state)
{
	char buf[16];
	struct jw w;
	size_t cap;

	(void)state;
	memset(buf, 'X', sizeof(buf));
	jw_init(&w, buf, 8);
	jw_obj_begin(&w);
	jw_kv_str(&w, "key", "a long value");
	jw_obj_end(&w);
	assert_int_equal(jw_finish(&w), -ENOSPC);
	assert_true(w.overflow);
	assert_true(strlen(buf) < 8);
	assert_int_equal(buf[8], 'X'); /* nothing past cap */

	/* exactly fitting: len + NUL == cap */
	for (cap = 1; cap <= 12; cap++) {
		jw_init(&w, buf, cap);
		jw_arr_begin(&w);
		jw_u64(&w, 12345678);
		jw_arr_end(&w);
		if (cap >= 11) {
			assert_int_equal(jw_finish(&w), 10);
			assert_string_equal(buf, "[12345678]");
		} else {
			assert_int_equal(jw_finish(&w), -ENOSPC);
			assert_true(strlen(buf) < cap);
		}
	}

	/* a string whose escape does not fit overflows */
	jw_init(&w, buf, 6);
	jw_str(&w, "\x01");
	assert_int_equal(jw_finish(&w), -ENOSPC);

	jw_init(&w, buf, 0);
	jw_u64(&w, 1);
	assert_int_equal(jw_finish(&w), -ENOSPC);
}

static void test_nesting_errors(void **state)
{
	char buf[128];
	struct jw w;
	int i;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);

	jw_init(&w, buf, sizeof(buf));
	jw_obj_end(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);

	jw_init(&w, buf, sizeof(buf));
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_arr_end(&w);
	jw_arr_begin(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);

	/* JW_DEPTH_MAX - 1 levels work, one more does not */
	jw_init(&w, buf, sizeof(buf));
	for (i = 0; i < JW_DEPTH_MAX - 1; i++)
		jw_arr_begin(&w);
	for (i = 0; i < JW_DEPTH_MAX - 1; i++)
		jw_arr_end(&w);
	assert_int_equal(jw_finish(&w), 2 * (JW_DEPTH_MAX - 1));

	jw_init(&w, buf, sizeof(buf));
	for (i = 0; i < JW_DEPTH_MAX; i++)
		jw_arr_begin(&w);
	for (i = 0; i < JW_DEPTH_MAX; i++)
		jw_arr_end(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);
}

static void test_null_strings(void **state)
{
	char buf[64];
	struct jw w;

	(void)state;
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_kv_str(&w, "a", NULL);
	jw_obj_end(&w);
	assert_true(jw_finish(&w) > 0);
	assert_string_equal(buf, "{\"a\":\"\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_object),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_key_escaped),
		cmocka_unit_test(test_valid_utf8_kept),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_all_bytes_parse),
		cmocka_unit_test(test_epoch_us),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_nesting_errors),
		cmocka_unit_test(test_null_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
