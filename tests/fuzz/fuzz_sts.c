// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credential answers (agent/aws_creds.c): the input is taken as an STS
 * AssumeRoleWithWebIdentity response (XML) and as a container-credentials
 * or IMDS answer (JSON). Accepted credentials are complete; refused ones
 * leave nothing behind in the output, secrets included. */
#include "aws_creds.h"
#include "fuzz.h"

static bool all_zero(const struct aws_creds *c)
{
	const unsigned char *p = (const unsigned char *)c;

	for (size_t i = 0; i < sizeof(*c); i++)
		if (p[i])
			return false;
	return true;
}

static void check(int rc, const struct aws_creds *c, const char *err, size_t errlen,
		  bool token_required)
{
	if (rc) {
		FUZZ_CHECK(rc < 0);
		FUZZ_CHECK(memchr(err, '\0', errlen) && err[0]);
		FUZZ_CHECK(all_zero(c));
		return;
	}
	FUZZ_TERMINATED(c->access_key_id);
	FUZZ_TERMINATED(c->secret_access_key);
	FUZZ_TERMINATED(c->session_token);
	FUZZ_CHECK(c->access_key_id[0] && c->secret_access_key[0]);
	FUZZ_CHECK(!token_required || (c->session_token[0] && c->expiration > 0));
	FUZZ_CHECK(c->expiration >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct aws_creds c;
	char err[256];
	int rc;

	err[0] = '\0';
	rc = aws_sts_parse(text, size, &c, err, sizeof(err));
	check(rc, &c, err, sizeof(err), true);
	if (!rc)
		FUZZ_CHECK(c.source == AWS_CREDS_WEB_IDENTITY);
	err[0] = '\0';
	rc = aws_creds_parse_json(text, size, &c, err, sizeof(err));
	check(rc, &c, err, sizeof(err), false);
	return 0;
}
