/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Credentials: STS XML parsing, ISO-8601 expiry parsing, the container and
 * IMDS JSON, provider selection from the environment, allowed container
 * hosts and the STS endpoint. No network. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"

#define STS_OK                                                                                   \
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n" \
	"  <AssumeRoleWithWebIdentityResult>\n"                                                   \
	"    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>\n" \
	"    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"                          \
	"<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"                               \
	"    <Credentials>\n"                                                                      \
	"      <SessionToken>FwoGZXIvYXdzE/a+b=&amp;c</SessionToken>\n"                             \
	"      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>\n"        \
	"      <Expiration>2026-11-22T23:00:00Z</Expiration>\n"                                    \
	"      <AccessKeyId>ASIAEXAMPLE123</AccessKeyId>\n"                                         \
	"    </Credentials>\n"                                                                     \
	"    <Audience>sts.amazonaws.com</Audience>\n"                                             \
	"  </AssumeRoleWithWebIdentityResult>\n"                                                  \
	"  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n"                 \
	"</AssumeRoleWithWebIdentityResponse>\n"

static void test_iso8601(void **state)
{
	int64_t t = -1;

	(void)state;
	assert_int_equal(aws_parse_iso8601("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00Z", &t), 0);
	assert_int_equal(t, 1795388400);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00.123456Z", &t), 0);
	assert_int_equal(t, 1795388400);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00+00:00", &t), 0);
	assert_int_equal(t, 1795388400);
	assert_int_equal(aws_parse_iso8601("2024-02-29T12:00:00Z", &t), 0);
	assert_int_equal(t, 1709208000);
	/* refused: other zones, junk, out-of-range fields, truncation */
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00+01:00", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-11-22 23:00", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-13-01T00:00:00Z", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-02-31T00:00:00Z", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-11-22T24:00:00Z", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00ZZ", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("2026-11-22T23:00:00.Z", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("", &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601(NULL, &t), -EINVAL);
	assert_int_equal(aws_parse_iso8601("1469-11-22T23:00:00Z", &t), -EINVAL);
}

static void test_sts_ok(void **state)
{
	struct aws_creds c;
	char err[256] = "";

	(void)state;
	assert_int_equal(aws_sts_parse(STS_OK, strlen(STS_OK), &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "ASIAEXAMPLE123");
	assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	assert_string_equal(c.session_token, "FwoGZXIvYXdzE/a+b=&c"); /* &amp; decoded */
	assert_int_equal(c.expiration, 1795388400);
	assert_int_equal(c.source, AWS_CREDS_WEB_IDENTITY);
}

static void test_sts_error(void **state)
{
	static const char xml[] =
		"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		"  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n"
		"    <Message>Couldn't retrieve verification key &amp; more</Message>\n  </Error>\n"
		"  <RequestId>c6104cbe</RequestId>\n</ErrorResponse>\n";
	struct aws_creds c;
	char err[256] = "";

	(void)state;
	assert_int_equal(aws_sts_parse(xml, strlen(xml), &c, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "InvalidIdentityToken"));
	assert_non_null(strstr(err, "verification key & more"));
	assert_string_equal(c.access_key_id, "");
}

static void test_sts_missing_fields(void **state)
{
	static const char *const fields[] = { "AccessKeyId", "SecretAccessKey", "SessionToken",
					      "Expiration" };
	struct aws_creds c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char xml[2048], open[64], *p, *q;

		snprintf(xml, sizeof(xml), "%s", STS_OK);
		snprintf(open, sizeof(open), "<%s>", fields[i]);
		p = strstr(xml, open);
		assert_non_null(p);
		q = strstr(p, "\n");
		memmove(p, q, strlen(q) + 1); /* drop the element */
		err[0] = '\0';
		assert_int_equal(aws_sts_parse(xml, strlen(xml), &c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, fields[i]));
		assert_string_equal(c.secret_access_key, ""); /* nothing half-filled */
	}
	/* empty value, bad date, no Credentials at all */
	{
		const char *x = "<R><Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>s"
				"</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
				"2026-11-22T23:00:00Z</Expiration></Credentials></R>";

		assert_int_equal(aws_sts_parse(x, strlen(x), &c, err, sizeof(err)), -EINVAL);
		x = "<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>s"
		    "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
		    "tomorrow</Expiration></Credentials></R>";
		assert_int_equal(aws_sts_parse(x, strlen(x), &c, err, sizeof(err)), -EINVAL);
		x = "<R><Other/></R>";
		assert_int_equal(aws_sts_parse(x, strlen(x), &c, err, sizeof(err)), -EINVAL);
		assert_int_equal(aws_sts_parse("", 0, &c, err, sizeof(err)), -EINVAL);
	}
}

static void test_sts_malformed(void **state)
{
	static const char *const bad[] = {
		"<Credentials><AccessKeyId>abc", /* unterminated */
		"<Credentials><AccessKeyId>abc</AccessKeyId", /* cut closing tag */
		"<Credentials", "<", "<<<<>>>>", "</Credentials>",
		"<Credentials><AccessKeyId>a&bogus;</AccessKeyId></Credentials>",
		"<Credentials><AccessKeyId>a\x01</AccessKeyId></Credentials>",
		"<CredentialsX><AccessKeyId>a</AccessKeyId></CredentialsX>",
	};
	struct aws_creds c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(aws_sts_parse(bad[i], strlen(bad[i]), &c, err, sizeof(err)),
				 -EINVAL);
	/* not NUL-terminated: the parser must stay inside len */
	{
		char buf[sizeof(STS_OK)];

		memcpy(buf, STS_OK, sizeof(buf));
		assert_int_equal(aws_sts_parse(buf, strstr(buf, "</AccessKeyId>") - buf, &c, err,
					       sizeof(err)),
				 -EINVAL);
	}
}

/* A session token far beyond AWS_TOKEN_MAX, and a megabyte of junk. */
static void test_sts_huge(void **state)
{
	size_t n = 2 * 1024 * 1024;
	char *x = malloc(n + 1), *p;
	struct aws_creds c;
	char err[256];

	(void)state;
	assert_non_null(x);
	p = x + sprintf(x, "<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>s"
			   "</SecretAccessKey><Expiration>2026-11-22T23:00:00Z</Expiration>"
			   "<SessionToken>");
	memset(p, 'T', AWS_TOKEN_MAX * 4);
	p += AWS_TOKEN_MAX * 4;
	p += sprintf(p, "</SessionToken></Credentials></R>");
	assert_int_equal(aws_sts_parse(x, p - x, &c, err, sizeof(err)), -EMSGSIZE);
	assert_non_null(strstr(err, "too long"));
	memset(x, '<', n);
	x[n] = '\0';
	assert_int_equal(aws_sts_parse(x, n, &c, err, sizeof(err)), -EINVAL);
	free(x);
}

static void test_creds_json(void **state)
{
	static const char ok[] = "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"sec\","
				 "\"Token\":\"tok\",\"AccountId\":\"123\","
				 "\"Expiration\":\"2026-11-22T23:00:00Z\"}";
	static const char imds_err[] = "{\"Code\":\"AssumeRoleUnauthorizedAccess\","
				       "\"Message\":\"no\",\"LastUpdated\":\"x\"}";
	struct aws_creds c;
	char err[256];

	(void)state;
	assert_int_equal(aws_creds_parse_json(ok, strlen(ok), &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "ASIA1");
	assert_string_equal(c.session_token, "tok");
	assert_int_equal(c.expiration, 1795388400);
	assert_int_equal(aws_creds_parse_json(imds_err, strlen(imds_err), &c, err, sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, "AssumeRoleUnauthorizedAccess"));
	assert_int_equal(aws_creds_parse_json("{\"AccessKeyId\":\"a\"}", 19, &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(aws_creds_parse_json("[1]", 3, &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(aws_creds_parse_json("{", 1, &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(aws_creds_parse_json(
				 "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Expiration\":7}",
				 55, &c, err, sizeof(err)),
			 -EINVAL);
}

static const char *const all_env[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_DISABLED",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL",
};

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_env) / sizeof(all_env[0]); i++)
		unsetenv(all_env[i]);
	return 0;
}

static void test_pick_source(void **state)
{
	(void)state;
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_IMDS);
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_NONE);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_CONTAINER);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_CONTAINER); /* no token file yet */
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_WEB_IDENTITY);
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_WEB_IDENTITY); /* no secret */
	setenv("AWS_SECRET_ACCESS_KEY", "", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_WEB_IDENTITY); /* empty = unset */
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_ENV);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	assert_int_equal(aws_creds_pick_source(), AWS_CREDS_IMDS);
	assert_string_equal(aws_creds_source_name(AWS_CREDS_WEB_IDENTITY), "web-identity");
}

static void test_container_hosts(void **state)
{
	(void)state;
	assert_true(aws_container_host_allowed("http://169.254.170.23/v1/credentials"));
	assert_true(aws_container_host_allowed("http://169.254.170.2/v2/credentials/x"));
	assert_true(aws_container_host_allowed("http://[fd00:ec2::23]/v1/credentials"));
	assert_true(aws_container_host_allowed("http://127.0.0.1:8080/creds"));
	assert_true(aws_container_host_allowed("http://127.1.2.3/creds"));
	assert_true(aws_container_host_allowed("http://[::1]:9/creds"));
	assert_true(aws_container_host_allowed("http://localhost/creds"));
	assert_false(aws_container_host_allowed("http://169.254.169.254/latest"));
	assert_false(aws_container_host_allowed("http://example.com/creds"));
	assert_false(aws_container_host_allowed("http://169.254.170.23.evil.com/"));
	assert_false(aws_container_host_allowed("http://user@169.254.170.23/"));
	assert_false(aws_container_host_allowed("http://evil.com@169.254.170.23/"));
	assert_false(aws_container_host_allowed("ftp://127.0.0.1/"));
	assert_false(aws_container_host_allowed("http://[fd00:ec2::24]/"));
	assert_false(aws_container_host_allowed(""));
}

static void test_sts_endpoint(void **state)
{
	char u[256];

	(void)state;
	assert_int_equal(aws_sts_endpoint("eu-west-1", u, sizeof(u)), 0);
	assert_string_equal(u, "https://sts.eu-west-1.amazonaws.com/");
	assert_int_equal(aws_sts_endpoint("cn-north-1", u, sizeof(u)), 0);
	assert_string_equal(u, "https://sts.cn-north-1.amazonaws.com.cn/");
	assert_int_equal(aws_sts_endpoint(NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://sts.amazonaws.com/");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
	assert_int_equal(aws_sts_endpoint("eu-west-1", u, sizeof(u)), 0);
	assert_string_equal(u, "http://127.0.0.1:9/");
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:10", 1);
	assert_int_equal(aws_sts_endpoint("eu-west-1", u, sizeof(u)), 0);
	assert_string_equal(u, "http://127.0.0.1:10/");
	assert_int_equal(aws_sts_endpoint("eu-west-1", u, 8), -ENOSPC);
	setenv("AWS_ENDPOINT_URL_STS", "127.0.0.1:10", 1);
	assert_int_equal(aws_sts_endpoint("eu-west-1", u, sizeof(u)), -EINVAL);
}

/* start/get/stop with environment credentials: no network. */
static void test_start_env(void **state)
{
	struct aws_creds c;
	char r[AWS_REGION_MAX];

	(void)state;
	assert_int_equal(aws_creds_get(&c), -ENOENT);
	assert_int_equal(aws_creds_start("us-east-1/../evil", false), -EINVAL);
	aws_creds_stop();
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_SECURITY_TOKEN", "legacy-token", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	assert_int_equal(aws_creds_start(NULL, false), 0);
	assert_int_equal(aws_creds_get(&c), 0);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.session_token, "legacy-token");
	assert_int_equal(c.expiration, 1893456000);
	assert_int_equal(c.source, AWS_CREDS_ENV);
	assert_int_equal(aws_region(r, sizeof(r)), 0);
	assert_string_equal(r, "eu-west-1");
	assert_int_equal(aws_region(r, 4), -ENOSPC);
	aws_creds_invalidate(); /* no refresher for env: a no-op */
	aws_creds_stop();
	assert_int_equal(aws_creds_get(&c), -ENOENT);
	/* the flag wins over the environment; no credentials: -ENOENT */
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(aws_creds_start("ap-south-1", true), -ENOENT);
	assert_int_equal(aws_region(r, sizeof(r)), 0);
	assert_string_equal(r, "ap-south-1");
	aws_creds_stop();
	unsetenv("AWS_SECURITY_TOKEN");
	unsetenv("AWS_CREDENTIAL_EXPIRATION");
	unsetenv("AWS_REGION");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_sts_ok),
		cmocka_unit_test(test_sts_error),
		cmocka_unit_test(test_sts_missing_fields),
		cmocka_unit_test(test_sts_malformed),
		cmocka_unit_test(test_sts_huge),
		cmocka_unit_test(test_creds_json),
		cmocka_unit_test_setup_teardown(test_pick_source, clear_env, clear_env),
		cmocka_unit_test(test_container_hosts),
		cmocka_unit_test_setup_teardown(test_sts_endpoint, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_start_env, clear_env, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
