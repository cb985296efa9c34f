// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http_client.h"
#include "imds.h"

bool imds_disabled(void)
{
	const char *v = getenv("AWS_EC2_METADATA_DISABLED");

	return v && !strcasecmp(v, "true");
}

int imds_base(char *out, size_t n)
{
	const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	size_t l;

	snprintf(out, n, "%s", IMDS_DEFAULT_ENDPOINT);
	if (!e || !*e)
		return 0;
	if (strncasecmp(e, "http://", 7) && strncasecmp(e, "https://", 8))
		return -EINVAL;
	l = strlen(e);
	while (l && e[l - 1] == '/')
		l--;
	if (l + 1 > n)
		return -EINVAL;
	memcpy(out, e, l);
	out[l] = '\0';
	return 0;
}

int imds_token(const char *base, const char *ttl, char *tok, size_t n, bool (*cancel)(void *),
	       void *cancel_arg, char *err, size_t errlen)
{
	char url[IMDS_BASE_MAX + 32], hdr[64], why[256] = "";
	struct http_req req = {
		.method = "PUT",
		.url = url,
		.headers = { hdr },
		.body = "",
		.connect_timeout_ms = IMDS_TIMEOUT_MS,
		.timeout_ms = IMDS_TIMEOUT_MS,
		.cancel = cancel,
		.cancel_arg = cancel_arg,
		.direct = true,
	};
	struct http_resp r;
	int rc;

	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %s", ttl);
	rc = http_request(&req, &r, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "IMDS token: %s", why[0] ? why : strerror(-rc));
		return rc;
	}
	if (r.status == 403 || r.status == 404 || r.status == 405) {
		snprintf(err, errlen, "IMDS token: HTTP %ld (IMDSv2 off, or the hop limit too low)",
			 r.status);
		rc = -EOPNOTSUPP;
	} else if (r.status != 200 || !r.body || r.len >= n || strpbrk(r.body, "\r\n")) {
		snprintf(err, errlen, "IMDS token: HTTP %ld", r.status);
		rc = -EIO;
	} else {
		memcpy(tok, r.body, r.len + 1);
		explicit_bzero(r.body, r.len);
	}
	free(r.body);
	return rc;
}

int imds_get(const char *base, const char *token, const char *path, bool (*cancel)(void *),
	     void *cancel_arg, char **out, size_t *len, char *err, size_t errlen)
{
	char url[IMDS_BASE_MAX + 256], hdr[256], why[256] = "";
	struct http_req req = {
		.method = "GET",
		.url = url,
		.connect_timeout_ms = IMDS_TIMEOUT_MS,
		.timeout_ms = IMDS_TIMEOUT_MS,
		.cancel = cancel,
		.cancel_arg = cancel_arg,
		.direct = true,
	};
	struct http_resp r;
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (token && *token) {
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
		req.headers[0] = hdr;
	}
	rc = http_request(&req, &r, why, sizeof(why));
	explicit_bzero(hdr, sizeof(hdr));
	if (rc) {
		snprintf(err, errlen, "IMDS %s: %s", path, why[0] ? why : strerror(-rc));
		return rc;
	}
	if (r.status != 200 || !r.body) {
		snprintf(err, errlen, "IMDS %s: HTTP %ld", path, r.status);
		free(r.body);
		return r.status == 404 ? -ENOENT : -EIO;
	}
	*out = r.body;
	*len = r.len;
	return 0;
}
